// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * orthrosd: the Orthros daemon inside a partition.
 *
 * Roles, one module each: hotplug.c onlines the CPUs and memory the
 * controller hot-adds (at a peer's death the survivor is given the dead
 * partition's size at once, and the takeover should run on it from the
 * next instant, not after a poll); attrs.c decides which node attributes
 * (generation, role, heartbeat age) Pacemaker should hear of, and when;
 * the partition link (liborthros) is watched and every event logged, so
 * the partition's own log tells the story of a failover next to
 * Pacemaker's; protect.c checkpoints the protected groups with CRIU into
 * the store while this partition is the Active, and once more at a
 * planned stop; and at the Active's PANIC notice, while this partition
 * is the BackupOS, it starts the early takeover (orthrosctl takeover),
 * which uses the seconds corosync needs to re-form its membership (at a
 * hang, the standby takes over as soon as the cluster's fence is done).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/netlink.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <qb/qblog.h>
#include <qb/qbloop.h>

#include "attrs.h"
#include "conf.h"
#include "diag.h"
#include "hotplug.h"
#include "takeover-proc.h"
#include "link.h"
#include "protect.h"

static const char usage[] =
	"Usage: orthrosd [--device PATH] [--sysfs DIR] [--no-attributes] [--verbose]\n"
	"                [--takeover PROGRAM | --no-takeover]\n"
	"                [--config FILE [--region PATH] [--pid-dir DIR] [--ckpt-dir DIR]]\n"
	"\n"
	"Runs in every Orthros partition until SIGTERM/SIGINT:\n"
	"  - onlines hot-added CPUs and memory blocks as their uevents arrive\n"
	"    (and any left offline when it starts);\n"
	"  - logs the partition link's events from PATH (default /dev/orthros;\n"
	"    --device none to run without the link);\n"
	"  - publishes the node attributes orthros-generation, orthros-role and\n"
	"    orthros-heartbeat-age-ms (the stalest watched peer, as seen here,\n"
	"    sampled every second) through attrd_updater, on a change and every\n"
	"    60 s; not with --no-attributes;\n"
	"  - while this partition is the BackupOS, keeps 'PROGRAM takeover\n"
	"    --standby' (default orthrosctl, found in PATH) started and waiting,\n"
	"    and at a peer's PANIC notice tells it to go (or, with no standby,\n"
	"    runs 'PROGRAM takeover'; once per dead generation): the early\n"
	"    takeover (orthrosctl(8)); when the Active stops beating (a hang)\n"
	"    tells the standby to wait and take over once the controller says\n"
	"    the Active is dead (fenced), and to stand by again if it beats\n"
	"    again; its output goes to this log; not with --no-takeover;\n"
	"  - with --config: checkpoints every protected group of FILE with CRIU\n"
	"    into the store at PATH (default auto: the ivshmem-plain device),\n"
	"    on FILE's checkpoint policy, while this partition is the Active (or\n"
	"    always, with --device none), and once more at SIGTERM (a planned\n"
	"    stop).  A group's leader pid is read from DIR/NAME.pid (default\n"
	"    /run/orthros/protected); images pass through --ckpt-dir (tmpfs,\n"
	"    default /run/orthros/ckpt).  SIGUSR1 pauses the periodic rounds\n"
	"    (a round in flight completes; the planned stop's checkpoint is still\n"
	"    taken), SIGUSR2 resumes them: a backup or benchmark window.\n"
	"Logs to standard error.  Exit status: 0 stopped by a signal, 1 failure,\n"
	"2 usage.\n";

enum { A_GEN, A_ROLE, A_AGE, A_COUNT };

static struct {
	qb_loop_t *loop;
	const char *sysfs;
	struct orthros_link *link;
	int uevent_fd;
	bool attributes;
	struct attr attr[A_COUNT];
	struct beat_age age[ORTHROS_MAX_PEERS];
	pid_t child;			/* the attrd_updater in flight, if any */
	int child_attr;
	char child_value[32];
	uint64_t retry_ns;		/* attrd not up yet: try again then */
	bool warned;
	struct protect *protect;	/* --config: checkpointing, or NULL */
	struct tkp takeover;		/* the early takeover (prog NULL: off) */
	uint64_t watch_since_ns;	/* link opened: later PANICs were witnessed */
} g = {
	.sysfs = "/sys", .uevent_fd = -1, .attributes = true,
	.attr = {
		[A_GEN] = { .name = "orthros-generation" },
		[A_ROLE] = { .name = "orthros-role" },
		/* It changes every second while a peer is silent, which is
		 * when the partition's CPU matters most. */
		[A_AGE] = { .name = "orthros-heartbeat-age-ms", .min_gap_ns = 5000000000ull },
	},
};

#define NS_PER_S 1000000000ull

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static int32_t on_signal(int32_t sig, void *data)
{
	(void)sig;
	(void)data;
	qb_loop_stop(g.loop);
	return 0;
}

static int uevent_open(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = 1 };
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
			NETLINK_KOBJECT_UEVENT);

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

