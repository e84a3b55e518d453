// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The early takeover's plan, read from CIBs: the lab's own configuration
 * (tests/unit/data/cib-lab.xml, made from config/orthros.crm; the CLI test
 * makes a fresh one so the two cannot drift) and variants of it that must
 * each keep the early takeover from doing what Pacemaker would not.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <poll.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>
#include <cmocka.h>

#include "takeover-plan.h"
#include "takeover.h"

static char *lab_cib(void)
{
	FILE *f = fopen(SRCDIR "/tests/unit/data/cib-lab.xml", "re");
	char *buf = malloc(1 << 16);
	size_t n;

	assert_non_null(f);
	assert_non_null(buf);
	n = fread(buf, 1, (1 << 16) - 1, f);
	fclose(f);
	assert_true(n > 1000);
	buf[n] = '\0';
	return buf;
}

/* The lab CIB with @old (which must be in it) replaced by @new. */
static char *variant(const char *old, const char *new)
{
	char *cib = lab_cib(), *at = strstr(cib, old), *out;
	size_t pre, ol = strlen(old), nl = strlen(new), total;

	assert_non_null(at);
	pre = (size_t)(at - cib);
	total = strlen(cib) - ol + nl;
	out = malloc(total + 1);
	assert_non_null(out);
	memcpy(out, cib, pre);
	memcpy(out + pre, new, nl);
	strcpy(out + pre + nl, at + ol);
	free(cib);
	return out;
}

static int plan(const char *cib, const char *self, struct tk_plan *p, char *why)
{
	return tk_plan_from_cib(cib, strlen(cib), self, p, why, 256);
}

static void test_lab_plan(void **state)
{
	char *cib = lab_cib(), why[256];
	struct tk_plan p;

	(void)state;
	assert_int_equal(plan(cib, "orthros-b", &p, why), 0);
	assert_string_equal(p.peer, "orthros-a");
	assert_string_equal(p.left, "");
	assert_int_equal(p.n, 3);
	assert_int_equal(p.step[0].kind, TK_MOUNT);
	assert_string_equal(p.step[0].rsc, "data-fs");
	assert_string_equal(p.step[0].u.mount.device, "/dev/vda");
	assert_string_equal(p.step[0].u.mount.directory, "/srv/orthros");
	assert_string_equal(p.step[0].u.mount.fstype, "ext4");
	assert_string_equal(p.step[0].u.mount.options, "noatime");
	assert_int_equal(p.step[1].kind, TK_ADDRESS);
	assert_string_equal(p.step[1].u.addr.ip, "192.0.2.100");
	assert_string_equal(p.step[1].u.addr.nic, "eth0");
	assert_int_equal(p.step[1].u.addr.prefix, 24);
	assert_int_equal(p.step[2].kind, TK_SERVICE);
	assert_string_equal(p.step[2].rsc, "demo-service");
	assert_string_equal(p.step[2].u.svc.ports, "7000");
	assert_string_equal(p.step[2].u.svc.logfile, "/run/orthros-demo.log");
	assert_string_equal(p.step[2].u.svc.region, "auto");
	assert_string_equal(p.step[2].u.svc.group, "");
	assert_false(p.step[2].u.svc.lazy);
	assert_false(p.step[2].u.svc.pidns);	/* auto, and no group */
	assert_non_null(strstr(p.step[2].u.svc.command, "--port 7000"));

	/* The other identity sees the mirror image. */
	assert_int_equal(plan(cib, "orthros-a", &p, why), 0);
	assert_string_equal(p.peer, "orthros-b");
	assert_int_equal(p.n, 3);
	free(cib);
}

static void expect_refused(const char *old, const char *new, int rc, const char *why_has)
{
	char *cib = variant(old, new), why[256];
	struct tk_plan p;

	assert_int_equal(plan(cib, "orthros-b", &p, why), rc);
	assert_int_equal(p.n, 0);
	assert_non_null(strstr(why, why_has));
	free(cib);
}

