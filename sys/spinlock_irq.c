// SPDX-License-Identifier: GPL-2.0
/*
 * spin_trylock_irqsave() for sys/spinlock_irq.rs: a macro that saves the
 * interrupt state into its argument, which Rust cannot call.
 */
#include <linux/spinlock.h>

#include "spinlock_irq.h"

bool kevent_spin_trylock_irqsave(spinlock_t *lock, unsigned long *flags)
{
	return spin_trylock_irqsave(lock, *flags);
}
