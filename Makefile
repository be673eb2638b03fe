# SPDX-License-Identifier: GPL-2.0
#
#   make run     build what is missing, boot a VM with the module, run the demo
#   make check   build what is missing, run every test on the debug kernel
#   make fuzz    the fuzzer and the accounting stress, DURATION=600 seconds
#   make bench   boot the release kernel once, benchmark, write BENCHMARKS.md
#                (kevent_bench, then lighttpd on epoll and on kevent)
#   make peers   other projects' test suites, natively and on kevent
#
# Kernels are built once and cached outside the repo (scripts/kernel.sh);
# everything else is built under build/.

SHELL := /bin/bash
ROOT := $(abspath .)
FLAVOUR ?= debug

# The architecture built for and booted: x86_64, or arm64 (cross-built,
# run under qemu-system-aarch64: `make check ARCH=arm64`). An ARCH given on
# the command line reaches kbuild too, which builds the module for it.
ARCH ?= x86_64
export KEVENT_ARCH := $(if $(filter x86 x86_64,$(ARCH)),x86_64,$(ARCH))
ifeq ($(KEVENT_ARCH),arm64)
BUILD := $(ROOT)/build/arm64
CC_VM := aarch64-linux-gnu-gcc
AR_VM := aarch64-linux-gnu-ar
RUST_TARGET := aarch64-unknown-linux-gnu
# Debian's rustc-web, whose arm64 standard library Debian packages (rustup
# fetches none here), linking with the cross gcc.
CARGO_VM := RUSTC=/usr/bin/rustc CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=$(CC_VM) cargo
else ifeq ($(KEVENT_ARCH),x86_64)
BUILD := $(ROOT)/build
CC_VM := gcc
AR_VM := ar
RUST_TARGET := x86_64-unknown-linux-gnu
CARGO_VM := cargo
else
$(error ARCH is x86_64 or arm64, not $(ARCH))
endif

# The kernel version built and booted: 6.12 (the default), or 7.2, the
# newest Debian carries (`make check KERNEL=7.2`, or KEVENT_KERNEL=7.2 in
# the environment; x86_64 only). Each has its own clang and bindgen
# (scripts/common.sh), which the module is built with too.
KERNEL ?= $(or $(KEVENT_KERNEL),6.12)
export KEVENT_KERNEL := $(KERNEL)
ifeq ($(filter 6.12 7.2,$(KEVENT_KERNEL)),)
$(error KERNEL is 6.12 or 7.2, not $(KEVENT_KERNEL))
endif
ifeq ($(KEVENT_KERNEL)-$(KEVENT_ARCH),7.2-arm64)
$(error the 7.2 kernel is built for x86_64 only for now)
endif
# The module's build directories are per kernel version: build/debug/module
# for 6.12, build/7.2-debug/module for 7.2 (scripts/initramfs.sh takes it).
KPREFIX := $(if $(filter 6.12,$(KEVENT_KERNEL)),,$(KEVENT_KERNEL)-)

