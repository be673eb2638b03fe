// SPDX-License-Identifier: GPL-2.0
/*
 * Allocation failures, injected one by one. For each operation, the test
 * makes its 1st, 2nd, 3rd... allocation fail (failslab and fail_page_alloc
 * driven by /proc/thread-self/fail-nth, the kernel's systematic fault
 * injection, as syzkaller uses it) until the operation runs without
 * reaching the failure. Each time, the operation must succeed or fail with
 * ENOMEM (for the call, or for its entry), and leave the queue as if it had
 * not been tried: a failed ADD leaves nothing behind, a successful one
 * works, and the queue keeps working. kmemleak, after rmmod, sees every
 * path's cleanup.
 *
 * Documentation/fault-injection/fault-injection.rst, "fail-nth".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timex.h>
#include <time.h>
#include <unistd.h>

#include "kevent_test.h"
#include "kselftest_harness.h"

#define DEBUGFS "/sys/kernel/debug/"
#define MAX_STEPS 200		/* far more allocations than any operation makes */

static int nth_fd = -1;	/* /proc/thread-self/fail-nth */
static int hit;			/* the armed failure was reached */

/* Settings that let GFP_KERNEL allocations fail, and quietly. */
static const char *const knobs[][2] = {
	{ DEBUGFS "failslab/ignore-gfp-wait", "N" },
	{ DEBUGFS "failslab/verbose", "0" },
	{ DEBUGFS "fail_page_alloc/ignore-gfp-wait", "N" },
	{ DEBUGFS "fail_page_alloc/ignore-gfp-highmem", "N" },
	{ DEBUGFS "fail_page_alloc/min-order", "0" },
	{ DEBUGFS "fail_page_alloc/verbose", "0" },
};

static int write_file(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n = -1;

	if (fd >= 0) {
		n = write(fd, value, strlen(value));
		close(fd);
	}
	return n < 0 ? -1 : 0;
}

FIXTURE(inject)
{
	int q;
	int steps;	/* allocations made to fail, in all */
};

FIXTURE_SETUP(inject)
{
	self->q = -1;
	nth_fd = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
	if (nth_fd < 0)
		SKIP(return, "no /proc/thread-self/fail-nth: CONFIG_FAULT_INJECTION is off");
	for (size_t i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++)
		if (write_file(knobs[i][0], knobs[i][1]))
			SKIP(return, "cannot set %s: needs FAILSLAB, FAIL_PAGE_ALLOC and debugfs",
			     knobs[i][0]);
	self->q = open_queue();
	ASSERT_GE(self->q, 0);
}

static void inode_cleanup(void);

FIXTURE_TEARDOWN(inject)
{
	if (self->q >= 0)
		close(self->q);
	inode_cleanup();
	if (nth_fd >= 0)
		close(nth_fd);
	TH_LOG("%d allocations made to fail", self->steps);
}

/* Makes the n-th fault-injection point this thread reaches fail. */
static void arm(int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%d", n);

	if (pwrite(nth_fd, buf, len, 0) != len)
		abort();
}

/*
 * Called right after the system call under test, so that the checks after
 * it run with every allocation working: notes whether the armed failure
 * was reached, and disarms.
 */
static void disarm(void)
{
	char buf[16] = { 0 };
	int err = errno;	/* the call under test's */

	if (pread(nth_fd, buf, sizeof(buf) - 1, 0) <= 0)
		abort();
	arm(0);
	hit = atoi(buf) == 0;
	errno = err;
}

/* A user event, ready and collected: the queue works. */
static int queue_works(int q, __u32 id)
{
	struct ukevent uk = uk_user(id, KEVENT_REQ_ONESHOT), ev;

	if (ctl1(q, KEVENT_CTL_ADD, &uk) || user_ready(q, id, 7))
		return 0;
	return get_ns(q, 1, 1, NSEC_PER_SEC, &ev) == 1 && ev.id.raw[0] == id &&
	       ev.ret_data[0] == 7;
}

/*
 * Runs `op` with its 1st, 2nd, ... allocation failing, until it completes
 * without reaching the failure. `op` calls disarm() right after the call
 * under test, returns 0, ENOMEM, or anything else for "wrong", and checks
 * the queue's state itself.
 */
