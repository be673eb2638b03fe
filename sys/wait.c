// SPDX-License-Identifier: GPL-2.0
/*
 * A queue's sleepers in get-events, kept in the order of the events they
 * need, so that a wake-up for a count looks at one of them at most; and
 * whether this CPU is inside a queue's wake-up of its pollers.
 */
#include <linux/percpu.h>
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
 * as many as the others (the common case) goes at once; one going back to
 * sleep ahead of many that need more walks past them, at its own cost,
 * once per sleep.
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

/*
 * How many queues' wake-ups of their pollers this CPU is inside. Each
 * holds its queue's poller lock with interrupts off from enter to exit,
 * so a count above 0 is the calling context's own: nothing else runs on
 * the CPU meanwhile but what that wake-up calls.
 */
static DEFINE_PER_CPU(unsigned int, kevent_poll_wakes);

/*
 * Called with interrupts off, after taking a queue's poller lock. Until
 * kevent_poll_wake_exit(), the task is also marked as inside an eventfd's
 * wake-up (what eventfd_signal_mask() marks), so that a poller callback
 * that would signal an eventfd defers the signal, as it must inside an
 * eventfd's wake-up (eventfd_signal_allowed()). aio's poll on 7.2 is the
 * one that looks (6.12's defers every such signal, io_uring's every one
 * made inside a wake-up). Signalled at once, the eventfd's lock would be
 * taken inside this queue's poller lock, while a write to that eventfd,
 * under the eventfd's lock, wakes a queue watching it, which takes the
 * two in the other order: two CPUs could wait for each other for good,
 * interrupts off. Returns the mark as it was, for kevent_poll_wake_exit().
 */
bool kevent_poll_wake_enter(void)
{
	bool in_eventfd = false;

	__this_cpu_inc(kevent_poll_wakes);
#ifdef CONFIG_EVENTFD
	in_eventfd = current->in_eventfd;
	current->in_eventfd = 1;
#endif
	return in_eventfd;
}

/* Called with interrupts off, before releasing the lock. */
void kevent_poll_wake_exit(bool in_eventfd)
{
#ifdef CONFIG_EVENTFD
	current->in_eventfd = in_eventfd;
#endif
	__this_cpu_dec(kevent_poll_wakes);
}

/*
 * Whether the caller runs inside a queue's wake-up of its pollers. A
 * caller that is not reads 0 on whichever CPU it runs: a count above 0
 * belongs to the context that runs there with interrupts off.
 */
bool kevent_in_poll_wake(void)
{
	return this_cpu_read(kevent_poll_wakes) != 0;
}
