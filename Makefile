# bpfunit: `make` sets up and runs the program specs; `make test` runs every spec.
SHELL := /bin/bash
CLANG ?= clang
# The flags come from bpfunit.config.json, through the CLI (`bpfunit cflags`), as a user's own
# Makefile would take them; kept in build/cflags so rebuilding an object starts no node.
BPF_CFLAGS = $(eval BPF_CFLAGS := $(shell cat build/cflags))$(BPF_CFLAGS)
MOCHA := node_modules/.bin/mocha
APT_PACKAGES := clang llvm libbpf-dev bpftool make gcc lcov

BPF_OBJS := $(patsubst bpf/%.c,build/bpf/%.o,$(wildcard bpf/*.c))
HARNESS_OBJS := $(patsubst mocks/harness/%.c,build/mocks/%.o,$(wildcard mocks/harness/*.c))
FIXTURE_OBJS := $(patsubst spec/fixtures/%.c,build/fixtures/%.o,$(wildcard spec/fixtures/*.c))
# CO-RE targets: BTF files of other "kernels" (spec/fixtures/core_btf/*.c: types, no programs,
# kept out of build/fixtures) and the running kernel's types as C, for fixtures using vmlinux.h.
CORE_BTFS := $(patsubst spec/fixtures/core_btf/%.c,build/core_btf/%.btf,$(wildcard spec/fixtures/core_btf/*.c))
# The differential suite's deliberately broken mocks: the sendmsg harness with a push_data one byte
# off, the sk_skb harness with a bpf_sk_redirect_map that loses BPF_F_INGRESS.
DIFF_OBJS := build/differential/sendmsg_broken.o build/differential/sk_skb_broken.o
OBJS := $(BPF_OBJS) $(HARNESS_OBJS) $(FIXTURE_OBJS) $(DIFF_OBJS)

.PHONY: all ebpf_unit_test deps dist vm-deps ci-kernels test-kernels test-differential objects test typecheck precommit install-hook coverage bench bench-native clean
all: deps dist objects
	$(MOCHA) 'spec/programs/**/*.spec.ts'

# Kmesh's name for the same job.
ebpf_unit_test: all

deps: node_modules/.package-lock.json
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing; \
	fi

# Guests (bpfunit vm, test-kernels): qemu, a static busybox for the initramfs, cpio to pack it.
VM_PACKAGES := qemu-system-x86 busybox-static cpio xz-utils
vm-deps: deps
	@missing=""; for p in $(VM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# The program, mock, loader, kernel and differential specs (KERNEL_SPECS: other globs) on the host and
# on each kernel in KERNELS (Debian series or kernel image paths) under qemu, as a table kernel x
# spec outcome (also in build/kernels/).
KERNELS ?= host 6.1 6.12
KERNEL_SPECS ?=
KERNEL_MODULES ?=
test-kernels: vm-deps objects
	KERNELS="$(KERNELS)" KERNEL_SPECS="$(KERNEL_SPECS)" KERNEL_MODULES="$(KERNEL_MODULES)" node -r tsx/cjs src/vm/matrix.ts

# The differential suite alone, in one guest: each re-hosted program against the same program
# attached for real there (spec/differential; on the host those specs attach nothing).
DIFF_KERNEL ?= 6.12
test-differential: vm-deps objects dist
	bin/bpfunit vm --kernel $(DIFF_KERNEL) -- node_modules/.bin/mocha 'spec/differential/**/*.spec.ts'

node_modules/.package-lock.json: package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

# The compiled package (what bin/bpfunit and users run): rebuilt when a source changes.
dist: dist/index.js
dist/index.js: $(shell find src -name "*.ts" 2>/dev/null) src/vm/init.sh tsconfig.json tsconfig.build.json package-lock.json
	npm run -s build

objects: $(OBJS) $(CORE_BTFS)

$(OBJS): | dist/index.js build/cflags
build/cflags: bpfunit.config.json dist/index.js
	@mkdir -p $(@D) && node bin/bpfunit cflags > $@

build/bpf/%.o: bpf/%.c
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -MMD -MP -c $< -o $@

build/mocks/%.o: mocks/harness/%.c
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -Ibpf -MMD -MP -c $< -o $@

build/differential/sendmsg_broken.o: mocks/harness/sendmsg_harness.c spec/differential/broken_push.h
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -Ibpf -include spec/differential/broken_push.h -MMD -MP -c $< -o $@

build/differential/sk_skb_broken.o: spec/fixtures/diff_sk_skb_harness.c spec/differential/broken_redirect.h
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -include spec/differential/broken_redirect.h -MMD -MP -c $< -o $@

build/fixtures/%.o: spec/fixtures/%.c
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -Ibuild -MMD -MP -c $< -o $@

build/core_btf/%.btf: spec/fixtures/core_btf/%.c
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $(@:.btf=.o)
	llvm-objcopy --dump-section .BTF=$@ $(@:.btf=.o) /dev/null

build/vmlinux.h:
	@mkdir -p $(@D)
	bpftool btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@

build/fixtures/core_kernel.o build/fixtures/run_raw_tp.o build/fixtures/run_flow_dissector.o build/fixtures/run_netfilter.o build/fixtures/run_sk_lookup.o build/fixtures/run_tracing.o build/fixtures/run_struct_ops.o build/fixtures/run_struct_ops_link.o: build/vmlinux.h
build/fixtures/ext_module_attach.o: build/vmlinux.h

-include $(OBJS:.o=.d)

ALL_SPECS := 'spec/**/*.spec.ts'
# Every spec file once, spread over parallel worker processes (one per core: the suite is mostly
# CPU in the kernel's verifier, clang and child processes), each file's suites and tests in a
# random order, so no test can lean on another one's leftovers; BPFUNIT_SHUFFLE_SEED=N replays one.
JOBS ?= $(shell nproc)
SHUFFLE_SEED := $(or $(BPFUNIT_SHUFFLE_SEED),$(shell od -An -N4 -tu4 /dev/urandom | tr -d ' '))
test: deps dist objects typecheck
	@echo "bpfunit: tests shuffled with BPFUNIT_SHUFFLE_SEED=$(SHUFFLE_SEED)"
	BPFUNIT_SHUFFLE_SEED=$(SHUFFLE_SEED) $(MOCHA) --parallel --jobs $(JOBS) --require tsx/cjs --require spec/support/shuffle.ts $(ALL_SPECS)

typecheck: build/stamps/typecheck

# Pre-commit: a changed source rebuilds only its objects (clang's dependency files) and
# re-type-checks incrementally; `bpfunit precommit` then reruns, in one process, only the spec files
# that used a changed object or file (recorded by their last passing run, build/bpf/.precommit.json)
# or whose modules changed. The stamp keeps a run with nothing changed from starting node at all.
TS_SOURCES := $(shell find src spec bench fuzz -name '*.ts' 2>/dev/null)
build/stamps/typecheck: $(TS_SOURCES) tsconfig.json package-lock.json
	node_modules/.bin/tsc --noEmit -p .
	@mkdir -p $(@D) && touch $@

PRECOMMIT_SPECS := 'spec/{programs,mock,structs}/**/*.spec.ts' spec/btf.spec.ts
# The objects those specs can load: the differential suite's own object is left to `make objects`.
PRECOMMIT_OBJS := $(BPF_OBJS) $(HARNESS_OBJS) $(FIXTURE_OBJS) $(CORE_BTFS)
build/stamps/precommit: $(PRECOMMIT_OBJS) $(TS_SOURCES) dist/index.js bpfunit.config.json .mocharc.json package.json $(wildcard bpf/*.c bpf/include/*.h spec/branches/*.json)
	node bin/bpfunit precommit --no-build $(PRECOMMIT_SPECS)
	@mkdir -p $(@D) && touch $@

precommit: $(PRECOMMIT_OBJS) build/stamps/typecheck build/stamps/precommit

# Objects rebuild in parallel there (a harness includes its program: a .c change often means two
# clang runs); the stamps wait for what they depend on.
ifeq ($(MAKECMDGOALS),precommit)
MAKEFLAGS += -j$(shell nproc)
endif

# Keeps a pre-commit hook already there, as pre-commit.local, run first (see the script).
install-hook:
	@scripts/install-hook.sh

# BPF coverage: instrumented loads, counters per test, lcov + HTML + branch-table.json in coverage/;
# the run fails when a branch-table row is uncovered or a threshold in bpfunit.config.json ("coverage") is missed.
COVERAGE_SPECS := 'spec/{programs,mock}/**/*.spec.ts'
coverage: deps dist objects
	rm -rf coverage
	BPFUNIT_COVERAGE=1 $(MOCHA) --require tsx/cjs --require src/coverage/mocha-hooks.ts --reporter dot $(COVERAGE_SPECS)

bench-native: build/bench/native
build/bench/native: bench/native.c
	@mkdir -p $(@D)
	gcc -O2 -Wall -o $@ $< -lbpf

bench: deps objects
	npm run -s bench

clean:
	rm -rf build coverage dist

# CI: the whole default matrix (program, mock, loader, kernel-requirement and differential specs on the
# host, 6.1 and 6.12), the guests with nf_conntrack so the module-BTF specs take their module side.
ci-kernels:
	$(MAKE) -s test-kernels KERNEL_MODULES=nf_conntrack