static void test_refusals(void **state)
{
	(void)state;
	expect_refused("<node id=\"2\" uname=\"orthros-b\"/>",
		       "<node id=\"2\" uname=\"orthros-b\"><instance_attributes id=\"s\">"
		       "<nvpair id=\"s1\" name=\"standby\" value=\"on\"/></instance_attributes></node>",
		       -EPERM, "standby");
	expect_refused("<nvpair name=\"stonith-enabled\"",
		       "<nvpair id=\"mm\" name=\"maintenance-mode\" value=\"true\"/>"
		       "<nvpair name=\"stonith-enabled\"", -EPERM, "maintenance");
	expect_refused("<node id=\"2\" uname=\"orthros-b\"/>",
		       "<node id=\"2\" uname=\"orthros-b\"/><node id=\"3\" uname=\"orthros-c\"/>",
		       -EPERM, "more than two");
	expect_refused("<node id=\"1\" uname=\"orthros-a\"/>", "", -EPERM, "no peer");
	expect_refused("type=\"partition\"", "type=\"Dummy\"", -ENOENT, "partition");
	expect_refused("name=\"promotable\" value=\"true\"", "name=\"promotable\" value=\"false\"",
		       -ENOENT, "partition");
	expect_refused("<configuration>", "<configuratio>", -EINVAL, "");
}

static void test_not_xml(void **state)
{
	char *cib = lab_cib(), why[256];
	struct tk_plan p;

	(void)state;
	/* A copy cut short (a full disk, a crash mid-write) is refused. */
	assert_int_equal(tk_plan_from_cib(cib, strlen(cib) / 2, "orthros-b", &p, why, sizeof(why)),
			 -EINVAL);
	assert_int_equal(tk_plan_from_cib("", 0, "orthros-b", &p, why, sizeof(why)), -EINVAL);
	assert_int_equal(plan("<cib/>", "orthros-b", &p, why), -EINVAL);
	assert_int_equal(plan(cib, "", &p, why), -EINVAL);
	free(cib);
}

/* The plan of a variant: @steps steps, the last a service or not. */
static void expect_plan(const char *old, const char *new, unsigned int steps, bool service,
			const char *left)
{
	char *cib = variant(old, new), why[256];
	struct tk_plan p;

	assert_int_equal(plan(cib, "orthros-b", &p, why), 0);
	assert_int_equal(p.n, steps);
	assert_int_equal(steps && p.step[steps - 1].kind == TK_SERVICE, service);
	assert_non_null(strstr(p.left, left));
	free(cib);
}

#define PORTS_NV "<nvpair name=\"ports\" value=\"7000\" id=\"demo-service-instance_attributes-ports\"/>"

/*
 * The lab's plan for orthros-b with the service's group set to @group
 * ("": none) and its parameter @name set to @value (NULL: not set).
 */
static void plan_service_with(const char *group, const char *name, const char *value,
			      struct tk_plan *p)
{
	char with[512], why[256], *cib;
	int n = snprintf(with, sizeof(with), "%s", PORTS_NV);

	if (group[0])
		n += snprintf(with + n, sizeof(with) - (size_t)n,
			      "<nvpair name=\"group\" value=\"%s\" id=\"g\"/>", group);
	if (value)
		snprintf(with + n, sizeof(with) - (size_t)n,
			 "<nvpair name=\"%s\" value=\"%s\" id=\"n\"/>", name, value);
	cib = variant(PORTS_NV, with);
	assert_int_equal(plan(cib, "orthros-b", p, why), 0);
	assert_int_equal(p->n, 3);
	free(cib);
}

/* The protected group's lazy parameter, read as the agent reads a boolean. */
static void test_a_lazy_restore_is_asked_for_by_the_resource(void **state)
{
	const char *vals[] = { "true", "YES", "on", "1", "false", "no", "" };
	const bool want[] = { true, true, true, true, false, false, false };
	struct tk_plan p;

	(void)state;
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		plan_service_with("", "lazy", vals[i], &p);
		assert_int_equal(p.step[2].u.svc.lazy, want[i]);
	}
}

/* pid_namespace: auto follows group, as the agent has it; else a boolean. */
static void test_a_pid_namespace_follows_the_group_unless_said(void **state)
{
	const struct { const char *group, *pidns; bool want; } c[] = {
		{ "demo", NULL, true }, { "demo", "auto", true }, { "", "auto", false },
		{ "demo", "false", false }, { "", "true", true }, { "demo", "off", false },
	};
	struct tk_plan p;

	(void)state;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		plan_service_with(c[i].group, "pid_namespace", c[i].pidns, &p);
		assert_int_equal(p.step[2].u.svc.pidns, c[i].want);
	}
}

