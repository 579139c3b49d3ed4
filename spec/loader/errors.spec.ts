// Every way loading or running can fail ends in one of bpfunit's typed errors, with a message that
// names what went wrong: malformed files, unknown sections, verifier rejections, bad run input,
// closed handles, unknown names and missing privileges.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import {
  BtfError, BpfUnitError, Collection, ElfError, InputError, LinkError, ObjectSpec, PermissionError, VerifierError,
} from '../../src';
import { expectThrow, fixture, fixtureSource, markerLine, ROOT, worldReadableCopy } from './helpers';

const EACCES = 13;

/** Section header fields of a 64-bit ELF, read here so the spec does not rely on src/elf. */
function sectionHeaders(buf: Buffer): { name: string; at: number; size: number }[] {
  const shoff = Number(buf.readBigUInt64LE(40));
  const shnum = buf.readUInt16LE(60);
  const strAt = Number(buf.readBigUInt64LE(shoff + buf.readUInt16LE(62) * 64 + 24));
  return Array.from({ length: shnum }, (_, i) => {
    const at = shoff + i * 64;
    const n = strAt + buf.readUInt32LE(at);
    return { name: buf.toString('latin1', n, buf.indexOf(0, n)), at, size: Number(buf.readBigUInt64LE(at + 32)) };
  });
}

