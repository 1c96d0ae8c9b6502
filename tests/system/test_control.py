# SPDX-License-Identifier: ISC
"""The control socket: mode 0600, refuses other users; `status` output;
what the relay does with whatever stands at the control path, and how
`status` prints a reply it cannot trust."""

import json
import os
import re
import shutil
import socket
import stat
import subprocess
import threading

import pytest

from harness import T, bin_argv, run_cli


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


# --------------------------------------------------------------------------
# What stands at the control path, and who answers there
# --------------------------------------------------------------------------

def _refused_start(relay, pattern):
    relay.start(wait=False)
    rc = relay.proc.wait(timeout=T(20))
    assert rc == 1, "exit %s, want 1\n%s" % (rc, relay.log_tail())
    assert re.search(pattern, relay.log_text()), relay.log_tail()


def test_control_path_holding_a_file_is_refused_and_kept(relay_factory):
    """A control path that names an existing file (a typo for
    /etc/passwd, say) must not cost that file: the start refuses."""
    relay = relay_factory(start=False)
    victim = relay.control_path
    victim.write_bytes(b"precious\n")
    _refused_start(relay, r"control socket %s: exists and is not a socket; "
                   r"option control must name the socket itself"
                   % re.escape(str(victim)))
    assert victim.read_bytes() == b"precious\n"


def test_control_path_that_is_a_symlink_is_refused(relay_factory, tmp_path):
    relay = relay_factory(start=False)
    target = tmp_path / "elsewhere.sock"
    os.symlink(target, relay.control_path)
    _refused_start(relay, r"control socket %s: is a symbolic link"
                   % re.escape(str(relay.control_path)))
    assert os.path.islink(relay.control_path)
    assert not os.path.lexists(target)


def test_control_in_world_writable_non_sticky_directory_is_refused(
        relay_factory):
    """Anyone could replace the socket there; the sticky bit (as on /tmp)
    makes the same directory acceptable."""
    relay = relay_factory(start=False)
    os.chmod(relay.sockdir, 0o777)
    _refused_start(relay, r"control socket %s: directory %s is writable by "
                   r"every user and not sticky" % (
                       re.escape(str(relay.control_path)),
                       re.escape(str(relay.sockdir))))
    assert not os.path.lexists(relay.control_path)
    os.chmod(relay.sockdir, 0o1777)
    relay.start()
    relay.wait_connected()


def test_stop_removes_only_its_own_socket(relay):
    """Whatever took the socket's place while the relay ran stays when it
    stops."""
    newcomer = relay.sockdir / "newcomer"
    newcomer.write_bytes(b"not yours\n")
    os.rename(newcomer, relay.control_path)
    relay.stop()
    assert relay.control_path.read_bytes() == b"not yours\n"


HOSTILE = (b"gw-test \x1b]0;owned\x07 \x1b[2J\x9b31m \xc2\x9b "
           b"\xff\xfe caf\xc3\xa9 \xe2\x82\xac\n\tend\n")


def _fake_relay(path, reply):
    """Listens at path and answers one request line with reply, as the
    relay would."""
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(str(path))
    srv.listen(4)

    def serve():
        try:
            conn, _ = srv.accept()
        except OSError:
            return
        with conn:
            req = b""
            while not req.endswith(b"\n") and len(req) < 256:
                chunk = conn.recv(256)
                if not chunk:
                    break
                req += chunk
            conn.sendall(reply)
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return srv, t


@pytest.mark.parametrize("json_mode", [False, True])
def test_status_prints_a_hostile_reply_escaped(relay_factory, pushrelay_bin,
                                               json_mode):
    """Whatever answers at the control path cannot drive the terminal:
    control characters, C1 controls and bytes that are not UTF-8 come out
    escaped; newlines, tabs and UTF-8 text come out as they are."""
    relay = relay_factory(start=False)
    srv, t = _fake_relay(relay.control_path, HOSTILE)
    try:
        args = ["status", "--json"] if json_mode else ["status"]
        r = subprocess.run(bin_argv(pushrelay_bin, args[0], "-c",
                                    relay.conf_path, *args[1:]),
                           capture_output=True, timeout=T(10))
    finally:
        srv.close()
        t.join(5)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    for raw in (b"\x1b", b"\x07", b"\x9b", b"\xc2\x9b", b"\xff", b"\xfe"):
        assert raw not in out, (raw, out)
    esc = (lambda b: b"\\u%04x" % b) if json_mode else \
        (lambda b: b"\\x%02x" % b)
    for b in (0x1b, 0x07, 0x9b, 0xc2, 0xff, 0xfe):
        assert esc(b) in out, (b, out)
    assert "café €".encode() in out and b"\n\tend\n" in out
