// SPDX-License-Identifier: GPL-2.0
/*
 * The figures of a socket that KEVENT_SOCKET events carry, as kqueue's
 * EVFILT_READ and EVFILT_WRITE report them: the bytes a receive would
 * return, the connections waiting to be accepted, the free space in the
 * send buffer, the pending error and whether either direction was shut
 * down.
 *
 * They are read from struct sock, whose layout 6.12's Rust bindings do not
 * have, and from protocol functions (tcp_ioctl(), udp_ioctl(),
 * unix_inq_len()) that answer SIOCINQ; hence C, behind sys/socket.rs.
 * Also the hold kevent keeps on a watched socket, which struct socket
 * and the inode behind it make C's too.
 */
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/ioctl.h>
#include <linux/llist.h>
#include <linux/net.h>
#include <linux/preempt.h>
#include <linux/rcupdate.h>
#include <linux/skbuff.h>
#include <linux/slab.h>
#include <linux/workqueue.h>
#include <linux/kevent.h>
#include <linux/sockios.h>
#include <asm/ioctls.h>
#include <net/sock.h>
#include <net/tcp.h>
#include <net/udp.h>

#include "socket.h"

/*
 * Exported by net/unix/af_unix.c; 6.12 declares it in <net/af_unix.h>, 7.2
 * only in the private net/unix/af_unix.h. The same prototype twice is fine.
 */
long unix_inq_len(struct sock *sk);

/* The families and protocols whose figures are known. */
static bool supported(const struct sock *sk)
{
	switch (READ_ONCE(sk->sk_family)) {
	case AF_INET:
	case AF_INET6:
		return sk_is_tcp(sk) ||
		       (sk->sk_type == SOCK_DGRAM &&
			(sk->sk_protocol == IPPROTO_UDP || sk->sk_protocol == IPPROTO_UDPLITE));
	case AF_UNIX:
		return sk->sk_type == SOCK_STREAM || sk->sk_type == SOCK_DGRAM ||
		       sk->sk_type == SOCK_SEQPACKET;
	default:
		return false;
	}
}

/*
 * Whether a KEVENT_SOCKET request may watch file: 0, -ENOTSOCK for a file
 * that is not a socket, -EOPNOTSUPP for a socket of another family or
 * protocol.
 */
int kevent_socket_check(struct file *file)
{
	struct socket *sock = sock_from_file(file);

	if (!sock || !sock->sk)
		return -ENOTSOCK;
	return supported(sock->sk) ? 0 : -EOPNOTSUPP;
}

/* The bytes a receive would return now (a record's or datagram's size). */
static u32 inq(struct sock *sk)
{
	struct sk_buff *skb;
	int karg = 0;
	long len = 0;

	if (READ_ONCE(sk->sk_state) == TCP_LISTEN)
		return 0;
	if (sk->sk_family != AF_UNIX) {
		/* SIOCINQ of TCP (under the socket lock) and UDP. */
		if (!sk->sk_prot->ioctl || sk->sk_prot->ioctl(sk, SIOCINQ, &karg))
			return 0;
		return max(karg, 0);
	}
	if (sk->sk_type == SOCK_STREAM) {
		len = unix_inq_len(sk);
		return len > 0 ? min_t(long, len, U32_MAX) : 0;
	}
	/* A datagram or a record: the next one's size. */
	spin_lock(&sk->sk_receive_queue.lock);
	skb = skb_peek(&sk->sk_receive_queue);
	if (skb)
		len = skb->len;
	spin_unlock(&sk->sk_receive_queue.lock);
	return len;
}

/* Connections waiting to be accepted on a listening socket. */
static u32 backlog(struct sock *sk)
{
	if (READ_ONCE(sk->sk_state) != TCP_LISTEN)
		return 0;
	/* A unix listener queues its connections as skbs. */
	if (sk->sk_family == AF_UNIX)
		return skb_queue_len_lockless(&sk->sk_receive_queue);
	return READ_ONCE(sk->sk_ack_backlog);
}

/* Free space in the send buffer. */
static u32 space(struct sock *sk)
{
	int free;

	if (sk_is_tcp(sk))
		free = sk_stream_wspace(sk);
	else
		free = READ_ONCE(sk->sk_sndbuf) - sk_wmem_alloc_get(sk);
	return max(free, 0);
}

/*
 * Reads the state of the socket behind file, which kevent_socket_check()
 * accepted, with the figure of direction (a KEVENT_SOCKET_* event) only:
 * the others may cost a lock (TCP's SIOCINQ takes the socket lock).
 * Process context.
 */
void kevent_socket_state(struct file *file, u32 direction, struct kevent_socket_state *st)
{
	struct socket *sock = sock_from_file(file);
	struct sock *sk = sock ? sock->sk : NULL;

	memset(st, 0, sizeof(*st));
	if (!sk)
		return;
	switch (direction) {
	case KEVENT_SOCKET_RECV:
		st->figure = inq(sk);
		break;
	case KEVENT_SOCKET_ACCEPT:
		st->figure = backlog(sk);
		break;
	default:
		st->figure = space(sk);
		break;
	}
	st->error = READ_ONCE(sk->sk_err);
	st->shutdown = READ_ONCE(sk->sk_shutdown) & SHUTDOWN_MASK;
	st->listening = READ_ONCE(sk->sk_state) == TCP_LISTEN;
}

