// In a guest under emulation (bpfunit vm sets BPFUNIT_SLOW to how much slower it runs), every
// mocha time limit (the configured default, describe- and it-level this.timeout) is scaled, so
// nothing fails for being slow there. On the host BPFUNIT_SLOW is unset and nothing changes.
// Deadlines a spec gives a child process (hang guards) are scaled alike, through slowed().
import Mocha from 'mocha';

const factor = Number(process.env.BPFUNIT_SLOW ?? '1');

/** A hang guard's limit, stretched as much as this machine is slower than the host. */
export function slowed(ms: number): number {
  return Number.isFinite(factor) && factor > 1 ? ms * factor : ms;
}
if (Number.isFinite(factor) && factor > 1) {
  const timeout = Mocha.Runnable.prototype.timeout as (this: Mocha.Runnable, ms?: number | string) => unknown;
  // Runnables get the suite's limit through this setter too, so scaling here scales each once.
  Mocha.Runnable.prototype.timeout = function (this: Mocha.Runnable, ms?: number | string) {
    if (typeof ms === 'number' && ms > 0) return timeout.call(this, ms * factor);
    // The getter must be called with no argument at all: mocha tells them apart by arguments.length.
    return ms === undefined ? timeout.call(this) : timeout.call(this, ms);
  } as typeof Mocha.Runnable.prototype.timeout;
}
