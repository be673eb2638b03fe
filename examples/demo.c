// SPDX-License-Identifier: GPL-2.0
/*
 * The demo `make run` shows: one kevent queue, three timers on different
 * schedules and a user event fired by another thread, all collected by one
 * blocking call that waits for at least two events at a time.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <kevent.h>

static int queue;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void *producer(void *arg)
{
	struct ukevent uk;
	int i;

	(void)arg;
	for (i = 1; i <= 3; i++) {
		usleep(150 * 1000);
		memset(&uk, 0, sizeof(uk));
		uk.type = KEVENT_USER;
		uk.id.raw[0] = 1;
		uk.user[0] = 4;		/* (id, type, user) names the request */
		uk.ret_data[0] = i;	/* the payload */
		if (kevent_ctl(queue, KEVENT_CTL_READY, 1, &uk) != 1 ||
		    (uk.ret_flags & KEVENT_RET_BROKEN)) {
			fprintf(stderr, "KEVENT_CTL_READY failed: errno %u\n", uk.ret_data[1]);
			_exit(1);
		}
	}
	return NULL;
}

static void add(struct ukevent *uk, const char *what)
{
	if (kevent_ctl(queue, KEVENT_CTL_ADD, 1, uk) != 1 || (uk->ret_flags & KEVENT_RET_BROKEN)) {
		fprintf(stderr, "adding %s failed: errno %u\n", what, uk->ret_data[1]);
		_exit(1);
	}
	printf("  added %s\n", what);
}

int main(void)
{
	struct ukevent uk, ev[16];
	double start;
	pthread_t thread;
	int n, i, total = 0;

	queue = kevent_init();
	if (queue < 0) {
		perror("open /dev/kevent");
		return 1;
	}
	printf("kevent demo: one queue, four event sources\n");

	memset(&uk, 0, sizeof(uk));
	uk.type = KEVENT_TIMER;
	uk.id.raw[0] = 100;			/* 100 ms period */
	uk.user[0] = 1;
	add(&uk, "timer A: every 100 ms");

	uk.event = KEVENT_TIMER_UNIT_US;
	uk.id.raw[0] = 250000;			/* 250 000 us period */
	uk.id.raw[1] = 50000;			/* first expiry after 50 000 us */
	uk.user[0] = 2;
	add(&uk, "timer B: every 250 ms, first after 50 ms");

	uk.event = KEVENT_TIMER_UNIT_NS;
	uk.id.raw[0] = 300000000;		/* 300 ms, once */
	uk.id.raw[1] = 0;
	uk.req_flags = KEVENT_REQ_ONESHOT;
	uk.user[0] = 3;
	add(&uk, "timer C: once, after 300 ms (nanosecond unit)");

	memset(&uk, 0, sizeof(uk));
	uk.type = KEVENT_USER;
	uk.id.raw[0] = 1;
	uk.req_flags = KEVENT_REQ_ET;
	uk.user[0] = 4;
	add(&uk, "user event D: fired by another thread every 150 ms");

	pthread_create(&thread, NULL, producer, NULL);
	start = now_ms();
	while (now_ms() - start < 700) {
		n = kevent_get_events(queue, 2, 16, 200, ev, 0);
		for (i = 0; i < n; i++) {
			const struct ukevent *e = &ev[i];

			if (e->type == KEVENT_TIMER)
				printf("%7.1f ms  timer %c fired (%u expiration%s)\n", now_ms() - start,
				       'A' + (int)e->user[0] - 1, e->ret_data[0], e->ret_data[0] == 1 ? "" : "s");
			else
				printf("%7.1f ms  user event D, payload %u\n", now_ms() - start, e->ret_data[0]);
		}
		total += n > 0 ? n : 0;
	}
	pthread_join(thread, NULL);
	printf("%d events in 700 ms through one kevent_get_events() loop\n", total);
	close(queue);
	return total > 0 ? 0 : 1;
}
