// `bpfunit init`: scaffolds bpfunit into an existing repository (the configuration, an XDP program,
// an sk_msg program re-hosted by a harness, their specs, npm scripts) without overwriting anything.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { InputError } from '../errors';

export const TEMPLATES = join(__dirname, '..', '..', 'templates');

const SCRIPTS: Record<string, string> = {
  'bpf:build': 'bpfunit build',
  'bpf:test': 'bpfunit test',
  'bpf:coverage': 'bpfunit coverage',
};
/** npm init's placeholder, which `bpfunit test` may replace. */
const NPM_PLACEHOLDER = /^echo "Error: no test specified" && exit 1$/;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    return statSync(full).isDirectory() ? files(full) : [full];
  });
}

/** Writes what is missing; returns one line per file: created, or kept as it was. */
export function init(root: string): string[] {
  const out: string[] = [];
  for (const template of files(TEMPLATES)) {
    const rel = relative(TEMPLATES, template);
    const target = join(root, rel);
    if (existsSync(target)) {
      out.push(`kept    ${rel} (exists)`);
      continue;
    }
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, readFileSync(template));
    out.push(`created ${rel}`);
  }
  const ignore = join(root, '.gitignore');
  if (!existsSync(ignore)) {
    writeFileSync(ignore, 'node_modules/\nbuild/\ncoverage/\n');
    out.push('created .gitignore');
  } else if (!/^\/?build\/?$/m.test(readFileSync(ignore, 'utf8'))) {
    out.push('note    add build/ and coverage/ to .gitignore (kept as it was)');
  }
  out.push(...scripts(root));
  return out;
}

function scripts(root: string): string[] {
  const path = join(root, 'package.json');
  if (!existsSync(path)) return ['note    no package.json: run `npm init -y` and `npm install --save-dev bpfunit` first for the npm scripts'];
  let pkg: { scripts?: Record<string, string> };
  const text = readFileSync(path, 'utf8');
  try {
    pkg = JSON.parse(text);
  } catch (e) {
    throw new InputError(`${path}: not valid JSON: ${(e as Error).message}`);
  }
  const scripts = (pkg.scripts ??= {});
  const added: string[] = [];
  const wanted = { ...SCRIPTS, test: 'bpfunit test' };
  for (const [name, command] of Object.entries(wanted)) {
    const have = scripts[name];
    if (have === undefined || (name === 'test' && NPM_PLACEHOLDER.test(have))) {
      scripts[name] = command;
      added.push(name);
    }
  }
  if (!added.length) return ['kept    package.json scripts (bpf:* and test exist)'];
  const indent = /^(\s+)"/m.exec(text)?.[1] ?? '  ';
  writeFileSync(path, JSON.stringify(pkg, null, indent) + '\n');
  return [`added   npm scripts: ${added.join(', ')}`];
}
