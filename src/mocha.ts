// bpfunit/mocha: the mocha conveniences. `useHarness` loads a harness for a describe() block;
// as a root hook plugin (`mocha --require bpfunit/mocha`, which `bpfunit test` passes) it stops the
// run before any test, with one line naming the missing privileges, when bpf() is not allowed.
import { PermissionError } from './errors';
import { checkPrivileges } from './kernel/privileges';

export { useHarness } from './mock/harness';
export { itRequires } from './kernel/it-requires';

export const mochaHooks = {
  beforeAll(): void {
    try {
      checkPrivileges();
    } catch (e) {
      if (!(e instanceof PermissionError)) throw e;
      process.stderr.write(`bpfunit: ${e.message}\n`);
      process.exit(1);
    }
  },
};
