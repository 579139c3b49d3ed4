// Loading one program (with the verifier log on failure) and running it with BPF_PROG_TEST_RUN.
import { InputError, LinkError, NotSupportedError, SyscallError } from '../errors';
import { encode, Instruction } from '../object/insn';
import type { ProgramSpec } from '../object/object';
import { ProgType, progTypeName } from '../object/sections';
import { bpfRaw, checkWritten, Cmd, isPrivilegeError, scratch, syscallError } from '../sys/bpf';
import { decodeFlowKeys, FlowKeys, planRun, RunOptions } from '../object/test-run';
import { FdHandle } from './fd';
import { lineTable, verifierError } from './verifier-log';

const FUNC_INFO_SIZE = 8;
const LINE_INFO_SIZE = 16;
const LOG_START = 1 << 16;
const LOG_MAX = 1 << 26;
const ENOSPC = 28;
const EINVAL = 22;
const ENXIO = 6;
const EFAULT = 14;
const EOPNOTSUPP = 95;

export type { RunOptions };

export interface LoadOptions {
  btfFd?: number;
  /** Resolves a map name to its fd. */
  mapFd: (name: string) => number;
  /** The module BTF fds kfunc calls index with their `off` (slot 0 unused). */
  fdArray?: number[];
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
    if (spec.structOps && spec.attachBtfId === undefined) {
      throw new LinkError(`program ${spec.name} is set in struct_ops map ${spec.structOps.map}: load it with Collection.load, which resolves its kernel struct`);
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
    const fds = opts.fdArray ? Buffer.from(Int32Array.from(opts.fdArray).buffer) : undefined;
    const fixed = m.insns.length + license.length + funcBytes + lineBytes + (fds?.length ?? 0);

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
      if (spec.attachBtfObj) buf.writeUInt32LE(spec.attachBtfObj.fd, 112); // attach_btf_obj_fd
      if (fds) buf.writeBigUInt64LE(place(fds), 120);
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

  /** One BPF_PROG_TEST_RUN: one FFI crossing. The options are checked against what the
   * program's type accepts before it (src/object/test-run.ts). */
  run(opts: RunOptions = {}): RunResult {
    if (this.closed) throw new InputError(`program ${this.name} is closed`);
    const typeName = this.spec.kind!.type;
    const p = planRun(this.name, this.spec.kind!, opts);
    const dataIn = p.data?.length ?? 0;
    const ctxIn = p.ctx?.length ?? 0;
    const buf = scratch.prepare(dataIn + p.dataOutCap + ctxIn + p.ctxOutCap);
    buf.writeUInt32LE(this.fd, 0);
    if (p.data) {
      p.data.copy(buf, scratch.ptrOffset(0));
      buf.writeUInt32LE(dataIn, 8);
      buf.writeBigUInt64LE(scratch.ptr(0), 16);
    }
    if (p.dataOutCap) {
      buf.writeUInt32LE(p.dataOutCap, 12);
      buf.writeBigUInt64LE(scratch.ptr(dataIn), 24);
    }
    buf.writeUInt32LE(p.repeat, 32);
    const ctxAt = dataIn + p.dataOutCap;
    if (p.ctx) {
      p.ctx.copy(buf, scratch.ptrOffset(ctxAt));
      buf.writeUInt32LE(ctxIn, 40);
      buf.writeBigUInt64LE(scratch.ptr(ctxAt), 48);
    }
    if (p.ctxOutCap) {
      buf.writeUInt32LE(p.ctxOutCap, 44);
      buf.writeBigUInt64LE(scratch.ptr(ctxAt + ctxIn), 56);
    }
    buf.writeUInt32LE(p.flags, 64);
    buf.writeUInt32LE(p.cpu, 68);
    const r = bpfRaw(Cmd.PROG_TEST_RUN, 80);
    // Sizes the kernel wrote back (the whole output, also when it copied less).
    const outLen = p.dataOutCap ? buf.readUInt32LE(12) : 0;
    const ctxOutLen = p.ctxOutCap ? buf.readUInt32LE(44) : 0;
    if (r.value < 0) {
      if (r.errno === 524) throw new NotSupportedError('BPF_PROG_TEST_RUN', progTypeName(this.type));
      if (r.errno === ENOSPC) {
        if (ctxOutLen > p.ctxOutCap) {
          throw new InputError(`program ${this.name}: its output context (${ctxOutLen} bytes) is larger than ctxOutSize ${p.ctxOutCap}`);
        }
        // With fragments the kernel may fail before it reports the size.
        const size = outLen > p.dataOutCap ? `${outLen} bytes of data` : 'data';
        throw new InputError(`program ${this.name}: its output (${size}) is larger than dataOutSize ${p.dataOutCap}; the program ran, pass a larger dataOutSize`);
      }
      // Every other rule is checked before the call; these two the kernel alone knows.
      if (r.errno === EINVAL && (typeName === 'RAW_TRACEPOINT' || typeName === 'SYSCALL')) {
        throw new InputError(`program ${this.name}: the kernel refused a ${typeName} context of ${ctxIn} bytes: the program reads further into its context`);
      }
      if (r.errno === EFAULT && typeName === 'TRACING') {
        throw new NotSupportedError('BPF_PROG_TEST_RUN', `TRACING (section ${this.spec.section})`, "the kernel's tracing test run serves only fentry/fexit/fmod_ret programs and answers EFAULT for the others (tp_btf, iter)");
      }
      if (r.errno === EOPNOTSUPP && typeName === 'STRUCT_OPS') {
        throw new NotSupportedError('BPF_PROG_TEST_RUN', `STRUCT_OPS (map ${this.spec.structOps?.map})`, 'the kernel test-runs only struct_ops programs of its bpf_dummy_ops (EOPNOTSUPP)');
      }
      if (r.errno === ENXIO && typeName === 'RAW_TRACEPOINT') throw new InputError(`program ${this.name}: cpu ${p.cpu} is not an online CPU`);
      throw syscallError(Cmd.PROG_TEST_RUN, r.errno, `program ${this.name} (${typeName}): the kernel refused the data, context or flags`);
    }
    checkWritten(Cmd.PROG_TEST_RUN, outLen, p.dataOutCap, 'data_out');
    checkWritten(Cmd.PROG_TEST_RUN, ctxOutLen, p.ctxOutCap, 'ctx_out');
    const dataStart = scratch.ptrOffset(dataIn);
    const ctxInStart = scratch.ptrOffset(ctxAt);
    const ctxStart = ctxInStart + ctxIn;
    let ctx: Buffer | undefined;
    if (p.ctxOut === 'inPlace' && p.ctx) ctx = Buffer.from(buf.subarray(ctxInStart, ctxInStart + ctxIn));
    else if (p.ctxOutCap) ctx = Buffer.from(buf.subarray(ctxStart, ctxStart + ctxOutLen));
    const data = Buffer.from(buf.subarray(dataStart, dataStart + outLen));
    return {
      retval: buf.readUInt32LE(4),
      data,
      ctx,
      flowKeys: p.dataOut === 'flowKeys' ? decodeFlowKeys(data) : undefined,
      durationNs: buf.readUInt32LE(36),
    };
  }
}

export interface RunResult {
  /** The program's return value (as u32). */
  retval: number;
  /** What the kernel wrote to data_out: the packet after the run, possibly grown or shrunk; a
   * flow dissector's 56 bytes of struct bpf_flow_keys (decoded in `flowKeys`); empty for types
   * that write none (raw_tp, syscall, sk_lookup, netfilter). */
  data: Buffer;
  /** The context after the run (ctx_out; a syscall program's context as it left it), when a
   * context was passed and the type writes one back. */
  ctx: Buffer | undefined;
  /** Flow dissector runs: the struct bpf_flow_keys the program filled in (the kernel's data_out). */
  flowKeys?: FlowKeys;
  /** Average duration of one run in nanoseconds, as the kernel measured it. */
  durationNs: number;
}

