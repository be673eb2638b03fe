#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# A/B of the module at two git revisions, on the hot paths of
# bench/insns/insns.c, in one boot of the release kernel, each revision
# built at four code layouts.
#
#   bench/ab.sh [--icount] [--rounds N] REV_A REV_B
#
# Why four layouts: under TCG the same code runs up to 15 % faster or
# slower depending on where it falls relative to 4 KiB pages (QEMU chains
# translated blocks directly only within a guest page; a jump across a
# page boundary goes through a lookup), so one build of each revision
# compares their layouts as much as their code (bench/NOTES.md, The
# machine). Each revision is built as is and with its code shifted by 1,
# 2 and 3 KiB (an object of padding linked first), the modules alternate
# (rmmod/insmod) round by round, and each row's figure is the median over
# layouts and rounds, with the spread of the per-layout medians.
#
# --icount counts instructions instead of nanoseconds (qemu-test.sh
# --icount): those do not depend on the layout, and one round is enough.
# REV may be any commit-ish, or "work" for the working tree.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

icount=
rounds=3
while [ $# -gt 0 ]; do
	case $1 in
	--icount) icount=--icount; shift ;;
	--rounds) rounds=$2; shift 2 ;;
	-h | --help) sed -n '3,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) die "unknown option $1 (try --help)" ;;
	*) break ;;
	esac
done
[ $# -eq 2 ] || die "usage: bench/ab.sh [--icount] [--rounds N] REV_A REV_B"
[ -n "$icount" ] && rounds=1
PADS="0 1024 2048 3072"

out=$(mktemp -d "${TMPDIR:-/tmp}/kevent-ab.XXXXXX")
trap 'rm -rf "$out"' EXIT

# The module sources of REV (or of the working tree) in $1.
export_rev() {
	local rev=$1 dir=$2
	mkdir -p "$dir"
	if [ "$rev" = work ]; then
		cp --parents Kbuild ./*.rs sys/* layout_check.c uapi/linux/kevent.h "$dir"
		[ -d source ] && cp -r source "$dir"
	else
		git rev-parse --verify -q "$rev^{commit}" >/dev/null || die "no such revision: $rev"
		# '*.rs' takes source/ too (older revisions have none).
		git archive "$rev" -- Kbuild '*.rs' sys layout_check.c uapi | tar -x -C "$dir"
	fi
}

# Builds the module in $1 with its code shifted by $2 bytes.
build_padded() {
	local dir=$1 pad=$2
	if [ "$pad" -gt 0 ]; then
		printf '\t.section .text, "ax"\n\t.skip %d, 0xcc\n' "$pad" >"$dir/layout_pad.S"
		# First in the link order, so that everything after it moves.
		sed -i 's/^kevent-y := /kevent-y := layout_pad.o /' "$dir/Kbuild"
		echo 'OBJECT_FILES_NON_STANDARD_layout_pad.o := y' >>"$dir/Kbuild"
	fi
	make -s module-in FLAVOUR=release DIR="$dir" >"$dir/build.log" 2>&1 ||
		{ cat "$dir/build.log" >&2; die "the module of $dir did not build"; }
}

names=()
labels=()
for side in a b; do
	rev=$1
	shift
	for pad in $PADS; do
		name=$side$pad
		echo "  MODULE  $rev, code shifted by $pad bytes" >&2
		export_rev "$rev" "$out/src-$name"
		build_padded "$out/src-$name" "$pad"
		cp "$out/src-$name/kevent.ko" "$out/$name.ko"
		names+=("$name")
	done
	labels+=("$rev")
done
make -s insns
cp build/bench/insns/insns "$out/insns"

{
	echo '#!/bin/sh'
	echo "for round in $(seq -s ' ' "$rounds"); do"
	echo "  for m in ${names[*]}; do"
	echo '    rmmod kevent 2>/dev/null'
	echo '    insmod /ab/$m.ko || exit 1'
	echo '    /ab/insns | sed "s/^/@ab $m /"'
	echo '  done'
	echo 'done'
} >"$out/guest.sh"
chmod +x "$out/guest.sh"

echo "  QEMU    $rounds round(s) of ${#names[@]} modules${icount:+, counting instructions}" >&2
./qemu-test.sh --kernel release --no-build $icount --add "$out:/ab" --run "$out/guest.sh" \
	>"$out/vm.log" 2>&1 || { tail -20 "$out/vm.log" >&2; die "the VM run failed"; }

unit=ns
[ -n "$icount" ] && unit=instructions
echo "A = ${labels[0]}, B = ${labels[1]}; $unit per call, median over layouts and rounds (per-layout medians min-max)"
tr -d '\r' <"$out/vm.log" | grep '^@ab ' | python3 -c '
import sys, statistics as st
rows, order = {}, []
for line in sys.stdin:
    tag, mod, rest = line.split(" ", 2)
    name, value = rest.rstrip().rsplit(None, 1)
    name = name.strip()
    if name.startswith("#") or not value.replace(".", "").isdigit():
        continue
    if name not in rows:
        rows[name] = {}
        order.append(name)
    rows[name].setdefault(mod[0], {}).setdefault(mod[1:], []).append(float(value))
def cell(layouts):
    meds = [st.median(v) for v in layouts.values()]
    every = [x for v in layouts.values() for x in v]
    return st.median(every), min(meds), max(meds)
print("| path | A | B | B/A |")
print("| --- | --- | --- | --- |")
for name in order:
    a, b = cell(rows[name]["a"]), cell(rows[name]["b"])
    print("| %s | %.0f (%.0f-%.0f) | %.0f (%.0f-%.0f) | %.2f |" % (name, *a, *b, b[0] / a[0]))
'
