// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * orthros-doorbelld: run the doorbell server on its own (the lab and the
 * kernel tests use it; the controller embeds the same server).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <qb/qblog.h>
#include <qb/qbloop.h>

#include "doorbell-server.h"
#include "units.h"

static const char usage[] =
	"Usage: orthros-doorbelld --socket PATH [--shm PATH] [--size SIZE] [--vectors N] [--verbose]\n"
	"\n"
	"Serve the ivshmem doorbell protocol on the UNIX socket PATH for QEMU's\n"
	"ivshmem-doorbell devices and user-space peers.  The shared region (default\n"
	"1MiB, a power of two) is formatted in the Orthros layout; with --shm it is\n"
	"a file at PATH, otherwise an anonymous memfd.  Runs until SIGTERM/SIGINT.\n";

static int32_t on_signal(int32_t sig, void *data)
{
	(void)sig;
	qb_loop_stop(data);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "shm", required_argument, NULL, 'm' },
		{ "size", required_argument, NULL, 'l' },
		{ "vectors", required_argument, NULL, 'n' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct doorbell_config cfg = { .shm_size = 1u << 20, .vectors = 2 };
	struct doorbell_server *srv;
	int opt, rc, prio = LOG_INFO;
	uint64_t v;

	while ((opt = getopt_long(argc, argv, "s:m:l:n:vh", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			cfg.socket_path = optarg;
			break;
		case 'm':
			cfg.shm_path = optarg;
			break;
		case 'l':
			if (units_parse_size(optarg, &cfg.shm_size)) {
				fprintf(stderr, "orthros-doorbelld: --size '%s' is not a size like 1MiB\n", optarg);
				return 2;
			}
			break;
		case 'n':
			if (units_parse_u64(optarg, &v) || v == 0 || v > 8) {
				fprintf(stderr, "orthros-doorbelld: --vectors must be 1..8\n");
				return 2;
			}
			cfg.vectors = (unsigned int)v;
			break;
		case 'v':
			prio = LOG_DEBUG;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (!cfg.socket_path || optind != argc) {
		fputs(usage, stderr);
		return 2;
	}

	qb_log_init("orthros-doorbelld", LOG_DAEMON, prio);
	qb_log_ctl(QB_LOG_SYSLOG, QB_LOG_CONF_ENABLED, QB_FALSE);
	qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_ENABLED, QB_TRUE);
	qb_log_filter_ctl(QB_LOG_STDERR, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE, "*", prio);

	qb_loop_t *loop = qb_loop_create();

	if (!loop) {
		qb_log(LOG_ERR, "cannot create the main loop");
		return 1;
	}
	qb_loop_signal_add(loop, QB_LOOP_HIGH, SIGTERM, loop, on_signal, NULL);
	qb_loop_signal_add(loop, QB_LOOP_HIGH, SIGINT, loop, on_signal, NULL);
	rc = doorbell_server_start(loop, &cfg, &srv);
	if (rc) {
		qb_log(LOG_ERR, "cannot serve on %s: %s%s", cfg.socket_path, strerror(-rc),
		       rc == -EINVAL ? " (size must be a power of two of at least 4KiB)" : "");
		qb_loop_destroy(loop);
		return 1;
	}
	qb_log(LOG_INFO, "serving %s: %llu bytes shared, %u vectors per peer",
	       cfg.socket_path, (unsigned long long)cfg.shm_size, cfg.vectors);
	qb_loop_run(loop);
	doorbell_server_stop(srv);
	qb_loop_destroy(loop);
	qb_log_fini();
	return 0;
}
