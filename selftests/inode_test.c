// SPDX-License-Identifier: GPL-2.0
/*
 * KEVENT_INODE: file-system notifications of a file or directory. Every
 * event kind and the VFS operations that send it (include/linux/fsnotify.h
 * says which operation sends which FS_* event); only the asked bits;
 * coalescing of the notifications that arrive before collection, with
 * their exact count; O_PATH fds; a request that outlives its fd; the end
 * of the watch (the object deleted, its file system unmounted) with
 * KEVENT_RET_EOF; many requests on one inode, in one queue and in
 * several; one-shot, edge-triggered, MODIFY; what is refused; closing the
 * queue with live requests.
 *
 * Each test works in a scratch directory of its own under /tmp (a tmpfs in
 * the VM), made by mkdtemp and removed in the teardown. Notifications are
 * sent synchronously by the system call that causes them, so the event is
 * ready when the call returns: every check collects with a zero timeout.
 * Unmount tests mount a tmpfs of their own (the tests run as root).
 */
#define _GNU_SOURCE
#include <ftw.h>
#include <grp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sys/xattr.h>

#include "kevent_test.h"
#include "kselftest_harness.h"

#define COOKIE 0x1d0de00000000000ULL
#define NOBODY 65534
#define ALL KEVENT_INODE_ALL

#define CREATE KEVENT_INODE_CREATE
#define REMOVE KEVENT_INODE_REMOVE
#define WRITE KEVENT_INODE_WRITE
#define ATTRIB KEVENT_INODE_ATTRIB
#define CLOSE_WRITE KEVENT_INODE_CLOSE_WRITE
#define MOVED_FROM KEVENT_INODE_MOVED_FROM
#define MOVED_TO KEVENT_INODE_MOVED_TO
#define DELETE_SELF KEVENT_INODE_DELETE_SELF
#define MOVE_SELF KEVENT_INODE_MOVE_SELF
#define UNMOUNT KEVENT_INODE_UNMOUNT

#define DONE KEVENT_RET_DONE
#define LAST (KEVENT_RET_DONE | KEVENT_RET_EOF)	/* the watch's end */

FIXTURE(fs)
{
	int q;
	char dir[64];		/* the scratch directory */
	char mnt[96];		/* a tmpfs mounted by the test, or "" */
};

FIXTURE_SETUP(fs)
{
	self->dir[0] = 0;
	self->mnt[0] = 0;
	self->q = open_queue();
	if (self->q < 0 && errno == ENOENT)
		SKIP(return, KEVENT_DEVICE " is missing: is the module loaded?");
	ASSERT_GE(self->q, 0);
	strcpy(self->dir, "/tmp/kevent-inode-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	remove(path);
	return 0;
}

FIXTURE_TEARDOWN(fs)
{
	if (self->q >= 0)
		close(self->q);
	/* A test that failed before its umount leaves its tmpfs behind. */
	if (self->mnt[0])
		umount2(self->mnt, MNT_DETACH);
	if (self->dir[0])
		nftw(self->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/*
 * dir/name, in a buffer of its own: each test process makes fewer than 64
 * paths, so one stays valid for the whole test.
 */
static const char *in(const char *dir, const char *name)
{
	static char buf[64][192];
	static unsigned int next;
	char *p = buf[next++ % 64];
	size_t a = strlen(dir), b = strlen(name);

	if (a + b + 2 > sizeof(buf[0]))
		abort();
	/* memmove: dir may be an earlier path of this ring. */
	memmove(p, dir, a);
	p[a] = '/';
	memmove(p + a + 1, name, b + 1);
	return p;
}

/* Creates a regular file (and closes it: no open fd is left behind). */
static int make_file(const char *path, mode_t mode)
{
	int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, mode);

	if (fd < 0)
		return -1;
	/* The mode exactly, whatever the umask. */
	if (fchmod(fd, mode)) {
		close(fd);
		return -1;
	}
	return close(fd);
}

/* n writes of one byte each through a new fd, which is then closed. */
static int write_n(const char *path, int n)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);

	if (fd < 0)
		return -1;
	for (int i = 0; i < n; i++)
		if (write(fd, "k", 1) != 1) {
			close(fd);
			return -1;
		}
	return close(fd);
}

/* One request, as added: what an event of it must echo. */
struct req {
	int fd;
	__u32 event;
	__u32 flags;
	__u64 cookie;
};

static struct ukevent uk_of(const struct req *r)
{
	return uk_make(KEVENT_INODE, r->fd, 0, r->event, r->flags, r->cookie);
}

static int add(int q, const struct req *r)
{
	struct ukevent uk = uk_of(r);

	return ctl1(q, KEVENT_CTL_ADD, &uk);
}

static int remove_req(int q, const struct req *r)
{
	struct ukevent uk = uk_of(r);

	return ctl1(q, KEVENT_CTL_REMOVE, &uk);
}

static int modify(int q, struct req *r, __u32 event)
{
	struct ukevent uk;

	r->event = event;
	uk = uk_of(r);
	return ctl1(q, KEVENT_CTL_MODIFY, &uk);
}

/*
 * Opens `path` with `oflags` and adds a request on the fd to `q`, with a
 * cookie of its own. The fd stays open: the caller closes it or not.
 */
static struct req watch(struct __test_metadata *_metadata, int q, const char *path, int oflags,
			__u32 event, __u32 flags)
{
	static unsigned int n;
	struct req r = { .event = event, .flags = flags };

	r.fd = open(path, oflags | O_CLOEXEC);
	ASSERT_GE(r.fd, 0) TH_LOG("open %s: %s", path, strerror(errno));
	r.cookie = COOKIE | (__u64)++n << 32 | (__u32)r.fd;
	ASSERT_EQ(0, add(q, &r)) TH_LOG("ADD of %s", path);
	return r;
}

#define WATCH(q, path, oflags, event) watch(_metadata, q, path, oflags, event, 0)
#define WATCH_F(q, path, oflags, event, flags) watch(_metadata, q, path, oflags, event, flags)

/* Checks one event against the request it must come from. */
static void check_event(struct __test_metadata *_metadata, int line, const struct ukevent *ev,
			const struct req *r, __u32 bits, __u32 count, __u32 ret_flags)
{
	EXPECT_EQ(KEVENT_INODE, ev->type) TH_LOG("line %d", line);
	EXPECT_EQ((__u32)r->fd, ev->id.raw[0]) TH_LOG("line %d", line);
	EXPECT_EQ(0u, ev->id.raw[1]) TH_LOG("line %d", line);
	EXPECT_EQ(r->event, ev->event) TH_LOG("line %d", line);
	EXPECT_EQ(r->flags, ev->req_flags) TH_LOG("line %d", line);
	EXPECT_EQ(r->cookie, ev->ptr) TH_LOG("line %d", line);
	EXPECT_EQ(ret_flags, ev->ret_flags) TH_LOG("line %d", line);
	EXPECT_EQ(bits, ev->ret_data[0]) TH_LOG("line %d: bits", line);
	EXPECT_EQ(count, ev->ret_data[1]) TH_LOG("line %d: count", line);
}

/* The queue holds exactly one event now, of request r, as given. */
static void expect_one(struct __test_metadata *_metadata, int line, int q, const struct req *r,
		       __u32 bits, __u32 count, __u32 ret_flags)
{
	struct ukevent ev[4];
	int n = get_ns(q, 0, 4, 0, ev);

	ASSERT_EQ(1, n) TH_LOG("line %d: %d events ready, one expected", line, n);
	check_event(_metadata, line, &ev[0], r, bits, count, ret_flags);
}

