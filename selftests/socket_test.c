// SPDX-License-Identifier: GPL-2.0
/*
 * KEVENT_SOCKET: a socket ready in one direction, with kqueue's figures:
 * the bytes to receive (a datagram's or record's size), the connections
 * waiting, the free send space, end of file and the pending error; the
 * low-water mark; level, edge and one-shot; TCP over IPv4 and IPv6, UDP,
 * and unix stream, datagram and seqpacket sockets; what is refused.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "kevent_test.h"
#include "kselftest_harness.h"
#include "queue_fixture.h"

/*
 * The identity is (id, type, user): requests for two directions of one
 * socket differ in their cookie.
 */
static __u64 cookie(int fd, __u32 event)
{
	return ((__u64)event << 32) | (__u32)fd;
}

static struct ukevent uk_sock(int fd, __u32 event, __u32 lowat, __u32 flags)
{
	return uk_make(KEVENT_SOCKET, fd, lowat, event, flags, cookie(fd, event));
}

static int add_sock(int q, int fd, __u32 event, __u32 lowat, __u32 flags)
{
	struct ukevent uk = uk_sock(fd, event, lowat, flags);

	return ctl1(q, KEVENT_CTL_ADD, &uk);
}

/* The event ready now, if any: 1, else 0. */
static int take_one(int q, struct ukevent *ev)
{
	return get_ns(q, 0, 1, 0, ev);
}

static void write_n(int fd, size_t n)
{
	char buf[256];

	memset(buf, 'k', sizeof(buf));
	while (n > 0) {
		size_t chunk = n < sizeof(buf) ? n : sizeof(buf);
		ssize_t w = write(fd, buf, chunk);

		if (w <= 0)
			abort();
		n -= w;
	}
}

/* A connected TCP pair over loopback of `family`; -1 if it has none. */
static int tcp_pair(int family, int *client, int *server, int *listener)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1;

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_loopback;
		len = sizeof(*sin6);
	}
	*listener = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*listener < 0)
		return -1;
	setsockopt(*listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(*listener, (struct sockaddr *)&ss, len) || listen(*listener, 8) ||
	    getsockname(*listener, (struct sockaddr *)&ss, &len)) {
		close(*listener);
		return -1;
	}
	*client = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*client < 0 || connect(*client, (struct sockaddr *)&ss, len))
		abort();
	*server = accept4(*listener, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (*server < 0)
		abort();
	setsockopt(*client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return 0;
}

TEST_F(q, refuses_what_is_not_a_known_socket)
{
	int p[2], nl;
	struct ukevent uk;

	ASSERT_EQ(0, pipe(p));
	EXPECT_EQ(ENOTSOCK, add_sock(self->fd, p[0], KEVENT_SOCKET_RECV, 0, 0));
	EXPECT_EQ(EBADF, add_sock(self->fd, 999, KEVENT_SOCKET_RECV, 0, 0));
	nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	ASSERT_GE(nl, 0);
	EXPECT_EQ(EOPNOTSUPP, add_sock(self->fd, nl, KEVENT_SOCKET_RECV, 0, 0));
	/* Nothing was left behind: the same identity is free. */
	uk = uk_sock(p[0], KEVENT_SOCKET_RECV, 0, 0);
	EXPECT_EQ(ENOENT, ctl1(self->fd, KEVENT_CTL_REMOVE, &uk));
	close(nl);
	close(p[0]);
	close(p[1]);
}

TEST_F(q, asks_for_exactly_one_direction)
{
	int sv[2];
	static const __u32 bad[] = {
		0, KEVENT_SOCKET_RECV | KEVENT_SOCKET_SEND,
		KEVENT_SOCKET_RECV | KEVENT_SOCKET_ACCEPT, 0x8, 0x80000000,
	};
	size_t i;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		EXPECT_EQ(EINVAL, add_sock(self->fd, sv[0], bad[i], 0, 0));
	/* Connections are counted, not bytes: no low-water mark. */
	EXPECT_EQ(EINVAL, add_sock(self->fd, sv[0], KEVENT_SOCKET_ACCEPT, 2, 0));
	EXPECT_EQ(0, add_sock(self->fd, sv[0], KEVENT_SOCKET_RECV, 0, 0));
	/* The low-water mark is part of the identity. */
	EXPECT_EQ(0, add_sock(self->fd, sv[0], KEVENT_SOCKET_RECV, 64, 0));
	EXPECT_EQ(0, add_sock(self->fd, sv[0], KEVENT_SOCKET_ACCEPT, 0, 0));
	close(sv[0]);
	close(sv[1]);
}

TEST_F(q, unix_stream_recv_counts_the_bytes_to_receive)
{
	struct ukevent ev;
	char buf[8];
	int sv[2];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv));
	ASSERT_EQ(0, add_sock(self->fd, sv[0], KEVENT_SOCKET_RECV, 0, 0));
	EXPECT_EQ(0, take_one(self->fd, &ev));
	write_n(sv[1], 5);
	write_n(sv[1], 300);
	ASSERT_EQ(1, take_one(self->fd, &ev));
	EXPECT_EQ(KEVENT_SOCKET, ev.type);
	EXPECT_EQ(KEVENT_SOCKET_RECV, ev.event);
	EXPECT_EQ((__u32)sv[0], ev.id.raw[0]);
	EXPECT_EQ(cookie(sv[0], KEVENT_SOCKET_RECV), ev.ptr);
	EXPECT_EQ(KEVENT_RET_DONE, ev.ret_flags);
	EXPECT_EQ(305u, ev.ret_data[0]);
	EXPECT_EQ(0u, ev.ret_data[1]);
	/* Level-triggered: still ready, with what is left. */
	ASSERT_EQ(2, read(sv[0], buf, 2));
	ASSERT_EQ(1, take_one(self->fd, &ev));
	EXPECT_EQ(303u, ev.ret_data[0]);
	while (read(sv[0], buf, sizeof(buf)) > 0)
		;
	EXPECT_EQ(0, take_one(self->fd, &ev));
	close(sv[0]);
	close(sv[1]);
}

