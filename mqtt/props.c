/* SPDX-License-Identifier: ISC */
/*
 * props: MQTT 5 properties (section 2.2.2): the identifier table, the
 * iterator over raw property bytes, the validating parser that fills a
 * struct mqtt_props, and the property writer.
 */
#include <stddef.h>
#include <string.h>

#define MQTT_INTERNAL
#include "mqtt/mqtt.h"

/* Value types (section 2.2.2.2). */
enum pkind {
	K_NONE = 0,		/* not a property identifier */
	K_BYTE,
	K_U16,
	K_U32,
	K_VARINT,
	K_UTF8,
	K_BIN,
	K_PAIR
};

/* Value rules. */
#define F_01		0x01	/* 0 or 1 */
#define F_NZ		0x02	/* not 0 */
#define F_TOPIC		0x04	/* a topic name: no wildcards, not empty */
#define F_REPEAT	0x08	/* may appear more than once */

/* Packet bits: 1u << enum mqtt_type, and bit 0 for the will. */
#define A_WILL		(1u << 0)
#define A(t)		(1u << MQTT_##t)
#define A_MSG		(A(PUBLISH) | A_WILL)
#define A_ALL		(A(CONNECT) | A(CONNACK) | A_MSG | A(PUBACK) | \
	A(PUBREC) | A(PUBREL) | A(PUBCOMP) | A(SUBSCRIBE) | A(SUBACK) | \
	A(UNSUBSCRIBE) | A(UNSUBACK) | A(DISCONNECT) | A(AUTH))
#define A_REASON	(A(CONNACK) | A(PUBACK) | A(PUBREC) | A(PUBREL) | \
	A(PUBCOMP) | A(SUBACK) | A(UNSUBACK) | A(DISCONNECT) | A(AUTH))

struct pdef {
	uint8_t kind;
	uint8_t rules;
	uint32_t allowed;	/* packet bits */
	size_t off;		/* the field of struct mqtt_props */
};

#define P(id, k, r, a, f) \
	[id] = { k, r, a, offsetof(struct mqtt_props, f) }

static const struct pdef pdefs[MQTT_P_SHARED_SUB_AVAILABLE + 1] = {
	P(0x01, K_BYTE, F_01, A_MSG, payload_format),
	P(0x02, K_U32, 0, A_MSG, message_expiry),
	P(0x03, K_UTF8, 0, A_MSG, content_type),
	P(0x08, K_UTF8, F_TOPIC, A_MSG, response_topic),
	P(0x09, K_BIN, 0, A_MSG, correlation_data),
	P(0x0B, K_VARINT, F_NZ, A(PUBLISH) | A(SUBSCRIBE), subscription_id),
	P(0x11, K_U32, 0, A(CONNECT) | A(CONNACK) | A(DISCONNECT),
	    session_expiry),
	P(0x12, K_UTF8, 0, A(CONNACK), assigned_client_id),
	P(0x13, K_U16, 0, A(CONNACK), server_keepalive),
	P(0x15, K_UTF8, 0, A(CONNECT) | A(CONNACK) | A(AUTH), auth_method),
	P(0x16, K_BIN, 0, A(CONNECT) | A(CONNACK) | A(AUTH), auth_data),
	P(0x17, K_BYTE, F_01, A(CONNECT), request_problem_info),
	P(0x18, K_U32, 0, A_WILL, will_delay),
	P(0x19, K_BYTE, F_01, A(CONNECT), request_response_info),
	P(0x1A, K_UTF8, 0, A(CONNACK), response_info),
	P(0x1C, K_UTF8, 0, A(CONNACK) | A(DISCONNECT), server_reference),
	P(0x1F, K_UTF8, 0, A_REASON, reason_string),
	P(0x21, K_U16, F_NZ, A(CONNECT) | A(CONNACK), receive_max),
	P(0x22, K_U16, 0, A(CONNECT) | A(CONNACK), topic_alias_max),
	P(0x23, K_U16, F_NZ, A(PUBLISH), topic_alias),
	P(0x24, K_BYTE, F_01, A(CONNACK), max_qos),
	P(0x25, K_BYTE, F_01, A(CONNACK), retain_available),
	P(0x26, K_PAIR, F_REPEAT, A_ALL, n_user),
	P(0x27, K_U32, F_NZ, A(CONNECT) | A(CONNACK), max_packet_size),
	P(0x28, K_BYTE, F_01, A(CONNACK), wildcard_sub_available),
	P(0x29, K_BYTE, F_01, A(CONNACK), sub_id_available),
	P(0x2A, K_BYTE, F_01, A(CONNACK), shared_sub_available),
};

