// Every failure bpfunit reports is one of these, so callers can tell a malformed object from a
// verifier rejection from missing privileges without parsing messages.

export class BpfUnitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The file is not a well-formed 64-bit little-endian BPF ELF object. */
export class ElfError extends BpfUnitError {}

/** The .BTF or .BTF.ext section is malformed or uses something bpfunit does not understand. */
export class BtfError extends BpfUnitError {}

/** The object is well-formed but cannot be turned into loadable programs and maps
 * (unknown section, unresolved symbol, unsupported relocation, bad map definition). */
export class LinkError extends BpfUnitError {}

/** The caller asked for something that cannot work: a missing program or map, a key of the
 * wrong size, a context shorter than the program type needs. */
export class InputError extends BpfUnitError {}

const ERRNO_NAMES: Record<number, string> = {
  1: 'EPERM', 2: 'ENOENT', 3: 'ESRCH', 4: 'EINTR', 5: 'EIO', 7: 'E2BIG', 9: 'EBADF', 11: 'EAGAIN',
  12: 'ENOMEM', 13: 'EACCES', 14: 'EFAULT', 16: 'EBUSY', 17: 'EEXIST', 19: 'ENODEV', 22: 'EINVAL',
  24: 'EMFILE', 28: 'ENOSPC', 34: 'ERANGE', 38: 'ENOSYS', 95: 'EOPNOTSUPP', 524: 'ENOTSUPP',
};

export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `errno ${errno}`;
}

/** A bpf() command failed; `errno` and `code` say how. */
export class SyscallError extends BpfUnitError {
  constructor(
    readonly command: string,
    readonly errno: number,
    detail: string,
  ) {
    super(`${command} failed: ${errnoName(errno)}${detail ? `: ${detail}` : ''}`);
  }

  get code(): string {
    return errnoName(this.errno);
  }
}

/** EPERM/EACCES: the process lacks the privileges BPF needs. */
export class PermissionError extends SyscallError {
  constructor(command: string, errno: number) {
    super(
      command,
      errno,
      'bpfunit needs root, or CAP_BPF + CAP_PERFMON + CAP_NET_ADMIN (and a kernel that allows them)',
    );
  }
}

/** ENOTSUPP (524): the kernel cannot test-run this program type (from BPF_PROG_TEST_RUN), or
 * bpfunit cannot do what the object asks (`detail` says what, e.g. struct_ops). */
export class NotSupportedError extends SyscallError {
  constructor(command: string, what: string, detail?: string) {
    super(
      command,
      524,
      detail === undefined
        ? `the kernel cannot test-run ${what} programs; re-host the program in an XDP harness ` +
            `with the mock library (see README, "Re-hosting")`
        : `${what}: ${detail}`,
    );
  }
}

/** One line of C source the verifier log points at. */
export interface SourceLine {
  file: string;
  line: number;
  text: string;
}

/** The verifier rejected a program. `summary` names the failing C line when BTF line info exists;
 * `log` is the whole verifier log. */
export class VerifierError extends BpfUnitError {
  constructor(
    readonly program: string,
    readonly errno: number,
    readonly summary: string,
    readonly log: string,
    readonly sourceLine: SourceLine | undefined,
  ) {
    super(`verifier rejected ${program} (${errnoName(errno)}): ${summary}`);
  }
}
