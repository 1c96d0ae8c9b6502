/*
 * link: one MQTT connection through Paho's async library; see link.h.
 * Paho callbacks (on Paho's threads) are at the top of the file and only
 * build handoff events; the main-loop API follows.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <MQTTAsync.h>

#include "platform/clock.h"
#include "relay/link.h"
#include "relay/props.h"

/*
 * Callback context of one connection generation. A ring of them lets a
 * late callback of a destroyed handle still read a valid struct; a slot
 * is reused only LINK_GENS generations later, seconds of backoff apart.
 */
#define LINK_GENS	4

struct link_gen {
	struct link *l;
	uint32_t gen;
};

struct link_slot {
	struct link *l;
	_Atomic uint64_t serial;	/* 0 while free */
	int64_t cookie;
	int idx;
};

struct link {
	enum link_side side;
	enum link_state state;
	struct handoff *h;
	MQTTAsync handle;
	uint32_t gen;
	struct link_gen gens[LINK_GENS];
	int protocol;
	struct link_slot *slots;
	int *free_idx;		/* stack of free slot indices */
	size_t n_free;
	size_t window;
	size_t cap;		/* <= window: the broker's max_inflight */
	size_t limit;		/* <= cap: and its Receive Maximum */
	uint64_t next_serial;
};

static const char *const link_errtab[] = {
	"ok",
	"in-flight window full",
	"not connected",
	"MQTT library refused the call",
	"out of memory",
};
_Static_assert(sizeof(link_errtab) / sizeof(link_errtab[0]) == 5,
    "link_errtab must match enum link_err");

/* ---- Paho callbacks: Paho's threads; build an event and push it. ---- */

static void
link_post(struct link *l, enum handoff_type type, uint32_t gen, int code,
    const char *text)
{
	size_t tl = text != NULL ? strlen(text) + 1 : 0;
	struct handoff_ev *ev;

	if ((ev = handoff_ev_new(type, tl)) == NULL)
		return;	/* Out of memory: the reconnect timer still runs. */
	ev->side = (int)l->side;
	ev->gen = gen;
	ev->code = code;
	if (text != NULL) {
		ev->text = ev->data;
		memcpy(ev->text, text, tl);
	}
	handoff_push(l->h, ev);
}

static void
link_on_lost(void *ctx, char *cause)
{
	struct link_gen *g = ctx;

	link_post(g->l, HANDOFF_LOST, g->gen, 0,
	    cause != NULL ? cause : "connection lost");
}

static struct handoff_ev *
link_msg_event(struct link_gen *g, const char *topic, size_t tlen,
    MQTTAsync_message *m)
{
	struct handoff_ev *ev;
	size_t plen = props_encoded_size(&m->properties);
	size_t n = tlen + 1 + (size_t)m->payloadlen + plen;

	if ((ev = handoff_ev_new(HANDOFF_MSG, n)) == NULL)
		return NULL;
	ev->side = (int)g->l->side;
	ev->gen = g->gen;
	ev->t_us = clock_mono_us();
	ev->ts_ms = clock_wall_ms();
	ev->qos = m->qos;
	ev->msgid = m->msgid;
	ev->retain = m->retained != 0;
	ev->dup = m->dup != 0;
	ev->topic = ev->data;
	memcpy(ev->topic, topic, tlen);
	ev->topic[tlen] = '\0';
	ev->payload = (uint8_t *)ev->data + tlen + 1;
	ev->payload_len = (size_t)m->payloadlen;
	if (m->payloadlen > 0)
		memcpy(ev->payload, m->payload, (size_t)m->payloadlen);
	ev->props = ev->payload + ev->payload_len;
	ev->props_len = props_encode(&m->properties, ev->props, plen,
	    &ev->expiry_s, &ev->has_expiry);
	return ev;
}

/*
 * Paho has already acknowledged a QoS 1/2 message when this runs (see
 * docs/design.md): copy it and hand it over at once. When the FIFO is
 * over its bound, return 0 so that Paho keeps the message and offers it
 * again later: that is the relay's backpressure.
 */
