/* SPDX-License-Identifier: ISC */
/*
 * frame: the parts of the batch frame codec shared by the encoder
 * (frame_enc.c) and the decoder (frame_dec.c, frame_dec2.c): the error
 * table, XXH32 and the field checks. docs/frame-format.md is the specification.
 */
#include <stdio.h>
#include <string.h>

#include "mqtt/mqtt.h"
#define FRAME_INTERNAL
#include "relay/frame.h"

/* MQTT 5 property ids the props blob may carry (relay/props.h). */
#define PROP_PAYLOAD_FORMAT	1
#define PROP_CONTENT_TYPE	3
#define PROP_RESPONSE_TOPIC	8
#define PROP_CORRELATION	9
#define PROP_USER		38

const uint8_t frame__magic[4] = { 'P', 'R', 'B', 'F' };

static const char *const frame_errstr[] = {
	"success",
	"record does not fit in this batch",
	"record does not fit in any batch",
	"invalid argument",
	"output buffer too small",
	"out of memory",
	"lz4 compression failed",
	"frame truncated",
	"not a pushrelay frame",
	"unsupported frame version",
	"unsupported codec",
	"frame exceeds the format limits",
	"checksum mismatch",
	"malformed frame",
	"stopped by the record callback",
	"records expand past the bound",
	"the dictionary the frame names is missing",
};
_Static_assert(sizeof(frame_errstr) / sizeof(frame_errstr[0]) ==
    FRAME_ERR__COUNT, "frame_errstr does not match enum frame_err_code");

const char *
frame_strerror(int code)
{
	if (code > 0 || code <= -FRAME_ERR__COUNT)
		return "unknown frame error";
	return frame_errstr[-code];
}

static const char *const frame_refusal_text[] = {
	"accepted",
	"topic is not well-formed UTF-8",
	"topic holds a control character or a noncharacter",
	"topic starts with '$'",
	"a content type or user property breaks MQTT's UTF-8 rules",
	"the response topic is not a valid topic name",
};
_Static_assert(sizeof(frame_refusal_text) / sizeof(frame_refusal_text[0]) ==
    FRAME_REC__COUNT, "frame_refusal_text does not match enum frame_refusal");

const char *
frame_refusal_str(int why)
{
	if (why < 0 || why >= FRAME_REC__COUNT)
		return "unknown refusal";
	return frame_refusal_text[why];
}

/*
 * XXH32 (xxHash, Yann Collet; github.com/Cyan4973/xxHash, doc/xxhash_spec.md)
 * with seed 0: the content checksum of the LZ4 frame format, written out
 * here because liblz4 does not export it. tests/unit/test_frame.c checks
 * it against the checksum liblz4 writes.
 */
#define XXH_P1	2654435761u
#define XXH_P2	2246822519u
#define XXH_P3	3266489917u
#define XXH_P4	668265263u
#define XXH_P5	374761393u

static uint32_t
xxh_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static uint32_t
xxh_rotl(uint32_t x, int r)
{
	return (x << r) | (x >> (32 - r));
}

static uint32_t
xxh_round(uint32_t acc, const uint8_t *p)
{
	acc += xxh_get32(p) * XXH_P2;
	return xxh_rotl(acc, 13) * XXH_P1;
}

uint32_t
frame__xxh32(const uint8_t *p, size_t len)
{
	return frame__xxh32_seed(p, len, 0);
}

uint32_t
frame_dict_check(const uint8_t *dict, size_t len)
{
	return frame__xxh32_seed(dict, len, 0);
}

uint32_t
frame__xxh32_seed(const uint8_t *p, size_t len, uint32_t seed)
{
	size_t i = 0;
	uint32_t h, v[4] = { seed + XXH_P1 + XXH_P2, seed + XXH_P2, seed,
	    seed - XXH_P1 };

	if (len >= 16) {
		for (; len - i >= 16; i += 16) {
			v[0] = xxh_round(v[0], p + i);
			v[1] = xxh_round(v[1], p + i + 4);
			v[2] = xxh_round(v[2], p + i + 8);
			v[3] = xxh_round(v[3], p + i + 12);
		}
		h = xxh_rotl(v[0], 1) + xxh_rotl(v[1], 7) +
		    xxh_rotl(v[2], 12) + xxh_rotl(v[3], 18);
	} else
		h = seed + XXH_P5;
	h += (uint32_t)len;
	for (; len - i >= 4; i += 4)
		h = xxh_rotl(h + xxh_get32(p + i) * XXH_P3, 17) *
		    XXH_P4;
	for (; i < len; i++)
		h = xxh_rotl(h + p[i] * XXH_P5, 11) * XXH_P1;
	h ^= h >> 15;
	h *= XXH_P2;
	h ^= h >> 13;
	h *= XXH_P3;
	h ^= h >> 16;
	return h;
}

/* The checks shared by the encoder and the decoder (frame.h). */

int
frame__check_gwid(const char *id, size_t len, size_t *at, char *why)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if ((id[i] >= 'a' && id[i] <= 'z') ||
		    (id[i] >= 'A' && id[i] <= 'Z') ||
		    (id[i] >= '0' && id[i] <= '9') ||
		    id[i] == '.' || id[i] == '_' || id[i] == '-')
			continue;
		*at = i;
		snprintf(why, FRAME_ERR_LEN, "gateway id byte 0x%02x not in "
		    "[A-Za-z0-9._-]", (unsigned)(uint8_t)id[i]);
		return -1;
	}
	return 0;
}

