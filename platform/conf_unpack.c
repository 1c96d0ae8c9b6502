/*
 * conf_unpack: the schema of the unpacker's file, one config unpack
 * section holding both the daemon's options and its broker's (see
 * docs/config.md). The result is a struct conf with role
 * CONF_ROLE_UNPACK: the pipeline runs the unpacker as a relay with one
 * link, whose one route takes batch frames in (platform/conf.h).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "conf_schema.h"
#include "confval.h"
#include "uci.h"

#define CONF_UNPACK_ID	"unpack"	/* the id when the section has no name */

static const struct confval_policy unpack_policy[] = {
	BROKER_ADDR(struct conf, central., "127.0.0.1:1883", CONFVAL_F_LIST),
	STR("topic", CONFVAL_FILTER, struct conf, unpack_topic,
	    "pushrelay/+/batch", 0),
	NUM("qos", CONFVAL_UINT, CONFVAL_K_INT, struct conf, unpack_qos, "1",
	    0, 2),
	BROKER_ROWS(struct conf, central., "pushrelay-unpack", "60", "100",
	    "16400K"),
	/* The central broker is normally on the same site: TLS is opt-in. */
	TLS_ROWS(struct conf, central., "0"),
	DAEMON_ROWS("/var/lib/pushrelay/unpack.db", "1G",
	    "/var/run/pushrelay-unpack.sock"),
};

/* The one section, or NULL after reporting why there is not exactly one. */
static const struct uci_section *
conf_unpack_section(struct confval_ctx *cx, const struct uci_file *uf)
{
	const struct uci_section *s, *found = NULL;
	size_t i;

	for (i = 0; i < uf->n_sections; i++) {
		s = &uf->sections[i];
		if (strcmp(s->type, "unpack") != 0)
			confval_error(cx, s->line, "section %s: not allowed "
			    "in an unpacker's file (it has a config unpack "
			    "section; the relay's sections go in its own "
			    "file)", s->type);
		else if (found != NULL)
			confval_error(cx, s->line, "section unpack: only one "
			    "is allowed (the first is at line %d)",
			    found->line);
		else
			found = s;
	}
	return found;
}

/* The one route: frames in from the filter, unpacked, nothing mapped. */
static void
conf_unpack_route(struct confval_ctx *cx, struct conf *c, int line)
{
	struct conf_route *r;

	if ((c->downlink = calloc(1, sizeof(*c->downlink))) == NULL ||
	    (c->uplink = calloc(1, sizeof(*c->uplink))) == NULL) {
		cx->nomem = true;
		return;
	}
	r = &c->downlink[0];
	r->line = line;
	r->topic = strdup(c->unpack_topic != NULL ? c->unpack_topic : "");
	r->local_prefix = strdup("");
	r->remote_prefix = strdup("");
	r->qos = c->unpack_qos;
	r->mode = CONF_MODE_UNPACK;
	c->n_downlink = 1;
	if (r->topic == NULL || r->local_prefix == NULL ||
	    r->remote_prefix == NULL)
		cx->nomem = true;
}

void
conf_unpack_load(struct confval_ctx *cx, struct conf *c,
    const struct uci_file *uf)
{
	const struct uci_section *s = conf_unpack_section(cx, uf);
	const char *id = CONF_UNPACK_ID;

	c->role = CONF_ROLE_UNPACK;
	if (s == NULL)
		return;
	if (s->name != NULL && confval_check(CONFVAL_ID, s->name) == NULL)
		id = s->name;
	if ((s->name != NULL && (c->name = strdup(s->name)) == NULL) ||
	    (c->id = strdup(id)) == NULL) {
		cx->nomem = true;
		return;
	}
	cx->id = c->id;
	confval_apply(cx, unpack_policy, NELEM(unpack_policy), s, "unpack", c);
	c->central.line = s->line;
	if ((c->status_topic = strdup("")) == NULL)
		cx->nomem = true;
	conf_check_broker(cx, &c->central, s, true);
	conf_check_user(cx, c, s);
	conf_unpack_route(cx, c, s->line);
}

void
conf_unpack_free(struct conf *c)
{
	confval_free(unpack_policy, NELEM(unpack_policy), c);
	free(c->id);
	free(c->status_topic);
}

void
conf_unpack_print(const struct conf *c, FILE *f)
{
	fprintf(f, "config unpack '%s'\n", c->name != NULL ? c->name : c->id);
	confval_print(f, unpack_policy, NELEM(unpack_policy), c);
}
