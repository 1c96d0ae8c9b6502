/* SPDX-License-Identifier: ISC */
/*
 * fuzz_mqtt: libFuzzer target for the MQTT codec (mqtt/).
 *
 * The input is a byte stream as a broker or client would send it:
 * mqtt_frame() cuts it into packets, each copied into a buffer of its
 * exact size (so ASan catches a read past it) and decoded for both
 * protocols. Every view a decoded packet holds is read, and its property
 * and topic lists are iterated, which must not fail. Each decoded packet
 * is encoded again with mqtt_encode_packet(): the encoders must accept
 * whatever the decoder accepted, the result is never longer and is
 * byte-identical when the input was the same size (our encodings are
 * canonical, so only non-minimal or long forms shrink), and it decodes
 * and re-encodes to itself. The whole input is also decoded as one packet.
 *
 * Built with -DMQTT_FUZZ_SEEDS instead, it is a plain program that writes
 * seed streams into the directory given as its argument (see fuzz.mk).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqtt/mqtt.h"

#ifndef MQTT_FUZZ_SEEDS

static volatile uint32_t fuzz_sink;

static void
fuzz_touch(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint32_t s = 0;
	size_t i;

	if (p == NULL && len > 0)
		abort();
	for (i = 0; i < len; i++)
		s = s * 31 + b[i];
	fuzz_sink += s;
}

static void
fuzz_str(struct mqtt_str s)
{
	fuzz_touch(s.p, s.len);
}

/* Reads a validated property section; the iterator must agree with it. */
static void
fuzz_props(const struct mqtt_props *pr)
{
	const uint8_t *p = pr->raw, *end;
	struct mqtt_prop one;
	size_t users = 0;
	int rc;

	if (p == NULL)
		return;
	end = p + pr->raw_len;
	while ((rc = mqtt_prop_next(&p, end, &one)) == 1) {
		fuzz_touch(one.wire, one.wire_len);
		fuzz_str(one.s);
		fuzz_str(one.s2);
		if (one.id == MQTT_P_USER_PROPERTY)
			users++;
	}
	if (rc != 0 || p != end || users != pr->n_user)
		abort();
	fuzz_str(pr->content_type);
	fuzz_str(pr->reason_string);
	fuzz_str(pr->auth_data);
}

static void
fuzz_views(const struct mqtt_packet *pk, int protocol)
{
	const struct mqtt_connect *c = &pk->u.connect;
	struct mqtt_props wp;
	const uint8_t *p, *end;
	struct mqtt_sub s;
	int rc;

	fuzz_props(&pk->props);
	switch (pk->type) {
	case MQTT_CONNECT:
		fuzz_str(c->client_id);
		fuzz_str(c->username);
		fuzz_str(c->password);
		fuzz_str(c->will_topic);
		fuzz_str(c->will_payload);
		if (mqtt_props_parse(c->will_props, c->will_props_len,
		    MQTT_WILL_PROPS, &wp) != MQTT_OK)
			abort();
		fuzz_props(&wp);
		break;
	case MQTT_PUBLISH:
		fuzz_str(pk->u.publish.topic);
		fuzz_touch(pk->u.publish.payload, pk->u.publish.payload_len);
		if (protocol == MQTT_V311 && pk->u.publish.props_len != 0)
			abort();
		break;
	case MQTT_SUBACK:
	case MQTT_UNSUBACK:
		fuzz_touch(pk->u.suback.reasons, pk->u.suback.n);
		break;
	case MQTT_SUBSCRIBE:
	case MQTT_UNSUBSCRIBE:
		p = pk->u.subscribe.list;
		end = p + pk->u.subscribe.list_len;
		while ((rc = mqtt_sub_next(&p, end,
		    pk->type == MQTT_SUBSCRIBE, &s)) == 1)
			fuzz_str(s.filter);
		if (rc != 0 || p != end)
			abort();
		break;
	default:
		break;
	}
}

