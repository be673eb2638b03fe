// SPDX-License-Identifier: GPL-2.0
/*
 * Queues watching queues: the loop and depth checks (at most 4 watch
 * edges, 5 queues, in whatever order a chain is built), the duplicate
 * check before them, a diamond that a check visiting each queue once
 * handles quickly, nested wake-ups that arrive synchronously (issue 11,
 * sections 3 and 5), a queue that its watchers still find ready while
 * another thread collects from it (epoll's epoll47), and wake-ups that
 * the queue passes to its work item: many watchers, and a wake-up that
 * comes back to the queue from inside its own (an aio poll).
 */
#define _GNU_SOURCE
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <linux/aio_abi.h>

#include "kevent_test.h"
#include "kselftest_harness.h"

#define COOKIE 0x4e57ull	/* every watch here has this cookie */
#define MAX_EDGES 4		/* the longest chain: 4 edges, 5 queues */

/* A request of q watching target (a queue or any file) for POLLIN. */
static struct ukevent uk_watch(int target)
{
	return uk_make(KEVENT_POLL, target, 0, POLLIN, 0, COOKIE);
}

/* 0, the entry's errno, or -errno of the call (ctl1). */
static int watch(int q, int target)
{
	struct ukevent uk = uk_watch(target);

	return ctl1(q, KEVENT_CTL_ADD, &uk);
}

static int unwatch(int q, int target)
{
	struct ukevent uk = uk_watch(target);

	return ctl1(q, KEVENT_CTL_REMOVE, &uk);
}

/* Opens n queues; false (the test skipped) if the device is missing. */
static bool open_queues(struct __test_metadata *_metadata, int *q, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		q[i] = open_queue();
		if (q[i] < 0 && errno == ENOENT)
			SKIP(return false, KEVENT_DEVICE " is missing: is the module loaded?");
		ASSERT_GE(q[i], 0);
	}
	return true;
}

#define OPEN_QUEUES(q, n) do { \
	if (!open_queues(_metadata, q, n)) \
		return; \
} while (0)

static void close_queues(int *q, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (q[i] >= 0)
			close(q[i]);
}

/*
 * An ADD that must be refused with ELOOP, and that must leave nothing
 * behind: the same identity is not there to REMOVE.
 */
#define EXPECT_ELOOP(q, target) do { \
	EXPECT_EQ(ELOOP, watch(q, target)); \
	EXPECT_EQ(ENOENT, unwatch(q, target)); \
} while (0)

/*
 * c[0] watches c[1] ... c[3] watches c[4]: a full chain of 4 edges.
 * Nothing may be added above it, below it or across it.
 */
static void check_full_chain(struct __test_metadata *_metadata, const int *c)
{
	int x = open_queue(), i;

	ASSERT_GE(x, 0);
	EXPECT_ELOOP(x, c[0]);		/* a sixth queue above */
	EXPECT_ELOOP(c[4], x);		/* a sixth queue below */
	/* Loops, through the chain. */
	EXPECT_ELOOP(c[4], c[0]);
	EXPECT_ELOOP(c[2], c[0]);
	EXPECT_ELOOP(c[4], c[3]);
	/* Each existing edge is a duplicate first. */
	for (i = 0; i < MAX_EDGES; i++)
		EXPECT_EQ(EEXIST, watch(c[i], c[i + 1])) TH_LOG("edge %d", i);
	/* A queue beside the chain can still watch into it, at depth. */
	EXPECT_EQ(0, watch(x, c[1]));
	EXPECT_EQ(0, unwatch(x, c[1]));
	close(x);
}

/*
 * Bottom-up: c[4] watches c[5] first, then c[3] watches c[4], and so on;
 * c[0] watching c[1] would be the fifth edge. Today's main refuses that
 * one (it measures the chain below the watched queue) but accepts the
 * sixth queue below the bottom, which check_full_chain() tries.
 */
