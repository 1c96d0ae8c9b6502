# SPDX-License-Identifier: ISC
"""Packaging checks: the OpenWrt feed (openwrt/) and package
(openwrt/net/pushrelay), the source tarball, the systemd unit.

We cannot boot OpenWrt or run the SDK here, so this tests what the machine
allows:
  - the feed's layout, through tests/openwrt/feed-scan.sh (what
    scripts/feeds and include/scan.mk do with a src-link feed or a
    symlinked package), and that the script refuses broken layouts;
  - shellcheck -s sh on the init and uci-defaults scripts;
  - the init script's behaviour, run by tests/openwrt/procd-standin.sh
    (rc.common, procd.sh, uci and logger as shell functions that record
    their calls) with the real `pushrelay check`: disabled by default,
    check before start, no instance for a broken file, user, no_new_privs,
    jail, triggers, no store directory outside RAM, keep.d;
  - the uci-defaults script gives each router its own id;
  - the default /etc/config/pushrelay passes `pushrelay check` once it has
    an id;
  - `make dist` is reproducible; LICENSE and SPDX lines are there;
  - the package Makefile evaluated by GNU make against stub rules.mk and
    package.mk: Build/Prepare unpacks `make dist`, Build/Compile builds it
    (with the host compiler), Package/pushrelay/install lays out the files;
  - systemd-analyze verify on the unit, with no warning at all.

Needs the Debian packages shellcheck and systemd (tests/setup-deps.sh).
"""

import os
import pwd
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from harness import bin_argv

ROOT = Path(__file__).resolve().parents[2]
FEED = ROOT / "openwrt"
OPENWRT = FEED / "net" / "pushrelay"
INIT = OPENWRT / "files" / "pushrelay.init"
UCI_CONF = OPENWRT / "files" / "pushrelay.config"
UCI_DEFAULTS = OPENWRT / "files" / "pushrelay.uci-defaults"
KEEP = OPENWRT / "files" / "pushrelay.keep"
STANDIN = ROOT / "tests" / "openwrt" / "procd-standin.sh"
FEED_SCAN = ROOT / "tests" / "openwrt" / "feed-scan.sh"
UNIT = ROOT / "cross" / "systemd" / "pushrelay.service"


def need(tool):
    path = shutil.which(tool)
    if path is None:
        pytest.fail("%s not found: install it (tests/setup-deps.sh)" % tool,
                    pytrace=False)
    return path


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                          **kw)


# --- the feed's layout ----------------------------------------------------

def test_feed_layout_scan():
    # src-link and the plain symlink both index the package once, and its
    # Makefile, evaluated through the links, finds the tree.
    r = run(["sh", str(FEED_SCAN), str(FEED)])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "src-link: pushrelay/net/pushrelay -> " \
        "package/feeds/pushrelay/pushrelay" in r.stdout
    assert "symlink: %s -> package/pushrelay" % OPENWRT in r.stdout
    assert not (FEED / "Makefile").exists()


def _broken_root_makefile(feed):
    (feed / "Makefile").write_text("all:\n")
    return "a Makefile at the feed's root"


def _broken_same_dir_name(feed):
    (feed / "utils" / "pushrelay").mkdir(parents=True)
    shutil.copy(OPENWRT / "Makefile", feed / "utils" / "pushrelay")
    return "directory name(s) seen twice"


def _broken_same_package_name(feed):
    (feed / "net" / "pushrelay2").mkdir()
    shutil.copy(OPENWRT / "Makefile", feed / "net" / "pushrelay2")
    return "package name(s) defined twice: pushrelay"


@pytest.mark.parametrize("breakage", [_broken_root_makefile,
                                      _broken_same_dir_name,
                                      _broken_same_package_name],
                         ids=["root-makefile", "same-dir-name",
                              "same-package-name"])
def test_feed_scan_refuses_broken_layouts(tmp_path, breakage):
    # The check can fail: copies of the feed, each broken one way. The
    # copy sits in a copy of the tree's top, so its sources resolve.
    tree = tmp_path / "tree"
    shutil.copytree(FEED, tree / "openwrt", symlinks=True)
    why = breakage(tree / "openwrt")
    r = run(["sh", str(FEED_SCAN), str(tree / "openwrt")])
    assert r.returncode == 1, r.stdout + r.stderr
    assert why in r.stderr, r.stderr


# --- the procd init script and the uci-defaults script -------------------

@pytest.mark.parametrize("script", [INIT, UCI_DEFAULTS],
                         ids=["init", "uci-defaults"])
