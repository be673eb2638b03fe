#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make dkms-check (part of make check): README's "Install on your machine"
# against our own debug kernel, as a user's machine would run it.
#
# 1. The kernel's headers, installed where a distribution's headers package
#    puts them (/usr/src/linux-headers-<release>, /lib/modules/<release>/build),
#    by the kernel's own scripts/package/install-extmod-build, with .config,
#    and with the Rust metadata that out-of-tree Rust modules compile
#    against, which 6.12's script leaves out.
# 2. `make dkms-source` and `dkms install`, as the README says, for that
#    kernel. All of it goes into a staging root under build/dkms (DKMS's
#    --sourcetree, --dkmstree and --installtree), not into this machine's
#    /usr/src or /lib/modules, and without DKMS's depmod, which would run
#    on this machine's module tree.
# 3. The VM boots that kernel with the staged /lib/modules and nothing
#    loaded, and scripts/dkms-guest.sh goes on from `modprobe kevent`.
set -euo pipefail
. "$(dirname "$0")/common.sh"
cd "$KEVENT_ROOT"

kdir=$(scripts/kernel.sh debug)
release=$(cat "$kdir/include/config/kernel.release")
version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' dkms/dkms.conf)
stage=$KEVENT_ROOT/build/dkms
headers=$stage/usr/src/linux-headers-$release
rm -rf "$stage"

log "dkms: installing the headers of kernel $release into the staging root"
mkdir -p "$headers/rust" "$stage/lib/modules/$release"
(
	cd "$kdir"
	cc=clang${KLLVM#1} # KLLVM is 1 (clang) or -19 (clang-19)
	srctree=$(readlink -f source) SRCARCH=x86 CC=$cc HOSTCC=$cc MAKE=make \
		sh source/scripts/package/install-extmod-build "$headers"
)
cp "$kdir/.config" "$headers/"
# 6.12 has one proc-macro library (libmacros.so), 7.2 three.
cp "$kdir"/rust/*.rmeta "$kdir"/rust/*.so "$headers/rust/"
ln -s "/usr/src/linux-headers-$release" "$stage/lib/modules/$release/build"

log "dkms: make dkms-source, dkms install kevent/$version for $release"
make -s dkms-source DESTDIR="$stage"
dkms=(--sourcetree "$stage/usr/src" --dkmstree "$stage/var/lib/dkms"
	--installtree "$stage/lib/modules" --kernelsourcedir "$headers")
if ! dkms install --no-depmod "kevent/$version" -k "$release" "${dkms[@]}"; then
	cat "$stage/var/lib/dkms/kevent/$version/build/make.log" 2>/dev/null || true
	die "dkms install failed (its make.log is above)"
fi
dkms status "${dkms[@]}" | grep -q "^kevent/$version, $release, .*: installed" ||
	die "dkms status does not show kevent/$version installed for $release"

log "dkms: modprobe, modinfo and two test programs in the VM"
KEVENT_CMDLINE="${KEVENT_CMDLINE:-} kevent_vm.load=no" ./qemu-test.sh --kernel debug --no-build \
	--timeout 600 --add "$stage/lib/modules:/lib/modules" --run scripts/dkms-guest.sh
