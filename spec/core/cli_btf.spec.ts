// `--btf FILE` on the command line: CO-RE relocated against a named BTF, with the same result
// libbpf gives with btf_custom_path; without it the running kernel's BTF is the target.
import { expect } from 'chai';
import { fixture, libbpfRun } from '../loader/helpers';
import { bpfunitAll, CliResult, json } from '../cli/run_cli';
import { ALT_BTF } from './btf_dump';

describe('bpfunit CLI --btf', function () {
  this.timeout(60000);
  const obj = fixture('core_local');
  const packet = Buffer.from(Array.from({ length: 96 }, (_, i) => (i < 32 ? i * 5 + 3 : 0)));
  let r: Record<'runAlt' | 'runKernel' | 'loadAlt', CliResult>;

  before(async () => {
    r = await bpfunitAll({
      runAlt: ['run', obj, '--prog', 'hdr_read', '--btf', ALT_BTF, '--data', packet.toString('hex')],
      runKernel: ['run', obj, '--prog', 'hdr_read', '--data', packet.toString('hex')],
      loadAlt: ['load', obj, '--prog', 'hdr_info', '--prog', 'hdr_read', '--btf', ALT_BTF],
    });
  });

  it('run --btf gives the retval and data libbpf gives against the same file', () => {
    const theirs = libbpfRun(obj, 'hdr_read', { data: packet, btf: ALT_BTF });
    expect(theirs.ok, theirs.stderr).to.equal(true);
    const ours = json<{ retval: number; data: string }>(r.runAlt);
    expect(ours.retval).to.equal(theirs.retval);
    expect(ours.data).to.equal(theirs.data!.toString('hex'));
  });

  it('load --btf loads both programs; without --btf the kernel has no core_hdr and the reached poisoned load fails', () => {
    expect(json<{ programs: { name: string }[] }>(r.loadAlt).programs.map((p) => p.name)).to.deep.equal(['hdr_info', 'hdr_read']);
    expect(r.runKernel.status).to.equal(1);
    expect(r.runKernel.stderr).to.contain('unknown#195896080');
  });
});
