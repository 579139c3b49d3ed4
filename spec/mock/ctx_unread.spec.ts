// Every harness object has every mock context global, so a test that sets the context of another
// program type (ctx.msg on a connect4 entry) would configure nothing and might still pass: setting
// or reading a context global no loaded program refers to is an InputError naming the contexts the
// loaded entries do take. Which globals a program refers to comes from its relocations; the
// oracle is llvm-objdump's listing of the same relocations, per entry.
import { execFileSync } from 'node:child_process';
import { expect } from 'chai';
import { InputError, ObjectSpec } from '../../src';
import { useHarness } from '../../src/mock/harness';
import { referencedGlobals } from '../../src/mock/harness-check';

const CTX_GLOBALS = ['mock_sock_addr', 'mock_sock_addr_sock', 'mock_skb', 'mock_skb_sock', 'mock_sk_msg', 'mock_sk_msg_sock',
  'mock_sock_ops', 'mock_sock_ops_sock', 'mock_sock', 'mock_sockopt', 'mock_sockopt_sock'];

describe('a context no loaded program reads', () => {
  describe('a connect4 entry (MOCK_SOCK_ADDR_ENTRY) loaded alone', () => {
    const h = useHarness('build/fixtures/socks.o', ['xdp_addr_sock']);
    const seen = () => h().get('seen') as Record<string, number>;

    it('ctx.msg.set is an InputError naming the global and the contexts the entry takes', () => {
      expect(() => h().mocks.ctx.msg.set({ family: 2 })).to.throw(InputError,
        'ctx.msg sets mock_sk_msg, which no loaded program reads: the loaded entries (xdp_addr_sock) take ctx.sockAddr, ctx.sockAddrSock');
    });

    it('so are the socket-side globals of other contexts, and reading one back', () => {
      expect(() => h().mocks.ctx.skbSock.set({ family: 2 })).to.throw(InputError, /^ctx\.skbSock sets mock_skb_sock, which no loaded program reads/);
      expect(() => h().mocks.ctx.msg.get()).to.throw(InputError, /^ctx\.msg reads mock_sk_msg, which no loaded program reads/);
    });

    it('the context it takes works, its socket too', () => {
      h().mocks.ctx.sockAddr.set({ sk: 1n });
      h().mocks.ctx.sockAddrSock.set({ family: 2, protocol: 17 });
      h().run('xdp_addr_sock', { data: Buffer.alloc(16) });
      expect(seen()).to.deep.include({ null_sk: 0, family: 2, protocol: 17 });
      expect(h().mocks.ctx.sockAddr.get().sk).to.not.equal(0n);
    });
  });

  describe('an sk_msg harness (tag_harness.o)', () => {
    const h = useHarness('build/fixtures/tag_harness.o', ['xdp_tag']);

    it('ctx.sockAddr.set is an InputError naming ctx.msg', () => {
      expect(() => h().mocks.ctx.sockAddr.set({ user_family: 2 })).to.throw(InputError,
        'ctx.sockAddr sets mock_sock_addr, which no loaded program reads: the loaded entries (xdp_tag) take ctx.msg');
    });

    it('ctx.msg.set works', () => {
      expect(() => h().mocks.ctx.msg.set({ family: 2 })).to.not.throw();
      expect(h().mocks.ctx.msg.get().family).to.equal(2);
    });
  });

  describe('an entry whose program reads none of its context (tag6_prog)', () => {
    const h = useHarness('build/fixtures/tag_harness.o', ['xdp_tag6']);

    it('even its own type\'s context is refused: the compiled entry does not copy it', () => {
      expect(() => h().mocks.ctx.msg.set({ family: 2 })).to.throw(InputError,
        'ctx.msg sets mock_sk_msg, which no loaded program reads: the loaded entries (xdp_tag6) take no mock context');
    });
  });

  it('the globals each entry refers to are the ones llvm-objdump lists in its relocations', () => {
    for (const [file, entries] of [['build/fixtures/socks.o', ['xdp_skb_sock', 'xdp_msg_sock', 'xdp_addr_sock']], ['build/fixtures/tag_harness.o', ['xdp_tag', 'xdp_tag6']]] as const) {
      const spec = ObjectSpec.fromFile(file);
      const listing = execFileSync('llvm-objdump', ['-dr', '--no-show-raw-insn', file], { encoding: 'latin1' });
      for (const entry of entries) {
        // the entry's function, through its local labels (<LBB...>), up to the next function
        const blocks = listing.split(/\n(?=[0-9a-f]+ <)/);
        const at = blocks.findIndex((b) => b.includes(`<${entry}>:`));
        const end = blocks.findIndex((b, i) => i > at && !/^[0-9a-f]+ <LBB/.test(b));
        const body = blocks.slice(at, end < 0 ? undefined : end).join('\n');
        const relocated = new Set([...body.matchAll(/R_BPF_64_64\s+(\S+)/g)].map((m) => m[1]).filter((n) => CTX_GLOBALS.includes(n)));
        expect([...referencedGlobals(spec, [entry], CTX_GLOBALS)].sort(), `${file} ${entry}`).to.deep.equal([...relocated].sort());
      }
    }
  });
});
