// NulIndex finds the end of a string in an ELF or BTF string table without scanning the whole
// NUL-free run after each offset (which made many names pointing into one long run quadratic).
// Checked against Buffer.indexOf on tables with runs shorter and longer than its 4 KiB blocks.
import { expect } from 'chai';
import { NulIndex } from '../../src/elf/strings';
import { Prng } from '../../fuzz/fuzzer';

describe('NulIndex: the end of each string in a string table', () => {
  it('agrees with indexOf at every offset of tables with short, block-long and longer runs', () => {
    const rng = new Prng(99);
    for (const [len, nulEvery] of [[10, 3], [5000, 4096], [20000, 9000], [13000, 0], [4096, 4095], [12289, 4096]] as const) {
      const buf = Buffer.alloc(len, 0x41);
      if (nulEvery) for (let at = nulEvery - 1; at < len; at += nulEvery) buf[at] = 0;
      for (let k = 0; k < 3 && nulEvery; k++) buf[rng.below(len)] = 0;
      const idx = new NulIndex(buf);
      for (let offset = 0; offset < len; offset++) {
        const want = buf.indexOf(0, offset);
        if (idx.end(offset) !== want) expect(idx.end(offset), `table of ${len}, offset ${offset}`).to.equal(want);
      }
    }
  });

  it('a table with no NUL gives -1 everywhere, and a NUL in its last byte ends every string', () => {
    const none = new NulIndex(Buffer.alloc(10000, 0x61));
    expect([0, 4095, 4096, 9999].map((o) => none.end(o))).to.deep.equal([-1, -1, -1, -1]);
    const last = Buffer.alloc(10000, 0x61);
    last[9999] = 0;
    const idx = new NulIndex(last);
    expect([0, 4095, 4096, 8192, 9999].map((o) => idx.end(o))).to.deep.equal([9999, 9999, 9999, 9999, 9999]);
  });
});
