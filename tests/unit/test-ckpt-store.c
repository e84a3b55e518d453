// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The checkpoint store: what is found, what is refused and why, which slot
 * a new set takes, and that a crash at any point leaves the old sets or a
 * complete new one.  The region is a buffer; sets are corrupted the way a
 * crashing kernel or a stray write would.
 */
#include "config.h"

#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <cmocka.h>

#include "ckpt-store.h"

#define REGION_SIZE (64 * 1024)

static uint8_t region[REGION_SIZE] __attribute__((aligned(4096)));
static struct ckpt_store st;

static int setup(void **state)
{
	(void)state;
	memset(region, 0xa5, sizeof(region));	/* formatting must not rely on zeroes */
	memset(&st, 0, sizeof(st));
	return ckpt_format(&st, region, sizeof(region), 2, 0x1234);
}

static int setup_keep3(void **state)
{
	(void)state;
	memset(&st, 0, sizeof(st));
	return ckpt_format(&st, region, sizeof(region), 3, 0x1234);
}

/* A set of one file whose bytes are all @fill; its sequence number. */
static uint64_t put_flags(const char *group, uint64_t parent, uint8_t fill, uint32_t flags)
{
	struct ckpt_writer w;
	uint8_t data[100];
	uint64_t seq = 0;

	memset(data, fill, sizeof(data));
	assert_int_equal(ckpt_begin(&st, &w, group, parent, 1000 + fill, flags), 0);
	assert_int_equal(ckpt_add_file(&w, "pages-1.img", 0600, data, sizeof(data)), 0);
	assert_int_equal(ckpt_add_file(&w, "inventory.img", 0644, "inv", 3), 0);
	assert_int_equal(ckpt_commit(&w, &seq), 0);
	return seq;
}

static uint64_t put(const char *group, uint64_t parent, uint8_t fill)
{
	return put_flags(group, parent, fill, 0);
}

/* The newest restorable set of @group, 0 if none. */
static uint64_t found(const char *group)
{
	struct ckpt_chain chain;

	return ckpt_find(&st, group, &chain) ? 0 : chain.set[0].seq;
}

static struct ckpt_info info_of(uint64_t seq)
{
	struct ckpt_info info[CKPT_MAX_SLOTS];
	int n = ckpt_list(&st, info);

	for (int i = 0; i < n; i++)
		if (info[i].header_valid && info[i].seq == seq)
			return info[i];
	fail_msg("no slot holds set %llu", (unsigned long long)seq);
	return info[0];
}

/* Where set @seq is in a list already taken. */
static int index_of(const struct ckpt_info *info, int n, uint64_t seq)
{
	for (int i = 0; i < n; i++)
		if (info[i].header_valid && info[i].seq == seq)
			return i;
	fail_msg("no slot holds set %llu", (unsigned long long)seq);
	return 0;
}

static uint8_t *slot_at(uint32_t slot)
{
	return region + st.slots_offset + (uint64_t)slot * st.slot_size;
}

static struct ckpt_slot_header *hdr_at(uint32_t slot)
{
	return (struct ckpt_slot_header *)slot_at(slot);
}

static uint8_t *payload_at(uint32_t slot)
{
	return slot_at(slot) + sizeof(struct ckpt_slot_header);
}

static struct ckpt_file_entry *first_entry(uint32_t slot)
{
	return (struct ckpt_file_entry *)payload_at(slot);
}

/* Fix both CRCs after an edit, as a buggy-but-honest writer would. */
static void reseal(uint32_t slot)
{
	struct ckpt_slot_header *h = hdr_at(slot);
	uint64_t len = le64toh(h->payload_len);

	if (len <= ckpt_capacity(&st))
		h->payload_crc = htole32((uint32_t)crc32(0, payload_at(slot), (uInt)len));
	h->header_crc = 0;
	h->header_crc = htole32((uint32_t)crc32(0, (const Bytef *)h, sizeof(*h)));
}

static void reseal_super(void)
{
	struct ckpt_super *sb = (struct ckpt_super *)region;

	sb->crc = 0;
	sb->crc = htole32((uint32_t)crc32(0, region, sizeof(*sb)));
}

static void a_formatted_region_opens_with_keep_plus_one_slots(void **state)
{
	struct ckpt_store again;

	(void)state;
	memset(&again, 0, sizeof(again));
	assert_int_equal(ckpt_open(&again, region, sizeof(region)), 0);
	assert_int_equal(again.nr_slots, 3);
	assert_int_equal(again.keep, 2);
	assert_int_equal(again.slots_offset % CKPT_ALIGN, 0);
	assert_int_equal(again.slot_size % CKPT_ALIGN, 0);
	assert_true(again.slots_offset + 3 * again.slot_size <= sizeof(region));
}

static void a_region_too_small_for_its_slots_is_not_formatted(void **state)
{
	(void)state;
	assert_int_equal(ckpt_format(&st, region, 4 * CKPT_ALIGN - 1, 2, 1), -EINVAL);
	assert_non_null(strstr(ckpt_error(&st), "cannot hold 3 slots"));
	assert_int_equal(ckpt_format(&st, region, sizeof(region), 1, 1), -EINVAL);
	assert_int_equal(ckpt_format(&st, region, sizeof(region), 65, 1), -EINVAL);
}

static void a_committed_set_is_found(void **state)
{
	struct ckpt_chain chain;
	struct ckpt_reader r;
	struct ckpt_file f;
	uint8_t buf[200];
	uint64_t seq;

	(void)state;
	seq = put("demo", 0, 0x11);
	assert_int_equal(seq, 1);
	assert_int_equal(ckpt_find(&st, "demo", &chain), 0);
	assert_int_equal(chain.n, 1);
	assert_int_equal(chain.set[0].seq, seq);
	assert_int_equal(chain.set[0].nr_files, 3);	/* and the chunk table */
	assert_int_equal(chain.set[0].created_ns, 1000 + 0x11);

	assert_int_equal(ckpt_read_open(&st, &chain.set[0], &r), 0);
	assert_int_equal(ckpt_read_file(&r, &f), 1);
	assert_string_equal(f.name, "pages-1.img");
	assert_int_equal(f.mode, 0600);
	assert_int_equal(f.size, 100);
	assert_int_equal(ckpt_read_data(&r, buf, sizeof(buf)), 100);
	for (int i = 0; i < 100; i++)
		assert_int_equal(buf[i], 0x11);
	assert_int_equal(ckpt_read_file(&r, &f), 1);
	assert_string_equal(f.name, "inventory.img");
	assert_int_equal(ckpt_read_data(&r, buf, sizeof(buf)), 3);
	assert_memory_equal(buf, "inv", 3);
	assert_int_equal(ckpt_read_file(&r, &f), 0);
	assert_int_equal(ckpt_read_close(&r), 0);
}

static void a_set_being_written_is_invisible(void **state)
{
	struct ckpt_writer w;
	uint64_t first;

	(void)state;
	first = put("demo", 0, 1);
	assert_int_equal(ckpt_begin(&st, &w, "demo", 0, 5, 0), 0);
	assert_int_equal(ckpt_add_file(&w, "core-1.img", 0600, "x", 1), 0);
	assert_int_equal(found("demo"), first);
	assert_int_equal(info_of(first + 1).status, CKPT_WRITING);
	/* Given up (its process would have died): it held a chunk table. */
	ckpt_abort(&w);
	assert_int_equal(info_of(first + 1).status, CKPT_EMPTY);
	assert_int_equal(found("demo"), first);
}

