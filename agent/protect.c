// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Protected groups in orthrosd: the store, a checkpointer per group, and
 * the worker thread that runs them (protect.h says why a thread).
 *
 * Ownership is simple: while a round runs, the worker alone touches the
 * checkpointers and the store; the loop only starts a round when none is in
 * flight and reads the results after joining the thread.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <qb/qblog.h>

#include "checkpointer.h"
#include "ckpt-region.h"
#include "ckpt-watchdog.h"
#include "conf.h"
#include "proc-cgroup.h"
#include "protect.h"

enum group_outcome { G_IDLE, G_DONE, G_FAILED, G_NOT_RUNNING };

struct group {
	struct checkpointer c;
	char pidfile[512];
	char cgroup[CONF_STR_LEN];	/* configured, relative to the hierarchy */
	pid_t cgroup_seen;		/* the leader whose cgroup was looked at */
	unsigned int mounts_told;	/* file systems below its data paths, last said */
	bool due;			/* in the current round */
	enum group_outcome outcome;
	pid_t pid;
	int rc;
	struct ckpt_result res;
};

struct protect {
	struct ckpt_region region;
	struct ckpt_store store;
	unsigned int n;
	struct group g[CONF_MAX_GROUPS];
	int efd;
	pthread_t worker;
	bool busy;
	struct ckpt_watchdog watchdog;	/* one CRIU call at a time: the worker's or the final's */
};

/* The group leader's pid, if it is running. */
static pid_t leader(const char *pidfile)
{
	char buf[32];
	FILE *f = fopen(pidfile, "re");
	long pid = 0;

	if (!f)
		return 0;
	if (fgets(buf, sizeof(buf), f))
		pid = strtol(buf, NULL, 10);
	fclose(f);
	if (pid <= 0 || pid > INT32_MAX || kill((pid_t)pid, 0) < 0)
		return 0;
	return (pid_t)pid;
}

static void run_group(struct group *g, bool final)
{
	g->pid = leader(g->pidfile);
	if (!g->pid) {
		g->outcome = G_NOT_RUNNING;
		/* Try again one interval later, not at every tick. */
		g->c.next_ns = g->c.clock() + g->c.pol.interval_ns;
		return;
	}
	g->rc = final ? checkpointer_final(&g->c, g->pid, &g->res) :
			checkpointer_run(&g->c, g->pid, &g->res);
	g->outcome = g->rc ? G_FAILED : G_DONE;
}

/*
 * Periodic rounds are background work and the service they protect comes
 * first: on a one-vCPU partition under TCG a round of CRIU and the copy
 * into the store took 40 % of the service's throughput at nice 0
 * (bench/protected.sh).  The nice value is per thread on Linux, and the
 * `criu swrk` libcriu forks from here inherits it.  During the freeze the
 * group is stopped anyway; the planned stop's final checkpoint runs in
 * the main thread at full priority.
 */
#define ROUND_NICE 10

static void *worker(void *arg)
{
	struct protect *p = arg;
	uint64_t one = 1;

	if (setpriority(PRIO_PROCESS, (id_t)gettid(), ROUND_NICE)) {
		/* not fatal: the round runs at the daemon's priority */
	}
	for (unsigned int i = 0; i < p->n; i++)
		if (p->g[i].due)
			run_group(&p->g[i], false);
	if (write(p->efd, &one, sizeof(one)) != sizeof(one)) {
		/* cannot happen: the counter is read after every round */
	}
	return NULL;
}

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

/*
 * Once per leader: is the group where its configuration says?  A
 * checkpoint records the cgroup the tree runs in and every restore puts it
 * back there, so a group started elsewhere stays elsewhere on every
 * partition after (limits and stop's cleanup then miss it).
 */
