// Which jump direction of the `if` a branch-table row names is "condition true"? (Pure: works on
// layouts and C sources.) clang inverts conditions at will (`if (x > 100)` often
// becomes `if 101 > r1 goto <else>`), splits `a && b` into several jumps, merges arms and inlines
// calls, so the jump's opcode says nothing. The rule used here looks at where each edge leads:
// 1. The decision jumps of a row are the conditional jumps whose line_info position lies between
//    the `if` keyword and its closing parenthesis (found by parsing the C source, c-source.ts).
//    A jump without a line_info record of its own inherits the line of an instruction before it;
//    if all its edges lead past the statement it belongs to a later statement and is dropped.
//    If clang attributed no jump to the condition, the jumps with exactly one edge leading
//    straight into the then-statement are used instead (noted in the row).
// 2. Each edge of a decision jump is followed (through blocks that only jump on) to the first
//    line_info position that is in the C function around the `if` and outside its condition.
//    Positions of other functions (other files, or other functions of this file) are code
//    inlined from calls: when the `if`'s function calls that function only in the then-statement
//    (only in the else-branch, only after the `if`) the edge is that side's, else it is passed over.
//    Jumps inside a function called only in the condition are decision jumps too (an inlined
//    `if (is_x(skb))`), when linked to a jump on the condition's own line.
//    An edge into another decision jump of the same `if` is internal (`a && b`, `a || b`).
// 3. line: an edge whose code starts inside the then-statement is the true side, the others (else
//    branch, code after the statement, an exit) the false side. If no edge reaches the then-
//    statement but some reach the else-branch, those are the false side and the others the true.
// 4. merged jump (then-statement ending in return/goto/break/continue, which clang often merges
//    into shared code): the edges reaching the nearest code after the statement are the false
//    side, the others the true side; failing that, with exactly two targets, the one reachable
//    from the other (a shared return block that the rest of the code also ends in) is the true side.
// 5. structure (an `if` without else, or a loop, whose then-code has no line of its own, e.g. one
//    inlined call): with exactly two targets, the one from which the other is reachable is the
//    true side (the then-code runs and then goes on to where the false side goes directly).
// 6. if/else-if chains on one value (`v == K` in every member) are decided first, by the values each
//    edge of their compare tree lets through (chain.ts); an edge only earlier members take is no
//    side of the row ('none').
// 7. `if (...) break;` in a loop: edges reaching code after the loop are the then-side, edges back
//    into the loop the else-side; a copy of an unrolled loop that this leaves open (its both edges
//    leave the loop) is decided by the block every other copy's then-side goes to ('copies').
// A statement with no jump at all whose function has code is reported as folded, with the shape
// that explains it (a value set by an inlined call, a loop just before).
// A `case`/`default` label is read as the condition "the switch chose this section": its decision
// jumps are those of the `switch (...)` line, its then-statement is the section, the other
// sections are its else-branch (rules 1 to 4 apply unchanged).
// Rules 4 and 5 are inferences and say so in the row's note; when none applies the row is
// "ambiguous": reported, never guessed, and it fails the check (point the row at another line).
// Each copy of the code (a function per program; an inlined header in each of its callers) is
// decided on its own; one undecidable copy makes the row ambiguous.
import { posix } from 'node:path';
import { chainOf, compareTrees } from './chain';
import { calledAtFileScope, callersOf, callsIn, comparePos, Conditional, conditionalAt, enclosingLoop, FunctionDef, textOf, functionsIn, inRange, Pos, Range, untilReturn } from './c-source';
import type { FunctionLayout, Position, ProgramLayout } from './layout';
import { sourcePath } from './lines';

export type How = 'line' | 'else' | 'merged jump' | 'structure' | 'values' | 'copies';

export const HOW_NOTE: Record<How, string | undefined> = {
  line: undefined,
  else: 'decided by the else-branch',
  'merged jump': 'inferred: the then-statement ends in a jump that clang merged into shared code',
  structure: 'inferred from the CFG: the then-code has no line of its own (an inlined call?)',
  values: 'decided by the values each edge lets through, read from the compares (`v == K`, `v != K`, or an if/else-if chain on one value that clang compiled to a compare tree)',
  copies: 'a copy of an unrolled loop decided by where the other copies of the same jump go',
};

