/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Where the checkpoint store lives: a regular file (tests, the host side),
 * or the ivshmem-plain BAR that every partition of the machine maps
 * (/sys/bus/pci/devices/.../resource2).  Opening one maps it and picks the
 * store's sync hook: msync for a file, nothing for a BAR (the memory is
 * shared with the reader; sysfs has no fsync, so msync fails there).
 */
#ifndef ORTHROS_CKPT_REGION_H
#define ORTHROS_CKPT_REGION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ckpt-store.h"

/* The QEMU ivshmem device (both flavours): PCI vendor and device id. */
#define CKPT_IVSHMEM_VENDOR 0x1af4
#define CKPT_IVSHMEM_DEVICE 0x1110

struct ckpt_region {
	void *base;
	uint64_t size;		/* bytes mapped */
	int fd;
	bool is_bar;		/* a sysfs resource file, not a regular file */
	bool sparse;		/* only what was asked for is mapped */
	uint64_t slots_offset, slot_size;	/* sparse: the store's geometry */
	uint64_t mapped[CKPT_MAX_SLOTS];	/* sparse: bytes of each slot mapped */
	char path[4096];
};

/*
 * Find the store's device under @sysfs (normally "/sys"): the 1af4:1110
 * function whose BAR1 is empty (ivshmem-plain; the doorbell device has its
 * MSI-X table there).  The path of its resource2 in @path.  The function is
 * enabled if no driver did it (memory decoding off would read all ones).
 * -ENODEV if there is none, -EEXIST if there are several.
 */
int ckpt_region_find_pci(const char *sysfs, char *path, size_t len);

/*
 * Map @path ("auto" or "pci": ckpt_region_find_pci() under /sys).  A
 * regular file is sized to @want bytes first when @want is not 0 (and
 * created with @create); a BAR is never resized.  -errno on failure, with
 * a message in @msg.
 */
int ckpt_region_map(const char *path, bool writable, bool create, uint64_t want,
		    struct ckpt_region *r, char *msg, size_t msglen);
void ckpt_region_unmap(struct ckpt_region *r);

/* The sync hook a store in @r needs (NULL for a BAR). */
int (*ckpt_region_sync(const struct ckpt_region *r))(void *, void *, uint64_t);

/* Map @path and open the store in it; -EBADMSG if it is not formatted. */
int ckpt_region_open_store(const char *path, bool writable, struct ckpt_region *r,
			   struct ckpt_store *s, char *msg, size_t msglen);

/*
 * The same, read-only and sparse, for a restore: the region's addresses
 * are reserved, but only the superblock and the slot headers are mapped,
 * and a set's payload when the store first reads it (the store's need
 * hook).  A BAR's mapping is populated whole when it is made and copied
 * whole by fork (the lazy restore's view server): for a 4 GiB store under
 * TCG that was about 250 ms of a 760 ms lazy restore.  Reading a slot the
 * store was not asked for faults (the reservation is PROT_NONE).
 */
int ckpt_region_open_sparse(const char *path, struct ckpt_region *r, struct ckpt_store *s,
			    char *msg, size_t msglen);

#endif /* ORTHROS_CKPT_REGION_H */
