#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The web server benchmark of `make bench`: lighttpd on its native epoll
# backend against lighttpd on kevent, driven by wrk from the same machine.
# Runs in the VM under busybox sh (bench/guest.sh starts it); any POSIX sh
# on a host with loopback runs it too, for a try.
#
#   web.sh [DIR]    DIR holds lighttpd, wrk and idle_conns (default: the
#                   directory of this script)
#
# lighttpd serves one 2.5 KB page from a tmpfs on 127.0.0.1, with
# keep-alive. Each round starts it once per backend, interleaved (epoll
# then kevent in odd rounds, kevent then epoll in even ones, so a drift of
# the machine weighs on both alike), and measures two rows per start:
#
#   active=A,idle=0    wrk with A active connections (default 1,000)
#   active=F,idle=I    I idle keep-alive connections held by idle_conns
#                      (default 10,000), plus wrk with F active (default 10)
#
# Idle connections are where an event backend matters: each is registered
# and never ready. One line per row, backend and round goes to stdout,
# for bench/report.py:
#
#   @ web ROW BACKEND ROUND rps=.. p50_us=.. p90_us=.. p99_us=.. requests=..
#         errors=.. connect=.. read=.. write=.. timeout=.. non2xx=..
#         [held=.. dropped=..]
#
# (errors: wrk's socket errors, the sum of connect, read, write and timeout;
# held and dropped: the idle connections, row B only), plus "@ web-info" with
# the settings and "# web: ..." notes. Settings, from the environment (in the
# VM from the kernel command line, see bench/run.sh):
#
#   KEVENT_WEB_ROUNDS    4      rounds (each runs every backend once)
#   KEVENT_WEB_DURATION  8      seconds of wrk per row
#   KEVENT_WEB_ACTIVE    1000   active connections of row A
#   KEVENT_WEB_IDLE      10000  idle connections of row B (0: no row B)
#   KEVENT_WEB_FEW       10     active connections of row B
#   KEVENT_WEB_THREADS   2      wrk threads
#   KEVENT_WEB_BACKENDS  epoll,kevent  (commas or spaces)
#   KEVENT_WEB_PORT      8080
#
# Exit status 0 if every row of every round was measured, 1 otherwise (the
# rows that were are still reported).

dir=${1:-$(cd "$(dirname "$0")" && pwd)}
rounds=${KEVENT_WEB_ROUNDS:-4}
duration=${KEVENT_WEB_DURATION:-8}
active=${KEVENT_WEB_ACTIVE:-1000}
idle=${KEVENT_WEB_IDLE:-10000}
few=${KEVENT_WEB_FEW:-10}
threads=${KEVENT_WEB_THREADS:-2}
backends=$(echo "${KEVENT_WEB_BACKENDS:-epoll kevent}" | tr , ' ')
port=${KEVENT_WEB_PORT:-8080}
page_bytes=2500
url=http://127.0.0.1:$port/index.html

for p in lighttpd wrk idle_conns; do
	if [ ! -x "$dir/$p" ]; then
		echo "# web: $dir/$p is missing: no web benchmark"
		exit 1
	fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kevent-web.XXXXXX") || exit 1
server=
holder=
cleanup() {
	[ -z "$holder" ] || kill "$holder" 2>/dev/null
	[ -z "$server" ] || kill "$server" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

note() { echo "# web: $*"; }

# Connections either row needs at once, and lighttpd's limits from them:
# lighttpd allows at most max-fds / 2 connections and stops accepting above
# 90% of max-fds. As root it raises its own RLIMIT_NOFILE to max-fds.
conns=$((idle + few > active ? idle + few : active))
max_conns=$((conns + 64))
max_fds=$((max_conns * 2 + 256))
[ $max_fds -le 65535 ] || { max_fds=65535; max_conns=32767; }
# wrk needs a descriptor per connection; lighttpd and idle_conns raise
# their own limits, but only root can raise a hard limit, which ulimit -n
# sets too: it is only ever raised here. (busybox sh and bash have -n.)
# shellcheck disable=SC3045
{
	need=$((max_fds + 64))
	cur=$(ulimit -n)
	[ "$cur" = unlimited ] || [ "$cur" -ge $need ] ||
		ulimit -n $need 2>/dev/null || ulimit -n "$(ulimit -Hn)"
}

# The page: 2,500 bytes of HTML.
mkdir -p "$tmp/www"
awk -v n=$page_bytes 'BEGIN {
	head = "<!DOCTYPE html>\n<html><head><title>kevent</title></head><body><pre>\n"
	tail = "</pre></body></html>\n"
	s = head
	line = "The quick brown fox jumps over the lazy dog; kevent against epoll, round by round.\n"
	while (length(s) + length(line) + length(tail) <= n) s = s line
	while (length(s) + length(tail) < n) s = s "."
	printf "%s%s", s, tail
}' >"$tmp/www/index.html"

