// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Mapping the checkpoint store: a file or the shared ivshmem-plain BAR.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "ckpt-region.h"

__attribute__((format(printf, 4, 5)))
static int say(char *msg, size_t len, int err, const char *fmt, ...)
{
	va_list ap;

	if (msg && len) {
		va_start(ap, fmt);
		vsnprintf(msg, len, fmt, ap);
		va_end(ap);
	}
	return err;
}

static int read_small(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

static bool hex_is(const char *path, unsigned long want)
{
	char buf[32];

	return !read_small(path, buf, sizeof(buf)) && strtoul(buf, NULL, 16) == want;
}

/* Length of BAR @bar from the device's "resource" file (one line per BAR). */
static uint64_t bar_len(const char *dev, int bar)
{
	char path[4096], line[128];
	unsigned long long start, end, flags;
	uint64_t len = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/resource", dev);
	f = fopen(path, "re");
	if (!f)
		return 0;
	for (int i = 0; fgets(line, sizeof(line), f); i++)
		if (i == bar) {
			if (sscanf(line, "%llx %llx %llx", &start, &end, &flags) == 3 && end > start)
				len = end - start + 1;
			break;
		}
	fclose(f);
	return len;
}

int ckpt_region_find_pci(const char *sysfs, char *path, size_t len)
{
	char dir[4096], dev[4096 + 256], attr[4096 + 300];
	struct dirent *e;
	int found = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/bus/pci/devices", sysfs);
	d = opendir(dir);
	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(dev, sizeof(dev), "%s/%s", dir, e->d_name);
		snprintf(attr, sizeof(attr), "%s/vendor", dev);
		if (!hex_is(attr, CKPT_IVSHMEM_VENDOR))
			continue;
		snprintf(attr, sizeof(attr), "%s/device", dev);
		if (!hex_is(attr, CKPT_IVSHMEM_DEVICE))
			continue;
		/* BAR1 holds the doorbell device's MSI-X table: not ours. */
		if (bar_len(dev, 1) || !bar_len(dev, 2))
			continue;
		if (found++) {
			closedir(d);
			return -EEXIST;
		}
		snprintf(path, len, "%s/resource2", dev);
		/*
		 * No driver binds the plain device, and memory decoding may
		 * be off until someone enables it: then the BAR reads as all
		 * ones and writes vanish.
		 */
		snprintf(attr, sizeof(attr), "%s/enable", dev);
		char en[8];

		if (!read_small(attr, en, sizeof(en)) && en[0] == '0') {
			int fd = open(attr, O_WRONLY | O_CLOEXEC);

			if (fd >= 0) {
				if (write(fd, "1", 1) != 1) {
					/* mapping it will tell */
				}
				close(fd);
			}
		}
	}
	closedir(d);
	return found ? 0 : -ENODEV;
}

static int region_map(const char *path, bool writable, bool create, uint64_t want, bool sparse,
		      struct ckpt_region *r, char *msg, size_t msglen)
{
	struct statfs fs;
	struct stat st;
	off_t end;
	int rc;

	memset(r, 0, sizeof(*r));
	r->fd = -1;
	if (!strcmp(path, "auto") || !strcmp(path, "pci")) {
		rc = ckpt_region_find_pci("/sys", r->path, sizeof(r->path));
		if (rc == -EEXIST)
			return say(msg, msglen, rc, "several ivshmem-plain devices: name one with --region");
		if (rc)
			return say(msg, msglen, rc, "no checkpoint store device (PCI %04x:%04x without MSI-X): %s",
				   CKPT_IVSHMEM_VENDOR, CKPT_IVSHMEM_DEVICE,
				   rc == -ENODEV ? "none found" : strerror(-rc));
		create = false;
	} else {
		snprintf(r->path, sizeof(r->path), "%s", path);
	}
	r->fd = open(r->path, (writable ? O_RDWR : O_RDONLY) | (create ? O_CREAT : 0) | O_CLOEXEC, 0600);
	if (r->fd < 0 || fstat(r->fd, &st) < 0 || fstatfs(r->fd, &fs) < 0)
		goto err;
	/* A PCI resource file is a regular file whose size is the BAR's. */
	r->is_bar = fs.f_type == SYSFS_MAGIC || !S_ISREG(st.st_mode);
	if (want && !r->is_bar && (uint64_t)st.st_size != want && ftruncate(r->fd, (off_t)want) < 0)
		goto err;
	end = lseek(r->fd, 0, SEEK_END);
	if (end < 0)
		goto err;
	r->size = (uint64_t)end;
	if (r->is_bar && (uint64_t)st.st_size > r->size)
		r->size = (uint64_t)st.st_size;
	if (want && want > r->size) {
		rc = say(msg, msglen, -ENOSPC, "%s has %" PRIu64 " bytes, fewer than asked for",
			 r->path, r->size);
		close(r->fd);
		return rc;
	}
	if (want)
		r->size = want;
	if (r->size == 0) {
		close(r->fd);
		return say(msg, msglen, -ENODATA, "%s is empty; format it with --size", r->path);
	}
	r->sparse = sparse;
	if (sparse)
		r->base = mmap(NULL, (size_t)r->size, PROT_NONE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	else
		r->base = mmap(NULL, (size_t)r->size, PROT_READ | (writable ? PROT_WRITE : 0),
			       MAP_SHARED, r->fd, 0);
	if (r->base == MAP_FAILED)
		goto err;
	return 0;
err:
	rc = -errno;
	say(msg, msglen, rc, "%s: %s", r->path, strerror(errno));
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	return rc;
}

int ckpt_region_map(const char *path, bool writable, bool create, uint64_t want,
		    struct ckpt_region *r, char *msg, size_t msglen)
{
	return region_map(path, writable, create, want, false, r, msg, msglen);
}

/* Map [off, off + len) of a sparse region over its reservation, read-only. */
static int map_range(struct ckpt_region *r, uint64_t off, uint64_t len)
{
	uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE), start = off & ~(pg - 1);
	uint64_t end = off + len > r->size ? r->size : off + len;
	void *p;

