// Coverage settings: the "coverage" key of the project configuration (src/config.ts loads it,
// wherever it lives), else an older .bpfunit-coverage.json at its root (every field optional).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { BpfunitConfig, CONFIG_ENV, ConfigError, loadConfig as loadBpfunitConfig } from '../config';

export interface CoverageConfig {
  /** Minimum percentages over the reported files; `check` fails when one is missed. */
  thresholds: { lines?: number; branches?: number; functions?: number };
  /** Source files to report (globs: `*`, `**`, `?`): repository-relative, or absolute (or `../`)
   * for sources outside it such as a sibling checkout; `**` matches both. System headers, the mock
   * library and harnesses are never reported. */
  include: string[];
  exclude: string[];
  /** Branch tables to evaluate (globs). */
  branchTables: string[];
  /** Program names whose coverage counts for the rows of another program name. */
  programAliases: Record<string, string[]>;
  /** Output directory for lcov.info, html/, branch-table.json and bpf-coverage.json. */
  output: string;
  /** Run genhtml (Debian package lcov) after writing lcov.info. */
  html: boolean;
}

export const CONFIG_FILE = '.bpfunit-coverage.json';

export const DEFAULT_CONFIG: CoverageConfig = {
  thresholds: {},
  include: ['**'],
  exclude: [],
  branchTables: ['spec/branches/*.json'],
  programAliases: {},
  output: 'coverage',
  html: true,
};

/** The coverage settings of a project configuration, as the one loader (src/config.ts) found it
 * (bpfunit.config.json, the "bpfunit" key of package.json, or --config): its "coverage" key, else
 * an older .bpfunit-coverage.json at its root, else the defaults. The default `include` adds the
 * directories of sources outside the root. */
export function coverageConfig(project: BpfunitConfig): CoverageConfig {
  const root = project.root;
  const outside = project.sources.map((g) => resolve(root, g)).filter((p) => relative(root, p).startsWith('..'));
  const include = ['**', ...new Set(outside.map((p) => `${dirname(p)}/**`))];
  if (project.coverage) return fromRaw({ include, ...project.coverage } as Partial<CoverageConfig>, `${project.file} (key "coverage")`);
  const legacy = join(root, CONFIG_FILE);
  return existsSync(legacy) ? fromRaw({ include, ...readRaw(legacy) }, legacy) : { ...DEFAULT_CONFIG, include };
}

/** The settings in `explicit`, a file of coverage settings alone (what `bpfunit mutate` writes for
 * its pass), else those of the project configuration found from `start` (or named by
 * BPFUNIT_CONFIG, which `bpfunit coverage` passes on for --config). */
export function loadConfig(start: string, explicit?: string): CoverageConfig {
  if (explicit) {
    if (!existsSync(explicit)) throw new ConfigError(`${explicit}: no such file`);
    return fromRaw(readRaw(explicit), explicit);
  }
  return coverageConfig(loadBpfunitConfig(start, process.env[CONFIG_ENV] || undefined));
}

function readRaw(path: string): Partial<CoverageConfig> {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new ConfigError(`${path}: ${(e as Error).message}`);
  }
}

function fromRaw(raw: Partial<CoverageConfig>, path: string): CoverageConfig {
  const config = { ...DEFAULT_CONFIG, ...raw, thresholds: { ...DEFAULT_CONFIG.thresholds, ...raw.thresholds } };
  for (const [k, v] of Object.entries(config.thresholds)) {
    if (v !== undefined && (typeof v !== 'number' || v < 0 || v > 100)) throw new ConfigError(`${path}: coverage.thresholds.${k} must be a percentage (0-100)`);
  }
  for (const k of ['include', 'exclude', 'branchTables'] as const) {
    if (!Array.isArray(config[k]) || config[k].some((g) => typeof g !== 'string')) throw new ConfigError(`${path}: coverage.${k} must be an array of globs`);
  }
  return config;
}

/** A glob as a regular expression over '/'-separated relative paths. */
export function globRegExp(glob: string): RegExp {
  let re = '';
  for (let k = 0; k < glob.length; k++) {
    const c = glob[k];
    if (c === '*' && glob[k + 1] === '*') {
      k++;
      if (glob[k + 1] === '/') {
        k++;
        re += '(?:.*/)?';
      } else {
        re += '.*';
      }
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** The C mock library's headers, wherever this package is installed: their code is the mocks',
 * never the program's. */
export const MOCK_LIBRARY = resolve(__dirname, '../../mocks/include');

/** Headers of the system and the toolchain (libbpf's bpf_helpers.h, uapi): never reported. */
const SYSTEM_DIRS = ['/usr/'];

/** A harness: C that includes the mock library to re-host a program; it is test scaffolding. */
export function isHarness(source: string): boolean {
  return /^\s*#\s*include\s*[<"]mock\//m.test(source);
}

/** Whether a reported path (repository-relative, or absolute when outside the repository) is to
 * be reported: not a system or mock library header, and matched by the globs (a `../` glob is
 * resolved against the root, so it names files outside it as absolute paths do). */
export function reported(file: string, config: CoverageConfig, root: string): boolean {
  const abs = resolve(root, file);
  if (SYSTEM_DIRS.some((d) => abs.startsWith(d)) || abs.startsWith(MOCK_LIBRARY + sep)) return false;
  const matches = (globs: string[]) => globs.some((g) => globRegExp(g.startsWith('../') ? resolve(root, g) : g).test(file));
  return matches(config.include) && !matches(config.exclude);
}

/** Files matching any of the globs (relative to root, or absolute), as matched, sorted. */
export function findFiles(root: string, globs: string[]): string[] {
  const out = new Set<string>();
  for (const g of globs) {
    const re = globRegExp(g);
    const fixed = g.split('/');
    const firstGlob = fixed.findIndex((p) => /[*?]/.test(p));
    const baseDir = resolve(root, fixed.slice(0, firstGlob < 0 ? fixed.length - 1 : firstGlob).join('/'));
    const walk = (dir: string, depth: number) => {
      if (depth > 8 || !existsSync(dir)) return;
      for (const name of readdirSync(dir)) {
        if (name === 'node_modules' || name.startsWith('.git')) continue;
        const full = join(dir, name);
        const rel = isAbsolute(g) ? full : relative(root, full).split('\\').join('/');
        if (statSync(full).isDirectory()) walk(full, depth + 1);
        else if (re.test(rel)) out.add(rel);
      }
    };
    walk(baseDir, 0);
  }
  return [...out].sort();
}
