# SPDX-License-Identifier: ISC
"""System-test harness for pushrelay: brokers, the relay, MQTT clients, data.

Used by tests/system/conftest.py (pytest fixtures) and by tests/demo.py.
Runs on Debian's /usr/bin/python3 with python3-paho-mqtt 1.6.1; it needs no
pytest itself, so the demo can import it.

Test messages: every test, the demo and the benchmark draw them from one
helper, telemetry_messages(n, prefix): the corpus cycled to any length, each
(topic, payload) pair unique (see there). The corpus is
../shared/data/telemetry (the directory "shared" next to this checkout, or
next to a git worktree of it) when it is there, else the sample committed
in tests/data (8,016 messages). Only corpus_size() depends on which one was
found; a count a test asks for never does.

Environment:
  PUSHRELAY_NO_SHARED=1   ignore ../shared entirely and use tests/data, as on
                          a fresh clone of the project alone; a corpus
                          directory under ../shared is then refused, however
                          it is named (.ci/run runs the system suite once
                          this way). Unset, "" or "0": ../shared is used.
  PUSHRELAY_TELEMETRY     another corpus directory (the same three .tsv).
  PUSHRELAY_BIN           the binary under test (default build/pushrelay).
  PUSHRELAY_TIMEOUT_SCALE, PUSHRELAY_WRAP: see below.
  PUSHRELAY_CENTRAL_BROKER  mosquitto (default) or aedes: the broker that
                          tests/system/conftest.py's central_broker starts.
  NODE                    the node binary for aedes (default: node on PATH).
  AEDES_TRACE=1           aedes logs every packet in and out of every
                          connection to its log (tests/brokers/aedes-broker.js).

What is here:
  * telemetry: the corpus as (topic, payload bytes) pairs, through
    telemetry_messages().
  * Broker: one Mosquitto on a free loopback port, with persistence, that can
    be stopped, killed, paused and started again on the same port.
    AedesBroker: the same interface on aedes (tests/brokers), a second,
    independent broker for the central side; make_broker(kind, ...) picks
    one by name, central_broker_kind() reads $PUSHRELAY_CENTRAL_BROKER.
  * RelayConfig / Relay: a UCI config rendered from dicts, and the pushrelay
    process ("run -c FILE -v"), its status over "status --json", signals.
  * Collector / Publisher / PacedStream: paho-mqtt clients that record what
    they receive, and that publish and wait for every PUBACK.
  * make_ca / make_cert: test certificates made with the openssl command.

Every wait polls a condition (or waits on a condition variable) under a
deadline; nothing sleeps a fixed time except a publisher's pacing. A wait
for a PacedStream's count fails at once when the count is out of its reach
or its thread failed. A failure message carries a relay's status taken at
that moment, or says how old the last one is (Relay.status_report). Timeouts
are multiplied by $PUSHRELAY_TIMEOUT_SCALE (e.g. 3 for an ASan build).
Every run of the relay binary goes through $PUSHRELAY_WRAP when it is set
(bin_argv; `make cross-test` runs the ARM build under cross/qemu-run).
"""

import collections
import itertools
import json
import os
import pwd
import random
import re
import shlex
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

REPO = Path(__file__).resolve().parents[2]
SAMPLE_DIR = REPO / "tests" / "data"
SHARED = REPO.parent / "shared"
SHARED_DIR = SHARED / "data" / "telemetry"
TELEMETRY_FILES = ("pm10_tasmota.tsv", "wind_senml.tsv", "fitbit_z2m.tsv")
RELAY_ID = "gw-test"
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                     "runtime error:", "ThreadSanitizer")


class HarnessError(AssertionError):
    """A harness wait or process check failed; the text says what and why."""


def timeout_scale():
    try:
        return max(1.0, float(os.environ.get("PUSHRELAY_TIMEOUT_SCALE", "1")))
    except ValueError:
        return 1.0


def T(seconds):
    """A timeout, scaled for slow builds (ASan) by $PUSHRELAY_TIMEOUT_SCALE."""
    return seconds * timeout_scale()


def default_bin():
    env = os.environ.get("PUSHRELAY_BIN")
    return Path(env) if env else REPO / "build" / "pushrelay"


def bin_argv(binary, *args):
    """The argv that runs the relay binary with args.

    $PUSHRELAY_WRAP, split as a shell would, goes first: a command that runs
    the binary, such as `cross/qemu-run armhf` for an ARM build (`make
    cross-test`). It must exec the binary, so that the pid the harness sees
    and signals is the relay's. Unset or empty for a native build.
    """
    wrap = shlex.split(os.environ.get("PUSHRELAY_WRAP", ""))
    return wrap + [str(binary)] + [str(a) for a in args]


def mosquitto_bin():
    env = os.environ.get("MOSQUITTO")
    if env:
        return env
    for cand in ("/usr/sbin/mosquitto", shutil.which("mosquitto")):
        if cand and os.path.exists(cand):
            return cand
    raise HarnessError("mosquitto not found (install mosquitto or set $MOSQUITTO)")


def socket_inodes(pid):
    """The inodes (as /proc/net/tcp prints them) of process pid's sockets."""
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue  # closed meanwhile
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    return inodes


