// SPDX-License-Identifier: GPL-2.0
/*
 * KEVENT_TIMER on every clock (MONOTONIC, REALTIME, BOOTTIME, TAI), with
 * an absolute first expiry (KEVENT_TIMER_ABSTIME) and cancel-on-set
 * (KEVENT_TIMER_CANCEL_ON_SET, timerfd's TFD_TIMER_CANCEL_ON_SET).
 *
 * Never early on the timer's own clock: when an event is delivered,
 * clock_gettime() of that clock is at least the expiry it reports (first
 * expiry + (n - 1) periods). Counts are exact: never more than the
 * schedule points the clock has passed. An absolute expiry in the past
 * fires at once, counting every period already elapsed; a single absolute
 * expiry fires once and stays registered until MODIFY re-arms it.
 *
 * The tests of the fixture `step` set CLOCK_REALTIME (forward and back) to
 * see cancel-on-set, the counts of realtime timers across a step, and
 * that MONOTONIC and BOOTTIME timers do not see it. They always put the
 * clock back where it would be had it never been set (the saved realtime
 * plus the monotonic time since), in the test, in the parent's teardown,
 * in the next test's setup if a timeout killed both, and at exit.
 *
 * Lower bounds are exact; upper bounds (the VM runs under TCG emulation)
 * are seconds.
 */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/timex.h>
#include <time.h>
#include <unistd.h>

#include "kevent_test.h"
#include "kselftest_harness.h"
#include "queue_fixture.h"

#define HOUR_NS (3600 * NSEC_PER_SEC)
#define WAIT_NS (10 * NSEC_PER_SEC)	/* far longer than any timer here needs */

struct clock_case {
	__u32 bits;
	clockid_t id;
	const char *name;
};

static const struct clock_case clocks[] = {
	{ KEVENT_TIMER_MONOTONIC, CLOCK_MONOTONIC, "MONOTONIC" },
	{ KEVENT_TIMER_REALTIME, CLOCK_REALTIME, "REALTIME" },
	{ KEVENT_TIMER_BOOTTIME, CLOCK_BOOTTIME, "BOOTTIME" },
	{ KEVENT_TIMER_TAI, CLOCK_TAI, "TAI" },
};

#define MONO (&clocks[0])
#define REAL (&clocks[1])
#define BOOT (&clocks[2])
#define TAI (&clocks[3])

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

/* The absolute first expiry of an ABSTIME timer: ret_data, low word first. */
static void set_expiry(struct ukevent *uk, uint64_t ns)
{
	uk->ret_data[0] = (__u32)ns;
	uk->ret_data[1] = (__u32)(ns >> 32);
}

/* A timer on clock `c`, first expiring at `expiry` on it, then every `period` units. */
static struct ukevent uk_abs(const struct clock_case *c, __u32 unit, __u32 period, uint64_t expiry,
			     __u32 req_flags, __u64 cookie)
{
	struct ukevent uk = uk_make(KEVENT_TIMER, period, 0,
				    c->bits | KEVENT_TIMER_ABSTIME | unit, req_flags, cookie);

	set_expiry(&uk, expiry);
	return uk;
}

/* A REALTIME timer at `expiry` that is also told of every setting of the clock. */
static struct ukevent uk_cancel(__u32 period, uint64_t expiry, __u32 req_flags, __u64 cookie)
{
	struct ukevent uk = uk_abs(REAL, 0, period, expiry, req_flags, cookie);

	uk.event |= KEVENT_TIMER_CANCEL_ON_SET;
	return uk;
}

/* ADD of a copy of `uk` (ctl1 writes the result over the entry). */
static int add(int fd, struct ukevent uk)
{
	return ctl1(fd, KEVENT_CTL_ADD, &uk);
}

static int del(int fd, struct ukevent uk)
{
	return ctl1(fd, KEVENT_CTL_REMOVE, &uk);
}

/* The one event of a normal timer delivery: DONE, the request's copy. */
static void check_normal(struct __test_metadata *_metadata, const struct ukevent *ev,
			 const struct ukevent *uk)
{
	EXPECT_EQ(uk->ptr, ev->ptr);
	EXPECT_EQ(KEVENT_TIMER, ev->type);
	EXPECT_EQ(uk->event, ev->event);
	EXPECT_EQ(uk->id.raw[0], ev->id.raw[0]);
	EXPECT_EQ(KEVENT_RET_DONE, ev->ret_flags);
	EXPECT_LE(1, ev->ret_data[0]);
	EXPECT_EQ(0, ev->ret_data[1]);
}

/* ---- relative timers on every clock ----------------------------------- */

struct rel_case {
	__u32 unit;
	int64_t ns;	/* nanoseconds per unit */
	__u32 period, first;
};

static const struct rel_case oneshots[] = {
	{ KEVENT_TIMER_UNIT_MS, NSEC_PER_MSEC, 1, 0 },
	{ KEVENT_TIMER_UNIT_MS, NSEC_PER_MSEC, 7, 0 },
	{ KEVENT_TIMER_UNIT_US, 1000, 250, 0 },
	{ KEVENT_TIMER_UNIT_US, 1000, 3333, 0 },
	{ KEVENT_TIMER_UNIT_NS, 1, 50000, 0 },
	{ KEVENT_TIMER_UNIT_NS, 1, 2500000, 0 },
	{ KEVENT_TIMER_UNIT_MS, NSEC_PER_MSEC, 1000, 15 },	/* the first expiry counts */
};

/* One relative one-shot on clock `c`: not delivered before its first expiry. */
static void check_rel_oneshot(struct __test_metadata *_metadata, int fd,
			      const struct clock_case *c, const struct rel_case *k, __u64 cookie)
{
	int64_t want = (k->first ? k->first : k->period) * k->ns, t0, t1;
	struct ukevent uk = uk_make(KEVENT_TIMER, k->period, k->first, c->bits | k->unit,
				    KEVENT_REQ_ONESHOT, cookie), ev[2];

	t0 = clock_ns(c->id);
	ASSERT_EQ(0, add(fd, uk));
	ASSERT_EQ(1, get_ns(fd, 1, 2, WAIT_NS, ev));
	t1 = clock_ns(c->id);
	EXPECT_GE(t1 - t0, want)
		TH_LOG("%s, unit %#x, %u/%u: fired after %lld ns", c->name, k->unit, k->period,
		       k->first, (long long)(t1 - t0));
	check_normal(_metadata, &ev[0], &uk);
	EXPECT_EQ(1, ev[0].ret_data[0]);
}

