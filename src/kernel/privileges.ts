// A cheap probe for the privileges BPF needs: create and close the smallest map.
import { MapType } from '../object/maps';
import { BpfMap } from './map';

/** Throws PermissionError when this process may not use bpf(). */
export function checkPrivileges(): void {
  BpfMap.create({ name: 'bpfunit_probe', type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1, flags: 0, needsBtf: false }).close();
}
