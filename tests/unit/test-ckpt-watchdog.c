// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The deadline on CRIU calls (ckpt-watchdog.c) against real children:
 * a process renamed "criu" stands in for the `criu swrk` libcriu forks,
 * and the test waits for it as libcriu waits for its answer.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "ckpt-watchdog.h"

#define MS 1000000ull

/* Every child made, killed at teardown: one left alive by a failed check would hold the test's output open. */
static pid_t made[8];
static unsigned int nmade;

static void track(pid_t pid)
{
	if (pid > 0 && nmade < sizeof(made) / sizeof(made[0]))
		made[nmade++] = pid;
}

static int teardown(void **state)
{
	(void)state;
	for (unsigned int i = 0; i < nmade; i++) {
		kill(made[i], SIGKILL);
		waitpid(made[i], NULL, WNOHANG);
	}
	nmade = 0;
	return 0;
}

/* A child named @name that waits to be killed; with a child of its own if @grandchild. */
static pid_t child(const char *name, bool grandchild, int *gc_pipe)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_NAME, name);
		if (grandchild) {
			pid_t gc = fork();

			if (gc == 0) {
				prctl(PR_SET_NAME, "helper");
				for (;;)
					pause();
			}
			if (write(gc_pipe[1], &gc, sizeof(gc)) != sizeof(gc))
				_exit(2);
		}
		for (;;)
			pause();
	}
	track(pid);
	return pid;
}

