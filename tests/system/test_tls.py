# SPDX-License-Identifier: ISC
"""TLS to the central broker, through the real binary and real Mosquitto
TLS listeners, with certificates these tests make with the openssl command.

Each central broker here has two listeners: a plain one for the test's own
MQTT clients and a TLS one for the relay. The relay's own MQTT client
speaks TLS to it with mbedTLS (docs/tls.md).
"""

import base64
import hashlib
import os
import re
import subprocess

import pytest

from harness import (Broker, T, bin_argv, free_port, make_ca, make_cert,
                     socket_inodes, wait_until)

UP = "gw/gw-test/"


def _mbedtls_major(pushrelay_bin):
    """The major version of the mbedTLS the binary was built against, from
    `pushrelay version` ("pushrelay 0.1.0 (Mbed TLS 3.6.6)")."""
    r = subprocess.run(bin_argv(pushrelay_bin, "version"),
                       capture_output=True, text=True, timeout=30)
    m = re.search(r"TLS (\d+)\.\d+", r.stdout)
    assert m, r.stdout
    return int(m.group(1))


@pytest.fixture(scope="module")
def mbedtls3(pushrelay_bin):
    """Whether the relay under test uses mbedTLS 3.x (TLS 1.3 offered)."""
    return _mbedtls_major(pushrelay_bin) >= 3


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA, another CA, server certificates good, expired and foreign, a
    client certificate, and the server key's SHA-256 pin."""
    d = tmp_path_factory.mktemp("pki")
    for ca in ("ca", "otherca"):
        make_ca(d, ca)
    san = "IP:127.0.0.1,DNS:localhost"
    make_cert(d, "server", "ca", "localhost", san)
    make_cert(d, "expired", "ca", "localhost", san, days="-1")
    make_cert(d, "foreign", "otherca", "localhost", san)
    make_cert(d, "client", "ca", "gw-test", client=True)
    spki = subprocess.run(
        "openssl x509 -in server.pem -pubkey -noout | "
        "openssl pkey -pubin -outform der", shell=True, cwd=d, check=True,
        capture_output=True).stdout
    pin = base64.b64encode(hashlib.sha256(spki).digest()).decode()
    os.chmod(d, 0o755)
    return {"dir": d, "pin": pin, **{k: str(d / k) for k in (
        "ca.pem", "otherca.pem", "server.pem", "server.key", "expired.pem",
        "expired.key", "foreign.pem", "foreign.key", "client.pem",
        "client.key")}}


class TlsCentral:
    """A central Mosquitto with a plain listener (broker.port, for the
    tests' clients) and a TLS listener (tls_port, for the relay)."""

    def __init__(self, tmp_path, registry, pki, cert="server",
                 require_cert=False, psk=None):
        self.tls_port = free_port()
        self.pki = pki
        self.require_cert = require_cert
        self.psk = psk
        self.broker = registry.add(Broker(tmp_path, "central-tls"))
        self.base = self.broker.conf_path.read_text()
        self.use(cert)

    def use(self, cert):
        """Write the config for this server certificate (takes effect at
        the next start)."""
        lines = ["listener %d 127.0.0.1" % self.tls_port]
        if self.psk is not None:
            f = self.broker.dir / "psk.txt"
            f.write_text("%s:%s\n" % self.psk)
            lines += ["psk_hint pushrelay-test", "psk_file %s" % f]
        else:
            lines += ["cafile %s" % self.pki["ca.pem"],
                      "certfile %s" % self.pki[cert + ".pem"],
                      "keyfile %s" % self.pki[cert + ".key"]]
            if self.require_cert:
                lines.append("require_certificate true")
        self.broker.conf_path.write_text(self.base + "\n".join(lines) + "\n")

    @property
    def address(self):
        return "127.0.0.1:%d" % self.tls_port


def _tls_relay(relay_factory, central, connected=True, **opts):
    c = {"address": [central.address], "tls": "1",
         "ca_file": central.pki["ca.pem"], "reconnect_max": "1"}
    c.update(opts)
    return relay_factory(central=c, connected=connected)


