# SPDX-License-Identifier: ISC
"""Secrets every user can read: `pushrelay check` and the start warn about
a world-readable key_file, and about a world-readable configuration that
holds a password, proxy_password or psk (docs/config.md). Warnings only:
check still exits 0 and the relay still runs."""

import os
import re
import subprocess

import pytest

from harness import T, bin_argv, make_ca, make_cert


def _check(pushrelay_bin, conf):
    return subprocess.run(bin_argv(pushrelay_bin, "check", "-c", conf),
                          capture_output=True, text=True, timeout=T(30))


def _relay_conf(path, central_opts):
    lines = ["config relay", "\toption id 'gw-test'",
             "config broker 'central'", "\tlist address '127.0.0.1:8883'"]
    lines += ["\toption %s '%s'" % kv for kv in central_opts]
    lines += ["config uplink", "\toption topic 'sensors/#'"]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def keypair(tmp_path_factory):
    d = tmp_path_factory.mktemp("keys")
    make_ca(d, "ca")
    make_cert(d, "client", "ca", "gw-test", client=True)
    return {k: str(d / k) for k in ("ca.pem", "client.pem", "client.key")}


SECRET = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize("option,opts", [
    ("psk", [("psk_identity", "gw"), ("psk", SECRET)]),
    ("password", [("tls", "0"), ("username", "gw"), ("password", SECRET)]),
    ("proxy_password", [("tls", "0"), ("proxy", "127.0.0.1:3128"),
                        ("proxy_username", "gw"),
                        ("proxy_password", SECRET)]),
])
def test_check_warns_about_a_world_readable_config_with_a_secret(
        pushrelay_bin, tmp_path, option, opts):
    conf = _relay_conf(tmp_path / "relay.conf", opts)
    os.chmod(conf, 0o644)
    p = _check(pushrelay_bin, conf)
    assert p.returncode == 0, p.stderr
    assert re.search(r"warning: %s: readable by every user \(mode 0644\) "
                     r"and it holds option %s \(broker 'central'\); "
                     r"chmod o-r it" % (re.escape(str(conf)), option),
                     p.stderr), p.stderr
    assert SECRET not in p.stderr and SECRET not in p.stdout
    os.chmod(conf, 0o640)
    p = _check(pushrelay_bin, conf)
    assert p.returncode == 0 and "warning" not in p.stderr, p.stderr


def test_check_is_quiet_for_a_world_readable_config_without_secrets(
        pushrelay_bin, tmp_path):
    conf = _relay_conf(tmp_path / "relay.conf", [("tls", "0")])
    os.chmod(conf, 0o644)
    p = _check(pushrelay_bin, conf)
    assert p.returncode == 0 and "warning" not in p.stderr, p.stderr


def test_check_warns_about_a_world_readable_key_file(pushrelay_bin, tmp_path,
                                                     keypair):
    conf = _relay_conf(tmp_path / "relay.conf", [
        ("ca_file", keypair["ca.pem"]), ("cert_file", keypair["client.pem"]),
        ("key_file", keypair["client.key"])])
    os.chmod(conf, 0o600)
    os.chmod(keypair["client.key"], 0o644)
    p = _check(pushrelay_bin, conf)
    assert p.returncode == 0, p.stderr
    assert re.search(r"warning: %s: option key_file '%s' \(broker "
                     r"'central'\): the private key is readable by every "
                     r"user \(mode 0644\)" % (re.escape(str(conf)),
                                              re.escape(keypair["client.key"])),
                     p.stderr), p.stderr
    os.chmod(keypair["client.key"], 0o600)
    p = _check(pushrelay_bin, conf)
    assert p.returncode == 0 and "warning" not in p.stderr, p.stderr


def test_unpacker_check_warns_too(pushrelay_bin, tmp_path):
    conf = tmp_path / "unpack.conf"
    conf.write_text("config unpack 'main'\n\toption address '127.0.0.1:1883'"
                    "\n\toption username 'u'\n\toption password 'secret'\n")
    os.chmod(conf, 0o604)
    p = _check(pushrelay_bin, conf)
    assert p.returncode == 0, p.stderr
    assert re.search(r"warning: %s: readable by every user \(mode 0604\) and "
                     r"it holds option password \(config unpack\)"
                     % re.escape(str(conf)), p.stderr), p.stderr


def test_start_warns_in_the_log(relay_factory):
    relay = relay_factory(start=False, central={"username": "gw",
                                                "password": SECRET})
    os.chmod(relay.conf_path, 0o644)
    relay.start()
    relay.wait_log(r"warn: %s: readable by every user \(mode 0644\) and it "
                   r"holds option password \(broker 'central'\)"
                   % re.escape(str(relay.conf_path)))
    assert SECRET not in relay.log_text()
