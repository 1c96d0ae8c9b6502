# SPDX-License-Identifier: ISC
"""The local broker restarted mid-stream.

The relay must notice, reconnect by itself (local.reconnects grows),
resubscribe, and keep relaying; nothing the local broker acknowledged and
handed to the relay may be lost.

Mosquitto 2.0.11 does not restore an MQTT 5 session that has received
messages across its own restart (see tests/lib/harness.py, Collector), so
with the default local protocol 5 a message that sat in the broker's queue
for the relay at the moment of the restart would be lost by the broker, not
by the relay. The protocol 5 case therefore pauses the publisher around the
restart (publish before, wait until the relay has taken everything, restart,
publish after); the protocol 3.1.1 case keeps the stream running straight
through the restart, since Mosquitto does restore 3.1.1 sessions.
"""

import time

import pytest

from harness import PacedStream, T, analyse, telemetry_messages

UP = "gw/gw-test/"


def _check_all_arrived(col, acked, timeout, unordered=None):
    """Every acknowledged message arrived, in order per topic. unordered:
    an index range of acked messages that the publisher itself had in
    flight across the broker restart; its client re-sends those after
    reconnecting, so their place in the order is not the relay's to keep.
    Order is checked before and after that range."""
    col.wait_for(lambda c: {(UP + t, p) for t, p in acked} <= c.unique,
                 timeout=timeout, what="every acknowledged message")
    got = [m for m in col.pairs(strip_prefix=UP)
           if not m[0].startswith("sensors/probe/")]
    a = analyse(acked, got)
    print("\n%d acknowledged, lost %d, duplicates %d"
          % (len(acked), len(a["lost"]), a["duplicates"]))
    assert not a["lost"]
    assert not a["unexpected"], a["unexpected"][:3]
    if unordered is None:
        assert a["topic_order"], a["first_disorder"]
        return a
    for part in (acked[:unordered[0]], acked[unordered[1]:]):
        wanted = set(part)
        b = analyse(part, [m for m in got if m in wanted])
        assert b["topic_order"], b["first_disorder"]
    return a


def test_local_restart_between_bursts_protocol5(relay, local_broker,
                                                central_broker, clients):
    col = clients.collector(central_broker, UP + "#", protocol=311)
    pub = clients.publisher(local_broker)
    msgs = telemetry_messages(3000)
    burst_a, burst_b = msgs[:1500], msgs[1500:]
    before = relay.status()

    # Burst A, paced, and wait until the relay has taken all of it.
    stream = PacedStream(pub, burst_a, 750).start()
    stream.at(len(burst_a), timeout=T(30))
    n_a = stream.stop()
    pub.wait_acked()
    relay.wait_status(lambda s: s["received"]["uplink"] == n_a,
                      what="relay received burst A")

    local_broker.stop()
    relay.wait_status(lambda s: not s["local"]["connected"],
                      what="local.connected false")
    local_broker.start()
    s = relay.wait_status(
        lambda s: s["local"]["connected"] and
        s["local"]["reconnects"] > before["local"]["reconnects"],
        timeout=T(60), what="relay reconnected to the local broker")

    # Burst B after the reconnect (the publisher reconnects by itself too).
    # The relay resubscribes right after its CONNACK; probe until a message
    # gets through, then stream.
    pub.wait_acked(timeout=T(30))
    probe = 0
    deadline = time.monotonic() + T(30)
    while relay.status()["received"]["uplink"] <= n_a:
        assert time.monotonic() < deadline, "uplink not resubscribed"
        pub.publish("sensors/probe/%d" % probe, b"probe")
        probe += 1
        pub.wait_acked()
        time.sleep(0.1)  # pacing the probes
    stream = PacedStream(pub, burst_b, 750).start()
    stream.at(len(burst_b), timeout=T(30))
    stream.stop()
    pub.wait_acked()

    acked = [m for m in pub.acked_messages() if not m[0].startswith("sensors/probe/")]
    _check_all_arrived(col, acked, T(60))
    assert s["central"]["connected"]


def test_local_restart_mid_stream_protocol311(relay_factory, local_broker,
                                              central_broker, clients):
    relay = relay_factory(local={"protocol": "311"})
    col = clients.collector(central_broker, UP + "#", protocol=311)
    pub = clients.publisher(local_broker)
    before = relay.status()

    stream = PacedStream(pub, telemetry_messages(), 500).start()
    relay.wait_status(lambda s: s["forwarded"]["uplink"] >= 1000,
                      what="stream flowing")
    n_at_stop = len(pub.acked_messages())
    local_broker.stop()
    relay.wait_status(lambda s: not s["local"]["connected"],
                      what="local.connected false")
    local_broker.start()
    relay.wait_status(
        lambda s: s["local"]["connected"] and
        s["local"]["reconnects"] > before["local"]["reconnects"],
        timeout=T(60), what="relay reconnected to the local broker")
    pub.wait_acked(timeout=T(30))
    n_at_reconnect = stream.count
    relay.wait_status(lambda s: s["received"]["uplink"] > 0 and
                      stream.reached(n_at_reconnect + 1001),
                      what="1000 more messages published after the reconnect")
    stream.stop()
    pub.wait_acked(timeout=T(60))
    _check_all_arrived(col, pub.acked_messages(), T(90),
                       unordered=(n_at_stop, n_at_reconnect))
    s = relay.wait_status(lambda s: s["queue"]["uplink"]["messages"] == 0,
                          what="queue drained")
    assert s["central"]["connected"]


@pytest.mark.parametrize("proto", ["5", "311"])
def test_relay_starts_before_the_local_broker(relay_factory, local_broker,
                                              central_broker, clients, proto):
    """The relay starts while the local broker is down and connects later."""
    local_broker.stop()
    relay = relay_factory(local={"protocol": proto}, connected=False)
    s = relay.wait_status(lambda s: s["central"]["connected"],
                          what="central connected")
    assert not s["local"]["connected"]
    local_broker.start()
    relay.wait_connected(timeout=T(60))
    col = clients.collector(central_broker, UP + "#")
    pub = clients.publisher(local_broker)
    pub.publish("sensors/late/x", b"hello")
    pub.wait_acked()
    col.wait_message(UP + "sensors/late/x", b"hello")
