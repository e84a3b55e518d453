// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * orthros-partd: the Orthros controller.  It drives the platform (today
 * QEMU guests), is a peer on the partitions' doorbell link, answers root
 * over libqb IPC and each partition over that partition's own channel.
 *
 * The doorbell server runs as a separate process (started here when none
 * serves the socket): QEMU's ivshmem cannot reconnect to a new server, so
 * the server must outlive a controller restart or the partitions would lose
 * their link with it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <qb/qbipcs.h>
#include <qb/qblog.h>
#include <qb/qbloop.h>

#include "conf.h"
#include "ipcs-loop.h"
#include "link.h"
#include "partd.h"
#include "platform.h"
#include "units.h"

static const char usage[] =
	"Usage: orthros-partd --config FILE --run-dir DIR --kernel VMLINUX --initrd FILE\n"
	"                     --payload SCRIPT [OPTIONS]\n"
	"\n"
	"The Orthros controller for the qemu platform.  Root talks to it with\n"
	"`orthrosctl partition ...` (libqb IPC, root only); each partition talks to it\n"
	"over its own virtio-serial channel.\n"
	"\n"
	"  --config FILE        machine description (orthros.yaml)\n"
	"  --run-dir DIR        sockets, consoles and partition memory files\n"
	"  --kernel FILE        uncompressed partition kernel (vmlinux)\n"
	"  --initrd FILE        partition initramfs\n"
	"  --payload SCRIPT     script each partition runs (host path, read-only root)\n"
	"  --shared-dir DIR     host directory every partition mounts read-write\n"
	"  --doorbell SOCKET    doorbell server socket (default RUN-DIR/doorbell.sock;\n"
	"                       started if nobody serves it)\n"
	"  --accel tcg|kvm      QEMU accelerator (default tcg)\n"
	"  --netns NAME         start partitions in network namespace NAME\n"
	"  --ifup SCRIPT        tap set-up script (gives partitions a NIC)\n"
	"  --data-disk FILE     raw disk image attached to every partition (shared)\n"
	"  --store FILE         checkpoint store mapped into every partition (shared\n"
	"                       memory, ivshmem-plain; its size a power of two)\n"
	"  --max-vcpus N        cap vCPUs per partition\n"
	"  --max-memory SIZE    cap memory per partition\n"
	"  --min-memory SIZE    floor on memory per partition\n"
	"  --nice N             niceness of the partitions' QEMU processes\n"
	"  --boot GEN:ROLE      boot a partition at start (repeatable), e.g. 1:active\n"
	"  --no-freeze-on-panic do not stop a partition as soon as it announces PANIC\n"
	"  --no-grow-on-death   do not give a dead (panicked or fenced) partition's vCPUs\n"
	"                       and memory to the survivor at once (they go after the\n"
	"                       takeover, as in seed 001)\n"
	"  --heartbeat-timeout DURATION\n"
	"                       override the configuration's heartbeat timeout (e.g. for\n"
	"                       emulated partitions, whose vCPUs stall for tens of ms)\n"
	"  --verbose            debug logging\n";

struct chan {
	int fd;
	char name[PLATFORM_NAME_LEN];
	char path[160];
	char line[512];
	size_t len;
};

static struct {
	qb_loop_t *loop;
	struct partd d;
	struct orthros_conf conf;
	struct platform *plat;
	struct orthros_link *link;
	qb_ipcs_service_t *ipcs;
	pid_t doorbelld;
	struct chan chan[PARTD_MAX_PARTS];
	char run_dir[80];	/* socket paths below it must fit sun_path */
	char netns[64];
} g;

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- partition channels ------------------------------------------------ */

static void chan_close(struct chan *c)
{
	if (c->fd >= 0) {
		qb_loop_poll_del(g.loop, c->fd);
		close(c->fd);
	}
	c->fd = -1;
	c->len = 0;
}

static void chan_try_connect(void *data);

/*
 * The peer end went away: QEMU exited (the partition died or was replaced)
 * or dropped us.  Reconnect on our own rather than at the next command:
 * until then the partition's port refuses every write.
 */
static void chan_lost(struct chan *c)
{
	qb_loop_timer_handle t;

	chan_close(c);
	qb_loop_timer_add(g.loop, QB_LOOP_LOW, 100 * QB_TIME_NS_IN_MSEC, c, chan_try_connect, &t);
}

