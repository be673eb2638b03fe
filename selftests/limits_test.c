// SPDX-License-Identifier: GPL-2.0
/*
 * max_user_requests (issue 11, section 6): the most requests, of every
 * type, that the queues opened by one user may hold together; ADD beyond
 * it is ENOSPC. Charged to the user who opened the queue, given back when
 * requests are removed or delivered one-shot, and when queues close.
 * Today's main has no such parameter: the fixture's setup fails.
 *
 * The tests lower the limit to LIMIT and restore the value they found in
 * the fixture's teardown, which runs in the parent process so that it
 * runs whatever the test did (and as root: the test drops privileges).
 */
#define _GNU_SOURCE
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "kevent_test.h"
#include "kselftest_harness.h"

#define PARAM "/sys/module/kevent/parameters/max_user_requests"
#define LIMIT 100
#define LIMIT_STR "100\n"
#define NOBODY 65534
#define OTHER 65533
#define HOUR_MS 3600000

FIXTURE(limit)
{
	char saved[64];
	bool changed;
};

FIXTURE_SETUP(limit)
{
	char *end;
	long v;
	int q = open_queue();

	if (q < 0 && errno == ENOENT)
		SKIP(return, KEVENT_DEVICE " is missing: is the module loaded?");
	ASSERT_GE(q, 0);
	close(q);
	if (getuid() != 0)
		SKIP(return, "changing the limit needs root");
	ASSERT_EQ(0, param_read(PARAM, self->saved, sizeof(self->saved)));
	v = strtol(self->saved, &end, 10);
	ASSERT_EQ('\n', *end);
	/* "Large, a share of memory": at least above what the tests set. */
	ASSERT_GT(v, LIMIT) TH_LOG("default %ld", v);
	TH_LOG("max_user_requests was %ld", v);
	/* Last: a failed setup runs no teardown. */
	self->changed = true;
	ASSERT_EQ(0, param_write(PARAM, LIMIT_STR));
}

FIXTURE_TEARDOWN_PARENT(limit)
{
	char now[64];

	if (!self->changed)
		return;
	EXPECT_EQ(0, param_write(PARAM, self->saved));
	EXPECT_EQ(0, param_read(PARAM, now, sizeof(now)));
	EXPECT_STREQ(self->saved, now);
}

/*
 * The i-th request of a user's set: mostly user events, every fifth a
 * timer (an hour away) and every fifth a watch of pipe rfd, so that every
 * type counts. Identities differ by the cookie.
 */
static struct ukevent nth(int i, int rfd)
{
	switch (i % 5) {
	case 1:
		return uk_make(KEVENT_TIMER, HOUR_MS, 0, 0, 0, 1000 + i);
	case 2:
		return uk_make(KEVENT_POLL, rfd, 0, POLLIN, 0, 1000 + i);
	default:
		return uk_make(KEVENT_USER, i, 0, 0, 0, 1000 + i);
	}
}

/* ADD of the i-th request to q: 0, the entry's errno, or -errno. */
static int add_nth(int q, int i, int rfd)
{
	struct ukevent uk = nth(i, rfd);

	return ctl1(q, KEVENT_CTL_ADD, &uk);
}

static int add_user(int q, __u32 id)
{
	struct ukevent uk = uk_user(id, 0);

	return ctl1(q, KEVENT_CTL_ADD, &uk);
}

static int remove_nth(int q, int i, int rfd)
{
	struct ukevent uk = nth(i, rfd);

	return ctl1(q, KEVENT_CTL_REMOVE, &uk);
}

/* Every type is refused at the limit. */
static void expect_full(struct __test_metadata *_metadata, int q, int rfd, int line)
{
	int i;

	for (i = 0; i < 5; i++)
		EXPECT_EQ(ENOSPC, add_nth(q, 5000 + i, rfd)) TH_LOG("line %d, type %d", line, i);
}

/*
 * ADD in q until it succeeds, for up to 5 s: what a closed queue gives
 * back must come back, if not necessarily by the time close() returns.
 */
static int add_eventually(int q, int i, int rfd)
{
	int64_t deadline = now_ns() + 5 * NSEC_PER_SEC;
	int r;

	while ((r = add_nth(q, i, rfd)) == ENOSPC && now_ns() < deadline)
		usleep(10000);
	return r;
}

