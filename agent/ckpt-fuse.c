// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A lazy restore served straight from the store: the chain's flattened
 * view (ckpt-view.h) mounted read-only through FUSE where CRIU reads its
 * images, so nothing is copied or checked before CRIU asks for it, and
 * the lazy-pages daemon faults in every anonymous page of the chain, not
 * only the newest dump's.
 *
 * The server is a child process: it must outlive orthrosctl, which
 * returns once the tree runs, for as long as the lazy-pages daemon reads
 * pages.  It serves until told whose exit ends the view (the daemon's
 * pid, through a pidfd) or until its parent gives up (the pipe closes),
 * then unmounts and exits.  One thread: the view's chunk buffers are
 * not shared, and CRIU's reads are few and large, or one page at a fault.
 *
 * Pages files are served with direct I/O: the daemon reads each page once,
 * and a second copy in the page cache would double the memory the restore
 * costs.  The small images are cached.
 */
#include "config.h"

#define FUSE_USE_VERSION 35

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <fuse_lowlevel.h>
#include <inttypes.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "checkpointer.h"
#include "ckpt-criu.h"
#include "ckpt-fuse.h"
#include "ckpt-view.h"

struct server {
	struct ckpt_view *v;
	FILE *log;
	const char *refused;	/* where a set found corrupt is noted, or NULL */
};

static struct server *srv(void)
{
	return fuse_get_context()->private_data;
}

static void *v_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	(void)conn;
	/* Nothing here ever changes: let the kernel keep what it looked up. */
	cfg->kernel_cache = 1;
	cfg->entry_timeout = cfg->attr_timeout = cfg->negative_timeout = 86400;
	return fuse_get_context()->private_data;
}

static int lookup(const char *path)
{
	if (path[0] != '/' || strchr(path + 1, '/'))
		return -ENOENT;
	return ckpt_view_find(srv()->v, path + 1);
}

static int v_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	int i;

	(void)fi;
	memset(st, 0, sizeof(*st));
	/* When the dump was taken, for an operator looking at the mount. */
	st->st_mtim.tv_sec = (time_t)(srv()->v->map[0].set.created_ns / 1000000000u);
	st->st_mtim.tv_nsec = (long)(srv()->v->map[0].set.created_ns % 1000000000u);
	st->st_ctim = st->st_atim = st->st_mtim;
	if (!strcmp(path, "/")) {
		st->st_mode = S_IFDIR | 0500;
		st->st_nlink = 2;
		return 0;
	}
	i = lookup(path);
	if (i < 0)
		return -ENOENT;
	st->st_mode = S_IFREG | (srv()->v->files[i].mode & 0777);
	st->st_nlink = 1;
	st->st_size = (off_t)srv()->v->files[i].size;
	return 0;
}

static int v_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
		     struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	struct ckpt_view *v = srv()->v;

	(void)off;
	(void)fi;
	(void)flags;
	if (strcmp(path, "/"))
		return -ENOTDIR;
	fill(buf, ".", NULL, 0, 0);
	fill(buf, "..", NULL, 0, 0);
	for (uint32_t i = 0; i < v->nr_files; i++)
		fill(buf, v->files[i].name, NULL, 0, 0);
	return 0;
}

static int v_open(const char *path, struct fuse_file_info *fi)
{
	int i = lookup(path);

	if (i < 0)
		return -ENOENT;
	if ((fi->flags & O_ACCMODE) != O_RDONLY)
		return -EROFS;
	fi->fh = (uint64_t)i;
	if (srv()->v->files[i].kind == CKPT_VIEW_EXTENTS)
		fi->direct_io = 1;
	else
		fi->keep_cache = 1;
	return 0;
}

static int v_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct server *s = srv();
	ssize_t n;

	(void)path;
	if (off < 0)
		return -EINVAL;
	n = ckpt_view_read(s->v, (uint32_t)fi->fh, (uint64_t)off, buf, size);
	if (n < 0) {
		/* CRIU fails the restore on EIO; say why where the operator looks. */
		if (s->log) {
			fprintf(s->log, "read of %s at %jd failed: %s\n", s->v->files[fi->fh].name,
				(intmax_t)off, ckpt_error(s->v->s));
			fflush(s->log);
		}
		/* The group this feeds dies; its next restore must not pick the set again. */
		if (n == -EBADMSG && s->refused && s->v->s->bad_seq)
			ckpt_note_refused(s->refused, s->v->s->format_id, s->v->s->bad_seq);
		return n == -EBADMSG ? -EIO : (int)n;
	}
	return (int)n;
}

