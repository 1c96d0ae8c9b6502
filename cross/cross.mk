# SPDX-License-Identifier: ISC
# cross/cross.mk: cross-builds for ARM with Debian's cross compilers, to be
# included by the top Makefile (after BUILD, PYTHON and the unit test list
# are set). See docs/cross.md.
#
#   make cross ARCH=armhf|arm64   the relay and the cmocka unit tests in
#                                 build/cross/ARCH, linked against the
#                                 target's Debian libraries
#   make cross-test ARCH=armhf    the unit tests, then the system tests with
#                                 the ARM relay, all under qemu-user (the
#                                 Mosquitto brokers run natively)
#
# Both first run cross/sysroot.sh ARCH, which installs the cross compiler and
# qemu-user when missing and unpacks the target's libraries into
# build/cross/ARCH/sysroot. The build itself is the top Makefile run again
# with BUILD, CROSS_COMPILE and the sysroot's paths; pkg-config reads only
# the sysroot's .pc files, so no host path reaches the compiler or linker.
#
# CROSS_TEST_JOBS: pytest-xdist workers for the system tests under qemu
# (default 3; 0 runs them in one process). CROSS_TIMEOUT_SCALE: the
# harness's timeout multiplier under qemu (default 3).

ARCH                ?= armhf
CROSS_TRIPLET_armhf := arm-linux-gnueabihf
CROSS_TRIPLET_arm64 := aarch64-linux-gnu
CROSS_TRIPLET       := $(CROSS_TRIPLET_$(ARCH))
CROSS_BUILD         := build/cross/$(ARCH)
CROSS_SYSROOT       := $(CURDIR)/$(CROSS_BUILD)/sysroot
CROSS_LIBDIR        := $(CROSS_SYSROOT)/usr/lib/$(CROSS_TRIPLET)
CROSS_BIN           := $(CROSS_BUILD)/pushrelay
CROSS_UNIT_BINS     := $(UNIT_SRCS:tests/unit/%.c=$(CROSS_BUILD)/tests/%)
CROSS_RUN           := $(CURDIR)/cross/qemu-run $(ARCH)
CROSS_TEST_JOBS     ?= 3
CROSS_TIMEOUT_SCALE ?= 3

# The environment of the recursive make. CPPFLAGS goes through the
# environment, not the command line, so that the Makefile's own
# `CPPFLAGS +=` still applies. PKG_CONFIG_PATH is emptied because pkg-config
# would search it before PKG_CONFIG_LIBDIR.
# _FILE_OFFSET_BITS=64: on 32-bit targets, stat() of a queue file past 2 GiB
# and readdir() of a directory whose entries have 64-bit offsets fail with
# EOVERFLOW without it (readdir does so under qemu-arm on this host's ext4).
# No library API the relay calls takes an off_t, so it can differ from the
# libraries' own. On 64-bit targets it changes nothing.
CROSS_ENV := \
	PKG_CONFIG_PATH= \
	PKG_CONFIG_LIBDIR=$(CROSS_LIBDIR)/pkgconfig:$(CROSS_SYSROOT)/usr/share/pkgconfig \
	PKG_CONFIG_SYSROOT_DIR=$(CROSS_SYSROOT) \
	CPPFLAGS="-I$(CROSS_SYSROOT)/usr/include -D_FILE_OFFSET_BITS=64" \
	LDFLAGS="-L$(CROSS_LIBDIR) -Wl,-rpath-link,$(CROSS_LIBDIR)"

.PHONY: cross-sysroot cross-unit cross-system

cross-sysroot:
	$(if $(CROSS_TRIPLET),,$(error ARCH must be armhf or arm64, not '$(ARCH)'))
	@sh cross/sysroot.sh $(ARCH)

cross: cross-sysroot
	$(CROSS_ENV) $(MAKE) BUILD=$(CROSS_BUILD) \
	    CROSS_COMPILE=$(CROSS_TRIPLET)- PKG_CONFIG=pkg-config \
	    $(CROSS_BIN) $(CROSS_UNIT_BINS)
	$(CROSS_TRIPLET)-strip -o $(CROSS_BIN).stripped $(CROSS_BIN)
	@echo "$(ARCH): $(CROSS_BIN) stripped: $$(stat -c %s \
	    $(CROSS_BIN).stripped) bytes; NEEDED:" $$($(CROSS_TRIPLET)-readelf \
	    -d $(CROSS_BIN) | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')

# The unit tests' temporary files go to a tmpfs: Debian's armhf
# libmbedx509 reads ca_path with the 32-bit readdir(), which under qemu-arm
# gets ext4's 64-bit directory offsets and fails with EOVERFLOW (on an ARM
# kernel the offsets fit). tmpfs offsets are small.
CROSS_TMP = $(firstword $(shell df --output=fstype /dev/shm 2>/dev/null | \
	grep -qx tmpfs && echo /dev/shm) /tmp)

cross-unit: cross
	@set -e; tmp=$$(mktemp -d $(CROSS_TMP)/pushrelay-unit.XXXXXX); \
	trap 'rm -rf "$$tmp"' EXIT; \
	for t in $(CROSS_UNIT_BINS); do echo "== $$t ($(ARCH), qemu)"; \
	    TMPDIR=$$tmp $(CROSS_RUN) $$t; done

# The system tests with the ARM relay: the harness runs every relay command
# through $PUSHRELAY_WRAP. They run in CROSS_TEST_JOBS pytest-xdist workers
# (each test has its own brokers, ports and directories), except the kill -9
# tests (SYSTEM_ALONE, Makefile), which run alone afterwards: they kill
# processes under load and count what is lost and what comes twice, and
# under qemu other tests' load would stretch their timing past the waits.
CROSS_PYTEST = PUSHRELAY_BIN=$(abspath $(CROSS_BIN)) \
	PUSHRELAY_WRAP="$(CROSS_RUN)" \
	PUSHRELAY_TIMEOUT_SCALE=$(CROSS_TIMEOUT_SCALE) \
	$(PYTHON) -m pytest -q -p no:cacheprovider

# Not under qemu: the LuCI page (a browser and JSON files), the package
# scripts (shell against a procd stand-in), and the emulated WAN, whose
# timing targets are the native build's to meet (qemu's slower start and
# TLS would measure the emulator); they test no code the ARM build
# changes. The relay code they exercise runs in the other files.
CROSS_SYSTEM_FILES = $(filter-out tests/system/test_luci.py \
	tests/system/test_packaging.py tests/system/test_wan.py, \
	$(wildcard tests/system/test_*.py))

# cross-unit and cross-system are the halves of cross-test, which installs
# the host's test packages (deps) first.
cross-system: cross
	@$(call system_run,$(CROSS_PYTEST),$(CROSS_TEST_JOBS),$(CROSS_SYSTEM_FILES))

cross-test: deps
	$(MAKE) cross-unit
	$(MAKE) cross-system
