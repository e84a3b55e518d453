// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * orthrosd's early-takeover process (takeover-proc.c) against a real
 * child: a shell script standing in for orthrosctl, which writes down how
 * it was started and what it read, and exits with the status the test
 * asks for.
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
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "takeover-proc.h"

static char dir[64], prog[128];

static const char script[] =
	"#!/bin/sh\n"
	"# $1 takeover, $2 --standby or nothing\n"
	"[ \"$1\" = takeover ] || exit 2\n"
	"# standby: go takes over; wait takes over if TKP_DEAD is set (the\n"
	"# controller says the peer is dead), else keeps waiting; back stands by\n"
	"if [ \"$2\" = --standby ]; then\n"
	"	echo $$ >\"$TKP_DIR/standby\"\n"
	"	while read -r line; do\n"
	"		echo \"$line\" >>\"$TKP_DIR/heard\"\n"
	"		case $line in\n"
	"		go) break ;;\n"
	"		wait) [ -n \"${TKP_DEAD:-}\" ] && break ;;\n"
	"		back) ;;\n"
	"		*) exit 3 ;;\n"
	"		esac\n"
	"	done\n"
	"	[ -n \"${line:-}\" ] || { echo eof >\"$TKP_DIR/dismissed\"; exit 3; }\n"
	"	echo \"$line\" >\"$TKP_DIR/fired\"\n"
	"else\n"
	"	echo direct >\"$TKP_DIR/direct\"\n"
	"fi\n"
	"exit \"${TKP_EXIT:-0}\"\n";

static int setup(void **state)
{
	FILE *f;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/orthros-tkp-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(prog, sizeof(prog), "%s/fake-orthrosctl", dir);
	f = fopen(prog, "w");
	assert_non_null(f);
	fputs(script, f);
	fclose(f);
	chmod(prog, 0755);
	setenv("TKP_DIR", dir, 1);
	unsetenv("TKP_EXIT");
	unsetenv("TKP_DEAD");
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) ? -1 : 0;
}

/* What the child wrote into NAME, or "" if it has not (yet). */
static const char *said(const char *name)
{
	static char buf[64];
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	buf[0] = '\0';
	f = fopen(path, "r");
	if (f) {
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		fclose(f);
	}
	return buf;
}

/* Wait (10 s at most) until the standby script is at its read. */
static void wait_standby_ready(void)
{
	for (int i = 0; i < 1000 && !said("standby")[0]; i++)
		usleep(10000);
	assert_string_not_equal(said("standby"), "");
}

/* @t with a standby at its read (the one a BackupOS's orthrosd keeps). */
static pid_t new_standby(struct tkp *t)
{
	char path[160];
	int pid;

	snprintf(path, sizeof(path), "%s/standby", dir);
	unlink(path);
	tkp_init(t, prog);
	pid = tkp_tick(t, true, 0);
	assert_true(pid > 0);
	wait_standby_ready();
	return pid;
}

/* The next event, polled as orthrosd would after a SIGCHLD. */
static enum tkp_event next_event(struct tkp *t, int *st)
{
	enum tkp_event ev = TKP_NOTHING;

	for (int i = 0; i < 1000 && (ev = tkp_reap(t, 0, st)) == TKP_NOTHING; i++)
		usleep(10000);
	return ev;
}

static void a_standby_is_kept_while_backup_and_fired_at_the_panic(void **state)
{
	struct tkp t;
	bool standby;
	int pid, st;

	(void)state;
	tkp_init(&t, prog);
	pid = tkp_tick(&t, true, 0);
	assert_true(pid > 0);
	assert_int_equal(tkp_tick(&t, true, 1), 0);	/* one standby, not two */
	wait_standby_ready();
	assert_int_equal(atoi(said("standby")), pid);
	assert_string_equal(said("fired"), "");		/* it waits */

	assert_int_equal(tkp_fire(&t, 7, &standby), pid);
	assert_true(standby);
	assert_int_equal(next_event(&t, &st), TKP_DONE);
	assert_string_equal(said("fired"), "go");
	assert_string_equal(said("direct"), "");
	tkp_close(&t);
}

