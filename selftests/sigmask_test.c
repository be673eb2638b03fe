// SPDX-License-Identifier: GPL-2.0
/*
 * KEVENT_IOC_PGET_EVENTS (issue 11, section 5): get-events with a signal
 * mask, set and restored atomically as epoll_pwait() and ppoll() do.
 * Today's main does not know the ioctl: every call here is ENOTTY.
 *
 * Signals: SIGUSR1 is the one the temporary mask unblocks, SIGUSR2 one it
 * blocks, and SIGWINCH a marker that tells which mask was in force when a
 * handler ran (blocked by only one of the two masks).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "kevent_test.h"
#include "kselftest_harness.h"
#include "queue_fixture.h"

#define KERNEL_SIGSET_SIZE 8

static volatile sig_atomic_t hits[_NSIG];
static sigset_t mask_in_handler[_NSIG];	/* the mask while the handler ran */

static void handler(int sig)
{
	pthread_sigmask(SIG_SETMASK, NULL, &mask_in_handler[sig]);
	hits[sig]++;
}

/* Handlers without SA_RESTART for the three signals. */
static void install_handlers(struct __test_metadata *_metadata)
{
	struct sigaction sa = { .sa_handler = handler };
	static const int sigs[] = { SIGUSR1, SIGUSR2, SIGWINCH };
	unsigned int i;

	ASSERT_EQ(0, sigemptyset(&sa.sa_mask));
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		ASSERT_EQ(0, sigaction(sigs[i], &sa, NULL));
}

static sigset_t set_of(int a, int b)
{
	sigset_t s;

	sigemptyset(&s);
	if (a)
		sigaddset(&s, a);
	if (b)
		sigaddset(&s, b);
	return s;
}

/* Sets the calling thread's mask to exactly {a, b}. */
static void set_mask(struct __test_metadata *_metadata, int a, int b)
{
	sigset_t s = set_of(a, b);

	ASSERT_EQ(0, pthread_sigmask(SIG_SETMASK, &s, NULL));
}

/* The thread's mask is exactly {a, b} (0: none), over every signal. */
static bool mask_is(int a, int b)
{
	sigset_t now;
	int sig;

	if (pthread_sigmask(SIG_SETMASK, NULL, &now))
		return false;
	for (sig = 1; sig < _NSIG; sig++) {
		/* glibc's own two (SIGCANCEL, SIGSETXID) are never blocked. */
		if (sig == 32 || sig == 33)
			continue;
		if (sigismember(&now, sig) != (sig == a || sig == b))
			return false;
	}
	return true;
}

static bool is_pending(int sig)
{
	sigset_t p;

	return sigpending(&p) == 0 && sigismember(&p, sig) == 1;
}

static int pget(int fd, unsigned int min_nr, unsigned int max_nr, int64_t timeout_ns,
		struct ukevent *buf, const sigset_t *mask)
{
	int r = kevent_pget_events_ns(fd, min_nr, max_nr, timeout_ns, buf, 0, mask);

	return r < 0 ? -errno : r;
}

static int pget_raw(int fd, struct kevent_pget_events_arg *arg)
{
	int r = ioctl(fd, KEVENT_IOC_PGET_EVENTS, arg);

	return r < 0 ? -errno : r;
}

static pid_t gettid_(void)
{
	return syscall(SYS_gettid);
}

/* True once task tid of process pid sleeps in KEVENT_IOC_PGET_EVENTS. */
static bool wait_in_pget(pid_t pid, pid_t tid)
{
	return wait_in_ioctl(pid, tid, (unsigned long)KEVENT_IOC_PGET_EVENTS);
}

/* A thread that signals the waiter once it sleeps in the call. */
struct sender {
	pid_t tid;		/* the waiter */
	pthread_t target;
	int sig;
	int q;			/* if ready_id: READY it on q after the signal */
	__u32 ready_id;
	atomic_int sent;	/* 1: sent while the waiter slept in the call */
};

static void *send_when_waiting(void *arg)
{
	struct sender *s = arg;
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	if (!wait_in_pget(getpid(), s->tid) || pthread_kill(s->target, s->sig))
		return NULL;
	atomic_store(&s->sent, 1);
	if (s->ready_id) {
		usleep(100 * 1000);	/* the signal had time to interrupt */
		if (user_ready(s->q, s->ready_id, 7))
			atomic_store(&s->sent, 2);
	}
	return NULL;
}

