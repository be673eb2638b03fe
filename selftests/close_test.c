// SPDX-License-Identifier: GPL-2.0
/*
 * KEVENT_POLL and closed files (issue 11): a request watches the file its
 * fd named at ADD, as epoll does. Once every reference to that file other
 * than kevent's own is gone (every descriptor closed, nothing in flight in
 * SCM_RIGHTS), its requests are removed silently and kevent lets go of the
 * file: a peer sees EOF, the identity is free for a new ADD at once, and
 * nothing is ever delivered for it. A file still open through another
 * descriptor (dup, fork, in flight) stays watched under its original
 * number, whoever collects. A queue watching a socket in which its own fd
 * is in flight is freed once the program closes every fd.
 *
 * Each test says above it what the module of issue 10 (a request holding a
 * reference to its file, and BROKEN/EBADF delivered when the collecting
 * task's fd no longer names that file) does wrong there.
 *
 * Waits are bounded and generous (5 s for EOF, 10 s for the module's
 * reference count); nothing here depends on how fast the module is.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "kevent_test.h"
#include "kselftest_harness.h"

#define REFCNT "/sys/module/kevent/refcnt"
#define EOF_WAIT_MS 5000
#define COOKIE 0xc105e00000000000ULL

FIXTURE(q)
{
	int fd;
};

FIXTURE_SETUP(q)
{
	self->fd = open_queue();
	if (self->fd < 0 && errno == ENOENT)
		SKIP(return, KEVENT_DEVICE " is missing: is the module loaded?");
	ASSERT_GE(self->fd, 0);
	/* Writes to pipes whose reader is gone: EPIPE, not a signal. */
	ASSERT_NE(SIG_ERR, signal(SIGPIPE, SIG_IGN));
}

FIXTURE_TEARDOWN(q)
{
	if (self->fd >= 0)
		close(self->fd);
}

static struct ukevent uk_poll(int fd, __u32 events, __u32 flags)
{
	return uk_make(KEVENT_POLL, fd, 0, events, flags, COOKIE + fd);
}

static int add_poll(int q, int fd, __u32 events, __u32 flags)
{
	struct ukevent uk = uk_poll(fd, events, flags);

	return ctl1(q, KEVENT_CTL_ADD, &uk);
}

static int remove_poll(int q, int fd)
{
	struct ukevent uk = uk_poll(fd, 0, 0);

	return ctl1(q, KEVENT_CTL_REMOVE, &uk);
}

static int modify_poll(int q, int fd, __u32 events)
{
	struct ukevent uk = uk_poll(fd, events, 0);

	return ctl1(q, KEVENT_CTL_MODIFY, &uk);
}

/* Puts the file of `fd` at descriptor number `number` (closing `fd`). */
static int move_fd(int fd, int number)
{
	if (fd == number)
		return number;
	if (dup2(fd, number) != number)
		return -1;
	close(fd);
	return number;
}

/* Sends `n` descriptors (at most 4) and an int over a unix socket. */
static int send_fds(int sock, const int *fds, int n, int data)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(4 * sizeof(int))];
	} u;
	struct iovec iov = { .iov_base = &data, .iov_len = sizeof(data) };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = u.buf,
		.msg_controllen = CMSG_SPACE(n * sizeof(int)),
	};
	struct cmsghdr *c;

	memset(&u, 0, sizeof(u));
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(n * sizeof(int));
	memcpy(CMSG_DATA(c), fds, n * sizeof(int));
	return sendmsg(sock, &msg, MSG_NOSIGNAL) == sizeof(data) ? 0 : -1;
}

/* Receives the int and the one descriptor send_fds() sent; -1 if none. */
static int recv_fd(int sock, int *data)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct iovec iov = { .iov_base = data, .iov_len = sizeof(*data) };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = u.buf,
		.msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *c;
	int fd;

	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != sizeof(*data))
		return -1;
	c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
	    c->cmsg_len != CMSG_LEN(sizeof(int)))
		return -1;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

/* Waits up to EOF_WAIT_MS for `fd` to be readable; then one read must say EOF. */
static int sees_eof(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;

	if (poll(&p, 1, EOF_WAIT_MS) != 1)
		return 0;
	return read(fd, &c, 1) == 0;
}

/* Waits up to EOF_WAIT_MS for the write end of a pipe to see no reader. */
static int reader_gone(int wfd)
{
	struct pollfd p = { .fd = wfd, .events = POLLOUT };
	int64_t deadline = now_ns() + EOF_WAIT_MS * NSEC_PER_MSEC;

	/* A pipe with room is writable at once: wait for POLLERR itself. */
	do {
		if (poll(&p, 1, 0) == 1 && (p.revents & POLLERR))
			return 1;
		usleep(10 * 1000);
	} while (now_ns() < deadline);
	return 0;
}

/*
 * The one event of the pipe read end `fd` watched with POLLIN: a normal
 * one (no BROKEN), under `fd`'s number and cookie.
 */
#define EXPECT_NORMAL_POLLIN(ev, fd)					\
	do {								\
		EXPECT_EQ(KEVENT_POLL, (ev).type);			\
		EXPECT_EQ((__u32)(fd), (ev).id.raw[0]);			\
		EXPECT_EQ(COOKIE + (__u64)(fd), (ev).ptr);		\
		EXPECT_EQ(KEVENT_RET_DONE, (ev).ret_flags);		\
		EXPECT_EQ(0, (ev).ret_data[1]);				\
		EXPECT_TRUE((ev).ret_data[0] & POLLIN);			\
	} while (0)

/* ---- kevent lets go of a closed file --------------------------------- */

/*
 * Watches `watched` with `mask`, closes it, and expects `peer` (the other
 * end) to see EOF: kevent let go of the file. With `collect`, the queue is
 * used right after the close (and has nothing to deliver); without, it is
 * left idle until the EOF, so only the background sweep can let go.
 */
