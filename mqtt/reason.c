/* SPDX-License-Identifier: ISC */
/*
 * reason: the codec's error table, the MQTT 5 reason codes (section 2.4,
 * table 2-6) with the packets each may appear in, and the MQTT 3.1.1
 * CONNACK and SUBACK return codes.
 */
#include <stddef.h>

#define MQTT_INTERNAL
#include "mqtt/mqtt.h"

static const char *const mqtt_errstr[] = {
	"success",
	"malformed packet",
	"protocol error",
	"packet too large",
	"output buffer too small",
	"invalid argument",
};
_Static_assert(sizeof(mqtt_errstr) / sizeof(mqtt_errstr[0]) ==
    MQTT_ERR__COUNT, "mqtt_errstr does not match enum mqtt_err");

const char *
mqtt_strerror(int err)
{
	if (err > 0 || err <= -MQTT_ERR__COUNT)
		return "unknown mqtt error";
	return mqtt_errstr[-err];
}

uint8_t
mqtt_err_reason(int err)
{
	switch (err) {
	case MQTT_OK:
		return 0x00;
	case MQTT_ERR_MALFORMED:
		return 0x81;
	case MQTT_ERR_PROTOCOL:
		return 0x82;
	case MQTT_ERR_TOO_LARGE:
		return 0x95;
	default:
		return 0x83;
	}
}

/* Packet type bits for the table below. */
#define R_CONNACK	(1u << MQTT_CONNACK)
#define R_PUBACK	(1u << MQTT_PUBACK)
#define R_PUBREC	(1u << MQTT_PUBREC)
#define R_PUBREL	(1u << MQTT_PUBREL)
#define R_PUBCOMP	(1u << MQTT_PUBCOMP)
#define R_SUBACK	(1u << MQTT_SUBACK)
#define R_UNSUBACK	(1u << MQTT_UNSUBACK)
#define R_DISCONNECT	(1u << MQTT_DISCONNECT)
#define R_AUTH		(1u << MQTT_AUTH)
#define R_PUB		(R_PUBACK | R_PUBREC)
#define R_ACKS		(R_PUB | R_SUBACK | R_UNSUBACK)

struct reason {
	uint8_t code;
	uint32_t packets;	/* R_* bits of the packets it may be sent in */
	const char *name;
};

/* Sorted by code. */
static const struct reason reasons[] = {
	{ 0x00, R_CONNACK | R_ACKS | R_PUBREL | R_PUBCOMP | R_DISCONNECT |
	    R_AUTH, "Success" },
	{ 0x01, R_SUBACK, "Granted QoS 1" },
	{ 0x02, R_SUBACK, "Granted QoS 2" },
	{ 0x04, R_DISCONNECT, "Disconnect with Will Message" },
	{ 0x10, R_PUB, "No matching subscribers" },
	{ 0x11, R_UNSUBACK, "No subscription existed" },
	{ 0x18, R_AUTH, "Continue authentication" },
	{ 0x19, R_AUTH, "Re-authenticate" },
	{ 0x80, R_CONNACK | R_ACKS | R_DISCONNECT, "Unspecified error" },
	{ 0x81, R_CONNACK | R_DISCONNECT, "Malformed Packet" },
	{ 0x82, R_CONNACK | R_DISCONNECT, "Protocol Error" },
	{ 0x83, R_CONNACK | R_ACKS | R_DISCONNECT,
	    "Implementation specific error" },
	{ 0x84, R_CONNACK, "Unsupported Protocol Version" },
	{ 0x85, R_CONNACK, "Client Identifier not valid" },
	{ 0x86, R_CONNACK, "Bad User Name or Password" },
	{ 0x87, R_CONNACK | R_ACKS | R_DISCONNECT, "Not authorized" },
	{ 0x88, R_CONNACK, "Server unavailable" },
	{ 0x89, R_CONNACK | R_DISCONNECT, "Server busy" },
	{ 0x8A, R_CONNACK, "Banned" },
	{ 0x8B, R_DISCONNECT, "Server shutting down" },
	{ 0x8C, R_CONNACK | R_DISCONNECT, "Bad authentication method" },
	{ 0x8D, R_DISCONNECT, "Keep Alive timeout" },
	{ 0x8E, R_DISCONNECT, "Session taken over" },
	{ 0x8F, R_SUBACK | R_UNSUBACK | R_DISCONNECT, "Topic Filter invalid" },
	{ 0x90, R_CONNACK | R_PUB | R_DISCONNECT, "Topic Name invalid" },
	{ 0x91, R_ACKS, "Packet Identifier in use" },
	{ 0x92, R_PUBREL | R_PUBCOMP, "Packet Identifier not found" },
	{ 0x93, R_DISCONNECT, "Receive Maximum exceeded" },
	{ 0x94, R_DISCONNECT, "Topic Alias invalid" },
	{ 0x95, R_CONNACK | R_DISCONNECT, "Packet too large" },
	{ 0x96, R_DISCONNECT, "Message rate too high" },
	{ 0x97, R_CONNACK | R_PUB | R_SUBACK | R_DISCONNECT,
	    "Quota exceeded" },
	{ 0x98, R_DISCONNECT, "Administrative action" },
	{ 0x99, R_CONNACK | R_PUB | R_DISCONNECT, "Payload format invalid" },
	{ 0x9A, R_CONNACK | R_DISCONNECT, "Retain not supported" },
	{ 0x9B, R_CONNACK | R_DISCONNECT, "QoS not supported" },
	{ 0x9C, R_CONNACK | R_DISCONNECT, "Use another server" },
	{ 0x9D, R_CONNACK | R_DISCONNECT, "Server moved" },
	{ 0x9E, R_SUBACK | R_DISCONNECT, "Shared Subscriptions not supported" },
	{ 0x9F, R_CONNACK | R_DISCONNECT, "Connection rate exceeded" },
	{ 0xA0, R_DISCONNECT, "Maximum connect time" },
	{ 0xA1, R_SUBACK | R_DISCONNECT,
	    "Subscription Identifiers not supported" },
	{ 0xA2, R_SUBACK | R_DISCONNECT,
	    "Wildcard Subscriptions not supported" },
};

static const struct reason *
reason_find(uint8_t code)
{
	size_t lo = 0, hi = sizeof(reasons) / sizeof(reasons[0]), mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (reasons[mid].code == code)
			return &reasons[mid];
		if (reasons[mid].code < code)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const char *
mqtt_reason_name(uint8_t code)
{
	const struct reason *r = reason_find(code);

	return r != NULL ? r->name : "unknown reason";
}

int
mqtt__reason_ok(int type, uint8_t code)
{
	const struct reason *r = reason_find(code);

	if (r == NULL || type < 0 || type > MQTT_AUTH)
		return 0;
	return (r->packets >> type) & 1u;
}

int
mqtt__suback311_ok(uint8_t code)
{
	return code <= 2 || code == 0x80;
}

/* MQTT 3.1.1 section 3.2.2.3, table 3.1. */
static const char *const connack311[] = {
	"Connection Accepted",
	"Connection Refused, unacceptable protocol version",
	"Connection Refused, identifier rejected",
	"Connection Refused, Server unavailable",
	"Connection Refused, bad user name or password",
	"Connection Refused, not authorized",
};

const char *
mqtt_connack_name(int protocol, uint8_t code)
{
	if (protocol != MQTT_V311)
		return mqtt_reason_name(code);
	if (code >= sizeof(connack311) / sizeof(connack311[0]))
		return "unknown reason";
	return connack311[code];
}
