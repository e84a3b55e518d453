// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Moving image sets between the checkpoint store and directories in the
 * layout CRIU uses: one directory per set, with a "parent" symlink to the
 * previous set's directory for an incremental dump (criu dump
 * --prev-images-dir, and what restore follows).
 *
 * Extraction creates files only inside directories it just made, by names
 * the core has already checked (no '/', not "." or ".." or "parent"), with
 * O_EXCL|O_NOFOLLOW, so nothing in the region can make it write elsewhere.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ckpt-store.h"

#define IO_CHUNK (1u << 20)


static bool is_dot(const char *name)
{
	return !strcmp(name, ".") || !strcmp(name, "..");
}

/*
 * What the directory holds, checked before a slot is taken: a set that
 * cannot fit, or a file that is not a plain image file, must not cost the
 * store one of its kept sets.
 */
static int survey(struct ckpt_store *s, int dfd, const char *dir,
		  struct dirent **names, int n)
{
	uint64_t total = 0, chunks = 0;

	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		struct stat st;

		if (is_dot(name))
			continue;
		if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return ckpt_fail(s, -errno, "%s/%s: %s", dir, name, strerror(errno));
		if (S_ISLNK(st.st_mode) && !strcmp(name, "parent"))
			continue;	/* CRIU's link to the previous set */
		if (!S_ISREG(st.st_mode))
			return ckpt_fail(s, -EINVAL, "%s/%s is not a regular file", dir, name);
		if (!ckpt_name_valid(name) || !strcmp(name, CKPT_CHUNKS_NAME))
			return ckpt_fail(s, -EINVAL, "%s/%s: the name cannot be stored", dir, name);
		total += ckpt_file_cost((uint64_t)st.st_size);
		chunks += ckpt_chunks_of((uint64_t)st.st_size);
		if (total > ckpt_capacity(s) || ckpt_chunks_cost(chunks) > ckpt_capacity(s) - total)
			return ckpt_fail(s, -EFBIG, "%s does not fit in a slot (%" PRIu64 " bytes of payload)",
				    dir, ckpt_capacity(s));
	}
	return 0;
}

static int pack_file(struct ckpt_writer *w, int dfd, const char *dir,
		     const char *name, uint8_t *buf)
{
	struct ckpt_store *s = w->s;
	struct stat st;
	int fd, rc;

	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return ckpt_fail(s, -errno, "%s/%s: %s", dir, name, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return ckpt_fail(s, -EINVAL, "%s/%s is not a regular file", dir, name);
	}
	rc = ckpt_file_open(w, name, st.st_mode & 0777);
	while (!rc) {
		ssize_t got = read(fd, buf, IO_CHUNK);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			rc = ckpt_fail(s, -errno, "%s/%s: %s", dir, name, strerror(errno));
		else if (got == 0)
			break;
		else
			rc = ckpt_file_write(w, buf, (size_t)got);
	}
	close(fd);
	return rc ? rc : ckpt_file_close(w);
}

int ckpt_pack_dir(struct ckpt_store *s, const char *group, uint64_t parent_seq,
		  uint32_t flags, const char *dir, uint64_t created_ns, uint64_t *seq)
{
	struct ckpt_writer w;
	struct dirent **names = NULL;
	uint8_t *buf = NULL;
	int dfd, n, rc;

	s->msg[0] = '\0';
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return ckpt_fail(s, -errno, "%s: %s", dir, strerror(errno));
	/* Sorted, so the same directory always makes the same set. */
	n = scandir(dir, &names, NULL, alphasort);
	if (n < 0) {
		rc = ckpt_fail(s, -errno, "%s: %s", dir, strerror(errno));
		goto out;
	}
	rc = survey(s, dfd, dir, names, n);
	if (rc)
		goto out;
	buf = malloc(IO_CHUNK);
	if (!buf) {
		rc = ckpt_fail(s, -ENOMEM, "out of memory");
		goto out;
	}
	rc = ckpt_begin(s, &w, group, parent_seq, created_ns, flags);
	if (rc)
		goto out;
	for (int i = 0; i < n && !rc; i++) {
		const char *name = names[i]->d_name;
		struct stat st;

		if (is_dot(name) ||
		    (!strcmp(name, "parent") && !fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) &&
		     S_ISLNK(st.st_mode)))
			continue;
		rc = pack_file(&w, dfd, dir, name, buf);
	}
	rc = rc ? rc : ckpt_commit(&w, seq);
	if (rc)
		ckpt_abort(&w);
out:
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(buf);
	close(dfd);
	return rc;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t put = write(fd, p, len);

		if (put < 0 && errno == EINTR)
			continue;
		if (put < 0)
			return -errno;
		p += put;
		len -= (size_t)put;
	}
	return 0;
}

static int extract_file(struct ckpt_reader *r, int sfd, const char *where,
			const struct ckpt_file *f, uint8_t *buf)
{
	struct ckpt_store *s = r->s;
	int fd = openat(sfd, f->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	int rc = 0;
	ssize_t got;

	if (fd < 0)
		return ckpt_fail(s, -errno, "%s/%s: %s", where, f->name, strerror(errno));
	while (!rc && (got = ckpt_read_data(r, buf, IO_CHUNK)) > 0)
		rc = write_all(fd, buf, (size_t)got);
	if (!rc && fchmod(fd, f->mode) < 0)
		rc = -errno;
	if (close(fd) < 0 && !rc)
		rc = -errno;
	return rc ? ckpt_fail(s, rc, "%s/%s: %s", where, f->name, strerror(-rc)) : 0;
}

static int extract_set(struct ckpt_store *s, const struct ckpt_info *set, int dfd,
		       const char *dir, uint8_t *buf)
{
	struct ckpt_reader r;
	struct ckpt_file f;
	char name[32], where[4096], link[40];
	int sfd, rc;

	snprintf(name, sizeof(name), "%" PRIu64, set->seq);
	snprintf(where, sizeof(where), "%s/%s", dir, name);
	if (mkdirat(dfd, name, 0700) < 0)
		return ckpt_fail(s, -errno, "%s: %s", where, strerror(errno));
	sfd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sfd < 0)
		return ckpt_fail(s, -errno, "%s: %s", where, strerror(errno));
	if (set->parent_seq) {
		snprintf(link, sizeof(link), "../%" PRIu64, set->parent_seq);
		if (symlinkat(link, sfd, "parent") < 0) {
			rc = ckpt_fail(s, -errno, "%s/parent: %s", where, strerror(errno));
			goto out;
		}
	}
	rc = ckpt_read_open(s, set, &r);
	while (!rc && (rc = ckpt_read_file(&r, &f)) == 1)
		rc = extract_file(&r, sfd, where, &f, buf);
	if (!rc)
		rc = ckpt_read_close(&r);
out:
	close(sfd);
	return rc;
}

int ckpt_extract_dir(struct ckpt_store *s, const struct ckpt_chain *chain,
		     const char *dir)
{
	uint8_t *buf;
	int dfd, rc = 0;

	s->msg[0] = '\0';
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return ckpt_fail(s, -errno, "%s: %s", dir, strerror(errno));
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return ckpt_fail(s, -errno, "%s: %s", dir, strerror(errno));
	buf = malloc(IO_CHUNK);
	if (!buf)
		rc = ckpt_fail(s, -ENOMEM, "out of memory");
	for (unsigned int i = 0; i < chain->n && !rc; i++)
		rc = extract_set(s, &chain->set[i], dfd, dir, buf);
	free(buf);
	close(dfd);
	return rc;
}
