// BPF-to-BPF calls: subprograms appended once per program that reaches them (loader_calls.c,
// loader_xsec.c), several programs in one section, and the instruction counts actually loaded,
// compared with libbpf's (bpf_program__insn_cnt) and with the functions' symbol sizes.
import { expect } from 'chai';
import { Collection, InputError, ObjectSpec } from '../../src';
import { expectThrow, fixture, funcSizes, libbpfRun } from './helpers';

const insns = (bytes: number | undefined) => {
  expect(bytes, 'symbol size').to.be.a('number');
  return bytes! / 8;
};

describe('BPF-to-BPF calls', () => {
  describe('loader_calls: static subprograms in .text and a global function', () => {
    let obj: string;
    let spec: ObjectSpec;
    let sizes: Map<string, number>;

    before(() => {
      obj = fixture('loader_calls');
      spec = ObjectSpec.fromFile(obj);
      sizes = funcSizes(obj);
    });

    it('finds the two programs of SEC("xdp") and no program in .text', () => {
      expect(spec.programs.map((p) => [p.name, p.section, p.kind?.type])).to.deep.equal([
        ['calls_chain', 'xdp', 'XDP'],
        ['calls_global', 'xdp', 'XDP'],
      ]);
      expectThrow(() => spec.program('global_add'), InputError, /calls_chain, calls_global/);
    });

    it('loads each program with exactly the functions it reaches, as many instructions as libbpf', () => {
      const coll = Collection.load(spec);
      try {
        const chain = coll.program('calls_chain').insnCount;
        const global = coll.program('calls_global').insnCount;
        // calls_chain -> outer -> middle -> leaf; calls_global -> leaf, global_add
        expect(chain).to.equal(insns(sizes.get('calls_chain')) + insns(sizes.get('outer')) + insns(sizes.get('middle')) + insns(sizes.get('leaf')));
        expect(global).to.equal(insns(sizes.get('calls_global')) + insns(sizes.get('leaf')) + insns(sizes.get('global_add')));
        expect(chain).to.equal(libbpfRun(obj, 'calls_chain', { norun: true }).insns);
        expect(global).to.equal(libbpfRun(obj, 'calls_global', { norun: true }).insns);
      } finally {
        coll.close();
      }
    });

    it('runs the nested chain outer -> middle -> leaf: (3 * len + 11) * 2', () => {
      const coll = Collection.load(spec, { programs: ['calls_chain'] });
      try {
        const p = coll.program('calls_chain');
        expect([14, 20, 100].map((n) => p.run({ data: Buffer.alloc(n) }).retval)).to.deep.equal([106, 142, 622]);
      } finally {
        coll.close();
      }
    });

    it('loads and runs either program of the shared section alone', () => {
      const only = Collection.load(spec, { programs: ['calls_global'] });
      try {
        expect([...only.programs.keys()]).to.deep.equal(['calls_global']);
        const r = only.program('calls_global').run({ data: Buffer.alloc(14) });
        expect([r.retval, r.data[0]]).to.deep.equal([14 + 43 + 1000, 43]); // leaf(14) = 43
        expectThrow(() => only.program('calls_chain'), InputError, /not loaded \(loaded: calls_global\)/);
      } finally {
        only.close();
      }
    });

    it('runs both programs of one section independently, in any order', () => {
      const coll = Collection.load(spec);
      try {
        const a1 = coll.program('calls_global').run({ data: Buffer.alloc(16) }).retval;
        const b1 = coll.program('calls_chain').run({ data: Buffer.alloc(16) }).retval;
        const a2 = coll.program('calls_global').run({ data: Buffer.alloc(16) }).retval;
        expect([a1, b1, a2]).to.deep.equal([16 + 49 + 1000, (48 + 11) * 2, 16 + 49 + 1000]);
      } finally {
        coll.close();
      }
    });
  });

  describe('loader_xsec: static functions in program sections', () => {
    let obj: string;
    let spec: ObjectSpec;

    before(() => {
      obj = fixture('loader_xsec');
      spec = ObjectSpec.fromFile(obj);
    });

    it('treats static functions outside .text as subprograms, not programs', () => {
      expect(spec.programs.map((p) => p.name)).to.deep.equal(['xsec_caller']);
    });

    it('links the same-section callee (no relocation) and the other-section callee (relocation)', () => {
      const sizes = funcSizes(obj);
      const coll = Collection.load(spec);
      try {
        const p = coll.program('xsec_caller');
        expect(p.insnCount).to.equal(insns(sizes.get('xsec_caller')) + insns(sizes.get('same_helper')) + insns(sizes.get('tc_helper')));
        // same_helper(len) + 400 = 5 * len + 3 + 7 + 400
        expect([14, 30].map((n) => p.run({ data: Buffer.alloc(n) }).retval)).to.deep.equal([480, 560]);
      } finally {
        coll.close();
      }
    });
  });
});
