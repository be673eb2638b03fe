// SPDX-License-Identifier: GPL-2.0
/*
 * Memory limits: a queue's memory is charged to its owner's memory cgroup
 * (the module allocates with GFP_KERNEL_ACCOUNT), so a process flooding
 * queues with requests is stopped by its cgroup's memory.max, and the rest
 * of the machine does not notice.
 *
 * At memory.max the kernel's memory-cgroup OOM killer acts first, as it
 * does for epoll watches or any other charged kernel memory: the flooding
 * process is killed (or, where the killer found nothing to kill, its ADD
 * fails with ENOMEM). The test accepts either, and checks that the
 * charge was really the module's, that it is all given back, and that the
 * module keeps serving everybody else. The kernel log's OOM report is
 * expected here: the test brackets it with markers that the VM's splat
 * check honours (scripts/expected-oom.awk).
 *
 * The event ring's pages are charged the same way, and stay charged while
 * a mapping holds the queue after its fd is closed. A ring also counts
 * against max_user_requests (one request per KiB, rounded up), in the same
 * account as the requests of its user: the ring_limit tests lower the
 * parameter as limits_test does, and restore it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kevent_test.h"
#include "kselftest_harness.h"

#define CGROOT "/sys/fs/cgroup"
#define BATCH 1024

static int write_str(const char *dir, const char *file, const char *value)
{
	char path[256];
	int fd, ok;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ok = write(fd, value, strlen(value)) == (ssize_t)strlen(value);
	close(fd);
	return ok ? 0 : -1;
}

/* A counter of a cgroup file ("memory.current", or a key of memory.events). */
static long read_counter(const char *dir, const char *file, const char *key)
{
	char path[256], line[256];
	long value = -1;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		size_t k = key ? strlen(key) : 0;

		if (!key) {
			value = atol(line);
			break;
		}
		if (!strncmp(line, key, k) && line[k] == ' ') {
			value = atol(line + k + 1);
			break;
		}
	}
	fclose(f);
	return value;
}

static void kmsg(const char *text)
{
	int fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (write(fd, text, strlen(text)) < 0)
			perror("/dev/kmsg");
		close(fd);
	}
}

/* Adds `n` user requests (ids from `first`); returns how many were added. */
static int add_users(int q, int first, int n, __u32 *err)
{
	static struct ukevent uk[BATCH];
	int added = 0;

	*err = 0;
	for (int i = 0; i < n; i += BATCH) {
		int k = n - i < BATCH ? n - i : BATCH, r;

		for (int j = 0; j < k; j++)
			uk[j] = uk_user(first + i + j, 0);
		r = kevent_ctl(q, KEVENT_CTL_ADD, k, uk);
		if (r < 0) {
			*err = errno;
			return added;
		}
		for (int j = 0; j < r; j++) {
			if (uk[j].ret_flags & KEVENT_RET_BROKEN) {
				*err = uk[j].ret_data[1];
				return added;
			}
			added++;
		}
	}
	return added;
}

FIXTURE(memcg)
{
	char dir[128];
};

FIXTURE_SETUP(memcg)
{
	char controllers[256] = "";
	int fd = open(CGROOT "/cgroup.controllers", O_RDONLY | O_CLOEXEC);

	if (fd < 0 || read(fd, controllers, sizeof(controllers) - 1) < 0 ||
	    !strstr(controllers, "memory"))
		SKIP(return, "no cgroup v2 memory controller at " CGROOT);
	close(fd);
	ASSERT_EQ(0, write_str(CGROOT, "cgroup.subtree_control", "+memory"));
	snprintf(self->dir, sizeof(self->dir), CGROOT "/kevent-memcg-%d", getpid());
	ASSERT_EQ(0, mkdir(self->dir, 0755));
}

FIXTURE_TEARDOWN(memcg)
{
	if (self->dir[0])
		EXPECT_EQ(0, rmdir(self->dir)) TH_LOG("rmdir %s: %s", self->dir, strerror(errno));
}

/* Runs `fn` in a child inside the cgroup; returns its wait status. */
static int in_cgroup(const char *dir, int (*fn)(const char *dir))
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		char me[16];

		snprintf(me, sizeof(me), "%d", getpid());
		if (write_str(dir, "cgroup.procs", me))
			_exit(99);
		_exit(fn(dir));
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

/*
 * NR_CHARGED requests: memory.current must grow by what they take, and go
 * back. A user request takes about 1 KB on the debug kernel (its objects'
 * red zones and tracking) and a few hundred bytes on the release kernel,
 * so 10 000 of them charge megabytes: the per-CPU charge stocks (up to 64
 * pages a CPU) cannot hide a quarter of it. Each ADD and its release take
 * about 2 ms on the debug kernel under TCG.
 */
