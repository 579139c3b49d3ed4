// Just enough C to find, from a line number, the `if` (or `while`/`for`, or a `case`/`default`
// label of a `switch`) that starts there: where its condition is, where its then-block (the loop
// body, the label's section) is, where its else-branch (the other sections) is, and where the
// statement ends. Comments, string and character literals and preprocessor lines are blanked
// first (same offsets), so braces and keywords inside them do not count.

/** 1-based line and column (clang's line_info columns are 1-based bytes). */
export interface Pos {
  line: number;
  col: number;
}

/** Inclusive range. */
export interface Range {
  start: Pos;
  end: Pos;
}

export interface Conditional {
  keyword: 'if' | 'while' | 'for' | 'case';
  /** Inside the parentheses (of the `switch`, for a label). */
  cond: Range;
  /** From the keyword to the closing parenthesis (`switch (...)` for a label). */
  head: Range;
  /** The then-statement (loop body; a label's section: the label up to the next label). */
  then: Range;
  else?: Range;
  /** A label's row: the switch's other sections, where the condition is false. */
  others?: Range[];
  /** The whole statement, else-branch included (the whole switch for a label). */
  stmt: Range;
  /** The then-statement ends with return, goto, break or continue. */
  thenJumps: boolean;
}

export function comparePos(a: Pos, b: Pos): number {
  return a.line - b.line || a.col - b.col;
}

export function inRange(p: Pos, r: Range): boolean {
  return comparePos(p, r.start) >= 0 && comparePos(p, r.end) <= 0;
}

/** Source text with comments, literals and preprocessor lines turned into spaces. */
export function blank(text: string): string {
  const out = text.split('');
  let k = 0;
  const wipe = (from: number, to: number) => {
    for (let j = from; j < to; j++) if (out[j] !== '\n') out[j] = ' ';
  };
  let lineStart = true;
  while (k < text.length) {
    const ch = text[k];
    if (lineStart && /\s/.test(ch) && ch !== '\n') {
      k++;
      continue;
    }
    if (lineStart && ch === '#') {
      const from = k;
      while (k < text.length && !(text[k] === '\n' && text[k - 1] !== '\\')) k++;
      wipe(from, k);
      continue;
    }
    lineStart = ch === '\n';
    if (ch === '/' && text[k + 1] === '/') {
      const from = k;
      while (k < text.length && text[k] !== '\n') k++;
      wipe(from, k);
    } else if (ch === '/' && text[k + 1] === '*') {
      const end = text.indexOf('*/', k + 2);
      const to = end < 0 ? text.length : end + 2;
      wipe(k, to);
      k = to;
    } else if (ch === '"' || ch === "'") {
      const from = k++;
      while (k < text.length && text[k] !== ch && text[k] !== '\n') k += text[k] === '\\' ? 2 : 1;
      wipe(from, ++k);
    } else {
      k++;
    }
  }
  return out.join('');
}

class Scanner {
  private readonly lineStarts: number[] = [0];

  constructor(readonly s: string) {
    for (let k = 0; k < s.length; k++) if (s[k] === '\n') this.lineStarts.push(k + 1);
  }

  pos(offset: number): Pos {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, col: offset - this.lineStarts[lo] + 1 };
  }

  lineOffset(line: number): number | undefined {
    return this.lineStarts[line - 1];
  }

  skipSpace(k: number): number {
    while (k < this.s.length && /\s/.test(this.s[k])) k++;
    return k;
  }

  word(k: number): string {
    const m = /^[A-Za-z_]\w*/.exec(this.s.slice(k, k + 64));
    return m ? m[0] : '';
  }

  /** Offset of the bracket closing the one at k. */
  close(k: number): number {
    const open = this.s[k];
    const pairs: Record<string, string> = { '(': ')', '[': ']', '{': '}' };
    const stack = [pairs[open]];
    for (let j = k + 1; j < this.s.length; j++) {
      const c = this.s[j];
      if (c in pairs) stack.push(pairs[c]);
      else if (c === ')' || c === ']' || c === '}') {
        if (stack.pop() !== c) throw new Error(`unbalanced '${c}' at ${JSON.stringify(this.pos(j))}`);
        if (stack.length === 0) return j;
      }
    }
    throw new Error(`'${open}' at ${JSON.stringify(this.pos(k))} is never closed`);
  }

  /** Offset of the last character of the statement starting at or after k. */
  statement(k: number): number {
    k = this.skipSpace(k);
    const w = this.word(k);
    if (this.s[k] === '{') return this.close(k);
    if (w === 'if') {
      const paren = this.skipSpace(k + 2);
      let end = this.statement(this.close(paren) + 1);
      const after = this.skipSpace(end + 1);
      if (this.word(after) === 'else') end = this.statement(after + 4);
      return end;
    }
    if (w === 'while' || w === 'for' || w === 'switch') {
      const paren = this.skipSpace(k + w.length);
      return this.statement(this.close(paren) + 1);
    }
    if (w === 'do') {
      const body = this.statement(k + 2);
      const wh = this.skipSpace(body + 1);
      const paren = this.skipSpace(wh + 5);
      return this.simple(this.close(paren) + 1);
    }
    return this.simple(k);
  }

  /** Up to the `;` that ends a simple statement (brackets skipped). */
  private simple(k: number): number {
    for (let j = k; j < this.s.length; j++) {
      const c = this.s[j];
      if (c === '(' || c === '[' || c === '{') j = this.close(j);
      else if (c === ';') return j;
    }
    throw new Error(`statement at ${JSON.stringify(this.pos(k))} has no ';'`);
  }
}

