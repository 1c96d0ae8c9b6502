/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for mqtt/: what the decoder must refuse (MALFORMED or
 * PROTOCOL, case by case from the specifications) and what the encoders
 * must refuse (INVAL). Each vector is a whole packet, written out byte by
 * byte so that the test does not depend on the encoders.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mqtt/mqtt.h"

#define V3	MQTT_V311
#define V5	MQTT_V5
#define OK	MQTT_OK
#define MAL	MQTT_ERR_MALFORMED
#define PRO	MQTT_ERR_PROTOCOL
#define S(lit)	((struct mqtt_str){ (lit), sizeof(lit) - 1 })

static void
expect_dec(const uint8_t *p, size_t len, int protocol, int want, int line)
{
	struct mqtt_packet pk;
	int rc = mqtt_decode(p, len, protocol, &pk);

	if (rc != want)
		fail_msg("line %d: mqtt_decode gave %d (%s), want %d (%s)",
		    line, rc, mqtt_strerror(rc), want, mqtt_strerror(want));
}

/* DEC(protocol, expected result, packet bytes...) */
#define DEC(proto, want, ...) do {					\
	static const uint8_t b_[] = { __VA_ARGS__ };			\
	expect_dec(b_, sizeof(b_), (proto), (want), __LINE__);		\
} while (0)

/* Section 2.1.3 (both): the flags of each type; QoS 3 and DUP on QoS 0. */
static void
test_refuse_fixed_flags(void **state)
{
	(void)state;
	DEC(V3, PRO, 0x11, 0x0d, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 60, 0, 1,
	    'c');
	DEC(V3, OK, 0x10, 0x0d, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 60, 0, 1,
	    'c');
	DEC(V3, PRO, 0x21, 0x02, 0x00, 0x00);
	DEC(V3, PRO, 0x41, 0x02, 0x00, 0x01);
	DEC(V3, PRO, 0x58, 0x02, 0x00, 0x01);
	DEC(V3, PRO, 0x60, 0x02, 0x00, 0x01);		/* PUBREL needs 2 */
	DEC(V3, PRO, 0x63, 0x02, 0x00, 0x01);
	DEC(V3, PRO, 0x72, 0x02, 0x00, 0x01);
	DEC(V3, PRO, 0x80, 0x06, 0x00, 0x01, 0x00, 0x01, 't', 0x00);
	DEC(V3, PRO, 0x91, 0x03, 0x00, 0x01, 0x00);
	DEC(V3, PRO, 0xa0, 0x05, 0x00, 0x01, 0x00, 0x01, 't');
	DEC(V3, PRO, 0xb2, 0x02, 0x00, 0x01);
	DEC(V3, PRO, 0xc1, 0x00);
	DEC(V3, PRO, 0xd8, 0x00);
	DEC(V3, PRO, 0xe2, 0x00);
	DEC(V5, PRO, 0xf1, 0x00);
	DEC(V3, PRO, 0xf0, 0x00);			/* AUTH is v5 only */
	DEC(V5, PRO, 0x36, 0x05, 0x00, 0x01, 't', 0x00, 0x01);	/* QoS 3 */
	DEC(V3, PRO, 0x3e, 0x05, 0x00, 0x01, 't', 0x00, 0x01);
	DEC(V3, PRO, 0x38, 0x03, 0x00, 0x01, 't');	/* DUP with QoS 0 */
	DEC(V3, OK, 0x3d, 0x05, 0x00, 0x01, 't', 0x00, 0x01);
	DEC(V3, MAL, 0x00, 0x00);			/* type 0 */
}

