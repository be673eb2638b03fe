// SPDX-License-Identifier: GPL-2.0
/*
 * Event accounting under concurrency: producer threads add, modify, make
 * ready and remove one-shot timers, user events, pipe watches and socket
 * requests on one queue while collector threads take events off it, for a
 * fixed time.
 * Every request gets a cookie of its own, and at the end each one must have
 * been delivered exactly once if it fired and was not removed, and never
 * if its REMOVE succeeded (a one-shot request that was delivered is gone,
 * so its REMOVE answers ENOENT).
 *
 * Inode requests (not one-shot) watch files of their own, in a scratch
 * directory under /tmp, that their producer writes to any number of times
 * (each write one notification), then deletes or REMOVEs the request of.
 * Deleted: exactly one of its events ends the watch (KEVENT_RET_EOF), and
 * the counts (ret_data[1]) of all its events add up to its writes exactly,
 * plus the notifications of the deletion it asked for (the unlink's
 * ATTRIB, and DELETE_SELF). Removed: it never ended, and its counts add up
 * to at most its writes.
 *
 *   accounting_test [SECONDS] [both|plain|ring]
 *
 * SECONDS (or KEVENT_STRESS_DURATION; default 20) is the time of each
 * run: test 1, plain (get-events copying into an array), then test 2,
 * through a ring, unless one of them is named.
 *
 * This is exact because the module delivers and removes a one-shot request
 * under the same lock REMOVE takes: a REMOVE either finds the request
 * undelivered or not at all.
 *
 * Test 2 runs the same stress on a queue with a small event ring (8
 * entries), its collectors waiting with KEVENT_GET_RING and reading the
 * ring under a lock of their own, as kevent.7 asks of several readers;
 * now and then a collector sits on the lock for a while, so that the ring
 * fills and events wait outside it (a full ring and KEVENT_RING_BACKLOG
 * must both be seen). Events are then written into the ring at wake-up or moved in by
 * a call, coalesced while they wait, and every kind must still come out
 * exactly once, counted as the ring counts it:
 *
 *  - one-shot user events, timers, pipe and socket watches: one entry
 *    each, exactly as above (written at wake-up, or moved in by a call);
 *    a REMOVE that succeeded means no entry ever;
 *  - inode requests: the counts of their entries (one per notification
 *    when written at wake-up, coalesced while they wait) add up as above;
 *  - edge-triggered user events (ring mode only), made ready any number
 *    of times, with payloads 1, 2, 3...: an entry per READY written at
 *    wake-up, one with the latest payload for those that waited. So their
 *    payloads come out strictly increasing (a duplicate or a reordering
 *    fails), never above the last READY, and the last READY's payload
 *    always comes out;
 *  - periodic timers (ring mode only), absolute on CLOCK_MONOTONIC with a
 *    first expiry T0 and a period P: their expirations are moved in by
 *    calls, each entry counting those since the last. The sum of the
 *    counts read by time t is at most the expiries of the schedule up to t
 *    (none early, none twice); and in a last phase, with nothing else
 *    running, the sum after the call that moved an entry in must be
 *    exactly the expiries up to that call (between those before and after
 *    it: none lost). Then they are removed.
 *
 * And for every kind: once a REMOVE has returned, no entry of its request
 * is written (kevent.7: an entry written before a REMOVE stays in the
 * ring; none comes after): the ring's tail, read after the REMOVE, is
 * past every entry of it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kevent_test.h"

#define PRODUCERS	3
#define COLLECTORS	2
#define WINDOW		48		/* live requests per producer */
#define PIPES		16		/* pipes per producer; the odd ones are sockets */
#define MAX_SEQ		(1u << 21)	/* requests per producer */

/* The last two only in ring mode. */
enum kind { USER, TIMER, PIPE, INODE, USER_ET, PERIODIC, NKINDS };
static const char *const kind_name[] = { "user", "timer", "pipe", "inode", "ET user",
					 "periodic timer" };

/*
 * What a request's cookie must have seen by the end. An inode request:
 * ENDED by the deletion of its file, or REMOVED (so are ET user events
 * and periodic timers). An ET user event: SEEN_ALL, its last READY's
 * payload came out. A periodic timer: SETTLED, checked exactly at the end.
 */
enum expect { IN_FLIGHT, ONCE, NEVER, ENDED, REMOVED, SEEN_ALL, SETTLED };

/* The ring mode (test 2). */
#define RING_ENTRIES	8
static bool ring_mode;
static struct kevent_ring *ring;
static __u32 ring_size;
static pthread_mutex_t read_lock = PTHREAD_MUTEX_INITIALIZER;	/* the ring's one reader */
static _Atomic uint64_t ring_read, ring_calls, backlog_seen, full_seen, periodic_read, et_read;

/*
 * What ring mode keeps of each request, besides the counts above: its
 * kind and, written before its ADD, its settings; the index (+ 1) of its
 * last entry; the ring's tail after a REMOVE that succeeded.
 */
struct ring_seq {
	int64_t t0;			/* PERIODIC: the first expiry (CLOCK_MONOTONIC) */
	uint32_t period;		/* PERIODIC: in ns */
	uint8_t kind;
	uint8_t imask;			/* INODE: index into inode_masks */
	_Atomic uint8_t any;		/* an entry of it was read */
	atomic_bool settled;		/* PERIODIC: checked exactly at the end */
	_Atomic uint32_t last;		/* USER_ET: the last payload read */
	_Atomic uint32_t end;		/* the index of its last entry, + 1 */
	uint32_t rm_tail;		/* the ring's tail after its REMOVE */
	atomic_bool removed;		/* a REMOVE of it succeeded (rm_tail is set) */
};