#define NR_CHARGED 10000
static int charge_and_release(const char *dir)
{
	long before, during, after;
	int q = open_queue(), n;
	__u32 err;

	if (q < 0)
		return 1;
	before = read_counter(dir, "memory.current", NULL);
	n = add_users(q, 1, NR_CHARGED, &err);
	during = read_counter(dir, "memory.current", NULL);
	close(q);
	usleep(200 * 1000);	/* requests are freed after an RCU grace period */
	after = read_counter(dir, "memory.current", NULL);
	printf("# %d requests: memory.current %ld -> %ld -> %ld bytes (%ld per request)\n",
	       NR_CHARGED, before, during, after, (during - before) / NR_CHARGED);
	if (n != NR_CHARGED || err)
		return 2;
	/* A request is a few hundred bytes; 64 is far below what it takes. */
	if (during - before < NR_CHARGED * 64L)
		return 3;
	if (after - before > (during - before) / 4)
		return 4;
	return 0;
}

TEST_F_TIMEOUT(memcg, requests_are_charged_to_the_callers_cgroup, 120)
{
	int status = in_cgroup(self->dir, charge_and_release);

	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status)) TH_LOG("charge_and_release failed at step %d",
						 WEXITSTATUS(status));
}

static int progress_fd = -1;

/*
 * Fills queues with requests until memory.max stops it, telling the parent
 * how far it got after each batch.
 */
static int flood(const char *dir)
{
	int total = 0;
	__u32 err = 0;

	(void)dir;
	for (int queue = 0; queue < 256 && !err; queue++) {
		int q = open_queue();

		if (q < 0)
			return errno == ENOMEM ? 0 : 1;
		for (int id = 1; id < 65536 && !err; id += BATCH) {
			total += add_users(q, id, BATCH, &err);
			if (write(progress_fd, &total, sizeof(total)) != sizeof(total))
				return 1;
		}
		if (err == ENOSPC)
			err = 0;	/* the queue is full: on to the next one */
	}
	/* Not killed: the ADD must have failed with ENOMEM. */
	return err == ENOMEM ? 0 : 3;
}

TEST_F_TIMEOUT(memcg, a_small_memory_max_stops_a_flood_of_requests, 180)
{
	long oom_kills, current;
	int fds[2], status, total = 0, n, q;
	__u32 err;

	ASSERT_EQ(0, pipe2(fds, O_CLOEXEC));
	ASSERT_EQ(0, write_str(self->dir, "memory.max", "4M"));
	progress_fd = fds[1];
	kmsg("kevent-test: expecting a memcg OOM kill\n");
	status = in_cgroup(self->dir, flood);
	kmsg("kevent-test: no more memcg OOM kills expected\n");
	close(fds[1]);
	while (read(fds[0], &n, sizeof(n)) == sizeof(n))
		total = n;
	close(fds[0]);
	oom_kills = read_counter(self->dir, "memory.events", "oom_kill");
	current = read_counter(self->dir, "memory.current", NULL);
	TH_LOG("%d requests added before memory.max stopped the flood (%s); "
	       "memory.current after: %ld bytes", total,
	       WIFSIGNALED(status) ? "killed by the memcg OOM killer" : "ADD got ENOMEM",
	       current);

	/* Stopped by the limit, not by the per-queue limit or an error. */
	ASSERT_TRUE((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && oom_kills >= 1) ||
		    (WIFEXITED(status) && WEXITSTATUS(status) == 0))
		TH_LOG("wait status %#x, oom_kill %ld", status, oom_kills);
	/* A request takes more than 64 bytes: the limit was what stopped it. */
	ASSERT_GT(total, 1000);
	ASSERT_LT(total, (4 << 20) / 64);
	/* Everything charged was given back with the process's queues. */
	usleep(200 * 1000);
	ASSERT_LT(read_counter(self->dir, "memory.current", NULL), 1 << 20);
	/* And the module serves the rest of the machine as before. */
	q = open_queue();
	ASSERT_GE(q, 0);
	n = add_users(q, 1, 4096, &err);
	EXPECT_EQ(4096, n);
	EXPECT_EQ(0, err);
	close(q);
}

/*
 * Event rings: NR_RINGS queues, each with a ring of the largest size
 * (32768 entries, 257 pages, about 1 MiB, allocated page by page with
 * GFP_KERNEL_ACCOUNT), set up and mapped in the cgroup. memory.current
 * must grow by at least three quarters of their pages (the per-CPU charge
 * stocks, up to 64 pages a CPU, can hide no more than a quarter of 1028
 * pages on up to 4 CPUs), stay up after the fds are closed (the mappings
 * hold the queues, and so their rings), and fall back when the mappings
 * go, as requests' charges do.
 */
