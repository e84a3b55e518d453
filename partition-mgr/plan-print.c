// SPDX-License-Identifier: GPL-2.0-or-later
/* The operator's view of a plan (orthrosctl plan). */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "plan.h"
#include "units.h"

static void fmt_mib(uint64_t bytes, char *buf, size_t len)
{
	if (bytes % MiB == 0)
		snprintf(buf, len, "%" PRIu64 " MiB", bytes / MiB);
	else
		snprintf(buf, len, "%.2f MiB", (double)bytes / (double)MiB);
}

static void fmt_cpus(const uint32_t *cpus, size_t n, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%" PRIu32,
					i ? "," : "", cpus[i]);
}

static void fmt_devices(const struct orthros_conf *c, const struct plan_side *s,
			char *buf, size_t len)
{
	size_t off = 0;

	snprintf(buf, len, "-");
	for (size_t i = 0; i < s->ndevices && off < len; i++) {
		const struct conf_device *d = &c->devices[s->devices[i]];
		bool data = c->has_data_disk && s->devices[i] == c->data_disk;

		off += (size_t)snprintf(buf + off, len - off, "%s%s%s",
					i ? "," : "", d->name, data ? "(data)" : "");
	}
}

/* "0:1 2:2 4:3 6:0": the CPU number each local APIC gets in that OS. */
static int fmt_cpu_ids(const struct orthros_conf *c, uint32_t boot, char *buf,
		       size_t len)
{
	uint32_t lapic[CONF_MAX_CPUS], ids[CONF_MAX_CPUS];
	size_t off = 0;
	int rc;

	for (size_t i = 0; i < c->ncpus; i++)
		lapic[i] = c->cpus[i].lapic;
	rc = plan_cpu_ids(lapic, c->ncpus, boot, ids);
	if (rc)
		return rc;
	buf[0] = '\0';
	for (size_t i = 0; i < c->ncpus && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%" PRIu32 ":%" PRIu32,
					i ? " " : "", lapic[i], ids[i]);
	return 0;
}

static int print_side(FILE *out, const struct orthros_conf *c,
		      const struct plan_side *s, const char *role,
		      const char *lost)
{
	char cpus[256], mem[32], devs[512], ids[512], boot[32];
	int rc;

	fmt_cpus(s->cpus, s->ncpus, cpus, sizeof(cpus));
	fmt_mib(s->memory, mem, sizeof(mem));
	fmt_devices(c, s, devs, sizeof(devs));
	rc = fmt_cpu_ids(c, s->boot_cpu, ids, sizeof(ids));
	if (rc)
		return rc;
	snprintf(boot, sizeof(boot), "%" PRIu32 "%s", s->boot_cpu,
		 s->boot_cpu == CONF_BSP_LAPIC ? "(BSP)" : "");
	fprintf(out, "%-5" PRIu32 " %-6s %-5s %-7s %-11s %-20s %12s %10s  %s\n",
		s->gen, role, conf_slot_name(s->slot), boot, cpus, ids, mem,
		lost, devs);
	return 0;
}

int plan_print(FILE *out, const struct orthros_conf *c, uint32_t first,
	       uint32_t count)
{
	uint32_t lapic[CONF_MAX_CPUS], logical[CONF_MAX_CPUS];
	char bsz[32];
	int rc;

	if (first == 0 || count == 0 || count - 1 > PLAN_MAX_GENERATION - first)
		return -EINVAL;
	for (size_t i = 0; i < c->ncpus; i++)
		lapic[i] = c->cpus[i].lapic;
	rc = plan_logical_apic_ids(lapic, c->ncpus, c->apic_mode, logical);
	if (rc)
		return rc;

	units_format_size(c->block_size, bsz, sizeof(bsz));
	fprintf(out, "machine %s: platform %s, %zu CPUs, memory hotplug block %s\n",
		c->machine_name,
		c->platform == CONF_PLATFORM_QEMU ? "qemu" : "multikernel",
		c->ncpus, bsz);
	fprintf(out, "logical APIC IDs (%s mode, by ascending local APIC ID; the same in every generation):\n ",
		c->apic_mode == CONF_APIC_FLAT ? "flat" : "x2apic");
	for (size_t i = 0; i < c->ncpus; i++)
		fprintf(out, " %" PRIu32 "->0x%02" PRIx32, lapic[i], logical[i]);
	fprintf(out, "\n\n");
	fprintf(out, "%-5s %-6s %-5s %-7s %-11s %-20s %12s %10s  %s\n", "gen",
		"role", "slot", "boot", "cpus", "cpu ids (lapic:id)", "memory",
		"lost", "devices");

	for (uint32_t g = first; g - first < count; g++) {
		struct plan_generation pg;
		char lost[32];

		rc = plan_generation(c, g, &pg);
		if (rc)
			return rc;
		fmt_mib(pg.lost_nonhotplug, lost, sizeof(lost));
		rc = print_side(out, c, &pg.active, "Active", lost);
		if (!rc)
			rc = print_side(out, c, &pg.backup, "Backup", "");
		if (rc)
			return rc;
		if (g - first + 1 == count)
			break;	/* keep g from wrapping at the top of the range */
	}
	fprintf(out, "\nEach pair of rows is the machine while that Active runs and the Backup below it watches.\n"
		"cpus and boot are local APIC IDs; memory is usable RAM; lost is general memory in hotplug\n"
		"blocks that hold firmware-reserved bytes, which an OS after the 1st cannot hot-add.\n");
	return 0;
}
