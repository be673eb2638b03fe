/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The fixture most kevent selftests share: one open queue per test.
 * Include after kselftest_harness.h.
 */
#ifndef KEVENT_QUEUE_FIXTURE_H
#define KEVENT_QUEUE_FIXTURE_H

FIXTURE(q)
{
	int fd;
};

FIXTURE_SETUP(q)
{
	self->fd = open_queue();
	if (self->fd < 0 && errno == ENOENT)
		SKIP(return, KEVENT_DEVICE " is missing: is the module loaded?");
	ASSERT_GE(self->fd, 0);
}

FIXTURE_TEARDOWN(q)
{
	if (self->fd >= 0)
		close(self->fd);
}

#endif
