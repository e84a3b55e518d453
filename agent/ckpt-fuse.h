/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A checkpoint chain's view (ckpt-view.h) mounted read-only through FUSE,
 * served by a child process that outlives its caller (ckpt-fuse.c).
 */
#ifndef ORTHROS_CKPT_FUSE_H
#define ORTHROS_CKPT_FUSE_H

#include <stddef.h>
#include <sys/types.h>

#include "ckpt-view.h"

struct ckpt_fuse {
	pid_t server;
	int ctl;		/* tells the server when to stop */
};

/*
 * Mount @v at @mnt (an empty directory) and serve it from a child
 * process; @log collects what fails while serving, and a set found
 * corrupt is noted in @refused (ckpt_note_refused); either may be NULL.
 * Returns once the mount is there; the caller may close its own @v.
 * -ENODEV without /dev/fuse; < 0 and why in @msg on failure.
 */
int ckpt_fuse_mount(struct ckpt_view *v, const char *mnt, const char *log, const char *refused,
		    struct ckpt_fuse *fs, char *msg, size_t len);
/*
 * Let the server go: @until > 0, it unmounts once that process has
 * exited; -1, only when someone unmounts @mnt; 0, now (and this waits
 * for it).
 */
void ckpt_fuse_release(struct ckpt_fuse *fs, pid_t until);

#endif /* ORTHROS_CKPT_FUSE_H */
