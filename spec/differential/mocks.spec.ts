// Every header of the mock library (mocks/include/mock) is named here with the differential
// check that compares it with the real kernel, or the reason it has none. A header added without
// an entry, or an entry whose check was renamed or removed, fails: the claim cannot go stale.
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');

type Entry =
  /** spec file (from the repository root) and a phrase of a test title in it */
  | { checks: [string, string][]; partial?: string }
  | { reason: string };

const LIBRARY: Record<string, Entry> = {
  'all.h': { reason: 'includes the other headers; no behaviour of its own' },
  'host.h': { reason: 'harness machinery (SEC inlining, map identity, bounded records): no kernel helper to compare; every check below runs through it' },
  'ctx.h': {
    checks: [
      ['spec/differential/cgroup_sock.spec.ts', 'connect4, TCP to a service'],
      ['spec/differential/sendmsg.spec.ts', 'IPv4, sent to a waypoint'],
      ['spec/differential/skb_sock.spec.ts', 'the SYN of a TCP connect'],
      ['spec/differential/sock.spec.ts', 'a UDP socket gets the mark and priority the program writes'],
      ['spec/differential/sock.spec.ts', 'a bind to port 7 is refused'],
      ['spec/differential/sockopt.spec.ts', 'getsockopt(IP_TOS): the program answers one byte'],
      ['spec/differential/sockopt.spec.ts', 'setsockopt(SO_MARK, 5)'],
      ['spec/differential/sockopt.spec.ts', 'the program takes it (optlen -1)'],
      ['spec/differential/sockopt.spec.ts', 'the program answers in place of the kernel'],
      ['spec/differential/sockopt.spec.ts', 'the program leaves the kernel'],
    ],
    partial: 'the sock_addr, sk_msg, sock (sock_create, post_bind4) and sockopt (getsockopt, setsockopt) contexts are compared, and skb->sk in cgroup_skb egress; the skb context\'s packet is the kernel\'s own in spec/mock/fidelity.spec.ts; the sock_ops context at one op; a sockopt value shorter than 14 bytes is a padded packet re-hosted (an XDP test run\'s minimum), so only programs that stay within optlen are compared',
  },
  'msg.h': {
    checks: [
      ['spec/differential/sendmsg.spec.ts', 'the TLV goes on the wire before the payload'],
      ['spec/differential/sendmsg.spec.ts', 'a push_data mock one byte off'],
      ['spec/differential/msg_ops.spec.ts', 'removes the first 4 bytes'],
      ['spec/differential/msg_ops.spec.ts', 'a window shorter than an XDP packet'],
      ['spec/differential/msg_ops.spec.ts', 'is refused (-EINVAL)'],
      ['spec/differential/msg_ops.spec.ts', 'removes bytes 4..8'],
      ['spec/differential/msg_ops.spec.ts', 'moves msg->data to byte 4 and msg->data_end to byte 12'],
      ['spec/differential/msg_ops.spec.ts', 'a window of 16 bytes'],
      ['spec/differential/msg_ops.spec.ts', 'then a pull of the pushed bytes'],
    ],
    partial: 'push, pull and pop at start 0 and 4, pulls of 4, 8 and 16 bytes (the window\'s end shows on the wire); a tail call after a pull is not compared; the window a push leaves without a pull is the kernel\'s first scatterlist element, modelled only through limitMessage',
  },
  'sk_storage.h': {
    checks: [
      ['spec/differential/sendmsg.spec.ts', 'no socket storage'],
      ['spec/differential/cgroup_sock.spec.ts', 'original destination stored'],
      ['spec/differential/cgroup_sock.spec.ts', 'recvmsg4'],
      ['spec/mock/fidelity.spec.ts', 'the same calls on one socket give the same outcomes'],
    ],
  },
  'map_lookup.h': { checks: [['spec/differential/cgroup_sock.spec.ts', 'rewritten to its one endpoint']] },
  'netns.h': {
    checks: [['spec/differential/cgroup_sock.spec.ts', 'km_manage gets the namespace']],
    partial: 'the mock returns the cookie it is given; given the guest\'s real cookie, the key the program writes is compared',
  },
  'ringbuf.h': { checks: [['spec/differential/cgroup_sock.spec.ts', 'an INFO line is logged']] },
  'tail_call.h': { checks: [['spec/differential/cgroup_sock.spec.ts', 'tail call into km_cgr_tailcall[0]']] },
  'prandom.h': {
    checks: [['spec/differential/cgroup_sock.spec.ts', 'rewritten to its one endpoint']],
    partial: 'the kernel\'s values are random: compared where the outcome cannot depend on the value (one endpoint: any value picks it)',
  },
  'ktime.h': {
    checks: [['spec/differential/cgroup_sock.spec.ts', 'original destination stored']],
    partial: 'the kernel\'s clock is not the mock\'s: only whether the program read it into connect_ns is compared',
  },
  'skb.h': {
    checks: [
      ['spec/mock/fidelity.spec.ts', 'natively and re-hosted'],
      ['spec/differential/skb_sock.spec.ts', 'a full TCP socket'],
      ['spec/differential/skb_sock.spec.ts', 'the SYN-ACK of a request socket'],
    ],
    partial: 'cgroup_skb is test-runnable: the kernel\'s own bpf_skb_load_bytes(_relative) in a native run is the reference, on the host and in every guest; bpf_sk_fullsock\'s NULL for a request socket is compared on kernels with tcx (6.6+: the guests have no qdisc modules for tc), a time-wait socket\'s is not',
  },
  'tcp_sock.h': {
    checks: [['spec/differential/skb_sock.spec.ts', 'bpf_tcp_sock fields read the same'], ['spec/differential/skb_sock.spec.ts', 'bpf_tcp_sock gives NULL']],
    partial: 'NULL or not is compared (TCP and UDP sockets); the fields come from a live connection, which no input controls: the mock is given the kernel\'s values and what is compared is that they reach the program the same way',
  },
  'sock_ops.h': {
    checks: [
      ['spec/differential/sock_ops.spec.ts', 'the unknown bits returned, the known ones set'],
      ['spec/differential/sock_ops.spec.ts', 'on the request socket of the passive side (not a full socket): -EINVAL'],
    ],
  },
  'redirect.h': {
    checks: [
      ['spec/differential/redirect.spec.ts', 'drops the message: the send fails with EACCES'],
      ['spec/differential/redirect.spec.ts', 'back to the sender'],
      ['spec/differential/sk_skb.spec.ts', 'sends what it received back out, to the sender'],
      ['spec/differential/sk_skb.spec.ts', 'queues it for that socket to read'],
      ['spec/differential/sk_skb.spec.ts', 'a key without a socket drops what was received'],
      ['spec/differential/sk_skb.spec.ts', 'a bpf_sk_redirect_map mock that loses BPF_F_INGRESS'],
    ],
  },
};

describe('differential: every mock of the library is checked against the kernel, or says why not', () => {
  it('lists exactly the headers of mocks/include/mock', () => {
    expect(Object.keys(LIBRARY).sort()).to.deep.equal(readdirSync(path.join(ROOT, 'mocks/include/mock')).filter((f) => f.endsWith('.h')).sort());
  });

  it('every check it names is a test title in that spec file', () => {
    const missing: string[] = [];
    for (const [header, entry] of Object.entries(LIBRARY)) {
      if (!('checks' in entry)) continue;
      for (const [file, phrase] of entry.checks) {
        if (!readFileSync(path.join(ROOT, file), 'utf8').includes(phrase)) missing.push(`${header}: '${phrase}' in ${file}`);
      }
    }
    expect(missing).to.deep.equal([]);
  });
});
