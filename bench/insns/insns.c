// SPDX-License-Identifier: GPL-2.0
/*
 * insns: the cost of each hot path of kevent and epoll, one system call
 * (or pair) in a loop, timed in the guest.
 *
 * Under `qemu-test.sh --icount` the guest's clock advances one nanosecond
 * per instruction, so each figure is the path's instruction count, the
 * same in every run and boot: the way to see what a change to a hot path
 * adds or saves, which the run-to-run noise of wall-clock figures under
 * TCG hides (bench/NOTES.md, The machine). Without --icount the figures
 * are nanoseconds, noisy. The best of five runs is printed.
 *
 *   make insns
 *   ./qemu-test.sh --kernel release --icount --run build/bench/insns/insns
 *
 * With --profile (`make insprof`), each row's runs are a window of the
 * QEMU plugin bench/insprof/plugin.c, which counts every kernel
 * instruction they execute by address; bench/insprof/report.py then says
 * per row which functions and lines the instructions are in.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <linux/kevent.h>
#include "kevent.h"

#define LOOPS 20000
#define NFD 64

static uint64_t now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000ull + t.tv_nsec;
}

/* The address whose execution bench/insprof/plugin.c takes as a mark. */
#define INSPROF_MARK ((void *)0x700000000000ull)

/* Under --profile: opens or closes a window of the plugin. */
static void (*insprof_mark)(void);
static int insprof_windows;

static void insprof_open(const char *name, long calls)
{
	if (!insprof_mark)
		return;
	printf("# insprof window %d calls %ld: %s\n", ++insprof_windows, calls, name);
	fflush(stdout);
	insprof_mark();
}

static void insprof_close(void)
{
	if (insprof_mark)
		insprof_mark();
}

/* Maps the mark: a page at INSPROF_MARK holding a return. */
static int insprof_setup(void)
{
	unsigned char *page = mmap(INSPROF_MARK, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
				   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

	if (page != INSPROF_MARK)
		return perror("insns: mapping the profile mark"), -1;
	page[0] = 0xc3; /* ret */
	insprof_mark = (void (*)(void))page;
	return 0;
}

/* The module's symbols, for report.py to name its addresses. */
static void insprof_symbols(void)
{
	FILE *f = fopen("/proc/kallsyms", "r");
	char line[512];

	if (!insprof_mark || !f)
		return;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "\t[kevent]"))
			printf("# insprof ksym %s", line);
	fclose(f);
}

/*
 * Prints the best of five runs of `loops` times `expr`, divided by `per`;
 * under --profile the five runs are one window, of 5 * loops * per calls.
 */
#define MEASURE_LOOPS(name, loops, per, expr)                                    \
	do {                                                                     \
		double best = 1e18;                                              \
		insprof_open(name, 5L * (loops) * (per));                        \
		for (int run = 0; run < 5; run++) {                              \
			uint64_t t0 = now();                                     \
			for (int loop = 0; loop < (loops); loop++) {             \
				expr;                                            \
			}                                                        \
			double v = (double)(now() - t0) / (loops) / (per);       \
			if (v < best)                                            \
				best = v;                                        \
		}                                                                \
		insprof_close();                                                 \
		printf("%-40s %8.0f\n", name, best);                             \
	} while (0)
#define MEASURE(name, per, expr) MEASURE_LOOPS(name, LOOPS, per, expr)

/* Modifies the eventfds of `add` in `ep`, one epoll_ctl at a time. */
static void epoll_mod_each(int ep, const struct ukevent *add)
{
	struct epoll_event ev = { .events = EPOLLIN };

	for (int i = 0; i < NFD; i++)
		epoll_ctl(ep, EPOLL_CTL_MOD, add[i].id.raw[0], &ev);
}

/* Adds and removes the eventfds of `add` one epoll_ctl at a time. */
static void epoll_add_del_each(int ep, const struct ukevent *add)
{
	struct epoll_event ev = { .events = EPOLLIN };

	for (int i = 0; i < NFD; i++)
		epoll_ctl(ep, EPOLL_CTL_ADD, add[i].id.raw[0], &ev);
	for (int i = 0; i < NFD; i++)
		epoll_ctl(ep, EPOLL_CTL_DEL, add[i].id.raw[0], &ev);
}

