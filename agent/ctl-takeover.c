// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * orthrosctl takeover: the early takeover, run by orthrosd in a BackupOS
 * at the Active's PANIC notice (docs/failover.md).
 *
 * Corosync delivers nothing to Pacemaker until the new membership has
 * formed (token + consensus), so a takeover that waits for Pacemaker
 * starts seconds after the Active died.  This one starts at once, but
 * only on certain death: the controller must answer that it has stopped
 * the dead partition (it does so on the notice itself); otherwise, or
 * with any doubt about the plan, it does nothing and Pacemaker takes over
 * as it always would.  What it does is exactly what Pacemaker's agents
 * would do next, read from the cluster's own configuration, so their
 * starts find it done.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ckpt-data.h"
#include "ctl.h"
#include "protect.h"
#include "takeover.h"

#define EXIT_NO 3
#define CIB_MAX (8u << 20)

static const char takeover_usage[] =
	"Usage: orthrosctl takeover [--cib FILE] [--max-age SECS] [--node NAME]\n"
	"                           [--rundir DIR] [--dry-run] [--standby]\n"
	"\n"
	"The early takeover of a BackupOS whose Active has died (orthrosd runs it at\n"
	"the PANIC notice).  Reads the plan from FILE, a copy of the CIB the partition\n"
	"agent keeps while this partition is the watching BackupOS (default\n"
	"/run/orthros/cib.xml, refused if older than SECS, default 120, 0 for no\n"
	"limit): every\n"
	"resource colocated with the Promoted ocf:orthros:partition instance, in\n"
	"phases: Filesystem mounts, IPaddr2 addresses (with gratuitous ARP), then\n"
	"ocf:orthros:protected groups (restored warm when the resource names a\n"
	"group, else started cold), each as its agent would leave it.  The services\n"
	"start side by side, each once those a start-to-start rsc_order puts before\n"
	"it answer (a cycle leaves them to Pacemaker).\n"
	"\n"
	"Nothing is done unless the controller answers that the peer node is dead\n"
	"(it stops a partition at its PANIC notice); Pacemaker then finds each step\n"
	"done.  --dry-run prints the plan only.  --standby (orthrosd keeps one\n"
	"started while the partition is the BackupOS, so that no exec stands\n"
	"between the notice and the takeover) reads orthrosd's words on standard\n"
	"input first: \"go\" (the Active's PANIC notice) takes over; \"wait\" (the\n"
	"Active stopped beating: a hang, or only slow) asks the controller every\n"
	"200 ms and takes over once it answers that the peer is dead, that is,\n"
	"fenced by the cluster (for 300 s at most, then it stands by again);\n"
	"\"back\" (it beats again) stands by; end-of-file, or any other word, ends\n"
	"it with status 3 without acting.  While a takeover runs it holds\n"
	"/run/orthros/takeover.lock, which ocf:orthros:protected's start waits\n"
	"on.  Meanwhile each\n"
	"group restored lazily (the protected agent's lazy=true) has its restore\n"
	"prepared by an 'orthrosctl ckpt standby' (log in\n"
	"/run/orthros/standby-GROUP.log), stopped again if not used.  NAME is this node (default the host\n"
	"name); DIR is where the protected agent keeps pid files (default\n"
	"/run/resource-agents).\n"
	"\n"
	"Exit status: 0 done (or planned, with --dry-run), 1 a step failed (Pacemaker\n"
	"does it), 2 usage, 3 no early takeover here (peer not known dead, no plan).\n";

static long long t0;

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Relative to the takeover's start, and on this partition's wall clock,
 * which is the clock its corosync logs in: the bench sets the service's
 * answer against the membership with no clock between partitions.
 */
static void step_log(const char *msg)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	printf("takeover +%lld ms (%02d:%02d:%02d.%03ld): %s\n", mono_ms() - t0, tm.tm_hour,
	       tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, msg);
	fflush(stdout);
}

