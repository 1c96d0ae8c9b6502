# SPDX-License-Identifier: ISC
"""kill -9 at random moments under load, at least 20 times.

A publisher sends real telemetry to the local broker at ~1000 msg/s for
~30 s. Meanwhile the relay is killed with SIGKILL at random moments and
started again at once. The relay's local session is persistent, so what
arrives while it is dead waits in the local broker. Afterwards every message
the local broker acknowledged to the publisher must reach central; the test
prints how many did not. The relay writes a PUBACK only after the commit
of its message, so a kill at any moment loses nothing the broker forgot.

$PUSHRELAY_KILLS (default 20) and $PUSHRELAY_KILL_LOAD_S (default 30) tune it.
"""

import os
import signal
import time

from harness import (PacedStream, T, analyse, socket_inodes,
                     telemetry_messages, wait_until)

UP = "gw/gw-test/"
RATE = 1000
KILLS = int(os.environ.get("PUSHRELAY_KILLS", "20"))
LOAD_S = float(os.environ.get("PUSHRELAY_KILL_LOAD_S", "30"))


def test_kill9_under_load_loses_nothing(relay, local_broker, central_broker,
                                        clients, seeded_random):
    rnd = seeded_random
    col = clients.collector(central_broker, UP + "#", protocol=311)
    pub = clients.publisher(local_broker)
    stream = PacedStream(pub, telemetry_messages(), RATE).start()

    # Spread the kills over the load: after each restart, let it run a
    # random while (the mean leaves room for restarts within LOAD_S).
    t0 = time.monotonic()
    kills = 0
    restart_times = []
    mean_gap = max(0.1, LOAD_S / KILLS - 0.3)
    while kills < KILLS or time.monotonic() - t0 < LOAD_S:
        time.sleep(rnd.uniform(0.05, 2 * mean_gap))  # a random moment
        stream.check()  # a failed publish ends the test now, not at stop()
        assert relay.alive(), relay.log_tail()
        relay.kill9()
        kills += 1
        t = time.monotonic()
        relay.start()  # waits until status answers
        restart_times.append(time.monotonic() - t)
        if time.monotonic() - t0 > LOAD_S + T(60):
            break
    sent = stream.stop()
    load_s = time.monotonic() - t0
    pub.wait_acked(timeout=T(60))
    acked = pub.acked_messages()
    assert len(acked) == sent
    assert kills >= KILLS, "only %d kills" % kills

    # Drain: wait until central has every acknowledged message, or until
    # nothing new has arrived for a while with the relay's queue empty.
    want = {(UP + t, p) for t, p in acked}
    last = [col.unique_count(), time.monotonic()]

    def drained():
        n = col.unique_count()
        if n != last[0]:
            last[:] = [n, time.monotonic()]
        with col.cond:
            if want <= col.unique:
                return True
        if time.monotonic() - last[1] > T(15):
            s = relay.status()
            return s is not None and s["queue"]["uplink"]["messages"] == 0
        return False

    wait_until(drained, T(240), interval=0.2, what="central to receive all "
               "acknowledged messages", details=relay.log_tail)

    a = analyse(acked, col.pairs(strip_prefix=UP))
    lost = len(a["lost"])
    print("\nkill -9: %d kills over %.1fs, %d messages published and "
          "acknowledged by the local broker, %d arrived, LOST %d, duplicates "
          "%d; restart-to-status %.2fs median" % (
              kills, load_s, len(acked), len(acked) - lost, lost,
              a["duplicates"], sorted(restart_times)[len(restart_times) // 2]))
    if lost:
        print("first lost: %r" % (a["lost"][:5],))
    assert not a["unexpected"], a["unexpected"][:3]
    # The relay writes a PUBACK only after its message's commit
    # (docs/design.md): nothing the broker forgot can be lost, whenever
    # the kill lands.
    assert lost == 0, "%d acknowledged messages lost across %d kills" % (
        lost, kills)
    assert a["topic_order"], a["first_disorder"]
    s = relay.wait_status(lambda s: s["queue"]["uplink"]["messages"] == 0,
                          what="queue empty at the end")
    assert s["local"]["connected"] and s["central"]["connected"]


def _bytes_waiting(pid, port):
    """Bytes the kernel holds for process pid on its TCP connections to
    port (the Recv-Q of /proc/net/tcp), 0 when there are none."""
    inodes = socket_inodes(pid)
    total = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                c = line.split()
                if (int(c[2].rsplit(":", 1)[1], 16) == port and
                        c[9] in inodes):
                    total += int(c[4].split(":")[1], 16)
    return total


def test_what_the_local_broker_sends_again_is_counted(
        relay_factory, local_broker, central_broker, clients):
    """Messages on the wire to a relay that is killed before reading them
    come again from the local broker with DUP set: the relay counts them in
    redelivered.uplink. None of them was committed, so each reaches central
    once."""
    window = 5
    col = clients.collector(central_broker, UP + "#", protocol=311)
    relay = relay_factory(local={"max_inflight": str(window)})
    pub = clients.publisher(local_broker)
    os.kill(relay.pid, signal.SIGSTOP)
    msgs = [("sensors/dup/%d" % i, b"v%d" % i) for i in range(20)]
    pub.publish_many(msgs)
    # The broker has written to the stopped relay's connection.
    wait_until(lambda: _bytes_waiting(relay.pid, local_broker.port) > 0,
               T(10), what="messages on the wire to the stopped relay")
    relay.kill9()
    relay.start()
    col.wait_count(len(msgs), timeout=T(30))
    s = relay.status()
    a = analyse([(UP + t, p) for t, p in msgs], col.pairs())
    assert not a["lost"] and a["duplicates"] == 0, a
    # Mosquitto keeps the relay's Receive Maximum while nothing has been
    # acknowledged: it had sent that many, and sends them again.
    assert s["redelivered"]["uplink"] == window, s["redelivered"]
    assert s["received"]["uplink"] == len(msgs)