#define FAIL_EACH_ALLOCATION(op)						\
	do {									\
		int n, r;							\
		for (n = 1; n <= MAX_STEPS; n++) {				\
			arm(n);							\
			r = (op);						\
			ASSERT_TRUE(r == 0 || (hit && r == ENOMEM))		\
				TH_LOG("%s, allocation %d: %s", #op, n,	\
				       strerror(r));				\
			if (!hit)						\
				break;						\
			self->steps++;						\
		}								\
		ASSERT_LE(n, MAX_STEPS);					\
		ASSERT_GT(n, 1) TH_LOG("%s allocates nothing?", #op);		\
	} while (0)

/* What a call that makes a queue returned: ENOMEM, or a queue that works. */
static int new_queue(int fd)
{
	int ok;

	disarm();
	if (fd < 0)
		return errno;
	ok = queue_works(fd, 1);
	close(fd);
	return ok ? 0 : EIO;
}

TEST_F(inject, open)
{
	FAIL_EACH_ALLOCATION(new_queue(open_queue()));
}

TEST_F(inject, init)
{
	FAIL_EACH_ALLOCATION(new_queue(kevent_ctl(self->q, KEVENT_CTL_INIT, 0, NULL)));
	ASSERT_TRUE(queue_works(self->q, 99));
}

/*
 * ADD of one entry. On ENOMEM nothing may be left: REMOVE finds nothing
 * and the same ADD then succeeds. On success the request works. Either way
 * it is removed again, so the next round starts from the same state.
 */
static int op_add(int q, struct ukevent proto, int (*trigger)(int q, struct ukevent *uk))
{
	struct ukevent uk = proto;
	int r = ctl1(q, KEVENT_CTL_ADD, &uk);

	disarm();
	if (r == ENOMEM) {
		uk = proto;
		if (ctl1(q, KEVENT_CTL_REMOVE, &uk) != ENOENT)
			return EEXIST;
		uk = proto;
		if (ctl1(q, KEVENT_CTL_ADD, &uk))
			return EIO;
	} else if (r) {
		return r;
	}
	if (!trigger(q, &uk))
		return EIO;
	uk = proto;
	ctl1(q, KEVENT_CTL_REMOVE, &uk);	/* one-shot ones are gone already */
	return r;
}

/* Waits for the event of `uk` (added as one-shot): it must come. */
static int delivered(int q, const struct ukevent *uk)
{
	struct ukevent ev;

	return get_ns(q, 1, 1, NSEC_PER_SEC, &ev) == 1 && ev.ptr == uk->ptr &&
	       ev.type == uk->type;
}

static int trigger_user(int q, struct ukevent *uk)
{
	return user_ready(q, uk->id.raw[0], 0) == 0 && delivered(q, uk);
}

static int trigger_timer(int q, struct ukevent *uk)
{
	return delivered(q, uk);
}

static int pipe_fds[2];

static int trigger_pipe(int q, struct ukevent *uk)
{
	char c = 'x';
	int ok;

	if (write(pipe_fds[1], &c, 1) != 1)
		return 0;
	ok = delivered(q, uk);
	return read(pipe_fds[0], &c, 1) == 1 && ok;
}

static int nested_queue;

static int trigger_queue(int q, struct ukevent *uk)
{
	struct ukevent inner = uk_user(5, KEVENT_REQ_ONESHOT), ev;
	int ok;

	if (ctl1(nested_queue, KEVENT_CTL_ADD, &inner) || user_ready(nested_queue, 5, 0))
		return 0;
	ok = delivered(q, uk);
	return get_ns(nested_queue, 1, 1, 0, &ev) == 1 && ok;
}

TEST_F(inject, add_user)
{
	FAIL_EACH_ALLOCATION(op_add(self->q, uk_user(3, KEVENT_REQ_ONESHOT), trigger_user));
}

TEST_F(inject, add_timer)
{
	struct ukevent t = uk_make(KEVENT_TIMER, 1, 0, KEVENT_TIMER_UNIT_MS, KEVENT_REQ_ONESHOT, 4);

	FAIL_EACH_ALLOCATION(op_add(self->q, t, trigger_timer));
}

/*
 * A REALTIME | ABSTIME | CANCEL_ON_SET timer: its ADD also registers the
 * request to be told of settings of the clock. Its expiry is the time the
 * test began, in the past when it is added, so it fires at once. Before
 * the wait, a setting of the clock that leaves it where it is (adjtimex
 * ADJ_SETOFFSET of 0) goes through every registration, where one that a
 * failed ADD left behind would be found (KASAN, list debugging). The one
 * event is the expiry, the cancellation (CANCELED, a setting counts even
 * when it does not move the clock), or both.
 */
static int set_clock_in_place(void)
{
	struct timex tx = { .modes = ADJ_SETOFFSET | ADJ_NANO };

	return clock_adjtime(CLOCK_REALTIME, &tx) < 0 ? -1 : 0;
}

static int trigger_cancel_timer(int q, struct ukevent *uk)
{
	struct ukevent ev[2];

	if (set_clock_in_place())
		return 0;
	return get_ns(q, 1, 2, NSEC_PER_SEC, ev) == 1 && ev[0].ptr == uk->ptr &&
	       ev[0].type == KEVENT_TIMER && ev[0].event == uk->event &&
	       (ev[0].ret_flags & ~KEVENT_RET_CANCELED) == KEVENT_RET_DONE;
}

TEST_F(inject, add_timer_cancel_on_set)
{
	struct timespec now;
	__u32 bits = KEVENT_TIMER_REALTIME | KEVENT_TIMER_ABSTIME | KEVENT_TIMER_CANCEL_ON_SET;
	struct ukevent t = uk_make(KEVENT_TIMER, 0, 0, bits, KEVENT_REQ_ONESHOT, 11);
	uint64_t expiry;

	ASSERT_EQ(0, clock_gettime(CLOCK_REALTIME, &now));
	expiry = now.tv_sec * NSEC_PER_SEC + now.tv_nsec;
	t.ret_data[0] = (__u32)expiry;
	t.ret_data[1] = (__u32)(expiry >> 32);
	FAIL_EACH_ALLOCATION(op_add(self->q, t, trigger_cancel_timer));
	ASSERT_TRUE(queue_works(self->q, 99));
}

TEST_F(inject, add_poll_pipe)
{
	struct ukevent p;

	ASSERT_EQ(0, pipe(pipe_fds));
	p = uk_make(KEVENT_POLL, pipe_fds[0], 0, KEVENT_POLL_POLLIN, KEVENT_REQ_ONESHOT, 5);
	FAIL_EACH_ALLOCATION(op_add(self->q, p, trigger_pipe));
}

static int sock_fds[2];

/* A byte on the socket makes its one-shot RECV request ready. */
static int trigger_socket(int q, struct ukevent *uk)
{
	struct ukevent ev;
	char c = 'x';
	int ok;

	if (write(sock_fds[1], &c, 1) != 1)
		return 0;
	ok = get_ns(q, 1, 1, NSEC_PER_SEC, &ev) == 1 && ev.ptr == uk->ptr &&
	     ev.type == KEVENT_SOCKET && ev.ret_data[0] == 1;
	return read(sock_fds[0], &c, 1) == 1 && ok;
}

TEST_F(inject, add_socket_unix)
{
	struct ukevent p;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sock_fds));
	p = uk_make(KEVENT_SOCKET, sock_fds[0], 0, KEVENT_SOCKET_RECV, KEVENT_REQ_ONESHOT, 7);
	FAIL_EACH_ALLOCATION(op_add(self->q, p, trigger_socket));
}

