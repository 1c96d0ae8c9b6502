/* SPDX-License-Identifier: ISC */
/*
 * encode: the encoders for PUBLISH, the acknowledgements, PINGREQ,
 * PINGRESP, DISCONNECT, AUTH, CONNACK and SUBACK/UNSUBACK, and the helpers
 * every encoder shares: each checks its arguments, sizes the packet, and
 * writes it only when it fits (connect.c and subscribe.c hold the rest).
 */
#include <assert.h>
#include <stddef.h>

#define MQTT_INTERNAL
#include "mqtt/mqtt.h"

size_t
mqtt__pkt_size(size_t rl)
{
	if (rl > MQTT_MAX_REMAINING)
		return 0;
	return 1 + mqtt_varint_len((uint32_t)rl) + rl;
}

size_t
mqtt__props_size(size_t props_len)
{
	if (props_len > MQTT_MAX_REMAINING)
		return MQTT_MAX_PACKET;	/* too large for any packet */
	return mqtt_varint_len((uint32_t)props_len) + props_len;
}

int
mqtt__props_ok(int type, const uint8_t *props, size_t props_len)
{
	struct mqtt_props pr;

	if (props_len > MQTT_MAX_REMAINING || (props == NULL && props_len > 0))
		return 0;
	return mqtt_props_parse(props, props_len, type, &pr) == MQTT_OK;
}

int
mqtt__begin(struct mqtt_pw *w, uint8_t *buf, size_t cap, uint8_t b0,
    size_t rl, size_t *n)
{
	size_t total = mqtt__pkt_size(rl);

	*n = total;
	if (total == 0)
		return MQTT_ERR_INVAL;
	if (buf == NULL || total > cap)
		return MQTT_ERR_SPACE;
	mqtt_pw_init(w, buf, total);
	mqtt__put_u8(w, b0);
	mqtt__put_varint(w, (uint32_t)rl);
	return MQTT_OK;
}

int
mqtt__end(const struct mqtt_pw *w, size_t *n)
{
	/* The size computed first and the bytes written must agree. */
	assert(!w->overflow && w->len == *n);
	if (w->overflow || w->len != *n)
		return MQTT_ERR_INVAL;
	return MQTT_OK;
}

/* Writes a v5 property section: its length, then the properties. */
void
mqtt__put_props(struct mqtt_pw *w, const uint8_t *props, size_t props_len)
{
	mqtt__put_varint(w, (uint32_t)props_len);
	mqtt_pw_raw(w, props, props_len);
}

/* The remaining length of a PUBLISH; > MQTT_MAX_REMAINING when none. */
static size_t
publish_rl(int protocol, const struct mqtt_publish *p)
{
	size_t rl;

	if (p->topic.len > MQTT_MAX_STR || p->payload_len > MQTT_MAX_REMAINING)
		return MQTT_MAX_PACKET;
	rl = 2 + p->topic.len + (p->qos > 0 ? 2 : 0) + p->payload_len;
	if (protocol == MQTT_V5)
		rl += mqtt__props_size(p->props_len);
	return rl;
}

size_t
mqtt_publish_size(int protocol, const struct mqtt_publish *p)
{
	return mqtt__pkt_size(publish_rl(protocol, p));
}

/* The checks of mqtt_encode_publish(), as in mqtt_decode(). */
static int
publish_ok(int protocol, const struct mqtt_publish *p)
{
	struct mqtt_props pr;

	if ((protocol != MQTT_V311 && protocol != MQTT_V5) || p->qos < 0 ||
	    p->qos > 2 || (p->qos > 0 && p->id == 0) ||
	    (p->qos == 0 && p->dup) || (p->topic.p == NULL && p->topic.len > 0) ||
	    (p->payload == NULL && p->payload_len > 0))
		return 0;
	if (p->topic.len > 0 && !mqtt_topic_name_valid(p->topic.p, p->topic.len))
		return 0;
	if (protocol == MQTT_V311)
		return p->topic.len > 0;
	if (p->props_len > MQTT_MAX_REMAINING ||
	    (p->props == NULL && p->props_len > 0) ||
	    mqtt_props_parse(p->props, p->props_len, MQTT_PUBLISH, &pr) !=
	    MQTT_OK)
		return 0;
	return p->topic.len > 0 || MQTT_HAS(&pr, MQTT_P_TOPIC_ALIAS);
}