#define EXPECT_ONE(q, r, bits, count, ret_flags) \
	expect_one(_metadata, __LINE__, q, &(r), bits, count, ret_flags)

/* Nothing is ready on q. */
#define EXPECT_NONE(q)								\
	do {									\
		struct ukevent __ev[4];						\
		int __n;							\
		memset(__ev, 0, sizeof(__ev));					\
		__n = get_ns(q, 0, 4, 0, __ev);					\
		EXPECT_EQ(0, __n) TH_LOG("%d unexpected events, the first: bits %#x count %u " \
					  "flags %#x cookie %#llx", __n, __ev[0].ret_data[0], \
					  __ev[0].ret_data[1], __ev[0].ret_flags,	\
					  (unsigned long long)__ev[0].ptr);	\
	} while (0)

/* The event of request r among the n collected at ev, or NULL. */
static const struct ukevent *find(const struct ukevent *ev, int n, const struct req *r)
{
	for (int i = 0; i < n; i++)
		if (ev[i].ptr == r->cookie)
			return &ev[i];
	return NULL;
}

#define EXPECT_IN(ev, n, r, bits, count, ret_flags)					\
	do {										\
		const struct ukevent *__e = find(ev, n, &(r));				\
		EXPECT_NE(NULL, __e) TH_LOG("no event of cookie %#llx",		\
					    (unsigned long long)(r).cookie);		\
		if (__e)								\
			check_event(_metadata, __LINE__, __e, &(r), bits, count, ret_flags); \
	} while (0)

/* ---- files ------------------------------------------------------------ */

TEST_F(fs, a_write_is_write)
{
	const char *f = in(self->dir, "f");
	struct req r;

	ASSERT_EQ(0, make_file(f, 0644));
	r = WATCH(self->q, f, O_RDONLY, WRITE);
	EXPECT_NONE(self->q);
	ASSERT_EQ(0, write_n(f, 1));
	EXPECT_ONE(self->q, r, WRITE, 1, DONE);
	/* Delivered means cleared: nothing new, no event. */
	EXPECT_NONE(self->q);
	close(r.fd);
}

TEST_F(fs, writes_before_collection_are_one_event_with_their_count)
{
	const char *f = in(self->dir, "f");
	struct req r;

	ASSERT_EQ(0, make_file(f, 0644));
	r = WATCH(self->q, f, O_RDONLY, WRITE);
	ASSERT_EQ(0, write_n(f, 5));
	EXPECT_ONE(self->q, r, WRITE, 5, DONE);
	EXPECT_NONE(self->q);
	ASSERT_EQ(0, write_n(f, 1));
	EXPECT_ONE(self->q, r, WRITE, 1, DONE);
	/* Different kinds merge too: the bits or'ed, the counts summed. */
	ASSERT_EQ(0, modify(self->q, &r, WRITE | ATTRIB));
	ASSERT_EQ(0, write_n(f, 2));
	ASSERT_EQ(0, chmod(f, 0600));
	ASSERT_EQ(0, write_n(f, 1));
	EXPECT_ONE(self->q, r, WRITE | ATTRIB, 4, DONE);
	close(r.fd);
}

/*
 * Each truncation is one FS_MODIFY (fsnotify_change: ATTR_SIZE, and
 * ATTR_MTIME without ATTR_ATIME): ftruncate, truncate, and an open with
 * O_TRUNC of a file that exists (handle_truncate).
 */
TEST_F(fs, truncation_is_write)
{
	const char *f = in(self->dir, "f");
	struct req r;
	int fd;

	ASSERT_EQ(0, make_file(f, 0644));
	fd = open(f, O_WRONLY | O_CLOEXEC);
	ASSERT_GE(fd, 0);
	r = WATCH(self->q, f, O_RDONLY, WRITE);
	ASSERT_EQ(0, ftruncate(fd, 100));
	EXPECT_ONE(self->q, r, WRITE, 1, DONE);
	ASSERT_EQ(0, truncate(f, 10));
	EXPECT_ONE(self->q, r, WRITE, 1, DONE);
	close(fd);
	EXPECT_NONE(self->q);	/* CLOSE_WRITE was not asked for */
	fd = open(f, O_WRONLY | O_TRUNC | O_CLOEXEC);
	ASSERT_GE(fd, 0);
	EXPECT_ONE(self->q, r, WRITE, 1, DONE);
	close(fd);
	EXPECT_NONE(self->q);
	close(r.fd);
}

TEST_F(fs, chmod_chown_and_utimes_are_attrib)
{
	const char *f = in(self->dir, "f");
	struct timespec both[2] = { { .tv_sec = 1000 }, { .tv_sec = 2000 } };
	struct timespec mtime_only[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_sec = 3000 } };
	struct req r;

	ASSERT_EQ(0, make_file(f, 0644));
	r = WATCH(self->q, f, O_RDONLY, ATTRIB | WRITE);
	ASSERT_EQ(0, chmod(f, 0640));
	EXPECT_ONE(self->q, r, ATTRIB, 1, DONE);
	ASSERT_EQ(0, fchmodat(AT_FDCWD, f, 0644, 0));
	EXPECT_ONE(self->q, r, ATTRIB, 1, DONE);
	/* A chown to the same owner is a change of attributes all the same. */
	ASSERT_EQ(0, chown(f, 0, 0));
	EXPECT_ONE(self->q, r, ATTRIB, 1, DONE);
	ASSERT_EQ(0, utimensat(AT_FDCWD, f, NULL, 0));
	EXPECT_ONE(self->q, r, ATTRIB, 1, DONE);
	ASSERT_EQ(0, utimensat(AT_FDCWD, f, both, 0));
	EXPECT_ONE(self->q, r, ATTRIB, 1, DONE);
	/*
	 * The modification time alone is a modification, as inotify has it
	 * (fsnotify_change: ATTR_MTIME without ATTR_ATIME is FS_MODIFY).
	 */
	ASSERT_EQ(0, utimensat(AT_FDCWD, f, mtime_only, 0));
	EXPECT_ONE(self->q, r, WRITE, 1, DONE);
	/* Three of them before collection: one event. */
	ASSERT_EQ(0, chmod(f, 0600));
	ASSERT_EQ(0, chown(f, 0, 0));
	ASSERT_EQ(0, utimensat(AT_FDCWD, f, NULL, 0));
	EXPECT_ONE(self->q, r, ATTRIB, 3, DONE);
	close(r.fd);
}

/* link() and unlink() change the file's link count: fsnotify_link_count. */
TEST_F(fs, a_link_count_change_is_attrib)
{
	const char *f = in(self->dir, "f"), *g = in(self->dir, "g");
	struct req r;

	ASSERT_EQ(0, make_file(f, 0644));
	r = WATCH(self->q, f, O_RDONLY, ATTRIB | DELETE_SELF);
	close(r.fd);
	ASSERT_EQ(0, link(f, g));
	EXPECT_ONE(self->q, r, ATTRIB, 1, DONE);
	/* One name left: not deleted, the watch goes on. */
	ASSERT_EQ(0, unlink(f));
	EXPECT_ONE(self->q, r, ATTRIB, 1, DONE);
	ASSERT_EQ(0, chmod(g, 0600));
	EXPECT_ONE(self->q, r, ATTRIB, 1, DONE);
}

