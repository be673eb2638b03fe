// SPDX-License-Identifier: GPL-2.0
/*
 * The event ring (docs/kevent.7.md, "The event ring"): set-up and mmap and
 * what they refuse; get-events with KEVENT_GET_RING and its misuse; the
 * events written at wake-up (edge-triggered user and poll requests, inode
 * notifications), there to read with no system call once the trigger
 * returns, and those that get-events moves in (level-triggered requests,
 * timers, one-shots, sockets); a full ring falling back on the ready list
 * with nothing lost or doubled, in order; the counters wrapping around the
 * entries; waiting, O_NONBLOCK and poll(); producers and a consumer on
 * several threads; munmap, close, fork and mremap of a mapping.
 *
 * Entries are read with the helpers of include/kevent.h; the tests that
 * look at head, tail and flags themselves read them with atomic loads.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "kevent_test.h"
#include "kselftest_harness.h"

#define COOKIE(id) (0xc0de000000000000ULL | (id))
#define DONE KEVENT_RET_DONE
#define ENTRY_SIZE ((__u32)sizeof(struct kevent_ring_entry))
#define RING_SIZE(entries) ((__u32)sizeof(struct kevent_ring) + (entries) * ENTRY_SIZE)

FIXTURE(evring)
{
	int fd;
	struct kevent_ring_map map;	/* unmapped by the teardown if mapped */
};

FIXTURE_SETUP(evring)
{
	memset(&self->map, 0, sizeof(self->map));
	self->fd = open_queue();
	if (self->fd < 0 && errno == ENOENT)
		SKIP(return, KEVENT_DEVICE " is missing: is the module loaded?");
	ASSERT_GE(self->fd, 0);
}

FIXTURE_TEARDOWN(evring)
{
	if (self->map.ring)
		kevent_ring_unmap(&self->map);
	if (self->fd >= 0)
		close(self->fd);
}

static long page_size(void)
{
	return sysconf(_SC_PAGESIZE);
}

static __u32 load(const __u32 *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void store(__u32 *p, __u32 v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

/* Sets up a ring of `entries` on fd and maps it into *map. */
static void ring_up(struct __test_metadata *_metadata, int fd, unsigned int entries,
		    struct kevent_ring_map *map)
{
	ASSERT_EQ(0, kevent_ring_setup(fd, entries, map))
		TH_LOG("ring of %u entries: %s", entries, strerror(errno));
	ASSERT_NE(NULL, map->ring);
	ASSERT_EQ(RING_SIZE(entries), map->size);
	ASSERT_EQ(entries, map->entries);
	ASSERT_EQ(entries - 1, map->mask);
}

#define RING_UP(entries) ring_up(_metadata, self->fd, entries, &self->map)

/* The set-up ioctl with every field given; -errno on failure. */
static int setup_raw(int fd, __u32 entries, __u32 flags, __u32 reserved, __u32 *size)
{
	struct kevent_ring_setup s = { .entries = entries, .flags = flags, .__reserved = reserved };
	int r = ioctl(fd, KEVENT_IOC_RING_SETUP, &s);

	if (r < 0)
		return -errno;
	if (size)
		*size = s.size;
	return r;
}

/* mmap of a queue; the errno on failure (and nothing mapped), else 0. */
static int map_err(int fd, size_t len, int flags, off_t off, void **out)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, fd, off);

	if (p == MAP_FAILED)
		return errno;
	if (out)
		*out = p;
	else
		munmap(p, len);
	return 0;
}

/* get-events with every field given; -errno on failure. */
static int get_raw(int fd, __u32 min_nr, __u32 max_nr, __s64 timeout_ns, void *events, __u32 flags)
{
	struct kevent_get_events_arg ge = {
		.min_nr = min_nr,
		.max_nr = max_nr,
		.timeout_ns = timeout_ns,
		.events = (__u64)(uintptr_t)events,
		.flags = flags,
	};
	int r = ioctl(fd, KEVENT_IOC_GET_EVENTS, &ge);

	return r < 0 ? -errno : r;
}

/* kevent_ring_wait(); -errno on failure. */
static int rwait(int fd, unsigned int min_nr, unsigned int max_nr, int64_t timeout_ns)
{
	int r = kevent_ring_wait(fd, min_nr, max_nr, timeout_ns);

	return r < 0 ? -errno : r;
}

/* User request `id`, cookie COOKIE(id). */
static struct ukevent uk_u(__u32 id, __u32 flags)
{
	return uk_make(KEVENT_USER, id, 0, 0, flags, COOKIE(id));
}

static int add_u(int fd, __u32 id, __u32 flags)
{
	struct ukevent uk = uk_u(id, flags);

	return ctl1(fd, KEVENT_CTL_ADD, &uk);
}

static int ready_u(int fd, __u32 id, __u32 p0, __u32 p1)
{
	struct ukevent uk = uk_u(id, 0);

	uk.ret_data[0] = p0;
	uk.ret_data[1] = p1;
	return ctl1(fd, KEVENT_CTL_READY, &uk);
}

static int remove_u(int fd, __u32 id)
{
	struct ukevent uk = uk_u(id, 0);

	return ctl1(fd, KEVENT_CTL_REMOVE, &uk);
}

/*
 * Adds an edge-triggered KEVENT_SOCKET RECV request (cookie 0x50c) on a new
 * socketpair sv, and sends it `bytes`: its event waits outside the ring
 * (a socket's figures are read by a call, never at wake-up).
 */
static int sock_waiting(int fd, int sv[2], unsigned int bytes)
{
	struct ukevent uk;
	char buf[64] = { 0 };

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv))
		return -errno;
	uk = uk_make(KEVENT_SOCKET, sv[0], 0, KEVENT_SOCKET_RECV, KEVENT_REQ_ET, 0x50c);
	if (ctl1(fd, KEVENT_CTL_ADD, &uk))
		return -1;
	return write(sv[1], buf, bytes) == (ssize_t)bytes ? 0 : -1;
}

/* The ring holds exactly one unread entry, of sock_waiting's request with
 * `bytes` to read: frees it. */
#define TAKE_SOCK(map, bytes)								\
	do {										\
		const struct kevent_ring_entry *e_;					\
		ASSERT_EQ(1, kevent_ring_ready(map));					\
		e_ = kevent_ring_entry_at(map, 0);					\
		EXPECT_EQ(KEVENT_SOCKET, e_->type);					\
		EXPECT_EQ(0x50c, e_->ptr);						\
		EXPECT_EQ(bytes, e_->ret_data[0]);					\
		kevent_ring_advance(map, 1);						\
	} while (0)

/* Checks an entry of user request id with payload p0, p1. */
static void check_user(struct __test_metadata *_metadata, int line,
		       const struct kevent_ring_entry *e, __u32 id, __u32 p0, __u32 p1)
{
	EXPECT_EQ(KEVENT_USER, e->type) TH_LOG("line %d", line);
	EXPECT_EQ(id, e->id.raw[0]) TH_LOG("line %d", line);
	EXPECT_EQ(0u, e->id.raw[1]) TH_LOG("line %d", line);
	EXPECT_EQ(COOKIE(id), e->ptr) TH_LOG("line %d", line);
	EXPECT_EQ(DONE, e->ret_flags) TH_LOG("line %d", line);
	EXPECT_EQ(p0, e->ret_data[0]) TH_LOG("line %d: payload", line);
	EXPECT_EQ(p1, e->ret_data[1]) TH_LOG("line %d: payload", line);
}

#define CHECK_USER(e, id, p0, p1) check_user(_metadata, __LINE__, e, id, p0, p1)

/* The ring holds exactly one unread entry, of user request id: frees it. */
#define TAKE_USER(map, id, p0, p1)						\
	do {									\
		ASSERT_EQ(1, kevent_ring_ready(map));				\
		CHECK_USER(kevent_ring_entry_at(map, 0), id, p0, p1);		\
		kevent_ring_advance(map, 1);					\
	} while (0)

/* ---- set-up and mmap -------------------------------------------------- */

TEST_F(evring, setup_refuses_bad_entries_flags_and_reserved)
{
	static const __u32 bad[] = { 0, 1, 3, 6, 100, 32769, 65536, 0x80000000, 0xffffffff };
	unsigned int i;
	__u32 size = 0;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		EXPECT_EQ(-EINVAL, setup_raw(self->fd, bad[i], 0, 0, NULL))
			TH_LOG("entries %u", bad[i]);
	EXPECT_EQ(-EINVAL, setup_raw(self->fd, 8, 1, 0, NULL));
	EXPECT_EQ(-EINVAL, setup_raw(self->fd, 8, 0x80000000, 0, NULL));
	EXPECT_EQ(-EINVAL, setup_raw(self->fd, 8, 0, 1, NULL));
	EXPECT_EQ(-EINVAL, setup_raw(self->fd, 8, 0, 0x80000000, NULL));
	/* None of them set a ring up. */
	EXPECT_EQ(ENODEV, map_err(self->fd, page_size(), MAP_SHARED, 0, NULL));
	EXPECT_EQ(-EINVAL, rwait(self->fd, 0, 1, 0));
	ASSERT_EQ(0, setup_raw(self->fd, 8, 0, 0, &size));
	EXPECT_EQ(RING_SIZE(8), size);
}

