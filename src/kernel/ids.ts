// Counts of the BPF objects alive in the kernel, by walking their ids. Used to prove that a run
// leaves nothing behind.
import { bpfRaw, Cmd, scratch, syscallError } from '../sys/bpf';

const ENOENT = 2;

function countIds(cmd: Cmd): number {
  let id = 0;
  let n = 0;
  for (;;) {
    const buf = scratch.prepare(0);
    buf.writeUInt32LE(id, 0);
    const r = bpfRaw(cmd, 12);
    if (r.value < 0) {
      if (r.errno === ENOENT) return n;
      throw syscallError(cmd, r.errno, 'walking object ids');
    }
    id = buf.readUInt32LE(4);
    n++;
  }
}

export interface KernelObjectCounts {
  programs: number;
  maps: number;
  links: number;
}

export function kernelObjectCounts(): KernelObjectCounts {
  return {
    programs: countIds(Cmd.PROG_GET_NEXT_ID),
    maps: countIds(Cmd.MAP_GET_NEXT_ID),
    links: countIds(Cmd.LINK_GET_NEXT_ID),
  };
}