TEST(chain_built_bottom_up_has_at_most_four_edges)
{
	int q[7], i;

	OPEN_QUEUES(q, 7);
	for (i = 4; i >= 1; i--)
		ASSERT_EQ(0, watch(q[i], q[i + 1])) TH_LOG("q%d watches q%d", i, i + 1);
	EXPECT_ELOOP(q[0], q[1]);
	EXPECT_ELOOP(q[5], q[6]);
	check_full_chain(_metadata, q + 1);
	/* Shortened at the top, the chain has room below again. */
	ASSERT_EQ(0, unwatch(q[1], q[2]));
	EXPECT_EQ(0, watch(q[5], q[6]));
	check_full_chain(_metadata, q + 2);
	close_queues(q, 7);
}

/*
 * Top-down: q[0] watches q[1] first, then q[1] watches q[2], and so on;
 * q[4] watching q[5] is the fifth edge. Today's main accepts it (and any
 * number after it): the queue being watched has nothing below it.
 */
TEST(chain_built_top_down_has_at_most_four_edges)
{
	int q[7], i;

	OPEN_QUEUES(q, 7);
	for (i = 0; i < MAX_EDGES; i++)
		ASSERT_EQ(0, watch(q[i], q[i + 1])) TH_LOG("q%d watches q%d", i, i + 1);
	EXPECT_ELOOP(q[4], q[5]);
	EXPECT_ELOOP(q[5], q[0]);	/* from above, too */
	check_full_chain(_metadata, q);
	/* Shortened at the bottom, the chain has room above again. */
	ASSERT_EQ(0, unwatch(q[3], q[4]));
	EXPECT_EQ(0, watch(q[5], q[0]));
	check_full_chain(_metadata, (int[]){ q[5], q[0], q[1], q[2], q[3] });
	close_queues(q, 7);
}

/*
 * Two chains joined by a new edge from the bottom of one to the top of
 * the other: a (na queues, built top-down) above, b (nb queues, built
 * bottom-up) below. The joined chain has na + nb - 1 edges.
 */
static void join(struct __test_metadata *_metadata, int na, int nb)
{
	int a[5], b[5], i, full[5];

	OPEN_QUEUES(a, na);
	OPEN_QUEUES(b, nb);
	for (i = 0; i + 1 < na; i++)
		ASSERT_EQ(0, watch(a[i], a[i + 1]));
	for (i = nb - 2; i >= 0; i--)
		ASSERT_EQ(0, watch(b[i], b[i + 1]));
	if (na + nb - 1 <= MAX_EDGES) {
		EXPECT_EQ(0, watch(a[na - 1], b[0])) TH_LOG("%d above, %d below", na, nb);
		if (na + nb - 1 == MAX_EDGES) {
			for (i = 0; i < na; i++)
				full[i] = a[i];
			for (i = 0; i < nb; i++)
				full[na + i] = b[i];
			check_full_chain(_metadata, full);
		}
	} else {
		EXPECT_EQ(ELOOP, watch(a[na - 1], b[0])) TH_LOG("%d above, %d below", na, nb);
		EXPECT_EQ(ENOENT, unwatch(a[na - 1], b[0]));
	}
	close_queues(a, na);
	close_queues(b, nb);
}

/*
 * Every split of a 5-queue chain joins (4 edges); every split of a
 * 6-queue chain is ELOOP. Today's main refuses only the split with one
 * queue above (1 above, 5 below): it never looks above the watcher.
 */
TEST(chains_joined_in_the_middle)
{
	int na;

	for (na = 1; na <= 4; na++)
		join(_metadata, na, 5 - na);
	for (na = 1; na <= 5; na++)
		join(_metadata, na, 6 - na);
}

/*
 * ADD of an identity that exists is EEXIST even when the fd now names a
 * queue whose watch would be a loop or too deep: the duplicate check
 * comes first. a watches b through fd n, a dup of b; b stays open through
 * its own fd, so the request still watches b (section 1), and then n is
 * made to name another file with dup2. Today's main runs the loop check
 * first and answers ELOOP for the first two; it answers EEXIST for the
 * third only because it never looks above a (c -> a), and it then accepts
 * that 5-edge chain once the identity is free.
 */