static int
link_on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *m)
{
	struct link_gen *g = ctx;
	size_t tlen = topic_len > 0 ? (size_t)topic_len : strlen(topic);
	struct handoff_ev *ev;

	if ((ev = link_msg_event(g, topic, tlen, m)) == NULL)
		return 0;
	if (handoff_push(g->l->h, ev) != HANDOFF_OK) {
		handoff_ev_free(ev);
		return 0;
	}
	MQTTAsync_freeMessage(&m);
	MQTTAsync_free(topic);
	return 1;
}

static void
link_post_connected(struct link_gen *g, int session_present, int recv_max)
{
	struct handoff_ev *ev;

	if ((ev = handoff_ev_new(HANDOFF_CONNECTED, 0)) == NULL)
		return;
	ev->side = (int)g->l->side;
	ev->gen = g->gen;
	ev->session_present = session_present;
	ev->recv_max = recv_max;
	handoff_push(g->l->h, ev);
}

static void
link_on_connect5(void *ctx, MQTTAsync_successData5 *r)
{
	int recv_max = 0;

	/*
	 * Paho caps its own in-flight count at the broker's Receive Maximum
	 * and holds further publishes in its command queue, where they wait
	 * up to a second for the send thread: the relay must stay below it.
	 */
	if (r != NULL && MQTTProperties_hasProperty(&r->properties,
	    MQTTPROPERTY_CODE_RECEIVE_MAXIMUM))
		recv_max = MQTTProperties_getNumericValue(&r->properties,
		    MQTTPROPERTY_CODE_RECEIVE_MAXIMUM);
	link_post_connected(ctx, r != NULL ? r->alt.connect.sessionPresent :
	    0, recv_max);
}

static void
link_on_connect(void *ctx, MQTTAsync_successData *r)
{
	link_post_connected(ctx, r != NULL ? r->alt.connect.sessionPresent :
	    0, 0);
}

static void
link_on_connect_fail5(void *ctx, MQTTAsync_failureData5 *r)
{
	struct link_gen *g = ctx;
	char why[160];

	if (r != NULL && r->reasonCode != MQTTREASONCODE_SUCCESS)
		snprintf(why, sizeof(why), "refused: %s",
		    MQTTReasonCode_toString(r->reasonCode));
	else
		snprintf(why, sizeof(why), "%s", r != NULL &&
		    r->message != NULL ? r->message : "cannot connect");
	link_post(g->l, HANDOFF_CONNECT_FAILED, g->gen,
	    r != NULL ? r->code : 0, why);
}

static void
link_on_connect_fail(void *ctx, MQTTAsync_failureData *r)
{
	struct link_gen *g = ctx;
	char why[160];

	if (r != NULL && r->code > 0)
		snprintf(why, sizeof(why), "refused: CONNACK code %d",
		    r->code);
	else
		snprintf(why, sizeof(why), "%s", r != NULL &&
		    r->message != NULL ? r->message : "cannot connect");
	link_post(g->l, HANDOFF_CONNECT_FAILED, g->gen,
	    r != NULL ? r->code : 0, why);
}

static void
link_post_pub(struct link_slot *s, enum handoff_type type, int code)
{
	struct handoff_ev *ev;

	if ((ev = handoff_ev_new(type, 0)) == NULL)
		return;
	ev->side = (int)s->l->side;
	ev->slot = s->idx;
	ev->serial = atomic_load_explicit(&s->serial, memory_order_relaxed);
	ev->code = code;
	handoff_push(s->l->h, ev);
}

static void
link_on_pub5(void *ctx, MQTTAsync_successData5 *r)
{
	(void)r;
	link_post_pub(ctx, HANDOFF_PUB_DONE, 0);
}

static void
link_on_pub(void *ctx, MQTTAsync_successData *r)
{
	(void)r;
	link_post_pub(ctx, HANDOFF_PUB_DONE, 0);
}

static void
link_on_pub_fail5(void *ctx, MQTTAsync_failureData5 *r)
{
	link_post_pub(ctx, HANDOFF_PUB_FAILED,
	    r != NULL ? (int)r->reasonCode : 0);
}