TEST_F(evring, a_second_setup_is_ebusy)
{
	__u32 size = 0;
	void *p = NULL;
	int r, err;

	ASSERT_EQ(0, setup_raw(self->fd, 8, 0, 0, &size));
	ASSERT_EQ(128 + 32 * 8, size);
	EXPECT_EQ(-EBUSY, setup_raw(self->fd, 8, 0, 0, NULL));
	EXPECT_EQ(-EBUSY, setup_raw(self->fd, 16, 0, 0, NULL));
	EXPECT_EQ(-EBUSY, setup_raw(self->fd, 2, 0, 0, NULL));
	/* The first ring is the queue's: 8 entries. */
	ASSERT_EQ(0, map_err(self->fd, size, MAP_SHARED, 0, &p));
	EXPECT_EQ(7, load(&((struct kevent_ring *)p)->mask));
	munmap(p, size);
	/* The helper says so too, and maps nothing. */
	r = kevent_ring_setup(self->fd, 8, &self->map);
	err = errno;
	EXPECT_EQ(-1, r);
	EXPECT_EQ(EBUSY, err);
	EXPECT_EQ(NULL, self->map.ring);
}

TEST_F(evring, size_is_128_plus_32_per_entry_and_the_header_starts_empty)
{
	static const unsigned int sizes[] = { 2, 4, 64, 1024, 32768 };
	unsigned int i;

	EXPECT_EQ(128, sizeof(struct kevent_ring));
	EXPECT_EQ(128, offsetof(struct kevent_ring, entries));
	EXPECT_EQ(64, offsetof(struct kevent_ring, tail));
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct kevent_ring_map map = { 0 };
		unsigned int e = sizes[i];
		int fd = open_queue();
		__u32 size = 0;
		void *p = NULL;

		ASSERT_GE(fd, 0);
		ASSERT_EQ(0, setup_raw(fd, e, 0, 0, &size)) TH_LOG("%u entries", e);
		EXPECT_EQ(128 + 32 * e, size) TH_LOG("%u entries", e);
		ASSERT_EQ(0, map_err(fd, size, MAP_SHARED, 0, &p));
		map.ring = p;
		map.size = size;
		EXPECT_EQ(e - 1, load(&map.ring->mask)) TH_LOG("%u entries", e);
		EXPECT_EQ(0, load(&map.ring->head));
		EXPECT_EQ(0, load(&map.ring->tail));
		EXPECT_EQ(0, load(&map.ring->flags));
		/* Every entry is mapped: the last one can be read and written. */
		map.ring->entries[e - 1].ret_data[0] = 0x5a5a5a5a;
		EXPECT_EQ(0x5a5a5a5a, map.ring->entries[e - 1].ret_data[0]);
		ASSERT_EQ(0, kevent_ring_unmap(&map));
		EXPECT_EQ(NULL, map.ring);
		close(fd);
	}
	/* The helper fills the map from the same figures. */
	RING_UP(16);
	EXPECT_EQ(15, load(&self->map.ring->mask));
	EXPECT_EQ(0, kevent_ring_ready(&self->map));
	EXPECT_FALSE(kevent_ring_backlog(&self->map));
}

TEST_F(evring, mmap_without_a_ring_is_enodev)
{
	EXPECT_EQ(ENODEV, map_err(self->fd, page_size(), MAP_SHARED, 0, NULL));
	EXPECT_EQ(ENODEV, map_err(self->fd, 128 + 32 * 2, MAP_SHARED, 0, NULL));
	/* Once the queue has a ring, the same mmap works. */
	RING_UP(2);
	EXPECT_EQ(0, map_err(self->fd, 128 + 32 * 2, MAP_SHARED, 0, NULL));
}

TEST_F(evring, mmap_needs_map_shared_offset_zero_and_a_length_within_size)
{
	long page = page_size();
	size_t rounded;
	void *p = NULL;
	__u32 size = 0;
	int fd2;

	ASSERT_EQ(0, setup_raw(self->fd, 8, 0, 0, &size));
	EXPECT_EQ(EINVAL, map_err(self->fd, size, MAP_PRIVATE, 0, NULL));
	EXPECT_EQ(EINVAL, map_err(self->fd, size, MAP_SHARED, page, NULL));
	EXPECT_EQ(EINVAL, map_err(self->fd, page, MAP_SHARED, page, NULL));
	EXPECT_EQ(EINVAL, map_err(self->fd, 2 * page, MAP_SHARED, 0, NULL));
	/* The size, or the size rounded up to pages. */
	EXPECT_EQ(0, map_err(self->fd, size, MAP_SHARED, 0, NULL));
	EXPECT_EQ(0, map_err(self->fd, page, MAP_SHARED, 0, NULL));

	/* A ring of several pages: 128 + 32 * 256 bytes, three pages of 4 KiB. */
	fd2 = open_queue();
	ASSERT_GE(fd2, 0);
	ASSERT_EQ(0, setup_raw(fd2, 256, 0, 0, &size));
	ASSERT_EQ(128 + 32 * 256, size);
	rounded = (size + page - 1) / page * page;
	EXPECT_EQ(0, map_err(fd2, rounded, MAP_SHARED, 0, NULL));
	EXPECT_EQ(EINVAL, map_err(fd2, rounded + page, MAP_SHARED, 0, NULL));
	EXPECT_EQ(EINVAL, map_err(fd2, page, MAP_SHARED, page, NULL));
	/* Less than the whole ring: its first page, with the header. */
	ASSERT_EQ(0, map_err(fd2, page, MAP_SHARED, 0, &p));
	EXPECT_EQ(255, load(&((struct kevent_ring *)p)->mask));
	munmap(p, page);
	close(fd2);
}

TEST_F(evring, every_mapping_shows_the_same_ring)
{
	struct kevent_ring *two;
	void *p = NULL;

	RING_UP(4);
	ASSERT_EQ(0, map_err(self->fd, self->map.size, MAP_SHARED, 0, &p));
	two = p;
	ASSERT_NE(self->map.ring, two);
	EXPECT_EQ(3, load(&two->mask));
	ASSERT_EQ(0, add_u(self->fd, 1, KEVENT_REQ_ET));
	ASSERT_EQ(0, ready_u(self->fd, 1, 11, 12));
	/* The kernel's entry, in both. */
	EXPECT_EQ(1, load(&self->map.ring->tail));
	EXPECT_EQ(1, load(&two->tail));
	EXPECT_EQ(11, two->entries[0].ret_data[0]);
	EXPECT_EQ(COOKIE(1), two->entries[0].ptr);
	/* The program's head, written through one and read through the other. */
	kevent_ring_advance(&self->map, 1);
	EXPECT_EQ(1, load(&two->head));
	store(&two->head, 0x12345678);
	EXPECT_EQ(0x12345678, load(&self->map.ring->head));
	store(&two->head, 1);
	EXPECT_EQ(0, kevent_ring_ready(&self->map));
	munmap(two, self->map.size);
	/* The first mapping still works. */
	ASSERT_EQ(0, ready_u(self->fd, 1, 13, 14));
	TAKE_USER(&self->map, 1, 13, 14);
}

/* ---- get-events with KEVENT_GET_RING, and its misuse ------------------ */

TEST_F(evring, get_ring_without_a_ring_is_einval)
{
	struct ukevent ev[2];

	EXPECT_EQ(-EINVAL, rwait(self->fd, 0, 1, 0));
	EXPECT_EQ(-EINVAL, rwait(self->fd, 1, 1, -1));
	/* The queue is fine without it. */
	EXPECT_EQ(0, get_ns(self->fd, 0, 2, 0, ev));
}

