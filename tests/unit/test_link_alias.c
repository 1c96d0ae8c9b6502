/* SPDX-License-Identifier: ISC */
/*
 * test_link_alias: the topic aliases of our publishes (MQTT 5) against
 * the fake broker of link_test.h: the first topics published twice get
 * one within the smaller of the config's and the broker's maximum, later
 * publishes carry the alias alone, and a new connection starts over.
 */
#include "link_test.h"

/* The broker's CONNACK announces Topic Alias Maximum max (< 0: none). */
static void
broker_alias_max(struct t *t, int max)
{
	struct mqtt_pw w;

	mqtt_pw_init(&w, t->b.cprops, sizeof(t->b.cprops));
	if (max >= 0)
		mqtt_pw_u16(&w, MQTT_P_TOPIC_ALIAS_MAX, (uint16_t)max);
	t->b.cprops_len = w.len;
}

/* Publishes topic at QoS 0 and flushes it. */
static void
pub(struct t *t, const char *topic)
{
	struct queue_msg m = t_msg(topic, "payload", 0);

	assert_int_equal(t_publish(t, &m, 1), LINK_OK);
	link_flush(t->l, t->now);
}

/* The nth PUBLISH the broker got from mark on: its topic and alias. */
static void
assert_pub(struct t *t, size_t mark, size_t nth, const char *topic,
    int alias)
{
	struct mqtt_packet p;

	PUMP_UNTIL(t, fb_count(t, MQTT_PUBLISH, mark) > nth);
	fb_get(t, MQTT_PUBLISH, mark, nth, &p);
	assert_int_equal(p.u.publish.topic.len, strlen(topic));
	assert_memory_equal(p.u.publish.topic.p, topic, strlen(topic));
	if (alias == 0) {
		assert_false(MQTT_HAS(&p.props, MQTT_P_TOPIC_ALIAS));
	} else {
		assert_true(MQTT_HAS(&p.props, MQTT_P_TOPIC_ALIAS));
		assert_int_equal(p.props.topic_alias, alias);
	}
}

/*
 * The first two topics published twice get aliases 1 and 2, set with
 * their second publish; the third goes plain; a topic published once
 * takes none.
 */
static void
test_alias_first_n(void **state)
{
	struct t *t = *state;
	const struct link_stats *st = link_stats(t->l);
	size_t mark = t->b.n_pkt;
	uint64_t tx;

	t->cb.topic_alias_max = 64;
	broker_alias_max(t, 2);
	t_up(t, 0);
	assert_int_equal(st->alias_max, 2);
	pub(t, "gw/x/status/once");
	pub(t, "gw/x/sensors/one");
	pub(t, "gw/x/sensors/one");
	pub(t, "gw/x/sensors/two");
	pub(t, "gw/x/sensors/three");
	pub(t, "gw/x/sensors/two");
	tx = st->tx_bytes;
	pub(t, "gw/x/sensors/three");
	/* 2 + 2 (topic length) + 18 + 1 (properties) + 7 (payload). */
	assert_int_equal(st->tx_bytes - tx, 30);
	tx = st->tx_bytes;
	pub(t, "gw/x/sensors/one");
	/* 2 + 2 + 0 + 1 + 3 (the alias) + 7. */
	assert_int_equal(st->tx_bytes - tx, 15);
	pub(t, "gw/x/sensors/two");
	assert_pub(t, mark, 0, "gw/x/status/once", 0);
	assert_pub(t, mark, 1, "gw/x/sensors/one", 0);
	assert_pub(t, mark, 2, "gw/x/sensors/one", 1);
	assert_pub(t, mark, 3, "gw/x/sensors/two", 0);
	assert_pub(t, mark, 4, "gw/x/sensors/three", 0);
	assert_pub(t, mark, 5, "gw/x/sensors/two", 2);
	assert_pub(t, mark, 6, "gw/x/sensors/three", 0);
	assert_pub(t, mark, 7, "", 1);
	assert_pub(t, mark, 8, "", 2);
	assert_int_equal(st->aliases, 2);
	assert_int_equal(st->aliased, 2);
}

/* Aliases belong to one connection: the next one sets them again. */
static void
test_alias_reset_per_connection(void **state)
{
	struct t *t = *state;
	const struct link_stats *st = link_stats(t->l);
	size_t mark;

	t->cb.topic_alias_max = 64;
	broker_alias_max(t, 10);
	t_up(t, 0);
	pub(t, "a/b");
	pub(t, "a/b");
	pub(t, "a/b");
	assert_int_equal(st->aliases, 1);
	t_broker_close(t);
	assert_int_equal(st->aliases, 0);
	mark = t->b.n_pkt;
	t_up(t, 0);
	pub(t, "a/b");
	pub(t, "a/b");
	pub(t, "a/b");
	assert_pub(t, mark, 0, "a/b", 0);
	assert_pub(t, mark, 1, "a/b", 1);
	assert_pub(t, mark, 2, "", 1);
	/* A broker that announces no maximum takes no alias. */
	t_broker_close(t);
	broker_alias_max(t, -1);
	mark = t->b.n_pkt;
	t_up(t, 0);
	assert_int_equal(st->alias_max, 0);
	pub(t, "a/b");
	pub(t, "a/b");
	pub(t, "a/b");
	assert_pub(t, mark, 0, "a/b", 0);
	assert_pub(t, mark, 1, "a/b", 0);
	assert_pub(t, mark, 2, "a/b", 0);
}

