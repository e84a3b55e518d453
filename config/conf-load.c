// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * YAML -> struct orthros_conf.
 *
 * The schema is a set of key tables, one per mapping; a generic walker
 * reports unknown, duplicate and missing keys with their positions, and the
 * per-key handlers check types and units.  Semantic rules that span several
 * keys (overlaps, BSP, slot conflicts) live in conf-check.c.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "conf.h"
#include "units.h"

#define CONF_MAX_FILE_SIZE (1u << 20)
#define CONF_MAX_DEPTH 16
#define PATH_LEN 160

struct loader {
	yaml_document_t *doc;
	struct diag *d;
	struct orthros_conf *c;
};

typedef void (*value_fn)(struct loader *l, yaml_node_t *v, const char *path,
			 void *obj);

struct key {
	const char *name;
	bool required;
	value_fn fn;
};

#define NKEYS(k) (sizeof(k) / sizeof((k)[0]))

static struct conf_pos pos_of(const yaml_node_t *n)
{
	struct conf_pos p = { (unsigned)n->start_mark.line + 1,
			      (unsigned)n->start_mark.column + 1 };
	return p;
}

static const char *kind_of(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SCALAR_NODE:
		return n->data.scalar.length ? "a scalar" : "an empty value";
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_MAPPING_NODE:
		return "a mapping";
	default:
		return "nothing";
	}
}

