// SPDX-License-Identifier: GPL-2.0
/*
 * idle_conns -n N [-a ADDR] [-p PORT] [-u PATH] [-t SECONDS]
 *
 * Holds N idle keep-alive HTTP connections to a server, for the web
 * benchmark of `make bench` (bench/web/web.sh): idle connections are where
 * an event backend matters, and wrk cannot hold any.
 *
 * Opens the N connections (a batch at a time, so the server's listen
 * backlog never overflows), sends one HTTP/1.1 GET on each and reads the
 * whole response, so that the server holds every one as an idle keep-alive
 * connection, registered with its event backend and never ready. Prints
 * "idle_conns: holding N connections" once they are all open, then waits
 * (in one poll() over all of them, asleep unless the server does something)
 * until SIGTERM or SIGINT, or SECONDS (default: forever).
 *
 * Fails loudly: a connection that cannot be opened, a response that is not
 * "200", and a held connection that the server closes or writes to are
 * reported on stderr; the last line, on stdout, is always
 *
 *   idle_conns: held N of N for S s, dropped D
 *
 * and the exit status is 0 only if every connection was opened and none
 * was dropped (1 if some were dropped, 2 if they could not all be opened).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Connections opened before their responses are read: well under the
 * server's listen backlog (lighttpd: 1024). */
#define BATCH 128
/* A response must fit (the benchmark's page is 2.5 KB). */
#define RESP_MAX 16384
/* How long opening one batch may take, in ms. */
#define BATCH_TIMEOUT_MS 30000

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void usage(void)
{
	fprintf(stderr, "usage: idle_conns -n N [-a ADDR] [-p PORT] [-u PATH] [-t SECONDS]\n");
	exit(2);
}

/* N connections and a few spare fds; root may raise the hard limit too. */
static void raise_nofile(long n)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		perror("idle_conns: getrlimit");
		exit(2);
	}
	if (rl.rlim_cur >= (rlim_t)n)
		return;
	rl.rlim_cur = n;
	if (rl.rlim_max < (rlim_t)n)
		rl.rlim_max = n;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
		fprintf(stderr, "idle_conns: cannot raise RLIMIT_NOFILE to %ld: %s\n", n,
			strerror(errno));
		exit(2);
	}
}

/*
 * The length of a complete response at buf[0..len), 0 if more is needed,
 * -1 if it is not a 200 response with a Content-Length.
 */
static long response_length(const char *buf, size_t len)
{
	const char *end = memmem(buf, len, "\r\n\r\n", 4), *cl;
	long body;

	if (!end)
		return len >= RESP_MAX ? -1 : 0;
	if (len < 12 || memcmp(buf, "HTTP/1.", 7) || memcmp(buf + 9, "200", 3))
		return -1;
	cl = memmem(buf, end - buf, "\r\nContent-Length:", 17);
	if (!cl)
		return -1;
	body = strtol(cl + 17, NULL, 10);
	if (body < 0 || end + 4 - buf + body > RESP_MAX)
		return -1;
	return (long)(end + 4 - buf) + body <= (long)len ? (long)(end + 4 - buf) + body : 0;
}

/*
 * Opens fds[0..n): connects them all, sends the request on each, reads
 * every response. Returns 0, or -1 having said why.
 */
