// SPDX-License-Identifier: GPL-2.0-or-later
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hotplug.h"

/* "/devices/system/cpu/cpu" followed by digits and nothing else. */
static int devpath_kind(const char *p)
{
	static const struct { const char *prefix; enum hotplug_kind kind; } known[] = {
		{ "/devices/system/cpu/cpu", HOTPLUG_CPU },
		{ "/devices/system/memory/memory", HOTPLUG_MEMORY },
	};

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		size_t n = strlen(known[i].prefix);
		const char *d = p + n;

		if (strncmp(p, known[i].prefix, n))
			continue;
		if (!*d || strlen(d) > 10)
			return 0;
		for (; *d; d++)
			if (*d < '0' || *d > '9')
				return 0;
		return known[i].kind;
	}
	return 0;
}

int hotplug_parse_uevent(const char *buf, size_t len, struct hotplug_event *ev)
{
	const char *action = NULL, *devpath = NULL, *subsystem = NULL;
	size_t off = 0;

	if (!buf || !len || len > 8192)
		return -EINVAL;
	/* The header "ACTION@DEVPATH" must be NUL-terminated inside the buffer. */
	const char *end = memchr(buf, '\0', len);

	if (!end || !memchr(buf, '@', (size_t)(end - buf)))
		return -EINVAL;
	off = (size_t)(end - buf) + 1;
	while (off < len) {
		const char *kv = buf + off;
		const char *z = memchr(kv, '\0', len - off);

		if (!z)
			return -EINVAL;	/* a truncated last field */
		if (!strncmp(kv, "ACTION=", 7))
			action = kv + 7;
		else if (!strncmp(kv, "DEVPATH=", 8))
			devpath = kv + 8;
		else if (!strncmp(kv, "SUBSYSTEM=", 10))
			subsystem = kv + 10;
		off = (size_t)(z - buf) + 1;
	}
	if (!action || !devpath || !subsystem)
		return -EINVAL;
	if (strcmp(action, "add") || (strcmp(subsystem, "cpu") && strcmp(subsystem, "memory")))
		return 0;
	int kind = devpath_kind(devpath);

	if (!kind || (kind == HOTPLUG_CPU) != !strcmp(subsystem, "cpu"))
		return -EINVAL;
	ev->kind = (enum hotplug_kind)kind;
	snprintf(ev->devpath, sizeof(ev->devpath), "%s", devpath);
	return 1;
}

int hotplug_online(const char *sysfs_root, const struct hotplug_event *ev)
{
	char path[256], state[16];
	ssize_t n;
	int fd;

	if (!devpath_kind(ev->devpath))
		return -EINVAL;
	if (snprintf(path, sizeof(path), "%s%s/online", sysfs_root, ev->devpath) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;	/* cpu0: no online file */
	n = read(fd, state, sizeof(state) - 1);
	if (n < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	state[n] = '\0';
	/* memory blocks say "1"/"0"; some kernels "online"/"offline". */
	if (state[0] == '1' || !strncmp(state, "online", 6)) {
		close(fd);
		return 0;
	}
	if (lseek(fd, 0, SEEK_SET) < 0 || write(fd, "1", 1) != 1) {
		int e = -errno;

		close(fd);
		return e ? e : -EIO;
	}
	close(fd);
	return 1;
}

static int online_dir(const char *sysfs_root, const char *dir, const char *prefix)
{
	char path[256];
	struct dirent *de;
	int count = 0, rc = 0;
	DIR *dp;

	snprintf(path, sizeof(path), "%s%s", sysfs_root, dir);
	dp = opendir(path);
	if (!dp)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(dp))) {
		struct hotplug_event ev = { 0 };

		if (strncmp(de->d_name, prefix, strlen(prefix)))
			continue;
		if (snprintf(ev.devpath, sizeof(ev.devpath), "%s/%s", dir, de->d_name) >=
		    (int)sizeof(ev.devpath))
			continue;
		ev.kind = (enum hotplug_kind)devpath_kind(ev.devpath);
		if (!ev.kind)
			continue;	/* cpufreq, cpuidle, ... */
		int r = hotplug_online(sysfs_root, &ev);

		if (r > 0)
			count++;
		else if (r < 0 && !rc)
			rc = r;
	}
	closedir(dp);
	return count ? count : rc;
}

int hotplug_online_all(const char *sysfs_root)
{
	int c = online_dir(sysfs_root, "/devices/system/cpu", "cpu");
	int m = online_dir(sysfs_root, "/devices/system/memory", "memory");

	if (c < 0)
		return c;
	if (m < 0)
		return m;
	return c + m;
}
