/* SPDX-License-Identifier: ISC */
/*
 * dial: open a TCP connection to one of a broker's addresses without ever
 * blocking the main loop.
 *
 * A dial is given a list of "host:port" addresses (dial_start()) and tries
 * them in order. Each one is resolved, and every address it resolves to
 * (IPv4 and IPv6, in getaddrinfo()'s order) gets a non-blocking connect
 * with its own timeout, until one connects. With an HTTP CONNECT proxy the
 * dial connects to the proxy instead (resolving the proxy's host, not the
 * broker's: the proxy resolves that) and asks it for a tunnel to the
 * broker. The result is a connected socket for the caller's MQTT or TLS
 * layer; dial_host() gives the name to verify the broker's certificate
 * against.
 *
 * The caller drives a dial from its poll loop, in the manner of a state
 * machine: after dial_start(), until dial_step() returns something other
 * than DIAL_AGAIN, watch the fd that dial_pollfd() names (it changes from
 * step to step) and call dial_step() when it is ready or when the time
 * from dial_deadline() has come. dial_step() may be called at any other
 * time too; it then just checks the clock.
 *
 * Name resolution. An IP address (v4, or v6 in brackets) is converted at
 * once (AI_NUMERICHOST). A host name goes to getaddrinfo() in a short-lived
 * detached thread, since getaddrinfo() blocks for as long as DNS takes and
 * getaddrinfo_a() exists on glibc only (not on musl, OpenWrt's libc). The
 * thread and the loop share one small heap job with a reference count:
 * the thread writes its result into the job, marks it done and signals an
 * eventfd, which dial_pollfd() hands to the loop. Whoever drops the last
 * reference frees the job, the result and the eventfd, so cancelling (by
 * dial_start() or dial_free()) while the thread still waits for DNS is
 * safe: the thread finishes on its own and discards its result. Such a
 * thread lives until getaddrinfo() returns (resolv.conf's timeouts bound
 * that); the caller's reconnect backoff bounds how many can pile up. The
 * thread blocks all signals and touches nothing but its job: there is no
 * global state.
 *
 * Ownership: struct dial owns copies of the addresses and credentials,
 * the socket being connected and the loop's reference to a running
 * resolution. A connected socket belongs to the caller from the moment
 * dial_step() returns DIAL_OK. Thread: main loop only (one thread per
 * struct dial). Nothing here blocks, and nothing is logged: failures are
 * returned, with text in caller-owned buffers.
 */
#ifndef PUSHRELAY_DIAL_H
#define PUSHRELAY_DIAL_H

#include <stddef.h>
#include <stdint.h>

#define DIAL_HOST_MAX		255	/* longest host, without brackets */
#define DIAL_ADDRESS_MAX	(DIAL_HOST_MAX + 8)	/* "[host]:65535" */
#define DIAL_CRED_MAX		255	/* longest proxy user or password */
#define DIAL_HEAD_MAX		4096	/* longest proxy reply head */
#define DIAL_TIMEOUT_MS		15000	/* connect_timeout_ms when 0 */
#define DIAL_KEEPIDLE_MAX	32767	/* Linux's limit for TCP_KEEPIDLE */
#define DIAL_ERR_LEN		1100	/* an err buffer this big never
					   truncates the texts below */

enum dial_err {
	DIAL_OK = 0,
	DIAL_AGAIN = 1,		/* not an error: still working */
	DIAL_ERR_RESOLVE = -1,	/* getaddrinfo() failed or found nothing */
	DIAL_ERR_CONNECT = -2,	/* connect() failed (to the broker or to
				   the proxy) */
	DIAL_ERR_PROXY = -3,	/* the proxy refused (a reply other than
				   2xx), answered badly or hung up */
	DIAL_ERR_TIMEOUT = -4,	/* resolution, connect or the proxy's reply
				   took longer than connect_timeout_ms */
	DIAL_ERR_NOMEM = -5,
	DIAL_ERR_INVAL = -6,	/* a malformed address or option, or
				   dial_step() without an attempt */
	DIAL_ERR_SYS = -7,	/* a system call failed (socket(),
				   setsockopt(), eventfd(), pthread_create()) */
	DIAL_ERR__COUNT = 7	/* number of error codes, for the table */
};

/*
 * What to dial. Borrowed by dial_start() for the call only: it copies
 * what it needs. Start from a zeroed struct; 0 and NULL are the defaults.
 */