static const struct fuse_operations view_ops = {
	.init = v_init,
	.getattr = v_getattr,
	.readdir = v_readdir,
	.open = v_open,
	.read = v_read,
};

/* Serve until the pipe names a process and it exits, or the pipe closes. */
static int serve(struct fuse *f, int ctl)
{
	struct fuse_session *se = fuse_get_session(f);
	struct fuse_buf fbuf = { .mem = NULL };
	struct pollfd p[3] = {
		{ .fd = fuse_session_fd(se), .events = POLLIN },
		{ .fd = ctl, .events = POLLIN },
		{ .fd = -1, .events = POLLIN },
	};
	int rc = 0;

	while (!fuse_session_exited(se)) {
		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		if (p[0].revents & POLLIN) {
			int got = fuse_session_receive_buf(se, &fbuf);

			if (got == -EINTR)
				continue;
			if (got <= 0)
				break;	/* unmounted from outside */
			fuse_session_process_buf(se, &fbuf);
			continue;	/* requests before control: CRIU may be waiting */
		}
		if (p[0].revents & (POLLERR | POLLHUP))
			break;
		if (p[1].revents) {
			pid_t until = 0;

			if (read(ctl, &until, sizeof(until)) != (ssize_t)sizeof(until) || !until || until < -1)
				break;	/* given up, or nothing to wait for */
			if (until > 0) {
				p[2].fd = (int)syscall(SYS_pidfd_open, until, 0);
				if (p[2].fd < 0)
					break;	/* already gone */
			}
			/* -1: until someone unmounts it. */
			close(ctl);
			p[1].fd = -1;
		}
		if (p[2].fd >= 0 && p[2].revents)
			break;
	}
	free(fbuf.mem);
	return rc;
}

/*
 * The server is forked, not exec'd, from whoever mounts: a daemon's
 * listening sockets (the standby's libqb IPC) would stay bound as long as
 * the view is served.  It needs no socket of its caller's.
 */
static void close_sockets(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	struct stat st;

	if (!d)
		return;
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);

		if (fd > 2 && fd != dirfd(d) && !fstat(fd, &st) && S_ISSOCK(st.st_mode))
			close(fd);
	}
	closedir(d);
}

static void server_main(struct ckpt_view *v, const char *mnt, const char *log, const char *refused,
			int ready, int ctl)
{
	char *argv[] = { (char *)(uintptr_t)"orthros-ckpt-view", (char *)(uintptr_t)"-o",
			 (char *)(uintptr_t)"ro,fsname=orthros-ckpt,subtype=orthros", NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, argv);
	struct server s = { .v = v, .refused = refused };
	struct fuse *f;
	int err = 0, fd;

	/*
	 * libfuse allocates each read's reply (up to 1 MiB) and frees it
	 * after: from the heap, not a fresh mapping per read, so the pages
	 * are faulted in once, not on every read (costly under emulation).
	 */
	mallopt(M_MMAP_THRESHOLD, 8 << 20);
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	close_sockets();
	/* Not the restoring command's: it returns while this serves on. */
	setsid();
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		close(fd);
	}
	s.log = log ? fopen(log, "ae") : NULL;
	f = fuse_new(&args, &view_ops, sizeof(view_ops), &s);
	if (!f)
		err = EINVAL;
	else if (fuse_mount(f, mnt))
		err = access("/dev/fuse", R_OK | W_OK) ? ENODEV : EIO;
	if (write(ready, &err, sizeof(err)) != (ssize_t)sizeof(err))
		err = EPIPE;
	close(ready);
	if (!err) {
		serve(f, ctl);
		fuse_unmount(f);
	}
	if (f)
		fuse_destroy(f);
	if (s.log)
		fclose(s.log);
	_exit(err ? 1 : 0);
}

int ckpt_fuse_mount(struct ckpt_view *v, const char *mnt, const char *log, const char *refused,
		    struct ckpt_fuse *fs, char *msg, size_t len)
{
	int ready[2], ctl[2], err = 0;

