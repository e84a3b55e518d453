/* SPDX-License-Identifier: GPL-2.0-or-later */
/* orthrosctl's command groups. */
#ifndef ORTHROS_CTL_H
#define ORTHROS_CTL_H

#include <stdbool.h>
#include <stdint.h>
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

/* 'ckpt restore' of @group; 0 restored (*pid, *seq), 3 none stored, 1 failed. */
int ctl_ckpt_restore(const char *region, const char *group, const char *workdir, bool lazy,
		     pid_t *pid, uint64_t *seq);

#endif
