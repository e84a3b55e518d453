// SPDX-License-Identifier: GPL-2.0-or-later
#include "config.h"

#include <errno.h>
#include <string.h>

#include "plan.h"

enum conf_slot_id plan_slot_for_generation(uint32_t gen)
{
	if (gen == 0)
		return CONF_SLOT_COUNT;
	if (gen == 1)
		return CONF_SLOT_FIRST;
	return gen % 2 == 0 ? CONF_SLOT_EVEN : CONF_SLOT_ODD;
}

/* Rank of @lapic[i] in ascending order; -EINVAL on duplicates. */
static int rank_of(const uint32_t *lapic, size_t n, size_t i)
{
	int rank = 0;

	for (size_t j = 0; j < n; j++) {
		if (j != i && lapic[j] == lapic[i])
			return -EINVAL;
		if (lapic[j] < lapic[i])
			rank++;
	}
	return rank;
}

int plan_logical_apic_ids(const uint32_t *lapic, size_t n,
			  enum conf_apic_mode mode, uint32_t *logical)
{
	if (mode == CONF_APIC_FLAT && n > CONF_FLAT_APIC_MAX_CPUS)
		return -E2BIG;
	for (size_t i = 0; i < n; i++) {
		int rank = rank_of(lapic, n, i);

		if (rank < 0)
			return rank;
		if (mode == CONF_APIC_FLAT)
			logical[i] = UINT32_C(1) << rank;
		else
			logical[i] = ((lapic[i] >> 4) << 16) |
				     (UINT32_C(1) << (lapic[i] & 0xf));
	}
	return 0;
}

int plan_cpu_ids(const uint32_t *lapic, size_t n, uint32_t boot,
		 uint32_t *cpu_id)
{
	bool found = false;

	for (size_t i = 0; i < n; i++)
		found |= lapic[i] == boot;
	if (!found)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		int rank = rank_of(lapic, n, i);

		if (rank < 0)
			return rank;
		if (lapic[i] == boot) {
			cpu_id[i] = 0;
			continue;
		}
		/* Cores below the boot core shift up by one to make room for it. */
		cpu_id[i] = (uint32_t)rank + (lapic[i] < boot ? 1 : 0);
	}
	return 0;
}

static uint64_t overlap_len(uint64_t a0, uint64_t a1, uint64_t b0, uint64_t b1)
{
	uint64_t lo = a0 > b0 ? a0 : b0;
	uint64_t hi = a1 < b1 ? a1 : b1;

	return hi > lo ? hi - lo : 0;
}

/* Bytes of [s, e) covered by reserved ranges that are also RAM. */
static uint64_t reserved_ram_bytes(const struct orthros_conf *c, uint64_t s,
				   uint64_t e)
{
	uint64_t total = 0;

	/* Reserved ranges are disjoint (conf_check), so this never counts twice. */
	for (size_t i = 0; i < c->nreserved; i++) {
		uint64_t r0 = c->reserved[i].start;
		uint64_t r1 = r0 + c->reserved[i].size;

		for (size_t j = 0; j < c->nram; j++) {
			uint64_t m0 = c->ram[j].start;
			uint64_t m1 = m0 + c->ram[j].size;
			uint64_t lo = s > r0 ? s : r0;
			uint64_t hi = e < r1 ? e : r1;

			if (hi > lo)
				total += overlap_len(lo, hi, m0, m1);
		}
	}
	return total;
}

static uint64_t usable_span(const struct orthros_conf *c, uint64_t s, uint64_t e)
{
	uint64_t ram = 0;

	for (size_t i = 0; i < c->nram; i++)
		ram += overlap_len(s, e, c->ram[i].start,
				   c->ram[i].start + c->ram[i].size);
	return ram - reserved_ram_bytes(c, s, e);
}

uint64_t plan_usable_bytes(const struct orthros_conf *c,
			   const struct conf_range *r)
{
	return usable_span(c, r->start, r->start + r->size);
}

void plan_hotplug_range(const struct orthros_conf *c, const struct conf_range *r,
			struct plan_hotplug *out)
{
	uint64_t bs = c->block_size;

	memset(out, 0, sizeof(*out));
	/* conf_check guarantees alignment; stay safe if called without it. */
	for (uint64_t b = r->start; bs && b + bs > b && b + bs <= r->start + r->size;
	     b += bs) {
		if (usable_span(c, b, b + bs) == bs) {
			out->added += bs;
			out->blocks_added++;
		} else {
			out->lost += bs;
			out->blocks_lost++;
		}
	}
}

static void sort_u32(uint32_t *v, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		uint32_t x = v[i];
		size_t j = i;

		for (; j > 0 && v[j - 1] > x; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
}

static bool slot_holds_cpu(const struct conf_slot *s, uint32_t lapic)
{
	for (size_t i = 0; i < s->ncpus; i++)
		if (s->cpus[i] == lapic)
			return true;
	return false;
}

static bool slot_holds_device(const struct conf_slot *s, unsigned dev)
{
	for (size_t i = 0; i < s->ndevices; i++)
		if (s->devices[i] == dev)
			return true;
	return false;
}

int plan_generation(const struct orthros_conf *c, uint32_t gen,
		    struct plan_generation *out)
{
	if (gen == 0 || gen > PLAN_MAX_GENERATION)
		return -EINVAL;

	enum conf_slot_id as = plan_slot_for_generation(gen);
	enum conf_slot_id bs = plan_slot_for_generation(gen + 1);
	const struct conf_slot *aslot = &c->slots[as];
	const struct conf_slot *bslot = &c->slots[bs];

	memset(out, 0, sizeof(*out));
	out->gen = gen;
	out->active.gen = gen;
	out->active.slot = as;
	out->active.boot_cpu = as == CONF_SLOT_FIRST ? CONF_BSP_LAPIC : aslot->boot_cpu;
	out->backup.gen = gen + 1;
	out->backup.slot = bs;
	out->backup.boot_cpu = bslot->boot_cpu;

	/* The Active holds every core except the ones kept for the Backup. */
	for (size_t i = 0; i < c->ncpus; i++) {
		uint32_t lapic = c->cpus[i].lapic;

		if (slot_holds_cpu(bslot, lapic))
			out->backup.cpus[out->backup.ncpus++] = lapic;
		else
			out->active.cpus[out->active.ncpus++] = lapic;
	}
	sort_u32(out->active.cpus, out->active.ncpus);
	sort_u32(out->backup.cpus, out->backup.ncpus);

	/* Same for devices; the data disk is never in a slot, so it stays Active. */
	for (size_t i = 0; i < c->ndevices; i++) {
		if (slot_holds_device(bslot, (unsigned)i))
			out->backup.devices[out->backup.ndevices++] = (unsigned)i;
		else
			out->active.devices[out->active.ndevices++] = (unsigned)i;
	}

	out->backup.memory = plan_usable_bytes(c, &bslot->memory);
	out->active.memory = plan_usable_bytes(c, &aslot->memory);
	for (size_t i = 0; i < c->ngeneral; i++) {
		if (gen == 1) {
			/* The 1st OS boots owning the general memory: no hotplug. */
			out->active.memory += plan_usable_bytes(c, &c->general[i]);
		} else {
			struct plan_hotplug hp;

			plan_hotplug_range(c, &c->general[i], &hp);
			out->active.memory += hp.added;
			out->lost_nonhotplug += hp.lost;
			out->lost_blocks += hp.blocks_lost;
		}
	}
	for (int s = 0; s < CONF_SLOT_COUNT; s++)
		if (s != (int)as && s != (int)bs)
			out->idle += plan_usable_bytes(c, &c->slots[s].memory);
	return 0;
}
