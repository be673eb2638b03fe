// SPDX-License-Identifier: GPL-2.0
/*
 * 1. Chained pipes, the method of libevent's test/bench.c: n pipes, each
 * read callback reads its byte and writes one to the next pipe until
 * 1 000 writes are done; `active` chains run at once. A round is the time
 * from the first write until every byte has been read, dispatching with a
 * zero timeout (libevent's EVLOOP_ONCE | EVLOOP_NONBLOCK).
 *
 * kevent-ring: the same chains on a queue with an event ring (issue 15),
 * its requests edge-triggered, so each write's wake-up writes an entry
 * into the ring in the writer, and dispatching is reading the ring: no
 * system call but the reads and writes of the pipes. A pipe wakes its
 * readers at every write while it is polled, so entries and bytes match
 * one to one, and each entry runs the others' callback (read a byte,
 * write one). The ring has room for every entry a round can have unread
 * (a byte in flight per chain, and the 64 a turn is reading); events that
 * waited outside a full ring would be coalesced, entries and bytes would
 * no longer match, so the round stops if the kernel says any did
 * (KEVENT_RING_BACKLOG).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "bench.h"

enum backend { B_POLL, B_EPOLL, B_KEVENT, B_RING, B_COUNT };
static const char *const backend_name[B_COUNT] = { "poll", "epoll", "kevent", "kevent-ring" };

/* Room for an entry per byte in flight (at most 100 chains) and a turn's 64. */
#define RING_ENTRIES 1024

struct chain {
	int n, writes, fired, count;
	int *rd, *wr, *fd2idx;
	int qfd;
	struct bench_ring rm;
	struct pollfd *pfd;
};

/* The chain goes on from pipe idx: a byte for the next pipe, while writes are left. */
static void pass_on(struct chain *c, int idx)
{
	int widx = idx + 1;

	if (c->writes) {
		if (widx >= c->n)
			widx -= c->n;
		if (write(c->wr[widx], "e", 1) != 1)
			die("chain write");
		c->writes--;
		c->fired++;
	}
}

static void on_read(struct chain *c, int idx)
{
	char ch;

	if (read(c->rd[idx], &ch, 1) == 1)
		c->count++;
	pass_on(c, idx);
}

/* poll has to scan the whole set every time, as libevent's poll backend does. */
static void dispatch_poll(struct chain *c)
{
	int i, left = poll(c->pfd, c->n, 0);

	for (i = 0; i < c->n && left > 0; i++)
		if (c->pfd[i].revents) {
			left--;
			on_read(c, i);
		}
}

static void dispatch_epoll(struct chain *c)
{
	struct epoll_event ev[64];
	int i, n = epoll_wait(c->qfd, ev, 64, 0);

	for (i = 0; i < n; i++)
		on_read(c, c->fd2idx[ev[i].data.u64]);
}

static void dispatch_kevent(struct chain *c)
{
	struct ukevent ev[64];
	int i, n = kevent_get_events_ns(c->qfd, 1, 64, 0, ev, 0);

	for (i = 0; i < n; i++)
		on_read(c, c->fd2idx[ev[i].ptr]);
}

/* Up to 64 entries, read in place; head is advanced past them once, after. */
static void dispatch_ring(struct chain *c)
{
	struct kevent_ring *r = c->rm.r;
	uint32_t h = bench_ring_head(r), tail = bench_ring_tail(r);
	int n;

	if (bench_ring_flags(r) & KEVENT_RING_BACKLOG) {
		errno = EOVERFLOW;
		die("kevent-ring pipes: events waited outside the ring (RING_ENTRIES too small)");
	}
	for (n = 0; h != tail && n < 64; h++, n++)
		on_read(c, c->fd2idx[r->entries[h & r->mask].ptr]);
	bench_ring_advance(r, h);
}

static void dispatch(struct chain *c, enum backend b)
{
	if (b == B_POLL)
		dispatch_poll(c);
	else if (b == B_EPOLL)
		dispatch_epoll(c);
	else if (b == B_KEVENT)
		dispatch_kevent(c);
	else
		dispatch_ring(c);
}

