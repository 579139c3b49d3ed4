// The kernel's BTF: vmlinux's (/sys/kernel/btf/vmlinux, read once per process) and the BTF
// objects of loaded modules, enumerated with bpf() as libbpf enumerates them
// (BPF_BTF_GET_NEXT_ID, BPF_BTF_GET_FD_BY_ID, BPF_OBJ_GET_INFO_BY_FD: name, kernel_btf, bytes)
// and parsed as split BTF on top of vmlinux's. Modules come and go, so they are enumerated on
// every call; a module's parse is kept while its BTF object id lives.
import { readFileSync } from 'node:fs';
import { Btf } from '../btf/btf';
import type { ModuleBtf } from '../btf/kernel-symbols';
import { LinkError } from '../errors';
import { bpfRaw, closeFd, Cmd, scratch, syscallError } from '../sys/bpf';

const VMLINUX = '/sys/kernel/btf/vmlinux';
const ENOENT = 2;
const EPERM = 1;

let vmlinux: Btf | undefined;

/** The running kernel's vmlinux BTF; `why` says what needs it, for the error. */
export function vmlinuxBtf(why = 'kernel symbols'): Btf {
  if (vmlinux) return vmlinux;
  let bytes: Buffer;
  try {
    bytes = readFileSync(VMLINUX);
  } catch (e) {
    throw new LinkError(`${why} need the kernel's BTF, and ${VMLINUX} cannot be read (${(e as Error).message})`);
  }
  return (vmlinux = Btf.parse(bytes));
}

/** A loaded module's BTF with the fd this process holds on it (the caller closes it). */
export interface OpenModuleBtf extends ModuleBtf {
  /** The kernel's id of the BTF object. */
  objectId: number;
  fd: number;
}

/**
 * The loaded modules' BTF for one load, enumerated (and their fds opened) the first time a symbol
 * or attach target is not in vmlinux, shared by everything that searches them; close() once the
 * programs are loaded (the kernel holds its own references).
 */
export class ModuleBtfs {
  private opened?: OpenModuleBtf[];

  /** `open` enumerates the loaded modules' BTF (replaced in specs). */
  constructor(private readonly open: () => OpenModuleBtf[] = openModuleBtfs) {}

  get list(): OpenModuleBtf[] {
    return (this.opened ??= this.open());
  }

  /** Where a symbol was looked for and not found, for an error message. */
  notFound(): string {
    const names = this.opened?.map((m) => m.name) ?? [];
    return names.length ? `not in vmlinux BTF nor in the BTF of the loaded modules (${names.join(', ')})` : 'not in vmlinux BTF, and no module BTF is loaded';
  }

  close(): void {
    for (const m of this.opened ?? []) closeFd(m.fd);
    this.opened = undefined;
  }
}

const parsed = new Map<number, Btf>();

/** Every loaded module's BTF, by ascending object id, each with an open fd: close them all. */
export function openModuleBtfs(): OpenModuleBtf[] {
  const base = vmlinuxBtf();
  const out: OpenModuleBtf[] = [];
  try {
    for (let id = nextBtfId(0); id !== undefined; id = nextBtfId(id)) {
      const fd = btfFdById(id);
      if (fd === undefined) continue; // unloaded meanwhile
      let keep = false;
      try {
        const info = btfInfo(fd, 0);
        // Programs' BTF is not the kernel's; vmlinux is the base, read from sysfs.
        if (!info.kernelBtf || info.name === 'vmlinux') continue;
        let btf = parsed.get(id);
        if (!btf) {
          const data = btfInfo(fd, info.size).data!;
          btf = Btf.parse(data, base);
          parsed.set(id, btf);
        }
        out.push({ name: info.name, btf, firstId: base.types.length, objectId: id, fd });
        keep = true;
      } finally {
        if (!keep) closeFd(fd);
      }
    }
  } catch (e) {
    for (const m of out) closeFd(m.fd);
    throw e;
  }
  for (const id of parsed.keys()) if (!out.some((m) => m.objectId === id)) parsed.delete(id);
  return out;
}

/** The next BTF object id after `start`; undefined past the last one, or when this process may
 * not enumerate BTF objects (EPERM without CAP_SYS_ADMIN: libbpf then skips module BTF too). */
function nextBtfId(start: number): number | undefined {
  const buf = scratch.prepare(0);
  buf.writeUInt32LE(start, 0);
  const r = bpfRaw(Cmd.BTF_GET_NEXT_ID, 12);
  if (r.value >= 0) return buf.readUInt32LE(4);
  if (r.errno === ENOENT || (r.errno === EPERM && start === 0)) return undefined;
  throw syscallError(Cmd.BTF_GET_NEXT_ID, r.errno, `after BTF id ${start}`);
}

function btfFdById(id: number): number | undefined {
  const buf = scratch.prepare(0);
  buf.writeUInt32LE(id, 0);
  const r = bpfRaw(Cmd.BTF_GET_FD_BY_ID, 12);
  if (r.value >= 0) return r.value;
  if (r.errno === ENOENT) return undefined;
  throw syscallError(Cmd.BTF_GET_FD_BY_ID, r.errno, `BTF id ${id}`);
}

const INFO_SIZE = 32; // struct bpf_btf_info: btf, btf_size, id, name, name_len, kernel_btf
const NAME_MAX = 64; // module names are shorter (MODULE_NAME_LEN)

/** struct bpf_btf_info of `fd`, with its first `dataSize` bytes of BTF. */
function btfInfo(fd: number, dataSize: number): { name: string; kernelBtf: boolean; size: number; data?: Buffer } {
  const buf = scratch.prepare(INFO_SIZE + NAME_MAX + dataSize);
  const info = scratch.ptrOffset(0);
  buf.fill(0, info, info + INFO_SIZE + NAME_MAX);
  buf.writeUInt32LE(fd, 0);
  buf.writeUInt32LE(INFO_SIZE, 4);
  buf.writeBigUInt64LE(scratch.ptr(0), 8);
  if (dataSize) {
    buf.writeBigUInt64LE(scratch.ptr(INFO_SIZE + NAME_MAX), info);
    buf.writeUInt32LE(dataSize, info + 8);
  }
  buf.writeBigUInt64LE(scratch.ptr(INFO_SIZE), info + 16);
  buf.writeUInt32LE(NAME_MAX, info + 24);
  const r = bpfRaw(Cmd.OBJ_GET_INFO_BY_FD, 16);
  if (r.value < 0) throw syscallError(Cmd.OBJ_GET_INFO_BY_FD, r.errno, `BTF fd ${fd}`);
  const size = buf.readUInt32LE(info + 8);
  const nameAt = scratch.ptrOffset(INFO_SIZE);
  const nul = buf.indexOf(0, nameAt);
  return {
    name: buf.toString('latin1', nameAt, nul < 0 || nul > nameAt + NAME_MAX ? nameAt + NAME_MAX : nul),
    kernelBtf: buf.readUInt32LE(info + 28) !== 0,
    size,
    data: dataSize ? Buffer.from(buf.subarray(scratch.ptrOffset(INFO_SIZE + NAME_MAX), scratch.ptrOffset(INFO_SIZE + NAME_MAX) + Math.min(size, dataSize))) : undefined,
  };
}
