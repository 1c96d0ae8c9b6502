# SPDX-License-Identifier: ISC
"""`pushrelay unpack`: batch frames back into plain MQTT messages at the
central site, through the real binaries on real brokers.

The relay runs its uplink in mode batch; the unpacker subscribes to
pushrelay/+/batch on the central broker and republishes every record at its
own topic; a collector on the central broker plays the cloud consumer.
"""

import json
import math
import time

import pytest

from harness import (PacedStream, T, analyse, corpus_size, props_dict,
                     publish_properties, telemetry_messages, wait_until)

UP = "gw/gw-test/"
BATCH = [{"topic": "sensors/#", "remote_prefix": "gw/%i/", "qos": "1",
          "mode": "batch"}]


def _records(col):
    return [(m.topic, m.payload) for m in col.snapshot()]


def _pipeline(relay_factory, unpacker_factory, clients, central_broker,
              protocol=5, **unpack_options):
    """Relay in batch mode, the unpacker, and a consumer on the central side
    (MQTT 3.1.1 when sessions must survive a broker restart)."""
    unpacker = unpacker_factory(**unpack_options)
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
    relay carries and a retained one, through relay and unpacker. The
    unpacker refuses retain unless told otherwise (docs/unpack.md,
    "Trust"); here it is told, as for a fleet whose gateways it trusts
    with retained values. With a central broker that speaks MQTT 3.1.1
    only (aedes), the unpacker and the consumer are on 3.1.1, which
    carries no properties: the messages that carry them must arrive all
    the same, and only the property check is left out."""
    relay, unpacker, col = _pipeline(relay_factory, unpacker_factory,
                                     clients, central_broker,
                                     allow_retain="1")
    pub = clients.publisher(local_broker)
    corpus = telemetry_messages(corpus_size())
    # Slices: paho-mqtt cannot hold more than 65535 unacknowledged ids.
    for i in range(0, len(corpus), 30000):
        pub.publish_many(corpus[i:i + 30000], timeout=T(120))
    t_props = time.monotonic()
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
    for i, case in enumerate(PROPS if central_broker.mqtt5 else ()):
        m = by_topic[UP + "sensors/props/%d" % i]
        got = props_dict(m.properties)
        want = props_dict(publish_properties(**case))
        if "MessageExpiryInterval" in want:
            # The time in transit is taken off, as a broker does.
            transit = math.ceil(m.t - t_props) + 1
            left = got.pop("MessageExpiryInterval")
            assert 3600 - transit <= left <= 3600, (left, transit)
            want.pop("MessageExpiryInterval")
        if "ResponseTopic" in want:
            # Under the gateway's prefix, as the topic: an answer goes to
            # this gateway's downlink, never to another gateway's
            # (docs/unpack.md, "Trust").
            want["ResponseTopic"] = UP + want["ResponseTopic"]
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


# The unpacker's max_inflight in the outage test: it bounds the repeats.
WINDOW = 50


def test_outage_and_kill9_of_relay_and_unpacker_lose_nothing(
        relay_factory, unpacker_factory, local_broker, central_broker,
        clients):
    """A stream of corpus messages through an outage of the central broker
    (a restart, or for aedes the outage that keeps its sessions), then
    the relay is killed with SIGKILL, then the unpacker: nothing is lost
    and every topic keeps its order. A frame the relay sends again is
    dropped by its sequence number. What may come twice, and how much of
    it, is accounted for below (docs/unpack.md, "What can repeat")."""
    # 3.1.1 sessions: Mosquitto 2.0.11 keeps only those across its restart
    # (offline(), online(): a stop and a start). aedes keeps its sessions in
    # memory: its outage closes every connection and the listener and keeps
    # the process.
    unpacker = unpacker_factory(protocol="311", max_inflight=str(WINDOW))
    col = clients.collector(central_broker, UP + "#", protocol=311)
    relay = relay_factory(uplinks=BATCH)
    pub = clients.publisher(local_broker)
    # 24,000 from any corpus (the sample in tests/data holds 8,016 and is
    # cycled); stream.at(n) fails at once for an n beyond them.
    msgs = telemetry_messages(24000)
    stream = PacedStream(pub, msgs, 2000).start()
    stream.at(3000)
    central_broker.offline()
    relay.wait_status(lambda s: not s["central"]["connected"],
                      what="the relay to see central down")
    stream.at(6000)
    central_broker.online()
    relay.wait_connected()
    stream.at(10000)
    redelivered = relay.status()["redelivered"]["uplink"]
    relay.kill9()
    relay.start()
    stream.at(16000)
    unpacker.kill9()
    unpacker.start()
    peak = 0

    def sample():
        nonlocal peak
        peak = max(peak, unpacker.status()["central"]["inflight"])
        return stream.reached(len(msgs))

    wait_until(sample, T(60), what="%d messages published" % len(msgs))
    stream.stop()
    pub.wait_acked(timeout=T(60))
    _wait_all(col, msgs, T(120), lambda: "relay %s\nunpacker %s" % (
        json.dumps(relay.status()), json.dumps(unpacker.status())))
    res = analyse([(UP + t, p) for t, p in msgs], _records(col))
    u = unpacker.status()
    redelivered += relay.status()["redelivered"]["uplink"]
    # Copies the central broker itself sent again (DUP set) after its
    # outage: its QoS 1 to the consumer, whoever published.
    seen, ours, brokers = set(), 0, 0
    for m in col.snapshot():
        key = (m.topic, m.payload)
        if key in seen:
            brokers += m.dup
            ours += not m.dup
        seen.add(key)
    print("\noutage + kill -9 of relay and unpacker: %d messages, lost %d, "
          "repeats %d (published again by pushrelay %d; sent again to "
          "the relay by the local broker %d; sent again to the consumer by "
          "the central broker %d); frames dropped as taken already %d"
          % (len(msgs), len(res["lost"]), res["duplicates"], ours,
             redelivered, brokers, u["frames"]["duplicate"]))
    assert not res["lost"] and not res["unexpected"]
    assert res["topic_order"], res["first_disorder"]
    # What pushrelay publishes twice has two sources, both bounded here:
    # - the relay's kill: messages whose commit made it and whose PUBACK
    #   did not are sent again by the local broker (DUP set), and queued
    #   twice; the relay counts those arrivals (redelivered);
    # - the unpacker publishes a record only after the commit that deleted
    #   the records acknowledged before it, so it never has more than
    #   max_inflight records sent and not deleted: at most that many are
    #   published again after the central restart and after its kill.
    # A frame the relay sends again is dropped by its sequence number;
    # without that, each would repeat up to 1,000 records.
    assert peak <= WINDOW, peak
    assert ours <= redelivered + 2 * WINDOW, (ours, redelivered)


class Captured:
    """A running pipeline, one real frame it carried, and its records."""


@pytest.fixture
def captured(relay_factory, unpacker_factory, clients, central_broker,
             local_broker):
    c = Captured()
    c.relay, c.unpacker, c.col = _pipeline(relay_factory, unpacker_factory,
                                           clients, central_broker)
    frames = clients.collector(central_broker, "pushrelay/+/batch",
                               protocol=5)
    pub = clients.publisher(local_broker)
    c.sent = [("sensors/a/%d" % i, b"v%d" % i) for i in range(5)]
    pub.publish_many(c.sent)
    _wait_all(c.col, c.sent, T(30))
    frames.wait_count(1, timeout=T(10))
    c.frame = frames.snapshot()[0]
    c.central = clients.publisher(central_broker)
    return c


def _still_flows(clients, local_broker, col, before):
    """A message published now arrives, and the consumer has seen nothing
    else since the `before` messages it had."""
    pub = clients.publisher(local_broker)
    pub.publish("sensors/after", b"x")
    col.wait_message(UP + "sensors/after", timeout=T(10))
    assert col.count() == before + 1


def test_a_frame_taken_already_is_dropped_and_counted(captured, clients,
                                                      local_broker):
    unpacker, col, frame, sent, central = (
        captured.unpacker, captured.col, captured.frame, captured.sent,
        captured.central)
    central.publish(frame.topic, frame.payload)
    central.wait_acked()
    unpacker.wait_status(lambda s: s["frames"]["duplicate"] == 1,
                         what="the frame counted as taken already")
    # A later message still flows, and the duplicate added nothing.
    _still_flows(clients, local_broker, col, len(sent))


def test_malformed_and_foreign_frames_are_counted_logged_and_survived(
        captured, clients, local_broker):
    unpacker, col, frame, sent, central = (
        captured.unpacker, captured.col, captured.frame, captured.sent,
        captured.central)
    central.publish("pushrelay/gw-x/batch", b"not a frame at all")
    central.publish("pushrelay/gw-x/batch", frame.payload[:40])
    # A gateway must not speak for another: gw-test's frame on gw-evil's
    # topic would spoil gw-test's sequence numbers.
    central.publish("pushrelay/gw-evil/batch", frame.payload)
    central.wait_acked()
    unpacker.wait_status(lambda s: s["frames"]["malformed"] == 3,
                         what="three frames refused")
    unpacker.wait_log(r"frame on pushrelay/gw-x/batch dropped: frame: "
                      r"byte \d+: ")
    unpacker.wait_log(r"frame on pushrelay/gw-evil/batch dropped: its "
                      r"gateway id 'gw-test' is not the '\+' level of the "
                      r"topic")
    assert unpacker.alive()
    _still_flows(clients, local_broker, col, len(sent))
    assert unpacker.status()["frames"]["duplicate"] == 0


def test_a_gateway_with_a_new_queue_is_not_taken_for_old_frames(
        relay_factory, unpacker_factory, local_broker, central_broker,
        clients):
    """The queue on /tmp starts over at every reboot: the unpacker must not
    take the new queue's frames for ones it has seen."""
    relay, unpacker, col = _pipeline(relay_factory, unpacker_factory,
                                     clients, central_broker)
    pub = clients.publisher(local_broker)
    first = [("sensors/boot1/%d" % i, b"a%d" % i) for i in range(3)]
    pub.publish_many(first)
    _wait_all(col, first, T(30))
    relay.stop()
    for suffix in ("", "-wal", "-shm"):
        p = relay.store_path.with_name(relay.store_path.name + suffix)
        if p.exists():
            p.unlink()
    relay.start()
    relay.wait_connected()
    second = [("sensors/boot2/%d" % i, b"b%d" % i) for i in range(3)]
    pub.publish_many(second)
    _wait_all(col, first + second, T(30))
    s = unpacker.status()
    assert s["frames"]["duplicate"] == 0 and s["frames"]["received"] >= 2


def test_unpacker_config_status_reload_and_stop(
        pushrelay_bin, unpacker_factory, central_broker):
    u = unpacker_factory()
    # status finds the socket from the file, as for the relay.
    r = u.cli("status", conf=u.status_conf_path)
    assert r.returncode == 0 and r.stdout.startswith("unpacker main"), \
        r.stdout
    # run refuses an unpacker's file, and unpack a relay's, with exit 2.
    r = u.cli("run", conf=u.conf_path)
    assert r.returncode == 2 and "pushrelay unpack -c" in r.stderr
    # A bad option names file, line and option, and exits 2.
    bad = u.workdir / "bad.conf"
    bad.write_text("config unpack 'main'\n\toption topic 'a/#/b'\n"
                   "\toption linger_ms '1'\n")
    r = u.cli("check", conf=bad)
    assert r.returncode == 2
    assert "%s:2: option topic" % bad in r.stderr
    assert "%s:3: option linger_ms: unknown in config unpack" % bad \
        in r.stderr
    # SIGHUP re-reads the file; SIGTERM stops with exit code 0.
    at = u.log_size()
    u.hup()
    u.wait_log(r"reload: configuration applied", after=at)
    u.wait_connected()
    u.stop()
