// CO-RE: computes what each relocation resolves to against a target BTF and patches the
// instruction, as libbpf does: the value is checked against what the compiler wrote for the
// local BTF, every matching candidate must agree, and a relocation that cannot be resolved
// turns its instruction into a call to helper 0xbad2310, so the program fails verification only
// if that instruction is reachable. Pure: no syscalls.

import { Btf, BtfKind, BtfType } from '../btf/btf';
import { LinkError } from '../errors';
import { Class, cloneAll, Instruction, insnClass, isWide, OP_CALL } from '../object/insn';
import { AccessSpec, isEnumvalKind, isFieldKind, isTypeKind, matchFieldOrEnum, parseLocalSpec } from './access';
import { CoreKind, coreKindName, CoreRelo } from './relos';
import { CoreTarget } from './target';
import { isAnyEnum, isSignedInt, sizeOf, typesCompatible, typesMatch } from './types';

/** libbpf's invalid helper id for a poisoned instruction ("bad relo"). */
export const POISON_HELPER = 0xbad2310;

interface FieldValue { value: bigint; size: number; typeId: number; validate: boolean }

/** What a relocation patches in: `poison` or a value, with what the compiler should have used. */
export interface CoreResult {
  poison: boolean;
  orig: bigint;
  value: bigint;
  validate: boolean;
  /** Memory access sizes (FIELD_BYTE_OFFSET of a non-bitfield): load/store size is adjusted. */
  origSize: number;
  newSize: number;
  /** The sizes differ and the field is neither a pointer nor an unsigned int on both sides. */
  badSizeChange: boolean;
}

class Poison extends Error {}

function innermostElementSize(btf: Btf, id: number): number {
  let t = btf.resolve(id);
  while (t.kind === BtfKind.Array) t = btf.resolve(t.array!.type);
  return sizeOf(btf, t.id);
}

function fieldValue(relo: CoreRelo, spec: AccessSpec | undefined, where: () => string): FieldValue {
  if (relo.kind === CoreKind.FieldExists) return { value: spec ? 1n : 0n, size: 0, typeId: 0, validate: true };
  if (!spec) throw new Poison();
  const btf = spec.btf;
  const acc = spec.accessors[spec.accessors.length - 1];
  if (acc.name === undefined) {
    // An array element (or the root) rather than a named member.
    if (relo.kind === CoreKind.FieldByteOffset) {
      return { value: BigInt(Math.floor(spec.bitOffset / 8)), size: innermostElementSize(btf, acc.typeId), typeId: acc.typeId, validate: true };
    }
    if (relo.kind === CoreKind.FieldByteSize) return { value: BigInt(sizeOf(btf, acc.typeId)), size: 0, typeId: 0, validate: true };
    throw new LinkError(`${where()}: ${coreKindName(relo.kind)} cannot be applied to an array element`);
  }
  const parent = btf.type(acc.typeId);
  const member = parent.members![acc.idx];
  const mt = btf.resolve(member.type);
  const bitOff = spec.bitOffset;
  let bitSize = parent.kindFlag ? member.bitfieldSize : 0;
  const bitfield = bitSize > 0;
  let byteSize: number;
  let byteOff: number;
  if (bitfield) {
    // The smallest aligned load of the field's type size, or wider, that covers every bit.
    if (!mt.size) throw new LinkError(`${where()}: the bitfield's type [${mt.id}] has no size`);
    byteSize = mt.size;
    byteOff = Math.floor(bitOff / 8 / byteSize) * byteSize;
    while (bitOff + bitSize - byteOff * 8 > byteSize * 8) {
      if (byteSize >= 8) throw new LinkError(`${where()}: the bitfield cannot be read with a 64-bit load`);
      byteSize *= 2;
      byteOff = Math.floor(bitOff / 8 / byteSize) * byteSize;
    }
  } else {
    byteSize = sizeOf(btf, mt.id);
    byteOff = Math.floor(bitOff / 8);
    bitSize = byteSize * 8;
  }
  // The compiler's bitfield values may legitimately differ from ours, so only signedness and
  // the right shift are checked for bitfields.
  let validate = !bitfield;
  let value: number;
  let size = 0;
  let typeId = 0;
  switch (relo.kind) {
    case CoreKind.FieldByteOffset:
      value = byteOff;
      if (!bitfield) {
        size = innermostElementSize(btf, mt.id);
        typeId = mt.id;
      }
      break;
    case CoreKind.FieldByteSize:
      value = byteSize;
      break;
    case CoreKind.FieldSigned:
      value = (isAnyEnum(mt) && mt.kindFlag) || isSignedInt(mt) ? 1 : 0;
      validate = true;
      break;
    case CoreKind.FieldLshiftU64:
      value = 64 - (bitOff + bitSize - byteOff * 8);
      break;
    case CoreKind.FieldRshiftU64:
      value = 64 - bitSize;
      validate = true;
      break;
    default:
      throw new LinkError(`${where()}: unrecognized CO-RE relocation kind ${relo.kind}`);
  }
  return { value: BigInt(value), size, typeId, validate };
}

