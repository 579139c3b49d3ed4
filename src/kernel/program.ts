// Loading one program (with the verifier log on failure) and running it with BPF_PROG_TEST_RUN.
import { InputError, LinkError, NotSupportedError, SyscallError } from '../errors';
import { encode, Instruction } from '../object/insn';
import type { ProgramSpec } from '../object/object';
import { ProgType, progTypeName } from '../object/sections';
import { bpfRaw, checkWritten, Cmd, isPrivilegeError, scratch, syscallError } from '../sys/bpf';
import { integer, optionalBytes, U32_MAX } from '../validate';
import { FdHandle } from './fd';
import { lineTable, verifierError } from './verifier-log';

const FUNC_INFO_SIZE = 8;
const LINE_INFO_SIZE = 16;
const LOG_START = 1 << 16;
const LOG_MAX = 1 << 26;
const ENOSPC = 28;

export interface LoadOptions {
  btfFd?: number;
  /** Resolves a map name to its fd. */
  mapFd: (name: string) => number;
}

/** Instructions with their references resolved, plus func_info/line_info for the kernel. */
export function marshal(spec: ProgramSpec, mapFd: (name: string) => number) {
  const insns = encode(spec.instructions, (ref) => ({ imm: mapFd(ref.map), imm2: ref.kind === 'mapValue' ? ref.offset : undefined }));
  const funcs: number[][] = [];
  const lines: Instruction[] = [];
  const slotsOf: number[] = [];
  let slot = 0;
  for (const i of spec.instructions) {
    if (i.funcTypeId !== undefined) funcs.push([slot, i.funcTypeId]);
    if (i.line) {
      lines.push(i);
      slotsOf.push(slot);
    }
    slot += i.opcode === 0x18 ? 2 : 1;
  }
  return { insns, funcs, lines, lineSlots: slotsOf };
}

export class Program extends FdHandle {
  private constructor(
    readonly spec: ProgramSpec,
    fd: number,
    /** Instructions loaded (8-byte slots). */
    readonly insnCount: number,
  ) {
    super(fd);
  }

  get name(): string {
    return this.spec.name;
  }

  get type(): number {
    return ProgType[this.spec.kind!.type];
  }

