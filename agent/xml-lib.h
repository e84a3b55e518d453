/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libxml2, loaded the first time a CIB is parsed rather than linked.
 *
 * orthrosctl parses XML for the early takeover only, but every one of its
 * calls paid for loading libxml2 and what it pulls in (ICU, libstdc++):
 * half the cost of starting orthrosctl, measured on the host (6.9 against
 * 3.6 ms of task clock), and under TCG ~70 ms of a standby restore's
 * ~100 ms from exec to its request, on the failover's critical path
 * (docs/protected.md, Restore ahead).  Only the three calls below go
 * through the handle; the tree is walked through libxml2's own structures.
 */
#ifndef ORTHROS_XML_LIB_H
#define ORTHROS_XML_LIB_H

#include <stddef.h>
#include <libxml/tree.h>

struct xml_lib {
	xmlDoc *(*read_memory)(const char *buf, int size, const char *url, const char *encoding, int options);
	xmlNode *(*root)(const xmlDoc *doc);
	void (*free_doc)(xmlDoc *doc);
};

/* The loaded library, or NULL with @why saying what failed. */
const struct xml_lib *xml_lib(char *why, size_t len);

#endif /* ORTHROS_XML_LIB_H */
