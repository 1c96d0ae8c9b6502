# SPDX-License-Identifier: ISC
"""luci-app-pushrelay: the package's files, and its status view rendered in
headless Chromium against recorded and live `pushrelay status --json`.

The view (openwrt/luci/luci-app-pushrelay/htdocs/.../view/pushrelay/status.js)
runs unchanged on our minimal LuCI stand-in (tests/luci/standin/), whose
fs.exec goes through the package's real rpcd ACL (tests/lib/lucipage.py).
Each check reads a cell by its row label and column head, as a person
reads the page. Chromium comes from tests/setup-deps.sh (Debian's
`chromium`); without it the rendering tests skip, saying so.
"""

import json
import re
import subprocess

import pytest

import lucipage as lp
from harness import T, Publisher, run_cli

needs_chromium = pytest.mark.skipif(
    lp.chromium() is None,
    reason="chromium is not installed (tests/setup-deps.sh installs "
    "Debian's chromium package): the LuCI view is not rendered")


def fixture(name):
    return json.loads((lp.FIXTURES / name).read_text())


@pytest.fixture
def page():
    made = []

    def make(responder, acl=None):
        p = lp.Page(responder, acl)
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()


def render(p, polls=0):
    dom = lp.parse_dom(p.render(polls=polls))
    body = dom.find_all("body")[0]
    state = body.attrs.get("data-standin")
    log = dom.by_id("standin-log")
    assert state == "done", "the stand-in did not finish (%r): %s" % (
        state, log.text() if log else "")
    assert p.denied == [], "the ACL refused %r" % (p.denied,)
    assert p.calls, "the view ran no command"
    for command, params in p.calls:
        assert [command] + params == ["/usr/bin/pushrelay", "status", "--json"]
    return dom


def tables(dom):
    out = {}
    for sec in dom.find_all("div"):
        ident = sec.attrs.get("id", "")
        if ident.startswith("pushrelay-") and sec.find_all("table"):
            out[ident[len("pushrelay-"):]] = lp.table(sec)
    return out


def check_links(t, s):
    links = t["links"]
    for name, head in (("local", "Local broker"), ("central", "Central broker")):
        l = s[name]
        assert links["State"][head] == ("Connected" if l["connected"]
                                        else "Disconnected"), links["State"]
        assert links["Reconnects"][head] == str(l["reconnects"])
        assert links["In flight"][head] == str(l["inflight"])
        assert links["Sent (MQTT bytes)"][head] == lp.fmt_bytes(l["tx_bytes"])
        assert links["Received (MQTT bytes)"][head] == lp.fmt_bytes(l["rx_bytes"])
        assert links["Packets in"][head] == str(l["packets_in"])
        assert links["Packets refused"][head] == str(l["refused"])


def check_queue(t, s):
    q = t["queue"]
    for d, head in (("uplink", "Uplink"), ("downlink", "Downlink")):
        assert q["Queued messages"][head] == str(s["queue"][d]["messages"])
        assert q["Queued bytes"][head] == lp.fmt_bytes(s["queue"][d]["bytes"])
        assert q["In flight"][head] == str(s["queue"][d]["inflight"])
        assert q["Received"][head] == str(s["received"][d])
        assert q["Forwarded"][head] == str(s["forwarded"][d])


def check_drops_and_durability(t, s):
    names = {"full": "Store full", "expired": "Expired (ttl)",
             "rejected": "Refused by the broker", "noroute": "No route",
             "too_large": "Too large"}
    for k, v in s["dropped"].items():
        assert t["drops"][names[k]]["Messages"] == str(v), t["drops"]
    d = t["durability"]
    assert d["Store writable"]["Value"] == ("yes" if s["store"]["writable"] else "no")
    assert d["Store errors"]["Value"] == str(s["store"]["errors"])
    assert d["Commits"]["Value"] == str(s["durability"]["commits"])
    assert d["Failed commits"]["Value"] == str(s["durability"]["commits_failed"])
    assert d["Crash-loss window, max"]["Value"] == "%.2f ms" % (
        s["durability"]["window_us_max"] / 1000.0)


