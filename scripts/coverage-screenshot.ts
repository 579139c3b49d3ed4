// The HTML coverage report as a browser shows it: renders coverage/html/<file>.gcov.html with
// headless Chromium (Debian's; installed with apt-get when missing and running as root) to
// coverage/screenshots/<file>.png, and checks the page Chromium built (--dump-dom), not the file
// genhtml wrote: every line of the user's C file is on the page with its text, a line shows branch
// markers exactly when lcov.info has branch records for it, a line with branches has a branch of
// its own in the C text or calls a macro of the user's own headers that has one (BPF_LOG's level
// test), never only mock-library code, and no mock or harness file is in the report. Exit 1
// naming each failed check.
//
//   make coverage && node_modules/.bin/tsx scripts/coverage-screenshot.ts [bpf/sendmsg.c ...]
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..');
const OUT = path.join(ROOT, 'coverage');
const CHROMIUM = '/usr/bin/chromium';
const BRANCHY = /\b(if|for|while|switch|case|default)\b|\?|&&|\|\|/;

function chromium(): string {
  if (existsSync(CHROMIUM)) return CHROMIUM;
  if (process.getuid?.() !== 0) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (as root)`);
  execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], { stdio: 'inherit' });
  return CHROMIUM;
}

function run(args: string[]): string {
  // --no-sandbox: Chromium refuses to run its sandbox as root.
  const r = spawnSync(chromium(), ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', ...args], { encoding: 'utf8', maxBuffer: 64 << 20, timeout: 60_000 });
  if (r.status !== 0) throw new Error(`chromium ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** BRDA records per line of each SF in lcov.info. */
function lcovBranches(): Map<string, Map<number, number>> {
  const out = new Map<string, Map<number, number>>();
  let cur: Map<number, number> | undefined;
  for (const l of readFileSync(path.join(OUT, 'lcov.info'), 'utf8').split('\n')) {
    if (l.startsWith('SF:')) out.set(l.slice(3), (cur = new Map()));
    const m = /^BRDA:(\d+),/.exec(l);
    if (m && cur) cur.set(Number(m[1]), (cur.get(Number(m[1])) ?? 0) + 1);
  }
  return out;
}

const unescape = (s: string) => s.replace(/<[^>]*>/g, '').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
const squash = (s: string) => s.replace(/\s+/g, ' ').trim();

/** Function-like macros with a branch in their body, from the file and the local headers it
 * includes (`#include "..."`, as the user's code does; the mock library comes in as <mock/...>). */
function branchyMacros(file: string): Set<string> {
  const found = new Set<string>();
  const seen = new Set<string>();
  const visit = (f: string) => {
    if (seen.has(f) || !existsSync(f)) return;
    seen.add(f);
    const text = readFileSync(f, 'utf8');
    for (const m of text.matchAll(/^[ \t]*#[ \t]*define[ \t]+([A-Za-z_]\w*)\(((?:[^\n]*\\\n)*[^\n]*)/gm)) if (BRANCHY.test(m[2])) found.add(m[1]);
    for (const m of text.matchAll(/^[ \t]*#[ \t]*include[ \t]+"([^"]+)"/gm)) {
      for (const dir of [path.dirname(f), path.join(path.dirname(f), 'include')]) visit(path.join(dir, m[1]));
    }
  };
  visit(path.join(ROOT, file));
  return found;
}

function check(file: string, branches: Map<number, number>): string[] {
  const failures: string[] = [];
  const page = path.join(OUT, 'html', `${file}.gcov.html`);
  if (!existsSync(page)) return [`${file}: no page ${path.relative(ROOT, page)} (run make coverage)`];
  const source = readFileSync(path.join(ROOT, file), 'utf8').replace(/\n$/, '').split('\n');
  const png = path.join(OUT, 'screenshots', `${file}.png`);
  mkdirSync(path.dirname(png), { recursive: true });
  run([`--screenshot=${png}`, `--window-size=1400,${source.length * 17 + 400}`, `file://${page}`]);
  const head = readFileSync(png).subarray(0, 8).toString('hex');
  if (head !== '89504e470d0a1a0a' || statSync(png).size < 10_000) failures.push(`${file}: ${path.relative(ROOT, png)} is not a rendered PNG`);

  const dom = run(['--dump-dom', `file://${page}`]);
  const lines = new Map<number, { text: string; markers: number }>();
  for (const m of dom.matchAll(/<a name="(\d+)">([\s\S]*?)<\/a>/g)) {
    const body = m[2];
    const markers = (body.match(/class="branch(Cov|NoCov|NoExec)"/g) ?? []).length;
    // After the line number: branch markers, the count, then the source text (checked as a suffix).
    const text = unescape(body.replace(/^[\s\S]*?<span class="lineNum">[^<]*<\/span>/, ''));
    lines.set(Number(m[1]), { text, markers });
  }
  source.forEach((want, k) => {
    const got = lines.get(k + 1);
    if (!got) failures.push(`${file}:${k + 1} is not on the page`);
    else if (!squash(got.text).endsWith(squash(want))) failures.push(`${file}:${k + 1} shows ${JSON.stringify(squash(got.text))}, the file has ${JSON.stringify(squash(want))}`);
  });
  const macros = branchyMacros(file);
  const ownBranch = (text: string) => BRANCHY.test(text) || [...text.matchAll(/\b([A-Za-z_]\w*)\s*\(/g)].some((m) => macros.has(m[1]));
  for (const [n, { markers }] of lines) {
    const want = branches.get(n) ?? 0;
    // genhtml draws one marker per branch of a block and caps long lists: compare presence.
    if ((markers > 0) !== (want > 0)) failures.push(`${file}:${n} shows ${markers} branch markers, lcov.info has ${want} records`);
    if (markers > 0 && !ownBranch(source[n - 1] ?? '')) failures.push(`${file}:${n} shows branches on a line with no branch of its own: ${squash(source[n - 1] ?? '')}`);
  }
  return failures;
}

function main(): void {
  const branches = lcovBranches();
  const files = process.argv.slice(2).length ? process.argv.slice(2) : [...branches.keys()];
  const failures = [...branches.keys()].filter((f) => /(^|\/)mocks\/|harness/.test(f)).map((f) => `${f} (mock library or harness) is in lcov.info`);
  const index = run(['--dump-dom', `file://${path.join(OUT, 'html', 'index.html')}`]);
  if (/mocks\/include|harness/.test(unescape(index))) failures.push('coverage/html/index.html lists mock library or harness files');
  for (const f of files) failures.push(...check(f, branches.get(f) ?? new Map()));
  if (failures.length) {
    console.error(`coverage HTML check fails (${failures.length}):\n${failures.map((f) => `  - ${f}`).join('\n')}`);
    process.exit(1);
  }
  console.error(`coverage HTML check passes: ${files.length} pages rendered by Chromium, screenshots in coverage/screenshots/`);
}

main();
