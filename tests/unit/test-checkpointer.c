// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The checkpoint policy and the restore path, on a fake CRIU: when a
 * checkpoint is due, full or incremental (pre-dump, then dump on it; a
 * full one pre-dumps too when the store has room beside the chain), what
 * CRIU is asked for, what reaches the store, that a failed dump leaves no
 * visible set, that a freeze longer than max_freeze is reported (from
 * CRIU's stats-dump, or the dump call's duration without it), and which set
 * a restore uses: the newest dump, passing over pre-dumps and corrupt sets,
 * or none at all (a cold start).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "checkpointer.h"
#include "ckpt-watchdog.h"
#include "ckpt-standby.h"

#define MS 1000000ull
#define REGION_SIZE (512 * 1024)

static uint8_t region[REGION_SIZE] __attribute__((aligned(4096)));
static struct ckpt_store st;
static char work[64];
static uint64_t fake_now;

/* What the fake CRIU was asked, and what it does next. */
static struct {
	int calls, dumps, pre_dumps, restores;
	int stopped_restores;		/* asked with leave_stopped */
	int stopped_rc;			/* what a leave_stopped restore returns */
	struct ckpt_criu_req last[8];
	char parent[8][32];
	bool pre[8];
	int fail_at;			/* call number (1-based) that fails, 0: none */
	int hang_at;			/* call number whose "criu" never answers */
	bool hang_restore;		/* a restore whose "criu" never answers */
	pid_t hung;			/* that criu, killed by the watchdog */
	uint32_t freezing_us, frozen_us;
	uint64_t pages;			/* pages_written in each stats-dump */
	bool no_stats;
	uint64_t call_ns;		/* fake time a call takes */
	char restored_from[512];
	char restored_files[512];
	int probe_fd;			/* >= 0: is the store lock held during CRIU? */
	int locked_calls;		/* calls made while another fd could not take it */
	bool no_notify;			/* a dump that never says post-dump */
	int frozen_calls;		/* post-dump notifications given */
	char watch[128];		/* a file whose contents a restore records */
	char watched[64];		/* ...as they were when CRIU would reopen it */
	char before_freeze[64];		/* written to watch as the dump begins */
} fk;

static uint64_t clock_fake(void)
{
	return fake_now;
}

/* CRIU's stats-dump: service magic, stats magic, length, StatsEntry{dump}. */
static size_t stats_image(uint8_t *out, uint32_t freezing, uint32_t frozen, uint64_t written)
{
	uint8_t msg[64], sub[48];
	size_t n = 0, m = 0, len;
	uint64_t vals[] = { freezing, frozen, 7, 9, 100, 0, written };

	for (unsigned int f = 0; f < 7; f++) {
		uint64_t v = vals[f];

		sub[m++] = (uint8_t)(((f + 1) << 3) | 0);
		do {
			sub[m++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
			v >>= 7;
		} while (v);
	}
	msg[n++] = (1 << 3) | 2;
	msg[n++] = (uint8_t)m;
	memcpy(msg + n, sub, m);
	n += m;
	const uint32_t head[3] = { 0x55105940u, 0x57093306u, (uint32_t)n };

	memcpy(out, head, sizeof(head));
	memcpy(out + sizeof(head), msg, n);
	len = sizeof(head) + n;
	return len;
}

static void put(int dfd, const char *name, const void *data, size_t len)
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

/*
 * As libcriu does: fork a `criu swrk` and wait for its answer, which
 * never comes; only the watchdog's kill ends the wait.
 */
static int hang_like_criu(void)
{
	int status;

	fk.hung = fork();
	assert_true(fk.hung >= 0);
	if (fk.hung == 0) {
		prctl(PR_SET_NAME, "criu");
		for (;;)
			pause();
	}
	assert_int_equal(waitpid(fk.hung, &status, 0), fk.hung);
	return WIFSIGNALED(status) ? -ECOMM : -EIO;
}

static int fake_call(const struct ckpt_criu_req *r, bool pre)
{
	char pages[3000];
	uint8_t stats[128];
	int k = fk.calls++;

	if (k < 8) {
		fk.last[k] = *r;
		fk.pre[k] = pre;
		snprintf(fk.parent[k], sizeof(fk.parent[k]), "%s", r->parent ? r->parent : "");
	}
	fake_now += fk.call_ns;
	if (fk.hang_at == fk.calls)
		return hang_like_criu();
	if (fk.probe_fd >= 0) {
		if (flock(fk.probe_fd, LOCK_EX | LOCK_NB) == 0)
			flock(fk.probe_fd, LOCK_UN);
		else if (errno == EWOULDBLOCK)
			fk.locked_calls++;
	}
	if (r->parent)		/* as criu does */
		assert_int_equal(symlinkat(r->parent, r->images_fd, "parent"), 0);
	memset(pages, 'a' + k, sizeof(pages));
	put(r->images_fd, "pages-1.img", pages, sizeof(pages));
	put(r->images_fd, "pagemap-42.img", "map", 3);
	if (fk.fail_at == fk.calls)
		return -52;	/* after writing half a dump, as a real failure does */
	if (!pre)
		put(r->images_fd, "core-42.img", "core", 4);
	if (!fk.no_stats)
		put(r->images_fd, "stats-dump", stats, stats_image(stats, fk.freezing_us, fk.frozen_us, fk.pages));
	/* The group writes on until CRIU freezes it. */
	if (!pre && fk.before_freeze[0]) {
		FILE *f = fopen(fk.watch, "w");

		assert_non_null(f);
		fputs(fk.before_freeze, f);
		fclose(f);
	}
	/* CRIU's post-dump: the images are written, the tree still frozen. */
	if (!pre && r->frozen && !fk.no_notify) {
		fk.frozen_calls++;
		if (r->frozen(r->frozen_arg))
			return -1;	/* as libcriu reports a failed notification */
	}
	return 0;
}

static int f_pre_dump(void *ctx, const struct ckpt_criu_req *r)
{
	(void)ctx;
	fk.pre_dumps++;
	return fake_call(r, true);
}

static int f_dump(void *ctx, const struct ckpt_criu_req *r)
{
	(void)ctx;
	fk.dumps++;
	return fake_call(r, false);
}

/* Restore: report the directory CRIU would read and what is in it. */
static int f_restore(void *ctx, const struct ckpt_criu_req *r, pid_t *pid)
{
	char link[64];
	ssize_t n;
	DIR *d;
	struct dirent *e;

	(void)ctx;
	fk.restores++;
	if (fk.hang_restore)
		return hang_like_criu();
	if (r->leave_stopped) {
		fk.stopped_restores++;
		if (fk.stopped_rc)
			return fk.stopped_rc;
	}
	fk.restored_files[0] = '\0';
	d = fdopendir(dup(r->images_fd));
	assert_non_null(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && strlen(fk.restored_files) + strlen(e->d_name) + 2 < sizeof(fk.restored_files)) {
			strcat(fk.restored_files, e->d_name);
			strcat(fk.restored_files, " ");
		}
	closedir(d);
	n = readlinkat(r->images_fd, "parent", link, sizeof(link) - 1);
	link[n > 0 ? n : 0] = '\0';
	snprintf(fk.restored_from, sizeof(fk.restored_from), "parent=%s", link);
	if (fk.watch[0]) {
		FILE *f = fopen(fk.watch, "r");

		fk.watched[0] = '\0';
		if (f) {
			if (!fgets(fk.watched, sizeof(fk.watched), f))
				fk.watched[0] = '\0';
			fclose(f);
		}
	}
	*pid = 4242;
	return 0;
}

static const struct ckpt_criu_ops fake_ops = {
	.pre_dump = f_pre_dump, .dump = f_dump, .restore = f_restore,
};

static int setup(void **state)
{
	(void)state;
	memset(&fk, 0, sizeof(fk));
	fk.probe_fd = -1;
	fk.freezing_us = 1000;
	fk.frozen_us = 20000;
	fk.pages = 100000;	/* a busy group: increments pre-dump */
	fk.call_ns = 300 * MS;
	fake_now = 1000 * MS;
	memset(region, 0, sizeof(region));
	memset(&st, 0, sizeof(st));
	snprintf(work, sizeof(work), "/tmp/orthros-test-ckpt.XXXXXX");
	assert_non_null(mkdtemp(work));
	/* keep 5: 6 slots, a chain of full + increment and the next chain beside it */
	return ckpt_format(&st, region, sizeof(region), 5, 0x77);
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", work);
	return system(cmd) == 0 ? 0 : -1;
}

static void reformat(uint32_t keep)
{
	memset(region, 0, sizeof(region));
	assert_int_equal(ckpt_format(&st, region, sizeof(region), keep, 0x80 + keep), 0);
}

static void init(struct checkpointer *c, bool incremental)
{
	struct ckpt_policy pol = { .interval_ns = 1000 * MS, .incremental = incremental,
				   .max_freeze_ns = 100 * MS };
	char dir[96];

	snprintf(dir, sizeof(dir), "%s/web", work);
	assert_int_equal(checkpointer_init(c, &st, "web", dir, &pol, &fake_ops, NULL), 0);
	c->clock = clock_fake;
}

static int visible_sets(void)
{
	struct ckpt_info info[CKPT_MAX_SLOTS];
	int n = ckpt_list(&st, info), good = 0;

	for (int i = 0; i < n; i++)
		good += info[i].status == CKPT_OK;
	return good;
}

static void the_first_checkpoint_is_full_and_due_at_once(void **state)
{
	struct checkpointer c;
	struct ckpt_result res;
	struct ckpt_chain chain;

	(void)state;
	init(&c, true);
	assert_true(checkpointer_due(&c, fake_now));
	assert_false(checkpointer_next_incremental(&c));
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);
	assert_int_equal(res.kind, CKPT_FULL);
	/*
	 * All memory is copied by a pre-dump while the tree runs (pages read
	 * after it is released); the dump on it copies what changed since.
	 */
	assert_int_equal(fk.pre_dumps, 1);
	assert_int_equal(fk.dumps, 1);
	assert_true(fk.pre[0]);
	assert_string_equal(fk.parent[0], "");
	assert_true(fk.last[0].pre_dump_read);
	assert_false(fk.pre[1]);
	assert_string_equal(fk.parent[1], "../1");
	assert_false(fk.last[1].pre_dump_read);
	assert_int_equal(res.predump_seq, 1);
	assert_int_equal(res.seq, 2);
	assert_int_equal(res.parent_seq, 1);
	/* The tree keeps running and its memory is tracked for the next one. */
	assert_int_equal(fk.last[0].pid, 42);
	assert_true(fk.last[0].leave_running && fk.last[1].leave_running);
	assert_true(fk.last[0].track_mem && fk.last[1].track_mem);
	/* Both sets are stored; the pre-dump is only a parent, never restored alone. */
	assert_int_equal(visible_sets(), 2);
	assert_int_equal(ckpt_find(&st, "web", &chain), 0);
	assert_int_equal(chain.n, 2);
	assert_int_equal(chain.set[0].seq, 2);
	assert_int_equal(chain.set[0].flags, 0);
	assert_int_equal(chain.set[1].flags, CKPT_SET_PARTIAL);
	assert_true(res.bytes > 6000);
	checkpointer_fini(&c);
}