  static load(spec: ProgramSpec, opts: LoadOptions): Program {
    if (spec.error) throw spec.error;
    const ksym = spec.instructions.find((i) => i.ksym)?.ksym;
    if (ksym) throw new LinkError(`program ${spec.name} uses the __ksym '${ksym.name}': load it with Collection.load, which resolves kernel symbols`);
    if (spec.kind?.attachTo && spec.attachBtfId === undefined) {
      throw new LinkError(`program ${spec.name} attaches to '${spec.kind.attachTo.name}': load it with Collection.load, which resolves its BTF id`);
    }
    if (!spec.kind) {
      throw new InputError(`program ${spec.name}: section '${spec.section}' names no known program type, so it cannot be loaded`);
    }
    const m = marshal(spec, opts.mapFd);
    // BTF func_info must cover every function, or the kernel refuses it; without it, load bare.
    const withBtf = opts.btfFd !== undefined && m.funcs.length > 0 && m.funcs[0][0] === 0;
    const license = Buffer.from(spec.license + '\0', 'latin1');
    const funcBytes = withBtf ? m.funcs.length * FUNC_INFO_SIZE : 0;
    const lineBytes = withBtf ? m.lines.length * LINE_INFO_SIZE : 0;
    const fixed = m.insns.length + license.length + funcBytes + lineBytes;

    const attempt = (logSize: number) => {
      const buf = scratch.prepare(fixed + logSize);
      let at = 0;
      const place = (bytes: Buffer) => {
        bytes.copy(buf, scratch.ptrOffset(at));
        const ptr = scratch.ptr(at);
        at += bytes.length;
        return ptr;
      };
      buf.writeUInt32LE(ProgType[spec.kind!.type], 0);
      buf.writeUInt32LE(m.insns.length / 8, 4);
      buf.writeBigUInt64LE(place(m.insns), 8);
      buf.writeBigUInt64LE(place(license), 16);
      buf.writeUInt32LE(spec.kind!.flags, 44);
      buf.write(spec.name.replace(/[^A-Za-z0-9_.]/g, '_').slice(0, 15), 48, 'latin1');
      buf.writeUInt32LE(spec.kind!.attachType, 68);
      if (spec.attachBtfId !== undefined) buf.writeUInt32LE(spec.attachBtfId, 108);
      if (withBtf) {
        buf.writeUInt32LE(opts.btfFd!, 72);
        const fi = Buffer.alloc(funcBytes);
        m.funcs.forEach(([s, id], k) => {
          fi.writeUInt32LE(s, k * 8);
          fi.writeUInt32LE(id, k * 8 + 4);
        });
        buf.writeUInt32LE(FUNC_INFO_SIZE, 76);
        buf.writeBigUInt64LE(place(fi), 80);
        buf.writeUInt32LE(m.funcs.length, 88);
        if (m.lines.length > 0) {
          const li = Buffer.alloc(lineBytes);
          m.lines.forEach((insn, k) => {
            const l = insn.line!;
            li.writeUInt32LE(m.lineSlots[k], k * 16);
            li.writeUInt32LE(l.fileNameOff, k * 16 + 4);
            li.writeUInt32LE(l.lineOff, k * 16 + 8);
            li.writeUInt32LE(((l.line << 10) | (l.column & 0x3ff)) >>> 0, k * 16 + 12);
          });
          buf.writeUInt32LE(LINE_INFO_SIZE, 92);
          buf.writeBigUInt64LE(place(li), 96);
          buf.writeUInt32LE(m.lines.length, 104);
        }
      }
      if (logSize > 0) {
        buf.writeUInt32LE(1, 24);
        buf.writeUInt32LE(logSize, 28);
        buf.writeBigUInt64LE(scratch.ptr(at), 32);
        buf.fill(0, scratch.ptrOffset(at), scratch.ptrOffset(at) + logSize);
      }
      const r = bpfRaw(Cmd.PROG_LOAD, 144);
      const logAt = scratch.ptrOffset(at);
      const log = logSize > 0 ? buf.toString('utf8', logAt, buf.indexOf(0, logAt) >= 0 ? Math.min(buf.indexOf(0, logAt), logAt + logSize) : logAt + logSize) : '';
      return { r, log, trueSize: buf.readUInt32LE(140) };
    };

    // The first try skips the log: verification is several times slower with it.
    let res = attempt(0);
    if (res.r.value >= 0) return new Program(spec, res.r.value, m.insns.length / 8);
    if (isPrivilegeError(res.r.errno)) throw syscallError(Cmd.PROG_LOAD, res.r.errno, `program ${spec.name}`);
    let size = LOG_START;
    for (;;) {
      res = attempt(size);
      if (res.r.value >= 0) return new Program(spec, res.r.value, m.insns.length / 8); // a flaky first failure
      if (res.r.errno === ENOSPC && size < LOG_MAX) {
        size = Math.min(LOG_MAX, Math.max(size * 4, res.trueSize + 1));
        continue;
      }
      break;
    }
    if (res.log.trim() === '') {
      // EPERM to root is the kernel refusing this kind of program (e.g. no BPF trampolines for
      // fentry/lsm), not missing privileges.
      if (res.r.errno === 1) throw new SyscallError('BPF_PROG_LOAD', 1, `program ${spec.name} (${spec.kind.type}, section ${spec.section}): the kernel refuses this program type or attach point even to root`);
      throw syscallError(Cmd.PROG_LOAD, res.r.errno, `program ${spec.name} (the kernel wrote no verifier log)`);
    }
    throw verifierError(spec.name, res.r.errno, res.log, lineTable(spec.instructions));
  }

