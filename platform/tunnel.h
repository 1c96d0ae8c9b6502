/*
 * tunnel: the relay-owned endpoint between Paho and one broker.
 *
 * Paho connects to the broker through an HTTP CONNECT proxy (its connect
 * option httpProxy = tunnel_proxy_url()). The tunnel is that proxy: it
 * listens on 127.0.0.1, port chosen by the kernel, takes ONE inner
 * connection at a time (Paho's), checks its CONNECT request, connects to the
 * named broker (the outer connection) and then carries bytes both ways. In
 * the Paho-to-broker direction the bytes pass through an ackgate (relay/
 * ackgate.h), which holds each PUBACK/PUBREC until the main loop reports
 * with tunnel_durable() that the message is committed: the broker forgets
 * a message only once the relay has stored it.
 *
 * Security. Any local process can connect to a loopback port, so the port
 * alone protects nothing. Each tunnel makes a random secret (16 bytes from
 * getrandom(), in hex) and refuses, with 407, any CONNECT request whose
 * Proxy-Authorization is not Basic "pushrelay:SECRET" (compared in constant
 * time). The secret lives only in this process's memory and in Paho's
 * connect options; it is never logged. A request naming a target that is
 * not in tunnel_set_targets() gets 403: the tunnel is never an open proxy.
 * While one inner connection exists, others are closed at once; an inner
 * connection that has not sent a complete request within
 * TUNNEL_REQUEST_MS is closed, so a foreign process can delay Paho (it can
 * always do that, by exhausting ports or CPU) but cannot use the tunnel.
 *
 * Buffers: TUNNEL_BUF_SIZE bytes each way, allocated by tunnel_new(); no
 * allocation afterwards. When the buffer for one direction is full, the
 * tunnel stops reading the side that fills it (backpressure). Bytes behind
 * a held acknowledgement wait with it, in order.
 *
 * The broker side goes through a struct tunnel_transport_ops (plain TCP by
 * default; tunnel_set_wrap() installs another, such as TLS).
 *
 * Ownership: struct tunnel owns its sockets, its buffers and its transport.
 * Thread: main loop only. Nothing blocks, except getaddrinfo() when a
 * CONNECT request names a host name rather than a numeric address (see
 * tunnel_dispatch()). Nothing is logged here: errors fill err buffers, and
 * what happens to connections is reported through the event callback.
 */
#ifndef PUSHRELAY_TUNNEL_H
#define PUSHRELAY_TUNNEL_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "platform/ackgate.h"

#define TUNNEL_POLLFDS		3	/* listen, inner, outer */
#define TUNNEL_BUF_SIZE		65536	/* per direction */
#define TUNNEL_TARGETS_MAX	16
#define TUNNEL_HOST_MAX		255	/* longest host name of a target */
#define TUNNEL_URL_MAX		96	/* tunnel_proxy_url() with its NUL */
#define TUNNEL_REQUEST_MAX	4096	/* longest CONNECT request head */
#define TUNNEL_REQUEST_MS	2000	/* time for a complete request */
#define TUNNEL_DRAIN_MS		2000	/* time to drain after one side left */
#define TUNNEL_HOLD_MAX_MS	1000	/* ackgate valve */

enum tunnel_err {
	TUNNEL_OK = 0,
	TUNNEL_ERR_SYS = -1,	/* a system call failed; err says which */
	TUNNEL_ERR_NOMEM = -2,
	TUNNEL_ERR_INVAL = -3,	/* a bad argument, e.g. a malformed target */
	TUNNEL_ERR__COUNT = 3	/* number of codes, for the table */
};

/* Why an inner connection was refused; counted in tunnel_stats.refused. */
enum tunnel_refusal {
	TUNNEL_REF_REQUEST,	/* 400: not a well-formed CONNECT request */
	TUNNEL_REF_AUTH,	/* 407: missing or wrong credentials */
	TUNNEL_REF_TARGET,	/* 403: target not in the list */
	TUNNEL_REF_BUSY,	/* closed: another inner connection exists */
	TUNNEL_REF_TIMEOUT,	/* closed: no complete request in time */
	TUNNEL_REF__COUNT
};