TEST_F(q, relative_oneshot_never_early_on_every_clock)
{
	unsigned int c, i, round;

	for (c = 0; c < ARRAY_SIZE(clocks); c++)
		for (round = 0; round < 3; round++)
			for (i = 0; i < ARRAY_SIZE(oneshots); i++)
				check_rel_oneshot(_metadata, self->fd, &clocks[c], &oneshots[i], i);
}

static const struct rel_case periodics[] = {
	{ KEVENT_TIMER_UNIT_MS, NSEC_PER_MSEC, 7, 0 },
	{ KEVENT_TIMER_UNIT_MS, NSEC_PER_MSEC, 5, 20 },
	{ KEVENT_TIMER_UNIT_US, 1000, 3000, 0 },
	{ KEVENT_TIMER_UNIT_NS, 1, 4000000, 9000000 },
};

/*
 * Expiry k of a timer added at t0 (on its clock) is at t0 + first + (k - 1)
 * periods at the earliest: when the k-th expiration in all is delivered,
 * the clock is past it. Every expiration delivered by then fell due: k is
 * at most 1 + (now - t0 - first) / period.
 */
static void check_rel_periodic(struct __test_metadata *_metadata, int fd,
			       const struct clock_case *c, const struct rel_case *k)
{
	int64_t period = k->period * k->ns, first = k->first ? k->first * k->ns : period, t0, t;
	struct ukevent uk = uk_make(KEVENT_TIMER, k->period, k->first, c->bits | k->unit, 0, 1);
	struct ukevent ev[2];
	long long total = 0;

	t0 = clock_ns(c->id);
	ASSERT_EQ(0, add(fd, uk));
	for (int n = 0; n < 6; n++) {
		if (n % 2)
			usleep(12000);	/* let some expirations pile up */
		ASSERT_EQ(1, get_ns(fd, 1, 2, WAIT_NS, ev));
		t = clock_ns(c->id);
		check_normal(_metadata, &ev[0], &uk);
		total += ev[0].ret_data[0];
		EXPECT_GE(t - t0, first + (total - 1) * period)
			TH_LOG("%s, unit %#x, %u/%u: expiration %lld came %lld ns after the ADD",
			       c->name, k->unit, k->period, k->first, total, (long long)(t - t0));
		EXPECT_LE(total, 1 + (t - t0 - first) / period)
			TH_LOG("%s, unit %#x, %u/%u: %lld expirations %lld ns after the ADD",
			       c->name, k->unit, k->period, k->first, total, (long long)(t - t0));
	}
	ASSERT_EQ(0, del(fd, uk));
}

TEST_F(q, relative_periodic_never_early_on_every_clock)
{
	unsigned int c, i;

	for (c = 0; c < ARRAY_SIZE(clocks); c++)
		for (i = 0; i < ARRAY_SIZE(periodics); i++)
			check_rel_periodic(_metadata, self->fd, &clocks[c], &periodics[i]);
}

/* ---- absolute timers on every clock ----------------------------------- */

/*
 * Targets 20..50 ms ahead on the timer's clock, as a single expiry (one
 * request that stays) and as a one-shot (gone after its event), in every
 * unit (the unit is that of the period, none here).
 */
TEST_F(q, absolute_expiry_never_early_on_every_clock)
{
	static const __u32 unit[] = { KEVENT_TIMER_UNIT_MS, KEVENT_TIMER_UNIT_US,
				      KEVENT_TIMER_UNIT_NS };
	struct ukevent uk, ev[2];
	unsigned int c, round;

	for (c = 0; c < ARRAY_SIZE(clocks); c++) {
		for (round = 0; round < 8; round++) {
			int64_t ahead = (20 + (round * 7) % 31) * NSEC_PER_MSEC;
			int64_t target = clock_ns(clocks[c].id) + ahead, t;
			__u32 flags = round % 2 ? KEVENT_REQ_ONESHOT : 0;

			uk = uk_abs(&clocks[c], unit[round % 3], 0, target, flags, 100 + round);
			ASSERT_EQ(0, add(self->fd, uk));
			ASSERT_EQ(1, get_ns(self->fd, 1, 2, WAIT_NS, ev));
			t = clock_ns(clocks[c].id);
			EXPECT_GE(t, target)
				TH_LOG("%s: fired %lld ns before its target", clocks[c].name,
				       (long long)(target - t));
			check_normal(_metadata, &ev[0], &uk);
			EXPECT_EQ(1, ev[0].ret_data[0]);
			EXPECT_EQ(flags ? ENOENT : 0, del(self->fd, uk));
		}
	}
}

/*
 * Periodic from an absolute first expiry `ahead` ns from now: expiry k is
 * at first + (k - 1) periods, never earlier, and no more are counted than
 * the clock has passed.
 */
static void check_abs_periodic(struct __test_metadata *_metadata, int fd,
			       const struct clock_case *c, __u32 unit, __u32 amount,
			       int64_t unit_ns, int64_t ahead, int deliveries)
{
	int64_t period = amount * unit_ns, first = clock_ns(c->id) + ahead, t;
	struct ukevent uk = uk_abs(c, unit, amount, first, 0, 7), ev[2];
	long long total = 0;

	ASSERT_EQ(0, add(fd, uk));
	for (int n = 0; n < deliveries; n++) {
		if (n % 2)
			usleep(15000);
		ASSERT_EQ(1, get_ns(fd, 1, 2, WAIT_NS, ev));
		t = clock_ns(c->id);
		check_normal(_metadata, &ev[0], &uk);
		total += ev[0].ret_data[0];
		EXPECT_GE(t, first + (total - 1) * period)
			TH_LOG("%s, period %lld ns: expiration %lld delivered %lld ns early",
			       c->name, (long long)period, total,
			       (long long)(first + (total - 1) * period - t));
		EXPECT_LE(total, 1 + (t - first) / period)
			TH_LOG("%s, period %lld ns: %lld expirations %lld ns after the first",
			       c->name, (long long)period, total, (long long)(t - first));
	}
	ASSERT_EQ(0, del(fd, uk));
}