static const char *text(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

static void join(char *out, const char *path, const char *key)
{
	if (path[0])
		snprintf(out, PATH_LEN, "%s.%s", path, key);
	else
		snprintf(out, PATH_LEN, "%s", key);
}

static bool want(struct loader *l, yaml_node_t *n, yaml_node_type_t type,
		 const char *path, const char *expected)
{
	if (n->type == type &&
	    !(type == YAML_SCALAR_NODE && n->data.scalar.length == 0))
		return true;
	diag_error(l->d, pos_of(n), "%s: expected %s, got %s", path, expected,
		   kind_of(n));
	return false;
}

/* Scalars must be plain text: a NUL inside would silently truncate. */
static bool want_scalar(struct loader *l, yaml_node_t *n, const char *path,
			const char *expected)
{
	if (!want(l, n, YAML_SCALAR_NODE, path, expected))
		return false;
	if (strlen(text(n)) != n->data.scalar.length) {
		diag_error(l->d, pos_of(n), "%s: value contains a NUL character",
			   path);
		return false;
	}
	return true;
}

static void walk_mapping(struct loader *l, yaml_node_t *map, const char *path,
			 const struct key *keys, size_t nkeys, void *obj)
{
	if (!want(l, map, YAML_MAPPING_NODE, path[0] ? path : "document",
		  "a mapping"))
		return;

	yaml_node_pair_t *first = map->data.mapping.pairs.start;
	yaml_node_pair_t *top = map->data.mapping.pairs.top;

	for (yaml_node_pair_t *p = first; p < top; p++) {
		yaml_node_t *k = yaml_document_get_node(l->doc, p->key);

		if (!k || k->type != YAML_SCALAR_NODE) {
			diag_error(l->d, k ? pos_of(k) : pos_of(map),
				   "%s: keys must be plain names",
				   path[0] ? path : "document");
			continue;
		}
		for (yaml_node_pair_t *q = first; q < p; q++) {
			yaml_node_t *qk = yaml_document_get_node(l->doc, q->key);

			if (qk && qk->type == YAML_SCALAR_NODE &&
			    !strcmp(text(qk), text(k))) {
				diag_error(l->d, pos_of(k),
					   "duplicate key '%s' in %s (first at line %u)",
					   text(k), path[0] ? path : "document",
					   pos_of(qk).line);
				break;
			}
		}
		size_t i;

		for (i = 0; i < nkeys; i++)
			if (!strcmp(keys[i].name, text(k)))
				break;
		if (i < nkeys)
			continue;

		char expected[512] = "";
		size_t off = 0;

		for (size_t j = 0; j < nkeys && off < sizeof(expected); j++)
			off += (size_t)snprintf(expected + off,
						sizeof(expected) - off, "%s%s",
						j ? ", " : "", keys[j].name);
		diag_error(l->d, pos_of(k),
			   "unknown key '%s' in %s; expected one of: %s",
			   text(k), path[0] ? path : "document", expected);
	}

	/* Handlers run in table order, so later keys can rely on earlier ones
	 * (device names before the slots that use them) whatever the file order.
	 */
	for (size_t i = 0; i < nkeys; i++) {
		yaml_node_t *v = NULL;

		for (yaml_node_pair_t *p = first; p < top; p++) {
			yaml_node_t *k = yaml_document_get_node(l->doc, p->key);

			if (k && k->type == YAML_SCALAR_NODE &&
			    !strcmp(text(k), keys[i].name)) {
				v = yaml_document_get_node(l->doc, p->value);
				break;
			}
		}
		char sub[PATH_LEN];

		join(sub, path, keys[i].name);
		if (!v) {
			if (keys[i].required)
				diag_error(l->d, pos_of(map),
					   "missing key '%s' in %s", keys[i].name,
					   path[0] ? path : "document");
			continue;
		}
		keys[i].fn(l, v, sub, obj);
	}
}

/* Iterate a list, refusing more than @max entries. */
static size_t list_items(struct loader *l, yaml_node_t *n, const char *path,
			 size_t max, yaml_node_item_t **items)
{
	if (!want(l, n, YAML_SEQUENCE_NODE, path, "a list"))
		return 0;
	size_t count = (size_t)(n->data.sequence.items.top -
				n->data.sequence.items.start);

	*items = n->data.sequence.items.start;
	if (count > max) {
		diag_error(l->d, pos_of(n), "%s: too many entries (%zu); at most %zu",
			   path, count, max);
		return 0;
	}
	return count;
}

static bool get_u64(struct loader *l, yaml_node_t *n, const char *path,
		    uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v;

	if (!want_scalar(l, n, path, "an integer"))
		return false;
	if (units_parse_u64(text(n), &v)) {
		diag_error(l->d, pos_of(n), "%s: '%s' is not an integer", path,
			   text(n));
		return false;
	}
	if (v < min || v > max) {
		diag_error(l->d, pos_of(n),
			   "%s: %s is out of range; expected %llu..%llu", path,
			   text(n), (unsigned long long)min,
			   (unsigned long long)max);
		return false;
	}
	*out = v;
	return true;
}

static bool get_u32(struct loader *l, yaml_node_t *n, const char *path,
		    uint32_t min, uint32_t max, uint32_t *out)
{
	uint64_t v;

	if (!get_u64(l, n, path, min, max, &v))
		return false;
	*out = (uint32_t)v;
	return true;
}

static bool get_size(struct loader *l, yaml_node_t *n, const char *path,
		     uint64_t *out)
{
	if (!want_scalar(l, n, path, "a size"))
		return false;
	if (units_parse_size(text(n), out)) {
		diag_error(l->d, pos_of(n),
			   "%s: '%s' is not a size; expected a number with a binary unit (B, KiB, MiB, GiB, TiB; K, M, G, T), e.g. 512MiB",
			   path, text(n));
		return false;
	}
	return true;
}

static bool get_addr(struct loader *l, yaml_node_t *n, const char *path,
		     uint64_t *out)
{
	if (!want_scalar(l, n, path, "an address"))
		return false;
	if (units_parse_addr(text(n), out)) {
		diag_error(l->d, pos_of(n),
			   "%s: '%s' is not an address; expected e.g. 0x40000000 or 1GiB",
			   path, text(n));
		return false;
	}
	return true;
}

static bool get_duration(struct loader *l, yaml_node_t *n, const char *path,
			 uint64_t *out)
{
	if (!want_scalar(l, n, path, "a duration"))
		return false;
	if (units_parse_duration(text(n), out)) {
		diag_error(l->d, pos_of(n),
			   "%s: '%s' is not a duration; expected a whole number with a unit (us, ms, s, min, h), e.g. 10ms",
			   path, text(n));
		return false;
	}
	return true;
}

static bool get_bool(struct loader *l, yaml_node_t *n, const char *path,
		     bool *out)
{
	if (!want_scalar(l, n, path, "true or false"))
		return false;
	if (!strcmp(text(n), "true")) {
		*out = true;
		return true;
	}
	if (!strcmp(text(n), "false")) {
		*out = false;
		return true;
	}
	diag_error(l->d, pos_of(n), "%s: '%s' is not a boolean; expected true or false",
		   path, text(n));
	return false;
}

static bool get_string(struct loader *l, yaml_node_t *n, const char *path,
		       char *buf, size_t len)
{
	if (!want_scalar(l, n, path, "a string"))
		return false;
	if (n->data.scalar.length >= len) {
		diag_error(l->d, pos_of(n), "%s: too long (%zu characters); at most %zu",
			   path, n->data.scalar.length, len - 1);
		return false;
	}
	memcpy(buf, text(n), n->data.scalar.length + 1);
	return true;
}

/* Names end up in Pacemaker attributes and file names: keep them tame. */
static bool get_name(struct loader *l, yaml_node_t *n, const char *path,
		     char *buf, size_t len)
{
	if (!get_string(l, n, path, buf, len))
		return false;
	for (const char *p = buf; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' ||
		    *p == '.')
			continue;
		diag_error(l->d, pos_of(n),
			   "%s: '%s' is not a valid name; expected letters, digits, '_', '-' or '.'",
			   path, buf);
		buf[0] = '\0';
		return false;
	}
	return true;
}

static bool get_abs_path(struct loader *l, yaml_node_t *n, const char *path,
			 char *buf, size_t len)
{
	if (!get_string(l, n, path, buf, len))
		return false;
	if (buf[0] != '/') {
		diag_error(l->d, pos_of(n), "%s: '%s' is not an absolute path",
			   path, buf);
		return false;
	}
	return true;
}

