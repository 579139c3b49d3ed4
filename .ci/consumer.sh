#!/usr/bin/env bash
# CI, as a user: pack bpfunit, install the tarball into a fresh repository (dependencies from the
# npm cache when there), scaffold it, then build, test, cover and commit through the installed CLI;
# also a plain JavaScript spec (require('bpfunit')) on a program outside the repository, an ESM
# import, node --test with the core API, and a strict tsconfig from `tsc --init`.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
step() { printf '\n== %s\n' "$*"; }
fail() { echo "consumer check FAILED: $*" >&2; exit 1; }

step "npm pack"
(cd "$here" && npm pack --silent --pack-destination "$tmp" >/dev/null)
tarball="$(ls "$tmp"/bpfunit-*.tgz)"
tar tzf "$tarball" | grep -Eq '^package/(spec|bench|fuzz|bpf|src)/' && fail "the tarball ships sources, specs or benchmarks"
echo "$(tar tzf "$tarball" | wc -l) files, $(du -k "$tarball" | cut -f1) KiB"

step "a fresh repository installs the tarball"
repo="$tmp/repo"
mkdir "$repo" && cd "$repo"
git init -q && git config user.email ci@example.invalid && git config user.name ci
npm init -y >/dev/null
npm install --no-audit --no-fund --prefer-offline --loglevel=error "$tarball" typescript@5 @types/node@20 @types/mocha@10 >/dev/null

step "bpfunit init (twice: the second run keeps everything)"
npx --no-install bpfunit init
npx --no-install bpfunit init | grep -q '^created' && fail "a second init overwrote or created files"

step "bpfunit test: the scaffolded XDP program and the re-hosted sk_msg program"
npx --no-install bpfunit test | tee "$tmp/test.out"
grep -q 'xdp_filter' "$tmp/test.out" && grep -q 'msg_guard (sk_msg, re-hosted in XDP)' "$tmp/test.out" || fail "a scaffolded spec did not run"

step "a program outside the repository (a sibling checkout), a plain JS spec, an ESM import"
mkdir -p "$tmp/sibling"
cat > "$tmp/sibling/count_len.c" <<'C'
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__u64 total_len;

SEC("xdp")
int count_len(struct xdp_md *ctx)
{
	__u64 len = ctx->data_end - ctx->data;

	total_len += len;
	return len > 100 ? XDP_DROP : XDP_PASS;
}
char LICENSE[] SEC("license") = "GPL";
C
node -e '
const fs = require("fs");
const c = JSON.parse(fs.readFileSync("bpfunit.config.json", "utf8"));
c.sources.push(process.argv[1]);
c.coverage.include.push(process.argv[2]);
fs.writeFileSync("bpfunit.config.json", JSON.stringify(c, null, 2));
' "$tmp/sibling/*.c" "$tmp/sibling/**"
cat > test/count_len.spec.js <<'JS'
const assert = require('node:assert/strict');
const { Harness, InputError } = require('bpfunit');

describe('count_len (outside the repository, plain JavaScript)', () => {
  let h;
  before(() => { h = Harness.load('build/bpf/count_len.o'); });
  beforeEach(() => h.reset());
  after(() => h.close());

  it('passes short packets, drops long ones, and adds up their lengths', () => {
    assert.equal(h.run('count_len', { data: Buffer.alloc(64) }).retval, 2);
    assert.equal(h.run('count_len', { data: Buffer.alloc(200) }).retval, 1);
    assert.equal(h.get('total_len'), 264n);
  });

  it('names a missing program', () => {
    assert.throws(() => h.run('nope', { data: Buffer.alloc(64) }), InputError);
  });
});
JS
cat > esm-check.mjs <<'JS'
import { Collection, ObjectSpec, Harness, MsgOp } from 'bpfunit';
import { useHarness } from 'bpfunit/mocha';
import { KmeshMaps } from 'bpfunit/kmesh';
import { lcov } from 'bpfunit/coverage';
for (const [name, v] of Object.entries({ Collection, ObjectSpec, Harness, MsgOp, useHarness, KmeshMaps, lcov })) {
  if (v === undefined) throw new Error(`ESM import of ${name} is undefined`);
}
const spec = ObjectSpec.fromFile('build/bpf/xdp_filter.o');
console.log('ESM import ok:', spec.programs.map((p) => p.name).join(','));
JS
npx --no-install bpfunit test --reporter dot
node esm-check.mjs