TEST_F(q, low_water_mark_holds_the_event_back)
{
	struct ukevent ev;
	int sv[2];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	ASSERT_EQ(0, add_sock(self->fd, sv[0], KEVENT_SOCKET_RECV, 100, 0));
	write_n(sv[1], 60);
	EXPECT_EQ(0, take_one(self->fd, &ev));
	write_n(sv[1], 39);
	EXPECT_EQ(0, take_one(self->fd, &ev));
	write_n(sv[1], 1);
	ASSERT_EQ(1, take_one(self->fd, &ev));
	EXPECT_EQ(100u, ev.ret_data[0]);
	EXPECT_EQ(100u, ev.id.raw[1]);
	close(sv[0]);
	close(sv[1]);
}

TEST_F(q, peer_shutdown_is_end_of_file_even_below_the_mark)
{
	struct ukevent ev;
	int sv[2];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	ASSERT_EQ(0, add_sock(self->fd, sv[0], KEVENT_SOCKET_RECV, 1000, 0));
	write_n(sv[1], 3);
	EXPECT_EQ(0, take_one(self->fd, &ev));
	ASSERT_EQ(0, shutdown(sv[1], SHUT_WR));
	ASSERT_EQ(1, take_one(self->fd, &ev));
	EXPECT_EQ(KEVENT_RET_DONE | KEVENT_RET_EOF, ev.ret_flags);
	EXPECT_EQ(3u, ev.ret_data[0]);
	close(sv[0]);
	close(sv[1]);
}

TEST_F(q, send_reports_free_space_and_waits_when_full)
{
	struct ukevent ev;
	__u32 first;
	int sv[2];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv));
	ASSERT_EQ(0, add_sock(self->fd, sv[0], KEVENT_SOCKET_SEND, 0, KEVENT_REQ_ET));
	ASSERT_EQ(1, take_one(self->fd, &ev));
	EXPECT_EQ(KEVENT_SOCKET_SEND, ev.event);
	first = ev.ret_data[0];
	EXPECT_GT(first, 0u);
	/* Fill the buffer: no more room, no event. */
	for (;;) {
		char buf[4096] = { 0 };

		if (write(sv[0], buf, sizeof(buf)) < 0)
			break;
	}
	ASSERT_EQ(EAGAIN, errno);
	EXPECT_EQ(0, take_one(self->fd, &ev));
	/* Draining the peer makes room, and wakes the request. */
	for (;;) {
		char buf[4096];

		if (read(sv[1], buf, sizeof(buf)) <= 0)
			break;
	}
	ASSERT_EQ(1, take_one(self->fd, &ev));
	EXPECT_GT(ev.ret_data[0], 0u);
	EXPECT_LE(ev.ret_data[0], first);
	close(sv[0]);
	close(sv[1]);
}

