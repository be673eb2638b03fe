// SPDX-License-Identifier: GPL-2.0
/*
 * A queue's sleepers in get-events, kept in the order of the events they
 * need, so that a wake-up for a count looks at one of them at most.
 */
#include <linux/sched.h>

#include "wait.h"

/*
 * prepare_to_wait_exclusive(), keeping the waiters in min_nr order: behind
 * every waiter that needs as many events or fewer, ahead of those that need
 * more. A wake-up for a count then wakes the first waiter, or stops there
 * if even that one needs more (waiter_wake() in sys/wait.rs): one look,
 * however many tasks wait, where a walk past every waiter needing more
 * could be made as long as a user has tasks, at each event, with
 * interrupts off. The search starts at the back, where a waiter needing
 * as many as the others (the common case) goes at once.
 */
void kevent_prepare_to_wait_sorted(struct wait_queue_head *wq_head, struct kevent_waiter *w,
				   int state)
{
	struct kevent_waiter *pos;
	unsigned long flags;

	w->entry.flags |= WQ_FLAG_EXCLUSIVE;
	spin_lock_irqsave(&wq_head->lock, flags);
	if (list_empty(&w->entry.entry)) {
		list_for_each_entry_reverse(pos, &wq_head->head, entry.entry)
			if (pos->min_nr <= w->min_nr)
				break;
		/* After pos, or first if the loop ended at the head. */
		list_add(&w->entry.entry, &pos->entry.entry);
	}
	set_current_state(state);
	spin_unlock_irqrestore(&wq_head->lock, flags);
}
