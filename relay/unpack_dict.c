/* SPDX-License-Identifier: ISC */
/*
 * unpack_dict: the unpacker's frame v2 dictionaries (see unpack.h):
 * dictionary frames stored per gateway and id, frames held while their
 * dictionary is missing and released when it comes, and the requests
 * for a missing one. Part of the unpack module (unpack_int.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform/clock.h"
#include "platform/log.h"
#include "relay/frame.h"
#include "relay/relay.h"
#include "relay/unpack.h"
#include "relay/unpack_int.h"

/* ---- Frame v2 dictionaries (unpack.h). ---- */

/* "dict/GATEWAY/ID": where a gateway's dictionary is kept. */
static void
unpack_dict_key(char *key, size_t cap, const char *gw, uint32_t id)
{
	snprintf(key, cap, "dict/%s/%010" PRIu32, gw, id);
}

/* frame_get_dict_fn: the dictionary a frame names, from the store. */
int
unpack_get_dict(void *arg, const struct frame_header *h, const uint8_t **d,
    size_t *len)
{
	struct unpack_ctx *c = arg;
	struct unpack *u = c->u;
	struct relay *r = c->r;
	char key[24 + FRAME_GWID_MAX];
	int rc;

	if (u->dict_len > 0 && u->dict_id == h->dict_id &&
	    u->dict_gen == queue_generation(r->queue) &&
	    strcmp(u->dict_gw, h->gateway_id) == 0) {
		*d = u->dict;
		*len = u->dict_len;
		return 0;
	}
	u->dict_len = 0;
	if (u->dict == NULL && (u->dict = malloc(FRAME_DICT_MAX)) == NULL) {
		c->store_err = 1;
		snprintf(r->err, sizeof(r->err), "unpack: out of memory for "
		    "a dictionary");
		return 1;
	}
	unpack_dict_key(key, sizeof(key), h->gateway_id, h->dict_id);
	rc = queue_blob_get(r->queue, key, u->dict, FRAME_DICT_MAX, len,
	    r->err, sizeof(r->err));
	if (rc < 0 && rc != QUEUE_ERR_INVAL)
		c->store_err = 1;
	if (rc != 1)
		return 1;
	u->dict_len = *len;
	u->dict_id = h->dict_id;
	u->dict_gen = queue_generation(r->queue);
	snprintf(u->dict_gw, sizeof(u->dict_gw), "%s", h->gateway_id);
	*d = u->dict;
	return 0;
}

/* ---- Records. ---- */

/* queue_blob_each: counts a gateway's held frames. */
static int
unpack_count_held(void *arg, const char *key, const uint8_t *d, size_t len)
{
	(void)key;
	(void)d;
	(void)len;
	(*(size_t *)arg)++;
	return 0;
}

/*
 * Asks the frame's relay for the dictionary it lacks: id, in decimal, on
 * the frame's topic + "/dict", at most every UNPACK_ASK_MS per
 * dictionary (docs/frame-format.md, 8.3). Best effort: the relay also
 * sends its current dictionary at every new connection.
 */
static void
unpack_ask(struct relay *r, struct unpack *u, const struct frame_header *h,
    const char *topic)
{
	char t[UNPACK_TOPIC_MAX + 8], id[16];
	struct queue_msg m;
	int n;

	if (strcmp(u->asked_gw, h->gateway_id) == 0 &&
	    u->asked_id == h->dict_id && u->asked_ms != 0 &&
	    r->now_ms - u->asked_ms < UNPACK_ASK_MS)
		return;
	n = snprintf(t, sizeof(t), "%s/dict", topic);
	if (n < 0 || (size_t)n >= sizeof(t) ||
	    strlen(topic) >= sizeof(u->asked_topic))
		return;
	snprintf(u->asked_topic, sizeof(u->asked_topic), "%s", topic);
	memset(&m, 0, sizeof(m));
	m.topic = t;
	m.payload_len = (size_t)snprintf(id, sizeof(id), "%" PRIu32,
	    h->dict_id);
	m.payload = id;
	m.qos = 1;
	if (link_publish(r->link[LINK_CENTRAL], &m, clock_wall_ms(), 0,
	    r->err, sizeof(r->err)) != LINK_OK)
		return;		/* asked again with the next held frame */
	snprintf(u->asked_gw, sizeof(u->asked_gw), "%s", h->gateway_id);
	u->asked_id = h->dict_id;
	u->asked_ms = r->now_ms;
	u->st.dict_requests++;
	log_info("unpack: gateway %s: asked for dictionary %" PRIu32 " on %s",
	    h->gateway_id, h->dict_id, t);
}

