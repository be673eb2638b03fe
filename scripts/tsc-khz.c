// SPDX-License-Identifier: GPL-2.0
/*
 * tsc-khz: prints the host's TSC frequency in kHz, measured against
 * CLOCK_MONOTONIC_RAW over 0.2 s, or exits with 1 if the TSC cannot be
 * trusted for it (no invariant TSC).
 *
 * Under TCG the guest's TSC runs at the host's rate. qemu-test.sh hands
 * the figure to the guest (tsc_early_khz=), which then skips calibrating
 * the TSC against the emulated PIT or HPET, the step that goes wrong under
 * emulation, and can calibrate the local APIC timer against the TSC.
 */
#include <cpuid.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <x86intrin.h>

static uint64_t ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* A TSC reading and the clock's time at the same moment, within the
 * narrowest of a few tries (a preemption between the reads widens one). */
static void sample(uint64_t *tsc, uint64_t *t)
{
	uint64_t best = UINT64_MAX;

	for (int i = 0; i < 16; i++) {
		uint64_t a = ns(), c = __rdtsc(), b = ns();

		if (b - a < best) {
			best = b - a;
			*tsc = c;
			*t = a + (b - a) / 2;
		}
	}
}

int main(void)
{
	unsigned int eax, ebx, ecx, edx;
	struct timespec nap = { 0, 200000000 };
	uint64_t tsc0, t0, tsc1, t1;

	/* CPUID 0x80000007 EDX bit 8: the TSC ticks at a constant rate. */
	if (!__get_cpuid(0x80000007, &eax, &ebx, &ecx, &edx) || !(edx & (1u << 8)))
		return 1;
	sample(&tsc0, &t0);
	nanosleep(&nap, NULL);
	sample(&tsc1, &t1);
	if (t1 <= t0 || tsc1 <= tsc0)
		return 1;
	printf("%llu\n", (unsigned long long)((tsc1 - tsc0) * 1000000 / (t1 - t0)));
	return 0;
}
