/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A deadline on CRIU calls.  libcriu forks `criu swrk` from the calling
 * thread and waits for its answer with no timeout of its own, and CRIU
 * holds the group frozen (ptrace-stopped) while it works: a CRIU that
 * hangs (a task in uninterruptible sleep, a file it cannot read) would
 * leave the service stopped, the checkpoint worker stuck, and a planned
 * stop's final checkpoint waiting for ever.
 *
 * One watchdog thread serves every call of a daemon (they are never
 * concurrent: orthrosd runs one round at a time).  The caller arms it
 * before the call and disarms it after; past the deadline the watchdog
 * kills the processes named "criu" among the caller's children, with
 * whatever they run, which ends the call with an error.  A killed tracer releases its tracees, so
 * the group runs on; a task caught with CRIU's parasite inside it may
 * die instead, which its resource's monitor sees.  Either beats a
 * service stopped without end.
 */
#ifndef ORTHROS_CKPT_WATCHDOG_H
#define ORTHROS_CKPT_WATCHDOG_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define CKPT_WATCHDOG_MAX_KILLED 4

struct ckpt_watchdog {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint64_t timeout_ns;
	const char *comm;		/* what a child must be called to be killed */
	/* The armed call, under lock. */
	pid_t tid;			/* the caller, whose children are its criu */
	uint64_t deadline_ns;		/* CLOCK_MONOTONIC; 0: disarmed */
	unsigned int nkilled;
	pid_t killed[CKPT_WATCHDOG_MAX_KILLED];
	bool stop;
};

/* The thread started, deadlines @timeout_ns after each arm (> 0). */
int ckpt_watchdog_start(struct ckpt_watchdog *w, uint64_t timeout_ns);
/* Before a CRIU call, on the thread that makes it. */
void ckpt_watchdog_arm(struct ckpt_watchdog *w);
/*
 * After it: how many processes the watchdog killed during the call
 * (0: it ended in time); the first pid in *@first when any.
 */
unsigned int ckpt_watchdog_disarm(struct ckpt_watchdog *w, pid_t *first);
void ckpt_watchdog_stop(struct ckpt_watchdog *w);

/*
 * The children of thread @tid of this process whose name is @comm, at
 * most @max of them (all counted in the return value).  For the watchdog
 * and its tests.
 */
unsigned int ckpt_watchdog_children(pid_t tid, const char *comm, pid_t *pids, unsigned int max);

#endif /* ORTHROS_CKPT_WATCHDOG_H */
