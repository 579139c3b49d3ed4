// if/else-if chains on one value (`if (v == A) ... else if (v == B) ... else if (v == C) ...`), and
// a lone `if (v == K)` / `if (v != K)`, whose select (a jump over one register move) may put
// either arm in the extra block.
// clang lowers such a chain as it lowers a switch: a tree of compares of one register against the
// constants, in any order, all with the line of the first `if` (the others' lines get no jump). No
// line tells the arms apart then (two arms may even inline the same helper), so the arms are told
// apart by the values: each edge out of the tree is followed by the set of values of v that can
// take it, from the compares themselves (JEQ / JNE against an immediate). An edge whose values are
// all the row's constant is the row's true side; an edge none of whose values is the row's or an
// earlier member's constant is its false side; an edge only earlier members' constants take is
// not the row's at all (its `if` never ran). Anything else (an edge some values of which are the
// row's and some not) leaves the copy undecided: reported, never guessed.
// Soundness: the tree's register must hold v itself, so the first compare's register must come
// from memory (a load, or bytes of a packed field assembled with shifts and ors), never from other
// arithmetic (a range check's offset), and every later compare must test the same register in a
// block that does not write it and that only the tree leads into.
import { comparePos, Conditional, conditionalAt, elseIfParent, Range, textOf } from './c-source';
import type { BranchTest, FunctionLayout } from './layout';

const JEQ = 0x10;
const JNE = 0x50;

export interface Chain {
  /** The value every member compares (its text, spaces removed). */
  value: string;
  members: { c: Conditional; constant: number }[];
  /** Index of the row's statement among the members. */
  index: number;
  /** A lone `if (v != K)`: its true side is the values other than K. */
  negated?: boolean;
}

const OPERAND = /^\(?\s*([A-Za-z_][\w.]*(?:\s*->\s*\w+|\s*\.\s*\w+|\s*\[\s*\w+\s*\])*)\s*\)?$/;

/** The chain the `if` at c belongs to, each member `v == constant`; a lone `if (v == K)` or
 * `if (v != K)` is a chain of one (clang often turns it into a select, whose extra block may be
 * either arm: the compare says which). */
export function chainOf(source: string, c: Conditional, sources: string[]): Chain | undefined {
  if (c.keyword !== 'if') return undefined;
  let first = c;
  for (let p = elseIfParent(source, first); p; p = elseIfParent(source, p)) first = p;
  const members: Conditional[] = [];
  for (let m: Conditional | undefined = first; m; ) {
    members.push(m);
    const e: Range | undefined = m.else;
    m = e ? conditionalAt(source, e.start.line) : undefined;
    if (m && (m.keyword !== 'if' || comparePos(m.stmt.start, e!.start) !== 0)) m = undefined;
  }
  if (members.length < 2) {
    const text = textOf(source, c.cond);
    const ne = text.split('!=');
    const one = ne.length === 2 ? equality(`${ne[0]}==${ne[1]}`, sources) : equality(text, sources);
    return one && { value: one.value, members: [{ c, constant: one.constant }], index: 0, negated: ne.length === 2 };
  }
  const parsed = members.map((m) => equality(textOf(source, m.cond), sources));
  const value = parsed[0]?.value;
  if (!value || parsed.some((p) => !p || p.value !== value)) return undefined;
  const constants = parsed.map((p) => p!.constant);
  if (new Set(constants).size !== constants.length) return undefined;
  const index = members.findIndex((m) => comparePos(m.stmt.start, c.stmt.start) === 0);
  return { value, members: members.map((m, k) => ({ c: m, constant: constants[k] })), index };
}

function equality(cond: string, sources: string[]): { value: string; constant: number } | undefined {
  const parts = cond.split('==');
  if (parts.length !== 2 || /[!<>=]$/.test(parts[0]) || parts[1].startsWith('=')) return undefined;
  for (const [a, b] of [[parts[0], parts[1]], [parts[1], parts[0]]]) {
    const k = constant(b.trim(), sources);
    const v = OPERAND.exec(a.trim());
    if (k !== undefined && v && constant(v[1], sources) === undefined) return { value: v[1].replace(/\s+/g, ''), constant: k };
  }
  return undefined;
}

