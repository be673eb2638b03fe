/* SPDX-License-Identifier: GPL-2.0 */
/* The spinlock helper of sys/spinlock_irq.c, called from sys/spinlock_irq.rs. */
#ifndef KEVENT_SYS_SPINLOCK_IRQ_H
#define KEVENT_SYS_SPINLOCK_IRQ_H

#include <linux/spinlock.h>

bool kevent_spin_trylock_irqsave(spinlock_t *lock, unsigned long *flags);

#endif
