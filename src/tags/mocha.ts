// A test_progs-style object as a mocha suite: `describeTags('build/x.o')` in a spec file makes
// one test per annotated program and mode, failing with the reason the runner gives.
import { ObjectSpec } from '../object/object';
import { readAnnotations } from './annotations';
import { runTags, TagResult } from './runner';

export function describeTags(path: string): void {
  const spec = ObjectSpec.fromFile(path); // at definition time: tests are made from the annotations
  describe(`${spec.name} (test_progs annotations)`, () => {
    let results: Map<string, TagResult>;
    before(() => {
      results = new Map(runTags(spec).map((r) => [key(r), r]));
    });
    for (const r of planned(spec)) {
      it(`${r.title}${r.title !== r.program ? ` (${r.program})` : ''}${r.mode === 'unpriv' ? ' [unpriv]' : ''}`, function () {
        const got = results.get(key(r))!;
        if (got.status === 'skip') this.skip();
        if (got.status === 'fail') throw new Error(`${got.program}: ${got.reason}`);
      });
    }
  });
}

function key(r: Pick<TagResult, 'program' | 'mode'>): string {
  return `${r.program}/${r.mode}`;
}

/** The tests the annotations declare, known without the kernel. */
function planned(spec: ObjectSpec): Pick<TagResult, 'program' | 'title' | 'mode'>[] {
  return readAnnotations(spec).filter((a) => !a.auxiliary).flatMap((a) => [
    ...(a.priv ? [{ program: a.program, title: a.title, mode: 'priv' as const }] : []),
    ...(a.unpriv ? [{ program: a.program, title: a.title, mode: 'unpriv' as const }] : []),
  ]);
}
