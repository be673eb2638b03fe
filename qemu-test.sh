#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Boots our Rust-enabled 6.12 kernel in QEMU with the kevent module loaded
# (on arm64 with KEVENT_ARCH=arm64, as `make check ARCH=arm64` does; the
# 7.2 kernel with KEVENT_KERNEL=7.2, as `make check KERNEL=7.2` does).
#
#   ./qemu-test.sh                      run every test (debug kernel)
#   ./qemu-test.sh --run PROG [ARGS]    run a static program, exit with its status
#   ./qemu-test.sh --demo               run the demo
#   ./qemu-test.sh --shell              an interactive shell in the VM
#
# Options (before the mode): --kernel debug|release (default debug),
# --timeout SECONDS (default 3000 for the tests, 600 otherwise),
# --only WORD[,WORD] (run only the test programs whose name contains a WORD),
# --add HOSTPATH:GUESTPATH (put a file or directory into the VM too; any
# number of times), --no-build (use what is built), --icount (under TCG:
# the guest's clock counts the instructions it runs, see bench/NOTES.md),
# --plugin FILE[,ARGS] (load a QEMU TCG plugin, as `make insprof` does).
#
# The test run passes only when the guest writes its verdict on a serial
# channel of its own (written only when everything passed) and the console
# shows no kernel splat; a hang ends at the timeout and fails.
set -euo pipefail
cd "$(dirname "$0")"
. scripts/common.sh

