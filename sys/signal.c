// SPDX-License-Identifier: GPL-2.0
/*
 * The signal mask of get-events with a mask (sys/signal.rs): what
 * epoll_pwait() does when a signal interrupts its wait. The saved mask
 * goes back on the way to user space, after the handler ran with the
 * caller's mask. set_restore_sigmask() is an inline function whose effect
 * differs by architecture (a thread flag on arm64, a task_struct bit on
 * x86-64), which bindgen does not turn into Rust.
 */
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/signal.h>

#include "signal.h"

void kevent_restore_sigmask_later(const sigset_t *saved)
{
	current->saved_sigmask = *saved;
	set_restore_sigmask();
}
