#!/bin/sh
# SPDX-License-Identifier: ISC
#
# feed-scan.sh FEED: checks that FEED (openwrt/ in this tree) is a feed
# OpenWrt indexes, by doing off a buildroot what OpenWrt does with it:
#
# 1. src-link: `scripts/feeds update` links feeds/NAME to FEED, then runs
#    include/scan.mk with SCAN_DIR=feeds/NAME SCAN_DEPTH=5: every Makefile
#    found by `find -L` at depth 1 to 5 that calls BuildPackage (or
#    KernelPackage, Build/DefaultTargets) makes its directory a package.
#    include/scan.awk keeps one directory per last path component, so a
#    directory name seen twice silently loses a package; a Makefile at the
#    feed's root yields no directory at all. Both fail here, as does a
#    package name (define Package/NAME) defined twice.
# 2. `scripts/feeds install`: package/feeds/NAME/<dir> links to
#    ../../../feeds/NAME/<path>; the buildroot's own scan (SCAN_DIR=package)
#    must find each package there once.
# 3. The symlink route: package/<dir> links straight to FEED/<path>; the
#    same scan must find it.
# In 2 and 3 every package Makefile that builds from this tree
# (PUSHRELAY_SRC) is run by GNU make through the link, against stub
# rules.mk and package.mk, and must find the tree and every
# PKG_FILE_DEPENDS path.
#
# Prints the packages found; exits 1 with the reason on the first problem.
set -eu

[ $# -eq 1 ] || { echo "usage: $0 FEED" >&2; exit 64; }
feed="$(cd "$1" && pwd -P)"
tree="$(cd "$feed/.." && pwd -P)"
top="$(mktemp -d)"
trap 'rm -rf "$top"' EXIT INT TERM
name=pushrelay

fail() {
	echo "feed-scan: $*" >&2
	exit 1
}

# include/scan.mk's FILELIST recipe, in $top: package directories under
# $1, relative to it, in find's order.
scan() {
	# shellcheck disable=SC2038
	(cd "$top" && find -L "$1" -mindepth 1 -maxdepth 5 -name Makefile |
	    xargs grep -aHE \
	    'call (Build/DefaultTargets|BuildPackage|KernelPackage)' |
	    sed -e "s#^$1/##" -e 's#/Makefile:.*##' | uniq)
}

# Stubs of the buildroot's rules.mk and package.mk: enough to evaluate a
# package Makefile and print what it would build from.
mkdir -p "$top/include" "$top/feeds" "$top/package/feeds/$name"
# shellcheck disable=SC2016
echo 'INCLUDE_DIR:=$(TOPDIR)/include' > "$top/rules.mk"
cat > "$top/include/package.mk" <<'EOF'
define BuildPackage
feed-scan-info:
	@echo '$$(PKG_NAME)|$$(PUSHRELAY_SRC)|$$(PKG_FILE_DEPENDS)'
endef
EOF

# The package Makefile at $1 (a path through links), when it builds from
# this tree, must find it and its PKG_FILE_DEPENDS.
check_source() {
	grep -q 'PUSHRELAY_SRC' "$1/Makefile" || return 0
	info="$(make -s --no-print-directory -C "$1" TOPDIR="$top" \
	    feed-scan-info)" || fail "$1: make could not evaluate the Makefile"
	src="${info#*|}"
	deps="${src#*|}"
	src="${src%%|*}"
	if [ ! -d "$src" ] || [ "$(cd "$src" && pwd -P)" != "$tree" ]; then
		fail "$1: PUSHRELAY_SRC is '$src', not the tree $tree"
	fi
	[ -n "$deps" ] || fail "$1: no PKG_FILE_DEPENDS"
	for dep in $deps; do
		[ -e "$dep" ] || fail "$1: PKG_FILE_DEPENDS names $dep, missing"
	done
}

# 1. scripts/feeds update, src-link.
ln -s "$feed" "$top/feeds/$name"
[ ! -e "$feed/Makefile" ] ||
    fail "$feed/Makefile: a Makefile at the feed's root is no package" \
    "directory; scan.mk would index it as one with no name"
dirs="$(scan "feeds/$name")"
[ -n "$dirs" ] || fail "$feed: no package Makefile within 5 levels"
for d in $dirs; do
	[ -f "$feed/$d/Makefile" ] ||
	    fail "$feed: scan.mk yields '$d', which is not a package directory"
done
dup="$(echo "$dirs" | awk -F/ '{ print $NF }' | sort | uniq -d)"
[ -z "$dup" ] || fail "$feed: directory name(s) seen twice, include/scan.awk" \
    "keeps one: $(echo "$dup" | tr '\n' ' ')"
pkgs="$(for d in $dirs; do
	sed -n 's#^define Package/\([^/ ]*\)[ ]*$#\1#p' "$feed/$d/Makefile"
done)"
[ -n "$pkgs" ] || fail "$feed: no define Package/NAME in any package"
dup="$(echo "$pkgs" | sort | uniq -d)"
[ -z "$dup" ] || fail "$feed: package name(s) defined twice:" \
    "$(echo "$dup" | tr '\n' ' ')"

# 2. scripts/feeds install: links under package/feeds/NAME, then the
# buildroot's scan of package/.
for d in $dirs; do
	ln -s "../../../feeds/$name/$d" "$top/package/feeds/$name/${d##*/}"
done
found="$(scan package)"
for d in $dirs; do
	n="$(echo "$found" | grep -cx "feeds/$name/${d##*/}")" || true
	[ "$n" = 1 ] || fail "src-link: package/feeds/$name/${d##*/} found" \
	    "$n times by the buildroot's scan"
	check_source "$top/package/feeds/$name/${d##*/}"
	echo "src-link: $name/$d -> package/feeds/$name/${d##*/}"
done

# 3. The symlink route, in a buildroot without the feed.
rm -rf "$top/package/feeds" "$top/feeds/$name"
for d in $dirs; do
	ln -s "$feed/$d" "$top/package/${d##*/}"
done
found="$(scan package)"
for d in $dirs; do
	n="$(echo "$found" | grep -cx "${d##*/}")" || true
	[ "$n" = 1 ] || fail "symlink: package/${d##*/} found $n times"
	check_source "$top/package/${d##*/}"
	echo "symlink: $feed/$d -> package/${d##*/}"
done
echo "feed-scan: $feed: $(echo "$pkgs" | tr '\n' ' ')ok"
