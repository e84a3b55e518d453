// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Which cgroup a process runs in, as /proc shows it.  orthrosd compares it
 * with the group's configured cgroup: a checkpoint records where the tree
 * runs and a restore puts it back there, so a group started outside its
 * cgroup stays outside it on every partition after.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "proc-cgroup.h"

int proc_cgroup_parse(const char *text, char *out, size_t len)
{
	const char *line = text;

	while (line && *line) {
		const char *end = strchr(line, '\n');
		size_t n = end ? (size_t)(end - line) : strlen(line);

		if (n >= 3 && !memcmp(line, "0::", 3)) {
			n -= 3;
			line += 3;
			if (!n || line[0] != '/' || memchr(line, '\0', n))
				return -EINVAL;
			if (n >= len)
				return -ENAMETOOLONG;
			memcpy(out, line, n);
			out[n] = '\0';
			return 0;
		}
		line = end ? end + 1 : NULL;
	}
	return -ENOENT;
}

int proc_cgroup(pid_t pid, char *out, size_t len)
{
	char path[64], buf[8192];
	ssize_t n;
	int fd;

	/*
	 * A process in a pid namespace of its own (a protected group under
	 * orthros-init) sees the partition's /proc, where its getpid() names
	 * another process: it asks for itself through /proc/self, which the
	 * kernel resolves in the namespace /proc was mounted in.
	 */
	if (pid == 0)
		snprintf(path, sizeof(path), "/proc/self/cgroup");
	else
		snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	close(fd);
	buf[n] = '\0';
	return proc_cgroup_parse(buf, out, len);
}

int proc_cgroup_is(const char *path, const char *name)
{
	size_t pl, nl;

	while (*path == '/')
		path++;
	while (*name == '/')
		name++;
	pl = strlen(path);
	nl = strlen(name);
	while (pl && path[pl - 1] == '/')
		pl--;
	while (nl && name[nl - 1] == '/')
		nl--;
	return pl == nl && !memcmp(path, name, pl);
}