/* One edge-triggered wake-up and its collection: a write, then a wait. */
static void epoll_et_cycle(int ep, int fd, struct epoll_event *out)
{
	eventfd_write(fd, 1);
	epoll_wait(ep, out, 1, 0);
}

static void kevent_et_cycle(int kq, int fd, struct ukevent *out)
{
	eventfd_write(fd, 1);
	kevent_get_events_ns(kq, 0, 1, 0, out, 0);
}

/* The same on a queue with a ring: the write's wake-up writes the entry, read with no call. */
static void kevent_ring_cycle(struct kevent_ring_map *map, int fd)
{
	eventfd_write(fd, 1);
	if (kevent_ring_ready(map) != 1 ||
	    !(kevent_ring_entry_at(map, 0)->ret_data[0] & KEVENT_POLL_POLLIN))
		fprintf(stderr, "insns: no ring entry for the write\n"), exit(1);
	kevent_ring_advance(map, 1);
}

/* A user event triggered and collected. */
static void kevent_user_cycle(int kq, struct ukevent *user, struct ukevent *out)
{
	kevent_ctl(kq, KEVENT_CTL_READY, 1, user);
	kevent_get_events_ns(kq, 0, 1, 0, out, 0);
}

/* A connected TCP pair over loopback (sv[0] accepted, sv[1] the client); 0 or -1. */
static int tcp_pair(int sv[2])
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(addr);
	int lfd = socket(AF_INET, SOCK_STREAM, 0);

	if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) || listen(lfd, 1) ||
	    getsockname(lfd, (struct sockaddr *)&addr, &len))
		return -1;
	sv[1] = socket(AF_INET, SOCK_STREAM, 0);
	if (sv[1] < 0 || connect(sv[1], (struct sockaddr *)&addr, sizeof(addr)))
		return -1;
	sv[0] = accept(lfd, NULL, NULL);
	close(lfd);
	return sv[0] < 0 ? -1 : 0;
}

static struct ukevent poll_request(int fd)
{
	struct ukevent uk = { .type = KEVENT_POLL, .event = KEVENT_POLL_POLLIN };

	uk.id.raw[0] = fd;
	return uk;
}

/*
 * The rows of the socket `fd`, which has a byte to read, on the empty
 * epoll instance `ep` and queue `kq`: its collection while ready, then its
 * ADD and REMOVE. `kind` names it in the rows. 0, or -1 if a step failed.
 */
static int measure_socket(const char *kind, int fd, int ep, int kq)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd }, out[1];
	struct ukevent uk = poll_request(fd), kout[1];
	char name[64];

	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) || kevent_ctl(kq, KEVENT_CTL_ADD, 1, &uk) != 1)
		return fprintf(stderr, "insns: ADD of a %s socket: %s\n", kind, strerror(errno)), -1;
	snprintf(name, sizeof(name), "epoll_wait, 1 ready %s socket", kind);
	MEASURE(name, 1, epoll_wait(ep, out, 1, 0));
	snprintf(name, sizeof(name), "kevent_get_events, 1 ready %s socket", kind);
	MEASURE(name, 1, kevent_get_events_ns(kq, 0, 1, 0, kout, 0));
	if (epoll_ctl(ep, EPOLL_CTL_DEL, fd, &ev) || kevent_ctl(kq, KEVENT_CTL_REMOVE, 1, &uk) != 1)
		return fprintf(stderr, "insns: REMOVE of a %s socket: %s\n", kind, strerror(errno)), -1;
	snprintf(name, sizeof(name), "epoll_ctl ADD+DEL, %s socket", kind);
	MEASURE(name, 1,
		(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev), epoll_ctl(ep, EPOLL_CTL_DEL, fd, &ev)));
	snprintf(name, sizeof(name), "kevent_ctl ADD+REMOVE, %s socket", kind);
	MEASURE(name, 1,
		(kevent_ctl(kq, KEVENT_CTL_ADD, 1, &uk), kevent_ctl(kq, KEVENT_CTL_REMOVE, 1, &uk)));
	return 0;
}

