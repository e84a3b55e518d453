// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A protected group's files on the data disk, in step with its memory
 * (ckpt-data.h).  Saving runs while CRIU holds the tree frozen (its
 * post-dump notification), so what it copies is what the frozen memory
 * last wrote; restoring runs before CRIU reopens those files, so it finds
 * them as they were at the dump.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ckpt-data.h"

#define COPY_CHUNK (256u << 10)
/* A manifest of CKPT_DATA_MAX_ENTRIES lines of the longest paths. */
#define MANIFEST_MAX (CKPT_DATA_MAX_ENTRIES * (CKPT_DATA_PATH_MAX + 96) + 32)
#define HEADER "orthros-data 1\n"

static int say(char *msg, size_t mlen, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int say(char *msg, size_t mlen, int err, const char *fmt, ...)
{
	va_list ap;

	if (msg && mlen) {
		va_start(ap, fmt);
		vsnprintf(msg, mlen, fmt, ap);
		va_end(ap);
	}
	return err;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static bool normalised(const char *path, size_t len)
{
	if (!len || len >= CKPT_DATA_PATH_MAX || path[0] != '/')
		return false;
	if (len > 1 && path[len - 1] == '/')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)path[i];

		if (c < 0x20 || c == 0x7f)
			return false;
		if (c == '/') {
			/* the component after this slash */
			size_t j = i + 1;

			while (j < len && path[j] != '/')
				j++;
			if (j - i == 1 && len > 1)
				return false;	/* "//" */
			if ((j - i == 2 && path[i + 1] == '.') ||
			    (j - i == 3 && path[i + 1] == '.' && path[i + 2] == '.'))
				return false;
		}
	}
	return true;
}

int ckpt_data_add_path(struct ckpt_data_paths *p, const char *path)
{
	size_t len = strlen(path);

	/* The root would let a restore write anywhere. */
	if (!normalised(path, len) || len == 1)
		return -EINVAL;
	if (p->n >= CKPT_DATA_MAX_PATHS)
		return -E2BIG;
	memcpy(p->path[p->n++], path, len + 1);
	return 0;
}

static bool allowed_n(const struct ckpt_data_paths *p, const char *path, size_t len)
{
	if (!normalised(path, len))
		return false;
	for (size_t i = 0; i < p->n; i++) {
		size_t n = strlen(p->path[i]);

		if (len >= n && !memcmp(path, p->path[i], n) && (len == n || path[n] == '/'))
			return true;
	}
	return false;
}

bool ckpt_data_path_allowed(const struct ckpt_data_paths *p, const char *path)
{
	return allowed_n(p, path, strlen(path));
}

/* ---- saving ---- */

struct saver {
	int images_fd;
	uint64_t max_bytes;
	struct ckpt_data_ahead *ahead;	/* save: copies to take over */
	struct ckpt_data_ahead *collect;	/* copying ahead: where they are listed */
	struct ckpt_data_stats *st;
	dev_t root_dev;			/* the configured path's file system */
	char *manifest;
	size_t len, cap;
	unsigned int entries;
	uint8_t *buf;
	char *msg;
	size_t mlen;
};

