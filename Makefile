# SPDX-License-Identifier: ISC
# pushrelay: GNU Make build. Honours CC, CROSS_COMPILE, PKG_CONFIG, CFLAGS,
# LDFLAGS, PREFIX, DESTDIR. Objects go under $(BUILD); `make asan` uses its
# own build directory so both variants can coexist.

VERSION     := 0.1.0
CROSS_COMPILE ?=
CC          := $(if $(filter default,$(origin CC)),$(CROSS_COMPILE)gcc,$(CC))
PKG_CONFIG  ?= pkg-config
PREFIX      ?= /usr
DESTDIR     ?=

# MBEDTLS=3: build against mbedTLS 3.6 (OpenWrt 24.10 and later) from
# Debian 13, unpacked by cross/mbedtls3-sysroot.sh into
# build-mbedtls3/sysroot, in build-mbedtls3/ beside the default build. The
# code picks its branch by MBEDTLS_VERSION_NUMBER; this only says which
# headers and libraries (docs/tls.md).
MBEDTLS     ?= 2
MBEDTLS3_SYSROOT := $(CURDIR)/build-mbedtls3/sysroot
ifeq ($(MBEDTLS),3)
BUILD       ?= build-mbedtls3
MBEDTLS3_LIBDIR  := $(MBEDTLS3_SYSROOT)/usr/lib/$(shell $(CC) -dumpmachine)
CPPFLAGS    += -isystem $(MBEDTLS3_SYSROOT)/usr/include
# override: also when LDFLAGS comes on the command line (an ASan build).
override LDFLAGS += -L$(MBEDTLS3_LIBDIR) -Wl,-rpath,$(MBEDTLS3_LIBDIR)
endif
BUILD       ?= build
PYTHON      ?= /usr/bin/python3

CFLAGS      ?= -O2
WARN        := -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes
CPPFLAGS    += -D_GNU_SOURCE -DPUSHRELAY_VERSION='"$(VERSION)"' -I. -MMD -MP

# mbedTLS 2.28 ships no .pc files; plain -l flags for it.
PC_LIBS     := sqlite3 liblz4
PC_CFLAGS   := $(shell $(PKG_CONFIG) --cflags $(PC_LIBS) 2>/dev/null)
PC_LDLIBS   := $(shell $(PKG_CONFIG) --libs $(PC_LIBS) 2>/dev/null || echo -lsqlite3 -llz4)
LDLIBS      += $(PC_LDLIBS) -lmbedtls -lmbedx509 -lmbedcrypto -lpthread

CMOCKA_CFLAGS := $(shell $(PKG_CONFIG) --cflags cmocka 2>/dev/null)
CMOCKA_LIBS   := $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null || echo -lcmocka)