const JUMPS_AT_END = /\b(return|goto|break|continue)\b[^;{}]*;\s*\}?\s*$/;

// A report looks at the same few sources once per row and per inlined function: work on each once.
function perSource<T>(make: (source: string) => T): (source: string) => T {
  const done = new Map<string, T>();
  return (source) => {
    let v = done.get(source);
    if (v === undefined) {
      if (done.size >= 64) done.clear();
      v = make(source);
      done.set(source, v);
    }
    return v;
  };
}

const scan = perSource((source) => new Scanner(blank(source)));

/** The first if/while/for that starts on `line`, else a case/default label there, or undefined.
 * Throws on C it cannot follow. */
export function conditionalAt(source: string, line: number): Conditional | undefined {
  const sc = scan(source);
  const from = sc.lineOffset(line);
  if (from === undefined) return undefined;
  const to = sc.lineOffset(line + 1) ?? sc.s.length;
  const m = /\b(if|while|for)\b/.exec(sc.s.slice(from, to));
  if (!m) return labelAt(sc, from, to);
  const keyword = m[1] as Conditional['keyword'];
  const kw = from + m.index;
  const open = sc.skipSpace(kw + keyword.length);
  if (sc.s[open] !== '(') return undefined;
  const closeParen = sc.close(open);
  const thenStart = sc.skipSpace(closeParen + 1);
  const thenEnd = sc.statement(thenStart);
  let end = thenEnd;
  let elseRange: Range | undefined;
  const after = sc.skipSpace(thenEnd + 1);
  if (keyword === 'if' && sc.word(after) === 'else') {
    const elseStart = sc.skipSpace(after + 4);
    end = sc.statement(elseStart);
    elseRange = { start: sc.pos(elseStart), end: sc.pos(end) };
  }
  const body = sc.s.slice(thenStart, thenEnd + 1);
  return {
    keyword,
    cond: { start: sc.pos(open + 1), end: sc.pos(closeParen - 1) },
    head: { start: sc.pos(kw), end: sc.pos(closeParen) },
    then: { start: sc.pos(thenStart), end: sc.pos(thenEnd) },
    else: elseRange,
    stmt: { start: sc.pos(kw), end: sc.pos(end) },
    thenJumps: JUMPS_AT_END.test(body),
  };
}

/** A `case ...:` or `default:` label between from and to, as the condition "the switch chose this
 * section". The switch is the innermost one whose body holds the label; sections are split at
 * the labels of the body's own level (labels inside nested blocks are not looked for). */
