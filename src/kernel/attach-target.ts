// What a tracing section attaches to (fentry/, fexit/, fmod_ret/, lsm/, iter/, tp_btf/), found
// in the kernel's BTF as libbpf 1.1 finds it: vmlinux first, then each loaded module's split
// BTF. A target in a module loads with the module's id and that module BTF's fd
// (attach_btf_obj_fd), so the fd must stay open until the program is loaded.
import { BtfKind } from '../btf/btf';
import { findKernelSymbol } from '../btf/kernel-symbols';
import { LinkError } from '../errors';
import type { ProgramSpec } from '../object/object';
import { ModuleBtfs, vmlinuxBtf } from './kernel-btf';

/**
 * The attach targets of one load. Module BTF is searched only when vmlinux lacks a target;
 * close() once the programs are loaded (the kernel holds its own refs).
 */
export class AttachTargets {
  constructor(private readonly modules: ModuleBtfs = new ModuleBtfs()) {}

  /** The program with the BTF id (and module BTF) of its target; unchanged for other sections. */
  resolve(p: ProgramSpec): ProgramSpec {
    const to = p.kind?.attachTo;
    if (!to) return p;
    const kind = to.kind === 'func' ? BtfKind.Func : BtfKind.Typedef;
    const vmlinux = vmlinuxBtf('attach targets of tracing sections');
    const site = findKernelSymbol(vmlinux, () => this.modules.list, kind, to.name);
    if (!site) throw this.missing(p, to);
    const { module } = site;
    return { ...p, attachBtfId: site.id, ...(module && { attachBtfObj: { module: module.name, fd: module.fd } }) };
  }

  private missing(p: ProgramSpec, to: { name: string; kind: string }): LinkError {
    const where = this.modules.notFound();
    // libbpf 1.5 reads `fentry/module:function` as a function of that module; 1.1 (what bpfunit
    // follows) looks the whole name up, and no kernel has it.
    const form = to.name.includes(':') ? "; the 'module:function' form is libbpf 1.5's: libbpf 1.1 looks the whole name up" : '';
    return new LinkError(`program ${p.name}: section '${p.section}' attaches to ${to.kind === 'func' ? 'function' : 'typedef'} '${to.name}', which is ${where}${form}`);
  }

  /** Closes the module BTF fds: after the programs are loaded. */
  close(): void {
    this.modules.close();
  }
}
