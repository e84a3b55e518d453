// SPDX-License-Identifier: GPL-2.0-or-later
/* liborthros backend: /dev/orthros, served by orthros.ko. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "link.h"

struct dev_link {
	struct orthros_link base;
	int fd;
	void *shm;
	uint64_t shm_size;
};

static struct dev_link *dl(struct orthros_link *l)
{
	return (struct dev_link *)l;
}

static void dev_close(struct orthros_link *l)
{
	struct dev_link *d = dl(l);

	if (d->shm)
		munmap(d->shm, d->shm_size);
	close(d->fd);
	free(d);
}

static int dev_fd(struct orthros_link *l)
{
	return dl(l)->fd;
}

static int dev_next_event(struct orthros_link *l, struct orthros_event *ev)
{
	ssize_t n = read(dl(l)->fd, ev, sizeof(*ev));

	if (n < 0)
		return -errno;
	return n == (ssize_t)sizeof(*ev) ? 0 : -EIO;
}

static int dev_ioctl(struct orthros_link *l, unsigned long cmd, void *arg)
{
	return ioctl(dl(l)->fd, cmd, arg) < 0 ? -errno : 0;
}

static int dev_info(struct orthros_link *l, struct orthros_info *info)
{
	return dev_ioctl(l, ORTHROS_IOC_GET_INFO, info);
}

static int dev_set_role(struct orthros_link *l, uint32_t generation, uint32_t role)
{
	struct orthros_role_req r = { generation, role };

	return dev_ioctl(l, ORTHROS_IOC_SET_ROLE, &r);
}

static int dev_set_heartbeat(struct orthros_link *l, uint32_t iv, uint32_t to)
{
	struct orthros_hb_req r = { iv, to };

	return dev_ioctl(l, ORTHROS_IOC_SET_HEARTBEAT, &r);
}

static int dev_set_peers(struct orthros_link *l, uint64_t mask)
{
	return dev_ioctl(l, ORTHROS_IOC_SET_PEERS, &mask);
}

static int dev_ring(struct orthros_link *l, uint32_t peer, uint32_t vector)
{
	struct orthros_ring_req r = { peer, vector };

	return dev_ioctl(l, ORTHROS_IOC_RING, &r);
}

/* The kernel announces its own death and stops; user space cannot fake it. */
static int dev_announce(struct orthros_link *l, uint32_t state, const char *reason)
{
	(void)l;
	(void)state;
	(void)reason;
	return -EOPNOTSUPP;
}

static const void *dev_shm(struct orthros_link *l, uint64_t *size)
{
	*size = dl(l)->shm_size;
	return dl(l)->shm;
}

static const struct orthros_link_ops dev_ops = {
	.close = dev_close,
	.fd = dev_fd,
	.next_event = dev_next_event,
	.info = dev_info,
	.set_role = dev_set_role,
	.set_heartbeat = dev_set_heartbeat,
	.set_peers = dev_set_peers,
	.ring = dev_ring,
	.announce = dev_announce,
	.shm = dev_shm,
};

int orthros_link_open_device(const char *path, struct orthros_link **out)
{
	struct orthros_info info;
	struct dev_link *d = calloc(1, sizeof(*d));
	int rc;

	if (!d)
		return -ENOMEM;
	d->base.ops = &dev_ops;
	d->fd = open(path ? path : "/dev/orthros", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (d->fd < 0) {
		rc = -errno;
		free(d);
		return rc;
	}
	rc = dev_info(&d->base, &info);
	if (rc) {
		dev_close(&d->base);
		return rc;
	}
	d->shm_size = info.shm_size;
	d->shm = mmap(NULL, d->shm_size, PROT_READ, MAP_SHARED, d->fd, 0);
	if (d->shm == MAP_FAILED) {
		rc = -errno;
		d->shm = NULL;
		dev_close(&d->base);
		return rc;
	}
	*out = &d->base;
	return 0;
}