function typeValue(relo: CoreRelo, spec: AccessSpec | undefined, where: () => string): { value: bigint; validate: boolean } {
  if (!spec) return { value: 0n, validate: true };
  switch (relo.kind) {
    case CoreKind.TypeIdTarget:
      return { value: BigInt(spec.rootId), validate: false }; // ids shift when objects are linked
    case CoreKind.TypeExists: case CoreKind.TypeMatches:
      return { value: 1n, validate: true };
    case CoreKind.TypeSize:
      return { value: BigInt(sizeOf(spec.btf, spec.rootId)), validate: true };
    default:
      throw new LinkError(`${where()}: unrecognized CO-RE relocation kind ${relo.kind}`);
  }
}

function enumValue(relo: CoreRelo, spec: AccessSpec | undefined): bigint {
  if (relo.kind === CoreKind.EnumvalExists) return spec ? 1n : 0n;
  if (!spec) throw new Poison();
  const acc = spec.accessors[0];
  const t = spec.btf.type(acc.typeId);
  const v = t.values![acc.idx].value;
  // A 32-bit enumerator is a signed 32-bit field widened to 64 bits; a 64-bit one is raw.
  return BigInt.asUintN(64, t.kind === BtfKind.Enum ? BigInt.asIntN(32, v) : v);
}

function isPtrOrUnsignedInt(t: BtfType, other: BtfType): boolean {
  if (t.kind === BtfKind.Ptr && other.kind === BtfKind.Ptr) return true;
  return t.kind === BtfKind.Int && other.kind === BtfKind.Int && t.int!.encoding !== 1 && other.int!.encoding !== 1;
}

/** The result for one local spec and one target spec (undefined: no target). */
function calc(relo: CoreRelo, local: AccessSpec, target: AccessSpec | undefined, where: () => string): CoreResult {
  const res: CoreResult = { poison: false, orig: 0n, value: 0n, validate: true, origSize: 0, newSize: 0, badSizeChange: false };
  try {
    if (isFieldKind(relo.kind)) {
      const o = fieldValue(relo, local, where);
      const n = fieldValue(relo, target, where);
      Object.assign(res, { orig: o.value, value: n.value, validate: o.validate, origSize: o.size, newSize: n.size });
      if (o.size !== n.size) res.badSizeChange = !isPtrOrUnsignedInt(local.btf.type(o.typeId), target!.btf.type(n.typeId));
    } else if (isTypeKind(relo.kind)) {
      const o = typeValue(relo, local, where);
      Object.assign(res, { orig: o.value, value: typeValue(relo, target, where).value, validate: o.validate });
    } else if (isEnumvalKind(relo.kind)) {
      Object.assign(res, { orig: enumValue(relo, local), value: enumValue(relo, target) });
    } else {
      throw new LinkError(`${where()}: unrecognized CO-RE relocation kind ${relo.kind}`);
    }
  } catch (e) {
    if (!(e instanceof Poison)) throw e;
    res.poison = true;
  }
  return res;
}

/** Resolves one relocation against the target: every candidate of the same essential name and
 * compatible kind that matches must give the same answer; none matching is not an error. */