export interface DecidedEdge {
  /** Counter of the edge in its layout. */
  counter: number;
  /** The side of the condition it is ('?' when the copy could not be decided; 'none' when taking
   * it means the condition was never evaluated, e.g. an earlier member of an else-if chain held). */
  side: 'true' | 'false' | 'none' | '?';
  /** "file:line:col" of the first code the edge reaches, "exit", or "?". */
  to: string;
}

/** One evaluation of the `if` in one program (a function, or one place it was inlined). */
export interface BranchCopy {
  key: string;
  program: string;
  /** The rule that decided it; undefined when none could. */
  how?: How;
  edges: DecidedEdge[];
}

export interface Decisions {
  /** Some program loaded under coverage has code of the file. */
  fileSeen: boolean;
  /** The C statement was found (if/while/for, or a case/default label, on that line). */
  statement: boolean;
  copies: BranchCopy[];
  notes: string[];
  /** No jump anywhere, though the function around the statement has code: why clang folded it. */
  folded?: string;
}

/** 'head': code of a function called only in the condition (part of evaluating it). */
type EdgeClass = 'then' | 'else' | 'out' | 'exit' | 'unknown' | 'internal' | 'head';

interface Walked {
  cls: EdgeClass;
  /** First position in the `if`'s function, outside its condition, that the edge reaches (or
   * in a function inlined from a call, when that decided), and its file. */
  first?: Pos;
  path?: string;
  /** For an internal edge: the decision block it reaches. */
  at?: number;
  /** Classified by a call to an inlined function rather than by a line of the `if`'s function. */
  byCall?: boolean;
  /** By a call: that function is called after the enclosing loop only (not in its body). */
  afterLoop?: boolean;
}

interface Edge extends Walked {
  counter: number;
  /** The block the edge goes to. */
  target: number;
}

interface Copy {
  key: string;
  program: string;
  fn: FunctionLayout;
  edges: Edge[];
}

interface Sides {
  yes: Edge[];
  no: Edge[];
  how: How;
}

const RANK: Record<EdgeClass, number> = { then: 5, else: 4, out: 3, exit: 2, unknown: 1, internal: 0, head: 0 };

/** Finds the branch of the `if` on file:line in every layout and decides its sides. `file` is
 * repository-relative; `read` reads repository-relative sources. */
