// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Signalling a whole process tree: a tree restored ahead by the standby
 * (ckpt-standby.c) is resumed or killed as one.  Its root may be the init
 * of a pid namespace, but need not be, so the tree is walked through
 * /proc's children lists rather than trusted to die with its root.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "proc-tree.h"

/* More processes than a protected group has; past it, -E2BIG. */
#define TREE_MAX 4096

static int tree_collect(pid_t pid, pid_t *pids, unsigned int *n)
{
	char path[64];
	DIR *d;
	struct dirent *e;

	if (*n >= TREE_MAX)
		return -E2BIG;
	pids[(*n)++] = pid;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return 0;	/* gone meanwhile: nothing below it either */
	while ((e = readdir(d))) {
		char cpath[96];
		FILE *f;
		int child;

		if (e->d_name[0] == '.')
			continue;
		snprintf(cpath, sizeof(cpath), "/proc/%d/task/%.16s/children", (int)pid, e->d_name);
		f = fopen(cpath, "r");
		if (!f)
			continue;
		while (fscanf(f, "%d", &child) == 1)
			if (child > 0 && tree_collect(child, pids, n)) {
				fclose(f);
				closedir(d);
				return -E2BIG;
			}
		fclose(f);
	}
	closedir(d);
	return 0;
}

int proc_tree_signal(pid_t root, int sig)
{
	pid_t *pids = malloc(TREE_MAX * sizeof(*pids));
	unsigned int n = 0;
	int rc;

	if (!pids)
		return -ENOMEM;
	if (kill(root, 0) < 0) {
		free(pids);
		return -errno;
	}
	/* All of them found before any is signalled: a killed parent reparents its children. */
	rc = tree_collect(root, pids, &n);
	for (unsigned int i = 0; i < n; i++)
		kill(pids[i], sig);
	free(pids);
	return rc == -E2BIG ? rc : 0;
}
