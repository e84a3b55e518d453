// SPDX-License-Identifier: GPL-2.0-or-later
#include "config.h"

#include <stdarg.h>
#include <string.h>

#include "diag.h"

void diag_init(struct diag *d, const char *file)
{
	memset(d, 0, sizeof(*d));
	d->file = file;
}

__attribute__((format(printf, 4, 0)))
static void diag_add(struct diag *d, enum diag_level level,
		     struct conf_pos pos, const char *fmt, va_list ap)
{
	if (level == DIAG_ERROR)
		d->nerrors++;
	else
		d->nwarnings++;

	/* Past the cap we still count, so the summary stays truthful. */
	if (d->nstored >= DIAG_MAX_MESSAGES)
		return;

	struct diag_message *m = &d->msg[d->nstored++];

	m->level = level;
	m->pos = pos;
	vsnprintf(m->text, sizeof(m->text), fmt, ap);
}

void diag_error(struct diag *d, struct conf_pos pos, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_add(d, DIAG_ERROR, pos, fmt, ap);
	va_end(ap);
}

void diag_warning(struct diag *d, struct conf_pos pos, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_add(d, DIAG_WARNING, pos, fmt, ap);
	va_end(ap);
}

void diag_print(const struct diag *d, FILE *out)
{
	const char *file = d->file ? d->file : "<input>";

	for (unsigned i = 0; i < d->nstored; i++) {
		const struct diag_message *m = &d->msg[i];
		const char *lvl = m->level == DIAG_ERROR ? "error" : "warning";

		if (m->pos.line)
			fprintf(out, "%s:%u:%u: %s: %s\n", file, m->pos.line,
				m->pos.column, lvl, m->text);
		else
			fprintf(out, "%s: %s: %s\n", file, lvl, m->text);
	}
	unsigned total = d->nerrors + d->nwarnings;

	if (total > d->nstored)
		fprintf(out, "%s: %u more message(s) not shown\n", file,
			total - d->nstored);
}

bool diag_contains(const struct diag *d, const char *needle)
{
	for (unsigned i = 0; i < d->nstored; i++)
		if (strstr(d->msg[i].text, needle))
			return true;
	return false;
}
