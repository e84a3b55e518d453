// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The flattened view of a chain: CRIU-shaped pagemaps written into a
 * store in memory, a pre-dump and a dump on it, and what a restore would
 * read from the view.
 */
#include "config.h"

#include <endian.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <cmocka.h>

#include "ckpt-view.h"
#include "pagemap.pb-c.h"

#define REGION_SIZE (1024 * 1024)
#define PG CKPT_PAGE_SIZE
#define PE_PARENT 1u
#define PE_LAZY 2u
#define PE_PRESENT 4u

static uint8_t region[REGION_SIZE] __attribute__((aligned(4096)));
static struct ckpt_store st;

struct run {
	uint64_t vaddr;
	uint32_t nr, flags;
};

/* A pagemap image of @n runs naming pages-@id.img. */
static uint8_t *pagemap(uint32_t id, const struct run *r, size_t n, size_t *len)
{
	uint8_t *buf = malloc(4096);
	uint32_t magic[2] = { htole32(0x54564319u), htole32(0x56084025u) };
	PagemapHead head = PAGEMAP_HEAD__INIT;
	size_t pos = 8;
	uint32_t sz;

	assert_non_null(buf);
	memcpy(buf, magic, 8);
	head.pages_id = id;
	sz = htole32((uint32_t)pagemap_head__get_packed_size(&head));
	memcpy(buf + pos, &sz, 4);
	pos += 4 + pagemap_head__pack(&head, buf + pos + 4);
	for (size_t i = 0; i < n; i++) {
		PagemapEntry e = PAGEMAP_ENTRY__INIT;

		e.vaddr = r[i].vaddr;
		e.nr_pages = r[i].nr;
		e.has_flags = 1;
		e.flags = r[i].flags;
		sz = htole32((uint32_t)pagemap_entry__get_packed_size(&e));
		memcpy(buf + pos, &sz, 4);
		pos += 4 + pagemap_entry__pack(&e, buf + pos + 4);
	}
	*len = pos;
	return buf;
}

/* Page @i of set @seq's pages file: every byte says which. */
static void fill_pages(uint8_t *p, size_t nr, uint8_t tag)
{
	for (size_t i = 0; i < nr; i++)
		memset(p + i * PG, tag + (uint8_t)i, PG);
}

static uint64_t put_set(uint64_t parent, uint32_t flags, const struct run *r, size_t n,
			size_t pages, uint8_t tag, bool core)
{
	struct ckpt_writer w;
	uint8_t *pm, *data = malloc(pages * PG + 1);
	size_t len;
	uint64_t seq;

	assert_non_null(data);
	fill_pages(data, pages, tag);
	pm = pagemap(1, r, n, &len);
	assert_int_equal(ckpt_begin(&st, &w, "demo", parent, 1, flags), 0);
	if (core)
		assert_int_equal(ckpt_add_file(&w, "core-1.img", 0600, "core", 4), 0);
	assert_int_equal(ckpt_add_file(&w, "pagemap-1.img", 0600, pm, len), 0);
	assert_int_equal(ckpt_add_file(&w, "pages-1.img", 0600, data, pages * PG), 0);
	assert_int_equal(ckpt_commit(&w, &seq), 0);
	free(pm);
	free(data);
	return seq;
}

static int setup(void **state)
{
	(void)state;
	memset(region, 0, sizeof(region));
	memset(&st, 0, sizeof(st));
	return ckpt_format(&st, region, sizeof(region), 4, 9);
}

/* What the flat pagemap of the view says: its runs. */
static size_t read_runs(struct ckpt_view *v, struct run *out, size_t max, uint32_t *id)
{
	int f = ckpt_view_find(v, "pagemap-1.img");
	uint8_t buf[4096];
	ssize_t len;
	size_t pos = 8, n = 0;
	bool head = true;

	assert_true(f >= 0);
	len = ckpt_view_read(v, (uint32_t)f, 0, buf, sizeof(buf));
	assert_true(len > 8);
	while (pos < (size_t)len) {
		uint32_t sz;

		memcpy(&sz, buf + pos, 4);
		pos += 4;
		if (head) {
			PagemapHead *h = pagemap_head__unpack(NULL, le32toh(sz), buf + pos);

			assert_non_null(h);
			*id = h->pages_id;
			pagemap_head__free_unpacked(h, NULL);
			head = false;
		} else {
			PagemapEntry *e = pagemap_entry__unpack(NULL, le32toh(sz), buf + pos);

			assert_non_null(e);
			assert_true(n < max);
			assert_true(e->has_flags);
			out[n++] = (struct run){ e->vaddr, e->nr_pages, e->flags };
			pagemap_entry__free_unpacked(e, NULL);
		}
		pos += le32toh(sz);
	}
	return n;
}