static void a_torn_payload_falls_back_to_the_previous_set(void **state)
{
	uint64_t old, newest;

	(void)state;
	old = put("demo", 0, 1);
	newest = put("demo", 0, 2);
	assert_int_equal(found("demo"), newest);
	payload_at(info_of(newest).slot)[300] ^= 0xff;	/* inside pages-1.img's data */
	assert_int_equal(found("demo"), old);
	assert_int_equal(info_of(newest).status, CKPT_BAD_PAYLOAD_CRC);
	assert_string_equal(ckpt_status_name(CKPT_BAD_PAYLOAD_CRC), "payload checksum mismatch");
}

static void a_corrupt_header_falls_back(void **state)
{
	struct ckpt_info info[CKPT_MAX_SLOTS];
	uint64_t old, newest;
	uint32_t slot;

	(void)state;
	old = put("demo", 0, 1);
	newest = put("demo", 0, 2);
	slot = info_of(newest).slot;
	hdr_at(slot)->created_ns ^= 1;
	assert_int_equal(found("demo"), old);
	assert_int_equal(ckpt_list(&st, info), 3);
	assert_int_equal(info[slot].status, CKPT_BAD_HEADER_CRC);
	assert_false(info[slot].header_valid);
}

static void no_good_set_means_no_checkpoint(void **state)
{
	struct ckpt_chain chain;
	uint64_t a, b;

	(void)state;
	assert_int_equal(ckpt_find(&st, "demo", &chain), -ENOENT);
	assert_non_null(strstr(ckpt_error(&st), "no restorable checkpoint for group demo"));
	a = put("demo", 0, 1);
	b = put("demo", 0, 2);
	assert_int_equal(ckpt_find(&st, "other", &chain), -ENOENT);
	payload_at(info_of(a).slot)[0] ^= 1;
	hdr_at(info_of(b).slot)->magic = 0;
	assert_int_equal(ckpt_find(&st, "demo", &chain), -ENOENT);
	assert_int_equal(chain.n, 0);
}

static void reclaim_takes_the_oldest_set_first(void **state)
{
	uint64_t s1, s2, s3, s4;
	uint32_t slot1;

	(void)state;
	s1 = put("demo", 0, 1);
	s2 = put("demo", 0, 2);
	s3 = put("demo", 0, 3);
	slot1 = info_of(s1).slot;
	s4 = put("demo", 0, 4);
	assert_int_equal(info_of(s4).slot, slot1);
	assert_int_equal(info_of(s2).status, CKPT_OK);
	assert_int_equal(info_of(s3).status, CKPT_OK);
}

static void reclaim_never_takes_the_newest_good_set(void **state)
{
	uint64_t s2, s3, s4;
	uint32_t slot2, slot3;

	(void)state;
	put("demo", 0, 1);
	s2 = put("demo", 0, 2);
	s3 = put("demo", 0, 3);
	slot2 = info_of(s2).slot;
	slot3 = info_of(s3).slot;
	/* The newest set is corrupt: set 2 is the newest good one. */
	payload_at(slot3)[10] ^= 1;
	s4 = put("demo", 0, 4);
	assert_int_not_equal(info_of(s4).slot, slot2);
	assert_int_equal(info_of(s2).status, CKPT_OK);
	/* A refused set is of no use: it goes before any good one. */
	assert_int_equal(info_of(s4).slot, slot3);
	for (uint8_t i = 5; i < 20; i++) {
		uint64_t before = found("demo"), seq = put("demo", 0, i);

		assert_int_equal(info_of(before).status, CKPT_OK);
		assert_int_equal(found("demo"), seq);
	}
}

static void an_incremental_set_needs_its_parent_chain(void **state)
{
	struct ckpt_chain chain;
	uint64_t s1, s2, s3;

	(void)state;
	s1 = put("demo", 0, 1);
	s2 = put("demo", s1, 2);
	s3 = put("demo", s2, 3);
	assert_int_equal(ckpt_find(&st, "demo", &chain), 0);
	assert_int_equal(chain.n, 3);
	assert_int_equal(chain.set[0].seq, s3);
	assert_int_equal(chain.set[1].seq, s2);
	assert_int_equal(chain.set[2].seq, s1);

	payload_at(info_of(s1).slot)[0] ^= 1;	/* the root goes bad */
	assert_int_equal(info_of(s2).status, CKPT_NO_PARENT);
	assert_int_equal(info_of(s3).status, CKPT_NO_PARENT);
	assert_int_equal(ckpt_find(&st, "demo", &chain), -ENOENT);
}

static void an_increment_of_a_missing_parent_is_not_begun(void **state)
{
	struct ckpt_writer w;

	(void)state;
	put("demo", 0, 1);
	assert_int_equal(ckpt_begin(&st, &w, "demo", 7, 1, 0), -ENOENT);
	assert_int_equal(ckpt_begin(&st, &w, "other", 1, 1, 0), -ENOENT);
	assert_non_null(strstr(ckpt_error(&st), "parent set 1 is not a restorable set of group other"));
}

static void a_parent_in_another_group_is_refused(void **state)
{
	uint64_t s1, s2;
	uint32_t slot;

	(void)state;
	s1 = put("a", 0, 1);
	s2 = put("b", 0, 2);
	slot = info_of(s2).slot;
	hdr_at(slot)->parent_seq = htole64(s1);
	reseal(slot);
	assert_int_equal(info_of(s2).status, CKPT_BAD_PARENT);
	assert_int_equal(found("b"), 0);
	assert_int_equal(found("a"), s1);
}

static void a_parent_needed_by_the_newest_chain_is_not_reclaimed(void **state)
{
	struct ckpt_chain chain;
	struct ckpt_writer w;
	uint64_t s1, s2, s3, s4, s5;
	uint32_t slot1;

	(void)state;	/* keep 3: four slots */
	s1 = put("demo", 0, 1);
	s2 = put("demo", 0, 2);
	s3 = put("demo", s2, 3);
	s4 = put("demo", s3, 4);
	slot1 = info_of(s1).slot;
	/* Set 2 is older than 3 and 4 but they need it: set 1 goes. */
	s5 = put("demo", s4, 5);
	assert_int_equal(info_of(s5).slot, slot1);
	assert_int_equal(ckpt_find(&st, "demo", &chain), 0);
	assert_int_equal(chain.n, 4);
	assert_int_equal(chain.set[3].seq, s2);
	/* Every slot is in the newest chain now: nothing may be taken. */
	assert_int_equal(ckpt_begin(&st, &w, "demo", 0, 1, 0), -ENOSPC);
	assert_non_null(strstr(ckpt_error(&st), "must be kept"));
	assert_int_equal(found("demo"), s5);
}

/*
 * A new chain's pre-dump is partial: never a group's newest restore point,
 * so while its dump is not committed the previous chain stays restorable
 * and the reclaim rule keeps it (keep 3: 4 slots, two chains of two).
 */
