/* SPDX-License-Identifier: ISC */
/*
 * tls_conn: one TLS session over a broker socket, as a transport
 * (see tls.h): non-blocking BIO callbacks on the fd, the handshake as a
 * state, pins, resumption (TLS 1.2 sessions, TLS 1.3 tickets), counters.
 * The reason of a failed handshake is platform/tls_reason.c's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mbedtls/base64.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/md.h>
#include <mbedtls/platform_util.h>

#define TLS_INTERNAL
#include "platform/clock.h"
#include "platform/tls.h"

/* BIO send: non-blocking; counts the record bytes that leave. */
static int
tls_conn_send(void *ctx, const unsigned char *buf, size_t len)
{
	struct tls_conn *c = ctx;
	ssize_t n;

	if (len > INT_MAX)
		len = INT_MAX;
	do
		n = send(c->fd, buf, len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n >= 0) {
		c->tls->stats.tx_bytes += (uint64_t)n;
		return (int)n;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return MBEDTLS_ERR_SSL_WANT_WRITE;
	c->sys_errno = errno;
	return errno == EPIPE || errno == ECONNRESET ?
	    MBEDTLS_ERR_NET_CONN_RESET : MBEDTLS_ERR_NET_SEND_FAILED;
}

/*
 * Keep the last sizeof(tail) bytes read. mbedTLS reads a record's header,
 * then exactly its body, so when it reports a fatal alert, a plaintext one
 * (before ChangeCipherSpec in TLS 1.2, before ServerHello in 1.3) is the
 * tail: neither version has an API for the alert received.
 */
static void
tls_conn_tail(struct tls_conn *c, const unsigned char *buf, size_t n)
{
	size_t keep = sizeof(c->tail);

	if (n >= keep) {
		memcpy(c->tail, buf + n - keep, keep);
		return;
	}
	memmove(c->tail, c->tail + n, keep - n);
	memcpy(c->tail + keep - n, buf, n);
}

/* BIO recv: non-blocking; counts the record bytes that arrive. */
static int
tls_conn_recv(void *ctx, unsigned char *buf, size_t len)
{
	struct tls_conn *c = ctx;
	ssize_t n;

	if (len > INT_MAX)
		len = INT_MAX;
	do
		n = recv(c->fd, buf, len, 0);
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		c->tls->stats.rx_bytes += (uint64_t)n;
		tls_conn_tail(c, buf, (size_t)n);
		return (int)n;
	}
	if (n == 0) {
		c->eof = 1;
		return 0;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return MBEDTLS_ERR_SSL_WANT_READ;
	c->sys_errno = errno;
	return errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET :
	    MBEDTLS_ERR_NET_RECV_FAILED;
}


/* Record a failure: last_error, counter, state; returns TRANSPORT_IO_ERR. */
static int __attribute__((format(printf, 3, 4)))
tls_conn_fail(struct tls_conn *c, int forget, const char *fmt, ...)
{
	struct tls *t = c->tls;
	va_list ap;
	int k;

	k = snprintf(t->last_error, sizeof(t->last_error), "tls handshake: ");
	va_start(ap, fmt);
	vsnprintf(t->last_error + k, sizeof(t->last_error) - (size_t)k, fmt,
	    ap);
	va_end(ap);
	t->stats.handshakes_failed++;
	c->state = TLS_CONN_FAILED;
	if (forget && t->have_saved) {
		mbedtls_ssl_session_free(&t->saved);
		mbedtls_ssl_session_init(&t->saved);
		t->have_saved = 0;
	}
	errno = ECONNABORTED;
	return TRANSPORT_IO_ERR;
}

/*
 * Pins: the SHA-256 of the server's SubjectPublicKeyInfo, exactly as the
 * certificate carries it (pk_raw), must equal one of them. A full
 * handshake hashes it in the verify callback (tls_reason_verify), which
 * works whether or not mbedTLS keeps the peer certificate. A resumed
 * session has the certificate when MBEDTLS_SSL_KEEP_PEER_CERTIFICATE is
 * on (Debian's 2.28 and 3.6, TLS 1.3 tickets too), so it is checked
 * again; where it has none, the session being resumed passed the pins
 * when it was made (a failed check forgets it), and the resumption
 * proves the server holds its secret.
 */
static int
tls_conn_pins(struct tls_conn *c, int resumed, char *why, size_t cap)
{
	const struct tls *t = c->tls;
	const mbedtls_x509_crt *peer;
	unsigned char d[32], b64[48];
	size_t i, olen;

	if (t->npins == 0)
		return 0;
	if (c->seen.have_spki)
		memcpy(d, c->seen.spki, sizeof(d));
	else if ((peer = mbedtls_ssl_get_peer_cert(&c->ssl)) != NULL) {
		if (mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256),
		    peer->pk_raw.p, peer->pk_raw.len, d) != 0) {
			snprintf(why, cap, "pin check: SHA-256 failed");
			return -1;
		}
	} else if (resumed)
		return 0;
	else {
		snprintf(why, cap, "pin mismatch: no server key to check");
		return -1;
	}
	for (i = 0; i < t->npins; i++)
		if (memcmp(d, t->pins[i], sizeof(d)) == 0)
			return 0;
	if (mbedtls_base64_encode(b64, sizeof(b64), &olen, d, sizeof(d)) != 0)
		b64[0] = '\0';
	snprintf(why, cap, "pin mismatch: the server's key has sha256 %s, "
	    "which is no pin_sha256", (const char *)b64);
	return -1;
}

