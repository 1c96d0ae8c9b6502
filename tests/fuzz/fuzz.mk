# SPDX-License-Identifier: ISC
# tests/fuzz/fuzz.mk: the `make fuzz` target, to be included by the top
# Makefile (after WARN, BUILD and PKG_CONFIG are set). Builds five
# libFuzzer targets with clang, one per decoder of outside bytes (frame
# v2 and dictionaries: fuzz_frame2): fuzz_uci
# for the configuration reader (UCI and the schema), fuzz_frame for the
# batch frame decoder, fuzz_expand for the decoder's receiver checks (what
# a frame expands to, MQTT's string rules per record) and fuzz_mqtt for
# the MQTT codec (mqtt/); seeds each (a small generator, or the project's
# own configurations) and fuzzes each for FUZZ_TIME seconds, one after the
# other: `make fuzz` takes 5 x FUZZ_TIME. libFuzzer's runtime comes with Debian's clang (package
# libclang-rt-14-dev). A crash leaves its input in $(BUILD)/fuzz/crash-*
# (uci-crash-*, expand-crash-*, mqtt-crash-*); replay it with
# `$(BUILD)/fuzz/fuzz_frame $(BUILD)/fuzz/crash-...` (or fuzz_uci, fuzz_mqtt).

FUZZ_CC     ?= clang
FUZZ_TIME   ?= 60
FUZZ_SAN    := -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined
FUZZ_SRCS   := relay/frame.c relay/frame_enc.c relay/frame_dec.c \
	relay/frame_dec2.c platform/hash.c mqtt/wire.c
FUZZ_LIBS   := $(shell $(PKG_CONFIG) --libs liblz4 2>/dev/null || echo -llz4)
FUZZ_DIR    := $(BUILD)/fuzz

$(FUZZ_DIR)/fuzz_frame: tests/fuzz/fuzz_frame.c $(FUZZ_SRCS) relay/frame.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(WARN) -D_GNU_SOURCE -I. $(FUZZ_SAN) -o $@ \
	    tests/fuzz/fuzz_frame.c $(FUZZ_SRCS) $(FUZZ_LIBS)

$(FUZZ_DIR)/fuzz_frame_seeds: tests/fuzz/fuzz_frame.c $(FUZZ_SRCS) \
    relay/frame.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(WARN) -D_GNU_SOURCE -I. -O1 -DFRAME_FUZZ_SEEDS -o $@ \
	    tests/fuzz/fuzz_frame.c $(FUZZ_SRCS) $(FUZZ_LIBS)

$(FUZZ_DIR)/fuzz_expand: tests/fuzz/fuzz_expand.c $(FUZZ_SRCS) relay/frame.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(WARN) -D_GNU_SOURCE -I. $(FUZZ_SAN) -o $@ \
	    tests/fuzz/fuzz_expand.c $(FUZZ_SRCS) $(FUZZ_LIBS)

$(FUZZ_DIR)/fuzz_expand_seeds: tests/fuzz/fuzz_expand.c $(FUZZ_SRCS) \
    relay/frame.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(WARN) -D_GNU_SOURCE -I. -O1 -DEXPAND_FUZZ_SEEDS -o $@ \
	    tests/fuzz/fuzz_expand.c $(FUZZ_SRCS) $(FUZZ_LIBS)

