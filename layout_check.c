// SPDX-License-Identifier: GPL-2.0
/*
 * The layouts of the C structs that the Rust code declares by hand, read
 * from the real headers at build time.
 *
 * Like the kernel's asm-offsets.c, this file is compiled to assembly only
 * (never linked); Kbuild turns each DEFINE below into a constant of
 * layout_generated.rs, and the Rust declarations assert at compile time
 * that their sizes and offsets equal these.
 */
#include <linux/kbuild.h>
#include <linux/miscdevice.h>
#include <linux/poll.h>
#include <linux/signal.h>
#include <linux/kevent.h>
#include <net/sock.h>

#include "sys/inode.h"
#include "sys/socket.h"
#include "sys/wait.h"

#define SIZE(sym, type) DEFINE(sym, sizeof(type))

void kevent_layout(void);
void kevent_layout(void)
{
	SIZE(MISCDEVICE_SIZE, struct miscdevice);
	OFFSET(MISCDEVICE_MINOR, miscdevice, minor);
	OFFSET(MISCDEVICE_NAME, miscdevice, name);
	OFFSET(MISCDEVICE_FOPS, miscdevice, fops);
	OFFSET(MISCDEVICE_MODE, miscdevice, mode);
	DEFINE(MISC_DYNAMIC_MINOR_VALUE, MISC_DYNAMIC_MINOR);

	SIZE(POLL_TABLE_SIZE, struct poll_table_struct);
	OFFSET(POLL_TABLE_QPROC, poll_table_struct, _qproc);
	OFFSET(POLL_TABLE_KEY, poll_table_struct, _key);

	DEFINE(EPOLLIN_BITS, (__force unsigned int)EPOLLIN);
	DEFINE(EPOLLRDNORM_BITS, (__force unsigned int)EPOLLRDNORM);
	DEFINE(EPOLLERR_BITS, (__force unsigned int)EPOLLERR);
	DEFINE(EPOLLHUP_BITS, (__force unsigned int)EPOLLHUP);
	DEFINE(EPOLLFREE_BITS, (__force unsigned int)POLLFREE);

	SIZE(UKEVENT_SIZE, struct ukevent);
	OFFSET(UKEVENT_ID, ukevent, id);
	OFFSET(UKEVENT_TYPE, ukevent, type);
	OFFSET(UKEVENT_EVENT, ukevent, event);
	OFFSET(UKEVENT_REQ_FLAGS, ukevent, req_flags);
	OFFSET(UKEVENT_RET_FLAGS, ukevent, ret_flags);
	OFFSET(UKEVENT_RET_DATA, ukevent, ret_data);
	OFFSET(UKEVENT_USER, ukevent, user);

	SIZE(CTL_ARG_SIZE, struct kevent_ctl_arg);
	OFFSET(CTL_ARG_CMD, kevent_ctl_arg, cmd);
	OFFSET(CTL_ARG_NUM, kevent_ctl_arg, num);
	OFFSET(CTL_ARG_EVENTS, kevent_ctl_arg, events);
	OFFSET(CTL_ARG_FLAGS, kevent_ctl_arg, flags);
	OFFSET(CTL_ARG_RESERVED, kevent_ctl_arg, __reserved);

	SIZE(GET_EVENTS_ARG_SIZE, struct kevent_get_events_arg);
	OFFSET(GET_EVENTS_ARG_MIN_NR, kevent_get_events_arg, min_nr);
	OFFSET(GET_EVENTS_ARG_MAX_NR, kevent_get_events_arg, max_nr);
	OFFSET(GET_EVENTS_ARG_TIMEOUT_NS, kevent_get_events_arg, timeout_ns);
	OFFSET(GET_EVENTS_ARG_EVENTS, kevent_get_events_arg, events);
	OFFSET(GET_EVENTS_ARG_FLAGS, kevent_get_events_arg, flags);
	OFFSET(GET_EVENTS_ARG_RESERVED, kevent_get_events_arg, __reserved);

	SIZE(PGET_EVENTS_ARG_SIZE, struct kevent_pget_events_arg);
	OFFSET(PGET_EVENTS_ARG_GET, kevent_pget_events_arg, get);
	OFFSET(PGET_EVENTS_ARG_SIGMASK, kevent_pget_events_arg, sigmask);
	OFFSET(PGET_EVENTS_ARG_SIGSETSIZE, kevent_pget_events_arg, sigsetsize);
	OFFSET(PGET_EVENTS_ARG_RESERVED, kevent_pget_events_arg, __reserved);
	SIZE(SIGSET_SIZE, sigset_t);

	SIZE(SOCKET_STATE_SIZE, struct kevent_socket_state);
	OFFSET(SOCKET_STATE_FIGURE, kevent_socket_state, figure);
	OFFSET(SOCKET_STATE_ERROR, kevent_socket_state, error);
	OFFSET(SOCKET_STATE_SHUTDOWN, kevent_socket_state, shutdown);
	OFFSET(SOCKET_STATE_LISTENING, kevent_socket_state, listening);

	SIZE(WAITER_SIZE, struct kevent_waiter);
	OFFSET(WAITER_ENTRY, kevent_waiter, entry);
	OFFSET(WAITER_MIN_NR, kevent_waiter, min_nr);
	DEFINE(RCV_SHUTDOWN_BITS, RCV_SHUTDOWN);
	DEFINE(SEND_SHUTDOWN_BITS, SEND_SHUTDOWN);

	DEFINE(KEVENT_SOCKET_VALUE, KEVENT_SOCKET);
	DEFINE(KEVENT_SOCKET_RECV_VALUE, KEVENT_SOCKET_RECV);
	DEFINE(KEVENT_SOCKET_ACCEPT_VALUE, KEVENT_SOCKET_ACCEPT);
	DEFINE(KEVENT_SOCKET_SEND_VALUE, KEVENT_SOCKET_SEND);
	DEFINE(KEVENT_INODE_VALUE, KEVENT_INODE);
	DEFINE(KEVENT_INODE_ALL_VALUE, KEVENT_INODE_ALL);
	DEFINE(KEVENT_INODE_UNMOUNT_VALUE, KEVENT_INODE_UNMOUNT);
	DEFINE(KEVENT_INODE_ENDED_VALUE, KEVENT_INODE_ENDED);
	DEFINE(KEVENT_RET_EOF_VALUE, KEVENT_RET_EOF);
	DEFINE(KEVENT_RET_CANCELED_VALUE, KEVENT_RET_CANCELED);
	DEFINE(KEVENT_TIMER_REALTIME_VALUE, KEVENT_TIMER_REALTIME);
	DEFINE(KEVENT_TIMER_BOOTTIME_VALUE, KEVENT_TIMER_BOOTTIME);
	DEFINE(KEVENT_TIMER_TAI_VALUE, KEVENT_TIMER_TAI);
	DEFINE(KEVENT_TIMER_CLOCK_MASK_VALUE, KEVENT_TIMER_CLOCK_MASK);
	DEFINE(KEVENT_TIMER_ABSTIME_VALUE, KEVENT_TIMER_ABSTIME);
	DEFINE(KEVENT_TIMER_CANCEL_ON_SET_VALUE, KEVENT_TIMER_CANCEL_ON_SET);

	SIZE(RING_SETUP_SIZE, struct kevent_ring_setup);
	OFFSET(RING_SETUP_ENTRIES, kevent_ring_setup, entries);
	OFFSET(RING_SETUP_FLAGS, kevent_ring_setup, flags);
	OFFSET(RING_SETUP_SIZE_OUT, kevent_ring_setup, size);
	OFFSET(RING_SETUP_RESERVED, kevent_ring_setup, __reserved);
	SIZE(RING_HEADER_SIZE, struct kevent_ring);
	OFFSET(RING_HEAD, kevent_ring, head);
	OFFSET(RING_TAIL, kevent_ring, tail);
	OFFSET(RING_MASK, kevent_ring, mask);
	OFFSET(RING_FLAGS, kevent_ring, flags);
	OFFSET(RING_ENTRIES, kevent_ring, entries);
	SIZE(RING_ENTRY_SIZE, struct kevent_ring_entry);
	OFFSET(RING_ENTRY_ID, kevent_ring_entry, id);
	OFFSET(RING_ENTRY_TYPE, kevent_ring_entry, type);
	OFFSET(RING_ENTRY_RET_FLAGS, kevent_ring_entry, ret_flags);
	OFFSET(RING_ENTRY_RET_DATA, kevent_ring_entry, ret_data);
	OFFSET(RING_ENTRY_USER, kevent_ring_entry, user);
	DEFINE(KEVENT_RING_MIN_ENTRIES_VALUE, KEVENT_RING_MIN_ENTRIES);
	DEFINE(KEVENT_RING_MAX_ENTRIES_VALUE, KEVENT_RING_MAX_ENTRIES);
	DEFINE(KEVENT_RING_BACKLOG_VALUE, KEVENT_RING_BACKLOG);
	DEFINE(KEVENT_GET_RING_VALUE, KEVENT_GET_RING);

	DEFINE(IOC_CTL, KEVENT_IOC_CTL);
	DEFINE(IOC_GET_EVENTS, KEVENT_IOC_GET_EVENTS);
	DEFINE(IOC_PGET_EVENTS, KEVENT_IOC_PGET_EVENTS);
	DEFINE(IOC_RING_SETUP, KEVENT_IOC_RING_SETUP);
}
