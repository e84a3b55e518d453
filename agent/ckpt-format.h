/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The checkpoint store's on-region format (docs/checkpoint-store.md).
 *
 * The region is shared between partitions and outlives the kernel that
 * wrote it, so it may hold anything a crashing kernel left behind.  Every
 * integer is little-endian and fixed-width; every structure has a fixed
 * size checked below, so the format does not depend on a compiler's idea
 * of padding.  Readers copy a structure out of the region before looking
 * at any field.
 *
 *   offset 0             struct ckpt_super (64 bytes), written once by format
 *   slots_offset         nr_slots x slot_size bytes, each:
 *     +0                 struct ckpt_slot_header (128 bytes)
 *     +128               payload: payload_len bytes of
 *                          struct ckpt_file_entry (256 bytes) + size bytes of data
 *                        back to back, nr_files times, nothing after the last
 */
#ifndef ORTHROS_CKPT_FORMAT_H
#define ORTHROS_CKPT_FORMAT_H

#include <assert.h>
#include <stdint.h>

#define CKPT_SUPER_MAGIC	0x504b434fu	/* "OCKP" read as little-endian bytes */
#define CKPT_SLOT_MAGIC		0x534b434fu	/* "OCKS" */
#define CKPT_VERSION		1u

/*
 * The keep policy, as in the configuration (checkpoint.keep): keep + 1
 * slots, so writing a new set never has to take one of the kept ones.
 */
#define CKPT_MIN_KEEP		2u
#define CKPT_MAX_KEEP		64u
#define CKPT_MAX_SLOTS		(CKPT_MAX_KEEP + 1)

/* Where format puts things; readers accept any geometry that fits. */
#define CKPT_ALIGN		4096u

#define CKPT_GROUP_LEN		64	/* incl. NUL: 63 characters, like a config name */
#define CKPT_NAME_LEN		240	/* incl. NUL */

/*
 * A cap on files per set: a CRIU image directory holds a few files per
 * process.  It bounds the work a reader does for a hostile file count.
 */
#define CKPT_MAX_FILES		65536u

/*
 * A partial set (a CRIU pre-dump: memory only, no task state) is never a
 * restore point of its own, only a parent: the chain rule passes over it
 * when it picks a group's newest set, so the reclaim rule keeps the
 * group's last complete chain while a new chain is only half written.
 */
#define CKPT_SET_PARTIAL	0x1u
#define CKPT_SET_KNOWN		CKPT_SET_PARTIAL

/*
 * Every set written since chunk tables exist ends with one: a file of this
 * reserved name holding the CRC-32 of each CKPT_CHUNK_SIZE piece of every
 * file before it, so that a reader can verify the piece it needs without
 * reading the whole payload (a lazy restore serves pages as they fault).
 * The payload CRC still covers everything, the table included.
 *
 *   struct ckpt_chunks_head
 *   uint32_t crc[nr_chunks]	files in payload order, each file's chunks
 *				from its first byte; the last may be short;
 *				an empty file has none
 *   uint32_t table_crc		CRC-32 of the head and the crc array
 */
#define CKPT_CHUNKS_NAME	"orthros.chunks"
#define CKPT_CHUNKS_MAGIC	0x43434b4fu	/* "OKCC" */
#define CKPT_CHUNK_SIZE		65536u

enum ckpt_slot_state {
	CKPT_STATE_EMPTY = 0,		/* never written, or a write given up */
	CKPT_STATE_WRITING = 1,		/* a writer owns the slot: invisible */
	CKPT_STATE_COMMITTED = 2,	/* complete; payload_crc covers the payload */
};

struct ckpt_super {
	uint32_t magic;			/*  0 CKPT_SUPER_MAGIC */
	uint32_t version;		/*  4 CKPT_VERSION */
	uint64_t size;			/*  8 bytes of the region in use (<= the mapping) */
	uint32_t super_size;		/* 16 sizeof(struct ckpt_super) */
	uint32_t slot_header_size;	/* 20 sizeof(struct ckpt_slot_header) */
	uint32_t nr_slots;		/* 24 keep + 1 */
	uint32_t keep;			/* 28 the policy the region was formatted with */
	uint64_t slots_offset;		/* 32 first slot; multiple of 8 */
	uint64_t slot_size;		/* 40 bytes per slot incl. its header; multiple of 8 */
	uint64_t format_id;		/* 48 random per format; copied into every slot header */
	uint32_t reserved;		/* 56 zero */
	uint32_t crc;			/* 60 CRC-32 of this structure with crc = 0 */
};

struct ckpt_slot_header {
	uint32_t magic;			/*   0 CKPT_SLOT_MAGIC; 0 = never written */
	uint32_t state;			/*   4 enum ckpt_slot_state */
	uint64_t seq;			/*   8 > 0, strictly increasing across the region */
	uint64_t parent_seq;		/*  16 0 = self-contained; else < seq, same group */
	uint64_t format_id;		/*  24 the superblock's: a header from an older format is stale */
	uint64_t created_ns;		/*  32 writer's CLOCK_REALTIME at begin */
	uint64_t payload_len;		/*  40 bytes of payload (COMMITTED only) */
	uint32_t nr_files;		/*  48 file entries in the payload */
	uint32_t payload_crc;		/*  52 CRC-32 of the payload_len bytes */
	char group[CKPT_GROUP_LEN];	/*  56 [A-Za-z0-9_.-]{1,63}, NUL-terminated */
	uint32_t flags;			/* 120 CKPT_SET_*; zero in sets written before flags existed */
	uint32_t header_crc;		/* 124 CRC-32 of this structure with header_crc = 0 */
};

struct ckpt_file_entry {
	uint64_t size;			/*   0 bytes of data following this entry */
	uint32_t mode;			/*   8 permission bits (0777 at most) */
	uint32_t reserved;		/*  12 zero */
	char name[CKPT_NAME_LEN];	/*  16 a plain file name, NUL-terminated */
};

struct ckpt_chunks_head {
	uint32_t magic;			/*  0 CKPT_CHUNKS_MAGIC */
	uint32_t chunk_size;		/*  4 CKPT_CHUNK_SIZE (the only size read) */
	uint32_t nr_files;		/*  8 files before the table */
	uint32_t reserved;		/* 12 zero */
	uint64_t nr_chunks;		/* 16 entries of the crc array */
};

static_assert(sizeof(struct ckpt_chunks_head) == 24, "chunk table head is 24 bytes");
static_assert(sizeof(struct ckpt_super) == 64, "superblock is 64 bytes");
static_assert(sizeof(struct ckpt_slot_header) == 128, "slot header is 128 bytes");
static_assert(sizeof(struct ckpt_file_entry) == 256, "file entry is 256 bytes");
static_assert(sizeof(struct ckpt_super) <= CKPT_ALIGN, "superblock fits before the slots");

/* The smallest slot a reader accepts: a header and one empty file. */
#define CKPT_MIN_SLOT_SIZE \
	(sizeof(struct ckpt_slot_header) + sizeof(struct ckpt_file_entry))

#endif /* ORTHROS_CKPT_FORMAT_H */
