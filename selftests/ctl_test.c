// SPDX-License-Identifier: GPL-2.0
/*
 * kevent_ctl: ADD, REMOVE, MODIFY, READY and INIT, per-entry results and
 * write-back, every errno, faults midway, the per-queue limit.
 */
#include <stdio.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "kevent_test.h"
#include "kselftest_harness.h"
#include "queue_fixture.h"

#define PARAM "/sys/module/kevent/parameters/max_requests"

TEST_F(q, add_writes_back_done_and_keeps_the_entry)
{
	struct ukevent uk = uk_make(KEVENT_USER, 7, 8, 0, KEVENT_REQ_ET, 0x1122334455667788ull);

	uk.ret_data[0] = 0xdead;
	uk.ret_data[1] = 0xbeef;
	uk.ret_flags = 0xff;	/* output fields: ignored on input */
	ASSERT_EQ(1, kevent_ctl(self->fd, KEVENT_CTL_ADD, 1, &uk));
	EXPECT_EQ(KEVENT_RET_DONE, uk.ret_flags);
	EXPECT_EQ(0, uk.ret_data[1]);
	EXPECT_EQ(7, uk.id.raw[0]);
	EXPECT_EQ(8, uk.id.raw[1]);
	EXPECT_EQ(KEVENT_USER, uk.type);
	EXPECT_EQ(KEVENT_REQ_ET, uk.req_flags);
	EXPECT_EQ(0x1122334455667788ull, uk.ptr);
}

TEST_F(q, duplicate_add_is_eexist_identity_is_id_type_user)
{
	struct ukevent a = uk_make(KEVENT_USER, 1, 0, 0, 0, 100);
	struct ukevent b = a;

	EXPECT_EQ(0, ctl1(self->fd, KEVENT_CTL_ADD, &a));
	EXPECT_EQ(EEXIST, ctl1(self->fd, KEVENT_CTL_ADD, &b));
	EXPECT_EQ(KEVENT_RET_DONE | KEVENT_RET_BROKEN, b.ret_flags);
	/* Another cookie, id or type is another request. */
	b = uk_make(KEVENT_USER, 1, 0, 0, 0, 101);
	EXPECT_EQ(0, ctl1(self->fd, KEVENT_CTL_ADD, &b));
	b = uk_make(KEVENT_USER, 1, 1, 0, 0, 100);
	EXPECT_EQ(0, ctl1(self->fd, KEVENT_CTL_ADD, &b));
	b = uk_make(KEVENT_TIMER, 1, 0, 0, 0, 100);
	EXPECT_EQ(0, ctl1(self->fd, KEVENT_CTL_ADD, &b));
}

TEST_F(q, remove_then_remove_again_is_enoent)
{
	struct ukevent uk = uk_user(3, 0);

	EXPECT_EQ(ENOENT, ctl1(self->fd, KEVENT_CTL_REMOVE, &uk));
	EXPECT_EQ(0, ctl1(self->fd, KEVENT_CTL_ADD, &uk));
	EXPECT_EQ(0, ctl1(self->fd, KEVENT_CTL_REMOVE, &uk));
	EXPECT_EQ(ENOENT, ctl1(self->fd, KEVENT_CTL_REMOVE, &uk));
	EXPECT_EQ(KEVENT_RET_DONE | KEVENT_RET_BROKEN, uk.ret_flags);
	/* Removed means gone: it can be added again. */
	EXPECT_EQ(0, ctl1(self->fd, KEVENT_CTL_ADD, &uk));
}

TEST_F(q, modify_missing_is_enoent_and_modify_changes_flags)
{
	struct ukevent uk = uk_user(4, 0), ev[4];

	EXPECT_EQ(ENOENT, ctl1(self->fd, KEVENT_CTL_MODIFY, &uk));
	ASSERT_EQ(0, ctl1(self->fd, KEVENT_CTL_ADD, &uk));
	uk.req_flags = KEVENT_REQ_ONESHOT;
	ASSERT_EQ(0, ctl1(self->fd, KEVENT_CTL_MODIFY, &uk));
	/* Now one-shot: delivered once, then gone. */
	ASSERT_EQ(0, user_ready(self->fd, 4, 9));
	ASSERT_EQ(1, get_ns(self->fd, 1, 4, 0, ev));
	EXPECT_EQ(KEVENT_REQ_ONESHOT, ev[0].req_flags);
	EXPECT_EQ(ENOENT, ctl1(self->fd, KEVENT_CTL_REMOVE, &uk));
	/* MODIFY validates like ADD. */
	ASSERT_EQ(0, ctl1(self->fd, KEVENT_CTL_ADD, &uk));
	uk.req_flags = 0x2;
	EXPECT_EQ(EINVAL, ctl1(self->fd, KEVENT_CTL_MODIFY, &uk));
	uk.req_flags = 0;
	uk.event = 1;
	EXPECT_EQ(EINVAL, ctl1(self->fd, KEVENT_CTL_MODIFY, &uk));
}

