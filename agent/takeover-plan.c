// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The early takeover's plan from the CIB (takeover-plan.h).  libxml2 is
 * what Pacemaker itself parses the CIB with; the walk below reads only
 * the configuration section and never trusts a value to fit: anything
 * too long, or of a shape the early takeover does not know, is left to
 * Pacemaker rather than half-understood.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "takeover-plan.h"
#include "xml-lib.h"

#define MAX_SET 32

static bool is(const xmlNode *n, const char *name)
{
	return n && n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, name);
}

static xmlNode *child(xmlNode *n, const char *name)
{
	for (xmlNode *c = n ? n->children : NULL; c; c = c->next)
		if (is(c, name))
			return c;
	return NULL;
}

/*
 * Copy attribute @name of @n; false if absent or too long.  Its value is
 * the text nodes below the attribute (the parser has already replaced the
 * predefined entities; a CIB has no others and no DTD to declare them).
 */
static bool prop(xmlNode *n, const char *name, char *out, size_t len)
{
	for (xmlAttr *a = n ? n->properties : NULL; a; a = a->next) {
		size_t used = 0;

		if (!a->name || strcmp((const char *)a->name, name))
			continue;
		for (xmlNode *t = a->children; t; t = t->next) {
			size_t l;

			if (t->type != XML_TEXT_NODE || !t->content)
				return false;
			l = strlen((const char *)t->content);
			if (l >= len - used)
				return false;
			memcpy(out + used, t->content, l);
			used += l;
		}
		out[used] = '\0';
		return true;
	}
	return false;
}

static bool prop_is(xmlNode *n, const char *name, const char *want)
{
	char v[TK_NAME_MAX];

	return prop(n, name, v, sizeof(v)) && !strcmp(v, want);
}

/*
 * nvpair @name in the rule-less @set children of @n (instance_attributes
 * or meta_attributes).  1 found, 0 absent, -1 present but too long.
 */
static int nv(xmlNode *n, const char *set, const char *name, char *out, size_t len)
{
	for (xmlNode *s = n ? n->children : NULL; s; s = s->next) {
		if (!is(s, set) || child(s, "rule"))
			continue;
		for (xmlNode *p = s->children; p; p = p->next) {
			if (!is(p, "nvpair") || !prop_is(p, "name", name))
				continue;
			return prop(p, "value", out, len) ? 1 : -1;
		}
	}
	return 0;
}

static bool truthy(const char *v)
{
	return !strcasecmp(v, "true") || !strcasecmp(v, "on") || !strcasecmp(v, "yes") ||
	       !strcmp(v, "1");
}

static bool infinite(const char *score)
{
	if (*score == '+')
		score++;
	return !strcasecmp(score, "INFINITY") || !strcasecmp(score, "inf");
}