int
frame__check_topic(const char *t, size_t len, size_t *at, char *why)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (t[i] != '\0' && t[i] != '+' && t[i] != '#')
			continue;
		*at = i;
		snprintf(why, FRAME_ERR_LEN, "topic contains 0x%02x",
		    (unsigned)(uint8_t)t[i]);
		return -1;
	}
	return 0;
}

/* Reads one MQTT string (two-byte big-endian length and bytes). */
static int
check_prop_str(const uint8_t *p, size_t len, size_t *i, size_t *at,
    char *why)
{
	size_t n;

	if (len - *i < 2 || len - *i - 2 < (n = (size_t)p[*i] << 8 |
	    p[*i + 1])) {
		snprintf(why, FRAME_ERR_LEN, "property %u runs past the end "
		    "of the properties", (unsigned)p[*at]);
		return -1;
	}
	*i += 2 + n;
	return 0;
}

/* The props blob: known ids, lengths in bounds, singletons once. */
int
frame__check_props(const uint8_t *p, size_t len, size_t *at, char *why)
{
	size_t i = 0;
	unsigned seen = 0;
	int strings;

	while (i < len) {
		*at = i;
		switch (p[i++]) {
		case PROP_PAYLOAD_FORMAT:
			if (i == len || p[i] > 1) {
				snprintf(why, FRAME_ERR_LEN, "payload format "
				    "indicator missing or not 0/1");
				return -1;
			}
			i++;
			strings = 0;
			break;
		case PROP_CONTENT_TYPE:
		case PROP_RESPONSE_TOPIC:
		case PROP_CORRELATION:
			strings = 1;
			break;
		case PROP_USER:
			strings = 2;
			break;
		default:
			snprintf(why, FRAME_ERR_LEN, "unknown property id %u",
			    (unsigned)p[*at]);
			return -1;
		}
		if (p[*at] != PROP_USER && (seen & (1u << p[*at])) != 0) {
			snprintf(why, FRAME_ERR_LEN, "property %u repeated",
			    (unsigned)p[*at]);
			return -1;
		}
		seen |= 1u << (p[*at] & 31);
		while (strings-- > 0)
			if (check_prop_str(p, len, &i, at, why) != 0)
				return -1;
	}
	return 0;
}


/*
 * MQTT's string rules (frame.h, enum frame_refusal). mqtt_utf8_valid()
 * has the UTF-8 and control character rules; the noncharacters are
 * checked here because Mosquitto drops a connection that carries one.
 */

/* Whether s (len bytes, well-formed UTF-8) holds a noncharacter. */
static int
frame_has_nonchar(const uint8_t *s, size_t len)
{
	uint32_t cp;
	size_t i = 0, n, k;

	while (i < len) {
		n = s[i] < 0x80 ? 1 : s[i] < 0xe0 ? 2 : s[i] < 0xf0 ? 3 : 4;
		cp = n == 1 ? s[i] : s[i] & (0x7fu >> n);
		for (k = 1; k < n && i + k < len; k++)
			cp = cp << 6 | (s[i + k] & 0x3fu);
		if ((cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) == 0xfffe)
			return 1;
		i += n;
	}
	return 0;
}

/* 0 when MQTT takes s as a string, 1 for bad UTF-8, 2 for a control. */
static int
frame_mqtt_str(const uint8_t *s, size_t len)
{
	if (!mqtt_utf8_valid(s, len, 0))
		return 1;
	if (!mqtt_utf8_valid(s, len, 1) || frame_has_nonchar(s, len))
		return 2;
	return 0;
}

int
frame__mqtt_topic(const uint8_t *t, size_t len)
{
	switch (frame_mqtt_str(t, len)) {
	case 1:
		return FRAME_REC_TOPIC_UTF8;
	case 2:
		return FRAME_REC_TOPIC_CONTROL;
	default:
		return len > 0 && t[0] == '$' ? FRAME_REC_TOPIC_DOLLAR :
		    FRAME_REC_OK;
	}
}

/* The strings of one property at p[*i] (its id); moves *i past it. */
static int
frame_mqtt_prop(const uint8_t *p, size_t *i)
{
	int id = p[(*i)++], strings, rc = FRAME_REC_OK;
	size_t n;

	if (id == PROP_PAYLOAD_FORMAT) {
		(*i)++;
		return FRAME_REC_OK;
	}
	strings = id == PROP_USER ? 2 : 1;
	while (strings-- > 0) {
		n = (size_t)p[*i] << 8 | p[*i + 1];
		*i += 2;
		if (rc == FRAME_REC_OK && id == PROP_RESPONSE_TOPIC &&
		    (!mqtt_topic_name_valid(p + *i, n) ||
		    frame__mqtt_topic(p + *i, n) != FRAME_REC_OK))
			rc = FRAME_REC_RESPONSE_TOPIC;
		else if (rc == FRAME_REC_OK && id != PROP_CORRELATION &&
		    frame_mqtt_str(p + *i, n) != 0)
			rc = FRAME_REC_PROP_STRING;
		*i += n;
	}
	return rc;
}

int
frame__mqtt_props(const uint8_t *p, size_t len)
{
	size_t i = 0;
	int rc;

	while (i < len)
		if ((rc = frame_mqtt_prop(p, &i)) != FRAME_REC_OK)
			return rc;
	return FRAME_REC_OK;
}