/* TCP over loopback: the figures come from the protocol (SIOCINQ). */
TEST_F(inject, add_socket_tcp)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	struct ukevent p;
	int l;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_GE(l, 0);
	ASSERT_EQ(0, bind(l, (struct sockaddr *)&sin, sizeof(sin)));
	ASSERT_EQ(0, listen(l, 1));
	ASSERT_EQ(0, getsockname(l, (struct sockaddr *)&sin, &len));
	sock_fds[1] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_EQ(0, connect(sock_fds[1], (struct sockaddr *)&sin, len));
	sock_fds[0] = accept(l, NULL, NULL);
	ASSERT_GE(sock_fds[0], 0);
	close(l);
	p = uk_make(KEVENT_SOCKET, sock_fds[0], 0, KEVENT_SOCKET_RECV, KEVENT_REQ_ONESHOT, 8);
	FAIL_EACH_ALLOCATION(op_add(self->q, p, trigger_socket));
}

/*
 * KEVENT_INODE: a scratch directory under /tmp (a tmpfs in the VM) and a
 * file in it, open for writing; an ADD makes the module's request and
 * fsnotify's mark (and its connector) on the inode.
 */
static char inode_dir[64];
static int inode_wfd = -1;

static int inode_path(char *buf, size_t len, const char *name)
{
	return snprintf(buf, len, "%s/%s", inode_dir, name) < (int)len ? 0 : -1;
}