TEST_F(q, unknown_types_are_einval_unimplemented_are_eopnotsupp)
{
	static const __u32 invalid[] = { 6, 7, 8, 10, 11, 0x100, 0xffffffff };
	static const __u32 unimplemented[] = { KEVENT_NAIO, KEVENT_AIO };
	struct ukevent uk;
	unsigned int i;

	for (i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		uk = uk_make(invalid[i], 1, 0, 0, 0, 0);
		EXPECT_EQ(EINVAL, ctl1(self->fd, KEVENT_CTL_ADD, &uk));
		EXPECT_EQ(EINVAL, ctl1(self->fd, KEVENT_CTL_REMOVE, &uk));
	}
	for (i = 0; i < sizeof(unimplemented) / sizeof(unimplemented[0]); i++) {
		uk = uk_make(unimplemented[i], 1, 0, 0, 0, 0);
		EXPECT_EQ(EOPNOTSUPP, ctl1(self->fd, KEVENT_CTL_ADD, &uk));
		EXPECT_EQ(EOPNOTSUPP, ctl1(self->fd, KEVENT_CTL_REMOVE, &uk));
		EXPECT_EQ(EOPNOTSUPP, ctl1(self->fd, KEVENT_CTL_MODIFY, &uk));
	}
	/*
	 * KEVENT_INODE is implemented: an entry with no event is refused as
	 * invalid (fd 1 is open), and what was never added is not found.
	 */
	uk = uk_make(KEVENT_INODE, 1, 0, 0, 0, 0);
	EXPECT_EQ(EINVAL, ctl1(self->fd, KEVENT_CTL_ADD, &uk));
	EXPECT_EQ(ENOENT, ctl1(self->fd, KEVENT_CTL_REMOVE, &uk));
	uk = uk_make(KEVENT_INODE, 1, 0, KEVENT_INODE_WRITE, 0, 0);
	EXPECT_EQ(ENOENT, ctl1(self->fd, KEVENT_CTL_MODIFY, &uk));
}

/*
 * READY is for user events: any other type is EINVAL, whether it is
 * implemented, one of take12's unimplemented ones, or unknown (issue 11,
 * section 6).
 */
TEST_F(q, ready_of_every_other_type_is_einval)
{
	static const __u32 types[] = { KEVENT_SOCKET, KEVENT_INODE, KEVENT_TIMER, KEVENT_POLL,
				       KEVENT_NAIO, KEVENT_AIO, 6, 7, 8, 10, 0xffffffff };
	struct ukevent uk, batch[2];
	unsigned int i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		uk = uk_make(types[i], 1, 0, 0, 0, 0);
		EXPECT_EQ(EINVAL, ctl1(self->fd, KEVENT_CTL_READY, &uk)) TH_LOG("type %u", types[i]);
	}
	/* In a batch, beside a user event that READY makes ready. */
	uk = uk_user(1, 0);
	ASSERT_EQ(0, ctl1(self->fd, KEVENT_CTL_ADD, &uk));
	batch[0] = uk_make(KEVENT_AIO, 1, 0, 0, 0, 1);
	batch[1] = uk_user(1, 0);
	ASSERT_EQ(2, kevent_ctl(self->fd, KEVENT_CTL_READY, 2, batch));
	EXPECT_EQ(KEVENT_RET_DONE | KEVENT_RET_BROKEN, batch[0].ret_flags);
	EXPECT_EQ(EINVAL, batch[0].ret_data[1]);
	EXPECT_EQ(KEVENT_RET_DONE, batch[1].ret_flags);
	EXPECT_EQ(1, get_ns(self->fd, 1, 2, 0, batch));
}