static int32_t on_uevent(int32_t fd, int32_t revents, void *data)
{
	char buf[8192];
	struct hotplug_event ev;
	ssize_t n;

	(void)revents;
	(void)data;
	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) {
		int rc = hotplug_parse_uevent(buf, (size_t)n, &ev);

		if (rc <= 0)
			continue;
		rc = hotplug_online(g.sysfs, &ev);
		if (rc > 0)
			qb_log(LOG_NOTICE, "onlined hot-added %s", ev.devpath);
		else if (rc < 0)
			qb_log(LOG_ERR, "cannot online %s: %s", ev.devpath, strerror(-rc));
	}
	if (n < 0 && errno == ENOBUFS) {
		/* Uevents were dropped: whatever they announced, catch up. */
		int rc = hotplug_online_all(g.sysfs);

		if (rc > 0)
			qb_log(LOG_NOTICE, "onlined %d cpu/memory blocks after a uevent overrun", rc);
		else if (rc < 0)
			qb_log(LOG_ERR, "cannot online after a uevent overrun: %s", strerror(-rc));
	}
	return 0;
}

/*
 * The early takeover runs in its own process (takeover-proc.c): it blocks
 * on the controller, mounts and restores, none of which may hold up the
 * uevents that online the CPUs it runs on.  It decides for itself whether
 * death is certain; here only whether this partition is the one to take
 * over.
 */
static bool is_backup(void)
{
	struct orthros_info info;

	return g.link && !orthros_link_info(g.link, &info) && info.role == ORTHROS_ROLE_BACKUP;
}

static void start_takeover(uint32_t dead_gen)
{
	bool standby;
	int rc;

	if (!g.takeover.prog || !is_backup())
		return;
	rc = tkp_fire(&g.takeover, dead_gen, &standby);
	if (rc == -EALREADY)
		qb_log(LOG_INFO, "early takeover already %s for generation %u",
		       g.takeover.running ? "running" : "done", dead_gen);
	else if (rc < 0)
		qb_log(LOG_ERR, "cannot run %s takeover: %s; Pacemaker takes over alone",
		       g.takeover.prog, strerror(-rc));
	else
		qb_log(LOG_NOTICE, "early takeover of generation %u started (pid %d, %s)", dead_gen,
		       rc, standby ? "the standby" : "no standby was ready: spawned");
}

/*
 * Whether peer @id's record, as it stands, is the Active's: a hung
 * kernel's record still validates, it only stops beating.  The
 * controller, a peer too, is never the one to take over from.
 */
