// A kernel map: create, element operations, iteration, batch operations, close.
import { readFileSync } from 'node:fs';
import { InputError } from '../errors';
import { MapSpec, MapType, mapTypeName } from '../object/maps';
import { bpf, bpfRaw, Cmd, scratch, syscallError } from '../sys/bpf';
import { FdHandle } from './fd';

export const UpdateFlags = { ANY: 0, NOEXIST: 1, EXIST: 2 } as const;

const ENOENT = 2;
const EINVAL = 22;
const ENOTSUPP = 524;
const EOPNOTSUPP = 95;

const PER_CPU = new Set<number>([MapType.PERCPU_HASH, MapType.PERCPU_ARRAY, MapType.LRU_PERCPU_HASH]);
/** Types whose values are fds or kernel objects: userspace cannot read them back as bytes. */
const NO_LOOKUP = new Set<number>([MapType.PROG_ARRAY, MapType.RINGBUF, MapType.PERF_EVENT_ARRAY]);

let possibleCpus: number | undefined;
function cpuCount(): number {
  if (possibleCpus === undefined) {
    // "0-3" or "0,2-5": the highest index + 1 is what per-CPU values are sized by.
    const text = readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim();
    possibleCpus = Math.max(...text.split(',').map((r) => Number(r.split('-').pop()))) + 1;
  }
  return possibleCpus;
}

export interface MapCreateOptions {
  btfFd?: number;
  /** A map of maps: an fd of a map shaped like the ones it will hold. */
  innerMapFd?: number;
}

const MAP_NAME_LEN = 15;

/** The kernel's name for a map: at most 15 characters of [A-Za-z0-9_.]. */
export function kernelName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.]/g, '_').slice(0, MAP_NAME_LEN);
}

export class BpfMap extends FdHandle {
  /** Bytes of one value as userspace sees it (per-CPU maps hold one value per possible CPU). */
  readonly valueBytes: number;

  private constructor(
    readonly spec: MapSpec,
    fd: number,
  ) {
    super(fd);
    this.valueBytes = PER_CPU.has(spec.type) ? Math.ceil(spec.valueSize / 8) * 8 * cpuCount() : spec.valueSize;
  }

  get name(): string {
    return this.spec.name;
  }

  static create(spec: MapSpec, opts: MapCreateOptions = {}): BpfMap {
    const withBtf = opts.btfFd !== undefined && spec.btfValue !== undefined;
    const attempt = (btf: boolean) => {
      const buf = scratch.prepare(0);
      buf.writeUInt32LE(spec.type, 0);
      buf.writeUInt32LE(spec.keySize, 4);
      buf.writeUInt32LE(spec.valueSize, 8);
      // libbpf sizes a perf event array left at 0 entries to the possible CPUs.
      buf.writeUInt32LE(spec.type === MapType.PERF_EVENT_ARRAY && spec.maxEntries === 0 ? cpuCount() : spec.maxEntries, 12);
      buf.writeUInt32LE(spec.flags, 16);
      if (opts.innerMapFd !== undefined) buf.writeUInt32LE(opts.innerMapFd, 20);
      buf.write(kernelName(spec.name), 28, 'latin1');
      if (btf) {
        buf.writeUInt32LE(opts.btfFd!, 48);
        buf.writeUInt32LE(spec.btfKey ?? 0, 52);
        buf.writeUInt32LE(spec.btfValue!, 56);
      }
      return bpfRaw(Cmd.MAP_CREATE, 72);
    };
    let r = attempt(withBtf);
    // As libbpf: a map that does not need its BTF types is created without them when the kernel
    // refuses them (an older kernel, or a key type the map type cannot check).
    if (r.value < 0 && withBtf && !spec.needsBtf && r.errno !== 1) r = attempt(false);
    if (r.value < 0) {
      const e = syscallError(Cmd.MAP_CREATE, r.errno, `map ${spec.name} (${mapTypeName(spec.type)}, key ${spec.keySize} B, value ${spec.valueSize} B, ${spec.maxEntries} entries, flags 0x${spec.flags.toString(16)})`);
      throw e;
    }
    return new BpfMap(spec, r.value);
  }

  private live(): void {
    if (this.closed) throw new InputError(`map ${this.name} is closed`);
  }

  private checkKey(key: Buffer): void {
    if (key.length !== this.spec.keySize) {
      throw new InputError(`map ${this.name}: key is ${key.length} bytes, the map's keys are ${this.spec.keySize}`);
    }
  }

  /** The value for key, or undefined when there is none. */
  lookup(key: Buffer): Buffer | undefined {
    this.live();
    this.checkKey(key);
    if (NO_LOOKUP.has(this.spec.type)) throw new InputError(`map ${this.name}: ${mapTypeName(this.spec.type)} values cannot be read from userspace`);
    const k = this.spec.keySize;
    const buf = scratch.prepare(k + this.valueBytes);
    writeElemAttr(buf, this.fd, k, 0);
    key.copy(buf, scratch.ptrOffset(0));
    const r = bpfRaw(Cmd.MAP_LOOKUP_ELEM, 32);
    if (r.value < 0) {
      if (r.errno === ENOENT) return undefined;
      throw syscallError(Cmd.MAP_LOOKUP_ELEM, r.errno, `map ${this.name}`);
    }
    const at = scratch.ptrOffset(k);
    return Buffer.from(buf.subarray(at, at + this.valueBytes));
  }

