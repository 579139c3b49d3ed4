// A loaded test object whose state is reset before every test: data sections back to the bytes
// the object was compiled with, every iterable map emptied. Globals (mock configuration and
// recorded calls) are read and written by name through the object's BTF, and writes are batched:
// a section is written once, just before the next run.
import { readValue, writeValue, CValue } from '../btf/value';
import { BtfKind } from '../btf/btf';
import { InputError } from '../errors';
import { Collection } from '../kernel/collection';
import type { BpfMap } from '../kernel/map';
import type { RunOptions, RunResult } from '../kernel/program';
import { MapType } from '../object/maps';
import { ObjectSpec } from '../object/object';
import { Mocks } from './mocks';

/** Map types userspace can neither iterate nor clear (they hold fds or stream records; an empty
 * SOCKMAP slot refuses a delete with EINVAL, and bpfunit never puts a socket in one). */
const NOT_CLEARABLE = new Set<number>([MapType.SOCKMAP, MapType.RINGBUF, MapType.PERF_EVENT_ARRAY, MapType.SK_STORAGE, MapType.INODE_STORAGE, MapType.TASK_STORAGE, MapType.CGRP_STORAGE]);
const KEY0 = Buffer.alloc(4);

interface Shadow {
  map: BpfMap;
  initial: Buffer;
  /** The section's bytes as last read or written, or undefined when the kernel may have changed them. */
  bytes: Buffer | undefined;
  dirty: boolean;
}

export class Harness {
  private readonly sections = new Map<string, Shadow>();
  /** The mock library's configuration and recorded calls, for harnesses built with it. */
  readonly mocks = new Mocks(this);

  private constructor(readonly collection: Collection) {
    for (const m of collection.spec.maps) {
      if (m.data && !m.data.freeze) {
        this.sections.set(m.name, { map: collection.map(m.name), initial: m.data.contents, bytes: Buffer.from(m.data.contents), dirty: false });
      }
    }
  }

  static load(objectPath: string, programs?: string[]): Harness {
    return new Harness(Collection.load(ObjectSpec.fromFile(objectPath), { programs }));
  }

  /** Back to the state the object was loaded in. */
  reset(): void {
    for (const s of this.sections.values()) {
      s.bytes = Buffer.from(s.initial);
      s.dirty = true;
    }
    for (const map of this.collection.maps.values()) {
      if (!map.spec.data && !NOT_CLEARABLE.has(map.spec.type)) map.clear();
    }
  }

  private locate(name: string): { shadow: Shadow; offset: number; typeId: number } {
    const spec = this.collection.spec;
    const btf = spec.btf;
    if (btf) {
      for (const [section, shadow] of this.sections) {
        const ds = btf.find(BtfKind.Datasec, section);
        for (const v of ds?.vars ?? []) {
          const variable = btf.type(v.type);
          if (variable.name !== name) continue;
          const g = this.collection.global(name);
          return { shadow, offset: g.offset, typeId: variable.type! };
        }
      }
    }
    throw new InputError(`no writable global named '${name}' in ${spec.name}`);
  }

  private bytesOf(s: Shadow): Buffer {
    s.bytes ??= s.map.lookup(KEY0)!;
    return s.bytes;
  }

  /** A global variable's value, decoded through BTF. */
  get(name: string): CValue {
    const { shadow, offset, typeId } = this.locate(name);
    return readValue(this.collection.spec.btf!, typeId, this.bytesOf(shadow), offset);
  }

  /** Writes a global; for structs only the fields given change. */
  set(name: string, value: CValue): void {
    const { shadow, offset, typeId } = this.locate(name);
    writeValue(this.collection.spec.btf!, typeId, this.bytesOf(shadow), offset, value, name);
    shadow.dirty = true;
  }

  map(name: string): BpfMap {
    return this.collection.map(name);
  }

  /** Writes pending globals, runs the program, and forgets cached globals (the run may change them). */
  run(program: string, opts: RunOptions): RunResult {
    for (const s of this.sections.values()) {
      if (s.dirty) s.map.update(KEY0, s.bytes!);
      s.dirty = false;
    }
    const prog = this.collection.program(program);
    try {
      return prog.run(opts);
    } finally {
      for (const s of this.sections.values()) s.bytes = undefined;
    }
  }

  close(): void {
    this.collection.close();
  }
}

/** Mocha hooks: load once for the enclosing describe(), reset before each test, close after.
 * Returns an accessor, since the harness exists only once the before() hook has run. */
export function useHarness(objectPath: string, programs?: string[]): () => Harness {
  let h: Harness | undefined;
  before(() => {
    h = Harness.load(objectPath, programs);
  });
  beforeEach(() => h!.reset());
  after(() => h?.close());
  return () => {
    if (!h) throw new InputError(`harness ${objectPath} is not loaded (use it inside it() blocks)`);
    return h;
  };
}