int
mqtt_encode_publish(uint8_t *buf, size_t cap, int protocol,
    const struct mqtt_publish *p, size_t *n)
{
	struct mqtt_pw w;
	uint8_t b0;
	int err;

	*n = 0;
	if (p == NULL || !publish_ok(protocol, p))
		return MQTT_ERR_INVAL;
	b0 = (uint8_t)(MQTT_PUBLISH << 4 | (p->dup ? 8 : 0) | p->qos << 1 |
	    (p->retain ? 1 : 0));
	if ((err = mqtt__begin(&w, buf, cap, b0, publish_rl(protocol, p), n)) !=
	    MQTT_OK)
		return err;
	mqtt__put_bin(&w, p->topic.p, p->topic.len);
	if (p->qos > 0)
		mqtt__put_u16(&w, p->id);
	if (protocol == MQTT_V5)
		mqtt__put_props(&w, p->props, p->props_len);
	mqtt_pw_raw(&w, p->payload, p->payload_len);
	return mqtt__end(&w, n);
}

/* The remaining length of a v5 reason code and properties, each left out
 * when empty (0-length form: omit_all, for DISCONNECT and AUTH). */
static size_t
reason_rl(uint8_t reason, size_t props_len, int omit_all)
{
	if (props_len == 0)
		return reason == 0 && omit_all ? 0 : 1;
	return 1 + mqtt__props_size(props_len);
}

static void
put_reason_tail(struct mqtt_pw *w, uint8_t reason, const uint8_t *props,
    size_t props_len, size_t rl)
{
	if (rl >= 1)
		mqtt__put_u8(w, reason);
	if (rl >= 2)
		mqtt__put_props(w, props, props_len);
}

size_t
mqtt_ack_size(int protocol, uint8_t reason, size_t props_len)
{
	if (protocol == MQTT_V311 || (reason == 0 && props_len == 0))
		return 4;
	return mqtt__pkt_size(2 + reason_rl(reason, props_len, 0));
}

int
mqtt_encode_ack(uint8_t *buf, size_t cap, int protocol, enum mqtt_type type,
    uint16_t id, uint8_t reason, const uint8_t *props, size_t props_len,
    size_t *n)
{
	struct mqtt_pw w;
	size_t rl = 2;
	int err;

	*n = 0;
	if (type < MQTT_PUBACK || type > MQTT_PUBCOMP || id == 0 ||
	    (protocol != MQTT_V311 && protocol != MQTT_V5))
		return MQTT_ERR_INVAL;
	if (protocol == MQTT_V5) {
		if (!mqtt__reason_ok(type, reason) ||
		    !mqtt__props_ok(type, props, props_len))
			return MQTT_ERR_INVAL;
		if (reason != 0 || props_len != 0)
			rl += reason_rl(reason, props_len, 0);
	}
	if ((err = mqtt__begin(&w, buf, cap, (uint8_t)(type << 4 |
	    (type == MQTT_PUBREL ? 2 : 0)), rl, n)) != MQTT_OK)
		return err;
	mqtt__put_u16(&w, id);
	put_reason_tail(&w, reason, props, props_len, rl - 2);
	return mqtt__end(&w, n);
}

static int
encode_empty(uint8_t *buf, size_t cap, enum mqtt_type type, size_t *n)
{
	struct mqtt_pw w;
	int err;

	if ((err = mqtt__begin(&w, buf, cap, (uint8_t)(type << 4), 0, n)) !=
	    MQTT_OK)
		return err;
	return mqtt__end(&w, n);
}

int
mqtt_encode_pingreq(uint8_t *buf, size_t cap, size_t *n)
{
	return encode_empty(buf, cap, MQTT_PINGREQ, n);
}

int
mqtt_encode_pingresp(uint8_t *buf, size_t cap, size_t *n)
{
	return encode_empty(buf, cap, MQTT_PINGRESP, n);
}

/* DISCONNECT and AUTH in v5: a reason and properties. */
static int
encode_reason(uint8_t *buf, size_t cap, enum mqtt_type type, uint8_t reason,
    const uint8_t *props, size_t props_len, size_t *n)
{
	struct mqtt_pw w;
	size_t rl;
	int err;

	*n = 0;
	if (!mqtt__reason_ok(type, reason) ||
	    !mqtt__props_ok(type, props, props_len))
		return MQTT_ERR_INVAL;
	/* AUTH has no documented reason-only form: properties follow. */
	rl = reason_rl(reason, props_len, 1);
	if (type == MQTT_AUTH && rl == 1)
		rl = 2;
	if ((err = mqtt__begin(&w, buf, cap, (uint8_t)(type << 4), rl, n)) !=
	    MQTT_OK)
		return err;
	put_reason_tail(&w, reason, props, props_len, rl);
	return mqtt__end(&w, n);
}

size_t
mqtt_disconnect_size(int protocol, uint8_t reason, size_t props_len)
{
	if (protocol == MQTT_V311)
		return 2;
	return mqtt__pkt_size(reason_rl(reason, props_len, 1));
}