def _roundtrip(relay, central, local_broker, clients, tag):
    col = clients.collector(central.broker, UP + "sensors/#")
    pub = clients.publisher(local_broker)
    pub.publish("sensors/tls/" + tag, b"up-" + tag.encode())
    pub.wait_acked()
    col.wait_message(UP + "sensors/tls/" + tag, b"up-" + tag.encode())
    down = clients.collector(local_broker, "cmd/#")
    cpub = clients.publisher(central.broker)
    cpub.publish(UP + "cmd/" + tag, b"down-" + tag.encode())
    cpub.wait_acked()
    down.wait_message("cmd/" + tag, b"down-" + tag.encode())


def test_trusted_broker_relays_both_ways(tmp_path, registry, pki,
                                         relay_factory, local_broker,
                                         clients):
    central = TlsCentral(tmp_path, registry, pki)
    central.broker.start()
    relay = _tls_relay(relay_factory, central)
    _roundtrip(relay, central, local_broker, clients, "ok")
    s = relay.status()
    assert s["wan"]["tls"] is True
    assert s["wan"]["handshakes_full"] >= 1
    assert s["wan"]["tx_bytes"] > 0 and s["wan"]["rx_bytes"] > 0


@pytest.mark.parametrize("case,opts,cert,reason", [
    ("untrusted", {}, "foreign", r"untrusted issuer"),
    ("expired", {}, "expired", r"expired"),
    ("name", {"server_name": "wrong.example"}, "server",
     r"name mismatch: expected 'wrong\.example'"),
    ("pin", {"pin_sha256": ["AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="]},
     "server", r"pin mismatch"),
])
def test_bad_certificate_is_refused_then_delivery_resumes(
        tmp_path, registry, pki, relay_factory, local_broker, clients,
        case, opts, cert, reason):
    """A refused handshake logs why, keeps the queue, and delivery resumes
    once the broker presents a good certificate (or, for the name and the
    pin, once the relay's configuration is fixed and reloaded)."""
    central = TlsCentral(tmp_path, registry, pki, cert=cert)
    central.broker.start()
    relay = _tls_relay(relay_factory, central, connected=False, **opts)
    relay.wait_log(r"central broker: connect: broker 127\.0\.0\.1:%d: .*%s"
                   % (central.tls_port, reason), timeout=T(20))
    # The local session must exist before the publisher publishes.
    relay.wait_status(lambda s: s["local"]["connected"],
                      what="local connected")
    col = clients.collector(central.broker, UP + "sensors/#")
    pub = clients.publisher(local_broker)
    msgs = [("sensors/q/%d" % i, b"queued %d" % i) for i in range(50)]
    pub.publish_many(msgs)
    s = relay.wait_status(lambda s: s["queue"]["uplink"]["messages"] == 50,
                          what="50 messages queued while TLS is refused")
    assert not s["central"]["connected"]
    assert s["wan"]["handshakes_failed"] >= 1
    if case == "pin":
        relay.config.central["pin_sha256"] = [pki["pin"]]
        relay.write_config()
        relay.hup()
    elif case == "name":
        del relay.config.central["server_name"]
        relay.write_config()
        relay.hup()
    else:
        central.broker.stop()
        central.use("server")
        central.broker.start()
    col.wait_unique(50, timeout=T(60))
    assert {(t, p) for t, p in col.pairs(strip_prefix=UP)} == set(msgs)


def test_mutual_tls(tmp_path, registry, pki, relay_factory, local_broker,
                    clients):
    central = TlsCentral(tmp_path, registry, pki, require_cert=True)
    central.broker.start()
    relay = _tls_relay(relay_factory, central, connected=False)
    relay.wait_log(r"central broker: connect: broker .*(certificate|alert|closed)",
                   timeout=T(20))
    assert not relay.status()["central"]["connected"]
    relay.stop()
    relay2 = _tls_relay(relay_factory, central, cert_file=pki["client.pem"],
                        key_file=pki["client.key"])
    _roundtrip(relay2, central, local_broker, clients, "mtls")


def test_psk(tmp_path, registry, pki, relay_factory, local_broker, clients):
    key = "0123456789abcdef0123456789abcdef"
    central = TlsCentral(tmp_path, registry, pki, psk=("gw-test", key))
    central.broker.start()
    relay = _tls_relay(relay_factory, central, psk_identity="gw-test",
                       psk=key)
    _roundtrip(relay, central, local_broker, clients, "psk")
    assert key not in relay.log_text()


