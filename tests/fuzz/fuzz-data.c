// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for the manifest of a group's data paths
 * (agent/ckpt-data.c): it comes from the store, written by the peer
 * partition, and tells a restore which files to write as root.  Whatever
 * the input, the parser must stay inside it, and every entry it hands on
 * must be a normalised path at or below the configured data path, of a
 * known kind, with permission bits only; and it hands on nothing at all
 * unless the whole manifest is valid.
 */
#include <stdlib.h>
#include <string.h>

#include "ckpt-data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int entries;

static int check(void *arg, const struct ckpt_data_entry *e)
{
	const struct ckpt_data_paths *p = arg;

	if ((e->kind != 'D' && e->kind != 'F') || e->mode > 07777 ||
	    !ckpt_data_path_allowed(p, e->path) || strstr(e->path, "/../") || strstr(e->path, "//"))
		abort();
	entries++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ckpt_data_paths p;
	char msg[256];
	int rc;

	if (!p.n && ckpt_data_add_path(&p, "/srv/orthros"))
		abort();
	entries = 0;
	rc = ckpt_data_parse((const char *)data, size, &p, check, &p, msg, sizeof(msg));
	/* all or nothing */
	if (rc && entries)
		abort();
	return 0;
}