/* Decodes, re-encodes, and checks the second encoding is a fixed point. */
static void
fuzz_packet(const uint8_t *pkt, size_t len, int protocol)
{
	struct mqtt_packet pk, pk2;
	uint8_t *out, *out2;
	size_t n, n2;
	int rc;

	rc = mqtt_decode(pkt, len, protocol, &pk);
	if (rc != MQTT_OK) {
		if (rc != MQTT_ERR_MALFORMED && rc != MQTT_ERR_PROTOCOL)
			abort();
		(void)mqtt_err_reason(rc);
		return;
	}
	fuzz_views(&pk, protocol);
	if ((out = malloc(len)) == NULL || (out2 = malloc(len)) == NULL)
		abort();
	if (mqtt_encode_packet(out, len, protocol, &pk, &n) != MQTT_OK ||
	    n > len || (n == len && memcmp(out, pkt, len) != 0))
		abort();
	/* The encoding decodes, and encodes to the same bytes again. */
	if (mqtt_decode(out, n, protocol, &pk2) != MQTT_OK ||
	    pk2.type != pk.type ||
	    mqtt_encode_packet(out2, n, protocol, &pk2, &n2) != MQTT_OK ||
	    n2 != n || memcmp(out, out2, n) != 0)
		abort();
	free(out);
	free(out2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0, pl;
	uint8_t *pkt;
	int rc;

	while (off < size) {
		rc = mqtt_frame(data + off, size - off, 0, &pl);
		if (rc != 1) {
			if (rc == 0 && pl != 0 && pl <= size - off)
				abort();
			break;
		}
		if (pl < 2 || pl > size - off)
			abort();
		if ((pkt = malloc(pl)) == NULL)
			abort();
		memcpy(pkt, data + off, pl);
		fuzz_packet(pkt, pl, MQTT_V311);
		fuzz_packet(pkt, pl, MQTT_V5);
		free(pkt);
		off += pl;
	}
	if (size > 0 && (pkt = malloc(size)) != NULL) {
		memcpy(pkt, data, size);
		fuzz_packet(pkt, size, MQTT_V5);
		(void)mqtt_utf8_valid(pkt, size, (int)(size & 1));
		free(pkt);
	}
	return 0;
}
#else
/* Seed streams: one packet of each type per protocol, and each alone. */

static uint8_t seed[4096];
static size_t seed_len;

static void
seed_add(int rc, const size_t *n)
{
	if (rc != MQTT_OK)
		abort();
	seed_len += *n;
}

static void
seed_write(const char *dir, const char *name, const uint8_t *p, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL || fwrite(p, 1, len, f) != len ||
	    fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

#define STR(lit)	((struct mqtt_str){ (lit), sizeof(lit) - 1 })
#define AT		seed + seed_len, sizeof(seed) - seed_len

static void
seed_stream(int protocol)
{
	static const uint8_t codes[] = { 0x00, 0x01, 0x80 };
	const struct mqtt_sub subs[2] = { { STR("a/+"), 1 },
	    { STR("$share/g/#"), protocol == MQTT_V5 ? 0x2a : 2 } };
	const struct mqtt_str fs[1] = { STR("a/+") };
	struct mqtt_connect c = { 0 };
	struct mqtt_publish p = { 0 };
	uint8_t props[128];
	struct mqtt_pw w;
	size_t n;

	mqtt_pw_init(&w, props, sizeof(props));
	mqtt_pw_byte(&w, MQTT_P_PAYLOAD_FORMAT, 1);
	mqtt_pw_u32(&w, MQTT_P_MESSAGE_EXPIRY, 60);
	mqtt_pw_str(&w, MQTT_P_RESPONSE_TOPIC, "r/t", 3);
	mqtt_pw_varint(&w, MQTT_P_SUBSCRIPTION_ID, 300);
	mqtt_pw_u16(&w, MQTT_P_TOPIC_ALIAS, 2);
	mqtt_pw_pair(&w, MQTT_P_USER_PROPERTY, "k", 1, "v", 1);
	seed_len = 0;
	c.protocol = protocol;
	c.clean_start = 1;
	c.client_id = STR("gw");
	c.username = STR("u");
	c.password = STR("p");
	c.will = 1;
	c.will_qos = 2;
	c.will_topic = STR("w/t");
	c.will_payload = STR("bye");
	seed_add(mqtt_encode_connect(AT, &c, &n), &n);
	seed_add(mqtt_encode_connack(AT, protocol, 0, 0, NULL, 0, &n), &n);
	p.topic = STR("a/b");
	p.qos = 1;
	p.id = 7;
	p.props = props;
	p.props_len = w.len;
	p.payload = "hello";
	p.payload_len = 5;
	seed_add(mqtt_encode_publish(AT, protocol, &p, &n), &n);
	seed_add(mqtt_encode_ack(AT, protocol, MQTT_PUBACK, 7, 0, NULL, 0, &n),
	    &n);
	seed_add(mqtt_encode_ack(AT, protocol, MQTT_PUBREL, 8, 0, NULL, 0, &n),
	    &n);
	seed_add(mqtt_encode_subscribe(AT, protocol, 9, subs, 2, NULL, 0, &n),
	    &n);
	seed_add(mqtt_encode_suback(AT, protocol, MQTT_SUBACK, 9, codes, 3,
	    NULL, 0, &n), &n);
	seed_add(mqtt_encode_unsubscribe(AT, protocol, 10, fs, 1, NULL, 0, &n),
	    &n);
	seed_add(mqtt_encode_suback(AT, protocol, MQTT_UNSUBACK, 10, codes, 1,
	    NULL, 0, &n), &n);
	seed_add(mqtt_encode_pingreq(AT, &n), &n);
	seed_add(mqtt_encode_pingresp(AT, &n), &n);
}

/* The end of a session: AUTH (v5) and DISCONNECT. */
static void
seed_end(int protocol)
{
	uint8_t props[32];
	struct mqtt_pw w;
	size_t n;

	if (protocol == MQTT_V5) {
		mqtt_pw_init(&w, props, sizeof(props));
		mqtt_pw_str(&w, MQTT_P_AUTH_METHOD, "m", 1);
		mqtt_pw_str(&w, MQTT_P_AUTH_DATA, "d", 1);
		seed_add(mqtt_encode_auth(AT, 0x18, props, w.len, &n), &n);
		mqtt_pw_init(&w, props, sizeof(props));
		mqtt_pw_str(&w, MQTT_P_REASON_STRING, "bye", 3);
		seed_add(mqtt_encode_disconnect(AT, protocol, 0x04, props,
		    w.len, &n), &n);
	} else
		seed_add(mqtt_encode_disconnect(AT, protocol, 0, NULL, 0, &n),
		    &n);
}

int
main(int argc, char **argv)
{
	static const int protos[2] = { MQTT_V311, MQTT_V5 };
	char name[32];
	size_t off, pl, i, k;

	if (argc != 2) {
		fprintf(stderr, "usage: %s corpus-dir\n", argv[0]);
		return 2;
	}
	for (k = 0; k < 2; k++) {
		seed_stream(protos[k]);
		seed_end(protos[k]);
		snprintf(name, sizeof(name), "stream-v%d", protos[k]);
		seed_write(argv[1], name, seed, seed_len);
		for (off = 0, i = 0; off < seed_len; off += pl, i++) {
			if (mqtt_frame(seed + off, seed_len - off, 0, &pl) != 1)
				abort();
			snprintf(name, sizeof(name), "pkt-v%d-%02zu", protos[k],
			    i);
			seed_write(argv[1], name, seed + off, pl);
		}
	}
	return 0;
}
#endif
