// SPDX-License-Identifier: LGPL-2.1 OR MIT
/*
 * libkevent-epoll: epoll(7) implemented over /dev/kevent.
 *
 * An epoll instance is a kevent queue, opened by epoll_create1(); its fd is
 * the queue's fd, so close(), dup(), fork(), poll() and nesting work on it
 * as on any file. Each watch is a KEVENT_POLL request whose id is the fd
 * and whose cookie is ours: a cookie is part of a request's identity, so
 * the caller's 64-bit epoll_data (which EPOLL_CTL_MOD may change) lives in
 * a table of the instance, by fd, and events are translated back to it.
 *
 * A watch's cookie is gen << 32 | fd, gen a per-instance counter bumped by
 * every new watch (never 0), so an event of a watch that has since been
 * deleted, or deleted and added again, matches no entry and is dropped.
 * Cookies with gen 0 are probes (kep_probe), never in a table.
 *
 * EPOLLONESHOT: epoll disables a watch after its first event and keeps it;
 * MOD re-arms it. Here the request stays registered too: the delivery
 * marks the entry disabled and MODIFYs the request to an empty,
 * edge-triggered mask (only POLLERR/POLLHUP wake it, and the events of a
 * disabled entry are dropped). Keeping it registered is what lets the
 * kernel answer for it: ADD of it is EEXIST while its file is open, MOD
 * re-arms it with one MODIFY, and when its file is closed everywhere the
 * kernel drops it as it drops any watch, so the number can be added again.
 *
 * Closed files: kevent removes the requests of a file closed everywhere,
 * silently, as epoll removes its watches; the table learns it when the
 * number is named again. ADD of a number the table has is sent to the
 * kernel with the entry's cookie: EEXIST means the watch is alive (its
 * file is open), success means it was gone and the entry is replaced. MOD
 * or DEL answered ENOENT for an entry means its file was closed (and the
 * number reused): the entry goes and the caller gets ENOENT, as from epoll.
 *
 * Locking: one mutex per instance guards its table; it is never held while
 * waiting for events. kep_lock guards the table of instances by fd; it is
 * never taken while an instance's mutex is held (fork takes both, in that
 * order). Instances are reference counted: one reference per slot of the
 * table of instances, one per call in progress.
 *
 * An epoll fd that the library does not know (a kernel epoll instance, or
 * anything else) is handed to the kernel's epoll system calls, which answer
 * as epoll does (EBADF, EINVAL).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <kevent.h>

#include "internal.h"
#include "kevent-epoll.h"

/* The epoll bits that are poll bits, with the same values in kevent. */
#define KEP_POLL_BITS                                                                          \
	(EPOLLIN | EPOLLPRI | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLRDNORM | EPOLLRDBAND |      \
	 EPOLLWRNORM | EPOLLWRBAND | EPOLLMSG | EPOLLRDHUP)
/* What EPOLLEXCLUSIVE may be combined with (fs/eventpoll.c). */
#define KEP_EXCLUSIVE_OK                                                                       \
	(EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLWAKEUP | EPOLLET | EPOLLEXCLUSIVE)
/* epoll's limit on maxevents. */
#define KEP_MAX_EVENTS ((int)(INT_MAX / sizeof(struct epoll_event)))
/* The most events one get-events call collects. */
#define KEP_BATCH 1024
/* The id of the KEVENT_USER request that tags a queue as an instance. */
#define KEP_TAG_ID 0x6b657065 /* "kepe" */
/* kep_ctl's answer when epfd no longer names the instance's queue. */
#define KEP_STALE (-1)
/* The kernel's sigset_t, which the epoll system calls take. */
#define KEP_SIGSETSIZE (_NSIG / 8)

_Static_assert(EPOLLRDHUP == KEVENT_POLL_POLLRDHUP, "EPOLLRDHUP is POLLRDHUP");
_Static_assert(EPOLLIN == KEVENT_POLL_POLLIN && EPOLLMSG == KEVENT_POLL_POLLMSG &&
		       EPOLLERR == KEVENT_POLL_POLLERR && EPOLLHUP == KEVENT_POLL_POLLHUP,
	       "epoll and kevent share the poll bits");

struct kep_watch {
	uint64_t cookie;	/* of its request; 0: no watch */
	uint64_t data;		/* the caller's epoll_data */
	uint32_t events;	/* the caller's events */
	bool disabled;		/* EPOLLONESHOT, delivered and not re-armed */
};