def wait_until(pred, timeout, interval=0.05, what="condition", details=None):
    """Poll pred() until it returns a truthy value, which is returned.

    On timeout raise HarnessError naming `what`, with details() appended.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() >= deadline:
            extra = ""
            if details is not None:
                try:
                    extra = "\n" + str(details())
                except Exception as exc:  # diagnostics must not hide the failure
                    extra = "\n(details failed: %r)" % (exc,)
            raise HarnessError("timed out after %.1fs waiting for %s%s"
                               % (timeout, what, extra))
        time.sleep(interval)


def tail(path, n=60):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        return "(cannot read %s: %s)" % (path, exc)
    lines = data.decode("utf-8", "replace").splitlines()
    return "\n".join(lines[-n:])


# Ports for the tests' listeners come from below the kernel's ephemeral
# range (32768-60999 by default), one slice per pytest-xdist worker: a
# port the kernel hands out for binding to 0 can go to another worker in
# the next moment, or become the local port of some client's connection
# before the broker listens on it (seen with 4 workers: aedes failed with
# EADDRINUSE).
_PORT_BASE = 20000
_PORT_SLICE = 1300
_port_next = None


def _port_slice():
    """This process's slice of ports: (first, count)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if worker.startswith("gw") and worker[2:].isdigit():
        k = int(worker[2:]) % 8
    else:
        k = 8                   # not under xdist: a slice of its own
    return _PORT_BASE + k * _PORT_SLICE, _PORT_SLICE


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now, from this
    worker's slice (see _PORT_BASE), never the same twice in a row of
    _PORT_SLICE: two listeners of one test (a broker's plain and TLS
    ports) must not get the same one."""
    global _port_next
    first, count = _port_slice()
    if _port_next is None:
        _port_next = random.randrange(count)
    for _ in range(count):
        port = first + _port_next
        _port_next = (_port_next + 1) % count
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise HarnessError("no free port in %d-%d" % (first, first + count - 1))


def port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


# --------------------------------------------------------------------------
# Certificates (the openssl command)
# --------------------------------------------------------------------------

def openssl(*args, cwd):
    """Run `openssl ARGS` in cwd; raise CalledProcessError on failure."""
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True,
                   capture_output=True, timeout=60)


def make_ca(d, name="ca", cn=None, days="30"):
    """A self-signed P-256 CA in d: NAME.pem and NAME.key."""
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
            name + ".key", "-out", name + ".pem", "-days", days, "-subj",
            "/CN=" + (cn or "Test " + name), cwd=d)


def make_cert(d, name, ca, cn, san=None, days="30", client=False):
    """A P-256 certificate NAME.pem/NAME.key in d, signed by CA.pem/CA.key.

    san: e.g. "IP:127.0.0.1,DNS:localhost". days may be negative (expired).
    client: extendedKeyUsage clientAuth.
    """
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", name + ".key", "-out", name + ".csr",
            "-subj", "/CN=" + cn, cwd=d)
    ext = Path(d) / (name + ".ext")
    lines = []
    if san:
        lines.append("subjectAltName=" + san)
    if client:
        lines.append("extendedKeyUsage=clientAuth")
    ext.write_text("\n".join(lines) + "\n")
    openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem",
            "-CAkey", ca + ".key", "-CAcreateserial", "-out", name + ".pem",
            "-days", days, "-extfile", str(ext), cwd=d)


# --------------------------------------------------------------------------
# Telemetry corpus
# --------------------------------------------------------------------------

def no_shared():
    """True when $PUSHRELAY_NO_SHARED hides ../shared (set, not "" or "0")."""
    return os.environ.get("PUSHRELAY_NO_SHARED", "") not in ("", "0")


def _under_shared(d):
    d = Path(d).resolve()
    s = SHARED.resolve()
    return d == s or s in d.parents


def telemetry_dir():
    """$PUSHRELAY_TELEMETRY when set; else ../shared/data/telemetry when
    present and not hidden by $PUSHRELAY_NO_SHARED; else the sample."""
    override = os.environ.get("PUSHRELAY_TELEMETRY")
    if override:
        return Path(override)
    if no_shared():
        return SAMPLE_DIR
    if all((SHARED_DIR / f).is_file() for f in TELEMETRY_FILES):
        return SHARED_DIR
    return SAMPLE_DIR


_corpus_cache = {}


def load_telemetry(directory=None):
    """{file name: [(topic, payload bytes), ...]} in file (time) order.

    With $PUSHRELAY_NO_SHARED set, a directory under ../shared is refused,
    however it was named.
    """
    d = Path(directory) if directory else telemetry_dir()
    if no_shared() and _under_shared(d):
        raise HarnessError("corpus %s is under %s, which PUSHRELAY_NO_SHARED=1 "
                           "hides" % (d, SHARED))
    key = str(d)
    if key not in _corpus_cache:
        out = {}
        for name in TELEMETRY_FILES:
            rows = []
            with open(d / name, "rb") as f:
                for lineno, line in enumerate(f, 1):
                    line = line.rstrip(b"\n")
                    if not line:
                        continue
                    topic, sep, payload = line.partition(b"\t")
                    if not sep:
                        raise HarnessError("%s:%d: no TAB" % (d / name, lineno))
                    rows.append((topic.decode("utf-8"), payload))
            out[name] = rows
        _corpus_cache[key] = out
    return _corpus_cache[key]


def _interleaved(directory=None):
    """One pass over the corpus, the three files interleaved round-robin.

    Each file's own (time) order is kept, so per-topic order is the corpus
    order; the mix gives every burst all three payload formats.
    """
    files = list(load_telemetry(directory).values())
    out = []
    for group in itertools.zip_longest(*files):
        out.extend(m for m in group if m is not None)
    return out


def corpus_size(directory=None):
    """How many messages one pass over the corpus holds (no pair repeats
    within a pass): telemetry_messages(corpus_size()) is the corpus once."""
    return len(_interleaved(directory))


def _cycle(base, prefix):
    for rnd in itertools.count():
        p = prefix if rnd == 0 else "%sr%d/" % (prefix, rnd)
        for topic, payload in base:
            yield p + topic, payload


def telemetry_messages(n=None, prefix="sensors/", directory=None):
    """The one source of test messages: the corpus cycled to any length.

    n: a count, for a list of that many (topic, payload) pairs; None for an
    endless iterator (a PacedStream that runs until stopped). The first
    pass over the corpus is prefix + corpus topic; pass k >= 1 uses
    prefix + "r<k>/" + corpus topic, so no pair ever repeats and each
    topic keeps the corpus order, however short the corpus found
    (../shared or the 8,016-message sample in tests/data) and however many
    messages the test needs. Take counts from here, never by slicing a
    corpus file: a slice holds fewer messages than asked for when the
    corpus is the sample. directory: another corpus (default
    telemetry_dir()).
    """
    base = _interleaved(directory)  # read now: errors here, not later
    if not base:
        raise HarnessError("corpus %s holds no messages"
                           % (directory or telemetry_dir()))
    gen = _cycle(base, prefix)
    if n is None:
        return gen
    return list(itertools.islice(gen, n))


# --------------------------------------------------------------------------
# Order / loss analysis
# --------------------------------------------------------------------------

def analyse(sent, received):
    """Compare what was sent with what arrived (both lists of (topic, payload)).

    Returns a dict: lost (list of sent pairs that never arrived), duplicates
    (arrivals beyond the first of a pair), unexpected (arrivals never sent),
    in_order (first arrivals keep the sent order, globally), topic_order
    (first arrivals keep the sent order within each topic), first_disorder
    (a description of the first out-of-order pair, or None).
    """
    index = {}
    for i, m in enumerate(sent):
        index.setdefault(m, i)
    seen = set()
    firsts = []
    duplicates = 0
    unexpected = []
    for m in received:
        if m not in index:
            unexpected.append(m)
            continue
        if m in seen:
            duplicates += 1
            continue
        seen.add(m)
        firsts.append(index[m])
    lost = [m for m in sent if m not in seen]
    in_order = all(a < b for a, b in zip(firsts, firsts[1:]))
    first_disorder = None
    last_by_topic = {}
    topic_order = True
    for i in firsts:
        t = sent[i][0]
        if t in last_by_topic and last_by_topic[t] > i:
            topic_order = False
            if first_disorder is None:
                first_disorder = "topic %s: sent #%d arrived after #%d" % (
                    t, i, last_by_topic[t])
        last_by_topic[t] = max(i, last_by_topic.get(t, -1))
    if first_disorder is None and not in_order:
        for a, b in zip(firsts, firsts[1:]):
            if a > b:
                first_disorder = "sent #%d arrived after #%d" % (b, a)
                break
    return {"lost": lost, "duplicates": duplicates, "unexpected": unexpected,
            "in_order": in_order, "topic_order": topic_order,
            "first_disorder": first_disorder}


# --------------------------------------------------------------------------
# Brokers: Mosquitto, and aedes for the central side
# --------------------------------------------------------------------------

BROKER_KINDS = ("mosquitto", "aedes")
AEDES_DIR = REPO / "tests" / "brokers"


def central_broker_kind():
    """$PUSHRELAY_CENTRAL_BROKER: "mosquitto" (the default) or "aedes"."""
    kind = os.environ.get("PUSHRELAY_CENTRAL_BROKER", "") or "mosquitto"
    if kind not in BROKER_KINDS:
        raise HarnessError("PUSHRELAY_CENTRAL_BROKER=%r: use one of %s"
                           % (kind, ", ".join(BROKER_KINDS)))
    return kind


def make_broker(kind, workdir, name="broker", **kw):
    """A Broker ("mosquitto") or an AedesBroker ("aedes"), not started."""
    if kind == "aedes":
        return AedesBroker(workdir, name, **kw)
    if kind == "mosquitto":
        return Broker(workdir, name, **kw)
    raise HarnessError("unknown broker kind %r" % (kind,))


class Broker:
    """One Mosquitto process on 127.0.0.1:port with its own directory.

    persistence is on (saved on SIGTERM and every second), so stop() + start()
    keeps persistent sessions, their subscriptions and queued messages: the
    relay's session and the test collectors' sessions survive a restart.
    max_queued_messages is 0 (no limit), so a count never loses a message to
    the broker; everything else keeps Mosquitto's defaults.

    What tests may use, the same on every kind of broker (AedesBroker):
    name, dir, port, address, log_path, starts, running, start(), stop(),
    kill(), pause(), resume(), restart(), close(), log_tail(); offline()
    and online(), an outage that keeps every session (here a stop and a
    start); and what the kind can do:
      kind            "mosquitto" or "aedes"
      mqtt5           it speaks MQTT 5 (else MQTT 3.1.1 only)
      keeps_sessions  stop() + start() keep the persistent sessions
    """

    kind = "mosquitto"
    mqtt5 = True
    keeps_sessions = True
    log_name = "mosquitto.log"

    def __init__(self, workdir, name="broker", port=None, extra_conf=()):
        self.name = name
        self.dir = Path(workdir) / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.log_path = self.dir / self.log_name
        self.proc = None
        self.paused = False
        self.starts = 0
        self._configure(extra_conf)

    def _configure(self, extra_conf):
        self.conf_path = self.dir / "mosquitto.conf"
        lines = [
            "# written by tests/lib/harness.py",
            "listener %d 127.0.0.1" % self.port,
            "allow_anonymous true",
            "max_queued_messages 0",
            "persistence true",
            "persistence_location %s/" % self.dir,
            "persistence_file mosquitto.db",
            "autosave_interval 1",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
            "log_timestamp_format %H:%M:%S",
        ]
        if os.geteuid() == 0:
            # Mosquitto drops root to user "mosquitto" unless told otherwise;
            # it then could not write this directory.
            lines.append("user %s" % pwd.getpwuid(os.geteuid()).pw_name)
        lines.extend(extra_conf)
        self.conf_path.write_text("\n".join(lines) + "\n")

    def _argv(self, hold):
        if hold:
            raise HarnessError("%s: only aedes can hold clients" % self.name)
        return [mosquitto_bin(), "-c", str(self.conf_path)]

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout=None, hold=()):
        """Start the process; wait until the port accepts connections.
        hold: client ids refused until release() (aedes only)."""
        if self.running:
            raise HarnessError("%s already running" % self.name)
        argv = self._argv(hold)
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(b"=== harness: start #%d on port %d\n" % (self.starts, self.port))
            log.flush()
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True)
        self.paused = False
        self._wait_port(True, timeout or T(10))
        return self

    def _wait_port(self, is_open, timeout):
        def check():
            if self.proc.poll() is not None:
                raise HarnessError("%s exited with %s:\n%s" % (
                    self.name, self.proc.returncode, tail(self.log_path)))
            return port_open(self.port) == is_open

        wait_until(check, timeout, interval=0.02,
                   what="%s to %s connections on %d" % (
                       self.name, "accept" if is_open else "refuse",
                       self.port),
                   details=lambda: tail(self.log_path))

    def stop(self, timeout=10):
        """SIGTERM (Mosquitto saves its persistence file) and wait."""
        if not self.running:
            return
        self.resume()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise HarnessError("%s ignored SIGTERM for %ss" % (self.name, timeout))

    def kill(self):
        """SIGKILL: only what the last autosave wrote survives."""
        if not self.running:
            return
        self.proc.kill()
        self.proc.wait()
        self.paused = False

    def pause(self):
        """SIGSTOP: connections stay open but nothing is read or acknowledged."""
        if self.running and not self.paused:
            self.proc.send_signal(signal.SIGSTOP)
            self.paused = True

    def resume(self):
        if self.running and self.paused:
            self.proc.send_signal(signal.SIGCONT)
            self.paused = False

    def restart(self):
        self.stop()
        return self.start()

    def offline(self):
        """An outage that keeps every session: every connection ends and
        new ones are refused until online(). Mosquitto: stop()."""
        self.stop()

    def online(self, timeout=None):
        """The end of offline(): connections are accepted again."""
        return self.start(timeout)

    def close(self):
        try:
            self.stop(timeout=5)
        except HarnessError:
            pass

    def log_tail(self, n=40):
        return tail(self.log_path, n)


AEDES_NODE_MIN = 20


def aedes_unavailable():
    """Why aedes cannot run here, or None. aedes 1.2 needs Node.js >= 20;
    Debian 12's own nodejs is 18, so a machine with only that one skips
    the aedes tests (tests/setup-deps.sh then installs no aedes)."""
    node = os.environ.get("NODE") or shutil.which("node") or \
        shutil.which("nodejs")
    if not node:
        return "node not found"
    try:
        out = subprocess.run([node, "-p", "process.versions.node"],
                             capture_output=True, text=True, timeout=30)
        major = int(out.stdout.strip().split(".")[0])
    except (OSError, ValueError, subprocess.SubprocessError) as exc:
        return "cannot ask %s for its version: %s" % (node, exc)
    if major < AEDES_NODE_MIN:
        return ("aedes needs Node.js >= %d and this machine has %s: the "
                "central side is tested against Mosquitto only" % (
                    AEDES_NODE_MIN, out.stdout.strip()))
    return None


def aedes_argv(port, hold=()):
    """The command that runs tests/brokers/aedes-broker.js on port."""
    node = os.environ.get("NODE") or shutil.which("node") or \
        shutil.which("nodejs")
    if not node:
        raise HarnessError("node not found: run `sh tests/setup-deps.sh` "
                           "(or set $NODE)")
    if not (AEDES_DIR / "node_modules" / "aedes" / "package.json").is_file():
        raise HarnessError("aedes is not installed in %s/node_modules: run "
                           "`sh tests/setup-deps.sh` (npm ci --prefix "
                           "tests/brokers)" % AEDES_DIR)
    argv = [node, str(AEDES_DIR / "aedes-broker.js"), str(port)]
    for client_id in hold:
        argv += ["--hold", client_id]
    return argv


class AedesBroker(Broker):
    """aedes (tests/brokers/aedes-broker.js) on 127.0.0.1:port: a second,
    independent broker implementation, for the central side.

    It speaks MQTT 3.1 and 3.1.1, not MQTT 5 (mqtt5 False: the relay's
    central link, the unpacker and the test clients on it use 3.1.1). Its
    persistence is in memory: the process keeps persistent sessions, their
    subscriptions and queued messages while it lives, and stop() or kill()
    forgets them all, retained messages too (keeps_sessions False): a
    start() after them is a broker that has never seen any client.
    offline() and online() make the outage Mosquitto's stop() and start()
    make: the process stops listening and closes every connection at once
    (SIGUSR1), keeping every session, and listens again (SIGUSR2).

    start(hold=[client ids]) refuses those ids with CONNACK return code 3
    (Server unavailable) until release(), so that a test's own clients can
    subscribe to a new, empty broker before the relay may connect.
    """

    kind = "aedes"
    mqtt5 = False
    keeps_sessions = False
    log_name = "aedes.log"

    def _configure(self, extra_conf):
        if extra_conf:
            raise HarnessError("%s: aedes takes no Mosquitto configuration"
                               % self.name)

    def _argv(self, hold):
        return aedes_argv(self.port, hold)

    def _running_or_fail(self, what):
        if not self.running:
            raise HarnessError("%s: not running; cannot %s" % (self.name, what))
        self.resume()

    def offline(self):
        self._running_or_fail("go offline")
        self.proc.send_signal(signal.SIGUSR1)
        self._wait_port(False, T(10))

    def online(self, timeout=None):
        self._running_or_fail("come online")
        self.proc.send_signal(signal.SIGUSR2)
        self._wait_port(True, timeout or T(10))
        return self

    def release(self, timeout=None):
        """Let the clients held at start() connect."""
        self._running_or_fail("release")
        before = self._log_count("released ")
        self.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: self._log_count("released ") > before,
                   timeout or T(10), what="%s to release its held clients"
                   % self.name, details=lambda: tail(self.log_path))

    def _log_count(self, needle):
        try:
            return self.log_path.read_text(errors="replace").count(needle)
        except OSError:
            return 0


# --------------------------------------------------------------------------
# UCI configuration
# --------------------------------------------------------------------------

def uci_quote(value):
    value = str(value)
    if "'" not in value:
        return "'%s'" % value
    return '"%s"' % (value.replace("\\", "\\\\").replace('"', '\\"')
                     .replace("$", "\\$").replace("`", "\\`"))


class RelayConfig:
    """A pushrelay configuration as data: sections of options.

    relay, local, central: dicts of option -> value for `config relay 'main'`,
    `config broker 'local'`, `config broker 'central'`. uplinks, downlinks:
    lists of dicts, one `config uplink` / `config downlink` each. A value
    that is a list or tuple renders as `list NAME 'v'` lines; None omits the
    option. Key order is kept, so render() is stable and line numbers can be
    looked up in its output.
    """

    def __init__(self, relay=None, local=None, central=None, uplinks=None,
                 downlinks=None, batch=None):
        self.relay = dict(relay or {})
        self.local = dict(local or {})
        self.central = dict(central or {})
        self.uplinks = [dict(r) for r in (uplinks or [])]
        self.downlinks = [dict(r) for r in (downlinks or [])]
        # `config batch`: rendered only when it has options.
        self.batch = dict(batch or {})

    def copy(self):
        return RelayConfig(self.relay, self.local, self.central, self.uplinks,
                           self.downlinks, self.batch)

    @staticmethod
    def _section(out, header, options):
        out.append(header)
        for k, v in options.items():
            if v is None:
                continue
            if isinstance(v, (list, tuple)):
                for item in v:
                    out.append("\tlist %s %s" % (k, uci_quote(item)))
            else:
                out.append("\toption %s %s" % (k, uci_quote(v)))
        out.append("")

    def render(self):
        out = ["# pushrelay test configuration, written by tests/lib/harness.py", ""]
        self._section(out, "config relay 'main'", self.relay)
        self._section(out, "config broker 'local'", self.local)
        self._section(out, "config broker 'central'", self.central)
        if self.batch:
            self._section(out, "config batch", self.batch)
        for r in self.uplinks:
            self._section(out, "config uplink", r)
        for r in self.downlinks:
            self._section(out, "config downlink", r)
        return "\n".join(out)


def default_config(workdir, control_path, local_port, central_port,
                   relay_id=RELAY_ID):
    """The configuration every test starts from (see tests/system/conftest.py)."""
    return RelayConfig(
        relay={"id": relay_id,
               "store": str(Path(workdir) / "queue.db"),
               "control": str(control_path),
               "log_level": "debug"},
        local={"address": "127.0.0.1:%d" % local_port},
        central={"address": ["127.0.0.1:%d" % central_port],
                 "reconnect_min": "1",
                 "reconnect_max": "2",
                 # Plain TCP to the test broker; TLS has its own tests.
                 "tls": "0"},
        # raw: most tests read plain messages at central; batch (the
        # schema's default) has its own tests with the unpacker.
        uplinks=[{"topic": "sensors/#", "remote_prefix": "gw/%i/", "qos": "1",
                  "mode": "raw"}],
        downlinks=[{"topic": "cmd/#", "remote_prefix": "gw/%i/", "qos": "1"}],
    )


def line_of(text, needle, start=1):
    """1-based number of the first line at or after `start` containing needle."""
    for n, line in enumerate(text.splitlines(), 1):
        if n >= start and needle in line:
            return n
    raise HarnessError("%r not in config text" % (needle,))


# --------------------------------------------------------------------------
# The relay
# --------------------------------------------------------------------------

def short_dir(prefix="pr-"):
    """A fresh directory with a short path (UNIX socket paths max ~107 bytes)."""
    import tempfile
    return Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))


class Relay:
    """The pushrelay process under test.

    workdir holds the config (relay.conf), a copy used only for status
    queries (status.conf, always the last valid config, so status keeps
    working while relay.conf holds a deliberately bad file), the queue
    (queue.db) and the log (relay.log: stdout+stderr of every run, with a
    marker line per start). The control socket lives in sockdir (short path).
    """

    command = "run"     # the pushrelay subcommand start() runs
    name = "relay"      # names relay.conf and relay.log

    def __init__(self, binary, workdir, config, sockdir=None):
        self.bin = str(binary)
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.sockdir = Path(sockdir) if sockdir else self.workdir
        self.config = config
        self.conf_path = self.workdir / ("%s.conf" % self.name)
        self.status_conf_path = self.workdir / "status.conf"
        self.log_path = self.workdir / ("%s.log" % self.name)
        self.proc = None
        self.env = {}               # added to the environment of run
        self.starts = 0
        self.last_status = None     # the last status that answered ...
        self.last_status_t = None   # ... and when (time.monotonic())
        self._own_sockdir = sockdir is not None
        self.write_config()

    # --- paths ---------------------------------------------------------
    @property
    def store_path(self):
        return Path(self.config.relay["store"])

    @property
    def control_path(self):
        return Path(self.config.relay["control"])

    @property
    def relay_id(self):
        return self.config.relay.get("id", RELAY_ID)

    @property
    def central_client_id(self):
        """The client id of the relay's central link (option client_id,
        default pushrelay-%i)."""
        cid = self.config.central.get("client_id") or "pushrelay-%i"
        return cid.replace("%i", self.relay_id)

    def remote(self, topic, prefix="gw/%i/"):
        """The central topic an uplink route with remote_prefix maps topic to."""
        return prefix.replace("%i", self.relay_id) + topic

    # --- config --------------------------------------------------------
    def write_config(self, text=None, valid=True):
        """Write relay.conf from self.config (or raw text).

        valid=True also refreshes status.conf, the copy status() reads.
        """
        if text is None:
            text = self.config.render()
        self.conf_path.write_text(text)
        if valid:
            self.status_conf_path.write_text(text)
        return text

    # --- process -------------------------------------------------------
    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, wait=True, timeout=None, extra_args=()):
        """Spawn `pushrelay run -c relay.conf -v`; wait until status answers."""
        if self.alive():
            raise HarnessError("relay already running (pid %d)" % self.proc.pid)
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(b"=== harness: start #%d\n" % self.starts)
            log.flush()
            self.proc = subprocess.Popen(
                bin_argv(self.bin, self.command, "-c", self.conf_path, "-v",
                         *extra_args),
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True,
                env=dict(os.environ, **self.env) if self.env else None)
        if wait:
            self.wait_status(lambda s: True, timeout=timeout or T(15),
                             what="the relay's control socket to answer")
        return self

    def _signal(self, sig):
        if not self.alive():
            raise HarnessError("relay not running; cannot send %s\n%s"
                               % (signal.Signals(sig).name, self.log_tail()))
        self.proc.send_signal(sig)

    def terminate(self, sig=signal.SIGTERM, timeout=10):
        """Send sig and wait for the exit. Returns (exit code, seconds)."""
        self._signal(sig)
        t0 = time.monotonic()
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise HarnessError("relay did not exit within %ss of %s\n%s" % (
                timeout, signal.Signals(sig).name, self.log_tail()))
        return rc, time.monotonic() - t0

    def stop(self, timeout=10, sig=signal.SIGTERM):
        """SIGTERM; assert exit code 0 within timeout. Returns seconds taken."""
        rc, took = self.terminate(sig, timeout)
        if rc != 0:
            raise HarnessError("relay exited %s after %s (want 0)\n%s" % (
                rc, signal.Signals(sig).name, self.log_tail()))
        return took

    def kill9(self):
        self._signal(signal.SIGKILL)
        self.proc.wait()

    def hup(self):
        self._signal(signal.SIGHUP)

    def close(self):
        """Finalizer: kill if still running; fail on sanitizer reports."""
        if self.alive():
            self.proc.kill()
            self.proc.wait()
        if self._own_sockdir:
            shutil.rmtree(self.sockdir, ignore_errors=True)
        self.check_log_clean()

    def check_log_clean(self):
        text = self.log_text()
        for marker in SANITIZER_MARKERS:
            if marker in text:
                raise HarnessError("sanitizer report in %s:\n%s"
                                   % (self.log_path, self.log_tail(80)))

    # --- CLI -----------------------------------------------------------
    def cli(self, *args, conf=None, user=None, timeout=None):
        """Run `pushrelay ARGS` (with -c conf when conf is given)."""
        return run_cli(self.bin, *args, conf=conf, user=user,
                       timeout=timeout or T(10))

    def status(self):
        """The parsed `status --json` object, or None if it did not answer."""
        try:
            r = run_cli(self.bin, "status", "--json", conf=self.status_conf_path,
                        timeout=T(5))
        except subprocess.TimeoutExpired:
            return None
        # 3: it answered, and the central link has been down longer than
        # option unhealthy_after.
        if r.returncode not in (0, 3):
            return None
        try:
            s = json.loads(r.stdout)
        except ValueError:
            raise HarnessError("status --json printed invalid JSON:\n%r" % (r.stdout,))
        self.last_status = s
        self.last_status_t = time.monotonic()
        return s

    def status_report(self):
        """One line for a failure message: a status taken now when the
        process runs, else the last one seen, saying how old it is."""
        if self.alive():
            try:
                s = self.status()
            except HarnessError as exc:
                s, why = None, str(exc)
            else:
                why = "the running %s did not answer status now" % self.name
            if s is not None:
                return "%s status, taken now: %s" % (self.name, json.dumps(s))
        elif self.proc is None:
            why = "%s never started" % self.name
        else:
            why = "%s not running, exit code %s" % (self.name,
                                                    self.proc.returncode)
        if self.last_status is None:
            return "%s status: none seen (%s)" % (self.name, why)
        return "%s status: the last seen, %.1f s old (%s): %s" % (
            self.name, time.monotonic() - self.last_status_t, why,
            json.dumps(self.last_status))

    def wait_status(self, pred, timeout=None, interval=0.05, what=None):
        """Poll status until pred(status) holds; return that status.

        Fails at once if the relay exits, and on timeout with a status taken
        then (status_report) and the tail of the relay log.
        """
        timeout = timeout or T(30)

        def check():
            if self.proc is not None and self.proc.poll() is not None:
                raise HarnessError("relay exited with %s while waiting for %s\n%s"
                                   % (self.proc.returncode, what or "status",
                                      self.log_tail()))
            s = self.status()
            if s is None:
                return None
            try:
                return s if pred(s) else None
            except (KeyError, TypeError) as exc:
                raise HarnessError("status lacks a field the test needs (%r): %s"
                                   % (exc, json.dumps(s)))

        return wait_until(
            check, timeout, interval, what=what or "relay status condition",
            details=lambda: "%s\n%s" % (self.status_report(), self.log_tail()))

    def wait_connected(self, local=True, central=True, timeout=None):
        def ok(s):
            return ((not local or s["local"]["connected"]) and
                    (not central or s["central"]["connected"]))
        return self.wait_status(ok, timeout or T(30),
                                what="relay connected (local=%s central=%s)"
                                % (local, central))

    # --- log -----------------------------------------------------------
    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, n=60):
        return "%s log %s:\n%s" % (self.name, self.log_path,
                                   tail(self.log_path, n))

    def wait_log(self, pattern, timeout=None, after=0):
        """Wait until the log (from byte offset `after`) matches regex pattern."""
        rx = re.compile(pattern, re.M)

        def found():
            return rx.search(self.log_text()[after:])

        return wait_until(found, timeout or T(10),
                          what="relay log to match %r" % pattern,
                          details=self.log_tail)

    def log_size(self):
        return len(self.log_text())


class UnpackConfig:
    """An unpacker's configuration: one `config unpack 'main'` section.

    options: dict of option -> value, rendered as RelayConfig renders a
    section. It is called `relay` so that Relay's store and control paths
    work unchanged.
    """

    def __init__(self, options=None, name="main"):
        self.relay = dict(options or {})
        self.name = name

    def copy(self):
        return UnpackConfig(self.relay, self.name)

    def render(self):
        out = ["# pushrelay unpacker test configuration, written by "
               "tests/lib/harness.py", ""]
        RelayConfig._section(out, "config unpack '%s'" % self.name, self.relay)
        return "\n".join(out)


def unpack_config(workdir, control_path, broker_port, **options):
    """The unpacker's test configuration: debug log, quick reconnects."""
    opts = {"address": "127.0.0.1:%d" % broker_port,
            "store": str(Path(workdir) / "unpack.db"),
            "control": str(control_path),
            "log_level": "debug",
            "reconnect_min": "1",
            "reconnect_max": "2"}
    opts.update(options)
    return UnpackConfig(opts)


