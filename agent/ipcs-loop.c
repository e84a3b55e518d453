// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The glue between a libqb IPC server and a libqb main loop.  libqb leaves
 * it to the caller (its server runs on any loop), and the same four
 * callbacks were written in each daemon that serves IPC.
 */
#include "config.h"

#include "ipcs-loop.h"

static qb_loop_t *the_loop;

static int32_t dispatch_add(enum qb_loop_priority p, int32_t fd, int32_t evts, void *data,
			    qb_ipcs_dispatch_fn_t fn)
{
	return qb_loop_poll_add(the_loop, p, fd, evts, data, fn);
}

static int32_t dispatch_mod(enum qb_loop_priority p, int32_t fd, int32_t evts, void *data,
			    qb_ipcs_dispatch_fn_t fn)
{
	return qb_loop_poll_mod(the_loop, p, fd, evts, data, fn);
}

static int32_t dispatch_del(int32_t fd)
{
	return qb_loop_poll_del(the_loop, fd);
}

static int32_t job_add(enum qb_loop_priority p, void *data, qb_loop_job_dispatch_fn fn)
{
	return qb_loop_job_add(the_loop, p, data, fn);
}

int32_t ipcs_loop_run(qb_ipcs_service_t *s, qb_loop_t *loop)
{
	static struct qb_ipcs_poll_handlers ph = {
		.job_add = job_add,
		.dispatch_add = dispatch_add,
		.dispatch_mod = dispatch_mod,
		.dispatch_del = dispatch_del,
	};

	the_loop = loop;
	qb_ipcs_poll_handlers_set(s, &ph);
	return qb_ipcs_run(s);
}