/* data_paths: what a warm restore puts back first, as the agent passes it. */
static void test_the_data_paths_go_to_the_restore(void **state)
{
	struct tk_plan p;

	(void)state;
	plan_service_with("demo", "data_paths", "/srv/orthros /var/lib/demo", &p);
	assert_string_equal(p.step[2].u.svc.data_paths, "/srv/orthros /var/lib/demo");
	plan_service_with("demo", "data_paths", NULL, &p);
	assert_string_equal(p.step[2].u.svc.data_paths, "");
}

/* cgroup: auto is orthros/GROUP (or the resource), as the agent has it. */
static void test_a_cgroup_as_the_agent_has_it(void **state)
{
	const char *at = PORTS_NV;
	const struct { const char *group, *cgroup, *want; bool is_auto; } c[] = {
		{ "demo", NULL, "orthros/demo", true }, { "", "auto", "orthros/demo-service", true },
		{ "demo", "svc/demo", "svc/demo", false }, { "demo", "false", "", false },
		{ "demo", "", "", false },
	};
	struct tk_plan p;

	(void)state;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		plan_service_with(c[i].group, "cgroup", c[i].cgroup, &p);
		assert_string_equal(p.step[2].u.svc.cgroup, c[i].want);
		assert_int_equal(p.step[2].u.svc.cgroup_auto, c[i].is_auto);
	}
	/* What the agent refuses is left to Pacemaker (whose start then fails). */
	expect_plan(at, "<nvpair name=\"cgroup\" value=\"/abs\" id=\"c\"/>", 2, false,
		    "demo-service: cgroup '/abs' is not a relative cgroup path");
	expect_plan(at, "<nvpair name=\"cgroup\" value=\"a/../b\" id=\"c\"/>", 2, false,
		    "demo-service: cgroup 'a/../b' is not a relative cgroup path");
}

static void test_left_to_pacemaker(void **state)
{
	(void)state;
	/* Meant to be stopped: not started. */
	expect_plan("<primitive id=\"demo-service\" class=\"ocf\" provider=\"orthros\" type=\"protected\">",
		    "<primitive id=\"demo-service\" class=\"ocf\" provider=\"orthros\" type=\"protected\">"
		    "<meta_attributes id=\"m\"><nvpair id=\"m1\" name=\"target-role\" value=\"Stopped\"/>"
		    "</meta_attributes>", 2, false, "demo-service: target-role Stopped");
	/* Unmanaged: Pacemaker would not touch it either. */
	expect_plan("<primitive id=\"data-fs\" class=\"ocf\" provider=\"heartbeat\" type=\"Filesystem\">",
		    "<primitive id=\"data-fs\" class=\"ocf\" provider=\"heartbeat\" type=\"Filesystem\">"
		    "<meta_attributes id=\"m\"><nvpair id=\"m1\" name=\"is-managed\" value=\"false\"/>"
		    "</meta_attributes>", 1, false, "data-fs: unmanaged");
	/* An agent of a kind not done early: the service may need it, so it waits. */
	expect_plan("type=\"IPaddr2\"", "type=\"IPsrcaddr\"", 1, false,
		    "demo-service: not started early");
	/* IPaddr2 left to guess its nic: so is the address, and the service. */
	expect_plan("<nvpair name=\"nic\" value=\"eth0\" id=\"service-ip-instance_attributes-nic\"/>",
		    "", 1, false, "service-ip: ip, nic and cidr_netmask are needed");
	expect_plan("name=\"cidr_netmask\" value=\"24\"", "name=\"cidr_netmask\" value=\"33\"", 1,
		    false, "cidr_netmask");
	/* Banned from this node by the operator. */
	expect_plan("</constraints>",
		    "<rsc_location id=\"cli-ban\" rsc=\"data-fs\" node=\"orthros-b\" score=\"-INFINITY\"/>"
		    "</constraints>", 1, false, "location constraint");
	/* A ban on the other node is none of ours. */
	expect_plan("</constraints>",
		    "<rsc_location id=\"cli-ban\" rsc=\"data-fs\" node=\"orthros-a\" score=\"-INFINITY\"/>"
		    "</constraints>", 3, true, "");
	/* A service command that is not an absolute path is not run from here. */
	expect_plan("value=\"/usr/libexec/orthros/demo-service", "value=\"demo-service", 2,
		    false, "absolute path");
	/*
	 * The address kept with the Active only by a finite score: Pacemaker
	 * places it, and the service that must be with it waits for that.
	 */
	expect_plan("id=\"ip-with-active\" score=\"INFINITY\"", "id=\"ip-with-active\" score=\"500\"",
		    1, false, "demo-service: needs service-ip");
}

