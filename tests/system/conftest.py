# SPDX-License-Identifier: ISC
"""Fixtures for the pushrelay system tests (real Mosquitto, real binary).

Run with Debian's interpreter: `/usr/bin/python3 -m pytest tests/system`
(`make system` does that with PUSHRELAY_BIN set). Each test gets its own
brokers on free loopback ports, its own directories, and its own relay;
everything a test starts is stopped by a finalizer, and when a test fails
the tails of the relay and broker logs are printed.

Fixture API (see tests/lib/harness.py for the classes):
  pushrelay_bin     Path of the binary ($PUSHRELAY_BIN or build/pushrelay).
                    Run it with harness.bin_argv(pushrelay_bin, args...),
                    which puts $PUSHRELAY_WRAP (e.g. cross/qemu-run armhf)
                    in front when it is set.
  local_broker      started harness.Broker playing the gateway's broker.
  central_broker    started broker playing the central service: Mosquitto
                    (harness.Broker), or aedes (harness.AedesBroker) with
                    PUSHRELAY_CENTRAL_BROKER=aedes (`make system-aedes`).
                    aedes speaks MQTT 3.1.1 only (central_broker.mqtt5 is
                    False): the relay's central section and the unpacker
                    then default to protocol 311, and clients.collector()
                    and .publisher() on it use 3.1.1 whatever protocol the
                    test asks for; a test that needs MQTT 5 there skips
                    itself. Its sessions live in memory: stop() + start()
                    forget them (central_broker.keeps_sessions is False);
                    offline() + online() is an outage that keeps them on
                    both kinds.
  relay_factory(start=True, connected=True, relay=None, local=None,
                central=None, uplinks=None, downlinks=None, config=None)
                    -> harness.Relay. relay/local/central: dicts merged over
                    the default config's sections; uplinks/downlinks: lists
                    of route dicts replacing the defaults; config: a whole
                    harness.RelayConfig. start=False only writes the config.
  relay             relay_factory() with the defaults, running and connected
                    to both brokers.
  unpacker_factory(start=True, name="unpack", **options) -> harness.Unpacker
                    on the central broker (options override
                    harness.unpack_config()), running and connected.
  clients           .collector(broker, topics, **kw) -> started Collector;
                    .publisher(broker, **kw) -> started Publisher.
  telemetry(n, prefix="sensors/") -> n unique real (topic, payload) pairs:
                    harness.telemetry_messages, the corpus cycled to any n
                    (tests/data alone with PUSHRELAY_NO_SHARED=1).
  seeded_random     random.Random seeded from $PUSHRELAY_SEED or the clock
                    (the seed is printed).

Default config: id 'gw-test'; store, log in the test's tmp dir; control
socket in a short /tmp dir; log_level debug; local broker = local_broker;
central = `list address` central_broker, reconnect_min 1, reconnect_max 2;
uplink 'sensors/#' -> 'gw/%i/' qos 1 mode raw (batch, the schema's default,
has its own tests); downlink 'cmd/#' <- 'gw/%i/' qos 1.
"""

import os
import random
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

import harness  # noqa: E402
from harness import (Broker, Collector, Publisher, Relay, RelayConfig,  # noqa: E402,F401
                     Unpacker, default_config, short_dir, unpack_config)


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def _failed(request):
    for when in ("setup", "call"):
        rep = getattr(request.node, "rep_" + when, None)
        if rep is not None and rep.failed:
            return True
    return False


class Registry:
    """Everything a test started, closed in reverse order at teardown."""

    def __init__(self):
        self.items = []
        self.brokers = []
        self.relays = []

    def add(self, obj):
        self.items.append(obj)
        if isinstance(obj, Broker):
            self.brokers.append(obj)
        if isinstance(obj, Relay):
            self.relays.append(obj)
        return obj

    def dump(self):
        for r in self.relays:
            # Taken now if it still runs; else the last one, with its age.
            status = r.status_report()
            print("\n----- %s" % r.log_tail(120))
            print(status)
        for b in self.brokers:
            print("\n----- broker %s (port %d) log %s:\n%s"
                  % (b.name, b.port, b.log_path, b.log_tail(30)))

    def close(self):
        errors = []
        for obj in reversed(self.items):
            try:
                obj.close()
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise errors[0]


