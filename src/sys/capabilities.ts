// The capabilities BPF needs, read from the process's effective set (CapEff in /proc/self/status).
// The kernel grants bpf() by capability, not by uid: a non-root process holding these is as able
// as root, and root without them (in a restricted container) is not.
import { readFileSync } from 'node:fs';

const CAP_NET_ADMIN = 12;
const CAP_SYS_ADMIN = 21;
const CAP_PERFMON = 38;
const CAP_BPF = 39;

const NEEDED: [string, number][] = [
  ['CAP_BPF', CAP_BPF],
  ['CAP_PERFMON', CAP_PERFMON],
  ['CAP_NET_ADMIN', CAP_NET_ADMIN],
];

/** The effective capability set as a bit mask (bit n = capability n); 0 when /proc is unreadable. */
export function effectiveCapabilities(): bigint {
  let status: string;
  try {
    status = readFileSync('/proc/self/status', 'utf8');
  } catch {
    return 0n;
  }
  const m = /^CapEff:\s*([0-9a-fA-F]+)$/m.exec(status);
  return m ? BigInt(`0x${m[1]}`) : 0n;
}

const has = (caps: bigint, cap: number) => ((caps >> BigInt(cap)) & 1n) === 1n;

/** The capabilities among CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN that `caps` lacks. CAP_SYS_ADMIN
 * stands in for each of them, as it does in the kernel's checks. */
export function missingBpfCapabilities(caps: bigint = effectiveCapabilities()): string[] {
  if (has(caps, CAP_SYS_ADMIN)) return [];
  return NEEDED.filter(([, cap]) => !has(caps, cap)).map(([name]) => name);
}
