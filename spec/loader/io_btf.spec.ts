// A BTF the kernel rejects with a log longer than any fixed buffer: bpfunit grows the log until
// the kernel's answer is no longer ENOSPC, and reports the real errno and the kernel's reason.
import { expect } from 'chai';
import { Collection, ObjectSpec, SyscallError } from '../../src';
import { expectThrow, fixture } from './helpers';
import { btfBlob } from '../support/btf-blob';

const BTF_KIND_INT = 1;
const EINVAL = 22;

/** A .BTF blob of `count` valid 32-bit INTs, then one INT claiming 64 bits in 4 bytes. The
 * kernel logs a line of about 70 bytes per type, so 40,000 of them need well over 1 MiB of log. */
function btfWithBadLastInt(count: number): Buffer {
  const strings = Buffer.from('\0int\0', 'latin1');
  const types = Buffer.alloc((count + 1) * 16);
  for (let i = 0; i <= count; i++) {
    types.writeUInt32LE(1, i * 16); // name_off: "int"
    types.writeUInt32LE(BTF_KIND_INT << 24, i * 16 + 4);
    types.writeUInt32LE(4, i * 16 + 8); // size
    types.writeUInt32LE(i === count ? 64 : 32, i * 16 + 12); // nr_bits, offset 0, no encoding
  }
  return btfBlob(types, strings);
}

describe('BTF the kernel rejects with a long log (io_btf)', () => {
  it('reports EINVAL and the kernel\'s reason for type 40001, not ENOSPC', () => {
    const real = ObjectSpec.fromFile(fixture('io_runs'));
    const spec = Object.create(real, { btfForKernel: { value: () => btfWithBadLastInt(40000) } }) as ObjectSpec;
    const err = expectThrow(() => Collection.load(spec), SyscallError);
    expect([err.command, err.errno]).to.deep.equal(['BPF_BTF_LOAD', EINVAL]);
    expect(err.message).to.match(/\[40001\] INT int size=4 bits_offset=0 nr_bits=64 .*nr_bits exceeds type_size/);
  });
});
