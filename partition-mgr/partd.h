/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * orthros-partd's state and command set, apart from its I/O: which
 * partition runs which generation, what the link last said about each, and
 * the text commands root (over libqb IPC) and the partitions (over their
 * virtio-serial channel) may send.  Kept free of sockets and loops so the
 * unit tests drive it with a fake platform.
 */
#ifndef ORTHROS_PARTD_H
#define ORTHROS_PARTD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "orthros_proto.h"
#include "platform.h"

#define PARTD_IPC_NAME "orthros-partd"
#define PARTD_MSG_MAX 16384
#define PARTD_REQ_COMMAND 1
#define PARTD_MAX_PARTS 4
#define PARTD_TIMELINE 64
/* How long a new OS waits for the cluster to fence the dead one it replaces. */
#define PARTD_FENCE_ACK_GRACE_NS (UINT64_C(120) * 1000000000)

/* What the doorbell link last told the controller about a partition. */
enum partd_link {
	PARTD_LINK_UNKNOWN,	/* booting: no heartbeat seen yet */
	PARTD_LINK_UP,
	PARTD_LINK_LOST,	/* heartbeat timeout: hung or slow, not known dead */
	PARTD_LINK_PANIC,	/* its kernel announced its own death */
	PARTD_LINK_STOPPING,	/* planned stop announced */
};

struct partd_part {
	bool used;
	char name[PLATFORM_NAME_LEN];
	uint32_t generation;
	uint32_t role;
	unsigned int vcpus;		/* as booted plus hot-added */
	uint64_t memory;
	int peer;			/* link slot, -1 until seen */
	enum partd_link link;
	uint64_t boot_ns;		/* controller clock */
	uint64_t up_ns;
	uint64_t notice_ns;		/* PANIC or STOPPING received */
	uint64_t frozen_ns;		/* vCPUs stopped by the controller */
	bool fence_acked;		/* the cluster's fence agent confirmed its death */
	char reason[64];
};

struct partd_options {
	char name_prefix[16];		/* node identities: PREFIX a / PREFIX b */
	char payload[PLATFORM_PATH_LEN];
	unsigned int max_vcpus;		/* cap on vCPUs per partition (TCG) */
	uint64_t max_memory;		/* cap on memory per partition */
	uint64_t min_memory;		/* floor on memory per partition */
	bool freeze_on_panic;		/* a PANIC notice freezes the partition at once */
	bool grow_on_death;		/* ... and its CPUs and memory go to the survivors */
	bool ignore_notices;		/* baseline: PANIC/STOPPING count for nothing */
};

struct partd {
	const struct orthros_conf *conf;
	struct platform *plat;
	struct partd_options opt;
	struct partd_part part[PARTD_MAX_PARTS];
	uint32_t max_generation;	/* highest generation booted so far */
	uint64_t (*now_ns)(void);
	/*
	 * The role a partition's kernel publishes now (Pacemaker moves it with
	 * promote/demote), read from its record on the link; optional.
	 * Returns 0 and *role if slot @peer holds a valid record of @gen.
	 */
	int (*kernel_role)(struct partd *d, int peer, uint32_t gen, uint32_t *role);
	struct {
		uint64_t ns;
		char what[112];
	} timeline[PARTD_TIMELINE];
	unsigned int tl_next;
	unsigned int tl_count;
};

void partd_init(struct partd *d, const struct orthros_conf *conf,
		struct platform *plat, const struct partd_options *opt,
		uint64_t (*now_ns)(void));

/* Node identity for a generation: the dead Active's identity boots the next
 * BackupOS, so generations alternate between two names (seed 001). */
void partd_node_name(const struct partd *d, uint32_t gen, char *out, size_t len);

int partd_boot(struct partd *d, uint32_t gen, uint32_t role);
int partd_fence(struct partd *d, const char *name, const char *why);

/* A link event, as delivered to the controller's own peer. */
void partd_on_event(struct partd *d, const struct orthros_event *ev);

/* The partition's QEMU has exited. */
void partd_on_gone(struct partd *d, const char *name);

/*
 * Execute one text command.  @caller is NULL for root (IPC), or the name of
 * the partition whose channel it came from (a narrower command set).
 * Writes the reply text into @out; returns 0 or -errno.
 */
int partd_command(struct partd *d, const char *caller, const char *line,
		  char *out, size_t outlen);

void partd_note(struct partd *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

struct partd_part *partd_find(struct partd *d, const char *name);

#endif