def test_psk_wrong_key_is_refused(tmp_path, registry, pki, relay_factory):
    central = TlsCentral(tmp_path, registry, pki,
                         psk=("gw-test", "0123456789abcdef0123456789abcdef"))
    central.broker.start()
    relay = _tls_relay(relay_factory, central, connected=False,
                       psk_identity="gw-test", psk="ffffffffffffffffffffffff")
    relay.wait_log(r"central broker: connect: broker .*PSK refused", timeout=T(20))
    assert "ffffffffffffffffffffffff" not in relay.log_text()


def test_reconnect_resumes_the_tls_session(tmp_path, registry, pki,
                                           relay_factory, local_broker,
                                           clients):
    central = TlsCentral(tmp_path, registry, pki)
    central.broker.start()
    relay = _tls_relay(relay_factory, central)
    before = relay.status()
    # Take the relay's client id over: the broker drops the relay, which
    # reconnects at once and resumes its TLS session.
    kicker = clients.publisher(central.broker, client_id="pushrelay-gw-test")
    kicker.close()
    s = relay.wait_status(
        lambda s: s["central"]["connected"] and
        s["central"]["reconnects"] > before["central"]["reconnects"],
        timeout=T(30), what="relay reconnected after the takeover")
    s = relay.wait_status(lambda s: s["wan"]["handshakes_resumed"] >= 1,
                          what="a resumed handshake")
    assert s["wan"]["handshakes_full"] == before["wan"]["handshakes_full"]
    _roundtrip(relay, central, local_broker, clients, "resumed")


def test_alpn_is_offered(tmp_path, pki, relay_factory):
    """openssl s_server plays the central broker and reports the ALPN
    protocols the relay's ClientHello offered."""
    port = free_port()
    log = tmp_path / "s_server.log"
    with open(log, "wb") as out:
        srv = subprocess.Popen(
            ["openssl", "s_server", "-accept", "127.0.0.1:%d" % port,
             "-cert", pki["server.pem"], "-key", pki["server.key"],
             "-alpn", "mqtt"], stdin=subprocess.PIPE, stdout=out,
            stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: b"ACCEPT" in log.read_bytes(), T(10),
                   what="s_server to listen")
        relay_factory(central={"address": ["127.0.0.1:%d" % port],
                               "tls": "1", "ca_file": pki["ca.pem"],
                               "alpn": ["mqtt"]}, connected=False)
        wait_until(lambda: re.search(
            rb"ALPN protocols advertised by the client: mqtt",
            log.read_bytes()), T(20), what="s_server to see the ALPN offer",
            details=lambda: log.read_text(errors="replace"))
    finally:
        srv.kill()
        srv.wait()


def _listening_ports(pid):
    inodes = socket_inodes(pid)
    ports = []
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            parts = line.split()
            if parts[3] == "0A" and parts[9] in inodes:
                ports.append(int(parts[1].split(":")[1], 16))
    return ports


def test_relay_listens_on_no_tcp_port(relay, local_broker, central_broker,
                                     clients):
    """The relay speaks MQTT itself, so it opens no loopback endpoint a
    local user could reach (0.1's tunnel had one per broker)."""
    assert relay.status()["local"]["connected"]
    assert _listening_ports(relay.proc.pid) == []
    col = clients.collector(central_broker, UP + "sensors/#")
    pub = clients.publisher(local_broker)
    pub.publish("sensors/after/probe", b"still relaying")
    pub.wait_acked()
    col.wait_message(UP + "sensors/after/probe", b"still relaying")


