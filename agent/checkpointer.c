// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Checkpointing one protected group: CRIU dumps the tree, leaving it
 * running, into a directory on tmpfs; the directory becomes a set in the
 * store.
 *
 * Incremental (checkpoint.incremental): a pre-dump first copies the pages
 * while the tree runs (soft-dirty tracking, track_mem), then the dump, on
 * the pre-dump as its parent, only has to copy what changed in between
 * while the tree is frozen.  A new chain starts that way too (a pre-dump of
 * all memory, no parent), so no checkpoint freezes the tree for a copy of
 * all its memory; an increment's pre-dump has the previous dump as its
 * parent and copies what changed since.  When the group dirtied few pages
 * over the last interval (CRIU's stats say how many), an increment is one
 * dump straight on the previous dump: one freeze instead of two, each
 * costing CRIU's fixed seize-and-parasite time, unless copying those pages
 * frozen would take the freeze past checkpoint.max_freeze while CRIU's fixed
 * part alone would not.  Both sets of a step go into the
 * store, the pre-dump marked partial (never a restore point by itself),
 * so the store holds the chain CRIU wrote and, until the new dump is
 * committed, the group's previous dump stays its newest restore point and
 * the reclaim rule keeps that chain: a crash mid-checkpoint never leaves
 * the group without one.  The region must therefore hold the chain in use
 * and the next step beside it: an increment is taken only while a new
 * chain (two sets) still fits after it; a new chain starts with a
 * pre-dump while two slots are free beside the old one, else (or without
 * incremental) with a plain full dump, which freezes the tree for the
 * whole copy.  After any failure the next checkpoint starts a new chain.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "checkpointer.h"
#include "ckpt-watchdog.h"

#define NS_PER_US 1000ull
#define NS_PER_S 1000000000ull

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

__attribute__((format(printf, 3, 4)))
static int fail(struct ckpt_result *res, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(res->msg, sizeof(res->msg), fmt, ap);
	va_end(ap);
	return err;
}

int ckpt_mkdirs(const char *path)
{
	char p[512];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(p))
		return -ENAMETOOLONG;
	memcpy(p, path, len + 1);
	for (char *q = p + 1; *q; q++) {
		if (*q != '/')
			continue;
		*q = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST)
			return -errno;
		*q = '/';
	}
	if (mkdir(p, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int checkpointer_init(struct checkpointer *c, struct ckpt_store *s, const char *group,
		      const char *workdir, const struct ckpt_policy *pol,
		      const struct ckpt_criu_ops *ops, void *ops_ctx)
{
	memset(c, 0, sizeof(*c));
	if (!ckpt_group_valid(group) || strlen(workdir) >= sizeof(c->workdir) - 16)
		return -EINVAL;
	int rc = ckpt_mkdirs(workdir);

	if (rc)
		return rc;
	c->ops = ops;
	c->ops_ctx = ops_ctx;
	c->store = s;
	snprintf(c->group, sizeof(c->group), "%s", group);
	snprintf(c->workdir, sizeof(c->workdir), "%s", workdir);
	c->pol = *pol;
	c->clock = mono_ns;
	c->next_dir = 1;
	c->lock_fd = -1;
	return 0;
}

bool checkpointer_due(const struct checkpointer *c, uint64_t now_ns)
{
	return now_ns >= c->next_ns;
}

/*
 * Would copying the dirty pages frozen take a direct increment's freeze
 * over max_freeze, when the dump's fixed part alone stays under it?  Then
 * a pre-dump first keeps each freeze under the cap.  When the fixed part
 * is over the cap already, no shape meets it and one freeze beats two.
 */
static bool direct_over_cap(const struct checkpointer *c)
{
	uint64_t cap = c->pol.max_freeze_ns, fixed = c->fixed_freeze_ns;

	return cap && fixed && fixed < cap &&
	       fixed + c->dirty_pages * CKPT_FROZEN_NS_PER_PAGE > cap;
}

/* Would the next increment be one dump on the previous one? */
static bool next_direct(const struct checkpointer *c)
{
	return c->dirty_known && c->dirty_pages <= CKPT_DIRECT_MAX_PAGES && !direct_over_cap(c);
}

bool checkpointer_next_incremental(const struct checkpointer *c)
{
	unsigned int sets = next_direct(c) ? 1 : 2;

	return c->pol.incremental && c->nchain > 0 && c->failures == 0 &&
	       c->nchain + sets + 2 <= c->store->nr_slots;
}

/* Would the next full checkpoint copy memory before the freeze? */
static bool next_full_predumps(const struct checkpointer *c)
{
	return c->pol.incremental && c->nchain + 2 <= c->store->nr_slots;
}

/* A flat image directory (files and CRIU's "parent" link), and its log. */
static void remove_dir(const struct checkpointer *c, unsigned int n, bool keep_log)
{
	char path[sizeof(c->workdir) + 32];
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%u", c->workdir, n);
	d = opendir(path);
	if (d) {
		while ((e = readdir(d)))
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
				unlinkat(dirfd(d), e->d_name, 0);
		closedir(d);
		rmdir(path);
	}
	if (!keep_log) {
		snprintf(path, sizeof(path), "%s/%u.log", c->workdir, n);
		unlink(path);
	}
}

/* A fresh image directory: its number, and its fd in *fd. */
static int new_dir(struct checkpointer *c, int *fd, struct ckpt_result *res)
{
	char path[sizeof(c->workdir) + 32];
	unsigned int n = c->next_dir++;

	remove_dir(c, n, false);	/* left by an earlier run of the daemon */
	snprintf(path, sizeof(path), "%s/%u", c->workdir, n);
	if (mkdir(path, 0700) < 0 || (*fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return fail(res, -errno, "%s: %s", path, strerror(errno));
	return (int)n;
}

struct step {
	unsigned int dir;
	int fd;
	uint64_t freeze_ns;
	bool from_stats;
	uint64_t pages_written;
};

struct frozen_copy {
	struct checkpointer *c;
	int fd;				/* the dump's images directory */
	bool called;
	int rc;
	struct ckpt_data_stats st;
	struct ckpt_data_ahead ahead;
	char msg[256];
};

static int copy_data(void *arg)
{
	struct frozen_copy *f = arg;

	f->called = true;
	/* A set larger than a slot could not be stored anyway. */
	f->rc = ckpt_data_save(f->fd, &f->c->data, f->c->store->slot_size, &f->ahead, &f->st, f->msg,
			       sizeof(f->msg));
	f->st.ahead_ns = f->ahead.ns;
	return f->rc ? 1 : 0;
}

/* One CRIU call into a new directory; its freeze measured. */
static int criu_step(struct checkpointer *c, pid_t pid, bool pre, const unsigned int *parent,
		     int work_fd, struct step *st, struct ckpt_result *res)
{
	char parent_rel[32], log[32];
	/*
	 * Tracking resets the tree's soft-dirty bits, which only the next
	 * increment may rely on: a plain dump (by hand, or without
	 * incremental) leaves them alone, so it cannot hide pages from the
	 * increment of a checkpointer that does track them.
	 */
	struct ckpt_criu_req req = {
		.pid = pid, .work_fd = work_fd, .leave_running = pre || !c->stop_tree,
		.track_mem = c->pol.incremental, .pre_dump_read = pre,
	};
	struct frozen_copy fc = { .c = c };
	struct ckpt_dump_stats ds;
	unsigned int killed;
	pid_t criu_pid = 0;
	uint64_t t0;
	int n, rc;

	n = new_dir(c, &st->fd, res);
	if (n < 0)
		return n;
	st->dir = (unsigned int)n;
	snprintf(log, sizeof(log), "%u.log", st->dir);
	req.images_fd = st->fd;
	req.log_file = log;
	if (parent) {
		/* CRIU takes the parent relative to the new images directory. */
		snprintf(parent_rel, sizeof(parent_rel), "../%u", *parent);
		req.parent = parent_rel;
	}
	if (!pre && c->data.n) {
		fc.fd = st->fd;
		req.frozen = copy_data;
		req.frozen_arg = &fc;
		/*
		 * Read the files while the group still runs, so that under the
		 * freeze only what changed since is read again.  If this fails
		 * the freeze copies everything, and meets the cause itself.
		 */
		fc.ahead.racy_ns = NS_PER_S;
		if (ckpt_data_copy_ahead(st->fd, &c->data, c->store->slot_size, &fc.ahead, fc.msg,
					 sizeof(fc.msg)))
			ckpt_data_ahead_done(st->fd, &fc.ahead);
		fc.msg[0] = '\0';
	}
	unlinkat(work_fd, "stats-dump", 0);	/* an earlier step's */
	t0 = c->clock();
	if (c->watchdog)
		ckpt_watchdog_arm(c->watchdog);
	rc = pre ? c->ops->pre_dump(c->ops_ctx, &req) : c->ops->dump(c->ops_ctx, &req);
	killed = c->watchdog ? ckpt_watchdog_disarm(c->watchdog, &criu_pid) : 0;
	res->dump_ns += c->clock() - t0;
	/* Before the set is stored: only the save's files may be in it. */
	if (req.frozen)
		ckpt_data_ahead_done(st->fd, &fc.ahead);
	if (killed) {
		res->criu_killed = true;
		return fail(res, -ETIMEDOUT,
			    "criu %s of pid %d did not end within checkpoint.criu_timeout (%g s): killed it (pid %d), which let the group run on (a task CRIU was inside may have died instead); see %s/%s",
			    pre ? "pre-dump" : "dump", (int)pid, (double)c->watchdog->timeout_ns / NS_PER_S,
			    (int)criu_pid, c->workdir, log);
	}
	if (req.frozen && fc.rc)
		return fail(res, fc.rc, "the group's data paths, while it was frozen: %s (the dump is void, the tree ran on)",
			    fc.msg);
	if (rc)
		return fail(res, rc < 0 ? rc : -EIO, "criu %s of pid %d failed (%d); see %s/%s",
			    pre ? "pre-dump" : "dump", (int)pid, rc, c->workdir, log);
	/* Never a set whose memory has no files beside it. */
	if (req.frozen && !fc.called)
		return fail(res, -EPROTO, "criu dumped pid %d without its post-dump notification: the data paths were not taken",
			    (int)pid);
	if (req.frozen)
		res->data = fc.st;
	/* CRIU writes stats-dump in its work directory, not the images'. */
	if (!ckpt_read_dump_stats(work_fd, &ds) || !ckpt_read_dump_stats(st->fd, &ds)) {
		st->freeze_ns = ((uint64_t)ds.freezing_us + ds.frozen_us) * NS_PER_US;
		st->from_stats = true;
		st->pages_written = ds.pages_written;
	} else {
		/* An upper bound: the whole call, tree frozen or not. */
		st->freeze_ns = c->clock() - t0;
		st->from_stats = false;
	}
	return 0;
}

static int pack(struct checkpointer *c, const struct step *st, uint64_t parent_seq,
		uint32_t flags, uint64_t *seq, struct ckpt_result *res)
{
	char path[sizeof(c->workdir) + 32];
	uint64_t t0 = c->clock();
	int rc;

	snprintf(path, sizeof(path), "%s/%u", c->workdir, st->dir);
	rc = ckpt_pack_dir(c->store, c->group, parent_seq, flags, path, real_ns(), seq);
	res->pack_ns += c->clock() - t0;
	if (rc)
		return fail(res, rc, "storing %s: %s", path, ckpt_error(c->store));
	return 0;
}

static uint64_t payload_of(struct ckpt_store *s, uint64_t seq)
{
	struct ckpt_info info[CKPT_MAX_SLOTS];
	int n = ckpt_list(s, info);

	for (int i = 0; i < n; i++)
		if (info[i].header_valid && info[i].seq == seq)
			return info[i].payload_len;
	return 0;
}

/* The chain on tmpfs is of no further use: start afresh at the next run. */
static void drop_chain(struct checkpointer *c)
{
	for (unsigned int i = 0; i < c->nchain; i++)
		remove_dir(c, c->dir[i], false);
	c->nchain = 0;
}

static int run_unlocked(struct checkpointer *c, pid_t pid, struct ckpt_result *res);

/*
 * A CRIU killed at its deadline held the group frozen that long: one that
 * hangs again would do it at every interval.  The next attempt waits
 * twice the deadline, then 4, 8... times (up to an hour), so the group
 * runs at least two thirds of the time while CRIU keeps hanging.
 */
#define CKPT_RETRY_MAX_NS (3600ull * NS_PER_S)

static void back_off(struct checkpointer *c, struct ckpt_result *res)
{
	uint64_t wait = c->watchdog->timeout_ns;

	if (c->killed < 16)
		c->killed++;
	for (unsigned int i = 0; i < c->killed && wait < CKPT_RETRY_MAX_NS; i++)
		wait *= 2;
	if (wait > CKPT_RETRY_MAX_NS)
		wait = CKPT_RETRY_MAX_NS;
	if (wait > c->pol.interval_ns)
		c->next_ns = c->clock() + wait;
	res->retry_ns = c->next_ns > c->clock() ? c->next_ns - c->clock() : 0;
}

/* When @pid started (clock ticks after boot, /proc/PID/stat), 0 if unknown. */
static uint64_t start_time(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long t = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* comm may hold blanks and parentheses: count fields after the last ')' */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
			 &t) != 1)
		return 0;
	return t;
}

/*
 * Can the next increment build on the chain?  Only if the chain's newest
 * set is still the group's newest in the store.  Another checkpointer of
 * the same tree (an operator's `orthrosctl ckpt dump --final` that failed
 * and left the tree running, a second orthrosd) ran CRIU with tracking on
 * and so reset the soft-dirty bits: an increment on our chain would miss
 * every page dirtied before that run, a set that restores without error
 * and inconsistent.  Says why in @note when it cannot.
 */
static bool chain_current(struct checkpointer *c, char *note, size_t len)
{
	struct ckpt_info info[CKPT_MAX_SLOTS];
	uint64_t last = c->seq[c->nchain - 1], newer = 0;
	bool found = false;
	/* Headers only: this runs before every increment. */
	int n = ckpt_list_headers(c->store, info);

	for (int i = 0; i < n; i++) {
		if (!info[i].header_valid || strcmp(info[i].group, c->group))
			continue;
		/* A set whose chain is broken is no parent either. */
		found |= info[i].seq == last && info[i].status == CKPT_OK;
		if (info[i].seq > newer)
			newer = info[i].seq;
	}
	if (newer > last) {
		snprintf(note, len,
			 "set %" PRIu64 " was written by another checkpointer since this chain's set %" PRIu64
			 ": its CRIU run may have reset the dirty-page tracking, so a new chain starts",
			 newer, last);
		return false;
	}
	if (!found) {
		snprintf(note, len, "this chain's set %" PRIu64 " is no longer in the store: a new chain starts",
			 last);
		return false;
	}
	return true;
}

int checkpointer_run(struct checkpointer *c, pid_t pid, struct ckpt_result *res)
{
	int rc;

	if (c->lock_fd >= 0) {
		while (flock(c->lock_fd, LOCK_EX) < 0)
			if (errno != EINTR) {
				memset(res, 0, sizeof(*res));
				return fail(res, -errno, "locking the store: %s", strerror(errno));
			}
	}
	rc = run_unlocked(c, pid, res);
	if (c->lock_fd >= 0)
		flock(c->lock_fd, LOCK_UN);
	return rc;
}

static int run_unlocked(struct checkpointer *c, pid_t pid, struct ckpt_result *res)
{
	struct step pre = { .fd = -1 }, dump = { .fd = -1 };
	bool incremental, direct, predump, pre_done = false;
	uint64_t start = c->clock(), pseq = 0, seq = 0, born;
	int work_fd, rc;

	memset(res, 0, sizeof(*res));
	born = start_time(pid);
	if (c->nchain && (pid != c->chain_pid || born != c->chain_born)) {
		/*
		 * Another tree (the group restarted, or restored, since): the
		 * chain holds its predecessor's memory, and the soft-dirty bits
		 * say nothing about what differs from it.
		 */
		snprintf(res->note, sizeof(res->note),
			 "the group's leader is another process than the chain's (pid %d, was %d): a new chain starts",
			 (int)pid, (int)c->chain_pid);
		drop_chain(c);
		c->dirty_known = false;
		c->fixed_freeze_ns = 0;
	} else if (c->nchain && c->pol.incremental && !chain_current(c, res->note, sizeof(res->note))) {
		drop_chain(c);
		c->dirty_known = false;
	}
	incremental = checkpointer_next_incremental(c);
	direct = incremental && next_direct(c);
	if (incremental && !direct && c->dirty_known && c->dirty_pages <= CKPT_DIRECT_MAX_PAGES)
		res->capped_dirty_pages = c->dirty_pages;
	predump = incremental ? !direct : next_full_predumps(c);
	res->kind = incremental ? CKPT_INCREMENTAL : CKPT_FULL;
	/* Only the last failure's logs are kept: tmpfs is the partition's RAM. */
	for (int i = 0; i < 2; i++)
		if (c->failed_log[i])
			remove_dir(c, c->failed_log[i], false);
	memset(c->failed_log, 0, sizeof(c->failed_log));
	c->next_ns = start + c->pol.interval_ns;
	if (c->stop_tree) {
		/*
		 * The final dump ends the tree before its images are stored: a
		 * store without room for them would lose the group's state.
		 * Find out now, while the tree still runs.
		 */
		int spare = ckpt_spare_slots(c->store);

		if (spare < 2 && predump) {
			predump = incremental = direct = false;
			res->kind = CKPT_FULL;
		}
		if (spare < 1) {
			c->failures++;
			return fail(res, spare < 0 ? spare : -ENOSPC,
				    "no slot in the store for the final checkpoint (%s); the group keeps running",
				    spare < 0 ? ckpt_error(c->store) : "every slot holds a chain that must be kept");
		}
	}
	work_fd = open(c->workdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (work_fd < 0) {
		c->failures++;
		return fail(res, -errno, "%s: %s", c->workdir, strerror(errno));
	}
	if (predump) {
		rc = criu_step(c, pid, true, incremental ? &c->dir[c->nchain - 1] : NULL, work_fd,
			       &pre, res);
		if (rc)
			goto failed;
		pre_done = true;
		rc = criu_step(c, pid, false, &pre.dir, work_fd, &dump, res);
	} else if (direct) {
		rc = criu_step(c, pid, false, &c->dir[c->nchain - 1], work_fd, &dump, res);
	} else {
		rc = criu_step(c, pid, false, NULL, work_fd, &dump, res);
	}
	if (rc)
		goto failed;

	res->freeze_ns = dump.freeze_ns;
	res->predump_freeze_ns = pre.freeze_ns;
	res->freeze_from_stats = dump.from_stats && (!predump || pre.from_stats);
	res->over_max_freeze = c->pol.max_freeze_ns &&
			       (dump.freeze_ns > c->pol.max_freeze_ns ||
				pre.freeze_ns > c->pol.max_freeze_ns);
	res->pages_written = pre.pages_written + dump.pages_written;

	if (predump) {
		rc = pack(c, &pre, incremental ? c->seq[c->nchain - 1] : 0, CKPT_SET_PARTIAL,
			  &pseq, res);
		if (rc)
			goto failed;
		res->predump_seq = pseq;
		res->parent_seq = pseq;
		res->bytes += payload_of(c->store, pseq);
	}
	if (direct)
		res->parent_seq = c->seq[c->nchain - 1];
	rc = pack(c, &dump, res->parent_seq, 0, &seq, res);
	if (rc)
		goto failed;
	res->seq = seq;
	res->bytes += payload_of(c->store, seq);

	if (!incremental)
		drop_chain(c);
	if (predump) {
		c->dir[c->nchain] = pre.dir;
		c->seq[c->nchain++] = pseq;
	}
	c->dir[c->nchain] = dump.dir;
	c->seq[c->nchain++] = seq;
	c->chain_pid = pid;
	c->chain_born = born;
	c->failures = 0;
	c->killed = 0;
	/*
	 * What the group dirtied over about an interval: since the previous
	 * dump (an increment's pre-dump, a direct dump), or during the
	 * pre-dump of a new chain (seconds under TCG); unknown after a plain
	 * full dump.
	 */
	c->dirty_known = dump.from_stats && (incremental ? !predump || pre.from_stats : predump);
	c->dirty_pages = incremental && predump ? pre.pages_written : dump.pages_written;
	if (dump.from_stats) {
		uint64_t copy = dump.pages_written * CKPT_FROZEN_NS_PER_PAGE;

		c->fixed_freeze_ns = dump.freeze_ns > copy ? dump.freeze_ns - copy : 0;
	} else {
		c->fixed_freeze_ns = 0;
	}
	res->fixed_freeze_ns = c->fixed_freeze_ns;
	if (pre.fd >= 0)
		close(pre.fd);
	close(dump.fd);
	close(work_fd);
	return 0;

failed:
	if (c->stop_tree && pre_done && !pseq) {
		/*
		 * A final dump failed after its pre-dump: the tree runs on, its
		 * soft-dirty bits reset by that pre-dump.  Stored (partial, never
		 * restored), the pre-dump tells any checkpointer with a chain on
		 * this tree that the chain no longer describes it.
		 */
		struct ckpt_result scratch = { 0 };
		size_t len = strlen(res->msg);

		if (!pack(c, &pre, incremental ? c->seq[c->nchain - 1] : 0, CKPT_SET_PARTIAL, &pseq,
			  &scratch))
			snprintf(res->msg + len, sizeof(res->msg) - len,
				 "; its pre-dump is stored as partial set %" PRIu64 " (it reset the tree's dirty-page tracking)",
				 pseq);
	}
	/* What CRIU wrote is of no use; its log is kept for the reason. */
	if (pre.fd >= 0) {
		close(pre.fd);
		remove_dir(c, pre.dir, true);
		c->failed_log[0] = pre.dir;
	}
	if (dump.fd >= 0) {
		close(dump.fd);
		remove_dir(c, dump.dir, true);
		c->failed_log[1] = dump.dir;
	}
	close(work_fd);
	/*
	 * The store may now hold a pre-dump whose dump never arrived: it is
	 * partial, so no restore picks it and the reclaim rule takes its slot
	 * first; the next checkpoint starts a new chain anyway.
	 */
	c->failures++;
	c->dirty_known = false;
	drop_chain(c);
	if (res->criu_killed)
		back_off(c, res);
	return rc;
}

int checkpointer_final(struct checkpointer *c, pid_t pid, struct ckpt_result *res)
{
	int rc;

	c->stop_tree = true;
	rc = checkpointer_run(c, pid, res);
	c->stop_tree = false;
	return rc;
}

void checkpointer_fini(struct checkpointer *c)
{
	drop_chain(c);
}