static const struct pdef *
pdef_get(uint8_t id)
{
	if (id >= sizeof(pdefs) / sizeof(pdefs[0]) || pdefs[id].kind == K_NONE)
		return NULL;
	return &pdefs[id];
}

/* Reads the value of a property of kind k into out. */
static int
prop_value(struct mqtt__rd *r, uint8_t k, struct mqtt_prop *out)
{
	uint8_t b;
	uint16_t h;

	switch (k) {
	case K_BYTE:
		if (mqtt__get_u8(r, &b) != MQTT_OK)
			return MQTT_ERR_MALFORMED;
		out->num = b;
		return MQTT_OK;
	case K_U16:
		if (mqtt__get_u16(r, &h) != MQTT_OK)
			return MQTT_ERR_MALFORMED;
		out->num = h;
		return MQTT_OK;
	case K_U32:
		return mqtt__get_u32(r, &out->num);
	case K_VARINT:
		return mqtt__get_varint(r, &out->num);
	case K_UTF8:
	case K_BIN:
		return mqtt__get_bin(r, &out->s);
	case K_PAIR:
		if (mqtt__get_bin(r, &out->s) != MQTT_OK)
			return MQTT_ERR_MALFORMED;
		return mqtt__get_bin(r, &out->s2);
	default:
		return MQTT_ERR_MALFORMED;
	}
}

int
mqtt_prop_next(const uint8_t **p, const uint8_t *end, struct mqtt_prop *out)
{
	struct mqtt__rd r = { *p, end };
	const struct pdef *d;

	if (*p >= end)
		return 0;
	memset(out, 0, sizeof(*out));
	out->id = *r.p++;
	if ((d = pdef_get(out->id)) == NULL)
		return MQTT_ERR_MALFORMED;
	if (prop_value(&r, d->kind, out) != MQTT_OK)
		return MQTT_ERR_MALFORMED;
	out->wire = *p;
	out->wire_len = (size_t)(r.p - *p);
	*p = r.p;
	return 1;
}

/* Checks one property's value: UTF-8 first (malformed), then its rules. */
static int
prop_check(const struct pdef *d, const struct mqtt_prop *pr)
{
	if ((d->kind == K_UTF8 || d->kind == K_PAIR) &&
	    (!mqtt_utf8_valid(pr->s.p, pr->s.len, 0) ||
	    !mqtt_utf8_valid(pr->s2.p, pr->s2.len, 0)))
		return MQTT_ERR_MALFORMED;
	if ((d->rules & F_01) != 0 && pr->num > 1)
		return MQTT_ERR_PROTOCOL;
	if ((d->rules & F_NZ) != 0 && pr->num == 0)
		return MQTT_ERR_PROTOCOL;
	if ((d->rules & F_TOPIC) != 0 &&
	    !mqtt_topic_name_valid(pr->s.p, pr->s.len))
		return MQTT_ERR_PROTOCOL;
	return MQTT_OK;
}

/* Stores a checked property in its field of out (the first one wins). */
static void
prop_store(const struct pdef *d, const struct mqtt_prop *pr,
    struct mqtt_props *out)
{
	char *f = (char *)out + d->off;

	if (MQTT_HAS(out, pr->id) && d->kind != K_PAIR)
		return;
	switch (d->kind) {
	case K_BYTE:
		*(uint8_t *)(void *)f = (uint8_t)pr->num;
		break;
	case K_U16:
		*(uint16_t *)(void *)f = (uint16_t)pr->num;
		break;
	case K_U32:
	case K_VARINT:
		*(uint32_t *)(void *)f = pr->num;
		break;
	case K_UTF8:
	case K_BIN:
		*(struct mqtt_str *)(void *)f = pr->s;
		break;
	default:
		out->n_user++;
		break;
	}
	out->has |= 1ull << pr->id;
}

/* Where a packet type or MQTT_WILL_PROPS sits in the allowed bits. */
static uint32_t
type_bit(int type)
{
	if (type == MQTT_WILL_PROPS)
		return A_WILL;
	if (type < MQTT_CONNECT || type > MQTT_AUTH)
		return 0;
	return 1u << type;
}