TEST(duplicate_of_a_queue_watch_is_eexist_before_eloop)
{
	int q[7], a, b, c, n, i;

	OPEN_QUEUES(q, 7);
	a = q[0], b = q[1], c = q[2];
	/* c watches a. */
	ASSERT_EQ(0, watch(c, a));
	n = dup(b);
	ASSERT_GE(n, 0);
	ASSERT_EQ(0, watch(a, n));
	EXPECT_EQ(EEXIST, watch(a, n));

	/* n names a itself. */
	ASSERT_EQ(n, dup2(a, n));
	EXPECT_EQ(EEXIST, watch(a, n));
	/* n names c, which watches a: a loop. */
	ASSERT_EQ(n, dup2(c, n));
	EXPECT_EQ(EEXIST, watch(a, n));
	/* n names the top of a chain q3 .. q6 (3 edges): c -> a -> q3 is too deep. */
	for (i = 3; i < 6; i++)
		ASSERT_EQ(0, watch(q[i], q[i + 1]));
	ASSERT_EQ(n, dup2(q[3], n));
	EXPECT_EQ(EEXIST, watch(a, n));

	/* Gone, the identity is free, and the checks apply again. */
	ASSERT_EQ(0, unwatch(a, n));
	EXPECT_ELOOP(a, n);
	ASSERT_EQ(n, dup2(a, n));
	EXPECT_ELOOP(a, n);
	ASSERT_EQ(n, dup2(c, n));
	EXPECT_ELOOP(a, n);
	close(n);
	close_queues(q, 7);
}

/*
 * The diamond: a bottom queue; L1, F queues each watching it; L2 and L3,
 * F queues each watching all F of the level below; a top queue watching
 * all F of L3. Top -> L3 -> L2 -> L1 -> bottom: 5 queues, 4 edges on
 * every path, F * F paths below each queue of L3. Built bottom-up.
 *
 * A check that visits each queue once (below the watched queue and above
 * the watcher) costs at most 2F + 3 queue visits per ADD, about 77 000 in
 * all. Today's main walks every path: 1 + F + 2 F^2 = 3241
 * visits for each of the top's 40 ADDs (about 4.6 s each on the debug
 * kernel under TCG) and 1 + 2F = 81 for each of the 1600 ADDs of L3, so
 * several minutes in all, and the test's timeout ends it.
 */
#define F 40
#define DIAMOND_TIMEOUT 60

FIXTURE(diamond)
{
	int bottom, l1[F], l2[F], l3[F], top;
};

FIXTURE_SETUP(diamond)
{
	self->bottom = self->top = -1;
	memset(self->l1, 0xff, sizeof(self->l1));
	memset(self->l2, 0xff, sizeof(self->l2));
	memset(self->l3, 0xff, sizeof(self->l3));
	OPEN_QUEUES(&self->bottom, 1);
	OPEN_QUEUES(self->l1, F);
	OPEN_QUEUES(self->l2, F);
	OPEN_QUEUES(self->l3, F);
	OPEN_QUEUES(&self->top, 1);
}

FIXTURE_TEARDOWN(diamond)
{
	/* The watchers first: each close then unhooks from live queues. */
	close_queues(&self->top, 1);
	close_queues(self->l3, F);
	close_queues(self->l2, F);
	close_queues(self->l1, F);
	close_queues(&self->bottom, 1);
}

/* q watches every queue of targets, in one ctl call; each must succeed. */
static void watch_all(struct __test_metadata *_metadata, int q, const int *targets)
{
	struct ukevent uk[F];
	int i;

	for (i = 0; i < F; i++)
		uk[i] = uk_watch(targets[i]);
	ASSERT_EQ(F, kevent_ctl(q, KEVENT_CTL_ADD, F, uk));
	for (i = 0; i < F; i++) {
		__u32 err = uk[i].ret_data[1];

		EXPECT_EQ(KEVENT_RET_DONE, uk[i].ret_flags) TH_LOG("entry %d: errno %u", i, err);
	}
}

