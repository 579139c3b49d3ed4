// `mocha --require spec/support/record-created.ts` with BPFUNIT_CREATED=FILE (spec/hygiene runs a
// suite so): records every kernel object bpfunit creates during the run and, once every suite has
// finished, writes to FILE as JSON what was created and which of it this process still holds.
import { writeFileSync } from 'node:fs';
import { recordCreated, stillOpen } from './created';

const out = process.env.BPFUNIT_CREATED;
if (!out) throw new Error('spec/support/record-created.ts needs BPFUNIT_CREATED=FILE');
const rec = recordCreated();

export const mochaHooks = {
  afterAll() {
    rec.stop();
    const strip = ({ kind, id }: { kind: string; id: number }) => ({ kind, id });
    writeFileSync(out, JSON.stringify({ created: rec.created.map(strip), open: stillOpen(rec.created).map(strip), unresolved: rec.unresolved }));
  },
};