static void a_partial_set_is_only_ever_a_parent(void **state)
{
	uint64_t p1, d1, p2, d2, p3;
	uint32_t slot_p1;

	(void)state;
	p1 = put_flags("demo", 0, 1, CKPT_SET_PARTIAL);
	slot_p1 = info_of(p1).slot;
	assert_int_equal(info_of(p1).status, CKPT_OK);
	assert_int_equal(info_of(p1).flags, CKPT_SET_PARTIAL);
	assert_int_equal(found("demo"), 0);	/* memory only: nothing to restore */
	d1 = put("demo", p1, 2);
	assert_int_equal(found("demo"), d1);
	p2 = put_flags("demo", 0, 3, CKPT_SET_PARTIAL);
	assert_int_equal(found("demo"), d1);	/* the crash here restores d1 */
	d2 = put("demo", p2, 4);
	assert_int_equal(found("demo"), d2);
	/* the next pre-dump may only take the old chain's slots */
	p3 = put_flags("demo", 0, 5, CKPT_SET_PARTIAL);
	assert_int_equal(found("demo"), d2);
	assert_int_equal(info_of(d2).status, CKPT_OK);
	assert_int_equal(info_of(p2).status, CKPT_OK);
	assert_int_equal(info_of(p3).slot, slot_p1);
	assert_int_equal(info_of(d1).status, CKPT_NO_PARENT);
	/* an increment of a partial set is a restore point with its parent */
	struct ckpt_chain chain;

	assert_int_equal(ckpt_find(&st, "demo", &chain), 0);
	assert_int_equal(chain.n, 2);
	assert_int_equal(chain.set[1].seq, p2);
}

/*
 * Spare slots: what a writer may still take without touching a kept chain
 * (keep 3: 4 slots), each new set counted as the parent of the next.
 */
static void spare_slots_count_what_a_writer_may_take(void **state)
{
	uint64_t a, b;

	(void)state;
	assert_int_equal(ckpt_spare_slots(&st), 4);
	a = put("demo", 0, 1);
	b = put("demo", a, 2);
	assert_int_equal(ckpt_spare_slots(&st), 2);	/* the chain b -> a is kept */
	put_flags("demo", 0, 3, CKPT_SET_PARTIAL);
	assert_int_equal(ckpt_spare_slots(&st), 2);	/* a lone pre-dump is kept by nothing */
	put("other", 0, 4);				/* takes the empty slot */
	assert_int_equal(ckpt_spare_slots(&st), 1);	/* the pre-dump's is still to take */
	(void)b;
}

static void unknown_set_flags_are_refused(void **state)
{
	struct ckpt_writer w;
	uint64_t a, b;
	uint32_t slot;

	(void)state;
	assert_int_equal(ckpt_begin(&st, &w, "demo", 0, 1, 0x2), -EINVAL);
	assert_non_null(strstr(ckpt_error(&st), "unknown set flags"));
	a = put("demo", 0, 1);
	b = put("demo", 0, 2);
	slot = info_of(b).slot;
	hdr_at(slot)->flags = htole32(0x80000000u);
	reseal(slot);
	assert_int_equal(info_of(b).status, CKPT_BAD_FLAGS);
	assert_int_equal(found("demo"), a);
}

static void the_newest_set_of_every_group_is_kept(void **state)
{
	uint64_t a;

	(void)state;	/* keep 3: four slots */
	a = put("a", 0, 1);
	for (uint8_t i = 2; i < 10; i++)
		put("b", 0, i);
	/* "a" is the oldest set by far, and the only one of its group. */
	assert_int_equal(found("a"), a);
}

static void file_names_with_slash_or_dotdot_are_refused(void **state)
{
	static const char *const bad[] = { "a/b", "..", ".", "", "parent", "/etc", "x\n" };
	struct ckpt_writer w;
	uint64_t seq;
	uint32_t slot;

	(void)state;
	assert_int_equal(ckpt_begin(&st, &w, "demo", 0, 1, 0), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(ckpt_file_open(&w, bad[i], 0600), -EINVAL);
	ckpt_abort(&w);

	/* The same names written straight into a region are refused by readers. */
	seq = put("demo", 0, 1);
	slot = info_of(seq).slot;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(first_entry(slot)->name, 0, CKPT_NAME_LEN);
		strcpy(first_entry(slot)->name, bad[i]);
		reseal(slot);
		assert_int_equal(info_of(seq).status, CKPT_BAD_FILES);
	}
	memset(first_entry(slot)->name, 'a', CKPT_NAME_LEN);	/* no NUL */
	reseal(slot);
	assert_int_equal(info_of(seq).status, CKPT_BAD_FILES);
	assert_int_equal(found("demo"), 0);
}

static void two_files_with_one_name_are_refused(void **state)
{
	uint64_t seq;
	uint32_t slot;
	char *second;

	(void)state;
	seq = put("demo", 0, 1);
	slot = info_of(seq).slot;
	/* Entries after data of odd length are not aligned: bytes only. */
	second = (char *)payload_at(slot) + sizeof(struct ckpt_file_entry) + 100 +
		 offsetof(struct ckpt_file_entry, name);
	assert_string_equal(second, "inventory.img");
	strcpy(second, "pages-1.img");
	reseal(slot);
	assert_int_equal(info_of(seq).status, CKPT_BAD_FILES);
}

static void lengths_past_the_slot_are_refused(void **state)
{
	struct ckpt_slot_header *h;
	uint64_t seq;
	uint32_t slot;

	(void)state;
	seq = put("demo", 0, 1);
	slot = info_of(seq).slot;
	h = hdr_at(slot);

	h->payload_len = htole64(ckpt_capacity(&st) + 1);
	reseal(slot);
	assert_int_equal(info_of(seq).status, CKPT_BAD_LENGTH);
	h->payload_len = htole64(UINT64_MAX);
	reseal(slot);
	assert_int_equal(info_of(seq).status, CKPT_BAD_LENGTH);

	/* A file whose size runs past the payload, with CRCs that match. */
	h->payload_len = htole64(2 * sizeof(struct ckpt_file_entry) + 103);
	first_entry(slot)->size = htole64(UINT64_MAX - 10);
	reseal(slot);
	assert_int_equal(info_of(seq).status, CKPT_BAD_FILES);
	first_entry(slot)->size = htole64(100 + sizeof(struct ckpt_file_entry) + 4);
	reseal(slot);
	assert_int_equal(info_of(seq).status, CKPT_BAD_FILES);

	/* More files than the payload holds. */
	first_entry(slot)->size = htole64(100);
	h->nr_files = htole32(3);
	reseal(slot);
	assert_int_equal(info_of(seq).status, CKPT_BAD_FILES);
	h->nr_files = htole32(UINT32_MAX);
	reseal(slot);
	assert_int_equal(info_of(seq).status, CKPT_BAD_LENGTH);

	/* Bytes after the last file. */
	h->nr_files = htole32(1);
	reseal(slot);
	assert_int_equal(info_of(seq).status, CKPT_BAD_FILES);
	h->nr_files = htole32(2);
	reseal(slot);
	assert_int_equal(info_of(seq).status, CKPT_OK);
}

