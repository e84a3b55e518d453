/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Onlining of hot-added CPUs and memory inside a partition.  The controller
 * hot-adds them over the platform (QMP here); the kernel then announces a
 * cpu or memory device with a uevent and leaves it offline until user
 * space writes its "online" file.  On distributions this is a udev rule;
 * partitions run no udev, and the takeover should not wait for a poll, so
 * orthrosd does it on the uevent itself.
 */
#ifndef ORTHROS_HOTPLUG_H
#define ORTHROS_HOTPLUG_H

#include <stddef.h>

enum hotplug_kind { HOTPLUG_CPU = 1, HOTPLUG_MEMORY = 2 };

struct hotplug_event {
	enum hotplug_kind kind;
	char devpath[64];	/* /devices/system/cpu/cpuN or .../memory/memoryN */
};

/*
 * Parse one kernel uevent datagram ("add@DEVPATH\0KEY=VALUE\0...").
 * 1: an added cpu or memory block (*ev filled); 0: any other uevent;
 * -EINVAL: not a well-formed uevent or a devpath that is not exactly
 * a cpu or memory block (nothing outside those two is ever written).
 */
int hotplug_parse_uevent(const char *buf, size_t len, struct hotplug_event *ev);

/*
 * Online the device under @sysfs_root (normally "/sys").  1: onlined,
 * 0: already online (or a CPU that cannot be offline, like cpu0),
 * -errno on failure.
 */
int hotplug_online(const char *sysfs_root, const struct hotplug_event *ev);

/* Online every offline cpu and memory block; returns how many, or -errno. */
int hotplug_online_all(const char *sysfs_root);

#endif
