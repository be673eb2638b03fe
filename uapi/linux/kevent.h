/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * kevent: a unified event queue for Linux.
 *
 * The user-kernel ABI of /dev/kevent. The values of the 2006 kevent patch
 * series (take12) are kept unchanged, so programs written for it compile;
 * everything added since has a new name and a value take12 never used.
 * docs/kevent.7.md is the reference for every rule stated here in brief.
 */
#ifndef _UAPI_LINUX_KEVENT_H
#define _UAPI_LINUX_KEVENT_H

#include <linux/types.h>
#include <linux/ioctl.h>

/* Event types (struct ukevent.type). */
#define KEVENT_SOCKET		0	/* a socket ready in one direction, with figures */
#define KEVENT_INODE		1	/* file-system notifications of a file or directory */
#define KEVENT_TIMER		2	/* an hrtimer */
#define KEVENT_POLL		3	/* readiness of any file with a poll method */
#define KEVENT_NAIO		4	/* not implemented: EOPNOTSUPP */
#define KEVENT_AIO		5	/* not implemented: EOPNOTSUPP */
#define KEVENT_USER		9	/* made ready by KEVENT_CTL_READY */
#define KEVENT_MAX		10	/* types are below this value */

/* Request flags (struct ukevent.req_flags). */
#define KEVENT_REQ_ONESHOT	0x1	/* remove the request after one delivery */
#define KEVENT_REQ_ET		0x4	/* edge-triggered: once per new readiness */

/* Result flags (struct ukevent.ret_flags), written by the kernel. */
#define KEVENT_RET_BROKEN	0x1	/* failed: positive errno in ret_data[1] */
#define KEVENT_RET_DONE		0x2	/* the entry was processed */
#define KEVENT_RET_EOF		0x4	/* SOCKET: the direction was shut down; INODE: the watch ended */
#define KEVENT_RET_CANCELED	0x8	/* TIMER: its clock was set (KEVENT_TIMER_CANCEL_ON_SET) */

/*
 * KEVENT_SOCKET events (take12's names): a request asks for exactly one.
 * id.raw[0] is the socket's fd; id.raw[1] a low-water mark in bytes for
 * RECV and SEND (0 means 1), 0 for ACCEPT. An event carries in ret_data[0]
 * the bytes a receive returns now (a datagram socket: the next datagram's
 * size), the connections waiting to be accepted, or the free space in the
 * send buffer; in ret_data[1] the socket's pending error (a positive errno,
 * not cleared; 0 if none); KEVENT_RET_EOF in ret_flags once the direction
 * is shut down (for RECV: the peer will send no more).
 */
#define KEVENT_SOCKET_RECV	0x1
#define KEVENT_SOCKET_ACCEPT	0x2
#define KEVENT_SOCKET_SEND	0x4

/*
 * KEVENT_INODE events: take12's CREATE and REMOVE, and what kqueue's
 * EVFILT_VNODE reports. id.raw[0] is an fd of the file or directory (an
 * O_PATH fd works; the caller must be allowed to read the object); it names
 * the object at ADD only: the request watches the object, not the fd, and
 * closing the fd does not remove it. id.raw[1] must be 0. An event carries
 * in ret_data[0] what happened since the last delivery (of the events asked
 * for, and UNMOUNT), in ret_data[1] how many notifications were coalesced
 * into it (saturating at 0xffffffff). KEVENT_RET_EOF in ret_flags: the
 * watch ended (the object was deleted or its file system unmounted), and
 * the request leaves the queue with this event. Entry events (CREATE,
 * REMOVE, MOVED_*) come from directories; the others from either.
 */
#define KEVENT_INODE_CREATE	0x1	/* an entry was created (also link, mkdir, mknod) */
#define KEVENT_INODE_REMOVE	0x2	/* an entry was removed (unlink, rmdir) */
#define KEVENT_INODE_WRITE	0x4	/* the data was modified (write, truncate) */
#define KEVENT_INODE_ATTRIB	0x8	/* mode, owner, times, link count, xattrs */
#define KEVENT_INODE_CLOSE_WRITE 0x10	/* a file opened for writing was closed */
#define KEVENT_INODE_MOVED_FROM	0x20	/* an entry was moved out (or renamed) */
#define KEVENT_INODE_MOVED_TO	0x40	/* an entry was moved in (or renamed) */
#define KEVENT_INODE_DELETE_SELF 0x80	/* the object itself was deleted */
#define KEVENT_INODE_MOVE_SELF	0x100	/* the object itself was moved or renamed */
#define KEVENT_INODE_UNMOUNT	0x200	/* its file system was unmounted: always reported */
#define KEVENT_INODE_ALL	0x3ff

/*
 * KEVENT_TIMER events. take12 programs pass 0 or KEVENT_TIMER_FIRED: both
 * mean "id.raw[0] milliseconds, periodic unless KEVENT_REQ_ONESHOT". A unit
 * may be or'ed in; id.raw[1] is then the first expiry in the same unit
 * (0: one period).
 */
