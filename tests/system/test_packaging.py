"""Packaging checks for cross/: the OpenWrt package and the systemd unit.

We cannot boot OpenWrt or run the SDK here, so this tests what the machine
allows:
  - shellcheck -s sh on the procd init script;
  - the init script's functions run against stub procd helpers, and the
    calls they make are compared with what procd needs;
  - the default /etc/config/pushrelay passes `pushrelay check`;
  - the OpenWrt Makefile is evaluated by GNU make against stub rules.mk and
    package.mk: Build/Prepare copies the tree, Build/Compile builds it (with
    the host compiler), Package/pushrelay/install lays out the ipk's files;
  - systemd-analyze verify on the unit, with no warning at all.

Needs the Debian packages shellcheck and systemd (tests/setup-deps.sh).
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from harness import bin_argv

ROOT = Path(__file__).resolve().parents[2]
OPENWRT = ROOT / "cross" / "openwrt"
INIT = OPENWRT / "files" / "pushrelay.init"
UCI_CONF = OPENWRT / "files" / "pushrelay.config"
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


# --- the procd init script ------------------------------------------------

def test_init_script_shellcheck():
    # The script carries its own shellcheck directives (SC2034 for the
    # variables rc.common reads, SC3043 for ash's `local`), so plain
    # `shellcheck -s sh` must be clean.
    r = run([need("shellcheck"), "-s", "sh", str(INIT)])
    assert r.returncode == 0, r.stdout + r.stderr


HARNESS = r'''
LOG="$1"; STORE="$2"
rec() { printf '%s' "$1" >> "$LOG"; shift; for a in "$@"; do printf ' [%s]' "$a" >> "$LOG"; done; echo >> "$LOG"; }
procd_open_instance() { rec open_instance "$@"; }
procd_set_param() { rec set_param "$@"; }
procd_close_instance() { rec close_instance "$@"; }
procd_add_reload_trigger() { rec add_reload_trigger "$@"; }
procd_send_signal() { rec send_signal "$@"; }
uci() { rec uci "$@"; [ -n "$STORE" ] && echo "$STORE"; }
mkdir() { rec mkdir "$@"; }
. "$3"
start_service
service_triggers
reload_service
'''


def run_init(tmp_path, store, shell=("sh",)):
    harness = tmp_path / "harness.sh"
    harness.write_text(HARNESS)
    log = tmp_path / "procd.log"
    r = run(list(shell) + [str(harness), str(log), store, str(INIT)])
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout == "" and r.stderr == "", r.stdout + r.stderr
    return log.read_text().splitlines()


# Debian's sh is dash; OpenWrt's is busybox ash, used too when installed.
SHELLS = [("sh",)] + ([("busybox", "sh")] if shutil.which("busybox") else [])


@pytest.mark.parametrize("shell", SHELLS, ids=" ".join)
def test_init_script_procd_calls(tmp_path, shell):
    calls = run_init(tmp_path, "/tmp/pushrelay/queue.db", shell)
    assert calls == [
        "uci [-q] [get] [pushrelay.@relay[0].store]",
        "mkdir [-p] [/tmp/pushrelay]",
        "open_instance",
        "set_param [command] [/usr/bin/pushrelay] [run] [-c] "
        "[/etc/config/pushrelay]",
        "set_param [respawn]",
        "set_param [stdout] [1]",
        "set_param [stderr] [1]",
        "close_instance",
        "add_reload_trigger [pushrelay]",
        "send_signal [pushrelay] [*] [HUP]",
    ]


def test_init_script_store_default(tmp_path):
    # No store option: the relay's built-in default directory is created.
    calls = run_init(tmp_path, "")
    assert calls[1] == "mkdir [-p] [/var/lib/pushrelay]"


def test_init_script_header():
    text = INIT.read_text()
    assert text.startswith("#!/bin/sh /etc/rc.common\n")
    for line in ("USE_PROCD=1", "START=95"):
        assert line in text.splitlines()


# --- the default /etc/config/pushrelay ------------------------------------

def test_default_uci_config_is_valid(pushrelay_bin):
    # The central link is TLS by default, so the default ca_file
    # /etc/ssl/certs/ca-certificates.crt must exist (Debian: ca-certificates;
    # OpenWrt: ca-bundle, which the package depends on).
    r = run(bin_argv(pushrelay_bin, "check", "-c", UCI_CONF))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "option store '/tmp/pushrelay/queue.db'" in r.stdout
    assert "option control '/var/run/pushrelay.sock'" in r.stdout


# --- the OpenWrt package Makefile -----------------------------------------

STUB_RULES = "# stub of OpenWrt's rules.mk\n"

STUB_PACKAGE = r'''# stub of OpenWrt's package.mk: just enough to run our defines
PKG_BUILD_DIR ?= $(BUILD_DIR)/$(PKG_NAME)-$(PKG_VERSION)
INSTALL_DIR := install -d -m0755
INSTALL_BIN := install -m0755
INSTALL_CONF := install -m0600
CP := cp -fpR
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
    assert "PKG_NAME:=pushrelay" in text
    version = next(l for l in (ROOT / "Makefile").read_text().splitlines()
                   if l.startswith("VERSION"))
    assert "PKG_VERSION:=" + version.split(":=")[1].strip() in text
    assert "PKG_RELEASE:=" in text
    deps = next(l for l in text.splitlines() if "DEPENDS:=" in l)
    for dep in ("+libmbedtls", "+libsqlite3", "+liblz4"):
        assert dep in deps.split(":=", 1)[1].split()
    # The MQTT client is the relay's own: no Paho C package any more.
    assert "paho" not in deps
    assert not (OPENWRT / "paho-mqtt-c").exists()
    assert "define Package/pushrelay/conffiles\n/etc/config/pushrelay\nendef" \
        in text
    assert "./files/pushrelay.init $(1)/etc/init.d/pushrelay" in text
    assert "./files/pushrelay.config $(1)/etc/config/pushrelay" in text


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
    built = tmp_path / "b" / "pushrelay-0.1.0"
    assert not (built / "tests" / "data").exists()  # only what it needs
    binary = dest / "usr" / "bin" / "pushrelay"
    init = dest / "etc" / "init.d" / "pushrelay"
    conf = dest / "etc" / "config" / "pushrelay"
    assert sorted(str(p.relative_to(dest)) for p in dest.rglob("*")
                  if p.is_file()) == ["etc/config/pushrelay",
                                      "etc/init.d/pushrelay",
                                      "usr/bin/pushrelay"]
    assert os.stat(binary).st_mode & 0o777 == 0o755
    assert os.stat(init).st_mode & 0o777 == 0o755
    assert os.stat(conf).st_mode & 0o777 == 0o600
    assert init.read_bytes() == INIT.read_bytes()
    assert conf.read_bytes() == UCI_CONF.read_bytes()
    v = run([str(binary), "version"])
    assert v.returncode == 0 and "0.1.0" in v.stdout, v.stdout + v.stderr


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
