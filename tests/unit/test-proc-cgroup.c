// SPDX-License-Identifier: GPL-2.0-or-later
/* Reading a process's cgroup2 path from /proc/PID/cgroup. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "proc-cgroup.h"

static void finds_the_v2_line_among_v1_ones(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(proc_cgroup_parse("12:pids:/x\n0::/orthros/demo\n1:name=systemd:/\n",
					   out, sizeof(out)), 0);
	assert_string_equal(out, "/orthros/demo");
	/* The last line without its newline, and the root. */
	assert_int_equal(proc_cgroup_parse("3:cpu:/\n0::/", out, sizeof(out)), 0);
	assert_string_equal(out, "/");
}

static void no_v2_line_or_not_a_path(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(proc_cgroup_parse("12:pids:/x\n1:name=systemd:/\n", out, sizeof(out)), -ENOENT);
	assert_int_equal(proc_cgroup_parse("", out, sizeof(out)), -ENOENT);
	assert_int_equal(proc_cgroup_parse("0::\n", out, sizeof(out)), -EINVAL);
	assert_int_equal(proc_cgroup_parse("0::orthros\n", out, sizeof(out)), -EINVAL);
	/* "10::" is not "0::" */
	assert_int_equal(proc_cgroup_parse("10::/a\n", out, sizeof(out)), -ENOENT);
}

static void too_long_for_the_buffer(void **state)
{
	char out[8];

	(void)state;
	assert_int_equal(proc_cgroup_parse("0::/1234567\n", out, sizeof(out)), -ENAMETOOLONG);
	assert_int_equal(proc_cgroup_parse("0::/123456\n", out, sizeof(out)), 0);
	assert_string_equal(out, "/123456");
}

static void compares_with_the_configured_name(void **state)
{
	(void)state;
	assert_true(proc_cgroup_is("/orthros/demo", "orthros/demo"));
	assert_true(proc_cgroup_is("/orthros/demo", "/orthros/demo/"));
	assert_false(proc_cgroup_is("/orthros/demo2", "orthros/demo"));
	assert_false(proc_cgroup_is("/orthros", "orthros/demo"));
	assert_false(proc_cgroup_is("/", "orthros/demo"));
}

static void reads_this_process(void **state)
{
	char out[4096];
	int rc;

	(void)state;
	rc = proc_cgroup(getpid(), out, sizeof(out));
	/* Every kernel this runs on has the cgroup2 line (4.5 and later). */
	assert_int_equal(rc, 0);
	assert_int_equal(out[0], '/');
	assert_int_equal(proc_cgroup(-1, out, sizeof(out)), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(finds_the_v2_line_among_v1_ones),
		cmocka_unit_test(no_v2_line_or_not_a_path),
		cmocka_unit_test(too_long_for_the_buffer),
		cmocka_unit_test(compares_with_the_configured_name),
		cmocka_unit_test(reads_this_process),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