@pytest.fixture(scope="session")
def pushrelay_bin():
    path = harness.default_bin()
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail("pushrelay binary not found at %s: run `make` or set "
                    "PUSHRELAY_BIN" % path, pytrace=False)
    return path


@pytest.fixture
def registry(request):
    reg = Registry()
    yield reg
    if _failed(request):
        reg.dump()
    reg.close()


@pytest.fixture
def local_broker(tmp_path, registry):
    return registry.add(Broker(tmp_path, "local")).start()


@pytest.fixture(scope="session")
def central_kind():
    """$PUSHRELAY_CENTRAL_BROKER: "mosquitto" (default) or "aedes"."""
    try:
        return harness.central_broker_kind()
    except harness.HarnessError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def central_broker(tmp_path, registry, central_kind):
    if central_kind == "aedes":
        why = harness.aedes_unavailable()
        if why is not None:
            pytest.skip(why)
    return registry.add(harness.make_broker(central_kind, tmp_path,
                                            "central")).start()


@pytest.fixture
def relay_factory(tmp_path, registry, pushrelay_bin, local_broker,
                  central_broker):
    made = []

    def make(start=True, connected=True, relay=None, local=None, central=None,
             uplinks=None, downlinks=None, config=None, name="relay"):
        workdir = tmp_path / name
        workdir.mkdir(exist_ok=True)
        sockdir = short_dir()
        if config is None:
            config = default_config(workdir, sockdir / "ctl.sock",
                                    local_broker.port, central_broker.port)
            if not central_broker.mqtt5:
                config.central["protocol"] = "311"
            config.relay.update(relay or {})
            config.local.update(local or {})
            config.central.update(central or {})
            if uplinks is not None:
                config.uplinks = [dict(r) for r in uplinks]
            if downlinks is not None:
                config.downlinks = [dict(r) for r in downlinks]
        r = registry.add(Relay(pushrelay_bin, workdir, config, sockdir=sockdir))
        made.append(r)
        if start:
            r.start()
            if connected:
                r.wait_connected()
        return r

    return make


@pytest.fixture
def relay(relay_factory):
    return relay_factory()


@pytest.fixture
def unpacker_factory(tmp_path, registry, pushrelay_bin, central_broker):
    def make(start=True, name="unpack", **options):
        workdir = tmp_path / name
        workdir.mkdir(exist_ok=True)
        sockdir = short_dir()
        if not central_broker.mqtt5:
            options.setdefault("protocol", "311")
        config = unpack_config(workdir, sockdir / "ctl.sock",
                               central_broker.port, **options)
        u = registry.add(Unpacker(pushrelay_bin, workdir, config,
                                  sockdir=sockdir))
        if start:
            u.start()
            u.wait_connected()
        return u

    return make


class Clients:
    def __init__(self, registry):
        self.registry = registry

    @staticmethod
    def _on(broker, kw, default_protocol):
        """The port; kw's protocol 3.1.1 on a broker without MQTT 5."""
        if not hasattr(broker, "port"):
            return int(broker)
        if not broker.mqtt5 and kw.get("protocol", default_protocol) == 5:
            kw["protocol"] = 311
        return broker.port

    def collector(self, broker, topics, **kw):
        port = self._on(broker, kw, 311)
        return self.registry.add(Collector(port, topics, **kw)).start()

    def publisher(self, broker, **kw):
        port = self._on(broker, kw, 5)
        return self.registry.add(Publisher(port, **kw)).start()


@pytest.fixture
def clients(registry):
    return Clients(registry)


@pytest.fixture
def telemetry():
    return harness.telemetry_messages


@pytest.fixture
def seeded_random():
    seed = int(os.environ.get("PUSHRELAY_SEED", int(time.time() * 1000) % 10**9))
    print("random seed: PUSHRELAY_SEED=%d" % seed)
    return random.Random(seed)