# One configuration per backend; only server.event-handler differs.
# Keep-alive lasts as long as the benchmark (idle connections must stay
# open, and wrk's must not be closed after lighttpd's default 1,000
# requests); no access log; uploads (none) in the scratch directory, as
# the VM has no /var/tmp.
for b in $backends; do
	cat >"$tmp/$b.conf" <<EOF
server.document-root = "$tmp/www"
server.bind = "127.0.0.1"
server.port = $port
server.event-handler = "$b"
server.max-fds = $max_fds
server.max-connections = $max_conns
server.max-keep-alive-requests = 65535
server.max-keep-alive-idle = 3600
server.max-read-idle = 3600
server.listen-backlog = 4096
server.upload-dirs = ( "$tmp" )
index-file.names = ( "index.html" )
mimetype.assign = ( ".html" => "text/html" )
EOF
done

# Starts lighttpd with backend $1 and waits until it serves the page.
start_server() {
	"$dir/lighttpd" -D -f "$tmp/$1.conf" 2>"$tmp/lighttpd.log" &
	server=$!
	i=0
	while [ $i -lt 300 ]; do
		kill -0 "$server" 2>/dev/null || break
		"$dir/idle_conns" -n 1 -p "$port" -t 0 >/dev/null 2>&1 && return 0
		sleep 0.1
		i=$((i + 1))
	done
	note "lighttpd with server.event-handler = \"$1\" did not start"
	stop_server "$1"
	return 1
}

# Stops lighttpd and shows what it logged beyond starting and stopping
# (on a host: that it could not raise its descriptor limit).
stop_server() { # $1 = what it was running
	kill "$server" 2>/dev/null
	wait "$server" 2>/dev/null
	server=
	if grep -v -e 'server started' -e 'server stopped' -e 'setrlimit' \
		-e "can't have more connections than fds/2" "$tmp/lighttpd.log" >"$tmp/lighttpd.said"; then
		note "lighttpd ($1) logged:"
		sed 's/^/# web:   /' "$tmp/lighttpd.said"
	fi
}

# Is the server really on backend $1? Its descriptors tell.
check_backend() {
	case $1 in
	kevent) want=/dev/kevent ;;
	epoll) want='anon_inode:[eventpoll]' ;;
	*) return 0 ;;
	esac
	[ -d "/proc/$server/fd" ] || return 0
	for f in "/proc/$server/fd"/*; do
		[ "$(readlink "$f")" = "$want" ] && return 0
	done
	note "lighttpd on $1 has no $want open: not measured"
	return 1
}

# On kevent, the queue's own count of lighttpd's requests (its fdinfo):
# evidence that the idle connections are registered.
queue_note() { # $1 = backend
	[ "$1" = kevent ] || return 0
	for f in "/proc/$server/fd"/*; do
		[ "$(readlink "$f")" = /dev/kevent ] || continue
		note "lighttpd's kevent queue:" \
			"$(grep -E '^kevent-(requests|ready):' "/proc/$server/fdinfo/${f##*/}" | tr '\t\n' '  ')"
	done
}

