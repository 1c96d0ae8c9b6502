/* SPDX-License-Identifier: ISC */
/*
 * reload: SIGHUP re-reads the configuration file. A file that fails to
 * load is reported and the running configuration stays; a good one is
 * diffed against it: log level, queue limits and routes change in place,
 * a changed broker section reconnects that side only, and options that
 * only a restart can change (store, control) say so.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform/log.h"
#include "relay/relay.h"

/* NULL (an option the section type does not have) equals "". */
static int
reload_str_differs(const char *a, const char *b)
{
	return strcmp(a != NULL ? a : "", b != NULL ? b : "") != 0;
}

static int
reload_list_differs(char *const *a, size_t na, char *const *b, size_t nb)
{
	size_t i;

	if (na != nb)
		return 1;
	for (i = 0; i < na; i++)
		if (reload_str_differs(a[i], b[i]))
			return 1;
	return 0;
}

static int
reload_tls_differs(const struct conf_tls *a, const struct conf_tls *b)
{
	return a->enabled != b->enabled ||
	    a->handshake_timeout != b->handshake_timeout ||
	    reload_str_differs(a->ca_file, b->ca_file) ||
	    reload_str_differs(a->ca_path, b->ca_path) ||
	    reload_str_differs(a->cert_file, b->cert_file) ||
	    reload_str_differs(a->key_file, b->key_file) ||
	    reload_str_differs(a->server_name, b->server_name) ||
	    reload_str_differs(a->psk_identity, b->psk_identity) ||
	    reload_str_differs(a->psk, b->psk) ||
	    reload_list_differs(a->alpn, a->n_alpn, b->alpn, b->n_alpn) ||
	    reload_list_differs(a->pin_sha256, a->n_pin_sha256, b->pin_sha256,
	    b->n_pin_sha256) ||
	    reload_list_differs(a->ciphers, a->n_ciphers, b->ciphers,
	    b->n_ciphers);
}

/* Whether the batch section or the set of batch routes changed. */
static int
reload_batch_differs(const struct conf *a, const struct conf *b)
{
	size_t i, na = 0, nb = 0;

	for (i = 0; i < a->n_uplink; i++)
		na += a->uplink[i].mode == CONF_MODE_BATCH;
	for (i = 0; i < b->n_uplink; i++)
		nb += b->uplink[i].mode == CONF_MODE_BATCH;
	return (na > 0) != (nb > 0) || a->batch.max_messages !=
	    b->batch.max_messages || a->batch.max_bytes != b->batch.max_bytes ||
	    a->batch.linger_ms != b->batch.linger_ms || a->batch.compress !=
	    b->batch.compress || a->batch.qos != b->batch.qos ||
	    a->batch.frame_version != b->batch.frame_version ||
	    a->batch.dictionary_bytes != b->batch.dictionary_bytes ||
	    a->batch.dictionary_rotate != b->batch.dictionary_rotate ||
	    reload_str_differs(a->batch.topic, b->batch.topic) ||
	    reload_str_differs(a->id, b->id);
}

static int
reload_broker_differs(const struct conf_broker *a, const struct conf_broker *b)
{

	return a->keepalive != b->keepalive || a->protocol != b->protocol ||
	    a->max_inflight != b->max_inflight ||
	    a->max_packet_size != b->max_packet_size ||
	    reload_str_differs(a->proxy, b->proxy) ||
	    reload_str_differs(a->proxy_username, b->proxy_username) ||
	    reload_str_differs(a->proxy_password, b->proxy_password) ||
	    reload_str_differs(a->client_id, b->client_id) ||
	    reload_str_differs(a->username, b->username) ||
	    reload_str_differs(a->password, b->password) ||
	    reload_list_differs(a->address, a->n_address, b->address,
	    b->n_address) || reload_tls_differs(&a->tls, &b->tls);
}

static void
reload_log_errors(const char *text)
{
	const char *p = text, *nl;

	while (*p != '\0') {
		nl = strchr(p, '\n');
		log_err("reload: %.*s", nl != NULL ? (int)(nl - p) :
		    (int)strlen(p), p);
		if (nl == NULL)
			break;
		p = nl + 1;
	}
}

static void
reload_warn(void *arg, const char *text)
{
	(void)arg;
	log_warn("reload: %s", text);
}

