/* SPDX-License-Identifier: ISC */
/*
 * connect: the CONNECT packet (section 3.1 of both specifications), both
 * ways: the client encodes it, tests and fakes decode it. The encoder
 * refuses what the decoder would refuse.
 */
#include <stddef.h>
#include <string.h>

#define MQTT_INTERNAL
#include "mqtt/mqtt.h"

/* Connect flags (3.1.2.3). */
#define CF_RESERVED	0x01
#define CF_CLEAN	0x02
#define CF_WILL		0x04
#define CF_WILL_QOS(f)	(((f) >> 3) & 3)
#define CF_WILL_RETAIN	0x20
#define CF_PASSWORD	0x40
#define CF_USERNAME	0x80

static const uint8_t proto_name[6] = { 0, 4, 'M', 'Q', 'T', 'T' };

/* The rules on the flags alone, for both directions. */
static int
flags_ok(int protocol, uint8_t f)
{
	if ((f & CF_RESERVED) != 0 || CF_WILL_QOS(f) == 3)
		return 0;
	if ((f & CF_WILL) == 0 && (CF_WILL_QOS(f) != 0 ||
	    (f & CF_WILL_RETAIN) != 0))
		return 0;
	/* 3.1.1 section 3.1.2.9: no password without a user name. */
	if (protocol == MQTT_V311 && (f & CF_PASSWORD) != 0 &&
	    (f & CF_USERNAME) == 0)
		return 0;
	return 1;
}

/* The will: v5 properties, topic and payload (3.1.3.2 to 3.1.3.4). */
static int
dec_will(struct mqtt__rd *r, struct mqtt_connect *c)
{
	struct mqtt_props pr;
	int err;

	if (c->protocol == MQTT_V5 && (err = mqtt__get_props(r,
	    MQTT_WILL_PROPS, &pr, &c->will_props, &c->will_props_len)) !=
	    MQTT_OK)
		return err;
	if (mqtt__get_utf8(r, &c->will_topic) != MQTT_OK ||
	    mqtt__get_bin(r, &c->will_payload) != MQTT_OK)
		return MQTT_ERR_MALFORMED;
	if (!mqtt_topic_name_valid(c->will_topic.p, c->will_topic.len))
		return MQTT_ERR_PROTOCOL;
	return MQTT_OK;
}

int
mqtt__dec_connect(struct mqtt__rd *r, struct mqtt_packet *out)
{
	struct mqtt_connect *c = &out->u.connect;
	uint8_t level, f;
	int err;

	if ((size_t)(r->end - r->p) < sizeof(proto_name) + 4)
		return MQTT_ERR_MALFORMED;
	if (memcmp(r->p, proto_name, sizeof(proto_name)) != 0)
		return MQTT_ERR_PROTOCOL;
	r->p += sizeof(proto_name);
	(void)mqtt__get_u8(r, &level);
	(void)mqtt__get_u8(r, &f);
	(void)mqtt__get_u16(r, &c->keepalive);
	if ((level != MQTT_V311 && level != MQTT_V5) || !flags_ok(level, f))
		return MQTT_ERR_PROTOCOL;
	c->protocol = level;
	c->clean_start = (f & CF_CLEAN) != 0;
	c->will = (f & CF_WILL) != 0;
	c->will_qos = CF_WILL_QOS(f);
	c->will_retain = (f & CF_WILL_RETAIN) != 0;
	if (level == MQTT_V5 && (err = mqtt__get_props(r, MQTT_CONNECT,
	    &out->props, &c->props, &c->props_len)) != MQTT_OK)
		return err;
	if (mqtt__get_utf8(r, &c->client_id) != MQTT_OK)
		return MQTT_ERR_MALFORMED;
	if (c->will && (err = dec_will(r, c)) != MQTT_OK)
		return err;
	if ((f & CF_USERNAME) != 0 &&
	    mqtt__get_utf8(r, &c->username) != MQTT_OK)
		return MQTT_ERR_MALFORMED;
	if ((f & CF_PASSWORD) != 0 &&
	    mqtt__get_bin(r, &c->password) != MQTT_OK)
		return MQTT_ERR_MALFORMED;
	return r->p == r->end ? MQTT_OK : MQTT_ERR_MALFORMED;
}