/*
 * kevent's hold on a watched socket whose figures are known (supported()).
 *
 * A reference to the file would keep the socket open after its owner's
 * last close: a TCP socket would send its FIN, and free its port, only
 * when the sweep of closed files found it (up to a round of every
 * watched file later), where epoll's watches let it go as close()
 * returns. And for the unix GC a file reference counts as one from
 * outside: unix sockets in flight in each other's receive queues, where
 * nobody can ever receive them, would never be freed, nor anything those
 * queues hold (kevent queues too), as long as kevent watched one of them.
 *
 * So kevent holds the socket's inode instead. That keeps the struct
 * socket, and so sock->wq, the only wait queue these sockets' poll
 * methods hook (tcp_poll(), udp_poll(), unix_poll(), unix_dgram_poll(),
 * and those that replace them on such a socket, kTLS's and espintcp's,
 * which call them or datagram_poll()), while the file is closed and
 * released as if kevent did not watch it. The file is taken for the
 * length of each use; once it is released, sock->file is NULL for good.
 * Other sockets (other families, and raw, SCTP or MPTCP sockets) keep a
 * file reference: a poll method may hook a wait queue of its own
 * protocol (CAN's isotp_poll()), which goes with the sock at release.
 */
struct kevent_socket_hold {
	struct socket *sock;
	struct llist_node put;
};

/*
 * Holds whose inode is still to be put: a hold goes where the last
 * reference to a request goes, under spinlocks too, where iput(), which
 * may sleep, waits for a work item.
 */
static LLIST_HEAD(kevent_socket_puts);

static void kevent_socket_hold_free(struct kevent_socket_hold *hold)
{
	iput(SOCK_INODE(hold->sock));
	kfree(hold);
}

static void kevent_socket_put_all(struct work_struct *work)
{
	struct llist_node *puts = llist_del_all(&kevent_socket_puts);
	struct kevent_socket_hold *hold, *next;

	/* A user's queues may let go of many at once. */
	llist_for_each_entry_safe(hold, next, puts, put) {
		kevent_socket_hold_free(hold);
		cond_resched();
	}
}

static DECLARE_WORK(kevent_socket_put_work, kevent_socket_put_all);

/*
 * The socket behind file, an open file the caller holds, if kevent holds
 * it by its inode (see struct kevent_socket_hold), or NULL: also the key
 * of its watch, which outlives the file. A socket's family, type and
 * protocol never change between answers (IPV6_ADDRFORM changes only the
 * family, from one supported to another). The socket must name file as
 * its own: SMC's fallback hands an open file to its inner TCP socket,
 * setting that socket's file and the file's socket in turn.
 */
struct socket *kevent_held_socket_of(struct file *file)
{
	struct socket *sock = sock_from_file(file);

	if (!sock || READ_ONCE(sock->file) != file || !sock->sk)
		return NULL;
	return supported(sock->sk) ? sock : NULL;
}

/*
 * A hold on sock, which kevent_held_socket_of() found behind a file that
 * the caller still holds, or NULL without memory. The socket is not looked
 * up again: SMC's fallback may have handed the file to another socket
 * since, and the one found is still alive. May sleep.
 */
struct kevent_socket_hold *kevent_socket_hold(struct socket *sock)
{
	struct kevent_socket_hold *hold;

	hold = kmalloc(sizeof(*hold), GFP_KERNEL_ACCOUNT);
	if (!hold)
		return NULL;
	/*
	 * The socket lives while the caller holds its file (through the
	 * file's dentry, or for SMC's fallback the SMC socket that owns it),
	 * so its inode has a reference to add to.
	 */
	ihold(SOCK_INODE(sock));
	hold->sock = sock;
	return hold;
}

/* A new reference to the held socket's file, or NULL once it is released. */
struct file *kevent_socket_hold_file(struct kevent_socket_hold *hold)
{
	return get_file_active(&hold->sock->file);
}

/*
 * Whether the held socket's file was released: true for good once true.
 * Any context.
 */
bool kevent_socket_hold_released(const struct kevent_socket_hold *hold)
{
	return !READ_ONCE(hold->sock->file);
}

/*
 * Lets go of hold, whose socket no hook of the caller's waits on any
 * more. Any context: where the caller may not sleep, the inode is put
 * from a work item. preemptible() does not see an RCU read-side section
 * under preemptible RCU, nor a spinlock_t under PREEMPT_RT (which takes
 * one): rcu_preempt_depth() does. (A kernel without a preemption count
 * always goes through the work item.)
 */
void kevent_socket_hold_put(struct kevent_socket_hold *hold)
{
	/* A REMOVE, a queue's release, the sweep: the common cases. */
	if (preemptible() && !rcu_preempt_depth()) {
		kevent_socket_hold_free(hold);
		return;
	}
	if (llist_add(&hold->put, &kevent_socket_puts))
		schedule_work(&kevent_socket_put_work);
}

/* Waits until every hold let go of has been put (module exit). */
void kevent_socket_holds_flush(void)
{
	flush_work(&kevent_socket_put_work);
}
