/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The fsnotify marks of KEVENT_INODE requests: sys/inode.c, called from
 * sys/inode.rs.
 */
#ifndef KEVENT_SYS_INODE_H
#define KEVENT_SYS_INODE_H

#include <linux/types.h>

struct file;
struct kevent_inode_mark;

/*
 * Passed to the owner's notify() besides the KEVENT_INODE_* bits: the mark
 * was torn down by fsnotify (the inode was deleted or its file system
 * unmounted), or by kevent_inode_unwatch(). Not a uapi bit.
 */
#define KEVENT_INODE_ENDED	(1U << 30)

/* What a mark calls: notify() under fsnotify's SRCU read lock, in the
 * context of the file-system operation; release() once, when the mark is
 * freed, which drops the reference to the owner that the mark held. */
typedef void (*kevent_inode_notify_t)(const void *owner, u32 events);
typedef void (*kevent_inode_release_t)(const void *owner);

int kevent_inode_init(void);
void kevent_inode_exit(void);
int kevent_inode_watch(struct file *file, const void *owner, kevent_inode_notify_t notify,
		       kevent_inode_release_t release, struct kevent_inode_mark **out);
void kevent_inode_unwatch(struct kevent_inode_mark *mark);

#endif