static bool get_enum(struct loader *l, yaml_node_t *n, const char *path,
		     const char *const *names, size_t nnames, int *out)
{
	if (!want_scalar(l, n, path, "a keyword"))
		return false;
	for (size_t i = 0; i < nnames; i++) {
		if (!strcmp(text(n), names[i])) {
			*out = (int)i;
			return true;
		}
	}
	char expected[256] = "";
	size_t off = 0;

	for (size_t i = 0; i < nnames && off < sizeof(expected); i++)
		off += (size_t)snprintf(expected + off, sizeof(expected) - off,
					"%s%s", i ? ", " : "", names[i]);
	diag_error(l->d, pos_of(n), "%s: '%s' is not allowed; expected one of: %s",
		   path, text(n), expected);
	return false;
}

/* ---- ranges ---------------------------------------------------------- */

static void range_start(struct loader *l, yaml_node_t *v, const char *path, void *obj)
{
	get_addr(l, v, path, &((struct conf_range *)obj)->start);
}

static void range_size(struct loader *l, yaml_node_t *v, const char *path, void *obj)
{
	struct conf_range *r = obj;

	if (get_size(l, v, path, &r->size) && r->size == 0)
		diag_error(l->d, pos_of(v), "%s: a range cannot be empty", path);
}

static void range_what(struct loader *l, yaml_node_t *v, const char *path, void *obj)
{
	struct conf_range *r = obj;

	get_string(l, v, path, r->what, sizeof(r->what));
}

static const struct key range_keys[] = {
	{ "start", true, range_start },
	{ "size", true, range_size },
	{ "what", false, range_what },
};

static void parse_range(struct loader *l, yaml_node_t *v, const char *path,
			struct conf_range *r)
{
	memset(r, 0, sizeof(*r));
	r->pos = pos_of(v);
	walk_mapping(l, v, path, range_keys, NKEYS(range_keys), r);
	if (r->size && r->start + r->size < r->start)
		diag_error(l->d, r->pos, "%s: range wraps past the end of the address space",
			   path);
}

static size_t parse_range_list(struct loader *l, yaml_node_t *v, const char *path,
			       struct conf_range *out)
{
	yaml_node_item_t *items;
	size_t n = list_items(l, v, path, CONF_MAX_RANGES, &items);

	for (size_t i = 0; i < n; i++) {
		char sub[PATH_LEN];

		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		parse_range(l, yaml_document_get_node(l->doc, items[i]), sub,
			    &out[i]);
	}
	return n;
}

/* ---- machine --------------------------------------------------------- */

static void m_name(struct loader *l, yaml_node_t *v, const char *path, void *obj)
{
	(void)obj;
	get_name(l, v, path, l->c->machine_name, sizeof(l->c->machine_name));
}

static void m_platform(struct loader *l, yaml_node_t *v, const char *path, void *obj)
{
	static const char *const names[] = { "qemu", "multikernel" };
	int i;

	(void)obj;
	if (get_enum(l, v, path, names, NKEYS(names), &i))
		l->c->platform = (enum conf_platform)i;
}

static void m_apic_mode(struct loader *l, yaml_node_t *v, const char *path, void *obj)
{
	static const char *const names[] = { "flat", "x2apic" };
	int i;

	(void)obj;
	if (get_enum(l, v, path, names, NKEYS(names), &i))
		l->c->apic_mode = (enum conf_apic_mode)i;
}

static void m_block_size(struct loader *l, yaml_node_t *v, const char *path, void *obj)
{
	(void)obj;
	l->c->block_size_pos = pos_of(v);
	get_size(l, v, path, &l->c->block_size);
}

static void m_cpus(struct loader *l, yaml_node_t *v, const char *path, void *obj)
{
	yaml_node_item_t *items;
	size_t n = list_items(l, v, path, CONF_MAX_CPUS, &items);

	(void)obj;
	l->c->cpus_pos = pos_of(v);
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *it = yaml_document_get_node(l->doc, items[i]);
		char sub[PATH_LEN];
		uint32_t lapic;

		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		if (!get_u32(l, it, sub, 0, UINT32_MAX - 1, &lapic))
			continue;
		l->c->cpus[l->c->ncpus].lapic = lapic;
		l->c->cpus[l->c->ncpus].pos = pos_of(it);
		l->c->ncpus++;
	}
}

static void mm_ram(struct loader *l, yaml_node_t *v, const char *path, void *obj)
{
	(void)obj;
	l->c->nram = parse_range_list(l, v, path, l->c->ram);
}

static void mm_reserved(struct loader *l, yaml_node_t *v, const char *path, void *obj)
{
	(void)obj;
	l->c->nreserved = parse_range_list(l, v, path, l->c->reserved);
}

static const struct key memory_map_keys[] = {
	{ "ram", true, mm_ram },
	{ "reserved", false, mm_reserved },
};

static void m_memory_map(struct loader *l, yaml_node_t *v, const char *path, void *obj)
{
	walk_mapping(l, v, path, memory_map_keys, NKEYS(memory_map_keys), obj);
}

