# SPDX-License-Identifier: ISC
"""Both directions with real telemetry; retain, QoS cap, MQTT 5 properties,
no echo of downlink messages, status counters and shape.

Default routes (conftest): local sensors/# -> central gw/gw-test/sensors/#,
central gw/gw-test/cmd/# -> local cmd/#.
"""

import time

import pytest

from harness import T, analyse, publish_properties, props_dict

UP = "gw/gw-test/"


def needs_mqtt5_central(broker, why):
    """Skip when the central broker speaks MQTT 3.1.1 only (aedes, with
    PUSHRELAY_CENTRAL_BROKER=aedes): the relay's central link is then 3.1.1
    too, and why says which MQTT 5 feature the test is about."""
    if not broker.mqtt5:
        pytest.skip("central broker %s speaks MQTT 3.1.1 only: %s"
                    % (broker.kind, why))


def test_uplink_telemetry_arrives_identical_and_in_order(relay, local_broker,
                                                         central_broker,
                                                         clients, telemetry):
    msgs = telemetry(3000)
    col = clients.collector(central_broker, UP + "#")
    pub = clients.publisher(local_broker)
    pub.publish_many(msgs)
    col.wait_unique(len(msgs), timeout=T(60))

    got = col.snapshot()
    assert all(m.topic.startswith(UP + "sensors/") for m in got), \
        "every uplink message is mapped under remote_prefix"
    a = analyse(msgs, col.pairs(strip_prefix=UP))
    assert not a["lost"], "lost %d, first %r" % (len(a["lost"]), a["lost"][:3])
    assert not a["unexpected"], a["unexpected"][:3]
    assert a["topic_order"], a["first_disorder"]
    assert all(m.qos == 1 for m in got), "route qos 1, published qos 1"
    assert not any(m.retain for m in got)

    s = relay.wait_status(lambda s: s["forwarded"]["uplink"] == len(msgs) and
                          s["queue"]["uplink"]["messages"] == 0,
                          what="forwarded.uplink == %d, queue empty" % len(msgs))
    assert s["received"]["uplink"] == len(msgs)
    assert s["queue"]["uplink"]["bytes"] == 0
    assert s["received"]["downlink"] == 0
    assert s["forwarded"]["downlink"] == 0
    assert s["dropped"]["full"] == 0 and s["dropped"]["expired"] == 0


def test_downlink_telemetry_arrives_identical_and_in_order(relay, local_broker,
                                                           central_broker,
                                                           clients, telemetry):
    # Commands on the central side are gw/gw-test/cmd/<corpus topic>.
    msgs = telemetry(1000, prefix="cmd/")
    col = clients.collector(local_broker, "cmd/#")
    pub = clients.publisher(central_broker)
    pub.publish_many([(UP + t, p) for t, p in msgs])
    col.wait_unique(len(msgs), timeout=T(60))

    a = analyse(msgs, col.pairs())
    assert not a["lost"], "lost %d, first %r" % (len(a["lost"]), a["lost"][:3])
    assert not a["unexpected"], a["unexpected"][:3]
    assert a["topic_order"], a["first_disorder"]

    s = relay.wait_status(lambda s: s["forwarded"]["downlink"] == len(msgs) and
                          s["queue"]["downlink"]["messages"] == 0,
                          what="forwarded.downlink == %d" % len(msgs))
    assert s["received"]["downlink"] == len(msgs)
    assert s["received"]["uplink"] == 0