TEST_F(evring, get_events_misuse_with_a_ring_is_einval_and_consumes_nothing)
{
	struct ukevent ev[8];
	int r, err, sv[2];

	RING_UP(4);
	/* One event waiting outside the ring. */
	ASSERT_EQ(0, sock_waiting(self->fd, sv, 21));
	ASSERT_EQ(0, kevent_ring_ready(&self->map));

	/* KEVENT_GET_RING takes no buffer. */
	EXPECT_EQ(-EINVAL, get_raw(self->fd, 0, 4, 0, ev, KEVENT_GET_RING));
	/* min_nr above the ring's entries; at most the entries is fine. */
	EXPECT_EQ(-EINVAL, rwait(self->fd, 5, 8, 0));
	EXPECT_EQ(-EINVAL, rwait(self->fd, 5, 8, -1));
	/* Unknown flags. */
	EXPECT_EQ(-EINVAL, get_raw(self->fd, 0, 4, 0, NULL, 0x2));
	EXPECT_EQ(-EINVAL, get_raw(self->fd, 0, 4, 0, NULL, KEVENT_GET_RING | 0x2));
	EXPECT_EQ(-EINVAL, get_raw(self->fd, 0, 4, 0, NULL, 0x80000000));
	/* A get-events that copies: its events go to the ring only. */
	EXPECT_EQ(-EINVAL, get_ns(self->fd, 0, 8, 0, ev));
	EXPECT_EQ(-EINVAL, get_ns(self->fd, 1, 8, -1, ev));
	r = kevent_pget_events_ns(self->fd, 0, 8, 0, ev, 0, NULL);
	err = errno;
	EXPECT_EQ(-1, r);
	EXPECT_EQ(EINVAL, err);
	EXPECT_EQ(0, kevent_ring_ready(&self->map));

	/* The event is still there; PGET_EVENTS with the flag moves it. */
	ASSERT_EQ(1, kevent_pget_events_ns(self->fd, 0, 4, 0, NULL, KEVENT_GET_RING, NULL));
	TAKE_SOCK(&self->map, 21);
	EXPECT_EQ(0, rwait(self->fd, 4, 8, 0));
	close(sv[0]);
	close(sv[1]);
}

/*
 * The kernel never trusts head: one that puts more than `entries` entries
 * between itself and tail makes the ring count as full (no entry is
 * written) and get-events with KEVENT_GET_RING EINVAL.
 */
TEST_F(evring, a_bogus_head_counts_as_full_and_get_ring_is_einval)
{
	struct kevent_ring *r;

	RING_UP(4);
	r = self->map.ring;
	ASSERT_EQ(0, add_u(self->fd, 1, KEVENT_REQ_ET));
	ASSERT_EQ(0, ready_u(self->fd, 1, 1, 0));
	TAKE_USER(&self->map, 1, 1, 0);
	ASSERT_EQ(1, load(&r->tail));

	/* Ahead of tail. */
	store(&r->head, load(&r->tail) + 5);
	EXPECT_EQ(-EINVAL, rwait(self->fd, 0, 4, 0));
	ASSERT_EQ(0, ready_u(self->fd, 1, 2, 0));
	EXPECT_EQ(1, load(&r->tail));			/* not written */
	EXPECT_TRUE(kevent_ring_backlog(&self->map));	/* it waits outside */
	/* More than `entries` behind. */
	store(&r->head, load(&r->tail) - 5);
	EXPECT_EQ(-EINVAL, rwait(self->fd, 0, 4, 0));
	EXPECT_EQ(1, load(&r->tail));
	/* Exactly `entries` behind is a full ring, not a bogus one. */
	store(&r->head, load(&r->tail) - 4);
	EXPECT_EQ(4, rwait(self->fd, 0, 4, 0));
	EXPECT_EQ(1, load(&r->tail));
	EXPECT_TRUE(kevent_ring_backlog(&self->map));
	/* A sane head again: the waiting event moves in. */
	store(&r->head, load(&r->tail));
	EXPECT_EQ(1, rwait(self->fd, 0, 4, 0));
	TAKE_USER(&self->map, 1, 2, 0);
}

/* ---- events written at wake-up ---------------------------------------- */

TEST_F(evring, edge_triggered_user_is_written_at_each_ready)
{
	struct kevent_ring_entry out[8];
	int i;

	RING_UP(8);
	ASSERT_EQ(0, add_u(self->fd, 1, KEVENT_REQ_ET));
	ASSERT_EQ(0, add_u(self->fd, 2, KEVENT_REQ_ET));
	EXPECT_EQ(0, kevent_ring_ready(&self->map));
	/* One entry per READY, each there when the READY returns. */
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, ready_u(self->fd, 1, 10 + i, 100 + i));
		EXPECT_EQ(i + 1, load(&self->map.ring->tail));
		EXPECT_EQ(i + 1, kevent_ring_ready(&self->map));
	}
	EXPECT_FALSE(kevent_ring_backlog(&self->map));
	for (i = 0; i < 3; i++)
		CHECK_USER(kevent_ring_entry_at(&self->map, i), 1, 10 + i, 100 + i);
	/* get-events counts the unread entries, and moves nothing. */
	EXPECT_EQ(3, rwait(self->fd, 0, 8, 0));
	EXPECT_EQ(3, rwait(self->fd, 3, 8, -1));
	ASSERT_EQ(3, kevent_ring_copy(&self->map, out, 8));
	for (i = 0; i < 3; i++)
		CHECK_USER(&out[i], 1, 10 + i, 100 + i);
	EXPECT_EQ(3, load(&self->map.ring->head));
	EXPECT_EQ(0, kevent_ring_ready(&self->map));
	EXPECT_EQ(0, rwait(self->fd, 0, 8, 0));

	/* Entries keep the order of the READYs, whatever the request. */
	ASSERT_EQ(0, ready_u(self->fd, 1, 31, 0));
	ASSERT_EQ(0, ready_u(self->fd, 2, 32, 0));
	ASSERT_EQ(0, ready_u(self->fd, 1, 33, 0));
	ASSERT_EQ(3, kevent_ring_copy(&self->map, out, 8));
	CHECK_USER(&out[0], 1, 31, 0);
	CHECK_USER(&out[1], 2, 32, 0);
	CHECK_USER(&out[2], 1, 33, 0);
	/* An entry stays when its request goes. */
	ASSERT_EQ(0, ready_u(self->fd, 2, 34, 0));
	ASSERT_EQ(0, remove_u(self->fd, 2));
	TAKE_USER(&self->map, 2, 34, 0);
	EXPECT_EQ(0, rwait(self->fd, 0, 8, 0));
}

/* A KEVENT_POLL entry of request fd/cookie with POLLIN among its bits. */
static void check_pollin(struct __test_metadata *_metadata, int line,
			 const struct kevent_ring_entry *e, int fd, __u64 cookie, __u32 wanted)
{
	EXPECT_EQ(KEVENT_POLL, e->type) TH_LOG("line %d", line);
	EXPECT_EQ((__u32)fd, e->id.raw[0]) TH_LOG("line %d", line);
	EXPECT_EQ(cookie, e->ptr) TH_LOG("line %d", line);
	EXPECT_EQ(DONE, e->ret_flags) TH_LOG("line %d", line);
	EXPECT_TRUE(e->ret_data[0] & POLLIN) TH_LOG("line %d: bits %#x", line, e->ret_data[0]);
	/* The wanted bits that fired, and POLLERR and POLLHUP: nothing else. */
	EXPECT_EQ(0, e->ret_data[0] & ~(wanted | POLLERR | POLLHUP))
		TH_LOG("line %d: bits %#x", line, e->ret_data[0]);
}

#define CHECK_POLLIN(e, fd, cookie, wanted) check_pollin(_metadata, __LINE__, e, fd, cookie, wanted)

TEST_F(evring, edge_triggered_poll_on_an_eventfd_is_written_at_its_wakeup)
{
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct ukevent uk = uk_make(KEVENT_POLL, efd, 0, POLLIN, KEVENT_REQ_ET, 0xef);
	uint64_t one = 1, v;

	ASSERT_GE(efd, 0);
	RING_UP(8);
	ASSERT_EQ(0, ctl1(self->fd, KEVENT_CTL_ADD, &uk));
	EXPECT_EQ(0, kevent_ring_ready(&self->map));
	/* No get-events anywhere: the write's wake-up writes the entry. */
	ASSERT_EQ(sizeof(one), write(efd, &one, sizeof(one)));
	ASSERT_EQ(1, kevent_ring_ready(&self->map));
	CHECK_POLLIN(kevent_ring_entry_at(&self->map, 0), efd, 0xef, POLLIN);
	/* One entry per wake-up. */
	ASSERT_EQ(sizeof(one), write(efd, &one, sizeof(one)));
	ASSERT_EQ(2, kevent_ring_ready(&self->map));
	CHECK_POLLIN(kevent_ring_entry_at(&self->map, 1), efd, 0xef, POLLIN);
	EXPECT_FALSE(kevent_ring_backlog(&self->map));
	/* A read wakes with POLLOUT only, which was not asked for: no entry. */
	ASSERT_EQ(sizeof(v), read(efd, &v, sizeof(v)));
	EXPECT_EQ(2, v);
	EXPECT_EQ(2, kevent_ring_ready(&self->map));
	kevent_ring_advance(&self->map, 2);
	EXPECT_EQ(0, rwait(self->fd, 0, 8, 0));
	close(efd);
}