TEST_F(q, unknown_req_flags_are_einval)
{
	static const __u32 bad[] = { 0x2, 0x8, 0x10, 0x80000000, 0xffffffff };
	struct ukevent uk;
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uk = uk_make(KEVENT_USER, 1, 0, 0, bad[i], 0);
		EXPECT_EQ(EINVAL, ctl1(self->fd, KEVENT_CTL_ADD, &uk));
		uk = uk_make(KEVENT_TIMER, 10, 0, 0, bad[i], 0);
		EXPECT_EQ(EINVAL, ctl1(self->fd, KEVENT_CTL_ADD, &uk));
	}
	/* Nothing was added by the failures. */
	uk = uk_make(KEVENT_USER, 1, 0, 0, 0, 0);
	EXPECT_EQ(ENOENT, ctl1(self->fd, KEVENT_CTL_REMOVE, &uk));
}

TEST_F(q, timer_fields_are_validated)
{
	struct ukevent uk;

	uk = uk_make(KEVENT_TIMER, 0, 0, 0, 0, 0);	/* period 0 */
	EXPECT_EQ(EINVAL, ctl1(self->fd, KEVENT_CTL_ADD, &uk));
	uk = uk_make(KEVENT_TIMER, 0, 5, 0, 0, 0);	/* period 0, first set */
	EXPECT_EQ(EINVAL, ctl1(self->fd, KEVENT_CTL_ADD, &uk));
	uk = uk_make(KEVENT_TIMER, 10, 0, 0x30, 0, 0);	/* no such unit */
	EXPECT_EQ(EINVAL, ctl1(self->fd, KEVENT_CTL_ADD, &uk));
	uk = uk_make(KEVENT_TIMER, 10, 0, 0x2, 0, 0);	/* unknown bit */
	EXPECT_EQ(EINVAL, ctl1(self->fd, KEVENT_CTL_ADD, &uk));
	uk = uk_make(KEVENT_TIMER, 10, 0, 0x40, 0, 0);
	EXPECT_EQ(EINVAL, ctl1(self->fd, KEVENT_CTL_ADD, &uk));
	uk = uk_make(KEVENT_TIMER, 10, 0, 0x80000000, 0, 0);
	EXPECT_EQ(EINVAL, ctl1(self->fd, KEVENT_CTL_ADD, &uk));
	/* take12's event values and every unit are accepted. */
	uk = uk_make(KEVENT_TIMER, 1000, 0, 0, 0, 1);
	EXPECT_EQ(0, ctl1(self->fd, KEVENT_CTL_ADD, &uk));
	uk = uk_make(KEVENT_TIMER, 1000, 0, KEVENT_TIMER_FIRED, 0, 2);
	EXPECT_EQ(0, ctl1(self->fd, KEVENT_CTL_ADD, &uk));
	uk = uk_make(KEVENT_TIMER, 1000000, 0, KEVENT_TIMER_UNIT_US, 0, 3);
	EXPECT_EQ(0, ctl1(self->fd, KEVENT_CTL_ADD, &uk));
	uk = uk_make(KEVENT_TIMER, 1000000000, 5, KEVENT_TIMER_UNIT_NS | KEVENT_TIMER_FIRED, 0, 4);
	EXPECT_EQ(0, ctl1(self->fd, KEVENT_CTL_ADD, &uk));
}

TEST_F(q, user_event_mask_is_reserved)
{
	struct ukevent uk = uk_make(KEVENT_USER, 1, 0, 1, 0, 0);

	EXPECT_EQ(EINVAL, ctl1(self->fd, KEVENT_CTL_ADD, &uk));
}

TEST_F(q, batch_is_processed_in_order_with_results_per_entry)
{
	struct ukevent uk[5];

	uk[0] = uk_user(1, 0);
	uk[1] = uk_user(1, 0);				/* duplicate of [0] */
	uk[2] = uk_make(8, 1, 0, 0, 0, 0);		/* bad type */
	uk[3] = uk_timer_ms(1000, 0);
	uk[4] = uk_make(KEVENT_TIMER, 0, 0, 0, 0, 0);	/* period 0 */
	ASSERT_EQ(5, kevent_ctl(self->fd, KEVENT_CTL_ADD, 5, uk));
	EXPECT_EQ(KEVENT_RET_DONE, uk[0].ret_flags);
	EXPECT_EQ(KEVENT_RET_DONE | KEVENT_RET_BROKEN, uk[1].ret_flags);
	EXPECT_EQ(EEXIST, uk[1].ret_data[1]);
	EXPECT_EQ(KEVENT_RET_DONE | KEVENT_RET_BROKEN, uk[2].ret_flags);
	EXPECT_EQ(EINVAL, uk[2].ret_data[1]);
	EXPECT_EQ(KEVENT_RET_DONE, uk[3].ret_flags);
	EXPECT_EQ(KEVENT_RET_DONE | KEVENT_RET_BROKEN, uk[4].ret_flags);
	EXPECT_EQ(EINVAL, uk[4].ret_data[1]);
	/* REMOVE in a batch too: the second one finds nothing. */
	uk[1] = uk[0];
	ASSERT_EQ(2, kevent_ctl(self->fd, KEVENT_CTL_REMOVE, 2, uk));
	EXPECT_EQ(KEVENT_RET_DONE, uk[0].ret_flags);
	EXPECT_EQ(ENOENT, uk[1].ret_data[1]);
}