function labelAt(sc: Scanner, from: number, to: number): Conditional | undefined {
  const m = /\b(case\b[^:]*|default\s*):/.exec(sc.s.slice(from, to));
  if (!m) return undefined;
  const label = from + m.index;
  let sw: { kw: number; open: number; close: number; body: number; end: number } | undefined;
  for (const found of sc.s.slice(0, label).matchAll(/\bswitch\b/g)) {
    const kw = found.index!;
    const open = sc.skipSpace(kw + 6);
    if (sc.s[open] !== '(') continue;
    const close = sc.close(open);
    const body = sc.skipSpace(close + 1);
    if (sc.s[body] !== '{') continue;
    const end = sc.close(body);
    if (body < label && label < end) sw = { kw, open, close, body, end };
  }
  if (!sw) return undefined;
  const labels: number[] = [];
  for (let k = sw.body + 1; k < sw.end; k++) {
    const c = sc.s[k];
    if (c === '{' || c === '(' || c === '[') k = sc.close(k);
    else if (/[A-Za-z_]/.test(c) && !/\w/.test(sc.s[k - 1])) {
      const w = sc.word(k);
      const colon = sc.s.indexOf(':', k);
      if ((w === 'case' || w === 'default') && colon >= 0 && colon < sw.end) labels.push(k);
      k += w.length - 1;
    }
  }
  const mine = labels.indexOf(label);
  if (mine < 0) return undefined;
  const sectionEnd = (i: number) => {
    let end = (labels[i + 1] ?? sw!.end) - 1;
    while (end > labels[i] && /\s/.test(sc.s[end])) end--;
    return end;
  };
  const section = (i: number): Range => ({ start: sc.pos(labels[i]), end: sc.pos(sectionEnd(i)) });
  return {
    keyword: 'case',
    cond: { start: sc.pos(sw.open + 1), end: sc.pos(sw.close - 1) },
    head: { start: sc.pos(sw.kw), end: sc.pos(sw.close) },
    then: section(mine),
    others: labels.map((_, i) => i).filter((i) => i !== mine).map(section),
    stmt: { start: sc.pos(sw.kw), end: sc.pos(sw.end) },
    thenJumps: JUMPS_AT_END.test(sc.s.slice(labels[mine], sectionEnd(mine) + 1)),
  };
}

/** The source text of a range, comments and literals blanked. */
export function textOf(source: string, r: Range): string {
  const sc = scan(source);
  const from = (sc.lineOffset(r.start.line) ?? 0) + r.start.col - 1;
  const to = (sc.lineOffset(r.end.line) ?? sc.s.length) + r.end.col;
  return sc.s.slice(from, to);
}

/** The `if` whose else-branch is exactly the `if` statement c (`... else if (...)`), if any. */
export function elseIfParent(source: string, c: Conditional): Conditional | undefined {
  if (c.keyword !== 'if') return undefined;
  const sc = scan(source);
  const at = (sc.lineOffset(c.stmt.start.line) ?? 0) + c.stmt.start.col - 1;
  if (!/\belse\s*$/.test(sc.s.slice(Math.max(0, at - 64), at))) return undefined;
  for (let line = c.stmt.start.line; line >= 1 && line >= c.stmt.start.line - 400; line--) {
    let p: Conditional | undefined;
    try {
      p = conditionalAt(source, line);
    } catch {
      continue;
    }
    if (p?.keyword === 'if' && p.else && comparePos(p.else.start, c.stmt.start) === 0) return p;
  }
  return undefined;
}

/** Where control can go after statement c when its block returns: from c up to and including
 * the first unconditional `return` at the block's own level (undefined when there is none, or a
 * label a goto could jump to). */
export function untilReturn(source: string, c: Conditional): Range | undefined {
  const block = enclosingBlock(source, c.stmt.start);
  if (!block) return undefined;
  const sc = scan(source);
  const from = (sc.lineOffset(c.stmt.end.line) ?? 0) + c.stmt.end.col;
  const to = (sc.lineOffset(block.end.line) ?? sc.s.length) + block.end.col - 1;
  for (let k = from; k < to; k++) {
    const ch = sc.s[k];
    if (ch === '(' || ch === '[' || ch === '{') {
      k = sc.close(k);
      continue;
    }
    if (!/[A-Za-z_]/.test(ch) || /\w/.test(sc.s[k - 1])) continue;
    const w = sc.word(k);
    const before = sc.s.slice(from, k).replace(/\s+$/, '');
    if (w === 'return' && (before === '' || /[;{}]$/.test(before))) {
      return { start: sc.pos(from), end: sc.pos(sc.statement(k)) };
    }
    if (/^\s*:/.test(sc.s.slice(k + w.length)) && w !== 'default' && !/\?[^;]*$/.test(before)) return undefined; // a label
    k += w.length - 1;
  }
  return undefined;
}

/** The innermost for/while loop whose body holds statement c. */
export function enclosingLoop(source: string, c: Conditional): Conditional | undefined {
  for (let line = c.stmt.start.line; line >= 1 && line >= c.stmt.start.line - 400; line--) {
    let l: Conditional | undefined;
    try {
      l = conditionalAt(source, line);
    } catch {
      continue;
    }
    if (l && (l.keyword === 'for' || l.keyword === 'while') && inRange(c.stmt.start, l.then) && inRange(c.stmt.end, l.then)) return l;
  }
  return undefined;
}