static void headers_that_mean_nothing_are_refused(void **state)
{
	struct ckpt_slot_header *h;
	uint64_t seq;
	uint32_t slot;

	(void)state;
	seq = put("demo", 0, 1);
	slot = info_of(seq).slot;
	h = hdr_at(slot);

	h->state = htole32(7);
	reseal(slot);
	assert_int_equal(info_of(seq).status, CKPT_BAD_STATE);
	h->state = htole32(CKPT_STATE_COMMITTED);
	h->parent_seq = htole64(seq);	/* its own parent */
	reseal(slot);
	assert_int_equal(info_of(seq).status, CKPT_BAD_SEQ);
	h->parent_seq = 0;
	strcpy(h->group, "no/slash");
	reseal(slot);
	assert_int_equal(info_of(seq).status, CKPT_BAD_GROUP);
	memset(h->group, 'g', sizeof(h->group));
	reseal(slot);
	assert_int_equal(info_of(seq).status, CKPT_BAD_GROUP);
	memset(h->group, 0, sizeof(h->group));
	strcpy(h->group, "demo");
	first_entry(slot)->mode = htole32(04755);	/* setuid is not an image's business */
	reseal(slot);
	assert_int_equal(info_of(seq).status, CKPT_BAD_FILES);
	first_entry(slot)->mode = htole32(0600);
	reseal(slot);
	assert_int_equal(info_of(seq).status, CKPT_OK);
	h->magic = htole32(0x12345678);
	assert_int_equal(found("demo"), 0);
}

static void two_sets_with_one_sequence_number_are_both_refused(void **state)
{
	struct ckpt_info info[CKPT_MAX_SLOTS];
	uint64_t a, b;
	uint32_t slot_a, slot_b;

	(void)state;
	a = put("demo", 0, 1);
	b = put("demo", 0, 2);
	slot_a = info_of(a).slot;
	slot_b = info_of(b).slot;
	hdr_at(slot_b)->seq = htole64(a);
	reseal(slot_b);
	assert_int_equal(ckpt_list(&st, info), 3);
	assert_int_equal(info[slot_a].status, CKPT_DUP_SEQ);
	assert_int_equal(info[slot_b].status, CKPT_DUP_SEQ);
	assert_int_equal(found("demo"), 0);
}

static void a_header_from_an_earlier_format_is_stale(void **state)
{
	struct ckpt_info info[CKPT_MAX_SLOTS];
	struct ckpt_slot_header old;
	uint64_t seq;

	(void)state;
	seq = put("demo", 0, 1);
	memcpy(&old, hdr_at(info_of(seq).slot), sizeof(old));
	assert_int_equal(ckpt_format(&st, region, sizeof(region), 2, 0x5678), 0);
	memcpy(hdr_at(0), &old, sizeof(old));
	assert_int_equal(found("demo"), 0);
	assert_int_equal(ckpt_list(&st, info), 3);
	assert_int_equal(info[0].status, CKPT_STALE);
	/* Its sequence number is not ours to continue. */
	assert_int_equal(put("demo", 0, 2), 1);
}

static void a_bad_superblock_is_refused(void **state)
{
	struct ckpt_super *sb = (struct ckpt_super *)region;
	struct ckpt_store s;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(ckpt_open(&s, region, 10), -EBADMSG);
	assert_non_null(strstr(ckpt_error(&s), "cannot hold a superblock"));

	/* Mapped smaller than the superblock says. */
	assert_int_equal(ckpt_open(&s, region, sizeof(region) - 1), -EBADMSG);
	assert_non_null(strstr(ckpt_error(&s), "only 65535 are mapped"));
	/* Mapped larger (a BAR rounded up) is fine. */
	assert_int_equal(ckpt_open(&s, region, sizeof(region)), 0);

	sb->slot_size = htole64(le64toh(sb->slot_size) + CKPT_ALIGN);
	assert_int_equal(ckpt_open(&s, region, sizeof(region)), -EBADMSG);
	assert_string_equal(ckpt_error(&s), "superblock checksum mismatch");
	reseal_super();
	assert_int_equal(ckpt_open(&s, region, sizeof(region)), -EBADMSG);
	assert_non_null(strstr(ckpt_error(&s), "run past the region"));

	sb->slot_size = htole64(12);
	reseal_super();
	assert_int_equal(ckpt_open(&s, region, sizeof(region)), -EBADMSG);
	assert_non_null(strstr(ckpt_error(&s), "multiple of 8"));

	sb->slot_size = htole64(UINT64_MAX - 7);
	reseal_super();
	assert_int_equal(ckpt_open(&s, region, sizeof(region)), -EBADMSG);

	sb->nr_slots = htole32(0);
	reseal_super();
	assert_int_equal(ckpt_open(&s, region, sizeof(region)), -EBADMSG);
	assert_non_null(strstr(ckpt_error(&s), "keep + 1 slots"));

	sb->version = htole32(2);
	reseal_super();
	assert_int_equal(ckpt_open(&s, region, sizeof(region)), -EBADMSG);
	assert_non_null(strstr(ckpt_error(&s), "format version 2"));

	sb->magic = htole32(0x7f454c46);
	assert_int_equal(ckpt_open(&s, region, sizeof(region)), -EBADMSG);
	assert_non_null(strstr(ckpt_error(&s), "not a checkpoint store"));

	memset(region, 0, sizeof(*sb));
	assert_int_equal(ckpt_open(&s, region, sizeof(region)), -EBADMSG);
	assert_non_null(strstr(ckpt_error(&s), "not formatted"));
}

static void a_set_too_big_for_a_slot_fails_cleanly(void **state)
{
	struct ckpt_writer w;
	uint64_t old, seq;
	uint8_t *big;
	size_t n = (size_t)ckpt_capacity(&st);

	(void)state;
	old = put("demo", 0, 1);
	big = calloc(1, n);
	assert_non_null(big);
	assert_int_equal(ckpt_begin(&st, &w, "demo", 0, 1, 0), 0);
	assert_int_equal(ckpt_add_file(&w, "pages-1.img", 0600, big,
				       n - sizeof(struct ckpt_file_entry) + 1), -EFBIG);
	assert_non_null(strstr(ckpt_error(&st), "does not fit in a slot"));
	ckpt_abort(&w);
	assert_int_equal(found("demo"), old);

	/* Full up to the room its chunk table needs fits... */
	n -= sizeof(struct ckpt_file_entry) + (size_t)ckpt_chunks_cost(ckpt_chunks_of(n));
	assert_int_equal(ckpt_begin(&st, &w, "demo", 0, 1, 0), 0);
	assert_int_equal(ckpt_add_file(&w, "pages-1.img", 0600, big, n), 0);
	assert_int_equal(ckpt_commit(&w, &seq), 0);
	assert_int_equal(found("demo"), seq);

	/* ...and without that room the commit fails, the set invisible. */
	assert_int_equal(ckpt_begin(&st, &w, "demo", 0, 1, 0), 0);
	assert_int_equal(ckpt_add_file(&w, "pages-1.img", 0600, big, n + 8), 0);
	assert_int_equal(ckpt_commit(&w, NULL), -EFBIG);
	ckpt_abort(&w);
	assert_int_equal(found("demo"), seq);
	free(big);
}

static void sequence_numbers_increase_across_reopen(void **state)
{
	struct ckpt_writer w;
	uint64_t last = 0;

	(void)state;
	for (uint8_t i = 1; i <= 5; i++) {
		uint64_t seq = put(i & 1 ? "a" : "b", 0, i);

		assert_true(seq > last);
		last = seq;
		memset(&st, 0, sizeof(st));
		assert_int_equal(ckpt_open(&st, region, sizeof(region)), 0);
	}
	/* A set given up still used its number. */
	assert_int_equal(ckpt_begin(&st, &w, "a", 0, 1, 0), 0);
	ckpt_abort(&w);
	memset(&st, 0, sizeof(st));
	assert_int_equal(ckpt_open(&st, region, sizeof(region)), 0);
	assert_int_equal(put("a", 0, 9), last + 2);
}

