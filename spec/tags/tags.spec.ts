// test_progs annotations: read from BTF decl tags (spec/fixtures/tags_selftest.c, tags_wrong.c)
// and run as tests, with the verdicts the C files state.
import { expect } from 'chai';
import { ObjectSpec } from '../../src/object/object';
import { readAnnotations } from '../../src/tags/annotations';
import { main } from '../../src/tags/cli';
import { describeTags } from '../../src/tags/mocha';
import { missingMessage, runTags } from '../../src/tags/runner';

const GOOD = 'build/fixtures/tags_selftest.o';
const WRONG = 'build/fixtures/tags_wrong.o';
const NO_UNPRIV = /^the kernel forbids unprivileged BPF \(kernel\.unprivileged_bpf_disabled=[12]\)$/;

describe('test_progs annotations', () => {
  describe('readAnnotations', () => {
    it('reads every annotated program with its verdict, ordered messages, retval and description', () => {
      const got = readAnnotations(ObjectSpec.fromFile(GOOD));
      const success = (retval?: number) => ({ verdict: 'success', messages: [], retval });
      expect(got).to.deep.equal([
        { program: 'pass_all', title: 'plain XDP_PASS', auxiliary: false, priv: success(2), unpriv: undefined },
        { program: 'packet_length', title: 'packet_length', auxiliary: false, priv: success(64), unpriv: undefined },
        {
          program: 'unchecked_read', title: 'packet read without a bounds check', auxiliary: false,
          priv: { verdict: 'failure', messages: ['invalid access to packet'], retval: undefined }, unpriv: undefined,
        },
        {
          program: 'unchecked_lookup', title: 'map value used before the NULL check', auxiliary: false,
          priv: { verdict: 'failure', messages: ['call bpf_map_lookup_elem', "invalid mem access 'map_value_or_null'"], retval: undefined },
          unpriv: { verdict: 'failure', messages: ['invalid mem access'], retval: undefined },
        },
        { program: 'legacy_retval', title: 'legacy_retval', auxiliary: false, priv: success(-2147483648), unpriv: undefined },
        {
          program: 'legacy_msg', title: 'legacy_msg', auxiliary: false,
          priv: { verdict: 'failure', messages: ['invalid access to packet'], retval: undefined }, unpriv: undefined,
        },
        { program: 'minus_one', title: 'negative return values compare as int', auxiliary: false, priv: success(-1), unpriv: undefined },
        { program: 'socket_drop', title: 'socket_drop', auxiliary: false, priv: success(0), unpriv: success(0) },
      ]);
    });

    it('an object without annotations (or without BTF) has no tests', () => {
      expect(readAnnotations(ObjectSpec.fromFile('build/fixtures/bench_trivial.o'))).to.deep.equal([]);
    });
  });

  describe('missingMessage', () => {
    it('matches each message after the previous one', () => {
      expect(missingMessage('a b c', ['a', 'c'])).to.equal(undefined);
      expect(missingMessage('a b c', ['c', 'a'])).to.equal('a');
      expect(missingMessage('x x', ['x', 'x'])).to.equal(undefined);
      expect(missingMessage('x', ['x', 'x'])).to.equal('x');
    });
  });

  describe('runTags', () => {
    it('passes every annotation that holds; unprivileged mode is skipped saying why', () => {
      const got = runTags(ObjectSpec.fromFile(GOOD)).map((r) => [r.program, r.mode, r.status]);
      expect(got).to.deep.equal([
        ['pass_all', 'priv', 'pass'], ['packet_length', 'priv', 'pass'], ['unchecked_read', 'priv', 'pass'],
        ['unchecked_lookup', 'priv', 'pass'], ['unchecked_lookup', 'unpriv', 'skip'], ['legacy_retval', 'priv', 'pass'],
        ['legacy_msg', 'priv', 'pass'], ['minus_one', 'priv', 'pass'], ['socket_drop', 'priv', 'pass'], ['socket_drop', 'unpriv', 'skip'],
      ]);
      for (const r of runTags(ObjectSpec.fromFile(GOOD)).filter((x) => x.status === 'skip')) expect(r.reason).to.match(NO_UNPRIV);
    });

    it('fails every annotation that does not hold, naming what differed', () => {
      const got = runTags(ObjectSpec.fromFile(WRONG)).map((r) => [r.program, r.status, r.reason]);
      const rejected = got.pop()!;
      expect(got).to.deep.equal([
        ['wrong_retval', 'fail', 'it returned 2, __retval expects 1'],
        ['loads_fine', 'fail', 'it loaded, but __failure expects the verifier to reject it'],
        ['other_message', 'fail', 'the verifier log lacks "no such verifier message"'],
        ['messages_out_of_order', 'fail', 'the verifier log lacks "invalid access to packet" (messages are matched in order)'],
      ]);
      // The file is named as clang recorded it, a path that depends on where the object was built.
      expect(rejected.slice(0, 2)).to.deep.equal(['rejected', 'fail']);
      expect(rejected[2]).to.match(/^the verifier rejected it: R1 offset is outside of the packet at (\S*\/)?tags_wrong\.c:41: return data\[0\];$/);
    });
  });

  describe('bpfunit tags (main)', () => {
    const capture = async (argv: string[]) => {
      let out = '';
      let err = '';
      const status = await main(argv, { out: (t) => { out += t; }, err: (t) => { err += t; } });
      return { status, out, err };
    };

    it('exits 0 when every test passes and prints one line per test plus totals', async () => {
      const { status, out } = await capture([GOOD]);
      expect(status).to.equal(0);
      const lines = out.trim().split('\n');
      expect(lines).to.have.length(11);
      expect(lines[0]).to.equal('ok   tags_selftest.o/pass_all "plain XDP_PASS"');
      expect(lines[10]).to.equal('8 passed, 0 failed, 2 skipped');
    });

    it('exits 1 when a test fails', async () => {
      const { status, out } = await capture([GOOD, WRONG]);
      expect(status).to.equal(1);
      expect(out).to.contain('FAIL tags_wrong.o/wrong_retval: it returned 2, __retval expects 1\n');
      expect(out.trim().split('\n').pop()).to.equal('8 passed, 5 failed, 2 skipped');
    });

    it('exits 1 for an unreadable object and 2 for bad usage', async () => {
      const missing = await capture(['build/fixtures/no_such.o']);
      expect(missing.status).to.equal(1);
      expect(missing.err).to.match(/^bpfunit: build\/fixtures\/no_such\.o: cannot read build\/fixtures\/no_such\.o: ENOENT/);
      const none = await capture([]);
      expect([none.status, none.err]).to.deep.equal([2, 'bpfunit: no object file given\nusage: bpfunit tags OBJ...\n']);
      const flag = await capture(['--json', GOOD]);
      expect([flag.status, flag.err.split('\n')[0]]).to.deep.equal([2, "bpfunit: unknown option '--json'"]);
    });
  });
});

// The helper as a kernel-style file's own suite: one mocha test per annotated program and mode.
describeTags(GOOD);
