#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Compares the KTAP logs of one suite run natively and on kevent:
#
#   peers-compare.sh NATIVE.ktap KEVENT.ktap [NAME]
#
# Prints "NAME: kevent P/T, native P/T" (P tests passed, skips excluded, of
# T), then each test that passed natively and did not pass on kevent, which
# includes tests missing from the kevent log (a crash or a hang cut it
# short). Exits 1 if there is such a test, or if either log has no result.
# POSIX sh and awk: it runs on the host and in the VM's busybox.
[ $# -ge 2 ] || { echo "usage: $0 NATIVE.ktap KEVENT.ktap [NAME]" >&2; exit 2; }
name=${3:-$(basename "$2" .ktap)}
awk -v name="$name" '
# A result line: "ok 12 global.epoll12", "not ok 3 x.y", "ok 4 z # SKIP why".
function result(line, file,    ok, t) {
	sub(/^[ \t]+/, "", line)
	sub(/\r$/, "", line)
	if (line ~ /^ok [0-9]+ /) ok = 1
	else if (line ~ /^not ok [0-9]+ /) ok = 0
	else return
	t = line
	sub(/^(not )?ok [0-9]+ /, "", t)
	skip = (t ~ / # [Ss][Kk][Ii][Pp]/)
	sub(/ # .*$/, "", t)
	total[file]++
	if (ok && !skip) { pass[file]++; passed[file, t] = 1 }
	if (file == 1 && !(t in seen)) { seen[t] = 1; order[++n] = t }
}
{ result($0, file) }
END {
	t = total[1] > total[2] ? total[1] : total[2]
	printf "%s: kevent %d/%d, native %d/%d\n", name, pass[2], t, pass[1], t
	bad = 0
	for (i = 1; i <= n; i++)
		if (passed[1, order[i]] && !passed[2, order[i]]) {
			printf "  fails on kevent only: %s\n", order[i]
			bad = 1
		}
	if (!total[1] || !total[2]) {
		print "  a log has no result"
		bad = 1
	}
	exit bad
}' file=1 "$1" file=2 "$2"
