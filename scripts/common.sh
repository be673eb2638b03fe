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

# The kernel version built and run: 6.12 (the default), or 7.2, the newest
# Debian carries (`make ... KERNEL=7.2`).
# Each has its own LLVM (kbuild's LLVM=: 1 for the unversioned clang, -19
# for clang-19), libclang for bindgen, and bindgen-cli, since 7.2 wants
# newer ones than bookworm's default clang-14 and 6.12's bindgen 0.69.5;
# 6.12 keeps exactly its old ones, so that its cached kernels stay valid.
KEVENT_KERNEL=${KEVENT_KERNEL:-6.12}
case $KEVENT_KERNEL in
6.12)
	KLLVM=1
	KCLANG=clang
	BINDGEN_VERSION=0.69.5
	KBINDGEN_ROOT=$KEVENT_TOOLS
	export LIBCLANG_PATH=/usr/lib/llvm-14/lib
	;;
7.2)
	# 7.2's scripts/min-tool-version.sh: LLVM 17.0.1, bindgen 0.71.1.
	KLLVM=-19
	KCLANG=clang-19
	BINDGEN_VERSION=0.71.1
	KBINDGEN_ROOT=$KEVENT_TOOLS/bindgen-$BINDGEN_VERSION
	export LIBCLANG_PATH=/usr/lib/llvm-19/lib
	;;
*)
	printf 'error: KEVENT_KERNEL is 6.12 or 7.2, not %s\n' "$KEVENT_KERNEL" >&2
	exit 1
	;;
esac
KBINDGEN=$KBINDGEN_ROOT/bin/bindgen

# The kernel's source: Debian's linux-source-<version> package, which holds
# the upstream tarball with Debian's patches applied. 6.12's is installed
# from the host's release; 7.2 is only in unstable, whose package is
# downloaded (not installed) by scripts/deps.sh into $LINUX_SOURCE_DEB.
LINUX_SOURCE_PKG=linux-source-$KEVENT_KERNEL
LINUX_SOURCE_TARBALL=/usr/src/$LINUX_SOURCE_PKG.tar.xz
LINUX_SOURCE_DEB=
[ "$KEVENT_KERNEL" = 6.12 ] || LINUX_SOURCE_DEB=$KEVENT_CACHE/src/$LINUX_SOURCE_PKG.deb

# What names the kernel version in build and cache directories: nothing for
# 6.12, whose names predate the others.
KPREFIX=
[ "$KEVENT_KERNEL" = 6.12 ] || KPREFIX=$KEVENT_KERNEL-

# The architecture of the kernel, the module and the VM's programs:
# x86_64, or arm64 (cross-built, booted under qemu-system-aarch64).
KEVENT_ARCH=${KEVENT_ARCH:-x86_64}
case $KEVENT_ARCH in
x86_64)
	KARCH_VARS=()
	KIMAGE=arch/x86/boot/bzImage
	KEVENT_BUILD=$KEVENT_ROOT/build
	KEVENT_BUSYBOX=/bin/busybox
	KEVENT_CROSS=
	RUST_TARGET=x86_64-unknown-linux-gnu
	;;
arm64)
	KARCH_VARS=(ARCH=arm64)
	KIMAGE=arch/arm64/boot/Image
	KEVENT_BUILD=$KEVENT_ROOT/build/arm64
	# Debian's busybox-static for arm64, unpacked by scripts/deps.sh.
	KEVENT_BUSYBOX=$KEVENT_CACHE/busybox-arm64/bin/busybox
	# Debian's cross toolchain (gcc-aarch64-linux-gnu) for the VM's programs.
	KEVENT_CROSS=aarch64-linux-gnu-
	RUST_TARGET=aarch64-unknown-linux-gnu
	;;
*)
	printf 'error: KEVENT_ARCH is x86_64 or arm64, not %s\n' "$KEVENT_ARCH" >&2
	exit 1
	;;
esac
if [ "$KEVENT_ARCH" != x86_64 ] && [ "$KEVENT_KERNEL" != 6.12 ]; then
	printf 'error: the %s kernel is built for x86_64 only, not %s\n' "$KEVENT_KERNEL" "$KEVENT_ARCH" >&2
	exit 1
fi