TEST_F(q, absolute_periodic_never_early_on_every_clock)
{
	for (unsigned int c = 0; c < ARRAY_SIZE(clocks); c++) {
		check_abs_periodic(_metadata, self->fd, &clocks[c], KEVENT_TIMER_UNIT_MS, 10,
				   NSEC_PER_MSEC, 30 * NSEC_PER_MSEC, 6);
		check_abs_periodic(_metadata, self->fd, &clocks[c], KEVENT_TIMER_UNIT_NS, 4000000,
				   1, 25 * NSEC_PER_MSEC, 6);
	}
}

/* An expiry already past fires at once, once: a second ago, at 1 ns, at 0. */
TEST_F(q, absolute_expiry_in_the_past_fires_at_once)
{
	struct ukevent uk, ev[2];
	unsigned int c, i;

	for (c = 0; c < ARRAY_SIZE(clocks); c++) {
		int64_t now = clock_ns(clocks[c].id);
		int64_t past[] = { now > NSEC_PER_SEC ? now - NSEC_PER_SEC : 0, now, 1, 0 };

		for (i = 0; i < ARRAY_SIZE(past); i++) {
			int64_t t0 = now_ns(), t1;

			uk = uk_abs(&clocks[c], 0, 0, past[i], 0, i);
			ASSERT_EQ(0, add(self->fd, uk));
			/* At once: not the 10 s of the timeout (seconds under TCG). */
			ASSERT_EQ(1, get_ns(self->fd, 1, 2, WAIT_NS, ev))
				TH_LOG("%s, expiry %lld: no event", clocks[c].name,
				       (long long)past[i]);
			t1 = now_ns();
			EXPECT_LT(t1 - t0, 2 * NSEC_PER_SEC)
				TH_LOG("%s: an expiry in the past took %lld ns", clocks[c].name,
				       (long long)(t1 - t0));
			check_normal(_metadata, &ev[0], &uk);
			EXPECT_EQ(1, ev[0].ret_data[0]);
			/* A single expiry: once, and it stays registered. */
			EXPECT_EQ(0, get_ns(self->fd, 1, 2, 100 * NSEC_PER_MSEC, ev));
			EXPECT_EQ(0, del(self->fd, uk));
		}
	}
}

/*
 * A periodic timer whose first expiry is 10 periods ago fires at once and
 * counts every period elapsed, as timerfd does: 1 + (now - first) / period
 * at the moment it is restarted, so at least 11, and no more than the
 * clock allows when the event is in hand. Then it goes on on its schedule.
 */
TEST_F(q, absolute_periodic_in_the_past_counts_the_elapsed_periods)
{
	const int64_t period = 100 * NSEC_PER_MSEC;
	struct ukevent uk, ev[2];

	for (unsigned int c = 0; c < ARRAY_SIZE(clocks); c++) {
		const struct clock_case *k = &clocks[c];
		int64_t t0 = clock_ns(k->id), first = t0 - 10 * period, t;
		long long total;

		uk = uk_abs(k, KEVENT_TIMER_UNIT_MS, 100, first, 0, c);
		ASSERT_EQ(0, add(self->fd, uk));
		ASSERT_EQ(1, get_ns(self->fd, 1, 2, WAIT_NS, ev));
		t = clock_ns(k->id);
		EXPECT_LT(t - t0, 2 * NSEC_PER_SEC) TH_LOG("%s: %lld ns to fire", k->name,
							   (long long)(t - t0));
		check_normal(_metadata, &ev[0], &uk);
		total = ev[0].ret_data[0];
		EXPECT_GE(total, 11) TH_LOG("%s: %lld expirations", k->name, total);
		EXPECT_LE(total, 1 + (t - first) / period)
			TH_LOG("%s: %lld expirations %lld ns after the first", k->name, total,
			       (long long)(t - first));
		/* The next on the same schedule, never early. */
		ASSERT_EQ(1, get_ns(self->fd, 1, 2, WAIT_NS, ev));
		t = clock_ns(k->id);
		check_normal(_metadata, &ev[0], &uk);
		total += ev[0].ret_data[0];
		EXPECT_GE(t, first + (total - 1) * period)
			TH_LOG("%s: expiration %lld %lld ns early", k->name, total,
			       (long long)(first + (total - 1) * period - t));
		EXPECT_LE(total, 1 + (t - first) / period);
		ASSERT_EQ(0, del(self->fd, uk));
	}
}

/*
 * Period 0: a single expiry. Not one-shot: after its event the request is
 * still there (ADD of it is EEXIST, REMOVE succeeds) and never fires
 * again, like an expired timerfd, until MODIFY gives it a new expiry
 * (ret_data is read again). MODIFY before it fired moves the expiry too.
 */
