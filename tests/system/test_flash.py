# SPDX-License-Identifier: ISC
"""The queue on flash (issue 13, "Flash"): SQLite's WAL needs a shared
mapping of its -shm file, which JFFS2 cannot give. tests/shim/flashshim.c
(built by the Makefile as build/tests/libflashshim.so), preloaded into the
relay, refuses such mappings and -shm files as JFFS2 would, or the -wal
file too; it also counts the bytes SQLite writes, for the figures in
docs/openwrt.md ("Flash").

- With locking_mode EXCLUSIVE before the first WAL access the queue keeps
  WAL with its index in the heap: no -shm, no shared mapping.
- Where the WAL cannot be used at all it falls back to journal_mode
  TRUNCATE, says so once in the log and in status, and loses nothing to
  kill -9.
"""

import os
import struct
from pathlib import Path

import pytest

from harness import T

UP = "gw/gw-test/"
N = 40


def shim_path(pushrelay_bin):
    return Path(pushrelay_bin).resolve().parent / "tests" / "libflashshim.so"


@pytest.fixture
def shim(pushrelay_bin):
    p = shim_path(pushrelay_bin)
    if os.environ.get("PUSHRELAY_WRAP"):
        pytest.skip("LD_PRELOAD does not reach a relay run through "
                    "$PUSHRELAY_WRAP")
    if not p.is_file():
        pytest.skip("%s missing: `make %s` builds it" % (p, p))
    return p


def shim_env(shim, workdir, **flags):
    env = {"LD_PRELOAD": str(shim), "FLASHSHIM_MATCH": "queue.db",
           "FLASHSHIM_COUNT": str(Path(workdir) / "flashshim.count"),
           # The ASan build wants its runtime first; the shim has none.
           "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") +
           ":verify_asan_link_order=0"}
    env.update({k: "1" for k in flags})
    return env


def counters(relay):
    """The shim's counters (see tests/shim/flashshim.c)."""
    raw = (relay.workdir / "flashshim.count").read_bytes()[:8 * 11]
    c = struct.unpack("<11Q", raw)
    return {"db": c[0], "wal": c[1], "journal": c[2], "shm": c[3],
            "syncs": c[8], "shm_created": c[9], "mmap_refused": c[10]}


def outage_kill9_restart(relay, local_broker, central_broker, clients):
    """N messages queued while the central broker is down, kill -9, the
    relay and the broker back: all N arrive."""
    central_broker.stop()
    relay.wait_status(lambda s: not s["central"]["connected"],
                      what="the central link to drop")
    pub = clients.publisher(local_broker)
    for i in range(N):
        pub.publish("sensors/f%d" % i, b"m%d" % i, qos=1)
    pub.wait_acked()
    relay.wait_status(lambda s: s["queue"]["uplink"]["messages"] >= N,
                      what="%d messages queued" % N)
    relay.kill9()
    central_broker.start()
    col = clients.collector(central_broker, [UP + "sensors/#"])
    relay.start()
    col.wait_unique(N, timeout=T(30))
    got = {(m.topic, m.payload) for m in col.snapshot()}
    want = {(UP + "sensors/f%d" % i, b"m%d" % i) for i in range(N)}
    assert want <= got, sorted(want - got)[:5]


def test_wal_keeps_its_index_in_memory_where_shared_mmap_fails(
        shim, relay_factory, local_broker, central_broker, clients):
    relay = relay_factory(start=False)
    relay.env = shim_env(shim, relay.workdir, FLASHSHIM_NO_SHARED_MMAP=1,
                         FLASHSHIM_NO_SHM=1)
    relay.start()
    s = relay.wait_connected()
    assert s["store"]["journal"] == "wal", s["store"]
    assert "journal wal (index in memory, no -shm file)" in relay.log_text()
    outage_kill9_restart(relay, local_broker, central_broker, clients)
    assert relay.status()["store"]["journal"] == "wal"
    c = counters(relay)
    assert c["wal"] > 0, c
    assert c["mmap_refused"] == 0 and c["shm_created"] == 0, c
    assert not Path(str(relay.store_path) + "-shm").exists()


def test_falls_back_to_a_rollback_journal_where_wal_cannot_work(
        shim, relay_factory, local_broker, central_broker, clients):
    relay = relay_factory(start=False)
    relay.env = shim_env(shim, relay.workdir, FLASHSHIM_NO_SHARED_MMAP=1,
                         FLASHSHIM_NO_SHM=1, FLASHSHIM_NO_WAL=1)
    relay.start()
    s = relay.wait_connected()
    assert s["store"]["journal"] == "truncate", s["store"]
    log = relay.log_text()
    assert log.count("journal truncate, not WAL") == 1, log
    r = relay.cli("status", conf=relay.status_conf_path)
    assert "store    journal truncate" in r.stdout, r.stdout
    r = relay.cli("status", "--prometheus", conf=relay.status_conf_path)
    assert 'journal="truncate"' in r.stdout, r.stdout

    outage_kill9_restart(relay, local_broker, central_broker, clients)
    # The file stays in rollback mode: asking for WAL again would rewrite
    # its header before finding the WAL impossible.
    assert relay.status()["store"]["journal"] == "truncate"
    assert relay.log_text().count("journal truncate, not WAL") == 2
    c = counters(relay)
    assert c["journal"] > 0 and c["wal"] == 0, c
    assert not Path(str(relay.store_path) + "-wal").exists()

    # Without the shim the file keeps working, still in rollback mode.
    relay.stop()
    relay.env = {}
    relay.start()
    relay.wait_connected()
    assert relay.status()["store"]["journal"] == "truncate"
