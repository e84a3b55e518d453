// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The standby restore: everything of a lazy restore that does not need
 * the ActiveOS to be dead, done while it is alive (docs/protected.md).
 * Under TCG a lazy restore's first answer was ~0.45-0.7 s whatever the
 * size, nearly all of it fixed costs: choosing and mounting the view,
 * starting `criu lazy-pages` until it listens, exec'ing criu for the
 * restore.  Here those are paid when a set is committed, and the restore
 * is one request to a waiting `criu swrk`.
 *
 * Staleness is the whole risk: a preparation is of one chain, and the
 * Active commits a new one every interval.  The store's headers are
 * cheap to read; when they change the choice is made again, and a fire
 * always checks it once more, so a restore never comes from an older
 * chain than the one a plain restore would pick (it pays the preparation
 * then, as a plain lazy restore does).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ckpt-standby.h"
#include "proc-tree.h"

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* FNV-1a over what tells one listing of the store from the next. */
static uint64_t headers_sig(const struct ckpt_info *info, unsigned int n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (unsigned int i = 0; i < n; i++) {
		uint64_t v[5] = { info[i].slot, info[i].seq, info[i].parent_seq, (uint64_t)info[i].status,
				  info[i].header_valid };

		for (unsigned int k = 0; k < 5; k++)
			for (unsigned int b = 0; b < 8; b++) {
				h ^= (v[k] >> (8 * b)) & 0xff;
				h *= 0x100000001b3ull;
			}
	}
	return h;
}

int ckpt_standby_init(struct ckpt_standby *sb, struct ckpt_store *s, const char *group,
		      const char *workdir, const struct ckpt_criu_ops *ops, void *ops_ctx)
{
	memset(sb, 0, sizeof(*sb));
	sb->res = calloc(2, sizeof(*sb->res));
	if (!sb->res)
		return -ENOMEM;
	sb->s = s;
	snprintf(sb->group, sizeof(sb->group), "%s", group);
	snprintf(sb->workdir, sizeof(sb->workdir), "%s", workdir);
	sb->ops = ops;
	sb->ops_ctx = ops_ctx;
	sb->clock = mono_ns;
	sb->req.images_fd = sb->req.work_fd = -1;
	sb->signal_tree = proc_tree_signal;
	return 0;
}

static void abandon(struct ckpt_standby *sb)
{
	if (!sb->ready)
		return;
	/* Killed while stopped: it never ran an instruction here. */
	if (sb->ahead_pid > 0)
		sb->signal_tree(sb->ahead_pid, SIGKILL);
	sb->ahead_pid = 0;
	ckpt_restore_abandon(sb->ops, sb->ops_ctx, sb->res, &sb->req);
	sb->ready = false;
}

static int prepare(struct ckpt_standby *sb)
{
	uint64_t t0 = sb->clock();
	int rc = ckpt_restore_prepare(sb->s, sb->group, sb->workdir, sb->ops, sb->ops_ctx, sb->res, &sb->req);

	sb->prepare_ns = sb->clock() - t0;
	return rc;
}

/*
 * The tree of what was just prepared, restored now and left stopped, when
 * its memory fits the budget: a lazy restore's pages then come in while
 * nothing waits for them, and the request pays only a SIGCONT.  When CRIU
 * cannot (a file of the group not here yet, an address not up), the set
 * is prepared again as before and restored at the request.
 */
