// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The checkpoint store's core: format, validation, the reclaim and chain
 * rules, writing and reading sets.  No I/O here: the region is (base, size).
 *
 * Whatever is in the region may have been left by a kernel that crashed
 * mid-write, or by a bug in another partition.  Every structure is copied
 * into private memory before any field is looked at, every length and
 * offset is checked against what is left before it is used, and data read
 * out of a set is checked against the committed CRC as it is copied, so a
 * region changing under the reader is caught too.
 */
#include "config.h"

#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "ckpt-store.h"

#define HDR_SIZE	((uint64_t)sizeof(struct ckpt_slot_header))
#define ENT_SIZE	((uint64_t)sizeof(struct ckpt_file_entry))

int ckpt_fail(struct ckpt_store *s, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->msg, sizeof(s->msg), fmt, ap);
	va_end(ap);
	return err;
}


const char *ckpt_error(const struct ckpt_store *s)
{
	return s->msg[0] ? s->msg : "no error";
}

/* zlib takes 32-bit lengths; payloads may be larger. */
static uint32_t crc_update(uint32_t crc, const void *buf, uint64_t len)
{
	const unsigned char *p = buf;

	while (len) {
		uInt n = len > (1u << 30) ? (1u << 30) : (uInt)len;

		crc = (uint32_t)crc32(crc, p, n);
		p += n;
		len -= n;
	}
	return crc;
}

static uint32_t crc_init(void)
{
	return (uint32_t)crc32(0L, Z_NULL, 0);
}

static uint32_t super_crc(const struct ckpt_super *sb)
{
	struct ckpt_super tmp = *sb;

	tmp.crc = 0;
	return crc_update(crc_init(), &tmp, sizeof(tmp));
}

static uint32_t header_crc(const struct ckpt_slot_header *h)
{
	struct ckpt_slot_header tmp = *h;

	tmp.header_crc = 0;
	return crc_update(crc_init(), &tmp, sizeof(tmp));
}

/*
 * Ordering point: everything stored before is visible (and, through the
 * sync hook, on the backing file) before anything stored after.
 */
static int order(struct ckpt_store *s, void *addr, uint64_t len)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (s->sync && len) {
		int rc = s->sync(s->sync_ctx, addr, len);

		if (rc)
			return ckpt_fail(s, rc, "cannot sync the region: %s", strerror(-rc));
	}
	return 0;
}

/* The set's payload must be readable: map it if the region is sparse. */
static int need(struct ckpt_store *s, uint32_t slot, uint64_t payload_len)
{
	if (!s->need)
		return 0;
	if (payload_len > ckpt_capacity(s))
		return -EBADMSG;
	return s->need(s->need_ctx, slot, payload_len);
}

static uint8_t *slot_base(const struct ckpt_store *s, uint32_t slot)
{
	return s->base + s->slots_offset + (uint64_t)slot * s->slot_size;
}

/* ---- names ---- */

bool ckpt_group_valid(const char *name)
{
	size_t n = strnlen(name, CKPT_GROUP_LEN);

	if (n == 0 || n == CKPT_GROUP_LEN || !strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
			return false;
	}
	return true;
}

/*
 * A name that is safe to create inside a set's directory: no path, no
 * "." or "..", not "parent" (the chain link), nothing a terminal would
 * interpret when listed.
 */
