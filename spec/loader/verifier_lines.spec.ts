// A verifier rejection names the C line of the failing instruction on every kernel: the line is
// looked up in the object's line_info at the index of the last instruction the log shows, not
// read from the ` @ file:line` suffix only newer kernels print after `; <source>`.
import { expect } from 'chai';
import { Collection, ObjectSpec, VerifierError } from '../../src';
import { failingInstruction, lineTable, verifierError } from '../../src/kernel/verifier-log';
import { itRequires } from '../../src/mocha';
import { expectThrow, fixture, fixtureSource, libbpfRun, markerLine } from './helpers';

// reject_in_callee as a 6.1 kernel logs it: source comments without a suffix, register states in
// 6.1's spelling, frame lines that start with an index but are not instructions.
const LOG_6_1 = `func#0 @0
func#1 @21
0: R1=ctx(off=0,imm=0) R10=fp0
; int reject_in_callee(struct xdp_md *ctx)
0: (bf) r6 = r1                       ; R1=ctx(off=0,imm=0) R6_w=ctx(off=0,imm=0)
1: (b7) r1 = 0                        ; R1_w=0
; __u32 zero = 0;
2: (63) *(u32 *)(r10 -4) = r1         ; R1_w=0 R10=fp0 fp-8=0000????
3: (bf) r2 = r10                      ; R2_w=fp0 R10=fp0
;
4: (07) r2 += -4                      ; R2_w=fp-4
; __u32 *at = bpf_map_lookup_elem(&offsets, &zero); /* LOOKUP-IN-CALLER */
5: (18) r1 = 0xffff888104d2c000       ; R1_w=map_ptr(off=0,ks=4,vs=4,imm=0)
7: (85) call bpf_map_lookup_elem#1    ; R0=map_value_or_null(id=1,off=0,ks=4,vs=4,imm=0)
8: (bf) r1 = r0                       ; R0=map_value_or_null(id=1,off=0,ks=4,vs=4,imm=0)
9: (b7) r0 = 2                        ; R0_w=2
; if (!at)
10: (15) if r1 == 0x0 goto pc+9       ; R1_w=map_value(off=0,ks=4,vs=4,imm=0)
; return peek(ctx, *at) ? XDP_DROP : XDP_PASS;
11: (61) r2 = *(u32 *)(r1 +0)         ; R1_w=map_value(off=0,ks=4,vs=4,imm=0) R2_w=scalar(umax=4294967295,var_off=(0x0; 0xffffffff))
12: (bf) r1 = r6                      ; R1_w=ctx(off=0,imm=0) R6=ctx(off=0,imm=0)
13: (85) call pc+7
caller:
 R6=ctx(off=0,imm=0) R10=fp0 fp-8=mmmm????
callee:
 frame1: R1_w=ctx(off=0,imm=0) R2_w=scalar(umax=4294967295,var_off=(0x0; 0xffffffff)) R10=fp0
; return data[at & 0xff]; /* REJECTED-IN-CALLEE */
21: (57) r2 &= 255                    ; frame1: R2_w=scalar(umax=255,var_off=(0x0; 0xff))
; __u8 *data = (void *)(long)ctx->data;
22: (61) r1 = *(u32 *)(r1 +0)         ; frame1: R1_w=pkt(off=0,r=0,imm=0)
; return data[at & 0xff]; /* REJECTED-IN-CALLEE */
23: (0f) r1 += r2                     ; frame1: R1_w=pkt(id=2,off=0,r=0,umax=255,var_off=(0x0; 0xff))
24: (71) r0 = *(u8 *)(r1 +0)
invalid access to packet, off=0 size=1, R1(id=2,off=0,r=0)
R1 offset is outside of the packet
processed 17 insns (limit 1000000) max_states_per_insn 0 total_states 1 peak_states 1 mark_read 1
`;

