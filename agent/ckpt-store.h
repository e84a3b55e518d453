/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The checkpoint store: CRIU image sets in a byte region that outlives the
 * ActiveOS (docs/checkpoint-store.md).  The core works on a (base, size)
 * region and does no I/O, so the tests and the fuzzer drive it on a
 * buffer; ckpt-dir.c moves sets between the store and directories.
 *
 * Every function returns 0 (or a count) on success and a negative errno on
 * failure, with a message in the store (ckpt_error()).  One writer at a
 * time: the Active writes, a Backup reads, and only writes once the Active
 * has been fenced.
 */
#ifndef ORTHROS_CKPT_STORE_H
#define ORTHROS_CKPT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ckpt-format.h"

struct ckpt_store {
	uint8_t *base;
	uint64_t size;			/* the superblock's size, <= the mapping */
	uint32_t nr_slots, keep;
	uint64_t slots_offset, slot_size;
	uint64_t format_id;
	/*
	 * Called at each ordering point of a commit with the range just
	 * written, after a release barrier; a file-backed mapping msyncs here.
	 * NULL: the barrier is enough (memory shared with the reader).
	 */
	int (*sync)(void *ctx, void *addr, uint64_t len);
	void *sync_ctx;
	/*
	 * Called before a set's payload is read, for a region mapped only in
	 * part (ckpt_region_open_sparse): it maps the set.  NULL: the whole
	 * region is mapped.
	 */
	int (*need)(void *ctx, uint32_t slot, uint64_t payload_len);
	void *need_ctx;
	char msg[256];
	uint64_t bad_seq;		/* the set a failed read was of (-EBADMSG), or 0 */
	/*
	 * ckpt_cache_verified(): the headers of sets whose payload this
	 * process has checked (or written); a listing skips the payload of a
	 * slot whose header is byte for byte the same.  NULL: every listing
	 * reads every payload.
	 */
	struct ckpt_slot_header *verified;
	uint8_t *verified_ok;
};

/* Why a slot does or does not hold a restorable set. */
enum ckpt_status {
	CKPT_OK = 0,		/* committed, valid, chain complete */
	CKPT_EMPTY,
	CKPT_WRITING,		/* being written, or its writer died */
	CKPT_BAD_MAGIC,
	CKPT_BAD_HEADER_CRC,
	CKPT_STALE,		/* from an earlier format of the region */
	CKPT_BAD_STATE,
	CKPT_BAD_SEQ,
	CKPT_BAD_GROUP,
	CKPT_BAD_LENGTH,
	CKPT_BAD_PAYLOAD_CRC,
	CKPT_BAD_FILES,
	CKPT_DUP_SEQ,
	CKPT_BAD_PARENT,	/* parent names another group or a later set */
	CKPT_NO_PARENT,		/* parent missing or itself not restorable */
	CKPT_BAD_FLAGS,		/* flags this reader does not know */
};

const char *ckpt_status_name(enum ckpt_status st);

struct ckpt_info {
	uint32_t slot;
	enum ckpt_status status;
	bool header_valid;		/* the fields below come from a valid header */
	uint32_t state;
	uint64_t seq, parent_seq, created_ns, payload_len;
	uint32_t nr_files, payload_crc;
	uint32_t flags;			/* CKPT_SET_* */
	char group[CKPT_GROUP_LEN];
};

/* A restorable set and its ancestors, newest first. */
struct ckpt_chain {
	unsigned int n;
	struct ckpt_info set[CKPT_MAX_SLOTS];
};

const char *ckpt_error(const struct ckpt_store *s);
/* Say why in the store's message (ckpt_error) and return @err. */
__attribute__((format(printf, 3, 4)))
int ckpt_fail(struct ckpt_store *s, int err, const char *fmt, ...);

/* Is @name a valid group name ([A-Za-z0-9_.-]{1,63}, not "." or "..")? */
bool ckpt_group_valid(const char *name);
/* Is @name a plain file name a set may hold? */
bool ckpt_name_valid(const char *name);

/* The region's layout for @keep, or -EINVAL if @size is too small. */
int ckpt_format(struct ckpt_store *s, void *base, uint64_t size, uint32_t keep,
		uint64_t format_id);
