// SPDX-License-Identifier: GPL-2.0
/*
 * 10. Inode events: files watched for writes, by one KEVENT_INODE request
 * (KEVENT_INODE_WRITE) or one inotify watch (IN_MODIFY) per file, the
 * same files for both, in a directory of $TMPDIR or /tmp (the VM's /tmp
 * is a tmpfs). A round writes one byte to each file with pwrite, `writes`
 * times round-robin, then collects what came: one kevent_get_events for
 * all the events, read() of the inotify fd until every file has been
 * heard of. Timed: the round trip, writes and notification and
 * collection; write-only is the same writes with nothing watching, what
 * the program would pay anyway.
 *
 * Each write notifies every watcher of its file, so only one contender
 * watches at a time: the watches are made for each run and dropped after
 * it (the queue or inotify fd closed), outside the timing.
 *
 * writes=1: one event per write (ns per event). writes=K > 1, the
 * coalescing rows: a KEVENT_INODE request merges the notifications that
 * arrive before collection into one event per file, with their count in
 * ret_data[1]; inotify merges an event only with the last one queued, and
 * only if identical (inotify_merge in fs/notify/inotify/
 * inotify_fsnotify.c, no count): K writes to one file give it one event,
 * K writes to each of two files in turn give 2K. The rows report the
 * events each round got.
 *
 * Everything collected is checked (every file's events, their bits,
 * counts and flags, nothing left after a run); a contender the kernel
 * lacks (inotify without CONFIG_INOTIFY_USER, a module without
 * KEVENT_INODE) is skipped with a note.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include "bench.h"

#define MAXFILES 64
/* The most writes a round makes (files x writes), so events it can queue. */
#define MAXROUND 64
/* A fresh inotify instance numbers its watches from 1. */
#define MAXWD (4 * MAXFILES)
/* How long a round waits for events that were not there at once. */
#define LATE_NS 1000000000ll

enum contender { C_WRITE, C_INOTIFY, C_KEVENT, C_COUNT };
static const char *const contender_name[C_COUNT] = { "write-only", "inotify", "kevent" };

static const struct shape {
	int files, writes;
} shapes[] = { { 1, 1 }, { 64, 1 }, { 1, 64 }, { 2, 32 } };
#define NSHAPES (sizeof(shapes) / sizeof(shapes[0]))

/* The directory's path; the files are DIR/f0 to f63. */
#define DIRMAX 256

struct target {
	char dir[DIRMAX];
	char path[MAXFILES][DIRMAX + 8];
	int fd[MAXFILES];
	int usable[C_COUNT];
};

/* What one run measured. */
struct run {
	double ns_per_write;
	double events_per_round;
	long late;	/* rounds whose events were not all there after the writes */
};

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...)
{
	va_list ap;

	printf("# FATAL inode: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	exit(1);
}

static void write_files(const struct target *t, const struct shape *s)
{
	int w, f;

	for (w = 0; w < s->writes; w++)
		for (f = 0; f < s->files; f++)
			if (pwrite(t->fd[f], "k", 1, 0) != 1)
				die("pwrite");
}

/* Waits up to LATE_NS for the inotify fd to be readable. */
static void wait_inotify(int in, long got, const struct shape *s)
{
	struct pollfd p = { .fd = in, .events = POLLIN };

	if (poll(&p, 1, LATE_NS / 1000000) != 1)
		fail("inotify: %ld events of at least %d after the writes, none came in %lld ms", got,
		     s->files, LATE_NS / 1000000);
}

/*
 * Reads events until every file has had one at least (the buffer holds
 * all a round can queue: one read takes them all). Returns how many.
 */
static long collect_inotify(int in, const int *file_of_wd, long *per_file, const struct shape *s,
			    long *late)
{
	char buf[MAXROUND * sizeof(struct inotify_event)]
		__attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	long got = 0;
	ssize_t n;
	char *p;

	while (got < s->files) {
		n = read(in, buf, sizeof(buf));
		if (n < 0) {
			if (errno != EAGAIN)
				die("inotify read");
			(*late)++;
			wait_inotify(in, got, s);
			continue;
		}
		for (p = buf; p < buf + n; p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)p;
			if (ev->mask != IN_MODIFY || ev->len || ev->wd <= 0 || ev->wd >= MAXWD ||
			    file_of_wd[ev->wd] < 0)
				fail("inotify: an event of mask %#x, wd %d, name length %u; expected "
				     "IN_MODIFY (%#x) of a watched file, no name",
				     ev->mask, ev->wd, ev->len, IN_MODIFY);
			per_file[file_of_wd[ev->wd]]++;
			got++;
		}
	}
	return got;
}

/*
 * Collects one event per file, each with the round's writes counted. The
 * events are queued by the writes (as inotify's are), so the call takes
 * them without waiting: min_nr 1, as the other sections collect, and as
 * inotify's read() returns what is there; min_nr = files would add a
 * pass over the ready requests that only a call that waits needs. Only
 * events that are late are waited for.
 */
