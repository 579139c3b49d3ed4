// The one configuration of a repository that uses bpfunit: bpfunit.config.json at its root, or a
// "bpfunit" key in its package.json. Paths and globs are relative to that root, or absolute (a
// sibling checkout). Every key is optional; a wrong one is an InputError naming it.
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { InputError } from './errors';

export const CONFIG_FILE = 'bpfunit.config.json';

/** The configuration file a child process of bpfunit reads (set for the mocha of `bpfunit
 * coverage`, so its hooks read the file --config named). */
export const CONFIG_ENV = 'BPFUNIT_CONFIG';

/** The configuration is wrong (the message names the file and key): a usage error, exit 2. */
export class ConfigError extends InputError {}

export interface BpfunitConfig {
  /** Directory the paths below are relative to (where the configuration was found). */
  root: string;
  /** The file the configuration came from, undefined for the defaults. */
  file: string | undefined;
  /** That file's path (a package.json for its "bpfunit" key), for loading it again. */
  path: string | undefined;
  /** BPF programs to compile (globs). */
  sources: string[];
  /** Re-hosting harnesses (globs); compiled with every source's directory on the include path,
   * so `#include "prog.c"` finds the program under test. */
  harnesses: string[];
  /** Extra include directories (-I). */
  include: string[];
  /** Preprocessor definitions: NAME: value, or NAME: true for a bare -DNAME. */
  defines: Record<string, string | number | true>;
  /** Further clang flags, after bpfunit's own (`-g -O2 -target bpf ...`). */
  cflags: string[];
  /** Where objects go: OUTDIR/<source file name>.o. */
  outDir: string;
  /** Spec files run by `bpfunit test` (globs, as mocha reads them). */
  specs: string[];
  /** Coverage settings (include/exclude globs, thresholds, branch tables, output); see
   * src/coverage/config.ts. Kept raw here, validated by the coverage module. */
  coverage: Record<string, unknown> | undefined;
}

const DEFAULTS = {
  sources: ['bpf/*.c'],
  harnesses: [] as string[],
  include: [] as string[],
  defines: {} as Record<string, string | number | true>,
  cflags: [] as string[],
  outDir: 'build/bpf',
  specs: ['test/**/*.spec.{ts,js}'],
};

type Raw = Record<string, unknown>;

/** Finds the configuration from `start` upwards (bpfunit.config.json, else a package.json with a
 * "bpfunit" key); an explicit file must exist. Without either, the defaults rooted at `start`. */
export function loadConfig(start = process.cwd(), explicit?: string): BpfunitConfig {
  if (explicit) {
    const file = resolve(start, explicit);
    if (!existsSync(file)) throw new ConfigError(`${explicit}: no such configuration file`);
    if (basename(file) === 'package.json') {
      const json = readJson(file);
      if (!isObject(json.bpfunit)) throw new ConfigError(`${file}: no "bpfunit" object`);
      return parseConfig(json.bpfunit, dirname(file), `${file} (key "bpfunit")`, file);
    }
    return parseConfig(readJson(file), dirname(file), file);
  }
  for (let dir = resolve(start); ; dir = dirname(dir)) {
    const file = join(dir, CONFIG_FILE);
    if (existsSync(file)) return parseConfig(readJson(file), dir, file);
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      const json = readJson(pkg);
      if (json.bpfunit !== undefined) {
        if (!isObject(json.bpfunit)) throw new ConfigError(`${pkg}: "bpfunit" must be an object`);
        return parseConfig(json.bpfunit, dir, `${pkg} (key "bpfunit")`, pkg);
      }
    }
    if (dirname(dir) === dir) break;
  }
  return parseConfig({}, resolve(start), undefined);
}

function readJson(file: string): Raw {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConfigError(`${file}: not valid JSON: ${(e as Error).message}`);
  }
  if (!isObject(json)) throw new ConfigError(`${file}: must hold a JSON object`);
  return json;
}

