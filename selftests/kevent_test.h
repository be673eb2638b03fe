/* SPDX-License-Identifier: GPL-2.0 */
/* Helpers shared by the kevent selftests. */
#ifndef KEVENT_TEST_H
#define KEVENT_TEST_H

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <kevent.h>

#define NSEC_PER_MSEC 1000000LL
#define NSEC_PER_SEC 1000000000LL

static inline int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static inline struct ukevent uk_make(__u32 type, __u32 id0, __u32 id1, __u32 event,
				     __u32 req_flags, __u64 user)
{
	struct ukevent uk;

	memset(&uk, 0, sizeof(uk));
	uk.type = type;
	uk.id.raw[0] = id0;
	uk.id.raw[1] = id1;
	uk.event = event;
	uk.req_flags = req_flags;
	uk.ptr = user;
	return uk;
}

static inline struct ukevent uk_user(__u32 id, __u32 req_flags)
{
	return uk_make(KEVENT_USER, id, 0, 0, req_flags, id);
}

static inline struct ukevent uk_timer_ms(__u32 ms, __u32 req_flags)
{
	return uk_make(KEVENT_TIMER, ms, 0, 0, req_flags, ms);
}

/*
 * Runs one ctl command on one entry. Returns 0 on success, the entry's
 * positive errno if it is BROKEN, or -errno if the call itself failed.
 */
static inline int ctl1(int fd, unsigned int cmd, struct ukevent *uk)
{
	int r = kevent_ctl(fd, cmd, 1, uk);

	if (r < 0)
		return -errno;
	if (r != 1 || !(uk->ret_flags & KEVENT_RET_DONE))
		return -1000;	/* no such result: a test failure */
	if (uk->ret_flags & KEVENT_RET_BROKEN)
		return uk->ret_data[1];
	return 0;
}

/* Makes user request `id` (added with uk_user) ready with a payload. */
static inline int user_ready(int fd, __u32 id, __u32 payload)
{
	struct ukevent uk = uk_user(id, 0);

	uk.ret_data[0] = payload;
	return ctl1(fd, KEVENT_CTL_READY, &uk);
}

/* get-events with a nanosecond timeout; -errno on failure. */
static inline int get_ns(int fd, unsigned int min_nr, unsigned int max_nr, int64_t timeout_ns,
			 struct ukevent *buf)
{
	int r = kevent_get_events_ns(fd, min_nr, max_nr, timeout_ns, buf, 0);

	return r < 0 ? -errno : r;
}

/*
 * Waits for child pid; its exit status (128 + the signal if one killed
 * it), -1 if there is no such child. Never asserts, so a test can put
 * back what it changed before it checks.
 */
static inline int reap(pid_t pid)
{
	int status;

	if (pid <= 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Drops every privilege for uid (and gid) u, as setuid() from root does. */
static inline int become(uid_t u)
{
	if (setgroups(0, NULL) || setgid(u) || setuid(u))
		return -1;
	return getuid() == u && geteuid() == u ? 0 : -1;
}

/* Reads the module parameter file `path` (text, newline included). */
static inline int param_read(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0)
		return n < 0 ? -errno : -EIO;
	buf[n] = 0;
	return 0;
}

/* Writes `value` to the module parameter file `path`; -errno on failure. */
static inline int param_write(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), r;

	if (fd < 0)
		return -errno;
	r = write(fd, value, strlen(value)) < 0 ? -errno : 0;
	close(fd);
	return r;
}

/* Whether mmap of queue `q` says it has no ring (ENODEV). */
static inline int no_ring_to_map(int q)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, q, 0);

	if (p != MAP_FAILED) {
		munmap(p, 4096);
		return 0;
	}
	return errno == ENODEV;
}