/* Makes the scratch directory and its file; 0 or -1. */
static int inode_setup(void)
{
	char path[96];

	strcpy(inode_dir, "/tmp/kevent-failslab-XXXXXX");
	if (!mkdtemp(inode_dir)) {
		inode_dir[0] = 0;
		return -1;
	}
	if (inode_path(path, sizeof(path), "file"))
		return -1;
	inode_wfd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
	return inode_wfd < 0 ? -1 : 0;
}

static void inode_cleanup(void)
{
	char path[96];

	if (inode_wfd >= 0)
		close(inode_wfd);
	inode_wfd = -1;
	if (!inode_dir[0])
		return;
	if (!inode_path(path, sizeof(path), "file"))
		unlink(path);
	if (!inode_path(path, sizeof(path), "entry"))
		unlink(path);
	rmdir(inode_dir);
	inode_dir[0] = 0;
}

/*
 * The one event ready within a second: request uk's, normal, with these
 * bits and one notification. A second event would be a request that a
 * failed ADD left behind.
 */
static int inode_delivered(int q, const struct ukevent *uk, __u32 bits)
{
	struct ukevent ev[2];

	return get_ns(q, 1, 2, NSEC_PER_SEC, ev) == 1 && ev[0].ptr == uk->ptr &&
	       ev[0].type == KEVENT_INODE && ev[0].ret_flags == KEVENT_RET_DONE &&
	       ev[0].ret_data[0] == bits && ev[0].ret_data[1] == 1;
}

/* A byte written to the file: one WRITE for its one-shot request. */
static int trigger_inode_file(int q, struct ukevent *uk)
{
	return write(inode_wfd, "x", 1) == 1 && inode_delivered(q, uk, KEVENT_INODE_WRITE);
}

/* An entry made in the directory: one CREATE for its one-shot request. */
static int trigger_inode_dir(int q, struct ukevent *uk)
{
	char path[96];
	int fd, ok;

	if (inode_path(path, sizeof(path), "entry"))
		return 0;
	fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0)
		return 0;
	close(fd);
	ok = inode_delivered(q, uk, KEVENT_INODE_CREATE);
	return unlink(path) == 0 && ok;
}

TEST_F(inject, add_inode_file)
{
	char path[96];
	struct ukevent p;
	int fd;

	ASSERT_EQ(0, inode_setup());
	ASSERT_EQ(0, inode_path(path, sizeof(path), "file"));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ASSERT_GE(fd, 0);
	p = uk_make(KEVENT_INODE, fd, 0, KEVENT_INODE_WRITE, KEVENT_REQ_ONESHOT, 9);
	FAIL_EACH_ALLOCATION(op_add(self->q, p, trigger_inode_file));
	close(fd);
	ASSERT_TRUE(queue_works(self->q, 99));
}

