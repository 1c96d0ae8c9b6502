/*
 * handoff: the one place where Paho's threads hand work to the main loop.
 *
 * A bounded FIFO of struct handoff_ev, protected by one mutex, plus an
 * eventfd that the main loop polls. Producers (Paho callbacks, on Paho's
 * send and receive threads) allocate an event, fill it and push it; the
 * push takes ownership. The main loop pops events and frees them with
 * handoff_ev_free(). Signal handlers may call handoff_wake().
 *
 * Bound: message events count against max_bytes (their size). When the
 * FIFO is over the bound a message push is refused (HANDOFF_ERR_FULL) and
 * the producer leaves the message with Paho, which offers it again later
 * (messageArrived returning 0). Control events (connect, ack, ...) are
 * never refused: they are small and bounded by the in-flight window.
 *
 * Thread: handoff_push() and handoff_wake() from any thread; everything
 * else from the main loop only.
 */
#ifndef PUSHRELAY_HANDOFF_H
#define PUSHRELAY_HANDOFF_H

#include <stddef.h>
#include <stdint.h>

enum handoff_err {
	HANDOFF_OK = 0,
	HANDOFF_ERR_FULL = -1,
	HANDOFF_ERR_NOMEM = -2,
	HANDOFF_ERR_SYS = -3,	/* errno is set */
};

enum handoff_type {
	HANDOFF_MSG = 1,	/* a message arrived */
	HANDOFF_CONNECTED,	/* connect succeeded */
	HANDOFF_CONNECT_FAILED,	/* connect attempt failed; text says why */
	HANDOFF_LOST,		/* connection lost; text says why */
	HANDOFF_PUB_DONE,	/* publish acknowledged (or QoS 0 written) */
	HANDOFF_PUB_FAILED,	/* publish refused or aborted */
	HANDOFF_SUB_DONE,	/* subscribe acknowledged */
	HANDOFF_SUB_FAILED,	/* subscribe refused */
	HANDOFF_DISCONNECTED,	/* our own disconnect completed */
};

struct handoff_ev {
	struct handoff_ev *next;	/* FIFO link, owned by handoff */
	enum handoff_type type;
	int side;		/* which connection (enum in relay/link.h) */
	uint32_t gen;		/* connection generation the event belongs to */
	uint64_t serial;	/* PUB_*: serial of the in-flight slot */
	int slot;		/* PUB_*: index of the in-flight slot */
	int code;		/* library or MQTT reason code, 0 if none */
	int session_present;	/* CONNECTED */
	int recv_max;		/* CONNECTED: broker's Receive Maximum, 0 = none */
	int64_t t_us;		/* MSG: monotonic us when Paho handed it over */
	int64_t ts_ms;		/* MSG: wall-clock receive time */
	int qos;		/* MSG */
	int msgid;		/* MSG: MQTT packet id (0 for QoS 0) */
	int retain;		/* MSG */
	int dup;		/* MSG: DUP set: the broker sends it again */
	uint32_t expiry_s;	/* MSG: MQTT 5 message expiry, 0 = none */
	int has_expiry;		/* MSG: expiry_s is set */
	char *topic;		/* MSG: NUL-terminated, inside this allocation */
	uint8_t *payload;	/* MSG: inside this allocation */
	size_t payload_len;
	uint8_t *props;		/* MSG: encoded properties, inside allocation */
	size_t props_len;
	char *text;		/* CONNECT_FAILED, LOST: reason, may be NULL */
	size_t size;		/* bytes of this allocation */
	char data[];		/* storage for topic, payload, props, text */
};

struct handoff;

/*
 * handoff_new: create a FIFO bounded to max_bytes of message events.
 * Returns NULL on failure with errno set.
 */
struct handoff *handoff_new(size_t max_bytes);

/* handoff_free: free the FIFO and every event still in it. NULL: no-op. */
void handoff_free(struct handoff *h);

/* handoff_fd: the fd to poll for POLLIN; handoff_drain_fd() clears it. */
int handoff_fd(const struct handoff *h);
void handoff_drain_fd(struct handoff *h);

/*
 * handoff_ev_new: allocate a zeroed event with extra bytes of data
 * storage. Returns NULL when out of memory. Any thread.
 */
struct handoff_ev *handoff_ev_new(enum handoff_type type, size_t extra);

/* handoff_ev_free: free an event. NULL is a no-op. */
void handoff_ev_free(struct handoff_ev *ev);

/*
 * handoff_push: append ev and wake the main loop. Takes ownership of ev on
 * HANDOFF_OK only; on HANDOFF_ERR_FULL (message events only) the caller
 * still owns it. Any thread; never blocks beyond the mutex.
 */
int handoff_push(struct handoff *h, struct handoff_ev *ev);

/*
 * handoff_pop: take the oldest event, or NULL when empty. The caller owns
 * the event. Main loop only.
 */
struct handoff_ev *handoff_pop(struct handoff *h);

/* handoff_wake: make the main loop's poll return. Async-signal-safe. */
void handoff_wake(struct handoff *h);

/* handoff_refused: how many message pushes were refused as full so far. */
uint64_t handoff_refused(struct handoff *h);

#endif
