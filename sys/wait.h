/* SPDX-License-Identifier: GPL-2.0 */
/* The wait queue helper of sys/wait.c, called from sys/wait.rs. */
#ifndef KEVENT_SYS_WAIT_H
#define KEVENT_SYS_WAIT_H

#include <linux/wait.h>

/* A sleeper in get-events, woken only by a count of at least min_nr. */
struct kevent_waiter {
	struct wait_queue_entry entry;
	size_t min_nr;
};

void kevent_prepare_to_wait_sorted(struct wait_queue_head *wq_head, struct kevent_waiter *w,
				   int state);
bool kevent_poll_wake_enter(void);
void kevent_poll_wake_exit(bool in_eventfd);
bool kevent_in_poll_wake(void);

#endif
