// Whether an object's declaration of a typed __ksym or kfunc fits the kernel's, by the rules
// libbpf applies before resolving either (bpf_core_types_are_compat over the VAR's type or the
// FUNC's prototype): pure, on hand-built BTF for each rule, then on the fixtures' BTF against
// this kernel's vmlinux. Whole loads against libbpf: libbpf_crosscheck.spec.ts.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { ObjectSpec } from '../../src';
import { Btf, BtfKind } from '../../src/btf/btf';
import { typeMismatch } from '../../src/btf/kernel-symbols';
import { spellType } from '../../src/btf/spell';
import { itRequires } from '../../src/mocha';
import { btfBlob } from '../support/btf-blob';
import { CAST_TO_KERN_CTX, fixture } from './helpers';

/** Appends BTF type records (uapi linux/btf.h layout); ids count from 1 in calling order. */
class BtfBuilder {
  private records: Buffer[] = [];
  private strings: Buffer[] = [Buffer.from([0])];
  private strLen = 1;
  private next = 1;

  private add(kind: BtfKind, name: string, vlen: number, sizeOrType: number, extra: number[] = [], kindFlag = false): number {
    let nameOff = 0;
    if (name) {
      nameOff = this.strLen;
      this.strings.push(Buffer.from(name + '\0'));
      this.strLen += name.length + 1;
    }
    const r = Buffer.alloc(12 + 4 * extra.length);
    r.writeUInt32LE(nameOff, 0);
    r.writeUInt32LE(((kindFlag ? 1 << 31 : 0) | (kind << 24) | vlen) >>> 0, 4);
    r.writeUInt32LE(sizeOrType, 8);
    extra.forEach((v, i) => r.writeUInt32LE(v >>> 0, 12 + 4 * i));
    this.records.push(r);
    return this.next++;
  }

  int(name: string, size: number, bitOffset = 0): number {
    return this.add(BtfKind.Int, name, 0, size, [(bitOffset << 16) | (size * 8)]);
  }
  float(name: string, size: number): number {
    return this.add(BtfKind.Float, name, 0, size);
  }
  ptr(to: number): number {
    return this.add(BtfKind.Ptr, '', 0, to);
  }
  const(of: number): number {
    return this.add(BtfKind.Const, '', 0, of);
  }
  typedef(name: string, of: number): number {
    return this.add(BtfKind.Typedef, name, 0, of);
  }
  array(of: number, index: number, nelems: number): number {
    return this.add(BtfKind.Array, '', 0, 0, [of, index, nelems]);
  }
  struct(name: string, member: number, kind: BtfKind.Struct | BtfKind.Union = BtfKind.Struct): number {
    return this.add(kind, name, 1, 4, [this.strLen, member, 0]);
  }
  fwd(name: string): number {
    return this.add(BtfKind.Fwd, name, 0, 0);
  }
  enum(name: string, wide: boolean): number {
    return wide ? this.add(BtfKind.Enum64, name, 1, 8, [0, 1, 0]) : this.add(BtfKind.Enum, name, 1, 4, [0, 1]);
  }
  proto(ret: number, params: number[]): number {
    return this.add(BtfKind.FuncProto, '', params.length, ret, params.flatMap((p) => [0, p]));
  }
  func(name: string, proto: number): number {
    return this.add(BtfKind.Func, name, 1, proto);
  }
  variable(name: string, type: number): number {
    return this.add(BtfKind.Var, name, 0, type, [1]);
  }
  build(): Btf {
    return Btf.parse(btfBlob(Buffer.concat(this.records), Buffer.concat(this.strings)));
  }
}

