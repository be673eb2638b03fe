// SPDX-License-Identifier: GPL-2.0
/*
 * kevent_bench [-r RUNS] [-s SCALE] [SECTION...]
 *
 * Runs the benchmarks of `make bench` (all, or the sections named: pipes,
 * reg, collect, wake, tput, timers, sockets, inode) and prints one "@ ..."
 * line per result (see bench.h). reg and collect end with kernel profiles
 * (profile.c). Never fails on a slow result: it only reports.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include <sys/utsname.h>
#include "bench.h"

struct section {
	const char *name;
	void (*run)(void);
};

static const struct section sections[] = {
	{ "pipes", bench_pipes },	{ "reg", bench_registration }, { "collect", bench_collection },
	{ "wake", bench_wakeup },	{ "tput", bench_throughput },  { "timers", bench_timers },
	{ "sockets", bench_sockets },	{ "inode", bench_inode },
};
#define NSECTIONS (sizeof(sections) / sizeof(sections[0]))

static void run_section(const struct section *s)
{
	uint64_t t0 = now_ns();

	printf("# section %s\n", s->name);
	fflush(stdout);
	s->run();
	report3("elapsed", s->name, "-", "seconds", (now_ns() - t0) / 1e9, 0, 0);
}

/* The first word of a sysfs file (up to 63 bytes), or "none". */
static void sysfs_word(const char *path, char word[64])
{
	FILE *f = fopen(path, "r");

	if (!f || fscanf(f, "%63s", word) != 1)
		strcpy(word, "none");
	if (f)
		fclose(f);
}

/*
 * The clocks this boot runs on, so that a report measured on the tick
 * (clock_getres of 4 ms: no high-resolution timers) shows at once, and
 * what reading the time costs.
 */
static void clock_info(void)
{
	char word[64];
	struct timespec res;
	struct samples runs = { 0 };
	long i, n = scaled(20000);
	int r;

	clock_getres(CLOCK_MONOTONIC, &res);
	printf("@ info clock_getres_ns %lld - 0 0 0\n", res.tv_sec * 1000000000ll + res.tv_nsec);
	sysfs_word("/sys/devices/system/clocksource/clocksource0/current_clocksource", word);
	printf("@ info clocksource %s - 0 0 0\n", word);
	sysfs_word("/sys/devices/system/clockevents/clockevent0/current_device", word);
	printf("@ info clockevent %s - 0 0 0\n", word);
	sysfs_word("/sys/devices/system/clockevents/broadcast/current_device", word);
	printf("@ info broadcast %s - 0 0 0\n", word);
	for (r = 0; r < bench_runs; r++) {
		uint64_t t0 = now_ns();

		for (i = 0; i < n; i++)
			now_ns();
		samples_add(&runs, (double)(now_ns() - t0) / n);
	}
	clock_read_ns = samples_pct(&runs, 50);
	report("floor", "clock_gettime", "-", "ns_per_call", &runs);
	samples_free(&runs);
}

static int wanted(int argc, char **argv, const char *name)
{
	int i;

	if (optind >= argc)
		return 1;
	for (i = optind; i < argc; i++)
		if (!strcmp(argv[i], name))
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	struct utsname u;
	unsigned int i;
	int opt;

	while ((opt = getopt(argc, argv, "r:s:")) != -1) {
		if (opt == 'r')
			bench_runs = atoi(optarg) > 0 ? atoi(optarg) : 1;
		else if (opt == 's')
			bench_scale = atof(optarg) > 0 ? atof(optarg) : 1.0;
		else
			return 2;
	}
	uname(&u);
	printf("@ info kernel %s - 0 0 0\n", u.release);
	printf("@ info cpus %ld - 0 0 0\n", sysconf(_SC_NPROCESSORS_ONLN));
	printf("@ info runs %d - 0 0 0\n", bench_runs);
	raise_nofile(200000);
	clock_info();
	bench_floor();
	for (i = 0; i < NSECTIONS; i++)
		if (wanted(argc, argv, sections[i].name))
			run_section(&sections[i]);
	printf("@ done - - - 0 0 0\n");
	return 0;
}
