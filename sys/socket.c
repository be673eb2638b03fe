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
 */
#include <linux/fs.h>
#include <linux/mutex.h>
#include <linux/net.h>
#include <linux/version.h>
#include <linux/skbuff.h>
#include <linux/ioctl.h>
#include <linux/kevent.h>
#include <linux/sockios.h>
#include <asm/ioctls.h>
#include <net/af_unix.h>
#include <net/net_namespace.h>
#include <net/scm.h>
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
 * The control block of a unix socket's skb, whose fp lists the files it
 * carries (SCM_RIGHTS): public in 6.12's <net/af_unix.h>, private to
 * net/unix/ in 7.2, whose headers packages lack it. So it is copied here
 * for 7.2, and checked against the real one when the kernel's tree is at
 * hand (every build of make check).
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(7, 2, 0)
struct kevent_unix_skb_parms {
	struct pid		*pid;
	kuid_t			uid;
	kgid_t			gid;
	struct scm_fp_list	*fp;
#ifdef CONFIG_SECURITY_NETWORK
	u32			secid;
#endif
	u32			consumed;
};
#if __has_include(<../net/unix/af_unix.h>) && !IS_ENABLED(CONFIG_RANDSTRUCT)
#include <../net/unix/af_unix.h>
static_assert(sizeof(struct kevent_unix_skb_parms) == sizeof(struct unix_skb_parms));
static_assert(offsetof(struct kevent_unix_skb_parms, fp) == offsetof(struct unix_skb_parms, fp));
#endif
#define KEVENT_UNIX_FP(skb) (((struct kevent_unix_skb_parms *)&(skb)->cb)->fp)
#else
#define KEVENT_UNIX_FP(skb) (UNIXCB(skb).fp)
#endif

/*
 * The most files kevent_socket_only_in_own_queue() looks at, in all the
 * skbs of a queue: the walk holds the queue's lock. A peer's send buffer
 * bounds the queue of a socket pair (by default to a few hundred skbs).
 */
#define KEVENT_UNIX_WALK_MAX 4096

/*
 * Whether file is a unix socket held by the caller's one reference and
 * otherwise only by SCM_RIGHTS copies of itself waiting in its own receive
 * queue. Nobody can read that queue without holding the socket, so nobody
 * can ever take those copies out: the socket and what its queue holds are
 * garbage, which the unix GC collects once the caller lets go (it counts
 * the caller's reference as one from outside). Once true it stays so.
 *
 * False when unsure: a layout that cannot be trusted (a randomised one,
 * copied), someone receiving (the socket is open), a listener, or more
 * than KEVENT_UNIX_WALK_MAX files to look at. Process context; takes the
 * socket's receive lock and its receive queue's lock.
 */
bool kevent_socket_only_in_own_queue(struct file *file)
{
	struct socket *sock = sock_from_file(file);
	struct sock *sk = sock ? sock->sk : NULL;
	struct unix_sock *u;
	struct sk_buff *skb;
	long copies = 0, seen = 0, others;
	bool only;

	if (IS_ENABLED(CONFIG_RANDSTRUCT) && LINUX_VERSION_CODE >= KERNEL_VERSION(7, 2, 0))
		return false;
	if (!sk || sk->sk_family != AF_UNIX)
		return false;
	/* The references besides the caller's, all to be found queued. */
	others = file_count(file) - 1;
	u = unix_sk(sk);
	if (others < 1 || READ_ONCE(u->scm_stat.nr_unix_fds) < others ||
	    READ_ONCE(sk->sk_state) == TCP_LISTEN)
		return false;
	/*
	 * A stream receive takes the files off a queued skb under the receive
	 * lock alone; a datagram receive, the release and the GC take skbs
	 * off under the queue's lock.
	 */
	if (!mutex_trylock(&u->iolock))
		return false;
	spin_lock(&sk->sk_receive_queue.lock);
	skb_queue_walk(&sk->sk_receive_queue, skb) {
		struct scm_fp_list *fpl = KEVENT_UNIX_FP(skb);
		int i;

		if (fpl && (seen += fpl->count) > KEVENT_UNIX_WALK_MAX) {
			copies = 0;
			break;
		}
		for (i = 0; fpl && i < fpl->count; i++)
			copies += fpl->fp[i] == file;
	}
	only = copies && file_count(file) == 1 + copies;
	spin_unlock(&sk->sk_receive_queue.lock);
	mutex_unlock(&u->iolock);
	return only;
}

/*
 * Starts the unix GC (unix_gc() is not exported), as the release of any
 * unix socket does while files are in flight. Process context.
 */
void kevent_socket_collect_unix_garbage(void)
{
	struct socket *sock;

	if (!sock_create_kern(&init_net, PF_UNIX, SOCK_DGRAM, 0, &sock))
		sock_release(sock);
}
