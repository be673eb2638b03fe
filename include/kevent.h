/* SPDX-License-Identifier: LGPL-2.1 OR MIT */
/*
 * kevent.h: the take12 calls over /dev/kevent, header only.
 *
 * Programs written for the 2006 kevent patch series call kevent_ctl() and
 * kevent_get_events() as system calls; here they are thin wrappers over the
 * ioctls of <linux/kevent.h>, with the same signatures, returning -1 and
 * setting errno like a system call. The event ring's helpers follow them.
 * Build with -I uapi -I include.
 */
#ifndef _KEVENT_H
#define _KEVENT_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/kevent.h>

#define KEVENT_DEVICE "/dev/kevent"

/* take12's "INIT by open": every open of the device is a new queue. */
static inline int kevent_init(void)
{
	return open(KEVENT_DEVICE, O_RDWR | O_CLOEXEC);
}

/*
 * Runs cmd on num entries of struct ukevent at arg. Returns how many
 * entries were processed (each has KEVENT_RET_DONE, and KEVENT_RET_BROKEN
 * with the errno in ret_data[1] where it failed), or for KEVENT_CTL_INIT
 * the fd of a new queue.
 */
static inline int kevent_ctl(int fd, unsigned int cmd, unsigned int num, void *arg)
{
	struct kevent_ctl_arg ctl = {
		.cmd = cmd,
		.num = num,
		.events = (__u64)(uintptr_t)arg,
	};

	return ioctl(fd, KEVENT_IOC_CTL, &ctl);
}

/*
 * Waits up to timeout milliseconds ((unsigned)-1: forever) until min_nr
 * events are ready, then copies up to max_nr of them to buf. Returns how
 * many were copied.
 */
static inline int kevent_get_events(int ctl_fd, unsigned int min_nr, unsigned int max_nr,
				    unsigned int timeout, void *buf, unsigned flags)
{
	struct kevent_get_events_arg ge = {
		.min_nr = min_nr,
		.max_nr = max_nr,
		.timeout_ns = timeout == (unsigned int)-1 ? -1 : (__s64)timeout * 1000000,
		.events = (__u64)(uintptr_t)buf,
		.flags = flags,
	};

	return ioctl(ctl_fd, KEVENT_IOC_GET_EVENTS, &ge);
}

/* The same wait with a timeout in nanoseconds (< 0: forever). */
static inline int kevent_get_events_ns(int ctl_fd, unsigned int min_nr, unsigned int max_nr,
				       int64_t timeout_ns, void *buf, unsigned flags)
{
	struct kevent_get_events_arg ge = {
		.min_nr = min_nr,
		.max_nr = max_nr,
		.timeout_ns = timeout_ns,
		.events = (__u64)(uintptr_t)buf,
		.flags = flags,
	};

	return ioctl(ctl_fd, KEVENT_IOC_GET_EVENTS, &ge);
}

/*
 * The same wait with sigmask as the signal mask while it waits, set and
 * restored atomically as epoll_pwait() does (NULL: the mask is unchanged).
 */
static inline int kevent_pget_events_ns(int ctl_fd, unsigned int min_nr, unsigned int max_nr,
					int64_t timeout_ns, void *buf, unsigned flags,
					const sigset_t *sigmask)
{
	struct kevent_pget_events_arg pge = {
		.get = {
			.min_nr = min_nr,
			.max_nr = max_nr,
			.timeout_ns = timeout_ns,
			.events = (__u64)(uintptr_t)buf,
			.flags = flags,
		},
		.sigmask = (__u64)(uintptr_t)sigmask,
		/* The kernel's sigset_t, not glibc's 128-byte one. */
		.sigsetsize = sigmask ? 8 : 0,
	};

	return ioctl(ctl_fd, KEVENT_IOC_PGET_EVENTS, &pge);
}

/*
 * The event ring (docs/kevent.7.md, "The event ring"): events the kernel
 * writes into memory shared with the program, read without a system call.
 *
 * The kernel publishes entries with a release store of tail; the program
 * reads tail with an acquire load, reads the entries from head up to it,
 * and frees them with a release store of head. head is the program's
 * own: the helpers read it with a plain (relaxed) load. A ring has one
 * head, so threads that share a ring serialise their calls of
 * kevent_ring_entry_at(), kevent_ring_advance() and kevent_ring_copy()
 * (and the reads of the entries in between) among themselves.
 */

/* One mapping of a queue's ring, as kevent_ring_setup() fills it. */
struct kevent_ring_map {
	struct kevent_ring *ring;	/* the mapping: the header, then the entries */
	size_t size;			/* its length in bytes (the set-up's size) */
	__u32 entries;			/* a power of two */
	__u32 mask;			/* entries - 1 */
};