def test_package_files_and_acl_grant_exactly_status_json():
    acl = json.loads(lp.ACL_FILE.read_text())
    assert list(acl) == ["luci-app-pushrelay"]
    assert set(acl["luci-app-pushrelay"]) == {"description", "read"}, \
        "read-only: no write grants"
    assert lp.acl_allows(acl, "/usr/bin/pushrelay", ["status", "--json"])
    for params in ([], ["status"], ["run"], ["status", "--json", "-c", "/tmp/x"],
                   ["check"], ["status", "--prometheus"]):
        assert not lp.acl_allows(acl, "/usr/bin/pushrelay", params), params
    assert not lp.acl_allows(acl, "/bin/sh", ["-c", "/usr/bin/pushrelay status --json"])

    menu = json.loads(lp.MENU_FILE.read_text())
    entry = menu["admin/status/pushrelay"]
    assert entry["action"] == {"type": "view", "path": "pushrelay/status"}
    assert entry["depends"]["acl"] == ["luci-app-pushrelay"]
    view = lp.HTDOCS / "luci-static" / "resources" / "view" / (
        entry["action"]["path"] + ".js")
    assert view == lp.VIEW_FILE and view.is_file()
    src = view.read_text()
    assert src.startswith("// SPDX-License-Identifier: ISC\n")
    for req in ("view", "fs", "poll"):
        assert re.search(r"^'require %s';$" % req, src, re.M), req

    mk = (lp.APP / "Makefile").read_text()
    assert mk.startswith("# SPDX-License-Identifier: ISC\n")
    assert re.search(r"^PKG_LICENSE:=ISC$", mk, re.M)
    assert re.search(r"^LUCI_DEPENDS:=.*\+pushrelay\b", mk, re.M)
    assert re.search(r"^include \$\(TOPDIR\)/feeds/luci/luci\.mk$", mk, re.M)
    # OpenWrt's scan (include/scan.mk) finds package Makefiles by this.
    assert re.search(r"call BuildPackage", mk)


