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
 *   accounting_test [SECONDS]       (or KEVENT_STRESS_DURATION; default 20)
 *
 * This is exact because the module delivers and removes a one-shot request
 * under the same lock REMOVE takes: a REMOVE either finds the request
 * undelivered or not at all.
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kevent_test.h"

#define PRODUCERS	3
#define COLLECTORS	2
#define WINDOW		48		/* live requests per producer */
#define PIPES		16		/* pipes per producer; the odd ones are sockets */
#define MAX_SEQ		(1u << 21)	/* requests per producer */

enum kind { USER, TIMER, PIPE, INODE };
static const char *const kind_name[] = { "user", "timer", "pipe", "inode" };

/*
 * What a request's cookie must have seen by the end. An inode request:
 * ENDED by the deletion of its file, or REMOVED.
 */
enum expect { IN_FLIGHT, ONCE, NEVER, ENDED, REMOVED };

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
	bool et;		/* INODE: KEVENT_REQ_ET */
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
	uint64_t added, removed, modified, inode_writes;
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
	l->kind = rnd(p, 4);
	l->pipe = -1;
	l->wfd = -1;
	if (l->kind == PIPE) {
		l->pipe = free_pipe(p);
		if (l->pipe < 0)
			l->kind = USER;
	}
	l->seq = p->next_seq++;
	l->fired = l->kind == TIMER;
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
	struct ukevent uk = request_of(p, l);
	int r = ctl1(qfd, KEVENT_CTL_MODIFY, &uk);

	if (r == ENOENT && l->fired && l->kind != INODE)
		return;
	if (r)
		FAIL("MODIFY of %s %u: %d", kind_name[l->kind], l->seq, r);
	p->modified++;
}

/* Ends a live request: REMOVE it, or let it fire and be delivered. */
static void retire(struct producer *p, struct live *l)
{
	struct ukevent uk;
	int r;

	if (l->kind == INODE) {
		if (rnd(p, 2)) {
			delete_inode(p, l);
		} else {
			char path[96];

			uk = request_of(p, l);
			r = ctl1(qfd, KEVENT_CTL_REMOVE, &uk);
			if (r)
				FAIL("REMOVE of inode %u: %d", l->seq, r);
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

/* Fires what is left, then collects until the queue stays empty. */
static void settle(void)
{
	for (int i = 0; i < PRODUCERS; i++) {
		struct producer *p = &producers[i];

		for (int j = 0; j < WINDOW; j++) {
			if (!p->window[j].used)
				continue;
			if (p->window[j].kind == INODE) {
				delete_inode(p, &p->window[j]);
			} else {
				fire(p, &p->window[j]);
				p->expect[p->window[j].seq] = ONCE;
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

int main(int argc, char **argv)
{
	const char *env = getenv("KEVENT_STRESS_DURATION");
	long duration = argc > 1 ? atol(argv[1]) : env ? atol(env) : 20;
	pthread_t collectors[COLLECTORS];
	uint64_t added = 0, removed = 0, modified = 0, inode_writes = 0, checked;
	struct ukevent ev[64];

	printf("TAP version 13\n1..1\n");
	qfd = open_queue();
	if (qfd < 0) {
		printf("ok 1 accounting # SKIP %s: %s\n", KEVENT_DEVICE, strerror(errno));
		return 0;
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
		for (int j = 0; j < PIPES; j++)
			if (j % 2 ? socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p->pipes[j])
				  : pipe(p->pipes[j]))
				return perror("pipe or socketpair"), 1;
	}
	for (int i = 0; i < COLLECTORS; i++)
		pthread_create(&collectors[i], NULL, collector_main, (void *)(uintptr_t)(i + 1));
	for (int i = 0; i < PRODUCERS; i++)
		pthread_create(&producers[i].thread, NULL, producer_main, &producers[i]);
	sleep(duration);
	atomic_store(&stop_producing, true);
	for (int i = 0; i < PRODUCERS; i++) {
		pthread_join(producers[i].thread, NULL);
		added += producers[i].added;
		removed += producers[i].removed;
		modified += producers[i].modified;
		inode_writes += producers[i].inode_writes;
	}
	settle();
	for (int i = 0; i < COLLECTORS; i++)
		pthread_join(collectors[i], NULL);
	if (get_ns(qfd, 0, 64, 0, ev) != 0)
		FAIL("events are left after the queue settled");
	checked = check();
	printf("# accounting: %ld s, %d producers, %d collectors: %" PRIu64 " added, %" PRIu64
	       " modified, %" PRIu64 " removed, %" PRIu64 " delivered, %" PRIu64
	       " requests checked, %" PRIu64 " writes to watched files\n", duration, PRODUCERS,
	       COLLECTORS, added, modified, removed, atomic_load(&collected), checked,
	       inode_writes);
	close(qfd);
	if (rmdir(scratch))
		FAIL("the scratch directory %s is not empty: %s", scratch, strerror(errno));
	printf("%s 1 accounting: every event delivered exactly once, none after its REMOVE, "
	       "every notification of a watched file counted once\n",
	       atomic_load(&failed) ? "not ok" : "ok");
	return atomic_load(&failed);
}
