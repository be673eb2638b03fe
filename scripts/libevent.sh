#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Builds libevent 2.1.12 from Debian's source package with our kevent
# backend (patches/libevent/*.patch), statically, and copies its test
# programs to build/peers/libevent/, whose path it prints on stdout.
#
#   scripts/libevent.sh
#
# The source package is downloaded once into $KEVENT_CACHE/src/libevent
# (adding a deb-src entry first if apt knows no source: needs root once).
# The tree is the upstream .orig tarball plus our patches, not
# `dpkg-source -x`: that would apply Debian's patches and touch timestamps
# so that the build wants to rerun autotools, which are not installed. It is
# built under $KEVENT_CACHE/libevent/, keyed by the tarball, the patches,
# this script, the kevent headers and the compiler.
set -euo pipefail
. "$(dirname "$0")/common.sh"

UPSTREAM=2.1.12-stable
ORIG=libevent_$UPSTREAM.orig.tar.gz
dl=$KEVENT_CACHE/src/libevent
out=$KEVENT_BUILD/peers/libevent
patches=("$KEVENT_ROOT"/patches/libevent/*.patch)
[ -f "${patches[0]}" ] || die "no patches in $KEVENT_ROOT/patches/libevent"

# The kevent headers come from this tree; -I makes <linux/kevent.h> and
# <kevent.h> visible to the backend.
CONFIGURE_ARGS=(--disable-shared --disable-openssl --disable-samples
	"CPPFLAGS=-I$KEVENT_ROOT/uapi -I$KEVENT_ROOT/include")
# For arm64, by the cross toolchain.
[ -z "$KEVENT_CROSS" ] || CONFIGURE_ARGS+=(--host="${KEVENT_CROSS%-}")
# What test/test.sh runs, and test.sh itself (it finds them next to it).
PROGRAMS=(regress test-changelist test-closed test-dumpevents test-eof
	test-fdleak test-init test-ratelim test-time test-weof)

fetch_source libevent "$ORIG"

key=$({
	sha256sum "$dl/$ORIG" | cut -d' ' -f1
	cat "${patches[@]}" "$0" "$KEVENT_ROOT/uapi/linux/kevent.h" "$KEVENT_ROOT/include/kevent.h"
	"${KEVENT_CROSS}gcc" --version | head -n 1
} | sha256sum | cut -c1-16)
tree=$KEVENT_CACHE/libevent/$KEVENT_ARCH-$UPSTREAM-$key

mkdir -p "$KEVENT_CACHE/libevent"
exec 9>"$KEVENT_CACHE/libevent/.lock"
if ! flock -n 9; then
	log "waiting for another libevent build to finish"
	flock 9
fi

if [ ! -f "$tree/.kevent-built" ]; then
	log "unpacking $ORIG and applying ${#patches[@]} patch(es)"
	rm -rf "$tree" "$tree.tmp"
	mkdir -p "$tree.tmp"
	tar --no-same-owner -xzf "$dl/$ORIG" -C "$tree.tmp"
	mv "$tree.tmp/libevent-$UPSTREAM" "$tree"
	rmdir "$tree.tmp"
	for p in "${patches[@]}"; do
		patch -d "$tree" -p1 --batch --forward --quiet <"$p" ||
			die "$(basename "$p") does not apply to libevent $UPSTREAM"
	done
	# The patches edit Makefile.am and the generated Makefile.in alike;
	# an automake input newer than its output would make the build
	# rerun automake, so it gets back the date of configure.ac, which
	# every generated file is newer than.
	touch -r "$tree/configure.ac" "$tree/Makefile.am"

	log "building libevent $UPSTREAM with the kevent backend in $tree"
	start=$SECONDS
	if ! (cd "$tree" && ./configure -q "${CONFIGURE_ARGS[@]}" &&
		make -j"$(nproc_build)" LDFLAGS=-all-static) >"$tree/build.log" 2>&1; then
		tail -n 30 "$tree/build.log" >&2
		die "building libevent failed; the full log is $tree/build.log"
	fi
	# The backend must be in: without it every run would test epoll twice.
	"${KEVENT_CROSS}nm" "$tree/test/regress" | grep -w keventops >/dev/null ||
		die "test/regress was built without the kevent backend (keventops)"
	log "libevent built in $((SECONDS - start)) s"
	touch "$tree/.kevent-built"
	# Older trees of this architecture (other patches or headers) are not
	# needed any more.
	for old in "$KEVENT_CACHE/libevent/$KEVENT_ARCH-"*/; do
		[ "${old%/}" = "$tree" ] || rm -rf "${old%/}"
	done
fi

# Stripped copies: they go into the VM's initramfs.
mkdir -p "$out"
for p in "${PROGRAMS[@]}"; do
	if [ ! -f "$out/$p" ] || [ "$tree/test/$p" -nt "$out/$p" ]; then
		"${KEVENT_CROSS}strip" -o "$out/$p" "$tree/test/$p"
	fi
done
install -m 755 "$tree/test/test.sh" "$out/test.sh"
echo "$out"