def test_scripts_shellcheck(script):
    # The scripts carry their own shellcheck directives (SC2034 for the
    # variables rc.common reads, SC3043 for ash's `local`), so plain
    # `shellcheck -s sh` must be clean.
    r = run([need("shellcheck"), "-s", "sh", str(script)])
    assert r.returncode == 0, r.stdout + r.stderr


def test_init_script_header():
    text = INIT.read_text()
    assert text.startswith("#!/bin/sh /etc/rc.common\n")
    for line in ("USE_PROCD=1", "START=95"):
        assert line in text.splitlines()


def conf_text(enabled="1", relay_id="gw-test", store=None, control=None,
              extra_relay="", broken=False, address="mqtt.example.net:8883"):
    """The shipped /etc/config/pushrelay with the given changes."""
    text = UCI_CONF.read_text()
    if address is not None:
        old = "\t#list address 'mqtt.example.net:8883'"
        assert old in text
        text = text.replace(old, "\tlist address '%s'" % address, 1)
    assert "\toption enabled '0'" in text
    new = "\toption enabled '%s'\n" % enabled
    if relay_id is not None:
        new += "\toption id '%s'\n" % relay_id
    new += extra_relay
    text = text.replace("\toption enabled '0'", new.rstrip("\n"), 1)
    if store is not None:
        text = text.replace("option store '/tmp/pushrelay/queue.db'",
                            "option store '%s'" % store, 1)
    if control is not None:
        text = text.replace(
            "option control '/var/run/pushrelay/pushrelay.sock'",
            "option control '%s'" % control, 1)
    if broken:
        text = text.replace("option keepalive '60'",
                            "option keepalive 'often'", 1)
    return text


# Debian's sh is dash; OpenWrt's is busybox ash (tests/setup-deps.sh
# installs busybox). Both run the init and uci-defaults scripts.
SHELLS = [("sh",), ("busybox", "sh")]


@pytest.fixture(params=SHELLS, ids=["dash", "busybox-ash"])
def shell(request):
    need(request.param[0])
    return list(request.param)


class Standin:
    """Runs the init script under tests/openwrt/procd-standin.sh."""

    def __init__(self, tmp_path, pushrelay_bin, shell):
        self.shell = shell
        self.dir = tmp_path
        self.log = tmp_path / "calls.log"
        self.conf = tmp_path / "pushrelay.conf"
        self.keep = tmp_path / "keep.d-pushrelay"
        self.mounts = tmp_path / "mounts"
        self.mounts.write_text("overlayfs:/overlay / overlay rw 0 0\n"
                               "tmpfs /tmp tmpfs rw 0 0\n")
        # PROG: records that check ran, in order, then runs the real one.
        self.prog = tmp_path / "pushrelay-wrapper"
        self.prog.write_text('#!/bin/sh\nprintf "pushrelay %%s\\n" "$*" '
                             '>> "%s"\nexec %s "$@"\n'
                             % (self.log, " ".join(
                                 "'%s'" % a for a in bin_argv(
                                     pushrelay_bin))))
        self.prog.chmod(0o755)

    def run(self, action, text, ujail=False, running=False, run_as=None):
        self.conf.write_text(text)
        if self.log.exists():
            self.log.unlink()
        env = dict(os.environ, LOG=str(self.log), T_CONF=str(self.conf),
                   T_PROG=str(self.prog), T_KEEP=str(self.keep),
                   T_UJAIL="/bin/true" if ujail else str(self.dir / "none"),
                   T_MOUNTS=str(self.mounts),
                   PROCD_RUNNING="1" if running else "0")
        if run_as is not None:
            env["T_RUN_AS"] = run_as
        r = run(self.shell + [str(STANDIN), str(INIT), action], env=env)
        assert r.returncode == 0, r.stdout + r.stderr
        assert r.stdout == "" and r.stderr == "", r.stdout + r.stderr
        return self.log.read_text().splitlines()


@pytest.fixture
def standin(tmp_path, pushrelay_bin, shell):
    return Standin(tmp_path, pushrelay_bin, shell)


def paths(tmp):
    store = tmp / "store" / "queue.db"
    control = tmp / "run" / "pushrelay.sock"
    return store, control


def triggers(calls):
    return [c for c in calls if c.startswith("procd_add_") and
            "trigger" in c or c.startswith("procd_add_validation")]