LIB_SRCS    := $(wildcard mqtt/*.c platform/*.c storage/*.c relay/*.c)
LIB_SRCS    := $(filter-out relay/main.c,$(LIB_SRCS))
LIB_OBJS    := $(LIB_SRCS:%.c=$(BUILD)/%.o)
MAIN_OBJ    := $(BUILD)/relay/main.o
BIN         := $(BUILD)/pushrelay

FLASHSHIM   := $(BUILD)/tests/libflashshim.so
# The userspace WAN emulator the weak-network tests and bench-wan run
# (tests/wan/wanem.c, docs/wan.md); a test tool, not part of the relay.
WANEM       := $(BUILD)/wanem

UNIT_SRCS   := $(wildcard tests/unit/test_*.c)
UNIT_BINS   := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all clean install test unit system system-corpus system-aedes asan \
	demo deps bench bench-bytes bench-wan fuzz fuzz-uci cross cross-test mbedtls3-sysroot \
	tls-test-mbedtls3 dist openwrt-check
# MBEDTLS=3 leaves ./pushrelay (the default build's copy) alone.
all: $(BIN) $(if $(filter 3,$(MBEDTLS)),,pushrelay) $(WANEM)

pushrelay: $(BIN)
	cp $(BIN) $@

$(BIN): $(LIB_OBJS) $(MAIN_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.c $(if $(filter 3,$(MBEDTLS)),| $(MBEDTLS3_SYSROOT)/.pushrelay-sysroot)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CPPFLAGS) $(PC_CFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CPPFLAGS) $(PC_CFLAGS) $(CMOCKA_CFLAGS) $(CFLAGS) \
	    $(LDFLAGS) -o $@ $< $(LIB_OBJS) $(CMOCKA_LIBS) $(LDLIBS)

# Frame bytes per message, v1 / v2 / v2 + dictionary, on a corpus:
# `make build/framesize && build/framesize tests/data/*.tsv`.
$(BUILD)/framesize: tests/bench/framesize.c $(LIB_OBJS)
	$(CC) $(WARN) $(CPPFLAGS) $(PC_CFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< \
	    $(LIB_OBJS) $(LDLIBS)

$(WANEM): tests/wan/wanem.c
	@mkdir -p $(dir $@)
	$(CC) $(WARN) -D_GNU_SOURCE $(CFLAGS) $(LDFLAGS) -o $@ $<

# Installs the Debian packages the build and the tests need, when missing.
deps:
	@sh tests/setup-deps.sh

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

# The system tests run in SYSTEM_JOBS pytest-xdist workers (0: one
# process); each test has its own brokers, ports and directories. The ones
# in SYSTEM_ALONE kill the relay under load, hold it to losing nothing and
# count what comes twice; they run alone afterwards, with the machine to
# themselves. The suite waits on brokers, timers and the emulated WAN far
# more than it computes: on 2 cores it took 170 s with 4 workers against
# 276 s with 2, at about a fifth of the CPU.
SYSTEM_JOBS  ?= 4
SYSTEM_ALONE := tests/system/test_kill9.py \
	tests/system/test_unpack.py::test_outage_and_kill9_of_relay_and_unpacker_lose_nothing \
	tests/system/test_exactly_once.py
SYSTEM_PYTEST = PUSHRELAY_BIN=$(abspath $(BIN)) $(PYTHON) -m pytest -q \
	-p no:cacheprovider

# $(call system_run,PYTEST,JOBS[,FILES]): the suite as described above,
# or only the test files FILES and the SYSTEM_ALONE tests among them; also
# cross-system's (cross/cross.mk).
system_files = $(or $(1),tests/system)
system_alone = $(filter $(addsuffix %,$(call system_files,$(1))),$(SYSTEM_ALONE))
system_run = $(if $(filter 0,$(2)),$(1) $(call system_files,$(3)),rc=0; \
	set -x; $(1) -n $(2) $(SYSTEM_ALONE:%=--deselect %) \
	$(call system_files,$(3)) || rc=1; \
	$(if $(call system_alone,$(3)),$(1) $(call system_alone,$(3)) || rc=1;) \
	exit $$rc)

system: $(BIN) $(FLASHSHIM)
	@$(call system_run,$(SYSTEM_PYTEST),$(SYSTEM_JOBS))

# The system tests that read the telemetry corpus (found by name, not
# listed by hand): CI runs them again with PUSHRELAY_NO_SHARED=1, on the
# committed sample alone, as a fresh clone without ../shared has it. Not
# the emulated WAN's (test_wan.py): its payloads only fill the link, and
# its cuts take minutes.
SYSTEM_CORPUS = $(filter-out tests/system/test_wan.py,$(shell grep -l -w \
	-e telemetry -e telemetry_messages tests/system/test_*.py))
system-corpus: $(BIN) $(FLASHSHIM)
	@$(call system_run,$(SYSTEM_PYTEST),$(SYSTEM_JOBS),$(SYSTEM_CORPUS))

# An LD_PRELOAD library that makes SQLite's files behave as on JFFS2 and
# counts what SQLite writes (tests/system/test_flash.py). Test code only;
# plain -O2 even in the ASan build, which preloads it after its runtime.
$(FLASHSHIM): tests/shim/flashshim.c
	@mkdir -p $(dir $@)
	$(CC) $(WARN) -O2 -shared -fPIC -o $@ $< -ldl

# The same suites with aedes as the central broker (tests/brokers, installed
# by `make deps`): a broker written apart from Mosquitto, MQTT 3.1.1 only.
# Shorter outage and kill -9 runs than `make system`'s keep it to a minute
# or two; tests about MQTT 5 on the central side skip themselves.
# test_exactly_once is left out: aedes 1.2.0 answers PUBRECs that reach it
# together from a QoS 2 subscriber with PUBRELs of the wrong packet ids
# (its in-memory persistence takes any PUBREL it holds for the one being
# stored: aedes-persistence's outgoingUpdate), so the consumer never gets
# the first message of each burst. AEDES_TRACE=1 shows it.
SYSTEM_AEDES := tests/system/test_relay_basic.py tests/system/test_outage.py \
	tests/system/test_kill9.py tests/system/test_unpack.py
system-aedes: $(BIN) $(FLASHSHIM)
	@$(call system_run,PUSHRELAY_CENTRAL_BROKER=aedes \
	    PUSHRELAY_OUTAGE_S=15 PUSHRELAY_KILLS=10 PUSHRELAY_KILL_LOAD_S=10 \
	    $(SYSTEM_PYTEST) -rs,$(SYSTEM_JOBS),$(SYSTEM_AEDES))

test: deps
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) system
	$(MAKE) system-aedes

# mbedTLS 3.6: the sysroot (cross/mbedtls3-sysroot.sh), then the relay and
# the TLS unit tests built against it in build-mbedtls3/, and the TLS unit
# and system suites run with them (PUSHRELAY_BIN points the harness at that
# binary). TLS_SYSTEM_MBEDTLS3: the system test files run.
TLS_SYSTEM_MBEDTLS3 ?= tests/system/test_tls.py tests/system/test_secret_files.py
mbedtls3-sysroot:
	@sh cross/mbedtls3-sysroot.sh

$(MBEDTLS3_SYSROOT)/.pushrelay-sysroot:
	@sh cross/mbedtls3-sysroot.sh

tls-test-mbedtls3: mbedtls3-sysroot
	$(MAKE) MBEDTLS=3 BUILD=build-mbedtls3 build-mbedtls3/pushrelay \
	    build-mbedtls3/tests/test_tls
	build-mbedtls3/tests/test_tls
	@$(call system_run,PUSHRELAY_BIN=$(abspath build-mbedtls3/pushrelay) \
	    $(PYTHON) -m pytest -q -p no:cacheprovider,$(SYSTEM_JOBS),$(TLS_SYSTEM_MBEDTLS3))

# ASan+UBSan build of the binary and the unit tests, then the whole suite.
ASAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=undefined
asan: deps
	$(MAKE) BUILD=build/asan CFLAGS="$(ASAN_FLAGS)" \
	    LDFLAGS="$(ASAN_FLAGS)" build/asan/pushrelay
	ASAN_OPTIONS=detect_leaks=1 PUSHRELAY_TIMEOUT_SCALE=2 $(MAKE) \
	    BUILD=build/asan CFLAGS="$(ASAN_FLAGS)" LDFLAGS="$(ASAN_FLAGS)" \
	    unit system

demo: deps all
	$(PYTHON) tests/demo.py --bin $(abspath $(BIN))

bench: deps all
	$(PYTHON) tests/bench/run
	$(PYTHON) tests/bench/wanbytes

# The WAN bytes rows alone (issue #14): 1, 5, 100 msg/s, flood, idle.
bench-bytes: deps all
	$(PYTHON) tests/bench/wanbytes

# pushrelay and Mosquitto's bridge over the emulated WAN (tests/bench/wan,
# docs/wan.md); needs root for the network namespaces.
bench-wan: deps all
	$(PYTHON) tests/bench/wan

install: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/pushrelay
	install -d $(DESTDIR)/etc/config
	install -m 0600 docs/examples/pushrelay.conf $(DESTDIR)/etc/config/pushrelay.example

clean:
	rm -rf build pushrelay

# `make dist`: $(DIST_DIR)/pushrelay-VERSION.tar.gz, the source tarball the
# OpenWrt package builds from (openwrt/net/pushrelay/Makefile). The same
# tree gives the same bytes: names sorted, owner and group 0, modes without
# group or other write, every mtime SOURCE_DATE_EPOCH (OpenWrt's build
# exports it; else the last commit's time, else 0), gzip without a name or
# time stamp. Everything but build output and node_modules goes in.
DIST_DIR   ?= $(BUILD)
DIST_NAME  := pushrelay-$(VERSION)
DIST_FILES := .ci .gitignore LICENSE README.md Makefile mqtt platform \
	storage relay cross docs openwrt tests
SOURCE_DATE_EPOCH ?= $(shell git -C $(CURDIR) log -1 --format=%ct \
	2>/dev/null || echo 0)
dist:
	@mkdir -p $(DIST_DIR)
	find $(DIST_FILES) \( -name node_modules -o -name __pycache__ \
	    -o -name '*.pyc' \) -prune -o \( -type f -o -type l \) -print \
	    > $(DIST_DIR)/$(DIST_NAME).found
	LC_ALL=C sort $(DIST_DIR)/$(DIST_NAME).found > $(DIST_DIR)/$(DIST_NAME).files
	LC_ALL=C tar --format=gnu --sort=name --owner=0 --group=0 \
	    --numeric-owner --mode='go-w,a+rX' \
	    --mtime=@$(SOURCE_DATE_EPOCH) --transform='s,^,$(DIST_NAME)/,S' \
	    -cf - -T $(DIST_DIR)/$(DIST_NAME).files | gzip -9n \
	    > $(DIST_DIR)/$(DIST_NAME).tar.gz
	@rm -f $(DIST_DIR)/$(DIST_NAME).found $(DIST_DIR)/$(DIST_NAME).files
	@echo "dist: $(DIST_DIR)/$(DIST_NAME).tar.gz"

# `make openwrt-check`: the OpenWrt feed and package without an SDK
# (docs/openwrt.md, "What is tested here, what is not"): the feed layout
# through a simulation of scripts/feeds and include/scan.mk (src-link and
# a plain symlink), then tests/system/test_packaging.py: shellcheck of the
# init and uci-defaults scripts, the init script's behaviour against a
# procd stand-in with the real `pushrelay check`, the uci-defaults ids,
# `make dist`, and the package Makefile against stub rules.mk/package.mk.
# The feed layout, the package's scripts against the procd stand-in, and
# the TLS suites built against mbedTLS 3.6, which OpenWrt 24.10 and later
# ship (the default build, on Debian 12's 2.28, runs them in `make test`).
openwrt-check: $(BIN)
	sh tests/openwrt/feed-scan.sh openwrt
	$(SYSTEM_PYTEST) tests/system/test_packaging.py
	$(MAKE) tls-test-mbedtls3

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# `make fuzz`: libFuzzer on the configuration reader, the batch frame
# decoder and the MQTT codec (FUZZ_TIME seconds each).
include tests/fuzz/fuzz.mk

# `make cross ARCH=armhf|arm64`, `make cross-test ARCH=armhf`: docs/cross.md.
include cross/cross.mk
