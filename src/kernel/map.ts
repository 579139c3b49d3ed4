// A kernel map: create, element operations, iteration, batch operations, close.
import { readFileSync } from 'node:fs';
import { InputError, LinkError } from '../errors';
import { MapSpec, MapType, mapTypeName } from '../object/maps';
import { bpf, bpfRaw, Cmd, scratch, syscallError } from '../sys/bpf';
import { bytes, Bytes, integer, name, U32_MAX } from '../validate';
import { mapShared, Mapping, unmap } from '../sys/mmap';
import { FdHandle } from './fd';

export const UpdateFlags = { ANY: 0, NOEXIST: 1, EXIST: 2 } as const;

/** Entries one updateBatch() takes at most (a bound on the memory its checks use). */
const MAX_BATCH_ENTRIES = 1 << 24;

const ENOENT = 2;
const EINVAL = 22;
const ENOTSUPP = 524;
const EOPNOTSUPP = 95;
const ENOSPC = 28;

/** Not in MapType, but an object may declare one: its values are per-CPU too. */
const PERCPU_CGROUP_STORAGE = 21;
const PER_CPU = new Set<number>([MapType.PERCPU_HASH, MapType.PERCPU_ARRAY, MapType.LRU_PERCPU_HASH, PERCPU_CGROUP_STORAGE]);
/** Types whose values are fds or kernel objects: userspace cannot read them back as bytes. */
const NO_LOOKUP = new Set<number>([MapType.PROG_ARRAY, MapType.RINGBUF, MapType.PERF_EVENT_ARRAY]);
/** Every index always exists; "empty" means zeroed. */
const ARRAYS = new Set<number>([MapType.ARRAY, MapType.PERCPU_ARRAY]);
/** Hash maps, which the kernel can look up and delete in batches. */
const HASHES = new Set<number>([MapType.HASH, MapType.PERCPU_HASH, MapType.LRU_HASH, MapType.LRU_PERCPU_HASH]);
/** Values are fds of other kernel objects: programs use them (tail calls, redirects) but the
 * verifier never lets a program write them, so only userspace changes these maps. */
const FD_MAPS = new Set<number>([
  MapType.PROG_ARRAY, MapType.PERF_EVENT_ARRAY, MapType.CGROUP_ARRAY, MapType.ARRAY_OF_MAPS,
  MapType.HASH_OF_MAPS, MapType.DEVMAP, MapType.DEVMAP_HASH, MapType.CPUMAP, MapType.XSKMAP,
]);
/** Bytes one batch call moves at most (keys and values), so no scratch buffer grows past it. */
const BATCH_BYTES = 16 << 20;
/** Default bound on the key and value memory a map may ask the kernel for. */
export const DEFAULT_MAX_MAP_BYTES = 1 << 30;

/** How many CPUs a mask like "0-3" or "0,2-5" lists: the kernel packs a per-CPU value for each
 * possible CPU in turn (num_possible_cpus()), so gaps in the numbering take no room. */
export function countCpus(mask: string): number {
  let n = 0;
  for (const range of mask.trim().split(',')) {
    const [from, to = from] = range.split('-').map(Number);
    n += to - from + 1;
  }
  return n;
}

let possibleCpus: number | undefined;
function cpuCount(): number {
  possibleCpus ??= countCpus(readFileSync('/sys/devices/system/cpu/possible', 'utf8'));
  return possibleCpus;
}

/** Bytes of keys and values the kernel sets aside for a map of this spec (what
 * CollectionOptions.maxMapBytes bounds). A ring buffer's max_entries is its size in bytes. */
export function kernelBytes(spec: MapSpec): number {
  if (spec.type === MapType.RINGBUF) return spec.maxEntries;
  const value = PER_CPU.has(spec.type) ? Math.ceil(spec.valueSize / 8) * 8 * cpuCount() : spec.valueSize;
  return (spec.keySize + value) * spec.maxEntries;
}