def test_binary_links_mbedtls_and_no_openssl(pushrelay_bin):
    # readelf reads the dynamic section of a binary of any architecture, so
    # the direct check holds for a cross build too. ldd runs the host's
    # loader, so the check of everything loaded (the libraries' own
    # dependencies too) is for a native binary, run without a wrapper.
    r = subprocess.run(["readelf", "-d", str(pushrelay_bin)],
                       capture_output=True, text=True, check=True)
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", r.stdout)
    assert any(n.startswith("libmbedtls.so") for n in needed), needed
    assert not any(n.startswith(("libssl", "libcrypto", "libpaho"))
                   for n in needed), needed
    if os.environ.get("PUSHRELAY_WRAP"):
        return
    out = subprocess.run(["ldd", str(pushrelay_bin)], capture_output=True,
                         text=True, check=True).stdout
    assert "libmbedtls" in out
    assert "libssl" not in out and "libcrypto" not in out, out


def test_check_reports_tls_problems_at_their_lines(pushrelay_bin, tmp_path,
                                                   pki):
    """Unreadable files, a key that does not match its certificate and a
    malformed pin: each named with file, line and option; exit 2; the PSK
    never printed."""
    conf = tmp_path / "relay.conf"
    conf.write_text("\n".join([
        "config relay",                                        # 1
        "\toption id 'gw-test'",                               # 2
        "config broker 'central'",                             # 3
        "\tlist address '127.0.0.1:8883'",                     # 4
        "\toption ca_file '%s'" % (tmp_path / "missing.pem"),  # 5
        "\toption cert_file '%s'" % pki["client.pem"],         # 6
        "\toption key_file '%s'" % pki["server.key"],          # 7
        "\tlist pin_sha256 'not-a-pin'",                       # 8
        "config uplink",                                       # 9
        "\toption topic 'sensors/#'",                          # 10
    ]) + "\n")
    p = subprocess.run(bin_argv(pushrelay_bin, "check", "-c", conf),
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 2, p.stdout
    err = p.stderr
    assert re.search(r"%s:5: option ca_file: .*missing\.pem" % re.escape(
        str(conf)), err), err
    assert re.search(r"%s:7: option key_file: .*(match|pair)" % re.escape(
        str(conf)), err, re.I), err
    assert re.search(r"%s:8: option pin_sha256: " % re.escape(str(conf)),
                     err), err

    psk = "00112233445566778899aabbccddeeff"
    conf.write_text("\n".join([
        "config relay", "\toption id 'gw-test'",
        "config broker 'central'", "\tlist address '127.0.0.1:8883'",
        "\toption psk_identity 'gw'", "\toption psk '%s'" % psk,
        "config uplink", "\toption topic 'sensors/#'"]) + "\n")
    p = subprocess.run(bin_argv(pushrelay_bin, "check", "-c", conf),
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert psk not in p.stdout and "option psk '********'" in p.stdout


# --------------------------------------------------------------------------
# What the relay offers, and what it refuses (openssl s_server plays the
# broker and says what the ClientHello held and what was agreed)
# --------------------------------------------------------------------------

ALL_SUITES = "ALL:COMPLEMENTOFALL:@SECLEVEL=0"
PSK_KEY = "00112233445566778899aabbccddeeff"

# The relay's offers in OpenSSL's names (docs/tls.md), in its order; with
# mbedTLS 3.x the TLS 1.3 suites come first.
TLS13_OFFER = ["TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256",
               "TLS_AES_256_GCM_SHA384"]
CERT_OFFER = ["ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-ECDSA-AES128-GCM-SHA256",
              "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-CHACHA20-POLY1305",
              "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384"]
PSK_OFFER = ["ECDHE-PSK-CHACHA20-POLY1305", "PSK-CHACHA20-POLY1305",
             "PSK-AES128-GCM-SHA256", "PSK-AES256-GCM-SHA384"]


@pytest.fixture(scope="module")
def rsa_server(pki):
    """An RSA-2048 server certificate from the same CA, for the suites
    that need an RSA key (static RSA, DHE-RSA)."""
    d = pki["dir"]
    subprocess.run(["openssl", "req", "-newkey", "rsa:2048", "-nodes",
                    "-keyout", "rsa.key", "-out", "rsa.csr", "-subj",
                    "/CN=localhost"], cwd=d, check=True, capture_output=True)
    (d / "rsa.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    subprocess.run(["openssl", "x509", "-req", "-in", "rsa.csr", "-CA",
                    "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out",
                    "rsa.pem", "-days", "30", "-extfile", "rsa.ext"],
                   cwd=d, check=True, capture_output=True)
    return {"cert": str(d / "rsa.pem"), "key": str(d / "rsa.key")}


class SServer:
    """`openssl s_server` on a free port with the given options; its
    output (what it saw of each handshake) in a log file."""

    def __init__(self, tmp_path, args, tls12=True):
        self.port = free_port()
        self.log = tmp_path / ("s_server-%d.log" % self.port)
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                ["openssl", "s_server", "-accept", "127.0.0.1:%d" % self.port]
                + (["-tls1_2"] if tls12 else []) + list(args),
                stdin=subprocess.PIPE,
                stdout=out, stderr=subprocess.STDOUT)
        wait_until(lambda: b"ACCEPT" in self.log.read_bytes(), T(10),
                   what="s_server to listen")

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def text(self):
        return self.log.read_text(errors="replace")

    def field(self, name):
        """The colon-separated list after 'NAME:' in the first handshake."""
        m = wait_until(lambda: re.search(r"^%s: ?(.*)$" % re.escape(name),
                                         self.text(), re.M), T(20),
                       what="s_server to print %s" % name,
                       details=self.text)
        return m.group(1).strip().split(":")

    def close(self):
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def s_server(tmp_path):
    made = []

    def make(*args, tls12=True):
        srv = SServer(tmp_path, args, tls12=tls12)
        made.append(srv)
        return srv
    yield make
    for srv in made:
        srv.close()


