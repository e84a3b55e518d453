// SPDX-License-Identifier: GPL-2.0-or-later
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <qb/qblog.h>

#include "partd.h"
#include "plan.h"
#include "units.h"

void partd_init(struct partd *d, const struct orthros_conf *conf,
		struct platform *plat, const struct partd_options *opt,
		uint64_t (*now_ns)(void))
{
	memset(d, 0, sizeof(*d));
	d->conf = conf;
	d->plat = plat;
	d->opt = *opt;
	d->now_ns = now_ns;
}

void partd_note(struct partd *d, const char *fmt, ...)
{
	unsigned int i = d->tl_next;
	va_list ap;

	d->timeline[i].ns = d->now_ns();
	va_start(ap, fmt);
	vsnprintf(d->timeline[i].what, sizeof(d->timeline[i].what), fmt, ap);
	va_end(ap);
	qb_log(LOG_NOTICE, "%s", d->timeline[i].what);
	d->tl_next = (i + 1) % PARTD_TIMELINE;
	if (d->tl_count < PARTD_TIMELINE)
		d->tl_count++;
}

void partd_node_name(const struct partd *d, uint32_t gen, char *out, size_t len)
{
	snprintf(out, len, "%s%c", d->opt.name_prefix, gen % 2 ? 'a' : 'b');
}

struct partd_part *partd_find(struct partd *d, const char *name)
{
	for (int i = 0; i < PARTD_MAX_PARTS; i++)
		if (d->part[i].used && !strcmp(d->part[i].name, name))
			return &d->part[i];
	return NULL;
}

static struct partd_part *by_generation(struct partd *d, uint32_t gen)
{
	for (int i = 0; i < PARTD_MAX_PARTS; i++)
		if (d->part[i].used && d->part[i].generation == gen)
			return &d->part[i];
	return NULL;
}

static const char *link_name(enum partd_link l)
{
	static const char *const names[] = { "booting", "up", "lost", "panic", "stopping" };

	return l < sizeof(names) / sizeof(names[0]) ? names[l] : "?";
}

/*
 * The platform may not run a partition as small or as large as the plan
 * says (an emulated partition running the whole cluster stack needs more
 * than a 256 MiB slot; a lab host has less than the machine described).
 */
static uint64_t clamp_memory(const struct partd *d, uint64_t bytes)
{
	if (d->opt.min_memory && bytes < d->opt.min_memory)
		bytes = d->opt.min_memory;
	if (d->opt.max_memory && bytes > d->opt.max_memory)
		bytes = d->opt.max_memory;
	return bytes;
}

