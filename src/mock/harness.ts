// A loaded test object whose state is reset before every test: data sections back to the bytes
// the object was compiled with, maps back to how they were loaded (Collection.reset). Globals (mock
// configuration and recorded calls) are read and written by name through the object's BTF,
// directly in the data sections mapped into this process: no syscall, and a run sees them at once.
import { basename, resolve } from 'node:path';
import { readValue, writeValue, CValue } from '../btf/value';
import { InputError } from '../errors';
import { Collection, CollectionOptions, readOnlyGlobal } from '../kernel/collection';
import { objectGlobals } from '../object/globals';
import type { BpfMap } from '../kernel/map';
import type { RunOptions, RunResult } from '../kernel/program';
import { readObjectFile } from '../object/file';
import { ObjectSpec } from '../object/object';
import { checkTailCalls, explainNativeRejection, harnessEntries } from './harness-check';
import { Mocks } from './mocks';

interface Located {
  map: BpfMap;
  offset: number;
  size: number;
  typeId: number;
  /** In .rodata / .rodata.*: frozen, read by lookup, never written. */
  readOnly: boolean;
}

/** What a harness load takes besides the object: the programs (default all) and the values of
 * read-only globals before the load (see CollectionOptions.rodata). */
export type HarnessOptions = Pick<CollectionOptions, 'programs' | 'rodata'>;

// The last parse of each object file harnesses loaded, reused while the file's bytes are the same:
// a spec process loads one harness object in many describe blocks and spec files. The file is
// read every time (so a rebuilt object is parsed again, and the precommit record sees the read).
// A harness only reads its ObjectSpec; ObjectSpec.fromFile, whose result callers may change,
// parses afresh. A few paths only, so loading many objects (mutants) keeps little.
const PARSED_FILES = 8;
const parsedFiles = new Map<string, { bytes: Buffer; spec: ObjectSpec }>();

function parsed(path: string): ObjectSpec {
  const bytes = readObjectFile(path);
  const key = resolve(path);
  const last = parsedFiles.get(key);
  if (last && last.bytes.equals(bytes)) return last.spec;
  const spec = ObjectSpec.parse(bytes, basename(path));
  parsedFiles.delete(key);
  parsedFiles.set(key, { bytes, spec });
  if (parsedFiles.size > PARSED_FILES) parsedFiles.delete(parsedFiles.keys().next().value!);
  return spec;
}

export class Harness {
  private readonly located = new Map<string, Located>();
  /** The mock library's configuration and recorded calls, for harnesses built with it. */
  readonly mocks = new Mocks(this);

  private constructor(readonly collection: Collection) {}

  /** Without a program list, a mock harness object loads only its entries (its programs'
   * native sections are compiled with the mocks); another object loads every program. `opts`
   * may be the list of programs alone. */
  static load(objectPath: string, opts: string[] | HarnessOptions = {}): Harness {
    const { programs, rodata } = Array.isArray(opts) ? { programs: opts, rodata: undefined } : opts;
    return new Harness(loadHarnessObject(parsed(objectPath), { programs, rodata }));
  }

  /** Back to the state the object was loaded in (see Collection.reset). */
  reset(): void {
    this.collection.reset();
  }

  private locate(name: string): Located {
    let found = this.located.get(name);
    if (!found) this.located.set(name, (found = this.find(name)));
    return found;
  }

  private find(name: string): Located {
    const spec = this.collection.spec;
    const g = objectGlobals(spec).get(name);
    if (!g) throw new InputError(`no global named '${name}' in ${spec.name} (globals: ${[...objectGlobals(spec).keys()].join(', ') || 'none'})`);
    return { map: this.collection.map(g.section), offset: g.offset, size: g.size, typeId: g.typeId, readOnly: g.readOnly };
  }

  /** A global variable's value, decoded through BTF; a read-only one (.rodata) as it was loaded. */
  get(name: string): CValue {
    const { map, offset, typeId, readOnly } = this.locate(name);
    // A frozen section is not mapped into this process: one lookup.
    const memory = readOnly ? map.lookup(Buffer.alloc(4))! : map.mappedValue();
    return readValue(this.collection.spec.btf!, typeId, memory, offset);
  }

  /** Writes a global; for structs only the fields given change. A value that does not fit
   * changes nothing (it is encoded into a copy first). Read-only globals are given before the
   * load (HarnessOptions.rodata). */
  set(name: string, value: CValue): void {
    const { map, offset, size, typeId, readOnly } = this.locate(name);
    if (readOnly) throw new InputError(readOnlyGlobal(name, map.name));
    const memory = map.mappedValue();
    const bytes = Buffer.from(memory.subarray(offset, offset + size));
    writeValue(this.collection.spec.btf!, typeId, bytes, 0, value, name);
    bytes.copy(memory, offset);
  }

  map(name: string): BpfMap {
    return this.collection.map(name);
  }

  /** Runs the program: one syscall (globals already live in the kernel's memory). */
  run(program: string, opts: RunOptions): RunResult {
    return this.collection.program(program).run(opts);
  }

  close(): void {
    this.collection.close();
  }
}

/** Collection.load with a mock harness object's rules: no program list means its entries, a
 * mocked tail call in a BPF subprogram is refused before any syscall, and a native section the
 * verifier rejects is reported as such (HarnessError). */
export function loadHarnessObject(spec: ObjectSpec, opts: CollectionOptions): Collection {
  const programs = opts.programs ?? harnessEntries(spec);
  checkTailCalls(spec, programs ?? spec.programs.map((p) => p.name));
  try {
    return Collection.load(spec, { ...opts, programs });
  } catch (e) {
    throw explainNativeRejection(spec, e);
  }
}

/** Mocha hooks: load once for the enclosing describe(), reset before each test, close after.
 * Returns an accessor, since the harness exists only once the before() hook has run. */
export function useHarness(objectPath: string, opts?: string[] | HarnessOptions): () => Harness {
  let h: Harness | undefined;
  before(() => {
    h = Harness.load(objectPath, opts);
  });
  beforeEach(() => h!.reset());
  after(() => h?.close());
  return () => {
    if (!h) throw new InputError(`harness ${objectPath} is not loaded (use it inside it() blocks)`);
    return h;
  };
}
