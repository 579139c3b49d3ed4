import { expect } from 'chai';
import Mocha from 'mocha';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

// Every row of every branch table must have a spec whose title starts with its id. The titles
// are read from the spec files as mocha sees them (loaded into a separate Mocha, not run), so
// titles built from templates count too.
function specFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return specFiles(p);
    return p.endsWith('.spec.ts') && !p.endsWith('branch_rows.spec.ts') ? [resolve(p)] : [];
  });
}

function titles(suite: Mocha.Suite): string[] {
  return [...suite.tests.map((t) => t.title), ...suite.suites.flatMap(titles)];
}

async function loadedTitles(files: string[]): Promise<Set<string>> {
  const loader = new Mocha();
  for (const f of files) {
    delete require.cache[f];
    loader.addFile(f);
  }
  await loader.loadFilesAsync();
  // Forget them again: a parallel worker that runs one of these files later must execute it.
  loader.unloadFiles();
  return new Set(titles(loader.suite).map((t) => /^([A-Z][A-Za-z0-9.]*):/.exec(t)?.[1]).filter((id): id is string => !!id));
}

describe('branch tables (spec/branches/*.json)', () => {
  let ids = new Set<string>();
  // Loading spec files into another Mocha rebinds describe/it, so it happens at run time.
  before(async () => {
    ids = await loadedTitles(specFiles('spec/programs'));
  });

  for (const file of readdirSync('spec/branches').filter((f) => f.endsWith('.json'))) {
    it(`${file}: every row has a spec titled with its id, and points at a real branch line`, () => {
      const table = JSON.parse(readFileSync(join('spec/branches', file), 'utf8')) as { rows: { id: string; file: string; line: number }[] };
      expect(table.rows.length).to.be.greaterThan(0);
      expect(table.rows.filter((r) => !ids.has(r.id)).map((r) => r.id), `rows without a spec in ${file}`).to.deep.equal([]);
      for (const r of table.rows) {
        const line = readFileSync(r.file, 'utf8').split('\n')[r.line - 1] ?? '';
        expect(line, `${r.id} at ${r.file}:${r.line}`).to.match(/\b(if|for|while|switch|case|default)\b|\?/);
      }
    });
  }
});
