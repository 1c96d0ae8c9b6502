# SPDX-License-Identifier: ISC
"""`pushrelay status` for watchdogs and Prometheus (issue 13, "Operators'
view"): the exit code 3 when the central link has been down longer than
option unhealthy_after, the down_s field it is computed from, and
`status --prometheus` in the text exposition format, parsed strictly and
checked against the JSON figure by figure."""

import json
import re

from harness import T, run_cli, wait_until

UP = "gw/gw-test/"


def status(relay, *args):
    return run_cli(relay.bin, "status", *args, conf=relay.status_conf_path,
                   timeout=T(10))


def test_status_exits_3_when_the_central_link_stays_down(
        relay_factory, central_broker):
    relay = relay_factory(relay={"unhealthy_after": "2"})
    for args in ((), ("--json",), ("--prometheus",)):
        r = status(relay, *args)
        assert r.returncode == 0, (args, r.returncode, r.stderr)
    assert json.loads(status(relay, "--json").stdout)["central"]["down_s"] == 0

    central_broker.stop()
    relay.wait_status(lambda s: not s["central"]["connected"],
                      what="the central link to drop")
    # Down, but not yet for longer than 2 s: still healthy.
    r = status(relay, "--json")
    s = json.loads(r.stdout)
    if s["central"]["down_s"] <= 2:
        assert r.returncode == 0, r.stderr
    relay.wait_status(lambda s: s["central"]["down_s"] > 2, timeout=T(20),
                      what="central down_s past unhealthy_after")
    for args in ((), ("--json",), ("--prometheus",)):
        r = status(relay, *args)
        assert r.returncode == 3, (args, r.returncode, r.stdout, r.stderr)
        assert r.stdout.strip(), "the status is still printed"
        assert re.search(r"unhealthy: the central link has been down for "
                         r"\d+ s \(option unhealthy_after 2\)", r.stderr), r.stderr
    assert json.loads(status(relay, "--json").stdout)["local"]["down_s"] == 0

    central_broker.start()
    relay.wait_connected()
    r = status(relay)
    assert r.returncode == 0, r.stderr
    assert json.loads(status(relay, "--json").stdout)["central"]["down_s"] == 0


def test_unhealthy_after_0_never_exits_3(relay_factory, central_broker):
    relay = relay_factory(relay={"unhealthy_after": "0"})
    central_broker.stop()
    s = relay.wait_status(lambda s: s["central"]["down_s"] >= 2, timeout=T(20),
                          what="central down for 2 s")
    assert s["central"]["connected"] is False
    r = status(relay)
    assert r.returncode == 0, r.stderr
    assert "down for" in r.stdout


def test_down_counts_from_the_start_when_never_connected(relay_factory,
                                                         central_broker):
    central_broker.stop()
    relay = relay_factory(connected=False, relay={"unhealthy_after": "1"})
    relay.wait_status(lambda s: s["central"]["down_s"] > 1, timeout=T(20),
                      what="central down_s past 1 s")
    assert status(relay).returncode == 3


def test_status_exit_codes_unchanged(relay_factory, pushrelay_bin):
    relay = relay_factory(start=False)
    assert status(relay).returncode == 1            # nothing listens
    r = run_cli(pushrelay_bin, "status", "--json", "--prometheus",
                conf=relay.status_conf_path)
    assert r.returncode == 2, r.stderr             # usage
    r = run_cli(pushrelay_bin, "status", "extra", conf=relay.status_conf_path)
    assert r.returncode == 2, r.stderr


# --- Prometheus text exposition -------------------------------------------

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(r"^(%s)(?:\{(%s(?:,%s)*)\})? (-?[0-9]+(?:\.[0-9]+)?)$"
                    % (NAME, LABEL, LABEL))
HELP = re.compile(r"^# HELP (%s) (.*)$" % NAME)
TYPE = re.compile(r"^# TYPE (%s) (counter|gauge|histogram|summary|untyped)$"
                  % NAME)


def parse_exposition(text):
    """{(name, frozenset(labels)): value} and {name: type}; asserts that
    every line is valid, every family has HELP and TYPE before its samples
    and comes in one piece, and no sample repeats."""
    assert text.endswith("\n"), "ends with a newline"
    samples, types, helps, done = {}, {}, set(), set()
    current = None
    for n, line in enumerate(text.splitlines(), 1):
        where = "line %d: %r" % (n, line)
        m = HELP.match(line)
        if m:
            assert m.group(1) not in helps, "second HELP: " + where
            helps.add(m.group(1))
            continue
        m = TYPE.match(line)
        if m:
            assert m.group(1) not in types, "second TYPE: " + where
            types[m.group(1)] = m.group(2)
            continue
        assert not line.startswith("#"), "unknown comment: " + where
        m = SAMPLE.match(line)
        assert m, "not exposition format: " + where
        name, labels, value = m.group(1), m.group(2), m.group(3)
        assert name in types and name in helps, "no HELP/TYPE first: " + where
        if name != current:
            assert name not in done, "family split in two: " + where
            if current is not None:
                done.add(current)
            current = name
        key = (name, frozenset(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"',
                                          labels or "")))
        assert key not in samples, "sample repeated: " + where
        samples[key] = float(value)
    for name, t in types.items():
        assert name.startswith("pushrelay_"), name
        assert (t == "counter") == name.endswith("_total"), \
            "%s: counters, and only they, end in _total" % name
    return samples, types