int partd_boot(struct partd *d, uint32_t gen, uint32_t role)
{
	struct plan_generation pg;
	struct platform_boot b;
	struct partd_part *p;
	int rc;

	if (gen == 0 || (role != ORTHROS_ROLE_ACTIVE && role != ORTHROS_ROLE_BACKUP))
		return -EINVAL;
	if (by_generation(d, gen))
		return -EEXIST;
	/* Generation N is Active in plan N and Backup in plan N - 1. */
	rc = plan_generation(d->conf, role == ORTHROS_ROLE_ACTIVE ? gen : gen - 1, &pg);
	if (rc)
		return rc;
	const struct plan_side *side = role == ORTHROS_ROLE_ACTIVE ? &pg.active : &pg.backup;

	memset(&b, 0, sizeof(b));
	partd_node_name(d, gen, b.name, sizeof(b.name));
	p = partd_find(d, b.name);
	if (p) {
		enum platform_state st;

		d->plat->ops->state(d->plat, p->name, &st);
		/* A fenced partition is dead: its identity boots the next OS. */
		if (st == PLATFORM_RUNNING)
			return -EBUSY;
		d->plat->ops->destroy(d->plat, p->name);
		memset(p, 0, sizeof(*p));
	}
	for (int i = 0; i < PARTD_MAX_PARTS && !p; i++)
		if (!d->part[i].used)
			p = &d->part[i];
	if (!p)
		return -ENOSPC;

	b.generation = gen;
	b.role = role;
	b.slot = side->slot;
	b.vcpus = side->ncpus ? (unsigned int)side->ncpus : 1;
	if (d->opt.max_vcpus && b.vcpus > d->opt.max_vcpus)
		b.vcpus = d->opt.max_vcpus;
	b.max_vcpus = d->opt.max_vcpus ? d->opt.max_vcpus : (unsigned int)pg.active.ncpus;
	b.memory = side->memory;
	b.max_memory = pg.active.memory;
	b.memory = clamp_memory(d, b.memory);
	b.max_memory = clamp_memory(d, b.max_memory);
	/* Whole 2 MiB units keep QEMU's memory backend happy. */
	b.memory &= ~((UINT64_C(2) << 20) - 1);
	snprintf(b.payload, sizeof(b.payload), "%s", d->opt.payload);
	snprintf(b.mac, sizeof(b.mac), "52:54:00:0e:00:%02x", gen % 2 ? 1 : 2);

	rc = d->plat->ops->start(d->plat, &b);
	if (rc)
		return rc;
	memset(p, 0, sizeof(*p));
	p->used = true;
	snprintf(p->name, sizeof(p->name), "%s", b.name);
	p->generation = gen;
	p->role = role;
	p->vcpus = b.vcpus;
	p->memory = b.memory;
	p->peer = -1;
	p->boot_ns = d->now_ns();
	if (gen > d->max_generation)
		d->max_generation = gen;
	partd_note(d, "%s: generation %u booting as %s in slot %s", p->name, gen,
		   orthros_role_name(role), conf_slot_name(side->slot));
	return 0;
}

static int grow_to_active_size(struct partd *d, struct partd_part *p,
			       unsigned int *add_cpus, uint64_t *add_mem);

/*
 * A frozen partition's vCPUs are stopped, so the cores and memory it had
 * are free now, not after Pacemaker has promoted someone.  Seed 001 grows
 * the new Active after the takeover; giving the survivor the dead
 * partition's size at the notice lets the takeover itself (the cluster
 * stack's election, scheduler and resource agents) run on the Active's
 * cores instead of the Backup's single one.  Only on certain death: a
 * partition that merely stopped beating may come back.
 */
static void grow_survivors(struct partd *d, const struct partd_part *dead)
{
	for (int i = 0; i < PARTD_MAX_PARTS; i++) {
		struct partd_part *s = &d->part[i];
		unsigned int cpus = 0;
		uint64_t mem = 0;
		int rc;

		if (!s->used || s == dead || s->frozen_ns || s->link != PARTD_LINK_UP)
			continue;
		rc = grow_to_active_size(d, s, &cpus, &mem);
		if (rc)
			partd_note(d, "%s: cannot take over %s's resources: %s", s->name,
				   dead->name, strerror(-rc));
		else if (cpus || mem)
			partd_note(d, "%s: given %s's resources at its death: +%u vCPU, +%" PRIu64
				   " MiB (now %u vCPU, %" PRIu64 " MiB)", s->name, dead->name,
				   cpus, mem >> 20, s->vcpus, s->memory >> 20);
	}
}

int partd_fence(struct partd *d, const char *name, const char *why)
{
	struct partd_part *p = partd_find(d, name);
	int rc;

	if (!p)
		return -ENOENT;
	if (p->frozen_ns)
		return 0;
	rc = d->plat->ops->freeze(d->plat, name);
	if (rc)
		return rc;
	p->frozen_ns = d->now_ns();
	partd_note(d, "%s: generation %u fenced (vCPUs stopped): %s", name, p->generation, why);
	/* The baseline (notices off) keeps the seed's order: grow after. */
	if (d->opt.grow_on_death && !d->opt.ignore_notices)
		grow_survivors(d, p);
	return 0;
}

