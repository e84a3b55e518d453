// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Finding and mapping the checkpoint store: the ivshmem-plain function is
 * told from the doorbell device (same PCI id) by its empty BAR1, against a
 * fake sysfs tree; a file region gets msync as its sync hook.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "ckpt-region.h"

static char root[64];

static void put_file(const char *rel, const char *text)
{
	char path[512], dir[512];

	snprintf(path, sizeof(path), "%s%s", root, rel);
	snprintf(dir, sizeof(dir), "%s", path);
	for (char *p = dir + strlen(root) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		mkdir(dir, 0755);
		*p = '/';
	}
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static const char *get_file(const char *rel)
{
	static char buf[32];
	char path[512];

	snprintf(path, sizeof(path), "%s%s", root, rel);
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	buf[fread(buf, 1, sizeof(buf) - 1, f)] = '\0';
	fclose(f);
	return buf;
}

#define NOBAR "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"

/* An ivshmem function: BAR0 registers, BAR1 MSI-X (doorbell) or empty, BAR2 memory. */
static void add_ivshmem(const char *bdf, bool msix, const char *enable)
{
	char rel[128], res[512];

	snprintf(res, sizeof(res),
		 "0x00000000febf1000 0x00000000febf10ff 0x0000000000040200\n%s"
		 "0x0000000100000000 0x00000001003fffff 0x000000000014220c\n" NOBAR NOBAR NOBAR,
		 msix ? "0x00000000febf2000 0x00000000febf2fff 0x0000000000040200\n" : NOBAR);
	snprintf(rel, sizeof(rel), "/bus/pci/devices/%s/vendor", bdf);
	put_file(rel, "0x1af4\n");
	snprintf(rel, sizeof(rel), "/bus/pci/devices/%s/device", bdf);
	put_file(rel, "0x1110\n");
	snprintf(rel, sizeof(rel), "/bus/pci/devices/%s/resource", bdf);
	put_file(rel, res);
	snprintf(rel, sizeof(rel), "/bus/pci/devices/%s/enable", bdf);
	put_file(rel, enable);
}

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/orthros-test-region.XXXXXX");
	assert_non_null(mkdtemp(root));
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

static void the_plain_device_is_found_next_to_the_doorbell(void **state)
{
	char path[512], want[512];

	(void)state;
	put_file("/bus/pci/devices/0000:00:02.0/vendor", "0x1234\n");
	put_file("/bus/pci/devices/0000:00:02.0/device", "0x1111\n");
	add_ivshmem("0000:00:04.0", true, "1\n");
	add_ivshmem("0000:00:05.0", false, "0\n");
	assert_int_equal(ckpt_region_find_pci(root, path, sizeof(path)), 0);
	snprintf(want, sizeof(want), "%s/bus/pci/devices/0000:00:05.0/resource2", root);
	assert_string_equal(path, want);
	/* Nobody binds it, so memory decoding is switched on here. */
	assert_int_equal(get_file("/bus/pci/devices/0000:00:05.0/enable")[0], '1');
}

static void a_doorbell_alone_is_not_a_store(void **state)
{
	char path[512];

	(void)state;
	add_ivshmem("0000:00:04.0", true, "1\n");
	assert_int_equal(ckpt_region_find_pci(root, path, sizeof(path)), -ENODEV);
}

static void two_stores_are_ambiguous(void **state)
{
	char path[512];

	(void)state;
	add_ivshmem("0000:00:05.0", false, "1\n");
	add_ivshmem("0000:00:06.0", false, "1\n");
	assert_int_equal(ckpt_region_find_pci(root, path, sizeof(path)), -EEXIST);
}

static void a_file_region_is_sized_and_synced(void **state)
{
	struct ckpt_region r;
	struct ckpt_store s;
	char path[512], msg[256];

	(void)state;
	snprintf(path, sizeof(path), "%s/region", root);
	assert_int_equal(ckpt_region_map(path, true, true, 1 << 20, &r, msg, sizeof(msg)), 0);
	assert_false(r.is_bar);
	assert_int_equal(r.size, 1 << 20);
	assert_non_null(ckpt_region_sync(&r));
	memset(&s, 0, sizeof(s));
	s.sync = ckpt_region_sync(&r);
	assert_int_equal(ckpt_format(&s, r.base, r.size, 3, 42), 0);
	ckpt_region_unmap(&r);

	assert_int_equal(ckpt_region_open_store(path, true, &r, &s, msg, sizeof(msg)), 0);
	assert_int_equal(s.keep, 3);
	assert_non_null(s.sync);
	ckpt_region_unmap(&r);
}

static void an_unformatted_region_is_refused_with_the_reason(void **state)
{
	struct ckpt_region r;
	struct ckpt_store s;
	char path[512], msg[256];

	(void)state;
	snprintf(path, sizeof(path), "%s/zeros", root);
	assert_int_equal(ckpt_region_map(path, true, true, 1 << 16, &r, msg, sizeof(msg)), 0);
	ckpt_region_unmap(&r);
	assert_int_equal(ckpt_region_open_store(path, false, &r, &s, msg, sizeof(msg)), -EBADMSG);
	assert_non_null(strstr(msg, path));
	snprintf(path, sizeof(path), "%s/missing", root);
	assert_int_equal(ckpt_region_open_store(path, false, &r, &s, msg, sizeof(msg)), -ENOENT);
}

/* A restore maps the headers, then only the sets it reads. */
static void a_sparse_region_maps_only_what_is_read(void **state)
{
	struct ckpt_info info[CKPT_MAX_SLOTS];
	struct ckpt_chain chain;
	struct ckpt_writer w;
	struct ckpt_region r;
	struct ckpt_store s;
	struct ckpt_reader rd;
	struct ckpt_file f;
	char path[512], msg[256], data[3000] = { 'x' };
	uint64_t first, second;
	int n;

	(void)state;
	snprintf(path, sizeof(path), "%s/region", root);
	assert_int_equal(ckpt_region_map(path, true, true, 1 << 20, &r, msg, sizeof(msg)), 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(ckpt_format(&s, r.base, r.size, 3, 42), 0);
	assert_int_equal(ckpt_begin(&s, &w, "a", 0, 1, 0), 0);
	assert_int_equal(ckpt_add_file(&w, "pages-1.img", 0600, data, sizeof(data)), 0);
	assert_int_equal(ckpt_commit(&w, &first), 0);
	assert_int_equal(ckpt_begin(&s, &w, "b", 0, 1, 0), 0);
	assert_int_equal(ckpt_add_file(&w, "pages-1.img", 0600, data, 10), 0);
	assert_int_equal(ckpt_commit(&w, &second), 0);
	ckpt_region_unmap(&r);

	assert_int_equal(ckpt_region_open_sparse(path, &r, &s, msg, sizeof(msg)), 0);
	assert_true(r.sparse);
	n = ckpt_list_headers(&s, info);
	assert_int_equal(n, 4);
	for (int i = 0; i < n; i++)
		assert_int_equal(r.mapped[i], 0);	/* headers only */
	assert_int_equal(ckpt_find_in(info, (unsigned int)n, "b", &chain), 0);
	assert_int_equal(chain.set[0].seq, second);
	assert_int_equal(ckpt_read_open(&s, &chain.set[0], &rd), 0);
	assert_int_equal(ckpt_read_file(&rd, &f), 1);
	assert_int_equal(ckpt_read_data(&rd, data, sizeof(data)), 10);
	assert_int_equal(ckpt_read_file(&rd, &f), 0);
	assert_int_equal(ckpt_read_close(&rd), 0);
	/* Set b mapped, header and payload; set a not. */
	for (int i = 0; i < n; i++) {
		if (info[i].seq == second)
			assert_int_equal(r.mapped[i], sizeof(struct ckpt_slot_header) + info[i].payload_len);
		else
			assert_int_equal(r.mapped[i], 0);
	}
	ckpt_region_unmap(&r);
	assert_int_equal(ckpt_region_open_sparse("/nonexistent/x", &r, &s, msg, sizeof(msg)), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(the_plain_device_is_found_next_to_the_doorbell, setup, teardown),
		cmocka_unit_test_setup_teardown(a_doorbell_alone_is_not_a_store, setup, teardown),
		cmocka_unit_test_setup_teardown(two_stores_are_ambiguous, setup, teardown),
		cmocka_unit_test_setup_teardown(a_file_region_is_sized_and_synced, setup, teardown),
		cmocka_unit_test_setup_teardown(an_unformatted_region_is_refused_with_the_reason, setup, teardown),
		cmocka_unit_test_setup_teardown(a_sparse_region_maps_only_what_is_read, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
