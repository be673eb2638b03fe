// SPDX-License-Identifier: GPL-2.0
/*
 * libkevent-epoll (compat/epoll/): epoll over /dev/kevent, as an unmodified
 * program sees it. Built with the library and the --wrap flags (see the
 * Makefile), so every epoll_* call and syscall(__NR_epoll_*) below goes to
 * the library; __real_epoll_*() reach the kernel's epoll, for comparison.
 *
 * What is checked: each watch's 64-bit data and its change by MOD; the
 * event bits (RDHUP, PRI, the always-reported ERR and HUP); level and
 * edge; EPOLLONESHOT (disabled, not removed; MOD re-arms); EPOLLEXCLUSIVE
 * and EPOLLWAKEUP; epoll's errnos; nested instances and kernel epoll;
 * timeouts, signal masks, EINTR; closed, dup'ed and dup2'ed fds; closed,
 * dup'ed and forked instances; several threads on one instance.
 * compat/epoll/README.md lists the differences from epoll that remain;
 * tests marked "documented difference" pin them.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "kevent_test.h"
#include "kselftest_harness.h"
#include "kevent-epoll.h"

/* The C library's epoll, which --wrap leaves reachable under these names. */
int __real_epoll_create1(int flags);
int __real_epoll_ctl(int epfd, int op, int fd, struct epoll_event *event);
int __real_epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout);
long __real_syscall(long nr, ...);

#define MAX_REQUESTS "/sys/module/kevent/parameters/max_requests"

static int add(int ep, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event e = { .events = events, .data.u64 = data };

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) ? -errno : 0;
}

static int mod(int ep, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event e = { .events = events, .data.u64 = data };

	return epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e) ? -errno : 0;
}

static int del(int ep, int fd)
{
	return epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL) ? -errno : 0;
}

static int wait_ms(int ep, struct epoll_event *ev, int max, int ms)
{
	int n = epoll_wait(ep, ev, max, ms);

	return n < 0 ? -errno : n;
}

static void put(int fd)
{
	if (write(fd, "x", 1) != 1)
		abort();
}

static void drain(int fd)
{
	char buf[256];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

/* A new pipe whose read end is number n, free or not: q[0] == n. */
static int pipe_at(int n, int q[2])
{
	if (pipe2(q, O_CLOEXEC | O_NONBLOCK))
		return -1;
	if (q[0] != n) {
		if (dup3(q[0], n, O_CLOEXEC) != n)
			return -1;
		close(q[0]);
		q[0] = n;
	}
	return 0;
}

static int64_t ms_since(int64_t t0)
{
	return (now_ns() - t0) / NSEC_PER_MSEC;
}

FIXTURE(ep)
{
	int ep;
	int p[2];	/* a pipe, non-blocking */
	int s[2];	/* a stream socketpair */
};

FIXTURE_SETUP(ep)
{
	self->ep = epoll_create1(EPOLL_CLOEXEC);
	if (self->ep < 0 && errno == ENOENT)
		SKIP(return, KEVENT_DEVICE " is missing: is the module loaded?");
	ASSERT_GE(self->ep, 0);
	ASSERT_EQ(0, pipe2(self->p, O_CLOEXEC | O_NONBLOCK));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, self->s));
	signal(SIGPIPE, SIG_IGN);
}

FIXTURE_TEARDOWN(ep)
{
	if (self->ep >= 0)
		close(self->ep);
}

/* ---- instances ---- */