/** The innermost `{ ... }` block around p, braces included. */
export function enclosingBlock(source: string, p: Pos): Range | undefined {
  const sc = scan(source);
  const at = (sc.lineOffset(p.line) ?? 0) + p.col - 1;
  let depth = 0;
  for (let k = at - 1; k >= 0; k--) {
    const c = sc.s[k];
    if (c === '}') depth++;
    else if (c === '{' && depth-- === 0) return { start: sc.pos(k), end: sc.pos(sc.close(k)) };
  }
  return undefined;
}

export interface FunctionDef {
  name: string;
  /** Line of the name. */
  line: number;
  /** The body, braces included. */
  body: Range;
}

/** Every function definition at file level, with its name. */
export const functionsIn: (source: string) => FunctionDef[] = perSource(findFunctions);

function findFunctions(source: string): FunctionDef[] {
  const sc = scan(source);
  const out: FunctionDef[] = [];
  let depth = 0;
  let open = -1;
  for (let k = 0; k < sc.s.length; k++) {
    const c = sc.s[k];
    if (c === '{') {
      if (depth === 0) open = k;
      depth++;
    } else if (c === '}') {
      depth--;
      if (depth < 0) return out;
      if (depth > 0) continue;
      // A function body follows its parameter list's ')' (an initializer follows '=').
      let p = open - 1;
      while (p >= 0 && /\s/.test(sc.s[p])) p--;
      if (sc.s[p] !== ')') continue;
      let level = 0;
      for (; p >= 0; p--) {
        if (sc.s[p] === ')') level++;
        else if (sc.s[p] === '(' && --level === 0) break;
      }
      const from = Math.max(0, p - 128);
      const m = /([A-Za-z_]\w*)\s*$/.exec(sc.s.slice(from, p));
      if (m) out.push({ name: m[1], line: sc.pos(from + m.index).line, body: { start: sc.pos(open), end: sc.pos(k) } });
    }
  }
  return out;
}

/** Whether one of `names` is called (`name(`) inside the range. */
export function callsIn(source: string, r: Range, names: string | string[]): boolean {
  const sc = scan(source);
  const from = (sc.lineOffset(r.start.line) ?? 0) + r.start.col - 1;
  const to = (sc.lineOffset(r.end.line) ?? sc.s.length) + r.end.col;
  return new RegExp(`\\b(${[names].flat().join('|')})\\s*\\(`).test(sc.s.slice(from, to));
}

const DEFINE = /^[ \t]*#[ \t]*define[ \t]+([A-Za-z_]\w*)\(((?:[^\n]*\\\n)*[^\n]*)/gm;

/** Whether a function-like macro that nothing calls (so one used at file scope, e.g. a harness's
 * entry macro that defines a program) calls `name`, directly or through others: then `name` also
 * runs outside every function of the sources. */
export function calledAtFileScope(sources: string[], name: string): boolean {
  const callers = callersOf(sources, name);
  const macros = new Set(sources.flatMap((t) => [...t.matchAll(DEFINE)].map((m) => m[1])));
  return [...callers].some((c) => macros.has(c) && callersOf(sources, c).size === 0);
}

/** The functions defined in `sources` that call `name`, directly or through each other. */
export function callersOf(sources: string[], name: string): Set<string> {
  const bodies: [string, string][] = [];
  for (const text of sources) {
    const sc = scan(text);
    for (const def of functionsIn(text)) {
      const from = (sc.lineOffset(def.body.start.line) ?? 0) + def.body.start.col - 1;
      const to = (sc.lineOffset(def.body.end.line) ?? sc.s.length) + def.body.end.col;
      bodies.push([def.name, sc.s.slice(from, to)]);
    }
    // Function-like macros call what their body calls (a mock library swaps helpers so).
    for (const m of text.matchAll(DEFINE)) bodies.push([m[1], m[2]]);
  }
  const found = new Set<string>();
  let targets = [name];
  while (targets.length > 0) {
    const call = new RegExp(`\\b(${targets.join('|')})\\s*\\(`);
    targets = bodies.filter(([n, body]) => n !== name && !found.has(n) && call.test(body)).map(([n]) => n);
    targets = [...new Set(targets)];
    for (const n of targets) found.add(n);
  }
  return found;
}