static void dev_name(struct loader *l, yaml_node_t *v, const char *path, void *obj)
{
	struct conf_device *dev = obj;

	get_name(l, v, path, dev->name, sizeof(dev->name));
}

static void dev_kind(struct loader *l, yaml_node_t *v, const char *path, void *obj)
{
	static const char *const names[] = { "disk", "nic", "other" };
	struct conf_device *dev = obj;
	int i;

	if (get_enum(l, v, path, names, NKEYS(names), &i))
		dev->kind = (enum conf_device_kind)i;
}

static void dev_address(struct loader *l, yaml_node_t *v, const char *path, void *obj)
{
	struct conf_device *dev = obj;

	get_string(l, v, path, dev->address, sizeof(dev->address));
}

static const struct key device_keys[] = {
	{ "name", true, dev_name },
	{ "kind", true, dev_kind },
	{ "address", false, dev_address },
};

static void m_devices(struct loader *l, yaml_node_t *v, const char *path, void *obj)
{
	yaml_node_item_t *items;
	size_t n = list_items(l, v, path, CONF_MAX_DEVICES, &items);

	(void)obj;
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *it = yaml_document_get_node(l->doc, items[i]);
		struct conf_device *dev = &l->c->devices[i];
		char sub[PATH_LEN];

		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		dev->pos = pos_of(it);
		walk_mapping(l, it, sub, device_keys, NKEYS(device_keys), dev);
		for (size_t j = 0; j < i && dev->name[0]; j++) {
			if (!strcmp(l->c->devices[j].name, dev->name)) {
				diag_error(l->d, dev->pos,
					   "%s: device name '%s' is already used at line %u",
					   sub, dev->name, l->c->devices[j].pos.line);
				break;
			}
		}
	}
	l->c->ndevices = n;
}

static const struct key machine_keys[] = {
	{ "name", true, m_name },
	{ "platform", true, m_platform },
	{ "apic_mode", false, m_apic_mode },
	{ "memory_block_size", false, m_block_size },
	{ "cpus", true, m_cpus },
	{ "memory_map", true, m_memory_map },
	{ "devices", false, m_devices },
};

/* ---- slots ----------------------------------------------------------- */

static bool find_device(struct loader *l, yaml_node_t *v, const char *path,
			unsigned *out)
{
	if (!want_scalar(l, v, path, "a device name"))
		return false;
	for (size_t i = 0; i < l->c->ndevices; i++) {
		if (!strcmp(l->c->devices[i].name, text(v))) {
			*out = (unsigned)i;
			return true;
		}
	}
	diag_error(l->d, pos_of(v),
		   "%s: no device named '%s'; expected a name from machine.devices",
		   path, text(v));
	return false;
}

static void s_boot_cpu(struct loader *l, yaml_node_t *v, const char *path, void *obj)
{
	struct conf_slot *s = obj;

	s->boot_cpu_pos = pos_of(v);
	s->has_boot_cpu = get_u32(l, v, path, 0, UINT32_MAX - 1, &s->boot_cpu);
}

static void s_cpus(struct loader *l, yaml_node_t *v, const char *path, void *obj)
{
	struct conf_slot *s = obj;
	yaml_node_item_t *items;
	size_t n = list_items(l, v, path, CONF_MAX_CPUS, &items);

	for (size_t i = 0; i < n; i++) {
		yaml_node_t *it = yaml_document_get_node(l->doc, items[i]);
		char sub[PATH_LEN];

		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		if (get_u32(l, it, sub, 0, UINT32_MAX - 1, &s->cpus[s->ncpus]))
			s->cpu_pos[s->ncpus++] = pos_of(it);
	}
}

static void s_memory(struct loader *l, yaml_node_t *v, const char *path, void *obj)
{
	struct conf_slot *s = obj;

	parse_range(l, v, path, &s->memory);
	s->has_memory = true;
}

static void s_devices(struct loader *l, yaml_node_t *v, const char *path, void *obj)
{
	struct conf_slot *s = obj;
	yaml_node_item_t *items;
	size_t n = list_items(l, v, path, CONF_MAX_DEVICES, &items);

	for (size_t i = 0; i < n; i++) {
		yaml_node_t *it = yaml_document_get_node(l->doc, items[i]);
		char sub[PATH_LEN];
		unsigned idx;

		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		if (!find_device(l, it, sub, &idx))
			continue;
		bool dup = false;

		for (size_t j = 0; j < s->ndevices; j++)
			dup |= s->devices[j] == idx;
		if (dup) {
			diag_error(l->d, pos_of(it), "%s: device '%s' listed twice",
				   sub, text(it));
			continue;
		}
		s->device_pos[s->ndevices] = pos_of(it);
		s->devices[s->ndevices++] = idx;
	}
}

/* The 1st OS boots on the BSP like any kernel: it has no boot core to set. */
static const struct key first_slot_keys[] = {
	{ "memory", true, s_memory },
	{ "devices", false, s_devices },
};

