// Reads the BTF CO-RE relocates against: the running kernel's (/sys/kernel/btf/vmlinux, module
// BTF beside it, read only when vmlinux lacks a type) or a file the user names. Parsing and
// relocating are pure (src/core); this is only the file reading.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Btf } from '../btf/btf';
import { CoreTarget, joinSplitBtf, ModuleBtf } from '../core/target';
import { InputError, LinkError } from '../errors';

const SYS_BTF = '/sys/kernel/btf';

let kernel: CoreTarget | undefined;

/** The running kernel's BTF, parsed once per process (it cannot change while we run). */
export function kernelCoreTarget(): CoreTarget {
  if (kernel) return kernel;
  const path = join(SYS_BTF, 'vmlinux');
  let base: Buffer;
  try {
    base = readFileSync(path);
  } catch (e) {
    throw new LinkError(`CO-RE relocations need the kernel's BTF, and ${path} cannot be read (${(e as Error).message}); name a BTF file with the targetBtf option (--btf on the command line)`);
  }
  const main = Btf.parse(base);
  let modules: ModuleBtf[] | undefined;
  const readModules = () => {
    modules ??= readdirSync(SYS_BTF).filter((n) => n !== 'vmlinux').sort().map((name) => ({
      name, btf: Btf.parse(joinSplitBtf(base, readFileSync(join(SYS_BTF, name)), name)), firstId: main.types.length,
    }));
    return modules;
  };
  kernel = new CoreTarget('vmlinux', main, readModules);
  return kernel;
}

/** A BTF file (raw BTF or an ELF file with .BTF) to relocate against instead of the kernel's. */
export function fileCoreTarget(path: string): CoreTarget {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new InputError(`cannot read target BTF ${path}: ${(e as Error).message}`);
  }
  return CoreTarget.fromBytes(bytes, path);
}
