// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * orthrosd's hotplug role: which uevents make it write to sysfs, and what
 * it writes, against a fake sysfs tree.
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

#include "hotplug.h"

#define UEVENT(s) s, sizeof(s) - 1

static char root[64];

static void put_file(const char *rel, const char *text)
{
	char path[256], dir[256];

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

static char *get_file(const char *rel)
{
	static char buf[32];
	char path[256];

	snprintf(path, sizeof(path), "%s%s", root, rel);
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	buf[fread(buf, 1, sizeof(buf) - 1, f)] = '\0';
	fclose(f);
	return buf;
}

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/orthros-sysfs.XXXXXX");
	assert_non_null(mkdtemp(root));
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static void an_added_cpu_is_recognised(void **state)
{
	struct hotplug_event ev;

	(void)state;
	assert_int_equal(hotplug_parse_uevent(UEVENT(
		"add@/devices/system/cpu/cpu1\0ACTION=add\0DEVPATH=/devices/system/cpu/cpu1\0"
		"SUBSYSTEM=cpu\0SEQNUM=1234\0"), &ev), 1);
	assert_int_equal(ev.kind, HOTPLUG_CPU);
	assert_string_equal(ev.devpath, "/devices/system/cpu/cpu1");
}

static void an_added_memory_block_is_recognised(void **state)
{
	struct hotplug_event ev;

	(void)state;
	assert_int_equal(hotplug_parse_uevent(UEVENT(
		"add@/devices/system/memory/memory42\0ACTION=add\0"
		"DEVPATH=/devices/system/memory/memory42\0SUBSYSTEM=memory\0SEQNUM=9\0"), &ev), 1);
	assert_int_equal(ev.kind, HOTPLUG_MEMORY);
	assert_string_equal(ev.devpath, "/devices/system/memory/memory42");
}

static void other_uevents_are_ignored(void **state)
{
	struct hotplug_event ev;

	(void)state;
	assert_int_equal(hotplug_parse_uevent(UEVENT(
		"remove@/devices/system/cpu/cpu1\0ACTION=remove\0DEVPATH=/devices/system/cpu/cpu1\0"
		"SUBSYSTEM=cpu\0"), &ev), 0);
	assert_int_equal(hotplug_parse_uevent(UEVENT(
		"add@/devices/virtual/net/lo\0ACTION=add\0DEVPATH=/devices/virtual/net/lo\0"
		"SUBSYSTEM=net\0"), &ev), 0);
}

static void malformed_uevents_are_refused(void **state)
{
	struct hotplug_event ev;

	(void)state;
	/* No header, truncated field, missing keys. */
	assert_int_equal(hotplug_parse_uevent(UEVENT("ACTION=add\0"), &ev), -EINVAL);
	assert_int_equal(hotplug_parse_uevent(UEVENT(
		"add@/devices/system/cpu/cpu1\0ACTION=add\0SUBSYSTEM=cpu"), &ev), -EINVAL);
	assert_int_equal(hotplug_parse_uevent(UEVENT(
		"add@/x\0ACTION=add\0SUBSYSTEM=cpu\0"), &ev), -EINVAL);
	assert_int_equal(hotplug_parse_uevent(NULL, 0, &ev), -EINVAL);
	/* A devpath that would make it write outside a cpu or memory block. */
	assert_int_equal(hotplug_parse_uevent(UEVENT(
		"add@/devices/system/cpu/cpu1/../../../../power\0ACTION=add\0"
		"DEVPATH=/devices/system/cpu/cpu1/../../../../power\0SUBSYSTEM=cpu\0"), &ev), -EINVAL);
	assert_int_equal(hotplug_parse_uevent(UEVENT(
		"add@/devices/system/cpu/cpufreq\0ACTION=add\0DEVPATH=/devices/system/cpu/cpufreq\0"
		"SUBSYSTEM=cpu\0"), &ev), -EINVAL);
	/* A cpu devpath under the memory subsystem. */
	assert_int_equal(hotplug_parse_uevent(UEVENT(
		"add@/devices/system/cpu/cpu1\0ACTION=add\0DEVPATH=/devices/system/cpu/cpu1\0"
		"SUBSYSTEM=memory\0"), &ev), -EINVAL);
}

static void an_offline_device_is_onlined_once(void **state)
{
	struct hotplug_event ev = { HOTPLUG_CPU, "/devices/system/cpu/cpu1" };

	(void)state;
	put_file("/devices/system/cpu/cpu1/online", "0\n");
	assert_int_equal(hotplug_online(root, &ev), 1);
	assert_string_equal(get_file("/devices/system/cpu/cpu1/online"), "1\n");
	assert_int_equal(hotplug_online(root, &ev), 0);
}

static void a_cpu_without_an_online_file_is_left_alone(void **state)
{
	struct hotplug_event ev = { HOTPLUG_CPU, "/devices/system/cpu/cpu0" };

	(void)state;
	assert_int_equal(hotplug_online(root, &ev), 0);
}

static void the_sweep_onlines_every_offline_block_and_nothing_else(void **state)
{
	(void)state;
	put_file("/devices/system/cpu/cpu0/topology", "x");
	put_file("/devices/system/cpu/cpu1/online", "1\n");
	put_file("/devices/system/cpu/cpu2/online", "0\n");
	put_file("/devices/system/cpu/cpufreq/online", "0\n");
	put_file("/devices/system/memory/memory7/online", "1\n");
	put_file("/devices/system/memory/memory8/online", "0\n");
	put_file("/devices/system/memory/memory9/online", "0\n");
	assert_int_equal(hotplug_online_all(root), 3);
	assert_string_equal(get_file("/devices/system/cpu/cpu2/online"), "1\n");
	assert_string_equal(get_file("/devices/system/memory/memory8/online"), "1\n");
	assert_string_equal(get_file("/devices/system/memory/memory9/online"), "1\n");
	assert_string_equal(get_file("/devices/system/cpu/cpufreq/online"), "0\n");
	assert_int_equal(hotplug_online_all(root), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(an_added_cpu_is_recognised),
		cmocka_unit_test(an_added_memory_block_is_recognised),
		cmocka_unit_test(other_uevents_are_ignored),
		cmocka_unit_test(malformed_uevents_are_refused),
		cmocka_unit_test_setup_teardown(an_offline_device_is_onlined_once, setup, teardown),
		cmocka_unit_test_setup_teardown(a_cpu_without_an_online_file_is_left_alone, setup, teardown),
		cmocka_unit_test_setup_teardown(the_sweep_onlines_every_offline_block_and_nothing_else, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