def test_retain_flag_is_carried(relay, local_broker, central_broker, clients):
    pub = clients.publisher(local_broker)
    payload = b'{"Time":"2005-01-01T00:00:00","SDS0X1":{"PM10":16.696}}'
    pub.publish("sensors/tele/aq_DESH001/SENSOR", payload, retain=True)
    pub.publish("sensors/tele/aq_DESH001/STATE", b"not retained")
    pub.wait_acked()
    relay.wait_status(lambda s: s["forwarded"]["uplink"] == 2,
                      what="both forwarded")

    # A subscriber that arrives afterwards gets the retained copy, flagged.
    fresh = clients.collector(central_broker, UP + "sensors/#", protocol=5)
    m = fresh.wait_message(UP + "sensors/tele/aq_DESH001/SENSOR", payload)
    assert m.retain, "central holds the message as retained"
    assert m.payload == payload
    # The non-retained one is not kept by the broker: a barrier message
    # published after it proves nothing else is coming for this subscriber.
    pub.publish("sensors/barrier", b"b")
    fresh.wait_message(UP + "sensors/barrier")
    topics = [x.topic for x in fresh.snapshot()]
    assert UP + "sensors/tele/aq_DESH001/STATE" not in topics


def test_retain_flag_is_carried_downlink(relay, local_broker, central_broker,
                                         clients):
    needs_mqtt5_central(central_broker, "a 3.1.1 broker clears RETAIN on "
                        "what it sends to a subscription it already has "
                        "[MQTT-3.3.1-9]; the relay sees it only with MQTT 5 "
                        "Retain As Published")
    pub = clients.publisher(central_broker)
    pub.publish(UP + "cmd/valve/set", b'{"state":"open"}', retain=True)
    pub.wait_acked()
    relay.wait_status(lambda s: s["forwarded"]["downlink"] == 1,
                      what="forwarded.downlink == 1")
    fresh = clients.collector(local_broker, "cmd/#", protocol=5)
    m = fresh.wait_message("cmd/valve/set", b'{"state":"open"}')
    assert m.retain


def _props_case():
    return dict(content_type="application/json", payload_format=1,
                correlation_data=b"\x00\x01corr-\xff",
                response_topic="replies/gw-test/42",
                user_properties=[("unit", "ug/m3"), ("station", "DESH001"),
                                 ("unit", "dup-key-kept")],
                expiry=3600)


def _check_props(m, case, sent_at):
    p = props_dict(m.properties)
    assert p.get("ContentType") == case["content_type"]
    assert p.get("PayloadFormatIndicator") == case["payload_format"]
    assert p.get("CorrelationData") == case["correlation_data"]
    assert p.get("ResponseTopic") == case["response_topic"]
    up = p.get("UserProperty") or []
    for kv in case["user_properties"]:
        assert kv in up, "user property %r carried (got %r)" % (kv, up)
    # Expiry carries the remaining time: never more than sent, and not 0
    # (an hour cannot have run out during the test).
    exp = p.get("MessageExpiryInterval")
    assert exp is not None, "message expiry interval carried"
    elapsed = time.monotonic() - sent_at
    assert 0 < exp <= case["expiry"], exp
    assert exp >= case["expiry"] - elapsed - 2, (exp, elapsed)


def test_mqtt5_properties_carried_uplink(relay, local_broker, central_broker,
                                         clients):
    needs_mqtt5_central(central_broker, "no properties on a 3.1.1 link")
    case = _props_case()
    col = clients.collector(central_broker, UP + "#", protocol=5)
    pub = clients.publisher(local_broker, protocol=5)
    t0 = time.monotonic()
    pub.publish("sensors/props/x", b'{"PM10":16.7}', properties=publish_properties(**case))
    pub.wait_acked()
    m = col.wait_message(UP + "sensors/props/x")
    _check_props(m, case, t0)


def test_mqtt5_properties_carried_downlink(relay, local_broker, central_broker,
                                           clients):
    needs_mqtt5_central(central_broker, "no properties on a 3.1.1 link")
    case = _props_case()
    col = clients.collector(local_broker, "cmd/#", protocol=5)
    pub = clients.publisher(central_broker, protocol=5)
    t0 = time.monotonic()
    pub.publish(UP + "cmd/props/x", b'{"set":1}', properties=publish_properties(**case))
    pub.wait_acked()
    m = col.wait_message("cmd/props/x")
    _check_props(m, case, t0)