static void checkpoints_are_due_one_interval_after_the_last_began(void **state)
{
	struct checkpointer c;
	struct ckpt_result res;
	uint64_t t0 = fake_now;

	(void)state;
	init(&c, false);
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);	/* takes 300 ms */
	assert_false(checkpointer_due(&c, fake_now));
	assert_false(checkpointer_due(&c, t0 + 999 * MS));
	assert_true(checkpointer_due(&c, t0 + 1000 * MS));
	checkpointer_fini(&c);
}

static void incremental_is_a_pre_dump_then_a_dump_on_it(void **state)
{
	struct checkpointer c;
	struct ckpt_result res;
	struct ckpt_chain chain;

	(void)state;
	init(&c, true);
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);	/* 1 pre, 2 dump */
	assert_true(checkpointer_next_incremental(&c));
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);
	assert_int_equal(res.kind, CKPT_INCREMENTAL);
	/* pre-dump on the previous dump's images, dump on the pre-dump's */
	assert_true(fk.pre[2]);
	assert_string_equal(fk.parent[2], "../2");
	assert_false(fk.pre[3]);
	assert_string_equal(fk.parent[3], "../3");
	assert_true(fk.last[2].track_mem && fk.last[2].leave_running);
	/* the store holds the same chain: 4 -> 3 -> 2 -> 1 */
	assert_int_equal(res.predump_seq, 3);
	assert_int_equal(res.seq, 4);
	assert_int_equal(res.parent_seq, 3);
	assert_int_equal(ckpt_find(&st, "web", &chain), 0);
	assert_int_equal(chain.n, 4);
	for (unsigned int i = 0; i < 4; i++)
		assert_int_equal(chain.set[i].seq, 4 - i);
	/*
	 * 6 slots (keep 5): another increment would leave no room for a new
	 * chain (pre-dump + dump) beside this one, so the next one is full.
	 */
	assert_false(checkpointer_next_incremental(&c));
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);
	assert_int_equal(res.kind, CKPT_FULL);
	assert_int_equal(res.predump_seq, 5);
	assert_int_equal(res.seq, 6);
	assert_string_equal(fk.parent[4], "");
	assert_int_equal(ckpt_find(&st, "web", &chain), 0);
	assert_int_equal(chain.n, 2);
	/* and a chain grows again from it, in reclaimed slots */
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);
	assert_int_equal(res.kind, CKPT_INCREMENTAL);
	assert_int_equal(res.seq, 8);
	assert_int_equal(ckpt_find(&st, "web", &chain), 0);
	assert_int_equal(chain.n, 4);
	assert_int_equal(chain.set[3].seq, 5);
	checkpointer_fini(&c);
}

/*
 * A group that dirtied few pages over the last interval: the increment is
 * one dump on the previous dump, one freeze; once it dirties many, the
 * next increment pre-dumps again.  A direct increment is one set, so a
 * chain grows by more of them (keep 5: full, increment, increment).
 */
static void a_quiet_group_gets_one_dump_per_increment(void **state)
{
	struct checkpointer c;
	struct ckpt_result res;
	struct ckpt_chain chain;

	(void)state;
	fk.pages = CKPT_DIRECT_MAX_PAGES;
	init(&c, true);
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);	/* 1 pre, 2 dump */
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);
	assert_int_equal(res.kind, CKPT_INCREMENTAL);
	assert_int_equal(res.predump_seq, 0);
	assert_int_equal(res.seq, 3);
	assert_int_equal(res.parent_seq, 2);
	assert_int_equal(fk.calls, 3);
	assert_false(fk.pre[2]);
	assert_string_equal(fk.parent[2], "../2");	/* on the previous dump's images */
	assert_true(fk.last[2].leave_running && fk.last[2].track_mem);
	fk.pages = CKPT_DIRECT_MAX_PAGES + 1;		/* this interval it got busy */
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);
	assert_int_equal(res.kind, CKPT_INCREMENTAL);
	assert_int_equal(res.predump_seq, 0);
	assert_int_equal(res.seq, 4);
	assert_int_equal(ckpt_find(&st, "web", &chain), 0);
	assert_int_equal(chain.n, 4);
	/* 4 sets in 6 slots: no room for another and a new chain beside it */
	assert_false(checkpointer_next_incremental(&c));
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);
	assert_int_equal(res.kind, CKPT_FULL);
	assert_int_equal(res.predump_seq, 5);
	/* the busy group's next increment pre-dumps */
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);
	assert_int_equal(res.kind, CKPT_INCREMENTAL);
	assert_int_equal(res.predump_seq, 7);
	assert_int_equal(res.seq, 8);
	checkpointer_fini(&c);
}

/*
 * max_freeze picks the increment's shape: when copying the dirty pages
 * frozen would take a direct increment over the cap while the dump's fixed
 * part stays under it, the increment pre-dumps first; when the fixed part
 * alone is over the cap, no shape meets it and one freeze beats two.
 */
static void max_freeze_makes_an_increment_pre_dump(void **state)
{
	struct checkpointer c;
	struct ckpt_result res;

	(void)state;
	init(&c, true);					/* max_freeze 100 ms */
	fk.pages = 4000;				/* 60 ms to copy frozen */
	fk.freezing_us = 0;
	fk.frozen_us = 110000;				/* so 50 ms fixed */
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);	/* 1 pre, 2 dump */
	assert_int_equal(res.kind, CKPT_FULL);
	assert_int_equal(res.fixed_freeze_ns, 50 * MS);
	assert_true(res.over_max_freeze);
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);
	assert_int_equal(res.kind, CKPT_INCREMENTAL);
	assert_int_equal(res.predump_seq, 3);		/* 50 + 60 > 100: pre-dumped */
	assert_int_equal(res.capped_dirty_pages, 4000);
	assert_int_equal(fk.calls, 4);
	assert_true(fk.pre[2]);
	checkpointer_fini(&c);

	/* The fixed part alone over the cap: one dump, the cap said unreachable. */
	reformat(5);
	memset(&fk.pre, 0, sizeof(fk.pre));
	fk.calls = 0;
	init(&c, true);
	fk.frozen_us = 200000;				/* 140 ms fixed */
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);
	assert_int_equal(res.fixed_freeze_ns, 140 * MS);
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);
	assert_int_equal(res.kind, CKPT_INCREMENTAL);
	assert_int_equal(res.predump_seq, 0);
	assert_int_equal(res.capped_dirty_pages, 0);
	assert_int_equal(fk.calls, 3);
	checkpointer_fini(&c);

	/* No cap: the dirty count alone decides, as before. */
	reformat(5);
	fk.calls = 0;
	init(&c, true);
	c.pol.max_freeze_ns = 0;
	fk.frozen_us = 110000;
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);
	assert_int_equal(res.predump_seq, 0);
	assert_int_equal(res.capped_dirty_pages, 0);
	checkpointer_fini(&c);
}