TEST_F(evring, edge_triggered_poll_on_a_pipe_is_written_at_its_wakeup)
{
	struct ukevent uk;
	int p[2];

	ASSERT_EQ(0, pipe2(p, O_CLOEXEC | O_NONBLOCK));
	uk = uk_make(KEVENT_POLL, p[0], 0, POLLIN | POLLRDNORM, KEVENT_REQ_ET, 0x919e);
	RING_UP(4);
	ASSERT_EQ(0, ctl1(self->fd, KEVENT_CTL_ADD, &uk));
	EXPECT_EQ(0, kevent_ring_ready(&self->map));
	ASSERT_EQ(1, write(p[1], "x", 1));
	ASSERT_EQ(1, kevent_ring_ready(&self->map));
	CHECK_POLLIN(kevent_ring_entry_at(&self->map, 0), p[0], 0x919e, POLLIN | POLLRDNORM);
	kevent_ring_advance(&self->map, 1);
	/* Edge-triggered: the pipe still readable makes nothing new. */
	EXPECT_EQ(0, rwait(self->fd, 0, 4, 0));
	close(p[0]);
	close(p[1]);
}

TEST_F(evring, inode_notifications_are_written_one_entry_each)
{
	char dir[] = "/tmp/kevent-ring-XXXXXX", path[64];
	struct ukevent uk;
	int rfd, wfd, i;

	ASSERT_NE(NULL, mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/f", dir);
	wfd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
	ASSERT_GE(wfd, 0);
	rfd = open(path, O_RDONLY | O_CLOEXEC);
	ASSERT_GE(rfd, 0);
	RING_UP(8);
	uk = uk_make(KEVENT_INODE, rfd, 0, KEVENT_INODE_WRITE, 0, 0x10de);
	ASSERT_EQ(0, ctl1(self->fd, KEVENT_CTL_ADD, &uk));
	EXPECT_EQ(0, kevent_ring_ready(&self->map));
	/* Each write is there when it returns, with a count of 1: no merging. */
	for (i = 0; i < 3; i++) {
		const struct kevent_ring_entry *e;

		ASSERT_EQ(1, write(wfd, "k", 1));
		ASSERT_EQ(i + 1, kevent_ring_ready(&self->map));
		e = kevent_ring_entry_at(&self->map, i);
		EXPECT_EQ(KEVENT_INODE, e->type);
		EXPECT_EQ((__u32)rfd, e->id.raw[0]);
		EXPECT_EQ(0x10de, e->ptr);
		EXPECT_EQ(DONE, e->ret_flags);
		EXPECT_EQ(KEVENT_INODE_WRITE, e->ret_data[0]);
		EXPECT_EQ(1, e->ret_data[1]);
	}
	/* A notification of nothing asked for makes no entry. */
	ASSERT_EQ(0, fchmod(wfd, 0600));
	EXPECT_EQ(3, kevent_ring_ready(&self->map));
	EXPECT_FALSE(kevent_ring_backlog(&self->map));
	kevent_ring_advance(&self->map, 3);
	EXPECT_EQ(0, rwait(self->fd, 0, 8, 0));
	close(wfd);
	close(rfd);
	unlink(path);
	rmdir(dir);
}

/* ---- events that get-events moves in ---------------------------------- */

TEST_F(evring, level_triggered_poll_waits_outside_until_get_ring)
{
	struct pollfd pfd = { .events = POLLIN | POLLRDNORM };
	struct ukevent uk;
	char c;
	int p[2];

	ASSERT_EQ(0, pipe2(p, O_CLOEXEC | O_NONBLOCK));
	uk = uk_make(KEVENT_POLL, p[0], 0, POLLIN, 0, 0x1e7e1);
	RING_UP(4);
	ASSERT_EQ(0, ctl1(self->fd, KEVENT_CTL_ADD, &uk));
	ASSERT_EQ(1, write(p[1], "x", 1));
	/* Level-triggered: not written at the wake-up, but waiting. */
	EXPECT_EQ(0, kevent_ring_ready(&self->map));
	EXPECT_TRUE(kevent_ring_backlog(&self->map));
	pfd.fd = self->fd;
	EXPECT_EQ(1, poll(&pfd, 1, 0));
	ASSERT_EQ(1, rwait(self->fd, 0, 4, 0));
	CHECK_POLLIN(kevent_ring_entry_at(&self->map, 0), p[0], 0x1e7e1, POLLIN);
	kevent_ring_advance(&self->map, 1);
	/* Still readable: delivered again at the next call, once per call. */
	ASSERT_EQ(1, rwait(self->fd, 0, 4, 0));
	CHECK_POLLIN(kevent_ring_entry_at(&self->map, 0), p[0], 0x1e7e1, POLLIN);
	kevent_ring_advance(&self->map, 1);
	ASSERT_EQ(1, rwait(self->fd, 0, 4, 0));
	kevent_ring_advance(&self->map, 1);
	/* Drained: the pipe is asked again, and nothing comes. */
	ASSERT_EQ(1, read(p[0], &c, 1));
	EXPECT_EQ(0, rwait(self->fd, 0, 4, 0));
	EXPECT_EQ(0, kevent_ring_ready(&self->map));
	EXPECT_EQ(0, poll(&pfd, 1, 0));
	close(p[0]);
	close(p[1]);
}

TEST_F(evring, level_triggered_user_waits_outside_until_get_ring)
{
	RING_UP(4);
	ASSERT_EQ(0, add_u(self->fd, 1, 0));
	ASSERT_EQ(0, ready_u(self->fd, 1, 7, 8));
	EXPECT_EQ(0, kevent_ring_ready(&self->map));
	EXPECT_TRUE(kevent_ring_backlog(&self->map));
	ASSERT_EQ(1, rwait(self->fd, 0, 4, 0));
	TAKE_USER(&self->map, 1, 7, 8);
	/* It stays ready: one entry per call. */
	ASSERT_EQ(1, rwait(self->fd, 0, 4, 0));
	TAKE_USER(&self->map, 1, 7, 8);
	ASSERT_EQ(1, rwait(self->fd, 1, 4, -1));
	/* Removed, it is not delivered again; its entry stays. */
	ASSERT_EQ(0, remove_u(self->fd, 1));
	TAKE_USER(&self->map, 1, 7, 8);
	EXPECT_EQ(0, rwait(self->fd, 0, 4, 0));
	EXPECT_EQ(0, kevent_ring_ready(&self->map));
}

TEST_F(evring, oneshot_user_is_written_at_its_ready_and_leaves_the_queue)
{
	struct kevent_ring_entry out[4];

	RING_UP(4);
	ASSERT_EQ(0, add_u(self->fd, 1, KEVENT_REQ_ONESHOT));
	ASSERT_EQ(0, add_u(self->fd, 2, KEVENT_REQ_ONESHOT | KEVENT_REQ_ET));
	ASSERT_EQ(0, ready_u(self->fd, 1, 1, 0));
	ASSERT_EQ(0, ready_u(self->fd, 2, 2, 0));
	/* One-shots, edge-triggered or not, are written at their READY. */
	EXPECT_EQ(2, kevent_ring_ready(&self->map));
	EXPECT_FALSE(kevent_ring_backlog(&self->map));
	ASSERT_EQ(2, kevent_ring_copy(&self->map, out, 4));
	CHECK_USER(&out[0], 1, 1, 0);
	CHECK_USER(&out[1], 2, 2, 0);
	/* They left the queue with their entries. */
	EXPECT_EQ(ENOENT, remove_u(self->fd, 1));
	EXPECT_EQ(ENOENT, ready_u(self->fd, 2, 0, 0));
	EXPECT_EQ(0, rwait(self->fd, 0, 4, 0));
	/* Their identities are free again, even before any call reaped them. */
	ASSERT_EQ(0, add_u(self->fd, 1, KEVENT_REQ_ONESHOT));
	ASSERT_EQ(0, ready_u(self->fd, 1, 3, 0));
	ASSERT_EQ(0, add_u(self->fd, 1, KEVENT_REQ_ONESHOT));
	ASSERT_EQ(0, ready_u(self->fd, 1, 4, 0));
	ASSERT_EQ(2, kevent_ring_copy(&self->map, out, 4));
	CHECK_USER(&out[0], 1, 3, 0);
	CHECK_USER(&out[1], 1, 4, 0);
	EXPECT_EQ(ENOENT, remove_u(self->fd, 1));
}

TEST_F(evring, max_nr_bounds_the_events_moved_and_the_ring_what_fits)
{
	struct kevent_ring_entry out[4];
	int i;

	RING_UP(4);
	/* Four edge-triggered READYs fill the ring... */
	ASSERT_EQ(0, add_u(self->fd, 100, KEVENT_REQ_ET));
	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, ready_u(self->fd, 100, i, 0));
	/* ...so six one-shots wait outside it. */
	for (i = 1; i <= 6; i++) {
		ASSERT_EQ(0, add_u(self->fd, i, KEVENT_REQ_ONESHOT));
		ASSERT_EQ(0, ready_u(self->fd, i, 100 + i, 0));
	}
	EXPECT_EQ(4, kevent_ring_ready(&self->map));
	EXPECT_TRUE(kevent_ring_backlog(&self->map));
	ASSERT_EQ(4, kevent_ring_copy(&self->map, out, 4));
	EXPECT_EQ(0, kevent_ring_ready(&self->map));
	/* The call returns the unread entries, not what it moved. */
	EXPECT_EQ(2, rwait(self->fd, 0, 2, 0));
	EXPECT_EQ(3, rwait(self->fd, 0, 1, 0));
	/* Room for one more of the three left. */
	EXPECT_EQ(4, rwait(self->fd, 0, 8, 0));
	EXPECT_TRUE(kevent_ring_backlog(&self->map));
	EXPECT_EQ(4, rwait(self->fd, 0, 8, 0));
	ASSERT_EQ(4, kevent_ring_copy(&self->map, out, 4));
	for (i = 0; i < 4; i++)
		CHECK_USER(&out[i], i + 1, 101 + i, 0);
	EXPECT_EQ(2, rwait(self->fd, 0, 8, 0));
	ASSERT_EQ(2, kevent_ring_copy(&self->map, out, 4));
	CHECK_USER(&out[0], 5, 105, 0);
	CHECK_USER(&out[1], 6, 106, 0);
	EXPECT_EQ(0, rwait(self->fd, 0, 8, 0));
	EXPECT_EQ(ENOENT, remove_u(self->fd, 6));
}

