/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A protected group's files on the data disk (its configured data_paths),
 * taken into the image set while CRIU holds the tree frozen and put back
 * before a restore: memory and files then come from the same instant.
 * Without them, CRIU reopens a file the group wrote after its last
 * checkpoint as it finds it (it checks the size only of files not open
 * for writing), and the restored memory disagrees with the file.
 *
 * In the set: CKPT_DATA_MANIFEST, a text file ("orthros-data 1", then one
 * line per directory "D MODE UID GID PATH" and per regular file
 * "F INDEX MODE UID GID SIZE PATH", MODE in octal), and each file's
 * contents as "orthros-data.INDEX".  The set comes from the store, which
 * the peer partition wrote: a restore writes only to paths at or below
 * the restoring partition's own configured data paths, and only once the
 * whole manifest has been checked against the files beside it.
 */
#ifndef ORTHROS_CKPT_DATA_H
#define ORTHROS_CKPT_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define CKPT_DATA_MANIFEST "orthros-data"
#define CKPT_DATA_MAX_PATHS 8
#define CKPT_DATA_MAX_ENTRIES 1024
#define CKPT_DATA_PATH_MAX 1024
/* Deeper trees than this are refused, not walked. */
#define CKPT_DATA_MAX_DEPTH 16
/*
 * Where a restore keeps what it found at a data path that the set does not
 * hold: ROOT/CKPT_DATA_ASIDE/TAG/... below a directory ROOT, beside a file
 * ROOT as ROOT.orthros-aside-TAG.  A save leaves it out.
 */
#define CKPT_DATA_ASIDE ".orthros-aside"

struct ckpt_data_paths {
	size_t n;
	char path[CKPT_DATA_MAX_PATHS][CKPT_DATA_PATH_MAX];
};

struct ckpt_data_stats {
	unsigned int files, dirs;
	unsigned int skipped;		/* neither file nor directory (links, sockets...) */
	unsigned int mounts;		/* save: other file systems below a path, left out */
	uint64_t bytes;
	unsigned int ahead;		/* save: files taken from the copy made ahead */
	uint64_t ahead_bytes;
	uint64_t ahead_ns;		/* how long copying ahead took (set by the caller) */
	unsigned int aside;		/* restore: entries newer than the set, moved aside */
	uint64_t ns;			/* how long the save or the restore took */
	char aside_at[CKPT_DATA_PATH_MAX + 128];	/* the first place they went to */
};

struct ckpt_data_entry {
	char kind;			/* 'D' or 'F' */
	unsigned int index;		/* F: its contents are orthros-data.INDEX */
	unsigned int mode, uid, gid;	/* mode: permission bits only (07777) */
	uint64_t size;			/* F */
	char path[CKPT_DATA_PATH_MAX];
};

/*
 * Add @path (absolute, normalised: no "//", "." or ".." components, no
 * trailing '/', no control characters) to @p.  -EINVAL if it is not one,
 * -E2BIG when @p is full.
 */
int ckpt_data_add_path(struct ckpt_data_paths *p, const char *path);

/* Is @path a normalised absolute path at or below one of @p's? */
bool ckpt_data_path_allowed(const struct ckpt_data_paths *p, const char *path);

/*
 * The data paths' files copied into the images directory before the
 * freeze, while the group still runs, so that the save under the freeze
 * reads again only what changed since.  A file counts as unchanged when
 * its device, inode, size, mtime and ctime are those seen before its copy
 * was read, and its ctime is older than @racy_ns before the copy started:
 * the kernel stamps files from a coarse clock, so a write in the same tick
 * as the copy's look at the file would leave the stamps as they were.
 * Every write moves ctime, which user space cannot set back.
 */
struct ckpt_data_ahead_file {
	char *path;
	unsigned int index;		/* its copy is orthros-data.ahead.INDEX */
	bool taken;			/* renamed into the set by the save */
	uint64_t dev, ino, size;
	struct timespec mtime, ctime;
};

struct ckpt_data_ahead {
	uint64_t racy_ns;		/* set by the caller; 1 s unless it knows better */
	struct timespec started;	/* CLOCK_REALTIME before the first look */
	unsigned int n, cap;
	struct ckpt_data_ahead_file *f;
	uint64_t bytes;			/* copied ahead */
	uint64_t ns;			/* how long copying ahead took */
};

/*
 * Copy every file @p names into @images_fd ahead of the save (as
 * orthros-data.ahead.N; no manifest).  Limits as ckpt_data_save's.  On
 * failure @a holds what was copied; ckpt_data_ahead_done() still applies.
 */
int ckpt_data_copy_ahead(int images_fd, const struct ckpt_data_paths *p, uint64_t max_bytes,
			 struct ckpt_data_ahead *a, char *msg, size_t mlen);

/* Remove the copies the save did not take from @images_fd, free @a's list. */
void ckpt_data_ahead_done(int images_fd, struct ckpt_data_ahead *a);

/*
 * Copy what @p names (regular files, and directories with everything
 * below them) into the images directory @images_fd.  A path that does not
 * exist is left out.  With @ahead (may be NULL), a file unchanged since
 * its copy ahead is taken from that copy (renamed, not read again).
 * More than @max_bytes of contents or CKPT_DATA_MAX_ENTRIES entries:
 * -EFBIG.  -errno otherwise; @msg says why.
 */
int ckpt_data_save(int images_fd, const struct ckpt_data_paths *p, uint64_t max_bytes,
		   struct ckpt_data_ahead *ahead, struct ckpt_data_stats *st, char *msg, size_t mlen);

/*
 * Parse a manifest of @len bytes (not NUL-terminated), checking every line
 * against @p: @cb is called for each entry in order, and not at all
 * unless the whole manifest is valid.  -EBADMSG for a malformed one (@msg
 * names the line), -EPERM for a path outside @p, or what @cb returned.
 */
int ckpt_data_parse(const char *text, size_t len, const struct ckpt_data_paths *p,
		    int (*cb)(void *arg, const struct ckpt_data_entry *e), void *arg,
		    char *msg, size_t mlen);

/*
 * Put the files of the set in @images_fd back in place: 0 with nothing
 * done when the set has no manifest.  Nothing is written unless the
 * manifest is valid and every file's contents are there at their recorded
 * size.  Then what the data paths hold that the set does not (what the
 * group made after the dump, or an entry now of another kind) is moved
 * aside, named by @tag (CKPT_DATA_ASIDE): the restored memory never knew
 * it, and nothing is deleted.  Each file is written beside its place and
 * renamed over it.
 */
int ckpt_data_restore(int images_fd, const struct ckpt_data_paths *p, const char *tag,
		      struct ckpt_data_stats *st, char *msg, size_t mlen);

#endif /* ORTHROS_CKPT_DATA_H */
