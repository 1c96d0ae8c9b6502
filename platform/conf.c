/* SPDX-License-Identifier: ISC */
/*
 * conf: the pushrelay configuration schema; see conf.h.
 *
 * Every option is one row of a policy table (name, type, default, range,
 * where it goes) that platform/confval applies to a UCI section, in the
 * manner of blobmsg_policy tables in procd. Defaults are written as they
 * would be in a file and go through the same checks as a written value.
 * This file adds what spans options or sections: which sections exist and
 * how many, the relay id that %i expands to, reconnect bounds, prefix plus
 * topic, and routes that would loop without MQTT 5 No Local.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "conf_schema.h"
#include "confval.h"
#include "topic.h"
#include "uci.h"

#define CONF_FILE_MAX	(1024 * 1024)	/* a larger file is refused */

const char *const conf_store_full_names[] = {
	[CONF_DROP_OLDEST] = "drop_oldest", [CONF_DROP_NEWEST] = "drop_newest",
	NULL,
};
const char *const conf_sync_names[] = {
	[CONF_SYNC_OFF] = "off", [CONF_SYNC_NORMAL] = "normal",
	[CONF_SYNC_FULL] = "full", NULL,
};
const char *const conf_log_level_names[] = {
	[CONF_LOG_ERR] = "error", [CONF_LOG_WARN] = "warn",
	[CONF_LOG_INFO] = "info", [CONF_LOG_DEBUG] = "debug", NULL,
};
static const char *const mode_names[] = {
	[CONF_MODE_RAW] = "raw", [CONF_MODE_BATCH] = "batch", NULL,
};

static const struct confval_policy relay_policy[] = {
	STR("id", CONFVAL_ID, struct conf, id, NULL, CONFVAL_F_REQUIRED),
	DAEMON_ROWS("/var/lib/pushrelay/queue.db", "64M",
	    "/var/run/pushrelay.sock"),
	STR("status_topic", CONFVAL_TOPIC, struct conf, status_topic,
	    "pushrelay/%i/status", CONFVAL_F_NONE),
	NUM("downlink_reserve", CONFVAL_UINT, CONFVAL_K_INT, struct conf,
	    downlink_reserve, "10", 0, 90),
	NUM("max_wan_rate", CONFVAL_SIZE, CONFVAL_K_U64, struct conf,
	    max_wan_rate, "0", 0, 1024 * GIB),
	NUM("daily_wan_quota", CONFVAL_SIZE, CONFVAL_K_U64, struct conf,
	    daily_wan_quota, "0", 0, 1024 * 1024 * GIB),
	/* Read by the OpenWrt init script, not by the relay (docs/openwrt.md). */
	NUM("enabled", CONFVAL_BOOL, CONFVAL_K_INT, struct conf, enabled, "1",
	    0, 1),
	STR("wan_interface", CONFVAL_STRING, struct conf, wan_interface,
	    "wan wan6", 0),
};

static const struct confval_policy local_policy[] = {
	BROKER_ADDR(struct conf_broker, , "127.0.0.1:1883", 0),
	BROKER_ROWS(struct conf_broker, , "pushrelay-%i", "30", "1024",
	    "256K"),
};

static const struct confval_policy central_policy[] = {
	BROKER_ADDR(struct conf_broker, , NULL, CONFVAL_F_REQUIRED |
	    CONFVAL_F_LIST),
	BROKER_ROWS(struct conf_broker, , "pushrelay-%i", "60", "1024",
	    "256K"),
	TLS_ROWS(struct conf_broker, , "1"),
	NUM("topic_alias_max", CONFVAL_UINT, CONFVAL_K_INT, struct conf_broker,
	    topic_alias_max, "64", 0, 65535),
};

#define ROUTE_HEAD \
	STR("topic", CONFVAL_FILTER, struct conf_route, topic, NULL, \
	    CONFVAL_F_REQUIRED), \
	STR("local_prefix", CONFVAL_PREFIX, struct conf_route, local_prefix, \
	    "", CONFVAL_F_NONE), \
	STR("remote_prefix", CONFVAL_PREFIX, struct conf_route, \
	    remote_prefix, "gw/%i/", CONFVAL_F_NONE), \
	NUM("qos", CONFVAL_UINT, CONFVAL_K_INT, struct conf_route, qos, "1", \
	    0, 2)
#define ROUTE_TTL \
	NUM("ttl", CONFVAL_UINT, CONFVAL_K_U32, struct conf_route, ttl_s, \
	    "0", 0, UINT32_MAX)

