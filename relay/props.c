/* SPDX-License-Identifier: ISC */
/* props: the carried MQTT 5 properties of a message; see props.h. */
#include <string.h>

#include "mqtt/mqtt.h"
#include "relay/props.h"

static int
props_carried(uint8_t id)
{
	return id == MQTT_P_PAYLOAD_FORMAT || id == MQTT_P_CONTENT_TYPE ||
	    id == MQTT_P_RESPONSE_TOPIC || id == MQTT_P_CORRELATION_DATA ||
	    id == MQTT_P_USER_PROPERTY;
}

size_t
props_carry(const uint8_t *raw, size_t len, uint8_t *out, size_t cap)
{
	const uint8_t *p = raw, *end = raw + len;
	struct mqtt_prop pr;
	size_t n = 0;

	if (raw == NULL)
		return 0;
	while (mqtt_prop_next(&p, end, &pr) == 1) {
		if (!props_carried(pr.id))
			continue;
		if (cap - n < pr.wire_len)
			break;
		memcpy(out + n, pr.wire, pr.wire_len);
		n += pr.wire_len;
	}
	return n;
}
