#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""pushrelay demo: two Mosquitto brokers, the relay between them batching
real telemetry into LZ4 frames over TLS, the unpacker turning them back
into plain messages at the central site, commands the other way, then a
central outage and the queue draining; the WAN bytes saved are printed.

    make demo        (runs: /usr/bin/python3 tests/demo.py --bin build/pushrelay)

Everything runs on free loopback ports in a temporary directory that is
removed at the end (also on Ctrl-C or an error; --keep keeps it).
Uses the committed sample in tests/data unless --corpus names another
directory with the same three .tsv files.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "lib"))

import harness  # noqa: E402
from harness import (Broker, Collector, Publisher, Relay, RelayConfig,  # noqa: E402
                     Unpacker, short_dir, telemetry_messages, unpack_config)

RELAY_ID = "gw-demo"
PREFIX = "gw/%s/" % RELAY_ID


def make_pki(work):
    """A demo CA and a certificate for the central broker at 127.0.0.1."""
    d = work / "pki"
    d.mkdir()
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
          "-nodes"]
    run = lambda *a: subprocess.run(["openssl"] + list(a), cwd=d, check=True,
                                    capture_output=True)
    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days",
        "2", "-subj", "/CN=pushrelay demo CA")
    run("req", *ec, "-keyout", "central.key", "-out", "central.csr", "-subj",
        "/CN=localhost")
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("x509", "-req", "-in", "central.csr", "-CA", "ca.pem", "-CAkey",
        "ca.key", "-CAcreateserial", "-out", "central.pem", "-days", "2",
        "-extfile", "san.ext")
    os.chmod(d, 0o755)
    return d


def demo_config(workdir, sock, local, central):
    """The shape of docs/examples/pushrelay.conf, pointed at the demo brokers."""
    return RelayConfig(
        relay={"id": RELAY_ID,
               "store": str(workdir / "queue.db"),
               "store_max_bytes": "64M",
               "store_full": "drop_oldest",
               "sync": "normal",
               "control": str(sock),
               "log_level": "info",
               "status_topic": "pushrelay/%i/status"},
        local={"address": local.address,
               "client_id": "pushrelay-%i",
               "username": "",
               "password": "",
               "keepalive": "30",
               "protocol": "5"},
        central={"address": ["127.0.0.1:%d" % central.tls_port],
                 "tls": "1",
                 "ca_file": str(central.pki / "ca.pem"),
                 "client_id": "pushrelay-%i",
                 "username": "",
                 "password": "",
                 "keepalive": "60",
                 "protocol": "5",
                 "reconnect_min": "1",
                 "reconnect_max": "2"},
        uplinks=[{"topic": "sensors/#", "local_prefix": "", "remote_prefix": "gw/%i/",
                  "qos": "1", "mode": "batch", "ttl": "0", "priority": "0"}],
        downlinks=[{"topic": "cmd/#", "local_prefix": "", "remote_prefix": "gw/%i/",
                    "qos": "1", "ttl": "0"}],
    )


def size(msgs):
    return sum(len(t) + len(p) for t, p in msgs)


def human(n):
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return "%.0f %s" % (n, unit) if unit == "B" else "%.1f %s" % (n, unit)
        n /= 1024.0


def step(text):
    print("  %s" % text, flush=True)


