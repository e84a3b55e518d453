// SPDX-License-Identifier: GPL-2.0-or-later
/* The shared-region format: what is accepted and what is refused, and why. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "orthros_proto.h"

#define SHM_SIZE 8192

static unsigned char shm[SHM_SIZE] __attribute__((aligned(64)));

static struct orthros_rec sample(u32 id)
{
	struct orthros_rec r;

	memset(&r, 0, sizeof(r));
	r.peer_id = id;
	r.generation = 7;
	r.role = ORTHROS_ROLE_ACTIVE;
	r.state = ORTHROS_STATE_RUNNING;
	memset(r.boot_id, 0xab, sizeof(r.boot_id));
	r.heartbeat = 42;
	r.heartbeat_ns = 123456789;
	r.interval_us = 10000;
	r.timeout_us = 50000;
	r.doorbell = 0x1234;
	strcpy(r.reason, "ok");
	return r;
}

static int setup(void **state)
{
	(void)state;
	memset(shm, 0, sizeof(shm));
	return orthros_shm_format(shm, sizeof(shm));
}

static struct orthros_peer_record *rec(u32 id)
{
	return orthros_shm_record(shm, sizeof(shm), id);
}

/* Rewrite a raw field and fix the checksum, as a buggy-but-honest peer would. */
static void reseal(struct orthros_peer_record *r)
{
	struct orthros_peer_record tmp = *r;

	tmp.seq = 0;
	tmp.checksum = 0;
	r->checksum = htole32(orthros_crc32(&tmp, sizeof(tmp)));
}

static void crc_matches_the_kernel_crc32(void **state)
{
	(void)state;
	/* The check value of CRC-32/ISO-HDLC, what crc32_le(~0)^~0 yields. */
	assert_int_equal(orthros_crc32("123456789", 9), 0xCBF43926u);
}

static void formatted_region_is_valid(void **state)
{
	u32 nr = 0;

	(void)state;
	assert_int_equal(orthros_shm_check(shm, sizeof(shm), &nr), 0);
	assert_int_equal(nr, ORTHROS_MAX_PEERS);
	assert_non_null(rec(ORTHROS_MAX_PEERS - 1));
	assert_null(rec(ORTHROS_MAX_PEERS));
}

static void region_too_small_is_refused(void **state)
{
	u32 nr;

	(void)state;
	assert_int_equal(orthros_shm_format(shm, 100), -EINVAL);
	assert_int_equal(orthros_shm_check(shm, 100, &nr), -ORTHROS_INVALID_HEADER);
	assert_int_equal(orthros_shm_check(shm, 8, &nr), -ORTHROS_INVALID_HEADER);
}

static void header_corruption_is_refused(void **state)
{
	struct orthros_shm_header *h = (void *)shm;
	u32 nr;

	(void)state;
	h->nr_records = htole32(17);	/* checksum now wrong too */
	assert_int_equal(orthros_shm_check(shm, sizeof(shm), &nr), -ORTHROS_INVALID_HEADER);
	assert_null(rec(0));
}

static void header_claiming_more_than_the_region_is_refused(void **state)
{
	u32 nr;

	(void)state;
	/* Formatted for 8 KiB, mapped as 4 KiB: records would run off the end. */
	assert_int_equal(orthros_shm_check(shm, 4096, &nr), -ORTHROS_INVALID_HEADER);
}

static void record_round_trips(void **state)
{
	struct orthros_rec in = sample(3), out;
	bool never;

	(void)state;
	orthros_rec_write(rec(3), &in);
	assert_int_equal(orthros_rec_read(rec(3), 3, &out, &never), ORTHROS_INVALID_NONE);
	assert_false(never);
	/* Field by field: struct padding is not part of the value. */
	assert_int_equal(out.peer_id, in.peer_id);
	assert_int_equal(out.generation, in.generation);
	assert_int_equal(out.role, in.role);
	assert_int_equal(out.state, in.state);
	assert_memory_equal(out.boot_id, in.boot_id, sizeof(in.boot_id));
	assert_int_equal(out.heartbeat, in.heartbeat);
	assert_int_equal(out.heartbeat_ns, in.heartbeat_ns);
	assert_int_equal(out.state_ns, in.state_ns);
	assert_int_equal(out.interval_us, in.interval_us);
	assert_int_equal(out.timeout_us, in.timeout_us);
	assert_int_equal(out.doorbell, in.doorbell);
	assert_string_equal(out.reason, in.reason);
	assert_int_equal(le32toh(rec(3)->seq) % 2, 0);
}

static void never_written_record_is_flagged(void **state)
{
	struct orthros_rec out;
	bool never;

	(void)state;
	assert_int_equal(orthros_rec_read(rec(5), 5, &out, &never), ORTHROS_INVALID_MAGIC);
	assert_true(never);
}

static void flipped_bit_fails_the_checksum(void **state)
{
	struct orthros_rec in = sample(1), out;
	bool never;

	(void)state;
	orthros_rec_write(rec(1), &in);
	rec(1)->heartbeat ^= htole64(1ull << 40);
	assert_int_equal(orthros_rec_read(rec(1), 1, &out, &never), ORTHROS_INVALID_CHECKSUM);
	assert_false(never);
}

