# SPDX-License-Identifier: ISC
"""Few WAN bytes (issue #14), through the binary against real Mosquitto:
topic aliases on the central link, per-route max_delay_ms, the WAN byte
budget (max_wan_rate, daily_wan_quota) and the downlink max_rate.

Default routes (conftest): local sensors/# -> central gw/gw-test/sensors/#
(raw), central gw/gw-test/cmd/# -> local cmd/#.
"""

import pytest

from harness import T, analyse, run_cli, wait_until

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
    # Mosquitto's default max_topic_alias is 10; the status topic, published
    # once, takes none.
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
    t_bc = time.monotonic()
    pub.publish_many([("sensors/b", b"2"), ("sensors/c", b"3")])
    relay.wait_status(lambda s: s["batches"]["open"] == 2,
                      what="two members in the open frame")
    pub.publish_many([("alarms/fire", b"!")])
    frames = col.wait_for(lambda c: len(c.messages) >= 2, timeout=T(15),
                          what="the alarm's frame")
    # Before the telemetry's own deadline (2.5 s after it arrived).
    assert frames[1][-1] - t_bc < 2.3, frames[1][-1] - t_bc
    assert _decode(pushrelay_bin, frames[1].payload) == [
        UP + "sensors/b", UP + "sensors/c", UP + "alarms/fire"]
    s = relay.status()
    assert s["batches"]["frames"] == 2 and s["batches"]["messages"] == 4


# ---- the WAN budget ----

ALARMS = {"topic": "alarms/#", "remote_prefix": "gw/%i/", "qos": "1",
          "mode": "raw", "priority": "1"}
SENSORS = {"topic": "sensors/#", "remote_prefix": "gw/%i/", "qos": "1",
           "mode": "raw"}


def _set_option(relay, name, value):
    import re
    text = relay.conf_path.read_text()
    text, n = re.subn(r"option %s '[^']*'" % name,
                      "option %s '%s'" % (name, value), text)
    assert n == 1, name
    relay.conf_path.write_text(text)


@pytest.mark.parametrize("qos", ["1", "0"])
def test_max_wan_rate_paces_uplink_and_lets_alarms_pass(
        relay_factory, local_broker, central_broker, clients, telemetry, qos):
    """max_wan_rate 4000 B/s: 200 telemetry messages (about 25 KB on the
    wire) take the time the rate gives them and all arrive in order; an
    alarm (priority 1) published while they wait arrives at once. At QoS
    0 no PUBACK wakes the relay: its own timer does."""
    import time
    relay = relay_factory(relay={"max_wan_rate": "4000"},
                          uplinks=[ALARMS, dict(SENSORS, qos=qos)])
    relay.wait_status(lambda s: s["central"]["inflight"] == 0,
                      what="the status message acknowledged")
    col = clients.collector(central_broker, UP + "#", protocol=5)
    pub = clients.publisher(local_broker)
    msgs = telemetry(200)
    tx0 = relay.status()["wan"]["tx_bytes"]
    t0 = time.monotonic()
    pub.publish_many(msgs)
    relay.wait_status(lambda s: s["wan"]["budget"]["paused"],
                      what="the budget spent")
    t_alarm = time.monotonic()
    pub.publish_many([("alarms/smoke", b"ALARM")])
    got = col.wait_for(lambda c: (UP + "alarms/smoke", b"ALARM") in c.unique,
                       timeout=T(10), what="the alarm")
    alarm = [m for m in got if m.topic == UP + "alarms/smoke"][0]
    s = relay.status()
    # It overtook the telemetry: that still waits in the queue.
    assert s["queue"]["uplink"]["messages"] > 0, "telemetry still waits"
    assert alarm.t - t_alarm < T(2.0), alarm.t - t_alarm
    col.wait_unique(len(msgs) + 1, timeout=T(60))
    took = time.monotonic() - t0
    s = relay.wait_status(lambda s: s["forwarded"]["uplink"] == len(msgs) + 1,
                          what="all forwarded")
    sent = s["wan"]["tx_bytes"] - tx0
    # One second of burst, then 4000 B/s; the last write may be in debt.
    assert took >= (sent - 4000 - 2000) / 4000.0, (took, sent)
    assert s["wan"]["budget"]["pauses"] >= 1
    assert s["wan"]["budget"]["max_wan_rate"] == 4000
    a = analyse(msgs, [p for p in col.pairs(strip_prefix=UP)
                       if p[0].startswith("sensors/")])
    assert not a["lost"] and a["topic_order"], a["lost"][:3]
    print("\n%d bytes in %.2f s: %.0f B/s with max_wan_rate 4000"
          % (sent, took, sent / took))