/*
 * With keep 3 (4 slots) there is never room for an increment and a new
 * chain beside it: every checkpoint is a new chain, still pre-dumped, its
 * sets taking slots outside the previous chain, which stays restorable
 * until the new dump is stored.  With keep 2 (3 slots) not even that
 * beside a chain of two sets: a plain full dump.
 */
static void a_new_chain_takes_slots_beside_the_previous_one(void **state)
{
	struct checkpointer c;
	struct ckpt_result res;
	struct ckpt_chain chain;

	(void)state;
	memset(region, 0, sizeof(region));
	assert_int_equal(ckpt_format(&st, region, sizeof(region), 3, 0x78), 0);
	init(&c, true);
	for (uint64_t i = 1; i <= 4; i++) {
		assert_int_equal(checkpointer_run(&c, 42, &res), 0);
		assert_int_equal(res.kind, CKPT_FULL);
		assert_int_equal(res.predump_seq, 2 * i - 1);
		assert_int_equal(res.seq, 2 * i);
		assert_false(checkpointer_next_incremental(&c));
		assert_int_equal(ckpt_find(&st, "web", &chain), 0);
		assert_int_equal(chain.n, 2);
		assert_int_equal(chain.set[0].seq, 2 * i);
	}
	assert_int_equal(fk.pre_dumps, 4);
	checkpointer_fini(&c);

	memset(&fk, 0, sizeof(fk));
	fk.probe_fd = -1;
	fk.pages = 100000;
	fk.call_ns = 300 * MS;
	memset(region, 0, sizeof(region));
	assert_int_equal(ckpt_format(&st, region, sizeof(region), 2, 0x79), 0);
	init(&c, true);
	/* beside a chain of two sets a plain dump; beside one set, a pre-dump again */
	for (uint64_t i = 0, want[3][2] = { { 1, 2 }, { 0, 3 }, { 4, 5 } }; i < 3; i++) {
		assert_int_equal(checkpointer_run(&c, 42, &res), 0);
		assert_int_equal(res.kind, CKPT_FULL);
		assert_int_equal(res.predump_seq, want[i][0]);
		assert_int_equal(res.seq, want[i][1]);
		assert_int_equal(ckpt_find(&st, "web", &chain), 0);
		assert_int_equal(chain.set[0].seq, want[i][1]);
	}
	assert_int_equal(fk.pre_dumps, 2);
	checkpointer_fini(&c);
}

static void the_final_checkpoint_stops_the_tree(void **state)
{
	struct checkpointer c;
	struct ckpt_result res;

	(void)state;
	init(&c, true);
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);
	assert_int_equal(checkpointer_final(&c, 42, &res), 0);
	assert_int_equal(res.kind, CKPT_INCREMENTAL);
	/* the pre-dump leaves it running, the dump does not */
	assert_true(fk.pre[2] && fk.last[2].leave_running);
	assert_false(fk.pre[3]);
	assert_false(fk.last[3].leave_running);
	/* an ordinary checkpoint afterwards leaves it running again */
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);
	assert_true(fk.last[4].leave_running && fk.last[5].leave_running);
	checkpointer_fini(&c);
}

/* A self-contained set of another group, as another protected group's checkpoint. */
static void other_group_set(const char *group)
{
	char dir[96];
	uint64_t seq;
	int dfd;

	snprintf(dir, sizeof(dir), "%s/%s", work, group);
	assert_int_equal(mkdir(dir, 0700), 0);
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	put(dfd, "core-7.img", "core", 4);
	close(dfd);
	assert_int_equal(ckpt_pack_dir(&st, group, 0, 0, dir, 1, &seq), 0);
}

/*
 * The final dump ends the tree before its images reach the store, so the
 * room for them is made sure of first: no room for a pre-dump beside the
 * kept chains, one plain dump; no slot at all, no dump, the tree runs on.
 */
static void a_final_checkpoint_without_room_is_plain_or_not_taken(void **state)
{
	struct checkpointer c;
	struct ckpt_result res;

	(void)state;
	reformat(2);		/* 3 slots */
	init(&c, true);
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);	/* 1 pre, 2 dump */
	assert_int_equal(ckpt_spare_slots(&st), 1);
	assert_int_equal(checkpointer_final(&c, 42, &res), 0);
	assert_int_equal(res.kind, CKPT_FULL);
	assert_int_equal(res.predump_seq, 0);
	assert_int_equal(res.seq, 3);
	assert_int_equal(fk.pre_dumps, 1);
	assert_false(fk.last[2].leave_running);
	assert_string_equal(fk.parent[2], "");
	checkpointer_fini(&c);

	reformat(2);
	other_group_set("db");
	other_group_set("cache");
	init(&c, false);
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);	/* the third slot */
	assert_int_equal(ckpt_spare_slots(&st), 0);
	int calls = fk.calls;

	assert_int_equal(checkpointer_final(&c, 42, &res), -ENOSPC);
	assert_int_equal(fk.calls, calls);	/* CRIU was never asked */
	assert_non_null(strstr(res.msg, "keeps running"));
	checkpointer_fini(&c);
}

/*
 * orthrosd and an `orthrosctl ckpt dump` (the resource agent's final
 * checkpoint) in one partition: each holds the store's lock for the whole
 * checkpoint, CRIU calls included, and lets go after, failed or not.
 */
static void a_checkpoint_holds_the_store_lock_throughout(void **state)
{
	struct checkpointer c;
	struct ckpt_result res;
	char path[96];
	int mine, other;

	(void)state;
	snprintf(path, sizeof(path), "%s/region", work);
	mine = open(path, O_RDWR | O_CREAT, 0600);
	other = open(path, O_RDWR);	/* another open file: another holder */
	assert_true(mine >= 0 && other >= 0);
	init(&c, true);
	c.lock_fd = mine;
	fk.probe_fd = other;
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);	/* pre-dump + dump */
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);	/* the same on it */
	assert_int_equal(fk.calls, 4);
	assert_int_equal(fk.locked_calls, 4);
	assert_int_equal(flock(other, LOCK_EX | LOCK_NB), 0);
	flock(other, LOCK_UN);
	fk.fail_at = 5;
	assert_true(checkpointer_run(&c, 42, &res) < 0);
	assert_int_equal(fk.locked_calls, 5);
	assert_int_equal(flock(other, LOCK_EX | LOCK_NB), 0);
	checkpointer_fini(&c);
	close(mine);
	close(other);
}

static void without_incremental_every_checkpoint_is_full(void **state)
{
	struct checkpointer c;
	struct ckpt_result res;

	(void)state;
	init(&c, false);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(checkpointer_run(&c, 42, &res), 0);
		assert_int_equal(res.kind, CKPT_FULL);
		assert_int_equal(res.parent_seq, 0);
	}
	assert_int_equal(fk.pre_dumps, 0);
	assert_string_equal(fk.parent[2], "");
	/* No increment follows: the tree's soft-dirty bits are left alone. */
	assert_false(fk.last[0].track_mem || fk.last[2].track_mem);
	checkpointer_fini(&c);
}