static void start_sender(struct __test_metadata *_metadata, pthread_t *t, struct sender *s,
			 int sig)
{
	s->tid = gettid_();
	s->target = pthread_self();
	s->sig = sig;
	atomic_store(&s->sent, 0);
	ASSERT_EQ(0, pthread_create(t, NULL, send_when_waiting, s));
}

/* A level-triggered user event 1, ready: it stays ready after delivery. */
static void add_ready_user(struct __test_metadata *_metadata, int q, __u32 flags)
{
	struct ukevent uk = uk_user(1, flags);

	ASSERT_EQ(0, ctl1(q, KEVENT_CTL_ADD, &uk));
	ASSERT_EQ(0, user_ready(q, 1, 5));
}

/*
 * A signal that the caller blocks and the temporary mask unblocks,
 * sent by another thread while the call sleeps: EINTR, no event
 * consumed, the handler ran once with the temporary mask in force, and
 * the caller's mask is back.
 */
TEST_F(q, signal_unblocked_by_the_mask_while_waiting_is_eintr)
{
	sigset_t temp = set_of(SIGUSR2, 0);
	struct sender s = { 0 };
	struct ukevent ev[4];
	pthread_t t;

	install_handlers(_metadata);
	set_mask(_metadata, SIGUSR1, SIGWINCH);
	add_ready_user(_metadata, self->fd, KEVENT_REQ_ET);
	start_sender(_metadata, &t, &s, SIGUSR1);
	/* Two wanted, one ready: it sleeps. */
	EXPECT_EQ(-EINTR, pget(self->fd, 2, 4, 20 * NSEC_PER_SEC, ev, &temp));
	ASSERT_EQ(0, pthread_join(t, NULL));
	ASSERT_EQ(1, atomic_load(&s.sent));
	EXPECT_EQ(1, hits[SIGUSR1]);
	/* In the handler: the temporary mask, plus the signal itself. */
	EXPECT_EQ(1, sigismember(&mask_in_handler[SIGUSR1], SIGUSR2));
	EXPECT_EQ(0, sigismember(&mask_in_handler[SIGUSR1], SIGWINCH));
	EXPECT_EQ(1, sigismember(&mask_in_handler[SIGUSR1], SIGUSR1));
	/* After: the caller's mask, and nothing left pending. */
	EXPECT_TRUE(mask_is(SIGUSR1, SIGWINCH));
	EXPECT_FALSE(is_pending(SIGUSR1));
	EXPECT_EQ(1, hits[SIGUSR1]);
	ASSERT_EQ(1, get_ns(self->fd, 1, 4, 0, ev));
	EXPECT_EQ(5, ev[0].ret_data[0]);
}

/* The same signal sent to the process by a child, with kill(). */
TEST_F(q, signal_from_another_process_while_waiting_is_eintr)
{
	sigset_t temp = set_of(SIGUSR2, 0);
	pid_t parent = getpid(), pid;
	struct ukevent ev[4];
	int status;

	install_handlers(_metadata);
	set_mask(_metadata, SIGUSR1, SIGWINCH);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		/* The process has one thread: its tid is its pid. */
		if (!wait_in_pget(parent, parent))
			_exit(1);
		_exit(kill(parent, SIGUSR1) ? 2 : 0);
	}
	EXPECT_EQ(-EINTR, pget(self->fd, 1, 4, 20 * NSEC_PER_SEC, ev, &temp));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(1, hits[SIGUSR1]);
	EXPECT_EQ(1, sigismember(&mask_in_handler[SIGUSR1], SIGUSR2));
	EXPECT_EQ(0, sigismember(&mask_in_handler[SIGUSR1], SIGWINCH));
	EXPECT_TRUE(mask_is(SIGUSR1, SIGWINCH));
	EXPECT_FALSE(is_pending(SIGUSR1));
}

/*
 * Pending before the call, blocked by the caller's mask and unblocked by
 * the temporary one: EINTR at once, the handler runs once, nothing is
 * left pending. Both a signal to the thread and one to the process.
 */