  /** One BPF_PROG_TEST_RUN: one FFI crossing. */
  run(opts: RunOptions = {}): RunResult {
    if (this.closed) throw new InputError(`program ${this.name} is closed`);
    const typeName = this.spec.kind!.type;
    const o = runOptions(opts, `program ${this.name}`);
    const data = o.data;
    const min = MIN_DATA[typeName];
    if (min !== undefined && (data?.length ?? 0) < min) {
      throw new InputError(`program ${this.name}: ${typeName} test runs need at least ${min} bytes of packet data (an Ethernet header), got ${data?.length ?? 0}`);
    }
    const ctxSize = CTX_SIZE[typeName];
    if (o.ctx && ctxSize && o.ctx.length !== ctxSize.bytes) {
      throw new InputError(`program ${this.name}: a ${typeName} context (${ctxSize.struct}) is ${ctxSize.bytes} bytes, got ${o.ctx.length}`);
    }
    // Syscall programs run once, and the kernel writes their context back in place.
    const syscall = typeName === 'SYSCALL';
    const once = CONTEXT_ONLY.has(typeName);
    if (once && (data || o.repeat !== 1)) {
      throw new InputError(`program ${this.name}: ${typeName} test runs take a context only: no data and no repeat`);
    }
    if (data && NO_PACKET.has(typeName)) throw new InputError(`program ${this.name}: ${typeName} test runs take no packet data`);
    const ctxOut = CTX_OUT.has(typeName);
    if (o.ctxOutSize && !ctxOut && KNOWN_RUNS.has(typeName)) {
      throw new InputError(`program ${this.name}: ${typeName} test runs write no output context, so ctxOutSize does not apply`);
    }
    // The kernel writes data_out and ctx_out only for these types, and copies at most the size
    // passed; a zero data_size_out would mean "all of it", so a size is always passed.
    const dataIn = data?.length ?? 0;
    const dataOutCap = data && PACKET_OUT.has(typeName) ? o.dataOutSize || Math.max(DATA_OUT_DEFAULT, 2 * dataIn) : 0;
    const ctxIn = o.ctx?.length ?? 0;
    const ctxOutCap = ctxOut && (o.ctx || o.ctxOutSize) ? o.ctxOutSize || Math.max(CTX_OUT_DEFAULT, ctxIn) : 0;
    const buf = scratch.prepare(dataIn + dataOutCap + ctxIn + ctxOutCap);
    buf.writeUInt32LE(this.fd, 0);
    if (data) {
      data.copy(buf, scratch.ptrOffset(0));
      buf.writeUInt32LE(dataIn, 8);
      buf.writeBigUInt64LE(scratch.ptr(0), 16);
    }
    if (dataOutCap) {
      buf.writeUInt32LE(dataOutCap, 12);
      buf.writeBigUInt64LE(scratch.ptr(dataIn), 24);
    }
    buf.writeUInt32LE(once ? 0 : o.repeat, 32);
    const ctxAt = dataIn + dataOutCap;
    if (o.ctx) {
      o.ctx.copy(buf, scratch.ptrOffset(ctxAt));
      buf.writeUInt32LE(ctxIn, 40);
      buf.writeBigUInt64LE(scratch.ptr(ctxAt), 48);
    }
    if (ctxOutCap) {
      buf.writeUInt32LE(ctxOutCap, 44);
      buf.writeBigUInt64LE(scratch.ptr(ctxAt + ctxIn), 56);
    }
    buf.writeUInt32LE(o.flags, 64);
    buf.writeUInt32LE(o.cpu, 68);
    const r = bpfRaw(Cmd.PROG_TEST_RUN, 80);
    // Sizes the kernel wrote back (the whole output, also when it copied less).
    const outLen = dataOutCap ? buf.readUInt32LE(12) : 0;
    const ctxOutLen = ctxOutCap ? buf.readUInt32LE(44) : 0;
    if (r.value < 0) {
      if (r.errno === 524) throw new NotSupportedError('BPF_PROG_TEST_RUN', progTypeName(this.type));
      if (r.errno === ENOSPC) {
        if (ctxOutLen > ctxOutCap) {
          throw new InputError(`program ${this.name}: its output context (${ctxOutLen} bytes) is larger than ctxOutSize ${ctxOutCap}`);
        }
        // With fragments the kernel may fail before it reports the size.
        const size = outLen > dataOutCap ? `${outLen} bytes of data` : 'data';
        throw new InputError(`program ${this.name}: its output (${size}) is larger than dataOutSize ${dataOutCap}; the program ran, pass a larger dataOutSize`);
      }
      throw syscallError(Cmd.PROG_TEST_RUN, r.errno, `program ${this.name} (${typeName}): the kernel refused the data, context or flags`);
    }
    checkWritten(Cmd.PROG_TEST_RUN, outLen, dataOutCap, 'data_out');
    checkWritten(Cmd.PROG_TEST_RUN, ctxOutLen, ctxOutCap, 'ctx_out');
    const dataStart = scratch.ptrOffset(dataIn);
    const ctxInStart = scratch.ptrOffset(ctxAt);
    const ctxStart = ctxInStart + ctxIn;
    let ctx: Buffer | undefined;
    if (syscall && o.ctx) ctx = Buffer.from(buf.subarray(ctxInStart, ctxInStart + ctxIn));
    else if (ctxOutCap) ctx = Buffer.from(buf.subarray(ctxStart, ctxStart + ctxOutLen));
    return {
      retval: buf.readUInt32LE(4),
      data: Buffer.from(buf.subarray(dataStart, dataStart + outLen)),
      ctx,
      durationNs: buf.readUInt32LE(36),
    };
  }
}

