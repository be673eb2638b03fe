// SPDX-License-Identifier: GPL-2.0
/*
 * A program written against the 2006 kevent API (take12): only
 * <kevent.h>'s kevent_ctl() and kevent_get_events(), struct ukevent and
 * take12's constants. It adds a periodic timer, waits for three ticks with
 * min_nr, makes the timer one-shot with MODIFY, removes it, and sees
 * KEVENT_RET_BROKEN when it removes it a second time.
 *
 * Build: gcc -static -I uapi -I include examples/take12_timer.c
 * Run:   ./qemu-test.sh --run ./take12_timer
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <kevent.h>

static int fail(const char *what)
{
	perror(what);
	printf("take12_timer: FAILED at %s\n", what);
	return 1;
}

int main(void)
{
	struct ukevent uk, ev[8];
	int fd, n, i, ticks = 0;

	fd = kevent_init();
	if (fd < 0)
		return fail("open /dev/kevent");

	memset(&uk, 0, sizeof(uk));
	uk.type = KEVENT_TIMER;
	uk.event = KEVENT_TIMER_FIRED;
	uk.id.raw[0] = 20;		/* every 20 ms */
	uk.user[0] = 0xcafe;		/* our cookie */
	if (kevent_ctl(fd, KEVENT_CTL_ADD, 1, &uk) != 1 || (uk.ret_flags & KEVENT_RET_BROKEN))
		return fail("KEVENT_CTL_ADD");
	printf("added a 20 ms periodic timer\n");

	while (ticks < 3) {
		n = kevent_get_events(fd, 1, 8, 1000, ev, 0);
		if (n <= 0)
			return fail("kevent_get_events");
		for (i = 0; i < n; i++) {
			if (ev[i].type != KEVENT_TIMER || ev[i].user[0] != 0xcafe)
				return fail("event contents");
			ticks += ev[i].ret_data[0];
			printf("timer fired: %u expiration(s)\n", ev[i].ret_data[0]);
		}
	}

	uk.req_flags = KEVENT_REQ_ONESHOT;
	if (kevent_ctl(fd, KEVENT_CTL_MODIFY, 1, &uk) != 1 || (uk.ret_flags & KEVENT_RET_BROKEN))
		return fail("KEVENT_CTL_MODIFY");
	n = kevent_get_events(fd, 1, 8, 1000, ev, 0);
	if (n != 1 || ev[0].ret_data[0] != 1)
		return fail("one-shot delivery");
	printf("one-shot timer fired once\n");

	/* The one-shot request removed itself: REMOVE finds nothing. */
	if (kevent_ctl(fd, KEVENT_CTL_REMOVE, 1, &uk) != 1)
		return fail("KEVENT_CTL_REMOVE");
	if (!(uk.ret_flags & KEVENT_RET_BROKEN) || uk.ret_data[1] != ENOENT)
		return fail("REMOVE of a removed request is BROKEN/ENOENT");

	/* Add again, remove twice: the second REMOVE is BROKEN. */
	uk.req_flags = 0;
	if (kevent_ctl(fd, KEVENT_CTL_ADD, 1, &uk) != 1 || (uk.ret_flags & KEVENT_RET_BROKEN))
		return fail("second KEVENT_CTL_ADD");
	if (kevent_ctl(fd, KEVENT_CTL_REMOVE, 1, &uk) != 1 || (uk.ret_flags & KEVENT_RET_BROKEN))
		return fail("first KEVENT_CTL_REMOVE");
	if (kevent_ctl(fd, KEVENT_CTL_REMOVE, 1, &uk) != 1)
		return fail("second KEVENT_CTL_REMOVE");
	if (!(uk.ret_flags & KEVENT_RET_BROKEN) || uk.ret_data[1] != ENOENT)
		return fail("second REMOVE is BROKEN/ENOENT");
	printf("second REMOVE: KEVENT_RET_BROKEN, errno %u (ENOENT)\n", uk.ret_data[1]);

	close(fd);
	printf("take12_timer: OK\n");
	return 0;
}
