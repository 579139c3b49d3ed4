// Parsing stays linear in the object's size: synthetic objects with thousands of programs (see
// spec/support/synthetic.ts) parse and link to exactly what they hold, each function decoded once
// and each program holding only its own body and the subprograms it reaches, also when the FUNC
// symbols have st_size 0 (each function then runs to the next). Timings are measured in the
// bench ("parse 10k programs / 10 MB object"), not asserted here.
import { expect } from 'chai';
import { Btf, BtfKind } from '../../src/btf/btf';
import { LinkError } from '../../src/errors';
import { encode, Instruction } from '../../src/object/insn';
import { ObjectSpec } from '../../src/object/object';
import { syntheticObject, SyntheticObject, SyntheticOptions } from '../support/synthetic';

const OPTS: SyntheticOptions = { programs: 1000, perSection: 8, programInsns: 24, subprograms: 40, subprogramInsns: 6, maps: 16, globals: 64 };

function bytesOf(list: Instruction[]): Buffer {
  return encode(list, (ref) => ({ imm: ref.kind === 'map' ? 1000 + Number(ref.map.slice(4)) : ref.offset }));
}

/** File offset of the symbol table entry named `name` (read here, not through src/elf). */
function symbolAt(buf: Buffer, name: string): number {
  const shoff = Number(buf.readBigUInt64LE(40));
  const shnum = buf.readUInt16LE(60);
  const hdr = (i: number) => ({ type: buf.readUInt32LE(shoff + i * 64 + 4), offset: Number(buf.readBigUInt64LE(shoff + i * 64 + 24)), size: Number(buf.readBigUInt64LE(shoff + i * 64 + 32)), link: buf.readUInt32LE(shoff + i * 64 + 40) });
  const symtab = Array.from({ length: shnum }, (_, i) => hdr(i)).find((h) => h.type === 2)!;
  const strs = hdr(symtab.link).offset;
  for (let at = symtab.offset; at < symtab.offset + symtab.size; at += 24) {
    const n = strs + buf.readUInt32LE(at);
    if (buf.toString('latin1', n, buf.indexOf(0, n)) === name) return at;
  }
  throw new Error(`no symbol ${name}`);
}

function checkModel(obj: SyntheticObject, spec: ObjectSpec, opts: SyntheticOptions): void {
  expect(spec.programs.map((p) => p.name)).to.deep.equal(obj.programs.map((p) => p.name));
  for (const [k, want] of obj.programs.entries()) {
    const p = spec.programs[k];
    expect(p.section, p.name).to.equal(want.section);
    expect(p.kind?.type, p.name).to.equal('XDP');
    // Its body, then its callee, then the callee's callee: nothing else.
    let slotCount = 0;
    for (const i of p.instructions) slotCount += i.opcode === 0x18 ? 2 : 1;
    expect(slotCount, `${p.name}: linked slots`).to.equal(want.linkedSlots);
    expect(p.instructions[0].reference, p.name).to.deep.equal({ kind: 'map', map: want.map });
    expect(p.instructions[1].reference, p.name).to.deep.equal({ kind: 'mapValue', map: '.data', offset: 8 * Number(want.global.slice(7)) });
    const body = opts.programInsns! - 2; // two ld_imm64 in the body
    const call = p.instructions[2];
    expect(call.target, `${p.name}: call target`).to.equal(p.instructions[body]);
    expect(call.target!.imm, `${p.name}: callee is sub_${want.callee} (r0 = ${want.callee})`).to.equal(want.callee);
  }
}

describe('large objects: parsing and linking stay linear', function () {
  this.timeout(120_000);

  it(`${OPTS.programs} programs in ${OPTS.programs / OPTS.perSection!} sections parse and link to exactly what the object holds`, () => {
    const obj = syntheticObject(OPTS);
    checkModel(obj, ObjectSpec.parse(obj.bytes), OPTS);
  });

  it('FUNC symbols with st_size 0: each function runs to the next, and the model is the same as with sizes', () => {
    const sized = syntheticObject(OPTS);
    const zero = syntheticObject({ ...OPTS, zeroFunctionSizes: true });
    expect(zero.bytes.equals(sized.bytes)).to.equal(false);
    const a = ObjectSpec.parse(sized.bytes);
    const b = ObjectSpec.parse(zero.bytes);
    checkModel(zero, b, OPTS);
    // Linked instructions total what the programs reach: no function holds the rest of its section.
    const total = (s: ObjectSpec) => s.programs.reduce((n, p) => n + p.instructions.length, 0);
    expect(total(b)).to.equal(total(a));
    b.programs.forEach((p, k) => expect(bytesOf(p.instructions).equals(bytesOf(a.programs[k].instructions)), p.name).to.equal(true));
  });

  it('programs sharing a subprogram each hold their own instructions (no object shared between programs)', () => {
    const obj = syntheticObject({ ...OPTS, programs: 200 });
    const spec = ObjectSpec.parse(obj.bytes);
    const seen = new Set<Instruction>();
    for (const p of spec.programs) {
      for (const i of p.instructions) {
        expect(seen.has(i), `${p.name} shares an instruction object with another program`).to.equal(false);
        seen.add(i);
        // Jumps and calls stay inside the program.
        if (i.target) expect(p.instructions.includes(i.target), p.name).to.equal(true);
      }
    }
  });

  it('btfForKernel gives every global of a large .data its offset, sorted', () => {
    const obj = syntheticObject({ ...OPTS, programs: 16, globals: 3000 });
    const btf = Btf.parse(ObjectSpec.parse(obj.bytes).btfForKernel()!);
    const data = btf.find(BtfKind.Datasec, '.data')!;
    expect(data.size).to.equal(8 * 3000);
    expect(data.vars!.map((v) => [btf.type(v.type).name, v.offset])).to.deep.equal(obj.globals.map((g, k) => [g, 8 * k]));
  });

  it('overlapping functions are a LinkError naming both, for the program that overlaps only', () => {
    const obj = syntheticObject({ ...OPTS, programs: 8 });
    obj.bytes.writeBigUInt64LE(BigInt(2 * OPTS.programInsns! * 8), symbolAt(obj.bytes, 'prog_0') + 16);
    const spec = ObjectSpec.parse(obj.bytes);
    expect(spec.program('prog_1').error).to.be.instanceOf(LinkError).and.match(/section xdp\/s0: function prog_1 overlaps function prog_0/);
    expect(spec.program('prog_2').error).to.equal(undefined);
  });
});