static void wait_named(pid_t pid, const char *name)
{
	char path[64], buf[32] = "";

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	for (int i = 0; i < 500; i++) {
		FILE *f = fopen(path, "r");

		if (f) {
			if (!fgets(buf, sizeof(buf), f))
				buf[0] = '\0';
			fclose(f);
		}
		buf[strcspn(buf, "\n")] = '\0';
		if (!strcmp(buf, name))
			return;
		usleep(2000);
	}
	fail_msg("child %d never took the name %s", (int)pid, name);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A CRIU that never answers is killed at the deadline, which ends the wait. */
static void a_hung_criu_is_killed_at_the_deadline(void **state)
{
	struct ckpt_watchdog w;
	pid_t pid, first = 0;
	uint64_t t0;
	int status;

	(void)state;
	assert_int_equal(ckpt_watchdog_start(&w, 200 * MS), 0);
	pid = child("criu", false, NULL);
	wait_named(pid, "criu");
	t0 = mono_ms();
	ckpt_watchdog_arm(&w);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(mono_ms() - t0 >= 190);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	assert_int_equal(ckpt_watchdog_disarm(&w, &first), 1);
	assert_int_equal(first, pid);
	ckpt_watchdog_stop(&w);
}

/* Disarmed in time, it touches nothing, however long the child lives on. */
static void a_call_that_ends_in_time_is_left_alone(void **state)
{
	struct ckpt_watchdog w;
	pid_t pid, first = 0;

	(void)state;
	assert_int_equal(ckpt_watchdog_start(&w, 100 * MS), 0);
	pid = child("criu", false, NULL);
	wait_named(pid, "criu");
	ckpt_watchdog_arm(&w);
	usleep(20 * 1000);
	assert_int_equal(ckpt_watchdog_disarm(&w, &first), 0);
	usleep(300 * 1000);
	assert_int_equal(waitpid(pid, NULL, WNOHANG), 0);
	/* Armed again, the deadline is counted from the new arm. */
	ckpt_watchdog_arm(&w);
	usleep(50 * 1000);
	assert_int_equal(waitpid(pid, NULL, WNOHANG), 0);
	assert_int_equal(ckpt_watchdog_disarm(&w, &first), 0);
	ckpt_watchdog_stop(&w);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
}

/* Only processes named criu: anything else the caller forked runs on. */
static void another_child_is_not_killed(void **state)
{
	struct ckpt_watchdog w;
	pid_t pid;

	(void)state;
	assert_int_equal(ckpt_watchdog_start(&w, 50 * MS), 0);
	pid = child("not-criu", false, NULL);
	wait_named(pid, "not-criu");
	ckpt_watchdog_arm(&w);
	usleep(700 * 1000);	/* the deadline and a retry */
	assert_int_equal(waitpid(pid, NULL, WNOHANG), 0);
	assert_int_equal(ckpt_watchdog_disarm(&w, NULL), 0);
	ckpt_watchdog_stop(&w);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
}

/* What CRIU runs (an action script, iptables) dies with it. */
static void what_criu_runs_dies_with_it(void **state)
{
	struct ckpt_watchdog w;
	int p[2], status;
	pid_t pid, gc = 0;

	(void)state;
	/* The orphaned helper comes back to the test, to be waited for. */
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(ckpt_watchdog_start(&w, 100 * MS), 0);
	pid = child("criu", true, p);
	assert_int_equal(read(p[0], &gc, sizeof(gc)), (ssize_t)sizeof(gc));
	track(gc);
	wait_named(gc, "helper");
	ckpt_watchdog_arm(&w);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	assert_int_equal(ckpt_watchdog_disarm(&w, NULL), 1);
	assert_int_equal(waitpid(gc, &status, 0), gc);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	ckpt_watchdog_stop(&w);
	close(p[0]);
	close(p[1]);
	prctl(PR_SET_CHILD_SUBREAPER, 0);
}

/*
 * A child of another thread is not the caller's: the watchdog looks at
 * the armed thread's children only.  (The other thread lives on meanwhile:
 * a thread that exits leaves its children to one that does not.)
 */
struct other {
	pid_t pid;
	int forked[2];		/* thread -> test */
	int go[2];		/* test -> thread: it may end */
};

static void *fork_from_thread(void *arg)
{
	struct other *o = arg;
	char c;

	o->pid = child("criu", false, NULL);
	if (write(o->forked[1], "f", 1) != 1 || read(o->go[0], &c, 1) != 1)
		return NULL;
	return NULL;
}

static void only_the_armed_threads_children_are_looked_at(void **state)
{
	struct ckpt_watchdog w;
	struct other o = { 0 };
	pthread_t t;
	pid_t pids[4];
	char c;

	(void)state;
	assert_int_equal(pipe(o.go), 0);
	assert_int_equal(pipe(o.forked), 0);
	assert_int_equal(pthread_create(&t, NULL, fork_from_thread, &o), 0);
	assert_int_equal(read(o.forked[0], &c, 1), 1);	/* forked; the thread now waits */
	wait_named(o.pid, "criu");
	assert_int_equal(ckpt_watchdog_children(gettid(), "criu", pids, 4), 0);
	assert_int_equal(ckpt_watchdog_start(&w, 50 * MS), 0);
	ckpt_watchdog_arm(&w);
	usleep(200 * 1000);
	assert_int_equal(waitpid(o.pid, NULL, WNOHANG), 0);
	assert_int_equal(ckpt_watchdog_disarm(&w, NULL), 0);
	ckpt_watchdog_stop(&w);
	assert_int_equal(write(o.go[1], "g", 1), 1);
	assert_int_equal(pthread_join(t, NULL), 0);
	close(o.go[0]);
	close(o.go[1]);
	close(o.forked[0]);
	close(o.forked[1]);
}

static void a_zero_timeout_is_refused(void **state)
{
	struct ckpt_watchdog w;

	(void)state;
	assert_int_equal(ckpt_watchdog_start(&w, 0), -EINVAL);
	ckpt_watchdog_stop(&w);	/* harmless on one never started */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(a_hung_criu_is_killed_at_the_deadline, teardown),
		cmocka_unit_test_teardown(a_call_that_ends_in_time_is_left_alone, teardown),
		cmocka_unit_test_teardown(another_child_is_not_killed, teardown),
		cmocka_unit_test_teardown(what_criu_runs_dies_with_it, teardown),
		cmocka_unit_test_teardown(only_the_armed_threads_children_are_looked_at, teardown),
		cmocka_unit_test_teardown(a_zero_timeout_is_refused, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