static const char *const compress_names[] = {
	[CONF_COMPRESS_LZ4] = "lz4", [CONF_COMPRESS_NONE] = "none", NULL,
};

static const struct confval_policy batch_policy[] = {
	STR("topic", CONFVAL_TOPIC, struct conf_batch, topic,
	    "pushrelay/%i/batch", 0),
	NUM("max_messages", CONFVAL_UINT, CONFVAL_K_INT, struct conf_batch,
	    max_messages, "1000", 1, 100000),
	NUM("max_bytes", CONFVAL_SIZE, CONFVAL_K_INT, struct conf_batch,
	    max_bytes, "65536", 256, 4 * 1024 * 1024),
	NUM("linger_ms", CONFVAL_UINT, CONFVAL_K_INT, struct conf_batch,
	    linger_ms, "1000", 0, 60000),
	NUM("inflight_frames", CONFVAL_UINT, CONFVAL_K_INT, struct conf_batch,
	    inflight_frames, "4", 1, 1024),
	ENUM("compress", struct conf_batch, compress, "lz4", compress_names, 0),
	NUM("qos", CONFVAL_UINT, CONFVAL_K_INT, struct conf_batch, qos, "1",
	    0, 2),
	NUM("frame_version", CONFVAL_UINT, CONFVAL_K_INT, struct conf_batch,
	    frame_version, "2", 1, 2),
	NUM("dictionary_bytes", CONFVAL_SIZE, CONFVAL_K_INT, struct conf_batch,
	    dictionary_bytes, "32K", 0, 65536),
	NUM("dictionary_rotate", CONFVAL_SIZE, CONFVAL_K_INT,
	    struct conf_batch, dictionary_rotate, "16M", 65536,
	    1024 * 1024 * 1024),
	NUM("content_type", CONFVAL_UINT, CONFVAL_K_INT, struct conf_batch,
	    content_type, "0", 0, 1),
};

static const struct confval_policy uplink_policy[] = {
	ROUTE_HEAD,
	ENUM("mode", struct conf_route, mode, "batch", mode_names, 0),
	ROUTE_TTL,
	NUM("priority", CONFVAL_UINT, CONFVAL_K_INT, struct conf_route,
	    priority, "0", 0, 255),
	/* No default: without it the route follows batch linger_ms. */
	NUM("max_delay_ms", CONFVAL_UINT, CONFVAL_K_INT, struct conf_route,
	    max_delay_ms, NULL, 0, 3600000),
};

static const struct confval_policy downlink_policy[] = {
	ROUTE_HEAD,
	ROUTE_TTL,
	NUM("max_rate", CONFVAL_UINT, CONFVAL_K_U32, struct conf_route,
	    max_rate, "0", 0, 1000000),
};

static const char *const conf_errstr[] = {
	"success",
	"cannot read the configuration file",
	"syntax error in the configuration",
	"invalid configuration",
	"out of memory",
};
_Static_assert(NELEM(conf_errstr) == -CONF_ERR_NOMEM + 1,
    "conf_errstr must match enum conf_err");

const char *
conf_strerror(int err)
{
	if (err > 0 || err < CONF_ERR_NOMEM)
		return "unknown error";
	return conf_errstr[-err];
}

int
conf_option_line(const struct uci_section *s, const char *name)
{
	const struct uci_option *o = uci_find_option(s, name);

	if (o != NULL)
		return o->line;
	return s != NULL ? s->line : 0;
}

void
conf_tls_view(const struct conf_tls *t, struct tls_conf *out)
{
	memset(out, 0, sizeof(*out));
	out->ca_file = t->ca_file;
	out->ca_path = t->ca_path;
	out->cert_file = t->cert_file;
	out->key_file = t->key_file;
	out->server_name = t->server_name;
	out->alpn = t->alpn;
	out->n_alpn = t->n_alpn;
	out->psk_identity = t->psk_identity;
	out->psk = t->psk;
	out->pin_sha256 = t->pin_sha256;
	out->n_pin_sha256 = t->n_pin_sha256;
	out->handshake_timeout_s = t->handshake_timeout;
	out->ciphers = t->ciphers;
	out->n_ciphers = t->n_ciphers;
}

struct tls_check_arg {
	struct confval_ctx *cx;
	const struct uci_section *s;
};

