/* SPDX-License-Identifier: GPL-2.0-or-later */
/* orthrosctl's command groups. */
#ifndef ORTHROS_CTL_H
#define ORTHROS_CTL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define CTL_EXIT_INVALID 2

__attribute__((format(printf, 1, 2)))
int ctl_usage_error(const char *fmt, ...);

int ctl_link(int argc, char **argv);
int ctl_partition(int argc, char **argv);
int ctl_ckpt(int argc, char **argv);
int ctl_takeover(int argc, char **argv);

/*
 * One request to the controller (the words of 'orthrosctl partition');
 * its answer is printed.  0 yes/done, 1 failure, 3 no.
 */
int ctl_partition_ask(const char *line);
/* The same, printing nothing: for a caller that asks again and again. */
int ctl_partition_ask_quiet(const char *line);

/*
 * 'ckpt restore' of @group; 0 restored (*pid, *seq), 3 none stored, 1
 * failed.  CRIU's restore is killed after @criu_timeout_us (0: the
 * default, CTL_CKPT_CRIU_TIMEOUT_US).
 */
#define CTL_CKPT_CRIU_TIMEOUT_US (60ull * 1000000)
struct ckpt_data_paths;
int ctl_ckpt_restore(const char *region, const char *group, const char *workdir, bool lazy,
		     const struct ckpt_data_paths *data, uint64_t criu_timeout_us,
		     pid_t *pid, uint64_t *seq);

/*
 * A restore's result as `ckpt restore` prints it (what went to @out and
 * what to @err); returns its exit status.
 */
struct ckpt_restore_result;
int ctl_ckpt_report(FILE *out, FILE *err, const char *group, bool lazy, int rc,
		    const struct ckpt_restore_result *res);

/*
 * `ckpt standby`: prepare lazy restores of @group until one is asked for
 * (ctl-standby.c).
 */
/* @ahead_max: bytes restored ahead at most; -1: half of MemAvailable. */
int ctl_ckpt_standby(const char *region, const char *group, const char *workdir, unsigned int poll_ms,
		     int64_t ahead_max);
/*
 * Ask the standby of @group on @region, if one runs here, to restore:
 * its exit status (its output printed), or -ENOENT when there is none.
 */
int ctl_standby_ask(const char *region, const char *group, pid_t *pid, uint64_t *seq);
/* CLOCK_MONOTONIC when main() began (0: not known), for the standby's timeline. */
extern uint64_t ctl_main_ns;

#endif
