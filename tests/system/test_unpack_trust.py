# SPDX-License-Identifier: ISC
"""What a gateway can and cannot do through the unpacker (issue 12,
findings 3, 4 and 5; docs/unpack.md, "Trust"), through the real binaries
on real brokers.

The frames here are built byte by byte (tests/lib/frames.py) and published
on the central broker as a gateway would, with what no honest relay
sends: another gateway's topics, strings that are not MQTT's UTF-8, a
topic table used thousands of times.
"""

import json
import socket
import subprocess
import threading
import time

from harness import (Broker, T, Unpacker, bin_argv, props_dict, short_dir,
                     unpack_config)
import frames


def _decode(binary, data, tmp_path):
    path = tmp_path / "frame.bin"
    path.write_bytes(data)
    return subprocess.run(bin_argv(binary, "decode", path),
                          capture_output=True, timeout=30)


def test_decode_writes_json_even_for_strings_that_are_not_utf8(
        pushrelay_bin, tmp_path):
    """`decode` used to copy a topic's bytes into the JSON string as they
    were, so its output was not UTF-8 and no JSON reader took it."""
    f = frames.build("gw-a", 1, [
        {"topic": b"t/\xff\xfe/x", "payload": b"1"},
        {"topic": b"t/ok", "payload": b"2",
         "props": frames.props(user=[(b"k\xc0\xaf", b"v")])},
    ])
    p = _decode(pushrelay_bin, f, tmp_path)
    assert p.returncode == 0, p.stderr
    lines = [json.loads(l) for l in p.stdout.decode("utf-8").splitlines()]
    assert lines[1]["topic"] == "t/\ufffd\ufffd/x"
    assert lines[2]["properties"]["user_properties"] == [
        ["k\ufffd\ufffd", "v"]]


def _frame_topic(gateway):
    return "pushrelay/%s/batch" % gateway


def _send(central, gateway, seq, records, codec=0):
    central.publish(_frame_topic(gateway),
                    frames.build(gateway, seq, records, codec=codec))


def _topics(col):
    return [m.topic for m in col.snapshot()]


# ---- Finding 3: a gateway can speak for another gateway. ----

def test_a_gateway_cannot_reach_another_gateways_devices(
        relay_factory, unpacker_factory, local_broker, central_broker,
        clients):
    """gw-evil may publish only its own frames, but its frame carried the
    record gw/gw-test/cmd/unlock, which the unpacker published as it was,
    and gw-test's relay handed it to a device through its downlink
    (cmd/# <- gw/%i/). A record's response topic could do the same
    through a consumer that answers. Now every record, and its response
    topic, lands under its own gateway's prefix."""
    unpacker = unpacker_factory()
    relay_factory()         # gw-test, downlink cmd/# <- gw/gw-test/
    devices = clients.collector(local_broker, "cmd/#", protocol=5)
    col = clients.collector(central_broker, ["gw/#", "pushrelay/+/status"],
                            protocol=5)
    central = clients.publisher(central_broker)
    _send(central, "gw-evil", 1, [
        {"topic": "gw/gw-test/cmd/unlock", "payload": b"open"},
        {"topic": "pushrelay/gw-test/status", "payload": b"offline"},
        {"topic": "tele/x", "payload": b"t", "props": frames.props(
            response_topic="gw/gw-test/cmd/unlock")},
    ])
    central.wait_acked()
    m = col.wait_message("gw/gw-evil/tele/x", timeout=T(15))
    assert props_dict(m.properties)["ResponseTopic"] == \
        "gw/gw-evil/gw/gw-test/cmd/unlock"
    col.wait_message("gw/gw-evil/gw/gw-test/cmd/unlock", b"open")
    col.wait_message("gw/gw-evil/pushrelay/gw-test/status", b"offline")
    # What the central service sends gw-test still gets there, so the
    # device would have had the forged command by now.
    central.publish("gw/gw-test/cmd/ping", b"ping")
    devices.wait_message("cmd/ping", timeout=T(15))
    assert _topics(devices) == ["cmd/ping"]
    assert "gw/gw-test/cmd/unlock" not in _topics(col)
    assert all(m.payload != b"offline" for m in col.snapshot()
               if m.topic == "pushrelay/gw-test/status")
    assert unpacker.status()["frames"]["malformed"] == 0