void partd_on_event(struct partd *d, const struct orthros_event *ev)
{
	struct partd_part *p = by_generation(d, ev->generation);

	if (!p || !p->used)
		return;	/* a stale record of a partition we no longer run */
	p->peer = (int)ev->peer;
	switch (ev->type) {
	case ORTHROS_EV_PEER_UP:
		p->link = PARTD_LINK_UP;
		p->up_ns = d->now_ns();
		partd_note(d, "%s: generation %u kernel up (link slot %u)", p->name,
			   p->generation, ev->peer);
		break;
	case ORTHROS_EV_HEARTBEAT_LOST:
		if (p->link == PARTD_LINK_UP)
			p->link = PARTD_LINK_LOST;
		partd_note(d, "%s: heartbeat lost (hung or slow, not known dead)", p->name);
		break;
	case ORTHROS_EV_HEARTBEAT_BACK:
		if (p->link == PARTD_LINK_LOST)
			p->link = PARTD_LINK_UP;
		partd_note(d, "%s: heartbeat back", p->name);
		break;
	case ORTHROS_EV_PANIC:
		if (d->opt.ignore_notices) {
			/* Standard practice, for comparison: a node that went
			 * silent, nothing more, until corosync says so. */
			p->link = PARTD_LINK_LOST;
			partd_note(d, "%s: generation %u PANIC notice ignored (notices off)",
				   p->name, p->generation);
			break;
		}
		p->link = PARTD_LINK_PANIC;
		p->notice_ns = d->now_ns();
		partd_note(d, "%s: generation %u PANIC notice", p->name, p->generation);
		/* Certain death: stop it now, while corosync is still waiting. */
		if (d->opt.freeze_on_panic)
			partd_fence(d, p->name, "its kernel panicked");
		break;
	case ORTHROS_EV_STOPPING:
		p->link = PARTD_LINK_STOPPING;
		p->notice_ns = d->now_ns();
		partd_note(d, "%s: generation %u STOPPING notice (planned stop)", p->name,
			   p->generation);
		break;
	default:
		break;
	}
}

void partd_on_gone(struct partd *d, const char *name)
{
	struct partd_part *p = partd_find(d, name);

	if (p)
		partd_note(d, "%s: generation %u partition exited", name, p->generation);
}

/* ---- commands ---------------------------------------------------------- */

struct out {
	char *buf;
	size_t len, used;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->used >= o->len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->used, o->len - o->used, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->used += (size_t)n < o->len - o->used ? (size_t)n : o->len - o->used - 1;
}

static void cmd_status(struct partd *d, struct out *o)
{
	uint64_t now = d->now_ns();

	put(o, "%-12s %-4s %-7s %-8s %-8s %s\n", "partition", "gen", "role", "platform",
	    "link", "since");
	for (int i = 0; i < PARTD_MAX_PARTS; i++) {
		struct partd_part *p = &d->part[i];
		enum platform_state st;

		if (!p->used)
			continue;
		d->plat->ops->state(d->plat, p->name, &st);
		uint64_t since = p->notice_ns ? p->notice_ns : p->up_ns ? p->up_ns : p->boot_ns;
		/* The kernel's word, once it has one; the booted role before. */
		uint32_t role = p->role;

		if (p->peer >= 0 && d->kernel_role)
			d->kernel_role(d, p->peer, p->generation, &role);
		put(o, "%-12s %-4u %-7s %-8s %-8s %.1fs ago\n", p->name, p->generation,
		    orthros_role_name(role), platform_state_name(st), link_name(p->link),
		    (double)(now - since) / 1e9);
	}
}

/*
 * May @p be shot?  PANIC or STOPPING on record, or a heartbeat already
 * lost, or frozen: yes.  A kernel that still beats: not on a partition's
 * word (a stalled BackupOS must never kill a healthy ActiveOS); root may
 * still force it.
 */
static bool beats(const struct partd_part *p)
{
	return p->link == PARTD_LINK_UP && !p->frozen_ns;
}