describe('verifier errors name the C line through line_info', () => {
  const source = () => fixtureSource('verifier_lines');

  describe('a 6.1-style log (no @ file:line suffix), mapped with the object line info (pure)', () => {
    it('takes the last instruction printed, not a frame line or a message', () => {
      expect(failingInstruction(LOG_6_1)).to.equal(24);
      expect(failingInstruction('0: R1=ctx() R10=fp0\n21: frame1: R1=ctx()\nsome message\n')).to.equal(undefined);
    });

    it('names the line of the unchecked read inside peek()', () => {
      const spec = ObjectSpec.fromFile(fixture('verifier_lines'));
      const err = verifierError('reject_in_callee', 13, LOG_6_1, lineTable(spec.program('reject_in_callee').instructions));
      const line = markerLine(source(), 'REJECTED-IN-CALLEE');
      expect(err.sourceLine).to.deep.include({ line, text: 'return data[at & 0xff]; /* REJECTED-IN-CALLEE */' });
      expect(err.sourceLine!.file).to.match(/(^|\/)verifier_lines\.c$/);
      expect(err.summary).to.equal(`R1 offset is outside of the packet at ${err.sourceLine!.file}:${line}: return data[at & 0xff]; /* REJECTED-IN-CALLEE */`);
    });

    it('counts the 16-byte ld_imm64 as two instruction slots', () => {
      // Cut after insn 9, the last of the lookup's line: one slot off and it would be the next line.
      const cut = LOG_6_1.slice(0, LOG_6_1.indexOf('; if (!at)')) + 'a made-up rejection\n';
      const spec = ObjectSpec.fromFile(fixture('verifier_lines'));
      const err = verifierError('reject_in_callee', 13, cut, lineTable(spec.program('reject_in_callee').instructions));
      expect(err.sourceLine?.line).to.equal(markerLine(source(), 'LOOKUP-IN-CALLER'));
    });

    it('without line info there is no source line, only the message', () => {
      const err = verifierError('reject_in_callee', 13, LOG_6_1, []);
      expect([err.sourceLine, err.summary]).to.deep.equal([undefined, 'R1 offset is outside of the packet']);
    });
  });

  describe('real rejections on this kernel agree with the line the kernel prints', () => {
    const cases: [fixture: string, program: string, marker: string][] = [
      ['verifier_lines', 'reject_in_callee', 'REJECTED-IN-CALLEE'],
      ['verifier_lines', 'reject_after_map', 'REJECTED-AFTER-MAP'],
      ['loader_invalid', 'bad_xdp', 'VERIFIER-REJECTS-THIS-LINE'],
    ];
    // 6.1 prints `; <source>` with no ` @ file:line`: there the kernel's own source text of the
    // line is the oracle. libbpf's copy of the log (its stderr) is the probe.
    let suffixes: boolean | undefined;
    const SUFFIX = {
      feature: 'the verifier log suffixes source lines with @ file:line',
      probe: () => (suffixes ??= /^; .* @ \S+:\d+$/m.test(libbpfRun(fixture('verifier_lines'), 'reject_in_callee', { norun: true }).stderr)),
    };
    for (const [fix, program, marker] of cases) {
      const rejected = () => {
        const err = expectThrow(() => Collection.load(ObjectSpec.fromFile(fixture(fix)), { programs: [program] }), VerifierError);
        const line = markerLine(fixtureSource(fix), marker);
        expect(err.sourceLine?.line, err.log).to.equal(line);
        return err;
      };
      itRequires(SUFFIX, `${program} (${fix}.c): the marked line, as the kernel's own @ file:line (or source text) says`, {
        met: () => {
          const err = rejected();
          // The kernel's last suffixed source comment is the oracle here.
          const suffixed = [...err.log.matchAll(/^; .* @ (\S+):(\d+)$/gm)].pop();
          expect(suffixed, 'the kernel printed a suffixed source line').to.not.equal(undefined);
          expect(Number(suffixed![2])).to.equal(err.sourceLine!.line);
          expect(err.sourceLine!.file.endsWith(`/${suffixed![1]}`)).to.equal(true);
        },
        unmet: () => {
          const err = rejected();
          const last = [...err.log.matchAll(/^; (.*)$/gm)].pop();
          expect(last, 'the kernel printed a source line').to.not.equal(undefined);
          expect(last![1].trim()).to.equal(fixtureSource(fix).split('\n')[err.sourceLine!.line - 1].trim());
        },
      });
    }
  });
});