static struct conf *
reload_load(const char *file)
{
	struct conf *nc = NULL;
	char *buf = NULL;
	size_t len = 0;
	FILE *errs;
	int rc;

	if ((errs = open_memstream(&buf, &len)) == NULL) {
		log_err_errno("reload: open_memstream");
		return NULL;
	}
	rc = conf_load(file, &nc, errs);
	fclose(errs);
	if (rc != CONF_OK) {
		reload_log_errors(buf != NULL ? buf : "");
		log_err("reload: %s: %s; keeping the running configuration",
		    file, conf_strerror(rc));
		nc = NULL;
	} else
		conf_warnings(nc, reload_warn, NULL);
	free(buf);
	return nc;
}

/* Unsubscribes the filters of the old table that the new one lacks. */
static void
reload_unsubscribe(struct relay *r, enum link_side side,
    const struct route_table *old, const struct route_table *nt)
{
	enum route_dir d = side == LINK_LOCAL ? ROUTE_UP : ROUTE_DOWN;
	char *const *of, *const *nf;
	char *gone[64];
	const int *oq, *nq;
	size_t on, nn, i, j, k = 0;

	on = route_filters(old, d, &of, &oq);
	nn = route_filters(nt, d, &nf, &nq);
	for (i = 0; i < on && k < 64; i++) {
		for (j = 0; j < nn && strcmp(of[i], nf[j]) != 0; j++)
			;
		if (j == nn)
			gone[k++] = of[i];
	}
	if (k > 0 && link_unsubscribe(r->link[side], gone, k, r->err,
	    sizeof(r->err)) != LINK_OK)
		log_warn("reload: %s", r->err);
}

static void
reload_restart_only(const struct conf *o, const struct conf *n)
{
	if (reload_str_differs(o->store, n->store))
		log_warn("reload: option store: change takes effect at restart");
	if (reload_str_differs(o->control, n->control))
		log_warn("reload: option control: change takes effect at "
		    "restart");
}

void
reload_apply(struct relay *r)
{
	struct conf *nc, *oc = r->conf;
	struct route_table *nt, *ot = r->routes;
	int changed[2], side, batch;

	log_info("reload: reading %s", oc->file);
	if ((nc = reload_load(oc->file)) == NULL)
		return;
	if (nc->role != oc->role) {
		log_err("reload: %s now configures %s; keeping the running "
		    "configuration (restart to change what runs)", oc->file,
		    nc->role == CONF_ROLE_UNPACK ? "an unpacker" : "a relay");
		conf_free(nc);
		return;
	}
	if ((nt = route_new(nc)) == NULL) {
		log_err("reload: out of memory; keeping the running "
		    "configuration");
		conf_free(nc);
		return;
	}
	changed[LINK_LOCAL] = reload_broker_differs(&oc->local, &nc->local);
	batch = reload_batch_differs(oc, nc);
	/*
	 * A new batch set-up drops the open frame: the central link restarts
	 * so that its members are handed out again.
	 */
	changed[LINK_CENTRAL] = reload_broker_differs(&oc->central,
	    &nc->central) || reload_str_differs(oc->status_topic,
	    nc->status_topic) || batch;
	reload_restart_only(oc, nc);
	for (side = 0; side < 2; side++)
		if (!changed[side] && link_state(r->link[side]) == LINK_UP)
			reload_unsubscribe(r, (enum link_side)side, ot, nt);
	r->conf = nc;
	r->routes = nt;
	flow_free(r);	/* The downlink rates follow the new routes. */
	log_set_level((enum log_level)nc->log_level);
	queue_set_limits(r->queue, nc->store_max_bytes,
	    nc->store_full == CONF_DROP_NEWEST ? QUEUE_DROP_NEWEST :
	    QUEUE_DROP_OLDEST);
	queue_set_reserve(r->queue, QUEUE_DOWN, nc->store_max_bytes / 100 *
	    (uint64_t)nc->downlink_reserve);
	for (side = 0; side < 2; side++) {
		const struct conf_broker *b = side == LINK_LOCAL ?
		    &nc->local : &nc->central;

		backoff_init(&r->backoff[side], (int64_t)b->reconnect_min *
		    1000, (int64_t)b->reconnect_max * 1000,
		    r->backoff[side].rng);
		if (changed[side]) {
			forward_link_lost(r, (enum link_side)side);
			if (side == LINK_CENTRAL)
				relay_tls_open(r);
			relay_timer_arm(r, &r->reconnect[side], 0);
		} else if (link_state(r->link[side]) == LINK_UP) {
			forward_subscribe(r, (enum link_side)side);
		}
	}
	if (batch)
		relay_batcher_open(r);
	route_free(ot);
	conf_free(oc);
	log_info("reload: configuration applied");
}
