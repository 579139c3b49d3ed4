// The pure CO-RE stage, no kernel: records parsed from .BTF.ext, every relocation kind resolved
// against a second BTF, instructions patched (immediates, offsets, load sizes, poisoning), and
// the errors libbpf also raises. Expected values come from bpftool's dump of the target BTF.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { BtfKind } from '../../src/btf/btf';
import { CoreKind, parseCoreRelos } from '../../src/core/relos';
import { POISON_HELPER, relocateInstructions, resolveRelo } from '../../src/core/relocate';
import { CoreTarget } from '../../src/core/target';
import { Btf } from '../../src/btf/btf';
import { essentialName } from '../../src/core/types';
import { BpfUnitError, BtfError, LinkError, ObjectSpec } from '../../src';
import { Instruction } from '../../src/object/insn';
import { expectThrow, fixture } from '../loader/helpers';
import { ALT_BTF, AMBIG_BTF, bpftoolTypes, byteSize, enumValue, field, named } from './btf_dump';
import { btfBlob } from '../support/btf-blob';

const CALL = 0x85;
const LDX_MEM_H = 0x69;

describe('CO-RE relocation (pure stage)', () => {
  const obj = ObjectSpec.fromFile(fixture('core_local'));
  const alt = () => CoreTarget.fromBytes(readFileSync(ALT_BTF), 'alt.btf');
  const relocated = (prog: string, target = alt()) => relocateInstructions(obj.program(prog).instructions, obj.btf!, target, prog);
  const withRelo = (prog: string) => obj.program(prog).instructions.filter((i) => i.coreRelo);

  describe('essential names (the ___flavour suffix)', () => {
    const cases: [string, string][] = [
      ['task_struct___old', 'task_struct'], ['core_hdr___v1', 'core_hdr'], ['a___b___c', 'a___b'],
      ['plain', 'plain'], ['x____y', 'x____y'], ['x___', 'x___'], ['___y', '___y'], ['x___y', 'x'],
    ];
    for (const [name, want] of cases) it(`${name} -> ${want}`, () => expect(essentialName(name)).to.equal(want));
  });

  describe('.BTF.ext records', () => {
    it('every record lands on an instruction, with the kinds the C source asks for', () => {
      const kinds = withRelo('hdr_info').map((i) => i.coreRelo!.kind);
      expect(kinds).to.deep.equal([
        CoreKind.FieldExists, CoreKind.FieldExists, CoreKind.FieldExists, CoreKind.FieldByteSize, CoreKind.FieldByteOffset,
        CoreKind.FieldSigned, CoreKind.TypeExists, CoreKind.TypeSize, CoreKind.TypeExists, CoreKind.TypeExists,
        CoreKind.EnumvalValue, CoreKind.EnumvalExists, CoreKind.TypeIdTarget, CoreKind.TypeIdLocal,
        CoreKind.FieldByteSize, CoreKind.FieldByteOffset,
      ]);
      const bitfield = withRelo('hdr_read').map((i) => i.coreRelo!).filter((r) => r.access === '0:3'); // mid
      expect(bitfield.map((r) => r.kind).sort()).to.include.members([CoreKind.FieldByteOffset, CoreKind.FieldByteSize, CoreKind.FieldLshiftU64, CoreKind.FieldRshiftU64]);
    });

    it('a core_relo block running past the section is a BtfError', () => {
      const ext = Buffer.from(obj.elf.sectionByName('.BTF.ext')!.data);
      ext.writeUInt32LE(ext.readUInt32LE(28) + 64, 28);
      expectThrow(() => parseCoreRelos(ext, obj.btf!), BtfError, /core_relo/);
    });
  });

  describe('every kind against build/core_btf/alt.btf', () => {
    it('constants: field exists/size/offset/signed, type exists/size/ids, enum value/exists', () => {
      const t = bpftoolTypes(ALT_BTF);
      const local = bpftoolTypes(fixture('core_local'));
      const want = [
        1, 0, 0, byteSize(t, field(t, 'core_hdr', 'len').type_id), field(t, 'core_hdr', 'flags').bit / 8,
        field(t, 'core_hdr', 'level').type.encoding === 'SIGNED' ? 1 : 0, 0, named(t, 'STRUCT', 'core_hdr').size!, 1, 1,
        enumValue(t, 'core_color', 'CORE_BLUE'), 0, named(t, 'STRUCT', 'core_hdr').id, named(local, 'STRUCT', 'core_hdr').id,
        1, field(t, 'core_hdr', 'tag').bit / 8 + 3,
      ];
      const before = withRelo('hdr_info');
      const after = relocated('hdr_info');
      const patched = before.map((i) => after[obj.program('hdr_info').instructions.indexOf(i)]);
      expect(patched.map((i) => i.imm)).to.deep.equal(want);
      expect(patched.filter((i) => i.opcode === 0x18).map((i) => i.imm2)).to.deep.equal([0, 0, 0, 0]); // 64-bit immediates
    });

    it('bitfields: byte offset, load size, shifts and signedness from the target bit offset, width and type', () => {
      const t = bpftoolTypes(ALT_BTF);
      for (const name of ['mid', 'level']) {
        const m = field(t, 'core_hdr', name);
        const size = byteSize(t, m.type_id); // 4: the bitfield fits one aligned 32-bit unit
        const byteOff = Math.floor(m.bit / 8 / size) * size;
        expect(m.bit + m.bitfield_size! - byteOff * 8, `${name} fits`).to.be.at.most(size * 8);
        const idx = obj.btf!.find(BtfKind.Struct, 'core_hdr')!.members!.findIndex((x) => x.name === name);
        const values = new Map<CoreKind, bigint>();
        for (const i of withRelo('hdr_read').filter((x) => x.coreRelo!.access === `0:${idx}`)) {
          const r = resolveRelo(i.coreRelo!, obj.btf!, alt(), 'hdr_read');
          values.set(i.coreRelo!.kind, r.value);
        }
        expect(Object.fromEntries(values), name).to.deep.include({
          [CoreKind.FieldByteOffset]: BigInt(byteOff),
          [CoreKind.FieldByteSize]: BigInt(size),
          [CoreKind.FieldLshiftU64]: BigInt(64 - (m.bit + m.bitfield_size! - byteOff * 8)),
          [CoreKind.FieldRshiftU64]: BigInt(64 - m.bitfield_size!),
          [CoreKind.FieldSigned]: m.type.encoding === 'SIGNED' ? 1n : 0n,
        });
      }
    });

    it('a u32 read of a field that is a u16 in the target becomes a 2-byte load at the new offset', () => {
      const t = bpftoolTypes(ALT_BTF);
      const lenRelo = withRelo('hdr_read').find((i) => i.coreRelo!.access === '0:1' && i.coreRelo!.kind === CoreKind.FieldByteOffset)!;
      expect(lenRelo.opcode).to.equal(0x61); // LDX W
      const after = relocated('hdr_read')[obj.program('hdr_read').instructions.indexOf(lenRelo)];
      expect([after.opcode, after.off]).to.deep.equal([LDX_MEM_H, field(t, 'core_hdr', 'len').bit / 8]);
    });

    it('an ST (store of an immediate) is relocated like LDX/STX: offset and size', () => {
      const t = bpftoolTypes(ALT_BTF);
      const stx = withRelo('hdr_write').find((i) => i.coreRelo!.access === '0:1')!; // h->len = ...
      expect(stx.opcode).to.equal(0x63); // STX W
      const st: Instruction = { ...stx, opcode: 0x62, src: 0, imm: 0x0102 }; // ST W, as other compilers emit it
      const [after] = relocateInstructions([st], obj.btf!, alt(), 'st');
      expect([after.opcode, after.off, after.imm]).to.deep.equal([0x6a /* ST H */, field(t, 'core_hdr', 'len').bit / 8, 0x0102]);
    });

    it('unresolvable relocations are poisoned: call 0xbad2310, both halves of a 64-bit immediate', () => {
      const before = obj.program('hdr_read').instructions;
      const after = relocated('hdr_read');
      expect(after.length).to.equal(before.length + 1); // the ld_imm64 became two 8-byte calls
      const poisoned = after.filter((i) => i.opcode === CALL && i.imm === POISON_HELPER);
      expect(poisoned).to.have.length(3); // only_local's load, CORE_PURPLE's two halves
      const at = after.indexOf(poisoned[1]);
      expect(after[at + 1]).to.equal(poisoned[2]);
      expect(poisoned.every((i) => i.src === 0 && i.dst === 0 && i.off === 0 && i.imm2 === undefined)).to.equal(true);
      // The object's own program is untouched: relocation works on a copy.
      expect(before.filter((i) => i.opcode === CALL && i.imm === POISON_HELPER)).to.have.length(0);
    });

    it('a signed field whose size changes poisons the load instead of reading a wrong value', () => {
      const after = relocated('hdr_bad_size');
      expect(after.filter((i) => i.opcode === CALL && i.imm === POISON_HELPER)).to.have.length(1);
    });

    it('TYPE_MATCHES: same member names and int types match; a member of another width does not', () => {
      const pair = obj.btf!.find(BtfKind.Struct, 'core_pair')!.id;
      const hdr = obj.btf!.find(BtfKind.Struct, 'core_hdr')!.id;
      const relo = (typeId: number) => ({ insnOff: 0, typeId, access: '0', kind: CoreKind.TypeMatches, index: 0 });
      expect(resolveRelo(relo(pair), obj.btf!, alt(), 'p').value).to.equal(1n);
      expect(resolveRelo(relo(hdr), obj.btf!, alt(), 'p').value).to.equal(0n);
      // TYPE_EXISTS only asks for a compatible kind.
      expect(resolveRelo({ ...relo(hdr), kind: CoreKind.TypeExists }, obj.btf!, alt(), 'p').value).to.equal(1n);
    });
  });

  describe('errors libbpf also raises', () => {
    it('two candidates that disagree: LinkError naming the ambiguity', () => {
      const target = CoreTarget.fromBytes(readFileSync(AMBIG_BTF), 'ambig');
      expectThrow(() => relocated('hdr_read', target), LinkError, /hdr_read: CO-RE relocation #\d+ \(byte_off of core_hdr .*field offset ambiguity/);
    });

    it('an instruction that does not hold the local value: LinkError (the object and its BTF disagree)', () => {
      const insns = obj.program('hdr_info').instructions.map((i) => ({ ...i }));
      const sizeInsn = insns.find((i) => i.coreRelo?.kind === CoreKind.FieldByteSize)!;
      sizeInsn.imm = 99;
      expectThrow(() => relocateInstructions(insns, obj.btf!, alt(), 'hdr_info'), LinkError, /immediate is 99, the local BTF says 4/);
    });

    it('an unknown relocation kind: LinkError', () => {
      const insns: Instruction[] = obj.program('hdr_info').instructions.map((i) => ({ ...i }));
      const r = insns.find((i) => i.coreRelo)!;
      r.coreRelo = { ...r.coreRelo!, kind: 42 as CoreKind };
      expectThrow(() => relocateInstructions(insns, obj.btf!, alt(), 'hdr_info'), LinkError, /kind 42/);
    });

    it('a target file that is neither BTF nor ELF: BtfError', () => {
      expectThrow(() => CoreTarget.fromBytes(Buffer.from('not btf at all, surely'), 'junk'), BtfError, /magic/);
    });
  });

  describe('module BTF', () => {
    it('split BTF parsed on its base keeps base ids and string offsets and numbers its types after them', () => {
      const baseBytes = readFileSync(ALT_BTF);
      const baseTypes = bpftoolTypes(ALT_BTF);
      const u32 = named(baseTypes, 'TYPEDEF', '__u32').id;
      const baseStrLen = baseBytes.readUInt32LE(20);
      // One STRUCT 'mod_thing' { __u32 v; }: names are offsets past the base's strings.
      const strs = Buffer.from('\0mod_thing\0v\0');
      const types = Buffer.alloc(24);
      types.writeUInt32LE(baseStrLen + 1, 0);
      types.writeUInt32LE((4 << 24) | 1, 4);
      types.writeUInt32LE(4, 8);
      types.writeUInt32LE(baseStrLen + 11, 12);
      types.writeUInt32LE(u32, 16);
      types.writeUInt32LE(0, 20);
      const base = Btf.parse(baseBytes);
      const split = Btf.parse(btfBlob(types, strs), base);
      const firstId = Math.max(...baseTypes.keys()) + 1;
      const t = split.type(firstId);
      expect(split.types.length).to.equal(firstId + 1);
      expect([t.name, t.members![0].name, split.type(t.members![0].type).name]).to.deep.equal(['mod_thing', 'v', '__u32']);
      expect(split.type(u32).name).to.equal('__u32');
      // Found as a candidate in the module when the main BTF has none.
      const target = new CoreTarget('t', base, () => [{ name: 'mod', btf: split, firstId }]);
      expect(target.candidates(split, firstId).map((c) => c.id)).to.deep.equal([firstId]);
    });

    it("split BTF whose strings start with a name, as pahole writes a module's, parses; base BTF so is a BtfError", () => {
      const base = Btf.parse(readFileSync(ALT_BTF));
      const baseStrLen = readFileSync(ALT_BTF).readUInt32LE(20);
      // One INT 'mod_int' (4 bytes, 32 bits) named at the split's first string byte.
      const types = Buffer.alloc(16);
      types.writeUInt32LE(baseStrLen, 0);
      types.writeUInt32LE(1 << 24, 4);
      types.writeUInt32LE(4, 8);
      types.writeUInt32LE(32, 12);
      const strs = Buffer.from('mod_int\0');
      const split = Btf.parse(btfBlob(types, strs), base);
      expect(split.type(split.types.length - 1).name).to.equal('mod_int');
      expectThrow(() => Btf.parse(btfBlob(types, strs)), BtfError, /BTF string section must start with a NUL byte/);
    });

    it('module types are searched only when the main BTF has no candidate', () => {
      let asked = 0;
      const base = readFileSync(ALT_BTF);
      const target = new CoreTarget('t', CoreTarget.fromBytes(base, 'b').main, () => {
        asked++;
        return [];
      });
      const hdr = obj.btf!.find(BtfKind.Struct, 'core_hdr')!.id;
      const gone = obj.btf!.find(BtfKind.Struct, 'core_gone')!.id;
      expect(target.candidates(obj.btf!, hdr)).to.have.length(1);
      expect(asked).to.equal(0);
      expect(target.candidates(obj.btf!, gone)).to.have.length(0);
      expect(asked).to.equal(1);
    });
  });
});

describe('CO-RE relocation: properties', () => {
  it('mutated CO-RE records (kind, type id, access string) give a relocation or a typed error, never a crash', () => {
    const obj = ObjectSpec.fromFile(fixture('core_local'));
    const btf = obj.btf!;
    const target = CoreTarget.fromBytes(readFileSync(ALT_BTF), 'alt');
    let seed = 0x1234567;
    const rand = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const accesses = ['0', '0:1', '0:7:3', '1:0', '0:99', '0:6:9', '7', '0:0:0', ':0', '', '0::1', 'x'];
    const outcomes = new Map<string, number>();
    for (let k = 0; k < 1000; k++) {
      const insns = obj.program(['hdr_read', 'hdr_info'][k % 2]).instructions.map((i) => ({ ...i }));
      const withRelo = insns.filter((i) => i.coreRelo);
      const victim = withRelo[rand(withRelo.length)];
      const r = { ...victim.coreRelo! };
      const what = rand(3);
      if (what === 0) r.kind = rand(14) as CoreKind;
      else if (what === 1) r.typeId = rand(btf.types.length);
      else r.access = accesses[rand(accesses.length)];
      victim.coreRelo = r;
      let outcome: string;
      try {
        relocateInstructions(insns, btf, target, 'fuzz');
        outcome = 'relocated';
      } catch (e) {
        expect(e, `${JSON.stringify(r)}: ${(e as Error).stack}`).to.be.instanceOf(BpfUnitError);
        outcome = (e as Error).constructor.name;
      }
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
    expect([...outcomes.keys()].sort()).to.deep.equal(['LinkError', 'relocated']);
  });
});