/* Section 2.2.1 (3.1.1) / 2.2.1 (5): packet identifiers are not 0. */
static void
test_refuse_id0(void **state)
{
	(void)state;
	DEC(V3, PRO, 0x32, 0x05, 0x00, 0x01, 't', 0x00, 0x00);
	DEC(V5, PRO, 0x34, 0x06, 0x00, 0x01, 't', 0x00, 0x00, 0x00);
	DEC(V3, PRO, 0x40, 0x02, 0x00, 0x00);
	DEC(V5, PRO, 0x50, 0x02, 0x00, 0x00);
	DEC(V3, PRO, 0x62, 0x02, 0x00, 0x00);
	DEC(V5, PRO, 0x70, 0x03, 0x00, 0x00, 0x92);
	DEC(V3, PRO, 0x82, 0x06, 0x00, 0x00, 0x00, 0x01, 't', 0x00);
	DEC(V3, PRO, 0x90, 0x03, 0x00, 0x00, 0x00);
	DEC(V3, PRO, 0xa2, 0x05, 0x00, 0x00, 0x00, 0x01, 't');
	DEC(V3, PRO, 0xb0, 0x02, 0x00, 0x00);
	DEC(V5, PRO, 0xb0, 0x04, 0x00, 0x00, 0x00, 0x00);
	/* QoS 0 has no identifier at all: 00 00 is the payload. */
	DEC(V3, OK, 0x30, 0x05, 0x00, 0x01, 't', 0x00, 0x00);
}