static void a_set_from_another_checkpointer_starts_a_new_chain(void **state)
{
	struct ckpt_policy plain = { .interval_ns = 1000 * MS };
	struct checkpointer c, hand;
	struct ckpt_result res;
	char dir[96];

	(void)state;
	init(&c, true);
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);	/* 1 pre, 2 dump */
	assert_true(checkpointer_next_incremental(&c));
	/* An operator's plain dump of the same tree (orthrosctl ckpt dump). */
	snprintf(dir, sizeof(dir), "%s/web-once", work);
	assert_int_equal(checkpointer_init(&hand, &st, "web", dir, &plain, &fake_ops, NULL), 0);
	hand.clock = clock_fake;
	assert_int_equal(checkpointer_run(&hand, 42, &res), 0);
	assert_int_equal(res.seq, 3);
	assert_string_equal(res.note, "");
	/* It leaves the tracking alone: it resets no soft-dirty bit. */
	assert_false(fk.last[2].track_mem);
	/*
	 * Still, the chain is no longer the group's newest: the next
	 * checkpoint starts a new one (a pre-dump without parent) and says why.
	 */
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);
	assert_int_equal(res.kind, CKPT_FULL);
	assert_true(fk.pre[3]);
	assert_string_equal(fk.parent[3], "");
	assert_true(fk.last[3].track_mem);
	assert_non_null(strstr(res.note, "set 3 was written by another checkpointer since this chain's set 2"));
	assert_int_equal(res.predump_seq, 4);
	assert_int_equal(res.seq, 5);
	/* And the one after builds on the new chain again. */
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);
	assert_int_equal(res.kind, CKPT_INCREMENTAL);
	assert_string_equal(res.note, "");
	assert_string_equal(fk.parent[5], "../4");
	checkpointer_fini(&hand);
	checkpointer_fini(&c);
}

static void another_leader_starts_a_new_chain(void **state)
{
	struct checkpointer c;
	struct ckpt_result res;

	(void)state;
	init(&c, true);
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);	/* 1 pre, 2 dump */
	assert_true(checkpointer_next_incremental(&c));
	/* The group was restarted (or restored) under another pid. */
	assert_int_equal(checkpointer_run(&c, 4242, &res), 0);
	assert_int_equal(res.kind, CKPT_FULL);
	assert_string_equal(fk.parent[2], "");
	assert_int_equal(fk.last[2].pid, 4242);
	assert_non_null(strstr(res.note, "another process than the chain's (pid 4242, was 42)"));
	/* Its own chain goes on. */
	assert_int_equal(checkpointer_run(&c, 4242, &res), 0);
	assert_int_equal(res.kind, CKPT_INCREMENTAL);
	assert_string_equal(res.note, "");
	checkpointer_fini(&c);
}

static void a_failed_final_stores_its_pre_dump_for_the_others(void **state)
{
	struct ckpt_policy final_pol = { .interval_ns = 1000 * MS, .incremental = true };
	struct checkpointer c, stop;
	struct ckpt_result res;
	char dir[96];

	(void)state;
	init(&c, true);
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);	/* 1 pre, 2 dump */
	/* The agent's stop: orthrosctl ckpt dump --final, whose dump fails. */
	snprintf(dir, sizeof(dir), "%s/web-once", work);
	assert_int_equal(checkpointer_init(&stop, &st, "web", dir, &final_pol, &fake_ops, NULL), 0);
	stop.clock = clock_fake;
	fk.fail_at = 4;		/* its pre-dump (call 3) works, its dump does not */
	assert_int_not_equal(checkpointer_final(&stop, 42, &res), 0);
	assert_true(fk.pre[2] && fk.last[2].track_mem);
	assert_non_null(strstr(res.msg, "its pre-dump is stored as partial set 3"));
	/* The tree runs on with its tracking reset: no increment on chain 1-2. */
	fk.fail_at = 0;
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);
	assert_int_equal(res.kind, CKPT_FULL);
	assert_non_null(strstr(res.note, "set 3 was written by another checkpointer since this chain's set 2"));
	checkpointer_fini(&stop);
	checkpointer_fini(&c);
}

static void a_chain_gone_from_the_store_is_not_built_on(void **state)
{
	struct checkpointer c;
	struct ckpt_result res;

	(void)state;
	init(&c, true);
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);	/* 1 pre, 2 dump */
	/* The store formatted anew under the daemon (by hand, --force). */
	memset(region, 0, sizeof(region));
	assert_int_equal(ckpt_format(&st, region, sizeof(region), 5, 0x77), 0);
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);
	assert_int_equal(res.kind, CKPT_FULL);
	assert_string_equal(fk.parent[2], "");
	assert_non_null(strstr(res.note, "this chain's set 2 is no longer in the store"));
	checkpointer_fini(&c);
}

static void a_failed_dump_leaves_no_visible_set(void **state)
{
	struct checkpointer c;
	struct ckpt_result res;
	char path[128];
	struct stat sb;

	(void)state;
	init(&c, true);
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);	/* 1 pre, 2 dump */
	fk.fail_at = 4;		/* the dump after a good pre-dump */
	assert_int_equal(checkpointer_run(&c, 42, &res), -52);
	assert_non_null(strstr(res.msg, "criu dump of pid 42 failed"));
	assert_non_null(strstr(res.msg, "4.log"));
	assert_int_equal(visible_sets(), 2);
	struct ckpt_chain chain;

	assert_int_equal(ckpt_find(&st, "web", &chain), 0);
	assert_int_equal(chain.set[0].seq, 2);
	/* nothing CRIU wrote is left on tmpfs, and the next one starts afresh */
	snprintf(path, sizeof(path), "%s/web/3", work);
	assert_int_equal(stat(path, &sb), -1);
	snprintf(path, sizeof(path), "%s/web/4", work);
	assert_int_equal(stat(path, &sb), -1);
	assert_false(checkpointer_next_incremental(&c));
	fk.fail_at = 0;
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);
	assert_int_equal(res.kind, CKPT_FULL);
	assert_true(checkpointer_next_incremental(&c));
	checkpointer_fini(&c);
}

/*
 * A CRIU that never answers is killed at its deadline: the round ends,
 * nothing is stored, and the next attempts wait twice, then four times the
 * deadline (the group was frozen that long), until one succeeds.
 */
static struct ckpt_watchdog hung_wd;	/* static: a failed check must not leave its thread on a dead stack */

static void a_hung_criu_is_killed_and_the_round_ends(void **state)
{
	struct checkpointer c;
	struct ckpt_result res;
	char killed[64];

	(void)state;
	init(&c, true);
	c.pol.interval_ns = 50 * MS;	/* shorter than the back-off, which then shows */
	assert_int_equal(ckpt_watchdog_start(&hung_wd, 100 * MS), 0);
	c.watchdog = &hung_wd;
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);	/* 1 pre, 2 dump */
	fk.hang_at = 4;		/* the increment's dump, after its pre-dump */
	assert_int_equal(checkpointer_run(&c, 42, &res), -ETIMEDOUT);
	assert_non_null(strstr(res.msg, "criu dump of pid 42 did not end within checkpoint.criu_timeout (0.1 s)"));
	snprintf(killed, sizeof(killed), "killed it (pid %d)", (int)fk.hung);
	assert_non_null(strstr(res.msg, killed));
	assert_true(res.criu_killed);
	assert_int_equal(visible_sets(), 2);
	assert_int_equal(res.retry_ns, 200 * MS);
	assert_false(checkpointer_due(&c, fake_now + 199 * MS));
	assert_true(checkpointer_due(&c, fake_now + 200 * MS));
	fake_now += 200 * MS;
	fk.hang_at = 6;		/* again: 5 is the new chain's pre-dump, 6 its dump */
	assert_int_equal(checkpointer_run(&c, 42, &res), -ETIMEDOUT);
	assert_int_equal(res.retry_ns, 400 * MS);
	fake_now += 400 * MS;
	fk.hang_at = 0;
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);
	assert_false(res.criu_killed);
	assert_int_equal(visible_sets(), 4);
	/* Good again: the policy's interval, and the next kill starts at twice again. */
	assert_true(checkpointer_due(&c, fake_now + 50 * MS));
	fake_now += 50 * MS;
	fk.hang_at = fk.calls + 2;
	assert_int_equal(checkpointer_run(&c, 42, &res), -ETIMEDOUT);
	assert_int_equal(res.retry_ns, 200 * MS);
	checkpointer_fini(&c);
	ckpt_watchdog_stop(&hung_wd);
}

/* A restore whose CRIU never answers is killed at its deadline and fails, without a second try. */
static void a_hung_restore_is_killed_and_fails(void **state)
{
	struct checkpointer c;
	struct ckpt_result res;
	struct ckpt_restore_result rr;
	char dir[96], killed[64];

	(void)state;
	init(&c, false);
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);
	assert_int_equal(ckpt_watchdog_start(&hung_wd, 100 * MS), 0);
	fk.hang_restore = true;
	snprintf(dir, sizeof(dir), "%s/restore", work);
	assert_int_equal(ckpt_restore_group(&st, "web", dir, &fake_ops, NULL, NULL, &hung_wd, &rr), -ETIMEDOUT);
	assert_non_null(strstr(rr.msg, "criu restore from set 1 did not end within 0.1 s"));
	snprintf(killed, sizeof(killed), "killed it (pid %d)", (int)fk.hung);
	assert_non_null(strstr(rr.msg, killed));
	assert_int_equal(fk.restores, 1);
	/* The same deadline lets a restore that ends in time through. */
	fk.hang_restore = false;
	assert_int_equal(ckpt_restore_group(&st, "web", dir, &fake_ops, NULL, NULL, &hung_wd, &rr), 0);
	assert_int_equal(rr.pid, 4242);
	ckpt_watchdog_stop(&hung_wd);
	checkpointer_fini(&c);
}