static int restore_ahead(struct ckpt_standby *sb)
{
	uint64_t bytes = (sb->res->lazy_pages + sb->res->eager_pages) * 4096ull;
	uint64_t budget, t0;
	char log[400], from[700];
	pid_t pid = 0;
	int rc;

	sb->ahead_msg[0] = '\0';
	if (!sb->ahead)
		return 0;
	if (sb->res->seq == sb->ahead_refused_seq) {
		snprintf(sb->ahead_msg, sizeof(sb->ahead_msg),
			 "set %" PRIu64 " could not be restored ahead before", sb->res->seq);
		return 0;
	}
	/* A second copy, stopped, would hold its ports beside the one serving. */
	if (sb->group_here && sb->group_here(sb->group)) {
		snprintf(sb->ahead_msg, sizeof(sb->ahead_msg),
			 "not restored ahead: group %s already runs in this partition", sb->group);
		return 0;
	}
	budget = sb->ahead_budget ? sb->ahead_budget() : UINT64_MAX;
	if (bytes > budget) {
		snprintf(sb->ahead_msg, sizeof(sb->ahead_msg),
			 "not restored ahead: its %" PRIu64 " KiB exceed the budget of %" PRIu64 " KiB",
			 bytes >> 10, budget >> 10);
		return 0;
	}
	sb->req.leave_stopped = true;
	t0 = sb->clock();
	rc = sb->ops->restore(sb->ops_ctx, &sb->req, &pid);
	sb->ahead_ns = sb->clock() - t0;
	sb->req.leave_stopped = false;
	if (!rc && pid > 0) {
		sb->ahead_pid = pid;
		return 0;
	}
	if (!rc)
		rc = -ESRCH;
	/* Its directory goes with the abandon; CRIU's log stays for the operator. */
	snprintf(log, sizeof(log), "%s/%s.ahead-restore.log", sb->workdir, sb->group);
	snprintf(from, sizeof(from), "%s/restore.log", sb->res->work);
	if (rename(from, log))
		snprintf(log, sizeof(log), "no log: %s", strerror(errno));
	snprintf(sb->ahead_msg, sizeof(sb->ahead_msg),
		 "restoring set %" PRIu64 " ahead failed (%d; %s): prepared for a restore at the request",
		 sb->res->seq, rc, log);
	sb->ahead_refused_seq = sb->res->seq;
	abandon(sb);
	rc = prepare(sb);
	if (!rc)
		sb->ready = true;
	return rc;
}

int ckpt_standby_refresh(struct ckpt_standby *sb, bool *changed)
{
	struct ckpt_restore_result *look = &sb->res[1];
	uint64_t seq = 0, sig;
	int n, rc;

	*changed = false;
	n = ckpt_list_headers(sb->s, look->info);
	if (n < 0) {
		snprintf(sb->msg, sizeof(sb->msg), "%s", ckpt_error(sb->s));
		return n;
	}
	sig = headers_sig(look->info, (unsigned int)n);
	if (sb->ready && sig == sb->headers_sig)
		return 0;
	rc = ckpt_restore_choose(sb->s, sb->group, sb->workdir, look, &seq);
	if (rc) {
		/* What was prepared is no longer what a restore would take. */
		abandon(sb);
		sb->headers_sig = sig;
		snprintf(sb->msg, sizeof(sb->msg), "%s",
			 rc == -ENOENT ? "no restorable checkpoint" : look->msg);
		return rc;
	}
	if (sb->ready && seq == sb->res->seq) {
		sb->headers_sig = sig;
		return 0;
	}
	abandon(sb);
	rc = prepare(sb);
	if (!rc) {
		sb->ready = true;
		rc = restore_ahead(sb);
	}
	/*
	 * Failed: tried again when the store changes (or at the fire), not at
	 * every look: the BackupOS has one core.
	 */
	sb->headers_sig = sig;
	if (rc) {
		sb->ready = false;
		snprintf(sb->msg, sizeof(sb->msg), "%s", sb->res->msg);
		return rc;
	}
	sb->ready = true;
	sb->prepared_at_ns = sb->clock();
	sb->prepares++;
	*changed = true;
	return 0;
}

int ckpt_standby_fire(struct ckpt_standby *sb, struct ckpt_restore_result **res, bool *stale, bool *resumed)
{
	int rc;

	*res = sb->res;
	*resumed = false;
	/* A failed preparation is tried once more now, the store changed or not. */
	if (!sb->ready)
		sb->headers_sig = 0;
	rc = ckpt_standby_refresh(sb, stale);
	if (rc)
		return rc;
	if (sb->ahead_pid > 0) {
		pid_t pid = sb->ahead_pid;

		sb->ahead_pid = 0;
		if (!sb->signal_tree(pid, SIGCONT)) {
			sb->resumed_at_ns = sb->clock();
			sb->ready = false;
			sb->res->pid = pid;
			sb->res->restore_ns = sb->ahead_ns;
			*resumed = true;
			return ckpt_restore_finish(sb->ops, sb->ops_ctx, sb->res, &sb->req);
		}
		/* Gone while it waited (killed, out of memory): restored now. */
		snprintf(sb->ahead_msg, sizeof(sb->ahead_msg),
			 "the tree restored ahead (pid %d) was gone at the request: restored again", (int)pid);
		sb->ahead_refused_seq = sb->res->seq;
		abandon(sb);
		rc = prepare(sb);
		if (rc)
			return rc;
		*stale = true;
	}
	sb->ready = false;
	return ckpt_restore_run(sb->s, sb->group, sb->workdir, sb->ops, sb->ops_ctx, NULL, NULL, sb->res, &sb->req);
}

void ckpt_standby_fini(struct ckpt_standby *sb)
{
	abandon(sb);
	free(sb->res);
	sb->res = NULL;
}
