/* SPDX-License-Identifier: ISC */
/*
 * link: one MQTT connection (the local broker or the central one), owned
 * by the main loop.
 *
 * A link owns its socket (opened by platform/dial.h without blocking),
 * its transport (plain TCP, or TLS through platform/tls.h), its input and
 * output buffers and the MQTT session state of the connection: the
 * packet ids of its unacknowledged publishes, subscribes and pings. It
 * speaks MQTT 3.1.1 or 5 through mqtt/mqtt.h and does no other I/O.
 *
 * Nothing is written to the socket inside the calls that queue packets
 * (link_publish, link_ack, link_subscribe, ...): they append to the output
 * buffer, and link_flush() writes it, once per loop pass. So the loop can
 * commit what it received before any acknowledgement of it leaves:
 * acknowledgements of received messages are never sent by the link on
 * its own; the owner sends them with link_ack() after its commit.
 *
 * Events reach the owner through the callbacks of struct link_cbs, called
 * from link_io() and link_tick() only. A callback may call any link
 * function of this link except link_free(); after on_down the link is
 * DOWN and its buffers are empty.
 *
 * Thread: main loop only. Nothing blocks.
 */
#ifndef PUSHRELAY_LINK_H
#define PUSHRELAY_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "platform/conf.h"
#include "storage/queue.h"

struct tls;

enum link_side {
	LINK_LOCAL = 0,
	LINK_CENTRAL = 1,
};

enum link_state {
	LINK_DOWN = 0,		/* no connection; a reconnect may be scheduled */
	LINK_DIALING,		/* resolving, connecting TCP (or the proxy) */
	LINK_HANDSHAKE,		/* the transport's handshake (TLS) */
	LINK_CONNECTING,	/* CONNECT sent, waiting for CONNACK */
	LINK_UP,		/* connected */
	LINK_CLOSING,		/* our DISCONNECT is queued; closes when sent */
};

enum link_err {
	LINK_OK = 0,
	LINK_ERR_WINDOW = -1,	/* no free in-flight slot, or output full */
	LINK_ERR_STATE = -2,	/* not connected */
	LINK_ERR_PACKET = -3,	/* the packet cannot be encoded; err says */
	LINK_ERR_NOMEM = -4,
	LINK_ERR_TOO_LARGE = -5,	/* over the broker's Maximum Packet Size */
	LINK_ERR__COUNT = 6
};

struct link;

/* An inbound PUBLISH; every pointer is borrowed for the callback. */
struct link_msg {
	const char *topic;		/* NUL-terminated */
	size_t topic_len;
	const uint8_t *payload;
	size_t payload_len;
	const uint8_t *props;		/* MQTT 5 property section, raw */
	size_t props_len;
	uint32_t expiry_s;		/* MQTT 5 message expiry */
	int has_expiry;
	int qos;
	int retain;
	int dup;
	uint16_t id;			/* packet id, 0 for QoS 0 */
};

struct link_cbs {
	/* CONNACK accepted: the link is UP. */
	void (*on_up)(void *arg, struct link *l, int session_present);
	/*
	 * The connection failed or ended (why: "connect: ...", "connection
	 * lost: ...", "refused: Not authorized", ...). was_up: it had been
	 * UP. The link is DOWN; its in-flight publishes are forgotten.
	 */
	void (*on_down)(void *arg, struct link *l, const char *why,
	    int was_up);
	/*
	 * A PUBLISH arrived. For QoS 1 and 2 the owner must answer it with
	 * link_ack() (PUBACK or PUBREC) once it is durable.
	 */
	void (*on_message)(void *arg, struct link *l,
	    const struct link_msg *m);
	/*
	 * PUBREL arrived for an inbound QoS 2 message: the owner forgets the
	 * id (durably) and answers with link_ack(PUBCOMP).
	 */
	void (*on_release)(void *arg, struct link *l, uint16_t id);
	/*
	 * A publish of ours is done: PUBACK (QoS 1), PUBREC (QoS 2) or, for
	 * QoS 0, written to the transport. reason >= 0x80: the broker
	 * refused it (MQTT 5). cookie is link_publish()'s. rel_id != 0: a
	 * PUBREC accepted the QoS 2 publish with that packet id; the owner
	 * sends PUBREL with link_ack(6, rel_id) once that is durable, and
	 * the id stays taken until on_complete.
	 */
	void (*on_acked)(void *arg, struct link *l, int64_t cookie,
	    uint16_t rel_id, uint8_t reason);
	/*
	 * A QoS 2 publish got packet id id: the owner stores (cookie, id)
	 * before the PUBLISH leaves (link_flush after its commit), so that
	 * after a restart link_restore() can send it again under the same
	 * id. on_complete: PUBCOMP came; the id may be forgotten.
	 */
	void (*on_sent)(void *arg, struct link *l, int64_t cookie,
	    uint16_t id);
	void (*on_complete)(void *arg, struct link *l, uint16_t id);
	/*
	 * An MQTT 3.1.1 PUBLISH over max_packet_size (which 3.1.1 cannot
	 * announce): the link has read its head and discards the rest as it
	 * arrives, never buffering it. The owner drops it, counts it and,
	 * for QoS 1 and 2, answers it with link_ack() (PUBACK or PUBREC) so
	 * that the broker does not send it again after every reconnect.
	 */
	void (*on_oversized)(void *arg, struct link *l, int qos, uint16_t id,
	    size_t size);
	/* SUBACK: refused is the first reason >= 0x80, or 0 when none. */
	void (*on_suback)(void *arg, struct link *l, uint8_t refused);
};