TEST_F(fs, xattr_changes_are_attrib)
{
	const char *f = in(self->dir, "f");
	struct req r;

	ASSERT_EQ(0, make_file(f, 0644));
	if (setxattr(f, "user.kevent", "1", 1, 0) && (errno == EOPNOTSUPP || errno == ENOTSUP))
		SKIP(return, "no user xattrs on /tmp (CONFIG_TMPFS_XATTR)");
	r = WATCH(self->q, f, O_RDONLY, ATTRIB);
	ASSERT_EQ(0, setxattr(f, "user.kevent", "2", 1, 0));
	EXPECT_ONE(self->q, r, ATTRIB, 1, DONE);
	ASSERT_EQ(0, removexattr(f, "user.kevent"));
	EXPECT_ONE(self->q, r, ATTRIB, 1, DONE);
	close(r.fd);
}

/* fsnotify_close: FS_CLOSE_WRITE for an fd opened for writing. */
TEST_F(fs, closing_a_file_opened_for_writing_is_close_write)
{
	const char *f = in(self->dir, "f");
	struct req r, both;
	int fd;

	ASSERT_EQ(0, make_file(f, 0644));
	r = WATCH(self->q, f, O_RDONLY, CLOSE_WRITE);
	/* Read-only: FS_CLOSE_NOWRITE, not asked for (and not a bit). */
	fd = open(f, O_RDONLY | O_CLOEXEC);
	ASSERT_GE(fd, 0);
	close(fd);
	EXPECT_NONE(self->q);
	fd = open(f, O_WRONLY | O_CLOEXEC);
	ASSERT_GE(fd, 0);
	EXPECT_NONE(self->q);	/* opening is no event */
	close(fd);
	EXPECT_ONE(self->q, r, CLOSE_WRITE, 1, DONE);
	fd = open(f, O_RDWR | O_CLOEXEC);
	ASSERT_GE(fd, 0);
	close(fd);
	EXPECT_ONE(self->q, r, CLOSE_WRITE, 1, DONE);
	ASSERT_EQ(0, remove_req(self->q, &r));
	/* Written, then closed: two notifications in one event. */
	both = WATCH(self->q, f, O_RDONLY, WRITE | CLOSE_WRITE);
	ASSERT_EQ(0, write_n(f, 1));
	EXPECT_ONE(self->q, both, WRITE | CLOSE_WRITE, 2, DONE);
	close(r.fd);
	close(both.fd);
}

TEST_F(fs, only_the_asked_bits_are_reported_and_counted)
{
	const char *f = in(self->dir, "f");
	struct req r;

	ASSERT_EQ(0, make_file(f, 0644));
	r = WATCH(self->q, f, O_RDONLY, ATTRIB);
	ASSERT_EQ(0, write_n(f, 3));		/* 3 WRITE, 1 CLOSE_WRITE */
	EXPECT_NONE(self->q);
	ASSERT_EQ(0, write_n(f, 2));
	ASSERT_EQ(0, chmod(f, 0600));
	EXPECT_ONE(self->q, r, ATTRIB, 1, DONE);
	close(r.fd);
}

/* fsnotify_move sends FS_MOVE_SELF to what was renamed. */
TEST_F(fs, renaming_a_file_is_move_self)
{
	const char *f = in(self->dir, "f"), *g = in(self->dir, "g");
	const char *sub = in(self->dir, "sub"), *h = in(self->dir, "sub/h");
	struct req r;

	ASSERT_EQ(0, make_file(f, 0644));
	ASSERT_EQ(0, mkdir(sub, 0755));
	r = WATCH(self->q, f, O_RDONLY, MOVE_SELF);
	ASSERT_EQ(0, rename(f, g));
	EXPECT_ONE(self->q, r, MOVE_SELF, 1, DONE);
	ASSERT_EQ(0, rename(g, h));
	EXPECT_ONE(self->q, r, MOVE_SELF, 1, DONE);
	/* Still the same file, under its new name. */
	ASSERT_EQ(0, modify(self->q, &r, MOVE_SELF | WRITE));
	ASSERT_EQ(0, write_n(h, 1));
	EXPECT_ONE(self->q, r, WRITE, 1, DONE);
	close(r.fd);
}

/* ---- directories ------------------------------------------------------ */

/*
 * creat (open_last_lookups), mkdir, mknod, symlink and link (fsnotify_link)
 * each send one FS_CREATE to the directory.
 */
