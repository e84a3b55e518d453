/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The checkpoint policy for one protected group (docs/protected.md): when
 * to checkpoint, full or incremental, CRIU into a tmpfs directory, then the
 * image set into the store; and the way back, the newest restorable dump
 * out of the store and restored by CRIU.
 *
 * No logging and no globals: orthrosd runs it in a worker thread and logs
 * the result; orthrosctl prints it; the tests drive it with a fake CRIU.
 */
#ifndef ORTHROS_CHECKPOINTER_H
#define ORTHROS_CHECKPOINTER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ckpt-criu.h"
#include "ckpt-data.h"
#include "ckpt-store.h"

struct ckpt_watchdog;

struct ckpt_policy {
	uint64_t interval_ns;
	bool incremental;		/* pre-dump + dump on the previous images */
	uint64_t max_freeze_ns;
};

enum ckpt_kind { CKPT_FULL, CKPT_INCREMENTAL };

struct ckpt_result {
	enum ckpt_kind kind;
	uint64_t seq, parent_seq;	/* the dump's set and its parent */
	uint64_t predump_seq;		/* the pre-dump's set, or 0 (plain or direct dump) */
	uint64_t freeze_ns;		/* the dump's freeze */
	uint64_t predump_freeze_ns;	/* the pre-dump's, if any */
	bool freeze_from_stats;		/* CRIU's figures, not the dump call's duration */
	bool over_max_freeze;		/* either freeze was longer than max_freeze */
	/*
	 * Nonzero: an increment that pre-dumped although this few pages were
	 * dirty, because copying them frozen would have taken its freeze over
	 * max_freeze.
	 */
	uint64_t capped_dirty_pages;
	/* The freeze without its page copy, as estimated after this dump: 0 unknown. */
	uint64_t fixed_freeze_ns;
	uint64_t dump_ns;		/* CRIU calls, wall time */
	uint64_t pack_ns;		/* into the store */
	uint64_t bytes;			/* payload stored */
	uint64_t pages_written;
	/* The group's data paths, copied into the dump while it was frozen. */
	struct ckpt_data_stats data;
	bool criu_killed;		/* failed: the watchdog killed its CRIU */
	uint64_t retry_ns;		/* then: the next attempt is this far off */
	char msg[512];			/* why it failed */
	char note[256];			/* why it started a new chain, if it had to */
};

#define CKPT_MAX_DIRS (2 * CKPT_MAX_SLOTS)

struct checkpointer {
	struct ckpt_watchdog *watchdog;	/* a deadline on each CRIU call; NULL: none */
	const struct ckpt_criu_ops *ops;
	void *ops_ctx;
	struct ckpt_store *store;
	char group[CKPT_GROUP_LEN];
	char workdir[256];		/* tmpfs: this group's image directories */
	struct ckpt_policy pol;
	uint64_t (*clock)(void);	/* CLOCK_MONOTONIC ns; the tests fake it */
	uint64_t next_ns;		/* the next checkpoint is due then */
	/*
	 * The chain since the last full dump, oldest first: image directory
	 * numbers under workdir and their sets.  CRIU needs every directory of
	 * it to dump incrementally; the store holds the same chain.
	 */
	unsigned int nchain;
	unsigned int dir[CKPT_MAX_DIRS];
	uint64_t seq[CKPT_MAX_DIRS];
	unsigned int next_dir;
	/* The tree the chain is of: its leader and when that started. */
	pid_t chain_pid;
	uint64_t chain_born;
	unsigned int failures;		/* in a row */
	unsigned int killed;		/* CRIUs the watchdog killed since the last good checkpoint */
	/*
	 * Pages the group dirtied over about one interval, as the last
	 * checkpoint's CRIU stats showed (dirty_known): few enough, and the
	 * next increment is one dump straight on the previous one, a single
	 * freeze that copies them, instead of a pre-dump and a dump.
	 */
	uint64_t dirty_pages;
	bool dirty_known;
	/*
	 * The last dump's freeze less what copying its pages took (estimated
	 * at CKPT_FROZEN_NS_PER_PAGE), when CRIU's stats gave it: what any
	 * dump of this tree costs frozen, whatever it copies.  0: unknown.
	 */
	uint64_t fixed_freeze_ns;
	unsigned int failed_log[2];	/* the last failure's CRIU logs, kept for the reason */
	bool stop_tree;			/* the final dump: the tree does not run on */
	/*
	 * The group's files on the data disk (configuration: data_paths):
	 * every dump takes them while CRIU holds the tree frozen, so a
	 * restore puts back files and memory of one instant (ckpt-data.h).
	 * Empty: memory only.
	 */
	struct ckpt_data_paths data;
	/*
	 * Held (flock) around every checkpoint when >= 0: the store region's
	 * fd, so orthrosd's rounds and an operator's or the resource agent's
	 * `orthrosctl ckpt dump` in the same partition never interleave their
	 * writes to the store.  -1 (the tests): no lock.
	 */
	int lock_fd;
};

/* mkdir -p, mode 0700. */
int ckpt_mkdirs(const char *path);

/* Creates @workdir if missing.  The first checkpoint is due at once. */
int checkpointer_init(struct checkpointer *c, struct ckpt_store *s, const char *group,
		      const char *workdir, const struct ckpt_policy *pol,
		      const struct ckpt_criu_ops *ops, void *ops_ctx);
bool checkpointer_due(const struct checkpointer *c, uint64_t now_ns);
/*
 * An increment whose group dirtied at most this many pages (16 MiB) over
 * the last interval is one dump on the previous one: copying them frozen
 * costs less than a second freeze (CRIU's fixed cost, ~100 ms under TCG).
 */
