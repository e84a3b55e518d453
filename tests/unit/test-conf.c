// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Configuration loader: each test edits one spot of a known-good machine
 * description and checks the exact message and position the operator sees.
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
#include <cmocka.h>

#include "conf.h"
#include "units.h"

static const char base[] =
	"orthros: 1\n"					/* 1 */
	"machine:\n"					/* 2 */
	"  name: t\n"					/* 3 */
	"  platform: qemu\n"				/* 4 */
	"  cpus: [0, 1, 2, 3]\n"			/* 5 */
	"  memory_map:\n"				/* 6 */
	"    ram:\n"					/* 7 */
	"      - { start: 0x0, size: 4GiB }\n"		/* 8 */
	"    reserved:\n"				/* 9 */
	"      - { start: 0x0, size: 4KiB }\n"		/* 10 */
	"  devices:\n"					/* 11 */
	"    - { name: da, kind: disk }\n"		/* 12 */
	"    - { name: db, kind: disk }\n"		/* 13 */
	"    - { name: data, kind: disk }\n"		/* 14 */
	"slots:\n"					/* 15 */
	"  first:\n"					/* 16 */
	"    memory: { start: 0x0, size: 512MiB }\n"	/* 17 */
	"    devices: [da]\n"				/* 18 */
	"  even:\n"					/* 19 */
	"    boot_cpu: 3\n"				/* 20 */
	"    memory: { start: 512MiB, size: 256MiB }\n"	/* 21 */
	"    devices: [db]\n"				/* 22 */
	"  odd:\n"					/* 23 */
	"    boot_cpu: 2\n"				/* 24 */
	"    memory: { start: 768MiB, size: 256MiB }\n"	/* 25 */
	"    devices: [da]\n"				/* 26 */
	"general_memory:\n"				/* 27 */
	"  - { start: 1GiB, size: 3GiB }\n"		/* 28 */
	"data_disk: data\n"				/* 29 */
	"heartbeat:\n"					/* 30 */
	"  interval: 10ms\n"				/* 31 */
	"  timeout: 50ms\n";				/* 32 */

struct fixture {
	struct orthros_conf conf;
	struct diag d;
	int rc;
};

static int setup(void **state)
{
	*state = calloc(1, sizeof(struct fixture));
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

/* Load @base with the first occurrence of @from replaced by @to. */
static struct fixture *load_edit(void **state, const char *from, const char *to)
{
	struct fixture *f = *state;
	char buf[8192];
	const char *at = from ? strstr(base, from) : NULL;

	if (from)
		assert_non_null(at);	/* the test's edit must apply */
	if (at)
		snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(at - base), base, to,
			 at + strlen(from));
	else
		snprintf(buf, sizeof(buf), "%s", base);
	diag_init(&f->d, "t.yaml");
	f->rc = conf_load_buffer("t.yaml", buf, strlen(buf), &f->conf, &f->d);
	return f;
}

/* Exactly one error, at @line:@col, whose text contains @needle. */
static void expect_error(struct fixture *f, unsigned line, unsigned col,
			 const char *needle)
{
	if (!diag_contains(&f->d, needle) || f->d.nerrors != 1)
		diag_print(&f->d, stderr);
	assert_int_equal(f->rc, -EINVAL);
	assert_int_equal(f->d.nerrors, 1);
	assert_true(diag_contains(&f->d, needle));
	assert_int_equal(f->d.msg[0].pos.line, line);
	assert_int_equal(f->d.msg[0].pos.column, col);
}

static void valid_config_loads_every_field(void **state)
{
	struct fixture *f = load_edit(state, NULL, NULL);

	diag_print(&f->d, stderr);
	assert_int_equal(f->rc, 0);
	assert_int_equal(f->d.nerrors, 0);
	assert_string_equal(f->conf.machine_name, "t");
	assert_int_equal(f->conf.ncpus, 4);
	assert_int_equal(f->conf.nram, 1);
	assert_int_equal(f->conf.ram[0].size, 4 * GiB);
	assert_int_equal(f->conf.slots[CONF_SLOT_EVEN].boot_cpu, 3);
	assert_int_equal(f->conf.slots[CONF_SLOT_EVEN].ncpus, 1);
	assert_int_equal(f->conf.slots[CONF_SLOT_ODD].memory.start, 768 * MiB);
	assert_int_equal(f->conf.general[0].size, 3 * GiB);
	assert_string_equal(f->conf.devices[f->conf.data_disk].name, "data");
	assert_int_equal(f->conf.hb_interval_us, 10000);
	assert_int_equal(f->conf.hb_timeout_us, 50000);
}

