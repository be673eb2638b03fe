#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# In the VM, for scripts/dkms-check.sh: README's "Install on your machine"
# from `modprobe kevent` on, with the module DKMS built and installed for
# this kernel (in /lib/modules/<release>/updates/dkms; nothing else loaded
# it). DKMS runs depmod after installing; it was staged on the host
# without, so depmod runs here first.

fail() {
	echo "dkms-check: $*"
	exit 1
}

release=$(uname -r)
[ -f "/lib/modules/$release/updates/dkms/kevent.ko" ] ||
	fail "no module installed by DKMS for $release"
grep -q '^kevent ' /proc/modules && fail "kevent is loaded already"
depmod || fail "depmod failed"
modprobe kevent || fail "modprobe kevent failed"
[ -c /dev/kevent ] || fail "modprobe kevent made no /dev/kevent"
mode=$(stat -c %a /dev/kevent)
[ "$mode" = 666 ] || fail "/dev/kevent has mode $mode, not the documented 666"
modinfo kevent >/tmp/modinfo || fail "modinfo kevent failed"
cat /tmp/modinfo
grep -q "^filename:.*/updates/dkms/kevent.ko" /tmp/modinfo ||
	fail "modinfo does not name the module DKMS installed"
for parm in "max_requests:Most requests one queue may hold" \
	"max_user_requests:Most requests the queues of one user may hold" \
	"sweep_batch:Watched files one run of the closed-file sweep visits"; do
	grep -q "^parm: *$parm" /tmp/modinfo || fail "modinfo lacks the parameter ${parm%%:*} with its description"
done
# It works: two of the suite's programs (they drop to an unprivileged user).
for t in abi_test ctl_test; do
	/tests/c/$t >/tmp/$t.log 2>&1 || { cat /tmp/$t.log; fail "$t failed on the DKMS-built module"; }
	tail -1 /tmp/$t.log
done
rmmod kevent || fail "rmmod kevent failed"
echo "dkms-check: the module DKMS built loads with modprobe, shows its parameters and passes abi_test and ctl_test"