  update(key: Buffer, value: Buffer, flags: number = UpdateFlags.ANY): void {
    this.live();
    this.checkKey(key);
    const valueLen = this.spec.type === MapType.PROG_ARRAY ? 4 : this.valueBytes;
    if (value.length !== valueLen) {
      throw new InputError(`map ${this.name}: value is ${value.length} bytes, the map's values are ${valueLen}`);
    }
    const k = this.spec.keySize;
    const buf = scratch.prepare(k + valueLen);
    writeElemAttr(buf, this.fd, k, flags);
    key.copy(buf, scratch.ptrOffset(0));
    value.copy(buf, scratch.ptrOffset(k));
    const r = bpfRaw(Cmd.MAP_UPDATE_ELEM, 32);
    if (r.value < 0) {
      if (r.errno === 1 && this.spec.data?.freeze) {
        throw new InputError(`map ${this.name} is read-only (.rodata is frozen after loading)`);
      }
      throw syscallError(Cmd.MAP_UPDATE_ELEM, r.errno, `map ${this.name}`);
    }
  }

  /** Deletes key; false when it was not there. */
  delete(key: Buffer): boolean {
    this.live();
    this.checkKey(key);
    const buf = scratch.prepare(this.spec.keySize);
    // The kernel wants nothing after the key pointer for a delete.
    buf.writeUInt32LE(this.fd, 0);
    buf.writeBigUInt64LE(scratch.ptr(0), 8);
    key.copy(buf, scratch.ptrOffset(0));
    const r = bpfRaw(Cmd.MAP_DELETE_ELEM, 16);
    if (r.value < 0) {
      if (r.errno === ENOENT) return false;
      throw syscallError(Cmd.MAP_DELETE_ELEM, r.errno, `map ${this.name}`);
    }
    return true;
  }

  /** Every key, in the kernel's order. */
  *keys(): Generator<Buffer> {
    this.live();
    const k = this.spec.keySize;
    let prev: Buffer | undefined;
    for (;;) {
      const buf = scratch.prepare(2 * k);
      buf.writeUInt32LE(this.fd, 0);
      // A NULL key asks for the first one.
      if (prev) {
        buf.writeBigUInt64LE(scratch.ptr(0), 8);
        prev.copy(buf, scratch.ptrOffset(0));
      }
      buf.writeBigUInt64LE(scratch.ptr(k), 16);
      const r = bpfRaw(Cmd.MAP_GET_NEXT_KEY, 32);
      if (r.value < 0) {
        if (r.errno === ENOENT) return;
        throw syscallError(Cmd.MAP_GET_NEXT_KEY, r.errno, `map ${this.name}`);
      }
      const at = scratch.ptrOffset(k);
      prev = Buffer.from(buf.subarray(at, at + k));
      yield prev;
    }
  }

  /** Every [key, value] pair. Keys are collected first, so deleting while iterating is safe. */
  entries(): [Buffer, Buffer][] {
    const out: [Buffer, Buffer][] = [];
    for (const key of [...this.keys()]) {
      const value = this.lookup(key);
      if (value) out.push([key, value]);
    }
    return out;
  }

  /** Empties a hash-like map; zeroes every element of an array-like one. */
  clear(): void {
    const keys = [...this.keys()];
    if (this.spec.type === MapType.ARRAY || this.spec.type === MapType.PERCPU_ARRAY) {
      const zero = Buffer.alloc(this.valueBytes);
      for (const key of keys) this.update(key, zero);
      return;
    }
    for (const key of keys) this.delete(key);
  }

  /** Writes many entries in one syscall where the kernel supports it (falls back per element). */
  updateBatch(entries: [Buffer, Buffer][], flags: number = UpdateFlags.ANY): void {
    this.live();
    if (entries.length === 0) return;
    const k = this.spec.keySize;
    const v = this.valueBytes;
    for (const [key, value] of entries) {
      this.checkKey(key);
      if (value.length !== v) throw new InputError(`map ${this.name}: value is ${value.length} bytes, the map's values are ${v}`);
    }
    const n = entries.length;
    const buf = scratch.prepare(n * (k + v));
    buf.writeBigUInt64LE(scratch.ptr(0), 16);
    buf.writeBigUInt64LE(scratch.ptr(n * k), 24);
    buf.writeUInt32LE(n, 32);
    buf.writeUInt32LE(this.fd, 36);
    buf.writeBigUInt64LE(BigInt(flags), 40);
    entries.forEach(([key, value], i) => {
      key.copy(buf, scratch.ptrOffset(i * k));
      value.copy(buf, scratch.ptrOffset(n * k + i * v));
    });
    const r = bpfRaw(Cmd.MAP_UPDATE_BATCH, 56);
    if (r.value >= 0) return;
    if (r.errno !== EINVAL && r.errno !== ENOTSUPP && r.errno !== EOPNOTSUPP) {
      throw syscallError(Cmd.MAP_UPDATE_BATCH, r.errno, `map ${this.name}`);
    }
    for (const [key, value] of entries) this.update(key, value, flags);
  }

  /** Makes the map read-only for userspace (programs still read it). */
  freeze(): void {
    this.live();
    const buf = scratch.prepare(0);
    buf.writeUInt32LE(this.fd, 0);
    bpf(Cmd.MAP_FREEZE, 8, `map ${this.name}`);
  }
}

function writeElemAttr(buf: Buffer, fd: number, valueOffset: number, flags: number): void {
  buf.writeUInt32LE(fd, 0);
  buf.writeBigUInt64LE(scratch.ptr(0), 8);
  buf.writeBigUInt64LE(scratch.ptr(valueOffset), 16);
  buf.writeBigUInt64LE(BigInt(flags), 24);
}

