# SPDX-License-Identifier: ISC
"""The emulated WAN for the weak-network tests and `make bench-wan`.

Wan() makes two fresh network namespaces, the gateway's and the central
side's, and joins them with build/wanem (tests/wan/wanem.c): a TUN device
"wan0" in each, GW_ADDR in the gateway namespace, CENTRAL_ADDR in the
central one, and every packet between them shaped in userspace by the
current profile (docs/wan.md says why userspace and how it compares with
netem). Nothing is changed outside the two namespaces.

Processes and sockets join a namespace through the `inside(ns)` context:
the calling thread enters the namespace (setns(2) on a network namespace
is per thread), and whatever it creates meanwhile stays there: a process
it forks (subprocess.Popen) and a socket it opens, and a thread it starts
(paho's network thread, so a Collector made inside keeps living there).
So the harness classes run unchanged:

    with wan.gateway():      # local broker, relay, publisher
        ...
    with wan.central():      # central broker, unpacker, collectors
        ...

Profiles (one way delay = RTT / 2; see tests/wan/wanem.c): lte, 3g, 2g,
off. cut("reset") / cut("silent") / restore() switch the link at once.
close() ends wanem and deletes both namespaces; Wan is a context manager
too. Needs root (skip_reason() says why not).
"""

import contextlib
import ctypes
import itertools
import json
import os
import subprocess
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GW_ADDR = "10.211.0.1"
CENTRAL_ADDR = "10.211.0.2"
CLONE_NEWNET = 0x40000000

# The link's rate (bit/s) and round trip (s) per profile, as wanem has them.
PROFILES = {
    "lte": {"rate": 20e6, "rtt": 0.040, "loss": 0.001},
    "3g": {"rate": 1e6, "rtt": 0.150, "loss": 0.01},
    "2g": {"rate": 64e3, "rtt": 0.600, "loss": 0.03},
}

_libc = ctypes.CDLL(None, use_errno=True)
_counter = itertools.count()


def wanem_bin():
    env = os.environ.get("PUSHRELAY_WANEM")
    if env:
        return Path(env)
    b = os.environ.get("PUSHRELAY_BIN")
    if b:
        cand = Path(b).parent / "wanem"
        if cand.exists():
            return cand
    return REPO / "build" / "wanem"