TEST_F(q, single_absolute_expiry_stays_until_modify_rearms_it)
{
	struct ukevent uk, ev[2];
	int64_t target, t;

	for (unsigned int c = 0; c < ARRAY_SIZE(clocks); c++) {
		const struct clock_case *k = &clocks[c];

		target = clock_ns(k->id) + 20 * NSEC_PER_MSEC;
		uk = uk_abs(k, 0, 0, target, 0, 40 + c);
		ASSERT_EQ(0, add(self->fd, uk));
		ASSERT_EQ(1, get_ns(self->fd, 1, 2, WAIT_NS, ev));
		EXPECT_GE(clock_ns(k->id), target);
		check_normal(_metadata, &ev[0], &uk);
		EXPECT_EQ(1, ev[0].ret_data[0]);
		EXPECT_EQ(0, get_ns(self->fd, 1, 2, 300 * NSEC_PER_MSEC, ev)) TH_LOG("%s", k->name);
		EXPECT_EQ(EEXIST, add(self->fd, uk));

		/* Re-armed by MODIFY with a new expiry. */
		target = clock_ns(k->id) + 30 * NSEC_PER_MSEC;
		set_expiry(&uk, target);
		ASSERT_EQ(0, ctl1(self->fd, KEVENT_CTL_MODIFY, &uk));
		ASSERT_EQ(1, get_ns(self->fd, 1, 2, WAIT_NS, ev)) TH_LOG("%s", k->name);
		t = clock_ns(k->id);
		EXPECT_GE(t, target) TH_LOG("%s: %lld ns early", k->name, (long long)(target - t));
		check_normal(_metadata, &ev[0], &uk);
		EXPECT_EQ(1, ev[0].ret_data[0]);
		EXPECT_EQ(0, get_ns(self->fd, 1, 2, 300 * NSEC_PER_MSEC, ev)) TH_LOG("%s", k->name);

		/* An hour away, moved to 25 ms away before it fires. */
		set_expiry(&uk, clock_ns(k->id) + HOUR_NS);
		ASSERT_EQ(0, ctl1(self->fd, KEVENT_CTL_MODIFY, &uk));
		target = clock_ns(k->id) + 25 * NSEC_PER_MSEC;
		set_expiry(&uk, target);
		ASSERT_EQ(0, ctl1(self->fd, KEVENT_CTL_MODIFY, &uk));
		ASSERT_EQ(1, get_ns(self->fd, 1, 2, WAIT_NS, ev)) TH_LOG("%s", k->name);
		EXPECT_GE(clock_ns(k->id), target);
		EXPECT_EQ(1, ev[0].ret_data[0]);

		EXPECT_EQ(0, del(self->fd, uk));
		EXPECT_EQ(ENOENT, del(self->fd, uk));
	}
}

/*
 * A timer's clock is its own from its ADD on: MODIFY to another clock is
 * EINVAL and changes nothing, the timer fires on its clock as before; a
 * MODIFY on the same clock works.
 */
TEST_F(q, modify_keeps_the_clock)
{
	struct ukevent uk, other, ev[2];
	int64_t target;

	for (unsigned int c = 0; c < ARRAY_SIZE(clocks); c++) {
		const struct clock_case *k = &clocks[c], *o = &clocks[(c + 1) % ARRAY_SIZE(clocks)];

		target = clock_ns(k->id) + 30 * NSEC_PER_MSEC;
		uk = uk_abs(k, 0, 0, target, 0, 60 + c);
		ASSERT_EQ(0, add(self->fd, uk));
		other = uk_abs(o, 0, 0, clock_ns(o->id) + 10 * NSEC_PER_MSEC, 0, 60 + c);
		EXPECT_EQ(EINVAL, ctl1(self->fd, KEVENT_CTL_MODIFY, &other)) TH_LOG("%s to %s", k->name, o->name);
		/* Untouched: fires at its own time on its own clock. */
		ASSERT_EQ(1, get_ns(self->fd, 1, 2, WAIT_NS, ev)) TH_LOG("%s", k->name);
		EXPECT_GE(clock_ns(k->id), target);
		check_normal(_metadata, &ev[0], &uk);

		/* The same clock, one-shot now: allowed. */
		uk = uk_abs(k, 0, 0, clock_ns(k->id) + 20 * NSEC_PER_MSEC, KEVENT_REQ_ONESHOT, 60 + c);
		ASSERT_EQ(0, ctl1(self->fd, KEVENT_CTL_MODIFY, &uk)) TH_LOG("%s", k->name);
		ASSERT_EQ(1, get_ns(self->fd, 1, 2, WAIT_NS, ev)) TH_LOG("%s", k->name);
		EXPECT_EQ(ENOENT, del(self->fd, uk));
	}
}

/* The expiry is not part of the identity: (id, type, cookie) is. */
TEST_F(q, absolute_timers_are_named_by_id_and_cookie)
{
	int64_t now = clock_ns(CLOCK_MONOTONIC);
	struct ukevent a = uk_abs(MONO, 0, 0, now + HOUR_NS, 0, 1);
	struct ukevent b = uk_abs(MONO, 0, 0, now + 2 * HOUR_NS, 0, 1);
	struct ukevent c = uk_abs(MONO, 0, 0, now + 2 * HOUR_NS, 0, 2);

	ASSERT_EQ(0, add(self->fd, a));
	EXPECT_EQ(EEXIST, add(self->fd, b));
	EXPECT_EQ(0, add(self->fd, c));
	/* Another clock is another event mask, not another identity. */
	b = uk_abs(REAL, 0, 0, clock_ns(CLOCK_REALTIME) + HOUR_NS, 0, 1);
	EXPECT_EQ(EEXIST, add(self->fd, b));
	EXPECT_EQ(0, del(self->fd, a));
	EXPECT_EQ(0, del(self->fd, c));
}

/*
 * A count too large for 32 bits (a 1 ns period whose first expiry was at
 * 1 ns on the realtime clock, decades ago) is never reported as 0. What
 * it is (saturated, presumably) is not specified: only logged.
 */
TEST_F(q, a_count_beyond_32_bits_is_not_zero)
{
	struct ukevent uk = uk_abs(REAL, KEVENT_TIMER_UNIT_NS, 1, 1, 0, 3), ev[2];

	ASSERT_EQ(0, add(self->fd, uk));
	ASSERT_EQ(1, get_ns(self->fd, 1, 2, WAIT_NS, ev));
	check_normal(_metadata, &ev[0], &uk);
	TH_LOG("%u expirations reported", ev[0].ret_data[0]);
	EXPECT_EQ(0, del(self->fd, uk));
}

/* ---- what is refused, and what is unchanged --------------------------- */

