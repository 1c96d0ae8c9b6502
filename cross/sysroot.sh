#!/bin/sh
# SPDX-License-Identifier: ISC
# cross/sysroot.sh ARCH: sets up what `make cross ARCH=...` and cross/qemu-run
# need, and only what is missing, so it is safe (and quick) to run again:
#   - Debian's cross compiler for ARCH, the target's libc headers and
#     qemu-user (apt-get install);
#   - ARCH as a dpkg foreign architecture and its package index;
#   - build/cross/ARCH/sysroot: the target's own Debian libraries and their
#     -dev packages (mbedTLS, SQLite, LZ4, cmocka), unpacked with
#     `dpkg -x`.
# Why not a multiarch install (apt-get install libfoo-dev:armhf): the target's
# index lacks the host's security-update versions of shared packages
# (libssl3, linux-libc-dev, ...), so apt cannot resolve them. The sysroot is
# only for building and qemu; it never touches the host's /usr.
# ARCH: armhf (arm-linux-gnueabihf) or arm64 (aarch64-linux-gnu).
# Needs root only to install packages or add the architecture.
# $PKGS, $missing and $args are word lists, split on purpose:
# shellcheck disable=SC2086,SC2116
set -eu

usage() {
	echo "usage: $0 armhf|arm64" >&2
	exit 2
}

[ $# -eq 1 ] || usage
arch=$1
case "$arch" in
armhf)	triplet='arm-linux-gnueabihf'; qemu='qemu-arm' ;;
arm64)	triplet='aarch64-linux-gnu'; qemu='qemu-aarch64' ;;
*)	usage ;;
esac

root=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)
dir=$root/build/cross/$arch
sysroot=$dir/sysroot
stamp=$sysroot/.pushrelay-sysroot

# Runtime libraries and their -dev packages, as Debian bookworm names them.
PKGS="libmbedtls14 libmbedx509-1 libmbedcrypto7 libmbedtls-dev
libsqlite3-0 libsqlite3-dev
liblz4-1 liblz4-dev
libcmocka0 libcmocka-dev"

need_root() {
	if [ "$(id -u)" != 0 ]; then
		echo "sysroot.sh: need root to $1" >&2
		exit 1
	fi
}

# The cross compiler, the target's libc headers and qemu-user, when missing.
missing=""
command -v "$triplet-gcc" >/dev/null 2>&1 || missing="$missing gcc-$triplet"
# The target's C library headers are only a Recommends of the cross gcc;
# without them the compiler falls back to the host's /usr/include.
[ -e "/usr/$triplet/include/stdio.h" ] ||
    missing="$missing libc6-dev-$arch-cross"
command -v "$qemu" >/dev/null 2>&1 || missing="$missing qemu-user"
if [ -n "$missing" ]; then
	need_root "install:$missing"
	echo "sysroot.sh: installing:$missing"
	apt-get update -qq || true
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends $missing >/dev/null
fi

# A sysroot made from the same package list is up to date. The stamp holds
# the list and the versions unpacked.
if [ -f "$stamp" ] && [ "$(sed -n 1p "$stamp")" = "$(echo $PKGS)" ]; then
	exit 0
fi

if ! dpkg --print-foreign-architectures | grep -qx "$arch" &&
    [ "$arch" != "$(dpkg --print-architecture)" ]; then
	need_root "add the dpkg architecture $arch"
	dpkg --add-architecture "$arch"
fi

# Download into a fresh directory, then unpack into a fresh sysroot, so a
# run that was interrupted never leaves a half sysroot behind a stamp.
rm -rf "$dir/debs" "$sysroot.new"
mkdir -p "$dir/debs" "$sysroot.new"
args=""
for p in $PKGS; do
	args="$args $p:$arch"
done
download() {
	(cd "$dir/debs" && apt-get download -q -o APT::Sandbox::User=root \
	    $args)
}

# When the index of ARCH lacks a package (the architecture was just added),
# update it once. apt-get update may fail for one index (a mirror caught
# mid-sync, seen here with bookworm-security armhf); that is fine as long as
# every package can then be downloaded.
if ! download 2>/dev/null; then
	need_root "update the package index for $arch"
	apt-get update -qq || echo "sysroot.sh: apt-get update reported" \
	    "errors; going on with the index it has" >&2
	if ! download; then
		echo "sysroot.sh: cannot download for $arch:" >&2
		for p in $PKGS; do
			apt-cache show "$p:$arch" >/dev/null 2>&1 ||
			    echo "  $p:$arch (not in the index)" >&2
		done
		exit 1
	fi
fi
versions=""
for deb in "$dir/debs"/*.deb; do
	dpkg -x "$deb" "$sysroot.new"
	versions="$versions $(dpkg-deb -f "$deb" Package Version |
	    sed 's/^[^:]*: //' | paste -sd=)"
done
{
	echo $PKGS
	echo "versions:$versions"
} >"$sysroot.new/.pushrelay-sysroot"
rm -rf "$sysroot"
mv "$sysroot.new" "$sysroot"
rm -rf "$dir/debs"
echo "sysroot.sh: $sysroot ready ($arch:$versions)"
