#!/bin/sh
# SPDX-License-Identifier: ISC
# cross/mbedtls3-sysroot.sh [DIR]: unpacks Debian 13 (trixie)'s mbedTLS 3.6
# (libmbedtls-dev and its three runtime libraries) into DIR/sysroot
# (default build-mbedtls3/sysroot), for `make MBEDTLS=3` (docs/tls.md).
#
# OpenWrt 24.10 and later ship mbedTLS 3.6; Debian 12 has 2.28. The
# packages come from trixie through apt with a private sources list, index
# and cache under DIR/apt (-o Dir::Etc::SourceList=... and friends), then
# `dpkg -x`, as cross/sysroot.sh does for the ARM libraries. Nothing is
# installed into the system and the system's apt index is not touched.
# trixie's runtime libraries need glibc 2.33 at most (libmbedx509-7's
# Depends), so they run on Debian 12's 2.36: the relay links them as
# shared libraries, found through an rpath into the sysroot.
#
# Safe (and quick) to run again: a sysroot made from the same package list
# is kept. Needs no root: apt-get download runs as the calling user.
# $PKGS and $O are word lists, split on purpose:
# shellcheck disable=SC2086
set -eu

root=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)
dir=${1:-$root/build-mbedtls3}
sysroot=$dir/sysroot
stamp=$sysroot/.pushrelay-sysroot
suite=trixie
arch=$(dpkg --print-architecture)

# As trixie names them (libmbedtls-dev 3.6 depends on exactly these).
PKGS="libmbedtls-dev libmbedtls21 libmbedx509-7 libmbedcrypto16"

if [ -f "$stamp" ] && [ "$(sed -n 1p "$stamp")" = "$suite $PKGS" ]; then
	exit 0
fi

apt=$dir/apt
mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/parts"
# The Debian archive keyring of Debian 12 holds trixie's keys too.
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg]" \
    "http://deb.debian.org/debian $suite main" >"$apt/sources.list"
: >"$apt/status"
O="-o Dir::Etc::SourceList=$apt/sources.list -o Dir::Etc::SourceParts=$apt/parts
-o Dir::State::Lists=$apt/lists -o Dir::State::Status=$apt/status
-o Dir::Cache=$apt/cache -o APT::Architectures=$arch
-o APT::Sandbox::User=$(id -un) -o Debug::NoLocking=1"

echo "mbedtls3-sysroot.sh: fetching the $suite index (private, in $apt)"
apt-get $O update -qq
rm -rf "$dir/debs" "$sysroot.new"
mkdir -p "$dir/debs" "$sysroot.new"
(cd "$dir/debs" && apt-get $O download -q $PKGS)
versions=""
for deb in "$dir/debs"/*.deb; do
	dpkg -x "$deb" "$sysroot.new"
	versions="$versions $(dpkg-deb -f "$deb" Package Version |
	    sed 's/^[^:]*: //' | paste -sd=)"
done
{
	echo "$suite $PKGS"
	echo "versions:$versions"
} >"$sysroot.new/.pushrelay-sysroot"
rm -rf "$sysroot"
mv "$sysroot.new" "$sysroot"
rm -rf "$dir/debs"
echo "mbedtls3-sysroot.sh: $sysroot ready ($versions )"