describe('typed __ksym and kfunc declarations against the kernel', () => {
  describe("libbpf's rules (pure, hand-built BTF: local and kernel types in one blob)", () => {
    const b = new BtfBuilder();
    const int = b.int('int', 4);
    const u64 = b.int('unsigned long long', 8);
    const char = b.int('char', 1);
    const bitfield = b.int('int', 4, 3); // an int starting 3 bits in: an encoding libbpf rejects
    const s = b.struct('sk_buff', int);
    const other = b.struct('bpfunit_other', char);
    const sPtr = b.ptr(s);
    const chain = (n: number) => Array.from({ length: n }).reduce<number>((t) => b.ptr(t), int);
    // The kernel's.
    const k = {
      fn: b.func('kfn', b.proto(int, [sPtr, u64])), // int kfn(struct sk_buff *, u64)
      variable: b.variable('kvar', int),
      enumArg: b.func('kenum', b.proto(int, [b.ptr(b.enum('e', false))])),
      float: b.variable('kfloat', b.float('double', 8)),
      array: b.variable('karray', b.array(int, int, 4)),
      callback: b.func('kcb', b.proto(int, [b.ptr(b.proto(int, [sPtr]))])),
      ptr31: b.variable('kptr31', chain(31)),
      ptr33: b.variable('kptr33', chain(33)),
    };
    // The object's: [declaration, kernel symbol, what is different].
    const fits: [number, number, string][] = [
      [b.proto(int, [sPtr, u64]), k.fn, 'the same spelling'],
      [b.proto(b.typedef('ret_t', int), [b.const(b.ptr(b.const(other))), b.typedef('flags_t', char)]), k.fn, 'typedefs, const, another struct name, a char for a u64'],
      [b.proto(int, [b.ptr(b.enum('e64', true))]), k.enumArg, 'enum64 for enum'],
      [b.typedef('count_t', b.const(u64)), k.variable, 'a const typedef of another int size'],
      [b.array(char, int, 16), k.array, 'arrays: element kinds compared, not lengths'],
      [b.proto(int, [b.ptr(b.proto(int, [b.ptr(other)]))]), k.callback, 'a callback prototype, compared through'],
      [chain(31), k.ptr31, '31 levels of pointers'],
    ];
    const differs: [number, number, string][] = [
      [b.proto(int, [sPtr]), k.fn, 'one parameter fewer'],
      [b.proto(int, [sPtr, u64, u64]), k.fn, 'one parameter more'],
      [b.proto(int, [u64, u64]), k.fn, 'an int for a pointer'],
      [b.proto(0, [sPtr, u64]), k.fn, 'void for int'],
      [b.proto(int, [b.ptr(b.struct('sk_buff', int, BtfKind.Union)), u64]), k.fn, 'a union for a struct'],
      [b.proto(int, [b.ptr(b.fwd('sk_buff')), u64]), k.fn, 'a forward declaration for a struct'],
      [b.proto(int, [sPtr, bitfield]), k.fn, 'an int with a bit offset'],
      [b.ptr(int), k.variable, 'a pointer for an int'],
      [b.float('double', 8), k.float, 'floats (libbpf compares no FLOAT)'],
      [b.proto(int, [b.ptr(b.proto(int, [u64]))]), k.callback, "a callback's parameter"],
      [chain(33), k.ptr33, '33 levels of pointers (deeper than libbpf compares)'],
    ];
    const btf = b.build();

    for (const [local, kernel, why] of fits) {
      it(`fits: ${why}`, () => expect(typeMismatch(btf, local, btf, kernel)).to.equal(undefined));
    }
    for (const [local, kernel, why] of differs) {
      it(`does not fit: ${why}; both types spelled in C`, () => {
        expect(typeMismatch(btf, local, btf, kernel)).to.deep.equal({ local: spellType(btf, local), kernel: spellType(btf, btf.type(kernel).type!) });
      });
    }

    it('spells types as C declares them', () => {
      expect(spellType(btf, btf.type(k.fn).type!)).to.equal('int (struct sk_buff *, unsigned long long)');
      expect(spellType(btf, fits[1][0])).to.equal('ret_t (const struct bpfunit_other *const, flags_t)');
      expect(spellType(btf, btf.type(k.callback).type!)).to.equal('int (int (*)(struct sk_buff *))');
      expect(spellType(btf, btf.type(k.array).type!)).to.equal('int[4]');
      expect(spellType(btf, differs[3][0])).to.equal('void (struct sk_buff *, unsigned long long)');
      expect(spellType(btf, differs[5][0])).to.equal('int (struct sk_buff /* declared only */ *, unsigned long long)');
      expect(spellType(btf, differs[6][0])).to.equal('int (struct sk_buff *, int /* from bit 3 */)');
      expect(spellType(btf, btf.type(k.ptr33).type!), 'elided past 8 levels').to.equal('... *********');
    });
  });

  describe("the fixtures' declarations against this kernel's vmlinux BTF (pure: the file is read, no bpf())", () => {
    const vmlinux = Btf.parse(readFileSync('/sys/kernel/btf/vmlinux'));
    /** What the fixture declares `name` as, against the kernel's FUNC or VAR of that name. */
    const compare = (fx: string, name: string) => {
      const spec = ObjectSpec.fromFile(fixture(fx));
      const ref = spec.programs.flatMap((p) => p.instructions).find((i) => i.ksym?.name === name)!.ksym!;
      const kernel = vmlinux.find(ref.kind === 'kfunc' ? BtfKind.Func : BtfKind.Var, name);
      expect(kernel, `${name} in vmlinux BTF`).to.not.equal(undefined);
      return typeMismatch(spec.btf!, ref.type!, vmlinux, kernel!.id);
    };
    const kfuncs: [string, string, { local: string; kernel: string } | undefined][] = [
      ['ext_kfunc_compat', 'bpf_cast_to_kern_ctx', undefined], // typedef'd return, const pointee
      ['ext_kfunc_compat', 'bpf_rdonly_cast', undefined], // a u64 for a u32
      ['ext_ksym', 'bpf_cast_to_kern_ctx', undefined],
      ['ext_kfunc_arity', 'bpf_cast_to_kern_ctx', { local: 'void *(void *, __u64)', kernel: 'void *(void *)' }],
      ['ext_kfunc_scalar', 'bpf_cast_to_kern_ctx', { local: 'void *(long)', kernel: 'void *(void *)' }],
      ['ext_kfunc_weak_wrong', 'bpf_cast_to_kern_ctx', { local: 'void (void *)', kernel: 'void *(void *)' }],
    ];
    for (const [fx, name, expected] of kfuncs) {
      itRequires(CAST_TO_KERN_CTX, `${fx}: ${name} ${expected ? `is declared \`${expected.local}\`` : 'fits'}`, {
        met: () => expect(compare(fx, name)).to.deep.equal(expected),
        unmet: () => expect(vmlinux.find(BtfKind.Func, name)).to.equal(undefined),
      });
    }

    it('bpf_prog_active: a const typedef of int fits; a pointer does not', () => {
      expect(compare('ext_ksym_compat', 'bpf_prog_active')).to.equal(undefined);
      expect(compare('ext_ksym_typed', 'bpf_prog_active')).to.equal(undefined);
      expect(compare('ext_ksym_wrong_type', 'bpf_prog_active')).to.deep.equal({ local: 'const int *', kernel: 'int' });
    });
  });
});