static bool peer_is_active(uint32_t id)
{
	uint64_t size, off;
	const char *shm = g.link ? orthros_link_shm(g.link, &size) : NULL;
	struct orthros_rec rec;
	bool never;

	if (!shm || id >= ORTHROS_MAX_PEERS)
		return false;
	off = orthros_shm_record_offset(shm, size, id);
	return off && orthros_rec_read(shm + off, id, &rec, &never) == ORTHROS_INVALID_NONE &&
	       rec.role == ORTHROS_ROLE_ACTIVE;
}

/*
 * The Active stopped beating: a hang, or only a slow partition.  Nothing
 * is taken yet; the standby waits for the controller to say the Active is
 * dead, which for a hang is the cluster's fence.
 */
static void wait_takeover(uint32_t gen)
{
	int rc;

	if (!g.takeover.prog || !is_backup())
		return;
	rc = tkp_wait(&g.takeover, gen);
	if (rc > 0)
		qb_log(LOG_NOTICE, "the Active (generation %u) is silent: the standby takeover (pid %d) takes over once it is fenced",
		       gen, rc);
	else if (rc == -ENOENT)
		qb_log(LOG_INFO, "the Active (generation %u) is silent and no standby takeover is ready: Pacemaker's",
		       gen);
	else if (rc != -EALREADY)
		qb_log(LOG_WARNING, "cannot tell the standby takeover to wait: %s", strerror(-rc));
}

static void takeover_tick(uint64_t now)
{
	int rc = tkp_tick(&g.takeover, is_backup(), now);

	if (rc > 0)
		qb_log(LOG_INFO, "standby takeover ready for a PANIC notice (pid %d)", rc);
	else if (rc < 0)
		qb_log(LOG_WARNING, "cannot start a standby takeover: %s; retrying in %llu s",
		       strerror(-rc), (unsigned long long)(TKP_RETRY_NS / NS_PER_S));
}

static int32_t on_link(int32_t fd, int32_t revents, void *data)
{
	struct orthros_event ev;
	int rc;

	(void)fd;
	(void)data;
	if (revents & (POLLERR | POLLHUP)) {
		qb_log(LOG_ERR, "the partition link closed");
		qb_loop_stop(g.loop);
		return -1;
	}
	while ((rc = orthros_link_next_event(g.link, &ev)) == 0) {
		qb_log(LOG_NOTICE, "link: %s from peer %u, generation %u",
		       orthros_event_name(ev.type), ev.peer, ev.generation);
		/*
		 * The kernel queues what its first scan finds, dead
		 * generations' records included: a death from before we
		 * watched is Pacemaker's (and long handled), not a takeover.
		 */
		if (ev.type == ORTHROS_EV_PANIC && ev.ts_ns >= g.watch_since_ns)
			start_takeover(ev.generation);
		else if (ev.type == ORTHROS_EV_PANIC)
			qb_log(LOG_INFO, "generation %u died before orthrosd watched: no early takeover",
			       ev.generation);
		else if (ev.type == ORTHROS_EV_HEARTBEAT_LOST && ev.ts_ns >= g.watch_since_ns &&
			 peer_is_active(ev.peer))
			wait_takeover(ev.generation);
		else if (ev.type == ORTHROS_EV_HEARTBEAT_BACK &&
			 tkp_back(&g.takeover, ev.generation) > 0)
			qb_log(LOG_NOTICE, "the Active (generation %u) beats again: the standby takeover stands by",
			       ev.generation);
	}
	if (rc != -EAGAIN) {
		qb_log(LOG_ERR, "reading the partition link: %s", strerror(-rc));
		qb_loop_stop(g.loop);
		return -1;
	}
	return 0;
}