static void collect_kevent(int kq, long *per_file, const struct shape *s, long *late)
{
	struct ukevent ev[MAXFILES];
	int n, i, more;

	n = kevent_get_events_ns(kq, 1, s->files, 0, ev, 0);
	if (n < 0)
		die("kevent_get_events");
	if (n < s->files) {
		(*late)++;
		more = kevent_get_events_ns(kq, s->files - n, s->files - n, LATE_NS, ev + n, 0);
		if (more < 0)
			die("kevent_get_events");
		if (n + more < s->files)
			fail("kevent: %d events of %d after the writes, %d of them after %lld ms",
			     n, s->files, n + more, LATE_NS / 1000000);
		n += more;
	}
	for (i = 0; i < n; i++) {
		if (ev[i].ret_flags != KEVENT_RET_DONE || ev[i].ret_data[0] != KEVENT_INODE_WRITE ||
		    ev[i].ret_data[1] != (uint32_t)s->writes || ev[i].ptr >= (uint64_t)s->files)
			fail("kevent: an event of file %llu with ret_flags %#x, bits %#x, count %u; "
			     "expected a file below %d, DONE (%#x), WRITE (%#x), count %d",
			     (unsigned long long)ev[i].ptr, ev[i].ret_flags, ev[i].ret_data[0],
			     ev[i].ret_data[1], s->files, KEVENT_RET_DONE, KEVENT_INODE_WRITE, s->writes);
		per_file[ev[i].ptr]++;
	}
}

static int inotify_watch(const struct target *t, const struct shape *s, int *file_of_wd)
{
	int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC), f, wd;

	if (in < 0)
		die("inotify_init1");
	for (wd = 0; wd < MAXWD; wd++)
		file_of_wd[wd] = -1;
	for (f = 0; f < s->files; f++) {
		wd = inotify_add_watch(in, t->path[f], IN_MODIFY);
		if (wd < 0)
			die("inotify_add_watch");
		if (wd >= MAXWD || file_of_wd[wd] >= 0)
			fail("inotify: watch descriptor %d for file %d", wd, f);
		file_of_wd[wd] = f;
	}
	return in;
}

static void kevent_inode_reqs(struct ukevent *uk, const struct target *t, int files)
{
	int f;

	for (f = 0; f < files; f++) {
		memset(&uk[f], 0, sizeof(uk[f]));
		uk[f].type = KEVENT_INODE;
		uk[f].id.raw[0] = t->fd[f];
		uk[f].event = KEVENT_INODE_WRITE;
		uk[f].ptr = f;
	}
}

static int kevent_watch(const struct target *t, const struct shape *s)
{
	struct ukevent uk[MAXFILES];
	int kq = kq_open(), f;

	kevent_inode_reqs(uk, t, s->files);
	if (kevent_ctl(kq, KEVENT_CTL_ADD, s->files, uk) != s->files)
		die("kevent_ctl ADD inode");
	for (f = 0; f < s->files; f++)
		if (uk[f].ret_flags & KEVENT_RET_BROKEN) {
			errno = uk[f].ret_data[1];
			die("KEVENT_INODE add");
		}
	return kq;
}

/* Nothing may be left once a run's rounds have taken what they expected. */
static void check_drained(enum contender c, int q)
{
	struct ukevent ev[MAXFILES];
	char buf[4096];
	ssize_t n;

	if (c == C_KEVENT) {
		n = kevent_get_events_ns(q, 1, MAXFILES, 0, ev, 0);
		if (n)
			fail("kevent: %zd events left after the run (the first: bits %#x, count %u)", n,
			     n > 0 ? ev[0].ret_data[0] : 0, n > 0 ? ev[0].ret_data[1] : 0);
	} else if (c == C_INOTIFY) {
		n = read(q, buf, sizeof(buf));
		if (n >= 0 || errno != EAGAIN)
			fail("inotify: %zd bytes of events left after the run", n);
	}
}

static struct run run(const struct target *t, enum contender c, const struct shape *s)
{
	long rounds = scaled(12800) / (s->files * s->writes), per_file[MAXFILES] = { 0 };
	long i, events = 0, late = 0;
	int file_of_wd[MAXWD], q = -1, f;
	uint64_t t0, ns;

	if (rounds < 1)
		rounds = 1;
	if (s->files > MAXFILES || s->files * s->writes > MAXROUND)
		fail("a round of %d files x %d writes is past MAXFILES or MAXROUND", s->files, s->writes);
	if (c == C_INOTIFY)
		q = inotify_watch(t, s, file_of_wd);
	else if (c == C_KEVENT)
		q = kevent_watch(t, s);

	t0 = now_ns();
	for (i = 0; i < rounds; i++) {
		write_files(t, s);
		if (c == C_INOTIFY) {
			events += collect_inotify(q, file_of_wd, per_file, s, &late);
		} else if (c == C_KEVENT) {
			collect_kevent(q, per_file, s, &late);
			events += s->files;
		}
	}
	ns = now_ns() - t0;

