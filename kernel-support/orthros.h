/* SPDX-License-Identifier: GPL-2.0 */
/*
 * orthros.ko internals: the core (heartbeat, watcher, events, /dev/orthros)
 * talks to the inter-partition device only through a transport ops table,
 * so QEMU's ivshmem-doorbell, Jailhouse's ivshmem v2 (110a:4106) or the
 * multikernel IPI API can sit underneath.
 */
#ifndef _ORTHROS_H
#define _ORTHROS_H

#include <linux/hrtimer.h>
#include <linux/miscdevice.h>
#include <linux/spinlock.h>
#include <linux/wait.h>

#include "orthros_watch.h"

#define ORTHROS_EVENT_RING	256
#define ORTHROS_NO_DOORBELL	U32_MAX

struct orthros_dev;

struct orthros_transport_ops {
	const char *name;
	/*
	 * Ring @vector at transport address @doorbell.  Must be safe in
	 * hard-irq and panic context.
	 */
	void (*ring)(struct orthros_dev *od, u32 doorbell, u32 vector);
};

struct orthros_dev {
	struct device *parent;
	const struct orthros_transport_ops *ops;
	void *transport;		/* the transport's private data */
	void *shm;			/* the shared region, mapped write-back */
	u64 shm_size;
	phys_addr_t shm_phys;		/* for mmap */
	u32 self;			/* our slot */
	u32 doorbell;			/* our transport address */
	u32 nr_vectors;

	/* Our own record; rec_lock serialises writers other than panic. */
	spinlock_t rec_lock;
	struct orthros_rec me;
	void *my_record;

	/* Heartbeat and watcher, both driven by hrtimers. */
	u64 peers;			/* peers we beat to and watch */
	u32 interval_us;
	u32 timeout_us;
	struct hrtimer beat_timer;
	struct hrtimer watch_timer;
	spinlock_t watch_lock;		/* also guards the event ring */
	struct orthros_watch watch;
	u32 scan_seen;			/* enum orthros_seen of the scan running */
	/*
	 * Where each slot is rung, copied out of the watcher after every scan
	 * so the beat timer and the panic path read it without a lock.
	 */
	u32 ring_to[ORTHROS_MAX_PEERS];
	u64 ring_late;			/* slots rung after the partitions */

	/* Events for readers of /dev/orthros. */
	struct orthros_event ring[ORTHROS_EVENT_RING];
	unsigned int head, tail;	/* head == tail: empty */
	bool overflow;
	u64 event_seq;
	wait_queue_head_t wq;

	struct miscdevice misc;
};

int orthros_core_register(struct orthros_dev *od);
void orthros_core_unregister(struct orthros_dev *od);

/* Called by the transport from its interrupt handler. */
void orthros_core_doorbell(struct orthros_dev *od, u32 vector);

/* The panic and reboot notifiers (orthros_notify.c). */
int orthros_notify_register(struct orthros_dev *od);
void orthros_notify_unregister(void);

/* Mark our record with @state and ring @vector on every peer. */
void orthros_core_announce(struct orthros_dev *od, u32 state, const char *reason,
			   bool locked);

int orthros_ivshmem_init(void);
void orthros_ivshmem_exit(void);

#endif /* _ORTHROS_H */
