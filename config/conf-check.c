// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Rules that span several keys.  Each one protects a property the failover
 * machinery relies on; the message says which rule and what would satisfy it.
 */
#include "config.h"

#include <string.h>

#include "conf.h"
#include "units.h"

const char *conf_slot_name(enum conf_slot_id slot)
{
	static const char *const names[CONF_SLOT_COUNT] = { "first", "even", "odd" };

	return slot < CONF_SLOT_COUNT ? names[slot] : "?";
}

const char *conf_device_kind_name(enum conf_device_kind kind)
{
	switch (kind) {
	case CONF_DEV_DISK:
		return "disk";
	case CONF_DEV_NIC:
		return "nic";
	default:
		return "other";
	}
}

int conf_cpu_index(const struct orthros_conf *conf, uint32_t lapic)
{
	for (size_t i = 0; i < conf->ncpus; i++)
		if (conf->cpus[i].lapic == lapic)
			return (int)i;
	return -1;
}

static uint64_t range_end(const struct conf_range *r)
{
	return r->start + r->size;	/* exclusive; wrap refused by the loader */
}

static bool overlaps(const struct conf_range *a, const struct conf_range *b)
{
	return a->start < range_end(b) && b->start < range_end(a);
}

static void fmt_range(const struct conf_range *r, char *buf, size_t len)
{
	snprintf(buf, len, "[0x%llx, 0x%llx)", (unsigned long long)r->start,
		 (unsigned long long)range_end(r));
}

static void check_overlaps(const struct conf_range *r, size_t n,
			   const char *what, struct diag *d)
{
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < i; j++) {
			char a[64], b[64];

			if (!overlaps(&r[i], &r[j]))
				continue;
			fmt_range(&r[i], a, sizeof(a));
			fmt_range(&r[j], b, sizeof(b));
			diag_error(d, r[i].pos,
				   "%s range %s overlaps %s range %s at line %u; expected disjoint ranges",
				   what, a, what, b, r[j].pos.line);
		}
	}
}

static void check_cpus(const struct orthros_conf *c, struct diag *d)
{
	bool have_bsp = false;

	for (size_t i = 0; i < c->ncpus; i++) {
		have_bsp |= c->cpus[i].lapic == CONF_BSP_LAPIC;
		for (size_t j = 0; j < i; j++)
			if (c->cpus[i].lapic == c->cpus[j].lapic)
				diag_error(d, c->cpus[i].pos,
					   "machine.cpus: local APIC ID %u is listed twice (first at line %u)",
					   c->cpus[i].lapic, c->cpus[j].pos.line);
	}
	if (!have_bsp)
		diag_error(d, c->cpus_pos,
			   "machine.cpus: the BSP (local APIC ID 0) is missing; every x86 machine boots on it");
	if (c->ncpus < 2)
		diag_error(d, c->cpus_pos,
			   "machine.cpus: %zu CPU(s); at least 2 are needed (one Active, one Backup)",
			   c->ncpus);
	if (c->apic_mode == CONF_APIC_FLAT && c->ncpus > CONF_FLAT_APIC_MAX_CPUS)
		diag_error(d, c->cpus_pos,
			   "machine.cpus: %zu CPUs, but flat logical APIC mode addresses at most %d; set machine.apic_mode: x2apic",
			   c->ncpus, CONF_FLAT_APIC_MAX_CPUS);
}

