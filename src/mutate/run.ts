// Runs each mutant: the mutated program is first loaded alone (the verifier may reject it), then
// the specs whose tests ran its instruction run in this process with the mutant installed as
// Collection.defaultHook, only those tests (mocha grep), stopping at the first failure.
import Mocha from 'mocha';
import { InputError, VerifierError } from '../errors';
import { Collection, CollectionHook } from '../kernel/collection';
import { ObjectSpec } from '../object/object';
import { applyMutant } from './operators';
import type { PlannedMutant } from './plan';

export type Status = 'killed' | 'survived' | 'rejected' | 'uncovered';

export interface MutantResult extends PlannedMutant {
  status: Status;
  /** killed: the first failing test and its message; rejected: the verifier's summary. */
  detail?: string;
}

/** The hook that loads `m`'s program mutated; every other program loads as it is. */
export function mutantHook(m: PlannedMutant): CollectionHook {
  return {
    prepare: (spec, programs) => ({
      maps: [],
      programs: programs.map((p) => (spec.name === m.object && p.name === m.program ? applyMutant(p, m) : p)),
    }),
  };
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Runs the given tests of the given files once; resolves to the first failure, if any. */
function runTests(files: string[], titles: string[]): Promise<{ title: string; message: string } | undefined> {
  const mocha = new Mocha({ bail: true, timeout: 30000, reporter: class { constructor() {} } as never });
  mocha.grep(new RegExp(`^(?:${titles.map(escape).join('|')})$`));
  for (const f of files) {
    // a spec file the surrounding process already ran is cached: load it afresh so it defines its tests
    delete require.cache[require.resolve(f)];
    mocha.addFile(f);
  }
  return new Promise((resolve, reject) => {
    let first: { title: string; message: string } | undefined;
    try {
      const runner = mocha.run(() => {
        mocha.unloadFiles();
        mocha.dispose();
        resolve(first);
      });
      runner.on('fail', (test, err: Error) => {
        first ??= { title: test.fullTitle(), message: String(err?.message ?? err).split('\n')[0] };
      });
    } catch (e) {
      reject(e);
    }
  });
}

let running = false;

/** One mutant at a time: the mutant is process-wide (Collection.defaultHook) while it runs. */
export async function runMutant(m: PlannedMutant): Promise<MutantResult> {
  if (m.tests.length === 0) return { ...m, status: 'uncovered' };
  if (running) throw new InputError('runMutant: another mutant is running in this process; await it first');
  running = true;
  try {
    return await verifyAndRun(m);
  } finally {
    running = false;
  }
}

async function verifyAndRun(m: PlannedMutant): Promise<MutantResult> {
  const hook = mutantHook(m);
  try {
    Collection.load(ObjectSpec.fromFile(m.path), { programs: [m.program], hook }).close();
  } catch (e) {
    if (e instanceof VerifierError) return { ...m, status: 'rejected', detail: e.summary };
    throw e;
  }
  const saved = Collection.defaultHook;
  Collection.defaultHook = hook;
  try {
    const files = [...new Set(m.tests.map((t) => t.file).filter((f): f is string => !!f))];
    const failure = await runTests(files, m.tests.map((t) => t.title));
    return failure ? { ...m, status: 'killed', detail: `${failure.title}: ${failure.message}` } : { ...m, status: 'survived' };
  } finally {
    Collection.defaultHook = saved;
  }
}