/*
 * A frame whose dictionary is missing: kept in the store until it comes.
 * 0 when held, -1 when not (store error, or too many held already).
 */
int
unpack_hold(struct relay *r, struct unpack *u, const uint8_t *buf,
    size_t len, const struct frame_header *h, const char *topic)
{
	char key[32 + FRAME_GWID_MAX], what[FRAME_GWID_MAX + 96];
	uint64_t supp = 0;
	size_t n = 0;

	snprintf(key, sizeof(key), "hold/%s/", h->gateway_id);
	if (queue_blob_each(r->queue, key, unpack_count_held, &n, r->err,
	    sizeof(r->err)) != QUEUE_OK) {
		durable_failed(r);
		return -1;
	}
	if (n >= UNPACK_HOLD_MAX) {
		snprintf(what, sizeof(what), "gateway %s, sequence %" PRIu64
		    ": dictionary %" PRIu32 " missing and %d frames held "
		    "already", h->gateway_id, h->seq, h->dict_id,
		    UNPACK_HOLD_MAX);
		unpack_refuse(r, &r->st.frames_bad, topic, what);
		return -1;
	}
	snprintf(key, sizeof(key), "hold/%s/%020" PRIu64, h->gateway_id,
	    h->seq);
	if (queue_blob_set(r->queue, key, buf, len, r->err, sizeof(r->err)) !=
	    QUEUE_OK) {
		durable_failed(r);
		return -1;
	}
	r->dirty = 1;
	u->st.frames_held++;
	if ((strcmp(u->missing_gw, h->gateway_id) != 0 ||
	    u->missing_id != h->dict_id) && log_ratelimit(&u->rate_held,
	    r->now_ms, UNPACK_LOG_EVERY_MS, &supp)) {
		snprintf(u->missing_gw, sizeof(u->missing_gw), "%s",
		    h->gateway_id);
		u->missing_id = h->dict_id;
		log_warn("unpack: gateway %s: frame %" PRIu64 " names "
		    "dictionary %" PRIu32 " (check %08" PRIx32 "), which this "
		    "store lacks; frames held until it comes (the relay sends "
		    "it on request and when it reconnects)", h->gateway_id,
		    h->seq, h->dict_id, h->dict_check);
	}
	unpack_ask(r, u, h, topic);
	return 0;
}

/* The held frames of one gateway, as keys and lengths (unpack_release). */
struct unpack_held {
	char (*key)[32 + FRAME_GWID_MAX];
	size_t *len;
	size_t n;
};

static int
unpack_list_held(void *arg, const char *key, const uint8_t *d, size_t len)
{
	struct unpack_held *hl = arg;

	(void)d;
	if (hl->n == UNPACK_HOLD_MAX)
		return 1;
	snprintf(hl->key[hl->n], sizeof(hl->key[0]), "%s", key);
	hl->len[hl->n++] = len;
	return 0;
}

/* A dictionary came: the held frames of its gateway that name it. */
static void
unpack_release(struct relay *r, struct unpack *u, const struct frame_header
    *dh)
{
	struct unpack_held hl;
	struct frame_header h;
	char prefix[24 + FRAME_GWID_MAX];
	uint8_t *buf;
	size_t i, n;
	int rc;

	memset(&hl, 0, sizeof(hl));
	hl.key = calloc(UNPACK_HOLD_MAX, sizeof(hl.key[0]));
	hl.len = calloc(UNPACK_HOLD_MAX, sizeof(hl.len[0]));
	snprintf(prefix, sizeof(prefix), "hold/%s/", dh->gateway_id);
	if (hl.key == NULL || hl.len == NULL ||
	    queue_blob_each(r->queue, prefix, unpack_list_held, &hl, r->err,
	    sizeof(r->err)) != QUEUE_OK) {
		durable_failed(r);
		goto out;
	}
	for (i = 0; i < hl.n && !r->tx_failed; i++) {
		if ((buf = malloc(hl.len[i] > 0 ? hl.len[i] : 1)) == NULL) {
			durable_failed(r);
			break;
		}
		if (queue_blob_get(r->queue, hl.key[i], buf, hl.len[i], &n,
		    r->err, sizeof(r->err)) != 1 ||
		    frame_peek(buf, n, &h, NULL) != 0 ||
		    h.dict_id != dh->dict_id || h.dict_check != dh->dict_check) {
			free(buf);
			continue;
		}
		rc = unpack_decode(r, u, buf, n, &h, "(held)");
		free(buf);
		/* Still missing, no room yet, or a failed write: kept. */
		if (rc == FRAME_ERR_NODICT || rc == FRAME_ERR_ABORTED)
			continue;
		if (rc == 0)
			u->st.frames_released++;
		if (queue_blob_del(r->queue, hl.key[i], 0, r->err,
		    sizeof(r->err)) != QUEUE_OK)
			durable_failed(r);
		else
			log_info("unpack: gateway %s: held frame %" PRIu64
			    " decoded with dictionary %" PRIu32 "%s",
			    h.gateway_id, h.seq, h.dict_id, rc == 0 ? "" :
			    " and refused");
	}
out:
	free(hl.key);
	free(hl.len);
}