def test_init_disabled_by_default(standin, tmp_path):
    # The shipped file: enabled '0' (and no id yet). Nothing runs, not even
    # the check; the triggers are registered, so that a reload_config
    # after enabling starts it.
    calls = standin.run("start", UCI_CONF.read_text())
    assert not any(c.startswith("procd_open_instance") for c in calls)
    assert not any(c.startswith("pushrelay ") for c in calls)
    assert any(c.startswith("logger [-t] [pushrelay] [-p] [daemon.notice] "
                            "[disabled") for c in calls), calls
    assert "procd_add_reload_trigger [pushrelay]" in calls
    assert calls[-1] == "exit [0]"


def test_init_starts_after_check(standin, tmp_path):
    store, control = paths(tmp_path)
    calls = standin.run("start", conf_text(store=store, control=control))
    conf = str(standin.conf)
    i = calls.index("pushrelay check -c %s" % conf)
    assert calls[i + 1:] == [
        "chown [pushrelay:pushrelay] [%s]" % store.parent,
        "chmod [0750] [%s]" % store.parent,
        "chown [pushrelay:pushrelay] [%s]" % control.parent,
        "chmod [0750] [%s]" % control.parent,
        "procd_open_instance",
        "procd_set_param [command] [/usr/bin/pushrelay] [run] [-c] "
        "[/etc/config/pushrelay]".replace("/usr/bin/pushrelay",
                                          str(standin.prog))
        .replace("/etc/config/pushrelay", conf),
        "procd_set_param [user] [pushrelay]",
        "procd_set_param [group] [pushrelay]",
        "procd_set_param [no_new_privs] [1]",
        "procd_set_param [file] [%s]" % conf,
        "procd_set_param [respawn]",
        "procd_set_param [stdout] [1]",
        "procd_set_param [stderr] [1]",
        "procd_close_instance",
        "procd_add_reload_trigger [pushrelay]",
        "procd_add_validation [pushrelay_validate]",
        "procd_add_interface_trigger [interface.*.up] [wan] "
        "[/etc/init.d/pushrelay] [wan_up]",
        "procd_add_interface_trigger [interface.*.up] [wan6] "
        "[/etc/init.d/pushrelay] [wan_up]",
        "procd_add_restart_mount_trigger [%s]" % store,
        "exit [0]",
    ]
    # Before the check: the file made readable for the relay's group.
    assert calls[:i] == ["rc_start", "chgrp [pushrelay] [%s]" % conf,
                                     "chmod [0640] [%s]" % conf]
    # RAM: the directories are made.
    assert store.parent.is_dir() and control.parent.is_dir()


def test_init_broken_config_is_logged_not_started(standin, tmp_path):
    store, control = paths(tmp_path)
    calls = standin.run("start", conf_text(store=store, control=control,
                                           broken=True))
    errs = [c for c in calls if c.startswith("logger [-t] [pushrelay] [-p] "
                                            "[daemon.err]")]
    # check's own FILE:LINE: option NAME message, then the summary.
    assert any("option keepalive" in c and str(standin.conf) in c
               for c in errs), calls
    assert any("not starting" in c for c in errs), calls
    # No instance: procd has nothing to respawn five times.
    assert not any(c.startswith("procd_open_instance") for c in calls)
    assert not store.parent.exists()
    assert "procd_add_reload_trigger [pushrelay]" in calls
    assert calls[-1] == "exit [1]"


def test_init_needs_a_central_address(standin, tmp_path):
    # Enabled with an id but the shipped file's central broker: none.
    store, control = paths(tmp_path)
    calls = standin.run("start", conf_text(store=store, control=control,
                                           address=None))
    assert any("daemon.err" in c and "option address" in c for c in calls), \
        calls
    assert not any(c.startswith("procd_open_instance") for c in calls)


@pytest.mark.parametrize("running", [True, False], ids=["running", "stopped"])
def test_init_reload(standin, tmp_path, running):
    store, control = paths(tmp_path)
    calls = standin.run("reload", conf_text(store=store, control=control),
                        running=running)
    i = calls.index("pushrelay check -c %s" % standin.conf)
    if running:
        assert calls[i + 1:] == ["procd_running [pushrelay]",
                                 "procd_send_signal [pushrelay] [*] [HUP]",
                                 "exit [0]"]
    else:
        assert calls[i + 1:i + 3] == ["procd_running [pushrelay]", "rc_start"]
        assert "procd_open_instance" in calls


