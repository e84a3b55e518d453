// SPDX-License-Identifier: GPL-2.0
/*
 * orthros.ko core: our heartbeat, the watcher of the other partitions, the
 * event queue and /dev/orthros.
 *
 * Both timers run in hard-irq context: a beat must not wait for a busy
 * softirq or a starved thread, or a loaded but healthy Active would look
 * dead to its Backup.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/poll.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>
#include <linux/version.h>

#include "orthros.h"

static unsigned int gen;
module_param(gen, uint, 0444);
MODULE_PARM_DESC(gen, "generation of this kernel (boot with orthros.gen=N)");

static unsigned int role;
module_param(role, uint, 0444);
MODULE_PARM_DESC(role, "initial role: 0 none, 1 active, 2 backup (beats start at once)");

static unsigned int interval_us = 10000;
module_param(interval_us, uint, 0444);
MODULE_PARM_DESC(interval_us, "heartbeat interval in microseconds (default 10000)");

static unsigned int timeout_us = 50000;
module_param(timeout_us, uint, 0444);
MODULE_PARM_DESC(timeout_us, "heartbeat timeout in microseconds (default 50000)");

static unsigned long long peers = (1ULL << ORTHROS_MAX_PEERS) - 1;
module_param(peers, ullong, 0444);
MODULE_PARM_DESC(peers, "bitmap of peer ids to beat to and watch (default all)");

#define ORTHROS_MIN_INTERVAL_US	1000u
#define ORTHROS_MAX_INTERVAL_US	10000000u
#define ORTHROS_MAX_TIMEOUT_US	60000000u

/* One inter-partition device per kernel: it is "the" partition link. */
static DEFINE_MUTEX(orthros_lock);
static struct orthros_dev *orthros_the_dev;

static int check_timing(u32 iv, u32 to)
{
	if (iv < ORTHROS_MIN_INTERVAL_US || iv > ORTHROS_MAX_INTERVAL_US)
		return -EINVAL;
	if (to < 2 * iv || to > ORTHROS_MAX_TIMEOUT_US)
		return -EINVAL;
	return 0;
}

/* ---- events ----------------------------------------------------------- */

/* Caller holds watch_lock. */
static void push_event(void *ctx, const struct orthros_event *ev)
{
	struct orthros_dev *od = ctx;
	unsigned int next = (od->head + 1) % ORTHROS_EVENT_RING;

	od->event_seq++;
	if (next == od->tail) {
		od->overflow = true;	/* readers learn it, then rescan */
		return;
	}
	od->ring[od->head] = *ev;
	od->ring[od->head].seq = od->event_seq;
	if (ev->type == ORTHROS_EV_PANIC || ev->type == ORTHROS_EV_STOPPING)
		od->ring[od->head].detail = od->scan_seen;
	od->head = next;
	wake_up_interruptible(&od->wq);
}

static void scan(struct orthros_dev *od, u32 seen)
{
	unsigned long flags;
	u32 id, db;
	u64 late;

	spin_lock_irqsave(&od->watch_lock, flags);
	od->scan_seen = seen;
	orthros_watch_scan(&od->watch, od->shm, od->shm_size, ktime_get_ns(),
			   push_event, od);
	late = 0;
	for (id = 0; id < ORTHROS_MAX_PEERS; id++) {
		WRITE_ONCE(od->ring_to[id],
			   orthros_watch_doorbell(&od->watch, id, &db) ?
			   db : ORTHROS_NO_DOORBELL);
		if (!orthros_watch_is_partition(&od->watch, id))
			late |= BIT_ULL(id);
	}
	WRITE_ONCE(od->ring_late, late);
	spin_unlock_irqrestore(&od->watch_lock, flags);
}

void orthros_core_doorbell(struct orthros_dev *od, u32 vector)
{
	/* The vector only says "look"; the records say what happened. */
	scan(od, vector == ORTHROS_VEC_NOTICE ? ORTHROS_SEEN_NOTICE :
					      ORTHROS_SEEN_BEAT);
}

/* ---- our record and heartbeat ---------------------------------------- */

/*
 * Ring every watched peer whose record told us where it can be rung, the
 * partitions first.  On a virtual platform each ring is a write that wakes
 * a host process; if that process is the controller or an observer and
 * shares a host CPU with us, it may preempt our vCPU before the next ring,
 * and the Backup, which takes over, must not wait behind it.
 */
