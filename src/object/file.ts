// Reading an object file from disk, bounded: only a regular file is read, and only up to a size
// no BPF object comes near, so a device (/dev/zero), a FIFO or a huge sparse file ends in an
// InputError instead of a read that never ends or exhausts memory.
import { closeSync, constants, fstatSync, openSync, readSync, Stats } from 'node:fs';
import { InputError } from '../errors';

/** The largest object fromFile reads. clang's BPF objects are kilobytes to a few megabytes. */
export const MAX_OBJECT_BYTES = 256 << 20;

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

export function readObjectFile(path: string): Buffer {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw new InputError(`cannot read ${path}: ${(e as Error).message}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new InputError(`cannot read ${path}: it is ${kindOf(st)}, not a regular file`);
    if (st.size > MAX_OBJECT_BYTES) {
      throw new InputError(`cannot read ${path}: it is ${st.size} bytes, more than the ${MAX_OBJECT_BYTES} bytes (${MAX_OBJECT_BYTES >> 20} MiB) bpfunit reads as an object`);
    }
    // The size fstat gave bounds the read: a file that grows meanwhile is read as it was.
    const buf = Buffer.alloc(st.size);
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, got);
      if (n === 0) break;
      got += n;
    }
    return got === buf.length ? buf : buf.subarray(0, got);
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`cannot read ${path}: ${(e as Error).message}`);
  } finally {
    closeSync(fd);
  }
}