/* What the event callback reports. */
enum tunnel_event {
	TUNNEL_EV_OPENED,	/* 200 sent; text names the broker */
	TUNNEL_EV_REFUSED,	/* an inner connection was refused; text: why */
	TUNNEL_EV_CLOSED,	/* the tunnel closed; text: which side, why */
	TUNNEL_EV_FAILED,	/* the broker could not be reached (TCP or the
				   transport's handshake, e.g. TLS); text: why */
};

/*
 * Event callback. text is "tunnel NAME: ..." and borrowed for the call; it
 * never contains the secret. The callback runs inside tunnel_dispatch(),
 * tunnel_flush() or tunnel_durable() and must not call tunnel_free().
 */
typedef void (*tunnel_event_fn)(void *arg, enum tunnel_event ev,
    const char *text);

/* Results of transport reads and writes, besides byte counts. */
#define TUNNEL_IO_AGAIN	(-1)	/* would block; poll again */
#define TUNNEL_IO_ERR	(-2)	/* failed; errno says why */

/*
 * The broker side of a tunnel. read returns > 0 bytes, 0 at the end of
 * the stream, or TUNNEL_IO_*; write returns the bytes taken (> 0) or
 * TUNNEL_IO_*. After TUNNEL_IO_AGAIN from write, the next write MUST
 * start at the same bytes and offer at least as many (as a TLS record
 * that is half sent needs). want_write says that the transport needs
 * POLLOUT even with no data queued (buffered records); it may be NULL.
 * close ends the session and closes the socket; ctx is dead afterwards.
 *
 * handshake (may be NULL: the transport is ready at once) runs the
 * transport's own opening (a TLS handshake). The tunnel calls it right
 * after the wrap hook, then on every event of the broker socket and when
 * *deadline_ms has passed, and replies 200 to Paho only once it returns 0
 * (ready). TUNNEL_IO_AGAIN: not done; poll the socket for *events (POLLIN
 * and/or POLLOUT) and call again by *deadline_ms (monotonic, -1: none).
 * TUNNEL_IO_ERR: failed; err (errlen bytes) says why, and the tunnel
 * replies 502, so that Paho sees a failed connect. now_ms is the loop's
 * monotonic time.
 *
 * pending (may be NULL: never) says that read can return bytes without
 * the socket becoming readable (records already received and decrypted).
 * The tunnel reads those as soon as it has room, since poll() would not
 * report them.
 */
struct tunnel_transport_ops {
	ssize_t	(*read)(void *ctx, uint8_t *buf, size_t cap);
	ssize_t	(*write)(void *ctx, const uint8_t *buf, size_t len);
	int	(*want_write)(void *ctx);
	void	(*close)(void *ctx);
	int	(*handshake)(void *ctx, int64_t now_ms, short *events,
		    int64_t *deadline_ms, char *err, size_t errlen);
	int	(*pending)(void *ctx);
};

/*
 * Wrap hook: called when the TCP connection to the broker is established,
 * with its socket (non-blocking) and the target's host (borrowed; no IPv6
 * brackets). On success it sets *ops and *ctx and the transport owns fd;
 * it returns 0. On failure it fills err ("what: why") and returns -1, and
 * fd stays the tunnel's (which closes it).
 */
typedef int (*tunnel_wrap_fn)(void *arg, int fd, const char *host,
    const struct tunnel_transport_ops **ops, void **ctx, char *err,
    size_t errlen);

struct tunnel_stats {
	uint64_t bytes_up;		/* written to the broker */
	uint64_t bytes_down;		/* written to Paho */
	uint64_t connections;		/* tunnels opened (200 sent) */
	uint64_t connect_failed;	/* 502: the broker was unreachable,
					   or the transport's handshake or
					   wrap failed */
	uint64_t refused_total;
	uint64_t refused[TUNNEL_REF__COUNT];
	struct ackgate_stats gate;	/* valve releases are gate.valve_releases */
};

struct tunnel;