/* The masks of inode requests, and what the deletion adds to each. */
static const uint32_t inode_masks[] = {
	KEVENT_INODE_WRITE,
	KEVENT_INODE_WRITE | KEVENT_INODE_DELETE_SELF,
	KEVENT_INODE_WRITE | KEVENT_INODE_ATTRIB | KEVENT_INODE_DELETE_SELF,
};
static const uint32_t deletion_counts[] = { 0, 1, 2 };

static char scratch[64];	/* the inode requests' files */

/* The cookie: kind, producer, sequence number. */
#define COOKIE(kind, p, seq) (((uint64_t)(kind) << 60) | ((uint64_t)(p) << 52) | (seq))
#define COOKIE_KIND(c)	((unsigned int)((c) >> 60))
#define COOKIE_PROD(c)	((unsigned int)(((c) >> 52) & 0xff))
#define COOKIE_SEQ(c)	((uint32_t)((c) & 0xfffffffffffffULL))

struct live {
	bool used;
	enum kind kind;
	uint32_t seq;
	bool fired;		/* made ready (user), written (pipe), armed (timer) */
	int pipe;		/* PIPE: index into the producer's pipes */
	uint32_t first_us;	/* TIMER: the first expiry, part of its identity */
	int wfd;		/* INODE: its file, open for writing; the request's id */
	int mask;		/* INODE: index into inode_masks */
	bool et;		/* INODE, PERIODIC: KEVENT_REQ_ET */
	bool draining;		/* USER_ET: its last READY made, to be removed once read */
};

struct producer {
	pthread_t thread;
	int index;
	uint64_t rng;
	uint32_t next_seq;
	struct live window[WINDOW];
	int pipes[PIPES][2];
	bool pipe_busy[PIPES];
	bool pipe_delivering[PIPES];	/* fired and left to the collectors */
	uint32_t pipe_seq[PIPES];
	_Atomic uint8_t *delivered;	/* [MAX_SEQ], written by collectors */
	uint8_t *expect;		/* [MAX_SEQ], written by this producer */
	uint32_t *notified;		/* [MAX_SEQ] INODE: notifications it asked for */
	_Atomic uint32_t *counted;	/* [MAX_SEQ] INODE: the sum of its events' counts */
	_Atomic uint8_t *ends;		/* [MAX_SEQ] INODE: its events with KEVENT_RET_EOF */
	struct ring_seq *rs;		/* [MAX_SEQ] ring mode only */
	uint64_t added, removed, modified, inode_writes, readys;
};

static int qfd;
static struct producer producers[PRODUCERS];
static atomic_bool stop_producing, stop_collecting;
static atomic_bool failed;
static _Atomic uint64_t collected, bad_events;

#define FAIL(...) do { printf("# " __VA_ARGS__); printf("\n"); atomic_store(&failed, true); } while (0)

static uint32_t rnd(struct producer *p, uint32_t n)
{
	p->rng ^= p->rng << 13;
	p->rng ^= p->rng >> 7;
	p->rng ^= p->rng << 17;
	return (uint32_t)(p->rng % n);
}

static struct ukevent request_of(struct producer *p, struct live *l)
{
	uint64_t cookie = COOKIE(l->kind, p->index, l->seq);

	switch (l->kind) {
	case USER:
		return uk_make(KEVENT_USER, l->seq, 0, 0, KEVENT_REQ_ONESHOT, cookie);
	case TIMER:
		return uk_make(KEVENT_TIMER, 1000, l->first_us, KEVENT_TIMER_UNIT_US,
			       KEVENT_REQ_ONESHOT, cookie);
	case INODE:
		return uk_make(KEVENT_INODE, l->wfd, 0, inode_masks[l->mask],
			       l->et ? KEVENT_REQ_ET : 0, cookie);
	case USER_ET:
		return uk_make(KEVENT_USER, l->seq, 0, 0, KEVENT_REQ_ET, cookie);
	case PERIODIC: {
		const struct ring_seq *rs = &p->rs[l->seq];
		struct ukevent uk = uk_make(KEVENT_TIMER, rs->period, 0,
					    KEVENT_TIMER_UNIT_NS | KEVENT_TIMER_MONOTONIC |
					    KEVENT_TIMER_ABSTIME, l->et ? KEVENT_REQ_ET : 0, cookie);

		uk.ret_data[0] = (uint32_t)rs->t0;
		uk.ret_data[1] = (uint32_t)((uint64_t)rs->t0 >> 32);
		return uk;
	}
	default:
		/* An odd "pipe" is a unix socket pair: a KEVENT_SOCKET request. */
		if (l->pipe % 2)
			return uk_make(KEVENT_SOCKET, p->pipes[l->pipe][0], 0, KEVENT_SOCKET_RECV,
				       KEVENT_REQ_ONESHOT, cookie);
		return uk_make(KEVENT_POLL, p->pipes[l->pipe][0], 0, KEVENT_POLL_POLLIN,
			       KEVENT_REQ_ONESHOT, cookie);
	}
}

static int free_pipe(struct producer *p)
{
	for (int i = 0; i < PIPES; i++)
		if (!p->pipe_busy[i])
			return i;
	return -1;
}

static void inode_path(char *buf, size_t len, struct producer *p, uint32_t seq)
{
	snprintf(buf, len, "%s/%d-%u", scratch, p->index, seq);
}

