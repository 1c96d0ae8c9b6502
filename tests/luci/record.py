#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Records the status fixtures the LuCI page test renders (tests/luci/*.json).

Each fixture is the unchanged stdout of `pushrelay status --json` from a
real relay between two real Mosquitto brokers on loopback, started with
tests/lib/harness.py:

  status-up-1.json, status-up-2.json  both links up, 200 then 500 messages
                                      forwarded uplink (two polls, for rates)
  status-central-down.json            the central broker stopped: the
                                      central link down, messages queued,
                                      the store bound (32K) full and the
                                      oldest messages dropped (dropped.full)

Run from the top of the tree after `make`:
  /usr/bin/python3 tests/luci/record.py [--bin build/pushrelay]
The test (tests/system/test_luci.py) reads the files; it does not run this.
"""

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "lib"))

import harness  # noqa: E402


def publish(pub, n, start):
    for i in range(start, start + n):
        pub.publish("sensors/room%d/temp" % (i % 7),
                    b'{"t":%d.%d,"seq":%d}' % (20 + i % 5, i % 10, i))
    pub.wait_acked()


def record(path, relay):
    r = relay.cli("status", "--json", conf=relay.status_conf_path)
    if r.returncode != 0:
        raise SystemExit("status --json failed: %s" % r.stderr)
    path.write_text(r.stdout)
    print("recorded %s" % path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=str(harness.default_bin()))
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="luci-rec-"))
    objs = []
    try:
        local = harness.Broker(work, "local").start()
        objs.append(local)
        central = harness.Broker(work, "central").start()
        objs.append(central)
        sockdir = harness.short_dir()
        conf = harness.default_config(work / "relay", sockdir / "ctl.sock",
                                      local.port, central.port)
        conf.relay["store_max_bytes"] = "32K"
        relay = harness.Relay(a.bin, work / "relay", conf, sockdir=sockdir)
        objs.append(relay)
        relay.start()
        relay.wait_connected()
        pub = harness.Publisher(local.port).start()
        objs.append(pub)

        sent = 0
        for total, name in ((200, "status-up-1.json"),
                            (500, "status-up-2.json")):
            publish(pub, total - sent, sent)
            sent = total
            relay.wait_status(lambda s: s["forwarded"]["uplink"] >= total,
                              what="%d forwarded" % total)
            record(HERE / name, relay)

        central.stop()
        relay.wait_status(lambda s: not s["central"]["connected"],
                          what="the central link down")
        publish(pub, 900, sent)
        sent += 900
        relay.wait_status(lambda s: s["received"]["uplink"] >= sent and
                          s["dropped"]["full"] > 0,
                          what="the store bound full")
        record(HERE / "status-central-down.json", relay)
    finally:
        for o in reversed(objs):
            o.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