static void close_watched_expect_eof(struct __test_metadata *_metadata, int q, int watched,
				     int peer, __u32 mask, bool collect)
{
	struct ukevent ev[8];

	ASSERT_EQ(0, add_poll(q, watched, mask, 0));
	ASSERT_EQ(0, close(watched));
	if (collect)
		ASSERT_EQ(0, get_ns(q, 0, 8, 0, ev));
	ASSERT_TRUE(sees_eof(peer))
		TH_LOG("no EOF within %d ms: the closed file is still held", EOF_WAIT_MS);
	/* The request went with the file, silently. */
	EXPECT_EQ(0, get_ns(q, 0, 8, 0, ev));
	EXPECT_EQ(ENOENT, remove_poll(q, watched));
}

/*
 * Today's main: the request holds a reference to the socket, so closing the
 * only fd does not release it and the peer never sees EOF (poll times out).
 */
TEST_F(q, closed_socket_peer_sees_eof_idle_queue)
{
	int sv[2];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	close_watched_expect_eof(_metadata, self->fd, sv[0], sv[1], POLLIN, false);
	close(sv[1]);
}

/* Today's main: as above; a request that is ready (on the ready list) too. */
TEST_F(q, closed_socket_with_a_ready_request_peer_sees_eof_idle_queue)
{
	int sv[2];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	close_watched_expect_eof(_metadata, self->fd, sv[0], sv[1], POLLIN | POLLOUT, false);
	close(sv[1]);
}

/*
 * Today's main: get-events after the close delivers the ready request as
 * BROKEN/EBADF (one event, not none); the file is freed only then.
 */
TEST_F(q, closed_socket_peer_sees_eof_queue_used)
{
	int sv[2];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	close_watched_expect_eof(_metadata, self->fd, sv[0], sv[1], POLLIN | POLLOUT, true);
	close(sv[1]);
}

/*
 * Today's main: the request holds the write end, so the reader never sees
 * EOF (poll times out).
 */
TEST_F(q, closed_pipe_write_end_reader_sees_eof_idle_queue)
{
	int p[2];

	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	close_watched_expect_eof(_metadata, self->fd, p[1], p[0], POLLOUT, false);
	close(p[0]);
}

/* Today's main: BROKEN/EBADF from get-events instead of nothing. */
TEST_F(q, closed_pipe_write_end_reader_sees_eof_queue_used)
{
	int p[2];

	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	close_watched_expect_eof(_metadata, self->fd, p[1], p[0], POLLOUT, true);
	close(p[0]);
}

/*
 * The last close of a watched TCP socket sends its FIN.
 * Today's main: the request holds the socket; the client sees no EOF.
 */
TEST_F(q, closed_tcp_socket_sends_fin)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(addr);
	int lfd, cfd, afd;

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_GE(lfd, 0);
	ASSERT_EQ(0, bind(lfd, (struct sockaddr *)&addr, sizeof(addr)));
	ASSERT_EQ(0, listen(lfd, 4));
	ASSERT_EQ(0, getsockname(lfd, (struct sockaddr *)&addr, &len));
	cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_GE(cfd, 0);
	ASSERT_EQ(0, connect(cfd, (struct sockaddr *)&addr, sizeof(addr)));
	afd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	ASSERT_GE(afd, 0);
	close_watched_expect_eof(_metadata, self->fd, afd, cfd, POLLIN | POLLOUT, false);
	close(cfd);
	close(lfd);
}

