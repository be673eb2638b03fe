// SPDX-License-Identifier: GPL-2.0
/*
 * 3. Collection: the cost of fetching ready events, 1 or 64 per call, from
 * 64 eventfds that stay readable. epoll and kevent are level-triggered, so
 * every call finds them ready again. io_uring has no level-triggered poll:
 * it reports wake-ups, through a multishot POLL_ADD per fd (calls_uring).
 * kevent-user collects 64 level-triggered KEVENT_USER events, which have
 * no file: the difference to kevent is what asking the file costs (the fd
 * check and its poll).
 *
 * The event ring (issue 15), and what each contender's timing holds:
 *
 *  - epoll, kevent, kevent-user: a loop of collection calls, timed as a
 *    whole. Readiness is made once, before any timing, and lasts.
 *  - kevent-ring-level: the same 64 always-ready eventfds, level-triggered,
 *    on a queue with a ring; timed like kevent: a loop of calls, each a
 *    get-events with KEVENT_GET_RING (which asks each file and writes its
 *    entry into the ring) and the read of `batch` entries from the ring.
 *  - io_uring: before each call its eventfds are written (not timed); the
 *    timed part is io_uring_enter and the reaping of `batch` CQEs.
 *  - kevent-ring: 64 eventfds of its own, edge-triggered, on a queue with
 *    a ring: each write's wake-up writes an entry into the ring, in the
 *    writer, with no call. Not timed as collection: a block of RING_BLOCK
 *    writes, which fill the ring (timed apart, write_ns_per_event). Timed
 *    as collection: the reads of that block, RING_BLOCK / batch "calls"
 *    in one interval, each an acquire load of tail, the check of `batch`
 *    entries (type, mask, cookie) and a release store of head. So its
 *    collection row holds no kernel work at all: the kernel's share of an
 *    event is in its writes.
 *  - epoll-edge: 64 eventfds of its own, edge-triggered; before each call
 *    `batch` of them are written (timed apart, write_ns_per_event), and
 *    the timed part is the epoll_wait of those `batch`: the writes plus
 *    the call are what one edge-triggered event costs through epoll, to
 *    set against kevent-ring's writes plus reads.
 *  - write-only: a block of RING_BLOCK writes to 64 eventfds nobody
 *    watches, timed: what a write costs before anyone's wake-up runs.
 *
 * Timed intervals around each call (io_uring, epoll-edge) lose one clock
 * read each (clock_read_ns, measured at start).
 */
#define _GNU_SOURCE
#include <poll.h>
#include <stdio.h>
#include <unistd.h>
#include <liburing.h>
#include "bench.h"

#define NFD 64

/* Entries written, then read, per block of kevent-ring; also its ring's size. */
#define RING_BLOCK 1024

enum backend {
	B_EPOLL, B_KEVENT, B_URING, B_USER, B_RING_LT, B_RING, B_EPOLL_ET, B_WRITE, B_COUNT
};
static const char *const backend_name[B_COUNT] = {
	"epoll", "kevent", "io_uring", "kevent-user", "kevent-ring-level", "kevent-ring",
	"epoll-edge", "write-only",
};

struct target {
	int fds[NFD];		/* always readable: epoll, kevent, io_uring, kevent-ring-level */
	int ring_fds[NFD];	/* kevent-ring's, edge-triggered */
	int et_fds[NFD];	/* epoll-edge's */
	int wo_fds[NFD];	/* write-only's, watched by nobody */
	int ep, kq, kq_user, ep_et;
	int kq_ring_lt, kq_ring;
	int have_ring;
	struct bench_ring ring_lt, ring_et;
	long ring_moves;	/* GET_RING calls kevent-ring needed (expected none) */
	struct io_uring ring;
};

/* Keeps the compiler from dropping the reads of the entries. */
static volatile uint64_t ring_sink;

/*
 * Reads n entries from *head on, as a program would before acting on them:
 * its type, the mask it carries, its cookie. Frees them with one release
 * store of head.
 */
static inline void ring_take(struct kevent_ring *r, uint32_t mask, uint32_t *head, int n)
{
	uint64_t sum = 0;
	uint32_t h = *head;
	int j;

	for (j = 0; j < n; j++, h++) {
		const struct kevent_ring_entry *e = &r->entries[h & mask];

		if (e->type != KEVENT_POLL || !(e->ret_data[0] & KEVENT_POLL_POLLIN))
			die("kevent ring entry");
		sum += e->ptr;
	}
	bench_ring_advance(r, h);
	*head = h;
	ring_sink += sum;
}