/* An array whose third entry runs into a PROT_NONE page. */
TEST_F(q, fault_midway_returns_the_partial_count)
{
	long page = sysconf(_SC_PAGESIZE);
	char *map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct ukevent *uk, check;

	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(0, mprotect(map + page, page, PROT_NONE));
	uk = (struct ukevent *)(map + page - 2 * sizeof(*uk) - 8);
	uk[0] = uk_user(1, 0);
	uk[1] = uk_user(2, 0);
	memcpy(&uk[2], &uk[1], 8);	/* the first 8 bytes of the third fit */
	EXPECT_EQ(2, kevent_ctl(self->fd, KEVENT_CTL_ADD, 3, uk));
	EXPECT_EQ(KEVENT_RET_DONE, uk[0].ret_flags);
	EXPECT_EQ(KEVENT_RET_DONE, uk[1].ret_flags);
	check = uk_user(2, 0);
	EXPECT_EQ(EEXIST, ctl1(self->fd, KEVENT_CTL_ADD, &check));
	/* Nothing readable at all: EFAULT, nothing done. */
	EXPECT_EQ(-1, kevent_ctl(self->fd, KEVENT_CTL_ADD, 1, map + page));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, kevent_ctl(self->fd, KEVENT_CTL_ADD, 1, NULL));
	EXPECT_EQ(EFAULT, errno);
	munmap(map, 2 * page);
}

/* docs/kevent.7.md: entries are read, run and written back 16 at a time. */
#define CTL_GROUP 16

/*
 * Entries that can be read but not written back still take effect and
 * count; processing stops after the group whose results could not be
 * written.
 */
TEST_F(q, read_only_entries_take_effect_and_count)
{
	long page = sysconf(_SC_PAGESIZE);
	int n = CTL_GROUP + 2, i;
	struct ukevent *uk = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct ukevent check;

	ASSERT_NE(MAP_FAILED, uk);
	ASSERT_LE(n * sizeof(*uk), (size_t)page);
	for (i = 0; i < n; i++)
		uk[i] = uk_user(100 + i, 0);
	ASSERT_EQ(0, mprotect(uk, page, PROT_READ));
	EXPECT_EQ(CTL_GROUP, kevent_ctl(self->fd, KEVENT_CTL_ADD, n, uk));
	for (i = 0; i < n; i++) {
		check = uk_user(100 + i, 0);
		EXPECT_EQ(i < CTL_GROUP ? EEXIST : 0, ctl1(self->fd, KEVENT_CTL_ADD, &check));
	}
	munmap(uk, page);
}

TEST_F(q, unknown_command_is_einval_before_anything_is_touched)
{
	struct ukevent uk = uk_user(1, 0);

	EXPECT_EQ(-1, kevent_ctl(self->fd, 5, 1, &uk));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, kevent_ctl(self->fd, 0xffffffff, 1, &uk));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, uk.ret_flags);
	/* num above the maximum: EINVAL, even with a valid array. */
	EXPECT_EQ(-1, kevent_ctl(self->fd, KEVENT_CTL_ADD, KEVENT_CTL_MAX_NUM + 1, &uk));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, uk.ret_flags);
	/* num == 0 is 0, whatever the pointer. */
	EXPECT_EQ(0, kevent_ctl(self->fd, KEVENT_CTL_ADD, 0, NULL));
}

TEST_F(q, ready_needs_a_user_request)
{
	struct ukevent uk = uk_user(1, 0);

	EXPECT_EQ(ENOENT, ctl1(self->fd, KEVENT_CTL_READY, &uk));
	uk = uk_timer_ms(1000, 0);
	ASSERT_EQ(0, ctl1(self->fd, KEVENT_CTL_ADD, &uk));
	EXPECT_EQ(EINVAL, ctl1(self->fd, KEVENT_CTL_READY, &uk));
}