static int append(struct saver *sv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int append(struct saver *sv, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (++sv->entries > CKPT_DATA_MAX_ENTRIES)
		return say(sv->msg, sv->mlen, -EFBIG, "more than %d files and directories in the data paths",
			   CKPT_DATA_MAX_ENTRIES);
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(sv->manifest + sv->len, sv->cap - sv->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			return -EINVAL;
		if ((size_t)n < sv->cap - sv->len)
			break;
		size_t cap = sv->cap * 2 + (size_t)n;
		char *m = realloc(sv->manifest, cap);

		if (!m)
			return -ENOMEM;
		sv->manifest = m;
		sv->cap = cap;
	}
	sv->len += (size_t)n;
	return 0;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Copy @in to @out; the bytes copied in *copied. */
static int copy_fd(int in, int out, uint8_t *buf, uint64_t limit, uint64_t *copied)
{
	*copied = 0;
	for (;;) {
		ssize_t n = read(in, buf, COPY_CHUNK);
		int rc;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (!n)
			return 0;
		*copied += (uint64_t)n;
		if (*copied > limit)
			return -EFBIG;
		rc = write_all(out, buf, (size_t)n);
		if (rc)
			return rc;
	}
}

static uint64_t ts_ns(const struct timespec *t)
{
	return (uint64_t)t->tv_sec * 1000000000u + (uint64_t)t->tv_nsec;
}

static bool same_ts(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/* Copying ahead: list the copy just made of @path, as it was seen in @sb. */
static int list_ahead(struct saver *sv, const char *path, const struct stat *sb, unsigned int idx)
{
	struct ckpt_data_ahead *a = sv->collect;
	struct ckpt_data_ahead_file *f;

	if (a->n == a->cap) {
		unsigned int cap = a->cap ? a->cap * 2 : 16;

		f = realloc(a->f, cap * sizeof(*f));
		if (!f)
			return -ENOMEM;
		a->f = f;
		a->cap = cap;
	}
	f = &a->f[a->n];
	*f = (struct ckpt_data_ahead_file){
		.index = idx, .dev = (uint64_t)sb->st_dev, .ino = (uint64_t)sb->st_ino,
		.size = (uint64_t)sb->st_size, .mtime = sb->st_mtim, .ctime = sb->st_ctim,
	};
	if (!(f->path = strdup(path)))
		return -ENOMEM;
	a->n++;
	return 0;
}

/*
 * Under the freeze: take @path's copy made ahead when the file is as it
 * was then (ckpt-data.h says when).  1 when there is none to take.
 */
static int take_ahead(struct saver *sv, const char *path, const struct stat *sb)
{
	struct ckpt_data_ahead *a = sv->ahead;
	struct ckpt_data_ahead_file *f = NULL;
	char from[48], to[32];
	unsigned int idx = sv->st->files;

	for (unsigned int i = 0; i < a->n; i++) {
		if (!a->f[i].taken && !strcmp(a->f[i].path, path)) {
			f = &a->f[i];
			break;
		}
	}
	if (!f || f->dev != (uint64_t)sb->st_dev || f->ino != (uint64_t)sb->st_ino ||
	    f->size != (uint64_t)sb->st_size || !same_ts(&f->mtime, &sb->st_mtim) ||
	    !same_ts(&f->ctime, &sb->st_ctim) || ts_ns(&f->ctime) + a->racy_ns >= ts_ns(&a->started))
		return 1;
	if (f->size > sv->max_bytes - sv->st->bytes)
		return say(sv->msg, sv->mlen, -EFBIG, "%s: the data paths hold more than %" PRIu64 " bytes",
			   path, sv->max_bytes);
	snprintf(from, sizeof(from), "orthros-data.ahead.%u", f->index);
	snprintf(to, sizeof(to), "orthros-data.%u", idx);
	if (renameat(sv->images_fd, from, sv->images_fd, to) < 0)
		return 1;	/* read it again */
	f->taken = true;
	sv->st->files++;
	sv->st->bytes += f->size;
	sv->st->ahead++;
	sv->st->ahead_bytes += f->size;
	return append(sv, "F %u %o %u %u %" PRIu64 " %s\n", idx, (unsigned int)sb->st_mode & 07777,
		      (unsigned int)sb->st_uid, (unsigned int)sb->st_gid, f->size, path);
}

static int save_file(struct saver *sv, int fd, const char *path, const struct stat *sb)
{
	char name[48];
	uint64_t copied;
	unsigned int idx = sv->collect ? sv->collect->n : sv->st->files;
	int out, rc;

	struct stat now;

	/* Copying ahead: the file as opened, not as listed, is what is read. */
	if (sv->collect) {
		if (fstat(fd, &now) < 0)
			return say(sv->msg, sv->mlen, -errno, "%s: %s", path, strerror(errno));
		sb = &now;
	}
	snprintf(name, sizeof(name), sv->collect ? "orthros-data.ahead.%u" : "orthros-data.%u", idx);
	out = openat(sv->images_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0)
		return say(sv->msg, sv->mlen, -errno, "%s: cannot create its copy: %s", path, strerror(errno));
	rc = copy_fd(fd, out, sv->buf, sv->max_bytes - sv->st->bytes, &copied);
	if (close(out) && !rc)
		rc = -errno;
	if (rc)
		unlinkat(sv->images_fd, name, 0);	/* no part of a file in the images */
	if (rc == -EFBIG)
		return say(sv->msg, sv->mlen, rc, "%s: the data paths hold more than %" PRIu64 " bytes",
			   path, sv->max_bytes);
	if (rc)
		return say(sv->msg, sv->mlen, rc, "%s: copy failed: %s", path, strerror(-rc));
	sv->st->files++;
	sv->st->bytes += copied;
	if (sv->collect) {
		/* Changed while it was read: the save reads it again. */
		if (copied != (uint64_t)sb->st_size) {
			unlinkat(sv->images_fd, name, 0);
			return 0;
		}
		return list_ahead(sv, path, sb, idx);
	}
	return append(sv, "F %u %o %u %u %" PRIu64 " %s\n", idx, (unsigned int)sb->st_mode & 07777,
		      (unsigned int)sb->st_uid, (unsigned int)sb->st_gid, copied, path);
}

static int save_dir(struct saver *sv, int fd, char *path, size_t len, unsigned int depth);

/* @path (of @len bytes, in a buffer of CKPT_DATA_PATH_MAX) is @name in @dirfd. */
static int save_entry(struct saver *sv, int dirfd, const char *name, char *path, size_t len,
		      unsigned int depth)
{
	struct stat sb;
	int fd, rc;

	if (!normalised(path, len))
		return say(sv->msg, sv->mlen, -EINVAL, "%s: a name the manifest cannot carry", path);
	if (fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;	/* gone since it was listed, or never there */
		return say(sv->msg, sv->mlen, -errno, "%s: %s", path, strerror(errno));
	}
	if (!S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode)) {
		sv->st->skipped++;
		return 0;
	}
	/*
	 * One file system per path, as find -xdev: what is mounted below it
	 * is not the path's (a restore could not move it aside, nor rename
	 * across it); it can be a data path of its own.
	 */
	if (!depth)
		sv->root_dev = sb.st_dev;
	else if (sb.st_dev != sv->root_dev) {
		sv->st->mounts++;
		return 0;
	}
	if (S_ISREG(sb.st_mode) && sv->ahead && (rc = take_ahead(sv, path, &sb)) <= 0)
		return rc;
	/* A file this fresh would be read again under the freeze anyway. */
	if (S_ISREG(sb.st_mode) && sv->collect &&
	    ts_ns(&sb.st_ctim) + sv->collect->racy_ns >= ts_ns(&sv->collect->started))
		return 0;
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (S_ISDIR(sb.st_mode) ? O_DIRECTORY : 0));
	if (fd < 0)
		return say(sv->msg, sv->mlen, -errno, "%s: %s", path, strerror(errno));
	if (S_ISDIR(sb.st_mode)) {
		rc = append(sv, "D %o %u %u %s\n", (unsigned int)sb.st_mode & 07777, (unsigned int)sb.st_uid,
			    (unsigned int)sb.st_gid, path);
		if (!rc) {
			sv->st->dirs++;
			rc = save_dir(sv, fd, path, len, depth + 1);
		}
	} else {
		rc = save_file(sv, fd, path, &sb);
	}
	close(fd);
	return rc;
}

static int save_dir(struct saver *sv, int fd, char *path, size_t len, unsigned int depth)
{
	struct dirent *de;
	DIR *d;
	int dfd, rc = 0;

	if (depth > CKPT_DATA_MAX_DEPTH)
		return say(sv->msg, sv->mlen, -ELOOP, "%s: deeper than %d directories", path, CKPT_DATA_MAX_DEPTH);
	dfd = dup(fd);
	if (dfd < 0 || !(d = fdopendir(dfd))) {
		rc = -errno;
		if (dfd >= 0)
			close(dfd);
		return say(sv->msg, sv->mlen, rc, "%s: %s", path, strerror(-rc));
	}
	while (!rc && (errno = 0, de = readdir(d))) {
		size_t n = strlen(de->d_name);

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		/* What an earlier restore moved aside is not the group's state. */
		if (depth == 1 && !strcmp(de->d_name, CKPT_DATA_ASIDE))
			continue;
		if (len + 1 + n >= CKPT_DATA_PATH_MAX) {
			rc = say(sv->msg, sv->mlen, -ENAMETOOLONG, "%s/%s: path too long", path, de->d_name);
			break;
		}
		path[len] = '/';
		memcpy(path + len + 1, de->d_name, n + 1);
		rc = save_entry(sv, dirfd(d), de->d_name, path, len + 1 + n, depth);
		path[len] = '\0';
	}
	if (!rc && errno)
		rc = say(sv->msg, sv->mlen, -errno, "%s: %s", path, strerror(errno));
	closedir(d);
	return rc;
}

/* Walk @p into @sv: the save, or the copy ahead of it. */
static int walk_paths(struct saver *sv, const struct ckpt_data_paths *p)
{
	char path[CKPT_DATA_PATH_MAX];
	int rc = 0;

	sv->cap = 4096;
	sv->manifest = malloc(sv->cap);
	sv->buf = malloc(COPY_CHUNK);
	if (!sv->manifest || !sv->buf)
		return -ENOMEM;
	sv->len = (size_t)snprintf(sv->manifest, sv->cap, HEADER);
	for (size_t i = 0; !rc && i < p->n; i++) {
		size_t len = strlen(p->path[i]);

		memcpy(path, p->path[i], len + 1);
		/* Absolute: the directory fd is ignored. */
		rc = save_entry(sv, AT_FDCWD, path, path, len, 0);
	}
	return rc;
}

int ckpt_data_copy_ahead(int images_fd, const struct ckpt_data_paths *p, uint64_t max_bytes,
			 struct ckpt_data_ahead *a, char *msg, size_t mlen)
{
	struct ckpt_data_stats st = { 0 };
	struct saver sv = {
		.images_fd = images_fd, .max_bytes = max_bytes, .collect = a, .st = &st,
		.msg = msg, .mlen = mlen,
	};
	uint64_t t0 = mono_ns();
	int rc;

	/* Before the first look at any file: the racy window ends here. */
	clock_gettime(CLOCK_REALTIME, &a->started);
	rc = walk_paths(&sv, p);
	free(sv.manifest);
	free(sv.buf);
	a->bytes = st.bytes;
	a->ns = mono_ns() - t0;
	return rc;
}

void ckpt_data_ahead_done(int images_fd, struct ckpt_data_ahead *a)
{
	char name[48];

	for (unsigned int i = 0; i < a->n; i++) {
		if (!a->f[i].taken) {
			snprintf(name, sizeof(name), "orthros-data.ahead.%u", a->f[i].index);
			unlinkat(images_fd, name, 0);
		}
		free(a->f[i].path);
	}
	free(a->f);
	a->f = NULL;
	a->n = a->cap = 0;
}

int ckpt_data_save(int images_fd, const struct ckpt_data_paths *p, uint64_t max_bytes,
		   struct ckpt_data_ahead *ahead, struct ckpt_data_stats *st, char *msg, size_t mlen)
{
	struct saver sv = {
		.images_fd = images_fd, .max_bytes = max_bytes, .ahead = ahead, .st = st,
		.msg = msg, .mlen = mlen,
	};
	uint64_t t0 = mono_ns();
	int rc, fd;

	memset(st, 0, sizeof(*st));
	rc = walk_paths(&sv, p);
	if (rc)
		goto out;
	fd = openat(images_fd, CKPT_DATA_MANIFEST, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = say(msg, mlen, -errno, "cannot create %s: %s", CKPT_DATA_MANIFEST, strerror(errno));
		goto out;
	}
	rc = write_all(fd, (const uint8_t *)sv.manifest, sv.len);
	if (close(fd) && !rc)
		rc = -errno;
	if (rc)
		say(msg, mlen, rc, "cannot write %s: %s", CKPT_DATA_MANIFEST, strerror(-rc));
out:
	free(sv.manifest);
	free(sv.buf);
	st->ns = mono_ns() - t0;
	return rc;
}

/* ---- the manifest ---- */

/* A decimal (or octal) number ended by one space, at most @max. */
static bool number(const char **s, const char *end, unsigned int base, uint64_t max, uint64_t *out)
{
	const char *q = *s;
	uint64_t v = 0;

	if (q >= end || *q < '0' || *q > (char)('0' + base - 1))
		return false;
	/* No leading zeros but "0" itself: one spelling per value. */
	if (*q == '0' && q + 1 < end && q[1] != ' ')
		return false;
	while (q < end && *q >= '0' && *q <= (char)('0' + base - 1)) {
		unsigned int d = (unsigned int)(*q - '0');

		if (v > (max - d) / base)
			return false;
		v = v * base + d;
		q++;
	}
	if (q >= end || *q != ' ')
		return false;
	*s = q + 1;
	*out = v;
	return true;
}

static int parse_line(const char *s, const char *end, const struct ckpt_data_paths *p, unsigned int files,
		      struct ckpt_data_entry *e)
{
	uint64_t v[4];
	size_t len;

	memset(e, 0, sizeof(*e));
	if (end - s < 2 || (s[0] != 'D' && s[0] != 'F') || s[1] != ' ')
		return -EBADMSG;
	e->kind = s[0];
	s += 2;
	if (e->kind == 'F') {
		if (!number(&s, end, 10, CKPT_DATA_MAX_ENTRIES - 1, &v[0]) || v[0] != files)
			return -EBADMSG;
		e->index = (unsigned int)v[0];
	}
	if (!number(&s, end, 8, 07777, &v[1]) || !number(&s, end, 10, UINT32_MAX, &v[2]) ||
	    !number(&s, end, 10, UINT32_MAX, &v[3]))
		return -EBADMSG;
	e->mode = (unsigned int)v[1];
	e->uid = (unsigned int)v[2];
	e->gid = (unsigned int)v[3];
	if (e->kind == 'F' && !number(&s, end, 10, INT64_MAX, &e->size))
		return -EBADMSG;
	len = (size_t)(end - s);
	if (!normalised(s, len))
		return -EBADMSG;
	memcpy(e->path, s, len);
	e->path[len] = '\0';
	return allowed_n(p, s, len) ? 0 : -EPERM;
}

static int walk(const char *text, size_t len, const struct ckpt_data_paths *p,
		int (*cb)(void *arg, const struct ckpt_data_entry *e), void *arg, char *msg, size_t mlen)
{
	const char *s = text, *end = text + len;
	struct ckpt_data_entry e;
	unsigned int line = 1, files = 0, entries = 0;
	int rc;

	if (len < sizeof(HEADER) - 1 || memcmp(text, HEADER, sizeof(HEADER) - 1))
		return say(msg, mlen, -EBADMSG, "%s: not a manifest (line 1)", CKPT_DATA_MANIFEST);
	s += sizeof(HEADER) - 1;
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));

		line++;
		if (!nl)
			return say(msg, mlen, -EBADMSG, "%s: line %u is cut short", CKPT_DATA_MANIFEST, line);
		if (++entries > CKPT_DATA_MAX_ENTRIES)
			return say(msg, mlen, -EBADMSG, "%s: more than %d entries", CKPT_DATA_MANIFEST,
				   CKPT_DATA_MAX_ENTRIES);
		rc = parse_line(s, nl, p, files, &e);
		if (rc == -EPERM)
			return say(msg, mlen, rc, "%s: line %u: %s is not in this group's data paths",
				   CKPT_DATA_MANIFEST, line, e.path[0] ? e.path : "a path");
		if (rc)
			return say(msg, mlen, rc, "%s: line %u is malformed", CKPT_DATA_MANIFEST, line);
		files += e.kind == 'F';
		if (cb && (rc = cb(arg, &e)))
			return rc;
		s = nl + 1;
	}
	return 0;
}

