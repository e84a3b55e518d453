/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Units used in the configuration: byte sizes, physical addresses and
 * durations.  Each parser returns 0 or -EINVAL/-ERANGE and never reads past
 * the terminating NUL, because the text comes from operators' files.
 */
#ifndef ORTHROS_UNITS_H
#define ORTHROS_UNITS_H

#include <stddef.h>
#include <stdint.h>

#define KiB (UINT64_C(1) << 10)
#define MiB (UINT64_C(1) << 20)
#define GiB (UINT64_C(1) << 30)
#define TiB (UINT64_C(1) << 40)

/* Unsigned integer, decimal or 0x-hexadecimal, no sign, no trailing junk. */
int units_parse_u64(const char *s, uint64_t *out);

/*
 * "512MiB", "1GiB", "128M", "4096" (bytes).  Binary units only: "MB" is
 * refused because operators mean different things by it.
 */
int units_parse_size(const char *s, uint64_t *out);

/* A physical address: a plain/hex integer or a size ("4GiB"). */
int units_parse_addr(const char *s, uint64_t *out);

/* "10ms", "1.5s", "250us", "2min", "1h" to microseconds; a unit is required. */
int units_parse_duration(const char *s, uint64_t *out_us);

/* Human formatting: "352 MiB", "1.5 GiB", "10 ms". */
void units_format_size(uint64_t bytes, char *buf, size_t len);
void units_format_duration(uint64_t us, char *buf, size_t len);

#endif
