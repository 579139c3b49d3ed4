// Finding where a NUL-terminated string ends in a string table, in time that does not depend on
// how long the unterminated run after the offset is: ELF and BTF string tables are indexed by
// offset, any offset may be asked, and scanning to the next NUL for each of many offsets into one
// long NUL-free run would make parsing quadratic in the object's size.

const BLOCK = 4096;

export class NulIndex {
  /** First NUL at or after the start of each block (-1: none), built on the first long scan. */
  private firstNul?: Int32Array;

  constructor(private readonly buf: Buffer) {}

  /** Offset of the first NUL at or after `offset` (< buf.length), or -1 when there is none. */
  end(offset: number): number {
    const blockEnd = Math.min(this.buf.length, (Math.floor(offset / BLOCK) + 1) * BLOCK);
    const near = this.buf.subarray(offset, blockEnd).indexOf(0);
    if (near >= 0) return offset + near;
    if (blockEnd >= this.buf.length) return -1;
    return this.index()[blockEnd / BLOCK];
  }

  private index(): Int32Array {
    if (this.firstNul) return this.firstNul;
    const blocks = Math.ceil(this.buf.length / BLOCK);
    const idx = new Int32Array(blocks).fill(-1);
    let next = -1;
    for (let b = blocks - 1; b >= 0; b--) {
      const at = this.buf.subarray(b * BLOCK, Math.min(this.buf.length, (b + 1) * BLOCK)).indexOf(0);
      if (at >= 0) next = b * BLOCK + at;
      idx[b] = next;
    }
    this.firstNul = idx;
    return idx;
  }
}
