/* SPDX-License-Identifier: ISC */
/*
 * packet: mqtt_encode_packet(), a decoded struct mqtt_packet written back
 * to the wire through the encoder of its type, for fakes that forward
 * what they receive and for the round-trip checks of the tests and the
 * fuzzer.
 */
#include <stddef.h>

#define MQTT_INTERNAL
#include "mqtt/mqtt.h"

int
mqtt_encode_packet(uint8_t *buf, size_t cap, int protocol,
    const struct mqtt_packet *pk, size_t *n)
{
	const uint8_t *pr = pk->props.raw;
	size_t pl = pk->props.raw_len;

	*n = 0;
	switch (pk->type) {
	case MQTT_CONNECT:
		return mqtt_encode_connect(buf, cap, &pk->u.connect, n);
	case MQTT_CONNACK:
		return mqtt_encode_connack(buf, cap, protocol,
		    pk->u.connack.session_present, pk->u.connack.reason, pr, pl,
		    n);
	case MQTT_PUBLISH:
		return mqtt_encode_publish(buf, cap, protocol, &pk->u.publish,
		    n);
	case MQTT_PUBACK:
	case MQTT_PUBREC:
	case MQTT_PUBREL:
	case MQTT_PUBCOMP:
		return mqtt_encode_ack(buf, cap, protocol, pk->type,
		    pk->u.ack.id, pk->u.ack.reason, pr, pl, n);
	case MQTT_SUBSCRIBE:
	case MQTT_UNSUBSCRIBE:
		return mqtt__encode_list_raw(buf, cap, protocol, pk->type,
		    pk->u.subscribe.id, pk->u.subscribe.list,
		    pk->u.subscribe.list_len, pr, pl, n);
	case MQTT_SUBACK:
	case MQTT_UNSUBACK:
		return mqtt_encode_suback(buf, cap, protocol, pk->type,
		    pk->u.suback.id, pk->u.suback.reasons, pk->u.suback.n, pr,
		    pl, n);
	case MQTT_PINGREQ:
		return mqtt_encode_pingreq(buf, cap, n);
	case MQTT_PINGRESP:
		return mqtt_encode_pingresp(buf, cap, n);
	case MQTT_DISCONNECT:
		return mqtt_encode_disconnect(buf, cap, protocol,
		    pk->u.disconnect.reason, pr, pl, n);
	case MQTT_AUTH:
		if (protocol != MQTT_V5)
			return MQTT_ERR_INVAL;
		return mqtt_encode_auth(buf, cap, pk->u.disconnect.reason, pr,
		    pl, n);
	default:
		return MQTT_ERR_INVAL;
	}
}