/* What link_connect() needs besides the broker section. */
struct link_will {
	const char *topic;	/* NULL or "": no will */
	const char *payload;	/* NUL-terminated */
};

struct link_stats {
	uint64_t tx_bytes;	/* written to the transport (MQTT bytes) */
	uint64_t rx_bytes;	/* read from it */
	uint64_t packets_in;
	uint64_t packets_out;
	uint64_t writes;	/* transport writes */
	uint64_t refused;	/* malformed or oversized packets refused */
	uint64_t aliased;	/* publishes sent as a topic alias alone */
	uint32_t aliases;	/* topic aliases set on this connection */
	uint32_t alias_max;	/* how many it may set (0: none) */
};

/*
 * link_new: a link for side with window in-flight slots (1..65000),
 * calling cbs (borrowed, must outlive the link) with arg. Returns NULL
 * when out of memory.
 */
struct link *link_new(enum link_side side, size_t window,
    const struct link_cbs *cbs, void *arg);

/* link_free: close the connection at once and free. NULL is a no-op. */
void link_free(struct link *l);

/*
 * link_connect: start a connection attempt to b's addresses (b, will
 * borrowed for the call; what the attempt needs is copied). tls: NULL for
 * plain TCP, else borrowed and must outlive the connection. The CONNECT
 * asks for a persistent session (clean start 0; MQTT 5: session expiry
 * 0xFFFFFFFF), announces b->max_inflight as Receive Maximum and
 * max_packet as Maximum Packet Size (MQTT 5); a bigger inbound packet is
 * refused and ends the connection. With MQTT 5 and b->topic_alias_max > 0
 * our publishes use topic aliases, as many as the smaller of
 * b->topic_alias_max and the broker's Topic Alias Maximum (CONNACK): the
 * first that many topics published a second time on the connection get
 * one, set with that publish, and later publishes to them carry the
 * alias alone. The outcome comes as on_up or
 * on_down. Returns LINK_OK or LINK_ERR_* with "broker ADDR: why" in err;
 * the link is then DOWN.
 */
int link_connect(struct link *l, const struct conf_broker *b,
    const struct link_will *will, struct tls *tls, uint32_t max_packet,
    int64_t now_ms, char *err, size_t errlen);

/*
 * link_drop: close the connection at once (no DISCONNECT), without
 * calling on_down. Every in-flight slot is freed; the state is DOWN.
 */
void link_drop(struct link *l);

/*
 * link_disconnect: queue a DISCONNECT (normal, so no will); the link
 * closes once it is written, or at once when link_flush() cannot write.
 * on_down follows. Returns LINK_OK or LINK_ERR_STATE when not UP.
 */
int link_disconnect(struct link *l);

/*
 * link_pollfd: the descriptor to poll and for what; returns 0 when there
 * is none (DOWN, or resolving in a way that has no fd).
 */
int link_pollfd(const struct link *l, int *fd, short *events);

/*
 * link_deadline: the monotonic ms by which link_tick() must run (a
 * keepalive, a handshake or CONNACK timeout, or now when the transport
 * holds decrypted bytes); -1 when none.
 */
