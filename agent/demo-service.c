// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * orthros-demo-service: the lab's protected service.  A TCP line service
 * whose acknowledgements mean something: "add TEXT" appends "SEQ TEXT" to
 * DATA/records and fsyncs before it answers "ok SEQ NODE", so every record
 * a client saw acknowledged must be on the data disk after any failover.
 * "count" answers "count N NODE"; "node" answers the node serving; "dump"
 * sends every complete record on the disk, then a line ".", so a checker
 * can prove that what was acknowledged is there.
 * The sequence continues from the records file after a restart.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "units.h"

#define MAX_CLIENTS 32
#define LINE_MAX_LEN 512

struct client {
	int fd;
	size_t len;
	char buf[LINE_MAX_LEN];
};

static unsigned long long seq;
static int data_fd = -1;
static char node[64];

static char records_path[4096 + 16];

static int load_records(const char *dir)
{
	char *path = records_path;
	FILE *f;
	char line[LINE_MAX_LEN + 32];

	snprintf(path, sizeof(records_path), "%s/records", dir);
	data_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (data_fd < 0)
		return -errno;
	f = fopen(path, "r");
	if (!f)
		return -errno;
	/* The last complete line holds the highest sequence number; a torn
	 * last line (crash mid-append, never acknowledged) is ignored. */
	while (fgets(line, sizeof(line), f)) {
		unsigned long long s;

		if (strchr(line, '\n') && sscanf(line, "%llu ", &s) == 1 && s > seq)
			seq = s;
	}
	fclose(f);
	return 0;
}

static void reply(int fd, const char *s)
{
	size_t n = strlen(s);

	while (n) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);

		if (w <= 0) {
			if (w < 0 && errno == EINTR)
				continue;
			return;
		}
		s += w;
		n -= (size_t)w;
	}
}

/* What is on the disk now, read back through a fresh descriptor. */
static void dump(int fd)
{
	FILE *f = fopen(records_path, "r");
	char line[LINE_MAX_LEN + 32];

	while (f && fgets(line, sizeof(line), f))
		if (strchr(line, '\n'))
			reply(fd, line);
	if (f)
		fclose(f);
	reply(fd, f ? ".\n" : "error cannot read the records\n");
}

static void handle(int fd, char *line)
{
	char out[LINE_MAX_LEN + 64];

	if (!strncmp(line, "add ", 4)) {
		char rec[LINE_MAX_LEN + 32];
		int n = snprintf(rec, sizeof(rec), "%llu %s\n", seq + 1, line + 4);

		if (n < 0 || write(data_fd, rec, (size_t)n) != n || fsync(data_fd)) {
			snprintf(out, sizeof(out), "error %s\n", strerror(errno));
		} else {
			seq++;
			snprintf(out, sizeof(out), "ok %llu %s\n", seq, node);
		}
	} else if (!strcmp(line, "count")) {
		snprintf(out, sizeof(out), "count %llu %s\n", seq, node);
	} else if (!strcmp(line, "dump")) {
		dump(fd);
		return;
	} else if (!strcmp(line, "node")) {
		snprintf(out, sizeof(out), "node %s\n", node);
	} else {
		snprintf(out, sizeof(out), "error unknown command\n");
	}
	reply(fd, out);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "data", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct client cl[MAX_CLIENTS];
	const char *data = NULL;
	uint64_t port = 0;
	int opt, lfd, one = 1, rc;
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT };

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			if (units_parse_u64(optarg, &port) || !port || port > 65535) {
				fprintf(stderr, "orthros-demo-service: --port must be 1..65535\n");
				return 2;
			}
			break;
		case 'd':
			data = optarg;
			break;
		case 'h':
			printf("Usage: orthros-demo-service --port PORT --data DIR\n");
			return 0;
		default:
			return 2;
		}
	}
	if (!port || !data) {
		fprintf(stderr, "Usage: orthros-demo-service --port PORT --data DIR\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	gethostname(node, sizeof(node) - 1);
	rc = load_records(data);
	if (rc) {
		fprintf(stderr, "orthros-demo-service: %s/records: %s\n", data, strerror(-rc));
		return 1;
	}
	lfd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sa.sin6_port = htons((uint16_t)port);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 16)) {
		fprintf(stderr, "orthros-demo-service: port %u: %s\n", (unsigned)port, strerror(errno));
		return 1;
	}
	fprintf(stderr, "orthros-demo-service: serving port %u on %s, %llu records\n",
		(unsigned)port, node, seq);
	for (int i = 0; i < MAX_CLIENTS; i++)
		cl[i].fd = -1;
	for (;;) {
		struct pollfd p[MAX_CLIENTS + 1];
		int n = 0;

		p[n++] = (struct pollfd){ .fd = lfd, .events = POLLIN };
		for (int i = 0; i < MAX_CLIENTS; i++)
			p[n++] = (struct pollfd){ .fd = cl[i].fd, .events = POLLIN };
		if (poll(p, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		if (p[0].revents & POLLIN) {
			int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

			for (int i = 0; fd >= 0 && i < MAX_CLIENTS; i++)
				if (cl[i].fd < 0) {
					cl[i].fd = fd;
					cl[i].len = 0;
					fd = -1;
				}
			if (fd >= 0)
				close(fd);	/* full */
		}
		for (int i = 0; i < MAX_CLIENTS; i++) {
			struct client *c = &cl[i];
			ssize_t r;

			if (c->fd < 0 || !(p[i + 1].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			r = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
			if (r <= 0) {
				close(c->fd);
				c->fd = -1;
				continue;
			}
			c->len += (size_t)r;
			for (char *nl; (nl = memchr(c->buf, '\n', c->len));) {
				*nl = '\0';
				if (nl > c->buf && nl[-1] == '\r')
					nl[-1] = '\0';
				handle(c->fd, c->buf);
				c->len -= (size_t)(nl + 1 - c->buf);
				memmove(c->buf, nl + 1, c->len);
			}
			if (c->len == sizeof(c->buf) - 1) {
				close(c->fd);	/* a line that long is not a client of ours */
				c->fd = -1;
			}
		}
	}
}
