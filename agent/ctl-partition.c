// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * orthrosctl partition: talk to the controller.  On the host that is
 * orthros-partd's libqb IPC service (root only); inside a partition it is
 * the partition's virtio-serial channel, whose one opener at a time is
 * serialised with a lock file so the fence agent, the resource agent and
 * orthrosd can share it.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <qb/qbipcc.h>

#include "ctl.h"
#include "partd.h"

#define CHANNEL_NAME "org.orthros.controller"
#define CHANNEL_LOCK "/run/orthros-channel.lock"
#define REPLY_TIMEOUT_MS 10000


/* Nothing printed, errors neither: the caller polls and says what matters. */
static bool quiet;
#define complain(...) do { if (!quiet) fprintf(stderr, __VA_ARGS__); } while (0)
static const char partition_usage[] =
	"Usage: orthrosctl partition [--channel DEV] COMMAND [ARGS]\n"
	"\n"
	"Ask the controller (orthros-partd).  On the host this needs root; inside a\n"
	"partition it uses the partition's channel (found by name, or DEV).\n"
	"\n"
	"Commands:\n"
	"  status                     partitions, generations, roles, link state\n"
	"  timeline                   the controller's recent events with timestamps\n"
	"  boot GEN active|backup     boot generation GEN into its slot (host only)\n"
	"  boot-backup                boot the BackupOS that will watch us (partition)\n"
	"  fence NAME                 stop NAME's vCPUs at once (a partition may not\n"
	"                             fence a peer whose kernel still beats)\n"
	"  dead NAME [--no-ack]       exit 0 if NAME is known dead or fenced, 3 if not;\n"
	"                             from a partition, a yes counts as the cluster's\n"
	"                             fence of NAME unless --no-ack\n"
	"  grow [NAME]                hot-add vCPUs and memory up to the Active's size\n"
	"  note TEXT                  put a milestone on the controller's timeline\n"
	"                             (partition)\n"
	"  destroy NAME               tear a partition down (host only)\n"
	"  notices [on|off]           act on failure notices, or not: the\n"
	"                             baseline for benchmarks (host only)\n"
	"  inject NAME nmi|hang|resume  fault injection (host only): a kernel panic\n"
	"                             through an NMI, a hang (vCPUs stopped), its end\n"
	"\n"
	"Exit status: 0 done, 1 failure, 2 usage, 3 the answer is no (alive, refused).\n";

static int exit_code(int rc)
{
	return rc == 0 ? 0 : rc == -EAGAIN || rc == -EBUSY ? 3 : 1;
}

static int via_ipc(const char *line)
{
	struct qb_ipc_request_header hdr = { .id = PARTD_REQ_COMMAND };
	struct iovec iov[2];
	struct {
		struct qb_ipc_response_header hdr;
		char text[PARTD_MSG_MAX];
	} res;
	qb_ipcc_connection_t *c = qb_ipcc_connect(PARTD_IPC_NAME, sizeof(res) + 256);
	ssize_t n;

	if (!c) {
		complain("orthrosctl: cannot reach orthros-partd: %s%s\n", strerror(errno),
			errno == ECONNREFUSED || errno == ENOENT ? " (is it running?)" : "");
		return 1;
	}
	hdr.size = (int32_t)(sizeof(hdr) + strlen(line));
	iov[0].iov_base = &hdr;
	iov[0].iov_len = sizeof(hdr);
	char copy[256];

	snprintf(copy, sizeof(copy), "%s", line);
	iov[1].iov_base = copy;
	iov[1].iov_len = strlen(line);
	n = qb_ipcc_sendv_recv(c, iov, 2, &res, sizeof(res), REPLY_TIMEOUT_MS);
	qb_ipcc_disconnect(c);
	if (n < (ssize_t)sizeof(res.hdr)) {
		complain("orthrosctl: no answer from orthros-partd: %s\n",
			strerror(n < 0 ? (int)-n : EPROTO));
		return 1;
	}
	res.text[sizeof(res.text) - 1] = '\0';
	if (!quiet)
		fputs(res.text, res.hdr.error && exit_code(res.hdr.error) == 1 ? stderr : stdout);
	return exit_code(res.hdr.error);
}

