// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The controller's decisions, on a fake platform: which identity and size a
 * generation boots with, what a PANIC notice does, who may fence whom, and
 * what a partition may ask for over its channel.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "partd.h"

struct fake {
	struct platform base;
	struct platform_boot booted[8];
	int nbooted;
	char frozen[8][PLATFORM_NAME_LEN];
	int nfrozen;
	int ninjected;
	struct {
		char name[PLATFORM_NAME_LEN];
		enum platform_state st;
	} st[8];
	unsigned int vcpus_added;
	uint64_t memory_added;
};

static struct fake fake;
static uint64_t fake_now;

static uint64_t now(void)
{
	return fake_now;
}

static enum platform_state *slot(const char *name)
{
	for (int i = 0; i < 8; i++)
		if (!strcmp(fake.st[i].name, name))
			return &fake.st[i].st;
	for (int i = 0; i < 8; i++)
		if (!fake.st[i].name[0]) {
			strcpy(fake.st[i].name, name);
			return &fake.st[i].st;
		}
	fail();
	return NULL;
}

static int f_start(struct platform *p, const struct platform_boot *b)
{
	(void)p;
	fake.booted[fake.nbooted++] = *b;
	*slot(b->name) = PLATFORM_RUNNING;
	return 0;
}

static int f_freeze(struct platform *p, const char *name)
{
	(void)p;
	strcpy(fake.frozen[fake.nfrozen++], name);
	*slot(name) = PLATFORM_PAUSED;
	return 0;
}

static int f_destroy(struct platform *p, const char *name)
{
	(void)p;
	*slot(name) = PLATFORM_ABSENT;
	return 0;
}

static int f_state(struct platform *p, const char *name, enum platform_state *st)
{
	(void)p;
	*st = *slot(name);
	return 0;
}

static int f_add_vcpus(struct platform *p, const char *name, unsigned int n)
{
	(void)p;
	(void)name;
	fake.vcpus_added += n;
	return 0;
}

static int f_add_memory(struct platform *p, const char *name, uint64_t bytes)
{
	(void)p;
	(void)name;
	fake.memory_added += bytes;
	return 0;
}

static int f_inject(struct platform *p, const char *name, const char *what)
{
	(void)p;
	(void)name;
	(void)what;
	fake.ninjected++;
	return 0;
}

static const struct platform_ops fake_ops = {
	.name = "fake",
	.start = f_start,
	.freeze = f_freeze,
	.destroy = f_destroy,
	.state = f_state,
	.add_vcpus = f_add_vcpus,
	.add_memory = f_add_memory,
	.inject = f_inject,
};

struct ctx {
	struct orthros_conf conf;
	struct diag dg;
	struct partd d;
	char out[PARTD_MSG_MAX];
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	struct partd_options opt = {
		.name_prefix = "orthros-",
		.payload = "/payload",
		.freeze_on_panic = true,
		.grow_on_death = true,
	};

