// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The way back: the newest restorable chain of a group out of the store,
 * into a fresh directory on tmpfs, and CRIU restores the tree from it,
 * detached.
 *
 * The store's chain rule already passed over torn, corrupt and orphaned
 * sets, and pre-dumps flagged partial.  A pre-dump stored before sets
 * carried flags (memory only, no task state) can still be the newest when
 * its dump failed or was never committed: it is told by its content and
 * passed over here, down the same chain, to the dump below it, whose chain
 * is complete by construction.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "checkpointer.h"
#include "ckpt-watchdog.h"
#include "proc-tree.h"

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

__attribute__((format(printf, 3, 4)))
static int fail(struct ckpt_restore_result *res, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(res->msg, sizeof(res->msg), fmt, ap);
	va_end(ap);
	return err;
}

int ckpt_set_is_dump(struct ckpt_store *s, const struct ckpt_info *set)
{
	struct ckpt_reader r;
	struct ckpt_file f;
	bool core = false;
	int rc;

	rc = ckpt_read_open(s, set, &r);
	if (rc)
		return rc;
	while ((rc = ckpt_read_file(&r, &f)) == 1)
		if (!strncmp(f.name, "core-", 5))
			core = true;
	/* Every byte checked, so "no core image" is not a torn listing. */
	if (!rc)
		rc = ckpt_read_close(&r);
	return rc ? rc : core;
}

/*
 * The newest restorable dump of @group in @info, with its chain, into
 * @sub; pre-dumps above it are passed over.  -ENOENT when there is none.
 */
static int pick(struct ckpt_store *s, struct ckpt_info *info, unsigned int n, const char *group,
		struct ckpt_chain *chain, struct ckpt_chain *sub, struct ckpt_restore_result *res)
{
	unsigned int i;
	int rc;

	for (;;) {
		if (ckpt_find_in(info, n, group, chain))
			return -ENOENT;
		res->skipped_predumps = 0;
		for (i = 0; i < chain->n; i++) {
			rc = ckpt_set_has_file(s, &chain->set[i], "core-");
			if (rc)
				break;
			res->skipped_predumps++;
		}
		if (i == chain->n)
			return -ENODATA;
		if (rc > 0)
			break;
		/* Its file entries do not parse: the set is garbage. */
		ckpt_refuse(info, n, chain->set[i].slot, CKPT_BAD_FILES);
		res->refused++;
	}
	sub->n = chain->n - i;
	memcpy(sub->set, &chain->set[i], sub->n * sizeof(sub->set[0]));
	return 0;
}

int ckpt_note_refused(const char *path, uint64_t format_id, uint64_t seq)
{
	FILE *f = fopen(path, "ae");
	int rc;

	if (!f)
		return -errno;
	fprintf(f, "%" PRIx64 " %" PRIu64 "\n", format_id, seq);
	rc = fclose(f) ? -errno : 0;
	return rc;
}

/* What earlier restores here found corrupt in this store: refused again. */
static void apply_refused(const char *workdir, struct ckpt_store *s, struct ckpt_restore_result *res)
{
	char path[600], line[80];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", workdir, CKPT_REFUSED_FILE);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		uint64_t fid, seq;

		if (sscanf(line, "%" SCNx64 " %" SCNu64, &fid, &seq) != 2 || fid != s->format_id)
			continue;
		for (unsigned int i = 0; i < res->n; i++)
			if (res->info[i].header_valid && res->info[i].seq == seq &&
			    res->info[i].status == CKPT_OK) {
				ckpt_refuse(res->info, res->n, res->info[i].slot, CKPT_BAD_PAYLOAD_CRC);
				res->refused++;
			}
	}
	fclose(f);
}

/* rm -r of an extraction directory we made (plain files, "parent" links). */
static void remove_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[1024];

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (e->d_type == DT_DIR)
			remove_tree(path);
		else
			unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

/*
 * Headers only: each set's payload is checked as it is read, so a restore
 * reads the chain it restores once, not every set in the store first.
 * What earlier restores here found corrupt is refused again.
 */
static int list_store(struct ckpt_store *s, const char *workdir, struct ckpt_restore_result *res)
{
	int n = ckpt_list_headers(s, res->info);

	if (n < 0)
		return fail(res, n, "%s", ckpt_error(s));
	res->n = (unsigned int)n;
	apply_refused(workdir, s, res);
	return 0;
}

/*
 * The first half of a restore: the chain chosen, presented or extracted,
 * its directory open in @req.  A set found corrupt on the way is refused
 * and the choice made again.
 */
