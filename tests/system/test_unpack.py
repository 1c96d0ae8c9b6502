"""`pushrelay unpack`: batch frames back into plain MQTT messages at the
central site, through the real binaries on real brokers.

The relay runs its uplink in mode batch; the unpacker subscribes to
pushrelay/+/batch on the central broker and republishes every record at its
own topic; a collector on the central broker plays the cloud consumer.
"""

import json

from harness import (T, analyse, interleaved_telemetry, props_dict,
                     publish_properties, wait_until)

UP = "gw/gw-test/"
BATCH = [{"topic": "sensors/#", "remote_prefix": "gw/%i/", "qos": "1",
          "mode": "batch"}]


def _records(col):
    return [(m.topic, m.payload) for m in col.snapshot()]


def _pipeline(relay_factory, unpacker_factory, clients, central_broker,
              protocol=5):
    """Relay in batch mode, the unpacker, and a consumer on the central side
    (MQTT 3.1.1 when sessions must survive a broker restart)."""
    unpacker = unpacker_factory()
    col = clients.collector(central_broker, UP + "#", protocol=protocol)
    relay = relay_factory(uplinks=BATCH)
    return relay, unpacker, col


def _wait_all(col, sent, timeout, extra=None):
    want = set((UP + t, p) for t, p in sent)
    wait_until(lambda: want <= set(_records(col)), timeout,
               what="all %d messages at the consumer" % len(want),
               details=extra)


PROPS = [
    {"content_type": "application/json", "payload_format": 1},
    {"correlation_data": b"\x00\x01corr\xff", "response_topic": "reply/here"},
    {"user_properties": [("site", "berlin"), ("site", "b\u00e4r"),
                         ("k", "")]},
    {"expiry": 3600, "content_type": "text/plain"},
]


def test_every_corpus_message_arrives_once_in_order_with_properties(
        relay_factory, unpacker_factory, local_broker, central_broker,
        clients):
    """The whole telemetry corpus, plus messages carrying every property the
    relay carries and a retained one, through relay and unpacker."""
    relay, unpacker, col = _pipeline(relay_factory, unpacker_factory,
                                     clients, central_broker)
    pub = clients.publisher(local_broker)
    corpus = [("sensors/" + t, p) for t, p in interleaved_telemetry()]
    # Slices: paho-mqtt cannot hold more than 65535 unacknowledged ids.
    for i in range(0, len(corpus), 30000):
        pub.publish_many(corpus[i:i + 30000], timeout=T(120))
    for i, case in enumerate(PROPS):
        pub.publish("sensors/props/%d" % i, b"p%d" % i,
                    properties=publish_properties(**case))
    pub.publish("sensors/retained/x", b"last value", retain=True)
    pub.wait_acked(timeout=T(30))
    sent = corpus + [("sensors/props/%d" % i, b"p%d" % i)
                     for i in range(len(PROPS))] + \
        [("sensors/retained/x", b"last value")]
    _wait_all(col, sent, T(300), lambda: "relay %s\nunpacker %s" % (
        json.dumps(relay.status()), json.dumps(unpacker.status())))
    res = analyse([(UP + t, p) for t, p in sent], _records(col))
    assert not res["lost"] and not res["unexpected"]
    assert res["duplicates"] == 0
    assert res["topic_order"], res["first_disorder"]
    by_topic = {m.topic: m for m in col.snapshot()}
    for i, case in enumerate(PROPS):
        got = props_dict(by_topic[UP + "sensors/props/%d" % i].properties)
        want = props_dict(publish_properties(**case))
        if "MessageExpiryInterval" in want:
            # Time in transit is taken off, as a broker does.
            assert 3590 <= got.pop("MessageExpiryInterval") <= 3600
            want.pop("MessageExpiryInterval")
        assert got == want, (i, got, want)
    # Retain is carried: a consumer that subscribes now gets the value.
    late = clients.collector(central_broker, UP + "sensors/retained/#",
                             protocol=5)
    m = late.wait_message(UP + "sensors/retained/x", timeout=T(10))
    assert m.payload == b"last value" and m.retain
    r = relay.status()
    u = unpacker.wait_status(lambda s: s["queue"]["records"]["messages"] == 0,
                             what="every record acknowledged")
    assert u["role"] == "unpack"
    assert u["frames"]["received"] == r["batches"]["frames"]
    assert u["frames"]["duplicate"] == u["frames"]["malformed"] == 0
    assert u["records"]["stored"] == u["records"]["published"] == len(sent)
    print("\n%d messages in %d frames; WAN tx %d B (%.1f B/msg), raw "
          "topic+payload %d B" % (len(sent), r["batches"]["frames"],
                                  r["wan"]["tx_bytes"],
                                  r["wan"]["tx_bytes"] / len(sent),
                                  sum(len(t) + len(p) for t, p in sent)))