static void
link_on_pub_fail(void *ctx, MQTTAsync_failureData *r)
{
	link_post_pub(ctx, HANDOFF_PUB_FAILED, r != NULL ? r->code : 0);
}

static void
link_on_sub5(void *ctx, MQTTAsync_successData5 *r)
{
	struct link_gen *g = ctx;
	int i, bad = 0;

	/*
	 * A SUBACK can succeed as a packet and still refuse some filters.
	 * For a single filter Paho 1.3 fills only reasonCode and leaves
	 * the array pointer uninitialised, so the array is read only when
	 * it holds more than one code.
	 */
	if (r != NULL && r->alt.sub.reasonCodeCount > 1) {
		for (i = 0; i < r->alt.sub.reasonCodeCount; i++)
			if (r->alt.sub.reasonCodes[i] >= 0x80)
				bad = r->alt.sub.reasonCodes[i];
	} else if (r != NULL && r->reasonCode >= 0x80)
		bad = r->reasonCode;
	link_post(g->l, bad ? HANDOFF_SUB_FAILED : HANDOFF_SUB_DONE, g->gen,
	    bad, bad ? MQTTReasonCode_toString(bad) : NULL);
}

static void
link_on_sub(void *ctx, MQTTAsync_successData *r)
{
	struct link_gen *g = ctx;

	(void)r;
	link_post(g->l, HANDOFF_SUB_DONE, g->gen, 0, NULL);
}

static void
link_on_sub_fail5(void *ctx, MQTTAsync_failureData5 *r)
{
	struct link_gen *g = ctx;

	link_post(g->l, HANDOFF_SUB_FAILED, g->gen,
	    r != NULL ? (int)r->reasonCode : 0, "subscribe refused");
}

static void
link_on_sub_fail(void *ctx, MQTTAsync_failureData *r)
{
	struct link_gen *g = ctx;

	link_post(g->l, HANDOFF_SUB_FAILED, g->gen,
	    r != NULL ? r->code : 0, "subscribe refused");
}

static void
link_on_disc5(void *ctx, MQTTAsync_successData5 *r)
{
	struct link_gen *g = ctx;

	(void)r;
	link_post(g->l, HANDOFF_DISCONNECTED, g->gen, 0, NULL);
}

static void
link_on_disc(void *ctx, MQTTAsync_successData *r)
{
	struct link_gen *g = ctx;

	(void)r;
	link_post(g->l, HANDOFF_DISCONNECTED, g->gen, 0, NULL);
}

static void
link_on_disc_fail5(void *ctx, MQTTAsync_failureData5 *r)
{
	struct link_gen *g = ctx;

	(void)r;
	link_post(g->l, HANDOFF_DISCONNECTED, g->gen, -1, NULL);
}

static void
link_on_disc_fail(void *ctx, MQTTAsync_failureData *r)
{
	struct link_gen *g = ctx;

	(void)r;
	link_post(g->l, HANDOFF_DISCONNECTED, g->gen, -1, NULL);
}

/* ---- Main loop API. ---- */

