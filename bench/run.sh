#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make bench: boots the release kernel once, runs build/bench/kevent_bench
# in it, and turns its "@ ..." lines into BENCHMARKS.md and the plots in
# bench/plots/. Benchmarks report, they never fail: a VM that dies half way
# still gets a report of what it printed, and this script exits 0.
#
#   bench/run.sh [kevent_bench options, default: -r 7]
#   bench/run.sh --report-only    rewrite the report from the last run's results
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

out=build/bench
mkdir -p "$out" bench/plots
args=("$@")
[ ${#args[@]} -gt 0 ] || args=(-r 7)

start=$SECONDS
if [ "${args[0]}" != --report-only ]; then
	log "benchmarking in one boot of the release kernel (kevent_bench ${args[*]})"
	./qemu-test.sh --kernel release --timeout 1500 --run "$out/kevent_bench" "${args[@]}" \
		>"$out/qemu.log" 2>&1
	echo $? >"$out/status"
	# The guest's tty turns each newline into CR LF; only result lines count.
	tr -d '\r' <build/vm-console.log | grep -a '^@ ' >"$out/results.txt"
	tr -d '\r' <build/vm-console.log | grep -a '^# ' >"$out/notes.txt" || true
	echo $((SECONDS - start)) >"$out/wall"
fi
status=$(cat "$out/status" 2>/dev/null || echo unknown)
[ "$status" = 0 ] || echo "warning: the benchmark VM exited with status $status (see $out/qemu.log)" >&2
accel=$(sed -n 's/.*booting the release kernel (\([a-z]*\)).*/\1/p' "$out/qemu.log" | head -n 1)
wall=$(cat "$out/wall" 2>/dev/null || echo unknown)

# /usr/bin/python3: the report needs only the standard library, and
# Debian's python3 is the one scripts/deps.sh installs.
/usr/bin/python3 bench/report.py --results "$out/results.txt" --out BENCHMARKS.md \
	--plots bench/plots --data "$out" --accel "${accel:-unknown}" --wall "$wall" \
	--qemu "$(qemu-system-x86_64 --version | head -n 1 | sed 's/.*version \([0-9.]*\).*/\1/')" \
	--cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)" \
	--status "$status" || echo "warning: bench/report.py failed" >&2
for gp in "$out"/*.gp; do
	[ -f "$gp" ] && { gnuplot "$gp" || echo "warning: gnuplot $gp failed" >&2; }
done
log "BENCHMARKS.md and bench/plots/ written in $((SECONDS - start)) s"
exit 0
