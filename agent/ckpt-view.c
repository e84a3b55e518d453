// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The flattened view of a chain (ckpt-view.h).
 *
 * A pagemap image is CRIU's two magics, then a 32-bit length and a
 * pagemap_head, then a length and a pagemap_entry per run of pages, by
 * address.  An entry is either present (its pages are the next ones in
 * the set's pages-<pages_id>.img, in entry order) or in the parent (the
 * same addresses, looked up in the parent set's pagemap of the same name,
 * and so on down).  Flattening resolves every entry of the newest set to
 * the set that holds its pages, and writes one pagemap whose entries are
 * all present, in a pages file made of extents of the sets' own.
 */
#include "config.h"

#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt-view.h"
#include "pagemap.pb-c.h"

#define IMG_COMMON_MAGIC	0x54564319u
#define IMG_SERVICE_MAGIC	0x55105940u
#define PAGEMAP_MAGIC		0x56084025u

#define PE_PARENT		0x1u
#define PE_LAZY			0x2u
#define PE_PRESENT		0x4u

/* A pagemap is a few dozen bytes per mapping; this is far above any. */
#define PAGEMAP_MAX		(64u << 20)


/* A set whose images cannot be what they claim: the restore refuses it. */
__attribute__((format(printf, 3, 4)))
static int bad(struct ckpt_view *v, unsigned int k, const char *fmt, ...)
{
	char why[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	v->s->bad_seq = v->map[k].set.seq;
	return ckpt_fail(v->s, -EBADMSG, "set %" PRIu64 ": %s", v->map[k].set.seq, why);
}

struct pm_entry {
	uint64_t vaddr, end;	/* bytes */
	uint32_t flags;
	uint64_t src;		/* PE_PRESENT: offset in the pages file */
};

struct pagemap {
	bool loaded, missing;
	uint32_t magic0, pages_id;
	int pages_file;		/* in the set's map, or -1 (no pages file) */
	size_t n;
	struct pm_entry *e;
};

/* The output: entries of the flattened pagemap, extents of its pages file. */
struct flat {
	struct pm_entry *e;
	size_t n, cap;
	struct ckpt_view_extent *x;
	size_t nx, xcap;
	uint64_t size;		/* of the pages file so far */
};

static int grow(void **p, size_t *cap, size_t need, size_t each)
{
	size_t c = *cap ? *cap : 16;
	void *q;

	if (need <= *cap)
		return 0;
	while (c < need)
		c *= 2;
	q = realloc(*p, c * each);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = c;
	return 0;
}

/*
 * Read and validate pagemap @name of set @k.  A set without the file
 * (a task that did not exist yet) is "missing", which only matters if a
 * child refers to it.
 */
static int load(struct ckpt_view *v, unsigned int k, const char *name, struct pagemap *pm)
{
	struct ckpt_map *m = &v->map[k];
	uint32_t magic[2], len;
	uint64_t pages_size = 0, off, next = 0;
	uint8_t *buf = NULL;
	int f, rc = 0;
	char pages[64];
	size_t size, pos, cap = 0;
	bool head = false;

	memset(pm, 0, sizeof(*pm));
	pm->loaded = true;
	pm->pages_file = -1;
	f = ckpt_map_find(m, name);
	if (f < 0) {
		pm->missing = true;
		return 0;
	}
	if (m->files[f].size > PAGEMAP_MAX || m->files[f].size < 8)
		return bad(v, k, "%s: %" PRIu64 " bytes is no pagemap", name, m->files[f].size);
	size = (size_t)m->files[f].size;
	buf = malloc(size);
	if (!buf)
		return ckpt_fail(v->s, -ENOMEM, "out of memory");
	if (ckpt_map_read(m, (uint32_t)f, 0, buf, size) != (ssize_t)size) {
		free(buf);
		return -EBADMSG;	/* the map said which chunk */
	}
	memcpy(magic, buf, 8);
	pm->magic0 = le32toh(magic[0]);
	if ((pm->magic0 != IMG_COMMON_MAGIC && pm->magic0 != IMG_SERVICE_MAGIC) ||
	    le32toh(magic[1]) != PAGEMAP_MAGIC) {
		rc = ckpt_fail(v->s, -ENOTSUP, "set %" PRIu64 ": %s is not a pagemap image this reader knows",
			  m->set.seq, name);
		goto out;
	}
	for (pos = 8; pos < size;) {
		PagemapEntry *pe;
		uint32_t flags;

		if (size - pos < 4) {
			rc = bad(v, k, "%s: a torn entry at byte %zu", name, pos);
			goto out;
		}
		memcpy(&len, buf + pos, 4);
		len = le32toh(len);
		pos += 4;
		if (len > size - pos) {
			rc = bad(v, k, "%s: an entry past its end at byte %zu", name, pos);
			goto out;
		}
		if (!head) {
			PagemapHead *h = pagemap_head__unpack(NULL, len, buf + pos);

			if (!h) {
				rc = bad(v, k, "%s: its head does not parse", name);
				goto out;
			}
			pm->pages_id = h->pages_id;
			pagemap_head__free_unpacked(h, NULL);
			head = true;
			snprintf(pages, sizeof(pages), "pages-%" PRIu32 ".img", pm->pages_id);
			pm->pages_file = ckpt_map_find(m, pages);
			if (pm->pages_file >= 0)
				pages_size = m->files[pm->pages_file].size;
			pos += len;
			continue;
		}
		pe = pagemap_entry__unpack(NULL, len, buf + pos);
		if (!pe) {
			rc = bad(v, k, "%s: an entry does not parse", name);
			goto out;
		}
		flags = pe->has_flags ? pe->flags : (pe->has_in_parent && pe->in_parent ? PE_PARENT : PE_PRESENT);
		if (grow((void **)&pm->e, &cap, next + 1, sizeof(*pm->e))) {
			pagemap_entry__free_unpacked(pe, NULL);
			rc = ckpt_fail(v->s, -ENOMEM, "out of memory");
			goto out;
		}
		pm->e[next].vaddr = pe->vaddr;
		pm->e[next].end = pe->vaddr + (uint64_t)pe->nr_pages * CKPT_PAGE_SIZE;
		pm->e[next].flags = flags;
		if (pe->vaddr % CKPT_PAGE_SIZE || !pe->nr_pages ||
		    pm->e[next].end <= pe->vaddr ||
		    (next && pe->vaddr < pm->e[next - 1].end)) {
			pagemap_entry__free_unpacked(pe, NULL);
			rc = bad(v, k, "%s: entry %" PRIu64 " is out of order or not page-aligned", name, next);
			goto out;
		}
		/*
		 * Pages neither here nor in the parent (a lazy dump's, left on a
		 * page server) or flags from a newer CRIU: not for this reader to
		 * judge; CRIU may know them, from an extracted copy.
		 */
		if ((flags & ~(PE_PARENT | PE_LAZY | PE_PRESENT)) ||
		    !(flags & PE_PRESENT) == !(flags & PE_PARENT)) {
			pagemap_entry__free_unpacked(pe, NULL);
			rc = ckpt_fail(v->s, -ENOTSUP, "set %" PRIu64 ": %s: entry %" PRIu64 " has flags 0x%x this reader does not serve",
				       v->map[k].set.seq, name, next, flags);
			goto out;
		}
		pagemap_entry__free_unpacked(pe, NULL);
		next++;
		pos += len;
	}
	if (!head) {
		rc = bad(v, k, "%s has no head", name);
		goto out;
	}
	/* Present runs take the pages file's pages in order. */
	for (off = 0, pm->n = 0; pm->n < next; pm->n++) {
		struct pm_entry *e = &pm->e[pm->n];

		if (!(e->flags & PE_PRESENT))
			continue;
		e->src = off;
		off += e->end - e->vaddr;
		if (off > pages_size) {
			rc = bad(v, k, "%s names %" PRIu64 " bytes of pages, its pages file holds %" PRIu64,
				 name, off, pages_size);
			goto out;
		}
	}
out:
	free(buf);
	if (rc) {
		free(pm->e);
		pm->e = NULL;
		pm->n = 0;
	}
	return rc;
}

static int emit(struct ckpt_view *v, struct flat *fl, uint64_t a, uint64_t b, bool lazy,
		unsigned int k, const struct pagemap *pm, uint64_t src)
{
	struct pm_entry *last = fl->n ? &fl->e[fl->n - 1] : NULL;
	struct ckpt_view_extent *lx = fl->nx ? &fl->x[fl->nx - 1] : NULL;
	uint32_t flags = PE_PRESENT | (lazy ? PE_LAZY : 0);

	if (last && last->end == a && last->flags == flags) {
		last->end = b;
	} else {
		if (grow((void **)&fl->e, &fl->cap, fl->n + 1, sizeof(*fl->e)))
			return ckpt_fail(v->s, -ENOMEM, "out of memory");
		fl->e[fl->n++] = (struct pm_entry){ .vaddr = a, .end = b, .flags = flags };
	}
	if (lx && lx->set == k && lx->file == (uint32_t)pm->pages_file && lx->src + lx->len == src) {
		lx->len += b - a;
	} else {
		if (grow((void **)&fl->x, &fl->xcap, fl->nx + 1, sizeof(*fl->x)))
			return ckpt_fail(v->s, -ENOMEM, "out of memory");
		fl->x[fl->nx++] = (struct ckpt_view_extent){
			.dst = fl->size, .len = b - a, .src = src, .set = k,
			.file = (uint32_t)pm->pages_file,
		};
	}
	fl->size += b - a;
	if (lazy)
		v->lazy_pages += (b - a) / CKPT_PAGE_SIZE;
	else
		v->eager_pages += (b - a) / CKPT_PAGE_SIZE;
	return 0;
}

/* The pages of [a, b) as set @k sees them: its own, or down to its parent's. */
static int resolve(struct ckpt_view *v, struct pagemap *pms, unsigned int k, const char *name,
		   uint64_t a, uint64_t b, struct flat *fl)
{
	struct pagemap *pm = &pms[k];
	size_t lo = 0, hi;
	int rc;

	if (!pm->loaded && (rc = load(v, k, name, pm)))
		return rc;
	if (pm->missing)
		return bad(v, k - 1, "%s takes pages from its parent, which has no %s", name, name);
	/* The first entry that ends after a. */
	for (hi = pm->n; lo < hi;) {
		size_t mid = lo + (hi - lo) / 2;

		if (pm->e[mid].end <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	while (a < b) {
		const struct pm_entry *e = lo < pm->n ? &pm->e[lo] : NULL;
		uint64_t end;

		if (!e || e->vaddr > a)
			return bad(v, k ? k - 1 : 0, "%s takes page 0x%" PRIx64 " from its parent, which does not hold it",
				   name, a);
		end = e->end < b ? e->end : b;
		if (e->flags & PE_PRESENT) {
			if (pm->pages_file < 0)
				return bad(v, k, "%s has present pages but no pages file", name);
			rc = emit(v, fl, a, end, (e->flags & PE_LAZY) && !(k == 0 && v->hot_eager), k, pm,
				  e->src + (a - e->vaddr));
		} else if (k + 1 >= v->n) {
			rc = bad(v, k, "%s takes pages from a parent outside the chain", name);
		} else {
			rc = resolve(v, pms, k + 1, name, a, end, fl);
		}
		if (rc)
			return rc;
		a = end;
		lo++;
	}
	return 0;
}

static int put_msg(uint8_t **buf, size_t *len, size_t *cap, const ProtobufCMessage *msg)
{
	size_t n = protobuf_c_message_get_packed_size(msg);
	uint32_t le = htole32((uint32_t)n);

	if (grow((void **)buf, cap, *len + 4 + n, 1))
		return -ENOMEM;
	memcpy(*buf + *len, &le, 4);
	protobuf_c_message_pack(msg, *buf + *len + 4);
	*len += 4 + n;
	return 0;
}

static int new_file(struct ckpt_view *v, const char *name, uint32_t mode, struct ckpt_view_file **f)
{
	struct ckpt_view_file *p = realloc(v->files, (v->nr_files + 1) * sizeof(*p));

	if (!p)
		return ckpt_fail(v->s, -ENOMEM, "out of memory");
	v->files = p;
	*f = &p[v->nr_files++];
	memset(*f, 0, sizeof(**f));
	snprintf((*f)->name, sizeof((*f)->name), "%s", name);
	(*f)->mode = mode;
	return 0;
}

/*
 * The newest set of a chain holds the pages written since the checkpoint
 * before it: what the group was working on when it was dumped, and what
 * it touches first when it runs again.  Restored eagerly (with the tree,
 * before it runs) they cost no fault each after it starts; the rest of the
 * memory stays lazy.  Only when they are few: a big increment restored
 * eagerly would delay the start as a full restore does.
 */
static bool hot_is_small(const struct pagemap *pm, unsigned int n)
{
	uint64_t pages = 0;

	if (n < 2)
		return false;	/* a dump by itself: all of it is "new" */
	for (size_t i = 0; i < pm->n; i++)
		if ((pm->e[i].flags & (PE_PRESENT | PE_LAZY)) == (PE_PRESENT | PE_LAZY))
			pages += (pm->e[i].end - pm->e[i].vaddr) / CKPT_PAGE_SIZE;
	return pages <= CKPT_VIEW_HOT_MAX;
}

/* Flatten pagemap @name of the newest set into two view files. */
static int flatten(struct ckpt_view *v, uint32_t file)
{
	const char *name = v->map[0].files[file].name;
	struct pagemap *pms = calloc(v->n, sizeof(*pms));
	struct flat fl = { 0 };
	struct ckpt_view_file *out;
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0;
	uint32_t magic[2];
	char pages[64];
	int rc;

	if (!pms)
		return ckpt_fail(v->s, -ENOMEM, "out of memory");
	rc = load(v, 0, name, &pms[0]);
	if (rc)
		goto out;
	v->hot_eager = hot_is_small(&pms[0], v->n);
	snprintf(pages, sizeof(pages), "pages-%" PRIu32 ".img", pms[0].pages_id);
	if (ckpt_view_find(v, name) >= 0 || ckpt_view_find(v, pages) >= 0) {
		rc = ckpt_fail(v->s, -ENOTSUP, "set %" PRIu64 ": two pagemaps name %s", v->map[0].set.seq, pages);
		goto out;
	}
	for (size_t i = 0; i < pms[0].n && !rc; i++)
		rc = resolve(v, pms, 0, name, pms[0].e[i].vaddr, pms[0].e[i].end, &fl);
	if (rc)
		goto out;

	magic[0] = htole32(pms[0].magic0);
	magic[1] = htole32(PAGEMAP_MAGIC);
	rc = grow((void **)&buf, &cap, 8, 1);
	if (!rc) {
		PagemapHead head = PAGEMAP_HEAD__INIT;

		memcpy(buf, magic, 8);
		len = 8;
		head.pages_id = pms[0].pages_id;
		rc = put_msg(&buf, &len, &cap, &head.base);
	}
	for (size_t i = 0; i < fl.n && !rc; i++) {
		PagemapEntry pe = PAGEMAP_ENTRY__INIT;

		pe.vaddr = fl.e[i].vaddr;
		pe.nr_pages = (uint32_t)((fl.e[i].end - fl.e[i].vaddr) / CKPT_PAGE_SIZE);
		pe.has_flags = 1;
		pe.flags = fl.e[i].flags;
		if ((uint64_t)pe.nr_pages * CKPT_PAGE_SIZE != fl.e[i].end - fl.e[i].vaddr) {
			/* Merged past what one entry can say: split. */
			uint64_t a = fl.e[i].vaddr;

			while (a < fl.e[i].end && !rc) {
				uint64_t n = (fl.e[i].end - a) / CKPT_PAGE_SIZE;

				pe.vaddr = a;
				pe.nr_pages = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
				rc = put_msg(&buf, &len, &cap, &pe.base);
				a += (uint64_t)pe.nr_pages * CKPT_PAGE_SIZE;
			}
			continue;
		}
		rc = put_msg(&buf, &len, &cap, &pe.base);
	}
	if (rc) {
		rc = ckpt_fail(v->s, -ENOMEM, "out of memory");
		goto out;
	}
	rc = new_file(v, name, v->map[0].files[file].mode, &out);
	if (rc)
		goto out;
	out->kind = CKPT_VIEW_BUFFER;
	out->buf = buf;
	out->size = len;
	buf = NULL;
	rc = new_file(v, pages, 0600, &out);
	if (rc)
		goto out;
	out->kind = CKPT_VIEW_EXTENTS;
	out->ext = fl.x;
	out->nr_ext = (uint32_t)fl.nx;
	out->size = fl.size;
	fl.x = NULL;
out:
	for (unsigned int k = 0; k < v->n; k++)
		free(pms[k].e);
	free(pms);
	free(fl.e);
	free(fl.x);
	free(buf);
	return rc;
}

int ckpt_view_find(const struct ckpt_view *v, const char *name)
{
	for (uint32_t i = 0; i < v->nr_files; i++)
		if (!strcmp(v->files[i].name, name))
			return (int)i;
	return -ENOENT;
}

int ckpt_view_open(struct ckpt_store *s, const struct ckpt_chain *chain, struct ckpt_view *v)
{
	struct ckpt_map *top;
	int rc = 0;

	memset(v, 0, sizeof(*v));
	v->s = s;
	if (!chain->n || chain->n > CKPT_MAX_SLOTS)
		return ckpt_fail(s, -EINVAL, "no chain to view");
	v->map = calloc(chain->n, sizeof(*v->map));
	if (!v->map)
		return ckpt_fail(s, -ENOMEM, "out of memory");
	for (unsigned int k = 0; k < chain->n && !rc; k++) {
		rc = ckpt_map_open(s, &chain->set[k], &v->map[k]);
		if (!rc)
			v->n = k + 1;
	}
	if (rc)
		goto out;
	top = &v->map[0];
	for (uint32_t i = 0; i < top->nr_files && !rc; i++)
		if (!strncmp(top->files[i].name, "pagemap-", 8) &&
		    strlen(top->files[i].name) > 12 &&
		    !strcmp(top->files[i].name + strlen(top->files[i].name) - 4, ".img"))
			rc = flatten(v, i);
	/* Everything else as it is, but the pages files the flat pagemaps replaced. */
	for (uint32_t i = 0; i < top->nr_files && !rc; i++) {
		struct ckpt_view_file *f;

		if (ckpt_view_find(v, top->files[i].name) >= 0)
			continue;
		rc = new_file(v, top->files[i].name, top->files[i].mode, &f);
		if (!rc) {
			f->kind = CKPT_VIEW_STORE;
			f->file = i;
			f->size = top->files[i].size;
		}
	}
out:
	if (rc)
		ckpt_view_close(v);
	return rc;
}

ssize_t ckpt_view_read(struct ckpt_view *v, uint32_t file, uint64_t off, void *buf, size_t len)
{
	const struct ckpt_view_file *f;
	uint8_t *out = buf;
	size_t done = 0;
	uint32_t lo = 0, hi;

	if (file >= v->nr_files)
		return ckpt_fail(v->s, -EINVAL, "no file %u in the view", file);
	f = &v->files[file];
	if (off >= f->size)
		return 0;
	if (len > f->size - off)
		len = (size_t)(f->size - off);
	switch (f->kind) {
	case CKPT_VIEW_STORE:
		return ckpt_map_read(&v->map[0], f->file, off, buf, len);
	case CKPT_VIEW_BUFFER:
		memcpy(buf, f->buf + off, len);
		return (ssize_t)len;
	case CKPT_VIEW_EXTENTS:
		break;
	}
	/* The last extent that starts at or before off. */
	for (hi = f->nr_ext; lo + 1 < hi;) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (f->ext[mid].dst <= off)
			lo = mid;
		else
			hi = mid;
	}
	while (done < len && lo < f->nr_ext) {
		const struct ckpt_view_extent *x = &f->ext[lo];
		uint64_t in = off + done - x->dst;
		size_t n = x->len - in < len - done ? (size_t)(x->len - in) : len - done;
		ssize_t got = ckpt_map_read(&v->map[x->set], x->file, x->src + in, out + done, n);

		if (got < 0)
			return got;
		if ((size_t)got != n)
			return ckpt_fail(v->s, -EBADMSG, "set %" PRIu64 ": its pages file is shorter than its pagemap says",
				    v->map[x->set].set.seq);
		done += n;
		lo++;
	}
	return (ssize_t)done;
}

void ckpt_view_close(struct ckpt_view *v)
{
	for (uint32_t i = 0; i < v->nr_files; i++) {
		free(v->files[i].buf);
		free(v->files[i].ext);
	}
	free(v->files);
	for (unsigned int k = 0; k < v->n; k++)
		ckpt_map_close(&v->map[k]);
	free(v->map);
	memset(v, 0, sizeof(*v));
}
