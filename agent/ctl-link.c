// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * orthrosctl link: look at and drive the partition link, either through
 * /dev/orthros inside a partition or as a user-space peer on the host's
 * doorbell socket.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "link.h"
#include "units.h"

static const char link_usage[] =
	"Usage: orthrosctl link [OPTIONS] COMMAND\n"
	"\n"
	"Options (before COMMAND):\n"
	"  --device PATH        use orthros.ko's device (default /dev/orthros)\n"
	"  --ivshmem SOCKET     be a user-space peer on the doorbell server at SOCKET\n"
	"  --role ROLE          first set our role: none, active, backup, controller\n"
	"  --gen N              generation to publish with --role (default 0)\n"
	"  --interval DURATION  heartbeat interval (e.g. 10ms)\n"
	"  --timeout DURATION   heartbeat timeout (at least 2 x interval)\n"
	"  --peers MASK         peers to beat to and watch (bitmap, e.g. 0x3)\n"
	"\n"
	"Commands:\n"
	"  info                 our peer id, role, timing\n"
	"  status               every valid record in the shared region\n"
	"  events [--count N] [--for DURATION] [--until TYPE] [--beats]\n"
	"                       print events as they come, one per line; with --until,\n"
	"                       exit 0 when an event of TYPE arrives, 3 if time runs out;\n"
	"                       --beats also prints a BEAT line for every heartbeat seen\n"
	"                       (local time, the peer's own beat time: clock mapping)\n"
	"  ring PEER VECTOR     ring a peer's doorbell (vector 0 heartbeat, 1 notice)\n"
	"  announce panic|stopping [REASON]\n"
	"                       mark our record and ring everyone (user-space peers)\n";

static int parse_role(const char *s, uint32_t *role)
{
	static const char *const names[] = { "none", "active", "backup", "controller" };

	for (uint32_t i = 0; i < 4; i++)
		if (!strcmp(s, names[i])) {
			*role = i;
			return 0;
		}
	return -EINVAL;
}

