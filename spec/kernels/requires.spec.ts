// Kernel requirements stated in specs (src/kernel/requires.ts): each kernel either meets the
// requirement and shows the behaviour, or refuses in the verifier's words, both asserted.
import { expect } from 'chai';
import os from 'os';
import { Collection, describeRequirement, helperRefusal, kernelMeets, ObjectSpec, VerifierError } from '../../src';
import { helperId } from '../../src/kernel/requires';
import { itRequires } from '../../src/mocha';
import { fixture } from '../loader/helpers';

const NETNS_COOKIE = { helper: 'bpf_get_netns_cookie', section: 'cgroup_skb/egress' };

function cookieAfter(run: (coll: Collection) => void, program: string): bigint {
  const coll = Collection.load(ObjectSpec.fromFile(fixture('netns_cookie')), { programs: [program] });
  try {
    run(coll);
    return coll.map('seen_cookie').lookup(Buffer.alloc(4))!.readBigUInt64LE(0);
  } finally {
    coll.close();
  }
}

describe('kernel requirements', () => {
  it('reads helper ids from libbpf\'s bpf_helper_defs.h (uapi numbers)', () => {
    expect([helperId('bpf_map_lookup_elem'), helperId('bpf_get_netns_cookie')]).to.deep.equal([1, 122]);
  });

  it('a helper every kernel allows a type meets its requirement; an unknown helper name is an InputError', () => {
    expect(kernelMeets({ helper: 'bpf_get_netns_cookie', section: 'cgroup/connect4' })).to.equal(true);
    expect(() => kernelMeets({ helper: 'bpf_no_such_helper', section: 'xdp' })).to.throw(/no helper named 'bpf_no_such_helper'/);
  });

  it('a minimum kernel version compares major.minor.patch numerically', () => {
    const [major, minor] = os.release().split('.').map(Number);
    expect([kernelMeets({ kernel: `${major}.${minor}` }), kernelMeets({ kernel: `${major}.${minor + 1}` }), kernelMeets({ kernel: '2.6.9' })]).to.deep.equal([true, false, true]);
  });

  it('a probed feature is what its probe answers, named by its phrase', () => {
    expect([kernelMeets({ feature: 'x', probe: () => true }), kernelMeets({ feature: 'x', probe: () => false })]).to.deep.equal([true, false]);
    expect(describeRequirement({ feature: 'BTF line info', probe: () => true })).to.equal('BTF line info');
  });

  itRequires(NETNS_COOKIE, 'cgroup_skb calling bpf_get_netns_cookie loads and records the test run\'s netns cookie', {
    met: () => {
      const cookies = [1, 2].map(() => cookieAfter((c) => expect(c.program('skb_cookie').run({ data: Buffer.alloc(40) }).retval).to.equal(1), 'skb_cookie'));
      expect(cookies[0]).to.not.equal(0n);
      expect(cookies[1], 'the same network namespace both times').to.equal(cookies[0]);
    },
    unmet: () => {
      let err: unknown;
      try {
        cookieAfter(() => undefined, 'skb_cookie');
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(VerifierError);
      expect((err as VerifierError).log).to.match(helperRefusal('bpf_get_netns_cookie'));
    },
  });
});