struct kep_instance {
	pthread_mutex_t lock;	/* guards watches, nwatches, gen */
	struct kep_watch *watches; /* by fd */
	int nwatches;
	uint32_t gen;		/* of the last cookie handed out */
	unsigned int refs;	/* atomic */
	uint64_t serial;	/* the cookie of its tag; 0: untagged */
	/* Under kep_lock: */
	unsigned int slots;	/* in kep_by_fd */
	struct kep_instance *next, *prev; /* in kep_all while slots > 0 */
};

static pthread_mutex_t kep_lock = PTHREAD_MUTEX_INITIALIZER;
static struct kep_instance **kep_by_fd;	/* under kep_lock */
static int kep_nfds;				/* under kep_lock */
static struct kep_instance *kep_all;		/* under kep_lock */
static uint64_t kep_serial;			/* under kep_lock */
static dev_t kep_rdev;				/* of /dev/kevent, once known */
static bool kep_rdev_known;

static pthread_once_t kep_once = PTHREAD_ONCE_INIT;
static pthread_key_t kep_buf_key;
static __thread struct ukevent *kep_buf;
static __thread int kep_buf_len;

static int kep_fail(int err)
{
	errno = err;
	return -1;
}

/*
 * A system call that --wrap=syscall cannot redirect: the library hands
 * epoll fds that are not its own to the kernel with it.
 */
static long kep_raw(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
#if defined(__x86_64__)
	register long r10 __asm__("r10") = a4;
	register long r8 __asm__("r8") = a5;
	register long r9 __asm__("r9") = a6;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	if ((unsigned long)ret > -4096UL)
		return kep_fail((int)-ret);
	return ret;
#elif defined(__aarch64__)
	register long x8 __asm__("x8") = nr;
	register long x0 __asm__("x0") = a1;
	register long x1 __asm__("x1") = a2;
	register long x2 __asm__("x2") = a3;
	register long x3 __asm__("x3") = a4;
	register long x4 __asm__("x4") = a5;
	register long x5 __asm__("x5") = a6;

	__asm__ volatile("svc #0"
			 : "+r"(x0)
			 : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
			 : "memory");
	if ((unsigned long)x0 > -4096UL)
		return kep_fail((int)-x0);
	return x0;
#else
	/* --wrap=syscall is not supported here (syscall.c: x86-64 and arm64). */
	return syscall(nr, a1, a2, a3, a4, a5, a6);
#endif
}

/* ---- instances ---- */

static void kep_ref(struct kep_instance *inst)
{
	__atomic_add_fetch(&inst->refs, 1, __ATOMIC_RELAXED);
}

static void kep_put(struct kep_instance *inst)
{
	if (__atomic_sub_fetch(&inst->refs, 1, __ATOMIC_ACQ_REL))
		return;
	pthread_mutex_destroy(&inst->lock);
	free(inst->watches);
	free(inst);
}

/* fork(): no instance may be left locked in the child. */
static void kep_prefork(void)
{
	struct kep_instance *i;

	pthread_mutex_lock(&kep_lock);
	for (i = kep_all; i; i = i->next)
		pthread_mutex_lock(&i->lock);
}

static void kep_postfork(void)
{
	struct kep_instance *i;

	for (i = kep_all; i; i = i->next)
		pthread_mutex_unlock(&i->lock);
	pthread_mutex_unlock(&kep_lock);
}

static void kep_free_buf(void *buf)
{
	free(buf);
}

static void kep_init(void)
{
	pthread_atfork(kep_prefork, kep_postfork, kep_postfork);
	pthread_key_create(&kep_buf_key, kep_free_buf);
}

/* With kep_lock: takes one of the table's references to inst away. */
static void kep_unslot(struct kep_instance *inst)
{
	if (--inst->slots == 0) {
		if (inst->prev)
			inst->prev->next = inst->next;
		else
			kep_all = inst->next;
		if (inst->next)
			inst->next->prev = inst->prev;
		inst->next = inst->prev = NULL;
	}
	kep_put(inst);
}

