/* SPDX-License-Identifier: ISC */
/*
 * decode: mqtt_decode(), one whole packet to a struct mqtt_packet of views
 * into it, with every check the specifications ask of a packet on its own
 * (chapter 3 of both). CONNECT is in connect.c, the SUBSCRIBE and
 * UNSUBSCRIBE lists in subscribe.c.
 */
#include <stddef.h>
#include <string.h>

#define MQTT_INTERNAL
#include "mqtt/mqtt.h"

/* The flags each packet type must carry (section 2.1.3); PUBLISH: any. */
static const int8_t fixed_flags[16] = {
	-1, 0, 0, -1, 0, 0, 2, 0, 2, 0, 2, 0, 0, 0, 0, 0
};

/* Reads a packet identifier, which is never 0 (section 2.2.1). */
static int
get_id(struct mqtt__rd *r, uint16_t *id)
{
	if (mqtt__get_u16(r, id) != MQTT_OK)
		return MQTT_ERR_MALFORMED;
	return *id != 0 ? MQTT_OK : MQTT_ERR_PROTOCOL;
}

/* Reads a v5 property section for packet type into pr; raw/raw_len (may
 * be NULL) get the view of its bytes. */
int
mqtt__get_props(struct mqtt__rd *r, int type, struct mqtt_props *pr,
    const uint8_t **raw, size_t *raw_len)
{
	uint32_t n;
	int rc;

	if (mqtt__get_varint(r, &n) != MQTT_OK ||
	    (size_t)(r->end - r->p) < n)
		return MQTT_ERR_MALFORMED;
	if ((rc = mqtt_props_parse(r->p, n, type, pr)) != MQTT_OK)
		return rc;
	if (raw != NULL) {
		*raw = n > 0 ? r->p : NULL;
		*raw_len = n;
	}
	r->p += n;
	return MQTT_OK;
}

/* Every byte of the remaining length must have been used. */
static int
at_end(const struct mqtt__rd *r)
{
	return r->p == r->end ? MQTT_OK : MQTT_ERR_MALFORMED;
}

/* CONNACK (section 3.2). */
static int
dec_connack(struct mqtt__rd *r, int protocol, struct mqtt_packet *out)
{
	uint8_t fl, rc;
	int err;

	if (mqtt__get_u8(r, &fl) != MQTT_OK || mqtt__get_u8(r, &rc) != MQTT_OK)
		return MQTT_ERR_MALFORMED;
	if (protocol == MQTT_V5 && (err = mqtt__get_props(r, MQTT_CONNACK,
	    &out->props, NULL, NULL)) != MQTT_OK)
		return err;
	if ((err = at_end(r)) != MQTT_OK)
		return err;
	if ((fl & 0xfe) != 0 || ((fl & 1) != 0 && rc != 0))
		return MQTT_ERR_PROTOCOL;
	if (protocol == MQTT_V5 ? !mqtt__reason_ok(MQTT_CONNACK, rc) : rc > 5)
		return MQTT_ERR_PROTOCOL;
	out->u.connack.session_present = fl & 1;
	out->u.connack.reason = rc;
	return MQTT_OK;
}

/* The topic of a PUBLISH, once its properties are known (3.3.2.1). */
static int
publish_topic_ok(int protocol, const struct mqtt_publish *p,
    const struct mqtt_props *pr)
{
	if (p->topic.len > 0)
		return mqtt_topic_name_valid(p->topic.p, p->topic.len) ?
		    MQTT_OK : MQTT_ERR_PROTOCOL;
	if (protocol == MQTT_V5 && MQTT_HAS(pr, MQTT_P_TOPIC_ALIAS))
		return MQTT_OK;
	return MQTT_ERR_PROTOCOL;
}

/* PUBLISH (section 3.3). */
static int
dec_publish(struct mqtt__rd *r, int protocol, struct mqtt_packet *out)
{
	struct mqtt_publish *p = &out->u.publish;
	int err;

	p->dup = (out->flags >> 3) & 1;
	p->qos = (out->flags >> 1) & 3;
	p->retain = out->flags & 1;
	if (p->qos == 3 || (p->qos == 0 && p->dup))
		return MQTT_ERR_PROTOCOL;
	if (mqtt__get_utf8(r, &p->topic) != MQTT_OK)
		return MQTT_ERR_MALFORMED;
	if (p->qos > 0 && (err = get_id(r, &p->id)) != MQTT_OK)
		return err;
	if (protocol == MQTT_V5 && (err = mqtt__get_props(r, MQTT_PUBLISH,
	    &out->props, &p->props, &p->props_len)) != MQTT_OK)
		return err;
	if ((err = publish_topic_ok(protocol, p, &out->props)) != MQTT_OK)
		return err;
	p->payload = r->p;
	p->payload_len = (size_t)(r->end - r->p);
	r->p = r->end;
	return MQTT_OK;
}

/*
 * PUBACK, PUBREC, PUBREL, PUBCOMP (sections 3.4 to 3.7), and in v5 the
 * same tail of DISCONNECT and AUTH: a reason code that may be left out
 * when it is 0, then properties that may be left out when there are none.
 */
static int
dec_reason_tail(struct mqtt__rd *r, int type, uint8_t *reason,
    struct mqtt_props *pr)
{
	int err;

	*reason = 0;
	if (r->p < r->end)
		(void)mqtt__get_u8(r, reason);
	if (r->p < r->end &&
	    (err = mqtt__get_props(r, type, pr, NULL, NULL)) != MQTT_OK)
		return err;
	if ((err = at_end(r)) != MQTT_OK)
		return err;
	return mqtt__reason_ok(type, *reason) ? MQTT_OK : MQTT_ERR_PROTOCOL;
}