/*
 * tunnel_new: listen on 127.0.0.1, port 0, and make the secret. name
 * (borrowed; copied, truncated to 63 bytes) names the tunnel in texts.
 * No targets are allowed until tunnel_set_targets(). On success *out is
 * the new tunnel (free with tunnel_free()). On error *out is NULL, err
 * gets "tunnel NAME: what: why" and the return is TUNNEL_ERR_SYS or
 * TUNNEL_ERR_NOMEM. getrandom() may block at early boot, before the
 * kernel's pool is ready; never afterwards.
 */
int tunnel_new(struct tunnel **out, const char *name, char *err,
    size_t errlen);

/* tunnel_free: close everything, wipe the secret. NULL is a no-op. */
void tunnel_free(struct tunnel *t);

/*
 * tunnel_proxy_url: "http://pushrelay:SECRET@127.0.0.1:PORT", for Paho's
 * httpProxy option. The string belongs to t and lives as long as it.
 * It contains the secret: never log it.
 */
const char *tunnel_proxy_url(const struct tunnel *t);

/* tunnel_port: the listening port (host byte order). */
uint16_t tunnel_port(const struct tunnel *t);

/*
 * tunnel_set_targets: the only "host:port" (or "[v6]:port") values that a
 * CONNECT request may name, replacing the previous list; addrs is borrowed.
 * Host names compare without case, IP addresses by value. Returns
 * TUNNEL_OK, or TUNNEL_ERR_INVAL (n > TUNNEL_TARGETS_MAX or a malformed
 * entry; the list is then empty). An open tunnel is not affected.
 */
int tunnel_set_targets(struct tunnel *t, const char *const *addrs, size_t n);

/* tunnel_set_event_cb: where events go (fn may be NULL: none). */
void tunnel_set_event_cb(struct tunnel *t, tunnel_event_fn fn, void *arg);

/*
 * tunnel_set_wrap: wrap the broker's TCP socket in another transport from
 * the next connection on (fn NULL: plain TCP).
 */
void tunnel_set_wrap(struct tunnel *t, tunnel_wrap_fn fn, void *arg);

/*
 * tunnel_pollfds: fill pfd (at least TUNNEL_POLLFDS entries) with the fds
 * to poll; returns how many. POLLOUT is asked for only when there is
 * something to write, POLLIN only when there is room to read into.
 */
size_t tunnel_pollfds(const struct tunnel *t, struct pollfd *pfd);

/*
 * tunnel_dispatch: act on the pollfds that tunnel_pollfds() filled (n of
 * them; entries with other fds are ignored): accept and check inner
 * connections, connect to the broker, carry bytes. now_ms is the loop's
 * monotonic time. Never blocks, except in getaddrinfo() for a request that
 * names a host name (numeric addresses connect directly).
 */
void tunnel_dispatch(struct tunnel *t, const struct pollfd *pfd, size_t n,
    int64_t now_ms);

/*
 * tunnel_durable: the message that arrived on this link with packet_id is
 * committed (or dropped on purpose): let its acknowledgement go, and write
 * what can be written. Call it for every QoS 1/2 message after the commit;
 * packet id 0 is ignored.
 */
void tunnel_durable(struct tunnel *t, uint16_t packet_id, int64_t now_ms);

/*
 * tunnel_flush: run the valve and the deadlines (request, drain), then
 * write what the gate allows. Call it when now_ms >= tunnel_next_deadline().
 */
void tunnel_flush(struct tunnel *t, int64_t now_ms);

/*
 * tunnel_next_deadline: the earliest monotonic time at which tunnel_flush()
 * has work (valve or a timeout), or -1 for none.
 */
int64_t tunnel_next_deadline(const struct tunnel *t);

/*
 * tunnel_drop: close the inner and the outer connection at once, dropping
 * buffered bytes (the link was dropped). The tunnel keeps listening.
 */
void tunnel_drop(struct tunnel *t);

/* tunnel_stats: copy the counters into *out (caller-owned). */
void tunnel_stats(const struct tunnel *t, struct tunnel_stats *out);

/* tunnel_strerror: static text for a tunnel_err code. */
const char *tunnel_strerror(int err);

/* tunnel_refusal_str: static text for a tunnel_refusal. */
const char *tunnel_refusal_str(enum tunnel_refusal r);


