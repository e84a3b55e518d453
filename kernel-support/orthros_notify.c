// SPDX-License-Identifier: GPL-2.0
/*
 * The failure notice (panic) and the planned-stop notice (reboot, kexec).
 *
 * Like pvpanic, the panic path does the least that can work: write our
 * record and ring the peers with plain stores and MMIO writes.  It takes no
 * lock, allocates nothing and never sleeps.
 */
#include <linux/notifier.h>
#include <linux/panic_notifier.h>
#include <linux/reboot.h>

#include "orthros.h"

static struct orthros_dev *notify_dev;

static int orthros_panic(struct notifier_block *nb, unsigned long ev,
			 void *msg)
{
	struct orthros_dev *od = READ_ONCE(notify_dev);

	if (od)
		orthros_core_announce(od, ORTHROS_STATE_PANIC, msg, false);
	return NOTIFY_DONE;
}

static struct notifier_block orthros_panic_nb = {
	.notifier_call = orthros_panic,
	.priority = INT_MAX,	/* before anything that might hang */
};

/* kernel_kexec() and every restart/halt/power-off pass through here. */
static int orthros_reboot(struct notifier_block *nb, unsigned long code,
			  void *cmd)
{
	struct orthros_dev *od = READ_ONCE(notify_dev);

	if (od)
		orthros_core_announce(od, ORTHROS_STATE_STOPPING,
				      code == SYS_RESTART ? "restart" :
				      code == SYS_HALT ? "halt" : "power off",
				      true);
	return NOTIFY_DONE;
}

static struct notifier_block orthros_reboot_nb = {
	.notifier_call = orthros_reboot,
	.priority = INT_MAX,
};

int orthros_notify_register(struct orthros_dev *od)
{
	int ret;

	WRITE_ONCE(notify_dev, od);
	ret = register_reboot_notifier(&orthros_reboot_nb);
	if (ret) {
		WRITE_ONCE(notify_dev, NULL);
		return ret;
	}
	atomic_notifier_chain_register(&panic_notifier_list, &orthros_panic_nb);
	return 0;
}

void orthros_notify_unregister(void)
{
	atomic_notifier_chain_unregister(&panic_notifier_list, &orthros_panic_nb);
	unregister_reboot_notifier(&orthros_reboot_nb);
	WRITE_ONCE(notify_dev, NULL);
}