TEST_F(fs, entries_made_in_a_dir_are_create)
{
	const char *d = self->dir, *src = in(self->dir, "src");
	struct req r;
	int fd;

	ASSERT_EQ(0, make_file(src, 0644));
	r = WATCH(self->q, d, O_RDONLY | O_DIRECTORY, CREATE);
	fd = creat(in(d, "a"), 0644);
	ASSERT_GE(fd, 0);
	EXPECT_ONE(self->q, r, CREATE, 1, DONE);
	/* What happens to the new file is not the directory's event. */
	ASSERT_EQ(1, write(fd, "k", 1));
	close(fd);
	EXPECT_NONE(self->q);
	ASSERT_EQ(0, mkdir(in(d, "b"), 0755));
	EXPECT_ONE(self->q, r, CREATE, 1, DONE);
	ASSERT_EQ(0, mknod(in(d, "c"), S_IFIFO | 0600, 0));
	EXPECT_ONE(self->q, r, CREATE, 1, DONE);
	ASSERT_EQ(0, mknod(in(d, "c2"), S_IFREG | 0600, 0));
	EXPECT_ONE(self->q, r, CREATE, 1, DONE);
	ASSERT_EQ(0, symlink("src", in(d, "e")));
	EXPECT_ONE(self->q, r, CREATE, 1, DONE);
	ASSERT_EQ(0, link(src, in(d, "f")));
	EXPECT_ONE(self->q, r, CREATE, 1, DONE);
	/* All kinds before collection: one event, six notifications. */
	fd = open(in(d, "a2"), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
	ASSERT_GE(fd, 0);
	close(fd);
	ASSERT_EQ(0, mkdir(in(d, "b2"), 0755));
	ASSERT_EQ(0, mknod(in(d, "c3"), S_IFIFO | 0600, 0));
	ASSERT_EQ(0, mknod(in(d, "c4"), S_IFCHR | 0600, makedev(1, 3)));
	ASSERT_EQ(0, symlink("src", in(d, "e2")));
	ASSERT_EQ(0, link(src, in(d, "f2")));
	EXPECT_ONE(self->q, r, CREATE, 6, DONE);
	close(r.fd);
}

TEST_F(fs, entries_removed_from_a_dir_are_remove)
{
	const char *d = self->dir;
	struct req r;

	ASSERT_EQ(0, make_file(in(d, "a"), 0644));
	ASSERT_EQ(0, mkdir(in(d, "b"), 0755));
	ASSERT_EQ(0, symlink("a", in(d, "c")));
	ASSERT_EQ(0, make_file(in(d, "e"), 0644));
	r = WATCH(self->q, d, O_RDONLY | O_DIRECTORY, REMOVE | CREATE);
	ASSERT_EQ(0, unlink(in(d, "a")));
	EXPECT_ONE(self->q, r, REMOVE, 1, DONE);
	ASSERT_EQ(0, rmdir(in(d, "b")));
	EXPECT_ONE(self->q, r, REMOVE, 1, DONE);
	ASSERT_EQ(0, unlink(in(d, "c")));
	EXPECT_ONE(self->q, r, REMOVE, 1, DONE);
	/* Made and removed before collection: both bits, two notifications. */
	ASSERT_EQ(0, make_file(in(d, "g"), 0644));
	ASSERT_EQ(0, unlink(in(d, "e")));
	EXPECT_ONE(self->q, r, CREATE | REMOVE, 2, DONE);
	close(r.fd);
}

/*
 * A rename within one directory: FS_MOVED_FROM and FS_MOVED_TO, two
 * notifications, to the same directory (fsnotify_move).
 */
TEST_F(fs, a_rename_within_a_dir_is_moved_from_and_moved_to)
{
	const char *d = self->dir;
	struct req both, from;
	struct ukevent ev[4];
	int n;

	ASSERT_EQ(0, make_file(in(d, "a"), 0644));
	both = WATCH(self->q, d, O_RDONLY | O_DIRECTORY, MOVED_FROM | MOVED_TO);
	/* A second request on the same fd: another cookie, another identity. */
	from = both;
	from.event = MOVED_FROM;
	from.cookie ^= 0xff00000000ULL;
	ASSERT_EQ(0, add(self->q, &from));
	ASSERT_EQ(0, rename(in(d, "a"), in(d, "b")));
	n = get_ns(self->q, 0, 4, 0, ev);
	ASSERT_EQ(2, n);
	EXPECT_IN(ev, n, both, MOVED_FROM | MOVED_TO, 2, DONE);
	EXPECT_IN(ev, n, from, MOVED_FROM, 1, DONE);
	EXPECT_NONE(self->q);
	close(both.fd);
}

TEST_F(fs, a_move_between_dirs_is_moved_from_there_and_moved_to_here)
{
	const char *a = in(self->dir, "A"), *b = in(self->dir, "B");
	struct req ra, rb, rf;
	struct ukevent ev[8];
	int n;

	ASSERT_EQ(0, mkdir(a, 0755));
	ASSERT_EQ(0, mkdir(b, 0755));
	ASSERT_EQ(0, make_file(in(a, "f"), 0644));
	ASSERT_EQ(0, mkdir(in(a, "sub"), 0755));
	ra = WATCH(self->q, a, O_RDONLY | O_DIRECTORY, MOVED_FROM | MOVED_TO);
	rb = WATCH(self->q, b, O_RDONLY | O_DIRECTORY, MOVED_FROM | MOVED_TO);
	rf = WATCH(self->q, in(a, "f"), O_RDONLY, ALL);
	ASSERT_EQ(0, rename(in(a, "f"), in(b, "f")));
	n = get_ns(self->q, 0, 8, 0, ev);
	ASSERT_EQ(3, n);
	EXPECT_IN(ev, n, ra, MOVED_FROM, 1, DONE);
	EXPECT_IN(ev, n, rb, MOVED_TO, 1, DONE);
	EXPECT_IN(ev, n, rf, MOVE_SELF, 1, DONE);
	/* A directory moves the same way. */
	ASSERT_EQ(0, rename(in(a, "sub"), in(b, "sub")));
	n = get_ns(self->q, 0, 8, 0, ev);
	ASSERT_EQ(2, n);
	EXPECT_IN(ev, n, ra, MOVED_FROM, 1, DONE);
	EXPECT_IN(ev, n, rb, MOVED_TO, 1, DONE);
	close(ra.fd);
	close(rb.fd);
	close(rf.fd);
}

/*
 * No child events: what happens to an entry's own inode (its data, its
 * attributes, its opening and closing) is not the directory's event.
 */
TEST_F(fs, a_dir_is_not_told_what_happens_inside_its_entries)
{
	const char *d = self->dir, *f = in(self->dir, "f");
	struct req r;
	int fd;

	ASSERT_EQ(0, make_file(f, 0644));
	ASSERT_EQ(0, mkdir(in(d, "sub"), 0755));
	r = WATCH(self->q, d, O_RDONLY | O_DIRECTORY, ALL);
	ASSERT_EQ(0, write_n(f, 2));
	ASSERT_EQ(0, truncate(f, 0));
	ASSERT_EQ(0, chmod(f, 0600));
	ASSERT_EQ(0, utimensat(AT_FDCWD, f, NULL, 0));
	fd = open(f, O_RDONLY | O_CLOEXEC);
	ASSERT_GE(fd, 0);
	close(fd);
	ASSERT_EQ(0, chmod(in(d, "sub"), 0700));
	/* Nor what happens one level further down. */
	ASSERT_EQ(0, make_file(in(d, "sub/g"), 0644));
	EXPECT_NONE(self->q);
	close(r.fd);
}

/*
 * The directory's own inode: chmod is ATTRIB, a rename of it MOVE_SELF.
 * A subdirectory made or removed changes its link count, but fsnotify
 * says nothing of that (vfs_mkdir sends FS_CREATE only).
 */
TEST_F(fs, a_dirs_own_attributes_and_moves)
{
	const char *d = in(self->dir, "d"), *e = in(self->dir, "e");
	struct req r;

	ASSERT_EQ(0, mkdir(d, 0755));
	r = WATCH(self->q, d, O_RDONLY | O_DIRECTORY, ATTRIB | MOVE_SELF);
	close(r.fd);
	ASSERT_EQ(0, chmod(d, 0700));
	EXPECT_ONE(self->q, r, ATTRIB, 1, DONE);
	ASSERT_EQ(0, mkdir(in(d, "sub"), 0755));
	EXPECT_NONE(self->q);
	ASSERT_EQ(0, rename(d, e));
	EXPECT_ONE(self->q, r, MOVE_SELF, 1, DONE);
	ASSERT_EQ(0, utimensat(AT_FDCWD, e, NULL, 0));
	EXPECT_ONE(self->q, r, ATTRIB, 1, DONE);
}

/* ---- the end of the watch: deletion ----------------------------------- */

/*
 * unlink(): FS_ATTRIB (the link count), then, the name being the last one
 * and nothing else holding the dentry, FS_DELETE_SELF at once
 * (d_delete -> dentry_unlink_inode -> fsnotify_inoderemove).
 */
TEST_F(fs, deleting_a_watched_file_ends_the_watch)
{
	const char *f = in(self->dir, "f");
	struct req r, again;

	ASSERT_EQ(0, make_file(f, 0644));
	r = WATCH(self->q, f, O_RDONLY, ALL);
	close(r.fd);
	ASSERT_EQ(0, unlink(f));
	EXPECT_ONE(self->q, r, ATTRIB | DELETE_SELF, 2, LAST);
	/* It left the queue with that event. */
	EXPECT_EQ(ENOENT, remove_req(self->q, &r));
	EXPECT_NONE(self->q);
	/* The identity is free: the same number and cookie, a new file. */
	ASSERT_EQ(0, make_file(f, 0644));
	again = r;
	again.fd = open(f, O_RDONLY | O_CLOEXEC);
	ASSERT_EQ(r.fd, again.fd);
	ASSERT_EQ(0, add(self->q, &again));
	ASSERT_EQ(0, write_n(f, 1));
	EXPECT_ONE(self->q, again, WRITE | CLOSE_WRITE, 2, DONE);
	close(again.fd);
}

/*
 * A file unlinked while an fd holds it is deleted when that fd is
 * closed: the unlink is ATTRIB only; the close is CLOSE_WRITE (the fd was
 * open for writing), then DELETE_SELF at the final dput, in __fput.
 */
TEST_F(fs, deletion_waits_for_the_last_reference)
{
	const char *f = in(self->dir, "f");
	struct req r;
	int fd;

	ASSERT_EQ(0, make_file(f, 0644));
	fd = open(f, O_RDWR | O_CLOEXEC);
	ASSERT_GE(fd, 0);
	r = WATCH(self->q, f, O_PATH, ALL);
	close(r.fd);
	ASSERT_EQ(0, unlink(f));
	EXPECT_ONE(self->q, r, ATTRIB, 1, DONE);
	/* Still there: MODIFY finds it. */
	EXPECT_EQ(0, modify(self->q, &r, ALL));
	ASSERT_EQ(1, write(fd, "k", 1));
	EXPECT_ONE(self->q, r, WRITE, 1, DONE);
	close(fd);
	EXPECT_ONE(self->q, r, CLOSE_WRITE | DELETE_SELF, 2, LAST);
	EXPECT_EQ(ENOENT, remove_req(self->q, &r));
}

/* An O_PATH fd holds the dentry too: deleted when it is closed. */
TEST_F(fs, an_o_path_fd_holds_the_deleted_file_until_it_is_closed)
{
	const char *f = in(self->dir, "f");
	struct req r;

	ASSERT_EQ(0, make_file(f, 0644));
	r = WATCH(self->q, f, O_PATH, DELETE_SELF);
	ASSERT_EQ(0, unlink(f));
	EXPECT_NONE(self->q);	/* ATTRIB was not asked for */
	close(r.fd);
	EXPECT_ONE(self->q, r, DELETE_SELF, 1, LAST);
	EXPECT_EQ(ENOENT, remove_req(self->q, &r));
}

/*
 * The end of the watch is reported whatever was asked for: an event with
 * no bits and no count, but KEVENT_RET_EOF; bits pending at the end come
 * with it.
 */
TEST_F(fs, deletion_not_asked_for_still_ends_the_watch)
{
	const char *f = in(self->dir, "f"), *g = in(self->dir, "g");
	struct req r;

	ASSERT_EQ(0, make_file(f, 0644));
	r = WATCH(self->q, f, O_RDONLY, WRITE);
	close(r.fd);
	ASSERT_EQ(0, unlink(f));
	EXPECT_ONE(self->q, r, 0, 0, LAST);
	EXPECT_EQ(ENOENT, remove_req(self->q, &r));
	EXPECT_NONE(self->q);

	ASSERT_EQ(0, make_file(g, 0644));
	r = WATCH(self->q, g, O_RDONLY, WRITE);
	close(r.fd);
	ASSERT_EQ(0, write_n(g, 2));
	ASSERT_EQ(0, unlink(g));
	EXPECT_ONE(self->q, r, WRITE, 2, LAST);
	EXPECT_EQ(ENOENT, remove_req(self->q, &r));
}

/*
 * rmdir: the directory's DELETE_SELF (d_delete_notify, the dentry's last
 * reference; the directory's link count is not notified), and REMOVE to
 * its parent.
 */
TEST_F(fs, removing_a_watched_dir_ends_its_watch)
{
	const char *d = in(self->dir, "d");
	struct req r, parent;
	struct ukevent ev[4];
	int n;

	ASSERT_EQ(0, mkdir(d, 0755));
	/* An entry made and removed inside it first: it leaves no trace. */
	ASSERT_EQ(0, make_file(in(d, "f"), 0644));
	ASSERT_EQ(0, unlink(in(d, "f")));
	r = WATCH(self->q, d, O_RDONLY | O_DIRECTORY, ALL);
	close(r.fd);
	parent = WATCH(self->q, self->dir, O_PATH, REMOVE);
	close(parent.fd);
	ASSERT_EQ(0, rmdir(d));
	n = get_ns(self->q, 0, 4, 0, ev);
	ASSERT_EQ(2, n);
	EXPECT_IN(ev, n, r, DELETE_SELF, 1, LAST);
	EXPECT_IN(ev, n, parent, REMOVE, 1, DONE);
	EXPECT_EQ(ENOENT, remove_req(self->q, &r));
	EXPECT_EQ(0, remove_req(self->q, &parent));
}

/*
 * A rename over a watched file removes its last name: FS_ATTRIB from
 * fsnotify_move (the target's link count), then FS_DELETE_SELF when
 * renameat2 drops the target's dentry.
 */
TEST_F(fs, renaming_over_a_watched_file_deletes_it)
{
	const char *s = in(self->dir, "s"), *t = in(self->dir, "t");
	struct req rt, rs;
	struct ukevent ev[4];
	int n;

	ASSERT_EQ(0, make_file(s, 0644));
	ASSERT_EQ(0, make_file(t, 0644));
	rt = WATCH(self->q, t, O_RDONLY, ALL);
	close(rt.fd);
	rs = WATCH(self->q, s, O_RDONLY, ALL);
	close(rs.fd);
	ASSERT_EQ(0, rename(s, t));
	n = get_ns(self->q, 0, 4, 0, ev);
	ASSERT_EQ(2, n);
	EXPECT_IN(ev, n, rt, ATTRIB | DELETE_SELF, 2, LAST);
	EXPECT_IN(ev, n, rs, MOVE_SELF, 1, DONE);
	EXPECT_EQ(ENOENT, remove_req(self->q, &rt));
	EXPECT_EQ(0, remove_req(self->q, &rs));
}

/* ---- fds -------------------------------------------------------------- */

TEST_F(fs, an_o_path_fd_names_a_file_or_a_dir)
{
	const char *f = in(self->dir, "f");
	struct req rf, rd;

	ASSERT_EQ(0, make_file(f, 0644));
	rf = WATCH(self->q, f, O_PATH, WRITE);
	rd = WATCH(self->q, self->dir, O_PATH | O_DIRECTORY, CREATE);
	ASSERT_EQ(0, write_n(f, 1));
	EXPECT_ONE(self->q, rf, WRITE, 1, DONE);
	ASSERT_EQ(0, make_file(in(self->dir, "g"), 0644));
	EXPECT_ONE(self->q, rd, CREATE, 1, DONE);
	close(rf.fd);
	close(rd.fd);
}

/* The request watches the object: the fd only named it at ADD. */
TEST_F(fs, closing_the_fd_leaves_the_request_working)
{
	const char *f = in(self->dir, "f");
	struct req r;
	int other;

	ASSERT_EQ(0, make_file(f, 0644));
	r = WATCH(self->q, f, O_RDONLY, WRITE);
	ASSERT_EQ(0, close(r.fd));
	ASSERT_EQ(0, write_n(f, 1));
	EXPECT_ONE(self->q, r, WRITE, 1, DONE);
	/* Its number now names another file: the request does not care. */
	other = open(self->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_EQ(r.fd, other);
	ASSERT_EQ(0, make_file(in(self->dir, "g"), 0644));
	EXPECT_NONE(self->q);
	close(other);
	ASSERT_EQ(0, write_n(f, 2));
	EXPECT_ONE(self->q, r, WRITE, 2, DONE);
	/* The number still names the identity for REMOVE. */
	EXPECT_EQ(0, remove_req(self->q, &r));
	ASSERT_EQ(0, write_n(f, 1));
	EXPECT_NONE(self->q);
}

/* ---- the end of the watch: unmount ------------------------------------ */

/* Mounts a tmpfs on dir/mnt for the test; 0, or skips. */
static int mount_tmpfs(FIXTURE_DATA(fs) *self)
{
	snprintf(self->mnt, sizeof(self->mnt), "%s/mnt", self->dir);
	if (mkdir(self->mnt, 0755))
		return -1;
	if (mount("kevent-test", self->mnt, "tmpfs", 0, "size=1m,mode=0755")) {
		int err = errno;

		rmdir(self->mnt);
		self->mnt[0] = 0;
		errno = err;
		return -1;
	}
	return 0;
}

#define MOUNT_TMPFS()								\
	do {									\
		if (mount_tmpfs(self))						\
			SKIP(return, "cannot mount a tmpfs: %s", strerror(errno)); \
	} while (0)

/*
 * generic_shutdown_super -> fsnotify_sb_delete: FS_UNMOUNT to every
 * watched inode, then its marks go. The requests pin nothing that makes
 * umount busy. UNMOUNT is reported even where it was not asked for.
 */
TEST_F(fs, unmount_ends_every_watch_on_the_fs)
{
	struct req rf, rroot;
	struct ukevent ev[4];
	int n;

	MOUNT_TMPFS();
	ASSERT_EQ(0, make_file(in(self->mnt, "f"), 0644));
	rf = WATCH(self->q, in(self->mnt, "f"), O_RDONLY, WRITE);
	rroot = WATCH(self->q, self->mnt, O_RDONLY | O_DIRECTORY, CREATE | REMOVE);
	close(rf.fd);
	close(rroot.fd);
	ASSERT_EQ(0, umount2(self->mnt, 0)) TH_LOG("umount: %s", strerror(errno));
	self->mnt[0] = 0;
	n = get_ns(self->q, 0, 4, 0, ev);
	ASSERT_EQ(2, n);
	EXPECT_IN(ev, n, rf, UNMOUNT, 1, LAST);
	EXPECT_IN(ev, n, rroot, UNMOUNT, 1, LAST);
	EXPECT_EQ(ENOENT, remove_req(self->q, &rf));
	EXPECT_EQ(ENOENT, remove_req(self->q, &rroot));
	EXPECT_NONE(self->q);
}

TEST_F(fs, bits_pending_at_unmount_join_its_event)
{
	struct req rf, rroot, rall;
	struct ukevent ev[4];
	int n;

	MOUNT_TMPFS();
	ASSERT_EQ(0, make_file(in(self->mnt, "f"), 0644));
	rf = WATCH(self->q, in(self->mnt, "f"), O_PATH, WRITE | ATTRIB);
	rroot = WATCH(self->q, self->mnt, O_PATH, CREATE);
	rall = WATCH(self->q, self->mnt, O_RDONLY | O_DIRECTORY, ALL);
	close(rf.fd);
	close(rroot.fd);
	close(rall.fd);
	ASSERT_EQ(0, write_n(in(self->mnt, "f"), 2));
	ASSERT_EQ(0, make_file(in(self->mnt, "g"), 0644));
	ASSERT_EQ(0, umount2(self->mnt, 0)) TH_LOG("umount: %s", strerror(errno));
	self->mnt[0] = 0;
	n = get_ns(self->q, 0, 4, 0, ev);
	ASSERT_EQ(3, n);
	EXPECT_IN(ev, n, rf, WRITE | UNMOUNT, 3, LAST);
	EXPECT_IN(ev, n, rroot, CREATE | UNMOUNT, 2, LAST);
	EXPECT_IN(ev, n, rall, CREATE | UNMOUNT, 2, LAST);
}

/* ---- many requests on one inode ---------------------------------------- */

TEST_F(fs, two_fds_of_one_file_in_one_queue_both_get_every_event)
{
	const char *f = in(self->dir, "f");
	struct req a, b;
	struct ukevent ev[4];
	int n;

	ASSERT_EQ(0, make_file(f, 0644));
	a = WATCH(self->q, f, O_RDONLY, WRITE | DELETE_SELF);
	b = WATCH(self->q, f, O_PATH, WRITE | ATTRIB);
	ASSERT_NE(a.fd, b.fd);
	ASSERT_EQ(0, write_n(f, 2));
	n = get_ns(self->q, 0, 4, 0, ev);
	ASSERT_EQ(2, n);
	EXPECT_IN(ev, n, a, WRITE, 2, DONE);
	EXPECT_IN(ev, n, b, WRITE, 2, DONE);
	close(a.fd);
	close(b.fd);
	ASSERT_EQ(0, unlink(f));
	n = get_ns(self->q, 0, 4, 0, ev);
	ASSERT_EQ(2, n);
	EXPECT_IN(ev, n, a, DELETE_SELF, 1, LAST);
	EXPECT_IN(ev, n, b, ATTRIB, 1, LAST);
}

TEST_F(fs, every_queue_watching_a_file_gets_every_event)
{
	const char *f = in(self->dir, "f");
	struct req r[3];
	int q[3] = { self->q, open_queue(), open_queue() }, fd;

	ASSERT_GE(q[1], 0);
	ASSERT_GE(q[2], 0);
	ASSERT_EQ(0, make_file(f, 0644));
	fd = open(f, O_RDONLY | O_CLOEXEC);
	ASSERT_GE(fd, 0);
	/* The same fd and cookie in each queue: each queue's own request. */
	for (int i = 0; i < 3; i++) {
		r[i] = (struct req){ .fd = fd, .event = WRITE | DELETE_SELF, .cookie = COOKIE | fd };
		ASSERT_EQ(0, add(q[i], &r[i]));
	}
	close(fd);
	ASSERT_EQ(0, write_n(f, 3));
	for (int i = 0; i < 3; i++)
		EXPECT_ONE(q[i], r[i], WRITE, 3, DONE);
	ASSERT_EQ(0, unlink(f));
	for (int i = 0; i < 3; i++) {
		EXPECT_ONE(q[i], r[i], DELETE_SELF, 1, LAST);
		EXPECT_EQ(ENOENT, remove_req(q[i], &r[i]));
	}
	close(q[1]);
	close(q[2]);
}

/* ---- request flags and MODIFY ----------------------------------------- */

TEST_F(fs, one_shot_is_removed_after_its_event)
{
	const char *f = in(self->dir, "f");
	struct req r;

	ASSERT_EQ(0, make_file(f, 0644));
	r = WATCH_F(self->q, f, O_RDONLY, WRITE, KEVENT_REQ_ONESHOT);
	ASSERT_EQ(0, write_n(f, 2));
	EXPECT_ONE(self->q, r, WRITE, 2, DONE);
	EXPECT_EQ(ENOENT, remove_req(self->q, &r));
	ASSERT_EQ(0, write_n(f, 1));
	EXPECT_NONE(self->q);
	close(r.fd);
}

/* Every delivery clears what it reports: edge-triggered or not, the same. */
TEST_F(fs, edge_triggered_is_accepted_and_the_same)
{
	const char *f = in(self->dir, "f");
	struct req et, lt;
	struct ukevent ev[4];
	int n;

	ASSERT_EQ(0, make_file(f, 0644));
	et = WATCH_F(self->q, f, O_RDONLY, WRITE, KEVENT_REQ_ET);
	lt = WATCH_F(self->q, f, O_RDONLY, WRITE, 0);
	for (int round = 1; round <= 3; round++) {
		ASSERT_EQ(0, write_n(f, round));
		n = get_ns(self->q, 0, 4, 0, ev);
		ASSERT_EQ(2, n);
		EXPECT_IN(ev, n, et, WRITE, (__u32)round, DONE);
		EXPECT_IN(ev, n, lt, WRITE, (__u32)round, DONE);
		EXPECT_NONE(self->q);
	}
	ASSERT_EQ(0, remove_req(self->q, &lt));
	/* Edge-triggered and one-shot together. */
	lt.flags = KEVENT_REQ_ET | KEVENT_REQ_ONESHOT;
	ASSERT_EQ(0, add(self->q, &lt));
	ASSERT_EQ(0, write_n(f, 1));
	n = get_ns(self->q, 0, 4, 0, ev);
	ASSERT_EQ(2, n);
	EXPECT_IN(ev, n, et, WRITE, 1, DONE);
	EXPECT_IN(ev, n, lt, WRITE, 1, DONE);
	EXPECT_EQ(ENOENT, remove_req(self->q, &lt));
	close(et.fd);
	close(lt.fd);
}

/*
 * MODIFY with a narrower mask: the pending bits that fall out are not
 * delivered, and an event left with no bit is not delivered at all.
 */
TEST_F(fs, modify_narrowing_the_mask_drops_the_bits_that_fall_out)
{
	const char *f = in(self->dir, "f");
	struct req r;
	struct ukevent ev[4];

	ASSERT_EQ(0, make_file(f, 0644));
	r = WATCH(self->q, f, O_RDONLY, WRITE | ATTRIB);
	ASSERT_EQ(0, write_n(f, 1));
	ASSERT_EQ(0, chmod(f, 0600));
	ASSERT_EQ(0, modify(self->q, &r, ATTRIB));
	/*
	 * The count of the notifications that fell out: whether it goes with
	 * their bits is not pinned down by the semantics; one or both.
	 */
	ASSERT_EQ(1, get_ns(self->q, 0, 4, 0, ev));
	EXPECT_EQ(ATTRIB, ev[0].event);
	EXPECT_EQ(ATTRIB, ev[0].ret_data[0]);
	EXPECT_EQ(DONE, ev[0].ret_flags);
	EXPECT_GE(ev[0].ret_data[1], 1u);
	EXPECT_LE(ev[0].ret_data[1], 2u);
	EXPECT_NONE(self->q);

	/* Only bits that fall out pending: no event. */
	ASSERT_EQ(0, modify(self->q, &r, WRITE | ATTRIB));
	ASSERT_EQ(0, write_n(f, 2));
	ASSERT_EQ(0, modify(self->q, &r, ATTRIB));
	EXPECT_NONE(self->q);
	ASSERT_EQ(0, chmod(f, 0644));
	/* As above: 1, or 3 if the dropped writes' count stayed behind. */
	ASSERT_EQ(1, get_ns(self->q, 0, 4, 0, ev));
	EXPECT_EQ(ATTRIB, ev[0].ret_data[0]);
	EXPECT_EQ(DONE, ev[0].ret_flags);
	EXPECT_GE(ev[0].ret_data[1], 1u);
	EXPECT_LE(ev[0].ret_data[1], 3u);
	/* Widened again: the new bits are counted from now on. */
	ASSERT_EQ(0, modify(self->q, &r, ATTRIB | WRITE));
	ASSERT_EQ(0, write_n(f, 1));
	EXPECT_ONE(self->q, r, WRITE, 1, DONE);
	/* MODIFY validates as ADD does. */
	EXPECT_EQ(EINVAL, modify(self->q, &r, 0));
	EXPECT_EQ(EINVAL, modify(self->q, &r, ALL + 1));
	EXPECT_EQ(EINVAL, modify(self->q, &r, WRITE | 0x80000000));
	close(r.fd);
}

/* ---- refusals --------------------------------------------------------- */

TEST_F(fs, refuses_bad_requests)
{
	static const __u32 bad_events[] = { 0, ALL + 1, 0x400, 0x800, 0x80000000, 0xffffffff,
					    WRITE | 0x1000 };
	static const __u32 bad_flags[] = { 0x2, 0x8, 0x10, 0x80000000, 0xffffffff };
	const char *f = in(self->dir, "f");
	struct ukevent uk;
	struct req r;
	int fd, closed;
	size_t i;

	ASSERT_EQ(0, make_file(f, 0644));
	fd = open(f, O_RDONLY | O_CLOEXEC);
	ASSERT_GE(fd, 0);
	closed = dup(fd);
	ASSERT_GE(closed, 0);
	close(closed);
	uk = uk_make(KEVENT_INODE, closed, 0, WRITE, 0, COOKIE);
	EXPECT_EQ(EBADF, ctl1(self->q, KEVENT_CTL_ADD, &uk));
	uk = uk_make(KEVENT_INODE, 0xffffffff, 0, WRITE, 0, COOKIE);
	EXPECT_EQ(EBADF, ctl1(self->q, KEVENT_CTL_ADD, &uk));
	uk = uk_make(KEVENT_INODE, fd, 1, WRITE, 0, COOKIE);
	EXPECT_EQ(EINVAL, ctl1(self->q, KEVENT_CTL_ADD, &uk));
	uk = uk_make(KEVENT_INODE, fd, 0x80000000, WRITE, 0, COOKIE);
	EXPECT_EQ(EINVAL, ctl1(self->q, KEVENT_CTL_ADD, &uk));
	for (i = 0; i < sizeof(bad_events) / sizeof(bad_events[0]); i++) {
		uk = uk_make(KEVENT_INODE, fd, 0, bad_events[i], 0, COOKIE);
		EXPECT_EQ(EINVAL, ctl1(self->q, KEVENT_CTL_ADD, &uk)) TH_LOG("event %#x",
									    bad_events[i]);
	}
	for (i = 0; i < sizeof(bad_flags) / sizeof(bad_flags[0]); i++) {
		uk = uk_make(KEVENT_INODE, fd, 0, WRITE, bad_flags[i], COOKIE);
		EXPECT_EQ(EINVAL, ctl1(self->q, KEVENT_CTL_ADD, &uk)) TH_LOG("req_flags %#x",
									    bad_flags[i]);
	}
	/* Nothing was left behind by any of them. */
	uk = uk_make(KEVENT_INODE, fd, 0, WRITE, 0, COOKIE);
	EXPECT_EQ(ENOENT, ctl1(self->q, KEVENT_CTL_REMOVE, &uk));
	ASSERT_EQ(0, write_n(f, 1));
	EXPECT_NONE(self->q);
	/* Every bit at once is fine; the same identity twice is not. */
	r = (struct req){ .fd = fd, .event = ALL, .cookie = COOKIE };
	EXPECT_EQ(0, add(self->q, &r));
	EXPECT_EQ(EEXIST, add(self->q, &r));
	r.event = WRITE;
	EXPECT_EQ(EEXIST, add(self->q, &r));
	close(fd);
}

/*
 * The check of inotify_add_watch: MAY_READ on the inode. An O_PATH fd
 * opened by root and inherited by a process of another user names a file
 * that user may not read: EACCES. A file it may read is fine.
 */
TEST_F(fs, a_user_may_not_watch_what_it_may_not_read)
{
	const char *secret = in(self->dir, "secret"), *public = in(self->dir, "public");
	int s, p, res[2] = { -1, -1 }, pipefd[2];
	pid_t pid;
	struct req r;

	ASSERT_EQ(0, make_file(secret, 0600));
	ASSERT_EQ(0, make_file(public, 0644));
	s = open(secret, O_PATH | O_CLOEXEC);
	p = open(public, O_PATH | O_CLOEXEC);
	ASSERT_GE(s, 0);
	ASSERT_GE(p, 0);
	ASSERT_EQ(0, pipe2(pipefd, O_CLOEXEC));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		struct ukevent a = uk_make(KEVENT_INODE, s, 0, WRITE, 0, COOKIE | 1);
		struct ukevent b = uk_make(KEVENT_INODE, p, 0, WRITE, 0, COOKIE | 2);
		int out[2] = { -1, -1 };

		if (setgroups(0, NULL) || setresgid(NOBODY, NOBODY, NOBODY) ||
		    setresuid(NOBODY, NOBODY, NOBODY) || geteuid() != NOBODY)
			_exit(1);
		out[0] = ctl1(self->q, KEVENT_CTL_ADD, &a);
		out[1] = ctl1(self->q, KEVENT_CTL_ADD, &b);
		_exit(write(pipefd[1], out, sizeof(out)) == sizeof(out) ? 0 : 2);
	}
	close(pipefd[1]);
	ASSERT_EQ((ssize_t)sizeof(res), read(pipefd[0], res, sizeof(res)));
	close(pipefd[0]);
	ASSERT_EQ(pid, waitpid(pid, NULL, 0));
	EXPECT_EQ(EACCES, res[0]) TH_LOG("a 0600 file of root's, watched by uid %d", NOBODY);
	EXPECT_EQ(0, res[1]) TH_LOG("a 0644 file, watched by uid %d", NOBODY);
	/* Nothing left of the refused one; the other one works. */
	r = (struct req){ .fd = s, .event = WRITE, .cookie = COOKIE | 1 };
	EXPECT_EQ(ENOENT, remove_req(self->q, &r));
	r = (struct req){ .fd = p, .event = WRITE, .cookie = COOKIE | 2 };
	ASSERT_EQ(0, write_n(public, 1));
	EXPECT_ONE(self->q, r, WRITE, 1, DONE);
	/* Root may read it, and watch it. */
	r = (struct req){ .fd = s, .event = WRITE, .cookie = COOKIE | 1 };
	EXPECT_EQ(0, add(self->q, &r));
	close(s);
	close(p);
}

/*
 * One user holds at most 128 watches of one inode, in all its queues
 * (ENOSPC beyond), as inotify's bound is 128 instances of one mark each:
 * every notification of the inode, whoever causes it, calls every watch.
 * Another user has 128 of its own; a watch given back (a REMOVE, the close
 * of its queue) can be taken again.
 */
#define WATCHES_PER_USER 128

/* Adds WATCHES_PER_USER watches of fd to q, cookies from base on; then one
 * more must be refused. 0, or the first unexpected result. */
static int fill_watches(int q, int fd, __u64 base)
{
	struct ukevent uk;
	int i, r;

	for (i = 0; i <= WATCHES_PER_USER; i++) {
		uk = uk_make(KEVENT_INODE, fd, 0, WRITE, 0, base | i);
		r = ctl1(q, KEVENT_CTL_ADD, &uk);
		if (r != (i < WATCHES_PER_USER ? 0 : ENOSPC))
			return r ? r : -1;
	}
	return 0;
}

TEST_F(fs, one_user_holds_at_most_128_watches_of_an_inode)
{
	const char *path = in(self->dir, "f");
	struct ukevent ev[WATCHES_PER_USER + 2];
	int fd, q2, res = -1, pipefd[2];
	struct req r = { .event = WRITE };
	pid_t pid;

	ASSERT_EQ(0, make_file(path, 0644));
	fd = open(path, O_PATH | O_CLOEXEC);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, fill_watches(self->q, fd, COOKIE));
	/* Every one works: a write is an event of each. */
	ASSERT_EQ(0, write_n(path, 1));
	EXPECT_EQ(WATCHES_PER_USER, get_ns(self->q, 0, WATCHES_PER_USER + 2, 0, ev));
	/* Another queue of the same user: the same bound. */
	q2 = open_queue();
	ASSERT_GE(q2, 0);
	r.fd = fd;
	r.cookie = COOKIE | 0x1000;
	EXPECT_EQ(ENOSPC, add(q2, &r));
	/* Another user has its own, in the same queue. */
	ASSERT_EQ(0, pipe2(pipefd, O_CLOEXEC));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int out = -1;

		if (!setgroups(0, NULL) && !setresgid(NOBODY, NOBODY, NOBODY) &&
		    !setresuid(NOBODY, NOBODY, NOBODY) && geteuid() == NOBODY)
			out = fill_watches(q2, fd, COOKIE | 0x2000);
		_exit(write(pipefd[1], &out, sizeof(out)) == sizeof(out) ? 0 : 2);
	}
	close(pipefd[1]);
	ASSERT_EQ((ssize_t)sizeof(res), read(pipefd[0], &res, sizeof(res)));
	close(pipefd[0]);
	ASSERT_EQ(pid, waitpid(pid, NULL, 0));
	EXPECT_EQ(0, res) TH_LOG("uid %d's watches of a file root watches 128 times", NOBODY);
	/* A REMOVE gives one back. */
	r.cookie = COOKIE | 0;
	EXPECT_EQ(0, remove_req(self->q, &r));
	r.cookie = COOKIE | 0x1000;
	EXPECT_EQ(0, add(q2, &r));
	/* Closing the queues gives back the rest, of both users. */
	close(q2);
	close(self->q);
	self->q = open_queue();
	ASSERT_GE(self->q, 0);
	EXPECT_EQ(0, fill_watches(self->q, fd, COOKIE | 0x3000));
	close(fd);
}