/*
 * As uid NOBODY: two queues filled alternately to LIMIT (failed ADDs do
 * not count), then ENOSPC in both, in a third queue, in one made by
 * KEVENT_CTL_INIT and in another process of the same user; REMOVE and a
 * one-shot delivery each give one back; closing a queue gives back all
 * it held, and no more.
 */
static void fill_two_queues(struct __test_metadata *_metadata)
{
	int q[2], p[2], in[2] = { 0, 0 }, q3, q4, i, k;
	struct ukevent uk, ev[2];
	pid_t pid;

	ASSERT_EQ(0, become(NOBODY));
	q[0] = open_queue();
	q[1] = open_queue();
	ASSERT_GE(q[0], 0);
	ASSERT_GE(q[1], 0);
	ASSERT_EQ(0, pipe2(p, O_CLOEXEC | O_NONBLOCK));
	for (i = 0; i < LIMIT; i++) {
		ASSERT_EQ(0, add_nth(q[i % 2], i, p[0])) TH_LOG("request %d", i);
		in[i % 2]++;
		if (i % 10 == 0)
			ASSERT_EQ(EEXIST, add_nth(q[i % 2], i, p[0]));
	}
	expect_full(_metadata, q[0], p[0], __LINE__);
	expect_full(_metadata, q[1], p[0], __LINE__);
	q3 = open_queue();
	ASSERT_GE(q3, 0);
	expect_full(_metadata, q3, p[0], __LINE__);
	q4 = kevent_ctl(q[0], KEVENT_CTL_INIT, 0, NULL);
	ASSERT_GE(q4, 0);
	expect_full(_metadata, q4, p[0], __LINE__);
	close(q4);
	/* Another process of the same user, with a queue of its own. */
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int mine = open_queue();

		_exit(mine < 0 ? 1 : add_nth(mine, 0, p[0]) == ENOSPC ? 0 : 2);
	}
	ASSERT_EQ(0, reap(pid));

	/* REMOVE in one queue makes room in the other. */
	ASSERT_EQ(0, remove_nth(q[0], 0, p[0]));
	in[0]--;
	ASSERT_EQ(0, add_nth(q[1], 6000, p[0]));
	in[1]++;
	expect_full(_metadata, q[1], p[0], __LINE__);
	/* A one-shot request gives its place back when it is delivered. */
	ASSERT_EQ(0, remove_nth(q[0], 2, p[0]));
	in[0]--;
	uk = uk_user(7000, KEVENT_REQ_ONESHOT);
	ASSERT_EQ(0, ctl1(q[0], KEVENT_CTL_ADD, &uk));
	expect_full(_metadata, q[0], p[0], __LINE__);
	ASSERT_EQ(0, user_ready(q[0], 7000, 1));
	ASSERT_EQ(1, get_ns(q[0], 1, 2, 0, ev));
	ASSERT_EQ(7000, ev[0].id.raw[0]);
	ASSERT_EQ(0, add_nth(q3, 7001, p[0]));
	expect_full(_metadata, q3, p[0], __LINE__);
	ASSERT_EQ(0, remove_nth(q3, 7001, p[0]));
	ASSERT_EQ(0, add_nth(q[0], 7002, p[0]));
	in[0]++;
	expect_full(_metadata, q[0], p[0], __LINE__);

	/* Closed, q[0] gives back exactly what it held. */
	k = in[0];
	ASSERT_EQ(LIMIT / 2 - 1, k);
	ASSERT_EQ(LIMIT, in[0] + in[1]);
	ASSERT_EQ(0, close(q[0]));
	for (i = 0; i < k; i++)
		ASSERT_EQ(0, add_eventually(q3, 8000 + i, p[0])) TH_LOG("request %d of %d", i, k);
	expect_full(_metadata, q3, p[0], __LINE__);
	expect_full(_metadata, q[1], p[0], __LINE__);
	close(q[1]);
	close(q3);
	close(p[0]);
	close(p[1]);
}

TEST_F(limit, one_user_across_queues_and_processes)
{
	char now[64];
	pid_t pid;

	ASSERT_EQ(0, param_read(PARAM, now, sizeof(now)));
	ASSERT_STREQ(LIMIT_STR, now);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		fill_two_queues(_metadata);
		_exit(0);
	}
	ASSERT_EQ(0, reap(pid));
}