TEST_F_TIMEOUT(diamond, built_and_extended_visiting_each_queue_once, DIAMOND_TIMEOUT)
{
	int64_t t0 = now_ns(), t, slowest = 0;
	int x, y, z, w, i;

	for (i = 0; i < F; i++)
		ASSERT_EQ(0, watch(self->l1[i], self->bottom));
	for (i = 0; i < F; i++)
		watch_all(_metadata, self->l2[i], self->l1);
	TH_LOG("L1, L2: %lld ms", (long long)(now_ns() - t0) / NSEC_PER_MSEC);
	t0 = now_ns();
	for (i = 0; i < F; i++)
		watch_all(_metadata, self->l3[i], self->l2);
	TH_LOG("L3: %lld ms", (long long)(now_ns() - t0) / NSEC_PER_MSEC);
	t0 = now_ns();
	for (i = 0; i < F; i++) {
		t = now_ns();
		ASSERT_EQ(0, watch(self->top, self->l3[i])) TH_LOG("top watches L3[%d]", i);
		t = now_ns() - t;
		slowest = t > slowest ? t : slowest;
	}
	TH_LOG("top: %lld ms, the slowest ADD %lld ms", (long long)(now_ns() - t0) / NSEC_PER_MSEC,
	       (long long)slowest / NSEC_PER_MSEC);

	x = open_queue();
	y = open_queue();
	z = open_queue();
	w = open_queue();
	ASSERT_GE(x, 0);
	ASSERT_GE(y, 0);
	ASSERT_GE(z, 0);
	ASSERT_GE(w, 0);
	/* A sixth level above the top, or below the bottom: 5 edges. */
	EXPECT_ELOOP(x, self->top);
	EXPECT_ELOOP(self->bottom, z);
	/* Loops through the diamond. */
	EXPECT_ELOOP(self->bottom, self->l2[7]);
	EXPECT_ELOOP(self->l1[3], self->top);
	EXPECT_ELOOP(self->bottom, self->top);
	/* Existing edges are duplicates. */
	EXPECT_EQ(EEXIST, watch(self->top, self->l3[5]));
	EXPECT_EQ(EEXIST, watch(self->l3[5], self->l2[9]));
	/* Another top beside the first: 4 edges. */
	EXPECT_EQ(0, watch(y, self->l3[0]));
	EXPECT_ELOOP(x, y);
	/* A queue of L1 may watch a leaf (top -> L3 -> L2 -> L1 -> z)... */
	EXPECT_EQ(0, watch(self->l1[0], z));
	/* ...that then may watch nothing, whichever way it is reached. */
	EXPECT_ELOOP(z, w);
	EXPECT_ELOOP(self->bottom, w);
	/* Taken out of the middle and put back: the same answers. */
	ASSERT_EQ(0, unwatch(self->top, self->l3[5]));
	EXPECT_EQ(0, watch(self->top, self->l3[5]));
	EXPECT_ELOOP(x, self->top);
	EXPECT_ELOOP(z, w);
	close(x);
	close(y);
	close(z);
	close(w);
}

/*
 * Nested wake-ups are synchronous: right after write() returns, q1 (which
 * watches q2, which watches the pipe) and an epoll instance watching q2
 * see it with a timeout of 0. Today's main wakes q2's pollers from a work
 * item when the wake-up comes from the pipe's wait queue, so q1 and epoll
 * find nothing in most rounds until the work item has run.
 */
#define ROUNDS 1000

FIXTURE(nested)
{
	int q0, q1, q2;
	int p[2];
	int ep1, ep2;	/* epoll instances watching q1 and q2 */
};

FIXTURE_SETUP(nested)
{
	struct epoll_event ee = { .events = EPOLLIN };

	self->q1 = self->q2 = self->ep1 = self->ep2 = -1;
	self->p[0] = self->p[1] = -1;
	self->q0 = open_queue();
	if (self->q0 < 0 && errno == ENOENT)
		SKIP(return, KEVENT_DEVICE " is missing: is the module loaded?");
	ASSERT_GE(self->q0, 0);
	self->q1 = open_queue();
	ASSERT_GE(self->q1, 0);
	self->q2 = open_queue();
	ASSERT_GE(self->q2, 0);
	ASSERT_EQ(0, pipe2(self->p, O_CLOEXEC | O_NONBLOCK));
	self->ep1 = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_GE(self->ep1, 0);
	self->ep2 = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_GE(self->ep2, 0);
	/* q0 -> q1 -> q2, level-triggered; epoll on q1 and on q2. */
	ASSERT_EQ(0, watch(self->q0, self->q1));
	ASSERT_EQ(0, watch(self->q1, self->q2));
	ASSERT_EQ(0, epoll_ctl(self->ep1, EPOLL_CTL_ADD, self->q1, &ee));
	ASSERT_EQ(0, epoll_ctl(self->ep2, EPOLL_CTL_ADD, self->q2, &ee));
}

