/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kevent_bench: kevent against poll, epoll, io_uring and timerfd, run in
 * one VM boot. Every result is one line on stdout:
 *
 *   @ SECTION CONTENDER PARAMS METRIC MEDIAN LO HI
 *
 * PARAMS is one token (k=v,k=v or "-"); LO and HI are the spread (the
 * smallest and largest run, or p10/p90 where the metric says so). The
 * host's bench/report.py turns these lines into BENCHMARKS.md and plots.
 */
#ifndef KEVENT_BENCH_H
#define KEVENT_BENCH_H

#include <stdint.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <kevent.h>
#include <liburing.h>

/* How many runs each contender gets; contenders alternate run by run. */
extern int bench_runs;
/* Scales iteration counts: 1 in `make bench`, less for a quick try. */
extern double bench_scale;

/* Time. */
uint64_t now_ns(void);
uint64_t thread_cpu_ns(void);
void sleep_ns(uint64_t ns);
void pin_cpu(int cpu);
long scaled(long n);

/* Samples and their summary. */
struct samples {
	double *v;
	size_t n, cap;
};
void samples_add(struct samples *s, double x);
void samples_free(struct samples *s);
double samples_pct(struct samples *s, double pct); /* sorts */
void report(const char *section, const char *who, const char *params, const char *metric,
	    struct samples *runs);
void report3(const char *section, const char *who, const char *params, const char *metric,
	     double median, double lo, double hi);
void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void die(const char *what) __attribute__((noreturn));

/* kevent helpers. */
int kq_open(void);
void kq_poll_req(struct ukevent *uk, int fd, uint32_t events, uint32_t flags);
void kq_add_fds(int kq, const int *fds, int n, uint32_t events, uint32_t flags);
int ep_open(void);
void ep_add_fds(int ep, const int *fds, int n, uint32_t events);

/*
 * The event ring (docs/kevent.7.md, "The event ring"): the few helpers the
 * benchmarks need, local and prefixed bench_ so that they never clash with
 * include/kevent.h's. The kernel publishes entries with a release store of
 * tail; we read tail with an acquire load, read the entries from head up
 * to it, and free them with a release store of head. head is written by
 * this program only, so reading it back needs no ordering.
 */
struct bench_ring {
	struct kevent_ring *r;	/* the mapping */
	size_t size;		/* its length, for munmap */
};
/* 1 if the module has the ring; else 0, once noted: the ring rows are skipped. */
int bench_ring_supported(void);
/* KEVENT_IOC_RING_SETUP of entries, then mmap; dies on failure. */
void bench_ring_setup(int kq, unsigned int entries, struct bench_ring *ring);
void bench_ring_unmap(struct bench_ring *ring);
/* get-events with KEVENT_GET_RING: the unread entries, or -1 and errno. */
int bench_ring_get(int kq, unsigned int min_nr, unsigned int max_nr, int64_t timeout_ns);

static inline uint32_t bench_ring_tail(const struct kevent_ring *r)
{
	return __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
}

static inline uint32_t bench_ring_head(const struct kevent_ring *r)
{
	return __atomic_load_n(&r->head, __ATOMIC_RELAXED);
}

static inline void bench_ring_advance(struct kevent_ring *r, uint32_t head)
{
	__atomic_store_n(&r->head, head, __ATOMIC_RELEASE);
}

static inline uint32_t bench_ring_flags(const struct kevent_ring *r)
{
	return __atomic_load_n(&r->flags, __ATOMIC_ACQUIRE);
}

/* fds and pipes. */
void raise_nofile(long n);
void make_pipes(int *rd, int *wr, int n);
void close_fds(const int *fds, int n);
int make_eventfd(void);
void eventfd_poke(int fd);
uint64_t eventfd_drain(int fd);

/*
 * An io_uring set up as event loops run one: its one submitting thread
 * (the caller) also runs its completion work, in io_uring_enter
 * (SINGLE_ISSUER, DEFER_TASKRUN).
 */
void uring_init_local(struct io_uring *ring, unsigned int entries);

/* The syscall floor (getppid) in ns, measured at start. */
extern double syscall_floor_ns;
extern double clock_read_ns;	/* one now_ns(), measured by main.c */
void bench_floor(void);

/* Samples this thread's kernel addresses while work(arg) runs for about ns. */
void profile(const char *who, void (*work)(void *), void *arg, uint64_t ns);

/* The benchmarks. */
void bench_pipes(void);
void bench_registration(void);
void bench_collection(void);
void bench_wakeup(void);
void bench_throughput(void);
void bench_timers(void);
void bench_sockets(void);
void bench_inode(void);

#endif
