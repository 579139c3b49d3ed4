// A loaded object: its BTF, every map (data sections filled, .rodata frozen) and the programs
// asked for. close() releases every fd it opened, also when loading fails half-way.
import { BtfKind } from '../btf/btf';
import { InputError, SyscallError } from '../errors';
import type { MapSpec } from '../object/maps';
import type { ObjectSpec, ProgramSpec } from '../object/object';
import { bpfRaw, closeFd, Cmd, scratch, syscallError } from '../sys/bpf';
import { objectCreated } from './created';
import { BpfMap } from './map';
import { Program } from './program';

export interface CollectionOptions {
  /** Load only these programs (others may be invalid for their own type); default: all. */
  programs?: string[];
  /** Replaces Collection.defaultHook for this load; null loads without any hook. */
  hook?: CollectionHook | null;
}

/** Lets a tool (coverage instrumentation) rewrite programs before they load, add maps, and see
 * the collection once loaded and just before it closes. */
export interface CollectionHook {
  /** Before any syscall: maps to create besides the object's, and the specs to load in place of
   * `programs` (same names). */
  prepare(spec: ObjectSpec, programs: ProgramSpec[]): { maps: MapSpec[]; programs: ProgramSpec[] };
  /** Once every map and program is loaded. */
  loaded?(collection: Collection): void;
  /** First thing in close() (also after a failed load), while every fd is still open. */
  closing?(collection: Collection): void;
}

export interface GlobalVariable {
  /** The data section map that holds it (".data", ".bss", ".rodata"...). */
  map: BpfMap;
  offset: number;
  size: number;
}

export class Collection {
  readonly programs = new Map<string, Program>();
  readonly maps = new Map<string, BpfMap>();
  private btfFd: number | undefined;
  private closed = false;
  private hook: CollectionHook | undefined;
  /** Applied to every load whose options do not set `hook` (coverage sets it). */
  static defaultHook: CollectionHook | undefined;

  private constructor(readonly spec: ObjectSpec) {}

  static load(spec: ObjectSpec, opts: CollectionOptions = {}): Collection {
    const names = opts.programs ?? spec.programs.map((p) => p.name);
    let wanted = names.map((n) => spec.program(n)); // throws for unknown names before any syscall
    const hook = opts.hook === undefined ? Collection.defaultHook : opts.hook ?? undefined;
    let maps = spec.maps;
    if (hook) {
      const prepared = hook.prepare(spec, wanted);
      wanted = prepared.programs;
      maps = [...maps, ...prepared.maps];
    }
    const c = new Collection(spec);
    c.hook = hook;
    try {
      c.btfFd = loadBtf(spec);
      if (c.btfFd !== undefined) objectCreated(c.btfFd);
      for (const m of maps) {
        const map = BpfMap.create(m, { btfFd: m.needsBtf ? c.btfFd : undefined });
        c.maps.set(m.name, map);
        if (m.data) {
          map.update(Buffer.alloc(4), m.data.contents);
          if (m.data.freeze) map.freeze();
        }
      }
      for (const p of wanted) {
        c.programs.set(p.name, Program.load(p, { btfFd: c.btfFd, mapFd: (n) => c.map(n).fd }));
      }
      c.fillProgramSlots();
      hook?.loaded?.(c);
    } catch (e) {
      c.close();
      throw e;
    }
    return c;
  }

  /** Prog array slots initialised in C get the fds of the programs they name, when loaded. */
  private fillProgramSlots(): void {
    for (const m of this.spec.maps) {
      for (const slot of m.programSlots ?? []) {
        const prog = this.programs.get(slot.program);
        if (!prog) continue; // not asked for: the slot stays empty, as a failed tail call
        const key = Buffer.alloc(4);
        key.writeUInt32LE(slot.index);
        const fd = Buffer.alloc(4);
        fd.writeUInt32LE(prog.fd);
        this.map(m.name).update(key, fd);
      }
    }
  }

  program(name: string): Program {
    const p = this.programs.get(name);
    if (!p) throw new InputError(`program '${name}' is not loaded (loaded: ${[...this.programs.keys()].join(', ') || 'none'})`);
    return p;
  }

  map(name: string): BpfMap {
    const m = this.maps.get(name);
    if (!m) throw new InputError(`no map named '${name}' (maps: ${[...this.maps.keys()].join(', ') || 'none'})`);
    return m;
  }

  /** Where a global variable lives, found through the object's BTF. */
  global(name: string): GlobalVariable {
    const btf = this.spec.btf;
    if (btf) {
      for (const sec of btf.types) {
        if (sec.kind !== BtfKind.Datasec || !this.maps.has(sec.name)) continue;
        for (const v of sec.vars ?? []) {
          if (btf.type(v.type).name !== name) continue;
          const elfSec = this.spec.elf.sectionByName(sec.name)!;
          const sym = this.spec.elf.symbols.find((s) => s.section === elfSec.index && s.name === name);
          if (!sym) continue;
          return { map: this.map(sec.name), offset: sym.value, size: btf.sizeOf(v.type) };
        }
      }
    }
    throw new InputError(`no global variable named '${name}' in the data sections of ${this.spec.name}`);
  }

  readGlobal(name: string): Buffer {
    const g = this.global(name);
    const all = g.map.lookup(Buffer.alloc(4))!;
    return all.subarray(g.offset, g.offset + g.size);
  }

  writeGlobal(name: string, value: Buffer): void {
    const g = this.global(name);
    if (value.length !== g.size) throw new InputError(`global ${name} is ${g.size} bytes, got ${value.length}`);
    const all = g.map.lookup(Buffer.alloc(4))!;
    value.copy(all, g.offset);
    g.map.update(Buffer.alloc(4), all);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.hook?.closing?.(this);
    } finally {
      for (const p of this.programs.values()) p.close();
      for (const m of this.maps.values()) m.close();
      if (this.btfFd !== undefined) closeFd(this.btfFd);
      this.btfFd = undefined;
    }
  }
}

/** Loads the object's BTF so maps can use it and the verifier can cite source lines. */
function loadBtf(spec: ObjectSpec): number | undefined {
  const bytes = spec.btfForKernel();
  if (!bytes) return undefined;
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
    const end = buf.indexOf(0, at);
    return { r, log: logSize ? buf.toString('utf8', at, end < 0 ? at + logSize : Math.min(end, at + logSize)) : '' };
  };
  let res = attempt(0);
  if (res.r.value >= 0) return res.r.value;
  if (res.r.errno === 1) throw syscallError(Cmd.BTF_LOAD, res.r.errno, '');
  res = attempt(1 << 20);
  if (res.r.value >= 0) return res.r.value;
  const last = res.log.trim().split('\n').slice(-3).join(' | ');
  throw new SyscallError('BPF_BTF_LOAD', res.r.errno, `the kernel rejected the object's BTF: ${last || 'no log'}`);
}
