// A loaded object: its BTF, every map (data sections filled, .rodata frozen) and the programs
// asked for. close() releases every fd it opened, also when loading fails half-way.
import { InputError, LinkError } from '../errors';
import { CValue } from '../btf/value';
import { objectGlobals, withRodata } from '../object/globals';
import { kconfigData, KconfigValue } from '../object/kconfig';
import { MapSpec, MapType } from '../object/maps';
import { KCONFIG_MAP, ObjectSpec, ProgramSpec } from '../object/object';
import { closeFd, Cmd } from '../sys/bpf';
import { bpfCallCount } from '../sys/ffi';
import { loadBtfBlob } from './btf';
import { kernelFacts } from './kernel-facts';
import { AttachTargets } from './attach-target';
import { KernelSymbols } from './ksyms';
import { ModuleBtfs } from './kernel-btf';
import { BpfMap, DEFAULT_MAX_MAP_BYTES, kernelBytes, programsCanWrite } from './map';
import { objectCreated } from './created';
import { Program } from './program';
import { bytes, Bytes } from '../validate';

export interface CollectionOptions {
  /** Load only these programs (others may be invalid for their own type); default: all. */
  programs?: string[];
  /** Replaces Collection.defaultHook for this load; null loads without any hook. */
  hook?: CollectionHook | null;
  /** The most key and value memory one map may ask the kernel for, in bytes (default 1 GiB): a
   * larger map is refused before any syscall. */
  maxMapBytes?: number;
  /** CO-RE: relocate against this BTF file (raw BTF or ELF with .BTF, e.g. another kernel's)
   * instead of the running kernel's /sys/kernel/btf/vmlinux, like libbpf's btf_custom_path. */
  targetBtf?: string;
  /** Values for `__kconfig` CONFIG_ externs in place of the kernel's config, e.g. to test the
   * CONFIG_X=n branch on a kernel built with it: 'y' | 'n' | 'm', a number, or a string. */
  kconfig?: Record<string, KconfigValue>;
  /** Values of read-only globals (`const volatile`, in .rodata or a .rodata.* section) written
   * into the section before its map is created and frozen, as a libbpf skeleton sets
   * `skel->rodata->x` between open and load: the verifier sees them as constants. Encoded through
   * BTF with Harness.set's checks; structs may be given in part. */
  rodata?: Record<string, CValue>;
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

const DEFAULT_HOOK = Symbol.for('bpfunit.Collection.defaultHook');

export class Collection {
  readonly programs = new Map<string, Program>();
  readonly maps = new Map<string, BpfMap>();
  /** Maps some loaded program refers to, so a test run may have changed them. */
  private readonly usedByPrograms = new Set<string>();
  /** Each map's C-initialised entries (prog array slots), written again by reset(). */
  private readonly initial = new Map<string, [Buffer, Buffer][]>();
  /** BPF_PROG_TEST_RUN calls made by the process when the state was last the loaded one. */
  private runsAtReset = 0;
  private readonly globals = new Map<string, GlobalVariable>();
  private btfFd: number | undefined;
  private closed = false;
  private hook: CollectionHook | undefined;
  /** Applied to every load whose options do not set `hook` (coverage and mutation set it). Kept
   * process-wide, not per module instance: the CLI runs from dist/ while specs may load bpfunit
   * from elsewhere (TypeScript sources, a second installed copy), and the hook must reach them. */
  static get defaultHook(): CollectionHook | undefined {
    return (globalThis as { [DEFAULT_HOOK]?: CollectionHook })[DEFAULT_HOOK];
  }
  static set defaultHook(hook: CollectionHook | undefined) {
    (globalThis as { [DEFAULT_HOOK]?: CollectionHook })[DEFAULT_HOOK] = hook;
  }

  private constructor(readonly spec: ObjectSpec) {}

