/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Telling owners that CLOCK_REALTIME was set: sys/clock.c, called from
 * sys/clock.rs.
 */
#ifndef KEVENT_SYS_CLOCK_H
#define KEVENT_SYS_CLOCK_H

struct kevent_clock_watch;

/* Called from a work item, with the list's mutex held: may not sleep long. */
typedef void (*kevent_clock_notify_t)(const void *owner);

int kevent_clock_init(void);
void kevent_clock_exit(void);
struct kevent_clock_watch *kevent_clock_watch(const void *owner, kevent_clock_notify_t notify);
void kevent_clock_unwatch(struct kevent_clock_watch *watch);

#endif