def test_qos_capped_to_route(relay_factory, local_broker, central_broker,
                             clients):
    relay_factory(uplinks=[
        {"topic": "sensors/q0/#", "remote_prefix": "gw/%i/", "qos": "0",
         "mode": "raw"},
        {"topic": "sensors/q1/#", "remote_prefix": "gw/%i/", "qos": "1",
         "mode": "raw"},
    ])
    col = clients.collector(central_broker, UP + "#", qos=2, protocol=5)
    pub = clients.publisher(local_broker)
    pub.publish("sensors/q0/a", b"qos1 on a qos0 route", qos=1)
    pub.publish("sensors/q1/a", b"qos1 on a qos1 route", qos=1)
    pub.publish("sensors/q1/b", b"qos0 on a qos1 route", qos=0)
    pub.publish("sensors/q1/c", b"qos2 on a qos1 route", qos=2)
    pub.wait_acked()
    col.wait_count(4)
    got = {m.topic: m.qos for m in col.snapshot()}
    assert got[UP + "sensors/q0/a"] == 0, "capped at the route's qos 0"
    assert got[UP + "sensors/q1/a"] == 1
    assert got[UP + "sensors/q1/b"] == 0, "never raised above the publisher's"
    assert got[UP + "sensors/q1/c"] == 1, "qos 2 capped at the route's qos 1"


def test_downlink_is_not_echoed_up_an_overlapping_route(relay_factory,
                                                        local_broker,
                                                        central_broker,
                                                        clients):
    needs_mqtt5_central(central_broker, "these overlapping routes need No "
                        "Local on the central link; with protocol 311 "
                        "`check` refuses them (docs/config.md, loop check)")
    r = relay_factory(uplinks=[{"topic": "#", "remote_prefix": "gw/%i/",
                                "qos": "1", "mode": "raw"}])
    central = clients.collector(central_broker, UP + "#", protocol=5)
    local = clients.collector(local_broker, "#", protocol=5)
    cpub = clients.publisher(central_broker)
    cpub.publish(UP + "cmd/x", b'{"reboot":true}')
    cpub.wait_acked()
    local.wait_message("cmd/x")

    # Barrier: a local message published after the relay's cmd/x reached the
    # local broker. Had the relay's uplink subscription received its own
    # cmd/x, the broker would have delivered it before this one.
    lpub = clients.publisher(local_broker)
    lpub.publish("sensors/barrier", b"after")
    lpub.wait_acked()
    central.wait_message(UP + "sensors/barrier")
    s = r.wait_status(lambda s: s["forwarded"]["uplink"] >= 1 and
                      s["queue"]["uplink"]["messages"] == 0,
                      what="barrier forwarded")

    assert [m.topic for m in local.snapshot()].count("cmd/x") == 1
    assert [m.topic for m in central.snapshot()].count(UP + "cmd/x") == 1, \
        "central saw gw/gw-test/cmd/x only once: the test's own publish"
    assert s["received"]["uplink"] == 1, "only the barrier went up"
    assert s["forwarded"]["downlink"] == 1


def test_status_json_shape(relay):
    s = relay.status()
    assert s["id"] == "gw-test"
    assert isinstance(s["uptime_s"], int) and s["uptime_s"] >= 0
    for side in ("local", "central"):
        assert s[side]["connected"] is True
        assert isinstance(s[side]["reconnects"], int)
    for d in ("uplink", "downlink"):
        for k in ("messages", "bytes"):
            assert s["queue"][d][k] == 0
        assert isinstance(s["received"][d], int)
        assert isinstance(s["forwarded"][d], int)
    assert s["dropped"]["full"] == 0
    assert s["dropped"]["expired"] == 0
    # uptime counts up
    relay.wait_status(lambda x: x["uptime_s"] >= s["uptime_s"] + 1,
                      timeout=T(5), what="uptime_s to advance")
