# SPDX-License-Identifier: ISC
"""Renders luci-app-pushrelay's status view in headless Chromium.

A small HTTP server on loopback serves our LuCI stand-in
(tests/luci/standin/), the package's real htdocs/ and an /exec endpoint
that plays rpcd's file.exec: it checks the command line against the
package's real ACL file (acl_allows(), rpcd's rules) and then asks the
test's responder for the reply. Chromium loads the page with --dump-dom;
parse_dom() turns the result into a small tree, and tables() reads each
table of the view as rows of cell texts.
"""

import fnmatch
import json
import shutil
import subprocess
import tempfile
import threading
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "openwrt" / "luci" / "luci-app-pushrelay"
HTDOCS = APP / "htdocs"
ACL_FILE = APP / "root" / "usr" / "share" / "rpcd" / "acl.d" / "luci-app-pushrelay.json"
MENU_FILE = APP / "root" / "usr" / "share" / "luci" / "menu.d" / "luci-app-pushrelay.json"
VIEW_FILE = HTDOCS / "luci-static" / "resources" / "view" / "pushrelay" / "status.js"
STANDIN = ROOT / "tests" / "luci" / "standin"
FIXTURES = ROOT / "tests" / "luci"


def chromium():
    """The Chromium binary, or None."""
    for name in ("chromium", "chromium-browser"):
        p = shutil.which(name)
        if p:
            return p
    return None


def acl_allows(acl, command, params, scopes=("read", "write")):
    """Whether an rpcd ACL document lets a session run command+params.

    As rpcd's file.exec decides: the session needs ubus "file" "exec", and
    then either the executable itself has "exec" under "file", or the whole
    command line (executable and arguments joined by spaces) matches a
    "file" pattern with "exec" (fnmatch patterns, as rpcd uses).
    """
    cmdline = " ".join([command] + list(params))
    ubus_ok = path_ok = False
    for group in acl.values():
        for scope in scopes:
            sec = group.get(scope) or {}
            if "exec" in (sec.get("ubus") or {}).get("file", []):
                ubus_ok = True
            for pattern, perms in (sec.get("file") or {}).items():
                if "exec" not in perms:
                    continue
                if fnmatch.fnmatchcase(command, pattern) or \
                        fnmatch.fnmatchcase(cmdline, pattern):
                    path_ok = True
    return ubus_ok and path_ok


class _Handler(BaseHTTPRequestHandler):
    server_version = "lucistandin/1"

    def log_message(self, fmt, *args):
        pass

    def _send(self, code, body, ctype):
        data = body if isinstance(body, bytes) else body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/":
            f = STANDIN / "index.html"
        elif path == "/standin.js":
            f = STANDIN / "standin.js"
        elif path.startswith("/luci-static/"):
            f = (HTDOCS / path.lstrip("/")).resolve()
            if HTDOCS.resolve() not in f.parents:
                return self._send(404, "no", "text/plain")
        else:
            return self._send(404, "no", "text/plain")
        if not f.is_file():
            return self._send(404, "no such file", "text/plain")
        ctype = "text/html" if f.suffix == ".html" else "application/javascript"
        self._send(200, f.read_bytes(), ctype)

    def do_POST(self):
        if self.path != "/exec":
            return self._send(404, "no", "text/plain")
        n = int(self.headers.get("Content-Length", "0"))
        req = json.loads(self.rfile.read(n) or b"{}")
        srv = self.server
        command, params = req.get("command", ""), req.get("params", [])
        srv.calls.append((command, list(params)))
        if not acl_allows(srv.acl, command, params):
            srv.denied.append((command, list(params)))
            return self._send(403, json.dumps({"error": "Access denied"}),
                              "application/json")
        reply = srv.responder(command, params)
        self._send(200, json.dumps(reply), "application/json")


