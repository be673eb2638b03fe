#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make bench: boots the release kernel once, runs build/bench/kevent_bench
# in it, then the web server benchmark (bench/web/web.sh: lighttpd on epoll
# and on kevent, driven by wrk) if build/bench/web/ holds its programs, and
# turns their "@ ..." lines into BENCHMARKS.md and the plots in
# bench/plots/. Benchmarks report, they never fail: a VM that dies half way
# still gets a report of what it printed, and this script exits 0.
#
#   bench/run.sh [kevent_bench options, default: -r 7]
#   bench/run.sh --web-only       the web benchmark alone; the report keeps
#                                 the last run's other results
#   bench/run.sh --report-only    rewrite the report from the last run's results
#
# KEVENT_WEB_* variables (rounds, durations, connections: see
# bench/web/web.sh) reach the VM on the kernel command line, e.g.
# KEVENT_WEB_ROUNDS=6 make bench.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. scripts/common.sh

out=build/bench
mkdir -p "$out" bench/plots
args=("$@")
[ ${#args[@]} -gt 0 ] || args=(-r 7)

start=$SECONDS
if [ "${args[0]}" != --report-only ]; then
	# The VM gets kevent_bench at /bench, the web benchmark's directory at
	# /bench/web, and bench/guest.sh, which runs them one after the other.
	vm=()
	[ "${args[0]}" = --web-only ] || vm=(--add "$out/kevent_bench:/bench/kevent_bench")
	web=none
	if [ -x "$out/web/lighttpd" ] && [ -x "$out/web/wrk" ] && [ -x "$out/web/idle_conns" ] &&
		[ -x "$out/web/web.sh" ]; then
		vm+=(--add "$out/web:/bench/web")
		web="lighttpd on epoll and kevent"
	else
		echo "warning: $out/web/ lacks lighttpd, wrk, idle_conns or web.sh (make bench builds them): no web benchmark" >&2
	fi
	# Values with spaces cannot cross the kernel command line.
	webenv=$(env | grep -E '^KEVENT_WEB_[A-Z]+=[^ ]+$' | sort | tr '\n' ' ' || true)
	log "benchmarking in one boot of the release kernel (kevent_bench ${args[*]}; web: $web${webenv:+; $webenv})"
	KEVENT_CMDLINE="${KEVENT_CMDLINE:-} $webenv" ./qemu-test.sh --kernel release --timeout 1500 "${vm[@]}" \
		--run bench/guest.sh "${args[@]}" >"$out/qemu.log" 2>&1
	echo $? >"$out/status"
	# The guest's tty turns each newline into CR LF; only result lines count.
	tr -d '\r' <build/vm-console.log | grep -a '^@ ' >"$out/results.new"
	tr -d '\r' <build/vm-console.log | grep -a '^# ' >"$out/notes.new" || true
	if [ "${args[0]}" = --web-only ] && [ -f "$out/results.txt" ]; then
		# The last run's other results, this run's web ones.
		{ grep -v '^@ web' "$out/results.txt"; grep '^@ web' "$out/results.new"; } >"$out/results.merged"
		{ grep -v '^# web' "$out/notes.txt" 2>/dev/null; grep '^# web' "$out/notes.new"; } >"$out/notes.merged"
		mv "$out/results.merged" "$out/results.new"
		mv "$out/notes.merged" "$out/notes.new"
	fi
	mv "$out/results.new" "$out/results.txt"
	mv "$out/notes.new" "$out/notes.txt"
	echo $((SECONDS - start)) >"$out/wall"
fi
status=$(cat "$out/status" 2>/dev/null || echo unknown)
[ "$status" = 0 ] || echo "warning: the benchmark VM exited with status $status (see $out/qemu.log)" >&2
# qemu-test.sh's line: "booting the [ARCH ]release kernel (ACCEL, cpu MODEL)".
accel=$(sed -En 's/.*booting the ([a-z0-9_]+ )?release kernel \(([a-z]*)[,)].*/\2/p' "$out/qemu.log" | head -n 1)
model=$(sed -En 's/.*booting the ([a-z0-9_]+ )?release kernel \([a-z]*, cpu ([a-z0-9-]*)\).*/\2/p' "$out/qemu.log" | head -n 1)
wall=$(cat "$out/wall" 2>/dev/null || echo unknown)

# /usr/bin/python3: the report needs only the standard library, and
# Debian's python3 is the one scripts/deps.sh installs.
/usr/bin/python3 bench/report.py --results "$out/results.txt" --out BENCHMARKS.md \
	--plots bench/plots --data "$out" --accel "${accel:-unknown}" \
	--model "${model:-default}" --wall "$wall" \
	--qemu "$(qemu-system-x86_64 --version | head -n 1 | sed 's/.*version \([0-9.]*\).*/\1/')" \
	--cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)" \
	--status "$status" || echo "warning: bench/report.py failed" >&2
for gp in "$out"/*.gp; do
	[ -f "$gp" ] && { gnuplot "$gp" || echo "warning: gnuplot $gp failed" >&2; }
done
log "BENCHMARKS.md and bench/plots/ written in $((SECONDS - start)) s"
exit 0
