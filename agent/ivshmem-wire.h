/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The ivshmem-server wire protocol (QEMU docs/specs/ivshmem-spec.rst): every
 * message is one little-endian int64, optionally carrying one file
 * descriptor in SCM_RIGHTS.  Used by the doorbell server and by peers that
 * speak it from user space (the controller, test tools).
 */
#ifndef ORTHROS_IVSHMEM_WIRE_H
#define ORTHROS_IVSHMEM_WIRE_H

#include <stdint.h>

#define IVSHMEM_PROTOCOL_VERSION 0

/* Send @value with @fd attached (fd < 0: none).  0 or -errno. */
int ivshmem_send(int sock, int64_t value, int fd);

/*
 * Receive one message.  *fd is -1 when none came.  Returns 0, -ECONNRESET
 * on orderly close, -EPROTO on a malformed message, or -errno.  Extra
 * descriptors beyond the first are closed, never leaked.
 */
int ivshmem_recv(int sock, int64_t *value, int *fd);

#endif
