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