static void ring_peers(struct orthros_dev *od, u32 vector)
{
	u64 late = READ_ONCE(od->ring_late);
	u64 peers = READ_ONCE(od->peers);
	int pass;
	u32 id, db;

	for (pass = 0; pass < 2; pass++) {
		for (id = 0; id < ORTHROS_MAX_PEERS; id++) {
			db = READ_ONCE(od->ring_to[id]);
			if (id == od->self || !(peers & BIT_ULL(id)) ||
			    db == ORTHROS_NO_DOORBELL ||
			    !!(late & BIT_ULL(id)) != pass)
				continue;
			od->ops->ring(od, db, vector);
		}
	}
}

static void publish_locked(struct orthros_dev *od)
{
	orthros_rec_write(od->my_record, &od->me);
}

void orthros_core_announce(struct orthros_dev *od, u32 state, const char *reason,
			   bool locked)
{
	unsigned long flags = 0;

	/*
	 * From panic() we must not take rec_lock: the CPU holding it may have
	 * been stopped.  orthros_rec_write() copes with a half-done write.
	 */
	if (locked)
		spin_lock_irqsave(&od->rec_lock, flags);
	od->me.state = state;
	od->me.state_ns = ktime_get_mono_fast_ns();
	strscpy(od->me.reason, reason ? reason : "", sizeof(od->me.reason));
	publish_locked(od);
	if (locked)
		spin_unlock_irqrestore(&od->rec_lock, flags);
	ring_peers(od, ORTHROS_VEC_NOTICE);
}

static enum hrtimer_restart beat_fn(struct hrtimer *t)
{
	struct orthros_dev *od = container_of(t, struct orthros_dev, beat_timer);

	spin_lock(&od->rec_lock);
	od->me.heartbeat++;
	od->me.heartbeat_ns = ktime_get_ns();
	publish_locked(od);
	spin_unlock(&od->rec_lock);
	ring_peers(od, ORTHROS_VEC_HEARTBEAT);
	hrtimer_forward_now(t, ns_to_ktime((u64)READ_ONCE(od->interval_us) * NSEC_PER_USEC));
	return HRTIMER_RESTART;
}

static enum hrtimer_restart watch_fn(struct hrtimer *t)
{
	struct orthros_dev *od = container_of(t, struct orthros_dev, watch_timer);

	scan(od, ORTHROS_SEEN_SCAN);
	/* Half an interval: a loss is seen within timeout + interval / 2. */
	hrtimer_forward_now(t, ns_to_ktime((u64)READ_ONCE(od->interval_us) * (NSEC_PER_USEC / 2)));
	return HRTIMER_RESTART;
}

static void start_beating(struct orthros_dev *od)
{
	if (!hrtimer_active(&od->beat_timer))
		hrtimer_start(&od->beat_timer, 0, HRTIMER_MODE_REL_HARD);
}

/* ---- /dev/orthros ---------------------------------------------------- */

static struct orthros_dev *file_dev(struct file *f)
{
	return container_of(f->private_data, struct orthros_dev, misc);
}

static ssize_t orthros_read(struct file *f, char __user *buf, size_t len,
			    loff_t *ppos)
{
	struct orthros_dev *od = file_dev(f);
	struct orthros_event ev;
	unsigned long flags;
	size_t done = 0;
	int ret;

	if (len < sizeof(ev))
		return -EINVAL;
	for (;;) {
		spin_lock_irqsave(&od->watch_lock, flags);
		if (od->overflow || od->head != od->tail)
			break;
		spin_unlock_irqrestore(&od->watch_lock, flags);
		if (f->f_flags & O_NONBLOCK)
			return -EAGAIN;
		ret = wait_event_interruptible(od->wq, READ_ONCE(od->overflow) ||
					       READ_ONCE(od->head) != READ_ONCE(od->tail));
		if (ret)
			return ret;
	}
	/* Lock held: copy out one event at a time, unlocking for copy_to_user. */
	while (done + sizeof(ev) <= len) {
		if (od->overflow) {
			memset(&ev, 0, sizeof(ev));
			ev.type = ORTHROS_EV_OVERFLOW;
			ev.seq = od->event_seq;
			ev.ts_ns = ktime_get_ns();
			od->overflow = false;
		} else if (od->head != od->tail) {
			ev = od->ring[od->tail];
			od->tail = (od->tail + 1) % ORTHROS_EVENT_RING;
		} else {
			break;
		}
		spin_unlock_irqrestore(&od->watch_lock, flags);
		if (copy_to_user(buf + done, &ev, sizeof(ev)))
			return done ? done : -EFAULT;
		done += sizeof(ev);
		spin_lock_irqsave(&od->watch_lock, flags);
	}
	spin_unlock_irqrestore(&od->watch_lock, flags);
	return done;
}

