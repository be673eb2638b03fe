// SPDX-License-Identifier: GPL-2.0
/*
 * 6. Timers: KEVENT_TIMER against timerfd + epoll, at 100 µs and 1 ms,
 * one-shot and periodic, with 1, 1 000 and 10 000 timers. One thread (CPU
 * 1) arms the timers one call each, taking the time just before each call;
 * another (CPU 0) collects. Expiry k of timer i is due k periods after its
 * arm time, so lateness = collection time - due, and a negative lateness
 * is an early fire (the kernel starts each timer after our time stamp, so
 * a correct timer never shows one). Expirations are counted from kevent's
 * ret_data[0] and timerfd's read().
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/timerfd.h>
#include "bench.h"

struct tset {
	int kevent, periodic, n, q, *tfd;
	uint64_t period_ns;
	_Atomic uint64_t *armed_at;
	uint64_t *expired;
	struct samples lat;
	long early;
	double counted_pct;
	_Atomic long delivered;
	_Atomic int stop;
};

static void account(struct tset *t, int idx, uint64_t count, uint64_t now)
{
	double due;

	t->expired[idx] += count;
	due = atomic_load(&t->armed_at[idx]) + (double)t->expired[idx] * t->period_ns;
	samples_add(&t->lat, (now - due) / 1000.0);
	if (now < due)
		t->early++;
	atomic_fetch_add(&t->delivered, 1);
}

static void collect_kevent(struct tset *t)
{
	struct ukevent ev[64];
	int i, n = kevent_get_events_ns(t->q, 1, 64, 5000000, ev, 0);
	uint64_t now = now_ns();

	for (i = 0; i < n; i++)
		account(t, ev[i].ptr, ev[i].ret_data[0], now);
}

/*
 * timerfd stays readable until read(), and read() is where it counts the
 * expirations: the time is taken after it, or a count made later than
 * our time stamp would look like an early fire.
 */
static void collect_timerfd(struct tset *t)
{
	struct epoll_event ev[64];
	int i, n = epoll_wait(t->q, ev, 64, 5);
	uint64_t count;

	for (i = 0; i < n; i++)
		if (read(t->tfd[ev[i].data.u64], &count, sizeof(count)) == sizeof(count))
			account(t, ev[i].data.u64, count, now_ns());
}

static void *collector(void *arg)
{
	struct tset *t = arg;

	pin_cpu(0);
	while (!atomic_load(&t->stop))
		if (t->kevent)
			collect_kevent(t);
		else
			collect_timerfd(t);
	return NULL;
}

static void arm_kevent(struct tset *t, int i)
{
	struct ukevent uk = { .type = KEVENT_TIMER, .event = KEVENT_TIMER_UNIT_NS };

	uk.id.raw[0] = t->period_ns;
	uk.req_flags = t->periodic ? 0 : KEVENT_REQ_ONESHOT;
	uk.ptr = i;
	if (kevent_ctl(t->q, KEVENT_CTL_ADD, 1, &uk) != 1 || (uk.ret_flags & KEVENT_RET_BROKEN))
		die("kevent timer ADD");
}

static void arm_timerfd(struct tset *t, int i)
{
	struct itimerspec its = { .it_value.tv_nsec = t->period_ns };

	if (t->periodic)
		its.it_interval.tv_nsec = t->period_ns;
	if (timerfd_settime(t->tfd[i], 0, &its, NULL))
		die("timerfd_settime");
}

/* Arms all n timers; returns ns per arm. */
static double arm_all(struct tset *t)
{
	uint64_t sum = 0, a;
	int i;

	for (i = 0; i < t->n; i++) {
		t->expired[i] = 0;
		a = now_ns();
		atomic_store(&t->armed_at[i], a);
		if (t->kevent)
			arm_kevent(t, i);
		else
			arm_timerfd(t, i);
		sum += now_ns() - a;
	}
	return (double)sum / t->n;
}

/* timerfd's per-timer setup, which kevent's ADD does not need; returns ns per timer. */
static double timerfd_setup(struct tset *t)
{
	uint64_t t0 = now_ns();
	int i;

	t->q = ep_open();
	for (i = 0; i < t->n; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = i };

		t->tfd[i] = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (t->tfd[i] < 0 || epoll_ctl(t->q, EPOLL_CTL_ADD, t->tfd[i], &ev))
			die("timerfd setup");
	}
	return (double)(now_ns() - t0) / t->n;
}

static void wait_delivered(struct tset *t, long want, uint64_t deadline)
{
	while (atomic_load(&t->delivered) < want && now_ns() < deadline)
		sleep_ns(50000);
}

/*
 * Periodic: the expirations the collector was told of, against the periods
 * that passed since each arm; below 100 the timer lost ticks (the last
 * period or two may still be in flight when collection stops).
 */
static double counted_pct(struct tset *t)
{
	uint64_t now = now_ns();
	double counted = 0, due = 0;
	int i;

	for (i = 0; i < t->n; i++) {
		counted += t->expired[i];
		due += (double)(now - atomic_load(&t->armed_at[i])) / t->period_ns;
	}
	return 100.0 * counted / due;
}

