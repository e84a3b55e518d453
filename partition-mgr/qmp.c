// SPDX-License-Identifier: GPL-2.0-or-later
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "qmp.h"

struct qmp {
	int fd;
	json_tokener *tok;
	char buf[4096];
	size_t len, off;	/* unparsed bytes are buf[off, len) */
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The next complete JSON object from QEMU, or -errno. */
static int next_object(struct qmp *q, long long deadline, json_object **out)
{
	for (;;) {
		while (q->off < q->len) {
			json_object *o = json_tokener_parse_ex(q->tok, q->buf + q->off,
							      (int)(q->len - q->off));
			enum json_tokener_error e = json_tokener_get_error(q->tok);
			size_t used = json_tokener_get_parse_end(q->tok);

			if (e == json_tokener_continue) {
				q->off = q->len;
				break;
			}
			q->off += used;
			if (e != json_tokener_success) {
				json_tokener_reset(q->tok);
				return -EPROTO;
			}
			json_tokener_reset(q->tok);
			if (!json_object_is_type(o, json_type_object)) {
				json_object_put(o);
				return -EPROTO;
			}
			*out = o;
			return 0;
		}
		q->off = q->len = 0;

		long long left = deadline - now_ms();

		if (left <= 0)
			return -ETIMEDOUT;
		struct pollfd p = { .fd = q->fd, .events = POLLIN };
		int rc = poll(&p, 1, (int)left);

		if (rc < 0 && errno != EINTR)
			return -errno;
		if (rc <= 0)
			continue;
		ssize_t n = read(q->fd, q->buf, sizeof(q->buf));

		if (n == 0)
			return -EPIPE;
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		q->len = (size_t)n;
	}
}

static int send_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

int qmp_command(struct qmp *q, const char *cmd, json_object *args,
		int timeout_ms, json_object **ret, char *err, size_t errlen)
{
	json_object *req = json_object_new_object();
	long long deadline = now_ms() + timeout_ms;
	int rc;

	if (err && errlen)
		err[0] = '\0';
	json_object_object_add(req, "execute", json_object_new_string(cmd));
	if (args)
		json_object_object_add(req, "arguments", args);
	const char *s = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);

	rc = send_all(q->fd, s, strlen(s));
	if (!rc)
		rc = send_all(q->fd, "\n", 1);
	json_object_put(req);
	if (rc)
		return rc;

	for (;;) {
		json_object *o, *v;

		rc = next_object(q, deadline, &o);
		if (rc)
			return rc;
		if (json_object_object_get_ex(o, "return", &v)) {
			if (ret)
				*ret = json_object_get(v);
			json_object_put(o);
			return 0;
		}
		if (json_object_object_get_ex(o, "error", &v)) {
			json_object *d;

			if (err && errlen && json_object_object_get_ex(v, "desc", &d))
				snprintf(err, errlen, "%s", json_object_get_string(d));
			json_object_put(o);
			return -EREMOTEIO;
		}
		json_object_put(o);	/* an asynchronous event */
	}
}

int qmp_connect(const char *path, int timeout_ms, struct qmp **out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	long long deadline = now_ms() + timeout_ms;
	struct qmp *q;
	json_object *greeting, *v;
	int rc;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->tok = json_tokener_new();
	/* QEMU creates its socket a little after it starts: retry until due. */
	for (;;) {
		q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (q->fd < 0) {
			rc = -errno;
			goto fail;
		}
		if (!connect(q->fd, (struct sockaddr *)&sa, sizeof(sa)))
			break;
		rc = -errno;
		close(q->fd);
		q->fd = -1;
		if ((rc != -ENOENT && rc != -ECONNREFUSED) || now_ms() >= deadline)
			goto fail;
		usleep(20000);
	}
	rc = next_object(q, deadline, &greeting);
	if (rc)
		goto fail;
	if (!json_object_object_get_ex(greeting, "QMP", &v)) {
		json_object_put(greeting);
		rc = -EPROTO;
		goto fail;
	}
	json_object_put(greeting);
	rc = qmp_command(q, "qmp_capabilities", NULL,
			 (int)(deadline > now_ms() ? deadline - now_ms() : 1), NULL, NULL, 0);
	if (rc)
		goto fail;
	*out = q;
	return 0;
fail:
	qmp_close(q);
	return rc;
}

void qmp_close(struct qmp *q)
{
	if (!q)
		return;
	if (q->fd >= 0)
		close(q->fd);
	json_tokener_free(q->tok);
	free(q);
}
