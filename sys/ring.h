/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The memory of a queue's event ring: sys/ring.c, called from sys/ring.rs.
 */
#ifndef KEVENT_SYS_RING_H
#define KEVENT_SYS_RING_H

#include <linux/types.h>

struct vm_area_struct;
struct kevent_ring_mem;

struct kevent_ring_mem *kevent_ring_mem_alloc(size_t size);
void kevent_ring_mem_free(struct kevent_ring_mem *mem);
void **kevent_ring_mem_addrs(struct kevent_ring_mem *mem);
int kevent_ring_mem_mmap(struct kevent_ring_mem *mem, struct vm_area_struct *vma);

#endif
