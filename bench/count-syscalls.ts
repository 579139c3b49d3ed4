// Mocha root hook plugin for bench/run.ts: `mocha --require bench/count-syscalls.ts`, with
// BPFUNIT_SYSCALL_REPORT naming a file. When the run ends it writes there how many tests passed
// and how many bpf() calls the process made, per command (src/sys counts them all).
import { writeFileSync } from 'node:fs';
import type { Context, RootHookObject } from 'mocha';
import { CMD_NAMES } from '../src/sys/bpf';
import { bpfCallCount } from '../src/sys/ffi';

const out = process.env.BPFUNIT_SYSCALL_REPORT;
let tests = 0;

export const mochaHooks: RootHookObject = {
  afterEach(this: Context) {
    if (this.currentTest?.state === 'passed') tests++;
  },
  afterAll() {
    if (!out) return;
    const perCommand: Record<string, number> = {};
    for (const [cmd, name] of Object.entries(CMD_NAMES)) {
      const n = bpfCallCount(Number(cmd));
      if (n) perCommand[name] = n;
    }
    writeFileSync(out, JSON.stringify({ tests, total: bpfCallCount(), perCommand }));
  },
};
