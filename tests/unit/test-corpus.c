// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Replays every saved fuzzing input (and, for the configuration, every
 * bad-config case and example) through a fuzz target.  Under ASan/UBSan any memory error or undefined
 * behaviour the fuzzer once found aborts this test.
 */
#include "config.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t replay_dir(const char *dir)
{
	char path[4096];
	DIR *dh = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	assert_non_null(dh);
	while ((de = readdir(dh))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		FILE *f = fopen(path, "rb");

		if (!f)
			continue;	/* a sub-directory */
		static uint8_t buf[1 << 20];
		size_t len = fread(buf, 1, sizeof(buf), f);

		fclose(f);
		/* Exact-size heap copy so ASan sees any read past the end. */
		uint8_t *copy = malloc(len ? len : 1);

		assert_non_null(copy);
		memcpy(copy, buf, len);
		LLVMFuzzerTestOneInput(copy, len);
		free(copy);
		n++;
	}
	closedir(dh);
	return n;
}

/* Each corpus set names its directories and how many inputs it must hold:
 * a corpus that went missing would make the replay vacuous. */
struct corpus_dir {
	const char *path;
	size_t min_files;
};

#if CORPUS_SET == 1	/* the configuration parser */
static const struct corpus_dir dirs[] = {
	{ SRCDIR "/tests/fuzz/corpus-conf", 20 },
	{ SRCDIR "/tests/conf/bad", 10 },
	{ SRCDIR "/config/examples", 1 },
	{ SRCDIR "/config", 1 },
};
#elif CORPUS_SET == 2	/* the shared-region parser and watcher */
static const struct corpus_dir dirs[] = {
	{ SRCDIR "/tests/fuzz/corpus-shm", 5 },
};
#elif CORPUS_SET == 3	/* the checkpoint store's reader */
static const struct corpus_dir dirs[] = {
	{ SRCDIR "/tests/fuzz/corpus-ckpt", 5 },
};
#elif CORPUS_SET == 4	/* the manifest of a group's data paths */
static const struct corpus_dir dirs[] = {
	{ SRCDIR "/tests/fuzz/corpus-data", 5 },
};
#else
#error "CORPUS_SET must be 1 to 4"
#endif

static void corpus_replays_cleanly(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		assert_true(replay_dir(dirs[i].path) >= dirs[i].min_files);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(corpus_replays_cleanly),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