/* A directory through an O_PATH fd, closed before the end. */
TEST_F(inject, add_inode_dir_o_path)
{
	struct ukevent p;
	int fd;

	ASSERT_EQ(0, inode_setup());
	fd = open(inode_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	ASSERT_GE(fd, 0);
	p = uk_make(KEVENT_INODE, fd, 0, KEVENT_INODE_CREATE | KEVENT_INODE_REMOVE,
		    KEVENT_REQ_ONESHOT, 10);
	FAIL_EACH_ALLOCATION(op_add(self->q, p, trigger_inode_dir));
	close(fd);
	ASSERT_TRUE(queue_works(self->q, 99));
}

TEST_F(inject, add_poll_queue)
{
	struct ukevent p;

	nested_queue = open_queue();
	ASSERT_GE(nested_queue, 0);
	p = uk_make(KEVENT_POLL, nested_queue, 0, KEVENT_POLL_POLLIN, KEVENT_REQ_ONESHOT, 6);
	FAIL_EACH_ALLOCATION(op_add(self->q, p, trigger_queue));
}

/*
 * Issue 11, section 2: a FIFO opened O_RDWR has two wait queues, so an ADD
 * watching it hooks the queue into the first one before it allocates the
 * hook for the second. A helper thread writes and reads the FIFO all the
 * time, so wake-ups arrive while the first hook is in place; when a later
 * allocation fails, the ADD must leave nothing: no event with its cookie,
 * REMOVE answers ENOENT, the same ADD then succeeds, and closing the queue
 * leaks nothing (kmemleak, after rmmod). fail-nth is per thread: the
 * helper's own allocations never fail.
 *
 * Today's main: a wake-up that arrives between the first hook and the
 * failed allocation queues the request being added on the ready list;
 * the ADD fails with ENOMEM, but the request stays queued and get-events
 * delivers an event with the failed ADD's cookie. The window is a few
 * microseconds, so the whole sweep is repeated FIFO_ROUNDS times to give
 * the race its chances; a run on today's main can still miss it.
 */
#define FIFO_ROUNDS 50
#define FIFO_COOKIE 0xf1f0

struct churn {
	pthread_t thread;
	int fd;
	atomic_bool stop;
	atomic_long rounds;
};

static void *churn_fifo(void *arg)
{
	struct churn *c = arg;
	char byte = 'x';

	while (!atomic_load(&c->stop)) {
		if (write(c->fd, &byte, 1) == 1 && read(c->fd, &byte, 1) == 1)
			atomic_fetch_add(&c->rounds, 1);
	}
	return NULL;
}

/* Opens a FIFO O_RDWR | O_NONBLOCK in a tmpfs and starts the helper. */
static int start_churn(struct churn *c)
{
	char path[64];

	snprintf(path, sizeof(path), "/tmp/kevent-failslab-fifo-%d", getpid());
	unlink(path);
	if (mkfifo(path, 0600))
		return -1;
	c->fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	unlink(path);
	if (c->fd < 0)
		return -1;
	atomic_store(&c->stop, false);
	atomic_store(&c->rounds, 0);
	if (pthread_create(&c->thread, NULL, churn_fifo, c)) {
		close(c->fd);
		return -1;
	}
	/* It runs before the first ADD. */
	while (atomic_load(&c->rounds) == 0)
		usleep(1000);
	return 0;
}

static void stop_churn(struct churn *c)
{
	atomic_store(&c->stop, true);
	pthread_join(c->thread, NULL);
	close(c->fd);
}

/* Why op_add_fifo() said no, for the log. */
static const char *fifo_why;

/* Whether get-events (timeout 0) on `q` returns an event with `cookie`. */
static int has_event(int q, __u64 cookie)
{
	struct ukevent ev[8];
	int n = get_ns(q, 0, 8, 0, ev);

	if (n < 0)
		return -1;
	for (int i = 0; i < n; i++)
		if (ev[i].ptr == cookie)
			return 1;
	return 0;
}

/*
 * ADD of the FIFO with POLLIN | POLLOUT, with an allocation armed to fail.
 * On ENOMEM: no event, REMOVE finds nothing, and (unless `close_queue`)
 * the same ADD then succeeds. On success: the request is delivered at
 * once (the FIFO is always writable; see below) and REMOVE finds it. With
 * `close_queue`, `q` is closed right after the checks, whatever happened,
 * while the helper keeps waking the FIFO.
 */
static int op_add_fifo(int q, int fifo, bool close_queue)
{
	struct ukevent proto = uk_make(KEVENT_POLL, fifo, 0, POLLIN | POLLOUT, 0, FIFO_COOKIE);
	struct ukevent uk = proto, ev[8];
	int r = ctl1(q, KEVENT_CTL_ADD, &uk), n;

	disarm();
	fifo_why = "";
	if (r == ENOMEM) {
		if (has_event(q, FIFO_COOKIE) != 0) {
			fifo_why = "the failed ADD's request was delivered";
			return EEXIST;
		}
		uk = proto;
		if (ctl1(q, KEVENT_CTL_REMOVE, &uk) != ENOENT) {
			fifo_why = "REMOVE after the failed ADD found a request";
			return EEXIST;
		}
		if (close_queue) {
			close(q);
			return r;
		}
		uk = proto;
		if (ctl1(q, KEVENT_CTL_ADD, &uk)) {
			fifo_why = "the same ADD failed after the failed one";
			return EIO;
		}
	} else if (r) {
		fifo_why = "ADD failed with something other than ENOMEM";
		if (close_queue)
			close(q);
		return r;
	}
	/*
	 * The FIFO is writable, but 6.12's pipe_poll() reads the pipe's head
	 * and tail without its lock: a write and a read by the helper between
	 * the two loads make it see a "full" pipe holding data, POLLIN alone
	 * (upstream reads both in one load since 6.14). Either bit will do.
	 */
	n = get_ns(q, 1, 8, NSEC_PER_SEC, ev);
	if (n != 1 || ev[0].ptr != FIFO_COOKIE || ev[0].ret_flags != KEVENT_RET_DONE ||
	    !(ev[0].ret_data[0] & (POLLIN | POLLOUT))) {
		static char why[160];

		if (n < 1)
			snprintf(why, sizeof(why),
				 "the added request was not delivered within 1 s (get-events: %d)", n);
		else
			snprintf(why, sizeof(why),
				 "the added request was not delivered as one normal event (%d events, the first: cookie %#llx, ret_flags %#x, mask %#x)",
				 n, (unsigned long long)ev[0].ptr, ev[0].ret_flags, ev[0].ret_data[0]);
		fifo_why = why;
		return EIO;
	}
	if (close_queue) {
		close(q);	/* with the request in place */
		return r;
	}
	uk = proto;
	if (ctl1(q, KEVENT_CTL_REMOVE, &uk)) {
		fifo_why = "REMOVE did not find the added request";
		return EIO;
	}
	if (has_event(q, FIFO_COOKIE) != 0) {
		fifo_why = "the removed request was delivered";
		return EIO;
	}
	return r;
}

/* The sweep of FAIL_EACH_ALLOCATION, FIFO_ROUNDS times, with a reason. */
static void fifo_rounds(struct __test_metadata *_metadata, int *steps, int q, bool close_queue)
{
	struct churn c;
	int round, n, r, failed = 0;

	ASSERT_EQ(0, start_churn(&c));
	for (round = 0; round < FIFO_ROUNDS && !failed; round++) {
		for (n = 1; n <= MAX_STEPS; n++) {
			int fd = q;

			if (close_queue) {
				fd = open_queue();
				ASSERT_GE(fd, 0);
			}
			arm(n);
			r = op_add_fifo(fd, c.fd, close_queue);
			if (!(r == 0 || (hit && r == ENOMEM))) {
				TH_LOG("round %d, allocation %d: %s (%s)", round, n, fifo_why,
				       strerror(r));
				failed = 1;
				break;
			}
			if (!hit)
				break;
			(*steps)++;
		}
		if (!failed) {
			ASSERT_LE(n, MAX_STEPS);
			ASSERT_GT(n, 1) TH_LOG("the ADD allocates nothing?");
		}
	}
	stop_churn(&c);
	ASSERT_FALSE(failed);
	TH_LOG("the helper wrote and read the FIFO %ld times", atomic_load(&c.rounds));
}

TEST_F_TIMEOUT(inject, add_poll_fifo_with_wakeups, 300)
{
	fifo_rounds(_metadata, &self->steps, self->q, false);
	ASSERT_TRUE(queue_works(self->q, 99));
}

TEST_F_TIMEOUT(inject, add_poll_fifo_with_wakeups_then_close_the_queue, 300)
{
	fifo_rounds(_metadata, &self->steps, -1, true);
	ASSERT_TRUE(queue_works(self->q, 99));
}

/*
 * The event ring. KEVENT_IOC_RING_SETUP charges max_user_requests, then
 * allocates the ring's bookkeeping (kzalloc, kcalloc), each of its pages
 * (alloc_page, so fail_page_alloc takes part), the shared state (an Arc)
 * and the slots of requests that leave with an entry (a KVec); a failure
 * must give the charge back, which this test does not see (it leaves the
 * limit alone; memcg_test's ring_limit tests count charges, without
 * failures). Each round uses a queue of its own (a queue has one ring for
 * life), opened before the failure is armed.
 *
 * Set-up fails with ENOMEM or succeeds. After a failure the queue has no
 * ring, and nothing of one: mmap is ENODEV, get-events with
 * KEVENT_GET_RING is EINVAL, a plain get-events still works, and a second
 * set-up succeeds. Then (either way) the ring works: it maps, its header
 * is fresh, an edge-triggered user event's READY is written into it at
 * once, get-events with KEVENT_GET_RING counts it, and a plain get-events
 * is EINVAL. A failure that left a reference to the queue behind (a
 * failed set-up or mmap) keeps the module's reference count up after the
 * queue is closed; kmemleak, after rmmod, sees what a failure leaked.
 */
#define RING_COOKIE 0x5151

/* Why a ring op said no, for the log. */
static const char *ring_why = "";

/* The fresh ring of `q` (`entries`, mapped `size` bytes) works; 0 or EIO. */
static int ring_works(int q, __u32 entries, __u32 size)
{
	struct ukevent uk = uk_make(KEVENT_USER, 3, 0, 0, KEVENT_REQ_ET, RING_COOKIE), ev;
	struct kevent_ring *r;
	struct kevent_ring_entry *e;
	int ok = 0;

	if (size != ring_bytes(entries)) {
		ring_why = "set-up wrote back a wrong size";
		return EIO;
	}
	r = ring_mmap(q, size);
	if (!r) {
		ring_why = "the ring does not map";
		return EIO;
	}
	if (ring_head(r) || ring_tail(r) || r->mask != entries - 1 || ring_flags(r)) {
		ring_why = "the ring's header is not a fresh one";
		goto out;
	}
	if (ctl1(q, KEVENT_CTL_ADD, &uk)) {
		ring_why = "ADD of a user event failed";
		goto out;
	}
	uk.ret_data[0] = 77;
	if (ctl1(q, KEVENT_CTL_READY, &uk)) {
		ring_why = "READY of a user event failed";
		goto out;
	}
	e = ring_entry(r, entries, 0);
	if (ring_tail(r) != 1 || e->type != KEVENT_USER || e->id.raw[0] != 3 ||
	    e->ptr != RING_COOKIE || e->ret_flags != KEVENT_RET_DONE || e->ret_data[0] != 77) {
		ring_why = "the READY was not written into the ring as one entry";
		goto out;
	}
	if (ring_get(q, 1, 1, NSEC_PER_SEC) != 1) {
		ring_why = "get-events with KEVENT_GET_RING did not count the entry";
		goto out;
	}
	if (get_ns(q, 0, 1, 0, &ev) != -EINVAL) {
		ring_why = "a plain get-events on a queue with a ring was not EINVAL";
		goto out;
	}
	ok = 1;
out:
	munmap(r, size);
	return ok ? 0 : EIO;
}

/*
 * Set-up of a ring of `entries` on the fresh queue `q` (`size` is unused:
 * the ring is not set up yet), which it closes.
 */
static int op_ring_setup(int q, __u32 entries, __u32 size)
{
	int r = ring_setup(q, entries, &size), res;

	disarm();
	ring_why = "";
	if (r == -ENOMEM) {
		if (!no_ring_to_map(q)) {
			ring_why = "after a failed set-up, mmap was not ENODEV";
			res = EEXIST;
		} else if (ring_get(q, 0, 1, 0) != -EINVAL) {
			ring_why = "after a failed set-up, KEVENT_GET_RING was not EINVAL";
			res = EEXIST;
		} else if (!queue_works(q, 9)) {
			ring_why = "after a failed set-up, the queue does not work without a ring";
			res = EIO;
		} else if (ring_setup(q, entries, &size)) {
			ring_why = "a set-up after a failed one failed";
			res = EIO;
		} else {
			res = ring_works(q, entries, size) ?: ENOMEM;
		}
	} else if (r) {
		ring_why = "set-up failed with something other than ENOMEM";
		res = -r;
	} else {
		res = ring_works(q, entries, size);
	}
	close(q);
	return res;
}

/*
 * mmap of the ring of `q` (set up before the failure was armed, `size`
 * bytes): its VMA, and the page tables vm_insert_pages fills. ENOMEM or a
 * mapping; either way the ring then works through a new mapping. Closes q.
 */
static int op_ring_mmap(int q, __u32 entries, __u32 size)
{
	void *r = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, q, 0);
	int res = r == MAP_FAILED ? errno : 0;

	disarm();
	ring_why = "";
	if (r != MAP_FAILED)
		munmap(r, size);
	if (res && res != ENOMEM)
		ring_why = "mmap failed with something other than ENOMEM";
	else
		res = ring_works(q, entries, size) ?: res;
	close(q);
	return res;
}