static void a_bad_group_name_is_not_begun(void **state)
{
	struct ckpt_writer w;

	(void)state;
	assert_int_equal(ckpt_begin(&st, &w, "", 0, 1, 0), -EINVAL);
	assert_int_equal(ckpt_begin(&st, &w, "a b", 0, 1, 0), -EINVAL);
	assert_int_equal(ckpt_begin(&st, &w, "..", 0, 1, 0), -EINVAL);
	assert_true(ckpt_group_valid("demo-service_1.x"));
}

static void reading_checks_the_data_it_copies(void **state)
{
	struct ckpt_chain chain;
	struct ckpt_reader r;
	struct ckpt_file f;
	uint8_t buf[256];

	(void)state;
	put("demo", 0, 1);
	assert_int_equal(ckpt_find(&st, "demo", &chain), 0);
	/* The region changes after the set was validated. */
	payload_at(chain.set[0].slot)[sizeof(struct ckpt_file_entry) + 5] ^= 1;
	assert_int_equal(ckpt_read_open(&st, &chain.set[0], &r), 0);
	while (ckpt_read_file(&r, &f) == 1)
		while (ckpt_read_data(&r, buf, sizeof(buf)) > 0)
			;
	assert_int_equal(ckpt_read_close(&r), -EBADMSG);
	assert_non_null(strstr(ckpt_error(&st), "does not match its checksum"));
	assert_int_equal(st.bad_seq, chain.set[0].seq);	/* which set, for the caller to refuse */

	/* And a header that changed is noticed at open. */
	hdr_at(chain.set[0].slot)->seq ^= 1;
	assert_int_equal(ckpt_read_open(&st, &chain.set[0], &r), -ESTALE);
}

static void a_header_listing_trusts_headers_until_a_read_refuses(void **state)
{
	struct ckpt_info info[CKPT_MAX_SLOTS];
	struct ckpt_chain chain;
	uint64_t a, b;
	int n;

	(void)state;
	a = put("demo", 0, 1);
	b = put("demo", a, 1);
	/* Payload garbage the header cannot show: listed as fine, unread. */
	payload_at(info_of(a).slot)[sizeof(struct ckpt_file_entry) + 5] ^= 1;
	n = ckpt_list_headers(&st, info);
	assert_true(n > 0);
	assert_int_equal(ckpt_find_in(info, (unsigned int)n, "demo", &chain), 0);
	assert_int_equal(chain.n, 2);
	assert_int_equal(chain.set[0].seq, b);
	/* The full listing reads every payload and refuses it, and b with it. */
	assert_int_equal(ckpt_find(&st, "demo", &chain), -ENOENT);
	/* A reader that found a refuses it: b hangs on it and goes too. */
	ckpt_refuse(info, (unsigned int)n, info[index_of(info, n, a)].slot, CKPT_BAD_PAYLOAD_CRC);
	assert_int_equal(info[index_of(info, n, a)].status, CKPT_BAD_PAYLOAD_CRC);
	assert_int_equal(info[index_of(info, n, b)].status, CKPT_NO_PARENT);
	assert_int_equal(ckpt_find_in(info, (unsigned int)n, "demo", &chain), -ENOENT);
}

static void the_file_walk_finds_names_without_reading_data(void **state)
{
	struct ckpt_info info[CKPT_MAX_SLOTS];
	struct ckpt_info set;
	uint64_t a;
	int n;

	(void)state;
	a = put("demo", 0, 2);
	n = ckpt_list_headers(&st, info);
	set = info[index_of(info, n, a)];
	assert_int_equal(ckpt_set_has_file(&st, &set, "pages-"), 1);
	assert_int_equal(ckpt_set_has_file(&st, &set, "inventory"), 1);
	assert_int_equal(ckpt_set_has_file(&st, &set, "core-"), 0);
	/* Data is not read: garbage in it changes nothing here. */
	payload_at(set.slot)[sizeof(struct ckpt_file_entry) + 1] ^= 0xff;
	assert_int_equal(ckpt_set_has_file(&st, &set, "inventory"), 1);
	/* An entry that does not parse is an error, not "no such file". */
	memset(payload_at(set.slot), 0xff, sizeof(struct ckpt_file_entry));
	assert_int_equal(ckpt_set_has_file(&st, &set, "core-"), -EBADMSG);
	set.payload_len = UINT64_MAX;
	assert_int_equal(ckpt_set_has_file(&st, &set, "pages-"), -EBADMSG);
}

static void a_writer_verifies_each_set_once_and_again_when_its_header_changes(void **state)
{
	struct ckpt_info info[CKPT_MAX_SLOTS];
	struct ckpt_store other;
	uint64_t a, b;
	uint32_t sa;

	(void)state;
	assert_int_equal(ckpt_cache_verified(&st), 0);
	a = put("demo", 0, 1);
	sa = info_of(a).slot;
	/* Damage after the write: the writer trusts what it wrote and verified... */
	payload_at(sa)[sizeof(struct ckpt_file_entry) + 5] ^= 1;
	ckpt_list(&st, info);
	assert_int_equal(info[sa].status, CKPT_OK);
	/* ...a fresh reader does not (and restore verifies what it extracts). */
	memset(&other, 0, sizeof(other));
	assert_int_equal(ckpt_open(&other, region, sizeof(region)), 0);
	ckpt_list(&other, info);
	assert_int_equal(info[sa].status, CKPT_BAD_PAYLOAD_CRC);
	/* A set another writer put there is read in full the first time. */
	b = 0;
	{
		struct ckpt_writer w;

		assert_int_equal(ckpt_begin(&other, &w, "demo", 0, 7, 0), 0);
		assert_int_equal(ckpt_add_file(&w, "pages-1.img", 0600, "xyz", 3), 0);
		assert_int_equal(ckpt_commit(&w, &b), 0);
		payload_at(w.slot)[sizeof(struct ckpt_file_entry) + 1] ^= 1;
	}
	ckpt_list(&st, info);
	for (uint32_t i = 0; i < st.nr_slots; i++)
		if (info[i].header_valid && info[i].seq == b)
			assert_int_equal(info[i].status, CKPT_BAD_PAYLOAD_CRC);
	/* A header that changed (here: resealed) is read again. */
	reseal(sa);
	ckpt_list(&st, info);
	assert_int_equal(info[sa].status, CKPT_OK);
	ckpt_cache_free(&st);
	assert_null(st.verified);
}

static void sequence_numbers_never_wrap(void **state)
{
	struct ckpt_writer w;
	uint64_t seq;
	uint32_t slot;

	(void)state;
	seq = put("demo", 0, 1);
	slot = info_of(seq).slot;
	hdr_at(slot)->seq = htole64(UINT64_MAX);
	reseal(slot);
	assert_int_equal(ckpt_begin(&st, &w, "demo", 0, 1, 0), -EOVERFLOW);
	assert_non_null(strstr(ckpt_error(&st), "exhausted"));
}