TEST_F(q, refusals)
{
	const __u32 known = KEVENT_TIMER_FIRED | KEVENT_TIMER_UNIT_MASK | KEVENT_TIMER_CLOCK_MASK |
			    KEVENT_TIMER_ABSTIME | KEVENT_TIMER_CANCEL_ON_SET;
	const uint64_t too_far[] = { 1ULL << 63, (1ULL << 63) + 1, UINT64_MAX };
	int64_t real = clock_ns(CLOCK_REALTIME);
	struct ukevent uk, ev[2];
	unsigned int bit, c, i;

	/* Unknown bits (0x1000 the first above CANCEL_ON_SET), relative and absolute. */
	for (bit = 0; bit < 32; bit++) {
		if (known & (1u << bit))
			continue;
		uk = uk_make(KEVENT_TIMER, 10, 0, 1u << bit, 0, 1);
		EXPECT_EQ(EINVAL, add(self->fd, uk)) TH_LOG("bit %#x", 1u << bit);
		uk = uk_abs(REAL, 1u << bit, 10, real + HOUR_NS, 0, 1);
		EXPECT_EQ(EINVAL, add(self->fd, uk)) TH_LOG("ABSTIME and bit %#x", 1u << bit);
	}
	uk = uk_make(KEVENT_TIMER, 10, 0, 0x1000, 0, 1);
	EXPECT_EQ(EINVAL, add(self->fd, uk));
	/* The unit 0x30, absolute too. */
	uk = uk_abs(REAL, KEVENT_TIMER_UNIT_MASK, 10, real + HOUR_NS, 0, 1);
	EXPECT_EQ(EINVAL, add(self->fd, uk));

	/* CANCEL_ON_SET: only with REALTIME and ABSTIME. */
	uk = uk_make(KEVENT_TIMER, 10, 0, KEVENT_TIMER_REALTIME | KEVENT_TIMER_CANCEL_ON_SET, 0, 1);
	EXPECT_EQ(EINVAL, add(self->fd, uk));
	uk = uk_make(KEVENT_TIMER, 10, 0, KEVENT_TIMER_CANCEL_ON_SET, 0, 1);
	EXPECT_EQ(EINVAL, add(self->fd, uk));
	for (c = 0; c < ARRAY_SIZE(clocks); c++) {
		if (&clocks[c] == REAL)
			continue;
		uk = uk_abs(&clocks[c], 0, 0, clock_ns(clocks[c].id) + HOUR_NS, 0, 1);
		uk.event |= KEVENT_TIMER_CANCEL_ON_SET;
		EXPECT_EQ(EINVAL, add(self->fd, uk)) TH_LOG("%s", clocks[c].name);
		uk = uk_make(KEVENT_TIMER, 10, 0, clocks[c].bits | KEVENT_TIMER_CANCEL_ON_SET, 0,
			     1);
		EXPECT_EQ(EINVAL, add(self->fd, uk)) TH_LOG("%s, relative", clocks[c].name);
	}

	for (c = 0; c < ARRAY_SIZE(clocks); c++) {
		int64_t now = clock_ns(clocks[c].id);

		/* ABSTIME: id.raw[1] must be 0. */
		for (i = 0; i < 2; i++) {
			uk = uk_abs(&clocks[c], 0, 10, now + HOUR_NS, 0, 1);
			uk.id.raw[1] = i ? 0xffffffff : 1;
			EXPECT_EQ(EINVAL, add(self->fd, uk)) TH_LOG("%s", clocks[c].name);
		}
		/* An expiry above INT64_MAX. */
		for (i = 0; i < ARRAY_SIZE(too_far); i++) {
			uk = uk_abs(&clocks[c], 0, i, too_far[i], 0, 1);
			EXPECT_EQ(EINVAL, add(self->fd, uk))
				TH_LOG("%s, expiry %#llx", clocks[c].name,
				       (unsigned long long)too_far[i]);
		}
		/* Relative, a period of 0 is still EINVAL, with a first expiry too. */
		uk = uk_make(KEVENT_TIMER, 0, 0, clocks[c].bits, 0, 1);
		EXPECT_EQ(EINVAL, add(self->fd, uk)) TH_LOG("%s", clocks[c].name);
		uk = uk_make(KEVENT_TIMER, 0, 5, clocks[c].bits | KEVENT_TIMER_UNIT_US, 0, 1);
		EXPECT_EQ(EINVAL, add(self->fd, uk)) TH_LOG("%s", clocks[c].name);
	}
	uk = uk_cancel(0, 1ULL << 63, 0, 1);
	EXPECT_EQ(EINVAL, add(self->fd, uk));

	/* Nothing was registered. */
	EXPECT_EQ(0, get_ns(self->fd, 0, 2, 0, ev));
	uk = uk_make(KEVENT_TIMER, 10, 0, 0, 0, 1);
	EXPECT_EQ(ENOENT, del(self->fd, uk));

	/* MODIFY is validated as ADD: refused, and the request stays as it was. */
	uk = uk_cancel(0, real + HOUR_NS, 0, 9);
	ASSERT_EQ(0, add(self->fd, uk));
	set_expiry(&uk, 1ULL << 63);
	EXPECT_EQ(EINVAL, ctl1(self->fd, KEVENT_CTL_MODIFY, &uk));
	uk = uk_abs(MONO, 0, 0, clock_ns(CLOCK_MONOTONIC) + HOUR_NS, 0, 9);
	uk.event |= KEVENT_TIMER_CANCEL_ON_SET;
	EXPECT_EQ(EINVAL, ctl1(self->fd, KEVENT_CTL_MODIFY, &uk));
	uk.event = KEVENT_TIMER_REALTIME | KEVENT_TIMER_CANCEL_ON_SET;	/* no ABSTIME */
	EXPECT_EQ(EINVAL, ctl1(self->fd, KEVENT_CTL_MODIFY, &uk));
	EXPECT_EQ(0, get_ns(self->fd, 1, 2, 100 * NSEC_PER_MSEC, ev));
	EXPECT_EQ(0, del(self->fd, uk));
}

/* The largest expiry, INT64_MAX, is accepted on every clock, and never comes. */
TEST_F(q, expiry_up_to_int64_max_is_accepted)
{
	struct ukevent uk[9], ev[2];
	int n = 0, i;

	for (unsigned int c = 0; c < ARRAY_SIZE(clocks); c++) {
		uk[n++] = uk_abs(&clocks[c], 0, 0, INT64_MAX, 0, 10 + c);
		uk[n++] = uk_abs(&clocks[c], 0, 1000, INT64_MAX, 0, 20 + c);
	}
	uk[n++] = uk_cancel(0, INT64_MAX, 0, 30);
	for (i = 0; i < n; i++) {
		EXPECT_EQ(0, add(self->fd, uk[i])) TH_LOG("entry %d", i);
	}
	EXPECT_EQ(0, get_ns(self->fd, 1, 2, 200 * NSEC_PER_MSEC, ev));
	for (i = 0; i < n; i++) {
		EXPECT_EQ(0, del(self->fd, uk[i])) TH_LOG("entry %d", i);
	}
}