/*
 * The rounds of FAIL_EACH_ALLOCATION, each on a new queue, opened (and,
 * with `set_up`, given its ring) before the failure is armed. Then every
 * queue must be gone (the module's reference count back where it was).
 */
static void ring_rounds(struct __test_metadata *_metadata, int *steps, __u32 entries, bool set_up,
			int (*op)(int q, __u32 entries, __u32 size))
{
	int before = module_refcnt(), n, r;

	/* The fixture's queue only. */
	if (before >= 0)
		ASSERT_EQ(1, refcnt_back_to(1)) TH_LOG("queues of earlier tests are still held");
	for (n = 1; n <= MAX_STEPS; n++) {
		__u32 size = 0;
		int q = open_queue();

		ASSERT_GE(q, 0);
		if (set_up)
			ASSERT_EQ(0, ring_setup(q, entries, &size));
		arm(n);
		r = op(q, entries, size);
		ASSERT_TRUE(r == 0 || (hit && r == ENOMEM))
			TH_LOG("%u entries, allocation %d: %s (%s)", entries, n, ring_why,
			       strerror(r));
		if (!hit)
			break;
		(*steps)++;
	}
	ASSERT_LE(n, MAX_STEPS);
	ASSERT_GT(n, 1) TH_LOG("the ring op allocates nothing?");
	TH_LOG("%u entries: %d allocations made to fail", entries, n - 1);
	if (before >= 0)
		ASSERT_EQ(1, refcnt_back_to(1)) TH_LOG("a queue whose ring op failed is still held");
}

