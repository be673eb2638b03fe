/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Host only, for developing libevent's kevent backend without the module:
 * a rough /dev/kevent emulated over epoll, linked into a static test
 * program with -Wl,--wrap=open,--wrap=ioctl,--wrap=close (README.md says
 * how). It exercises the backend's own logic (the batches, per-entry
 * results, the ENOENT and EEXIST retries, the event mapping), not kevent:
 * it is no evidence that anything works on the module.
 *
 * KEVENT_EMUL=1 makes open("/dev/kevent") succeed. Requests are keyed by
 * fd number as in kevent, but otherwise behave as epoll's watches.
 * KEVENT_EMUL=sticky is the strict case for the backend: each request
 * holds a dup of its file (kevent holds a reference) and stays under its
 * fd number until REMOVE, as kevent's do while the file is open anywhere
 * else, so a closed-and-reused fd number still names the old file's
 * request. The dups live at fd 600 and above, so tests that lower
 * RLIMIT_NOFILE (dns/bufferevent_connect_hostname_emfile,
 * listener/error_unlock, test-fdleak) fail or hang in that mode only.
 * Only KEVENT_POLL, min_nr <= 1, one cookie per fd.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <linux/kevent.h>

int __real_open(const char *path, int flags, ...);
int __real_ioctl(int fd, unsigned long req, ...);
int __real_close(int fd);

#define MAXFD 65536

struct req {
	int present;
	int priv;		/* sticky: our dup of the file */
	uint32_t mask, flags;
	uint64_t cookie;
};

struct queue {
	int epfd;
	struct req *reqs;	/* by fd number */
};

static struct queue *queues[MAXFD];	/* by the queue's fd (an epoll fd) */

static int sticky(void)
{
	const char *e = getenv("KEVENT_EMUL");

	return e && !strcmp(e, "sticky");
}

int __wrap_open(const char *path, int flags, ...)
{
	mode_t mode = 0;

	if (flags & O_CREAT) {
		va_list ap;

		va_start(ap, flags);
		mode = va_arg(ap, int);
		va_end(ap);
	}
	if (!strcmp(path, "/dev/kevent") && getenv("KEVENT_EMUL")) {
		int ep = epoll_create1(EPOLL_CLOEXEC);

		if (ep < 0)
			return -1;
		if (ep >= MAXFD) {
			__real_close(ep);
			errno = EMFILE;
			return -1;
		}
		queues[ep] = calloc(1, sizeof(struct queue));
		queues[ep]->epfd = ep;
		queues[ep]->reqs = calloc(MAXFD, sizeof(struct req));
		return ep;
	}
	return __real_open(path, flags, mode);
}

/* Programs built with _FILE_OFFSET_BITS=64 (lighttpd) call open64; link
 * them with --wrap=open64 too. */
int __wrap_open64(const char *path, int flags, ...)
{
	mode_t mode = 0;

	if (flags & O_CREAT) {
		va_list ap;

		va_start(ap, flags);
		mode = va_arg(ap, int);
		va_end(ap);
	}
	return __wrap_open(path, flags, mode);
}

static uint32_t to_epoll(const struct ukevent *uk)
{
	uint32_t e = 0;

	if (uk->event & KEVENT_POLL_POLLIN)
		e |= EPOLLIN;
	if (uk->event & KEVENT_POLL_POLLOUT)
		e |= EPOLLOUT;
	if (uk->event & KEVENT_POLL_POLLRDHUP)
		e |= EPOLLRDHUP;
	if (uk->req_flags & KEVENT_REQ_ET)
		e |= EPOLLET;
	if (uk->req_flags & KEVENT_REQ_ONESHOT)
		e |= EPOLLONESHOT;
	return e;
}

