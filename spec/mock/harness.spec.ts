import { expect } from 'chai';
import { InputError } from '../../src';
import { useHarness } from '../../src/mock/harness';

const OBJ = 'build/fixtures/harness_globals.o';
const PACKET = { data: Buffer.alloc(64) };
const XDP_PASS = 2;
const XDP_DROP = 1;

describe('Harness (globals through BTF, state reset per test)', () => {
  const h = useHarness(OBJ);

  it('reads globals with the values they were compiled with', () => {
    expect(h().get('cfg')).to.deep.equal({ cookie: 7n, delta: 0, flags: 0, ip4: 0, ip6: [0, 0, 0, 0], tag: '' });
    expect(h().get('call_count')).to.equal(0);
    expect(h().get('calls')).to.deep.equal([{ a: 0, b: 0 }, { a: 0, b: 0 }, { a: 0, b: 0 }, { a: 0, b: 0 }]);
  });

  it('writes only the fields given, and the program sees them', () => {
    h().set('cfg', { delta: -3, flags: 5, ip6: [0, 0, 0, 0xdeadbeef], tag: 'x' });
    const r = h().run('record', PACKET);
    expect(r.retval).to.equal(XDP_DROP);
    expect(h().get('cfg')).to.include({ cookie: 7n, delta: -3, flags: 5, tag: 'x' });
    expect(h().get('calls')).to.deep.equal([{ a: 0xdeadbeef, b: 2 }, { a: 0, b: 0 }, { a: 0, b: 0 }, { a: 0, b: 0 }]);
    expect(h().get('last_sum')).to.equal(4n);
    expect(h().map('seen').lookup(Buffer.alloc(4))?.readBigUInt64LE(0)).to.equal(7n);
  });

  it('starts every test from the loaded state (globals and maps)', () => {
    expect(h().get('call_count')).to.equal(0);
    expect([...h().map('seen').keys()]).to.have.length(0);
    expect(h().run('record', PACKET).retval).to.equal(XDP_PASS);
    expect(h().run('record', PACKET).retval).to.equal(XDP_PASS);
    expect(h().get('call_count')).to.equal(2);
    expect(h().map('seen').entries().map(([k]) => k.readUInt32LE(0)).sort()).to.deep.equal([0, 1]);
  });

  it('anonymous union members are addressed as fields of the struct', () => {
    h().set('cfg', { ip4: 0x0101a8c0 });
    expect((h().get('cfg') as { ip6: number[] }).ip6[0]).to.equal(0x0101a8c0);
  });

  it('rejects unknown globals, unknown fields and values that do not fit', () => {
    expect(() => h().get('nope')).to.throw(InputError, /no global named 'nope' in harness_globals.o \(globals: /);
    expect(() => h().set('cfg', { colour: 1 })).to.throw(InputError, /no field 'colour'/);
    expect(() => h().set('cfg', { flags: 256 })).to.throw(InputError, /cfg.flags: 256 is out of range \(unsigned char holds 0..255\)/);
    expect(() => h().set('cfg', { tag: 'too-long-tag' })).to.throw(InputError, /does not fit in char\[8\]/);
    expect(() => h().set('calls', [{}, {}, {}, {}, {}])).to.throw(InputError, /5 elements do not fit in \[4\]/);
  });
});
