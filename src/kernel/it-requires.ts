// itRequires: a mocha spec whose expectation depends on the kernel. One title on every kernel
// (so a kernel matrix lines the outcomes up), naming the requirement; `met` runs where the kernel
// meets it, `unmet` (which must assert the refusal) where it does not.
import { appendFileSync } from 'fs';
import { describeRequirement, kernelMeets, Requirement } from './requires';

export function itRequires(req: Requirement, title: string, body: { met: () => void; unmet: () => void }): void {
  it(`${title} [requires ${describeRequirement(req)}]`, function () {
    const met = kernelMeets(req);
    // The kernel matrix reads which side ran on each kernel from here.
    const record = process.env.BPFUNIT_REQUIREMENTS;
    if (record) appendFileSync(record, JSON.stringify({ file: this.test!.file, title: this.test!.fullTitle(), met }) + '\n');
    (met ? body.met : body.unmet)();
  });
}
