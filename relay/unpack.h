/* SPDX-License-Identifier: ISC */
/*
 * unpack: the central-site step of the pipeline (`pushrelay unpack`).
 *
 * The unpacker is the relay's pipeline with one link: its one route
 * (mode CONF_MODE_UNPACK, platform/conf.h) subscribes to the batch
 * frames on the central broker, and each frame taken in becomes its
 * records, queued in the open transaction to be published on the same
 * link at their own topics, QoS, retain flag and properties. The frame's
 * PUBACK leaves after the commit that stores the records, like any
 * message's; each record leaves the queue when its own PUBACK comes.
 *
 * Duplicates: the last sequence number taken from each gateway is kept in
 * the queue's file (queue_meta_set), written in the transaction that
 * stores the frame's records. A frame whose number is at most that, and
 * less than UNPACK_DUP_SPAN below it, was taken already and is dropped
 * (counted). One further below is a gateway with a new queue (its ids
 * start at a random point, storage/queue_file.c): taken, and logged.
 *
 * Trust (docs/unpack.md, "Trust"): a gateway speaks only for itself. Its
 * frame must come on the topic whose '+' level is its id; every record
 * lands under its gateway's prefix (option record_prefix), its response
 * topic too; a record MQTT would refuse (frame_record.refused) or that
 * asks for retain without option allow_retain is refused alone; a frame
 * that expands past option max_frame_expanded, that would take its
 * gateway past its share of the store (option gateway_share, accounted
 * by relay/gwshare.h), or that does not fit in the store whole, is
 * refused whole before anything is stored, and its number is not
 * recorded. Nothing a frame does evicts a stored record.
 *
 * A frame that does not decode, or that another gateway's topic carries,
 * is dropped, counted and logged with what is wrong and at which byte.
 * Strings a gateway chose are logged escaped (platform/escape.h).
 * Thread: main loop only.
 */
#ifndef PUSHRELAY_UNPACK_H
#define PUSHRELAY_UNPACK_H

#include <stdint.h>

#include "relay/link.h"

struct relay;
struct unpack;

/* How far below a gateway's last number a frame counts as sent again. */
#define UNPACK_DUP_SPAN		(UINT64_C(1) << 32)

/* The unpacker's own counters, beside struct relay_stats (status.c). */
struct unpack_stats {
	uint64_t frames_too_large;	/* past max_frame_expanded */
	uint64_t frames_over_share;	/* past the gateway's share */
	uint64_t records_refused;	/* MQTT's rules, retain, length */
};

/*
 * unpack_frame: take in the frame that message ev (borrowed for the call)
 * carries as its payload, as described above. Errors are counted in r's
 * stats and logged (rate-limited) here; nothing is returned. The first
 * call creates r->unpack (owned by r, freed by unpack_free()) and
 * registers it with r->queue (queue_set_on_forget), so r->unpack must be
 * freed after r->queue.
 */
void unpack_frame(struct relay *r, const struct link_msg *ev);

/* unpack_free: frees u; NULL is a no-op. */
void unpack_free(struct unpack *u);

/* unpack_stats: copies u's counters to *out; all 0 when u is NULL. */
void unpack_stats(const struct unpack *u, struct unpack_stats *out);

#endif
