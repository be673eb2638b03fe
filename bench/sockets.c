// SPDX-License-Identifier: GPL-2.0
/*
 * 9. Socket readiness: collecting 64 readable unix stream sockets per
 * call, level-triggered, so every call finds them ready again. A program
 * that sizes its read wants the bytes waiting too: epoll reports readiness
 * only, and asks each socket (ioctl FIONREAD) after; a KEVENT_SOCKET event
 * carries the count. kevent-poll is kevent's KEVENT_POLL on the same
 * sockets, readiness only, as epoll.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include "bench.h"

#define NSOCK 64

enum contender { C_EPOLL, C_EPOLL_FIONREAD, C_KEVENT_POLL, C_KEVENT_SOCKET, C_COUNT };
static const char *const contender_name[C_COUNT] = {
	"epoll", "epoll+FIONREAD", "kevent-poll", "kevent-socket",
};

struct target {
	int rx[NSOCK], tx[NSOCK];
	int ep, kq_poll, kq_socket;
};

static void calls_epoll(const struct target *t, long calls, int fionread)
{
	struct epoll_event ev[NSOCK];
	long i, sum = 0;
	int j, n;

	for (i = 0; i < calls; i++) {
		if (epoll_wait(t->ep, ev, NSOCK, 0) != NSOCK)
			die("epoll_wait short");
		for (j = 0; fionread && j < NSOCK; j++) {
			if (ioctl(ev[j].data.fd, FIONREAD, &n))
				die("FIONREAD");
			sum += n;
		}
	}
	if (fionread && sum != calls * NSOCK)
		die("FIONREAD: wrong byte count");
}

static void calls_kevent(int kq, long calls, int figures)
{
	struct ukevent ev[NSOCK];
	long i, sum = 0;
	int j;

	for (i = 0; i < calls; i++) {
		if (kevent_get_events_ns(kq, 1, NSOCK, 0, ev, 0) != NSOCK)
			die("kevent_get_events short");
		for (j = 0; figures && j < NSOCK; j++)
			sum += ev[j].ret_data[0];
	}
	if (figures && sum != calls * NSOCK)
		die("KEVENT_SOCKET: wrong byte count");
}

/* ns per event of one run. */
static double run(const struct target *t, enum contender c, long calls)
{
	uint64_t t0 = now_ns();

	switch (c) {
	case C_EPOLL:
	case C_EPOLL_FIONREAD:
		calls_epoll(t, calls, c == C_EPOLL_FIONREAD);
		break;
	case C_KEVENT_POLL:
		calls_kevent(t->kq_poll, calls, 0);
		break;
	default:
		calls_kevent(t->kq_socket, calls, 1);
		break;
	}
	return (double)(now_ns() - t0) / calls / NSOCK;
}

static void setup(struct target *t)
{
	struct ukevent uk[NSOCK];
	int i, sv[2];

	for (i = 0; i < NSOCK; i++) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
			die("socketpair");
		t->rx[i] = sv[0];
		t->tx[i] = sv[1];
		/* One byte that is never read: readable for good. */
		if (write(sv[1], "k", 1) != 1)
			die("write");
	}
	t->ep = ep_open();
	ep_add_fds(t->ep, t->rx, NSOCK, EPOLLIN);
	t->kq_poll = kq_open();
	kq_add_fds(t->kq_poll, t->rx, NSOCK, KEVENT_POLL_POLLIN, 0);
	t->kq_socket = kq_open();
	for (i = 0; i < NSOCK; i++) {
		memset(&uk[i], 0, sizeof(uk[i]));
		uk[i].type = KEVENT_SOCKET;
		uk[i].id.raw[0] = t->rx[i];
		uk[i].event = KEVENT_SOCKET_RECV;
	}
	if (kevent_ctl(t->kq_socket, KEVENT_CTL_ADD, NSOCK, uk) != NSOCK)
		die("kevent_ctl socket");
	for (i = 0; i < NSOCK; i++)
		if (uk[i].ret_flags & KEVENT_RET_BROKEN)
			die("KEVENT_SOCKET add");
}

void bench_sockets(void)
{
	struct samples runs[C_COUNT] = { 0 };
	long calls = scaled(200);
	struct target t;
	int r, c;

	setup(&t);
	for (r = 0; r < bench_runs; r++)
		for (c = 0; c < C_COUNT; c++)
			samples_add(&runs[c], run(&t, c, calls));
	for (c = 0; c < C_COUNT; c++) {
		report("sockets", contender_name[c], "batch=64", "ns_per_event", &runs[c]);
		samples_free(&runs[c]);
	}
	close(t.ep);
	close(t.kq_poll);
	close(t.kq_socket);
	close_fds(t.rx, NSOCK);
	close_fds(t.tx, NSOCK);
}
