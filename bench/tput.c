// SPDX-License-Identifier: GPL-2.0
/*
 * 5. Throughput, the method of the 2006 epoll_bench from the kevent review:
 * one writer thread writes a byte at a time round-robin to 2 000 pipes,
 * AF_UNIX stream pairs or loopback TCP connections for a fixed time; a
 * reader thread collects readiness (64 per call) and reads. Level: one
 * read per event. Edge: read until EAGAIN, as an edge-triggered loop must.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include "bench.h"

#define NCONN 2000

enum way { W_EPOLL_LT, W_EPOLL_ET, W_KEVENT_LT, W_KEVENT_ET, W_COUNT };
static const char *const way_name[W_COUNT] = { "epoll-level", "epoll-edge", "kevent-level",
					       "kevent-edge" };

struct stream {
	enum way w;
	int rd[NCONN], wr[NCONN], q;
	_Atomic int stop;
	long events;
};

static void nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static void make_unix(int *rd, int *wr)
{
	int sv[2], i;

	for (i = 0; i < NCONN; i++) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv))
			die("socketpair");
		rd[i] = sv[0];
		wr[i] = sv[1];
	}
}

static void make_tcp(int *rd, int *wr)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, i;

	if (ls < 0 || bind(ls, (void *)&a, sizeof(a)) || listen(ls, 64) ||
	    getsockname(ls, (void *)&a, &len))
		die("tcp listen");
	for (i = 0; i < NCONN; i++) {
		wr[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (wr[i] < 0 || connect(wr[i], (void *)&a, sizeof(a)))
			die("tcp connect");
		rd[i] = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (rd[i] < 0)
			die("tcp accept");
		/* One byte per write must leave at once, not wait for Nagle. */
		setsockopt(wr[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		nonblock(wr[i]);
	}
	close(ls);
}

static void drain(int fd)
{
	char buf[4096];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

static void on_event(struct stream *s, int fd)
{
	char buf[4096];

	if (s->w == W_EPOLL_ET || s->w == W_KEVENT_ET)
		drain(fd);
	else if (read(fd, buf, sizeof(buf)) < 0 && errno != EAGAIN)
		die("stream read");
	s->events++;
}

static void *reader(void *arg)
{
	struct stream *s = arg;
	struct epoll_event ev[64];
	struct ukevent uk[64];
	int i, n;

	pin_cpu(0);
	while (!atomic_load(&s->stop)) {
		if (s->w <= W_EPOLL_ET) {
			n = epoll_wait(s->q, ev, 64, 10);
			for (i = 0; i < n; i++)
				on_event(s, ev[i].data.u64);
		} else {
			n = kevent_get_events_ns(s->q, 1, 64, 10000000, uk, 0);
			for (i = 0; i < n; i++)
				on_event(s, uk[i].ptr);
		}
	}
	return NULL;
}

static void attach(struct stream *s)
{
	if (s->w == W_EPOLL_LT || s->w == W_EPOLL_ET) {
		s->q = ep_open();
		ep_add_fds(s->q, s->rd, NCONN, EPOLLIN | (s->w == W_EPOLL_ET ? EPOLLET : 0));
	} else {
		s->q = kq_open();
		kq_add_fds(s->q, s->rd, NCONN, KEVENT_POLL_POLLIN,
			   s->w == W_KEVENT_ET ? KEVENT_REQ_ET : 0);
	}
}

/* Events per second of one run. */
static double stream_run(struct stream *s, uint64_t ns)
{
	pthread_t th;
	uint64_t t0, end;
	int i = 0;

	attach(s);
	s->stop = 0;
	s->events = 0;
	pthread_create(&th, NULL, reader, s);
	pin_cpu(1);
	t0 = now_ns();
	for (end = t0 + ns; now_ns() < end; i = (i + 1) % NCONN)
		if (write(s->wr[i], "x", 1) < 0 && errno != EAGAIN)
			die("stream write");
	atomic_store(&s->stop, 1);
	t0 = now_ns() - t0;
	pthread_join(th, NULL);
	close(s->q);
	for (i = 0; i < NCONN; i++)
		drain(s->rd[i]);
	return s->events * 1e9 / t0;
}

static void bench_transport(struct stream *s, const char *name)
{
	struct samples runs[W_COUNT] = { 0 };
	uint64_t ns = scaled(700) * 1000000ull;
	char params[32];
	int r, w;

	for (r = 0; r < bench_runs; r++)
		for (w = 0; w < W_COUNT; w++) {
			s->w = w;
			samples_add(&runs[w], stream_run(s, ns));
		}
	snprintf(params, sizeof(params), "transport=%s", name);
	for (w = 0; w < W_COUNT; w++) {
		report("tput", way_name[w], params, "events_per_s", &runs[w]);
		samples_free(&runs[w]);
	}
	close_fds(s->rd, NCONN);
	close_fds(s->wr, NCONN);
}

void bench_throughput(void)
{
	struct stream *s = calloc(1, sizeof(*s));

	make_pipes(s->rd, s->wr, NCONN);
	bench_transport(s, "pipe");
	make_unix(s->rd, s->wr);
	bench_transport(s, "unix");
	make_tcp(s->rd, s->wr);
	bench_transport(s, "tcp");
	free(s);
}