/* Check the superblock; -EBADMSG (and why) if it is not a valid store. */
int ckpt_open(struct ckpt_store *s, void *base, uint64_t size);

/* Bytes of payload a slot holds, and what a file of @size costs in it. */
uint64_t ckpt_capacity(const struct ckpt_store *s);
uint64_t ckpt_file_cost(uint64_t size);
/* The chunks a file of @size has, and what a set's table of @nr costs. */
uint64_t ckpt_chunks_of(uint64_t size);
uint64_t ckpt_chunks_cost(uint64_t nr_chunks);

/*
 * One entry per slot in @info (CKPT_MAX_SLOTS entries), with the chain rule
 * applied.  Returns the number of slots.
 */
int ckpt_list(struct ckpt_store *s, struct ckpt_info *info);

/*
 * The same from the headers alone: a set whose header is valid counts as
 * valid, its payload unread.  For a reader that verifies what it uses as
 * it copies it (ckpt_read_*) and calls ckpt_refuse when that fails: a
 * restore then reads only the chain it restores, not every set.
 */
int ckpt_list_headers(struct ckpt_store *s, struct ckpt_info *info);
/*
 * For a long-lived writer (orthrosd): remember which sets were verified,
 * so that each checkpoint's ckpt_begin reads only what is new, not every
 * set in the store.  A slot is read again whenever its header changes
 * (another writer, a new set); damage to a payload after it was verified
 * is then found by the reader, which verifies what it extracts.
 * -ENOMEM; ckpt_cache_free() releases it.
 */
int ckpt_cache_verified(struct ckpt_store *s);
void ckpt_cache_free(struct ckpt_store *s);

/* Mark @slot's set as @why and apply the chain rule again (its children). */
void ckpt_refuse(struct ckpt_info *info, unsigned int n, uint32_t slot, enum ckpt_status why);
/*
 * Does @set hold a file whose name starts with @prefix?  Walks the file
 * entries only (bounds-checked, not checksummed): 1, 0, or -EBADMSG.
 */
int ckpt_set_has_file(struct ckpt_store *s, const struct ckpt_info *set, const char *prefix);

/*
 * The newest restorable set of @group that is not partial, and its chain;
 * -ENOENT if none.
 */
int ckpt_find(struct ckpt_store *s, const char *group, struct ckpt_chain *chain);
/* The same from a list already taken. */
int ckpt_find_in(const struct ckpt_info *info, unsigned int n, const char *group,
		 struct ckpt_chain *chain);

/*
 * Slots a writer may take without touching the newest chain of any group:
 * how many sets can be written (each the parent of the next) before
 * ckpt_begin fails with -ENOSPC.  < 0 on error.
 */
int ckpt_spare_slots(struct ckpt_store *s);

/* ---- writing a set ---- */
struct ckpt_writer {
	struct ckpt_store *s;
	struct ckpt_slot_header hdr;	/* private; copied out at begin and commit */
	struct ckpt_file_entry ent;	/* the open file's entry, written at close */
	uint32_t slot;
	uint8_t *payload;
	uint64_t cap, len;		/* payload capacity and bytes written */
	uint64_t entry;			/* offset of the open file's entry */
	uint64_t file_size;		/* bytes of the open file so far */
	uint32_t crc;			/* payload CRC up to the open file's entry */
	uint32_t file_crc;		/* CRC of the open file's data */
	uint32_t chunk_crc, chunk_fill;	/* the open file's current chunk */
	uint32_t *chunks;		/* the chunk table so far (malloc'd) */
	uint64_t nr_chunks, chunks_cap;
	bool in_file, active;
};

/*
 * Take a slot by the reclaim rule and mark it WRITING.  @parent_seq is 0 or
 * a restorable set of @group this one is an increment of; @flags is 0 or
 * CKPT_SET_PARTIAL.  -ENOSPC when every slot holds a set that must be kept.
 */
int ckpt_begin(struct ckpt_store *s, struct ckpt_writer *w, const char *group,
	       uint64_t parent_seq, uint64_t created_ns, uint32_t flags);
int ckpt_file_open(struct ckpt_writer *w, const char *name, uint32_t mode);
int ckpt_file_write(struct ckpt_writer *w, const void *buf, size_t len);
int ckpt_file_close(struct ckpt_writer *w);
int ckpt_add_file(struct ckpt_writer *w, const char *name, uint32_t mode,
		  const void *data, uint64_t size);
