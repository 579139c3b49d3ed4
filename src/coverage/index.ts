// Branch coverage of BPF programs: instrumentation, counts per test, line mapping, reports.
export { buildCfg } from './cfg';
export { instrumentProgram, InstrumentError } from './instrument';
export type { InstrumentOptions, Instrumented } from './instrument';
export type { ProgramLayout, FunctionLayout, BlockLayout, BranchLayout, Position } from './layout';
export { CoverageRecorder, COVERAGE_MAP, OUTSIDE_TESTS, recorder, totals, fromJSON } from './recorder';
export type { CoverageData, TestRecord } from './recorder';
export { fileCoverage, summarize, sourcePath } from './lines';
export type { FileCoverage, BranchCount, FunctionCount, Totals } from './lines';
export { lcov } from './lcov';
export { evaluateTable, loadTable } from './branch-table';
export { decisions } from './direction';
export type { BranchRow, BranchTable, RowResult } from './branch-table';
export { loadConfig, DEFAULT_CONFIG } from './config';
export type { CoverageConfig } from './config';
export { buildReport, formatFailures, formatSummary, writeReports } from './report';