static void chan_reply(struct chan *c, int rc, const char *text)
{
	char buf[PARTD_MSG_MAX + 32];
	int n = snprintf(buf, sizeof(buf), "%s%s%d\n", text,
			 text[0] && text[strlen(text) - 1] != '\n' ? "\n" : "", rc);
	/* The protocol: reply lines, then one line with the return code. */
	if (n > 0 && write(c->fd, buf, (size_t)n) < 0)
		qb_log(LOG_WARNING, "%s: channel write: %s", c->name, strerror(errno));
}

static int32_t chan_readable(int32_t fd, int32_t revents, void *data)
{
	struct chan *c = data;
	char out[PARTD_MSG_MAX];
	ssize_t n;

	(void)fd;
	if (revents & (POLLHUP | POLLERR)) {
		chan_lost(c);
		return 0;
	}
	n = read(c->fd, c->line + c->len, sizeof(c->line) - 1 - c->len);
	if (n <= 0) {
		if (n < 0 && errno == EINTR)
			return 0;
		chan_lost(c);
		return 0;
	}
	c->len += (size_t)n;
	for (;;) {
		char *nl = memchr(c->line, '\n', c->len);

		if (!nl) {
			if (c->len == sizeof(c->line) - 1) {
				chan_reply(c, -E2BIG, "error: line too long");
				c->len = 0;
			}
			break;
		}
		*nl = '\0';
		int rc = partd_command(&g.d, c->name, c->line, out, sizeof(out));

		chan_reply(c, rc, out);
		c->len -= (size_t)(nl + 1 - c->line);
		memmove(c->line, nl + 1, c->len);
	}
	return 0;
}