export function resolveRelo(relo: CoreRelo, local: Btf, target: CoreTarget, program: string): CoreResult {
  const root = local.type(relo.typeId);
  const where = () => `program ${program}: CO-RE relocation #${relo.index} (${coreKindName(relo.kind)} of ${root.name || '<anon>'} [${relo.typeId}] access '${relo.access}')`;
  const localSpec = parseLocalSpec(local, relo);
  if (relo.kind === CoreKind.TypeIdLocal) {
    const id = BigInt(relo.typeId);
    return { poison: false, orig: id, value: id, validate: false, origSize: 0, newSize: 0, badSizeChange: false };
  }
  if (root.name === '') throw new LinkError(`${where()}: anonymous types cannot be relocated`);
  let chosen: { res: CoreResult; spec: AccessSpec } | undefined;
  for (const cand of target.candidates(local, relo.typeId)) {
    let spec: AccessSpec | undefined;
    if (isTypeKind(relo.kind)) {
      const ok = relo.kind === CoreKind.TypeMatches
        ? typesMatch(local, relo.typeId, cand.btf, cand.id)
        : typesCompatible(local, relo.typeId, cand.btf, cand.id);
      if (ok) spec = { btf: cand.btf, rootId: cand.id, accessors: [], raw: [], bitOffset: 0 };
    } else {
      spec = matchFieldOrEnum(localSpec, relo.kind, cand.btf, cand.id);
    }
    if (!spec) continue;
    const res = calc(relo, localSpec, spec, where);
    if (!chosen) {
      chosen = { res, spec };
    } else if (spec.bitOffset !== chosen.spec.bitOffset) {
      throw new LinkError(`${where()}: field offset ambiguity: candidates [${chosen.spec.rootId}] and [${cand.id}] put it at bits ${chosen.spec.bitOffset} and ${spec.bitOffset}`);
    } else if (res.poison !== chosen.res.poison || res.value !== chosen.res.value) {
      throw new LinkError(`${where()}: relocation decision ambiguity: candidates [${chosen.spec.rootId}] and [${cand.id}] give ${chosen.res.poison ? 'failure' : chosen.res.value} and ${res.poison ? 'failure' : res.value}`);
    }
  }
  return chosen ? chosen.res : calc(relo, localSpec, undefined, where);
}

const SIZE_BYTES: Record<number, number> = { 0x00: 4, 0x08: 2, 0x10: 1, 0x18: 8 };
const SIZE_CODE: Record<number, number> = { 4: 0x00, 2: 0x08, 1: 0x10, 8: 0x18 };

function poisonInto(insn: Instruction): void {
  Object.assign(insn, { opcode: Class.JMP | OP_CALL, dst: 0, src: 0, off: 0, imm: POISON_HELPER });
  delete insn.imm2;
  delete insn.reference;
}

/** Patches `insn` with `res`; returns a second poisoned instruction when a 16-byte ld_imm64 was
 * poisoned (both of its halves become calls, so the slot count stays). */
