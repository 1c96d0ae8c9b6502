"""The control socket: mode 0600, refuses other users; `status` output."""

import json
import os
import re
import shutil
import stat
import subprocess

import pytest

from harness import run_cli


def _clear_failure(r, sock):
    text = r.stderr
    assert r.returncode == 1, "exit %d, want 1\n%s%s" % (r.returncode, r.stdout, text)
    assert text.strip(), "a message on stderr"
    assert re.search(r"(?i)not running|connect|refused|denied|permission|%s"
                     % re.escape(str(sock)), text), text


def test_control_socket_is_mode_0600(relay):
    st = os.lstat(relay.control_path)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o600, oct(stat.S_IMODE(st.st_mode))
    assert st.st_uid == os.geteuid()


def test_status_refused_for_another_user(relay, pushrelay_bin):
    if os.geteuid() != 0:
        pytest.skip("needs root to run status as another user")
    # Make everything but the socket itself reachable by nobody, so that the
    # socket's mode is the only thing that refuses.
    os.chmod(relay.sockdir, 0o755)
    conf = relay.sockdir / "status.conf"
    shutil.copy(relay.status_conf_path, conf)
    os.chmod(conf, 0o644)
    probe = subprocess.run(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--",
         "/bin/sh", "-c", 'test -x "$1" && test -r "$2" && test -x "$3"', "sh",
         str(pushrelay_bin), str(conf), str(relay.sockdir)])
    # Through $PUSHRELAY_WRAP too (qemu and the sysroot for a cross build).
    runs = run_cli(pushrelay_bin, "version", user="nobody")
    if probe.returncode != 0 or runs.returncode != 0:
        pytest.skip("user nobody cannot reach %s or %s" % (pushrelay_bin, conf))

    r = run_cli(pushrelay_bin, "status", "--json", conf=conf, user="nobody")
    _clear_failure(r, relay.control_path)
    assert "gw-test" not in r.stdout, "no state leaked to another user"
    # The owner still gets an answer, and the relay is unharmed.
    r = run_cli(pushrelay_bin, "status", "--json", conf=conf)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["id"] == "gw-test"


def test_status_human_readable(relay, pushrelay_bin):
    r = run_cli(pushrelay_bin, "status", conf=relay.conf_path)
    assert r.returncode == 0, r.stderr
    assert "gw-test" in r.stdout
    r = run_cli(pushrelay_bin, "status", "--json", conf=relay.conf_path)
    assert r.returncode == 0
    s = json.loads(r.stdout)
    assert s["id"] == "gw-test"


def test_status_when_the_relay_is_not_running(relay_factory, pushrelay_bin):
    relay = relay_factory(start=False)
    r = run_cli(pushrelay_bin, "status", conf=relay.conf_path)
    _clear_failure(r, relay.control_path)


def test_status_after_kill9_leaves_a_stale_socket(relay, pushrelay_bin):
    relay.kill9()
    r = run_cli(pushrelay_bin, "status", "--json", conf=relay.conf_path)
    _clear_failure(r, relay.control_path)
    # and a new relay takes the stale socket over
    relay.start()
    relay.wait_connected()
