/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * liborthros: the partition link as user space sees it.  Two backends
 * behind one ops table:
 *   - device:  /dev/orthros of orthros.ko (inside a partition);
 *   - ivshmem: the doorbell server's protocol spoken from user space (the
 *     host controller, tools, and tests that need no guest).  It runs the
 *     same heartbeat and watcher code as the kernel, driven by a timerfd.
 * Callers poll orthros_link_fd() for POLLIN and then drain
 * orthros_link_next_event() until -EAGAIN.
 */
#ifndef ORTHROS_LINK_H
#define ORTHROS_LINK_H

#include <stdint.h>

#include "orthros_proto.h"

struct orthros_link;

int orthros_link_open_device(const char *path, struct orthros_link **out);
int orthros_link_open_ivshmem(const char *socket_path, struct orthros_link **out);
void orthros_link_close(struct orthros_link *l);

int orthros_link_fd(struct orthros_link *l);
/* 0 with *ev filled, -EAGAIN when none is pending, or -errno. */
int orthros_link_next_event(struct orthros_link *l, struct orthros_event *ev);
/* Wait up to @timeout_ms for the next event (-1: forever); -ETIMEDOUT. */
int orthros_link_wait_event(struct orthros_link *l, struct orthros_event *ev,
			    int timeout_ms);

int orthros_link_info(struct orthros_link *l, struct orthros_info *info);
int orthros_link_set_role(struct orthros_link *l, uint32_t generation, uint32_t role);
int orthros_link_set_heartbeat(struct orthros_link *l, uint32_t interval_us,
			       uint32_t timeout_us);
int orthros_link_set_peers(struct orthros_link *l, uint64_t mask);
int orthros_link_ring(struct orthros_link *l, uint32_t peer, uint32_t vector);
/* Mark our record PANIC or STOPPING and ring everyone (user-space peers only). */
int orthros_link_announce(struct orthros_link *l, uint32_t state, const char *reason);

/* Read-only view of the shared region. */
const void *orthros_link_shm(struct orthros_link *l, uint64_t *size);

/* Backend plumbing. */
struct orthros_link_ops {
	void (*close)(struct orthros_link *l);
	int (*fd)(struct orthros_link *l);
	int (*next_event)(struct orthros_link *l, struct orthros_event *ev);
	int (*info)(struct orthros_link *l, struct orthros_info *info);
	int (*set_role)(struct orthros_link *l, uint32_t generation, uint32_t role);
	int (*set_heartbeat)(struct orthros_link *l, uint32_t interval_us, uint32_t timeout_us);
	int (*set_peers)(struct orthros_link *l, uint64_t mask);
	int (*ring)(struct orthros_link *l, uint32_t peer, uint32_t vector);
	int (*announce)(struct orthros_link *l, uint32_t state, const char *reason);
	const void *(*shm)(struct orthros_link *l, uint64_t *size);
};

struct orthros_link {
	const struct orthros_link_ops *ops;
};

/* Same limits as the kernel module's. */
int orthros_link_check_timing(uint32_t interval_us, uint32_t timeout_us);

#endif
