#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Installs everything the build and the VM tests need: Debian packages and
# bindgen-cli. Quick and silent when everything is already there.
set -euo pipefail
. "$(dirname "$0")/common.sh"

PACKAGES=(
	linux-source-6.12	# the kernel we build
	rustc-web rust-web-src	# rustc with the std source the kernel needs
	rust-web-clippy		# clippy-driver matching rustc-web, for CLIPPY=1
	clang lld llvm libclang-dev	# LLVM=1 kernel build, libclang for bindgen
	bc flex bison libelf-dev libssl-dev cpio	# kernel build
	qemu-system-x86 busybox-static	# the VM and its userspace
	gcc libc6-dev make patch	# static C test programs; patching libevent
	dkms kmod	# make check: the module built and installed by DKMS
	liburing-dev gnuplot-nox python3	# make bench: io_uring, plots, the report
	luajit libluajit-5.1-dev pkg-config xz-utils	# make bench: static wrk and lighttpd (scripts/web.sh)
)

# arm64 (KEVENT_ARCH=arm64): the emulator, the cross toolchains for the
# VM's C programs (and their 32-bit ARM builds, for the compat path), and
# the arm64 standard library of rustc-web for its Rust ones (rustup fetches
# no other target here).
ARM64_PACKAGES=(qemu-system-arm gcc-aarch64-linux-gnu libc6-dev-arm64-cross
	gcc-arm-linux-gnueabihf libc6-dev-armhf-cross libstd-rust-web-dev:arm64)
if [ "$KEVENT_ARCH" = arm64 ]; then
	if ! dpkg --print-foreign-architectures | grep -qx arm64; then
		[ "$(id -u)" = 0 ] || die "arm64 packages need root: run 'sudo KEVENT_ARCH=arm64 $0' once"
		log "adding the arm64 architecture to dpkg"
		dpkg --add-architecture arm64
		apt-get update -q >/dev/null
	fi
	PACKAGES+=("${ARM64_PACKAGES[@]}")
fi

# Linux 7.2 (KEVENT_KERNEL=7.2) wants LLVM 17 or later: bookworm's clang-19,
# with its lld, its tools and the libclang bindgen loads (common.sh).
if [ "$KEVENT_KERNEL" = 7.2 ]; then
	PACKAGES+=(clang-19 lld-19 llvm-19 libclang-19-dev)
fi

missing=()
for p in "${PACKAGES[@]}"; do
	case $p in \#*) continue ;; esac
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	log "installing Debian packages: ${missing[*]}"
	[ "$(id -u)" = 0 ] || die "installing packages needs root: run 'sudo $0' once"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ! "$KBINDGEN" --version 2>/dev/null | grep -q "$BINDGEN_VERSION"; then
	log "installing bindgen-cli $BINDGEN_VERSION into $KBINDGEN_ROOT (about 2 minutes)"
	command -v cargo >/dev/null || die "cargo is needed to install bindgen-cli"
	cargo install --quiet bindgen-cli --version "$BINDGEN_VERSION" --locked \
		--root "$KBINDGEN_ROOT"
fi

# A kernel source package that is not in this release (7.2's, from
# unstable) is downloaded once, not installed; deleting the .deb fetches
# unstable's current one (and so a new kernel build: the cache key has
# its version).
if [ -n "$LINUX_SOURCE_DEB" ] && [ ! -f "$LINUX_SOURCE_DEB" ]; then
	log "downloading $LINUX_SOURCE_PKG from Debian unstable into $LINUX_SOURCE_DEB (about 150 MB)"
	fetch_unstable_deb "$LINUX_SOURCE_PKG" "$LINUX_SOURCE_DEB"
fi

# The VM's busybox for arm64: Debian's busybox-static of that architecture,
# unpacked into the cache (installing it would replace the host's).
if [ "$KEVENT_ARCH" = arm64 ] && [ ! -x "$KEVENT_BUSYBOX" ]; then
	log "fetching Debian's busybox-static for arm64 into $(dirname "$(dirname "$KEVENT_BUSYBOX")")"
	tmp=$(mktemp -d)
	# shellcheck disable=SC2046 # the options are words
	(cd "$tmp" && apt-get download -q $(apt_download_opts) busybox-static:arm64 >/dev/null)
	dpkg-deb -x "$tmp"/busybox-static_*_arm64.deb "$tmp/x"
	mkdir -p "$(dirname "$KEVENT_BUSYBOX")"
	cp "$tmp/x/bin/busybox" "$KEVENT_BUSYBOX"
	rm -rf "$tmp"
fi

# The userspace tests are static binaries; the Rust ones need the host
# toolchain (rustup's cargo), which must have the gnu target.
command -v cargo >/dev/null || die "cargo (rustup) is needed for the userspace crate and harness"