/*
 * Gives queue fd a ring of `entries` entries (KEVENT_IOC_RING_SETUP: a
 * power of two from KEVENT_RING_MIN_ENTRIES to KEVENT_RING_MAX_ENTRIES),
 * then maps it with mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
 * fd, 0). Returns 0 with *map filled, or -1 with errno set and *map
 * unchanged, nothing left mapped: the set-up's errno (EINVAL, EBUSY if
 * the queue has a ring already, ENOSPC, ENOMEM), or mmap's. If mmap
 * fails, the queue keeps its ring (a ring is for life, a second set-up
 * is EBUSY); mmap(2) can still map its sizeof(struct kevent_ring) +
 * entries * sizeof(struct kevent_ring_entry) bytes.
 */
static inline int kevent_ring_setup(int fd, unsigned int entries, struct kevent_ring_map *map)
{
	struct kevent_ring_setup setup = { .entries = entries };
	void *ring;

	if (ioctl(fd, KEVENT_IOC_RING_SETUP, &setup) < 0)
		return -1;
	ring = mmap(NULL, setup.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (ring == MAP_FAILED)
		return -1;
	map->ring = ring;
	map->size = setup.size;
	map->entries = entries;
	map->mask = entries - 1;
	return 0;
}

/*
 * Unmaps the ring; map->ring is then NULL. The queue keeps its ring, which
 * mmap(2) maps again; a queue whose fds are all closed ends when its last
 * mapping goes. Returns 0, or -1 with errno set.
 */
static inline int kevent_ring_unmap(struct kevent_ring_map *map)
{
	if (munmap(map->ring, map->size))
		return -1;
	map->ring = NULL;
	return 0;
}

/*
 * The number of unread entries: tail (an acquire load, so the entries up
 * to it may be read) minus head. More than map->entries only if the
 * program wrote a bogus head.
 */
static inline unsigned int kevent_ring_ready(const struct kevent_ring_map *map)
{
	__u32 tail = __atomic_load_n(&map->ring->tail, __ATOMIC_ACQUIRE);
	__u32 head = __atomic_load_n(&map->ring->head, __ATOMIC_RELAXED);

	return tail - head;
}

/*
 * The i-th unread entry, 0 the oldest; i must be below what
 * kevent_ring_ready() returned. It stays valid until the program frees it
 * (kevent_ring_advance(), kevent_ring_copy()): the kernel may then write
 * a new event over it.
 */
static inline const struct kevent_ring_entry *
kevent_ring_entry_at(const struct kevent_ring_map *map, unsigned int i)
{
	__u32 head = __atomic_load_n(&map->ring->head, __ATOMIC_RELAXED);

	return &map->ring->entries[(head + i) & map->mask];
}

/*
 * Frees the n oldest unread entries (n at most kevent_ring_ready()): a
 * release store of head, after the reads of those entries.
 */
static inline void kevent_ring_advance(struct kevent_ring_map *map, unsigned int n)
{
	__u32 head = __atomic_load_n(&map->ring->head, __ATOMIC_RELAXED);

	__atomic_store_n(&map->ring->head, head + n, __ATOMIC_RELEASE);
}

/*
 * Copies up to max unread entries, the oldest first, to out and frees
 * them. Returns how many it copied (0 if the ring is empty).
 */
static inline unsigned int kevent_ring_copy(struct kevent_ring_map *map,
					    struct kevent_ring_entry *out, unsigned int max)
{
	__u32 head = __atomic_load_n(&map->ring->head, __ATOMIC_RELAXED);
	unsigned int n = kevent_ring_ready(map), i;

	if (n > max)
		n = max;
	for (i = 0; i < n; i++)
		out[i] = map->ring->entries[(head + i) & map->mask];
	__atomic_store_n(&map->ring->head, head + n, __ATOMIC_RELEASE);
	return n;
}

/*
 * Non-zero while events wait outside the ring (it was full, or their type
 * is written only by a call): kevent_ring_wait() moves them in. The flag
 * may stay set a moment after the last of them has moved.
 */
static inline int kevent_ring_backlog(const struct kevent_ring_map *map)
{
	return __atomic_load_n(&map->ring->flags, __ATOMIC_RELAXED) & KEVENT_RING_BACKLOG;
}

/*
 * get-events with KEVENT_GET_RING: waits up to timeout_ns (< 0: forever,
 * 0: never) until the ring's unread entries and the events waiting outside
 * it make min_nr (min_nr at most the ring's entries), then moves up to
 * max_nr of those waiting into the ring (as many as fit), and waits on if
 * other threads read entries meanwhile (kevent.7). Returns the number of
 * unread entries, fewer than min_nr only on timeout, or -1 with errno set
 * (EAGAIN on an O_NONBLOCK queue with none, EINTR, EINVAL).
 */
static inline int kevent_ring_wait(int fd, unsigned int min_nr, unsigned int max_nr,
				   int64_t timeout_ns)
{
	struct kevent_get_events_arg ge = {
		.min_nr = min_nr,
		.max_nr = max_nr,
		.timeout_ns = timeout_ns,
		.events = 0,
		.flags = KEVENT_GET_RING,
	};

	return ioctl(fd, KEVENT_IOC_GET_EVENTS, &ge);
}

#endif /* _KEVENT_H */
