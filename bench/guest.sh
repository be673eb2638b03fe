#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# make bench's program in the VM (bench/run.sh passes it to qemu-test.sh
# --run; scripts/guest-init.sh runs it in /tmp with the module loaded):
#
#   guest.sh [--web-only | KEVENT_BENCH_OPTIONS...]
#
# Runs /bench/kevent_bench with the options given, then the web server
# benchmark, /bench/web/web.sh, if bench/run.sh put /bench/web into the
# initramfs. --web-only runs the web benchmark alone. Both print "@ ..."
# result lines and "# ..." notes on the console. The exit status is the
# first failure's.

# The largest pipe chain holds 50,000 requests, past the default per-user
# limit in a 1 GiB VM (4% of memory at 1 KiB a request, some 41,000): raise
# it, as an administrator would raise epoll's max_user_watches (whose
# default is several times larger at the same memory).
param=/sys/module/kevent/parameters/max_user_requests
if [ -w $param ]; then
	echo "# bench: max_user_requests raised from $(cat $param) to 200000"
	echo 200000 >$param
fi

status=0
if [ "${1:-}" = --web-only ]; then
	shift
else
	/bench/kevent_bench "$@"
	status=$?
fi

if [ -x /bench/web/web.sh ]; then
	# Each round opens some 20,000 loopback connections, whose client
	# ports stay in TIME_WAIT for a minute: all ports, not the default
	# 28,000 (TIME_WAIT reuse, on by default for loopback, helps too).
	echo "1024 65535" >/proc/sys/net/ipv4/ip_local_port_range
	/bench/web/web.sh /bench/web
	st=$?
	[ $status != 0 ] || status=$st
else
	echo "# web: no /bench/web in this VM: no web server benchmark"
fi
exit $status