static void one_takeover_per_dead_generation(void **state)
{
	struct tkp t;
	bool standby;
	int st;

	(void)state;
	tkp_init(&t, prog);
	assert_true(tkp_fire(&t, 3, &standby) > 0);	/* no standby: spawned */
	assert_false(standby);
	assert_int_equal(tkp_tick(&t, true, 0), 0);	/* no standby beside it */
	assert_int_equal(tkp_fire(&t, 3, &standby), -EALREADY);	/* running */
	assert_int_equal(tkp_fire(&t, 4, &standby), -EALREADY);	/* still running */
	assert_int_equal(next_event(&t, &st), TKP_DONE);
	assert_string_equal(said("direct"), "direct");
	assert_int_equal(tkp_fire(&t, 3, &standby), -EALREADY);	/* done for 3 */
	/* Taken over: still "backup" until promoted, but no standby again. */
	assert_true(t.took_over);
	assert_int_equal(tkp_tick(&t, true, 1 + TKP_RETRY_NS), 0);
	assert_int_equal(t.standby, 0);
	assert_true(tkp_fire(&t, 4, &standby) > 0);	/* the next death is new */
	assert_false(standby);
	assert_int_equal(next_event(&t, &st), TKP_DONE);
	tkp_close(&t);
}

static void leaving_the_backup_role_dismisses_the_standby(void **state)
{
	struct tkp t;
	int st;

	(void)state;
	new_standby(&t);
	assert_int_equal(tkp_tick(&t, false, 1), 0);
	assert_int_equal(next_event(&t, &st), TKP_STANDBY_EXITED);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 3);
	assert_string_equal(said("dismissed"), "eof");
	assert_string_equal(said("fired"), "");
	/* Backup again: a new standby, but not in a tight loop. */
	assert_int_equal(tkp_tick(&t, true, 2), 0);
	assert_true(tkp_tick(&t, true, 2 + TKP_RETRY_NS) > 0);
	tkp_close(&t);
	assert_int_equal(next_event(&t, &st), TKP_STANDBY_EXITED);
}

static void a_dead_standby_means_a_spawned_takeover(void **state)
{
	struct tkp t;
	siginfo_t si;
	bool standby;
	int pid, st, got[2];

	(void)state;
	pid = new_standby(&t);
	kill(pid, SIGKILL);
	/* Dead but not reaped, as between its death and our SIGCHLD. */
	assert_int_equal(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);
	assert_true(tkp_fire(&t, 9, &standby) > 0);
	assert_false(standby);
	got[0] = next_event(&t, &st);
	assert_true(WIFSIGNALED(st));
	got[1] = next_event(&t, &st);
	assert_int_equal(got[0], TKP_STANDBY_EXITED);
	assert_int_equal(got[1], TKP_DONE);
	assert_string_equal(said("direct"), "direct");
	tkp_close(&t);
}

static void the_exit_status_says_what_happened(void **state)
{
	struct tkp t;
	bool standby;
	int st;

	(void)state;
	tkp_init(&t, prog);
	setenv("TKP_EXIT", "3", 1);
	assert_true(tkp_fire(&t, 1, &standby) > 0);
	assert_int_equal(next_event(&t, &st), TKP_DECLINED);
	/* Declined: still the watching BackupOS, a standby again. */
	assert_false(t.took_over);
	setenv("TKP_EXIT", "1", 1);
	assert_true(tkp_fire(&t, 2, &standby) > 0);
	assert_int_equal(next_event(&t, &st), TKP_FAILED);
	assert_int_equal(WEXITSTATUS(st), 1);
	tkp_close(&t);
}

/* Everything the standby read, one word after the other, once @n came. */
static const char *heard(int n)
{
	static char all[128];
	char path[128], line[16];
	FILE *f;
	int got = 0;

	snprintf(path, sizeof(path), "%s/heard", dir);
	for (int i = 0; i < 1000 && got < n; i++) {
		all[0] = '\0';
		got = 0;
		f = fopen(path, "r");
		while (f && fgets(line, sizeof(line), f)) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(all + strlen(all), sizeof(all) - strlen(all), "%s%s", got++ ? " " : "", line);
		}
		if (f)
			fclose(f);
		if (got < n)
			usleep(10000);
	}
	return all;
}