#define KEVENT_TIMER_FIRED	0x1
#define KEVENT_TIMER_UNIT_MS	0x00
#define KEVENT_TIMER_UNIT_US	0x10
#define KEVENT_TIMER_UNIT_NS	0x20
#define KEVENT_TIMER_UNIT_MASK	0x30

/*
 * A timer's clock may be or'ed in too; without one it is CLOCK_MONOTONIC,
 * take12's meaning. With KEVENT_TIMER_ABSTIME the first expiry is a time
 * on that clock, in nanoseconds, read from ret_data on ADD and MODIFY
 * (ret_data[0] the low 32 bits, ret_data[1] the high 32 bits); id.raw[1]
 * must then be 0, and id.raw[0] (the period) may be 0 for a single expiry.
 * KEVENT_TIMER_CANCEL_ON_SET, with KEVENT_TIMER_REALTIME and ABSTIME only
 * (timerfd's TFD_TIMER_CANCEL_ON_SET): when the clock is set, the request
 * is ready at once and its event carries KEVENT_RET_CANCELED.
 */
#define KEVENT_TIMER_MONOTONIC	0x000
#define KEVENT_TIMER_REALTIME	0x100
#define KEVENT_TIMER_BOOTTIME	0x200
#define KEVENT_TIMER_TAI	0x300
#define KEVENT_TIMER_CLOCK_MASK	0x300
#define KEVENT_TIMER_ABSTIME	0x400
#define KEVENT_TIMER_CANCEL_ON_SET 0x800

/* KEVENT_POLL events: the same values as the kernel's POLL* bits. */
#define KEVENT_POLL_POLLIN	0x0001
#define KEVENT_POLL_POLLPRI	0x0002
#define KEVENT_POLL_POLLOUT	0x0004
#define KEVENT_POLL_POLLERR	0x0008
#define KEVENT_POLL_POLLHUP	0x0010
#define KEVENT_POLL_POLLNVAL	0x0020
#define KEVENT_POLL_POLLRDNORM	0x0040
#define KEVENT_POLL_POLLRDBAND	0x0080
#define KEVENT_POLL_POLLWRNORM	0x0100
#define KEVENT_POLL_POLLWRBAND	0x0200
#define KEVENT_POLL_POLLMSG	0x0400
#define KEVENT_POLL_POLLREMOVE	0x1000
#define KEVENT_POLL_POLLRDHUP	0x2000	/* the peer shut down writing (epoll's EPOLLRDHUP) */

/* KEVENT_AIO events (take12 name; the type is not implemented). */
#define KEVENT_AIO_BIO		0x1

/* ctl commands (struct kevent_ctl_arg.cmd). */
#define KEVENT_CTL_ADD		0
#define KEVENT_CTL_REMOVE	1
#define KEVENT_CTL_MODIFY	2
#define KEVENT_CTL_INIT		3	/* returns the fd of a new queue */
#define KEVENT_CTL_READY	4	/* marks KEVENT_USER requests ready */

/* The most entries one ctl call takes; more is EINVAL. */
#define KEVENT_CTL_MAX_NUM	4096

struct kevent_id {
	__u32 raw[2];
};

/* One request as the program registers it and one event as it comes back. */
struct ukevent {
	struct kevent_id id;	/* POLL, INODE: raw[0] = fd. SOCKET: fd, low-water mark. TIMER: period, first expiry */
	__u32 type;		/* KEVENT_* type */
	__u32 event;		/* per-type mask */
	__u32 req_flags;	/* KEVENT_REQ_* */
	__u32 ret_flags;	/* KEVENT_RET_*, written by the kernel */
	__u32 ret_data[2];	/* written by the kernel; read by READY, and by an ABSTIME timer */
	union {
		__u32 user[2];	/* the caller's cookie, never read */
		__u64 ptr;	/* a __u64, so 32-bit callers share the layout */
	};
};

/* Argument of KEVENT_IOC_CTL. */
struct kevent_ctl_arg {
	__u32 cmd;		/* KEVENT_CTL_* */
	__u32 num;		/* entries at events, at most KEVENT_CTL_MAX_NUM */
	__u64 events;		/* user pointer to struct ukevent[num] */
	__u32 flags;		/* must be 0 */
	__u32 __reserved;	/* must be 0 */
};

/* Argument of KEVENT_IOC_GET_EVENTS. */
struct kevent_get_events_arg {
	__u32 min_nr;		/* wait until this many are ready */
	__u32 max_nr;		/* copy at most this many, at least 1 */
	__s64 timeout_ns;	/* < 0: forever, 0: never block */
	__u64 events;		/* user pointer to struct ukevent[max_nr]; 0 with KEVENT_GET_RING */
	__u32 flags;		/* 0 or KEVENT_GET_RING */
	__u32 __reserved;	/* must be 0 */
};

