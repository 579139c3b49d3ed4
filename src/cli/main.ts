// The bpfunit command line. Exit status: 0 ok, 1 a test, build, load or verifier failure, 2 usage.
import { Command, CommanderError, Option } from 'commander';
import { BpfunitConfig, cflags, ConfigError, loadConfig } from '../config';
import { BpfUnitError, InputError, VerifierError } from '../errors';
import { build, harnessIncludes } from './build';
import { DEFAULT_HOOK_COMMAND, installHook } from './hook';
import { init } from './init';
import { runMocha, specsToRun, splitMochaArgs } from './mocha';
import { hex, repeatCount, RunArgs, setEntry, u32Option, UsageError } from './args';

export interface Io {
  out(text: string): void;
  err(text: string): void;
}

const processIo: Io = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };

function version(): string {
  return (require('../../package.json') as { version: string }).version;
}

/** Builds what changed; throws when clang failed (its diagnostics are already on stderr). */
function buildOrFail(config: BpfunitConfig, io: Io, verbose = false): void {
  const r = build(config, { echo: verbose ? (l) => io.out(`${l}\n`) : undefined });
  for (const u of r.unmatched) io.err(`bpfunit: warning: ${u}\n`);
  if (r.failed.length) throw new BuildFailed(`clang failed on ${r.failed.map((t) => t.source).join(', ')}`);
}

class BuildFailed extends BpfUnitError {}

/** `load` and `run` need the kernel stage (ffi-rs); other commands start faster without it. */
const objects = () => require('./objects') as typeof import('./objects');

const collect = <T>(parse: (v: string) => T) => (value: string, previous: T[] = []): T[] => [...previous, parse(value)];

interface Exit {
  status: number;
  pending?: Promise<number>;
}

