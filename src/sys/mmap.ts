// Memory shared with the kernel: an mmapable BPF map's values, seen as a Buffer over the mapping
// itself, so reading and writing them is a memory access rather than a bpf() call.
import { SyscallError } from '../errors';
import { bufferAt, mmapRaw, munmapRaw, pageSize } from './ffi';

const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_SHARED = 1;

export interface Mapping {
  /** The mapped memory; touching it after unmap() crashes the process, so never hand it out. */
  readonly memory: Buffer;
  readonly addr: bigint;
  readonly length: number;
}

/** Maps the values of the mmapable map behind `fd` (`bytes` of them, rounded up to pages). */
export function mapShared(fd: number, bytes: number, writable: boolean, what: string): Mapping {
  const length = Math.ceil(bytes / pageSize) * pageSize;
  const r = mmapRaw(length, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd);
  if (r.errno) throw new SyscallError('mmap', r.errno, what);
  try {
    return { memory: bufferAt(r.addr, length), addr: r.addr, length };
  } catch (e) {
    munmapRaw(r.addr, length);
    throw e;
  }
}

export function unmap(m: Mapping): void {
  const errno = munmapRaw(m.addr, m.length);
  if (errno) throw new SyscallError('munmap', errno, `${m.length} bytes at 0x${m.addr.toString(16)}`);
}
