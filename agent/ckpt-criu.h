/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * CRIU behind a small operations table: the checkpointer's policy is tested
 * on the host (whose kernel Debian's criu cannot dump) against a fake, and
 * runs in the partitions against libcriu (ckpt-criu.c, `criu swrk`).
 */
#ifndef ORTHROS_CKPT_CRIU_H
#define ORTHROS_CKPT_CRIU_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct ckpt_criu_req {
	pid_t pid;			/* root of the tree to dump */
	int images_fd;			/* the set's directory */
	const char *images_dir;		/* its path, for the criu command (lazy) */
	const char *work_dir;		/* logs, pid files, sockets (lazy); NULL: images_dir */
	uint64_t lazy_pages, eager_pages;	/* what present() made lazy, or not */
	const char *parent;		/* previous images, relative to it, or NULL */
	int work_fd;			/* where the log goes */
	const char *log_file;		/* in work_fd */
	bool leave_running;
	/*
	 * Restore: leave the tree stopped (SIGSTOP'd before its first
	 * instruction); whoever asked resumes it with SIGCONT.
	 */
	bool leave_stopped;
	bool track_mem;			/* soft-dirty: the next dump can be incremental */
	/*
	 * Pre-dump: read the pages after the tree is released
	 * (process_vm_readv) instead of splicing them while it is frozen, so
	 * the freeze does not grow with its memory.
	 */
	bool pre_dump_read;
	/*
	 * Dump: called once CRIU has dumped the tree, while it still holds it
	 * frozen (CRIU's post-dump notification): what it does is in step
	 * with the dumped memory.  Nonzero fails the dump, and the tree runs
	 * on.  NULL: none (and no notification round trips).
	 */
	int (*frozen)(void *arg);
	void *frozen_arg;
};

struct ckpt_store;
struct ckpt_chain;

struct ckpt_criu_ops {
	/* Memory only, the tree keeps running while pages are drained. */
	int (*pre_dump)(void *ctx, const struct ckpt_criu_req *r);
	int (*dump)(void *ctx, const struct ckpt_criu_req *r);
	/* Restore detached from @r->images_fd; the root's pid in *pid. */
	int (*restore)(void *ctx, const struct ckpt_criu_req *r, pid_t *pid);
	/*
	 * Optional: present @chain to restore without extracting it, in a new
	 * directory under @dir (@r's images and work directories are set).
	 * -ENOTSUP: extract it instead; -EBADMSG: a set is corrupt
	 * (s->bad_seq), choose again.  @release is then called once, with
	 * restore's result.
	 */
	int (*present)(void *ctx, struct ckpt_store *s, const struct ckpt_chain *chain,
		       const char *dir, struct ckpt_criu_req *r);
	void (*release)(void *ctx, const struct ckpt_criu_req *r, int restore_rc);
};

/*
 * libcriu, through `criu swrk` (CRIU_BINARY or "criu" from PATH).  @ctx is
 * unused.  Errors are -errno or what libcriu returns; CRIU says why in the
 * log file.
 */
extern const struct ckpt_criu_ops ckpt_criu_libcriu;

/*
 * Restore only, with memory on demand (ckpt-lazy.c: `criu lazy-pages` and
 * `criu restore --lazy-pages`, which libcriu cannot ask for).  Needs
 * images_dir; leaves the lazy-pages daemon running until every page is in.
 */
extern const struct ckpt_criu_ops ckpt_criu_lazy;

/*
 * The same, with the chain served from the store through a read-only FUSE
 * view (ckpt-fuse.c, ckpt-view.h) instead of extracted: no byte is read
 * before CRIU asks for it, and the pages of the whole chain are lazy.
 */
extern const struct ckpt_criu_ops ckpt_criu_lazy_view;

/* For a table that only restores: dumps are -EOPNOTSUPP. */
int ckpt_criu_no_dump(void *ctx, const struct ckpt_criu_req *r);

/*
 * Start `criu lazy-pages --daemon` on @r's images and work directories:
 * returns once it listens for the restore, its pid in *daemon.
 */
int ckpt_lazy_start(const struct ckpt_criu_req *r, pid_t *daemon);

/* The lazy-pages daemon of a restore whose work directory is @work_dir (> 0), or -errno. */
pid_t ckpt_lazy_daemon(const char *work_dir);

/* What CRIU measured in a dump, from the set's stats-dump image. */
struct ckpt_dump_stats {
	uint32_t freezing_us;		/* seizing the tasks */
	uint32_t frozen_us;		/* tasks stopped, until released */
	uint32_t memdump_us, memwrite_us;
	uint64_t pages_scanned, pages_skipped_parent, pages_written;
};

/*
 * Parse a stats-dump image (CRIU's magics, then one length-prefixed
 * protobuf StatsEntry).  -EBADMSG if it is not one.
 */
int ckpt_parse_dump_stats(const uint8_t *buf, size_t len, struct ckpt_dump_stats *st);
/* The same from the file "stats-dump" in @dir_fd. */
int ckpt_read_dump_stats(int dir_fd, struct ckpt_dump_stats *st);

#endif /* ORTHROS_CKPT_CRIU_H */
