# SPDX-License-Identifier: ISC
"""The central link through an HTTP CONNECT proxy (option proxy), as
corporate and carrier networks need: the relay's own client sends the
CONNECT request with Basic credentials, then speaks MQTT through it."""

import sys
from pathlib import Path

import pytest

from harness import T

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

from httpproxy import HttpProxy  # noqa: E402

UP = "gw/gw-test/"


@pytest.fixture
def proxy():
    p = HttpProxy(user="gw", password="s3cret-pw")
    yield p
    p.stop()


def test_central_link_through_an_authenticating_proxy(
        relay_factory, proxy, local_broker, central_broker, clients):
    col = clients.collector(central_broker, UP + "sensors/#")
    relay = relay_factory(central={"proxy": proxy.address,
                                   "proxy_username": "gw",
                                   "proxy_password": "s3cret-pw"})
    assert proxy.tunnels >= 1
    assert proxy.requests[0].startswith(
        "CONNECT 127.0.0.1:%d HTTP/1.1\r\n" % central_broker.port)
    pub = clients.publisher(local_broker)
    pub.publish("sensors/p/1", b"through the proxy")
    pub.wait_acked()
    col.wait_message(UP + "sensors/p/1", b"through the proxy")
    # Downlink goes the same way back.
    dcol = clients.collector(local_broker, "cmd/#")
    clients.publisher(central_broker).publish(UP + "cmd/x", b"down")
    dcol.wait_message("cmd/x", b"down")
    assert "s3cret-pw" not in relay.log_text()


def test_a_proxy_that_refuses_says_why_and_nothing_leaks(
        relay_factory, proxy, local_broker, central_broker):
    relay = relay_factory(connected=False,
                          central={"proxy": proxy.address,
                                   "proxy_username": "gw",
                                   "proxy_password": "wrong-pw"})
    relay.wait_log(r"central broker: connect: .*407", timeout=T(20))
    assert proxy.tunnels == 0
    assert not relay.status()["central"]["connected"]
    assert "wrong-pw" not in relay.log_text()
    r = relay.cli("check", conf=relay.conf_path)
    assert r.returncode == 0 and "proxy_password" in r.stdout, r.stderr
    assert "wrong-pw" not in r.stdout