/* MQTT 5 section 2.2.2: identifiers allowed per packet, repeats, values. */
static void
test_refuse_props(void **state)
{
	(void)state;
	/* PUBLISH qos 0, topic "t", property length, properties. */
	DEC(V5, PRO, 0x30, 0x08, 0, 1, 't', 4, 0x01, 0, 0x01, 1);
	DEC(V5, OK, 0x30, 0x12, 0, 1, 't', 14, 0x26, 0, 1, 'k', 0, 1, 'v',
	    0x26, 0, 1, 'k', 0, 1, 'v');
	DEC(V5, OK, 0x30, 0x08, 0, 1, 't', 4, 0x0b, 1, 0x0b, 2);
	DEC(V5, PRO, 0x30, 0x09, 0, 1, 't', 5, 0x11, 0, 0, 0, 1);
	DEC(V5, PRO, 0x30, 0x07, 0, 1, 't', 3, 0x1f, 0, 0);
	DEC(V5, MAL, 0x30, 0x08, 0, 1, 't', 4, 0x02, 0, 0, 0);	/* trunc */
	DEC(V5, OK, 0x30, 0x09, 0, 1, 't', 5, 0x02, 0, 0, 0, 0);
	DEC(V5, MAL, 0x30, 0x09, 0, 1, 't', 4, 0x02, 0, 0, 0, 0);
	DEC(V5, MAL, 0x30, 0x06, 0, 1, 't', 2, 0x04, 0);	/* unknown */
	DEC(V5, MAL, 0x30, 0x06, 0, 1, 't', 2, 0x00, 0);
	DEC(V5, MAL, 0x30, 0x06, 0, 1, 't', 2, 0x80, 0x01);
	DEC(V5, PRO, 0x30, 0x06, 0, 1, 't', 2, 0x01, 2);	/* format 2 */
	DEC(V5, PRO, 0x30, 0x07, 0, 1, 't', 3, 0x23, 0, 0);	/* alias 0 */
	DEC(V5, PRO, 0x30, 0x06, 0, 1, 't', 2, 0x0b, 0);	/* sub id 0 */
	DEC(V5, PRO, 0x30, 0x08, 0, 1, 't', 4, 0x08, 0, 1, '#');
	DEC(V5, PRO, 0x30, 0x07, 0, 1, 't', 3, 0x08, 0, 0);
	DEC(V5, MAL, 0x30, 0x09, 0, 1, 't', 5, 0x03, 0, 2, 0xc0, 0x80);
	DEC(V5, MAL, 0x30, 0x0b, 0, 1, 't', 7, 0x26, 0, 1, 'k', 0, 1, 0);
	DEC(V5, MAL, 0x30, 0x07, 0, 1, 't', 3, 0x02, 0, 0);	/* trunc */
	DEC(V5, MAL, 0x30, 0x05, 0, 1, 't', 5, 0x01);	/* past the end */
	DEC(V5, MAL, 0x30, 0x08, 0, 1, 't', 0x80, 0x80, 0x80, 0x80, 0x01);
	/* Correlation data is binary: any bytes. */
	DEC(V5, OK, 0x30, 0x09, 0, 1, 't', 5, 0x09, 0, 2, 0xc0, 0x00);
	/* SUBSCRIBE: one subscription identifier only. */
	DEC(V5, PRO, 0x82, 0x0b, 0, 1, 4, 0x0b, 1, 0x0b, 2, 0, 1, 't', 0);
	DEC(V5, OK, 0x82, 0x09, 0, 1, 2, 0x0b, 1, 0, 1, 't', 0);
	/* CONNACK: flags, reason, properties. */
	DEC(V5, PRO, 0x20, 0x05, 0, 0, 2, 0x24, 2);		/* max qos 2 */
	DEC(V5, OK, 0x20, 0x05, 0, 0, 2, 0x24, 1);
	DEC(V5, PRO, 0x20, 0x06, 0, 0, 3, 0x21, 0, 0);		/* rx max 0 */
	DEC(V5, PRO, 0x20, 0x08, 0, 0, 5, 0x27, 0, 0, 0, 0);
	DEC(V5, PRO, 0x20, 0x05, 0, 0, 2, 0x25, 2);
	DEC(V5, PRO, 0x20, 0x05, 0, 0, 2, 0x28, 2);
	DEC(V5, PRO, 0x20, 0x05, 0, 0, 2, 0x29, 2);
	DEC(V5, PRO, 0x20, 0x05, 0, 0, 2, 0x2a, 2);
	DEC(V5, PRO, 0x20, 0x07, 0, 0, 4, 0x16, 0, 1, 'x');	/* no method */
	DEC(V5, OK, 0x20, 0x0b, 0, 0, 8, 0x15, 0, 1, 'm', 0x16, 0, 1, 'x');
	DEC(V5, PRO, 0x20, 0x06, 0, 0, 3, 0x23, 0, 1);		/* alias */
	DEC(V5, OK, 0x20, 0x06, 0, 0, 3, 0x22, 0, 0);		/* alias max 0 */
	DEC(V5, PRO, 0x20, 0x0d, 0, 0, 10, 0x11, 0, 0, 0, 1, 0x11, 0, 0, 0,
	    1);
	/* DISCONNECT: session expiry yes, topic alias no. */
	DEC(V5, OK, 0xe0, 0x07, 0, 5, 0x11, 0, 0, 0, 1);
	DEC(V5, PRO, 0xe0, 0x05, 0, 3, 0x23, 0, 1);
	/* CONNECT: request problem information 0 or 1. */
	DEC(V5, PRO, 0x10, 0x10, 0, 4, 'M', 'Q', 'T', 'T', 5, 2, 0, 60, 2,
	    0x17, 2, 0, 1, 'c');
	DEC(V5, OK, 0x10, 0x10, 0, 4, 'M', 'Q', 'T', 'T', 5, 2, 0, 60, 2,
	    0x17, 1, 0, 1, 'c');
	/* PUBACK: a reason string; a session expiry is not allowed. */
	DEC(V5, OK, 0x40, 0x08, 0, 1, 0, 4, 0x1f, 0, 1, 'x');
	DEC(V5, PRO, 0x40, 0x09, 0, 1, 0, 5, 0x11, 0, 0, 0, 0);
}

