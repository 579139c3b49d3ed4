// `mocha --require spec/support/shuffle.ts`: runs suites and tests in a seeded random order, to
// prove that no test depends on another one's leftovers. BPFUNIT_SHUFFLE_SEED replays an order.
import type { Context, Suite } from 'mocha';

function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return s / 2 ** 32;
  };
}

function shuffle<T>(items: T[], next: () => number): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
}

function shuffleSuite(suite: Suite, next: () => number): void {
  shuffle(suite.tests, next);
  shuffle(suite.suites, next);
  for (const child of suite.suites) shuffleSuite(child, next);
}

export const mochaHooks = {
  beforeAll(this: Context) {
    const given = process.env.BPFUNIT_SHUFFLE_SEED;
    const seed = Number(given ?? Math.floor(Math.random() * 2 ** 31));
    // A given seed was printed by whoever chose it (make test, once for all its worker processes).
    if (given === undefined) process.stderr.write(`bpfunit: tests shuffled with BPFUNIT_SHUFFLE_SEED=${seed}\n`);
    let root = this.test!.parent!;
    while (root.parent) root = root.parent;
    shuffleSuite(root, random(seed));
  },
};