int ckpt_data_parse(const char *text, size_t len, const struct ckpt_data_paths *p,
		    int (*cb)(void *arg, const struct ckpt_data_entry *e), void *arg,
		    char *msg, size_t mlen)
{
	int rc = walk(text, len, p, NULL, NULL, msg, mlen);

	return rc ? rc : walk(text, len, p, cb, arg, msg, mlen);
}

/* ---- restoring ---- */

struct known {
	char kind;
	char *path;
};

struct restorer {
	const struct ckpt_data_paths *p;
	const char *tag;
	int images_fd;
	struct ckpt_data_stats *st;
	uint8_t *buf;
	struct known *known;		/* the manifest's entries, sorted by path */
	size_t nknown;
	int aside_fd;			/* this root's ROOT/CKPT_DATA_ASIDE/TAG, once made */
	dev_t root_dev;			/* this root's file system */
	char *msg;
	size_t mlen;
};

/*
 * Every file's contents are in the set, at the size the manifest says.
 * The entries are kept to tell, afterwards, what the set does not hold.
 */
static int check_entry(void *arg, const struct ckpt_data_entry *e)
{
	struct restorer *r = arg;
	struct stat sb;
	char name[32];

	if (e->kind == 'F') {
		snprintf(name, sizeof(name), "orthros-data.%u", e->index);
		if (fstatat(r->images_fd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(sb.st_mode) ||
		    (uint64_t)sb.st_size != e->size)
			return say(r->msg, r->mlen, -EBADMSG,
				   "%s: its contents (%s) are missing or of the wrong size", e->path, name);
	}
	/* walk() caps the entries at CKPT_DATA_MAX_ENTRIES: the array's size */
	r->known[r->nknown].kind = e->kind;
	r->known[r->nknown].path = strdup(e->path);
	if (!r->known[r->nknown].path)
		return -ENOMEM;
	r->nknown++;
	return 0;
}

static int by_path(const void *a, const void *b)
{
	return strcmp(((const struct known *)a)->path, ((const struct known *)b)->path);
}

/*
 * The kind the set gives @path ('D' or 'F'), or 0 when it does not hold
 * it.  A directory the manifest does not name but holds entries below is
 * one too (our saves name every directory; a hand-made set may not).
 */
static char known_kind(const struct restorer *r, const char *path)
{
	size_t lo = 0, hi = r->nknown, len = strlen(path);

	/* the first entry not before @path */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(r->known[mid].path, path) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < r->nknown && !strcmp(r->known[lo].path, path))
		return r->known[lo].kind;
	/* "path/..." sorts after "path" but may follow "path-x", "path.y" */
	for (; lo < r->nknown && !strncmp(r->known[lo].path, path, len); lo++)
		if (r->known[lo].path[len] == '/')
			return 'D';
	return 0;
}

