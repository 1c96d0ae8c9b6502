# SPDX-License-Identifier: ISC
"""option max_packet_size: a packet over it is refused on read, without
buffering it whole, and counted; the relay's memory stays bounded.

0.1 took a 50 MiB message from a local device into 165 MiB of RSS. Over
MQTT 5 the relay announces its Maximum Packet Size in CONNECT and the
broker must not send it bigger packets at all; over 3.1.1, which has no
way to announce it, the relay reads the packet's head (topic, packet id),
drops the message, counts it (link refused, dropped.too_large), answers
it so that the broker forgets it, and discards the rest as it arrives: the
connection goes on. (Closing it instead, as the hardening issue proposed,
made Mosquitto send the message again after every reconnect.)
"""

import os
import pytest

from harness import T

UP = "gw/gw-test/"
BIG = 50 * 1024 * 1024


def _hwm_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM")


@pytest.mark.parametrize("protocol", ["311", "5"])
def test_a_packet_over_the_limit_is_refused_without_buffering(
        relay_factory, local_broker, central_broker, clients, protocol):
    relay = relay_factory(local={"protocol": protocol,
                                 "max_packet_size": "256K"})
    col = clients.collector(central_broker, UP + "sensors/#")
    before = _hwm_kb(relay.proc.pid)
    pub = clients.publisher(local_broker)
    pub.publish("sensors/huge", b"\x00" * BIG, qos=1)
    pub.publish("sensors/after", b"small")
    pub.wait_acked(timeout=T(60))
    col.wait_message(UP + "sensors/after", b"small", timeout=T(60))
    s = relay.status()
    if protocol == "311":
        assert s["local"]["refused"] == 1, s["local"]
        assert s["dropped"]["too_large"] == 1, s["dropped"]
        assert s["local"]["reconnects"] == 0
        relay.wait_log(r"local broker: a message of 52428\d+ bytes is over "
                       r"max_packet_size: dropped")
    assert not any(m.topic == UP + "sensors/huge" for m in col.snapshot())
    grown = _hwm_kb(relay.proc.pid) - before
    # Under 2x the limit plus a constant: never the 50 MiB. Under qemu-user
    # (make cross-test) the code qemu translates on first use counts in the
    # process's RSS too: a larger constant, still far from 50 MiB.
    const = 4096 if os.environ.get("PUSHRELAY_WRAP") else 1024
    assert grown < 2 * 256 + const, "peak RSS grew by %d KiB" % grown
