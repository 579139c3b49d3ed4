// The scratch buffer every bpf() call goes through: a kernel write past what a call reserved is
// caught, and per-CPU values are sized the way the kernel packs them.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { BpfMap, MapType } from '../../src';
import { countCpus } from '../../src/kernel/map';
import { bpfRaw, Cmd, scratch } from '../../src/sys/bpf';

const PERCPU_CGROUP_STORAGE = 21; // UAPI enum bpf_map_type

describe('scratch buffer and value sizes (io_sys)', () => {
  it('a call that reserved less than the kernel writes is stopped, not read', () => {
    const map = BpfMap.create({ name: 'io_wide', type: MapType.ARRAY, keySize: 4, valueSize: 64, maxEntries: 1, flags: 0, needsBtf: false });
    try {
      // A lookup with room for the key only: the kernel copies 64 value bytes after it.
      const buf = scratch.prepare(4);
      buf.writeUInt32LE(map.fd, 0);
      buf.writeBigUInt64LE(scratch.ptr(0), 8);
      buf.writeBigUInt64LE(scratch.ptr(4), 16);
      buf.writeUInt32LE(0, scratch.ptrOffset(0));
      expect(() => bpfRaw(Cmd.MAP_LOOKUP_ELEM, 32)).to.throw(/BPF_MAP_LOOKUP_ELEM wrote past the 4 payload bytes reserved for it/);
      // The same call with room for the value passes.
      scratch.prepare(4 + 64);
      buf.writeUInt32LE(map.fd, 0);
      buf.writeBigUInt64LE(scratch.ptr(0), 8);
      buf.writeBigUInt64LE(scratch.ptr(4), 16);
      expect(bpfRaw(Cmd.MAP_LOOKUP_ELEM, 32).value).to.equal(0);
    } finally {
      map.close();
    }
  });

  it('counts the possible CPUs a mask lists, gaps taking no room', () => {
    expect(['0', '0-1\n', '0-3', '0,2-5', '0-1,4,6-7'].map(countCpus)).to.deep.equal([1, 2, 4, 5, 5]);
  });

  it('sizes a PERCPU_CGROUP_STORAGE value per possible CPU, as the kernel copies it', () => {
    const mask = readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim();
    const cpus = mask.split(',').reduce((n, r) => {
      const [a, b] = r.split('-').map(Number);
      return n + (b === undefined ? 1 : b - a + 1);
    }, 0);
    // key: a cgroup id (u64); the kernel wants max_entries 0.
    const map = BpfMap.create({ name: 'io_cgstore', type: PERCPU_CGROUP_STORAGE, keySize: 8, valueSize: 12, maxEntries: 0, flags: 0, needsBtf: false });
    try {
      expect(map.valueBytes).to.equal(16 * cpus);
      expect(map.lookup(Buffer.alloc(8)), 'no cgroup is attached, so no entry').to.equal(undefined);
    } finally {
      map.close();
    }
  });
});