static void defaults_apply_when_keys_are_absent(void **state)
{
	struct fixture *f = load_edit(state, "heartbeat:\n  interval: 10ms\n  timeout: 50ms\n", "");

	assert_int_equal(f->rc, 0);
	assert_int_equal(f->conf.block_size, 128 * MiB);
	assert_int_equal(f->conf.apic_mode, CONF_APIC_FLAT);
	assert_int_equal(f->conf.hb_interval_us, CONF_DEFAULT_HB_INTERVAL_US);
	assert_int_equal(f->conf.hb_timeout_us, CONF_DEFAULT_HB_TIMEOUT_US);
	assert_int_equal(f->conf.checkpoint.keep, CONF_DEFAULT_CKPT_KEEP);
	assert_true(f->conf.checkpoint.incremental);
	assert_int_equal(f->conf.checkpoint.criu_timeout_us, CONF_DEFAULT_CKPT_CRIU_TIMEOUT_US);
}

static void unknown_key_is_named_with_alternatives(void **state)
{
	struct fixture *f = load_edit(state, "  platform: qemu\n",
				      "  platform: qemu\n  plattform: qemu\n");

	expect_error(f, 5, 3, "unknown key 'plattform' in machine; expected one of: name, platform,");
}

static void wrong_type_says_what_was_expected(void **state)
{
	struct fixture *f = load_edit(state, "cpus: [0, 1, 2, 3]", "cpus: four");

	expect_error(f, 5, 9, "machine.cpus: expected a list, got a scalar");
}

static void non_integer_cpu_is_refused(void **state)
{
	struct fixture *f = load_edit(state, "cpus: [0, 1, 2, 3]", "cpus: [0, 1, two, 3]");

	expect_error(f, 5, 16, "machine.cpus[2]: 'two' is not an integer");
}

static void duplicate_key_is_refused(void **state)
{
	struct fixture *f = load_edit(state, "  name: t\n", "  name: t\n  name: u\n");

	expect_error(f, 4, 3, "duplicate key 'name' in machine (first at line 3)");
}

static void missing_required_key_is_reported(void **state)
{
	struct fixture *f = load_edit(state, "data_disk: data\n", "");

	expect_error(f, 1, 1, "missing key 'data_disk' in document");
}

static void overlapping_ram_ranges_are_refused(void **state)
{
	struct fixture *f = load_edit(state, "      - { start: 0x0, size: 4GiB }\n",
				      "      - { start: 0x0, size: 4GiB }\n"
				      "      - { start: 3GiB, size: 2GiB }\n");

	expect_error(f, 9, 9, "RAM range [0xc0000000, 0x140000000) overlaps RAM range [0x0, 0x100000000) at line 8");
}

static void overlapping_slot_and_general_memory_is_refused(void **state)
{
	struct fixture *f = load_edit(state, "{ start: 768MiB, size: 256MiB }",
				      "{ start: 768MiB, size: 384MiB }");

	expect_error(f, 28, 5, "overlaps [0x30000000, 0x48000000) of odd at line 25");
}

static void bsp_as_boot_core_is_refused(void **state)
{
	struct fixture *f = load_edit(state, "boot_cpu: 3", "boot_cpu: 0");

	expect_error(f, 20, 15, "slots.even.boot_cpu: local APIC ID 0 is the BSP; a BackupOS can only be started on an AP");
}

static void cpu_in_two_slots_is_refused(void **state)
{
	struct fixture *f = load_edit(state, "boot_cpu: 2", "boot_cpu: 3");

	expect_error(f, 24, 15, "CPU with local APIC ID 3 is in slots 'even' and 'odd'");
}

static void boot_cpu_must_exist(void **state)
{
	struct fixture *f = load_edit(state, "boot_cpu: 2", "boot_cpu: 9");

	expect_error(f, 24, 15, "slots.odd: CPU with local APIC ID 9 is not in machine.cpus");
}

static void heartbeat_timeout_shorter_than_two_intervals_is_refused(void **state)
{
	struct fixture *f = load_edit(state, "timeout: 50ms", "timeout: 15ms");

	expect_error(f, 32, 12, "heartbeat.timeout: 15ms is shorter than two heartbeat intervals (2 x 10ms); expected at least 20ms");
}

static void heartbeat_timeout_of_exactly_two_intervals_is_accepted(void **state)
{
	struct fixture *f = load_edit(state, "timeout: 50ms", "timeout: 20ms");

	assert_int_equal(f->rc, 0);
}