TEST_F(evring, periodic_timer_is_moved_in_with_its_expirations_never_early)
{
	const int64_t period = 10 * NSEC_PER_MSEC;
	struct ukevent uk = uk_make(KEVENT_TIMER, 10, 0, KEVENT_TIMER_UNIT_MS, 0, 0x7133);
	struct kevent_ring_entry out[4];
	int64_t t_add, t_end;
	long long sum = 0;
	int n, i, calls = 0;

	RING_UP(4);
	t_add = now_ns();
	ASSERT_EQ(0, ctl1(self->fd, KEVENT_CTL_ADD, &uk));
	/* Expired, and not written: timers wait outside (however late the
	 * first expiry comes, within 10 s). */
	for (i = 0; i < 10000 && !kevent_ring_backlog(&self->map); i++)
		usleep(1000);
	EXPECT_TRUE(kevent_ring_backlog(&self->map));
	EXPECT_EQ(0, kevent_ring_ready(&self->map));
	while (now_ns() - t_add < 300 * NSEC_PER_MSEC || !calls) {
		n = rwait(self->fd, 1, 4, -1);
		ASSERT_GE(n, 1);
		n = kevent_ring_copy(&self->map, out, 4);
		ASSERT_GE(n, 1);
		for (i = 0; i < n; i++) {
			EXPECT_EQ(KEVENT_TIMER, out[i].type);
			EXPECT_EQ(10, out[i].id.raw[0]);
			EXPECT_EQ(0x7133, out[i].ptr);
			EXPECT_EQ(DONE, out[i].ret_flags);
			EXPECT_GE(out[i].ret_data[0], 1);
			EXPECT_EQ(0, out[i].ret_data[1]);
			sum += out[i].ret_data[0];
		}
		calls++;
	}
	t_end = now_ns();
	/* Never early: no more expirations than periods elapsed. */
	EXPECT_GE(sum, 5);
	EXPECT_LE(sum, (t_end - t_add) / period);
	TH_LOG("%lld expirations in %d calls over %lld ms", sum, calls,
	       (long long)((t_end - t_add) / NSEC_PER_MSEC));
	ASSERT_EQ(0, ctl1(self->fd, KEVENT_CTL_REMOVE, &uk));
}

TEST_F(evring, oneshot_timer_is_never_early_and_leaves_the_queue)
{
	struct ukevent uk = uk_make(KEVENT_TIMER, 30, 0, KEVENT_TIMER_UNIT_MS,
				    KEVENT_REQ_ONESHOT, 1);
	const struct kevent_ring_entry *e;
	int64_t t0;

	RING_UP(2);
	t0 = now_ns();
	ASSERT_EQ(0, ctl1(self->fd, KEVENT_CTL_ADD, &uk));
	ASSERT_EQ(1, rwait(self->fd, 1, 2, -1));
	EXPECT_GE(now_ns() - t0, 30 * NSEC_PER_MSEC);
	e = kevent_ring_entry_at(&self->map, 0);
	EXPECT_EQ(KEVENT_TIMER, e->type);
	EXPECT_EQ(1, e->ret_data[0]);
	kevent_ring_advance(&self->map, 1);
	EXPECT_EQ(ENOENT, ctl1(self->fd, KEVENT_CTL_REMOVE, &uk));
}

TEST_F(evring, socket_recv_is_moved_in_with_its_bytes)
{
	const struct kevent_ring_entry *e;
	struct ukevent uk;
	char buf[16];
	int sv[2];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv));
	uk = uk_make(KEVENT_SOCKET, sv[0], 0, KEVENT_SOCKET_RECV, 0, 0x50c);
	RING_UP(4);
	ASSERT_EQ(0, ctl1(self->fd, KEVENT_CTL_ADD, &uk));
	EXPECT_EQ(0, rwait(self->fd, 0, 4, 0));
	ASSERT_EQ(5, write(sv[1], "hello", 5));
	EXPECT_EQ(0, kevent_ring_ready(&self->map));
	EXPECT_TRUE(kevent_ring_backlog(&self->map));
	ASSERT_EQ(1, rwait(self->fd, 0, 4, 0));
	e = kevent_ring_entry_at(&self->map, 0);
	EXPECT_EQ(KEVENT_SOCKET, e->type);
	EXPECT_EQ((__u32)sv[0], e->id.raw[0]);
	EXPECT_EQ(0x50c, e->ptr);
	EXPECT_EQ(DONE, e->ret_flags);
	EXPECT_EQ(5, e->ret_data[0]);
	EXPECT_EQ(0, e->ret_data[1]);
	kevent_ring_advance(&self->map, 1);
	/* The figure is read when the event moves in. */
	ASSERT_EQ(3, write(sv[1], "abc", 3));
	ASSERT_EQ(1, rwait(self->fd, 0, 4, 0));
	EXPECT_EQ(8, kevent_ring_entry_at(&self->map, 0)->ret_data[0]);
	kevent_ring_advance(&self->map, 1);
	ASSERT_EQ(8, read(sv[0], buf, sizeof(buf)));
	EXPECT_EQ(0, rwait(self->fd, 0, 4, 0));
	/* The peer's shutdown: EOF, nothing left to read. */
	ASSERT_EQ(0, shutdown(sv[1], SHUT_WR));
	ASSERT_EQ(1, rwait(self->fd, 0, 4, 0));
	e = kevent_ring_entry_at(&self->map, 0);
	EXPECT_EQ(DONE | KEVENT_RET_EOF, e->ret_flags);
	EXPECT_EQ(0, e->ret_data[0]);
	kevent_ring_advance(&self->map, 1);
	close(sv[0]);
	close(sv[1]);
}

/* ---- a full ring: the ready list takes over --------------------------- */

TEST_F(evring, full_ring_falls_back_on_the_ready_list_and_loses_nothing)
{
	struct kevent_ring_entry out[2];
	int seen[11] = { 0 }, order[32], got = 0, calls = 0, i, n, r;

	RING_UP(2);
	for (i = 1; i <= 10; i++)
		ASSERT_EQ(0, add_u(self->fd, i, KEVENT_REQ_ET));
	for (i = 1; i <= 10; i++)
		ASSERT_EQ(0, ready_u(self->fd, i, 100 + i, 0));
	/* Two written at once; eight wait outside. */
	EXPECT_EQ(2, load(&self->map.ring->tail));
	EXPECT_EQ(2, kevent_ring_ready(&self->map));
	EXPECT_TRUE(kevent_ring_backlog(&self->map));
	while (calls++ < 100) {
		n = kevent_ring_copy(&self->map, out, 2);
		for (i = 0; i < n; i++) {
			__u32 id = out[i].id.raw[0];

			ASSERT_GE(id, 1);
			ASSERT_LE(id, 10);
			CHECK_USER(&out[i], id, 100 + id, 0);
			seen[id]++;
			if (got < 32)
				order[got] = id;
			got++;
		}
		if (n)
			continue;
		r = rwait(self->fd, 0, 2, 0);
		ASSERT_GE(r, 0);
		if (r == 0)
			break;
	}
	/* Every request once, in the order they became ready. */
	ASSERT_EQ(10, got);
	for (i = 1; i <= 10; i++) {
		EXPECT_EQ(1, seen[i]) TH_LOG("request %d", i);
		EXPECT_EQ(i, order[i - 1]);
	}
	EXPECT_EQ(0, rwait(self->fd, 0, 2, 0));
}

/*
 * While events wait outside, a new one goes behind them even if the ring
 * has room (entries keep the order in which requests became ready), and
 * an edge-triggered request waiting there is in line once, with its
 * latest payload, as on the ready list without a ring.
 */