/* Whether this connection runs TLS 1.3. */
static int
tls_conn_is13(const struct tls_conn *c)
{
#if TLS_MBEDTLS3 && defined(MBEDTLS_SSL_PROTO_TLS1_3)
	return mbedtls_ssl_get_version_number(&c->ssl) ==
	    MBEDTLS_SSL_VERSION_TLS1_3;
#else
	(void)c;
	return 0;
#endif
}

#if TLS_MBEDTLS3
/*
 * mbedTLS 3.x key export: the TLS 1.2 master secret of this connection.
 * (In 2.28 it is a public field of the session; in 3.x it is private.)
 */
static void
tls_conn_on_keys(void *arg, mbedtls_ssl_key_export_type type,
    const unsigned char *secret, size_t len, const unsigned char cr[32],
    const unsigned char sr[32], mbedtls_tls_prf_types prf)
{
	struct tls_conn *c = arg;

	(void)cr;
	(void)sr;
	(void)prf;
	if (type != MBEDTLS_SSL_KEY_EXPORT_TLS12_MASTER_SECRET ||
	    len != sizeof(c->master))
		return;
	memcpy(c->master, secret, len);
	c->have_master = 1;
}
#endif

/*
 * Whether the server resumed the session offered. mbedTLS has no public
 * way to ask (ssl->handshake->resume is internal). TLS 1.2: a resumed
 * handshake keeps the master secret of the session offered, a full one
 * derives a new one from fresh randoms, so comparing the two is exact,
 * for session ids and tickets alike, with or without certificates.
 * TLS 1.3 (certificate mode only): a resumption authenticates by the
 * ticket's PSK, and the server sends no certificate, so none was
 * verified; a full handshake always verifies one.
 */
static int
tls_conn_resumed(struct tls_conn *c)
{
	struct tls *t = c->tls;
	int resumed = 0;

	if (!c->offered || !t->have_saved)
		return 0;
	if (tls_conn_is13(c))
		return !c->seen.called;
#if TLS_MBEDTLS3
	resumed = c->have_master && t->have_saved_master &&
	    memcmp(c->master, t->saved_master, sizeof(c->master)) == 0;
#else
	mbedtls_ssl_session s;

	mbedtls_ssl_session_init(&s);
	if (mbedtls_ssl_get_session(&c->ssl, &s) == 0)
		resumed = memcmp(s.master, t->saved.master,
		    sizeof(s.master)) == 0;
	mbedtls_ssl_session_free(&s);
#endif
	return resumed;
}

/*
 * Keep the connection's session for the next one: after a TLS 1.2
 * handshake, and for each TLS 1.3 NewSessionTicket (mbedTLS 3.x exports
 * each session once).
 */
