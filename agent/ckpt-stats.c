// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * CRIU's own account of a dump: the stats-dump image it leaves in the
 * images directory.  CRIU measures the freeze from inside (from seizing the
 * tasks to letting them go), which a timer around the whole dump call
 * cannot: that also counts starting criu, collecting the tree and writing
 * the images of a tree already running again.
 *
 * The image is CRIU's magic(s), then one entry: a 32-bit length and a
 * protobuf StatsEntry { optional DumpStatsEntry dump = 1; ... }.  Parsed by
 * hand (the protobuf-c descriptors for images are not installed), and
 * bounded everywhere: the file is only as trustworthy as the dump was.
 */
#include "config.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "ckpt-criu.h"

#define IMG_COMMON_MAGIC 0x54564319u
#define IMG_SERVICE_MAGIC 0x55105940u
#define STATS_MAGIC 0x57093306u

struct pb {
	const uint8_t *p, *end;
};

static int varint(struct pb *b, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (b->p == b->end)
			return -EBADMSG;
		uint8_t c = *b->p++;

		*v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return 0;
	}
	return -EBADMSG;
}

/* The next field: its number and wire type; a varint's value in *v, a
 * length-delimited field's body in *sub. */
static int field(struct pb *b, uint32_t *num, uint32_t *type, uint64_t *v, struct pb *sub)
{
	uint64_t key;

	if (varint(b, &key))
		return -EBADMSG;
	*num = (uint32_t)(key >> 3);
	*type = (uint32_t)(key & 7);
	switch (*type) {
	case 0:
		return varint(b, v);
	case 1:
	case 5: {
		size_t n = *type == 1 ? 8 : 4;

		if ((size_t)(b->end - b->p) < n)
			return -EBADMSG;
		*v = 0;
		memcpy(v, b->p, n);
		*v = le64toh(*v);
		b->p += n;
		return 0;
	}
	case 2:
		if (varint(b, v) || *v > (uint64_t)(b->end - b->p))
			return -EBADMSG;
		sub->p = b->p;
		sub->end = b->p + *v;
		b->p += *v;
		return 0;
	default:
		return -EBADMSG;
	}
}

static int dump_entry(struct pb b, struct ckpt_dump_stats *st)
{
	while (b.p < b.end) {
		uint32_t num, type;
		uint64_t v;
		struct pb sub;

		if (field(&b, &num, &type, &v, &sub))
			return -EBADMSG;
		if (type != 0)
			continue;
		switch (num) {
		case 1: st->freezing_us = (uint32_t)v; break;
		case 2: st->frozen_us = (uint32_t)v; break;
		case 3: st->memdump_us = (uint32_t)v; break;
		case 4: st->memwrite_us = (uint32_t)v; break;
		case 5: st->pages_scanned = v; break;
		case 6: st->pages_skipped_parent = v; break;
		case 7: st->pages_written = v; break;
		default: break;
		}
	}
	return 0;
}

int ckpt_parse_dump_stats(const uint8_t *buf, size_t len, struct ckpt_dump_stats *st)
{
	uint32_t word, size;
	size_t off = 0;
	struct pb b;

	memset(st, 0, sizeof(st[0]));
	if (len < 12)
		return -EBADMSG;
	memcpy(&word, buf, 4);
	word = le32toh(word);
	if (word == IMG_COMMON_MAGIC || word == IMG_SERVICE_MAGIC) {
		off = 4;
		memcpy(&word, buf + off, 4);
		word = le32toh(word);
	}
	if (word != STATS_MAGIC)
		return -EBADMSG;
	off += 4;
	memcpy(&size, buf + off, 4);
	size = le32toh(size);
	off += 4;
	if (size > len - off)
		return -EBADMSG;
	b.p = buf + off;
	b.end = b.p + size;
	while (b.p < b.end) {
		uint32_t num, type;
		uint64_t v;
		struct pb sub;

		if (field(&b, &num, &type, &v, &sub))
			return -EBADMSG;
		if (num == 1 && type == 2)
			return dump_entry(sub, st);
	}
	return -EBADMSG;	/* a restore's stats, or none */
}

int ckpt_read_dump_stats(int dir_fd, struct ckpt_dump_stats *st)
{
	uint8_t buf[4096];
	ssize_t n;
	int fd = openat(dir_fd, "stats-dump", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0)
		return -errno;
	return ckpt_parse_dump_stats(buf, (size_t)n, st);
}
