// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * orthrosctl ckpt: the checkpoint store (docs/checkpoint-store.md) on a
 * file or a shared-memory BAR (/sys/bus/pci/devices/.../resource2).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "checkpointer.h"
#include "ckpt-fuse.h"
#include "ckpt-region.h"
#include "ckpt-store.h"
#include "ckpt-watchdog.h"
#include "conf.h"
#include "ctl.h"
#include "units.h"

/* CRIU's images on their way between a process and the store: tmpfs. */
#define DEFAULT_WORKDIR "/run/orthros/ckpt"

/* "The answer is no", as elsewhere in orthrosctl: no restorable set. */
#define EXIT_NO_CHECKPOINT 3

static const char ckpt_usage[] =
	"Usage: orthrosctl ckpt COMMAND --region FILE [OPTIONS]\n"
	"\n"
	"The checkpoint store in FILE: a regular file, or the shared BAR\n"
	"(/sys/bus/pci/devices/.../resource2) that outlives the ActiveOS.\n"
	"FILE 'auto' (or 'pci'), in a partition: the ivshmem-plain device\n"
	"(PCI 1af4:1110 without an MSI-X BAR) that run-partition --store attaches.\n"
	"\n"
	"Commands:\n"
	"  format --region FILE [--keep K] [--size SIZE]\n"
	"                     lay out a new store keeping K sets (2..64, default 5);\n"
	"                     a regular file is sized to SIZE (e.g. 1GiB)\n"
	"  list --region FILE every slot: sequence, parent, group, files, bytes,\n"
	"                     time, and whether it is restorable, partial (a\n"
	"                     pre-dump), orphaned (its parent was reclaimed), or\n"
	"                     why it is refused\n"
	"  put --region FILE --group NAME [--parent SEQ] DIR\n"
	"                     store the regular files of DIR as a new set (an\n"
	"                     increment of set SEQ); prints its sequence number\n"
	"  get --region FILE --group NAME DIR\n"
	"                     extract the newest restorable set of NAME and its\n"
	"                     parents to DIR/<seq>/, each with a 'parent' link\n"
	"  verify --region FILE\n"
	"                     check every slot; exit 1 if any set is corrupt\n"
	"  dump --region FILE --group NAME --pid PID [--final] [--workdir DIR]\n"
	"       [--data PATH]...\n"
	"                     checkpoint the process tree of PID with CRIU (left\n"
	"                     running) into the store, needing no older set; its\n"
	"                     number and the freeze time are printed: one plain\n"
	"                     dump, the whole copy frozen (orthrosd does this on\n"
	"                     the configured policy, pre-dumps first).  --final:\n"
	"                     a planned stop's last checkpoint: a pre-dump copies\n"
	"                     the memory while the tree still serves, then the\n"
	"                     dump takes what changed and CRIU ends the tree, so\n"
	"                     nothing after it is lost (if the dump fails the\n"
	"                     tree keeps running; without room for the pre-dump\n"
	"                     it is one plain dump).  Waits for a checkpoint in\n"
	"                     flight in this partition to finish.  --data PATH\n"
	"                     (a file or directory on the data disk, up to 8):\n"
	"                     copied into the set while CRIU holds the tree\n"
	"                     frozen, so files and memory are of one instant\n"
	"  restore --region FILE --group NAME [--workdir DIR] [--lazy] [--data PATH]...\n"
	"          [--criu-timeout DURATION]\n"
	"                     restore NAME, detached, from its newest restorable\n"
	"                     dump; prints the pid and the set used, or says\n"
	"                     'cold start' and exits 3 when there is none.\n"
	"                     --lazy: memory on demand (userfaultfd): the chain\n"
	"                     is served from the store through a read-only FUSE\n"
	"                     view (nothing extracted, each piece checked as it\n"
	"                     is read), the tree runs once its non-memory state\n"
	"                     is back, CRIU's lazy-pages daemon fills the rest\n"
	"                     and exits when done, and the view goes with it.\n"
	"                     Without /dev/fuse, or for sets older than chunk\n"
	"                     tables, the chain is extracted (said so).  With a\n"
	"                     'ckpt standby' of NAME running here, it is the one\n"
	"                     that restores (--region and --workdir are its own).\n"
	"                     --data PATH: put back the files of PATH the dump\n"
	"                     took, before CRIU reopens them; only paths given\n"
	"                     here are written, whatever the set holds (a\n"
	"                     standby is then not asked).  --criu-timeout (at\n"
	"                     least 1s, default 60s): a CRIU restore that has not\n"
	"                     ended by then is killed with what it restored, and\n"
	"                     the restore fails (a takeover then starts the\n"
	"                     group cold)\n"
	"  view --region FILE --group NAME MOUNTPOINT\n"
	"                     mount, read-only, what a lazy restore of NAME would\n"
	"                     hand CRIU (its newest restorable chain, pagemaps\n"
	"                     flattened: crit decode works on it), until umount\n"
	"  standby --region FILE --group NAME [--workdir DIR] [--poll MS]\n"
	"          [--ahead-max SIZE]\n"
	"                     in a BackupOS: keep a lazy restore of NAME prepared\n"
	"                     while the ActiveOS runs (its newest restorable chain\n"
	"                     chosen, its view mounted, criu lazy-pages listening,\n"
	"                     a criu swrk waiting), prepared again each time the\n"
	"                     store's headers show a new choice (looked at every\n"
	"                     MS ms, default 250).  A chain whose memory is at\n"
	"                     most SIZE (default: half the partition's available\n"
	"                     memory at the time; 0: never) is restored ahead: the\n"
	"                     tree restored and left stopped, its pages filled in\n"
	"                     while it waits, killed when a newer set is chosen.\n"
	"                     The first 'restore --lazy' of NAME in the partition\n"
	"                     is served by it (checked against the store once\n"
	"                     more, so never from an older chain): the tree\n"
	"                     restored ahead is resumed, or the prepared one\n"
	"                     restored; then it exits: 0, or 1 if that restore\n"
	"                     failed.  SIGTERM abandons what is prepared (a tree\n"
	"                     restored ahead is killed).  Logs to stderr\n"
	"DIR (default /run/orthros/ckpt) holds the images on their way, on tmpfs.\n"
	"\n"
	"Exit status: 0 done, 1 failure, 2 usage, 3 no restorable checkpoint (get,\n"
	"restore, view).\n";

