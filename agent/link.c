// SPDX-License-Identifier: GPL-2.0-or-later
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <time.h>

#include "link.h"

int orthros_link_check_timing(uint32_t interval_us, uint32_t timeout_us)
{
	if (interval_us < 1000 || interval_us > 10000000)
		return -EINVAL;
	if (timeout_us < 2ull * interval_us || timeout_us > 60000000)
		return -EINVAL;
	return 0;
}

void orthros_link_close(struct orthros_link *l)
{
	if (l)
		l->ops->close(l);
}

int orthros_link_fd(struct orthros_link *l)
{
	return l->ops->fd(l);
}

int orthros_link_next_event(struct orthros_link *l, struct orthros_event *ev)
{
	return l->ops->next_event(l, ev);
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int orthros_link_wait_event(struct orthros_link *l, struct orthros_event *ev,
			    int timeout_ms)
{
	/* The fd also fires for internal work (the ivshmem backend's timers),
	 * so the deadline is absolute, not per poll. */
	int64_t deadline = timeout_ms < 0 ? -1 : mono_ms() + timeout_ms;

	for (;;) {
		int rc = l->ops->next_event(l, ev);

		if (rc != -EAGAIN)
			return rc;
		int left = -1;

		if (deadline >= 0) {
			int64_t now = mono_ms();

			if (now >= deadline)
				return -ETIMEDOUT;
			left = (int)(deadline - now);
		}
		struct pollfd p = { .fd = l->ops->fd(l), .events = POLLIN };

		rc = poll(&p, 1, left);
		if (rc < 0 && errno != EINTR)
			return -errno;
	}
}

int orthros_link_info(struct orthros_link *l, struct orthros_info *info)
{
	return l->ops->info(l, info);
}

int orthros_link_set_role(struct orthros_link *l, uint32_t generation, uint32_t role)
{
	if (role > ORTHROS_ROLE_MAX)
		return -EINVAL;
	return l->ops->set_role(l, generation, role);
}

int orthros_link_set_heartbeat(struct orthros_link *l, uint32_t interval_us,
			       uint32_t timeout_us)
{
	if (orthros_link_check_timing(interval_us, timeout_us))
		return -EINVAL;
	return l->ops->set_heartbeat(l, interval_us, timeout_us);
}

int orthros_link_set_peers(struct orthros_link *l, uint64_t mask)
{
	if (mask >> ORTHROS_MAX_PEERS)
		return -EINVAL;
	return l->ops->set_peers(l, mask);
}

int orthros_link_ring(struct orthros_link *l, uint32_t peer, uint32_t vector)
{
	if (peer >= ORTHROS_MAX_PEERS || vector >= ORTHROS_NR_VECTORS)
		return -EINVAL;
	return l->ops->ring(l, peer, vector);
}

int orthros_link_announce(struct orthros_link *l, uint32_t state, const char *reason)
{
	if (state != ORTHROS_STATE_PANIC && state != ORTHROS_STATE_STOPPING)
		return -EINVAL;
	return l->ops->announce(l, state, reason);
}

const void *orthros_link_shm(struct orthros_link *l, uint64_t *size)
{
	return l->ops->shm(l, size);
}
