// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Replays every saved fuzzing input, bad-config case and example through
 * the fuzz target.  Under ASan/UBSan any memory error or undefined
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

static void fuzz_corpus_replays_cleanly(void **state)
{
	(void)state;
	/* A corpus that went missing would make this test vacuous. */
	assert_true(replay_dir(SRCDIR "/tests/fuzz/corpus-conf") >= 20);
}

static void bad_configs_replay_cleanly(void **state)
{
	(void)state;
	assert_true(replay_dir(SRCDIR "/tests/conf/bad") >= 10);
}

static void examples_replay_cleanly(void **state)
{
	(void)state;
	assert_true(replay_dir(SRCDIR "/config/examples") >= 1);
	assert_true(replay_dir(SRCDIR "/config") >= 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fuzz_corpus_replays_cleanly),
		cmocka_unit_test(bad_configs_replay_cleanly),
		cmocka_unit_test(examples_replay_cleanly),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
