/* SPDX-License-Identifier: ISC */
/*
 * link_in: the MQTT packets of a link: what arrives is framed, decoded
 * in place and handed to the owner; what the owner sends is encoded into
 * the output buffer (link.c writes it). See link.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqtt/mqtt.h"
#include "platform/dial.h"
#include "platform/tls.h"
#include "platform/transport.h"
#include "relay/link_int.h"

int
link_mqtt_version(const struct link *l)
{
	return l->protocol == 5 ? MQTT_V5 : MQTT_V311;
}

const char *
link_io_reason(const struct link *l, int err)
{
	if (l->tls != NULL && tls_last_error(l->tls)[0] != '\0')
		return tls_last_error(l->tls);
	return strerror(err);
}

/* How long a PINGREQ may wait for its PINGRESP. */
int64_t
link_ping_wait_ms(const struct link *l)
{
	int64_t w = (int64_t)l->keepalive_s * 500;

	return w < 1000 ? 1000 : w;
}

/* ---- Slots. ---- */

static void
link_slot_free(struct link *l, size_t idx)
{
	if (l->slots[idx].state == LINK_SLOT_HOLD_PUB)
		l->n_hold_pub--;
	l->slots[idx].state = LINK_SLOT_FREE;
	l->slots[idx].cookie = 0;
	l->free_idx[l->n_free++] = (uint16_t)idx;
}

/* Takes slot idx out of the free stack (link_restore); 0 or -1. */
static int
link_slot_take(struct link *l, size_t idx)
{
	size_t i;

	for (i = 0; i < l->n_free; i++) {
		if (l->free_idx[i] != idx)
			continue;
		l->free_idx[i] = l->free_idx[--l->n_free];
		return 0;
	}
	return -1;
}

int
link_restore(struct link *l, uint16_t id, int64_t cookie)
{
	size_t idx = (size_t)id - 1;

	if (id == 0 || idx >= l->window || l->state != LINK_DOWN ||
	    link_slot_take(l, idx) != 0)
		return LINK_ERR_STATE;
	l->slots[idx].cookie = cookie > 0 ? cookie : 0;
	l->slots[idx].state = cookie > 0 ? LINK_SLOT_HOLD_PUB :
	    LINK_SLOT_HOLD_REL;
	l->n_hold_pub += cookie > 0;
	return LINK_OK;
}

/*
 * A connection ended: QoS 1 publishes are the owner's to send again
 * (from its queue, under new ids). A QoS 2 id keeps its slot: the broker
 * may hold it, and a resumed session must see the same id again.
 */
void
link_slots_down(struct link *l)
{
	size_t i;

	for (i = 0; i < l->window; i++) {
		switch (l->slots[i].state) {
		case LINK_SLOT_ACK:
			link_slot_free(l, i);
			break;
		case LINK_SLOT_REC:
			l->slots[i].state = LINK_SLOT_HOLD_PUB;
			l->n_hold_pub++;
			break;
		case LINK_SLOT_REL:
		case LINK_SLOT_COMP:
			l->slots[i].state = LINK_SLOT_HOLD_REL;
			l->slots[i].cookie = 0;
			break;
		default:
			break;
		}
	}
}

static int link_put_ack(struct link *l, int type, uint16_t id);

/*
 * CONNACK accepted. With the session resumed, every owed PUBREL goes
 * again, and held PUBLISHes wait for their cookie (link_publish). With a
 * new session the broker holds none of our ids: they are all free, and
 * the owner sends those messages again as new ones.
 */
static void
link_slots_up(struct link *l, int session_present)
{
	size_t i;

	for (i = 0; i < l->window; i++) {
		switch (l->slots[i].state) {
		case LINK_SLOT_HOLD_REL:
			if (session_present &&
			    link_put_ack(l, MQTT_PUBREL, (uint16_t)(i + 1)) == 0)
				l->slots[i].state = LINK_SLOT_COMP;
			else
				link_slot_free(l, i);
			break;
		case LINK_SLOT_HOLD_PUB:
			if (!session_present)
				link_slot_free(l, i);
			break;
		default:
			break;
		}
	}
}

