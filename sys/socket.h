/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What sys/socket.c reads of a socket for KEVENT_SOCKET; sys/socket.rs
 * declares the struct again, and layout_check.c checks that declaration
 * against this one.
 */
#ifndef KEVENT_SYS_SOCKET_H
#define KEVENT_SYS_SOCKET_H

#include <linux/types.h>

struct file;

struct kevent_socket_state {
	/*
	 * The figure of the direction asked for: the bytes a receive returns
	 * now (a datagram's size), the connections waiting to be accepted, or
	 * the free space in the send buffer.
	 */
	u32 figure;
	u32 error;	/* the pending error (positive errno), not cleared */
	u32 shutdown;	/* RCV_SHUTDOWN and SEND_SHUTDOWN */
	u32 listening;	/* 1 if the socket listens for connections */
};

int kevent_socket_check(struct file *file);
void kevent_socket_state(struct file *file, u32 direction, struct kevent_socket_state *st);
bool kevent_socket_only_in_own_queue(struct file *file);
void kevent_socket_collect_unix_garbage(void);

#endif