	if (c != C_WRITE) {
		check_drained(c, q);
		close(q);
		/* Each file heard of once a round (kevent), or once per write at most (inotify). */
		for (f = 0; f < s->files; f++)
			if (per_file[f] < rounds ||
			    per_file[f] > (c == C_KEVENT ? rounds : rounds * s->writes))
				fail("%s: file %d had %ld events in %ld rounds of %d writes", contender_name[c],
				     f, per_file[f], rounds, s->writes);
	}
	return (struct run){
		.ns_per_write = (double)ns / rounds / s->files / s->writes,
		.events_per_round = (double)events / rounds,
		.late = late,
	};
}

static const char *fs_name(const char *dir)
{
	static char name[32];
	struct statfs sfs;

	if (statfs(dir, &sfs))
		die("statfs");
	if (sfs.f_type == 0x01021994) /* TMPFS_MAGIC */
		return "tmpfs";
	if (sfs.f_type == 0x858458f6) /* RAMFS_MAGIC: an initramfs root */
		return "ramfs";
	snprintf(name, sizeof(name), "fs-%#lx", (unsigned long)sfs.f_type);
	return name;
}

/* Which contenders this kernel has: each is tried once on the first file. */
static void probe(struct target *t)
{
	struct ukevent uk;
	int in, kq, n, err = 0;

	t->usable[C_WRITE] = 1;
	in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (in < 0 && errno == ENOSYS) {
		note("inode: inotify_init1: %s (a kernel without CONFIG_INOTIFY_USER): no inotify rows",
		     strerror(errno));
	} else if (in < 0) {
		die("inotify_init1");
	} else {
		t->usable[C_INOTIFY] = 1;
		close(in);
	}
	kq = kq_open();
	kevent_inode_reqs(&uk, t, 1);
	n = kevent_ctl(kq, KEVENT_CTL_ADD, 1, &uk);
	if (n == 1 && (uk.ret_flags & KEVENT_RET_BROKEN))
		err = uk.ret_data[1];
	else if (n != 1)
		err = errno;
	if (!err)
		t->usable[C_KEVENT] = 1;
	else if (err == EOPNOTSUPP || err == EINVAL)
		note("inode: KEVENT_INODE ADD: %s (a module without KEVENT_INODE): no kevent rows",
		     strerror(err));
	else {
		errno = err;
		die("KEVENT_INODE add");
	}
	close(kq);
}

/* The files, for teardown at exit: a failed check exits in the middle. */
static struct target *files_made;

static void teardown(void)
{
	struct target *t = files_made;
	int f;

	if (!t)
		return;
	for (f = 0; f < MAXFILES; f++) {
		if (t->fd[f] > 0)
			close(t->fd[f]);
		unlink(t->path[f]);
	}
	rmdir(t->dir);
	files_made = NULL;
}

static void setup(struct target *t)
{
	const char *tmp = getenv("TMPDIR");
	int f;

	if (!tmp || !*tmp)
		tmp = "/tmp";
	memset(t, 0, sizeof(*t));
	if ((size_t)snprintf(t->dir, sizeof(t->dir), "%s/kevent-inode.XXXXXX", tmp) >= sizeof(t->dir))
		fail("TMPDIR too long");
	if (!mkdtemp(t->dir))
		die("mkdtemp");
	files_made = t;
	atexit(teardown);
	for (f = 0; f < MAXFILES; f++) {
		snprintf(t->path[f], sizeof(t->path[f]), "%s/f%d", t->dir, f);
		t->fd[f] = open(t->path[f], O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (t->fd[f] < 0)
			die("open a file to watch");
	}
	printf("@ info inode_fs %s - 0 0 0\n", fs_name(t->dir));
	note("inode: %d files in %s", MAXFILES, t->dir);
	probe(t);
}

void bench_inode(void)
{
	struct samples ns[NSHAPES][C_COUNT] = { 0 }, events[NSHAPES][C_COUNT] = { 0 };
	long late[NSHAPES][C_COUNT] = { 0 };
	static struct target t;
	char params[64];
	struct run res;
	unsigned int s;
	int r, c;

	setup(&t);
	for (r = 0; r < bench_runs; r++)
		for (s = 0; s < NSHAPES; s++)
			for (c = 0; c < C_COUNT; c++) {
				if (!t.usable[c])
					continue;
				res = run(&t, c, &shapes[s]);
				samples_add(&ns[s][c], res.ns_per_write);
				samples_add(&events[s][c], res.events_per_round);
				late[s][c] += res.late;
			}
	for (s = 0; s < NSHAPES; s++) {
		snprintf(params, sizeof(params), "files=%d,writes=%d", shapes[s].files, shapes[s].writes);
		for (c = 0; c < C_COUNT; c++) {
			if (!t.usable[c])
				continue;
			report("inode", contender_name[c], params,
			       shapes[s].writes == 1 ? "ns_per_event" : "ns_per_write", &ns[s][c]);
			if (c != C_WRITE && shapes[s].writes > 1)
				report("inode", contender_name[c], params, "events_per_round", &events[s][c]);
			if (late[s][c])
				note("inode: %s %s: %ld rounds waited for events the writes had not queued yet",
				     contender_name[c], params, late[s][c]);
			samples_free(&ns[s][c]);
			samples_free(&events[s][c]);
		}
	}
	teardown();
}