TEST_F(q, send_shut_down_is_end_of_file)
{
	struct ukevent ev;
	int sv[2];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	ASSERT_EQ(0, shutdown(sv[0], SHUT_WR));
	ASSERT_EQ(0, add_sock(self->fd, sv[0], KEVENT_SOCKET_SEND, 0, 0));
	ASSERT_EQ(1, take_one(self->fd, &ev));
	EXPECT_EQ(KEVENT_RET_DONE | KEVENT_RET_EOF, ev.ret_flags);
	close(sv[0]);
	close(sv[1]);
}

/* A datagram socket reports the next datagram's size, not the total. */
static void next_datagram_size(struct __test_metadata *_metadata, int q, int rx, int tx,
			       const struct sockaddr *to, socklen_t tolen)
{
	struct ukevent ev;
	char buf[200] = { 0 };

	ASSERT_EQ(0, add_sock(q, rx, KEVENT_SOCKET_RECV, 0, 0));
	EXPECT_EQ(0, take_one(q, &ev));
	ASSERT_EQ(100, sendto(tx, buf, 100, 0, to, tolen));
	ASSERT_EQ(7, sendto(tx, buf, 7, 0, to, tolen));
	ASSERT_EQ(1, take_one(q, &ev));
	EXPECT_EQ(100u, ev.ret_data[0]);
	ASSERT_EQ(100, recv(rx, buf, sizeof(buf), 0));
	ASSERT_EQ(1, take_one(q, &ev));
	EXPECT_EQ(7u, ev.ret_data[0]);
	ASSERT_EQ(7, recv(rx, buf, sizeof(buf), 0));
	EXPECT_EQ(0, take_one(q, &ev));
	/* An empty datagram is one too: ready, with a size of 0. */
	ASSERT_EQ(0, sendto(tx, buf, 0, 0, to, tolen));
	ASSERT_EQ(1, take_one(q, &ev));
	EXPECT_EQ(0u, ev.ret_data[0]);
}

TEST_F(q, udp_recv_reports_the_next_datagram)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int rx, tx;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	rx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	tx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ASSERT_GE(rx, 0);
	ASSERT_GE(tx, 0);
	ASSERT_EQ(0, bind(rx, (struct sockaddr *)&sin, sizeof(sin)));
	ASSERT_EQ(0, getsockname(rx, (struct sockaddr *)&sin, &len));
	next_datagram_size(_metadata, self->fd, rx, tx, (struct sockaddr *)&sin, len);
	close(rx);
	close(tx);
}

TEST_F(q, unix_datagram_and_seqpacket_report_the_next_one)
{
	int sv[2];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv));
	next_datagram_size(_metadata, self->fd, sv[0], sv[1], NULL, 0);
	close(sv[0]);
	close(sv[1]);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv));
	next_datagram_size(_metadata, self->fd, sv[0], sv[1], NULL, 0);
	close(sv[0]);
	close(sv[1]);
}

/* The event of request `cookie` among those ready now: 1 if found. */
static int find_event(int q, __u64 cookie, struct ukevent *out)
{
	struct ukevent ev[8];
	int n = get_ns(q, 0, 8, 0, ev), i;

	for (i = 0; i < n; i++)
		if (ev[i].ptr == cookie) {
			*out = ev[i];
			return 1;
		}
	return 0;
}

/* A unix socket bound to an abstract address (nothing in the file system). */
static int unix_bound(int type, const char *name, struct sockaddr_un *sun)
{
	int s = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	snprintf(sun->sun_path + 1, sizeof(sun->sun_path) - 1, "kevent-%s-%d", name, getpid());
	if (s < 0 || bind(s, (struct sockaddr *)sun, sizeof(*sun)))
		abort();
	return s;
}

TEST_F(q, unix_listener_counts_waiting_connections)
{
	struct sockaddr_un sun;
	struct ukevent ev;
	int l, c1, c2;

	l = unix_bound(SOCK_STREAM, "accept", &sun);
	ASSERT_EQ(0, listen(l, 8));
	ASSERT_EQ(0, add_sock(self->fd, l, KEVENT_SOCKET_ACCEPT, 0, 0));
	/* RECV on a listener: it has connections, not bytes. */
	ASSERT_EQ(0, add_sock(self->fd, l, KEVENT_SOCKET_RECV, 0, 0));
	EXPECT_EQ(0, take_one(self->fd, &ev));
	c1 = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	c2 = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_EQ(0, connect(c1, (struct sockaddr *)&sun, sizeof(sun)));
	ASSERT_EQ(0, connect(c2, (struct sockaddr *)&sun, sizeof(sun)));
	ASSERT_EQ(1, find_event(self->fd, cookie(l, KEVENT_SOCKET_ACCEPT), &ev));
	EXPECT_EQ(KEVENT_SOCKET_ACCEPT, ev.event);
	EXPECT_EQ(2u, ev.ret_data[0]);
	EXPECT_EQ(0, find_event(self->fd, cookie(l, KEVENT_SOCKET_RECV), &ev));
	close(accept(l, NULL, NULL));
	close(accept(l, NULL, NULL));
	EXPECT_EQ(0, take_one(self->fd, &ev));
	close(c1);
	close(c2);
	close(l);
}