static const struct key backup_slot_keys[] = {
	{ "boot_cpu", true, s_boot_cpu },
	{ "cpus", false, s_cpus },
	{ "memory", true, s_memory },
	{ "devices", false, s_devices },
};

static void parse_slot(struct loader *l, yaml_node_t *v, const char *path,
		       enum conf_slot_id id)
{
	struct conf_slot *s = &l->c->slots[id];

	s->present = true;
	s->pos = pos_of(v);
	if (id == CONF_SLOT_FIRST)
		walk_mapping(l, v, path, first_slot_keys, NKEYS(first_slot_keys), s);
	else
		walk_mapping(l, v, path, backup_slot_keys, NKEYS(backup_slot_keys), s);
	/* A Backup slot owns just its boot core unless told otherwise. */
	if (id != CONF_SLOT_FIRST && s->has_boot_cpu && s->ncpus == 0) {
		s->cpus[0] = s->boot_cpu;
		s->cpu_pos[0] = s->boot_cpu_pos;
		s->ncpus = 1;
	}
}

static void sl_first(struct loader *l, yaml_node_t *v, const char *path, void *obj)
{
	(void)obj;
	parse_slot(l, v, path, CONF_SLOT_FIRST);
}

static void sl_even(struct loader *l, yaml_node_t *v, const char *path, void *obj)
{
	(void)obj;
	parse_slot(l, v, path, CONF_SLOT_EVEN);
}

static void sl_odd(struct loader *l, yaml_node_t *v, const char *path, void *obj)
{
	(void)obj;
	parse_slot(l, v, path, CONF_SLOT_ODD);
}

static const struct key slots_keys[] = {
	{ "first", true, sl_first },
	{ "even", true, sl_even },
	{ "odd", true, sl_odd },
};

/* ---- heartbeat, groups, checkpoint, windows --------------------------- */

static void hb_interval(struct loader *l, yaml_node_t *v, const char *path, void *obj)
{
	(void)obj;
	if (get_duration(l, v, path, &l->c->hb_interval_us) &&
	    l->c->hb_interval_us == 0)
		diag_error(l->d, pos_of(v), "%s: must be greater than zero", path);
}

static void hb_timeout(struct loader *l, yaml_node_t *v, const char *path, void *obj)
{
	(void)obj;
	l->c->hb_timeout_pos = pos_of(v);
	get_duration(l, v, path, &l->c->hb_timeout_us);
}

static const struct key heartbeat_keys[] = {
	{ "interval", false, hb_interval },
	{ "timeout", false, hb_timeout },
};

static void g_name(struct loader *l, yaml_node_t *v, const char *path, void *obj)
{
	struct conf_group *g = obj;

	get_name(l, v, path, g->name, sizeof(g->name));
}

static void g_command(struct loader *l, yaml_node_t *v, const char *path, void *obj)
{
	struct conf_group *g = obj;
	yaml_node_item_t *items;
	size_t n = list_items(l, v, path, CONF_MAX_ARGS, &items);

	if (v->type == YAML_SEQUENCE_NODE && n == 0 &&
	    v->data.sequence.items.top == v->data.sequence.items.start)
		diag_error(l->d, pos_of(v), "%s: the command list is empty", path);
	for (size_t i = 0; i < n; i++) {
		char sub[PATH_LEN];

		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		if (get_string(l, yaml_document_get_node(l->doc, items[i]), sub,
			       g->argv[g->argc], sizeof(g->argv[0])))
			g->argc++;
	}
	if (g->argc && g->argv[0][0] != '/')
		diag_error(l->d, pos_of(v),
			   "%s: '%s' must be an absolute path (restores run without a search PATH)",
			   path, g->argv[0]);
}

static void g_cgroup(struct loader *l, yaml_node_t *v, const char *path, void *obj)
{
	struct conf_group *g = obj;

	get_string(l, v, path, g->cgroup, sizeof(g->cgroup));
}

static void g_ports(struct loader *l, yaml_node_t *v, const char *path, void *obj)
{
	struct conf_group *g = obj;
	yaml_node_item_t *items;
	size_t n = list_items(l, v, path, CONF_MAX_PORTS, &items);

	for (size_t i = 0; i < n; i++) {
		yaml_node_t *it = yaml_document_get_node(l->doc, items[i]);
		char sub[PATH_LEN];
		uint32_t port;

		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		if (!get_u32(l, it, sub, 1, 65535, &port))
			continue;
		for (size_t j = 0; j < g->nports; j++)
			if (g->ports[j] == port)
				diag_error(l->d, pos_of(it), "%s: port %u listed twice",
					   sub, port);
		g->ports[g->nports++] = (uint16_t)port;
	}
}

/*
 * A restore writes the group's files back below these paths and nowhere
 * else (agent/ckpt-data.h): one spelling per place, and never the root.
 */
