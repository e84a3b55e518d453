/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The partition planner: seed 001's rules for repeatable failover, as pure
 * functions of the machine description.  Nothing here touches a platform;
 * the controller asks the planner what generation N should own and then
 * makes it so.
 */
#ifndef ORTHROS_PLAN_H
#define ORTHROS_PLAN_H

#include <stdint.h>
#include <stdio.h>

#include "conf.h"

/*
 * Generation -> slot: 1 -> first, even -> even, odd >= 3 -> odd.
 * Returns CONF_SLOT_COUNT for generation 0, which does not exist.
 */
enum conf_slot_id plan_slot_for_generation(uint32_t gen);

/*
 * Logical APIC IDs, assigned by ascending local APIC ID so every OS derives
 * the same value for the same core no matter which core it booted on
 * (seed 001, section 4.5).  @lapic may be in any order; @logical[i] belongs
 * to @lapic[i].  Flat mode: one bit per CPU, at most 8 CPUs (-E2BIG beyond).
 * x2APIC mode: the architectural cluster/bit value derived from the ID.
 * Duplicate IDs are -EINVAL.
 */
int plan_logical_apic_ids(const uint32_t *lapic, size_t n,
			  enum conf_apic_mode mode, uint32_t *logical);

/*
 * The CPU numbers an OS booted on @boot gives the cores: the boot core is
 * CPU 0 and the rest follow in ascending local APIC ID (seed 001 tables 1
 * and 2).  -EINVAL if @boot is not among @lapic or IDs repeat.
 */
int plan_cpu_ids(const uint32_t *lapic, size_t n, uint32_t boot,
		 uint32_t *cpu_id);

/* Bytes of [start, start+size) that are RAM and not firmware-reserved. */
uint64_t plan_usable_bytes(const struct orthros_conf *c,
			   const struct conf_range *r);

/*
 * Hot-add accounting of one general-memory range: a block can be hot-added
 * only if every byte of it is RAM and none is reserved.
 */
struct plan_hotplug {
	uint64_t added;		/* bytes in blocks that can be hot-added */
	uint64_t lost;		/* bytes in blocks that cannot */
	uint32_t blocks_added;
	uint32_t blocks_lost;
};

void plan_hotplug_range(const struct orthros_conf *c, const struct conf_range *r,
			struct plan_hotplug *out);

struct plan_side {
	uint32_t gen;
	enum conf_slot_id slot;
	uint32_t boot_cpu;		/* local APIC ID */
	size_t ncpus;
	uint32_t cpus[CONF_MAX_CPUS];	/* local APIC IDs, ascending */
	uint64_t memory;		/* usable bytes */
	size_t ndevices;
	unsigned devices[CONF_MAX_DEVICES];	/* indices into conf.devices */
};

/* The machine while generation @gen is Active and @gen + 1 watches it. */
struct plan_generation {
	uint32_t gen;
	struct plan_side active;
	struct plan_side backup;
	uint64_t lost_nonhotplug;	/* general memory the Active cannot hot-add */
	uint32_t lost_blocks;
	uint64_t idle;			/* slot memory that nobody uses */
};

#define PLAN_MAX_GENERATION (UINT32_MAX - 1)

int plan_generation(const struct orthros_conf *c, uint32_t gen,
		    struct plan_generation *out);

/* Human-readable plan for generations @first .. @first + @count - 1. */
int plan_print(FILE *out, const struct orthros_conf *c, uint32_t first,
	       uint32_t count);

#endif
