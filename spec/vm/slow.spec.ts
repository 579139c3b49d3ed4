// spec/support/slow.ts: in a guest (BPFUNIT_SLOW set) every mocha limit is scaled once; on the
// host (unset) none is.
import { expect } from 'chai';
import { execFileSync } from 'child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import os from 'os';
import path from 'path';

const ROOT = path.join(__dirname, '..', '..');

function limits(slow: string | undefined): number[] {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bpfunit-slow-'));
  try {
    const spec = path.join(dir, 'limits.spec.js');
    writeFileSync(spec, `
      describe('limits', function () {
        this.timeout(7000);
        it('default', function () { console.log("LIMIT " + this.timeout()); });
        it('own', function () { this.timeout(100); console.log("LIMIT " + this.timeout()); });
        it('child deadline', function () { console.log("LIMIT " + require(${JSON.stringify(path.join(ROOT, 'spec/support/slow.ts'))}).slowed(60000)); });
      });`);
    const env = { ...process.env, BPFUNIT_SLOW: slow };
    if (slow === undefined) delete env.BPFUNIT_SLOW;
    const out = execFileSync(process.execPath, [path.join(ROOT, 'node_modules/mocha/bin/mocha.js'), '--no-config', '--require', 'ts-node/register', '--require', 'spec/support/slow.ts', '--reporter', 'dot', spec], { cwd: ROOT, env, encoding: 'utf8' });
    return [...out.matchAll(/LIMIT (\d+)/g)].map((m) => Number(m[1]));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('time limits in a guest (BPFUNIT_SLOW)', function () {
  this.timeout(60000);
  it('scales the describe-level and the it-level limit once each by the factor, and a child process deadline (slowed)', () => {
    expect(limits('5')).to.deep.equal([35000, 500, 300000]);
  });
  it('leaves them alone when unset', () => {
    expect(limits(undefined)).to.deep.equal([7000, 100, 60000]);
  });
});
