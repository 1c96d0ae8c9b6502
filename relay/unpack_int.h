/* SPDX-License-Identifier: ISC */
/*
 * unpack_int: the inside of the unpacker, shared by relay/unpack.c
 * (frames, records, duplicates, the gateways' shares) and
 * relay/unpack_dict.c (frame v2 dictionaries and held frames). Nothing
 * else includes this file: unpack.h is the contract. Thread: main loop
 * only.
 */
#ifndef PUSHRELAY_UNPACK_INT_H
#define PUSHRELAY_UNPACK_INT_H

#include <stddef.h>
#include <stdint.h>

#include "platform/conf.h"
#include "platform/log.h"
#include "relay/frame.h"
#include "relay/link.h"
#include "relay/unpack.h"

struct relay;

/* Repeated warnings are logged at most this often. */
#define UNPACK_LOG_EVERY_MS	60000
/* MQTT's longest topic; a prefixed topic or response topic must fit. */
#define UNPACK_TOPIC_MAX	65535
#define UNPACK_ASK_MS		10000	/* a dictionary asked for again */

struct unpack {
	struct gwshare *share;	/* NULL until built (unpack_state) */
	uint64_t gen;		/* queue_generation() share was built under */
	uint8_t *props;		/* props with a prefixed response topic */
	size_t props_cap;
	struct unpack_stats st;
	struct log_rate rate_records;	/* refused records */
	struct log_rate rate_store;	/* frames refused by share or room */
	/* Frame v2 dictionaries: the last one read, and a decode buffer. */
	uint8_t *dict;			/* FRAME_DICT_MAX bytes */
	size_t dict_len;		/* 0: nothing cached */
	uint32_t dict_id;
	char dict_gw[FRAME_GWID_MAX + 1];
	uint64_t dict_gen;		/* queue_generation() it was read in */
	uint8_t *dbuf;			/* FRAME_DICT_MAX bytes */
	char missing_gw[FRAME_GWID_MAX + 1];	/* last missing one logged */
	uint32_t missing_id;
	char asked_gw[FRAME_GWID_MAX + 1];	/* last one asked for; "" */
	uint32_t asked_id;			/*   once it came */
	int64_t asked_ms;
	char asked_topic[256];			/* its frames' topic */
	struct log_rate rate_held;
};

/* Why unpack_on_summary or unpack_on_record stopped the decode. */
enum unpack_stop {
	UNPACK_GO = 0,
	UNPACK_OVER_SHARE,	/* the gateway's share would be passed */
	UNPACK_NO_ROOM,		/* the store cannot take the frame whole */
	UNPACK_STORE_FAILED,	/* a write failed, or out of memory */
};

/* One frame's decode: what the callbacks need and count. */
struct unpack_ctx {
	struct relay *r;
	struct unpack *u;
	const struct frame_header *h;
	char prefix[CONF_RECORD_PREFIX_MAX + FRAME_GWID_MAX + 1];
	size_t prefix_len;
	int64_t wall_ms;
	uint64_t need;		/* bytes the frame may store, at most */
	uint64_t seen;		/* records delivered so far */
	uint64_t index;		/* of the record at hand, from 0 */
	uint64_t stored;
	uint64_t full;
	enum unpack_stop stop;
	int store_err;		/* a dictionary read failed */
};

/* unpack.c */
/* Counts (in *counter) and logs, rate-limited, a frame that is dropped. */
void unpack_refuse(struct relay *r, uint64_t *counter, const char *topic,
    const char *what);
/*
 * Decodes the records frame buf (len bytes, header h already peeked) and
 * stores its records. Returns 0 when they are stored, FRAME_ERR_NODICT
 * when its dictionary is missing (nothing counted or stored), or another
 * code after counting and logging it.
 */
int unpack_decode(struct relay *r, struct unpack *u, const uint8_t *buf,
    size_t len, struct frame_header *h, const char *topic);

/* unpack_dict.c */
/* frame_get_dict_fn (arg: struct unpack_ctx): the dictionary a frame
 * names, from the store (cached in u). */
int unpack_get_dict(void *arg, const struct frame_header *h,
    const uint8_t **d, size_t *len);
/*
 * A frame whose dictionary is missing: kept in the store until it comes,
 * and asked for. 0 when held, -1 when not (store error, or too many held
 * already; counted and logged).
 */
int unpack_hold(struct relay *r, struct unpack *u, const uint8_t *buf,
    size_t len, const struct frame_header *h, const char *topic);
/* A dictionary frame: stored for its gateway, then its held frames go. */
void unpack_dict(struct relay *r, struct unpack *u, const uint8_t *buf,
    size_t len, struct frame_header *h, const char *topic);

#endif