/* With kep_lock: fd now names inst (replacing a stale instance there). */
static int kep_install(int fd, struct kep_instance *inst)
{
	struct kep_instance *old;

	if (fd >= kep_nfds) {
		int n = kep_nfds ? kep_nfds : 64;
		struct kep_instance **t;

		while (n <= fd)
			n *= 2;
		t = realloc(kep_by_fd, n * sizeof(*t));
		if (!t)
			return -ENOMEM;
		memset(t + kep_nfds, 0, (n - kep_nfds) * sizeof(*t));
		kep_by_fd = t;
		kep_nfds = n;
	}
	old = kep_by_fd[fd];
	kep_by_fd[fd] = inst;
	kep_ref(inst);
	if (inst->slots++ == 0) {
		inst->prev = NULL;
		inst->next = kep_all;
		if (kep_all)
			kep_all->prev = inst;
		kep_all = inst;
	}
	if (old)
		kep_unslot(old);
	return 0;
}

/* fd no longer names inst (its queue was closed): forget it. */
static void kep_forget(int fd, struct kep_instance *inst)
{
	pthread_mutex_lock(&kep_lock);
	if (fd >= 0 && fd < kep_nfds && kep_by_fd[fd] == inst) {
		kep_by_fd[fd] = NULL;
		kep_unslot(inst);
	}
	pthread_mutex_unlock(&kep_lock);
}

/* One ctl entry: 0, the entry's errno, or -errno if the call failed. */
static int kep_ctl1(int qfd, unsigned int cmd, struct ukevent *uk)
{
	int r;

	uk->ret_flags = 0;
	r = kevent_ctl(qfd, cmd, 1, uk);
	if (r < 0)
		return -errno;
	if (r != 1 || !(uk->ret_flags & KEVENT_RET_DONE))
		return -EIO;
	if (uk->ret_flags & KEVENT_RET_BROKEN)
		return (int)uk->ret_data[1];
	return 0;
}

static struct ukevent kep_uk(__u32 type, __u32 id, __u32 event, __u32 req_flags, __u64 cookie)
{
	struct ukevent uk;

	memset(&uk, 0, sizeof(uk));
	uk.type = type;
	uk.id.raw[0] = id;
	uk.event = event;
	uk.req_flags = req_flags;
	uk.ptr = cookie;
	return uk;
}

/* Whether fd is a kevent queue. */
static bool kep_is_queue(int fd)
{
	struct stat st;

	return kep_rdev_known && !fstat(fd, &st) && S_ISCHR(st.st_mode) && st.st_rdev == kep_rdev;
}

/*
 * With kep_lock: the instance whose queue fd names, if fd is another
 * descriptor of one (dup, dup2, F_DUPFD) that the table does not know yet.
 * Every instance's queue holds a KEVENT_USER request with its serial as
 * the cookie (its tag): ADD of the tag is EEXIST on its own queue only.
 */
static struct kep_instance *kep_find_dup(int fd)
{
	struct kep_instance *i;
	struct ukevent uk;
	int r;

	if (!kep_all || !kep_is_queue(fd))
		return NULL;
	for (i = kep_all; i; i = i->next) {
		if (!i->serial)
			continue;
		uk = kep_uk(KEVENT_USER, KEP_TAG_ID, 0, 0, i->serial);
		r = kep_ctl1(fd, KEVENT_CTL_ADD, &uk);
		if (r == EEXIST) {
			kep_install(fd, i); /* or not, without memory: found anyway */
			kep_ref(i);
			return i;
		}
		if (r < 0)
			return NULL;
		if (r == 0) {
			uk = kep_uk(KEVENT_USER, KEP_TAG_ID, 0, 0, i->serial);
			kep_ctl1(fd, KEVENT_CTL_REMOVE, &uk);
		}
	}
	return NULL;
}

/* The instance epfd names, with a reference, or NULL if none. */
static struct kep_instance *kep_get(int epfd)
{
	struct kep_instance *inst = NULL;

	if (epfd < 0)
		return NULL;
	pthread_mutex_lock(&kep_lock);
	if (epfd < kep_nfds)
		inst = kep_by_fd[epfd];
	if (inst)
		kep_ref(inst);
	else
		inst = kep_find_dup(epfd);
	pthread_mutex_unlock(&kep_lock);
	return inst;
}

/* With the instance's lock: the entry of fd, grown to it if grow. */
static struct kep_watch *kep_watch(struct kep_instance *inst, int fd, bool grow)
{
	if (fd < inst->nwatches)
		return &inst->watches[fd];
	if (!grow)
		return NULL;
	{
		int n = inst->nwatches ? inst->nwatches : 64;
		struct kep_watch *t;

		while (n <= fd)
			n *= 2;
		t = realloc(inst->watches, n * sizeof(*t));
		if (!t)
			return NULL;
		memset(t + inst->nwatches, 0, (n - inst->nwatches) * sizeof(*t));
		inst->watches = t;
		inst->nwatches = n;
	}
	return &inst->watches[fd];
}

