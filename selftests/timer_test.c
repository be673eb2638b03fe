// SPDX-License-Identifier: GPL-2.0
/*
 * KEVENT_TIMER: never early against CLOCK_MONOTONIC in every unit,
 * periodic expiration counts, a first expiry separate from the period,
 * REMOVE and MODIFY of a timer about to fire, closing a queue with a
 * thousand armed timers, and no timer interrupt lost on either CPU.
 * Model: tools/testing/selftests/timers/.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/timerfd.h>

#include "kevent_test.h"
#include "kselftest_harness.h"
#include "queue_fixture.h"

struct unit_case {
	__u32 unit;
	int64_t ns;	/* nanoseconds per unit */
	__u32 amount;
};

static const struct unit_case units[] = {
	{ KEVENT_TIMER_UNIT_MS, NSEC_PER_MSEC, 1 },
	{ KEVENT_TIMER_UNIT_MS, NSEC_PER_MSEC, 7 },
	{ KEVENT_TIMER_UNIT_US, 1000, 1 },
	{ KEVENT_TIMER_UNIT_US, 1000, 250 },
	{ KEVENT_TIMER_UNIT_US, 1000, 3333 },
	{ KEVENT_TIMER_UNIT_NS, 1, 1 },
	{ KEVENT_TIMER_UNIT_NS, 1, 50000 },
	{ KEVENT_TIMER_UNIT_NS, 1, 2500000 },
};

TEST_F(q, oneshot_never_fires_early_in_any_unit)
{
	struct ukevent uk, ev[2];
	unsigned int i, round;

	for (round = 0; round < 20; round++) {
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			int64_t t0 = now_ns(), t1;

			uk = uk_make(KEVENT_TIMER, units[i].amount, 0, units[i].unit,
				     KEVENT_REQ_ONESHOT, i);
			ASSERT_EQ(0, ctl1(self->fd, KEVENT_CTL_ADD, &uk));
			ASSERT_EQ(1, get_ns(self->fd, 1, 2, -1, ev));
			t1 = now_ns();
			EXPECT_GE(t1 - t0, units[i].amount * units[i].ns)
				TH_LOG("unit %#x amount %u fired after %lld ns", units[i].unit,
				       units[i].amount, (long long)(t1 - t0));
			EXPECT_EQ(1, ev[0].ret_data[0]);
			EXPECT_EQ(i, ev[0].ptr);
		}
	}
}

/*
 * Over a window, a periodic timer delivers exactly the expirations that
 * fell due: never more than the elapsed periods (never early), never fewer
 * than the periods elapsed before the last collection began.
 */
static void check_periodic(struct __test_metadata *_metadata, int fd, __u32 amount, __u32 unit,
			   int64_t unit_ns, int64_t window_ns, int sleep_us)
{
	int64_t period = amount * unit_ns, t_add_start, t_add_end, t_before = 0, t_end;
	struct ukevent uk = uk_make(KEVENT_TIMER, amount, 0, unit, 0, 1), ev[2];
	long long sum = 0;

	t_add_start = now_ns();
	ASSERT_EQ(0, ctl1(fd, KEVENT_CTL_ADD, &uk));
	t_add_end = now_ns();
	while (now_ns() - t_add_start < window_ns) {
		if (sleep_us)
			usleep(sleep_us);
		t_before = now_ns();
		ASSERT_EQ(1, get_ns(fd, 1, 2, -1, ev));
		ASSERT_GE(ev[0].ret_data[0], 1);
		sum += ev[0].ret_data[0];
	}
	t_end = now_ns();
	EXPECT_LE(sum, (t_end - t_add_start) / period);
	EXPECT_GE(sum, (t_before - t_add_end) / period - 1);
	TH_LOG("period %lld ns: %lld expirations in %lld ns", (long long)period, sum,
	       (long long)(t_end - t_add_start));
	ASSERT_EQ(0, ctl1(fd, KEVENT_CTL_REMOVE, &uk));
}

TEST_F(q, periodic_counts_every_expiration_collected_often)
{
	check_periodic(_metadata, self->fd, 5, KEVENT_TIMER_UNIT_MS, NSEC_PER_MSEC,
		       300 * NSEC_PER_MSEC, 0);
}

