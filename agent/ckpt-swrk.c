// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A `criu swrk` started before it is needed: under TCG a criu process
 * costs ~100 ms to exec and link before it does anything, which a
 * standby restore (ckpt-standby.c) pays while the ActiveOS still runs.
 * The request is CRIU's own RPC message (rpc.proto, packed with the
 * protobuf-c code libcriu exports), over the SOCK_SEQPACKET pair that
 * `criu swrk FD` serves, exactly as libcriu talks to the swrk it starts.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <criu/rpc.pb-c.h>

#include "ckpt-swrk.h"

/* A restore's answer is small; anything larger is not CRIU's. */
#define RESP_MAX 4096

int ckpt_swrk_start(struct ckpt_swrk *w)
{
	const char *bin = getenv("CRIU_BINARY");
	char criu[256], verb[] = "swrk", fdarg[16];
	posix_spawn_file_actions_t fa;
	extern char **environ;
	int sk[2], rc;

	w->pid = -1;
	w->sk = -1;
	/* Only the child's end crosses exec. */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sk) < 0)
		return -errno;
	snprintf(criu, sizeof(criu), "%s", bin && *bin ? bin : "criu");
	snprintf(fdarg, sizeof(fdarg), "%d", sk[1]);
	char *argv[] = { criu, verb, fdarg, NULL };

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	/* dup2 onto itself clears FD_CLOEXEC in the child. */
	posix_spawn_file_actions_adddup2(&fa, sk[1], sk[1]);
	rc = posix_spawnp(&w->pid, criu, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(sk[1]);
	if (rc) {
		close(sk[0]);
		w->pid = -1;
		return -rc;
	}
	w->sk = sk[0];
	return 0;
}

bool ckpt_swrk_alive(struct ckpt_swrk *w)
{
	if (w->pid <= 0)
		return false;
	if (waitpid(w->pid, NULL, WNOHANG) == 0)
		return true;
	w->pid = -1;
	return false;
}

ssize_t ckpt_swrk_pack_restore(const struct ckpt_criu_req *r, bool lazy, const char *config_file, uint8_t *buf,
			       size_t len)
{
	CriuReq req = CRIU_REQ__INIT;
	CriuOpts o = CRIU_OPTS__INIT;
	size_t n;

	o.images_dir_fd = r->images_fd;
	if (r->work_fd >= 0) {
		o.has_work_dir_fd = true;
		o.work_dir_fd = r->work_fd;
	}
	o.log_file = (char *)(uintptr_t)(r->log_file ? r->log_file : "restore.log");
	o.has_log_level = true;
	o.log_level = 3;
	/* As ckpt-criu.c: not on a terminal, client connections closed. */
	o.has_shell_job = true;
	o.shell_job = false;
	o.has_tcp_close = true;
	o.tcp_close = true;
	o.has_lazy_pages = true;
	o.lazy_pages = lazy;
	o.config_file = (char *)(uintptr_t)config_file;
	req.type = CRIU_REQ_TYPE__RESTORE;
	req.opts = &o;
	n = criu_req__get_packed_size(&req);
	if (n > len)
		return -ENOSPC;
	return (ssize_t)criu_req__pack(&req, buf);
}

int ckpt_swrk_parse_restore(const uint8_t *buf, size_t n, pid_t *pid, char *msg, size_t len)
{
	CriuResp *resp = criu_resp__unpack(NULL, n, buf);
	int rc = 0;

	if (!resp)
		return -EBADMSG;
	if (resp->type != CRIU_REQ_TYPE__RESTORE) {
		rc = -EBADMSG;
	} else if (!resp->success) {
		snprintf(msg, len, "criu refused the restore: %s (errno %d)",
			 resp->cr_errmsg ? resp->cr_errmsg : "no reason given",
			 resp->has_cr_errno ? resp->cr_errno : 0);
		rc = -EIO;
	} else if (!resp->restore || resp->restore->pid <= 0) {
		rc = -EBADMSG;
	} else {
		*pid = resp->restore->pid;
	}
	criu_resp__free_unpacked(resp, NULL);
	return rc;
}

/*
 * CRIU's RPC has no field for --leave-stopped (3.17), but a request may
 * name a configuration file, read as the command line's options are: one
 * with that option alone, in the restore's work directory.
 */
static int leave_stopped_conf(const struct ckpt_criu_req *r, char *path, size_t len)
{
	static const char line[] = "leave-stopped\n";
	int fd;

	if (!r->work_dir || r->work_fd < 0)
		return -EINVAL;
	if ((size_t)snprintf(path, len, "%s/leave-stopped.conf", r->work_dir) >= len)
		return -ENAMETOOLONG;
	fd = openat(r->work_fd, "leave-stopped.conf", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, line, sizeof(line) - 1) != (ssize_t)sizeof(line) - 1) {
		close(fd);
		return -EIO;
	}
	close(fd);
	return 0;
}

int ckpt_swrk_restore(struct ckpt_swrk *w, const struct ckpt_criu_req *r, bool lazy, pid_t *pid,
		      char *msg, size_t len)
{
	uint8_t *buf = malloc(RESP_MAX);
	char conf[600];
	ssize_t n;
	int rc;

	if (!buf)
		return -ENOMEM;
	if (r->leave_stopped) {
		rc = leave_stopped_conf(r, conf, sizeof(conf));
		if (rc) {
			snprintf(msg, len, "cannot ask criu swrk to leave the tree stopped: %s", strerror(-rc));
			goto out;
		}
	}
	n = ckpt_swrk_pack_restore(r, lazy, r->leave_stopped ? conf : NULL, buf, RESP_MAX);
	if (n < 0) {
		rc = (int)n;
		goto out;
	}
	if (send(w->sk, buf, (size_t)n, MSG_NOSIGNAL) != n) {
		rc = -errno;
		snprintf(msg, len, "criu swrk (pid %d) is gone: %s", (int)w->pid, strerror(errno));
		goto out;
	}
	do
		n = recv(w->sk, buf, RESP_MAX, 0);
	while (n < 0 && errno == EINTR);
	if (n <= 0) {
		rc = n < 0 ? -errno : -EPIPE;
		snprintf(msg, len, "criu swrk (pid %d) gave no answer: %s", (int)w->pid,
			 n < 0 ? strerror(errno) : "it exited");
		goto out;
	}
	rc = ckpt_swrk_parse_restore(buf, (size_t)n, pid, msg, len);
	if (rc == -EBADMSG)
		snprintf(msg, len, "criu swrk (pid %d) answered something else than a restore", (int)w->pid);
out:
	free(buf);
	ckpt_swrk_stop(w);
	return rc;
}

void ckpt_swrk_stop(struct ckpt_swrk *w)
{
	if (w->sk >= 0)
		close(w->sk);
	w->sk = -1;
	/*
	 * After an answer it exits by itself (the restored tree, its child,
	 * goes to init); a swrk never asked is told by its socket's EOF.
	 */
	if (w->pid > 0)
		while (waitpid(w->pid, NULL, 0) < 0 && errno == EINTR)
			;
	w->pid = -1;
}
