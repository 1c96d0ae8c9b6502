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


def payload(i):
    head = b'{"seq":%05d,"pad":"' % i
    tail = b'"}'
    return head + b"x" * (PAYLOAD_LEN - len(head) - len(tail)) + tail


@pytest.mark.parametrize("policy", ["drop_oldest", "drop_newest"])
def test_store_full_policy(relay_factory, local_broker, central_broker,
                           clients, policy):
    assert all(len(payload(i)) == PAYLOAD_LEN for i in range(N))
    relay = relay_factory(relay={"store_max_bytes": "20K",
                                 "store_full": policy})
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