static void a_reader_may_skip_a_files_data(void **state)
{
	struct ckpt_chain chain;
	struct ckpt_reader r;
	struct ckpt_file f;
	uint8_t buf[8];

	(void)state;
	put("demo", 0, 1);
	assert_int_equal(ckpt_find(&st, "demo", &chain), 0);
	assert_int_equal(ckpt_read_open(&st, &chain.set[0], &r), 0);
	assert_int_equal(ckpt_read_file(&r, &f), 1);
	assert_int_equal(ckpt_read_data(&r, buf, sizeof(buf)), sizeof(buf));
	assert_int_equal(ckpt_read_file(&r, &f), 1);	/* the rest of pages-1.img skipped */
	assert_string_equal(f.name, "inventory.img");
	assert_int_equal(ckpt_read_file(&r, &f), 0);
	assert_int_equal(ckpt_read_close(&r), 0);
}

static void an_entry_changed_after_listing_is_refused_on_reading(void **state)
{
	struct ckpt_chain chain;
	struct ckpt_reader r;
	struct ckpt_file f;

	(void)state;
	put("demo", 0, 1);
	assert_int_equal(ckpt_find(&st, "demo", &chain), 0);
	strcpy(first_entry(chain.set[0].slot)->name, "../../etc/passwd");
	assert_int_equal(ckpt_read_open(&st, &chain.set[0], &r), 0);
	assert_int_equal(ckpt_read_file(&r, &f), -EBADMSG);

	first_entry(chain.set[0].slot)->size = htole64(UINT64_MAX);
	assert_int_equal(ckpt_read_open(&st, &chain.set[0], &r), 0);
	assert_int_equal(ckpt_read_file(&r, &f), -EBADMSG);
}

static int sync_fails_on_call;
static unsigned int sync_calls;

static int failing_sync(void *ctx, void *addr, uint64_t len)
{
	(void)ctx;
	(void)addr;
	(void)len;
	return ++sync_calls == (unsigned int)sync_fails_on_call ? -EIO : 0;
}

static void a_failed_sync_leaves_the_set_invisible(void **state)
{
	struct ckpt_writer w;
	uint64_t old, seq;

	(void)state;
	old = put("demo", 0, 1);
	st.sync = failing_sync;
	sync_calls = 0;
	sync_fails_on_call = 2;	/* the payload's ordering point */
	assert_int_equal(ckpt_begin(&st, &w, "demo", 0, 1, 0), 0);
	assert_int_equal(ckpt_add_file(&w, "core-1.img", 0600, "x", 1), 0);
	assert_int_equal(ckpt_commit(&w, &seq), -EIO);
	assert_non_null(strstr(ckpt_error(&st), "cannot sync the region"));
	ckpt_abort(&w);
	st.sync = NULL;
	assert_int_equal(found("demo"), old);
}

/*
 * The commit protocol under a crash: the region as it is at every ordering
 * point, and with the final header only partly stored, must show either
 * the previous set or the complete new one.
 */
#define MAX_SNAPS 8
static uint8_t *snaps[MAX_SNAPS];
static unsigned int nsnaps;

static int snapshot(void *ctx, void *addr, uint64_t len)
{
	(void)ctx;
	(void)addr;
	(void)len;
	assert_true(nsnaps < MAX_SNAPS);
	snaps[nsnaps] = malloc(sizeof(region));
	assert_non_null(snaps[nsnaps]);
	memcpy(snaps[nsnaps++], region, sizeof(region));
	return 0;
}

static void a_crash_at_any_point_leaves_the_old_set_or_the_new_one(void **state)
{
	struct ckpt_slot_header committed;
	uint8_t *after;
	uint64_t old, seq;
	uint32_t slot;

	(void)state;
	old = put("demo", 0, 1);
	put("demo", 0, 2);
	old = put("demo", 0, 3);
	st.sync = snapshot;
	nsnaps = 0;
	seq = put("demo", 0, 4);
	st.sync = NULL;
	slot = info_of(seq).slot;
	memcpy(&committed, hdr_at(slot), sizeof(committed));
	after = malloc(sizeof(region));
	assert_non_null(after);
	memcpy(after, region, sizeof(region));

	/* begin's header, the payload, the committed header. */
	assert_int_equal(nsnaps, 3);
	for (unsigned int i = 0; i < nsnaps; i++) {
		memcpy(region, snaps[i], sizeof(region));
		assert_int_equal(found("demo"), i == nsnaps - 1 ? seq : old);
	}
	/* The last header store torn after k bytes. */
	for (size_t k = 0; k < sizeof(committed); k++) {
		memcpy(region, snaps[1], sizeof(region));
		memcpy(hdr_at(slot), &committed, k);
		assert_int_equal(found("demo"), old);
	}
	memcpy(region, after, sizeof(region));
	assert_int_equal(found("demo"), seq);
	for (unsigned int i = 0; i < nsnaps; i++)
		free(snaps[i]);
	free(after);
}

/* ---- directories ---- */

static char tmpdir[64];

static int setup_dir(void **state)
{
	strcpy(tmpdir, "/tmp/test-ckpt-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	return setup(state);
}

static int teardown_dir(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *dir, const char *name, const char *text, mode_t mode)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static void read_file(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
}

static void a_directory_round_trips_with_parent_links(void **state)
{
	char src[128], out[128], path[256], buf[64];
	struct ckpt_chain chain;
	struct stat sb;
	uint64_t s1, s2;
	ssize_t n;

	(void)state;
	snprintf(src, sizeof(src), "%s/src", tmpdir);
	snprintf(out, sizeof(out), "%s/out", tmpdir);
	assert_int_equal(mkdir(src, 0700), 0);
	write_file(src, "inventory.img", "one", 0644);
	write_file(src, "pages-1.img", "pages", 0600);
	assert_int_equal(ckpt_pack_dir(&st, "demo", 0, 0, src, 1, &s1), 0);
	/* CRIU's parent link in an increment's directory is not a file. */
	snprintf(path, sizeof(path), "%s/parent", src);
	assert_int_equal(symlink("../1", path), 0);
	write_file(src, "pages-1.img", "more", 0600);
	assert_int_equal(ckpt_pack_dir(&st, "demo", s1, 0, src, 2, &s2), 0);

	assert_int_equal(ckpt_find(&st, "demo", &chain), 0);
	assert_int_equal(ckpt_extract_dir(&st, &chain, out), 0);
	snprintf(path, sizeof(path), "%s/2/pages-1.img", out);
	read_file(path, buf, sizeof(buf));
	assert_string_equal(buf, "more");
	snprintf(path, sizeof(path), "%s/1/pages-1.img", out);
	read_file(path, buf, sizeof(buf));
	assert_string_equal(buf, "pages");
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s/1/inventory.img", out);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0644);
	snprintf(path, sizeof(path), "%s/2/parent", out);
	n = readlink(path, buf, sizeof(buf) - 1);
	assert_int_equal(n, 4);
	buf[n] = '\0';
	assert_string_equal(buf, "../1");
	snprintf(path, sizeof(path), "%s/1/parent", out);
	assert_int_equal(lstat(path, &sb), -1);

	/* Extracting again over the same sets is refused, not merged. */
	assert_int_equal(ckpt_extract_dir(&st, &chain, out), -EEXIST);
}

static void a_directory_with_more_than_files_is_refused(void **state)
{
	struct ckpt_info info[CKPT_MAX_SLOTS];
	char src[128], path[256];
	uint64_t seq;

	(void)state;
	snprintf(src, sizeof(src), "%s/src", tmpdir);
	assert_int_equal(mkdir(src, 0700), 0);
	write_file(src, "core-1.img", "x", 0600);
	snprintf(path, sizeof(path), "%s/sub", src);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(ckpt_pack_dir(&st, "demo", 0, 0, src, 1, &seq), -EINVAL);
	assert_non_null(strstr(ckpt_error(&st), "is not a regular file"));
	/* Nothing was taken for it. */
	assert_int_equal(ckpt_list(&st, info), 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(info[i].status, CKPT_EMPTY);
}

static void a_directory_too_big_takes_no_slot(void **state)
{
	char src[128], path[256];
	uint64_t old, seq;
	int fd;

	(void)state;
	old = put("demo", 0, 1);
	put("demo", 0, 2);
	old = put("demo", 0, 3);
	snprintf(src, sizeof(src), "%s/src", tmpdir);
	assert_int_equal(mkdir(src, 0700), 0);
	snprintf(path, sizeof(path), "%s/pages-1.img", src);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)ckpt_capacity(&st)), 0);
	close(fd);
	assert_int_equal(ckpt_pack_dir(&st, "demo", 0, 0, src, 1, &seq), -EFBIG);
	/* The oldest kept set was not sacrificed to a set that cannot fit. */
	assert_int_equal(info_of(1).status, CKPT_OK);
	assert_int_equal(found("demo"), old);
}