class Unpacker(Relay):
    """`pushrelay unpack` under test: a Relay with one link and its own
    subcommand, files unpack.conf and unpack.log, store unpack.db."""

    command = "unpack"
    name = "unpack"

    def wait_connected(self, local=False, central=True, timeout=None):
        return self.wait_status(lambda s: s["central"]["connected"],
                                timeout or T(30), what="unpacker connected")


def run_cli(binary, *args, conf=None, user=None, timeout=10):
    """Run the pushrelay CLI; returns CompletedProcess with text output.

    conf: adds `-c conf` right after the subcommand. user: run as that user
    (via setpriv, as root only), with supplementary groups cleared.
    """
    argv = []
    if args:
        argv.append(args[0])
        if conf is not None:
            argv += ["-c", str(conf)]
        argv += list(args[1:])
    elif conf is not None:
        argv += ["-c", str(conf)]
    argv = bin_argv(binary, *argv)
    if user is not None:
        pw = pwd.getpwnam(user)
        argv = ["setpriv", "--reuid=%d" % pw.pw_uid, "--regid=%d" % pw.pw_gid,
                "--clear-groups", "--"] + argv
    return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, errors="replace", timeout=timeout)


# --------------------------------------------------------------------------
# MQTT clients (paho-mqtt 1.6.1)
# --------------------------------------------------------------------------