def test_daily_wan_quota_holds_the_rest_across_a_restart(
        relay_factory, local_broker, central_broker, clients, telemetry):
    """daily_wan_quota 6000: the relay sends until the day's bytes reach
    it, then only alarms; the rest waits in the queue. A restart keeps the
    day's use (queue meta); a reload that raises the quota lets the rest
    go, nothing lost."""
    relay = relay_factory(relay={"daily_wan_quota": "6000"},
                          uplinks=[ALARMS, SENSORS])
    col = clients.collector(central_broker, UP + "#", protocol=5)
    pub = clients.publisher(local_broker)
    msgs = telemetry(150)
    pub.publish_many(msgs)
    s = relay.wait_status(
        lambda s: s["wan"]["budget"]["paused"] and
        s["received"]["uplink"] == len(msgs) and
        s["queue"]["uplink"]["inflight"] == 0,
        what="the quota spent, the rest queued")
    used = s["wan"]["budget"]["used_today"]
    held = s["queue"]["uplink"]["messages"]
    assert used >= 6000 and 0 < held < len(msgs), (used, held)
    text = run_cli(relay.bin, "status", conf=relay.status_conf_path).stdout
    assert "wan      PAUSED: priority routes only" in text, text
    # The day's use is stored; a restart does not give the quota back.
    relay.stop()
    relay.start()
    relay.wait_connected()
    s = relay.wait_status(lambda s: s["wan"]["budget"]["paused"],
                          what="paused again after the restart")
    assert s["wan"]["budget"]["used_today"] >= used
    assert s["queue"]["uplink"]["messages"] == held
    # Alarms still go.
    pub.publish_many([("alarms/door", b"open")])
    col.wait_for(lambda c: (UP + "alarms/door", b"open") in c.unique,
                 timeout=T(10), what="the alarm while over quota")
    relay.wait_status(lambda s: s["queue"]["uplink"]["messages"] == held,
                      what="the alarm acknowledged, the rest still held")
    # More quota: the rest drains, in order, none lost.
    _set_option(relay, "daily_wan_quota", "10M")
    relay.hup()
    relay.wait_log(r"reload: configuration applied")
    col.wait_unique(len(msgs) + 1, timeout=T(60))
    a = analyse(msgs, [p for p in col.pairs(strip_prefix=UP)
                       if p[0].startswith("sensors/")])
    assert not a["lost"] and a["topic_order"], a["lost"][:3]
    relay.wait_status(lambda s: s["queue"]["uplink"]["messages"] == 0 and
                      not s["wan"]["budget"]["paused"],
                      what="drained, budget open")


def test_downlink_max_rate_paces_commands(relay_factory, local_broker,
                                          central_broker, clients):
    """A downlink route with max_rate 20: 60 commands reach the local
    broker in order, no faster than the rate (one second of burst), none
    dropped; the excess waited in the queue (downlink_held)."""
    import time
    relay = relay_factory(downlinks=[
        {"topic": "cmd/#", "remote_prefix": "gw/%i/", "qos": "1",
         "max_rate": "20"}])
    col = clients.collector(local_broker, "cmd/#", protocol=5)
    pub = clients.publisher(central_broker)
    cmds = [(UP + "cmd/dev%d/set" % (i % 3), b"%d" % i) for i in range(60)]
    t0 = time.monotonic()
    pub.publish_many(cmds)
    got = col.wait_for(lambda c: len(c.unique) >= 60, timeout=T(30),
                       what="60 commands")
    took = max(m.t for m in got) - t0
    assert took >= (60 - 20) / 20.0 * 0.9, took
    a = analyse([(t[len(UP):], p) for t, p in cmds], col.pairs())
    assert not a["lost"] and a["topic_order"], a["lost"][:3]
    s = relay.status()
    held = s["wan"]["budget"]["downlink_held"]
    assert held > 0
    assert s["dropped"]["full"] == 0
    print("\n60 commands at max_rate 20 took %.2f s" % took)

    # A reload that lifts the limit and adds a route: the buckets are built
    # again for the new routes, and nothing more is held.
    _set_option(relay, "max_rate", "0")
    relay.conf_path.write_text(relay.conf_path.read_text() + (
        "\nconfig downlink\n\toption topic 'cfg/#'\n"
        "\toption remote_prefix 'gw/%i/'\n\toption max_rate '1000'\n"))
    relay.hup()
    relay.wait_log(r"reload: configuration applied")
    relay.wait_connected()
    col2 = clients.collector(local_broker, "cfg/#", protocol=5)
    more = [(UP + "cmd/dev/set", b"m%d" % i) for i in range(60)] + [
        (UP + "cfg/x", b"c%d" % i) for i in range(20)]
    pub.publish_many(more)
    col.wait_for(lambda c: len(c.unique) >= 120, timeout=T(30),
                 what="60 more commands")
    col2.wait_for(lambda c: len(c.unique) >= 20, timeout=T(30),
                  what="20 cfg messages")
    assert relay.status()["wan"]["budget"]["downlink_held"] == held
