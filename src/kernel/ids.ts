// Kernel objects by id: which object one of this process's fds holds, and whether the kernel still
// has an object. Hygiene specs use them to check object by object, whoever else loads BPF on the
// host, that a run leaves nothing behind (the kernel does not reuse an id until its ids wrap).
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { bpfRaw, closeFd, Cmd, scratch, syscallError } from '../sys/bpf';

export type ObjectKind = 'prog' | 'map' | 'btf';

export interface KernelObject {
  kind: ObjectKind;
  id: number;
}

const ENOENT = 2;

/** What /proc/self/fd/N links to, per kind; its fdinfo holds "<kind>_id". */
const ANON_INODE: Record<string, ObjectKind> = { 'anon_inode:bpf-prog': 'prog', 'anon_inode:bpf-map': 'map', 'anon_inode:btf': 'btf' };

const GET_FD_BY_ID: Record<ObjectKind, Cmd> = { prog: Cmd.PROG_GET_FD_BY_ID, map: Cmd.MAP_GET_FD_BY_ID, btf: Cmd.BTF_GET_FD_BY_ID };

/** The BPF program, map or BTF that fd holds in this process; undefined when it holds none. */
export function objectOfFd(fd: number): KernelObject | undefined {
  try {
    const kind = ANON_INODE[readlinkSync(`/proc/self/fd/${fd}`)];
    if (!kind) return undefined;
    const m = new RegExp(`^${kind}_id:\\s*(\\d+)$`, 'm').exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
    return m ? { kind, id: Number(m[1]) } : undefined;
  } catch {
    return undefined; // closed meanwhile
  }
}

/** Every BPF object this process holds an fd of, by fd. */
export function openObjects(): Map<number, KernelObject> {
  const out = new Map<number, KernelObject>();
  for (const name of readdirSync('/proc/self/fd')) {
    const o = objectOfFd(Number(name));
    if (o) out.set(Number(name), o);
  }
  return out;
}

/** Whether the kernel still has this object, held by anyone (BPF_*_GET_FD_BY_ID; CAP_SYS_ADMIN). */
export function objectAlive(o: KernelObject): boolean {
  const buf = scratch.prepare(0);
  buf.writeUInt32LE(o.id, 0);
  const r = bpfRaw(GET_FD_BY_ID[o.kind], 12);
  if (r.value >= 0) {
    closeFd(r.value);
    return true;
  }
  if (r.errno === ENOENT) return false;
  throw syscallError(GET_FD_BY_ID[o.kind], r.errno, `${o.kind} id ${o.id}`);
}