static void a_chain_is_flattened_with_lazy_pages_from_the_pre_dump(void **state)
{
	/* Pre-dump: 4 lazy anonymous pages, 2 eager (file-backed) ones. */
	const struct run pre[] = {
		{ 0x10000, 4, PE_PRESENT | PE_LAZY },
		{ 0x20000, 2, PE_PRESENT },
	};
	/* Dump: one anonymous page changed, the rest from the parent. */
	const struct run dump[] = {
		{ 0x10000, 1, PE_PARENT },
		{ 0x11000, 1, PE_PRESENT | PE_LAZY },
		{ 0x12000, 2, PE_PARENT },
		{ 0x20000, 2, PE_PARENT },
		{ 0x40000, 1, PE_PRESENT | PE_LAZY },
	};
	struct ckpt_chain chain;
	struct ckpt_view v;
	struct run flat[8];
	uint32_t id = 0;
	uint8_t page[PG], *all;
	int pages;
	size_t n;
	/* Which page of the view's pages file comes from where: tag + index. */
	const uint8_t want[] = { 0xa0, 0xb0, 0xa2, 0xa3, 0xa4, 0xa5, 0xb1 };

	(void)state;
	put_set(put_set(0, CKPT_SET_PARTIAL, pre, 2, 6, 0xa0, false), 0, dump, 5, 2, 0xb0, true);
	assert_int_equal(ckpt_find(&st, "demo", &chain), 0);
	assert_int_equal(chain.n, 2);
	assert_int_equal(ckpt_view_open(&st, &chain, &v), 0);

	n = read_runs(&v, flat, 8, &id);
	assert_int_equal(id, 1);
	/*
	 * Every run present; lazy where the set that holds it said so, but
	 * the dump's own pages (the last written) eager; runs merged.
	 */
	assert_int_equal(n, 5);
	assert_int_equal(flat[0].vaddr, 0x10000);
	assert_int_equal(flat[0].nr, 1);
	assert_int_equal(flat[0].flags, PE_PRESENT | PE_LAZY);
	assert_int_equal(flat[1].vaddr, 0x11000);
	assert_int_equal(flat[1].nr, 1);
	assert_int_equal(flat[1].flags, PE_PRESENT);
	assert_int_equal(flat[2].vaddr, 0x12000);
	assert_int_equal(flat[2].nr, 2);
	assert_int_equal(flat[2].flags, PE_PRESENT | PE_LAZY);
	assert_int_equal(flat[3].vaddr, 0x20000);
	assert_int_equal(flat[3].nr, 2);
	assert_int_equal(flat[3].flags, PE_PRESENT);
	assert_int_equal(flat[4].vaddr, 0x40000);
	assert_int_equal(flat[4].flags, PE_PRESENT);
	assert_int_equal(v.lazy_pages, 3);
	assert_int_equal(v.eager_pages, 4);

	pages = ckpt_view_find(&v, "pages-1.img");
	assert_true(pages >= 0);
	assert_int_equal(v.files[pages].size, 7 * PG);
	for (size_t i = 0; i < 7; i++) {
		assert_int_equal(ckpt_view_read(&v, (uint32_t)pages, i * PG, page, PG), PG);
		assert_int_equal(page[0], want[i]);
		assert_int_equal(page[PG - 1], want[i]);
	}
	/* One read across extents. */
	all = malloc(7 * PG);
	assert_non_null(all);
	assert_int_equal(ckpt_view_read(&v, (uint32_t)pages, PG / 2, all, 7 * PG), 7 * PG - PG / 2);
	for (size_t i = 0; i < 7 * PG - PG / 2; i++)
		assert_int_equal(all[i], want[(i + PG / 2) / PG]);
	free(all);

	/* The other files as they are; no parent link, no chunk table. */
	assert_true(ckpt_view_find(&v, "core-1.img") >= 0);
	assert_int_equal(ckpt_view_find(&v, "parent"), -ENOENT);
	assert_int_equal(ckpt_view_find(&v, CKPT_CHUNKS_NAME), -ENOENT);
	assert_int_equal(v.nr_files, 3);
	ckpt_view_close(&v);
}

/* A full dump by itself: its lazy pages stay lazy, nothing is "newest". */
static void a_dump_alone_keeps_its_lazy_pages_lazy(void **state)
{
	const struct run dump[] = {
		{ 0x10000, 3, PE_PRESENT | PE_LAZY },
		{ 0x20000, 1, PE_PRESENT },
	};
	struct ckpt_chain chain;
	struct ckpt_view v;
	struct run flat[4];
	uint32_t id;

	(void)state;
	put_set(0, 0, dump, 2, 4, 0xc0, true);
	assert_int_equal(ckpt_find(&st, "demo", &chain), 0);
	assert_int_equal(ckpt_view_open(&st, &chain, &v), 0);
	assert_int_equal(read_runs(&v, flat, 4, &id), 2);
	assert_int_equal(flat[0].flags, PE_PRESENT | PE_LAZY);
	assert_int_equal(flat[1].flags, PE_PRESENT);
	assert_int_equal(v.lazy_pages, 3);
	assert_int_equal(v.eager_pages, 1);
	ckpt_view_close(&v);
}