class Page:
    """The stand-in's server; render() runs Chromium against it.

    responder(command, params) -> {"code", "stdout", "stderr"} answers each
    allowed fs.exec call. calls and denied list what the page asked for.
    """

    def __init__(self, responder, acl=None):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.acl = acl if acl is not None else json.loads(ACL_FILE.read_text())
        self.httpd.responder = responder
        self.httpd.calls = []
        self.httpd.denied = []
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       daemon=True)
        self.thread.start()

    @property
    def calls(self):
        return self.httpd.calls

    @property
    def denied(self):
        return self.httpd.denied

    @property
    def url(self):
        return "http://127.0.0.1:%d/" % self.httpd.server_address[1]

    def render(self, polls=0, timeout=90, screenshot=None):
        """Chromium's DOM of the page after the view and `polls` polls ran."""
        profile = tempfile.mkdtemp(prefix="luci-chromium-")
        args = [chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-quic", "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage",
                "--user-data-dir=%s" % profile,
                # Virtual time runs the page's timers at once but waits
                # for its fetches, so the dump comes after the last poll.
                "--virtual-time-budget=60000"]
        if screenshot:
            args += ["--screenshot=%s" % screenshot, "--window-size=1000,1600"]
        else:
            args += ["--dump-dom"]
        try:
            r = subprocess.run(args + ["%s?polls=%d" % (self.url, polls)],
                               capture_output=True, text=True,
                               timeout=timeout)
        finally:
            shutil.rmtree(profile, ignore_errors=True)
        if r.returncode != 0:
            raise AssertionError("chromium exited %d:\n%s" % (r.returncode,
                                                             r.stderr[-3000:]))
        return r.stdout

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def replay(*replies):
    """A responder that answers the i-th call with replies[i] (the last one
    repeats); a reply is a fixture file name or a dict."""
    seq = list(replies)
    state = {"i": 0}

    def respond(command, params):
        r = seq[min(state["i"], len(seq) - 1)]
        state["i"] += 1
        if isinstance(r, dict):
            return r
        return {"code": 0, "stdout": (FIXTURES / r).read_text(), "stderr": ""}

    return respond


# --- a small DOM ----------------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link",
        "meta", "source", "track", "wbr"}


class Node:
    def __init__(self, tag, attrs, parent=None):
        self.tag = tag
        self.attrs = dict(attrs)
        self.parent = parent
        self.children = []

    def text(self):
        return "".join(c if isinstance(c, str) else c.text()
                       for c in self.children)

    def iter(self):
        yield self
        for c in self.children:
            if isinstance(c, Node):
                yield from c.iter()

    def find_all(self, tag=None, **attrs):
        return [n for n in self.iter()
                if (tag is None or n.tag == tag) and
                all(n.attrs.get(k) == v for k, v in attrs.items())]

    def by_id(self, ident):
        found = self.find_all(id=ident)
        return found[0] if found else None


class _Parser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.cur = self.root

    def handle_starttag(self, tag, attrs):
        n = Node(tag, attrs, self.cur)
        self.cur.children.append(n)
        if tag not in VOID:
            self.cur = n

    def handle_startendtag(self, tag, attrs):
        self.cur.children.append(Node(tag, attrs, self.cur))

    def handle_endtag(self, tag):
        n = self.cur
        while n is not None and n.tag != tag:
            n = n.parent
        if n is not None and n.parent is not None:
            self.cur = n.parent

    def handle_data(self, data):
        self.cur.children.append(data)


def parse_dom(html):
    p = _Parser()
    p.feed(html)
    p.close()
    return p.root


def table(section):
    """A view table as {row label: {column head: cell text}}."""
    rows = section.find_all("tr")
    heads = [c.text().strip() for c in rows[0].children if isinstance(c, Node)]
    out = {}
    for tr in rows[1:]:
        cells = [c.text().strip() for c in tr.children if isinstance(c, Node)]
        out[cells[0]] = dict(zip(heads[1:], cells[1:]))
    return out


def fmt_bytes(v):
    """The view's fmtBytes(), to predict a cell."""
    if v < 1024:
        return "%d B" % v
    units = ["KiB", "MiB", "GiB", "TiB"]
    i = -1
    while v >= 1024 and i < len(units) - 1:
        v /= 1024.0
        i += 1
    return "%.2f %s" % (v, units[i])
