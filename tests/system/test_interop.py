# SPDX-License-Identifier: ISC
"""Brokers of another make than Mosquitto: what the relay says to aedes
(tests/brokers), a broker of MQTT 3.1.1 only, when it is configured for
MQTT 5 (the default). These tests start their own aedes, whichever
central broker the run uses; `make system-aedes` runs the main suites
against aedes (tests/system/conftest.py, PUSHRELAY_CENTRAL_BROKER).
"""

import pytest

from harness import AedesBroker, T, aedes_unavailable


@pytest.fixture(autouse=True)
def _needs_aedes():
    why = aedes_unavailable()
    if why is not None:
        pytest.skip(why)


def test_protocol_5_to_a_3_1_1_broker_is_a_refusal_that_says_so(
        tmp_path, registry, relay_factory):
    # aedes answers a level-5 CONNECT with the CONNACK of its own
    # protocol, 20 02 00 01: return code 1, unacceptable protocol version
    # ([MQTT-3.1.2-2] of MQTT 3.1.1). That is a refusal, not a malformed
    # packet: the relay names it and what to change, and retries.
    old = registry.add(AedesBroker(tmp_path, "aedes311")).start()
    relay = relay_factory(connected=False, central={
        "address": [old.address], "protocol": "5"})
    relay.wait_log(r"central broker: connect: broker 127\.0\.0\.1:%d "
                   r"refused: Connection Refused, unacceptable protocol "
                   r"version \(a CONNACK of MQTT 3\.1\.1: the broker does "
                   r"not speak MQTT 5; use option protocol '311'\); "
                   r"retrying" % old.port, timeout=T(10))
    s = relay.wait_status(lambda s: s["central"]["packets_in"] >= 2,
                          what="a second attempt answered")
    assert not s["central"]["connected"]
    assert s["central"]["refused"] == 0, "a CONNACK the broker may send"
    assert s["local"]["connected"]


def test_qos_above_the_granted_one_is_taken_and_capped_to_the_route(
        tmp_path, registry, relay_factory, local_broker, clients):
    # aedes 1.2.0 caps what it sends at the granted QoS only when the
    # subscription's filter is the topic itself (lib/client.js looks the
    # subscription up by topic name): on the relay's downlink filter
    # gw/gw-test/cmd/#, granted QoS 1, a QoS 2 publish reaches the relay
    # at QoS 2 ([MQTT-3.8.4-6] says 1). The relay must still take it (QoS
    # 2 handshake) and forward it at its route's QoS 1.
    aedes = registry.add(AedesBroker(tmp_path, "aedes311")).start()
    relay = relay_factory(central={"address": [aedes.address],
                                   "protocol": "311"})
    col = clients.collector(local_broker, "cmd/#", qos=2)
    pub = clients.publisher(aedes.port, protocol=311)
    pub.publish("gw/gw-test/cmd/valve", b"open", qos=2)
    pub.wait_acked()
    m = col.wait_message("cmd/valve", b"open", timeout=T(10))
    assert m.qos == 1, "the downlink route's qos 1"
    s = relay.wait_status(lambda s: s["forwarded"]["downlink"] == 1,
                          what="forwarded.downlink == 1")
    assert s["central"]["refused"] == 0
    assert s["received"]["downlink"] == 1