def _relay_on(relay_factory, srv, pki, name="relay", **opts):
    c = {"address": [srv.address], "tls": "1", "ca_file": pki["ca.pem"],
         "reconnect_max": "1"}
    c.update(opts)
    return relay_factory(central=c, connected=False, name=name)


def test_offers_only_ecdhe_aead_x25519_p256_p384_sha256_up(
        pki, relay_factory, s_server, mbedtls3):
    """A server that would take anything sees the whole offer: six ECDHE
    suites with AEAD ciphers (and the three TLS 1.3 suites with mbedTLS
    3.x), three groups, SHA-256 and up. Before, the relay offered some 80
    suites and groups down to secp192r1."""
    srv = s_server("-cert", pki["server.pem"], "-key", pki["server.key"],
                   "-cipher", ALL_SUITES)
    _relay_on(relay_factory, srv, pki)
    assert srv.field("Shared ciphers") == \
        (TLS13_OFFER if mbedtls3 else []) + CERT_OFFER
    assert srv.field("Supported groups") == ["x25519", "secp256r1",
                                             "secp384r1"]
    sigs = srv.field("Signature Algorithms")
    assert sigs and all(re.fullmatch(r"(ECDSA|RSA|RSA-PSS)\+SHA(256|384|512)",
                                     s) for s in sigs), sigs
    assert re.search(r"^CIPHER is ECDHE-ECDSA-", srv.text(), re.M)


def _refused(relay, srv):
    relay.wait_log(r"central broker: connect: broker %s: tls handshake"
                   % re.escape(srv.address), timeout=T(20))
    assert not re.search(r"^CIPHER is", srv.text(), re.M), srv.text()
    assert not relay.status()["central"]["connected"]


@pytest.mark.parametrize("key,args", [
    ("rsa", ["-cipher", "AES128-SHA"]),               # static RSA, CBC-SHA1
    ("rsa", ["-cipher", "AES128-GCM-SHA256"]),        # static RSA, AEAD
    ("rsa", ["-cipher", "DHE-RSA-AES128-GCM-SHA256"]),  # finite-field DHE
    ("ec", ["-cipher", "ECDHE-ECDSA-AES128-SHA"]),    # CBC with SHA-1
    ("ec", ["-cipher", "ECDHE-ECDSA-AES256-SHA384"]),  # CBC
    ("ec", ["-cipher", "ECDHE-ECDSA-AES128-CCM8"]),   # 8-byte tag
    ("ec", ["-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256:@SECLEVEL=0",
            "-groups", "secp192r1"]),
    ("ec", ["-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256:@SECLEVEL=0",
            "-groups", "secp224r1"]),
    ("ec", ["-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256:@SECLEVEL=0",
            "-sigalgs", "ECDSA+SHA1"]),
], ids=["rsa-cbc-sha1", "rsa-static-gcm", "dhe-rsa", "ecdhe-cbc-sha1",
        "ecdhe-cbc-sha384", "ccm8", "secp192r1", "secp224r1", "sig-sha1"])
