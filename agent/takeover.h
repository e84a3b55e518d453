/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The early takeover's steps (plan: takeover-plan.h), each done the way
 * the Pacemaker agent it stands for would leave it, so that agent's later
 * start finds it done: the data disk mounted where ocf:heartbeat:Filesystem
 * looks, the address on the nic with the prefix ocf:heartbeat:IPaddr2
 * checks, the service's leader pid where ocf:orthros:protected keeps it.
 * Each is a few system calls instead of an agent's hundreds of forks,
 * which is the point on a one-core BackupOS.
 */
#ifndef ORTHROS_TAKEOVER_H
#define ORTHROS_TAKEOVER_H

#include <stddef.h>
#include <sys/types.h>

#include "takeover-plan.h"

/* 0 mounted, 1 it already was, < 0 -errno (msg says what). */
int tk_mount(const struct tk_step *st, char *msg, size_t len);
/* 0 added, 1 it already was, < 0 -errno. */
int tk_address(const struct tk_step *st, char *msg, size_t len);
/* Gratuitous ARP for the step's address: switches and peers learn its new home. */
int tk_announce(const struct tk_step *st, char *msg, size_t len);

/*
 * Start a service step cold, detached in its own session, its output
 * appended to its logfile; its pid goes to RUNDIR/orthros-protected-RSC.pid
 * (the agent's pid file).  0 started, 1 already running, < 0 -errno.
 */
int tk_service_start(const struct tk_step *st, const char *rundir, pid_t *pid,
		     char *msg, size_t len);
/* Record @pid as the step's leader (after a warm restore). */
int tk_service_adopt(const struct tk_step *st, const char *rundir, pid_t pid);
/*
 * What ocf:orthros:protected's start does after its own start: the
 * group's pid file for the checkpointer (under @protect_dir) at once, and
 * @how ("cold", "warm:SEQ", as the agent's attribute says it) for the
 * agent's start to publish when it finds the service running.
 */
int tk_service_record(const struct tk_step *st, const char *rundir, const char *protect_dir,
		      pid_t pid, const char *how);
/* Wait until every port of the step accepts on loopback.  0, or -ETIMEDOUT/-ESRCH. */
int tk_service_wait(const struct tk_step *st, pid_t pid, int timeout_ms);

/*
 * Run @plan's services, each in a child process of its own as soon as the
 * steps in its after mask have answered, so that one service's restore
 * does not wait for an unrelated one's cold start (Pacemaker starts
 * independent resources side by side too).  @run is called in the child
 * and returns 0 once its service answers.  After a failure no service is
 * started any more (its dependants are Pacemaker's, and it retries them
 * all); those running are waited for.  Returns how many services failed
 * or were not started.
 */
int tk_run_services(const struct tk_plan *plan, int (*run)(const struct tk_step *st, const void *arg),
		    const void *arg);

/* Parse mount options into MS_* flags and the rest for the filesystem. */
int tk_mount_options(const char *opts, unsigned long *flags, char *data, size_t len);

#endif /* ORTHROS_TAKEOVER_H */
