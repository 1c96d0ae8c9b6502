# SPDX-License-Identifier: ISC
"""option user: the relay leaves root after opening what needs root, and
warns when it is left running as root.

The relay starts as root and opens its queue in a directory that the
unprivileged user can write (SQLite creates and removes -wal and -shm
there). That user must not be able to turn the root start into a write,
a create or a chown of a file it does not own: the tests below let a
system user of their own plant symbolic links in place of queue.db and its
companions, once and in a race, and check that every root-owned file stays
as it was (owner, mode, content, change time) and that nothing new
appears in the root-owned directory.
"""

import hashlib
import os
import pwd
import re
import shutil
import signal
import stat
import subprocess
import time

import pytest

from harness import T, bin_argv, short_dir

UP = "gw/gw-test/"
PYTHON = "/usr/bin/python3"

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="dropping privileges needs root")


def _uids(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Uid:"):
                return [int(x) for x in line.split()[1:]]
    raise AssertionError("no Uid line")


def _proc_status(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return line.split(":", 1)[1].strip()
    raise AssertionError("no %s line in /proc/%d/status" % (field, pid))


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
    # No setuid binary or file capability can give root back either.
    assert _proc_status(relay.proc.pid, "NoNewPrivs") == "1"
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


# --------------------------------------------------------------------------
# A hostile relay user: symbolic links where the queue's files belong
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sysuser():
    """A system user of this module's own (not nobody, whose files other
    tests make), removed at the end."""
    if shutil.which("useradd") is None or shutil.which("userdel") is None:
        pytest.skip("useradd/userdel missing: cannot create the "
                    "unprivileged test user")
    name = "prt%d" % os.getpid()
    argv = ["useradd", "--system", "--user-group", "--no-create-home",
            "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
            name]
    for _ in range(50):
        # Another xdist worker may hold the passwd lock for a moment.
        p = subprocess.run(argv, capture_output=True, text=True)
        if p.returncode == 0:
            break
        time.sleep(0.1)
    else:
        pytest.skip("cannot create a system user: %s" % p.stderr.strip())
    try:
        yield pwd.getpwnam(name)
    finally:
        for _ in range(50):
            if subprocess.run(["userdel", name],
                              capture_output=True).returncode in (0, 6):
                break
            time.sleep(0.1)


def _as_user(pw, *argv):
    return ["setpriv", "--reuid=%d" % pw.pw_uid, "--regid=%d" % pw.pw_gid,
            "--clear-groups", "--"] + [str(a) for a in argv]


# Root-owned files in a root-owned directory: what the user would like
# to own or overwrite. The absent names stand for /etc/ld.so.preload.
ROOT_FILES = {"db": (0o600, b"root's database\n"),
              "wal": (0o644, b"root's wal\n"),
              "shm": (0o600, b"root's shm\n")}
ABSENT = ("absent-db", "absent-wal", "absent-shm")


@pytest.fixture
def arena(sysuser):
    """base/root (root's, with ROOT_FILES), base/store (the user's, where
    the queue lives); base is under /tmp so that the user can reach it."""
    base = short_dir("pr-priv-")
    os.chmod(base, 0o755)
    root = base / "root"
    root.mkdir()
    os.chmod(root, 0o755)
    for name, (mode, data) in ROOT_FILES.items():
        (root / name).write_bytes(data)
        os.chmod(root / name, mode)
    store = base / "store"
    store.mkdir()
    os.chown(store, sysuser.pw_uid, sysuser.pw_gid)
    os.chmod(store, 0o755)
    yield {"base": base, "root": root, "store": store, "user": sysuser}
    shutil.rmtree(base, ignore_errors=True)


def _snapshot(d):
    """Everything about every entry of d that a write, create, chown or
    chmod would change."""
    out = {}
    for p in sorted(d.iterdir()):
        st = os.lstat(p)
        out[p.name] = (st.st_uid, st.st_gid, oct(st.st_mode), st.st_size,
                       st.st_mtime_ns, st.st_ctime_ns,
                       hashlib.sha256(p.read_bytes()).hexdigest())
    return out


def _user_run(pw, script, *args):
    subprocess.run(_as_user(pw, PYTHON, "-c", script, *args), check=True,
                   timeout=30)


def _plant(pw, store, links, regular=()):
    """As the user: the symbolic links {name: target} and empty regular
    files in store."""
    args = []
    for name, target in links.items():
        args += [str(store / name), str(target)]
    _user_run(pw, "import sys\n"
              "import os\n"
              "a = sys.argv[1:]\n"
              "for n, t in zip(a[0::2], a[1::2]):\n"
              "    os.symlink(t, n)\n", *args)
    for name in regular:
        _user_run(pw, "import sys\nopen(sys.argv[1], 'wb').close()\n",
                  str(store / name))


def _relay_as_root(relay_factory, arena, **relay_opts):
    opts = {"user": arena["user"].pw_name,
            "store": str(arena["store"] / "queue.db")}
    opts.update(relay_opts)
    return relay_factory(start=False, relay=opts)


@pytest.mark.parametrize("planted", ["queue", "companions"])
@pytest.mark.parametrize("targets", ["existing", "absent"])
def test_symlinked_store_is_refused_and_root_files_stay(
        arena, relay_factory, planted, targets):
    """queue.db (or its -wal and -shm) replaced by links into a root-owned
    directory: the root start refuses with the option and the path, exit
    1, and the linked files are neither created, written nor chowned."""
    root, store, pw = arena["root"], arena["store"], arena["user"]
    names = ["db", "wal", "shm"] if targets == "existing" else list(ABSENT)
    links = {"queue.db-wal": root / names[1], "queue.db-shm": root / names[2]}
    regular = []
    if planted == "queue":
        links["queue.db"] = root / names[0]
    else:
        regular.append("queue.db")
    _plant(pw, store, links, regular)
    before = _snapshot(root)

    relay = _relay_as_root(relay_factory, arena)
    relay.start(wait=False)
    rc = relay.proc.wait(timeout=T(20))
    log = relay.log_text()
    assert rc == 1, "exit %s, want 1\n%s" % (rc, relay.log_tail())
    db = re.escape(str(store / "queue.db"))
    if planted == "queue":
        assert re.search(r"queue %s: is a symbolic link; option store must "
                         r"name the file itself" % db, log), log
    else:
        assert re.search(r"queue %s: %s-wal is a symbolic link" % (db, db),
                         log), log
    assert _snapshot(root) == before
    for name in ABSENT:
        assert not (root / name).exists()
    # The links are left for the administrator to look at.
    for name in links:
        assert (store / name).is_symlink()


SWAPPER = r"""
import os, sys, time
store, root, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
names = ["queue.db", "queue.db-wal", "queue.db-shm"]
targets = [os.path.join(root, t) for t in
           ("db", "wal", "shm", "absent-db", "absent-wal", "absent-shm")]
swaps = 0
end = time.monotonic() + seconds
while time.monotonic() < end:
    for k, n in enumerate(names):
        tmp = os.path.join(store, ".swap-" + n)
        try:
            # One time in four a link: most starts get past the queue's
            # own checks and meet the links at the hand-over instead.
            if (swaps + k) % 4 == 0:
                os.symlink(targets[(swaps + k) % len(targets)], tmp)
            else:
                open(tmp, "wb").close()
            os.rename(tmp, os.path.join(store, n))
        except OSError:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    swaps += 1
print(swaps, flush=True)
"""

RACE_STARTS = 200


def test_symlink_swap_race_during_start_leaves_root_files_untouched(
        arena, relay_factory):
    """The user swaps queue.db, -wal and -shm between links into root's
    directory and its own empty files as fast as it can while root starts
    the relay RACE_STARTS times. Each start either refuses (exit 1) or
    runs as the user; none creates, writes or chowns a file of root's."""
    root, store, pw = arena["root"], arena["store"], arena["user"]
    before = _snapshot(root)
    relay = _relay_as_root(relay_factory, arena)
    swapper = subprocess.Popen(
        _as_user(pw, PYTHON, "-c", SWAPPER, store, root, 600),
        stdout=subprocess.PIPE, text=True)
    outcomes = {"refused at open": 0, "refused at hand-over": 0,
                "other exit 1": 0, "ran as the user": 0}
    try:
        for _ in range(RACE_STARTS):
            after = relay.log_size()
            relay.start(wait=False)
            rx = re.compile(r"running as user %s" % pw.pw_name)
            deadline = time.monotonic() + T(15)
            while relay.proc.poll() is None and time.monotonic() < deadline:
                if rx.search(relay.log_text()[after:]):
                    break
                time.sleep(0.005)
            if relay.proc.poll() is None:
                assert rx.search(relay.log_text()[after:]), relay.log_tail()
                assert _uids(relay.proc.pid) == [pw.pw_uid] * 4
                relay.kill9()
                outcomes["ran as the user"] += 1
            else:
                assert relay.proc.returncode == 1, relay.log_tail()
                text = relay.log_text()[after:]
                if "not handing it over" in text:
                    outcomes["refused at hand-over"] += 1
                elif "symbolic link" in text:
                    outcomes["refused at open"] += 1
                else:
                    outcomes["other exit 1"] += 1
            assert swapper.poll() is None, "the swapper stopped"
    finally:
        swapper.send_signal(signal.SIGKILL)
        swapper.wait()
    print("starts: %s" % outcomes)
    assert _snapshot(root) == before
    for name in ABSENT:
        assert not (root / name).exists()
    for p in root.iterdir():
        assert os.lstat(p).st_uid == 0, p