/* The smallest ring (one page), and one of 33 pages. */
TEST_F(inject, ring_setup_2)
{
	ring_rounds(_metadata, &self->steps, 2, false, op_ring_setup);
	ASSERT_TRUE(queue_works(self->q, 99));
}

TEST_F(inject, ring_setup_4096)
{
	ring_rounds(_metadata, &self->steps, 4096, false, op_ring_setup);
	ASSERT_TRUE(queue_works(self->q, 99));
}

TEST_F(inject, ring_mmap)
{
	ring_rounds(_metadata, &self->steps, 4096, true, op_ring_mmap);
	ASSERT_TRUE(queue_works(self->q, 99));
}

/*
 * A batch: each entry fails or succeeds on its own; the entries that
 * failed are absent, the others present, and all are processed.
 */
static int op_batch(int q)
{
	struct ukevent uk[8], probe;
	int n, i;

	for (i = 0; i < 8; i++)
		uk[i] = uk_user(100 + i, 0);
	n = kevent_ctl(q, KEVENT_CTL_ADD, 8, uk);
	disarm();
	if (n < 0)
		return errno;
	if (n != 8)
		return EIO;
	for (i = 0; i < 8; i++) {
		int want = uk[i].ret_flags & KEVENT_RET_BROKEN ? ENOENT : 0;

		if (want && uk[i].ret_data[1] != ENOMEM)
			return uk[i].ret_data[1];
		probe = uk_user(100 + i, 0);
		if (ctl1(q, KEVENT_CTL_REMOVE, &probe) != want)
			return EEXIST;
	}
	return 0;
}

