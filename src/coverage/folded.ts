// Lines clang left without code of their own. An arm of an `if` such as `return XDP_DROP;`, a
// switch section or an inlined helper is often folded into register selects or a shared exit
// block attributed to other lines: it has no line_info record, so it would never appear as a
// missed line even when it never ran. Such code is credited with the count of the side of the
// condition that leads to it, decided as a branch-table row is (direction.ts), where one jump
// alone decides it; otherwise its lines are listed as undecided and the file's line figure is
// reported as partial, never as a clean 100%.
import { blank, callersOf, conditionalAt, Conditional, enclosingBlock, functionsIn, Pos, Range } from './c-source';
import { decisions } from './direction';
import type { ProgramLayout } from './layout';
import { FileCoverage, sourcePath } from './lines';

const CALL = /\b(?!(?:if|for|while|switch|return|sizeof)\b)[A-Za-z_]\w*\s*\(/;

/** Lines of a range that hold a statement (not only braces, `else`, labels or comments), other
 * than calls: a call without code of its own on its line was inlined, and its code is counted on
 * the lines of the function it called. */
function statementLines(text: string[], r: Range): number[] {
  const out: number[] = [];
  for (let l = r.start.line; l <= r.end.line; l++) {
    let s = text[l - 1] ?? '';
    if (l === r.end.line) s = s.slice(0, r.end.col);
    if (l === r.start.line) s = s.slice(r.start.col - 1);
    s = s.replace(/\belse\b/g, '').replace(/\b(case\b[^:]*|default\s*):/g, '');
    if (/[^\s{}]/.test(s) && !CALL.test(s)) out.push(l);
  }
  return out;
}

/** The most conditional jumps that one function copy has on file:line. */
function jumpsPerCopy(file: string, line: number, layouts: Map<string, ProgramLayout>, root: string): number {
  let most = 0;
  for (const layout of layouts.values()) {
    const ours = layout.files.map((p) => sourcePath(p, root) === file);
    for (const fn of layout.functions) {
      const n = fn.blocks.filter((b) => b.branch && ours[b.branch.at[0]] && b.branch.at[1] === line).length;
      most = Math.max(most, n);
    }
  }
  return most;
}

const after = (p: Pos): Pos => ({ line: p.line, col: p.col + 1 });

/** Code whose count is that of one side of the condition at `line`: [range, side]. */
function sidesOf(source: string, c: Conditional): [Range, 'true' | 'false'][] {
  if (c.keyword === 'case') return [[c.then, 'true']];
  if (c.keyword !== 'if') return [];
  const arms: [Range, 'true' | 'false'][] = [[c.then, 'true']];
  if (c.else) arms.push([c.else, 'false']);
  else if (c.thenJumps) {
    // `if (x) return a; rest;`: the rest of the block runs exactly when the condition is false.
    const block = enclosingBlock(source, c.stmt.start);
    if (block) arms.push([{ start: after(c.stmt.end), end: block.end }, 'false']);
  }
  return arms;
}

/** Adds a DA line for every statement of folded code whose count could be decided; returns the
 * statement lines of folded code that could not be. */
export function addFoldedArms(
  f: FileCoverage,
  layouts: Map<string, ProgramLayout>,
  counts: Map<string, number[]>,
  root: string,
  read: (file: string) => string | undefined,
): number[] {
  const source = read(f.file);
  if (source === undefined) return [];
  const text = blank(source).split('\n');
  const withCode = new Set(f.lines.keys());
  const undecided = new Set<number>();
  const defs = functionsIn(source);
  const hasCode = (r: Range) => [...withCode].some((l) => l >= r.start.line && l <= r.end.line);
  const live = defs.filter((d) => hasCode(d.body));
  // A function with no code that a function with code calls was inlined and folded away whole.
  const callers = (name: string) => callersOf([source], name);
  for (const d of defs) {
    if (live.includes(d) || !live.some((l) => callers(d.name).has(l.name))) continue;
    for (const l of statementLines(text, d.body)) undecided.add(l);
  }
  for (const def of live) {
    // Outer statements first, so that an inner folded arm overrides the outer arm's count.
    for (let line = def.body.start.line; line <= def.body.end.line; line++) {
      let c: Conditional | undefined;
      try {
        c = conditionalAt(source, line);
      } catch {
        continue;
      }
      if (!c) continue;
      for (const [range, side] of sidesOf(source, c)) {
        const lines = statementLines(text, range);
        if (lines.length === 0 || lines.some((l) => withCode.has(l))) continue;
        const d = decisions(f.file, line, layouts, root, read);
        // Only a single jump per copy, one edge per side, is trusted: where clang merged several
        // conditions into the jumps of one line (an if-chain or a switch turned into selects),
        // an inferred side can belong to another statement's condition.
        const single = (cp: (typeof d.copies)[number]) =>
          cp.how !== undefined && cp.edges.length === 2 && cp.edges.some((e) => e.side === 'true') && cp.edges.some((e) => e.side === 'false');
        if (d.copies.length === 0 || !d.copies.every(single) || jumpsPerCopy(f.file, line, layouts, root) > 1) {
          for (const l of lines) undecided.add(l);
          continue;
        }
        let hits = 0;
        for (const cp of d.copies) {
          const values = counts.get(cp.key) ?? [];
          for (const e of cp.edges) if (e.side === side) hits += values[e.counter] ?? 0;
        }
        for (const l of lines) {
          f.lines.set(l, hits);
          undecided.delete(l);
        }
      }
    }
  }
  return [...undecided].sort((a, b) => a - b);
}
