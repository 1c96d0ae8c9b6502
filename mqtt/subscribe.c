/* SPDX-License-Identifier: ISC */
/*
 * subscribe: SUBSCRIBE and UNSUBSCRIBE (sections 3.8 and 3.10): their
 * topic filter lists, iterated, checked and encoded.
 */
#include <stddef.h>
#include <string.h>

#define MQTT_INTERNAL
#include "mqtt/mqtt.h"

int
mqtt_sub_next(const uint8_t **p, const uint8_t *end, int is_subscribe,
    struct mqtt_sub *out)
{
	struct mqtt__rd r = { *p, end };

	if (*p >= end)
		return 0;
	out->options = 0;
	if (mqtt__get_bin(&r, &out->filter) != MQTT_OK ||
	    (is_subscribe && mqtt__get_u8(&r, &out->options) != MQTT_OK))
		return MQTT_ERR_MALFORMED;
	*p = r.p;
	return 1;
}

/* 1 when the filter starts a shared subscription (MQTT 5 4.8.2). */
static int
is_shared(const struct mqtt_str *f)
{
	return f->len >= 7 && memcmp(f->p, "$share/", 7) == 0;
}

int
mqtt__sub_check(int protocol, int is_subscribe, const struct mqtt_sub *s)
{
	uint8_t o = s->options;

	if (!mqtt_utf8_valid(s->filter.p, s->filter.len, 0))
		return MQTT_ERR_MALFORMED;
	if (s->filter.len == 0)
		return MQTT_ERR_PROTOCOL;	/* 4.7.3: at least one byte */
	if (!is_subscribe)
		return MQTT_OK;
	if (MQTT_SUB_QOS(o) == 3)
		return MQTT_ERR_PROTOCOL;
	if (protocol == MQTT_V311)
		return (o & 0xfc) == 0 ? MQTT_OK : MQTT_ERR_PROTOCOL;
	/* 3.8.3.1: reserved bits, retain handling 3, No Local on a shared
	 * subscription. */
	if ((o & 0xc0) != 0 || MQTT_SUB_RETAIN_HANDLING(o) == 3 ||
	    ((o & MQTT_SUB_NO_LOCAL) != 0 && is_shared(&s->filter)))
		return MQTT_ERR_PROTOCOL;
	return MQTT_OK;
}

int
mqtt__sub_list_check(const uint8_t *p, const uint8_t *end, int protocol,
    int is_subscribe)
{
	struct mqtt_sub s;
	size_t count = 0;
	int rc, err;

	while ((rc = mqtt_sub_next(&p, end, is_subscribe, &s)) == 1) {
		if ((err = mqtt__sub_check(protocol, is_subscribe, &s)) !=
		    MQTT_OK)
			return err;
		count++;
	}
	if (rc != 0)
		return rc;
	/* 3.8.3 / 3.10.3: at least one entry. */
	return count > 0 ? MQTT_OK : MQTT_ERR_PROTOCOL;
}

/*
 * The remaining length of SUBSCRIBE (subs) or UNSUBSCRIBE (filters):
 * > MQTT_MAX_REMAINING when too large.
 */
static size_t
list_rl(int protocol, const struct mqtt_sub *subs,
    const struct mqtt_str *filters, size_t count, size_t props_len)
{
	size_t rl = 2, i, len;

	if (protocol == MQTT_V5)
		rl += mqtt__props_size(props_len);
	for (i = 0; i < count && rl <= MQTT_MAX_REMAINING; i++) {
		len = subs != NULL ? subs[i].filter.len : filters[i].len;
		if (len > MQTT_MAX_STR)
			return MQTT_MAX_PACKET;
		rl += 2 + len + (subs != NULL ? 1 : 0);
	}
	return rl;
}

size_t
mqtt_subscribe_size(int protocol, const struct mqtt_sub *subs, size_t nsubs,
    size_t props_len)
{
	if (subs == NULL)
		return 0;
	return mqtt__pkt_size(list_rl(protocol, subs, NULL, nsubs, props_len));
}

size_t
mqtt_unsubscribe_size(int protocol, const struct mqtt_str *filters,
    size_t nfilters, size_t props_len)
{
	if (filters == NULL)
		return 0;
	return mqtt__pkt_size(list_rl(protocol, NULL, filters, nfilters,
	    props_len));
}

