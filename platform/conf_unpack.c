/* SPDX-License-Identifier: ISC */
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
	/* What a gateway may do (docs/unpack.md, "Trust"). %i stays as
	 * written: it stands for each frame's gateway, not for this id. */
	STR("record_prefix", CONFVAL_STRING, struct conf,
	    unpack_record_prefix, "gw/%i/", 0),
	NUM("allow_retain", CONFVAL_BOOL, CONFVAL_K_INT, struct conf,
	    unpack_allow_retain, "0", 0, 1),
	NUM("max_frame_expanded", CONFVAL_SIZE, CONFVAL_K_U64, struct conf,
	    unpack_max_expanded, "16M", KIB, GIB),
	NUM("gateway_share", CONFVAL_UINT, CONFVAL_K_INT, struct conf,
	    unpack_gateway_share, "25", 1, 100),
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

/*
 * option record_prefix: %i once, followed by '/', so that no gateway's
 * prefix is the start of another's ('gw/%i' would put gateway "a"'s
 * record "b/x" at "gw/ab/x", gateway "ab"'s place); no wildcard, no '$'
 * start, no control character. NULL when good, else why not.
 */
static const char *
conf_unpack_prefix_why(const char *p)
{
	const char *at = strstr(p, "%i");
	size_t i;

	if (strlen(p) > CONF_RECORD_PREFIX_MAX)
		return "is longer than 128 bytes";
	if (at == NULL || strstr(at + 2, "%i") != NULL)
		return "must hold %i (the gateway id) exactly once";
	if (at[2] != '/')
		return "must have '/' right after %i, so that no gateway's "
		    "prefix starts another's";
	if (p[0] == '$')
		return "must not start with '$'";
	for (i = 0; p[i] != '\0'; i++)
		if (p[i] == '+' || p[i] == '#' || (unsigned char)p[i] < 0x20 ||
		    p[i] == 0x7f)
			return "must not contain '+', '#' or a control "
			    "character";
	return NULL;
}

/*
 * option topic: the level that a frame's gateway id must fill. The
 * filter (after a $share/GROUP/ part) must have exactly one '+' level
 * and no '#': the gateway's id is then one known level of the topic its
 * frame came on, which the broker's ACL ties to that gateway. Returns
 * the level (0-based), or -1.
 */
static int
conf_unpack_id_level(const char *filter)
{
	const char *p = filter, *end;
	int level = 0, found = -1;

	if (strncmp(p, "$share/", 7) == 0 &&
	    (p = strchr(p + 7, '/')) != NULL)
		p++;
	for (; p != NULL; p = end != NULL ? end + 1 : NULL, level++) {
		end = strchr(p, '/');
		if (p[0] == '#' || (p[0] == '+' && found >= 0))
			return -1;
		if (p[0] == '+')
			found = level;
	}
	return found;
}

/* The checks that span options of the section s, as errors in cx. */
static void
conf_unpack_check(struct confval_ctx *cx, struct conf *c,
    const struct uci_section *s)
{
	const char *why;

	if (c->unpack_record_prefix != NULL &&
	    (why = conf_unpack_prefix_why(c->unpack_record_prefix)) != NULL)
		confval_error(cx, conf_option_line(s, "record_prefix"),
		    "option record_prefix: '%s' %s", c->unpack_record_prefix,
		    why);
	if (c->unpack_topic != NULL &&
	    (c->unpack_id_level = conf_unpack_id_level(c->unpack_topic)) < 0)
		confval_error(cx, conf_option_line(s, "topic"), "option topic: "
		    "'%s' must have exactly one '+' level, which a frame's "
		    "gateway id must fill, and no '#' (docs/unpack.md, "
		    "\"Trust\")", c->unpack_topic);
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
	conf_unpack_check(cx, c, s);
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
