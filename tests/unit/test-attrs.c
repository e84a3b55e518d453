// SPDX-License-Identifier: GPL-2.0-or-later
/* orthrosd's node attributes: heartbeat age on our clock, and when a
 * value is worth an attrd_updater run. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "attrs.h"

#define S 1000000000ull

static void a_moving_counter_has_no_age(void **state)
{
	struct beat_age b = { 0 };

	(void)state;
	assert_int_equal(beat_age_update(&b, 10, 1 * S), 0);
	assert_int_equal(beat_age_update(&b, 110, 2 * S), 0);
	assert_int_equal(beat_age_update(&b, 210, 3 * S), 0);
}

static void a_stuck_counter_ages_from_its_last_move(void **state)
{
	struct beat_age b = { 0 };

	(void)state;
	beat_age_update(&b, 10, 1 * S);
	beat_age_update(&b, 20, 2 * S);
	assert_int_equal(beat_age_update(&b, 20, 3 * S), 1 * S);
	assert_int_equal(beat_age_update(&b, 20, 7 * S), 5 * S);
	/* A restarted peer counting from zero again is beating. */
	assert_int_equal(beat_age_update(&b, 0, 8 * S), 0);
}

static void nothing_is_published_before_it_is_known(void **state)
{
	struct attr a = { .name = "x" };

	(void)state;
	assert_false(attr_due(&a, 1 * S));
	attr_set(&a, "2");
	assert_true(attr_due(&a, 1 * S));
}

static void an_unchanged_value_waits_for_the_refresh(void **state)
{
	struct attr a = { .name = "x" };

	(void)state;
	attr_set(&a, "2");
	attr_sent(&a, "2", 10 * S);
	assert_false(attr_due(&a, 11 * S));
	assert_false(attr_due(&a, 10 * S + ATTR_REFRESH_NS - 1));
	assert_true(attr_due(&a, 10 * S + ATTR_REFRESH_NS));
}

static void a_changed_value_goes_out_no_sooner_than_its_gap(void **state)
{
	struct attr a = { .name = "age", .min_gap_ns = 5 * S };

	(void)state;
	attr_set(&a, "0");
	attr_sent(&a, "0", 10 * S);
	attr_set(&a, "1000");
	assert_false(attr_due(&a, 12 * S));
	assert_true(attr_due(&a, 15 * S));
	/* What was sent is what counts, not what was asked for. */
	attr_sent(&a, "1000", 15 * S);
	attr_set(&a, "1000");
	assert_false(attr_due(&a, 30 * S));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_moving_counter_has_no_age),
		cmocka_unit_test(a_stuck_counter_ages_from_its_last_move),
		cmocka_unit_test(nothing_is_published_before_it_is_known),
		cmocka_unit_test(an_unchanged_value_waits_for_the_refresh),
		cmocka_unit_test(a_changed_value_goes_out_no_sooner_than_its_gap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