static void calls_epoll(struct target *t, int batch, long calls)
{
	struct epoll_event ev[NFD];
	long i;

	for (i = 0; i < calls; i++)
		if (epoll_wait(t->ep, ev, batch, 0) != batch)
			die("epoll_wait short");
}

static void calls_kevent(int kq, int batch, long calls)
{
	struct ukevent ev[NFD];
	long i;

	for (i = 0; i < calls; i++)
		if (kevent_get_events_ns(kq, 1, batch, 0, ev, 0) != batch)
			die("kevent_get_events short");
}

/*
 * io_uring's events come from a multishot POLL_ADD per eventfd, armed once:
 * each wake-up of an fd is one CQE. Wake-ups are what it reports, not
 * readiness, so before each call the first `batch` eventfds are written,
 * outside the timing; with DEFER_TASKRUN the completion work those writes
 * queue runs in the timed io_uring_enter, which waits for `batch` CQEs,
 * and the CQEs are reaped in one pass. Returns the timed ns, less what
 * timing each call adds (about one clock read).
 */
static double calls_uring(struct target *t, int batch, long calls)
{
	struct io_uring_cqe *cqe;
	uint64_t timed = 0, t0;
	unsigned int head, n;
	long i;
	int j;

	for (i = 0; i < calls; i++) {
		for (j = 0; j < batch; j++)
			eventfd_poke(t->fds[j]);
		t0 = now_ns();
		if (io_uring_submit_and_wait(&t->ring, batch) < 0)
			die("io_uring_submit_and_wait");
		n = 0;
		io_uring_for_each_cqe(&t->ring, head, cqe) {
			if (cqe->res < 0 || !(cqe->flags & IORING_CQE_F_MORE))
				die("io_uring multishot poll ended");
			n++;
		}
		io_uring_cq_advance(&t->ring, n);
		timed += now_ns() - t0;
		if (n != (unsigned int)batch)
			die("io_uring short");
	}
	return timed - calls * clock_read_ns;
}

/* Level-triggered through the ring: a GET_RING call, then the ring's entries. */
static void calls_ring_lt(struct target *t, int batch, long calls)
{
	struct kevent_ring *r = t->ring_lt.r;
	uint32_t mask = r->mask, head = bench_ring_head(r);
	long i;

	for (i = 0; i < calls; i++) {
		if (bench_ring_get(t->kq_ring_lt, 1, batch, 0) < batch)
			die("kevent GET_RING short");
		ring_take(r, mask, &head, batch);
	}
}

/*
 * Edge-triggered through the ring: each block's writes fill the ring from
 * their wake-ups (timed into *write_ns), then its reads are timed as
 * `per_block` calls of `batch`. Should entries have waited outside the
 * ring (KEVENT_RING_BACKLOG), a GET_RING moves them in, in the timing, and
 * is counted. Returns the timed ns of `calls` rounded up to whole blocks,
 * in *done.
 */
static double calls_ring(struct target *t, int batch, long calls, long *done, double *write_ns)
{
	struct kevent_ring *r = t->ring_et.r;
	uint32_t mask = r->mask, head = bench_ring_head(r);
	long per_block = RING_BLOCK / batch, blocks = (calls + per_block - 1) / per_block, i, c;
	uint64_t timed = 0, written = 0, t0;
	int k;

	for (i = 0; i < blocks; i++) {
		t0 = now_ns();
		for (k = 0; k < RING_BLOCK; k++)
			eventfd_poke(t->ring_fds[k % NFD]);
		written += now_ns() - t0;
		t0 = now_ns();
		for (c = 0; c < per_block; c++) {
			while (bench_ring_tail(r) - head < (uint32_t)batch) {
				t->ring_moves++;
				if (bench_ring_get(t->kq_ring, batch, batch, 0) < batch)
					die("kevent ring short");
			}
			ring_take(r, mask, &head, batch);
		}
		timed += now_ns() - t0;
	}
	*done = blocks * per_block;
	*write_ns = (written - blocks * clock_read_ns) / (blocks * RING_BLOCK);
	return timed - blocks * clock_read_ns;
}