static void test_transitive_and_groups(void **state)
{
	char *cib, why[256];
	struct tk_plan p;

	(void)state;
	/* The disk and the address as a group, address first: a group is
	 * taken member by member, and phases still put the disk first. */
	cib = variant("<primitive id=\"data-fs\"",
		      "<group id=\"g\"><primitive id=\"ip2\" class=\"ocf\" provider=\"heartbeat\" "
		      "type=\"IPaddr2\"><instance_attributes id=\"i\">"
		      "<nvpair id=\"i1\" name=\"ip\" value=\"10.1.2.3\"/>"
		      "<nvpair id=\"i2\" name=\"nic\" value=\"eth1\"/>"
		      "<nvpair id=\"i3\" name=\"cidr_netmask\" value=\"8\"/>"
		      "</instance_attributes></primitive></group><primitive id=\"data-fs\"");
	char *with = strstr(cib, "</constraints>");

	assert_non_null(with);
	size_t pre = (size_t)(with - cib);
	const char *extra = "<rsc_colocation id=\"g-with\" score=\"INFINITY\" rsc=\"g\" "
			    "with-rsc=\"partition-clone\" with-rsc-role=\"Promoted\"/>";
	char *full = malloc(strlen(cib) + strlen(extra) + 1);

	assert_non_null(full);
	memcpy(full, cib, pre);
	strcpy(full + pre, extra);
	strcat(full, with);
	assert_int_equal(plan(full, "orthros-b", &p, why), 0);
	assert_int_equal(p.n, 4);
	assert_int_equal(p.step[0].kind, TK_MOUNT);
	assert_int_equal(p.step[1].kind, TK_ADDRESS);
	assert_int_equal(p.step[2].kind, TK_ADDRESS);
	assert_int_equal(p.step[3].kind, TK_SERVICE);
	assert_true(!strcmp(p.step[1].rsc, "ip2") || !strcmp(p.step[2].rsc, "ip2"));
	free(full);
	free(cib);
}

static void test_overlong_values(void **state)
{
	char big[600], *cib, why[256];
	struct tk_plan p;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[0] = '/';
	big[sizeof(big) - 1] = '\0';
	char val[700];

	snprintf(val, sizeof(val), "name=\"directory\" value=\"%s\"", big);
	cib = variant("name=\"directory\" value=\"/srv/orthros\"", val);
	assert_int_equal(plan(cib, "orthros-b", &p, why), 0);
	/* Too long to hold: left out, never truncated into another path. */
	assert_int_equal(p.n, 1);
	assert_int_equal(p.step[0].kind, TK_ADDRESS);
	assert_non_null(strstr(p.left, "data-fs"));
	free(cib);
}

static void test_mount_options(void **state)
{
	unsigned long flags;
	char data[64];

	(void)state;
	assert_int_equal(tk_mount_options("noatime", &flags, data, sizeof(data)), 0);
	assert_int_equal(flags, MS_NOATIME);
	assert_string_equal(data, "");
	assert_int_equal(tk_mount_options("ro,nosuid,data=ordered,errors=remount-ro,rw", &flags,
					  data, sizeof(data)), 0);
	assert_int_equal(flags, MS_NOSUID);
	assert_string_equal(data, "data=ordered,errors=remount-ro");
	assert_int_equal(tk_mount_options("", &flags, data, sizeof(data)), 0);
	assert_int_equal(flags, 0);
	assert_int_equal(tk_mount_options(NULL, &flags, data, sizeof(data)), 0);
	/* Options mount(8) acts on itself cannot be handed to mount(2). */
	assert_int_equal(tk_mount_options("noatime,loop", &flags, data, sizeof(data)), -EOPNOTSUPP);
	assert_int_equal(tk_mount_options("bind", &flags, data, sizeof(data)), -EOPNOTSUPP);
	assert_int_equal(tk_mount_options("nofail", &flags, data, sizeof(data)), -EOPNOTSUPP);
	/* Filesystem data that does not fit is an error, not a cut. */
	assert_int_equal(tk_mount_options("commit=60,data=journal", &flags, data, 12), -E2BIG);
}