def test_a_frame_must_carry_the_id_its_topic_names(
        unpacker_factory, central_broker, clients):
    """The frame's gateway id must be the level the '+' of the
    subscription stands for: 'pushrelay' and 'batch' are levels of
    pushrelay/gw-a/batch too, and were accepted."""
    unpacker = unpacker_factory()
    col = clients.collector(central_broker, "gw/#", protocol=5)
    central = clients.publisher(central_broker)
    for seq, gw in enumerate(("pushrelay", "batch"), 1):
        central.publish(_frame_topic("gw-a"), frames.build(
            gw, seq, [{"topic": "x/%s" % gw, "payload": b"1"}]))
    _send(central, "gw-a", 1, [{"topic": "x/ok", "payload": b"1"}])
    central.wait_acked()
    col.wait_message("gw/gw-a/x/ok", timeout=T(15))
    s = unpacker.wait_status(lambda s: s["frames"]["malformed"] == 2,
                             what="two frames refused")
    assert s["records"]["stored"] == 1
    assert _topics(col) == ["gw/gw-a/x/ok"]
    unpacker.wait_log(r"frame on pushrelay/gw-a/batch dropped: its gateway "
                      r"id 'pushrelay' is not the '\+' level of the topic")


def test_retain_is_refused_unless_allowed(unpacker_factory, central_broker,
                                          clients):
    """A retained record outlives the gateway's good behaviour: it was
    taken from any frame. Now it is refused (records.refused) unless
    option allow_retain '1'; the frame's other records go out."""
    unpacker = unpacker_factory()
    col = clients.collector(central_broker, "gw/#", protocol=5)
    central = clients.publisher(central_broker)
    _send(central, "gw-a", 1, [
        {"topic": "state/door", "payload": b"locked", "retain": True},
        {"topic": "t/after", "payload": b"a"},
    ])
    central.wait_acked()
    col.wait_message("gw/gw-a/t/after", timeout=T(15))
    s = unpacker.wait_status(lambda s: s["records"]["refused"] == 1,
                             what="the retained record refused")
    assert s["records"]["stored"] == 1
    unpacker.wait_log(r"gateway gw-a, frame 1, record 0 refused: retain is "
                      r"not allowed \(option allow_retain\); topic "
                      r"'state/door'")
    late = clients.collector(central_broker, "#", protocol=5)
    central.publish("late/marker", b"m")
    late.wait_message("late/marker", timeout=T(10))
    assert not [m for m in late.snapshot() if m.retain], _topics(late)


# ---- Finding 4: one bad record stops the unpacker for every gateway. ----

# Records a broker or the client library refuses, and why the unpacker
# now refuses them first (docs/frame-format.md, section 3.4).
BAD = [
    {"topic": b"t/\xff", "payload": b"invalid byte"},
    {"topic": b"t/\xc0\xaf", "payload": b"overlong '/'"},
    {"topic": b"t/\xed\xa0\x80", "payload": b"surrogate"},
    {"topic": b"t/\x01", "payload": b"control"},
    {"topic": b"t/\xc2\x85", "payload": b"C1 control"},
    {"topic": b"t/\xef\xbf\xbf", "payload": b"noncharacter"},
    {"topic": b"$SYS/x", "payload": b"the broker's"},
    {"topic": b"t/ct", "payload": b"content type",
     "props": frames.props(content_type=b"a\x01")},
    {"topic": b"t/up", "payload": b"user property",
     "props": frames.props(user=[(b"k", b"\xff")])},
    {"topic": b"t/rt", "payload": b"response topic",
     "props": frames.props(response_topic=b"r/+")},
]


def test_a_record_mqtt_refuses_is_refused_alone(unpacker_factory,
                                                central_broker, clients):
    """Such a record went to the broker, which dropped the connection for
    it (or the client refused it), again after every reconnect and every
    restart, and nothing behind it got through. Now each is refused and
    counted, the records around it go out, and the log quotes it
    escaped."""
    unpacker = unpacker_factory()
    col = clients.collector(central_broker, "gw/#", protocol=5)
    central = clients.publisher(central_broker)
    _send(central, "gw-a", 1, [{"topic": "t/first", "payload": b"1"}] +
          BAD + [{"topic": "t/last", "payload": b"2"}])
    _send(central, "gw-b", 1, [{"topic": "t/other", "payload": b"3"}])
    _send(central, "gw-a", 2, [{"topic": "t/next", "payload": b"4"}])
    central.wait_acked()
    col.wait_for(lambda c: len(c.messages) >= 4, timeout=T(15),
                 what="the four good records")
    assert sorted(_topics(col)) == ["gw/gw-a/t/first", "gw/gw-a/t/last",
                                    "gw/gw-a/t/next", "gw/gw-b/t/other"]
    s = unpacker.wait_status(
        lambda s: s["records"]["refused"] == len(BAD) and
        s["records"]["published"] == 4, what="every bad record refused")
    assert s["records"]["stored"] == 4
    assert s["central"]["reconnects"] == 0
    assert s["dropped"]["rejected"] == 0
    assert s["queue"]["records"]["messages"] == 0
    # Once a minute: the first, with its topic escaped.
    unpacker.wait_log(r"gateway gw-a, frame 1, record 1 refused: topic is "
                      r"not well-formed UTF-8; topic 't/\\xff'; 0 more")
    assert "t/\x01" not in unpacker.log_text()


