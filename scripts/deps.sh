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
	log "installing bindgen-cli $BINDGEN_VERSION into $KEVENT_TOOLS (about 2 minutes)"
	command -v cargo >/dev/null || die "cargo is needed to install bindgen-cli"
	cargo install --quiet bindgen-cli --version "$BINDGEN_VERSION" --locked \
		--root "$KEVENT_TOOLS"
fi

# The userspace tests are static binaries; the Rust ones need the host
# toolchain (rustup's cargo), which must have the gnu target.
command -v cargo >/dev/null || die "cargo (rustup) is needed for the userspace crate and harness"