/*
 * take12's encodings mean what they meant: 0 and FIRED, every unit,
 * relative, monotonic. ret_data is ignored on input by a relative timer:
 * a value that would be an expiry in the past (1 ns) or the far future
 * changes nothing.
 */
TEST_F(q, old_encodings_are_unchanged)
{
	static const struct {
		__u32 event, period;
	} old[] = {
		{ 0, 3600000 },
		{ KEVENT_TIMER_FIRED, 3600000 },
		{ KEVENT_TIMER_UNIT_MS, 3600000 },
		{ KEVENT_TIMER_UNIT_US, 3600000000u },
		{ KEVENT_TIMER_UNIT_US | KEVENT_TIMER_FIRED, 3600000000u },
		{ KEVENT_TIMER_UNIT_NS, 0xffffffffu },
	};
	struct ukevent uk, ev[2];
	int64_t t0, t1;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(old); i++) {
		uk = uk_make(KEVENT_TIMER, old[i].period, 0, old[i].event, 0, i);
		set_expiry(&uk, UINT64_MAX);
		EXPECT_EQ(0, add(self->fd, uk)) TH_LOG("event %#x", old[i].event);
	}
	EXPECT_EQ(0, get_ns(self->fd, 1, 2, 100 * NSEC_PER_MSEC, ev));
	for (i = 0; i < ARRAY_SIZE(old); i++) {
		uk = uk_make(KEVENT_TIMER, old[i].period, 0, old[i].event, 0, i);
		EXPECT_EQ(0, del(self->fd, uk)) TH_LOG("event %#x", old[i].event);
	}

	/* 300 ms relative, whatever ret_data says. */
	for (i = 0; i < 2; i++) {
		uk = uk_make(KEVENT_TIMER, 300, 0, i ? KEVENT_TIMER_FIRED : 0, KEVENT_REQ_ONESHOT,
			     50);
		set_expiry(&uk, i ? 1 : INT64_MAX);
		t0 = now_ns();
		ASSERT_EQ(0, add(self->fd, uk));
		ASSERT_EQ(1, get_ns(self->fd, 1, 2, WAIT_NS, ev));
		t1 = now_ns();
		EXPECT_GE(t1 - t0, 300 * NSEC_PER_MSEC);
		check_normal(_metadata, &ev[0], &uk);
		EXPECT_EQ(1, ev[0].ret_data[0]);
	}
}

/* ---- setting CLOCK_REALTIME ------------------------------------------- */

/*
 * Where CLOCK_REALTIME was before the first step, and when (monotonic):
 * shared by every process of the program, so that whichever runs next
 * (the test, the parent's teardown, the next setup, exit) puts it back.
 */
struct clock_guard {
	int stepped;
	int64_t real, mono;
};

static struct clock_guard *guard;

static void __attribute__((constructor)) guard_init(void)
{
	guard = mmap(NULL, sizeof(*guard), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		     -1, 0);
	if (guard == MAP_FAILED)
		abort();
	memset(guard, 0, sizeof(*guard));
}

static int set_realtime(int64_t ns)
{
	struct timespec ts = { .tv_sec = ns / NSEC_PER_SEC, .tv_nsec = ns % NSEC_PER_SEC };

	return clock_settime(CLOCK_REALTIME, &ts);
}

/* Puts CLOCK_REALTIME where it would be had it never been set. 0 or -1. */
static int restore_realtime(void)
{
	if (!guard->stepped)
		return 0;
	if (set_realtime(guard->real + (clock_ns(CLOCK_MONOTONIC) - guard->mono)))
		return -1;
	guard->stepped = 0;
	return 0;
}

static void __attribute__((destructor)) guard_fini(void)
{
	if (guard && restore_realtime())
		perror("timer_clock_test: CLOCK_REALTIME not restored");
}

enum set_how { BY_CLOCK_SETTIME, BY_SETTIMEOFDAY, BY_ADJ_SETOFFSET };

static const char *const how_name[] = { "clock_settime", "settimeofday", "ADJ_SETOFFSET" };

/* Steps CLOCK_REALTIME by `delta` ns (saved first, once). 0 or -1. */
static int step_realtime(int64_t delta, enum set_how how)
{
	int64_t t;

	if (!guard->stepped) {
		guard->real = clock_ns(CLOCK_REALTIME);
		guard->mono = clock_ns(CLOCK_MONOTONIC);
		guard->stepped = 1;
	}
	switch (how) {
	case BY_CLOCK_SETTIME:
		return set_realtime(clock_ns(CLOCK_REALTIME) + delta);
	case BY_SETTIMEOFDAY: {
		struct timeval tv;

		t = clock_ns(CLOCK_REALTIME) + delta;
		tv.tv_sec = t / NSEC_PER_SEC;
		tv.tv_usec = t % NSEC_PER_SEC / 1000;
		return settimeofday(&tv, NULL);
	}
	default: {
		struct timex tx = { .modes = ADJ_SETOFFSET | ADJ_NANO };

		/* tv_usec (nanoseconds with ADJ_NANO) must be in [0, 1 s). */
		tx.time.tv_sec = delta / NSEC_PER_SEC;
		tx.time.tv_usec = delta % NSEC_PER_SEC;
		if (tx.time.tv_usec < 0) {
			tx.time.tv_sec--;
			tx.time.tv_usec += NSEC_PER_SEC;
		}
		return clock_adjtime(CLOCK_REALTIME, &tx) < 0 ? -1 : 0;
	}
	}
}

FIXTURE(step)
{
	int fd;
};