int64_t link_deadline(const struct link *l);

/*
 * link_io: act on revents of the link's descriptor: dial, handshake,
 * read and dispatch every whole packet (callbacks), write what waits.
 * Reads at most about 256 KiB per call so that the owner commits and
 * answers in between.
 */
void link_io(struct link *l, short revents, int64_t now_ms);

/* link_tick: timers: keepalive, timeouts, bytes the transport holds. */
void link_tick(struct link *l, int64_t now_ms);

/*
 * link_flush: write what the output buffer holds, in as few transport
 * writes as the transport allows (one for TCP). A failed write ends the
 * connection (on_down).
 */
void link_flush(struct link *l, int64_t now_ms);

/*
 * link_subscribe: subscribe to n filters (borrowed) with their QoS; MQTT
 * 5 subscriptions use No Local, Retain As Published and Retain Handling
 * 1. unsub: the same, unsubscribing (no callback for UNSUBACK). Returns
 * LINK_OK, LINK_ERR_STATE, LINK_ERR_PACKET (err says why) or
 * LINK_ERR_NOMEM.
 */
int link_subscribe(struct link *l, char *const *filters, const int *qos,
    size_t n, char *err, size_t errlen);
int link_unsubscribe(struct link *l, char *const *filters, size_t n,
    char *err, size_t errlen);

/*
 * link_publish: queue m (borrowed for the call) at its QoS with its
 * retain flag and properties (the queue's props blob); with MQTT 5 the
 * message expiry is the time left until m->expire_ms at wall_ms. cookie
 * comes back in on_acked. Returns LINK_OK, LINK_ERR_WINDOW (no slot, or
 * the output buffer is over its mark: try later), LINK_ERR_STATE,
 * LINK_ERR_TOO_LARGE (over the broker's Maximum Packet Size: never
 * deliverable on this connection) or LINK_ERR_PACKET (err says why).
 */
int link_publish(struct link *l, const struct queue_msg *m, int64_t wall_ms,
    int64_t cookie, char *err, size_t errlen);

/*
 * link_ack: queue the acknowledgement of an inbound message: PUBACK or
 * PUBREC (type 4 or 5, after the message's commit) or PUBCOMP (7, after
 * the id's release is durable); or PUBREL (6) for one of our QoS 2
 * publishes whose PUBREC is durable. Returns LINK_OK or LINK_ERR_STATE
 * (the connection is gone: the broker sends it again, or, for PUBREL,
 * the link sends it when the session resumes).
 */
int link_ack(struct link *l, int type, uint16_t id);

/*
 * link_restore: before the first connection, take packet id id as the
 * owner stored it: cookie > 0, a QoS 2 PUBLISH sent without its PUBREC
 * (sent again with DUP and the same id when the owner publishes cookie
 * again); cookie <= 0, a PUBREL owed. A resumed session honours both; a
 * new one forgets them. Returns LINK_OK or LINK_ERR_STATE (id out of the
 * window or taken).
 */
int link_restore(struct link *l, uint16_t id, int64_t cookie);

/* Accessors. */
enum link_state link_state(const struct link *l);
size_t link_window_free(const struct link *l);
size_t link_inflight(const struct link *l);
int link_protocol(const struct link *l);	/* 5 or 311 */
uint32_t link_gen(const struct link *l);	/* bumps with each connection */
const char *link_name(const struct link *l);	/* "local" or "central" */
const char *link_address(const struct link *l);	/* broker address in use */
const struct link_stats *link_stats(const struct link *l);
/*
 * link_set_connect_timeout: how long the TCP connect of the next
 * link_connect() may take, in ms (the kernel resends an unanswered SYN
 * after 1, 3, 7 s: a short timeout and a new attempt resend it sooner);
 * 0 restores the default (15 s). Kept until changed.
 */
void link_set_connect_timeout(struct link *l, int ms);

/*
 * link_unanswered: 1 when the last connection attempt failed because
 * nothing answered the connect within its timeout (the path is down, not
 * the broker: a refusal, a TLS or MQTT failure give 0), else 0.
 */
int link_unanswered(const struct link *l);

/* link_tls_ctx: the TLS connection context while one is open, else NULL. */
void *link_tls_ctx(const struct link *l);

/* link_strerror: static text for a link_err code. */
const char *link_strerror(int err);

#endif