Msg = collections.namedtuple(
    "Msg", "topic payload qos retain dup properties t")


def props_dict(p):
    """The MQTT 5 publish properties the relay must carry, as a plain dict."""
    if p is None:
        return {}
    out = {}
    for name in ("PayloadFormatIndicator", "MessageExpiryInterval",
                 "ContentType", "ResponseTopic", "CorrelationData",
                 "UserProperty"):
        v = getattr(p, name, None)
        if v is not None:
            out[name] = v
    return out


def publish_properties(content_type=None, payload_format=None,
                       correlation_data=None, response_topic=None,
                       user_properties=(), expiry=None):
    p = Properties(PacketTypes.PUBLISH)
    if content_type is not None:
        p.ContentType = content_type
    if payload_format is not None:
        p.PayloadFormatIndicator = payload_format
    if correlation_data is not None:
        p.CorrelationData = correlation_data
    if response_topic is not None:
        p.ResponseTopic = response_topic
    for kv in user_properties:
        p.UserProperty = kv
    if expiry is not None:
        p.MessageExpiryInterval = expiry
    return p


def _new_client(client_id, protocol, persistent):
    if protocol == 5:
        c = mqtt.Client(client_id=client_id, protocol=mqtt.MQTTv5)
    else:
        c = mqtt.Client(client_id=client_id, clean_session=not persistent,
                        protocol=mqtt.MQTTv311)
    c.reconnect_delay_set(0.1, 0.5)
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(0)
    return c


