// SPDX-License-Identifier: GPL-2.0
/*
 * Copies of struct ukevent and of the ioctl arguments to and from user
 * memory, word by word.
 *
 * copy_to_user() of one event is a call into _copy_to_user with its own
 * user-access section (STAC and CLAC where the CPU has SMAP, which QEMU's
 * -cpu max has and emulates at a cost). Collection instead writes a batch
 * of events in one section, five 64-bit stores per event, as epoll stores
 * its events with __put_user; kevent_ctl reads and writes back its entries
 * a group at a time the same way. Rust on 6.12 cannot emit the exception-table
 * entries unsafe_put_user() needs, hence C.
 */
#include <linux/build_bug.h>
#include <linux/kevent.h>
#include <linux/uaccess.h>

#define UKEVENT_WORDS (sizeof(struct ukevent) / sizeof(u64))
static_assert(sizeof(struct ukevent) == 5 * sizeof(u64));
static_assert(__alignof__(struct ukevent) == sizeof(u64));

unsigned int kevent_put_ukevents(struct ukevent __user *dst, const struct ukevent *src,
				 unsigned int n);
unsigned int kevent_get_ukevents(struct ukevent *dst, const struct ukevent __user *src,
				 unsigned int n);

/*
 * Writes the n events at src to dst, in one user-access section. Returns
 * how many were written whole: n, or fewer if a write faulted.
 */
unsigned int kevent_put_ukevents(struct ukevent __user *dst, const struct ukevent *src,
				 unsigned int n)
{
	const u64 *from = (const u64 *)src;
	u64 __user *to = (u64 __user *)dst;
	size_t i, words = (size_t)n * UKEVENT_WORDS;

	/*
	 * As fs/select.c: a masked pointer (one past user space becomes one
	 * that faults) needs no speculation barrier, which access_ok() would.
	 * The words are written in order from the start, as masking requires.
	 */
	if (can_do_masked_user_access()) {
		to = masked_user_access_begin(to);
	} else if (!user_write_access_begin(dst, words * sizeof(u64))) {
		/* The array runs past the end of user space: what fits. */
		for (i = 0; n > 1 && i < n; i++)
			if (!kevent_put_ukevents(dst + i, src + i, 1))
				break;
		return n > 1 ? i : 0;
	}
	/* An event per step, its five words unrolled. */
	for (i = 0; i < n; i++, from += UKEVENT_WORDS, to += UKEVENT_WORDS) {
		unsafe_put_user(from[0], &to[0], fault);
		unsafe_put_user(from[1], &to[1], fault);
		unsafe_put_user(from[2], &to[2], fault);
		unsafe_put_user(from[3], &to[3], fault);
		unsafe_put_user(from[4], &to[4], fault);
	}
	user_write_access_end();
	return n;
fault:
	user_write_access_end();
	return i;
}

/*
 * Reads the n events at src into dst, in one user-access section. Returns
 * how many were read whole: n, or fewer if a read faulted.
 */
unsigned int kevent_get_ukevents(struct ukevent *dst, const struct ukevent __user *src,
				 unsigned int n)
{
	u64 *to = (u64 *)dst;
	const u64 __user *from = (const u64 __user *)src;
	size_t i, words = (size_t)n * UKEVENT_WORDS;

	/* As kevent_put_ukevents(), reading instead of writing. */
	if (can_do_masked_user_access()) {
		from = masked_user_access_begin(from);
	} else if (!user_read_access_begin(src, words * sizeof(u64))) {
		for (i = 0; n > 1 && i < n; i++)
			if (!kevent_get_ukevents(dst + i, src + i, 1))
				break;
		return n > 1 ? i : 0;
	}
	for (i = 0; i < n; i++, from += UKEVENT_WORDS, to += UKEVENT_WORDS) {
		unsafe_get_user(to[0], &from[0], fault);
		unsafe_get_user(to[1], &from[1], fault);
		unsafe_get_user(to[2], &from[2], fault);
		unsafe_get_user(to[3], &from[3], fault);
		unsafe_get_user(to[4], &from[4], fault);
	}
	user_read_access_end();
	return n;
fault:
	user_read_access_end();
	return i;
}

/*
 * Read an ioctl's argument of WORDS 64-bit words (all of them are made of
 * whole words) in one user-access section. Return 0, or -EFAULT if a read
 * faulted.
 *
 * copy_from_user() of the 32-byte argument of every get-events call goes
 * through its checks, then rep_movs_alternative, which without FSRM loops
 * a word at a time. One function per size, so that the compiler unrolls
 * the reads: a loop over a count passed in cost nearly what the copy did.
 */
#define DEFINE_KEVENT_GET_ARG(WORDS)							\
int kevent_get_arg##WORDS(u64 *dst, const void __user *src);				\
int kevent_get_arg##WORDS(u64 *dst, const void __user *src)				\
{											\
	const u64 __user *from = src;							\
	unsigned int i;									\
											\
	if (can_do_masked_user_access())						\
		from = masked_user_access_begin(from);					\
	else if (!user_read_access_begin(from, WORDS * sizeof(u64)))			\
		return -EFAULT;								\
	for (i = 0; i < WORDS; i++)							\
		unsafe_get_user(dst[i], &from[i], fault);				\
	user_read_access_end();								\
	return 0;									\
fault:											\
	user_read_access_end();								\
	return -EFAULT;									\
}

DEFINE_KEVENT_GET_ARG(1)	/* a signal mask */
DEFINE_KEVENT_GET_ARG(2)	/* struct kevent_ring_setup */
DEFINE_KEVENT_GET_ARG(3)	/* struct kevent_ctl_arg */
DEFINE_KEVENT_GET_ARG(4)	/* struct kevent_get_events_arg */
DEFINE_KEVENT_GET_ARG(6)	/* struct kevent_pget_events_arg */