/* Each run registers afresh, so only one contender's hooks are on the pipes. */
static void attach(struct chain *c, enum backend b)
{
	int i;

	if (b == B_EPOLL) {
		c->qfd = ep_open();
		ep_add_fds(c->qfd, c->rd, c->n, EPOLLIN);
	} else if (b == B_KEVENT) {
		c->qfd = kq_open();
		kq_add_fds(c->qfd, c->rd, c->n, KEVENT_POLL_POLLIN, 0);
	} else if (b == B_RING) {
		c->qfd = kq_open();
		bench_ring_setup(c->qfd, RING_ENTRIES, &c->rm);
		kq_add_fds(c->qfd, c->rd, c->n, KEVENT_POLL_POLLIN, KEVENT_REQ_ET);
	} else {
		for (i = 0; i < c->n; i++) {
			c->pfd[i].fd = c->rd[i];
			c->pfd[i].events = POLLIN;
		}
	}
}

/* One round; returns its time in µs. */
static double round_us(struct chain *c, enum backend b, int active, int writes)
{
	int i, space = c->n / active;
	uint64_t t0;

	attach(c, b);
	dispatch(c, b);
	c->fired = c->count = 0;
	for (i = 0; i < active; i++, c->fired++)
		if (write(c->wr[i * space], "e", 1) != 1)
			die("chain first write");
	c->writes = writes;
	t0 = now_ns();
	do
		dispatch(c, b);
	while (c->count != c->fired);
	t0 = now_ns() - t0;
	bench_ring_unmap(&c->rm);
	if (b != B_POLL)
		close(c->qfd);
	return t0 / 1000.0;
}

/*
 * poll's dispatch is O(n) per call: at 50 000 pipes and one chain a round
 * of 1 000 writes would take minutes under TCG, so poll does fewer writes
 * there and its time is scaled to 1 000 (each write costs one dispatch).
 */
static int writes_for(enum backend b, int n)
{
	int w = scaled(1000);

	if (b == B_POLL && n > 1000)
		w = w * 1000 / n < 20 ? 20 : w * 1000 / n;
	return w;
}

static void bench_n(struct chain *c, int active)
{
	struct samples runs[B_COUNT] = { 0 };
	char params[64];
	int r, b, w;

	for (r = 0; r < bench_runs; r++)
		for (b = 0; b < B_COUNT; b++) {
			if (b == B_RING && !bench_ring_supported())
				continue;
			w = writes_for(b, c->n);
			samples_add(&runs[b], round_us(c, b, active, w) * scaled(1000) / w);
		}
	snprintf(params, sizeof(params), "n=%d,active=%d", c->n, active);
	for (b = 0; b < B_COUNT; b++) {
		if (runs[b].n)
			report("pipes", backend_name[b], params, "us_per_round", &runs[b]);
		samples_free(&runs[b]);
	}
}

static void chain_alloc(struct chain *c, int n)
{
	int i, maxfd = 2 * n + 64;

	memset(c, 0, sizeof(*c));
	c->n = n;
	c->rd = calloc(n, sizeof(int));
	c->wr = calloc(n, sizeof(int));
	c->pfd = calloc(n, sizeof(*c->pfd));
	make_pipes(c->rd, c->wr, n);
	for (i = 0; i < n; i++)
		if (c->rd[i] >= maxfd || c->wr[i] >= maxfd)
			maxfd = (c->rd[i] > c->wr[i] ? c->rd[i] : c->wr[i]) + 1;
	c->fd2idx = calloc(maxfd, sizeof(int));
	for (i = 0; i < n; i++)
		c->fd2idx[c->rd[i]] = i;
}

static void chain_free(struct chain *c)
{
	close_fds(c->rd, c->n);
	close_fds(c->wr, c->n);
	free(c->rd);
	free(c->wr);
	free(c->pfd);
	free(c->fd2idx);
}

void bench_pipes(void)
{
	static const int sizes[] = { 100, 1000, 10000, 50000 };
	static const int actives[] = { 1, 100 };
	struct chain c;
	unsigned int i, a;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint64_t t0 = now_ns();

		chain_alloc(&c, sizes[i]);
		for (a = 0; a < sizeof(actives) / sizeof(actives[0]); a++)
			bench_n(&c, actives[a]);
		chain_free(&c);
		note("pipes n=%d took %.1f s", sizes[i], (now_ns() - t0) / 1e9);
	}
}