FIXTURE_SETUP(step)
{
	/* A test killed by its timeout left the clock set: put it back first. */
	ASSERT_EQ(0, restore_realtime());
	if (geteuid() != 0)
		SKIP(return, "setting CLOCK_REALTIME needs root");
	self->fd = open_queue();
	if (self->fd < 0 && errno == ENOENT)
		SKIP(return, KEVENT_DEVICE " is missing: is the module loaded?");
	ASSERT_GE(self->fd, 0);
}

/* In the parent: runs after a failed ASSERT too. The child's fd went with it. */
FIXTURE_TEARDOWN_PARENT(step)
{
	EXPECT_EQ(0, restore_realtime()) TH_LOG("CLOCK_REALTIME not restored");
}

/*
 * Collects events for up to 5 s until the CANCEL_ON_SET requests with the
 * `n` cookies `want` have each had one, and checks each: DONE|CANCELED,
 * no expiration (their expiry is an hour away), a copy of the request.
 * Any other event, or a second one, fails.
 */
static void expect_cancels(struct __test_metadata *_metadata, int fd, const __u64 *want, int n)
{
	int64_t t0 = now_ns(), left;
	bool seen[8] = { false };
	struct ukevent ev[8];
	int got = 0, r, i, j;

	while (got < n && (left = 5 * NSEC_PER_SEC - (now_ns() - t0)) > 0) {
		r = get_ns(fd, 1, 8, left, ev);
		ASSERT_LE(0, r);
		for (i = 0; i < r; i++) {
			for (j = 0; j < n && want[j] != ev[i].ptr; j++)
				;
			ASSERT_LT(j, n) TH_LOG("an event of cookie %llu (ret_flags %#x)",
					       (unsigned long long)ev[i].ptr, ev[i].ret_flags);
			ASSERT_FALSE(seen[j])
				TH_LOG("cookie %llu twice", (unsigned long long)ev[i].ptr);
			seen[j] = true;
			got++;
			EXPECT_EQ(KEVENT_RET_DONE | KEVENT_RET_CANCELED, ev[i].ret_flags);
			EXPECT_EQ(KEVENT_TIMER, ev[i].type);
			EXPECT_EQ(KEVENT_TIMER_REALTIME | KEVENT_TIMER_ABSTIME |
				  KEVENT_TIMER_CANCEL_ON_SET, ev[i].event);
			EXPECT_EQ(0, ev[i].ret_data[0]);
			EXPECT_EQ(0, ev[i].ret_data[1]);
		}
	}
	EXPECT_EQ(n, got) TH_LOG("%d of %d cancel-on-set requests told of the setting within 5 s",
				 got, n);
}

/*
 * A step of 2 s forward: the cancel-on-set requests (one kept, one
 * one-shot) are told at once; a realtime timer without CANCEL_ON_SET and
 * a monotonic one hear nothing. The one-shot one is gone with its event;
 * the other is told again when the clock is put back, and then removed.
 */
TEST_F_TIMEOUT(step, cancel_on_set_is_told_of_each_setting, 60)
{
	int64_t real = clock_ns(CLOCK_REALTIME);
	struct ukevent a = uk_cancel(0, real + HOUR_NS, 0, 1);
	struct ukevent b = uk_abs(REAL, 0, 0, real + HOUR_NS, 0, 2);
	struct ukevent m = uk_make(KEVENT_TIMER, 3600000, 0, 0, 0, 3);
	struct ukevent d = uk_cancel(0, real + HOUR_NS, KEVENT_REQ_ONESHOT, 4);
	const __u64 both[] = { 1, 4 }, kept[] = { 1 };
	struct ukevent ev[8];

	ASSERT_EQ(0, add(self->fd, a));
	ASSERT_EQ(0, add(self->fd, b));
	ASSERT_EQ(0, add(self->fd, m));
	ASSERT_EQ(0, add(self->fd, d));
	ASSERT_EQ(0, get_ns(self->fd, 0, 8, 0, ev));

	ASSERT_EQ(0, step_realtime(2 * NSEC_PER_SEC, BY_CLOCK_SETTIME));
	expect_cancels(_metadata, self->fd, both, 2);
	/* Once per setting; nothing from the others. */
	EXPECT_EQ(0, get_ns(self->fd, 1, 8, 300 * NSEC_PER_MSEC, ev))
		TH_LOG("cookie %llu, ret_flags %#x", (unsigned long long)ev[0].ptr,
		       ev[0].ret_flags);
	EXPECT_EQ(ENOENT, del(self->fd, d));

	/* Putting it back (2 s backward) is a setting too. */
	ASSERT_EQ(0, restore_realtime());
	expect_cancels(_metadata, self->fd, kept, 1);
	EXPECT_EQ(0, get_ns(self->fd, 1, 8, 300 * NSEC_PER_MSEC, ev))
		TH_LOG("cookie %llu, ret_flags %#x", (unsigned long long)ev[0].ptr,
		       ev[0].ret_flags);

	EXPECT_EQ(0, del(self->fd, a));
	EXPECT_EQ(0, del(self->fd, b));
	EXPECT_EQ(0, del(self->fd, m));
}

/* settimeofday and adjtimex(ADJ_SETOFFSET) set the clock as clock_settime does. */
TEST_F_TIMEOUT(step, every_way_of_setting_the_clock_cancels, 60)
{
	struct ukevent uk, ev[2];

	for (int how = 0; how < 3; how++) {
		const __u64 want[] = { 10 + how };

		uk = uk_cancel(0, clock_ns(CLOCK_REALTIME) + HOUR_NS, KEVENT_REQ_ONESHOT, 10 + how);
		ASSERT_EQ(0, add(self->fd, uk));
		ASSERT_EQ(0, step_realtime(NSEC_PER_SEC, how)) TH_LOG("%s", how_name[how]);
		expect_cancels(_metadata, self->fd, want, 1);
		ASSERT_EQ(0, restore_realtime());
		EXPECT_EQ(ENOENT, del(self->fd, uk)) TH_LOG("%s", how_name[how]);
		EXPECT_EQ(0, get_ns(self->fd, 0, 2, 0, ev));
	}
}

/*
 * timerfd cancels on every setting, even one that leaves the clock where
 * it was (adjtimex(ADJ_SETOFFSET) of 0); so does CANCEL_ON_SET.
 */