/* mkdir -p of a configured path (trusted: it may run through symlinks). */
static int make_root(const char *root)
{
	char path[CKPT_DATA_PATH_MAX];

	snprintf(path, sizeof(path), "%s", root);
	for (char *s = path + 1;; s++) {
		char c = *s;

		if (c != '/' && c != '\0')
			continue;
		*s = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return -errno;
		*s = c;
		if (!c)
			return 0;
	}
}

/*
 * The directory @e's path is in, opened without following a symlink
 * anywhere below the configured path it lies under: the group's own files
 * could hold a link out of the data disk, and a restore runs as root.  The
 * configured path itself comes from this partition's configuration and
 * may run through links.  Missing directories are made (0755).  An fd, and
 * the path's last component in *last.
 */
static int open_parent(const struct ckpt_data_paths *p, const char *path, const char **last)
{
	const char *root = NULL, *s, *slash;
	size_t rlen = 0;
	int fd, rc;

	for (size_t i = 0; i < p->n; i++) {
		size_t n = strlen(p->path[i]);

		if (n > rlen && !strncmp(path, p->path[i], n) && (path[n] == '/' || !path[n])) {
			root = p->path[i];
			rlen = n;
		}
	}
	if (!root)
		return -EPERM;
	*last = strrchr(path, '/') + 1;
	if (!path[rlen]) {
		/* the configured path itself: its parent, as configured */
		char dir[CKPT_DATA_PATH_MAX];
		size_t n = (size_t)(*last - path);

		memcpy(dir, path, n);
		dir[n > 1 ? n - 1 : 1] = '\0';
		rc = make_root(dir);
		if (rc)
			return rc;
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		return fd < 0 ? -errno : fd;
	}
	rc = make_root(root);
	if (rc)
		return rc;
	fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (s = path + rlen + 1; (slash = strchr(s, '/')); s = slash + 1) {
		char comp[CKPT_DATA_PATH_MAX];
		int next;

		memcpy(comp, s, (size_t)(slash - s));
		comp[slash - s] = '\0';
		if (mkdirat(fd, comp, 0755) < 0 && errno != EEXIST) {
			rc = -errno;
			close(fd);
			return rc;
		}
		next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		rc = -errno;
		close(fd);
		if (next < 0)
			return rc == -ELOOP ? -ENOTDIR : rc;	/* a link where a directory should be */
		fd = next;
	}
	return fd;
}

