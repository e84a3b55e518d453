// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The RPC a standby speaks to its waiting `criu swrk` (ckpt-swrk.c): the
 * restore request carries what the criu command line of a lazy restore
 * says (lazy pages, connections closed, not a shell job, the log in the
 * work directory), and only an answer to that restore is taken as one.
 * Decoded with the protobuf-c code libcriu ships, as CRIU does.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>
#include <criu/rpc.pb-c.h>

#include "ckpt-swrk.h"

static void the_restore_request_says_what_the_command_line_does(void **state)
{
	struct ckpt_criu_req r = { .images_fd = 7, .work_fd = 9, .log_file = "restore.log" };
	uint8_t buf[512];
	ssize_t n;
	CriuReq *req;

	(void)state;
	n = ckpt_swrk_pack_restore(&r, true, NULL, buf, sizeof(buf));
	assert_true(n > 0);
	req = criu_req__unpack(NULL, (size_t)n, buf);
	assert_non_null(req);
	assert_int_equal(req->type, CRIU_REQ_TYPE__RESTORE);
	assert_non_null(req->opts);
	assert_int_equal(req->opts->images_dir_fd, 7);
	assert_true(req->opts->has_work_dir_fd);
	assert_int_equal(req->opts->work_dir_fd, 9);
	assert_true(req->opts->has_lazy_pages && req->opts->lazy_pages);
	assert_true(req->opts->has_tcp_close && req->opts->tcp_close);
	assert_true(req->opts->has_shell_job && !req->opts->shell_job);
	assert_string_equal(req->opts->log_file, "restore.log");
	/* Not a sibling: the tree goes to init with the swrk, detached. */
	assert_false(req->opts->has_rst_sibling && req->opts->rst_sibling);
	/* No configuration file unless asked: CRIU would read it. */
	assert_null(req->opts->config_file);
	criu_req__free_unpacked(req, NULL);

	/* Left stopped: said through a configuration file, by path. */
	n = ckpt_swrk_pack_restore(&r, true, "/run/w/leave-stopped.conf", buf, sizeof(buf));
	req = criu_req__unpack(NULL, (size_t)n, buf);
	assert_non_null(req);
	assert_string_equal(req->opts->config_file, "/run/w/leave-stopped.conf");
	criu_req__free_unpacked(req, NULL);

	/* Eager, and without a work directory: CRIU works in the images'. */
	r.work_fd = -1;
	n = ckpt_swrk_pack_restore(&r, false, NULL, buf, sizeof(buf));
	req = criu_req__unpack(NULL, (size_t)n, buf);
	assert_non_null(req);
	assert_false(req->opts->has_work_dir_fd);
	assert_false(req->opts->lazy_pages);
	criu_req__free_unpacked(req, NULL);
	assert_int_equal(ckpt_swrk_pack_restore(&r, true, NULL, buf, 8), -ENOSPC);
}

static size_t pack_resp(uint8_t *buf, CriuReqType type, bool success, int32_t pid, const char *why)
{
	CriuResp resp = CRIU_RESP__INIT;
	CriuRestoreResp rr = CRIU_RESTORE_RESP__INIT;

	resp.type = type;
	resp.success = success;
	if (pid) {
		rr.pid = pid;
		resp.restore = &rr;
	}
	if (why) {
		resp.cr_errmsg = (char *)(uintptr_t)why;
		resp.has_cr_errno = true;
		resp.cr_errno = ENOENT;
	}
	return criu_resp__pack(&resp, buf);
}

static void only_an_answer_to_the_restore_is_taken(void **state)
{
	uint8_t buf[256];
	char msg[200] = "";
	pid_t pid = 0;
	size_t n;

	(void)state;
	n = pack_resp(buf, CRIU_REQ_TYPE__RESTORE, true, 30032, NULL);
	assert_int_equal(ckpt_swrk_parse_restore(buf, n, &pid, msg, sizeof(msg)), 0);
	assert_int_equal(pid, 30032);
	/* Refused: CRIU's reason passed on. */
	n = pack_resp(buf, CRIU_REQ_TYPE__RESTORE, false, 0, "Can't open pstree");
	assert_int_equal(ckpt_swrk_parse_restore(buf, n, &pid, msg, sizeof(msg)), -EIO);
	assert_non_null(strstr(msg, "Can't open pstree"));
	assert_non_null(strstr(msg, "errno 2"));
	/* The answer to something else, a success without a pid, garbage. */
	n = pack_resp(buf, CRIU_REQ_TYPE__DUMP, true, 0, NULL);
	assert_int_equal(ckpt_swrk_parse_restore(buf, n, &pid, msg, sizeof(msg)), -EBADMSG);
	n = pack_resp(buf, CRIU_REQ_TYPE__RESTORE, true, 0, NULL);
	assert_int_equal(ckpt_swrk_parse_restore(buf, n, &pid, msg, sizeof(msg)), -EBADMSG);
	n = pack_resp(buf, CRIU_REQ_TYPE__RESTORE, true, -5, NULL);
	assert_int_equal(ckpt_swrk_parse_restore(buf, n, &pid, msg, sizeof(msg)), -EBADMSG);
	memset(buf, 0xff, sizeof(buf));
	assert_int_equal(ckpt_swrk_parse_restore(buf, sizeof(buf), &pid, msg, sizeof(msg)), -EBADMSG);
	assert_int_equal(pid, 30032);
}

/* A swrk that dies before answering: said so, and the swrk is reaped. */
static void a_swrk_that_exits_gives_no_answer(void **state)
{
	struct ckpt_criu_req r = { .images_fd = 0, .work_fd = -1 };
	struct ckpt_swrk w;
	char msg[200] = "";
	pid_t pid = 0;

	(void)state;
	setenv("CRIU_BINARY", "/bin/true", 1);
	assert_int_equal(ckpt_swrk_start(&w), 0);
	assert_true(w.pid > 0);
	assert_true(ckpt_swrk_restore(&w, &r, true, &pid, msg, sizeof(msg)) < 0);
	assert_true(strstr(msg, "gave no answer") || strstr(msg, "is gone"));
	assert_int_equal(w.pid, -1);
	assert_int_equal(w.sk, -1);
	assert_int_equal(pid, 0);
	setenv("CRIU_BINARY", "/nonexistent/criu", 1);
	assert_true(ckpt_swrk_start(&w) < 0);
	assert_false(ckpt_swrk_alive(&w));
	unsetenv("CRIU_BINARY");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_restore_request_says_what_the_command_line_does),
		cmocka_unit_test(only_an_answer_to_the_restore_is_taken),
		cmocka_unit_test(a_swrk_that_exits_gives_no_answer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
