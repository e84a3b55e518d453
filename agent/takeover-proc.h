/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The early takeover's process, as orthrosd runs it (docs/failover.md).
 *
 * Under TCG, exec'ing orthrosctl in a BackupOS at the PANIC notice cost
 * 0.5 to 1.8 s before its main() ran: the dynamic loader, a cold page
 * cache over 9p, and the one vCPU busy onlining the dead partition's
 * hot-added vCPU and memory.  That is most of the membership wait the
 * takeover has to fit in.  So while this partition is the watching
 * BackupOS, a standby takeover is kept exec'd and waiting on its standard
 * input; the notice only writes "go" to it.  If there is no standby (it
 * died, or was never started), the notice spawns one directly, as before.
 *
 * Only its own children are reaped; everything is non-blocking, so the
 * main loop (uevents, the link) never waits on the takeover.
 */
#ifndef ORTHROS_TAKEOVER_PROC_H
#define ORTHROS_TAKEOVER_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* A standby that dies on its own is not restarted for this long. */
#define TKP_RETRY_NS (10ull * 1000000000ull)

struct tkp {
	const char *prog;	/* run as "PROG takeover [--standby]" */
	pid_t standby;		/* exec'd, waiting for "go", or 0 */
	int ctl;		/* our end of the standby's standard input, or -1 */
	pid_t running;		/* fired (or spawned directly), not yet reaped */
	bool fired_standby;	/* running was a standby */
	bool taken;		/* taken_gen is valid */
	uint32_t taken_gen;	/* the dead generation it last ran for */
	uint64_t retry_ns;	/* no new standby before this */
	/*
	 * A fired takeover ran here (done, or failed with Pacemaker doing the
	 * rest): this partition holds the services now and watches no Active
	 * until it is rebooted as a BackupOS, so no standby is kept again.
	 */
	bool took_over;
	/*
	 * The standby was told "wait" at a HEARTBEAT_LOST of wait_gen: it
	 * takes over by itself once the controller says that generation is
	 * dead (fenced), unless told "back" first.
	 */
	bool waiting;
	uint32_t wait_gen;
};

void tkp_init(struct tkp *t, const char *prog);

/*
 * Keep a standby while @backup (this partition is the watching BackupOS),
 * nothing is running and no takeover ran here; dismiss it otherwise (it reads end-of-file and
 * exits without acting).  Returns the new standby's pid, 0 when nothing
 * was started, -errno when starting one failed (retried after
 * TKP_RETRY_NS).
 */
int tkp_tick(struct tkp *t, bool backup, uint64_t now_ns);

/*
 * A PANIC of @dead_gen: start the takeover, the standby if there is one.
 * Returns the pid (*standby tells which way), -EALREADY when one is
 * running or already ran for @dead_gen, -errno when it cannot be started.
 */
int tkp_fire(struct tkp *t, uint32_t dead_gen, bool *standby);

/*
 * A HEARTBEAT_LOST of the Active's @gen: tell the standby "wait", that is,
 * take over as soon as the controller answers that @gen is dead.  A hang
 * is only known dead once the cluster has fenced it, and that is when the
 * takeover begins, not after Pacemaker's promotion and starts, tens of
 * seconds later under TCG.  Returns the standby's pid, -EALREADY when one
 * is running, waiting or already ran for @gen, -ENOENT without a standby
 * (Pacemaker then takes over alone), -errno when it cannot be told.
 */
int tkp_wait(struct tkp *t, uint32_t gen);

/*
 * A HEARTBEAT_BACK of @gen: a standby told to wait for it stands by again
 * ("back"), its prepared restores kept.  Returns 1 when told, else 0.
 */
int tkp_back(struct tkp *t, uint32_t gen);

enum tkp_event {
	TKP_NOTHING,		/* not one of ours, or still running */
	TKP_STANDBY_EXITED,	/* a standby that was not fired ended */
	TKP_DONE,		/* the takeover exited 0 */
	TKP_DECLINED,		/* exited 3: no early takeover here */
	TKP_FAILED,		/* any other status: Pacemaker does the rest */
};

/* After SIGCHLD: reap one of our children, if one has ended. */
enum tkp_event tkp_reap(struct tkp *t, uint64_t now_ns, int *status);

/* Dismiss the standby; a running takeover is left to finish. */
void tkp_close(struct tkp *t);

#endif
