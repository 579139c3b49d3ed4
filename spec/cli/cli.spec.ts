// bin/bpfunit on the loader fixtures: `load` JSON, `run` with --data/--ctx/--set/--dump/--repeat,
// and the exit codes 0 (ok), 1 (load, verifier or kernel error) and 2 (bad usage).
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { main } from '../../src/cli/main';
import { fixture, fixtureSource, libbpfRun, markerLine } from '../loader/helpers';
import { bpfunitAll, CliResult, json } from './run_cli';

interface LoadJson {
  programs: { name: string; section: string; type: string; insns: number }[];
  maps: { name: string; type: string; keySize: number; valueSize: number; maxEntries: number }[];
}
interface RunJson {
  retval: number;
  data: string;
  ctx: string | null;
  durationNs: number;
  maps: Record<string, Record<string, string>>;
}

const zeros = (n: number) => '00'.repeat(n);
const ALPHABET_HEX = Buffer.from('abcdefghijklmnopqrstuvwxyz').toString('hex');

describe('bpfunit CLI', function () {
  this.timeout(60000);
  let r: Record<string, CliResult>;

  before(async () => {
    const calls = fixture('loader_calls');
    const maps = fixture('loader_maps');
    const data = fixture('loader_data');
    const types = fixture('loader_types');
    const invalid = fixture('loader_invalid');
    r = await bpfunitAll({
      loadCalls: ['load', calls],
      loadMaps: ['load', maps],
      loadOneGood: ['load', invalid, '--prog', 'good_xdp'],
      loadInvalid: ['load', invalid],
      runMaps: ['run', maps, '--prog', 'maps_main', '--data', zeros(14), '--set', 'amap:00000000=0600000007000000',
        '--set', 'hmap:02000000=6400000000000000', '--dump', 'hmap', '--dump', 'lru'],
      runGlobals: ['run', data, '--prog', 'read_globals', '--data', zeros(24), '--dump', '.bss', '--repeat', '3'],
      runTc: ['run', types, '--prog', 'types_tc', '--data', ALPHABET_HEX, '--ctx', zeros(192)],
      runSpacedHex: ['run', calls, '--prog', 'calls_chain', '--data', 'aa bb cc dd ee ff 00 11 22 33 44 55 66 77 88 99'],
      runBad: ['run', invalid, '--prog', 'bad_xdp', '--data', zeros(14)],
      runShortData: ['run', invalid, '--prog', 'good_xdp', '--data', '00000000'],
      runSetKeySize: ['run', maps, '--prog', 'maps_main', '--data', zeros(14), '--set', 'amap:00=0600000007000000'],
      runSetValueSize: ['run', maps, '--prog', 'maps_main', '--data', zeros(14), '--set', 'amap:00000000=06'],
      runCtxSize: ['run', types, '--prog', 'types_tc', '--data', ALPHABET_HEX, '--ctx', zeros(2)],
      runCpu: ['run', types, '--prog', 'types_tc', '--data', ALPHABET_HEX, '--cpu', '1'],
      runNoObject: ['run', 'no/such.o', '--prog', 'x'],
      run0x: ['run', calls, '--prog', 'calls_chain', '--data', '0xaabbccddeeff00112233445566778899'],
      unknownOption: ['run', invalid, '--prog', 'good_xdp', '--bogus', '1'],
      missingProg: ['run', invalid, '--data', zeros(14)],
      badHex: ['run', invalid, '--prog', 'good_xdp', '--data', '0g'],
      unknownProg: ['run', invalid, '--prog', 'nope', '--data', zeros(14)],
      equalsForm: ['run', invalid, '--prog=good_xdp', `--data=${zeros(14)}`],
      help: ['--help'],
      helpShort: ['run', '-h'],
      helpVm: ['vm', '--help'],
      helpMutate: ['mutate', '-h'],
      version: ['--version'],
    });
  });

  describe('load', () => {
    it('prints the loaded programs (name, section, type, instructions as libbpf loads them) and no maps', () => {
      const out = json<LoadJson>(r.loadCalls);
      const obj = fixture('loader_calls');
      expect(out).to.deep.equal({
        programs: [
          { name: 'calls_chain', section: 'xdp', type: 'XDP', insns: libbpfRun(obj, 'calls_chain', { norun: true }).insns },
          { name: 'calls_global', section: 'xdp', type: 'XDP', insns: libbpfRun(obj, 'calls_global', { norun: true }).insns },
        ],
        maps: [],
      });
    });

    it('prints every map definition of the object', () => {
      const out = json<LoadJson>(r.loadMaps);
      expect(out.programs.map((p) => [p.name, p.section, p.type])).to.deep.equal([
        ['maps_main', 'xdp', 'XDP'],
        ['tail_target', 'xdp', 'XDP'],
        ['sk_count', 'cgroup_skb/ingress', 'CGROUP_SKB'],
      ]);
      const maps = Object.fromEntries(out.maps.map((m) => [m.name, [m.type, m.keySize, m.valueSize, m.maxEntries]]));
      expect(maps).to.deep.equal({
        hmap: ['HASH', 4, 8, 8],
        amap: ['ARRAY', 4, 8, 4],
        pcpu: ['PERCPU_ARRAY', 4, 4, 2],
        lru: ['LRU_HASH', 8, 4, 16],
        jmp: ['PROG_ARRAY', 4, 4, 4],
        sks: ['SK_STORAGE', 4, 8, 0],
        rb: ['RINGBUF', 0, 0, 4096],
      });
    });

    it('--prog loads only the named program, so a rejected neighbour does not matter', () => {
      expect(json<LoadJson>(r.loadOneGood).programs.map((p) => p.name)).to.deep.equal(['good_xdp']);
    });
  });

  describe('run', () => {
    it('--set writes map entries before the run and --dump prints maps after it', () => {
      const out = json<RunJson>(r.runMaps);
      expect(out.retval).to.equal(100 + 3); // hmap[2] + XDP_TX
      expect(out.data).to.equal(zeros(14));
      expect(out.ctx).to.equal(null);
      expect(out.maps).to.deep.equal({
        hmap: { '01000000': '2a00000000000000', '02000000': '6400000000000000' }, // 6 * 7, and what --set wrote
        lru: { '8877665544332211': 'cdab0000' },
      });
    });

    it('--repeat N runs the program N times: the .bss counters and the last retval show 3 runs', () => {
      const out = json<RunJson>(r.runGlobals);
      expect(out.retval).to.equal(7 + 11 + 100 + 200 + 3 + 6 + 40); // bss_var = 3, bss_static = 6
      expect(out.data).to.equal('65667a' + zeros(21));
      const bss = Buffer.from(out.maps['.bss']['00000000'], 'hex');
      expect([bss.readInt32LE(0), bss.readInt32LE(4)].sort()).to.deep.equal([3, 6]);
    });

    it('--ctx passes a context and prints the context after the run', () => {
      const out = json<RunJson>(r.runTc);
      expect(out.retval).to.equal(1026);
      expect(out.data).to.equal('611a' + ALPHABET_HEX.slice(4));
      expect(out.ctx).to.have.length(192 * 2);
      expect(Buffer.from(out.ctx!, 'hex').readUInt32LE(8)).to.equal(0x5a5a); // __sk_buff.mark
    });

    it('accepts hex with spaces', () => {
      const out = json<RunJson>(r.runSpacedHex);
      expect(out.retval).to.equal((3 * 16 + 11) * 2);
      expect(out.data).to.equal('aabbccddeeff00112233445566778899');
      expect(out.durationNs).to.be.a('number');
    });
  });

  describe('exit status 1: load, verifier or kernel errors', () => {
    it('a verifier rejection prints the reason, the C line and the verifier log', () => {
      const line = markerLine(fixtureSource('loader_invalid'), 'VERIFIER-REJECTS-THIS-LINE');
      for (const res of [r.runBad, r.loadInvalid]) {
        expect(res.status).to.equal(1);
        expect(res.stdout).to.equal('');
        const first = res.stderr.split('\n')[0];
        expect(first).to.match(/^bpfunit: verifier rejected bad_xdp \(EACCES\): /);
        expect(first).to.include(`loader_invalid.c:${line}: return data[20];`);
        expect(res.stderr).to.include('--- verifier log (last lines) ---');
        expect(res.stderr).to.include('invalid access to packet');
      }
    });

  });

  describe('exit status 2: bad usage', () => {
    const cases: [string, RegExp][] = [
      ['unknownOption', /unknown option '--bogus'/],
      ['missingProg', /run needs exactly one --prog NAME/],
      ['badHex', /--data is not an even-length hex string: '0g'/],
    ];
    for (const [name, re] of cases) {
      it(`${name}: exits 2 with the reason and the usage`, () => {
        expect(r[name].status, r[name].stderr).to.equal(2);
        expect(r[name].stdout).to.equal('');
        expect(r[name].stderr).to.match(new RegExp(`^bpfunit: ${re.source}`));
        expect(r[name].stderr).to.include('(run bpfunit --help for usage)');
      });
    }

    // What the user typed does not fit the object: bad usage too, not a failed run.
    const misfits: [string, RegExp][] = [
      ['runShortData', /program good_xdp: XDP test runs need at least 14 bytes .* got 4/],
      ['runSetKeySize', /map amap: key is 1 bytes, the map's keys are 4/],
      ['runSetValueSize', /map amap: value is 1 bytes, the map's values are 8/],
      ['runCtxSize', /program types_tc: a SCHED_CLS context \(struct __sk_buff\) is 192 bytes, got 2/],
      ['runCpu', /program types_tc: SCHED_CLS test runs do not take cpu/],
      ['runNoObject', /cannot read no\/such\.o: ENOENT/],
    ];
    for (const [name, re] of misfits) {
      it(`${name}: a value that does not fit the object exits 2 naming it`, () => {
        expect(r[name].status, r[name].stderr).to.equal(2);
        expect(r[name].stdout).to.equal('');
        expect(r[name].stderr).to.match(new RegExp(`^bpfunit: ${re.source}`));
      });
    }

    it('--data and --ctx take an optional 0x prefix, as --flags does', () => {
      expect(r.run0x.status, r.run0x.stderr).to.equal(0);
      expect(json(r.run0x)).to.deep.equal({ ...json(r.runSpacedHex), durationNs: json(r.run0x).durationNs });
    });

    it('an unknown program name exits 2 and lists the programs', () => {
      expect(r.unknownProg.status).to.equal(2);
      expect(r.unknownProg.stderr).to.match(/no program named 'nope' in loader_invalid.o \(it has: good_xdp, bad_xdp\)/);
    });

    // The same parser without a process each: every other usage error.
    const usage: [string[], RegExp][] = [
      [['run', 'x.o', '--prog', 'a', '--prog', 'b'], /run needs exactly one --prog NAME/],
      [['run', 'x.o', '--prog', 'a', '--data', '000'], /--data is not an even-length hex string: '000'/],
      [['run', 'x.o', '--prog', 'a', '--ctx', 'xyz0'], /--ctx is not an even-length hex string/],
      [['run', 'x.o', '--prog', 'a', '--set', 'hmap=00'], /--set needs MAP:KEYHEX=VALUEHEX, got 'hmap=00'/],
      [['run', 'x.o', '--prog', 'a', '--set', 'hmap:0q=00'], /key of --set hmap is not an even-length hex string/],
      [['run', 'x.o', '--prog', 'a', '--repeat', '0'], /--repeat needs a positive integer, got '0'/],
      [['run', 'x.o', '--prog', 'a', '--repeat', '1.5'], /--repeat needs a positive integer, got '1.5'/],
      [['run', 'x.o', '--prog'], /option '--prog <name>' argument missing/],
      [['load', 'x.o', '--data', '00'], /unknown option '--data'/],
      [['load', 'x.o', '--dump', 'm'], /unknown option '--dump'/],
      [['load', '--prog', 'a'], /missing required argument 'object'/],
      [['frobnicate', 'x.o'], /unknown command 'frobnicate'/],
      [['coverage', 'chekc'], /coverage takes 'check' or nothing, got 'chekc'/],
    ];
    it('every other malformed command line exits 2 with the reason, before touching the object', () => {
      for (const [argv, re] of usage) {
        let err = '';
        const status = main(argv, { out: () => {}, err: (t) => (err += t) });
        expect(status, argv.join(' ')).to.equal(2);
        expect(err, argv.join(' ')).to.match(new RegExp(`^bpfunit: ${re.source}`));
      }
      process.exitCode = 0;
    });
  });

  describe('conventions', () => {
    it('accepts --opt=value', () => {
      expect(json<RunJson>(r.equalsForm).retval).to.equal(3); // good_xdp returns XDP_TX
    });

    it('--help and -h print the usage and exit 0; --version prints package.json\'s version', () => {
      expect(r.help.status).to.equal(0);
      expect(r.help.stdout).to.match(/^Usage: bpfunit \[options\] \[command\]/);
      for (const c of ['init', 'build', 'cflags', 'test', 'coverage', 'precommit', 'install-hook', 'load', 'run', 'tags', 'mutate', 'vm']) expect(r.help.stdout).to.match(new RegExp(`\n  ${c} `));
      expect(r.helpShort.status).to.equal(0);
      expect(r.helpShort.stdout).to.match(/^Usage: bpfunit run \[options\] <object>/);
      expect([r.helpVm.status, r.helpMutate.status]).to.deep.equal([0, 0]);
      expect(r.helpVm.stdout).to.match(/^usage: bpfunit vm \(--kernel RELEASE/);
      expect(r.helpMutate.stdout).to.match(/^usage: bpfunit mutate \[SPEC_GLOB\.\.\.\]/);
      expect(r.version.status).to.equal(0);
      expect(r.version.stdout).to.equal(`${JSON.parse(readFileSync('package.json', 'utf8')).version}\n`);
    });
  });
});