static int event_type(const char *s, uint32_t *type)
{
	for (uint32_t t = ORTHROS_EV_PEER_UP; t <= ORTHROS_EV_OVERFLOW; t++)
		if (!strcmp(s, orthros_event_name(t))) {
			*type = t;
			return 0;
		}
	return -EINVAL;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void print_event(const struct orthros_event *ev)
{
	printf("%" PRIu64 " %s peer=%u gen=%u hb=%" PRIu64 " peer_ts=%" PRIu64 " seq=%" PRIu64,
	       (uint64_t)ev->ts_ns, orthros_event_name(ev->type), ev->peer,
	       ev->generation, (uint64_t)ev->heartbeat, (uint64_t)ev->peer_ts_ns,
	       (uint64_t)ev->seq);
	if (ev->type == ORTHROS_EV_RECORD_INVALID)
		printf(" why=\"%s\"", orthros_invalid_name(ev->detail));
	if ((ev->type == ORTHROS_EV_PANIC || ev->type == ORTHROS_EV_STOPPING) &&
	    ev->detail != ORTHROS_SEEN_UNKNOWN)
		printf(" via=%s", ev->detail == ORTHROS_SEEN_NOTICE ? "notice" :
				  ev->detail == ORTHROS_SEEN_BEAT ? "beat" :
				  ev->detail == ORTHROS_SEEN_SCAN ? "scan" : "?");
	putchar('\n');
	fflush(stdout);
}

/*
 * One BEAT line per watched peer whose counter moved since the last look:
 * our arrival time next to the peer's own time of the beat.  The minimum of
 * their difference over a short window maps that peer's clock onto ours
 * (plus the smallest one-way delay, the same for every peer on one path),
 * which is how the bench compares timestamps taken in different kernels.
 */
struct beat_seen {
	uint64_t heartbeat[ORTHROS_MAX_PEERS];
	uint8_t boot_id[ORTHROS_MAX_PEERS][16];
};

static void print_beats(struct orthros_link *l, struct beat_seen *seen, uint64_t now)
{
	struct orthros_info in;
	uint64_t size;
	const void *shm = orthros_link_shm(l, &size);
	uint32_t nr;

	if (orthros_link_info(l, &in) || orthros_shm_check(shm, size, &nr))
		return;
	for (uint32_t id = 0; id < nr; id++) {
		struct orthros_rec r;
		bool never;

		if (id == in.peer_id ||
		    orthros_rec_read((const char *)shm + orthros_shm_record_offset(shm, size, id),
				     id, &r, &never))
			continue;
		if (r.heartbeat == seen->heartbeat[id] &&
		    !memcmp(r.boot_id, seen->boot_id[id], sizeof(r.boot_id)))
			continue;
		seen->heartbeat[id] = r.heartbeat;
		memcpy(seen->boot_id[id], r.boot_id, sizeof(r.boot_id));
		printf("%" PRIu64 " BEAT peer=%u gen=%u hb=%" PRIu64 " peer_ts=%" PRIu64 "\n",
		       now, id, r.generation, r.heartbeat, r.heartbeat_ns);
	}
	fflush(stdout);
}

static int cmd_events(struct orthros_link *l, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "count", required_argument, NULL, 'c' },
		{ "for", required_argument, NULL, 'f' },
		{ "until", required_argument, NULL, 'u' },
		{ "beats", no_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t count = UINT64_MAX, for_us = 0, v;
	uint32_t until = 0;
	struct beat_seen *seen = NULL;
	int opt, rc;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "+c:f:u:b", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			if (units_parse_u64(optarg, &count) || !count)
				return ctl_usage_error("--count '%s' is not a positive number", optarg);
			break;
		case 'f':
			if (units_parse_duration(optarg, &for_us))
				return ctl_usage_error("--for '%s' is not a duration like 30s", optarg);
			break;
		case 'u':
			if (event_type(optarg, &until))
				return ctl_usage_error("--until '%s' is not an event type (PANIC, HEARTBEAT_LOST, ...)", optarg);
			break;
		case 'b':
			if (!seen && !(seen = calloc(1, sizeof(*seen))))
				return 1;
			break;
		default:
			free(seen);
			return ctl_usage_error("invalid option for link events");
		}
	}
	uint64_t deadline = for_us ? mono_ns() + for_us * 1000 : UINT64_MAX;

	rc = until ? 3 : 0;
	for (v = 0; v < count;) {
		struct orthros_event ev;
		uint64_t now = mono_ns();
		int ms = deadline == UINT64_MAX ? -1 :
			 now >= deadline ? 0 : (int)((deadline - now) / 1000000 + 1);
		int e = seen ? orthros_link_next_event(l, &ev) :
			       orthros_link_wait_event(l, &ev, ms);

		if (seen && e == -EAGAIN) {
			struct pollfd p = { .fd = orthros_link_fd(l), .events = POLLIN };

			print_beats(l, seen, mono_ns());
			if (ms == 0)
				break;
			if (poll(&p, 1, ms) < 0 && errno != EINTR) {
				e = -errno;
			} else {
				continue;
			}
		}
		if (e == -ETIMEDOUT || (e == -EAGAIN && ms == 0))
			break;
		if (e) {
			fprintf(stderr, "orthrosctl: link: %s\n", strerror(-e));
			rc = 1;
			break;
		}
		print_event(&ev);
		v++;
		if (until && ev.type == until) {
			rc = 0;
			break;
		}
	}
	free(seen);
	return rc;
}

static int cmd_status(struct orthros_link *l)
{
	uint64_t size;
	const void *shm = orthros_link_shm(l, &size);
	uint32_t nr;

	if (orthros_shm_check(shm, size, &nr)) {
		printf("shared region: invalid header\n");
		return 1;
	}
	printf("%-4s %-10s %-5s %-9s %-12s %-10s %s\n", "peer", "role", "gen",
	       "state", "heartbeat", "interval", "note");
	for (uint32_t id = 0; id < nr; id++) {
		struct orthros_rec r;
		bool never;
		enum orthros_invalid why = orthros_rec_read(
			(const char *)shm + orthros_shm_record_offset(shm, size, id),
			id, &r, &never);

		if (never)
			continue;
		if (why) {
			printf("%-4u invalid: %s\n", id, orthros_invalid_name(why));
			continue;
		}
		printf("%-4u %-10s %-5u %-9s %-12" PRIu64 " %-10u %s\n", id,
		       orthros_role_name(r.role), r.generation,
		       orthros_state_name(r.state), r.heartbeat, r.interval_us,
		       r.reason);
	}
	return 0;
}