/* Edge-triggered epoll: `batch` writes (timed into *write_ns), then one timed epoll_wait. */
static double calls_epoll_et(struct target *t, int batch, long calls, double *write_ns)
{
	struct epoll_event ev[NFD];
	uint64_t timed = 0, written = 0, t0, t1;
	long i;
	int j;

	for (i = 0; i < calls; i++) {
		t0 = now_ns();
		for (j = 0; j < batch; j++)
			eventfd_poke(t->et_fds[j]);
		t1 = now_ns();
		if (epoll_wait(t->ep_et, ev, batch, 0) != batch)
			die("epoll_wait edge short");
		timed += now_ns() - t1;
		written += t1 - t0;
	}
	*write_ns = (written - calls * clock_read_ns) / (calls * batch);
	return timed - calls * clock_read_ns;
}

/* The writes alone, in blocks as kevent-ring's: ns per write. */
static double writes_only(struct target *t, long calls, int batch)
{
	long blocks = (calls + RING_BLOCK / batch - 1) / (RING_BLOCK / batch), i;
	uint64_t written = 0, t0;
	int k;

	for (i = 0; i < blocks; i++) {
		t0 = now_ns();
		for (k = 0; k < RING_BLOCK; k++)
			eventfd_poke(t->wo_fds[k % NFD]);
		written += now_ns() - t0;
	}
	return (written - blocks * clock_read_ns) / (blocks * RING_BLOCK);
}

static void uring_open(struct target *t)
{
	int i;

	uring_init_local(&t->ring, 2 * NFD);
	for (i = 0; i < NFD; i++)
		io_uring_prep_poll_multishot(io_uring_get_sqe(&t->ring), t->fds[i], POLLIN);
	/* The fds are readable already: arming posts a first CQE for each. */
	if (io_uring_submit_and_wait(&t->ring, NFD) != NFD)
		die("io_uring multishot poll");
	io_uring_cq_advance(&t->ring, NFD);
}

static int is_ring(enum backend b)
{
	return b == B_RING || b == B_RING_LT;
}

/*
 * ns per call of one run; *write_ns is the ns per event of the writes
 * that made the events ready where they are timed (kevent-ring,
 * epoll-edge, write-only), else stays negative. write-only makes no call
 * and returns 0.
 */
static double run(struct target *t, enum backend b, int batch, long calls, double *write_ns)
{
	uint64_t t0 = now_ns();
	long done;

	*write_ns = -1;
	switch (b) {
	case B_URING:
		return calls_uring(t, batch, calls) / calls;
	case B_RING:
		return calls_ring(t, batch, calls, &done, write_ns) / done;
	case B_EPOLL_ET:
		return calls_epoll_et(t, batch, calls, write_ns) / calls;
	case B_WRITE:
		*write_ns = writes_only(t, calls, batch);
		return 0;
	case B_EPOLL:
		calls_epoll(t, batch, calls);
		break;
	case B_KEVENT:
		calls_kevent(t->kq, batch, calls);
		break;
	case B_USER:
		calls_kevent(t->kq_user, batch, calls);
		break;
	case B_RING_LT:
		calls_ring_lt(t, batch, calls);
		break;
	default:
		die("collect backend");
	}
	return (double)(now_ns() - t0) / calls;
}

static void collect_batch(struct target *t, int batch)
{
	struct samples runs[B_COUNT] = { 0 }, per_ev[B_COUNT] = { 0 }, writes[B_COUNT] = { 0 };
	long calls = scaled(batch == 1 ? 3000 : 200);
	char params[32];
	int r, b;
	double ns, wns;

	t->ring_moves = 0;
	for (r = 0; r < bench_runs; r++)
		for (b = 0; b < B_COUNT; b++) {
			if (is_ring(b) && !t->have_ring)
				continue;
			ns = run(t, b, batch, calls, &wns);
			samples_add(&runs[b], ns);
			samples_add(&per_ev[b], ns / batch);
			if (wns >= 0)
				samples_add(&writes[b], wns);
		}
	snprintf(params, sizeof(params), "batch=%d", batch);
	for (b = 0; b < B_COUNT; b++) {
		if (runs[b].n && b != B_WRITE) {
			report("collect", backend_name[b], params, "ns_per_call", &runs[b]);
			report("collect", backend_name[b], params, "ns_per_event", &per_ev[b]);
		}
		if (writes[b].n)
			report("collect", backend_name[b], params, "write_ns_per_event", &writes[b]);
		samples_free(&runs[b]);
		samples_free(&per_ev[b]);
		samples_free(&writes[b]);
	}
	if (t->ring_moves)
		note("collect kevent-ring batch=%d: %ld GET_RING calls moved entries in", batch,
		     t->ring_moves);
}

