# SPDX-License-Identifier: ISC
"""Frame version 2 and shared dictionaries through the real binaries: the
relay frames its uplink with v2 and a dictionary built from its own recent
frames, the unpacker keeps dictionaries per gateway in its store
(docs/frame-format.md, sections 2.3 and 8).

What must hold whatever happens to a dictionary (the unpacker's store
emptied, the relay killed while frames name one, a dictionary lost or
replaced by other bytes under the same id): every message arrives, none is
decoded with another dictionary than its own (it would arrive changed, or
the frame would be refused as malformed), and a frame whose dictionary is
missing is held, counted, and decoded when the dictionary comes again.
"""

import json
import sqlite3

from harness import PacedStream, T, analyse, telemetry_messages, wait_until

UP = "gw/gw-test/"
BATCH = [{"topic": "sensors/#", "remote_prefix": "gw/%i/", "qos": "1",
          "mode": "batch"}]
# A small dictionary, so that the tests see a few made and rotated.
DICT = {"frame_version": "2", "dictionary_bytes": "8K",
        "linger_ms": "50"}


def _records(col):
    return [(m.topic, m.payload) for m in col.snapshot()]


def _pipeline(relay_factory, unpacker_factory, clients, central_broker,
              batch=None, **unpack_options):
    unpacker = unpacker_factory(**unpack_options)
    col = clients.collector(central_broker, UP + "#", protocol=311)
    relay = relay_factory(uplinks=BATCH, batch=dict(DICT, **(batch or {})))
    return relay, unpacker, col


def _drop_dicts(unpacker):
    """Deletes the unpacker's dictionaries of gw-test (it must be stopped)."""
    db = sqlite3.connect(str(unpacker.store_path))
    db.execute("DELETE FROM blob WHERE key LIKE 'dict/gw-test/%'")
    db.commit()
    db.close()


def _details(relay, unpacker):
    return lambda: "relay %s\nunpacker %s\n%s" % (
        json.dumps(relay.status()), json.dumps(unpacker.status()),
        unpacker.log_tail())


def _wait_all(col, sent, timeout, details):
    want = set((UP + t, p) for t, p in sent)
    wait_until(lambda: want <= set(_records(col)), timeout,
               what="all %d messages at the consumer" % len(want),
               details=details)


def _check(col, sent, unpacker, dups_ok=False):
    res = analyse([(UP + t, p) for t, p in sent], _records(col))
    assert not res["lost"] and not res["unexpected"], res
    if not dups_ok:
        assert res["duplicates"] == 0
    assert res["topic_order"] or dups_ok, res["first_disorder"]
    u = unpacker.status()["frames"]
    # A frame decoded with another dictionary fails its check: malformed.
    assert u["malformed"] == 0, u
    return u


def _dict_in_use(relay):
    return relay.wait_status(
        lambda s: s["batches"]["dictionary_id"] > 0, timeout=T(60),
        what="a dictionary in use")


def test_v2_with_dictionary_round_trip(relay_factory, unpacker_factory,
                                       local_broker, central_broker,
                                       clients):
    """A paced stream through relay and unpacker: dictionaries are made
    (more than one: 4 KiB, then 8 KiB), sent once each, stored by the
    unpacker; every message arrives once and in order, nothing held."""
    # At most 20 messages (~2.3 KB of records) a frame: the first
    # dictionary is made from the bodies seen once they pass 4 KiB, so it
    # stays under the 8 KiB cap and can grow. A slow machine that lets a
    # backlog grow packed 60 or more messages into the first frame, whose
    # body alone filled the cap: one dictionary, never a second.
    relay, unpacker, col = _pipeline(relay_factory, unpacker_factory,
                                     clients, central_broker,
                                     batch={"max_messages": "20"})
    frames = clients.collector(central_broker, "pushrelay/+/batch",
                               protocol=311)
    pub = clients.publisher(local_broker)
    msgs = telemetry_messages(3000)
    stream = PacedStream(pub, msgs, 1000).start()
    wait_until(lambda: stream.reached(len(msgs)), T(60),
               what="%d messages published" % len(msgs))
    stream.stop()
    pub.wait_acked(timeout=T(30))
    _wait_all(col, msgs, T(60), _details(relay, unpacker))
    u = _check(col, msgs, unpacker)
    r = relay.status()["batches"]
    assert r["dictionaries"] >= 2, r
    assert u["dictionaries"] == r["dictionaries"], (u, r)
    assert u["held"] == 0, u
    # What went over the central broker: v2 frames, dictionaries among
    # them (byte 6 = 1), and frames that name one (codec 2).
    got = [m.payload for m in frames.snapshot()]
    assert got and all(p[:5] == b"PRBF\x02" for p in got)
    assert sum(p[6] == 1 for p in got) == r["dictionaries"]
    assert any(p[5] == 2 for p in got)
    print("\nv2 + dictionary: %d messages, %d frames, %d dictionaries, "
          "%d frame bytes (%.1f B/msg)" % (
              len(msgs), r["frames"], r["dictionaries"], r["frame_bytes"],
              r["frame_bytes"] / len(msgs)))


