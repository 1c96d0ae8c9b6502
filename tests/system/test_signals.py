# SPDX-License-Identifier: ISC
"""SIGTERM/SIGINT: stop intake, wait up to 5 s for in-flight
acknowledgements, commit, exit 0; nothing acknowledged is lost after a
restart. Also the status topic: retained "online", will "offline"."""

import signal

import pytest

from harness import PacedStream, T, analyse, telemetry_messages

UP = "gw/gw-test/"
STATUS_TOPIC = "pushrelay/gw-test/status"


def _drain_and_check(relay, col, pub, timeout):
    pub.wait_acked(timeout=T(60))
    acked = pub.acked_messages()
    col.wait_for(lambda c: {(UP + t, p) for t, p in acked} <= c.unique,
                 timeout=timeout, what="every acknowledged message")
    a = analyse(acked, col.pairs(strip_prefix=UP))
    print("\n%d acknowledged, lost %d, duplicates %d"
          % (len(acked), len(a["lost"]), a["duplicates"]))
    assert not a["lost"]
    assert a["topic_order"], a["first_disorder"]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT],
                         ids=["SIGTERM", "SIGINT"])
def test_stop_signal_under_load(relay, local_broker, central_broker, clients,
                                sig):
    col = clients.collector(central_broker, UP + "#", protocol=311)
    pub = clients.publisher(local_broker)
    stream = PacedStream(pub, telemetry_messages(), 1000).start()
    relay.wait_status(lambda s: s["forwarded"]["uplink"] >= 1500,
                      what="load flowing")
    took = relay.stop(timeout=6, sig=sig)   # asserts exit 0
    assert took < 6, "exit within 6 s, took %.1f" % took
    # The stream goes on into the local broker while the relay is down.
    stream.at(stream.count + 500, timeout=T(10))
    relay.start()
    relay.wait_connected()
    relay.wait_status(lambda s: s["forwarded"]["uplink"] >= 500,
                      what="flowing again")
    stream.stop()
    _drain_and_check(relay, col, pub, T(60))


def test_sigterm_with_unacknowledged_messages_in_flight(relay, local_broker,
                                                        central_broker, clients,
                                                        telemetry):
    """Central stops acknowledging (SIGSTOP); SIGTERM must still exit 0
    within 6 s, and a restart delivers everything."""
    col = clients.collector(central_broker, UP + "#", protocol=311)
    pub = clients.publisher(local_broker)
    first = telemetry(200)
    pub.publish_many(first)
    relay.wait_status(lambda s: s["forwarded"]["uplink"] == 200,
                      what="first 200 forwarded")

    central_broker.pause()
    more = telemetry(500)[200:]
    pub.publish_many(more)
    relay.wait_status(lambda s: s["received"]["uplink"] == 500 and
                      s["queue"]["uplink"]["messages"] == 300,
                      what="300 queued, unacknowledged")
    took = relay.stop(timeout=T(8))
    assert took < 6, "SIGTERM took %.1fs with acknowledgements outstanding" % took
    central_broker.resume()

    relay.start()
    relay.wait_connected()
    _drain_and_check(relay, col, pub, T(60))
    relay.wait_status(lambda s: s["queue"]["uplink"]["messages"] == 0,
                      what="queue drained")


def test_status_topic_birth_and_will(relay, central_broker, clients):
    # Retain As Published: the birth may arrive live, after this subscribe,
    # and must still show that it was published retained.
    col = clients.collector(central_broker, STATUS_TOPIC, protocol=5,
                            retain_as_published=True)
    m = col.wait_message(STATUS_TOPIC, b"online")
    assert m.retain, "birth message is retained"

    col.clear()
    relay.kill9()
    col.wait_message(STATUS_TOPIC, b"offline")
    # A subscriber arriving now sees the retained state: offline.
    fresh = clients.collector(central_broker, STATUS_TOPIC, protocol=5)
    m = fresh.wait_message(STATUS_TOPIC)
    assert m.payload == b"offline" and m.retain

    relay.start()
    relay.wait_connected()
    col.wait_message(STATUS_TOPIC, b"online")


def test_status_topic_can_be_disabled(relay_factory, local_broker,
                                      central_broker, clients):
    col = clients.collector(central_broker, ["pushrelay/#", UP + "#"],
                            protocol=5)
    relay = relay_factory(relay={"status_topic": "%none"})
    # Barrier: an uplink message goes out on the relay's own connection
    # after anything it published on connecting, so it arrives after it.
    pub = clients.publisher(local_broker)
    pub.publish("sensors/barrier", b"b")
    pub.wait_acked()
    col.wait_message(UP + "sensors/barrier")
    assert [m.topic for m in col.snapshot()] == [UP + "sensors/barrier"]
    relay.stop()
