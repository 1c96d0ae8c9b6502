# SPDX-License-Identifier: ISC
"""SIGUSR1, "the WAN is up": the OpenWrt init script's interface trigger
sends it (procd_add_interface_trigger on the WAN, openwrt/net/pushrelay and
docs/openwrt.md). A central link that waits out a long backoff connects at
once; a link that is up is left alone; the relay never dies of it."""

import signal
import time

from harness import T


def test_sigusr1_skips_the_backoff_wait(relay_factory, central_broker):
    central_broker.offline()
    relay = relay_factory(connected=False,
                          central={"reconnect_min": "60",
                                   "reconnect_max": "120"})
    relay.wait_connected(local=True, central=False)
    # The first attempt was refused: the next one is 60 s away
    # (relay/backoff.h: the first delay is exactly reconnect_min).
    relay.wait_log(r"central broker.*retrying", timeout=T(15))
    central_broker.online()

    # Without the signal the relay keeps waiting: still down 3 s after the
    # broker came back. This is what makes the test able to fail.
    end = time.monotonic() + 3
    while time.monotonic() < end:
        s = relay.wait_status(lambda s: True)
        assert not s["central"]["connected"], \
            "connected without SIGUSR1: the backoff was not long"
        time.sleep(0.1)

    mark = len(relay.log_text())
    t0 = time.monotonic()
    relay._signal(signal.SIGUSR1)
    relay.wait_connected(timeout=T(15))
    took = time.monotonic() - t0
    print("\nconnected %.2f s after SIGUSR1 (backoff left: ~%d s)"
          % (took, 60 - 3))
    assert took < 30, "SIGUSR1 did not cut the 60 s backoff (%.1f s)" % took
    relay.wait_log(r"SIGUSR1 \(WAN up\): reconnecting now", after=mark)


def test_sigusr1_while_connected_changes_nothing(relay, local_broker,
                                                  central_broker, clients):
    before = relay.wait_status(lambda s: True)
    for _ in range(3):
        relay._signal(signal.SIGUSR1)
    # A message through both links after the signals: the relay is alive
    # and the central link was not dropped.
    col = clients.collector(central_broker, "gw/%s/#" % relay.relay_id,
                            protocol=311)
    pub = clients.publisher(local_broker)
    pub.publish("sensors/after-usr1", b"x")
    pub.wait_acked()
    col.wait_message("gw/%s/sensors/after-usr1" % relay.relay_id)
    after = relay.wait_status(lambda s: True)
    assert relay.alive()
    assert after["central"]["reconnects"] == before["central"]["reconnects"]
    assert "SIGUSR1" not in relay.log_text()


def test_sigusr1_while_starting_does_not_kill(relay_factory):
    # procd's interface trigger can fire while the relay is still reading
    # its configuration: SIGUSR1 every 2 ms until the control socket
    # answers. The first status query (a process of its own) comes first:
    # before main() runs, in the dynamic loader, the default action of
    # SIGUSR1 is unavoidable; from main() on the relay ignores it until
    # loop.c handles it. Without that, this fails every time.
    relay = relay_factory(start=False)
    relay.start(wait=False)
    sent = 0
    deadline = time.monotonic() + T(15)
    while sent % 25 != 0 or relay.status() is None:
        assert relay.alive(), "killed by SIGUSR1 %d while starting\n%s" % (
            sent, relay.log_tail())
        assert time.monotonic() < deadline, relay.log_tail()
        relay.proc.send_signal(signal.SIGUSR1)
        sent += 1
        time.sleep(0.002)
    assert sent > 0
    relay.wait_connected()
    assert relay.alive()
