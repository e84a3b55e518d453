// SPDX-License-Identifier: GPL-2.0-or-later
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "units.h"

static void sizes_accept_binary_units(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(units_parse_size("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(units_parse_size("128MiB", &v), 0);
	assert_int_equal(v, 128 * MiB);
	assert_int_equal(units_parse_size("128M", &v), 0);
	assert_int_equal(v, 128 * MiB);
	assert_int_equal(units_parse_size("2GiB", &v), 0);
	assert_int_equal(v, 2 * GiB);
	assert_int_equal(units_parse_size("640KiB", &v), 0);
	assert_int_equal(v, 640 * KiB);
	assert_int_equal(units_parse_size("0x1000", &v), 0);
	assert_int_equal(v, 0x1000);
	assert_int_equal(units_parse_size("0x4000_0000", &v), 0);
	assert_int_equal(v, GiB);
}

static void sizes_refuse_decimal_and_junk(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(units_parse_size("128MB", &v), -EINVAL);
	assert_int_equal(units_parse_size("12 8M", &v), -EINVAL);
	assert_int_equal(units_parse_size("-1", &v), -EINVAL);
	assert_int_equal(units_parse_size("", &v), -EINVAL);
	assert_int_equal(units_parse_size("M", &v), -EINVAL);
	assert_int_equal(units_parse_size("1.5G", &v), -EINVAL);
	assert_int_equal(units_parse_size("0x", &v), -EINVAL);
	assert_int_equal(units_parse_size("_1", &v), -EINVAL);
	assert_int_equal(units_parse_size("1__0", &v), -EINVAL);
}

static void sizes_detect_overflow(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(units_parse_size("18446744073709551615", &v), 0);
	assert_int_equal(units_parse_size("18446744073709551616", &v), -ERANGE);
	assert_int_equal(units_parse_size("16777216TiB", &v), -ERANGE);
	assert_int_equal(units_parse_size("0x10000000000000000", &v), -ERANGE);
}

static void durations_need_a_unit(void **state)
{
	uint64_t us;

	(void)state;
	assert_int_equal(units_parse_duration("10ms", &us), 0);
	assert_int_equal(us, 10000);
	assert_int_equal(units_parse_duration("250us", &us), 0);
	assert_int_equal(us, 250);
	assert_int_equal(units_parse_duration("2s", &us), 0);
	assert_int_equal(us, 2000000);
	assert_int_equal(units_parse_duration("5min", &us), 0);
	assert_int_equal(us, 300000000);
	assert_int_equal(units_parse_duration("1h", &us), 0);
	assert_int_equal(us, 3600000000ULL);
	assert_int_equal(units_parse_duration("50", &us), -EINVAL);
	assert_int_equal(units_parse_duration("10 parsecs", &us), -EINVAL);
	assert_int_equal(units_parse_duration("0x10ms", &us), -EINVAL);
	assert_int_equal(units_parse_duration("99999999999999999h", &us), -ERANGE);
}

static void sizes_format_exactly(void **state)
{
	char buf[32];

	(void)state;
	units_format_size(128 * MiB, buf, sizeof(buf));
	assert_string_equal(buf, "128 MiB");
	units_format_size(2 * GiB, buf, sizeof(buf));
	assert_string_equal(buf, "2 GiB");
	units_format_size(1000, buf, sizeof(buf));
	assert_string_equal(buf, "1000 B");
	units_format_duration(20000, buf, sizeof(buf));
	assert_string_equal(buf, "20ms");
	units_format_duration(1500, buf, sizeof(buf));
	assert_string_equal(buf, "1500us");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sizes_accept_binary_units),
		cmocka_unit_test(sizes_refuse_decimal_and_junk),
		cmocka_unit_test(sizes_detect_overflow),
		cmocka_unit_test(durations_need_a_unit),
		cmocka_unit_test(sizes_format_exactly),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