/* Remaining length against the contents; strings that overrun. */
static void
test_refuse_length(void **state)
{
	(void)state;
	DEC(V3, MAL, 0x30, 0x04, 0x00, 0x05, 'a', 'b');	/* string */
	DEC(V3, MAL, 0x30, 0x0a, 0x00, 0x01, 't');		/* past end */
	DEC(V3, MAL, 0x30, 0x01, 0x00, 0x01, 't');		/* trailing */
	DEC(V3, MAL, 0x30, 0x80, 0x80, 0x80, 0x80, 0x01);	/* 5 bytes */
	DEC(V3, MAL, 0x30);
	DEC(V3, MAL, 0x40, 0x03, 0x00, 0x01, 0x00);
	DEC(V3, MAL, 0x40, 0x01, 0x00);
	DEC(V3, MAL, 0xc0, 0x01, 0x00);
	DEC(V3, MAL, 0xd0, 0x01, 0x00);
	DEC(V3, MAL, 0xe0, 0x01, 0x00);
	DEC(V3, MAL, 0x20, 0x03, 0x00, 0x00, 0x00);
	DEC(V3, MAL, 0x20, 0x01, 0x00);
	DEC(V5, MAL, 0x20, 0x02, 0x00, 0x00);		/* no property length */
	DEC(V3, MAL, 0xb0, 0x03, 0x00, 0x01, 0x00);
	DEC(V5, MAL, 0x40, 0x05, 0x00, 0x01, 0x00, 0x00, 0xff);
	DEC(V5, MAL, 0x90, 0x03, 0x00, 0x01, 0x05);	/* props past end */
	DEC(V3, MAL, 0x10, 0x0e, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 60, 0, 1,
	    'c', 'x');
	DEC(V3, MAL, 0x10, 0x0c, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 60, 0, 1);
	DEC(V3, MAL, 0x10, 0x08, 0, 4, 'M', 'Q', 'T', 'T', 4, 2);
	/* A non-minimal remaining length is accepted. */
	DEC(V3, OK, 0xc0, 0x80, 0x00);
	DEC(V3, OK, 0x40, 0x82, 0x00, 0x00, 0x01);
}

/* Section 1.5.4 (5) / 1.5.3 (3.1.1): UTF-8 strings and topic names. */
static void
test_refuse_utf8(void **state)
{
	(void)state;
	DEC(V3, MAL, 0x30, 0x04, 0x00, 0x02, 0xc0, 0xaf);	/* overlong */
	DEC(V3, MAL, 0x30, 0x05, 0x00, 0x03, 0xe0, 0x80, 0xaf);
	DEC(V3, MAL, 0x30, 0x05, 0x00, 0x03, 0xed, 0xa0, 0x80); /* U+D800 */
	DEC(V3, MAL, 0x30, 0x03, 0x00, 0x01, 0x00);		/* U+0000 */
	DEC(V5, MAL, 0x30, 0x07, 0x00, 0x04, 0xf4, 0x90, 0x80, 0x80, 0x00);
	DEC(V3, MAL, 0x30, 0x03, 0x00, 0x01, 0xff);
	DEC(V3, PRO, 0x30, 0x03, 0x00, 0x01, '+');
	DEC(V3, PRO, 0x30, 0x05, 0x00, 0x03, 'a', '/', '#');
	DEC(V3, OK, 0x30, 0x03, 0x00, 0x01, 0x01);	/* a control char */
	DEC(V3, OK, 0x30, 0x07, 0x00, 0x05, 0x41, 0xf0, 0xaa, 0x9b, 0x94);
	DEC(V3, PRO, 0x30, 0x02, 0x00, 0x00);		/* empty topic */
	DEC(V5, PRO, 0x30, 0x03, 0x00, 0x00, 0x00);
	DEC(V5, OK, 0x30, 0x06, 0x00, 0x00, 0x03, 0x23, 0x00, 0x01);
	/* CONNECT: client identifier and user name are UTF-8, password not. */
	DEC(V3, MAL, 0x10, 0x0d, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 60, 0, 1,
	    0xc0);
	DEC(V3, MAL, 0x10, 0x10, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x82, 0, 60, 0,
	    0, 0, 2, 0xed, 0xa0);
	DEC(V3, OK, 0x10, 0x13, 0, 4, 'M', 'Q', 'T', 'T', 4, 0xc2, 0, 60, 0,
	    0, 0, 1, 'u', 0, 2, 0xed, 0xa0);
	/* SUBSCRIBE and UNSUBSCRIBE filters. */
	DEC(V3, MAL, 0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00);
	DEC(V3, MAL, 0xa2, 0x05, 0x00, 0x01, 0x00, 0x01, 0x80);
}