static void check_cgroup(struct group *g)
{
	char cg[CONF_STR_LEN];
	int rc;

	if (!g->pid || g->pid == g->cgroup_seen)
		return;
	g->cgroup_seen = g->pid;
	rc = proc_cgroup(g->pid, cg, sizeof(cg));
	if (rc)
		qb_log(LOG_WARNING, "group %s: cannot tell the cgroup of its leader (pid %d): %s",
		       g->c.group, (int)g->pid, strerror(-rc));
	else if (!proc_cgroup_is(cg, g->cgroup))
		qb_log(LOG_WARNING,
		       "group %s: its leader (pid %d) runs in cgroup %s, not in the configured %s: its checkpoints restore it there (ocf:orthros:protected's cgroup parameter)",
		       g->c.group, (int)g->pid, cg, g->cgroup);
	else
		qb_log(LOG_INFO, "group %s: leader pid %d, in cgroup %s", g->c.group, (int)g->pid, cg);
}

static void report(struct protect *p, struct group *g)
{
	const struct ckpt_result *r = &g->res;

	(void)p;
	if (g->outcome == G_DONE || g->outcome == G_FAILED)
		check_cgroup(g);
	switch (g->outcome) {
	case G_IDLE:
		return;
	case G_NOT_RUNNING:
		qb_log(LOG_DEBUG, "group %s: no leader in %s, nothing to checkpoint",
		       g->c.group, g->pidfile);
		break;
	case G_FAILED:
		if (r->criu_killed)
			qb_log(LOG_ERR, "group %s: checkpoint of pid %d failed: %s; the next attempt in %.0f s",
			       g->c.group, (int)g->pid, r->msg, (double)r->retry_ns / 1e9);
		else
			qb_log(LOG_ERR, "group %s: checkpoint of pid %d failed: %s", g->c.group,
			       (int)g->pid, r->msg);
		break;
	case G_DONE:
		if (r->note[0])
			qb_log(LOG_NOTICE, "group %s: %s", g->c.group, r->note);
		qb_log(LOG_INFO,
		       "group %s: checkpoint set %" PRIu64 " (%s, parent %" PRIu64 "), freeze %.1f ms (%s), dump %.1f ms, store %.1f ms, %" PRIu64 " bytes",
		       g->c.group, r->seq, r->kind == CKPT_FULL ? "full" : "incremental",
		       r->parent_seq, ms(r->freeze_ns),
		       r->freeze_from_stats ? "criu stats" : "dump call",
		       ms(r->dump_ns), ms(r->pack_ns), r->bytes);
		/* Said when it changes, not at every checkpoint. */
		if (r->data.mounts != g->mounts_told) {
			g->mounts_told = r->data.mounts;
			if (r->data.mounts)
				qb_log(LOG_NOTICE, "group %s: %u file systems mounted below its data paths are not taken (one file system per path: name them as data paths of their own)",
				       g->c.group, r->data.mounts);
		}
		if (g->c.data.n)
			qb_log(LOG_INFO, "group %s: data paths taken while frozen: %u files, %" PRIu64 " bytes, %u directories in %.1f ms; %u of the files (%" PRIu64 " bytes) unchanged since the copy made ahead in %.1f ms",
			       g->c.group, r->data.files, r->data.bytes, r->data.dirs, ms(r->data.ns),
			       r->data.ahead, r->data.ahead_bytes, ms(r->data.ahead_ns));
		if (r->predump_seq)
			qb_log(LOG_INFO, "group %s: pre-dump set %" PRIu64 ", freeze %.1f ms",
			       g->c.group, r->predump_seq, ms(r->predump_freeze_ns));
		if (r->capped_dirty_pages)
			qb_log(LOG_INFO,
			       "group %s: pre-dumped first: copying the %" PRIu64 " pages dirtied frozen would have exceeded checkpoint.max_freeze",
			       g->c.group, r->capped_dirty_pages);
		if (r->over_max_freeze && r->fixed_freeze_ns >= g->c.pol.max_freeze_ns)
			qb_log(LOG_WARNING,
			       "group %s: the freeze (%.1f ms, pre-dump %.1f ms) exceeded checkpoint.max_freeze %.1f ms; CRIU's freeze of this group without copying pages is about %.1f ms, so no checkpoint of it can meet max_freeze here",
			       g->c.group, ms(r->freeze_ns), ms(r->predump_freeze_ns),
			       ms(g->c.pol.max_freeze_ns), ms(r->fixed_freeze_ns));
		else if (r->over_max_freeze)
			qb_log(LOG_WARNING,
			       "group %s: the freeze (%.1f ms, pre-dump %.1f ms) exceeded checkpoint.max_freeze %.1f ms",
			       g->c.group, ms(r->freeze_ns), ms(r->predump_freeze_ns),
			       ms(g->c.pol.max_freeze_ns));
		break;
	}
	g->outcome = G_IDLE;
}