static void general_memory_must_be_whole_blocks(void **state)
{
	struct fixture *f = load_edit(state, "{ start: 1GiB, size: 3GiB }",
				      "{ start: 1GiB, size: 3000MiB }");

	expect_error(f, 28, 5, "general_memory[0].size: 3000 MiB is not a whole number of 128 MiB hotplug blocks");
}

static void general_memory_must_be_block_aligned(void **state)
{
	struct fixture *f = load_edit(state, "general_memory:\n  - { start: 1GiB, size: 3GiB }",
				      "general_memory:\n  - { start: 0x40100000, size: 2GiB }");

	expect_error(f, 28, 5, "general_memory[0].start: 0x40100000 is not aligned to a 128 MiB hotplug block");
}

static void duration_without_unit_is_refused(void **state)
{
	struct fixture *f = load_edit(state, "interval: 10ms", "interval: 10");

	expect_error(f, 31, 13, "heartbeat.interval: '10' is not a duration; expected a whole number with a unit");
}

static void decimal_megabytes_are_refused(void **state)
{
	struct fixture *f = load_edit(state, "size: 4GiB", "size: 4GB");

	expect_error(f, 8, 29, "machine.memory_map.ram[0].size: '4GB' is not a size");
}

static void unknown_device_reference_is_refused(void **state)
{
	struct fixture *f = load_edit(state, "devices: [db]", "devices: [dc]");

	expect_error(f, 22, 15, "slots.even.devices[0]: no device named 'dc'");
}

static void device_shared_by_coexisting_slots_is_refused(void **state)
{
	struct fixture *f = load_edit(state, "devices: [db]", "devices: [da]");

	assert_int_equal(f->rc, -EINVAL);
	assert_true(diag_contains(&f->d, "device 'da' is in slots 'first' and 'even'"));
	assert_true(diag_contains(&f->d, "device 'da' is in slots 'even' and 'odd'"));
}

static void data_disk_in_a_slot_is_refused(void **state)
{
	struct fixture *f = load_edit(state, "devices: [db]", "devices: [db, data]");

	expect_error(f, 29, 12, "data_disk: 'data' is also in slots.even.devices");
}

static void flat_apic_mode_caps_cpus_at_eight(void **state)
{
	struct fixture *f = load_edit(state, "cpus: [0, 1, 2, 3]",
				      "cpus: [0, 1, 2, 3, 4, 5, 6, 7, 8]");

	expect_error(f, 5, 9, "flat logical APIC mode addresses at most 8; set machine.apic_mode: x2apic");
}

static void x2apic_mode_allows_more_cpus(void **state)
{
	struct fixture *f = load_edit(state, "cpus: [0, 1, 2, 3]",
				      "apic_mode: x2apic\n  cpus: [0, 1, 2, 3, 4, 5, 6, 7, 8]");

	assert_int_equal(f->rc, 0);
	assert_int_equal(f->conf.ncpus, 9);
}

static void missing_bsp_is_refused(void **state)
{
	struct fixture *f = load_edit(state, "cpus: [0, 1, 2, 3]", "cpus: [1, 2, 3]");

	expect_error(f, 5, 9, "the BSP (local APIC ID 0) is missing");
}

static void aliases_are_refused(void **state)
{
	struct fixture *f = load_edit(state, "cpus: [0, 1, 2, 3]",
				      "cpus: &c [0, 1, 2, 3]\n  x: *c");

	expect_error(f, 6, 6, "YAML aliases are not allowed");
}

static void syntax_error_has_position(void **state)
{
	struct fixture *f = load_edit(state, "  name: t\n", "  name: [t\n");

	assert_int_equal(f->rc, -EINVAL);
	assert_true(diag_contains(&f->d, "YAML syntax error"));
	assert_true(f->d.msg[0].pos.line >= 3);
}

static void empty_document_is_refused(void **state)
{
	struct fixture *f = *state;

	diag_init(&f->d, "empty.yaml");
	f->rc = conf_load_buffer("empty.yaml", "", 0, &f->conf, &f->d);
	assert_int_equal(f->rc, -EINVAL);
	assert_true(diag_contains(&f->d, "the configuration is empty"));
}

static void unsupported_schema_version_is_refused(void **state)
{
	struct fixture *f = load_edit(state, "orthros: 1", "orthros: 2");

	expect_error(f, 1, 10, "schema version 2 is not supported; this Orthros reads version 1");
}

static void checkpoint_keep_below_two_is_refused(void **state)
{
	struct fixture *f = load_edit(state, "data_disk: data\n",
				      "data_disk: data\ncheckpoint:\n  keep: 1\n");

	expect_error(f, 31, 9, "checkpoint.keep: 1; expected at least 2");
}