function isObject(v: unknown): v is Raw {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const KEYS = new Set(['$schema', 'sources', 'harnesses', 'include', 'defines', 'cflags', 'outDir', 'specs', 'coverage']);

/** Validates a configuration object; `where` names it in errors. */
export function parseConfig(raw: Raw, root: string, file: string | undefined, path = file): BpfunitConfig {
  const where = file ?? 'bpfunit configuration';
  for (const k of Object.keys(raw)) {
    if (!KEYS.has(k)) throw new ConfigError(`${where}: unknown key "${k}" (known: ${[...KEYS].filter((x) => x !== '$schema').join(', ')})`);
  }
  const strings = (key: keyof typeof DEFAULTS): string[] => {
    const v = raw[key] ?? DEFAULTS[key];
    if (!Array.isArray(v) || v.some((s) => typeof s !== 'string' || s === '')) throw new ConfigError(`${where}: "${key}" must be an array of non-empty strings`);
    return v as string[];
  };
  const outDir = raw.outDir ?? DEFAULTS.outDir;
  if (typeof outDir !== 'string' || outDir === '') throw new ConfigError(`${where}: "outDir" must be a non-empty string`);
  const defines = raw.defines ?? DEFAULTS.defines;
  if (!isObject(defines)) throw new ConfigError(`${where}: "defines" must be an object of NAME: value`);
  for (const [name, value] of Object.entries(defines)) {
    if (!/^[A-Za-z_]\w*$/.test(name)) throw new ConfigError(`${where}: "defines": '${name}' is not a C identifier`);
    if (typeof value !== 'string' && typeof value !== 'number' && value !== true) {
      throw new ConfigError(`${where}: "defines.${name}" must be a string, a number or true`);
    }
  }
  const coverage = raw.coverage;
  if (coverage !== undefined && !isObject(coverage)) throw new ConfigError(`${where}: "coverage" must be an object`);
  return {
    root,
    file,
    path,
    sources: strings('sources'),
    harnesses: strings('harnesses'),
    include: strings('include'),
    defines: defines as Record<string, string | number | true>,
    cflags: strings('cflags'),
    outDir,
    specs: strings('specs'),
    coverage,
  };
}

/** The mock library's headers (`#include <mock/all.h>`), shipped with the package. */
export const MOCK_INCLUDE = resolve(__dirname, '..', 'mocks', 'include');

/** The multiarch include directory clang needs for <asm/types.h> with -target bpf. */
function multiarchInclude(): string {
  const arch = process.arch === 'arm64' ? 'aarch64-linux-gnu' : 'x86_64-linux-gnu';
  return `/usr/include/${arch}`;
}

const TARGET_ARCH: Record<string, string> = { x64: 'x86', arm64: 'arm64' };

/** A path for a command line run in `cwd`: relative when inside it (clang records source paths as
 * given, and coverage reports them relative to the root), absolute otherwise. */
export function pathArg(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  return rel === '' ? '.' : rel.startsWith('..') || isAbsolute(rel) ? path : rel;
}

/** clang flags for BPF objects under this configuration: bpfunit's base flags, the mock headers,
 * the configured includes and defines, then the configured flags (which may override). */
export function cflags(config: BpfunitConfig, cwd = config.root): string[] {
  const flags = ['-g', '-O2', '-target', 'bpf', `-D__TARGET_ARCH_${TARGET_ARCH[process.arch] ?? 'x86'}`, `-I${multiarchInclude()}`];
  for (const dir of config.include) flags.push(`-I${pathArg(resolve(config.root, dir), cwd)}`);
  flags.push(`-I${pathArg(MOCK_INCLUDE, cwd)}`);
  for (const [name, value] of Object.entries(config.defines)) flags.push(value === true ? `-D${name}` : `-D${name}=${value}`);
  flags.push('-Wall', '-Wno-unused-function', ...config.cflags);
  return flags;
}
