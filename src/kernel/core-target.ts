// Reads the BTF CO-RE relocates against: the running kernel's (/sys/kernel/btf/vmlinux, module
// BTF beside it, read only when vmlinux lacks a type) or a file the user names. Parsing and
// relocating are pure (src/core); this is only the file reading.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Btf } from '../btf/btf';
import { CoreTarget, ModuleBtf } from '../core/target';
import { InputError, LinkError } from '../errors';

const SYS_BTF = '/sys/kernel/btf';

let kernel: CoreTarget | undefined;

/** The running kernel's BTF, parsed once per process (it cannot change while we run). */
export function kernelCoreTarget(): CoreTarget {
  if (kernel) return kernel;
  const path = join(SYS_BTF, 'vmlinux');
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new LinkError(`CO-RE relocations need the kernel's BTF, and ${path} cannot be read (${(e as Error).message}); name a BTF file with the targetBtf option (--btf on the command line)`);
  }
  const main = Btf.parse(bytes);
  let modules: ModuleBtf[] | undefined;
  const readModules = () => {
    modules ??= readdirSync(SYS_BTF).filter((n) => n !== 'vmlinux').sort().map((name) => ({
      name, btf: Btf.parse(readFileSync(join(SYS_BTF, name)), main), firstId: main.types.length,
    }));
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