/* 1-3 writes to an inode request's file: as many notifications. */
static void write_inode(struct producer *p, struct live *l)
{
	uint32_t n = 1 + rnd(p, 3);

	for (uint32_t i = 0; i < n; i++)
		if (write(l->wfd, "x", 1) != 1)
			FAIL("write to inode %u's file: %s", l->seq, strerror(errno));
	p->notified[l->seq] += n;
	p->inode_writes += n;
	l->fired = true;
}

/*
 * Ends an inode request by deleting its file: the fd closed (no event it
 * asked for), then the last name unlinked: its last event must come.
 */
static void delete_inode(struct producer *p, struct live *l)
{
	char path[96];

	inode_path(path, sizeof(path), p, l->seq);
	close(l->wfd);
	if (unlink(path))
		FAIL("unlink %s: %s", path, strerror(errno));
	p->notified[l->seq] += deletion_counts[l->mask];
	p->expect[l->seq] = ENDED;
}

/*
 * Makes a live request fire: READY for a user event, a byte for a pipe,
 * writes for an inode request (any number of times).
 */
static void fire(struct producer *p, struct live *l)
{
	if (l->kind == INODE) {
		write_inode(p, l);
		return;
	}
	if (l->kind == USER_ET) {
		/* Any number of times, with payloads 1, 2, 3... */
		struct ukevent uk = request_of(p, l);
		int r;

		uk.ret_data[0] = ++p->notified[l->seq];
		r = ctl1(qfd, KEVENT_CTL_READY, &uk);
		if (r)
			FAIL("READY of ET user %u failed: %d", l->seq, r);
		p->readys++;
		l->fired = true;
		return;
	}
	if (l->kind == PERIODIC)
		return;		/* it fires by itself */
	if (l->fired)
		return;
	if (l->kind == USER) {
		struct ukevent uk = request_of(p, l);
		int r;

		uk.ret_data[0] = l->seq;	/* the payload */
		r = ctl1(qfd, KEVENT_CTL_READY, &uk);

		if (r)
			FAIL("READY of user %u failed: %d", l->seq, r);
	} else if (l->kind == PIPE) {
		if (write(p->pipes[l->pipe][1], "x", 1) != 1)
			FAIL("pipe write failed: %s", strerror(errno));
	}
	l->fired = true;
}

static void add_one(struct producer *p, struct live *l)
{
	struct ukevent uk;
	int r;

	if (p->next_seq >= MAX_SEQ)
		return;
	memset(l, 0, sizeof(*l));
	l->kind = rnd(p, ring_mode ? NKINDS : 4);
	l->pipe = -1;
	l->wfd = -1;
	if (l->kind == PIPE) {
		l->pipe = free_pipe(p);
		if (l->pipe < 0)
			l->kind = USER;
	}
	l->seq = p->next_seq++;
	l->fired = l->kind == TIMER || l->kind == PERIODIC;
	l->first_us = 20 + rnd(p, 2000);	/* 20 us to 2 ms */
	if (l->kind == INODE) {
		char path[96];

		inode_path(path, sizeof(path), p, l->seq);
		l->wfd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
		if (l->wfd < 0) {
			FAIL("create %s: %s", path, strerror(errno));
			return;
		}
		l->mask = rnd(p, 3);
		l->et = rnd(p, 2);
	}
	if (ring_mode) {
		struct ring_seq *rs = &p->rs[l->seq];

		rs->kind = l->kind;
		rs->imask = l->mask;
		if (l->kind == PERIODIC) {
			/* Every 200 us to 2 ms, the first time 20 us to 2 ms from now. */
			l->et = rnd(p, 2);
			rs->period = 200000 + rnd(p, 1800000);
			rs->t0 = now_ns() + 20000 + rnd(p, 2000000);
		}
	}
	uk = request_of(p, l);
	r = ctl1(qfd, KEVENT_CTL_ADD, &uk);
	if (r) {
		FAIL("ADD of %s %u failed: %d", kind_name[l->kind], l->seq, r);
		if (l->kind == INODE) {
			char path[96];

			inode_path(path, sizeof(path), p, l->seq);
			close(l->wfd);
			unlink(path);
		}
		return;
	}
	if (l->kind == PIPE)
		p->pipe_busy[l->pipe] = true;
	l->used = true;
	p->added++;
}

/*
 * MODIFY keeps a request (a timer restarts); ENOENT once it was delivered.
 * An inode request is there until it is deleted or removed, and a MODIFY
 * to the same mask loses none of its pending notifications.
 */
static void modify_one(struct producer *p, struct live *l)
{
	struct ukevent uk;
	int r;

	/* A MODIFY restarts a timer from its first expiry: not exactly countable. */
	if (l->kind == PERIODIC)
		return;
	uk = request_of(p, l);
	r = ctl1(qfd, KEVENT_CTL_MODIFY, &uk);
	/* One-shot requests are gone once delivered; the others stay. */
	if (r == ENOENT && l->fired && l->kind != INODE && l->kind != USER_ET)
		return;
	if (r)
		FAIL("MODIFY of %s %u: %d", kind_name[l->kind], l->seq, r);
	p->modified++;
}

/*
 * Ring mode: after a REMOVE that succeeded, the ring's tail: no entry of
 * the request may be written at or after it.
 */
static void removed_at(struct producer *p, uint32_t seq)
{
	if (!ring_mode)
		return;
	p->rs[seq].rm_tail = ring_tail(ring);
	atomic_store(&p->rs[seq].removed, true);
}

/* REMOVE of a request that is not one-shot: it must be there. */
static void remove_lasting(struct producer *p, struct live *l, enum expect outcome)
{
	struct ukevent uk = request_of(p, l);
	int r = ctl1(qfd, KEVENT_CTL_REMOVE, &uk);

	if (r)
		FAIL("REMOVE of %s %u: %d", kind_name[l->kind], l->seq, r);
	removed_at(p, l->seq);
	p->expect[l->seq] = outcome;
	p->removed++;
	l->used = false;
}

