// SPDX-License-Identifier: GPL-2.0
/*
 * Telling KEVENT_TIMER_CANCEL_ON_SET timers that CLOCK_REALTIME was set,
 * as timerfd's TFD_TIMER_CANCEL_ON_SET does.
 *
 * timerfd is called by the timekeeping core itself (timerfd_clock_was_set);
 * a module is not. The one exported hook is the pvclock notifier, which
 * timekeeping calls at every update, with was_set when the clock was set
 * (settimeofday, clock_settime, adjtimex steps and TAI offset changes). It
 * runs with the timekeeper's lock held, where queueing work could deadlock
 * (KVM, the notifier's other user, met that), so it only queues an
 * irq_work, which queues the work that tells the watches.
 */
#include <linux/irq_work.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/notifier.h>
#include <linux/pvclock_gtod.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

#include "clock.h"

struct kevent_clock_watch {
	struct list_head node;
	const void *owner;
	kevent_clock_notify_t notify;
};

/* Every watch, in the order they were made. */
static LIST_HEAD(kevent_clock_watches);
static DEFINE_MUTEX(kevent_clock_lock);

static void kevent_clock_was_set(struct work_struct *work)
{
	struct kevent_clock_watch *watch;

	mutex_lock(&kevent_clock_lock);
	list_for_each_entry(watch, &kevent_clock_watches, node) {
		watch->notify(watch->owner);
		/* The list is as long as users' limits let it be. */
		cond_resched();
	}
	mutex_unlock(&kevent_clock_lock);
}

static DECLARE_WORK(kevent_clock_work, kevent_clock_was_set);

static void kevent_clock_irq_work(struct irq_work *work)
{
	schedule_work(&kevent_clock_work);
}

static DEFINE_IRQ_WORK(kevent_clock_kick, kevent_clock_irq_work);

static int kevent_clock_gtod(struct notifier_block *nb, unsigned long was_set, void *tk)
{
	if (was_set)
		irq_work_queue(&kevent_clock_kick);
	return NOTIFY_OK;
}

static struct notifier_block kevent_clock_nb = {
	.notifier_call = kevent_clock_gtod,
};

int kevent_clock_init(void)
{
	return pvclock_gtod_register_notifier(&kevent_clock_nb);
}

/* Module exit: no queue is open, so no watch is left. */
void kevent_clock_exit(void)
{
	pvclock_gtod_unregister_notifier(&kevent_clock_nb);
	irq_work_sync(&kevent_clock_kick);
	cancel_work_sync(&kevent_clock_work);
}

/*
 * Tells @owner of every setting of the clock, by @notify, until
 * kevent_clock_unwatch(). NULL if out of memory. May sleep.
 */
struct kevent_clock_watch *kevent_clock_watch(const void *owner, kevent_clock_notify_t notify)
{
	struct kevent_clock_watch *watch;

	watch = kmalloc(sizeof(*watch), GFP_KERNEL_ACCOUNT);
	if (!watch)
		return NULL;
	watch->owner = owner;
	watch->notify = notify;
	mutex_lock(&kevent_clock_lock);
	list_add_tail(&watch->node, &kevent_clock_watches);
	mutex_unlock(&kevent_clock_lock);
	return watch;
}

/* Once this returns, @watch's owner is not called any more. May sleep. */
void kevent_clock_unwatch(struct kevent_clock_watch *watch)
{
	mutex_lock(&kevent_clock_lock);
	list_del(&watch->node);
	mutex_unlock(&kevent_clock_lock);
	kfree(watch);
}
