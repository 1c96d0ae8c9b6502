#!/bin/sh
# SPDX-License-Identifier: ISC
# Installs the Debian packages that building and testing pushrelay need,
# only when one is missing, and then aedes, the second broker the system
# tests run the central side on (tests/brokers, `make system-aedes`), with
# npm ci from its lock file, only when tests/brokers/node_modules is
# missing or older than the lock file. Safe to run again; needs root to
# install packages.
set -e
# busybox: OpenWrt's shell (ash), to run the init script's tests with
# (tests/system/test_packaging.py).
# python3-pytest-xdist: `make system` and `make cross-test` run the system
# tests in parallel (Makefile, cross/cross.mk). The cross compilers,
# qemu-user and the ARM libraries come from cross/sysroot.sh. iproute2:
# ip and ss for the WAN emulator's namespaces (tests/lib/wan.py).
PKGS="build-essential pkg-config libsqlite3-dev liblz4-dev libmbedtls-dev libcmocka-dev openssl ca-certificates
mosquitto mosquitto-clients python3-pytest python3-pytest-xdist python3-paho-mqtt procps
lz4 clang libclang-rt-14-dev libmosquitto-dev shellcheck systemd busybox iproute2"
# chromium: tests/system/test_luci.py renders the LuCI status page
# (openwrt/luci/luci-app-pushrelay) in headless Chromium; it skips,
# saying so, where chromium is missing.
PKGS="$PKGS chromium"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
	    missing="$missing $p"
done
# Node.js and npm run aedes. Asked for by command, not by package: a
# Node.js from another source (one package that brings npm too) will do.
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
if [ -n "$missing" ]; then
	echo "installing:$missing"
	if [ "$(id -u)" != 0 ]; then
		echo "setup-deps: need root to install:$missing" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends $missing
fi

# aedes, pinned by tests/brokers/package-lock.json. npm writes
# node_modules/.package-lock.json when an install ends: it is the mark.
brokers="$(cd "$(dirname "$0")" && pwd)/brokers"
mark="$brokers/node_modules/.package-lock.json"
if [ -n "$(find "$mark" -newer "$brokers/package-lock.json" 2>/dev/null)" ]
then
	exit 0
fi
major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" -lt 20 ]; then
	# Debian 12's own nodejs is 18: the aedes tests skip, saying why.
	echo "setup-deps: aedes (tests/brokers) needs Node.js >= 20 and this" \
	    "node is $(node --version 2>/dev/null): not installed; the aedes" \
	    "tests will be skipped" >&2
	exit 0
fi
echo "installing: aedes in tests/brokers (npm ci)"
log=$(mktemp)
if ! npm ci --prefix "$brokers" --no-audit --no-fund --loglevel=error \
    >"$log" 2>&1; then
	echo "setup-deps: npm ci in $brokers failed; is the npm registry" \
	    "reachable? npm said:" >&2
	grep -v '^npm error  *at ' "$log" | head -n 12 >&2
	rm -f "$log"
	exit 1
fi
rm -f "$log"
