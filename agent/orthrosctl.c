// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * orthrosctl: the operator's command line.
 *
 * Exit codes: 0 success, 1 runtime failure, 2 invalid configuration or
 * invalid command line (so scripts can tell "fix your file" from "broken").
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "ctl.h"
#include "plan.h"
#include "units.h"

#define EXIT_INVALID CTL_EXIT_INVALID

static const char usage_text[] =
	"Usage: orthrosctl COMMAND [OPTIONS]\n"
	"\n"
	"Commands:\n"
	"  config check FILE            validate a machine description\n"
	"  plan --config FILE [--generations N] [--from G]\n"
	"                               print the partition plan for N generations\n"
	"                               (default 6) starting at generation G (default 1)\n"
	"  link [OPTIONS] COMMAND       the partition link: info, status, events, ring,\n"
	"                               announce (see 'orthrosctl link --help')\n"
	"  partition COMMAND            ask the controller: status, timeline, boot, fence,\n"
	"                               dead, grow (see 'orthrosctl partition --help')\n"
	"  ckpt COMMAND                 the checkpoint store: format, list, put, get,\n"
	"                               verify (see 'orthrosctl ckpt --help')\n"
	"  takeover [OPTIONS]           a BackupOS's early takeover of its dead Active\n"
	"                               (see 'orthrosctl takeover --help')\n"
	"\n"
	"Options:\n"
	"  -h, --help                   show this help\n"
	"  -V, --version                show the version\n"
	"\n"
	"Exit status: 0 success, 1 runtime failure, 2 invalid configuration or usage,\n"
	"3 the answer is no (see each command's help).\n"
	"See orthrosctl(8) and docs/configuration.md.\n";

int ctl_usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "orthrosctl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'orthrosctl --help'.\n");
	return EXIT_INVALID;
}

static int load(const char *path, struct orthros_conf *conf)
{
	struct diag *d = malloc(sizeof(*d));
	int rc;

	if (!d) {
		perror("orthrosctl");
		return EXIT_FAILURE;
	}
	diag_init(d, path);
	rc = conf_load_file(path, conf, d);
	diag_print(d, stderr);
	free(d);
	if (rc == -EINVAL)
		return EXIT_INVALID;
	return rc ? EXIT_FAILURE : EXIT_SUCCESS;
}

static int cmd_config_check(int argc, char **argv)
{
	if (argc != 1)
		return ctl_usage_error("config check takes exactly one FILE");

	struct orthros_conf *conf = malloc(sizeof(*conf));
	int rc;

	if (!conf) {
		perror("orthrosctl");
		return EXIT_FAILURE;
	}
	rc = load(argv[0], conf);
	if (rc == EXIT_SUCCESS)
		printf("%s: valid (machine %s, %zu CPUs, %zu protected group(s))\n",
		       argv[0], conf->machine_name, conf->ncpus, conf->ngroups);
	free(conf);
	return rc;
}

static int parse_count(const char *s, const char *what, uint32_t max,
		       uint32_t *out)
{
	uint64_t v;

	if (units_parse_u64(s, &v) || v == 0 || v > max) {
		fprintf(stderr, "orthrosctl: %s '%s' is not a number from 1 to %u\n",
			what, s, max);
		return -EINVAL;
	}
	*out = (uint32_t)v;
	return 0;
}

#define PLAN_MAX_PRINTED 100000u

static int cmd_plan(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "generations", required_argument, NULL, 'n' },
		{ "from", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL;
	uint32_t count = 6, first = 1;
	int opt;

	optind = 0;	/* argv[0] is "plan"; getopt must start over */
	while ((opt = getopt_long(argc, argv, "c:n:f:", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 'n':
			if (parse_count(optarg, "--generations", PLAN_MAX_PRINTED, &count))
				return EXIT_INVALID;
			break;
		case 'f':
			if (parse_count(optarg, "--from", PLAN_MAX_GENERATION, &first))
				return EXIT_INVALID;
			break;
		default:
			return ctl_usage_error("invalid option for plan");
		}
	}
	if (optind != argc)
		return ctl_usage_error("unexpected argument '%s'", argv[optind]);
	if (!path)
		return ctl_usage_error("plan needs --config FILE");
	if (count - 1 > PLAN_MAX_GENERATION - first)
		return ctl_usage_error("generations past %u do not exist", PLAN_MAX_GENERATION);

	struct orthros_conf *conf = malloc(sizeof(*conf));
	int rc;

	if (!conf) {
		perror("orthrosctl");
		return EXIT_FAILURE;
	}
	rc = load(path, conf);
	if (rc == EXIT_SUCCESS && plan_print(stdout, conf, first, count)) {
		fprintf(stderr, "orthrosctl: cannot compute the plan\n");
		rc = EXIT_FAILURE;
	}
	free(conf);
	return rc;
}

int main(int argc, char **argv)
{
	struct timespec ts;

	/* The loader's share of a start, told apart in the standby's timeline. */
	if (!clock_gettime(CLOCK_MONOTONIC, &ts))
		ctl_main_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	if (argc < 2)
		return ctl_usage_error("missing COMMAND");
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fputs(usage_text, stdout);
		return EXIT_SUCCESS;
	}
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
		printf("orthrosctl (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
		return EXIT_SUCCESS;
	}
	if (!strcmp(argv[1], "config")) {
		if (argc < 3 || strcmp(argv[2], "check"))
			return ctl_usage_error("unknown config subcommand; expected 'config check FILE'");
		return cmd_config_check(argc - 3, argv + 3);
	}
	if (!strcmp(argv[1], "link"))
		return ctl_link(argc - 1, argv + 1);
	if (!strcmp(argv[1], "partition"))
		return ctl_partition(argc - 1, argv + 1);
	if (!strcmp(argv[1], "ckpt"))
		return ctl_ckpt(argc - 1, argv + 1);
	if (!strcmp(argv[1], "takeover"))
		return ctl_takeover(argc - 1, argv + 1);
	if (!strcmp(argv[1], "plan"))
		return cmd_plan(argc - 1, argv + 1);
	return ctl_usage_error("unknown command '%s'", argv[1]);
}