static int map_region(const char *path, bool writable, bool create, uint64_t want,
		      struct ckpt_region *r)
{
	char msg[512];

	if (ckpt_region_map(path, writable, create, want, r, msg, sizeof(msg))) {
		fprintf(stderr, "orthrosctl: %s\n", msg);
		return -1;
	}
	return 0;
}

static int open_store(const char *path, bool writable, struct ckpt_region *r,
		      struct ckpt_store *s)
{
	char msg[512];

	if (ckpt_region_open_store(path, writable, r, s, msg, sizeof(msg))) {
		fprintf(stderr, "orthrosctl: %s\n", msg);
		return -1;
	}
	return 0;
}

/* Read-only, mapping only what is read: a restore reads one chain. */
static int open_store_sparse(const char *path, struct ckpt_region *r, struct ckpt_store *s)
{
	char msg[512];

	if (ckpt_region_open_sparse(path, r, s, msg, sizeof(msg))) {
		fprintf(stderr, "orthrosctl: %s\n", msg);
		return -1;
	}
	return 0;
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct ckpt_args {
	const char *region, *group, *workdir;
	uint64_t keep, size, parent, pid;
	uint64_t poll_ms, ahead_max, criu_timeout_us;
	bool has_keep, has_size, has_parent, has_pid, has_poll, has_ahead, has_criu_timeout, final, lazy;
	struct ckpt_data_paths data;	/* --data, repeated */
};

static int parse_args(int argc, char **argv, struct ckpt_args *a)
{
	static const struct option opts[] = {
		{ "region", required_argument, NULL, 'r' },
		{ "group", required_argument, NULL, 'g' },
		{ "keep", required_argument, NULL, 'k' },
		{ "size", required_argument, NULL, 's' },
		{ "parent", required_argument, NULL, 'p' },
		{ "pid", required_argument, NULL, 'P' },
		{ "workdir", required_argument, NULL, 'w' },
		{ "final", no_argument, NULL, 'F' },
		{ "lazy", no_argument, NULL, 'L' },
		{ "poll", required_argument, NULL, 'i' },
		{ "ahead-max", required_argument, NULL, 'A' },
		{ "data", required_argument, NULL, 'D' },
		{ "criu-timeout", required_argument, NULL, 'T' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	memset(a, 0, sizeof(*a));
	optind = 0;	/* argv[0] is the subcommand */
	while ((opt = getopt_long(argc, argv, "r:g:k:s:p:P:w:i:", opts, NULL)) != -1) {
		switch (opt) {
		case 'r':
			a->region = optarg;
			break;
		case 'g':
			if (!ckpt_group_valid(optarg))
				return ctl_usage_error("--group '%s' is not a name (1-63 of A-Z a-z 0-9 _ - .)", optarg);
			a->group = optarg;
			break;
		case 'k':
			if (units_parse_u64(optarg, &a->keep) || a->keep < CKPT_MIN_KEEP ||
			    a->keep > CKPT_MAX_KEEP)
				return ctl_usage_error("--keep '%s' is not a number from %u to %u",
						       optarg, CKPT_MIN_KEEP, CKPT_MAX_KEEP);
			a->has_keep = true;
			break;
		case 's':
			if (units_parse_size(optarg, &a->size) || !a->size || a->size > SIZE_MAX)
				return ctl_usage_error("--size '%s' is not a size like 512MiB", optarg);
			a->has_size = true;
			break;
		case 'p':
			if (units_parse_u64(optarg, &a->parent) || !a->parent)
				return ctl_usage_error("--parent '%s' is not a sequence number", optarg);
			a->has_parent = true;
			break;
		case 'P':
			if (units_parse_u64(optarg, &a->pid) || !a->pid || a->pid > INT32_MAX)
				return ctl_usage_error("--pid '%s' is not a process id", optarg);
			a->has_pid = true;
			break;
		case 'w':
			a->workdir = optarg;
			break;
		case 'F':
			a->final = true;
			break;
		case 'L':
			a->lazy = true;
			break;
		case 'i':
			if (units_parse_u64(optarg, &a->poll_ms) || a->poll_ms < 10 || a->poll_ms > 60000)
				return ctl_usage_error("--poll '%s' is not a number of milliseconds from 10 to 60000",
						       optarg);
			a->has_poll = true;
			break;
		case 'A':
			if (strcmp(optarg, "0") && units_parse_size(optarg, &a->ahead_max))
				return ctl_usage_error("--ahead-max '%s' is not a size like 256MiB (0: never)", optarg);
			if (!strcmp(optarg, "0"))
				a->ahead_max = 0;
			a->has_ahead = true;
			break;
		case 'T':
			if (units_parse_duration(optarg, &a->criu_timeout_us) || a->criu_timeout_us < 1000000)
				return ctl_usage_error("--criu-timeout '%s' is not a duration of at least 1s (like 90s or 2min)",
						       optarg);
			a->has_criu_timeout = true;
			break;
		case 'D':
			switch (ckpt_data_add_path(&a->data, optarg)) {
			case 0:
				break;
			case -E2BIG:
				return ctl_usage_error("--data: at most %d paths", CKPT_DATA_MAX_PATHS);
			default:
				return ctl_usage_error("--data '%s' is not an absolute path below / (no '.', '..', '//' or trailing '/')",
						       optarg);
			}
			break;
		default:
			return ctl_usage_error("invalid option for ckpt %s", argv[0]);
		}
	}
	if (!a->region)
		return ctl_usage_error("ckpt %s needs --region FILE", argv[0]);
	return 0;
}

/* Only the options each command takes, and its operands. */
static int want(const struct ckpt_args *a, const char *cmd, const char *allowed,
		int operands, int argc)
{
	if ((a->group && !strchr(allowed, 'g')) || (a->has_keep && !strchr(allowed, 'k')) ||
	    (a->has_size && !strchr(allowed, 's')) || (a->has_parent && !strchr(allowed, 'p')) ||
	    (a->has_pid && !strchr(allowed, 'P')) || (a->workdir && !strchr(allowed, 'w')) ||
	    (a->final && !strchr(allowed, 'F')) || (a->lazy && !strchr(allowed, 'L')) ||
	    (a->has_poll && !strchr(allowed, 'i')) || (a->has_ahead && !strchr(allowed, 'A')) ||
	    (a->data.n && !strchr(allowed, 'D')) || (a->has_criu_timeout && !strchr(allowed, 'T')))
		return ctl_usage_error("ckpt %s: option not valid for this command", cmd);
	if (strchr(allowed, 'g') && !a->group)
		return ctl_usage_error("ckpt %s needs --group NAME", cmd);
	if (strchr(allowed, 'P') && !a->has_pid)
		return ctl_usage_error("ckpt %s needs --pid PID", cmd);
	if (argc - optind != operands)
		return ctl_usage_error(operands ? "ckpt %s takes one DIR" : "ckpt %s takes no operand", cmd);
	return 0;
}

static int cmd_format(const struct ckpt_args *a)
{
	struct ckpt_store s = { 0 };
	struct ckpt_region r;
	uint64_t id;
	int rc;

	if (map_region(a->region, true, true, a->has_size ? a->size : 0, &r))
		return 1;
	if (getrandom(&id, sizeof(id), 0) != sizeof(id))
		id = realtime_ns() ^ (uint64_t)getpid();
	s.sync = ckpt_region_sync(&r);
	rc = ckpt_format(&s, r.base, r.size, a->has_keep ? (uint32_t)a->keep : CONF_DEFAULT_CKPT_KEEP, id);
	if (rc)
		fprintf(stderr, "orthrosctl: %s: %s\n", a->region, ckpt_error(&s));
	else
		printf("%s: %u slots of %" PRIu64 " bytes (keep %u)\n", a->region,
		       s.nr_slots, s.slot_size, s.keep);
	ckpt_region_unmap(&r);
	return rc ? 1 : 0;
}

static void print_time(uint64_t ns, char *buf, size_t len)
{
	time_t t = (time_t)(ns / 1000000000ull);
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, len, "-");
}

/*
 * An increment whose parent is gone is no damage: the reclaim rule takes
 * the oldest set of a chain no longer kept first, leaving its increments
 * orphaned until their slots are taken too.
 */
static const char *refused(enum ckpt_status st)
{
	if (st == CKPT_OK || st == CKPT_EMPTY || st == CKPT_WRITING)
		return "";
	return st == CKPT_NO_PARENT ? "orphaned: " : "refused: ";
}

static void print_slot(const struct ckpt_info *in)
{
	/* A pre-dump is sound but only ever a parent: not a restore point. */
	const char *what = in->status != CKPT_OK ? ckpt_status_name(in->status) :
			   in->flags & CKPT_SET_PARTIAL ? "partial" : "restorable";
	char when[32];

	if (!in->header_valid) {
		printf("%-4u %-6s %-6s %-16s %-6s %-12s %-20s %s%s\n", in->slot, "-", "-", "-",
		       "-", "-", "-", refused(in->status), what);
		return;
	}
	print_time(in->created_ns, when, sizeof(when));
	printf("%-4u %-6" PRIu64 " %-6" PRIu64 " %-16s %-6u %-12" PRIu64 " %-20s %s%s\n",
	       in->slot, in->seq, in->parent_seq, in->group[0] ? in->group : "-",
	       in->nr_files, in->payload_len, when, refused(in->status), what);
}

static int cmd_list(const struct ckpt_args *a, bool verify)
{
	struct ckpt_info info[CKPT_MAX_SLOTS];
	struct ckpt_store s;
	struct ckpt_region r;
	unsigned int good = 0, bad = 0, orphans = 0;
	int n;

	if (open_store(a->region, false, &r, &s))
		return 1;
	n = ckpt_list(&s, info);
	if (!verify)
		printf("%-4s %-6s %-6s %-16s %-6s %-12s %-20s %s\n", "slot", "seq", "parent",
		       "group", "files", "bytes", "created", "status");
	for (int i = 0; i < n; i++) {
		if (info[i].status == CKPT_OK)
			good++;
		else if (info[i].status == CKPT_NO_PARENT)
			orphans++;
		else if (info[i].status != CKPT_EMPTY && info[i].status != CKPT_WRITING)
			bad++;
		if (!verify)
			print_slot(&info[i]);
		else if (info[i].status != CKPT_OK && info[i].status != CKPT_EMPTY)
			printf("slot %u: %s%s\n", info[i].slot, refused(info[i].status),
			       ckpt_status_name(info[i].status));
	}
	if (verify)
		printf("%s: %d slots, %u restorable, %u refused, %u orphaned (an increment whose parent is gone)\n",
		       a->region, n, good, bad, orphans);
	ckpt_region_unmap(&r);
	return verify && bad ? 1 : 0;
}

static int cmd_put(const struct ckpt_args *a, const char *dir)
{
	struct ckpt_store s;
	struct ckpt_region r;
	uint64_t seq;
	int rc;

	if (open_store(a->region, true, &r, &s))
		return 1;
	rc = ckpt_pack_dir(&s, a->group, a->has_parent ? a->parent : 0, 0, dir, realtime_ns(), &seq);
	if (rc)
		fprintf(stderr, "orthrosctl: ckpt put: %s\n", ckpt_error(&s));
	else
		printf("%" PRIu64 "\n", seq);
	ckpt_region_unmap(&r);
	return rc ? 1 : 0;
}

/*
 * Say why newer sets of the group were passed over, and which slots could
 * not be read at all (their group is unknown, so they may have been ours).
 */
static void report_skipped_to(FILE *f, const struct ckpt_info *info, int n, const char *group,
			      uint64_t chosen)
{
	for (int i = 0; i < n; i++) {
		const struct ckpt_info *in = &info[i];

		if (in->status == CKPT_OK || in->status == CKPT_EMPTY)
			continue;
		if (!in->header_valid)
			fprintf(f, "orthrosctl: slot %u refused: %s\n", in->slot,
				ckpt_status_name(in->status));
		else if (!strcmp(in->group, group) && in->seq > chosen)
			fprintf(f, "orthrosctl: slot %u: set %" PRIu64 " %s: %s\n", in->slot,
				in->seq, in->status == CKPT_WRITING ? "skipped" : "refused",
				ckpt_status_name(in->status));
	}
}

static void report_skipped(const struct ckpt_info *info, int n, const char *group,
			   uint64_t chosen)
{
	report_skipped_to(stderr, info, n, group, chosen);
}

static int cmd_get(const struct ckpt_args *a, const char *dir)
{
	struct ckpt_info info[CKPT_MAX_SLOTS];
	struct ckpt_chain *chain = malloc(sizeof(*chain));
	struct ckpt_store s;
	struct ckpt_region r;
	int n, rc;

	if (!chain) {
		perror("orthrosctl");
		return 1;
	}
	if (open_store(a->region, false, &r, &s)) {
		free(chain);
		return 1;
	}
	n = ckpt_list(&s, info);
	if (ckpt_find_in(info, (unsigned int)n, a->group, chain)) {
		report_skipped(info, n, a->group, 0);
		fprintf(stderr, "orthrosctl: no restorable checkpoint for group %s\n", a->group);
		rc = EXIT_NO_CHECKPOINT;
		goto out;
	}
	report_skipped(info, n, a->group, chain->set[0].seq);
	rc = ckpt_extract_dir(&s, chain, dir);
	if (rc) {
		fprintf(stderr, "orthrosctl: ckpt get: %s\n", ckpt_error(&s));
		rc = 1;
		goto out;
	}
	printf("set %" PRIu64 " of group %s in %s/%" PRIu64 " (chain:", chain->set[0].seq,
	       a->group, dir, chain->set[0].seq);
	for (unsigned int i = 0; i < chain->n; i++)
		printf(" %" PRIu64, chain->set[i].seq);
	printf(")\n");
out:
	ckpt_region_unmap(&r);
	free(chain);
	return rc;
}

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

static int cmd_dump(const struct ckpt_args *a)
{
	/*
	 * A planned stop's service gap is the final dump's freeze, so it
	 * pre-dumps first like orthrosd's checkpoints; a dump by hand stays
	 * one plain dump (what a checkpoint without pre-dumps costs).
	 */
	struct ckpt_policy pol = { .incremental = a->final };
	struct checkpointer c;
	struct ckpt_result res;
	struct ckpt_store s;
	struct ckpt_region r;
	char dir[512];
	int rc;

	if (open_store(a->region, true, &r, &s))
		return 1;
	/*
	 * Not orthrosd's directory for the group (DIR/NAME): its numbered image
	 * directories hold the chain of its next increment.
	 */
	snprintf(dir, sizeof(dir), "%s/%s/once", a->workdir ? a->workdir : DEFAULT_WORKDIR, a->group);
	rc = checkpointer_init(&c, &s, a->group, dir, &pol, &ckpt_criu_libcriu, NULL);
	if (rc) {
		fprintf(stderr, "orthrosctl: %s: %s\n", dir, strerror(-rc));
		ckpt_region_unmap(&r);
		return 1;
	}
	c.lock_fd = r.fd;
	c.data = a->data;
	rc = a->final ? checkpointer_final(&c, (pid_t)a->pid, &res) :
			checkpointer_run(&c, (pid_t)a->pid, &res);
	if (rc)
		fprintf(stderr, "orthrosctl: ckpt dump: %s\n", res.msg);
	else if (res.predump_seq)
		printf("set %" PRIu64 " of group %s: %s, freeze %.1f ms (%s), pre-dump set %" PRIu64
		       " freeze %.1f ms, dump %.1f ms, store %.1f ms, %" PRIu64 " bytes\n",
		       res.seq, a->group, "full, final (the tree is stopped)", ms(res.freeze_ns),
		       res.freeze_from_stats ? "criu stats" : "dump call", res.predump_seq,
		       ms(res.predump_freeze_ns), ms(res.dump_ns), ms(res.pack_ns), res.bytes);
	else
		printf("set %" PRIu64 " of group %s: %s, freeze %.1f ms (%s), dump %.1f ms, store %.1f ms, %" PRIu64 " bytes\n",
		       res.seq, a->group, a->final ? "full, final (the tree is stopped)" : "full",
		       ms(res.freeze_ns), res.freeze_from_stats ? "criu stats" : "dump call", ms(res.dump_ns),
		       ms(res.pack_ns), res.bytes);
	if (!rc && c.data.n)
		printf("data paths taken while frozen: %u files (%" PRIu64 " bytes), %u directories in %.1f ms%s%s; %u of the files (%" PRIu64 " bytes) unchanged since the copy made ahead in %.1f ms\n",
		       res.data.files, res.data.bytes, res.data.dirs, ms(res.data.ns),
		       res.data.skipped ? ", other kinds of file left out" : "",
		       res.data.mounts ? ", file systems mounted below a path left out" : "",
		       res.data.ahead, res.data.ahead_bytes, ms(res.data.ahead_ns));
	checkpointer_fini(&c);
	ckpt_region_unmap(&r);
	return rc ? 1 : 0;
}

static int cmd_view(const struct ckpt_args *a, const char *dir)
{
	struct ckpt_info info[CKPT_MAX_SLOTS];
	struct ckpt_chain chain;
	struct ckpt_store s;
	struct ckpt_region r;
	struct ckpt_view v;
	struct ckpt_fuse fs;
	char msg[256];
	int n, rc = 1;

	if (open_store_sparse(a->region, &r, &s))
		return 1;
	n = ckpt_list_headers(&s, info);
	if (n < 0) {
		fprintf(stderr, "orthrosctl: ckpt view: %s\n", ckpt_error(&s));
		goto out;
	}
	if (ckpt_find_in(info, (unsigned int)n, a->group, &chain)) {
		printf("no checkpoint for group %s\n", a->group);
		rc = EXIT_NO_CHECKPOINT;
		goto out;
	}
	if (ckpt_view_open(&s, &chain, &v)) {
		fprintf(stderr, "orthrosctl: ckpt view: %s\n", ckpt_error(&s));
		goto out;
	}
	if (ckpt_fuse_mount(&v, dir, NULL, NULL, &fs, msg, sizeof(msg))) {
		fprintf(stderr, "orthrosctl: ckpt view: %s\n", msg);
	} else {
		printf("set %" PRIu64 " of group %s (%u sets) at %s, read-only: %u files, %" PRIu64
		       " pages lazy, %" PRIu64 " eager; served by pid %d until umount %s\n",
		       chain.set[0].seq, a->group, chain.n, dir, v.nr_files, v.lazy_pages, v.eager_pages,
		       (int)fs.server, dir);
		ckpt_fuse_release(&fs, -1);
		rc = 0;
	}
	ckpt_view_close(&v);
out:
	ckpt_region_unmap(&r);
	return rc;
}

int ctl_ckpt_report(FILE *out, FILE *err, const char *group, bool lazy, int rc,
		    const struct ckpt_restore_result *res)
{
	report_skipped_to(err, res->info, (int)res->n, group, rc == -ENOENT ? 0 : res->seq);
	if (lazy && res->view_msg[0])
		fprintf(out, "lazy restore without the view: %s\n", res->view_msg);
	if (rc == -ENOENT) {
		fprintf(out, "no checkpoint for group %s: cold start (%s)\n", group, res->msg);
		return EXIT_NO_CHECKPOINT;
	}
	if (rc) {
		fprintf(err, "orthrosctl: ckpt restore: %s\n", res->msg);
		return 1;
	}
	fprintf(out, "restored group %s from set %" PRIu64 " (%u sets, %u newer pre-dumps passed over): pid %d, %s %.1f ms, restore %.1f ms\n",
		group, res->seq, res->chain_len, res->skipped_predumps, (int)res->pid,
		res->viewed ? "view" : "extract", ms(res->extract_ns), ms(res->restore_ns));
	if (res->data.files || res->data.dirs)
		fprintf(out, "data paths put back as of set %" PRIu64 ": %u files (%" PRIu64 " bytes), %u directories in %.1f ms\n",
			res->seq, res->data.files, res->data.bytes, res->data.dirs, ms(res->data.ns));
	if (res->data.aside)
		fprintf(out, "data paths: %u entries newer than set %" PRIu64 " moved aside, kept (the first in %s)\n",
			res->data.aside, res->seq, res->data.aside_at);
	if (lazy && res->viewed)
		fprintf(out, "served from the store through a read-only view of the chain at %s: %" PRIu64 " pages lazy, %" PRIu64 " eager\n",
			res->dir, res->lazy_pages, res->eager_pages);
	if (lazy)
		fprintf(out, "lazy pages: daemon pid %d fills the rest (work directory %s; keep it until it exits)\n",
			(int)ckpt_lazy_daemon(res->work), res->work);
	return 0;
}

int ctl_ckpt_restore(const char *region, const char *group, const char *workdir, bool lazy,
		     const struct ckpt_data_paths *data, uint64_t criu_timeout_us, pid_t *pid,
		     uint64_t *seq)
{
	struct ckpt_restore_result *res;
	struct ckpt_watchdog wd;
	struct ckpt_store s;
	struct ckpt_region r;
	int rc;

	/* A standby prepared this restore already: it is the one to ask. */
	/*
	 * A standby prepared this restore already: it is the one to ask.  Not
	 * for a group with data paths: the files must be put back first, and
	 * a standby could not have restored it ahead anyway (its files are on
	 * the data disk, which the BackupOS only has after the takeover).
	 */
	if (lazy && !(data && data->n) && (rc = ctl_standby_ask(region, group, pid, seq)) != -ENOENT)
		return rc;
	res = malloc(sizeof(*res));
	if (!res) {
		perror("orthrosctl");
		return 1;
	}
	if (open_store_sparse(region, &r, &s)) {
		free(res);
		return 1;
	}
	/*
	 * libcriu waits for its criu without a limit: a restore that hangs
	 * would hold a takeover, and every service after it in the plan.
	 */
	rc = ckpt_watchdog_start(&wd, (criu_timeout_us ? criu_timeout_us : CTL_CKPT_CRIU_TIMEOUT_US) * 1000);
	if (rc) {
		fprintf(stderr, "orthrosctl: cannot start the watchdog on CRIU's restore: %s\n", strerror(-rc));
		ckpt_region_unmap(&r);
		free(res);
		return 1;
	}
	rc = ckpt_restore_group(&s, group, workdir ? workdir : DEFAULT_WORKDIR,
				lazy ? &ckpt_criu_lazy_view : &ckpt_criu_libcriu, NULL, data, &wd, res);
	ckpt_watchdog_stop(&wd);
	if (!rc) {
		*pid = res->pid;
		*seq = res->seq;
	}
	rc = ctl_ckpt_report(stdout, stderr, group, lazy, rc, res);
	ckpt_region_unmap(&r);
	free(res);
	return rc;
}

static int cmd_restore(const struct ckpt_args *a)
{
	pid_t pid;
	uint64_t seq;

	return ctl_ckpt_restore(a->region, a->group, a->workdir, a->lazy, &a->data,
				a->has_criu_timeout ? a->criu_timeout_us : 0, &pid, &seq);
}

int ctl_ckpt(int argc, char **argv)
{
	struct ckpt_args a;
	const char *cmd;
	int rc;

	if (argc < 2)
		return ctl_usage_error("ckpt needs a COMMAND (format, list, put, get, verify, dump, restore, view, standby)");
	cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
		fputs(ckpt_usage, stdout);
		return 0;
	}
	if (strcmp(cmd, "format") && strcmp(cmd, "list") && strcmp(cmd, "put") &&
	    strcmp(cmd, "get") && strcmp(cmd, "verify") && strcmp(cmd, "dump") &&
	    strcmp(cmd, "restore") && strcmp(cmd, "view") && strcmp(cmd, "standby"))
		return ctl_usage_error("unknown ckpt command '%s'", cmd);
	if ((rc = parse_args(argc - 1, argv + 1, &a)))
		return rc;
	argc--;
	argv++;
	if (!strcmp(cmd, "format"))
		return (rc = want(&a, cmd, "ks", 0, argc)) ? rc : cmd_format(&a);
	if (!strcmp(cmd, "list"))
		return (rc = want(&a, cmd, "", 0, argc)) ? rc : cmd_list(&a, false);
	if (!strcmp(cmd, "verify"))
		return (rc = want(&a, cmd, "", 0, argc)) ? rc : cmd_list(&a, true);
	if (!strcmp(cmd, "dump"))
		return (rc = want(&a, cmd, "gPwFD", 0, argc)) ? rc : cmd_dump(&a);
	if (!strcmp(cmd, "restore"))
		return (rc = want(&a, cmd, "gwLDT", 0, argc)) ? rc : cmd_restore(&a);
	if (!strcmp(cmd, "put"))
		return (rc = want(&a, cmd, "gp", 1, argc)) ? rc : cmd_put(&a, argv[optind]);
	if (!strcmp(cmd, "standby"))
		return (rc = want(&a, cmd, "gwiA", 0, argc)) ? rc :
			ctl_ckpt_standby(a.region, a.group, a.workdir ? a.workdir : DEFAULT_WORKDIR,
					 a.has_poll ? (unsigned int)a.poll_ms : 250,
					 a.has_ahead ? (int64_t)a.ahead_max : -1);
	if (!strcmp(cmd, "view"))
		return (rc = want(&a, cmd, "g", 1, argc)) ? rc : cmd_view(&a, argv[optind]);
	return (rc = want(&a, cmd, "g", 1, argc)) ? rc : cmd_get(&a, argv[optind]);
}