TEST_F(evring, the_backlog_keeps_the_order_and_coalesces_like_the_ready_list)
{
	struct kevent_ring_entry out[2];

	RING_UP(2);
	ASSERT_EQ(0, add_u(self->fd, 1, KEVENT_REQ_ET));
	ASSERT_EQ(0, add_u(self->fd, 2, KEVENT_REQ_ET));
	ASSERT_EQ(0, add_u(self->fd, 3, KEVENT_REQ_ET));
	ASSERT_EQ(0, ready_u(self->fd, 1, 10, 0));
	ASSERT_EQ(0, ready_u(self->fd, 2, 20, 0));
	ASSERT_EQ(2, kevent_ring_ready(&self->map));
	/* Full: 3 waits outside, its two READYs one event. */
	ASSERT_EQ(0, ready_u(self->fd, 3, 30, 0));
	ASSERT_EQ(0, ready_u(self->fd, 3, 31, 0));
	/* 1 has an entry in the ring; its new READY waits too. */
	ASSERT_EQ(0, ready_u(self->fd, 1, 11, 0));
	EXPECT_EQ(2, load(&self->map.ring->tail));
	EXPECT_TRUE(kevent_ring_backlog(&self->map));
	ASSERT_EQ(2, kevent_ring_copy(&self->map, out, 2));
	CHECK_USER(&out[0], 1, 10, 0);
	CHECK_USER(&out[1], 2, 20, 0);
	/* The ring is empty, but 3 and 1 wait: 2 goes behind them. */
	ASSERT_EQ(0, ready_u(self->fd, 2, 21, 0));
	EXPECT_EQ(0, kevent_ring_ready(&self->map));
	EXPECT_EQ(2, load(&self->map.ring->tail));
	ASSERT_EQ(2, rwait(self->fd, 0, 8, 0));
	EXPECT_TRUE(kevent_ring_backlog(&self->map));	/* 2 still waits */
	ASSERT_EQ(2, kevent_ring_copy(&self->map, out, 2));
	CHECK_USER(&out[0], 3, 31, 0);
	CHECK_USER(&out[1], 1, 11, 0);
	ASSERT_EQ(1, rwait(self->fd, 0, 8, 0));
	TAKE_USER(&self->map, 2, 21, 0);
	EXPECT_EQ(0, rwait(self->fd, 0, 8, 0));
	/* Nothing waits any more: a READY is written at once again. */
	ASSERT_EQ(0, ready_u(self->fd, 3, 32, 0));
	TAKE_USER(&self->map, 3, 32, 0);
}

/* ---- the counters wrap around the entries ----------------------------- */

TEST_F(evring, counters_wrap_around_the_entries)
{
	const unsigned int total = 6000;
	unsigned int sent = 0, done = 0, round, i, batch;
	struct kevent_ring *r;

	RING_UP(4);
	r = self->map.ring;
	ASSERT_EQ(0, add_u(self->fd, 1, KEVENT_REQ_ET));
	for (round = 0; sent < total; round++) {
		struct kevent_ring_entry out[4];

		/* 1 to 4 entries a turn: the index wraps at every place in a batch. */
		batch = round % 4 + 1;
		if (batch > total - sent)
			batch = total - sent;
		for (i = 0; i < batch; i++, sent++)
			ASSERT_EQ(0, ready_u(self->fd, 1, sent, ~sent));
		ASSERT_EQ(sent, load(&r->tail));
		ASSERT_EQ(batch, kevent_ring_ready(&self->map));
		ASSERT_FALSE(kevent_ring_backlog(&self->map));
		if (round % 2) {
			for (i = 0; i < batch; i++) {
				const struct kevent_ring_entry *e;

				e = kevent_ring_entry_at(&self->map, i);
				ASSERT_EQ(&r->entries[(done + i) & 3], e);
				ASSERT_EQ(done + i, e->ret_data[0]);
				ASSERT_EQ(~(done + i), e->ret_data[1]);
			}
			kevent_ring_advance(&self->map, batch);
		} else {
			/* In two copies: one entry, then the rest. */
			ASSERT_EQ(1, kevent_ring_copy(&self->map, out, 1));
			ASSERT_EQ(batch - 1, kevent_ring_copy(&self->map, out + 1, 4));
			for (i = 0; i < batch; i++) {
				ASSERT_EQ(done + i, out[i].ret_data[0]);
				ASSERT_EQ(~(done + i), out[i].ret_data[1]);
				ASSERT_EQ(COOKIE(1), out[i].ptr);
			}
		}
		done += batch;
		ASSERT_EQ(done, load(&r->head));
	}
	EXPECT_EQ(total, load(&r->tail));
	EXPECT_EQ(0, rwait(self->fd, 0, 4, 0));
}

/* ---- waiting ---------------------------------------------------------- */

struct trigger {
	int fd;
	__u32 id;
	int delay_ms;
	atomic_llong at;	/* now_ns() just before the READY; -1 if it failed */
};

static void *trigger_later(void *arg)
{
	struct trigger *t = arg;

	usleep(t->delay_ms * 1000);
	atomic_store(&t->at, now_ns());
	if (ready_u(t->fd, t->id, 77, 0))
		atomic_store(&t->at, -1);
	return NULL;
}

/* Waits with min_nr 1 while a thread makes request id ready in 100 ms. */
static void wait_for_trigger(struct __test_metadata *_metadata, int fd, __u32 id)
{
	struct trigger t = { .fd = fd, .id = id, .delay_ms = 100, .at = 0 };
	int64_t t0 = now_ns(), t1;
	pthread_t th;
	int n;

	ASSERT_EQ(0, pthread_create(&th, NULL, trigger_later, &t));
	n = rwait(fd, 1, 4, 20 * NSEC_PER_SEC);
	t1 = now_ns();
	pthread_join(th, NULL);
	ASSERT_GT(atomic_load(&t.at), 0);
	ASSERT_EQ(1, n);
	/* Woken by the READY, not by the timeout. */
	EXPECT_GE(t1, atomic_load(&t.at));
	EXPECT_LT(t1 - t0, 10 * NSEC_PER_SEC);
}

TEST_F(evring, ring_wait_sleeps_until_an_entry_is_written)
{
	RING_UP(4);
	ASSERT_EQ(0, add_u(self->fd, 1, KEVENT_REQ_ET));
	ASSERT_EQ(0, add_u(self->fd, 2, KEVENT_REQ_ONESHOT));
	/* Written at the wake-up. */
	wait_for_trigger(_metadata, self->fd, 1);
	TAKE_USER(&self->map, 1, 77, 0);
	/* Waiting outside: the waiter moves it in. */
	wait_for_trigger(_metadata, self->fd, 2);
	TAKE_USER(&self->map, 2, 77, 0);
}

TEST_F(evring, ring_wait_timeout_returns_the_unread_and_is_never_early)
{
	int64_t t0;

	RING_UP(4);
	t0 = now_ns();
	EXPECT_EQ(0, rwait(self->fd, 1, 4, 50 * NSEC_PER_MSEC));
	EXPECT_GE(now_ns() - t0, 50 * NSEC_PER_MSEC);
	ASSERT_EQ(0, add_u(self->fd, 1, KEVENT_REQ_ET));
	ASSERT_EQ(0, ready_u(self->fd, 1, 1, 0));
	/* One unread of two wanted: the timeout, then the one. */
	t0 = now_ns();
	EXPECT_EQ(1, rwait(self->fd, 2, 4, 30 * NSEC_PER_MSEC));
	EXPECT_GE(now_ns() - t0, 30 * NSEC_PER_MSEC);
	/* Unread entries count towards min_nr: no wait. */
	ASSERT_EQ(0, ready_u(self->fd, 1, 2, 0));
	t0 = now_ns();
	EXPECT_EQ(2, rwait(self->fd, 2, 4, -1));
	EXPECT_LT(now_ns() - t0, 5 * NSEC_PER_SEC);
	EXPECT_EQ(2, kevent_ring_ready(&self->map));
}

TEST_F(evring, nonblocking_ring_wait_is_eagain_with_nothing_unread)
{
	RING_UP(4);
	ASSERT_EQ(0, fcntl(self->fd, F_SETFL, O_NONBLOCK));
	EXPECT_EQ(-EAGAIN, rwait(self->fd, 1, 4, -1));
	EXPECT_EQ(-EAGAIN, rwait(self->fd, 1, 4, 0));
	/* Whatever min_nr, as a get-events that copies. */
	EXPECT_EQ(-EAGAIN, rwait(self->fd, 0, 4, -1));
	ASSERT_EQ(0, add_u(self->fd, 1, KEVENT_REQ_ET));
	ASSERT_EQ(0, ready_u(self->fd, 1, 1, 0));
	/* Fewer than min_nr: what there is, at once. */
	EXPECT_EQ(1, rwait(self->fd, 2, 4, -1));
	TAKE_USER(&self->map, 1, 1, 0);
	EXPECT_EQ(-EAGAIN, rwait(self->fd, 1, 4, -1));
	/* An event waiting outside is moved in, not EAGAIN. */
	ASSERT_EQ(0, add_u(self->fd, 2, KEVENT_REQ_ONESHOT));
	ASSERT_EQ(0, ready_u(self->fd, 2, 2, 0));
	EXPECT_EQ(1, rwait(self->fd, 1, 4, -1));
	TAKE_USER(&self->map, 2, 2, 0);
}

