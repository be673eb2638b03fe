// SPDX-License-Identifier: GPL-2.0
/*
 * The fsnotify marks of KEVENT_INODE requests, behind sys/inode.rs: 6.12's
 * Rust bindings have no fsnotify groups, marks or callbacks.
 *
 * One fsnotify group serves the module. It allows any number of marks on
 * one inode (FSNOTIFY_GROUP_DUPS): each request has a mark of its own, so
 * requests of one queue or of several on one inode never share state.
 *
 * A mark holds a reference to its owner (the request) from
 * kevent_inode_watch() until fsnotify frees the mark, which it does an
 * SRCU grace period after the last reference to the mark is dropped: a
 * notification that runs while the request is being removed still finds
 * it. The mark pins the inode only while it is attached; fsnotify detaches
 * it when the inode is deleted or its file system unmounted (telling the
 * owner: KEVENT_INODE_ENDED), so a watch never blocks an unmount.
 */
#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/fsnotify_backend.h>
#include <linux/hash.h>
#include <linux/hashtable.h>
#include <linux/kevent.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

#include "inode.h"

struct kevent_inode_mark {
	struct fsnotify_mark fsn;
	const void *owner;
	kevent_inode_notify_t notify;
	kevent_inode_release_t release;
	/* The watch this mark counts (see take_watch()), until put_watch(). */
	const struct inode *inode;
	kuid_t uid;
	atomic_t counted;
};

/*
 * One user's watches of one inode are at most this many (ENOSPC). Every
 * notification of the inode, whoever causes it (a write to /dev/null...),
 * calls each mark, and adding or removing a mark recomputes the inode's
 * mask over all of them; without a bound a user could slow down everyone's
 * use of a file it may only read. inotify's bound is the same: one mark per
 * inode per instance, 128 instances per user.
 */
#define KEVENT_INODE_WATCHES_PER_USER 128

/* How many watches of an inode a user holds. */
struct kevent_inode_user {
	struct hlist_node node;
	const struct inode *inode;	/* a key only: never dereferenced */
	kuid_t uid;
	unsigned int watches;
};

static DEFINE_HASHTABLE(kevent_inode_users, 8);
static DEFINE_SPINLOCK(kevent_inode_users_lock);

static u32 watcher_key(const struct inode *inode, kuid_t uid)
{
	return hash_ptr(inode, 32) ^ __kuid_val(uid);
}

static struct kevent_inode_user *find_watcher(const struct inode *inode, kuid_t uid)
{
	struct kevent_inode_user *u;

	hash_for_each_possible(kevent_inode_users, u, node, watcher_key(inode, uid))
		if (u->inode == inode && uid_eq(u->uid, uid))
			return u;
	return NULL;
}

/* Counts one more watch of inode by uid: 0, -ENOSPC or -ENOMEM. */
static int take_watch(const struct inode *inode, kuid_t uid)
{
	struct kevent_inode_user *fresh = kmalloc(sizeof(*fresh), GFP_KERNEL_ACCOUNT), *u;
	int err = 0;

	spin_lock(&kevent_inode_users_lock);
	u = find_watcher(inode, uid);
	if (!u && fresh) {
		u = fresh;
		fresh = NULL;
		*u = (struct kevent_inode_user){ .inode = inode, .uid = uid };
		hash_add(kevent_inode_users, &u->node, watcher_key(inode, uid));
	}
	if (!u)
		err = -ENOMEM;
	else if (u->watches >= KEVENT_INODE_WATCHES_PER_USER)
		err = -ENOSPC;
	else
		u->watches++;
	spin_unlock(&kevent_inode_users_lock);
	kfree(fresh);
	return err;
}

/* The watch of mark is gone: counted down once, however often called. */
static void put_watch(struct kevent_inode_mark *mark)
{
	struct kevent_inode_user *u, *gone = NULL;

	if (!atomic_xchg(&mark->counted, 0))
		return;
	spin_lock(&kevent_inode_users_lock);
	u = find_watcher(mark->inode, mark->uid);
	if (!WARN_ON_ONCE(!u || !u->watches) && !--u->watches) {
		hash_del(&u->node);
		gone = u;
	}
	spin_unlock(&kevent_inode_users_lock);
	kfree(gone);
}

/*
 * The events a mark listens to: every one a request may ask for. The
 * request applies its own mask, so that MODIFY can widen it: a wider mark
 * mask would need fsnotify_recalc_mask(), which is not exported.
 * FS_UNMOUNT is always reported, as inotify reports IN_UNMOUNT.
 */
#define KEVENT_FS_EVENTS                                                        \
	(FS_CREATE | FS_DELETE | FS_MODIFY | FS_ATTRIB | FS_CLOSE_WRITE |      \
	 FS_MOVED_FROM | FS_MOVED_TO | FS_DELETE_SELF | FS_MOVE_SELF | FS_UNMOUNT)

static struct fsnotify_group *kevent_group;

static struct kevent_inode_mark *to_mark(struct fsnotify_mark *fsn)
{
	return container_of(fsn, struct kevent_inode_mark, fsn);
}