/* The held slot of cookie, or -1. */
static ssize_t
link_slot_held(const struct link *l, int64_t cookie)
{
	size_t i;

	if (l->n_hold_pub == 0 || cookie <= 0)
		return -1;
	for (i = 0; i < l->window; i++)
		if (l->slots[i].state == LINK_SLOT_HOLD_PUB &&
		    l->slots[i].cookie == cookie)
			return (ssize_t)i;
	return -1;
}

/* ---- Packets out. ---- */

/* Encodes an acknowledgement-shaped packet; 0 or -1 (no memory). */
static int
link_put_ack(struct link *l, int type, uint16_t id)
{
	size_t n = 0;

	if (link_out_reserve(l, 8) != 0)
		return -1;
	if (mqtt_encode_ack(l->out + l->out_len, l->out_cap - l->out_len,
	    link_mqtt_version(l), (enum mqtt_type)type, id, 0, NULL, 0,
	    &n) != MQTT_OK)
		return -1;
	l->out_len += n;
	l->st.packets_out++;
	return 0;
}

int
link_ack(struct link *l, int type, uint16_t id)
{
	size_t idx = (size_t)id - 1;

	/* Nothing may follow our DISCONNECT (CLOSING): it comes again. */
	if (l->state != LINK_UP)
		return LINK_ERR_STATE;
	if (type == MQTT_PUBREL) {
		if (id == 0 || idx >= l->window ||
		    l->slots[idx].state != LINK_SLOT_REL)
			return LINK_ERR_STATE;
		l->slots[idx].state = LINK_SLOT_COMP;
	}
	return link_put_ack(l, type, id) == 0 ? LINK_OK : LINK_ERR_NOMEM;
}

/* The publish's property section: the queue's blob and the expiry. */
static size_t
link_pub_props(const struct queue_msg *m, int64_t wall_ms, uint8_t *buf,
    size_t cap)
{
	struct mqtt_pw w;
	int64_t left;

	mqtt_pw_init(&w, buf, cap);
	if (m->props_len > 0)
		mqtt_pw_raw(&w, m->props, m->props_len);
	if (m->expire_ms != 0) {
		left = (m->expire_ms - wall_ms + 999) / 1000;
		mqtt_pw_u32(&w, MQTT_P_MESSAGE_EXPIRY,
		    left < 1 ? 1u : (uint32_t)left);
	}
	return w.overflow ? (size_t)-1 : w.len;
}

/* Encodes p at the end of the output buffer. */
static int
link_put_publish(struct link *l, const struct mqtt_publish *p, char *err,
    size_t errlen)
{
	int ver = link_mqtt_version(l);
	size_t need = mqtt_publish_size(ver, p), n = 0;
	int rc;

	if (l->max_out != 0 && need > l->max_out)
		return LINK_ERR_TOO_LARGE;
	if (link_out_reserve(l, need) != 0)
		return LINK_ERR_NOMEM;
	rc = mqtt_encode_publish(l->out + l->out_len, l->out_cap - l->out_len,
	    ver, p, &n);
	if (rc != MQTT_OK) {
		snprintf(err, errlen, "%s broker: cannot publish to %.*s: %s",
		    link_name(l), (int)(p->topic.len > 200 ? 200 :
		    p->topic.len), p->topic.p, mqtt_strerror(rc));
		return LINK_ERR_PACKET;
	}
	l->out_len += n;
	l->st.packets_out++;
	return LINK_OK;
}