def json_to_samples(s):
    """What the JSON says, in the Prometheus names the relay documents."""
    out = {}

    def put(name, labels, v):
        out[(name, frozenset(labels.items()))] = float(v)

    for side in ("local", "central"):
        for k, v in s[side].items():
            put("pushrelay_link_" + k.replace("down_s", "down_seconds"),
                {"link": side}, v)
    for d in ("uplink", "downlink"):
        for k, v in s["queue"][d].items():
            put("pushrelay_queue_" + k, {"dir": d}, v)
        for group in ("received", "redelivered", "forwarded"):
            put("pushrelay_%s_total" % group, {"dir": d}, s[group][d])
    for reason, v in s["dropped"].items():
        put("pushrelay_dropped_total", {"reason": reason}, v)
    for group in ("wan", "batches", "store", "durability"):
        for k, v in s[group].items():
            if isinstance(v, str):
                continue
            if isinstance(v, dict):  # wan.budget (issue #14)
                for k2, v2 in v.items():
                    put("pushrelay_%s_%s_%s" % (group, k, k2), {}, v2)
                continue
            put("pushrelay_%s_%s" % (group, k), {}, v)
    return out


def test_prometheus_output_is_strict_and_matches_the_json(
        relay_factory, local_broker, central_broker, clients):
    relay = relay_factory()
    col = clients.collector(central_broker, [UP + "#"])
    pub = clients.publisher(local_broker)
    for i in range(20):
        pub.publish("sensors/t%d" % i, b"x" * i, qos=1)
    pub.wait_acked()
    relay.wait_status(lambda s: s["forwarded"]["uplink"] >= 20,
                      what="20 messages forwarded")
    col.wait_count(20)

    def snapshot():
        r = status(relay, "--prometheus")
        assert r.returncode == 0, r.stderr
        prom, types = parse_exposition(r.stdout)
        j = json.loads(status(relay, "--json").stdout)
        return prom, types, j, r.stdout

    def strip(samples):
        """Names without _total, as the JSON has no types; the figures
        that move on their own (uptime, down time) left out."""
        return {(re.sub(r"_total$", "", name), labels): v
                for (name, labels), v in samples.items()
                if name not in ("pushrelay_info", "pushrelay_uptime_seconds",
                                "pushrelay_link_down_seconds")}

    last = {}

    def agree():
        prom, _types, j, _text = snapshot()
        last["prom"], last["json"] = strip(prom), strip(json_to_samples(j))
        return last["prom"] == last["json"]

    def diff():
        p, w = last["prom"], last["json"]
        return "only in --prometheus: %r\nonly in --json: %r\ndiffer: %r" % (
            sorted(set(p) - set(w)), sorted(set(w) - set(p)),
            sorted((k, p[k], w[k]) for k in set(p) & set(w) if p[k] != w[k]))

    # Two requests: wait for a moment in which nothing moved between them.
    wait_until(agree, T(20), interval=0.2, what="--prometheus and --json "
               "to give the same figures", details=diff)
    prom, types, j, text = snapshot()
    # The key figures, by their documented names.
    key = {("pushrelay_received_total", frozenset({("dir", "uplink")})): 20.0,
           ("pushrelay_forwarded_total", frozenset({("dir", "uplink")})): 20.0,
           ("pushrelay_link_connected", frozenset({("link", "central")})): 1.0,
           ("pushrelay_link_connected", frozenset({("link", "local")})): 1.0,
           ("pushrelay_dropped_total", frozenset({("reason", "full")})): 0.0}
    for k, v in key.items():
        assert prom.get(k) == v, (k, prom.get(k), text)
    assert types["pushrelay_link_tx_bytes_total"] == "counter"
    assert types["pushrelay_queue_messages"] == "gauge"
    info = [k for k in prom if k[0] == "pushrelay_info"]
    assert len(info) == 1 and dict(info[0][1])["id"] == "gw-test" and \
        dict(info[0][1])["journal"] == "wal", info


def test_unpacker_prometheus_is_strict_too(unpacker_factory):
    u = unpacker_factory()
    r = run_cli(u.bin, "status", "--prometheus", conf=u.status_conf_path,
                timeout=T(10))
    assert r.returncode == 0, r.stderr
    prom, types = parse_exposition(r.stdout)
    info = [dict(k[1]) for k in prom if k[0] == "pushrelay_info"]
    assert info and info[0]["role"] == "unpack", info
    assert prom[("pushrelay_link_connected",
                 frozenset({("link", "central")}))] == 1.0
    assert types["pushrelay_frames_received_total"] == "counter"
    assert ("pushrelay_records_stored_total", frozenset()) in prom