static void a_failed_first_dump_stores_nothing(void **state)
{
	struct checkpointer c;
	struct ckpt_result res;

	(void)state;
	init(&c, false);
	fk.fail_at = 1;
	assert_true(checkpointer_run(&c, 42, &res) < 0);
	assert_int_equal(visible_sets(), 0);
	struct ckpt_restore_result rr;
	char dir[96];

	snprintf(dir, sizeof(dir), "%s/restore", work);
	assert_int_equal(ckpt_restore_group(&st, "web", dir, &fake_ops, NULL, NULL, NULL, &rr), -ENOENT);
	assert_int_equal(fk.restores, 0);
	checkpointer_fini(&c);
}

static void a_freeze_longer_than_max_freeze_is_reported(void **state)
{
	struct checkpointer c;
	struct ckpt_result res;

	(void)state;
	init(&c, true);
	fk.freezing_us = 2000;
	fk.frozen_us = 48000;
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);
	assert_true(res.freeze_from_stats);
	assert_int_equal(res.freeze_ns, 50 * MS);
	assert_false(res.over_max_freeze);
	assert_int_equal(res.pages_written, 200000);	/* pre-dump and dump */

	fk.frozen_us = 148000;	/* 150 ms > 100 ms */
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);
	assert_int_equal(res.kind, CKPT_INCREMENTAL);
	assert_int_equal(res.freeze_ns, 150 * MS);
	assert_int_equal(res.predump_freeze_ns, 150 * MS);
	assert_true(res.over_max_freeze);
	checkpointer_fini(&c);
}

static void without_stats_the_dump_call_bounds_the_freeze(void **state)
{
	struct checkpointer c;
	struct ckpt_result res;

	(void)state;
	init(&c, false);
	fk.no_stats = true;
	fk.call_ns = 80 * MS;
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);
	assert_false(res.freeze_from_stats);
	assert_int_equal(res.freeze_ns, 80 * MS);
	assert_false(res.over_max_freeze);
	fk.call_ns = 120 * MS;
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);
	assert_true(res.over_max_freeze);
	checkpointer_fini(&c);
}

static void the_stored_set_is_the_images_directory(void **state)
{
	struct checkpointer c;
	struct ckpt_result res;
	struct ckpt_restore_result rr;
	char dir[96], cmp[1400];

	(void)state;
	init(&c, true);
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);
	snprintf(dir, sizeof(dir), "%s/restore", work);
	assert_int_equal(ckpt_restore_group(&st, "web", dir, &fake_ops, NULL, NULL, NULL, &rr), 0);
	assert_int_equal(rr.pid, 4242);
	assert_int_equal(rr.seq, 4);
	assert_int_equal(rr.chain_len, 4);
	assert_int_equal(rr.skipped_predumps, 0);
	assert_string_equal(fk.restored_from, "parent=../3");
	assert_non_null(strstr(fk.restored_files, "core-42.img"));
	/* byte for byte what CRIU wrote, each set in its own directory */
	snprintf(cmp, sizeof(cmp), "diff -r '%s/web/1' '%s/1' && diff -r '%s/web/3' '%s/3' >/dev/null",
		 work, rr.dir, work, rr.dir);
	assert_int_equal(system(cmp), 0);
	checkpointer_fini(&c);
}

static void corrupt_set(uint64_t seq)
{
	struct ckpt_info info[CKPT_MAX_SLOTS];
	int n = ckpt_list(&st, info);

	for (int i = 0; i < n; i++)
		if (info[i].header_valid && info[i].seq == seq)
			region[st.slots_offset + info[i].slot * st.slot_size + 128 + 300] ^= 0xff;
}

/* A set a lazy restore found corrupt while serving it is not picked again. */
static void a_set_noted_refused_is_passed_over(void **state)
{
	struct checkpointer c;
	struct ckpt_result res;
	struct ckpt_restore_result rr;
	char dir[96], note[128];

	(void)state;
	init(&c, true);
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);	/* 1 pre, 2 dump */
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);	/* 3 pre, 4 dump */
	snprintf(dir, sizeof(dir), "%s/restore", work);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(note, sizeof(note), "%s/" CKPT_REFUSED_FILE, dir);
	/* Another store's set 4, and garbage: neither counts here. */
	assert_int_equal(ckpt_note_refused(note, st.format_id + 1, 4), 0);
	{
		FILE *f = fopen(note, "a");

		assert_non_null(f);
		fputs("not a note\n", f);
		fclose(f);
	}
	assert_int_equal(ckpt_restore_group(&st, "web", dir, &fake_ops, NULL, NULL, NULL, &rr), 0);
	assert_int_equal(rr.seq, 4);
	assert_int_equal(rr.refused, 0);
	/* This store's set 3 (the pre-dump under 4): 4 goes with it, 2 is used. */
	assert_int_equal(ckpt_note_refused(note, st.format_id, 3), 0);
	assert_int_equal(ckpt_restore_group(&st, "web", dir, &fake_ops, NULL, NULL, NULL, &rr), 0);
	assert_int_equal(rr.seq, 2);
	assert_int_equal(rr.refused, 1);
	checkpointer_fini(&c);
}

static void restore_passes_over_a_corrupt_set_and_its_pre_dump(void **state)
{
	struct checkpointer c;
	struct ckpt_result res;
	struct ckpt_restore_result rr;
	char dir[96], cmd[256];

	(void)state;
	init(&c, true);
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);	/* 1 pre, 2 dump */
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);	/* 3 pre, 4 dump */
	corrupt_set(4);		/* a stray write in the newest dump's payload */
	snprintf(dir, sizeof(dir), "%s/restore", work);
	assert_int_equal(ckpt_restore_group(&st, "web", dir, &fake_ops, NULL, NULL, NULL, &rr), 0);
	/* 4 refused when its extraction failed; 3 is partial; 2 (on 1) is used */
	assert_int_equal(rr.seq, 2);
	assert_int_equal(rr.chain_len, 2);
	assert_int_equal(rr.refused, 1);
	/* The failed extraction of 4 left no directory behind: one restore.* only. */
	snprintf(cmd, sizeof(cmd), "test $(ls -d '%s'/restore.* | wc -l) -eq 1", dir);
	assert_int_equal(system(cmd), 0);
	for (unsigned int i = 0; i < rr.n; i++)
		if (rr.info[i].header_valid && rr.info[i].seq == 4)
			assert_int_equal(rr.info[i].status, CKPT_BAD_PAYLOAD_CRC);
	assert_string_equal(fk.restored_from, "parent=../1");
	checkpointer_fini(&c);
}

/*
 * A pre-dump stored before sets carried flags is told by its content (no
 * core image) and passed over the same way.
 */
static void an_unflagged_pre_dump_is_passed_over(void **state)
{
	struct checkpointer c;
	struct ckpt_result res;
	struct ckpt_restore_result rr;
	char dir[96], legacy[96];
	uint64_t seq;
	int dfd;

	(void)state;
	init(&c, false);
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);	/* 1, full */
	snprintf(legacy, sizeof(legacy), "%s/legacy", work);
	assert_int_equal(mkdir(legacy, 0700), 0);
	dfd = open(legacy, O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	put(dfd, "pages-1.img", "pages", 5);
	put(dfd, "pagemap-42.img", "map", 3);
	close(dfd);
	assert_int_equal(ckpt_pack_dir(&st, "web", 1, 0, legacy, 1, &seq), 0);
	assert_int_equal(seq, 2);
	snprintf(dir, sizeof(dir), "%s/restore", work);
	assert_int_equal(ckpt_restore_group(&st, "web", dir, &fake_ops, NULL, NULL, NULL, &rr), 0);
	assert_int_equal(rr.seq, 1);
	assert_int_equal(rr.skipped_predumps, 1);
	assert_int_equal(rr.chain_len, 1);
	checkpointer_fini(&c);
}