def test_package_makefile_evaluates_with_luci_mk_stub(tmp_path):
    """GNU make reads the Makefile through the path the SDK uses for an
    external feed's LuCI app (TOPDIR/feeds/luci/luci.mk), with stubs of
    rules.mk and luci.mk that print what the package declares."""
    (tmp_path / "rules.mk").write_text("")
    luci = tmp_path / "feeds" / "luci"
    luci.mkdir(parents=True)
    (luci / "luci.mk").write_text(
        "info:\n\t@echo '$(PKG_NAME)|$(PKG_VERSION)|$(PKG_LICENSE)|"
        "$(LUCI_DEPENDS)|$(LUCI_PKGARCH)'\n")
    r = subprocess.run(["make", "-s", "--no-print-directory", "-C",
                        str(lp.APP), "TOPDIR=%s" % tmp_path, "info"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    name, version, lic, deps, arch = r.stdout.strip().split("|")
    assert name == "luci-app-pushrelay" == lp.APP.name
    assert lic == "ISC" and arch == "all"
    assert deps.split() == ["+luci-base", "+pushrelay"]
    top = (lp.ROOT / "Makefile").read_text()
    assert re.search(r"^VERSION\s*:=\s*%s$" % re.escape(version), top, re.M), \
        "PKG_VERSION %s is not the tree's VERSION" % version


@needs_chromium
def test_view_shows_recorded_figures_and_rates(page):
    a, b = fixture("status-up-1.json"), fixture("status-up-2.json")
    p = page(lp.replay("status-up-1.json", "status-up-2.json"))
    dom = render(p, polls=1)
    assert len(p.calls) == 2
    t = tables(dom)
    check_links(t, b)
    check_queue(t, b)
    check_drops_and_durability(t, b)
    assert "gw-test" in dom.by_id("pushrelay-summary").text()
    assert dom.by_id("pushrelay-error") is None

    # The stand-in's clock moves by the poll interval, 5 s.
    r = t["rates"]
    up = (b["received"]["uplink"] - a["received"]["uplink"]) / 5.0
    fw = (b["forwarded"]["uplink"] - a["forwarded"]["uplink"]) / 5.0
    assert up > 0
    assert r["Received"]["Uplink"] == "%.1f msg/s" % up
    assert r["Forwarded"]["Uplink"] == "%.1f msg/s" % fw
    assert r["Forwarded"]["Downlink"] == "0.0 msg/s"
    assert r["WAN sent / received"]["Uplink"] == "%.1f B/s" % (
        (b["wan"]["tx_bytes"] - a["wan"]["tx_bytes"]) / 5.0)
    assert r["Dropped (all reasons)"]["Uplink"] == "0.0 msg/s"
    # Sections the page has no own table for are shown too.
    assert t["batches"]["frames"]["Value"] == str(b["batches"]["frames"])


@needs_chromium
def test_view_first_render_has_no_rates_yet(page):
    p = page(lp.replay("status-up-1.json"))
    dom = render(p, polls=0)
    t = tables(dom)
    check_links(t, fixture("status-up-1.json"))
    assert t["rates"]["Received"]["Uplink"] == "-"
    assert "Rates appear with the next poll" in dom.by_id("pushrelay-rates").text()


@needs_chromium
def test_view_shows_a_disconnected_link_and_drops(page):
    s = fixture("status-central-down.json")
    assert not s["central"]["connected"] and s["dropped"]["full"] > 0
    p = page(lp.replay("status-central-down.json"))
    dom = render(p)
    t = tables(dom)
    assert t["links"]["State"] == {"Local broker": "Connected",
                                   "Central broker": "Disconnected"}
    check_links(t, s)
    check_queue(t, s)
    check_drops_and_durability(t, s)
    assert int(t["queue"]["Queued messages"]["Uplink"]) > 0
    # A non-zero drop count stands out.
    drops = dom.by_id("pushrelay-drops")
    strong = [n.text() for n in drops.find_all("strong")]
    assert strong == [str(s["dropped"]["full"])]


@needs_chromium
def test_view_reports_a_failed_status_and_keeps_the_last_figures(page):
    stderr = "pushrelay: status: /var/run/pushrelay.sock: connect: " \
             "No such file or directory\n"
    p = page(lp.replay("status-up-1.json",
                       {"code": 1, "stdout": "", "stderr": stderr}))
    dom = render(p, polls=1)
    err = dom.by_id("pushrelay-error").text()
    assert "exit code 1" in err and "No such file or directory" in err
    assert "last reply" in dom.by_id("pushrelay-warning").text()
    check_links(tables(dom), fixture("status-up-1.json"))


@needs_chromium
def test_view_reports_exit_3_with_the_figures(page):
    s = fixture("status-central-down.json")
    p = page(lp.replay({"code": 3, "stderr": "",
                        "stdout": (lp.FIXTURES / "status-central-down.json").read_text()}))
    dom = render(p)
    assert "unhealthy_after" in dom.by_id("pushrelay-warning").text()
    assert dom.by_id("pushrelay-error") is None
    check_links(tables(dom), s)


@needs_chromium
def test_view_refused_by_the_acl_says_so(page):
    p = page(lp.replay("status-up-1.json"), acl={"other": {"read": {}}})
    html = p.render()
    dom = lp.parse_dom(html)
    assert p.denied, "the stand-in's rpcd refused nothing"
    err = dom.by_id("pushrelay-error").text()
    assert "Cannot run /usr/bin/pushrelay status --json" in err
    assert "Permission" in err
    assert dom.by_id("pushrelay-links") is None


@needs_chromium
def test_view_against_a_live_relay(page, relay, local_broker, central_broker,
                                   pushrelay_bin):
    n = 40
    pub = Publisher(local_broker.port).start()
    try:
        for i in range(n):
            pub.publish("sensors/luci/%d" % i, b"%d" % i)
        pub.wait_acked()
    finally:
        pub.close()
    relay.wait_status(lambda s: s["forwarded"]["uplink"] >= n,
                      what="%d forwarded" % n)

    seen = []

    def live(command, params):
        # rpcd would run /usr/bin/pushrelay; here it is the binary under
        # test, with the test's config.
        r = run_cli(pushrelay_bin, *params, conf=relay.status_conf_path,
                    timeout=T(10))
        seen.append(r.stdout)
        return {"code": r.returncode, "stdout": r.stdout, "stderr": r.stderr}

    p = page(live)
    dom = render(p, polls=1)
    t = tables(dom)
    s = json.loads(seen[-1])
    check_links(t, s)
    check_queue(t, s)
    assert t["links"]["State"] == {"Local broker": "Connected",
                                   "Central broker": "Connected"}
    assert t["queue"]["Forwarded"]["Uplink"] == str(n)
    # Nothing moved between the two polls.
    assert t["rates"]["Forwarded"]["Uplink"] == "0.0 msg/s"

    central_broker.stop()
    relay.wait_status(lambda s: not s["central"]["connected"],
                      what="the central link down")
    seen.clear()
    p = page(live)
    t = tables(render(p))
    assert t["links"]["State"]["Central broker"] == "Disconnected"
    assert t["links"]["State"]["Local broker"] == "Connected"
    check_links(t, json.loads(seen[-1]))


@needs_chromium
def test_view_against_a_live_unpacker(page, unpacker_factory, pushrelay_bin):
    # The unpacker's status has one link and its own sections; the page
    # shows what is there and leaves out what is not.
    u = unpacker_factory()
    seen = []

    def live(command, params):
        r = run_cli(pushrelay_bin, *params, conf=u.status_conf_path,
                    timeout=T(10))
        seen.append(r.stdout)
        return {"code": r.returncode, "stdout": r.stdout, "stderr": r.stderr}

    t = tables(render(page(live)))
    s = json.loads(seen[-1])
    assert s["role"] == "unpack"
    assert t["links"]["State"] == {"Central broker": "Connected"}
    assert t["links"]["Reconnects"]["Central broker"] == str(
        s["central"]["reconnects"])
    assert t["queue"]["Queued messages"]["Records"] == str(
        s["queue"]["records"]["messages"])
    assert t["frames"]["received"]["Value"] == str(s["frames"]["received"])
    assert t["records"]["stored"]["Value"] == str(s["records"]["stored"])
    assert "wan" not in t