#define NR_RINGS 4
static int ring_charge_and_release(const char *dir)
{
	long before, during, closed, after, pages;
	__u32 size = 0;
	void *map[NR_RINGS];
	int q[NR_RINGS];

	pages = NR_RINGS * ((ring_bytes(KEVENT_RING_MAX_ENTRIES) + 4095) / 4096);
	before = read_counter(dir, "memory.current", NULL);
	for (int i = 0; i < NR_RINGS; i++) {
		q[i] = open_queue();
		if (q[i] < 0 || ring_setup(q[i], KEVENT_RING_MAX_ENTRIES, &size))
			return 1;
		map[i] = ring_mmap(q[i], size);
		if (!map[i])
			return 2;
	}
	during = read_counter(dir, "memory.current", NULL);
	for (int i = 0; i < NR_RINGS; i++)
		close(q[i]);
	usleep(200 * 1000);
	closed = read_counter(dir, "memory.current", NULL);
	for (int i = 0; i < NR_RINGS; i++)
		munmap(map[i], size);
	usleep(200 * 1000);	/* as for requests: an RCU grace period */
	after = read_counter(dir, "memory.current", NULL);
	printf("# %d rings of %d entries (%ld pages): memory.current %ld -> %ld -> %ld (fds closed) "
	       "-> %ld (unmapped) bytes\n", NR_RINGS, KEVENT_RING_MAX_ENTRIES, pages, before,
	       during, closed, after);
	if (during - before < pages * 4096 * 3 / 4)
		return 3;
	if (closed - before < pages * 4096 * 3 / 4)
		return 4;
	if (after - before > (during - before) / 4)
		return 5;
	return 0;
}

TEST_F_TIMEOUT(memcg, ring_pages_are_charged_to_the_callers_cgroup, 120)
{
	int status = in_cgroup(self->dir, ring_charge_and_release);

	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status)) TH_LOG("ring_charge_and_release failed at step %d",
						 WEXITSTATUS(status));
}

/*
 * max_user_requests and the ring (kevent.7, "The event ring", and
 * Limits): a ring counts as one request per KiB of its whole pages and of
 * its bookkeeping slots, rounded up. With 4 KiB pages, 4096 entries count
 * 140 (33 pages for 128 + 4096 * 32 bytes, and 1024 slots of 8 bytes),
 * 8192 count 268, 128 count 9, 64 count 5, 2 count 5. The fixture sets the
 * limit to 140, as limits_test sets its own, and restores it from the
 * parent.
 */
#define PARAM "/sys/module/kevent/parameters/max_user_requests"
#define RING_LIMIT 140
#define RING_LIMIT_STR "140\n"
#define NOBODY 65534

FIXTURE(ring_limit)
{
	char saved[64];
	bool changed;
};

FIXTURE_SETUP(ring_limit)
{
	int q = open_queue();

	if (q < 0 && errno == ENOENT)
		SKIP(return, KEVENT_DEVICE " is missing: is the module loaded?");
	ASSERT_GE(q, 0);
	close(q);
	if (getuid() != 0)
		SKIP(return, "changing the limit needs root");
	ASSERT_EQ(0, param_read(PARAM, self->saved, sizeof(self->saved)));
	TH_LOG("max_user_requests was %s", self->saved);
	/* Last: a failed setup runs no teardown. */
	self->changed = true;
	ASSERT_EQ(0, param_write(PARAM, RING_LIMIT_STR));
}

FIXTURE_TEARDOWN_PARENT(ring_limit)
{
	char now[64];

	if (!self->changed)
		return;
	EXPECT_EQ(0, param_write(PARAM, self->saved));
	EXPECT_EQ(0, param_read(PARAM, now, sizeof(now)));
	EXPECT_STREQ(self->saved, now);
}

static int add_user(int q, __u32 id)
{
	struct ukevent uk = uk_user(id, 0);

	return ctl1(q, KEVENT_CTL_ADD, &uk);
}

/*
 * A set-up (or ADD) that must succeed, for up to 5 s: what a closed queue
 * gives back must come back, if not necessarily by the time the last
 * reference goes (and a queue another test closed may still be going).
 */
static int ring_setup_eventually(int q, __u32 entries, __u32 *size)
{
	int64_t deadline = now_ns() + 5 * NSEC_PER_SEC;
	int r;

	while ((r = ring_setup(q, entries, size)) == -ENOSPC && now_ns() < deadline)
		usleep(10000);
	return r;
}

