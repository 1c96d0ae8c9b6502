# SPDX-License-Identifier: ISC
"""store_max_bytes bounds the queue; store_full picks what goes.

Messages are sized so that the capacity is the same whichever way the
relay counts: K = 1000 or 1024, local topic (12 B) or remote topic (23 B).
With a 970-byte payload a message is 982 or 993 bytes, and
20000 // 993 == 20480 // 982 == 20: exactly 20 messages fit in '20K'.
"""

import pytest

from harness import T

UP = "gw/gw-test/"
TOPIC = "sensors/full"          # 12 bytes; remote gw/gw-test/sensors/full, 23
PAYLOAD_LEN = 970
N = 50
FIT = 20
CMD = b"cmd %d " + b"c" * 644


def payload(i):
    head = b'{"seq":%05d,"pad":"' % i
    tail = b'"}'
    return head + b"x" * (PAYLOAD_LEN - len(head) - len(tail)) + tail


@pytest.mark.parametrize("policy", ["drop_oldest", "drop_newest"])
def test_store_full_policy(relay_factory, local_broker, central_broker,
                           clients, policy):
    assert all(len(payload(i)) == PAYLOAD_LEN for i in range(N))
    # The whole bound for the uplink: no share kept for the downlink.
    relay = relay_factory(relay={"store_max_bytes": "20K",
                                 "store_full": policy,
                                 "downlink_reserve": "0"})
    col = clients.collector(central_broker, UP + "#", protocol=311)
    pub = clients.publisher(local_broker)

    central_broker.stop()
    relay.wait_status(lambda s: not s["central"]["connected"],
                      what="central.connected false")
    log_mark = relay.log_size()
    for i in range(N):
        pub.publish(TOPIC, payload(i))
    pub.wait_acked()

    s = relay.wait_status(lambda s: s["received"]["uplink"] == N and
                          s["dropped"]["full"] == N - FIT,
                          what="%d received, %d dropped as full" % (N, N - FIT))
    assert s["queue"]["uplink"]["messages"] == FIT
    assert 0 < s["queue"]["uplink"]["bytes"] <= 20 * 1024
    assert s["dropped"]["expired"] == 0
    relay.wait_log(r"(?i)(full|drop)", after=log_mark)

    central_broker.start()
    relay.wait_status(lambda s: s["queue"]["uplink"]["messages"] == 0 and
                      s["central"]["connected"], timeout=T(60),
                      what="queue drained")
    # Barrier: nothing queued remains, so after this one nothing else comes.
    pub.publish("sensors/barrier", b"end")
    pub.wait_acked()
    col.wait_message(UP + "sensors/barrier")

    got = [m.payload for m in col.snapshot() if m.topic == UP + TOPIC]
    firsts = list(dict.fromkeys(got))  # first arrivals, duplicates dropped
    if policy == "drop_oldest":
        want = [payload(i) for i in range(N - FIT, N)]
    else:
        want = [payload(i) for i in range(FIT)]
    assert firsts == want, "got seq %s" % [p[7:12] for p in firsts]

    # forwarded counts PUBACKs: the broker may hand the barrier to the
    # collector before the relay has read the barrier's PUBACK.
    s = relay.wait_status(lambda s: s["forwarded"]["uplink"] >= FIT + 1,
                          what="the barrier's PUBACK counted")
    assert s["dropped"]["full"] == N - FIT
    assert s["forwarded"]["uplink"] == FIT + 1


@pytest.mark.parametrize("reserve", ["10", "0"])
def test_a_full_uplink_leaves_room_for_commands(relay_factory, local_broker,
                                                central_broker, clients,
                                                reserve):
    """An uplink that fills the store must not starve the downlink: with
    downlink_reserve (10% by default) a command from the central service
    still fits; with 0 it is refused as full, as 0.1 did. The uplink stays
    queued here because its batch frame lingers for a minute."""
    relay = relay_factory(start=False, relay={"store_max_bytes": "20K",
                                              "downlink_reserve": reserve},
                          uplinks=[{"topic": "sensors/#",
                                    "remote_prefix": "gw/%i/", "qos": "1",
                                    "mode": "batch"}])
    relay.conf_path.write_text(relay.conf_path.read_text() +
                               "\nconfig batch\n\toption linger_ms '60000'\n"
                               "\toption max_messages '1000'\n"
                               "\toption max_bytes '1M'\n")
    relay.start()
    relay.wait_connected()
    cmds = clients.collector(local_broker, "cmd/#")
    pub = clients.publisher(local_broker)
    for i in range(N):
        pub.publish(TOPIC, payload(i))
    pub.wait_acked()
    relay.wait_status(lambda s: s["received"]["uplink"] == N and
                      s["dropped"]["full"] > 0,
                      what="the uplink over the store's bound")
    # 650-byte commands: none fits in what 20 uplink messages leave of
    # 20K (360 or 620 bytes); three fit in a 10% reserve.
    central = clients.publisher(central_broker)
    for i in range(3):
        central.publish(UP + "cmd/open", CMD % i)
    central.wait_acked()
    s = relay.wait_status(lambda s: s["received"]["downlink"] == 3,
                          what="3 commands received")
    if reserve == "0":
        assert s["dropped"]["full"] > N - FIT  # the commands too
        assert s["forwarded"]["downlink"] == 0
        return
    for i in range(3):
        cmds.wait_message("cmd/open", CMD % i)
    s = relay.wait_status(lambda s: s["forwarded"]["downlink"] == 3,
                          what="the 3 commands acknowledged by the broker")
    assert s["queue"]["uplink"]["bytes"] <= 20 * 1024 * 0.9
