// Reads the BTF CO-RE relocates against: the running kernel's (vmlinux, and the loaded modules'
// BTF, enumerated only when vmlinux lacks a type) or a file the user names. Parsing and
// relocating are pure (src/core); this is only the reading.
import { readFileSync, statSync } from 'node:fs';
import type { ModuleBtf } from '../btf/kernel-symbols';
import { CoreTarget } from '../core/target';
import { InputError } from '../errors';
import { closeFd } from '../sys/bpf';
import { openModuleBtfs, vmlinuxBtf } from './kernel-btf';

let kernel: CoreTarget | undefined;

/** The running kernel's BTF, parsed once per process (modules too, once first needed). */
export function kernelCoreTarget(): CoreTarget {
  if (kernel) return kernel;
  const main = vmlinuxBtf('CO-RE relocations (or name a BTF file with the targetBtf option, --btf on the command line)');
  let modules: ModuleBtf[] | undefined;
  const readModules = () => {
    if (!modules) {
      const open = openModuleBtfs();
      for (const m of open) closeFd(m.fd); // only their types are needed
      modules = open.map(({ name, btf, firstId }) => ({ name, btf, firstId }));
    }
    return modules;
  };
  kernel = new CoreTarget('vmlinux', main, readModules);
  return kernel;
}

const files = new Map<string, { mtimeMs: number; size: number; target: CoreTarget }>();

/** A BTF file (raw BTF or an ELF file with .BTF) to relocate against instead of the kernel's;
 * parsed again only when the file changes, since a whole vmlinux BTF takes a while. */
export function fileCoreTarget(path: string): CoreTarget {
  let bytes: Buffer;
  let st: { mtimeMs: number; size: number };
  try {
    st = statSync(path);
    const known = files.get(path);
    if (known && known.mtimeMs === st.mtimeMs && known.size === st.size) return known.target;
    bytes = readFileSync(path);
  } catch (e) {
    throw new InputError(`cannot read target BTF ${path}: ${(e as Error).message}`);
  }
  const target = CoreTarget.fromBytes(bytes, path);
  files.set(path, { mtimeMs: st.mtimeMs, size: st.size, target });
  return target;
}
