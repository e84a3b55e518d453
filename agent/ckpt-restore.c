// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The way back: the newest restorable chain of a group out of the store,
 * into a fresh directory on tmpfs, and CRIU restores the tree from it,
 * detached.
 *
 * The store's chain rule already passed over torn, corrupt and orphaned
 * sets.  What it cannot know is that a set is a pre-dump (memory only, no
 * task state): one is the newest when its dump failed or was never
 * committed.  Those are passed over here, down the same chain, to the
 * dump below them, whose chain is complete by construction.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "checkpointer.h"

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

int ckpt_restore_group(struct ckpt_store *s, const char *group, const char *workdir,
		       const struct ckpt_criu_ops *ops, void *ops_ctx,
		       struct ckpt_restore_result *res)
{
	struct ckpt_chain *chain = malloc(sizeof(*chain)), *sub = malloc(sizeof(*sub));
	struct ckpt_criu_req req = { .work_fd = -1, .log_file = "restore.log" };
	char images[sizeof(res->dir) + 32];
	unsigned int i;
	uint64_t t0;
	int rc, fd;

	memset(res, 0, sizeof(*res));
	if (!chain || !sub) {
		rc = fail(res, -ENOMEM, "out of memory");
		goto out;
	}
	if (ckpt_find(s, group, chain)) {
		rc = fail(res, -ENOENT, "no restorable checkpoint for group %s", group);
		goto out;
	}
	for (i = 0; i < chain->n; i++) {
		rc = ckpt_set_is_dump(s, &chain->set[i]);
		if (rc < 0) {
			fail(res, rc, "set %" PRIu64 ": %s", chain->set[i].seq, ckpt_error(s));
			goto out;
		}
		if (rc)
			break;
		res->skipped_predumps++;
	}
	if (i == chain->n) {
		rc = fail(res, -ENOENT, "group %s has only pre-dumps, no dump to restore", group);
		goto out;
	}
	sub->n = chain->n - i;
	memcpy(sub->set, &chain->set[i], sub->n * sizeof(sub->set[0]));
	res->seq = sub->set[0].seq;
	res->chain_len = sub->n;

	/* A fresh directory: extraction refuses to write into an old set. */
	if ((rc = ckpt_mkdirs(workdir))) {
		fail(res, rc, "%s: %s", workdir, strerror(-rc));
		goto out;
	}
	snprintf(res->dir, sizeof(res->dir), "%s/restore.XXXXXX", workdir);
	if (!mkdtemp(res->dir)) {
		rc = fail(res, -errno, "%s: %s", res->dir, strerror(errno));
		goto out;
	}
	t0 = mono_ns();
	rc = ckpt_extract_dir(s, sub, res->dir);
	res->extract_ns = mono_ns() - t0;
	if (rc) {
		fail(res, rc, "extracting set %" PRIu64 ": %s", res->seq, ckpt_error(s));
		goto out;
	}
	snprintf(images, sizeof(images), "%s/%" PRIu64, res->dir, res->seq);
	fd = open(images, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		rc = fail(res, -errno, "%s: %s", images, strerror(errno));
		goto out;
	}
	req.images_fd = fd;
	req.images_dir = images;
	req.work_fd = fd;
	t0 = mono_ns();
	rc = ops->restore(ops_ctx, &req, &res->pid);
	res->restore_ns = mono_ns() - t0;
	close(fd);
	/* -EIO whatever CRIU said: -ENOENT means "no checkpoint" to callers. */
	if (rc)
		rc = fail(res, -EIO, "criu restore from set %" PRIu64 " failed (%d); see %s/restore.log",
			  res->seq, rc, images);
out:
	free(chain);
	free(sub);
	return rc;
}
