# SPDX-License-Identifier: ISC
"""WAN bytes per message of batch mode at several publish rates, frame v1
against v2 against v2 with a shared dictionary: a measurement, not a
check (the formal rows are `make bench`'s). Run it with
PUSHRELAY_WAN_RATES=1; it takes about two minutes.

Three relays (ids gw-v1, gw-v2, gw-v2d) subscribe to the same local
stream and publish their frames to the same central broker; each one's
WAN bytes (status wan.tx_bytes + rx_bytes: frames, PUBACKs, MQTT
overhead; TLS off, so no record overhead) are read before and after each
phase. A warm-up of 2,000 messages comes first, so that the dictionary
relay has made its dictionaries (4, 8, 16 then 32 KiB) before anything
is measured.
"""

import os

import pytest

from harness import PacedStream, T, telemetry_messages, wait_until

BATCH = [{"topic": "sensors/#", "remote_prefix": "gw/%i/", "qos": "1",
          "mode": "batch"}]
VARIANTS = {
    "gw-v1": {"frame_version": "1"},
    "gw-v2": {"frame_version": "2", "dictionary_bytes": "0"},
    "gw-v2d": {"frame_version": "2", "dictionary_bytes": "32K"},
}
# (label, rate msg/s or None for a flood, messages measured, messages
# sent before at the same rate and not measured). PUSHRELAY_WAN_RATES=steady
# warms each rate up first (about 15 minutes): a dictionary made from a
# flood's frames fits a trickle's badly, the relay rotates it after 64 KiB
# of bodies at the new size, and the short run counts that rotation.
PHASES = [("1 msg/s", 1, 60, 0), ("5 msg/s", 5, 200, 0),
          ("100 msg/s", 100, 2000, 0), ("flood", None, 10000, 0)]
STEADY = [("flood", None, 10000, 0), ("100 msg/s", 100, 2000, 2000),
          ("5 msg/s", 5, 200, 800), ("1 msg/s", 1, 60, 480)]

pytestmark = pytest.mark.skipif(
    not os.environ.get("PUSHRELAY_WAN_RATES"),
    reason="a measurement; set PUSHRELAY_WAN_RATES=1 to run it")


def _wan(relay):
    w = relay.status()["wan"]
    return w["tx_bytes"] + w["rx_bytes"]


def _settled(relays, total):
    def done():
        for r in relays.values():
            s = r.status()
            if s["batches"]["messages"] < total or \
                    s["queue"]["uplink"]["messages"] > 0:
                return False
        return True
    wait_until(done, T(120), what="every relay framed and sent %d" % total)


def test_wan_bytes_per_message_by_rate(relay_factory, local_broker, clients):
    relays = {gw: relay_factory(name=gw, relay={"id": gw}, uplinks=BATCH,
                                batch=b) for gw, b in VARIANTS.items()}
    pub = clients.publisher(local_broker)
    source = telemetry_messages()
    total = 0
    warm = [next(source) for _ in range(2000)]
    pub.publish_many(warm, timeout=T(60))
    total += len(warm)
    _settled(relays, total)
    rows = []
    steady = os.environ.get("PUSHRELAY_WAN_RATES") == "steady"
    for label, rate, n, warm in STEADY if steady else PHASES:
        for count, measured in ((warm, False), (n, True)):
            if count == 0:
                continue
            msgs = [next(source) for _ in range(count)]
            before = {gw: _wan(r) for gw, r in relays.items()}
            if rate is None:
                pub.publish_many(msgs, timeout=T(120))
            else:
                stream = PacedStream(pub, msgs, rate).start()
                wait_until(lambda: stream.reached(count),
                           T(count / rate * 2 + 30),
                           what="%d messages at %s" % (count, label))
                stream.stop()
            pub.wait_acked(timeout=T(30))
            total += count
            _settled(relays, total)
        raw = sum(len(t) + len(p) for t, p in msgs)
        got = {gw: (_wan(r) - before[gw]) / n for gw, r in relays.items()}
        rows.append((label, raw / n, got))
    print("\nWAN bytes per message (frames + MQTT, both directions, no TLS),"
          " linger_ms 200, corpus %d B topic+payload per message:" %
          rows[0][1])
    print("| rate | raw topic+payload | v1 | v2 | v2 + dictionary |")
    print("|---|---:|---:|---:|---:|")
    for label, raw, got in rows:
        print("| %s | %.1f | %.1f | %.1f | %.1f |" % (
            label, raw, got["gw-v1"], got["gw-v2"], got["gw-v2d"]))
    for gw, r in relays.items():
        s = r.status()["batches"]
        print("%s: %d frames, %d dictionaries" % (gw, s["frames"],
                                                 s["dictionaries"]))
    assert rows