/* A TCP listener on a free port of the loopback address, or -1. */
static int tcp_listener(struct sockaddr_in *addr)
{
	socklen_t len = sizeof(*addr);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	*addr = (struct sockaddr_in){ .sin_family = AF_INET,
				      .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (fd < 0 || bind(fd, (struct sockaddr *)addr, sizeof(*addr)) || listen(fd, 4) ||
	    getsockname(fd, (struct sockaddr *)addr, &len)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Whether a new socket of `type` can bind `addr` (without SO_REUSEADDR). */
static int port_is_free(int type, const struct sockaddr_in *addr)
{
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
	int ok = fd >= 0 && bind(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0;

	close(fd);
	return ok;
}

/*
 * kevent holds a TCP socket, not its file (sys/socket.c): its last close
 * sends the FIN as it returns (over loopback the peer has it then), as
 * with epoll. Before: the sweep let go of the file up to a round later
 * (EAGAIN here).
 */
TEST_F(q, closed_tcp_socket_sends_its_fin_as_the_close_returns)
{
	struct sockaddr_in addr;
	int lfd, cfd, afd;
	char c;

	lfd = tcp_listener(&addr);
	ASSERT_GE(lfd, 0);
	cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_GE(cfd, 0);
	ASSERT_EQ(0, connect(cfd, (struct sockaddr *)&addr, sizeof(addr)));
	afd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	ASSERT_GE(afd, 0);
	ASSERT_EQ(0, add_poll(self->fd, afd, POLLIN, 0));
	ASSERT_EQ(0, close(afd));
	EXPECT_EQ(0, recv(cfd, &c, 1, MSG_DONTWAIT)) TH_LOG("recv: %s", strerror(errno));
	EXPECT_EQ(ENOENT, remove_poll(self->fd, afd));
	close(cfd);
	close(lfd);
}

/*
 * The last close of a watched listener, or UDP socket, frees its port at
 * once: a server restarted in the same process can bind it again. Before:
 * EADDRINUSE until the sweep came by.
 */
TEST_F(q, closed_tcp_listener_and_udp_socket_free_their_ports_at_once)
{
	struct sockaddr_in addr, uaddr = { .sin_family = AF_INET,
					   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(uaddr);
	int lfd, ufd;

	lfd = tcp_listener(&addr);
	ASSERT_GE(lfd, 0);
	ASSERT_EQ(0, add_poll(self->fd, lfd, POLLIN, 0));
	ASSERT_EQ(0, close(lfd));
	EXPECT_TRUE(port_is_free(SOCK_STREAM, &addr)) TH_LOG("bind: %s", strerror(errno));
	EXPECT_EQ(ENOENT, remove_poll(self->fd, lfd));

	ufd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ASSERT_GE(ufd, 0);
	ASSERT_EQ(0, bind(ufd, (struct sockaddr *)&uaddr, sizeof(uaddr)));
	ASSERT_EQ(0, getsockname(ufd, (struct sockaddr *)&uaddr, &len));
	ASSERT_EQ(0, add_poll(self->fd, ufd, POLLIN, 0));
	ASSERT_EQ(0, close(ufd));
	EXPECT_TRUE(port_is_free(SOCK_DGRAM, &uaddr)) TH_LOG("bind: %s", strerror(errno));
	EXPECT_EQ(ENOENT, remove_poll(self->fd, ufd));
}

/*
 * One file watched by two queues, and twice in one queue (two cookies):
 * all of kevent's references together are still only kevent's.
 * Today's main: three references held; no EOF.
 */
TEST_F(q, closed_socket_watched_by_two_queues_peer_sees_eof)
{
	struct ukevent uk2, ev[8];
	int sv[2], other = open_queue();

	ASSERT_GE(other, 0);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	ASSERT_EQ(0, add_poll(self->fd, sv[0], POLLIN, 0));
	uk2 = uk_poll(sv[0], POLLIN | POLLOUT, KEVENT_REQ_ET);
	uk2.ptr = 7;
	ASSERT_EQ(0, ctl1(self->fd, KEVENT_CTL_ADD, &uk2));
	ASSERT_EQ(0, add_poll(other, sv[0], POLLOUT, 0));
	ASSERT_EQ(0, close(sv[0]));
	ASSERT_TRUE(sees_eof(sv[1])) TH_LOG("no EOF within %d ms", EOF_WAIT_MS);
	EXPECT_EQ(0, get_ns(self->fd, 0, 8, 0, ev));
	EXPECT_EQ(0, get_ns(other, 0, 8, 0, ev));
	EXPECT_EQ(ENOENT, remove_poll(self->fd, sv[0]));
	uk2 = uk_poll(sv[0], 0, 0);
	uk2.ptr = 7;
	EXPECT_EQ(ENOENT, ctl1(self->fd, KEVENT_CTL_REMOVE, &uk2));
	EXPECT_EQ(ENOENT, remove_poll(other, sv[0]));
	close(sv[1]);
	close(other);
}

/*
 * ADDs of new files arm the sweep's timer while the sweep runs: it must
 * stay armed. Two threads watch and unwatch fresh eventfds (each ADD makes
 * a new watch and arms the timer if it is not armed) for STORM_MS, while
 * this one closes the watched write end of a pipe every 50 ms, with the
 * queue idle, and expects EOF each time, which only the sweep can bring.
 * Found by the model test under load: a run of the sweep cancelled the
 * timer an ADD had just armed, outside the lock, and left it marked armed;
 * no sweep ran again in that boot. The window is a few instructions wide,
 * so this rarely hits it as it was; with a 2 ms sleep put into it, the
 * sweep stopped by the 2nd close.
 */
#define STORM_MS 4000

struct storm {
	int q;
	atomic_bool stop;
};

static void *storm_adds(void *arg)
{
	struct storm *st = arg;

	while (!atomic_load(&st->stop)) {
		int e = eventfd(0, EFD_CLOEXEC);

		if (e < 0)
			break;
		if (add_poll(st->q, e, POLLIN, 0) == 0)
			remove_poll(st->q, e);
		close(e);
	}
	return NULL;
}

TEST_F(q, sweep_stays_armed_while_adds_race_with_it)
{
	static struct storm st;
	int64_t end = now_ns() + STORM_MS * NSEC_PER_MSEC;
	pthread_t t[2];
	int i, rounds = 0;
	bool seen = true;

	st.q = open_queue();
	ASSERT_GE(st.q, 0);
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, storm_adds, &st));
	while (seen && now_ns() < end) {
		int p[2];

		/* A pipe: kevent holds its file (a socket it would not). */
		ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
		ASSERT_EQ(0, add_poll(self->fd, p[1], POLLOUT, 0));
		ASSERT_EQ(0, close(p[1]));
		seen = sees_eof(p[0]);
		close(p[0]);
		rounds++;
		usleep(50 * 1000);
	}
	atomic_store(&st.stop, true);
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	close(st.q);
	ASSERT_TRUE(seen) TH_LOG("close %d: no EOF within %d ms: the sweep stopped", rounds, EOF_WAIT_MS);
	TH_LOG("%d closes, each let go of by the sweep", rounds);
}

/* ---- one user cannot slow the sweep for another ---------------------- */

#define SWEEP_BATCH_PARAM "/sys/module/kevent/parameters/sweep_batch"
/* Files root watches, and the sweep's round of the table shrunk to a few
 * visits a run: a round of them all takes 64 runs of 50 ms, 3.2 s. */
#define CROWD 512
#define SMALL_BATCH "8"
#define LANE_TRIALS 4
#define LANE_WAIT_MS 1000
#define FLOOD_UID 65533
#define OTHER_UID 65534
/* A lane's turn: the flooding user keeps this many watched files open. */
#define LANE_USER 64
#define FLOOD_BATCH 16

/* In a child: becomes user `u` and opens a queue, or exits with 2 or 3. */
static int queue_of_user(uid_t u)
{
	int q;

	if (become(u))
		_exit(2);
	q = open_queue();
	if (q < 0)
		_exit(3);
	return q;
}

/*
 * As FLOOD_UID, until `stop` reads EOF: keeps LANE_USER watched eventfds
 * open, and watches and closes FLOOD_BATCH more at a time, without a
 * REMOVE, so that the sweep keeps finding closed files of this user in its
 * turns. Exits non-zero if it could not.
 */
static void flood_closed_watches(int stop)
{
	struct pollfd p = { .fd = stop, .events = POLLIN };
	struct ukevent uk[FLOOD_BATCH];
	int q = queue_of_user(FLOOD_UID), i, fd;

	for (i = 0; i < LANE_USER; i++) {
		fd = eventfd(0, EFD_CLOEXEC);
		if (fd < 0 || add_poll(q, fd, POLLIN, 0))
			_exit(4);
	}
	while (poll(&p, 1, 0) == 0) {
		for (i = 0; i < FLOOD_BATCH; i++) {
			fd = eventfd(0, EFD_CLOEXEC);
			if (fd < 0)
				_exit(5);
			uk[i] = uk_poll(fd, POLLIN, 0);
		}
		if (kevent_ctl(q, KEVENT_CTL_ADD, FLOOD_BATCH, uk) != FLOOD_BATCH)
			_exit(6);
		for (i = 0; i < FLOOD_BATCH; i++)
			close(uk[i].id.raw[0]);
	}
	_exit(0);
}

/*
 * As OTHER_UID, LANE_TRIALS times: watches a pipe's write end on an idle
 * queue, closes it, and times its reader's EOF, which only the sweep can
 * bring. Writes the longest wait in ms (EOF_WAIT_MS if there was none) to
 * `out`; exits non-zero if it could not try.
 */
static void other_user_closes(int out)
{
	int q = queue_of_user(OTHER_UID), i, worst = 0;

	for (i = 0; i < LANE_TRIALS; i++) {
		int64_t start;
		int p[2], ms;

		if (pipe2(p, O_CLOEXEC) || add_poll(q, p[1], POLLOUT, 0))
			_exit(4);
		start = now_ns();
		close(p[1]);
		ms = sees_eof(p[0]) ? (now_ns() - start) / NSEC_PER_MSEC : EOF_WAIT_MS;
		worst = ms > worst ? ms : worst;
		close(p[0]);
	}
	_exit(write(out, &worst, sizeof(worst)) == sizeof(worst) ? 0 : 5);
}

/*
 * A user with few watched files sees a closed one let go of within a run
 * or two of the sweep, however many files other users watch, and however
 * many closed files they leave it to find: each run gives every user's
 * files a turn (its lane), a bounded one, before it goes on with its round
 * of the whole table. Root watches CROWD open eventfds, with the round
 * shrunk (module parameter sweep_batch) so that a round of them takes
 * 3.2 s, and FLOOD_UID keeps closing watched files, which the lane finds
 * in its turns (a turn goes on after each); the closed pipe of OTHER_UID
 * must reach its reader's EOF within LANE_WAIT_MS, every time of
 * LANE_TRIALS.
 * Before: the sweep only went round the table, and a closed file was let
 * go of when the round came by, anywhere in those 3.2 s (and there was no
 * sweep_batch).
 */
TEST_F_TIMEOUT(q, few_watched_files_of_one_user_are_swept_whatever_another_watches, 60)
{
	int fds[CROWD], out[2], stop[2], i, worst = -1, flood, other;
	pid_t flooder, pid;
	char old[32];

	if (geteuid() != 0)
		SKIP(return, "needs root: sets a module parameter and becomes other users");
	for (i = 0; i < CROWD; i++) {
		fds[i] = eventfd(0, EFD_CLOEXEC);
		ASSERT_GE(fds[i], 0);
		ASSERT_EQ(0, add_poll(self->fd, fds[i], POLLIN, 0));
	}
	ASSERT_EQ(0, param_read(SWEEP_BATCH_PARAM, old, sizeof(old)));
	ASSERT_EQ(0, pipe2(stop, O_CLOEXEC));
	ASSERT_EQ(0, param_write(SWEEP_BATCH_PARAM, SMALL_BATCH));
	/* From here to the parameter's restore, nothing asserts. */
	flooder = fork();
	if (flooder == 0) {
		close(stop[1]);
		flood_closed_watches(stop[0]);
	}
	close(stop[0]);
	usleep(200 * 1000);
	/* Made after the flooder: only the other user's side can write it. */
	if (pipe2(out, O_CLOEXEC))
		out[0] = out[1] = -1;
	pid = out[0] >= 0 ? fork() : -1;
	if (pid == 0)
		other_user_closes(out[1]);
	close(out[1]);
	if (pid > 0 && read(out[0], &worst, sizeof(worst)) != sizeof(worst))
		worst = -1;
	other = reap(pid);
	close(stop[1]);
	flood = reap(flooder);
	ASSERT_EQ(0, param_write(SWEEP_BATCH_PARAM, old));
	close(out[0]);
	for (i = 0; i < CROWD; i++)
		close(fds[i]);
	ASSERT_EQ(0, flood) TH_LOG("the flooding user could not run (exit %d)", flood);
	ASSERT_EQ(0, other) TH_LOG("the other user's side could not run (exit %d)", other);
	TH_LOG("the other user's closed pipe reached EOF within %d ms at worst", worst);
	ASSERT_LT(worst, LANE_WAIT_MS);
}

/*
 * A queue watched by a queue, then closed: its only references are
 * kevent's, so the watch goes and the closed queue is freed.
 * Today's main: the watcher delivers BROKEN/EBADF, and until it is
 * collected the watcher holds the closed queue (the refcount stays up).
 */
TEST_F(q, closed_queue_watched_by_a_queue_is_freed)
{
	struct ukevent user = uk_user(1, 0), ev[4];
	int inner, after;

	if (module_refcnt() < 0)
		SKIP(return, "no " REFCNT);
	/* The fixture's queue only. */
	ASSERT_EQ(1, refcnt_back_to(1)) TH_LOG("queues of earlier tests are still held");
	inner = open_queue();
	ASSERT_GE(inner, 0);
	ASSERT_EQ(0, ctl1(inner, KEVENT_CTL_ADD, &user));
	ASSERT_EQ(0, user_ready(inner, 1, 0));
	ASSERT_EQ(0, add_poll(self->fd, inner, POLLIN, 0));
	ASSERT_EQ(0, close(inner));
	after = refcnt_back_to(1);
	EXPECT_EQ(1, after) TH_LOG("refcnt %d, was 1 before the inner queue", after);
	EXPECT_EQ(0, get_ns(self->fd, 0, 4, 0, ev));
	EXPECT_EQ(ENOENT, remove_poll(self->fd, inner));
}

/* ---- a closed file's requests are removed silently ------------------- */

/*
 * Today's main: get-events delivers one event with KEVENT_RET_BROKEN and
 * ret_data[1] = EBADF (the request holds the file, which is readable).
 */
TEST_F(q, closed_file_is_never_delivered)
{
	struct ukevent ev[8];
	int p[2], r;

	ASSERT_EQ(0, pipe2(p, O_CLOEXEC | O_NONBLOCK));
	ASSERT_EQ(1, write(p[1], "x", 1));
	ASSERT_EQ(0, add_poll(self->fd, p[0], POLLIN, 0));
	ASSERT_EQ(0, close(p[0]));
	memset(ev, 0, sizeof(ev));
	r = get_ns(self->fd, 0, 8, 0, ev);
	EXPECT_EQ(0, r) TH_LOG("the first of %d: ret_flags %#x ret_data[1] %u", r,
			       ev[0].ret_flags, ev[0].ret_data[1]);
	/* And never later: not after a wait either. */
	EXPECT_EQ(0, get_ns(self->fd, 1, 8, 200 * NSEC_PER_MSEC, ev));
	EXPECT_EQ(ENOENT, remove_poll(self->fd, p[0]));
	EXPECT_EQ(ENOENT, modify_poll(self->fd, p[0], POLLIN));
	close(p[1]);
}

/* Today's main: REMOVE finds the request (0); it holds the closed file. */
TEST_F(q, remove_after_close_is_enoent)
{
	struct ukevent ev[8];
	int p[2];

	ASSERT_EQ(0, pipe2(p, O_CLOEXEC | O_NONBLOCK));
	ASSERT_EQ(1, write(p[1], "x", 1));
	ASSERT_EQ(0, add_poll(self->fd, p[0], POLLIN, 0));
	ASSERT_EQ(0, close(p[0]));
	EXPECT_EQ(ENOENT, remove_poll(self->fd, p[0]));
	EXPECT_EQ(0, get_ns(self->fd, 0, 8, 0, ev));
	close(p[1]);
}

/* Today's main: MODIFY finds the request (0) and re-checks the closed file. */
TEST_F(q, modify_after_close_is_enoent)
{
	struct ukevent ev[8];
	int p[2];

	ASSERT_EQ(0, pipe2(p, O_CLOEXEC | O_NONBLOCK));
	ASSERT_EQ(0, add_poll(self->fd, p[1], POLLIN, 0));
	ASSERT_EQ(0, close(p[1]));
	EXPECT_EQ(ENOENT, modify_poll(self->fd, p[1], POLLOUT));
	EXPECT_EQ(ENOENT, remove_poll(self->fd, p[1]));
	EXPECT_EQ(0, get_ns(self->fd, 0, 8, 0, ev));
	close(p[0]);
}

/*
 * The number is reused by a new pipe right after the close: the same
 * identity (fd, type, cookie) is free at once and watches the new file.
 * Today's main: the ADD is EEXIST (the old request holds the old file).
 */
TEST_F(q, reused_number_add_succeeds_at_once_and_watches_the_new_file)
{
	struct ukevent ev[8];
	int a[2], b[2], n;
	char c;

	ASSERT_EQ(0, pipe2(a, O_CLOEXEC | O_NONBLOCK));
	ASSERT_EQ(1, write(a[1], "x", 1));	/* the old request is ready */
	n = a[0];
	ASSERT_EQ(0, add_poll(self->fd, n, POLLIN, 0));
	ASSERT_EQ(0, close(n));
	ASSERT_EQ(0, pipe2(b, O_CLOEXEC | O_NONBLOCK));
	ASSERT_EQ(n, move_fd(b[0], n));
	b[0] = n;
	ASSERT_EQ(0, add_poll(self->fd, n, POLLIN, 0));
	/* The old file was readable, the new one is not: nothing yet. */
	EXPECT_EQ(0, get_ns(self->fd, 0, 8, 0, ev));
	ASSERT_EQ(1, write(b[1], "y", 1));
	ASSERT_EQ(1, get_ns(self->fd, 1, 8, 5 * NSEC_PER_SEC, ev));
	EXPECT_NORMAL_POLLIN(ev[0], n);
	/* It is the new pipe's readiness: draining it ends it. */
	ASSERT_EQ(1, read(b[0], &c, 1));
	EXPECT_EQ('y', c);
	EXPECT_EQ(0, get_ns(self->fd, 0, 8, 0, ev));
	EXPECT_EQ(0, remove_poll(self->fd, n));
	EXPECT_EQ(ENOENT, remove_poll(self->fd, n));
	close(a[1]);
	close(b[0]);
	close(b[1]);
}

/* ---- a file still open elsewhere stays watched ----------------------- */

/*
 * Long enough for the module's background sweep (well under 1 s) to have
 * run several times: a file still open elsewhere must survive it.
 */
static void let_the_sweep_run(void)
{
	usleep(1500 * 1000);
}

/*
 * The watched fd is closed but a dup keeps the file open: it stays
 * watched under the old number, even after another file takes that
 * number; a new ADD of the identity is EEXIST. When the dup goes too, the
 * request goes, and the identity is free.
 * Today's main: the event is BROKEN/EBADF (the number no longer names the
 * file), and the request is removed by that delivery.
 */
TEST_F(q, dup_keeps_the_file_watched_under_its_old_number)
{
	struct ukevent ev[8];
	int a[2], b[2], n, d;

	ASSERT_EQ(0, pipe2(a, O_CLOEXEC | O_NONBLOCK));
	n = a[0];
	d = dup(n);
	ASSERT_GE(d, 0);
	ASSERT_EQ(0, add_poll(self->fd, n, POLLIN, 0));
	ASSERT_EQ(0, close(n));
	ASSERT_EQ(0, pipe2(b, O_CLOEXEC | O_NONBLOCK));
	ASSERT_EQ(n, move_fd(b[0], n));	/* another file, the same number */
	b[0] = n;
	let_the_sweep_run();
	EXPECT_EQ(0, get_ns(self->fd, 0, 8, 0, ev));
	/* The new file at the number is not what is watched. */
	ASSERT_EQ(1, write(b[1], "b", 1));
	EXPECT_EQ(0, get_ns(self->fd, 0, 8, 0, ev));
	/* The first one is. */
	ASSERT_EQ(1, write(a[1], "a", 1));
	ASSERT_EQ(1, get_ns(self->fd, 1, 8, 5 * NSEC_PER_SEC, ev));
	EXPECT_NORMAL_POLLIN(ev[0], n);
	/* Level-triggered, and still there. */
	ASSERT_EQ(1, get_ns(self->fd, 1, 8, 0, ev));
	EXPECT_NORMAL_POLLIN(ev[0], n);
	EXPECT_EQ(EEXIST, add_poll(self->fd, n, POLLIN, 0));
	/* The dup was the last descriptor: now the request goes, silently. */
	ASSERT_EQ(0, close(d));
	EXPECT_EQ(0, get_ns(self->fd, 0, 8, 0, ev));
	EXPECT_EQ(ENOENT, remove_poll(self->fd, n));
	ASSERT_TRUE(reader_gone(a[1])) TH_LOG("the read end is still held");
	/* And the identity now watches the file at the number. */
	ASSERT_EQ(0, add_poll(self->fd, n, POLLIN, 0));
	ASSERT_EQ(1, get_ns(self->fd, 1, 8, 0, ev));
	EXPECT_NORMAL_POLLIN(ev[0], n);
	close(a[1]);
	close(b[0]);
	close(b[1]);
}

/*
 * Watches n (POLLIN), sends its only descriptor in flight over carrier and
 * closes it: after a sweep it is still watched, and a byte written to
 * writer (its other end) wakes its request under n.
 */
static void watch_while_in_flight(struct __test_metadata *_metadata, int q, int n, int writer,
				  int carrier)
{
	struct ukevent ev[8];

	ASSERT_EQ(0, add_poll(q, n, POLLIN, 0));
	ASSERT_EQ(0, send_fds(carrier, &n, 1, 0));
	ASSERT_EQ(0, close(n));
	let_the_sweep_run();
	ASSERT_EQ(1, write(writer, "x", 1));
	ASSERT_EQ(1, get_ns(q, 1, 8, 5 * NSEC_PER_SEC, ev));
	EXPECT_NORMAL_POLLIN(ev[0], n);
}

/*
 * The watched file's only descriptor is sent with SCM_RIGHTS and closed:
 * in flight, the file is still open and stays watched. Received and
 * closed, it is gone, and its request with it.
 * Today's main: BROKEN/EBADF at the first collection after the close.
 */
TEST_F(q, file_in_flight_stays_watched_received_and_closed_goes)
{
	struct ukevent ev[8];
	int a[2], sv[2], n, m, unused;

	ASSERT_EQ(0, pipe2(a, O_CLOEXEC | O_NONBLOCK));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	n = a[0];
	watch_while_in_flight(_metadata, self->fd, n, a[1], sv[1]);
	m = recv_fd(sv[0], &unused);
	ASSERT_GE(m, 0);
	/* Open again through another number: still watched under n. */
	ASSERT_EQ(1, get_ns(self->fd, 1, 8, 0, ev));
	EXPECT_NORMAL_POLLIN(ev[0], n);
	ASSERT_EQ(0, close(m));
	EXPECT_EQ(0, get_ns(self->fd, 0, 8, 0, ev));
	EXPECT_EQ(ENOENT, remove_poll(self->fd, n));
	EXPECT_TRUE(reader_gone(a[1]));
	close(a[1]);
	close(sv[0]);
	close(sv[1]);
}

/*
 * The socket holding the watched file in flight is closed: the file goes
 * with the socket's receive queue, and its request with it.
 * Today's main: BROKEN/EBADF at the first collection after the close, and
 * the request holds the read end (the writer never sees EPIPE).
 */
TEST_F(q, file_in_flight_goes_with_the_socket_that_holds_it)
{
	struct ukevent ev[8];
	int a[2], sv[2], n;

	ASSERT_EQ(0, pipe2(a, O_CLOEXEC | O_NONBLOCK));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	n = a[0];
	ASSERT_EQ(0, add_poll(self->fd, n, POLLIN, 0));
	ASSERT_EQ(0, send_fds(sv[1], &n, 1, 0));
	ASSERT_EQ(0, close(n));
	ASSERT_EQ(1, write(a[1], "x", 1));
	let_the_sweep_run();
	ASSERT_EQ(1, get_ns(self->fd, 1, 8, 5 * NSEC_PER_SEC, ev));
	EXPECT_NORMAL_POLLIN(ev[0], n);
	ASSERT_EQ(0, close(sv[0]));
	ASSERT_EQ(0, close(sv[1]));
	/* kevent let go: the pipe has no reader left. */
	ASSERT_TRUE(reader_gone(a[1])) TH_LOG("the read end is still held");
	EXPECT_EQ(0, get_ns(self->fd, 0, 8, 0, ev));
	EXPECT_EQ(ENOENT, remove_poll(self->fd, n));
	close(a[1]);
}

/*
 * kevent holds a unix socket, not its file (sys/socket.c): the last close
 * releases it as if nothing watched it, so the peer sees EOF as the close
 * returns, and the request is gone. Before: the sweep let go of the file
 * up to a round later (EAGAIN here).
 */
TEST_F(q, closed_unix_socket_is_released_as_the_close_returns)
{
	int sv[2];
	char c;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	ASSERT_EQ(0, add_poll(self->fd, sv[0], POLLIN, 0));
	ASSERT_EQ(0, close(sv[0]));
	EXPECT_EQ(0, recv(sv[1], &c, 1, MSG_DONTWAIT)) TH_LOG("recv: %s", strerror(errno));
	EXPECT_EQ(ENOENT, remove_poll(self->fd, sv[0]));
	close(sv[1]);
}

/*
 * A watched unix socket whose only descriptor is in flight stays watched
 * (its file is taken for each use), wakes its request, and goes when the
 * descriptor received is closed.
 */
TEST_F(q, unix_socket_in_flight_stays_watched_received_and_closed_goes)
{
	struct ukevent ev[8];
	int s[2], carrier[2], n, m, unused;
	char c;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, carrier));
	n = s[0];
	watch_while_in_flight(_metadata, self->fd, n, s[1], carrier[1]);
	m = recv_fd(carrier[0], &unused);
	ASSERT_GE(m, 0);
	ASSERT_EQ(1, read(m, &c, 1));
	EXPECT_EQ(0, get_ns(self->fd, 0, 8, 0, ev));
	ASSERT_EQ(1, write(s[1], "y", 1));
	ASSERT_EQ(1, get_ns(self->fd, 1, 8, 5 * NSEC_PER_SEC, ev));
	EXPECT_NORMAL_POLLIN(ev[0], n);
	/* Read: a unix socket closed with data unread resets its peer. */
	ASSERT_EQ(1, read(m, &c, 1));
	ASSERT_EQ(0, close(m));
	EXPECT_EQ(0, recv(s[1], &c, 1, MSG_DONTWAIT)) TH_LOG("recv: %s", strerror(errno));
	EXPECT_EQ(0, get_ns(self->fd, 0, 8, 0, ev));
	EXPECT_EQ(ENOENT, remove_poll(self->fd, n));
	close(s[1]);
	close(carrier[0]);
	close(carrier[1]);
}

/* ---- which task collects changes nothing ----------------------------- */

/* What a child that collected reports through its exit status. */
enum child_verdict {
	CHILD_OK,
	CHILD_NO_EVENT,		/* get-events failed or timed out */
	CHILD_MORE_EVENTS,
	CHILD_BROKEN,		/* KEVENT_RET_BROKEN (today: EBADF) */
	CHILD_WRONG_EVENT,	/* another id, cookie, flags or mask */
	CHILD_SETUP,		/* the child's own setup failed */
};

static const char *const verdicts[] = {
	"the normal event", "no event", "more than one event",
	"a BROKEN event", "a wrong event", "its own setup failed",
};

/* Collects from `q` in a child: exactly the normal POLLIN event of `fd`. */
static int collect_normal(int q, int fd)
{
	struct ukevent ev[4];
	int n = get_ns(q, 1, 4, 5 * NSEC_PER_SEC, ev);

	if (n <= 0)
		return CHILD_NO_EVENT;
	if (n > 1)
		return CHILD_MORE_EVENTS;
	if (ev[0].ret_flags & KEVENT_RET_BROKEN)
		return CHILD_BROKEN;
	if (ev[0].type != KEVENT_POLL || ev[0].id.raw[0] != (__u32)fd ||
	    ev[0].ptr != COOKIE + (__u64)fd || ev[0].ret_flags != KEVENT_RET_DONE ||
	    ev[0].ret_data[1] != 0 || !(ev[0].ret_data[0] & POLLIN))
		return CHILD_WRONG_EVENT;
	return CHILD_OK;
}

static int child_status(struct __test_metadata *_metadata, pid_t pid)
{
	int status;

	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status)) TH_LOG("wait status %#x", status);
	return WEXITSTATUS(status);
}

