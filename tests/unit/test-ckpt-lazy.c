// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The lazy restore backend (ckpt-lazy.c) against a fake criu
 * (CRIU_BINARY): the daemon is started and listening before restore,
 * both on the images directory, the restored pid is what restore wrote,
 * and a failed restore does not leave the daemon waiting forever.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "ckpt-criu.h"

static char dir[64], fake[128], images[128];

/*
 * Records each call's arguments; "lazy-pages" leaves a long-lived child
 * as the daemon (its pid in --pidfile), "restore" writes its pid file
 * unless FAKE_RESTORE_FAILS is set.
 */
static const char script[] =
	"#!/bin/sh\n"
	"echo \"$*\" >>\"$FAKE_DIR/calls\"\n"
	"case \"$1\" in\n"
	"lazy-pages)\n"
	"	[ -f \"$5/lazy-pages.socket\" ] && exit 1\n"
	"	sleep 30 & echo $! >\"$8\"; touch \"$5/lazy-pages.socket\"; exit 0 ;;\n"
	"restore)\n"
	"	[ -f \"$5/lazy-pages.socket\" ] || exit 1   # nobody listening\n"
	"	[ -n \"${FAKE_RESTORE_FAILS:-}\" ] && exit 1\n"
	"	echo 4242 >\"${10}\"; exit 0 ;;\n"
	"esac\n"
	"exit 2\n";

static int setup(void **state)
{
	FILE *f;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/orthros-lazy-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(fake, sizeof(fake), "%s/criu", dir);
	snprintf(images, sizeof(images), "%s/7", dir);
	assert_int_equal(mkdir(images, 0700), 0);
	f = fopen(fake, "w");
	assert_non_null(f);
	fputs(script, f);
	fclose(f);
	chmod(fake, 0755);
	setenv("CRIU_BINARY", fake, 1);
	setenv("FAKE_DIR", dir, 1);
	unsetenv("FAKE_RESTORE_FAILS");
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];
	pid_t d = ckpt_lazy_daemon(images);

	(void)state;
	if (d > 0)
		kill(d, SIGKILL);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) ? -1 : 0;
}

static void calls(char *out, size_t len)
{
	char path[128];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/calls", dir);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(out, 1, len - 1, f);
	out[n] = '\0';
	fclose(f);
}

static void the_daemon_listens_before_restore_and_the_pid_is_restores(void **state)
{
	struct ckpt_criu_req r = { .images_fd = -1, .images_dir = images, .log_file = "restore.log" };
	char got[1024], want[1024];
	pid_t pid = 0, d;

	(void)state;
	assert_int_equal(ckpt_criu_lazy.restore(NULL, &r, &pid), 0);
	assert_int_equal(pid, 4242);
	calls(got, sizeof(got));
	snprintf(want, sizeof(want),
		 "lazy-pages -D %s -W %s --daemon --pidfile %s/lazy-pages.pid -o lazy-pages.log -v3\n"
		 "restore -D %s -W %s --lazy-pages -d --tcp-close --pidfile %s/restore.pid -o restore.log -v3\n",
		 images, images, images, images, images, images);
	assert_string_equal(got, want);
	d = ckpt_lazy_daemon(images);
	assert_true(d > 0);
	assert_int_equal(kill(d, 0), 0);	/* still filling pages */
}

/* A view's images are read-only: logs, socket and pid files go elsewhere. */
static void a_work_directory_takes_what_criu_writes(void **state)
{
	char work[160], got[1024], want[2048];
	struct ckpt_criu_req r = { .images_fd = -1, .images_dir = images, .work_dir = work };
	pid_t pid = 0, d;

	(void)state;
	snprintf(work, sizeof(work), "%s/work", dir);
	assert_int_equal(mkdir(work, 0700), 0);
	assert_int_equal(ckpt_criu_lazy.restore(NULL, &r, &pid), 0);
	assert_int_equal(pid, 4242);
	calls(got, sizeof(got));
	snprintf(want, sizeof(want),
		 "lazy-pages -D %s -W %s --daemon --pidfile %s/lazy-pages.pid -o lazy-pages.log -v3\n"
		 "restore -D %s -W %s --lazy-pages -d --tcp-close --pidfile %s/restore.pid -o restore.log -v3\n",
		 images, work, work, images, work, work);
	assert_string_equal(got, want);
	assert_int_equal(ckpt_lazy_daemon(images), -ENOENT);
	d = ckpt_lazy_daemon(work);
	assert_true(d > 0);
	kill(d, SIGKILL);
}

static void a_failed_restore_does_not_leave_the_daemon_waiting(void **state)
{
	struct ckpt_criu_req r = { .images_fd = -1, .images_dir = images };
	pid_t pid = 0, d;
	int st;

	(void)state;
	setenv("FAKE_RESTORE_FAILS", "1", 1);
	assert_int_equal(ckpt_criu_lazy.restore(NULL, &r, &pid), -EIO);
	assert_int_equal(pid, 0);
	d = ckpt_lazy_daemon(images);
	assert_true(d > 0);
	/* The fake's daemon is the shell's child, reparented: poll its end. */
	for (int i = 0; i < 200 && kill(d, 0) == 0; i++) {
		waitpid(d, &st, WNOHANG);
		usleep(10000);
	}
	assert_int_not_equal(kill(d, 0), 0);
}

static void no_daemon_no_restore_and_no_dir_no_call(void **state)
{
	struct ckpt_criu_req r = { .images_fd = -1, .images_dir = images };
	struct ckpt_criu_req nodir = { .images_fd = -1 };
	char path[160];
	pid_t pid = 0;
	FILE *f;

	(void)state;
	/* A daemon that cannot start (here: a socket already there). */
	snprintf(path, sizeof(path), "%s/lazy-pages.socket", images);
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(ckpt_criu_lazy.restore(NULL, &r, &pid), -EIO);
	assert_int_equal(pid, 0);
	calls(path, sizeof(path));
	assert_null(strstr(path, "restore -D"));	/* restore never ran */
	assert_int_equal(ckpt_criu_lazy.restore(NULL, &nodir, &pid), -EINVAL);
	assert_int_equal(ckpt_criu_lazy.dump(NULL, &r), -EOPNOTSUPP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(the_daemon_listens_before_restore_and_the_pid_is_restores),
		T(a_work_directory_takes_what_criu_writes),
		T(a_failed_restore_does_not_leave_the_daemon_waiting),
		T(no_daemon_no_restore_and_no_dir_no_call),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
