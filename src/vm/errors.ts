import { BpfUnitError } from '../errors';

/** A guest could not be prepared or booted: a missing tool or package, a kernel that did not
 * reach the guest init. Distinct from the command failing inside the guest (its exit status). */
export class VmError extends BpfUnitError {}
