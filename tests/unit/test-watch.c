// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The watcher state machine, driven with a simulated peer and a simulated
 * clock: every event the kernel would raise, and every one it must not.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "orthros_watch.h"

#define MS 1000000ull
#define SHM_SIZE 8192

struct sim {
	unsigned char shm[SHM_SIZE] __attribute__((aligned(64)));
	struct orthros_watch w;
	struct orthros_rec peer;	/* what peer 1 publishes */
	u64 now;
	unsigned nev;
	struct orthros_event ev[64];
};

static void collect(void *ctx, const struct orthros_event *ev)
{
	struct sim *s = ctx;

	assert_true(s->nev < 64);
	s->ev[s->nev++] = *ev;
}

static int setup(void **state)
{
	struct sim *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	assert_int_equal(orthros_shm_format(s->shm, SHM_SIZE), 0);
	/* We are peer 0; we watch peers 1 and 2. */
	orthros_watch_init(&s->w, 0, 0x7, 50 * MS);
	s->peer.peer_id = 1;
	s->peer.generation = 1;
	s->peer.role = ORTHROS_ROLE_ACTIVE;
	s->peer.state = ORTHROS_STATE_RUNNING;
	memset(s->peer.boot_id, 1, sizeof(s->peer.boot_id));
	s->now = 1000 * MS;
	*state = s;
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

static void publish(struct sim *s)
{
	orthros_rec_write(orthros_shm_record(s->shm, SHM_SIZE, s->peer.peer_id), &s->peer);
}

static void beat(struct sim *s)
{
	s->peer.heartbeat++;
	s->peer.heartbeat_ns += 10 * MS;
	publish(s);
}

/* Advance the clock by @ms and scan; returns the number of new events. */
static unsigned step(struct sim *s, u64 ms)
{
	unsigned before = s->nev;

	s->now += ms * MS;
	orthros_watch_scan(&s->w, s->shm, SHM_SIZE, s->now, collect, s);
	return s->nev - before;
}

static struct orthros_event *last(struct sim *s)
{
	assert_true(s->nev > 0);
	return &s->ev[s->nev - 1];
}

/* Bring peer 1 up: a record, then a counter that moves. */
static void up(struct sim *s)
{
	beat(s);
	assert_int_equal(step(s, 10), 0);
	beat(s);
	assert_int_equal(step(s, 10), 1);
	assert_int_equal(last(s)->type, ORTHROS_EV_PEER_UP);
}

static void empty_slots_are_silent(void **state)
{
	struct sim *s = *state;

	assert_int_equal(step(s, 10), 0);
	assert_int_equal(step(s, 1000), 0);
}

static void new_peer_is_reported_up(void **state)
{
	struct sim *s = *state;

	beat(s);
	assert_int_equal(step(s, 10), 0);	/* a record alone is not life */
	beat(s);
	assert_int_equal(step(s, 10), 1);
	assert_int_equal(last(s)->type, ORTHROS_EV_PEER_UP);
	assert_int_equal(last(s)->peer, 1);
	assert_int_equal(last(s)->generation, 1);
}

static void steady_beats_raise_nothing(void **state)
{
	struct sim *s = *state;

	up(s);
	for (int i = 0; i < 1000; i++) {
		beat(s);
		assert_int_equal(step(s, 10), 0);
	}
}

static void silence_past_timeout_is_lost_once_then_back(void **state)
{
	struct sim *s = *state;

	up(s);
	assert_int_equal(step(s, 50), 0);	/* exactly the timeout: not yet */
	assert_int_equal(step(s, 1), 1);
	assert_int_equal(last(s)->type, ORTHROS_EV_HEARTBEAT_LOST);
	assert_int_equal(step(s, 500), 0);	/* reported once, not every scan */
	beat(s);
	assert_int_equal(step(s, 1), 1);
	assert_int_equal(last(s)->type, ORTHROS_EV_HEARTBEAT_BACK);
	assert_int_equal(last(s)->heartbeat, 3);
}

static void panic_is_reported_once_and_ends_watching(void **state)
{
	struct sim *s = *state;

	up(s);
	s->peer.state = ORTHROS_STATE_PANIC;
	strcpy(s->peer.reason, "sysrq triggered crash");
	publish(s);
	assert_int_equal(step(s, 0), 1);
	assert_int_equal(last(s)->type, ORTHROS_EV_PANIC);
	assert_int_equal(last(s)->generation, 1);
	/* A dead kernel does not also "lose its heartbeat". */
	assert_int_equal(step(s, 1000), 0);
}

static void planned_stop_is_reported(void **state)
{
	struct sim *s = *state;

	up(s);
	s->peer.state = ORTHROS_STATE_STOPPING;
	publish(s);
	assert_int_equal(step(s, 1), 1);
	assert_int_equal(last(s)->type, ORTHROS_EV_STOPPING);
}

static void garbage_is_refused_and_is_not_a_heartbeat(void **state)
{
	struct sim *s = *state;
	struct orthros_peer_record *r = orthros_shm_record(s->shm, SHM_SIZE, 1);

	up(s);
	/* Someone scribbles: the counter jumps, the checksum no longer fits. */
	r->heartbeat = htole64(1000000);
	assert_int_equal(step(s, 10), 1);
	assert_int_equal(last(s)->type, ORTHROS_EV_RECORD_INVALID);
	assert_int_equal(last(s)->detail, ORTHROS_INVALID_CHECKSUM);
	/* Still garbage and still "changing": reported once, then the timeout. */
	for (int i = 0; i < 3; i++) {
		r->heartbeat = htole64(1000001 + i);
		assert_int_equal(step(s, 10), 0);
	}
	assert_int_equal(step(s, 20), 1);
	assert_int_equal(last(s)->type, ORTHROS_EV_HEARTBEAT_LOST);
	/* The owner rewrites a good record: it is believed again. */
	beat(s);
	assert_int_equal(step(s, 1), 1);
	assert_int_equal(last(s)->type, ORTHROS_EV_HEARTBEAT_BACK);
}

static void sealed_panic_with_bad_state_is_not_a_panic(void **state)
{
	struct sim *s = *state;
	struct orthros_peer_record *r = orthros_shm_record(s->shm, SHM_SIZE, 1);
	struct orthros_peer_record tmp;

	up(s);
	r->state = htole32(77);
	tmp = *r;
	tmp.seq = 0;
	tmp.checksum = 0;
	r->checksum = htole32(orthros_crc32(&tmp, sizeof(tmp)));
	assert_int_equal(step(s, 1), 1);
	assert_int_equal(last(s)->type, ORTHROS_EV_RECORD_INVALID);
	assert_int_equal(last(s)->detail, ORTHROS_INVALID_STATE);
	for (unsigned i = 0; i < s->nev; i++)
		assert_int_not_equal(s->ev[i].type, ORTHROS_EV_PANIC);
}

static void counter_going_backwards_is_refused(void **state)
{
	struct sim *s = *state;

	s->peer.heartbeat = 100;
	publish(s);
	step(s, 10);
	s->peer.heartbeat = 50;
	publish(s);
	assert_int_equal(step(s, 1), 1);
	assert_int_equal(last(s)->type, ORTHROS_EV_RECORD_INVALID);
	assert_int_equal(last(s)->detail, ORTHROS_INVALID_COUNTER);
}

static void reboot_with_new_boot_id_is_a_new_peer(void **state)
{
	struct sim *s = *state;

	s->peer.heartbeat = 100;
	publish(s);
	step(s, 10);
	/* The slot's next kernel starts counting from zero under a new boot id. */
	memset(s->peer.boot_id, 2, sizeof(s->peer.boot_id));
	s->peer.generation = 3;
	s->peer.heartbeat = 1;
	publish(s);
	assert_int_equal(step(s, 1), 0);
	beat(s);
	assert_int_equal(step(s, 1), 1);
	assert_int_equal(last(s)->type, ORTHROS_EV_PEER_UP);
	assert_int_equal(last(s)->generation, 3);
}

static void stale_record_of_a_killed_peer_is_neither_up_nor_lost(void **state)
{
	struct sim *s = *state;

	/* The last record of a partition killed without a notice. */
	s->peer.heartbeat = 4242;
	publish(s);
	assert_int_equal(step(s, 10), 0);
	assert_int_equal(step(s, 1000), 0);
	/* Its slot's next kernel announces a panic before its second beat. */
	memset(s->peer.boot_id, 3, sizeof(s->peer.boot_id));
	s->peer.heartbeat = 1;
	s->peer.state = ORTHROS_STATE_PANIC;
	s->peer.state_ns = 77 * MS;
	publish(s);
	assert_int_equal(step(s, 1), 1);
	assert_int_equal(last(s)->type, ORTHROS_EV_PANIC);
	assert_int_equal(last(s)->peer_ts_ns, 77 * MS);
}

static void own_and_unwatched_records_are_ignored(void **state)
{
	struct sim *s = *state;

	s->peer.peer_id = 0;	/* ourselves */
	publish(s);
	s->peer.peer_id = 5;	/* not in the watch mask */
	publish(s);
	assert_int_equal(step(s, 10), 0);
	assert_int_equal(step(s, 1000), 0);
}

static void scribbled_header_is_reported_and_times_out(void **state)
{
	struct sim *s = *state;

	up(s);
	s->shm[0] ^= 0xff;
	assert_int_equal(step(s, 10), 2);	/* peers 1 and 2 hidden */
	assert_int_equal(s->ev[s->nev - 2].detail, ORTHROS_INVALID_HEADER);
	assert_int_equal(step(s, 50), 1);
	assert_int_equal(last(s)->type, ORTHROS_EV_HEARTBEAT_LOST);
	assert_int_equal(last(s)->peer, 1);
}

static void record_caught_mid_write_is_silent_until_timeout(void **state)
{
	struct sim *s = *state;
	struct orthros_peer_record *r = orthros_shm_record(s->shm, SHM_SIZE, 1);

	up(s);
	r->seq = htole32(le32toh(r->seq) + 1);	/* writer preempted mid-write */
	assert_int_equal(step(s, 10), 0);
	assert_int_equal(step(s, 30), 0);
	assert_int_equal(step(s, 20), 1);	/* never finished: the timeout speaks */
	assert_int_equal(last(s)->type, ORTHROS_EV_HEARTBEAT_LOST);
	beat(s);				/* the writer completes a fresh write */
	assert_int_equal(step(s, 1), 1);
	assert_int_equal(last(s)->type, ORTHROS_EV_HEARTBEAT_BACK);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(empty_slots_are_silent),
		T(new_peer_is_reported_up),
		T(steady_beats_raise_nothing),
		T(silence_past_timeout_is_lost_once_then_back),
		T(panic_is_reported_once_and_ends_watching),
		T(planned_stop_is_reported),
		T(garbage_is_refused_and_is_not_a_heartbeat),
		T(sealed_panic_with_bad_state_is_not_a_panic),
		T(counter_going_backwards_is_refused),
		T(reboot_with_new_boot_id_is_a_new_peer),
		T(stale_record_of_a_killed_peer_is_neither_up_nor_lost),
		T(own_and_unwatched_records_are_ignored),
		T(scribbled_header_is_reported_and_times_out),
		T(record_caught_mid_write_is_silent_until_timeout),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
