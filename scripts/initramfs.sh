#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Packs the VM's initramfs: static busybox, scripts/guest-init.sh as /init,
# the module, every test program and example, optionally more files
# (--add HOSTPATH:GUESTPATH, a file or a directory, any number of times)
# and a program to run (--run PROGRAM ARGS...).
#
#   scripts/initramfs.sh OUTPUT FLAVOUR [--add HOSTPATH:GUESTPATH]... [--run PROGRAM [ARGS...]]
set -euo pipefail
. "$(dirname "$0")/common.sh"

out=$1 flavour=$2
shift 2
build=$KEVENT_BUILD
rust_out=$KEVENT_ROOT/userspace/target/$RUST_TARGET/release
stage=$(mktemp -d)
# mktemp makes the directory 0700; it becomes the root, which every user
# of the VM (the tests drop to uid 65534) must be able to search.
chmod 755 "$stage"
trap 'rm -rf "$stage"' EXIT

mkdir -p "$stage"/{bin,sbin,dev,proc,sys,tmp,etc,run,tests/c,tests/rust,tests/peers,examples}
cp "$KEVENT_BUSYBOX" "$stage/bin/busybox"
cp "$KEVENT_ROOT/scripts/guest-init.sh" "$stage/init"
cp "$KEVENT_ROOT/scripts/expected-oom.awk" "$stage/expected-oom.awk"
cp "$build/$KPREFIX$flavour/module/kevent.ko" "$stage/kevent.ko"
cp "$build"/selftests/* "$stage/tests/c/" 2>/dev/null || true
for t in "$rust_out/kevent-harness"; do
	[ -x "$t" ] && cp "$t" "$stage/tests/rust/"
done
cp "$build"/examples/* "$stage/examples/" 2>/dev/null || true
# The kevent crate's examples (userspace/kevent/examples/*.rs), run as the
# C ones are: their exit status is their result.
for t in "$KEVENT_ROOT"/userspace/kevent/examples/*.rs; do
	t=$rust_out/examples/$(basename "$t" .rs)
	[ -x "$t" ] && cp "$t" "$stage/examples/"
done
# Other projects' suites, native and on kevent (scripts/peers.sh), and what
# compares their logs (guest-init.sh runs them).
cp -r "$build"/peers/. "$stage/tests/peers/" 2>/dev/null || true
cp "$KEVENT_ROOT/scripts/peers-compare.sh" "$stage/peers-compare.sh"
cp "$KEVENT_ROOT"/examples/*.sh "$stage/examples/" 2>/dev/null || true
printf 'root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n' >"$stage/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$stage/etc/group"
# libevent's DNS tests read these (the VM has no network but loopback).
printf 'nameserver 127.0.0.1\n' >"$stage/etc/resolv.conf"
printf '127.0.0.1 localhost\n::1 localhost\n' >"$stage/etc/hosts"

# What only some boots need (make bench: its programs).
while [ "${1:-}" = --add ]; do
	if [ $# -lt 2 ] || [[ $2 != *:/* ]]; then
		die "--add needs HOSTPATH:/GUESTPATH"
	fi
	src=${2%%:/*} dst=/${2#*:/}
	[ -e "$src" ] || die "--add: no such file or directory: $src"
	mkdir -p "$stage$(dirname "$dst")"
	cp -rT "$src" "$stage$dst"
	shift 2
done

if [ "${1:-}" = --run ]; then
	shift
	prog=$1
	shift
	[ -f "$prog" ] || die "--run: no such program: $prog"
	# A script (#!) runs with the VM's busybox; a binary must be static.
	if [ "$(head -c 2 "$prog")" != '#!' ] && command -v file >/dev/null &&
		! file -L "$prog" 2>/dev/null | grep -q "statically linked"; then
		echo "warning: $prog may not be static; the VM has no shared libraries" >&2
	fi
	# Keep the program's name: argv[0] matters to some (busybox).
	name=$(basename "$prog")
	cp "$prog" "$stage/run/$name"
	chmod +x "$stage/run/$name"
	printf '%s\n' "/run/$name" "$@" >"$stage/run/argv"
fi

chmod +x "$stage/init"
(cd "$stage" && find . | cpio --quiet -o -H newc -R 0:0 | gzip -1) >"$out"
