// bpf() commands over one reusable scratch buffer laid out as [attr (160 bytes) | payload].
// Pointers inside attr point into the same buffer, so nothing the kernel reads or writes can be
// collected while the call runs (the GC hazard of passing bare addresses).
import { addressOf, bpfSyscall, closeFd, withSignalsHeld } from './ffi';
import { missingBpfCapabilities } from './capabilities';
import { PermissionError, SyscallError } from '../errors';

export const enum Cmd {
  MAP_CREATE = 0,
  MAP_LOOKUP_ELEM = 1,
  MAP_UPDATE_ELEM = 2,
  MAP_DELETE_ELEM = 3,
  MAP_GET_NEXT_KEY = 4,
  PROG_LOAD = 5,
  PROG_TEST_RUN = 10,
  PROG_GET_FD_BY_ID = 13,
  MAP_GET_FD_BY_ID = 14,
  OBJ_GET_INFO_BY_FD = 15,
  BTF_LOAD = 18,
  BTF_GET_FD_BY_ID = 19,
  MAP_LOOKUP_AND_DELETE_ELEM = 21,
  BTF_GET_NEXT_ID = 23,
  MAP_FREEZE = 22,
  MAP_LOOKUP_BATCH = 24,
  MAP_LOOKUP_AND_DELETE_BATCH = 25,
  MAP_UPDATE_BATCH = 26,
  MAP_DELETE_BATCH = 27,
}

export const CMD_NAMES: Record<number, string> = {
  0: 'BPF_MAP_CREATE', 1: 'BPF_MAP_LOOKUP_ELEM', 2: 'BPF_MAP_UPDATE_ELEM', 3: 'BPF_MAP_DELETE_ELEM',
  4: 'BPF_MAP_GET_NEXT_KEY', 5: 'BPF_PROG_LOAD', 10: 'BPF_PROG_TEST_RUN', 13: 'BPF_PROG_GET_FD_BY_ID',
  14: 'BPF_MAP_GET_FD_BY_ID', 15: 'BPF_OBJ_GET_INFO_BY_FD', 18: 'BPF_BTF_LOAD', 19: 'BPF_BTF_GET_FD_BY_ID',
  21: 'BPF_MAP_LOOKUP_AND_DELETE_ELEM', 23: 'BPF_BTF_GET_NEXT_ID', 22: 'BPF_MAP_FREEZE', 24: 'BPF_MAP_LOOKUP_BATCH', 25: 'BPF_MAP_LOOKUP_AND_DELETE_BATCH',
  26: 'BPF_MAP_UPDATE_BATCH', 27: 'BPF_MAP_DELETE_BATCH',
};

export const ATTR_SIZE = 160;

/** Written just past the reserved payload before every call and checked after it. */
const CANARY = 0x6270_6675_6e69_7421n;
const GUARD = 8;

/** The process-wide scratch buffer. Calls are synchronous, so one is enough. */
class Scratch {
  buf: Buffer;
  base: bigint;
  /** End of the region the current call reserved (attr + payload). */
  private end = ATTR_SIZE;

  constructor(size: number) {
    this.buf = Buffer.alloc(size);
    this.base = addressOf(this.buf);
  }

  /** Reserves `payload` bytes after the attr, zeroes the attr and returns the buffer. The payload
   * must hold every byte the kernel may write for the call, not only what the caller wants back.
   * It is not cleared: callers write every byte they pass to the kernel. */
  prepare(payload: number): Buffer {
    const end = ATTR_SIZE + payload;
    if (end + GUARD > this.buf.length) {
      let size = this.buf.length;
      while (size < end + GUARD) size *= 2;
      this.buf = Buffer.alloc(size);
      this.base = addressOf(this.buf);
    }
    this.buf.fill(0, 0, ATTR_SIZE);
    this.buf.writeBigUInt64LE(CANARY, end);
    this.end = end;
    return this.buf;
  }

  /** Address of `offset` bytes into the payload region. */
  ptr(payloadOffset: number): bigint {
    return this.base + BigInt(ATTR_SIZE + payloadOffset);
  }

  /** Index into buf of `offset` bytes into the payload region. */
  ptrOffset(payloadOffset: number): number {
    return ATTR_SIZE + payloadOffset;
  }

  /** A kernel write past the reservation is a bpfunit bug: stop before anyone reads the bytes. */
  checkGuard(cmd: Cmd): void {
    if (this.buf.readBigUInt64LE(this.end) !== CANARY) {
      throw new Error(`bpfunit bug: ${CMD_NAMES[cmd] ?? cmd} wrote past the ${this.end - ATTR_SIZE} payload bytes reserved for it`);
    }
  }
}

export const scratch = new Scratch(1 << 16);

/** Runs cmd over the scratch attr; returns the result or -errno, never throws for the kernel's
 * errors (it throws only when the kernel wrote past what prepare() reserved). */
export function bpfRaw(cmd: Cmd, attrSize: number): { value: number; errno: number } {
  if (attrSize > ATTR_SIZE) throw new Error(`bpfunit bug: ${CMD_NAMES[cmd] ?? cmd} attr of ${attrSize} bytes`);
  const r = cmd === Cmd.PROG_LOAD ? withSignalsHeld(() => bpfSyscall(cmd, scratch.buf, attrSize)) : bpfSyscall(cmd, scratch.buf, attrSize);
  try {
    scratch.checkGuard(cmd);
  } catch (e) {
    if (r.value >= 0 && FD_RESULT.has(cmd)) closeFd(r.value);
    throw e;
  }
  return r;
}

/** Commands whose result is a new fd. */
const FD_RESULT = new Set<Cmd>([Cmd.MAP_CREATE, Cmd.PROG_LOAD, Cmd.BTF_LOAD]);

/** Runs cmd over the scratch attr; throws a typed error on failure. */
export function bpf(cmd: Cmd, attrSize: number, what = ''): number {
  const r = bpfRaw(cmd, attrSize);
  if (r.value < 0) throw syscallError(cmd, r.errno, what);
  return r.value;
}

const EPERM = 1;
const EACCES = 13;

/** Whether a failure means missing privileges: EPERM or EACCES to a process without the
 * capabilities BPF needs. To one holding them, EACCES is the verifier's own refusal and EPERM the
 * kernel refusing that kind of program or attach point to anyone. */
export function isPrivilegeError(errno: number): boolean {
  return (errno === EPERM || errno === EACCES) && missingBpfCapabilities().length > 0;
}

export function syscallError(cmd: Cmd, errno: number, what: string): SyscallError {
  const name = CMD_NAMES[cmd] ?? `bpf command ${cmd}`;
  if (isPrivilegeError(errno)) return new PermissionError(name, errno);
  return new SyscallError(name, errno, what);
}

/** Throws when the kernel reports writing more bytes than were reserved for an output. */
export function checkWritten(cmd: Cmd, written: number, reserved: number, what: string): void {
  if (written > reserved) {
    throw new Error(`bpfunit bug: ${CMD_NAMES[cmd] ?? cmd} reports ${written} bytes of ${what}, ${reserved} were reserved`);
  }
}

export { closeFd };
