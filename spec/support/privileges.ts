// Loaded by .mocharc.json: without the privileges BPF needs, the run stops at once with one line
// saying so, instead of hundreds of failing tests.
import { PermissionError } from '../../src/errors';
import { checkPrivileges } from '../../src/kernel/privileges';

export const mochaHooks = {
  beforeAll() {
    try {
      checkPrivileges();
    } catch (e) {
      if (!(e instanceof PermissionError)) throw e;
      process.stderr.write(`bpfunit: ${e.message}\n`);
      process.exit(1);
    }
  },
};
