// `bpfunit mutate` end to end on sendmsg: with spec/programs/sendmsg.spec.ts alone, dropping the
// bpf_snprintf of the IPv6 push-failure log line survives (a test runs it, none checks it); with
// spec/programs/sendmsg_survivors.spec.ts added, the same mutant is killed by that spec.
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { CoverageData } from '../../src/coverage/recorder';
import { coverageRun } from '../../src/mutate/cli';
import { plan, PlannedMutant } from '../../src/mutate/plan';
import { runMutant } from '../../src/mutate/run';

const ORIGINAL = resolve('spec/programs/sendmsg.spec.ts');
const ADDED = resolve('spec/programs/sendmsg_survivors.spec.ts');
const BPF_SNPRINTF = 165;

/** The line of bpf/sendmsg.c that logs a failed push, found in the source. */
function pushFailedLine(): number {
  return readFileSync('bpf/sendmsg.c', 'utf8').split('\n').findIndex((l) => l.includes('"push of %u bytes failed')) + 1;
}

describe('bpfunit mutate: a spec added for a survivor kills it', function () {
  this.timeout(180000);
  let dir: string;
  let mutants: PlannedMutant[];
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'bpfunit-mutate-'));
    const data = JSON.parse(readFileSync(coverageRun(process.cwd(), [ORIGINAL, ADDED], dir), 'utf8')) as CoverageData;
    const line = pushFailedLine();
    mutants = plan(data, process.cwd(), (f) => f.endsWith('bpf/sendmsg.c')).filter(
      (m) => m.line === line && m.operator === 'drop-helper-call' && m.change === `call helper ${BPF_SNPRINTF} -> r0 = 0`,
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('the IPv4 and IPv6 copies of the line each have a bpf_snprintf mutant, each covered', () => {
    expect(mutants).to.have.length(2);
    for (const m of mutants) expect(m.tests.length).to.be.greaterThan(0);
  });

  it('without the added spec one survives; with it, that one is killed by the added test', async () => {
    const withoutAdded = [];
    for (const m of mutants) withoutAdded.push(await runMutant({ ...m, tests: m.tests.filter((t) => t.file === ORIGINAL) }));
    const survivors = withoutAdded.filter((r) => r.status === 'survived');
    expect(survivors.map((r) => r.status)).to.deep.equal(['survived']);
    expect(withoutAdded.filter((r) => r.status === 'killed')).to.have.length(1);
    const again = await runMutant(mutants.find((m) => m.id === survivors[0].id)!);
    expect(again.status).to.equal('killed');
    expect(again.detail).to.match(/^sendmsg_prog survivors \(re-hosted as xdp_sendmsg\) S6 over IPv6: a failed push of 28 bytes logs its ERR line/);
  });
});