def _store_paths(unpacker):
    base = unpacker.store_path
    return [base, base.with_name(base.name + "-wal"),
            base.with_name(base.name + "-shm")]


def test_unpacker_restarted_with_an_empty_store(relay_factory,
                                                unpacker_factory,
                                                local_broker, central_broker,
                                                clients):
    """While frames name a dictionary, the unpacker loses its store. Its
    frames after that are held, not dropped and not decoded blind; the
    relay's next connection sends the dictionary again, and they come."""
    relay, unpacker, col = _pipeline(relay_factory, unpacker_factory,
                                     clients, central_broker,
                                     protocol="311")
    pub = clients.publisher(local_broker)
    msgs = telemetry_messages(1500)
    first, second = msgs[:800], msgs[800:]
    pub.publish_many(first, timeout=T(60))
    _wait_all(col, first, T(60), _details(relay, unpacker))
    _dict_in_use(relay)
    unpacker.stop()
    for p in _store_paths(unpacker):
        if p.exists():
            p.unlink()
    unpacker.start()
    unpacker.wait_connected()
    pub.publish_many(second, timeout=T(60))
    held = unpacker.wait_status(lambda s: s["frames"]["held"] > 0,
                                timeout=T(30),
                                what="frames held for the dictionary")
    assert held["frames"]["malformed"] == 0
    # A new connection of the relay: the dictionary goes again.
    relay.stop()
    relay.start()
    relay.wait_connected()
    _wait_all(col, msgs, T(60), _details(relay, unpacker))
    u = _check(col, msgs, unpacker, dups_ok=True)
    assert u["released"] == u["held"] > 0, u
    assert "which this store lacks" in unpacker.log_text()


def test_relay_killed_mid_dictionary(relay_factory, unpacker_factory,
                                     local_broker, central_broker, clients):
    """kill -9 of the relay while frames name its dictionary, twice: it
    goes on with the dictionary from its store (so the unpacker needs no
    new one) and nothing is lost or held for good."""
    relay, unpacker, col = _pipeline(relay_factory, unpacker_factory,
                                     clients, central_broker,
                                     protocol="311")
    pub = clients.publisher(local_broker)
    msgs = telemetry_messages(4000)
    stream = PacedStream(pub, msgs, 800).start()
    stream.at(1200)
    _dict_in_use(relay)
    relay.kill9()
    relay.start()
    relay.wait_connected()
    stream.at(2500)
    relay.kill9()
    relay.start()
    relay.wait_connected()
    wait_until(lambda: stream.reached(len(msgs)), T(60),
               what="%d messages published" % len(msgs))
    stream.stop()
    pub.wait_acked(timeout=T(30))
    _wait_all(col, msgs, T(90), _details(relay, unpacker))
    u = unpacker.wait_status(lambda s: s["frames"]["held"] ==
                             s["frames"]["released"], timeout=T(30),
                             what="no frame held")["frames"]
    _check(col, msgs, unpacker, dups_ok=True)
    assert "taken up from the store" in relay.log_text()
    print("\nrelay kill -9 twice: %d dictionaries at the unpacker, %d held, "
          "%d released" % (u["dictionaries"], u["held"], u["released"]))