static int
dec_ack(struct mqtt__rd *r, int protocol, struct mqtt_packet *out)
{
	int err;

	if ((err = get_id(r, &out->u.ack.id)) != MQTT_OK)
		return err;
	if (protocol == MQTT_V311)
		return at_end(r);
	return dec_reason_tail(r, out->type, &out->u.ack.reason, &out->props);
}

/* SUBACK and UNSUBACK (sections 3.9 and 3.11). */
static int
dec_suback(struct mqtt__rd *r, int protocol, struct mqtt_packet *out)
{
	int err, sub = out->type == MQTT_SUBACK;
	size_t i;

	if ((err = get_id(r, &out->u.suback.id)) != MQTT_OK)
		return err;
	if (protocol == MQTT_V5 && (err = mqtt__get_props(r, out->type,
	    &out->props, NULL, NULL)) != MQTT_OK)
		return err;
	out->u.suback.reasons = r->p;
	out->u.suback.n = (size_t)(r->end - r->p);
	r->p = r->end;
	if (protocol == MQTT_V311 && !sub)
		return out->u.suback.n == 0 ? MQTT_OK : MQTT_ERR_MALFORMED;
	if (out->u.suback.n == 0)
		return MQTT_ERR_PROTOCOL;
	for (i = 0; i < out->u.suback.n; i++) {
		uint8_t c = out->u.suback.reasons[i];

		if (protocol == MQTT_V311 ? !mqtt__suback311_ok(c) :
		    !mqtt__reason_ok(out->type, c))
			return MQTT_ERR_PROTOCOL;
	}
	return MQTT_OK;
}

/*
 * DISCONNECT (3.14) and AUTH (3.15); 3.1.1 DISCONNECT is empty. AUTH may
 * leave out both its reason and its properties, not the properties alone
 * (MQTT 5 section 3.15.2.1).
 */
static int
dec_disconnect(struct mqtt__rd *r, int protocol, struct mqtt_packet *out)
{
	if (protocol == MQTT_V311)
		return at_end(r);
	if (out->type == MQTT_AUTH && r->end - r->p == 1)
		return MQTT_ERR_MALFORMED;
	return dec_reason_tail(r, out->type, &out->u.disconnect.reason,
	    &out->props);
}

/* SUBSCRIBE and UNSUBSCRIBE (3.8 and 3.10). */
static int
dec_subscribe(struct mqtt__rd *r, int protocol, struct mqtt_packet *out)
{
	int is_sub = out->type == MQTT_SUBSCRIBE, err;

	if ((err = get_id(r, &out->u.subscribe.id)) != MQTT_OK)
		return err;
	if (protocol == MQTT_V5 && (err = mqtt__get_props(r, out->type,
	    &out->props, NULL, NULL)) != MQTT_OK)
		return err;
	out->u.subscribe.list = r->p;
	out->u.subscribe.list_len = (size_t)(r->end - r->p);
	err = mqtt__sub_list_check(r->p, r->end, protocol, is_sub);
	r->p = r->end;
	return err;
}

static int
dec_body(struct mqtt__rd *r, int protocol, struct mqtt_packet *out)
{
	switch (out->type) {
	case MQTT_CONNECT:
		return mqtt__dec_connect(r, out);
	case MQTT_CONNACK:
		return dec_connack(r, protocol, out);
	case MQTT_PUBLISH:
		return dec_publish(r, protocol, out);
	case MQTT_PUBACK:
	case MQTT_PUBREC:
	case MQTT_PUBREL:
	case MQTT_PUBCOMP:
		return dec_ack(r, protocol, out);
	case MQTT_SUBSCRIBE:
	case MQTT_UNSUBSCRIBE:
		return dec_subscribe(r, protocol, out);
	case MQTT_SUBACK:
	case MQTT_UNSUBACK:
		return dec_suback(r, protocol, out);
	case MQTT_PINGREQ:
	case MQTT_PINGRESP:
		return at_end(r);
	case MQTT_DISCONNECT:
		return dec_disconnect(r, protocol, out);
	case MQTT_AUTH:
		if (protocol == MQTT_V311)
			return MQTT_ERR_PROTOCOL;	/* reserved in 3.1.1 */
		return dec_disconnect(r, protocol, out);
	default:
		return MQTT_ERR_MALFORMED;
	}
}

int
mqtt_decode(const uint8_t *pkt, size_t len, int protocol,
    struct mqtt_packet *out)
{
	struct mqtt__rd r;
	uint32_t rl;
	size_t used;

	if (pkt == NULL || out == NULL ||
	    (protocol != MQTT_V311 && protocol != MQTT_V5))
		return MQTT_ERR_INVAL;
	memset(out, 0, sizeof(*out));
	if (len < 2 || (pkt[0] >> 4) == 0)
		return MQTT_ERR_MALFORMED;
	if (mqtt_varint_get(pkt + 1, len - 1, &rl, &used) != 1 ||
	    (size_t)rl != len - 1 - used)
		return MQTT_ERR_MALFORMED;
	out->type = (enum mqtt_type)(pkt[0] >> 4);
	out->flags = pkt[0] & 0x0f;
	if (fixed_flags[out->type] >= 0 &&
	    out->flags != fixed_flags[out->type])
		return MQTT_ERR_PROTOCOL;
	r.p = pkt + 1 + used;
	r.end = pkt + len;
	return dec_body(&r, protocol, out);
}
