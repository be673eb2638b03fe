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
