// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libxml2 on demand (xml-lib.h).  Its ABI is libxml2.so.2, the soname the
 * headers we build against belong to; it stays loaded for the process.
 */
#include "config.h"

#include <dlfcn.h>
#include <stdio.h>

#include "xml-lib.h"

#define XML_SONAME "libxml2.so.2"

const struct xml_lib *xml_lib(char *why, size_t len)
{
	static struct xml_lib lib;
	static void *handle;

	if (handle)
		return &lib;
	handle = dlopen(XML_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!handle) {
		snprintf(why, len, "cannot load %s: %s", XML_SONAME, dlerror());
		return NULL;
	}
	/* POSIX's way from a symbol to a function pointer. */
	*(void **)&lib.read_memory = dlsym(handle, "xmlReadMemory");
	*(void **)&lib.root = dlsym(handle, "xmlDocGetRootElement");
	*(void **)&lib.free_doc = dlsym(handle, "xmlFreeDoc");
	if (!lib.read_memory || !lib.root || !lib.free_doc) {
		snprintf(why, len, "%s lacks xmlReadMemory, xmlDocGetRootElement or xmlFreeDoc", XML_SONAME);
		dlclose(handle);
		handle = NULL;
		return NULL;
	}
	return &lib;
}
