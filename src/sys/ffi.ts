// The only module that talks to native code. Everything crosses through libc's syscall(),
// with the address of the caller's Buffer passed as memory the kernel reads and writes in place.
import { open, define, load, DataType, createExternalBuffer, createPointer, freePointer, unwrapPointer, PointerType } from 'ffi-rs';
import { arch } from 'node:os';

const SYS_BPF: Record<string, number> = { x64: 321, arm64: 280 };
const SYS_CLOSE: Record<string, number> = { x64: 3, arm64: 57 };

const sysBpf = SYS_BPF[arch()];
const sysClose = SYS_CLOSE[arch()];
if (sysBpf === undefined || sysClose === undefined) {
  throw new Error(`bpfunit: unsupported architecture ${arch()}`);
}

open({ library: 'libc', path: '' });

// syscall(nr, a, b, c) with errno, as one options object reused for every call: ffi-rs's define()
// builds a fresh one per call (an object spread), a measurable share of each crossing (bench/).
// The third argument is an address as a plain integer: the cheapest form of an ffi-rs call
// (about a quarter less per crossing than passing the Buffer itself, measured in bench/).
const SYSCALL_PARAMS = [DataType.I64, DataType.I64, DataType.I64, DataType.I64];
const syscallCall = { library: 'libc', funcName: 'syscall', retType: DataType.I64, paramsType: SYSCALL_PARAMS, paramsValue: [0, 0, 0, 0], errno: true };
// The same without errno (whose message ffi-rs formats on every call), for close().
const syscallNoErrno = { library: 'libc', funcName: 'syscall', retType: DataType.I64, paramsType: SYSCALL_PARAMS, paramsValue: [0, 0, 0, 0] };

function syscall(nr: number, a: number, b: number, c: number): { value: number; errnoCode: number } {
  syscallCall.paramsValue = [nr, a, b, c];
  return load(syscallCall) as unknown as { value: number; errnoCode: number };
}

const libc = define({
  // memset(buf, 0, 0) changes nothing and returns the address of buf's memory.
  memset: {
    library: 'libc',
    retType: DataType.BigInt,
    paramsType: [DataType.U8Array, DataType.I32, DataType.I64],
  },
}) as unknown as {
  memset(args: [Buffer, number, number]): bigint;
};

export interface RawResult {
  value: number;
  errno: number;
}

/** bpf() calls made by this process, per command: always counted, so a bench or a spec can tell
 * what a test costs in kernel crossings without timing anything. */
const bpfCalls = new Float64Array(64);

/** How many bpf() calls this process has made: of command `cmd`, or of every command. */
export function bpfCallCount(cmd?: number): number {
  if (cmd !== undefined) return bpfCalls[cmd] ?? 0;
  let n = 0;
  for (const c of bpfCalls) n += c;
  return n;
}

/** The attr Buffer of the last call and its address (callers pass the same scratch buffer). */
let lastAttr: Buffer | undefined;
let lastAddress = 0;

/** bpf(cmd, attr, size): one FFI crossing. The attr Buffer stays referenced by the caller (and
 * here), so its memory stays where the address says. */
export function bpfSyscall(cmd: number, attr: Buffer, size: number): RawResult {
  bpfCalls[cmd & 63]++;
  if (attr !== lastAttr) {
    lastAddress = Number(addressOf(attr));
    lastAttr = attr;
  }
  const r = syscall(sysBpf, cmd, lastAddress, size);
  return { value: r.value, errno: r.value < 0 ? r.errnoCode : 0 };
}

/** The address of a Buffer's memory. Node never moves an ArrayBuffer's backing store, so the
 * address stays valid for as long as the Buffer is referenced. */
export function addressOf(buf: Buffer): bigint {
  return libc.memset([buf, 0, 0]);
}

/** close(fd), through syscall() so that no second native signature is needed. */
export function closeFd(fd: number): void {
  // syscall(SYS_close, fd, <ignored>, 0): the third argument is an unused register here.
  syscallNoErrno.paramsValue = [sysClose, fd, 0, 0];
  load(syscallNoErrno);
}

// Signals are held while the kernel verifies a program: the verifier gives up with EAGAIN whenever
// one is pending, so a profiler's SIGPROF (node --cpu-prof samples every millisecond) failed every
// program whose verification takes longer, and retrying does not help. Held signals are delivered
// when the mask is restored; SIGKILL and SIGSTOP cannot be held.
const SIG_BLOCK = 0;
const SIG_SETMASK = 2;
const sigsets = Buffer.alloc(16).fill(0xff, 0, 8); // [0, 8): every signal; [8, 16): the mask before
let sigsetsAddress = 0;
const sigmaskCall = { library: 'libc', funcName: 'pthread_sigmask', retType: DataType.I32, paramsType: [DataType.I32, DataType.I64, DataType.I64], paramsValue: [0, 0, 0] };
let holding = false;

/** Runs fn with every signal held on this thread (one crossing before, one after). */
export function withSignalsHeld<T>(fn: () => T): T {
  if (holding) return fn();
  sigsetsAddress ||= Number(addressOf(sigsets));
  sigmaskCall.paramsValue = [SIG_BLOCK, sigsetsAddress, sigsetsAddress + 8];
  load(sigmaskCall);
  holding = true;
  try {
    return fn();
  } finally {
    holding = false;
    sigmaskCall.paramsValue = [SIG_SETMASK, sigsetsAddress + 8, 0];
    load(sigmaskCall);
  }
}

// mmap(2) and munmap(2), for data sections shared with the kernel. mmap's result is taken as a
// number (so MAP_FAILED can be told apart) and then turned into the pointer ffi-rs wraps into a
// Buffer over the mapped memory itself (createExternalBuffer: no copy, no free on GC).
const mmapParams = [DataType.BigInt, DataType.I64, DataType.I32, DataType.I32, DataType.I32, DataType.I64];
const mem = define({
  munmap: { library: 'libc', retType: DataType.I32, paramsType: [DataType.BigInt, DataType.I64], errno: true },
  sysconf: { library: 'libc', retType: DataType.I64, paramsType: [DataType.I32] },
}) as unknown as {
  munmap(args: [bigint, number]): { value: number; errnoCode: number };
  sysconf(args: [number]): number;
};

const SC_PAGESIZE = 30;
export const pageSize: number = mem.sysconf([SC_PAGESIZE]);

/** mmap(NULL, length, prot, flags, fd, 0): the address, or -errno as a negative bigint. */
export function mmapRaw(length: number, prot: number, flags: number, fd: number): { addr: bigint; errno: number } {
  const r = load({ library: 'libc', funcName: 'mmap', retType: DataType.BigInt, paramsType: mmapParams, paramsValue: [0n, length, prot, flags, fd, 0], errno: true }) as unknown as { value: bigint; errnoCode: number };
  return r.value === -1n ? { addr: -1n, errno: r.errnoCode } : { addr: r.value, errno: 0 };
}

/** A Buffer whose memory is the `length` bytes at `addr`. The caller keeps the memory valid for
 * as long as the Buffer is used (ffi-rs never frees it). */
export function bufferAt(addr: bigint, length: number): Buffer {
  const cell = createPointer({ paramsType: [DataType.BigInt], paramsValue: [addr] });
  try {
    return createExternalBuffer(unwrapPointer(cell)[0], length);
  } finally {
    freePointer({ paramsType: [DataType.BigInt], paramsValue: cell, pointerType: PointerType.RsPointer });
  }
}

export function munmapRaw(addr: bigint, length: number): number {
  const r = mem.munmap([addr, length]);
  return r.value < 0 ? r.errnoCode : 0;
}
