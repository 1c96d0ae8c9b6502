# pushrelay: GNU Make build. Honours CC, CROSS_COMPILE, PKG_CONFIG, CFLAGS,
# LDFLAGS, PREFIX, DESTDIR. Objects go under $(BUILD); `make asan` uses its
# own build directory so both variants can coexist.

VERSION     := 0.1.0
CROSS_COMPILE ?=
CC          := $(if $(filter default,$(origin CC)),$(CROSS_COMPILE)gcc,$(CC))
PKG_CONFIG  ?= pkg-config
PREFIX      ?= /usr
DESTDIR     ?=
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

# The userspace WAN emulator the weak-network tests and bench-wan run
# (tests/wan/wanem.c, docs/wan.md); a test tool, not part of the relay.
WANEM       := $(BUILD)/wanem

UNIT_SRCS   := $(wildcard tests/unit/test_*.c)
UNIT_BINS   := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all clean install test unit system system-aedes asan demo deps \
	bench bench-wan fuzz fuzz-uci cross cross-test
all: $(BIN) pushrelay $(WANEM)

pushrelay: $(BIN)
	cp $(BIN) $@

$(BIN): $(LIB_OBJS) $(MAIN_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CPPFLAGS) $(PC_CFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CPPFLAGS) $(PC_CFLAGS) $(CMOCKA_CFLAGS) $(CFLAGS) \
	    $(LDFLAGS) -o $@ $< $(LIB_OBJS) $(CMOCKA_LIBS) $(LDLIBS)

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
# themselves.
SYSTEM_JOBS  ?= 2
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

system: $(BIN)
	@$(call system_run,$(SYSTEM_PYTEST),$(SYSTEM_JOBS))

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
system-aedes: $(BIN)
	@$(call system_run,PUSHRELAY_CENTRAL_BROKER=aedes \
	    PUSHRELAY_OUTAGE_S=15 PUSHRELAY_KILLS=10 PUSHRELAY_KILL_LOAD_S=10 \
	    $(SYSTEM_PYTEST) -rs,$(SYSTEM_JOBS),$(SYSTEM_AEDES))

test: deps
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) system
	$(MAKE) system-aedes

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

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# `make fuzz`: libFuzzer on the configuration reader, the batch frame
# decoder and the MQTT codec (FUZZ_TIME seconds each).
include tests/fuzz/fuzz.mk

# `make cross ARCH=armhf|arm64`, `make cross-test ARCH=armhf`: docs/cross.md.
include cross/cross.mk
