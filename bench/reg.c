// SPDX-License-Identifier: GPL-2.0
/*
 * 2. Registration: the cost of one registration when b requests go in one
 * kevent_ctl call (b = 1, 8, 64), against b epoll_ctl calls; ADD, MODIFY
 * (a new mask, which re-polls the file in both) and REMOVE, each timed on
 * its own over 64 pipes. kevent-user does the same with KEVENT_USER
 * requests, which hook no file: the difference to kevent is the cost of
 * hooking a file (fget, its poll method, the wait-queue entries).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "bench.h"

#define POOL 64

enum phase { P_ADD, P_MOD, P_DEL, P_COUNT };
static const char *const phase_name[P_COUNT] = { "add", "modify", "remove" };

/* One call per batch; the result of each entry is checked outside the clock. */
static void kq_batch(int kq, int cmd, struct ukevent *uk, int b)
{
	int i;

	for (i = 0; i < POOL; i += b)
		if (kevent_ctl(kq, cmd, b, uk + i) != b)
			die("kevent_ctl");
}

static void kq_check(struct ukevent *uk)
{
	int i;

	for (i = 0; i < POOL; i++)
		if (uk[i].ret_flags & KEVENT_RET_BROKEN) {
			errno = uk[i].ret_data[1];
			die("kevent_ctl entry");
		}
}

static void kq_req(struct ukevent *uk, int user, int fd, int i, int p)
{
	if (!user) {
		kq_poll_req(uk, fd, p == P_MOD ? KEVENT_POLL_POLLIN | KEVENT_POLL_POLLRDNORM
					       : KEVENT_POLL_POLLIN, 0);
		return;
	}
	memset(uk, 0, sizeof(*uk));
	uk->type = KEVENT_USER;
	uk->id.raw[0] = i;
	uk->req_flags = p == P_MOD ? KEVENT_REQ_ET : 0;
}

static void kq_rep(int kq, int user, const int *fds, int b, uint64_t *ns)
{
	static const int cmd[P_COUNT] = { KEVENT_CTL_ADD, KEVENT_CTL_MODIFY, KEVENT_CTL_REMOVE };
	struct ukevent uk[POOL];
	uint64_t t0;
	int p, i;

	for (p = 0; p < P_COUNT; p++) {
		for (i = 0; i < POOL; i++)
			kq_req(&uk[i], user, fds[i], i, p);
		t0 = now_ns();
		kq_batch(kq, cmd[p], uk, b);
		ns[p] += now_ns() - t0;
		kq_check(uk);
	}
}

static void ep_rep(int ep, const int *fds, uint64_t *ns)
{
	static const int op[P_COUNT] = { EPOLL_CTL_ADD, EPOLL_CTL_MOD, EPOLL_CTL_DEL };
	struct epoll_event ev;
	uint64_t t0;
	int p, i;

	for (p = 0; p < P_COUNT; p++) {
		t0 = now_ns();
		for (i = 0; i < POOL; i++) {
			ev.events = p == P_MOD ? EPOLLIN | EPOLLRDNORM : EPOLLIN;
			ev.data.u64 = fds[i];
			if (epoll_ctl(ep, op[p], fds[i], &ev))
				die("epoll_ctl");
		}
		ns[p] += now_ns() - t0;
	}
}

/* One run of one contender: ns per registration for each phase. */
static void reg_run(int who, const int *fds, int b, long reps, struct samples *out)
{
	uint64_t ns[P_COUNT] = { 0 };
	int q = who ? kq_open() : ep_open();
	long r;
	int p;

	for (r = 0; r < reps; r++)
		if (who)
			kq_rep(q, who == 2, fds, b, ns);
		else
			ep_rep(q, fds, ns);
	close(q);
	for (p = 0; p < P_COUNT; p++)
		samples_add(&out[p], (double)ns[p] / (reps * POOL));
}

static void reg_batch(const int *fds, int b)
{
	struct samples runs[3][P_COUNT] = { 0 };
	static const char *const who[3] = { "epoll", "kevent", "kevent-user" };
	long reps = scaled(30);
	char params[48];
	int r, k, p;

	for (r = 0; r < bench_runs; r++)
		for (k = 0; k < 3; k++)
			reg_run(k, fds, b, reps, runs[k]);
	for (p = 0; p < P_COUNT; p++)
		for (k = 0; k < 3; k++) {
			snprintf(params, sizeof(params), "op=%s,batch=%d", phase_name[p], b);
			report("reg", who[k], params, "ns_per_registration", &runs[k][p]);
			samples_free(&runs[k][p]);
		}
}

struct reg_work {
	int q;
	const int *fds;
	uint64_t ns[P_COUNT];
};

static void work_kevent(void *arg)
{
	struct reg_work *w = arg;

	kq_rep(w->q, 0, w->fds, POOL, w->ns);
}

static void work_epoll(void *arg)
{
	struct reg_work *w = arg;

	ep_rep(w->q, w->fds, w->ns);
}

/* Where ADD, MODIFY and REMOVE of 64 spend their time, in kevent and epoll. */
static void reg_profile(const int *fds)
{
	struct reg_work w = { .q = kq_open(), .fds = fds };

	profile("reg64-kevent", work_kevent, &w, 3000000000ull);
	close(w.q);
	w.q = ep_open();
	profile("reg64-epoll", work_epoll, &w, 3000000000ull);
	close(w.q);
}

void bench_registration(void)
{
	int rd[POOL], wr[POOL];

	make_pipes(rd, wr, POOL);
	reg_batch(rd, 1);
	reg_batch(rd, 8);
	reg_batch(rd, 64);
	reg_profile(rd);
	close_fds(rd, POOL);
	close_fds(wr, POOL);
}
