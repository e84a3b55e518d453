/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What partitions the machine.  The controller, the agents and Pacemaker
 * never care which platform is underneath: they go through this table.
 * Today there is `qemu` (partitions are QEMU guests driven over QMP); the
 * `multikernel` platform (kexec_file_load with KEXEC_MULTIKERNEL plus
 * /sys/fs/multikernel device-tree overlays) maps onto the same operations.
 */
#ifndef ORTHROS_PLATFORM_H
#define ORTHROS_PLATFORM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define PLATFORM_NAME_LEN 32
#define PLATFORM_PATH_LEN 256

/* What one partition is booted with. */
struct platform_boot {
	char name[PLATFORM_NAME_LEN];	/* cluster node identity, e.g. orthros-a */
	uint32_t generation;
	uint32_t role;			/* ORTHROS_ROLE_* at boot */
	unsigned int slot;		/* enum conf_slot_id */
	unsigned int vcpus;		/* at boot */
	unsigned int max_vcpus;		/* room for hot-add */
	uint64_t memory;		/* bytes at boot */
	uint64_t max_memory;		/* room for hot-add */
	char payload[PLATFORM_PATH_LEN];	/* script the partition runs */
	char append[PLATFORM_PATH_LEN];	/* extra kernel parameters */
	char mac[18];			/* the partition's NIC, by node identity */
};

enum platform_state {
	PLATFORM_ABSENT,	/* no such partition (never started or reaped) */
	PLATFORM_RUNNING,
	PLATFORM_PAUSED,	/* vCPUs frozen: fenced, memory still readable */
	PLATFORM_GONE,		/* the partition's process has exited */
};

struct platform;

struct platform_ops {
	const char *name;
	/* Boot a partition; it runs until stopped, fenced or it dies. */
	int (*start)(struct platform *p, const struct platform_boot *b);
	/* Fence: the partition executes nothing more, at once. */
	int (*freeze)(struct platform *p, const char *name);
	/* Tear down what is left (after freeze, or a clean stop). */
	int (*destroy)(struct platform *p, const char *name);
	int (*state)(struct platform *p, const char *name, enum platform_state *st);
	/* Re-partitioning: grow a partition by vCPUs / bytes of memory. */
	int (*add_vcpus)(struct platform *p, const char *name, unsigned int n);
	int (*add_memory)(struct platform *p, const char *name, uint64_t bytes);
	/*
	 * Fault injection for the lab and the tests: an NMI (the partitions
	 * boot with unknown_nmi_panic, so it panics the kernel), a hang (vCPUs
	 * stopped behind the controller's back: not a fencing) and its end.
	 */
	int (*inject)(struct platform *p, const char *name, const char *what);
	/* Called when a child process exits (pid from waitpid). */
	void (*reaped)(struct platform *p, pid_t pid, int status);
	void (*close)(struct platform *p);
};

struct platform {
	const struct platform_ops *ops;
};

/* The qemu platform: partitions are QEMU guests (platform-qemu.c). */
struct platform_qemu_config {
	const char *run_dir;		/* sockets, consoles, memory files */
	const char *kernel;		/* uncompressed vmlinux for direct boot */
	const char *initrd;
	const char *doorbell_socket;	/* ivshmem-doorbell server */
	const char *shared_dir;		/* host directory shared read-write (or NULL) */
	const char *accel;		/* "tcg" or "kvm" */
	const char *bridge_ifup;	/* tap set-up script (NULL: no NIC) */
	const char *netns;		/* network namespace of the guests (or NULL) */
	/*
	 * The data disk: attached to every partition (a shared LUN), mounted
	 * only where the service runs; fencing makes that one partition.
	 */
	const char *data_disk;
	/*
	 * The checkpoint store (docs/checkpoint-store.md): a host file mapped
	 * into every partition as an ivshmem-plain BAR, so the protected
	 * groups' checkpoints outlive the partition that wrote them.  Its
	 * size, a power of two, is store_size.  NULL: none.
	 */
	const char *store;
	uint64_t store_size;
	int nice;			/* scheduling niceness of the guests */
};

int platform_qemu_create(const struct platform_qemu_config *cfg, struct platform **out);

const char *platform_state_name(enum platform_state st);

#endif
