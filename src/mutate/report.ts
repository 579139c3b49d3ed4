// Mutation scores per C file and per program, as JSON, a small HTML page and terminal text.
import type { MutantResult, Status } from './run';

export interface Score {
  killed: number;
  survived: number;
  rejected: number;
  uncovered: number;
  /** killed / (killed + survived + uncovered), in %: rejected mutants never ran. */
  score: number;
}

export interface MutationReport {
  files: Record<string, Score>;
  programs: Record<string, Score>;
  mutants: MutantResult[];
  /** Wall time of the mutant runs (not the coverage pass), seconds. */
  seconds: number;
}

function scoreOf(list: MutantResult[]): Score {
  const n = (s: Status) => list.filter((m) => m.status === s).length;
  const s = { killed: n('killed'), survived: n('survived'), rejected: n('rejected'), uncovered: n('uncovered') };
  const ran = s.killed + s.survived + s.uncovered;
  return { ...s, score: ran ? Math.round((1000 * s.killed) / ran) / 10 : 100 };
}

function groupBy(list: MutantResult[], key: (m: MutantResult) => string): Record<string, Score> {
  const groups = new Map<string, MutantResult[]>();
  for (const m of list) groups.set(key(m), [...(groups.get(key(m)) ?? []), m]);
  return Object.fromEntries([...groups].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, scoreOf(v)]));
}

export function buildReport(mutants: MutantResult[], seconds: number): MutationReport {
  return {
    files: groupBy(mutants, (m) => m.file ?? '?'),
    programs: groupBy(mutants, (m) => `${m.object}/${m.program}`),
    mutants,
    seconds,
  };
}

const line = (name: string, s: Score) =>
  `${s.score.toFixed(1).padStart(6)}%  ${name}  (killed ${s.killed}, survived ${s.survived}, uncovered ${s.uncovered}, rejected ${s.rejected})`;

/** Scores, then every survivor and uncovered mutant by C line. */
export function formatReport(r: MutationReport): string {
  const out = ['mutation score per program:', ...Object.entries(r.programs).map(([k, s]) => line(k, s))];
  out.push('per file:', ...Object.entries(r.files).map(([k, s]) => line(k, s)));
  const open = r.mutants.filter((m) => m.status === 'survived' || m.status === 'uncovered');
  if (open.length) out.push('not killed:');
  for (const m of open) out.push(`  ${m.file}:${m.line}  ${m.status.padEnd(9)} ${m.change.padEnd(26)} ${m.text}   [${m.id}]`);
  const ran = r.mutants.length;
  out.push(`${ran} mutants in ${r.seconds.toFixed(1)} s (${(ran / Math.max(r.seconds, 1e-9)).toFixed(2)} mutants/s)`);
  return out.join('\n');
}

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

export function htmlReport(r: MutationReport): string {
  const table = (title: string, rows: Record<string, Score>) =>
    `<h2>${title}</h2><table><tr><th>name</th><th>score</th><th>killed</th><th>survived</th><th>uncovered</th><th>rejected</th></tr>` +
    Object.entries(rows).map(([k, s]) => `<tr><td>${esc(k)}</td><td>${s.score}%</td><td>${s.killed}</td><td>${s.survived}</td><td>${s.uncovered}</td><td>${s.rejected}</td></tr>`).join('') +
    '</table>';
  const mutants = '<h2>Mutants</h2><table><tr><th>status</th><th>line</th><th>change</th><th>source</th><th>detail</th></tr>' +
    r.mutants.map((m) => `<tr class="${m.status}"><td>${m.status}</td><td>${esc(`${m.file}:${m.line}`)}</td><td>${esc(m.change)}</td><td><code>${esc(m.text ?? '')}</code></td><td>${esc(m.detail ?? '')}</td></tr>`).join('') +
    '</table>';
  return `<!doctype html><meta charset="utf-8"><title>bpfunit mutation report</title>
<style>body{font-family:sans-serif}td,th{padding:2px 8px;text-align:left}.survived,.uncovered{background:#fdd}.killed{background:#dfd}.rejected{color:#888}</style>
<h1>bpfunit mutation report</h1>${table('Programs', r.programs)}${table('Files', r.files)}${mutants}`;
}
