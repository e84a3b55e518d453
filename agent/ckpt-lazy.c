// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Lazy restore: the tree is restored without its anonymous memory, which
 * CRIU's lazy-pages daemon then fills through userfaultfd, on a fault
 * first and the rest in the background, so the service can answer before
 * all of it has been copied back.
 *
 * Through the criu command, not libcriu: libcriu 3.17 has no setter for
 * lazy_pages and no request that starts the lazy-pages daemon.  The two
 * meet on "lazy-pages.socket" in the work directory, here the images
 * directory for both; the daemon must listen before restore connects,
 * which is when `criu lazy-pages --daemon` returns.  The daemon exits by
 * itself once every page is in; until then the images must stay (the
 * extracted directory is on tmpfs and is the caller's to remove later).
 * From an extracted chain only the newest dump's own pages are lazy: the
 * pages it takes from parent images are read eagerly by restore.  Served
 * through the flattened view (ckpt-fuse.c) every anonymous page is.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ckpt-criu.h"

static int run_criu(char *const argv[])
{
	posix_spawn_file_actions_t fa;
	extern char **environ;
	pid_t pid;
	int rc, st;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc)
		return -rc;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EIO;
}

static pid_t read_pid(const char *dir, const char *name)
{
	char path[600];
	long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	if (fscanf(f, "%ld", &v) != 1 || v <= 0 || v > 0x7fffffff)
		v = -EBADMSG;
	fclose(f);
	return (pid_t)v;
}

/* Where the images are and where CRIU's logs, socket and pid files go. */
static int dirs(const struct ckpt_criu_req *r, char *dir, char *work, size_t len)
{
	if (!r->images_dir)
		return -EINVAL;
	snprintf(dir, len, "%s", r->images_dir);
	snprintf(work, len, "%s", r->work_dir ? r->work_dir : r->images_dir);
	return 0;
}

int ckpt_lazy_start(const struct ckpt_criu_req *r, pid_t *daemon)
{
	const char *bin = getenv("CRIU_BINARY");
	char criu[256], lazy_verb[] = "lazy-pages", d_flag[] = "-D", w_flag[] = "-W";
	char daemon_flag[] = "--daemon", pidfile_flag[] = "--pidfile", o_flag[] = "-o", v_flag[] = "-v3";
	char lp_log[] = "lazy-pages.log";
	char dir[512], work[512], lp_pid[600];
	int rc;

	if ((rc = dirs(r, dir, work, sizeof(dir))))
		return rc;
	snprintf(criu, sizeof(criu), "%s", bin && *bin ? bin : "criu");
	/*
	 * Logs and the daemons' socket go to the work directory (the images
	 * may be read-only); pid files there too, where we look for them.
	 */
	snprintf(lp_pid, sizeof(lp_pid), "%s/lazy-pages.pid", work);
	char *lazy_argv[] = { criu, lazy_verb, d_flag, dir, w_flag, work, daemon_flag, pidfile_flag, lp_pid,
			      o_flag, lp_log, v_flag, NULL };

	rc = run_criu(lazy_argv);
	if (rc)
		return rc;
	*daemon = read_pid(work, "lazy-pages.pid");
	return *daemon > 0 ? 0 : *daemon;
}

static int lazy_restore(void *ctx, const struct ckpt_criu_req *r, pid_t *pid)
{
	const char *bin = getenv("CRIU_BINARY");
	char criu[256], restore_verb[] = "restore", d_flag[] = "-D", pidfile_flag[] = "--pidfile";
	char o_flag[] = "-o", v_flag[] = "-v3", lazy_flag[] = "--lazy-pages", detach[] = "-d";
	char w_flag[] = "-W";
	char tcp_close[] = "--tcp-close";	/* as ckpt-criu.c dumps and restores */
	char dir[512], work[512], log[128], rs_pid[600];
	pid_t daemon;
	int rc;

	(void)ctx;
	if ((rc = dirs(r, dir, work, sizeof(dir))))
		return rc;
	snprintf(criu, sizeof(criu), "%s", bin && *bin ? bin : "criu");
	snprintf(log, sizeof(log), "%s", r->log_file ? r->log_file : "restore.log");
	snprintf(rs_pid, sizeof(rs_pid), "%s/restore.pid", work);
	char *restore_argv[] = { criu, restore_verb, d_flag, dir, w_flag, work, lazy_flag, detach, tcp_close,
				 pidfile_flag, rs_pid, o_flag, log, v_flag, NULL };

	rc = ckpt_lazy_start(r, &daemon);
	if (rc)
		return rc;
	rc = run_criu(restore_argv);
	if (rc) {
		/* Nothing will ever connect now: do not leave it waiting. */
		kill(daemon, SIGKILL);
		return rc;
	}
	*pid = read_pid(work, "restore.pid");
	return *pid > 0 ? 0 : *pid;
}

pid_t ckpt_lazy_daemon(const char *work_dir)
{
	return read_pid(work_dir, "lazy-pages.pid");
}

int ckpt_criu_no_dump(void *ctx, const struct ckpt_criu_req *r)
{
	(void)ctx;
	(void)r;
	return -EOPNOTSUPP;
}

/* Restore only: checkpoints are always taken through libcriu. */
const struct ckpt_criu_ops ckpt_criu_lazy = {
	.pre_dump = ckpt_criu_no_dump,
	.dump = ckpt_criu_no_dump,
	.restore = lazy_restore,
};