/* The module's reference count (one per open queue file), or -1. */
static inline int module_refcnt(void)
{
	char buf[32] = "";
	int fd = open("/sys/module/kevent/refcnt", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? atoi(buf) : -1;
}

/*
 * Polls the module's reference count every 50 ms for up to 10 s until it
 * is at most `want`. Returns the last value read.
 *
 * A test that checks that kevent lets go of its queues calls it twice
 * with the count it expects: the queue files it has open (a file and
 * its mappings are one), as nothing else in the VM holds one. First
 * before it starts, as queues let go by earlier tests may still be on
 * their way out; then a release elsewhere during the test cannot hide a
 * reference kept. Then at the end, to see every reference come back.
 */
static inline int refcnt_back_to(int want)
{
	int now = module_refcnt();

	for (int i = 0; i < 200 && now > want; i++) {
		usleep(50 * 1000);
		now = module_refcnt();
	}
	return now;
}

/*
 * The event ring (kevent.7, "The event ring"), as the tests use it. These
 * are the test's own: they spell out the protocol (acquire load of tail,
 * release store of head) rather than use a library's helpers, and they
 * take the ring's size from the caller, never from the shared `mask`.
 */

/* The bytes of a ring of `entries` entries: the header, then the entries. */
static inline size_t ring_bytes(__u32 entries)
{
	return sizeof(struct kevent_ring) + (size_t)entries * sizeof(struct kevent_ring_entry);
}

/* KEVENT_IOC_RING_SETUP: 0 (and the size to map in *size), or -errno. */
static inline int ring_setup(int fd, __u32 entries, __u32 *size)
{
	struct kevent_ring_setup s = { .entries = entries };

	if (ioctl(fd, KEVENT_IOC_RING_SETUP, &s) < 0)
		return -errno;
	if (size)
		*size = s.size;
	return 0;
}

/* mmap of the ring as kevent.7 says; NULL (and errno) on failure. */
static inline struct kevent_ring *ring_mmap(int fd, size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* The kernel's tail, read with the acquire load the protocol asks for. */
static inline __u32 ring_tail(const struct kevent_ring *r)
{
	return __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
}

static inline __u32 ring_head(const struct kevent_ring *r)
{
	return __atomic_load_n(&r->head, __ATOMIC_RELAXED);
}

static inline __u32 ring_flags(const struct kevent_ring *r)
{
	return __atomic_load_n(&r->flags, __ATOMIC_RELAXED);
}

/* Frees the entries before `head` (a release store). */
static inline void ring_advance(struct kevent_ring *r, __u32 head)
{
	__atomic_store_n(&r->head, head, __ATOMIC_RELEASE);
}

/* The entry of free-running counter `i` in a ring of `entries`. */
static inline struct kevent_ring_entry *ring_entry(struct kevent_ring *r, __u32 entries, __u32 i)
{
	return &r->entries[i & (entries - 1)];
}

/*
 * Copies up to `max` unread entries to `out`, oldest first, and frees
 * them. Returns how many, or -1 if the unread count (tail - head) is more
 * than the ring holds.
 */
static inline int ring_take(struct kevent_ring *r, __u32 entries, struct kevent_ring_entry *out,
			    unsigned int max)
{
	__u32 tail = ring_tail(r), head = ring_head(r), n = tail - head;

	if (n > entries)
		return -1;
	if (n > max)
		n = max;
	for (__u32 i = 0; i < n; i++)
		out[i] = *ring_entry(r, entries, head + i);
	ring_advance(r, head + n);
	return n;
}

/* get-events with KEVENT_GET_RING: the unread entries, or -errno. */
static inline int ring_get(int fd, unsigned int min_nr, unsigned int max_nr, int64_t timeout_ns)
{
	int r = kevent_get_events_ns(fd, min_nr, max_nr, timeout_ns, NULL, KEVENT_GET_RING);

	return r < 0 ? -errno : r;
}

/* A ring entry as the struct ukevent a get-events would have copied. */
static inline struct ukevent ring_ukevent(const struct kevent_ring_entry *e)
{
	struct ukevent uk;

	memset(&uk, 0, sizeof(uk));
	uk.id = e->id;
	uk.type = e->type;
	uk.ret_flags = e->ret_flags;
	uk.ret_data[0] = e->ret_data[0];
	uk.ret_data[1] = e->ret_data[1];
	uk.ptr = e->ptr;
	return uk;
}

static inline int open_queue(void)
{
	return open(KEVENT_DEVICE, O_RDWR | O_CLOEXEC);
}

/*
 * True once task tid of process pid sleeps in the kevent ioctl cmd (say
 * KEVENT_IOC_GET_EVENTS): /proc/PID/task/TID/syscall shows the syscall's
 * number and arguments of a task that is not running ("running"
 * otherwise). Gives up after 10 s. For tests that must act while a call
 * waits, not before it began.
 */
static inline bool wait_in_ioctl(pid_t pid, pid_t tid, unsigned long cmd)
{
	char path[64], buf[256];
	unsigned long fd, arg_cmd;
	long nr;
	int i, f, n;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", pid, tid);
	for (i = 0; i < 10000; i++) {
		f = open(path, O_RDONLY | O_CLOEXEC);
		if (f < 0)
			return false;
		n = read(f, buf, sizeof(buf) - 1);
		close(f);
		if (n > 0) {
			buf[n] = 0;
			if (sscanf(buf, "%ld 0x%lx 0x%lx", &nr, &fd, &arg_cmd) == 3 &&
			    nr == SYS_ioctl && arg_cmd == cmd)
				return true;
		}
		usleep(1000);
	}
	return false;
}

#endif