def _connect(client, port, protocol, persistent, keepalive=30):
    if protocol == 5:
        props = None
        if persistent:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = 3600
        client.connect("127.0.0.1", port, keepalive=keepalive,
                       clean_start=mqtt.MQTT_CLEAN_START_FIRST_ONLY,
                       properties=props)
    else:
        client.connect("127.0.0.1", port, keepalive=keepalive)


def _close_client(client):
    """Disconnect a paho client (if it still can) and stop its thread."""
    try:
        client.disconnect()
    except Exception:
        pass
    client.loop_stop()


class Collector:
    """A subscriber that records every message in arrival order.

    protocol: 311 (default) or 5. persistent: a session that survives
    disconnects (clean session off / session expiry 3600 s), so messages
    published while it is disconnected wait for it. It reconnects by itself
    and resubscribes only when the broker has no session for it.

    Why 3.1.1 by default: Mosquitto 2.0.11 restores a 3.1.1 persistent
    session after a broker restart, but drops an MQTT 5 session that had
    already received messages (checked: CONNACK session-present 0 after the
    restart, messages published before the reconnect are lost). Collectors
    that must ride through a broker restart therefore use 3.1.1; use
    protocol=5 where MQTT 5 properties must be seen.
    """

    def __init__(self, port, topics, qos=1, protocol=311, persistent=True,
                 client_id=None, retain_as_published=False, name=None):
        self.port = port
        self.topics = [topics] if isinstance(topics, str) else list(topics)
        self.qos = qos
        self.protocol = protocol
        self.persistent = persistent
        self.retain_as_published = retain_as_published
        self.client_id = client_id or "collector-%s" % uuid.uuid4().hex[:12]
        self.name = name or self.client_id
        self.messages = []
        self.unique = set()
        self.duplicates = 0
        self.connects = 0
        self.subacks = 0
        self.sub_error = None
        self.cond = threading.Condition()
        self._suback = threading.Event()
        self._sub_mids = set()
        c = _new_client(self.client_id, protocol, persistent)
        c.on_connect = self._on_connect
        c.on_subscribe = self._on_subscribe
        c.on_message = self._on_message
        self.client = c

    def start(self, timeout=None):
        _connect(self.client, self.port, self.protocol, self.persistent)
        self.client.loop_start()
        if not self._suback.wait(timeout or T(10)):
            raise HarnessError("collector %s: no SUBACK from port %d"
                               % (self.name, self.port))
        if self.sub_error:
            raise HarnessError("collector %s: %s" % (self.name, self.sub_error))
        return self

    def _subscribe(self):
        if self.protocol == 5:
            opts = mqtt.SubscribeOptions(
                qos=self.qos, retainAsPublished=self.retain_as_published)
            subs = [(t, opts) for t in self.topics]
        else:
            subs = [(t, self.qos) for t in self.topics]
        rc, mid = self.client.subscribe(subs)
        with self.cond:
            self._sub_mids.add(mid)

    def _on_connect(self, client, userdata, flags, rc, properties=None):
        if rc != 0:
            return
        with self.cond:
            self.connects += 1
        if not flags.get("session present"):
            self._subscribe()
        else:
            self._suback.set()

    def _on_subscribe(self, client, userdata, mid, granted, *rest):
        codes = [getattr(g, "value", g) for g in granted]
        if any(c >= 0x80 for c in codes):
            self.sub_error = "subscription refused: %r" % (codes,)
        with self.cond:
            self.subacks += 1
            self.cond.notify_all()
        self._suback.set()

    def _on_message(self, client, userdata, msg):
        m = Msg(msg.topic, bytes(msg.payload), msg.qos, bool(msg.retain),
                bool(getattr(msg, "dup", False)), getattr(msg, "properties", None),
                time.monotonic())
        key = (m.topic, m.payload)
        with self.cond:
            self.messages.append(m)
            if key in self.unique:
                self.duplicates += 1
            else:
                self.unique.add(key)
            self.cond.notify_all()

    # --- waiting / reading --------------------------------------------
    def wait_for(self, pred, timeout=None, what="condition"):
        """Wait (condition variable) until pred(self) holds under the lock."""
        timeout = timeout if timeout is not None else T(30)
        with self.cond:
            ok = self.cond.wait_for(lambda: pred(self), timeout)
            if not ok:
                raise HarnessError(
                    "collector %s: timed out after %.1fs waiting for %s; "
                    "have %d messages (%d unique)%s" % (
                        self.name, timeout, what, len(self.messages),
                        len(self.unique), self._last_few()))
            return list(self.messages)

    def _last_few(self, n=3):
        if not self.messages:
            return ""
        return "; last: " + ", ".join(
            "%s %r" % (m.topic, m.payload[:60]) for m in self.messages[-n:])

    def wait_subscribed(self, n, timeout=None):
        """Wait until the broker acknowledged n SUBSCRIBEs in all: after a
        broker that forgot the session, the collector subscribes again."""
        return self.wait_for(lambda c: c.subacks >= n, timeout,
                             what="SUBACK #%d" % n)

    def wait_count(self, n, timeout=None):
        """Wait until at least n messages (duplicates included) arrived."""
        return self.wait_for(lambda c: len(c.messages) >= n, timeout,
                             what="%d messages" % n)

    def wait_unique(self, n, timeout=None):
        """Wait until at least n distinct (topic, payload) pairs arrived."""
        return self.wait_for(lambda c: len(c.unique) >= n, timeout,
                             what="%d distinct messages" % n)

    def wait_message(self, topic, payload=None, timeout=None):
        """Wait for a message on topic (and with payload); return it."""
        def match(m):
            return m.topic == topic and (payload is None or m.payload == payload)
        msgs = self.wait_for(lambda c: any(match(m) for m in c.messages),
                             timeout, what="%s %r" % (topic, payload))
        return next(m for m in msgs if match(m))

    def snapshot(self):
        with self.cond:
            return list(self.messages)

    def pairs(self, strip_prefix=""):
        """[(topic without strip_prefix, payload)] in arrival order."""
        out = []
        for m in self.snapshot():
            t = m.topic
            if strip_prefix and t.startswith(strip_prefix):
                t = t[len(strip_prefix):]
            out.append((t, m.payload))
        return out

    def count(self):
        with self.cond:
            return len(self.messages)

    def unique_count(self):
        with self.cond:
            return len(self.unique)

    def clear(self):
        with self.cond:
            self.messages = []
            self.unique = set()
            self.duplicates = 0

    def close(self):
        _close_client(self.client)