/*
 * An ET user event whose last READY was made: removed once its payload
 * came out of the ring (all of its readiness was delivered).
 */
static void drain(struct producer *p, struct live *l)
{
	if (atomic_load(&p->rs[l->seq].last) == p->notified[l->seq])
		remove_lasting(p, l, SEEN_ALL);
}

/* Ends a live request: REMOVE it, or let it fire and be delivered. */
static void retire(struct producer *p, struct live *l)
{
	struct ukevent uk;
	int r;

	if (l->kind == PERIODIC) {
		remove_lasting(p, l, REMOVED);
		return;
	}
	if (l->kind == USER_ET) {
		if (rnd(p, 2)) {
			remove_lasting(p, l, REMOVED);
		} else {
			fire(p, l);
			p->expect[l->seq] = SEEN_ALL;
			l->draining = true;
		}
		return;
	}

	if (l->kind == INODE) {
		if (rnd(p, 2)) {
			delete_inode(p, l);
		} else {
			char path[96];

			uk = request_of(p, l);
			r = ctl1(qfd, KEVENT_CTL_REMOVE, &uk);
			if (r)
				FAIL("REMOVE of inode %u: %d", l->seq, r);
			removed_at(p, l->seq);
			p->expect[l->seq] = REMOVED;
			p->removed++;
			/* Gone: its file's deletion is nobody's event. */
			inode_path(path, sizeof(path), p, l->seq);
			close(l->wfd);
			unlink(path);
		}
		l->used = false;
		return;
	}
	if (rnd(p, 2)) {
		fire(p, l);
		p->expect[l->seq] = ONCE;
		if (l->kind == PIPE) {
			p->pipe_delivering[l->pipe] = true;
			p->pipe_seq[l->pipe] = l->seq;
		}
	} else {
		uk = request_of(p, l);
		r = ctl1(qfd, KEVENT_CTL_REMOVE, &uk);
		if (r == 0) {
			removed_at(p, l->seq);
			p->expect[l->seq] = NEVER;
			p->removed++;
		} else if (r == ENOENT && l->fired) {
			p->expect[l->seq] = ONCE;
		} else {
			FAIL("REMOVE of %s %u (fired %d): %d", kind_name[l->kind], l->seq,
			     l->fired, r);
		}
		if (l->kind == PIPE) {
			char c;

			/* The watch is gone either way: the pipe can be reused. */
			if (l->fired && read(p->pipes[l->pipe][0], &c, 1) != 1)
				FAIL("pipe read failed");
			p->pipe_busy[l->pipe] = false;
		}
	}
	l->used = false;
}

/*
 * A pipe left to fire must stay readable until its event is delivered;
 * then its one-shot watch is gone and the pipe can be drained and reused.
 */
static void reclaim_pipes(struct producer *p)
{
	char c;

	for (int i = 0; i < PIPES; i++) {
		if (!p->pipe_delivering[i] || !atomic_load(&p->delivered[p->pipe_seq[i]]))
			continue;
		if (read(p->pipes[i][0], &c, 1) != 1)
			FAIL("pipe read failed");
		p->pipe_delivering[i] = false;
		p->pipe_busy[i] = false;
	}
}

static void *producer_main(void *arg)
{
	struct producer *p = arg;

	while (!atomic_load(&stop_producing) && !atomic_load(&failed)) {
		struct live *l = &p->window[rnd(p, WINDOW)];

		reclaim_pipes(p);
		if (!l->used) {
			add_one(p, l);
			continue;
		}
		if (l->draining) {
			drain(p, l);
			continue;
		}
		switch (rnd(p, 4)) {
		case 0:
			fire(p, l);
			break;
		case 1:
			modify_one(p, l);
			break;
		default:
			retire(p, l);
			break;
		}
	}
	return NULL;
}

static void account(const struct ukevent *ev)
{
	uint64_t c = ev->ptr;
	unsigned int kind = COOKIE_KIND(c), prod = COOKIE_PROD(c);
	uint32_t seq = COOKIE_SEQ(c);
	bool ok;

	atomic_fetch_add(&collected, 1);
	if (kind > INODE || prod >= PRODUCERS || seq >= MAX_SEQ) {
		FAIL("an event with a cookie never used: %#" PRIx64, c);
		return;
	}
	if (kind == INODE) {
		uint32_t bits = ev->ret_data[0];
		bool eof = ev->ret_flags & KEVENT_RET_EOF;

		/*
		 * Bits among those asked for; none only at the end; a count
		 * with bits. The sums are checked at the end.
		 */
		ok = ev->type == KEVENT_INODE &&
		     (ev->ret_flags & ~KEVENT_RET_EOF) == KEVENT_RET_DONE &&
		     !(bits & ~ev->event) && (bits || eof) && (!bits || ev->ret_data[1]);
		if (!ok) {
			atomic_fetch_add(&bad_events, 1);
			FAIL("inode %u delivered as type %u flags %#x data %#x %u", seq, ev->type,
			     ev->ret_flags, bits, ev->ret_data[1]);
		}
		atomic_fetch_add(&producers[prod].counted[seq], ev->ret_data[1]);
		if (eof)
			atomic_fetch_add(&producers[prod].ends[seq], 1);
		return;
	}
	switch (kind) {
	case USER:
		ok = ev->type == KEVENT_USER && ev->ret_data[0] == seq;
		break;
	case TIMER:
		ok = ev->type == KEVENT_TIMER && ev->ret_data[0] == 1;
		break;
	default:
		/* One byte was written, and is read only after the delivery. */
		ok = (ev->type == KEVENT_POLL && (ev->ret_data[0] & KEVENT_POLL_POLLIN)) ||
		     (ev->type == KEVENT_SOCKET && ev->ret_data[0] == 1 && ev->ret_data[1] == 0);
		break;
	}
	if (!ok || ev->ret_flags != KEVENT_RET_DONE) {
		atomic_fetch_add(&bad_events, 1);
		FAIL("%s %u delivered as type %u flags %#x data %u %u", kind_name[kind], seq,
		     ev->type, ev->ret_flags, ev->ret_data[0], ev->ret_data[1]);
	}
	atomic_fetch_add(&producers[prod].delivered[seq], 1);
}

