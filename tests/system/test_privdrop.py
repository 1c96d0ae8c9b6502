"""option user: the relay leaves root after opening what needs root, and
warns when it is left running as root."""

import os
import pwd
import subprocess

import pytest

from harness import bin_argv

UP = "gw/gw-test/"

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="dropping privileges needs root")


def _uids(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Uid:"):
                return [int(x) for x in line.split()[1:]]
    raise AssertionError("no Uid line")


def test_user_option_drops_root_and_keeps_relaying(tmp_path, relay_factory,
                                                   local_broker,
                                                   central_broker, clients):
    nobody = pwd.getpwnam("nobody")
    store = tmp_path / "store"
    store.mkdir()
    # SQLite creates and removes the -wal/-shm files beside the queue.
    os.chown(store, nobody.pw_uid, nobody.pw_gid)
    relay = relay_factory(relay={"user": "nobody",
                                 "store": str(store / "queue.db")})
    relay.wait_log(r"running as user nobody")
    assert _uids(relay.proc.pid) == [nobody.pw_uid] * 4
    assert os.stat(store / "queue.db").st_uid == nobody.pw_uid
    # The control socket still answers root (and only its owner and root).
    st = os.stat(relay.control_path)
    assert st.st_mode & 0o777 == 0o600 and st.st_uid == nobody.pw_uid
    col = clients.collector(central_broker, UP + "sensors/#")
    pub = clients.publisher(local_broker)
    pub.publish("sensors/priv/x", b"as nobody")
    pub.wait_acked()
    col.wait_message(UP + "sensors/priv/x", b"as nobody")
    assert relay.status()["forwarded"]["uplink"] >= 1


def test_running_as_root_without_user_warns(relay):
    relay.wait_log(r"warn: running as root: set option user")
    assert _uids(relay.proc.pid)[0] == 0


def test_unknown_user_is_a_config_error(pushrelay_bin, relay_factory):
    relay = relay_factory(start=False, relay={"user": "no-such-user-x"})
    p = subprocess.run(bin_argv(pushrelay_bin, "check", "-c", relay.conf_path),
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 2
    assert "option user: no such user 'no-such-user-x'" in p.stderr
