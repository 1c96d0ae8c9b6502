/*
 * link: one MQTT connection (the local broker or the central one) through
 * Paho's asynchronous library.
 *
 * A link owns its Paho handle and a fixed window of in-flight slots. Each
 * connection attempt creates a fresh Paho handle and bumps the link's
 * generation; a lost connection destroys the handle. So Paho never
 * retries a publish on its own: what was in flight when a connection died
 * is the queue's to send again, and nothing is sent twice by two owners.
 * The broker-side session stays (clean start off, session expiry set), so
 * subscriptions and messages queued for the relay survive.
 *
 * Paho calls back on its own threads; those callbacks only copy what they
 * got into a struct handoff_ev and push it to the handoff FIFO. Everything
 * else here runs on the main loop, which feeds those events back through
 * link_event() before acting on them.
 *
 * Thread: main loop only, except the Paho callbacks inside link.c.
 */
#ifndef PUSHRELAY_LINK_H
#define PUSHRELAY_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "platform/conf.h"
#include "relay/handoff.h"
#include "storage/queue.h"

enum link_side {
	LINK_LOCAL = 0,
	LINK_CENTRAL = 1,
};

enum link_state {
	LINK_DOWN = 0,		/* no handle; a reconnect may be scheduled */
	LINK_CONNECTING,	/* connect issued, waiting for CONNACK */
	LINK_UP,		/* connected */
	LINK_CLOSING,		/* our own disconnect issued */
};

enum link_err {
	LINK_OK = 0,
	LINK_ERR_WINDOW = -1,	/* no free in-flight slot */
	LINK_ERR_STATE = -2,	/* not connected */
	LINK_ERR_PAHO = -3,	/* Paho refused the call; err says why */
	LINK_ERR_NOMEM = -4,
};

struct link;

/* What link_connect() needs besides the broker section. */
struct link_will {
	const char *topic;	/* NULL or "": no will */
	const char *payload;	/* NUL-terminated */
};

/*
 * How link_connect() reaches the broker: Paho always connects through the
 * relay's own tunnel (platform/tunnel.h), named by its proxy URL. The URL
 * holds the tunnel's secret: never log it. It must not be NULL: Paho
 * would fall back to the http_proxy environment variable.
 */

/*
 * link_new: create a link for side, posting events to h (borrowed; must
 * outlive the link) with window in-flight slots (1..65535).
 * Returns NULL when out of memory.
 */
struct link *link_new(enum link_side side, struct handoff *h,
    size_t window);

/* link_free: drop the connection and free the link. NULL is a no-op. */
void link_free(struct link *l);

/*
 * link_connect: start a connection attempt with a fresh Paho handle,
 * through the HTTP CONNECT proxy at proxy_url (see above). b, will and
 * proxy_url are borrowed for the call. The outcome arrives later as a
 * HANDOFF_CONNECTED or HANDOFF_CONNECT_FAILED event. The connection uses
 * at most b->max_inflight of the window's slots (and no more than the
 * broker's Receive Maximum once it is known); with MQTT 5 it asks the
 * broker for the same bound (its Receive Maximum) on what the broker
 * sends. Returns LINK_OK, or
 * LINK_ERR_PAHO with "broker ADDR: why" in err (the link is then DOWN).
 */
int link_connect(struct link *l, const struct conf_broker *b,
    const struct link_will *will, const char *proxy_url, char *err,
    size_t errlen);

/*
 * link_drop: destroy the Paho handle at once (connection lost, or giving
 * up on a shutdown). Every in-flight slot is freed; the state is DOWN.
 */
void link_drop(struct link *l);

/*
 * link_disconnect: start a clean MQTT DISCONNECT; a HANDOFF_DISCONNECTED
 * event follows. The state is CLOSING. Returns LINK_OK or LINK_ERR_*.
 */
int link_disconnect(struct link *l, int timeout_ms);

/*
 * link_subscribe: subscribe to n filters (borrowed) with their QoS, with
 * MQTT 5 No Local, Retain As Published and "retained only if new"
 * options when the link speaks MQTT 5. unsub: same, unsubscribing.
 * Results arrive as HANDOFF_SUB_DONE / HANDOFF_SUB_FAILED.
 */
int link_subscribe(struct link *l, char *const *filters, const int *qos,
    size_t n, char *err, size_t errlen);
int link_unsubscribe(struct link *l, char *const *filters, size_t n,
    char *err, size_t errlen);

/*
 * link_publish: send m (borrowed for the call) at its QoS, retain flag
 * and properties; with MQTT 5 the message expiry is the time left until
 * m->expire_ms at now_ms (wall clock). cookie is returned by link_event()
 * when the send completes (the queue id; 0 for messages not from the
 * queue). Returns LINK_OK, LINK_ERR_WINDOW, LINK_ERR_STATE, LINK_ERR_PAHO.
 */
int link_publish(struct link *l, const struct queue_msg *m, int64_t now_ms,
    int64_t cookie, char *err, size_t errlen);

/*
 * link_event: account for an event of this link popped from the handoff.
 * Returns 1 when the event is current and must be acted on, 0 when it is
 * stale (from an earlier generation or a freed slot) and must be ignored.
 * For PUB_DONE/PUB_FAILED a current event frees its slot and stores its
 * cookie in *cookie. For CONNECTED the state becomes UP.
 */
int link_event(struct link *l, const struct handoff_ev *ev, int64_t *cookie);

/* Accessors. */
enum link_state link_state(const struct link *l);
size_t link_window_free(const struct link *l);
size_t link_inflight(const struct link *l);
int link_protocol(const struct link *l);	/* 5 or 311 */
uint32_t link_gen(const struct link *l);	/* current connection generation */
const char *link_name(const struct link *l);	/* "local" or "central" */

/* link_strerror: static text for a link_err code. */
const char *link_strerror(int err);

#endif