static void slurp(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
}

/* A service step started the way the agent starts it, and its records. */
static void test_service_steps(void **state)
{
	char dir[] = "/tmp/tk-test.XXXXXX", rundir[64], prot[64], path[160], buf[64], msg[256];
	struct tk_step st = { .kind = TK_SERVICE, .rsc = "svc" };
	pid_t pid = 0, again = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(rundir, sizeof(rundir), "%s/run", dir);
	snprintf(prot, sizeof(prot), "%s/protected", dir);
	strcpy(st.u.svc.command, "/bin/sleep   30");
	snprintf(st.u.svc.logfile, sizeof(st.u.svc.logfile), "%s/log", dir);
	strcpy(st.u.svc.group, "grp");

	assert_int_equal(tk_service_start(&st, rundir, &pid, msg, sizeof(msg)), 0);
	assert_true(pid > 0);
	assert_int_equal(tk_service_wait(&st, pid, 5000), 0);	/* no ports: alive is up */
	snprintf(path, sizeof(path), "%s/orthros-protected-svc.pid", rundir);
	slurp(path, buf, sizeof(buf));
	assert_int_equal(atoi(buf), pid);
	/* What ocf:orthros:protected's start then finds: running, nothing to do. */
	assert_int_equal(tk_service_start(&st, rundir, &again, msg, sizeof(msg)), 1);
	assert_int_equal(again, pid);
	assert_non_null(strstr(msg, "already running"));

	assert_int_equal(tk_service_record(&st, rundir, prot, pid, "warm:7"), 0);
	snprintf(path, sizeof(path), "%s/orthros-protected-svc.pid.how", rundir);
	slurp(path, buf, sizeof(buf));
	assert_string_equal(buf, "warm:7\n");
	snprintf(path, sizeof(path), "%s/grp.pid", prot);
	slurp(path, buf, sizeof(buf));
	assert_int_equal(atoi(buf), pid);

	/* A leader that dies is seen as gone, not waited for. */
	siginfo_t si;

	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);	/* a zombie now */
	assert_int_equal(tk_service_wait(&st, pid, 5000), -ESRCH);

	/* A command that exits at once: gone, not up. */
	strcpy(st.u.svc.command, "/bin/false");
	strcpy(st.u.svc.ports, "1");
	assert_int_equal(tk_service_start(&st, rundir, &pid, msg, sizeof(msg)), 0);
	assert_int_equal(tk_service_wait(&st, pid, 5000), -ESRCH);
	/* A port that nobody listens on is not up either. */
	strcpy(st.u.svc.command, "/bin/sleep 30");
	strcpy(st.u.svc.ports, "1");
	assert_int_equal(tk_service_start(&st, rundir, &pid, msg, sizeof(msg)), 0);
	assert_int_equal(tk_service_wait(&st, pid, 200), -ETIMEDOUT);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	/* Relative commands are not run: the agent's PATH is not ours. */
	strcpy(st.u.svc.command, "sleep 30");
	assert_int_equal(tk_service_start(&st, rundir, &pid, msg, sizeof(msg)), -EINVAL);

	/*
	 * pid_namespace: the pid file names orthros-init's init, pid 1 of a
	 * new namespace, whose child is the command.
	 */
	char status[1024], *ns;

	strcpy(st.u.svc.command, "/bin/sleep 30");
	st.u.svc.ports[0] = '\0';
	st.u.svc.pidns = true;
	snprintf(path, sizeof(path), "%s/orthros-protected-svc.pid", rundir);
	unlink(path);
	assert_non_null(getenv("ORTHROS_INIT"));
	assert_int_equal(tk_service_start(&st, rundir, &pid, msg, sizeof(msg)), 0);
	assert_non_null(strstr(msg, "started cold in its own pid namespace"));
	slurp(path, buf, sizeof(buf));
	assert_int_equal(atoi(buf), pid);
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	slurp(path, status, sizeof(status));
	ns = strstr(status, "NSpid:");
	assert_non_null(ns);
	assert_int_equal(strtol(ns + 6, &ns, 10), pid);
	assert_int_equal(strtol(ns, NULL, 10), 1);
	assert_int_equal(tk_service_wait(&st, pid, 5000), 0);
	kill(pid, SIGKILL);
	/* Without orthros-init the start fails and says so. */
	snprintf(path, sizeof(path), "%s/orthros-protected-svc.pid", rundir);
	unlink(path);
	setenv("ORTHROS_INIT", "/nonexistent/orthros-init", 1);
	assert_int_equal(tk_service_start(&st, rundir, &pid, msg, sizeof(msg)), -EIO);
	assert_non_null(strstr(msg, "could not start the command (status 127"));

	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static void expect_cgroup(pid_t pid, const char *want)
{
	char path[64], buf[4096], line[300];

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	slurp(path, buf, sizeof(buf));
	snprintf(line, sizeof(line), "0::%s\n", want);
	if (!strstr(buf, line))
		fail_msg("pid %d: wanted %s, /proc says %s", (int)pid, want, buf);
}

