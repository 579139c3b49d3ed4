import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { Collection, ObjectSpec, VerifierError } from '../../src';
import { kernelObjectCounts, KernelObjectCounts } from '../../src/kernel/ids';

const openFds = () => readdirSync('/proc/self/fd').length;
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** The kernel frees closed maps and programs asynchronously: wait for the counts to settle
 * (to equal `target` when given), for at most 5 s. */
async function settledCounts(target?: KernelObjectCounts): Promise<KernelObjectCounts> {
  let last = kernelObjectCounts();
  for (let i = 0; i < 50; i++) {
    await sleep(100);
    const now = kernelObjectCounts();
    const stable = JSON.stringify(now) === JSON.stringify(last);
    if (target ? JSON.stringify(now) === JSON.stringify(target) : stable) return now;
    last = now;
  }
  return last;
}

describe('hygiene: nothing leaks, nothing is left in the kernel, nothing is attached', () => {
  it('1,000 load/close cycles leave the fd count unchanged', function () {
    this.timeout(120000);
    const spec = ObjectSpec.fromFile('build/fixtures/bench_trivial.o');
    Collection.load(spec).close(); // warm up lazily opened files (libc, /sys reads)
    const before = openFds();
    for (let i = 0; i < 1000; i++) {
      const coll = Collection.load(spec);
      coll.program('bench_pass').run({ data: Buffer.alloc(14) });
      coll.close();
    }
    expect(openFds()).to.equal(before);
  });

  it('a failed load (verifier rejection) closes what it had opened', () => {
    const spec = ObjectSpec.fromFile('build/fixtures/loader_invalid.o');
    const before = openFds();
    for (let i = 0; i < 20; i++) expect(() => Collection.load(spec)).to.throw(VerifierError);
    expect(openFds()).to.equal(before);
  });

  it('a suite run in a child process leaves the kernel program, map and link counts as they were', async function () {
    this.timeout(300000);
    const before = await settledCounts();
    const child = spawnSync(
      process.execPath,
      ['node_modules/.bin/mocha', '--no-config', '-r', 'ts-node/register', '--extension', 'ts', '--reporter', 'dot', 'spec/{programs,mock}/**/*.spec.ts'],
      { encoding: 'utf8' },
    );
    expect(child.status, child.stdout + child.stderr).to.equal(0);
    expect(child.stdout).to.match(/\d+ passing/);
    expect(await settledCounts(before)).to.deep.equal(before);
  });

  it('bpfunit has no command that attaches or links anything', () => {
    const cmds = readFileSync('src/sys/bpf.ts', 'utf8');
    for (const attach of ['PROG_ATTACH', 'LINK_CREATE', 'RAW_TRACEPOINT_OPEN', 'OBJ_PIN']) {
      expect(cmds, attach).to.not.match(new RegExp(`\\b${attach}\\s*=`));
    }
  });
});
