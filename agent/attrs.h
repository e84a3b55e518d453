/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What orthrosd tells Pacemaker about its partition, as transient node
 * attributes (attrd): the generation, the kernel's role on the link, and
 * how long ago this partition last saw a watched peer's heartbeat move.
 * Rules can then use them (e.g. a live-update window only while the
 * Backup's heartbeat is fresh).  This module decides *what* to publish and
 * *when*; orthrosd runs attrd_updater, Pacemaker's own tool, to do it.
 */
#ifndef ORTHROS_ATTRS_H
#define ORTHROS_ATTRS_H

#include <stdbool.h>
#include <stdint.h>

/* A peer's heartbeat counter as sampled here, on this partition's clock:
 * the peer's own timestamps are on a clock we do not share. */
struct beat_age {
	uint64_t counter;
	uint64_t changed_ns;
	bool seen;
};

/* Feed one sample; returns the age in ns (0 on the first sample). */
uint64_t beat_age_update(struct beat_age *b, uint64_t counter, uint64_t now_ns);

struct attr {
	const char *name;
	char value[32];		/* what it should be */
	char sent[32];		/* what attrd was last told ("" = nothing yet) */
	uint64_t sent_ns;
	uint64_t min_gap_ns;	/* no more often than this while it changes */
};

/* Republished now and then even unchanged: attrd drops a node's transient
 * attributes on the peer side when the membership blips. */
#define ATTR_REFRESH_NS (60ull * 1000000000ull)

void attr_set(struct attr *a, const char *value);
bool attr_due(const struct attr *a, uint64_t now_ns);
void attr_sent(struct attr *a, const char *value, uint64_t now_ns);

#endif