def test_init_reload_of_a_broken_file_keeps_the_relay(standin, tmp_path):
    store, control = paths(tmp_path)
    calls = standin.run("reload", conf_text(store=store, control=control,
                                            broken=True), running=True)
    assert not any(c.startswith("procd_send_signal") for c in calls)
    assert not any(c.startswith("rc_start") for c in calls)
    assert any("daemon.err" in c and "option keepalive" in c for c in calls)
    assert calls[-1] == "exit [1]"


def test_init_reload_when_disabled_removes_the_instance(standin, tmp_path):
    # start, not stop: the service stays registered with its triggers.
    calls = standin.run("reload", conf_text(enabled="0"), running=True)
    assert "rc_start" in calls
    assert not any(c.startswith("procd_open_instance") for c in calls)
    assert not any(c.startswith("procd_send_signal") for c in calls)
    assert "procd_add_reload_trigger [pushrelay]" in calls


def test_init_wan_up_sends_sigusr1(standin):
    calls = standin.run("wan_up", conf_text())
    assert calls == ["procd_send_signal [pushrelay] [*] [USR1]", "exit [0]"]


@pytest.mark.parametrize("value,ifaces", [("wwan", ["wwan"]),
                                          ("wan wwan", ["wan", "wwan"]),
                                          ("none", [])])
def test_init_wan_interface_option(standin, tmp_path, value, ifaces):
    store, control = paths(tmp_path)
    calls = standin.run("start", conf_text(
        store=store, control=control,
        extra_relay="\toption wan_interface '%s'\n" % value)
        .replace("\toption wan_interface 'wan wan6'", "\t# was here", 1))
    got = [c.split("] [")[1] for c in calls
           if c.startswith("procd_add_interface_trigger")]
    assert got == ifaces


def test_init_jail_where_ujail_exists(standin, tmp_path):
    store, control = paths(tmp_path)
    text = conf_text(store=store, control=control)
    calls = standin.run("start", text, ujail=True)
    assert "procd_add_jail [pushrelay] [log]" in calls
    ro = [c for c in calls if c.startswith("procd_add_jail_mount [")]
    mounted = [c[len("procd_add_jail_mount ["):-1] for c in ro]
    # The directory of the config (uci commit renames a new file in),
    # the CA bundle; only paths that exist.
    assert "/etc/config" not in mounted or Path("/etc/config").exists()
    assert "/etc/ssl/certs/ca-certificates.crt" in mounted
    assert all(Path(p).exists() for p in mounted), mounted
    assert "procd_add_jail_mount_rw [%s] [%s]" % (store.parent,
                                                 control.parent) in calls
    # Inside the instance.
    assert calls.index("procd_add_jail [pushrelay] [log]") < \
        calls.index("procd_close_instance")
    # Without ujail: no jail, the rest the same.
    calls = standin.run("start", text, ujail=False)
    assert not any(c.startswith("procd_add_jail") for c in calls)
    assert "procd_set_param [no_new_privs] [1]" in calls


def test_init_never_creates_a_store_dir_outside_ram(standin, tmp_path):
    # A USB stick that is not mounted: its mount point's path is missing.
    store = Path("/nonexistent-pushrelay-usb/sda1/pushrelay/queue.db")
    calls = standin.run("start", conf_text(store=store))
    assert not Path("/nonexistent-pushrelay-usb").exists()
    assert not any(c.startswith("procd_open_instance") for c in calls)
    assert any("daemon.err" in c and "is its disk mounted?" in c
               for c in calls), calls
    # The mount trigger is there to start it when the disk appears.
    assert "procd_add_restart_mount_trigger [%s]" % store in calls
    assert calls[-1] == "exit [1]"


@pytest.mark.parametrize("store", ["/tmp/queue.db", "/etc/queue.db",
                                   "/mnt/queue.db", "/queue.db"])
def test_init_store_needs_a_directory_of_its_own(standin, store):
    # Handing /tmp or /etc to the relay's user is not an option.
    calls = standin.run("start", conf_text(store=store))
    assert any("directory of its own" in c for c in calls), calls
    assert not any(c.startswith("procd_open_instance") for c in calls)
    assert not any(c.startswith(("chown", "chmod [0750]")) for c in calls)