static void a_page_the_parent_does_not_hold_refuses_the_child(void **state)
{
	const struct run pre[] = { { 0x10000, 2, PE_PRESENT | PE_LAZY } };
	const struct run dump[] = { { 0x10000, 3, PE_PARENT } };
	struct ckpt_chain chain;
	struct ckpt_view v;
	uint64_t child;

	(void)state;
	child = put_set(put_set(0, CKPT_SET_PARTIAL, pre, 1, 2, 0xa0, false), 0, dump, 1, 0, 0xb0, true);
	assert_int_equal(ckpt_find(&st, "demo", &chain), 0);
	st.bad_seq = 0;
	assert_int_equal(ckpt_view_open(&st, &chain, &v), -EBADMSG);
	assert_int_equal(st.bad_seq, child);
	assert_non_null(strstr(ckpt_error(&st), "does not hold it"));
}

static void a_pagemap_out_of_order_or_past_its_pages_is_refused(void **state)
{
	const struct run unsorted[] = { { 0x20000, 1, PE_PRESENT }, { 0x10000, 1, PE_PRESENT } };
	const struct run both[] = { { 0x10000, 1, PE_PRESENT | PE_PARENT } };
	const struct run past[] = { { 0x10000, 3, PE_PRESENT } };
	struct ckpt_chain chain;
	struct ckpt_view v;
	uint64_t seq;

	(void)state;
	seq = put_set(0, 0, unsorted, 2, 2, 0xa0, true);
	assert_int_equal(ckpt_find(&st, "demo", &chain), 0);
	assert_int_equal(ckpt_view_open(&st, &chain, &v), -EBADMSG);
	assert_int_equal(st.bad_seq, seq);

	/* Flags CRIU could write but this reader does not serve: extracted instead, not refused. */
	seq = put_set(0, 0, both, 1, 1, 0xa0, true);
	assert_int_equal(ckpt_find(&st, "demo", &chain), 0);
	st.bad_seq = 0;
	assert_int_equal(ckpt_view_open(&st, &chain, &v), -ENOTSUP);
	assert_int_equal(st.bad_seq, 0);

	seq = put_set(0, 0, past, 1, 2, 0xa0, true);
	assert_int_equal(ckpt_find(&st, "demo", &chain), 0);
	assert_int_equal(ckpt_view_open(&st, &chain, &v), -EBADMSG);
	assert_non_null(strstr(ckpt_error(&st), "its pages file holds"));
}

static void a_pagemap_of_unknown_magic_is_left_to_extraction(void **state)
{
	struct ckpt_writer w;
	struct ckpt_chain chain;
	struct ckpt_view v;
	uint8_t junk[16] = { 1, 2, 3, 4, 5, 6, 7, 8 };

	(void)state;
	assert_int_equal(ckpt_begin(&st, &w, "demo", 0, 1, 0), 0);
	assert_int_equal(ckpt_add_file(&w, "pagemap-7.img", 0600, junk, sizeof(junk)), 0);
	assert_int_equal(ckpt_commit(&w, NULL), 0);
	assert_int_equal(ckpt_find(&st, "demo", &chain), 0);
	assert_int_equal(ckpt_view_open(&st, &chain, &v), -ENOTSUP);
}

static void a_corrupt_chunk_under_the_view_fails_the_read(void **state)
{
	const struct run pre[] = { { 0x10000, 20, PE_PRESENT | PE_LAZY } };
	const struct run dump[] = { { 0x10000, 20, PE_PARENT } };
	struct ckpt_chain chain;
	struct ckpt_view v;
	uint8_t page[PG];
	uint64_t parent;
	int pages;

	(void)state;
	parent = put_set(0, CKPT_SET_PARTIAL, pre, 1, 20, 0xa0, false);
	put_set(parent, 0, dump, 1, 0, 0xb0, true);
	assert_int_equal(ckpt_find(&st, "demo", &chain), 0);
	assert_int_equal(ckpt_view_open(&st, &chain, &v), 0);
	pages = ckpt_view_find(&v, "pages-1.img");
	/* Damage page 18 of the parent's pages file, in the region. */
	{
		struct ckpt_map *m = &v.map[1];
		int f = ckpt_map_find(m, "pages-1.img");

		region[(size_t)(m->payload - region) + m->files[f].data_off + 18 * PG + 5] ^= 1;
	}
	assert_int_equal(ckpt_view_read(&v, (uint32_t)pages, 0, page, PG), PG);
	st.bad_seq = 0;
	assert_int_equal(ckpt_view_read(&v, (uint32_t)pages, 18 * PG, page, PG), -EBADMSG);
	assert_int_equal(st.bad_seq, parent);
	ckpt_view_close(&v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(a_chain_is_flattened_with_lazy_pages_from_the_pre_dump, setup),
		cmocka_unit_test_setup(a_dump_alone_keeps_its_lazy_pages_lazy, setup),
		cmocka_unit_test_setup(a_page_the_parent_does_not_hold_refuses_the_child, setup),
		cmocka_unit_test_setup(a_pagemap_out_of_order_or_past_its_pages_is_refused, setup),
		cmocka_unit_test_setup(a_pagemap_of_unknown_magic_is_left_to_extraction, setup),
		cmocka_unit_test_setup(a_corrupt_chunk_under_the_view_fails_the_read, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
