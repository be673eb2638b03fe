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
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

TEST_HARNESS_MAIN