static void check_memory(const struct orthros_conf *c, struct diag *d)
{
	uint64_t bs = c->block_size;

	if (bs < MiB || (bs & (bs - 1))) {
		char v[32];

		units_format_size(bs, v, sizeof(v));
		diag_error(d, c->block_size_pos,
			   "machine.memory_block_size: %s is not a power of two of at least 1 MiB",
			   v);
	}
	if (c->nram == 0)
		diag_error(d, c->cpus_pos, "machine.memory_map.ram: no RAM ranges");
	check_overlaps(c->ram, c->nram, "RAM", d);
	check_overlaps(c->reserved, c->nreserved, "reserved", d);

	/* Slot and general regions partition the machine: no byte twice. */
	struct conf_range all[CONF_SLOT_COUNT + CONF_MAX_RANGES];
	const char *owner[CONF_SLOT_COUNT + CONF_MAX_RANGES];
	size_t n = 0;

	for (int s = 0; s < CONF_SLOT_COUNT; s++) {
		if (!c->slots[s].has_memory)
			continue;
		owner[n] = conf_slot_name((enum conf_slot_id)s);
		all[n++] = c->slots[s].memory;
	}
	for (size_t i = 0; i < c->ngeneral; i++) {
		owner[n] = "general_memory";
		all[n++] = c->general[i];
	}
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < i; j++) {
			char a[64], b[64];

			if (!overlaps(&all[i], &all[j]))
				continue;
			fmt_range(&all[i], a, sizeof(a));
			fmt_range(&all[j], b, sizeof(b));
			diag_error(d, all[i].pos,
				   "memory %s of %s overlaps %s of %s at line %u; slots and general memory must be disjoint",
				   a, owner[i], b, owner[j], all[j].pos.line);
		}
		/* A region with no RAM under it at all is surely a typo. */
		bool in_ram = false;

		for (size_t r = 0; r < c->nram; r++)
			in_ram |= overlaps(&all[i], &c->ram[r]);
		if (!in_ram && c->nram) {
			char a[64];

			fmt_range(&all[i], a, sizeof(a));
			diag_error(d, all[i].pos,
				   "memory %s of %s lies outside every RAM range of machine.memory_map.ram",
				   a, owner[i]);
		}
	}

	/* Only the general memory is hot-plugged, so only it must be blocks. */
	if (bs >= MiB && !(bs & (bs - 1))) {
		char blk[32];

		units_format_size(bs, blk, sizeof(blk));
		for (size_t i = 0; i < c->ngeneral; i++) {
			const struct conf_range *r = &c->general[i];
			char v[32];

			if (r->start % bs) {
				diag_error(d, r->pos,
					   "general_memory[%zu].start: 0x%llx is not aligned to a %s hotplug block",
					   i, (unsigned long long)r->start, blk);
			}
			if (r->size % bs) {
				units_format_size(r->size, v, sizeof(v));
				diag_error(d, r->pos,
					   "general_memory[%zu].size: %s is not a whole number of %s hotplug blocks",
					   i, v, blk);
			}
		}
	}
}

static bool slot_has_cpu(const struct conf_slot *s, uint32_t lapic)
{
	for (size_t i = 0; i < s->ncpus; i++)
		if (s->cpus[i] == lapic)
			return true;
	return false;
}

static void check_slot_cpus(const struct orthros_conf *c, struct diag *d)
{
	for (int id = CONF_SLOT_EVEN; id < CONF_SLOT_COUNT; id++) {
		const struct conf_slot *s = &c->slots[id];
		const char *name = conf_slot_name((enum conf_slot_id)id);

		if (!s->present || !s->has_boot_cpu)
			continue;
		if (s->boot_cpu == CONF_BSP_LAPIC)
			diag_error(d, s->boot_cpu_pos,
				   "slots.%s.boot_cpu: local APIC ID 0 is the BSP; a BackupOS can only be started on an AP (start-up IPIs do not work on the BSP)",
				   name);
		if (!slot_has_cpu(s, s->boot_cpu))
			diag_error(d, s->boot_cpu_pos,
				   "slots.%s.boot_cpu: %u is not in slots.%s.cpus",
				   name, s->boot_cpu, name);
		for (size_t i = 0; i < s->ncpus; i++) {
			if (conf_cpu_index(c, s->cpus[i]) < 0)
				diag_error(d, s->cpu_pos[i],
					   "slots.%s: CPU with local APIC ID %u is not in machine.cpus",
					   name, s->cpus[i]);
			else if (s->cpus[i] == CONF_BSP_LAPIC && s->boot_cpu != CONF_BSP_LAPIC)
				diag_error(d, s->cpu_pos[i],
					   "slots.%s.cpus: the BSP (local APIC ID 0) cannot belong to a Backup slot",
					   name);
			for (size_t j = 0; j < i; j++)
				if (s->cpus[j] == s->cpus[i])
					diag_error(d, s->cpu_pos[i],
						   "slots.%s.cpus: local APIC ID %u is listed twice",
						   name, s->cpus[i]);
		}
	}

	/* Generations N and N+1 always run together: their slots share nothing. */
	const struct conf_slot *even = &c->slots[CONF_SLOT_EVEN];
	const struct conf_slot *odd = &c->slots[CONF_SLOT_ODD];

	for (size_t i = 0; i < odd->ncpus; i++)
		if (slot_has_cpu(even, odd->cpus[i]))
			diag_error(d, odd->cpu_pos[i],
				   "CPU with local APIC ID %u is in slots 'even' and 'odd'; consecutive generations run at the same time, so their slots need distinct CPUs",
				   odd->cpus[i]);

	/* The Active keeps every CPU not held for the Backup. */
	for (int id = CONF_SLOT_EVEN; id < CONF_SLOT_COUNT; id++) {
		const struct conf_slot *s = &c->slots[id];

		if (s->present && s->ncpus >= c->ncpus && c->ncpus)
			diag_error(d, s->pos,
				   "slots.%s: holds all %zu CPUs; the Active needs at least one",
				   conf_slot_name((enum conf_slot_id)id), c->ncpus);
	}
}

static bool slot_has_device(const struct conf_slot *s, unsigned dev)
{
	for (size_t i = 0; i < s->ndevices; i++)
		if (s->devices[i] == dev)
			return true;
	return false;
}