/* The checks shared by both encoders; one of subs and filters is set. */
static int
list_ok(int protocol, enum mqtt_type type, uint16_t id,
    const struct mqtt_sub *subs, const struct mqtt_str *filters,
    size_t count, const uint8_t *props, size_t props_len)
{
	struct mqtt_sub s;
	size_t i;

	if ((protocol != MQTT_V311 && protocol != MQTT_V5) || id == 0 ||
	    count == 0 || (subs == NULL && filters == NULL))
		return 0;
	if (protocol == MQTT_V5 && !mqtt__props_ok(type, props, props_len))
		return 0;
	for (i = 0; i < count; i++) {
		if (subs != NULL)
			s = subs[i];
		else {
			s.filter = filters[i];
			s.options = 0;
		}
		if (s.filter.len > MQTT_MAX_STR ||
		    (s.filter.p == NULL && s.filter.len > 0) ||
		    mqtt__sub_check(protocol, subs != NULL, &s) != MQTT_OK)
			return 0;
	}
	return 1;
}

static int
encode_list(uint8_t *buf, size_t cap, int protocol, enum mqtt_type type,
    uint16_t id, const struct mqtt_sub *subs, const struct mqtt_str *filters,
    size_t count, const uint8_t *props, size_t props_len, size_t *n)
{
	const struct mqtt_str *f;
	struct mqtt_pw w;
	size_t i;
	int err;

	*n = 0;
	if (!list_ok(protocol, type, id, subs, filters, count, props,
	    props_len))
		return MQTT_ERR_INVAL;
	if ((err = mqtt__begin(&w, buf, cap, (uint8_t)(type << 4 | 2),
	    list_rl(protocol, subs, filters, count, props_len), n)) != MQTT_OK)
		return err;
	mqtt__put_u16(&w, id);
	if (protocol == MQTT_V5)
		mqtt__put_props(&w, props, props_len);
	for (i = 0; i < count; i++) {
		f = subs != NULL ? &subs[i].filter : &filters[i];
		mqtt__put_bin(&w, f->p, f->len);
		if (subs != NULL)
			mqtt__put_u8(&w, subs[i].options);
	}
	return mqtt__end(&w, n);
}

int
mqtt_encode_subscribe(uint8_t *buf, size_t cap, int protocol, uint16_t id,
    const struct mqtt_sub *subs, size_t nsubs, const uint8_t *props,
    size_t props_len, size_t *n)
{
	return encode_list(buf, cap, protocol, MQTT_SUBSCRIBE, id, subs, NULL,
	    nsubs, props, props_len, n);
}

int
mqtt_encode_unsubscribe(uint8_t *buf, size_t cap, int protocol, uint16_t id,
    const struct mqtt_str *filters, size_t nfilters, const uint8_t *props,
    size_t props_len, size_t *n)
{
	return encode_list(buf, cap, protocol, MQTT_UNSUBSCRIBE, id, NULL,
	    filters, nfilters, props, props_len, n);
}

int
mqtt__encode_list_raw(uint8_t *buf, size_t cap, int protocol,
    enum mqtt_type type, uint16_t id, const uint8_t *list, size_t list_len,
    const uint8_t *props, size_t props_len, size_t *n)
{
	int is_sub = type == MQTT_SUBSCRIBE;
	struct mqtt_pw w;
	size_t rl;
	int err;

	*n = 0;
	if ((protocol != MQTT_V311 && protocol != MQTT_V5) || id == 0 ||
	    (!is_sub && type != MQTT_UNSUBSCRIBE) || list == NULL ||
	    mqtt__sub_list_check(list, list + list_len, protocol, is_sub) !=
	    MQTT_OK ||
	    (protocol == MQTT_V5 && !mqtt__props_ok(type, props, props_len)))
		return MQTT_ERR_INVAL;
	rl = 2 + list_len + (protocol == MQTT_V5 ?
	    mqtt__props_size(props_len) : 0);
	if ((err = mqtt__begin(&w, buf, cap, (uint8_t)(type << 4 | 2), rl,
	    n)) != MQTT_OK)
		return err;
	mqtt__put_u16(&w, id);
	if (protocol == MQTT_V5)
		mqtt__put_props(&w, props, props_len);
	mqtt_pw_raw(&w, list, list_len);
	return mqtt__end(&w, n);
}
