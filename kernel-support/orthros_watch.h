/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The watcher's state machine, shared by orthros.ko and user space: given
 * the shared region and the local time, decide which peers appeared, died,
 * hung, came back or wrote garbage.  No I/O, no locking: the caller
 * serialises calls and delivers the events.
 */
#ifndef _ORTHROS_WATCH_H
#define _ORTHROS_WATCH_H

#include "orthros_proto.h"

struct orthros_watch_peer {
	bool known;		/* a valid record of this boot has been seen */
	bool lost;		/* HEARTBEAT_LOST reported, no beat since */
	bool up_pending;	/* RUNNING record, counter not yet seen moving */
	u32 invalid;		/* last refusal reported (0 = none) */
	u32 state;
	u32 generation;
	u32 doorbell;		/* where to ring it, from its last valid record */
	u32 role;		/* from its last valid record */
	u8 boot_id[16];
	u64 heartbeat;
	u64 heartbeat_ns;	/* the peer's clock, for the event */
	u64 last_beat;		/* local time the counter last advanced */
};

struct orthros_watch {
	u32 self;		/* never watch our own record */
	u64 peers;		/* bitmap of peer ids to watch */
	u64 timeout_ns;
	struct orthros_watch_peer p[ORTHROS_MAX_PEERS];
};

typedef void (*orthros_emit_fn)(void *ctx, const struct orthros_event *ev);

void orthros_watch_init(struct orthros_watch *w, u32 self, u64 peers,
			u64 timeout_ns);

/*
 * The doorbell address of slot @id if a valid record of it has been seen;
 * false otherwise (nothing to ring).
 */
bool orthros_watch_doorbell(const struct orthros_watch *w, u32 id, u32 *doorbell);

/* Slot @id is a partition (Active or Backup) by its last valid record. */
bool orthros_watch_is_partition(const struct orthros_watch *w, u32 id);

/* Examine every watched record; call @emit for each event, in order. */
void orthros_watch_scan(struct orthros_watch *w, void *shm, u64 size,
			u64 now_ns, orthros_emit_fn emit, void *ctx);

#endif /* _ORTHROS_WATCH_H */