static void
tls_conn_save(struct tls_conn *c)
{
	struct tls *t = c->tls;
	mbedtls_ssl_session s;

	mbedtls_ssl_session_init(&s);
	if (mbedtls_ssl_get_session(&c->ssl, &s) != 0) {
		mbedtls_ssl_session_free(&s);
		return;
	}
	mbedtls_ssl_session_free(&t->saved);
	t->saved = s;	/* takes over what s points to */
	t->have_saved = 1;
	memcpy(t->saved_host, c->host, sizeof(t->saved_host));
	mbedtls_platform_zeroize(&s, sizeof(s));
#if TLS_MBEDTLS3
	memcpy(t->saved_master, c->master, sizeof(t->saved_master));
	t->have_saved_master = c->have_master && !tls_conn_is13(c);
#endif
}

/* The server has accepted the handshake: count it. */
static void
tls_conn_confirm(struct tls_conn *c)
{
	struct tls *t = c->tls;

	if (!c->unconfirmed)
		return;
	c->unconfirmed = 0;
	if (c->resumed)
		t->stats.handshakes_resumed++;
	else
		t->stats.handshakes_full++;
	t->last_error[0] = '\0';
}

/*
 * The handshake succeeded on our side. TLS 1.2: the server's Finished
 * came last, so it is done; save the session. TLS 1.3: the server reads
 * our certificate (or its absence) after our Finished and may still
 * refuse, so the count waits for its first record; the session comes
 * with its NewSessionTicket (tls_conn_read).
 */
static void
tls_conn_done(struct tls_conn *c, int resumed)
{
	struct tls *t = c->tls;

	c->state = TLS_CONN_OPEN;
	c->resumed = resumed;
	c->unconfirmed = 1;
	t->last_error[0] = '\0';
	if (tls_conn_is13(c))
		return;
	if (TLS_MBEDTLS3 && c->offered && !resumed && t->have_saved) {
		/*
		 * mbedTLS 3.6 offers TLS 1.2 alone with a 1.2 session, so a
		 * server refusing it got no chance to pick 1.3 (say, it was
		 * upgraded). Offer nothing next time: the next handshake
		 * offers every version, and its session is kept.
		 */
		mbedtls_ssl_session_free(&t->saved);
		mbedtls_ssl_session_init(&t->saved);
		t->have_saved = 0;
	} else
		tls_conn_save(c);
	tls_conn_confirm(c);
}

/*
 * Advance the handshake. Returns 0 when the session is open,
 * TRANSPORT_IO_AGAIN (c->want says for what), or TRANSPORT_IO_ERR.
 */
static int
tls_conn_step(struct tls_conn *c, int64_t now_ms)
{
	char why[TLS_ERR_MAX];
	int ret, forget, resumed;

	switch (c->state) {
	case TLS_CONN_OPEN:
		return 0;
	case TLS_CONN_FAILED:
		errno = ECONNABORTED;
		return TRANSPORT_IO_ERR;
	case TLS_CONN_HANDSHAKE:
		break;
	}
	if (now_ms >= c->deadline_ms)
		return tls_conn_fail(c, 0, "timed out after %lld s",
		    (long long)(c->tls->timeout_ms / 1000));
	ret = mbedtls_ssl_handshake(&c->ssl);
	if (ret == MBEDTLS_ERR_SSL_WANT_READ) {
		c->want = POLLIN;
		return TRANSPORT_IO_AGAIN;
	}
	if (ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
		c->want = POLLOUT;
		return TRANSPORT_IO_AGAIN;
	}
	if (ret != 0) {
		forget = tls_reason_handshake(c, ret, why, sizeof(why));
		return tls_conn_fail(c, forget, "%s", why);
	}
	resumed = tls_conn_resumed(c);
	if (tls_conn_pins(c, resumed, why, sizeof(why)) < 0)
		return tls_conn_fail(c, 1, "%s", why);
	tls_conn_done(c, resumed);
	return 0;
}

/*
 * A failure of an open session: last_error, errno; TRANSPORT_IO_ERR.
 * Before the server confirmed a TLS 1.3 handshake, it is the server's
 * verdict on the handshake and is reported (and counted) as one.
 */
