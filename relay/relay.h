/* SPDX-License-Identifier: ISC */
/*
 * relay: the daemon's one context and its main loop.
 *
 * struct relay owns every piece of runtime state: the configuration in
 * force, the route table, the queue, the two links (each owning its
 * MQTT connection), the control socket, timers and counters. Every callback of the main
 * loop receives it; nothing else in the process holds mutable state,
 * except the signal flags that a signal handler must reach without an
 * argument (relay/loop.c) and the log settings (platform/log.c).
 *
 * The work is split by job: loop.c runs the poll loop, timers, signals
 * and the lifecycle; forward.c moves messages between the links and the
 * queue (forward_frame.c: its batch frames and dictionary); status.c
 * renders the status reply; reload.c applies a new configuration.
 * Thread: main loop only.
 */
#ifndef PUSHRELAY_RELAY_H
#define PUSHRELAY_RELAY_H

#include <stddef.h>
#include <stdint.h>

#include "platform/conf.h"
#include "platform/ctl.h"
#include "platform/log.h"
#include "platform/tls.h"
#include "relay/backoff.h"
#include "relay/budget.h"
#include "relay/link.h"
#include "relay/route.h"
#include "storage/queue.h"

struct batcher;
struct unpack;

/* In-flight slots per link; a broker's max_inflight is the part used. */
#define RELAY_WINDOW		CONF_INFLIGHT_MAX
/* How long a stop waits for in-flight acknowledgements. */
#define RELAY_STOP_GRACE_MS	4500
/* How often expired messages are purged from the queue. */
#define RELAY_EXPIRE_EVERY_MS	10000
/* Longest topic the relay maps (MQTT's own limit). */
#define RELAY_TOPIC_MAX		65536

enum relay_state {
	RELAY_RUNNING = 0,
	RELAY_DRAINING,		/* stop asked: waiting for in-flight acks */
	RELAY_CLOSING,		/* DISCONNECT sent, waiting for it */
	RELAY_DONE,
};

struct relay_timer {
	int64_t due_ms;		/* monotonic deadline */
	int armed;
};

struct relay_stats {
	uint64_t received[2];	/* by enum queue_dir */
	uint64_t redelivered[2];	/* of those, sent again (DUP) */
	uint64_t forwarded[2];
	uint64_t dropped_full;
	uint64_t dropped_expired;
	uint64_t dropped_rejected;	/* the broker refused a publish */
	uint64_t dropped_noroute;	/* no route matched the topic */
	uint64_t dropped_too_large;	/* over max_packet_size (3.1.1) */
	uint64_t reconnects[2];	/* by enum link_side */
	uint64_t commits;
	uint64_t commit_failed;	/* passes undone: nothing acked */
	uint64_t store_errors;	/* failed writes, probes included */
	uint64_t acks_held_total;	/* acks sent after their commit */
	uint64_t qos2_dup;	/* QoS 2 repeats of a stored id: not stored */
	int64_t window_us_max;	/* receipt to durable commit (ack hold) */
	uint64_t window_us_sum;
	uint64_t window_n;
	uint64_t batches;	/* frames stored */
	uint64_t batched;	/* messages framed */
	uint64_t batch_bytes;	/* bytes of the frames (and dictionaries) */
	uint64_t dict_frames;	/* frame v2 dictionary frames stored */
	uint64_t frames_in;	/* unpacker: frames taken in */
	uint64_t frames_dup;	/* unpacker: taken already, dropped */
	uint64_t frames_bad;	/* unpacker: malformed or foreign, dropped */
	uint64_t records_in;	/* unpacker: records stored */
};

/* Rate limiters for repeating log lines, one per reason. */
struct relay_rates {
	struct log_rate full;
	struct log_rate expired;
	struct log_rate rejected;
	struct log_rate noroute;
	struct log_rate too_large;
	struct log_rate queue_err;
	struct log_rate frames;
};

/*
 * Acknowledgements owed for what was taken in since the last commit, per
 * link: PUBACK or PUBREC for a message, PUBCOMP for a released QoS 2 id.
 * They are written only after that commit succeeded, on the connection
 * (gen) the packets came on.
 */
struct relay_ack {
	uint16_t id;
	uint8_t type;			/* MQTT packet type: 4, 5 or 7 */
};

/*
 * QoS 2 packet ids that link_publish() gave out during a queue_fetch():
 * stored (meta tx2/SIDE/ID) right after the fetch, which allows no other
 * queue call, and before the commit that precedes their PUBLISH's write.
 */
struct relay_tx2 {
	struct {
		int64_t cookie;
		uint16_t id;
		uint8_t side;
	} *v;				/* owned; grows, never shrinks */
	size_t n;
	size_t cap;
};

