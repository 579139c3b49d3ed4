// itRequires: a mocha spec whose expectation depends on the kernel. One title on every kernel
// (so a kernel matrix lines the outcomes up), naming the requirement; `met` runs where the kernel
// meets it, `unmet` (which must assert the refusal) where it does not.
import { appendFileSync } from 'fs';
import type { Runnable } from 'mocha';
import { describeRequirement, kernelMeets, Requirement } from './requires';

/** Tells the kernel matrix (BPFUNIT_REQUIREMENTS) which side of a stated requirement ran here. */
export function recordRequirement(test: Runnable, met: boolean): void {
  const record = process.env.BPFUNIT_REQUIREMENTS;
  if (record) appendFileSync(record, JSON.stringify({ file: test.file, title: test.fullTitle(), met }) + '\n');
}

export function itRequires(req: Requirement, title: string, body: { met: () => void; unmet: () => void }): void {
  it(`${title} [requires ${describeRequirement(req)}]`, function () {
    const met = kernelMeets(req);
    recordRequirement(this.test!, met);
    (met ? body.met : body.unmet)();
  });
}
