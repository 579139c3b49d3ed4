// Test helper: measures sizeof/offsetof with the system C compiler, so the specs compare the
// TypeScript layouts with what gcc lays out from the real headers.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface CStructQuery {
  /** C type name, e.g. "struct xdp_md" */
  type: string;
  /** member designators, e.g. ["data", "ipv4.daddr"] */
  members: string[];
}

export interface CMeasure {
  size: number;
  members: Record<string, { offset: number; size: number }>;
}

export const CC = process.env.CC ?? 'gcc';

/** True when the compiler can be run. */
export function haveCompiler(): boolean {
  try {
    execFileSync(CC, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Compiles and runs a program printing sizeof and offsetof for each query. `prelude` holds the
 * #includes / definitions the types need. */
export function measure(prelude: string, queries: CStructQuery[], includeDirs: string[] = []): Record<string, CMeasure> {
  const lines: string[] = [];
  for (const q of queries) {
    lines.push(`  printf("%s|%s|%zu|%zu\\n", "${q.type}", "", (size_t)0, sizeof(${q.type}));`);
    for (const m of q.members) {
      lines.push(
        `  printf("%s|%s|%zu|%zu\\n", "${q.type}", "${m}", offsetof(${q.type}, ${m}), sizeof(((${q.type} *)0)->${m}));`,
      );
    }
  }
  const src = `#include <stdio.h>\n#include <stddef.h>\n${prelude}\nint main(void) {\n${lines.join('\n')}\n  return 0;\n}\n`;
  const dir = mkdtempSync(join(tmpdir(), 'bpfunit-offsetof-'));
  try {
    writeFileSync(join(dir, 'm.c'), src);
    const exe = join(dir, 'm');
    execFileSync(CC, [...includeDirs.map((d) => `-I${d}`), '-o', exe, join(dir, 'm.c')], { stdio: ['ignore', 'ignore', 'pipe'] });
    const out = execFileSync(exe, { encoding: 'utf8' });
    const result: Record<string, CMeasure> = {};
    for (const line of out.trim().split('\n')) {
      const [type, member, offset, size] = line.split('|');
      const entry = (result[type] ??= { size: 0, members: {} });
      if (member === '') entry.size = Number(size);
      else entry.members[member] = { offset: Number(offset), size: Number(size) };
    }
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