/* ---- epoll_create ---- */

static bool kep_fallback(void)
{
	const char *v = getenv("KEVENT_EPOLL_FALLBACK");

	return v && !strcmp(v, "1");
}

int kevent_epoll_create1(int flags)
{
	struct kep_instance *inst;
	struct ukevent uk;
	struct stat st;
	int fd, err;

	if (flags & ~EPOLL_CLOEXEC)
		return kep_fail(EINVAL);
	pthread_once(&kep_once, kep_init);
	fd = open(KEVENT_DEVICE, O_RDWR | (flags & EPOLL_CLOEXEC ? O_CLOEXEC : 0));
	if (fd < 0) {
		err = errno;
		if ((err == ENOENT || err == ENODEV || err == ENXIO) && kep_fallback())
			return (int)kep_raw(SYS_epoll_create1, flags, 0, 0, 0, 0, 0);
		return kep_fail(err);
	}
	inst = calloc(1, sizeof(*inst));
	if (!inst) {
		close(fd);
		return kep_fail(ENOMEM);
	}
	pthread_mutex_init(&inst->lock, NULL);
	inst->refs = 1;
	err = fstat(fd, &st);

	pthread_mutex_lock(&kep_lock);
	if (!kep_rdev_known && !err) {
		kep_rdev = st.st_rdev;
		kep_rdev_known = true;
	}
	/* The tag is best effort: without it, dups of fd are not recognised. */
	uk = kep_uk(KEVENT_USER, KEP_TAG_ID, 0, 0, ++kep_serial);
	if (kep_ctl1(fd, KEVENT_CTL_ADD, &uk) == 0)
		inst->serial = kep_serial;
	err = kep_install(fd, inst);
	pthread_mutex_unlock(&kep_lock);
	kep_put(inst);
	if (err) {
		close(fd);
		return kep_fail(-err);
	}
	return fd;
}

int kevent_epoll_create(int size)
{
	if (size <= 0)
		return kep_fail(EINVAL);
	return kevent_epoll_create1(0);
}

/* ---- epoll_ctl ---- */

static __u32 kep_mask(uint32_t events)
{
	/* epoll always reports EPOLLERR and EPOLLHUP; unknown bits mean nothing. */
	return (events & KEP_POLL_BITS) | EPOLLERR | EPOLLHUP;
}

static __u32 kep_flags(uint32_t events)
{
	return events & EPOLLET ? KEVENT_REQ_ET : 0;
}

/* A failure of the ctl call itself: epfd is stale, or another error. */
static int kep_call_failed(int r)
{
	return r == -EBADF || r == -ENOTTY ? KEP_STALE : -r;
}

/*
 * fd has no watch here, or the call is invalid: epoll answers EPERM first
 * if fd's file has no poll method, which kevent's ADD says with EINVAL.
 * Finds out with an ADD and REMOVE of a probe (gen 0, whose events are
 * dropped), and otherwise answers err.
 */
static int kep_probe(int epfd, int fd, int err)
{
	struct ukevent uk = kep_uk(KEVENT_POLL, fd, 0, KEVENT_REQ_ET, (uint32_t)fd);
	int r = kep_ctl1(epfd, KEVENT_CTL_ADD, &uk);

	if (r < 0)
		return kep_call_failed(r);
	if (r == 0) {
		uk = kep_uk(KEVENT_POLL, fd, 0, 0, (uint32_t)fd);
		kep_ctl1(epfd, KEVENT_CTL_REMOVE, &uk);
	}
	if (r == EINVAL)
		return EPERM;
	if (r == EBADF)
		return EBADF;
	return err;
}

/* Whether fd is an epoll instance: ours (any kevent queue) or the kernel's. */
static bool kep_is_epoll(int fd)
{
	char path[64], link[64];
	ssize_t n;

	if (kep_is_queue(fd))
		return true;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return false;
	link[n] = 0;
	return !strcmp(link, "anon_inode:[eventpoll]");
}