/* One-shot: rounds of n timers, each round collected before the next. */
static double run_timers(struct tset *t)
{
	int rounds = t->periodic ? 1 : (t->n >= 200 ? 1 : 200 / t->n), r;
	uint64_t window = t->period_ns * (t->n == 1 ? 200 : 50);
	double arm = 0;
	pthread_t th;

	if (window < 20000000)
		window = 20000000;
	pthread_create(&th, NULL, collector, t);
	pin_cpu(1);
	for (r = 0; r < rounds; r++) {
		arm += arm_all(t);
		if (t->periodic)
			sleep_ns(window);
		else
			wait_delivered(t, (long)t->n * (r + 1), now_ns() + 2000000000ull);
	}
	atomic_store(&t->stop, 1);
	pthread_join(th, NULL);
	if (t->periodic)
		t->counted_pct = counted_pct(t);
	return arm / rounds;
}

struct tconf {
	uint64_t period_ns;
	int periodic, n;
};

/*
 * One run of one contender; adds its samples to lat, early, arm and create,
 * and its own p99 to p99s.
 */
static void timer_run(const struct tconf *c, int kevent, struct samples *lat, long *early,
		      struct samples *arm, struct samples *create, struct samples *counted,
		      struct samples *p99s)
{
	struct tset t = { .kevent = kevent, .periodic = c->periodic, .n = c->n,
			  .period_ns = c->period_ns };
	size_t i;

	t.tfd = calloc(c->n, sizeof(int));
	t.armed_at = calloc(c->n, sizeof(*t.armed_at));
	t.expired = calloc(c->n, sizeof(uint64_t));
	if (kevent)
		t.q = kq_open();
	else
		samples_add(create, timerfd_setup(&t));
	samples_add(arm, run_timers(&t));
	if (c->periodic)
		samples_add(counted, t.counted_pct);
	close(t.q);
	if (!kevent)
		close_fds(t.tfd, c->n);
	for (i = 0; i < t.lat.n; i++)
		samples_add(lat, t.lat.v[i]);
	if (t.lat.n)
		samples_add(p99s, samples_pct(&t.lat, 99));
	*early += t.early;
	samples_free(&t.lat);
	free(t.tfd);
	free(t.armed_at);
	free(t.expired);
}

/*
 * late_p99_us is the p99 of all runs' deliveries together; late_p99_runs_us
 * the median of the runs' own p99s (fastest and slowest run), as the
 * wake-up section reports its p99: a run in which the emulator stalled a
 * vCPU for milliseconds (bench/NOTES.md, Wake-up latency) then moves one
 * run's figure, not the pooled tail of all of them.
 */
static void report_timer(const char *who, const char *params, struct samples *lat, long early,
			 struct samples *arm, struct samples *create, struct samples *counted,
			 struct samples *p99s)
{
	report3("timer", who, params, "late_p50_us", samples_pct(lat, 50), samples_pct(lat, 10),
		samples_pct(lat, 90));
	report3("timer", who, params, "late_p99_us", samples_pct(lat, 99), 0, 0);
	report("timer", who, params, "late_p99_runs_us", p99s);
	report3("timer", who, params, "late_max_us", samples_pct(lat, 100), samples_pct(lat, 0), 0);
	report3("timer", who, params, "early_fires", early, lat->n, 0);
	report("timer", who, params, "arm_ns", arm);
	if (create->n)
		report("timer", who, params, "create_ns", create);
	if (counted->n)
		report("timer", who, params, "ticks_counted_pct", counted);
}

static void bench_tconf(const struct tconf *c)
{
	static const char *const who[2] = { "timerfd", "kevent" };
	struct samples lat[2] = { 0 }, arm[2] = { 0 }, create[2] = { 0 }, counted[2] = { 0 };
	struct samples p99s[2] = { 0 };
	long early[2] = { 0 };
	char params[64];
	int r, k, runs = c->n >= 10000 && bench_runs > 3 ? 3 : bench_runs;

	for (r = 0; r < runs; r++)
		for (k = 0; k < 2; k++)
			timer_run(c, k, &lat[k], &early[k], &arm[k], &create[k], &counted[k],
				  &p99s[k]);
	snprintf(params, sizeof(params), "period_us=%llu,mode=%s,n=%d",
		 (unsigned long long)c->period_ns / 1000, c->periodic ? "periodic" : "oneshot", c->n);
	for (k = 0; k < 2; k++) {
		report_timer(who[k], params, &lat[k], early[k], &arm[k], &create[k], &counted[k],
			     &p99s[k]);
		samples_free(&p99s[k]);
		samples_free(&counted[k]);
		samples_free(&lat[k]);
		samples_free(&arm[k]);
		samples_free(&create[k]);
	}
}

void bench_timers(void)
{
	static const uint64_t periods[2] = { 100000, 1000000 };
	static const int counts[3] = { 1, 1000, 10000 };
	struct tconf c;
	int p, m, n;

	for (p = 0; p < 2; p++)
		for (m = 0; m < 2; m++)
			for (n = 0; n < 3; n++) {
				c = (struct tconf){ periods[p], m, counts[n] };
				bench_tconf(&c);
			}
}