static void restore_reads_only_the_chain_it_restores(void **state)
{
	struct checkpointer c;
	struct ckpt_result res;
	struct ckpt_restore_result rr;
	struct ckpt_info info[CKPT_MAX_SLOTS];
	char dir[96], probe[600];
	int n;

	(void)state;
	init(&c, false);
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);	/* 1 */
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);	/* 2, full: its own chain */
	/* Set 1 is not in 2's chain: damage there is none of the restore's business. */
	n = ckpt_list(&st, info);
	for (int i = 0; i < n; i++)
		if (info[i].seq == 1)
			region[st.slots_offset + info[i].slot * st.slot_size + 128 + 300] ^= 0xff;
	snprintf(dir, sizeof(dir), "%s/restore", work);
	assert_int_equal(ckpt_restore_group(&st, "web", dir, &fake_ops, NULL, NULL, NULL, &rr), 0);
	assert_int_equal(rr.seq, 2);
	assert_int_equal(rr.chain_len, 1);
	assert_int_equal(rr.refused, 0);
	snprintf(probe, sizeof(probe), "%s/1", rr.dir);
	assert_int_not_equal(access(probe, F_OK), 0);	/* nothing of set 1 extracted */
	checkpointer_fini(&c);
}

static void with_every_set_corrupt_there_is_no_checkpoint(void **state)
{
	struct checkpointer c;
	struct ckpt_result res;
	struct ckpt_restore_result rr;
	char dir[96];

	(void)state;
	init(&c, false);
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);
	for (uint32_t i = 0; i < st.nr_slots; i++)
		region[st.slots_offset + i * st.slot_size + 128 + 10] ^= 0x55;
	snprintf(dir, sizeof(dir), "%s/restore", work);
	assert_int_equal(ckpt_restore_group(&st, "web", dir, &fake_ops, NULL, NULL, NULL, &rr), -ENOENT);
	assert_non_null(strstr(rr.msg, "no restorable checkpoint for group web"));
	assert_int_equal(fk.restores, 0);
	checkpointer_fini(&c);
}

static int f_restore_fails(void *ctx, const struct ckpt_criu_req *r, pid_t *pid)
{
	(void)ctx;
	(void)r;
	(void)pid;
	return -ENOENT;	/* e.g. a file the images name is missing here */
}

static void a_failed_restore_is_not_a_cold_start(void **state)
{
	struct checkpointer c;
	struct ckpt_result res;
	struct ckpt_restore_result rr;
	struct ckpt_criu_ops bad = fake_ops;
	char dir[96];

	(void)state;
	bad.restore = f_restore_fails;
	init(&c, false);
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);
	snprintf(dir, sizeof(dir), "%s/restore", work);
	assert_int_equal(ckpt_restore_group(&st, "web", dir, &bad, NULL, NULL, NULL, &rr), -EIO);
	assert_non_null(strstr(rr.msg, "criu restore from set 1 failed"));
	assert_non_null(strstr(rr.msg, "restore.log"));
	checkpointer_fini(&c);
}

/* ---- the standby: a restore prepared ahead (ckpt-standby.c) ------------- */

/* A view stood in for by an extraction; what the standby asked of it. */
static struct {
	int presents, releases, last_rc;
	char images[600], released[600];
} fv;

static int fv_present(void *ctx, struct ckpt_store *s, const struct ckpt_chain *chain, const char *dir,
		      struct ckpt_criu_req *r)
{
	int rc;

	(void)ctx;
	fv.presents++;
	rc = ckpt_extract_dir(s, chain, dir);
	if (rc)
		return rc;
	snprintf(fv.images, sizeof(fv.images), "%s/%llu", dir, (unsigned long long)chain->set[0].seq);
	r->images_dir = fv.images;
	r->work_dir = NULL;
	r->lazy_pages = 3;	/* what a view counts; the budget weighs it */
	r->eager_pages = 1;
	return 0;
}

static void fv_release(void *ctx, const struct ckpt_criu_req *r, int restore_rc)
{
	(void)ctx;
	fv.releases++;
	fv.last_rc = restore_rc;
	snprintf(fv.released, sizeof(fv.released), "%s", r->images_dir ? r->images_dir : "");
}

static const struct ckpt_criu_ops standby_ops = {
	.pre_dump = f_pre_dump, .dump = f_dump, .restore = f_restore,
	.present = fv_present, .release = fv_release,
};

/* The Active commits a checkpoint, the standby looks: did it prepare anew? */
static bool commit_and_look(struct checkpointer *c, struct ckpt_standby *sb, struct ckpt_result *res)
{
	bool changed;

	assert_int_equal(checkpointer_run(c, 42, res), 0);
	assert_int_equal(ckpt_standby_refresh(sb, &changed), 0);
	return changed;
}

static void standby_init(struct ckpt_standby *sb)
{
	char dir[96];

	memset(&fv, 0, sizeof(fv));
	snprintf(dir, sizeof(dir), "%s/standby", work);
	assert_int_equal(ckpt_standby_init(sb, &st, "web", dir, &standby_ops, NULL), 0);
}

static void a_standby_prepares_again_only_when_the_choice_moves(void **state)
{
	struct checkpointer c;
	struct ckpt_result res;
	struct ckpt_restore_result *rr;
	struct ckpt_standby sb;
	char old[600];
	bool changed, stale, resumed;

	(void)state;
	init(&c, true);
	standby_init(&sb);
	/* Nothing stored yet: nothing prepared, and said so. */
	assert_int_equal(ckpt_standby_refresh(&sb, &changed), -ENOENT);
	assert_false(changed);
	assert_int_equal(fv.presents, 0);
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);	/* 1 pre, 2 dump */
	assert_int_equal(ckpt_standby_refresh(&sb, &changed), 0);
	assert_true(changed);
	assert_true(sb.ready);
	assert_int_equal(sb.res->seq, 2);
	assert_int_equal(fv.presents, 1);
	/* The store unchanged: nothing done again. */
	assert_int_equal(ckpt_standby_refresh(&sb, &changed), 0);
	assert_false(changed);
	assert_int_equal(fv.presents, 1);
	/* Another group's set changes the headers, not the choice. */
	other_group_set("db");
	assert_int_equal(ckpt_standby_refresh(&sb, &changed), 0);
	assert_false(changed);
	assert_int_equal(fv.presents, 1);
	/* A new increment: the old preparation abandoned, the new one made. */
	snprintf(old, sizeof(old), "%s", sb.res->dir);
	changed = commit_and_look(&c, &sb, &res);
	assert_true(changed);
	assert_int_equal(sb.res->seq, res.seq);
	assert_int_equal(fv.presents, 2);
	assert_int_equal(fv.releases, 1);
	assert_int_equal(fv.last_rc, -ECANCELED);
	assert_int_not_equal(access(old, F_OK), 0);
	/* The fire restores what is prepared, nothing prepared again. */
	assert_int_equal(ckpt_standby_fire(&sb, &rr, &stale, &resumed), 0);
	assert_false(stale);
	assert_int_equal(rr->seq, res.seq);
	assert_int_equal(rr->pid, 4242);
	assert_int_equal(fk.restores, 1);
	assert_int_equal(fv.presents, 2);
	assert_int_equal(fv.releases, 2);
	assert_int_equal(fv.last_rc, 0);
	assert_false(sb.ready);
	ckpt_standby_fini(&sb);
	checkpointer_fini(&c);
}

/* Committed after the last look, before the fire: never the older chain. */
static void a_standby_fired_after_a_commit_restores_the_newest(void **state)
{
	struct checkpointer c;
	struct ckpt_result res;
	struct ckpt_restore_result *rr;
	struct ckpt_standby sb;
	bool stale, resumed;

	(void)state;
	init(&c, true);
	standby_init(&sb);
	assert_true(commit_and_look(&c, &sb, &res));
	assert_int_equal(sb.res->seq, 2);
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);
	assert_int_equal(ckpt_standby_fire(&sb, &rr, &stale, &resumed), 0);
	assert_true(stale);
	assert_int_equal(rr->seq, res.seq);
	assert_int_equal(fv.presents, 2);
	assert_int_equal(fv.releases, 2);	/* the stale one abandoned, the fired one released */
	assert_int_equal(fk.restores, 1);
	ckpt_standby_fini(&sb);
	checkpointer_fini(&c);
}

/* A corrupt newest set is refused at preparation: the one below is prepared. */
static void a_standby_passes_over_a_corrupt_set(void **state)
{
	struct checkpointer c;
	struct ckpt_result res;
	struct ckpt_restore_result *rr;
	struct ckpt_standby sb;
	bool changed, stale, resumed;
	uint64_t good;

	(void)state;
	init(&c, false);
	standby_init(&sb);
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);
	good = res.seq;
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);
	corrupt_set(res.seq);
	assert_int_equal(ckpt_standby_refresh(&sb, &changed), 0);
	assert_true(changed);
	assert_int_equal(sb.res->seq, good);
	assert_int_equal(sb.res->refused, 1);
	/* Fired, it restores that one too, without preparing again. */
	assert_int_equal(ckpt_standby_fire(&sb, &rr, &stale, &resumed), 0);
	assert_false(stale);
	assert_int_equal(rr->seq, good);
	assert_int_equal(fv.presents, 2);	/* the corrupt one tried once, then the good one */
	ckpt_standby_fini(&sb);
	checkpointer_fini(&c);
}

