// SPDX-License-Identifier: GPL-2.0-or-later
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <qb/qblog.h>

#include "doorbell-server.h"
#include "ivshmem-wire.h"
#include "orthros_proto.h"

#define MAX_VECTORS 8

/*
 * Peers live in the record slot they will own (id % ORTHROS_MAX_PEERS), but
 * ids only ever grow: QEMU's ivshmem frees a departed peer's eventfd array
 * without forgetting it and corrupts its heap if the same id comes back.
 */
struct peer {
	int sock;		/* -1: slot free */
	uint32_t id;		/* ivshmem peer id (IVPosition) */
	int efd[MAX_VECTORS];
};

struct doorbell_server {
	qb_loop_t *loop;
	struct doorbell_config cfg;
	char socket_path[108];
	int listen_fd;
	int shm_fd;
	struct peer peers[ORTHROS_MAX_PEERS];
	uint32_t next_id;
};

static void close_peer_fds(struct doorbell_server *s, struct peer *p)
{
	for (unsigned int v = 0; v < s->cfg.vectors; v++) {
		if (p->efd[v] >= 0)
			close(p->efd[v]);
		p->efd[v] = -1;
	}
	if (p->sock >= 0)
		close(p->sock);
	p->sock = -1;
}

static void drop_peer(struct doorbell_server *s, unsigned int slot)
{
	struct peer *p = &s->peers[slot];
	uint32_t id = p->id;

	qb_loop_poll_del(s->loop, p->sock);
	close_peer_fds(s, p);
	/* A message with the id and no fd means "peer gone" (ivshmem spec). */
	for (unsigned int i = 0; i < ORTHROS_MAX_PEERS; i++)
		if (s->peers[i].sock >= 0)
			ivshmem_send(s->peers[i].sock, id, -1);
	qb_log(LOG_INFO, "peer %u (slot %u) disconnected", id, slot);
}

/* A connected peer only ever closes; anything it sends is a protocol error. */
static int32_t peer_event(int32_t fd, int32_t revents, void *data)
{
	struct doorbell_server *s = data;
	char buf[64];

	for (unsigned int slot = 0; slot < ORTHROS_MAX_PEERS; slot++) {
		if (s->peers[slot].sock != fd)
			continue;
		if ((revents & POLLIN) && read(fd, buf, sizeof(buf)) > 0) {
			qb_log(LOG_WARNING, "peer %u sent data; ivshmem peers never do, dropping it",
			       s->peers[slot].id);
		}
		drop_peer(s, slot);
		break;
	}
	return 0;
}

static int send_peer_vectors(int sock, unsigned int id, const struct peer *p,
			     unsigned int vectors)
{
	for (unsigned int v = 0; v < vectors; v++) {
		int rc = ivshmem_send(sock, id, p->efd[v]);

		if (rc)
			return rc;
	}
	return 0;
}

static int welcome(struct doorbell_server *s, unsigned int slot)
{
	struct peer *np = &s->peers[slot];
	int rc;

	rc = ivshmem_send(np->sock, IVSHMEM_PROTOCOL_VERSION, -1);
	if (!rc)
		rc = ivshmem_send(np->sock, np->id, -1);
	if (!rc)
		rc = ivshmem_send(np->sock, -1, s->shm_fd);
	for (unsigned int i = 0; i < ORTHROS_MAX_PEERS && !rc; i++) {
		struct peer *op = &s->peers[i];

		if (i == slot || op->sock < 0)
			continue;
		rc = send_peer_vectors(np->sock, op->id, op, s->cfg.vectors);
		/* The others learn the newcomer's vectors; a failure there is theirs. */
		if (!rc && send_peer_vectors(op->sock, np->id, np, s->cfg.vectors))
			qb_log(LOG_WARNING, "could not tell peer %u about peer %u", op->id, np->id);
	}
	if (!rc)
		rc = send_peer_vectors(np->sock, np->id, np, s->cfg.vectors);
	return rc;
}