TEST_F_TIMEOUT(step, a_setting_that_does_not_move_the_clock_cancels_too, 60)
{
	struct ukevent uk = uk_cancel(0, clock_ns(CLOCK_REALTIME) + HOUR_NS, 0, 5), ev[2];
	const __u64 want[] = { 5 };

	ASSERT_EQ(0, add(self->fd, uk));
	ASSERT_EQ(0, step_realtime(0, BY_ADJ_SETOFFSET));
	expect_cancels(_metadata, self->fd, want, 1);
	ASSERT_EQ(0, restore_realtime());
	expect_cancels(_metadata, self->fd, want, 1);
	EXPECT_EQ(0, del(self->fd, uk));
	EXPECT_EQ(0, get_ns(self->fd, 0, 2, 0, ev));
}

/*
 * A step of 11 s forward: periodic (100 ms) REALTIME and TAI timers, whose
 * first expiry was 1 s after the ADD (so they have not fired before the
 * step), have passed at least 1 + 10 s / 100 ms = 101 schedule points, all
 * reported in their next event; MONOTONIC and BOOTTIME timers of the same
 * period count only the time that passed on their clocks (a few periods).
 * Upper bounds: what each clock allows when the event is in hand.
 */
TEST_F_TIMEOUT(step, a_forward_step_counts_on_realtime_and_tai_only, 60)
{
	const int64_t period = 100 * NSEC_PER_MSEC, ahead = NSEC_PER_SEC, step = 11 * NSEC_PER_SEC;
	const struct clock_case *k[4] = { REAL, TAI, MONO, BOOT };
	struct ukevent uk[4], ev[8];
	int64_t t0[4], first[4], at[4];
	long long count[4] = { 0 };
	int got = 0, r, i, j;
	int64_t start, left;

	for (i = 0; i < 4; i++) {
		t0[i] = clock_ns(k[i]->id);
		if (i < 2) {
			first[i] = t0[i] + ahead;
			uk[i] = uk_abs(k[i], KEVENT_TIMER_UNIT_MS, 100, first[i], 0, i);
		} else {
			first[i] = t0[i] + period;	/* at the earliest */
			uk[i] = uk_make(KEVENT_TIMER, 100, 0, k[i]->bits, 0, i);
		}
		ASSERT_EQ(0, add(self->fd, uk[i]));
	}
	/* Nothing collected before the step. */
	ASSERT_EQ(0, step_realtime(step, BY_CLOCK_SETTIME));

	start = now_ns();
	while (got < 4 && (left = 5 * NSEC_PER_SEC - (now_ns() - start)) > 0) {
		int64_t now[4];

		r = get_ns(self->fd, 1, 8, left, ev);
		ASSERT_LE(0, r);
		for (i = 0; i < 4; i++)
			now[i] = clock_ns(k[i]->id);
		for (j = 0; j < r; j++) {
			ASSERT_LT(ev[j].ptr, 4);
			i = ev[j].ptr;
			check_normal(_metadata, &ev[j], &uk[i]);
			if (count[i])
				continue;	/* the first event of each is the one */
			count[i] = ev[j].ret_data[0];
			at[i] = now[i];
			got++;
		}
	}
	ASSERT_EQ(4, got);
	ASSERT_EQ(0, restore_realtime());

	for (i = 0; i < 4; i++) {
		/* What the clock had passed when the event was in hand. */
		long long most = 1 + (at[i] - first[i]) / period;

		TH_LOG("%s: %lld expirations in the first event", k[i]->name, count[i]);
		EXPECT_LE(count[i], most) TH_LOG("%s: at most %lld", k[i]->name, most);
		if (i < 2) {
			EXPECT_GE(count[i], 1 + (step - ahead) / period) TH_LOG("%s", k[i]->name);
		}
	}
	for (i = 0; i < 4; i++) {
		EXPECT_EQ(0, del(self->fd, uk[i])) TH_LOG("%s", k[i]->name);
	}
}

/*
 * A step of 3 s backward delays a REALTIME absolute timer: set for 1 s
 * ahead, it fires when the clock reaches its expiry again, 4 s after the
 * ADD on the monotonic clock. Deterministic only if the step comes before
 * the original expiry; a round in which it did not (a stall of the VM) is
 * tried again.
 */
TEST_F_TIMEOUT(step, a_backward_step_delays_a_realtime_timer, 90)
{
	struct ukevent uk, ev[2];
	int64_t m0, m1, m2, target;
	int round;

	for (round = 0; round < 3; round++) {
		m0 = now_ns();
		target = clock_ns(CLOCK_REALTIME) + NSEC_PER_SEC;
		uk = uk_abs(REAL, 0, 0, target, 0, 60 + round);
		ASSERT_EQ(0, add(self->fd, uk));
		ASSERT_EQ(0, step_realtime(-3 * NSEC_PER_SEC, BY_CLOCK_SETTIME));
		m1 = now_ns();
		if (m1 - m0 < 800 * NSEC_PER_MSEC)
			break;
		TH_LOG("round %d: the step came %lld ns after the ADD, trying again", round,
		       (long long)(m1 - m0));
		ASSERT_EQ(0, del(self->fd, uk));
		get_ns(self->fd, 0, 2, 0, ev);
		ASSERT_EQ(0, restore_realtime());
	}
	if (round == 3)
		SKIP(return, "the clock could not be stepped in time");

	ASSERT_EQ(1, get_ns(self->fd, 1, 2, WAIT_NS, ev));
	m2 = now_ns();
	EXPECT_GE(clock_ns(CLOCK_REALTIME), target);
	/* The expiry is 4 s of realtime away after the step: not the 1 s of before. */
	EXPECT_GE(m2 - m0, 4 * NSEC_PER_SEC)
		TH_LOG("fired %lld ns after the ADD", (long long)(m2 - m0));
	check_normal(_metadata, &ev[0], &uk);
	EXPECT_EQ(1, ev[0].ret_data[0]);
	ASSERT_EQ(0, restore_realtime());
	EXPECT_EQ(0, del(self->fd, uk));
}

TEST_HARNESS_MAIN
