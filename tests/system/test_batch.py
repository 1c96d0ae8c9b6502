# SPDX-License-Identifier: ISC
"""Uplink routes in mode batch: LZ4 frames on the central broker, read back
with the real `pushrelay decode`.

The unpacker that turns frames back into messages at the central site is
not built yet; these tests decode the frames themselves.
"""

import json
import subprocess
import tempfile

from harness import T, bin_argv, wait_until

UP = "gw/gw-test/"
BATCH_TOPIC = "pushrelay/gw-test/batch"

# Frame v2 dictionary frames seen on the batch topic (docs/frame-format.md
# section 8), as files for `pushrelay decode FRAME DICT...`: the last 8.
_DICTS = {}


def _is_dict(frame):
    return frame[:5] == b"PRBF\x02" and frame[6] == 1


def _keep_dict(frame):
    if frame in _DICTS:
        return
    f = tempfile.NamedTemporaryFile(prefix="pr-dict-", suffix=".bin",
                                    delete=False)
    f.write(frame)
    f.close()
    _DICTS[frame] = f.name
    while len(_DICTS) > 8:
        _DICTS.pop(next(iter(_DICTS)))


def _decode(binary, frame):
    p = subprocess.run(bin_argv(binary, "decode", "-", *_DICTS.values()),
                       input=frame, capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr
    lines = [json.loads(l) for l in p.stdout.decode().splitlines()]
    return lines[0], lines[1:]


def _frames(col):
    """The records frames, in order; dictionary frames are kept aside."""
    with col.cond:
        got = list(col.messages)
    for m in got:
        if _is_dict(m.payload):
            _keep_dict(m.payload)
    return [m for m in got if not _is_dict(m.payload)]


def _batch_relay(relay_factory, batch, priority=None):
    up = {"topic": "sensors/#", "remote_prefix": "gw/%i/", "qos": "1",
          "mode": "batch"}
    routes = [up]
    if priority is not None:
        routes.insert(0, {"topic": "alarms/#", "remote_prefix": "gw/%i/",
                          "qos": "1", "mode": "batch",
                          "priority": str(priority)})
    relay = relay_factory(uplinks=routes)
    text = relay.conf_path.read_text() + "\nconfig batch\n" + "".join(
        "\toption %s '%s'\n" % kv for kv in batch.items())
    relay.conf_path.write_text(text)
    relay.hup()
    relay.wait_log(r"reload: configuration applied")
    relay.wait_connected()
    # The reconnect publishes the status message: tests that pause the
    # central broker count what is in flight, and it must not be among it.
    relay.wait_status(lambda s: s["central"]["inflight"] == 0,
                      what="the status message acknowledged")
    return relay


def _records(binary, col, mqtt5=True, content_type=None):
    """content_type: the ContentType the frames must carry (None: none,
    the default of config batch option content_type)."""
    out, seqs = [], []
    for m in _frames(col):
        assert m.topic == BATCH_TOPIC
        if mqtt5:  # a 3.1.1 subscriber sees no properties
            ct = getattr(m.properties, "ContentType", None)
            assert ct == content_type, ct
        head, recs = _decode(binary, m.payload)
        assert head["gateway"] == "gw-test" and head["count"] == len(recs)
        seqs.append(head["seq"])
        out.extend((r["topic"], r["payload"].encode()) for r in recs)
    return out, seqs


def test_batches_carry_every_message_in_order_and_compressed(
        pushrelay_bin, relay_factory, local_broker, central_broker, clients,
        telemetry):
    relay = _batch_relay(relay_factory, {"linger_ms": "200",
                                         "max_messages": "500"})
    col = clients.collector(central_broker, BATCH_TOPIC, protocol=5)
    pub = clients.publisher(local_broker)
    msgs = telemetry(2000)
    pub.publish_many(msgs)
    s = relay.wait_status(lambda s: s["batches"]["messages"] == 2000 and
                          s["queue"]["uplink"]["messages"] == 0,
                          what="2000 messages framed and sent")
    wait_until(lambda: sum(_decode(pushrelay_bin, m.payload)[0]["count"]
                           for m in _frames(col)) >= 2000, T(30),
               what="frames holding 2000 records at the central broker")
    got, seqs = _records(pushrelay_bin, col)
    assert got == [(UP + t, p) for t, p in msgs]
    assert seqs == sorted(set(seqs)), "sequence numbers only grow"
    frame_bytes = sum(len(m.payload) for m in _frames(col))
    raw = sum(len(t) + len(p) for t, p in msgs)
    print("\n2000 messages, %d raw topic+payload bytes, %d frame bytes in "
          "%d frames (%.3f)" % (raw, frame_bytes, len(seqs),
                                frame_bytes / raw))
    assert frame_bytes < raw / 2, "frames should be far smaller than raw"
    assert s["batches"]["frames"] == len(seqs) >= 4


def test_content_type_only_when_configured(pushrelay_bin, relay_factory,
                                          local_broker, central_broker,
                                          clients, telemetry):
    """Frames carry no content type by default (the unpacker knows them by
    topic and magic); option content_type 1 puts it back, and a frame then
    costs its 34 bytes more on the WAN."""
    sizes = {}
    for ct in ("0", "1"):
        relay = _batch_relay(relay_factory, {"linger_ms": "0",
                                             "content_type": ct})
        col = clients.collector(central_broker, BATCH_TOPIC, protocol=5)
        pub = clients.publisher(local_broker)
        msgs = telemetry(5)
        tx0 = relay.status()["central"]["tx_bytes"]
        pub.publish_many(msgs[:1])
        wait_until(lambda: len(_frames(col)) == 1, T(20),
                   what="one frame at the central broker")
        relay.wait_status(lambda s: s["central"]["inflight"] == 0,
                          what="the frame acknowledged")
        sizes[ct] = relay.status()["central"]["tx_bytes"] - tx0
        got, _ = _records(pushrelay_bin, col, content_type=None if ct == "0"
                          else "application/vnd.pushrelay.batch")
        assert got == [(UP + t, p) for t, p in msgs[:1]]
        relay.stop()
        col.close()
        pub.close()
    assert sizes["1"] - sizes["0"] == 34, sizes


def test_backlog_is_cut_into_full_frames(pushrelay_bin, relay_factory,
                                        local_broker, central_broker,
                                        clients, telemetry):
    """While central is down nothing is cut; when it returns, the backlog
    leaves in frames as full as the limits allow."""
    relay = _batch_relay(relay_factory, {"linger_ms": "200",
                                         "max_messages": "1000",
                                         "max_bytes": "1M"})
    col = clients.collector(central_broker, BATCH_TOPIC, protocol=311)
    central_broker.stop()
    relay.wait_status(lambda s: not s["central"]["connected"],
                      what="central down")
    pub = clients.publisher(local_broker)
    msgs = telemetry(2500)
    pub.publish_many(msgs)
    relay.wait_status(lambda s: s["queue"]["uplink"]["messages"] == 2500,
                      what="2500 queued")
    central_broker.start()
    relay.wait_status(lambda s: s["batches"]["messages"] == 2500 and
                      s["queue"]["uplink"]["messages"] == 0,
                      timeout=T(60), what="backlog framed and sent")
    wait_until(lambda: len(_frames(col)) >= 3, T(30), what="3 frames")
    # 3.1.1: Mosquitto 2.0.11 keeps only 3.1.1 sessions across its restart.
    got, seqs = _records(pushrelay_bin, col, mqtt5=False)
    assert got == [(UP + t, p) for t, p in msgs]
    counts = [_decode(pushrelay_bin, m.payload)[0]["count"]
              for m in _frames(col)]
    assert counts == [1000, 1000, 500], counts


def test_a_higher_priority_route_closes_the_frame_at_once(
        pushrelay_bin, relay_factory, local_broker, central_broker,
        clients):
    """linger_ms is 60 s: a message of a route with priority above 0 still
    leaves at once, with what was waiting for company."""
    relay = _batch_relay(relay_factory, {"linger_ms": "60000"}, priority=5)
    col = clients.collector(central_broker, BATCH_TOPIC, protocol=5)
    pub = clients.publisher(local_broker)
    pub.publish("sensors/slow/1", b"waits")
    pub.wait_acked()
    relay.wait_status(lambda s: s["batches"]["open"] == 1,
                      what="one message waiting in the open frame")
    assert _frames(col) == []
    pub.publish("alarms/fire", b"now")
    pub.wait_acked()
    col.wait_count(1, timeout=T(10))
    got, _ = _records(pushrelay_bin, col)
    assert got == [(UP + "sensors/slow/1", b"waits"),
                   (UP + "alarms/fire", b"now")]


def test_a_frame_resent_after_kill9_has_the_same_number_and_bytes(
        pushrelay_bin, relay_factory, local_broker, central_broker, clients,
        telemetry):
    """Frames sent but not acknowledged when the relay is killed go out
    again after the restart with the same sequence number and the same
    bytes, so the receiver can drop the copies; nothing is lost."""
    # inflight_frames 16: every frame goes out before the kill, the
    # dictionary frames of frame v2 (two in 300 messages) included; with
    # the default 4, the last frame waited for a PUBACK that never came.
    relay = _batch_relay(relay_factory, {"linger_ms": "100",
                                         "max_messages": "100",
                                         "inflight_frames": "16"})
    col = clients.collector(central_broker, BATCH_TOPIC, protocol=311)
    pub = clients.publisher(local_broker)
    central_broker.pause()  # frames go out; no PUBACK comes back
    msgs = telemetry(300)
    pub.publish_many(msgs)
    # Three full frames of 100, or more when a pause in the stream longer
    # than linger_ms (a loaded machine, qemu) closed one early.
    st = relay.wait_status(lambda s: s["batches"]["messages"] == 300 and
                           s["batches"]["open"] == 0 and
                           s["central"]["inflight"] == s["batches"]["frames"] +
                           s["batches"]["dictionaries"],
                           what="every frame sent, none acknowledged")
    frames = st["batches"]["frames"]
    assert frames >= 3, st["batches"]
    relay.kill9()
    central_broker.resume()
    relay.start()
    relay.wait_status(lambda s: s["queue"]["uplink"]["messages"] == 0 and
                      s["central"]["connected"], timeout=T(60),
                      what="the frames re-sent and acknowledged")
    by_seq = {}

    def all_seen():
        for m in _frames(col):
            by_seq.setdefault(_decode(pushrelay_bin, m.payload)[0]["seq"],
                              set()).add(m.payload)
        return len(by_seq) >= frames
    wait_until(all_seen, T(30), what="%d distinct frames at central" % frames)
    assert all(len(copies) == 1 for copies in by_seq.values()), \
        "a re-sent frame must be byte-identical to the first"
    got = []
    for seq in sorted(by_seq):
        got.extend((r["topic"], r["payload"].encode()) for r in
                   _decode(pushrelay_bin, next(iter(by_seq[seq])))[1])
    assert got == [(UP + t, p) for t, p in msgs]