export function decisions(file: string, line: number, layouts: Map<string, ProgramLayout>, root: string, read: (file: string) => string | undefined): Decisions {
  const notes: string[] = [];
  const source = read(file);
  let c: Conditional | undefined;
  let around: Range | undefined;
  if (source === undefined) notes.push(`source ${file} not found`);
  else {
    try {
      c = conditionalAt(source, line);
      around = functionsIn(source).find((f) => f.body.start.line <= line && f.body.end.line >= line)?.body;
      if (!c) notes.push(`no if/while/for or case/default label starts on ${file}:${line}`);
    } catch (e) {
      notes.push(`cannot parse the statement at ${file}:${line}: ${(e as Error).message}`);
    }
  }
  const head: Range = c?.head ?? { start: { line, col: 0 }, end: { line, col: Number.MAX_SAFE_INTEGER } };

  // Code inlined from a function that the `if`'s function calls in only one place (condition,
  // then-statement, else-branch, after the `if`), directly or through other functions, belongs
  // to that place.
  const defs = new Map<string, FunctionDef[]>();
  let allSources: string[] | undefined;
  const sources = () => {
    allSources ??= [...new Set([...layouts.values()].flatMap((l) => l.files.map((f) => sourcePath(f, root))))]
      .map(read).filter((t): t is string => t !== undefined);
    return allSources;
  };
  const evidence = new Map<string, EdgeClass | undefined>();
  const calledInLoop = new Map<string, boolean>();
  const calleeName = (path: string, p: Position) => defs.get(path)?.find((f) => within(p, f.body))?.name;
  const calleeSide = (path: string, p: Position): EdgeClass | undefined => {
    if (!c || !source || !around) return undefined;
    if (!defs.has(path)) {
      const text = read(path);
      defs.set(path, text === undefined ? [] : functionsIn(text));
    }
    const def = defs.get(path)!.find((f) => within(p, f.body));
    if (!def) return undefined;
    if (!evidence.has(def.name)) {
      const callers = [def.name, ...callersOf(sources(), def.name)];
      const calls = (r: Range) => callsIn(source, r, callers);
      const sides: EdgeClass[] = [];
      if (calls(c.head)) sides.push('head');
      if (calls(c.then)) sides.push('then');
      if (elseRanges(c).some(calls)) sides.push('else');
      // After the statement: up to a return at its block's level, else the rest of the function.
      if (calls({ start: c.stmt.end, end: untilReturn(source, c)?.end ?? around.end })) sides.push('out');
      const before = comparePos(around.start, c.head.start) < 0 && calls({ start: around.start, end: { line: c.head.start.line, col: c.head.start.col - 1 } });
      // Code a file-scope macro also calls (a harness entry's context copy) runs outside the `if`'s function too.
      evidence.set(def.name, sides.length === 1 && !before && !calledAtFileScope(sources(), def.name) ? sides[0] : undefined);
    }
    return evidence.get(def.name);
  };

  const dirs = () => [...new Set([...layouts.values()].flatMap((l) => l.files.map((f) => posix.dirname(sourcePath(f, root)))))];
  const chain = c && source !== undefined ? chainOf(source, c, withIncludes(file, read, dirs())) : undefined;
  // `if (...) break;` in a loop: its then-side leaves the loop, its else-side stays in it.
  const loop = c && source !== undefined && /\bbreak\s*;\s*\}?\s*$/.test(textOf(source, c.then)) ? enclosingLoop(source, c) : undefined;
  const treeCopies: BranchCopy[] = [];
  const copies: Copy[] = [];
  let fileSeen = false;
  for (const [key, layout] of layouts) {
    const ours = new Set<number>();
    const paths = layout.files.map((f) => sourcePath(f, root));
    paths.forEach((p, i) => {
      if (p === file) ours.add(i);
    });
    if (ours.size === 0) continue;
    fileSeen = true;
    const inHead = (p: Position) => ours.has(p[0]) && within(p, head);
    const look = (p: Position): Walked | undefined => {
      if (p[1] === 0) return undefined;
      if (ours.has(p[0]) && (!around || within(p, around))) return inHead(p) ? undefined : { ...classify(p, c), path: file };
      const side = calleeSide(paths[p[0]], p);
      if (!side || side === 'head') return undefined;
      const w: Walked = { cls: side, first: { line: p[1], col: p[2] }, path: paths[p[0]], byCall: true };
      const name = calleeName(paths[p[0]], p);
      if (side === 'out' && loop && c && source !== undefined && name) {
        if (!calledInLoop.has(name)) calledInLoop.set(name, callsIn(source, { start: c.stmt.end, end: loop.stmt.end }, [name, ...callersOf(sources(), name)]));
        w.afterLoop = !calledInLoop.get(name);
      }
      return w;
    };
    // A jump of the condition: on its line(s), or inside a function called only there.
    const inCondition = (at: Position) => inHead(at) || (at[0] >= 0 && at[1] > 0 && calleeSide(paths[at[0]], at) === 'head');
    const treesBefore = treeCopies.length;
    if (chain) {
      const heads = chain.members.map((m) => m.c.head);
      const onChain = (fn: FunctionLayout) => (bi: number) => {
        const at = fn.blocks[bi].branch?.at;
        return !!at && ours.has(at[0]) && heads.some((h) => within(at, h));
      };
      for (const fn of layout.functions) {
        for (const tree of compareTrees(fn, chain, onChain(fn))) {
          const decided = tree.every((e) => e.side !== undefined);
          treeCopies.push({
            key, program: layout.program, how: decided ? 'values' : undefined,
            edges: tree.map((e) => {
              const w = walk(fn, e.target, look, () => false, new Set(), false);
              return { counter: e.counter, side: decided ? e.side! : '?', to: w.first ? `${w.path ?? file}:${w.first.line}:${w.first.col}` : w.cls === 'exit' ? 'exit' : '?' };
            }),
          });
        }
      }
      if (treeCopies.length > treesBefore) continue;
    }
    for (const fn of layout.functions) {
      const found = copiesIn(fn, { key, program: layout.program, inHead, inCondition, look, c, ours: (p) => ours.has(p[0]) });
      if (found.viaThen) notes.push('found by its then-statement (clang put the jump on another line)');
      if (found.viaNext) notes.push('found by the code after it: clang gave the jump the line of the statement before');
      copies.push(...found.copies);
    }
  }
  const decided = copies.map((cp) => (c ? decide(cp, c, loop) : undefined));
  if (loop) byOtherCopies(copies, decided);
  let folded: string | undefined;
  if (c && source !== undefined && around && copies.length === 0 && treeCopies.length === 0) {
    if (compiled(file, around, layouts, root)) folded = foldedWhy(source, c, around);
    else if (fileSeen) {
      const name = functionsIn(source).find((d) => d.body === around)?.name;
      if (name) notes.push(`${name}() has no line of its own in the programs: clang inlined it and gave its jumps the lines of its callers' statements (${[...callersOf(sources(), name)].join(', ')}): a row there decides them`);
    }
  }
  return {
    folded,
    fileSeen,
    statement: c !== undefined,
    notes,
    copies: copies.map((cp, k): BranchCopy => {
      const sides = decided[k];
      return {
        key: cp.key,
        program: cp.program,
        how: sides?.how,
        edges: cp.edges.map((e) => ({
          counter: e.counter,
          side: !sides ? '?' : sides.yes.includes(e) ? 'true' : 'false',
          to: e.first ? `${e.path ?? file}:${e.first.line}:${e.first.col}` : e.cls === 'exit' ? 'exit' : '?',
        })),
      };
    }).concat(treeCopies),
  };
}

