/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A lazy restore prepared ahead of need (ckpt-standby.c): in the BackupOS,
 * while the ActiveOS still runs, the newest restorable chain of a group
 * is already chosen, mounted as its view, CRIU's lazy-pages daemon
 * listens on it and a `criu swrk` waits; each set the Active commits
 * makes the preparation again.  The restore is then only CRIU's restore
 * of the tree, started the moment it is asked for.
 *
 * Restored ahead: when the chain's memory fits the BackupOS's budget, the
 * tree itself is restored at preparation and left stopped (CRIU's
 * leave-stopped: no instruction of it runs), and the request only
 * resumes it.  A tree restored ahead of a set that is no longer the
 * newest is killed before anything else is prepared.
 */
#ifndef ORTHROS_CKPT_STANDBY_H
#define ORTHROS_CKPT_STANDBY_H

#include <stdbool.h>
#include <stdint.h>

#include "checkpointer.h"
#include "ckpt-swrk.h"

struct ckpt_standby {
	struct ckpt_store *s;
	char group[CKPT_GROUP_LEN];
	char workdir[256];
	const struct ckpt_criu_ops *ops;	/* presents and restores (ckpt_standby_criu) */
	void *ops_ctx;
	uint64_t (*clock)(void);		/* CLOCK_MONOTONIC ns; the tests fake it */
	bool ready;				/* res and req hold a prepared restore */
	struct ckpt_restore_result *res;
	struct ckpt_criu_req req;
	/*
	 * Restore the tree ahead, stopped, when the chain's memory is at most
	 * ahead_budget() bytes (off unless set; the tests fake both hooks).
	 */
	bool ahead;
	uint64_t (*ahead_budget)(void);
	/* Does the group already run in this partition?  Then nothing is restored ahead. */
	bool (*group_here)(const char *group);
	int (*signal_tree)(pid_t root, int sig);
	pid_t ahead_pid;			/* > 0: the prepared set's tree, stopped */
	uint64_t ahead_ns;			/* CRIU's restore of it took */
	uint64_t resumed_at_ns;			/* clock(): the tree restored ahead got SIGCONT */
	uint64_t ahead_refused_seq;		/* its restore ahead failed: prepared only */
	char ahead_msg[600];			/* why the last preparation was not restored ahead */
	uint64_t headers_sig;			/* the store's headers when last looked at */
	uint64_t prepare_ns;			/* the last preparation took */
	uint64_t prepared_at_ns;
	unsigned int prepares;			/* preparations made so far */
	char msg[600];				/* why the last refresh failed */
};

/* The production ops' context: the daemon and the swrk kept ready. */
struct ckpt_standby_criu {
	struct ckpt_swrk swrk;
	pid_t daemon;				/* the prepared chain's lazy-pages daemon */
	bool swrk_used;				/* the last restore went through the swrk */
};

/*
 * Presents through the FUSE view and starts the lazy-pages daemon on it;
 * restores through the swrk kept in @ctx (a struct ckpt_standby_criu,
 * zeroed with swrk.pid = -1), or through the criu command when it is gone
 * or the chain had to be extracted after all.  A chain that cannot be
 * viewed is not prepared (-EPROTONOSUPPORT): extracting a full dump ahead
 * of every commit would cost the BackupOS more than it saves.
 */
extern const struct ckpt_criu_ops ckpt_standby_criu;

int ckpt_standby_init(struct ckpt_standby *sb, struct ckpt_store *s, const char *group,
		      const char *workdir, const struct ckpt_criu_ops *ops, void *ops_ctx);
/*
 * Keep the preparation current: when the store's headers changed since
 * the last look, choose again, and if the choice moved (or nothing was
 * prepared), abandon the old preparation and prepare the new one.
 * 0: prepared and current (*changed when prepared by this call);
 * -ENOENT: nothing to restore; other < 0: why in sb->msg.
 */
int ckpt_standby_refresh(struct ckpt_standby *sb, bool *changed);
/*
 * Restore now: refreshed first (*stale when that had to prepare again),
 * then the tree restored ahead resumed, or restored; *res points at the
 * result (valid until fini), res->pid the tree's root either way.
 * *resumed says which.
 */
int ckpt_standby_fire(struct ckpt_standby *sb, struct ckpt_restore_result **res, bool *stale, bool *resumed);
/* Abandon what is prepared (a tree restored ahead is killed). */
void ckpt_standby_fini(struct ckpt_standby *sb);

#endif /* ORTHROS_CKPT_STANDBY_H */