class Publisher:
    """A publisher that tracks every PUBACK.

    publish() returns the message's index in self.sent; self.acked[i] turns
    True when the broker acknowledged it (PUBACK for QoS 1; written to the
    socket for QoS 0). Up to 1000 messages may be in flight; messages
    published while disconnected are kept and sent after the reconnect.
    """

    def __init__(self, port, protocol=5, client_id=None, name=None):
        self.port = port
        self.protocol = protocol
        self.client_id = client_id or "publisher-%s" % uuid.uuid4().hex[:12]
        self.name = name or self.client_id
        self.sent = []
        self.acked = []
        self.acked_count = 0
        self.cond = threading.Condition()
        self._pending = {}
        self._early = set()
        self._connected = threading.Event()
        c = _new_client(self.client_id, protocol, persistent=False)
        c.on_connect = self._on_connect
        c.on_publish = self._on_publish
        self.client = c

    def start(self, timeout=None):
        _connect(self.client, self.port, self.protocol, persistent=False)
        self.client.loop_start()
        if not self._connected.wait(timeout or T(10)):
            raise HarnessError("publisher %s: no CONNACK from port %d"
                               % (self.name, self.port))
        return self

    def _on_connect(self, client, userdata, flags, rc, properties=None):
        if rc == 0:
            self._connected.set()

    def _on_publish(self, client, userdata, mid):
        # Runs on paho's thread holding paho's message lock: never wait here
        # for a lock that is held around client.publish().
        with self.cond:
            i = self._pending.pop(mid, None)
            if i is None:
                self._early.add(mid)
                return
            self._ack(i)

    def _ack(self, i):
        if not self.acked[i]:
            self.acked[i] = True
            self.acked_count += 1
            self.cond.notify_all()

    def publish(self, topic, payload, qos=1, retain=False, properties=None):
        with self.cond:
            i = len(self.sent)
            self.sent.append((topic, payload))
            self.acked.append(False)
        info = self.client.publish(topic, payload, qos=qos, retain=retain,
                                   properties=properties)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            raise HarnessError("publish %s failed: %s" % (topic, mqtt.error_string(info.rc)))
        with self.cond:
            if info.mid in self._early:
                self._early.discard(info.mid)
                self._ack(i)
            else:
                self._pending[info.mid] = i
        return i

    def publish_many(self, msgs, qos=1, rate=None, retain=False,
                     properties=None, wait=True, timeout=None):
        """Publish (topic, payload) pairs, optionally paced at `rate` msg/s,
        then (wait=True) wait for every acknowledgement."""
        t0 = time.monotonic()
        for n, (topic, payload) in enumerate(msgs):
            if rate:
                ahead = t0 + n / rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)  # pacing, the one allowed sleep
            self.publish(topic, payload, qos=qos, retain=retain,
                         properties=properties)
        if wait:
            self.wait_acked(timeout=timeout)

    def wait_acked(self, timeout=None):
        timeout = timeout if timeout is not None else T(60)
        with self.cond:
            ok = self.cond.wait_for(
                lambda: self.acked_count >= len(self.sent), timeout)
            if not ok:
                raise HarnessError("publisher %s: %d of %d acknowledged after %.0fs"
                                   % (self.name, self.acked_count,
                                      len(self.sent), timeout))

    def acked_messages(self):
        with self.cond:
            return [m for m, a in zip(self.sent, self.acked) if a]

    def close(self):
        _close_client(self.client)


