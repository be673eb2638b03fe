/* SPDX-License-Identifier: LGPL-2.1 OR MIT */
/*
 * kevent-epoll.h: epoll(7) implemented over /dev/kevent (libkevent-epoll.a).
 *
 * Every epoll instance is a kevent queue; every watch is a KEVENT_POLL
 * request. compat/epoll/README.md lists what differs from the kernel's
 * epoll.
 *
 * Three ways to use it:
 *
 *  - Unmodified programs: link with libkevent-epoll.a and
 *      -Wl,--wrap=epoll_create,--wrap=epoll_create1,--wrap=epoll_ctl
 *      -Wl,--wrap=epoll_wait,--wrap=epoll_pwait,--wrap=epoll_pwait2
 *    and, for programs that call syscall(__NR_epoll_*, ...) directly,
 *      -Wl,--wrap=syscall        (x86-64 only)
 *  - Force-included: compile with -DKEVENT_EPOLL_REDIRECT -include kevent-epoll.h
 *    and link with libkevent-epoll.a: the epoll_* names become kevent_epoll_*.
 *  - Directly: call kevent_epoll_*() below, which take the arguments of
 *    the epoll call of the same name and return -1 with errno as it does.
 */
#ifndef _KEVENT_EPOLL_H
#define _KEVENT_EPOLL_H

#include <signal.h>
#include <sys/epoll.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

int kevent_epoll_create(int size);
int kevent_epoll_create1(int flags);
int kevent_epoll_ctl(int epfd, int op, int fd, struct epoll_event *event);
int kevent_epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout);
int kevent_epoll_pwait(int epfd, struct epoll_event *events, int maxevents, int timeout,
		       const sigset_t *sigmask);
/* timeout NULL: wait forever. */
int kevent_epoll_pwait2(int epfd, struct epoll_event *events, int maxevents,
			const struct timespec *timeout, const sigset_t *sigmask);

#ifdef __cplusplus
}
#endif

#ifdef KEVENT_EPOLL_REDIRECT
#define epoll_create kevent_epoll_create
#define epoll_create1 kevent_epoll_create1
#define epoll_ctl kevent_epoll_ctl
#define epoll_wait kevent_epoll_wait
#define epoll_pwait kevent_epoll_pwait
#define epoll_pwait2 kevent_epoll_pwait2
#endif

#endif /* _KEVENT_EPOLL_H */
