/* Unit tests for relay/props and relay/backoff. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <MQTTAsync.h>

#include "relay/backoff.h"
#include "relay/props.h"

static void
add_str(MQTTProperties *p, enum MQTTPropertyCodes id, const char *v,
    const char *v2)
{
	MQTTProperty q;

	memset(&q, 0, sizeof(q));
	q.identifier = id;
	q.value.data.data = (char *)v;
	q.value.data.len = (int)strlen(v);
	if (v2 != NULL) {
		q.value.value.data = (char *)v2;
		q.value.value.len = (int)strlen(v2);
	}
	MQTTProperties_add(p, &q);
}

static void
test_roundtrip(void **state)
{
	MQTTProperties in = MQTTProperties_initializer;
	MQTTProperties out = MQTTProperties_initializer;
	MQTTProperty q;
	uint8_t buf[256];
	uint32_t exp = 0;
	int has = 0;
	size_t n;

	(void)state;
	memset(&q, 0, sizeof(q));
	q.identifier = MQTTPROPERTY_CODE_PAYLOAD_FORMAT_INDICATOR;
	q.value.byte = 1;
	MQTTProperties_add(&in, &q);
	q.identifier = MQTTPROPERTY_CODE_MESSAGE_EXPIRY_INTERVAL;
	q.value.integer4 = 30;
	MQTTProperties_add(&in, &q);
	add_str(&in, MQTTPROPERTY_CODE_CONTENT_TYPE, "application/json", NULL);
	add_str(&in, MQTTPROPERTY_CODE_RESPONSE_TOPIC, "reply/here", NULL);
	add_str(&in, MQTTPROPERTY_CODE_CORRELATION_DATA, "\x01\x02", NULL);
	add_str(&in, MQTTPROPERTY_CODE_USER_PROPERTY, "k", "v");
	add_str(&in, MQTTPROPERTY_CODE_USER_PROPERTY, "k", "w");

	n = props_encode(&in, buf, props_encoded_size(&in), &exp, &has);
	assert_int_equal(n, props_encoded_size(&in));
	assert_int_equal(has, 1);
	assert_int_equal(exp, 30);
	/* 2 + (3+16) + (3+10) + (3+2) + 2*(5+2) */
	assert_int_equal(n, 2 + 19 + 13 + 5 + 14);

	assert_int_equal(props_decode(buf, n, 10500, 1000, &out), 0);
	assert_int_equal(out.count, 7);
	assert_int_equal(MQTTProperties_getNumericValue(&out,
	    MQTTPROPERTY_CODE_MESSAGE_EXPIRY_INTERVAL), 10);
	assert_int_equal(MQTTProperties_getNumericValue(&out,
	    MQTTPROPERTY_CODE_PAYLOAD_FORMAT_INDICATOR), 1);
	assert_memory_equal(MQTTProperties_getPropertyAt(&out,
	    MQTTPROPERTY_CODE_USER_PROPERTY, 1)->value.value.data, "w", 1);
	MQTTProperties_free(&in);
	MQTTProperties_free(&out);
}

static void
test_decode_malformed(void **state)
{
	MQTTProperties out = MQTTProperties_initializer;
	const uint8_t trunc[] = { 3, 0, 10, 'a' };
	const uint8_t unknown[] = { 99, 0 };

	(void)state;
	assert_int_equal(props_decode(trunc, sizeof(trunc), 0, 0, &out), -1);
	MQTTProperties_free(&out);
	assert_int_equal(props_decode(unknown, sizeof(unknown), 0, 0, &out),
	    -1);
	MQTTProperties_free(&out);
	/* An expired deadline still sends at least one second. */
	assert_int_equal(props_decode(NULL, 0, 500, 1000, &out), 0);
	assert_int_equal(MQTTProperties_getNumericValue(&out,
	    MQTTPROPERTY_CODE_MESSAGE_EXPIRY_INTERVAL), 1);
	MQTTProperties_free(&out);
}

static void
test_backoff(void **state)
{
	struct backoff b;
	int64_t d, prev_base = 0;
	int i;

	(void)state;
	backoff_init(&b, 1000, 120000, 42);
	assert_int_equal(backoff_next(&b), 1000);
	for (i = 0; i < 20; i++) {
		d = backoff_next(&b);
		assert_true(d >= 1000 && d <= 120000);
		assert_true(b.base_ms >= prev_base);
		assert_true(d >= b.base_ms - b.base_ms / 4);
		prev_base = b.base_ms;
	}
	assert_int_equal(b.base_ms, 120000);
	backoff_reset(&b);
	assert_int_equal(backoff_next(&b), 1000);
}

/*
 * Paho tracks its allocations in a heap tree that exists only while a
 * client handle does; property strings allocated without one are never
 * released from the tree. The relay always has a handle when it touches
 * properties; the tests hold one for the same reason.
 */
static int
paho_up(void **state)
{
	MQTTAsync *h = malloc(sizeof(*h));

	if (h == NULL || MQTTAsync_create(h, "tcp://127.0.0.1:1", "unit",
	    MQTTCLIENT_PERSISTENCE_NONE, NULL) != MQTTASYNC_SUCCESS)
		return -1;
	*state = h;
	return 0;
}

static int
paho_down(void **state)
{
	MQTTAsync *h = *state;

	MQTTAsync_destroy(h);
	free(h);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_decode_malformed),
		cmocka_unit_test(test_backoff),
	};

	return cmocka_run_group_tests_name("props", tests, paho_up, paho_down);
}