TEST_F(q, unix_datagram_send_waits_for_the_receivers_queue)
{
	struct sockaddr_un sun;
	struct ukevent ev;
	char buf[16] = { 0 };
	int r, s, sent = 0;

	r = unix_bound(SOCK_DGRAM, "dgram", &sun);
	s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	ASSERT_EQ(0, connect(s, (struct sockaddr *)&sun, sizeof(sun)));
	ASSERT_EQ(0, add_sock(self->fd, s, KEVENT_SOCKET_SEND, 0, 0));
	ASSERT_EQ(1, take_one(self->fd, &ev));
	EXPECT_GT(ev.ret_data[0], 0u);
	/* Fill the receiver's queue (net.unix.max_dgram_qlen datagrams). */
	while (send(s, buf, sizeof(buf), 0) == sizeof(buf))
		sent++;
	ASSERT_EQ(EAGAIN, errno);
	ASSERT_GT(sent, 0);
	/* Room in the send buffer, but not writable: no event. */
	EXPECT_EQ(0, take_one(self->fd, &ev));
	/* The receiver reads one: the sender is woken, and writable. */
	ASSERT_EQ((ssize_t)sizeof(buf), recv(r, buf, sizeof(buf), 0));
	ASSERT_EQ(1, get_ns(self->fd, 1, 1, 5 * NSEC_PER_SEC, &ev));
	EXPECT_EQ(KEVENT_SOCKET_SEND, ev.event);
	EXPECT_GT(ev.ret_data[0], 0u);
	close(s);
	close(r);
}

TEST_F(q, udp_send_reports_free_space)
{
	struct ukevent ev;
	int s = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int sndbuf = 0;
	socklen_t len = sizeof(sndbuf);

	if (s < 0)
		SKIP(return, "no IPv6");
	ASSERT_EQ(0, getsockopt(s, SOL_SOCKET, SO_SNDBUF, &sndbuf, &len));
	ASSERT_EQ(0, add_sock(self->fd, s, KEVENT_SOCKET_SEND, 1024, 0));
	ASSERT_EQ(1, take_one(self->fd, &ev));
	EXPECT_EQ((__u32)sndbuf, ev.ret_data[0]);
	/* More than the buffer holds: never. */
	ASSERT_EQ(0, add_sock(self->fd, s, KEVENT_SOCKET_SEND, sndbuf + 1, 0));
	ASSERT_EQ(1, take_one(self->fd, &ev));
	EXPECT_EQ(1024u, ev.id.raw[1]);
	EXPECT_EQ(0, take_one(self->fd, &ev) == 1 && ev.id.raw[1] != 1024);
	close(s);
}

static void tcp_figures(struct __test_metadata *_metadata, int q, int family)
{
	int client, server, listener, c2;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct ukevent ev;
	char buf[64];

	if (tcp_pair(family, &client, &server, &listener))
		SKIP(return, "no loopback for this family");
	/* Connections waiting to be accepted. */
	ASSERT_EQ(0, add_sock(q, listener, KEVENT_SOCKET_ACCEPT, 0, 0));
	EXPECT_EQ(0, take_one(q, &ev));
	ASSERT_EQ(0, getsockname(listener, (struct sockaddr *)&ss, &len));
	c2 = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_EQ(0, connect(c2, (struct sockaddr *)&ss, len));
	ASSERT_EQ(1, get_ns(q, 1, 1, 5 * NSEC_PER_SEC, &ev));
	EXPECT_EQ(KEVENT_SOCKET_ACCEPT, ev.event);
	EXPECT_EQ(1u, ev.ret_data[0]);
	close(accept(listener, NULL, NULL));
	EXPECT_EQ(0, take_one(q, &ev));
	/* Bytes to receive, then the peer's FIN. */
	ASSERT_EQ(0, add_sock(q, server, KEVENT_SOCKET_RECV, 0, KEVENT_REQ_ET));
	write_n(client, 10);
	ASSERT_EQ(1, get_ns(q, 1, 1, 5 * NSEC_PER_SEC, &ev));
	EXPECT_EQ(10u, ev.ret_data[0]);
	EXPECT_EQ(KEVENT_RET_DONE, ev.ret_flags);
	/* Edge-triggered: nothing new, no event. */
	EXPECT_EQ(0, take_one(q, &ev));
	ASSERT_EQ(0, shutdown(client, SHUT_WR));
	ASSERT_EQ(1, get_ns(q, 1, 1, 5 * NSEC_PER_SEC, &ev));
	EXPECT_EQ(KEVENT_RET_DONE | KEVENT_RET_EOF, ev.ret_flags);
	EXPECT_EQ(10u, ev.ret_data[0]);
	ASSERT_EQ(10, read(server, buf, sizeof(buf)));
	/* Free space to send. */
	ASSERT_EQ(0, add_sock(q, server, KEVENT_SOCKET_SEND, 0, KEVENT_REQ_ONESHOT));
	ASSERT_EQ(1, take_one(q, &ev));
	EXPECT_EQ(KEVENT_SOCKET_SEND, ev.event);
	EXPECT_GT(ev.ret_data[0], 0u);
	/* One-shot: it is gone. */
	ev = uk_sock(server, KEVENT_SOCKET_SEND, 0, 0);
	EXPECT_EQ(ENOENT, ctl1(q, KEVENT_CTL_REMOVE, &ev));
	close(c2);
	close(client);
	close(server);
	close(listener);
}

