// SPDX-License-Identifier: GPL-2.0
/* Clocks, samples, reporting and fd helpers shared by every benchmark. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include "bench.h"

int bench_runs = 5;
double bench_scale = 1.0;
double syscall_floor_ns;
double clock_read_ns;

void uring_init_local(struct io_uring *ring, unsigned int entries)
{
	struct io_uring_params p = { .flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN };

	if (io_uring_queue_init_params(entries, ring, &p))
		die("io_uring_queue_init_params");
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

void sleep_ns(uint64_t ns)
{
	struct timespec ts = { .tv_sec = ns / 1000000000ull, .tv_nsec = ns % 1000000000ull };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Waiter and waker on different CPUs: every wake-up crosses CPUs, the same way each run. */
void pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu % sysconf(_SC_NPROCESSORS_ONLN), &set);
	sched_setaffinity(0, sizeof(set), &set);
}

long scaled(long n)
{
	long v = (long)(n * bench_scale);

	return v < 1 ? 1 : v;
}

void samples_add(struct samples *s, double x)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		if (!s->v)
			die("realloc");
	}
	s->v[s->n++] = x;
}

void samples_free(struct samples *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile; 100 is the maximum. */
double samples_pct(struct samples *s, double pct)
{
	size_t i;

	if (!s->n)
		return 0;
	qsort(s->v, s->n, sizeof(*s->v), cmp_double);
	i = (size_t)(pct / 100.0 * (s->n - 1) + 0.5);
	return s->v[i < s->n ? i : s->n - 1];
}

void report3(const char *section, const char *who, const char *params, const char *metric,
	     double median, double lo, double hi)
{
	printf("@ %s %s %s %s %.6g %.6g %.6g\n", section, who, params, metric, median, lo, hi);
	fflush(stdout);
}

/* The median of the runs, with the fastest and slowest run as the spread. */
void report(const char *section, const char *who, const char *params, const char *metric,
	    struct samples *runs)
{
	report3(section, who, params, metric, samples_pct(runs, 50), samples_pct(runs, 0),
		samples_pct(runs, 100));
}

void note(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

void die(const char *what)
{
	printf("# FATAL %s: %s\n", what, strerror(errno));
	fflush(stdout);
	exit(1);
}

int kq_open(void)
{
	int fd = kevent_init();

	if (fd < 0)
		die("open /dev/kevent");
	return fd;
}

void kq_poll_req(struct ukevent *uk, int fd, uint32_t events, uint32_t flags)
{
	memset(uk, 0, sizeof(*uk));
	uk->id.raw[0] = fd;
	uk->type = KEVENT_POLL;
	uk->event = events;
	uk->req_flags = flags;
	uk->ptr = fd;
}

/* ADD in batches of 1024: few calls, and the array fits the stack. */
void kq_add_fds(int kq, const int *fds, int n, uint32_t events, uint32_t flags)
{
	struct ukevent uk[1024];
	int i, j, m;

	for (i = 0; i < n; i += m) {
		m = n - i < 1024 ? n - i : 1024;
		for (j = 0; j < m; j++)
			kq_poll_req(&uk[j], fds[i + j], events, flags);
		if (kevent_ctl(kq, KEVENT_CTL_ADD, m, uk) != m)
			die("kevent_ctl ADD");
		for (j = 0; j < m; j++)
			if (uk[j].ret_flags & KEVENT_RET_BROKEN) {
				errno = uk[j].ret_data[1];
				die("kevent ADD entry");
			}
	}
}

void bench_ring_setup(int kq, unsigned int entries, struct bench_ring *ring)
{
	struct kevent_ring_setup rs = { .entries = entries };
	void *p;

	if (ioctl(kq, KEVENT_IOC_RING_SETUP, &rs))
		die("KEVENT_IOC_RING_SETUP");
	p = mmap(NULL, rs.size, PROT_READ | PROT_WRITE, MAP_SHARED, kq, 0);
	if (p == MAP_FAILED)
		die("mmap of the kevent ring");
	ring->r = p;
	ring->size = rs.size;
	if (ring->r->mask != entries - 1) {
		errno = EPROTO;
		die("kevent ring mask");
	}
}

void bench_ring_unmap(struct bench_ring *ring)
{
	if (ring->r)
		munmap(ring->r, ring->size);
	ring->r = NULL;
}

int bench_ring_get(int kq, unsigned int min_nr, unsigned int max_nr, int64_t timeout_ns)
{
	struct kevent_get_events_arg ge = {
		.min_nr = min_nr,
		.max_nr = max_nr,
		.timeout_ns = timeout_ns,
		.flags = KEVENT_GET_RING,
	};

	return ioctl(kq, KEVENT_IOC_GET_EVENTS, &ge);
}

/*
 * A module without the ring (before issue 15) answers the set-up with an
 * error: the benchmarks then skip their ring rows, and the report shows
 * them as missing, rather than the whole run dying on them.
 */
int bench_ring_supported(void)
{
	static int known = -1;
	struct kevent_ring_setup rs = { .entries = KEVENT_RING_MIN_ENTRIES };
	int kq;

	if (known >= 0)
		return known;
	kq = kq_open();
	known = !ioctl(kq, KEVENT_IOC_RING_SETUP, &rs);
	if (!known)
		note("ring: KEVENT_IOC_RING_SETUP failed (%s): no kevent-ring rows", strerror(errno));
	close(kq);
	return known;
}

int ep_open(void)
{
	int fd = epoll_create1(EPOLL_CLOEXEC);

	if (fd < 0)
		die("epoll_create1");
	return fd;
}

void ep_add_fds(int ep, const int *fds, int n, uint32_t events)
{
	struct epoll_event ev;
	int i;

	for (i = 0; i < n; i++) {
		ev.events = events;
		ev.data.u64 = fds[i];
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev))
			die("epoll_ctl ADD");
	}
}

/* The VM's init runs us as root: lift the fd limits for 50 000 pipes. */
void raise_nofile(long n)
{
	struct rlimit rl = { .rlim_cur = n, .rlim_max = n };
	FILE *f = fopen("/proc/sys/fs/nr_open", "w");

	if (f) {
		fprintf(f, "%ld\n", n > 1048576 ? n : 1048576);
		fclose(f);
	}
	if (setrlimit(RLIMIT_NOFILE, &rl))
		die("setrlimit NOFILE");
}

void make_pipes(int *rd, int *wr, int n)
{
	int i, p[2];

	for (i = 0; i < n; i++) {
		if (pipe2(p, O_NONBLOCK | O_CLOEXEC))
			die("pipe2");
		rd[i] = p[0];
		wr[i] = p[1];
	}
}

void close_fds(const int *fds, int n)
{
	int i;

	for (i = 0; i < n; i++)
		close(fds[i]);
}

int make_eventfd(void)
{
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	if (fd < 0)
		die("eventfd");
	return fd;
}

void eventfd_poke(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) != sizeof(one))
		die("eventfd write");
}

uint64_t eventfd_drain(int fd)
{
	uint64_t v = 0;

	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

/* getppid: the cheapest real system call, the floor every wait call sits on. */
void bench_floor(void)
{
	struct samples runs = { 0 };
	long i, n = scaled(20000);
	int r;

	for (r = 0; r < bench_runs; r++) {
		uint64_t t0 = now_ns();

		for (i = 0; i < n; i++)
			syscall(SYS_getppid);
		samples_add(&runs, (double)(now_ns() - t0) / n);
	}
	syscall_floor_ns = samples_pct(&runs, 50);
	report("floor", "getppid", "-", "ns_per_call", &runs);
	samples_free(&runs);
}
