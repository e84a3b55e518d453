// SPDX-License-Identifier: GPL-2.0-or-later
/* Partition planner: seed 001's rules, one test per rule. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "conf.h"
#include "plan.h"
#include "units.h"

static struct orthros_conf *load(const char *path)
{
	struct orthros_conf *c = malloc(sizeof(*c));
	struct diag *d = malloc(sizeof(*d));

	assert_non_null(c);
	assert_non_null(d);
	diag_init(d, path);
	if (conf_load_file(path, c, d))
		diag_print(d, stderr);
	assert_int_equal(d->nerrors, 0);
	free(d);
	return c;
}

static void generation_picks_slot_by_parity(void **state)
{
	(void)state;
	assert_int_equal(plan_slot_for_generation(0), CONF_SLOT_COUNT);
	assert_int_equal(plan_slot_for_generation(1), CONF_SLOT_FIRST);
	assert_int_equal(plan_slot_for_generation(2), CONF_SLOT_EVEN);
	assert_int_equal(plan_slot_for_generation(3), CONF_SLOT_ODD);
	for (uint32_t g = 2; g <= 1000; g++)
		assert_int_equal(plan_slot_for_generation(g),
				 g % 2 ? CONF_SLOT_ODD : CONF_SLOT_EVEN);
	assert_int_equal(plan_slot_for_generation(PLAN_MAX_GENERATION),
			 CONF_SLOT_EVEN);
	assert_int_equal(plan_slot_for_generation(PLAN_MAX_GENERATION - 1),
			 CONF_SLOT_ODD);
}

/* Seed 001 table 1: BackupOS started on local APIC 6 of {0, 2, 4, 6}. */
static void table1_backup_on_lapic6(void **state)
{
	const uint32_t lapic[] = { 0, 2, 4, 6 };
	const uint32_t want_ids[] = { 1, 2, 3, 0 };
	const uint32_t want_logical[] = { 1, 2, 4, 8 };
	uint32_t ids[4], logical[4];

	(void)state;
	assert_int_equal(plan_cpu_ids(lapic, 4, 6, ids), 0);
	assert_memory_equal(ids, want_ids, sizeof(ids));
	assert_int_equal(plan_logical_apic_ids(lapic, 4, CONF_APIC_FLAT, logical), 0);
	assert_memory_equal(logical, want_logical, sizeof(logical));
}

/* Seed 001 table 2: the new BackupOS started on local APIC 2. */
static void table2_new_backup_on_lapic2(void **state)
{
	const uint32_t lapic[] = { 0, 2, 4, 6 };
	const uint32_t want_ids[] = { 1, 0, 2, 3 };
	const uint32_t want_logical[] = { 1, 2, 4, 8 };
	uint32_t ids[4], logical[4];

	(void)state;
	assert_int_equal(plan_cpu_ids(lapic, 4, 2, ids), 0);
	assert_memory_equal(ids, want_ids, sizeof(ids));
	assert_int_equal(plan_logical_apic_ids(lapic, 4, CONF_APIC_FLAT, logical), 0);
	assert_memory_equal(logical, want_logical, sizeof(logical));
}

static void logical_ids_do_not_depend_on_listing_order(void **state)
{
	const uint32_t lapic[] = { 6, 0, 4, 2 };
	const uint32_t want[] = { 8, 1, 4, 2 };
	uint32_t logical[4];

	(void)state;
	assert_int_equal(plan_logical_apic_ids(lapic, 4, CONF_APIC_FLAT, logical), 0);
	assert_memory_equal(logical, want, sizeof(logical));
}

static void logical_ids_refuse_bad_input(void **state)
{
	const uint32_t nine[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8 };
	const uint32_t dup[] = { 0, 2, 2 };
	uint32_t out[9];

	(void)state;
	assert_int_equal(plan_logical_apic_ids(nine, 9, CONF_APIC_FLAT, out), -E2BIG);
	assert_int_equal(plan_logical_apic_ids(dup, 3, CONF_APIC_FLAT, out), -EINVAL);
	assert_int_equal(plan_cpu_ids(dup, 3, 2, out), -EINVAL);
	assert_int_equal(plan_cpu_ids(nine, 9, 42, out), -EINVAL);
}

static void x2apic_logical_ids_follow_cluster_layout(void **state)
{
	const uint32_t lapic[] = { 0, 1, 0x23 };
	uint32_t logical[3];

	(void)state;
	assert_int_equal(plan_logical_apic_ids(lapic, 3, CONF_APIC_X2APIC, logical), 0);
	assert_int_equal(logical[0], 0x1);
	assert_int_equal(logical[1], 0x2);
	assert_int_equal(logical[2], 0x20008);
}

static bool holds(const uint32_t *v, size_t n, uint32_t x)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

/* Over 1000 generations: Backup on an AP, CPUs split exactly, disk with Active. */
static void thousand_generations_keep_the_invariants(void **state)
{
	struct orthros_conf *c = load(SRCDIR "/config/orthros.yaml");
	struct plan_generation prev;

	(void)state;
	for (uint32_t g = 1; g <= 1000; g++) {
		struct plan_generation pg;

		assert_int_equal(plan_generation(c, g, &pg), 0);
		assert_int_equal(pg.active.gen, g);
		assert_int_equal(pg.backup.gen, g + 1);
		assert_int_not_equal(pg.active.slot, pg.backup.slot);
		assert_int_not_equal(pg.backup.boot_cpu, CONF_BSP_LAPIC);
		assert_true(holds(pg.backup.cpus, pg.backup.ncpus, pg.backup.boot_cpu));
		assert_true(holds(pg.active.cpus, pg.active.ncpus, pg.active.boot_cpu));
		assert_int_equal(pg.active.ncpus + pg.backup.ncpus, c->ncpus);
		for (size_t i = 0; i < pg.backup.ncpus; i++)
			assert_false(holds(pg.active.cpus, pg.active.ncpus, pg.backup.cpus[i]));
		/* The data disk always belongs to the Active. */
		bool active_has_data = false;

		for (size_t i = 0; i < pg.active.ndevices; i++)
			active_has_data |= pg.active.devices[i] == c->data_disk;
		assert_true(active_has_data);
		assert_int_equal(pg.active.ndevices + pg.backup.ndevices, c->ndevices);
		/* The Backup of generation g is the Active of generation g + 1. */
		if (g > 1) {
			assert_int_equal(prev.backup.slot, pg.active.slot);
			assert_int_equal(prev.backup.boot_cpu, pg.active.boot_cpu);
		}
		prev = pg;
	}
	free(c);
}

