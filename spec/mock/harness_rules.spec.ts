// What Harness.load refuses or leaves out of a mock harness object, before any run: a tail call
// in a BPF subprogram (the mock would give a wrong return value), and the program's native
// sections, compiled with the mocks (only the harness entries load unless named).
import { expect } from 'chai';
import { Collection } from '../../src/kernel/collection';
import { load as cliLoad } from '../../src/cli/objects';
import { VerifierError } from '../../src/errors';
import { Harness } from '../../src/mock/harness';
import { HarnessError } from '../../src/mock/harness-check';
import { ObjectSpec, ProgType } from '../../src';

const SUBPROG = 'build/fixtures/tail_subprog_harness.o';
const WRAPPERS = 'build/fixtures/wrappers_harness.o';

describe('harness rules: a mocked tail call inside a BPF subprogram (spec/fixtures/tail_subprog.c)', () => {
  const refused = /^xdp_connect_via_stage: bpf_tail_call inside the BPF subprogram to_stage\(\) \(\S*tail_subprog\.c:28\) is not reproduced by the mock: in the kernel the target's return value comes back to to_stage\(\)'s caller/;

  it('is refused when the harness is loaded, naming the function and the C line', () => {
    expect(() => Harness.load(SUBPROG, ['xdp_connect_via_stage', 'xdp_deny_stage'])).to.throw(HarnessError, refused);
  });

  it('is refused with no program list too (the entries are what loads)', () => {
    expect(() => Harness.load(SUBPROG)).to.throw(HarnessError, refused);
  });

  it('is the mock\'s limit, not the program\'s: the kernel verifies the entry alone and the unmodified object', () => {
    // The entry that only is a target has no such call and loads.
    Harness.load(SUBPROG, ['xdp_deny_stage']).close();
    const real = Collection.load(ObjectSpec.fromFile('build/fixtures/tail_subprog.o'));
    try {
      expect(real.program('connect_via_stage').type).to.equal(ProgType.CGROUP_SOCK_ADDR);
    } finally {
      real.close();
    }
  });
});

describe('harness rules: native sections of a harness object (spec/fixtures/wrappers_harness.c)', () => {
  it('no program list loads the harness entries only', () => {
    const h = Harness.load(WRAPPERS);
    try {
      expect([...h.collection.programs.keys()]).to.deep.equal(['xdp_hop', 'xdp_land']);
    } finally {
      h.close();
    }
  });

  it('a native section asked for by name is reported as one, with the verifier\'s rejection as cause', () => {
    let err: unknown;
    try {
      Harness.load(WRAPPERS, ['hop']).close();
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(HarnessError);
    expect((err as Error).message).to.match(/^hop is the native section of a harness object \(wrappers_harness\.o, entries: xdp_hop, xdp_land\): it was compiled with the mock library/);
    expect((err as Error).message).to.match(/the unmodified program's own object for its native section$/);
    expect((err as Error).cause).to.be.instanceOf(VerifierError);
  });

  it('`bpfunit load` without --prog verifies the entries only', () => {
    const out = cliLoad(WRAPPERS, []) as { programs: { name: string }[] };
    expect(out.programs.map((p) => p.name)).to.deep.equal(['xdp_hop', 'xdp_land']);
  });

  it('an object without the mock library still loads every program', () => {
    const h = Harness.load('build/fixtures/wrappers.o');
    try {
      expect([...h.collection.programs.keys()].sort()).to.deep.equal(['hop', 'land']);
    } finally {
      h.close();
    }
  });
});
