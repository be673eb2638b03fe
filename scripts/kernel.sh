#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Builds (or finds in the cache) a Rust-enabled kernel of one flavour, of
# version $KEVENT_KERNEL (6.12 unless set) for $KEVENT_ARCH (x86_64 unless
# set), and prints its build directory.
#
#   [KEVENT_ARCH=arm64] [KEVENT_KERNEL=7.2] scripts/kernel.sh debug|release
#
# The tree is tinyconfig plus kernel/base.config, kernel/ARCH.config and
# kernel/FLAVOUR.config, built out of the source tree under
# $KEVENT_CACHE/kernel/, keyed by the source version, the fragments and the
# toolchain (see common.sh).
set -euo pipefail
. "$(dirname "$0")/common.sh"

flavour=${1:-}
case $flavour in
debug | release) ;;
*) die "usage: $0 debug|release" ;;
esac

# The source's version is part of the cache key: without the package there
# is no key to look up.
[ -n "$(linux_source_version)" ] ||
	die "$LINUX_SOURCE_PKG is missing: run 'sudo KEVENT_KERNEL=$KEVENT_KERNEL scripts/deps.sh' once"
out=$(kernel_build_dir "$flavour")

if [ -f "$out/.kevent-built" ]; then
	echo "$out"
	exit 0
fi

# One build per flavour at a time: a second caller waits, then finds it built.
# (6.12's lock keeps the name that older checkouts' scripts take.)
mkdir -p "$KEVENT_CACHE/kernel"
lock=$KEVENT_CACHE/kernel/.lock-$KEVENT_ARCH-$flavour
[ "$KEVENT_KERNEL" = 6.12 ] || lock=$KEVENT_CACHE/kernel/.lock-$KEVENT_KERNEL-$KEVENT_ARCH-$flavour
exec 9>"$lock"
if ! flock -n 9; then
	log "waiting for another build of the $flavour kernel to finish"
	flock 9
fi
if [ -f "$out/.kevent-built" ]; then
	echo "$out"
	exit 0
fi

# The source tree is shared by both flavours (they build with O=).
src=$(linux_source_tree)

rm -rf "$out"
mkdir -p "$out"
kmake() { make -C "$src" O="$out" "${KMAKE_VARS[@]}" "$@"; }

log "configuring the $KEVENT_KERNEL $KEVENT_ARCH $flavour kernel in $out"
kmake -s tinyconfig >/dev/null
# shellcheck disable=SC2046 # one path per fragment
"$src/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" \
	$(kernel_fragments "$flavour") >/dev/null
kmake -s olddefconfig >/dev/null

if ! kmake -s rustavailable >"$out/rustavailable.log" 2>&1; then
	cat "$out/rustavailable.log" >&2
	die "the kernel says Rust is not available: is scripts/deps.sh complete?"
fi

# Every option a fragment asks for must have survived olddefconfig: a
# dependency that silently turned one off would leave the kernel without
# the checker the tests rely on. What a later fragment says of an option
# overrides what an earlier one does, as merge_config.sh merges them (a
# version's fragment thus drops an option that version no longer has).
declare -A want=()
opts=()
for frag in $(kernel_fragments "$flavour"); do
	while IFS= read -r line; do
		case $line in
		CONFIG_*=*) opt=${line%%=*} ;;
		"# CONFIG_"*" is not set")
			opt=${line#\# }
			opt=${opt%% *}
			;;
		*) continue ;;
		esac
		[ -n "${want[$opt]+set}" ] || opts+=("$opt")
		want[$opt]=$line
	done <"$frag"
done
bad=0
for opt in "${opts[@]}"; do
	line=${want[$opt]}
	case $line in
	CONFIG_*) grep -qxF "$line" "$out/.config" || { echo "  missing: $line" >&2; bad=1; } ;;
	*) ! grep -q "^$opt=" "$out/.config" || { echo "  still set: $opt" >&2; bad=1; } ;;
	esac
done
[ $bad = 0 ] || die "kernel config for $flavour lacks options its fragment asks for (see above)"

# The build takes minutes: report how many objects are done every 20 s.
log "building the $KEVENT_KERNEL $KEVENT_ARCH $flavour kernel with $(nproc_build) jobs (10 to 15 minutes on 2 cores)"
start=$SECONDS
kmake -j"$(nproc_build)" "$(basename "$KIMAGE")" modules >"$out/build.log" 2>&1 &
pid=$!
while kill -0 $pid 2>/dev/null; do
	sleep 20
	kill -0 $pid 2>/dev/null || break
	n=$(grep -cE '^  (CC|RUSTC|AS|LD)' "$out/build.log" || true)
	printf '    %s kernel: %d objects built, %d s\n' "$flavour" "$n" $((SECONDS - start)) >&2
done
if ! wait $pid; then
	tail -n 40 "$out/build.log" >&2
	die "building the $flavour kernel failed; the full log is $out/build.log"
fi
log "the $flavour kernel is built in $((SECONDS - start)) s"
touch "$out/.kevent-built"
echo "$out"