static bool plain_path(const char *p)
{
	size_t n = strlen(p);

	if (n < 2 || p[n - 1] == '/' || strstr(p, "//") || strstr(p, "/./") || strstr(p, "/../"))
		return false;
	if ((n >= 2 && !strcmp(p + n - 2, "/.")) || (n >= 3 && !strcmp(p + n - 3, "/..")))
		return false;
	for (; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

static void g_paths(struct loader *l, yaml_node_t *v, const char *path, void *obj)
{
	struct conf_group *g = obj;
	yaml_node_item_t *items;
	size_t n = list_items(l, v, path, CONF_MAX_PATHS, &items);

	for (size_t i = 0; i < n; i++) {
		char sub[PATH_LEN];

		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		yaml_node_t *it = yaml_document_get_node(l->doc, items[i]);

		if (!get_abs_path(l, it, sub, g->data_paths[g->npaths], sizeof(g->data_paths[0])))
			continue;
		if (!plain_path(g->data_paths[g->npaths]))
			diag_error(l->d, pos_of(it),
				   "%s: '%s' is not a plain path below / (no '.', '..', '//' or trailing '/')",
				   sub, g->data_paths[g->npaths]);
		else
			g->npaths++;
	}
}

static const struct key group_keys[] = {
	{ "name", true, g_name },
	{ "command", true, g_command },
	{ "cgroup", false, g_cgroup },
	{ "ports", false, g_ports },
	{ "data_paths", false, g_paths },
};

static void top_groups(struct loader *l, yaml_node_t *v, const char *path, void *obj)
{
	yaml_node_item_t *items;
	size_t n = list_items(l, v, path, CONF_MAX_GROUPS, &items);

	(void)obj;
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *it = yaml_document_get_node(l->doc, items[i]);
		struct conf_group *g = &l->c->groups[i];
		char sub[PATH_LEN];

		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		g->pos = pos_of(it);
		walk_mapping(l, it, sub, group_keys, NKEYS(group_keys), g);
		for (size_t j = 0; j < i && g->name[0]; j++)
			if (!strcmp(l->c->groups[j].name, g->name))
				diag_error(l->d, g->pos,
					   "%s: group name '%s' is already used at line %u",
					   sub, g->name, l->c->groups[j].pos.line);
		if (g->name[0] && !g->cgroup[0]) {
			/* name < 64 bytes, cgroup 256: always fits */
			memcpy(g->cgroup, "orthros/", 8);
			memcpy(g->cgroup + 8, g->name, strlen(g->name) + 1);
		}
	}
	l->c->ngroups = n;
}

static void ck_interval(struct loader *l, yaml_node_t *v, const char *path, void *obj)
{
	struct conf_checkpoint *ck = obj;

	if (get_duration(l, v, path, &ck->interval_us) && ck->interval_us == 0)
		diag_error(l->d, pos_of(v), "%s: must be greater than zero", path);
}

static void ck_incremental(struct loader *l, yaml_node_t *v, const char *path, void *obj)
{
	get_bool(l, v, path, &((struct conf_checkpoint *)obj)->incremental);
}

static void ck_max_freeze(struct loader *l, yaml_node_t *v, const char *path, void *obj)
{
	struct conf_checkpoint *ck = obj;

	ck->max_freeze_pos = pos_of(v);
	get_duration(l, v, path, &ck->max_freeze_us);
}

static void ck_criu_timeout(struct loader *l, yaml_node_t *v, const char *path, void *obj)
{
	struct conf_checkpoint *ck = obj;

	ck->criu_timeout_pos = pos_of(v);
	get_duration(l, v, path, &ck->criu_timeout_us);
}

static void ck_keep(struct loader *l, yaml_node_t *v, const char *path, void *obj)
{
	struct conf_checkpoint *ck = obj;

	ck->keep_pos = pos_of(v);
	get_u32(l, v, path, 0, 64, &ck->keep);
}

static const struct key checkpoint_keys[] = {
	{ "interval", false, ck_interval },
	{ "incremental", false, ck_incremental },
	{ "max_freeze", false, ck_max_freeze },
	{ "criu_timeout", false, ck_criu_timeout },
	{ "keep", false, ck_keep },
};

/* date_spec field: "N" or "N-M" within [lo, hi]. */
static void get_spec(struct loader *l, yaml_node_t *v, const char *path,
		     unsigned lo, unsigned hi, char *buf, size_t len)
{
	if (!get_string(l, v, path, buf, len))
		return;
	uint64_t a, b;
	char tmp[CONF_NAME_LEN];
	char *dash;

	snprintf(tmp, sizeof(tmp), "%s", buf);
	dash = strchr(tmp, '-');
	if (dash)
		*dash = '\0';
	if (units_parse_u64(tmp, &a) || (dash && units_parse_u64(dash + 1, &b))) {
		diag_error(l->d, pos_of(v),
			   "%s: '%s' is not a date_spec value; expected N or N-M with %u <= N <= M <= %u",
			   path, buf, lo, hi);
		buf[0] = '\0';
		return;
	}
	if (!dash)
		b = a;
	if (a < lo || b > hi || a > b) {
		diag_error(l->d, pos_of(v), "%s: '%s' is out of range; expected N or N-M with %u <= N <= M <= %u",
			   path, buf, lo, hi);
		buf[0] = '\0';
	}
}

static void w_name(struct loader *l, yaml_node_t *v, const char *path, void *obj)
{
	struct conf_window *w = obj;

	get_name(l, v, path, w->name, sizeof(w->name));
}

static void w_action(struct loader *l, yaml_node_t *v, const char *path, void *obj)
{
	static const char *const names[] = { "live-update", "repartition" };
	struct conf_window *w = obj;
	int i;

	if (get_enum(l, v, path, names, NKEYS(names), &i))
		w->action = (enum conf_window_action)i;
}

static void w_weekdays(struct loader *l, yaml_node_t *v, const char *path, void *obj)
{
	struct conf_window *w = obj;

	get_spec(l, v, path, 1, 7, w->weekdays, sizeof(w->weekdays));
}

static void w_hours(struct loader *l, yaml_node_t *v, const char *path, void *obj)
{
	struct conf_window *w = obj;

	get_spec(l, v, path, 0, 23, w->hours, sizeof(w->hours));
}

static void w_monthdays(struct loader *l, yaml_node_t *v, const char *path, void *obj)
{
	struct conf_window *w = obj;

	get_spec(l, v, path, 1, 31, w->monthdays, sizeof(w->monthdays));
}

static void w_duration(struct loader *l, yaml_node_t *v, const char *path, void *obj)
{
	struct conf_window *w = obj;

	if (get_duration(l, v, path, &w->duration_us) && w->duration_us < 60000000u)
		diag_error(l->d, pos_of(v), "%s: a window shorter than 1min cannot hold a live update",
			   path);
}

static const struct key window_keys[] = {
	{ "name", true, w_name },
	{ "action", true, w_action },
	{ "weekdays", false, w_weekdays },
	{ "hours", false, w_hours },
	{ "monthdays", false, w_monthdays },
	{ "duration", false, w_duration },
};

static void top_windows(struct loader *l, yaml_node_t *v, const char *path, void *obj)
{
	yaml_node_item_t *items;
	size_t n = list_items(l, v, path, CONF_MAX_WINDOWS, &items);

	(void)obj;
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *it = yaml_document_get_node(l->doc, items[i]);
		struct conf_window *w = &l->c->windows[i];
		char sub[PATH_LEN];

		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		w->pos = pos_of(it);
		w->duration_us = UINT64_C(3600) * 1000000;
		walk_mapping(l, it, sub, window_keys, NKEYS(window_keys), w);
	}
	l->c->nwindows = n;
}