/* A copying get-events of up to 5 s on fd; returns -errno or the count. */
struct plain_wait {
	int fd;
	atomic_int tid;		/* the waiting thread, once it runs */
	int result;
	int64_t took_ns;
};

static void *plain_wait(void *arg)
{
	struct plain_wait *w = arg;
	struct ukevent ev[4];
	int64_t t0 = now_ns();

	atomic_store(&w->tid, (int)syscall(SYS_gettid));
	w->result = get_ns(w->fd, 1, 4, 5 * NSEC_PER_SEC, ev);
	w->took_ns = now_ns() - t0;
	return NULL;
}

/*
 * A copying get-events that was waiting when the ring was set up fails
 * with EINVAL at once: its events now go to the ring. (It once spun in
 * the kernel, unkillable, counting the ring's entries as its own.)
 */
TEST_F(evring, a_copying_wait_fails_when_the_ring_is_set_up)
{
	struct plain_wait w = { .fd = self->fd };
	pthread_t th;

	ASSERT_EQ(0, add_u(self->fd, 1, KEVENT_REQ_ET));
	ASSERT_EQ(0, pthread_create(&th, NULL, plain_wait, &w));
	/* The wait has begun (a get-events that begins after the set-up
	 * fails at once, and would not test this). */
	while (!atomic_load(&w.tid))
		usleep(1000);
	ASSERT_TRUE(wait_in_ioctl(getpid(), atomic_load(&w.tid),
				  (unsigned long)KEVENT_IOC_GET_EVENTS));
	RING_UP(4);
	ASSERT_EQ(0, ready_u(self->fd, 1, 5, 0));
	pthread_join(th, NULL);
	EXPECT_EQ(-EINVAL, w.result);
	EXPECT_LT(w.took_ns, 4 * NSEC_PER_SEC);
	TAKE_USER(&self->map, 1, 5, 0);
}

TEST_F(evring, poll_sees_unread_entries_and_events_waiting_outside)
{
	struct pollfd pfd = { .fd = self->fd, .events = POLLIN | POLLRDNORM };
	struct trigger t = { .fd = self->fd, .id = 1, .delay_ms = 50, .at = 0 };
	pthread_t th;
	int sv[2];

	RING_UP(4);
	ASSERT_EQ(0, add_u(self->fd, 1, KEVENT_REQ_ET));
	EXPECT_EQ(0, poll(&pfd, 1, 0));
	/* An unread entry. */
	ASSERT_EQ(0, ready_u(self->fd, 1, 1, 0));
	ASSERT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_EQ(POLLIN | POLLRDNORM, pfd.revents);
	kevent_ring_advance(&self->map, 1);
	EXPECT_EQ(0, poll(&pfd, 1, 0));
	/* An event waiting outside, then its entry. */
	ASSERT_EQ(0, sock_waiting(self->fd, sv, 2));
	EXPECT_EQ(0, kevent_ring_ready(&self->map));
	ASSERT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_EQ(POLLIN | POLLRDNORM, pfd.revents);
	ASSERT_EQ(1, rwait(self->fd, 0, 4, 0));
	EXPECT_EQ(1, poll(&pfd, 1, 0));
	kevent_ring_advance(&self->map, 1);
	EXPECT_EQ(0, poll(&pfd, 1, 0));
	/* poll() sleeps until an entry is written. */
	ASSERT_EQ(0, pthread_create(&th, NULL, trigger_later, &t));
	EXPECT_EQ(1, poll(&pfd, 1, 10000));
	pthread_join(th, NULL);
	ASSERT_GT(atomic_load(&t.at), 0);
	TAKE_USER(&self->map, 1, 77, 0);
	close(sv[0]);
	close(sv[1]);
}

/* ---- producers and a consumer on threads ------------------------------ */

/*
 * PRODUCERS threads each add and make ready PER_PRODUCER fresh
 * edge-triggered user requests, request (t, s) with id (t, s), cookie
 * t << 32 | s and payload (t, s); one consumer thread reads a ring of 8
 * entries, and waits with KEVENT_GET_RING when it is empty.
 *
 * The invariant: each request is made ready exactly once and never
 * removed, so it makes exactly one event: an entry written by its READY
 * if the ring has room and nothing waits outside, or else one event on
 * the ready list that a get-events moves in. (An edge-triggered request
 * made ready twice while it waits on the list would be one event with the
 * latest payload: that is why no request is made ready twice.) So the
 * consumer must see every (t, s) exactly once; and since the ring keeps
 * the order in which requests became ready and each producer's READYs
 * follow one another, it sees each producer's s in increasing order.
 *
 * The consumer starts reading only after 64 READYs, so the ring is full
 * then and the backlog in use (its flag must be set).
 */
#define PRODUCERS 4
#define PER_PRODUCER 2000
#define RING_ENTRIES 8

struct mt {
	int fd;
	struct kevent_ring_map *map;
	atomic_int readied;		/* READYs done */
	atomic_int producer_errors;
	int consumer_errors;		/* of the consumer alone, read after join */
	int out_of_order;
	int got;
	int ready_at_start, backlog_at_start;
	int waits;
	unsigned char seen[PRODUCERS][PER_PRODUCER];
};

struct producer {
	struct mt *mt;
	__u32 t;
};

static __u64 mt_cookie(__u32 t, __u32 s)
{
	return (__u64)t << 32 | s;
}

static void *producer_main(void *arg)
{
	struct producer *p = arg;
	struct mt *mt = p->mt;
	__u32 s;

	for (s = 0; s < PER_PRODUCER; s++) {
		struct ukevent uk = uk_make(KEVENT_USER, p->t, s, 0, KEVENT_REQ_ET,
					    mt_cookie(p->t, s));

		if (ctl1(mt->fd, KEVENT_CTL_ADD, &uk))
			atomic_fetch_add(&mt->producer_errors, 1);
		uk = uk_make(KEVENT_USER, p->t, s, 0, 0, mt_cookie(p->t, s));
		uk.ret_data[0] = p->t;
		uk.ret_data[1] = s;
		if (ctl1(mt->fd, KEVENT_CTL_READY, &uk))
			atomic_fetch_add(&mt->producer_errors, 1);
		atomic_fetch_add(&mt->readied, 1);
	}
	return NULL;
}

static void *consumer_main(void *arg)
{
	struct mt *mt = arg;
	const int total = PRODUCERS * PER_PRODUCER;
	__u32 next[PRODUCERS] = { 0 };
	struct kevent_ring_entry out[RING_ENTRIES];
	unsigned int n, i;

	while (atomic_load(&mt->readied) < 64)
		usleep(1000);
	mt->ready_at_start = kevent_ring_ready(mt->map);
	mt->backlog_at_start = kevent_ring_backlog(mt->map);
	while (mt->got < total) {
		n = kevent_ring_copy(mt->map, out, RING_ENTRIES);
		if (n == 0) {
			/* 20 s without an event is a lost one: the producers are far quicker. */
			int r = kevent_ring_wait(mt->fd, 1, RING_ENTRIES, 20 * NSEC_PER_SEC);

			mt->waits++;
			if (r <= 0) {
				mt->consumer_errors++;
				return NULL;
			}
			continue;
		}
		for (i = 0; i < n; i++) {
			const struct kevent_ring_entry *e = &out[i];
			__u32 t = e->ret_data[0], s = e->ret_data[1];

			if (e->type != KEVENT_USER || e->ret_flags != KEVENT_RET_DONE ||
			    t >= PRODUCERS || s >= PER_PRODUCER || e->id.raw[0] != t ||
			    e->id.raw[1] != s || e->ptr != mt_cookie(t, s)) {
				mt->consumer_errors++;
				continue;
			}
			if (s != next[t])
				mt->out_of_order++;
			next[t] = s + 1;
			if (mt->seen[t][s] < 255)
				mt->seen[t][s]++;
		}
		mt->got += n;
	}
	return NULL;
}