/* queue_blob_each: a gateway's dictionaries to drop (unpack_dict). */
struct unpack_prune {
	uint32_t id;
	uint32_t drop[64];
	size_t n;
};

static int
unpack_list_prune(void *arg, const char *key, const uint8_t *d, size_t len)
{
	struct unpack_prune *p = arg;
	const char *slash = strrchr(key, '/');
	unsigned long v;

	(void)d;
	(void)len;
	if (slash == NULL || p->n == sizeof(p->drop) / sizeof(p->drop[0]))
		return 0;
	v = strtoul(slash + 1, NULL, 10);
	/*
	 * Older than the last few. Higher ids stay: the relay may send an
	 * older dictionary again on request (and a relay whose queue
	 * started over reuses low ids, replacing the old ones as it goes).
	 */
	if (v + UNPACK_DICT_KEEP <= p->id)
		p->drop[p->n++] = (uint32_t)v;
	return 0;
}

/* A dictionary frame: stored for its gateway, then held frames go. */
void
unpack_dict(struct relay *r, struct unpack *u, const uint8_t *buf,
    size_t len, struct frame_header *h, const char *topic)
{
	char key[24 + FRAME_GWID_MAX], what[FRAME_ERR_LEN + 96];
	struct unpack_prune p;
	struct frame_err fe;
	size_t n, i;

	if (u->dbuf == NULL && (u->dbuf = malloc(FRAME_DICT_MAX)) == NULL) {
		snprintf(r->err, sizeof(r->err), "unpack: out of memory for "
		    "a dictionary");
		durable_failed(r);
		return;
	}
	if (frame_dict_decode(buf, len, h, u->dbuf, FRAME_DICT_MAX, &n,
	    &fe) != 0) {
		snprintf(what, sizeof(what), "gateway %s, sequence %" PRIu64
		    ": %s", h->gateway_id, h->seq, fe.msg);
		unpack_refuse(r, &r->st.frames_bad, topic, what);
		return;
	}
	unpack_dict_key(key, sizeof(key), h->gateway_id, h->dict_id);
	if (queue_blob_set(r->queue, key, u->dbuf, n, r->err,
	    sizeof(r->err)) != QUEUE_OK) {
		durable_failed(r);
		return;
	}
	r->dirty = 1;
	u->dict_len = 0;	/* the cache may hold an older one */
	u->st.dictionaries++;
	memset(&p, 0, sizeof(p));
	p.id = h->dict_id;
	snprintf(key, sizeof(key), "dict/%s/", h->gateway_id);
	if (queue_blob_each(r->queue, key, unpack_list_prune, &p, r->err,
	    sizeof(r->err)) != QUEUE_OK) {
		durable_failed(r);
		return;
	}
	for (i = 0; i < p.n; i++) {
		unpack_dict_key(key, sizeof(key), h->gateway_id, p.drop[i]);
		if (queue_blob_del(r->queue, key, 0, r->err,
		    sizeof(r->err)) != QUEUE_OK) {
			durable_failed(r);
			return;
		}
	}
	log_info("unpack: gateway %s: dictionary %" PRIu32 " (%zu bytes, "
	    "check %08" PRIx32 ") stored", h->gateway_id, h->dict_id, n,
	    h->dict_check);
	if (strcmp(u->asked_gw, h->gateway_id) == 0 && u->asked_id ==
	    h->dict_id)
		u->asked_gw[0] = '\0';	/* it came: no more asking */
	unpack_release(r, u, h);
}


void
unpack_tick(struct relay *r)
{
	struct unpack *u = r->unpack;
	struct frame_header h;

	/* The last dictionary asked for has not come: ask again. */
	if (u == NULL || u->asked_gw[0] == '\0' ||
	    r->now_ms - u->asked_ms < UNPACK_ASK_MS ||
	    link_state(r->link[LINK_CENTRAL]) != LINK_UP)
		return;
	memset(&h, 0, sizeof(h));
	snprintf(h.gateway_id, sizeof(h.gateway_id), "%s", u->asked_gw);
	h.dict_id = u->asked_id;
	unpack_ask(r, u, &h, u->asked_topic);
}