static void a_silent_active_is_waited_for_and_a_beat_stands_it_down(void **state)
{
	struct tkp t;
	bool standby;
	int pid, st;

	(void)state;
	tkp_init(&t, prog);
	assert_int_equal(tkp_wait(&t, 5), -ENOENT);	/* no standby: Pacemaker's */
	pid = new_standby(&t);
	assert_int_equal(tkp_wait(&t, 5), pid);
	assert_int_equal(tkp_wait(&t, 5), -EALREADY);	/* told once */
	assert_int_equal(tkp_back(&t, 4), 0);		/* another generation's beat */
	assert_int_equal(tkp_back(&t, 5), 1);
	assert_int_equal(tkp_back(&t, 5), 0);		/* told once */
	assert_string_equal(heard(2), "wait back");
	/* It stands by, as it was: the same process, its restores kept. */
	assert_int_equal(tkp_reap(&t, 0, &st), TKP_NOTHING);
	assert_int_equal(tkp_tick(&t, true, 1), 0);
	assert_int_equal(tkp_wait(&t, 5), pid);		/* silent again */
	assert_int_equal(tkp_fire(&t, 5, &standby), pid);	/* then its PANIC */
	assert_true(standby);
	assert_int_equal(next_event(&t, &st), TKP_DONE);
	assert_string_equal(heard(4), "wait back wait go");
	assert_false(t.waiting);
	tkp_close(&t);
}

static void a_standby_that_took_over_after_the_fence_is_a_takeover(void **state)
{
	struct tkp t;
	bool standby;
	int pid, st;

	(void)state;
	setenv("TKP_DEAD", "1", 1);
	pid = new_standby(&t);
	assert_int_equal(tkp_wait(&t, 6), pid);
	assert_int_equal(next_event(&t, &st), TKP_DONE);
	assert_string_equal(said("fired"), "wait");
	/* Not a standby that ended: no other standby, no second takeover. */
	assert_true(t.took_over);
	assert_int_equal(tkp_fire(&t, 6, &standby), -EALREADY);
	assert_int_equal(tkp_tick(&t, true, 1 + TKP_RETRY_NS), 0);
	assert_int_equal(t.standby, 0);
	tkp_close(&t);

	/* One that stood down at end-of-file is a standby that ended. */
	unsetenv("TKP_DEAD");
	pid = new_standby(&t);
	assert_int_equal(tkp_wait(&t, 7), pid);
	tkp_close(&t);
	assert_int_equal(next_event(&t, &st), TKP_STANDBY_EXITED);
	assert_false(t.took_over);
}

static void no_program_no_takeover_and_a_missing_one_is_an_error(void **state)
{
	struct tkp t;
	bool standby;
	char missing[160];

	(void)state;
	tkp_init(&t, NULL);
	assert_int_equal(tkp_tick(&t, true, 0), 0);
	assert_int_equal(tkp_fire(&t, 1, &standby), -ENOSYS);

	snprintf(missing, sizeof(missing), "%s/no-such-program", dir);
	tkp_init(&t, missing);
	assert_int_equal(tkp_tick(&t, true, 0), -ENOENT);
	assert_int_equal(tkp_tick(&t, true, 1), 0);	/* retried later, not at once */
	assert_int_equal(tkp_fire(&t, 1, &standby), -ENOENT);
	tkp_close(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(a_standby_is_kept_while_backup_and_fired_at_the_panic),
		T(one_takeover_per_dead_generation),
		T(leaving_the_backup_role_dismisses_the_standby),
		T(a_dead_standby_means_a_spawned_takeover),
		T(the_exit_status_says_what_happened),
		T(a_silent_active_is_waited_for_and_a_beat_stands_it_down),
		T(a_standby_that_took_over_after_the_fence_is_a_takeover),
		T(no_program_no_takeover_and_a_missing_one_is_an_error),
#undef T
	};

	/* A child's death must not kill the test; orthrosd ignores nothing. */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