/** A number literal, or a name a `#define` or an enumerator gives a number literal. */
function constant(text: string, sources: string[], depth = 0): number | undefined {
  const lit = /^\(?\s*(0x[0-9a-fA-F]+|\d+)[uUlL]*\s*\)?$/.exec(text);
  if (lit) return Number(lit[1]);
  if (!/^[A-Za-z_]\w*$/.test(text) || depth > 4) return undefined;
  for (const src of sources) {
    const def = new RegExp(`^[ \\t]*#[ \\t]*define[ \\t]+${text}[ \\t]+([^\\n/]+?)[ \\t]*(?:/[/*].*)?$`, 'm').exec(src);
    if (def) return constant(def[1].trim(), sources, depth + 1);
    const en = new RegExp(`\\benum\\b[^{;]*\\{[^}]*\\b${text}\\s*=\\s*(0x[0-9a-fA-F]+|\\d+)\\s*[,}]`).exec(src);
    if (en) return Number(en[1]);
  }
  return undefined;
}

export type Side = 'true' | 'false' | 'none';

export interface TreeEdge {
  counter: number;
  /** Block the edge leads to. */
  target: number;
  side?: Side;
}

/** The compare trees in fn whose jumps lie on the chain's lines: per tree, its edges out with the
 * side each is for member `index` (undefined side: undecided). `onChain` says whether a jump's
 * position is in one of the members' conditions. */
export function compareTrees(fn: FunctionLayout, chain: Chain, onChain: (bi: number) => boolean): TreeEdge[][] {
  const constants = chain.members.map((m) => m.constant);
  const usable = (t: BranchTest | undefined): t is BranchTest => !!t && (t.op === JEQ || t.op === JNE) && constants.includes(t.imm);
  const preds = new Map<number, number[]>();
  fn.blocks.forEach((b, bi) => b.succ.forEach((s) => preds.set(s, [...(preds.get(s) ?? []), bi])));
  const nodes = new Set<number>();
  fn.blocks.forEach((b, bi) => {
    if (b.kind === 'cond' && onChain(bi) && usable(b.branch?.test)) nodes.add(bi);
  });
  // Links: a node into a node that tests the same register, without writing it, only reached from nodes.
  const linked = (from: number, to: number) => {
    const a = fn.blocks[from].branch!.test!;
    const b = fn.blocks[to].branch?.test;
    return nodes.has(to) && !!b && b.reg === a.reg && b.jmp32 === a.jmp32 && !b.local && (preds.get(to) ?? []).every((p) => nodes.has(p));
  };
  const inner = new Set<number>();
  for (const n of nodes) for (const s of fn.blocks[n].succ) if (linked(n, s)) inner.add(s);
  const trees: TreeEdge[][] = [];
  const OTHER = -1; // any value that is none of the constants (never an immediate used here)
  for (const root of nodes) {
    // A root with a line of its own: a jump that inherited the line may be a later statement's.
    if (inner.has(root) || fn.blocks[root].branch!.test!.origin !== 'read' || fn.blocks[root].branch!.inherited) continue;
    const edges: TreeEdge[] = [];
    const walk = (bi: number, values: number[]) => {
      const b = fn.blocks[bi];
      const t = b.branch!.test!;
      // The immediate is one of the constants, so a value that is none of them never equals it.
      const takes = (v: number) => (t.op === JEQ ? v === t.imm : v !== t.imm);
      const taken = values.filter(takes);
      const fallen = values.filter((v) => !takes(v));
      const out: [number, number, number[]][] = [[b.succ[0], b.branch!.taken, taken], [b.succ[1], b.branch!.notTaken, fallen]];
      for (const [target, counter, vs] of out) {
        if (linked(bi, target)) walk(target, vs);
        else edges.push({ counter, target, side: sideOf(vs, chain.index, constants, OTHER, chain.negated) });
      }
    };
    walk(root, [...constants, OTHER]);
    trees.push(edges);
  }
  return trees;
}

function sideOf(values: number[], index: number, constants: number[], other: number, negated?: boolean): Side | undefined {
  const mine = constants[index];
  if (negated) {
    if (values.length === 0) return 'none';
    return values.every((v) => v !== mine) ? 'true' : values.every((v) => v === mine) ? 'false' : undefined;
  }
  const earlier = constants.slice(0, index);
  if (values.length === 0 || values.every((v) => earlier.includes(v))) return 'none';
  if (values.every((v) => v === mine)) return 'true';
  if (values.every((v) => v === other || !constants.slice(0, index + 1).includes(v))) return 'false';
  return undefined;
}
