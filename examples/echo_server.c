// SPDX-License-Identifier: GPL-2.0
/*
 * A TCP echo server on loopback driven only by /dev/kevent: one queue
 * watches the listening socket and every connection (KEVENT_SOCKET), plus
 * a timer that prints statistics. Each event says how much there is: the
 * connections waiting to be accepted, the bytes to read, and whether the
 * peer is done, so the server makes exactly the calls that succeed. Clients run in child processes, several at
 * once, and check every echo; the program exits 0 only if all of them got
 * back exactly what they sent.
 *
 *   echo_server [clients [messages]]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <kevent.h>

#define MAX_CONN 256

static int queue;

static int watch(int fd, __u32 cmd, __u32 events)
{
	struct ukevent uk;

	memset(&uk, 0, sizeof(uk));
	uk.type = KEVENT_SOCKET;
	uk.id.raw[0] = fd;
	uk.event = events;
	uk.user[0] = fd;
	if (kevent_ctl(queue, cmd, 1, &uk) != 1 || (uk.ret_flags & KEVENT_RET_BROKEN)) {
		fprintf(stderr, "echo_server: kevent_ctl(%u) on fd %d: errno %u\n", cmd, fd,
			uk.ret_data[1]);
		return -1;
	}
	return 0;
}

/* A client: sends numbered lines, checks each echo. */
static int client(struct sockaddr_in *addr, int id, int messages)
{
	char out[64], in[64];
	int fd = socket(AF_INET, SOCK_STREAM, 0), i;

	if (fd < 0 || connect(fd, (struct sockaddr *)addr, sizeof(*addr)) < 0)
		return 1;
	for (i = 0; i < messages; i++) {
		int len = snprintf(out, sizeof(out), "client %d message %d\n", id, i), got = 0;

		if (write(fd, out, len) != len)
			return 1;
		while (got < len) {
			int n = read(fd, in + got, len - got);

			if (n <= 0)
				return 1;
			got += n;
		}
		if (memcmp(in, out, len) != 0)
			return 1;
	}
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	int clients = argc > 1 ? atoi(argv[1]) : 8, messages = argc > 2 ? atoi(argv[2]) : 50;
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(addr);
	int lfd, i, failed = 0, finished = 0, open_conns = 0;
	long echoed = 0, wakeups = 0;
	struct ukevent ev[64], tick;

	queue = kevent_init();
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (queue < 0 || lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(lfd, 64) < 0 || getsockname(lfd, (struct sockaddr *)&addr, &alen) < 0) {
		perror("echo_server: setup");
		return 1;
	}
	printf("echo server on 127.0.0.1:%d, %d clients x %d messages\n", ntohs(addr.sin_port),
	       clients, messages);
	if (watch(lfd, KEVENT_CTL_ADD, KEVENT_SOCKET_ACCEPT))
		return 1;
	memset(&tick, 0, sizeof(tick));
	tick.type = KEVENT_TIMER;
	tick.id.raw[0] = 250;		/* statistics every 250 ms */
	if (kevent_ctl(queue, KEVENT_CTL_ADD, 1, &tick) != 1)
		return 1;

	for (i = 0; i < clients; i++) {
		pid_t pid = fork();

		if (pid == 0) {
			close(queue);
			_exit(client(&addr, i, messages));
		}
	}

	while (finished < clients) {
		int n = kevent_get_events(queue, 1, 64, 10000, ev, 0), status;
		pid_t pid;

		if (n <= 0) {
			fprintf(stderr, "echo_server: no event for 10 s\n");
			return 1;
		}
		wakeups++;
		for (i = 0; i < n; i++) {
			int fd = ev[i].id.raw[0];
			__u32 ready = ev[i].ret_data[0];	/* connections, or bytes */
			char buf[4096];
			ssize_t len;

			if (ev[i].type == KEVENT_TIMER) {
				printf("  %ld lines echoed, %d connections open, %ld wake-ups\n",
				       echoed, open_conns, wakeups);
				continue;
			}
			if (fd == lfd) {
				for (; ready > 0; ready--) {
					int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

					if (c < 0 || watch(c, KEVENT_CTL_ADD, KEVENT_SOCKET_RECV))
						return 1;
					open_conns++;
				}
				continue;
			}
			/* Exactly the bytes that are there: no read ends in EAGAIN. */
			while (ready > 0) {
				len = read(fd, buf, ready < sizeof(buf) ? ready : sizeof(buf));
				if (len <= 0 || write(fd, buf, len) != len)
					return 1;
				echoed += memchr(buf, '\n', len) ? 1 : 0;
				ready -= len;
			}
			/* The peer is done, or the connection failed. */
			if ((ev[i].ret_flags & KEVENT_RET_EOF) || ev[i].ret_data[1]) {
				watch(fd, KEVENT_CTL_REMOVE, 0);
				close(fd);
				open_conns--;
			}
		}
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			finished++;
			failed += !WIFEXITED(status) || WEXITSTATUS(status) != 0;
		}
	}
	printf("%d clients done, %d failed; %ld wake-ups of one kevent_get_events() loop\n",
	       clients, failed, wakeups);
	close(lfd);
	close(queue);
	return failed ? 1 : 0;
}
