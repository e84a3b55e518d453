/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * Orthros inter-partition protocol: the shared-memory layout, the event
 * records read from /dev/orthros, and its ioctls.  One header for the kernel
 * module, the user-space library and the host-side doorbell peer.
 *
 * Layout of the shared region (all integers little-endian):
 *
 *   offset 0                 struct orthros_shm_header
 *   header.records_offset    struct orthros_peer_record [header.nr_records]
 *
 * Record i (the peer's "slot") belongs to one peer and only that peer
 * writes it.  The slot is the transport's peer address modulo
 * ORTHROS_MAX_PEERS; the address itself (ivshmem IVPosition) is published
 * in the record as "doorbell", because the doorbell server never reuses an
 * address (QEMU's ivshmem cannot take a reused one) while slots are
 * reused.  Every reader treats every byte as hostile: a peer may be a
 * crashed kernel scribbling at random.
 */
#ifndef _UAPI_LINUX_ORTHROS_H
#define _UAPI_LINUX_ORTHROS_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define ORTHROS_SHM_MAGIC	0x4d485354u	/* "TSHM" little-endian */
#define ORTHROS_REC_MAGIC	0x43455254u	/* "TREC" little-endian */
#define ORTHROS_PROTO_VERSION	1u

#define ORTHROS_MAX_PEERS	16u
#define ORTHROS_REASON_LEN	64u

/* Doorbell vectors. */
#define ORTHROS_VEC_HEARTBEAT	0u
#define ORTHROS_VEC_NOTICE	1u
#define ORTHROS_NR_VECTORS	2u

struct orthros_shm_header {
	__le32 magic;
	__le32 version;
	__le64 size;		/* bytes of the whole region */
	__le32 header_size;	/* sizeof(struct orthros_shm_header) */
	__le32 record_size;	/* sizeof(struct orthros_peer_record) */
	__le32 nr_records;	/* <= ORTHROS_MAX_PEERS */
	__le32 records_offset;
	__le32 reserved[9];
	__le32 checksum;	/* crc32 (zlib) of the header with this field 0 */
};

enum orthros_role {
	ORTHROS_ROLE_NONE = 0,
	ORTHROS_ROLE_ACTIVE = 1,
	ORTHROS_ROLE_BACKUP = 2,
	ORTHROS_ROLE_CONTROLLER = 3,
	ORTHROS_ROLE_MAX = ORTHROS_ROLE_CONTROLLER,
};

enum orthros_state {
	ORTHROS_STATE_DOWN = 0,		/* record never written or peer gone */
	ORTHROS_STATE_RUNNING = 1,
	ORTHROS_STATE_PANIC = 2,	/* written from the panic notifier */
	ORTHROS_STATE_STOPPING = 3,	/* reboot / kexec: a planned stop */
	ORTHROS_STATE_MAX = ORTHROS_STATE_STOPPING,
};

struct orthros_peer_record {
	__le32 magic;
	__le32 seq;		/* odd while the owner is writing */
	__le32 peer_id;		/* the slot: must equal the record's index */
	__le32 generation;	/* orthros.gen=N of the kernel that owns it */
	__le32 role;		/* enum orthros_role */
	__le32 state;		/* enum orthros_state */
	__u8   boot_id[16];	/* random per boot: tells a new kernel from an old one */
	__le64 heartbeat;	/* bumped once per beat */
	__le64 heartbeat_ns;	/* owner's CLOCK_MONOTONIC at the last beat */
	__le64 state_ns;	/* owner's CLOCK_MONOTONIC at the last state change */
	__le32 interval_us;	/* owner's heartbeat interval */
	__le32 timeout_us;	/* what its watchers should allow */
	char   reason[ORTHROS_REASON_LEN];	/* panic message, NUL-terminated */
	__le32 doorbell;	/* transport address to ring this peer at */
	__le32 reserved[2];
	__le32 checksum;	/* crc32 (zlib) of the record with this field 0 */
};

enum orthros_event_type {
	ORTHROS_EV_PEER_UP = 1,		/* a valid RUNNING record appeared (new boot id) */
	ORTHROS_EV_HEARTBEAT_LOST = 2,	/* no beat within the timeout */
	ORTHROS_EV_HEARTBEAT_BACK = 3,	/* beats resumed after HEARTBEAT_LOST */
	ORTHROS_EV_PANIC = 4,		/* the peer's kernel panicked */
	ORTHROS_EV_STOPPING = 5,	/* the peer is rebooting / kexecing */
	ORTHROS_EV_RECORD_INVALID = 6,	/* the peer's record failed validation */
	ORTHROS_EV_OVERFLOW = 7,	/* events were dropped; rescan state */
};

/* Fixed-size record returned by read(2) on /dev/orthros. */
struct orthros_event {
	__u32 type;		/* enum orthros_event_type */
	__u32 peer;		/* peer id */
	__u32 generation;	/* the peer's generation as last validated */
	/* RECORD_INVALID: enum orthros_invalid; PANIC, STOPPING: enum orthros_seen */
	__u32 detail;
	__u64 seq;		/* per-device event counter, gaps mean loss */
	__u64 ts_ns;		/* local CLOCK_MONOTONIC when detected */
	/* peer's clock: notice time for PANIC and STOPPING, else its last beat */
	__u64 peer_ts_ns;
	__u64 heartbeat;	/* the peer's heartbeat counter */
};

/*
 * How a notice was learnt (event detail of PANIC and STOPPING): on the
 * notice doorbell, on a heartbeat doorbell, or only by the periodic scan
 * (every doorbell was lost or late).  The user-space backend says UNKNOWN.
 */
enum orthros_seen {
	ORTHROS_SEEN_UNKNOWN = 0,
	ORTHROS_SEEN_NOTICE = 1,
	ORTHROS_SEEN_BEAT = 2,
	ORTHROS_SEEN_SCAN = 3,
};

/* Why a record was refused (event detail). */
enum orthros_invalid {
	ORTHROS_INVALID_NONE = 0,
	ORTHROS_INVALID_MAGIC = 1,
	ORTHROS_INVALID_CHECKSUM = 2,
	ORTHROS_INVALID_PEER_ID = 3,
	ORTHROS_INVALID_ROLE = 4,
	ORTHROS_INVALID_STATE = 5,
	ORTHROS_INVALID_TORN = 6,	/* never stable between two reads */
	ORTHROS_INVALID_REASON = 7,	/* reason not NUL-terminated */
	ORTHROS_INVALID_COUNTER = 8,	/* heartbeat went backwards, same boot */
	ORTHROS_INVALID_HEADER = 9,
};

struct orthros_info {
	__u32 peer_id;		/* our slot */
	__u32 nr_vectors;
	__u64 shm_size;
	__u32 generation;
	__u32 role;
	__u32 interval_us;
	__u32 timeout_us;
	__u64 peers;		/* bitmap of peers we beat to and watch */
};

struct orthros_role_req {
	__u32 generation;
	__u32 role;		/* enum orthros_role */
};

struct orthros_hb_req {
	__u32 interval_us;	/* 1000 .. 10000000 */
	__u32 timeout_us;	/* >= 2 * interval_us */
};

struct orthros_ring_req {
	__u32 peer;		/* slot; rung at the doorbell its record names */
	__u32 vector;
};

#define ORTHROS_IOC_MAGIC	0xb7
#define ORTHROS_IOC_GET_INFO	_IOR(ORTHROS_IOC_MAGIC, 1, struct orthros_info)
#define ORTHROS_IOC_SET_ROLE	_IOW(ORTHROS_IOC_MAGIC, 2, struct orthros_role_req)
#define ORTHROS_IOC_SET_HEARTBEAT _IOW(ORTHROS_IOC_MAGIC, 3, struct orthros_hb_req)
#define ORTHROS_IOC_SET_PEERS	_IOW(ORTHROS_IOC_MAGIC, 4, __u64)
#define ORTHROS_IOC_RING	_IOW(ORTHROS_IOC_MAGIC, 5, struct orthros_ring_req)

#endif /* _UAPI_LINUX_ORTHROS_H */