/* Section 3.1 (both): CONNECT flags, protocol name and level, the will. */
static void
test_refuse_connect(void **state)
{
	(void)state;
	DEC(V3, PRO, 0x10, 0x0d, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x03, 0, 60, 0,
	    1, 'c');					/* reserved bit */
	DEC(V3, PRO, 0x10, 0x0d, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x08, 0, 60, 0,
	    1, 'c');					/* will qos, no will */
	DEC(V3, PRO, 0x10, 0x0d, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x20, 0, 60, 0,
	    1, 'c');					/* will retain */
	DEC(V3, PRO, 0x10, 0x13, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x1e, 0, 60, 0,
	    1, 'c', 0, 1, 't', 0, 1, 'x');		/* will qos 3 */
	DEC(V3, OK, 0x10, 0x13, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x36, 0, 60, 0,
	    1, 'c', 0, 1, 't', 0, 1, 'x');		/* qos 2, retain */
	DEC(V3, PRO, 0x10, 0x13, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x06, 0, 60, 0,
	    1, 'c', 0, 1, '#', 0, 1, 'x');		/* will topic */
	DEC(V5, PRO, 0x10, 0x18, 0, 4, 'M', 'Q', 'T', 'T', 5, 0x06, 0, 60, 0,
	    0, 1, 'c', 3, 0x23, 0, 1, 0, 1, 't', 0, 1, 'x');	/* alias */
	DEC(V5, OK, 0x10, 0x17, 0, 4, 'M', 'Q', 'T', 'T', 5, 0x06, 0, 60, 0,
	    0, 1, 'c', 2, 0x01, 1, 0, 1, 't', 0, 1, 'x');
	DEC(V3, PRO, 0x10, 0x10, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x42, 0, 60, 0,
	    1, 'c', 0, 1, 'p');				/* password alone */
	DEC(V5, OK, 0x10, 0x11, 0, 4, 'M', 'Q', 'T', 'T', 5, 0x42, 0, 60, 0,
	    0, 1, 'c', 0, 1, 'p');
	DEC(V3, PRO, 0x10, 0x0f, 0, 6, 'M', 'Q', 'I', 's', 'd', 'p', 3, 2, 0,
	    60, 0, 1, 'c');				/* MQTT 3.1 */
	DEC(V3, PRO, 0x10, 0x0d, 0, 4, 'M', 'Q', 'T', 'T', 6, 2, 0, 60, 0, 1,
	    'c');					/* level 6 */
	DEC(V3, PRO, 0x10, 0x0d, 0, 4, 'm', 'q', 't', 't', 4, 2, 0, 60, 0, 1,
	    'c');
}

/* Sections 3.8 to 3.11: SUBSCRIBE, UNSUBSCRIBE and their acks. */
static void
test_refuse_subscribe(void **state)
{
	(void)state;
	DEC(V3, PRO, 0x82, 0x02, 0x00, 0x01);			/* no entry */
	DEC(V5, PRO, 0x82, 0x03, 0x00, 0x01, 0x00);
	DEC(V3, PRO, 0xa2, 0x02, 0x00, 0x01);
	DEC(V3, PRO, 0x82, 0x06, 0, 1, 0, 1, 't', 0x04);	/* 311 bits */
	DEC(V3, PRO, 0x82, 0x06, 0, 1, 0, 1, 't', 0x03);	/* qos 3 */
	DEC(V5, PRO, 0x82, 0x07, 0, 1, 0, 0, 1, 't', 0x03);
	DEC(V5, PRO, 0x82, 0x07, 0, 1, 0, 0, 1, 't', 0x40);	/* reserved */
	DEC(V5, PRO, 0x82, 0x07, 0, 1, 0, 0, 1, 't', 0x30);	/* rh 3 */
	DEC(V5, OK, 0x82, 0x07, 0, 1, 0, 0, 1, 't', 0x2e);
	DEC(V5, PRO, 0x82, 0x10, 0, 1, 0, 0, 10, '$', 's', 'h', 'a', 'r',
	    'e', '/', 'g', '/', 't', 0x04);		/* no local, shared */
	DEC(V5, OK, 0x82, 0x10, 0, 1, 0, 0, 10, '$', 's', 'h', 'a', 'r',
	    'e', '/', 'g', '/', 't', 0x01);
	DEC(V3, PRO, 0x82, 0x05, 0, 1, 0, 0, 0);		/* empty filter */
	DEC(V3, PRO, 0xa2, 0x04, 0, 1, 0, 0);
	DEC(V3, MAL, 0x82, 0x05, 0, 1, 0, 5, 't');		/* truncated */
	DEC(V3, MAL, 0x82, 0x05, 0, 1, 0, 1, 't');		/* no options */
	DEC(V3, MAL, 0xa2, 0x06, 0, 1, 0, 1, 't', 0);
	DEC(V3, PRO, 0x90, 0x02, 0x00, 0x01);			/* no codes */
	DEC(V5, PRO, 0x90, 0x03, 0x00, 0x01, 0x00);
	DEC(V5, PRO, 0xb0, 0x03, 0x00, 0x01, 0x00);
	DEC(V3, PRO, 0x90, 0x03, 0x00, 0x01, 0x03);
	DEC(V3, PRO, 0x90, 0x03, 0x00, 0x01, 0x87);		/* v5 only */
	DEC(V5, OK, 0x90, 0x04, 0x00, 0x01, 0x00, 0x87);
	DEC(V5, PRO, 0x90, 0x04, 0x00, 0x01, 0x00, 0x10);
	DEC(V5, PRO, 0xb0, 0x04, 0x00, 0x01, 0x00, 0x01);
	DEC(V5, OK, 0xb0, 0x04, 0x00, 0x01, 0x00, 0x11);
}