  static load(spec: ObjectSpec, opts: CollectionOptions = {}): Collection {
    // Module BTF fds kfuncs, typed ksyms and attach targets name must outlive the program
    // loads, no more; the modules are enumerated at most once for all of them.
    const modules = new ModuleBtfs();
    try {
      return Collection.loadWith(spec, opts, new KernelSymbols(modules), new AttachTargets(modules));
    } finally {
      modules.close();
    }
  }

  private static loadWith(spec: ObjectSpec, opts: CollectionOptions, symbols: KernelSymbols, targets: AttachTargets): Collection {
    const names = opts.programs ?? spec.programs.map((p) => p.name);
    let wanted = names.map((n) => spec.program(n)); // throws for unknown names before any syscall
    const broken = wanted.find((p) => p.error);
    if (broken) throw broken.error;
    wanted = relocateCore(spec, wanted, opts.targetBtf);
    const hook = opts.hook === undefined ? Collection.defaultHook : opts.hook ?? undefined;
    let maps = withRodata(spec, withKconfig(spec, wanted, opts.kconfig), opts.rodata);
    if (wanted.some((p) => p.instructions.some((i) => i.ksym?.kind === 'kfunc'))) symbols.planFdArray(spec.programs);
    wanted = wanted.map((p) => targets.resolve(symbols.resolve(p, spec.btf)));
    const fdArray = symbols.fdArray();
    if (maps.some((m) => m.structOps)) ({ maps, programs: wanted } = structOps(maps, wanted));
    if (hook) {
      const prepared = hook.prepare(spec, wanted);
      wanted = prepared.programs;
      maps = [...maps, ...prepared.maps];
    }
    const limit = opts.maxMapBytes ?? DEFAULT_MAX_MAP_BYTES;
    if (!(limit >= 0) || !Number.isSafeInteger(limit)) throw new InputError(`maxMapBytes must be a whole number of bytes >= 0, got ${limit}`);
    checkMapSizes(maps, limit);
    const c = new Collection(spec);
    c.hook = hook;
    try {
      c.btfFd = loadBtf(spec);
      if (c.btfFd !== undefined) objectCreated(c.btfFd);
      for (const m of maps) {
        const map = createMap(m, c.btfFd);
        c.maps.set(m.name, map);
        if (m.data?.freeze) {
          // Written once and frozen: the kernel refuses writable mappings of it, and reading it
          // by syscall is rare enough.
          map.update(Buffer.alloc(4), m.data.contents);
          map.freeze();
        } else if (m.data) {
          map.mapMemory(true);
          m.data.contents.copy(map.mappedValue());
        }
      }
      const mapFd = (n: string) => {
        c.usedByPrograms.add(n);
        return c.map(n).fd;
      };
      c.fillMapSlots();
      for (const p of wanted) {
        try {
          c.programs.set(p.name, Program.load(p, { btfFd: c.btfFd, mapFd, fdArray }));
        } catch (e) {
          throw hasCoreRelos(spec.program(p.name)) ? core().explainPoison(e, p) : e;
        }
      }
      c.fillProgramSlots();
      for (const m of c.maps.values()) m.markLoaded();
      c.runsAtReset = bpfCallCount(Cmd.PROG_TEST_RUN);
      hook?.loaded?.(c);
    } catch (e) {
      c.close();
      throw e;
    }
    return c;
  }

  /** Map-of-maps slots initialised in C get the fds of the maps they name. */
  private fillMapSlots(): void {
    for (const m of this.spec.maps) {
      for (const slot of m.mapSlots ?? []) this.fillSlot(m.name, slot.index, this.map(slot.map).fd);
    }
  }

  /** Prog array slots initialised in C get the fds of the programs they name, when loaded. */
  private fillProgramSlots(): void {
    for (const m of this.spec.maps) {
      for (const slot of m.programSlots ?? []) {
        const prog = this.programs.get(slot.program);
        if (prog) this.fillSlot(m.name, slot.index, prog.fd); // not asked for: empty, as a failed tail call
      }
    }
  }

