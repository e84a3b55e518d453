/* SPDX-License-Identifier: GPL-2.0-or-later */
/* orthrosctl's command groups. */
#ifndef ORTHROS_CTL_H
#define ORTHROS_CTL_H

#define CTL_EXIT_INVALID 2

__attribute__((format(printf, 1, 2)))
int ctl_usage_error(const char *fmt, ...);

int ctl_link(int argc, char **argv);
int ctl_partition(int argc, char **argv);
int ctl_ckpt(int argc, char **argv);

#endif