/* After a child collected: the owner's request is still there, working. */
static void owner_request_stays(struct __test_metadata *_metadata, int q, int fd)
{
	struct ukevent ev[4];

	ASSERT_EQ(1, get_ns(q, 1, 4, 0, ev));
	EXPECT_NORMAL_POLLIN(ev[0], fd);
	EXPECT_EQ(0, remove_poll(q, fd));
}

/*
 * Today's main: the child's fd table no longer names the file, so the
 * child gets BROKEN/EBADF and the delivery removes the parent's request
 * (the parent then collects nothing and REMOVE is ENOENT).
 */
static void forked_child_collects(struct __test_metadata *_metadata, int q, bool replace)
{
	int a[2], code;
	pid_t pid;

	ASSERT_EQ(0, pipe2(a, O_CLOEXEC | O_NONBLOCK));
	ASSERT_EQ(1, write(a[1], "x", 1));
	ASSERT_EQ(0, add_poll(q, a[0], POLLIN, 0));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int other[2];

		if (!replace) {
			close(a[0]);
		} else if (pipe2(other, O_CLOEXEC) || dup2(other[0], a[0]) != a[0]) {
			_exit(CHILD_SETUP);
		}
		_exit(collect_normal(q, a[0]));
	}
	code = child_status(_metadata, pid);
	EXPECT_EQ(CHILD_OK, code) TH_LOG("the child got %s", code < 6 ? verdicts[code] : "?");
	owner_request_stays(_metadata, q, a[0]);
	close(a[0]);
	close(a[1]);
}