/* One attrd_updater at a time, never waited for in the loop. */
static void publish_next(uint64_t now)
{
	static char *const no_env[] = { NULL };
	posix_spawn_file_actions_t fa;
	extern char **environ;

	if (g.child > 0 || now < g.retry_ns)
		return;
	for (int i = 0; i < A_COUNT; i++) {
		struct attr *a = &g.attr[i];
		char prog[] = "attrd_updater", n[] = "-n", u[] = "-U", name[32];
		char *argv[] = { prog, n, name, u, a->value, NULL };
		int rc;

		if (!attr_due(a, now))
			continue;
		snprintf(name, sizeof(name), "%s", a->name);
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
		posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
		rc = posix_spawnp(&g.child, "attrd_updater", &fa, NULL, argv,
				  environ ? environ : no_env);
		posix_spawn_file_actions_destroy(&fa);
		if (rc) {
			g.child = 0;
			if (!g.warned)
				qb_log(LOG_WARNING, "cannot run attrd_updater: %s", strerror(rc));
			g.warned = true;
			g.retry_ns = now + 10 * NS_PER_S;
			return;
		}
		g.child_attr = i;
		snprintf(g.child_value, sizeof(g.child_value), "%s", a->value);
		return;
	}
}

static void takeover_reap(void)
{
	enum tkp_event ev;
	int st;

	while ((ev = tkp_reap(&g.takeover, now_ns(), &st)) != TKP_NOTHING) {
		switch (ev) {
		case TKP_STANDBY_EXITED:
			if (is_backup())
				qb_log(LOG_WARNING, "the standby takeover ended unasked (status %#x); another in %llu s",
				       (unsigned int)st, (unsigned long long)(TKP_RETRY_NS / NS_PER_S));
			break;
		case TKP_DONE:
			qb_log(LOG_NOTICE, "early takeover done (no standby takeover again in this partition)");
			break;
		case TKP_DECLINED:
			qb_log(LOG_NOTICE, "no early takeover here: Pacemaker takes over");
			break;
		default:
			qb_log(LOG_WARNING, "early takeover stopped short (status %#x): Pacemaker does the rest",
			       (unsigned int)st);
			break;
		}
	}
}

/* Only our own children: libcriu's swrk child is reaped by libcriu. */
static int32_t on_sigchld(int32_t sig, void *data)
{
	int st;

	(void)sig;
	(void)data;
	takeover_reap();
	if (g.child <= 0 || waitpid(g.child, &st, WNOHANG) != g.child)
		return 0;
	g.child = 0;
	uint64_t now = now_ns();
	struct attr *a = &g.attr[g.child_attr];

	if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
		attr_sent(a, g.child_value, now);
		qb_log(LOG_DEBUG, "attribute %s=%s published", a->name, g.child_value);
		g.warned = false;
		publish_next(now);
	} else {
		/* Pacemaker is not up yet (or restarting): back off, quietly. */
		if (!g.warned)
			qb_log(LOG_INFO, "attrd_updater -n %s failed; retrying every 10 s", a->name);
		g.warned = true;
		g.retry_ns = now + 10 * NS_PER_S;
	}
	return 0;
}

static void sample(uint64_t now)
{
	struct orthros_info info;
	uint64_t size, stalest = 0;
	bool any = false;
	char v[32];

	if (orthros_link_info(g.link, &info))
		return;
	snprintf(v, sizeof(v), "%u", info.generation);
	attr_set(&g.attr[A_GEN], v);
	attr_set(&g.attr[A_ROLE], orthros_role_name(info.role));
	const char *shm = orthros_link_shm(g.link, &size);

	for (uint32_t id = 0; shm && id < ORTHROS_MAX_PEERS; id++) {
		uint64_t off = orthros_shm_record_offset(shm, size, id);
		struct orthros_rec rec;
		bool never;

		if (!(info.peers & (1ull << id)) || id == info.peer_id || !off)
			continue;
		if (orthros_rec_read(shm + off, id, &rec, &never) != ORTHROS_INVALID_NONE)
			continue;	/* refused records tell us nothing */
		uint64_t age = beat_age_update(&g.age[id], rec.heartbeat, now);

		if (age > stalest)
			stalest = age;
		any = true;
	}
	if (any) {
		snprintf(v, sizeof(v), "%llu", (unsigned long long)(stalest / 1000000));
		attr_set(&g.attr[A_AGE], v);
	}
}

