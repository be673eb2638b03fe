/* SPDX-License-Identifier: LGPL-2.1 OR MIT */
/* What the objects of libkevent-epoll.a share; not installed. */
#ifndef _KEVENT_EPOLL_INTERNAL_H
#define _KEVENT_EPOLL_INTERNAL_H

#include <stdbool.h>

/*
 * If nr is one of the epoll system calls, runs it on the library with the
 * raw arguments a[0..5], stores what syscall() returns in *ret (-1 with
 * errno on failure) and returns true; otherwise returns false.
 */
bool kep_syscall(long nr, const long a[6], long *ret);

#endif
