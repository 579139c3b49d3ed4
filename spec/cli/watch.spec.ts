// `bpfunit test --watch` on a repository of its own: after each edit (a program, a header, a spec, a
// helper module, a clang error) it rebuilds only the stale objects and reruns only the spec files
// that used what changed, in one process that holds no BPF object between runs and exits 0 on
// SIGINT, leaving no object in the kernel.
import { expect } from 'chai';
import { ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { KernelObject } from '../../src/kernel/ids';
import { CLI, ROOT } from '../loader/helpers';
import { stillAlive } from '../support/created';

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

const program = (name: string, verdict: string, include = '') => [
  '#include <linux/bpf.h>', '#include <bpf/bpf_helpers.h>', include,
  `SEC("xdp") int ${name}(struct xdp_md *ctx) { return ${verdict}; }`, 'char LICENSE[] SEC("license") = "GPL";', '',
].join('\n');

// A spec loading one object and checking its program's verdict; it notes the BPF objects it holds
// (in a file outside the repository) so the kernel can be asked afterwards whether they are gone.
const objectSpec = (name: string, retval: number) => `const { Collection, ObjectSpec } = require(${JSON.stringify(join(ROOT, 'dist'))});
const { openObjects } = require(${JSON.stringify(join(ROOT, 'dist/kernel/ids'))});
const { appendFileSync } = require('node:fs');
describe('${name}', () => {
  let coll;
  before(() => { coll = Collection.load(ObjectSpec.fromFile(__dirname + '/../build/bpf/${name}.o')); });
  after(() => coll.close());
  it('returns ${retval}', () => {
    appendFileSync(process.env.IDS_FILE, JSON.stringify([...openObjects().values()]) + '\\n');
    const r = coll.program('${name}').run({ data: Buffer.alloc(64) }).retval;
    if (r !== ${retval}) throw new Error('retval ' + r);
  });
});
`;

// Writes a file of the repository and reads it back: its own output, no reason to run again.
const dataSpec = `const fs = require('node:fs');
describe('data', () => { it('reads back what it wrote', () => {
  fs.writeFileSync(__dirname + '/data.txt', String(Date.now()));
  if (!fs.readFileSync(__dirname + '/data.txt', 'utf8')) throw new Error('empty');
}); });
`;

const tsSpec = (tests: string[]) => `import { expected } from './helper';
describe('ts', () => {
${tests.map((t) => `  it('${t}', () => { if (expected !== 2) throw new Error('expected is ' + expected); });`).join('\n')}
});
`;

describe('bpfunit test --watch', function () {
  this.timeout(180000);
  let dir: string;
  let scratch: string;
  let child: ChildProcess;
  let stdout = '';
  let stderr = '';
  let exited: Promise<[number | null, NodeJS.Signals | null]>;

  const write = (file: string, text: string) => {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    writeFileSync(join(dir, file), text);
  };
  /** The cycle lines so far (without their time), failure lines kept in front of theirs. */
  const cycles = () => stdout.split('\n').filter((l) => l && !/^bpfunit watch: watching /.test(l)).map((l) => l.replace(/; \d+ ms$/, ''));
  /** Waits for the next cycle's line; returns it with the failure lines printed before it. */
  let taken = 0;
  const nextCycle = async (): Promise<string[]> => {
    for (let waited = 0; waited < 120000; waited += 20) {
      const lines = cycles();
      const k = lines.findIndex((l, i) => i >= taken && l.startsWith('bpfunit watch: '));
      if (k >= 0) {
        const out = lines.slice(taken, k + 1);
        taken = k + 1;
        return out;
      }
      await sleep(20);
    }
    throw new Error(`no cycle line; stdout:\n${stdout}\nstderr:\n${stderr}`);
  };
  /** The BPF objects the watch process holds an fd of now. */
  const heldByChild = () => readdirSync(`/proc/${child.pid}/fd`).filter((fd) => {
    try {
      return /^anon_inode:(bpf-prog|bpf-map|btf)$/.test(readlinkSync(`/proc/${child.pid}/fd/${fd}`));
    } catch {
      return false; // closed meanwhile
    }
  });

  before(async () => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'bpfunit-watch-')));
    scratch = realpathSync(mkdtempSync(join(tmpdir(), 'bpfunit-watch-ids-')));
    write('bpfunit.config.json', JSON.stringify({ sources: ['bpf/*.c'], include: ['inc'], specs: ['test/*.spec.{js,ts}'] }));
    write('inc/verdict.h', '#define VERDICT XDP_PASS\n');
    write('bpf/pass.c', program('pass', 'VERDICT', '#include "verdict.h"'));
    write('bpf/drop.c', program('drop', 'XDP_DROP'));
    write('test/pass.spec.js', objectSpec('pass', 2));
    write('test/drop.spec.js', objectSpec('drop', 1));
    write('test/helper.ts', 'export const expected = 2;\n');
    write('test/ts.spec.ts', tsSpec(['sees the helper']));
    write('test/data.spec.js', dataSpec);
    child = spawn(CLI, ['test', '--watch'], { cwd: dir, env: { ...process.env, IDS_FILE: join(scratch, 'ids') } });
    exited = new Promise((done) => child.once('exit', (code, signal) => done([code, signal])));
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  });
  after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    rmSync(scratch, { recursive: true, force: true });
  });

  /** Edits, waits for the cycle, and checks the process holds no BPF object afterwards. */
  const edit = async (file: string, text: string) => {
    write(file, text);
    const out = await nextCycle();
    expect(heldByChild(), 'BPF objects held between runs').to.deep.equal([]);
    return out;
  };

  it('builds and runs everything first, then after each edit only what it affects, through failures and clang errors, and exits 0 on SIGINT', async () => {
    expect(await nextCycle()).to.deep.equal([
      'bpfunit watch: built build/bpf/drop.o, build/bpf/pass.o; ran test/data.spec.js, test/drop.spec.js, test/pass.spec.js and 1 more (4 of 4 spec files): 4 passing, 0 failing',
    ]);

    // a spec writing what it reads runs once per save of its own, not again for its output
    expect(await edit('test/data.spec.js', `${dataSpec}// edited\n`)).to.deep.equal([
      'bpfunit watch: ran test/data.spec.js (1 of 4 spec files): 1 passing, 0 failing',
    ]);

    // a program: its object only, its spec only, which now fails; the process keeps going
    expect(await edit('bpf/drop.c', program('drop', 'XDP_TX'))).to.deep.equal([
      '  failed: drop returns 1: retval 3',
      'bpfunit watch: built build/bpf/drop.o; ran test/drop.spec.js (1 of 4 spec files): 0 passing, 1 failing',
    ]);
    expect(await edit('bpf/drop.c', program('drop', 'XDP_DROP'))).to.deep.equal([
      'bpfunit watch: built build/bpf/drop.o; ran test/drop.spec.js (1 of 4 spec files): 1 passing, 0 failing',
    ]);

    // a header: the object including it, and the spec loading that object
    expect(await edit('inc/verdict.h', '#define VERDICT XDP_DROP\n')).to.deep.equal([
      '  failed: pass returns 2: retval 1',
      'bpfunit watch: built build/bpf/pass.o; ran test/pass.spec.js (1 of 4 spec files): 0 passing, 1 failing',
    ]);
    expect(await edit('inc/verdict.h', '#define VERDICT XDP_PASS\n')).to.deep.equal([
      'bpfunit watch: built build/bpf/pass.o; ran test/pass.spec.js (1 of 4 spec files): 1 passing, 0 failing',
    ]);

    // a spec file: itself alone, with the tests it defines now
    expect(await edit('test/ts.spec.ts', tsSpec(['sees the helper', 'sees it again']))).to.deep.equal([
      'bpfunit watch: ran test/ts.spec.ts (1 of 4 spec files): 2 passing, 0 failing',
    ]);

    // a TypeScript module: reloaded, and only the spec file importing it reruns
    expect(await edit('test/helper.ts', 'export const expected = 3;\n')).to.deep.equal([
      '  failed: ts sees the helper: expected is 3',
      '  failed: ts sees it again: expected is 3',
      'bpfunit watch: ran test/ts.spec.ts (1 of 4 spec files): 0 passing, 2 failing',
    ]);
    expect(await edit('test/helper.ts', 'export const expected = 2;\n')).to.deep.equal([
      'bpfunit watch: ran test/ts.spec.ts (1 of 4 spec files): 2 passing, 0 failing',
    ]);

    // a clang error: reported (clang's own words on stderr), nothing run; fixed, the spec reruns
    expect(await edit('bpf/drop.c', program('drop', 'XDP_DROP') + 'not C\n')).to.deep.equal(['bpfunit watch: clang failed on bpf/drop.c']);
    expect(stderr).to.match(/bpf\/drop\.c:\d+:\d+: error: unknown type name 'not'/);
    expect(await edit('bpf/drop.c', program('drop', 'XDP_DROP'))).to.deep.equal([
      'bpfunit watch: built build/bpf/drop.o; ran test/drop.spec.js (1 of 4 spec files): 1 passing, 0 failing',
    ]);

    // SIGINT: watchers closed, the process ends by itself with 0; the objects the specs held are gone
    child.kill('SIGINT');
    expect(await exited).to.deep.equal([0, null]);
    expect(cycles().length, 'no cycle after the last edit').to.equal(taken);
    const held = readFileSync(join(scratch, 'ids'), 'utf8').trim().split('\n').flatMap((l) => JSON.parse(l) as KernelObject[]);
    expect(held.filter((o) => o.kind === 'prog').length, 'programs the specs held').to.equal(7);
    expect(await stillAlive(held)).to.deep.equal([]);
  });
});
