/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One `criu swrk` started ahead of the request it will serve
 * (ckpt-swrk.c): CRIU's RPC spoken directly, because libcriu starts its
 * swrk at the call and cannot ask for a lazy-pages restore.
 */
#ifndef ORTHROS_CKPT_SWRK_H
#define ORTHROS_CKPT_SWRK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ckpt-criu.h"

struct ckpt_swrk {
	pid_t pid;
	int sk;			/* our end of the SOCK_SEQPACKET pair */
};

/*
 * Start `criu swrk` (CRIU_BINARY or "criu" from PATH) on a socket pair.
 * It waits for one request; the images' and work directory's fds go by
 * number and are opened by CRIU through /proc/<us>/fd when the request
 * arrives, so they need not exist yet.
 */
int ckpt_swrk_start(struct ckpt_swrk *w);
/* Is it still there to take a request? */
bool ckpt_swrk_alive(struct ckpt_swrk *w);
/*
 * Restore from @r (images_fd, work_fd, log_file) with memory on demand if
 * @lazy (the lazy-pages daemon must already listen in the work directory);
 * the tree left stopped if r->leave_stopped (told through a configuration
 * file written in r->work_dir).
 * The root's pid in *pid; the swrk is spent either way.  -EIO with CRIU's
 * reason in @msg when it refused.
 */
int ckpt_swrk_restore(struct ckpt_swrk *w, const struct ckpt_criu_req *r, bool lazy, pid_t *pid,
		      char *msg, size_t len);
void ckpt_swrk_stop(struct ckpt_swrk *w);

/*
 * The wire, apart for the tests: a packed restore request (@config_file
 * named in it unless NULL), its size or -ENOSPC.
 */
ssize_t ckpt_swrk_pack_restore(const struct ckpt_criu_req *r, bool lazy, const char *config_file, uint8_t *buf,
			       size_t len);
/*
 * CRIU's answer to a restore: 0 and the root's pid, or -EIO and why
 * (CRIU's message and errno) in @msg; -EBADMSG if it is not an answer to
 * a restore.
 */
int ckpt_swrk_parse_restore(const uint8_t *buf, size_t n, pid_t *pid, char *msg, size_t len);

#endif /* ORTHROS_CKPT_SWRK_H */