/* One ctl entry: returns its errno, 0 on success. */
static int one(struct queue *q, unsigned cmd, const struct ukevent *uk)
{
	int fd = uk->id.raw[0];
	struct epoll_event ev = { .events = to_epoll(uk), .data.u64 = fd };
	struct req *r;

	if (uk->type != KEVENT_POLL || fd < 0 || fd >= MAXFD)
		return EINVAL;
	r = &q->reqs[fd];
	if (r->present && r->cookie != uk->ptr)
		return EINVAL;	/* several cookies per fd: not emulated */
	switch (cmd) {
	case KEVENT_CTL_ADD:
		if (r->present)
			return EEXIST;
		if (sticky()) {
			int priv = fcntl(fd, F_DUPFD_CLOEXEC, 600);

			if (priv < 0)
				return errno;
			if (epoll_ctl(q->epfd, EPOLL_CTL_ADD, priv, &ev) < 0) {
				int e = errno;

				__real_close(priv);
				return e == EPERM ? EINVAL : e;
			}
			r->priv = priv;
		} else if (epoll_ctl(q->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			if (errno != EEXIST)
				return errno == EPERM ? EINVAL : errno;
			/* epoll still has the (file, fd) of an earlier
			 * request: kevent would not. */
			epoll_ctl(q->epfd, EPOLL_CTL_DEL, fd, &ev);
			if (epoll_ctl(q->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
				return errno;
		}
		r->present = 1;
		r->mask = uk->event;
		r->flags = uk->req_flags;
		r->cookie = uk->ptr;
		return 0;
	case KEVENT_CTL_REMOVE:
		if (!r->present)
			return ENOENT;
		r->present = 0;
		if (sticky()) {
			epoll_ctl(q->epfd, EPOLL_CTL_DEL, r->priv, &ev);
			__real_close(r->priv);
			return 0;
		}
		/* Closed meanwhile: kevent has dropped it too. */
		if (epoll_ctl(q->epfd, EPOLL_CTL_DEL, fd, &ev) < 0)
			return ENOENT;
		return 0;
	case KEVENT_CTL_MODIFY:
		if (!r->present)
			return ENOENT;
		if (epoll_ctl(q->epfd, EPOLL_CTL_MOD, sticky() ? r->priv : fd, &ev) < 0) {
			r->present = 0;
			return ENOENT;
		}
		r->mask = uk->event;
		r->flags = uk->req_flags;
		return 0;
	}
	return EINVAL;
}

static int ctl(struct queue *q, struct kevent_ctl_arg *a)
{
	struct ukevent *uk = (void *)(uintptr_t)a->events;
	unsigned i;

	if (a->cmd > KEVENT_CTL_MODIFY || a->num > KEVENT_CTL_MAX_NUM || a->flags) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < a->num; i++) {
		int err = one(q, a->cmd, &uk[i]);

		uk[i].ret_flags = KEVENT_RET_DONE | (err ? KEVENT_RET_BROKEN : 0);
		uk[i].ret_data[0] = 0;
		uk[i].ret_data[1] = err;
	}
	return a->num;
}

static int get_events(struct queue *q, struct kevent_get_events_arg *a)
{
	struct ukevent *out = (void *)(uintptr_t)a->events;
	struct epoll_event evs[256];
	int max = a->max_nr > 256 ? 256 : a->max_nr, n, i, k = 0;
	long ms = a->timeout_ns < 0 ? -1 : (long)((a->timeout_ns + 999999) / 1000000);

	if (!a->max_nr || a->min_nr > a->max_nr || a->min_nr > 1 || a->flags) {
		errno = EINVAL;
		return -1;
	}
	if (a->min_nr == 0)
		ms = 0;
	n = epoll_wait(q->epfd, evs, max, ms);
	if (n < 0)
		return -1;
	for (i = 0; i < n; i++) {
		int fd = (int)evs[i].data.u64;
		struct req *r = &q->reqs[fd];

		if (!r->present)
			continue;
		memset(&out[k], 0, sizeof(out[k]));
		out[k].id.raw[0] = fd;
		out[k].type = KEVENT_POLL;
		out[k].event = r->mask;
		out[k].req_flags = r->flags;
		out[k].ret_flags = KEVENT_RET_DONE;
		/* EPOLL* and KEVENT_POLL_* have the same values. */
		out[k].ret_data[0] = evs[i].events & (r->mask | EPOLLERR | EPOLLHUP);
		out[k].ptr = r->cookie;
		k++;
	}
	return k;
}

int __wrap_ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (fd < 0 || fd >= MAXFD || !queues[fd])
		return __real_ioctl(fd, req, arg);
	if (req == KEVENT_IOC_CTL)
		return ctl(queues[fd], arg);
	if (req == KEVENT_IOC_GET_EVENTS)
		return get_events(queues[fd], arg);
	return __real_ioctl(fd, req, arg);
}

int __wrap_close(int fd)
{
	if (fd >= 0 && fd < MAXFD && queues[fd]) {
		struct queue *q = queues[fd];
		int i;

		queues[fd] = NULL;
		for (i = 0; i < MAXFD; i++)
			if (q->reqs[i].present && sticky())
				__real_close(q->reqs[i].priv);
		free(q->reqs);
		free(q);
	}
	return __real_close(fd);
}
