// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * orthros-ckpt-demo: a service worth checkpointing, for the protected-group
 * tests.  It holds --hold MB of memory filled with a pattern derived from
 * each word's position, keeps a counter that advances every 5 ms of its own
 * running time, and serves TCP: each connection gets one line
 *
 *   counter C resumed R boot B pattern ok|BAD sum S hold M pid P cgroup G
 *
 * and is closed (G: the cgroup it runs in, "-" if /proc cannot say, so a
 * test can see that a restore put it back in its own).  The pattern is checked and summed again for every
 * connection, so a restored copy proves its memory intact; "boot" is the
 * kernel's boot_id prefix and "resumed" the counter value at which the
 * service found itself running under another kernel (0: never), which is
 * where a restore picked it up, so a test can tell how much was lost.
 *
 * With --request-port, a second port answers like a real service's
 * request: one line
 *
 *   request N counter C word W ok|BAD pid P
 *
 * checking only the word the request lands on (N-th request, a stride
 * that walks every page), so it costs one page, not the whole hold: what
 * the throughput bench counts, and what a lazy restore can answer before
 * the rest of the memory has arrived.
 *
 * With --journal FILE it also keeps FILE open (appending) and writes
 * "counter C" to it every 100 ms of running time: a service whose state is
 * both in memory and on the data disk.  Its answer then ends with
 * " journal J", the last C it wrote, so a test can check that a restore
 * brought back a file that agrees with the memory (the group's
 * data_paths) rather than one with records the memory never wrote.
 *
 * With --state FILE the hold is also the service's persistent state, as a
 * database's or a cache's snapshot is: a start that finds FILE loads the
 * hold from it and checks every word, the cold restart of a service whose
 * state must be rebuilt from storage (what a warm restore is measured
 * against); a start without FILE computes the hold and writes FILE.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "proc-cgroup.h"
#include "units.h"

#define TICK_NS 5000000
/* A longer gap (a checkpoint's freeze, a stall) is not running time. */
#define MAX_CATCH_UP 400

static uint64_t *mem;
static size_t nwords;
static uint64_t counter, resumed, requests;
static int journal_fd = -1;
static uint64_t journal_last;
#define JOURNAL_TICKS 20
static char boot[40];

/* splitmix64 of the position: every word differs, none is zero-filled. */
static uint64_t pattern(uint64_t i)
{
	uint64_t z = i + 0x9e3779b97f4a7c15ull;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void read_boot_id(char *out, size_t len)
{
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, out, len - 1) : -1;

	if (fd >= 0)
		close(fd);
	out[n > 0 ? n : 0] = '\0';
	out[strcspn(out, "\n")] = '\0';
}

/* A different kernel than the one we started under: we were restored. */
static void check_boot(void)
{
	char now[40];

	read_boot_id(now, sizeof(now));
	if (now[0] && strcmp(now, boot)) {
		snprintf(boot, sizeof(boot), "%s", now);
		resumed = counter;
	}
}

/* Load the hold from @path: 0, 1 if there is no usable file, -1 if it is corrupt. */
static int load_state(const char *path)
{
	size_t len = nwords * sizeof(uint64_t), done = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;

	if (fd < 0 || fstat(fd, &st) || (uint64_t)st.st_size != len) {
		if (fd >= 0)
			close(fd);
		return 1;
	}
	while (done < len) {
		ssize_t n = read(fd, (char *)mem + done, len - done > (1u << 20) ? 1u << 20 : len - done);

		if (n <= 0) {
			close(fd);
			return 1;
		}
		done += (size_t)n;
	}
	close(fd);
	for (size_t i = 0; i < nwords; i++)
		if (mem[i] != pattern(i)) {
			fprintf(stderr, "orthros-ckpt-demo: %s: word %zu is corrupt\n", path, i);
			return -1;
		}
	return 0;
}

