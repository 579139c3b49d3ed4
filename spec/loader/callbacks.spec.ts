// Callbacks (ld_imm64 of a function, BPF_PSEUDO_FUNC): the callback is appended to the program
// like a called subprogram and the load carries its distance; bpf_loop and
// bpf_for_each_map_elem run it. Tags against libbpf are in libbpf_crosscheck.spec.ts.
import { expect } from 'chai';
import { Collection, ObjectSpec } from '../../src';
import { fixture, u32, u64 } from './helpers';

describe('callbacks (ext_callbacks)', () => {
  it('cb_each_elem visits every element: 5 * 1 + 7 * 3 after two writes', () => {
    const coll = Collection.load(ObjectSpec.fromFile(fixture('ext_callbacks')), { programs: ['cb_each_elem'] });
    try {
      coll.map('cb_values').update(u32(0), u64(5));
      coll.map('cb_values').update(u32(2), u64(7));
      expect(coll.program('cb_each_elem').run({ data: Buffer.alloc(14) }).retval).to.equal(26);
    } finally {
      coll.close();
    }
  });

  it('the callback is linked into the program after it, its BTF function info with it', () => {
    const p = ObjectSpec.fromFile(fixture('ext_callbacks')).program('cb_loop');
    const ref = p.instructions.find((i) => i.opcode === 0x18 && i.src === 4)!;
    expect(ref.target, 'the ld_imm64 points at an instruction of the program').to.not.equal(undefined);
    const at = p.instructions.indexOf(ref.target!);
    expect(at).to.be.greaterThan(p.instructions.indexOf(ref));
    expect(p.instructions[at].funcTypeId, 'func_info on the callback').to.not.equal(undefined);
  });
});
