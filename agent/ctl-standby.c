// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * orthrosctl ckpt standby: a BackupOS process that keeps a lazy restore of
 * one protected group prepared (ckpt-standby.c) and serves it to the first
 * `ckpt restore --lazy` of that group in the partition (the resource
 * agent's start, the early takeover), over libqb IPC; then it exits, its
 * job done.  Its main loop looks at the store's headers every poll.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <qb/qbdefs.h>
#include <qb/qbipcc.h>
#include <qb/qbipcs.h>
#include <qb/qbloop.h>
#include <qb/qblog.h>

#include "ckpt-region.h"
#include "ckpt-standby.h"
#include "ipcs-loop.h"
#include "protect.h"
#include "ctl.h"

#define STANDBY_REQ_RESTORE (QB_IPC_MSG_USER_START + 1)
#define REPLY_TIMEOUT_MS (300 * 1000)

struct standby_req {
	struct qb_ipc_request_header hdr;
	char group[CKPT_GROUP_LEN];
	/*
	 * CLOCK_MONOTONIC, this partition's: the asking process's start, its
	 * main(), its connection begun, its request sent
	 */
	uint64_t started_ns, main_ns, connect_ns, sent_ns;
};

uint64_t ctl_main_ns;

struct standby_res {
	struct qb_ipc_response_header hdr;	/* error: the exit status */
	int32_t pid;
	uint64_t seq;
	char out[3072], err[1024];
};

static struct {
	qb_loop_t *loop;
	qb_ipcs_service_t *ipcs;
	struct ckpt_standby sb;
	struct ckpt_standby_criu criu;
	unsigned int poll_ms;
	int64_t ahead_max;		/* -1: half of MemAvailable */
	int exit_code;
	bool waiting_logged;
} g;

/*
 * A standby serves one group of one store: the name says both (a hash of
 * the store's real path; "auto" and "pci" name the partition's one store
 * as they are), so a restore from another store never reaches it.
 */
static void ipc_name(char *buf, size_t len, const char *group, const char *region)
{
	char *real = strcmp(region, "auto") && strcmp(region, "pci") ? realpath(region, NULL) : NULL;
	const char *p = real ? real : region;
	uint32_t h = 2166136261u;

	for (; *p; p++) {
		h ^= (uint8_t)*p;
		h *= 16777619u;
	}
	snprintf(buf, len, "orthros-standby-%s-%08x", group, h);
	free(real);
}

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

/*
 * What a tree restored ahead may hold: its pages all come in while it
 * waits, and the BackupOS must still boot its services and take over.
 */
static uint64_t ahead_budget(void)
{
	FILE *f;
	char line[128];
	unsigned long long kb = 0;

	if (g.ahead_max >= 0)
		return (uint64_t)g.ahead_max;
	f = fopen("/proc/meminfo", "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return kb * 1024ull / 2;
}

/* The checkpointer's pid file names a live process: the group runs here. */
static bool group_here(const char *group)
{
	char path[128];
	FILE *f;
	int pid = 0;

	snprintf(path, sizeof(path), "%s/%s.pid", PROTECT_PID_DIR, group);
	f = fopen(path, "r");
	if (!f)
		return false;
	if (fscanf(f, "%d", &pid) != 1)
		pid = 0;
	fclose(f);
	return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

static void look(void)
{
	bool changed;
	int rc = ckpt_standby_refresh(&g.sb, &changed);

	if (rc == -ENOENT) {
		if (!g.waiting_logged)
			qb_log(LOG_INFO, "group %s: no restorable checkpoint yet; waiting for one", g.sb.group);
		g.waiting_logged = true;
		return;
	}
	g.waiting_logged = false;
	if (rc) {
		qb_log(LOG_WARNING, "group %s: the standby could not prepare: %s (again when the store changes)",
		       g.sb.group, g.sb.msg);
		return;
	}
	if (!changed)
		return;
	if (g.sb.ahead_msg[0])
		qb_log(LOG_INFO, "group %s: %s", g.sb.group, g.sb.ahead_msg);
	if (g.sb.ahead_pid > 0)
		qb_log(LOG_NOTICE,
		       "group %s: standby prepared set %" PRIu64 " (%u sets, %" PRIu64 " pages lazy, %" PRIu64
		       " eager) in %.1f ms: view at %s, lazy-pages daemon pid %d, restored ahead in %.1f ms:"
		       " pid %d stopped",
		       g.sb.group, g.sb.res->seq, g.sb.res->chain_len, g.sb.res->lazy_pages, g.sb.res->eager_pages,
		       ms(g.sb.prepare_ns), g.sb.res->dir, (int)g.criu.daemon, ms(g.sb.ahead_ns), (int)g.sb.ahead_pid);
	else
		qb_log(LOG_NOTICE,
		       "group %s: standby prepared set %" PRIu64 " (%u sets, %" PRIu64 " pages lazy, %" PRIu64
		       " eager) in %.1f ms: view at %s, lazy-pages daemon pid %d listening, criu swrk pid %d waiting",
		       g.sb.group, g.sb.res->seq, g.sb.res->chain_len, g.sb.res->lazy_pages, g.sb.res->eager_pages,
		       ms(g.sb.prepare_ns), g.sb.res->dir, (int)g.criu.daemon, (int)g.criu.swrk.pid);
}

static void on_tick(void *data)
{
	qb_loop_timer_handle *t = data;

	look();
	qb_loop_timer_add(g.loop, QB_LOOP_LOW, (uint64_t)g.poll_ms * 1000000ull, t, on_tick, t);
}

static int32_t ipc_accept(qb_ipcs_connection_t *c, uid_t uid, gid_t gid)
{
	(void)c;
	(void)gid;
	if (uid != 0) {
		qb_log(LOG_WARNING, "refused a connection from uid %u", (unsigned)uid);
		return -EACCES;
	}
	return 0;
}

/* Restore now, answer with what `ckpt restore --lazy` would print, then stop. */
static int32_t ipc_msg(qb_ipcs_connection_t *c, void *data, size_t size)
{
	struct standby_req *req = data;
	struct standby_res *res = calloc(1, sizeof(*res));
	struct ckpt_restore_result *r;
	uint64_t now = g.sb.clock(), age = g.sb.ready ? now - g.sb.prepared_at_ns : 0;
	FILE *out, *err;
	bool stale = false, resumed = false;
	int rc;

	if (!res)
		return -ENOMEM;
	res->hdr.id = STANDBY_REQ_RESTORE;
	res->hdr.size = sizeof(*res);
	if (size < sizeof(*req) || req->hdr.id != STANDBY_REQ_RESTORE ||
	    strncmp(req->group, g.sb.group, sizeof(req->group))) {
		snprintf(res->err, sizeof(res->err), "orthrosctl: the standby of group %s was asked something else\n",
			 g.sb.group);
		res->hdr.error = 1;
		qb_ipcs_response_send(c, res, sizeof(*res));
		free(res);
		return 0;
	}
	out = fmemopen(res->out, sizeof(res->out) - 1, "w");
	err = fmemopen(res->err, sizeof(res->err) - 1, "w");
	if (!out || !err) {
		if (out)
			fclose(out);
		free(res);
		return -ENOMEM;
	}
	rc = ckpt_standby_fire(&g.sb, &r, &stale, &resumed);
	if (!rc) {
		res->pid = r->pid;
		res->seq = r->seq;
	}
	res->hdr.error = ctl_ckpt_report(out, err, g.sb.group, true, rc, r);
	if (!rc && stale)
		fprintf(out, "standby: the store had changed: prepared again at the request in %.1f ms%s\n",
			ms(g.sb.prepare_ns), resumed ? ", restored and resumed" : "");
	else if (!rc && resumed)
		fprintf(out, "standby: restored ahead %.1f s before the request (prepared in %.1f ms, restored"
			" stopped in %.1f ms); resumed at the request\n",
			(double)age / 1e9, ms(g.sb.prepare_ns), ms(g.sb.ahead_ns));
	/*
	 * Where the gap went, on this partition's one clock: the asking
	 * process's start (exec, libraries), its connection, our loop.
	 */
	if (!rc && resumed && req->started_ns && req->started_ns <= req->main_ns &&
	    req->main_ns <= req->connect_ns && req->connect_ns <= req->sent_ns &&
	    req->sent_ns <= now && now <= g.sb.resumed_at_ns)
		fprintf(out, "standby: timeline from orthrosctl's start: main at +%.1f ms, connecting at +%.1f ms,"
			" asked at +%.1f ms, heard at +%.1f ms, tree resumed at +%.1f ms\n",
			ms(req->main_ns - req->started_ns), ms(req->connect_ns - req->started_ns),
			ms(req->sent_ns - req->started_ns), ms(now - req->started_ns),
			ms(g.sb.resumed_at_ns - req->started_ns));
	else if (!rc)
		fprintf(out, "standby: prepared %.1f s before the request (in %.1f ms); restored through %s\n",
			(double)age / 1e9, ms(g.sb.prepare_ns),
			g.criu.swrk_used ? "the waiting criu swrk" : "the criu command");
	fclose(out);
	fclose(err);
	qb_log(res->hdr.error ? LOG_ERR : LOG_NOTICE, "group %s: restore asked: %s%s", g.sb.group,
	       res->hdr.error ? "failed: " : "", res->hdr.error ? res->err : "done");
	qb_ipcs_response_send(c, res, sizeof(*res));
	free(res);
	g.exit_code = rc && rc != -ENOENT ? 1 : 0;
	qb_loop_stop(g.loop);
	return 0;
}

static int ipc_start(const char *group, const char *region)
{
	static struct qb_ipcs_service_handlers sh = {
		.connection_accept = ipc_accept,
		.msg_process = ipc_msg,
	};
	char name[128];
	int rc;

	ipc_name(name, sizeof(name), group, region);
	/*
	 * A socket, not shared memory: one request and one answer, and the
	 * asking process is on the failover's critical path, where setting
	 * up libqb's shared-memory rings (files, mappings, on both sides)
	 * costs more than the message.
	 */
	g.ipcs = qb_ipcs_create(name, 0, QB_IPC_SOCKET, &sh);
	if (!g.ipcs)
		return -errno;
	rc = ipcs_loop_run(g.ipcs, g.loop);
	/* A service that failed to run has been released by libqb already. */
	if (rc)
		g.ipcs = NULL;
	return rc;
}

static int32_t on_signal(int32_t sig, void *data)
{
	(void)data;
	qb_log(LOG_NOTICE, "group %s: signal %d: the standby stops, its preparation abandoned", g.sb.group, sig);
	qb_loop_stop(g.loop);
	return 0;
}

int ctl_ckpt_standby(const char *region, const char *group, const char *workdir, unsigned int poll_ms,
		     int64_t ahead_max)
{
	qb_loop_timer_handle t;
	struct ckpt_region r;
	struct ckpt_store s;
	char msg[512], name[128];
	int rc;

	qb_log_init("orthrosctl-standby", LOG_DAEMON, LOG_INFO);
	qb_log_ctl(QB_LOG_SYSLOG, QB_LOG_CONF_ENABLED, QB_FALSE);
	qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_ENABLED, QB_TRUE);
	qb_log_filter_ctl(QB_LOG_STDERR, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE, "*", LOG_INFO);
	qb_log_format_set(QB_LOG_STDERR, "%t %p %N: %b");
	/* Another standby of the group would take the same restore. */
	{
		ipc_name(name, sizeof(name), group, region);
		qb_ipcc_connection_t *c = qb_ipcc_connect(name, sizeof(struct standby_res) + 256);

		if (c) {
			qb_ipcc_disconnect(c);
			fprintf(stderr, "orthrosctl: a standby of group %s on %s already runs here\n", group, region);
			qb_log_fini();
			return 1;
		}
	}
	if (ckpt_region_open_sparse(region, &r, &s, msg, sizeof(msg))) {
		fprintf(stderr, "orthrosctl: %s\n", msg);
		qb_log_fini();
		return 1;
	}
	memset(&g, 0, sizeof(g));
	g.poll_ms = poll_ms;
	g.criu.swrk.pid = -1;
	g.criu.swrk.sk = -1;
	g.criu.daemon = -1;
	g.ahead_max = ahead_max;
	rc = ckpt_standby_init(&g.sb, &s, group, workdir, &ckpt_standby_criu, &g.criu);
	g.sb.ahead = ahead_max != 0;
	g.sb.ahead_budget = ahead_budget;
	g.sb.group_here = group_here;
	g.loop = rc ? NULL : qb_loop_create();
	if (!g.loop) {
		fprintf(stderr, "orthrosctl: out of memory\n");
		rc = 1;
		goto out;
	}
	if ((rc = ipc_start(group, region))) {
		fprintf(stderr, "orthrosctl: cannot serve %s: %s\n", name, strerror(-rc));
		rc = 1;
		goto out;
	}
	qb_loop_signal_add(g.loop, QB_LOOP_HIGH, SIGTERM, NULL, on_signal, NULL);
	qb_loop_signal_add(g.loop, QB_LOOP_HIGH, SIGINT, NULL, on_signal, NULL);
	/* The criu swrk answers on a socket: a dead one must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	qb_log(LOG_NOTICE, "group %s: standby for a lazy restore, store %s, looking every %u ms; asked as %s",
	       group, region, poll_ms, name);
	look();
	qb_loop_timer_add(g.loop, QB_LOOP_LOW, (uint64_t)poll_ms * 1000000ull, &t, on_tick, &t);
	qb_loop_run(g.loop);
	rc = g.exit_code;
out:
	if (g.ipcs)
		qb_ipcs_destroy(g.ipcs);
	ckpt_standby_fini(&g.sb);
	ckpt_swrk_stop(&g.criu.swrk);
	if (g.loop)
		qb_loop_destroy(g.loop);
	ckpt_region_unmap(&r);
	qb_log_fini();
	return rc;
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t mono_now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

/*
 * When this process started, on CLOCK_MONOTONIC: /proc's start time is
 * in ticks since boot (CLOCK_BOOTTIME's origin); 0 when it cannot say.
 */
static uint64_t process_start_ns(void)
{
	char buf[1024], *p;
	unsigned long long ticks = 0;
	long hz = sysconf(_SC_CLK_TCK);
	uint64_t boot, mono, start;
	FILE *f = fopen("/proc/self/stat", "re");
	size_t n;

	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* after the command name's closing parenthesis, field 22 is 20 further on */
	p = strrchr(buf, ')');
	for (int field = 2; p && field < 22; field++)
		p = strchr(p + 1, ' ');
	if (!p || hz <= 0 || sscanf(p + 1, "%llu", &ticks) != 1)
		return 0;
	boot = clock_ns(CLOCK_BOOTTIME);
	mono = mono_now_ns();
	start = (uint64_t)ticks * (1000000000u / (uint64_t)hz);
	if (start > boot || boot - start > mono)
		return 0;
	return mono - (boot - start);
}

int ctl_standby_ask(const char *region, const char *group, pid_t *pid, uint64_t *seq)
{
	struct standby_req req = { .hdr = { .id = STANDBY_REQ_RESTORE, .size = sizeof(req) } };
	struct standby_res *res;
	qb_ipcc_connection_t *c;
	char name[128];
	ssize_t n;
	int rc;

	req.connect_ns = mono_now_ns();
	ipc_name(name, sizeof(name), group, region);
	c = qb_ipcc_connect(name, sizeof(*res) + 256);
	if (!c)
		return -ENOENT;
	res = calloc(1, sizeof(*res));
	if (!res) {
		qb_ipcc_disconnect(c);
		return 1;
	}
	snprintf(req.group, sizeof(req.group), "%s", group);
	req.started_ns = process_start_ns();
	req.main_ns = ctl_main_ns;
	req.sent_ns = mono_now_ns();
	n = qb_ipcc_send(c, &req, sizeof(req));
	if (n == (ssize_t)sizeof(req))
		n = qb_ipcc_recv(c, res, sizeof(*res), REPLY_TIMEOUT_MS);
	qb_ipcc_disconnect(c);
	if (n != (ssize_t)sizeof(*res)) {
		fprintf(stderr, "orthrosctl: the standby of group %s gave no answer: %s\n", group,
			strerror(n < 0 ? (int)-n : EPROTO));
		free(res);
		return 1;
	}
	res->out[sizeof(res->out) - 1] = '\0';
	res->err[sizeof(res->err) - 1] = '\0';
	fputs(res->err, stderr);
	fputs(res->out, stdout);
	rc = res->hdr.error;
	if (!rc) {
		*pid = res->pid;
		*seq = res->seq;
	}
	free(res);
	return rc;
}
