"""Brokers of another make than Mosquitto: what the relay says to aedes
(tests/brokers), a broker of MQTT 3.1.1 only, when it is configured for
MQTT 5 (the default). These tests start their own aedes, whichever
central broker the run uses; `make system-aedes` runs the main suites
against aedes (tests/system/conftest.py, PUSHRELAY_CENTRAL_BROKER).
"""

from harness import AedesBroker, T


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