TEST_F(q, signal_pending_before_the_call_is_eintr)
{
	sigset_t temp = set_of(SIGUSR2, 0);
	struct ukevent ev[4];

	install_handlers(_metadata);
	set_mask(_metadata, SIGUSR1, SIGWINCH);
	add_ready_user(_metadata, self->fd, KEVENT_REQ_ET);

	ASSERT_EQ(0, pthread_kill(pthread_self(), SIGUSR1));
	ASSERT_TRUE(is_pending(SIGUSR1));
	ASSERT_EQ(0, hits[SIGUSR1]);
	EXPECT_EQ(-EINTR, pget(self->fd, 2, 4, 20 * NSEC_PER_SEC, ev, &temp));
	EXPECT_EQ(1, hits[SIGUSR1]);
	EXPECT_EQ(1, sigismember(&mask_in_handler[SIGUSR1], SIGUSR2));
	EXPECT_EQ(0, sigismember(&mask_in_handler[SIGUSR1], SIGWINCH));
	EXPECT_TRUE(mask_is(SIGUSR1, SIGWINCH));
	EXPECT_FALSE(is_pending(SIGUSR1));

	ASSERT_EQ(0, kill(getpid(), SIGUSR1));
	ASSERT_TRUE(is_pending(SIGUSR1));
	EXPECT_EQ(-EINTR, pget(self->fd, 2, 4, 20 * NSEC_PER_SEC, ev, &temp));
	EXPECT_EQ(2, hits[SIGUSR1]);
	EXPECT_TRUE(mask_is(SIGUSR1, SIGWINCH));
	EXPECT_FALSE(is_pending(SIGUSR1));

	/* Nothing was consumed by either call. */
	ASSERT_EQ(1, get_ns(self->fd, 1, 4, 0, ev));
	EXPECT_EQ(5, ev[0].ret_data[0]);
	EXPECT_EQ(2, hits[SIGUSR1]);
}

/*
 * A signal that the temporary mask blocks and the caller's allows does not
 * interrupt the call, which times out; it is delivered when the call
 * returns, with the caller's mask in force (SIGWINCH, blocked only by the
 * temporary mask, is unblocked in the handler).
 */
TEST_F(q, signal_blocked_by_the_mask_waits_for_the_timeout_then_is_delivered)
{
	sigset_t temp = set_of(SIGUSR2, SIGWINCH);
	struct sender s = { 0 };
	struct ukevent ev[4];
	pthread_t t;
	int64_t t0;

	install_handlers(_metadata);
	set_mask(_metadata, 0, 0);
	start_sender(_metadata, &t, &s, SIGUSR2);
	t0 = now_ns();
	EXPECT_EQ(0, pget(self->fd, 1, 4, 2 * NSEC_PER_SEC, ev, &temp));
	EXPECT_GE(now_ns() - t0, 2 * NSEC_PER_SEC);
	ASSERT_EQ(0, pthread_join(t, NULL));
	ASSERT_EQ(1, atomic_load(&s.sent));
	/* Delivered on the way out of the call. */
	EXPECT_EQ(1, hits[SIGUSR2]);
	EXPECT_EQ(0, sigismember(&mask_in_handler[SIGUSR2], SIGWINCH));
	EXPECT_TRUE(mask_is(0, 0));
	EXPECT_FALSE(is_pending(SIGUSR2));
}

/* The same, ended by an event made ready after the signal was sent. */
TEST_F(q, signal_blocked_by_the_mask_waits_for_the_event_then_is_delivered)
{
	sigset_t temp = set_of(SIGUSR2, SIGWINCH);
	struct ukevent uk = uk_user(1, KEVENT_REQ_ET), ev[4];
	struct sender s = { .q = self->fd, .ready_id = 1 };
	pthread_t t;

	install_handlers(_metadata);
	set_mask(_metadata, 0, 0);
	ASSERT_EQ(0, ctl1(self->fd, KEVENT_CTL_ADD, &uk));
	start_sender(_metadata, &t, &s, SIGUSR2);
	ASSERT_EQ(1, pget(self->fd, 1, 4, 20 * NSEC_PER_SEC, ev, &temp));
	EXPECT_EQ(KEVENT_USER, ev[0].type);
	EXPECT_EQ(7, ev[0].ret_data[0]);
	ASSERT_EQ(0, pthread_join(t, NULL));
	ASSERT_EQ(1, atomic_load(&s.sent));
	EXPECT_EQ(1, hits[SIGUSR2]);
	EXPECT_EQ(0, sigismember(&mask_in_handler[SIGUSR2], SIGWINCH));
	EXPECT_TRUE(mask_is(0, 0));
}

