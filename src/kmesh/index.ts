// bpfunit/kmesh: a suite on top of the framework for Kmesh's programs: its map fixtures, log
// reader and the codecs of its structs.
export * from '../structs/kmesh';
export { KmeshMaps, ipAddr } from './fixtures';
export type { LogLine } from './fixtures';