FIXTURE_TEARDOWN(nested)
{
	int *fds[] = { &self->ep1, &self->ep2, &self->q0, &self->q1, &self->q2,
		       &self->p[0], &self->p[1] };
	unsigned int i;

	for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (*fds[i] >= 0)
			close(*fds[i]);
}

/* Collects from q with timeout 0: exactly one event, q watching `watched`. */
static int sees(int q, int watched, unsigned int min_nr)
{
	struct ukevent ev[4];
	int n = get_ns(q, min_nr, 4, 0, ev);

	if (n != 1)
		return n < 0 ? n : 100 + n;
	if (ev[0].type != KEVENT_POLL || ev[0].id.raw[0] != (__u32)watched ||
	    ev[0].ret_flags != KEVENT_RET_DONE || ev[0].ret_data[0] != POLLIN || ev[0].ptr != COOKIE)
		return -1000;
	return 0;
}

/* epoll_wait with timeout 0: how many, and the one event's mask. */
static int epoll_now(int ep, __u32 *events)
{
	struct epoll_event out[2];
	int n = epoll_wait(ep, out, 2, 0);

	*events = n == 1 ? out[0].events : 0;
	return n;
}

/* After the sources were drained: nothing is left anywhere. */
static void check_idle(struct __test_metadata *_metadata, FIXTURE_DATA(nested) *self, int round)
{
	struct ukevent ev[4];
	__u32 events;

	ASSERT_EQ(0, get_ns(self->q2, 0, 4, 0, ev)) TH_LOG("round %d", round);
	ASSERT_EQ(0, get_ns(self->q1, 0, 4, 0, ev)) TH_LOG("round %d", round);
	ASSERT_EQ(0, get_ns(self->q0, 0, 4, 0, ev)) TH_LOG("round %d", round);
	ASSERT_EQ(0, epoll_now(self->ep1, &events)) TH_LOG("round %d", round);
	ASSERT_EQ(0, epoll_now(self->ep2, &events)) TH_LOG("round %d", round);
}

TEST_F(nested, pipe_readiness_reaches_the_queues_above_at_once)
{
	struct ukevent uk = uk_make(KEVENT_POLL, self->p[0], 0, POLLIN, 0, 0x9), ev[4];
	__u32 events;
	char c;
	int i;

	ASSERT_EQ(0, ctl1(self->q2, KEVENT_CTL_ADD, &uk));
	check_idle(_metadata, self, -1);
	for (i = 0; i < ROUNDS; i++) {
		ASSERT_EQ(1, write(self->p[1], "x", 1));
		/* The outermost first: collecting below could wake them. */
		ASSERT_EQ(0, sees(self->q0, self->q1, i % 2)) TH_LOG("round %d: q0", i);
		ASSERT_EQ(1, epoll_now(self->ep1, &events)) TH_LOG("round %d: epoll on q1", i);
		ASSERT_EQ(EPOLLIN, events & (EPOLLIN | EPOLLERR | EPOLLHUP));
		ASSERT_EQ(0, sees(self->q1, self->q2, i % 2)) TH_LOG("round %d: q1", i);
		ASSERT_EQ(1, epoll_now(self->ep2, &events)) TH_LOG("round %d: epoll on q2", i);
		ASSERT_EQ(EPOLLIN, events & (EPOLLIN | EPOLLERR | EPOLLHUP));
		/* q2 itself has the pipe. */
		ASSERT_EQ(1, get_ns(self->q2, 1, 4, 0, ev));
		ASSERT_EQ((__u32)self->p[0], ev[0].id.raw[0]);
		/* Drained, the pipe is not ready, nor is anything above it. */
		ASSERT_EQ(1, read(self->p[0], &c, 1));
		check_idle(_metadata, self, i);
	}
}

