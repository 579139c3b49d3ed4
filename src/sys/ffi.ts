// The only module that talks to native code. Everything crosses through libc's syscall(),
// with the caller's Buffer passed as memory the kernel reads and writes in place.
import { open, define, DataType } from 'ffi-rs';
import { arch } from 'node:os';

const SYS_BPF: Record<string, number> = { x64: 321, arm64: 280 };
const SYS_CLOSE: Record<string, number> = { x64: 3, arm64: 57 };

const sysBpf = SYS_BPF[arch()];
const sysClose = SYS_CLOSE[arch()];
if (sysBpf === undefined || sysClose === undefined) {
  throw new Error(`bpfunit: unsupported architecture ${arch()}`);
}

open({ library: 'libc', path: '' });

const libc = define({
  syscall: {
    library: 'libc',
    retType: DataType.I64,
    paramsType: [DataType.I64, DataType.I64, DataType.U8Array, DataType.I64],
    errno: true,
  },
  // memset(buf, 0, 0) changes nothing and returns the address of buf's memory.
  memset: {
    library: 'libc',
    retType: DataType.BigInt,
    paramsType: [DataType.U8Array, DataType.I32, DataType.I64],
  },
}) as unknown as {
  syscall(args: [number, number, Buffer, number]): { value: number; errnoCode: number };
  memset(args: [Buffer, number, number]): bigint;
};

export interface RawResult {
  value: number;
  errno: number;
}

/** bpf(cmd, attr, size): one FFI crossing. The attr Buffer stays referenced by the caller. */
export function bpfSyscall(cmd: number, attr: Buffer, size: number): RawResult {
  const r = libc.syscall([sysBpf, cmd, attr, size]);
  return { value: r.value, errno: r.value < 0 ? r.errnoCode : 0 };
}

/** The address of a Buffer's memory. Node never moves an ArrayBuffer's backing store, so the
 * address stays valid for as long as the Buffer is referenced. */
export function addressOf(buf: Buffer): bigint {
  return libc.memset([buf, 0, 0]);
}

const noAttr = Buffer.alloc(8);

/** close(fd), through syscall() so that no second native signature is needed. */
export function closeFd(fd: number): void {
  // syscall(SYS_close, fd, <ignored>, 0): the third argument is an unused register here.
  libc.syscall([sysClose, fd, noAttr, 0]);
}