static int cmd_dead(struct partd *d, struct partd_part *p, struct out *o)
{
	enum platform_state st;

	d->plat->ops->state(d->plat, p->name, &st);
	if ((p->link == PARTD_LINK_PANIC || p->link == PARTD_LINK_STOPPING) &&
	    (st == PLATFORM_PAUSED || st == PLATFORM_GONE)) {
		put(o, "dead %s gen=%u notice=%s platform=%s\n", p->name, p->generation,
		    link_name(p->link), platform_state_name(st));
		return 0;
	}
	if (st == PLATFORM_PAUSED || st == PLATFORM_GONE || st == PLATFORM_ABSENT) {
		put(o, "dead %s gen=%u fenced platform=%s\n", p->name, p->generation,
		    platform_state_name(st));
		return 0;
	}
	put(o, "alive %s gen=%u link=%s platform=%s\n", p->name, p->generation,
	    link_name(p->link), platform_state_name(st));
	return -EAGAIN;
}

static int parse_u32(const char *s, uint32_t *v)
{
	uint64_t x;

	if (!s || units_parse_u64(s, &x) || x > UINT32_MAX)
		return -EINVAL;
	*v = (uint32_t)x;
	return 0;
}

/* Grow a partition to the Active's size (plan of its own generation). */
static int grow_to_active_size(struct partd *d, struct partd_part *p,
			       unsigned int *add_cpus, uint64_t *add_mem)
{
	struct plan_generation pg;
	int rc = plan_generation(d->conf, p->generation, &pg);

	*add_cpus = 0;
	*add_mem = 0;
	if (rc)
		return rc;
	unsigned int want = pg.active.ncpus ? (unsigned int)pg.active.ncpus : 1;
	uint64_t block = d->conf->block_size ? d->conf->block_size : CONF_DEFAULT_BLOCK_SIZE;
	uint64_t mem_want = clamp_memory(d, pg.active.memory);

	if (d->opt.max_vcpus && want > d->opt.max_vcpus)
		want = d->opt.max_vcpus;
	unsigned int cpus = want > p->vcpus ? want - p->vcpus : 0;
	/* Memory comes in hotplug blocks: what does not fill one stays out. */
	uint64_t mem = mem_want > p->memory ? (mem_want - p->memory) / block * block : 0;

	if (cpus) {
		rc = d->plat->ops->add_vcpus(d->plat, p->name, cpus);
		if (rc)
			return rc;
		p->vcpus += cpus;
		*add_cpus = cpus;
	}
	if (mem) {
		rc = d->plat->ops->add_memory(d->plat, p->name, mem);
		if (rc)
			return rc;
		p->memory += mem;
		*add_mem = mem;
	}
	return 0;
}

static int cmd_grow(struct partd *d, struct partd_part *p, struct out *o)
{
	unsigned int add_cpus;
	uint64_t add;
	int rc = grow_to_active_size(d, p, &add_cpus, &add);

	if (rc)
		return rc;
	p->role = ORTHROS_ROLE_ACTIVE;
	partd_note(d, "%s: grown to the Active's size: +%u vCPU, +%" PRIu64 " MiB (now %u vCPU, %" PRIu64 " MiB)",
		   p->name, add_cpus, add >> 20, p->vcpus, p->memory >> 20);
	put(o, "grown %s vcpus=+%u memory=+%" PRIu64 "MiB total_vcpus=%u total_memory=%" PRIu64 "MiB\n",
	    p->name, add_cpus, add >> 20, p->vcpus, p->memory >> 20);
	return 0;
}