bool ckpt_name_valid(const char *name)
{
	size_t n = strnlen(name, CKPT_NAME_LEN);

	if (n == 0 || n == CKPT_NAME_LEN || !strcmp(name, ".") ||
	    !strcmp(name, "..") || !strcmp(name, "parent"))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == '/' || c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

/* Same checks on a field copied from the region: it must hold its NUL. */
static bool field_valid(const char *field, size_t len, bool (*valid)(const char *))
{
	return memchr(field, '\0', len) && valid(field);
}

const char *ckpt_status_name(enum ckpt_status st)
{
	switch (st) {
	case CKPT_OK: return "ok";
	case CKPT_EMPTY: return "empty";
	case CKPT_WRITING: return "incomplete (being written, or its writer died)";
	case CKPT_BAD_MAGIC: return "bad slot magic";
	case CKPT_BAD_HEADER_CRC: return "header checksum mismatch";
	case CKPT_STALE: return "left by an earlier format of the region";
	case CKPT_BAD_STATE: return "unknown state";
	case CKPT_BAD_SEQ: return "invalid sequence numbers";
	case CKPT_BAD_GROUP: return "invalid group name";
	case CKPT_BAD_LENGTH: return "payload length or file count past the slot";
	case CKPT_BAD_PAYLOAD_CRC: return "payload checksum mismatch";
	case CKPT_BAD_FILES: return "invalid file entry (name, mode, size or duplicate)";
	case CKPT_DUP_SEQ: return "sequence number used by another set";
	case CKPT_BAD_PARENT: return "parent is in another group";
	case CKPT_NO_PARENT: return "parent set missing or not restorable";
	case CKPT_BAD_FLAGS: return "unknown set flags";
	}
	return "?";
}

/* ---- the superblock ---- */

int ckpt_format(struct ckpt_store *s, void *base, uint64_t size, uint32_t keep,
		uint64_t format_id)
{
	struct ckpt_super sb;
	uint32_t nr = keep + 1;
	int rc;

	s->msg[0] = '\0';
	if (keep < CKPT_MIN_KEEP || keep > CKPT_MAX_KEEP)
		return ckpt_fail(s, -EINVAL, "keep %u is outside %u..%u", keep,
			    CKPT_MIN_KEEP, CKPT_MAX_KEEP);
	if (size < CKPT_ALIGN || (size - CKPT_ALIGN) / nr < CKPT_ALIGN)
		return ckpt_fail(s, -EINVAL,
			    "a region of %" PRIu64 " bytes cannot hold %u slots; it needs at least %u bytes",
			    size, nr, CKPT_ALIGN * (nr + 1));

	s->base = base;
	s->size = size;
	s->nr_slots = nr;
	s->keep = keep;
	s->slots_offset = CKPT_ALIGN;
	s->slot_size = (size - CKPT_ALIGN) / nr / CKPT_ALIGN * CKPT_ALIGN;
	s->format_id = format_id;

	/*
	 * Superblock off first: a crash while the slots are wiped leaves a
	 * region that is refused, not one whose old geometry points into
	 * half-wiped slots.
	 */
	memset(base, 0, sizeof(sb));
	if ((rc = order(s, base, sizeof(sb))))
		return rc;
	for (uint32_t i = 0; i < nr; i++) {
		memset(slot_base(s, i), 0, HDR_SIZE);
		if ((rc = order(s, slot_base(s, i), HDR_SIZE)))
			return rc;
	}

	memset(&sb, 0, sizeof(sb));
	sb.magic = htole32(CKPT_SUPER_MAGIC);
	sb.version = htole32(CKPT_VERSION);
	sb.size = htole64(size);
	sb.super_size = htole32(sizeof(struct ckpt_super));
	sb.slot_header_size = htole32(sizeof(struct ckpt_slot_header));
	sb.nr_slots = htole32(nr);
	sb.keep = htole32(keep);
	sb.slots_offset = htole64(s->slots_offset);
	sb.slot_size = htole64(s->slot_size);
	sb.format_id = htole64(format_id);
	sb.crc = htole32(super_crc(&sb));
	memcpy(base, &sb, sizeof(sb));
	return order(s, base, sizeof(sb));
}

static int check_geometry(struct ckpt_store *s, const struct ckpt_super *sb,
			  uint64_t mapped)
{
	uint64_t size = le64toh(sb->size);
	uint32_t nr = le32toh(sb->nr_slots), keep = le32toh(sb->keep);
	uint64_t off = le64toh(sb->slots_offset), slot = le64toh(sb->slot_size);

	if (le32toh(sb->super_size) != sizeof(struct ckpt_super) ||
	    le32toh(sb->slot_header_size) != sizeof(struct ckpt_slot_header))
		return ckpt_fail(s, -EBADMSG,
			    "superblock describes %u-byte superblock and %u-byte slot headers; expected %zu and %zu",
			    le32toh(sb->super_size), le32toh(sb->slot_header_size),
			    sizeof(struct ckpt_super), sizeof(struct ckpt_slot_header));
	if (size > mapped)
		return ckpt_fail(s, -EBADMSG,
			    "superblock says the region has %" PRIu64 " bytes, only %" PRIu64 " are mapped",
			    size, mapped);
	if (keep < CKPT_MIN_KEEP || keep > CKPT_MAX_KEEP || nr != keep + 1)
		return ckpt_fail(s, -EBADMSG, "superblock has keep %u and %u slots; expected keep %u..%u and keep + 1 slots",
			    keep, nr, CKPT_MIN_KEEP, CKPT_MAX_KEEP);
	if (off < sizeof(struct ckpt_super) || off % 8 || slot < CKPT_MIN_SLOT_SIZE || slot % 8)
		return ckpt_fail(s, -EBADMSG,
			    "superblock has slots of %" PRIu64 " bytes at offset %" PRIu64
			    "; expected a multiple of 8 of at least %zu after the superblock",
			    slot, off, (size_t)CKPT_MIN_SLOT_SIZE);
	if (off > size || slot > (size - off) / nr)
		return ckpt_fail(s, -EBADMSG, "superblock's %u slots of %" PRIu64
			    " bytes at offset %" PRIu64 " run past the region's %" PRIu64 " bytes",
			    nr, slot, off, size);
	s->size = size;
	s->nr_slots = nr;
	s->keep = keep;
	s->slots_offset = off;
	s->slot_size = slot;
	s->format_id = le64toh(sb->format_id);
	return 0;
}

int ckpt_open(struct ckpt_store *s, void *base, uint64_t size)
{
	static const struct ckpt_super zero;
	struct ckpt_super sb;

	s->msg[0] = '\0';
	s->base = base;
	s->nr_slots = 0;
	if (size < sizeof(sb))
		return ckpt_fail(s, -EBADMSG, "a region of %" PRIu64 " bytes cannot hold a superblock", size);
	memcpy(&sb, base, sizeof(sb));
	if (!memcmp(&sb, &zero, sizeof(sb)))
		return ckpt_fail(s, -EBADMSG, "the region is not formatted (no superblock)");
	if (le32toh(sb.magic) != CKPT_SUPER_MAGIC)
		return ckpt_fail(s, -EBADMSG, "not a checkpoint store (magic 0x%08x)", le32toh(sb.magic));
	if (le32toh(sb.version) != CKPT_VERSION)
		return ckpt_fail(s, -EBADMSG, "format version %u; this build reads version %u",
			    le32toh(sb.version), CKPT_VERSION);
	if (le32toh(sb.crc) != super_crc(&sb))
		return ckpt_fail(s, -EBADMSG, "superblock checksum mismatch");
	/* A valid checksum only says the writer meant it; check the meaning. */
	return check_geometry(s, &sb, size);
}

uint64_t ckpt_capacity(const struct ckpt_store *s)
{
	return s->slot_size - HDR_SIZE;
}

uint64_t ckpt_file_cost(uint64_t size)
{
	return size > UINT64_MAX - ENT_SIZE ? UINT64_MAX : size + ENT_SIZE;
}

/* ---- validating slots ---- */

static bool header_is_zero(const struct ckpt_slot_header *h)
{
	static const struct ckpt_slot_header zero;

	return !memcmp(h, &zero, sizeof(*h));
}

/* The header alone: copied to @h, decoded into @info. */
static enum ckpt_status check_header(const struct ckpt_store *s, uint32_t slot,
				     struct ckpt_slot_header *h, struct ckpt_info *info)
{
	memcpy(h, slot_base(s, slot), sizeof(*h));
	memset(info, 0, sizeof(*info));
	info->slot = slot;
	if (header_is_zero(h))
		return CKPT_EMPTY;
	if (le32toh(h->magic) != CKPT_SLOT_MAGIC)
		return CKPT_BAD_MAGIC;
	if (le32toh(h->header_crc) != header_crc(h))
		return CKPT_BAD_HEADER_CRC;
	if (le64toh(h->format_id) != s->format_id)
		return CKPT_STALE;

	info->header_valid = true;
	info->state = le32toh(h->state);
	info->seq = le64toh(h->seq);
	info->parent_seq = le64toh(h->parent_seq);
	info->created_ns = le64toh(h->created_ns);
	info->payload_len = le64toh(h->payload_len);
	info->nr_files = le32toh(h->nr_files);
	info->payload_crc = le32toh(h->payload_crc);
	info->flags = le32toh(h->flags);
	if (memchr(h->group, '\0', sizeof(h->group)))
		memcpy(info->group, h->group, sizeof(info->group));

	if (info->state == CKPT_STATE_EMPTY)
		return CKPT_EMPTY;
	if (info->state == CKPT_STATE_WRITING)
		return CKPT_WRITING;
	if (info->state != CKPT_STATE_COMMITTED)
		return CKPT_BAD_STATE;
	if (info->seq == 0 || info->parent_seq >= info->seq)
		return CKPT_BAD_SEQ;
	if (!field_valid(h->group, sizeof(h->group), ckpt_group_valid))
		return CKPT_BAD_GROUP;
	if (info->payload_len > ckpt_capacity(s) || info->nr_files > CKPT_MAX_FILES)
		return CKPT_BAD_LENGTH;
	if (info->flags & ~CKPT_SET_KNOWN)
		return CKPT_BAD_FLAGS;
	return CKPT_OK;
}

/* A copied entry, with @left bytes of payload after it. */
static bool entry_valid(const struct ckpt_file_entry *e, uint64_t left)
{
	return le64toh(e->size) <= left && !(le32toh(e->mode) & ~0777u) &&
	       e->reserved == 0 &&
	       field_valid(e->name, sizeof(e->name), ckpt_name_valid);
}

/* FNV-1a: names are compared by hash to find duplicates in O(n log n). */
static uint64_t name_hash(const char *name)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 0x100000001b3ull;
	return h;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Two files with one name would overwrite each other when extracted.
 * Equal hashes count as equal names: refusing a set is always safe, and a
 * 64-bit collision between honest names does not happen in practice.
 */
static bool names_unique(uint64_t *hash, uint32_t n)
{
	qsort(hash, n, sizeof(*hash), cmp_u64);
	for (uint32_t i = 1; i < n; i++)
		if (hash[i] == hash[i - 1])
			return false;
	return true;
}

static enum ckpt_status walk_files(const uint8_t *p, uint64_t len, uint32_t nr)
{
	uint64_t off = 0, *hash = malloc(((size_t)nr + 1) * sizeof(*hash));
	enum ckpt_status st = CKPT_OK;

	if (!hash)
		return CKPT_BAD_FILES;	/* cannot prove it valid: refuse */
	for (uint32_t i = 0; i < nr; i++) {
		struct ckpt_file_entry e;

		if (len - off < ENT_SIZE) {
			st = CKPT_BAD_FILES;
			break;
		}
		memcpy(&e, p + off, sizeof(e));
		off += ENT_SIZE;
		if (!entry_valid(&e, len - off)) {
			st = CKPT_BAD_FILES;
			break;
		}
		hash[i] = name_hash(e.name);
		off += le64toh(e.size);
	}
	if (st == CKPT_OK && (off != len || !names_unique(hash, nr)))
		st = CKPT_BAD_FILES;
	free(hash);
	return st;
}

int ckpt_cache_verified(struct ckpt_store *s)
{
	ckpt_cache_free(s);
	s->verified = calloc(CKPT_MAX_SLOTS, sizeof(*s->verified));
	s->verified_ok = calloc(CKPT_MAX_SLOTS, 1);
	if (!s->verified || !s->verified_ok) {
		ckpt_cache_free(s);
		return -ENOMEM;
	}
	return 0;
}

void ckpt_cache_free(struct ckpt_store *s)
{
	free(s->verified);
	free(s->verified_ok);
	s->verified = NULL;
	s->verified_ok = NULL;
}

static void remember(struct ckpt_store *s, uint32_t slot, const struct ckpt_slot_header *h)
{
	if (!s->verified || slot >= CKPT_MAX_SLOTS)
		return;
	s->verified[slot] = *h;
	s->verified_ok[slot] = 1;
}

static enum ckpt_status check_slot(struct ckpt_store *s, uint32_t slot, struct ckpt_info *info)
{
	struct ckpt_slot_header h;
	enum ckpt_status st = check_header(s, slot, &h, info);
	const uint8_t *payload = slot_base(s, slot) + HDR_SIZE;

	if (st != CKPT_OK)
		return st;
	if (s->verified && s->verified_ok[slot] && !memcmp(&s->verified[slot], &h, sizeof(h)))
		return CKPT_OK;
	if (need(s, slot, info->payload_len))
		return CKPT_BAD_LENGTH;
	if (crc_update(crc_init(), payload, info->payload_len) != info->payload_crc)
		return CKPT_BAD_PAYLOAD_CRC;
	st = walk_files(payload, info->payload_len, info->nr_files);
	if (st == CKPT_OK)
		remember(s, slot, &h);
	return st;
}

/* ---- the chain rule ---- */

static int find_seq(const struct ckpt_info *info, unsigned int n, uint64_t seq)
{
	for (unsigned int i = 0; i < n; i++)
		if (info[i].status == CKPT_OK && info[i].seq == seq)
			return (int)i;
	return -1;
}

/*
 * A set is restorable when it is valid and its parent (if any) is a
 * restorable set of the same group.  Parents have lower sequence numbers,
 * so deciding in ascending order settles each parent before its children
 * and no cycle can exist.
 */
static void apply_chain_rule(struct ckpt_info *info, unsigned int n)
{
	unsigned int order[CKPT_MAX_SLOTS], m = 0;

	for (unsigned int i = 0; i < n; i++)
		for (unsigned int j = i + 1; j < n; j++)
			if (info[i].header_valid && info[j].header_valid &&
			    info[i].state == CKPT_STATE_COMMITTED &&
			    info[j].state == CKPT_STATE_COMMITTED &&
			    info[i].seq == info[j].seq) {
				if (info[i].status == CKPT_OK)
					info[i].status = CKPT_DUP_SEQ;
				if (info[j].status == CKPT_OK)
					info[j].status = CKPT_DUP_SEQ;
			}
	for (unsigned int i = 0; i < n; i++) {
		unsigned int k;

		if (info[i].status != CKPT_OK)
			continue;
		k = m++;
		while (k > 0 && info[order[k - 1]].seq > info[i].seq) {
			order[k] = order[k - 1];
			k--;
		}
		order[k] = i;
	}
	for (unsigned int i = 0; i < m; i++) {
		struct ckpt_info *set = &info[order[i]];
		int p;

		if (set->status != CKPT_OK || set->parent_seq == 0)
			continue;
		p = find_seq(info, n, set->parent_seq);
		if (p < 0)
			set->status = CKPT_NO_PARENT;
		else if (strcmp(info[p].group, set->group))
			set->status = CKPT_BAD_PARENT;
	}
}

int ckpt_list(struct ckpt_store *s, struct ckpt_info *info)
{
	if (!s->nr_slots)
		return ckpt_fail(s, -EINVAL, "the store is not open");
	for (uint32_t i = 0; i < s->nr_slots; i++)
		info[i].status = check_slot(s, i, &info[i]);
	apply_chain_rule(info, s->nr_slots);
	return (int)s->nr_slots;
}

int ckpt_list_headers(struct ckpt_store *s, struct ckpt_info *info)
{
	struct ckpt_slot_header h;

	if (!s->nr_slots)
		return ckpt_fail(s, -EINVAL, "the store is not open");
	for (uint32_t i = 0; i < s->nr_slots; i++)
		info[i].status = check_header(s, i, &h, &info[i]);
	apply_chain_rule(info, s->nr_slots);
	return (int)s->nr_slots;
}

void ckpt_refuse(struct ckpt_info *info, unsigned int n, uint32_t slot, enum ckpt_status why)
{
	for (unsigned int i = 0; i < n; i++)
		if (info[i].slot == slot)
			info[i].status = why;
	apply_chain_rule(info, n);
}

int ckpt_set_has_file(struct ckpt_store *s, const struct ckpt_info *set, const char *prefix)
{
	const uint8_t *p;
	uint64_t off = 0, len;
	size_t plen = strlen(prefix);

	if (set->slot >= s->nr_slots || set->payload_len > ckpt_capacity(s) ||
	    need(s, set->slot, set->payload_len))
		return -EBADMSG;
	p = slot_base(s, set->slot) + HDR_SIZE;
	len = set->payload_len;
	for (uint32_t i = 0; i < set->nr_files; i++) {
		struct ckpt_file_entry e;

		if (len - off < ENT_SIZE)
			return -EBADMSG;
		memcpy(&e, p + off, sizeof(e));
		off += ENT_SIZE;
		if (!entry_valid(&e, len - off))
			return -EBADMSG;
		if (!strncmp(e.name, prefix, plen))
			return 1;
		off += le64toh(e.size);
	}
	return 0;
}

static int newest_of_group(const struct ckpt_info *info, unsigned int n, const char *group)
{
	int best = -1;

	for (unsigned int i = 0; i < n; i++)
		if (info[i].status == CKPT_OK && !(info[i].flags & CKPT_SET_PARTIAL) &&
		    !strcmp(info[i].group, group) && (best < 0 || info[i].seq > info[best].seq))
			best = (int)i;
	return best;
}

/* Follow parents from @i; the list guarantees they exist. */
static void build_chain(const struct ckpt_info *info, unsigned int n, int i,
			struct ckpt_chain *chain)
{
	chain->n = 0;
	while (i >= 0 && chain->n < CKPT_MAX_SLOTS) {
		chain->set[chain->n++] = info[i];
		i = info[i].parent_seq ? find_seq(info, n, info[i].parent_seq) : -1;
	}
}

int ckpt_find_in(const struct ckpt_info *info, unsigned int n, const char *group,
		 struct ckpt_chain *chain)
{
	int i = newest_of_group(info, n, group);

	chain->n = 0;
	if (i < 0)
		return -ENOENT;
	build_chain(info, n, i, chain);
	return 0;
}

int ckpt_find(struct ckpt_store *s, const char *group, struct ckpt_chain *chain)
{
	struct ckpt_info info[CKPT_MAX_SLOTS];
	int n = ckpt_list(s, info);

	if (n < 0)
		return n;
	if (ckpt_find_in(info, (unsigned int)n, group, chain))
		return ckpt_fail(s, -ENOENT, "no restorable checkpoint for group %s", group);
	return 0;
}

/* ---- the reclaim rule ---- */

static void protect_chain(const struct ckpt_info *info, unsigned int n, int i,
			  bool *keep)
{
	struct ckpt_chain chain;

	build_chain(info, n, i, &chain);
	for (unsigned int k = 0; k < chain.n; k++)
		keep[chain.set[k].slot] = true;
}

/*
 * Which slot a new set takes: an empty slot, else one whose content is of
 * no use (refused or incomplete), else the oldest restorable set that is
 * not part of the newest chain of any group nor of the new set's parent
 * chain.  -1 when every slot must be kept.
 */
static int pick_slot(const struct ckpt_info *info, unsigned int n, int parent)
{
	bool keep[CKPT_MAX_SLOTS] = { false };
	int best = -1, best_rank = 3;

	for (unsigned int i = 0; i < n; i++)
		if (info[i].status == CKPT_OK &&
		    newest_of_group(info, n, info[i].group) == (int)i)
			protect_chain(info, n, (int)i, keep);
	if (parent >= 0)
		protect_chain(info, n, parent, keep);

	for (unsigned int i = 0; i < n; i++) {
		int rank = info[i].status == CKPT_EMPTY ? 0 :
			   info[i].status != CKPT_OK ? 1 : 2;

		if (keep[i])
			continue;
		if (rank < best_rank ||
		    (rank == best_rank && rank == 2 && info[i].seq < info[best].seq)) {
			best = (int)i;
			best_rank = rank;
		}
	}
	return best;
}

int ckpt_spare_slots(struct ckpt_store *s)
{
	struct ckpt_info info[CKPT_MAX_SLOTS];
	bool keep[CKPT_MAX_SLOTS] = { false };
	int n = ckpt_list(s, info), spare = 0;

	if (n < 0)
		return n;
	for (int i = 0; i < n; i++)
		if (info[i].status == CKPT_OK &&
		    newest_of_group(info, (unsigned int)n, info[i].group) == i)
			protect_chain(info, (unsigned int)n, i, keep);
	for (int i = 0; i < n; i++)
		spare += !keep[i];
	return spare;
}

/* The highest sequence number any valid header in the region carries. */
static uint64_t max_seq(const struct ckpt_info *info, unsigned int n)
{
	uint64_t m = 0;

	for (unsigned int i = 0; i < n; i++)
		if (info[i].header_valid && info[i].seq > m)
			m = info[i].seq;
	return m;
}

static int write_header(struct ckpt_writer *w)
{
	uint8_t *dst = slot_base(w->s, w->slot);

	w->hdr.header_crc = 0;
	w->hdr.header_crc = htole32(header_crc(&w->hdr));
	memcpy(dst, &w->hdr, sizeof(w->hdr));
	return order(w->s, dst, HDR_SIZE);
}

/* ---- writing ---- */

int ckpt_begin(struct ckpt_store *s, struct ckpt_writer *w, const char *group,
	       uint64_t parent_seq, uint64_t created_ns, uint32_t flags)
{
	struct ckpt_info info[CKPT_MAX_SLOTS];
	int n, slot, parent = -1, rc;
	uint64_t seq;

	memset(w, 0, sizeof(*w));
	w->s = s;	/* so a call on a writer that never began fails cleanly */
	s->msg[0] = '\0';
	if (!ckpt_group_valid(group))
		return ckpt_fail(s, -EINVAL, "'%.64s' is not a group name (1-63 of A-Z a-z 0-9 _ - .)", group);
	if (flags & ~CKPT_SET_KNOWN)
		return ckpt_fail(s, -EINVAL, "unknown set flags 0x%x", flags & ~CKPT_SET_KNOWN);
	n = ckpt_list(s, info);
	if (n < 0)
		return n;
	if (parent_seq) {
		parent = find_seq(info, (unsigned int)n, parent_seq);
		if (parent < 0 || strcmp(info[parent].group, group))
			return ckpt_fail(s, -ENOENT, "parent set %" PRIu64 " is not a restorable set of group %s",
				    parent_seq, group);
	}
	slot = pick_slot(info, (unsigned int)n, parent);
	if (slot < 0)
		return ckpt_fail(s, -ENOSPC,
			    "every slot holds a set that must be kept (the newest chain of a group); write a self-contained set or format with a larger keep");
	seq = max_seq(info, (unsigned int)n);
	if (seq == UINT64_MAX)
		return ckpt_fail(s, -EOVERFLOW, "sequence numbers are exhausted");
	seq++;

	w->slot = (uint32_t)slot;
	w->payload = slot_base(s, w->slot) + HDR_SIZE;
	w->cap = ckpt_capacity(s);
	w->crc = crc_init();
	w->hdr.magic = htole32(CKPT_SLOT_MAGIC);
	w->hdr.state = htole32(CKPT_STATE_WRITING);
	w->hdr.seq = htole64(seq);
	w->hdr.parent_seq = htole64(parent_seq);
	w->hdr.format_id = htole64(s->format_id);
	w->hdr.created_ns = htole64(created_ns);
	w->hdr.flags = htole32(flags);
	snprintf(w->hdr.group, sizeof(w->hdr.group), "%s", group);
	/*
	 * The slot's old set dies here, before any payload byte is written:
	 * from now on the slot is WRITING, which no reader restores.
	 */
	rc = write_header(w);
	if (rc)
		return rc;
	w->active = true;
	return 0;
}

static int too_big(struct ckpt_writer *w)
{
	return ckpt_fail(w->s, -EFBIG, "the set does not fit in a slot (%" PRIu64 " bytes of payload)",
		    w->cap);
}

int ckpt_file_open(struct ckpt_writer *w, const char *name, uint32_t mode)
{
	if (!w->active || w->in_file)
		return ckpt_fail(w->s, -EINVAL, "no set being written, or a file is still open");
	if (!ckpt_name_valid(name))
		return ckpt_fail(w->s, -EINVAL, "'%.240s' is not a plain file name", name);
	if (!strcmp(name, CKPT_CHUNKS_NAME))
		return ckpt_fail(w->s, -EINVAL, "'%s' is the name of the set's own chunk table", name);
	if (mode & ~0777u)
		return ckpt_fail(w->s, -EINVAL, "mode 0%o of %s has more than permission bits", mode, name);
	if (le32toh(w->hdr.nr_files) >= CKPT_MAX_FILES)
		return ckpt_fail(w->s, -EFBIG, "a set holds at most %u files", CKPT_MAX_FILES);
	if (w->cap - w->len < ENT_SIZE)
		return too_big(w);
	memset(&w->ent, 0, sizeof(w->ent));
	w->ent.mode = htole32(mode);
	snprintf(w->ent.name, sizeof(w->ent.name), "%s", name);
	w->entry = w->len;
	w->len += ENT_SIZE;
	w->file_size = 0;
	w->file_crc = crc_init();
	w->chunk_crc = crc_init();
	w->chunk_fill = 0;
	w->in_file = true;
	return 0;
}

static int push_chunk(struct ckpt_writer *w)
{
	if (w->nr_chunks == w->chunks_cap) {
		uint64_t cap = w->chunks_cap ? 2 * w->chunks_cap : 256;
		uint32_t *p = cap <= SIZE_MAX / sizeof(*p) ?
			realloc(w->chunks, (size_t)cap * sizeof(*p)) : NULL;

		if (!p)
			return ckpt_fail(w->s, -ENOMEM, "out of memory for the chunk table");
		w->chunks = p;
		w->chunks_cap = cap;
	}
	w->chunks[w->nr_chunks++] = htole32(w->chunk_crc);
	/* The file's CRC from its chunks': the data is read once. */
	w->file_crc = (uint32_t)crc32_combine(w->file_crc, w->chunk_crc, (z_off_t)w->chunk_fill);
	w->chunk_crc = crc_init();
	w->chunk_fill = 0;
	return 0;
}

int ckpt_file_write(struct ckpt_writer *w, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	if (!w->in_file)
		return ckpt_fail(w->s, -EINVAL, "no file open");
	if (len > w->cap - w->len)
		return too_big(w);
	while (len) {
		size_t n = CKPT_CHUNK_SIZE - w->chunk_fill;
		int rc;

		if (n > len)
			n = len;
		memcpy(w->payload + w->len, p, n);
		w->chunk_crc = crc_update(w->chunk_crc, p, n);
		w->chunk_fill += (uint32_t)n;
		w->len += n;
		w->file_size += n;
		p += n;
		len -= n;
		if (w->chunk_fill == CKPT_CHUNK_SIZE && (rc = push_chunk(w)))
			return rc;
	}
	return 0;
}

/*
 * The entry goes in front of the data it describes, but its size is known
 * only now: the payload CRC is the entry's CRC combined with the data's.
 */
int ckpt_file_close(struct ckpt_writer *w)
{
	int rc;

	if (!w->in_file)
		return ckpt_fail(w->s, -EINVAL, "no file open");
	if (w->chunk_fill && (rc = push_chunk(w)))
		return rc;
	w->ent.size = htole64(w->file_size);
	memcpy(w->payload + w->entry, &w->ent, sizeof(w->ent));
	w->crc = crc_update(w->crc, &w->ent, sizeof(w->ent));
	w->crc = (uint32_t)crc32_combine(w->crc, w->file_crc, (z_off_t)w->file_size);
	w->hdr.nr_files = htole32(le32toh(w->hdr.nr_files) + 1);
	w->in_file = false;
	return 0;
}

int ckpt_add_file(struct ckpt_writer *w, const char *name, uint32_t mode,
		  const void *data, uint64_t size)
{
	int rc = ckpt_file_open(w, name, mode);

	if (rc)
		return rc;
	if (size > SIZE_MAX)
		return too_big(w);
	rc = ckpt_file_write(w, data, (size_t)size);
	return rc ? rc : ckpt_file_close(w);
}

/*
 * Payload first, then (after the ordering point) the header that says
 * COMMITTED and carries the payload's CRC, all under the header's CRC.  A
 * crash before the header store leaves the slot WRITING; a crash during it
 * leaves a header whose CRC fails.  Either way the set is invisible and
 * every other slot is as it was.
 */
static uint64_t table_size(uint64_t nr_chunks)
{
	return sizeof(struct ckpt_chunks_head) + 4 * nr_chunks + 4;
}

uint64_t ckpt_chunks_of(uint64_t size)
{
	return size / CKPT_CHUNK_SIZE + (size % CKPT_CHUNK_SIZE != 0);
}

uint64_t ckpt_chunks_cost(uint64_t nr_chunks)
{
	return ckpt_file_cost(table_size(nr_chunks));
}

/* The table is written like a file, but its own data is not chunked. */
static int add_table(struct ckpt_writer *w)
{
	struct ckpt_chunks_head head = {
		.magic = htole32(CKPT_CHUNKS_MAGIC),
		.chunk_size = htole32(CKPT_CHUNK_SIZE),
		.nr_files = w->hdr.nr_files,
		.nr_chunks = htole64(w->nr_chunks),
	};
	uint64_t size = table_size(w->nr_chunks);
	uint32_t tcrc;
	uint8_t *p;

	if (w->cap - w->len < ENT_SIZE || size > w->cap - w->len - ENT_SIZE)
		return too_big(w);
	memset(&w->ent, 0, sizeof(w->ent));
	w->ent.size = htole64(size);
	w->ent.mode = htole32(0400);
	snprintf(w->ent.name, sizeof(w->ent.name), "%s", CKPT_CHUNKS_NAME);
	p = w->payload + w->len;
	memcpy(p, &w->ent, ENT_SIZE);
	memcpy(p + ENT_SIZE, &head, sizeof(head));
	if (w->nr_chunks)
		memcpy(p + ENT_SIZE + sizeof(head), w->chunks, 4 * w->nr_chunks);
	tcrc = crc_update(crc_init(), p + ENT_SIZE, size - 4);
	tcrc = htole32(tcrc);
	memcpy(p + ENT_SIZE + size - 4, &tcrc, 4);
	/* The payload CRC over what is now in the region's copy. */
	w->crc = crc_update(w->crc, p, ENT_SIZE + size);
	w->len += ENT_SIZE + size;
	w->hdr.nr_files = htole32(le32toh(w->hdr.nr_files) + 1);
	return 0;
}

static void drop_chunks(struct ckpt_writer *w)
{
	free(w->chunks);
	w->chunks = NULL;
	w->nr_chunks = w->chunks_cap = 0;
}

int ckpt_commit(struct ckpt_writer *w, uint64_t *seq)
{
	int rc;

	if (!w->active || w->in_file)
		return ckpt_fail(w->s, -EINVAL, "no set being written, or a file is still open");
	rc = add_table(w);
	if (rc)
		return rc;
	drop_chunks(w);
	rc = order(w->s, w->payload, w->len);
	if (rc)
		return rc;
	w->hdr.state = htole32(CKPT_STATE_COMMITTED);
	w->hdr.payload_len = htole64(w->len);
	w->hdr.payload_crc = htole32(w->crc);
	rc = write_header(w);
	if (rc)
		return rc;
	w->active = false;
	/* Its CRC was computed as it was written: no need to read it back. */
	remember(w->s, w->slot, &w->hdr);
	if (seq)
		*seq = le64toh(w->hdr.seq);
	return 0;
}

/*
 * EMPTY, but the sequence number stays in the header so the next set
 * still gets a higher one.
 */
void ckpt_abort(struct ckpt_writer *w)
{
	drop_chunks(w);
	if (!w->active)
		return;
	w->hdr.state = htole32(CKPT_STATE_EMPTY);
	w->hdr.payload_len = 0;
	w->hdr.nr_files = 0;
	w->hdr.payload_crc = 0;
	write_header(w);
	w->active = false;
	w->in_file = false;
}

/* ---- reading ---- */

int ckpt_read_open(struct ckpt_store *s, const struct ckpt_info *set,
		   struct ckpt_reader *r)
{
	struct ckpt_slot_header h;
	struct ckpt_info now;

	memset(r, 0, sizeof(*r));
	if (set->slot >= s->nr_slots)
		return ckpt_fail(s, -EINVAL, "no slot %u", set->slot);
	if (check_header(s, set->slot, &h, &now) != CKPT_OK || now.seq != set->seq ||
	    now.payload_len != set->payload_len || now.payload_crc != set->payload_crc ||
	    now.nr_files != set->nr_files)
		return ckpt_fail(s, -ESTALE, "set %" PRIu64 " in slot %u changed since it was listed",
			    set->seq, set->slot);
	if (need(s, set->slot, now.payload_len))
		return ckpt_fail(s, -ENOMEM, "set %" PRIu64 ": cannot map it", set->seq);
	r->s = s;
	r->seq = now.seq;
	r->payload = slot_base(s, set->slot) + HDR_SIZE;
	r->len = now.payload_len;
	r->files_left = now.nr_files;
	r->crc = crc_init();
	r->want_crc = now.payload_crc;
	return 0;
}

static int changed(struct ckpt_reader *r)
{
	r->s->bad_seq = r->seq;
	return ckpt_fail(r->s, -EBADMSG, "set %" PRIu64 ": its payload does not match its checksum",
		    r->seq);
}

int ckpt_read_file(struct ckpt_reader *r, struct ckpt_file *f)
{
	struct ckpt_file_entry e;

	if (r->data_left) {	/* the caller skipped the rest of a file */
		r->crc = crc_update(r->crc, r->payload + r->off, r->data_left);
		r->off += r->data_left;
		r->data_left = 0;
	}
	if (!r->files_left)
		return 0;
	if (r->len - r->off < ENT_SIZE)
		return changed(r);
	memcpy(&e, r->payload + r->off, sizeof(e));
	r->off += ENT_SIZE;
	r->crc = crc_update(r->crc, &e, sizeof(e));
	if (!entry_valid(&e, r->len - r->off))
		return changed(r);
	memcpy(f->name, e.name, sizeof(f->name));
	f->mode = le32toh(e.mode);
	f->size = le64toh(e.size);
	r->data_left = f->size;
	r->files_left--;
	if (!r->files_left && !strcmp(f->name, CKPT_CHUNKS_NAME)) {
		/* The set's own table: checked with the payload, not a file of it. */
		r->crc = crc_update(r->crc, r->payload + r->off, r->data_left);
		r->off += r->data_left;
		r->data_left = 0;
		return 0;
	}
	return 1;
}

ssize_t ckpt_read_data(struct ckpt_reader *r, void *buf, size_t len)
{
	if (len > r->data_left)
		len = (size_t)r->data_left;
	if (len > (size_t)1 << 30)
		len = (size_t)1 << 30;
	/* Copy, then check the copy: the CRC covers what the caller got. */
	memcpy(buf, r->payload + r->off, len);
	r->crc = crc_update(r->crc, buf, len);
	r->off += len;
	r->data_left -= len;
	return (ssize_t)len;
}

int ckpt_read_close(struct ckpt_reader *r)
{
	if (r->files_left || r->data_left || r->off != r->len || r->crc != r->want_crc)
		return changed(r);
	return 0;
}

/* ---- random access (lazy restore) ---- */

static int map_bad(struct ckpt_map *m, const char *why)
{
	m->s->bad_seq = m->set.seq;
	return ckpt_fail(m->s, -EBADMSG, "set %" PRIu64 ": %s", m->set.seq, why);
}

/* The table, copied out and checked against the entries before it. */
static int map_table(struct ckpt_map *m, uint64_t off, uint64_t size, uint64_t want)
{
	struct ckpt_chunks_head head;
	uint32_t tcrc;
	uint8_t *copy;

	if (size < sizeof(head) + 4 || (size - sizeof(head) - 4) / 4 != want ||
	    (size - sizeof(head) - 4) % 4)
		return map_bad(m, "its chunk table does not fit its files");
	copy = malloc(size);
	if (!copy)
		return ckpt_fail(m->s, -ENOMEM, "out of memory");
	memcpy(copy, m->payload + off, size);
	memcpy(&head, copy, sizeof(head));
	memcpy(&tcrc, copy + size - 4, 4);
	if (le32toh(tcrc) != crc_update(crc_init(), copy, size - 4) ||
	    le32toh(head.magic) != CKPT_CHUNKS_MAGIC || le32toh(head.chunk_size) != CKPT_CHUNK_SIZE ||
	    le32toh(head.nr_files) != m->nr_files || head.reserved || le64toh(head.nr_chunks) != want) {
		free(copy);
		return map_bad(m, "its chunk table is not valid");
	}
	memmove(copy, copy + sizeof(head), 4 * want);
	m->crc = (uint32_t *)(void *)copy;
	m->nr_chunks = want;
	return 0;
}

int ckpt_map_open(struct ckpt_store *s, const struct ckpt_info *set, struct ckpt_map *m)
{
	struct ckpt_slot_header h;
	struct ckpt_info now;
	struct ckpt_file_entry e;
	uint64_t off = 0, chunks = 0;
	int rc;

	memset(m, 0, sizeof(*m));
	m->s = s;
	m->bounce_file = -1;
	if (set->slot >= s->nr_slots)
		return ckpt_fail(s, -EINVAL, "no slot %u", set->slot);
	if (check_header(s, set->slot, &h, &now) != CKPT_OK || now.seq != set->seq ||
	    now.payload_len != set->payload_len || now.payload_crc != set->payload_crc ||
	    now.nr_files != set->nr_files || now.state != CKPT_STATE_COMMITTED)
		return ckpt_fail(s, -ESTALE, "set %" PRIu64 " in slot %u changed since it was listed",
			    set->seq, set->slot);
	if (need(s, set->slot, now.payload_len))
		return ckpt_fail(s, -ENOMEM, "set %" PRIu64 ": cannot map it", set->seq);
	m->set = now;
	m->payload = slot_base(s, set->slot) + HDR_SIZE;
	if (walk_files(m->payload, now.payload_len, now.nr_files) != CKPT_OK)
		return map_bad(m, "its file entries are not valid");
	if (!now.nr_files)
		return ckpt_fail(s, -ENOTSUP, "set %" PRIu64 " has no chunk table", now.seq);
	m->files = calloc(now.nr_files, sizeof(*m->files));
	m->bounce = malloc(CKPT_CHUNK_SIZE);
	if (!m->files || !m->bounce) {
		ckpt_map_close(m);
		return ckpt_fail(s, -ENOMEM, "out of memory");
	}
	/* walk_files proved every entry in bounds and every name unique. */
	for (uint32_t i = 0; i < now.nr_files; i++) {
		struct ckpt_map_file *f = &m->files[i];

		memcpy(&e, m->payload + off, sizeof(e));
		off += ENT_SIZE;
		memcpy(f->name, e.name, sizeof(f->name));
		f->mode = le32toh(e.mode);
		f->size = le64toh(e.size);
		f->data_off = off;
		f->first_chunk = chunks;
		chunks += ckpt_chunks_of(f->size);
		off += f->size;
	}
	m->nr_files = now.nr_files - 1;
	if (strcmp(m->files[m->nr_files].name, CKPT_CHUNKS_NAME)) {
		ckpt_map_close(m);
		return ckpt_fail(s, -ENOTSUP, "set %" PRIu64 " has no chunk table", now.seq);
	}
	rc = map_table(m, m->files[m->nr_files].data_off, m->files[m->nr_files].size,
		       m->files[m->nr_files].first_chunk);
	if (rc)
		ckpt_map_close(m);
	return rc;
}

int ckpt_map_find(const struct ckpt_map *m, const char *name)
{
	for (uint32_t i = 0; i < m->nr_files; i++)
		if (!strcmp(m->files[i].name, name))
			return (int)i;
	return -ENOENT;
}

/* Copy chunk @c of @f into @dst and check the copy. */
static int copy_chunk(struct ckpt_map *m, const struct ckpt_map_file *f, uint64_t c, uint8_t *dst,
		      uint64_t *len)
{
	uint64_t start = c * CKPT_CHUNK_SIZE;

	*len = f->size - start < CKPT_CHUNK_SIZE ? f->size - start : CKPT_CHUNK_SIZE;
	memcpy(dst, m->payload + f->data_off + start, *len);
	if (crc_update(crc_init(), dst, *len) != le32toh(m->crc[f->first_chunk + c]))
		return map_bad(m, "a chunk of its data does not match its checksum");
	return 0;
}

ssize_t ckpt_map_read(struct ckpt_map *m, uint32_t file, uint64_t off, void *buf, size_t len)
{
	const struct ckpt_map_file *f;
	uint8_t *out = buf;
	size_t done = 0;

	if (file >= m->nr_files)
		return ckpt_fail(m->s, -EINVAL, "no file %u in set %" PRIu64, file, m->set.seq);
	f = &m->files[file];
	if (off >= f->size)
		return 0;
	if (len > f->size - off)
		len = (size_t)(f->size - off);
	if (len > (size_t)1 << 30)
		len = (size_t)1 << 30;
	while (done < len) {
		uint64_t pos = off + done, c = pos / CKPT_CHUNK_SIZE, in = pos % CKPT_CHUNK_SIZE, clen;
		size_t n;
		int rc;

		if (!in && len - done >= CKPT_CHUNK_SIZE) {
			/* A whole chunk: straight into the caller's buffer. */
			rc = copy_chunk(m, f, c, out + done, &clen);
			if (rc)
				return rc;
			done += (size_t)clen;
			continue;
		}
		if (m->bounce_file != (int64_t)file || m->bounce_chunk != c) {
			m->bounce_file = -1;
			rc = copy_chunk(m, f, c, m->bounce, &clen);
			if (rc)
				return rc;
			m->bounce_file = file;
			m->bounce_chunk = c;
		}
		clen = f->size - c * CKPT_CHUNK_SIZE;
		if (clen > CKPT_CHUNK_SIZE)
			clen = CKPT_CHUNK_SIZE;
		n = (size_t)(clen - in) < len - done ? (size_t)(clen - in) : len - done;
		memcpy(out + done, m->bounce + in, n);
		done += n;
	}
	return (ssize_t)done;
}

void ckpt_map_close(struct ckpt_map *m)
{
	free(m->files);
	free(m->crc);
	free(m->bounce);
	m->files = NULL;
	m->crc = NULL;
	m->bounce = NULL;
}
