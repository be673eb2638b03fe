// SPDX-License-Identifier: GPL-2.0
/*
 * A profiler of our own: the VM has no perf tool and TCG emulates no PMU,
 * but the kernel's cpu-clock software event samples the instruction
 * pointer on a timer. We sample this thread while it runs one workload,
 * name each kernel address from /proc/kallsyms (the module's symbols are
 * there too) and print the share of each function. Samples taken while
 * interrupts are off land on the instruction that turns them back on, so
 * spin_unlock_irqrestore stands for the sections it closes.
 */
#define _GNU_SOURCE
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include "bench.h"

#define RING_PAGES 64
#define TOP 12

struct sym {
	uint64_t addr;
	char name[320];
	long hits;
};

static struct sym *syms;
static size_t nsyms;

/* With KEVENT_PROFILE_IPS=N set, the N most sampled kernel addresses too. */
static uint64_t *ips;
static size_t nips, ips_cap;

static int cmp_sym(const void *a, const void *b)
{
	const struct sym *x = a, *y = b;

	return (x->addr > y->addr) - (x->addr < y->addr);
}

/* Text symbols only, sorted by address; 0 addresses mean kptr_restrict hid them. */
static void load_kallsyms(void)
{
	FILE *f = fopen("/proc/kallsyms", "r");
	char line[512], type, name[256], mod[64];
	unsigned long long addr;
	size_t cap = 0;

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		mod[0] = 0;
		if (sscanf(line, "%llx %c %255s %63s", &addr, &type, name, mod) < 3 || !addr ||
		    (type != 't' && type != 'T'))
			continue;
		if (nsyms == cap) {
			cap = cap ? cap * 2 : 65536;
			syms = realloc(syms, cap * sizeof(*syms));
		}
		syms[nsyms].addr = addr;
		snprintf(syms[nsyms].name, sizeof(syms[nsyms].name), "%s%s", name, mod);
		nsyms++;
	}
	fclose(f);
	qsort(syms, nsyms, sizeof(*syms), cmp_sym);
}

static struct sym *lookup(uint64_t ip)
{
	size_t lo = 0, hi = nsyms;

	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;

		if (syms[mid].addr <= ip)
			lo = mid;
		else
			hi = mid;
	}
	return nsyms && syms[lo].addr <= ip ? &syms[lo] : NULL;
}

static int open_sampler(void)
{
	struct perf_event_attr a = {
		.type = PERF_TYPE_SOFTWARE,
		.size = sizeof(a),
		.config = PERF_COUNT_SW_CPU_CLOCK,
		.sample_period = 250000,
		.sample_type = PERF_SAMPLE_IP,
		.disabled = 1,
		.exclude_hv = 1,
	};

	return syscall(SYS_perf_event_open, &a, 0, -1, -1, 0);
}

/* Walks the ring's records; returns user-space samples, counts kernel ones per symbol. */
static long read_ring(struct perf_event_mmap_page *pg, long *kernel)
{
	char *data = (char *)pg + pg->data_offset;
	uint64_t head = pg->data_head, tail = pg->data_tail, size = pg->data_size;
	long user = 0;
	struct sym *s;

	__sync_synchronize();
	while (tail < head) {
		struct perf_event_header *h = (void *)(data + tail % size);
		uint64_t ip;

		if (h->type == PERF_RECORD_SAMPLE && tail % size + sizeof(*h) + 8 <= size) {
			memcpy(&ip, h + 1, 8);
			s = ip >> 63 ? lookup(ip) : NULL;
			if (s) {
				s->hits++;
				(*kernel)++;
				if (nips == ips_cap) {
					ips_cap = ips_cap ? ips_cap * 2 : 65536;
					ips = realloc(ips, ips_cap * sizeof(*ips));
				}
				ips[nips++] = ip;
			} else {
				user++;
			}
		}
		tail += h->size ? h->size : 8;
	}
	return user;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* The most sampled addresses, as symbol+offset (for objdump of the module). */
static void print_top_ips(const char *who, long total, int top)
{
	size_t i, j, best, best_len;
	char name[400];

	qsort(ips, nips, sizeof(*ips), cmp_u64);
	while (top-- > 0) {
		best = best_len = 0;
		for (i = 0; i < nips; i = j) {
			for (j = i; j < nips && ips[j] == ips[i]; j++)
				;
			if (ips[i] && j - i > best_len) {
				best = i;
				best_len = j - i;
			}
		}
		if (!best_len)
			break;
		struct sym *s = lookup(ips[best]);

		snprintf(name, sizeof(name), "%s+0x%llx", s ? s->name : "?",
			 (unsigned long long)(s ? ips[best] - s->addr : 0));
		report3("profile-ip", who, name, "pct_of_samples", 100.0 * best_len / total,
			best_len, 0);
		for (i = best; i < best + best_len; i++)
			ips[i] = 0;
	}
}

static void print_top(const char *who, long kernel, long user)
{
	size_t i, best;
	int k;

	report3("profile", who, "-", "samples_kernel_user", kernel, user, 0);
	for (k = 0; k < TOP; k++) {
		best = 0;
		for (i = 1; i < nsyms; i++)
			if (syms[i].hits > syms[best].hits)
				best = i;
		if (!nsyms || !syms[best].hits)
			break;
		report3("profile", who, syms[best].name, "pct_of_samples",
			100.0 * syms[best].hits / (kernel + user), syms[best].hits, 0);
		syms[best].hits = 0;
	}
	for (i = 0; i < nsyms; i++)
		syms[i].hits = 0;
	if (getenv("KEVENT_PROFILE_IPS"))
		print_top_ips(who, kernel + user, atoi(getenv("KEVENT_PROFILE_IPS")));
	nips = 0;
}

/* Runs work(arg) repeatedly for about `ns` with the sampler on. */
void profile(const char *who, void (*work)(void *), void *arg, uint64_t ns)
{
	size_t len = (RING_PAGES + 1) * sysconf(_SC_PAGESIZE);
	struct perf_event_mmap_page *pg;
	long kernel = 0, user;
	uint64_t end;
	int fd;

	if (!syms)
		load_kallsyms();
	fd = open_sampler();
	pg = fd < 0 ? MAP_FAILED : mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (pg == MAP_FAILED) {
		note("profile %s: perf_event_open/mmap failed, no profile", who);
		if (fd >= 0)
			close(fd);
		return;
	}
	ioctl(fd, PERF_EVENT_IOC_ENABLE, 0);
	for (end = now_ns() + ns; now_ns() < end;)
		work(arg);
	ioctl(fd, PERF_EVENT_IOC_DISABLE, 0);
	user = read_ring(pg, &kernel);
	print_top(who, kernel, user);
	munmap(pg, len);
	close(fd);
}
