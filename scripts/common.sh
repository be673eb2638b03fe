# SPDX-License-Identifier: GPL-2.0
# Shared settings for the build and test scripts. Source it, do not run it.
#
# Everything built outside the repo lives under $KEVENT_CACHE, so a clean
# checkout reuses kernels built by an earlier run.

KEVENT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KEVENT_CACHE=${KEVENT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kevent}
KEVENT_TOOLS=${KEVENT_TOOLS:-/opt/kevent-tools}

# The kernel's Rust must be built by Debian's rustc-web, which ships the
# standard library source the kernel needs; rustup's rustc comes first in
# PATH and has none, so every tool is named by its full path.
KRUSTC=/usr/bin/rustc
KCLIPPY_DRIVER=/usr/bin/clippy-driver
KBINDGEN=$KEVENT_TOOLS/bin/bindgen
BINDGEN_VERSION=0.69.5
LINUX_SOURCE_TARBALL=/usr/src/linux-source-6.12.tar.xz
export LIBCLANG_PATH=/usr/lib/llvm-14/lib

# Both kernels are built with clang: 6.12 allows Rust with KASAN only then,
# and the module must be built by the same compiler as its kernel.
KMAKE_VARS=(LLVM=1 "RUSTC=$KRUSTC" "BINDGEN=$KBINDGEN")

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Prints the build directory of a kernel flavour (debug or release).
kernel_build_dir() {
	local key
	key=$(kernel_cache_key "$1")
	echo "$KEVENT_CACHE/kernel/$1-$key"
}

# A kernel build is reused while the source package, the config fragments,
# the Rust toolchain and bindgen are unchanged.
kernel_cache_key() {
	local flavour=$1
	{
		dpkg-query -W -f='${Version}\n' linux-source-6.12 2>/dev/null
		cat "$KEVENT_ROOT/kernel/base.config" "$KEVENT_ROOT/kernel/$flavour.config"
		"$KRUSTC" --version 2>/dev/null
		clang --version 2>/dev/null | head -n 1
		echo "bindgen $BINDGEN_VERSION"
	} | sha256sum | cut -c1-16
}

nproc_build() { echo $(($(nproc) + 1)); }

# Unpacks linux-source-6.12 under $KEVENT_CACHE/src once per package
# version and prints the tree's path. Both kernel flavours build from it
# (with O=), and scripts/peers.sh takes the kernel's own selftests from it.
linux_source_tree() {
	local src=$KEVENT_CACHE/src/linux-source-6.12 srcver
	srcver=$(dpkg-query -W -f='${Version}' linux-source-6.12)
	mkdir -p "$KEVENT_CACHE/src"
	(
		flock 8
		if [ "$(cat "$src/.kevent-source" 2>/dev/null)" != "$srcver" ]; then
			log "unpacking linux-source-6.12 $srcver"
			rm -rf "$src"
			tar -xf "$LINUX_SOURCE_TARBALL" -C "$KEVENT_CACHE/src"
			echo "$srcver" >"$src/.kevent-source"
		fi
	) 8>"$KEVENT_CACHE/src/.lock"
	echo "$src"
}