MQTT_FUZZ_SRCS := $(wildcard mqtt/*.c)

$(FUZZ_DIR)/fuzz_mqtt: tests/fuzz/fuzz_mqtt.c $(MQTT_FUZZ_SRCS) mqtt/mqtt.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(WARN) -D_GNU_SOURCE -I. $(FUZZ_SAN) -o $@ \
	    tests/fuzz/fuzz_mqtt.c $(MQTT_FUZZ_SRCS)

$(FUZZ_DIR)/fuzz_mqtt_seeds: tests/fuzz/fuzz_mqtt.c $(MQTT_FUZZ_SRCS) \
    mqtt/mqtt.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(WARN) -D_GNU_SOURCE -I. -O1 -DMQTT_FUZZ_SEEDS -o $@ \
	    tests/fuzz/fuzz_mqtt.c $(MQTT_FUZZ_SRCS)

fuzz: deps $(FUZZ_DIR)/fuzz_frame $(FUZZ_DIR)/fuzz_frame_seeds \
    $(FUZZ_DIR)/fuzz_mqtt $(FUZZ_DIR)/fuzz_mqtt_seeds
	@mkdir -p $(FUZZ_DIR)/corpus $(FUZZ_DIR)/corpus_mqtt
	$(FUZZ_DIR)/fuzz_frame_seeds $(FUZZ_DIR)/corpus
	$(FUZZ_DIR)/fuzz_frame -max_total_time=$(FUZZ_TIME) \
	    -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/ \
	    $(FUZZ_DIR)/corpus
	$(FUZZ_DIR)/fuzz_mqtt_seeds $(FUZZ_DIR)/corpus_mqtt
	$(FUZZ_DIR)/fuzz_mqtt -max_total_time=$(FUZZ_TIME) \
	    -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/mqtt- \
	    $(FUZZ_DIR)/corpus_mqtt

# fuzz_expand: the receiver's checks of the frame decoder, on bodies the
# harness wraps in a correct header (tests/fuzz/fuzz_expand.c).
fuzz-expand: deps $(FUZZ_DIR)/fuzz_expand $(FUZZ_DIR)/fuzz_expand_seeds
	@mkdir -p $(FUZZ_DIR)/corpus_expand
	$(FUZZ_DIR)/fuzz_expand_seeds $(FUZZ_DIR)/corpus_expand
	$(FUZZ_DIR)/fuzz_expand -max_total_time=$(FUZZ_TIME) \
	    -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/expand- \
	    $(FUZZ_DIR)/corpus_expand

fuzz: fuzz-expand

# fuzz_uci: the configuration reader (UCI syntax and the schema). Its
# seeds are the project's own example and default configurations.
UCI_FUZZ_SRCS := platform/conf.c platform/conf_unpack.c platform/confval.c \
	platform/uci.c platform/topic.c platform/tls.c platform/tls_conn.c \
	platform/tls_suites.c platform/tls_reason.c \
	platform/clock.c
UCI_FUZZ_SEEDS := docs/examples/pushrelay.conf \
	openwrt/net/pushrelay/files/pushrelay.config

$(FUZZ_DIR)/fuzz_uci: tests/fuzz/fuzz_uci.c $(UCI_FUZZ_SRCS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(WARN) -D_GNU_SOURCE -I. $(FUZZ_SAN) -o $@ \
	    tests/fuzz/fuzz_uci.c $(UCI_FUZZ_SRCS) \
	    -lmbedtls -lmbedx509 -lmbedcrypto

fuzz-uci: deps $(FUZZ_DIR)/fuzz_uci
	@mkdir -p $(FUZZ_DIR)/corpus_uci
	cp $(UCI_FUZZ_SEEDS) $(FUZZ_DIR)/corpus_uci/
	$(FUZZ_DIR)/fuzz_uci -max_total_time=$(FUZZ_TIME) \
	    -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/uci- \
	    $(FUZZ_DIR)/corpus_uci

fuzz: fuzz-uci

# fuzz_frame2: frame version 2 and dictionaries (tests/fuzz/fuzz_frame2.c).
$(FUZZ_DIR)/fuzz_frame2: tests/fuzz/fuzz_frame2.c $(FUZZ_SRCS) relay/frame.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(WARN) -D_GNU_SOURCE -I. $(FUZZ_SAN) -o $@ \
	    tests/fuzz/fuzz_frame2.c $(FUZZ_SRCS) $(FUZZ_LIBS)

$(FUZZ_DIR)/fuzz_frame2_seeds: tests/fuzz/fuzz_frame2.c $(FUZZ_SRCS) \
    relay/frame.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(WARN) -D_GNU_SOURCE -I. -O1 -DFRAME2_FUZZ_SEEDS -o $@ \
	    tests/fuzz/fuzz_frame2.c $(FUZZ_SRCS) $(FUZZ_LIBS)

fuzz-frame2: deps $(FUZZ_DIR)/fuzz_frame2 $(FUZZ_DIR)/fuzz_frame2_seeds
	@mkdir -p $(FUZZ_DIR)/corpus_frame2
	$(FUZZ_DIR)/fuzz_frame2_seeds $(FUZZ_DIR)/corpus_frame2
	$(FUZZ_DIR)/fuzz_frame2 -max_total_time=$(FUZZ_TIME) \
	    -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/frame2- \
	    $(FUZZ_DIR)/corpus_frame2

fuzz: fuzz-frame2
