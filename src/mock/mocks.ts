// The TypeScript side of the C mock library (mocks/include/mock/*.h): configure each helper
// family and read back the calls it recorded. Everything lives in `mock_*` globals of the harness
// object, so a Harness reset restores the defaults (plain kernel behaviour) before every test.
import { InputError } from '../errors';
import { Contexts } from './contexts';
import type { Harness } from './harness';

type Struct = Record<string, unknown>;

/** The mock library's map identity: 32-bit FNV-1a of the map's C variable name (0: a map the
 * harness did not name in MOCK_MAPS). */
export function mapId(name: string): number {
  let h = 2166136261;
  for (const ch of Buffer.from(name, 'latin1')) {
    h ^= ch;
    h = Math.imul(h, 16777619) >>> 0;
  }
  return h;
}

/** Recorded calls: the first `count` entries of a bounded array, plus how many did not fit. */
function recorded<T>(rec: Struct, field = 'calls'): T[] {
  const calls = (rec[field] as T[]).slice(0, rec.count as number);
  if ((rec.dropped as number) > 0) {
    throw new InputError(`${rec.dropped as number} mock calls were dropped: the recording array (${(rec[field] as T[]).length}) is full`);
  }
  return calls;
}

export const StorageResult = { ABSENT: 0, FOUND: 1, CREATED: 2, FORCED: 3, FULL: 4, INVALID: 5, DELETED: 6, NOT_DELETED: 7 } as const;
export const MsgOp = { PUSH: 1, PULL: 2, POP: 3 } as const;
export const RingbufState = { RESERVED: 1, SUBMITTED: 2, DISCARDED: 3, OUTPUT: 4 } as const;
export const LookupResult = { MISS: 0, HIT: 1, FORCED: 2 } as const;
export const MapWriteOp = { UPDATE: 1, DELETE: 2 } as const;

const STORAGE_SLOTS = 8;
const STORAGE_VALUE = 256;

export interface StorageCall { sk: bigint; flags: bigint; map: number; result: number; slot: number }
export interface MsgCall { op: number; start: number; len: number; flags: bigint; ret: bigint }
export interface TailCall { map: number; index: number; taken: boolean }
export interface RingbufRecord { map: number; state: number; flags: number; data: Buffer }
export interface LookupCall { map: number; result: number }
export interface MapWrite { map: number; op: number; flags: bigint; ret: bigint }
export interface Redirect { map: number; key: number; flags: bigint; ret: bigint }

export class Mocks {
  /** The re-hosted contexts (mock_sock_addr, mock_skb, mock_sock_ops, ...), typed. */
  readonly ctx: Contexts;
  private listed: Set<string> | undefined;

  constructor(private readonly h: Harness) {
    this.ctx = new Contexts(h);
  }

  /** The identity of a map the harness names in MOCK_MAPS; any other name is an InputError. */
  private idOf(map: string): number {
    if (!this.listed) {
      let text: number[];
      try {
        text = this.h.get('mock_maps_listed') as number[];
      } catch {
        throw new InputError(`the harness names no maps (MOCK_MAPS(...) after the program source): cannot configure a mock for map '${map}'`);
      }
      const names = Buffer.from(text).toString('latin1').replace(/\0.*$/s, '');
      this.listed = new Set(names.split(',').map((n) => n.trim()).filter((n) => n));
    }
    if (!this.listed.has(map)) {
      throw new InputError(`map '${map}' is not named in the harness's MOCK_MAPS(${[...this.listed].join(', ')}): the mocks cannot tell its calls apart`);
    }
    return mapId(map);
  }

  // --- socket storage (bpf_sk_storage_get / delete) ---

  /** Seeds the storage of socket `sk` in storage map `map` (any map when omitted). */
  setStorage(sk: bigint | number, value: Buffer, map?: string): void {
    if (value.length > STORAGE_VALUE) throw new InputError(`storage value of ${value.length} bytes exceeds the mock's ${STORAGE_VALUE}`);
    const slots = this.h.get('mock_sk_storage') as Struct[];
    const id = map === undefined ? 0 : this.idOf(map);
    let i = slots.findIndex((s) => s.in_use && s.sk === BigInt(sk) && s.map_id === id);
    if (i < 0) i = slots.findIndex((s) => !s.in_use);
    if (i < 0) throw new InputError(`all ${STORAGE_SLOTS} mock storage slots are in use`);
    const data = [...value, ...new Array(STORAGE_VALUE - value.length).fill(0)];
    const all: Struct[] = slots.map(() => ({}));
    all[i] = { sk: BigInt(sk), map_id: id, in_use: 1, data };
    this.h.set('mock_sk_storage', all as never);
  }

