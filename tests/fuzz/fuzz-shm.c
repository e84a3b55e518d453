// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for everything that reads the shared region: the header
 * check, record decoding and the watcher, which a crashed peer's garbage
 * reaches.  The input is the region; its tail also drives the clock.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "orthros_watch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void sink(void *ctx, const struct orthros_event *ev)
{
	unsigned *n = ctx;

	*n += ev->type;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct orthros_watch w;
	unsigned n = 0;
	u32 nr;
	/* Exact-size copy: any read past the region is caught by ASan. */
	uint8_t *shm = malloc(size ? size : 1);

	if (!shm)
		abort();
	memcpy(shm, data, size);
	if (orthros_shm_check(shm, size, &nr) == 0) {
		for (u32 id = 0; id < nr; id++) {
			struct orthros_peer_record raw;
			struct orthros_rec r;
			bool never;
			void *rec = orthros_shm_record(shm, size, id);

			orthros_rec_read(rec, id, &r, &never);
			memcpy(&raw, rec, sizeof(raw));
			orthros_rec_decode(&raw, id, &r);
		}
	}
	orthros_watch_init(&w, size ? data[0] % ORTHROS_MAX_PEERS : 0, ~0ull,
			   50000000ull);
	orthros_watch_scan(&w, shm, size, 1000000000ull, sink, &n);
	orthros_watch_scan(&w, shm, size, 1000000000ull + (size ? data[size - 1] : 0) * 1000000ull,
			   sink, &n);
	/* Rewrite the first record as its owner would and read it back. */
	if (orthros_shm_check(shm, size, &nr) == 0) {
		struct orthros_rec r;
		bool never;

		memset(&r, 0, sizeof(r));
		orthros_rec_write(orthros_shm_record(shm, size, 0), &r);
		if (orthros_rec_read(orthros_shm_record(shm, size, 0), 0, &r, &never))
			abort();	/* what we just wrote must read back */
	}
	free(shm);
	return 0;
}