static void work_epoll(void *t)
{
	calls_epoll(t, 64, 10);
}

static void work_kevent(void *t)
{
	calls_kevent(((struct target *)t)->kq, 64, 10);
}

static void work_user(void *t)
{
	calls_kevent(((struct target *)t)->kq_user, 64, 10);
}

static void work_ring_lt(void *t)
{
	calls_ring_lt(t, 64, 10);
}

/* 64 level-triggered user events, made ready once: they stay ready. */
static int user_queue(void)
{
	struct ukevent uk[NFD] = { 0 };
	int kq = kq_open(), i, cmd;

	for (i = 0; i < NFD; i++) {
		uk[i].type = KEVENT_USER;
		uk[i].id.raw[0] = i;
	}
	for (cmd = KEVENT_CTL_ADD; cmd <= KEVENT_CTL_READY; cmd += KEVENT_CTL_READY)
		if (kevent_ctl(kq, cmd, NFD, uk) != NFD)
			die("kevent_ctl user");
	return kq;
}

/*
 * The ring's queues: kevent-ring-level on the always-ready eventfds,
 * kevent-ring edge-triggered on eventfds of its own, not yet ready (so
 * that every entry comes from a wake-up). The ring is set up before the
 * requests are added.
 */
static void ring_open(struct target *t)
{
	t->kq_ring_lt = kq_open();
	bench_ring_setup(t->kq_ring_lt, 2 * NFD, &t->ring_lt);
	kq_add_fds(t->kq_ring_lt, t->fds, NFD, KEVENT_POLL_POLLIN, 0);
	t->kq_ring = kq_open();
	bench_ring_setup(t->kq_ring, RING_BLOCK, &t->ring_et);
	kq_add_fds(t->kq_ring, t->ring_fds, NFD, KEVENT_POLL_POLLIN, KEVENT_REQ_ET);
}

static void ring_close(struct target *t)
{
	bench_ring_unmap(&t->ring_lt);
	bench_ring_unmap(&t->ring_et);
	close(t->kq_ring_lt);
	close(t->kq_ring);
}

void bench_collection(void)
{
	struct target t = { 0 };
	int i;

	for (i = 0; i < NFD; i++) {
		t.fds[i] = make_eventfd();
		eventfd_poke(t.fds[i]);
		t.ring_fds[i] = make_eventfd();
		t.et_fds[i] = make_eventfd();
		t.wo_fds[i] = make_eventfd();
	}
	t.ep = ep_open();
	ep_add_fds(t.ep, t.fds, NFD, EPOLLIN);
	t.ep_et = ep_open();
	ep_add_fds(t.ep_et, t.et_fds, NFD, EPOLLIN | EPOLLET);
	t.kq = kq_open();
	kq_add_fds(t.kq, t.fds, NFD, KEVENT_POLL_POLLIN, 0);
	t.kq_user = user_queue();
	t.have_ring = bench_ring_supported();
	if (t.have_ring)
		ring_open(&t);
	uring_open(&t);
	collect_batch(&t, 1);
	collect_batch(&t, 64);
	profile("collect64-epoll", work_epoll, &t, 3000000000ull);
	profile("collect64-kevent", work_kevent, &t, 3000000000ull);
	profile("collect64-kevent-user", work_user, &t, 3000000000ull);
	if (t.have_ring)
		profile("collect64-kevent-ring-level", work_ring_lt, &t, 3000000000ull);
	io_uring_queue_exit(&t.ring);
	close(t.ep);
	close(t.ep_et);
	close(t.kq);
	close(t.kq_user);
	if (t.have_ring)
		ring_close(&t);
	close_fds(t.fds, NFD);
	close_fds(t.ring_fds, NFD);
	close_fds(t.et_fds, NFD);
	close_fds(t.wo_fds, NFD);
}
