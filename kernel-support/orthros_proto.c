// SPDX-License-Identifier: GPL-2.0
/*
 * The shared-region format.  Everything read from the region is copied to
 * private memory first and only the copy is checked and used, so a peer
 * that keeps writing cannot change a value between check and use.
 */
#ifdef __KERNEL__
#include <linux/errno.h>
#include <linux/stddef.h>
#else
#include <errno.h>
#include <stddef.h>
#endif

#include "orthros_proto.h"

#define ORTHROS_READ_RETRIES 4

static u32 header_crc(const struct orthros_shm_header *h)
{
	struct orthros_shm_header tmp = *h;

	tmp.checksum = 0;
	return orthros_crc32(&tmp, sizeof(tmp));
}

int orthros_shm_format(void *shm, u64 size)
{
	struct orthros_shm_header h;

	if (size < ORTHROS_SHM_MIN_SIZE)
		return -EINVAL;
	memset(shm, 0, ORTHROS_SHM_MIN_SIZE);
	memset(&h, 0, sizeof(h));
	h.magic = cpu_to_le32(ORTHROS_SHM_MAGIC);
	h.version = cpu_to_le32(ORTHROS_PROTO_VERSION);
	h.size = cpu_to_le64(size);
	h.header_size = cpu_to_le32(sizeof(struct orthros_shm_header));
	h.record_size = cpu_to_le32(sizeof(struct orthros_peer_record));
	h.nr_records = cpu_to_le32(ORTHROS_MAX_PEERS);
	h.records_offset = cpu_to_le32(sizeof(struct orthros_shm_header));
	h.checksum = cpu_to_le32(header_crc(&h));
	memcpy(shm, &h, sizeof(h));
	orthros_wmb();
	return 0;
}

int orthros_shm_check(const void *shm, u64 size, u32 *nr)
{
	struct orthros_shm_header h;
	u64 hsize, rsize, off, n, claimed;

	if (size < sizeof(h))
		return -ORTHROS_INVALID_HEADER;
	memcpy(&h, shm, sizeof(h));
	hsize = le32_to_cpu(h.header_size);
	rsize = le32_to_cpu(h.record_size);
	off = le32_to_cpu(h.records_offset);
	n = le32_to_cpu(h.nr_records);
	claimed = le64_to_cpu(h.size);

	if (le32_to_cpu(h.magic) != ORTHROS_SHM_MAGIC ||
	    le32_to_cpu(h.version) != ORTHROS_PROTO_VERSION ||
	    hsize != sizeof(h) || rsize != sizeof(struct orthros_peer_record) ||
	    n == 0 || n > ORTHROS_MAX_PEERS || off < hsize || off % 8 ||
	    claimed > size || off > claimed || n * rsize > claimed - off ||
	    le32_to_cpu(h.checksum) != header_crc(&h))
		return -ORTHROS_INVALID_HEADER;
	*nr = (u32)n;
	return 0;
}

u64 orthros_shm_record_offset(const void *shm, u64 size, u32 id)
{
	const struct orthros_shm_header *h = shm;
	u32 nr;

	if (orthros_shm_check(shm, size, &nr) || id >= nr)
		return 0;
	return le32_to_cpu(h->records_offset) +
	       (u64)id * sizeof(struct orthros_peer_record);
}

void *orthros_shm_record(void *shm, u64 size, u32 id)
{
	u64 off = orthros_shm_record_offset(shm, size, id);

	return off ? (char *)shm + off : NULL;
}

static u32 record_crc(const struct orthros_peer_record *r)
{
	struct orthros_peer_record tmp = *r;

	/* seq moves while the owner writes; it is not part of the content. */
	tmp.seq = 0;
	tmp.checksum = 0;
	return orthros_crc32(&tmp, sizeof(tmp));
}

enum orthros_invalid orthros_rec_decode(const struct orthros_peer_record *raw,
					u32 id, struct orthros_rec *out)
{
	u32 role = le32_to_cpu(raw->role);
	u32 state = le32_to_cpu(raw->state);

	if (le32_to_cpu(raw->magic) != ORTHROS_REC_MAGIC)
		return ORTHROS_INVALID_MAGIC;
	if (le32_to_cpu(raw->checksum) != record_crc(raw))
		return ORTHROS_INVALID_CHECKSUM;
	/* A valid checksum only proves the writer meant it; check the meaning. */
	if (le32_to_cpu(raw->peer_id) != id)
		return ORTHROS_INVALID_PEER_ID;
	if (role > ORTHROS_ROLE_MAX)
		return ORTHROS_INVALID_ROLE;
	if (state > ORTHROS_STATE_MAX)
		return ORTHROS_INVALID_STATE;
	if (!memchr(raw->reason, '\0', sizeof(raw->reason)))
		return ORTHROS_INVALID_REASON;

	out->peer_id = id;
	out->generation = le32_to_cpu(raw->generation);
	out->role = role;
	out->state = state;
	memcpy(out->boot_id, raw->boot_id, sizeof(out->boot_id));
	out->heartbeat = le64_to_cpu(raw->heartbeat);
	out->heartbeat_ns = le64_to_cpu(raw->heartbeat_ns);
	out->state_ns = le64_to_cpu(raw->state_ns);
	out->interval_us = le32_to_cpu(raw->interval_us);
	out->timeout_us = le32_to_cpu(raw->timeout_us);
	out->doorbell = le32_to_cpu(raw->doorbell);
	memcpy(out->reason, raw->reason, sizeof(out->reason));
	return ORTHROS_INVALID_NONE;
}

