// Loading one program (with the verifier log on failure) and running it with BPF_PROG_TEST_RUN.
import { InputError, NotSupportedError, SourceLine, VerifierError } from '../errors';
import { encode, Instruction } from '../object/insn';
import type { ProgramSpec } from '../object/object';
import { ProgType, progTypeName } from '../object/sections';
import { bpfRaw, Cmd, isPrivilegeError, scratch, syscallError } from '../sys/bpf';
import { FdHandle } from './fd';

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
    if (res.log.trim() === '') throw syscallError(Cmd.PROG_LOAD, res.r.errno, `program ${spec.name} (the kernel wrote no verifier log)`);
    throw verifierError(spec.name, res.r.errno, res.log);
  }

  /** One BPF_PROG_TEST_RUN: one FFI crossing. */
  run(opts: RunOptions = {}): RunResult {
    if (this.closed) throw new InputError(`program ${this.name} is closed`);
    const typeName = this.spec.kind!.type;
    const data = opts.data;
    const min = MIN_DATA[typeName];
    if (min !== undefined && (data?.length ?? 0) < min) {
      throw new InputError(`program ${this.name}: ${typeName} test runs need at least ${min} bytes of packet data (an Ethernet header), got ${data?.length ?? 0}`);
    }
    const ctxSize = CTX_SIZE[typeName];
    if (opts.ctx && ctxSize && opts.ctx.length !== ctxSize.bytes) {
      throw new InputError(`program ${this.name}: a ${typeName} context (${ctxSize.struct}) is ${ctxSize.bytes} bytes, got ${opts.ctx.length}`);
    }
    // Syscall programs take a context only, run once, and the kernel writes it back in place.
    const syscall = typeName === 'SYSCALL';
    if (syscall && (data || (opts.repeat ?? 1) !== 1)) {
      throw new InputError(`program ${this.name}: SYSCALL test runs take a context only: no data and no repeat`);
    }
    const dataIn = data?.length ?? 0;
    const dataOutCap = data ? opts.dataOutSize ?? Math.max(DATA_OUT_DEFAULT, 2 * dataIn) : 0;
    const ctxIn = opts.ctx?.length ?? 0;
    const ctxOutCap = !syscall && (opts.ctx || opts.ctxOutSize) ? opts.ctxOutSize ?? ctxIn : 0;
    const buf = scratch.prepare(dataIn + dataOutCap + ctxIn + ctxOutCap);
    buf.writeUInt32LE(this.fd, 0);
    let at = 0;
    if (data) {
      data.copy(buf, scratch.ptrOffset(0));
      buf.writeUInt32LE(dataIn, 8);
      buf.writeUInt32LE(dataOutCap, 12);
      buf.writeBigUInt64LE(scratch.ptr(0), 16);
      buf.writeBigUInt64LE(scratch.ptr(dataIn), 24);
      at = dataIn + dataOutCap;
    }
    buf.writeUInt32LE(syscall ? 0 : opts.repeat ?? 1, 32);
    if (opts.ctx) {
      opts.ctx.copy(buf, scratch.ptrOffset(at));
      buf.writeUInt32LE(ctxIn, 40);
      buf.writeBigUInt64LE(scratch.ptr(at), 48);
      at += ctxIn;
    }
    if (ctxOutCap) {
      buf.writeUInt32LE(ctxOutCap, 44);
      buf.writeBigUInt64LE(scratch.ptr(at), 56);
    }
    buf.writeUInt32LE(opts.flags ?? 0, 64);
    buf.writeUInt32LE(opts.cpu ?? 0, 68);
    const r = bpfRaw(Cmd.PROG_TEST_RUN, 80);
    if (r.value < 0) {
      if (r.errno === 524) throw new NotSupportedError('BPF_PROG_TEST_RUN', progTypeName(this.type));
      if (r.errno === ENOSPC) {
        const ctxOut = buf.readUInt32LE(44);
        if (ctxOutCap && ctxOut > ctxOutCap) {
          throw new InputError(`program ${this.name}: its output context (${ctxOut} bytes) is larger than ctxOutSize ${ctxOutCap}`);
        }
        throw new InputError(`program ${this.name}: its output (${buf.readUInt32LE(12)} bytes of data) is larger than dataOutSize ${dataOutCap}; the program ran, pass a larger dataOutSize`);
      }
      throw syscallError(Cmd.PROG_TEST_RUN, r.errno, `program ${this.name} (${typeName}): the kernel refused the data, context or flags`);
    }
    const outLen = buf.readUInt32LE(12);
    const ctxOutLen = buf.readUInt32LE(44);
    const dataStart = scratch.ptrOffset(dataIn);
    const ctxStart = scratch.ptrOffset(dataIn + dataOutCap + ctxIn);
    const ctxInStart = scratch.ptrOffset(dataIn + dataOutCap);
    let ctx: Buffer | undefined;
    if (syscall && opts.ctx) ctx = Buffer.from(buf.subarray(ctxInStart, ctxInStart + ctxIn));
    else if (ctxOutCap) ctx = Buffer.from(buf.subarray(ctxStart, ctxStart + ctxOutLen));
    return {
      retval: buf.readUInt32LE(4),
      data: data ? Buffer.from(buf.subarray(dataStart, dataStart + outLen)) : Buffer.alloc(0),
      ctx,
      durationNs: buf.readUInt32LE(36),
    };
  }
}

export interface RunOptions {
  /** Packet bytes (data_in). */
  data?: Buffer;
  /** Context bytes (ctx_in), e.g. an xdp_md or __sk_buff. */
  ctx?: Buffer;
  repeat?: number;
  flags?: number;
  cpu?: number;
  /** Capacity for the output packet; defaults to room for growth. */
  dataOutSize?: number;
  /** Capacity for the output context; defaults to the input context's size. */
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

const DATA_OUT_DEFAULT = 1 << 16;

const SKB_CTX = { struct: 'struct __sk_buff', bytes: 192 };
/** Context structs the kernel checks exactly for test runs. */
const CTX_SIZE: Partial<Record<string, { struct: string; bytes: number }>> = {
  XDP: { struct: 'struct xdp_md', bytes: 24 },
  SCHED_CLS: SKB_CTX, SCHED_ACT: SKB_CTX, CGROUP_SKB: SKB_CTX, SOCKET_FILTER: SKB_CTX,
};

const MIN_DATA: Partial<Record<string, number>> = { XDP: 14, SCHED_CLS: 14, SCHED_ACT: 14, CGROUP_SKB: 14, SOCKET_FILTER: 14 };

/** Finds the rejection message and the C line the log cites last before it. */
export function verifierError(program: string, errno: number, log: string): VerifierError {
  const lines = log.split('\n').map((l) => l.trimEnd()).filter((l) => l !== '');
  let end = lines.length;
  while (end > 0 && /^(processed \d+ insns|verification time|stack depth|max_states_per_insn)/.test(lines[end - 1])) end--;
  const message = lines[end - 1] ?? 'no reason given';
  let source: SourceLine | undefined;
  for (let k = end - 1; k >= 0; k--) {
    const hit = /^; (.*) @ (\S+):(\d+)$/.exec(lines[k]);
    if (hit) {
      source = { text: hit[1].trim(), file: hit[2], line: Number(hit[3]) };
      break;
    }
  }
  const summary = source ? `${message} at ${source.file}:${source.line}: ${source.text}` : message;
  return new VerifierError(program, errno, summary, log, source);
}
