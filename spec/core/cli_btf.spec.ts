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
  let r: Record<'runAlt' | 'loadKernel', CliResult>;

  before(async () => {
    r = await bpfunitAll({
      runAlt: ['run', obj, '--prog', 'hdr_read', '--btf', ALT_BTF, '--data', packet.toString('hex')],
      loadKernel: ['load', obj, '--prog', 'hdr_read'],
    });
  });

  it('run --btf gives the retval and data libbpf gives against the same file', () => {
    const theirs = libbpfRun(obj, 'hdr_read', { data: packet, btf: ALT_BTF });
    expect(theirs.ok, theirs.stderr).to.equal(true);
    const ours = json<{ retval: number; data: string }>(r.runAlt);
    expect(ours.retval).to.equal(theirs.retval);
    expect(ours.data).to.equal(theirs.data!.toString('hex'));
  });

  it('load without --btf relocates against the kernel, which has no core_hdr: the reached poisoned load fails', () => {
    expect(r.loadKernel.status).to.equal(1);
    expect(r.loadKernel.stderr).to.match(/verifier rejected hdr_read .*unknown#195896080.*CO-RE relocation #\d+ \(byte_off of struct core_hdr\.kind\) could not be applied: not found in vmlinux/);
  });
});