export function patchInsn(insn: Instruction, res: CoreResult, where: string): Instruction | undefined {
  const unexpected = (what: string, got: bigint) =>
    new LinkError(`${where}: instruction ${what} is ${got}, the local BTF says ${res.orig}: the object and its BTF disagree`);
  const cls = insnClass(insn);
  const poison = (): Instruction | undefined => {
    const wide = isWide(insn);
    poisonInto(insn);
    if (!wide) return undefined;
    const second = { ...insn };
    delete second.line;
    delete second.funcTypeId;
    delete second.coreRelo;
    return second;
  };
  if (res.poison) return poison();
  switch (cls) {
    case Class.ALU: case Class.ALU64:
      if ((insn.opcode & 0x08) !== 0) throw new LinkError(`${where}: ALU instruction with a register source cannot be relocated`);
      if (res.validate && BigInt.asUintN(64, BigInt(insn.imm)) !== res.orig) throw unexpected('immediate', BigInt(insn.imm));
      insn.imm = Number(BigInt.asIntN(32, res.value));
      return undefined;
    case Class.LDX: case Class.ST: case Class.STX: {
      if (res.validate && BigInt.asUintN(64, BigInt(insn.off)) !== res.orig) throw unexpected('offset', BigInt(insn.off));
      if (res.value > 32767n) throw new LinkError(`${where}: offset ${res.value} does not fit an instruction`);
      if (res.badSizeChange) return poison();
      insn.off = Number(res.value);
      if (res.newSize !== res.origSize) {
        const bytes = SIZE_BYTES[insn.opcode & 0x18];
        if (bytes !== res.origSize) throw new LinkError(`${where}: the instruction accesses ${bytes} bytes, the local field has ${res.origSize}`);
        const code = SIZE_CODE[res.newSize];
        if (code === undefined) throw new LinkError(`${where}: the target field has ${res.newSize} bytes, which no load or store accesses`);
        insn.opcode = (insn.opcode & ~0x18) | code;
      }
      return undefined;
    }
    case Class.LD: {
      if (!isWide(insn) || insn.src !== 0 || insn.off !== 0 || insn.reference) throw new LinkError(`${where}: ld instruction of an unexpected form`);
      const imm = (BigInt(insn.imm2 ?? 0) << 32n | BigInt(insn.imm >>> 0)) & 0xffffffffffffffffn;
      if (res.validate && BigInt.asUintN(64, imm) !== res.orig) throw unexpected('64-bit immediate', imm);
      insn.imm = Number(BigInt.asIntN(32, res.value));
      insn.imm2 = Number(BigInt.asIntN(32, res.value >> 32n));
      return undefined;
    }
    default:
      throw new LinkError(`${where}: CO-RE cannot relocate opcode 0x${insn.opcode.toString(16)}`);
  }
}

/** Why each poisoned instruction was poisoned, for the verifier error should it be reached. */
const poisonReasons = new WeakMap<Instruction, string>();

export function poisonReason(insn: Instruction): string | undefined {
  return poisonReasons.get(insn);
}

/** "core_hdr.tag[3]": the local access path of a field or enumerator relocation, as in C. */
function describe(local: Btf, relo: CoreRelo): string {
  const root = local.type(relo.typeId);
  const name = `${btfKindWord(root)}${root.name}`;
  if (isTypeKind(relo.kind)) return name;
  const parts = relo.access.split(':').map(Number);
  if (isEnumvalKind(relo.kind)) return `${name}::${root.values?.[parts[0]]?.name ?? parts[0]}`;
  let path = parts[0] === 0 ? name : `${name}[${parts[0]}]`;
  let t = local.resolve(relo.typeId);
  for (const idx of parts.slice(1)) {
    if (t.kind === BtfKind.Array) {
      path += `[${idx}]`;
      t = local.resolve(t.array!.type);
    } else {
      const m = t.members?.[idx];
      if (!m) break;
      if (m.name) path += `.${m.name}`;
      t = local.resolve(m.type);
    }
  }
  return path;
}

function btfKindWord(t: BtfType): string {
  if (t.kind === BtfKind.Struct) return 'struct ';
  if (t.kind === BtfKind.Union) return 'union ';
  return isAnyEnum(t) ? 'enum ' : '';
}

/** A copy of `instructions` with every CO-RE relocation applied against `target`. */
export function relocateInstructions(instructions: Instruction[], local: Btf, target: CoreTarget, program: string): Instruction[] {
  const out: Instruction[] = [];
  for (const insn of cloneAll(instructions)) {
    out.push(insn);
    const relo = insn.coreRelo;
    if (!relo) continue;
    delete insn.coreRelo;
    const res = resolveRelo(relo, local, target, program);
    const second = patchInsn(insn, res, `program ${program}: CO-RE relocation #${relo.index}`);
    if (second) out.push(second);
    if (insn.opcode === (Class.JMP | OP_CALL) && insn.imm === POISON_HELPER && insn.src === 0) {
      const why = res.poison ? `not found in ${target.name}` : `it has another size and signedness in ${target.name}`;
      poisonReasons.set(insn, `CO-RE relocation #${relo.index} (${coreKindName(relo.kind)} of ${describe(local, relo)}) could not be applied: ${why}`);
    }
  }
  return out;
}