enum orthros_invalid orthros_rec_read(const void *src, u32 id,
				      struct orthros_rec *out,
				      bool *never_written)
{
	const struct orthros_peer_record *shared = src;
	struct orthros_peer_record copy;
	int i;

	*never_written = false;
	for (i = 0; i < ORTHROS_READ_RETRIES; i++) {
		u32 s1 = le32_to_cpu(orthros_load32(&shared->seq));

		orthros_rmb();
		memcpy(&copy, shared, sizeof(copy));
		orthros_rmb();
		if (s1 & 1 ||
		    s1 != le32_to_cpu(orthros_load32(&shared->seq)))
			continue;
		if (copy.magic == 0) {
			*never_written = true;
			return ORTHROS_INVALID_MAGIC;
		}
		return orthros_rec_decode(&copy, id, out);
	}
	return ORTHROS_INVALID_TORN;
}

void orthros_rec_write(void *dst, const struct orthros_rec *rec)
{
	struct orthros_peer_record *shared = dst;
	struct orthros_peer_record r;
	u32 seq = le32_to_cpu(orthros_load32(&shared->seq));

	/*
	 * Force odd even if we interrupted ourselves mid-write (the panic
	 * notifier may run while this CPU's hrtimer was publishing).
	 */
	seq = (seq | 1) + 2;
	orthros_store32(&shared->seq, cpu_to_le32(seq));
	orthros_wmb();

	memset(&r, 0, sizeof(r));
	r.magic = cpu_to_le32(ORTHROS_REC_MAGIC);
	r.peer_id = cpu_to_le32(rec->peer_id);
	r.generation = cpu_to_le32(rec->generation);
	r.role = cpu_to_le32(rec->role);
	r.state = cpu_to_le32(rec->state);
	memcpy(r.boot_id, rec->boot_id, sizeof(r.boot_id));
	r.heartbeat = cpu_to_le64(rec->heartbeat);
	r.heartbeat_ns = cpu_to_le64(rec->heartbeat_ns);
	r.state_ns = cpu_to_le64(rec->state_ns);
	r.interval_us = cpu_to_le32(rec->interval_us);
	r.timeout_us = cpu_to_le32(rec->timeout_us);
	r.doorbell = cpu_to_le32(rec->doorbell);
	memcpy(r.reason, rec->reason, sizeof(r.reason));
	r.reason[sizeof(r.reason) - 1] = '\0';
	r.checksum = cpu_to_le32(record_crc(&r));
	r.seq = cpu_to_le32(seq);
	memcpy((void *)shared, &r, sizeof(r));

	orthros_wmb();
	orthros_store32(&shared->seq, cpu_to_le32(seq + 1));
}

const char *orthros_invalid_name(enum orthros_invalid why)
{
	switch (why) {
	case ORTHROS_INVALID_NONE: return "valid";
	case ORTHROS_INVALID_MAGIC: return "bad magic";
	case ORTHROS_INVALID_CHECKSUM: return "bad checksum";
	case ORTHROS_INVALID_PEER_ID: return "wrong peer id";
	case ORTHROS_INVALID_ROLE: return "unknown role";
	case ORTHROS_INVALID_STATE: return "unknown state";
	case ORTHROS_INVALID_TORN: return "torn (never stable)";
	case ORTHROS_INVALID_REASON: return "reason not terminated";
	case ORTHROS_INVALID_COUNTER: return "heartbeat went backwards";
	case ORTHROS_INVALID_HEADER: return "bad region header";
	}
	return "?";
}

const char *orthros_event_name(u32 type)
{
	switch (type) {
	case ORTHROS_EV_PEER_UP: return "PEER_UP";
	case ORTHROS_EV_HEARTBEAT_LOST: return "HEARTBEAT_LOST";
	case ORTHROS_EV_HEARTBEAT_BACK: return "HEARTBEAT_BACK";
	case ORTHROS_EV_PANIC: return "PANIC";
	case ORTHROS_EV_STOPPING: return "STOPPING";
	case ORTHROS_EV_RECORD_INVALID: return "RECORD_INVALID";
	case ORTHROS_EV_OVERFLOW: return "OVERFLOW";
	}
	return "?";
}

const char *orthros_state_name(u32 state)
{
	switch (state) {
	case ORTHROS_STATE_DOWN: return "down";
	case ORTHROS_STATE_RUNNING: return "running";
	case ORTHROS_STATE_PANIC: return "panic";
	case ORTHROS_STATE_STOPPING: return "stopping";
	}
	return "?";
}

const char *orthros_role_name(u32 role)
{
	switch (role) {
	case ORTHROS_ROLE_NONE: return "none";
	case ORTHROS_ROLE_ACTIVE: return "active";
	case ORTHROS_ROLE_BACKUP: return "backup";
	case ORTHROS_ROLE_CONTROLLER: return "controller";
	}
	return "?";
}