TEST_F(inject, add_batch)
{
	FAIL_EACH_ALLOCATION(op_batch(self->q));
	ASSERT_TRUE(queue_works(self->q, 99));
}

/* MODIFY, READY, get-events and REMOVE of existing requests. */
static int op_others(int q)
{
	struct ukevent uk = uk_user(200, 0), ev[4];
	struct ukevent t = uk_make(KEVENT_TIMER, 1, 0, KEVENT_TIMER_UNIT_MS, 0, 201);
	int r;

	r = ctl1(q, KEVENT_CTL_MODIFY, &t);
	if (!r)
		r = user_ready(q, 200, 1);
	if (!r) {
		r = get_ns(q, 2, 4, NSEC_PER_SEC, ev);
		r = r >= 2 ? 0 : r < 0 ? -r : EIO;
	}
	if (!r)
		r = ctl1(q, KEVENT_CTL_REMOVE, &uk);
	t = uk_make(KEVENT_TIMER, 1, 0, KEVENT_TIMER_UNIT_MS, 0, 201);
	if (!r)
		r = ctl1(q, KEVENT_CTL_REMOVE, &t);
	disarm();
	return r;
}

TEST_F(inject, modify_ready_get_remove)
{
	int n, r;

	/* These need no memory: each must succeed whatever allocation fails. */
	for (n = 1; n <= 20; n++) {
		struct ukevent uk = uk_user(200, 0);
		struct ukevent t = uk_make(KEVENT_TIMER, 1, 0, KEVENT_TIMER_UNIT_MS, 0, 201);

		ASSERT_EQ(0, ctl1(self->q, KEVENT_CTL_ADD, &uk));
		ASSERT_EQ(0, ctl1(self->q, KEVENT_CTL_ADD, &t));
		arm(n);
		r = op_others(self->q);
		ASSERT_EQ(0, r) TH_LOG("allocation %d: %s", n, strerror(r));
	}
}

TEST_HARNESS_MAIN