int ctl_link(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "device", required_argument, NULL, 'd' },
		{ "ivshmem", required_argument, NULL, 'i' },
		{ "role", required_argument, NULL, 'r' },
		{ "gen", required_argument, NULL, 'g' },
		{ "interval", required_argument, NULL, 'I' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "peers", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *device = NULL, *sock = NULL;
	uint64_t gen = 0, iv = 0, to = 0, peers = UINT64_MAX;
	uint32_t role = UINT32_MAX;
	struct orthros_link *l;
	int opt, rc;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "+d:i:r:g:I:T:p:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'd':
			device = optarg;
			break;
		case 'i':
			sock = optarg;
			break;
		case 'r':
			if (parse_role(optarg, &role))
				return ctl_usage_error("--role '%s'; expected none, active, backup or controller", optarg);
			break;
		case 'g':
			if (units_parse_u64(optarg, &gen) || gen > UINT32_MAX)
				return ctl_usage_error("--gen '%s' is not a generation", optarg);
			break;
		case 'I':
			if (units_parse_duration(optarg, &iv))
				return ctl_usage_error("--interval '%s' is not a duration", optarg);
			break;
		case 'T':
			if (units_parse_duration(optarg, &to))
				return ctl_usage_error("--timeout '%s' is not a duration", optarg);
			break;
		case 'p':
			if (units_parse_u64(optarg, &peers) || peers >> ORTHROS_MAX_PEERS)
				return ctl_usage_error("--peers '%s' is not a bitmap of 16 peers", optarg);
			break;
		case 'h':
			fputs(link_usage, stdout);
			return 0;
		default:
			return ctl_usage_error("invalid option for link");
		}
	}
	if (optind >= argc)
		return ctl_usage_error("link needs a COMMAND (info, status, events, ring, announce)");
	if (device && sock)
		return ctl_usage_error("--device and --ivshmem exclude each other");
	if ((iv != 0) != (to != 0))
		return ctl_usage_error("--interval and --timeout go together");
	if (iv && orthros_link_check_timing((uint32_t)iv, (uint32_t)to))
		return ctl_usage_error("heartbeat needs 1ms <= interval <= 10s and 2 x interval <= timeout <= 60s");

	rc = sock ? orthros_link_open_ivshmem(sock, &l) : orthros_link_open_device(device, &l);
	if (rc) {
		fprintf(stderr, "orthrosctl: cannot open the link %s: %s\n",
			sock ? sock : device ? device : "/dev/orthros", strerror(-rc));
		return 1;
	}
	if (!rc && iv)
		rc = orthros_link_set_heartbeat(l, (uint32_t)iv, (uint32_t)to);
	if (!rc && peers != UINT64_MAX)
		rc = orthros_link_set_peers(l, peers);
	if (!rc && role != UINT32_MAX)
		rc = orthros_link_set_role(l, (uint32_t)gen, role);
	if (rc) {
		fprintf(stderr, "orthrosctl: link set-up: %s\n", strerror(-rc));
		orthros_link_close(l);
		return 1;
	}

	const char *cmd = argv[optind];
	int sub_argc = argc - optind;
	char **sub_argv = argv + optind;

	if (!strcmp(cmd, "info")) {
		struct orthros_info in;

		rc = orthros_link_info(l, &in);
		if (!rc)
			printf("peer %u, role %s, generation %u, heartbeat %u us, timeout %u us, peers 0x%" PRIx64 ", %" PRIu64 " bytes shared\n",
			       in.peer_id, orthros_role_name(in.role), in.generation,
			       in.interval_us, in.timeout_us, (uint64_t)in.peers,
			       (uint64_t)in.shm_size);
		rc = rc ? 1 : 0;
	} else if (!strcmp(cmd, "status")) {
		rc = cmd_status(l);
	} else if (!strcmp(cmd, "events")) {
		rc = cmd_events(l, sub_argc, sub_argv);
	} else if (!strcmp(cmd, "ring") && sub_argc == 3) {
		uint64_t peer, vec;

		if (units_parse_u64(sub_argv[1], &peer) || units_parse_u64(sub_argv[2], &vec) ||
		    peer >= ORTHROS_MAX_PEERS || vec >= ORTHROS_NR_VECTORS)
			rc = ctl_usage_error("ring PEER VECTOR: peer 0..15, vector 0..1");
		else if ((rc = orthros_link_ring(l, (uint32_t)peer, (uint32_t)vec)))
			rc = (fprintf(stderr, "orthrosctl: ring: %s\n", strerror(-rc)), 1);
	} else if (!strcmp(cmd, "announce") && (sub_argc == 2 || sub_argc == 3)) {
		uint32_t state = !strcmp(sub_argv[1], "panic") ? ORTHROS_STATE_PANIC :
				 !strcmp(sub_argv[1], "stopping") ? ORTHROS_STATE_STOPPING : 0;

		if (!state)
			rc = ctl_usage_error("announce panic|stopping [REASON]");
		else if ((rc = orthros_link_announce(l, state, sub_argc == 3 ? sub_argv[2] : "")))
			rc = (fprintf(stderr, "orthrosctl: announce: %s\n", strerror(-rc)), 1);
	} else {
		rc = ctl_usage_error("unknown link command '%s' or wrong arguments", cmd);
	}
	orthros_link_close(l);
	return rc;
}