TEST_F(q, tcp_ipv4_accept_recv_eof_send)
{
	tcp_figures(_metadata, self->fd, AF_INET);
}

TEST_F(q, tcp_ipv6_accept_recv_eof_send)
{
	tcp_figures(_metadata, self->fd, AF_INET6);
}

TEST_F(q, pending_error_is_reported_and_not_cleared)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	struct ukevent ev;
	int s, err = 0;

	/* A port nobody listens on: the connection is refused. */
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_EQ(0, bind(s, (struct sockaddr *)&sin, sizeof(sin)));
	ASSERT_EQ(0, getsockname(s, (struct sockaddr *)&sin, &len));
	close(s);
	s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	ASSERT_EQ(0, add_sock(self->fd, s, KEVENT_SOCKET_RECV, 0, 0));
	ASSERT_EQ(-1, connect(s, (struct sockaddr *)&sin, sizeof(sin)));
	ASSERT_EQ(1, get_ns(self->fd, 1, 1, 5 * NSEC_PER_SEC, &ev));
	EXPECT_EQ((__u32)ECONNREFUSED, ev.ret_data[1]);
	/* Reading the event did not clear it: SO_ERROR still has it. */
	len = sizeof(err);
	ASSERT_EQ(0, getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len));
	EXPECT_EQ(ECONNREFUSED, err);
	close(s);
}

TEST_F(q, closing_the_socket_removes_the_request)
{
	struct ukevent ev;
	int sv[2];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	ASSERT_EQ(0, add_sock(self->fd, sv[0], KEVENT_SOCKET_RECV, 0, 0));
	write_n(sv[1], 1);
	close(sv[0]);
	/* A closed file's request is gone, its event with it. */
	EXPECT_EQ(0, take_one(self->fd, &ev));
	ev = uk_sock(sv[0], KEVENT_SOCKET_RECV, 0, 0);
	EXPECT_EQ(ENOENT, ctl1(self->fd, KEVENT_CTL_REMOVE, &ev));
	close(sv[1]);
}

TEST_F(q, modify_changes_the_direction)
{
	struct ukevent ev;
	int sv[2];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	ASSERT_EQ(0, add_sock(self->fd, sv[0], KEVENT_SOCKET_RECV, 0, 0));
	EXPECT_EQ(0, take_one(self->fd, &ev));
	/* The same request (its cookie), now for the other direction. */
	ev = uk_sock(sv[0], KEVENT_SOCKET_RECV, 0, 0);
	ev.event = KEVENT_SOCKET_SEND;
	ASSERT_EQ(0, ctl1(self->fd, KEVENT_CTL_MODIFY, &ev));
	ASSERT_EQ(1, take_one(self->fd, &ev));
	EXPECT_EQ(KEVENT_SOCKET_SEND, ev.event);
	EXPECT_EQ(cookie(sv[0], KEVENT_SOCKET_RECV), ev.ptr);
	ev.event = KEVENT_SOCKET_RECV | KEVENT_SOCKET_SEND;
	EXPECT_EQ(EINVAL, ctl1(self->fd, KEVENT_CTL_MODIFY, &ev));
	close(sv[0]);
	close(sv[1]);
}

TEST_HARNESS_MAIN