# Both kernels are built with clang: the kernel allows Rust with KASAN only
# then, and the module must be built by the same compiler as its kernel.
# clang cross-compiles as it is; only ARCH changes.
KMAKE_VARS=("LLVM=$KLLVM" "RUSTC=$KRUSTC" "BINDGEN=$KBINDGEN" "${KARCH_VARS[@]}")

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Prints the build directory of a kernel flavour (debug or release) for
# $KEVENT_ARCH and $KEVENT_KERNEL.
kernel_build_dir() {
	local key prefix=
	key=$(kernel_cache_key "$1")
	[ "$KEVENT_ARCH" = x86_64 ] || prefix=$KEVENT_ARCH-
	echo "$KEVENT_CACHE/kernel/$prefix$KPREFIX$1-$key"
}

# The config fragments of a flavour, in the order they are merged: then,
# where a kernel version has them, what changes for that version
# (kernel/VERSION.config) and for its flavour (kernel/VERSION-FLAVOUR.config),
# as when it dropped an option a fragment asks for. 6.12 has none.
kernel_fragments() {
	local k=$KEVENT_ROOT/kernel f
	echo "$k/base.config" "$k/$KEVENT_ARCH.config" "$k/$1.config"
	for f in "$k/$KEVENT_KERNEL.config" "$k/$KEVENT_KERNEL-$1.config"; do
		[ ! -f "$f" ] || echo "$f"
	done
}

# A kernel build is reused while the source package, the config fragments,
# the Rust toolchain, clang and bindgen are unchanged. (For 6.12 these are
# the very lines hashed before 7.2 came: its keys must not move.)
kernel_cache_key() {
	local flavour=$1
	{
		linux_source_version
		# shellcheck disable=SC2046 # one path per fragment
		cat $(kernel_fragments "$flavour")
		"$KRUSTC" --version 2>/dev/null
		"$KCLANG" --version 2>/dev/null | head -n 1
		echo "bindgen $BINDGEN_VERSION"
	} | sha256sum | cut -c1-16
}

# Prints the version of the kernel's source package, and a line of its
# own: the installed package's, or the downloaded one's (nothing if it is
# not there: scripts/kernel.sh checks first).
linux_source_version() {
	if [ -z "$LINUX_SOURCE_DEB" ]; then
		dpkg-query -W -f='${Version}\n' "$LINUX_SOURCE_PKG" 2>/dev/null
	elif [ -f "$LINUX_SOURCE_DEB" ]; then
		dpkg-deb -f "$LINUX_SOURCE_DEB" Version
	fi
}

nproc_build() { echo $(($(nproc) + 1)); }

# Unpacks the kernel's source package under $KEVENT_CACHE/src once per
# package version and prints the tree's path. Both kernel flavours build
# from it (with O=), and scripts/peers.sh takes the kernel's own selftests
# from it. A downloaded package's tarball is streamed out of the .deb, not
# installed.
linux_source_tree() {
	local src=$KEVENT_CACHE/src/$LINUX_SOURCE_PKG srcver
	srcver=$(linux_source_version)
	[ -n "$srcver" ] || die "$LINUX_SOURCE_PKG is missing: run scripts/deps.sh (KEVENT_KERNEL=$KEVENT_KERNEL)"
	mkdir -p "$KEVENT_CACHE/src"
	(
		flock 8
		if [ "$(cat "$src/.kevent-source" 2>/dev/null)" != "$srcver" ]; then
			log "unpacking $LINUX_SOURCE_PKG $srcver"
			rm -rf "$src"
			if [ -z "$LINUX_SOURCE_DEB" ]; then
				tar -xf "$LINUX_SOURCE_TARBALL" -C "$KEVENT_CACHE/src"
			else
				dpkg-deb --fsys-tarfile "$LINUX_SOURCE_DEB" |
					tar -xOf - ".$LINUX_SOURCE_TARBALL" | tar -xJf - -C "$KEVENT_CACHE/src"
			fi
			echo "$srcver" >"$src/.kevent-source"
		fi
	) 8>"$KEVENT_CACHE/src/.lock"
	echo "$src"
}

