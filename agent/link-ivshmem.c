// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * liborthros backend: a user-space peer on the doorbell server.  It does in
 * user space what orthros.ko does in a partition (publish and beat our
 * record, ring peers, run the shared watcher), so the host controller is a
 * full peer and the protocol can be tested without booting a kernel.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ivshmem-wire.h"
#include "link.h"
#include "orthros_watch.h"

#define EVQ 256

struct iv_link {
	struct orthros_link base;
	int sock, epfd, tfd;
	int own[ORTHROS_NR_VECTORS];
	/* By slot; peer_id says which ivshmem id the fds belong to. */
	int peer_fd[ORTHROS_MAX_PEERS][ORTHROS_NR_VECTORS];
	unsigned int peer_nfd[ORTHROS_MAX_PEERS];
	int64_t peer_id[ORTHROS_MAX_PEERS];
	void *shm;
	uint64_t shm_size;
	uint32_t self;		/* our slot */
	uint32_t doorbell;	/* our ivshmem id */

	struct orthros_rec me;
	bool claimed;		/* we own a record: a role was set or announced */
	uint64_t peers;
	uint32_t interval_us, timeout_us;
	uint64_t next_beat;
	struct orthros_watch watch;

	struct orthros_event q[EVQ];
	unsigned int head, tail;
	bool overflow;
	uint64_t seq;
};