	fs->server = -1;
	fs->ctl = -1;
	if (access("/dev/fuse", R_OK | W_OK)) {
		snprintf(msg, len, "no /dev/fuse (modprobe fuse)");
		return -ENODEV;
	}
	if (pipe2(ready, O_CLOEXEC) < 0)
		goto sys;
	if (pipe2(ctl, O_CLOEXEC) < 0) {
		close(ready[0]);
		close(ready[1]);
		goto sys;
	}
	fs->server = fork();
	if (fs->server < 0) {
		close(ready[0]);
		close(ready[1]);
		close(ctl[0]);
		close(ctl[1]);
		goto sys;
	}
	if (!fs->server) {
		close(ready[0]);
		close(ctl[1]);
		server_main(v, mnt, log, refused, ready[1], ctl[0]);
	}
	close(ready[1]);
	close(ctl[0]);
	fs->ctl = ctl[1];
	if (read(ready[0], &err, sizeof(err)) != (ssize_t)sizeof(err))
		err = EIO;
	close(ready[0]);
	if (err) {
		close(fs->ctl);
		fs->ctl = -1;
		waitpid(fs->server, NULL, 0);
		fs->server = -1;
		snprintf(msg, len, "mounting the view failed: %s", strerror(err));
		return -err;
	}
	return 0;
sys:
	err = errno;
	snprintf(msg, len, "starting the view's server: %s", strerror(err));
	return -err;
}

void ckpt_fuse_release(struct ckpt_fuse *fs, pid_t until)
{
	if (fs->ctl < 0)
		return;
	if (until && write(fs->ctl, &until, sizeof(until)) != (ssize_t)sizeof(until))
		until = 0;
	close(fs->ctl);
	fs->ctl = -1;
	if (!until)
		waitpid(fs->server, NULL, 0);	/* unmounted when it returns */
}

struct view_ctx {
	struct ckpt_fuse fs;
	char images[600], work[600], refused[600];
};

/* One restore per process: orthrosctl restores one group and exits. */
static struct view_ctx the_view = { .fs = { .server = -1, .ctl = -1 } };

static int view_present(void *ctx, struct ckpt_store *s, const struct ckpt_chain *chain,
			const char *dir, struct ckpt_criu_req *r)
{
	struct view_ctx *c = &the_view;
	struct ckpt_view v;
	char log[1300], why[200];
	int rc;

	(void)ctx;
	if (access("/dev/fuse", R_OK | W_OK)) {
		snprintf(s->msg, sizeof(s->msg), "no /dev/fuse (modprobe fuse): the chain is extracted instead");
		return -ENOTSUP;
	}
	rc = ckpt_view_open(s, chain, &v);
	if (rc)
		return rc;
	snprintf(c->images, sizeof(c->images), "%s/%" PRIu64, dir, chain->set[0].seq);
	snprintf(c->work, sizeof(c->work), "%s/work", dir);
	snprintf(log, sizeof(log), "%s/view.log", c->work);
	/* Beside the restore directories: what the next restore reads. */
	snprintf(c->refused, sizeof(c->refused), "%s/../%s", dir, CKPT_REFUSED_FILE);
	if (mkdir(c->images, 0700) < 0 || mkdir(c->work, 0700) < 0) {
		rc = -errno;
		snprintf(s->msg, sizeof(s->msg), "the view's directories: %s", strerror(errno));
		ckpt_view_close(&v);
		return rc;
	}
	rc = ckpt_fuse_mount(&v, c->images, log, c->refused, &c->fs, why, sizeof(why));
	r->lazy_pages = v.lazy_pages;
	r->eager_pages = v.eager_pages;
	/* The server has its own copy of the view; this one is done with it. */
	ckpt_view_close(&v);
	if (rc) {
		snprintf(s->msg, sizeof(s->msg), "%s: the chain is extracted instead", why);
		rmdir(c->images);
		rmdir(c->work);
		return -ENOTSUP;
	}
	r->images_dir = c->images;
	r->work_dir = c->work;
	return 0;
}

static void view_release(void *ctx, const struct ckpt_criu_req *r, int restore_rc)
{
	pid_t until = restore_rc ? 0 : ckpt_lazy_daemon(r->work_dir);

	(void)ctx;
	/*
	 * Restored, but the daemon's pid is not known: the tree's memory may
	 * still come through the view, so it stays until unmounted.
	 */
	if (!restore_rc && until <= 0)
		until = -1;
	ckpt_fuse_release(&the_view.fs, until);
}

static int view_restore(void *ctx, const struct ckpt_criu_req *r, pid_t *pid)
{
	return ckpt_criu_lazy.restore(ctx, r, pid);
}

const struct ckpt_criu_ops ckpt_criu_lazy_view = {
	.pre_dump = ckpt_criu_no_dump,
	.dump = ckpt_criu_no_dump,
	.restore = view_restore,
	.present = view_present,
	.release = view_release,
};