int
mqtt_encode_disconnect(uint8_t *buf, size_t cap, int protocol,
    uint8_t reason, const uint8_t *props, size_t props_len, size_t *n)
{
	*n = 0;
	if (protocol == MQTT_V311)
		return encode_empty(buf, cap, MQTT_DISCONNECT, n);
	if (protocol != MQTT_V5)
		return MQTT_ERR_INVAL;
	return encode_reason(buf, cap, MQTT_DISCONNECT, reason, props,
	    props_len, n);
}

size_t
mqtt_auth_size(uint8_t reason, size_t props_len)
{
	size_t rl = reason_rl(reason, props_len, 1);

	return mqtt__pkt_size(rl == 1 ? 2 : rl);
}

int
mqtt_encode_auth(uint8_t *buf, size_t cap, uint8_t reason,
    const uint8_t *props, size_t props_len, size_t *n)
{
	return encode_reason(buf, cap, MQTT_AUTH, reason, props, props_len, n);
}

size_t
mqtt_connack_size(int protocol, size_t props_len)
{
	if (protocol == MQTT_V311)
		return 4;
	return mqtt__pkt_size(2 + mqtt__props_size(props_len));
}

int
mqtt_encode_connack(uint8_t *buf, size_t cap, int protocol,
    int session_present, uint8_t reason, const uint8_t *props,
    size_t props_len, size_t *n)
{
	struct mqtt_pw w;
	int err;

	*n = 0;
	if (protocol == MQTT_V311 ? reason > 5 : (protocol != MQTT_V5 ||
	    !mqtt__reason_ok(MQTT_CONNACK, reason) ||
	    !mqtt__props_ok(MQTT_CONNACK, props, props_len)))
		return MQTT_ERR_INVAL;
	if (session_present && reason != 0)
		return MQTT_ERR_INVAL;
	if ((err = mqtt__begin(&w, buf, cap, MQTT_CONNACK << 4,
	    protocol == MQTT_V311 ? 2 : 2 + mqtt__props_size(props_len), n)) !=
	    MQTT_OK)
		return err;
	mqtt__put_u8(&w, session_present ? 1 : 0);
	mqtt__put_u8(&w, reason);
	if (protocol == MQTT_V5)
		mqtt__put_props(&w, props, props_len);
	return mqtt__end(&w, n);
}

/* The remaining length of SUBACK/UNSUBACK. */
static size_t
suback_rl(int protocol, enum mqtt_type type, size_t nreasons,
    size_t props_len)
{
	if (protocol == MQTT_V311)
		return type == MQTT_UNSUBACK ? 2 : 2 + nreasons;
	if (nreasons > MQTT_MAX_REMAINING)
		return MQTT_MAX_PACKET;
	return 2 + mqtt__props_size(props_len) + nreasons;
}

size_t
mqtt_suback_size(int protocol, enum mqtt_type type, size_t nreasons,
    size_t props_len)
{
	return mqtt__pkt_size(suback_rl(protocol, type, nreasons, props_len));
}

static int
suback_ok(int protocol, enum mqtt_type type, uint16_t id,
    const uint8_t *reasons, size_t nreasons)
{
	size_t i;

	if ((type != MQTT_SUBACK && type != MQTT_UNSUBACK) || id == 0 ||
	    (protocol != MQTT_V311 && protocol != MQTT_V5))
		return 0;
	if (protocol == MQTT_V311 && type == MQTT_UNSUBACK)
		return 1;
	if (nreasons == 0 || reasons == NULL)
		return 0;
	for (i = 0; i < nreasons; i++)
		if (protocol == MQTT_V311 ? !mqtt__suback311_ok(reasons[i]) :
		    !mqtt__reason_ok(type, reasons[i]))
			return 0;
	return 1;
}

int
mqtt_encode_suback(uint8_t *buf, size_t cap, int protocol,
    enum mqtt_type type, uint16_t id, const uint8_t *reasons,
    size_t nreasons, const uint8_t *props, size_t props_len, size_t *n)
{
	struct mqtt_pw w;
	int err;

	*n = 0;
	if (!suback_ok(protocol, type, id, reasons, nreasons) ||
	    (protocol == MQTT_V5 && !mqtt__props_ok(type, props, props_len)))
		return MQTT_ERR_INVAL;
	if ((err = mqtt__begin(&w, buf, cap, (uint8_t)(type << 4),
	    suback_rl(protocol, type, nreasons, props_len), n)) != MQTT_OK)
		return err;
	mqtt__put_u16(&w, id);
	if (protocol == MQTT_V5)
		mqtt__put_props(&w, props, props_len);
	if (protocol == MQTT_V5 || type == MQTT_SUBACK)
		mqtt_pw_raw(&w, reasons, nreasons);
	return mqtt__end(&w, n);
}