TEST_F(q, forked_child_that_closed_the_fd_collects_the_normal_event)
{
	forked_child_collects(_metadata, self->fd, false);
}

TEST_F(q, forked_child_that_reused_the_number_collects_the_normal_event)
{
	forked_child_collects(_metadata, self->fd, true);
}

/*
 * A process that has the queue only through SCM_RIGHTS, and none of the
 * watched file's descriptors, collects.
 * Today's main: it gets BROKEN/EBADF, and the owner's request is removed.
 */
TEST_F(q, process_that_received_the_queue_collects_the_normal_event)
{
	int sv[2], a[2], code;
	pid_t pid;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		struct pollfd p = { .fd = sv[1], .events = POLLIN };
		int q, number;

		close(self->fd);	/* only the queue it receives */
		close(sv[0]);
		if (poll(&p, 1, 10 * 1000) != 1)
			_exit(CHILD_SETUP);
		q = recv_fd(sv[1], &number);
		if (q < 0)
			_exit(CHILD_SETUP);
		/* The pipe was made after the fork: not in this fd table. */
		_exit(collect_normal(q, number));
	}
	close(sv[1]);
	ASSERT_EQ(0, pipe2(a, O_CLOEXEC | O_NONBLOCK));
	ASSERT_EQ(1, write(a[1], "x", 1));
	ASSERT_EQ(0, add_poll(self->fd, a[0], POLLIN, 0));
	ASSERT_EQ(0, send_fds(sv[0], &self->fd, 1, a[0]));
	code = child_status(_metadata, pid);
	EXPECT_EQ(CHILD_OK, code) TH_LOG("the child got %s", code < 6 ? verdicts[code] : "?");
	owner_request_stays(_metadata, self->fd, a[0]);
	close(a[0]);
	close(a[1]);
	close(sv[0]);
}