static void stop_child(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/*
 * A cold start in the group's cgroup, with and without the pid namespace,
 * under a private cgroup2 mount (the host may be on cgroup v1).
 */
static void test_service_in_its_cgroup(void **state)
{
	char dir[] = "/tmp/tk-cg.XXXXXX", cg[64], rundir[64], path[200], msg[256], child[32];
	char top[32], svc[64], svc2[64];
	struct tk_step st = { .kind = TK_SERVICE, .rsc = "svc" };
	pid_t pid = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(cg, sizeof(cg), "%s/cg", dir);
	snprintf(rundir, sizeof(rundir), "%s/run", dir);
	assert_int_equal(mkdir(cg, 0755), 0);
	if (mount("none", cg, "cgroup2", 0, NULL))
		fail_msg("cannot mount a cgroup2 hierarchy at %s: %s", cg, strerror(errno));
	setenv("ORTHROS_CGROUP_ROOT", cg, 1);
	strcpy(st.u.svc.command, "/bin/sleep 30");
	snprintf(st.u.svc.logfile, sizeof(st.u.svc.logfile), "%s/log", dir);
	/*
	 * Every cgroup2 mount is the same hierarchy: names of this run's own,
	 * so what a failed run left cannot fail the next.
	 */
	snprintf(top, sizeof(top), "tk-test-%d", (int)getpid());
	snprintf(svc, sizeof(svc), "/%s/svc", top);
	snprintf(svc2, sizeof(svc2), "/%s/svc2", top);
	strcpy(st.u.svc.cgroup, svc + 1);
	st.u.svc.cgroup_auto = true;

	/* Without a namespace: the command itself, born in the cgroup. */
	assert_int_equal(tk_service_start(&st, rundir, &pid, msg, sizeof(msg)), 0);
	snprintf(path, sizeof(path), "%s%s", cg, svc);
	assert_non_null(strstr(msg, "started cold in cgroup "));
	assert_non_null(strstr(msg, path));
	assert_int_equal(tk_service_wait(&st, pid, 5000), 0);
	expect_cgroup(pid, svc);
	stop_child(pid);

	/* In its pid namespace: orthros-init puts the init and the command there. */
	assert_non_null(getenv("ORTHROS_INIT"));
	st.u.svc.pidns = true;
	strcpy(st.u.svc.cgroup, svc2 + 1);
	snprintf(path, sizeof(path), "%s/orthros-protected-svc.pid", rundir);
	unlink(path);
	assert_int_equal(tk_service_start(&st, rundir, &pid, msg, sizeof(msg)), 0);
	assert_non_null(strstr(msg, "started cold in its own pid namespace and cgroup "));
	expect_cgroup(pid, svc2);
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
	slurp(path, child, sizeof(child));
	assert_true(atoi(child) > 0);
	expect_cgroup((pid_t)atoi(child), svc2);
	kill(pid, SIGKILL);	/* not our child: orthros-init's launcher let it go */

	/* No hierarchy: auto starts without a cgroup, a named one is an error. */
	setenv("ORTHROS_CGROUP_ROOT", dir, 1);
	st.u.svc.pidns = false;
	snprintf(path, sizeof(path), "%s/orthros-protected-svc.pid", rundir);
	unlink(path);
	assert_int_equal(tk_service_start(&st, rundir, &pid, msg, sizeof(msg)), 0);
	assert_null(strstr(msg, "cgroup"));
	stop_child(pid);
	unlink(path);
	st.u.svc.cgroup_auto = false;
	assert_int_equal(tk_service_start(&st, rundir, &pid, msg, sizeof(msg)), -ENOENT);
	assert_non_null(strstr(msg, ": no cgroup2 hierarchy is mounted here"));
	assert_non_null(strstr(msg, svc2 + 1));

	unsetenv("ORTHROS_CGROUP_ROOT");
	usleep(200000);	/* the killed trees leave their cgroups */
	snprintf(path, sizeof(path), "%s%s", cg, svc);
	assert_int_equal(rmdir(path), 0);
	snprintf(path, sizeof(path), "%s%s", cg, svc2);
	assert_int_equal(rmdir(path), 0);
	snprintf(path, sizeof(path), "%s/%s", cg, top);
	assert_int_equal(rmdir(path), 0);
	assert_int_equal(umount(cg), 0);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	assert_int_equal(system(path), 0);
}

/* @cib (freed) with @text put before the first @marker in it. */
static char *insert_before(char *cib, const char *marker, const char *text)
{
	char *at = strstr(cib, marker), *out;
	size_t pre;

	assert_non_null(at);
	pre = (size_t)(at - cib);
	out = malloc(strlen(cib) + strlen(text) + 1);
	assert_non_null(out);
	memcpy(out, cib, pre);
	strcpy(out + pre, text);
	strcat(out, at);
	free(cib);
	return out;
}

/* The lab's CIB with a second protected service, db, and @constraints. */
static char *with_db(const char *constraints)
{
	char *cib = lab_cib();

	cib = insert_before(cib, "<primitive id=\"demo-service\"",
			    "<primitive id=\"db\" class=\"ocf\" provider=\"orthros\" type=\"protected\">"
			    "<instance_attributes id=\"db-i\">"
			    "<nvpair id=\"db-i1\" name=\"command\" value=\"/usr/bin/db --port 5432\"/>"
			    "<nvpair id=\"db-i2\" name=\"ports\" value=\"5432\"/>"
			    "</instance_attributes></primitive>");
	return insert_before(cib, "</constraints>", constraints);
}

#define DB_WITH_ACTIVE "<rsc_colocation id=\"db-with-active\" score=\"INFINITY\" rsc=\"db\" " \
		       "with-rsc=\"partition-clone\" with-rsc-role=\"Promoted\"/>"

/* Where @rsc is among @p's steps (-1: not there). */
static int step_at(const struct tk_plan *p, const char *rsc)
{
	for (unsigned int i = 0; i < p->n; i++)
		if (!strcmp(p->step[i].rsc, rsc))
			return (int)i;
	return -1;
}

/*
 * With @constraints, service @first comes before @then in the plan (after
 * the disk and the address), and @then waits for it, @first for no service.
 */
static void expect_services(const char *constraints, const char *first, const char *then)
{
	char *cib = with_db(constraints), why[256];
	struct tk_plan p;

	assert_int_equal(plan(cib, "orthros-b", &p, why), 0);
	assert_int_equal(p.n, 4);
	assert_true(step_at(&p, first) >= 2);
	assert_true(step_at(&p, first) < step_at(&p, then));
	assert_int_equal(p.step[step_at(&p, then)].after, 1u << step_at(&p, first));
	assert_int_equal(p.step[step_at(&p, first)].after, 0);
	free(cib);
}

static void test_services_start_in_their_rsc_order(void **state)
{
	char *cib, why[256];
	struct tk_plan p;

	(void)state;
	/* Either way round: the order, not where the colocations happen to be. */
	expect_services(DB_WITH_ACTIVE "<rsc_order id=\"db-first\" kind=\"Mandatory\" first=\"db\" "
			"then=\"demo-service\"/>", "db", "demo-service");
	expect_services(DB_WITH_ACTIVE "<rsc_order id=\"demo-first\" kind=\"Mandatory\" "
			"first=\"demo-service\" first-action=\"start\" then=\"db\" then-action=\"start\"/>",
			"demo-service", "db");

	/* An order between other actions says nothing about the starts. */
	expect_services(DB_WITH_ACTIVE "<rsc_order id=\"on-stop\" first=\"demo-service\" "
			"first-action=\"stop\" then=\"db\" then-action=\"stop\"/>"
			"<rsc_order id=\"db-first\" first=\"db\" then=\"demo-service\"/>", "db", "demo-service");

	/* A cycle: Pacemaker starts neither, nor does the early takeover. */
	cib = with_db(DB_WITH_ACTIVE "<rsc_order id=\"a\" first=\"db\" then=\"demo-service\"/>"
		      "<rsc_order id=\"b\" first=\"demo-service\" then=\"db\"/>");
	assert_int_equal(plan(cib, "orthros-b", &p, why), 0);
	assert_int_equal(p.n, 2);
	assert_int_equal(step_at(&p, "db"), -1);
	assert_non_null(strstr(p.left, "cycle"));
	free(cib);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A service that takes 300 ms to answer, saying when it began and ended. */
static int slow_service(const struct tk_step *st, const void *arg)
{
	char line[128];
	int fd = open(arg, O_WRONLY | O_APPEND | O_CREAT, 0600);

	if (fd < 0)
		return 1;
	snprintf(line, sizeof(line), "start %s %lld\n", st->rsc, now_ms());
	if (write(fd, line, strlen(line)) < 0)
		return 1;
	poll(NULL, 0, 300);
	snprintf(line, sizeof(line), "end %s %lld\n", st->rsc, now_ms());
	if (write(fd, line, strlen(line)) < 0)
		return 1;
	close(fd);
	return !strcmp(st->rsc, "fails");
}

/* When @what ("start"/"end") of @rsc was logged in @path; -1: never. */
static long long logged(const char *path, const char *what, const char *rsc)
{
	char w[16], r[64];
	long long t, found = -1;
	FILE *f = fopen(path, "re");

	assert_non_null(f);
	while (fscanf(f, "%15s %63s %lld", w, r, &t) == 3)
		if (!strcmp(w, what) && !strcmp(r, rsc))
			found = t;
	fclose(f);
	return found;
}

static void services_plan(struct tk_plan *p, const char *first)
{
	memset(p, 0, sizeof(*p));
	p->n = 4;
	p->step[0].kind = TK_MOUNT;
	strcpy(p->step[0].rsc, "disk");
	p->step[1].kind = TK_SERVICE;
	strcpy(p->step[1].rsc, first);
	p->step[2].kind = TK_SERVICE;
	strcpy(p->step[2].rsc, "then");		/* ordered after step 1 */
	p->step[2].after = 1u << 1;
	p->step[3].kind = TK_SERVICE;
	strcpy(p->step[3].rsc, "other");	/* ordered after nothing */
}

static void test_independent_services_start_side_by_side(void **state)
{
	char path[] = "/tmp/tk-services-XXXXXX";
	struct tk_plan p;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	services_plan(&p, "first");
	assert_int_equal(tk_run_services(&p, slow_service, path), 0);
	/* other does not wait for first; then does */
	assert_true(logged(path, "start", "other") >= 0);
	assert_true(logged(path, "start", "other") < logged(path, "end", "first"));
	assert_true(logged(path, "start", "then") >= logged(path, "end", "first"));
	assert_int_equal(logged(path, "start", "disk"), -1);	/* not a service */

	/* first fails: then is Pacemaker's, other ran all the same */
	assert_int_equal(truncate(path, 0), 0);
	services_plan(&p, "fails");
	assert_int_equal(tk_run_services(&p, slow_service, path), 2);
	assert_true(logged(path, "end", "other") >= 0);
	assert_int_equal(logged(path, "start", "then"), -1);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lab_plan),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_not_xml),
		cmocka_unit_test(test_left_to_pacemaker),
		cmocka_unit_test(test_a_cgroup_as_the_agent_has_it),
		cmocka_unit_test(test_the_data_paths_go_to_the_restore),
		cmocka_unit_test(test_service_in_its_cgroup),
		cmocka_unit_test(test_a_lazy_restore_is_asked_for_by_the_resource),
		cmocka_unit_test(test_a_pid_namespace_follows_the_group_unless_said),
		cmocka_unit_test(test_transitive_and_groups),
		cmocka_unit_test(test_services_start_in_their_rsc_order),
		cmocka_unit_test(test_independent_services_start_side_by_side),
		cmocka_unit_test(test_overlong_values),
		cmocka_unit_test(test_mount_options),
		cmocka_unit_test(test_service_steps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