/* /dev/vportNpM whose sysfs name is the controller channel. */
static int find_channel(char *out, size_t len)
{
	DIR *d = opendir("/sys/class/virtio-ports");
	struct dirent *e;
	int rc = -ENOENT;

	if (!d)
		return -ENOENT;
	while ((e = readdir(d))) {
		char path[600], name[64];
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/class/virtio-ports/%s/name", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(name, sizeof(name), f) && !strncmp(name, CHANNEL_NAME, strlen(CHANNEL_NAME))) {
			snprintf(out, len, "/dev/%.64s", e->d_name);
			rc = 0;
		}
		fclose(f);
		if (!rc)
			break;
	}
	closedir(d);
	return rc;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The port refuses writes (EAGAIN) while no controller is connected to its
 * host side: after a partition boots, and for a moment whenever the
 * controller reconnects.  Measured: a fence agent's start failed on that
 * in a freshly booted BackupOS, which bans the device there for good.  So
 * wait for the port to take the line, up to the caller's deadline.
 */
static int send_line(int fd, const char *line, long long deadline)
{
	char buf[320];
	int len = snprintf(buf, sizeof(buf), "%s\n", line);
	size_t off = 0;

	if (len < 0 || (size_t)len >= sizeof(buf)) {
		errno = E2BIG;
		return -1;
	}
	while (off < (size_t)len) {
		ssize_t n = write(fd, buf + off, (size_t)len - off);
		long long left = deadline - now_ms();

		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		struct pollfd p = { .fd = fd, .events = POLLOUT };

		/* Short naps as well: a port's poll may not wake on connect. */
		poll(&p, 1, left < 100 ? (int)left : 100);
	}
	return 0;
}

/* Write one line; read reply lines until the one holding the return code. */
static int via_channel(const char *dev, const char *line)
{
	char buf[PARTD_MSG_MAX], path[256];
	size_t used = 0;
	long long deadline = now_ms() + REPLY_TIMEOUT_MS;
	int lock, fd, rc = 1;

	if (!dev) {
		if (find_channel(path, sizeof(path))) {
			complain("orthrosctl: no controller channel (%s) in this partition\n",
				CHANNEL_NAME);
			return 1;
		}
		dev = path;
	}
	lock = open(CHANNEL_LOCK, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lock < 0 || flock(lock, LOCK_EX)) {
		complain("orthrosctl: %s: %s\n", CHANNEL_LOCK, strerror(errno));
		return 1;
	}
	fd = open(dev, O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		complain("orthrosctl: %s: %s\n", dev, strerror(errno));
		close(lock);
		return 1;
	}
	/* Leftovers of an earlier caller that gave up waiting are not ours. */
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	if (send_line(fd, line, deadline)) {
		complain("orthrosctl: %s: %s\n", dev, strerror(errno));
		goto out;
	}
	for (;;) {
		char *nl, *last;
		long long left = deadline - now_ms();
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (left <= 0 || used == sizeof(buf) - 1) {
			complain("orthrosctl: no answer from the controller on %s\n", dev);
			goto out;
		}
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		n = read(fd, buf + used, sizeof(buf) - 1 - used);
		if (n <= 0) {
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			/* No host side connected yet: the port reads EOF. */
			usleep(50000);
			continue;
		}
		used += (size_t)n;
		buf[used] = '\0';
		if (used == 0 || buf[used - 1] != '\n')
			continue;
		buf[used - 1] = '\0';
		nl = strrchr(buf, '\n');
		last = nl ? nl + 1 : buf;
		char *end;
		long code = strtol(last, &end, 10);

		if (end == last || *end)
			continue;
		*last = '\0';
		if (!quiet)
			fputs(buf, exit_code((int)code) == 1 ? stderr : stdout);
		rc = exit_code((int)code);
		break;
	}
out:
	close(fd);
	close(lock);
	return rc;
}

static int ask(const char *dev, const char *line)
{
	/* Inside a partition there is a channel; on the host there is none. */
	if (dev || !access("/sys/class/virtio-ports", F_OK)) {
		char path[256];

		if (dev || !find_channel(path, sizeof(path)))
			return via_channel(dev, line);
	}
	return via_ipc(line);
}

int ctl_partition(int argc, char **argv)
{
	const char *dev = NULL;
	char line[256] = "";
	int i = 1;

	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(partition_usage, stdout);
		return 0;
	}
	if (argc > 2 && !strcmp(argv[1], "--channel")) {
		dev = argv[2];
		i = 3;
	}
	if (i >= argc)
		return ctl_usage_error("partition needs a COMMAND (status, timeline, boot, fence, dead, grow, destroy)");
	for (; i < argc; i++) {
		if (strlen(line) + strlen(argv[i]) + 2 > sizeof(line))
			return ctl_usage_error("partition: command too long");
		if (line[0])
			strcat(line, " ");
		strcat(line, argv[i]);
	}
	return ask(dev, line);
}

int ctl_partition_ask(const char *line)
{
	return ask(NULL, line);
}

int ctl_partition_ask_quiet(const char *line)
{
	int rc;

	quiet = true;
	rc = ask(NULL, line);
	quiet = false;
	return rc;
}