/** The options checked, with their defaults. */
function runOptions(opts: RunOptions, what: string) {
  if (typeof opts !== 'object' || opts === null) throw new InputError(`${what}: run options must be an object`);
  const data = optionalBytes(opts.data, `${what}: data`);
  const ctx = optionalBytes(opts.ctx, `${what}: ctx`);
  if (data) integer(data.length, `${what}: data length`, 0, MAX_IO);
  if (ctx) integer(ctx.length, `${what}: ctx length`, 0, MAX_IO);
  return {
    data,
    ctx,
    repeat: integer(opts.repeat ?? 1, `${what}: repeat`, 1, U32_MAX),
    flags: integer(opts.flags ?? 0, `${what}: flags`, 0, U32_MAX),
    cpu: integer(opts.cpu ?? 0, `${what}: cpu`, 0, U32_MAX),
    dataOutSize: integer(opts.dataOutSize ?? 0, `${what}: dataOutSize`, 0, MAX_IO),
    ctxOutSize: integer(opts.ctxOutSize ?? 0, `${what}: ctxOutSize`, 0, MAX_IO),
  };
}

export interface RunOptions {
  /** Packet bytes (data_in). */
  data?: Buffer | Uint8Array;
  /** Context bytes (ctx_in), e.g. an xdp_md or __sk_buff. */
  ctx?: Buffer | Uint8Array;
  /** Runs in one syscall (1 to 2^32-1, default 1). Each run after the first starts from what the
   * previous one left: the packet as it rewrote it (bytes, bpf_xdp_adjust_head/tail), the maps
   * and globals it updated. `retval` and the output are the last run's; `durationNs` is the mean. */
  repeat?: number;
  /** BPF_PROG_TEST_RUN flags (u32), e.g. BPF_F_TEST_SKB_CHECKSUM_COMPLETE. */
  flags?: number;
  /** The CPU to run on, with BPF_F_TEST_RUN_ON_CPU (u32). */
  cpu?: number;
  /** Room for the output packet, up to 16 MiB; 0 or absent: room for any output of this input
   * (at least 128 KiB). A larger output is an InputError (the program has run). */
  dataOutSize?: number;
  /** Room for the output context, up to 16 MiB; 0 or absent: room for any context (4 KiB). */
  ctxOutSize?: number;
}

export interface RunResult {
  /** The program's return value (as u32). */
  retval: number;
  /** The packet after the run (data_out), possibly grown or shrunk. */
  data: Buffer;
  /** The context after the run (ctx_out), when a context was passed. */
  ctx: Buffer | undefined;
  /** Average duration of one run in nanoseconds, as the kernel measured it. */
  durationNs: number;
}

/** Larger than any output a test run makes of a small packet: skb programs can grow one to the
 * loopback MTU (64 KiB) plus headers. Bigger inputs (XDP fragments) get twice their size. */
const DATA_OUT_DEFAULT = 1 << 17;
/** Larger than any context struct the kernel copies back (__sk_buff, 192 bytes, is the largest). */
const CTX_OUT_DEFAULT = 1 << 12;
/** Bound on packet and context sizes: far above what any test run accepts or produces. */
const MAX_IO = 1 << 24;

const SKB_TYPES = ['SCHED_CLS', 'SCHED_ACT', 'CGROUP_SKB', 'SOCKET_FILTER', 'LWT_IN', 'LWT_OUT', 'LWT_XMIT'];
/** Types whose test run copies its output packet to data_out (net/bpf/test_run.c, bpf_test_finish). */
const PACKET_OUT = new Set(['XDP', 'FLOW_DISSECTOR', ...SKB_TYPES]);
/** Types whose test run copies the context back to ctx_out (bpf_ctx_finish). */
const CTX_OUT = new Set(['XDP', 'FLOW_DISSECTOR', 'SK_LOOKUP', ...SKB_TYPES]);
/** Types run once on a context alone: the kernel refuses data_in and any repeat count. */
const CONTEXT_ONLY = new Set(['RAW_TRACEPOINT', 'SYSCALL']);
/** Test-runnable types that take no packet (the kernel refuses data_in). */
const NO_PACKET = new Set(['SK_LOOKUP', ...CONTEXT_ONLY]);
/** Every type the kernel can test-run; for others it answers ENOTSUPP before reading anything. */
const KNOWN_RUNS = new Set([...PACKET_OUT, ...NO_PACKET]);

const SKB_CTX = { struct: 'struct __sk_buff', bytes: 192 };
/** Context structs the kernel checks exactly for test runs. */
const CTX_SIZE: Partial<Record<string, { struct: string; bytes: number }>> = {
  XDP: { struct: 'struct xdp_md', bytes: 24 },
  SCHED_CLS: SKB_CTX, SCHED_ACT: SKB_CTX, CGROUP_SKB: SKB_CTX, SOCKET_FILTER: SKB_CTX,
};

const MIN_DATA: Partial<Record<string, number>> = { XDP: 14, SCHED_CLS: 14, SCHED_ACT: 14, CGROUP_SKB: 14, SOCKET_FILTER: 14 };