  /** The storage of socket `sk` (`size` bytes), or undefined when it has none. */
  storage(sk: bigint | number, size: number, map?: string): Buffer | undefined {
    const id = map === undefined ? undefined : this.idOf(map);
    const slot = (this.h.get('mock_sk_storage') as Struct[]).find(
      (s) => s.in_use && s.sk === BigInt(sk) && (id === undefined || s.map_id === id || s.map_id === 0),
    );
    return slot ? Buffer.from((slot.data as number[]).slice(0, size)) : undefined;
  }

  /** Makes every bpf_sk_storage_get return NULL, or only the calls with these 0-based indices. */
  storageReturnsNull(calls?: number[]): void {
    if (!calls) return this.h.set('mock_sk_storage_cfg', { force_null: 1 });
    this.h.set('mock_sk_storage_cfg', { force_null_calls: calls.reduce((m, i) => m | (1n << BigInt(i)), 0n) });
  }

  storageCalls(): StorageCall[] {
    return recorded<Struct>(this.h.get('mock_sk_storage_calls') as Struct).map((c) => ({
      sk: c.sk as bigint, flags: c.flags as bigint, map: c.map_id as number, result: c.result as number, slot: c.slot as number,
    }));
  }

  // --- sk_msg (the message's socket fields, bpf_msg_push_data / pull / pop) ---

  /** The socket fields an sk_msg program sees (family, addresses, ports; sk is the identity). */
  setMsgSocket(fields: Struct): void {
    this.ctx.msg.set(fields as never);
  }

  /** Makes bpf_msg_push_data fail with `ret` (e.g. -12 for -ENOMEM) without changing the message. */
  pushDataFails(ret: number): void {
    this.h.set('mock_msg_cfg', { push_ret: BigInt(ret) });
  }

  /** Cuts the message to `bytes` after a push, so the program's bounds checks see a short buffer. */
  limitMessage(bytes: number): void {
    this.h.set('mock_msg_cfg', { window: bytes });
  }

  msgCalls(): MsgCall[] {
    return recorded<Struct>(this.h.get('mock_msg_calls') as Struct).map((c) => ({
      op: c.op as number, start: c.start as number, len: c.len as number, flags: c.flags as bigint, ret: c.ret as bigint,
    }));
  }

  // --- bpf_get_netns_cookie, bpf_get_prandom_u32, bpf_ktime_get_ns ---

  setNetnsCookie(cookie: bigint | number): void {
    this.h.set('mock_netns_cfg', { cookie: BigInt(cookie) });
  }

  netnsCookieCalls(): number {
    return (this.h.get('mock_netns_calls') as Struct).count as number;
  }

  /** Random numbers, in order; the sequence repeats when it runs out. */
  setRandom(values: number[]): void {
    if (values.length > 16) throw new InputError(`the prandom mock holds 16 values, got ${values.length}`);
    this.h.set('mock_prandom_cfg', { count: values.length, values });
  }

  randomDrawn(): number {
    return (this.h.get('mock_prandom_calls') as Struct).drawn as number;
  }

  /** The clock: `now` ns, advancing by `step` ns per call. */
  setClock(now: bigint | number, step: bigint | number = 0): void {
    this.h.set('mock_ktime_cfg', { now_ns: BigInt(now), step_ns: BigInt(step) });
  }

  clockCalls(): number {
    return (this.h.get('mock_ktime_calls') as Struct).count as number;
  }

  // --- bpf_tail_call (a real tail call on the harness's array of XDP entries) ---

