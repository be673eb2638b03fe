/* SPDX-License-Identifier: GPL-2.0 */
/* The signal mask helper of sys/signal.c, called from sys/signal.rs. */
#ifndef KEVENT_SYS_SIGNAL_H
#define KEVENT_SYS_SIGNAL_H

#include <linux/signal_types.h>

/* current->saved_sigmask = *saved; set_restore_sigmask(); */
void kevent_restore_sigmask_later(const sigset_t *saved);

#endif