#ifdef TUNNEL_INTERNAL
/*
 * Shared by platform/tunnel.c and platform/tunnel_req.c only. Mostly
 * pure functions on caller-owned buffers; the socket helpers are marked.
 */
#include <sys/socket.h>

#define TUNNEL_AUTH_MAX	64	/* base64 of "pushrelay:" + 32 hex */

struct tunnel_target {
	char host[TUNNEL_HOST_MAX + 1];	/* without IPv6 brackets */
	uint16_t port;
};

/* tunnel_req_base64: encode n bytes; out holds 4 * ((n + 2) / 3) + 1. */
void tunnel_req_base64(const uint8_t *in, size_t n, char *out);

/*
 * tunnel_req_split: split s (len bytes, not NUL-terminated) as "host:port",
 * "[v6]:port" or Paho's rendering of an IPv6 target, "[v6:port"
 * (MQTTProtocol_addressPort drops the ']'). host holds TUNNEL_HOST_MAX + 1
 * bytes. Returns 0, or -1 when malformed (port must be 1-65535).
 */
int tunnel_req_split(const char *s, size_t len, char *host, uint16_t *port);

/*
 * tunnel_req_check: judge a request head (NUL-terminated, its last header
 * line ending in CRLF, without the empty line). Credentials are checked
 * before the target, in time independent of the presented token; auth is
 * the expected base64 token. Returns -1 when the request may pass, with
 * host and port filled, else the tunnel_refusal.
 */
int tunnel_req_check(const char *head, const struct tunnel_target *tg,
    size_t ntg, const char *auth, size_t auth_len, char *host,
    uint16_t *port);

/* tunnel_req_reply: the HTTP reply sent for a refusal, or NULL (none). */
const char *tunnel_req_reply(enum tunnel_refusal r);

/*
 * tunnel_req_resolve: numeric addresses directly; host names through
 * getaddrinfo(), which BLOCKS (the first address is used). Returns 0, or
 * -1 with why ("resolve: ...") filled.
 */
int tunnel_req_resolve(const char *host, uint16_t port,
    struct sockaddr_storage *ss, socklen_t *sslen, char *why, size_t whylen);

/*
 * tunnel_req_secret: 16 random bytes (getrandom(); blocks only at early
 * boot) as hex; url (TUNNEL_URL_MAX bytes) gets the proxy URL for port,
 * auth (TUNNEL_AUTH_MAX bytes) the expected Basic token. Returns TUNNEL_OK,
 * or TUNNEL_ERR_SYS with err filled ("tunnel NAME: getrandom: why").
 */
int tunnel_req_secret(const char *name, uint16_t port, char *url,
    char *auth, char *err, size_t errlen);

/*
 * tunnel_req_listen: a non-blocking socket listening on 127.0.0.1, port
 * chosen by the kernel, into *fd and *port. Returns TUNNEL_OK, or
 * TUNNEL_ERR_SYS with err filled ("tunnel NAME: what: why"); *fd is then
 * the socket or -1, for the caller to close.
 */
int tunnel_req_listen(const char *name, int *fd, uint16_t *port, char *err,
    size_t errlen);

/* tunnel_req_nodelay: TCP_NODELAY on fd; failure is harmless. */

/*
 * tunnel_req_connect: resolve (see tunnel_req_resolve(), which may BLOCK)
 * and start a non-blocking TCP connect, with TCP_NODELAY. Returns 0
 * (connected), 1 (in progress: wait for POLLOUT) with *fd the socket, or
 * -1 with why filled and *fd = -1.
 */
int tunnel_req_connect(const char *host, uint16_t port, int *fd, char *why,
    size_t whylen);
void tunnel_req_nodelay(int fd);

/* The plain TCP transport; ctx is the fd, cast through intptr_t. */
extern const struct tunnel_transport_ops tunnel_tcp_ops;
ssize_t tunnel_tcp_read(void *ctx, uint8_t *buf, size_t cap);
ssize_t tunnel_tcp_write(void *ctx, const uint8_t *buf, size_t len);

/* tunnel_req_addr_str: "a.b.c.d:port" or "[v6]:port" into buf. */
void tunnel_req_addr_str(const struct sockaddr_storage *ss, char *buf,
    size_t len);
#endif

#endif
