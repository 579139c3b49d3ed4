// bpfunit's public API. Importable from any runner: nothing here needs mocha (useHarness only
// calls mocha's hooks when it is called; bpfunit/mocha is its documented home).
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
export { TestRunFlag } from './object/test-run';
export type { FlowKeys } from './object/test-run';
export { Harness, useHarness } from './mock/harness';
export { HarnessError } from './mock/harness-check';
export type { HarnessOptions } from './mock/harness';
export * from './mock/mocks';
export * from './structs/layout';
export * from './structs/uapi';
export * from './structs/tlv';
export { loadConfig, cflags } from './config';
export type { BpfunitConfig } from './config';
export { helperRefusal, kernelMeets, describeRequirement } from './kernel/requires';
export type { Requirement } from './kernel/requires';