TEST(create_checks_its_arguments)
{
	int fd;

	EXPECT_EQ(-1, epoll_create(0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, epoll_create(-1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, epoll_create1(O_NONBLOCK));
	EXPECT_EQ(EINVAL, errno);
	fd = epoll_create(1);
	if (fd < 0 && errno == ENOENT)
		SKIP(return, KEVENT_DEVICE " is missing: is the module loaded?");
	ASSERT_GE(fd, 0);
	EXPECT_EQ(0, fcntl(fd, F_GETFD));
	close(fd);
	fd = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(FD_CLOEXEC, fcntl(fd, F_GETFD));
	close(fd);
}

/* The wrapped calls really are the library's: the fd is a kevent queue. */
TEST_F(ep, an_instance_is_a_kevent_queue)
{
	struct stat dev, st;
	struct epoll_event e;

	ASSERT_EQ(0, stat(KEVENT_DEVICE, &dev));
	ASSERT_EQ(0, fstat(self->ep, &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(dev.st_rdev, st.st_rdev);
	/*
	 * The kernel's epoll does not take it for one of its own. Asked
	 * directly: arm64's C library makes epoll_wait() a call of
	 * epoll_pwait(), which --wrap sends to the library.
	 */
	EXPECT_EQ(-1, __real_syscall(__NR_epoll_pwait, self->ep, &e, 1, 0, NULL, 8));
	EXPECT_EQ(EINVAL, errno);
}

/* ---- data ---- */

TEST_F(ep, data_is_returned_and_mod_changes_it)
{
	struct epoll_event ev[4];

	ASSERT_EQ(0, add(self->ep, self->s[0], EPOLLIN, 0x0123456789abcdefULL));
	EXPECT_EQ(0, wait_ms(self->ep, ev, 4, 0));
	put(self->s[1]);
	ASSERT_EQ(1, wait_ms(self->ep, ev, 4, 1000));
	EXPECT_EQ(EPOLLIN, ev[0].events);
	EXPECT_EQ(0x0123456789abcdefULL, ev[0].data.u64);
	/* The cookie of a kevent request cannot change; the data can. */
	ASSERT_EQ(0, mod(self->ep, self->s[0], EPOLLIN | EPOLLOUT, 0xfedcba9876543210ULL));
	ASSERT_EQ(1, wait_ms(self->ep, ev, 4, 0));
	EXPECT_EQ(EPOLLIN | EPOLLOUT, ev[0].events);
	EXPECT_EQ(0xfedcba9876543210ULL, ev[0].data.u64);
	ASSERT_EQ(0, mod(self->ep, self->s[0], EPOLLOUT, 7));
	ASSERT_EQ(1, wait_ms(self->ep, ev, 4, 0));
	EXPECT_EQ(EPOLLOUT, ev[0].events);
	EXPECT_EQ(7, ev[0].data.u64);
}

TEST_F(ep, many_watches_each_with_its_data)
{
	enum { N = 100 };
	int p[N][2], i, n, seen[N] = { 0 };
	struct epoll_event ev[2 * N];

	for (i = 0; i < N; i++) {
		ASSERT_EQ(0, pipe2(p[i], O_CLOEXEC | O_NONBLOCK));
		ASSERT_EQ(0, add(self->ep, p[i][0], EPOLLIN, (1ULL << 40) + i));
		put(p[i][1]);
	}
	n = wait_ms(self->ep, ev, 2 * N, 1000);
	ASSERT_EQ(N, n);
	for (i = 0; i < n; i++) {
		uint64_t d = ev[i].data.u64 - (1ULL << 40);

		ASSERT_LT(d, N);
		EXPECT_EQ(0, seen[d]++);
		EXPECT_EQ(EPOLLIN, ev[i].events);
	}
	/* maxevents bounds one call; level-triggered, all are there again. */
	EXPECT_EQ(10, wait_ms(self->ep, ev, 10, 0));
	EXPECT_EQ(1, wait_ms(self->ep, ev, 1, 0));
	for (i = 0; i < N; i++) {
		close(p[i][0]);
		close(p[i][1]);
	}
}

TEST_F(ep, a_deleted_watch_reports_nothing_and_can_come_back)
{
	struct epoll_event ev[4];

	put(self->p[1]);
	ASSERT_EQ(0, add(self->ep, self->p[0], EPOLLIN, 1));
	EXPECT_EQ(0, del(self->ep, self->p[0]));
	EXPECT_EQ(0, wait_ms(self->ep, ev, 4, 0));
	ASSERT_EQ(0, add(self->ep, self->p[0], EPOLLIN, 2));
	ASSERT_EQ(1, wait_ms(self->ep, ev, 4, 0));
	EXPECT_EQ(2, ev[0].data.u64);
}

/* ---- event bits ---- */

TEST_F(ep, rdhup_when_the_peer_shuts_down_writing)
{
	struct epoll_event ev[4];

	ASSERT_EQ(0, add(self->ep, self->s[0], EPOLLIN | EPOLLRDHUP, 3));
	EXPECT_EQ(0, wait_ms(self->ep, ev, 4, 0));
	ASSERT_EQ(0, shutdown(self->s[1], SHUT_WR));
	ASSERT_EQ(1, wait_ms(self->ep, ev, 4, 1000));
	EXPECT_EQ(EPOLLIN | EPOLLRDHUP, ev[0].events);
	/* Without EPOLLRDHUP asked for, it is not reported. */
	ASSERT_EQ(0, mod(self->ep, self->s[0], EPOLLIN, 3));
	ASSERT_EQ(1, wait_ms(self->ep, ev, 4, 0));
	EXPECT_EQ(EPOLLIN, ev[0].events);
}

TEST_F(ep, pri_for_out_of_band_data)
{
	struct epoll_event ev[4];

	ASSERT_EQ(0, add(self->ep, self->s[0], EPOLLPRI, 4));
	if (send(self->s[1], "!", 1, MSG_OOB) != 1)
		SKIP(return, "no MSG_OOB on AF_UNIX here: %s", strerror(errno));
	ASSERT_EQ(1, wait_ms(self->ep, ev, 4, 1000));
	EXPECT_EQ(EPOLLPRI, ev[0].events);
}

TEST_F(ep, hup_and_err_are_always_reported)
{
	struct epoll_event ev[4];
	int q[2];

	ASSERT_EQ(0, pipe2(q, O_CLOEXEC | O_NONBLOCK));
	/* No event asked for: EPOLLHUP and EPOLLERR all the same. */
	ASSERT_EQ(0, add(self->ep, self->p[0], 0, 5));
	ASSERT_EQ(0, add(self->ep, q[1], EPOLLET, 6));
	EXPECT_EQ(0, wait_ms(self->ep, ev, 4, 0));
	close(self->p[1]);
	close(q[0]);
	ASSERT_EQ(2, wait_ms(self->ep, ev, 4, 1000));
	if (ev[0].data.u64 != 5) {
		struct epoll_event t = ev[0];

		ev[0] = ev[1];
		ev[1] = t;
	}
	EXPECT_EQ(5, ev[0].data.u64);
	EXPECT_EQ(EPOLLHUP, ev[0].events);
	EXPECT_EQ(6, ev[1].data.u64);
	EXPECT_EQ(EPOLLERR, ev[1].events);
	close(q[1]);
}

TEST_F(ep, norm_band_bits_and_unknown_bits)
{
	struct epoll_event ev[4];

	put(self->p[1]);
	/* Only the bits asked for come back. */
	ASSERT_EQ(0, add(self->ep, self->p[0], EPOLLRDNORM, 1));
	ASSERT_EQ(0, add(self->ep, self->p[1], EPOLLOUT | EPOLLWRNORM, 2));
	ASSERT_EQ(2, wait_ms(self->ep, ev, 4, 0));
	EXPECT_EQ(ev[0].data.u64 == 1 ? EPOLLRDNORM : EPOLLOUT | EPOLLWRNORM, ev[0].events);
	EXPECT_EQ(ev[1].data.u64 == 1 ? EPOLLRDNORM : EPOLLOUT | EPOLLWRNORM, ev[1].events);
	/* epoll takes bits it does not know, and ignores them. */
	EXPECT_EQ(0, add(self->ep, self->s[0], EPOLLOUT | (1u << 20) | (1u << 27), 3));
	EXPECT_EQ(0, add(self->ep, self->s[1], EPOLLOUT | EPOLLWAKEUP, 4));
	EXPECT_EQ(4, wait_ms(self->ep, ev, 4, 0));
}

/* ---- level and edge ---- */

TEST_F(ep, level_triggered_until_drained)
{
	struct epoll_event ev[4];

	ASSERT_EQ(0, add(self->ep, self->p[0], EPOLLIN, 1));
	put(self->p[1]);
	EXPECT_EQ(1, wait_ms(self->ep, ev, 4, 1000));
	EXPECT_EQ(1, wait_ms(self->ep, ev, 4, 0));
	drain(self->p[0]);
	EXPECT_EQ(0, wait_ms(self->ep, ev, 4, 0));
}

TEST_F(ep, edge_triggered_once_per_write)
{
	struct epoll_event ev[4];

	ASSERT_EQ(0, add(self->ep, self->p[0], EPOLLIN | EPOLLET, 1));
	put(self->p[1]);
	EXPECT_EQ(1, wait_ms(self->ep, ev, 4, 1000));
	EXPECT_EQ(0, wait_ms(self->ep, ev, 4, 0));
	put(self->p[1]);
	EXPECT_EQ(1, wait_ms(self->ep, ev, 4, 1000));
	EXPECT_EQ(0, wait_ms(self->ep, ev, 4, 0));
}

/* ---- EPOLLONESHOT ---- */

TEST_F(ep, oneshot_is_disabled_not_removed_and_mod_rearms_it)
{
	struct epoll_event ev[4];

	ASSERT_EQ(0, add(self->ep, self->p[0], EPOLLIN | EPOLLONESHOT, 1));
	put(self->p[1]);
	ASSERT_EQ(1, wait_ms(self->ep, ev, 4, 1000));
	EXPECT_EQ(1, ev[0].data.u64);
	/* Disabled: still readable, more data, no event. */
	EXPECT_EQ(0, wait_ms(self->ep, ev, 4, 0));
	put(self->p[1]);
	EXPECT_EQ(0, wait_ms(self->ep, ev, 4, 50));
	/* Still there. */
	EXPECT_EQ(-EEXIST, add(self->ep, self->p[0], EPOLLIN, 9));
	/* MOD re-arms it and looks at the file at once. */
	ASSERT_EQ(0, mod(self->ep, self->p[0], EPOLLIN | EPOLLONESHOT, 2));
	ASSERT_EQ(1, wait_ms(self->ep, ev, 4, 0));
	EXPECT_EQ(2, ev[0].data.u64);
	EXPECT_EQ(0, wait_ms(self->ep, ev, 4, 0));
	/* DEL of a disabled watch succeeds, once. */
	EXPECT_EQ(0, del(self->ep, self->p[0]));
	EXPECT_EQ(-ENOENT, del(self->ep, self->p[0]));
	EXPECT_EQ(-ENOENT, mod(self->ep, self->p[0], EPOLLIN, 3));
}

TEST_F(ep, oneshot_mod_without_it_makes_a_plain_watch)
{
	struct epoll_event ev[4];

	put(self->p[1]);
	ASSERT_EQ(0, add(self->ep, self->p[0], EPOLLIN | EPOLLET | EPOLLONESHOT, 1));
	ASSERT_EQ(1, wait_ms(self->ep, ev, 4, 0));
	EXPECT_EQ(0, wait_ms(self->ep, ev, 4, 0));
	ASSERT_EQ(0, mod(self->ep, self->p[0], EPOLLIN, 2));
	EXPECT_EQ(1, wait_ms(self->ep, ev, 4, 0));
	EXPECT_EQ(1, wait_ms(self->ep, ev, 4, 0));
}

/*
 * The thread-pool server's pattern: a connection watched EPOLLONESHOT is
 * closed without DEL once handled; the next connection gets its number.
 */
TEST_F(ep, oneshot_fired_then_closed_its_number_can_be_added_again)
{
	struct epoll_event ev[4];
	int n = self->p[0], q[2];

	ASSERT_EQ(0, add(self->ep, n, EPOLLIN | EPOLLONESHOT, 1));
	put(self->p[1]);
	ASSERT_EQ(1, wait_ms(self->ep, ev, 4, 1000));
	close(self->p[0]);
	close(self->p[1]);
	ASSERT_EQ(0, pipe_at(n, q));
	ASSERT_EQ(0, add(self->ep, n, EPOLLIN | EPOLLONESHOT, 2));
	put(q[1]);
	ASSERT_EQ(1, wait_ms(self->ep, ev, 4, 1000));
	EXPECT_EQ(2, ev[0].data.u64);
	close(q[1]);
}

struct waiters {
	int ep;
	int ms;
	atomic_int events;
	atomic_int bad;
	uint64_t want;
};

static void *wait_thread(void *arg)
{
	struct waiters *w = arg;
	struct epoll_event ev[4];
	int n = epoll_wait(w->ep, ev, 4, w->ms), i;

	for (i = 0; i < n; i++) {
		atomic_fetch_add(&w->events, 1);
		if (ev[i].data.u64 != w->want)
			atomic_fetch_add(&w->bad, 1);
	}
	return NULL;
}

/* Several threads, a level-triggered file that stays ready: one event. */
TEST_F(ep, oneshot_exactly_once_among_waiters)
{
	enum { THREADS = 4, ROUNDS = 10 };
	struct waiters w = { .ep = self->ep, .ms = 200, .want = 77 };
	struct epoll_event ev[4];
	pthread_t t[THREADS];
	int r, i;

	ASSERT_EQ(0, add(self->ep, self->p[0], EPOLLIN | EPOLLONESHOT, 77));
	put(self->p[1]);
	ASSERT_EQ(1, wait_ms(self->ep, ev, 4, 0));
	for (r = 0; r < ROUNDS; r++) {
		atomic_store(&w.events, 0);
		for (i = 0; i < THREADS; i++)
			ASSERT_EQ(0, pthread_create(&t[i], NULL, wait_thread, &w));
		if (r % 2)
			usleep(20000);	/* all asleep first, or not */
		ASSERT_EQ(0, mod(self->ep, self->p[0], EPOLLIN | EPOLLONESHOT, 77));
		for (i = 0; i < THREADS; i++)
			pthread_join(t[i], NULL);
		ASSERT_EQ(1, atomic_load(&w.events)) TH_LOG("round %d", r);
	}
	EXPECT_EQ(0, atomic_load(&w.bad));
}

/* ---- EPOLLEXCLUSIVE and EPOLLWAKEUP ---- */

TEST_F(ep, exclusive_rules)
{
	struct epoll_event ev[4];
	int other = epoll_create1(EPOLL_CLOEXEC), kernel = __real_epoll_create1(EPOLL_CLOEXEC);

	ASSERT_GE(other, 0);
	ASSERT_GE(kernel, 0);
	EXPECT_EQ(0, add(self->ep, self->p[1], EPOLLOUT | EPOLLEXCLUSIVE | EPOLLET | EPOLLWAKEUP, 1));
	ASSERT_EQ(1, wait_ms(self->ep, ev, 4, 0));
	EXPECT_EQ(EPOLLOUT, ev[0].events);
	/* Only at ADD: MOD of an exclusive watch, or to one, is EINVAL. */
	EXPECT_EQ(-EINVAL, mod(self->ep, self->p[1], EPOLLOUT, 2));
	EXPECT_EQ(-EINVAL, mod(self->ep, self->p[1], EPOLLOUT | EPOLLEXCLUSIVE, 2));
	ASSERT_EQ(0, add(self->ep, self->p[0], EPOLLIN, 3));
	EXPECT_EQ(-EINVAL, mod(self->ep, self->p[0], EPOLLIN | EPOLLEXCLUSIVE, 3));
	/* Not with other bits, nor on an epoll instance. */
	EXPECT_EQ(-EINVAL, add(self->ep, self->s[0], EPOLLIN | EPOLLEXCLUSIVE | EPOLLRDHUP, 4));
	EXPECT_EQ(-EINVAL, add(self->ep, self->s[0], EPOLLIN | EPOLLEXCLUSIVE | EPOLLONESHOT, 4));
	EXPECT_EQ(-EINVAL, add(self->ep, self->s[0], EPOLLIN | EPOLLEXCLUSIVE | EPOLLPRI, 4));
	EXPECT_EQ(-EINVAL, add(self->ep, other, EPOLLIN | EPOLLEXCLUSIVE, 4));
	EXPECT_EQ(-EINVAL, add(self->ep, kernel, EPOLLIN | EPOLLEXCLUSIVE, 4));
	EXPECT_EQ(0, add(self->ep, other, EPOLLIN, 4));
	EXPECT_EQ(0, del(self->ep, self->p[1]));
	close(other);
	close(kernel);
}

/* Two instances, one file, both exclusive: at least one wakes. */
TEST(exclusive_wakes_at_least_one)
{
	struct waiters w[2] = { { .ms = 500, .want = 5 }, { .ms = 500, .want = 5 } };
	pthread_t t[2];
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), i;
	uint64_t one = 1;

	for (i = 0; i < 2; i++) {
		w[i].ep = epoll_create1(EPOLL_CLOEXEC);
		if (w[i].ep < 0 && errno == ENOENT)
			SKIP(return, KEVENT_DEVICE " is missing: is the module loaded?");
		ASSERT_GE(w[i].ep, 0);
		ASSERT_EQ(0, add(w[i].ep, efd, EPOLLIN | EPOLLEXCLUSIVE, 5));
		ASSERT_EQ(0, pthread_create(&t[i], NULL, wait_thread, &w[i]));
	}
	usleep(50000);
	ASSERT_EQ(8, write(efd, &one, 8));
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	EXPECT_GE(atomic_load(&w[0].events) + atomic_load(&w[1].events), 1);
	EXPECT_EQ(0, atomic_load(&w[0].bad) + atomic_load(&w[1].bad));
	close(w[0].ep);
	close(w[1].ep);
	close(efd);
}

/* ---- errors ---- */

TEST_F(ep, ctl_errors_as_epoll)
{
	struct epoll_event e = { .events = EPOLLIN };
	int file = open("/proc/self/exe", O_RDONLY | O_CLOEXEC), d, closed;

	ASSERT_GE(file, 0);
	closed = dup(self->p[0]);
	ASSERT_GE(closed, 0);
	close(closed);

	/* EBADF: either fd. */
	EXPECT_EQ(-EBADF, add(-1, self->p[0], EPOLLIN, 0));
	EXPECT_EQ(-EBADF, add(closed, self->p[0], EPOLLIN, 0));
	EXPECT_EQ(-EBADF, add(self->ep, closed, EPOLLIN, 0));
	EXPECT_EQ(-EBADF, add(self->ep, -1, EPOLLIN, 0));
	EXPECT_EQ(-EBADF, mod(self->ep, closed, EPOLLIN, 0));
	EXPECT_EQ(-EBADF, del(self->ep, closed));
	/* EPERM: a file with no poll method, whatever the op. */
	EXPECT_EQ(-EPERM, add(self->ep, file, EPOLLIN, 0));
	EXPECT_EQ(-EPERM, mod(self->ep, file, EPOLLIN, 0));
	EXPECT_EQ(-EPERM, del(self->ep, file));
	EXPECT_EQ(-1, epoll_ctl(self->ep, 42, file, &e));
	EXPECT_EQ(EPERM, errno);
	/* EINVAL: itself, a bad op, an epfd that is no epoll instance. */
	EXPECT_EQ(-EINVAL, add(self->ep, self->ep, EPOLLIN, 0));
	d = dup(self->ep);
	ASSERT_GE(d, 0);
	EXPECT_EQ(-EINVAL, add(self->ep, d, EPOLLIN, 0));
	EXPECT_EQ(-EINVAL, mod(self->ep, d, EPOLLIN, 0));
	EXPECT_EQ(-EINVAL, del(self->ep, d));
	close(d);
	EXPECT_EQ(-1, epoll_ctl(self->ep, 42, self->p[0], &e));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-EINVAL, add(self->p[0], self->p[1], EPOLLOUT, 0));
	EXPECT_EQ(-EINVAL, add(file, self->p[1], EPOLLOUT, 0));
	/* EEXIST, ENOENT. */
	EXPECT_EQ(0, add(self->ep, self->p[0], EPOLLIN, 0));
	EXPECT_EQ(-EEXIST, add(self->ep, self->p[0], EPOLLIN, 0));
	EXPECT_EQ(-ENOENT, mod(self->ep, self->p[1], EPOLLOUT, 0));
	EXPECT_EQ(-ENOENT, del(self->ep, self->p[1]));
	/* EFAULT: no event for ADD or MOD; DEL needs none. */
	EXPECT_EQ(-1, epoll_ctl(self->ep, EPOLL_CTL_ADD, self->p[1], NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, epoll_ctl(self->ep, EPOLL_CTL_MOD, self->p[0], NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(0, epoll_ctl(self->ep, EPOLL_CTL_DEL, self->p[0], NULL));
	close(file);
}

TEST_F(ep, wait_errors_as_epoll)
{
	struct epoll_event ev[4];
	struct timespec bad = { .tv_sec = 0, .tv_nsec = 1000000000L };
	struct timespec neg = { .tv_sec = -1, .tv_nsec = 0 };
	/* Hidden from the compiler, which knows ev's size. */
	volatile int zero = 0, minus = -1, huge = INT_MAX;

	EXPECT_EQ(-EINVAL, wait_ms(self->ep, ev, zero, 0));
	EXPECT_EQ(-EINVAL, wait_ms(self->ep, ev, minus, 0));
	EXPECT_EQ(-EINVAL, wait_ms(self->ep, ev, huge, 0));
	EXPECT_EQ(-EBADF, wait_ms(-1, ev, 4, 0));
	EXPECT_EQ(-EINVAL, wait_ms(self->p[0], ev, 4, 0));
	EXPECT_EQ(-1, epoll_pwait2(self->ep, ev, 4, &bad, NULL));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, epoll_pwait2(self->ep, ev, 4, &neg, NULL));
	EXPECT_EQ(EINVAL, errno);
}

TEST(nesting_loops_and_depth_are_eloop)
{
	enum { N = 6 };
	int e[N], i;

	for (i = 0; i < N; i++) {
		e[i] = epoll_create1(EPOLL_CLOEXEC);
		if (e[i] < 0 && errno == ENOENT)
			SKIP(return, KEVENT_DEVICE " is missing: is the module loaded?");
		ASSERT_GE(e[i], 0);
	}
	/* e0 -> e1 -> e2 -> e3 -> e4: four levels of watches, epoll's most. */
	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, add(e[i], e[i + 1], EPOLLIN, i));
	EXPECT_EQ(-ELOOP, add(e[4], e[5], EPOLLIN, 4));
	EXPECT_EQ(-ELOOP, add(e[5], e[0], EPOLLIN, 5));
	/* A loop. */
	EXPECT_EQ(-ELOOP, add(e[2], e[0], EPOLLIN, 6));
	EXPECT_EQ(-ELOOP, add(e[1], e[0], EPOLLIN, 7));
	for (i = 0; i < N; i++)
		close(e[i]);
}

FIXTURE(limit)
{
	int ep;
	char saved[32];
	bool changed;
};

FIXTURE_SETUP(limit)
{
	int fd, n;

	self->ep = epoll_create1(EPOLL_CLOEXEC);
	if (self->ep < 0 && errno == ENOENT)
		SKIP(return, KEVENT_DEVICE " is missing: is the module loaded?");
	ASSERT_GE(self->ep, 0);
	if (getuid() != 0)
		SKIP(return, "changing max_requests needs root");
	fd = open(MAX_REQUESTS, O_RDWR | O_CLOEXEC);
	ASSERT_GE(fd, 0);
	n = read(fd, self->saved, sizeof(self->saved) - 1);
	ASSERT_GT(n, 0);
	self->saved[n] = 0;
	self->changed = true;
	ASSERT_EQ(2, pwrite(fd, "8\n", 2, 0));
	close(fd);
}

FIXTURE_TEARDOWN_PARENT(limit)
{
	int fd;

	if (!self->changed)
		return;
	fd = open(MAX_REQUESTS, O_WRONLY | O_CLOEXEC);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(strlen(self->saved), write(fd, self->saved, strlen(self->saved)));
	close(fd);
}

/* ENOSPC at the queue's max_requests, as at epoll's max_user_watches. */
TEST_F(limit, enospc_when_the_queue_is_full)
{
	int fds[16], i, r = 0;

	for (i = 0; i < 16; i++) {
		fds[i] = eventfd(0, EFD_CLOEXEC);
		ASSERT_GE(fds[i], 0);
	}
	for (i = 0; i < 16 && !r; i++)
		r = add(self->ep, fds[i], EPOLLIN, i);
	EXPECT_EQ(-ENOSPC, r);
	EXPECT_GE(i, 2);
	/* Room again after a DEL. */
	EXPECT_EQ(0, del(self->ep, fds[0]));
	EXPECT_EQ(0, add(self->ep, fds[i - 1], EPOLLIN, 0));
	for (i = 0; i < 16; i++)
		close(fds[i]);
}

/* ---- nesting ---- */

TEST_F(ep, an_instance_of_ours_in_another)
{
	struct epoll_event ev[4];
	int inner = epoll_create1(EPOLL_CLOEXEC);
	struct pollfd p = { .fd = inner, .events = POLLIN };

	ASSERT_GE(inner, 0);
	ASSERT_EQ(0, add(inner, self->p[0], EPOLLIN, 11));
	ASSERT_EQ(0, add(self->ep, inner, EPOLLIN, 22));
	EXPECT_EQ(0, wait_ms(self->ep, ev, 4, 0));
	put(self->p[1]);
	ASSERT_EQ(1, wait_ms(self->ep, ev, 4, 1000));
	EXPECT_EQ(22, ev[0].data.u64);
	EXPECT_EQ(EPOLLIN, ev[0].events);
	ASSERT_EQ(1, wait_ms(inner, ev, 4, 0));
	EXPECT_EQ(11, ev[0].data.u64);
	/* poll() on an instance, as on epoll's. */
	EXPECT_EQ(1, poll(&p, 1, 0));
	EXPECT_EQ(POLLIN, p.revents & POLLIN);
	/*
	 * Drained, and collected from the inner instance once, which takes the
	 * file out of its line: the outer one has nothing either. (epoll's
	 * poll asks the files at once; kevent's sees the line: README.md.)
	 */
	drain(self->p[0]);
	EXPECT_EQ(0, wait_ms(inner, ev, 4, 0));
	EXPECT_EQ(0, wait_ms(self->ep, ev, 4, 0));
	close(inner);
}

TEST_F(ep, kernel_epoll_inside_ours_and_ours_inside_kernel_epoll)
{
	struct epoll_event ev[4], e = { .events = EPOLLIN, .data.u64 = 33 };
	int kernel = __real_epoll_create1(EPOLL_CLOEXEC);

	ASSERT_GE(kernel, 0);
	ASSERT_EQ(0, __real_epoll_ctl(kernel, EPOLL_CTL_ADD, self->p[0], &e));
	ASSERT_EQ(0, add(self->ep, kernel, EPOLLIN, 44));
	put(self->p[1]);
	ASSERT_EQ(1, wait_ms(self->ep, ev, 4, 1000));
	EXPECT_EQ(44, ev[0].data.u64);
	/* The library hands epoll fds that are not its own to the kernel. */
	ASSERT_EQ(1, wait_ms(kernel, ev, 4, 0));
	EXPECT_EQ(33, ev[0].data.u64);
	EXPECT_EQ(0, del(kernel, self->p[0]));
	EXPECT_EQ(0, add(kernel, self->p[0], EPOLLIN, 34));
	ASSERT_EQ(1, __real_epoll_wait(kernel, ev, 4, 0));
	EXPECT_EQ(34, ev[0].data.u64);
	drain(self->p[0]);

	/* The other way round. */
	ASSERT_EQ(0, del(self->ep, kernel));
	ASSERT_EQ(0, add(self->ep, self->s[0], EPOLLIN, 55));
	e.data.u64 = 66;
	ASSERT_EQ(0, __real_epoll_ctl(kernel, EPOLL_CTL_ADD, self->ep, &e));
	EXPECT_EQ(0, __real_epoll_wait(kernel, ev, 4, 0));
	put(self->s[1]);
	ASSERT_EQ(1, __real_epoll_wait(kernel, ev, 4, 1000));
	EXPECT_EQ(66, ev[0].data.u64);
	close(kernel);
}

/* ---- waiting ---- */

TEST_F(ep, timeouts)
{
	struct epoll_event ev[4];
	struct timespec ts = { 0, 30 * NSEC_PER_MSEC };
	int64_t t0 = now_ns();

	EXPECT_EQ(0, wait_ms(self->ep, ev, 4, 0));
	EXPECT_LT(ms_since(t0), 500);
	t0 = now_ns();
	EXPECT_EQ(0, wait_ms(self->ep, ev, 4, 50));
	EXPECT_GE(ms_since(t0), 50);
	t0 = now_ns();
	EXPECT_EQ(0, epoll_pwait2(self->ep, ev, 4, &ts, NULL));
	EXPECT_GE(ms_since(t0), 30);
	t0 = now_ns();
	EXPECT_EQ(0, epoll_pwait(self->ep, ev, 4, 20, NULL));
	EXPECT_GE(ms_since(t0), 20);
}

struct later {
	int fd;
	int ms;
	int ep;		/* for ADD: the instance, else -1 */
};

static void *write_later(void *arg)
{
	struct later *l = arg;

	usleep(l->ms * 1000);
	if (l->ep >= 0)
		add(l->ep, l->fd, EPOLLIN, 99);
	else
		put(l->fd);
	return NULL;
}

TEST_F(ep, forever_until_an_event)
{
	struct epoll_event ev[4];
	struct later l = { .fd = self->p[1], .ms = 50, .ep = -1 };
	pthread_t t;

	ASSERT_EQ(0, add(self->ep, self->p[0], EPOLLIN | EPOLLET, 1));
	ASSERT_EQ(0, pthread_create(&t, NULL, write_later, &l));
	EXPECT_EQ(1, wait_ms(self->ep, ev, 4, -1));
	pthread_join(t, NULL);
	ASSERT_EQ(0, pthread_create(&t, NULL, write_later, &l));
	EXPECT_EQ(1, epoll_pwait2(self->ep, ev, 4, NULL, NULL));
	pthread_join(t, NULL);
}

/* epoll_wait does not hold the instance while it sleeps. */
TEST_F(ep, ctl_while_another_thread_waits)
{
	struct epoll_event ev[4];
	struct later l = { .fd = self->p[0], .ms = 50, .ep = self->ep };
	pthread_t t;

	put(self->p[1]);
	ASSERT_EQ(0, pthread_create(&t, NULL, write_later, &l));
	ASSERT_EQ(1, wait_ms(self->ep, ev, 4, 5000));
	EXPECT_EQ(99, ev[0].data.u64);
	pthread_join(t, NULL);
}

/* epoll_wait ignores O_NONBLOCK on the epoll fd; kevent would not. */
TEST_F(ep, o_nonblock_on_the_instance_changes_nothing)
{
	struct epoll_event ev[4];
	struct later l = { .fd = self->p[1], .ms = 50, .ep = -1 };
	pthread_t t;
	int64_t t0;

	ASSERT_EQ(0, fcntl(self->ep, F_SETFL, O_NONBLOCK));
	ASSERT_EQ(0, add(self->ep, self->p[0], EPOLLIN | EPOLLET, 1));
	EXPECT_EQ(0, wait_ms(self->ep, ev, 4, 0));
	t0 = now_ns();
	EXPECT_EQ(0, wait_ms(self->ep, ev, 4, 30));
	EXPECT_GE(ms_since(t0), 30);
	ASSERT_EQ(0, pthread_create(&t, NULL, write_later, &l));
	EXPECT_EQ(1, wait_ms(self->ep, ev, 4, -1));
	pthread_join(t, NULL);
}

static atomic_int got_signal;

static void on_signal(int sig)
{
	atomic_fetch_add(&got_signal, 1);
}

struct killer {
	pthread_t target;
	int ms;
	int64_t sent_ns;	/* when it sent the signal */
};

static void *kill_later(void *arg)
{
	struct killer *k = arg;

	usleep(k->ms * 1000);
	k->sent_ns = now_ns();
	pthread_kill(k->target, SIGUSR1);
	return NULL;
}

/* epoll_pwait and epoll_pwait2 wait with the mask given, EINTR as epoll. */
TEST_F(ep, signal_masks_and_eintr)
{
	struct sigaction sa = { .sa_handler = on_signal };	/* no SA_RESTART */
	struct killer k = { .target = pthread_self(), .ms = 50 };
	struct epoll_event ev[4];
	struct timespec ts = { 5, 0 };
	sigset_t blocked, empty;
	pthread_t t;
	int64_t t0, t1;

	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	sigemptyset(&empty);
	sigemptyset(&blocked);
	sigaddset(&blocked, SIGUSR1);
	ASSERT_EQ(0, pthread_sigmask(SIG_BLOCK, &blocked, NULL));

	/* Blocked: the wait runs to its timeout; the signal stays pending.
	 * It must come while the call waits, or this tests nothing: the
	 * timeouts of the blocked phases leave the killer 950 ms. */
	ASSERT_EQ(0, pthread_create(&t, NULL, kill_later, &k));
	t0 = now_ns();
	EXPECT_EQ(0, wait_ms(self->ep, ev, 4, 1000));
	t1 = now_ns();
	EXPECT_GE(ms_since(t0), 1000);
	pthread_join(t, NULL);
	EXPECT_LT(k.sent_ns, t1);
	EXPECT_EQ(0, atomic_load(&got_signal));

	/* Pending, let through by the wait's mask: EINTR at once. */
	EXPECT_EQ(-1, epoll_pwait(self->ep, ev, 4, 5000, &empty));
	EXPECT_EQ(EINTR, errno);
	EXPECT_EQ(1, atomic_load(&got_signal));

	/* Arriving during the wait. */
	ASSERT_EQ(0, pthread_create(&t, NULL, kill_later, &k));
	t0 = now_ns();
	EXPECT_EQ(-1, epoll_pwait2(self->ep, ev, 4, &ts, &empty));
	EXPECT_EQ(EINTR, errno);
	EXPECT_LT(ms_since(t0), 4000);
	pthread_join(t, NULL);
	EXPECT_EQ(2, atomic_load(&got_signal));

	/* The caller's mask is back: blocked again. */
	ASSERT_EQ(0, pthread_create(&t, NULL, kill_later, &k));
	EXPECT_EQ(0, epoll_pwait(self->ep, ev, 4, 1000, NULL));
	t1 = now_ns();
	pthread_join(t, NULL);
	EXPECT_LT(k.sent_ns, t1);
	EXPECT_EQ(2, atomic_load(&got_signal));
	ASSERT_EQ(0, pthread_sigmask(SIG_UNBLOCK, &blocked, NULL));
	EXPECT_EQ(3, atomic_load(&got_signal));

	/* Unblocked, a plain epoll_wait is interrupted too. */
	ASSERT_EQ(0, pthread_create(&t, NULL, kill_later, &k));
	EXPECT_EQ(-1, epoll_wait(self->ep, ev, 4, 5000));
	EXPECT_EQ(EINTR, errno);
	pthread_join(t, NULL);
	EXPECT_EQ(4, atomic_load(&got_signal));
}

/* Programs that call the system calls by number (the kernel's selftests). */
TEST_F(ep, syscall_by_number)
{
	struct epoll_event ev[4], e = { .events = EPOLLIN, .data.u64 = 12 };
	struct timespec ts = { 0, 20 * NSEC_PER_MSEC };
	sigset_t empty;
	int64_t t0;
	long fd;

	sigemptyset(&empty);
	EXPECT_EQ(getpid(), syscall(SYS_getpid));
	ASSERT_EQ(0, syscall(__NR_epoll_ctl, self->ep, EPOLL_CTL_ADD, self->p[0], &e));
	t0 = now_ns();
	EXPECT_EQ(0, syscall(__NR_epoll_pwait2, self->ep, ev, 4, &ts, NULL, 0));
	EXPECT_GE(ms_since(t0), 20);
	put(self->p[1]);
	ASSERT_EQ(1, syscall(__NR_epoll_pwait2, self->ep, ev, 4, NULL, NULL, 0));
	EXPECT_EQ(12, ev[0].data.u64);
	EXPECT_EQ(1, syscall(__NR_epoll_pwait, self->ep, ev, 4, 0, &empty, 8));
	EXPECT_EQ(-1, syscall(__NR_epoll_pwait, self->ep, ev, 4, 0, &empty, 7));
	EXPECT_EQ(EINVAL, errno);
	fd = syscall(__NR_epoll_create1, EPOLL_CLOEXEC);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(0, syscall(__NR_epoll_ctl, fd, EPOLL_CTL_ADD, self->ep, &e));
	EXPECT_EQ(1, syscall(__NR_epoll_pwait, fd, ev, 4, 0, NULL, 8));
#ifdef __NR_epoll_wait	/* arm64 has only epoll_pwait */
	EXPECT_EQ(1, syscall(__NR_epoll_wait, self->ep, ev, 4, 0));
	EXPECT_EQ(1, syscall(__NR_epoll_wait, fd, ev, 4, 0));
#endif
	close(fd);
}

/* ---- closed, dup'ed and dup2'ed files ---- */

/* The kernel drops the watch of a file closed everywhere, as epoll does. */
TEST_F(ep, a_closed_files_number_can_be_added_again)
{
	struct epoll_event ev[4];
	int n = self->p[0], q[2];

	ASSERT_EQ(0, add(self->ep, n, EPOLLIN, 1));
	close(self->p[0]);
	/* Closed: EBADF for the number, as epoll. */
	EXPECT_EQ(-EBADF, mod(self->ep, n, EPOLLIN, 1));
	EXPECT_EQ(-EBADF, del(self->ep, n));
	EXPECT_EQ(-EBADF, add(self->ep, n, EPOLLIN, 1));
	ASSERT_EQ(0, pipe_at(n, q));
	/* Another file under the number: it has no watch. */
	EXPECT_EQ(-ENOENT, mod(self->ep, n, EPOLLIN, 2));
	EXPECT_EQ(-ENOENT, del(self->ep, n));
	ASSERT_EQ(0, add(self->ep, n, EPOLLIN, 3));
	put(q[1]);
	ASSERT_EQ(1, wait_ms(self->ep, ev, 4, 1000));
	EXPECT_EQ(3, ev[0].data.u64);
	close(q[1]);
}

TEST_F(ep, add_again_right_after_close)
{
	struct epoll_event ev[4];
	int n = self->p[0], q[2];

	ASSERT_EQ(0, add(self->ep, n, EPOLLIN, 1));
	put(self->p[1]);
	close(self->p[0]);
	ASSERT_EQ(0, pipe_at(n, q));
	ASSERT_EQ(0, add(self->ep, n, EPOLLIN, 2));
	/* The old file's readiness is not reported, the new one's is. */
	EXPECT_EQ(0, wait_ms(self->ep, ev, 4, 0));
	put(q[1]);
	ASSERT_EQ(1, wait_ms(self->ep, ev, 4, 1000));
	EXPECT_EQ(2, ev[0].data.u64);
	close(q[1]);
}

TEST_F(ep, dup2_over_a_watched_fd)
{
	struct epoll_event ev[4];
	int q[2];

	ASSERT_EQ(0, pipe2(q, O_CLOEXEC | O_NONBLOCK));
	ASSERT_EQ(0, add(self->ep, self->p[0], EPOLLIN, 1));
	/* dup2 closes the watched file's only descriptor. */
	ASSERT_EQ(self->p[0], dup3(q[0], self->p[0], O_CLOEXEC));
	/* EPIPE once kevent has let the old read end go. */
	(void)!write(self->p[1], "x", 1);
	EXPECT_EQ(0, wait_ms(self->ep, ev, 4, 0));
	EXPECT_EQ(-ENOENT, mod(self->ep, self->p[0], EPOLLIN, 2));
	ASSERT_EQ(0, add(self->ep, self->p[0], EPOLLIN, 3));
	put(q[1]);
	ASSERT_EQ(1, wait_ms(self->ep, ev, 4, 1000));
	EXPECT_EQ(3, ev[0].data.u64);
	close(q[0]);
	close(q[1]);
}

/* A file open through another descriptor stays watched, as in epoll. */
TEST_F(ep, a_file_open_elsewhere_stays_watched)
{
	struct epoll_event ev[4];
	int n = self->p[0], d = dup(self->p[0]), q[2];

	ASSERT_GE(d, 0);
	ASSERT_EQ(0, add(self->ep, n, EPOLLIN, 1));
	close(n);
	put(self->p[1]);
	ASSERT_EQ(1, wait_ms(self->ep, ev, 4, 1000));
	EXPECT_EQ(1, ev[0].data.u64);
	EXPECT_EQ(-EBADF, del(self->ep, n));
	/*
	 * Documented difference: another file under the number. epoll keys a
	 * watch by file and number and would add it; kevent by number only.
	 */
	ASSERT_EQ(0, pipe_at(n, q));
	EXPECT_EQ(-EEXIST, add(self->ep, n, EPOLLIN, 2));
	/* Closed everywhere: gone, and the number is free. */
	close(d);
	EXPECT_EQ(0, add(self->ep, n, EPOLLIN, 3));
	put(q[1]);
	ASSERT_EQ(1, wait_ms(self->ep, ev, 4, 1000));
	EXPECT_EQ(3, ev[0].data.u64);
	close(q[0]);
	close(q[1]);
}

/* ---- the instance's own fd: closed, dup'ed, forked ---- */

TEST_F(ep, a_closed_instances_number_is_nothing_of_ours)
{
	struct epoll_event ev[4];
	int n = self->ep, k;

	ASSERT_EQ(0, add(self->ep, self->p[0], EPOLLIN, 1));
	close(self->ep);
	/* A pipe under the number: not an instance. */
	ASSERT_EQ(n, dup3(self->p[1], n, O_CLOEXEC));
	EXPECT_EQ(-EINVAL, add(n, self->s[0], EPOLLIN, 2));
	EXPECT_EQ(-EINVAL, wait_ms(n, ev, 4, 0));
	close(n);
	EXPECT_EQ(-EBADF, wait_ms(n, ev, 4, 0));
	EXPECT_EQ(-EBADF, add(n, self->s[0], EPOLLIN, 2));
	/* A kernel epoll instance under it: the kernel's. */
	k = __real_epoll_create1(EPOLL_CLOEXEC);
	ASSERT_EQ(n, k);
	EXPECT_EQ(0, add(k, self->s[0], EPOLLOUT, 3));
	ASSERT_EQ(1, wait_ms(k, ev, 4, 0));
	EXPECT_EQ(3, ev[0].data.u64);
	close(k);
	/* A new instance under it starts empty. */
	self->ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_EQ(n, self->ep);
	EXPECT_EQ(-ENOENT, del(self->ep, self->p[0]));
	put(self->p[1]);
	EXPECT_EQ(0, wait_ms(self->ep, ev, 4, 0));
}

TEST_F(ep, a_dup_of_an_instance_is_the_instance)
{
	struct epoll_event ev[4];
	int d = fcntl(self->ep, F_DUPFD_CLOEXEC, 100);

	ASSERT_GE(d, 100);
	ASSERT_EQ(0, add(self->ep, self->p[0], EPOLLIN, 1));
	ASSERT_EQ(0, mod(d, self->p[0], EPOLLIN, 2));
	EXPECT_EQ(-EEXIST, add(d, self->p[0], EPOLLIN, 3));
	put(self->p[1]);
	ASSERT_EQ(1, wait_ms(d, ev, 4, 1000));
	EXPECT_EQ(2, ev[0].data.u64);
	close(self->ep);
	self->ep = -1;
	ASSERT_EQ(1, wait_ms(d, ev, 4, 0));
	EXPECT_EQ(2, ev[0].data.u64);
	EXPECT_EQ(0, del(d, self->p[0]));
	close(d);
}

TEST_F(ep, a_forked_child_shares_the_instance)
{
	struct epoll_event ev[4];
	int status;
	pid_t pid;

	ASSERT_EQ(0, add(self->ep, self->p[0], EPOLLIN, 42));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int n;

		put(self->p[1]);
		n = epoll_wait(self->ep, ev, 4, 1000);
		_exit(n == 1 && ev[0].data.u64 == 42 ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, status);
	ASSERT_EQ(1, wait_ms(self->ep, ev, 4, 0));
	EXPECT_EQ(42, ev[0].data.u64);
}

/* ---- threads ---- */

struct churn {
	int ep;
	int fds[8];
	atomic_bool stop;
	atomic_int events;
	atomic_int bad;
	atomic_int errors;
};

/* Waits and checks that each event's data names a watched eventfd. */
static void *churn_wait(void *arg)
{
	struct churn *c = arg;
	struct epoll_event ev[8];
	int n, i, j;

	while (!atomic_load(&c->stop)) {
		n = epoll_wait(c->ep, ev, 8, 20);
		if (n < 0)
			atomic_fetch_add(&c->errors, 1);
		for (i = 0; i < n; i++) {
			uint64_t d = ev[i].data.u64;
			bool ok = false;

			for (j = 0; j < 8; j++)
				ok |= d >> 32 == (uint64_t)c->fds[j] && (d & 0xffffffff) < 3;
			if (!ok)
				atomic_fetch_add(&c->bad, 1);
			atomic_fetch_add(&c->events, 1);
		}
	}
	return NULL;
}

/* Adds, modifies (new data each time), deletes and signals the eventfds. */
static void *churn_ctl(void *arg)
{
	struct churn *c = arg;
	uint64_t one = 1;
	unsigned int seed = (unsigned int)(uintptr_t)pthread_self();
	int r;

	while (!atomic_load(&c->stop)) {
		int fd = c->fds[rand_r(&seed) % 8];
		uint64_t data = (uint64_t)fd << 32 | (rand_r(&seed) % 3);
		uint32_t events = EPOLLIN | (rand_r(&seed) % 2 ? EPOLLET : 0) |
				  (rand_r(&seed) % 4 ? 0 : EPOLLONESHOT);

		switch (rand_r(&seed) % 4) {
		case 0:
			r = add(c->ep, fd, events, data);
			if (r && r != -EEXIST)
				atomic_fetch_add(&c->errors, 1);
			break;
		case 1:
			r = mod(c->ep, fd, events, data);
			if (r && r != -ENOENT)
				atomic_fetch_add(&c->errors, 1);
			break;
		case 2:
			r = del(c->ep, fd);
			if (r && r != -ENOENT)
				atomic_fetch_add(&c->errors, 1);
			break;
		default:
			if (write(fd, &one, 8) != 8)
				atomic_fetch_add(&c->errors, 1);
		}
	}
	return NULL;
}

TEST_F(ep, threads_share_an_instance)
{
	struct churn c = { .ep = self->ep };
	pthread_t t[6];
	int i;

	for (i = 0; i < 8; i++) {
		c.fds[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		ASSERT_GE(c.fds[i], 0);
	}
	for (i = 0; i < 6; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, i < 3 ? churn_wait : churn_ctl, &c));
	usleep(1000000);
	atomic_store(&c.stop, true);
	for (i = 0; i < 6; i++)
		pthread_join(t[i], NULL);
	TH_LOG("%d events", atomic_load(&c.events));
	EXPECT_GT(atomic_load(&c.events), 0);
	EXPECT_EQ(0, atomic_load(&c.bad));
	EXPECT_EQ(0, atomic_load(&c.errors));
	for (i = 0; i < 8; i++)
		close(c.fds[i]);
}

TEST_HARNESS_MAIN