/*
 * Blocked by both masks: not delivered at all, still pending after the
 * call, and handled when the program unblocks it.
 */
TEST_F(q, signal_blocked_by_both_masks_stays_pending)
{
	sigset_t temp = set_of(SIGUSR2, 0), unblock = set_of(SIGUSR2, 0);
	struct sender s = { 0 };
	struct ukevent ev[4];
	pthread_t t;

	install_handlers(_metadata);
	set_mask(_metadata, SIGUSR2, 0);
	start_sender(_metadata, &t, &s, SIGUSR2);
	EXPECT_EQ(0, pget(self->fd, 1, 4, 2 * NSEC_PER_SEC, ev, &temp));
	ASSERT_EQ(0, pthread_join(t, NULL));
	ASSERT_EQ(1, atomic_load(&s.sent));
	EXPECT_EQ(0, hits[SIGUSR2]);
	EXPECT_TRUE(is_pending(SIGUSR2));
	EXPECT_TRUE(mask_is(SIGUSR2, 0));
	ASSERT_EQ(0, pthread_sigmask(SIG_UNBLOCK, &unblock, NULL));
	EXPECT_EQ(1, hits[SIGUSR2]);
}

/*
 * No mask (NULL; sigmask 0 and sigsetsize 0 in the struct): exactly
 * GET_EVENTS. Events, the timeout, and the caller's own mask deciding
 * which signals interrupt.
 */
TEST_F(q, null_mask_is_get_events)
{
	struct kevent_pget_events_arg a;
	struct sender s = { 0 };
	struct ukevent ev[4];
	pthread_t t;
	int64_t t0;

	install_handlers(_metadata);
	set_mask(_metadata, SIGUSR2, 0);
	t0 = now_ns();
	EXPECT_EQ(0, pget(self->fd, 1, 4, 50 * NSEC_PER_MSEC, ev, NULL));
	EXPECT_GE(now_ns() - t0, 50 * NSEC_PER_MSEC);
	add_ready_user(_metadata, self->fd, 0);
	ASSERT_EQ(1, pget(self->fd, 1, 4, 0, ev, NULL));
	EXPECT_EQ(KEVENT_USER, ev[0].type);
	EXPECT_EQ(5, ev[0].ret_data[0]);
	memset(&a, 0, sizeof(a));
	a.get.min_nr = 1;
	a.get.max_nr = 4;
	a.get.events = (__u64)(uintptr_t)ev;
	ev[0].type = 0;
	ASSERT_EQ(1, pget_raw(self->fd, &a));
	EXPECT_EQ(KEVENT_USER, ev[0].type);
	EXPECT_TRUE(mask_is(SIGUSR2, 0));

	/* The caller's mask blocks SIGUSR2: not interrupted, still pending. */
	start_sender(_metadata, &t, &s, SIGUSR2);
	EXPECT_EQ(1, pget(self->fd, 2, 4, 1 * NSEC_PER_SEC, ev, NULL));
	ASSERT_EQ(0, pthread_join(t, NULL));
	ASSERT_EQ(1, atomic_load(&s.sent));
	EXPECT_EQ(0, hits[SIGUSR2]);
	EXPECT_TRUE(is_pending(SIGUSR2));
	/* It allows SIGUSR1: EINTR, as for GET_EVENTS. */
	start_sender(_metadata, &t, &s, SIGUSR1);
	EXPECT_EQ(-EINTR, pget(self->fd, 2, 4, 20 * NSEC_PER_SEC, ev, NULL));
	ASSERT_EQ(0, pthread_join(t, NULL));
	ASSERT_EQ(1, atomic_load(&s.sent));
	EXPECT_EQ(1, hits[SIGUSR1]);
	EXPECT_EQ(1, sigismember(&mask_in_handler[SIGUSR1], SIGUSR2));
	EXPECT_TRUE(mask_is(SIGUSR2, 0));
	EXPECT_EQ(0, hits[SIGUSR2]);
}

/*
 * Validation: sigsetsize must be 8 with a mask, __reserved 0, the mask
 * readable, and the get part valid as for GET_EVENTS. A refused call
 * consumes nothing and leaves the caller's mask alone.
 */
