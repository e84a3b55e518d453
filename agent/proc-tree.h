/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef ORTHROS_PROC_TREE_H
#define ORTHROS_PROC_TREE_H

#include <sys/types.h>

/*
 * Send @sig to @root and every process below it (read from /proc's
 * children lists; meant for a stopped tree, where none forks meanwhile:
 * all are found before any is signalled).  0; -ESRCH when @root is gone;
 * -E2BIG when the tree is larger than walked (those found are signalled).
 */
int proc_tree_signal(pid_t root, int sig);

#endif /* ORTHROS_PROC_TREE_H */