/* Names the line of the option (or of its list value) a TLS problem is in. */
static void
check_tls_one(void *arg, enum tls_option opt, size_t index, const char *text)
{
	struct tls_check_arg *a = arg;
	const struct uci_option *o;
	int line = a->s != NULL ? a->s->line : 0;

	o = opt != TLS_OPT_NONE ? uci_find_option(a->s, tls_option_name(opt)) :
	    NULL;
	if (o != NULL)
		line = index < o->n_values ? o->values[index].line : o->line;
	if (opt == TLS_OPT_NONE)
		confval_error(a->cx, line, "section broker: %s", text);
	else
		confval_error(a->cx, line, "option %s: %s",
		    tls_option_name(opt), text);
}

void
conf_check_tls(struct confval_ctx *cx, const struct conf_broker *b,
    const struct uci_section *s)
{
	struct tls_check_arg a = { cx, s };
	struct tls_conf tc;

	if (!b->tls.enabled)
		return;
	conf_tls_view(&b->tls, &tc);
	tls_check_conf(&tc, check_tls_one, &a);
}

static void
load_broker(struct confval_ctx *cx, struct conf_broker *b,
    const struct uci_section *s, bool central)
{
	if (central)
		confval_apply(cx, central_policy, NELEM(central_policy), s,
		    "broker", b);
	else
		confval_apply(cx, local_policy, NELEM(local_policy), s,
		    "broker", b);
	b->line = s != NULL ? s->line : 0;
	conf_check_broker(cx, b, s, central && s != NULL);
}

void
conf_check_broker(struct confval_ctx *cx, const struct conf_broker *b,
    const struct uci_section *s, bool tls)
{
	if (b->reconnect_min >= 1 && b->reconnect_max >= 1 &&
	    b->reconnect_max < b->reconnect_min)
		confval_error(cx, conf_option_line(s, "reconnect_max"),
		    "option reconnect_max: '%d' is less than reconnect_min "
		    "'%d'", b->reconnect_max, b->reconnect_min);
	if (tls)
		conf_check_tls(cx, b, s);
}

void
conf_check_user(struct confval_ctx *cx, const struct conf *c,
    const struct uci_section *s)
{
	if (c->user != NULL && c->user[0] != '\0' && getpwnam(c->user) == NULL)
		confval_error(cx, conf_option_line(s, "user"),
		    "option user: no such user '%s'", c->user);
}

/* prefix + topic as one string; NULL when out of memory. */
static char *
join(const char *prefix, const char *topic)
{
	size_t lp = strlen(prefix), lt = strlen(topic);
	char *s = malloc(lp + lt + 1);

	if (s != NULL) {
		memcpy(s, prefix, lp);
		memcpy(s + lp, topic, lt + 1);
	}
	return s;
}

/* Both prefixes glued to the topic must still be valid filters. */
static void
check_route_filters(struct confval_ctx *cx, const struct conf_route *r,
    const struct uci_section *s)
{
	const char *prefixes[2] = { r->local_prefix, r->remote_prefix };
	const char *names[2] = { "local_prefix", "remote_prefix" };
	const char *why;
	char *f;
	int i;

	for (i = 0; i < 2 && r->topic != NULL; i++) {
		if (prefixes[i] == NULL)
			continue;
		if ((f = join(prefixes[i], r->topic)) == NULL) {
			cx->nomem = true;
			return;
		}
		if (!topic_filter_valid(f, &why))
			confval_error(cx, conf_option_line(s, "topic"),
			    "option topic: with %s '%s' it gives '%s', which "
			    "is not valid: %s", names[i], prefixes[i], f, why);
		free(f);
	}
}

static void
load_route(struct confval_ctx *cx, struct conf_route *r,
    const struct uci_section *s, bool up)
{
	r->line = s->line;
	if (s->name != NULL && (r->name = strdup(s->name)) == NULL)
		cx->nomem = true;
	if (up) {
		confval_apply(cx, uplink_policy, NELEM(uplink_policy), s,
		    s->type, r);
		if (uci_find_option(s, "max_delay_ms") == NULL)
			r->max_delay_ms = -1;
	} else
		confval_apply(cx, downlink_policy, NELEM(downlink_policy), s,
		    s->type, r);
	check_route_filters(cx, r, s);
}

/* The filter a route subscribes or publishes on one side; NULL if unknown. */
static char *
route_filter(struct confval_ctx *cx, const struct conf_route *r, bool remote)
{
	const char *prefix = remote ? r->remote_prefix : r->local_prefix;
	char *f;

	if (prefix == NULL || r->topic == NULL)
		return NULL;
	if ((f = join(prefix, r->topic)) == NULL)
		cx->nomem = true;
	else if (!topic_filter_valid(f, NULL)) {
		free(f);
		f = NULL;
	}
	return f;
}