/*
 * Users are charged separately: while NOBODY is at the limit, OTHER fills
 * its own LIMIT, and root (this process) can still add.
 */
TEST_F(limit, users_are_charged_separately)
{
	int full[2], go[2], q, i;
	pid_t a, b;
	char c;

	ASSERT_EQ(0, pipe2(full, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(go, O_CLOEXEC));
	a = fork();
	ASSERT_GE(a, 0);
	if (a == 0) {
		close(full[0]);
		close(go[1]);
		q = become(NOBODY) ? -1 : open_queue();
		if (q < 0)
			_exit(1);
		for (i = 0; i < LIMIT; i++)
			if (add_user(q, i))
				_exit(2);
		if (add_user(q, LIMIT) != ENOSPC)
			_exit(3);
		if (write(full[1], "f", 1) != 1)
			_exit(4);
		/* Holds its requests until the parent says go (or dies). */
		if (read(go[0], &c, 1) < 0)
			_exit(5);
		_exit(add_user(q, LIMIT) == ENOSPC ? 0 : 6);
	}
	close(full[1]);
	close(go[0]);
	ASSERT_EQ(1, read(full[0], &c, 1));

	b = fork();
	ASSERT_GE(b, 0);
	if (b == 0) {
		q = become(OTHER) ? -1 : open_queue();
		if (q < 0)
			_exit(1);
		for (i = 0; i < LIMIT; i++)
			if (add_user(q, i))
				_exit(2);
		_exit(add_user(q, LIMIT) == ENOSPC ? 0 : 3);
	}
	EXPECT_EQ(0, reap(b));

	q = open_queue();
	ASSERT_GE(q, 0);
	for (i = 0; i < 10; i++)
		EXPECT_EQ(0, add_user(q, i)) TH_LOG("root's request %d", i);
	close(q);
	ASSERT_EQ(1, write(go[1], "g", 1));
	EXPECT_EQ(0, reap(a));
	close(full[0]);
	close(go[1]);
}

/*
 * The user who opened a queue is charged for it, whoever adds: a queue
 * OTHER opened, then used by NOBODY once NOBODY's own are full, takes
 * OTHER's LIMIT. Real and effective uid are the same at every open.
 */
static void charged_to_the_opener(struct __test_metadata *_metadata)
{
	int theirs, mine, i;

	ASSERT_EQ(0, setresuid(OTHER, OTHER, 0));
	theirs = open_queue();
	ASSERT_GE(theirs, 0);
	ASSERT_EQ(0, setresuid(0, 0, 0));
	ASSERT_EQ(0, become(NOBODY));
	mine = open_queue();
	ASSERT_GE(mine, 0);
	for (i = 0; i < LIMIT; i++)
		ASSERT_EQ(0, add_user(mine, i)) TH_LOG("request %d", i);
	EXPECT_EQ(ENOSPC, add_user(mine, LIMIT));
	for (i = 0; i < LIMIT; i++)
		ASSERT_EQ(0, add_user(theirs, i)) TH_LOG("request %d in OTHER's queue", i);
	EXPECT_EQ(ENOSPC, add_user(theirs, LIMIT));
	EXPECT_EQ(ENOSPC, add_user(mine, LIMIT));
	close(mine);
	close(theirs);
}

TEST_F(limit, charged_to_the_user_who_opened_the_queue)
{
	pid_t pid = fork();

	ASSERT_GE(pid, 0);
	if (pid == 0) {
		charged_to_the_opener(_metadata);
		_exit(0);
	}
	ASSERT_EQ(0, reap(pid));
}

/* Only root writes the parameter. */
TEST_F(limit, only_root_writes_the_parameter)
{
	char now[64];
	pid_t pid = fork();

	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int fd;

		if (become(NOBODY))
			_exit(1);
		fd = open(PARAM, O_WRONLY | O_CLOEXEC);
		_exit(fd < 0 && errno == EACCES ? 0 : 2);
	}
	ASSERT_EQ(0, reap(pid));
	ASSERT_EQ(0, param_read(PARAM, now, sizeof(now)));
	EXPECT_STREQ(LIMIT_STR, now);
}

TEST_HARNESS_MAIN
