// Values written through BTF (useHarness set/get) keep C's meaning: a value the type cannot hold is
// an InputError naming the variable or field and the type's range, never bytes that read back as
// another number; signed types read back negative (numbers and bigints); a non-integer is refused.
// Fixture: spec/fixtures/btf_values.c (a global struct with one field of each integer shape).
import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Btf, BtfKind } from '../../src/btf/btf';
import { CValue, readValue, writeValue } from '../../src/btf/value';
import { InputError } from '../../src/errors';
import { useHarness } from '../../src/mock/harness';
import { ObjectSpec } from '../../src/object/object';
import { btfBlob } from '../support/btf-blob';

const ROOT = path.resolve(__dirname, '..', '..');
const FIXTURE = path.join(ROOT, 'build/fixtures/btf_values.o');
const XDP_DROP = 1;
const XDP_PASS = 2;

/** Byte offsets of struct ints' fields on x86-64/BPF (the C layout, written out by hand). */
const OFFSET = { c: 0, sc: 1, uc: 2, s: 4, us: 6, i: 8, ui: 12, l: 16, ul: 24, b: 32, i128: 48, u128: 64, se: 80, ne: 84, p: 88 };
const SIZE = 112;

function loadBtf(): { btf: Btf; ints: number } {
  if (!existsSync(FIXTURE)) throw new Error(`${FIXTURE} is missing: run 'make objects'`);
  const btf = ObjectSpec.parse(readFileSync(FIXTURE)).btf!;
  return { btf, ints: btf.find(BtfKind.Struct, 'ints')!.id };
}

function expectInputError(fn: () => void, re: RegExp): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, 'expected an InputError').to.be.instanceOf(InputError);
  expect((err as Error).message).to.match(re);
}

/** Little-endian two's complement bytes of v in `size` bytes: the oracle for what C stores. */
function le(v: bigint, size: number): Buffer {
  const out = Buffer.alloc(size);
  let u = BigInt.asUintN(size * 8, v);
  for (let k = 0; k < size; k++, u >>= 8n) out[k] = Number(u & 0xffn);
  return out;
}

