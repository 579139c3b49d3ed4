// Acceptance: an object the CLI has never seen, written and compiled here, holding an XDP program
// next to a program the verifier rejects for its own type. `bpfunit run --prog` on the XDP
// program must exit 0 and give the same retval and data_out as libbpf loading only that program
// from the same object (libbpf autoload control, spec/loader/libbpf_run.c).
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { libbpfRun, pinDir, removePins } from '../loader/helpers';
import { bpfunitAll, CliResult, json } from './run_cli';

const SOURCE = `
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} forwarded SEC(".maps");

/* Forwards IPv4 back out: decrements the TTL (incremental checksum, RFC 1624), swaps the MAC
 * addresses, counts the packet and returns XDP_TX. Other frames pass; TTL <= 1 is dropped. */
SEC("xdp")
int acc_forward(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);
	unsigned char mac[ETH_ALEN];
	__u32 key = 0, csum;
	__u64 *n;

	if ((void *)(ip + 1) > end)
		return eth + 1 > (struct ethhdr *)end ? XDP_DROP : XDP_PASS;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	if (ip->ttl <= 1)
		return XDP_DROP;
	ip->ttl--;
	csum = ip->check + bpf_htons(0x0100);
	ip->check = csum + (csum >> 16);
	__builtin_memcpy(mac, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, mac, ETH_ALEN);
	n = bpf_map_lookup_elem(&forwarded, &key);
	if (n)
		__sync_fetch_and_add(n, 1);
	return XDP_TX;
}

/* cgroup_skb programs must return 0..3: the verifier rejects this one. */
SEC("cgroup_skb/egress")
int acc_bad_ret(struct __sk_buff *skb)
{
	return 7; /* REJECTED-RETURN */
}

char LICENSE[] SEC("license") = "GPL";
`;

/** The IPv4 header checksum as RFC 791 defines it: 0 when the header's checksum is right. */
function ipv4Checksum(header: Buffer): number {
  let sum = 0;
  for (let i = 0; i < header.length; i += 2) sum += header.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function ipv4Frame(ttl: number): Buffer {
  const eth = Buffer.from('aaaaaaaaaaaa' + 'bbbbbbbbbbbb' + '0800', 'hex');
  const ip = Buffer.from('45000024abcd4000' + ttl.toString(16).padStart(2, '0') + '110000c0a80101c0a80102', 'hex'); // UDP, 36 bytes
  ip.writeUInt16BE(ipv4Checksum(ip), 10);
  const udp = Buffer.from('1f901f900010' + '0000' + '7061796c6f616421', 'hex'); // 8-byte header + "payload!"
  return Buffer.concat([eth, ip, udp]);
}

describe('acceptance: bpfunit run on a freshly compiled object with a rejected neighbour', function () {
  this.timeout(60000);
  let dir: string;
  let obj: string;
  let r: Record<'forward' | 'ttlOne' | 'bad', CliResult>;
  const frame = ipv4Frame(64);

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'bpfunit-acceptance-'));
    writeFileSync(path.join(dir, 'acc.c'), SOURCE);
    obj = path.join(dir, 'acc.o');
    const multiarch = execFileSync('gcc', ['-print-multiarch'], { encoding: 'utf8' }).trim() || 'x86_64-linux-gnu';
    execFileSync('clang', ['-g', '-O2', '-target', 'bpf', `-I/usr/include/${multiarch}`, '-Wall', '-c', 'acc.c', '-o', 'acc.o'], { cwd: dir, stdio: 'pipe' });
    r = await bpfunitAll({
      forward: ['run', obj, '--prog', 'acc_forward', '--data', frame.toString('hex'), '--dump', 'forwarded'],
      ttlOne: ['run', obj, '--prog', 'acc_forward', '--data', ipv4Frame(1).toString('hex')],
      bad: ['run', obj, '--prog', 'acc_bad_ret', '--data', frame.toString('hex')],
    });
  });

  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the object really holds a program the verifier rejects: libbpf refuses to load it whole', () => {
    const pins = pinDir('acceptance');
    try {
      const all = spawnSync('bpftool', ['prog', 'loadall', obj, pins], { encoding: 'utf8' });
      expect(all.status).to.not.equal(0);
      expect(all.stderr).to.match(/prog 'acc_bad_ret': BPF program load failed/);
    } finally {
      removePins(pins);
    }
  });

  it('bpfunit run --prog acc_forward exits 0 with the retval and data_out libbpf gives', () => {
    const ours = json<{ retval: number; data: string; maps: Record<string, Record<string, string>> }>(r.forward);
    const theirs = libbpfRun(obj, 'acc_forward', { data: frame });
    expect(theirs.ok, theirs.stderr).to.equal(true);
    expect(ours.retval).to.equal(theirs.retval);
    expect(ours.data).to.equal(theirs.data!.toString('hex'));
    expect(ours.maps).to.deep.equal({ forwarded: { '00000000': '0100000000000000' } });
  });

  it('the output is what the C source says: XDP_TX, MACs swapped, TTL 63, a valid IPv4 checksum', () => {
    const out = Buffer.from(json<{ data: string }>(r.forward).data, 'hex');
    expect(json<{ retval: number }>(r.forward).retval).to.equal(3);
    expect(out.subarray(0, 12).toString('hex')).to.equal('bbbbbbbbbbbb' + 'aaaaaaaaaaaa');
    expect(out[14 + 8]).to.equal(63);
    expect(ipv4Checksum(out.subarray(14, 34))).to.equal(0);
    expect(out.subarray(34).equals(frame.subarray(34))).to.equal(true);
    expect(out.subarray(14, 34).toString('hex')).to.equal(ipv4Frame(63).subarray(14, 34).toString('hex'));
  });

  it('drops a TTL-1 packet unchanged (XDP_DROP), as libbpf does', () => {
    const ours = json<{ retval: number; data: string }>(r.ttlOne);
    const theirs = libbpfRun(obj, 'acc_forward', { data: ipv4Frame(1) });
    expect([ours.retval, ours.data]).to.deep.equal([1, ipv4Frame(1).toString('hex')]);
    expect([theirs.retval, theirs.data!.toString('hex')]).to.deep.equal([ours.retval, ours.data]);
  });

  it('running the rejected program exits 1 naming it, its C line and the verifier log', () => {
    const line = SOURCE.split('\n').findIndex((l) => l.includes('REJECTED-RETURN')) + 1;
    expect(r.bad.status).to.equal(1);
    const first = r.bad.stderr.split('\n')[0];
    expect(first).to.match(/^bpfunit: verifier rejected acc_bad_ret \(EINVAL\): /);
    expect(first).to.include(`acc.c:${line}`);
    expect(r.bad.stderr).to.match(/should have been in/);
  });
});