static __poll_t orthros_poll(struct file *f, poll_table *wait)
{
	struct orthros_dev *od = file_dev(f);

	poll_wait(f, &od->wq, wait);
	if (READ_ONCE(od->overflow) || READ_ONCE(od->head) != READ_ONCE(od->tail))
		return EPOLLIN | EPOLLRDNORM;
	return 0;
}

static long orthros_ioctl(struct file *f, unsigned int cmd, unsigned long arg)
{
	struct orthros_dev *od = file_dev(f);
	void __user *uarg = (void __user *)arg;
	unsigned long flags;

	switch (cmd) {
	case ORTHROS_IOC_GET_INFO: {
		struct orthros_info info = {
			.peer_id = od->self,
			.nr_vectors = od->nr_vectors,
			.shm_size = od->shm_size,
			.interval_us = READ_ONCE(od->interval_us),
			.timeout_us = READ_ONCE(od->timeout_us),
			.peers = READ_ONCE(od->peers),
		};

		spin_lock_irqsave(&od->rec_lock, flags);
		info.generation = od->me.generation;
		info.role = od->me.role;
		spin_unlock_irqrestore(&od->rec_lock, flags);
		return copy_to_user(uarg, &info, sizeof(info)) ? -EFAULT : 0;
	}
	case ORTHROS_IOC_SET_ROLE: {
		struct orthros_role_req req;

		if (copy_from_user(&req, uarg, sizeof(req)))
			return -EFAULT;
		if (req.role > ORTHROS_ROLE_BACKUP)
			return -EINVAL;
		spin_lock_irqsave(&od->rec_lock, flags);
		od->me.generation = req.generation;
		od->me.role = req.role;
		publish_locked(od);
		spin_unlock_irqrestore(&od->rec_lock, flags);
		if (req.role == ORTHROS_ROLE_NONE)
			hrtimer_cancel(&od->beat_timer);
		else
			start_beating(od);
		return 0;
	}
	case ORTHROS_IOC_SET_HEARTBEAT: {
		struct orthros_hb_req req;

		if (copy_from_user(&req, uarg, sizeof(req)))
			return -EFAULT;
		if (check_timing(req.interval_us, req.timeout_us))
			return -EINVAL;
		spin_lock_irqsave(&od->rec_lock, flags);
		WRITE_ONCE(od->interval_us, req.interval_us);
		od->me.interval_us = req.interval_us;
		od->me.timeout_us = req.timeout_us;
		publish_locked(od);
		spin_unlock_irqrestore(&od->rec_lock, flags);
		spin_lock_irqsave(&od->watch_lock, flags);
		WRITE_ONCE(od->timeout_us, req.timeout_us);
		od->watch.timeout_ns = (u64)req.timeout_us * NSEC_PER_USEC;
		spin_unlock_irqrestore(&od->watch_lock, flags);
		return 0;
	}
	case ORTHROS_IOC_SET_PEERS: {
		u64 mask;

		if (copy_from_user(&mask, uarg, sizeof(mask)))
			return -EFAULT;
		if (mask >> ORTHROS_MAX_PEERS)
			return -EINVAL;
		spin_lock_irqsave(&od->watch_lock, flags);
		WRITE_ONCE(od->peers, mask);
		od->watch.peers = mask;
		spin_unlock_irqrestore(&od->watch_lock, flags);
		return 0;
	}
	case ORTHROS_IOC_RING: {
		struct orthros_ring_req req;
		u32 db;

		if (copy_from_user(&req, uarg, sizeof(req)))
			return -EFAULT;
		if (req.peer >= ORTHROS_MAX_PEERS || req.vector >= od->nr_vectors)
			return -EINVAL;
		db = READ_ONCE(od->ring_to[req.peer]);
		if (db == ORTHROS_NO_DOORBELL)
			return -ENOENT;	/* no valid record says where it is */
		od->ops->ring(od, db, req.vector);
		return 0;
	}
	}
	return -ENOTTY;
}

/* Read-only: only the kernel writes our record, and never another's. */
static int orthros_mmap(struct file *f, struct vm_area_struct *vma)
{
	struct orthros_dev *od = file_dev(f);
	unsigned long len = vma->vm_end - vma->vm_start;

	if (vma->vm_flags & VM_WRITE)
		return -EPERM;
	if (vma->vm_pgoff || len > PAGE_ALIGN(od->shm_size))
		return -EINVAL;
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
	vm_flags_clear(vma, VM_MAYWRITE);
#else
	vma->vm_flags &= ~VM_MAYWRITE;
#endif
	return remap_pfn_range(vma, vma->vm_start, od->shm_phys >> PAGE_SHIFT,
			       len, vma->vm_page_prot);
}