flavour=debug mode=test timeout= build=1 only= icount=0
run_args=() adds=() plugin=()
while [ $# -gt 0 ]; do
	case $1 in
	--kernel) flavour=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--no-build) build=0; shift ;;
	--icount) icount=1; shift ;;
	--plugin) plugin=(-plugin "$(realpath "${2%%,*}")${2#"${2%%,*}"}"); shift 2 ;;
	--only) only=$2; shift 2 ;;
	--add)
		[[ ${2:-} == *:/* ]] || die "--add needs HOSTPATH:/GUESTPATH"
		adds+=(--add "$(realpath "${2%%:/*}"):/${2#*:/}")
		shift 2
		;;
	--demo) mode=demo; shift ;;
	--shell) mode=shell; shift ;;
	--run)
		[ $# -ge 2 ] || die "--run needs a program"
		mode=run
		shift
		run_args=("$@")
		run_args[0]=$(realpath "$1")
		break
		;;
	-h | --help) sed -n '3,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown option $1 (try --help)" ;;
	esac
done
case $flavour in debug | release) ;; *) die "--kernel takes debug or release" ;; esac
[ -n "$timeout" ] || { [ $mode = test ] && timeout=3000 || timeout=600; }

if [ $build = 1 ]; then
	arch=()
	[ "$KEVENT_ARCH" = x86_64 ] || arch=(ARCH="$KEVENT_ARCH")
	make --no-print-directory FLAVOUR="$flavour" "${arch[@]}" vm-inputs
fi
kdir=$(scripts/kernel.sh "$flavour")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ $mode = run ]; then
	scripts/initramfs.sh "$work/initramfs.gz" "$flavour" "${adds[@]}" --run "${run_args[@]}"
else
	scripts/initramfs.sh "$work/initramfs.gz" "$flavour" "${adds[@]}"
fi

# KVM only where it really works: /dev/kvm can exist on a CPU without
# vmx/svm, where QEMU then spins in the firmware.
# Under TCG the guest's TSC runs at the host's rate: told that rate
# (tsc_early_khz=, scripts/tsc-khz.c) and that the TSC is reliable, the
# kernel neither calibrates it against the emulated PIT nor lets the
# clocksource watchdog reject it, calibrates the local APIC timer against
# it, and runs high-resolution timers on the APIC of each CPU. (Booted
# without the figure, the APIC timer once lost a one-shot event now and
# then; timer_test's no_timer_interrupt_is_lost_on_any_cpu watches for
# that.) Without the figure the VM falls back to the HPET for every CPU
# (nolapic_timer) and to the 4 ms tick.
# The benchmark kernel gets the most capable CPU model TCG emulates; the
# test kernel keeps QEMU's default (its one run on -cpu max took its peer
# suites up to twice as long as earlier runs, past the time limit).
cpu=qemu64
[ "$flavour" = release ] && cpu=max
# arm64 (KEVENT_ARCH=arm64): QEMU's virt machine on an ARMv8.0 core, whose
# generic timer gives high-resolution timers as it is; no TSC to set up.
[ "$KEVENT_ARCH" = arm64 ] && cpu=cortex-a72
accel=(-accel tcg -cpu "$cpu")
console=ttyS0
[ "$KEVENT_ARCH" = arm64 ] && console=ttyAMA0
cmdline="console=$console loglevel=5 panic=-1 panic_on_warn=1 oops=panic kevent_vm.mode=$mode kevent_vm.flavour=$flavour"
# Counting instructions (--icount, plugins) needs TCG.
if [ "$KEVENT_ARCH" = arm64 ]; then
	[ "$icount" = 0 ] || accel+=(-icount "shift=0,sleep=off")
elif [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo && [ "$icount" = 0 ] && [ ${#plugin[@]} = 0 ]; then
	accel=(-accel kvm -cpu host)
elif [ "$icount" = 1 ]; then
	# One instruction is one nanosecond of the guest's time, and its TSC
	# ticks once a nanosecond: timing a loop in the guest counts the
	# instructions it runs, the same from run to run and boot to boot.
	accel+=(-icount "shift=0,sleep=off")
	cmdline="$cmdline tsc_early_khz=1000000 tsc=reliable"
elif tsc_khz=$(host_tsc_khz); then
	cmdline="$cmdline tsc_early_khz=$tsc_khz tsc=reliable"
else
	log "the host's TSC rate is unknown: the VM gets the 4 ms tick, no high-resolution timers"
	cmdline="$cmdline nolapic_timer"
fi

[ -z "$only" ] || cmdline="$cmdline kevent_vm.only=$only"
cmdline="$cmdline ${KEVENT_CMDLINE:-}"
# The console is the first serial port (ttyS0), the verdict channel the
# second (ttyS1); on arm64 the console is the PL011 UART (ttyAMA0), the
# verdict channel a virtio console (hvc0).
if [ "$KEVENT_ARCH" = arm64 ]; then
	qemu=(qemu-system-aarch64 -M virt)
	verdict=(-device virtio-serial-device -chardev file,id=verdict,path="$work/verdict"
		-device virtconsole,chardev=verdict)
else
	qemu=(qemu-system-x86_64)
	verdict=(-serial file:"$work/verdict")
fi
qemu+=(-nodefaults -nographic -no-reboot -m 1G -smp 2,sockets=2,cores=1 "${accel[@]}"
	-kernel "$kdir/$KIMAGE" -initrd "$work/initramfs.gz" -append "$cmdline" "${plugin[@]}")

if [ $mode = shell ]; then
	"${qemu[@]}" -serial mon:stdio "${verdict[@]}"
	exit 0
fi

log "booting the $KEVENT_ARCH $flavour kernel (${accel[1]}, cpu ${accel[3]}) in mode $mode, timeout ${timeout}s"
set +e
timeout -k 10 "$timeout" "${qemu[@]}" -serial stdio "${verdict[@]}" </dev/null |
	tee "$work/console"
status=${PIPESTATUS[0]}
set -e
mkdir -p build
cp "$work/console" build/vm-console.log

if [ $status = 124 ] || [ $status = 137 ]; then
	echo "# the VM did not finish within ${timeout}s" >&2
fi

# The guest's tty turns each newline into CR LF.
tr -d '\r' <"$work/verdict" >"$work/verdict.txt" 2>/dev/null || true
if [ $mode != test ]; then
	exit_line=$(grep -a '^KEVENT-EXIT ' "$work/verdict.txt" | tail -n 1 || true)
	[ -n "$exit_line" ] || die "the VM ended without reporting the program's exit status"
	exit "${exit_line#KEVENT-EXIT }"
fi

# Console splats count even if the guest missed them.
splat=0
if grep -aqE 'BUG:|WARNING:|Oops|Kernel panic|KASAN:|possible (recursive|circular) locking|inconsistent lock state|suspicious RCU usage' "$work/console"; then
	echo "# the kernel console shows a splat (see build/vm-console.log)" >&2
	splat=1
fi
result=$(grep -a '^KEVENT-RESULT ' "$work/verdict.txt" | tail -n 1 || true)
passed=0 failed=1
if [ -n "$result" ]; then
	passed=$(sed -n 's/.*passed=\([0-9]*\).*/\1/p' <<<"$result")
	failed=$(sed -n 's/.*failed=\([0-9]*\).*/\1/p' <<<"$result")
fi
if ! grep -aqx 'KEVENT-VERDICT PASS' "$work/verdict.txt" || [ $splat = 1 ] || [ $status != 0 ]; then
	[ "$failed" -gt 0 ] || failed=1
	echo "$passed passed, $failed failed"
	exit 1
fi
echo "$passed passed, $failed failed"