static void generation_zero_does_not_exist(void **state)
{
	struct orthros_conf *c = load(SRCDIR "/config/orthros.yaml");
	struct plan_generation pg;

	(void)state;
	assert_int_equal(plan_generation(c, 0, &pg), -EINVAL);
	assert_int_equal(plan_generation(c, UINT32_MAX, &pg), -EINVAL);
	assert_int_equal(plan_generation(c, PLAN_MAX_GENERATION, &pg), 0);
	free(c);
}

/* Seed 001 table 5: the 1st OS has more; the 2nd, 3rd, ... all the same. */
static void table5_memory_shape(void **state)
{
	struct orthros_conf *c = load(SRCDIR "/config/examples/seed-001.yaml");
	struct plan_generation g1, g2, gn;

	(void)state;
	assert_int_equal(plan_generation(c, 1, &g1), 0);
	assert_int_equal(plan_generation(c, 2, &g2), 0);
	assert_true(g1.active.memory > g2.active.memory);
	assert_int_equal(g1.lost_nonhotplug, 0);
	/* Reserved bytes in the general memory cost whole 128 MiB blocks. */
	assert_true(g2.lost_nonhotplug > 0);
	assert_int_equal(g2.lost_nonhotplug % (128 * MiB), 0);
	for (uint32_t g = 3; g <= 1000; g++) {
		assert_int_equal(plan_generation(c, g, &gn), 0);
		assert_int_equal(gn.active.memory, g2.active.memory);
		assert_int_equal(gn.lost_nonhotplug, g2.lost_nonhotplug);
		assert_int_equal(gn.backup.memory, g2.backup.memory);
	}
	free(c);
}

/* A tiny machine built by hand to pin the block rule down exactly. */
static void block_with_one_reserved_byte_cannot_be_hot_added(void **state)
{
	struct orthros_conf *c = calloc(1, sizeof(*c));
	struct plan_hotplug hp;
	struct conf_range general = { .start = 0, .size = 4 * 128 * MiB };

	(void)state;
	assert_non_null(c);
	c->block_size = 128 * MiB;
	c->nram = 1;
	c->ram[0] = (struct conf_range){ .start = 0, .size = 3 * 128 * MiB + 64 * MiB };
	c->nreserved = 1;
	c->reserved[0] = (struct conf_range){ .start = 128 * MiB + 4096, .size = 1 };

	plan_hotplug_range(c, &general, &hp);
	/* block 0 clean, block 1 has a reserved byte, block 2 clean,
	 * block 3 is half outside RAM. */
	assert_int_equal(hp.blocks_added, 2);
	assert_int_equal(hp.blocks_lost, 2);
	assert_int_equal(hp.added, 2 * 128 * MiB);
	assert_int_equal(hp.lost, 2 * 128 * MiB);
	/* Without hotplug (the 1st OS) only the reserved byte and the hole go. */
	assert_int_equal(plan_usable_bytes(c, &general), 3 * 128 * MiB + 64 * MiB - 1);
	free(c);
}

static void plan_prints_two_rows_per_generation(void **state)
{
	struct orthros_conf *c = load(SRCDIR "/config/orthros.yaml");
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	unsigned active = 0, backup = 0;

	(void)state;
	assert_non_null(out);
	assert_int_equal(plan_print(out, c, 1, 6), 0);
	fclose(out);
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		if (line[0] < '0' || line[0] > '9')
			continue;	/* header and legend */
		active += strstr(line, " Active ") != NULL;
		backup += strstr(line, " Backup ") != NULL;
	}
	assert_int_equal(active, 6);
	assert_int_equal(backup, 6);
	free(buf);
	free(c);
}

static void plan_print_refuses_generation_zero(void **state)
{
	struct orthros_conf *c = load(SRCDIR "/config/orthros.yaml");

	(void)state;
	assert_int_equal(plan_print(stdout, c, 0, 1), -EINVAL);
	assert_int_equal(plan_print(stdout, c, PLAN_MAX_GENERATION, 2), -EINVAL);
	free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(generation_picks_slot_by_parity),
		cmocka_unit_test(table1_backup_on_lapic6),
		cmocka_unit_test(table2_new_backup_on_lapic2),
		cmocka_unit_test(logical_ids_do_not_depend_on_listing_order),
		cmocka_unit_test(logical_ids_refuse_bad_input),
		cmocka_unit_test(x2apic_logical_ids_follow_cluster_layout),
		cmocka_unit_test(thousand_generations_keep_the_invariants),
		cmocka_unit_test(generation_zero_does_not_exist),
		cmocka_unit_test(table5_memory_shape),
		cmocka_unit_test(block_with_one_reserved_byte_cannot_be_hot_added),
		cmocka_unit_test(plan_prints_two_rows_per_generation),
		cmocka_unit_test(plan_print_refuses_generation_zero),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
