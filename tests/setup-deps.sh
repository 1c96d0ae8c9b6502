#!/bin/sh
# Installs the Debian packages that building and testing pushrelay need,
# only when one is missing. Safe to run again; needs root to install.
set -e
# python3-pytest-xdist: `make system` and `make cross-test` run the system
# tests in parallel (Makefile, cross/cross.mk). The cross compilers,
# qemu-user and the ARM libraries come from cross/sysroot.sh.
PKGS="build-essential pkg-config libsqlite3-dev liblz4-dev libmbedtls-dev libcmocka-dev openssl ca-certificates
mosquitto mosquitto-clients python3-pytest python3-pytest-xdist python3-paho-mqtt procps
lz4 clang libclang-rt-14-dev libmosquitto-dev shellcheck systemd"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
	    missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
if [ "$(id -u)" != 0 ]; then
	echo "setup-deps: need root to install:$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing
