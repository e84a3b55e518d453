/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The doorbell server: Orthros's implementation of the ivshmem-server
 * protocol (Debian ships none).  It owns the shared region, formats it in
 * the Orthros layout, hands it and every peer's eventfds to each QEMU
 * (ivshmem-doorbell) or user-space peer that connects, and tells the others
 * when a peer comes or goes.  It runs inside a libqb main loop.
 */
#ifndef ORTHROS_DOORBELL_SERVER_H
#define ORTHROS_DOORBELL_SERVER_H

#include <stdint.h>
#include <qb/qbloop.h>

struct doorbell_server;

struct doorbell_config {
	const char *socket_path;
	const char *shm_path;	/* NULL: an anonymous memfd */
	uint64_t shm_size;
	unsigned int vectors;	/* eventfds per peer */
};

int doorbell_server_start(qb_loop_t *loop, const struct doorbell_config *cfg,
			  struct doorbell_server **out);
void doorbell_server_stop(struct doorbell_server *s);

/* Number of peers currently connected (for tests and status). */
unsigned int doorbell_server_peers(const struct doorbell_server *s);

#endif