static int open_batch(int *fds, int n, const struct sockaddr_in *sa, const char *req)
{
	static char bufs[BATCH][RESP_MAX];
	size_t got[BATCH] = { 0 };
	struct pollfd pfd[BATCH];
	int i, left = n, one = 1;

	for (i = 0; i < n; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fds[i] < 0) {
			perror("idle_conns: socket");
			return -1;
		}
		/* Blocking connect: on loopback it completes at once while the
		 * backlog has room. */
		if (connect(fds[i], (const struct sockaddr *)sa, sizeof(*sa)) != 0) {
			perror("idle_conns: connect");
			return -1;
		}
		setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (write(fds[i], req, strlen(req)) != (ssize_t)strlen(req)) {
			perror("idle_conns: write");
			return -1;
		}
		pfd[i].fd = fds[i];
		pfd[i].events = POLLIN;
	}
	while (left > 0) {
		int r = poll(pfd, n, BATCH_TIMEOUT_MS);

		if (r < 0 && errno == EINTR && !stop)
			continue;
		if (r <= 0) {
			fprintf(stderr, "idle_conns: %d of %d responses missing after %d ms%s\n", left, n,
				BATCH_TIMEOUT_MS, stop ? " (stopped)" : "");
			return -1;
		}
		for (i = 0; i < n; i++) {
			ssize_t k;
			long whole;

			if (pfd[i].fd < 0 || !pfd[i].revents)
				continue;
			k = read(fds[i], bufs[i] + got[i], RESP_MAX - got[i]);
			if (k <= 0) {
				fprintf(stderr, "idle_conns: the server closed a connection before its response: %s\n",
					k < 0 ? strerror(errno) : "EOF");
				return -1;
			}
			got[i] += k;
			whole = response_length(bufs[i], got[i]);
			if (whole < 0) {
				fprintf(stderr, "idle_conns: not a 200 response with a Content-Length: %.*s\n",
					(int)strcspn(bufs[i], "\r\n"), bufs[i]);
				return -1;
			}
			if (whole > 0) {
				if ((size_t)whole != got[i]) {
					fprintf(stderr, "idle_conns: %zu bytes after the response\n", got[i] - whole);
					return -1;
				}
				pfd[i].fd = -1; /* done: idle from now on */
				left--;
			}
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *addr = "127.0.0.1", *path = "/index.html";
	int port = 80, n = 0, opened = 0, dropped = 0, opt, i;
	double seconds = -1, t0, held_since;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct sigaction act = { .sa_handler = on_signal };
	struct pollfd *pfd;
	char req[512];
	int *fds;

	while ((opt = getopt(argc, argv, "n:a:p:u:t:")) != -1) {
		switch (opt) {
		case 'n': n = atoi(optarg); break;
		case 'a': addr = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'u': path = optarg; break;
		case 't': seconds = atof(optarg); break;
		default: usage();
		}
	}
	if (n <= 0 || optind != argc || port <= 0 || port > 65535)
		usage();
	sa.sin_port = htons(port);
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
		fprintf(stderr, "idle_conns: not an IPv4 address: %s\n", addr);
		return 2;
	}
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: idle_conns\r\n\r\n", path,
		 addr);
	/* No SA_RESTART: a signal ends the wait in poll(). */
	sigaction(SIGTERM, &act, NULL);
	sigaction(SIGINT, &act, NULL);
	signal(SIGPIPE, SIG_IGN);
	raise_nofile(n + 16L);

	fds = calloc(n, sizeof(*fds));
	pfd = calloc(n, sizeof(*pfd));
	if (!fds || !pfd) {
		fprintf(stderr, "idle_conns: out of memory\n");
		return 2;
	}
	t0 = now_s();
	while (opened < n && !stop) {
		int b = n - opened < BATCH ? n - opened : BATCH;

		if (open_batch(fds + opened, b, &sa, req) != 0)
			break;
		opened += b;
	}
	if (opened < n) {
		printf("idle_conns: held %d of %d for 0 s, dropped 0 (could not open them all)\n", opened, n);
		return 2;
	}
	printf("idle_conns: holding %d connections (opened in %.1f s)\n", n, now_s() - t0);
	fflush(stdout);

	/* Idle from here: any event on a connection means the server closed
	 * it (or, wrongly, wrote to it). */
	for (i = 0; i < n; i++) {
		pfd[i].fd = fds[i];
		pfd[i].events = POLLIN | POLLRDHUP;
	}
	held_since = now_s();
	while (!stop) {
		double left = seconds < 0 ? -1 : seconds - (now_s() - held_since);
		int r;

		if (seconds >= 0 && left <= 0)
			break;
		r = poll(pfd, n, left < 0 ? -1 : (int)(left * 1000) + 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			perror("idle_conns: poll");
			break;
		}
		for (i = 0; r > 0 && i < n; i++) {
			if (pfd[i].fd < 0 || !pfd[i].revents)
				continue;
			if (dropped < 10)
				fprintf(stderr, "idle_conns: the server dropped an idle connection (revents 0x%x) after %.1f s\n",
					pfd[i].revents, now_s() - held_since);
			dropped++;
			pfd[i].fd = -1;
		}
	}
	printf("idle_conns: held %d of %d for %.0f s, dropped %d\n", n - dropped, n, now_s() - held_since,
	       dropped);
	return dropped ? 1 : 0;
}
