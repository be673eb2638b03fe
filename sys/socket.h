/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What sys/socket.c reads of a socket for KEVENT_SOCKET, and the hold a
 * watch keeps on a socket; sys/socket.rs declares the struct again,
 * and layout_check.c checks that declaration against this one.
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

struct socket;
struct kevent_socket_hold;

struct socket *kevent_held_socket_of(struct file *file);
struct kevent_socket_hold *kevent_socket_hold(struct socket *sock);
struct file *kevent_socket_hold_file(struct kevent_socket_hold *hold);
bool kevent_socket_hold_released(const struct kevent_socket_hold *hold);
void kevent_socket_hold_put(struct kevent_socket_hold *hold);
void kevent_socket_holds_flush(void);

#endif