static int kep_add(struct kep_instance *inst, int epfd, int fd, uint32_t events, uint64_t data)
{
	struct kep_watch *w;
	struct ukevent uk;
	uint64_t cookie;
	int r;

	pthread_mutex_lock(&inst->lock);
	w = kep_watch(inst, fd, true);
	if (!w) {
		pthread_mutex_unlock(&inst->lock);
		return ENOMEM;
	}
	if (w->cookie) {
		/* Alive (EEXIST), or gone with its file (added anew). */
		cookie = w->cookie;
	} else {
		if (++inst->gen == 0)
			inst->gen = 1;
		cookie = (uint64_t)inst->gen << 32 | (uint32_t)fd;
	}
	uk = kep_uk(KEVENT_POLL, fd, kep_mask(events), kep_flags(events), cookie);
	r = kep_ctl1(epfd, KEVENT_CTL_ADD, &uk);
	if (r == 0) {
		w->cookie = cookie;
		w->events = events;
		w->data = data;
		w->disabled = false;
	} else if (r > 0 && r != EEXIST) {
		/* No request has the entry's identity any more. */
		w->cookie = 0;
	}
	pthread_mutex_unlock(&inst->lock);
	if (r < 0)
		return kep_call_failed(r);
	/* A file without a poll method: kevent says EINVAL, epoll EPERM. */
	return r == EINVAL ? EPERM : r;
}

static int kep_mod(struct kep_instance *inst, int epfd, int fd, uint32_t events, uint64_t data)
{
	struct kep_watch *w;
	struct ukevent uk;
	int r;

	pthread_mutex_lock(&inst->lock);
	w = kep_watch(inst, fd, false);
	if (!w || !w->cookie) {
		pthread_mutex_unlock(&inst->lock);
		return kep_probe(epfd, fd, ENOENT);
	}
	if (w->events & EPOLLEXCLUSIVE) {
		pthread_mutex_unlock(&inst->lock);
		return EINVAL;
	}
	uk = kep_uk(KEVENT_POLL, fd, kep_mask(events), kep_flags(events), w->cookie);
	r = kep_ctl1(epfd, KEVENT_CTL_MODIFY, &uk);
	if (r == 0) {
		w->events = events;
		w->data = data;
		w->disabled = false;
	} else if (r == ENOENT) {
		/* Its file was closed everywhere: the kernel dropped it. */
		w->cookie = 0;
	}
	pthread_mutex_unlock(&inst->lock);
	return r < 0 ? kep_call_failed(r) : r;
}

static int kep_del(struct kep_instance *inst, int epfd, int fd)
{
	struct kep_watch *w;
	struct ukevent uk;
	int r;

	pthread_mutex_lock(&inst->lock);
	w = kep_watch(inst, fd, false);
	if (!w || !w->cookie) {
		pthread_mutex_unlock(&inst->lock);
		return kep_probe(epfd, fd, ENOENT);
	}
	uk = kep_uk(KEVENT_POLL, fd, 0, 0, w->cookie);
	r = kep_ctl1(epfd, KEVENT_CTL_REMOVE, &uk);
	/* Removed, or (ENOENT) dropped by the kernel when its file closed. */
	if (r >= 0)
		w->cookie = 0;
	pthread_mutex_unlock(&inst->lock);
	return r < 0 ? kep_call_failed(r) : r;
}

/* 0, a positive errno, or KEP_STALE; checks in epoll's order. */
static int kep_ctl(struct kep_instance *inst, int epfd, int op, int fd, uint32_t events,
		   uint64_t data)
{
	if (fcntl(fd, F_GETFD) < 0)
		return EBADF;
	if (fd == epfd)
		return EINVAL;
	switch (op) {
	case EPOLL_CTL_ADD:
		if ((events & EPOLLEXCLUSIVE) &&
		    ((events & ~KEP_EXCLUSIVE_OK) || kep_is_epoll(fd)))
			return kep_probe(epfd, fd, EINVAL);
		return kep_add(inst, epfd, fd, events, data);
	case EPOLL_CTL_MOD:
		if (events & EPOLLEXCLUSIVE)
			return kep_probe(epfd, fd, EINVAL);
		return kep_mod(inst, epfd, fd, events, data);
	case EPOLL_CTL_DEL:
		return kep_del(inst, epfd, fd);
	default:
		return kep_probe(epfd, fd, EINVAL);
	}
}