/* ---- SCM_RIGHTS cycles ------------------------------------------------ */

#define CYCLES 100

static int new_socketpair(int sv[2])
{
	return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
}

/* Q watches S (POLLIN); Q's fd is sent to S (it sits in S's receive queue). */
static int cycle_one(void)
{
	int q = open_queue(), s[2], r = -1;

	if (q < 0 || new_socketpair(s))
		return -1;
	if (add_poll(q, s[0], POLLIN, 0) == 0 && send_fds(s[1], &q, 1, 0) == 0)
		r = 0;
	close(q);
	close(s[0]);
	close(s[1]);
	return r;
}

/*
 * Q watches S, and S and Q are both in flight in S's own receive queue
 * (sent from its peer). Nobody can receive from S without holding it, so
 * S and Q are garbage, which the unix GC frees (at the peer's release,
 * last here) only if kevent's hold on S does not count.
 */
static int cycle_socket_in_its_own_queue(void)
{
	int q = open_queue(), s[2], r = -1;

	if (q < 0 || new_socketpair(s))
		return -1;
	if (add_poll(q, s[0], POLLIN, 0) == 0 && send_fds(s[1], (int[]){ s[0], q }, 2, 0) == 0)
		r = 0;
	close(q);
	close(s[0]);
	close(s[1]);
	return r;
}

