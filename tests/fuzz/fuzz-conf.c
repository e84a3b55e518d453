// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for the configuration parser and, when a file parses,
 * the planner and its printer: every path an operator's file can reach.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "conf.h"
#include "plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *sink;
	struct orthros_conf *conf = malloc(sizeof(*conf));
	struct diag *d = malloc(sizeof(*d));

	if (!sink)
		sink = fopen("/dev/null", "w");
	if (!conf || !d || !sink)
		abort();
	diag_init(d, "fuzz");
	if (conf_load_buffer("fuzz", (const char *)data, size, conf, d) == 0) {
		struct plan_generation pg;

		plan_print(sink, conf, 1, 4);
		plan_generation(conf, PLAN_MAX_GENERATION, &pg);
	}
	diag_print(d, sink);
	free(d);
	free(conf);
	return 0;
}