def skip_reason():
    """Why the emulator cannot run here, or None."""
    if os.geteuid() != 0:
        return "the WAN emulator needs root (network namespaces, TUN)"
    if not os.path.exists("/dev/net/tun"):
        return "no /dev/net/tun"
    if not wanem_bin().exists():
        return "%s is not built (make)" % wanem_bin()
    try:
        subprocess.run(["ip", "-V"], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        return "the ip command (iproute2) is missing"
    return None


def _setns(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            e = ctypes.get_errno()
            raise OSError(e, "setns %s: %s" % (path, os.strerror(e)))
    finally:
        os.close(fd)


@contextlib.contextmanager
def inside(ns):
    """Run the block with this thread in network namespace ns."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        _setns("/run/netns/%s" % ns)
        try:
            yield
        finally:
            if _libc.setns(home, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns back home")
    finally:
        os.close(home)


def _ip(*args, check=True):
    return subprocess.run(["ip"] + list(args), check=check,
                          capture_output=True, text=True, timeout=30)


class WanError(AssertionError):
    pass


def remove_stale():
    """Delete the namespaces of test processes that died without their
    cleanup (kill -9 of pytest): prwPID-* whose PID is gone."""
    try:
        names = os.listdir("/run/netns")
    except OSError:
        return
    for name in names:
        if not name.startswith("prw") or "-" not in name:
            continue
        pid = name[3:].split("-", 1)[0]
        if pid.isdigit() and not os.path.exists("/proc/%s" % pid):
            _ip("netns", "del", name, check=False)


class Wan:
    def __init__(self, profile="off", seed=1, log_dir=None):
        remove_stale()
        tag = "prw%d-%d" % (os.getpid(), next(_counter))
        self.gw_ns = tag + "-gw"
        self.central_ns = tag + "-c"
        self.gw_addr = GW_ADDR
        self.central_addr = CENTRAL_ADDR
        self.profile = profile
        self.proc = None
        self.lock = threading.Lock()
        self.made = []
        try:
            for ns in (self.gw_ns, self.central_ns):
                _ip("netns", "add", ns)
                self.made.append(ns)
                _ip("-n", ns, "link", "set", "lo", "up")
            err = open(Path(log_dir) / "wanem.log", "ab") if log_dir \
                else subprocess.DEVNULL
            self.proc = subprocess.Popen(
                [str(wanem_bin()), self.gw_ns, self.central_ns, GW_ADDR,
                 CENTRAL_ADDR, profile, str(seed)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                text=True, bufsize=1)
            if log_dir:
                err.close()
            line = self.proc.stdout.readline()
            if line.strip() != "ready":
                raise WanError("wanem did not start (exit %s): %r"
                               % (self.proc.wait(5), line))
        except BaseException:
            self.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def gateway(self):
        return inside(self.gw_ns)

    def central(self):
        return inside(self.central_ns)

    def command(self, line):
        with self.lock:
            if self.proc is None or self.proc.poll() is not None:
                raise WanError("wanem is not running")
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
            answer = self.proc.stdout.readline().strip()
        if answer.startswith("err") or not answer:
            raise WanError("wanem %r: %r" % (line, answer))
        return answer

    def set_profile(self, name):
        self.command("profile %s" % name)
        self.profile = name

    def set(self, **kw):
        self.command("set " + " ".join("%s=%s" % kv for kv in kw.items()))

    def cut(self, kind="reset"):
        self.command("cut %s" % kind)

    def restore(self):
        self.command("restore")

    def stats(self):
        return json.loads(self.command("stats"))

    def link_bytes(self):
        """IP bytes that crossed the link, both directions."""
        s = self.stats()
        return s["up"]["out_bytes"] + s["down"]["out_bytes"]

    def close(self):
        if self.proc is not None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc.stdout.close()
            self.proc = None
        for ns in reversed(self.made):
            _ip("netns", "del", ns, check=False)
        self.made = []


def flap_schedule(duration, rnd, min_silent=10):
    """The `flap` profile's cuts over `duration` seconds of 3g: a cut of
    5-60 s every 1-3 minutes (gap from the end of the last one), at random
    from rnd (a random.Random); one of them, picked at random, silent and
    at least min_silent s long (so that keepalive must notice it), the
    others reset. A list of (start s, kind, length s)."""
    cuts, t = [], 0.0
    while True:
        t += rnd.uniform(60, 180)
        length = rnd.uniform(5, 60)
        if t + length > duration:
            break
        cuts.append([t, "reset", length])
        t += length
    if cuts:
        c = rnd.choice(cuts)
        c[1] = "silent"
        c[2] = max(c[2], min_silent)
    return [tuple(c) for c in cuts]


def wait_for(pred, timeout, what, interval=0.02):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise WanError("timed out after %.1fs waiting for %s"
                           % (timeout, what))
        time.sleep(interval)


class WanRig:
    """The whole pipeline across the emulated WAN, for tests and bench-wan:

        gateway ns:  local broker <- relay            (publisher here)
                                       | wan0, shaped by wanem
        central ns:  central broker <- unpacker       (collectors here)

    add: a callable that takes each started object for cleanup and returns
    it (the tests' registry.add); the Wan itself is added first, so it is
    closed last. relay_central: options merged over the relay's central
    section (keepalive, reconnect_*). mode: the uplink route's mode
    ("batch" starts an unpacker). tls: the relay reaches the central
    broker over TLS (a CA and a server certificate for CENTRAL_ADDR are
    made in workdir).
    """

    def __init__(self, workdir, add, binary, profile="3g", seed=1,
                 mode="batch", tls=False, relay_central=None,
                 relay_opts=None, uplinks=None, relay=True, batch=None):
        import harness
        self.h = harness
        self.workdir = Path(workdir)
        self.add = add
        self.binary = binary
        self.wan = add(Wan(profile, seed, log_dir=self.workdir))
        self.mode = mode
        self.tls = tls
        self.unpacker = None
        wan_port = harness.free_port()
        extra = ["listener %d %s" % (wan_port, CENTRAL_ADDR)]
        if tls:
            d = self.workdir / "pki"
            d.mkdir(exist_ok=True)
            harness.make_ca(d, "ca")
            harness.make_cert(d, "server", "ca", CENTRAL_ADDR,
                              "IP:%s" % CENTRAL_ADDR)
            os.chmod(d, 0o755)
            self.ca = str(d / "ca.pem")
            extra += ["cafile %s" % self.ca,
                      "certfile %s" % (d / "server.pem"),
                      "keyfile %s" % (d / "server.key")]
        with self.wan.central():
            self.central = add(harness.Broker(self.workdir, "central",
                                              extra_conf=extra)).start()
            if mode == "batch" and relay:
                self.unpacker = self._unpacker()
        with self.wan.gateway():
            self.local = add(harness.Broker(self.workdir, "local")).start()
        central = {"address": ["%s:%d" % (CENTRAL_ADDR, wan_port)],
                   "reconnect_min": "1", "reconnect_max": None}
        if tls:
            central.update({"tls": "1", "ca_file": self.ca})
        central.update(relay_central or {})
        self.wan_port = wan_port
        self.batch = batch
        self.relay = None
        if relay:
            self.relay = self._relay(central, relay_opts or {}, uplinks)

    def _unpacker(self):
        h = self.h
        workdir = self.workdir / "unpack"
        workdir.mkdir(exist_ok=True)
        sockdir = h.short_dir()
        config = h.unpack_config(workdir, sockdir / "ctl.sock",
                                 self.central.port, log_level="info")
        u = self.add(h.Unpacker(self.binary, workdir, config,
                                sockdir=sockdir))
        u.start()
        u.wait_connected()
        return u

    def _relay(self, central, relay_opts, uplinks):
        h = self.h
        workdir = self.workdir / "relay"
        workdir.mkdir(exist_ok=True)
        sockdir = h.short_dir()
        config = h.default_config(workdir, sockdir / "ctl.sock",
                                  self.local.port, 0)
        config.relay["log_level"] = "info"
        config.relay.update(relay_opts)
        config.central.update(central)
        if uplinks is not None:
            config.uplinks = [dict(u) for u in uplinks]
        else:
            config.uplinks[0]["mode"] = self.mode
        r = self.add(h.Relay(self.binary, workdir, config, sockdir=sockdir))
        if self.batch:
            r.write_config(config.render() + "\nconfig batch\n" + "".join(
                "\toption %s '%s'\n" % kv for kv in self.batch.items()))
        with self.wan.gateway():
            r.start()
        r.wait_connected(timeout=h.T(60))
        return r

    def collector(self, topics, **kw):
        with self.wan.central():
            return self.add(self.h.Collector(self.central.port, topics,
                                             **kw)).start()

    def publisher(self, **kw):
        with self.wan.gateway():
            return self.add(self.h.Publisher(self.local.port, **kw)).start()