static void on_tick(void *data)
{
	qb_loop_timer_handle t;
	uint64_t now = now_ns();

	(void)data;
	sample(now);
	if (g.attributes)
		publish_next(now);
	takeover_tick(now);
	qb_loop_timer_add(g.loop, QB_LOOP_LOW, NS_PER_S, NULL, on_tick, &t);
}

/* Checkpoints belong to the Active: a Backup's groups are not running. */
static bool is_active(void)
{
	struct orthros_info info;

	if (!g.link)
		return true;
	return !orthros_link_info(g.link, &info) && info.role == ORTHROS_ROLE_ACTIVE;
}

/*
 * Checkpointing paused by hand (SIGUSR1, SIGUSR2 resumes): a window in
 * which the group must not be frozen or its CPU shared, such as a backup
 * or a measurement of what checkpointing costs.  Never across a planned
 * stop: its final checkpoint is what keeps the group's state.
 */
static bool ckpt_paused, ckpt_pause_told;

static int32_t on_pause(int32_t sig, void *data)
{
	(void)data;
	if (sig == SIGUSR2 && ckpt_paused)
		qb_log(LOG_NOTICE, "periodic checkpoints resumed (SIGUSR2)");
	ckpt_paused = sig == SIGUSR1;
	ckpt_pause_told = false;
	return 0;
}

static void on_protect_tick(void *data)
{
	qb_loop_timer_handle t;

	(void)data;
	if (ckpt_paused && !ckpt_pause_told && !protect_busy(g.protect)) {
		/* Said once no round is in flight: from here nothing is frozen. */
		qb_log(LOG_NOTICE, "periodic checkpoints paused (SIGUSR1), no round in flight");
		ckpt_pause_told = true;
	}
	if (is_active() && !ckpt_paused)
		protect_tick(g.protect, now_ns());
	qb_loop_timer_add(g.loop, QB_LOOP_LOW, 100 * 1000000ull, NULL, on_protect_tick, &t);
}

static int32_t on_protect_done(int32_t fd, int32_t revents, void *data)
{
	(void)fd;
	(void)revents;
	(void)data;
	protect_collect(g.protect);
	return 0;
}