int main(int argc, char **argv)
{
	int ep0 = epoll_create1(0), ep1 = epoll_create1(0), ep64 = epoll_create1(0);
	int epr = epoll_create1(0), kq0 = open("/dev/kevent", O_RDWR);
	int kq1 = open("/dev/kevent", O_RDWR), kq64 = open("/dev/kevent", O_RDWR);
	int kqr = open("/dev/kevent", O_RDWR), efd = eventfd(1, 0), p[2], i;
	int epet = epoll_create1(0), kqet = open("/dev/kevent", O_RDWR);
	/* One eventfd each: a write wakes only the queue measured. */
	int epetfd = eventfd(0, 0), kqetfd = eventfd(0, 0);
	/* The same on a queue with an event ring. */
	int kqring = open("/dev/kevent", O_RDWR), ringfd = eventfd(0, 0), lonefd = eventfd(0, 0);
	struct kevent_ring_map map;
	/* A unix socket with a byte to read: kevent holds its socket, not its file. */
	int epu = epoll_create1(0), kqu = open("/dev/kevent", O_RDWR), u[2];
	int ept = epoll_create1(0), kqt = open("/dev/kevent", O_RDWR), t[2];
	struct epoll_event ev = { .events = EPOLLIN }, out[NFD];
	struct ukevent uk = poll_request(efd), kout[NFD], add[NFD], fresh[NFD];
	struct ukevent user = { .type = KEVENT_USER };

	if (ep0 < 0 || kq0 < 0 || kq1 < 0 || kq64 < 0 || kqr < 0 || efd < 0 || epet < 0 ||
	    kqet < 0 || epetfd < 0 || kqetfd < 0 || kqring < 0 || ringfd < 0 || lonefd < 0 ||
	    epu < 0 || kqu < 0 || ept < 0 || kqt < 0 ||
	    pipe(p) || socketpair(AF_UNIX, SOCK_STREAM, 0, u) || write(u[1], "x", 1) != 1) {
		perror("insns: setting up");
		return 1;
	}
	/* One always-readable eventfd, and 64 more, on both. */
	epoll_ctl(ep1, EPOLL_CTL_ADD, efd, &ev);
	if (kevent_ctl(kq1, KEVENT_CTL_ADD, 1, &uk) != 1)
		return perror("insns: ADD"), 1;
	for (i = 0; i < NFD; i++) {
		int fd = eventfd(1, 0);

		ev.data.fd = fd;
		epoll_ctl(ep64, EPOLL_CTL_ADD, fd, &ev);
		add[i] = poll_request(fd);
		fresh[i] = poll_request(eventfd(0, 0));
	}
	if (kevent_ctl(kq64, KEVENT_CTL_ADD, NFD, add) != NFD)
		return perror("insns: ADD of 64"), 1;
	if (argc > 1 && (strcmp(argv[1], "--profile") || insprof_setup()))
		return fprintf(stderr, "usage: insns [--profile]\n"), 1;
	printf("# path: ns per call (instructions under --icount)\n");
	MEASURE("getppid", 1, syscall(SYS_getppid));
	MEASURE("ioctl, unknown command", 1, ioctl(kq0, 0x1234, 0));
	MEASURE("epoll_wait, nothing ready", 1, epoll_wait(ep0, out, 1, 0));
	MEASURE("kevent_get_events, nothing ready", 1, kevent_get_events_ns(kq0, 0, 1, 0, kout, 0));
	MEASURE("epoll_wait, 1 ready", 1, epoll_wait(ep1, out, 1, 0));
	MEASURE("kevent_get_events, 1 ready", 1, kevent_get_events_ns(kq1, 0, 1, 0, kout, 0));
	MEASURE("epoll_wait, 64 ready, per event", NFD, epoll_wait(ep64, out, NFD, 0));
	MEASURE("kevent_get_events, 64 ready, per event", NFD,
		kevent_get_events_ns(kq64, 0, NFD, 0, kout, 0));
	if (measure_socket("unix", u[0], epu, kqu))
		return 1;
	/* The same of a TCP socket over loopback: kevent holds its socket too. */
	if (tcp_pair(t) || write(t[1], "x", 1) != 1)
		return perror("insns: a TCP pair"), 1;
	if (measure_socket("tcp", t[0], ept, kqt))
		return 1;
	/* Edge-triggered: each write wakes the request, each wait collects it. */
	ev.events = EPOLLIN | EPOLLET;
	epoll_ctl(epet, EPOLL_CTL_ADD, epetfd, &ev);
	uk = poll_request(kqetfd);
	uk.req_flags = KEVENT_REQ_ET;
	user.req_flags = KEVENT_REQ_ET;
	if (kevent_ctl(kqet, KEVENT_CTL_ADD, 1, &uk) != 1 || kevent_ctl(kqet, KEVENT_CTL_ADD, 1, &user) != 1)
		return perror("insns: ADD edge-triggered"), 1;
	MEASURE("eventfd write, nothing watching", 1, eventfd_write(lonefd, 1));
	MEASURE("eventfd write + epoll_wait, edge", 1, epoll_et_cycle(epet, epetfd, out));
	MEASURE("eventfd write + kevent_get_events, edge", 1, kevent_et_cycle(kqet, kqetfd, kout));
	MEASURE("KEVENT_CTL_READY + kevent_get_events, edge", 1,
		kevent_user_cycle(kqet, &user, kout));
	uk = poll_request(ringfd);
	uk.req_flags = KEVENT_REQ_ET;
	/* A module from before the ring (bench/ab.sh of an old revision) has no row. */
	if (kevent_ring_setup(kqring, 64, &map))
		printf("# no ring (%s): no ring row\n", strerror(errno));
	else if (kevent_ctl(kqring, KEVENT_CTL_ADD, 1, &uk) != 1)
		return perror("insns: ADD on a ring"), 1;
	else
		MEASURE("eventfd write + ring entry, edge", 1, kevent_ring_cycle(&map, ringfd));
	user.req_flags = 0;
	ev.events = EPOLLIN;
	uk = poll_request(p[0]);
	ev.data.fd = p[0];
	MEASURE("epoll_ctl ADD+DEL, pipe", 1,
		(epoll_ctl(epr, EPOLL_CTL_ADD, p[0], &ev), epoll_ctl(epr, EPOLL_CTL_DEL, p[0], &ev)));
	MEASURE("kevent_ctl ADD+REMOVE, pipe", 1,
		(kevent_ctl(kqr, KEVENT_CTL_ADD, 1, &uk), kevent_ctl(kqr, KEVENT_CTL_REMOVE, 1, &uk)));
	MEASURE("kevent_ctl ADD+REMOVE, KEVENT_USER", 1,
		(kevent_ctl(kqr, KEVENT_CTL_ADD, 1, &user),
		 kevent_ctl(kqr, KEVENT_CTL_REMOVE, 1, &user)));
	/* MODIFY of the 64 requests on kq64, in one batch, with the mask they have. */
	if (kevent_ctl(kq64, KEVENT_CTL_MODIFY, NFD, add) != NFD || add[0].ret_flags & KEVENT_RET_BROKEN)
		return fprintf(stderr, "insns: MODIFY failed\n"), 1;
	MEASURE_LOOPS("kevent_ctl MODIFY batch of 64, per fd", LOOPS / NFD, NFD,
		      kevent_ctl(kq64, KEVENT_CTL_MODIFY, NFD, add));
	MEASURE_LOOPS("epoll_ctl MOD of 64, per fd", LOOPS / NFD, NFD,
		      epoll_mod_each(ep64, add));
	/* 64 eventfds that nothing else watches. */
	MEASURE_LOOPS("epoll_ctl ADD+DEL of 64, per fd", LOOPS / NFD, NFD,
		      epoll_add_del_each(epr, fresh));
	MEASURE_LOOPS("kevent_ctl ADD+REMOVE batch of 64, per fd", LOOPS / NFD, NFD,
		      (kevent_ctl(kqr, KEVENT_CTL_ADD, NFD, fresh),
		       kevent_ctl(kqr, KEVENT_CTL_REMOVE, NFD, fresh)));
	insprof_symbols();
	return 0;
}