static struct iv_link *il(struct orthros_link *l)
{
	return (struct iv_link *)l;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void push(void *ctx, const struct orthros_event *ev)
{
	struct iv_link *v = ctx;
	unsigned int next = (v->head + 1) % EVQ;

	v->seq++;
	if (next == v->tail) {
		v->overflow = true;
		return;
	}
	v->q[v->head] = *ev;
	v->q[v->head].seq = v->seq;
	v->head = next;
}

/*
 * A passive peer (a status query) writes nothing: only a peer that takes a
 * role or announces a state owns its record and appears to the others.
 */
static void publish(struct iv_link *v)
{
	void *rec = orthros_shm_record(v->shm, v->shm_size, v->self);

	if (rec && v->claimed)	/* no record if the region's header was refused */
		orthros_rec_write(rec, &v->me);
}

static int iv_ring(struct orthros_link *l, uint32_t peer, uint32_t vector)
{
	struct iv_link *v = il(l);
	uint64_t one = 1;

	if (vector >= v->peer_nfd[peer])
		return -ENOENT;	/* no such peer connected (yet) */
	return write(v->peer_fd[peer][vector], &one, sizeof(one)) == sizeof(one) ? 0 : -errno;
}

static void ring_peers(struct iv_link *v, uint32_t vector)
{
	for (uint32_t id = 0; id < ORTHROS_MAX_PEERS; id++)
		if (id != v->self && (v->peers & (1ull << id)))
			iv_ring(&v->base, id, vector);
}

static void forget_peer(struct iv_link *v, uint32_t slot)
{
	for (unsigned int i = 0; i < v->peer_nfd[slot]; i++)
		close(v->peer_fd[slot][i]);
	v->peer_nfd[slot] = 0;
	v->peer_id[slot] = -1;
}

/* A peer's vector (fd >= 0) or its departure (fd < 0), by ivshmem id. */
static void peer_message(struct iv_link *v, int64_t id, int fd)
{
	uint32_t slot;

	if (id < 0 || id > 0xffff || (uint32_t)id == v->doorbell) {
		if (fd >= 0)
			close(fd);
		return;
	}
	slot = (uint32_t)id % ORTHROS_MAX_PEERS;
	if (fd < 0) {
		if (v->peer_id[slot] == id)
			forget_peer(v, slot);
		return;
	}
	if (v->peer_id[slot] != id)
		forget_peer(v, slot);	/* a newer peer took the slot */
	v->peer_id[slot] = id;
	if (v->peer_nfd[slot] < ORTHROS_NR_VECTORS)
		v->peer_fd[slot][v->peer_nfd[slot]++] = fd;
	else
		close(fd);
}

/* Messages after the handshake: a peer's vectors, or "peer gone". */
static int handle_socket(struct iv_link *v)
{
	for (;;) {
		int64_t id;
		int fd, rc = ivshmem_recv(v->sock, &id, &fd);

		if (rc == -EAGAIN)
			return 0;
		if (rc)
			return rc;	/* the server went away: the link is down */
		peer_message(v, id, fd);
	}
}

static void scan(struct iv_link *v)
{
	orthros_watch_scan(&v->watch, v->shm, v->shm_size, now_ns(), push, v);
}

/* Do whatever is due: beats, rings received, peers joining, timeouts. */
static int work(struct iv_link *v)
{
	struct epoll_event evs[8];
	int n = epoll_wait(v->epfd, evs, 8, 0);
	uint64_t cnt;

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		int fd = evs[i].data.fd;

		if (fd == v->sock) {
			int rc = handle_socket(v);

			if (rc)
				return rc;
		} else if (read(fd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN) {
			return -errno;
		}
	}
	uint64_t now = now_ns();

	if (v->me.role != ORTHROS_ROLE_NONE && v->me.state == ORTHROS_STATE_RUNNING &&
	    now >= v->next_beat) {
		v->me.heartbeat++;
		v->me.heartbeat_ns = now;
		publish(v);
		ring_peers(v, ORTHROS_VEC_HEARTBEAT);
		v->next_beat = now + (uint64_t)v->interval_us * 1000;
	}
	scan(v);
	return 0;
}

static int iv_next_event(struct orthros_link *l, struct orthros_event *ev)
{
	struct iv_link *v = il(l);

	if (v->head == v->tail && !v->overflow) {
		int rc = work(v);

		if (rc)
			return rc;
	}
	if (v->overflow) {
		memset(ev, 0, sizeof(*ev));
		ev->type = ORTHROS_EV_OVERFLOW;
		ev->seq = v->seq;
		ev->ts_ns = now_ns();
		v->overflow = false;
		return 0;
	}
	if (v->head == v->tail)
		return -EAGAIN;
	*ev = v->q[v->tail];
	v->tail = (v->tail + 1) % EVQ;
	return 0;
}

static int arm_timer(struct iv_link *v)
{
	/* Half an interval, like the kernel's watch timer. */
	uint64_t ns = (uint64_t)v->interval_us * 500;
	struct itimerspec it = {
		.it_interval = { (time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull) },
		.it_value = { (time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull) },
	};

	return timerfd_settime(v->tfd, 0, &it, NULL) < 0 ? -errno : 0;
}

static int iv_fd(struct orthros_link *l)
{
	return il(l)->epfd;
}

static int iv_info(struct orthros_link *l, struct orthros_info *info)
{
	struct iv_link *v = il(l);

	memset(info, 0, sizeof(*info));
	info->peer_id = v->self;
	info->nr_vectors = ORTHROS_NR_VECTORS;
	info->shm_size = v->shm_size;
	info->generation = v->me.generation;
	info->role = v->me.role;
	info->interval_us = v->interval_us;
	info->timeout_us = v->timeout_us;
	info->peers = v->peers;
	return 0;
}

static int iv_set_role(struct orthros_link *l, uint32_t generation, uint32_t role)
{
	struct iv_link *v = il(l);

	v->me.generation = generation;
	v->me.role = role;
	v->claimed = true;
	publish(v);
	v->next_beat = 0;
	return 0;
}

static int iv_set_heartbeat(struct orthros_link *l, uint32_t iv, uint32_t to)
{
	struct iv_link *v = il(l);

	v->interval_us = iv;
	v->timeout_us = to;
	v->me.interval_us = iv;
	v->me.timeout_us = to;
	v->watch.timeout_ns = (uint64_t)to * 1000;
	publish(v);
	return arm_timer(v);
}

static int iv_set_peers(struct orthros_link *l, uint64_t mask)
{
	il(l)->peers = mask;
	il(l)->watch.peers = mask;
	return 0;
}

static int iv_announce(struct orthros_link *l, uint32_t state, const char *reason)
{
	struct iv_link *v = il(l);

	v->me.state = state;
	v->me.state_ns = now_ns();
	strncpy(v->me.reason, reason ? reason : "", sizeof(v->me.reason) - 1);
	v->claimed = true;
	publish(v);
	ring_peers(v, ORTHROS_VEC_NOTICE);
	return 0;
}

static const void *iv_shm(struct orthros_link *l, uint64_t *size)
{
	*size = il(l)->shm_size;
	return il(l)->shm;
}

static void iv_close(struct orthros_link *l)
{
	struct iv_link *v = il(l);

	if (v->shm) {
		/* Leaving cleanly is not a failure; a PANIC or STOPPING stands. */
		if (v->me.state == ORTHROS_STATE_RUNNING) {
			v->me.state = ORTHROS_STATE_DOWN;
			publish(v);
		}
		munmap(v->shm, v->shm_size);
	}
	for (uint32_t id = 0; id < ORTHROS_MAX_PEERS; id++)
		forget_peer(v, id);
	for (unsigned int i = 0; i < ORTHROS_NR_VECTORS; i++)
		if (v->own[i] >= 0)
			close(v->own[i]);
	if (v->tfd >= 0)
		close(v->tfd);
	if (v->epfd >= 0)
		close(v->epfd);
	if (v->sock >= 0)
		close(v->sock);
	free(v);
}

static const struct orthros_link_ops iv_ops = {
	.close = iv_close,
	.fd = iv_fd,
	.next_event = iv_next_event,
	.info = iv_info,
	.set_role = iv_set_role,
	.set_heartbeat = iv_set_heartbeat,
	.set_peers = iv_set_peers,
	.ring = iv_ring,
	.announce = iv_announce,
	.shm = iv_shm,
};

/* Version, our id, the region; then others' vectors and finally our own. */
static int handshake(struct iv_link *v)
{
	int64_t val;
	int fd, rc, shm_fd = -1;
	unsigned int own = 0;
	struct stat st;

	rc = ivshmem_recv(v->sock, &val, &fd);
	if (rc)
		return rc;
	if (fd >= 0)
		close(fd);
	if (val != IVSHMEM_PROTOCOL_VERSION)
		return -EPROTONOSUPPORT;
	rc = ivshmem_recv(v->sock, &val, &fd);
	if (rc)
		return rc;
	if (fd >= 0)
		close(fd);
	if (val < 0 || val > 0xffff)
		return -ERANGE;
	v->doorbell = (uint32_t)val;
	v->self = v->doorbell % ORTHROS_MAX_PEERS;
	rc = ivshmem_recv(v->sock, &val, &shm_fd);
	if (rc)
		return rc;
	if (val != -1 || shm_fd < 0) {
		if (shm_fd >= 0)
			close(shm_fd);
		return -EPROTO;
	}
	if (fstat(shm_fd, &st) < 0 || st.st_size <= 0) {
		close(shm_fd);
		return -EPROTO;
	}
	v->shm_size = (uint64_t)st.st_size;
	v->shm = mmap(NULL, v->shm_size, PROT_READ | PROT_WRITE, MAP_SHARED, shm_fd, 0);
	close(shm_fd);
	if (v->shm == MAP_FAILED) {
		v->shm = NULL;
		return -errno;
	}
	uint32_t nr;

	if (orthros_shm_check(v->shm, v->shm_size, &nr) || v->self >= nr)
		return -EPROTO;

	while (own < ORTHROS_NR_VECTORS) {
		rc = ivshmem_recv(v->sock, &val, &fd);
		if (rc)
			return rc;
		if (fd >= 0 && val == v->doorbell)
			v->own[own++] = fd;
		else
			peer_message(v, val, fd);
	}
	return 0;
}

int orthros_link_open_ivshmem(const char *socket_path, struct orthros_link **out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct iv_link *v = calloc(1, sizeof(*v));
	int rc;

	if (!v)
		return -ENOMEM;
	v->base.ops = &iv_ops;
	v->sock = v->epfd = v->tfd = -1;
	for (unsigned int i = 0; i < ORTHROS_NR_VECTORS; i++)
		v->own[i] = -1;
	for (unsigned int i = 0; i < ORTHROS_MAX_PEERS; i++)
		v->peer_id[i] = -1;
	if (strlen(socket_path) >= sizeof(sa.sun_path)) {
		rc = -ENAMETOOLONG;
		goto fail;
	}
	strcpy(sa.sun_path, socket_path);
	v->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (v->sock < 0 || connect(v->sock, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = -errno;
		goto fail;
	}
	rc = handshake(v);
	if (rc)
		goto fail;
	fcntl(v->sock, F_SETFL, O_NONBLOCK);

	v->epfd = epoll_create1(EPOLL_CLOEXEC);
	v->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (v->epfd < 0 || v->tfd < 0) {
		rc = -errno;
		goto fail;
	}
	int fds[] = { v->sock, v->tfd, v->own[0], v->own[1] };

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		struct epoll_event e = { .events = EPOLLIN, .data.fd = fds[i] };

		if (fds[i] != v->sock)
			fcntl(fds[i], F_SETFL, O_NONBLOCK);
		if (epoll_ctl(v->epfd, EPOLL_CTL_ADD, fds[i], &e) < 0) {
			rc = -errno;
			goto fail;
		}
	}

	v->interval_us = 10000;
	v->timeout_us = 50000;
	v->peers = (1ull << ORTHROS_MAX_PEERS) - 1;
	orthros_watch_init(&v->watch, v->self, v->peers, (uint64_t)v->timeout_us * 1000);
	v->me.peer_id = v->self;
	v->me.doorbell = v->doorbell;
	v->me.state = ORTHROS_STATE_RUNNING;
	v->me.state_ns = now_ns();
	v->me.interval_us = v->interval_us;
	v->me.timeout_us = v->timeout_us;
	if (getrandom(v->me.boot_id, sizeof(v->me.boot_id), 0) != sizeof(v->me.boot_id)) {
		rc = -EIO;
		goto fail;
	}
	publish(v);
	rc = arm_timer(v);
	if (rc)
		goto fail;
	*out = &v->base;
	return 0;
fail:
	iv_close(&v->base);
	return rc;
}