static int apply_entry(void *arg, const struct ckpt_data_entry *e)
{
	struct restorer *r = arg;
	char tmp[NAME_MAX + 16], name[32];
	const char *last;
	uint64_t copied;
	int dfd, in, out, rc;

	dfd = open_parent(r->p, e->path, &last);
	if (dfd < 0)
		return say(r->msg, r->mlen, dfd, "%s: cannot reach its directory: %s", e->path, strerror(-dfd));
	if (e->kind == 'D') {
		rc = mkdirat(dfd, last, 0755) < 0 && errno != EEXIST ? -errno : 0;
		out = rc ? -1 : openat(dfd, last, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (!rc && (out < 0 || fchown(out, e->uid, e->gid) < 0 || fchmod(out, e->mode) < 0))
			rc = -errno;
		if (out >= 0)
			close(out);
		close(dfd);
		if (rc)
			return say(r->msg, r->mlen, rc, "%s: cannot make the directory: %s", e->path, strerror(-rc));
		r->st->dirs++;
		return 0;
	}
	snprintf(name, sizeof(name), "orthros-data.%u", e->index);
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.orthros-tmp", last) >= sizeof(tmp)) {
		close(dfd);
		return say(r->msg, r->mlen, -ENAMETOOLONG, "%s: name too long", e->path);
	}
	in = openat(r->images_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0) {
		rc = say(r->msg, r->mlen, -errno, "%s: %s", name, strerror(errno));
		close(dfd);
		return rc;
	}
	/* A leftover of an earlier try, or a link planted there: gone first. */
	unlinkat(dfd, tmp, 0);
	out = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0) {
		rc = say(r->msg, r->mlen, -errno, "%s.orthros-tmp: %s", e->path, strerror(errno));
		close(in);
		close(dfd);
		return rc;
	}
	rc = copy_fd(in, out, r->buf, e->size, &copied);
	close(in);
	if (!rc && copied != e->size)
		rc = -EIO;
	/* CRIU refuses a file it reopens whose mode is not the recorded one. */
	if (!rc && (fchown(out, e->uid, e->gid) < 0 || fchmod(out, e->mode) < 0 || fsync(out) < 0))
		rc = -errno;
	if (close(out) && !rc)
		rc = -errno;
	if (!rc && renameat(dfd, tmp, dfd, last) < 0)
		rc = -errno;
	if (rc)
		unlinkat(dfd, tmp, 0);
	close(dfd);
	if (rc)
		return say(r->msg, r->mlen, rc, "%s: cannot put it back: %s", e->path, strerror(-rc));
	r->st->files++;
	r->st->bytes += copied;
	return 0;
}