int kevent_epoll_ctl(int epfd, int op, int fd, struct epoll_event *event)
{
	struct kep_instance *inst, *target;
	uint32_t events = 0;
	uint64_t data = 0;
	int r;

	if (op != EPOLL_CTL_DEL) {
		if (!event)
			return kep_fail(EFAULT);
		events = event->events;
		data = event->data.u64;
	}
	inst = kep_get(epfd);
	if (!inst)
		return (int)kep_raw(SYS_epoll_ctl, epfd, op, fd, (long)event, 0, 0);
	r = kep_ctl(inst, epfd, op, fd, events, data);
	if (r == KEP_STALE) {
		/* epfd's queue was closed: the kernel says what epfd is now. */
		kep_forget(epfd, inst);
		kep_put(inst);
		return (int)kep_raw(SYS_epoll_ctl, epfd, op, fd, (long)event, 0, 0);
	}
	if ((r == ELOOP && op == EPOLL_CTL_ADD) || (r == ENOENT && kep_is_queue(fd))) {
		/* Another descriptor of the instance itself: EINVAL, as epoll. */
		target = kep_get(fd);
		if (target == inst)
			r = EINVAL;
		if (target)
			kep_put(target);
	}
	kep_put(inst);
	return r ? kep_fail(r) : 0;
}

/* ---- epoll_wait ---- */

static struct ukevent *kep_buffer(int n)
{
	struct ukevent *b;

	if (n <= kep_buf_len)
		return kep_buf;
	if (n < 64)
		n = 64;
	b = realloc(kep_buf, n * sizeof(*b));
	if (!b)
		return NULL;
	kep_buf = b;
	kep_buf_len = n;
	pthread_setspecific(kep_buf_key, b);
	return b;
}

static int64_t kep_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/*
 * With the instance's lock: turns the n collected entries of buf into
 * epoll events at out, dropping those of deleted or disabled watches and
 * probes, and disables the EPOLLONESHOT watches delivered. Returns how
 * many events it wrote.
 */
static int kep_deliver(struct kep_instance *inst, int epfd, struct ukevent *buf, int n,
		       struct epoll_event *out)
{
	int i, k = 0, m = 0;

	for (i = 0; i < n; i++) {
		struct ukevent *uk = &buf[i];
		uint32_t fd = (uint32_t)uk->ptr;
		struct kep_watch *w;

		if (uk->type != KEVENT_POLL || fd >= (uint32_t)inst->nwatches)
			continue;
		w = &inst->watches[fd];
		if (!w->cookie || w->cookie != uk->ptr || w->disabled)
			continue;
		out[k].events = uk->ret_data[0];
		out[k].data.u64 = w->data;
		k++;
		if (w->events & EPOLLONESHOT) {
			w->disabled = true;
			/* In place: entry m <= i is already read. */
			buf[m++] = kep_uk(KEVENT_POLL, fd, 0, KEVENT_REQ_ET, w->cookie);
		}
	}
	/* A request whose file was closed meanwhile is gone: nothing to do. */
	if (m)
		kevent_ctl(epfd, KEVENT_CTL_MODIFY, m, buf);
	return k;
}

/*
 * Waits on an instance: timeout_ns < 0 forever. Returns the number of
 * events, -1 with errno, or -2 if epfd is not an instance (any more): the
 * caller hands the call to the kernel.
 */
static int kep_wait(int epfd, struct epoll_event *events, int maxevents, int64_t timeout_ns,
		    const sigset_t *sigmask)
{
	struct kep_instance *inst;
	struct ukevent *buf;
	int64_t deadline = 0, left;
	int n, k, nbuf = maxevents < KEP_BATCH ? maxevents : KEP_BATCH;

	if (!events)
		return kep_fail(EFAULT);
	inst = kep_get(epfd);
	if (!inst)
		return -2;
	buf = kep_buffer(nbuf);
	if (!buf) {
		kep_put(inst);
		return kep_fail(ENOMEM);
	}
	if (timeout_ns > 0)
		deadline = kep_now() + timeout_ns;
	for (;;) {
		left = timeout_ns;
		if (timeout_ns > 0) {
			left = deadline - kep_now();
			if (left < 0)
				left = 0;
		}
		if (sigmask)
			n = kevent_pget_events_ns(epfd, left != 0, nbuf, left, buf, 0, sigmask);
		else
			n = kevent_get_events_ns(epfd, left != 0, nbuf, left, buf, 0);
		if (n < 0 && errno == EAGAIN) {
			/* O_NONBLOCK on the queue; epoll_wait ignores it. */
			struct timespec ts = { left / 1000000000LL, left % 1000000000LL };
			struct pollfd p = { .fd = epfd, .events = POLLIN };

			if (left == 0)
				n = 0;
			else if ((n = ppoll(&p, 1, left < 0 ? NULL : &ts, sigmask)) > 0)
				continue;
		}
		if (n < 0) {
			int err = errno;

			if (err == EBADF || err == ENOTTY) {
				kep_forget(epfd, inst);
				kep_put(inst);
				return -2;
			}
			kep_put(inst);
			return kep_fail(err);
		}
		pthread_mutex_lock(&inst->lock);
		k = kep_deliver(inst, epfd, buf, n, events);
		pthread_mutex_unlock(&inst->lock);
		/* Only dropped events, and time left: wait on. */
		if (k > 0 || n == 0 || left == 0)
			break;
	}
	kep_put(inst);
	return k;
}