def test_lost_or_replaced_dictionary_is_never_used(relay_factory,
                                                   unpacker_factory,
                                                   local_broker,
                                                   central_broker, clients):
    """The unpacker's copy of a dictionary is replaced by other bytes under
    the same id (as a store from another gateway queue would have), and
    then deleted: the frames that name it are held, never decoded with the
    wrong bytes, and come out whole once the relay sends it again."""
    relay, unpacker, col = _pipeline(relay_factory, unpacker_factory,
                                     clients, central_broker,
                                     protocol="311")
    pub = clients.publisher(local_broker)
    msgs = telemetry_messages(1500)
    first, second = msgs[:800], msgs[800:1100]
    third = msgs[1100:]
    pub.publish_many(first, timeout=T(60))
    _wait_all(col, first, T(60), _details(relay, unpacker))
    _dict_in_use(relay)
    for round_, sent in (("replace", second), ("delete", third)):
        unpacker.stop()
        db = sqlite3.connect(str(unpacker.store_path))
        rows = db.execute("SELECT key, length(value) FROM blob WHERE key "
                          "LIKE 'dict/gw-test/%'").fetchall()
        assert rows, "the unpacker keeps its dictionaries in its store"
        if round_ == "replace":
            db.execute("UPDATE blob SET value = zeroblob(length(value)) "
                       "WHERE key LIKE 'dict/gw-test/%'")
        else:
            db.execute("DELETE FROM blob WHERE key LIKE 'dict/gw-test/%'")
        db.commit()
        db.close()
        unpacker.start()
        unpacker.wait_connected()
        held = unpacker.status()["frames"]["held"]
        pub.publish_many(sent, timeout=T(60))
        # held and released count frames since the start; the relay may
        # answer the unpacker's request before a poll sees a frame held.
        unpacker.wait_status(lambda s: s["frames"]["held"] > held,
                             timeout=T(30), what="frames held (%s)" % round_)
        relay.stop()
        relay.start()
        relay.wait_connected()
        _wait_all(col, first + sent, T(60), _details(relay, unpacker))
    u = _check(col, msgs, unpacker, dups_ok=True)
    assert u["released"] == u["held"] > 0, u


def test_a_missing_dictionary_comes_on_request(relay_factory,
                                               unpacker_factory,
                                               local_broker, central_broker,
                                               clients):
    """The unpacker lacks the dictionary and the relay's connection stays
    up: the unpacker asks for it (its id on pushrelay/<id>/batch/dict),
    the relay sends it again, the held frames come out. Then the same for
    a dictionary older than the relay's current one, which the relay
    still keeps."""
    relay, unpacker, col = _pipeline(relay_factory, unpacker_factory,
                                     clients, central_broker,
                                     protocol="311")
    pub = clients.publisher(local_broker)
    msgs = telemetry_messages(3000)
    first, second, third = msgs[:800], msgs[800:1000], msgs[1000:]
    pub.publish_many(first, timeout=T(60))
    _wait_all(col, first, T(60), _details(relay, unpacker))
    _dict_in_use(relay)
    reconnects = relay.status()["central"]["reconnects"]
    unpacker.stop()
    _drop_dicts(unpacker)
    unpacker.start()
    unpacker.wait_connected()
    pub.publish_many(second, timeout=T(60))
    _wait_all(col, first + second, T(60), _details(relay, unpacker))
    u = unpacker.status()["frames"]
    assert u["held"] > 0 and u["released"] == u["held"], u
    assert u["dictionary_requests"] >= 1, u
    assert relay.status()["central"]["reconnects"] == reconnects
    assert "asks for dictionary" in relay.log_text()
    # An older dictionary: the relay moves on to a new one while the
    # unpacker is down, then the unpacker loses the old one.
    old = relay.status()["batches"]["dictionary_id"]
    unpacker.stop()
    # Small frames after large ones: the relay makes a new dictionary
    # (docs/frame-format.md, 8.2).
    stream = PacedStream(pub, third, 500).start()
    wait_until(lambda: stream.reached(len(third)), T(60),
               what="%d messages published" % len(third))
    stream.stop()
    pub.wait_acked(timeout=T(30))
    relay.wait_status(lambda s: s["batches"]["messages"] == len(msgs),
                      what="every message framed")
    assert relay.status()["batches"]["dictionary_id"] > old
    _drop_dicts(unpacker)
    unpacker.start()
    unpacker.wait_connected()
    _wait_all(col, msgs, T(60), _details(relay, unpacker))
    u = _check(col, msgs, unpacker, dups_ok=True)
    assert u["released"] == u["held"], u
    print("\non request: dictionary %d then %d; %d frames held and released, "
          "%d requests" % (old, relay.status()["batches"]["dictionary_id"],
                           u["held"], u["dictionary_requests"]))