  /** Writes an fd into a slot and keeps it as part of the loaded state reset() restores. */
  private fillSlot(map: string, index: number, fd: number): void {
    const key = Buffer.alloc(4);
    key.writeUInt32LE(index);
    const value = Buffer.alloc(4);
    value.writeUInt32LE(fd);
    this.map(map).update(key, value);
    const init = this.initial.get(map) ?? [];
    init.push([key, value]);
    this.initial.set(map, init);
  }

  /** Brings the object's maps back to the state they were loaded in: data sections to the bytes
   * the object was compiled with (memory copies), prog array slots to the programs the C source
   * put there, every other map empty (arrays zeroed). Only what may have changed is touched: the
   * keys written through bpfunit, and, when a test run happened since, the maps programs use (a
   * batch call each). Maps a tool added (coverage counters) and maps userspace cannot empty
   * (ring buffers, perf event arrays, local storage, bloom filters) are left alone. */
  reset(): void {
    const runs = bpfCallCount(Cmd.PROG_TEST_RUN);
    const ran = runs !== this.runsAtReset;
    for (const spec of this.spec.maps) {
      const map = this.map(spec.name);
      if (spec.data) {
        if (!spec.data.freeze) spec.data.contents.copy(map.mappedValue());
        continue;
      }
      if (NOT_RESETTABLE.has(spec.type)) continue;
      const programsRan = ran && this.usedByPrograms.has(spec.name) && programsCanWrite(spec);
      map.restore(this.initial.get(spec.name) ?? [], programsRan);
    }
    this.runsAtReset = runs;
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
    let g = this.globals.get(name);
    if (!g) this.globals.set(name, (g = this.findGlobal(name)));
    return g;
  }

  private findGlobal(name: string): GlobalVariable {
    const g = objectGlobals(this.spec).get(name);
    if (!g) throw new InputError(`no global variable named '${name}' in the data sections of ${this.spec.name}`);
    return { map: this.map(g.section), offset: g.offset, size: g.size };
  }

  /** A copy of a global's bytes: read from the mapped section (no syscall), or by lookup for a
   * frozen .rodata section. */
  readGlobal(name: string): Buffer {
    const g = this.global(name);
    const all = g.map.mapped ? g.map.mappedValue() : g.map.lookup(Buffer.alloc(4))!;
    return Buffer.from(all.subarray(g.offset, g.offset + g.size));
  }

