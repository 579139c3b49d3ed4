// BPF_BTF_LOAD with the kernel's log on failure, grown until the whole log fits: a log buffer
// that is too small turns the kernel's answer into ENOSPC and hides the real error.
import { SyscallError } from '../errors';
import { bpfRaw, Cmd, scratch, syscallError } from '../sys/bpf';

const LOG_START = 1 << 16;
const LOG_MAX = 1 << 26;
const ENOSPC = 28;
const EPERM = 1;

/** Loads `bytes` (a .BTF blob) and returns its fd; `what` names the object in errors. */
export function loadBtfBlob(bytes: Buffer, what: string): number {
  const attempt = (logSize: number) => {
    const buf = scratch.prepare(bytes.length + logSize);
    bytes.copy(buf, scratch.ptrOffset(0));
    buf.writeBigUInt64LE(scratch.ptr(0), 0);
    buf.writeUInt32LE(bytes.length, 16);
    if (logSize) {
      buf.fill(0, scratch.ptrOffset(bytes.length), scratch.ptrOffset(bytes.length + logSize));
      buf.writeBigUInt64LE(scratch.ptr(bytes.length), 8);
      buf.writeUInt32LE(logSize, 20);
      buf.writeUInt32LE(1, 24);
    }
    const r = bpfRaw(Cmd.BTF_LOAD, 32);
    const at = scratch.ptrOffset(bytes.length);
    const end = logSize ? buf.indexOf(0, at) : at;
    const logEnd = end < 0 || end > at + logSize ? at + logSize : end;
    // btf_log_true_size: the size the whole log needs, NUL included.
    return { r, log: buf.toString('utf8', at, logEnd), trueSize: buf.readUInt32LE(28) };
  };
  // The first try skips the log, which costs time and is rarely needed.
  let res = attempt(0);
  if (res.r.value >= 0) return res.r.value;
  if (res.r.errno === EPERM) throw syscallError(Cmd.BTF_LOAD, res.r.errno, '');
  let size = LOG_START;
  for (;;) {
    res = attempt(size);
    if (res.r.value >= 0) return res.r.value;
    // Before 6.4 a BTF the kernel rejects keeps its errno even when the log was cut short, so a
    // log that filled the buffer is grown too: its reason is in the part that did not fit.
    const filled = Buffer.byteLength(res.log) >= size - 1;
    if ((res.r.errno !== ENOSPC && !filled) || size >= LOG_MAX) break;
    size = Math.min(LOG_MAX, Math.max(size * 4, res.trueSize));
  }
  const last = res.log.trim().split('\n').slice(-2).map((l) => l.trim()).join(' | ');
  throw new SyscallError('BPF_BTF_LOAD', res.r.errno, `the kernel rejected the BTF of ${what}: ${last || 'no log'}`);
}
