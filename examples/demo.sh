#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Run by `make run` inside the VM, with the module loaded.
echo
echo "== /dev/kevent is a misc device; each open is a queue"
ls -l /dev/kevent
echo
echo "== the demo"
/examples/demo
