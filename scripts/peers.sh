#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Other projects' test suites, run on kevent and natively (issue 12).
#
#   scripts/peers.sh build                  build every peer test under build/peers/
#   scripts/peers.sh compare NATIVE KEVENT  compare two KTAP logs of one suite
#
# The kernel's own epoll selftest, epoll_wakeup_test.c (from
# tools/testing/selftests/filesystems/epoll/ of the source tree of the
# kernel under test, which kernel.sh unpacks: 64 tests in 6.12, 65 in 7.2),
# is built twice, unmodified and static:
#
#   build/peers/epoll_wakeup_test.native   on the kernel's epoll
#   build/peers/epoll_wakeup_test.kevent   on libkevent-epoll, by the
#                                          --wrap flags of compat/epoll/wrap.flags
#
# (under build/arm64/ with KEVENT_ARCH=arm64, by the cross compiler).
#
# Both get patches/kselftest/timeout_scale.c, which stretches the harness's
# 30 s per test to 120 s for the emulated debug kernel.
# Both use the kernel tree's kselftest_harness.h (6.12's test includes it
# by its relative path, 7.2's from the include path). initramfs.sh copies
# build/peers/ to the VM's /tests/peers, and scripts/peers-compare.sh to
# /peers-compare.sh.
# Run both in one boot and compare: every test that passes natively must
# pass on kevent (compat/epoll/README.md, "The kernel's epoll selftests").
set -euo pipefail
. "$(dirname "$0")/common.sh"

build() {
	local out=$KEVENT_BUILD/peers
	local lib=$KEVENT_BUILD/compat/libkevent-epoll.a
	local cc=${KEVENT_CROSS}gcc
	local flags=$KEVENT_ROOT/compat/epoll/wrap.flags
	local scale=$KEVENT_ROOT/patches/kselftest/timeout_scale.c
	local src test name
	[ -f "$lib" ] || die "$lib is missing: run 'make compat' first"
	src=$(linux_source_tree)
	test=$src/tools/testing/selftests/filesystems/epoll/epoll_wakeup_test.c
	[ -f "$test" ] || die "no $test in the kernel's source tree"
	mkdir -p "$out"
	name=$out/epoll_wakeup_test
	# Built from another kernel's tree (KEVENT_KERNEL changed): again.
	if [ "$(cat "$name.source" 2>/dev/null)" != "$test" ]; then
		rm -f "$name.native" "$name.kevent"
		echo "$test" >"$name.source"
	fi
	local inc=-I$src/tools/testing/selftests
	# Upstream's code, built as its Makefile builds it (no -Werror: its
	# warnings are not ours to fix). Headers: the C library's uapi ones,
	# which have everything it uses.
	if [ ! "$name.native" -nt "$test" ] || [ ! "$name.native" -nt "$scale" ]; then
		echo "  CC      $name.native"
		"$cc" -O2 -g -static -pthread "$inc" -Wl,--wrap=alarm -o "$name.native" "$test" "$scale"
	fi
	if [ ! "$name.kevent" -nt "$test" ] || [ ! "$name.kevent" -nt "$lib" ] ||
		[ ! "$name.kevent" -nt "$flags" ] || [ ! "$name.kevent" -nt "$scale" ]; then
		echo "  CC      $name.kevent"
		# shellcheck disable=SC2046 # the flags are one word per option
		"$cc" -O2 -g -static -pthread "$inc" -Wl,--wrap=alarm $(cat "$flags") -o "$name.kevent" \
			"$test" "$scale" "$lib"
	fi
}

case ${1:-} in
build) build ;;
compare)
	[ $# = 3 ] || die "usage: $0 compare NATIVE.ktap KEVENT.ktap"
	exec sh "$KEVENT_ROOT/scripts/peers-compare.sh" "$2" "$3"
	;;
*) die "usage: $0 build | compare NATIVE.ktap KEVENT.ktap" ;;
esac
