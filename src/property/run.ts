// Property runs with a seed that can be replayed: BPFUNIT_SEED (and BPFUNIT_PATH, the shrink path
// fast-check prints) set in the environment replay a failure exactly.
import fc from 'fast-check';
import { InputError } from '../errors';

/** fast-check parameters: the caller's, with the seed and path from the environment if set. */
export function replayable<T>(params: fc.Parameters<T> = {}): fc.Parameters<T> {
  const out: fc.Parameters<T> = { ...params };
  const seed = process.env.BPFUNIT_SEED;
  if (seed !== undefined && seed !== '') {
    if (!/^-?\d+$/.test(seed)) throw new InputError(`BPFUNIT_SEED must be an integer, got '${seed}'`);
    out.seed = Number(seed);
    if (process.env.BPFUNIT_PATH) out.path = process.env.BPFUNIT_PATH;
  }
  return out;
}

/** fc.assert with replayable parameters; the failure message says how to replay it. */
export function assertProperty<T>(property: fc.IProperty<T>, params: fc.Parameters<T> = {}): void {
  const details = fc.check(property, replayable(params));
  if (!details.failed) return;
  const replay = `BPFUNIT_SEED=${details.seed}${details.counterexamplePath ? ` BPFUNIT_PATH=${details.counterexamplePath}` : ''}`;
  throw new Error(`${fc.defaultReportMessage(details)}\nreplay: ${replay}`);
}