/* ---- what the set does not hold, moved aside ---- */

/* A directory of ours, made if missing, never reached through a link. */
static int sub_dir(int dfd, const char *name)
{
	int fd;

	if (mkdirat(dfd, name, 0700) < 0 && errno != EEXIST)
		return -errno;
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/*
 * This root's ROOT/CKPT_DATA_ASIDE/TAG, made on the first entry it takes: a
 * fresh one, so that two restores from one set keep both their leftovers.
 */
static int aside_base(struct restorer *r, int root_fd, const char *root)
{
	char name[80];
	int base, fd = -EEXIST;

	if (r->aside_fd >= 0)
		return r->aside_fd;
	base = sub_dir(root_fd, CKPT_DATA_ASIDE);
	if (base < 0)
		return base;
	for (unsigned int i = 1; fd == -EEXIST && i <= 100; i++) {
		if (i == 1)
			snprintf(name, sizeof(name), "%s", r->tag);
		else
			snprintf(name, sizeof(name), "%s.%u", r->tag, i);
		if (mkdirat(base, name, 0700) < 0)
			fd = -errno;
		else
			fd = sub_dir(base, name);
	}
	close(base);
	if (fd >= 0 && !r->st->aside_at[0])
		snprintf(r->st->aside_at, sizeof(r->st->aside_at), "%s/%s/%s", root, CKPT_DATA_ASIDE, name);
	r->aside_fd = fd;
	return fd;
}

/* Move @name in @dfd, at @rel below the root, to the same place under the aside directory. */
static int move_aside(struct restorer *r, int root_fd, const char *root, int dfd, const char *name,
		      const char *rel)
{
	const char *s, *slash;
	int fd, rc;

	fd = aside_base(r, root_fd, root);
	if (fd < 0)
		return fd;
	fd = dup(fd);
	if (fd < 0)
		return -errno;
	for (s = rel; (slash = strchr(s, '/')); s = slash + 1) {
		char comp[CKPT_DATA_PATH_MAX];
		int next;

		memcpy(comp, s, (size_t)(slash - s));
		comp[slash - s] = '\0';
		next = sub_dir(fd, comp);
		close(fd);
		if (next < 0)
			return next;
		fd = next;
	}
	rc = renameat(dfd, name, fd, name) < 0 ? -errno : 0;
	close(fd);
	if (!rc)
		r->st->aside++;
	return rc;
}

struct name_list {
	char **v;
	size_t n, cap;
};

static int names_add(struct name_list *l, const char *name)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		char **v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	if (!(l->v[l->n] = strdup(name)))
		return -ENOMEM;
	l->n++;
	return 0;
}