/* A string argument: a pointer with its length, at most 65535 bytes. */
static int
str_ok(const struct mqtt_str *s)
{
	return s->len <= MQTT_MAX_STR && (s->p != NULL || s->len == 0);
}

static uint8_t
connect_flags(const struct mqtt_connect *c)
{
	uint8_t f = 0;

	if (c->clean_start)
		f |= CF_CLEAN;
	if (c->will) {
		f |= CF_WILL | (uint8_t)((c->will_qos & 3) << 3);
		if (c->will_retain)
			f |= CF_WILL_RETAIN;
	}
	if (c->password.p != NULL)
		f |= CF_PASSWORD;
	if (c->username.p != NULL)
		f |= CF_USERNAME;
	return f;
}

static int
connect_ok(const struct mqtt_connect *c)
{
	int v5 = c->protocol == MQTT_V5;

	if ((c->protocol != MQTT_V311 && !v5) || !str_ok(&c->client_id) ||
	    !str_ok(&c->username) || !str_ok(&c->password) ||
	    c->will_qos < 0 || c->will_qos > 2)
		return 0;
	if (!flags_ok(c->protocol, connect_flags(c)))
		return 0;
	if (!mqtt_utf8_valid(c->client_id.p, c->client_id.len, 0) ||
	    !mqtt_utf8_valid(c->username.p, c->username.len, 0))
		return 0;
	if (v5 && !mqtt__props_ok(MQTT_CONNECT, c->props, c->props_len))
		return 0;
	if (!c->will)
		return 1;
	if (!str_ok(&c->will_payload) ||
	    !mqtt_topic_name_valid(c->will_topic.p, c->will_topic.len))
		return 0;
	return !v5 || mqtt__props_ok(MQTT_WILL_PROPS, c->will_props,
	    c->will_props_len);
}

/* The remaining length; > MQTT_MAX_REMAINING when too large. */
static size_t
connect_rl(const struct mqtt_connect *c)
{
	size_t rl = sizeof(proto_name) + 4 + 2 + c->client_id.len;

	if (c->client_id.len > MQTT_MAX_STR || c->username.len > MQTT_MAX_STR ||
	    c->password.len > MQTT_MAX_STR || c->will_topic.len > MQTT_MAX_STR ||
	    c->will_payload.len > MQTT_MAX_STR)
		return MQTT_MAX_PACKET;
	if (c->protocol == MQTT_V5)
		rl += mqtt__props_size(c->props_len);
	if (c->will) {
		rl += 4 + c->will_topic.len + c->will_payload.len;
		if (c->protocol == MQTT_V5)
			rl += mqtt__props_size(c->will_props_len);
	}
	if (c->username.p != NULL)
		rl += 2 + c->username.len;
	if (c->password.p != NULL)
		rl += 2 + c->password.len;
	return rl;
}

size_t
mqtt_connect_size(const struct mqtt_connect *c)
{
	return mqtt__pkt_size(connect_rl(c));
}

int
mqtt_encode_connect(uint8_t *buf, size_t cap, const struct mqtt_connect *c,
    size_t *n)
{
	struct mqtt_pw w;
	int err, v5;

	*n = 0;
	if (c == NULL || !connect_ok(c))
		return MQTT_ERR_INVAL;
	v5 = c->protocol == MQTT_V5;
	if ((err = mqtt__begin(&w, buf, cap, MQTT_CONNECT << 4, connect_rl(c),
	    n)) != MQTT_OK)
		return err;
	mqtt_pw_raw(&w, proto_name, sizeof(proto_name));
	mqtt__put_u8(&w, (uint8_t)c->protocol);
	mqtt__put_u8(&w, connect_flags(c));
	mqtt__put_u16(&w, c->keepalive);
	if (v5)
		mqtt__put_props(&w, c->props, c->props_len);
	mqtt__put_bin(&w, c->client_id.p, c->client_id.len);
	if (c->will) {
		if (v5)
			mqtt__put_props(&w, c->will_props, c->will_props_len);
		mqtt__put_bin(&w, c->will_topic.p, c->will_topic.len);
		mqtt__put_bin(&w, c->will_payload.p, c->will_payload.len);
	}
	if (c->username.p != NULL)
		mqtt__put_bin(&w, c->username.p, c->username.len);
	if (c->password.p != NULL)
		mqtt__put_bin(&w, c->password.p, c->password.len);
	return mqtt__end(&w, n);
}
