// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for the checkpoint store's readers and its reclaim
 * rule: the input is the region, as a crashed kernel may have left it.
 * Opening, listing, finding and reading every restorable chain must never
 * touch memory outside the region, and two properties must hold whatever
 * the region holds: a set the list calls restorable reads back intact, and
 * a set just committed (full, or an increment of a restorable set) is the
 * one found next, with its parent chain still whole.
 *
 * Each input runs twice: as it is, and with every CRC fixed up, so that
 * mutations reach the checks behind the checksums (lengths, names,
 * chains) instead of dying at the first CRC.
 */
#include <endian.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "ckpt-store.h"
#include "ckpt-view.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Read a whole set; every byte goes through the checked copy. */
/*
 * Random access through the chunk table, as a lazy restore reads.  On a
 * set this process wrote (@ours) every read must succeed; on a set from
 * the input, a table may lie (refused), never crash the reader.
 */
static void map_set(struct ckpt_store *s, const struct ckpt_info *set, bool ours)
{
	struct ckpt_map m;
	uint8_t buf[CKPT_CHUNK_SIZE + 64];
	int rc = ckpt_map_open(s, set, &m);

	if (rc) {
		if (ours)
			abort();
		return;
	}
	for (uint32_t i = 0; i < m.nr_files; i++) {
		uint64_t size = m.files[i].size;

		for (uint64_t off = 0; off < size; off += size / 3 + 1) {
			ssize_t got = ckpt_map_read(&m, i, off, buf, sizeof(buf));

			if (ours && got != (ssize_t)(size - off < sizeof(buf) ? size - off : sizeof(buf)))
				abort();
		}
	}
	ckpt_map_close(&m);
}

static void read_set(struct ckpt_store *s, const struct ckpt_info *set)
{
	struct ckpt_reader r;
	struct ckpt_file f;
	uint8_t buf[64];
	int rc;

	if (ckpt_read_open(s, set, &r))
		abort();	/* listed a moment ago, nothing changed it */
	while ((rc = ckpt_read_file(&r, &f)) == 1) {
		if (!ckpt_name_valid(f.name))
			abort();
		while (ckpt_read_data(&r, buf, sizeof(buf)) > 0)
			;
	}
	if (rc < 0 || ckpt_read_close(&r))
		abort();	/* validated, then refused on reading */
	map_set(s, set, false);
}

/*
 * A lazy restore's view of the chain: pagemaps parsed and flattened down
 * the chain, pages served by extents.  Garbage may be refused, never
 * crash it or make it read outside a set.
 */
static void view_chain(struct ckpt_store *s, const struct ckpt_chain *chain)
{
	struct ckpt_view v;
	uint8_t buf[3 * CKPT_PAGE_SIZE];

	if (ckpt_view_open(s, chain, &v))
		return;
	for (uint32_t i = 0; i < v.nr_files; i++) {
		uint64_t size = v.files[i].size, step = size / 4 + 1;

		if (step < CKPT_PAGE_SIZE / 2)
			step = CKPT_PAGE_SIZE / 2;
		for (uint64_t off = 0; off < size; off += step) {
			ssize_t got = ckpt_view_read(&v, i, off, buf, sizeof(buf));

			if (got > (ssize_t)sizeof(buf) || (got >= 0 && (uint64_t)got > size - off))
				abort();
		}
	}
	ckpt_view_close(&v);
}

static void read_chains(struct ckpt_store *s)
{
	struct ckpt_info info[CKPT_MAX_SLOTS];
	static struct ckpt_chain chain;
	int n = ckpt_list(s, info);

	for (int i = 0; i < n; i++) {
		int none;

		if (info[i].status != CKPT_OK)
			continue;
		none = ckpt_find_in(info, (unsigned int)n, info[i].group, &chain);
		if (!none && (chain.set[0].flags & CKPT_SET_PARTIAL))
			abort();	/* a pre-dump is never a restore point */
		if (info[i].flags & CKPT_SET_PARTIAL) {
			if (none)
				continue;	/* only pre-dumps: nothing to restore */
		} else if (none || chain.set[0].seq < info[i].seq) {
			abort();	/* a restorable set and nothing newer found */
		}
		for (unsigned int k = 0; k < chain.n; k++)
			read_set(s, &chain.set[k]);
		view_chain(s, &chain);
	}
}

/*
 * The restore's view: headers trusted, payloads unread.  The file walk
 * must stay in bounds on garbage, and a set the full listing validated
 * must hold the same answer both ways.
 */