/** Whether a program using the map can change its contents. */
export function programsCanWrite(spec: MapSpec): boolean {
  return !FD_MAPS.has(spec.type);
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
  /** The values mapped into this process (mmapable data sections). */
  private mapping: Mapping | undefined;
  /** Keys written through this handle since markLoaded() (by hex), or 'all' after clear(). */
  private written: Map<string, Buffer> | 'all' = new Map();

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
    checkSpec(spec);
    const withBtf = opts.btfFd !== undefined && spec.btfValue !== undefined;
    if (spec.vmlinuxValueTypeId !== undefined && opts.btfFd === undefined) throw new LinkError(`map ${spec.name}: a struct_ops map needs the object's BTF loaded`);
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
      if (spec.vmlinuxValueTypeId !== undefined) {
        // The kernel's value type; the object's BTF must be passed, without key/value types.
        buf.writeUInt32LE(opts.btfFd!, 48);
        buf.writeUInt32LE(spec.vmlinuxValueTypeId, 60);
      }
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

  /** The key as a Buffer, of the map's key size. */
  private checkKey(key: unknown): Buffer {
    const k = bytes(key, `map ${this.name}: key`);
    if (k.length !== this.spec.keySize) {
      throw new InputError(`map ${this.name}: key is ${k.length} bytes, the map's keys are ${this.spec.keySize}`);
    }
    return k;
  }

  /** The value for key, or undefined when there is none. */
  lookup(keyBytes: Bytes): Buffer | undefined {
    this.live();
    const key = this.checkKey(keyBytes);
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

  update(keyBytes: Bytes, valueBytes: Bytes, flags: number = UpdateFlags.ANY): void {
    this.live();
    const key = this.checkKey(keyBytes);
    const value = bytes(valueBytes, `map ${this.name}: value`);
    flags = integer(flags, `map ${this.name}: flags`, 0, U32_MAX);
    const valueLen = this.spec.type === MapType.PROG_ARRAY ? 4 : this.valueBytes;
    if (value.length !== valueLen) {
      throw new InputError(`map ${this.name}: value is ${value.length} bytes, the map's values are ${valueLen}`);
    }
    const k = this.spec.keySize;
    const buf = scratch.prepare(k + valueLen);
    writeElemAttr(buf, this.fd, k, flags);
    key.copy(buf, scratch.ptrOffset(0));
    value.copy(buf, scratch.ptrOffset(k));
    this.noteWrite(key);
    const r = bpfRaw(Cmd.MAP_UPDATE_ELEM, 32);
    if (r.value < 0) {
      if (r.errno === 1 && this.spec.data?.freeze) {
        throw new InputError(`map ${this.name} is read-only (.rodata is frozen after loading)`);
      }
      throw syscallError(Cmd.MAP_UPDATE_ELEM, r.errno, `map ${this.name}`);
    }
  }

  /** Deletes key; false when it was not there. */
  delete(keyBytes: Bytes): boolean {
    this.live();
    const key = this.checkKey(keyBytes);
    const buf = scratch.prepare(this.spec.keySize);
    // The kernel wants nothing after the key pointer for a delete.
    buf.writeUInt32LE(this.fd, 0);
    buf.writeBigUInt64LE(scratch.ptr(0), 8);
    key.copy(buf, scratch.ptrOffset(0));
    this.noteWrite(key);
    const r = bpfRaw(Cmd.MAP_DELETE_ELEM, 16);
    if (r.value < 0) {
      if (r.errno === ENOENT) return false;
      throw syscallError(Cmd.MAP_DELETE_ELEM, r.errno, `map ${this.name}`);
    }
    return true;
  }

  /** The keys present when called, in the kernel's order. The keys are all read first (in
   * batches where the kernel has batch lookups), so deleting or inserting while iterating changes
   * nothing about what is yielded: each key present at the call comes exactly once, and the
   * iteration always ends. */
  keys(): IterableIterator<Buffer> {
    this.live();
    const batched = this.batchSnapshot(Cmd.MAP_LOOKUP_BATCH);
    return (batched ? batched.map(([k]) => k) : this.walkKeys())[Symbol.iterator]();
  }

  /** Every [key, value] pair present when called (a snapshot, like keys()). */
  entries(): [Buffer, Buffer][] {
    this.live();
    const batched = this.batchSnapshot(Cmd.MAP_LOOKUP_BATCH);
    if (batched) return batched;
    const out: [Buffer, Buffer][] = [];
    for (const key of this.walkKeys()) {
      const value = this.lookup(key);
      if (value) out.push([key, value]);
    }
    return out;
  }

  /** Every key by BPF_MAP_GET_NEXT_KEY, one call per key. Nothing else runs meanwhile, and a map
   * holds at most max_entries keys, so the walk is bounded by that. */
  private walkKeys(): Buffer[] {
    const k = this.spec.keySize;
    const keys: Buffer[] = [];
    let prev: Buffer | undefined;
    while (keys.length < Math.max(this.spec.maxEntries, 1)) {
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
        if (r.errno === ENOENT) break;
        throw syscallError(Cmd.MAP_GET_NEXT_KEY, r.errno, `map ${this.name}`);
      }
      const at = scratch.ptrOffset(k);
      prev = Buffer.from(buf.subarray(at, at + k));
      keys.push(prev);
    }
    return keys;
  }

  /** Every entry through BPF_MAP_LOOKUP_BATCH (or LOOKUP_AND_DELETE_BATCH, which also empties the
   * map), as many per call as BATCH_BYTES allows; undefined when the kernel has no such batch
   * operation for this map type. */
  private batchSnapshot(cmd: Cmd.MAP_LOOKUP_BATCH | Cmd.MAP_LOOKUP_AND_DELETE_BATCH): [Buffer, Buffer][] | undefined {
    if (!HASHES.has(this.spec.type) && !ARRAYS.has(this.spec.type)) return undefined;
    const k = this.spec.keySize;
    const v = this.valueBytes;
    // The batch cursor is a bucket index for hashes, a key for arrays: room for either.
    const tok = Math.ceil(Math.max(k, 8) / 8) * 8;
    let count = Math.max(1, Math.min(this.spec.maxEntries, Math.floor(BATCH_BYTES / (k + v))));
    let cursor: Buffer | undefined;
    const out: [Buffer, Buffer][] = [];
    for (;;) {
      const buf = scratch.prepare(2 * tok + count * (k + v));
      const keysAt = 2 * tok;
      const valuesAt = keysAt + count * k;
      if (cursor) {
        cursor.copy(buf, scratch.ptrOffset(0));
        buf.writeBigUInt64LE(scratch.ptr(0), 0);
      }
      buf.writeBigUInt64LE(scratch.ptr(tok), 8);
      buf.writeBigUInt64LE(scratch.ptr(keysAt), 16);
      buf.writeBigUInt64LE(scratch.ptr(valuesAt), 24);
      buf.writeUInt32LE(count, 32);
      buf.writeUInt32LE(this.fd, 36);
      const r = bpfRaw(cmd, 56);
      if (r.value < 0 && r.errno !== ENOENT) {
        if (!cursor && out.length === 0 && (r.errno === EINVAL || r.errno === ENOTSUPP || r.errno === EOPNOTSUPP)) return undefined;
        // A hash bucket holds more entries than fit in one call: ask for more at once.
        if (r.errno === ENOSPC && count < this.spec.maxEntries) {
          count = Math.min(this.spec.maxEntries, count * 2);
          continue;
        }
        throw syscallError(cmd, r.errno, `map ${this.name}`);
      }
      const got = buf.readUInt32LE(32);
      for (let i = 0; i < got; i++) {
        const ka = scratch.ptrOffset(keysAt + i * k);
        const va = scratch.ptrOffset(valuesAt + i * v);
        out.push([Buffer.from(buf.subarray(ka, ka + k)), Buffer.from(buf.subarray(va, va + v))]);
      }
      if (r.value < 0) return out; // ENOENT: the walk reached the end
      cursor = Buffer.from(buf.subarray(scratch.ptrOffset(tok), scratch.ptrOffset(2 * tok)));
    }
  }

  /** Empties a hash-like map; zeroes every element of an array-like one. A batch call per
   * BATCH_BYTES of entries for arrays and hashes; one call per entry present for other types. */
  clear(): void {
    this.live();
    this.written = 'all';
    const type = this.spec.type;
    if (ARRAYS.has(type)) return this.zeroRange(0, this.spec.maxEntries);
    if (HASHES.has(type) && this.batchSnapshot(Cmd.MAP_LOOKUP_AND_DELETE_BATCH)) return;
    if (type === MapType.QUEUE || type === MapType.STACK) return this.drain();
    for (const key of this.walkKeys()) this.delete(key);
  }

  /** Pops a queue or stack until it is empty. */
  private drain(): void {
    for (let n = 0; n <= this.spec.maxEntries; n++) {
      const buf = scratch.prepare(this.valueBytes);
      buf.writeUInt32LE(this.fd, 0);
      buf.writeBigUInt64LE(scratch.ptr(0), 16);
      const r = bpfRaw(Cmd.MAP_LOOKUP_AND_DELETE_ELEM, 32);
      if (r.value >= 0) continue;
      if (r.errno === ENOENT) return;
      throw syscallError(Cmd.MAP_LOOKUP_AND_DELETE_ELEM, r.errno, `map ${this.name}`);
    }
  }

  /** Zeroes array indices [from, to) with BPF_MAP_UPDATE_BATCH. */
  private zeroRange(from: number, to: number): void {
    const indices = (first: number, n: number, buf: Buffer, at: number) => {
      for (let i = 0; i < n; i++) buf.writeUInt32LE(first + i, at + 4 * i);
    };
    this.zeroBatches(to - from, (done, n, buf, at) => indices(from + done, n, buf, at));
  }

  /** Zeroes the given array keys with BPF_MAP_UPDATE_BATCH. */
  private zeroKeys(keys: Buffer[]): void {
    this.zeroBatches(keys.length, (done, n, buf, at) => {
      for (let i = 0; i < n; i++) keys[done + i].copy(buf, at + 4 * i);
    });
  }

  private zeroBatches(total: number, writeKeys: (done: number, n: number, buf: Buffer, at: number) => void): void {
    const v = this.valueBytes;
    const per = Math.max(1, Math.floor(BATCH_BYTES / (4 + v)));
    for (let done = 0; done < total; done += per) {
      const n = Math.min(per, total - done);
      const buf = scratch.prepare(n * (4 + v));
      writeKeys(done, n, buf, scratch.ptrOffset(0));
      buf.fill(0, scratch.ptrOffset(n * 4), scratch.ptrOffset(n * (4 + v)));
      buf.writeBigUInt64LE(scratch.ptr(0), 16);
      buf.writeBigUInt64LE(scratch.ptr(n * 4), 24);
      buf.writeUInt32LE(n, 32);
      buf.writeUInt32LE(this.fd, 36);
      bpf(Cmd.MAP_UPDATE_BATCH, 56, `map ${this.name}`);
    }
  }

  /** Forgets the writes made so far: the map's current contents are its loaded state. */
  markLoaded(): void {
    this.written = new Map();
  }

  /** Back to the loaded state: empty (arrays zeroed) plus the `initial` entries, undoing what was
   * written through this handle since markLoaded() or the last restore, and everything when
   * `programsRan` (a program that can write the map ran meanwhile). Costs a batch call (arrays,
   * hashes) or a call per key written (other types), nothing when nothing changed. */
  restore(initial: [Buffer, Buffer][], programsRan: boolean): void {
    this.live();
    const written = this.written;
    this.written = new Map();
    if (programsRan || written === 'all') {
      this.clear();
      for (const [key, value] of initial) this.update(key, value);
      this.written = new Map();
      return;
    }
    if (written.size === 0) return;
    if (initial.length === 0 && ARRAYS.has(this.spec.type)) this.zeroKeys([...written.values()]);
    else if (initial.length === 0 && !FD_MAPS.has(this.spec.type)) this.clear();
    else {
      const init = new Map(initial.map(([k, val]) => [k.toString('hex'), val]));
      for (const [hex, key] of written) {
        const value = init.get(hex);
        if (value) this.update(key, value);
        else this.delete(key);
      }
    }
    this.written = new Map();
  }

  private noteWrite(key: Buffer): void {
    if (this.written !== 'all') this.written.set(key.toString('hex'), Buffer.from(key));
  }

  /** Maps the map's values into this process (a BPF_F_MMAPABLE array), read-write or read-only. */
  mapMemory(writable: boolean): void {
    this.live();
    const bytes = Math.ceil(this.spec.valueSize / 8) * 8 * this.spec.maxEntries;
    this.mapping = mapShared(this.fd, bytes, writable, `map ${this.name}`);
  }

  /** The first value of a mapped array as live kernel memory: writes reach programs at once. Valid
   * only until close() (the memory is unmapped then), so use it and let go; never hand it out. */
  mappedValue(): Buffer {
    this.live();
    if (!this.mapping) throw new InputError(`map ${this.name} is not mapped into memory`);
    return this.mapping.memory.subarray(0, this.spec.valueSize);
  }

  get mapped(): boolean {
    return this.mapping !== undefined && !this.closed;
  }

  override close(): void {
    const m = this.mapping;
    this.mapping = undefined;
    try {
      if (m) unmap(m);
    } finally {
      super.close();
    }
  }

  /** Writes many entries in one syscall where the kernel supports it (falls back per element). */
  updateBatch(list: [Bytes, Bytes][], flags: number = UpdateFlags.ANY): void {
    this.live();
    const entries = this.checkEntries(list);
    flags = integer(flags, `map ${this.name}: flags`, 0, U32_MAX);
    const per = Math.max(1, Math.floor(BATCH_BYTES / (this.spec.keySize + this.valueBytes)));
    if (entries.length > per) {
      for (let i = 0; i < entries.length; i += per) this.updateBatch(entries.slice(i, i + per), flags);
      return;
    }
    if (entries.length === 0) return;
    const k = this.spec.keySize;
    const v = this.valueBytes;
    for (const [key, value] of entries) {
      this.checkKey(key);
      if (value.length !== v) throw new InputError(`map ${this.name}: value is ${value.length} bytes, the map's values are ${v}`);
    }
    const n = entries.length;
    for (const [key] of entries) this.noteWrite(key);
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

  /** The pairs of an updateBatch() list, as Buffers. */
  private checkEntries(list: unknown): [Buffer, Buffer][] {
    if (!Array.isArray(list)) throw new InputError(`map ${this.name}: updateBatch takes an array of [key, value] pairs`);
    if (list.length > MAX_BATCH_ENTRIES) throw new InputError(`map ${this.name}: updateBatch takes at most ${MAX_BATCH_ENTRIES} entries, got ${list.length}`);
    return list.map((pair: unknown, i) => {
      if (!Array.isArray(pair) || pair.length !== 2) throw new InputError(`map ${this.name}: updateBatch entry ${i} is not a [key, value] pair`);
      return [this.checkKey(pair[0]), bytes(pair[1], `map ${this.name}: value of entry ${i}`)];
    });
  }

  /** Makes the map read-only for userspace (programs still read it). */
  freeze(): void {
    this.live();
    const buf = scratch.prepare(0);
    buf.writeUInt32LE(this.fd, 0);
    bpf(Cmd.MAP_FREEZE, 8, `map ${this.name}`);
  }
}

/** A spec built by hand (not parsed from an object) gets the checks the parser makes. */
function checkSpec(spec: MapSpec): void {
  const what = `map ${name(spec.name, 'map name')}`;
  for (const field of ['type', 'keySize', 'valueSize', 'maxEntries', 'flags'] as const) {
    integer(spec[field], `${what}: ${field}`, 0, U32_MAX);
  }
}

function writeElemAttr(buf: Buffer, fd: number, valueOffset: number, flags: number): void {
  buf.writeUInt32LE(fd, 0);
  buf.writeBigUInt64LE(scratch.ptr(0), 8);
  buf.writeBigUInt64LE(scratch.ptr(valueOffset), 16);
  buf.writeBigUInt64LE(BigInt(flags), 24);
}