#define T(f) cmocka_unit_test_setup(f, setup)
#define T3(f) cmocka_unit_test_setup(f, setup_keep3)
#define TD(f) cmocka_unit_test_setup_teardown(f, setup_dir, teardown_dir)


/* ---- chunk tables and random access ---- */

#define BIG_SIZE (1024 * 1024)
static uint8_t big_region[BIG_SIZE] __attribute__((aligned(4096)));
static struct ckpt_store bst;

static uint8_t pattern_at(uint64_t i)
{
	return (uint8_t)(i * 7 + (i >> 16));
}

/* A set of a 3.5-chunk "pages" file, an empty file and a small one. */
static struct ckpt_info put_big(void)
{
	const uint64_t size = 3 * CKPT_CHUNK_SIZE + CKPT_CHUNK_SIZE / 2;
	struct ckpt_writer w;
	struct ckpt_chain chain;
	uint8_t *data = malloc(size);
	uint64_t seq;

	assert_non_null(data);
	for (uint64_t i = 0; i < size; i++)
		data[i] = pattern_at(i);
	memset(big_region, 0, sizeof(big_region));
	assert_int_equal(ckpt_format(&bst, big_region, sizeof(big_region), 2, 7), 0);
	assert_int_equal(ckpt_begin(&bst, &w, "demo", 0, 1, 0), 0);
	assert_int_equal(ckpt_add_file(&w, "empty.img", 0600, NULL, 0), 0);
	/* Written in odd pieces: chunks must not follow the writes. */
	assert_int_equal(ckpt_file_open(&w, "pages-1.img", 0600), 0);
	for (uint64_t off = 0; off < size; off += 5000)
		assert_int_equal(ckpt_file_write(&w, data + off, size - off < 5000 ? size - off : 5000), 0);
	assert_int_equal(ckpt_file_close(&w), 0);
	assert_int_equal(ckpt_add_file(&w, "inventory.img", 0644, "inv", 3), 0);
	assert_int_equal(ckpt_commit(&w, &seq), 0);
	free(data);
	assert_int_equal(ckpt_find(&bst, "demo", &chain), 0);
	assert_int_equal(chain.set[0].seq, seq);
	return chain.set[0];
}

static void a_set_is_read_at_random_through_its_chunk_table(void **state)
{
	struct ckpt_info set;
	struct ckpt_map m;
	uint8_t buf[3 * CKPT_CHUNK_SIZE];
	const uint64_t offs[] = { 0, 4096, CKPT_CHUNK_SIZE - 10, 2 * CKPT_CHUNK_SIZE, 3 * CKPT_CHUNK_SIZE + 1 };
	int pages;

	(void)state;
	set = put_big();
	assert_int_equal(ckpt_map_open(&bst, &set, &m), 0);
	assert_int_equal(m.nr_files, 3);	/* the table is not one of them */
	assert_int_equal(m.nr_chunks, 5);	/* 4 + the inventory's one, none for the empty file */
	assert_int_equal(ckpt_map_find(&m, CKPT_CHUNKS_NAME), -ENOENT);
	pages = ckpt_map_find(&m, "pages-1.img");
	assert_true(pages >= 0);
	assert_int_equal(m.files[pages].size, 3 * CKPT_CHUNK_SIZE + CKPT_CHUNK_SIZE / 2);
	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		for (size_t len = 1; len <= sizeof(buf); len = len * 3 + 4095) {
			uint64_t want = m.files[pages].size - offs[i];
			ssize_t got = ckpt_map_read(&m, (uint32_t)pages, offs[i], buf, len);

			assert_int_equal(got, len < want ? len : want);
			for (ssize_t k = 0; k < got; k++)
				assert_int_equal(buf[k], pattern_at(offs[i] + (uint64_t)k));
		}
	}
	assert_int_equal(ckpt_map_read(&m, (uint32_t)pages, m.files[pages].size, buf, 10), 0);
	assert_int_equal(ckpt_map_read(&m, (uint32_t)ckpt_map_find(&m, "empty.img"), 0, buf, 10), 0);
	assert_int_equal(ckpt_map_read(&m, (uint32_t)ckpt_map_find(&m, "inventory.img"), 1, buf, 10), 2);
	assert_memory_equal(buf, "nv", 2);
	assert_int_equal(ckpt_map_read(&m, 3, 0, buf, 10), -EINVAL);
	ckpt_map_close(&m);
}

static void a_corrupt_chunk_is_refused_where_it_is_read(void **state)
{
	struct ckpt_info set;
	struct ckpt_map m;
	uint8_t buf[CKPT_CHUNK_SIZE];
	uint32_t pages;

	(void)state;
	set = put_big();
	assert_int_equal(ckpt_map_open(&bst, &set, &m), 0);
	pages = (uint32_t)ckpt_map_find(&m, "pages-1.img");
	/* A read warms the bounce buffer with chunk 2, then the region changes under it. */
	assert_int_equal(ckpt_map_read(&m, pages, 2 * CKPT_CHUNK_SIZE + 8, buf, 8), 8);
	big_region[(size_t)(m.payload - big_region) + m.files[pages].data_off + 2 * CKPT_CHUNK_SIZE + 100] ^= 0x40;
	/* Other chunks still read; one that was verified and copied out is served from the copy. */
	assert_int_equal(ckpt_map_read(&m, pages, 0, buf, sizeof(buf)), sizeof(buf));
	assert_int_equal(ckpt_map_read(&m, pages, 3 * CKPT_CHUNK_SIZE, buf, 16), 16);
	bst.bad_seq = 0;
	assert_int_equal(ckpt_map_read(&m, pages, 2 * CKPT_CHUNK_SIZE + 90, buf, 20), -EBADMSG);
	assert_int_equal(bst.bad_seq, set.seq);
	assert_non_null(strstr(ckpt_error(&bst), "does not match its checksum"));
	assert_int_equal(ckpt_map_read(&m, pages, CKPT_CHUNK_SIZE, buf, sizeof(buf)), sizeof(buf));
	assert_int_equal(ckpt_map_read(&m, pages, 2 * CKPT_CHUNK_SIZE, buf, sizeof(buf)), -EBADMSG);
	ckpt_map_close(&m);
	/* The whole-payload CRC sees it too. */
	{
		struct ckpt_chain chain;

		assert_int_equal(ckpt_find(&bst, "demo", &chain), -ENOENT);
	}
}