static void
report_loop(struct confval_ctx *cx, const struct conf_route *sub,
    const char *a, const struct conf_route *pub, const char *b,
    bool central)
{
	const char *side = central ? "central" : "local";

	confval_error(cx, sub->line, "section %s: its %s subscription '%s' "
	    "overlaps '%s', where the %s at line %d publishes; with protocol "
	    "311 on the %s broker the relay would receive its own messages "
	    "(use protocol 5 or disjoint topics)",
	    central ? "downlink" : "uplink", side, a, b,
	    central ? "uplink" : "downlink", pub->line, side);
}

/*
 * Without MQTT 5 No Local a broker sends the relay its own publications
 * back. On the local side (central false) an uplink subscription must not
 * meet what any downlink publishes there; on the central side a downlink
 * subscription must not meet what any uplink publishes there.
 */
static void
check_loops(struct confval_ctx *cx, const struct conf *c, bool central)
{
	const struct conf_route *sub = central ? c->downlink : c->uplink;
	const struct conf_route *pub = central ? c->uplink : c->downlink;
	size_t n_sub = central ? c->n_downlink : c->n_uplink;
	size_t n_pub = central ? c->n_uplink : c->n_downlink;
	char *a, *b;
	size_t i, j;

	for (i = 0; i < n_sub; i++) {
		if ((a = route_filter(cx, &sub[i], central)) == NULL)
			continue;
		for (j = 0; j < n_pub; j++) {
			b = route_filter(cx, &pub[j], central);
			if (b != NULL && topic_filters_overlap(a, b))
				report_loop(cx, &sub[i], a, &pub[j], b,
				    central);
			free(b);
		}
		free(a);
	}
}

/* The sections that matter, found by classify(). */
struct conf_found {
	const struct uci_section *relay;
	const struct uci_section *local;
	const struct uci_section *central;
	const struct uci_section *batch;
	size_t n_uplink;
	size_t n_downlink;
};

/* The earlier section with the same name as section i, or NULL. */
static const struct uci_section *
earlier_twin(const struct uci_file *uf, size_t i)
{
	const struct uci_section *s = &uf->sections[i];
	size_t j;

	for (j = 0; s->name != NULL && j < i; j++)
		if (uf->sections[j].name != NULL &&
		    strcmp(uf->sections[j].name, s->name) == 0)
			return &uf->sections[j];
	return NULL;
}

static void
classify_broker(struct confval_ctx *cx, const struct uci_section *s,
    struct conf_found *fd)
{
	if (s->name == NULL)
		confval_error(cx, s->line, "section broker: needs a name: "
		    "'local' or 'central'");
	else if (strcmp(s->name, "local") == 0)
		fd->local = s;
	else if (strcmp(s->name, "central") == 0)
		fd->central = s;
	else
		confval_error(cx, s->line, "section broker: unknown name '%s' "
		    "(expected 'local' or 'central')", s->name);
}

/* Sort the sections by type and report the ones that cannot be used. */
static void
classify(struct confval_ctx *cx, const struct uci_file *uf,
    struct conf_found *fd)
{
	const struct uci_section *s, *twin;
	size_t i;

	for (i = 0; i < uf->n_sections; i++) {
		s = &uf->sections[i];
		if ((twin = earlier_twin(uf, i)) != NULL)
			confval_error(cx, s->line, "section %s: name '%s' is "
			    "already used at line %d", s->type, s->name,
			    twin->line);
		else if (strcmp(s->type, "relay") == 0 && fd->relay != NULL)
			confval_error(cx, s->line, "section relay: only one is "
			    "allowed (the first is at line %d)",
			    fd->relay->line);
		else if (strcmp(s->type, "relay") == 0)
			fd->relay = s;
		else if (strcmp(s->type, "broker") == 0)
			classify_broker(cx, s, fd);
		else if (strcmp(s->type, "batch") == 0 && fd->batch != NULL)
			confval_error(cx, s->line, "section batch: only one is "
			    "allowed (the first is at line %d)",
			    fd->batch->line);
		else if (strcmp(s->type, "batch") == 0)
			fd->batch = s;
		else if (strcmp(s->type, "uplink") == 0)
			fd->n_uplink++;
		else if (strcmp(s->type, "downlink") == 0)
			fd->n_downlink++;
		else
			confval_error(cx, s->line, "section %s: unknown "
			    "section type (expected relay, broker, batch, uplink "
			    "or downlink)", s->type);
	}
}