static void *collector_main(void *arg)
{
	uint64_t rng = (uintptr_t)arg * 0x9e3779b97f4a7c15ULL + 1;
	struct ukevent ev[64];

	while (!atomic_load(&stop_collecting)) {
		unsigned int max_nr, min_nr;
		int n;

		rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
		max_nr = 1 + rng % 64;
		min_nr = 1 + (rng >> 8) % (max_nr < 8 ? max_nr : 8);
		n = get_ns(qfd, min_nr, max_nr, 5 * NSEC_PER_MSEC, ev);
		if (n < 0) {
			FAIL("get-events failed: %d", n);
			return NULL;
		}
		for (int i = 0; i < n; i++)
			account(&ev[i]);
	}
	return NULL;
}

/* The expiries of a periodic timer's schedule up to time t. */
static uint64_t scheduled(const struct ring_seq *rs, int64_t t)
{
	return t < rs->t0 ? 0 : (uint64_t)(t - rs->t0) / rs->period + 1;
}

/*
 * Ring mode: one entry, at index idx. Moved in (or written) before time
 * t_hi; with `exact`, moved in by a call that started at t_lo (the end's
 * last phase, where nothing else runs). Called in ring order, under
 * read_lock.
 */
static void account_entry(const struct kevent_ring_entry *e, uint32_t idx, int64_t t_lo,
			  int64_t t_hi, bool exact)
{
	uint64_t c = e->ptr;
	unsigned int kind = COOKIE_KIND(c), prod = COOKIE_PROD(c);
	uint32_t seq = COOKIE_SEQ(c), count;
	struct producer *p;
	struct ring_seq *rs;
	struct ukevent ev;

	atomic_fetch_add(&ring_read, 1);
	if (kind >= NKINDS || prod >= PRODUCERS || seq >= MAX_SEQ) {
		FAIL("a ring entry with a cookie never used: %#" PRIx64, c);
		return;
	}
	p = &producers[prod];
	rs = &p->rs[seq];
	atomic_store(&rs->end, idx + 1);
	atomic_store(&rs->any, 1);
	switch (kind) {
	case USER_ET:
		atomic_fetch_add(&et_read, 1);
		atomic_fetch_add(&collected, 1);
		atomic_fetch_add(&p->counted[seq], 1);
		if (e->type != KEVENT_USER || e->ret_flags != KEVENT_RET_DONE ||
		    e->id.raw[0] != seq || e->ret_data[1] != 0) {
			atomic_fetch_add(&bad_events, 1);
			FAIL("ET user %u in the ring as type %u id %u flags %#x data %u %u", seq,
			     e->type, e->id.raw[0], e->ret_flags, e->ret_data[0], e->ret_data[1]);
		} else if (e->ret_data[0] <= atomic_load(&rs->last)) {
			FAIL("ET user %u: payload %u after %u (a READY delivered twice, or out of "
			     "order)", seq, e->ret_data[0], atomic_load(&rs->last));
		}
		atomic_store(&rs->last, e->ret_data[0]);
		return;
	case PERIODIC:
		atomic_fetch_add(&periodic_read, 1);
		count = e->ret_data[0];
		if (e->type != KEVENT_TIMER || e->ret_flags != KEVENT_RET_DONE || !count ||
		    e->ret_data[1] != 0) {
			atomic_fetch_add(&bad_events, 1);
			FAIL("periodic timer %u in the ring as type %u flags %#x data %u %u", seq,
			     e->type, e->ret_flags, count, e->ret_data[1]);
			return;
		}
		count += atomic_fetch_add(&p->counted[seq], count);
		if (count > scheduled(rs, t_hi))
			FAIL("periodic timer %u: %u expirations by %" PRId64 " ns after its first "
			     "(every %u ns), more than its schedule has (%" PRIu64 ")", seq, count,
			     t_hi - rs->t0, rs->period, scheduled(rs, t_hi));
		if (exact && count < scheduled(rs, t_lo))
			FAIL("periodic timer %u: %u expirations after a call %" PRId64 " ns after "
			     "its first (every %u ns): %" PRIu64 " were due", seq, count,
			     t_lo - rs->t0, rs->period, scheduled(rs, t_lo));
		if (exact)
			atomic_store(&rs->settled, true);
		return;
	default:
		ev = ring_ukevent(e);
		if (kind == INODE)
			ev.event = inode_masks[rs->imask];	/* an entry has no mask */
		account(&ev);
		return;
	}
}

/*
 * Ring mode: reads what the ring holds, and frees it. Call with read_lock
 * held; t_lo and exact as for account_entry, t_hi (0: the time of the
 * read) the latest the entries can have been moved in. Returns how many.
 */