/*
 * The last entry of @set in the big region (its chunk table), and its
 * data.  Entries are not aligned in a payload: read and write them with
 * memcpy, as the store does.
 */
static uint8_t *table_entry(const struct ckpt_info *set, uint8_t **data)
{
	uint8_t *p = big_region + bst.slots_offset + set->slot * bst.slot_size +
		     sizeof(struct ckpt_slot_header);
	uint8_t *e = NULL;

	*data = NULL;
	for (uint32_t i = 0; i < set->nr_files; i++) {
		uint64_t size;

		e = p;
		memcpy(&size, p, sizeof(size));
		p += sizeof(struct ckpt_file_entry);
		*data = p;
		p += le64toh(size);
	}
	return e;
}

static uint64_t entry_size(const uint8_t *e)
{
	uint64_t size;

	memcpy(&size, e + offsetof(struct ckpt_file_entry, size), sizeof(size));
	return le64toh(size);
}

static void big_reseal(const struct ckpt_info *set)
{
	struct ckpt_slot_header *h = (struct ckpt_slot_header *)(void *)(big_region + bst.slots_offset +
									 set->slot * bst.slot_size);
	uint64_t len = le64toh(h->payload_len);

	h->payload_crc = htole32((uint32_t)crc32(0, (const Bytef *)(h + 1), (uInt)len));
	h->header_crc = 0;
	h->header_crc = htole32((uint32_t)crc32(0, (const Bytef *)h, sizeof(*h)));
}

static void a_set_without_a_valid_table_is_not_mapped(void **state)
{
	struct ckpt_info set, info[CKPT_MAX_SLOTS];
	struct ckpt_map m;
	char name[CKPT_NAME_LEN] = "old.img";
	uint8_t *e, *data;
	int n;

	(void)state;
	/* A set from before tables: its last file is an ordinary one. */
	set = put_big();
	e = table_entry(&set, &data);
	memcpy(e + offsetof(struct ckpt_file_entry, name), name, sizeof(name));
	big_reseal(&set);
	n = ckpt_list(&bst, info);
	set = info[index_of(info, n, set.seq)];
	assert_int_equal(set.status, CKPT_OK);
	assert_int_equal(ckpt_map_open(&bst, &set, &m), -ENOTSUP);

	/* A table that does not check, whatever the payload CRC says. */
	set = put_big();
	e = table_entry(&set, &data);
	data[sizeof(struct ckpt_chunks_head) + 4] ^= 1;
	big_reseal(&set);
	n = ckpt_list(&bst, info);
	set = info[index_of(info, n, set.seq)];
	bst.bad_seq = 0;
	assert_int_equal(ckpt_map_open(&bst, &set, &m), -EBADMSG);
	assert_int_equal(bst.bad_seq, set.seq);

	/* One that does not fit the files before it (a chunk count from elsewhere). */
	set = put_big();
	e = table_entry(&set, &data);
	{
		uint64_t size = entry_size(e);
		uint32_t v = htole32(2), tcrc;

		memcpy(data + offsetof(struct ckpt_chunks_head, nr_files), &v, sizeof(v));
		tcrc = htole32((uint32_t)crc32(0, data, (uInt)(size - 4)));
		memcpy(data + size - 4, &tcrc, 4);
	}
	big_reseal(&set);
	n = ckpt_list(&bst, info);
	set = info[index_of(info, n, set.seq)];
	assert_int_equal(ckpt_map_open(&bst, &set, &m), -EBADMSG);
	assert_non_null(strstr(ckpt_error(&bst), "chunk table is not valid"));

	/* And a header changed since the listing. */
	set = put_big();
	set.payload_crc ^= 1;
	assert_int_equal(ckpt_map_open(&bst, &set, &m), -ESTALE);
}

static void the_chunk_table_name_is_reserved(void **state)
{
	struct ckpt_writer w;

	(void)state;
	assert_int_equal(ckpt_begin(&st, &w, "demo", 0, 1, 0), 0);
	assert_int_equal(ckpt_file_open(&w, CKPT_CHUNKS_NAME, 0600), -EINVAL);
	assert_non_null(strstr(ckpt_error(&st), "chunk table"));
	ckpt_abort(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(a_formatted_region_opens_with_keep_plus_one_slots),
		T(a_region_too_small_for_its_slots_is_not_formatted),
		T(a_committed_set_is_found),
		T(a_set_being_written_is_invisible),
		T(a_torn_payload_falls_back_to_the_previous_set),
		T(a_corrupt_header_falls_back),
		T(no_good_set_means_no_checkpoint),
		T(reclaim_takes_the_oldest_set_first),
		T(reclaim_never_takes_the_newest_good_set),
		T(an_incremental_set_needs_its_parent_chain),
		T(an_increment_of_a_missing_parent_is_not_begun),
		T(a_parent_in_another_group_is_refused),
		T3(a_parent_needed_by_the_newest_chain_is_not_reclaimed),
		T3(a_partial_set_is_only_ever_a_parent),
		T3(spare_slots_count_what_a_writer_may_take),
		T(unknown_set_flags_are_refused),
		T3(the_newest_set_of_every_group_is_kept),
		T(file_names_with_slash_or_dotdot_are_refused),
		T(two_files_with_one_name_are_refused),
		T(lengths_past_the_slot_are_refused),
		T(headers_that_mean_nothing_are_refused),
		T(two_sets_with_one_sequence_number_are_both_refused),
		T(a_header_from_an_earlier_format_is_stale),
		T(a_bad_superblock_is_refused),
		T(a_set_too_big_for_a_slot_fails_cleanly),
		T(a_set_is_read_at_random_through_its_chunk_table),
		T(a_corrupt_chunk_is_refused_where_it_is_read),
		T(a_set_without_a_valid_table_is_not_mapped),
		T(the_chunk_table_name_is_reserved),
		T(sequence_numbers_increase_across_reopen),
		T(a_bad_group_name_is_not_begun),
		T(reading_checks_the_data_it_copies),
		T(a_header_listing_trusts_headers_until_a_read_refuses),
		T(the_file_walk_finds_names_without_reading_data),
		T(a_writer_verifies_each_set_once_and_again_when_its_header_changes),
		T(sequence_numbers_never_wrap),
		T(a_reader_may_skip_a_files_data),
		T(an_entry_changed_after_listing_is_refused_on_reading),
		T(a_failed_sync_leaves_the_set_invisible),
		T(a_crash_at_any_point_leaves_the_old_set_or_the_new_one),
		TD(a_directory_round_trips_with_parent_links),
		TD(a_directory_with_more_than_files_is_refused),
		TD(a_directory_too_big_takes_no_slot),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
