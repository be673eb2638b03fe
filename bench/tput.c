// SPDX-License-Identifier: GPL-2.0
/*
 * 5. Throughput, the method of the 2006 epoll_bench from the kevent review:
 * one writer thread writes a byte at a time round-robin to 2 000 pipes,
 * AF_UNIX stream pairs or loopback TCP connections for a fixed time; a
 * reader thread collects readiness (64 per call) and reads. Level: one
 * read per event. Edge: read until EAGAIN, as an edge-triggered loop must.
 *
 * The event ring (issue 15), on a queue with a ring of RING_ENTRIES:
 * kevent-ring-level's requests are level-triggered, so their events reach
 * the ring only through get-events with KEVENT_GET_RING (up to 64 per
 * call), which the reader calls each time round, then reads the ring.
 * kevent-ring-edge's are edge-triggered: each wake-up of a stream (each
 * byte written, in the writer) writes an entry into the ring, and the
 * reader reads the ring with no call while it has entries; only when it
 * is empty does it call GET_RING (up to 64), which waits for one, or
 * moves in events that waited outside a full ring. Its entries are not
 * coalesced as epoll's and kevent's edge events are (a stream written
 * twice before the reader comes has two entries, the second of which
 * finds nothing to read), so events per second count different things:
 * bytes_per_s, the bytes the reader read, compares every contender, and
 * empty_pct says how many deliveries found nothing.
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

/* The smallest power of two with room for an entry per stream. */
#define RING_ENTRIES 2048

enum way { W_EPOLL_LT, W_EPOLL_ET, W_KEVENT_LT, W_KEVENT_ET, W_RING_LT, W_RING_ET, W_COUNT };
static const char *const way_name[W_COUNT] = { "epoll-level", "epoll-edge", "kevent-level",
					       "kevent-edge", "kevent-ring-level", "kevent-ring-edge" };

struct stream {
	enum way w;
	int rd[NCONN], wr[NCONN], q;
	struct bench_ring rm;
	_Atomic int stop;
	long events, empty, bytes;
};

static int is_ring(enum way w)
{
	return w == W_RING_LT || w == W_RING_ET;
}

static int is_edge(enum way w)
{
	return w == W_EPOLL_ET || w == W_KEVENT_ET || w == W_RING_ET;
}

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

/* The bytes read until EAGAIN. */
static long drain(int fd)
{
	char buf[4096];
	long got = 0;
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		got += n;
	return got;
}

static void on_event(struct stream *s, int fd)
{
	char buf[4096];
	ssize_t n;

	if (is_edge(s->w)) {
		n = drain(fd);
	} else {
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno != EAGAIN)
			die("stream read");
	}
	if (n > 0)
		s->bytes += n;
	else
		s->empty++;
	s->events++;
}

/*
 * The ring's entries from *head to tail, 64 at most, each acted on as
 * on_event; freed with one release store of head. An entry whose mask
 * has no POLLIN, POLLERR or POLLHUP (a wake-up for room to write, should
 * the ring carry one) is not an event for this reader, and is skipped.
 */
static int ring_events(struct stream *s, uint32_t *head)
{
	struct kevent_ring *r = s->rm.r;
	uint32_t mask = r->mask, h = *head, tail = bench_ring_tail(r);
	int n = 0;

	for (; h != tail && n < 64; h++, n++) {
		const struct kevent_ring_entry *e = &r->entries[h & mask];

		if (e->ret_data[0] & (KEVENT_POLL_POLLIN | KEVENT_POLL_POLLERR | KEVENT_POLL_POLLHUP))
			on_event(s, e->ptr);
	}
	bench_ring_advance(r, h);
	*head = h;
	return n;
}

static void ring_reader(struct stream *s)
{
	uint32_t head = bench_ring_head(s->rm.r);

	while (!atomic_load(&s->stop)) {
		/* Edge: the ring first; a call only when it is empty. */
		if (s->w == W_RING_ET && ring_events(s, &head))
			continue;
		if (bench_ring_get(s->q, 1, 64, 10000000) < 0 && errno != EINTR)
			die("kevent GET_RING");
		while (ring_events(s, &head))
			;
	}
}

static void *reader(void *arg)
{
	struct stream *s = arg;
	struct epoll_event ev[64];
	struct ukevent uk[64];
	int i, n;

	pin_cpu(0);
	if (is_ring(s->w)) {
		ring_reader(s);
		return NULL;
	}
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
		if (is_ring(s->w))
			bench_ring_setup(s->q, RING_ENTRIES, &s->rm);
		kq_add_fds(s->q, s->rd, NCONN, KEVENT_POLL_POLLIN, is_edge(s->w) ? KEVENT_REQ_ET : 0);
	}
}

/* Events per second of one run; bytes per second in *bps, deliveries that read nothing in *empty_pct. */
static double stream_run(struct stream *s, uint64_t ns, double *bps, double *empty_pct)
{
	pthread_t th;
	uint64_t t0, end;
	int i = 0;

	attach(s);
	s->stop = 0;
	s->events = s->empty = s->bytes = 0;
	pthread_create(&th, NULL, reader, s);
	pin_cpu(1);
	t0 = now_ns();
	for (end = t0 + ns; now_ns() < end; i = (i + 1) % NCONN)
		if (write(s->wr[i], "x", 1) < 0 && errno != EAGAIN)
			die("stream write");
	atomic_store(&s->stop, 1);
	t0 = now_ns() - t0;
	pthread_join(th, NULL);
	bench_ring_unmap(&s->rm);
	close(s->q);
	for (i = 0; i < NCONN; i++)
		drain(s->rd[i]);
	*bps = s->bytes * 1e9 / t0;
	*empty_pct = s->events ? 100.0 * s->empty / s->events : 0;
	return s->events * 1e9 / t0;
}

static void bench_transport(struct stream *s, const char *name)
{
	struct samples runs[W_COUNT] = { 0 }, bytes[W_COUNT] = { 0 }, empty[W_COUNT] = { 0 };
	uint64_t ns = scaled(700) * 1000000ull;
	char params[32];
	double bps, pct;
	int r, w;

	for (r = 0; r < bench_runs; r++)
		for (w = 0; w < W_COUNT; w++) {
			if (is_ring(w) && !bench_ring_supported())
				continue;
			s->w = w;
			samples_add(&runs[w], stream_run(s, ns, &bps, &pct));
			samples_add(&bytes[w], bps);
			samples_add(&empty[w], pct);
		}
	snprintf(params, sizeof(params), "transport=%s", name);
	for (w = 0; w < W_COUNT; w++) {
		if (runs[w].n) {
			report("tput", way_name[w], params, "events_per_s", &runs[w]);
			report("tput", way_name[w], params, "bytes_per_s", &bytes[w]);
			report("tput", way_name[w], params, "empty_pct", &empty[w]);
		}
		samples_free(&runs[w]);
		samples_free(&bytes[w]);
		samples_free(&empty[w]);
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
