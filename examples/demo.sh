#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Run by `make run` inside the VM, with the module loaded.
echo
echo "== /dev/kevent is a misc device; each open is a queue"
ls -l /dev/kevent
echo
echo "== a TCP echo server driven only by /dev/kevent, 8 clients at once"
/examples/echo_server 8 40 || exit 1
echo
echo "== timers in three units and a user event in one queue"
/examples/demo