static bool zeroed(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

static int open_store(struct protect *p, const struct orthros_conf *conf, const char *path)
{
	char msg[512];
	uint64_t id;
	int rc;

	rc = ckpt_region_open_store(path, true, &p->region, &p->store, msg, sizeof(msg));
	if (rc != -EBADMSG) {
		if (rc)
			qb_log(LOG_ERR, "checkpoint store: %s", msg);
		return rc;
	}
	/*
	 * Only a region that was never written is formatted here; anything
	 * else may be another partition's checkpoints, damaged or not, and
	 * is left to the operator (orthrosctl ckpt list / format).
	 */
	rc = ckpt_region_map(path, true, false, 0, &p->region, msg, sizeof(msg));
	if (rc) {
		qb_log(LOG_ERR, "checkpoint store: %s", msg);
		return rc;
	}
	if (!zeroed(p->region.base, 4096 < p->region.size ? 4096 : (size_t)p->region.size)) {
		qb_log(LOG_ERR, "checkpoint store %s is not a valid store and not empty; not touching it",
		       p->region.path);
		ckpt_region_unmap(&p->region);
		return -EBADMSG;
	}
	if (getrandom(&id, sizeof(id), 0) != sizeof(id))
		id = (uint64_t)getpid() ^ ((uint64_t)time(NULL) << 20);
	memset(&p->store, 0, sizeof(p->store));
	p->store.sync = ckpt_region_sync(&p->region);
	rc = ckpt_format(&p->store, p->region.base, p->region.size, conf->checkpoint.keep, id);
	if (rc) {
		qb_log(LOG_ERR, "checkpoint store %s: %s", p->region.path, ckpt_error(&p->store));
		ckpt_region_unmap(&p->region);
		return rc;
	}
	qb_log(LOG_NOTICE, "checkpoint store %s formatted: %u slots of %" PRIu64 " bytes",
	       p->region.path, p->store.nr_slots, p->store.slot_size);
	return 0;
}

int protect_open(const struct orthros_conf *conf, const struct protect_opts *o,
		 struct protect **out)
{
	struct ckpt_policy pol = {
		.interval_ns = conf->checkpoint.interval_us * 1000ull,
		.incremental = conf->checkpoint.incremental,
		.max_freeze_ns = conf->checkpoint.max_freeze_us * 1000ull,
	};
	struct protect *p = calloc(1, sizeof(*p));
	int rc;

	if (!p)
		return -ENOMEM;
	p->efd = -1;
	p->region.fd = -1;
	rc = open_store(p, conf, o->region);
	if (rc)
		goto err;
	/*
	 * Only this daemon writes while it is the Active: verify each set
	 * once, not the whole store at every checkpoint (under TCG a 49 KB
	 * increment took 13 s to store beside two 512 MB dumps).
	 */
	rc = ckpt_cache_verified(&p->store);
	if (rc)
		goto err;
	p->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (p->efd < 0) {
		rc = -errno;
		goto err;
	}
	rc = ckpt_watchdog_start(&p->watchdog, conf->checkpoint.criu_timeout_us * 1000ull);
	if (rc) {
		qb_log(LOG_ERR, "cannot start the watchdog on CRIU calls: %s", strerror(-rc));
		goto err;
	}
	for (size_t i = 0; i < conf->ngroups; i++) {
		struct group *g = &p->g[p->n];
		char dir[512];

		snprintf(dir, sizeof(dir), "%s/%s", o->workdir, conf->groups[i].name);
		rc = checkpointer_init(&g->c, &p->store, conf->groups[i].name, dir, &pol,
				       &ckpt_criu_libcriu, NULL);
		if (rc) {
			qb_log(LOG_ERR, "group %s: %s: %s", conf->groups[i].name, dir, strerror(-rc));
			goto err;
		}
		g->c.lock_fd = p->region.fd;
		g->c.watchdog = &p->watchdog;
		snprintf(g->pidfile, sizeof(g->pidfile), "%s/%s.pid", o->pid_dir, conf->groups[i].name);
		snprintf(g->cgroup, sizeof(g->cgroup), "%s", conf->groups[i].cgroup);
		for (size_t j = 0; j < conf->groups[i].npaths; j++) {
			rc = ckpt_data_add_path(&g->c.data, conf->groups[i].data_paths[j]);
			if (rc) {
				qb_log(LOG_ERR, "group %s: data path %s: not an absolute, normalised path",
				       g->c.group, conf->groups[i].data_paths[j]);
				goto err;
			}
		}
		p->n++;
		qb_log(LOG_INFO, "group %s: checkpoints every %.0f ms%s, max freeze %.0f ms, CRIU killed after %.0f s, leader from %s",
		       g->c.group, ms(pol.interval_ns), pol.incremental ? " (incremental)" : "",
		       ms(pol.max_freeze_ns), (double)conf->checkpoint.criu_timeout_us / 1e6, g->pidfile);
	}
	*out = p;
	return 0;
err:
	protect_close(p);
	return rc;
}

int protect_fd(const struct protect *p)
{
	return p->efd;
}

bool protect_busy(const struct protect *p)
{
	return p->busy;
}

void protect_tick(struct protect *p, uint64_t now_ns)
{
	bool any = false;
	int rc;

	if (p->busy)
		return;
	for (unsigned int i = 0; i < p->n; i++) {
		p->g[i].due = checkpointer_due(&p->g[i].c, now_ns);
		any |= p->g[i].due;
	}
	if (!any)
		return;
	rc = pthread_create(&p->worker, NULL, worker, p);
	if (rc) {
		qb_log(LOG_ERR, "cannot start the checkpoint worker: %s", strerror(rc));
		return;
	}
	p->busy = true;
}

void protect_collect(struct protect *p)
{
	uint64_t v;

	if (read(p->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		qb_log(LOG_WARNING, "checkpoint worker fd: %s", strerror(errno));
	if (!p->busy)
		return;
	pthread_join(p->worker, NULL);
	p->busy = false;
	for (unsigned int i = 0; i < p->n; i++)
		report(p, &p->g[i]);
}

void protect_final(struct protect *p)
{
	if (p->busy)
		protect_collect(p);
	qb_log(LOG_NOTICE, "planned stop: a final checkpoint of every protected group, which then stops");
	for (unsigned int i = 0; i < p->n; i++) {
		run_group(&p->g[i], true);
		report(p, &p->g[i]);
	}
}

void protect_close(struct protect *p)
{
	if (!p)
		return;
	if (p->busy)
		protect_collect(p);
	for (unsigned int i = 0; i < p->n; i++)
		checkpointer_fini(&p->g[i].c);
	ckpt_watchdog_stop(&p->watchdog);
	if (p->efd >= 0)
		close(p->efd);
	ckpt_cache_free(&p->store);
	ckpt_region_unmap(&p->region);
	free(p);
}
