// Records the kernel objects bpfunit creates (through the listener in src/kernel/created.ts) and
// checks them afterwards, object by object: its fd closed, and the object gone from the kernel.
// Other processes loading BPF on the host cannot disturb these checks, unlike counts would.
import { onObjectCreated } from '../../src/kernel/created';
import { KernelObject, objectAlive, objectOfFd } from '../../src/kernel/ids';

export interface Created extends KernelObject {
  fd: number;
}

export interface Recording {
  created: Created[];
  /** fds reported as new objects whose fdinfo named none (should stay empty). */
  unresolved: number[];
  stop(): void;
}

/** Records every object created until stop(). */
export function recordCreated(): Recording {
  const rec: Recording = { created: [], unresolved: [], stop: () => onObjectCreated(previous) };
  const previous = onObjectCreated((fd) => {
    previous?.(fd);
    const o = objectOfFd(fd);
    if (o) rec.created.push({ fd, ...o });
    else rec.unresolved.push(fd);
  });
  return rec;
}

/** Those of `created` still held by their fd. An fd number is reused once closed, so the object
 * behind it is compared, not the number. */
export function stillOpen(created: Created[]): Created[] {
  return created.filter((c) => {
    const o = objectOfFd(c.fd);
    return o?.kind === c.kind && o.id === c.id;
  });
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** Those of `objects` the kernel still has after waiting up to `ms`: it frees closed programs and
 * maps asynchronously, so each is looked up by id until it is gone. */
export async function stillAlive(objects: KernelObject[], ms = 30000): Promise<KernelObject[]> {
  const deadline = Date.now() + ms;
  let left = objects.map(({ kind, id }) => ({ kind, id }));
  for (;;) {
    left = left.filter(objectAlive);
    if (left.length === 0 || Date.now() > deadline) return left;
    await sleep(50);
  }
}