/* ---- top level ------------------------------------------------------- */

static void top_version(struct loader *l, yaml_node_t *v, const char *path, void *obj)
{
	(void)obj;
	if (!get_u32(l, v, path, 0, UINT32_MAX, &l->c->schema_version))
		return;
	if (l->c->schema_version != CONF_SCHEMA_VERSION)
		diag_error(l->d, pos_of(v),
			   "%s: schema version %u is not supported; this Orthros reads version %u",
			   path, l->c->schema_version, CONF_SCHEMA_VERSION);
}

static void top_machine(struct loader *l, yaml_node_t *v, const char *path, void *obj)
{
	walk_mapping(l, v, path, machine_keys, NKEYS(machine_keys), obj);
}

static void top_slots(struct loader *l, yaml_node_t *v, const char *path, void *obj)
{
	walk_mapping(l, v, path, slots_keys, NKEYS(slots_keys), obj);
}

static void top_general(struct loader *l, yaml_node_t *v, const char *path, void *obj)
{
	(void)obj;
	l->c->general_pos = pos_of(v);
	l->c->ngeneral = parse_range_list(l, v, path, l->c->general);
	if (v->type == YAML_SEQUENCE_NODE && l->c->ngeneral == 0 &&
	    v->data.sequence.items.top == v->data.sequence.items.start)
		diag_error(l->d, pos_of(v), "%s: at least one range is needed", path);
}

static void top_data_disk(struct loader *l, yaml_node_t *v, const char *path, void *obj)
{
	(void)obj;
	l->c->data_disk_pos = pos_of(v);
	l->c->has_data_disk = find_device(l, v, path, &l->c->data_disk);
}

static void top_heartbeat(struct loader *l, yaml_node_t *v, const char *path, void *obj)
{
	l->c->hb_pos = pos_of(v);
	walk_mapping(l, v, path, heartbeat_keys, NKEYS(heartbeat_keys), obj);
}

static void top_checkpoint(struct loader *l, yaml_node_t *v, const char *path, void *obj)
{
	(void)obj;
	l->c->checkpoint.pos = pos_of(v);
	walk_mapping(l, v, path, checkpoint_keys, NKEYS(checkpoint_keys),
		     &l->c->checkpoint);
}

static const struct key top_keys[] = {
	{ "orthros", true, top_version },
	{ "machine", true, top_machine },
	{ "slots", true, top_slots },
	{ "general_memory", true, top_general },
	{ "data_disk", true, top_data_disk },
	{ "heartbeat", false, top_heartbeat },
	{ "protected_groups", false, top_groups },
	{ "checkpoint", false, top_checkpoint },
	{ "update_windows", false, top_windows },
};

