// lcov tracefile (geninfo(1) format) for the BPF C sources: one record per file with FN/FNDA/FNF/
// FNH, BRDA/BRF/BRH (block = index of the jump on its line, branch 0 = taken, 1 = not taken,
// "-" when the jump never ran), DA/LF/LH. genhtml turns it into HTML.
import type { FileCoverage } from './lines';

export function lcov(files: Iterable<FileCoverage>, testName = ''): string {
  const out: string[] = [];
  const sorted = [...files].sort((a, b) => a.file.localeCompare(b.file));
  for (const f of sorted) {
    out.push(`TN:${testName}`, `SF:${f.file}`);
    for (const fn of f.functions) out.push(`FN:${fn.line},${fn.name}`);
    for (const fn of f.functions) out.push(`FNDA:${fn.hits},${fn.name}`);
    out.push(`FNF:${f.functions.length}`, `FNH:${f.functions.filter((fn) => fn.hits > 0).length}`);
    let brh = 0;
    for (const b of f.branches) {
      const ran = b.taken + b.notTaken > 0;
      out.push(`BRDA:${b.line},${b.block},0,${ran ? b.taken : '-'}`, `BRDA:${b.line},${b.block},1,${ran ? b.notTaken : '-'}`);
      brh += (b.taken > 0 ? 1 : 0) + (b.notTaken > 0 ? 1 : 0);
    }
    out.push(`BRF:${2 * f.branches.length}`, `BRH:${brh}`);
    const lines = [...f.lines].sort((a, b) => a[0] - b[0]);
    for (const [line, hits] of lines) out.push(`DA:${line},${hits}`);
    out.push(`LF:${lines.length}`, `LH:${lines.filter(([, h]) => h > 0).length}`, 'end_of_record');
  }
  return out.length ? out.join('\n') + '\n' : '';
}