struct relay_ids {
	struct relay_ack *v;		/* owned; grows, never shrinks */
	size_t n;
	size_t cap;
	uint32_t gen;			/* the link's connection they belong to */
};

/*
 * Queue ids of messages the broker acknowledged since the last commit:
 * deleted together, in runs of consecutive ids (queue_ack_ids), just
 * before that commit.
 */
struct relay_sent {
	int64_t *v;			/* owned; grows, never shrinks */
	size_t n;
	size_t cap;
};

struct relay {
	struct conf *conf;		/* owned; replaced on reload */
	struct route_table *routes;	/* owned; borrows conf */
	struct queue *queue;		/* owned */
	struct link *link[2];		/* owned; by enum link_side */
	struct tls *tls;		/* owned; central's TLS, NULL when off */
	int wake[2];			/* owned; signal handler -> loop pipe */
	struct batcher *batcher;	/* owned; NULL when no route batches */
	struct unpack *unpack;		/* owned; the unpacker's, from its
					   first frame (relay/unpack.h) */
	struct relay_ids pending[2];	/* acks waiting for the next commit */
	struct relay_sent sent;		/* delivered; deleted at the commit */
	struct relay_tx2 tx2;		/* QoS 2 ids given out in a fetch */
	struct ctl *ctl;		/* owned */
	struct backoff backoff[2];
	struct relay_timer reconnect[2];
	struct relay_timer expire;
	struct relay_timer stop;
	struct relay_timer batch_due;	/* the open frame's linger ends */
	struct relay_timer store_probe;	/* durable_probe() */
	struct relay_timer flow_wait;	/* a budget or rate opens (flow.c) */
	struct budget_wan wan;		/* max_wan_rate, daily_wan_quota */
	int wan_loaded;			/* wan set up from the store */
	int64_t wan_saved_ms;		/* when its use was last stored */
	struct budget_bucket *down_rate;	/* owned; per downlink route */
	size_t n_down_rate;
	const struct conf *down_rate_conf;	/* the conf it was built for */
	uint64_t down_held;		/* downlink sends held by max_rate */
	int connect_failed[2];		/* failures since the last success */
	int64_t up_since_ms[2];		/* when the link last came up */
	int64_t down_since_ms[2];	/* when it last stopped relaying (the
					   start, if it never did) */
	uint32_t dict_req_id;		/* frame v2: last dictionary sent */
	int64_t dict_req_ms;		/*   again on request, and when */
	int probing;			/* the next central attempt probes
					   the path (forward.c) */
	int64_t wan_lost_ms;		/* a central connection ended;
					   -1: none yet */
	int subscribed[2];		/* the link's SUBACK came: it relays */
	enum relay_state state;
	int dirty;			/* uncommitted queue writes */
	int tx_failed;			/* a write of this pass failed */
	int commit_now;			/* no group commit for this pass */
	size_t last_commit_owed;	/* acks the last commit released */
	int store_unwritable;		/* intake paused until a probe works */
	int64_t probe_delay_ms;		/* the probe's current delay */
	int hold_flush[2];		/* a QoS 2 id awaits the commit */
	int64_t now_ms;			/* monotonic, read once per wake-up */
	int64_t started_ms;
	int64_t oldest_uncommitted_us;	/* first message of the open tx */
	struct relay_stats st;
	struct relay_rates rate;
	char topic_buf[RELAY_TOPIC_MAX];	/* route_map output */
	char err[512];			/* scratch for error text */
};

/*
 * relay_run: run the daemon on configuration c (taken over: the relay
 * frees it). Returns the process exit code: 0 after a clean stop, 1 when
 * start-up failed (logged).
 */
int relay_run(struct conf *c);

/* forward.c: the message pipeline. */
/* The callbacks every link of the relay gets, with the relay as arg. */
extern const struct link_cbs forward_link_cbs;
/* Publishes what the queue holds on every link that is up. */
void forward_pump(struct relay *r);
/* Drops side's connection (reload, a failed commit); reconnects later. */
void forward_link_lost(struct relay *r, enum link_side side);
void forward_subscribe(struct relay *r, enum link_side side);
void forward_connect(struct relay *r, enum link_side side);
/* Publishes state ("online", "offline") retained at the status topic. */
void forward_status(struct relay *r, const char *state);
/* Stored frames go before any raw route's messages (priorities 0..255). */
#define FORWARD_FRAME_PRIO	256

/*
 * forward_frame.c: batch frames and the frame v2 dictionary, in the open
 * transaction. forward_batch_step: closes the open frame when it is due
 * (only one with a priority member while paused), else arms batch_due.
 * forward_dict_session: a new central session: the current dictionary
 * once more. forward_dict_request: lm (borrowed) asks for a dictionary
 * by id; stores its frame again if the relay still has it.
 */