/*
 * The same with a user event on q2. Today's main wakes q2's pollers at
 * once for READY (it is not inside a wait queue), so q1 and the epoll
 * instance on q2 see it; q1's pollers (q0, the epoll instance on q1) are
 * woken from a work item and miss it.
 */
TEST_F(nested, user_event_reaches_the_queues_above_at_once)
{
	struct ukevent uk = uk_user(1, KEVENT_REQ_ET), ev[4];
	__u32 events;
	int i;

	ASSERT_EQ(0, ctl1(self->q2, KEVENT_CTL_ADD, &uk));
	check_idle(_metadata, self, -1);
	for (i = 0; i < ROUNDS; i++) {
		ASSERT_EQ(0, user_ready(self->q2, 1, i));
		ASSERT_EQ(0, sees(self->q0, self->q1, i % 2)) TH_LOG("round %d: q0", i);
		ASSERT_EQ(1, epoll_now(self->ep1, &events)) TH_LOG("round %d: epoll on q1", i);
		ASSERT_EQ(EPOLLIN, events & (EPOLLIN | EPOLLERR | EPOLLHUP));
		ASSERT_EQ(0, sees(self->q1, self->q2, i % 2)) TH_LOG("round %d: q1", i);
		ASSERT_EQ(1, epoll_now(self->ep2, &events)) TH_LOG("round %d: epoll on q2", i);
		ASSERT_EQ(EPOLLIN, events & (EPOLLIN | EPOLLERR | EPOLLHUP));
		/* Collected, the edge-triggered event is gone: all idle. */
		ASSERT_EQ(1, get_ns(self->q2, 1, 4, 0, ev));
		ASSERT_EQ(KEVENT_USER, ev[0].type);
		ASSERT_EQ((__u32)i, ev[0].ret_data[0]);
		check_idle(_metadata, self, i);
	}
}

/*
 * A queue whose level-triggered file stays ready stays readable while
 * another thread collects from it: poll(), an epoll instance, a queue
 * watching it and a second collector that does not wait must never find
 * it idle because the first collector holds the file's request at that
 * moment (epoll's epoll47, which epoll passes because its poll and its
 * epoll_wait() wait for a collection in progress).
 */
#define COLLECTOR_ROUNDS 20000

struct collector {
	int q;
	volatile bool stop;
	int errors;	/* collections that did not return the one event */
};

static void *collect_loop(void *arg)
{
	struct collector *c = arg;
	struct ukevent ev[4];

	while (!c->stop)
		if (get_ns(c->q, 0, 4, 0, ev) != 1)
			c->errors++;
	return NULL;
}

TEST_F(nested, level_triggered_queue_stays_readable_during_a_collection)
{
	struct ukevent uk = uk_make(KEVENT_POLL, self->p[0], 0, POLLIN, 0, 0x9);
	struct collector c = { .q = self->q2 };
	struct pollfd pfd = { .fd = self->q2, .events = POLLIN };
	int i, idle_poll = 0, idle_epoll = 0, idle_queue = 0, idle_collect = 0;
	struct ukevent ev[4];
	pthread_t thread;
	__u32 events;

	ASSERT_EQ(0, ctl1(self->q2, KEVENT_CTL_ADD, &uk));
	ASSERT_EQ(1, write(self->p[1], "x", 1));
	ASSERT_EQ(0, pthread_create(&thread, NULL, collect_loop, &c));
	for (i = 0; i < COLLECTOR_ROUNDS; i++) {
		if (poll(&pfd, 1, 0) != 1 || pfd.revents != POLLIN)
			idle_poll++;
		if (epoll_now(self->ep2, &events) != 1)
			idle_epoll++;
		if (sees(self->q1, self->q2, 1) != 0)
			idle_queue++;
		if (get_ns(self->q2, 0, 4, 0, ev) != 1)
			idle_collect++;
	}
	c.stop = true;
	ASSERT_EQ(0, pthread_join(thread, NULL));
	EXPECT_EQ(0, c.errors);
	EXPECT_EQ(0, idle_poll);
	EXPECT_EQ(0, idle_epoll);
	EXPECT_EQ(0, idle_queue);
	EXPECT_EQ(0, idle_collect);
}