@pytest.fixture
def flash_dir():
    """An existing directory outside /tmp and /var, which the init script
    takes for RAM: the build directory, or, for a checkout under /tmp (as
    CI may have it), one under the home directory."""
    ram = ("/tmp/", "/var/")
    base = ROOT.resolve() / "build"
    if str(base).startswith(ram):
        base = Path.home().resolve() / ".cache" / "pushrelay-tests"
    assert not str(base).startswith(ram), base
    d = base / ("owrt-flash-%d" % os.getpid())
    d.mkdir(parents=True, exist_ok=True)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_init_keep_d_lists_a_store_on_the_overlay(standin, tmp_path,
                                                  flash_dir):
    _, control = paths(tmp_path)
    # On the overlay (mounted at /): sysupgrade keeps the queue files.
    store = flash_dir / "queue.db"
    me = pwd.getpwuid(os.stat(flash_dir).st_uid).pw_name
    calls = standin.run("start", conf_text(store=store, control=control),
                        run_as=me)
    assert "procd_open_instance" in calls
    # Outside RAM the directory is neither made nor taken over.
    assert not any(c.startswith("chown") and str(flash_dir) in c
                   for c in calls)
    kept = [l for l in standin.keep.read_text().splitlines()
            if l and not l.startswith("#")]
    assert kept == ["%s*" % store]
    # On a mount of its own (USB): nothing to keep, a flash leaves it.
    standin.mounts.write_text(standin.mounts.read_text() +
                              "/dev/sda1 %s ext4 rw 0 0\n" % flash_dir)
    standin.run("start", conf_text(store=store, control=control), run_as=me)
    assert [l for l in standin.keep.read_text().splitlines()
            if l and not l.startswith("#")] == []
    # In RAM: nothing either.
    standin.run("start", conf_text(control=control,
                                   store=tmp_path / "s" / "queue.db"),
                run_as=me)
    assert [l for l in standin.keep.read_text().splitlines()
            if l and not l.startswith("#")] == []


def test_init_store_dir_outside_ram_must_be_the_users(standin, tmp_path,
                                                     flash_dir):
    # An existing directory on flash or USB that pushrelay does not own:
    # refused with the command that fixes it, not taken over.
    calls = standin.run("start", conf_text(store=flash_dir / "queue.db"))
    assert any("daemon.err" in c and "chown pushrelay:pushrelay %s"
               % flash_dir in c for c in calls), calls
    assert not any(c.startswith("procd_open_instance") for c in calls)


def test_keep_d_as_shipped_lists_nothing():
    assert all(l.startswith("#") for l in KEEP.read_text().splitlines())


# --- uci-defaults: an id of its own for each router -----------------------

UCI_STUB = r'''#!/bin/sh
[ "$1" = -q ] && shift
case "$1 $2" in
"get pushrelay.@relay[0].id") [ -n "$STUB_ID" ] && echo "$STUB_ID" ;;
"get pushrelay.@relay[0]") echo relay ;;
"get system.@system[0].hostname") echo "$STUB_HOSTNAME" ;;
get*) exit 1 ;;
*) echo "uci $*" >> "$LOG" ;;
esac
'''

JSONFILTER_STUB = r'''#!/bin/sh
# jsonfilter -i FILE -e '@.system.label_macaddr'
sed -n 's/.*"label_macaddr": *"\([^"]*\)".*/\1/p' "$2"
'''