static int
tls_conn_session_err(struct tls_conn *c, int ret)
{
	char why[TLS_ERR_MAX / 2];
	int forget;

	if (c->unconfirmed) {
		c->unconfirmed = 0;
		forget = tls_reason_handshake(c, ret, why, sizeof(why));
		(void)tls_conn_fail(c, forget, "%s", why);
		errno = c->sys_errno != 0 ? c->sys_errno : ECONNABORTED;
		return TRANSPORT_IO_ERR;
	}
	mbedtls_strerror(ret, why, sizeof(why));
	snprintf(c->tls->last_error, sizeof(c->tls->last_error),
	    "tls session: %s", why);
	errno = c->sys_errno != 0 ? c->sys_errno : EPROTO;
	return TRANSPORT_IO_ERR;
}

static int
tls_conn_handshake(void *ctx, int64_t now_ms, short *events,
    int64_t *deadline_ms, char *err, size_t errlen)
{
	struct tls_conn *c = ctx;
	int rc = tls_conn_step(c, now_ms);

	*events = c->want;
	*deadline_ms = c->deadline_ms;
	if (rc == TRANSPORT_IO_ERR)
		snprintf(err, errlen, "%s", c->tls->last_error);
	return rc;
}

static ssize_t
tls_conn_read(void *ctx, uint8_t *buf, size_t cap)
{
	struct tls_conn *c = ctx;
	int rc, ret;

	if ((rc = tls_conn_step(c, clock_mono_ms())) != 0)
		return rc;
	if (cap == 0)
		return TRANSPORT_IO_AGAIN;
	for (;;) {
		ret = mbedtls_ssl_read(&c->ssl, buf, cap > INT_MAX ? INT_MAX :
		    cap);
#if defined(MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
		if (ret == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET) {
			/* TLS 1.3: the server accepted us; keep it. */
			tls_conn_save(c);
			tls_conn_confirm(c);
			continue;
		}
#endif
		break;
	}
	if (ret > 0) {
		tls_conn_confirm(c);
		return ret;
	}
	if (ret == 0 || ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY ||
	    ret == MBEDTLS_ERR_SSL_CONN_EOF)
		return 0;
	if (ret == MBEDTLS_ERR_SSL_WANT_READ ||
	    ret == MBEDTLS_ERR_SSL_WANT_WRITE)
		return TRANSPORT_IO_AGAIN;
	return tls_conn_session_err(c, ret);
}

/*
 * TLS 1.3: a server that refuses our certificate sends an (encrypted)
 * alert and closes, and our first write may fail on the closed socket
 * before we read. One read takes the alert that waits in the socket, so
 * the reason is the server's; returns its error, or ret.
 */
static int
tls_conn_refusal(struct tls_conn *c, int ret)
{
	unsigned char b;

	if (mbedtls_ssl_read(&c->ssl, &b, 1) ==
	    MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE)
		return MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE;
	return ret;
}

/*
 * mbedTLS needs a write that returned WANT_WRITE repeated with the same
 * bytes; the link offers them again (at least as many), and wpending
 * keeps the length that mbedTLS took into its record.
 */
static ssize_t
tls_conn_write(void *ctx, const uint8_t *buf, size_t len)
{
	struct tls_conn *c = ctx;
	int rc, ret, max;

	if ((rc = tls_conn_step(c, clock_mono_ms())) != 0)
		return rc;
	if (c->wpending > 0) {
		if (len < c->wpending) {
			errno = EINVAL;
			return TRANSPORT_IO_ERR;
		}
		len = c->wpending;
	} else {
		max = mbedtls_ssl_get_max_out_record_payload(&c->ssl);
		if (max > 0 && len > (size_t)max)
			len = (size_t)max;
	}
	if (len == 0)
		return TRANSPORT_IO_AGAIN;
	ret = mbedtls_ssl_write(&c->ssl, buf, len);
	if (ret > 0) {
		c->wpending = 0;
		return ret;
	}
	if (ret == MBEDTLS_ERR_SSL_WANT_WRITE ||
	    ret == MBEDTLS_ERR_SSL_WANT_READ) {
		c->wpending = len;
		return TRANSPORT_IO_AGAIN;
	}
	if (c->unconfirmed && (ret == MBEDTLS_ERR_NET_CONN_RESET ||
	    ret == MBEDTLS_ERR_NET_SEND_FAILED))
		ret = tls_conn_refusal(c, ret);
	return tls_conn_session_err(c, ret);
}

