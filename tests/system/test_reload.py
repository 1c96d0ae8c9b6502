# SPDX-License-Identifier: ISC
"""SIGHUP re-reads the configuration without losing a queued message; a bad
new file is rejected (logged as FILE:LINE) and the old configuration kept."""

import re
import time

from harness import T, analyse, line_of

UP = "gw/gw-test/"


def _probe_until(relay, pub, topic_fmt, done, timeout):
    """Publish probe messages every 100 ms until done() holds.

    A route added by a reload only exists once the relay has subscribed;
    probes published before that reach no subscriber. Returns the count.
    """
    deadline = time.monotonic() + timeout
    k = 0
    while not done():
        assert relay.alive(), relay.log_tail()
        assert time.monotonic() < deadline, \
            "reload not applied within %ss\n%s" % (timeout, relay.log_tail())
        pub.publish(topic_fmt % k, b"probe")
        pub.wait_acked()
        k += 1
        time.sleep(0.1)  # pacing the probes
    return k


def test_hup_with_a_queue_adds_a_route_and_keeps_the_queue(relay, local_broker,
                                                           central_broker,
                                                           clients, telemetry):
    n, m = 300, 100
    queued = telemetry(n)
    alerts = telemetry(m, prefix="alerts/")
    col = clients.collector(central_broker, UP + "#", protocol=311)
    pub = clients.publisher(local_broker)

    central_broker.stop()
    relay.wait_status(lambda s: not s["central"]["connected"],
                      what="central.connected false")
    pub.publish_many(queued)
    relay.wait_status(lambda s: s["queue"]["uplink"]["messages"] == n,
                      what="%d queued" % n)
    pid = relay.pid

    relay.config.relay["log_level"] = "info"
    relay.config.uplinks.append({"topic": "alerts/#", "remote_prefix": "gw/%i/",
                                 "qos": "1", "mode": "raw"})
    relay.write_config()
    relay.hup()

    def route_live():
        s = relay.status()
        return s is not None and s["queue"]["uplink"]["messages"] > n

    _probe_until(relay, pub, "alerts/probe/%d", route_live, T(20))
    assert relay.alive() and relay.pid == pid, "reloaded in place"
    s = relay.status()
    assert s["queue"]["uplink"]["messages"] >= n, "the queue survived the HUP"
    assert not s["central"]["connected"]

    pub.publish_many(alerts)
    relay.wait_status(lambda s: s["queue"]["uplink"]["messages"] >= n + m,
                      what="alerts queued")

    central_broker.start()
    col.wait_for(lambda c: {(UP + t, p) for t, p in queued + alerts} <= c.unique,
                 timeout=T(60), what="all queued and new-route messages")
    a = analyse(queued + alerts, [x for x in col.pairs(strip_prefix=UP)
                                  if not x[0].startswith("alerts/probe/")])
    assert not a["lost"]
    assert a["topic_order"], a["first_disorder"]
    relay.wait_status(lambda s: s["queue"]["uplink"]["messages"] == 0,
                      what="queue drained")


def test_hup_with_a_bad_file_keeps_the_old_config(relay, local_broker,
                                                  central_broker, clients):
    col = clients.collector(central_broker, [UP + "#", "other/#"], protocol=311)
    pub = clients.publisher(local_broker)
    pid = relay.pid

    bad = relay.config.copy()
    bad.uplinks[0]["remote_prefix"] = "other/%i/"
    bad.uplinks[0]["qos"] = "7"
    text = bad.render()
    bad_line = line_of(text, "option qos '7'")
    relay.write_config(text, valid=False)   # status keeps using status.conf
    mark = relay.log_size()
    relay.hup()
    relay.wait_log(r"%s:%d: option '?qos'?:" % (re.escape(str(relay.conf_path)),
                                                  bad_line), after=mark)

    assert relay.alive() and relay.pid == pid
    s = relay.wait_status(lambda s: s["local"]["connected"] and
                          s["central"]["connected"], what="still connected")
    pub.publish("sensors/after-bad-reload", b"old routes still work")
    pub.wait_acked()
    got = col.wait_message(UP + "sensors/after-bad-reload")
    assert got.payload == b"old routes still work"
    assert not any(x.topic.startswith("other/") for x in col.snapshot())

    # A good file now is applied: the changed prefix takes effect.
    good = relay.config.copy()
    good.uplinks[0]["remote_prefix"] = "other/%i/"
    relay.config = good
    relay.write_config()
    relay.hup()
    _probe_until(relay, pub, "sensors/probe/%d",
                 lambda: any(x.topic.startswith("other/gw-test/sensors/probe/")
                             for x in col.snapshot()), T(20))
    assert relay.pid == pid
    assert s["id"] == "gw-test"