def uci_defaults(tmp_path, label=None, eth0=None, others=(), relay_id="",
                 hostname="OpenWrt", shell=("sh",)):
    stubs = tmp_path / "bin"
    stubs.mkdir(parents=True, exist_ok=True)
    for name, text in (("uci", UCI_STUB), ("jsonfilter", JSONFILTER_STUB),
                       ("logger", "#!/bin/sh\n")):
        (stubs / name).write_text(text)
        (stubs / name).chmod(0o755)
    board = tmp_path / "board.json"
    if label is not None:
        board.write_text('{ "system": { "label_macaddr": "%s" } }\n' % label)
    net = tmp_path / "net"
    for name, mac in ([("lo", "00:00:00:00:00:00")] +
                      ([("eth0", eth0)] if eth0 else []) + list(others)):
        (net / name).mkdir(parents=True, exist_ok=True)
        (net / name / "address").write_text(mac + "\n")
    log = tmp_path / "uci.log"
    if log.exists():
        log.unlink()
    env = dict(os.environ, PATH="%s:%s" % (stubs, os.environ["PATH"]),
               LOG=str(log), STUB_ID=relay_id, STUB_HOSTNAME=hostname,
               PUSHRELAY_BOARD=str(board), PUSHRELAY_NET=str(net))
    # OpenWrt sources the script in a subshell: ( . ./90-pushrelay ).
    r = run(list(shell) + ["-c", '( . "$0" )', str(UCI_DEFAULTS)], env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    return log.read_text().splitlines() if log.exists() else []


def test_uci_defaults_id_from_the_label_mac(tmp_path, shell):
    assert uci_defaults(tmp_path, shell=shell, label="E4:95:6E:40:01:02",
                        eth0="e4:95:6e:40:01:03") == [
        "uci set pushrelay.@relay[0].id=gw-e4956e400102",
        "uci commit pushrelay"]


def test_uci_defaults_id_from_eth0_then_any_interface(tmp_path, shell):
    assert uci_defaults(tmp_path / "a", shell=shell,
                        eth0="02:11:22:33:44:55")[0] == \
        "uci set pushrelay.@relay[0].id=gw-021122334455"
    assert uci_defaults(tmp_path / "b", shell=shell, others=[
        ("br-lan", "00:00:00:00:00:00"), ("wan", "0a:bb:cc:dd:ee:ff")])[0] \
        == "uci set pushrelay.@relay[0].id=gw-0abbccddeeff"


def test_uci_defaults_two_routers_two_ids(tmp_path, shell):
    # One image, two routers: without a usable MAC and with the default
    # hostname, the id is random, so still not shared.
    ids = {uci_defaults(tmp_path / str(i), shell=shell)[0] for i in range(2)}
    assert len(ids) == 2, ids
    assert all(len(i.split("=gw-")[1]) == 12 for i in ids)
    assert uci_defaults(tmp_path / "h", shell=shell, hostname="barn-7")[0] == \
        "uci set pushrelay.@relay[0].id=gw-barn-7"


def test_uci_defaults_keeps_a_set_id(tmp_path, shell):
    assert uci_defaults(tmp_path, shell=shell, eth0="02:11:22:33:44:55",
                        relay_id="gw-mine") == []


# --- the default /etc/config/pushrelay ------------------------------------

def test_default_uci_config_is_valid_once_it_has_id_and_address(
        pushrelay_bin, tmp_path):
    # As shipped there is no id (uci-defaults sets it at first boot) and no
    # central address (the user's). The
    # central link is TLS by default, so the default ca_file
    # /etc/ssl/certs/ca-certificates.crt must exist (Debian:
    # ca-certificates; OpenWrt: ca-bundle, which the package depends on).
    r = run(bin_argv(pushrelay_bin, "check", "-c", UCI_CONF))
    assert r.returncode == 2, r.stderr
    assert "option id" in r.stderr and "option address" in r.stderr, r.stderr
    conf = tmp_path / "pushrelay"
    conf.write_text(conf_text(enabled="0"))
    r = run(bin_argv(pushrelay_bin, "check", "-c", conf))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "option enabled '0'" in r.stdout
    assert "option store '/tmp/pushrelay/queue.db'" in r.stdout
    assert "option control '/var/run/pushrelay/pushrelay.sock'" in r.stdout


# --- make dist --------------------------------------------------------------

def test_dist_is_reproducible(tmp_path):
    out = []
    for name in ("a", "b"):
        r = run(["make", "-s", "-C", str(ROOT), "dist",
                 "DIST_DIR=" + str(tmp_path / name)])
        assert r.returncode == 0, r.stdout + r.stderr
        out.append((tmp_path / name / "pushrelay-0.1.0.tar.gz").read_bytes())
    assert out[0] == out[1]
    r = run(["tar", "-tvzf", str(tmp_path / "a" / "pushrelay-0.1.0.tar.gz")])
    lines = r.stdout.splitlines()
    names = [l.split()[-1] for l in lines]
    assert all(n.startswith("pushrelay-0.1.0/") for n in names)
    assert all(l.split()[1] == "0/0" for l in lines)
    assert len({" ".join(l.split()[3:5]) for l in lines}) == 1  # one mtime
    assert names == sorted(names)
    for want in ("LICENSE", "Makefile", "relay/loop.c",
                 "openwrt/net/pushrelay/Makefile"):
        assert "pushrelay-0.1.0/" + want in names
    assert not any("/build/" in n or "node_modules" in n for n in names)


# --- LICENSE and SPDX ---------------------------------------------------------

def test_license_and_spdx_lines():
    assert (ROOT / "LICENSE").read_text().startswith("ISC License")
    r = run(["git", "-C", str(ROOT), "ls-files"])
    if r.returncode != 0:
        pytest.skip("not a git checkout: %s" % r.stderr.strip())
    missing = []
    for name in r.stdout.splitlines():
        p = ROOT / name
        if name.startswith("tests/data/") or not p.is_file():
            continue
        if not (p.suffix in (".c", ".h", ".py", ".sh", ".mk", ".js") or
                p.name in ("Makefile", "pushrelay.init",
                           "pushrelay.uci-defaults", "run", "qemu-run",
                           "sysroot.sh")):
            continue
        if "SPDX-License-Identifier: ISC" not in "".join(
                p.read_text(errors="replace").splitlines(True)[:3]):
            missing.append(name)
    assert not missing, "no SPDX line near the top: %s" % missing


# --- the OpenWrt package Makefile -----------------------------------------

STUB_RULES = "# stub of OpenWrt's rules.mk\n"

STUB_PACKAGE = r'''# stub of OpenWrt's package.mk: just enough to run our defines
PKG_BUILD_DIR ?= $(BUILD_DIR)/$(PKG_NAME)-$(PKG_VERSION)
INSTALL_DIR := install -d -m0755
INSTALL_BIN := install -m0755
INSTALL_CONF := install -m0600
INSTALL_DATA := install -m0644
CP := cp -fpR
TAR := tar
MAKE_FLAGS = CC=gcc
define Build/Compile/Default
	+$(MAKE) -C $(PKG_BUILD_DIR) $(MAKE_FLAGS) $(1)
endef
define BuildPackage
all: install
prepare:
	$$(Build/Prepare)
compile: prepare
	$$(Build/Compile)
install: compile
	$$(call Package/$(1)/install,$$(DESTDIR))
print-%:
	@echo '$$($$*)'
endef
'''


def test_openwrt_makefile_text():
    text = (OPENWRT / "Makefile").read_text()
    lines = text.splitlines()
    assert "PKG_NAME:=pushrelay" in lines
    version = next(l for l in (ROOT / "Makefile").read_text().splitlines()
                   if l.startswith("VERSION"))
    version = version.split(":=")[1].strip()
    assert "PKG_VERSION:=" + version in lines
    # apk (25.12 and snapshots) takes digits and dots; no '-'.
    assert re.fullmatch(r"[0-9]+(\.[0-9]+)*", version)
    assert re.search(r"^PKG_RELEASE:=[0-9]+$", text, re.M)
    assert "PKG_LICENSE:=ISC" in lines
    assert "PKG_LICENSE_FILES:=LICENSE" in lines
    assert (ROOT / "LICENSE").is_file()
    assert re.search(r"^PKG_MAINTAINER:=.+ <[^@ ]+@[^@ ]+\.[a-z]+>$", text,
                     re.M)
    assert re.search(r"^  URL:=https://", text, re.M)
    assert re.search(r"^  USERID:=pushrelay=[0-9]+:pushrelay=[0-9]+$", text,
                     re.M)
    assert "PKG_FILE_DEPENDS:=" in text
    assert "PKG_HASH" not in text
    deps = next(l for l in lines if "DEPENDS:=" in l and "FILE" not in l)
    for dep in ("+libmbedtls", "+libsqlite3", "+liblz4", "+ca-bundle"):
        assert dep in deps.split(":=", 1)[1].split()
    # The MQTT client is the relay's own: no Paho C package any more.
    assert "paho" not in deps
    assert not list(FEED.glob("*/paho-mqtt-c"))
    assert "define Package/pushrelay/conffiles\n/etc/config/pushrelay\nendef" \
        in text


def test_openwrt_makefile_builds_and_installs(tmp_path):
    inc = tmp_path / "include"
    inc.mkdir()
    (tmp_path / "rules.mk").write_text(STUB_RULES)
    (inc / "package.mk").write_text(STUB_PACKAGE)
    dest = tmp_path / "ipk"
    # -C the package directory, as the SDK does: $(CURDIR)/../.. is the tree.
    r = run(["make", "-C", str(OPENWRT), "--no-print-directory",
             "-j%d" % (os.cpu_count() or 2), "TOPDIR=" + str(tmp_path),
             "INCLUDE_DIR=" + str(inc), "BUILD_DIR=" + str(tmp_path / "b"),
             "DESTDIR=" + str(dest), "all"])
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    # Built from the unpacked `make dist` tarball.
    built = tmp_path / "b" / "pushrelay-0.1.0"
    assert (built / "LICENSE").is_file()
    assert (built / "build" / "pushrelay").is_file()
    binary = dest / "usr" / "bin" / "pushrelay"
    init = dest / "etc" / "init.d" / "pushrelay"
    conf = dest / "etc" / "config" / "pushrelay"
    assert sorted(str(p.relative_to(dest)) for p in dest.rglob("*")
                  if p.is_file()) == ["etc/config/pushrelay",
                                      "etc/init.d/pushrelay",
                                      "etc/uci-defaults/90-pushrelay",
                                      "lib/upgrade/keep.d/pushrelay",
                                      "usr/bin/pushrelay"]
    assert os.stat(dest / "etc" / "uci-defaults" / "90-pushrelay").st_mode \
        & 0o777 == 0o755
    assert os.stat(binary).st_mode & 0o777 == 0o755
    assert os.stat(init).st_mode & 0o777 == 0o755
    assert os.stat(conf).st_mode & 0o777 == 0o600
    assert init.read_bytes() == INIT.read_bytes()
    assert conf.read_bytes() == UCI_CONF.read_bytes()
    v = run([str(binary), "version"])
    assert v.returncode == 0 and "0.1.0" in v.stdout, v.stdout + v.stderr


def _prepared_stamp(pkgdir, deps):
    """package.mk's prepared stamp: find_md5 over CURDIR and
    PKG_FILE_DEPENDS (file names and mtimes, sorted, md5)."""
    r = run(["sh", "-c", 'find "$@" -type f -printf "%p%T@\\n" | sort | '
             'md5sum', "find_md5", str(pkgdir)] + deps)
    assert r.returncode == 0, r.stderr
    return r.stdout.split()[0]


def test_a_changed_source_changes_the_prepared_stamp(tmp_path):
    # The tree as make dist ships it, unpacked; the package Makefile run
    # from it against the stubs tells its PKG_FILE_DEPENDS.
    r = run(["make", "-s", "-C", str(ROOT), "dist",
             "DIST_DIR=" + str(tmp_path)])
    assert r.returncode == 0, r.stdout + r.stderr
    r = run(["tar", "-C", str(tmp_path), "-xzf",
             str(tmp_path / "pushrelay-0.1.0.tar.gz")])
    assert r.returncode == 0, r.stderr
    tree = tmp_path / "pushrelay-0.1.0"
    pkg = tree / "openwrt" / "net" / "pushrelay"
    inc = tmp_path / "include"
    inc.mkdir()
    (tmp_path / "rules.mk").write_text(STUB_RULES)
    (inc / "package.mk").write_text(STUB_PACKAGE)
    r = run(["make", "-s", "-C", str(pkg), "--no-print-directory",
             "TOPDIR=" + str(tmp_path), "INCLUDE_DIR=" + str(inc),
             "print-PKG_FILE_DEPENDS"])
    assert r.returncode == 0, r.stdout + r.stderr
    deps = r.stdout.split()
    assert str(tree / "relay") in [str(Path(d).resolve()) for d in deps]
    before = _prepared_stamp(pkg, deps)
    assert _prepared_stamp(pkg, deps) == before
    os.utime(tree / "docs" / "design.md", (1, 1))      # not a source
    assert _prepared_stamp(pkg, deps) == before
    os.utime(tree / "relay" / "loop.c", (2, 2))        # a source
    assert _prepared_stamp(pkg, deps) != before


# --- the systemd unit -----------------------------------------------------

def test_systemd_unit_verifies(tmp_path, pushrelay_bin):
    # systemd-analyze verify refuses an ExecStart= binary that does not
    # exist, so verify a copy that points at the built binary. Unknown or
    # misspelt directives only warn (exit status 0), so any output fails.
    text = UNIT.read_text()
    exec_start = "ExecStart=/usr/bin/pushrelay run "
    assert exec_start in text
    unit = tmp_path / "pushrelay.service"
    unit.write_text(text.replace(exec_start,
                                 "ExecStart=%s run " % pushrelay_bin))
    r = run([need("systemd-analyze"), "verify", str(unit)])
    assert r.returncode == 0 and r.stdout == "" and r.stderr == "", \
        r.stdout + r.stderr


def test_systemd_unit_contents():
    lines = [l.strip() for l in UNIT.read_text().splitlines()
             if l.strip() and not l.startswith("#")]
    for want in ("Type=simple",
                 "ExecStart=/usr/bin/pushrelay run -c "
                 "/etc/pushrelay/pushrelay.conf",
                 "ExecReload=/bin/kill -HUP $MAINPID",
                 "Restart=on-failure", "StateDirectory=pushrelay",
                 "RuntimeDirectory=pushrelay", "User=pushrelay",
                 "DynamicUser=no", "ProtectSystem=strict",
                 "NoNewPrivileges=yes", "CapabilityBoundingSet=",
                 "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6"):
        assert want in lines, want
