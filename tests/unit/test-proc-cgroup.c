// SPDX-License-Identifier: GPL-2.0-or-later
/* Reading a process's cgroup2 path from /proc/PID/cgroup. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
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

/*
 * The demo service runs as pid 2 of its own pid namespace and sees the
 * partition's /proc, where /proc/2 is another process (kthreadd): it
 * reported "/" while it ran in /orthros/counter.  Asked for itself (pid 0),
 * it must get its own cgroup, the one it inherited from this test.
 */
static void reads_itself_inside_a_pid_namespace(void **state)
{
	char mine[4096], theirs[4200];
	int fds[2], st;
	ssize_t n;
	pid_t pid;

	(void)state;
	assert_int_equal(proc_cgroup(0, mine, sizeof(mine)), 0);
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char out[4096], line[4200];
		pid_t inner;
		int len;

		close(fds[0]);
		/* Root only, as the suite runs: failing here fails the test. */
		if (unshare(CLONE_NEWPID) < 0) {
			len = snprintf(line, sizeof(line), "unshare: errno %d", errno);
			(void)!write(fds[1], line, (size_t)len);
			_exit(1);
		}
		inner = fork();
		if (inner == 0) {
			int rc = proc_cgroup(0, out, sizeof(out));

			len = snprintf(line, sizeof(line), "pid %d rc %d %s", (int)getpid(), rc,
				       rc ? "-" : out);
			(void)!write(fds[1], line, (size_t)len);
			_exit(0);
		}
		_exit(inner > 0 && waitpid(inner, &st, 0) == inner && WIFEXITED(st) ? 0 : 1);
	}
	close(fds[1]);
	n = read(fds[0], theirs, sizeof(theirs) - 1);
	close(fds[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(n > 0);
	theirs[n] = '\0';
	{
		char want[4200];

		snprintf(want, sizeof(want), "pid 1 rc 0 %s", mine);
		assert_string_equal(theirs, want);
	}
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(finds_the_v2_line_among_v1_ones),
		cmocka_unit_test(no_v2_line_or_not_a_path),
		cmocka_unit_test(too_long_for_the_buffer),
		cmocka_unit_test(compares_with_the_configured_name),
		cmocka_unit_test(reads_this_process),
		cmocka_unit_test(reads_itself_inside_a_pid_namespace),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
