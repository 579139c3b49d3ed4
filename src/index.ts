// bpfunit's public API.
export * from './errors';
export { ObjectSpec } from './object/object';
export type { ProgramSpec } from './object/object';
export { MapType, mapTypeName } from './object/maps';
export type { MapSpec } from './object/maps';
export { ProgType, sectionKind } from './object/sections';
export { Collection } from './kernel/collection';
export type { CollectionOptions, GlobalVariable } from './kernel/collection';
export { BpfMap, UpdateFlags } from './kernel/map';
export { Program } from './kernel/program';
export type { RunOptions, RunResult } from './kernel/program';
export { helperRefusal, kernelMeets, describeRequirement } from './kernel/requires';
export type { Requirement } from './kernel/requires';
export { itRequires } from './kernel/it-requires';
