// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The libcriu backend of the CRIU operations: each call starts its own
 * `criu swrk` (no CRIU service to run in the partition) with options built
 * for that call only (criu_local_*: nothing leaks from one dump to the
 * next).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <criu.h>

#include "ckpt-criu.h"

/*
 * libcriu's notification callback has no argument of its own: the request
 * of the call in flight on this thread.
 */
static _Thread_local const struct ckpt_criu_req *notified;

static int on_notify(char *action, criu_notify_arg_t na)
{
	(void)na;
	if (notified && notified->frozen && !strcmp(action, "post-dump"))
		return notified->frozen(notified->frozen_arg);
	return 0;
}

static int prepare(const struct ckpt_criu_req *r, criu_opts **o)
{
	const char *bin = getenv("CRIU_BINARY");
	int rc;

	/* init frees what *o points to: it must start out NULL. */
	*o = NULL;
	rc = criu_local_init_opts(o);

	if (rc < 0)
		return rc;
	if (bin && *bin && (rc = criu_local_set_service_binary(*o, bin)) < 0)
		goto err;
	criu_local_set_images_dir_fd(*o, r->images_fd);
	if (r->work_fd >= 0)
		criu_local_set_work_dir_fd(*o, r->work_fd);
	if (r->log_file && (rc = criu_local_set_log_file(*o, r->log_file)) < 0)
		goto err;
	criu_local_set_log_level(*o, CRIU_LOG_INFO);
	if (r->pid > 0)
		criu_local_set_pid(*o, r->pid);
	if (r->parent && (rc = criu_local_set_parent_images(*o, r->parent)) < 0)
		goto err;
	criu_local_set_leave_running(*o, r->leave_running);
	criu_local_set_track_mem(*o, r->track_mem);
	if (r->pre_dump_read && (rc = criu_local_set_pre_dump_mode(*o, CRIU_PRE_DUMP_READ)) < 0)
		goto err;
	/* The group runs in its own session, not on a terminal. */
	criu_local_set_shell_job(*o, false);
	/*
	 * A client's connection is not the group's state: its partition is
	 * gone after a crash and the service IP moves. CRIU would refuse to
	 * dump a service with a connection open (or lock the network to
	 * dump it with TCP repair); take them as closed, restore them closed
	 * (the client reconnects), and pass over half-open ones in the
	 * accept queue.
	 */
	criu_local_set_tcp_close(*o, true);
	criu_local_set_tcp_skip_in_flight(*o, true);
	return 0;
err:
	criu_local_free_opts(*o);
	return rc;
}

static int lib_pre_dump(void *ctx, const struct ckpt_criu_req *r)
{
	criu_opts *o;
	int rc;

	(void)ctx;
	if ((rc = prepare(r, &o)))
		return rc;
	rc = criu_local_pre_dump(o);
	criu_local_free_opts(o);
	return rc < 0 ? rc : 0;
}

static int lib_dump(void *ctx, const struct ckpt_criu_req *r)
{
	criu_opts *o;
	int rc;

	(void)ctx;
	if ((rc = prepare(r, &o)))
		return rc;
	if (r->frozen) {
		criu_local_set_notify_cb(o, on_notify);
		notified = r;
	}
	rc = criu_local_dump(o);
	notified = NULL;
	criu_local_free_opts(o);
	return rc < 0 ? rc : 0;
}

static int lib_restore(void *ctx, const struct ckpt_criu_req *r, pid_t *pid)
{
	criu_opts *o;
	int rc;

	(void)ctx;
	if ((rc = prepare(r, &o)))
		return rc;
	/* Through swrk the restored tree is detached: criu exits after it. */
	rc = criu_local_restore(o);
	criu_local_free_opts(o);
	if (rc <= 0)
		return rc < 0 ? rc : -ECHILD;
	*pid = rc;
	return 0;
}

const struct ckpt_criu_ops ckpt_criu_libcriu = {
	.pre_dump = lib_pre_dump,
	.dump = lib_dump,
	.restore = lib_restore,
};