/* A watches S and B; A and B are both in flight in S. */
static int cycle_two_watched_in_flight(void)
{
	int a = open_queue(), b = open_queue(), s[2], both[2] = { a, b }, r = -1;

	if (a < 0 || b < 0 || new_socketpair(s))
		return -1;
	if (add_poll(a, s[0], POLLIN, 0) == 0 && add_poll(a, b, POLLIN, 0) == 0 &&
	    send_fds(s[1], both, 2, 0) == 0)
		r = 0;
	close(a);
	close(b);
	close(s[0]);
	close(s[1]);
	return r;
}

/* A watches S and B; B is in flight in S. */
static int cycle_watched_queue_in_flight(void)
{
	int a = open_queue(), b = open_queue(), s[2], r = -1;

	if (a < 0 || b < 0 || new_socketpair(s))
		return -1;
	if (add_poll(a, s[0], POLLIN, 0) == 0 && add_poll(a, b, POLLIN, 0) == 0 &&
	    send_fds(s[1], &b, 1, 0) == 0)
		r = 0;
	close(a);
	close(b);
	close(s[0]);
	close(s[1]);
	return r;
}

/* B watches A, A watches S, and B is in flight in S. */
static int cycle_through_a_watched_queue(void)
{
	int a = open_queue(), b = open_queue(), s[2], r = -1;

	if (a < 0 || b < 0 || new_socketpair(s))
		return -1;
	if (add_poll(a, s[0], POLLIN, 0) == 0 && add_poll(b, a, POLLIN, 0) == 0 &&
	    send_fds(s[1], &b, 1, 0) == 0)
		r = 0;
	close(a);
	close(b);
	close(s[0]);
	close(s[1]);
	return r;
}