describe('errors', () => {
  describe('malformed objects', () => {
    it('rejects bytes that are not an ELF object with ElfError', () => {
      expectThrow(() => ObjectSpec.parse(Buffer.from('this is not an ELF object, just some text padding it out'.repeat(2)), 'text'), ElfError, /bad magic/);
      expectThrow(() => ObjectSpec.parse(Buffer.alloc(10), 'tiny'), ElfError, /shorter than an ELF header/);
    });

    it('rejects an ELF for another machine (/bin/true) with ElfError naming e_machine', () => {
      const err = expectThrow(() => ObjectSpec.fromFile('/bin/true'), ElfError, /e_machine/);
      expect(err.message).to.match(/EM_BPF/);
    });

    it('reports a missing file as InputError', () => {
      expectThrow(() => ObjectSpec.fromFile('/nonexistent/x.o'), InputError, /cannot read \/nonexistent\/x.o/);
    });

    it('a fixture cut at any length gives ElfError, never another exception', () => {
      for (const name of ['loader_data', 'loader_maps']) {
        const buf = readFileSync(fixture(name));
        const lengths = [...Array(Math.ceil(buf.length / 97)).keys()].map((k) => k * 97).concat([63, 64, 65, buf.length - 1]);
        for (const n of lengths) expectThrow(() => ObjectSpec.parse(buf.subarray(0, n), name), ElfError);
      }
    });

    it('a section cut short in its header gives BtfError (.BTF, .BTF.ext), LinkError (code) or ElfError (.symtab)', () => {
      const buf = readFileSync(fixture('loader_maps'));
      const expected: Record<string, typeof BpfUnitError> = { '.BTF': BtfError, '.BTF.ext': BtfError, xdp: LinkError, 'cgroup_skb/ingress': LinkError, '.symtab': ElfError };
      const headers = sectionHeaders(buf);
      for (const [name, cls] of Object.entries(expected)) {
        const h = headers.find((s) => s.name === name)!;
        expect(h, name).to.not.equal(undefined);
        for (const frac of [0.1, 0.5, 0.9]) {
          const cut = Buffer.from(buf);
          cut.writeBigUInt64LE(BigInt(Math.floor((h.size * frac) / 8) * 8 + 4), h.at + 32); // never a whole record
          const err = expectThrow(() => ObjectSpec.parse(cut, 'cut'), BpfUnitError);
          expect(err, `${name} cut to ${frac}: ${err.message}`).to.be.instanceOf(cls);
        }
      }
    });
  });

  describe('unknown section', () => {
    it('parses the program but refuses to load it with InputError naming the section', () => {
      const spec = ObjectSpec.fromFile(fixture('loader_unknown'));
      expect(spec.program('mystery_prog').kind).to.equal(undefined);
      expectThrow(() => Collection.load(spec), InputError, /mystery_prog: section 'bogus\/section' names no known program type/);
      expectThrow(() => Collection.load(spec, { programs: ['mystery_prog'] }), InputError, /'bogus\/section'/);
    });

    it('loads the valid program next to it', () => {
      const coll = Collection.load(ObjectSpec.fromFile(fixture('loader_unknown')), { programs: ['known_xdp'] });
      try {
        expect(coll.program('known_xdp').run({ data: Buffer.alloc(14) }).retval).to.equal(2); // XDP_PASS
      } finally {
        coll.close();
      }
    });
  });

  describe('verifier rejection (loader_invalid)', () => {
    let spec: ObjectSpec;
    let line: number;

    before(() => {
      spec = ObjectSpec.fromFile(fixture('loader_invalid'));
      line = markerLine(fixtureSource('loader_invalid'), 'VERIFIER-REJECTS-THIS-LINE');
    });

    // The C line comes from the object's line_info, so it is named on kernels whose log has no
    // ' @ file:line' (6.1) too.
    it('loading every program throws VerifierError naming bad_xdp and the C line of the unchecked read', () => {
      const err = expectThrow(() => Collection.load(spec), VerifierError);
      expect(err.program).to.equal('bad_xdp');
      expect(err.errno).to.equal(EACCES);
      expect(err.summary).to.include(`loader_invalid.c:${line}`);
      expect(err.summary).to.include('return data[20];');
      expect(err.sourceLine).to.deep.include({ line, text: 'return data[20]; /* VERIFIER-REJECTS-THIS-LINE */' });
      expect(err.sourceLine!.file).to.match(/(^|\/)loader_invalid\.c$/);
      expect(err.message).to.match(/^verifier rejected bad_xdp \(EACCES\): /);
      expect(err.log).to.match(/invalid access to packet/);
      expect(err.log.length).to.be.greaterThan(100);
    });

    it('loading only the valid program works', () => {
      const coll = Collection.load(spec, { programs: ['good_xdp'] });
      try {
        const r = coll.program('good_xdp').run({ data: Buffer.from('0102030405060708090a0b0c0d0e', 'hex') });
        expect([r.retval, r.data.toString('hex')]).to.deep.equal([3, '0708090a0b0c0102030405060d0e']);
      } finally {
        coll.close();
      }
    });
  });

  describe('run input', () => {
    let coll: Collection;
    before(() => {
      coll = Collection.load(ObjectSpec.fromFile(fixture('loader_invalid')), { programs: ['good_xdp'] });
    });
    after(() => coll?.close());

    it('refuses XDP data shorter than an Ethernet header (4 bytes, none) with InputError', () => {
      expectThrow(() => coll.program('good_xdp').run({ data: Buffer.alloc(4) }), InputError, /at least 14 bytes .* got 4/);
      expectThrow(() => coll.program('good_xdp').run({}), InputError, /got 0/);
    });

    it('refuses a context longer than xdp_md (24 bytes) before the kernel sees it', () => {
      expectThrow(() => coll.program('good_xdp').run({ data: Buffer.alloc(14), ctx: Buffer.alloc(25, 1) }), InputError, /good_xdp: a XDP context \(struct xdp_md\) is 24 bytes, got 25/);
    });

    it('reports a context shorter than xdp_md (24 bytes) as a context problem, not a data one', () => {
      const err = expectThrow(() => coll.program('good_xdp').run({ data: Buffer.alloc(14), ctx: Buffer.alloc(3) }), InputError);
      expect(err.message).to.match(/context|ctx/i);
      expect(err.message).to.not.match(/dataOutSize/);
    });

    it('reports an output packet larger than dataOutSize as InputError', () => {
      expectThrow(() => coll.program('good_xdp').run({ data: Buffer.alloc(64), dataOutSize: 16 }), InputError, /larger than dataOutSize 16/);
    });
  });

  describe('closed collection', () => {
    it('refuses to run programs and touch maps after close(), and close() is idempotent', () => {
      const coll = Collection.load(ObjectSpec.fromFile(fixture('loader_maps')));
      const prog = coll.program('maps_main');
      const map = coll.map('hmap');
      coll.close();
      coll.close();
      expect([prog.closed, map.closed]).to.deep.equal([true, true]);
      expectThrow(() => prog.run({ data: Buffer.alloc(14) }), InputError, /maps_main is closed/);
      expectThrow(() => map.lookup(Buffer.alloc(4)), InputError, /hmap is closed/);
      expectThrow(() => map.update(Buffer.alloc(4), Buffer.alloc(8)), InputError, /hmap is closed/);
      expectThrow(() => [...map.keys()], InputError, /hmap is closed/);
    });
  });

  describe('unknown names', () => {
    it('lists the programs and maps that exist', () => {
      const spec = ObjectSpec.fromFile(fixture('loader_maps'));
      expectThrow(() => spec.program('nope'), InputError, /no program named 'nope' in loader_maps.o \(it has: maps_main, tail_target, sk_count\)/);
      const noMap = expectThrow(() => spec.map('nope'), InputError, /no map named 'nope' in loader_maps.o \(it has: /);
      for (const m of ['hmap', 'amap', 'pcpu', 'lru', 'jmp', 'sks', 'rb']) expect(noMap.message).to.include(m);
      expectThrow(() => Collection.load(spec, { programs: ['maps_main', 'nope'] }), InputError, /no program named 'nope'/);
      const coll = Collection.load(spec, { programs: ['tail_target'] });
      try {
        const noLoaded = expectThrow(() => coll.map('nope'), InputError, /no map named 'nope' \(maps: /);
        for (const m of ['hmap', 'amap', 'pcpu', 'lru', 'jmp', 'sks', 'rb']) expect(noLoaded.message).to.include(m);
        expectThrow(() => coll.program('maps_main'), InputError, /'maps_main' is not loaded \(loaded: tail_target\)/);
      } finally {
        coll.close();
      }
    });
  });

  describe('missing privileges', () => {
    it('an unprivileged process (nobody, no capabilities) gets PermissionError mentioning CAP_BPF', function () {
      this.timeout(120_000); // a child transpiling src/ as nobody (no cache): about 18 s on a loaded machine
      // The child runs as nobody: the project must be readable by it; the object is copied to a
      // world-readable temporary file.
      expect(statSync(ROOT).mode & 0o005, `${ROOT} must be readable and searchable by nobody`).to.equal(0o005);
      const obj = worldReadableCopy(fixture('loader_calls'));
      const script = `
        const { ObjectSpec, Collection, PermissionError } = require('./src');
        try {
          Collection.load(ObjectSpec.fromFile(${JSON.stringify(obj)})).close();
          console.log(JSON.stringify({ loaded: true }));
        } catch (e) {
          console.log(JSON.stringify({ permission: e instanceof PermissionError, name: e.name, code: e.code, message: e.message }));
        }`;
      const r = spawnSync(
        'setpriv',
        ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', process.execPath, '-r', 'ts-node/register', '-e', script],
        { cwd: ROOT, encoding: 'utf8', env: { ...process.env, HOME: '/nonexistent' } },
      );
      expect(r.status, r.stderr).to.equal(0);
      const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
      expect(out.permission, JSON.stringify(out)).to.equal(true);
      expect(out.name).to.equal(PermissionError.name);
      expect(out.code).to.equal('EPERM');
      expect(out.message).to.include('CAP_BPF');
    });
  });
});