static int
tls_conn_want_write(void *ctx)
{
	const struct tls_conn *c = ctx;

	if (c->state == TLS_CONN_HANDSHAKE)
		return c->want == POLLOUT;
	return c->wpending > 0;
}

static int
tls_conn_pending(void *ctx)
{
	const struct tls_conn *c = ctx;

	return c->state == TLS_CONN_OPEN &&
	    (mbedtls_ssl_get_bytes_avail(&c->ssl) > 0 ||
	    mbedtls_ssl_check_pending(&c->ssl));
}

static void
tls_conn_close(void *ctx)
{
	struct tls_conn *c = ctx;

	/* Best effort: one try, never waits for the socket. */
	if (c->state == TLS_CONN_OPEN)
		(void)mbedtls_ssl_close_notify(&c->ssl);
	mbedtls_ssl_free(&c->ssl);
	close(c->fd);
	c->tls->nconn--;
	mbedtls_platform_zeroize(c, sizeof(*c));
	free(c);
}

const struct transport_ops tls_conn_ops = {
	.read = tls_conn_read,
	.write = tls_conn_write,
	.want_write = tls_conn_want_write,
	.close = tls_conn_close,
	.handshake = tls_conn_handshake,
	.pending = tls_conn_pending,
};

int
tls_conn_new(struct tls *t, int fd, const char *host, void **ctx,
    char *err, size_t errlen)
{
	const char *name = t->server_name[0] != '\0' ? t->server_name : host;
	char why[TLS_ERR_MAX / 2];
	struct tls_conn *c;
	int ret;

	if (strlen(host) > TLS_NAME_MAX) {
		snprintf(err, errlen, "tls: host name too long");
		return -1;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		snprintf(err, errlen, "tls: out of memory");
		return -1;
	}
	c->tls = t;
	c->fd = fd;
	c->state = TLS_CONN_HANDSHAKE;
	c->want = POLLOUT;
	mbedtls_ssl_init(&c->ssl);
	snprintf(c->host, sizeof(c->host), "%s", host);
	snprintf(c->expect, sizeof(c->expect), "%s", name);
	if (inet_pton(AF_INET, name, c->ip) == 1)
		c->iplen = 4;
	else if (inet_pton(AF_INET6, name, c->ip) == 1)
		c->iplen = 16;
	/*
	 * An address is neither SNI (RFC 6066) nor a name for mbedTLS: NULL
	 * says so (mbedTLS 3.6 refuses to verify when no name was set at
	 * all); tls_reason_verify checks the IP SANs instead.
	 */
	if ((ret = mbedtls_ssl_setup(&c->ssl, &t->conf)) != 0 ||
	    (ret = mbedtls_ssl_set_hostname(&c->ssl, c->iplen == 0 ? name :
	    NULL)) != 0) {
		mbedtls_strerror(ret, why, sizeof(why));
		snprintf(err, errlen, "tls: setup: %s", why);
		mbedtls_ssl_free(&c->ssl);
		free(c);
		return -1;
	}
	mbedtls_ssl_set_bio(&c->ssl, c, tls_conn_send, tls_conn_recv, NULL);
	mbedtls_ssl_set_verify(&c->ssl, tls_reason_verify, c);
#if TLS_MBEDTLS3
	mbedtls_ssl_set_export_keys_cb(&c->ssl, tls_conn_on_keys, c);
#endif
	if (t->have_saved && strcmp(t->saved_host, c->host) == 0 &&
	    mbedtls_ssl_set_session(&c->ssl, &t->saved) == 0)
		c->offered = 1;
	c->deadline_ms = clock_mono_ms() + t->timeout_ms;
	t->nconn++;
	*ctx = c;
	return 0;
}

const char *
tls_conn_alpn(void *ctx)
{
	struct tls_conn *c = ctx;

	if (c->state != TLS_CONN_OPEN)
		return NULL;
	return mbedtls_ssl_get_alpn_protocol(&c->ssl);
}

const char *
tls_conn_version(void *ctx)
{
	struct tls_conn *c = ctx;

	if (c->state != TLS_CONN_OPEN)
		return NULL;
	return mbedtls_ssl_get_version(&c->ssl);
}