/*
 * Append the chunk table, then make the set visible, atomically; its
 * sequence number in *seq.
 */
int ckpt_commit(struct ckpt_writer *w, uint64_t *seq);
/* Give the slot up (EMPTY); the set never becomes visible. */
void ckpt_abort(struct ckpt_writer *w);

/* ---- reading a set ---- */
struct ckpt_file {
	char name[CKPT_NAME_LEN];
	uint32_t mode;
	uint64_t size;
};

struct ckpt_reader {
	struct ckpt_store *s;
	const uint8_t *payload;
	uint64_t len, off;
	uint64_t data_left;		/* of the current file */
	uint32_t files_left;
	uint32_t crc, want_crc;
	uint64_t seq;
};

/*
 * Read set @set (from ckpt_list/ckpt_find) again from the region.  The
 * data is checked as it is copied out: ckpt_read_close() fails with
 * -EBADMSG unless what was read is exactly what was committed.
 */
int ckpt_read_open(struct ckpt_store *s, const struct ckpt_info *set,
		   struct ckpt_reader *r);
/*
 * 1 and the next file, 0 at the end, < 0 on a refused entry.  The chunk
 * table is not one of the files: it is read (and checked) but not returned.
 */
int ckpt_read_file(struct ckpt_reader *r, struct ckpt_file *f);
/* Up to @len bytes of the current file; 0 at its end. */
ssize_t ckpt_read_data(struct ckpt_reader *r, void *buf, size_t len);
int ckpt_read_close(struct ckpt_reader *r);

/*
 * Random access to one set, each piece verified against the set's chunk
 * table as it is copied out, without reading the rest of the payload:
 * what a lazy restore serves from.  The file entries and the table are
 * checked at open; the data only when read.
 */
struct ckpt_map_file {
	char name[CKPT_NAME_LEN];
	uint32_t mode;
	uint64_t size;
	uint64_t data_off;		/* in the payload */
	uint64_t first_chunk;		/* its first entry in the table */
};

struct ckpt_map {
	struct ckpt_store *s;
	struct ckpt_info set;
	const uint8_t *payload;
	uint32_t nr_files;		/* not counting the table */
	struct ckpt_map_file *files;
	uint32_t *crc;
	uint64_t nr_chunks;
	uint8_t *bounce;		/* the last chunk verified, for reads within it */
	int64_t bounce_file;
	uint64_t bounce_chunk;
};

/*
 * -ENOTSUP: the set has no chunk table (written before tables existed);
 * -EBADMSG: its entries or its table are not valid (s->bad_seq says which
 * set); -ESTALE: the slot changed since @set was listed.
 */
int ckpt_map_open(struct ckpt_store *s, const struct ckpt_info *set, struct ckpt_map *m);
/* The index of file @name, or -ENOENT. */
int ckpt_map_find(const struct ckpt_map *m, const char *name);
/*
 * Copy bytes [@off, @off + @len) of file @file into @buf (short at the
 * file's end): the count, or -EBADMSG if a chunk they lie in does not
 * match its CRC (nothing of it is copied out).
 */
ssize_t ckpt_map_read(struct ckpt_map *m, uint32_t file, uint64_t off, void *buf, size_t len);
void ckpt_map_close(struct ckpt_map *m);

/* ---- directories (ckpt-dir.c) ---- */

/*
 * Pack the regular files of @dir into a new set (a CRIU "parent" symlink is
 * skipped; anything else that is not a regular file is refused).
 */
int ckpt_pack_dir(struct ckpt_store *s, const char *group, uint64_t parent_seq,
		  uint32_t flags, const char *dir, uint64_t created_ns, uint64_t *seq);
/*
 * Write @chain under @dir in CRIU's layout: DIR/<seq>/ per set, each with
 * a "parent" symlink to ../<parent seq>.  DIR is created if missing; the
 * set directories must not exist.
 */
int ckpt_extract_dir(struct ckpt_store *s, const struct ckpt_chain *chain,
		     const char *dir);

#endif /* ORTHROS_CKPT_STORE_H */