int
mqtt_props_parse(const uint8_t *raw, size_t len, int type,
    struct mqtt_props *out)
{
	const uint8_t *p = raw, *end;
	uint32_t bit = type_bit(type);
	const struct pdef *d;
	struct mqtt_prop pr;
	int rc;

	memset(out, 0, sizeof(*out));
	if (len == 0)
		return MQTT_OK;
	if (raw == NULL || bit == 0)
		return MQTT_ERR_PROTOCOL;
	end = raw + len;
	out->raw = raw;
	out->raw_len = len;
	while ((rc = mqtt_prop_next(&p, end, &pr)) == 1) {
		d = pdef_get(pr.id);
		if ((d->allowed & bit) == 0)
			return MQTT_ERR_PROTOCOL;
		if (MQTT_HAS(out, pr.id) && (d->rules & F_REPEAT) == 0 &&
		    !(pr.id == MQTT_P_SUBSCRIPTION_ID && type == MQTT_PUBLISH))
			return MQTT_ERR_PROTOCOL;
		if ((rc = prop_check(d, &pr)) != MQTT_OK)
			return rc;
		prop_store(d, &pr, out);
	}
	if (rc != 0)
		return rc;
	/* Section 3.1.2.11.10: no authentication data without a method. */
	if (MQTT_HAS(out, MQTT_P_AUTH_DATA) && !MQTT_HAS(out, MQTT_P_AUTH_METHOD))
		return MQTT_ERR_PROTOCOL;
	return MQTT_OK;
}

/* The property writer: each call writes a whole property or nothing. */

void
mqtt_pw_init(struct mqtt_pw *w, uint8_t *buf, size_t cap)
{
	w->p = buf;
	w->cap = buf != NULL ? cap : 0;
	w->len = 0;
	w->overflow = 0;
}

/* 1 when need more bytes fit; else marks the writer overflowed. */
static int
pw_room(struct mqtt_pw *w, size_t need)
{
	if (w->overflow || need > w->cap - w->len) {
		w->overflow = 1;
		return 0;
	}
	return 1;
}

void
mqtt_pw_byte(struct mqtt_pw *w, uint8_t id, uint8_t v)
{
	if (!pw_room(w, 2))
		return;
	mqtt__put_u8(w, id);
	mqtt__put_u8(w, v);
}

void
mqtt_pw_u16(struct mqtt_pw *w, uint8_t id, uint16_t v)
{
	if (!pw_room(w, 3))
		return;
	mqtt__put_u8(w, id);
	mqtt__put_u16(w, v);
}

void
mqtt_pw_u32(struct mqtt_pw *w, uint8_t id, uint32_t v)
{
	if (!pw_room(w, 5))
		return;
	mqtt__put_u8(w, id);
	mqtt__put_u16(w, (uint16_t)(v >> 16));
	mqtt__put_u16(w, (uint16_t)v);
}

void
mqtt_pw_varint(struct mqtt_pw *w, uint8_t id, uint32_t v)
{
	if (v > MQTT_MAX_REMAINING) {
		w->overflow = 1;
		return;
	}
	if (!pw_room(w, 1 + mqtt_varint_len(v)))
		return;
	mqtt__put_u8(w, id);
	mqtt__put_varint(w, v);
}

void
mqtt_pw_str(struct mqtt_pw *w, uint8_t id, const void *s, size_t len)
{
	if (len > MQTT_MAX_STR || (s == NULL && len > 0)) {
		w->overflow = 1;
		return;
	}
	if (!pw_room(w, 3 + len))
		return;
	mqtt__put_u8(w, id);
	mqtt__put_bin(w, s, len);
}

void
mqtt_pw_pair(struct mqtt_pw *w, uint8_t id, const void *k, size_t kl,
    const void *v, size_t vl)
{
	if (kl > MQTT_MAX_STR || vl > MQTT_MAX_STR || (k == NULL && kl > 0) ||
	    (v == NULL && vl > 0)) {
		w->overflow = 1;
		return;
	}
	if (!pw_room(w, 5 + kl + vl))
		return;
	mqtt__put_u8(w, id);
	mqtt__put_bin(w, k, kl);
	mqtt__put_bin(w, v, vl);
}

void
mqtt_pw_raw(struct mqtt_pw *w, const void *wire, size_t len)
{
	if (wire == NULL && len > 0) {
		w->overflow = 1;
		return;
	}
	if (!pw_room(w, len))
		return;
	if (len > 0)
		memcpy(w->p + w->len, wire, len);
	w->len += len;
}