def run(args, work, closers):
    t_begin = time.monotonic()
    local = Broker(work, "local-broker")
    closers.append(local)
    pki = make_pki(work)
    tls_port = harness.free_port()
    # The central broker: TLS for the relay, plain TCP for the demo's own
    # clients playing the cloud side.
    central = Broker(work, "central-broker", extra_conf=[
        "listener %d 127.0.0.1" % tls_port,
        "certfile %s" % (pki / "central.pem"),
        "keyfile %s" % (pki / "central.key")])
    central.tls_port = tls_port
    central.pki = pki
    closers.append(central)
    local.start()
    central.start()
    step("local broker   127.0.0.1:%d   central broker 127.0.0.1:%d (TLS, "
         "for the relay) and :%d (plain, for the demo's cloud clients)"
         % (local.port, tls_port, central.port))

    sockdir = short_dir("prdemo-")
    cfg = demo_config(work, sockdir / "pushrelay.sock", local, central)
    relay = Relay(args.bin, work / "relay", cfg, sockdir=sockdir)
    closers.append(relay)
    relay.start()
    relay.wait_connected()
    step("relay %s running (config %s)" % (RELAY_ID, relay.conf_path))
    # The central site: frames in on pushrelay/+/batch, plain messages out.
    # MQTT 3.1.1: Mosquitto 2.0.11 keeps only those sessions across the
    # restart below.
    usock = short_dir("prdemo-")
    unpacker = Unpacker(args.bin, work / "unpack", unpack_config(
        work / "unpack", usock / "unpack.sock", central.port,
        protocol="311", log_level="info"), sockdir=usock)
    closers.append(unpacker)
    unpacker.start()
    unpacker.wait_connected()
    step("unpacker running at the central site (config %s)"
         % unpacker.conf_path)

    up_col = Collector(central.port, PREFIX + "sensors/#", name="central-sub")
    closers.append(up_col)
    up_col.start()
    down_col = Collector(local.port, "cmd/#", name="local-sub")
    closers.append(down_col)
    down_col.start()
    lpub = Publisher(local.port, name="devices")
    closers.append(lpub)
    lpub.start()
    cpub = Publisher(central.port, name="central-service")
    closers.append(cpub)
    cpub.start()

    total = args.uplink + args.outage
    all_up = telemetry_messages(total, "sensors/", args.corpus)
    up1, up2 = all_up[:args.uplink], all_up[args.uplink:]
    def device(topic):  # tele/<dev>/SENSOR, senml/ie-met/<dev>, zigbee2mqtt/<dev>
        parts = topic.split("/")
        return parts[2] if parts[1] == "tele" else parts[-1]

    down = [(PREFIX + "cmd/" + device(t) + "/set",
             b'{"report_interval":%d}' % (60 + i))
            for i, (t, _) in enumerate(all_up[:args.downlink])]

    # 1. uplink
    t0 = time.monotonic()
    lpub.publish_many(up1)
    up_col.wait_unique(len(up1), timeout=120)
    t_up = time.monotonic() - t0
    step("uplink:   %d telemetry messages local -> central in %.1fs"
         % (len(up1), t_up))

    # 2. downlink
    t0 = time.monotonic()
    cpub.publish_many(down)
    down_col.wait_unique(len(down), timeout=60)
    t_down = time.monotonic() - t0
    step("downlink: %d commands central -> local in %.1fs" % (len(down), t_down))

    # 3. central outage
    central.stop()
    relay.wait_status(lambda s: not s["central"]["connected"])
    step("central broker stopped")
    t0 = time.monotonic()
    lpub.publish_many(up2)
    s = relay.wait_status(lambda s: s["queue"]["uplink"]["messages"] >= len(up2),
                          timeout=120)
    queued, queued_bytes = (s["queue"]["uplink"]["messages"],
                            s["queue"]["uplink"]["bytes"])
    step("outage:   %d more messages published, %d queued on disk (%s)"
         % (len(up2), queued, human(queued_bytes)))
    central.start()
    step("central broker started again")
    t1 = time.monotonic()
    up_col.wait_unique(total, timeout=180)
    t_drain = time.monotonic() - t1
    s = relay.wait_status(lambda s: s["queue"]["uplink"]["messages"] == 0,
                          timeout=60)
    u = unpacker.wait_status(
        lambda u: u["queue"]["records"]["messages"] == 0, timeout=60)
    step("drained:  the queue emptied %.1fs after central returned" % t_drain)

    a_up = harness.analyse(all_up, up_col.pairs(strip_prefix=PREFIX))
    lost_set = set(a_up["lost"])
    drained = sum(1 for m in up2 if m not in lost_set)
    a_down = harness.analyse([(t[len(PREFIX):], p) for t, p in down],
                             down_col.pairs())
    elapsed = time.monotonic() - t_begin

    rows = [
        ("", "uplink", "downlink"),
        ("sent", len(all_up), len(down)),
        ("delivered", len(all_up) - len(a_up["lost"]), len(down) - len(a_down["lost"])),
        ("lost", len(a_up["lost"]), len(a_down["lost"])),
        ("duplicates", a_up["duplicates"], a_down["duplicates"]),
        ("in order", "yes" if a_up["in_order"] else "NO",
         "yes" if a_down["in_order"] else "NO"),
        ("bytes (topic+payload)", human(size(all_up)), human(size(down))),
        ("queued during outage", queued, "-"),
        ("drained after outage", drained, "-"),
    ]
    print()
    print("pushrelay demo report (corpus: %s)" % (args.corpus or harness.telemetry_dir()))
    for r in rows:
        print("  %-24s %12s %10s" % r)
    print("  %-24s %12s" % ("uplink before outage", "%.1f s" % t_up))
    print("  %-24s %12s" % ("drain after outage", "%.1f s" % t_drain))
    print("  %-24s %12s" % ("elapsed", "%.1f s" % elapsed))
    raw_up = size(all_up) + len(all_up) * len(PREFIX)
    print("  %-24s %12s" % ("WAN bytes sent (TLS)", "%.1f KB"
                             % (s["wan"]["tx_bytes"] / 1000.0)))
    print("  %-24s %12s" % ("  per uplink message", "%.1f B"
                             % (s["wan"]["tx_bytes"] / float(len(all_up)))))
    print("  %-24s %12s" % ("  vs central topic+payload", "%.1f KB (%.0f%% "
                             "saved)" % (raw_up / 1000.0, 100.0 *
                                         (1 - s["wan"]["tx_bytes"] /
                                          float(raw_up)))))
    print("  %-24s %12s" % ("batch frames", "%d (%.0f msgs each)"
                             % (s["batches"]["frames"], s["batches"]["messages"]
                                / max(1, s["batches"]["frames"]))))
    print("  %-24s %12s" % ("WAN bytes received", "%.1f KB"
                             % (s["wan"]["rx_bytes"] / 1000.0)))
    print("  %-24s %12s" % ("TLS handshakes", "%d full, %d resumed"
                             % (s["wan"]["handshakes_full"],
                                s["wan"]["handshakes_resumed"])))
    print("  relay status: received %s, forwarded %s, dropped %s, central reconnects %d"
          % (s["received"], s["forwarded"], s["dropped"], s["central"]["reconnects"]))
    print("  unpacker status: frames %s, records %s"
          % (u["frames"], u["records"]))
    ok = not a_up["lost"] and not a_down["lost"] and a_up["in_order"]
    relay.stop()
    unpacker.stop()
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default=str(harness.default_bin()),
                    help="pushrelay binary (default: build/pushrelay)")
    ap.add_argument("--corpus", default=str(harness.SAMPLE_DIR),
                    help="telemetry directory (default: the sample in tests/data)")
    ap.add_argument("--uplink", type=int, default=3000,
                    help="messages up before the outage (default 3000)")
    ap.add_argument("--downlink", type=int, default=50,
                    help="commands down (default 50)")
    ap.add_argument("--outage", type=int, default=2000,
                    help="messages published during the outage (default 2000)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    if not (os.path.isfile(args.bin) and os.access(args.bin, os.X_OK)):
        print("demo: no pushrelay binary at %s (run make)" % args.bin, file=sys.stderr)
        return 2

    work = Path(tempfile.mkdtemp(prefix="pushrelay-demo-"))
    print("pushrelay demo in %s" % work)
    closers = []
    rc = 1
    try:
        rc = run(args, work, closers)
    except KeyboardInterrupt:
        print("\ndemo: interrupted", file=sys.stderr)
        rc = 130
    except Exception as exc:
        print("\ndemo: failed: %s" % exc, file=sys.stderr)
        for c in closers:
            if isinstance(c, Relay):  # the unpacker too
                print(c.log_tail(30), file=sys.stderr)
        rc = 1
    finally:
        for c in reversed(closers):
            try:
                c.close()
            except Exception as exc:
                print("demo: cleanup: %s" % exc, file=sys.stderr)
        if args.keep:
            print("kept %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