static int add_user_eventually(int q, __u32 id)
{
	int64_t deadline = now_ns() + 5 * NSEC_PER_SEC;
	int r;

	while ((r = add_user(q, id)) == ENOSPC && now_ns() < deadline)
		usleep(10000);
	return r;
}

static void ring_and_requests_share_the_limit(struct __test_metadata *_metadata)
{
	struct ukevent uk = uk_user(0, 0);
	struct kevent_ring *map;
	int q[4], i;
	__u32 size = 0;

	ASSERT_EQ(0, become(NOBODY));
	for (i = 0; i < 4; i++) {
		q[i] = open_queue();
		ASSERT_GE(q[i], 0);
	}

	/* Beyond the limit: ENOSPC, and the queue is left without a ring. */
	EXPECT_EQ(-ENOSPC, ring_setup(q[0], 8192, &size));
	EXPECT_EQ(-EINVAL, ring_get(q[0], 0, 1, 0));
	EXPECT_TRUE(no_ring_to_map(q[0]));
	/* 140: exactly the limit. Then nothing more fits, in any queue. */
	ASSERT_EQ(0, ring_setup_eventually(q[0], 4096, &size));
	ASSERT_EQ(ring_bytes(4096), size);
	EXPECT_EQ(ENOSPC, add_user(q[1], 1));
	EXPECT_EQ(-ENOSPC, ring_setup(q[2], KEVENT_RING_MIN_ENTRIES, NULL));

	/* Mapped, the queue outlives its fd, and keeps its charge. */
	map = ring_mmap(q[0], size);
	ASSERT_NE(NULL, map);
	ASSERT_EQ(0, close(q[0]));
	usleep(200 * 1000);
	EXPECT_EQ(ENOSPC, add_user(q[1], 1));
	/* Unmapped, it goes, and gives the 140 back. */
	ASSERT_EQ(0, munmap(map, size));
	ASSERT_EQ(0, add_user_eventually(q[1], 0));
	for (i = 1; i < RING_LIMIT - 5; i++)
		ASSERT_EQ(0, add_user(q[1], i)) TH_LOG("request %d", i);

	/* Five left: 128 entries (9) do not fit, 64 (5) do, exactly. */
	EXPECT_EQ(-ENOSPC, ring_setup(q[2], 128, NULL));
	ASSERT_EQ(0, ring_setup(q[2], 64, &size));
	ASSERT_EQ(ring_bytes(64), size);
	EXPECT_EQ(ENOSPC, add_user(q[1], 1000));
	EXPECT_EQ(-ENOSPC, ring_setup(q[3], KEVENT_RING_MIN_ENTRIES, NULL));

	/* Requests removed make room for the smallest ring, a page: 5. */
	for (i = 1; i <= 4; i++) {
		struct ukevent rm = uk_user(i, 0);

		ASSERT_EQ(0, ctl1(q[1], KEVENT_CTL_REMOVE, &rm));
	}
	EXPECT_EQ(-ENOSPC, ring_setup(q[3], KEVENT_RING_MIN_ENTRIES, NULL));
	ASSERT_EQ(0, ctl1(q[1], KEVENT_CTL_REMOVE, &uk));
	ASSERT_EQ(0, ring_setup(q[3], KEVENT_RING_MIN_ENTRIES, NULL));
	EXPECT_EQ(ENOSPC, add_user(q[1], 1000));

	/* Closed (never mapped), a queue gives its ring's 5 back, and no more. */
	ASSERT_EQ(0, close(q[2]));
	ASSERT_EQ(0, add_user_eventually(q[1], 1000));
	for (i = 1001; i < 1005; i++)
		ASSERT_EQ(0, add_user(q[1], i)) TH_LOG("request %d", i);
	EXPECT_EQ(ENOSPC, add_user(q[1], 1005));
	q[0] = open_queue();
	ASSERT_GE(q[0], 0);
	EXPECT_EQ(-ENOSPC, ring_setup(q[0], KEVENT_RING_MIN_ENTRIES, NULL));
	close(q[0]);
	close(q[1]);
	close(q[3]);
}

TEST_F(ring_limit, ring_and_requests_share_max_user_requests)
{
	char now[64];
	pid_t pid;
	int status;

	ASSERT_EQ(0, param_read(PARAM, now, sizeof(now)));
	ASSERT_STREQ(RING_LIMIT_STR, now);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		ring_and_requests_share_the_limit(_metadata);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
}

TEST_HARNESS_MAIN