/*
 * Many requests on one pipe in q1, and many requests of q2 watching q1:
 * one write makes each of q1's requests ready, and each would wake all of
 * q1's pollers in turn, inside the pipe's wake-up with interrupts off (the
 * square of the requests). Past a few pollers the queue wakes them from
 * its work item, once: every request above still becomes ready.
 */
#define FAN 64

TEST(many_watchers_of_a_queue_woken_from_its_work_item)
{
	struct epoll_event ee = { .events = EPOLLIN };
	struct ukevent uk, ev[FAN];
	int q[2], q1, q2, ep, p[2];
	__u32 i;

	OPEN_QUEUES(q, 2);
	q1 = q[0];
	q2 = q[1];
	ASSERT_EQ(0, pipe2(p, O_CLOEXEC | O_NONBLOCK));
	ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_GE(ep, 0);
	for (i = 0; i < FAN; i++) {
		uk = uk_make(KEVENT_POLL, p[0], 0, POLLIN, KEVENT_REQ_ET, i);
		ASSERT_EQ(0, ctl1(q1, KEVENT_CTL_ADD, &uk)) TH_LOG("request %u on the pipe", i);
		uk = uk_make(KEVENT_POLL, q1, 0, POLLIN, 0, i);
		ASSERT_EQ(0, ctl1(q2, KEVENT_CTL_ADD, &uk)) TH_LOG("request %u on q1", i);
	}
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, q1, &ee));
	ASSERT_EQ(0, get_ns(q2, 0, FAN, 0, ev));

	ASSERT_EQ(1, write(p[1], "x", 1));
	/* Every watch of q1 hears of it, if not at once. */
	ASSERT_EQ(FAN, get_ns(q2, FAN, FAN, 5 * NSEC_PER_SEC, ev));
	for (i = 0; i < FAN; i++)
		ASSERT_EQ((__u32)q1, ev[i].id.raw[0]);
	ASSERT_EQ(1, epoll_wait(ep, &ee, 1, 5000));
	ASSERT_EQ(FAN, get_ns(q1, FAN, FAN, 0, ev));
	close(ep);
	close(p[0]);
	close(p[1]);
	close_queues(q, 2);
}

/*
 * An aio poll of a queue whose completion signals an eventfd that a queue
 * watches: waking the polled queue's pollers completes the poll, which
 * signals the eventfd, whose wake-up makes a request ready and wakes that
 * queue's pollers, from inside the first wake-up, under the first queue's
 * poller lock. Where aio completes such a poll at once (Linux 7.2), that
 * second wake-up must go to the queue's work item: for the same queue,
 * taking the lock again would spin forever with interrupts off; for
 * another one, two CPUs could each hold one lock and wait for the other
 * (lockdep reports the nesting, which it cannot order, at once).
 */
struct aio_poll {
	aio_context_t ctx;
	struct iocb cb;
};

/* Polls q for POLLIN with aio, signalling efd when it completes. */
static int aio_poll_start(struct aio_poll *a, int q, int efd)
{
	struct iocb *cbs[1] = { &a->cb };

	memset(a, 0, sizeof(*a));
	if (syscall(__NR_io_setup, 4, &a->ctx))
		return -errno;
	a->cb.aio_lio_opcode = IOCB_CMD_POLL;
	a->cb.aio_fildes = q;
	a->cb.aio_buf = POLLIN;
	a->cb.aio_flags = IOCB_FLAG_RESFD;
	a->cb.aio_resfd = efd;
	return syscall(__NR_io_submit, a->ctx, 1, cbs) == 1 ? 0 : -errno;
}

/* Waits for the poll's completion: its result, or -errno. */
static long aio_poll_result(struct aio_poll *a)
{
	struct timespec five_s = { .tv_sec = 5 };
	struct io_event done;
	long n = syscall(__NR_io_getevents, a->ctx, 1, 1, &done, &five_s);

	syscall(__NR_io_destroy, a->ctx);
	return n == 1 ? (long)done.res : n < 0 ? -errno : -ETIMEDOUT;
}