/* QEMU creates the channel socket a moment after it starts: poll for it. */
static void chan_try_connect(void *data)
{
	struct chan *c = data;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	qb_loop_timer_handle t;

	if (c->fd >= 0 || !partd_find(&g.d, c->name))
		return;
	memcpy(sa.sun_path, c->path, strlen(c->path) + 1);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd >= 0 && !connect(c->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		qb_loop_poll_add(g.loop, QB_LOOP_MED, c->fd, POLLIN, c, chan_readable);
		qb_log(LOG_INFO, "%s: channel connected", c->name);
		return;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	qb_loop_timer_add(g.loop, QB_LOOP_LOW, 100 * QB_TIME_NS_IN_MSEC, c, chan_try_connect, &t);
}

static void chan_watch(const char *name)
{
	for (int i = 0; i < PARTD_MAX_PARTS; i++) {
		struct chan *c = &g.chan[i];

		if (c->fd < 0 && (!c->name[0] || !strcmp(c->name, name))) {
			snprintf(c->name, sizeof(c->name), "%s", name);
			snprintf(c->path, sizeof(c->path), "%s/%s.chan", g.run_dir, name);
			chan_try_connect(c);
			return;
		}
	}
}

/* After every command: any partition without a channel gets one. */
static void chans_refresh(void)
{
	for (int i = 0; i < PARTD_MAX_PARTS; i++) {
		struct partd_part *p = &g.d.part[i];
		bool have = false;

		if (!p->used)
			continue;
		for (int k = 0; k < PARTD_MAX_PARTS; k++)
			if (g.chan[k].fd >= 0 && !strcmp(g.chan[k].name, p->name))
				have = true;
		if (!have)
			chan_watch(p->name);
	}
}

/* ---- root's IPC -------------------------------------------------------- */

static int32_t ipc_accept(qb_ipcs_connection_t *c, uid_t uid, gid_t gid)
{
	(void)c;
	(void)gid;
	if (uid != 0) {
		qb_log(LOG_WARNING, "refused a control connection from uid %u", (unsigned)uid);
		return -EACCES;
	}
	return 0;
}

static int32_t ipc_msg(qb_ipcs_connection_t *c, void *data, size_t size)
{
	struct qb_ipc_request_header *req = data;
	struct {
		struct qb_ipc_response_header hdr;
		char text[PARTD_MSG_MAX];
	} res;
	char line[256];
	size_t n;

	memset(&res.hdr, 0, sizeof(res.hdr));
	res.hdr.id = PARTD_REQ_COMMAND;
	if (size < sizeof(*req) || req->id != PARTD_REQ_COMMAND) {
		res.hdr.error = -EPROTO;
		snprintf(res.text, sizeof(res.text), "error: bad request\n");
	} else {
		n = size - sizeof(*req);
		if (n >= sizeof(line))
			n = sizeof(line) - 1;
		memcpy(line, (char *)data + sizeof(*req), n);
		line[n] = '\0';
		res.hdr.error = partd_command(&g.d, NULL, line, res.text, sizeof(res.text));
		chans_refresh();
	}
	res.hdr.size = (int32_t)(sizeof(res.hdr) + strlen(res.text) + 1);
	qb_ipcs_response_send(c, &res, (size_t)res.hdr.size);
	return 0;
}

static int ipc_start(void)
{
	static struct qb_ipcs_service_handlers sh = {
		.connection_accept = ipc_accept,
		.msg_process = ipc_msg,
	};

	g.ipcs = qb_ipcs_create(PARTD_IPC_NAME, 0, QB_IPC_NATIVE, &sh);
	if (!g.ipcs)
		return -errno;
	return ipcs_loop_run(g.ipcs, g.loop);
}

/* ---- the link ---------------------------------------------------------- */

/* A partition's role as its kernel publishes it (validated like any record). */
static int kernel_role(struct partd *d, int peer, uint32_t gen, uint32_t *role)
{
	uint64_t size;
	const void *shm;
	uint32_t nr;
	struct orthros_rec r;
	bool never;

	(void)d;
	if (!g.link || peer < 0)
		return -ENOENT;
	shm = orthros_link_shm(g.link, &size);
	if (!shm || orthros_shm_check(shm, size, &nr) || (uint32_t)peer >= nr)
		return -ENOENT;
	if (orthros_rec_read((const char *)shm + orthros_shm_record_offset(shm, size, (uint32_t)peer),
			     (uint32_t)peer, &r, &never) || r.generation != gen)
		return -ENOENT;
	*role = r.role;
	return 0;
}

static int32_t link_readable(int32_t fd, int32_t revents, void *data)
{
	struct orthros_event ev;
	int rc;

	(void)fd;
	(void)revents;
	(void)data;
	while ((rc = orthros_link_next_event(g.link, &ev)) == 0)
		partd_on_event(&g.d, &ev);
	if (rc != -EAGAIN)
		qb_log(LOG_ERR, "link: %s", strerror(-rc));
	return 0;
}

static bool socket_served(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;
	bool ok;

	if (strlen(path) >= sizeof(sa.sun_path))
		return false;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	ok = fd >= 0 && !connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	if (fd >= 0)
		close(fd);
	return ok;
}

static int doorbell_ensure(const char *sock)
{
	char self[PATH_MAX], exe[PATH_MAX + 32], shm[PATH_MAX + 16];
	ssize_t n;

	if (socket_served(sock))
		return 0;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return -errno;
	self[n] = '\0';
	snprintf(exe, sizeof(exe), "%s/orthros-doorbelld", dirname(self));
	snprintf(shm, sizeof(shm), "%s/link.shm", g.run_dir);
	unlink(sock);
	g.doorbelld = fork();
	if (g.doorbelld < 0)
		return -errno;
	if (g.doorbelld == 0) {
		/* Its own session: a controller restart must not take it down. */
		setsid();
		execl(exe, exe, "--socket", sock, "--shm", shm, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100; i++) {
		if (socket_served(sock)) {
			qb_log(LOG_INFO, "doorbell server started (pid %d) on %s", (int)g.doorbelld, sock);
			return 0;
		}
		usleep(50000);
	}
	return -ETIMEDOUT;
}

/* ---- signals ----------------------------------------------------------- */

static int32_t on_stop(int32_t sig, void *data)
{
	(void)data;
	qb_log(LOG_NOTICE, "signal %d: stopping (partitions are left running)", sig);
	qb_loop_stop(g.loop);
	return 0;
}

static int32_t on_child(int32_t sig, void *data)
{
	int status;
	pid_t pid;

	(void)sig;
	(void)data;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == g.doorbelld) {
			qb_log(LOG_ERR, "the doorbell server exited: the link is gone");
			g.doorbelld = 0;
			continue;
		}
		g.plat->ops->reaped(g.plat, pid, status);
		for (int i = 0; i < PARTD_MAX_PARTS; i++) {
			struct partd_part *p = &g.d.part[i];
			enum platform_state st;

			if (!p->used)
				continue;
			g.plat->ops->state(g.plat, p->name, &st);
			if (st == PLATFORM_GONE && !p->reason[0]) {
				snprintf(p->reason, sizeof(p->reason), "exited");
				partd_on_gone(&g.d, p->name);
			}
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "run-dir", required_argument, NULL, 'r' },
		{ "kernel", required_argument, NULL, 'k' },
		{ "initrd", required_argument, NULL, 'i' },
		{ "payload", required_argument, NULL, 'p' },
		{ "shared-dir", required_argument, NULL, 's' },
		{ "doorbell", required_argument, NULL, 'd' },
		{ "accel", required_argument, NULL, 'a' },
		{ "netns", required_argument, NULL, 'n' },
		{ "ifup", required_argument, NULL, 'u' },
		{ "data-disk", required_argument, NULL, 'D' },
		{ "store", required_argument, NULL, 'S' },
		{ "max-vcpus", required_argument, NULL, 'V' },
		{ "max-memory", required_argument, NULL, 'M' },
		{ "min-memory", required_argument, NULL, 'm' },
		{ "nice", required_argument, NULL, 'N' },
		{ "boot", required_argument, NULL, 'b' },
		{ "no-freeze-on-panic", no_argument, NULL, 'F' },
		{ "no-grow-on-death", no_argument, NULL, 'G' },
		{ "heartbeat-timeout", required_argument, NULL, 'T' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct platform_qemu_config qc = { .accel = "tcg" };
	struct partd_options po = {
		.name_prefix = "orthros-", .freeze_on_panic = true, .grow_on_death = true,
	};
	const char *config = NULL, *doorbell = NULL;
	char boots[8][32], db_default[PATH_MAX + 16];
	int nboots = 0, opt, rc, prio = LOG_INFO;
	uint64_t v, hb_timeout_us = 0;
	static struct diag dg;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': config = optarg; break;
		case 'r':
			if (strlen(optarg) >= sizeof(g.run_dir)) {
				fprintf(stderr, "orthros-partd: --run-dir: at most %zu characters (UNIX socket paths live there)\n",
					sizeof(g.run_dir) - 1);
				return 2;
			}
			strcpy(g.run_dir, optarg);
			break;
		case 'k': qc.kernel = optarg; break;
		case 'i': qc.initrd = optarg; break;
		case 'p': snprintf(po.payload, sizeof(po.payload), "%s", optarg); break;
		case 's': qc.shared_dir = optarg; break;
		case 'd': doorbell = optarg; break;
		case 'a':
			if (strcmp(optarg, "tcg") && strcmp(optarg, "kvm")) {
				fprintf(stderr, "orthros-partd: --accel must be tcg or kvm\n");
				return 2;
			}
			qc.accel = optarg;
			break;
		case 'n': snprintf(g.netns, sizeof(g.netns), "%s", optarg); break;
		case 'u': qc.bridge_ifup = optarg; break;
		case 'D': qc.data_disk = optarg; break;
		case 'S': {
			struct stat st;

			if (stat(optarg, &st) || !S_ISREG(st.st_mode) || st.st_size < (1 << 20) ||
			    (st.st_size & (st.st_size - 1))) {
				fprintf(stderr, "orthros-partd: --store %s: a regular file whose size is a power of two of at least 1MiB\n",
					optarg);
				return 2;
			}
			qc.store = optarg;
			qc.store_size = (uint64_t)st.st_size;
			break;
		}
		case 'V':
			if (units_parse_u64(optarg, &v) || !v || v > 64) {
				fprintf(stderr, "orthros-partd: --max-vcpus must be 1..64\n");
				return 2;
			}
			po.max_vcpus = (unsigned int)v;
			break;
		case 'M':
			if (units_parse_size(optarg, &po.max_memory) || po.max_memory < (64u << 20)) {
				fprintf(stderr, "orthros-partd: --max-memory '%s': a size of at least 64MiB\n", optarg);
				return 2;
			}
			break;
		case 'm':
			if (units_parse_size(optarg, &po.min_memory) || po.min_memory < (64u << 20)) {
				fprintf(stderr, "orthros-partd: --min-memory '%s': a size of at least 64MiB\n", optarg);
				return 2;
			}
			break;
		case 'N':
			qc.nice = atoi(optarg);
			break;
		case 'b':
			if (nboots == 8 || strlen(optarg) >= sizeof(boots[0]) || !strchr(optarg, ':')) {
				fprintf(stderr, "orthros-partd: --boot GEN:active|backup\n");
				return 2;
			}
			strcpy(boots[nboots++], optarg);
			break;
		case 'F': po.freeze_on_panic = false; break;
		case 'G': po.grow_on_death = false; break;
		case 'T':
			if (units_parse_duration(optarg, &hb_timeout_us) || !hb_timeout_us) {
				fprintf(stderr, "orthros-partd: --heartbeat-timeout '%s' is not a duration\n", optarg);
				return 2;
			}
			break;
		case 'v': prio = LOG_DEBUG; break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (!config || !g.run_dir[0] || !qc.kernel || !qc.initrd || !po.payload[0] ||
	    optind != argc) {
		fprintf(stderr, "orthros-partd: --config, --run-dir, --kernel, --initrd and --payload are required\n\n");
		fputs(usage, stderr);
		return 2;
	}

	qb_log_init("orthros-partd", LOG_DAEMON, prio);
	qb_log_ctl(QB_LOG_SYSLOG, QB_LOG_CONF_ENABLED, QB_FALSE);
	qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_ENABLED, QB_TRUE);
	qb_log_filter_ctl(QB_LOG_STDERR, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE, "*", prio);
	qb_log_format_set(QB_LOG_STDERR, "%t %N: %b");

	diag_init(&dg, config);
	rc = conf_load_file(config, &g.conf, &dg);
	diag_print(&dg, stderr);
	if (rc)
		return 1;
	if (hb_timeout_us)
		g.conf.hb_timeout_us = hb_timeout_us;
	if (orthros_link_check_timing((uint32_t)g.conf.hb_interval_us, (uint32_t)g.conf.hb_timeout_us)) {
		qb_log(LOG_ERR, "heartbeat timeout must be at least twice the interval");
		return 1;
	}
	for (const char *f = qc.kernel; f; f = f == qc.kernel ? qc.initrd : NULL)
		if (access(f, R_OK)) {
			qb_log(LOG_ERR, "cannot read %s: %s", f, strerror(errno));
			return 1;
		}
	if (mkdir(g.run_dir, 0700) && errno != EEXIST) {
		qb_log(LOG_ERR, "cannot create %s: %s", g.run_dir, strerror(errno));
		return 1;
	}
	if (!doorbell) {
		snprintf(db_default, sizeof(db_default), "%s/doorbell.sock", g.run_dir);
		doorbell = db_default;
	}
	qc.run_dir = g.run_dir;
	qc.doorbell_socket = doorbell;
	for (int i = 0; i < PARTD_MAX_PARTS; i++)
		g.chan[i].fd = -1;

	g.loop = qb_loop_create();
	qb_loop_signal_add(g.loop, QB_LOOP_HIGH, SIGTERM, NULL, on_stop, NULL);
	qb_loop_signal_add(g.loop, QB_LOOP_HIGH, SIGINT, NULL, on_stop, NULL);
	qb_loop_signal_add(g.loop, QB_LOOP_HIGH, SIGCHLD, NULL, on_child, NULL);

	rc = doorbell_ensure(doorbell);
	if (rc) {
		qb_log(LOG_ERR, "no doorbell server on %s: %s", doorbell, strerror(-rc));
		return 1;
	}
	rc = orthros_link_open_ivshmem(doorbell, &g.link);
	if (!rc)
		rc = orthros_link_set_heartbeat(g.link, (uint32_t)g.conf.hb_interval_us,
						(uint32_t)g.conf.hb_timeout_us);
	if (!rc)
		rc = orthros_link_set_role(g.link, 0, ORTHROS_ROLE_CONTROLLER);
	if (rc) {
		qb_log(LOG_ERR, "cannot join the link on %s: %s", doorbell, strerror(-rc));
		return 1;
	}
	qb_loop_poll_add(g.loop, QB_LOOP_HIGH, orthros_link_fd(g.link), POLLIN, NULL, link_readable);

	/* QEMU children enter the lab's network namespace; the controller
	 * stays in the host's, so root's tools reach its IPC socket. */
	qc.netns = g.netns[0] ? g.netns : NULL;
	rc = platform_qemu_create(&qc, &g.plat);
	if (rc) {
		qb_log(LOG_ERR, "platform: %s", strerror(-rc));
		return 1;
	}
	partd_init(&g.d, &g.conf, g.plat, &po, mono_ns);
	g.d.kernel_role = kernel_role;

	rc = ipc_start();
	if (rc) {
		qb_log(LOG_ERR, "cannot serve %s: %s", PARTD_IPC_NAME, strerror(-rc));
		return 1;
	}
	qb_log(LOG_NOTICE, "controller up: %s platform, link peer on %s, run dir %s%s%s",
	       g.plat->ops->name, doorbell, g.run_dir, g.netns[0] ? ", partitions in netns " : "",
	       g.netns);
	for (int i = 0; i < nboots; i++) {
		char out[512], line[64];

		*strchr(boots[i], ':') = ' ';
		snprintf(line, sizeof(line), "boot %.32s", boots[i]);
		rc = partd_command(&g.d, NULL, line, out, sizeof(out));
		if (rc)
			qb_log(LOG_ERR, "%s: %s", line, out);
	}
	chans_refresh();
	qb_loop_run(g.loop);

	qb_ipcs_destroy(g.ipcs);
	orthros_link_close(g.link);
	free(g.plat);	/* partitions keep running: they are not the controller's to end */
	qb_loop_destroy(g.loop);
	qb_log_fini();
	return 0;
}
