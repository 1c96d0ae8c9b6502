# SPDX-License-Identifier: ISC
"""A corrupt or unreadable queue file is moved aside, logged, and a fresh
one started: the relay keeps working."""

import os

import pytest

from harness import T

UP = "gw/gw-test/"


def _garbage(kind):
    rnd = os.urandom(16384)
    if kind == "random":
        return b"this is not a database\n" + rnd
    # A valid SQLite header followed by garbage pages.
    return b"SQLite format 3\x00" + b"\x10\x00\x02\x02\x00\x40\x20\x20" + rnd


@pytest.mark.parametrize("kind", ["random", "sqlite_header"])
def test_corrupt_queue_is_moved_aside(relay_factory, local_broker,
                                      central_broker, clients, telemetry, kind):
    relay = relay_factory(start=False)
    junk = _garbage(kind)
    relay.store_path.write_bytes(junk)

    relay.start()
    relay.wait_connected()
    aside = sorted(relay.store_path.parent.glob(relay.store_path.name + ".corrupt-*"))
    assert len(aside) == 1, "one queue.db.corrupt-* file, got %s" % aside
    assert aside[0].read_bytes() == junk, "moved aside unchanged"
    relay.wait_log(r"(?i)corrupt", timeout=T(5))
    assert str(aside[0].name) in relay.log_text() or \
        str(relay.store_path) in relay.log_text(), "the log names the file"

    msgs = telemetry(200)
    col = clients.collector(central_broker, UP + "#")
    pub = clients.publisher(local_broker)
    pub.publish_many(msgs)
    col.wait_unique(len(msgs))
    s = relay.wait_status(lambda s: s["forwarded"]["uplink"] == len(msgs),
                          what="all forwarded")
    assert s["queue"]["uplink"]["messages"] == 0

    # The fresh queue is a working one across a restart, too.
    relay.stop()
    relay.start()
    relay.wait_connected()
    assert len(list(relay.store_path.parent.glob(relay.store_path.name +
                                                  ".corrupt-*"))) == 1