/* fsnotify's FS_* bits as KEVENT_INODE_* bits. */
static u32 kevent_events(u32 mask)
{
	static const struct {
		u32 fs, kevent;
	} map[] = {
		{ FS_CREATE, KEVENT_INODE_CREATE },
		{ FS_DELETE, KEVENT_INODE_REMOVE },
		{ FS_MODIFY, KEVENT_INODE_WRITE },
		{ FS_ATTRIB, KEVENT_INODE_ATTRIB },
		{ FS_CLOSE_WRITE, KEVENT_INODE_CLOSE_WRITE },
		{ FS_MOVED_FROM, KEVENT_INODE_MOVED_FROM },
		{ FS_MOVED_TO, KEVENT_INODE_MOVED_TO },
		{ FS_DELETE_SELF, KEVENT_INODE_DELETE_SELF },
		{ FS_MOVE_SELF, KEVENT_INODE_MOVE_SELF },
		{ FS_UNMOUNT, KEVENT_INODE_UNMOUNT },
	};
	u32 events = 0;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(map); i++)
		if (mask & map[i].fs)
			events |= map[i].kevent;
	return events;
}

static int kevent_handle_inode_event(struct fsnotify_mark *fsn, u32 mask, struct inode *inode,
				     struct inode *dir, const struct qstr *name, u32 cookie)
{
	struct kevent_inode_mark *mark = to_mark(fsn);
	u32 events = kevent_events(mask);

	if (events)
		mark->notify(mark->owner, events);
	return 0;
}

/* The mark was detached: by fsnotify, the watch ended; by
 * kevent_inode_unwatch(), the owner has left its queue and ignores it. */
static void kevent_freeing_mark(struct fsnotify_mark *fsn, struct fsnotify_group *group)
{
	struct kevent_inode_mark *mark = to_mark(fsn);

	put_watch(mark);
	mark->notify(mark->owner, KEVENT_INODE_ENDED);
}

static void kevent_free_mark(struct fsnotify_mark *fsn)
{
	struct kevent_inode_mark *mark = to_mark(fsn);

	mark->release(mark->owner);
	kfree(mark);
}

static const struct fsnotify_ops kevent_fsnotify_ops = {
	.handle_inode_event = kevent_handle_inode_event,
	.freeing_mark = kevent_freeing_mark,
	.free_mark = kevent_free_mark,
};

int kevent_inode_init(void)
{
	struct fsnotify_group *group;

	group = fsnotify_alloc_group(&kevent_fsnotify_ops, FSNOTIFY_GROUP_DUPS);
	if (IS_ERR(group))
		return PTR_ERR(group);
	kevent_group = group;
	return 0;
}

/*
 * Module exit: no queue is open, so every mark was unwatched. Marks are
 * freed by fsnotify's reaper, later; wait for it (each free calls this
 * module's code and holds a reference to the group), then drop the group.
 */
void kevent_inode_exit(void)
{
	fsnotify_wait_marks_destroyed();
	/* Every mark was detached, each counting its watch down. */
	WARN_ON(!hash_empty(kevent_inode_users));
	fsnotify_put_group(kevent_group);
}

/*
 * Watches the inode of @file for @owner, whose reference passes to the mark
 * in every case: on failure it is released before this returns. @file may
 * be an O_PATH file; the caller must be allowed to read the inode, as
 * inotify_add_watch() requires, and hold fewer than
 * KEVENT_INODE_WATCHES_PER_USER watches of it (-ENOSPC). The mark holds no
 * reference to @file.
 * Returns 0 and the mark in *@out, or a negative errno.
 */
int kevent_inode_watch(struct file *file, const void *owner, kevent_inode_notify_t notify,
		       kevent_inode_release_t release, struct kevent_inode_mark **out)
{
	struct inode *inode = file_inode(file);
	struct kevent_inode_mark *mark;
	int err;

	err = inode_permission(file_mnt_idmap(file), inode, MAY_READ);
	if (err)
		goto fail;
	mark = kzalloc(sizeof(*mark), GFP_KERNEL_ACCOUNT);
	if (!mark) {
		err = -ENOMEM;
		goto fail;
	}
	mark->inode = inode;
	mark->uid = current_uid();
	err = take_watch(inode, mark->uid);
	if (err) {
		kfree(mark);
		goto fail;
	}
	/* Counted before it is attached: detached at once, it is counted down. */
	atomic_set(&mark->counted, 1);
	fsnotify_init_mark(&mark->fsn, kevent_group);
	mark->fsn.mask = KEVENT_FS_EVENTS;
	mark->owner = owner;
	mark->notify = notify;
	mark->release = release;
	err = fsnotify_add_inode_mark(&mark->fsn, inode, 0);
	if (err) {
		/* Never attached: the put frees it at once, releasing the owner. */
		put_watch(mark);
		fsnotify_put_mark(&mark->fsn);
		return err;
	}
	*out = mark;
	return 0;
fail:
	release(owner);
	return err;
}

/*
 * Stops the watch: detaches the mark if fsnotify has not (notify() sees
 * KEVENT_INODE_ENDED then) and drops the caller's reference. A notification
 * may still be running; the owner's reference goes when the mark is freed.
 * May sleep.
 */
void kevent_inode_unwatch(struct kevent_inode_mark *mark)
{
	fsnotify_destroy_mark(&mark->fsn, kevent_group);
	fsnotify_put_mark(&mark->fsn);
}
