// SPDX-License-Identifier: LGPL-2.1 OR MIT
/*
 * The epoll calls of a program linked with
 *   -Wl,--wrap=epoll_create,--wrap=epoll_create1,--wrap=epoll_ctl
 *   -Wl,--wrap=epoll_wait,--wrap=epoll_pwait,--wrap=epoll_pwait2
 * come here instead of to the C library.
 */
#include "kevent-epoll.h"

int __wrap_epoll_create(int size);
int __wrap_epoll_create1(int flags);
int __wrap_epoll_ctl(int epfd, int op, int fd, struct epoll_event *event);
int __wrap_epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout);
int __wrap_epoll_pwait(int epfd, struct epoll_event *events, int maxevents, int timeout,
		       const sigset_t *sigmask);
int __wrap_epoll_pwait2(int epfd, struct epoll_event *events, int maxevents,
			const struct timespec *timeout, const sigset_t *sigmask);

int __wrap_epoll_create(int size)
{
	return kevent_epoll_create(size);
}

int __wrap_epoll_create1(int flags)
{
	return kevent_epoll_create1(flags);
}

int __wrap_epoll_ctl(int epfd, int op, int fd, struct epoll_event *event)
{
	return kevent_epoll_ctl(epfd, op, fd, event);
}

int __wrap_epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout)
{
	return kevent_epoll_wait(epfd, events, maxevents, timeout);
}

int __wrap_epoll_pwait(int epfd, struct epoll_event *events, int maxevents, int timeout,
		       const sigset_t *sigmask)
{
	return kevent_epoll_pwait(epfd, events, maxevents, timeout, sigmask);
}

int __wrap_epoll_pwait2(int epfd, struct epoll_event *events, int maxevents,
			const struct timespec *timeout, const sigset_t *sigmask)
{
	return kevent_epoll_pwait2(epfd, events, maxevents, timeout, sigmask);
}
