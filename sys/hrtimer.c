// SPDX-License-Identifier: GPL-2.0
/*
 * The parts of the hrtimer API that sys/hrtimer.rs cannot call directly:
 * inline functions, which bindgen does not turn into Rust, and the set-up,
 * whose name and arguments changed in Linux 6.13 (hrtimer_init() and then
 * setting ->function became one hrtimer_setup()). The layout of struct
 * hrtimer changed too (7.2 keeps ->is_queued and a linked timerqueue
 * node), so Rust reads none of its fields.
 */
#include <linux/hrtimer.h>
#include <linux/version.h>

#include "hrtimer.h"

void kevent_hrtimer_setup(struct hrtimer *timer,
			  enum hrtimer_restart (*function)(struct hrtimer *),
			  clockid_t clock, enum hrtimer_mode mode)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 13, 0)
	hrtimer_setup(timer, function, clock, mode);
#else
	hrtimer_init(timer, clock, mode);
	timer->function = function;
#endif
}

bool kevent_hrtimer_is_queued(struct hrtimer *timer)
{
	return hrtimer_is_queued(timer);
}

ktime_t kevent_hrtimer_expires(const struct hrtimer *timer)
{
	return hrtimer_get_expires(timer);
}

/* The time now on the timer's clock. */
ktime_t kevent_hrtimer_now(struct hrtimer *timer)
{
	return hrtimer_cb_get_time(timer);
}