	assert_non_null(c);
	diag_init(&c->dg, "orthros.yaml");
	assert_int_equal(conf_load_file(SRCDIR "/config/orthros.yaml", &c->conf, &c->dg), 0);
	memset(&fake, 0, sizeof(fake));
	fake.base.ops = &fake_ops;
	fake_now = 1000;
	partd_init(&c->d, &c->conf, &fake.base, &opt, now);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

static int cmd(struct ctx *c, const char *caller, const char *line)
{
	return partd_command(&c->d, caller, line, c->out, sizeof(c->out));
}

static void event(struct ctx *c, uint32_t type, uint32_t peer, uint32_t gen)
{
	struct orthros_event ev = { .type = type, .peer = peer, .generation = gen };

	fake_now += 1000000;
	partd_on_event(&c->d, &ev);
}

/* Gen 1 Active and gen 2 Backup, both with their kernels beating. */
static void two_up(struct ctx *c)
{
	assert_int_equal(cmd(c, NULL, "boot 1 active"), 0);
	assert_int_equal(cmd(c, NULL, "boot 2 backup"), 0);
	event(c, ORTHROS_EV_PEER_UP, 2, 1);
	event(c, ORTHROS_EV_PEER_UP, 3, 2);
}

static void generations_alternate_identities_and_slots(void **state)
{
	struct ctx *c = *state;

	two_up(c);
	assert_int_equal(fake.nbooted, 2);
	assert_string_equal(fake.booted[0].name, "orthros-a");
	assert_int_equal(fake.booted[0].generation, 1);
	assert_int_equal(fake.booted[0].slot, CONF_SLOT_FIRST);
	assert_string_equal(fake.booted[1].name, "orthros-b");
	assert_int_equal(fake.booted[1].slot, CONF_SLOT_EVEN);
	/* The Backup boots small; the Active gets the general memory too. */
	assert_true(fake.booted[1].memory < fake.booted[0].memory);
	assert_true(fake.booted[1].max_memory >= fake.booted[0].memory);
	assert_string_equal(fake.booted[0].payload, "/payload");
	/* One partition per generation, one per identity. */
	assert_int_equal(cmd(c, NULL, "boot 2 backup"), -EEXIST);
	assert_int_equal(cmd(c, NULL, "boot 3 backup"), -EBUSY);
	assert_int_equal(cmd(c, NULL, "boot 0 active"), -EINVAL);
	assert_int_equal(cmd(c, NULL, "boot 4 sideways"), -EINVAL);
}

static void panic_notice_freezes_at_once_and_confirms_death(void **state)
{
	struct ctx *c = *state;

	two_up(c);
	assert_int_equal(cmd(c, NULL, "dead orthros-a"), -EAGAIN);
	assert_non_null(strstr(c->out, "alive orthros-a"));
	event(c, ORTHROS_EV_PANIC, 2, 1);
	assert_int_equal(fake.nfrozen, 1);
	assert_string_equal(fake.frozen[0], "orthros-a");
	assert_int_equal(cmd(c, "orthros-b", "dead orthros-a"), 0);
	assert_non_null(strstr(c->out, "notice=panic"));
	/* The timeline has the notice and the fencing, in that order. */
	assert_int_equal(cmd(c, NULL, "timeline"), 0);
	char *n = strstr(c->out, "PANIC notice"), *f = strstr(c->out, "fenced");

	assert_non_null(n);
	assert_non_null(f);
	assert_true(n < f);
}

static void stale_notice_of_another_generation_is_ignored(void **state)
{
	struct ctx *c = *state;

	two_up(c);
	/* A record left by a generation this controller no longer runs. */
	event(c, ORTHROS_EV_PANIC, 7, 9);
	assert_int_equal(fake.nfrozen, 0);
}

static void a_peer_whose_kernel_beats_is_not_fenced_on_a_partitions_word(void **state)
{
	struct ctx *c = *state;

	two_up(c);
	assert_int_equal(cmd(c, "orthros-b", "fence orthros-a"), -EBUSY);
	assert_non_null(strstr(c->out, "still beats"));
	assert_int_equal(fake.nfrozen, 0);
	/* Once its heartbeat is lost, the same request is granted. */
	event(c, ORTHROS_EV_HEARTBEAT_LOST, 2, 1);
	assert_int_equal(cmd(c, "orthros-b", "fence orthros-a"), 0);
	assert_int_equal(fake.nfrozen, 1);
	assert_int_equal(cmd(c, "orthros-b", "dead orthros-a"), 0);
	/* Root may always fence. */
	assert_int_equal(cmd(c, NULL, "fence orthros-b"), 0);
	assert_int_equal(fake.nfrozen, 2);
}

static void partitions_have_a_narrow_command_set(void **state)
{
	struct ctx *c = *state;

	two_up(c);
	assert_int_equal(cmd(c, "orthros-b", "fence orthros-b"), -EPERM);
	assert_int_equal(cmd(c, "orthros-b", "boot 5 active"), -EPERM);
	assert_int_equal(cmd(c, "orthros-b", "destroy orthros-a"), -EPERM);
	assert_int_equal(cmd(c, "intruder", "status"), -EPERM);
	assert_int_equal(cmd(c, "orthros-b", "status"), 0);
	assert_non_null(strstr(c->out, "orthros-a"));
	assert_int_equal(cmd(c, NULL, "frobnicate"), -EINVAL);
	/* Milestones from inside a partition land on the controller's timeline. */
	assert_int_equal(cmd(c, "orthros-b", "note promoted to Active"), 0);
	assert_int_equal(cmd(c, NULL, "timeline"), 0);
	assert_non_null(strstr(c->out, "orthros-b: promoted to Active"));
	assert_int_equal(cmd(c, NULL, "note root has no partition"), -EINVAL);
	assert_int_equal(cmd(c, NULL, ""), -EINVAL);
}

static void after_takeover_the_dead_identity_boots_the_next_backup(void **state)
{
	struct ctx *c = *state;

	two_up(c);
	event(c, ORTHROS_EV_PANIC, 2, 1);
	/* Gen 2 took over: it grows to the Active's size ... */
	assert_int_equal(cmd(c, "orthros-b", "grow"), 0);
	assert_true(fake.vcpus_added > 0);
	assert_true(fake.memory_added > 0);
	assert_int_equal(fake.memory_added % c->conf.block_size, 0);
	/* Grown once is grown: asking again adds nothing. */
	unsigned int v = fake.vcpus_added;
	uint64_t m = fake.memory_added;

	assert_int_equal(cmd(c, "orthros-b", "grow"), 0);
	assert_int_equal(fake.vcpus_added, v);
	assert_int_equal(fake.memory_added, m);
	/* ... and asks for gen 3, which boots as orthros-a into slot odd
	 * (the fence agent confirmed gen 1's death before the promotion). */
	assert_int_equal(cmd(c, "orthros-b", "dead orthros-a"), 0);
	assert_int_equal(cmd(c, "orthros-b", "boot-backup"), 0);
	assert_int_equal(fake.nbooted, 3);
	assert_string_equal(fake.booted[2].name, "orthros-a");
	assert_int_equal(fake.booted[2].generation, 3);
	assert_int_equal(fake.booted[2].slot, CONF_SLOT_ODD);
	/* Gen 1's stale events no longer map to anything. */
	event(c, ORTHROS_EV_HEARTBEAT_LOST, 2, 1);
	assert_int_equal(cmd(c, NULL, "status"), 0);
	assert_non_null(strstr(c->out, "orthros-a    3"));
}

static void a_panic_gives_the_dead_actives_resources_to_the_backup_at_once(void **state)
{
	struct ctx *c = *state;

	two_up(c);
	event(c, ORTHROS_EV_PANIC, 2, 1);
	/* Before any partition asked: frozen, and the Backup grown. */
	assert_int_equal(fake.nfrozen, 1);
	assert_true(fake.vcpus_added > 0);
	assert_true(fake.memory_added > 0);
	assert_int_equal(fake.memory_added % c->conf.block_size, 0);
	assert_int_equal(cmd(c, NULL, "timeline"), 0);
	assert_non_null(strstr(c->out, "orthros-b: given orthros-a's resources at its death"));
}

static void a_lost_heartbeat_gives_nothing_away_until_fenced(void **state)
{
	struct ctx *c = *state;

	two_up(c);
	event(c, ORTHROS_EV_HEARTBEAT_LOST, 2, 1);	/* maybe only slow */
	assert_int_equal(fake.nfrozen, 0);
	assert_int_equal(fake.vcpus_added, 0);
	assert_int_equal(fake.memory_added, 0);
	/* Once the cluster has it fenced, it is dead: the Backup grows. */
	assert_int_equal(cmd(c, "orthros-b", "fence orthros-a"), 0);
	assert_int_equal(fake.nfrozen, 1);
	assert_true(fake.vcpus_added > 0);
	assert_true(fake.memory_added > 0);
}

static void the_baseline_grows_nothing_at_a_panic(void **state)
{
	struct ctx *c = *state;

	two_up(c);
	assert_int_equal(cmd(c, NULL, "notices off"), 0);
	event(c, ORTHROS_EV_PANIC, 2, 1);
	assert_int_equal(fake.nfrozen, 0);
	assert_int_equal(fake.vcpus_added, 0);
}

static void the_first_active_boots_at_full_size(void **state)
{
	struct ctx *c = *state;

	two_up(c);
	assert_int_equal(cmd(c, "orthros-a", "grow"), 0);
	assert_int_equal(fake.vcpus_added, 0);
	assert_int_equal(fake.memory_added, 0);
}

static void a_dead_backup_is_replaced_with_its_identity(void **state)
{
	struct ctx *c = *state;

	two_up(c);
	event(c, ORTHROS_EV_PANIC, 3, 2);	/* the Backup dies */
	assert_int_equal(fake.nfrozen, 1);
	assert_string_equal(fake.frozen[0], "orthros-b");
	/* The Active already has the Active's size. */
	assert_int_equal(fake.vcpus_added, 0);
	assert_int_equal(fake.memory_added, 0);
	/*
	 * The early takeover's question (--no-ack) is not the fence agent's
	 * word: the replacement still waits for the cluster's fence.
	 */
	assert_int_equal(cmd(c, "orthros-a", "dead orthros-b --no-ack"), 0);
	assert_int_equal(cmd(c, "orthros-a", "boot-backup"), -EAGAIN);
	assert_int_equal(fake.nbooted, 2);
	assert_int_equal(cmd(c, "orthros-a", "dead orthros-b --bogus"), -EPERM);
	/* Gen 3 would be orthros-a's: the replacement is gen 4, orthros-b. */
	assert_int_equal(cmd(c, "orthros-a", "dead orthros-b"), 0);
	assert_int_equal(cmd(c, "orthros-a", "boot-backup"), 0);
	assert_int_equal(fake.nbooted, 3);
	assert_string_equal(fake.booted[2].name, "orthros-b");
	assert_int_equal(fake.booted[2].generation, 4);
	assert_int_equal(fake.booted[2].slot, CONF_SLOT_EVEN);
	/* While it runs, asking again changes nothing. */
	assert_int_equal(cmd(c, "orthros-a", "boot-backup"), -EBUSY);
}

static void a_running_identity_is_not_reused(void **state)
{
	struct ctx *c = *state;

	two_up(c);
	/* Gen 1 is alive and well: gen 3 cannot take its identity. */
	assert_int_equal(cmd(c, "orthros-b", "boot-backup"), -EBUSY);
	assert_int_equal(fake.nbooted, 2);
}

static void a_fenced_partition_is_never_resumed(void **state)
{
	struct ctx *c = *state;

	two_up(c);
	assert_int_equal(cmd(c, NULL, "inject orthros-a hang"), 0);
	assert_int_equal(cmd(c, NULL, "inject orthros-a resume"), 0);
	assert_int_equal(fake.ninjected, 2);
	/* Once fenced, its disk and address belong to the new Active. */
	event(c, ORTHROS_EV_HEARTBEAT_LOST, 2, 1);
	assert_int_equal(cmd(c, "orthros-b", "fence orthros-a"), 0);
	assert_int_equal(cmd(c, NULL, "inject orthros-a resume"), -EPERM);
	assert_non_null(strstr(c->out, "fenced"));
	assert_int_equal(fake.ninjected, 2);
}

static void with_notices_off_a_panic_waits_for_fencing(void **state)
{
	struct ctx *c = *state;

	two_up(c);
	assert_int_equal(cmd(c, "orthros-b", "notices off"), -EPERM);
	assert_int_equal(cmd(c, NULL, "notices off"), 0);
	event(c, ORTHROS_EV_PANIC, 2, 1);
	/* Nothing frozen, nothing confirmed: the fence agent must stop it. */
	assert_int_equal(fake.nfrozen, 0);
	assert_int_equal(cmd(c, "orthros-b", "dead orthros-a"), -EAGAIN);
	assert_int_equal(cmd(c, "orthros-b", "fence orthros-a"), 0);
	assert_int_equal(fake.nfrozen, 1);
	assert_int_equal(cmd(c, "orthros-b", "dead orthros-a"), 0);
	/* Stopped, but by the fence: the early takeover (on a notice) is off too. */
	assert_int_equal(cmd(c, "orthros-b", "dead orthros-a --no-ack"), -EAGAIN);
	assert_int_equal(cmd(c, NULL, "notices on"), 0);
	assert_int_equal(cmd(c, "orthros-b", "dead orthros-a --no-ack"), 0);
	assert_int_equal(cmd(c, NULL, "notices maybe"), -EINVAL);
}

static void a_dead_backup_is_replaced_only_once_the_cluster_fenced_it(void **state)
{
	struct ctx *c = *state;

	two_up(c);
	event(c, ORTHROS_EV_PANIC, 3, 2);	/* the Backup's kernel dies */
	assert_int_equal(fake.nfrozen, 1);
	/* Its name would be fenced later, and would hit the newcomer. */
	assert_int_equal(cmd(c, "orthros-a", "boot-backup"), -EAGAIN);
	assert_non_null(strstr(c->out, "waiting for the cluster"));
	assert_int_equal(fake.nbooted, 2);
	assert_int_equal(cmd(c, "orthros-a", "dead orthros-b"), 0);
	assert_int_equal(cmd(c, "orthros-a", "boot-backup"), 0);
	assert_int_equal(fake.nbooted, 3);
}

static int demoted_gen1(struct partd *d, int peer, uint32_t gen, uint32_t *role)
{
	(void)d;
	(void)peer;
	if (gen != 1)
		return -ENOENT;
	*role = ORTHROS_ROLE_BACKUP;
	return 0;
}

static void status_shows_the_role_the_kernel_publishes(void **state)
{
	struct ctx *c = *state;

	two_up(c);
	assert_int_equal(cmd(c, NULL, "status"), 0);
	assert_non_null(strstr(c->out, "orthros-a    1    active"));
	/* Pacemaker demoted gen 1: its record says so, and so must status. */
	c->d.kernel_role = demoted_gen1;
	assert_int_equal(cmd(c, NULL, "status"), 0);
	assert_non_null(strstr(c->out, "orthros-a    1    backup"));
	assert_non_null(strstr(c->out, "orthros-b    2    backup"));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(generations_alternate_identities_and_slots),
		T(panic_notice_freezes_at_once_and_confirms_death),
		T(stale_notice_of_another_generation_is_ignored),
		T(a_peer_whose_kernel_beats_is_not_fenced_on_a_partitions_word),
		T(partitions_have_a_narrow_command_set),
		T(after_takeover_the_dead_identity_boots_the_next_backup),
		T(the_first_active_boots_at_full_size),
		T(a_panic_gives_the_dead_actives_resources_to_the_backup_at_once),
		T(a_lost_heartbeat_gives_nothing_away_until_fenced),
		T(the_baseline_grows_nothing_at_a_panic),
		T(a_dead_backup_is_replaced_with_its_identity),
		T(a_running_identity_is_not_reused),
		T(a_fenced_partition_is_never_resumed),
		T(with_notices_off_a_panic_waits_for_fencing),
		T(a_dead_backup_is_replaced_only_once_the_cluster_fenced_it),
		T(status_shows_the_role_the_kernel_publishes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
