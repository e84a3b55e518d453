// SPDX-License-Identifier: GPL-2.0-or-later
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "units.h"

/* Parse leading digits; *end points past them.  Overflow is -ERANGE. */
static int parse_digits(const char *s, unsigned base, uint64_t *out,
			const char **end)
{
	uint64_t v = 0;
	const char *p = s;

	for (;; p++) {
		unsigned d;

		if (*p >= '0' && *p <= '9')
			d = (unsigned)(*p - '0');
		else if (base == 16 && *p >= 'a' && *p <= 'f')
			d = (unsigned)(*p - 'a' + 10);
		else if (base == 16 && *p >= 'A' && *p <= 'F')
			d = (unsigned)(*p - 'A' + 10);
		else if (*p == '_' && p != s && p[1] != '\0' && p[1] != '_')
			continue;	/* 0x4000_0000 reads better in a memory map */
		else
			break;
		if (v > (UINT64_MAX - d) / base)
			return -ERANGE;
		v = v * base + d;
	}
	if (p == s)
		return -EINVAL;
	*out = v;
	*end = p;
	return 0;
}

static int parse_number_prefix(const char *s, uint64_t *out, const char **end)
{
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		return parse_digits(s + 2, 16, out, end);
	return parse_digits(s, 10, out, end);
}

int units_parse_u64(const char *s, uint64_t *out)
{
	const char *end;
	int rc;

	if (!s)
		return -EINVAL;
	rc = parse_number_prefix(s, out, &end);
	if (rc)
		return rc;
	return *end ? -EINVAL : 0;
}

struct unit {
	const char *name;
	uint64_t factor;
};

static int apply_unit(uint64_t v, const char *suffix,
		      const struct unit *units, size_t nunits, uint64_t *out)
{
	while (*suffix == ' ')
		suffix++;
	for (size_t i = 0; i < nunits; i++) {
		if (strcmp(suffix, units[i].name))
			continue;
		if (units[i].factor && v > UINT64_MAX / units[i].factor)
			return -ERANGE;
		*out = v * units[i].factor;
		return 0;
	}
	return -EINVAL;
}

static const struct unit size_units[] = {
	{ "", 1 }, { "B", 1 },
	{ "K", KiB }, { "KiB", KiB },
	{ "M", MiB }, { "MiB", MiB },
	{ "G", GiB }, { "GiB", GiB },
	{ "T", TiB }, { "TiB", TiB },
};

int units_parse_size(const char *s, uint64_t *out)
{
	const char *end;
	uint64_t v;
	int rc;

	if (!s)
		return -EINVAL;
	rc = parse_number_prefix(s, &v, &end);
	if (rc)
		return rc;
	return apply_unit(v, end, size_units,
			  sizeof(size_units) / sizeof(size_units[0]), out);
}

int units_parse_addr(const char *s, uint64_t *out)
{
	return units_parse_size(s, out);
}

static const struct unit duration_units[] = {
	{ "us", 1 },
	{ "ms", 1000 },
	{ "s", 1000000 },
	{ "min", UINT64_C(60) * 1000000 },
	{ "h", UINT64_C(3600) * 1000000 },
};

int units_parse_duration(const char *s, uint64_t *out_us)
{
	const char *end;
	uint64_t v;
	int rc;

	if (!s)
		return -EINVAL;
	rc = parse_digits(s, 10, &v, &end);
	if (rc)
		return rc;
	if (*end == '\0')
		return -EINVAL;	/* "50" is ambiguous: ms? s? */
	return apply_unit(v, end, duration_units,
			  sizeof(duration_units) / sizeof(duration_units[0]),
			  out_us);
}

void units_format_size(uint64_t bytes, char *buf, size_t len)
{
	static const struct unit fmt[] = {
		{ "TiB", TiB }, { "GiB", GiB }, { "MiB", MiB }, { "KiB", KiB },
	};

	for (size_t i = 0; i < sizeof(fmt) / sizeof(fmt[0]); i++) {
		if (bytes >= fmt[i].factor && bytes % fmt[i].factor == 0) {
			snprintf(buf, len, "%" PRIu64 " %s",
				 bytes / fmt[i].factor, fmt[i].name);
			return;
		}
	}
	/* Not a whole number of KiB: exact bytes beat a rounded figure. */
	snprintf(buf, len, "%" PRIu64 " B", bytes);
}

void units_format_duration(uint64_t us, char *buf, size_t len)
{
	if (us && us % 1000000 == 0)
		snprintf(buf, len, "%" PRIu64 "s", us / 1000000);
	else if (us && us % 1000 == 0)
		snprintf(buf, len, "%" PRIu64 "ms", us / 1000);
	else
		snprintf(buf, len, "%" PRIu64 "us", us);
}
