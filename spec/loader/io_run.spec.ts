// What a test run writes back lands only in room bpfunit reserved for it: the kernel copies the
// whole output packet when data_size_out is 0, and every test-runnable type writes its own mix
// of data_out and ctx_out. And what `repeat` runs on: each run starts from the previous output.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { Collection, InputError, ObjectSpec } from '../../src';
import { expectThrow, fixture, ROOT, u64 } from './helpers';
import { slowed } from '../support/slow';

const SK_BUFF_SIZE = 192; // sizeof(struct __sk_buff)
const SK_BUFF_MARK = 8; // offsetof(struct __sk_buff, mark)
const XDP_MD_SIZE = 24;

function pattern(n: number, seed = 7): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * seed + 3) & 0xff;
  return b;
}

describe('test runs write only into reserved room (io_runs)', () => {
  let coll: Collection;
  before(() => {
    coll = Collection.load(ObjectSpec.fromFile(fixture('io_runs')));
  });
  after(() => coll?.close());

  it('dataOutSize 0 returns XDP packets of 40,000 and 65,000 bytes whole, without corrupting the process', () => {
    // A child process: on a build that reserves nothing for data_out, the kernel's copy runs off
    // the end of the scratch buffer and Node aborts (free(): invalid pointer, SIGSEGV).
    const code = `
      const { Collection, ObjectSpec } = require('./src');
      const c = Collection.load(ObjectSpec.fromFile(${JSON.stringify(fixture('io_runs'))}), { programs: ['io_pass'] });
      const out = [];
      for (const n of [40000, 65000]) {
        const data = Buffer.alloc(n);
        for (let i = 0; i < n; i++) data[i] = (i * 7 + 3) & 0xff;
        const r = c.program('io_pass').run({ data, dataOutSize: 0 });
        const churn = [];
        for (let i = 0; i < 2000; i++) churn.push(Buffer.alloc(4096 + i, i));
        out.push({ length: r.data.length, same: r.data.equals(data) });
      }
      c.close();
      process.stdout.write(JSON.stringify(out));`;
    const r = spawnSync(process.execPath, ['-r', 'ts-node/register/transpile-only', '-e', code], { cwd: ROOT, encoding: 'utf8', timeout: slowed(60000) });
    expect({ status: r.status, signal: r.signal }, r.stderr).to.deep.equal({ status: 0, signal: null });
    expect(JSON.parse(r.stdout)).to.deep.equal([{ length: 40000, same: true }, { length: 65000, same: true }]);
  });

  it('dataOutSize 0 with a context: the tc packet and the __sk_buff come back apart, not overlapping', () => {
    const data = pattern(1000);
    const r = coll.program('io_tc_mark').run({ data, ctx: Buffer.alloc(SK_BUFF_SIZE), dataOutSize: 0 });
    expect(r.data.equals(data)).to.equal(true);
    expect(r.ctx).to.have.length(SK_BUFF_SIZE);
    expect(r.ctx!.readUInt32LE(SK_BUFF_MARK)).to.equal(0x1234);
  });

  it('ctxOutSize 0 means room for the whole context, as dataOutSize 0 does for the packet', () => {
    const ctx = Buffer.alloc(XDP_MD_SIZE);
    ctx.writeUInt32LE(14, 4); // data_end
    const r = coll.program('io_pass').run({ data: pattern(14), ctx, ctxOutSize: 0 });
    expect(r.ctx?.readUInt32LE(4)).to.equal(14);
    expect(r.ctx).to.have.length(XDP_MD_SIZE);
  });

  it('a dataOutSize smaller than the output is an InputError naming both sizes', () => {
    const err = expectThrow(() => coll.program('io_pass').run({ data: pattern(1000), dataOutSize: 100 }), InputError);
    expect(err.message).to.match(/output \(1000 bytes of data\) is larger than dataOutSize 100/);
  });

  it('a ctxOutSize smaller than the context is an InputError naming both sizes', () => {
    expectThrow(() => coll.program('io_tc_mark').run({ data: pattern(64), ctx: Buffer.alloc(SK_BUFF_SIZE), ctxOutSize: 8 }), InputError, /output context \(192 bytes\) is larger than ctxOutSize 8/);
  });

  it('raw_tp runs take the argument array as ctx_in only, once (the kernel refuses ctx_out and repeat)', () => {
    expect(coll.program('io_raw').run({ ctx: u64(41) }).retval).to.equal(42);
    expectThrow(() => coll.program('io_raw').run({ ctx: u64(1), data: pattern(14) }), InputError, /io_raw: RAW_TRACEPOINT test runs do not take data: the kernel refuses packet data/);
    expectThrow(() => coll.program('io_raw').run({ ctx: u64(1), repeat: 2 }), InputError, /RAW_TRACEPOINT test runs do not take repeat 2: the kernel runs this type once per call/);
    expectThrow(() => coll.program('io_raw').run({ ctx: u64(1), ctxOutSize: 8 }), InputError, /RAW_TRACEPOINT test runs do not take ctxOutSize: the kernel writes no output context/);
  });

  it('sk_lookup takes a context shorter than struct bpf_sk_lookup and gets the whole 72-byte struct back', () => {
    const ctx = Buffer.alloc(64); // up to and including local_port
    ctx.writeUInt32LE(2, 8); // family AF_INET
    ctx.writeUInt32LE(6, 12); // protocol TCP
    ctx.writeUInt32LE(80, 60); // local_port
    const pass = coll.program('io_lookup').run({ ctx });
    expect([pass.retval, pass.ctx?.length, pass.ctx?.readUInt32LE(60)]).to.deep.equal([1, 72, 80]);
    ctx.writeUInt32LE(81, 60);
    expect(coll.program('io_lookup').run({ ctx }).retval).to.equal(0);
    expectThrow(() => coll.program('io_lookup').run({ ctx, data: pattern(14) }), InputError, /SK_LOOKUP test runs do not take data: the kernel refuses packet data/);
  });
});

describe('repeat runs each time on what the previous run left (io_runs)', () => {
  let coll: Collection;
  const runs = () => coll.readGlobal('runs').readUInt32LE(0);
  before(() => {
    coll = Collection.load(ObjectSpec.fromFile(fixture('io_runs')), { programs: ['io_bump', 'io_push'] });
  });
  beforeEach(() => coll.writeGlobal('runs', Buffer.alloc(4)));
  after(() => coll?.close());

  it('a byte the program increments is incremented once per run: 10 + 5 after repeat 5', () => {
    const data = pattern(14);
    data[0] = 10;
    const r = coll.program('io_bump').run({ data, repeat: 5 });
    expect([r.data[0], r.retval, runs()]).to.deep.equal([15, 15, 5]);
    expect(r.data.subarray(1).equals(data.subarray(1))).to.equal(true);
  });

  it('bpf_xdp_adjust_head grows the packet again on every run: three runs push 3, 2, 1 in front', () => {
    const data = pattern(14);
    const r = coll.program('io_push').run({ data, repeat: 3 });
    expect(runs()).to.equal(3);
    expect(r.data.toString('hex')).to.equal('030201' + data.toString('hex'));
  });
});