static void record_in_the_wrong_slot_is_refused(void **state)
{
	struct orthros_rec in = sample(2), out;
	bool never;

	(void)state;
	orthros_rec_write(rec(1), &in);	/* peer 2's record written into slot 1 */
	assert_int_equal(orthros_rec_read(rec(1), 1, &out, &never), ORTHROS_INVALID_PEER_ID);
}

static void sealed_but_meaningless_values_are_refused(void **state)
{
	struct orthros_rec in = sample(1), out;
	bool never;

	(void)state;
	orthros_rec_write(rec(1), &in);
	rec(1)->state = htole32(99);
	reseal(rec(1));
	assert_int_equal(orthros_rec_read(rec(1), 1, &out, &never), ORTHROS_INVALID_STATE);

	orthros_rec_write(rec(1), &in);
	rec(1)->role = htole32(ORTHROS_ROLE_MAX + 1);
	reseal(rec(1));
	assert_int_equal(orthros_rec_read(rec(1), 1, &out, &never), ORTHROS_INVALID_ROLE);

	orthros_rec_write(rec(1), &in);
	memset(rec(1)->reason, 'x', sizeof(rec(1)->reason));
	reseal(rec(1));
	assert_int_equal(orthros_rec_read(rec(1), 1, &out, &never), ORTHROS_INVALID_REASON);
}

static void record_stuck_mid_write_is_torn(void **state)
{
	struct orthros_rec in = sample(4), out;
	bool never;

	(void)state;
	orthros_rec_write(rec(4), &in);
	rec(4)->seq = htole32(le32toh(rec(4)->seq) + 1);	/* odd: writer died mid-way */
	assert_int_equal(orthros_rec_read(rec(4), 4, &out, &never), ORTHROS_INVALID_TORN);
}

static void rewrite_after_torn_write_recovers(void **state)
{
	struct orthros_rec in = sample(4), out;
	bool never;

	(void)state;
	rec(4)->seq = htole32(7);	/* odd, as the panic notifier may find it */
	orthros_rec_write(rec(4), &in);
	assert_int_equal(orthros_rec_read(rec(4), 4, &out, &never), ORTHROS_INVALID_NONE);
}

static void names_cover_every_value(void **state)
{
	(void)state;
	for (u32 t = ORTHROS_EV_PEER_UP; t <= ORTHROS_EV_OVERFLOW; t++)
		assert_string_not_equal(orthros_event_name(t), "?");
	for (u32 w = 0; w <= ORTHROS_INVALID_HEADER; w++)
		assert_string_not_equal(orthros_invalid_name(w), "?");
	assert_string_equal(orthros_event_name(0), "?");
	assert_string_equal(orthros_state_name(ORTHROS_STATE_PANIC), "panic");
	assert_string_equal(orthros_role_name(ORTHROS_ROLE_BACKUP), "backup");
}

/* The layout is an ABI between kernels of different builds: it must not drift. */
static void layout_is_stable(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct orthros_shm_header), 72);
	assert_int_equal(sizeof(struct orthros_peer_record), 152);
	assert_int_equal(offsetof(struct orthros_peer_record, heartbeat), 40);
	assert_int_equal(offsetof(struct orthros_peer_record, checksum), 148);
	assert_int_equal(sizeof(struct orthros_event), 48);
}

/* The fuzzing seeds are built by a separate script; they must decode here. */
static void independent_encoder_agrees(void **state)
{
	static unsigned char buf[4096];
	FILE *f = fopen(SRCDIR "/tests/fuzz/corpus-shm/two-running.bin", "rb");
	struct orthros_rec r;
	bool never;
	u32 nr;

	(void)state;
	assert_non_null(f);
	assert_int_equal(fread(buf, 1, sizeof(buf), f), sizeof(buf));
	fclose(f);
	assert_int_equal(orthros_shm_check(buf, sizeof(buf), &nr), 0);
	assert_int_equal(orthros_rec_read(orthros_shm_record(buf, sizeof(buf), 1), 1, &r, &never),
			 ORTHROS_INVALID_NONE);
	assert_int_equal(r.generation, 2);
	assert_int_equal(r.role, ORTHROS_ROLE_BACKUP);
	assert_int_equal(r.heartbeat, 9);
}

#define T(fn) cmocka_unit_test_setup(fn, setup)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(crc_matches_the_kernel_crc32),
		T(formatted_region_is_valid),
		T(region_too_small_is_refused),
		T(header_corruption_is_refused),
		T(header_claiming_more_than_the_region_is_refused),
		T(record_round_trips),
		T(never_written_record_is_flagged),
		T(flipped_bit_fails_the_checksum),
		T(record_in_the_wrong_slot_is_refused),
		T(sealed_but_meaningless_values_are_refused),
		T(record_stuck_mid_write_is_torn),
		T(rewrite_after_torn_write_recovers),
		T(names_cover_every_value),
		T(layout_is_stable),
		T(independent_encoder_agrees),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
