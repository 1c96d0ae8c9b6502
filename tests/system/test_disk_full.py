# SPDX-License-Identifier: ISC
"""A full disk loses nothing that was acknowledged (docs/design.md, "When a
write fails").

The queue lives on a small tmpfs that a filler file nearly fills. With the
central broker down, a 1,000 msg/s stream fills the rest until SQLite
refuses writes: the relay must then acknowledge nothing it could not
commit (0.1 released the acknowledgements of rolled-back rows and lost
2,986 of 3,000 messages), say so in its status, pause intake, and resume
by itself once space returns. Every message the local broker accepted must
then reach the central broker.

Needs root (mount -t tmpfs); skipped with the reason otherwise.
"""

import os
import subprocess

import pytest

from harness import PacedStream, T, analyse, telemetry_messages, wait_until

UP = "gw/gw-test/"


@pytest.fixture
def small_fs(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mnt = tmp_path / "small"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs",
                        str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip("cannot mount a tmpfs here: %s" % r.stderr.strip())
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(mnt, leave):
    """A filler file that leaves about `leave` bytes free on mnt."""
    st = os.statvfs(mnt)
    free = st.f_bavail * st.f_frsize
    filler = mnt / "filler"
    with open(filler, "wb") as f:
        f.write(b"\0" * max(0, free - leave))
    return filler


def test_a_full_disk_loses_nothing_acknowledged(relay_factory, small_fs,
                                                local_broker, central_broker,
                                                clients):
    col = clients.collector(central_broker, UP + "sensors/#")
    relay = relay_factory(relay={"store": str(small_fs / "queue.db"),
                                 "store_max_bytes": "64M"})
    central_broker.stop()
    relay.wait_status(lambda s: not s["central"]["connected"],
                      what="the relay to see central down")
    filler = _fill(small_fs, 300 * 1024)
    pub = clients.publisher(local_broker)
    msgs = telemetry_messages(6000)
    stream = PacedStream(pub, msgs, 1000).start()
    relay.wait_status(lambda s: not s["store"]["writable"], timeout=T(30),
                      what="the store to refuse writes")
    stream.at(len(msgs))
    stream.stop()
    pub.wait_acked(timeout=T(60))
    s = relay.status()
    assert s["store"]["errors"] > 0 and s["durability"]["commits_failed"] > 0
    assert not s["local"]["connected"]  # intake paused
    relay.wait_log(r"intake pauses until the store takes writes")
    filler.unlink()
    relay.wait_status(lambda s: s["store"]["writable"] and
                      s["local"]["connected"], timeout=T(60),
                      what="the store writable again and intake back")
    central_broker.start()
    want = set((UP + t, p) for t, p in msgs)
    wait_until(lambda: want <= set((m.topic, m.payload)
                                   for m in col.snapshot()), T(120),
               what="all %d messages at central" % len(msgs),
               details=lambda: "relay %s" % (relay.status(),))
    res = analyse([(UP + t, p) for t, p in msgs],
                  [(m.topic, m.payload) for m in col.snapshot()])
    s = relay.status()
    print("\ndisk full: %d messages, lost %d, duplicates %d; store errors "
          "%d, passes undone %d, redelivered to the relay %d"
          % (len(msgs), len(res["lost"]), res["duplicates"],
             s["store"]["errors"], s["durability"]["commits_failed"],
             s["redelivered"]["uplink"]))
    assert not res["lost"] and not res["unexpected"]
    assert res["topic_order"], res["first_disorder"]
    assert s["store"]["writable"]


def test_the_unpacker_on_a_full_disk_loses_nothing(relay_factory,
                                                   unpacker_factory, small_fs,
                                                   local_broker,
                                                   central_broker, clients):
    """The same for the unpacker: a frame whose records do not fit on the
    disk is not acknowledged, the central broker sends it again, and once
    space returns every record reaches the consumer."""
    col = clients.collector(central_broker, UP + "sensors/#")
    unpacker = unpacker_factory(store=str(small_fs / "unpack.db"),
                                store_max_bytes="64M")
    filler = _fill(small_fs, 200 * 1024)
    relay = relay_factory(uplinks=[{"topic": "sensors/#",
                                    "remote_prefix": "gw/%i/", "qos": "1",
                                    "mode": "batch"}])
    pub = clients.publisher(local_broker)
    msgs = telemetry_messages(6000)
    stream = PacedStream(pub, msgs, 2000).start()
    unpacker.wait_status(lambda s: not s["store"]["writable"],
                         timeout=T(30), what="the unpacker's store full")
    stream.at(len(msgs))
    stream.stop()
    pub.wait_acked(timeout=T(60))
    unpacker.wait_log(r"intake pauses until the store takes writes")
    filler.unlink()
    unpacker.wait_status(lambda s: s["store"]["writable"] and
                         s["central"]["connected"], timeout=T(60),
                         what="the unpacker's store writable again")
    want = set((UP + t, p) for t, p in msgs)
    wait_until(lambda: want <= set((m.topic, m.payload)
                                   for m in col.snapshot()), T(120),
               what="all %d messages at central" % len(msgs),
               details=lambda: "unpacker %s\nrelay %s" % (
                   unpacker.status(), relay.status()))
    res = analyse([(UP + t, p) for t, p in msgs],
                  [(m.topic, m.payload) for m in col.snapshot()])
    u = unpacker.status()
    print("\nunpacker disk full: %d messages, lost %d, duplicates %d; store "
          "errors %d, passes undone %d" % (
              len(msgs), len(res["lost"]), res["duplicates"],
              u["store"]["errors"], u["durability"]["commits_failed"]))
    assert not res["lost"] and not res["unexpected"]
    assert u["store"]["errors"] > 0
    # Sending stops while the store takes no writes; each undone pass can
    # send again at most the unpacker's window (max_inflight 100).
    assert res["duplicates"] <= 100 * u["durability"]["commits_failed"]