TEST_F(q, invalid_arguments)
{
	static const __u32 bad_sizes[] = { 0, 4, 7, 9, 16, 128 };
	long page = sysconf(_SC_PAGESIZE);
	char *map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *none = map + page;	/* PROT_NONE */
	sigset_t temp = set_of(SIGUSR2, 0);
	struct kevent_pget_events_arg a, good;
	struct ukevent ev[4];
	unsigned int i;

	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(0, mprotect(none, page, PROT_NONE));
	set_mask(_metadata, SIGWINCH, 0);
	/* Level-triggered: ready again after each call that collects it. */
	add_ready_user(_metadata, self->fd, 0);
	memset(&good, 0, sizeof(good));
	good.get.min_nr = 1;
	good.get.max_nr = 4;
	good.get.timeout_ns = 0;
	good.get.events = (__u64)(uintptr_t)ev;
	good.sigmask = (__u64)(uintptr_t)&temp;
	good.sigsetsize = KERNEL_SIGSET_SIZE;
	a = good;
	ASSERT_EQ(1, pget_raw(self->fd, &a));

	for (i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++) {
		a = good;
		a.sigsetsize = bad_sizes[i];
		EXPECT_EQ(-EINVAL, pget_raw(self->fd, &a)) TH_LOG("sigsetsize %u", bad_sizes[i]);
	}
	a = good;
	a.__reserved = 1;
	EXPECT_EQ(-EINVAL, pget_raw(self->fd, &a));
	a.sigmask = 0;
	a.sigsetsize = 0;
	EXPECT_EQ(-EINVAL, pget_raw(self->fd, &a));
	a = good;
	a.__reserved = 0x80000000;
	EXPECT_EQ(-EINVAL, pget_raw(self->fd, &a));

	/* An unreadable mask. */
	a = good;
	a.sigmask = (__u64)(uintptr_t)none;
	EXPECT_EQ(-EFAULT, pget_raw(self->fd, &a));
	a.sigmask = 8;
	EXPECT_EQ(-EFAULT, pget_raw(self->fd, &a));
	a.sigmask = 0xffff888000000000ull;	/* kernel space */
	EXPECT_EQ(-EFAULT, pget_raw(self->fd, &a));
	a.sigmask = (__u64)(uintptr_t)none - 4;	/* half of it readable */
	EXPECT_EQ(-EFAULT, pget_raw(self->fd, &a));

	/* The get part, as GET_EVENTS validates it. */
	a = good;
	a.get.max_nr = 0;
	a.get.min_nr = 0;
	EXPECT_EQ(-EINVAL, pget_raw(self->fd, &a));
	a = good;
	a.get.min_nr = 5;
	EXPECT_EQ(-EINVAL, pget_raw(self->fd, &a));
	/* Unknown flags (KEVENT_GET_RING, 0x1, is known). */
	a = good;
	a.get.flags = 0x2;
	EXPECT_EQ(-EINVAL, pget_raw(self->fd, &a));
	a.get.flags = 0x80000000;
	EXPECT_EQ(-EINVAL, pget_raw(self->fd, &a));
	a = good;
	a.get.__reserved = 1;
	EXPECT_EQ(-EINVAL, pget_raw(self->fd, &a));
	a = good;
	a.get.events = 0;
	EXPECT_EQ(-EFAULT, pget_raw(self->fd, &a));
	/* With no mask too. */
	a = good;
	a.sigmask = 0;
	a.sigsetsize = 0;
	a.get.max_nr = 0;
	EXPECT_EQ(-EINVAL, pget_raw(self->fd, &a));

	/* An unreadable argument. */
	EXPECT_EQ(-EFAULT, pget_raw(self->fd, NULL));
	EXPECT_EQ(-EFAULT, pget_raw(self->fd, (void *)none));
	EXPECT_EQ(-EFAULT, pget_raw(self->fd, (void *)(none - 24)));	/* half readable */

	/* Nothing changed: the mask, and the event still ready. */
	EXPECT_TRUE(mask_is(SIGWINCH, 0));
	a = good;
	ev[0].type = 0;
	ASSERT_EQ(1, pget_raw(self->fd, &a));
	EXPECT_EQ(KEVENT_USER, ev[0].type);
	EXPECT_EQ(5, ev[0].ret_data[0]);
	EXPECT_TRUE(mask_is(SIGWINCH, 0));
	munmap(map, 2 * page);
}

TEST_HARNESS_MAIN