static int prepare(struct ckpt_store *s, const char *group, const char *workdir,
		   const struct ckpt_criu_ops *ops, void *ops_ctx,
		   struct ckpt_restore_result *res, struct ckpt_criu_req *req)
{
	struct ckpt_chain *chain = malloc(sizeof(*chain)), *sub = malloc(sizeof(*sub));
	uint64_t t0;
	int rc, fd;

	*req = (struct ckpt_criu_req){ .images_fd = -1, .work_fd = -1, .log_file = "restore.log" };
	if (!chain || !sub) {
		rc = fail(res, -ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = list_store(s, workdir, res)))
		goto out;
	if ((rc = ckpt_mkdirs(workdir))) {
		fail(res, rc, "%s: %s", workdir, strerror(-rc));
		goto out;
	}
	for (;;) {
		rc = pick(s, res->info, res->n, group, chain, sub, res);
		if (rc == -ENOENT) {
			fail(res, rc, "no restorable checkpoint for group %s", group);
			goto out;
		}
		if (rc == -ENODATA) {
			rc = fail(res, -ENOENT, "group %s has only pre-dumps, no dump to restore", group);
			goto out;
		}
		res->seq = sub->set[0].seq;
		res->chain_len = sub->n;
		/* A fresh directory: extraction refuses to write into an old set. */
		snprintf(res->dir, sizeof(res->dir), "%s/restore.XXXXXX", workdir);
		if (!mkdtemp(res->dir)) {
			rc = fail(res, -errno, "%s: %s", res->dir, strerror(errno));
			goto out;
		}
		t0 = mono_ns();
		s->bad_seq = 0;
		rc = -ENOTSUP;
		res->viewed = false;
		if (ops->present && !res->view_failed) {
			/* Served where it lies, nothing copied or checked ahead. */
			rc = ops->present(ops_ctx, s, sub, res->dir, req);
			res->viewed = !rc;
			res->lazy_pages = req->lazy_pages;
			res->eager_pages = req->eager_pages;
			if (rc == -ENOTSUP)
				snprintf(res->view_msg, sizeof(res->view_msg), "%s", ckpt_error(s));
		}
		if (rc == -ENOTSUP)
			rc = ckpt_extract_dir(s, sub, res->dir);
		res->extract_ns += mono_ns() - t0;
		if (!rc)
			break;
		remove_tree(res->dir);
		if (rc != -EBADMSG || !s->bad_seq) {
			fail(res, rc, "set %" PRIu64 ": %s", res->seq, ckpt_error(s));
			goto out;
		}
		/* That set is corrupt: refuse it (and what hangs on it), choose again. */
		for (unsigned int k = 0; k < sub->n; k++)
			if (sub->set[k].seq == s->bad_seq)
				ckpt_refuse(res->info, res->n, sub->set[k].slot, CKPT_BAD_PAYLOAD_CRC);
		res->refused++;
	}
	if (!res->viewed) {
		snprintf(res->images, sizeof(res->images), "%s/%" PRIu64, res->dir, res->seq);
		req->images_dir = res->images;
		req->work_dir = NULL;
	}
	snprintf(res->work, sizeof(res->work), "%s", req->work_dir ? req->work_dir : req->images_dir);
	fd = open(req->images_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		rc = fail(res, -errno, "%s: %s", req->images_dir, strerror(errno));
		ckpt_restore_abandon(ops, ops_ctx, res, req);
		goto out;
	}
	req->images_fd = fd;
	req->work_fd = fd;
	if (req->work_dir) {
		/* CRIU works there: logs, and the lazy-pages daemon's socket. */
		fd = open(req->work_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0) {
			rc = fail(res, -errno, "%s: %s", req->work_dir, strerror(errno));
			ckpt_restore_abandon(ops, ops_ctx, res, req);
			goto out;
		}
		req->work_fd = fd;
	}
out:
	free(chain);
	free(sub);
	return rc;
}

int ckpt_restore_choose(struct ckpt_store *s, const char *group, const char *workdir,
			struct ckpt_restore_result *res, uint64_t *seq)
{
	struct ckpt_chain *chain = malloc(sizeof(*chain)), *sub = malloc(sizeof(*sub));
	int rc;

	memset(res, 0, sizeof(*res));
	if (!chain || !sub) {
		rc = fail(res, -ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = list_store(s, workdir, res)))
		goto out;
	rc = pick(s, res->info, res->n, group, chain, sub, res);
	if (rc == -ENODATA)
		rc = -ENOENT;
	if (!rc)
		*seq = sub->set[0].seq;
out:
	free(chain);
	free(sub);
	return rc;
}