/* ---- restored ahead: the tree restored stopped, resumed at the fire ---- */

/* Signals sent to trees, in order; what the next SIGCONT returns. */
static struct {
	int n;
	pid_t pid[8];
	int sig[8];
	int releases_before[8];		/* fv.releases when each was sent */
	int cont_rc;
} ts;
static uint64_t fake_budget;

static int fake_signal_tree(pid_t root, int sig)
{
	if (ts.n < 8) {
		ts.pid[ts.n] = root;
		ts.sig[ts.n] = sig;
		ts.releases_before[ts.n] = fv.releases;
	}
	ts.n++;
	return sig == SIGCONT ? ts.cont_rc : 0;
}

static uint64_t budget_fake(void)
{
	return fake_budget;
}

static void ahead_init(struct ckpt_standby *sb)
{
	standby_init(sb);
	memset(&ts, 0, sizeof(ts));
	fake_budget = UINT64_MAX;
	sb->ahead = true;
	sb->ahead_budget = budget_fake;
	sb->signal_tree = fake_signal_tree;
}

static void a_standby_restores_ahead_and_resumes_at_the_fire(void **state)
{
	struct checkpointer c;
	struct ckpt_result res;
	struct ckpt_restore_result *rr;
	struct ckpt_standby sb;
	bool changed, stale, resumed;

	(void)state;
	init(&c, true);
	ahead_init(&sb);
	changed = commit_and_look(&c, &sb, &res);
	assert_true(changed);
	/* Restored at preparation, left stopped, nothing released yet. */
	assert_int_equal(fk.stopped_restores, 1);
	assert_int_equal(fk.restores, 1);
	assert_int_equal(sb.ahead_pid, 4242);
	assert_int_equal(fv.releases, 0);
	assert_int_equal(ts.n, 0);
	/* Nothing new: not restored again. */
	assert_int_equal(ckpt_standby_refresh(&sb, &changed), 0);
	assert_int_equal(fk.restores, 1);
	/* The fire only resumes it. */
	assert_int_equal(ckpt_standby_fire(&sb, &rr, &stale, &resumed), 0);
	assert_true(resumed);
	assert_false(stale);
	assert_int_equal(fk.restores, 1);
	assert_int_equal(ts.n, 1);
	assert_int_equal(ts.pid[0], 4242);
	assert_int_equal(ts.sig[0], SIGCONT);
	assert_int_equal(rr->pid, 4242);
	assert_int_equal(rr->seq, res.seq);
	/* Released as a restore that worked: the view stays for the pages. */
	assert_int_equal(fv.releases, 1);
	assert_int_equal(fv.last_rc, 0);
	assert_false(sb.ready);
	assert_int_equal(sb.ahead_pid, 0);
	/* Done: the end kills nothing. */
	ckpt_standby_fini(&sb);
	assert_int_equal(ts.n, 1);
	checkpointer_fini(&c);
}

/* A newer set: the stopped tree of the old one killed, then the new one restored ahead. */
static void a_tree_restored_ahead_is_killed_when_the_choice_moves(void **state)
{
	struct checkpointer c;
	struct ckpt_result res;
	struct ckpt_standby sb;
	bool changed;

	(void)state;
	init(&c, true);
	ahead_init(&sb);
	changed = commit_and_look(&c, &sb, &res);
	changed = commit_and_look(&c, &sb, &res);
	assert_true(changed);
	assert_int_equal(ts.n, 1);
	assert_int_equal(ts.sig[0], SIGKILL);
	assert_int_equal(ts.pid[0], 4242);
	/* Killed before its view and daemon went. */
	assert_int_equal(ts.releases_before[0], 0);
	assert_int_equal(fv.releases, 1);
	assert_int_equal(fv.last_rc, -ECANCELED);
	assert_int_equal(fk.stopped_restores, 2);
	assert_int_equal(sb.res->seq, res.seq);
	assert_int_equal(sb.ahead_pid, 4242);
	/* Stopped: killed too. */
	ckpt_standby_fini(&sb);
	assert_int_equal(ts.n, 2);
	assert_int_equal(ts.sig[1], SIGKILL);
	checkpointer_fini(&c);
}

/* Over the budget, or refused by CRIU: prepared only, restored at the fire. */
static void a_standby_restores_at_the_fire_what_it_cannot_restore_ahead(void **state)
{
	struct checkpointer c;
	struct ckpt_result res;
	struct ckpt_restore_result *rr;
	struct ckpt_standby sb;
	bool changed, stale, resumed;

	(void)state;
	init(&c, true);
	ahead_init(&sb);
	fake_budget = 4096;	/* one page: the chain has more */
	changed = commit_and_look(&c, &sb, &res);
	assert_true(sb.ready);
	assert_int_equal(fk.restores, 0);
	assert_non_null(strstr(sb.ahead_msg, "exceed the budget"));
	assert_int_equal(ckpt_standby_fire(&sb, &rr, &stale, &resumed), 0);
	assert_false(resumed);
	assert_int_equal(fk.restores, 1);
	assert_int_equal(fk.stopped_restores, 0);
	assert_int_equal(rr->pid, 4242);
	ckpt_standby_fini(&sb);

	/* CRIU fails to restore it ahead: prepared again, not retried for that set. */
	ahead_init(&sb);
	fk.stopped_rc = -5;
	changed = commit_and_look(&c, &sb, &res);
	assert_true(changed);
	assert_true(sb.ready);
	assert_int_equal(sb.ahead_pid, 0);
	assert_int_equal(fk.stopped_restores, 1);
	assert_int_equal(fv.presents, 2);
	assert_int_equal(fv.last_rc, -ECANCELED);
	assert_non_null(strstr(sb.ahead_msg, "ahead failed"));
	assert_int_equal(sb.ahead_refused_seq, res.seq);
	assert_int_equal(ckpt_standby_fire(&sb, &rr, &stale, &resumed), 0);
	assert_false(resumed);
	assert_int_equal(fk.stopped_restores, 1);
	assert_int_equal(fk.restores, 3);	/* 1 above, the refused one, this */
	assert_int_equal(rr->seq, res.seq);
	assert_int_equal(ts.n, 0);
	ckpt_standby_fini(&sb);
	checkpointer_fini(&c);
}

static bool runs_here(const char *group)
{
	return !strcmp(group, "web");
}

/* The group runs in this partition already: no stopped copy beside it. */
static void a_group_running_here_is_not_restored_ahead(void **state)
{
	struct checkpointer c;
	struct ckpt_result res;
	struct ckpt_standby sb;

	(void)state;
	init(&c, true);
	ahead_init(&sb);
	sb.group_here = runs_here;
	assert_true(commit_and_look(&c, &sb, &res));
	assert_true(sb.ready);
	assert_int_equal(fk.restores, 0);
	assert_int_equal(sb.ahead_pid, 0);
	assert_non_null(strstr(sb.ahead_msg, "already runs in this partition"));
	ckpt_standby_fini(&sb);
	checkpointer_fini(&c);
}

/* Gone while it waited: restored at the fire, from the same set. */
static void a_tree_restored_ahead_and_gone_is_restored_at_the_fire(void **state)
{
	struct checkpointer c;
	struct ckpt_result res;
	struct ckpt_restore_result *rr;
	struct ckpt_standby sb;
	bool stale, resumed;

	(void)state;
	init(&c, true);
	ahead_init(&sb);
	ts.cont_rc = -ESRCH;
	assert_true(commit_and_look(&c, &sb, &res));
	assert_int_equal(sb.ahead_pid, 4242);
	assert_int_equal(ckpt_standby_fire(&sb, &rr, &stale, &resumed), 0);
	assert_false(resumed);
	assert_true(stale);
	assert_int_equal(ts.n, 1);
	assert_int_equal(ts.sig[0], SIGCONT);
	assert_int_equal(fk.stopped_restores, 1);
	assert_int_equal(fk.restores, 2);
	assert_int_equal(rr->seq, res.seq);
	assert_non_null(strstr(sb.ahead_msg, "was gone at the request"));
	ckpt_standby_fini(&sb);
	checkpointer_fini(&c);
}

/* Abandoned at the end: its view released, its directory gone. */
static void a_standby_stopped_abandons_its_preparation(void **state)
{
	struct checkpointer c;
	struct ckpt_result res;
	struct ckpt_standby sb;
	char dir[600];

	(void)state;
	init(&c, false);
	standby_init(&sb);
	assert_true(commit_and_look(&c, &sb, &res));
	snprintf(dir, sizeof(dir), "%s", sb.res->dir);
	assert_int_equal(access(dir, F_OK), 0);
	ckpt_standby_fini(&sb);
	assert_int_equal(fv.releases, 1);
	assert_int_equal(fv.last_rc, -ECANCELED);
	assert_int_not_equal(access(dir, F_OK), 0);
	assert_int_equal(fk.restores, 0);
	checkpointer_fini(&c);
}