/** Some program has code of the function body r of file. */
function compiled(file: string, r: Range, layouts: Map<string, ProgramLayout>, root: string): boolean {
  for (const l of layouts.values()) {
    const ours = new Set(l.files.map((f, i) => (sourcePath(f, root) === file ? i : -1)).filter((i) => i >= 0));
    if (l.functions.some((fn) => fn.blocks.some((b) => b.own.some((p) => ours.has(p[0]) && p[1] > 0 && within(p, r))))) return true;
  }
  return false;
}

/** Why a compiled function has no jump for the condition c: the shape around it says. */
function foldedWhy(source: string, c: Conditional, around: Range): string {
  const where = `line ${c.head.start.line}`;
  const words = new Set(textOf(source, c.cond).match(/[A-Za-z_]\w*/g) ?? []);
  // The statement right before: a loop whose exits decide the condition?
  for (let line = c.stmt.start.line - 1; line >= around.start.line; line--) {
    let l: Conditional | undefined;
    try {
      l = conditionalAt(source, line);
    } catch {
      continue;
    }
    if (!l || comparePos(l.stmt.end, c.stmt.start) >= 0) continue;
    const between = textOf(source, { start: l.stmt.end, end: c.stmt.start }).slice(1, -1);
    if ((l.keyword === 'for' || l.keyword === 'while') && between.trim() === '') {
      return `condition constant on each exit of the loop at line ${l.head.start.line} (clang unrolled it and folded the test at ${where} into the loop's exits; the loop's own rows decide them)`;
    }
  }
  // A value the condition tests, set from a call just before: each return of the inlined callee is known.
  const lines = source.split('\n');
  for (let line = c.stmt.start.line - 1; line >= around.start.line; line--) {
    const m = /\b([A-Za-z_]\w*)\s*=\s*([A-Za-z_]\w*)\s*\(/.exec(lines[line - 1] ?? '');
    if (m && words.has(m[1])) {
      return `condition constant after inlining ${m[2]}() at line ${line}: clang threaded each of its returns straight to the side it takes, so ${where} has no jump (its arms run on those paths)`;
    }
  }
  return `condition constant on every path at ${where} (after inlining or unrolling): clang emitted no jump for it`;
}

/** A source and the local headers it includes, recursively (where constants are defined), looked
 * for beside the including file and in the directories of the programs' sources (the -I paths). */
function withIncludes(file: string, read: (file: string) => string | undefined, dirs: string[]): string[] {
  const seen = new Set<string>();
  const texts: string[] = [];
  const visit = (f: string) => {
    if (seen.has(f) || seen.size > 200) return;
    seen.add(f);
    const text = read(f);
    if (text === undefined) return;
    texts.push(text);
    for (const m of text.matchAll(/^[ \t]*#[ \t]*include[ \t]+"([^"]+)"/gm)) {
      const found = [posix.dirname(f), ...dirs].map((d) => posix.normalize(posix.join(d, m[1]))).find((p) => read(p) !== undefined);
      if (found) visit(found);
    }
  };
  visit(file);
  return texts;
}

interface Finder {
  key: string;
  program: string;
  inHead: (p: Position) => boolean;
  inCondition: (p: Position) => boolean;
  look: (p: Position) => Walked | undefined;
  c: Conditional | undefined;
  /** The position is in the row's file. */
  ours: (p: Position) => boolean;
}

/** The evaluations of the condition in one function of one program. */
function copiesIn(fn: FunctionLayout, f: Finder): { copies: Copy[]; viaThen: boolean; viaNext: boolean } {
  const pruned = new Set<number>();
  const decision = (bi: number) => {
    const br = fn.blocks[bi].branch;
    return br !== undefined && f.inCondition(br.at) && !pruned.has(bi);
  };
  const edgesOut = (bi: number, stopAtBranches: boolean): Edge[] => {
    const b = fn.blocks[bi];
    const out: [number, number][] = [[b.succ[0], b.branch!.taken], [b.succ[1], b.branch!.notTaken]];
    return out.map(([target, counter]) => ({ target, counter, ...walk(fn, target, f.look, decision, new Set(), stopAtBranches) }));
  };
  // The decision jumps of one evaluation are linked by internal edges; an inlined function holds
  // one such group per place it was inlined.
  const group = new Map<number, number>();
  const find = (x: number): number => {
    const g = group.get(x)!;
    return g === x ? x : find(g);
  };
  const edgesOf = new Map<number, Edge[]>();
  fn.blocks.forEach((_, bi) => {
    if (!decision(bi)) return;
    group.set(bi, bi);
    edgesOf.set(bi, edgesOut(bi, false));
  });
  // A jump without a line of its own that only leads past the statement belongs to a later
  // statement (clang reused a value of this condition and emitted no line for the jump).
  for (const [bi, es] of edgesOf) {
    if (fn.blocks[bi].branch!.inherited && es.every((e) => e.cls === 'out')) {
      edgesOf.delete(bi);
      pruned.add(bi);
    }
  }
  if (pruned.size > 0) for (const bi of edgesOf.keys()) edgesOf.set(bi, edgesOut(bi, false));
  for (const [bi, es] of edgesOf) for (const e of es) if (e.cls === 'internal') group.set(find(e.at!), find(bi));
  const found = new Map<number, Copy>();
  for (const [bi, es] of edgesOf) {
    const g = find(bi);
    if (!found.has(g)) found.set(g, { key: f.key, program: f.program, fn, edges: [] });
    found.get(g)!.edges.push(...es.filter((e) => e.cls !== 'internal'));
  }
  // A group needs a jump on the condition's own line(s): jumps of a called function alone may
  // come from another place that function is inlined.
  const onLine = new Set([...edgesOf.keys()].filter((bi) => f.inHead(fn.blocks[bi].branch!.at)).map(find));
  for (const g of [...found.keys()]) if (!onLine.has(g)) found.delete(g);
  let viaThen = false;
  if (found.size === 0 && f.c) {
    // Nothing attributed to the condition: jumps with one edge straight into the then-statement.
    // An edge into a function called in the then-statement counts only for a jump without a
    // line of its own (a jump with its own line belongs to that line's statement).
    fn.blocks.forEach((b, bi) => {
      if (b.kind !== 'cond') return;
      const es = edgesOut(bi, true);
      const then = es.filter((e) => e.cls === 'then' && (!e.byCall || b.branch!.inherited));
      // The other edge must lead past the statement (or out of the program): an edge into more
      // code of a helper inlined before the `if` (a jump clang threaded from inside it) has not
      // decided the condition yet.
      const settled = es.every((e) => then.includes(e) || e.cls === 'out' || e.cls === 'else' || e.cls === 'exit');
      if (then.length === 1 && settled && !es.some((e) => e.cls === 'then' && !then.includes(e))) found.set(bi, { key: f.key, program: f.program, fn, edges: es });
    });
    viaThen = found.size > 0;
  }
  let viaNext = false;
  const c = f.c;
  if (found.size === 0 && c?.keyword === 'if' && c.thenJumps && !c.else) {
    // `if (a) return x; if (b) return x;`: clang may test b right after a and leave b's jump no
    // line of its own, so it inherits a's line. Such a jump, before this statement, with one edge
    // straight to the first code after this statement (or into a function called only after it),
    // is this statement's (only when exactly one is).
    const after = (p: Position) => f.ours(p) && p[1] > c.stmt.end.line;
    const next = Math.min(...fn.blocks.flatMap((b) => b.own.filter(after).map((p) => p[1])));
    const candidates: number[] = [];
    fn.blocks.forEach((b, bi) => {
      const br = b.branch;
      if (b.kind !== 'cond' || !br?.inherited || !f.ours(br.at) || br.at[1] >= c.head.start.line) return;
      const toNext = (e: Edge) => e.cls === 'out' && (e.byCall || (e.path !== undefined && e.first?.line === next));
      if (edgesOut(bi, true).filter(toNext).length === 1) candidates.push(bi);
    });
    if (candidates.length === 1) {
      found.set(candidates[0], { key: f.key, program: f.program, fn, edges: edgesOut(candidates[0], true) });
      viaNext = true;
    }
  }
  return { viaNext, copies: [...found.values()].filter((cp) => cp.edges.length > 0), viaThen };
}

function within(p: Position, r: Range): boolean {
  // Column 0: the record names a line only.
  if (p[2] === 0) return p[1] >= r.start.line && p[1] <= r.end.line;
  return inRange({ line: p[1], col: p[2] }, r);
}

/** Follows an edge to the first position `look` has something to say about. */
function walk(
  fn: FunctionLayout, bi: number, look: (p: Position) => Walked | undefined, decision: (bi: number) => boolean,
  seen: Set<number>, stopAtBranches: boolean,
): Walked {
  if (seen.has(bi)) return { cls: 'unknown' };
  seen.add(bi);
  const b = fn.blocks[bi];
  for (const p of b.own) {
    const w = look(p);
    if (w) return w;
  }
  if (decision(bi)) return { cls: 'internal', at: bi };
  if (b.kind === 'exit') return { cls: 'exit' };
  if (b.kind === 'cond' && stopAtBranches) return { cls: 'unknown' };
  // One shared `seen` for both ways on: each block is looked at once per edge (no blow-up).
  const results = b.succ.map((s) => walk(fn, s, look, decision, seen, stopAtBranches));
  if (results.length === 0) return { cls: 'unknown' };
  return results.reduce((a, r) => (RANK[r.cls] > RANK[a.cls] ? r : a));
}

/** Where the condition is false: the else-branch, or a label's other sections. */
function elseRanges(c: Conditional): Range[] {
  return c.others ?? (c.else ? [c.else] : []);
}

function classify(p: Position, c: Conditional | undefined): Walked {
  const first = { line: p[1], col: p[2] };
  if (!c) return { cls: 'unknown', first };
  if (within(p, c.then)) return { cls: 'then', first };
  if (elseRanges(c).some((r) => within(p, r))) return { cls: 'else', first };
  return { cls: 'out', first };
}

/** Copies of a jump in an unrolled loop that their own edges do not decide (the last copy's
 * both edges leave the loop): the edge into the block every decided copy's then-side goes to (the
 * one place a `break` lands) is the then-side, when exactly one edge goes there and no decided
 * copy's else-side does. */
function byOtherCopies(copies: Copy[], decided: (Sides | undefined)[]): void {
  copies.forEach((cp, k) => {
    if (decided[k]) return;
    const peers = copies.map((p, j) => [p, decided[j]] as const).filter(([p, d]) => d && p.fn === cp.fn && p.key === cp.key);
    const yes = new Set(peers.flatMap(([, d]) => d!.yes.map((e) => e.target)));
    const no = new Set(peers.flatMap(([, d]) => d!.no.map((e) => e.target)));
    if (peers.length === 0 || yes.size !== 1) return;
    const [t] = yes;
    const into = cp.edges.filter((e) => e.target === t);
    if (no.has(t) || into.length !== 1 || cp.edges.length < 2) return;
    decided[k] = { yes: into, no: cp.edges.filter((e) => e !== into[0]), how: 'copies' };
  });
}

function decide(cp: Copy, c: Conditional, loop?: Conditional): Sides | undefined {
  const edges = cp.edges;
  const split = (isYes: (e: Edge) => boolean) => {
    const yes = edges.filter(isYes);
    const no = edges.filter((e) => !isYes(e));
    return yes.length > 0 && no.length > 0 ? { yes, no } : undefined;
  };
  if (loop) {
    // Inside the loop (the next iteration, the rest of the body): the else-side; after it: the then-side.
    const inLoop = (e: Edge) => e.path !== undefined && !e.byCall && !!e.first && inRange(e.first, loop.stmt) && !inRange(e.first, c.then);
    const after = (e: Edge) => !!e.afterLoop || (e.path !== undefined && !e.byCall && !!e.first && comparePos(e.first, loop.stmt.end) > 0);
    if (edges.every((e) => inLoop(e) || after(e))) {
      const s = split(after);
      return s && { ...s, how: 'line' };
    }
    return undefined;
  }
  const byLine = edges.some((e) => e.cls === 'then') ? split((e) => e.cls === 'then') : undefined;
  if (byLine) return { ...byLine, how: 'line' };
  const byElse = edges.some((e) => e.cls === 'else') ? split((e) => e.cls !== 'else') : undefined;
  if (byElse) return { ...byElse, how: 'else' };
  const targets = [...new Set(edges.map((e) => e.target))];
  const [a, b] = targets;
  const ab = targets.length === 2 && reaches(cp.fn, a, b);
  const ba = targets.length === 2 && reaches(cp.fn, b, a);
  if (c.thenJumps) {
    // The false side goes on to the code after the statement: edges into a function called only
    // there, or else the edges reaching the nearest line after the statement.
    const called = edges.filter((e) => e.cls === 'out' && e.byCall);
    const after = edges.filter((e) => e.cls === 'out' && !e.byCall && e.first && comparePos(e.first, c.stmt.end) > 0);
    const nearest = Math.min(...after.map((e) => e.first!.line));
    const isNext = (e: Edge) => (called.length > 0 ? called.includes(e) : after.includes(e) && e.first!.line === nearest);
    const s = split((e) => !isNext(e));
    if (s) return { ...s, how: 'merged jump' };
    // Else: the jump out lands in code the false side also runs into later (a shared return).
    const r = ab !== ba ? split((e) => e.target === (ab ? b : a)) : undefined;
    return r && { ...r, how: 'merged jump' };
  }
  if (c.else || c.others || ab === ba) return undefined;
  // The then-code runs and goes on to where the false side goes directly.
  const s = split((e) => e.target === (ab ? a : b));
  return s && { ...s, how: 'structure' };
}

function reaches(fn: FunctionLayout, from: number, to: number): boolean {
  const seen = new Set([from]);
  const work = [from];
  while (work.length > 0) {
    const b = work.pop()!;
    if (b === to) return true;
    for (const s of fn.blocks[b].succ) {
      if (!seen.has(s)) {
        seen.add(s);
        work.push(s);
      }
    }
  }
  return false;
}