TEST_F(q, periodic_counts_missed_expirations_of_a_slow_reader)
{
	check_periodic(_metadata, self->fd, 2, KEVENT_TIMER_UNIT_MS, NSEC_PER_MSEC,
		       300 * NSEC_PER_MSEC, 40000);
	check_periodic(_metadata, self->fd, 100, KEVENT_TIMER_UNIT_US, 1000,
		       200 * NSEC_PER_MSEC, 25000);
}

/* A 1 ns period must neither storm the CPU nor lose count. */
TEST_F(q, tiny_period_counts_without_an_interrupt_storm)
{
	check_periodic(_metadata, self->fd, 1, KEVENT_TIMER_UNIT_NS, 1, 100 * NSEC_PER_MSEC, 10000);
}

TEST_F(q, first_expiry_is_separate_from_the_period)
{
	/* First after 10 ms, then every 2 s. */
	struct ukevent uk = uk_make(KEVENT_TIMER, 2000, 10, 0, 0, 1), ev[2];
	int64_t t0 = now_ns();

	ASSERT_EQ(0, ctl1(self->fd, KEVENT_CTL_ADD, &uk));
	/* Without the first expiry nothing would come within 1.5 s (the
	 * slack is for a slow VM, not a bound on lateness). */
	ASSERT_EQ(1, get_ns(self->fd, 1, 2, 1500 * NSEC_PER_MSEC, ev));
	EXPECT_GE(now_ns() - t0, 10 * NSEC_PER_MSEC);
	ASSERT_EQ(1, get_ns(self->fd, 1, 2, -1, ev));
	EXPECT_GE(now_ns() - t0, 2010 * NSEC_PER_MSEC);
	/* The same in nanoseconds, first expiry later than the period. */
	uk = uk_make(KEVENT_TIMER, 1000000, 40000000, KEVENT_TIMER_UNIT_NS, KEVENT_REQ_ONESHOT, 2);
	t0 = now_ns();
	ASSERT_EQ(0, ctl1(self->fd, KEVENT_CTL_ADD, &uk));
	do {
		ASSERT_EQ(1, get_ns(self->fd, 1, 1, -1, ev));
	} while (ev[0].ptr != 2);
	EXPECT_GE(now_ns() - t0, 40 * NSEC_PER_MSEC);
}

TEST_F(q, remove_of_a_timer_about_to_fire_wins)
{
	struct ukevent uk, ev[2];
	int i;

	for (i = 0; i < 200; i++) {
		int64_t t0 = now_ns();

		uk = uk_make(KEVENT_TIMER, 1000, 0, KEVENT_TIMER_UNIT_US, 0, i);
		ASSERT_EQ(0, ctl1(self->fd, KEVENT_CTL_ADD, &uk));
		while (now_ns() - t0 < (700 + (i % 10) * 60) * 1000)
			;	/* close to the expiry, sometimes after it */
		ASSERT_EQ(0, ctl1(self->fd, KEVENT_CTL_REMOVE, &uk));
	}
	usleep(5000);
	/* Whatever had fired went with its request. */
	EXPECT_EQ(0, get_ns(self->fd, 0, 2, 0, ev));
}

TEST_F(q, modify_of_a_timer_about_to_fire_restarts_it)
{
	const int64_t period = 2 * NSEC_PER_MSEC;
	struct ukevent uk, ev[2];
	int i;

	uk = uk_make(KEVENT_TIMER, 2000, 0, KEVENT_TIMER_UNIT_US, 0, 1);
	ASSERT_EQ(0, ctl1(self->fd, KEVENT_CTL_ADD, &uk));
	for (i = 0; i < 100; i++) {
		int64_t t0 = now_ns(), t_mod, t_got;

		/* Before, around or after the next expiry. */
		while (now_ns() - t0 < (i % 30) * 100 * 1000)
			;
		uk.req_flags = i % 3 == 2 ? KEVENT_REQ_ONESHOT : 0;
		t_mod = now_ns();
		ASSERT_EQ(0, ctl1(self->fd, KEVENT_CTL_MODIFY, &uk)) TH_LOG("round %d", i);
		/* Nothing from before the MODIFY: it restarted the schedule. */
		ASSERT_EQ(1, get_ns(self->fd, 1, 2, -1, ev));
		t_got = now_ns();
		EXPECT_GE(t_got - t_mod, period) TH_LOG("round %d", i);
		EXPECT_GE(ev[0].ret_data[0], 1);
		EXPECT_LE(ev[0].ret_data[0], (t_got - t_mod) / period);
		if (uk.req_flags & KEVENT_REQ_ONESHOT) {
			/* Delivered and gone: add it back for the next round. */
			uk.req_flags = 0;
			ASSERT_EQ(0, ctl1(self->fd, KEVENT_CTL_ADD, &uk));
		}
	}
}

