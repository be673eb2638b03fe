#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Builds the web server benchmark's outside programs for the VM, statically,
# and copies them to build/bench/web/, whose path it prints on stdout:
#
#   lighttpd  1.4.69 from Debian's source package, with our kevent fdevent
#             backend (patches/lighttpd/*.patch)
#   wrk       4.1.0 from Debian's source package (Debian's own patch, which
#             builds it against the system's LuaJIT, then patches/wrk/*.patch),
#             linked with Debian's static LuaJIT and OpenSSL
#
#   scripts/web.sh
#
# bench/web/idle_conns.c, the third program of the benchmark, is ours and
# built by the Makefile. As scripts/libevent.sh does: the source packages
# are downloaded once into $KEVENT_CACHE/src/NAME (adding a deb-src entry
# first if apt knows no source: needs root once); each tree is the upstream
# .orig tarball plus patches, not `dpkg-source -x` (which touches timestamps
# so that the build wants autotools, which are not installed), built under
# $KEVENT_CACHE/NAME/, keyed by the tarballs, the patches, this script, the
# kevent headers and the compiler.
set -euo pipefail
. "$(dirname "$0")/common.sh"

LIGHTTPD_VERSION=1.4.69
WRK_VERSION=4.1.0
out=$KEVENT_ROOT/build/bench/web

# Prints a cache key over the files given, this script, the kevent headers
# and the compiler.
cache_key() {
	{
		sha256sum "$@" | cut -d' ' -f1
		cat "$0" "$KEVENT_ROOT/uapi/linux/kevent.h" "$KEVENT_ROOT/include/kevent.h"
		gcc --version | head -n 1
	} | sha256sum | cut -c1-16
}

# Takes the build lock of package $1 on fd 9 (another make may be building
# it), which the next call or the script's exit releases.
lock_cache() {
	mkdir -p "$KEVENT_CACHE/$1"
	exec 9>"$KEVENT_CACHE/$1/.lock"
	if ! flock -n 9; then
		log "waiting for another $1 build to finish"
		flock 9
	fi
}

# Applies patch files $2... to tree $1, or dies naming the one that fails.
apply_patches() {
	local tree=$1 p
	shift
	for p; do
		patch -d "$tree" -p1 --batch --forward --quiet <"$p" ||
			die "$(basename "$p") does not apply in $tree"
	done
}

