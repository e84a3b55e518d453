// SPDX-License-Identifier: GPL-2.0-or-later
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "takeover-proc.h"

#define TKP_EXIT_NO 3

void tkp_init(struct tkp *t, const char *prog)
{
	*t = (struct tkp){ .prog = prog, .ctl = -1 };
}

/*
 * Standard input is our socket (standby) or /dev/null, standard output
 * joins our standard error: the takeover's steps land in orthrosd's log.
 */
static int spawn(const struct tkp *t, int in, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	extern char **environ;
	char verb[] = "takeover", flag[] = "--standby", prog[256];
	char *argv[] = { prog, verb, in >= 0 ? flag : NULL, NULL };
	int rc;

	snprintf(prog, sizeof(prog), "%s", t->prog);
	posix_spawn_file_actions_init(&fa);
	if (in >= 0)
		posix_spawn_file_actions_adddup2(&fa, in, 0);
	else
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, 2, 1);
	rc = posix_spawnp(pid, t->prog, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	return -rc;
}

static int tell(struct tkp *t, const char *word)
{
	size_t n = strlen(word);

	if (!t->standby || t->ctl < 0)
		return -ENOENT;
	if (send(t->ctl, word, n, MSG_NOSIGNAL) != (ssize_t)n)
		return errno ? -errno : -EIO;
	return 0;
}

static void dismiss(struct tkp *t)
{
	/* End-of-file is the standby's "not needed": it exits, we reap it. */
	if (t->ctl >= 0)
		close(t->ctl);
	t->ctl = -1;
	t->waiting = false;
}

int tkp_tick(struct tkp *t, bool backup, uint64_t now_ns)
{
	int sv[2], rc;
	pid_t pid;

	if (!t->prog)
		return 0;
	if (!backup || t->took_over) {
		dismiss(t);
		return 0;
	}
	if (t->standby || t->running || now_ns < t->retry_ns)
		return 0;
	/*
	 * A socket rather than a pipe: writing to a standby that has just
	 * died must be an error (MSG_NOSIGNAL), not a SIGPIPE for orthrosd.
	 * Close-on-exec on both ends, so no other child of ours (criu,
	 * attrd_updater) holds the standby's input open past a dismissal.
	 */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		t->retry_ns = now_ns + TKP_RETRY_NS;
		return -errno;
	}
	rc = spawn(t, sv[1], &pid);
	close(sv[1]);
	if (rc) {
		close(sv[0]);
		t->retry_ns = now_ns + TKP_RETRY_NS;
		return rc;
	}
	shutdown(sv[0], SHUT_RD);
	t->ctl = sv[0];
	t->standby = pid;
	return (int)pid;
}

int tkp_fire(struct tkp *t, uint32_t dead_gen, bool *standby)
{
	pid_t pid;
	int rc;

	*standby = false;
	if (!t->prog)
		return -ENOSYS;
	if (t->running || (t->taken && t->taken_gen == dead_gen))
		return -EALREADY;
	/* A standby waiting for this death hears the notice too. */
	if (!tell(t, "go\n")) {
		dismiss(t);	/* it has its word; nothing more is sent */
		t->running = t->standby;
		t->standby = 0;
		t->fired_standby = true;
		*standby = true;
	} else {
		/* No standby, or it is gone: its exit is reaped as such. */
		dismiss(t);
		rc = spawn(t, -1, &pid);
		if (rc)
			return rc;
		t->running = pid;
		t->fired_standby = false;
	}
	t->taken = true;
	t->taken_gen = dead_gen;
	return (int)t->running;
}

int tkp_wait(struct tkp *t, uint32_t gen)
{
	int rc;

	if (!t->prog)
		return -ENOSYS;
	if (t->running || (t->taken && t->taken_gen == gen) || (t->waiting && t->wait_gen == gen))
		return -EALREADY;
	rc = tell(t, "wait\n");
	if (rc)
		return rc;
	t->waiting = true;
	t->wait_gen = gen;
	return (int)t->standby;
}

int tkp_back(struct tkp *t, uint32_t gen)
{
	if (!t->waiting || t->wait_gen != gen)
		return 0;
	t->waiting = false;
	return tell(t, "back\n") ? 0 : 1;
}

enum tkp_event tkp_reap(struct tkp *t, uint64_t now_ns, int *status)
{
	int st;

	if (t->standby && waitpid(t->standby, &st, WNOHANG) == t->standby) {
		bool waited = t->waiting;
		uint32_t gen = t->wait_gen;

		t->standby = 0;
		dismiss(t);
		*status = st;
		/*
		 * Told to wait, it took over by itself once the controller
		 * said the peer was dead: a takeover that ran here, not a
		 * standby that ended.
		 */
		if (waited && !(WIFEXITED(st) && WEXITSTATUS(st) == TKP_EXIT_NO)) {
			t->taken = true;
			t->taken_gen = gen;
			t->took_over = true;
			return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? TKP_DONE : TKP_FAILED;
		}
		/* Dismissed, or it died unasked: either way, not at once again. */
		t->retry_ns = now_ns + TKP_RETRY_NS;
		*status = st;
		return TKP_STANDBY_EXITED;
	}
	if (t->running && waitpid(t->running, &st, WNOHANG) == t->running) {
		t->running = 0;
		*status = st;
		if (WIFEXITED(st) && WEXITSTATUS(st) == TKP_EXIT_NO)
			return TKP_DECLINED;
		/*
		 * Its role is still "backup" until Pacemaker promotes it, seconds
		 * later; a standby started meanwhile would prepare to take over
		 * what this partition now runs (and restore its groups ahead).
		 */
		t->took_over = true;
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			return TKP_DONE;
		return TKP_FAILED;
	}
	return TKP_NOTHING;
}

void tkp_close(struct tkp *t)
{
	dismiss(t);
}