function program(io: Io, exit: Exit): Command {
  const config = (cmd: Command): BpfunitConfig => loadConfig(process.cwd(), cmd.optsWithGlobals().config as string | undefined);
  const p = new Command('bpfunit')
    .description('Unit-test eBPF programs with BPF_PROG_TEST_RUN')
    .version(version(), '-V, --version')
    .enablePositionalOptions() // a command's own options stay its own (vm passes them to qemu's guest)
    .option('-c, --config <file>', 'configuration file (default: bpfunit.config.json, or the "bpfunit" key of package.json, found upwards)')
    .exitOverride()
    .configureOutput({
      writeOut: (t) => io.out(t),
      writeErr: (t) => io.err(t),
      outputError: (t, write) => write(`bpfunit: ${t.replace(/^error: /, '')}`),
    })
    .showHelpAfterError('(run bpfunit --help for usage)');

  p.command('init')
    .description('scaffold bpfunit.config.json, an example XDP program, a re-hosted sk_msg program, their specs and npm scripts (never overwrites)')
    .action(() => {
      for (const line of init(process.cwd())) io.out(`${line}\n`);
    });

  p.command('build')
    .description('compile the configured sources and harnesses (incremental; clang errors shown as is)')
    .option('-v, --verbose', 'print each clang command')
    .action((opts: { verbose?: boolean }, cmd: Command) => {
      const c = config(cmd);
      buildOrFail(c, io, opts.verbose);
    });

  p.command('cflags')
    .description('print the clang flags bpfunit uses, for your own Makefile/CMake/Bazel build')
    .option('--harness', 'add the include path harnesses need (the sources\' directories)')
    .action((opts: { harness?: boolean }, cmd: Command) => {
      const c = config(cmd);
      const flags = cflags(c, process.cwd());
      if (opts.harness) flags.push(...harnessIncludes(c, process.cwd()));
      io.out(`${flags.join(' ')}\n`);
    });

  p.command('test')
    .description('build what changed, then run the specs with mocha; mocha options pass through (--grep, --reporter, --parallel, ...)')
    .argument('[specs-and-mocha-options...]')
    .option('-w, --watch', 'stay running: after each save rebuild the stale objects and rerun, in this process, only the spec files that used a changed file')
    .allowUnknownOption()
    .helpOption('-h, --help')
    .action((args: string[], opts: { watch?: boolean }, cmd: Command) => {
      const c = config(cmd);
      const run = splitMochaArgs(args);
      specsToRun(c, run.specs);
      if (opts.watch) {
        const cwd = process.cwd(); // the watcher moves to the root; --config is relative to here
        const reload = () => loadConfig(cwd, cmd.optsWithGlobals().config as string | undefined);
        exit.pending = (require('./watch') as typeof import('./watch')).watch(c, { ...run, reload }, (t) => io.out(t));
        return;
      }
      buildOrFail(c, io);
      exit.status = runMocha(c, run);
    });

  p.command('coverage')
    .description('run the specs with instrumented programs and write lcov/HTML to coverage/ (fails under the thresholds); `check` repeats the check from the saved counts, without running')
    .argument('[check]', 'check the counts the last coverage run saved: exit 1 when a threshold or a branch-table row is missed')
    .action((what: string | undefined, _opts: unknown, cmd: Command) => {
      if (what !== undefined && what !== 'check') throw new UsageError(`coverage takes 'check' or nothing, got '${what}'`);
      const c = config(cmd);
      if (what === 'check') {
        // The report modules are needed only here: loaded lazily to keep every other command's start-up short.
        const settings = (require('../coverage/config') as typeof import('../coverage/config')).coverageConfig(c);
        const fromSaved = (require('../coverage/cli') as typeof import('../coverage/cli')).fromSaved;
        exit.status = fromSaved('check', { ...settings, html: false }, c.root, { missing: 'run `bpfunit coverage` first' });
        return;
      }
      specsToRun(c, []);
      buildOrFail(c, io);
      exit.status = runMocha(c, { specs: [], options: ['--reporter', 'dot'], coverage: true });
    });

  p.command('precommit')
    .description('the fast pre-commit check: rebuild what changed, rerun in one process only the spec files whose inputs (objects, files, modules) changed since they passed')
    .argument('[specs...]', 'spec files or globs (default: the configured specs)')
    .option('--no-build', 'do not build first (objects built by your own build)')
    .action((specs: string[], opts: { build: boolean }, cmd: Command) => {
      const c = config(cmd);
      specsToRun(c, specs);
      if (opts.build) buildOrFail(c, io);
      exit.pending = (require('./precommit') as typeof import('./precommit')).precommit(c, specs, (t) => io.out(t));
    });

  p.command('tags')
    .description('run the programs of objects annotated in the kernel selftests\' style (__success, __failure, __msg, __retval) as tests')
    .argument('<objects...>', 'BPF ELF objects')
    .allowUnknownOption()
    .action((objects: string[]) => {
      exit.pending = (require('../tags/cli') as typeof import('../tags/cli')).main(objects);
    });

  p.command('mutate')
    .description('mutation testing: build what changed, then mutate the loaded instructions one at a time, run the specs covering each, report killed/survived/rejected by C line')
    .argument('[specs-and-options...]', 'spec globs, --out DIR, --include REGEX, --only TEXT, --coverage FILE, --no-build (builds what changed first otherwise)')
    .allowUnknownOption()
    .helpOption(false)
    .action((args: string[], _opts: unknown, cmd: Command) => {
      const c = config(cmd);
      require('tsx/cjs'); // the specs are TypeScript, loaded in this process for each mutant
      exit.pending = (require('../mutate/cli') as typeof import('../mutate/cli')).main(args, c, () => buildOrFail(c, io));
    });

  p.command('vm')
    .description('run a command on another kernel, booted under qemu (bpfunit vm --help for its options)')
    .argument('[options-and-command...]', '--kernel RELEASE | --kernel-image PATH, options, then -- COMMAND')
    .allowUnknownOption()
    .helpOption(false)
    .passThroughOptions() // keeps `--` and everything after it for the guest's command
    .action((args: string[]) => {
      exit.pending = (require('../vm/cli') as typeof import('../vm/cli')).main(args);
    });

  p.command('install-hook')
    .description('install a git pre-commit hook running `bpfunit precommit` (an existing hook is kept and run first)')
    .option('--run <command>', 'the check the hook runs', DEFAULT_HOOK_COMMAND)
    .action((opts: { run: string }) => {
      for (const line of installHook(process.cwd(), opts.run)) io.out(`${line}\n`);
    });

  p.command('load')
    .description('load (verify) the programs of an object and print them and its maps as JSON')
    .argument('<object>', 'BPF ELF object')
    .option('--prog <name>', 'load only this program (repeatable)', collect(String), [])
    .option('--btf <file>', "relocate CO-RE against this BTF instead of the running kernel's")
    .action((object: string, opts: { prog: string[]; btf?: string }) => {
      io.out(JSON.stringify(objects().load(object, opts.prog, opts.btf)) + '\n');
    });

  p.command('run')
    .description('test-run one program once and print retval, data, context and maps as JSON (hex)')
    .argument('<object>', 'BPF ELF object')
    .addOption(new Option('--prog <name>', 'the program to run').argParser(collect(String)).default([]))
    .option('--data <hex>', 'packet data', (v) => hex(v, '--data'))
    .option('--ctx <hex>', 'context', (v) => hex(v, '--ctx'))
    .option('--repeat <n>', 'run N times', repeatCount)
    .option('--flags <n>', 'BPF_PROG_TEST_RUN flags the type accepts (e.g. 4: BPF_F_TEST_SKB_CHECKSUM_COMPLETE)', u32Option('--flags'))
    .option('--cpu <n>', 'raw tracepoints: run on this CPU', u32Option('--cpu'))
    .option('--set <map:keyhex=valuehex>', 'write a map entry first (repeatable)', collect(setEntry), [])
    .option('--dump <map>', 'print a map after the run (repeatable)', collect(String), [])
    .option('--btf <file>', "relocate CO-RE against this BTF instead of the running kernel's")
    .action((object: string, opts: Omit<RunArgs, 'progs' | 'sets' | 'dumps'> & { prog: string[]; set: RunArgs['sets']; dump: string[] }) => {
      const { prog, set, dump, ...rest } = opts;
      io.out(JSON.stringify(objects().run(object, { ...rest, progs: prog, sets: set, dumps: dump })) + '\n');
    });
  return p;
}

