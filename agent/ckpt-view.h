/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A restore's view of a chain in the store, without extracting it: the
 * images of the chain's newest dump as CRIU would read them, with every
 * pagemap flattened down the chain.  A dump's pagemap names the pages it
 * took from its parent (PE_PARENT) without their bytes; CRIU reads those
 * eagerly from the parent's images even in a lazy restore, so a chain
 * that starts with a pre-dump of all memory was restored as slowly lazily
 * as fully.  Flattened, each run of pages is present in the view, taken
 * from the set that holds it, and lazy where that set marked it lazy,
 * except the newest increment's own pages when they are few: the pages
 * the group last wrote, restored with the tree so its first steps after
 * the restore do not each wait for a fault.
 *
 * Every byte comes out of the store through ckpt_map_read, so each chunk
 * is checked against its set's chunk table as it is served; nothing is
 * read before CRIU asks for it.  Pagemaps are parsed (protobuf-c) from
 * copies that were checked that way, and validated: sorted, page-aligned,
 * inside their pages file, every parent reference met by the parent.
 */
#ifndef ORTHROS_CKPT_VIEW_H
#define ORTHROS_CKPT_VIEW_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ckpt-store.h"

#define CKPT_PAGE_SIZE		4096u	/* x86-64: the images' page size */
/* An increment's own pages up to this many are restored eagerly (8 MiB). */
#define CKPT_VIEW_HOT_MAX	2048u

enum ckpt_view_kind {
	CKPT_VIEW_STORE,	/* a file of the newest set, as it is */
	CKPT_VIEW_BUFFER,	/* made here: a flattened pagemap */
	CKPT_VIEW_EXTENTS,	/* pieces of pages files down the chain */
};

struct ckpt_view_extent {
	uint64_t dst;		/* offset in the view's file */
	uint64_t len;
	uint64_t src;		/* offset in the set's file */
	uint32_t set;		/* in the chain, 0 = newest */
	uint32_t file;		/* in that set's map */
};

struct ckpt_view_file {
	char name[CKPT_NAME_LEN];
	uint32_t mode;
	uint64_t size;
	enum ckpt_view_kind kind;
	uint32_t file;				/* STORE */
	uint8_t *buf;				/* BUFFER */
	struct ckpt_view_extent *ext;		/* EXTENTS, by dst */
	uint32_t nr_ext;
};

struct ckpt_view {
	struct ckpt_store *s;
	unsigned int n;				/* sets in the chain */
	struct ckpt_map *map;			/* newest first */
	uint32_t nr_files;
	struct ckpt_view_file *files;
	uint64_t lazy_pages, eager_pages;	/* in the flattened pagemaps */
	bool hot_eager;				/* the pagemap being flattened: its newest pages eager */
};

/*
 * 0, or: -ENOTSUP when a set of @chain has no chunk table or holds a
 * pagemap this reader does not know (the caller extracts instead);
 * -EBADMSG when a set is corrupt or its pagemap names pages its parent
 * does not hold (s->bad_seq: the set to refuse); -ESTALE, -ENOMEM.
 * The message is the store's (ckpt_error).
 */
int ckpt_view_open(struct ckpt_store *s, const struct ckpt_chain *chain, struct ckpt_view *v);
int ckpt_view_find(const struct ckpt_view *v, const char *name);
/* As ckpt_map_read: the count (short at the end), or -EBADMSG. */
ssize_t ckpt_view_read(struct ckpt_view *v, uint32_t file, uint64_t off, void *buf, size_t len);
void ckpt_view_close(struct ckpt_view *v);

#endif /* ORTHROS_CKPT_VIEW_H */