static void stats_images_are_parsed_and_bounded(void **state)
{
	uint8_t img[128];
	struct ckpt_dump_stats ds;
	size_t len = stats_image(img, 300, 70000, 16384);

	(void)state;
	assert_int_equal(ckpt_parse_dump_stats(img, len, &ds), 0);
	assert_int_equal(ds.freezing_us, 300);
	assert_int_equal(ds.frozen_us, 70000);
	assert_int_equal(ds.pages_written, 16384);
	for (size_t cut = 0; cut < len; cut++)
		assert_int_equal(ckpt_parse_dump_stats(img, cut, &ds), -EBADMSG);
	img[4] ^= 1;	/* not the stats magic */
	assert_int_equal(ckpt_parse_dump_stats(img, len, &ds), -EBADMSG);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* A group with data paths: each dump takes its files while frozen. */
static void init_with_data(struct checkpointer *c, char *data, size_t len)
{
	init(c, false);
	snprintf(data, len, "%s/data", work);
	assert_int_equal(mkdir(data, 0755), 0);
	assert_int_equal(ckpt_data_add_path(&c->data, data), 0);
}

static void the_data_paths_go_with_the_memory(void **state)
{
	struct checkpointer c;
	struct ckpt_result res;
	struct ckpt_restore_result rr;
	char data[96], dir[96];

	(void)state;
	init_with_data(&c, data, sizeof(data));
	snprintf(fk.watch, sizeof(fk.watch), "%s/log", data);
	write_file(fk.watch, "record 1\n");
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);
	assert_int_equal(fk.frozen_calls, 1);
	assert_int_equal(res.data.files, 1);
	assert_int_equal(res.data.bytes, 9);
	/* written after the checkpoint: lost with the memory that wrote it */
	write_file(fk.watch, "record 1\nrecord 2\n");
	snprintf(dir, sizeof(dir), "%s/restore", work);
	assert_int_equal(ckpt_restore_group(&st, "web", dir, &fake_ops, NULL, &c.data, NULL, &rr), 0);
	assert_string_equal(fk.watched, "record 1\n");
	assert_int_equal(rr.data.files, 1);
	assert_int_equal(rr.data.dirs, 1);
	/* without the data paths a restore leaves the files alone */
	write_file(fk.watch, "record 3\n");
	assert_int_equal(ckpt_restore_group(&st, "web", dir, &fake_ops, NULL, NULL, NULL, &rr), 0);
	assert_string_equal(fk.watched, "record 3\n");
	checkpointer_fini(&c);
}

/*
 * The files are copied ahead while the group runs: what it writes between
 * that copy and the freeze is in the set all the same, and the copies
 * made ahead are not.
 */
static void a_write_after_the_copy_ahead_is_in_the_set(void **state)
{
	struct checkpointer c;
	struct ckpt_result res;
	struct ckpt_restore_result rr;
	struct ckpt_info info[CKPT_MAX_SLOTS];
	char data[96], dir[96], other[128];
	int n;

	(void)state;
	init_with_data(&c, data, sizeof(data));
	snprintf(fk.watch, sizeof(fk.watch), "%s/log", data);
	snprintf(other, sizeof(other), "%s/settings", data);
	write_file(fk.watch, "record 1\n");
	write_file(other, "port 7000\n");
	/* the same size, most likely in the same clock tick as the copy ahead */
	snprintf(fk.before_freeze, sizeof(fk.before_freeze), "record 2\n");
	assert_int_equal(checkpointer_run(&c, 42, &res), 0);
	assert_int_equal(res.data.files, 2);
	assert_int_equal(res.data.bytes, 9 + 10);
	/* both written in the second before the copy: read again under the freeze */
	assert_int_equal(res.data.ahead, 0);
	assert_int_equal(visible_sets(), 1);
	n = ckpt_list(&st, info);
	for (int i = 0; i < n; i++) {
		if (info[i].status != CKPT_OK)
			continue;
		assert_true(ckpt_set_has_file(&st, &info[i], "orthros-data.1") > 0);
		assert_int_equal(ckpt_set_has_file(&st, &info[i], "orthros-data.ahead."), 0);
	}

	fk.before_freeze[0] = '\0';
	write_file(fk.watch, "record 3\n");
	snprintf(dir, sizeof(dir), "%s/restore", work);
	assert_int_equal(ckpt_restore_group(&st, "web", dir, &fake_ops, NULL, &c.data, NULL, &rr), 0);
	assert_string_equal(fk.watched, "record 2\n");
	assert_int_equal(rr.data.files, 2);
	checkpointer_fini(&c);
}

static void a_dump_without_its_post_dump_is_void(void **state)
{
	struct checkpointer c;
	struct ckpt_result res;
	char data[96], path[128];

	(void)state;
	init_with_data(&c, data, sizeof(data));
	snprintf(path, sizeof(path), "%s/log", data);
	write_file(path, "x");
	fk.no_notify = true;
	assert_int_equal(checkpointer_run(&c, 42, &res), -EPROTO);
	assert_non_null(strstr(res.msg, "post-dump"));
	assert_int_equal(visible_sets(), 0);
	checkpointer_fini(&c);
}

static void a_failed_copy_voids_the_dump(void **state)
{
	struct checkpointer c;
	struct ckpt_result res;
	char data[96], path[128];

	(void)state;
	init_with_data(&c, data, sizeof(data));
	/* a name the manifest cannot carry */
	snprintf(path, sizeof(path), "%s/two\nlines", data);
	write_file(path, "x");
	assert_int_equal(checkpointer_run(&c, 42, &res), -EINVAL);
	assert_non_null(strstr(res.msg, "data paths"));
	assert_non_null(strstr(res.msg, "the tree ran on"));
	assert_int_equal(fk.frozen_calls, 1);
	assert_int_equal(visible_sets(), 0);
	checkpointer_fini(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(the_first_checkpoint_is_full_and_due_at_once),
		T(a_write_after_the_copy_ahead_is_in_the_set),
		T(checkpoints_are_due_one_interval_after_the_last_began),
		T(incremental_is_a_pre_dump_then_a_dump_on_it),
		T(a_new_chain_takes_slots_beside_the_previous_one),
		T(a_quiet_group_gets_one_dump_per_increment),
		T(max_freeze_makes_an_increment_pre_dump),
		T(the_final_checkpoint_stops_the_tree),
		T(a_final_checkpoint_without_room_is_plain_or_not_taken),
		T(a_checkpoint_holds_the_store_lock_throughout),
		T(without_incremental_every_checkpoint_is_full),
		T(a_set_from_another_checkpointer_starts_a_new_chain),
		T(a_chain_gone_from_the_store_is_not_built_on),
		T(another_leader_starts_a_new_chain),
		T(a_failed_final_stores_its_pre_dump_for_the_others),
		T(a_failed_dump_leaves_no_visible_set),
		T(a_failed_first_dump_stores_nothing),
		T(a_hung_criu_is_killed_and_the_round_ends),
		T(a_hung_restore_is_killed_and_fails),
		T(a_freeze_longer_than_max_freeze_is_reported),
		T(without_stats_the_dump_call_bounds_the_freeze),
		T(the_stored_set_is_the_images_directory),
		T(restore_passes_over_a_corrupt_set_and_its_pre_dump),
		T(a_set_noted_refused_is_passed_over),
		T(an_unflagged_pre_dump_is_passed_over),
		T(restore_reads_only_the_chain_it_restores),
		T(with_every_set_corrupt_there_is_no_checkpoint),
		T(a_failed_restore_is_not_a_cold_start),
		T(stats_images_are_parsed_and_bounded),
		T(a_standby_prepares_again_only_when_the_choice_moves),
		T(a_standby_fired_after_a_commit_restores_the_newest),
		T(a_standby_passes_over_a_corrupt_set),
		T(a_standby_stopped_abandons_its_preparation),
		T(a_standby_restores_ahead_and_resumes_at_the_fire),
		T(a_tree_restored_ahead_is_killed_when_the_choice_moves),
		T(a_standby_restores_at_the_fire_what_it_cannot_restore_ahead),
		T(a_tree_restored_ahead_and_gone_is_restored_at_the_fire),
		T(a_group_running_here_is_not_restored_ahead),
		T(the_data_paths_go_with_the_memory),
		T(a_dump_without_its_post_dump_is_void),
		T(a_failed_copy_voids_the_dump),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
