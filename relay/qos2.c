/* SPDX-License-Identifier: ISC */
/*
 * qos2: the packet ids of QoS 2 exchanges, kept in the queue's meta table
 * so that they survive a restart (docs/design.md, "Exactly once"):
 * "rx2/SIDE/ID" = 1 while an inbound message is stored and its PUBREL
 * has not come; "tx2/SIDE/ID" = the queue id of our PUBLISH while its
 * PUBREC has not come, -1 while our PUBREL is owed; 0 when done. Every
 * write goes into the open transaction; a failed one is reported with
 * durable_failed(), so that nothing of that transaction is acknowledged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform/log.h"
#include "relay/relay.h"

static void
qos2_key(char *key, size_t cap, char dir, enum link_side side, uint16_t id)
{
	snprintf(key, cap, "%cx2/%d/%u", dir, (int)side, (unsigned)id);
}

static void
qos2_set(struct relay *r, const char *key, int64_t v)
{
	if (queue_meta_set(r->queue, key, v, r->err, sizeof(r->err)) !=
	    QUEUE_OK)
		durable_failed(r);
	r->dirty = 1;
}

int
qos2_in_seen(struct relay *r, enum link_side side, uint16_t id)
{
	char key[32];
	int64_t v = 0;
	int rc;

	qos2_key(key, sizeof(key), 'r', side, id);
	rc = queue_meta_get(r->queue, key, &v, r->err, sizeof(r->err));
	if (rc == 1 && v == 1) {
		r->st.qos2_dup++;
		return 1;
	}
	if (rc < 0)
		durable_failed(r);
	else
		qos2_set(r, key, 1);
	return 0;
}

void
qos2_in_released(struct relay *r, enum link_side side, uint16_t id)
{
	char key[32];

	qos2_key(key, sizeof(key), 'r', side, id);
	qos2_set(r, key, 0);
}

void
qos2_out_set(struct relay *r, enum link_side side, uint16_t id, int64_t v)
{
	char key[32];

	qos2_key(key, sizeof(key), 't', side, id);
	qos2_set(r, key, v);
}

void
qos2_out_note(struct relay *r, enum link_side side, int64_t cookie,
    uint16_t id)
{
	struct relay_tx2 *t = &r->tx2;
	void *nv;
	size_t ncap;

	r->hold_flush[side] = 1;
	if (t->n == t->cap) {
		ncap = t->cap != 0 ? t->cap * 2 : 64;
		if ((nv = realloc(t->v, ncap * sizeof(*t->v))) == NULL) {
			/* Not stored: a restart cannot resume it (at least once). */
			log_err("qos2: out of memory for a packet id");
			return;
		}
		t->v = nv;
		t->cap = ncap;
	}
	t->v[t->n].cookie = cookie;
	t->v[t->n].id = id;
	t->v[t->n].side = (uint8_t)side;
	t->n++;
}

void
qos2_out_flush(struct relay *r)
{
	size_t i;

	for (i = 0; i < r->tx2.n; i++)
		qos2_out_set(r, (enum link_side)r->tx2.v[i].side,
		    r->tx2.v[i].id, r->tx2.v[i].cookie);
	r->tx2.n = 0;
}

void
qos2_forget(struct relay *r, enum link_side side)
{
	char prefix[32];

	snprintf(prefix, sizeof(prefix), "rx2/%d/", (int)side);
	if (queue_meta_clear(r->queue, prefix, r->err, sizeof(r->err)) !=
	    QUEUE_OK)
		durable_failed(r);
	prefix[0] = 't';
	if (queue_meta_clear(r->queue, prefix, r->err, sizeof(r->err)) !=
	    QUEUE_OK)
		durable_failed(r);
	r->dirty = 1;
}

struct qos2_restore {
	struct relay *r;
	enum link_side side;
	size_t n;
};

static void
qos2_restore_one(void *arg, const char *key, int64_t val)
{
	struct qos2_restore *q = arg;
	const char *p = strrchr(key, '/');
	unsigned long id;

	if (val == 0 || p == NULL)
		return;
	id = strtoul(p + 1, NULL, 10);
	if (id == 0 || id > 65535 || link_restore(q->r->link[q->side],
	    (uint16_t)id, val) != LINK_OK)
		return;
	q->n++;
}

void
qos2_restore(struct relay *r)
{
	struct qos2_restore q = { r, LINK_LOCAL, 0 };
	char prefix[32];
	int side;

	for (side = 0; side < 2; side++) {
		q.side = (enum link_side)side;
		q.n = 0;
		snprintf(prefix, sizeof(prefix), "tx2/%d/", side);
		if (queue_meta_each(r->queue, prefix, qos2_restore_one, &q,
		    r->err, sizeof(r->err)) != QUEUE_OK)
			log_err("%s", r->err);
		if (q.n > 0)
			log_info("%s broker: %zu QoS 2 exchanges to finish on "
			    "a resumed session", link_name(r->link[side]), q.n);
	}
}
