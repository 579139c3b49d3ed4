// Failures belong to programs, not objects: a program that needs something bpfunit cannot load
// (a section of no known type, a broken function; unresolved externs in kconfig.spec.ts and
// ksym.spec.ts) fails with a typed error naming it when it is asked for, and every other program
// of the same object still loads.
// libbpf's view of the same object is in libbpf_crosscheck.spec.ts.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { Collection, InputError, LinkError, ObjectSpec } from '../../src';
import { itRequires } from '../../src/mocha';
import { CAST_TO_KERN_CTX, expectThrow, fixture } from './helpers';

/** What each program of ext_mixed.c needs that bpfunit refuses, as its message must name it. */
const REFUSED: Record<string, [typeof InputError, RegExp]> = {
  mixed_unknown: [InputError, /mixed_unknown: section 'mixed\/unknown' names no known program type/],
};

/** Offset and entry count of .symtab, and the string table it names, read here without src/elf. */
function symtab(buf: Buffer): { at: number; count: number; strAt: number } {
  const shoff = Number(buf.readBigUInt64LE(40));
  const shnum = buf.readUInt16LE(60);
  for (let i = 0; i < shnum; i++) {
    const h = shoff + i * 64;
    if (buf.readUInt32LE(h + 4) !== 2 /* SHT_SYMTAB */) continue;
    const link = buf.readUInt32LE(h + 40);
    return {
      at: Number(buf.readBigUInt64LE(h + 24)),
      count: Number(buf.readBigUInt64LE(h + 32)) / 24,
      strAt: Number(buf.readBigUInt64LE(shoff + link * 64 + 24)),
    };
  }
  throw new Error('no .symtab');
}

describe('per-program failures (ext_mixed)', () => {
  let spec: ObjectSpec;
  before(() => {
    spec = ObjectSpec.fromFile(fixture('ext_mixed'));
  });

  it('parses the object and records, per program, why it cannot load', () => {
    expect(spec.programs.map((p) => [p.name, p.error?.constructor.name ?? null])).to.deep.equal([
      ['mixed_plain', null],
      ['mixed_kconfig', null], // a kconfig extern: supported
      ['mixed_ksym', null], // __ksym and kfunc: supported
      ['mixed_kfunc', null],
      ['mixed_loop', null], // a callback: supported
      ['mixed_unknown', null], // its section is only a problem when it is loaded
    ]);
  });

  for (const [name, [cls, re]] of Object.entries(REFUSED)) {
    it(`asking for ${name} throws ${cls.name} naming what it needs`, () => {
      expectThrow(() => Collection.load(spec, { programs: [name] }), cls, re);
      expectThrow(() => Collection.load(spec, { programs: ['mixed_plain', name] }), cls, re);
    });
  }

  // Where the kernel lacks mixed_kfunc's kfunc (6.1), that program is refused too, and first.
  itRequires(CAST_TO_KERN_CTX, 'loading the whole object fails on the first refused program: nothing is skipped silently', {
    met: () => expectThrow(() => Collection.load(spec), InputError, /mixed_unknown/),
    unmet: () => expectThrow(() => Collection.load(spec), LinkError, /mixed_kfunc: the kfunc \(in (vmlinux )?BTF\) 'bpf_cast_to_kern_ctx' does not exist/),
  });

  const othersRun = (externUsers: string[]) => {
    const coll = Collection.load(spec, { programs: ['mixed_plain', ...externUsers, 'mixed_loop'] });
    try {
      // XDP_PASS + 10 * runs: the map counts across runs.
      expect(coll.program('mixed_plain').run({ data: Buffer.alloc(14) }).retval).to.equal(12);
      expect(coll.program('mixed_plain').run({ data: Buffer.alloc(14) }).retval).to.equal(22);
      // kernel > 5.0; a kernel address has bit 63 set; the kfunc gives the xdp_buff: all XDP_PASS
      for (const p of externUsers) expect(coll.program(p).run({ data: Buffer.alloc(14) }).retval, p).to.equal(2);
      expect(coll.program('mixed_loop').run({ data: Buffer.alloc(14) }).retval).to.equal(6); // 0 + 1 + 2 + 3
      expect([...coll.programs.keys()]).to.deep.equal(['mixed_plain', ...externUsers, 'mixed_loop']);
    } finally {
      coll.close();
    }
  };

  itRequires(CAST_TO_KERN_CTX, 'the others load and run next to them: the object BTF carries the externs as the kernel accepts them', {
    met: () => othersRun(['mixed_kconfig', 'mixed_ksym', 'mixed_kfunc']),
    unmet: () => {
      expectThrow(() => Collection.load(spec, { programs: ['mixed_kfunc'] }), LinkError, /'bpf_cast_to_kern_ctx' does not exist on this kernel/);
      othersRun(['mixed_kconfig', 'mixed_ksym']);
    },
  });

  it('a function with a bad size fails only its own program', () => {
    const buf = Buffer.from(readFileSync(fixture('ext_mixed')));
    const { at, count, strAt } = symtab(buf);
    let patched = false;
    for (let i = 0; i < count; i++) {
      const e = at + i * 24;
      const n = strAt + buf.readUInt32LE(e);
      if (buf.toString('latin1', n, buf.indexOf(0, n)) !== 'mixed_unknown') continue;
      buf.writeBigUInt64LE(12n, e + 16); // st_size: not a whole number of instructions
      patched = true;
    }
    expect(patched).to.equal(true);
    const broken = ObjectSpec.parse(buf, 'patched');
    expectThrow(() => Collection.load(broken, { programs: ['mixed_unknown'] }), LinkError, /function mixed_unknown has a bad address or size/);
    const coll = Collection.load(broken, { programs: ['mixed_plain'] });
    try {
      expect(coll.program('mixed_plain').run({ data: Buffer.alloc(14) }).retval).to.equal(12);
    } finally {
      coll.close();
    }
  });
});