/* Write the hold to @path, atomically. */
static int save_state(const char *path)
{
	size_t len = nwords * sizeof(uint64_t), done = 0;
	char tmp[4096];
	int fd;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -1;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	while (done < len) {
		ssize_t n = write(fd, (const char *)mem + done, len - done);

		if (n <= 0) {
			close(fd);
			unlink(tmp);
			return -1;
		}
		done += (size_t)n;
	}
	if (fsync(fd) || close(fd) || rename(tmp, path)) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void on_tick(int tfd)
{
	static uint64_t last;
	uint64_t n, now = mono_ns();

	if (read(tfd, &n, sizeof(n)) != sizeof(n))
		return;
	/*
	 * Another kernel's clock: it went back, or far ahead (a restored
	 * timerfd only knows its remaining time, so it does not show it).
	 */
	if (last && (now < last || now - last > 2000000000ull))
		check_boot();
	/*
	 * A new kernel's clock can also be close to the old one's: look at
	 * the boot id about once a second too, so "resumed" is where the
	 * restore picked the counter up, not where a client first asked.
	 */
	else if (counter / 200 != (counter + n) / 200)
		check_boot();
	last = now;
	if (n > MAX_CATCH_UP)
		n = 1;	/* frozen or stalled: not running time */
	if (journal_fd >= 0 && counter / JOURNAL_TICKS != (counter + n) / JOURNAL_TICKS) {
		char rec[40];
		int len = snprintf(rec, sizeof(rec), "counter %" PRIu64 "\n", counter + n);

		/* One write per record, O_APPEND: a record is whole or absent. */
		if (write(journal_fd, rec, (size_t)len) == len)
			journal_last = counter + n;
		else
			perror("orthros-ckpt-demo: journal");
	}
	counter += n;
}

static void answer(int fd)
{
	uint64_t sum = 0, bad = 0;
	char line[512], cg[256];
	int n;

	check_boot();
	for (size_t i = 0; i < nwords; i++) {
		bad += mem[i] != pattern(i);
		sum = (sum << 1 | sum >> 63) ^ mem[i];
	}
	if (proc_cgroup(0, cg, sizeof(cg)))
		strcpy(cg, "-");
	n = snprintf(line, sizeof(line),
		     "counter %" PRIu64 " resumed %" PRIu64 " boot %.8s pattern %s sum %016" PRIx64
		     " hold %zu pid %d cgroup %s\n",
		     counter, resumed, boot, bad ? "BAD" : "ok", sum, nwords * 8 >> 20, (int)getpid(), cg);
	if (journal_fd >= 0 && n < (int)sizeof(line) - 32)
		n += snprintf(line + n - 1, sizeof(line) - (size_t)n + 1, " journal %" PRIu64 "\n", journal_last) - 1;
	if (send(fd, line, (size_t)n, MSG_NOSIGNAL) < 0) {
		/* the client went away: nothing to tell it */
	}
}

static void answer_request(int fd)
{
	char line[160];
	size_t w = 0;
	int n;
	bool good = true;

	requests++;
	if (nwords) {
		/* 4097 words is a page and a word: consecutive requests walk pages. */
		w = (size_t)((requests * 4097u) % nwords);
		good = mem[w] == pattern(w);
	}
	n = snprintf(line, sizeof(line), "request %" PRIu64 " counter %" PRIu64 " word %zu %s pid %d\n",
		     requests, counter, w, good ? "ok" : "BAD", (int)getpid());
	if (send(fd, line, (size_t)n, MSG_NOSIGNAL) < 0) {
		/* the client went away: nothing to tell it */
	}
}

static int listen_on(uint64_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0) {
		perror("orthros-ckpt-demo: socket");
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sa.sin_port = htons((uint16_t)port);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 64)) {
		fprintf(stderr, "orthros-ckpt-demo: port %u: %s\n", (unsigned)port, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static void serve_one(int lfd, void (*fn)(int))
{
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

	if (fd >= 0) {
		fn(fd);
		close(fd);
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "hold", required_argument, NULL, 'm' },
		{ "pidfile", required_argument, NULL, 'f' },
		{ "request-port", required_argument, NULL, 'r' },
		{ "state", required_argument, NULL, 's' },
		{ "journal", required_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char usage[] = "Usage: orthros-ckpt-demo --port PORT --hold MB [--pidfile FILE]\n"
		"                         [--request-port PORT] [--state FILE] [--journal FILE]\n";
	struct itimerspec its = { .it_interval = { 0, TICK_NS }, .it_value = { 0, TICK_NS } };
	uint64_t port = 0, hold = 0, rport = 0;
	const char *pidfile = NULL, *state = NULL;
	int opt, lfd, rfd = -1, tfd;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			if (units_parse_u64(optarg, &port) || !port || port > 65535) {
				fprintf(stderr, "orthros-ckpt-demo: --port must be 1..65535\n");
				return 2;
			}
			break;
		case 'm':
			if (units_parse_u64(optarg, &hold) || hold > 65536) {
				fprintf(stderr, "orthros-ckpt-demo: --hold is MB, 0..65536\n");
				return 2;
			}
			break;
		case 'f':
			pidfile = optarg;
			break;
		case 'r':
			if (units_parse_u64(optarg, &rport) || !rport || rport > 65535) {
				fprintf(stderr, "orthros-ckpt-demo: --request-port must be 1..65535\n");
				return 2;
			}
			break;
		case 's':
			state = optarg;
			break;
		case 'j':
			journal_fd = open(optarg, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
			if (journal_fd < 0) {
				fprintf(stderr, "orthros-ckpt-demo: --journal %s: %s\n", optarg, strerror(errno));
				return 1;
			}
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (!port || optind != argc || rport == port) {
		fputs(usage, stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	read_boot_id(boot, sizeof(boot));
	nwords = (size_t)(hold << 20) / sizeof(uint64_t);
	if (nwords) {
		mem = mmap(NULL, nwords * sizeof(uint64_t), PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (mem == MAP_FAILED) {
			perror("orthros-ckpt-demo: mmap");
			return 1;
		}
		int loaded = state ? load_state(state) : 1;

		if (loaded < 0)
			return 1;
		if (loaded) {
			for (size_t i = 0; i < nwords; i++)
				mem[i] = pattern(i);
			if (state && save_state(state)) {
				fprintf(stderr, "orthros-ckpt-demo: %s: %s\n", state, strerror(errno));
				return 1;
			}
		}
	}
	lfd = listen_on(port);
	if (lfd < 0 || (rport && (rfd = listen_on(rport)) < 0))
		return 1;
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	if (tfd < 0 || timerfd_settime(tfd, 0, &its, NULL) < 0) {
		perror("orthros-ckpt-demo: timerfd");
		return 1;
	}
	if (pidfile) {
		FILE *f = fopen(pidfile, "we");

		if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f)) {
			fprintf(stderr, "orthros-ckpt-demo: %s: %s\n", pidfile, strerror(errno));
			return 1;
		}
	}
	fprintf(stderr, "orthros-ckpt-demo: pid %d serving port %u, holding %" PRIu64 " MB\n",
		(int)getpid(), (unsigned)port, hold);
	for (;;) {
		struct pollfd p[3] = { { .fd = tfd, .events = POLLIN }, { .fd = lfd, .events = POLLIN },
				       { .fd = rfd, .events = POLLIN } };

		struct itimerspec cur;

		/*
		 * CRIU restores a fast periodic timerfd that was dumped between
		 * an expiry and its read as disarmed (it_value 0; CRIU issue
		 * #3162, 3.17 here): the counter would stop.  Wake up now and
		 * then to re-arm it; the ticks missed meanwhile are not running
		 * time anyway.
		 */
		if (poll(p, rfd >= 0 ? 3 : 2, 100) < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		if (!timerfd_gettime(tfd, &cur) && !cur.it_value.tv_sec && !cur.it_value.tv_nsec)
			timerfd_settime(tfd, 0, &its, NULL);
		if (p[0].revents & POLLIN)
			on_tick(tfd);
		if (p[1].revents & POLLIN)
			serve_one(lfd, answer);
		if (rfd >= 0 && (p[2].revents & POLLIN))
			serve_one(rfd, answer_request);
	}
}
