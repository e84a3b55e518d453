/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A libqb IPC server served from a libqb main loop.
 */
#ifndef ORTHROS_IPCS_LOOP_H
#define ORTHROS_IPCS_LOOP_H

#include <qb/qbipcs.h>
#include <qb/qbloop.h>

/*
 * Set @s's poll handlers to @loop and start it (qb_ipcs_run).  libqb's
 * handlers carry no context, so a process serves all its IPC from one
 * loop: the last one passed here.  Returns qb_ipcs_run's result.
 */
int32_t ipcs_loop_run(qb_ipcs_service_t *s, qb_loop_t *loop);

#endif