static uint32_t read_ring(int64_t t_lo, int64_t t_hi, bool exact)
{
	uint32_t tail = ring_tail(ring), head = ring_head(ring), n = tail - head;

	if (!t_hi)
		t_hi = now_ns();
	if (ring_flags(ring) & KEVENT_RING_BACKLOG)
		atomic_fetch_add(&backlog_seen, 1);
	if (n == RING_ENTRIES)
		atomic_fetch_add(&full_seen, 1);
	if (n > RING_ENTRIES) {
		FAIL("the ring holds %u unread entries, more than its %d (head %u, tail %u)", n,
		     RING_ENTRIES, head, tail);
		return 0;
	}
	for (uint32_t i = 0; i < n; i++)
		account_entry(ring_entry(ring, RING_ENTRIES, head + i), head + i, t_lo, t_hi, exact);
	ring_advance(ring, tail);
	return n;
}

/*
 * Ring mode's collectors: a wait with KEVENT_GET_RING for 1-8 entries (5
 * ms at most), then a read of the ring under read_lock. Once in 16 turns
 * a collector holds the lock before it reads, until the ring is full (20
 * ms at most): wake-ups find it full, and their events wait outside it.
 */
static void *ring_collector_main(void *arg)
{
	uint64_t rng = (uintptr_t)arg * 0x9e3779b97f4a7c15ULL + 1;

	while (!atomic_load(&stop_collecting)) {
		unsigned int max_nr, min_nr;
		int64_t start, took;
		int n;

		rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
		max_nr = 1 + rng % 64;
		min_nr = 1 + (rng >> 8) % (max_nr < RING_ENTRIES ? max_nr : RING_ENTRIES);
		start = now_ns();
		n = ring_get(qfd, min_nr, max_nr, 5 * NSEC_PER_MSEC);
		took = now_ns() - start;
		atomic_fetch_add(&ring_calls, 1);
		if (n < 0) {
			FAIL("get-events with KEVENT_GET_RING failed: %d", n);
			return NULL;
		}
		if (n > RING_ENTRIES)
			FAIL("get-events with KEVENT_GET_RING returned %d, more than the ring holds",
			     n);
		if ((unsigned int)n < min_nr && took < 5 * NSEC_PER_MSEC)
			FAIL("get-events with KEVENT_GET_RING returned %d < min_nr %u after %" PRId64
			     " ns, before its timeout", n, min_nr, took);
		pthread_mutex_lock(&read_lock);
		for (int i = 0; (rng >> 32) % 16 == 0 && i < 20 &&
				ring_tail(ring) - ring_head(ring) < RING_ENTRIES; i++)
			usleep(1000);
		read_ring(0, 0, false);
		pthread_mutex_unlock(&read_lock);
	}
	return NULL;
}

/*
 * Ring mode, after the collectors stopped: the periodic timers still
 * running, checked exactly. Each call moves in the expirations that wait;
 * read right after it, an entry was moved in by it, so its timer's sum is
 * exactly its schedule at some moment of the call. Each timer so checked
 * is removed; all must be within 10 s.
 */
static void settle_periodic(void)
{
	int64_t deadline = now_ns() + 10 * NSEC_PER_SEC;
	int left;

	do {
		int64_t tb = now_ns(), ta;
		int n = ring_get(qfd, 0, 64, 0);

		ta = now_ns();
		if (n < 0) {
			FAIL("get-events with KEVENT_GET_RING failed at the end: %d", n);
			return;
		}
		pthread_mutex_lock(&read_lock);
		read_ring(tb, ta, true);
		pthread_mutex_unlock(&read_lock);
		left = 0;
		for (int i = 0; i < PRODUCERS; i++) {
			struct producer *p = &producers[i];

			for (int j = 0; j < WINDOW; j++) {
				struct live *l = &p->window[j];

				if (!l->used || l->kind != PERIODIC)
					continue;
				if (atomic_load(&p->rs[l->seq].settled))
					remove_lasting(p, l, SETTLED);
				else
					left++;
			}
		}
		if (left)
			usleep(500);
	} while (left && now_ns() < deadline);
	if (left)
		FAIL("%d periodic timers had no entry in the last 10 s", left);
}

/* Fires what is left, then collects until the queue stays empty. */
static void settle(void)
{
	for (int i = 0; i < PRODUCERS; i++) {
		struct producer *p = &producers[i];

		for (int j = 0; j < WINDOW; j++) {
			struct live *l = &p->window[j];

			if (!l->used)
				continue;
			if (l->kind == INODE) {
				delete_inode(p, l);
			} else if (l->kind == PERIODIC) {
				p->expect[l->seq] = SETTLED;	/* settle_periodic() */
			} else if (l->kind == USER_ET) {
				if (!l->draining)
					fire(p, l);
				p->expect[l->seq] = SEEN_ALL;
			} else {
				fire(p, l);
				p->expect[l->seq] = ONCE;
			}
		}
	}
	/* The latest timer fires 2 ms after its ADD; give it a good margin. */
	for (uint64_t last = UINT64_MAX; last != atomic_load(&collected);) {
		last = atomic_load(&collected);
		usleep(300 * 1000);
	}
	atomic_store(&stop_collecting, true);
}

/*
 * Ring mode: no entry after a REMOVE that succeeded; the ET user events
 * and periodic timers (checked here, whereupon it returns 0; else 1, for
 * the checks of the other kinds).
 */