TEST_F(q, closing_a_queue_with_a_thousand_armed_timers)
{
	struct ukevent uk[1000];
	int round, i;

	for (round = 0; round < 5; round++) {
		int fd = open_queue();

		ASSERT_GE(fd, 0);
		for (i = 0; i < 1000; i++)
			uk[i] = uk_make(KEVENT_TIMER, 200 + (i * 37) % 3000, 0, KEVENT_TIMER_UNIT_US,
					i % 2 ? KEVENT_REQ_ONESHOT : 0, i);
		ASSERT_EQ(1000, kevent_ctl(fd, KEVENT_CTL_ADD, 1000, uk));
		for (i = 0; i < 1000; i++)
			ASSERT_EQ(KEVENT_RET_DONE, uk[i].ret_flags);
		usleep(round * 1000);	/* some fired and queued, some armed */
		ASSERT_EQ(0, close(fd));
	}
	/* The device still works. */
	uk[0] = uk_timer_ms(1, KEVENT_REQ_ONESHOT);
	ASSERT_EQ(0, ctl1(self->fd, KEVENT_CTL_ADD, &uk[0]));
	ASSERT_EQ(1, get_ns(self->fd, 1, 1, -1, &uk[1]));
}

/*
 * Short one-shot sleeps of every kind a timer interrupt ends: nanosleep,
 * timerfd and a kevent timer, on a thread pinned to each CPU. Under
 * emulation a local APIC once lost a one-shot event now and then (the
 * VM's clocks: qemu-test.sh); a lost one leaves its sleeper asleep, and
 * the test ends at its timeout. Each thread checks that every sleep
 * ended, and never early.
 */
#define SLEEPS 2000
#define SLEEP_NS 50000

struct sleeper {
	int cpu, failures;
};

static int sleep_kevent(int kq, __u32 n)
{
	struct ukevent uk = uk_make(KEVENT_TIMER, SLEEP_NS, 0, KEVENT_TIMER_UNIT_NS,
				    KEVENT_REQ_ONESHOT, n), ev;

	if (ctl1(kq, KEVENT_CTL_ADD, &uk))
		return -1;
	return get_ns(kq, 1, 1, -1, &ev) == 1 && ev.ptr == n ? 0 : -1;
}

static int sleep_timerfd(int tfd)
{
	struct itimerspec its = { .it_value = { 0, SLEEP_NS } };
	uint64_t n;

	if (timerfd_settime(tfd, 0, &its, NULL))
		return -1;
	return read(tfd, &n, sizeof(n)) == sizeof(n) && n == 1 ? 0 : -1;
}

static void *sleeper_main(void *arg)
{
	struct sleeper *s = arg;
	struct timespec nap = { 0, SLEEP_NS };
	int kq = open_queue(), tfd = timerfd_create(CLOCK_MONOTONIC, 0), i, err;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(s->cpu, &set);
	if (kq < 0 || tfd < 0 || sched_setaffinity(0, sizeof(set), &set)) {
		s->failures++;
		return NULL;
	}
	for (i = 0; i < SLEEPS; i++) {
		int64_t t0 = now_ns();

		switch (i % 3) {
		case 0:
			err = nanosleep(&nap, NULL);
			break;
		case 1:
			err = sleep_timerfd(tfd);
			break;
		default:
			err = sleep_kevent(kq, i);
			break;
		}
		if (err || now_ns() - t0 < SLEEP_NS)
			s->failures++;
	}
	close(kq);
	close(tfd);
	return NULL;
}

TEST_F_TIMEOUT(q, no_timer_interrupt_is_lost_on_any_cpu, 120)
{
	struct sleeper s[2] = { { .cpu = 0 }, { .cpu = 1 } };
	pthread_t t[2];
	int i, n = sysconf(_SC_NPROCESSORS_ONLN) > 1 ? 2 : 1;

	for (i = 0; i < n; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, sleeper_main, &s[i]));
	for (i = 0; i < n; i++) {
		pthread_join(t[i], NULL);
		EXPECT_EQ(0, s[i].failures) TH_LOG("CPU %d: %d sleeps failed or ended early",
						    s[i].cpu, s[i].failures);
	}
}

TEST_HARNESS_MAIN