step "node --test with the core API (no mocha)"
mkdir -p node-test
cat > node-test/filter.test.js <<'JS'
const test = require('node:test');
const assert = require('node:assert/strict');
const { Harness } = require('bpfunit');

test('xdp_filter under node:test', (t) => {
  const h = Harness.load('build/bpf/xdp_filter.o', ['xdp_filter']);
  t.after(() => h.close());
  const frame = Buffer.alloc(60);
  frame.writeUInt16BE(0x86dd, 12);
  h.map('blocked_protos').update(Buffer.from([0x86, 0xdd]), Buffer.from([1]));
  assert.equal(h.run('xdp_filter', { data: frame }).retval, 1);
  h.reset(); // the block list is empty again
  assert.equal(h.run('xdp_filter', { data: frame }).retval, 2);
});
JS
node --test node-test/

step "TypeScript: tsc --init's strict tsconfig type-checks the specs against bpfunit's .d.ts"
cat > types.mts <<'TS'
import { Collection, Harness, InputError, MsgOp, ObjectSpec, type RunResult } from 'bpfunit';
import { useHarness } from 'bpfunit/mocha';
import { KmeshMaps } from 'bpfunit/kmesh';
const h: Harness = Harness.load('build/bpf/xdp_filter.o');
const r: RunResult = h.run('xdp_filter', { data: Buffer.alloc(60) });
const c: Collection = h.collection;
export const used = [r.retval, c.spec.name, MsgOp.PUSH, useHarness, KmeshMaps, ObjectSpec, InputError];
TS
npx --no-install tsc --init >/dev/null
node -e '
const fs = require("fs");
const text = fs.readFileSync("tsconfig.json", "utf8").replace(/\/\/.*$/gm, "").replace(/\/\*[\s\S]*?\*\//g, "");
const t = JSON.parse(text.replace(/,(\s*[}\]])/g, "$1"));
t.compilerOptions.types = ["node", "mocha"];
t.include = ["test/**/*.ts", "*.mts"];
fs.writeFileSync("tsconfig.json", JSON.stringify(t, null, 2));
'
# tsc --init turns on verbatimModuleSyntax, which forbids `import` in a CommonJS package's .ts
# files (the user's choice: "type": "module", or this option off); bpfunit's own .d.ts are
# checked too (skipLibCheck off).
npx --no-install tsc --noEmit -p . --verbatimModuleSyntax false --skipLibCheck false || fail "tsc --noEmit with a strict tsconfig"

step "the same specs in an ESM package (\"type\": \"module\"), with tsc --init's settings unchanged"
cp package.json "$tmp/package.json.cjs"
node -e 'const fs = require("fs"); const p = JSON.parse(fs.readFileSync("package.json", "utf8")); p.type = "module"; fs.writeFileSync("package.json", JSON.stringify(p, null, 2));'
npx --no-install tsc --noEmit -p . --skipLibCheck false || fail "tsc --noEmit in an ESM package"
npx --no-install bpfunit test --reporter dot 'test/*.spec.ts'
cp "$tmp/package.json.cjs" package.json

step "bpfunit coverage: lcov names the repository's C files and the sibling's; coverage check repeats the check from the saved counts"
npx --no-install bpfunit coverage && npx --no-install bpfunit coverage check
for f in bpf/xdp_filter.c bpf/msg_guard.c "$tmp/sibling/count_len.c"; do
  grep -qx "SF:$f" coverage/lcov.info || fail "coverage/lcov.info has no SF:$f"
done
grep -q '^SF:.*mock/' coverage/lcov.info && fail "coverage reports the mock library's headers"

step "bpfunit install-hook chains an existing hook; a commit runs the check, a failing spec stops it"
printf '#!/bin/sh\necho earlier hook ran > "%s"\n' "$tmp/earlier" > .git/hooks/pre-commit
chmod +x .git/hooks/pre-commit
npx --no-install bpfunit install-hook
git add -A
git commit -qm "bpfunit scaffold" 2>&1 | tee "$tmp/commit.out"
grep -q passing "$tmp/commit.out" || fail "the commit did not run the specs"
[ -f "$tmp/earlier" ] || fail "the earlier hook did not run"
sed -i 's/XDP_PASS = 2/XDP_PASS = 3/' test/xdp_filter.spec.ts
git add -A
git commit -qm "a broken spec" >/dev/null 2>&1 && fail "a commit with a failing spec went through"
echo "consumer check passed"
