// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * orthros-init: run a protected group's command in a pid namespace of its
 * own, under a small init.
 *
 * CRIU gives a restored process the pid it had when dumped.  Without a
 * namespace those are pids of the dead Active, and in the new Active any
 * of them may already be taken by a process of its own boot: the restore
 * then fails ("pid ... is busy") and the group starts cold.  When the
 * group's tree is rooted at the init of its own pid namespace, CRIU
 * restores the whole namespace: inside it the pids are the same (1 and
 * 2...), outside they are whatever is free.
 *
 * The init is this program, forked (libc only: every mapping of every task
 * in the tree is work for each checkpoint's freeze):
 *   - it leads a session of its own, which CRIU needs inside the tree;
 *   - it passes TERM, INT, HUP, QUIT, USR1 and USR2 on to the command's
 *     process group (the command leads one of its own, so a signal sent
 *     to the init's group, the agent's stop, reaches it exactly once; an
 *     init's default action for these signals is to ignore them);
 *   - it reaps the orphans of the namespace and exits with the command's
 *     status when the command exits (the kernel then kills whatever is
 *     left in the namespace).
 * The launcher writes the init's pid (as seen outside, what orthrosd
 * checkpoints and the agent watches) to --pidfile and exits 0 once the
 * command is running, or 1 with the reason.  The init is a grandchild of
 * the launcher (see middle()): once both have exited, it belongs to the
 * partition's init or to the nearest subreaper.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <linux/magic.h>
#include <unistd.h>

static const int passed_on[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };

static void usage(FILE *f)
{
	fprintf(f,
		"usage: orthros-init [--pidfile FILE] [--cgroup DIR] -- COMMAND [ARG...]\n"
		"Runs COMMAND in a new pid namespace under a small init (pid 1 in it),\n"
		"so that a CRIU checkpoint of the tree rooted at the init restores\n"
		"without pid collisions.  The init passes TERM, INT, HUP, QUIT, USR1\n"
		"and USR2 on to COMMAND and exits with its status.  --pidfile FILE:\n"
		"the init's pid outside the namespace (written before this exits).\n"
		"--cgroup DIR: the whole tree runs in this cgroup, a directory of a\n"
		"cgroup2 hierarchy (absolute path, created if missing).\n"
		"Exits 0 once COMMAND runs, 1 if it could not be started.\n");
}

static int write_pidfile(const char *path, pid_t pid)
{
	char tmp[4096], line[32];
	int fd, n;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	n = snprintf(line, sizeof(line), "%d\n", (int)pid);
	if (write(fd, line, (size_t)n) != n) {
		close(fd);
		unlink(tmp);
		return -EIO;
	}
	if (close(fd) < 0) {
		int err = -errno;

		unlink(tmp);
		return err;
	}
	if (rename(tmp, path) < 0) {
		int err = -errno;

		unlink(tmp);
		return err;
	}
	return 0;
}

/*
 * Move the launcher into DIR, so that the init and everything it starts
 * are born there: joining later would leave a window in which the tree
 * is half in and a checkpoint would record it so.  Only directories
 * below a cgroup2 mount are created: the deepest existing ancestor must
 * be one, so a mistyped path is an error rather than a directory in
 * /sys or on a disk.
 */
static int join_cgroup(const char *dir, const char **why)
{
	char path[4096], line[32];
	struct statfs sf;
	size_t len = strlen(dir), at;
	int fd, n, err = 0;

	*why = "a cgroup directory must be an absolute path";
	if (dir[0] != '/')
		return -EINVAL;
	*why = "the path is too long";
	if (len + sizeof("/cgroup.procs") > sizeof(path))
		return -ENAMETOOLONG;
	memcpy(path, dir, len + 1);
	while (len > 1 && path[len - 1] == '/')
		path[--len] = '\0';
	/* Back to the deepest ancestor that exists. */
	at = len;
	while (at > 0 && access(path, F_OK) < 0) {
		while (at > 0 && path[at] != '/')
			at--;
		path[at] = '\0';
	}
	*why = "not in a cgroup2 hierarchy (mount -t cgroup2 none /sys/fs/cgroup)";
	if (statfs(at ? path : "/", &sf) < 0)
		return -errno;
	if (sf.f_type != CGROUP2_SUPER_MAGIC)
		return -EMEDIUMTYPE;
	/* Down again, creating each missing level. */
	*why = "cannot create it";
	while (at < len) {
		path[at] = '/';
		at += strlen(path + at);
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return -errno;
	}
	*why = "cannot join it";
	memcpy(path + len, "/cgroup.procs", sizeof("/cgroup.procs"));
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = snprintf(line, sizeof(line), "%d\n", (int)getpid());
	if (write(fd, line, (size_t)n) != n)
		err = -errno;
	close(fd);
	return err;
}

/* The command: its own process group, the signals as the init found them. */
static __attribute__((noreturn)) void run_command(char **argv, const sigset_t *orig, int report)
{
	int err;

	setpgid(0, 0);
	for (size_t i = 0; i < sizeof(passed_on) / sizeof(passed_on[0]); i++)
		signal(passed_on[i], SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	sigprocmask(SIG_SETMASK, orig, NULL);
	execvp(argv[0], argv);
	err = errno;
	if (write(report, &err, sizeof(err)) < 0)
		_exit(127);
	_exit(127);
}

/* pid 1 of the namespace: never returns. */
static __attribute__((noreturn)) void be_init(char **argv, int report)
{
	sigset_t wait_for, orig;
	siginfo_t si;
	pid_t cmd;

	setsid();
	/*
	 * SIGCHLD ignored (inherited across exec) would have the kernel reap
	 * the command unseen, and the init would outlive it.
	 */
	signal(SIGCHLD, SIG_DFL);
	sigemptyset(&wait_for);
	for (size_t i = 0; i < sizeof(passed_on) / sizeof(passed_on[0]); i++)
		sigaddset(&wait_for, passed_on[i]);
	sigaddset(&wait_for, SIGCHLD);
	sigprocmask(SIG_BLOCK, &wait_for, &orig);
	cmd = fork();
	if (cmd < 0) {
		int err = errno;

		if (write(report, &err, sizeof(err)) < 0)
			_exit(126);
		_exit(126);
	}
	if (cmd == 0)
		run_command(argv, &orig, report);
	/* As the command does: whichever runs first, its group exists. */
	setpgid(cmd, cmd);
	close(report);
	for (;;) {
		int sig = sigwaitinfo(&wait_for, &si), status;
		pid_t p;

		if (sig < 0)
			continue;	/* EINTR: a stop/continue, or CRIU's seize */
		if (sig != SIGCHLD) {
			/* To the command's group, as a stop of a whole service is meant. */
			if (kill(-cmd, sig) < 0)
				kill(cmd, sig);
			continue;
		}
		while ((p = waitpid(-1, &status, WNOHANG)) > 0) {
			if (p != cmd)
				continue;	/* an orphan of the namespace */
			if (WIFSIGNALED(status))
				_exit(128 + WTERMSIG(status));
			_exit(WEXITSTATUS(status));
		}
	}
}

/*
 * What the middle process reports: the init's pid outside, or why there
 * is none.
 */
struct started {
	pid_t init;
	int err;
};

/*
 * Unshare and fork the init in a child of ours, never in the launcher
 * itself: after unshare(CLONE_NEWPID) every later child of the caller
 * lands in the new namespace, and a sanitizer's leak check at exit (which
 * forks a tracer) then hangs.  The middle process reports and goes.
 */
static __attribute__((noreturn)) void middle(char **argv, int report, int tell)
{
	struct started st = { 0, 0 };

	if (unshare(CLONE_NEWPID) < 0) {
		st.err = errno;
	} else {
		st.init = fork();
		if (st.init < 0) {
			st.err = errno;
		} else if (st.init == 0) {
			close(tell);
			be_init(argv, report);
		}
	}
	if (write(tell, &st, sizeof(st)) != (ssize_t)sizeof(st))
		_exit(1);
	_exit(st.err ? 1 : 0);
}

int main(int argc, char **argv)
{
	const char *pidfile = NULL, *cgroup = NULL, *why;
	int i, report[2], tell[2], err = 0, rc;
	struct started st = { 0, EPIPE };
	ssize_t n;
	pid_t mid;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			i++;
			break;
		} else if (!strcmp(argv[i], "--pidfile") && i + 1 < argc) {
			pidfile = argv[++i];
		} else if (!strcmp(argv[i], "--cgroup") && i + 1 < argc) {
			cgroup = argv[++i];
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "orthros-init: unexpected argument '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (i >= argc) {
		fprintf(stderr, "orthros-init: no command given\n");
		usage(stderr);
		return 2;
	}
	if (cgroup && (rc = join_cgroup(cgroup, &why)) < 0) {
		if (rc == -EMEDIUMTYPE || rc == -EINVAL)
			fprintf(stderr, "orthros-init: cgroup %s: %s\n", cgroup, why);
		else
			fprintf(stderr, "orthros-init: cgroup %s: %s: %s\n", cgroup, why, strerror(-rc));
		return rc == -EINVAL ? 2 : 1;
	}
	if (pipe2(report, O_CLOEXEC) < 0 || pipe2(tell, O_CLOEXEC) < 0) {
		perror("orthros-init: pipe");
		return 1;
	}
	mid = fork();
	if (mid < 0) {
		fprintf(stderr, "orthros-init: fork: %s\n", strerror(errno));
		return 1;
	}
	if (mid == 0) {
		close(report[0]);
		close(tell[0]);
		middle(argv + i, report[1], tell[1]);
	}
	close(report[1]);
	close(tell[1]);
	do {
		n = read(tell[0], &st, sizeof(st));
	} while (n < 0 && errno == EINTR);
	close(tell[0]);
	while (waitpid(mid, NULL, 0) < 0 && errno == EINTR)
		;
	if (n != (ssize_t)sizeof(st) || st.err || st.init <= 0) {
		fprintf(stderr, "orthros-init: a new pid namespace and its init: %s\n",
			strerror(n == (ssize_t)sizeof(st) && st.err ? st.err : EPIPE));
		return 1;
	}
	/* Nothing: the command's exec closed the pipe.  An errno: it failed. */
	do {
		n = read(report[0], &err, sizeof(err));
	} while (n < 0 && errno == EINTR);
	close(report[0]);
	if (n == (ssize_t)sizeof(err)) {
		fprintf(stderr, "orthros-init: cannot run %s: %s\n", argv[i], strerror(err));
		return 1;
	}
	if (pidfile && (rc = write_pidfile(pidfile, st.init)) < 0) {
		fprintf(stderr, "orthros-init: %s: %s (the command runs, init pid %d)\n", pidfile,
			strerror(-rc), (int)st.init);
		return 1;
	}
	return 0;
}