static void
load_routes(struct confval_ctx *cx, struct conf *c, const struct uci_file *uf,
    const struct conf_found *fd)
{
	const struct uci_section *s;
	size_t i;

	c->uplink = calloc(fd->n_uplink + 1, sizeof(*c->uplink));
	c->downlink = calloc(fd->n_downlink + 1, sizeof(*c->downlink));
	if (c->uplink == NULL || c->downlink == NULL) {
		cx->nomem = true;
		return;
	}
	for (i = 0; i < uf->n_sections; i++) {
		s = &uf->sections[i];
		if (earlier_twin(uf, i) != NULL)
			continue;
		if (strcmp(s->type, "uplink") == 0)
			load_route(cx, &c->uplink[c->n_uplink++], s, true);
		else if (strcmp(s->type, "downlink") == 0)
			load_route(cx, &c->downlink[c->n_downlink++], s,
			    false);
	}
	if (c->n_uplink + c->n_downlink == 0)
		confval_error(cx, 0, "at least one config uplink or config "
		    "downlink section is required");
}

static void
load_all(struct confval_ctx *cx, struct conf *c, const struct uci_file *uf)
{
	const struct uci_option *o;
	struct conf_found fd;

	memset(&fd, 0, sizeof(fd));
	classify(cx, uf, &fd);
	/* The id comes first: any option, even of the relay, may use %i. */
	o = uci_find_option(fd.relay, "id");
	if (o != NULL && !o->is_list &&
	    confval_check(CONFVAL_ID, o->values[0].str) == NULL)
		cx->id = o->values[0].str;
	if (fd.relay != NULL) {
		if (fd.relay->name != NULL &&
		    (c->name = strdup(fd.relay->name)) == NULL)
			cx->nomem = true;
		confval_apply(cx, relay_policy, NELEM(relay_policy), fd.relay,
		    "relay", c);
		conf_check_user(cx, c, fd.relay);
	}
	else
		confval_error(cx, 0, "section relay: missing (exactly one is "
		    "required)");
	load_broker(cx, &c->local, fd.local, false);
	if (fd.central != NULL)
		load_broker(cx, &c->central, fd.central, true);
	else
		confval_error(cx, 0, "section broker: config broker "
		    "'central' is required");
	confval_apply(cx, batch_policy, NELEM(batch_policy), fd.batch, "batch",
	    &c->batch);
	c->batch.line = fd.batch != NULL ? fd.batch->line : 0;
	load_routes(cx, c, uf, &fd);
	if (c->local.protocol == 311)
		check_loops(cx, c, false);
	if (fd.central != NULL && c->central.protocol == 311)
		check_loops(cx, c, true);
}

static bool
conf_is_unpack(const struct uci_file *uf)
{
	size_t i;

	for (i = 0; i < uf->n_sections; i++)
		if (strcmp(uf->sections[i].type, "unpack") == 0)
			return true;
	return false;
}

/* A good file's warnings, kept in c->warnings for conf_warnings(). */
static int
conf_keep_warnings(struct confval_ctx *cx, struct conf *c)
{
	size_t len = 0;
	FILE *f;

	if (cx->n_warnings == 0) {
		confval_flush(cx, NULL);
		return 0;
	}
	if ((f = open_memstream(&c->warnings, &len)) == NULL) {
		confval_flush(cx, NULL);
		return -1;
	}
	confval_flush(cx, f);
	return fclose(f) == 0 ? 0 : -1;
}

int
conf_warnings(const struct conf *c, conf_warn_fn fn, void *arg)
{
	const char *p, *nl;
	char line[1024];
	int n = 0;

	for (p = c->warnings; p != NULL && *p != '\0'; p = nl + 1) {
		if ((nl = strchr(p, '\n')) == NULL)
			break;
		snprintf(line, sizeof(line), "%.*s", (int)(nl - p), p);
		if (fn != NULL)
			fn(arg, line);
		n++;
	}
	return n;
}

int
conf_parse(const char *file, const char *buf, size_t len,
    struct conf **out, FILE *errs)
{
	struct confval_ctx cx;
	struct uci_file *uf;
	struct conf *c;
	int rc;

