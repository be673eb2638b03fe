/* SPDX-License-Identifier: LGPL-2.1 OR MIT */
/*
 * kevent.h: the take12 calls over /dev/kevent, header only.
 *
 * Programs written for the 2006 kevent patch series call kevent_ctl() and
 * kevent_get_events() as system calls; here they are thin wrappers over the
 * ioctls of <linux/kevent.h>, with the same signatures, returning -1 and
 * setting errno like a system call. Build with -I uapi -I include.
 */
#ifndef _KEVENT_H
#define _KEVENT_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <linux/kevent.h>

#define KEVENT_DEVICE "/dev/kevent"

/* take12's "INIT by open": every open of the device is a new queue. */
static inline int kevent_init(void)
{
	return open(KEVENT_DEVICE, O_RDWR | O_CLOEXEC);
}

/*
 * Runs cmd on num entries of struct ukevent at arg. Returns how many
 * entries were processed (each has KEVENT_RET_DONE, and KEVENT_RET_BROKEN
 * with the errno in ret_data[1] where it failed), or for KEVENT_CTL_INIT
 * the fd of a new queue.
 */
static inline int kevent_ctl(int fd, unsigned int cmd, unsigned int num, void *arg)
{
	struct kevent_ctl_arg ctl = {
		.cmd = cmd,
		.num = num,
		.events = (__u64)(uintptr_t)arg,
	};

	return ioctl(fd, KEVENT_IOC_CTL, &ctl);
}

/*
 * Waits up to timeout milliseconds ((unsigned)-1: forever) until min_nr
 * events are ready, then copies up to max_nr of them to buf. Returns how
 * many were copied.
 */
static inline int kevent_get_events(int ctl_fd, unsigned int min_nr, unsigned int max_nr,
				    unsigned int timeout, void *buf, unsigned flags)
{
	struct kevent_get_events_arg ge = {
		.min_nr = min_nr,
		.max_nr = max_nr,
		.timeout_ns = timeout == (unsigned int)-1 ? -1 : (__s64)timeout * 1000000,
		.events = (__u64)(uintptr_t)buf,
		.flags = flags,
	};

	return ioctl(ctl_fd, KEVENT_IOC_GET_EVENTS, &ge);
}

/* The same wait with a timeout in nanoseconds (< 0: forever). */
static inline int kevent_get_events_ns(int ctl_fd, unsigned int min_nr, unsigned int max_nr,
				       int64_t timeout_ns, void *buf, unsigned flags)
{
	struct kevent_get_events_arg ge = {
		.min_nr = min_nr,
		.max_nr = max_nr,
		.timeout_ns = timeout_ns,
		.events = (__u64)(uintptr_t)buf,
		.flags = flags,
	};

	return ioctl(ctl_fd, KEVENT_IOC_GET_EVENTS, &ge);
}

/*
 * The same wait with sigmask as the signal mask while it waits, set and
 * restored atomically as epoll_pwait() does (NULL: the mask is unchanged).
 */
static inline int kevent_pget_events_ns(int ctl_fd, unsigned int min_nr, unsigned int max_nr,
					int64_t timeout_ns, void *buf, unsigned flags,
					const sigset_t *sigmask)
{
	struct kevent_pget_events_arg pge = {
		.get = {
			.min_nr = min_nr,
			.max_nr = max_nr,
			.timeout_ns = timeout_ns,
			.events = (__u64)(uintptr_t)buf,
			.flags = flags,
		},
		.sigmask = (__u64)(uintptr_t)sigmask,
		/* The kernel's sigset_t, not glibc's 128-byte one. */
		.sigsetsize = sigmask ? 8 : 0,
	};

	return ioctl(ctl_fd, KEVENT_IOC_PGET_EVENTS, &pge);
}

#endif /* _KEVENT_H */