#define CKPT_DIRECT_MAX_PAGES 4096u
/*
 * What a page copied while frozen adds to a dump's freeze (CRIU's parasite
 * splices it into a pipe).  Measured under TCG: 9.5-14 us (plain full dumps
 * of 64-512 MB less their fixed part, docs/protected.md); hardware is
 * faster, so this over-estimates there, which only makes an increment
 * near max_freeze pre-dump when it need not.
 */
#define CKPT_FROZEN_NS_PER_PAGE 15000u

/* Would the next checkpoint be incremental? */
bool checkpointer_next_incremental(const struct checkpointer *c);
/*
 * Checkpoint the tree rooted at @pid now.  0: a new set is in the store
 * (details in @res); < 0: nothing new is visible to a restore (a pre-dump
 * set that was stored before its dump failed to store is skipped by
 * restore), why in res->msg.  The next checkpoint is then due one interval
 * after this one began.
 */
int checkpointer_run(struct checkpointer *c, pid_t pid, struct ckpt_result *res);
/*
 * The final checkpoint of a planned stop: as checkpointer_run, but the
 * tree is killed by CRIU once dumped, so nothing it does after its last
 * checkpoint is lost (or seen by a client).  If the dump fails the tree
 * keeps running.
 */
int checkpointer_final(struct checkpointer *c, pid_t pid, struct ckpt_result *res);
/* Remove the image directories kept for the next increment. */
void checkpointer_fini(struct checkpointer *c);

struct ckpt_restore_result {
	pid_t pid;
	uint64_t seq;			/* the dump restored */
	unsigned int chain_len;		/* sets it was made of */
	unsigned int skipped_predumps;	/* newer pre-dump sets passed over */
	uint64_t extract_ns, restore_ns;
	unsigned int refused;		/* sets found corrupt on the way */
	struct ckpt_info info[CKPT_MAX_SLOTS];	/* the store as the restore saw it */
	unsigned int n;
	char dir[512];			/* where the images were extracted, or the view mounted */
	char images[540];		/* the extracted dump's directory in it */
	char work[600];			/* CRIU's logs, pid files */
	bool viewed;			/* served by ops->present, not extracted */
	uint64_t lazy_pages, eager_pages;	/* of the view */
	bool view_failed;		/* a restore from the view failed: extracted after it */
	char view_msg[768];		/* why the chain was extracted after all */
	struct ckpt_data_stats data;	/* the group's files put back before CRIU ran */
	char msg[512];
};

/*
 * Restore @group from the newest restorable set that is a dump (a
 * pre-dump holds memory only) with its chain, extracted under @workdir,
 * or presented by @ops->present when it has one (falling back to
 * extraction when it cannot, or when CRIU fails on what it presented).
 * -ENOENT: no checkpoint, a cold start.  @wd (or NULL): a deadline on
 * CRIU's restore; past it CRIU and what it restored so far are killed,
 * and the restore fails with -ETIMEDOUT (not tried again: a restore
 * that hung once holds the service back again).
 */
int ckpt_restore_group(struct ckpt_store *s, const char *group, const char *workdir,
		       const struct ckpt_criu_ops *ops, void *ops_ctx,
		       const struct ckpt_data_paths *data, struct ckpt_watchdog *wd,
		       struct ckpt_restore_result *res);

/*
 * The same in two halves, for a restore prepared ahead of need (the
 * BackupOS's standby, ckpt-standby.c): prepare chooses the chain and
 * presents or extracts it, its directory open in @req; run restores from
 * it (choosing again by extraction if CRIU fails on a view).  A prepared
 * restore that will not run is abandoned: its view released, its
 * directory removed.
 */
int ckpt_restore_prepare(struct ckpt_store *s, const char *group, const char *workdir,
			 const struct ckpt_criu_ops *ops, void *ops_ctx,
			 struct ckpt_restore_result *res, struct ckpt_criu_req *req);
int ckpt_restore_run(struct ckpt_store *s, const char *group, const char *workdir,
		     const struct ckpt_criu_ops *ops, void *ops_ctx, const struct ckpt_data_paths *data,
		     struct ckpt_watchdog *wd, struct ckpt_restore_result *res, struct ckpt_criu_req *req);
/*
 * What a restore would choose now (headers and file listings only, no
 * payload read): the dump's sequence number in *seq; -ENOENT: none.
 */
int ckpt_restore_choose(struct ckpt_store *s, const char *group, const char *workdir,
			struct ckpt_restore_result *res, uint64_t *seq);
void ckpt_restore_abandon(const struct ckpt_criu_ops *ops, void *ops_ctx,
			  struct ckpt_restore_result *res, struct ckpt_criu_req *req);
/*
 * A prepared restore that was run by other means (the standby's restore
 * ahead, @ops->restore with leave_stopped): released as a restore that
 * succeeded, its view kept until the tree's memory is in.
 */
int ckpt_restore_finish(const struct ckpt_criu_ops *ops, void *ops_ctx,
			struct ckpt_restore_result *res, struct ckpt_criu_req *req);

/*
 * Sets found corrupt after a restore began (a lazy restore checks each
 * piece as CRIU reads it, after the group may already run): noted in
 * WORKDIR/refused, one "FORMAT_ID SEQ" line each (the store's format, in
 * hex), so the restore that follows the group's death passes over them.
 * The note lives on the partition's tmpfs; another partition finds the
 * damage again for itself.
 */
#define CKPT_REFUSED_FILE "refused"
int ckpt_note_refused(const char *path, uint64_t format_id, uint64_t seq);

/* Is set @set a dump CRIU can restore from (it holds core-*.img)?  < 0: unreadable. */
int ckpt_set_is_dump(struct ckpt_store *s, const struct ckpt_info *set);

#endif /* ORTHROS_CHECKPOINTER_H */