static void set_defaults(struct orthros_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->platform = CONF_PLATFORM_QEMU;
	c->apic_mode = CONF_APIC_FLAT;
	c->block_size = CONF_DEFAULT_BLOCK_SIZE;
	c->hb_interval_us = CONF_DEFAULT_HB_INTERVAL_US;
	c->hb_timeout_us = CONF_DEFAULT_HB_TIMEOUT_US;
	c->checkpoint.interval_us = CONF_DEFAULT_CKPT_INTERVAL_US;
	c->checkpoint.incremental = true;
	c->checkpoint.max_freeze_us = CONF_DEFAULT_CKPT_MAX_FREEZE_US;
	c->checkpoint.criu_timeout_us = CONF_DEFAULT_CKPT_CRIU_TIMEOUT_US;
	c->checkpoint.keep = CONF_DEFAULT_CKPT_KEEP;
}

static void syntax_error(struct diag *d, const yaml_parser_t *p)
{
	struct conf_pos pos = { (unsigned)p->problem_mark.line + 1,
				(unsigned)p->problem_mark.column + 1 };

	if (p->context)
		diag_error(d, pos, "YAML syntax error: %s %s started at line %u column %u",
			   p->problem ? p->problem : "unknown problem", p->context,
			   (unsigned)p->context_mark.line + 1,
			   (unsigned)p->context_mark.column + 1);
	else
		diag_error(d, pos, "YAML syntax error: %s",
			   p->problem ? p->problem : "unknown problem");
}

/*
 * Aliases are refused before the document is built: they add nothing to a
 * machine description and let a short file expand into a huge tree.
 */
static bool prescan(const char *buf, size_t len, struct diag *d)
{
	yaml_parser_t p;
	yaml_event_t ev;
	int depth = 0;
	int docs = 0;
	bool ok = true;

	if (!yaml_parser_initialize(&p))
		return false;
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	for (;;) {
		if (!yaml_parser_parse(&p, &ev)) {
			syntax_error(d, &p);
			ok = false;
			break;
		}
		struct conf_pos pos = { (unsigned)ev.start_mark.line + 1,
					(unsigned)ev.start_mark.column + 1 };
		yaml_event_type_t type = ev.type;

		switch (type) {
		case YAML_ALIAS_EVENT:
			diag_error(d, pos, "YAML aliases are not allowed in an Orthros configuration; write the value out");
			ok = false;
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if (++depth > CONF_MAX_DEPTH) {
				diag_error(d, pos, "nesting deeper than %d levels", CONF_MAX_DEPTH);
				ok = false;
			}
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			depth--;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++docs > 1) {
				diag_error(d, pos, "more than one YAML document; expected exactly one");
				ok = false;
			}
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
		if (!ok || type == YAML_STREAM_END_EVENT)
			break;
	}
	yaml_parser_delete(&p);
	return ok;
}

int conf_load_buffer(const char *name, const char *buf, size_t len,
		     struct orthros_conf *conf, struct diag *d)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	struct loader l = { &doc, d, conf };

	(void)name;
	set_defaults(conf);
	if (!prescan(buf, len, d))
		return -EINVAL;
	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &doc)) {
		syntax_error(d, &parser);
		yaml_parser_delete(&parser);
		return -EINVAL;
	}
	yaml_node_t *root = yaml_document_get_root_node(&doc);

	if (!root) {
		struct conf_pos none = { 0, 0 };

		diag_error(d, none, "the configuration is empty; expected a mapping with keys orthros, machine, slots, general_memory, data_disk");
	} else {
		walk_mapping(&l, root, "", top_keys, NKEYS(top_keys), conf);
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);

	/* Cross-key rules only make sense on a structurally sound file. */
	if (d->nerrors == 0)
		conf_check(conf, d);
	return d->nerrors ? -EINVAL : 0;
}

int conf_load_file(const char *path, struct orthros_conf *conf, struct diag *d)
{
	struct conf_pos none = { 0, 0 };
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t len;
	int rc;

	if (!f) {
		diag_error(d, none, "cannot open: %s", strerror(errno));
		return -errno;
	}
	buf = malloc(CONF_MAX_FILE_SIZE + 1);
	if (!buf) {
		fclose(f);
		return -ENOMEM;
	}
	len = fread(buf, 1, CONF_MAX_FILE_SIZE + 1, f);
	if (ferror(f)) {
		diag_error(d, none, "cannot read: %s", strerror(errno));
		rc = -EIO;
	} else if (len > CONF_MAX_FILE_SIZE) {
		diag_error(d, none, "file is larger than %u bytes; this is not a machine description",
			   CONF_MAX_FILE_SIZE);
		rc = -EFBIG;
	} else {
		rc = conf_load_buffer(path, buf, len, conf, d);
	}
	free(buf);
	fclose(f);
	return rc;
}