/* MQTT 5 section 2.4: the reason codes each packet may carry. */
static void
test_refuse_reasons(void **state)
{
	(void)state;
	DEC(V5, PRO, 0x40, 0x03, 0x00, 0x01, 0x04);
	DEC(V5, PRO, 0x40, 0x03, 0x00, 0x01, 0x92);
	DEC(V5, OK, 0x50, 0x03, 0x00, 0x01, 0x10);
	DEC(V5, PRO, 0x62, 0x03, 0x00, 0x01, 0x10);
	DEC(V5, OK, 0x70, 0x03, 0x00, 0x01, 0x92);
	DEC(V5, PRO, 0x20, 0x03, 0x00, 0x04, 0x00);
	DEC(V5, PRO, 0x20, 0x03, 0x02, 0x00, 0x00);		/* flags */
	DEC(V5, PRO, 0x20, 0x03, 0x01, 0x80, 0x00);		/* sp + fail */
	DEC(V5, OK, 0x20, 0x03, 0x01, 0x00, 0x00);
	DEC(V3, PRO, 0x20, 0x02, 0x01, 0x05);
	DEC(V3, PRO, 0x20, 0x02, 0x00, 0x06);
	DEC(V3, PRO, 0x20, 0x02, 0x80, 0x00);
	DEC(V5, PRO, 0xe0, 0x01, 0x01);
	DEC(V5, OK, 0xe0, 0x01, 0x8e);
	DEC(V5, PRO, 0xf0, 0x02, 0x80, 0x00);
	DEC(V5, OK, 0xf0, 0x02, 0x18, 0x00);
	DEC(V5, MAL, 0xf0, 0x01, 0x18);		/* reason without props */
}

/* Shared by the INVAL tests. */
static const uint8_t bad_props[] = { 0x11, 0, 0, 0, 1 };	/* session exp. */
static const uint8_t alias[] = { 0x23, 0, 1 };
static const uint8_t no_method[] = { 0x16, 0, 1, 'x' };

