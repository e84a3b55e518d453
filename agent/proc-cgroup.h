/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef ORTHROS_PROC_CGROUP_H
#define ORTHROS_PROC_CGROUP_H

#include <stddef.h>
#include <sys/types.h>

/*
 * The cgroup2 path ("/orthros/demo", "/" at the root) in the text of a
 * /proc/PID/cgroup file: its "0::" line.  0; -ENOENT without one (a
 * kernel without cgroup2); -EINVAL for a line that is not a path;
 * -ENAMETOOLONG when it does not fit @len.
 */
int proc_cgroup_parse(const char *text, char *out, size_t len);

/*
 * The same for a running process (0: the caller, right inside a pid
 * namespace too); -errno when its file cannot be read.
 */
int proc_cgroup(pid_t pid, char *out, size_t len);

/*
 * Is @path (from proc_cgroup) the configured cgroup @name ("orthros/demo",
 * relative to the hierarchy's root; slashes on either end do not count)?
 */
int proc_cgroup_is(const char *path, const char *name);

#endif /* ORTHROS_PROC_CGROUP_H */
