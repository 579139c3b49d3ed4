// Object by object: every fd bpfunit opens is closed, and every program, map and BTF it creates is
// gone from the kernel afterwards (looked up by id). Counting the host's objects instead would fail
// whenever anyone else loads BPF, and would miss a leak that exit cleans up; so the run in a child
// process below has a load generator running next to it on purpose.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Collection, ObjectSpec, VerifierError } from '../../src';
import type { KernelObject } from '../../src/kernel/ids';
import { expectThrow, fixture, ROOT, tmp } from '../loader/helpers';
import { Recording, recordCreated, stillAlive, stillOpen } from '../support/created';
import { startLoadgen } from '../support/loadgen';

const kinds = (objects: KernelObject[]) => [...new Set(objects.map((o) => o.kind))].sort();

function recording(fn: () => void): Recording {
  const rec = recordCreated();
  try {
    fn();
  } finally {
    rec.stop();
  }
  return rec;
}

describe('hygiene: every fd closed, every object gone, nothing attached', () => {
  it('1,000 load/run/close cycles: each program, map and BTF fd is closed and each object is gone', async function () {
    this.timeout(180000);
    const spec = ObjectSpec.fromFile(fixture('bench_trivial'));
    const perLoad = spec.programs.length + spec.maps.length + (spec.btfForKernel() ? 1 : 0);
    const rec = recording(() => {
      for (let i = 0; i < 1000; i++) {
        const coll = Collection.load(spec);
        coll.program('bench_pass').run({ data: Buffer.alloc(14) });
        coll.close();
      }
    });
    expect(rec.unresolved).to.deep.equal([]);
    expect(rec.created).to.have.length(1000 * perLoad);
    expect(stillOpen(rec.created)).to.deep.equal([]);
    expect(await stillAlive(rec.created)).to.deep.equal([]);
  });

  it('a failed load (verifier rejection) closes what it had opened, and the kernel frees it', async () => {
    const spec = ObjectSpec.fromFile(fixture('loader_invalid'));
    const rec = recording(() => {
      for (let i = 0; i < 20; i++) expectThrow(() => Collection.load(spec), VerifierError);
    });
    expect(rec.unresolved).to.deep.equal([]);
    // BTF and good_xdp load before bad_xdp is refused
    expect(kinds(rec.created)).to.deep.equal(['btf', 'prog']);
    expect(stillOpen(rec.created)).to.deep.equal([]);
    expect(await stillAlive(rec.created)).to.deep.equal([]);
  });

  it('a suite run in a child process, next to a load generator, holds nothing at its end and leaves nothing in the kernel', async function () {
    this.timeout(300000);
    const log = path.join(tmp(), `created-${Date.now()}.json`);
    const loadgen = await startLoadgen(300);
    let child;
    try {
      child = spawnSync(
        process.execPath,
        ['node_modules/.bin/mocha', '-r', 'ts-node/register', '-r', 'spec/support/record-created.ts', '--reporter', 'dot', 'spec/{programs,mock}/**/*.spec.ts'],
        { cwd: ROOT, encoding: 'utf8', env: { ...process.env, BPFUNIT_CREATED: log } },
      );
    } finally {
      await loadgen.stop();
    }
    expect(child.status, child.stdout + child.stderr).to.equal(0);
    expect(child.stdout).to.match(/\d+ passing/);
    const run = JSON.parse(readFileSync(log, 'utf8')) as { created: KernelObject[]; open: KernelObject[]; unresolved: number[] };
    expect(run.unresolved).to.deep.equal([]);
    expect(kinds(run.created)).to.deep.equal(['btf', 'map', 'prog']);
    expect(run.open, 'objects still held when every suite had finished').to.deep.equal([]);
    expect(await stillAlive(run.created)).to.deep.equal([]);
  });

  it('bpfunit has no command that attaches, links or pins anything', () => {
    const cmds = readFileSync(path.join(ROOT, 'src/sys/bpf.ts'), 'utf8');
    for (const attach of ['PROG_ATTACH', 'LINK_CREATE', 'RAW_TRACEPOINT_OPEN', 'OBJ_PIN']) {
      expect(cmds, attach).to.not.match(new RegExp(`\\b${attach}\\s*=`));
    }
  });
});
