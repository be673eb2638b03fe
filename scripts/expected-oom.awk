# SPDX-License-Identifier: GPL-2.0
# Filters the kernel log before the splat check: drops the reports of the
# memory-cgroup OOM kills a test announced (selftests/memcg_test.c), and
# nothing else. A report outside the announced window, or one that is not
# confined to a memory cgroup, stays in the log (and fails the run).
/kevent-test: expecting a memcg OOM kill/ { expected = 1 }
/kevent-test: no more memcg OOM kills expected/ { expected = 0 }
expected && /invoked oom-killer/ { report = 1 }
report && /oom-kill:constraint=/ {
	report = 0
	if ($0 !~ /constraint=CONSTRAINT_MEMCG/)
		print "BUG: an OOM kill outside the test's memory cgroup: " $0
	next
}
report && /Out of memory and no killable processes/ { report = 0; next }
report { next }
{ print }
