"""Few WAN bytes (issue #14), through the binary against real Mosquitto:
topic aliases on the central link, per-route max_delay_ms, the WAN byte
budget (max_wan_rate, daily_wan_quota) and the downlink max_rate.

Default routes (conftest): local sensors/# -> central gw/gw-test/sensors/#
(raw), central gw/gw-test/cmd/# -> local cmd/#.
"""

import pytest

from harness import T, analyse, wait_until

UP = "gw/gw-test/"


def needs_mqtt5(broker, why):
    if not broker.mqtt5:
        pytest.skip("central broker %s speaks MQTT 3.1.1 only: %s"
                    % (broker.kind, why))


def _uplink_tx(relay_factory, local_broker, central_broker, clients, msgs,
               name, **central):
    """Publishes msgs through a fresh relay; returns (central tx_bytes spent
    on them, the relay's status, what the central subscriber got)."""
    relay = relay_factory(central=central, name=name)
    relay.wait_status(lambda s: s["central"]["inflight"] == 0,
                      what="the status message acknowledged")
    col = clients.collector(central_broker, UP + "sensors/#", protocol=5)
    pub = clients.publisher(local_broker)
    tx0 = relay.status()["central"]["tx_bytes"]
    pub.publish_many(msgs)
    col.wait_unique(len(msgs), timeout=T(60))
    s = relay.wait_status(lambda s: s["forwarded"]["uplink"] == len(msgs) and
                          s["central"]["inflight"] == 0,
                          what="%d forwarded and acknowledged" % len(msgs))
    got = col.pairs(strip_prefix=UP)
    relay.stop()
    col.close()
    pub.close()
    return s["central"]["tx_bytes"] - tx0, s, got


def test_topic_aliases_keep_topics_and_save_bytes(relay_factory, local_broker,
                                                  central_broker, clients,
                                                  telemetry):
    """Raw mode with aliases: the central subscriber sees every message at
    its full topic (Mosquitto resolves the aliases), and the relay's
    central tx_bytes are lower than with topic_alias_max 0."""
    needs_mqtt5(central_broker, "topic aliases are MQTT 5")
    msgs = telemetry(600)
    off, s_off, got_off = _uplink_tx(relay_factory, local_broker,
                                     central_broker, clients, msgs, "noalias",
                                     topic_alias_max="0")
    on, s_on, got_on = _uplink_tx(relay_factory, local_broker, central_broker,
                                  clients, msgs, "alias")
    for got in (got_off, got_on):
        a = analyse(msgs, got)
        assert not a["lost"] and not a["unexpected"], a["lost"][:3]
        assert a["topic_order"], a["first_disorder"]
    assert s_off["central"]["aliased"] == 0
    # Mosquitto's default max_topic_alias is 10; the status topic takes one.
    assert s_on["central"]["topic_alias_max"] == 10
    assert s_on["central"]["topic_aliases"] == 10
    assert s_on["central"]["aliased"] > 0
    # Each aliased publish leaves out its topic and adds 3 bytes.
    assert on < off, (on, off)
    print("\n600 raw messages: central tx %d bytes with aliases, %d without "
          "(%.3f); %d publishes aliased" % (on, off, on / off,
                                            s_on["central"]["aliased"]))


# ---- max_delay_ms ----

BATCH_TOPIC = "pushrelay/gw-test/batch"


def _decode(binary, frame):
    import json
    import subprocess
    from harness import bin_argv
    p = subprocess.run(bin_argv(binary, "decode", "-"), input=frame,
                       capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr
    lines = [json.loads(l) for l in p.stdout.decode().splitlines()]
    return [r["topic"] for r in lines[1:]]


def _batch_cfg(relay, batch):
    text = relay.conf_path.read_text() + "\nconfig batch\n" + "".join(
        "\toption %s '%s'\n" % kv for kv in batch.items())
    relay.conf_path.write_text(text)


def test_max_delay_ms_sets_when_a_frame_closes(pushrelay_bin, relay_factory,
                                               local_broker, central_broker,
                                               clients):
    """Telemetry with max_delay_ms 2500 waits past linger_ms (100) for
    company; an alarm (max_delay_ms 0) closes the open frame at once and
    takes the waiting telemetry with it."""
    relay = relay_factory(start=False, uplinks=[
        {"topic": "alarms/#", "remote_prefix": "gw/%i/", "qos": "1",
         "mode": "batch", "max_delay_ms": "0"},
        {"topic": "sensors/#", "remote_prefix": "gw/%i/", "qos": "1",
         "mode": "batch", "max_delay_ms": "2500"}])
    _batch_cfg(relay, {"linger_ms": "100"})
    relay.start()
    relay.wait_connected()
    col = clients.collector(central_broker, BATCH_TOPIC, protocol=5)
    pub = clients.publisher(local_broker)

    # 1. Alone, telemetry waits its own budget, not linger_ms.
    import time
    t0 = time.monotonic()
    pub.publish_many([("sensors/a", b"1")])
    frames = col.wait_for(lambda c: len(c.messages) >= 1, timeout=T(15),
                          what="the telemetry frame")
    waited = frames[0][-1] - t0
    assert 2.3 <= waited <= 2.5 + T(5), waited
    assert _decode(pushrelay_bin, frames[0].payload) == [UP + "sensors/a"]

    # 2. Two more telemetry messages, then an alarm: one frame, at once.
    pub.publish_many([("sensors/b", b"2"), ("sensors/c", b"3")])
    relay.wait_status(lambda s: s["batches"]["open"] == 2,
                      what="two members in the open frame")
    t1 = time.monotonic()
    pub.publish_many([("alarms/fire", b"!")])
    frames = col.wait_for(lambda c: len(c.messages) >= 2, timeout=T(15),
                          what="the alarm's frame")
    assert frames[1][-1] - t1 < 1.5, frames[1][-1] - t1
    assert _decode(pushrelay_bin, frames[1].payload) == [
        UP + "sensors/b", UP + "sensors/c", UP + "alarms/fire"]
    s = relay.status()
    assert s["batches"]["frames"] == 2 and s["batches"]["messages"] == 4