# Removes the trees of package $1 other than $2: older patches or headers.
prune_trees() {
	local old
	for old in "$KEVENT_CACHE/$1"/*/; do
		[ "${old%/}" = "$2" ] || rm -rf "${old%/}"
	done
}

# Runs a build step ($2...) in tree $1, logging to $1/build.log; on failure
# shows the log's end and dies.
build_step() {
	local tree=$1
	shift
	if ! (cd "$tree" && "$@") >>"$tree/build.log" 2>&1; then
		tail -n 30 "$tree/build.log" >&2
		die "building in $tree failed ($*); the full log is $tree/build.log"
	fi
}

build_lighttpd() {
	local orig=lighttpd_$LIGHTTPD_VERSION.orig.tar.xz patches key tree start
	patches=("$KEVENT_ROOT"/patches/lighttpd/*.patch)
	[ -f "${patches[0]}" ] || die "no patches in $KEVENT_ROOT/patches/lighttpd"
	fetch_source lighttpd "$orig"
	key=$(cache_key "$KEVENT_CACHE/src/lighttpd/$orig" "${patches[@]}")
	tree=$KEVENT_CACHE/lighttpd/$LIGHTTPD_VERSION-$key
	lock_cache lighttpd
	if [ ! -f "$tree/.kevent-built" ]; then
		log "unpacking $orig and applying ${#patches[@]} patch(es)"
		rm -rf "$tree" "$tree.tmp"
		mkdir -p "$tree.tmp"
		tar --no-same-owner -xJf "$KEVENT_CACHE/src/lighttpd/$orig" -C "$tree.tmp"
		mv "$tree.tmp/lighttpd-$LIGHTTPD_VERSION" "$tree"
		rmdir "$tree.tmp"
		apply_patches "$tree" "${patches[@]}"

		log "building lighttpd $LIGHTTPD_VERSION (static) with the kevent backend in $tree"
		start=$SECONDS
		# LIGHTTPD_STATIC=yes links the modules of src/plugin-static.h
		# (a patch) into the server; nothing optional is needed to serve
		# a static page. The kevent headers come from this tree.
		build_step "$tree" env LIGHTTPD_STATIC=yes ./configure -q --disable-shared --enable-static \
			--without-pcre2 --without-zlib --without-bzip2 \
			"CPPFLAGS=-I$KEVENT_ROOT/uapi -I$KEVENT_ROOT/include"
		build_step "$tree" make -C src -j"$(nproc_build)" LDFLAGS=-all-static
		# The backend must be in: without it the benchmark would compare
		# epoll with an error.
		"$tree/src/lighttpd" -V | grep -q '+ kevent' ||
			die "lighttpd was built without the kevent backend (lighttpd -V lists no '+ kevent')"
		log "lighttpd built in $((SECONDS - start)) s"
		touch "$tree/.kevent-built"
		prune_trees lighttpd "$tree"
	fi
	if [ ! -f "$out/lighttpd" ] || [ "$tree/src/lighttpd" -nt "$out/lighttpd" ]; then
		strip -o "$out/lighttpd" "$tree/src/lighttpd"
	fi
}

build_wrk() {
	local orig=wrk_$WRK_VERSION.orig.tar.gz debian debs patches key tree start debver
	patches=("$KEVENT_ROOT"/patches/wrk/*.patch)
	[ -f "${patches[0]}" ] || die "no patches in $KEVENT_ROOT/patches/wrk"
	fetch_source wrk "$orig"
	# Debian's packaging (its patch), the newest revision downloaded.
	debs=("$KEVENT_CACHE/src/wrk/wrk_$WRK_VERSION"-*.debian.tar.xz)
	[ -f "${debs[0]}" ] || die "no wrk_$WRK_VERSION-*.debian.tar.xz in $KEVENT_CACHE/src/wrk: remove that directory and rerun"
	debian=$(printf '%s\n' "${debs[@]}" | sort -V | tail -n 1)
	debver=${debian##*/wrk_}
	debver=${debver%.debian.tar.xz}
	key=$(cache_key "$KEVENT_CACHE/src/wrk/$orig" "$debian" "${patches[@]}")
	tree=$KEVENT_CACHE/wrk/$debver-$key
	lock_cache wrk
	if [ ! -f "$tree/.kevent-built" ]; then
		log "unpacking $orig, applying Debian's patches ($debver) and ${#patches[@]} of ours"
		rm -rf "$tree" "$tree.tmp"
		mkdir -p "$tree.tmp"
		tar --no-same-owner -xzf "$KEVENT_CACHE/src/wrk/$orig" -C "$tree.tmp"
		mv "$tree.tmp/wrk-$WRK_VERSION" "$tree"
		tar --no-same-owner -xJf "$debian" -C "$tree.tmp"
		# Debian's patch makes the Makefile take LuaJIT from pkg-config
		# and fixes the build against LuaJIT 2.1.
		local series=() p
		mapfile -t series < <(grep -v '^#' "$tree.tmp/debian/patches/series")
		for p in "${series[@]}"; do
			[ -n "$p" ] && apply_patches "$tree" "$tree.tmp/debian/patches/$p"
		done
		rm -rf "$tree.tmp"
		apply_patches "$tree" "${patches[@]}"

		log "building wrk $debver (static) in $tree"
		start=$SECONDS
		# WITH_LUAJIT and WITH_OPENSSL: the system's libraries, not the
		# bundled ones (Debian's tarball has none). LDFLAGS replaces the
		# Makefile's -Wl,-E, which only served dlsym().
		build_step "$tree" make -j"$(nproc_build)" WITH_LUAJIT=/usr WITH_OPENSSL=/usr \
			"VER=$debver" LDFLAGS=-static
		# A wrk whose Lua module does not load panics before anything
		# else; a working one says it cannot connect (nothing listens on
		# port 1).
		if "$tree/wrk" -c1 -t1 -d1 http://127.0.0.1:1/ 2>&1 | grep -q PANIC; then
			die "the static wrk cannot load its Lua module (see patches/wrk/README.md)"
		fi
		log "wrk built in $((SECONDS - start)) s"
		touch "$tree/.kevent-built"
		prune_trees wrk "$tree"
	fi
	if [ ! -f "$out/wrk" ] || [ "$tree/wrk" -nt "$out/wrk" ]; then
		strip -o "$out/wrk" "$tree/wrk"
	fi
}

mkdir -p "$out"
build_lighttpd
build_wrk
echo "$out"