/* The encoders refuse what the decoder would refuse: PUBLISH. */
static void
test_encode_inval_publish(void **state)
{
	static char big[65536];
	struct mqtt_publish p = { 0 };
	uint8_t b[64];
	size_t n;

	(void)state;
	memset(big, 'a', sizeof(big));
	p.topic.p = big;
	p.topic.len = sizeof(big);
	assert_int_equal(mqtt_encode_publish(b, sizeof(b), V3, &p, &n),
	    MQTT_ERR_INVAL);
	assert_int_equal(n, 0);
	p.topic = S("t");
	p.qos = 1;
	assert_int_equal(mqtt_encode_publish(b, sizeof(b), V3, &p, &n),
	    MQTT_ERR_INVAL);				/* id 0 */
	p.id = 1;
	assert_int_equal(mqtt_encode_publish(b, sizeof(b), V3, &p, &n), OK);
	p.qos = 3;
	assert_int_equal(mqtt_encode_publish(b, sizeof(b), V3, &p, &n),
	    MQTT_ERR_INVAL);
	p.qos = 0;
	p.dup = 1;
	assert_int_equal(mqtt_encode_publish(b, sizeof(b), V3, &p, &n),
	    MQTT_ERR_INVAL);
	p.dup = 0;
	p.topic = S("a/+");
	assert_int_equal(mqtt_encode_publish(b, sizeof(b), V3, &p, &n),
	    MQTT_ERR_INVAL);
	p.topic = S("");
	assert_int_equal(mqtt_encode_publish(b, sizeof(b), V5, &p, &n),
	    MQTT_ERR_INVAL);
	p.props = alias;
	p.props_len = sizeof(alias);
	assert_int_equal(mqtt_encode_publish(b, sizeof(b), V5, &p, &n), OK);
	assert_int_equal(mqtt_encode_publish(b, sizeof(b), V3, &p, &n),
	    MQTT_ERR_INVAL);
	p.topic = S("t");
	p.props = bad_props;
	p.props_len = sizeof(bad_props);
	assert_int_equal(mqtt_encode_publish(b, sizeof(b), V5, &p, &n),
	    MQTT_ERR_INVAL);
	assert_int_equal(mqtt_encode_publish(b, sizeof(b), V3, &p, &n), OK);
	p.props = NULL;
	assert_int_equal(mqtt_encode_publish(b, sizeof(b), V5, &p, &n),
	    MQTT_ERR_INVAL);
	p.props_len = 0;
	assert_int_equal(mqtt_encode_publish(b, sizeof(b), 3, &p, &n),
	    MQTT_ERR_INVAL);
}

/* Acks, SUBSCRIBE, UNSUBSCRIBE, DISCONNECT, AUTH, CONNACK, SUBACK. */
static void
test_encode_inval_control(void **state)
{
	static const uint8_t codes[] = { 0x03 };
	struct mqtt_sub sub = { S("t"), 0 };
	struct mqtt_str f = S("t");
	uint8_t b[64];
	size_t n;

	(void)state;
	assert_int_equal(mqtt_encode_ack(b, sizeof(b), V3, MQTT_PUBACK, 0, 0,
	    NULL, 0, &n), MQTT_ERR_INVAL);
	assert_int_equal(mqtt_encode_ack(b, sizeof(b), V3, MQTT_SUBACK, 1, 0,
	    NULL, 0, &n), MQTT_ERR_INVAL);
	assert_int_equal(mqtt_encode_ack(b, sizeof(b), V5, MQTT_PUBACK, 1,
	    0x92, NULL, 0, &n), MQTT_ERR_INVAL);
	assert_int_equal(mqtt_encode_ack(b, sizeof(b), V5, MQTT_PUBACK, 1, 0,
	    bad_props, sizeof(bad_props), &n), MQTT_ERR_INVAL);
	assert_int_equal(mqtt_encode_subscribe(b, sizeof(b), V3, 1, &sub, 0,
	    NULL, 0, &n), MQTT_ERR_INVAL);
	assert_int_equal(mqtt_encode_subscribe(b, sizeof(b), V3, 0, &sub, 1,
	    NULL, 0, &n), MQTT_ERR_INVAL);
	sub.options = MQTT_SUB_NO_LOCAL;
	assert_int_equal(mqtt_encode_subscribe(b, sizeof(b), V3, 1, &sub, 1,
	    NULL, 0, &n), MQTT_ERR_INVAL);
	assert_int_equal(mqtt_encode_subscribe(b, sizeof(b), V5, 1, &sub, 1,
	    NULL, 0, &n), OK);
	sub.options = 0x30;
	assert_int_equal(mqtt_encode_subscribe(b, sizeof(b), V5, 1, &sub, 1,
	    NULL, 0, &n), MQTT_ERR_INVAL);
	sub.options = 0;
	sub.filter = S("");
	assert_int_equal(mqtt_encode_subscribe(b, sizeof(b), V5, 1, &sub, 1,
	    NULL, 0, &n), MQTT_ERR_INVAL);
	assert_int_equal(mqtt_encode_unsubscribe(b, sizeof(b), V3, 1, &f, 0,
	    NULL, 0, &n), MQTT_ERR_INVAL);
	assert_int_equal(mqtt_encode_unsubscribe(b, sizeof(b), V5, 1, &f, 1,
	    alias, sizeof(alias), &n), MQTT_ERR_INVAL);
	assert_int_equal(mqtt_encode_disconnect(b, sizeof(b), V5, 0x01, NULL,
	    0, &n), MQTT_ERR_INVAL);
	assert_int_equal(mqtt_encode_auth(b, sizeof(b), 0x18, no_method,
	    sizeof(no_method), &n), MQTT_ERR_INVAL);
	assert_int_equal(mqtt_encode_connack(b, sizeof(b), V3, 1, 5, NULL, 0,
	    &n), MQTT_ERR_INVAL);
	assert_int_equal(mqtt_encode_connack(b, sizeof(b), V3, 0, 6, NULL, 0,
	    &n), MQTT_ERR_INVAL);
	assert_int_equal(mqtt_encode_suback(b, sizeof(b), V3, MQTT_SUBACK, 1,
	    codes, 1, NULL, 0, &n), MQTT_ERR_INVAL);
	assert_int_equal(mqtt_encode_suback(b, sizeof(b), V5, MQTT_SUBACK, 1,
	    codes, 0, NULL, 0, &n), MQTT_ERR_INVAL);
}