describe('BTF-typed values: range and signedness', () => {
  const { btf, ints } = loadBtf();
  const write = (value: { [f: string]: CValue }, buf = Buffer.alloc(SIZE)) => {
    writeValue(btf, ints, buf, 0, value, 'vals');
    return buf;
  };
  const read = (buf: Buffer) => readValue(btf, ints, buf, 0) as { [f: string]: CValue };

  const cases: [field: keyof typeof OFFSET, size: number, min: bigint, max: bigint, name: string][] = [
    ['c', 1, -128n, 127n, 'char'],
    ['sc', 1, -128n, 127n, 'signed char'],
    ['uc', 1, 0n, 255n, 'unsigned char'],
    ['s', 2, -32768n, 32767n, 'short'],
    ['us', 2, 0n, 65535n, 'unsigned short'],
    ['i', 4, -(2n ** 31n), 2n ** 31n - 1n, 'int'],
    ['ui', 4, 0n, 2n ** 32n - 1n, 'unsigned int'],
    ['l', 8, -(2n ** 63n), 2n ** 63n - 1n, 'long'],
    ['ul', 8, 0n, 2n ** 64n - 1n, 'unsigned long'],
    ['b', 1, 0n, 1n, '_Bool'],
    ['i128', 16, -(2n ** 127n), 2n ** 127n - 1n, '__int128'],
    ['u128', 16, 0n, 2n ** 128n - 1n, 'unsigned __int128'],
    ['se', 4, 0n, 2n ** 32n - 1n, 'enum small_enum'],
    ['ne', 4, -(2n ** 31n), 2n ** 31n - 1n, 'enum neg_enum'],
    ['p', 8, 0n, 2n ** 64n - 1n, 'pointer'],
  ];

  for (const [field, size, min, max, name] of cases) {
    // Up to 32 bits values read back as numbers, wider ones as bigints.
    const js = (v: bigint): CValue => (size <= 4 ? Number(v) : v);

    it(`${name}: ${min} and ${max} round-trip with the bytes C stores, and -1 where signed`, () => {
      for (const v of [min, max, ...(min < 0n ? [-1n] : [])]) {
        const buf = write({ [field]: js(v) });
        expect(buf.subarray(OFFSET[field], OFFSET[field] + size).equals(le(v, size)), `${field} = ${v}`).to.equal(true);
        expect(read(buf)[field]).to.equal(js(v));
        // A bigint is accepted for a narrow type and a number for a wide one, with the same bytes.
        if (Number.isSafeInteger(Number(v))) {
          const other = write({ [field]: typeof js(v) === 'number' ? v : Number(v) });
          expect(other.equals(buf), `${field} = ${v} as the other JS type`).to.equal(true);
        }
      }
    });

    it(`${name}: one past either end is an InputError naming the field and ${min}..${max}, and writes nothing`, () => {
      for (const v of [min - 1n, max + 1n]) {
        const buf = Buffer.alloc(SIZE, 0xaa);
        const range = `\\(${name} holds ${min}\\.\\.${max}\\)`;
        expectInputError(() => write({ [field]: v }, buf), new RegExp(`^vals\\.${field}: ${v} is out of range ${range}$`));
        expect(buf.equals(Buffer.alloc(SIZE, 0xaa))).to.equal(true);
      }
    });
  }

  it('the values the issue found wrapping are refused: 40000 into short, 2 into _Bool, -1 into unsigned __int128', () => {
    expectInputError(() => write({ s: 40000 }), /^vals\.s: 40000 is out of range \(short holds -32768\.\.32767\)$/);
    expectInputError(() => write({ b: 2 }), /^vals\.b: 2 is out of range \(_Bool holds 0\.\.1\)$/);
    expectInputError(() => write({ u128: -1n }), /^vals\.u128: -1 is out of range/);
    // And a signed __int128 set to -1 reads back -1, not 2^128-1.
    expect(read(write({ i128: -1n })).i128).to.equal(-1n);
  });

  it('non-integers into integer types are InputErrors: 1.5, NaN, Infinity, a string, an array', () => {
    expectInputError(() => write({ s: 1.5 }), /^vals\.s: 1\.5 is not an integer \(short holds -32768\.\.32767\)$/);
    expectInputError(() => write({ i: NaN }), /^vals\.i: NaN is not an integer/);
    expectInputError(() => write({ l: Infinity }), /^vals\.l: Infinity is not an integer/);
    expectInputError(() => write({ ul: 2 ** 64 + 0.5 }), /^vals\.ul: 18446744073709552000 is out of range/);
    expectInputError(() => write({ ui: '7' }), /^vals\.ui: expected an integer, got string/);
    expectInputError(() => write({ se: [1] }), /^vals\.se: expected an integer, got an array/);
  });

  describe('enums as clang 15 and later describe them (kind_flag is the signedness)', () => {
    // A BTF blob made here: [1] ENUM 'sig' (signed, 4 bytes), [2] ENUM64 'u64e' (unsigned),
    // [3] ENUM64 's64e' (signed).
    function enumBtf(): Btf {
      const strs = Buffer.from('\0sig\0A\0u64e\0s64e\0');
      const name = (s: string) => strs.indexOf(Buffer.from(`\0${s}\0`)) + 1;
      const words: number[] = [
        name('sig'), (6 << 24) | (1 << 31) | 1, 4, name('A'), -1 >>> 0,
        name('u64e'), (19 << 24) | 1, 8, name('A'), 0xffffffff, 0xffffffff,
        name('s64e'), (19 << 24) | (1 << 31) | 1, 8, name('A'), 0xffffffff, 0xffffffff,
      ];
      const types = Buffer.alloc(words.length * 4);
      words.forEach((w, k) => types.writeUInt32LE(w >>> 0, k * 4));
      return Btf.parse(btfBlob(types, strs));
    }
    const e = enumBtf();

    it('a signed enum takes -1 and reads it back, and refuses 2^31', () => {
      const buf = Buffer.alloc(4);
      writeValue(e, 1, buf, 0, -1, 'x');
      expect(buf.equals(le(-1n, 4))).to.equal(true);
      expect(readValue(e, 1, buf)).to.equal(-1);
      expectInputError(() => writeValue(e, 1, buf, 0, 2 ** 31, 'x'), /^x: 2147483648 is out of range \(enum sig holds -2147483648\.\.2147483647\)$/);
    });

    it('an unsigned 64-bit enum takes 2^64-1 and refuses -1; a signed one the reverse', () => {
      const buf = Buffer.alloc(8);
      writeValue(e, 2, buf, 0, 2n ** 64n - 1n, 'u');
      expect(readValue(e, 2, buf)).to.equal(2n ** 64n - 1n);
      expectInputError(() => writeValue(e, 2, buf, 0, -1n, 'u'), /^u: -1 is out of range \(enum u64e holds 0\.\.18446744073709551615\)$/);
      writeValue(e, 3, buf, 0, -1n, 's');
      expect(buf.equals(le(-1n, 8))).to.equal(true);
      expect(readValue(e, 3, buf)).to.equal(-1n);
      expectInputError(() => writeValue(e, 3, buf, 0, 2n ** 63n, 's'), /^s: 9223372036854775808 is out of range/);
    });
  });

  describe('through useHarness, as the program sees it', function () {
    this.timeout(30_000);
    const h = useHarness(FIXTURE, ['values_xdp']);

    it('a negative short set from TypeScript is negative in the program (vals.s > 0 is false)', () => {
      h().set('vals', { s: -2 });
      expect(h().run('values_xdp', { data: Buffer.alloc(64) }).retval).to.equal(XDP_DROP);
      expect((h().get('vals') as { s: number }).s).to.equal(-2);
      h().set('vals', { s: 2 });
      expect(h().run('values_xdp', { data: Buffer.alloc(64) }).retval).to.equal(XDP_PASS);
    });

    it('an out-of-range set is refused and leaves the global as it was', () => {
      h().set('vals', { s: 5 });
      expectInputError(() => h().set('vals', { s: 40000 }), /^vals\.s: 40000 is out of range \(short holds -32768\.\.32767\)$/);
      expect((h().get('vals') as { s: number }).s).to.equal(5);
    });
  });
});
