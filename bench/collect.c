// SPDX-License-Identifier: GPL-2.0
/*
 * 3. Collection: the cost of fetching ready events, 1 or 64 per call, from
 * 64 eventfds that stay readable. epoll and kevent are level-triggered, so
 * every call finds them ready again. io_uring has no level-triggered poll:
 * it reports wake-ups, through a multishot POLL_ADD per fd (calls_uring).
 * kevent-user collects 64 level-triggered KEVENT_USER events, which have
 * no file: the difference to kevent is what asking the file costs (the fd
 * check and its poll).
 */
#define _GNU_SOURCE
#include <poll.h>
#include <stdio.h>
#include <unistd.h>
#include <liburing.h>
#include "bench.h"

#define NFD 64

enum backend { B_EPOLL, B_KEVENT, B_URING, B_USER, B_COUNT };
static const char *const backend_name[B_COUNT] = { "epoll", "kevent", "io_uring", "kevent-user" };

struct target {
	int fds[NFD];
	int ep, kq, kq_user;
	struct io_uring ring;
};

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

/* ns per call of one run. */
static double run(struct target *t, enum backend b, int batch, long calls)
{
	uint64_t t0 = now_ns();

	if (b == B_URING)
		return calls_uring(t, batch, calls) / calls;
	if (b == B_EPOLL)
		calls_epoll(t, batch, calls);
	else if (b == B_KEVENT)
		calls_kevent(t->kq, batch, calls);
	else
		calls_kevent(t->kq_user, batch, calls);
	return (double)(now_ns() - t0) / calls;
}

static void collect_batch(struct target *t, int batch)
{
	struct samples runs[B_COUNT] = { 0 }, per_ev[B_COUNT] = { 0 };
	long calls = scaled(batch == 1 ? 3000 : 200);
	char params[32];
	int r, b;
	double ns;

	for (r = 0; r < bench_runs; r++)
		for (b = 0; b < B_COUNT; b++) {
			ns = run(t, b, batch, calls);
			samples_add(&runs[b], ns);
			samples_add(&per_ev[b], ns / batch);
		}
	snprintf(params, sizeof(params), "batch=%d", batch);
	for (b = 0; b < B_COUNT; b++) {
		report("collect", backend_name[b], params, "ns_per_call", &runs[b]);
		report("collect", backend_name[b], params, "ns_per_event", &per_ev[b]);
		samples_free(&runs[b]);
		samples_free(&per_ev[b]);
	}
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

void bench_collection(void)
{
	struct target t;
	int i;

	for (i = 0; i < NFD; i++) {
		t.fds[i] = make_eventfd();
		eventfd_poke(t.fds[i]);
	}
	t.ep = ep_open();
	ep_add_fds(t.ep, t.fds, NFD, EPOLLIN);
	t.kq = kq_open();
	kq_add_fds(t.kq, t.fds, NFD, KEVENT_POLL_POLLIN, 0);
	t.kq_user = user_queue();
	uring_open(&t);
	collect_batch(&t, 1);
	collect_batch(&t, 64);
	profile("collect64-epoll", work_epoll, &t, 3000000000ull);
	profile("collect64-kevent", work_kevent, &t, 3000000000ull);
	profile("collect64-kevent-user", work_user, &t, 3000000000ull);
	io_uring_queue_exit(&t.ring);
	close(t.ep);
	close(t.kq);
	close(t.kq_user);
	close_fds(t.fds, NFD);
}
