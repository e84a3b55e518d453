/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Encoding and validation of the shared region, compiled both into
 * orthros.ko and into user space (liborthros, the doorbell server, the fuzz
 * target): one implementation of the rules, tested and fuzzed where it is
 * cheap to do so, and run where it matters.
 */
#ifndef _ORTHROS_PROTO_H
#define _ORTHROS_PROTO_H

#ifdef __KERNEL__
#include <linux/types.h>
#include <linux/string.h>
#include <linux/crc32.h>
#include <asm/barrier.h>
#include <asm/byteorder.h>
#define orthros_crc32(buf, len)	(crc32_le(~0u, (const u8 *)(buf), (len)) ^ ~0u)
/*
 * The seqcount around a shared record: the writer's barriers order "seq
 * odd" before the body and the body before "seq even"; the reader's pair
 * with them.  The peer is another kernel, so plain loads and stores of seq
 * must not be merged or torn: READ_ONCE / WRITE_ONCE.
 */
#define orthros_wmb()		smp_wmb()	/* pairs with orthros_rmb() */
#define orthros_rmb()		smp_rmb()	/* pairs with orthros_wmb() */
#define orthros_load32(p)	READ_ONCE(*(p))
#define orthros_store32(p, v)	WRITE_ONCE(*(p), (v))
#else
#include <endian.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <zlib.h>
typedef uint8_t u8;
typedef uint32_t u32;
typedef uint64_t u64;
#define cpu_to_le32(x)		htole32(x)
#define cpu_to_le64(x)		htole64(x)
#define le32_to_cpu(x)		le32toh(x)
#define le64_to_cpu(x)		le64toh(x)
#define orthros_crc32(buf, len)	((u32)crc32(0L, (const unsigned char *)(buf), (unsigned int)(len)))
#define orthros_wmb()		__atomic_thread_fence(__ATOMIC_RELEASE)
#define orthros_rmb()		__atomic_thread_fence(__ATOMIC_ACQUIRE)
#define orthros_load32(p)	__atomic_load_n((p), __ATOMIC_RELAXED)
#define orthros_store32(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELAXED)
#endif

#include "include/uapi/linux/orthros.h"

/* Host-order view of a record, produced only by a successful validation. */
struct orthros_rec {
	u32 peer_id;
	u32 generation;
	u32 role;
	u32 state;
	u8 boot_id[16];
	u64 heartbeat;
	u64 heartbeat_ns;
	u64 state_ns;
	u32 interval_us;
	u32 timeout_us;
	u32 doorbell;
	char reason[ORTHROS_REASON_LEN];
};

/* The smallest region that holds a header and ORTHROS_MAX_PEERS records. */
#define ORTHROS_SHM_MIN_SIZE \
	(sizeof(struct orthros_shm_header) + \
	 ORTHROS_MAX_PEERS * sizeof(struct orthros_peer_record))

/* Write a fresh header into @shm (the doorbell server does this once). */
int orthros_shm_format(void *shm, u64 size);

/*
 * Check the header of a region of @size bytes.  Returns 0 and the number of
 * usable records in *nr, or -ORTHROS_INVALID_HEADER.
 */
int orthros_shm_check(const void *shm, u64 size, u32 *nr);

/* Address (or offset, 0 if none) of record @id, if the header holds it. */
void *orthros_shm_record(void *shm, u64 size, u32 id);
u64 orthros_shm_record_offset(const void *shm, u64 size, u32 id);

/*
 * Copy record @id out of shared memory (seqcount-protected, a few retries)
 * and validate the copy.  Returns ORTHROS_INVALID_NONE with *out filled, or
 * the reason the record was refused.  A record whose magic is zero has
 * never been written: ORTHROS_INVALID_MAGIC with *never_written set.
 */
enum orthros_invalid orthros_rec_read(const void *src, u32 id,
				      struct orthros_rec *out,
				      bool *never_written);

/* Validate a private copy (the core of orthros_rec_read; fuzzed directly). */
enum orthros_invalid orthros_rec_decode(const struct orthros_peer_record *raw,
					u32 id, struct orthros_rec *out);

/* Publish @rec as record @dst (owner only): seq odd, fields, checksum, seq even. */
void orthros_rec_write(void *dst, const struct orthros_rec *rec);

const char *orthros_invalid_name(enum orthros_invalid why);
const char *orthros_event_name(u32 type);
const char *orthros_state_name(u32 state);
const char *orthros_role_name(u32 role);

#endif /* _ORTHROS_PROTO_H */
