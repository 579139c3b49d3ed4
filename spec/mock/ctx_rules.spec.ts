// What a re-hosted run cannot check: the context rules of the real program type. The mock context
// is a global, plain memory to the verifier of the XDP harness, so a program that writes a field
// the kernel keeps read-only runs there; loaded as its real type, the verifier refuses it, naming
// the line. Hence the worked example's (and the Kmesh suite's) real-type load.
import { expect } from 'chai';
import { Collection, InputError, ObjectSpec, VerifierError } from '../../src';
import { useHarness } from '../../src/mock/harness';

describe('context rules of the real type', () => {
  const h = useHarness('build/fixtures/ctx_rules_harness.o', ['xdp_remap_family']);

  it('re-hosted, a write to a read-only sk_msg field loads and runs: the harness cannot refuse it', () => {
    h().run('xdp_remap_family', { data: Buffer.alloc(16) });
    expect(h().mocks.retval()).to.equal(1); // SK_PASS: the program ran to its end
    // written to the entry's copy of the context, never copied back: the compiled entry does not
    // even refer to mock_sk_msg (the write is dead, so is the read before it)
    expect(() => h().mocks.ctx.msg.get()).to.throw(InputError, /no loaded program reads/);
  });

  it('loaded as sk_msg, the verifier refuses the write and the error names its C line', () => {
    let err: unknown;
    try {
      Collection.load(ObjectSpec.fromFile('build/fixtures/ctx_rules.o')).close();
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(VerifierError);
    const v = err as VerifierError;
    expect(v.program).to.equal('remap_family');
    expect(v.sourceLine?.text).to.match(/msg->family = AF_INET6;/);
    expect(v.log).to.match(/invalid bpf_context access/);
  });
});