int partd_command(struct partd *d, const char *caller, const char *line,
		  char *outbuf, size_t outlen)
{
	char copy[256], *argv[8], *save = NULL;
	struct out o = { outbuf, outlen, 0 };
	struct partd_part *self = caller ? partd_find(d, caller) : NULL;
	int argc = 0, rc = 0;

	if (outlen)
		outbuf[0] = '\0';
	if (strlen(line) >= sizeof(copy)) {
		put(&o, "error: command too long\n");
		return -E2BIG;
	}
	strcpy(copy, line);
	for (char *t = strtok_r(copy, " \t\r\n", &save); t && argc < 8;
	     t = strtok_r(NULL, " \t\r\n", &save))
		argv[argc++] = t;
	if (caller && !self) {
		put(&o, "error: unknown partition %s\n", caller);
		return -EPERM;
	}
	if (argc == 0) {
		put(&o, "error: empty command\n");
		return -EINVAL;
	}
	const char *cmd = argv[0];
	struct partd_part *target = argc > 1 ? partd_find(d, argv[1]) : NULL;

	if (!strcmp(cmd, "status") && argc == 1) {
		cmd_status(d, &o);
	} else if (!strcmp(cmd, "notices") && argc == 2 && !caller) {
		/* Switch the baseline on for benchmarks (bench/failover.sh). */
		if (strcmp(argv[1], "on") && strcmp(argv[1], "off")) {
			put(&o, "error: notices on|off\n");
			return -EINVAL;
		}
		d->opt.ignore_notices = !strcmp(argv[1], "off");
		partd_note(d, "controller: failure notices %s", argv[1]);
		put(&o, "notices %s\n", argv[1]);
	} else if (!strcmp(cmd, "notices") && argc == 1 && !caller) {
		put(&o, "notices %s\n", d->opt.ignore_notices ? "off" : "on");
	} else if (!strcmp(cmd, "timeline") && argc == 1) {
		for (unsigned int i = 0; i < d->tl_count; i++) {
			unsigned int k = (d->tl_next + PARTD_TIMELINE - d->tl_count + i) % PARTD_TIMELINE;

			put(&o, "%" PRIu64 " %s\n", d->timeline[k].ns, d->timeline[k].what);
		}
	} else if (!strcmp(cmd, "dead") &&
		   (argc == 2 || (argc == 3 && !strcmp(argv[2], "--no-ack")))) {
		if (!target) {
			put(&o, "error: no partition %s\n", argv[1]);
			return -ENOENT;
		}
		/*
		 * --no-ack: the early takeover asks, on a notice; with notices
		 * off (the baseline) nothing acts on one, so the answer is no
		 * even for a guest QEMU itself stopped at its panic.
		 */
		if (argc == 3 && d->opt.ignore_notices) {
			put(&o, "no early takeover: notices off\n");
			return -EAGAIN;
		}
		rc = cmd_dead(d, target, &o);
		/* Only the fence agent's answer stands for the cluster's fence
		 * (boot-backup waits on it). */
		if (!rc && caller && argc == 2)
			target->fence_acked = true;
	} else if (!strcmp(cmd, "fence") && argc >= 2) {
		if (!target) {
			put(&o, "error: no partition %s\n", argv[1]);
			return -ENOENT;
		}
		if (caller && target == self) {
			put(&o, "error: a partition does not fence itself\n");
			return -EPERM;
		}
		if (caller && beats(target)) {
			partd_note(d, "%s: fence request from %s refused: its kernel still beats",
				   target->name, caller);
			put(&o, "refused: %s's kernel still beats\n", target->name);
			return -EBUSY;
		}
		rc = partd_fence(d, target->name, caller ? "fence request from the peer" :
				 "fence request from root");
		if (!rc) {
			target->fence_acked = true;
			put(&o, "fenced %s gen=%u\n", target->name, target->generation);
		}
	} else if (!strcmp(cmd, "boot") && argc == 3 && !caller) {
		uint32_t gen, role = !strcmp(argv[2], "active") ? ORTHROS_ROLE_ACTIVE :
				     !strcmp(argv[2], "backup") ? ORTHROS_ROLE_BACKUP : 0;

		if (parse_u32(argv[1], &gen) || !role) {
			put(&o, "error: boot GENERATION active|backup\n");
			return -EINVAL;
		}
		rc = partd_boot(d, gen, role);
		if (!rc)
			put(&o, "booting generation %u\n", gen);
	} else if (!strcmp(cmd, "note") && argc >= 2 && caller) {
		/* A milestone seen inside a partition, on the controller's clock
		 * (the channel's delay is far below what the timeline resolves). */
		const char *text = strstr(line, "note") + 4;

		while (*text == ' ')
			text++;
		partd_note(d, "%s: %.80s", caller, text);
	} else if (!strcmp(cmd, "boot-backup") && argc == 1 && caller) {
		/*
		 * The Active asks for a BackupOS to watch it: after a takeover, or
		 * when its Backup died.  The N-th OS booted is generation N, but a
		 * generation's parity fixes its identity and slot, so a dead
		 * Backup's replacement skips to the next number of its parity.
		 */
		uint32_t gen = d->max_generation + 1;

		if (gen % 2 == self->generation % 2)
			gen++;
		/*
		 * Fencing is by node name, and the new OS takes the dead one's
		 * name: booting it before the cluster has fenced the dead one
		 * would have that fence hit the newcomer (seen in the lab when
		 * a Backup died).  So wait for the fence agent's word, or for
		 * FENCE_ACK_GRACE if the cluster never knew the dead one.
		 */
		char name[PLATFORM_NAME_LEN];
		struct partd_part *old;

		partd_node_name(d, gen, name, sizeof(name));
		old = partd_find(d, name);
		if (old && !old->fence_acked &&
		    d->now_ns() - (old->frozen_ns ? old->frozen_ns : old->boot_ns) < PARTD_FENCE_ACK_GRACE_NS) {
			enum platform_state st;

			d->plat->ops->state(d->plat, old->name, &st);
			if (st != PLATFORM_RUNNING) {
				put(&o, "waiting for the cluster to fence %s (generation %u)\n",
				    old->name, old->generation);
				return -EAGAIN;
			}
		}
		rc = partd_boot(d, gen, ORTHROS_ROLE_BACKUP);
		if (!rc)
			put(&o, "booting generation %u\n", gen);
	} else if (!strcmp(cmd, "grow") && (caller ? argc == 1 : argc == 2)) {
		struct partd_part *p = caller ? self : target;

		if (!p) {
			put(&o, "error: no partition %s\n", argv[1]);
			return -ENOENT;
		}
		rc = cmd_grow(d, p, &o);
	} else if (!strcmp(cmd, "inject") && argc == 3 && !caller) {
		if (!target) {
			put(&o, "error: no partition %s\n", argv[1]);
			return -ENOENT;
		}
		if (strcmp(argv[2], "nmi") && strcmp(argv[2], "hang") && strcmp(argv[2], "resume")) {
			put(&o, "error: inject NAME nmi|hang|resume\n");
			return -EINVAL;
		}
		if (!strcmp(argv[2], "resume") && target->frozen_ns) {
			/* Its disk and address belong to the new Active now. */
			put(&o, "error: %s is fenced; it stays stopped until destroyed\n",
			    target->name);
			return -EPERM;
		}
		partd_note(d, "%s: injecting %s", target->name, argv[2]);
		rc = d->plat->ops->inject(d->plat, target->name, argv[2]);
		if (!rc)
			put(&o, "%" PRIu64 " injected %s into %s\n", d->timeline[(d->tl_next + PARTD_TIMELINE - 1) % PARTD_TIMELINE].ns,
			    argv[2], target->name);
	} else if (!strcmp(cmd, "destroy") && argc == 2 && !caller) {
		if (!target) {
			put(&o, "error: no partition %s\n", argv[1]);
			return -ENOENT;
		}
		rc = d->plat->ops->destroy(d->plat, target->name);
		if (!rc) {
			partd_note(d, "%s: generation %u destroyed", target->name, target->generation);
			memset(target, 0, sizeof(*target));
			put(&o, "destroyed %s\n", argv[1]);
		}
	} else {
		put(&o, "error: unknown or not permitted: %s\n", line);
		return caller ? -EPERM : -EINVAL;
	}
	if (rc && o.used == 0)
		put(&o, "error: %s\n", strerror(-rc));
	return rc;
}