def test_weak_server_choices_are_refused(pki, rsa_server, relay_factory,
                                         s_server, key, args):
    """A server that can only choose a weak suite, group or signature
    hash gets no handshake; the relay stays disconnected and says so."""
    cert = (rsa_server["cert"], rsa_server["key"]) if key == "rsa" else \
        (pki["server.pem"], pki["server.key"])
    srv = s_server("-cert", cert[0], "-key", cert[1], *args)
    relay = _relay_on(relay_factory, srv, pki)
    _refused(relay, srv)


def test_tls13_with_mbedtls3_else_tls12(pki, relay_factory, s_server,
                                       mbedtls3):
    """A server that speaks TLS 1.3 and 1.2: the mbedTLS 3.x relay agrees
    on TLS 1.3 and ChaCha20-Poly1305 (its first choice), the 2.28 one on
    TLS 1.2 and ECDHE-ECDSA with ChaCha20-Poly1305."""
    srv = s_server("-cert", pki["server.pem"], "-key", pki["server.key"],
                   tls12=False)
    _relay_on(relay_factory, srv, pki)
    want = "TLS_CHACHA20_POLY1305_SHA256" if mbedtls3 else \
        "ECDHE-ECDSA-CHACHA20-POLY1305"
    wait_until(lambda: re.search(r"^CIPHER is %s$" % want, srv.text(), re.M),
               T(20), what="a handshake with %s" % want, details=srv.text)


def test_tls13_only_tls_ciphers(pki, relay_factory, s_server, mbedtls3):
    """tls_ciphers naming only TLS 1.3 suites: TLS 1.3 alone with mbedTLS
    3.x, so a TLS 1.2-only server gets no handshake."""
    if not mbedtls3:
        pytest.skip("TLS 1.3 needs the mbedTLS 3.x build (make MBEDTLS=3)")
    srv = s_server("-cert", pki["server.pem"], "-key", pki["server.key"],
                   "-cipher", ALL_SUITES)
    relay = _relay_on(relay_factory, srv, pki,
                      tls_ciphers=["TLS_AES_256_GCM_SHA384"])
    _refused(relay, srv)


def test_ecdhe_rsa_with_an_rsa_certificate_still_works(pki, rsa_server,
                                                       relay_factory,
                                                       s_server):
    srv = s_server("-cert", rsa_server["cert"], "-key", rsa_server["key"],
                   "-cipher", ALL_SUITES)
    _relay_on(relay_factory, srv, pki)
    wait_until(lambda: re.search(r"^CIPHER is ECDHE-RSA-(CHACHA20-POLY1305|"
                                 r"AES(128|256)-GCM-SHA(256|384))$",
                                 srv.text(), re.M), T(20),
               what="an ECDHE-RSA AEAD handshake", details=srv.text)


def _psk_server(s_server, cipher):
    return s_server("-nocert", "-psk", PSK_KEY, "-psk_identity", "gw-test",
                    "-cipher", cipher)


def test_psk_offers_only_aead(pki, relay_factory, s_server):
    srv = _psk_server(s_server, ALL_SUITES)
    _relay_on(relay_factory, srv, pki, psk_identity="gw-test", psk=PSK_KEY)
    assert srv.field("Shared ciphers") == PSK_OFFER
    assert re.search(r"^CIPHER is ECDHE-PSK-CHACHA20-POLY1305$", srv.text(),
                     re.M), srv.text()


@pytest.mark.parametrize("cipher", ["PSK-AES128-CBC-SHA256",
                                    "ECDHE-PSK-AES128-CBC-SHA256",
                                    "PSK-AES128-CBC-SHA",
                                    "PSK-AES128-CCM8"])
def test_psk_weak_server_choices_are_refused(pki, relay_factory, s_server,
                                             cipher):
    srv = _psk_server(s_server, cipher)
    relay = _relay_on(relay_factory, srv, pki, psk_identity="gw-test",
                      psk=PSK_KEY)
    _refused(relay, srv)