/** Runs the CLI; returns the exit status (and sets process.exitCode). A command that finishes
 * asynchronously (precommit) sets process.exitCode when it is done. */
export function main(argv: string[], io: Io = processIo): number {
  const exit: Exit = { status: 0 };
  try {
    program(io, exit).parse(argv, { from: 'user' });
  } catch (e) {
    exit.status = report(e, io);
  }
  process.exitCode = exit.status;
  exit.pending?.then(
    (status) => (process.exitCode = status),
    (e) => (process.exitCode = report(e, io)),
  );
  return exit.status;
}

function report(e: unknown, io: Io): number {
  if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2; // help and --version: 0; usage: 2
  if (e instanceof UsageError || e instanceof ConfigError) {
    io.err(`bpfunit: ${e.message}\n(run bpfunit --help for usage)\n`);
    return 2;
  }
  if (e instanceof InputError && /no (program|map) named/.test(e.message)) {
    io.err(`bpfunit: ${e.message}\n`);
    return 2;
  }
  if (e instanceof VerifierError) {
    const excerpt = e.log.trimEnd().split('\n').slice(-20).join('\n');
    io.err(`bpfunit: ${e.message}\n--- verifier log (last lines) ---\n${excerpt}\n`);
    return 1;
  }
  if (e instanceof BpfUnitError) {
    io.err(`bpfunit: ${e.message}\n`);
    return 1;
  }
  io.err(`bpfunit: internal error: ${(e as Error)?.stack ?? e}\n`);
  return 1;
}