/* A watches S, B watches T; A is in flight in T and B in S. */
static int cycle_crossed(void)
{
	int a = open_queue(), b = open_queue(), s[2], t[2], r = -1;

	if (a < 0 || b < 0 || new_socketpair(s) || new_socketpair(t))
		return -1;
	if (add_poll(a, s[0], POLLIN, 0) == 0 && add_poll(b, t[0], POLLIN, 0) == 0 &&
	    send_fds(t[1], &a, 1, 0) == 0 && send_fds(s[1], &b, 1, 0) == 0)
		r = 0;
	close(a);
	close(b);
	close(s[0]);
	close(s[1]);
	close(t[0]);
	close(t[1]);
	return r;
}

/*
 * Q watches S; S is in flight in T's receive queue, T and Q in S's. No
 * socket is in its own queue, yet nobody can receive any of them: the
 * unix GC frees the three only if kevent's hold on S does not count.
 */
static int cycle_two_sockets_in_each_other(void)
{
	int q = open_queue(), s[2], t[2], r = -1;

	if (q < 0 || new_socketpair(s) || new_socketpair(t))
		return -1;
	if (add_poll(q, s[0], POLLIN, 0) == 0 && send_fds(t[1], &s[0], 1, 0) == 0 &&
	    send_fds(s[1], (int[]){ t[0], q }, 2, 0) == 0)
		r = 0;
	close(q);
	close(s[0]);
	close(s[1]);
	close(t[0]);
	close(t[1]);
	return r;
}

static void cycles(struct __test_metadata *_metadata, int (*one)(void))
{
	int after, i;

	if (module_refcnt() < 0)
		SKIP(return, "no " REFCNT);
	/* The fixture's queue only. */
	ASSERT_EQ(1, refcnt_back_to(1)) TH_LOG("queues of earlier tests are still held");
	for (i = 0; i < CYCLES; i++)
		ASSERT_EQ(0, one()) TH_LOG("iteration %d", i);
	after = refcnt_back_to(1);
	EXPECT_EQ(1, after)
		TH_LOG("refcnt %d, was 1: %d queue references kept by %d cycles", after,
		       after - 1, CYCLES);
}

/*
 * Today's main: the request holds S, S's receive queue holds Q: nothing
 * frees either, and the module's refcnt grows by one per iteration.
 */
TEST_F(q, scm_cycle_queue_in_flight_in_a_socket_it_watches_is_freed)
{
	cycles(_metadata, cycle_one);
}

/*
 * No cycle: A is held by nothing once closed, and its release frees S and
 * B. Today's main passes this one; it guards the module's sweep against
 * keeping what its own release path used to free.
 */
TEST_F(q, scm_queue_watching_a_queue_in_flight_in_its_socket_is_freed)
{
	cycles(_metadata, cycle_watched_queue_in_flight);
}

/* Today's main: refcnt grows by two per iteration. */
TEST_F(q, scm_cycle_queue_watching_a_queue_both_in_flight_is_freed)
{
	cycles(_metadata, cycle_two_watched_in_flight);
}

/* Today's main: refcnt grows by two per iteration. */
TEST_F(q, scm_cycle_through_a_watched_queue_is_freed)
{
	cycles(_metadata, cycle_through_a_watched_queue);
}

/* Found by review: refcnt grew by one per iteration. */
TEST_F(q, scm_cycle_socket_in_flight_in_its_own_queue_is_freed)
{
	cycles(_metadata, cycle_socket_in_its_own_queue);
}

/* Today's main: refcnt grows by two per iteration. */
TEST_F(q, scm_cycle_crossed_between_two_queues_is_freed)
{
	cycles(_metadata, cycle_crossed);
}

/* Before kevent held unix sockets by inode: refcnt grew by one per iteration. */
TEST_F(q, scm_cycle_of_two_sockets_in_each_other_s_queue_is_freed)
{
	cycles(_metadata, cycle_two_sockets_in_each_other);
}

TEST_HARNESS_MAIN
