// `bpfunit tags OBJ...`: runs every program annotated in the test_progs style as a test and prints
// one line per test. Exit status: 0 all passed (skips allowed), 1 a test failed or an object could
// not be read, 2 bad usage.
import { BpfUnitError } from '../errors';
import { ObjectSpec } from '../object/object';
import { runTags, TagResult } from './runner';

const USAGE = 'usage: bpfunit tags OBJ...';

export interface Output {
  out: (text: string) => void;
  err: (text: string) => void;
}

const STDIO: Output = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };

export async function main(argv: string[], io: Output = STDIO): Promise<number> {
  const write = io.out;
  if (argv.length === 0 || argv.some((a) => a.startsWith('-'))) {
    io.err(`bpfunit: ${argv.length ? `unknown option '${argv.find((a) => a.startsWith('-'))}'` : 'no object file given'}\n${USAGE}\n`);
    return 2;
  }
  let status = 0;
  const counts = { pass: 0, fail: 0, skip: 0 };
  for (const path of argv) {
    let results: TagResult[];
    try {
      results = runTags(ObjectSpec.fromFile(path));
    } catch (e) {
      if (!(e instanceof BpfUnitError)) throw e;
      io.err(`bpfunit: ${path}: ${e.message}\n`);
      status = 1;
      continue;
    }
    if (results.length === 0) write(`${path}: no annotated programs\n`);
    for (const r of results) {
      counts[r.status]++;
      if (r.status === 'fail') status = 1;
      write(`${formatResult(r)}\n`);
    }
  }
  write(`${counts.pass} passed, ${counts.fail} failed, ${counts.skip} skipped\n`);
  return status;
}

export function formatResult(r: TagResult): string {
  const word = { pass: 'ok  ', fail: 'FAIL', skip: 'skip' }[r.status];
  const name = `${r.object}/${r.program}${r.mode === 'unpriv' ? ' [unpriv]' : ''}`;
  const title = r.title !== r.program ? ` "${r.title}"` : '';
  return `${word} ${name}${title}${r.reason ? `: ${r.reason}` : ''}`;
}