# The module's sources, copied into a build directory per kernel flavour
# (an M= build writes its objects next to its sources).
MODULE_SRCS := Kbuild $(wildcard *.rs sys/*.rs sys/*.c sys/*.h source/*.rs) layout_check.c uapi/linux/kevent.h

SELFTESTS := $(patsubst selftests/%.c,$(BUILD)/selftests/%,$(wildcard selftests/*_test.c))
SELFTEST_HDRS := $(wildcard selftests/*.h) uapi/linux/kevent.h include/kevent.h
EXAMPLES := $(patsubst examples/%.c,$(BUILD)/examples/%,$(wildcard examples/*.c))
CFLAGS_TEST := -O2 -g -Wall -Werror -static -pthread -I uapi -I include -I selftests

# libkevent-epoll (compat/epoll/): epoll over /dev/kevent, a static library.
# A program uses it unmodified when linked with it and EPOLL_WRAP.
COMPAT_EPOLL := $(BUILD)/compat/libkevent-epoll.a
COMPAT_EPOLL_OBJS := $(patsubst compat/epoll/%.c,$(BUILD)/compat/epoll/%.o,$(wildcard compat/epoll/*.c))
COMPAT_EPOLL_HDRS := $(wildcard compat/epoll/*.h) uapi/linux/kevent.h include/kevent.h
CFLAGS_COMPAT := -O2 -g -Wall -Werror -pthread -I uapi -I include
EPOLL_WRAP := $(shell cat compat/epoll/wrap.flags)

RUST_OUT := $(ROOT)/userspace/target/$(RUST_TARGET)/release

.PHONY: all deps kernel module module-in lint fmt selftests examples userspace compat peer-tests peers vm-inputs check fuzz run \
	clean bench insns insprof insprof-debuginfo dkms-source dkms-install dkms-check

all: vm-inputs

deps:
	@scripts/deps.sh

kernel: deps
	@scripts/kernel.sh $(FLAVOUR) >/dev/null

# kernel.sh prints the build directory; it only builds when the cache misses.
# ($(shell) gets make's environment, without the variables it exports.)
KENV = KEVENT_ARCH=$(KEVENT_ARCH) KEVENT_KERNEL=$(KEVENT_KERNEL)
KDIR = $(shell $(KENV) scripts/kernel.sh $(FLAVOUR))
KMAKE = $(MAKE) -s -C $(KDIR) LLVM=$(KEVENT_LLVM) RUSTC=/usr/bin/rustc BINDGEN=$(KEVENT_BINDGEN)
KEVENT_BINDGEN = $(shell export $(KENV) && . scripts/common.sh && echo $$KBINDGEN)
KEVENT_LLVM = $(shell export $(KENV) && . scripts/common.sh && echo $$KLLVM)

module: kernel
	@mkdir -p $(BUILD)/$(KPREFIX)$(FLAVOUR)/module
	@cp --parents -u $(MODULE_SRCS) $(BUILD)/$(KPREFIX)$(FLAVOUR)/module/
	@echo "  MODULE  $(KPREFIX)$(FLAVOUR)/kevent.ko"
	@$(KMAKE) M=$(BUILD)/$(KPREFIX)$(FLAVOUR)/module KRUSTFLAGS=-Dwarnings modules

# The module from sources already copied to the directory DIR (bench/ab.sh
# builds other revisions this way).
module-in: kernel
	@test -n "$(DIR)" || { echo "usage: make module-in DIR=... [FLAVOUR=...]" >&2; exit 1; }
	@$(KMAKE) M=$(abspath $(DIR)) KRUSTFLAGS=-Dwarnings modules

# The kernel's own Rust lints (CLIPPY=1) and rustfmt: both must be clean.
lint: kernel
	@mkdir -p $(BUILD)/$(KPREFIX)lint/module
	@cp --parents -u $(MODULE_SRCS) $(BUILD)/$(KPREFIX)lint/module/
	@echo "  CLIPPY  kevent.ko"
	@touch $(BUILD)/$(KPREFIX)lint/module/kevent_main.rs
	@$(KMAKE) M=$(BUILD)/$(KPREFIX)lint/module CLIPPY=1 CLIPPY_DRIVER=/usr/bin/clippy-driver \
		KRUSTFLAGS=-Dwarnings modules
	@echo "  RUSTFMT module"
	@rustfmt --check --edition 2021 kevent_main.rs
	@echo "  RUSTFMT userspace"
	@cd userspace && cargo fmt --check
	@echo "  CLIPPY  userspace"
	@cd userspace && cargo clippy --quiet --all-targets -- -D warnings

# Formats the module's and the userspace crates' Rust in place.
fmt:
	rustfmt --edition 2021 kevent_main.rs
	cd userspace && cargo fmt

$(BUILD)/selftests/%: selftests/%.c $(SELFTEST_HDRS)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	@$(CC_VM) $(CFLAGS_TEST) -o $@ $<

$(BUILD)/examples/%: examples/%.c uapi/linux/kevent.h include/kevent.h
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	@$(CC_VM) $(CFLAGS_TEST) -o $@ $<

# The library's own test links it the way users do, every epoll call wrapped.
$(BUILD)/selftests/epoll_compat_test: selftests/epoll_compat_test.c $(SELFTEST_HDRS) \
		compat/epoll/kevent-epoll.h compat/epoll/wrap.flags $(COMPAT_EPOLL)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	@$(CC_VM) $(CFLAGS_TEST) -I compat/epoll $(EPOLL_WRAP) -o $@ $< $(COMPAT_EPOLL)

selftests: $(SELFTESTS)
examples: $(EXAMPLES)

ifeq ($(KEVENT_ARCH),arm64)
# 32-bit ARM builds of the ABI's tests, whose ioctls take the module's
# compat path (CONFIG_COMPAT): /tests/c/*.arm32 in the VM. The harness's
# EXPECT macros cast pointers to uintmax_t, which warns on 32 bits.
COMPAT_TESTS := $(patsubst %,$(BUILD)/selftests/%_test.arm32,abi ctl ring sigmask wait)
$(BUILD)/selftests/%.arm32: selftests/%.c $(SELFTEST_HDRS)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	@arm-linux-gnueabihf-gcc $(CFLAGS_TEST) -Wno-pointer-to-int-cast -o $@ $<
selftests: $(COMPAT_TESTS)
endif

$(BUILD)/compat/epoll/%.o: compat/epoll/%.c $(COMPAT_EPOLL_HDRS)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	@$(CC_VM) $(CFLAGS_COMPAT) -c -o $@ $<

$(COMPAT_EPOLL): $(COMPAT_EPOLL_OBJS)
	@echo "  AR      $@"
	@rm -f $@ && $(AR_VM) rcs $@ $^

compat: $(COMPAT_EPOLL)

# Other projects' test suites, built natively and on the library, for the
# VM's /tests/peers: the kernel's epoll selftest (scripts/peers.sh, from the
# kernel's source tree) and libevent with its kevent backend (scripts/libevent.sh).
peer-tests: deps $(COMPAT_EPOLL)
	@scripts/peers.sh build
	@scripts/libevent.sh >/dev/null

# The harness and the crate's examples (the VM runs them from /examples).
userspace:
	@echo "  CARGO   userspace (static, $(RUST_TARGET))"
	@cd userspace && RUSTFLAGS="-C target-feature=+crt-static" \
		$(CARGO_VM) build --quiet --release --target $(RUST_TARGET) --bins --examples

# Everything qemu-test.sh puts into the VM (and on x86_64 insns, so that
# it builds; the instruction counts are taken there only).
vm-inputs: module selftests examples userspace peer-tests $(if $(filter x86_64,$(KEVENT_ARCH)),insns)

# QEMU_TEST_FLAGS passes options to qemu-test.sh (e.g. --only poll, --timeout 300).
check: deps lint vm-inputs
	@cd userspace && cargo test --quiet
	@./qemu-test.sh --kernel debug $(QEMU_TEST_FLAGS)
ifeq ($(KEVENT_ARCH),x86_64)
	@scripts/dkms-check.sh
endif

# README's "Install on your machine", by DKMS, against our debug kernel.
dkms-check: deps vm-inputs
	@scripts/dkms-check.sh

# The fuzzer for DURATION seconds and the accounting stress for a fifth of
# it, on the debug kernel; SEED=N replays a fuzzer run, THREADS=N sets its
# threads (selftests/fuzz_test.c).
DURATION ?= 600
fuzz: deps vm-inputs
	@KEVENT_CMDLINE="KEVENT_FUZZ_DURATION=$(DURATION) KEVENT_STRESS_DURATION=$$(($(DURATION) / 5)) \
		$(if $(SEED),KEVENT_FUZZ_SEED=$(SEED)) $(if $(THREADS),KEVENT_FUZZ_THREADS=$(THREADS))" \
		./qemu-test.sh --kernel debug --no-build --only fuzz,accounting \
		--timeout $$(($(DURATION) * 2 + 900))

run: deps
	@./qemu-test.sh --kernel debug --demo

# Other projects' suites alone, natively and on kevent in one boot: the
# kernel's epoll selftest and libevent's regress (scripts/guest-init.sh).
peers: deps vm-inputs
	@./qemu-test.sh --kernel debug --no-build --only epoll_wakeup,libevent

# The benchmark program runs in the VM: static, with liburing for io_uring.
BENCH_SRCS := $(wildcard bench/*.c) bench/bench.h uapi/linux/kevent.h include/kevent.h
$(BUILD)/bench/kevent_bench: $(BENCH_SRCS)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	@gcc $(CFLAGS_TEST) -o $@ $(filter %.c,$^) -luring

# Instruction counts of the hot paths, for A/B of a change: run it with
# qemu-test.sh --icount (bench/insns/insns.c says how).
insns: $(BUILD)/bench/insns/insns
$(BUILD)/bench/insns/insns: bench/insns/insns.c uapi/linux/kevent.h include/kevent.h
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	@gcc $(CFLAGS_TEST) -o $@ $<

# Where each insns row's kernel instructions go, function by function:
# insns --profile under the QEMU plugin bench/insprof/plugin.c. LINES=1
# adds the module's source lines, from a copy of it built with -g (which
# leaves its code as it is); ANNOTATE=NAME (implies LINES=1) the
# disassembly of the module's functions named like NAME, each instruction
# with its count. The boot's console (the module's symbols) is kept with
# the counts, so that bench/insprof/report.py can be run on them again.
INSPROF_OUT = $(BUILD)/bench/insprof
insprof: $(BUILD)/bench/insprof.so insns
	@mkdir -p $(INSPROF_OUT)
	@./qemu-test.sh --kernel release --plugin $(BUILD)/bench/insprof.so,out=$(INSPROF_OUT)/counts.txt \
		--run $(BUILD)/bench/insns/insns --profile >/dev/null
	@cp build/vm-console.log $(INSPROF_OUT)/console.log
	@$(if $(LINES)$(ANNOTATE),$(MAKE) --no-print-directory FLAVOUR=release insprof-debuginfo)
	@bench/insprof/report.py $$(scripts/kernel.sh release)/System.map $(INSPROF_OUT)/console.log \
		$(INSPROF_OUT)/counts.txt \
		$(if $(LINES)$(ANNOTATE),--lines $(BUILD)/$(KPREFIX)insprof/module/kevent.ko) \
		$(if $(ANNOTATE),--annotate '$(ANNOTATE)')
insprof-debuginfo: kernel
	@mkdir -p $(BUILD)/$(KPREFIX)insprof/module
	@cp --parents -u $(MODULE_SRCS) $(BUILD)/$(KPREFIX)insprof/module/
	@echo "  MODULE  kevent.ko with debug info"
	@$(KMAKE) M=$(BUILD)/$(KPREFIX)insprof/module KRUSTFLAGS="-Dwarnings -g" modules
$(BUILD)/bench/insprof.so: bench/insprof/plugin.c
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	@gcc -O2 -Wall -Werror -shared -fPIC -o $@ $< -lpthread

# The web server benchmark, all of it in build/bench/web/ for the VM's
# /bench/web: its script, its idle-connection holder, and lighttpd and wrk
# from scripts/web.sh.
WEB_KIT := $(BUILD)/bench/web/idle_conns $(BUILD)/bench/web/web.sh
$(BUILD)/bench/web/idle_conns: bench/web/idle_conns.c
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	@gcc $(CFLAGS_TEST) -o $@ $<

$(BUILD)/bench/web/web.sh: bench/web/web.sh
	@mkdir -p $(dir $@)
	@install -m 755 $< $@

# Benchmarks report; they never fail the build (bench/run.sh).
bench: deps
	@$(MAKE) --no-print-directory -s $(BUILD)/bench/kevent_bench $(WEB_KIT)
	@scripts/web.sh >/dev/null
	@bench/run.sh

clean:
	rm -rf $(BUILD) userspace/target

# The module's DKMS source (README, "Install on your machine"): its
# sources, with dkms/Makefile, dkms.conf and check-kernel.sh, in
# $(DESTDIR)/usr/src/kevent-<version>. dkms-install then has DKMS build
# and install it for the running kernel, and for each one installed later.
DKMS_VERSION := $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"$$/\1/p' dkms/dkms.conf)
DKMS_SRC = $(DESTDIR)/usr/src/kevent-$(DKMS_VERSION)
dkms-source:
	@rm -rf $(DKMS_SRC) && mkdir -p $(DKMS_SRC)
	@cp --parents $(MODULE_SRCS) $(DKMS_SRC)/
	@cp dkms/dkms.conf dkms/Makefile dkms/check-kernel.sh $(DKMS_SRC)/
	@echo "  DKMS    $(DKMS_SRC)"

dkms-install: dkms-source
	@dkms status kevent/$(DKMS_VERSION) | grep -q . || dkms add kevent/$(DKMS_VERSION)
	dkms install kevent/$(DKMS_VERSION)
