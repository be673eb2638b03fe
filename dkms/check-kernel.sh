#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
#   check-kernel.sh KDIR [RUSTC]
#
# Whether the kernel whose build tree is KDIR can take kevent: a 6.12 or 7.2
# kernel with Rust support, a build tree with the Rust metadata that
# out-of-tree Rust modules compile against, and the rustc that built it.
# Prints the path of that rustc (RUSTC if given, else the first of `rustc`
# on the PATH and /usr/bin/rustc whose version matches); otherwise says
# what is missing and what to do, and fails.
set -eu

kdir=$1
conf=$kdir/include/config/auto.conf

fail() {
	echo "kevent: $*" >&2
	exit 1
}

[ -f "$conf" ] ||
	fail "$kdir is not a configured kernel build tree (no include/config/auto.conf); install the headers package of your kernel"
release=$(cat "$kdir/include/config/kernel.release")
grep -q '^CONFIG_RUST=y' "$conf" ||
	fail "kernel $release has no Rust support (CONFIG_RUST is not set); kevent needs a kernel built with CONFIG_RUST=y"
case $release in
6.12.* | 7.2.*) ;;
*) fail "kevent is written for Linux 6.12 and 7.2; kernel $release is not supported" ;;
esac
# The crate's metadata and the proc-macro libraries its code expands with
# (7.2 has pin-init's and zerocopy's besides the kernel's own).
meta="libkernel.rmeta libmacros.so"
case $release in
7.2.*) meta="$meta libpin_init_internal.so libzerocopy_derive.so" ;;
esac
for f in $meta; do
	[ -f "$kdir/rust/$f" ] ||
		fail "the build tree of kernel $release has no Rust metadata (rust/$f); distribution headers packages often leave it out: copy rust/*.rmeta and rust/*.so from the kernel's own build into $kdir/rust"
done

# auto.conf writes strings without quotes; .config with them.
want=$(sed -n 's/^CONFIG_RUSTC_VERSION_TEXT="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$conf")
[ -n "$want" ] || fail "kernel $release does not say which rustc built it (no CONFIG_RUSTC_VERSION_TEXT)"
if [ $# -ge 2 ] && [ -n "$2" ]; then
	candidates=$2
else
	candidates="$(command -v rustc || true) /usr/bin/rustc"
fi
for rustc in $candidates; do
	if [ -x "$rustc" ] && [ "$("$rustc" --version 2>/dev/null)" = "$want" ]; then
		echo "$rustc"
		exit 0
	fi
done
found=""
for rustc in $candidates; do
	[ -x "$rustc" ] && found="$found $rustc ($("$rustc" --version 2>/dev/null))"
done
fail "kernel $release was built by '$want', and modules must be built by the same rustc; found:${found:- no rustc}. Install that rustc, or name it: make RUSTC=<path> (DKMS: add RUSTC=<path> to MAKE in dkms.conf)"
