/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The early takeover's plan, read from the cluster's own configuration.
 *
 * At a PANIC notice the BackupOS has ~2 s (corosync's token + consensus)
 * in which Pacemaker can do nothing.  The early takeover uses it to do
 * what Pacemaker will then ask for: mount the data disk, add the service
 * address, start the service.  What to do is not configured twice: the
 * plan is derived from a copy of the CIB, taking every resource that
 * Pacemaker keeps with the Promoted ocf:orthros:partition instance
 * (INFINITY colocations, followed transitively), in three phases —
 * ocf:heartbeat:Filesystem, ocf:heartbeat:IPaddr2, then
 * ocf:orthros:protected, the services in the order a start-to-start
 * rsc_order between them sets (a cycle: none of them, as Pacemaker
 * would), each knowing which it must wait for, so that the others can
 * start side by side.  Pacemaker's later starts find each one done
 * (all three agents' start returns success for what already runs).
 *
 * A resource of any other type is Pacemaker's alone; while one is in
 * the set no service is started early, since it may be what the service
 * needs.  A node in standby, a cluster in maintenance mode, a resource
 * that is unmanaged or meant to be stopped: no early takeover of it.
 */
#ifndef ORTHROS_TAKEOVER_PLAN_H
#define ORTHROS_TAKEOVER_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TK_MAX_STEPS 16
#define TK_NAME_MAX 64
#define TK_PATH_MAX 256

enum tk_kind { TK_MOUNT, TK_ADDRESS, TK_SERVICE };

struct tk_step {
	enum tk_kind kind;
	char rsc[TK_NAME_MAX];		/* the Pacemaker resource it stands for */
	/*
	 * A service: the plan's steps (bit i: step[i]) that must answer
	 * before it starts, from the rsc_order constraints and its group.
	 */
	uint32_t after;
	union {
		struct {
			char device[TK_PATH_MAX], directory[TK_PATH_MAX];
			char fstype[32], options[TK_PATH_MAX];
		} mount;
		struct {
			char ip[64], nic[32];
			unsigned int prefix;
		} addr;
		struct {
			char command[512], ports[128], logfile[TK_PATH_MAX];
			char group[TK_NAME_MAX], region[TK_PATH_MAX];
			bool lazy;	/* restore with memory on demand */
			bool pidns;	/* a cold start in its own pid namespace */
			/*
			 * The cgroup a cold start puts the tree in, relative
			 * to the cgroup2 hierarchy ("" none); auto: only if
			 * one is mounted, as the agent has it.
			 */
			char cgroup[TK_PATH_MAX];
			bool cgroup_auto;
			/*
			 * The agent's data_paths, as written (absolute paths
			 * separated by spaces): a warm restore puts their
			 * files back first (ckpt-data.h).
			 */
			char data_paths[1024];
		} svc;
	} u;
};

struct tk_plan {
	char self[TK_NAME_MAX], peer[TK_NAME_MAX];
	unsigned int n;
	struct tk_step step[TK_MAX_STEPS];
	char left[512];			/* resources left to Pacemaker, and why */
};

/*
 * Build the plan for node @self from the CIB XML in @xml.  0: *plan holds
 * 0..TK_MAX_STEPS steps (and plan->left what was left out).  -EPERM: no
 * early takeover at all here (standby, maintenance; @why says which).
 * -ENOENT: no promotable ocf:orthros:partition clone.  -EINVAL: not a CIB.
 * -ENOSYS: libxml2 could not be loaded (@why says why).
 */
int tk_plan_from_cib(const char *xml, size_t len, const char *self,
		     struct tk_plan *plan, char *why, size_t whylen);

#endif /* ORTHROS_TAKEOVER_PLAN_H */
