/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * orthrosd's checkpoint role: every protected group of the configuration
 * is checkpointed into the store on the configured policy while this
 * partition is the Active, and once more at a planned stop.
 *
 * CRIU takes seconds under TCG: the checkpoints run in one worker thread
 * so the daemon's loop (hotplug, link events, attributes) never waits for
 * them.  The worker does no logging; the loop logs each result when the
 * worker signals its fd.
 */
#ifndef ORTHROS_PROTECT_H
#define ORTHROS_PROTECT_H

/*
 * Where a protected group's leader pid is kept (orthrosd's default
 * pid_dir): the takeover writes it, the checkpointer and the standby read it.
 */
#define PROTECT_PID_DIR "/run/orthros/protected"

#include <stdbool.h>
#include <stdint.h>

struct orthros_conf;
struct protect;

struct protect_opts {
	const char *region;		/* store path, or "auto" */
	const char *pid_dir;		/* a group's leader pid in DIR/<name>.pid */
	const char *workdir;		/* tmpfs for images on their way */
};

/* Open (and format, if it never was) the store; one checkpointer per group. */
int protect_open(const struct orthros_conf *conf, const struct protect_opts *o,
		 struct protect **out);
/* Readable when the worker has finished a round. */
int protect_fd(const struct protect *p);
/* Start a round for the groups that are due, unless one is running. */
void protect_tick(struct protect *p, uint64_t now_ns);
/* Is a round in flight? */
bool protect_busy(const struct protect *p);
/* The worker signalled: collect and log its round. */
void protect_collect(struct protect *p);
/* Planned stop: wait for a round in flight, then checkpoint every group. */
void protect_final(struct protect *p);
void protect_close(struct protect *p);

#endif /* ORTHROS_PROTECT_H */