int kevent_epoll_pwait(int epfd, struct epoll_event *events, int maxevents, int timeout,
		       const sigset_t *sigmask)
{
	int r;

	if (maxevents <= 0 || maxevents > KEP_MAX_EVENTS)
		return kep_fail(EINVAL);
	r = kep_wait(epfd, events, maxevents, timeout < 0 ? -1 : timeout * 1000000LL, sigmask);
	if (r == -2)
		r = (int)kep_raw(SYS_epoll_pwait, epfd, (long)events, maxevents, timeout,
				 (long)sigmask, KEP_SIGSETSIZE);
	return r;
}

int kevent_epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout)
{
	return kevent_epoll_pwait(epfd, events, maxevents, timeout, NULL);
}

int kevent_epoll_pwait2(int epfd, struct epoll_event *events, int maxevents,
			const struct timespec *timeout, const sigset_t *sigmask)
{
	int64_t ns = -1;
	int r;

	if (timeout) {
		if (timeout->tv_sec < 0 || timeout->tv_nsec < 0 || timeout->tv_nsec >= 1000000000L)
			return kep_fail(EINVAL);
		/* Beyond about 292 years: forever. */
		if (timeout->tv_sec < INT64_MAX / 1000000000LL - 1)
			ns = timeout->tv_sec * 1000000000LL + timeout->tv_nsec;
	}
	if (maxevents <= 0 || maxevents > KEP_MAX_EVENTS)
		return kep_fail(EINVAL);
	r = kep_wait(epfd, events, maxevents, ns, sigmask);
	if (r == -2)
		r = (int)kep_raw(SYS_epoll_pwait2, epfd, (long)events, maxevents, (long)timeout,
				 (long)sigmask, KEP_SIGSETSIZE);
	return r;
}

/* ---- the system calls by number (__wrap_syscall) ---- */

bool kep_syscall(long nr, const long a[6], long *ret)
{
	int fd = (int)a[0];
	struct epoll_event *ev = (struct epoll_event *)a[1];
	const sigset_t *mask = (const sigset_t *)a[4];

	switch (nr) {
#ifdef SYS_epoll_create
	case SYS_epoll_create:
		*ret = kevent_epoll_create(fd);
		return true;
#endif
	case SYS_epoll_create1:
		*ret = kevent_epoll_create1(fd);
		return true;
	case SYS_epoll_ctl:
		*ret = kevent_epoll_ctl(fd, (int)a[1], (int)a[2], (struct epoll_event *)a[3]);
		return true;
#ifdef SYS_epoll_wait
	case SYS_epoll_wait:
		*ret = kevent_epoll_wait(fd, ev, (int)a[2], (int)a[3]);
		return true;
#endif
	case SYS_epoll_pwait:
		/* The kernel checks the mask's size before anything else. */
		if (mask && a[5] != KEP_SIGSETSIZE)
			*ret = kep_fail(EINVAL);
		else
			*ret = kevent_epoll_pwait(fd, ev, (int)a[2], (int)a[3], mask);
		return true;
	case SYS_epoll_pwait2:
		if (mask && a[5] != KEP_SIGSETSIZE)
			*ret = kep_fail(EINVAL);
		else
			*ret = kevent_epoll_pwait2(fd, ev, (int)a[2], (const struct timespec *)a[3],
						   mask);
		return true;
	}
	return false;
}