TEST_F_TIMEOUT(evring, producers_and_a_consumer_lose_and_double_nothing, 240)
{
	struct producer p[PRODUCERS];
	pthread_t pt[PRODUCERS], ct;
	struct mt *mt = calloc(1, sizeof(*mt));
	int t, s, missing = 0, doubled = 0;

	ASSERT_NE(NULL, mt);
	RING_UP(RING_ENTRIES);
	mt->fd = self->fd;
	mt->map = &self->map;
	ASSERT_EQ(0, pthread_create(&ct, NULL, consumer_main, mt));
	for (t = 0; t < PRODUCERS; t++) {
		p[t].mt = mt;
		p[t].t = t;
		ASSERT_EQ(0, pthread_create(&pt[t], NULL, producer_main, &p[t]));
	}
	for (t = 0; t < PRODUCERS; t++)
		pthread_join(pt[t], NULL);
	pthread_join(ct, NULL);
	TH_LOG("%d events, %d waits", mt->got, mt->waits);
	EXPECT_EQ(0, atomic_load(&mt->producer_errors));
	EXPECT_EQ(0, mt->consumer_errors);
	/* 64 made ready, none read: the ring was full, the rest outside. */
	EXPECT_EQ(RING_ENTRIES, mt->ready_at_start);
	EXPECT_TRUE(mt->backlog_at_start);
	EXPECT_EQ(PRODUCERS * PER_PRODUCER, mt->got);
	for (t = 0; t < PRODUCERS; t++)
		for (s = 0; s < PER_PRODUCER; s++) {
			missing += mt->seen[t][s] == 0;
			doubled += mt->seen[t][s] > 1;
		}
	EXPECT_EQ(0, missing);
	EXPECT_EQ(0, doubled);
	EXPECT_EQ(0, mt->out_of_order);
	EXPECT_EQ(0, rwait(self->fd, 0, RING_ENTRIES, 0));
	free(mt);
}

/* ---- munmap, close, fork, mremap -------------------------------------- */

TEST_F(evring, munmap_leaves_the_ring_to_the_queue)
{
	void *p = NULL;
	size_t size;

	RING_UP(4);
	size = self->map.size;
	ASSERT_EQ(0, add_u(self->fd, 1, KEVENT_REQ_ET));
	ASSERT_EQ(0, ready_u(self->fd, 1, 1, 0));
	ASSERT_EQ(0, kevent_ring_unmap(&self->map));
	/* The queue keeps its ring: written while unmapped, counted, still one. */
	ASSERT_EQ(0, ready_u(self->fd, 1, 2, 0));
	EXPECT_EQ(2, rwait(self->fd, 0, 4, 0));
	EXPECT_EQ(-EBUSY, setup_raw(self->fd, 4, 0, 0, NULL));
	ASSERT_EQ(0, map_err(self->fd, size, MAP_SHARED, 0, &p));
	self->map.ring = p;
	self->map.size = size;
	ASSERT_EQ(2, kevent_ring_ready(&self->map));
	CHECK_USER(kevent_ring_entry_at(&self->map, 0), 1, 1, 0);
	CHECK_USER(kevent_ring_entry_at(&self->map, 1), 1, 2, 0);
	kevent_ring_advance(&self->map, 2);
	ASSERT_EQ(0, ready_u(self->fd, 1, 3, 0));
	TAKE_USER(&self->map, 1, 3, 0);
}

/*
 * A mapping keeps its queue: after close() of the only fd, the ring stays
 * readable and writable, and the queue's wake-ups still write into it;
 * the queue ends with the mapping.
 */
TEST_F(evring, closing_the_fd_leaves_a_mapped_queue_alive)
{
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct ukevent uk = uk_make(KEVENT_POLL, efd, 0, POLLIN, KEVENT_REQ_ET, 0xef);
	uint64_t one = 1;
	int before;

	ASSERT_GE(efd, 0);
	RING_UP(4);
	ASSERT_EQ(0, ctl1(self->fd, KEVENT_CTL_ADD, &uk));
	ASSERT_EQ(0, add_u(self->fd, 1, KEVENT_REQ_ET));
	ASSERT_EQ(0, ready_u(self->fd, 1, 5, 6));
	/* The fixture's queue only, its mapping included. */
	before = module_refcnt();
	if (before >= 0)
		ASSERT_EQ(1, refcnt_back_to(1)) TH_LOG("queues of earlier tests are still held");
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	/* Written before the close: still there, and head can be written. */
	TAKE_USER(&self->map, 1, 5, 6);
	EXPECT_EQ(1, load(&self->map.ring->head));
	/* The queue lives on: the eventfd's wake-up writes an entry. */
	ASSERT_EQ(sizeof(one), write(efd, &one, sizeof(one)));
	ASSERT_EQ(1, kevent_ring_ready(&self->map));
	CHECK_POLLIN(kevent_ring_entry_at(&self->map, 0), efd, 0xef, POLLIN);
	kevent_ring_advance(&self->map, 1);
	ASSERT_EQ(0, kevent_ring_unmap(&self->map));
	/* Gone with its mapping, and unhooked from the eventfd. */
	if (before >= 0)
		EXPECT_EQ(0, refcnt_back_to(0)) TH_LOG("the queue is still held");
	ASSERT_EQ(sizeof(one), write(efd, &one, sizeof(one)));
	close(efd);
}

TEST_F(evring, a_forked_child_shares_the_ring)
{
	int go[2], status;
	pid_t pid;

	RING_UP(4);
	ASSERT_EQ(0, add_u(self->fd, 1, KEVENT_REQ_ET));
	ASSERT_EQ(0, add_u(self->fd, 2, KEVENT_REQ_ET));
	ASSERT_EQ(0, pipe2(go, O_CLOEXEC));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		/* No ASSERT here: the harness's jump belongs to the parent. */
		const struct kevent_ring_entry *e;
		int rc = 0;
		char c;

		if (read(go[0], &c, 1) != 1)
			_exit(10);
		if (kevent_ring_ready(&self->map) != 1)
			_exit(11);
		e = kevent_ring_entry_at(&self->map, 0);
		if (e->id.raw[0] != 1 || e->ptr != COOKIE(1) || e->ret_data[0] != 42)
			rc = 12;
		kevent_ring_advance(&self->map, 1);
		/* The child's trigger, for the parent to read. */
		if (ready_u(self->fd, 2, 43, 0))
			rc = 13;
		_exit(rc);
	}
	/* The parent's trigger, read by the child. */
	ASSERT_EQ(0, ready_u(self->fd, 1, 42, 0));
	ASSERT_EQ(1, write(go[1], "g", 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	/* The child's head, and the child's entry. */
	EXPECT_EQ(1, load(&self->map.ring->head));
	TAKE_USER(&self->map, 2, 43, 0);
	close(go[0]);
	close(go[1]);
}

TEST_F(evring, mremap_may_move_or_shrink_a_mapping_but_not_grow_it)
{
	long page = page_size();
	struct kevent_ring_map big = { 0 };
	void *p, *dst;
	int fd2, r, err;

	RING_UP(4);	/* 256 bytes: one page */
	ASSERT_EQ(0, add_u(self->fd, 1, KEVENT_REQ_ET));
	ASSERT_EQ(0, ready_u(self->fd, 1, 1, 0));
	/* Grow, in place or moving: refused, the mapping untouched. */
	p = mremap(self->map.ring, page, 2 * page, 0);
	if (p != MAP_FAILED) {
		self->map.ring = p;
		self->map.size = 2 * page;
	}
	ASSERT_EQ(MAP_FAILED, p) TH_LOG("mremap grew the ring in place");
	p = mremap(self->map.ring, page, 2 * page, MREMAP_MAYMOVE);
	if (p != MAP_FAILED) {
		self->map.ring = p;
		self->map.size = 2 * page;
	}
	ASSERT_EQ(MAP_FAILED, p) TH_LOG("mremap grew the ring, moving it");
	EXPECT_EQ(1, kevent_ring_ready(&self->map));

	/* Move to a place of our choosing: the same ring there. */
	dst = mmap(NULL, page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, dst);
	p = mremap(self->map.ring, page, page, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	ASSERT_EQ(dst, p) TH_LOG("mremap to move: %s", strerror(errno));
	/* Nothing is left at the old place. */
	r = msync(self->map.ring, page, MS_ASYNC);
	err = errno;
	EXPECT_EQ(-1, r);
	EXPECT_EQ(ENOMEM, err);
	self->map.ring = p;
	self->map.size = page;
	TAKE_USER(&self->map, 1, 1, 0);
	ASSERT_EQ(0, ready_u(self->fd, 1, 2, 0));
	TAKE_USER(&self->map, 1, 2, 0);

	/* Shrink a ring of three pages to its first. */
	fd2 = open_queue();
	ASSERT_GE(fd2, 0);
	ring_up(_metadata, fd2, 256, &big);
	ASSERT_GT(big.size, 2 * page);
	p = mremap(big.ring, big.size, page, 0);
	ASSERT_EQ((void *)big.ring, p) TH_LOG("mremap to shrink: %s", strerror(errno));
	big.size = page;
	r = msync((char *)big.ring + page, page, MS_ASYNC);
	err = errno;
	EXPECT_EQ(-1, r);
	EXPECT_EQ(ENOMEM, err);
	EXPECT_EQ(255, load(&big.ring->mask));
	ASSERT_EQ(0, add_u(fd2, 1, KEVENT_REQ_ET));
	ASSERT_EQ(0, ready_u(fd2, 1, 3, 0));
	TAKE_USER(&big, 1, 3, 0);
	ASSERT_EQ(0, kevent_ring_unmap(&big));
	close(fd2);
}

TEST_HARNESS_MAIN