# Debian source packages (the outside software built for the VM) need a
# deb-src entry. If apt knows no source for $1, writes deb-src twins of the
# configured Debian entries of this release (deb822, one file of ours) and
# runs apt-get update; both need root.
DEB_SRC_LIST=/etc/apt/sources.list.d/kevent-deb-src.sources
ensure_deb_src() {
	local pkg=$1 codename
	apt-cache showsrc "$pkg" 2>/dev/null | grep '^Package:' >/dev/null && return 0
	[ "$(id -u)" = 0 ] || die "apt knows no source of $pkg: run 'sudo $0' once (it adds a deb-src entry and runs apt-get update)"
	if ! grep -qsE '^[[:space:]]*deb-src[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list &&
		! grep -qsiE '^Types:.*deb-src' /etc/apt/sources.list.d/*.sources; then
		codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
		[ -n "$codename" ] || die "no VERSION_CODENAME in /etc/os-release"
		log "adding deb-src entries for the $codename mirror(s) in $DEB_SRC_LIST"
		deb_src_entries "$codename" >"$DEB_SRC_LIST.tmp"
		[ -s "$DEB_SRC_LIST.tmp" ] || { rm -f "$DEB_SRC_LIST.tmp"; die "no 'deb' entry for $codename in /etc/apt/sources.list{,.d}"; }
		mv "$DEB_SRC_LIST.tmp" "$DEB_SRC_LIST"
	fi
	log "apt-get update (for the deb-src entries)"
	apt-get update -q >/dev/null
	apt-cache showsrc "$pkg" 2>/dev/null | grep '^Package:' >/dev/null || die "apt still knows no source package $pkg"
}

# apt-get's options for a download into a directory of ours: as root, apt
# would hand the download to its _apt user, who cannot write there.
apt_download_opts() {
	[ "$(id -u)" != 0 ] || echo "-o APT::Sandbox::User=root"
}

# Downloads Debian's source package $1 into $KEVENT_CACHE/src/$1 unless
# its upstream tarball $2 is there already (adding a deb-src entry first
# if apt knows no source: needs root once).
fetch_source() {
	local pkg=$1 orig=$2 dl=$KEVENT_CACHE/src/$1
	[ -f "$dl/$orig" ] && return 0
	ensure_deb_src "$pkg"
	log "downloading Debian's $pkg source package into $dl"
	mkdir -p "$dl"
	# shellcheck disable=SC2046 # the options are words
	(cd "$dl" && apt-get source -q --download-only $(apt_download_opts) "$pkg" >/dev/null)
	[ -f "$dl/$orig" ] || die "apt-get source $pkg did not fetch $orig (another upstream version?): $(ls "$dl")"
}

# Downloads Debian unstable's binary package $1 (its .deb, not installed)
# to the file $2. apt works here on a state of its own, in a directory that
# is removed after: one sid entry, for the host's Debian mirror and keyring,
# and its index. The host's apt never sees unstable, so nothing can be
# installed or upgraded from there by mistake, and its own apt-get update
# stays as it was. Needs no root (as root apt must not hand the download
# to its _apt user, who cannot enter the cache).
fetch_unstable_deb() {
	local pkg=$1 dest=$2 codename tmp apt
	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	[ -n "$codename" ] || die "no VERSION_CODENAME in /etc/os-release"
	mkdir -p "$(dirname "$dest")"
	tmp=$(mktemp -d "$(dirname "$dest")/.apt-unstable.XXXXXX")
	mkdir -p "$tmp/sources" "$tmp/lists/partial" "$tmp/cache/archives/partial" "$tmp/deb"
	unstable_entry "$codename" "$(dpkg --print-architecture)" >"$tmp/sources/unstable.sources"
	[ -s "$tmp/sources/unstable.sources" ] || { rm -rf "$tmp"; die "no 'deb' entry for $codename in /etc/apt/sources.list{,.d} to take the mirror from"; }
	# shellcheck disable=SC2207 # the options are words
	apt=(-q -o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$tmp/sources"
		-o "Dir::State::Lists=$tmp/lists" -o "Dir::Cache=$tmp/cache" $(apt_download_opts))
	if ! apt-get "${apt[@]}" update >"$tmp/update.log" 2>&1; then
		cat "$tmp/update.log" >&2
		rm -rf "$tmp"
		die "apt-get update of Debian unstable failed"
	fi
	if ! (cd "$tmp/deb" && apt-get "${apt[@]}" download "$pkg" >/dev/null); then
		rm -rf "$tmp"
		die "apt-get download $pkg from Debian unstable failed"
	fi
	mv "$tmp/deb/${pkg}_"*.deb "$dest"
	rm -rf "$tmp"
}

# Prints a deb822 stanza for Debian unstable's main on architecture $2
# (package indices only: no translations, no AppStream data), with the
# mirror and keyring of the host's first enabled deb entry for release $1.
unstable_entry() {
	deb_src_entries "$1" | awk -v rel="$1" -v arch="$2" '
	BEGIN { RS = ""; FS = "\n" }
	{
		uris = signed = ""; found = 0
		for (i = 1; i <= NF; i++) {
			if ($i ~ /^URIs: /) uris = substr($i, 7)
			else if ($i ~ /^Signed-By: /) signed = substr($i, 12)
			else if ($i ~ /^Suites: /) {
				n = split(substr($i, 9), s, " ")
				for (j = 1; j <= n; j++) if (s[j] == rel) found = 1
			}
		}
		if (!found || done++) next
		printf "Types: deb\nURIs: %s\nSuites: sid\nComponents: main\nArchitectures: %s\nTargets: Packages\n", uris, arch
		if (signed != "") printf "Signed-By: %s\n", signed
	}'
}

# Prints a deb822 deb-src stanza for every enabled deb entry (deb822 or
# one-line) whose suites include release $1 or its -updates/-security, read
# from apt's sources (or from the files given after $1).
deb_src_entries() {
	local rel=$1 files=() f
	shift
	[ $# -gt 0 ] || set -- /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources
	for f; do
		[ -f "$f" ] && files+=("$f")
	done
	[ ${#files[@]} -gt 0 ] || return 0
	awk -v rel="$rel" '
	function keep(suites,   n, i, s, out) {
		n = split(suites, s, /[ \t]+/); out = ""
		for (i = 1; i <= n; i++)
			if (s[i] == rel || index(s[i], rel "-") == 1) out = out (out == "" ? "" : " ") s[i]
		return out
	}
	function emit(uris, suites, comps, signed,   k) {
		k = keep(suites)
		if (k == "" || uris == "") return
		printf "%sTypes: deb-src\nURIs: %s\nSuites: %s\nComponents: %s\n", (nout++ ? "\n" : ""), uris, k, comps
		if (signed != "") printf "Signed-By: %s\n", signed
	}
	function flush() {
		if (types ~ /(^|[ \t])deb([ \t]|$)/ && tolower(enabled) != "no") emit(uris, suites, comps, signed)
		types = uris = suites = comps = signed = enabled = ""
	}
	FNR == 1 { flush(); deb822 = FILENAME ~ /\.sources$/ }
	deb822 && /^[ \t]*$/ { flush(); next }
	deb822 && /^[A-Za-z-]+:/ {
		f = tolower($1); v = $0; sub(/^[^:]*:[ \t]*/, "", v)
		if (f == "types:") types = v; else if (f == "uris:") uris = v
		else if (f == "suites:") suites = v; else if (f == "components:") comps = v
		else if (f == "signed-by:") signed = v; else if (f == "enabled:") enabled = v
		next
	}
	!deb822 && $1 == "deb" {
		line = $0; sub(/#.*/, "", line); sub(/^[ \t]+/, "", line); opts = ""
		if (match(line, /\[[^]]*\]/)) { opts = substr(line, RSTART + 1, RLENGTH - 2); line = substr(line, 1, RSTART - 1) substr(line, RSTART + RLENGTH) }
		n = split(line, w, /[ \t]+/); comps = ""
		for (i = 4; i <= n; i++) if (w[i] != "") comps = comps (comps == "" ? "" : " ") w[i]
		signed = ""
		if (match(opts, /signed-by=[^ \t]+/)) signed = substr(opts, RSTART + 10, RLENGTH - 10)
		emit(w[2], w[3], comps, signed)
		comps = signed = ""
	}
	END { flush() }
	' "${files[@]}"
}

# Prints the host's TSC rate in kHz (scripts/tsc-khz.c, built on first
# use), or fails on a host without an invariant x86 TSC.
host_tsc_khz() {
	local bin=$KEVENT_ROOT/build/host/tsc-khz src=$KEVENT_ROOT/scripts/tsc-khz.c
	[ "$(uname -m)" = x86_64 ] || return 1
	if [ ! -x "$bin" ] || [ "$src" -nt "$bin" ]; then
		mkdir -p "$(dirname "$bin")"
		gcc -O2 -Wall -o "$bin" "$src" || return 1
	fi
	"$bin"
}