static int32_t accept_event(int32_t fd, int32_t revents, void *data)
{
	struct doorbell_server *s = data;
	unsigned int slot = ORTHROS_MAX_PEERS, tries;
	uint32_t id = 0;
	int sock, rc;

	(void)revents;
	sock = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
	if (sock < 0)
		return 0;
	/* The next unused 16-bit id whose slot is free. */
	for (tries = 0; tries <= 0xffff; tries++) {
		id = s->next_id++ & 0xffff;
		if (s->peers[id % ORTHROS_MAX_PEERS].sock < 0) {
			slot = id % ORTHROS_MAX_PEERS;
			break;
		}
	}
	if (slot == ORTHROS_MAX_PEERS) {
		qb_log(LOG_ERR, "refusing a peer: all %u slots in use", ORTHROS_MAX_PEERS);
		close(sock);
		return 0;
	}
	struct peer *p = &s->peers[slot];

	p->sock = sock;
	p->id = id;
	for (unsigned int v = 0; v < s->cfg.vectors; v++) {
		p->efd[v] = eventfd(0, EFD_CLOEXEC);
		if (p->efd[v] < 0) {
			qb_log(LOG_ERR, "eventfd: %s", strerror(errno));
			close_peer_fds(s, p);
			return 0;
		}
	}
	rc = welcome(s, slot);
	if (rc) {
		qb_log(LOG_WARNING, "peer %u left during the handshake: %s", id, strerror(-rc));
		close_peer_fds(s, p);
		return 0;
	}
	qb_loop_poll_add(s->loop, QB_LOOP_MED, sock, POLLIN, s, peer_event);
	qb_log(LOG_INFO, "peer %u connected in slot %u (%u vectors)", id, slot, s->cfg.vectors);
	return 0;
}

static int make_shm(struct doorbell_server *s)
{
	void *map;
	int fd, rc;

	if (s->cfg.shm_path)
		fd = open(s->cfg.shm_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	else
		fd = memfd_create("orthros-shm", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)s->cfg.shm_size) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	map = mmap(NULL, s->cfg.shm_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		rc = -errno;
		close(fd);
		return rc;
	}
	rc = orthros_shm_format(map, s->cfg.shm_size);
	munmap(map, s->cfg.shm_size);
	if (rc) {
		close(fd);
		return rc;
	}
	s->shm_fd = fd;
	return 0;
}

static int make_listener(struct doorbell_server *s)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, rc;

	if (strlen(s->cfg.socket_path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, s->cfg.socket_path);
	strcpy(s->socket_path, s->cfg.socket_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(sa.sun_path);
	/* Only root (the controller, QEMU run by it) may join the link. */
	mode_t old = umask(0077);

	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc < 0 || listen(fd, ORTHROS_MAX_PEERS) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	s->listen_fd = fd;
	return 0;
}

int doorbell_server_start(qb_loop_t *loop, const struct doorbell_config *cfg,
			  struct doorbell_server **out)
{
	struct doorbell_server *s;
	int rc;

	if (!cfg->socket_path || cfg->vectors == 0 || cfg->vectors > MAX_VECTORS ||
	    cfg->shm_size < ORTHROS_SHM_MIN_SIZE || cfg->shm_size & (cfg->shm_size - 1))
		return -EINVAL;	/* QEMU wants a power-of-two BAR */
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->loop = loop;
	s->cfg = *cfg;
	s->listen_fd = s->shm_fd = -1;
	for (unsigned int i = 0; i < ORTHROS_MAX_PEERS; i++) {
		s->peers[i].sock = -1;
		for (unsigned int v = 0; v < MAX_VECTORS; v++)
			s->peers[i].efd[v] = -1;
	}
	rc = make_shm(s);
	if (!rc)
		rc = make_listener(s);
	if (!rc)
		rc = qb_loop_poll_add(loop, QB_LOOP_HIGH, s->listen_fd, POLLIN, s,
				      accept_event);
	if (rc) {
		doorbell_server_stop(s);
		return rc;
	}
	*out = s;
	return 0;
}

void doorbell_server_stop(struct doorbell_server *s)
{
	if (!s)
		return;
	for (unsigned int i = 0; i < ORTHROS_MAX_PEERS; i++) {
		if (s->peers[i].sock >= 0)
			qb_loop_poll_del(s->loop, s->peers[i].sock);
		close_peer_fds(s, &s->peers[i]);
	}
	if (s->listen_fd >= 0) {
		qb_loop_poll_del(s->loop, s->listen_fd);
		close(s->listen_fd);
		unlink(s->socket_path);
	}
	if (s->shm_fd >= 0)
		close(s->shm_fd);
	free(s);
}

unsigned int doorbell_server_peers(const struct doorbell_server *s)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < ORTHROS_MAX_PEERS; i++)
		n += s->peers[i].sock >= 0;
	return n;
}