static int check_ring_seq(struct producer *p, uint32_t s)
{
	struct ring_seq *rs = &p->rs[s];
	uint32_t counted = atomic_load(&p->counted[s]), last = atomic_load(&rs->last);
	uint32_t readys = p->notified[s];

	if (atomic_load(&rs->removed) && atomic_load(&rs->any) &&
	    (int32_t)(rs->rm_tail - atomic_load(&rs->end)) < 0)
		FAIL("producer %d %s %u: an entry at index %u, after its REMOVE (the tail was then "
		     "%u)", p->index, kind_name[rs->kind], s, atomic_load(&rs->end) - 1, rs->rm_tail);
	switch (rs->kind) {
	case USER_ET:
		if (p->expect[s] == SEEN_ALL ? last != readys || !counted : last > readys)
			FAIL("producer %d ET user %u (%s): %u READYs, the last payload read %u",
			     p->index, s, p->expect[s] == SEEN_ALL ? "left to the end" : "removed",
			     readys, last);
		else if (counted > readys)
			FAIL("producer %d ET user %u: %u entries for %u READYs", p->index, s,
			     counted, readys);
		else if (p->expect[s] != SEEN_ALL && p->expect[s] != REMOVED)
			FAIL("producer %d ET user %u has no outcome", p->index, s);
		return 0;
	case PERIODIC:
		if (p->expect[s] == SETTLED && !atomic_load(&rs->settled))
			FAIL("producer %d periodic timer %u was not checked at the end", p->index, s);
		else if (p->expect[s] != SETTLED && p->expect[s] != REMOVED)
			FAIL("producer %d periodic timer %u has no outcome", p->index, s);
		return 0;
	default:
		return 1;
	}
}

static uint64_t check(void)
{
	uint64_t checked = 0;

	for (int i = 0; i < PRODUCERS; i++) {
		struct producer *p = &producers[i];

		for (uint32_t s = 0; s < p->next_seq; s++) {
			unsigned int got = atomic_load(&p->delivered[s]);
			unsigned int want = p->expect[s] == ONCE ? 1 : 0;
			uint32_t counted = atomic_load(&p->counted[s]);
			unsigned int ends = atomic_load(&p->ends[s]);

			if (ring_mode && !check_ring_seq(p, s)) {
				checked++;
				continue;
			}

			if (p->expect[s] == ENDED) {
				if (ends != 1 || counted != p->notified[s])
					FAIL("producer %d inode %u, deleted: %u events ended it, "
					     "counts add up to %u, %u notifications", i, s, ends,
					     counted, p->notified[s]);
				checked++;
				continue;
			}
			if (p->expect[s] == REMOVED) {
				if (ends != 0 || counted > p->notified[s])
					FAIL("producer %d inode %u, removed: %u events ended it, "
					     "counts add up to %u, %u notifications", i, s, ends,
					     counted, p->notified[s]);
				checked++;
				continue;
			}
			if (p->expect[s] == IN_FLIGHT)
				FAIL("producer %d request %u has no outcome", i, s);
			else if (got != want)
				FAIL("producer %d request %u: delivered %u times, expected %u%s", i, s,
				     got, want, p->expect[s] == NEVER ? " (its REMOVE succeeded)" : "");
			checked++;
		}
	}
	return checked;
}

/* The settled periodic timers, for the report. */
static uint64_t count_settled(void)
{
	uint64_t n = 0;

	for (int i = 0; i < PRODUCERS; i++)
		for (uint32_t s = 0; s < producers[i].next_seq; s++)
			n += producers[i].expect[s] == SETTLED;
	return n;
}

/* Ring mode, at the end: nothing is left in the ring or outside it. */
static void ring_left_over(void)
{
	struct pollfd pfd = { .fd = qfd, .events = POLLIN };
	int n = ring_get(qfd, 0, 64, 0);

	if (n < 0) {
		FAIL("get-events with KEVENT_GET_RING failed at the end: %d", n);
		return;
	}
	if (n) {
		pthread_mutex_lock(&read_lock);
		read_ring(0, 0, false);
		pthread_mutex_unlock(&read_lock);
		FAIL("%d events are left after the queue settled", n);
	}
	if (poll(&pfd, 1, 0) != 0)
		FAIL("the settled queue polls readable (revents %#x): something waits", pfd.revents);
}

static void reset(void)
{
	for (int i = 0; i < PRODUCERS; i++) {
		struct producer *p = &producers[i];

		free((void *)p->delivered);
		free(p->expect);
		free(p->notified);
		free((void *)p->counted);
		free((void *)p->ends);
		free(p->rs);
		for (int j = 0; j < PIPES; j++)
			if (p->pipes[j][0] > 0) {
				close(p->pipes[j][0]);
				close(p->pipes[j][1]);
			}
		memset(p, 0, sizeof(*p));
	}
	atomic_store(&stop_producing, false);
	atomic_store(&stop_collecting, false);
	atomic_store(&failed, false);
	atomic_store(&collected, 0);
	atomic_store(&bad_events, 0);
	atomic_store(&ring_read, 0);
	atomic_store(&ring_calls, 0);
	atomic_store(&backlog_seen, 0);
	atomic_store(&full_seen, 0);
	atomic_store(&periodic_read, 0);
	atomic_store(&et_read, 0);
}

/*
 * One run of the stress, plain (get-events into an array) or through a
 * ring: test `num` of the TAP output. Returns whether it failed.
 */