def test_tls_ciphers_picks_and_orders_the_offer(pki, relay_factory,
                                                s_server):
    """option tls_ciphers, IANA or mbedTLS names in any case: exactly
    those suites are offered, in that order."""
    srv = s_server("-cert", pki["server.pem"], "-key", pki["server.key"],
                   "-cipher", ALL_SUITES)
    _relay_on(relay_factory, srv, pki, tls_ciphers=[
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        "tls-ecdhe-ecdsa-with-aes-128-gcm-sha256"])
    assert srv.field("Shared ciphers") == ["ECDHE-ECDSA-AES256-GCM-SHA384",
                                           "ECDHE-ECDSA-AES128-GCM-SHA256"]
    srv2 = s_server("-cert", pki["server.pem"], "-key", pki["server.key"],
                    "-cipher", "ECDHE-ECDSA-CHACHA20-POLY1305")
    # Its own directory: a queue is opened by one process at a time.
    relay2 = _relay_on(relay_factory, srv2, pki, name="relay2", tls_ciphers=[
        "TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384"])
    _refused(relay2, srv2)


def test_check_refuses_weak_or_unknown_tls_ciphers(pushrelay_bin, tmp_path,
                                                   pki):
    conf = tmp_path / "relay.conf"
    conf.write_text("\n".join([
        "config relay",                                             # 1
        "\toption id 'gw-test'",                                    # 2
        "config broker 'central'",                                  # 3
        "\tlist address '127.0.0.1:8883'",                          # 4
        "\toption ca_file '%s'" % pki["ca.pem"],                    # 5
        "\tlist tls_ciphers 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256'",  # 6
        "\tlist tls_ciphers 'TLS_RSA_WITH_AES_128_CBC_SHA'",        # 7
        "\tlist tls_ciphers 'TLS-ECDHE-ECDSA-WITH-AES-128-CCM-8'",  # 8
        "\tlist tls_ciphers 'TLS_PSK_WITH_AES_128_GCM_SHA256'",     # 9
        "\tlist tls_ciphers 'ECDHE-RSA-AES128-GCM-SHA256'",         # 10
        "config uplink",                                            # 11
        "\toption topic 'sensors/#'",                               # 12
    ]) + "\n")
    p = subprocess.run(bin_argv(pushrelay_bin, "check", "-c", conf),
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 2, p.stdout
    f = re.escape(str(conf))
    err = p.stderr
    assert not re.search(r":6: ", err), err
    for line, why in ((7, "refused: not one of the suites offered"),
                      (8, "refused: not one of the suites offered"),
                      (9, "a PSK suite, and no psk is set"),
                      (10, "unknown cipher suite")):
        assert re.search(r"%s:%d: option tls_ciphers: .*%s" % (f, line, why),
                         err), err


def test_daily_wan_quota_counts_tls_records(tmp_path, registry, pki,
                                            relay_factory, local_broker,
                                            clients, telemetry):
    """With TLS the WAN budget counts TLS records (status wan, more than
    the MQTT bytes inside them); over the quota the rest waits in the
    queue, as over plain TCP."""
    central = TlsCentral(tmp_path, registry, pki)
    central.broker.start()
    relay = _tls_relay(relay_factory, central)
    c = relay.conf_path.read_text().replace(
        "config relay 'main'",
        "config relay 'main'\n\toption daily_wan_quota '6000'", 1)
    relay.conf_path.write_text(c)
    relay.hup()
    relay.wait_log(r"reload: configuration applied")
    msgs = telemetry(100)
    clients.publisher(local_broker).publish_many(msgs)
    s = relay.wait_status(
        lambda s: s["wan"]["budget"]["paused"] and
        s["received"]["uplink"] == len(msgs) and
        s["queue"]["uplink"]["inflight"] == 0,
        what="the quota spent over TLS, the rest queued")
    b = s["wan"]["budget"]
    assert b["used_today"] >= 6000 and b["daily_wan_quota"] == 6000
    assert s["queue"]["uplink"]["messages"] > 0
    # TLS records cost more than the MQTT bytes inside them.
    assert s["wan"]["tx_bytes"] > s["central"]["tx_bytes"]
