// SPDX-License-Identifier: GPL-2.0
/*
 * Linked into both builds of the kernel's epoll selftest (scripts/peers.sh)
 * with -Wl,--wrap=alarm: stretches kselftest_harness.h's per-test limit,
 * which it sets with alarm(t->timeout) and clears with alarm(0).
 *
 * Upstream's limit is a constant, 30 s per test, meant for hardware. In
 * the VM (the debug kernel under emulation) a few of its busy loops take
 * about that long natively (epoll59-61: 100,000 round trips each), so they
 * fail or pass by a second either way, and a test that fails natively
 * cannot be compared. Both builds get the same factor, so the comparison
 * stays fair; the time each took is in the suite's log.
 */
#include <unistd.h>

#define KSFT_TIMEOUT_SCALE 4

unsigned int __real_alarm(unsigned int seconds);

unsigned int __wrap_alarm(unsigned int seconds)
{
	return __real_alarm(seconds * KSFT_TIMEOUT_SCALE) / KSFT_TIMEOUT_SCALE;
}
