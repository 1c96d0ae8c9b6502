# SPDX-License-Identifier: ISC
"""Store and forward through broker outages.

Uplink: 20,000 real messages published locally during a 60-second central
outage all arrive, complete and in order, once central returns.
Downlink: commands published on central while the LOCAL broker is down
arrive once it is back.

With a central broker that keeps sessions in memory only (aedes, with
PUSHRELAY_CENTRAL_BROKER=aedes), the central outage is a stop and a start
of a broker that then knows no session: the relay must resubscribe and
send its whole queue again, and loses nothing all the same.

$PUSHRELAY_OUTAGE_S shortens the outage for a quick local run (default 60).
"""

import os
import time

from harness import T, analyse

UP = "gw/gw-test/"
N_OUTAGE = 20000
OUTAGE_S = float(os.environ.get("PUSHRELAY_OUTAGE_S", "60"))


def test_20000_messages_through_a_60s_central_outage(relay, local_broker,
                                                     central_broker, clients,
                                                     telemetry):
    msgs = telemetry(N_OUTAGE)
    # 3.1.1 persistent session: survives the central restart (see harness).
    col = clients.collector(central_broker, UP + "#", protocol=311)
    pub = clients.publisher(local_broker)
    # After the outage: a command proves the downlink subscription is back.
    cmds = clients.collector(local_broker, "cmd/#")
    before = relay.status()

    t_stop = time.monotonic()
    central_broker.stop()
    relay.wait_status(lambda s: not s["central"]["connected"],
                      what="central.connected false")

    pub.publish_many(msgs, timeout=T(120))
    t_published = time.monotonic() - t_stop

    # The outage is the point of this test: hold it for OUTAGE_S seconds
    # from the stop, checking all along that the relay stays up and that the
    # whole burst is queued.
    max_queued = 0
    deadline = t_stop + OUTAGE_S
    while True:
        s = relay.wait_status(lambda s: True, timeout=T(10),
                              what="status during the outage")
        assert not s["central"]["connected"]
        assert s["local"]["connected"]
        max_queued = max(max_queued, s["queue"]["uplink"]["messages"])
        now = time.monotonic()
        if now >= deadline and max_queued >= N_OUTAGE:
            break
        if now >= deadline + T(30):
            raise AssertionError("queue.uplink.messages reached only %d of %d "
                                 "(status %s)" % (max_queued, N_OUTAGE, s))
        time.sleep(0.5)  # timed wait: the outage itself
    assert max_queued == N_OUTAGE, "each message queued once"
    # bytes counts topic+payload; the payloads alone are a lower bound
    # whichever topic (local or remote) the relay counts.
    assert s["queue"]["uplink"]["bytes"] >= sum(len(p) for _, p in msgs)
    assert s["dropped"]["full"] == 0 and s["dropped"]["expired"] == 0

    t_start = time.monotonic()
    if central_broker.keeps_sessions:
        central_broker.start()
    else:
        # A broker without the sessions: the collector subscribes again
        # while the relay is refused (CONNACK 3), else it would miss what
        # the relay sends before that.
        central_broker.start(hold=[relay.central_client_id])
        col.wait_subscribed(2, timeout=T(10))
        central_broker.release()
    col.wait_unique(N_OUTAGE, timeout=T(180))
    t_drained = time.monotonic() - t_start

    a = analyse(msgs, col.pairs(strip_prefix=UP))
    print("\noutage %.0fs (burst published in %.1fs), queued %d, drained in "
          "%.1fs, duplicates %d" % (t_start - t_stop, t_published, max_queued,
                                    t_drained, a["duplicates"]))
    assert not a["lost"], "lost %d, first %r" % (len(a["lost"]), a["lost"][:3])
    assert not a["unexpected"], a["unexpected"][:3]
    assert a["in_order"], "first arrivals out of order: %s" % a["first_disorder"]

    s = relay.wait_status(lambda s: s["queue"]["uplink"]["messages"] == 0 and
                          s["forwarded"]["uplink"] >= N_OUTAGE,
                          what="queue drained")
    assert s["central"]["connected"]
    assert s["central"]["reconnects"] >= before["central"]["reconnects"] + 1
    assert s["queue"]["uplink"]["bytes"] == 0
    assert s["received"]["uplink"] == N_OUTAGE
    cpub = clients.publisher(central_broker)
    cpub.publish(UP + "cmd/after-outage", b"1")
    cpub.wait_acked()
    cmds.wait_message("cmd/after-outage", b"1", timeout=T(10))


def test_downlink_waits_for_the_local_broker(relay, local_broker,
                                             central_broker, clients,
                                             telemetry):
    n = 500
    msgs = telemetry(n, prefix="cmd/")
    col = clients.collector(local_broker, "cmd/#", protocol=311)
    pub = clients.publisher(central_broker)
    before = relay.status()

    local_broker.stop()
    relay.wait_status(lambda s: not s["local"]["connected"],
                      what="local.connected false")
    pub.publish_many([(UP + t, p) for t, p in msgs])
    s = relay.wait_status(lambda s: s["queue"]["downlink"]["messages"] == n,
                          what="%d downlink messages queued" % n)
    assert s["queue"]["downlink"]["bytes"] > 0
    assert s["central"]["connected"]

    local_broker.start()
    col.wait_unique(n, timeout=T(90))
    a = analyse(msgs, col.pairs())
    print("\ndownlink through a local outage: duplicates %d" % a["duplicates"])
    assert not a["lost"], "lost %d, first %r" % (len(a["lost"]), a["lost"][:3])
    assert a["in_order"], a["first_disorder"]
    s = relay.wait_status(lambda s: s["queue"]["downlink"]["messages"] == 0 and
                          s["local"]["connected"], what="downlink queue drained")
    assert s["local"]["reconnects"] >= before["local"]["reconnects"] + 1
    assert s["forwarded"]["downlink"] >= n