  /**
   * Makes a tail call to `index` of program array `map` jump to the harness entry `program`
   * (an XDP entry wrapping the target, loaded with the harness); without `program` the slot is
   * empty and the call falls through, as in the kernel.
   */
  tailCallTarget(map: string, index: number, program?: string): void {
    const slots = (this.h.get('mock_tail_call_cfg') as Struct).slots as Struct[];
    const id = this.idOf(map);
    let i = slots.findIndex((s) => s.used && s.map_id === id && s.index === index);
    if (i < 0) i = slots.findIndex((s) => !s.used);
    if (i < 0) throw new InputError(`all ${slots.length} tail call slots of the harness are in use`);
    const key = Buffer.alloc(4);
    key.writeUInt32LE(i);
    const progs = this.h.map('mock_tail_progs');
    if (program === undefined) {
      progs.delete(key);
    } else {
      const value = Buffer.alloc(4);
      value.writeUInt32LE(this.h.collection.program(program).fd);
      progs.update(key, value);
    }
    const all: Struct[] = slots.map(() => ({}));
    all[i] = { used: 1, map_id: id, index };
    this.h.set('mock_tail_call_cfg', { slots: all } as never);
  }

  /** Every tail call, in order; `taken` when the kernel jumped (the call never came back). */
  tailCalls(): TailCall[] {
    return recorded<Struct>(this.h.get('mock_tail_call_calls') as Struct).map((c) => ({
      map: c.map_id as number, index: c.index as number, taken: c.taken === 1,
    }));
  }

  // --- bpf_tcp_sock ---

  /** The struct bpf_tcp_sock bpf_tcp_sock() returns, or null to make it return NULL. */
  setTcpSock(fields: Struct | null): void {
    if (fields === null) return this.h.set('mock_tcp_sock_cfg', { force_null: 1 });
    this.h.set('mock_tcp_sock', fields as never);
  }

  // --- ring buffers (bpf_ringbuf_reserve / submit / discard / output) ---

  /** Makes ring buffer `map` full (every ring buffer when omitted): reserve gives NULL, output -EAGAIN. */
  ringbufFails(map?: string): void {
    this.h.set('mock_ringbuf_cfg', map === undefined ? { fail: 1 } : { fail_map_id: this.idOf(map) });
  }

  /** Records written to ring buffer `map` (all maps when omitted), in order. */
  ringbuf(map?: string): RingbufRecord[] {
    const rb = this.h.get('mock_ringbuf') as Struct;
    const id = map === undefined ? undefined : this.idOf(map);
    return recorded<Struct>(rb, 'records')
      .filter((r) => id === undefined || r.map_id === id)
      .map((r) => ({ map: r.map_id as number, state: r.state as number, flags: r.flags as number, data: Buffer.from((r.data as number[]).slice(0, r.len as number)) }));
  }

  // --- bpf_map_lookup_elem ---

  /** Lookups in these maps return NULL whatever they hold. */
  lookupReturnsNull(maps: string[]): void {
    if (maps.length > 4) throw new InputError(`the lookup mock can force NULL for 4 maps, got ${maps.length}`);
    this.h.set('mock_map_lookup_cfg', { null_map_ids: maps.map((m) => this.idOf(m)) });
  }

  lookupCalls(): LookupCall[] {
    return recorded<Struct>(this.h.get('mock_map_lookup_calls') as Struct).map((c) => ({ map: c.map_id as number, result: c.result as number }));
  }

  /** bpf_map_update_elem / bpf_map_delete_elem calls, with the kernel's return value. */
  mapWrites(): MapWrite[] {
    return recorded<Struct>(this.h.get('mock_map_write_calls') as Struct).map((c) => ({
      map: c.map_id as number, op: c.op as number, flags: c.flags as bigint, ret: c.ret as bigint,
    }));
  }

  // --- bpf_sk_redirect_map / bpf_msg_redirect_map ---

  /** Keys (< 64) of any sockmap that hold a socket a redirect may use; the others are empty. */
  redirectTargets(keys: number[]): void {
    for (const k of keys) if (!Number.isInteger(k) || k < 0 || k >= 64) throw new InputError(`redirect target key ${k} is not in 0..63`);
    this.h.set('mock_redirect_cfg', { present_mask: keys.reduce((m, k) => m | (1n << BigInt(k)), 0n) });
  }

  redirects(): Redirect[] {
    return recorded<Struct>(this.h.get('mock_redirect_calls') as Struct).map((c) => ({
      map: c.map_id as number, key: c.key as number, flags: c.flags as bigint, ret: c.ret as bigint,
    }));
  }

  /** The program's return value in a re-hosted run. */
  retval(): number {
    return this.h.get('mock_retval') as number;
  }
}
