// The real side of the differential suite: spec/differential/attach.c (libbpf) attaches the
// program for real and drives sockets through it. Only in a bpfunit guest: `bpfunit vm` puts
// bpfunit.guest on the guest kernel's command line, which the host's never has, and the tool
// checks it again itself. On the host every differential spec asserts that refusal instead.
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { BtfKind } from '../../src/btf/btf';
import { recordRequirement } from '../../src/kernel/it-requires';
import { ObjectSpec } from '../../src/object/object';
import { tmp } from '../loader/helpers';

/** Whether this process runs in a bpfunit guest (never true on the host). */
export function inGuest(): boolean {
  const cmdline = readFileSync('/proc/cmdline', 'utf8').trim().split(/\s+/);
  return cmdline.includes('bpfunit.guest') && Boolean(process.env.BPFUNIT_VM);
}

let built: string | undefined;
function tool(): string {
  if (!built) {
    const out = path.join(tmp(), 'attach');
    execFileSync('gcc', ['-O1', '-Wall', '-o', out, path.join(__dirname, 'attach.c'), '-lbpf'], { stdio: 'pipe' });
    built = out;
  }
  return built;
}

/** What attach.c printed: the kernel's side of a differential check. */
export type Real = Record<string, unknown> & {
  maps?: Record<string, Record<string, string>>;
  ringbufs?: Record<string, string[]>;
  storage?: string | null;
};

/** Runs attach.c with these arguments (in a guest only); a failing step is an Error with its stderr. */
export function attachReal(args: string[]): Real {
  if (!inGuest()) throw new Error('attachReal outside a bpfunit guest');
  const r = spawnSync(tool(), args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`attach ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Real;
}

/** The network namespace cookie of the guest (what bpf_get_netns_cookie gives its programs). */
export function realNetnsCookie(): bigint {
  return BigInt((attachReal(['cookie']) as { cookie: string }).cookie);
}

/**
 * A differential check: in a guest, `body` runs the program for real and re-hosted and compares.
 * Elsewhere nothing is attached: the check asserts that the attaching tool refuses to run, then
 * reports itself skipped (the title says why); the kernel matrix lists it as a stated difference.
 */
export function itDifferential(title: string, body: () => void): void {
  it(`${title} [requires a bpfunit guest: attaches for real]`, function () {
    const guest = inGuest();
    recordRequirement(this.test!, guest);
    if (guest) return body();
    const r = spawnSync(tool(), ['cookie'], { encoding: 'utf8' });
    expect({ status: r.status, stderr: r.stderr }).to.deep.equal({
      status: 3,
      stderr: 'attach: refusing to attach outside a bpfunit guest (no bpfunit.guest in /proc/cmdline)\n',
    });
    this.skip();
  });
}

/** The globals of a data section dumped by attach.c (--dump .bss): each at its ELF symbol's
 * offset (clang leaves the offsets in the object's BTF at 0), its BTF type's size. */
export function sectionGlobals(object: string, section: string, bytes: Buffer): Record<string, Buffer> {
  const spec = ObjectSpec.fromFile(object);
  const btf = spec.btf!;
  const elfSec = spec.elf.sectionByName(section)!;
  const out: Record<string, Buffer> = {};
  for (const v of btf.find(BtfKind.Datasec, section)!.vars!) {
    const name = btf.type(v.type).name!;
    const sym = spec.elf.symbols.find((x) => x.section === elfSec.index && x.name === name)!;
    out[name] = bytes.subarray(sym.value, sym.value + btf.sizeOf(v.type));
  }
  return out;
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}
