// SPDX-License-Identifier: GPL-2.0
#ifdef __KERNEL__
#include <linux/string.h>
#else
#include <string.h>
#endif

#include "orthros_watch.h"

void orthros_watch_init(struct orthros_watch *w, u32 self, u64 peers,
			u64 timeout_ns)
{
	memset(w, 0, sizeof(*w));
	w->self = self;
	w->peers = peers;
	w->timeout_ns = timeout_ns;
}

static void emit_event(orthros_emit_fn emit, void *ctx, u32 type, u32 id,
		       const struct orthros_watch_peer *p, u32 detail, u64 now,
		       u64 peer_ts)
{
	struct orthros_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = type;
	ev.peer = id;
	ev.generation = p->generation;
	ev.detail = detail;
	ev.ts_ns = now;
	ev.peer_ts_ns = peer_ts;
	ev.heartbeat = p->heartbeat;
	emit(ctx, &ev);
}

/*
 * A notice carries the peer's own time of the notice (state_ns), so that a
 * reader with a clock mapping can tell notice-to-detection latency.
 */
static void state_event(struct orthros_watch_peer *p, u32 id, u32 state,
			u64 state_ns, orthros_emit_fn emit, void *ctx, u64 now)
{
	if (state == p->state)
		return;
	p->state = state;
	if (state == ORTHROS_STATE_PANIC)
		emit_event(emit, ctx, ORTHROS_EV_PANIC, id, p, 0, now, state_ns);
	else if (state == ORTHROS_STATE_STOPPING)
		emit_event(emit, ctx, ORTHROS_EV_STOPPING, id, p, 0, now, state_ns);
}

static void scan_one(struct orthros_watch *w, u32 id, void *rec, u64 now,
		     orthros_emit_fn emit, void *ctx)
{
	struct orthros_watch_peer *p = &w->p[id];
	struct orthros_rec r;
	bool never = false;
	enum orthros_invalid why = ORTHROS_INVALID_HEADER;

	if (rec)
		why = orthros_rec_read(rec, id, &r, &never);

	if (why == ORTHROS_INVALID_NONE && p->known &&
	    !memcmp(r.boot_id, p->boot_id, sizeof(r.boot_id)) &&
	    r.heartbeat < p->heartbeat)
		why = ORTHROS_INVALID_COUNTER;

	if (why != ORTHROS_INVALID_NONE) {
		/*
		 * An empty slot is silence, not an attack, and a record caught
		 * mid-write says nothing yet (its writer may be preempted; if it
		 * never finishes, the timeout speaks).  Garbage is reported once.
		 */
		if (!(never && !p->known) && why != ORTHROS_INVALID_TORN &&
		    p->invalid != (u32)why) {
			p->invalid = why;
			emit_event(emit, ctx, ORTHROS_EV_RECORD_INVALID, id, p,
				   why, now, p->heartbeat_ns);
		}
		goto timeout;	/* garbage is never a heartbeat */
	}
	p->invalid = 0;

	if (!p->known || memcmp(r.boot_id, p->boot_id, sizeof(r.boot_id))) {
		/* A new kernel in this slot: forget everything about the old one. */
		memset(p, 0, sizeof(*p));
		p->known = true;
		memcpy(p->boot_id, r.boot_id, sizeof(p->boot_id));
		p->generation = r.generation;
		p->doorbell = r.doorbell;
		p->role = r.role;
		p->heartbeat = r.heartbeat;
		p->heartbeat_ns = r.heartbeat_ns;
		p->last_beat = now;
		p->state = ORTHROS_STATE_DOWN;
		/*
		 * A RUNNING record may be the last word of a partition that was
		 * killed without a notice: it is up only once its counter moves.
		 */
		if (r.state == ORTHROS_STATE_RUNNING)
			p->up_pending = true;
		else
			state_event(p, id, r.state, r.state_ns, emit, ctx, now);
		return;
	}

	p->generation = r.generation;
	p->doorbell = r.doorbell;
	p->role = r.role;
	if (r.heartbeat > p->heartbeat) {
		p->heartbeat = r.heartbeat;
		p->heartbeat_ns = r.heartbeat_ns;
		p->last_beat = now;
		if (p->up_pending && r.state == ORTHROS_STATE_RUNNING) {
			p->up_pending = false;
			p->state = r.state;
			emit_event(emit, ctx, ORTHROS_EV_PEER_UP, id, p, 0, now,
				   p->heartbeat_ns);
		} else if (p->lost) {
			p->lost = false;
			emit_event(emit, ctx, ORTHROS_EV_HEARTBEAT_BACK, id, p,
				   0, now, p->heartbeat_ns);
		}
	}
	if (!(p->up_pending && r.state == ORTHROS_STATE_RUNNING)) {
		p->up_pending = false;
		state_event(p, id, r.state, r.state_ns, emit, ctx, now);
	}

timeout:
	if (p->known && p->state == ORTHROS_STATE_RUNNING && !p->lost &&
	    now - p->last_beat > w->timeout_ns) {
		p->lost = true;
		emit_event(emit, ctx, ORTHROS_EV_HEARTBEAT_LOST, id, p, 0, now,
			   p->heartbeat_ns);
	}
}

bool orthros_watch_doorbell(const struct orthros_watch *w, u32 id, u32 *doorbell)
{
	if (id >= ORTHROS_MAX_PEERS || !w->p[id].known)
		return false;
	*doorbell = w->p[id].doorbell;
	return true;
}

bool orthros_watch_is_partition(const struct orthros_watch *w, u32 id)
{
	if (id >= ORTHROS_MAX_PEERS || !w->p[id].known)
		return false;
	return w->p[id].role == ORTHROS_ROLE_ACTIVE ||
	       w->p[id].role == ORTHROS_ROLE_BACKUP;
}

void orthros_watch_scan(struct orthros_watch *w, void *shm, u64 size,
			u64 now_ns, orthros_emit_fn emit, void *ctx)
{
	u32 id;

	for (id = 0; id < ORTHROS_MAX_PEERS; id++) {
		void *rec;

		if (id == w->self || !(w->peers & ((u64)1 << id)))
			continue;
		/* A scribbled header hides every record but not the clock. */
		rec = orthros_shm_record(shm, size, id);
		scan_one(w, id, rec, now_ns, emit, ctx);
	}
}