struct dial_conf {
	char *const *address;	/* "host:port", "[v6addr]:port" or
				   "v4:port"; tried in order. A host name is
				   letters, digits, '-', '.' and '_'; an IPv6
				   address needs brackets and may carry a
				   zone ("[fe80::1%eth0]:1883"); port 1-65535 */
	size_t n_address;	/* >= 1 */
	int connect_timeout_ms;	/* per resolution and per resolved address,
				   including the proxy exchange; 0:
				   DIAL_TIMEOUT_MS */
	const char *proxy;	/* NULL or "": connect directly; else
				   "host:port" (same syntax as above) of an
				   HTTP CONNECT proxy */
	const char *proxy_user;	/* NULL or "": no Proxy-Authorization; else
				   Basic with user:pass; the user must not
				   contain ':' (RFC 7617). Each at most
				   DIAL_CRED_MAX bytes */
	const char *proxy_pass;	/* NULL: "" */
	int keepalive_s;	/* > 0: SO_KEEPALIVE with TCP_KEEPIDLE =
				   keepalive_s (<= DIAL_KEEPIDLE_MAX),
				   TCP_KEEPINTVL = max(1, keepalive_s / 3),
				   TCP_KEEPCNT = 3; <= 0: off */
	int user_timeout_ms;	/* > 0: TCP_USER_TIMEOUT; <= 0: the kernel's */
};

struct dial;	/* opaque */

/*
 * dial_new: an idle dial into *out (free with dial_free()). Returns
 * DIAL_OK, or DIAL_ERR_NOMEM with *out = NULL.
 */
int dial_new(struct dial **out);

/*
 * dial_free: cancel any attempt (see dial_start()), close what the dial
 * opened and free it. A resolver thread still running is abandoned: it
 * discards its result and frees the job itself. NULL is a no-op. A socket
 * already returned by dial_step() is the caller's and stays open.
 */
void dial_free(struct dial *d);

/*
 * dial_start: cancel any attempt in progress (closing its socket, leaving
 * a running resolver thread to finish on its own), copy what c says and
 * begin with the first address: an IP address is converted and its
 * connect started at once, a host name is handed to a resolver thread.
 * c is borrowed for the call. now_ms is the loop's monotonic time.
 *
 * Returns DIAL_AGAIN: drive the attempt with dial_pollfd(), dial_deadline()
 * and dial_step(). Failures to connect are reported by dial_step(), never
 * here, even when they are known at once. On error the dial is idle, err
 * (errlen bytes, may be NULL) gets "what: why", and the return is
 * DIAL_ERR_INVAL (no address, a malformed address, proxy or credential, an
 * option out of range; the text quotes a malformed broker address but
 * never the proxy string, which may hold a password) or DIAL_ERR_NOMEM.
 * Never blocks (pthread_create() and eventfd() are quick).
 */
int dial_start(struct dial *d, const struct dial_conf *c, int64_t now_ms,
    char *err, size_t errlen);

/*
 * dial_pollfd: the fd the loop must watch now, into *fd, with the events
 * to watch for in *events (POLLIN or POLLOUT). Returns 1, or 0 with *fd =
 * -1 when there is nothing to watch (idle, or a result waits: then only
 * dial_deadline() matters). The fd belongs to the dial; it may change
 * after every dial_step(), so ask again each time round the loop.
 */
int dial_pollfd(const struct dial *d, int *fd, short *events);

/*
 * dial_deadline: the monotonic time (ms) by which dial_step() must be
 * called again even if the fd is not ready; it may already be past (a
 * result waits to be reported). -1 when idle.
 */
int64_t dial_deadline(const struct dial *d);

/*
 * dial_step: advance the attempt. revents is what poll() reported for the
 * fd of dial_pollfd() (0 when called for the deadline or for no reason);
 * now_ms is the loop's monotonic time. It runs through as many addresses
 * as fail at once, and never blocks.
 *
 * Returns:
 * - DIAL_AGAIN: still working; *fd_out = -1.
 * - DIAL_OK: *fd_out is the connected socket (non-blocking, close-on-exec,
 *   TCP_NODELAY, with the keepalive and user timeout options), through the
 *   proxy's tunnel if one is configured, positioned right after the
 *   proxy's reply head: what the broker sends after it is still unread.
 *   The socket now belongs to the caller. The dial is idle; dial_host()
 *   and dial_address() name the address that succeeded.
 * - negative: every address failed; *fd_out = -1, the dial is idle and the
 *   return is the code of the last failure. err (errlen bytes, may be
 *   NULL) gets its text, naming the address (and, for a host name, the IP
 *   address tried; with a proxy, the proxy too), e.g. "broker
 *   example.org:8883 at 192.0.2.7: connect: Connection refused", followed
 *   by " (tried N addresses)" when more than one attempt failed. Proxy
 *   refusals quote the status line, never the credentials.
 * - DIAL_ERR_INVAL with err filled when the dial is idle.
 * A failed dial can be started again with dial_start().
 */
int dial_step(struct dial *d, short revents, int64_t now_ms, int *fd_out,
    char *err, size_t errlen);

/*
 * dial_host: the host of the address being tried, or of the last one
 * tried or that succeeded (no brackets, no port; the broker's, not the
 * proxy's): the name for TLS SNI and certificate verification. "" before
 * the first dial_start(). The string belongs to d and changes with the
 * next dial_step() or dial_start().
 */
const char *dial_host(const struct dial *d);

/* dial_address: the same, the whole address as configured ("host:port"). */
const char *dial_address(const struct dial *d);

/* dial_strerror: static text for a dial_err code (DIAL_AGAIN included). */
const char *dial_strerror(int err);

#endif
