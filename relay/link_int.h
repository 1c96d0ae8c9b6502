/* SPDX-License-Identifier: ISC */
/*
 * link_int: the inside of struct link, shared by relay/link.c (set-up,
 * buffers, the loop's side) and relay/link_in.c (packets in and out).
 * Nothing else includes this file: link.h is the contract.
 */
#ifndef PUSHRELAY_LINK_INT_H
#define PUSHRELAY_LINK_INT_H

#include <stddef.h>
#include <stdint.h>

#include "mqtt/mqtt.h"
#include "relay/link.h"

struct dial;
struct transport_ops;

#define LINK_WINDOW_MAX		65000	/* packet ids above it: SUBSCRIBE */
#define LINK_SUB_ID_FIRST	65001
#define LINK_TOPIC_MAX		65535
#define LINK_IN_INIT		(64u * 1024)
#define LINK_OUT_INIT		(64u * 1024)
/* Above this many unwritten bytes, link_publish() says "later". */
#define LINK_OUT_MARK		(256u * 1024)
/* Unsent bytes the kernel may hold for the central link (see link.c). */
#define LINK_NOTSENT_LOWAT	16384
/* What one link_io() reads at most before the owner commits. */
#define LINK_READ_PASS		(256u * 1024)
#define LINK_CONNECT_MS		15000
#define LINK_CONNACK_MS		15000
#define LINK_WHY_MAX		320
#define LINK_ALIAS_SEEN		256	/* topics seen once, remembered */

/*
 * An in-flight slot; slot i carries packet id i + 1. A QoS 2 id keeps
 * its slot until PUBCOMP, across reconnects that resume the session, so
 * that no other message takes an id the broker still holds: a PUBLISH
 * without its PUBREC is sent again with DUP and the same id when the
 * owner publishes that cookie again (HOLD_PUB); a PUBREL is sent again
 * on its own (HOLD_REL).
 */
enum link_slot_state {
	LINK_SLOT_FREE = 0,
	LINK_SLOT_ACK,		/* QoS 1: waiting for PUBACK */
	LINK_SLOT_REC,		/* QoS 2: waiting for PUBREC */
	LINK_SLOT_REL,		/* QoS 2: PUBREC came; the owner sends PUBREL */
	LINK_SLOT_COMP,		/* QoS 2: PUBREL sent, waiting for PUBCOMP */
	LINK_SLOT_HOLD_PUB,	/* REC of an ended connection */
	LINK_SLOT_HOLD_REL,	/* REL or COMP of an ended connection */
};

struct link_slot {
	int64_t cookie;
	uint8_t state;		/* enum link_slot_state */
};

/* Cookies of QoS 0 publishes waiting for their bytes to be written. */
struct link_cookies {
	int64_t *v;		/* owned; grows, never shrinks */
	size_t n;
	size_t cap;
};

struct link {
	enum link_side side;
	enum link_state state;
	const struct link_cbs *cbs;	/* borrowed */
	void *arg;
	struct dial *dial;		/* owned */
	struct tls *tls;		/* borrowed; NULL: plain TCP */
	const struct transport_ops *ops;	/* NULL while not connected */
	void *tctx;			/* owned through ops->close */
	int fd;				/* the transport's socket */
	short hs_events;		/* what the handshake waits for */
	int read_dry;			/* the last read would have blocked */
	size_t skip_left;		/* bytes of a refused packet to discard */
	int protocol;			/* 5 or 311 */
	uint32_t gen;
	uint16_t keepalive_s;		/* the broker's Server Keep Alive wins */
	int64_t last_tx_ms;
	int64_t last_rx_ms;		/* bytes came in; set at CONNECT */
	int connect_ms;			/* dial timeout; 0: LINK_CONNECT_MS */
	int unanswered;			/* the last dial got no answer */
	int64_t ping_sent_ms;		/* 0: no PINGREQ outstanding */
	int64_t deadline_ms;		/* handshake or CONNACK; -1: none */
	uint32_t max_in;		/* our Maximum Packet Size */
	uint32_t max_out;		/* the broker's; 0: MQTT's own */
	uint8_t max_qos;		/* the broker's Maximum QoS */
	uint8_t *in;			/* owned: bytes read, not yet parsed */
	size_t in_len;
	size_t in_cap;
	uint8_t *out;			/* owned: bytes to write */
	size_t out_off;			/* written up to here */
	size_t out_len;
	size_t out_cap;
	struct link_slot *slots;	/* owned; window of them */
	uint16_t *free_idx;		/* owned; stack of free slot indices */
	size_t n_free;
	size_t window;
	size_t cap;			/* <= window: the broker's max_inflight */
	size_t limit;			/* <= cap: and its Receive Maximum */
	size_t n_hold_pub;		/* slots in HOLD_PUB */
	uint16_t next_sub_id;
	struct link_cookies q0;
	char *topic;			/* owned; LINK_TOPIC_MAX + 1 */
	/*
	 * Topic aliases of our publishes (MQTT 5), this connection only:
	 * alias i + 1 stands for alias_topic[i]. The first alias_max topics
	 * published a second time get one, for the life of the connection;
	 * alias_seen remembers (hashes of) the last LINK_ALIAS_SEEN topics
	 * published once (docs/design.md, "Few WAN bytes").
	 */
	uint16_t alias_conf;		/* the config's topic_alias_max */
	uint16_t alias_max;		/* min(alias_conf, the broker's) */
	uint16_t alias_used;
	char **alias_topic;		/* owned; alias_conf entries */
	uint32_t *alias_hash;		/* owned; FNV-1a of each topic */
	uint32_t alias_seen[LINK_ALIAS_SEEN];	/* a ring of hashes */
	uint16_t alias_seen_n;
	uint16_t alias_seen_next;
	struct link_stats st;
};

/* link.c */
void link_fail(struct link *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int link_out_reserve(struct link *l, size_t n);
size_t link_out_pending(const struct link *l);
int link_q0_add(struct link *l, int64_t cookie);

/* link_in.c */
int link_mqtt_version(const struct link *l);	/* MQTT_V5 or MQTT_V311 */
const char *link_io_reason(const struct link *l, int err);
int64_t link_ping_wait_ms(const struct link *l);
void link_read(struct link *l, int64_t now_ms);
void link_keepalive(struct link *l, int64_t now_ms);
int64_t link_idle_since(const struct link *l);
void link_slots_down(struct link *l);

/* link_alias.c */
/* Room for n aliases; 0 or -1 when out of memory. */
int link_alias_setup(struct link *l, int n);
/* Forgets the connection's aliases (the link goes down). */
void link_alias_reset(struct link *l);
/*
 * The alias of p's topic (NUL-terminated at p->topic.p), appended to
 * props at *pl (room for 3 more bytes); with *known the broker has it
 * and p's topic is emptied. 0: no alias. *h: the topic's hash, for
 * link_alias_commit once the publish is queued.
 */
uint16_t link_alias_put(struct link *l, struct mqtt_publish *p,
    uint8_t *props, size_t *pl, int *known, uint32_t *h);
void link_alias_commit(struct link *l, uint16_t a, const char *t,
    uint32_t h);

#endif