static void left(struct tk_plan *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void left(struct tk_plan *p, const char *fmt, ...)
{
	size_t used = strlen(p->left);
	va_list ap;

	if (used + 3 >= sizeof(p->left))
		return;
	if (used)
		strcpy(p->left + used, "; "), used += 2;
	va_start(ap, fmt);
	vsnprintf(p->left + used, sizeof(p->left) - used, fmt, ap);
	va_end(ap);
}

/* The resource (primitive, group or clone) with id @id, at any depth. */
static xmlNode *find_rsc(xmlNode *n, const char *id)
{
	for (xmlNode *c = n ? n->children : NULL; c; c = c->next) {
		if (!is(c, "primitive") && !is(c, "group") && !is(c, "clone") && !is(c, "bundle"))
			continue;
		if (prop_is(c, "id", id))
			return c;
		xmlNode *in = find_rsc(c, id);

		if (in)
			return in;
	}
	return NULL;
}

static bool is_agent(xmlNode *prim, const char *provider, const char *type)
{
	return prop_is(prim, "class", "ocf") && prop_is(prim, "provider", provider) &&
	       prop_is(prim, "type", type);
}

/* The promotable clone holding ocf:orthros:partition, into @id. */
static bool partition_clone(xmlNode *rscs, char *id, size_t len)
{
	for (xmlNode *c = rscs->children; c; c = c->next) {
		xmlNode *prim = child(c, "primitive");
		char v[16];

		if (!is(c, "clone") || !prim || !is_agent(prim, "orthros", "partition"))
			continue;
		/* Older CIBs say so with a master element instead. */
		if (nv(c, "meta_attributes", "promotable", v, sizeof(v)) == 1 && truthy(v))
			return prop(c, "id", id, len);
	}
	for (xmlNode *c = rscs->children; c; c = c->next) {
		xmlNode *prim = child(c, "primitive");

		if (is(c, "master") && prim && is_agent(prim, "orthros", "partition"))
			return prop(c, "id", id, len);
	}
	return false;
}

struct set {
	unsigned int n;
	char id[MAX_SET][TK_NAME_MAX];
};

static bool in_set(const struct set *s, const char *id)
{
	for (unsigned int i = 0; i < s->n; i++)
		if (!strcmp(s->id[i], id))
			return true;
	return false;
}

/* Everything kept with the Promoted instance of @clone, transitively. */
static void follow(xmlNode *cons, const char *clone, struct set *s, struct tk_plan *p)
{
	bool grew = true;

	while (grew) {
		grew = false;
		for (xmlNode *c = cons ? cons->children : NULL; c; c = c->next) {
			char rsc[TK_NAME_MAX], with[TK_NAME_MAX], score[32], role[16] = "";

			if (!is(c, "rsc_colocation") || !prop(c, "score", score, sizeof(score)) ||
			    !infinite(score))
				continue;
			if (!prop(c, "rsc", rsc, sizeof(rsc)) || !prop(c, "with-rsc", with, sizeof(with)))
				continue;	/* resource sets: not followed */
			prop(c, "with-rsc-role", role, sizeof(role));
			bool to_active = !strcmp(with, clone) &&
					 (!strcmp(role, "Promoted") || !strcmp(role, "Master"));

			if (in_set(s, rsc) || (!to_active && !in_set(s, with)))
				continue;
			if (s->n == MAX_SET) {
				left(p, "more than %d resources follow the Active", MAX_SET);
				return;
			}
			strcpy(s->id[s->n++], rsc);
			grew = true;
		}
	}
}

/*
 * A member kept (INFINITY) with a resource outside the set: Pacemaker
 * places that one, and the member waits for it.  True if any.
 */
static bool needs_outside(xmlNode *cons, const char *clone, const struct set *s,
			  struct tk_plan *p)
{
	bool any = false;

	for (xmlNode *c = cons ? cons->children : NULL; c; c = c->next) {
		char rsc[TK_NAME_MAX], with[TK_NAME_MAX], score[32];

		if (!is(c, "rsc_colocation") || !prop(c, "score", score, sizeof(score)) ||
		    !infinite(score) || !prop(c, "rsc", rsc, sizeof(rsc)) ||
		    !prop(c, "with-rsc", with, sizeof(with)))
			continue;
		if (in_set(s, rsc) && !in_set(s, with) && strcmp(with, clone)) {
			left(p, "%s: needs %s, which Pacemaker places", rsc, with);
			any = true;
		}
	}
	return any;
}

static int parse_prefix(const char *v, unsigned int *out)
{
	char *end;
	unsigned long n = strtoul(v, &end, 10);

	if (end == v || *end || n > 32)
		return -1;
	*out = (unsigned int)n;
	return 0;
}

/*
 * The agent's cgroup parameter: auto is orthros/GROUP (orthros/RESOURCE
 * without a group), kept only where a cgroup2 hierarchy is mounted; empty
 * or a false boolean is none.  A name is relative, without "..": the
 * agent refuses anything else, so the early start does too.
 */
static bool cgroup_of(const char *v, const char *id, struct tk_step *st)
{
	st->u.svc.cgroup_auto = !strcasecmp(v, "auto");
	if (st->u.svc.cgroup_auto) {
		snprintf(st->u.svc.cgroup, sizeof(st->u.svc.cgroup), "orthros/%s",
			 st->u.svc.group[0] ? st->u.svc.group : id);
		return true;
	}
	if (!v[0] || !strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcasecmp(v, "off") ||
	    !strcmp(v, "0"))
		return true;
	if (v[0] == '/' || strstr(v, "..") || strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./-") != strlen(v))
		return false;
	snprintf(st->u.svc.cgroup, sizeof(st->u.svc.cgroup), "%s", v);
	return true;
}

/* One primitive into a step; false (and a note in p->left) if it cannot be. */
static bool step_of(xmlNode *prim, const char *id, struct tk_step *st, struct tk_plan *p)
{
	char v[16], lazy[16] = "", pidns[16] = "auto", cg[TK_PATH_MAX] = "auto";
	int r = 0;

	memset(st, 0, sizeof(*st));
	snprintf(st->rsc, sizeof(st->rsc), "%s", id);
	if (is_agent(prim, "heartbeat", "Filesystem")) {
		st->kind = TK_MOUNT;
		if (nv(prim, "instance_attributes", "device", st->u.mount.device,
		       sizeof(st->u.mount.device)) != 1 ||
		    nv(prim, "instance_attributes", "directory", st->u.mount.directory,
		       sizeof(st->u.mount.directory)) != 1 ||
		    nv(prim, "instance_attributes", "fstype", st->u.mount.fstype,
		       sizeof(st->u.mount.fstype)) != 1 ||
		    nv(prim, "instance_attributes", "options", st->u.mount.options,
		       sizeof(st->u.mount.options)) < 0) {
			left(p, "%s: device, directory and fstype are needed", id);
			return false;
		}
		if (st->u.mount.device[0] != '/' || st->u.mount.directory[0] != '/') {
			left(p, "%s: not a block device on a directory", id);
			return false;
		}
		return true;
	}
	if (is_agent(prim, "heartbeat", "IPaddr2")) {
		st->kind = TK_ADDRESS;
		if (nv(prim, "instance_attributes", "ip", st->u.addr.ip, sizeof(st->u.addr.ip)) != 1 ||
		    nv(prim, "instance_attributes", "nic", st->u.addr.nic, sizeof(st->u.addr.nic)) != 1 ||
		    nv(prim, "instance_attributes", "cidr_netmask", v, sizeof(v)) != 1 ||
		    parse_prefix(v, &st->u.addr.prefix)) {
			/* IPaddr2 can guess the nic and mask from routes; we don't. */
			left(p, "%s: ip, nic and cidr_netmask are needed", id);
			return false;
		}
		return true;
	}
	if (is_agent(prim, "orthros", "protected")) {
		st->kind = TK_SERVICE;
		strcpy(st->u.svc.logfile, "/dev/null");
		strcpy(st->u.svc.region, "auto");
		r |= nv(prim, "instance_attributes", "command", st->u.svc.command,
			sizeof(st->u.svc.command)) != 1;
		r |= nv(prim, "instance_attributes", "ports", st->u.svc.ports,
			sizeof(st->u.svc.ports)) < 0;
		r |= nv(prim, "instance_attributes", "logfile", st->u.svc.logfile,
			sizeof(st->u.svc.logfile)) < 0;
		r |= nv(prim, "instance_attributes", "group", st->u.svc.group,
			sizeof(st->u.svc.group)) < 0;
		r |= nv(prim, "instance_attributes", "region", st->u.svc.region,
			sizeof(st->u.svc.region)) < 0;
		r |= nv(prim, "instance_attributes", "lazy", lazy, sizeof(lazy)) < 0;
		r |= nv(prim, "instance_attributes", "pid_namespace", pidns, sizeof(pidns)) < 0;
		r |= nv(prim, "instance_attributes", "cgroup", cg, sizeof(cg)) < 0;
		r |= nv(prim, "instance_attributes", "data_paths", st->u.svc.data_paths,
			sizeof(st->u.svc.data_paths)) < 0;
		st->u.svc.lazy = truthy(lazy);
		/* auto: on for a group that is checkpointed, as the agent has it. */
		st->u.svc.pidns = strcasecmp(pidns, "auto") ? truthy(pidns) : st->u.svc.group[0] != '\0';
		if (r || st->u.svc.command[0] != '/') {
			left(p, "%s: command (an absolute path) is needed", id);
			return false;
		}
		if (!cgroup_of(cg, id, st)) {
			left(p, "%s: cgroup '%s' is not a relative cgroup path", id, cg);
			return false;
		}
		return true;
	}
	left(p, "%s: agent type not taken over early", id);
	return false;
}

/*
 * A -INFINITY location of @id on @self ('crm resource ban' writes one):
 * the operator has said no; so do we.  Rule-based locations are not
 * evaluated, which errs the same way: left to Pacemaker.
 */
static bool banned(xmlNode *cons, const char *id, const char *self)
{
	for (xmlNode *c = cons ? cons->children : NULL; c; c = c->next) {
		char score[32];

		if (!is(c, "rsc_location") || !prop_is(c, "rsc", id))
			continue;
		if (child(c, "rule"))
			return true;
		if (prop_is(c, "node", self) && prop(c, "score", score, sizeof(score)) &&
		    score[0] == '-' && infinite(score + 1))
			return true;
	}
	return false;
}

/* A member the cluster means to run, and manages. */
static bool managed(xmlNode *r, const char *id, struct tk_plan *p)
{
	char v[16];

	if (nv(r, "meta_attributes", "target-role", v, sizeof(v)) == 1 &&
	    (!strcasecmp(v, "Stopped") || !strcasecmp(v, "Unpromoted") || !strcasecmp(v, "Slave"))) {
		left(p, "%s: target-role %s", id, v);
		return false;
	}
	if (nv(r, "meta_attributes", "is-managed", v, sizeof(v)) == 1 && !truthy(v)) {
		left(p, "%s: unmanaged", id);
		return false;
	}
	return true;
}

static int fail(char *why, size_t len, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(char *why, size_t len, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return rc;
}

/* Does constraint end @id name candidate @c (itself, or the group it is in)? */
static bool names(const char *id, const struct tk_step *c, const char *in)
{
	return !strcmp(id, c->rsc) || !strcmp(id, in);
}

/*
 * The services in the order Pacemaker would start them: the sequence in
 * which the colocations were found, changed only where a start-to-start
 * rsc_order between two of them (or their groups) says otherwise, and a
 * group's members one after another; @before[i][j]: candidate i must
 * answer before j starts.  false for a cycle: Pacemaker would start none
 * of them.
 */
static bool order_services(xmlNode *cons, const struct tk_step *cand,
			   char (*group)[TK_NAME_MAX], unsigned int nc, unsigned int *out,
			   bool (*before)[TK_MAX_STEPS])
{
	bool done[TK_MAX_STEPS] = { false };
	unsigned int n = 0, want = 0;

	for (unsigned int i = 0; i < nc; i++)
		want += cand[i].kind == TK_SERVICE;
	for (xmlNode *c = cons ? cons->children : NULL; c; c = c->next) {
		char first[TK_NAME_MAX], then[TK_NAME_MAX], act[16];

		if (!is(c, "rsc_order") || !prop(c, "first", first, sizeof(first)) ||
		    !prop(c, "then", then, sizeof(then)) || !first[0] || !then[0])
			continue;	/* resource sets: not read */
		if ((prop(c, "first-action", act, sizeof(act)) && strcmp(act, "start")) ||
		    (prop(c, "then-action", act, sizeof(act)) && strcmp(act, "start")))
			continue;
		for (unsigned int i = 0; i < nc; i++)
			for (unsigned int j = 0; j < nc; j++)
				if (i != j && cand[i].kind == TK_SERVICE && cand[j].kind == TK_SERVICE &&
				    names(first, &cand[i], group[i]) && names(then, &cand[j], group[j]))
					before[i][j] = true;
	}
	for (unsigned int i = 0; i < nc; i++)
		for (unsigned int j = i + 1; j < nc; j++)
			if (group[i][0] && !strcmp(group[i], group[j]))
				before[i][j] = true;
	/* Kahn's, taking the earliest found among those free to start. */
	while (n < want) {
		unsigned int pick = nc;

		for (unsigned int j = 0; j < nc && pick == nc; j++) {
			bool free_to = cand[j].kind == TK_SERVICE && !done[j];

			for (unsigned int i = 0; i < nc && free_to; i++)
				free_to = !before[i][j] || done[i];
			if (free_to)
				pick = j;
		}
		if (pick == nc)
			return false;
		done[pick] = true;
		out[n++] = pick;
	}
	return true;
}

static int build(xmlNode *cfg, const char *self, struct tk_plan *p, char *why, size_t wl)
{
	xmlNode *rscs = child(cfg, "resources"), *nodes = child(cfg, "nodes");
	char clone[TK_NAME_MAX], v[16];
	struct tk_step cand[TK_MAX_STEPS];
	char group[TK_MAX_STEPS][TK_NAME_MAX];	/* the group a candidate is in, or "" */
	unsigned int nc = 0, others = 0, order[TK_MAX_STEPS], at[TK_MAX_STEPS];
	bool before[TK_MAX_STEPS][TK_MAX_STEPS] = { { false } };
	bool found = false;
	struct set s = { 0 };

	if (!rscs || !nodes)
		return fail(why, wl, -EINVAL, "no resources or nodes section");
	if (nv(child(cfg, "crm_config"), "cluster_property_set", "maintenance-mode", v,
	       sizeof(v)) == 1 && truthy(v))
		return fail(why, wl, -EPERM, "the cluster is in maintenance mode");
	for (xmlNode *n = nodes->children; n; n = n->next) {
		char uname[TK_NAME_MAX];

		if (!is(n, "node") || !prop(n, "uname", uname, sizeof(uname)))
			continue;
		if (!strcmp(uname, self)) {
			if ((nv(n, "instance_attributes", "standby", v, sizeof(v)) == 1 && truthy(v)) ||
			    (nv(n, "instance_attributes", "maintenance", v, sizeof(v)) == 1 && truthy(v)))
				return fail(why, wl, -EPERM, "node %s is in standby or maintenance", self);
			found = true;
			continue;
		}
		strcpy(p->peer, uname);
		others++;
	}
	if (!found)
		return fail(why, wl, -EPERM, "%s is not a node of this cluster", self);
	if (others > 1)
		return fail(why, wl, -EPERM, "more than two nodes: the dead one is not known");
	if (!others)
		return fail(why, wl, -EPERM, "no peer node in the CIB");
	if (!partition_clone(rscs, clone, sizeof(clone)))
		return fail(why, wl, -ENOENT, "no promotable ocf:orthros:partition clone");
	follow(child(cfg, "constraints"), clone, &s, p);

	bool blocked = needs_outside(child(cfg, "constraints"), clone, &s, p);

	for (unsigned int i = 0; i < s.n; i++) {
		xmlNode *r = find_rsc(rscs, s.id[i]);

		if (!r) {
			left(p, "%s: no such resource", s.id[i]);
			blocked = true;
			continue;
		}
		/* What Pacemaker will not start, it will not start things after either. */
		if (!managed(r, s.id[i], p)) {
			blocked = true;
			continue;
		}
		if (banned(child(cfg, "constraints"), s.id[i], self)) {
			left(p, "%s: a location constraint keeps it off %s", s.id[i], self);
			blocked = true;
			continue;
		}
		/* A group's members start in order; take them in order. */
		xmlNode *first = is(r, "group") ? r->children : r;

		for (xmlNode *m = first; m; m = is(r, "group") ? m->next : NULL) {
			char id[TK_NAME_MAX];

			if (is(r, "group") && !is(m, "primitive"))
				continue;
			if (!is(m, "primitive") || !prop(m, "id", id, sizeof(id))) {
				left(p, "%s: not a primitive", s.id[i]);
				blocked = true;
				break;
			}
			if (m != r && !managed(m, id, p)) {
				blocked = true;
				continue;
			}
			if (nc == TK_MAX_STEPS) {
				left(p, "more than %d steps", TK_MAX_STEPS);
				blocked = true;
				break;
			}
			if (step_of(m, id, &cand[nc], p)) {
				strcpy(group[nc], m != r ? s.id[i] : "");
				nc++;
			} else {
				blocked = true;
			}
			if (!is(r, "group"))
				break;
		}
	}
	/* Phases: disks, then addresses, then (if nothing was left) services. */
	for (int k = TK_MOUNT; k < TK_SERVICE; k++)
		for (unsigned int i = 0; i < nc; i++)
			if (cand[i].kind == (enum tk_kind)k)
				p->step[p->n++] = cand[i];
	if (!blocked && !order_services(child(cfg, "constraints"), cand, group, nc, order, before)) {
		left(p, "the services' rsc_order constraints form a cycle");
		blocked = true;
	}
	for (unsigned int i = 0, k = 0; i < nc; i++) {
		if (cand[i].kind != TK_SERVICE)
			continue;
		if (blocked) {
			left(p, "%s: not started early, a resource it may need is Pacemaker's", cand[i].rsc);
			continue;
		}
		at[order[k]] = p->n;
		p->step[p->n] = cand[order[k]];
		p->step[p->n].after = 0;
		/* In order: whoever it waits for already has its place. */
		for (unsigned int j = 0; j < nc; j++)
			if (before[j][order[k]])
				p->step[p->n].after |= 1u << at[j];
		p->n++;
		k++;
	}
	return 0;
}

int tk_plan_from_cib(const char *xml, size_t len, const char *self,
		     struct tk_plan *plan, char *why, size_t whylen)
{
	const struct xml_lib *lib;
	xmlDoc *doc;
	xmlNode *root, *cfg;
	int rc;

	memset(plan, 0, sizeof(*plan));
	if (why && whylen)
		why[0] = '\0';
	if (!self || !*self || strlen(self) >= sizeof(plan->self) || len > (size_t)INT32_MAX)
		return fail(why, whylen, -EINVAL, "bad node name or size");
	strcpy(plan->self, self);
	/* No network, no entities expanded, no DTD: a CIB needs none. */
	lib = xml_lib(why, whylen);
	if (!lib)
		return -ENOSYS;
	doc = lib->read_memory(xml, (int)len, "cib.xml", NULL,
			       XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (!doc)
		return fail(why, whylen, -EINVAL, "not well-formed XML");
	root = lib->root(doc);
	cfg = is(root, "cib") ? child(root, "configuration") : NULL;
	rc = cfg ? build(cfg, self, plan, why, whylen) :
		   fail(why, whylen, -EINVAL, "no cib/configuration element");
	lib->free_doc(doc);
	if (rc) {
		char keep[TK_NAME_MAX];

		strcpy(keep, plan->self);
		memset(plan, 0, sizeof(*plan));
		strcpy(plan->self, keep);
	}
	return rc;
}