static char *read_cib(const char *path, int max_age, size_t *len)
{
	struct stat st;
	char *buf;
	FILE *f = fopen(path, "re");

	if (!f) {
		fprintf(stderr, "orthrosctl: takeover: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	if (fstat(fileno(f), &st) || st.st_size <= 0 || (uint64_t)st.st_size > CIB_MAX) {
		fprintf(stderr, "orthrosctl: takeover: %s: empty or larger than %u bytes\n", path,
			CIB_MAX);
		fclose(f);
		return NULL;
	}
	if (max_age > 0 && time(NULL) - st.st_mtime > max_age) {
		/* A stale copy may describe resources the cluster no longer has. */
		fprintf(stderr, "orthrosctl: takeover: %s is %lld s old (limit %d s): the partition agent is not watching here\n",
			path, (long long)(time(NULL) - st.st_mtime), max_age);
		fclose(f);
		return NULL;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf && fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	if (!buf) {
		fprintf(stderr, "orthrosctl: takeover: cannot read %s\n", path);
		return NULL;
	}
	buf[st.st_size] = '\0';
	*len = (size_t)st.st_size;
	return buf;
}

static void print_plan(const struct tk_plan *p)
{
	printf("early takeover plan for %s (peer %s): %u step%s\n", p->self, p->peer, p->n,
	       p->n == 1 ? "" : "s");
	for (unsigned int i = 0; i < p->n; i++) {
		const struct tk_step *s = &p->step[i];

		switch (s->kind) {
		case TK_MOUNT:
			printf("  mount    %s: %s on %s (%s%s%s)\n", s->rsc, s->u.mount.device,
			       s->u.mount.directory, s->u.mount.fstype,
			       s->u.mount.options[0] ? ", " : "", s->u.mount.options);
			break;
		case TK_ADDRESS:
			printf("  address  %s: %s/%u on %s\n", s->rsc, s->u.addr.ip,
			       s->u.addr.prefix, s->u.addr.nic);
			break;
		case TK_SERVICE:
			printf("  service  %s: %s%s%s (ports %s)\n", s->rsc, s->u.svc.command,
			       s->u.svc.group[0] ? ", warm from group " : ", cold",
			       s->u.svc.group, s->u.svc.ports[0] ? s->u.svc.ports : "none");
			break;
		}
	}
	if (p->left[0])
		printf("left to Pacemaker: %s\n", p->left);
}

static void note(const char *fmt, const char *a, long long ms)
{
	char line[1024];

	snprintf(line, sizeof(line), "note early takeover: %s %s (+%lld ms)", fmt, a, ms);
	ctl_partition_ask(line);
}

/* The agent's data_paths parameter (space-separated); -EINVAL for a bad one. */
static int data_paths(const struct tk_step *s, struct ckpt_data_paths *data)
{
	char words[sizeof(s->u.svc.data_paths)], *save = NULL;

	memset(data, 0, sizeof(*data));
	snprintf(words, sizeof(words), "%s", s->u.svc.data_paths);
	for (char *w = strtok_r(words, " \t", &save); w; w = strtok_r(NULL, " \t", &save))
		if (ckpt_data_add_path(data, w))
			return -EINVAL;
	return 0;
}

/* A service: warm from its group if it has one, else cold.  0 answering. */
static int run_service(const struct tk_step *s, const char *rundir)
{
	struct ckpt_data_paths data;
	char msg[512], how[48] = "cold start", agent_how[48] = "cold";
	pid_t pid = 0;
	uint64_t seq;
	int rc = 1;

	if (s->u.svc.group[0] && data_paths(s, &data)) {
		fprintf(stderr, "orthrosctl: takeover: %s: data_paths '%s' are not absolute paths: not restored\n",
			s->rsc, s->u.svc.data_paths);
		rc = 1;
	} else if (s->u.svc.group[0]) {
		rc = ctl_ckpt_restore(s->u.svc.region, s->u.svc.group, NULL, s->u.svc.lazy, &data, 0, &pid, &seq);
		if (rc == 0) {
			snprintf(how, sizeof(how), "warm from set %" PRIu64, seq);
			snprintf(agent_how, sizeof(agent_how), "warm:%" PRIu64, seq);
			if (tk_service_adopt(s, rundir, pid))
				fprintf(stderr, "orthrosctl: takeover: %s: cannot record pid %d\n",
					s->rsc, (int)pid);
		} else {
			snprintf(how, sizeof(how), rc == EXIT_NO ? "cold start" :
				 "cold start after a failed restore");
			if (rc != EXIT_NO)
				strcpy(agent_how, "cold-after-failed-restore");
		}
	}
	if (rc) {
		rc = tk_service_start(s, rundir, &pid, msg, sizeof(msg));
		step_log(msg);
		if (rc < 0)
			return 1;
	}
	rc = tk_service_wait(s, pid, 60000);
	if (rc) {
		snprintf(msg, sizeof(msg), "%s: not answering: %s", s->rsc, strerror(-rc));
		step_log(msg);
		return 1;
	}
	if (tk_service_record(s, rundir, PROTECT_PID_DIR, pid, agent_how))
		fprintf(stderr, "orthrosctl: takeover: %s: cannot record how it started\n", s->rsc);
	snprintf(msg, sizeof(msg), "%s: answering (%s)", s->rsc, how);
	step_log(msg);
	snprintf(msg, sizeof(msg), "answering (%s)", how);
	note(s->rsc, msg, mono_ms() - t0);
	return 0;
}

/* tk_run_services' call, in a child of ours: 0 once the service answers. */
static int run_one(const struct tk_step *s, const void *rundir)
{
	return run_service(s, rundir);
}

/* The checkpoint standbys this standby takeover started (ctl-standby.c). */
static pid_t ckpt_standbys[TK_MAX_STEPS];
static char ckpt_standby_group[TK_MAX_STEPS][sizeof(((struct tk_step *)0)->u.svc.group)];
static unsigned int nr_ckpt_standbys;

/* One already runs for @group (those that ended are forgotten). */
static bool has_ckpt_standby(const char *group)
{
	for (unsigned int i = 0; i < nr_ckpt_standbys; i++) {
		if (waitpid(ckpt_standbys[i], NULL, WNOHANG) == ckpt_standbys[i]) {
			nr_ckpt_standbys--;
			ckpt_standbys[i] = ckpt_standbys[nr_ckpt_standbys];
			memcpy(ckpt_standby_group[i], ckpt_standby_group[nr_ckpt_standbys], sizeof(ckpt_standby_group[i]));
			i--;
			continue;
		}
		if (!strcmp(ckpt_standby_group[i], group))
			return true;
	}
	return false;
}

/*
 * A lazily restored group gets its restore prepared now, by an
 * `orthrosctl ckpt standby` of its own that follows the store while we
 * wait: at "go", run_service's restore is one request to it.  Its log
 * goes to /run/orthros/standby-GROUP.log.
 */
static void start_ckpt_standby(const struct tk_step *s)
{
	char self[] = "/proc/self/exe", ckpt[] = "ckpt", verb[] = "standby", r[] = "--region", gr[] = "--group";
	char region[sizeof(s->u.svc.region)], group[sizeof(s->u.svc.group)], log[160];
	char *argv[] = { self, ckpt, verb, r, region, gr, group, NULL };
	posix_spawn_file_actions_t fa;
	extern char **environ;
	pid_t pid;

	if (nr_ckpt_standbys >= TK_MAX_STEPS || has_ckpt_standby(s->u.svc.group))
		return;
	snprintf(region, sizeof(region), "%s", s->u.svc.region);
	snprintf(group, sizeof(group), "%s", s->u.svc.group);
	snprintf(log, sizeof(log), "/run/orthros/standby-%s.log", group);
	mkdir("/run/orthros", 0755);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	if (!posix_spawn(&pid, argv[0], &fa, NULL, argv, environ)) {
		snprintf(ckpt_standby_group[nr_ckpt_standbys], sizeof(ckpt_standby_group[0]), "%s", group);
		ckpt_standbys[nr_ckpt_standbys++] = pid;
	}
	posix_spawn_file_actions_destroy(&fa);
}

/*
 * Those not used by the takeover (dismissed, cold, failed) stop, their
 * preparations abandoned; one that served its restore has exited.
 */
static void stop_ckpt_standbys(void)
{
	for (unsigned int i = 0; i < nr_ckpt_standbys; i++) {
		kill(ckpt_standbys[i], SIGTERM);
		while (waitpid(ckpt_standbys[i], NULL, 0) < 0 && errno == EINTR)
			;
	}
	nr_ckpt_standbys = 0;
}

/*
 * Before the wait: take the page faults and lazy bindings of the parse
 * now, on an idle vCPU, not after the notice, and prepare the lazy
 * restores.  The plan itself is made again at "go", from the copy as it
 * is then.
 */
static void warm_up(const char *cib, const char *node)
{
	struct tk_plan *plan = malloc(sizeof(*plan));
	char why[256], *xml;
	size_t len;

	xml = plan && !access(cib, R_OK) ? read_cib(cib, 0, &len) : NULL;
	if (xml && !tk_plan_from_cib(xml, len, node, plan, why, sizeof(why)))
		for (unsigned int i = 0; i < plan->n; i++)
			if (plan->step[i].kind == TK_SERVICE && plan->step[i].u.svc.lazy &&
			    plan->step[i].u.svc.group[0] && plan->step[i].u.svc.region[0])
				start_ckpt_standby(&plan->step[i]);
	free(xml);
	free(plan);
}

/*
 * What orthrosd says to a standby, one word a line: "go" (the Active's
 * PANIC notice: take over), "wait" (it stopped beating: take over once
 * the controller says it is dead), "back" (it beats again: stand by).
 * End-of-file, or anything else, dismisses the standby.
 */
enum word { W_GO, W_WAIT, W_BACK, W_END, W_NONE };

static char inbuf[64];
static size_t inlen;

static enum word pop_word(void)
{
	char *nl = memchr(inbuf, '\n', inlen);
	enum word w;
	size_t n;

	if (!nl)
		return inlen == sizeof(inbuf) ? W_END : W_NONE;
	*nl = '\0';
	w = !strcmp(inbuf, "go") ? W_GO : !strcmp(inbuf, "wait") ? W_WAIT :
	    !strcmp(inbuf, "back") ? W_BACK : W_END;
	n = (size_t)(nl - inbuf) + 1;
	memmove(inbuf, inbuf + n, inlen - n);
	inlen -= n;
	return w;
}

/*
 * The next word within @ms (-1: no limit), W_NONE when none came.  With
 * @cib, the CIB copy is looked at once a second meanwhile: a BackupOS
 * usually gets it after orthrosd started us, and a lazily restored group
 * configured later needs its checkpoint standby too.
 */
static enum word next_word(long long ms, const char *cib, const char *node, struct timespec *seen)
{
	struct pollfd p = { .fd = 0, .events = POLLIN };
	long long end = ms < 0 ? -1 : mono_ms() + ms;
	enum word w;

	while ((w = pop_word()) == W_NONE) {
		long long left = end < 0 ? 1000 : end - mono_ms();
		struct stat st;
		ssize_t r;
		int k;

		if (left <= 0)
			return W_NONE;
		k = poll(&p, 1, (int)(left < 1000 ? left : 1000));
		if (k < 0 && errno != EINTR)
			return W_END;
		if (k <= 0) {
			if (cib && !stat(cib, &st) &&
			    (st.st_mtim.tv_sec != seen->tv_sec || st.st_mtim.tv_nsec != seen->tv_nsec)) {
				*seen = st.st_mtim;
				warm_up(cib, node);
			}
			continue;
		}
		r = read(0, inbuf + inlen, sizeof(inbuf) - inlen);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return W_END;
		inlen += (size_t)r;
	}
	return w;
}

/*
 * A hung Active is not dead until the cluster fences it; the takeover may
 * begin the moment the controller says so.  This long a silence without a
 * fence is no longer a fence on its way: stand by again.
 */
#define DEATH_WAIT_MS (300 * 1000)

/* After "wait": W_GO once the controller says the peer is dead, W_BACK or W_END as told. */
static enum word wait_for_death(const char *cib, int max_age, const char *node)
{
	struct tk_plan *plan = malloc(sizeof(*plan));
	char why[256], msg[256], *xml;
	long long start = mono_ms();
	enum word w = W_BACK;
	size_t len;
	int rc;

	xml = plan ? read_cib(cib, max_age, &len) : NULL;
	if (!xml || tk_plan_from_cib(xml, len, node, plan, why, sizeof(why))) {
		fprintf(stderr, "orthrosctl: takeover: the Active is silent, but there is no plan%s%s: standing by\n",
			xml ? ": " : "", xml ? why : "");
		goto out;
	}
	printf("takeover: the Active (%s) is silent: taking over once the controller says it is dead\n",
	       plan->peer);
	fflush(stdout);
	snprintf(msg, sizeof(msg), "dead %s --no-ack", plan->peer);
	for (bool told = false;;) {
		rc = ctl_partition_ask_quiet(msg);
		if (rc != 0 && rc != EXIT_NO && !told) {
			fprintf(stderr, "orthrosctl: takeover: cannot ask the controller whether %s is dead (orthrosctl partition dead %s): asking again\n",
				plan->peer, plan->peer);
			told = true;
		}
		if (rc == 0) {
			printf("takeover: %s dead after %lld ms of silence\n", plan->peer, mono_ms() - start);
			w = W_GO;
			break;
		}
		if (mono_ms() - start > DEATH_WAIT_MS) {
			fprintf(stderr, "orthrosctl: takeover: %s not known dead after %d s of silence: standing by\n",
				plan->peer, DEATH_WAIT_MS / 1000);
			w = W_BACK;
			break;
		}
		/* A PANIC's "go" changes nothing here: the controller's answer decides. */
		w = next_word(200, NULL, NULL, NULL);
		if (w == W_BACK || w == W_END) {
			if (w == W_BACK)
				printf("takeover: %s beats again: standing by\n", plan->peer);
			break;
		}
	}
out:
	fflush(stdout);
	free(xml);
	free(plan);
	return w;
}

static int takeover(const char *cib, int max_age, const char *node, const char *rundir, bool dry);

int ctl_takeover(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "cib", required_argument, NULL, 'c' },
		{ "max-age", required_argument, NULL, 'm' },
		{ "node", required_argument, NULL, 'n' },
		{ "rundir", required_argument, NULL, 'r' },
		{ "dry-run", no_argument, NULL, 'd' },
		{ "standby", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cib = "/run/orthros/cib.xml", *node = NULL, *rundir = "/run/resource-agents";
	int max_age = 120, opt, rc;
	bool dry = false, standby = false;
	struct utsname u;

	t0 = mono_ms();
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': cib = optarg; break;
		case 'm': {
			char *end;
			long v = strtol(optarg, &end, 10);

			if (end == optarg || *end || v < 0 || v > 86400)
				return ctl_usage_error("takeover: --max-age wants 0..86400 seconds, not '%s'",
						       optarg);
			max_age = (int)v;
			break;
		}
		case 'n': node = optarg; break;
		case 'r': rundir = optarg; break;
		case 'd': dry = true; break;
		case 's': standby = true; break;
		case 'h': fputs(takeover_usage, stdout); return 0;
		default: return ctl_usage_error("takeover: see 'orthrosctl takeover --help'");
		}
	}
	if (optind != argc)
		return ctl_usage_error("takeover takes no arguments");
	if (!node) {
		if (uname(&u))
			return 1;
		node = u.nodename;
	}
	if (standby) {
		struct stat st = { 0 };
		enum word w;

		stat(cib, &st);
		warm_up(cib, node);
		do {
			w = next_word(-1, cib, node, &st.st_mtim);
			if (w == W_WAIT)
				w = wait_for_death(cib, max_age, node);
		} while (w == W_BACK);
		if (w != W_GO) {
			stop_ckpt_standbys();
			return EXIT_NO;
		}
		t0 = mono_ms();
	}
	rc = takeover(cib, max_age, node, rundir, dry);
	stop_ckpt_standbys();
	return rc;
}