def _acl_pipeline(tmp_path, registry, pushrelay_bin, queued):
    """A central broker whose ACL refuses gw/gw-a/secret/# to everyone,
    with max_queued_messages queued, and an unpacker on it."""
    acl = tmp_path / "acl"
    acl.write_text("topic readwrite #\ntopic deny gw/gw-a/secret/#\n")
    broker = registry.add(Broker(tmp_path, "central-acl", extra_conf=[
        "acl_file %s" % acl, "max_queued_messages %d" % queued])).start()
    workdir = tmp_path / "unpack"
    workdir.mkdir()
    sockdir = short_dir()
    unpacker = registry.add(Unpacker(pushrelay_bin, workdir, unpack_config(
        workdir, sockdir / "ctl.sock", broker.port), sockdir=sockdir))
    unpacker.start()
    unpacker.wait_connected()
    return broker, unpacker


def test_a_publish_the_broker_refuses_is_dropped_not_retried(
        tmp_path, registry, pushrelay_bin, clients):
    """A record the broker refuses with an MQTT 5 reason code (here its
    ACL: 0x87, not authorized) is deleted and counted as dropped.rejected
    (relay/forward.c, forward_on_acked), never published again; what
    follows it goes out. Mosquitto 2.0.11 answers so only with a nonzero
    max_queued_messages: with 0 (no limit, the other test brokers'
    setting) its handle__publish takes 0 queued packets for a full queue
    after a refusal and drops the connection too (later versions check
    for 0 first), and whether the 0x87 it queued first arrives varies."""
    broker, unpacker = _acl_pipeline(tmp_path, registry, pushrelay_bin,
                                     1000)
    col = clients.collector(broker, "gw/#", protocol=5)
    central = clients.publisher(broker)
    _send(central, "gw-a", 1, [{"topic": "secret/x", "payload": b"no"},
                               {"topic": "t/after", "payload": b"yes"}])
    central.wait_acked()
    col.wait_message("gw/gw-a/t/after", timeout=T(15))
    s = unpacker.wait_status(lambda s: s["dropped"]["rejected"] == 1,
                             what="the refused publish dropped")
    before = s["central"]["packets_out"]
    time.sleep(2)
    s = unpacker.status()
    assert s["dropped"]["rejected"] == 1
    assert s["queue"]["records"]["messages"] == 0
    assert s["central"]["packets_out"] == before    # nothing sent again
    assert s["central"]["reconnects"] == 0
    assert _topics(col) == ["gw/gw-a/t/after"]



# ---- Finding 5: a small frame can be a huge job. ----

# One 65,535-byte topic (MQTT's longest) that every record uses.
WIDE = "t/" + "w" * 65533


def test_a_frame_that_expands_too_far_is_refused_before_it_is_stored(
        unpacker_factory, central_broker, clients):
    """A frame names each topic once: 2,000 records of one 64 KiB topic
    took 131 MB of store and evicted other gateways' records, and a frame
    of 1,000,000 such records (a 16 KB LZ4 frame) stood for 65 GB and
    stalled the unpacker for minutes. Both are now refused whole while
    the frame is checked, before anything is stored (frames.too_large,
    option max_frame_expanded, 16 MiB), and the next gateway's record
    goes out at once."""
    unpacker = unpacker_factory()
    col = clients.collector(central_broker, "gw/#", protocol=5)
    central = clients.publisher(central_broker)
    central.publish(_frame_topic("gw-a"), frames.wrap(
        "gw-a", 1, 2000, frames.one_topic_many_records(WIDE, 2000)))
    big = 1
    if frames.lz4_available():
        f = frames.wrap("gw-a", 2, 1000000,
                        frames.one_topic_many_records(WIDE, 1000000),
                        codec=1)
        assert len(f) < 20000, len(f)
        central.publish(_frame_topic("gw-a"), f)
        big = 2
    central.wait_acked()
    t0 = time.monotonic()
    _send(central, "gw-b", 1, [{"topic": "t/next", "payload": b"n"}])
    col.wait_message("gw/gw-b/t/next", timeout=T(15))
    print("\nthe next gateway's record came %.2f s after the %d frames"
          % (time.monotonic() - t0, big))
    s = unpacker.wait_status(lambda s: s["frames"]["too_large"] == big,
                             what="the frames refused as too large")
    assert s["records"]["stored"] == 1
    assert s["frames"]["malformed"] == 0
    assert s["queue"]["records"]["messages"] == 0
    assert _topics(col) == ["gw/gw-b/t/next"]
    # 257 records of 65,535 bytes are the first to pass 16 MiB.
    unpacker.wait_log(r"frame on pushrelay/gw-a/batch dropped: gateway "
                      r"gw-a, sequence 1: frame: byte \d+: records 0\.\.256 "
                      r"expand to 16842495 bytes of topic and payload, "
                      r"over 16777216")