static const struct file_operations orthros_fops = {
	.owner = THIS_MODULE,
	.read = orthros_read,
	.poll = orthros_poll,
	.unlocked_ioctl = orthros_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.mmap = orthros_mmap,
	.llseek = noop_llseek,
};

/* ---- registration ---------------------------------------------------- */

int orthros_core_register(struct orthros_dev *od)
{
	u32 nr;
	int ret;

	if (check_timing(interval_us, timeout_us)) {
		pr_err("interval_us=%u timeout_us=%u: need 1000 <= interval <= 10000000 and 2 x interval <= timeout <= 60000000\n",
		       interval_us, timeout_us);
		return -EINVAL;
	}
	if (role > ORTHROS_ROLE_BACKUP)
		return -EINVAL;
	/* The host side formats the region before any guest starts. */
	ret = orthros_shm_check(od->shm, od->shm_size, &nr);
	if (ret || od->self >= nr) {
		dev_err(od->parent, "shared region has no valid Orthros header (is the doorbell server Orthros's?)\n");
		return -ENODEV;
	}

	mutex_lock(&orthros_lock);
	if (orthros_the_dev) {
		mutex_unlock(&orthros_lock);
		dev_err(od->parent, "a partition link is already bound\n");
		return -EBUSY;
	}

	spin_lock_init(&od->rec_lock);
	spin_lock_init(&od->watch_lock);
	init_waitqueue_head(&od->wq);
	memset(od->ring_to, 0xff, sizeof(od->ring_to));
	od->my_record = orthros_shm_record(od->shm, od->shm_size, od->self);
	od->interval_us = interval_us;
	od->timeout_us = timeout_us;
	od->peers = peers & (BIT_ULL(ORTHROS_MAX_PEERS) - 1);
	orthros_watch_init(&od->watch, od->self, od->peers,
			   (u64)timeout_us * NSEC_PER_USEC);

	memset(&od->me, 0, sizeof(od->me));
	od->me.peer_id = od->self;
	od->me.doorbell = od->doorbell;
	od->me.generation = gen;
	od->me.role = role;
	od->me.state = ORTHROS_STATE_RUNNING;
	od->me.interval_us = interval_us;
	od->me.timeout_us = timeout_us;
	od->me.state_ns = ktime_get_ns();
	get_random_bytes(od->me.boot_id, sizeof(od->me.boot_id));
	orthros_rec_write(od->my_record, &od->me);

	hrtimer_init(&od->beat_timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL_HARD);
	od->beat_timer.function = beat_fn;
	hrtimer_init(&od->watch_timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL_HARD);
	od->watch_timer.function = watch_fn;

	od->misc.minor = MISC_DYNAMIC_MINOR;
	od->misc.name = "orthros";
	od->misc.fops = &orthros_fops;
	od->misc.mode = 0600;
	od->misc.parent = od->parent;
	ret = misc_register(&od->misc);
	if (ret)
		goto out;
	ret = orthros_notify_register(od);
	if (ret) {
		misc_deregister(&od->misc);
		goto out;
	}
	orthros_the_dev = od;
	hrtimer_start(&od->watch_timer, 0, HRTIMER_MODE_REL_HARD);
	if (role != ORTHROS_ROLE_NONE)
		start_beating(od);
	pr_info("generation %u, peer %u, role %s, heartbeat %u us, timeout %u us\n",
		gen, od->self, orthros_role_name(role), interval_us, timeout_us);
out:
	mutex_unlock(&orthros_lock);
	return ret;
}

void orthros_core_unregister(struct orthros_dev *od)
{
	unsigned long flags;

	mutex_lock(&orthros_lock);
	orthros_notify_unregister();
	hrtimer_cancel(&od->beat_timer);
	hrtimer_cancel(&od->watch_timer);
	misc_deregister(&od->misc);
	/* A clean unload is not a failure: say so before going quiet. */
	spin_lock_irqsave(&od->rec_lock, flags);
	od->me.state = ORTHROS_STATE_DOWN;
	publish_locked(od);
	spin_unlock_irqrestore(&od->rec_lock, flags);
	orthros_the_dev = NULL;
	mutex_unlock(&orthros_lock);
}

static int __init orthros_init(void)
{
	return orthros_ivshmem_init();
}

static void __exit orthros_exit(void)
{
	orthros_ivshmem_exit();
}

module_init(orthros_init);
module_exit(orthros_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Orthros: heartbeat and failure notice between OS partitions");
MODULE_VERSION("0.1.0");
