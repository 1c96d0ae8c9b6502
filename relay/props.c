/* props: carried MQTT 5 properties to and from the queue blob. */
#include <string.h>

#include "relay/props.h"

static int
props_carried(int id)
{
	switch (id) {
	case MQTTPROPERTY_CODE_PAYLOAD_FORMAT_INDICATOR:
	case MQTTPROPERTY_CODE_CONTENT_TYPE:
	case MQTTPROPERTY_CODE_RESPONSE_TOPIC:
	case MQTTPROPERTY_CODE_CORRELATION_DATA:
	case MQTTPROPERTY_CODE_USER_PROPERTY:
		return 1;
	default:
		return 0;
	}
}

static size_t
props_one_size(const MQTTProperty *q)
{
	switch (q->identifier) {
	case MQTTPROPERTY_CODE_PAYLOAD_FORMAT_INDICATOR:
		return 2;
	case MQTTPROPERTY_CODE_USER_PROPERTY:
		return 5 + (size_t)q->value.data.len +
		    (size_t)q->value.value.len;
	default:
		return 3 + (size_t)q->value.data.len;
	}
}

size_t
props_encoded_size(const MQTTProperties *p)
{
	size_t n = 0;
	int i;

	for (i = 0; i < p->count; i++)
		if (props_carried(p->array[i].identifier))
			n += props_one_size(&p->array[i]);
	return n;
}

static uint8_t *
props_put_str(uint8_t *o, const MQTTLenString *s)
{
	*o++ = (uint8_t)((unsigned)s->len >> 8);
	*o++ = (uint8_t)((unsigned)s->len & 0xff);
	if (s->len > 0)
		memcpy(o, s->data, (size_t)s->len);
	return o + s->len;
}

size_t
props_encode(const MQTTProperties *p, uint8_t *buf, size_t cap,
    uint32_t *expiry_s, int *has_expiry)
{
	uint8_t *o = buf;
	int i;

	*has_expiry = 0;
	for (i = 0; i < p->count; i++) {
		const MQTTProperty *q = &p->array[i];

		if (q->identifier == MQTTPROPERTY_CODE_MESSAGE_EXPIRY_INTERVAL) {
			*expiry_s = q->value.integer4;
			*has_expiry = 1;
			continue;
		}
		if (!props_carried(q->identifier) ||
		    (size_t)(o - buf) + props_one_size(q) > cap)
			continue;
		*o++ = (uint8_t)q->identifier;
		if (q->identifier == MQTTPROPERTY_CODE_PAYLOAD_FORMAT_INDICATOR)
			*o++ = q->value.byte;
		else
			o = props_put_str(o, &q->value.data);
		if (q->identifier == MQTTPROPERTY_CODE_USER_PROPERTY)
			o = props_put_str(o, &q->value.value);
	}
	return (size_t)(o - buf);
}

/* Reads a two-byte length and points s at the bytes; -1 if truncated. */
static int
props_get_str(const uint8_t **in, const uint8_t *end, MQTTLenString *s)
{
	size_t n;

	if (end - *in < 2)
		return -1;
	n = ((size_t)(*in)[0] << 8) | (*in)[1];
	if ((size_t)(end - *in - 2) < n)
		return -1;
	s->len = (int)n;
	s->data = (char *)(*in + 2);
	*in += 2 + n;
	return 0;
}

static int
props_decode_one(const uint8_t **in, const uint8_t *end, MQTTProperty *q)
{
	memset(q, 0, sizeof(*q));
	q->identifier = (enum MQTTPropertyCodes)*(*in)++;
	switch (q->identifier) {
	case MQTTPROPERTY_CODE_PAYLOAD_FORMAT_INDICATOR:
		if (*in >= end)
			return -1;
		q->value.byte = *(*in)++;
		return 0;
	case MQTTPROPERTY_CODE_CONTENT_TYPE:
	case MQTTPROPERTY_CODE_RESPONSE_TOPIC:
	case MQTTPROPERTY_CODE_CORRELATION_DATA:
		return props_get_str(in, end, &q->value.data);
	case MQTTPROPERTY_CODE_USER_PROPERTY:
		if (props_get_str(in, end, &q->value.data) != 0)
			return -1;
		return props_get_str(in, end, &q->value.value);
	default:
		return -1;
	}
}

int
props_decode(const uint8_t *buf, size_t len, int64_t expire_ms,
    int64_t now_ms, MQTTProperties *out)
{
	const uint8_t *in = buf, *end = buf + len;
	MQTTProperty q;
	int64_t left;

	/* MQTTProperties_add copies the strings, so q may point into buf. */
	while (buf != NULL && in < end) {
		if (props_decode_one(&in, end, &q) != 0)
			return -1;
		MQTTProperties_add(out, &q);
	}
	if (expire_ms != 0) {
		left = (expire_ms - now_ms + 999) / 1000;
		memset(&q, 0, sizeof(q));
		q.identifier = MQTTPROPERTY_CODE_MESSAGE_EXPIRY_INTERVAL;
		q.value.integer4 = (unsigned int)(left < 1 ? 1 :
		    left > 0xFFFFFFFF ? 0xFFFFFFFF : left);
		MQTTProperties_add(out, &q);
	}
	return 0;
}
