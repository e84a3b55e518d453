// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A group's files on the data disk, taken with its memory and put back
 * before a restore (agent/ckpt-data.c): the round trip, and a manifest
 * from the store (the peer's, possibly garbage) that must never make a
 * restore write outside the restoring partition's own data paths, nor
 * write anything at all unless every entry checks out.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <time.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "ckpt-data.h"

static char work[64];
static char data[128], images[128];
static struct ckpt_data_paths paths;
static char msg[512];

static int setup(void **state)
{
	(void)state;
	snprintf(work, sizeof(work), "/tmp/ckpt-data-XXXXXX");
	if (!mkdtemp(work))
		return -1;
	snprintf(data, sizeof(data), "%s/srv", work);
	snprintf(images, sizeof(images), "%s/images", work);
	memset(&paths, 0, sizeof(paths));
	msg[0] = '\0';
	if (mkdir(data, 0755) || mkdir(images, 0700))
		return -1;
	return ckpt_data_add_path(&paths, data);
}

static int teardown(void **state)
{
	char cmd[128], cache[160];

	(void)state;
	/* A test that failed with its file system still mounted below. */
	snprintf(cache, sizeof(cache), "%s/cache", data);
	umount2(cache, MNT_DETACH);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", work);
	return system(cmd) == 0 ? 0 : -1;
}

static void put(const char *dir, const char *name, const char *text, mode_t mode)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static const char *get(const char *dir, const char *name)
{
	static char buf[256];
	char path[512];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static mode_t mode_of(const char *dir, const char *name)
{
	char path[512];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(stat(path, &sb), 0);
	return sb.st_mode & 07777;
}

static int images_fd(void)
{
	int fd = open(images, O_RDONLY | O_DIRECTORY);

	assert_true(fd >= 0);
	return fd;
}

static void only_plain_absolute_paths(void **state)
{
	struct ckpt_data_paths p = { 0 };

	(void)state;
	assert_int_equal(ckpt_data_add_path(&p, "/srv/orthros"), 0);
	assert_int_equal(ckpt_data_add_path(&p, "/srv/a b"), 0);
	assert_int_equal(ckpt_data_add_path(&p, "/"), -EINVAL);
	assert_int_equal(ckpt_data_add_path(&p, "srv"), -EINVAL);
	assert_int_equal(ckpt_data_add_path(&p, "/srv/"), -EINVAL);
	assert_int_equal(ckpt_data_add_path(&p, "/srv//x"), -EINVAL);
	assert_int_equal(ckpt_data_add_path(&p, "/srv/../etc"), -EINVAL);
	assert_int_equal(ckpt_data_add_path(&p, "/srv/."), -EINVAL);
	assert_int_equal(ckpt_data_add_path(&p, "/srv/x\ny"), -EINVAL);
	assert_int_equal(ckpt_data_add_path(&p, ""), -EINVAL);
	for (int i = 2; i < CKPT_DATA_MAX_PATHS; i++)
		assert_int_equal(ckpt_data_add_path(&p, "/srv/more"), 0);
	assert_int_equal(ckpt_data_add_path(&p, "/srv/one-too-many"), -E2BIG);

	assert_true(ckpt_data_path_allowed(&p, "/srv/orthros"));
	assert_true(ckpt_data_path_allowed(&p, "/srv/orthros/db/x"));
	assert_false(ckpt_data_path_allowed(&p, "/srv/orthros2"));
	assert_false(ckpt_data_path_allowed(&p, "/srv/orthros/../../etc/passwd"));
	assert_false(ckpt_data_path_allowed(&p, "/srv"));
	assert_false(ckpt_data_path_allowed(&p, "/etc/passwd"));
}

static void files_and_modes_come_back_as_they_were(void **state)
{
	struct ckpt_data_stats st;
	char sub[256], link[256];
	int fd = images_fd();

	(void)state;
	snprintf(sub, sizeof(sub), "%s/db", data);
	assert_int_equal(mkdir(sub, 0750), 0);
	put(data, "log", "one\n", 0640);
	put(sub, "table", "rows", 0600);
	snprintf(link, sizeof(link), "%s/link", data);
	assert_int_equal(symlink("/etc/passwd", link), 0);
	assert_int_equal(ckpt_data_add_path(&paths, "/nonexistent/orthros-test"), 0);

	assert_int_equal(ckpt_data_save(fd, &paths, 1 << 20, NULL, &st, msg, sizeof(msg)), 0);
	assert_int_equal(st.files, 2);
	assert_int_equal(st.dirs, 2);
	assert_int_equal(st.skipped, 1);	/* the symlink */
	assert_int_equal(st.bytes, 8);

	/* the group runs on: appends, changes a mode, removes a file */
	put(data, "log", "one\ntwo\n", 0600);
	assert_int_equal(unlink(strcat(strcpy(link, sub), "/table")), 0);
	assert_int_equal(chmod(sub, 0700), 0);

	assert_int_equal(ckpt_data_restore(fd, &paths, "set-1", &st, msg, sizeof(msg)), 0);
	assert_int_equal(st.files, 2);
	assert_int_equal(st.bytes, 8);
	assert_string_equal(get(data, "log"), "one\n");
	assert_int_equal(mode_of(data, "log"), 0640);
	assert_string_equal(get(sub, "table"), "rows");
	assert_int_equal(mode_of(sub, "table"), 0600);
	assert_int_equal(mode_of(data, "db"), 0750);
	assert_null(get(data, "log.orthros-tmp"));
	close(fd);
}

static void a_set_without_data_restores_nothing(void **state)
{
	struct ckpt_data_stats st;
	int fd = images_fd();

	(void)state;
	put(data, "log", "now", 0644);
	assert_int_equal(ckpt_data_restore(fd, &paths, "set-1", &st, msg, sizeof(msg)), 0);
	assert_int_equal(st.files + st.dirs, 0);
	assert_string_equal(get(data, "log"), "now");
	close(fd);
}

static void more_than_the_limit_is_refused(void **state)
{
	struct ckpt_data_stats st;
	int fd = images_fd();

	(void)state;
	put(data, "big", "0123456789", 0644);
	assert_int_equal(ckpt_data_save(fd, &paths, 9, NULL, &st, msg, sizeof(msg)), -EFBIG);
	assert_non_null(strstr(msg, "more than 9 bytes"));
	close(fd);
}

/* A manifest written into the images as the peer might have. */
static void manifest(const char *text)
{
	put(images, CKPT_DATA_MANIFEST, text, 0600);
}

static void a_path_outside_the_data_paths_writes_nothing(void **state)
{
	struct ckpt_data_stats st;
	char text[1024];
	int fd = images_fd();

	(void)state;
	put(data, "log", "mine", 0644);
	put(images, "orthros-data.0", "theirs", 0600);
	put(images, "orthros-data.1", "evil", 0600);
	snprintf(text, sizeof(text), "orthros-data 1\nF 0 644 0 0 6 %s/log\nF 1 644 0 0 4 %s/../escape\n",
		 data, data);
	manifest(text);
	assert_int_equal(ckpt_data_restore(fd, &paths, "set-1", &st, msg, sizeof(msg)), -EBADMSG);
	assert_string_equal(get(data, "log"), "mine");	/* not even the good one */
	snprintf(text, sizeof(text), "orthros-data 1\nF 0 644 0 0 6 %s/log\nF 1 644 0 0 4 %s2/x\n",
		 data, data);
	manifest(text);
	assert_int_equal(ckpt_data_restore(fd, &paths, "set-1", &st, msg, sizeof(msg)), -EPERM);
	assert_non_null(strstr(msg, "line 3"));
	assert_non_null(strstr(msg, "not in this group's data paths"));
	assert_string_equal(get(data, "log"), "mine");
	assert_null(get(work, "srv2/x"));
	close(fd);
}

static void contents_of_the_wrong_size_write_nothing(void **state)
{
	struct ckpt_data_stats st;
	char text[1024];
	int fd = images_fd();

	(void)state;
	put(data, "a", "mine", 0644);
	put(images, "orthros-data.0", "good", 0600);
	put(images, "orthros-data.1", "cut", 0600);
	snprintf(text, sizeof(text), "orthros-data 1\nF 0 644 0 0 4 %s/a\nF 1 644 0 0 9 %s/b\n", data, data);
	manifest(text);
	assert_int_equal(ckpt_data_restore(fd, &paths, "set-1", &st, msg, sizeof(msg)), -EBADMSG);
	assert_non_null(strstr(msg, "wrong size"));
	assert_string_equal(get(data, "a"), "mine");
	assert_null(get(data, "b"));
	close(fd);
}

/* The group's own files could hold links out of the data disk. */
static void links_under_the_data_path_are_not_followed(void **state)
{
	struct ckpt_data_stats st;
	char outside[256], link[256], text[1024];
	int fd = images_fd();

	(void)state;
	snprintf(outside, sizeof(outside), "%s/outside", work);
	assert_int_equal(mkdir(outside, 0755), 0);
	put(outside, "target", "safe", 0644);
	snprintf(link, sizeof(link), "%s/dir", data);
	assert_int_equal(symlink(outside, link), 0);
	snprintf(link, sizeof(link), "%s/log", data);
	assert_int_equal(symlink(strcat(strcpy(text, outside), "/target"), link), 0);
	snprintf(link, sizeof(link), "%s/log.orthros-tmp", data);
	assert_int_equal(symlink(strcat(strcpy(text, outside), "/planted"), link), 0);
	put(images, "orthros-data.0", "evil", 0600);
	put(images, "orthros-data.1", "data", 0600);

	/* through a link where a directory should be: refused */
	snprintf(text, sizeof(text), "orthros-data 1\nF 0 644 0 0 4 %s/dir/target\n", data);
	manifest(text);
	assert_int_equal(ckpt_data_restore(fd, &paths, "set-1", &st, msg, sizeof(msg)), -ENOTDIR);
	assert_string_equal(get(outside, "target"), "safe");

	/* a link at the file's place, and one at its temporary name: replaced, not written through */
	snprintf(text, sizeof(text), "orthros-data 1\nF 0 644 0 0 4 %s/log\n", data);
	manifest(text);
	assert_int_equal(ckpt_data_restore(fd, &paths, "set-1", &st, msg, sizeof(msg)), 0);
	assert_string_equal(get(data, "log"), "evil");
	assert_string_equal(get(outside, "target"), "safe");
	assert_null(get(outside, "planted"));
	close(fd);
}

static int count(void *arg, const struct ckpt_data_entry *e)
{
	(void)e;
	++*(int *)arg;
	return 0;
}

static void malformed_manifests_are_refused_whole(void **state)
{
	const char *bad[] = {
		"",
		"orthros-data 2\n",
		"orthros-data 1\nF 0 644 0 0 4 SRV/a",		/* no newline at the end */
		"orthros-data 1\nF 1 644 0 0 4 SRV/a\n",	/* index out of order */
		"orthros-data 1\nF 0 644 0 0 4 SRV/a\nF 0 644 0 0 4 SRV/b\n",
		"orthros-data 1\nF 0 0644 0 0 4 SRV/a\n",	/* two spellings of a mode */
		"orthros-data 1\nF 0 648 0 0 4 SRV/a\n",	/* not octal */
		"orthros-data 1\nF 0 17777 0 0 4 SRV/a\n",	/* not permission bits */
		"orthros-data 1\nF 0 644 0 0 99999999999999999999 SRV/a\n",
		"orthros-data 1\nF 0 644 0 0 4 SRV/a/\n",
		"orthros-data 1\nF 0 644 0 0 4 SRV//a\n",
		"orthros-data 1\nF 0 644 0 0 4 SRV/./a\n",
		"orthros-data 1\nF 0 644 0 0 4  SRV/a\n",
		"orthros-data 1\nD 755 0 0\n",
		"orthros-data 1\nX 755 0 0 SRV\n",
		"orthros-data 1\nD 755 0 0 SRV\n\n",
	};
	char text[512], *at;
	int n;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* SRV: this test's data path */
		text[0] = '\0';
		for (const char *s = bad[i]; (at = strstr(s, "SRV")) || *s; s = at + 3) {
			if (!at) {
				strcat(text, s);
				break;
			}
			strncat(text, s, (size_t)(at - s));
			strcat(text, data);
		}
		n = 0;
		int rc = ckpt_data_parse(text, strlen(text), &paths, count, &n, msg, sizeof(msg));

		if (rc != -EBADMSG)
			fail_msg("manifest %zu: %d, not -EBADMSG: %s", i, rc, text);
		assert_int_equal(n, 0);
	}
	snprintf(text, sizeof(text), "orthros-data 1\nD 755 0 0 %s\nF 0 600 1000 1000 4 %s/with space\n", data, data);
	n = 0;
	assert_int_equal(ckpt_data_parse(text, strlen(text), &paths, count, &n, msg, sizeof(msg)), 0);
	assert_int_equal(n, 2);
}

static bool exists(const char *dir, const char *name)
{
	char path[512];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return lstat(path, &sb) == 0;
}

/*
 * What the group made after the dump is not in the set: the restored
 * memory never knew it.  It goes aside, kept, out of the group's way.
 */
static void what_came_after_the_dump_is_moved_aside(void **state)
{
	struct ckpt_data_stats st;
	char sub[256], aside[256], link[256];
	int fd = images_fd();

	(void)state;
	snprintf(sub, sizeof(sub), "%s/db", data);
	assert_int_equal(mkdir(sub, 0750), 0);
	put(data, "log", "one\n", 0640);
	put(sub, "table", "rows", 0600);
	put(data, "state", "a file", 0600);
	assert_int_equal(ckpt_data_save(fd, &paths, 1 << 20, NULL, &st, msg, sizeof(msg)), 0);
	assert_int_equal(st.files, 3);

	/* after the dump: a rotated log, a new directory, a new file deeper down,
	 * a file that became a directory, and a link (never the group's state) */
	put(data, "log.1", "rotated", 0600);
	snprintf(aside, sizeof(aside), "%s/newdir", data);
	assert_int_equal(mkdir(aside, 0700), 0);
	put(aside, "x", "x", 0600);
	put(sub, "index", "new", 0600);
	snprintf(aside, sizeof(aside), "%s/state", data);
	assert_int_equal(unlink(aside), 0);
	assert_int_equal(mkdir(aside, 0700), 0);
	snprintf(link, sizeof(link), "%s/link", data);
	assert_int_equal(symlink("/etc/passwd", link), 0);

	assert_int_equal(ckpt_data_restore(fd, &paths, "set-7", &st, msg, sizeof(msg)), 0);
	assert_int_equal(st.files, 3);
	assert_int_equal(st.aside, 4);
	snprintf(aside, sizeof(aside), "%s/" CKPT_DATA_ASIDE "/set-7", data);
	assert_string_equal(st.aside_at, aside);
	/* the tree is the set's ... */
	assert_false(exists(data, "log.1"));
	assert_false(exists(data, "newdir"));
	assert_false(exists(sub, "index"));
	assert_string_equal(get(data, "state"), "a file");
	assert_string_equal(get(sub, "table"), "rows");
	assert_true(exists(data, "link"));
	/* ... and nothing is lost, at the same place below the aside directory */
	assert_string_equal(get(aside, "log.1"), "rotated");
	assert_string_equal(get(aside, "newdir/x"), "x");
	assert_string_equal(get(aside, "db/index"), "new");
	assert_true(exists(aside, "state"));

	/* a second restore from the same set keeps the first one's leftovers */
	put(data, "log.1", "rotated again", 0600);
	assert_int_equal(ckpt_data_restore(fd, &paths, "set-7", &st, msg, sizeof(msg)), 0);
	assert_int_equal(st.aside, 1);
	assert_string_equal(get(aside, "log.1"), "rotated");
	strcat(aside, ".2");
	assert_string_equal(st.aside_at, aside);
	assert_string_equal(get(aside, "log.1"), "rotated again");

	/* nothing moved aside is taken into the next dump */
	close(fd);
	assert_int_equal(system(strcat(strcat(strcpy(aside, "rm -rf "), images), "/*")), 0);
	fd = images_fd();
	assert_int_equal(ckpt_data_save(fd, &paths, 1 << 20, NULL, &st, msg, sizeof(msg)), 0);
	assert_int_equal(st.files, 3);
	assert_int_equal(st.dirs, 2);
	close(fd);
}

/* A configured path that is one file, made after the dump: beside itself. */
static void a_file_path_made_after_the_dump_goes_beside_itself(void **state)
{
	struct ckpt_data_stats st;
	char file[320], dir[256];
	int fd = images_fd();

	(void)state;
	snprintf(dir, sizeof(dir), "%s/etc", work);
	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(file, sizeof(file), "%s/state", dir);
	assert_int_equal(ckpt_data_add_path(&paths, file), 0);
	put(data, "log", "one\n", 0640);
	assert_int_equal(ckpt_data_save(fd, &paths, 1 << 20, NULL, &st, msg, sizeof(msg)), 0);
	assert_int_equal(st.files, 1);

	put(dir, "state", "late", 0600);
	assert_int_equal(ckpt_data_restore(fd, &paths, "set-3", &st, msg, sizeof(msg)), 0);
	assert_int_equal(st.aside, 1);
	assert_false(exists(dir, "state"));
	assert_string_equal(get(dir, "state.orthros-aside-set-3"), "late");
	assert_string_equal(st.aside_at, strcat(file, ".orthros-aside-set-3"));
	assert_string_equal(get(data, "log"), "one\n");
	close(fd);
}

/* A set that names only a file below a directory holds the directory too. */
static void a_directory_the_set_holds_entries_below_is_its(void **state)
{
	struct ckpt_data_stats st;
	char text[1024];
	int fd = images_fd();

	(void)state;
	put(data, "keep-me.d", "mine", 0644);
	put(images, "orthros-data.0", "theirs", 0600);
	snprintf(text, sizeof(text), "orthros-data 1\nF 0 644 0 0 6 %s/keep-me.d/x\n", data);
	manifest(text);
	/* keep-me.d is a file, the set has a directory there: the file goes aside */
	assert_int_equal(ckpt_data_restore(fd, &paths, "set-2", &st, msg, sizeof(msg)), 0);
	assert_int_equal(st.aside, 1);
	assert_string_equal(get(data, "keep-me.d/x"), "theirs");
	assert_string_equal(get(data, CKPT_DATA_ASIDE "/set-2/keep-me.d"), "mine");
	assert_false(exists(work, "srv.orthros-aside-set-2"));
	assert_int_equal(ckpt_data_restore(fd, &paths, "a/b", &st, msg, sizeof(msg)), -EINVAL);
	close(fd);
}

/* Copies made ahead left in the images directory. */
static int ahead_left(void)
{
	struct dirent *de;
	DIR *d = opendir(images);
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		n += !strncmp(de->d_name, "orthros-data.ahead.", 19);
	closedir(d);
	return n;
}

/* Past the kernel's coarse clock tick (4 ms at HZ=250): new stamps differ. */
static void next_tick(void)
{
	struct timespec ts = { 0, 30 * 1000 * 1000 };

	nanosleep(&ts, NULL);
}

static void the_copy_made_ahead_is_taken_only_for_unchanged_files(void **state)
{
	struct ckpt_data_ahead a = { .racy_ns = 0 };
	struct ckpt_data_stats st;
	int fd = images_fd();

	(void)state;
	put(data, "table", "rows", 0600);
	put(data, "log", "one\n", 0640);
	put(data, "conf", "x=1", 0644);
	next_tick();
	assert_int_equal(ckpt_data_copy_ahead(fd, &paths, 1 << 20, &a, msg, sizeof(msg)), 0);
	assert_int_equal(a.n, 3);
	assert_int_equal(a.bytes, 11);
	assert_int_equal(ahead_left(), 3);

	/* the group runs on before the freeze: appends, rewrites in place */
	next_tick();
	put(data, "log", "one\ntwo\n", 0640);
	put(data, "conf", "x=2", 0644);
	assert_int_equal(ckpt_data_save(fd, &paths, 1 << 20, &a, &st, msg, sizeof(msg)), 0);
	assert_int_equal(st.files, 3);
	assert_int_equal(st.ahead, 1);			/* table only */
	assert_int_equal(st.ahead_bytes, 4);
	assert_int_equal(st.bytes, 4 + 8 + 3);
	ckpt_data_ahead_done(fd, &a);
	assert_int_equal(ahead_left(), 0);
	assert_int_equal(a.n, 0);

	put(data, "table", "ROWS", 0600);
	put(data, "log", "garbage", 0600);
	put(data, "conf", "x=3", 0600);
	assert_int_equal(ckpt_data_restore(fd, &paths, "set-1", &st, msg, sizeof(msg)), 0);
	assert_string_equal(get(data, "table"), "rows");
	assert_string_equal(get(data, "log"), "one\ntwo\n");
	assert_int_equal(mode_of(data, "log"), 0640);
	assert_string_equal(get(data, "conf"), "x=2");
	close(fd);
}

static void a_file_changed_just_before_its_copy_is_read_again(void **state)
{
	struct ckpt_data_ahead a = { .racy_ns = 1000000000ull };
	struct ckpt_data_stats st;
	int fd = images_fd();

	(void)state;
	/*
	 * Written in the second before the copy: a write after the copy's
	 * look could leave every stamp as it was, so it is read again even
	 * though nothing (visible) changed.
	 */
	put(data, "conf", "x=1", 0644);
	assert_int_equal(ckpt_data_copy_ahead(fd, &paths, 1 << 20, &a, msg, sizeof(msg)), 0);
	assert_int_equal(a.n, 0);			/* not even copied ahead */
	assert_int_equal(ahead_left(), 0);
	assert_int_equal(ckpt_data_save(fd, &paths, 1 << 20, &a, &st, msg, sizeof(msg)), 0);
	assert_int_equal(st.files, 1);
	assert_int_equal(st.ahead, 0);
	ckpt_data_ahead_done(fd, &a);
	assert_int_equal(ahead_left(), 0);
	close(fd);
}

static void copying_ahead_keeps_the_limit_and_cleans_up(void **state)
{
	struct ckpt_data_ahead a = { .racy_ns = 0 };
	int fd = images_fd();

	(void)state;
	put(data, "a", "01234", 0644);
	put(data, "b", "56789", 0644);
	assert_int_equal(ckpt_data_copy_ahead(fd, &paths, 7, &a, msg, sizeof(msg)), -EFBIG);
	assert_non_null(strstr(msg, "more than 7 bytes"));
	ckpt_data_ahead_done(fd, &a);
	assert_int_equal(ahead_left(), 0);
	close(fd);
}

static void a_file_system_mounted_below_a_path_is_not_the_paths(void **state)
{
	struct ckpt_data_stats st;
	char cache[160];
	int fd = images_fd();

	(void)state;
	/*
	 * Needs root (the suite runs as root): a private mount namespace for
	 * this process keeps the tmpfs out of the host's mount table.
	 */
	assert_int_equal(unshare(CLONE_NEWNS), 0);
	assert_int_equal(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
	snprintf(cache, sizeof(cache), "%s/cache", data);
	assert_int_equal(mkdir(cache, 0755), 0);
	assert_int_equal(mount("orthros-test", cache, "tmpfs", 0, "size=1m"), 0);
	put(data, "log", "one\n", 0644);
	put(cache, "blob", "cached", 0644);

	assert_int_equal(ckpt_data_save(fd, &paths, 1 << 20, NULL, &st, msg, sizeof(msg)), 0);
	assert_int_equal(st.files, 1);			/* log, not cache/blob */
	assert_int_equal(st.dirs, 1);
	assert_int_equal(st.mounts, 1);

	/* after the dump: a file on each file system */
	put(data, "late", "x", 0644);
	put(cache, "late", "y", 0644);
	assert_int_equal(ckpt_data_restore(fd, &paths, "set-1", &st, msg, sizeof(msg)), 0);
	assert_int_equal(st.aside, 1);			/* late, not the mount point */
	assert_string_equal(get(data, CKPT_DATA_ASIDE "/set-1/late"), "x");
	assert_string_equal(get(cache, "late"), "y");
	assert_string_equal(get(cache, "blob"), "cached");
	assert_int_equal(umount2(cache, 0), 0);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(only_plain_absolute_paths),
		T(files_and_modes_come_back_as_they_were),
		T(a_set_without_data_restores_nothing),
		T(more_than_the_limit_is_refused),
		T(a_path_outside_the_data_paths_writes_nothing),
		T(contents_of_the_wrong_size_write_nothing),
		T(malformed_manifests_are_refused_whole),
		T(links_under_the_data_path_are_not_followed),
		T(what_came_after_the_dump_is_moved_aside),
		T(a_file_path_made_after_the_dump_goes_beside_itself),
		T(a_directory_the_set_holds_entries_below_is_its),
		T(the_copy_made_ahead_is_taken_only_for_unchanged_files),
		T(a_file_changed_just_before_its_copy_is_read_again),
		T(copying_ahead_keeps_the_limit_and_cleans_up),
		T(a_file_system_mounted_below_a_path_is_not_the_paths),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