	rc = uci_parse(buf, len, file, errs, &uf);
	if (rc != UCI_OK)
		return rc == UCI_ERR_SYNTAX ? CONF_ERR_SYNTAX : CONF_ERR_NOMEM;
	confval_init(&cx, file);
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->file = strdup(file)) == NULL)
		cx.nomem = true;
	else if (conf_is_unpack(uf))
		conf_unpack_load(&cx, c, uf);
	else
		load_all(&cx, c, uf);
	uci_free(uf);
	if (cx.nomem || cx.n_errors > 0) {
		/* The warnings go with the errors: they may explain them. */
		confval_flush(&cx, cx.nomem ? NULL : errs);
		conf_free(c);
		return cx.nomem ? CONF_ERR_NOMEM : CONF_ERR_INVALID;
	}
	if (conf_keep_warnings(&cx, c) != 0) {
		conf_free(c);
		return CONF_ERR_NOMEM;
	}
	*out = c;
	return CONF_OK;
}

int
conf_load(const char *path, struct conf **out, FILE *errs)
{
	char *buf;
	size_t len;
	FILE *fp;
	int rc, err;

	if ((fp = fopen(path, "r")) == NULL) {
		err = errno;
		if (errs != NULL)
			fprintf(errs, "%s: cannot open: %s\n", path,
			    strerror(err));
		return CONF_ERR_IO;
	}
	if ((buf = malloc(CONF_FILE_MAX + 1)) == NULL) {
		fclose(fp);
		return CONF_ERR_NOMEM;
	}
	len = fread(buf, 1, CONF_FILE_MAX + 1, fp);
	err = ferror(fp) ? errno : 0;
	fclose(fp);
	if (err != 0 || len > CONF_FILE_MAX) {
		if (errs != NULL && err != 0)
			fprintf(errs, "%s: cannot read: %s\n", path,
			    strerror(err));
		else if (errs != NULL)
			fprintf(errs, "%s: cannot read: larger than %d bytes\n",
			    path, CONF_FILE_MAX);
		free(buf);
		return CONF_ERR_IO;
	}
	rc = conf_parse(path, buf, len, out, errs);
	free(buf);
	return rc;
}

void
conf_free(struct conf *c)
{
	size_t i;

	if (c == NULL)
		return;
	if (c->role == CONF_ROLE_UNPACK) {
		conf_unpack_free(c);
	} else {
		confval_free(relay_policy, NELEM(relay_policy), c);
		confval_free(local_policy, NELEM(local_policy), &c->local);
		confval_free(central_policy, NELEM(central_policy),
		    &c->central);
		confval_free(batch_policy, NELEM(batch_policy), &c->batch);
	}
	free(c->name);
	for (i = 0; i < c->n_uplink; i++) {
		confval_free(uplink_policy, NELEM(uplink_policy),
		    &c->uplink[i]);
		free(c->uplink[i].name);
	}
	for (i = 0; i < c->n_downlink; i++) {
		confval_free(downlink_policy, NELEM(downlink_policy),
		    &c->downlink[i]);
		free(c->downlink[i].name);
	}
	free(c->uplink);
	free(c->downlink);
	free(c->file);
	free(c->warnings);
	free(c);
}

static void
print_route(FILE *f, const char *type, const struct conf_route *r,
    const struct confval_policy *pol, size_t n)
{
	fprintf(f, "\nconfig %s", type);
	if (r->name != NULL)
		fprintf(f, " '%s'", r->name);
	fputc('\n', f);
	confval_print(f, pol, n, r);
}

void
conf_print(const struct conf *c, FILE *f)
{
	size_t i;

	if (c->role == CONF_ROLE_UNPACK) {
		conf_unpack_print(c, f);
		return;
	}
	if (c->name != NULL)
		fprintf(f, "config relay '%s'\n", c->name);
	else
		fputs("config relay\n", f);
	confval_print(f, relay_policy, NELEM(relay_policy), c);
	fputs("\nconfig broker 'local'\n", f);
	confval_print(f, local_policy, NELEM(local_policy), &c->local);
	fputs("\nconfig broker 'central'\n", f);
	confval_print(f, central_policy, NELEM(central_policy), &c->central);
	fputs("\nconfig batch\n", f);
	confval_print(f, batch_policy, NELEM(batch_policy), &c->batch);
	for (i = 0; i < c->n_uplink; i++)
		print_route(f, "uplink", &c->uplink[i], uplink_policy,
		    NELEM(uplink_policy) - (c->uplink[i].max_delay_ms < 0));
	for (i = 0; i < c->n_downlink; i++)
		print_route(f, "downlink", &c->downlink[i], downlink_policy,
		    NELEM(downlink_policy));
}