/* CONNECT. */
static void
test_encode_inval_connect(void **state)
{
	struct mqtt_connect c = { 0 };
	uint8_t b[64];
	size_t n;

	(void)state;
	c.protocol = V3;
	c.client_id = S("c");
	c.password = S("p");
	assert_int_equal(mqtt_encode_connect(b, sizeof(b), &c, &n),
	    MQTT_ERR_INVAL);
	c.protocol = V5;
	assert_int_equal(mqtt_encode_connect(b, sizeof(b), &c, &n), OK);
	c.will = 1;
	c.will_topic = S("a/#");
	assert_int_equal(mqtt_encode_connect(b, sizeof(b), &c, &n),
	    MQTT_ERR_INVAL);
	c.will_topic = S("a");
	c.will_qos = 3;
	assert_int_equal(mqtt_encode_connect(b, sizeof(b), &c, &n),
	    MQTT_ERR_INVAL);
	c.will_qos = 2;
	c.will_props = alias;
	c.will_props_len = sizeof(alias);
	assert_int_equal(mqtt_encode_connect(b, sizeof(b), &c, &n),
	    MQTT_ERR_INVAL);
	c.will_props_len = 0;
	c.client_id = S("\xc0\x80");
	assert_int_equal(mqtt_encode_connect(b, sizeof(b), &c, &n),
	    MQTT_ERR_INVAL);
	c.protocol = 3;
	c.client_id = S("c");
	assert_int_equal(mqtt_encode_connect(b, sizeof(b), &c, &n),
	    MQTT_ERR_INVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refuse_fixed_flags),
		cmocka_unit_test(test_refuse_id0),
		cmocka_unit_test(test_refuse_props),
		cmocka_unit_test(test_refuse_length),
		cmocka_unit_test(test_refuse_utf8),
		cmocka_unit_test(test_refuse_connect),
		cmocka_unit_test(test_refuse_subscribe),
		cmocka_unit_test(test_refuse_reasons),
		cmocka_unit_test(test_encode_inval_publish),
		cmocka_unit_test(test_encode_inval_control),
		cmocka_unit_test(test_encode_inval_connect),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
