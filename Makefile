# bpfunit: `make` sets up and runs the program specs; `make test` runs every spec.
SHELL := /bin/bash
CLANG ?= clang
MULTIARCH := $(shell gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_x86 -I/usr/include/$(MULTIARCH) \
	-Ibpf/include -Imocks/include -Wall -Wno-unused-function
MOCHA := node_modules/.bin/mocha
APT_PACKAGES := clang llvm libbpf-dev bpftool make gcc lcov

BPF_OBJS := $(patsubst bpf/%.c,build/bpf/%.o,$(wildcard bpf/*.c))
HARNESS_OBJS := $(patsubst mocks/harness/%.c,build/mocks/%.o,$(wildcard mocks/harness/*.c))
FIXTURE_OBJS := $(patsubst spec/fixtures/%.c,build/fixtures/%.o,$(wildcard spec/fixtures/*.c))
OBJS := $(BPF_OBJS) $(HARNESS_OBJS) $(FIXTURE_OBJS)

.PHONY: all ebpf_unit_test deps vm-deps test-kernels objects test typecheck isolation precommit install-hook coverage bench bench-native clean
all: deps objects
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

# The program and loader specs on the host and on each kernel in KERNELS (Debian series or
# kernel image paths) under qemu, as a table kernel x spec outcome (also in build/kernels/).
KERNELS ?= host 6.1 6.12
test-kernels: vm-deps objects
	KERNELS="$(KERNELS)" node -r ts-node/register src/vm/matrix.ts

node_modules/.package-lock.json: package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

objects: $(OBJS)

build/bpf/%.o: bpf/%.c
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -MMD -MP -c $< -o $@

build/mocks/%.o: mocks/harness/%.c
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -Ibpf -MMD -MP -c $< -o $@

build/fixtures/%.o: spec/fixtures/%.c
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -MMD -MP -c $< -o $@

-include $(OBJS:.o=.d)

ALL_SPECS := 'spec/**/*.spec.ts'
test: deps objects typecheck
	$(MOCHA) $(ALL_SPECS)
	$(MAKE) -s isolation

typecheck: build/stamps/typecheck

# Isolation: the suite in parallel workers, then in a shuffled order (hygiene runs serially in
# `test`: it counts the kernel's objects, which parallel workers would disturb).
ISOLATED := 'spec/{programs,mock,structs,loader}/**/*.spec.ts' spec/btf.spec.ts
isolation: objects
	$(MOCHA) --parallel --jobs 2 --reporter dot $(ISOLATED)
	$(MOCHA) --require ts-node/register --require spec/support/shuffle.ts --reporter dot $(ISOLATED)

# Pre-commit: stamps make a warm run with nothing changed do no work; a changed source rebuilds
# only its objects (clang's dependency files), re-type-checks incrementally and reruns the suite.
TS_SOURCES := $(shell find src spec bench fuzz -name '*.ts' 2>/dev/null)
build/stamps/typecheck: $(TS_SOURCES) tsconfig.json package-lock.json
	node_modules/.bin/tsc --noEmit -p .
	@mkdir -p $(@D) && touch $@

# Specs that run BPF objects rerun when an object or a TS file changes; the others when what
# they read changes (TS, the BTF fixture, the Kmesh headers whose layouts they check).
build/stamps/specs-bpf: $(OBJS) $(TS_SOURCES)
	$(MOCHA) --reporter dot 'spec/{programs,mock}/**/*.spec.ts'
	@mkdir -p $(@D) && touch $@

build/stamps/specs-pure: $(TS_SOURCES) build/fixtures/btf_shapes.o $(wildcard bpf/include/*.h)
	$(MOCHA) --reporter dot 'spec/structs/**/*.spec.ts' spec/btf.spec.ts
	@mkdir -p $(@D) && touch $@

precommit: objects build/stamps/typecheck build/stamps/specs-bpf build/stamps/specs-pure

install-hook:
	@hook="$$(git rev-parse --git-path hooks)/pre-commit"; \
	printf '#!/bin/sh\n# installed by bpfunit: make install-hook\nexec make -s -C "$$(git rev-parse --show-toplevel)" precommit\n' > "$$hook"; \
	chmod +x "$$hook"; echo "installed $$hook"

# BPF coverage: instrumented loads, counters per test, lcov + HTML + branch-table.json in coverage/;
# fails when a branch-table row is uncovered or a threshold in .bpfunit-coverage.json is missed.
COVERAGE_SPECS := 'spec/{programs,mock}/**/*.spec.ts'
coverage: deps objects
	rm -rf coverage
	BPFUNIT_COVERAGE=1 $(MOCHA) --require ts-node/register --require src/coverage/mocha-hooks.ts --reporter dot $(COVERAGE_SPECS)
	node -r ts-node/register src/coverage/cli.ts check --quiet --no-html

bench-native: build/bench/native
build/bench/native: bench/native.c
	@mkdir -p $(@D)
	gcc -O2 -Wall -o $@ $< -lbpf

bench: deps objects
	npm run -s bench

clean:
	rm -rf build coverage
