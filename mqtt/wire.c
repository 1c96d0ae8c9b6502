/* SPDX-License-Identifier: ISC */
/*
 * wire: the MQTT data representations (section 1.5 of both
 * specifications): variable byte integers, two-byte lengths, UTF-8
 * strings, and the fixed header that frames packets in a byte stream.
 * Also the bounded reader and the writer the encoders and decoders share.
 */
#include <string.h>

#define MQTT_INTERNAL
#include "mqtt/mqtt.h"

size_t
mqtt_varint_put(uint8_t *out, uint32_t v)
{
	size_t i = 0;

	v &= MQTT_MAX_REMAINING;
	do {
		uint8_t b = (uint8_t)(v & 0x7f);

		v >>= 7;
		if (v != 0)
			b |= 0x80;
		out[i++] = b;
	} while (v != 0);
	return i;
}

size_t
mqtt_varint_len(uint32_t v)
{
	if (v < 128u)
		return 1;
	if (v < 16384u)
		return 2;
	if (v < 2097152u)
		return 3;
	return 4;
}

int
mqtt_varint_get(const uint8_t *p, size_t len, uint32_t *v, size_t *used)
{
	uint32_t val = 0;
	size_t i;

	for (i = 0; i < 4; i++) {
		if (i == len)
			return 0;
		val |= (uint32_t)(p[i] & 0x7f) << (7 * i);
		if ((p[i] & 0x80) == 0) {
			*v = val;
			*used = i + 1;
			return 1;
		}
	}
	return MQTT_ERR_MALFORMED;
}

/*
 * The length of the UTF-8 sequence led by b and the smallest code point
 * it may encode (so overlong forms are refused); 0 for a byte that cannot
 * lead a sequence (a continuation byte, 0xF8 and above).
 */
static size_t
utf8_seq(uint8_t b, uint32_t *cp, uint32_t *min)
{
	if (b < 0x80) {
		*cp = b;
		*min = 0;
		return 1;
	}
	if ((b & 0xe0) == 0xc0) {
		*cp = b & 0x1fu;
		*min = 0x80;
		return 2;
	}
	if ((b & 0xf0) == 0xe0) {
		*cp = b & 0x0fu;
		*min = 0x800;
		return 3;
	}
	if ((b & 0xf8) == 0xf0) {
		*cp = b & 0x07u;
		*min = 0x10000;
		return 4;
	}
	return 0;
}

static int
utf8_allowed(uint32_t cp, int strict)
{
	if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	if (strict && (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)))
		return 0;
	return 1;
}

int
mqtt_utf8_valid(const void *s, size_t len, int strict)
{
	const uint8_t *b = s;
	uint32_t cp, min;
	size_t i = 0, k, n;

	while (i < len) {
		if ((n = utf8_seq(b[i], &cp, &min)) == 0 || n > len - i)
			return 0;
		for (k = 1; k < n; k++) {
			if ((b[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (b[i + k] & 0x3fu);
		}
		if (cp < min || !utf8_allowed(cp, strict))
			return 0;
		i += n;
	}
	return 1;
}

int
mqtt_topic_name_valid(const void *s, size_t len)
{
	if (len == 0 || len > MQTT_MAX_STR || s == NULL)
		return 0;
	if (memchr(s, '+', len) != NULL || memchr(s, '#', len) != NULL)
		return 0;
	return mqtt_utf8_valid(s, len, 0);
}

int
mqtt_frame(const uint8_t *buf, size_t len, uint32_t max_size,
    size_t *pkt_len)
{
	uint32_t rl;
	size_t used, total;
	int rc;

	*pkt_len = 0;
	if (len == 0)
		return 0;
	if ((buf[0] >> 4) == 0)
		return MQTT_ERR_MALFORMED;
	if ((rc = mqtt_varint_get(buf + 1, len - 1, &rl, &used)) != 1)
		return rc;
	if (max_size == 0)
		max_size = MQTT_MAX_PACKET;
	total = 1 + used + (size_t)rl;
	*pkt_len = total;
	if (total > max_size)
		return MQTT_ERR_TOO_LARGE;
	return len >= total ? 1 : 0;
}

/* The bounded reader. */

int
mqtt__get_u8(struct mqtt__rd *r, uint8_t *v)
{
	if (r->end - r->p < 1)
		return MQTT_ERR_MALFORMED;
	*v = *r->p++;
	return MQTT_OK;
}

int
mqtt__get_u16(struct mqtt__rd *r, uint16_t *v)
{
	if (r->end - r->p < 2)
		return MQTT_ERR_MALFORMED;
	*v = (uint16_t)(r->p[0] << 8 | r->p[1]);
	r->p += 2;
	return MQTT_OK;
}

int
mqtt__get_u32(struct mqtt__rd *r, uint32_t *v)
{
	if (r->end - r->p < 4)
		return MQTT_ERR_MALFORMED;
	*v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 |
	    (uint32_t)r->p[2] << 8 | r->p[3];
	r->p += 4;
	return MQTT_OK;
}

int
mqtt__get_varint(struct mqtt__rd *r, uint32_t *v)
{
	size_t used;

	/* Running out of bytes inside the varint is malformed here too. */
	if (mqtt_varint_get(r->p, (size_t)(r->end - r->p), v, &used) != 1)
		return MQTT_ERR_MALFORMED;
	r->p += used;
	return MQTT_OK;
}

int
mqtt__get_bin(struct mqtt__rd *r, struct mqtt_str *s)
{
	struct mqtt__rd save = *r;
	uint16_t n;

	if (mqtt__get_u16(r, &n) != MQTT_OK)
		return MQTT_ERR_MALFORMED;
	if (r->end - r->p < n) {
		*r = save;
		return MQTT_ERR_MALFORMED;
	}
	s->p = (const char *)r->p;
	s->len = n;
	r->p += n;
	return MQTT_OK;
}

int
mqtt__get_utf8(struct mqtt__rd *r, struct mqtt_str *s)
{
	struct mqtt__rd save = *r;

	if (mqtt__get_bin(r, s) != MQTT_OK)
		return MQTT_ERR_MALFORMED;
	if (!mqtt_utf8_valid(s->p, s->len, 0)) {
		*r = save;
		return MQTT_ERR_MALFORMED;
	}
	return MQTT_OK;
}

/*
 * The writer: appends to a struct mqtt_pw; once something does not fit it
 * sets overflow and writes nothing more. Callers that must not leave a
 * partial value check the room first (props.c).
 */

static void
put_bytes(struct mqtt_pw *w, const void *b, size_t n)
{
	if (w->overflow || n > w->cap - w->len) {
		w->overflow = 1;
		return;
	}
	if (n > 0)
		memcpy(w->p + w->len, b, n);
	w->len += n;
}

void
mqtt__put_u8(struct mqtt_pw *w, uint8_t v)
{
	put_bytes(w, &v, 1);
}

void
mqtt__put_u16(struct mqtt_pw *w, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	put_bytes(w, b, 2);
}

void
mqtt__put_varint(struct mqtt_pw *w, uint32_t v)
{
	uint8_t b[4];

	put_bytes(w, b, mqtt_varint_put(b, v));
}

void
mqtt__put_bin(struct mqtt_pw *w, const void *s, size_t len)
{
	if (len > MQTT_MAX_STR) {
		w->overflow = 1;
		return;
	}
	mqtt__put_u16(w, (uint16_t)len);
	put_bytes(w, s, len);
}
