/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The Orthros machine description, as loaded from YAML (docs/configuration.md).
 *
 * Everything is held in fixed-size arrays: the limits are far above any real
 * partitioned machine, and a configuration that exceeds them is refused with
 * a message instead of growing without bound.
 */
#ifndef ORTHROS_CONF_H
#define ORTHROS_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"

#define CONF_SCHEMA_VERSION 1

#define CONF_MAX_CPUS 64
#define CONF_MAX_RANGES 32
#define CONF_MAX_DEVICES 32
#define CONF_MAX_GROUPS 8
#define CONF_MAX_ARGS 16
#define CONF_MAX_PORTS 16
#define CONF_MAX_PATHS 8
#define CONF_MAX_WINDOWS 8
#define CONF_NAME_LEN 64
#define CONF_STR_LEN 256

/* The bootstrap processor always has local APIC ID 0 on x86 (seed 001). */
#define CONF_BSP_LAPIC 0u

/* Flat logical APIC mode has one bit per CPU in an 8-bit field. */
#define CONF_FLAT_APIC_MAX_CPUS 8

enum conf_platform { CONF_PLATFORM_QEMU, CONF_PLATFORM_MULTIKERNEL };

enum conf_apic_mode { CONF_APIC_FLAT, CONF_APIC_X2APIC };

/*
 * Seed 001: the 1st OS has its own slot; even generations boot into one
 * fixed slot, odd generations >= 3 into another.
 */
enum conf_slot_id { CONF_SLOT_FIRST, CONF_SLOT_EVEN, CONF_SLOT_ODD, CONF_SLOT_COUNT };

enum conf_device_kind { CONF_DEV_DISK, CONF_DEV_NIC, CONF_DEV_OTHER };

struct conf_range {
	uint64_t start;
	uint64_t size;
	struct conf_pos pos;
	char what[CONF_NAME_LEN];	/* optional label, e.g. "ACPI tables" */
};

struct conf_cpu {
	uint32_t lapic;		/* local APIC ID */
	struct conf_pos pos;
};

struct conf_device {
	char name[CONF_NAME_LEN];
	enum conf_device_kind kind;
	char address[CONF_NAME_LEN];	/* platform address, e.g. PCI BDF */
	struct conf_pos pos;
};

struct conf_slot {
	bool present;
	struct conf_pos pos;
	bool has_boot_cpu;
	uint32_t boot_cpu;		/* local APIC ID the OS is started on */
	struct conf_pos boot_cpu_pos;
	size_t ncpus;
	uint32_t cpus[CONF_MAX_CPUS];	/* local APIC IDs owned as Backup */
	struct conf_pos cpu_pos[CONF_MAX_CPUS];
	bool has_memory;
	struct conf_range memory;
	size_t ndevices;
	unsigned devices[CONF_MAX_DEVICES];	/* indices into conf.devices */
	struct conf_pos device_pos[CONF_MAX_DEVICES];
};

struct conf_group {
	char name[CONF_NAME_LEN];
	struct conf_pos pos;
	size_t argc;
	char argv[CONF_MAX_ARGS][CONF_STR_LEN];
	char cgroup[CONF_STR_LEN];
	size_t nports;
	uint16_t ports[CONF_MAX_PORTS];
	size_t npaths;
	char data_paths[CONF_MAX_PATHS][CONF_STR_LEN];
};

struct conf_checkpoint {
	uint64_t interval_us;
	bool incremental;
	uint64_t max_freeze_us;
	uint64_t criu_timeout_us;
	uint32_t keep;
	struct conf_pos pos;
	struct conf_pos keep_pos;
	struct conf_pos max_freeze_pos;
	struct conf_pos criu_timeout_pos;
};

enum conf_window_action { CONF_WINDOW_LIVE_UPDATE, CONF_WINDOW_REPARTITION };

/* A Pacemaker date_spec: each field empty (any) or "N" or "N-M". */
struct conf_window {
	char name[CONF_NAME_LEN];
	struct conf_pos pos;
	enum conf_window_action action;
	char weekdays[CONF_NAME_LEN];
	char hours[CONF_NAME_LEN];
	char monthdays[CONF_NAME_LEN];
	uint64_t duration_us;
};

struct orthros_conf {
	uint32_t schema_version;

	char machine_name[CONF_NAME_LEN];
	enum conf_platform platform;
	enum conf_apic_mode apic_mode;
	uint64_t block_size;		/* memory hotplug block, default 128 MiB */
	struct conf_pos block_size_pos;

	size_t ncpus;
	struct conf_cpu cpus[CONF_MAX_CPUS];
	struct conf_pos cpus_pos;

	size_t nram;
	struct conf_range ram[CONF_MAX_RANGES];
	size_t nreserved;
	struct conf_range reserved[CONF_MAX_RANGES];

	size_t ndevices;
	struct conf_device devices[CONF_MAX_DEVICES];

	struct conf_slot slots[CONF_SLOT_COUNT];

	size_t ngeneral;
	struct conf_range general[CONF_MAX_RANGES];
	struct conf_pos general_pos;

	bool has_data_disk;
	unsigned data_disk;		/* index into devices */
	struct conf_pos data_disk_pos;

	uint64_t hb_interval_us;
	uint64_t hb_timeout_us;
	struct conf_pos hb_pos;
	struct conf_pos hb_timeout_pos;

	size_t ngroups;
	struct conf_group groups[CONF_MAX_GROUPS];

	struct conf_checkpoint checkpoint;

	size_t nwindows;
	struct conf_window windows[CONF_MAX_WINDOWS];
};

#define CONF_DEFAULT_BLOCK_SIZE (UINT64_C(128) << 20)
#define CONF_DEFAULT_HB_INTERVAL_US 10000u
#define CONF_DEFAULT_HB_TIMEOUT_US 50000u
#define CONF_DEFAULT_CKPT_INTERVAL_US 1000000u
#define CONF_DEFAULT_CKPT_MAX_FREEZE_US 100000u
#define CONF_DEFAULT_CKPT_KEEP 5u
#define CONF_DEFAULT_CKPT_CRIU_TIMEOUT_US 60000000u
/* Below it a loaded partition under TCG kills dumps that would have ended. */
#define CONF_MIN_CKPT_CRIU_TIMEOUT_US 1000000u

/*
 * Parse and validate.  Returns 0 when the configuration is usable (warnings
 * may still be in @d), -EINVAL when @d holds at least one error.
 * @name is what messages call the input (usually its path).
 */
int conf_load_buffer(const char *name, const char *buf, size_t len,
		     struct orthros_conf *conf, struct diag *d);
int conf_load_file(const char *path, struct orthros_conf *conf,
		   struct diag *d);

/* Semantic checks only (called by the loaders after a clean parse). */
void conf_check(const struct orthros_conf *conf, struct diag *d);

const char *conf_slot_name(enum conf_slot_id slot);
const char *conf_device_kind_name(enum conf_device_kind kind);

/* Index of the CPU with local APIC ID @lapic, or -1. */
int conf_cpu_index(const struct orthros_conf *conf, uint32_t lapic);

#endif