static int run(int num, bool with_ring, long duration)
{
	const char *name = with_ring ? "accounting through a ring" : "accounting";
	pthread_t collectors[COLLECTORS];
	uint64_t added = 0, removed = 0, modified = 0, inode_writes = 0, readys = 0, checked;
	struct ukevent ev[64];
	int err;

	reset();
	ring_mode = with_ring;
	qfd = open_queue();
	if (qfd < 0) {
		printf("ok %d %s # SKIP %s: %s\n", num, name, KEVENT_DEVICE, strerror(errno));
		return 0;
	}
	if (with_ring) {
		int r = ring_setup(qfd, RING_ENTRIES, &ring_size);

		ring = r ? NULL : ring_mmap(qfd, ring_size);
		if (!ring) {
			printf("# a ring of %d entries: %s\nnot ok %d %s\n", RING_ENTRIES,
			       strerror(r ? -r : errno), num, name);
			close(qfd);
			return 1;
		}
	}
	strcpy(scratch, "/tmp/kevent-accounting-XXXXXX");
	if (!mkdtemp(scratch))
		return perror("mkdtemp"), 1;
	for (int i = 0; i < PRODUCERS; i++) {
		struct producer *p = &producers[i];

		p->index = i;
		p->rng = 0x2545f4914f6cdd1dULL * (i + 1);
		p->delivered = calloc(MAX_SEQ, sizeof(*p->delivered));
		p->expect = calloc(MAX_SEQ, 1);
		p->notified = calloc(MAX_SEQ, sizeof(*p->notified));
		p->counted = calloc(MAX_SEQ, sizeof(*p->counted));
		p->ends = calloc(MAX_SEQ, sizeof(*p->ends));
		if (with_ring)
			p->rs = calloc(MAX_SEQ, sizeof(*p->rs));
		if (!p->delivered || !p->expect || !p->notified || !p->counted || !p->ends ||
		    (with_ring && !p->rs))
			return perror("calloc"), 1;
		for (int j = 0; j < PIPES; j++)
			if (j % 2 ? socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p->pipes[j])
				  : pipe(p->pipes[j]))
				return perror("pipe or socketpair"), 1;
	}
	for (int i = 0; i < COLLECTORS; i++) {
		err = pthread_create(&collectors[i], NULL,
				     with_ring ? ring_collector_main : collector_main,
				     (void *)(uintptr_t)(i + 1));
		if (err)
			return printf("# pthread_create: %s\nnot ok %d %s\n", strerror(err), num, name), 1;
	}
	for (int i = 0; i < PRODUCERS; i++) {
		err = pthread_create(&producers[i].thread, NULL, producer_main, &producers[i]);
		if (err)
			return printf("# pthread_create: %s\nnot ok %d %s\n", strerror(err), num, name), 1;
	}
	sleep(duration);
	atomic_store(&stop_producing, true);
	for (int i = 0; i < PRODUCERS; i++) {
		pthread_join(producers[i].thread, NULL);
		added += producers[i].added;
		removed += producers[i].removed;
		modified += producers[i].modified;
		inode_writes += producers[i].inode_writes;
		readys += producers[i].readys;
	}
	settle();
	for (int i = 0; i < COLLECTORS; i++)
		pthread_join(collectors[i], NULL);
	if (with_ring) {
		settle_periodic();
		ring_left_over();
	} else if (get_ns(qfd, 0, 64, 0, ev) != 0) {
		FAIL("events are left after the queue settled");
	}
	checked = check();
	printf("# %s: %ld s, %d producers, %d collectors: %" PRIu64 " added, %" PRIu64
	       " modified, %" PRIu64 " removed, %" PRIu64 " delivered, %" PRIu64
	       " requests checked, %" PRIu64 " writes to watched files\n", name, duration,
	       PRODUCERS, COLLECTORS, added, modified, removed, atomic_load(&collected), checked,
	       inode_writes);
	if (with_ring) {
		printf("# %s of %d entries: %" PRIu64 " entries read after %" PRIu64
		       " KEVENT_GET_RING waits, %" PRIu64 " reads found it full, %" PRIu64
		       " saw KEVENT_RING_BACKLOG; %" PRIu64 " READYs of ET user events came out as %"
		       PRIu64 " entries; %" PRIu64 " entries of periodic timers, %" PRIu64
		       " timers checked exactly at the end\n", name, RING_ENTRIES,
		       atomic_load(&ring_read), atomic_load(&ring_calls), atomic_load(&full_seen),
		       atomic_load(&backlog_seen), readys, atomic_load(&et_read),
		       atomic_load(&periodic_read), count_settled());
		/* The full ring, and the events waiting outside it, were part of it. */
		if (!atomic_load(&full_seen))
			FAIL("no read found the ring full");
		if (!atomic_load(&backlog_seen))
			FAIL("no read saw KEVENT_RING_BACKLOG");
		munmap(ring, ring_size);
		ring = NULL;
	}
	close(qfd);
	if (rmdir(scratch))
		FAIL("the scratch directory %s is not empty: %s", scratch, strerror(errno));
	printf("%s %d %s: every event delivered exactly once, none after its REMOVE, "
	       "every notification of a watched file counted once\n",
	       atomic_load(&failed) ? "not ok" : "ok", num, name);
	fflush(stdout);
	return atomic_load(&failed);
}

int main(int argc, char **argv)
{
	const char *env = getenv("KEVENT_STRESS_DURATION");
	long duration = argc > 1 ? atol(argv[1]) : env ? atol(env) : 20;
	const char *mode = argc > 2 ? argv[2] : "both";
	bool plain = strcmp(mode, "ring") != 0, with_ring = strcmp(mode, "plain") != 0;
	int failures = 0, num = 0;

	if (duration < 1 || (strcmp(mode, "both") && strcmp(mode, "plain") && strcmp(mode, "ring"))) {
		fprintf(stderr, "usage: %s [SECONDS] [both|plain|ring]\n", argv[0]);
		return 2;
	}
	printf("TAP version 13\n1..%d\n", plain + with_ring);
	fflush(stdout);
	if (plain)
		failures += run(++num, false, duration);
	if (with_ring)
		failures += run(++num, true, duration);
	return failures != 0;
}