static void walk_headers(struct ckpt_store *s)
{
	struct ckpt_info info[CKPT_MAX_SLOTS], full[CKPT_MAX_SLOTS];
	int n = ckpt_list_headers(s, info), m = ckpt_list(s, full);

	if (n != m)
		abort();
	for (int i = 0; i < n; i++) {
		int quick;

		if (info[i].status != CKPT_OK)
			continue;
		quick = ckpt_set_has_file(s, &info[i], "pages-");
		if (full[i].status == CKPT_OK && quick < 0)
			abort();	/* a valid set whose entries do not walk */
		ckpt_refuse(info, (unsigned int)n, info[i].slot, CKPT_BAD_PAYLOAD_CRC);
		if (info[i].status != CKPT_BAD_PAYLOAD_CRC)
			abort();
	}
}

/*
 * Write a set (an increment of @parent if not 0) and look for it; a
 * partial one must never be what a restore picks.
 */
static void write_and_find(struct ckpt_store *s, const char *group, uint64_t parent,
			   uint32_t flags, const uint8_t *data, size_t size)
{
	static struct ckpt_chain chain;
	struct ckpt_writer w;
	uint64_t seq;

	if (ckpt_begin(s, &w, group, parent, 1, flags))
		return;		/* no slot may be taken, or no sequence left */
	if (ckpt_add_file(&w, "pages-1.img", 0600, data, size < 300 ? size : 300) ||
	    ckpt_commit(&w, &seq)) {
		ckpt_abort(&w);
		return;		/* too big for these slots */
	}
	if (flags & CKPT_SET_PARTIAL) {
		if (!ckpt_find(s, group, &chain) && chain.set[0].seq == seq)
			abort();
		return;
	}
	if (ckpt_find(s, group, &chain) || chain.set[0].seq != seq)
		abort();
	if (parent && (chain.n < 2 || chain.set[1].seq != parent))
		abort();
	for (unsigned int k = 0; k < chain.n; k++)
		read_set(s, &chain.set[k]);
	map_set(s, &chain.set[0], true);
}

static uint32_t crc(const void *p, uint64_t len)
{
	return (uint32_t)crc32(0, p, (uInt)len);
}

/* Make every checksum match, as a buggy-but-honest writer would. */
static void reseal(uint8_t *region, size_t size)
{
	struct ckpt_super *sb = (struct ckpt_super *)region;
	struct ckpt_store s;

	if (size < sizeof(*sb))
		return;
	sb->crc = 0;
	sb->crc = htole32(crc(sb, sizeof(*sb)));
	memset(&s, 0, sizeof(s));
	if (ckpt_open(&s, region, size))
		return;
	for (uint32_t i = 0; i < s.nr_slots; i++) {
		uint8_t *slot = region + s.slots_offset + (uint64_t)i * s.slot_size;
		struct ckpt_slot_header h;

		memcpy(&h, slot, sizeof(h));
		if (le64toh(h.payload_len) <= ckpt_capacity(&s))
			h.payload_crc = htole32(crc(slot + sizeof(h), le64toh(h.payload_len)));
		h.header_crc = 0;
		h.header_crc = htole32(crc(&h, sizeof(h)));
		memcpy(slot, &h, sizeof(h));
	}
}

static void run(uint8_t *region, size_t size, const uint8_t *data)
{
	struct ckpt_info info[CKPT_MAX_SLOTS];
	struct ckpt_store s;
	int n;

	memset(&s, 0, sizeof(s));
	if (ckpt_open(&s, region, size))
		return;
	read_chains(&s);
	walk_headers(&s);
	n = ckpt_list(&s, info);
	for (int i = 0; i < n; i++)
		if (info[i].status == CKPT_OK) {
			char group[CKPT_GROUP_LEN];

			memcpy(group, info[i].group, sizeof(group));
			write_and_find(&s, group, info[i].seq, size & 1 ? CKPT_SET_PARTIAL : 0, data, size);
			break;
		}
	write_and_find(&s, "fuzz", 0, 0, data, size);
	read_chains(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Exact-size copy: any access past the region is caught by ASan. */
	uint8_t *region = malloc(size ? size : 1);

	if (!region)
		abort();
	memcpy(region, data, size);
	run(region, size, data);
	memcpy(region, data, size);
	reseal(region, size);
	run(region, size, data);
	free(region);
	return 0;
}