/*
 * Held until we exit: the protected agent's start waits on it, so that
 * Pacemaker, promoting this partition while we are still starting a
 * service (a hang's fence leaves us seconds, not a membership wait), finds
 * it started instead of starting it a second time.
 */
#define TAKEOVER_LOCK "/run/orthros/takeover.lock"

static void hold_takeover_lock(void)
{
	int fd;

	mkdir("/run/orthros", 0755);
	fd = open(TAKEOVER_LOCK, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB))
		fprintf(stderr, "orthrosctl: takeover: %s: %s (the agents' starts will not wait for us)\n",
			TAKEOVER_LOCK, strerror(errno));
}

static int takeover(const char *cib, int max_age, const char *node, const char *rundir, bool dry)
{
	struct tk_plan *plan;
	char why[256], msg[512], *xml;
	int rc, failed = 0;
	unsigned int services = 0;
	size_t len;

	xml = read_cib(cib, max_age, &len);
	if (!xml)
		return EXIT_NO;
	plan = malloc(sizeof(*plan));
	if (!plan) {
		free(xml);
		return 1;
	}
	rc = tk_plan_from_cib(xml, len, node, plan, why, sizeof(why));
	free(xml);
	if (rc) {
		fprintf(stderr, "orthrosctl: takeover: no plan from %s: %s\n", cib, why);
		free(plan);
		return rc == -EINVAL ? 1 : EXIT_NO;
	}
	print_plan(plan);
	if (dry || !plan->n) {
		free(plan);
		return 0;
	}
	/* Certain death first: a partition that may still run keeps its disk. */
	/*
	 * The controller stops the dead partition on the same notice that
	 * started us; give it a moment (it is milliseconds) before taking no
	 * for an answer.
	 */
	snprintf(msg, sizeof(msg), "dead %s --no-ack", plan->peer);
	for (int tries = 0; (rc = ctl_partition_ask(msg)) == EXIT_NO && tries < 20; tries++)
		usleep(50 * 1000);
	if (rc) {
		fprintf(stderr, rc == EXIT_NO ?
			"orthrosctl: takeover: the controller does not know %s dead: leaving the takeover to Pacemaker\n" :
			"orthrosctl: takeover: cannot ask the controller whether %s is dead: leaving the takeover to Pacemaker\n",
			plan->peer);
		free(plan);
		return rc == EXIT_NO ? EXIT_NO : 1;
	}
	step_log("the controller has stopped the peer");
	hold_takeover_lock();
	for (unsigned int i = 0; i < plan->n && !failed; i++) {
		const struct tk_step *s = &plan->step[i];

		services += s->kind == TK_SERVICE;
		switch (s->kind) {
		case TK_MOUNT:
			rc = tk_mount(s, msg, sizeof(msg));
			step_log(msg);
			break;
		case TK_ADDRESS:
			rc = tk_address(s, msg, sizeof(msg));
			step_log(msg);
			if (rc >= 0) {
				rc = tk_announce(s, msg, sizeof(msg));
				step_log(msg);
			}
			break;
		case TK_SERVICE:
			rc = 0;		/* below, side by side */
			break;
		}
		/* A failed step's dependants are Pacemaker's: it will retry all. */
		failed = rc < 0;
	}
	if (!failed && services) {
		note("disk and address up;", "starting the services", mono_ms() - t0);
		failed = tk_run_services(plan, run_one, rundir) > 0;
	}
	/* Once more, now that the service answers: a lost first ARP costs a timeout. */
	for (unsigned int i = 0; i < plan->n && !failed; i++)
		if (plan->step[i].kind == TK_ADDRESS)
			tk_announce(&plan->step[i], msg, sizeof(msg));
	step_log(failed ? "stopped at a failed step: Pacemaker does the rest" : "done");
	free(plan);
	return failed ? 1 : 0;
}