static int start_protect(const char *config, const struct protect_opts *o)
{
	struct orthros_conf *conf = calloc(1, sizeof(*conf));
	struct diag *d = calloc(1, sizeof(*d));
	int rc = -ENOMEM;

	if (!conf || !d)
		goto out;
	diag_init(d, config);
	rc = conf_load_file(config, conf, d);
	if (rc) {
		for (unsigned int i = 0; i < d->nstored; i++)
			qb_log(LOG_ERR, "%s:%u:%u: %s", config, d->msg[i].pos.line,
			       d->msg[i].pos.column, d->msg[i].text);
		qb_log(LOG_ERR, "cannot load %s", config);
		goto out;
	}
	rc = protect_open(conf, o, &g.protect);
	if (rc)
		goto out;
	qb_loop_poll_add(g.loop, QB_LOOP_MED, protect_fd(g.protect), POLLIN, NULL, on_protect_done);
	on_protect_tick(NULL);
out:
	free(conf);
	free(d);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "device", required_argument, NULL, 'd' },
		{ "sysfs", required_argument, NULL, 's' },
		{ "no-attributes", no_argument, NULL, 'A' },
		{ "takeover", required_argument, NULL, 'T' },
		{ "no-takeover", no_argument, NULL, 'N' },
		{ "config", required_argument, NULL, 'c' },
		{ "region", required_argument, NULL, 'R' },
		{ "pid-dir", required_argument, NULL, 'P' },
		{ "ckpt-dir", required_argument, NULL, 'C' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *device = "/dev/orthros", *config = NULL, *takeover = "orthrosctl";
	struct protect_opts po = {
		.region = "auto", .pid_dir = PROTECT_PID_DIR, .workdir = "/run/orthros/ckpt",
	};
	int opt, rc, prio = LOG_INFO;

	while ((opt = getopt_long(argc, argv, "d:s:vh", opts, NULL)) != -1) {
		switch (opt) {
		case 'd': device = optarg; break;
		case 's': g.sysfs = optarg; break;
		case 'A': g.attributes = false; break;
		case 'T': takeover = optarg; break;
		case 'N': takeover = NULL; break;
		case 'c': config = optarg; break;
		case 'R': po.region = optarg; break;
		case 'P': po.pid_dir = optarg; break;
		case 'C': po.workdir = optarg; break;
		case 'v': prio = LOG_DEBUG; break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (optind != argc) {
		fputs(usage, stderr);
		return 2;
	}
	qb_log_init("orthrosd", LOG_DAEMON, prio);
	qb_log_ctl(QB_LOG_SYSLOG, QB_LOG_CONF_ENABLED, QB_FALSE);
	qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_ENABLED, QB_TRUE);
	qb_log_filter_ctl(QB_LOG_STDERR, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE, "*", prio);
	qb_log_format_set(QB_LOG_STDERR, "%T %p orthrosd: %b");

	g.loop = qb_loop_create();
	if (!g.loop) {
		qb_log(LOG_ERR, "cannot create the main loop");
		return 1;
	}
	qb_loop_signal_add(g.loop, QB_LOOP_HIGH, SIGTERM, NULL, on_signal, NULL);
	qb_loop_signal_add(g.loop, QB_LOOP_HIGH, SIGINT, NULL, on_signal, NULL);
	qb_loop_signal_add(g.loop, QB_LOOP_HIGH, SIGUSR1, NULL, on_pause, NULL);
	qb_loop_signal_add(g.loop, QB_LOOP_HIGH, SIGUSR2, NULL, on_pause, NULL);

	/* Listen first, then sweep: nothing added in between is missed. */
	g.uevent_fd = uevent_open();
	if (g.uevent_fd < 0) {
		qb_log(LOG_ERR, "cannot listen to kernel uevents: %s", strerror(-g.uevent_fd));
		return 1;
	}
	qb_loop_poll_add(g.loop, QB_LOOP_HIGH, g.uevent_fd, POLLIN, NULL, on_uevent);
	rc = hotplug_online_all(g.sysfs);
	if (rc < 0)
		qb_log(LOG_WARNING, "onlining what is offline under %s: %s", g.sysfs, strerror(-rc));
	else if (rc > 0)
		qb_log(LOG_NOTICE, "onlined %d cpu/memory blocks that were offline", rc);

	if (strcmp(device, "none")) {
		g.watch_since_ns = now_ns();
		rc = orthros_link_open_device(device, &g.link);
		if (rc) {
			qb_log(LOG_ERR, "cannot open %s: %s", device, strerror(-rc));
			return 1;
		}
		qb_loop_poll_add(g.loop, QB_LOOP_MED, orthros_link_fd(g.link), POLLIN, NULL, on_link);
		qb_loop_signal_add(g.loop, QB_LOOP_LOW, SIGCHLD, NULL, on_sigchld, NULL);
		tkp_init(&g.takeover, takeover);
		on_tick(NULL);
	}
	if (config && start_protect(config, &po))
		return 1;
	qb_log(LOG_INFO, "running (link %s, sysfs %s)", device, g.sysfs);
	qb_loop_run(g.loop);
	if (g.protect) {
		if (is_active())
			protect_final(g.protect);
		protect_close(g.protect);
	}
	tkp_close(&g.takeover);
	if (g.link)
		orthros_link_close(g.link);
	close(g.uevent_fd);
	qb_loop_destroy(g.loop);
	qb_log_fini();
	return 0;
}
