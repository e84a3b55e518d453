/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Diagnostics for configuration input: every message carries the file,
 * line and column it refers to, so an operator can jump straight to it.
 */
#ifndef ORTHROS_DIAG_H
#define ORTHROS_DIAG_H

#include <stdbool.h>
#include <stdio.h>

/* 1-based line and column; line 0 means "no position" (whole file). */
struct conf_pos {
	unsigned line;
	unsigned column;
};

enum diag_level { DIAG_ERROR, DIAG_WARNING };

#define DIAG_MAX_MESSAGES 64
#define DIAG_MESSAGE_LEN 400

struct diag_message {
	enum diag_level level;
	struct conf_pos pos;
	char text[DIAG_MESSAGE_LEN];
};

struct diag {
	const char *file;	/* name shown in messages */
	unsigned nerrors;
	unsigned nwarnings;
	unsigned nstored;	/* messages kept (the rest are only counted) */
	struct diag_message msg[DIAG_MAX_MESSAGES];
};

void diag_init(struct diag *d, const char *file);

__attribute__((format(printf, 3, 4)))
void diag_error(struct diag *d, struct conf_pos pos, const char *fmt, ...);

__attribute__((format(printf, 3, 4)))
void diag_warning(struct diag *d, struct conf_pos pos, const char *fmt, ...);

/* Print "file:line:column: error: text" lines, in the order found. */
void diag_print(const struct diag *d, FILE *out);

/* True if any stored message contains @needle (used by tests). */
bool diag_contains(const struct diag *d, const char *needle);

#endif