int
link_publish(struct link *l, const struct queue_msg *m, int64_t wall_ms,
    int64_t cookie, char *err, size_t errlen)
{
	uint8_t props[1024 + 3];
	struct mqtt_publish p;
	ssize_t held = link_slot_held(l, cookie);
	size_t pl, idx = 0;
	uint16_t alias = 0;
	uint32_t h = 0;
	int rc, known = 0;

	if (l->state != LINK_UP)
		return LINK_ERR_STATE;
	if (held < 0 && (link_window_free(l) == 0 || l->n_free == 0))
		return LINK_ERR_WINDOW;
	memset(&p, 0, sizeof(p));
	p.topic.p = m->topic;
	p.topic.len = strlen(m->topic);
	p.qos = m->qos < l->max_qos ? m->qos : l->max_qos;
	p.retain = m->retain;
	p.payload = m->payload;
	p.payload_len = m->payload_len;
	if (l->protocol == 5) {
		if ((pl = link_pub_props(m, wall_ms, props, sizeof(props) -
		    3)) == (size_t)-1)
			pl = 0;	/* Oversized properties are dropped, not it. */
		alias = link_alias_put(l, &p, props, &pl, &known, &h);
		p.props = props;
		p.props_len = pl;
	}
	if (held >= 0) {
		/* Sent before on a session that resumed: same id, DUP. */
		idx = (size_t)held;
		p.qos = 2;
		p.dup = 1;
		p.id = (uint16_t)(idx + 1);
	} else if (p.qos > 0) {
		idx = l->free_idx[l->n_free - 1];
		p.id = (uint16_t)(idx + 1);
	}
	if ((rc = link_put_publish(l, &p, err, errlen)) != LINK_OK)
		return rc;
	if (alias != 0 && !known)
		link_alias_commit(l, alias, m->topic, h);
	l->st.aliased += known;
	if (p.qos == 0)
		return link_q0_add(l, cookie) == 0 ? LINK_OK : LINK_ERR_NOMEM;
	if (held >= 0) {
		l->n_hold_pub--;
	} else {
		l->n_free--;
		if (p.qos == 2)
			l->cbs->on_sent(l->arg, l, cookie, p.id);
	}
	l->slots[idx].cookie = cookie;
	l->slots[idx].state = p.qos == 1 ? LINK_SLOT_ACK : LINK_SLOT_REC;
	return LINK_OK;
}

static uint16_t
link_sub_id(struct link *l)
{
	if (l->next_sub_id < LINK_SUB_ID_FIRST)
		l->next_sub_id = LINK_SUB_ID_FIRST;
	return l->next_sub_id++;
}