int ckpt_restore_prepare(struct ckpt_store *s, const char *group, const char *workdir,
			 const struct ckpt_criu_ops *ops, void *ops_ctx,
			 struct ckpt_restore_result *res, struct ckpt_criu_req *req)
{
	memset(res, 0, sizeof(*res));
	return prepare(s, group, workdir, ops, ops_ctx, res, req);
}

static void put_req(struct ckpt_criu_req *req)
{
	if (req->work_fd >= 0 && req->work_fd != req->images_fd)
		close(req->work_fd);
	if (req->images_fd >= 0)
		close(req->images_fd);
	req->images_fd = req->work_fd = -1;
}

int ckpt_restore_finish(const struct ckpt_criu_ops *ops, void *ops_ctx,
			struct ckpt_restore_result *res, struct ckpt_criu_req *req)
{
	if (res->viewed)
		ops->release(ops_ctx, req, 0);
	put_req(req);
	return 0;
}

void ckpt_restore_abandon(const struct ckpt_criu_ops *ops, void *ops_ctx,
			  struct ckpt_restore_result *res, struct ckpt_criu_req *req)
{
	if (res->viewed)
		ops->release(ops_ctx, req, -ECANCELED);
	put_req(req);
	remove_tree(res->dir);
}

int ckpt_restore_run(struct ckpt_store *s, const char *group, const char *workdir,
		     const struct ckpt_criu_ops *ops, void *ops_ctx, const struct ckpt_data_paths *data,
		     struct ckpt_watchdog *wd, struct ckpt_restore_result *res, struct ckpt_criu_req *req)
{
	unsigned int killed;
	pid_t criu_pid = 0;
	uint64_t t0;
	int rc;

	for (;;) {
		/*
		 * The files first: CRIU reopens them as it finds them (it
		 * refuses a wrong mode, but checks the size only of files not
		 * open for writing).  Only paths configured here are written,
		 * whatever the set says.
		 */
		if (data && data->n) {
			char msg[384], tag[32];

			snprintf(tag, sizeof(tag), "set-%" PRIu64, res->seq);
			rc = ckpt_data_restore(req->images_fd, data, tag, &res->data, msg, sizeof(msg));
			if (rc) {
				if (res->viewed)
					ops->release(ops_ctx, req, rc);
				put_req(req);
				return fail(res, rc == -ENOENT ? -EIO : rc,
					    "set %" PRIu64 ": the group's data paths: %s", res->seq, msg);
			}
		}
		t0 = mono_ns();
		if (wd)
			ckpt_watchdog_arm(wd);
		rc = ops->restore(ops_ctx, req, &res->pid);
		killed = wd ? ckpt_watchdog_disarm(wd, &criu_pid) : 0;
		res->restore_ns = mono_ns() - t0;
		if (killed && !rc) {
			/* It answered as it died: what it restored must not run beside a cold start. */
			proc_tree_signal(res->pid, SIGKILL);
			rc = -ETIMEDOUT;
		}
		if (res->viewed)
			ops->release(ops_ctx, req, rc);
		if (killed) {
			put_req(req);
			return fail(res, -ETIMEDOUT,
				    "criu restore from set %" PRIu64 " did not end within %g s: killed it (pid %d) with what it had restored; see %s/restore.log",
				    res->seq, (double)wd->timeout_ns / 1e9, (int)criu_pid, res->work);
		}
		if (!rc || !res->viewed || res->view_failed) {
			put_req(req);
			break;
		}
		/*
		 * CRIU could not restore from the view: once more the proven
		 * way, from an extracted copy (the log of the first try stays).
		 */
		put_req(req);
		snprintf(res->view_msg, sizeof(res->view_msg),
			 "criu restore from the view of set %" PRIu64 " failed (%d); see %s/restore.log",
			 res->seq, rc, res->work);
		res->view_failed = true;
		rc = prepare(s, group, workdir, ops, ops_ctx, res, req);
		if (rc)
			return rc;
	}
	/* -EIO whatever CRIU said: -ENOENT means "no checkpoint" to callers. */
	if (rc)
		rc = fail(res, -EIO, "criu restore from set %" PRIu64 " failed (%d); see %s/restore.log",
			  res->seq, rc, res->work);
	return rc;
}

int ckpt_restore_group(struct ckpt_store *s, const char *group, const char *workdir,
		       const struct ckpt_criu_ops *ops, void *ops_ctx,
		       const struct ckpt_data_paths *data, struct ckpt_watchdog *wd,
		       struct ckpt_restore_result *res)
{
	struct ckpt_criu_req req;
	int rc = ckpt_restore_prepare(s, group, workdir, ops, ops_ctx, res, &req);

	return rc ? rc : ckpt_restore_run(s, group, workdir, ops, ops_ctx, data, wd, res, &req);
}