static void checkpoint_criu_timeout_below_a_second_is_refused(void **state)
{
	struct fixture *f = load_edit(state, "data_disk: data\n",
				      "data_disk: data\ncheckpoint:\n  criu_timeout: 500ms\n");

	expect_error(f, 31, 17, "checkpoint.criu_timeout: 500ms; expected at least 1s");
}

static void checkpoint_criu_timeout_is_read(void **state)
{
	struct fixture *f = load_edit(state, "data_disk: data\n",
				      "data_disk: data\ncheckpoint:\n  criu_timeout: 2min\n");

	if (f->rc)
		diag_print(&f->d, stderr);
	assert_int_equal(f->rc, 0);
	assert_int_equal(f->conf.checkpoint.criu_timeout_us, 120000000u);
}

static void window_spec_out_of_range_is_refused(void **state)
{
	struct fixture *f = load_edit(state, "data_disk: data\n",
				      "data_disk: data\nupdate_windows:\n  - { name: w, action: live-update, hours: \"22-25\" }\n");

	expect_error(f, 31, 44, "update_windows[0].hours: '22-25' is out of range");
}

static void protected_group_command_must_be_absolute(void **state)
{
	struct fixture *f = load_edit(state, "data_disk: data\n",
				      "data_disk: data\nprotected_groups:\n  - { name: g, command: [sleep, \"1\"] }\n");

	expect_error(f, 31, 25, "protected_groups[0].command: 'sleep' must be an absolute path");
}

static void protected_group_defaults_its_cgroup(void **state)
{
	struct fixture *f = load_edit(state, "data_disk: data\n",
				      "data_disk: data\nprotected_groups:\n  - { name: g, command: [/bin/sleep, \"1\"], ports: [80] }\n");

	assert_int_equal(f->rc, 0);
	assert_int_equal(f->conf.ngroups, 1);
	assert_string_equal(f->conf.groups[0].cgroup, "orthros/g");
	assert_int_equal(f->conf.groups[0].argc, 2);
	assert_int_equal(f->conf.groups[0].ports[0], 80);
}

static void example_configurations_are_valid(void **state)
{
	static const char *const files[] = {
		SRCDIR "/config/orthros.yaml",
		SRCDIR "/config/examples/seed-001.yaml",
	};
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		diag_init(&f->d, files[i]);
		f->rc = conf_load_file(files[i], &f->conf, &f->d);
		diag_print(&f->d, stderr);
		assert_int_equal(f->rc, 0);
		assert_int_equal(f->d.nwarnings, 0);
	}
}

static void missing_file_is_an_error_not_a_crash(void **state)
{
	struct fixture *f = *state;

	diag_init(&f->d, "/nonexistent");
	f->rc = conf_load_file("/nonexistent/orthros.yaml", &f->conf, &f->d);
	assert_int_equal(f->rc, -ENOENT);
	assert_true(diag_contains(&f->d, "cannot open"));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(valid_config_loads_every_field),
		T(defaults_apply_when_keys_are_absent),
		T(unknown_key_is_named_with_alternatives),
		T(wrong_type_says_what_was_expected),
		T(non_integer_cpu_is_refused),
		T(duplicate_key_is_refused),
		T(missing_required_key_is_reported),
		T(overlapping_ram_ranges_are_refused),
		T(overlapping_slot_and_general_memory_is_refused),
		T(bsp_as_boot_core_is_refused),
		T(cpu_in_two_slots_is_refused),
		T(boot_cpu_must_exist),
		T(heartbeat_timeout_shorter_than_two_intervals_is_refused),
		T(heartbeat_timeout_of_exactly_two_intervals_is_accepted),
		T(general_memory_must_be_whole_blocks),
		T(general_memory_must_be_block_aligned),
		T(duration_without_unit_is_refused),
		T(decimal_megabytes_are_refused),
		T(unknown_device_reference_is_refused),
		T(device_shared_by_coexisting_slots_is_refused),
		T(data_disk_in_a_slot_is_refused),
		T(flat_apic_mode_caps_cpus_at_eight),
		T(x2apic_mode_allows_more_cpus),
		T(missing_bsp_is_refused),
		T(aliases_are_refused),
		T(syntax_error_has_position),
		T(empty_document_is_refused),
		T(unsupported_schema_version_is_refused),
		T(checkpoint_keep_below_two_is_refused),
		T(checkpoint_criu_timeout_below_a_second_is_refused),
		T(checkpoint_criu_timeout_is_read),
		T(window_spec_out_of_range_is_refused),
		T(protected_group_command_must_be_absolute),
		T(protected_group_defaults_its_cgroup),
		T(example_configurations_are_valid),
		T(missing_file_is_an_error_not_a_crash),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