class Hold:
    """A TCP forwarder to a broker that can hold what its client sends
    (hold(), release()) while what the broker sends flows: the unpacker
    behind it keeps taking frames in, and its records and PUBACKs wait,
    as when the broker is slow to take them."""

    def __init__(self, port):
        self.port_to = port
        self.go = threading.Event()
        self.go.set()
        self.socks = []
        self.lsock = socket.create_server(("127.0.0.1", 0))
        self.port = self.lsock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            b = socket.create_connection(("127.0.0.1", self.port_to))
            self.socks += [c, b]
            threading.Thread(target=self._pump, args=(c, b, self.go),
                             daemon=True).start()
            threading.Thread(target=self._pump, args=(b, c, None),
                             daemon=True).start()

    @staticmethod
    def _pump(src, dst, gate):
        try:
            while True:
                if gate is not None:
                    gate.wait()
                data = src.recv(65536)
                if not data:
                    break
                if gate is not None:
                    gate.wait()     # read while held: sent on release
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def hold(self):
        self.go.clear()

    def release(self):
        self.go.set()

    def close(self):
        self.go.set()
        self.lsock.close()
        for s in self.socks:
            s.close()


def _kb_records(prefix, n):
    return [{"topic": "%s/%d" % (prefix, i), "payload": b"p" * 1000}
            for i in range(n)]


def test_one_gateway_cannot_evict_another_gateways_records(
        unpacker_factory, central_broker, registry, clients):
    """With the broker slow to take records, gw-a's frames filled the
    store and evicted gw-b's records, which were never published. Now a
    gateway may take gateway_share of the store (here 50% of 1 MiB); its
    frames beyond that are refused whole (frames.over_share), nothing is
    evicted, and a refused frame's number is not recorded, so the same
    frame sent again later is taken."""
    hold = registry.add(Hold(central_broker.port))
    unpacker = unpacker_factory(address="127.0.0.1:%d" % hold.port,
                                store_max_bytes="1M", gateway_share="50",
                                max_inflight="1")
    col = clients.collector(central_broker, "gw/#", protocol=5)
    central = clients.publisher(central_broker)
    hold.hold()
    # QoS 0 frames: max_inflight 1 is also the Receive Maximum the
    # unpacker announces, which holds back QoS 1 frames, not these.
    central.publish(_frame_topic("gw-b"), frames.build(
        "gw-b", 1, _kb_records("b", 50)), qos=0)        # 50 KB
    a = [frames.build("gw-a", seq, _kb_records("a%d" % seq, 100))
         for seq in range(1, 13)]                       # 12 x 100 KB
    for f in a:
        central.publish(_frame_topic("gw-a"), f, qos=0)
    central.wait_acked()
    s = unpacker.wait_status(lambda s: s["frames"]["received"] == 13,
                             what="every frame taken in")
    # Five of gw-a's frames fit in its 512 KiB, the other seven do not.
    assert s["frames"]["over_share"] == 7, s
    assert s["dropped"]["full"] == 0, s
    assert s["queue"]["records"]["bytes"] <= 1 << 20
    hold.release()
    col.wait_for(lambda c: len(c.unique) >= 550, timeout=T(30),
                 what="gw-b's 50 records and gw-a's 500")
    got = set(_topics(col))
    assert {"gw/gw-b/b/%d" % i for i in range(50)} <= got
    assert len([t for t in got if t.startswith("gw/gw-a/")]) == 500
    # gw-a's sixth frame was refused: sent again now, it is taken.
    central.publish(_frame_topic("gw-a"), a[5])
    central.wait_acked()
    col.wait_message("gw/gw-a/a6/99", timeout=T(15))
    s = unpacker.status()
    assert s["frames"]["duplicate"] == 0 and s["dropped"]["full"] == 0
    unpacker.wait_log(r"unpack: frame 6 of gateway gw-a refused: \d+ bytes "
                      r"of records would take the gateway past its share of "
                      r"the store \(\d+ queued, gateway_share 50%\)")