	end = (end + pg - 1) & ~(pg - 1);
	if (end > r->size)
		end = r->size;	/* the last page may be partial: mmap maps it whole */
	if (start >= end)
		return 0;
	p = mmap((uint8_t *)r->base + start, (size_t)(end - start), PROT_READ,
		 MAP_SHARED | MAP_FIXED, r->fd, (off_t)start);
	return p == MAP_FAILED ? -errno : 0;
}

static int need_slot(void *ctx, uint32_t slot, uint64_t payload_len)
{
	struct ckpt_region *r = ctx;
	uint64_t want = sizeof(struct ckpt_slot_header) + payload_len;
	int rc;

	if (slot >= CKPT_MAX_SLOTS || want > r->slot_size)
		return -EINVAL;
	if (r->mapped[slot] >= want)
		return 0;
	rc = map_range(r, r->slots_offset + slot * r->slot_size, want);
	if (!rc)
		r->mapped[slot] = want;
	return rc;
}

int ckpt_region_open_sparse(const char *path, struct ckpt_region *r, struct ckpt_store *s,
			    char *msg, size_t msglen)
{
	int rc;

	memset(s, 0, sizeof(*s));
	rc = region_map(path, false, false, 0, true, r, msg, msglen);
	if (rc)
		return rc;
	rc = map_range(r, 0, sizeof(struct ckpt_super));
	if (!rc) {
		rc = ckpt_open(s, r->base, r->size);
		if (rc)
			say(msg, msglen, rc, "%s: %s", r->path, ckpt_error(s));
	} else {
		say(msg, msglen, rc, "%s: %s", r->path, strerror(-rc));
	}
	r->slots_offset = s->slots_offset;
	r->slot_size = s->slot_size;
	/* Every header: listing reads them all, and nothing else. */
	for (uint32_t i = 0; !rc && i < s->nr_slots; i++) {
		rc = map_range(r, s->slots_offset + i * s->slot_size, sizeof(struct ckpt_slot_header));
		if (rc)
			say(msg, msglen, rc, "%s: %s", r->path, strerror(-rc));
	}
	if (rc) {
		ckpt_region_unmap(r);
		return rc;
	}
	s->need = need_slot;
	s->need_ctx = r;
	return 0;
}

void ckpt_region_unmap(struct ckpt_region *r)
{
	if (r->fd < 0)
		return;
	munmap(r->base, (size_t)r->size);
	close(r->fd);
	r->fd = -1;
}

/* msync makes a file copy consistent for a reader that opens the file later. */
static int sync_file(void *ctx, void *addr, uint64_t len)
{
	long page = sysconf(_SC_PAGESIZE);
	uintptr_t start = (uintptr_t)addr & ~((uintptr_t)page - 1);

	(void)ctx;
	if (msync((void *)start, (size_t)((uintptr_t)addr + len - start), MS_SYNC) < 0)
		return -errno;
	return 0;
}

int (*ckpt_region_sync(const struct ckpt_region *r))(void *, void *, uint64_t)
{
	return r->is_bar ? NULL : sync_file;
}

int ckpt_region_open_store(const char *path, bool writable, struct ckpt_region *r,
			   struct ckpt_store *s, char *msg, size_t msglen)
{
	int rc;

	memset(s, 0, sizeof(*s));
	rc = ckpt_region_map(path, writable, false, 0, r, msg, msglen);
	if (rc)
		return rc;
	rc = ckpt_open(s, r->base, r->size);
	if (rc) {
		say(msg, msglen, rc, "%s: %s", r->path, ckpt_error(s));
		ckpt_region_unmap(r);
		return rc;
	}
	if (writable)
		s->sync = ckpt_region_sync(r);
	return 0;
}