void forward_batch_step(struct relay *r, int paused);
void forward_dict_session(struct relay *r);
void forward_dict_request(struct relay *r, const struct link_msg *lm);

/*
 * flow.c: the WAN budget and the downlink rates (see the file's head).
 * flow_central_open: accounts the central link's bytes; 1 when traffic
 * that is not priority may go, else 0 (flow_wait is armed). flow_down_take:
 * 1 when downlink message m may go now (its route's token taken), 0 when
 * it waits. flow_free: at exit, and at a reload (built again lazily).
 */
int flow_central_open(struct relay *r);
/* flow_central_left: bytes the WAN budget still allows now (INT64_MAX: no
 * limit); a pass stops sending other than priority traffic there. */
int64_t flow_central_left(const struct relay *r);
int flow_down_take(struct relay *r, const struct queue_msg *m);
void flow_free(struct relay *r);

/*
 * durable.c: the commit step (see the file's head). durable_owe: an
 * acknowledgement (MQTT packet type 4, 5, 6 or 7) to write on side's link
 * once this pass is committed. durable_delivered: queue id id is
 * delivered; deleted in this pass. durable_failed: a write of this pass
 * failed, r->err says why; the pass is undone at durable_commit().
 * durable_probe: the store_probe timer: try a write while the store is
 * not writable.
 */
void durable_owe(struct relay *r, enum link_side side, int type,
    uint16_t id);
void durable_delivered(struct relay *r, int64_t id);
void durable_failed(struct relay *r);
void durable_commit(struct relay *r);
/* durable_due_ms: monotonic ms by which a deferred commit is due, or -1. */
int64_t durable_due_ms(const struct relay *r);
void durable_probe(struct relay *r);

/*
 * qos2.c: QoS 2 packet ids in the queue's meta table (see the file's
 * head). qos2_in_seen: inbound id on side: 1 when it is a repeat of a
 * stored message (store nothing), else 0 after storing the id.
 * qos2_in_released: PUBREL came. qos2_out_set: our id's state (queue id,
 * -1 PUBREL owed, 0 done). qos2_out_note: a new id given out inside a
 * queue fetch; qos2_out_flush stores the noted ones after it.
 * qos2_forget: a new session on side. qos2_restore: at start, hand the
 * stored ids to the links.
 */
int qos2_in_seen(struct relay *r, enum link_side side, uint16_t id);
void qos2_in_released(struct relay *r, enum link_side side, uint16_t id);
void qos2_out_set(struct relay *r, enum link_side side, uint16_t id,
    int64_t v);
void qos2_out_note(struct relay *r, enum link_side side, int64_t cookie,
    uint16_t id);
void qos2_out_flush(struct relay *r);
void qos2_forget(struct relay *r, enum link_side side);
void qos2_restore(struct relay *r);

/*
 * status.c: render the status reply into out (cap bytes, NUL-terminated,
 * truncated when short); returns its length. STATUS_JSON and STATUS_PROM
 * (Prometheus text exposition) come from one list of figures.
 */
enum status_format {
	STATUS_TEXT = 0,
	STATUS_JSON,
	STATUS_PROM,
};
size_t status_render(const struct relay *r, enum status_format fmt,
    char *out, size_t cap);

/* reload.c: re-read the configuration file; keeps the old one on error. */
void reload_apply(struct relay *r);

/*
 * relay_tls_open: (re)build the central link's TLS from the configuration
 * in force (loop.c). The central link must hold no connection. Returns 0,
 * or -1 after logging why.
 */
int relay_tls_open(struct relay *r);

/*
 * relay_batcher_open: (re)build the batcher for the configuration in force
 * (none when no uplink route is in mode batch). Any open frame must have
 * been given up first (its members released). Returns 0 or -1 (logged).
 */
int relay_batcher_open(struct relay *r);

/* Timer helpers (loop.c). */
void relay_timer_arm(struct relay *r, struct relay_timer *t, int64_t in_ms);

/* Whether side's link is used: the unpacker has the central one only. */
static inline int
relay_has_link(const struct relay *r, enum link_side side)
{
	return side == LINK_CENTRAL || r->conf->role == CONF_ROLE_RELAY;
}

/* "relay" or "unpacker", for log lines. */
static inline const char *
relay_role_name(const struct relay *r)
{
	return r->conf->role == CONF_ROLE_UNPACK ? "unpacker" : "relay";
}

/* The queue direction a link's publishes drain. */
static inline enum queue_dir
relay_out_dir(enum link_side side)
{
	return side == LINK_CENTRAL ? QUEUE_UP : QUEUE_DOWN;
}

#endif
