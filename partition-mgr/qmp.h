/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A small synchronous QMP client (QEMU Machine Protocol, JSON over a UNIX
 * socket).  Synchronous on purpose: every command the controller sends
 * (stop, quit, query-status, device_add) completes in milliseconds, and a
 * deadline bounds each one, so a wedged QEMU costs at most that deadline.
 * Asynchronous events are read and dropped; the controller learns about
 * partition deaths from the doorbell link and from waitpid, not from QMP.
 */
#ifndef ORTHROS_QMP_H
#define ORTHROS_QMP_H

#include <stddef.h>
#include <json-c/json.h>

struct qmp;

/* Connect, read the greeting, negotiate capabilities.  0 or -errno. */
int qmp_connect(const char *path, int timeout_ms, struct qmp **out);
void qmp_close(struct qmp *q);

/*
 * Run @cmd with @args (consumed; may be NULL).  On success returns 0 and,
 * if @ret is not NULL, the "return" member (caller puts it).  A QMP error
 * is -EREMOTEIO with its description in @err; -ETIMEDOUT, -EPIPE or
 * -EPROTO otherwise.
 */
int qmp_command(struct qmp *q, const char *cmd, json_object *args,
		int timeout_ms, json_object **ret, char *err, size_t errlen);

#endif