static int
link_sub_common(struct link *l, char *const *filters, const int *qos,
    size_t n, char *err, size_t errlen)
{
	struct mqtt_sub subs[64];
	struct mqtt_str fs[64];
	size_t i, len = 0, cap;
	int rc, ver = link_mqtt_version(l);
	uint16_t id = link_sub_id(l);

	if (l->state != LINK_UP)
		return LINK_ERR_STATE;
	if (n > 64) {
		snprintf(err, errlen, "%s broker: more than 64 filters",
		    link_name(l));
		return LINK_ERR_PACKET;
	}
	for (i = 0, cap = 64; i < n; i++) {
		fs[i].p = filters[i];
		fs[i].len = strlen(filters[i]);
		subs[i].filter = fs[i];
		subs[i].options = (uint8_t)(qos != NULL ? qos[i] : 0);
		if (ver == MQTT_V5)
			subs[i].options |= 1u << 2 | 1u << 3 | 1u << 4;
		cap += fs[i].len + 3;
	}
	if (link_out_reserve(l, cap) != 0)
		return LINK_ERR_NOMEM;
	if (qos != NULL)
		rc = mqtt_encode_subscribe(l->out + l->out_len, l->out_cap -
		    l->out_len, ver, id, subs, n, NULL, 0, &len);
	else
		rc = mqtt_encode_unsubscribe(l->out + l->out_len, l->out_cap -
		    l->out_len, ver, id, fs, n, NULL, 0, &len);
	if (rc != MQTT_OK) {
		snprintf(err, errlen, "%s broker: cannot %s: %s", link_name(l),
		    qos != NULL ? "subscribe" : "unsubscribe",
		    mqtt_strerror(rc));
		return LINK_ERR_PACKET;
	}
	l->out_len += len;
	l->st.packets_out++;
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

void
link_keepalive(struct link *l, int64_t now_ms)
{
	size_t n = 0;

	if (l->keepalive_s == 0)
		return;
	if (l->ping_sent_ms != 0) {
		if (now_ms - l->ping_sent_ms >= link_ping_wait_ms(l))
			link_fail(l, "connection lost: no PINGRESP within "
			    "%lld ms", (long long)link_ping_wait_ms(l));
		return;
	}
	/*
	 * A PINGREQ also when nothing came in for a keepalive: a link that
	 * carries a steady upload never falls silent on our side, and without
	 * it only TCP_USER_TIMEOUT (after the last unacknowledged write, and
	 * the kernel's retransmission timer) would see the link die.
	 */
	if (now_ms - link_idle_since(l) < (int64_t)l->keepalive_s * 1000)
		return;
	if (l->state == LINK_CLOSING) {
		/* No PINGREQ may follow our DISCONNECT, which is stuck. */
		link_fail(l, "connection lost: DISCONNECT not written within "
		    "%u s", (unsigned)l->keepalive_s);
		return;
	}
	if (link_out_reserve(l, 2) != 0 ||
	    mqtt_encode_pingreq(l->out + l->out_len, l->out_cap - l->out_len,
	    &n) != MQTT_OK)
		return;
	l->out_len += n;
	l->st.packets_out++;
	l->ping_sent_ms = now_ms;
	link_flush(l, now_ms);
}

/* ---- Packets in. ---- */

/* MQTT 5 reason codes of a refusal (section 2.4). */
#define LINK_R_PROTOCOL		0x82	/* Protocol Error */
#define LINK_R_TOPIC_ALIAS	0x94	/* Topic Alias invalid */

/* A packet the link refuses: MQTT 5 says why in DISCONNECT; then close. */
static void
link_refuse(struct link *l, uint8_t reason, const char *what)
{
	size_t n = 0;

	l->st.refused++;
	if (l->protocol == 5 && link_out_reserve(l, 8) == 0 &&
	    mqtt_encode_disconnect(l->out + l->out_len, l->out_cap -
	    l->out_len, MQTT_V5, reason, NULL, 0, &n) == MQTT_OK) {
		l->out_len += n;
		if (l->ops != NULL)
			(void)l->ops->write(l->tctx, l->out + l->out_off,
			    link_out_pending(l));
	}
	link_fail(l, "connection closed: %s from the broker (%s)", what,
	    mqtt_reason_name(reason));
}

static void
link_on_connack(struct link *l, const struct mqtt_packet *p)
{
	const struct mqtt_props *pr = &p->props;
	uint8_t rc = p->u.connack.reason;

	if (l->state != LINK_CONNECTING) {
		link_refuse(l, LINK_R_PROTOCOL, "a second CONNACK");
		return;
	}
	if (rc != 0) {
		link_fail(l, "connect: broker %s refused: %s", link_address(l),
		    mqtt_connack_name(link_mqtt_version(l), rc));
		return;
	}
	l->max_qos = 2;
	if (MQTT_HAS(pr, MQTT_P_RECEIVE_MAX) && pr->receive_max < l->cap)
		l->limit = pr->receive_max;
	if (MQTT_HAS(pr, MQTT_P_MAX_PACKET_SIZE))
		l->max_out = pr->max_packet_size;
	if (MQTT_HAS(pr, MQTT_P_SERVER_KEEPALIVE))
		l->keepalive_s = pr->server_keepalive;
	if (MQTT_HAS(pr, MQTT_P_MAX_QOS))
		l->max_qos = pr->max_qos;
	/* No Topic Alias Maximum: the broker takes no alias (3.2.2.3.8). */
	l->alias_max = 0;
	if (MQTT_HAS(pr, MQTT_P_TOPIC_ALIAS_MAX))
		l->alias_max = pr->topic_alias_max < l->alias_conf ?
		    pr->topic_alias_max : l->alias_conf;
	l->st.alias_max = l->alias_max;
	l->state = LINK_UP;
	l->deadline_ms = -1;
	link_slots_up(l, p->u.connack.session_present);
	l->cbs->on_up(l->arg, l, p->u.connack.session_present);
}

static void
link_on_publish(struct link *l, const struct mqtt_packet *p)
{
	const struct mqtt_publish *pub = &p->u.publish;
	struct link_msg m;

	if (pub->topic.len == 0 || MQTT_HAS(&p->props, MQTT_P_TOPIC_ALIAS)) {
		/*
		 * We announce no Topic Alias Maximum, so any alias is an
		 * error, also one that comes with its topic to define it.
		 */
		link_refuse(l, LINK_R_TOPIC_ALIAS, "a topic alias");
		return;
	}
	memcpy(l->topic, pub->topic.p, pub->topic.len);
	l->topic[pub->topic.len] = '\0';
	memset(&m, 0, sizeof(m));
	m.topic = l->topic;
	m.topic_len = pub->topic.len;
	m.payload = pub->payload;
	m.payload_len = pub->payload_len;
	m.props = pub->props;
	m.props_len = pub->props_len;
	m.has_expiry = MQTT_HAS(&p->props, MQTT_P_MESSAGE_EXPIRY) != 0;
	m.expiry_s = p->props.message_expiry;
	m.qos = pub->qos;
	m.retain = pub->retain;
	m.dup = pub->dup;
	m.id = pub->id;
	l->cbs->on_message(l->arg, l, &m);
}

/* PUBACK, PUBREC, PUBCOMP for one of our publishes. */
static void
link_on_pub_ack(struct link *l, const struct mqtt_packet *p)
{
	size_t idx = (size_t)p->u.ack.id - 1;
	struct link_slot *s;
	uint8_t reason = p->u.ack.reason;
	int64_t cookie;

	if (p->u.ack.id == 0 || idx >= l->window)
		return;		/* Not ours: ignore. */
	s = &l->slots[idx];
	cookie = s->cookie;
	switch (p->type) {
	case MQTT_PUBACK:
		if (s->state != LINK_SLOT_ACK)
			return;
		link_slot_free(l, idx);
		l->cbs->on_acked(l->arg, l, cookie, 0, reason);
		return;
	case MQTT_PUBREC:
		if (s->state != LINK_SLOT_REC)
			return;
		/* A refusal ends the exchange; else the owner sends PUBREL. */
		if (reason >= 0x80)
			link_slot_free(l, idx);
		else
			s->state = LINK_SLOT_REL;
		s->cookie = 0;
		l->cbs->on_acked(l->arg, l, cookie, reason < 0x80 ?
		    p->u.ack.id : 0, reason);
		if (reason >= 0x80)
			l->cbs->on_complete(l->arg, l, p->u.ack.id);
		return;
	default:	/* PUBCOMP */
		if (s->state != LINK_SLOT_COMP)
			return;
		link_slot_free(l, idx);
		l->cbs->on_complete(l->arg, l, p->u.ack.id);
		return;
	}
}

static void
link_on_suback(struct link *l, const struct mqtt_packet *p)
{
	uint8_t refused = 0;
	size_t i;

	for (i = 0; i < p->u.suback.n; i++)
		if (p->u.suback.reasons[i] >= 0x80 && refused == 0)
			refused = p->u.suback.reasons[i];
	l->cbs->on_suback(l->arg, l, refused);
}

static void
link_on_disconnect(struct link *l, const struct mqtt_packet *p)
{
	const struct mqtt_str *rs = &p->props.reason_string;

	if (rs->p != NULL && mqtt_utf8_valid(rs->p, rs->len, 1))
		link_fail(l, "connection lost: disconnected by the broker: "
		    "%s (%.*s)", mqtt_reason_name(p->u.disconnect.reason),
		    (int)(rs->len > 120 ? 120 : rs->len), rs->p);
	else
		link_fail(l, "connection lost: disconnected by the broker: "
		    "%s", mqtt_reason_name(p->u.disconnect.reason));
}

static void
link_dispatch(struct link *l, const struct mqtt_packet *p)
{
	if (l->state == LINK_CONNECTING && p->type != MQTT_CONNACK) {
		link_refuse(l, LINK_R_PROTOCOL, "a packet before CONNACK");
		return;
	}
	switch (p->type) {
	case MQTT_CONNACK:
		link_on_connack(l, p);
		break;
	case MQTT_PUBLISH:
		link_on_publish(l, p);
		break;
	case MQTT_PUBACK:
	case MQTT_PUBREC:
	case MQTT_PUBCOMP:
		link_on_pub_ack(l, p);
		break;
	case MQTT_PUBREL:
		l->cbs->on_release(l->arg, l, p->u.ack.id);
		break;
	case MQTT_SUBACK:
		link_on_suback(l, p);
		break;
	case MQTT_UNSUBACK:
		break;
	case MQTT_PINGRESP:
		l->ping_sent_ms = 0;
		break;
	case MQTT_DISCONNECT:
		link_on_disconnect(l, p);
		break;
	default:
		link_refuse(l, LINK_R_PROTOCOL, p->type == MQTT_AUTH ?
		    "an AUTH (no authentication exchange was started)" :
		    "a packet only clients send");
		break;
	}
}

/*
 * A broker of MQTT 3.1.1 or older answers our level-5 CONNECT as its own
 * specification tells it to [MQTT-3.1.2-2]: a 3.1.1 CONNACK, return code
 * 1 (unacceptable protocol level), then it closes. That CONNACK has no
 * property section, so the MQTT 5 decoder finds it malformed; a v5
 * CONNACK has at least 3 bytes after the fixed header, so one of 2 is
 * never one. Returns 1 when pkt is such a refusal (the link is then
 * DOWN), else 0.
 */
static int
link_refused_by_old_broker(struct link *l, const uint8_t *pkt, size_t len)
{
	struct mqtt_packet p;

	if (l->state != LINK_CONNECTING || l->protocol != 5 || len != 4 ||
	    mqtt_decode(pkt, len, MQTT_V311, &p) != MQTT_OK ||
	    p.type != MQTT_CONNACK || p.u.connack.reason == 0)
		return 0;
	link_fail(l, "connect: broker %s refused: %s (a CONNACK of MQTT "
	    "3.1.1: the broker does not speak MQTT 5; use option protocol "
	    "'311')", link_address(l),
	    mqtt_connack_name(MQTT_V311, p.u.connack.reason));
	return 1;
}

/* Enough of a PUBLISH's head for its topic and packet id. */
#define LINK_HEAD_MAX	(5 + 2 + 65535 + 2)

/*
 * An oversized PUBLISH over MQTT 3.1.1: closing the connection would only
 * bring it back after every reconnect (the broker cannot be told the
 * limit). So its head is read for the QoS and packet id, the owner is told
 * (on_oversized), and the rest is discarded as it arrives. Returns 1 when
 * the packet at pos is taken care of (skip_left set), 0 when more of its
 * head is needed, -1 when this does not apply (MQTT 5, not a PUBLISH).
 */
static int
link_skip_oversized(struct link *l, size_t pos, size_t plen)
{
	const uint8_t *b = l->in + pos;
	size_t avail = l->in_len - pos, used = 0, hdr, need;
	uint32_t rem;
	uint16_t id = 0;
	int qos;

	if (l->protocol == 5 || (b[0] >> 4) != MQTT_PUBLISH)
		return -1;
	if ((qos = (b[0] >> 1) & 3) == 3)
		return -1;
	if (mqtt_varint_get(b + 1, avail - 1, &rem, &used) != 1)
		return used > 4 ? -1 : 0;
	hdr = 1 + used;
	if (avail < hdr + 2)
		return 0;
	need = hdr + 2 + ((size_t)b[hdr] << 8 | b[hdr + 1]) + (qos > 0 ? 2 : 0);
	if (need > plen)
		return -1;
	if (avail < need)
		return 0;
	if (qos > 0)
		id = (uint16_t)(b[need - 2] << 8 | b[need - 1]);
	l->st.refused++;
	l->skip_left = plen;
	l->cbs->on_oversized(l->arg, l, qos, id, plen);
	return 1;
}

/* Drops what is left of a refused packet from the front of the buffer. */
static void
link_skip(struct link *l)
{
	size_t n = l->skip_left < l->in_len ? l->skip_left : l->in_len;

	if (n == 0)
		return;
	memmove(l->in, l->in + n, l->in_len - n);
	l->in_len -= n;
	l->skip_left -= n;
}

/*
 * Frames and dispatches every whole packet in the input buffer. Returns
 * 0 to go on reading, -1 when the connection is gone (or was replaced).
 */
static int
link_parse(struct link *l)
{
	struct mqtt_packet p;
	size_t pos = 0, plen = 0;
	uint32_t gen = l->gen;
	int rc, skip;

	link_skip(l);
	for (;;) {
		rc = mqtt_frame(l->in + pos, l->in_len - pos, l->max_in, &plen);
		if (rc == 0)
			break;
		if (rc == MQTT_ERR_TOO_LARGE &&
		    (skip = link_skip_oversized(l, pos, plen)) >= 0) {
			if (l->gen != gen || l->state == LINK_DOWN)
				return -1;
			if (skip == 0) {
				plen = LINK_HEAD_MAX;	/* room for the head */
				break;
			}
			l->skip_left = plen - (l->in_len - pos < plen ?
			    l->in_len - pos : plen);
			pos += plen - l->skip_left;
			plen = 0;
			continue;
		}
		if (rc < 0) {
			link_refuse(l, mqtt_err_reason(rc), plen > 0 ?
			    "an oversized packet" :
			    "a malformed packet");
			return -1;
		}
		l->st.packets_in++;
		if ((rc = mqtt_decode(l->in + pos, plen, link_mqtt_version(l),
		    &p)) != MQTT_OK) {
			if (link_refused_by_old_broker(l, l->in + pos, plen))
				return -1;
			link_refuse(l, mqtt_err_reason(rc), "an invalid packet");
			return -1;
		}
		link_dispatch(l, &p);
		if (l->gen != gen || l->state == LINK_DOWN)
			return -1;
		pos += plen;
	}
	if (pos > 0) {
		memmove(l->in, l->in + pos, l->in_len - pos);
		l->in_len -= pos;
	}
	/* A packet larger than the buffer: grow it (max_in bounds it). */
	if (plen > l->in_cap) {
		uint8_t *nb = realloc(l->in, plen);

		if (nb == NULL) {
			link_fail(l, "connection closed: out of memory for a "
			    "packet of %zu bytes", plen);
			return -1;
		}
		l->in = nb;
		l->in_cap = plen;
	} else if (l->in_len == 0 && l->in_cap > LINK_IN_INIT) {
		uint8_t *nb = realloc(l->in, LINK_IN_INIT);

		if (nb != NULL) {
			l->in = nb;
			l->in_cap = LINK_IN_INIT;
		}
	}
	return 0;
}

void
link_read(struct link *l, int64_t now_ms)
{
	size_t total = 0;
	ssize_t n;

	while (total < LINK_READ_PASS && l->in_len < l->in_cap) {
		n = l->ops->read(l->tctx, l->in + l->in_len,
		    l->in_cap - l->in_len);
		if (n == TRANSPORT_IO_AGAIN) {
			l->read_dry = 1;
			return;
		}
		l->read_dry = 0;
		if (n == 0) {
			link_fail(l, "connection lost: closed by the broker");
			return;
		}
		if (n < 0 && l->state == LINK_CONNECTING) {
			/* A TLS 1.3 server refuses after our Finished. */
			link_fail(l, "connect: broker %s: %s",
			    dial_address(l->dial), link_io_reason(l, errno));
			return;
		}
		if (n < 0) {
			link_fail(l, "connection lost: read: %s",
			    link_io_reason(l, errno));
			return;
		}
		l->st.rx_bytes += (uint64_t)n;
		l->last_rx_ms = now_ms;
		l->in_len += (size_t)n;
		total += (size_t)n;
		if (link_parse(l) != 0)
			return;
	}
}