# Runs wrk with $1 connections and writes its figures to $tmp/row as
# key=value pairs, latencies in µs; fails if wrk did.
run_wrk() {
	"$dir/wrk" -t"$threads" -c"$1" -d"${duration}s" --latency "$url" >"$tmp/wrk.out" 2>&1
	st=$?
	if [ $st != 0 ] || ! grep -q '^Requests/sec:' "$tmp/wrk.out"; then
		note "wrk -c$1 failed (status $st):"
		sed 's/^/# web:   /' "$tmp/wrk.out"
		return 1
	fi
	awk '
	function us(v,   x) {
		x = v; sub(/[a-z]+$/, "", x)
		if (v ~ /us$/) return x
		if (v ~ /ms$/) return x * 1000
		if (v ~ /m$/) return x * 60e6
		if (v ~ /h$/) return x * 3600e6
		return x * 1e6	# s
	}
	/Latency Distribution/ { dist = 1; next }
	dist && $1 ~ /^[0-9]+%$/ { p[$1] = us($2); next }
	{ dist = 0 }
	/ requests in / { requests = $1 }
	/^Requests\/sec:/ { rps = $2 }
	/Socket errors:/ {
		gsub(/,/, "")
		e["connect"] = $4; e["read"] = $6; e["write"] = $8; e["timeout"] = $10
	}
	/Non-2xx or 3xx responses:/ { non2xx = $NF }
	END {
		errors = e["connect"] + e["read"] + e["write"] + e["timeout"]
		printf "rps=%s p50_us=%.0f p90_us=%.0f p99_us=%.0f requests=%d errors=%d", \
			rps, p["50%"], p["90%"], p["99%"], requests, errors
		printf " connect=%d read=%d write=%d timeout=%d non2xx=%d\n", \
			e["connect"], e["read"], e["write"], e["timeout"], non2xx
	}' "$tmp/wrk.out" >"$tmp/row"
}

# Row A: many active connections.
row_active() { # $1 = backend, $2 = round
	run_wrk "$active" || return 1
	echo "@ web active=$active,idle=0 $1 $2 $(cat "$tmp/row")"
}

# Row B: many idle connections and a few active ones.
row_idle() { # $1 = backend, $2 = round
	# Not the last row's output: the loop below reads this one's.
	rm -f "$tmp/idle.out"
	"$dir/idle_conns" -n "$idle" -p "$port" >"$tmp/idle.out" 2>&1 &
	holder=$!
	# Opening 10,000 connections takes seconds, more under TCG.
	i=0
	while ! grep -q '^idle_conns: holding' "$tmp/idle.out" 2>/dev/null; do
		if ! kill -0 "$holder" 2>/dev/null || [ $i -ge 3000 ]; then
			note "idle_conns -n $idle could not hold its connections on $1:"
			sed 's/^/# web:   /' "$tmp/idle.out"
			kill "$holder" 2>/dev/null
			wait "$holder" 2>/dev/null
			holder=
			return 1
		fi
		sleep 0.1
		i=$((i + 1))
	done
	note "$(grep '^idle_conns: holding' "$tmp/idle.out") on $1"
	queue_note "$1"
	run_wrk "$few"
	st=$?
	kill "$holder" 2>/dev/null
	wait "$holder"
	hst=$?
	holder=
	held=$(sed -n 's/^idle_conns: held \([0-9]*\) of .*dropped \([0-9]*\).*/held=\1 dropped=\2/p' "$tmp/idle.out")
	if [ $hst != 0 ]; then
		note "idle_conns on $1 exited with status $hst:"
		sed 's/^/# web:   /' "$tmp/idle.out"
	fi
	[ $st = 0 ] || return 1
	echo "@ web active=$few,idle=$idle $1 $2 $(cat "$tmp/row") ${held:-held=0 dropped=$idle}"
	[ $hst = 0 ]
}

echo "@ web-info - - - rounds=$rounds duration_s=$duration threads=$threads page_bytes=$page_bytes"
note "lighttpd $("$dir/lighttpd" -v 2>&1 | sed -n 's/^lighttpd\/\([^ ]*\).*/\1/p' | head -n 1)," \
	"$("$dir/wrk" -v 2>&1 | head -n 1 | cut -d' ' -f1-2); $rounds rounds of $duration s per row;" \
	"backends: $backends; max-fds $max_fds, max-connections $max_conns"
failed=0
round=1
while [ $round -le "$rounds" ]; do
	order=$backends
	if [ $((round % 2)) = 0 ]; then
		order=
		for b in $backends; do order="$b $order"; done
	fi
	for b in $order; do
		if ! start_server "$b"; then
			failed=$((failed + 1))
			continue
		fi
		if check_backend "$b"; then
			row_active "$b" $round || failed=$((failed + 1))
			if [ "$idle" -gt 0 ]; then
				row_idle "$b" $round || failed=$((failed + 1))
			fi
		else
			failed=$((failed + 1))
		fi
		stop_server "$b, round $round"
	done
	round=$((round + 1))
done
note "done: $failed row(s) or server start(s) failed"
[ $failed = 0 ]
