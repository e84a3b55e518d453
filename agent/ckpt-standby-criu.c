// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The standby's CRIU operations (ckpt-standby.h): the view mounted and
 * `criu lazy-pages` listening on it at preparation, the restore one
 * request to a `criu swrk` started beforehand (ckpt-swrk.c).
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>

#include "ckpt-standby.h"

static int sb_present(void *ctx, struct ckpt_store *s, const struct ckpt_chain *chain, const char *dir,
		      struct ckpt_criu_req *r)
{
	struct ckpt_standby_criu *c = ctx;
	int rc = ckpt_criu_lazy_view.present(NULL, s, chain, dir, r);

	if (rc == -ENOTSUP)
		return -EPROTONOSUPPORT;	/* s->msg says why */
	if (rc)
		return rc;
	rc = ckpt_lazy_start(r, &c->daemon);
	if (rc) {
		c->daemon = -1;
		ckpt_criu_lazy_view.release(NULL, r, rc);
		snprintf(s->msg, sizeof(s->msg), "criu lazy-pages did not start on the view (%d)", rc);
		return rc;
	}
	/* Not fatal: without it the restore execs criu, as a plain one does. */
	if (!ckpt_swrk_alive(&c->swrk))
		ckpt_swrk_start(&c->swrk);
	return 0;
}

static int sb_restore(void *ctx, const struct ckpt_criu_req *r, pid_t *pid)
{
	struct ckpt_standby_criu *c = ctx;
	char msg[300];

	c->swrk_used = false;
	/*
	 * Ahead of the request only through the swrk: the criu command
	 * fallback would start the tree running in the BackupOS.
	 */
	if (r->leave_stopped && (c->daemon <= 0 || kill(c->daemon, 0) || !ckpt_swrk_alive(&c->swrk)))
		return -ENOTCONN;
	if (c->daemon > 0 && !kill(c->daemon, 0) && ckpt_swrk_alive(&c->swrk)) {
		c->swrk_used = true;
		return ckpt_swrk_restore(&c->swrk, r, true, pid, msg, sizeof(msg));
	}
	/* Extracted after the view failed, or the swrk is gone: the command. */
	return ckpt_criu_lazy.restore(NULL, r, pid);
}

static void sb_release(void *ctx, const struct ckpt_criu_req *r, int restore_rc)
{
	struct ckpt_standby_criu *c = ctx;

	/* Nothing will ever connect to it now. */
	if (restore_rc && c->daemon > 0)
		kill(c->daemon, SIGKILL);
	c->daemon = -1;
	ckpt_criu_lazy_view.release(NULL, r, restore_rc);
}

const struct ckpt_criu_ops ckpt_standby_criu = {
	.pre_dump = ckpt_criu_no_dump,
	.dump = ckpt_criu_no_dump,
	.restore = sb_restore,
	.present = sb_present,
	.release = sb_release,
};