/* ---- closing the queue ------------------------------------------------- */

/*
 * A queue closed with live requests, some with events pending, lets go of
 * every inode at once: its tmpfs unmounts, nothing is delivered to anyone,
 * and the module's reference count comes back (kmemleak, after rmmod,
 * sees the rest).
 */
TEST_F(fs, closing_the_queue_with_live_requests_lets_everything_go)
{
	int before = module_refcnt(), q2, after;
	const char *f = in(self->dir, "f");
	struct req r[5];

	/* The fixture's queue only. */
	if (before >= 0)
		ASSERT_EQ(1, refcnt_back_to(1)) TH_LOG("queues of earlier tests are still held");
	MOUNT_TMPFS();
	ASSERT_EQ(0, make_file(in(self->mnt, "m"), 0644));
	ASSERT_EQ(0, make_file(f, 0644));
	q2 = open_queue();
	ASSERT_GE(q2, 0);
	r[0] = WATCH(q2, in(self->mnt, "m"), O_RDONLY, ALL);
	r[1] = WATCH(q2, self->mnt, O_PATH, ALL);
	r[2] = WATCH_F(q2, self->mnt, O_RDONLY | O_DIRECTORY, CREATE, KEVENT_REQ_ONESHOT);
	r[3] = WATCH(q2, f, O_PATH, WRITE);
	r[4] = WATCH(self->q, f, O_PATH, ATTRIB);
	for (int i = 0; i < 5; i++)
		close(r[i].fd);
	ASSERT_EQ(0, write_n(in(self->mnt, "m"), 1));
	ASSERT_EQ(0, make_file(in(self->mnt, "n"), 0644));
	ASSERT_EQ(0, write_n(f, 1));
	ASSERT_EQ(0, close(q2));
	EXPECT_EQ(0, umount2(self->mnt, 0)) TH_LOG("umount: %s", strerror(errno));
	self->mnt[0] = 0;
	/* The other queue's request is untouched, and saw nothing of q2's. */
	EXPECT_NONE(self->q);
	ASSERT_EQ(0, chmod(f, 0600));
	EXPECT_ONE(self->q, r[4], ATTRIB, 1, DONE);
	ASSERT_EQ(0, unlink(f));
	EXPECT_ONE(self->q, r[4], ATTRIB, 1, LAST);
	if (before >= 0) {
		after = refcnt_back_to(1);
		EXPECT_EQ(1, after) TH_LOG("refcnt %d, was 1 before the queue", after);
	}
}

/* A removed request is stopped at once: its pending event goes with it. */
TEST_F(fs, remove_drops_the_pending_event)
{
	const char *f = in(self->dir, "f");
	struct req r;

	ASSERT_EQ(0, make_file(f, 0644));
	r = WATCH(self->q, f, O_RDONLY, WRITE | DELETE_SELF);
	close(r.fd);
	ASSERT_EQ(0, write_n(f, 2));
	ASSERT_EQ(0, remove_req(self->q, &r));
	EXPECT_NONE(self->q);
	ASSERT_EQ(0, unlink(f));
	EXPECT_NONE(self->q);
}

TEST_HARNESS_MAIN