  /** Writes a global into the mapped section: programs see it at once, no syscall. */
  writeGlobal(name: string, valueBytes: Bytes): void {
    const value = bytes(valueBytes, `global ${name}`);
    const g = this.global(name);
    if (g.map.spec.data?.freeze) throw new InputError(readOnlyGlobal(name, g.map.name));
    if (value.length !== g.size) throw new InputError(`global ${name} is ${g.size} bytes, got ${value.length}`);
    value.copy(g.map.mappedValue(), g.offset);
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

/** Why a .rodata global cannot be written once loaded, and how to give its value. */
export function readOnlyGlobal(name: string, section: string): string {
  return `global ${name} is in ${section}, read-only once loaded (frozen): give its value before loading with the rodata load option (useHarness(object, { rodata: { ${name}: ... } }), Harness.load, Collection.load)`;
}

/** Map types whose contents userspace can neither read nor empty (records, sockets' storage,
 * struct_ops (written only to register them);
 * sockets: an empty SOCKMAP slot refuses a delete with EINVAL, and bpfunit never puts one in). */
const NOT_RESETTABLE = new Set<number>([MapType.SOCKMAP, MapType.SOCKHASH, MapType.RINGBUF, MapType.PERF_EVENT_ARRAY, MapType.SK_STORAGE, MapType.INODE_STORAGE, MapType.TASK_STORAGE, MapType.CGRP_STORAGE, MapType.BLOOM_FILTER, MapType.STRUCT_OPS]);

/** Refuses, before any syscall, a map that asks the kernel for more memory than `limit`. */
function checkMapSizes(maps: MapSpec[], limit: number): void {
  for (const m of maps) {
    const bytes = kernelBytes(m);
    if (bytes > limit) {
      throw new InputError(`map ${m.name} asks the kernel for ${bytes} bytes (${m.maxEntries} entries of ${m.keySize}-byte keys and ${m.valueSize}-byte values), more than maxMapBytes (${limit})`);
    }
  }
}

/** The programs with their CO-RE relocations applied; the target BTF is read only when some
 * program has one (as libbpf does). */
function relocateCore(spec: ObjectSpec, programs: ProgramSpec[], targetBtf: string | undefined): ProgramSpec[] {
  if (!spec.btf || !programs.some(hasCoreRelos)) return programs;
  const { relocateInstructions, fileCoreTarget, kernelCoreTarget } = core();
  const target = targetBtf === undefined ? kernelCoreTarget() : fileCoreTarget(targetBtf);
  return programs.map((p) => (hasCoreRelos(p) ? { ...p, instructions: relocateInstructions(p.instructions, spec.btf!, target, p.name) } : p));
}

function hasCoreRelos(p: ProgramSpec): boolean {
  return p.instructions.some((i) => i.coreRelo !== undefined);
}

/** The CO-RE modules, loaded on first use: most objects have no CO-RE relocation, and under
 * ts-node every module costs start-up time (the CLI starts once per command). */
function core(): typeof import('../core/relocate') & typeof import('../core/explain') & typeof import('./core-target') {
  return { ...require('../core/relocate'), ...require('../core/explain'), ...require('./core-target') };
}

/** struct_ops maps and programs resolved against the kernel's BTF (read only for objects that
 * have them). */
function structOps(maps: MapSpec[], programs: ProgramSpec[]): { maps: MapSpec[]; programs: ProgramSpec[] } {
  const { resolveStructOps } = require('./struct-ops') as typeof import('./struct-ops');
  const { kernelCoreTarget } = require('./core-target') as typeof import('./core-target');
  return resolveStructOps(kernelCoreTarget().main, maps, programs);
}

/** A map of maps needs a template of its inner maps while it is created, and only then. */
function createMap(m: MapSpec, btfFd: number | undefined): BpfMap {
  if (!m.inner) return BpfMap.create(m, { btfFd });
  const template = BpfMap.create(m.inner, { btfFd });
  try {
    return BpfMap.create(m, { btfFd, innerMapFd: template.fd });
  } finally {
    template.close();
  }
}

/** The object's maps with the .kconfig map's bytes resolved for this kernel and the overrides;
 * a wanted program that reads an extern without a usable value fails here, before any syscall. */
function withKconfig(spec: ObjectSpec, wanted: ProgramSpec[], overrides: Record<string, KconfigValue> | undefined): MapSpec[] {
  for (const name of Object.keys(overrides ?? {})) {
    if (!name.startsWith('CONFIG_')) throw new InputError(`kconfig override '${name}': only CONFIG_ options can be set`);
  }
  if (spec.kconfig.length === 0) return spec.maps;
  const { data, problems } = kconfigData(spec.kconfig, kernelFacts(spec.kconfig.map((e) => e.name)), overrides);
  for (const p of wanted) {
    for (const i of p.instructions) {
      const ext = i.reference?.kind === 'mapValue' ? i.reference.extern : undefined;
      const problem = ext === undefined ? undefined : problems.get(ext);
      if (problem) throw new LinkError(`program ${p.name}: ${problem}`);
    }
  }
  return spec.maps.map((m) => (m.name === KCONFIG_MAP ? { ...m, data: { ...m.data!, contents: data } } : m));
}

/** Loads the object's BTF so maps can use it and the verifier can cite source lines. */
function loadBtf(spec: ObjectSpec): number | undefined {
  const bytes = spec.btfForKernel();
  return bytes && loadBtfBlob(bytes, spec.name);
}