TEST(aio_poll_of_a_queue_signalling_an_eventfd_it_watches)
{
	struct epoll_event ee = { .events = EPOLLIN };
	struct aio_poll a;
	struct ukevent uk, ev[4];
	int q, efd, ep;
	uint64_t n;

	OPEN_QUEUES(&q, 1);
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_GE(efd, 0);
	uk = uk_make(KEVENT_POLL, efd, 0, POLLIN, 0, 1);
	ASSERT_EQ(0, ctl1(q, KEVENT_CTL_ADD, &uk));
	uk = uk_user(2, KEVENT_REQ_ET);
	ASSERT_EQ(0, ctl1(q, KEVENT_CTL_ADD, &uk));
	/* Keeps q's pollers active when the eventfd's wake-up reaches q. */
	ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_GE(ep, 0);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, q, &ee));
	ASSERT_EQ(0, aio_poll_start(&a, q, efd));

	ASSERT_EQ(0, user_ready(q, 2, 7));
	ASSERT_EQ(POLLIN, aio_poll_result(&a) & POLLIN);
	/* The eventfd was signalled: both requests are ready, in order. */
	ASSERT_EQ(2, get_ns(q, 2, 4, 5 * NSEC_PER_SEC, ev));
	ASSERT_EQ(KEVENT_USER, ev[0].type);
	ASSERT_EQ(KEVENT_POLL, ev[1].type);
	ASSERT_EQ(1, epoll_wait(ep, &ee, 1, 5000));
	/*
	 * Drained, then written: the eventfd's wake-up, under its lock, wakes
	 * q's pollers, under theirs; the completion above must not have taken
	 * them in the other order (lockdep reports the two orders at once).
	 */
	ASSERT_EQ(sizeof(n), read(efd, &n, sizeof(n)));
	ASSERT_EQ(0, get_ns(q, 0, 4, 0, ev));
	ASSERT_EQ(0, epoll_wait(ep, &ee, 1, 0));
	n = 1;
	ASSERT_EQ(sizeof(n), write(efd, &n, sizeof(n)));
	ASSERT_EQ(1, epoll_wait(ep, &ee, 1, 5000));
	ASSERT_EQ(1, get_ns(q, 1, 4, 5 * NSEC_PER_SEC, ev));
	ASSERT_EQ((__u32)efd, ev[0].id.raw[0]);
	close(ep);
	close(efd);
	close_queues(&q, 1);
}

TEST(aio_poll_of_a_queue_signalling_an_eventfd_another_queue_watches)
{
	struct aio_poll a;
	struct ukevent uk, ev[4];
	int q[2], q1, q3, efd;

	OPEN_QUEUES(q, 2);
	q1 = q[0];
	q3 = q[1];
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_GE(efd, 0);
	/* q1 watches q3 (q1's hook keeps q3's pollers active); q3 the eventfd. */
	ASSERT_EQ(0, watch(q1, q3));
	uk = uk_make(KEVENT_POLL, efd, 0, POLLIN, 0, 1);
	ASSERT_EQ(0, ctl1(q3, KEVENT_CTL_ADD, &uk));
	uk = uk_user(2, 0);
	ASSERT_EQ(0, ctl1(q1, KEVENT_CTL_ADD, &uk));
	ASSERT_EQ(0, aio_poll_start(&a, q1, efd));

	ASSERT_EQ(0, user_ready(q1, 2, 7));
	ASSERT_EQ(POLLIN, aio_poll_result(&a) & POLLIN);
	/* q3 has the eventfd, and q1 its user event and then q3. */
	ASSERT_EQ(1, get_ns(q3, 1, 4, 5 * NSEC_PER_SEC, ev));
	ASSERT_EQ((__u32)efd, ev[0].id.raw[0]);
	ASSERT_EQ(2, get_ns(q1, 2, 4, 5 * NSEC_PER_SEC, ev));
	ASSERT_EQ(KEVENT_USER, ev[0].type);
	ASSERT_EQ((__u32)q3, ev[1].id.raw[0]);
	close(efd);
	close_queues(q, 2);
}

TEST_HARNESS_MAIN