static void check_devices(const struct orthros_conf *c, struct diag *d)
{
	/* Pairs of slots whose owners are alive at the same time. */
	static const int pairs[][2] = {
		{ CONF_SLOT_FIRST, CONF_SLOT_EVEN },
		{ CONF_SLOT_EVEN, CONF_SLOT_ODD },
	};

	for (size_t p = 0; p < sizeof(pairs) / sizeof(pairs[0]); p++) {
		const struct conf_slot *a = &c->slots[pairs[p][0]];
		const struct conf_slot *b = &c->slots[pairs[p][1]];

		for (size_t i = 0; i < b->ndevices; i++)
			if (slot_has_device(a, b->devices[i]))
				diag_error(d, b->device_pos[i],
					   "device '%s' is in slots '%s' and '%s', whose generations run at the same time",
					   c->devices[b->devices[i]].name,
					   conf_slot_name((enum conf_slot_id)pairs[p][0]),
					   conf_slot_name((enum conf_slot_id)pairs[p][1]));
	}
	if (!c->has_data_disk)
		return;
	const struct conf_device *dd = &c->devices[c->data_disk];

	if (dd->kind != CONF_DEV_DISK)
		diag_error(d, c->data_disk_pos,
			   "data_disk: device '%s' is a %s; expected a disk",
			   dd->name, conf_device_kind_name(dd->kind));
	for (int s = 0; s < CONF_SLOT_COUNT; s++)
		if (slot_has_device(&c->slots[s], c->data_disk))
			diag_error(d, c->data_disk_pos,
				   "data_disk: '%s' is also in slots.%s.devices; the data disk follows the Active and belongs to no slot",
				   dd->name, conf_slot_name((enum conf_slot_id)s));
}

static void check_timing(const struct orthros_conf *c, struct diag *d)
{
	char iv[32], to[32], twice[32];

	if (c->hb_interval_us && c->hb_timeout_us < 2 * c->hb_interval_us) {
		units_format_duration(c->hb_interval_us, iv, sizeof(iv));
		units_format_duration(c->hb_timeout_us, to, sizeof(to));
		units_format_duration(2 * c->hb_interval_us, twice, sizeof(twice));
		diag_error(d, c->hb_timeout_pos.line ? c->hb_timeout_pos : c->hb_pos,
			   "heartbeat.timeout: %s is shorter than two heartbeat intervals (2 x %s); expected at least %s, or one late beat fails the Active over",
			   to, iv, twice);
	}

	const struct conf_checkpoint *ck = &c->checkpoint;

	if (ck->keep < 2)
		diag_error(d, ck->keep_pos.line ? ck->keep_pos : ck->pos,
			   "checkpoint.keep: %u; expected at least 2 so a corrupt newest checkpoint can fall back to the previous one",
			   ck->keep);
	if (ck->interval_us && ck->max_freeze_us >= ck->interval_us) {
		units_format_duration(ck->max_freeze_us, to, sizeof(to));
		units_format_duration(ck->interval_us, iv, sizeof(iv));
		diag_error(d, ck->max_freeze_pos.line ? ck->max_freeze_pos : ck->pos,
			   "checkpoint.max_freeze: %s is not shorter than checkpoint.interval %s; the service would be frozen all the time",
			   to, iv);
	}
	if (ck->criu_timeout_us < CONF_MIN_CKPT_CRIU_TIMEOUT_US) {
		units_format_duration(ck->criu_timeout_us, to, sizeof(to));
		diag_error(d, ck->criu_timeout_pos.line ? ck->criu_timeout_pos : ck->pos,
			   "checkpoint.criu_timeout: %s; expected at least 1s: a loaded partition's dump takes seconds, and one killed at its deadline is a checkpoint lost",
			   to);
	}
	for (size_t i = 0; i < c->nwindows; i++)
		for (size_t j = 0; j < i; j++)
			if (!strcmp(c->windows[i].name, c->windows[j].name))
				diag_error(d, c->windows[i].pos,
					   "update_windows[%zu]: name '%s' is already used at line %u",
					   i, c->windows[i].name, c->windows[j].pos.line);
}

void conf_check(const struct orthros_conf *c, struct diag *d)
{
	check_cpus(c, d);
	check_memory(c, d);
	check_slot_cpus(c, d);
	check_devices(c, d);
	check_timing(c, d);

	/* Legal but surprising: the Actives of odd and even generations differ. */
	const struct conf_slot *even = &c->slots[CONF_SLOT_EVEN];
	const struct conf_slot *odd = &c->slots[CONF_SLOT_ODD];

	if (even->has_memory && odd->has_memory &&
	    even->memory.size != odd->memory.size)
		diag_warning(d, odd->memory.pos,
			     "slots 'even' and 'odd' have different memory sizes; Actives of even and odd generations will not have the same memory");
}