/* topic_alias_max 0, or MQTT 3.1.1: never an alias. */
static void
test_alias_off(void **state)
{
	struct t *t = *state;
	size_t mark = t->b.n_pkt;

	t->cb.topic_alias_max = 0;
	broker_alias_max(t, 10);
	t_up(t, 0);
	pub(t, "a/b");
	pub(t, "a/b");
	assert_pub(t, mark, 0, "a/b", 0);
	assert_pub(t, mark, 1, "a/b", 0);
	assert_int_equal(link_stats(t->l)->aliased, 0);
}

static void
test_alias_v311(void **state)
{
	struct t *t = *state;
	size_t mark = t->b.n_pkt;

	t->cb.topic_alias_max = 64;
	t_up(t, 0);
	pub(t, "a/b");
	pub(t, "a/b");
	assert_pub(t, mark, 0, "a/b", 0);
	assert_pub(t, mark, 1, "a/b", 0);
}

/*
 * QoS 1 messages sent again on a resumed session carry their topic: the
 * aliases of the connection that ended are gone.
 */
static void
test_alias_qos1_resend(void **state)
{
	struct t *t = *state;
	struct queue_msg m = t_msg("q/one", "x", 1);
	size_t mark;

	t->cb.topic_alias_max = 4;
	broker_alias_max(t, 10);
	t_up(t, 0);
	assert_int_equal(link_stats(t->l)->alias_max, 4);
	assert_int_equal(t_publish(t, &m, 7), LINK_OK);
	assert_int_equal(t_publish(t, &m, 8), LINK_OK);
	link_flush(t->l, t->now);
	assert_int_equal(link_stats(t->l)->aliases, 1);
	t_broker_close(t);
	mark = t->b.n_pkt;
	t_up(t, 1);
	assert_int_equal(t_publish(t, &m, 7), LINK_OK);
	assert_int_equal(t_publish(t, &m, 8), LINK_OK);
	assert_int_equal(t_publish(t, &m, 9), LINK_OK);
	link_flush(t->l, t->now);
	assert_pub(t, mark, 0, "q/one", 0);
	assert_pub(t, mark, 1, "q/one", 1);
	assert_pub(t, mark, 2, "", 1);
}

/*
 * A broker's view of our publishes: it resolves each PUBLISH against the
 * aliases this connection set (MQTT 5 section 3.3.2.3.4) and must get
 * back every topic as published, in order, over random sequences of
 * topics and alias maximums, with reconnects in between (a model check
 * of the alias table; deterministic seed).
 */
static void
test_alias_model(void **state)
{
	struct t *t = *state;
	static char topics[24][32];
	char amap[16][32];
	const char *sent[900];
	size_t nsent = 0, mark, i, k;
	uint32_t rng = 12345;
	int round, max;
	struct mqtt_packet p;

	for (i = 0; i < 24; i++)
		snprintf(topics[i], sizeof(topics[i]), "gw/x/sensors/dev%zu/t",
		    i * 7 % 24);
	t->cb.topic_alias_max = 12;
	for (round = 0; round < 3; round++) {
		max = 1 + round * 5;		/* 1, 6, 11 */
		broker_alias_max(t, max);
		mark = t->b.n_pkt;
		nsent = 0;
		t_up(t, 0);
		for (i = 0; i < 300; i++) {
			rng = rng * 1103515245u + 12345u;
			/* Skewed: low indices come far more often. */
			k = (rng >> 16) % 24;
			k = k * ((rng >> 8) % 24) / 24;
			pub(t, topics[k]);
			sent[nsent++] = topics[k];
		}
		PUMP_UNTIL(t, fb_count(t, MQTT_PUBLISH, mark) >= nsent);
		memset(amap, 0, sizeof(amap));
		for (i = 0; i < nsent; i++) {
			char got[32];
			uint16_t a;

			fb_get(t, MQTT_PUBLISH, mark, i, &p);
			snprintf(got, sizeof(got), "%.*s",
			    (int)p.u.publish.topic.len, p.u.publish.topic.p);
			if (MQTT_HAS(&p.props, MQTT_P_TOPIC_ALIAS)) {
				a = p.props.topic_alias;
				assert_true(a >= 1 && a <= max);
				if (got[0] != '\0')
					strcpy(amap[a], got);
				else
					strcpy(got, amap[a]);
			}
			assert_string_equal(got, sent[i]);
		}
		assert_true(link_stats(t->l)->aliases <= (uint32_t)max);
		assert_true(link_stats(t->l)->aliased > 0);
		t_broker_close(t);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T_V5(test_alias_first_n),
		T_V5(test_alias_reset_per_connection),
		T_V5(test_alias_off),
		T_V311(test_alias_v311),
		T_V5(test_alias_qos1_resend),
		T_V5(test_alias_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
