// `bpfunit build`: compiles the configured programs and harnesses with clang, incrementally. An
// object is rebuilt when it is missing, when its command line changed (recorded next to it in
// OBJ.cmd) or when a file clang's dependency file (OBJ.d, from -MMD) lists is newer than it.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { BpfunitConfig, cflags, ConfigError, pathArg } from '../config';
import { findFiles } from '../coverage/config';
import { InputError } from '../errors';

export interface Target {
  source: string;
  object: string;
  /** clang's arguments, without the program name. */
  args: string[];
}

const GLOB = /[*?]/;

/** The files of the configured globs; each glob that matches no file is added to `unmatched`. */
function expand(config: BpfunitConfig, key: 'sources' | 'harnesses', unmatched: string[] = []): string[] {
  const out: string[] = [];
  for (const g of config[key]) {
    if (!GLOB.test(g)) {
      const p = resolve(config.root, g);
      if (!existsSync(p)) throw new ConfigError(`${config.file ?? 'configuration'}: "${key}": ${g}: no such file`);
      out.push(p);
      continue;
    }
    const found = findFiles(config.root, [g]);
    if (!found.length) unmatched.push(`${config.file ?? 'the default configuration'}: "${key}": '${g}' matches no file`);
    for (const f of found) out.push(resolve(config.root, f));
  }
  return out;
}

/** -I flags for the directories of the configured sources, which harnesses #include. */
export function harnessIncludes(config: BpfunitConfig, cwd: string, sources = expand(config, 'sources')): string[] {
  return [...new Set(sources.map((s) => dirname(s)))].map((d) => `-I${pathArg(d, cwd)}`);
}

/** What `build` compiles: every source, then every harness (with the sources' directories on the
 * include path). Two inputs that would write the same object are an InputError. A glob that
 * matches no file is said in `unmatched` (a typo'd one would leave the specs on stale objects);
 * sources of which none match are a ConfigError: bpfunit would build no program at all. */
export function targets(config: BpfunitConfig, unmatched: string[] = []): Target[] {
  const sources = expand(config, 'sources', unmatched);
  if (config.sources.length && !sources.length) {
    throw new ConfigError(`${config.file ?? 'the default configuration'}: "sources": no file matches ${config.sources.map((g) => `'${g}'`).join(', ')} (looked up in ${config.root}; "sources": [] if bpfunit is to build no program)`);
  }
  const harnesses = expand(config, 'harnesses', unmatched);
  const base = cflags(config);
  const sourceDirs = harnessIncludes(config, config.root, sources);
  const seen = new Map<string, string>();
  const out: Target[] = [];
  for (const [list, extra] of [[sources, []], [harnesses, sourceDirs]] as const) {
    for (const source of list) {
      const object = resolve(config.root, config.outDir, basename(source).replace(/\.c$/, '') + '.o');
      const other = seen.get(object);
      if (other && other !== source) throw new ConfigError(`${other} and ${source} would both build ${object}: rename one`);
      if (other) continue;
      seen.set(object, source);
      out.push({
        source,
        object,
        args: [...base, ...extra, '-MMD', '-MP', '-c', pathArg(source, config.root), '-o', pathArg(object, config.root)],
      });
    }
  }
  return out;
}

/** The prerequisites a clang -MMD dependency file lists for its object. */
export function dependencies(depFile: string): string[] {
  const text = readFileSync(depFile, 'utf8').replace(/\\\n/g, ' ');
  const rule = text.split('\n')[0];
  const colon = rule.search(/:(\s|$)/);
  if (colon < 0) return [];
  return rule.slice(colon + 1).trim().split(/(?<!\\)\s+/).filter(Boolean).map((p) => p.replace(/\\ /g, ' '));
}

function mtime(path: string): number | undefined {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

const cmdFile = (t: Target) => t.object.replace(/\.o$/, '.cmd');
const depFile = (t: Target) => t.object.replace(/\.o$/, '.d');

/** Whether a target's object is missing or older than its command line or inputs. */
export function stale(t: Target, root: string): boolean {
  const built = mtime(t.object);
  if (built === undefined || !existsSync(depFile(t)) || !existsSync(cmdFile(t))) return true;
  if (readFileSync(cmdFile(t), 'utf8') !== t.args.join('\n')) return true;
  return dependencies(depFile(t)).some((dep) => {
    const m = mtime(resolve(root, dep));
    return m === undefined || m > built;
  });
}

export interface BuildResult {
  built: Target[];
  failed: Target[];
  upToDate: number;
  /** Configured globs that matched no file, said as warnings. */
  unmatched: string[];
}

/** Compiles what is stale, one clang at a time, its diagnostics going straight to stderr. */
export function build(config: BpfunitConfig, opts: { clang?: string; echo?: (line: string) => void } = {}): BuildResult {
  const clang = opts.clang ?? process.env.CLANG ?? 'clang';
  const result: BuildResult = { built: [], failed: [], upToDate: 0, unmatched: [] };
  for (const t of targets(config, result.unmatched)) {
    if (!stale(t, config.root)) {
      result.upToDate++;
      continue;
    }
    mkdirSync(dirname(t.object), { recursive: true });
    opts.echo?.(`${clang} ${t.args.join(' ')}`);
    const r = spawnSync(clang, t.args, { cwd: config.root, stdio: ['ignore', 'inherit', 'inherit'] });
    if (r.error) throw new InputError(`cannot run ${clang}: ${r.error.message} (install clang, or set CLANG)`);
    if (r.status === 0) {
      writeFileSync(cmdFile(t), t.args.join('\n'));
      result.built.push(t);
    } else {
      result.failed.push(t);
    }
  }
  return result;
}