/*
 * Argument of KEVENT_IOC_PGET_EVENTS: get-events with a signal mask, as
 * epoll_pwait() and ppoll() wait. While the call waits, the caller's signal
 * mask is replaced by *sigmask, atomically; it is restored on return, after
 * a signal that interrupted the wait (EINTR) has been handled.
 */
struct kevent_pget_events_arg {
	struct kevent_get_events_arg get;
	__u64 sigmask;		/* user pointer to a sigset_t; 0: keep the mask */
	__u32 sigsetsize;	/* sizeof(sigset_t) (8) with a sigmask; ignored without */
	__u32 __reserved;	/* must be 0 */
};

/* Get-events flags (struct kevent_get_events_arg.flags). */
#define KEVENT_GET_RING		0x1	/* move events into the queue's ring, wait for entries there */

/*
 * The event ring (docs/kevent.7.md, "The event ring"): shared memory in
 * which the kernel writes events and the program reads them without a
 * system call. KEVENT_IOC_RING_SETUP gives a queue a ring of `entries`
 * entries, once; mmap(2) of the queue fd, MAP_SHARED at offset 0, maps its
 * `size` bytes: a struct kevent_ring, then the entries.
 *
 * The kernel writes entries at tail and publishes them with a release
 * store of tail; the program reads them from head on and frees them with
 * a release store of head (helpers in include/kevent.h). Entries the
 * kernel cannot write at once (the ring was full, or their type is
 * written only by a call) wait on the queue, and KEVENT_RING_BACKLOG says
 * so: get-events with KEVENT_GET_RING moves them in. No event is lost.
 */
#define KEVENT_RING_MIN_ENTRIES	2
#define KEVENT_RING_MAX_ENTRIES	32768

/* Argument of KEVENT_IOC_RING_SETUP. */
struct kevent_ring_setup {
	__u32 entries;		/* a power of two, KEVENT_RING_MIN_ENTRIES..MAX_ENTRIES */
	__u32 flags;		/* must be 0 */
	__u32 size;		/* written by the kernel: the bytes to mmap */
	__u32 __reserved;	/* must be 0 */
};

/* One event in the ring: what a delivered struct ukevent carries. */
struct kevent_ring_entry {
	struct kevent_id id;
	__u32 type;
	__u32 ret_flags;	/* KEVENT_RET_DONE, and the type's KEVENT_RET_* */
	__u32 ret_data[2];
	union {
		__u32 user[2];
		__u64 ptr;
	};
};

/* Ring flags (struct kevent_ring.flags), written by the kernel. */
#define KEVENT_RING_BACKLOG	0x1	/* events wait outside the ring: get-events with KEVENT_GET_RING moves them in */

/* The start of the mapping. head and tail are free-running counters. */
struct kevent_ring {
	__u32 head;		/* the next entry to read: written by the program */
	__u32 __pad0[15];	/* head and tail on cache lines of their own */
	__u32 tail;		/* one past the last entry written: written by the kernel */
	__u32 mask;		/* entries - 1 */
	__u32 flags;		/* KEVENT_RING_* */
	__u32 __pad1[13];
	struct kevent_ring_entry entries[];	/* at offset 128 */
};

/* 0xB9: unused in Documentation/userspace-api/ioctl/ioctl-number.rst. */
#define KEVENT_IOC_MAGIC	0xB9
#define KEVENT_IOC_CTL		_IOW(KEVENT_IOC_MAGIC, 0x01, struct kevent_ctl_arg)
#define KEVENT_IOC_GET_EVENTS	_IOW(KEVENT_IOC_MAGIC, 0x02, struct kevent_get_events_arg)
#define KEVENT_IOC_PGET_EVENTS	_IOW(KEVENT_IOC_MAGIC, 0x03, struct kevent_pget_events_arg)
#define KEVENT_IOC_RING_SETUP	_IOWR(KEVENT_IOC_MAGIC, 0x04, struct kevent_ring_setup)

#ifndef __KERNEL__
_Static_assert(sizeof(struct ukevent) == 40, "struct ukevent is 40 bytes on every ABI");
_Static_assert(sizeof(struct kevent_ctl_arg) == 24, "kevent_ctl_arg layout");
_Static_assert(sizeof(struct kevent_get_events_arg) == 32, "kevent_get_events_arg layout");
_Static_assert(sizeof(struct kevent_pget_events_arg) == 48, "kevent_pget_events_arg layout");
_Static_assert(sizeof(struct kevent_ring_setup) == 16, "kevent_ring_setup layout");
_Static_assert(sizeof(struct kevent_ring_entry) == 32, "kevent_ring_entry layout");
_Static_assert(sizeof(struct kevent_ring) == 128, "kevent_ring layout");
#endif

#endif /* _UAPI_LINUX_KEVENT_H */