TEST_F(q, init_returns_an_independent_cloexec_queue)
{
	struct ukevent uk = uk_user(1, 0), ev[2];
	int fd2, fd3;

	fd2 = kevent_ctl(self->fd, KEVENT_CTL_INIT, 0, NULL);
	ASSERT_GE(fd2, 0);
	EXPECT_NE(self->fd, fd2);
	EXPECT_EQ(FD_CLOEXEC, fcntl(fd2, F_GETFD) & FD_CLOEXEC);
	/* Same identity in both: they are separate queues. */
	EXPECT_EQ(0, ctl1(self->fd, KEVENT_CTL_ADD, &uk));
	EXPECT_EQ(0, ctl1(fd2, KEVENT_CTL_ADD, &uk));
	EXPECT_EQ(0, user_ready(fd2, 1, 42));
	EXPECT_EQ(0, get_ns(self->fd, 0, 2, 0, ev));
	ASSERT_EQ(1, get_ns(fd2, 1, 2, 0, ev));
	EXPECT_EQ(42, ev[0].ret_data[0]);
	/* A queue made by INIT can make queues too. */
	fd3 = kevent_ctl(fd2, KEVENT_CTL_INIT, 0, NULL);
	EXPECT_GE(fd3, 0);
	close(fd3);
	close(fd2);
	/* INIT takes no entries. */
	EXPECT_EQ(-1, kevent_ctl(self->fd, KEVENT_CTL_INIT, 1, &uk));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(q, per_queue_limit_is_enospc)
{
	char old[32] = "";
	struct ukevent uk, ev[1];
	int fd, n, i, other;

	fd = open(PARAM, O_RDONLY);
	if (fd < 0)
		SKIP(return, "no %s", PARAM);
	n = read(fd, old, sizeof(old) - 1);
	close(fd);
	ASSERT_GT(n, 0);
	EXPECT_EQ(0, strcmp(old, "65536\n"));	/* the documented default */
	if (getuid() != 0)
		SKIP(return, "changing the limit needs root");
	ASSERT_EQ(0, param_write(PARAM, "8"));
	for (i = 0; i < 8; i++) {
		uk = uk_user(i, 0);
		EXPECT_EQ(0, ctl1(self->fd, KEVENT_CTL_ADD, &uk));
	}
	uk = uk_user(8, 0);
	EXPECT_EQ(ENOSPC, ctl1(self->fd, KEVENT_CTL_ADD, &uk));
	uk = uk_timer_ms(100, 0);
	EXPECT_EQ(ENOSPC, ctl1(self->fd, KEVENT_CTL_ADD, &uk));
	/* The limit is per queue. */
	other = open_queue();
	uk = uk_user(8, 0);
	EXPECT_EQ(0, ctl1(other, KEVENT_CTL_ADD, &uk));
	close(other);
	/* Room again after a REMOVE, and after a one-shot delivery. */
	uk = uk_user(0, 0);
	EXPECT_EQ(0, ctl1(self->fd, KEVENT_CTL_REMOVE, &uk));
	uk = uk_user(8, KEVENT_REQ_ONESHOT);
	EXPECT_EQ(0, ctl1(self->fd, KEVENT_CTL_ADD, &uk));
	uk = uk_user(9, 0);
	EXPECT_EQ(ENOSPC, ctl1(self->fd, KEVENT_CTL_ADD, &uk));
	EXPECT_EQ(0, user_ready(self->fd, 8, 0));
	EXPECT_EQ(1, get_ns(self->fd, 1, 1, 0, ev));
	EXPECT_EQ(0, ctl1(self->fd, KEVENT_CTL_ADD, &uk));
	ASSERT_EQ(0, param_write(PARAM, "65536"));
}

TEST(module_is_pinned_while_a_queue_is_open)
{
	int fd = open_queue();

	if (fd < 0)
		SKIP(return, "no " KEVENT_DEVICE);
	if (getuid() != 0)
		SKIP(return, "unloading needs root");
	/* With O_NONBLOCK, delete_module fails at once while in use. */
	EXPECT_EQ(-1, syscall(SYS_delete_module, "kevent", O_NONBLOCK));
	EXPECT_EQ(EWOULDBLOCK, errno);
	close(fd);
}

TEST_HARNESS_MAIN
