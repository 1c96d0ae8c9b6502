# SPDX-License-Identifier: ISC
"""Expired messages are dropped and counted, never sent.

Route ttl (seconds a message may wait) and the MQTT 5 message expiry
interval both apply. The relay is expected to count expiries while central
is still down (status dropped.expired reaches N before central returns).
"""

import time

from harness import T, publish_properties

UP = "gw/gw-test/"
N = 20


def _run_outage(relay, central_broker, clients, pub, publish_batch, ttl_s):
    col = clients.collector(central_broker, UP + "#", protocol=311)
    central_broker.stop()
    relay.wait_status(lambda s: not s["central"]["connected"],
                      what="central.connected false")
    t_pub = time.monotonic()
    publish_batch()
    pub.wait_acked()
    relay.wait_status(lambda s: s["received"]["uplink"] >= N,
                      what="all %d received" % N)

    s = relay.wait_status(lambda s: s["dropped"]["expired"] == N,
                          timeout=ttl_s + T(15),
                          what="dropped.expired == %d while central is down" % N)
    assert time.monotonic() - t_pub >= ttl_s - 0.5, "expired too early"
    assert s["queue"]["uplink"]["messages"] == 0
    assert s["queue"]["uplink"]["bytes"] == 0
    assert s["dropped"]["full"] == 0

    central_broker.start()
    relay.wait_status(lambda s: s["central"]["connected"], timeout=T(30),
                      what="central reconnected")
    pub.publish("sensors/barrier", b"end")
    pub.wait_acked()
    col.wait_message(UP + "sensors/barrier")
    leaked = [m.topic for m in col.snapshot() if m.topic != UP + "sensors/barrier"]
    assert leaked == [], "expired messages were sent: %r" % leaked[:5]
    s = relay.wait_status(lambda s: s["forwarded"]["uplink"] >= 1,
                          what="barrier forwarded")
    assert s["forwarded"]["uplink"] == 1
    assert s["dropped"]["expired"] == N


def test_route_ttl_expires_queued_messages(relay_factory, local_broker,
                                           central_broker, clients):
    # The barrier published once central is back goes through the same
    # route: ttl limits only how long a message may wait.
    relay = relay_factory(uplinks=[{"topic": "sensors/#", "remote_prefix":
                                    "gw/%i/", "qos": "1", "ttl": "2",
                                    "mode": "raw"}])
    pub = clients.publisher(local_broker)

    def batch():
        for i in range(N):
            pub.publish("sensors/ttl/%d" % i, b'{"v":%d}' % i)

    _run_outage(relay, central_broker, clients, pub, batch, 2)


def test_mqtt5_message_expiry_expires_queued_messages(relay, local_broker,
                                                      central_broker, clients):
    pub = clients.publisher(local_broker, protocol=5)

    def batch():
        for i in range(N):
            pub.publish("sensors/exp/%d" % i, b'{"v":%d}' % i,
                        properties=publish_properties(expiry=1))

    _run_outage(relay, central_broker, clients, pub, batch, 1)