struct link *
link_new(enum link_side side, struct handoff *h, size_t window)
{
	struct link *l;
	size_t i;

	if (window == 0 || window > 65535 ||
	    (l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	l->slots = calloc(window, sizeof(*l->slots));
	l->free_idx = calloc(window, sizeof(*l->free_idx));
	if (l->slots == NULL || l->free_idx == NULL) {
		link_free(l);
		return NULL;
	}
	l->side = side;
	l->h = h;
	l->window = window;
	l->cap = window;
	l->limit = window;
	l->protocol = 5;
	for (i = 0; i < window; i++) {
		l->slots[i].l = l;
		l->slots[i].idx = (int)i;
		l->free_idx[i] = (int)(window - 1 - i);
	}
	l->n_free = window;
	return l;
}

void
link_free(struct link *l)
{
	if (l == NULL)
		return;
	link_drop(l);
	free(l->slots);
	free(l->free_idx);
	free(l);
}

static void
link_free_all_slots(struct link *l)
{
	size_t i;

	for (i = 0; i < l->window; i++) {
		atomic_store_explicit(&l->slots[i].serial, 0,
		    memory_order_relaxed);
		l->free_idx[i] = (int)(l->window - 1 - i);
	}
	l->n_free = l->window;
}

void
link_drop(struct link *l)
{
	if (l->handle != NULL)
		MQTTAsync_destroy(&l->handle);
	l->handle = NULL;
	l->state = LINK_DOWN;
	link_free_all_slots(l);
}

/* "host:port" to "tcp://host:port"; IPv6 literals keep their brackets. */
static void
link_uri(const char *addr, char *uri, size_t n)
{
	snprintf(uri, n, "tcp://%s", addr);
}

static int
link_create(struct link *l, const struct conf_broker *b, char *err,
    size_t errlen)
{
	MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer;
	struct link_gen *g;
	char uri[300];
	int rc;

	co.MQTTVersion = b->protocol == 5 ? MQTTVERSION_5 :
	    MQTTVERSION_3_1_1;
	/*
	 * Paho refuses a publish when this many wait in its command queue,
	 * connected or not (default 100): the window is our only bound.
	 */
	co.maxBufferedMessages = (int)l->window + 1;
	link_uri(b->address[0], uri, sizeof(uri));
	rc = MQTTAsync_createWithOptions(&l->handle, uri, b->client_id,
	    MQTTCLIENT_PERSISTENCE_NONE, NULL, &co);
	if (rc != MQTTASYNC_SUCCESS) {
		snprintf(err, errlen, "broker %s: cannot create client: %s",
		    b->address[0], MQTTAsync_strerror(rc));
		l->handle = NULL;
		return LINK_ERR_PAHO;
	}
	l->gen++;
	g = &l->gens[l->gen % LINK_GENS];
	g->l = l;
	g->gen = l->gen;
	MQTTAsync_setCallbacks(l->handle, g, link_on_lost, link_on_message,
	    NULL);
	return LINK_OK;
}

int
link_connect(struct link *l, const struct conf_broker *b,
    const struct link_will *will, const char *proxy_url, char *err,
    size_t errlen)
{
	MQTTAsync_connectOptions o5 = MQTTAsync_connectOptions_initializer5;
	MQTTAsync_connectOptions o3 = MQTTAsync_connectOptions_initializer;
	MQTTAsync_connectOptions *o = b->protocol == 5 ? &o5 : &o3;
	MQTTAsync_willOptions w = MQTTAsync_willOptions_initializer;
	MQTTProperties cp = MQTTProperties_initializer;
	MQTTProperty sei, rmax;
	char uris[16][300];
	char *uriv[16];
	size_t i, n;
	int rc;

	link_drop(l);
	l->protocol = b->protocol;
	l->cap = b->max_inflight > 0 && (size_t)b->max_inflight < l->window ?
	    (size_t)b->max_inflight : l->window;
	if ((rc = link_create(l, b, err, errlen)) != LINK_OK)
		return rc;
	n = b->n_address < 16 ? b->n_address : 16;
	for (i = 0; i < n; i++) {
		link_uri(b->address[i], uris[i], sizeof(uris[i]));
		uriv[i] = uris[i];
	}
	o->serverURIs = uriv;
	o->serverURIcount = (int)n;
	o->keepAliveInterval = b->keepalive;
	o->maxInflight = (int)l->cap;
	o->automaticReconnect = 0;
	o->connectTimeout = 15;
	o->context = &l->gens[l->gen % LINK_GENS];
	o->httpProxy = proxy_url;
	if (b->username[0] != '\0')
		o->username = b->username;
	if (b->password[0] != '\0')
		o->password = b->password;
	if (will != NULL && will->topic != NULL && will->topic[0] != '\0') {
		w.topicName = will->topic;
		w.message = will->payload;
		w.qos = 1;
		w.retained = 1;
		o->will = &w;
	}
	if (b->protocol == 5) {
		/* Persistent session: the broker keeps it for as long as it can. */
		sei.identifier = MQTTPROPERTY_CODE_SESSION_EXPIRY_INTERVAL;
		sei.value.integer4 = 0xFFFFFFFFu;
		MQTTProperties_add(&cp, &sei);
		/* The broker's window to us is as wide as ours to it. */
		rmax.identifier = MQTTPROPERTY_CODE_RECEIVE_MAXIMUM;
		rmax.value.integer2 = (unsigned short)l->cap;
		MQTTProperties_add(&cp, &rmax);
		o->cleanstart = 0;
		o->connectProperties = &cp;
		o->onSuccess5 = link_on_connect5;
		o->onFailure5 = link_on_connect_fail5;
	} else {
		o->cleansession = 0;
		o->onSuccess = link_on_connect;
		o->onFailure = link_on_connect_fail;
	}
	rc = MQTTAsync_connect(l->handle, o);
	MQTTProperties_free(&cp);
	if (rc != MQTTASYNC_SUCCESS) {
		snprintf(err, errlen, "broker %s: cannot start connect: %s",
		    b->address[0], MQTTAsync_strerror(rc));
		link_drop(l);
		return LINK_ERR_PAHO;
	}
	l->state = LINK_CONNECTING;
	return LINK_OK;
}

int
link_disconnect(struct link *l, int timeout_ms)
{
	MQTTAsync_disconnectOptions d5 =
	    MQTTAsync_disconnectOptions_initializer5;
	MQTTAsync_disconnectOptions d3 =
	    MQTTAsync_disconnectOptions_initializer;
	MQTTAsync_disconnectOptions *d = l->protocol == 5 ? &d5 : &d3;

	if (l->handle == NULL || l->state != LINK_UP)
		return LINK_ERR_STATE;
	d->timeout = timeout_ms;
	d->context = &l->gens[l->gen % LINK_GENS];
	if (l->protocol == 5) {
		d->onSuccess5 = link_on_disc5;
		d->onFailure5 = link_on_disc_fail5;
	} else {
		d->onSuccess = link_on_disc;
		d->onFailure = link_on_disc_fail;
	}
	if (MQTTAsync_disconnect(l->handle, d) != MQTTASYNC_SUCCESS)
		return LINK_ERR_PAHO;
	l->state = LINK_CLOSING;
	return LINK_OK;
}

static int
link_sub_common(struct link *l, char *const *filters, const int *qos,
    size_t n, char *err, size_t errlen)
{
	MQTTAsync_responseOptions r = MQTTAsync_responseOptions_initializer;
	MQTTSubscribe_options so = MQTTSubscribe_options_initializer;
	int rc;

	if (l->state != LINK_UP)
		return LINK_ERR_STATE;
	r.context = &l->gens[l->gen % LINK_GENS];
	if (l->protocol == 5) {
		r.onSuccess5 = link_on_sub5;
		r.onFailure5 = link_on_sub_fail5;
		so.noLocal = 1;
		so.retainAsPublished = 1;
		so.retainHandling = 1;
		r.subscribeOptions = so;
	} else {
		r.onSuccess = link_on_sub;
		r.onFailure = link_on_sub_fail;
	}
	if (qos != NULL)
		rc = MQTTAsync_subscribeMany(l->handle, (int)n, filters,
		    (int *)qos, &r);
	else
		rc = MQTTAsync_unsubscribeMany(l->handle, (int)n, filters, &r);
	if (rc != MQTTASYNC_SUCCESS) {
		snprintf(err, errlen, "%s broker: cannot %s: %s",
		    link_name(l), qos != NULL ? "subscribe" : "unsubscribe",
		    MQTTAsync_strerror(rc));
		return LINK_ERR_PAHO;
	}
	return LINK_OK;
}

int
link_subscribe(struct link *l, char *const *filters, const int *qos,
    size_t n, char *err, size_t errlen)
{
	return link_sub_common(l, filters, qos, n, err, errlen);
}

int
link_unsubscribe(struct link *l, char *const *filters, size_t n, char *err,
    size_t errlen)
{
	return link_sub_common(l, filters, NULL, n, err, errlen);
}

static void
link_slot_release(struct link *l, struct link_slot *s)
{
	atomic_store_explicit(&s->serial, 0, memory_order_relaxed);
	l->free_idx[l->n_free++] = s->idx;
}

static int
link_send(struct link *l, struct link_slot *s, const struct queue_msg *m,
    MQTTProperties *props, char *err, size_t errlen)
{
	MQTTAsync_responseOptions r = MQTTAsync_responseOptions_initializer;
	MQTTAsync_message pm = MQTTAsync_message_initializer;
	int rc;

	pm.payload = m->payload_len > 0 ? (void *)m->payload : (void *)"";
	pm.payloadlen = (int)m->payload_len;
	pm.qos = m->qos;
	pm.retained = m->retain;
	pm.properties = *props;
	r.context = s;
	if (l->protocol == 5) {
		r.onSuccess5 = link_on_pub5;
		r.onFailure5 = link_on_pub_fail5;
	} else {
		r.onSuccess = link_on_pub;
		r.onFailure = link_on_pub_fail;
	}
	rc = MQTTAsync_sendMessage(l->handle, m->topic, &pm, &r);
	if (rc != MQTTASYNC_SUCCESS) {
		snprintf(err, errlen, "%s broker: cannot publish to %s: %s",
		    link_name(l), m->topic, MQTTAsync_strerror(rc));
		return LINK_ERR_PAHO;
	}
	return LINK_OK;
}

int
link_publish(struct link *l, const struct queue_msg *m, int64_t now_ms,
    int64_t cookie, char *err, size_t errlen)
{
	MQTTProperties props = MQTTProperties_initializer;
	struct link_slot *s;
	int rc;

	if (l->state != LINK_UP)
		return LINK_ERR_STATE;
	if (link_window_free(l) == 0)
		return LINK_ERR_WINDOW;
	s = &l->slots[l->free_idx[--l->n_free]];
	s->cookie = cookie;
	atomic_store_explicit(&s->serial, ++l->next_serial,
	    memory_order_relaxed);
	if (l->protocol == 5 && props_decode(m->props, m->props_len,
	    m->expire_ms, now_ms, &props) != 0) {
		/* Undecodable properties are dropped, the message is not. */
		MQTTProperties_free(&props);
	}
	rc = link_send(l, s, m, &props, err, errlen);
	MQTTProperties_free(&props);
	if (rc != LINK_OK)
		link_slot_release(l, s);
	return rc;
}

int
link_event(struct link *l, const struct handoff_ev *ev, int64_t *cookie)
{
	struct link_slot *s;

	switch (ev->type) {
	case HANDOFF_PUB_DONE:
	case HANDOFF_PUB_FAILED:
		if (ev->slot < 0 || (size_t)ev->slot >= l->window)
			return 0;
		s = &l->slots[ev->slot];
		if (ev->serial == 0 || atomic_load_explicit(&s->serial,
		    memory_order_relaxed) != ev->serial)
			return 0;
		*cookie = s->cookie;
		link_slot_release(l, s);
		return 1;
	case HANDOFF_CONNECTED:
		if (ev->gen != l->gen || l->state != LINK_CONNECTING)
			return 0;
		l->state = LINK_UP;
		l->limit = ev->recv_max > 0 && (size_t)ev->recv_max < l->cap ?
		    (size_t)ev->recv_max : l->cap;
		return 1;
	default:
		/* Messages stay valid whatever the generation: they are ours. */
		if (ev->type == HANDOFF_MSG)
			return 1;
		return ev->gen == l->gen && l->handle != NULL;
	}
}

enum link_state
link_state(const struct link *l)
{
	return l->state;
}

size_t
link_window_free(const struct link *l)
{
	size_t used = l->window - l->n_free;

	return used < l->limit ? l->limit - used : 0;
}

size_t
link_inflight(const struct link *l)
{
	return l->window - l->n_free;
}

int
link_protocol(const struct link *l)
{
	return l->protocol;
}

uint32_t
link_gen(const struct link *l)
{
	return l->gen;
}

const char *
link_name(const struct link *l)
{
	return l->side == LINK_LOCAL ? "local" : "central";
}

const char *
link_strerror(int err)
{
	if (err > 0 || -err >= (int)(sizeof(link_errtab) /
	    sizeof(link_errtab[0])))
		return "unknown link error";
	return link_errtab[-err];
}
