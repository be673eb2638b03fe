// SPDX-License-Identifier: GPL-2.0
/*
 * The ioctl ABI of /dev/kevent: commands, argument validation, faults.
 * Model: tools/testing/selftests/drivers/s390x/uvdevice/test_uvdevice.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <kevent.h>
#include "kselftest_harness.h"

FIXTURE(queue)
{
	int fd;
	void *fault_page;	/* a PROT_NONE page */
};

FIXTURE_SETUP(queue)
{
	self->fd = open(KEVENT_DEVICE, O_RDWR | O_CLOEXEC);
	if (self->fd < 0 && errno == ENOENT)
		SKIP(return, KEVENT_DEVICE " is missing: is the module loaded?");
	ASSERT_GE(self->fd, 0);
	self->fault_page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(self->fault_page, MAP_FAILED);
}

FIXTURE_TEARDOWN(queue)
{
	if (self->fd >= 0)
		close(self->fd);
	munmap(self->fault_page, 4096);
}

TEST_F(queue, unknown_ioctl_is_enotty)
{
	EXPECT_EQ(-1, ioctl(self->fd, _IO(KEVENT_IOC_MAGIC, 0x7f)));
	EXPECT_EQ(ENOTTY, errno);
	/* The right number with the wrong size or direction is another command. */
	EXPECT_EQ(-1, ioctl(self->fd, _IOR(KEVENT_IOC_MAGIC, 0x01, struct kevent_ctl_arg), NULL));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(self->fd, _IOW(KEVENT_IOC_MAGIC, 0x02, __u64), NULL));
	EXPECT_EQ(ENOTTY, errno);
	/* A terminal ioctl on a queue. */
	EXPECT_EQ(-1, ioctl(self->fd, TCGETS, NULL));
	EXPECT_EQ(ENOTTY, errno);
}

TEST_F(queue, ctl_arg_fault_is_efault)
{
	EXPECT_EQ(-1, ioctl(self->fd, KEVENT_IOC_CTL, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(self->fd, KEVENT_IOC_CTL, self->fault_page));
	EXPECT_EQ(EFAULT, errno);
}

TEST_F(queue, get_events_arg_fault_is_efault)
{
	EXPECT_EQ(-1, ioctl(self->fd, KEVENT_IOC_GET_EVENTS, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(self->fd, KEVENT_IOC_GET_EVENTS, self->fault_page));
	EXPECT_EQ(EFAULT, errno);
}

TEST_F(queue, ctl_flags_and_reserved_are_einval)
{
	struct ukevent uk = { .type = KEVENT_USER };
	struct kevent_ctl_arg arg = { .cmd = KEVENT_CTL_ADD, .num = 1, .events = (uintptr_t)&uk };

	arg.flags = 1;
	EXPECT_EQ(-1, ioctl(self->fd, KEVENT_IOC_CTL, &arg));
	EXPECT_EQ(EINVAL, errno);
	arg.flags = 0x80000000;
	EXPECT_EQ(-1, ioctl(self->fd, KEVENT_IOC_CTL, &arg));
	EXPECT_EQ(EINVAL, errno);
	arg.flags = 0;
	arg.__reserved = 1;
	EXPECT_EQ(-1, ioctl(self->fd, KEVENT_IOC_CTL, &arg));
	EXPECT_EQ(EINVAL, errno);
	/* Nothing was processed: the entry is untouched. */
	EXPECT_EQ(0, uk.ret_flags);
}

TEST_F(queue, ctl_num_zero_and_too_large)
{
	struct kevent_ctl_arg arg = { .cmd = KEVENT_CTL_ADD, .num = 0, .events = 0 };

	EXPECT_EQ(0, ioctl(self->fd, KEVENT_IOC_CTL, &arg));
	arg.num = KEVENT_CTL_MAX_NUM + 1;
	EXPECT_EQ(-1, ioctl(self->fd, KEVENT_IOC_CTL, &arg));
	EXPECT_EQ(EINVAL, errno);
	arg.num = 0xffffffff;
	EXPECT_EQ(-1, ioctl(self->fd, KEVENT_IOC_CTL, &arg));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(queue, get_events_arg_validation)
{
	struct ukevent buf[4];
	struct kevent_get_events_arg arg = { .min_nr = 0, .max_nr = 4, .events = (uintptr_t)buf };

	arg.max_nr = 0;
	EXPECT_EQ(-1, ioctl(self->fd, KEVENT_IOC_GET_EVENTS, &arg));
	EXPECT_EQ(EINVAL, errno);
	arg.max_nr = 2;
	arg.min_nr = 3;
	EXPECT_EQ(-1, ioctl(self->fd, KEVENT_IOC_GET_EVENTS, &arg));
	EXPECT_EQ(EINVAL, errno);
	arg.min_nr = 0;
	/* Unknown flags (KEVENT_GET_RING, 0x1, is known). */
	arg.flags = 0x2;
	EXPECT_EQ(-1, ioctl(self->fd, KEVENT_IOC_GET_EVENTS, &arg));
	EXPECT_EQ(EINVAL, errno);
	arg.flags = 0x80000000;
	EXPECT_EQ(-1, ioctl(self->fd, KEVENT_IOC_GET_EVENTS, &arg));
	EXPECT_EQ(EINVAL, errno);
	arg.flags = 0;
	arg.__reserved = 0x100;
	EXPECT_EQ(-1, ioctl(self->fd, KEVENT_IOC_GET_EVENTS, &arg));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(queue, every_open_is_a_queue)
{
	int fd2 = open(KEVENT_DEVICE, O_RDWR);

	ASSERT_GE(fd2, 0);
	EXPECT_NE(self->fd, fd2);
	EXPECT_EQ(0, close(fd2));
}

TEST_HARNESS_MAIN
