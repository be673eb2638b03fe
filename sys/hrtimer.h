/* SPDX-License-Identifier: GPL-2.0 */
/* The hrtimer helpers of sys/hrtimer.c, called from sys/hrtimer.rs. */
#ifndef KEVENT_SYS_HRTIMER_H
#define KEVENT_SYS_HRTIMER_H

#include <linux/hrtimer.h>

void kevent_hrtimer_setup(struct hrtimer *timer,
			  enum hrtimer_restart (*function)(struct hrtimer *),
			  clockid_t clock, enum hrtimer_mode mode);
bool kevent_hrtimer_is_queued(struct hrtimer *timer);
ktime_t kevent_hrtimer_expires(const struct hrtimer *timer);
ktime_t kevent_hrtimer_now(struct hrtimer *timer);

#endif
