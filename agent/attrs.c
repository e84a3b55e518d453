// SPDX-License-Identifier: GPL-2.0-or-later
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "attrs.h"

uint64_t beat_age_update(struct beat_age *b, uint64_t counter, uint64_t now_ns)
{
	if (!b->seen || counter != b->counter) {
		/* A restarted peer counts from zero again: any change is a beat. */
		b->counter = counter;
		b->changed_ns = now_ns;
		b->seen = true;
		return 0;
	}
	return now_ns >= b->changed_ns ? now_ns - b->changed_ns : 0;
}

void attr_set(struct attr *a, const char *value)
{
	snprintf(a->value, sizeof(a->value), "%s", value);
}

bool attr_due(const struct attr *a, uint64_t now_ns)
{
	if (!a->value[0])
		return false;	/* nothing known yet */
	if (!a->sent[0])
		return true;
	uint64_t since = now_ns >= a->sent_ns ? now_ns - a->sent_ns : 0;

	if (strcmp(a->value, a->sent))
		return since >= a->min_gap_ns;
	return since >= ATTR_REFRESH_NS;
}

void attr_sent(struct attr *a, const char *value, uint64_t now_ns)
{
	snprintf(a->sent, sizeof(a->sent), "%s", value);
	a->sent_ns = now_ns;
}
