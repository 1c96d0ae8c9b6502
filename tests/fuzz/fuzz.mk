# tests/fuzz/fuzz.mk: the `make fuzz` target, to be included by the top
# Makefile (after WARN, BUILD and PKG_CONFIG are set). Builds two libFuzzer
# targets with clang: fuzz_frame for the batch frame decoder and fuzz_mqtt
# for the MQTT codec (mqtt/); writes seed inputs for each with a small
# generator, and fuzzes each for FUZZ_TIME seconds, one after the other
# (CI: at least 60; `make fuzz` takes 2 x FUZZ_TIME). libFuzzer's runtime
# comes with Debian's clang (package libclang-rt-14-dev). A crash leaves
# its input in $(BUILD)/fuzz/crash-* (fuzz_mqtt: mqtt-crash-*); replay it
# with `$(BUILD)/fuzz/fuzz_frame $(BUILD)/fuzz/crash-...` (or fuzz_mqtt).

FUZZ_CC     ?= clang
FUZZ_TIME   ?= 60
FUZZ_SAN    := -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined
FUZZ_SRCS   := relay/frame.c relay/frame_enc.c relay/frame_dec.c
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