static void names_free(struct name_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

/*
 * Below the directory @fd at @path (of @len bytes, @rlen of them the
 * root's): move aside what the set does not hold, descend into what it
 * holds as a directory.  Only directories the set holds are entered, so
 * the depth is the manifest's.  The names are read first and moved after,
 * not while the directory is being read.
 */
static int aside_dir(struct restorer *r, int root_fd, const char *root, size_t rlen, int fd,
		     char *path, size_t len)
{
	struct name_list moves = { 0 }, dirs = { 0 };
	struct dirent *de;
	DIR *d;
	int dfd, rc = 0;

	dfd = dup(fd);
	if (dfd < 0 || !(d = fdopendir(dfd))) {
		rc = -errno;
		if (dfd >= 0)
			close(dfd);
		return say(r->msg, r->mlen, rc, "%s: %s", path, strerror(-rc));
	}
	while (!rc && (errno = 0, de = readdir(d))) {
		size_t n = strlen(de->d_name);
		struct stat sb;
		char kind;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (len == rlen && !strcmp(de->d_name, CKPT_DATA_ASIDE))
			continue;
		if (fstatat(fd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno != ENOENT)
				rc = -errno;
			continue;
		}
		/* A save leaves links and the like out: not the group's state. */
		if (!S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode))
			continue;
		/* Nor what another file system mounted below the path holds. */
		if (sb.st_dev != r->root_dev)
			continue;
		kind = 0;
		if (len + 1 + n < CKPT_DATA_PATH_MAX) {
			path[len] = '/';
			memcpy(path + len + 1, de->d_name, n + 1);
			kind = known_kind(r, path);
			path[len] = '\0';
		}
		if (kind == (S_ISDIR(sb.st_mode) ? 'D' : 'F'))
			rc = kind == 'D' ? names_add(&dirs, de->d_name) : 0;
		else
			rc = names_add(&moves, de->d_name);
	}
	if (!rc && errno)
		rc = -errno;
	closedir(d);
	if (rc) {
		say(r->msg, r->mlen, rc, "%s: %s", path, strerror(-rc));
		goto out;
	}
	for (size_t i = 0; !rc && i < moves.n; i++) {
		const char *below = len > rlen ? path + rlen + 1 : "";
		char rel[CKPT_DATA_PATH_MAX + NAME_MAX + 2];

		snprintf(rel, sizeof(rel), "%s%s%s", below, *below ? "/" : "", moves.v[i]);
		rc = move_aside(r, root_fd, root, fd, moves.v[i], rel);
		if (rc)
			say(r->msg, r->mlen, rc, "%s/%s: newer than the set, and cannot be moved aside: %s",
			    path, moves.v[i], strerror(-rc));
	}
	for (size_t i = 0; !rc && i < dirs.n; i++) {
		size_t n = strlen(dirs.v[i]);
		int sub = openat(fd, dirs.v[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		path[len] = '/';
		memcpy(path + len + 1, dirs.v[i], n + 1);
		if (sub < 0) {
			rc = say(r->msg, r->mlen, -errno, "%s: %s", path, strerror(errno));
		} else {
			rc = aside_dir(r, root_fd, root, rlen, sub, path, len + 1 + n);
			close(sub);
		}
		path[len] = '\0';
	}
out:
	names_free(&moves);
	names_free(&dirs);
	return rc;
}

/* One configured path: what is there now against what the set holds. */
static int aside_root(struct restorer *r, const char *root)
{
	char path[CKPT_DATA_PATH_MAX], to[CKPT_DATA_PATH_MAX + 96];
	size_t len = strlen(root);
	struct stat sb;
	char kind;
	int fd, rc;

	if (lstat(root, &sb) < 0)
		return errno == ENOENT ? 0 : say(r->msg, r->mlen, -errno, "%s: %s", root, strerror(errno));
	if (!S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode))
		return 0;
	kind = known_kind(r, root);
	if (kind != (S_ISDIR(sb.st_mode) ? 'D' : 'F')) {
		/* Made after the dump: it goes beside itself, in its own directory. */
		rc = -EEXIST;
		for (unsigned int i = 1; rc == -EEXIST && i <= 100; i++) {
			if (i == 1)
				snprintf(to, sizeof(to), "%s.orthros-aside-%s", root, r->tag);
			else
				snprintf(to, sizeof(to), "%s.orthros-aside-%s.%u", root, r->tag, i);
			rc = renameat2(AT_FDCWD, root, AT_FDCWD, to, RENAME_NOREPLACE) < 0 ? -errno : 0;
		}
		if (rc)
			return say(r->msg, r->mlen, rc, "%s: newer than the set, and cannot be moved aside: %s",
				   root, strerror(-rc));
		r->st->aside++;
		if (!r->st->aside_at[0])
			snprintf(r->st->aside_at, sizeof(r->st->aside_at), "%s", to);
		return 0;
	}
	if (kind == 'F')
		return 0;
	fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return say(r->msg, r->mlen, -errno, "%s: %s", root, strerror(errno));
	memcpy(path, root, len + 1);
	r->aside_fd = -1;
	r->root_dev = sb.st_dev;
	rc = aside_dir(r, fd, root, len, fd, path, len);
	if (r->aside_fd >= 0)
		close(r->aside_fd);
	r->aside_fd = -1;
	close(fd);
	return rc;
}

int ckpt_data_restore(int images_fd, const struct ckpt_data_paths *p, const char *tag,
		      struct ckpt_data_stats *st, char *msg, size_t mlen)
{
	struct restorer r = {
		.p = p, .tag = tag, .images_fd = images_fd, .st = st, .aside_fd = -1, .msg = msg, .mlen = mlen,
	};
	uint64_t t0 = mono_ns();
	struct stat sb;
	char *text = NULL;
	ssize_t n;
	int fd, rc;

	memset(st, 0, sizeof(*st));
	if (!tag || !*tag || strchr(tag, '/') || strlen(tag) > 64)
		return say(msg, mlen, -EINVAL, "a restore's tag names one directory");
	fd = openat(images_fd, CKPT_DATA_MANIFEST, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return say(msg, mlen, -errno, "%s: %s", CKPT_DATA_MANIFEST, strerror(errno));
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_size > MANIFEST_MAX) {
		close(fd);
		return say(msg, mlen, -EBADMSG, "%s: not a manifest (too large or not a file)", CKPT_DATA_MANIFEST);
	}
	text = malloc((size_t)sb.st_size + 1);
	r.buf = malloc(COPY_CHUNK);
	r.known = calloc(CKPT_DATA_MAX_ENTRIES, sizeof(*r.known));
	if (!text || !r.buf || !r.known) {
		rc = -ENOMEM;
		goto out;
	}
	n = pread(fd, text, (size_t)sb.st_size, 0);
	if (n != sb.st_size) {
		rc = say(msg, mlen, n < 0 ? -errno : -EIO, "%s: cannot read it", CKPT_DATA_MANIFEST);
		goto out;
	}
	rc = ckpt_data_parse(text, (size_t)n, p, check_entry, &r, msg, mlen);
	if (rc)
		goto out;
	qsort(r.known, r.nknown, sizeof(*r.known), by_path);
	/* First out of the way, so that each entry goes back where nothing else is. */
	for (size_t i = 0; !rc && i < p->n; i++)
		rc = aside_root(&r, p->path[i]);
	if (!rc)
		rc = walk(text, (size_t)n, p, apply_entry, &r, msg, mlen);
out:
	close(fd);
	free(text);
	free(r.buf);
	for (size_t i = 0; r.known && i < r.nknown; i++)
		free(r.known[i].path);
	free(r.known);
	st->ns = mono_ns() - t0;
	return rc;
}
