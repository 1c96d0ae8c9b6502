/*
 * ackgate: decides when the acknowledgements that Paho writes may reach the
 * broker.
 *
 * Paho acknowledges an inbound QoS 1/2 PUBLISH (PUBACK, PUBREC) before the
 * relay has seen, let alone stored, the message. The tunnel (platform/
 * tunnel.h) carries Paho's bytes to the broker and runs them through this
 * gate first: the gate frames the MQTT packets of that byte stream (3.1.1
 * and 5) and holds each PUBACK (type 4) and PUBREC (type 5) until the main
 * loop reports, with ackgate_durable(), that the message with that packet
 * id is committed (or deliberately dropped). Every other packet passes.
 *
 * Bytes leave strictly in order: everything behind a held acknowledgement
 * waits too. The gate never copies or buffers bytes; it only counts them.
 * The owner keeps the bytes in its own buffer and asks how many of them,
 * from the start of its unsent region, may go now (ackgate_releasable()).
 * At most one acknowledgement is held at a time: ackgate_feed() stops
 * right after it and takes the following bytes only once it is released.
 *
 * Credits: ackgate_durable(P) before the PUBACK(P) arrives is remembered
 * (a count per packet id, saturating at 255), so the PUBACK passes at once
 * when it comes. A held acknowledgement passes when its credit arrives.
 *
 * Safety valve: an acknowledgement held for hold_max_ms is released anyway
 * and counted (stats.valve_releases). Paho acknowledges a duplicate QoS 2
 * PUBLISH again without delivering it, so no credit would ever come for
 * that PUBREC. The valve leaves the counts alone: a credit that arrives
 * after the valve already released its acknowledgement stays, and lets
 * a later acknowledgement with the same packet id pass early. That needs a
 * commit slower than hold_max_ms and a reuse of the id (the broker cycles
 * through 65535 ids), and it costs only the crash window of that message.
 *
 * Time comes in as arguments, in monotonic milliseconds; the gate reads no
 * clock. A struct ackgate is embedded in its owner (it is about 64 KiB).
 * It does no I/O and allocates nothing. Thread: owner's only.
 */
#ifndef PUSHRELAY_ACKGATE_H
#define PUSHRELAY_ACKGATE_H

#include <stddef.h>
#include <stdint.h>

enum ackgate_err {
	ACKGATE_OK = 0,
	ACKGATE_ERR_MALFORMED = -1,	/* the stream is not MQTT; see below */
	ACKGATE_ERR__COUNT = 1		/* number of codes, for the table */
};

/* Parsing stage of the current packet, as in LZ4's dStage_t. */
enum ackgate_stage {
	ACKGATE_ST_HEADER,	/* expecting the fixed header's first byte */
	ACKGATE_ST_LENGTH,	/* in the remaining-length varint */
	ACKGATE_ST_ID,		/* in the packet id of a PUBACK/PUBREC */
	ACKGATE_ST_BODY,	/* skipping the rest of the packet */
	ACKGATE_ST_HELD,	/* an acknowledgement waits for its credit */
	ACKGATE_ST_ERROR	/* malformed input seen; only reset helps */
};

struct ackgate_stats {
	uint64_t packets;	/* complete packets framed */
	uint64_t acks;		/* PUBACK + PUBREC framed */
	uint64_t acks_credited;	/* passed at once: the credit was there */
	uint64_t acks_held;	/* had to wait for their credit */
	uint64_t valve_releases; /* released by the valve, without credit */
	int64_t hold_ms_max;	/* longest wait of a released acknowledgement */
};

struct ackgate {
	int64_t hold_max_ms;
	enum ackgate_stage stage;
	uint8_t type;		/* packet type of the current packet (0-15) */
	uint8_t len_bytes;	/* varint bytes seen so far */
	uint8_t id_bytes;	/* packet id bytes seen so far */
	uint16_t id;		/* packet id of the current acknowledgement */
	uint32_t remaining;	/* bytes of the current packet not yet parsed */
	uint64_t releasable;	/* parsed bytes that may go now */
	uint64_t pending;	/* parsed bytes of an undecided acknowledgement */
	int64_t held_since_ms;	/* when the current acknowledgement was held */
	struct ackgate_stats stats;
	uint8_t credit[65536];	/* per packet id; saturates at 255 */
};

/*
 * ackgate_init: set up g (caller-owned memory) for a new connection, with
 * the valve at hold_max_ms (> 0; a smaller value is taken as 1). Clears
 * the statistics. Never fails.
 */
void ackgate_init(struct ackgate *g, int64_t hold_max_ms);

/*
 * ackgate_reset: forget the stream and every credit, for a new connection.
 * Keeps hold_max_ms and the statistics.
 */
void ackgate_reset(struct ackgate *g);

/*
 * ackgate_feed: parse the next n bytes of the stream (p is borrowed for the
 * call; any split of the stream is fine, down to one byte at a time).
 * *consumed gets how many bytes the gate took; these are the first bytes
 * that the owner has not fed yet, and it must keep them until they are
 * released and written. The gate stops early, right after an
 * acknowledgement it holds; feed the rest again once the acknowledgement is
 * released (ackgate_durable(), ackgate_valve()). now_ms starts the hold.
 *
 * Returns ACKGATE_OK, or ACKGATE_ERR_MALFORMED when the stream is not MQTT:
 * packet type 0, a remaining length longer than 4 bytes, or a PUBACK/PUBREC
 * shorter than its packet id. After an error *consumed and the releasable
 * count mean nothing: the owner drops the connection. The gate then takes
 * no more bytes (every call fails again) until ackgate_reset().
 */
int ackgate_feed(struct ackgate *g, const uint8_t *p, size_t n,
    int64_t now_ms, size_t *consumed);

/*
 * ackgate_releasable: how many bytes, from the start of the owner's unsent
 * region, may be written to the broker now.
 */
uint64_t ackgate_releasable(const struct ackgate *g);

/*
 * ackgate_consume: the owner wrote n bytes (n <= ackgate_releasable()).
 * A larger n is a broken contract: asserted, and clamped in release builds.
 */
void ackgate_consume(struct ackgate *g, uint64_t n);

/*
 * ackgate_durable: the message that arrived with packet_id is committed, or
 * the relay decided to drop it: its acknowledgement may go. Releases the
 * held acknowledgement if it has this id, else remembers a credit.
 * Packet id 0 (QoS 0 messages) is ignored. now_ms measures the hold.
 */
void ackgate_durable(struct ackgate *g, uint16_t packet_id, int64_t now_ms);

/*
 * ackgate_deadline: when the valve will release the held acknowledgement
 * (monotonic ms), or -1 when nothing is held.
 */
int64_t ackgate_deadline(const struct ackgate *g);

/*
 * ackgate_valve: release the held acknowledgement if it has waited
 * hold_max_ms by now_ms. Returns 1 if it did, else 0.
 */
int ackgate_valve(struct ackgate *g, int64_t now_ms);

/*
 * ackgate_held_id: the packet id of the held acknowledgement, or -1.
 */
int32_t ackgate_held_id(const struct ackgate *g);

/* ackgate_stats: copy the counters into *out (caller-owned). */
void ackgate_stats(const struct ackgate *g, struct ackgate_stats *out);

/* ackgate_strerror: static text for an ackgate_err code. */
const char *ackgate_strerror(int err);

#endif