class PacedStream:
    """Publishes from `messages` at `rate` msg/s on a background thread
    until they run out or stop() is called.

    messages: a list (its length is the most the stream will publish) or
    an iterator such as telemetry_messages() (endless). An error on the
    thread (a failed publish) ends it and is raised in the test's thread by
    the next check(), reached(), at() or stop(), so a wait never outlasts
    the failure it is waiting on.
    """

    def __init__(self, publisher, messages, rate, qos=1):
        self.publisher = publisher
        self.total = len(messages) if hasattr(messages, "__len__") else None
        self.messages = iter(messages)
        self.rate = rate
        self.qos = qos
        self.count = 0
        self.error = None
        self.t0 = None
        self._stop = threading.Event()
        self._done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True,
                                       name="paced-stream")

    def start(self):
        self.t0 = time.monotonic()
        self.thread.start()
        return self

    def _run(self):
        try:
            for topic, payload in self.messages:
                if self._stop.is_set():
                    break
                ahead = self.t0 + self.count / self.rate - time.monotonic()
                if ahead > 0:
                    if self._stop.wait(ahead):
                        break
                self.publisher.publish(topic, payload, qos=self.qos)
                self.count += 1
        except Exception as exc:  # raised in the test's thread by check()
            self.error = exc
        finally:
            self._done.set()

    def _describe(self):
        return "paced stream (%s at %s msg/s, %d published)" % (
            "an iterator" if self.total is None else
            "%d messages" % self.total, self.rate, self.count)

    def check(self):
        """Raise here the error that ended the publishing thread, if any."""
        if self.error is not None:
            raise HarnessError("%s: publishing failed: %r"
                               % (self._describe(), self.error)) from self.error

    def _check_reachable(self, n):
        if self.total is not None and n > self.total:
            raise HarnessError("%s: a wait for %d published can never end: "
                               "the stream holds %d" % (self._describe(), n,
                                                        self.total))

    def reached(self, n):
        """True once n messages are published. Raises at once when the
        thread failed, or when n can never be reached (more than the
        stream holds, or the stream ended short of n)."""
        self.check()
        if self.count >= n:
            return True
        self._check_reachable(n)
        if self._done.is_set():
            self.check()
            if self.count >= n:
                return True
            raise HarnessError("%s: ended (%s) before %d were published"
                               % (self._describe(), "stopped"
                                  if self._stop.is_set() else "ran out", n))
        return False

    def at(self, n, timeout=None):
        """Wait until n messages are published; see reached(). Also fails at
        once when the pace cannot publish n within the timeout."""
        timeout = timeout if timeout is not None else T(60)
        if self.t0 is None:
            raise HarnessError("%s: at(%d) before start()" % (
                self._describe(), n))
        if self.reached(n):
            return self.count
        eta = self.t0 + (n - 1) / self.rate - time.monotonic()
        if eta > timeout:
            raise HarnessError("%s: %d published takes %.0f s more at this "
                               "rate; the wait allows %.0f s"
                               % (self._describe(), n, eta, timeout))
        wait_until(lambda: self.reached(n), timeout,
                   what="%d messages published" % n, details=self._describe)
        return self.count

    def stop(self, timeout=None):
        """Stop publishing; return how many were published. Raises the
        thread's error, if any."""
        self._stop.set()
        if self.t0 is not None:
            self.thread.join(timeout if timeout is not None else T(30))
            if self.thread.is_alive():
                raise HarnessError("%s: its thread did not end within %.0f s "
                                   "of stop()" % (self._describe(), timeout
                                                  or T(30)))
        self.check()
        return self.count
