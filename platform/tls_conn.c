/* SPDX-License-Identifier: ISC */
/*
 * tls_conn: one TLS session over a broker socket, as a transport
 * (see tls.h): non-blocking BIO callbacks on the fd, the handshake as a
 * state, the reason of a failed handshake, pins, resumption, counters.
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

#include <mbedtls/asn1.h>
#include <mbedtls/base64.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>

#define TLS_INTERNAL
#include "platform/clock.h"
#include "platform/tls.h"

#define TLS_DN_MAX	128

enum tls_conn_state {
	TLS_CONN_HANDSHAKE,	/* mbedtls_ssl_handshake() not done yet */
	TLS_CONN_OPEN,		/* application data flows */
	TLS_CONN_FAILED		/* tls->last_error says why */
};

/* What the verify callback saw of the server's chain, for the reason. */
struct tls_seen {
	int called;			/* a certificate was verified */
	uint32_t flags;			/* union over the chain */
	char names[TLS_ERR_MAX / 2];	/* the leaf's "DNS:a, IP:b" or DN */
	char untrusted[TLS_DN_MAX];	/* issuer nobody vouches for */
	char dated[TLS_ERR_MAX / 2];	/* "'DN' ... DATE" of a bad date */
};

struct tls_conn {
	struct tls *tls;		/* borrowed; outlives us */
	int fd;
	enum tls_conn_state state;
	mbedtls_ssl_context ssl;
	int64_t deadline_ms;		/* end of the handshake */
	short want;			/* HANDSHAKE: POLLIN or POLLOUT */
	size_t wpending;		/* bytes of a write mbedTLS still sends */
	int offered;			/* the saved session was offered */
	int sys_errno;			/* errno of the last failed send/recv */
	int eof;			/* recv() returned 0 */
	char host[TLS_NAME_MAX + 1];	/* the target, keys the saved session */
	char expect[TLS_NAME_MAX + 1];	/* name or address verified */
	uint8_t ip[16];			/* expect as an address */
	size_t iplen;			/* 4, 16, or 0 when expect is a name */
	struct tls_seen seen;
};

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

/* Append "sep" + n bytes of s to buf, with unprintable bytes as '?'. */
static void
tls_conn_append(char *buf, size_t cap, const char *sep, const char *s,
    size_t n)
{
	size_t k = strlen(buf), i;

	if (k > 0 && k + strlen(sep) < cap) {
		memcpy(buf + k, sep, strlen(sep) + 1);
		k += strlen(sep);
	}
	for (i = 0; i < n && k + 1 < cap; i++)
		buf[k++] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	buf[k] = '\0';
}

static int
tls_conn_san_is(const mbedtls_x509_buf *b, int type)
{
	return b->tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | type);
}

/*
 * The names a certificate presents, as mbedTLS matches them: its DNS and
 * IP SANs, or its subject when it has no SAN extension.
 */
static void
tls_conn_names(const mbedtls_x509_crt *crt, char *buf, size_t cap)
{
	const mbedtls_x509_sequence *s;
	char one[TLS_DN_MAX];
	int af;

	buf[0] = '\0';
	for (s = &crt->subject_alt_names; s != NULL; s = s->next) {
		if (tls_conn_san_is(&s->buf, MBEDTLS_X509_SAN_DNS_NAME)) {
			snprintf(one, sizeof(one), "DNS:");
			tls_conn_append(one, sizeof(one), "",
			    (const char *)s->buf.p, s->buf.len);
		} else if (tls_conn_san_is(&s->buf,
		    MBEDTLS_X509_SAN_IP_ADDRESS) &&
		    (s->buf.len == 4 || s->buf.len == 16)) {
			af = s->buf.len == 4 ? AF_INET : AF_INET6;
			memcpy(one, "IP:", 4);
			inet_ntop(af, s->buf.p, one + 3, sizeof(one) - 3);
		} else
			continue;
		tls_conn_append(buf, cap, ", ", one, strlen(one));
	}
	if (buf[0] == '\0' &&
	    mbedtls_x509_dn_gets(one, sizeof(one), &crt->subject) > 0)
		tls_conn_append(buf, cap, "", one, strlen(one));
	if (buf[0] == '\0')
		snprintf(buf, cap, "no name");
}

/* Whether the certificate has an IP SAN equal to ip (len 4 or 16). */
static int
tls_conn_ip_match(const mbedtls_x509_crt *crt, const uint8_t *ip,
    size_t len)
{
	const mbedtls_x509_sequence *s;

	for (s = &crt->subject_alt_names; s != NULL; s = s->next)
		if (tls_conn_san_is(&s->buf, MBEDTLS_X509_SAN_IP_ADDRESS) &&
		    s->buf.len == len && memcmp(s->buf.p, ip, len) == 0)
			return 1;
	return 0;
}

/* "'DN' was valid until DATE" or "'DN' is valid from DATE". */
static void
tls_conn_dated(const mbedtls_x509_crt *crt, uint32_t flags, char *buf,
    size_t cap)
{
	const mbedtls_x509_time *tm = (flags & MBEDTLS_X509_BADCERT_EXPIRED)
	    != 0 ? &crt->valid_to : &crt->valid_from;
	char dn[TLS_DN_MAX];

	if (mbedtls_x509_dn_gets(dn, sizeof(dn), &crt->subject) < 0)
		snprintf(dn, sizeof(dn), "?");
	snprintf(buf, cap, "'%.80s' %s %04d-%02d-%02d %02d:%02d:%02d UTC", dn,
	    (flags & MBEDTLS_X509_BADCERT_EXPIRED) != 0 ?
	    "was valid until" : "is valid from",
	    tm->year, tm->mon, tm->day, tm->hour, tm->min, tm->sec);
}

/*
 * Verify callback, once per certificate of the chain, root first. It
 * notes what the reason text needs and, for an IP address target, checks
 * the IP SANs, which mbedTLS 2.28 ignores (no hostname is set then, so
 * mbedTLS checks no name itself).
 */
static int
tls_conn_verify(void *arg, mbedtls_x509_crt *crt, int depth,
    uint32_t *flags)
{
	struct tls_conn *c = arg;
	struct tls_seen *s = &c->seen;

	s->called = 1;
	if (depth == 0) {
		tls_conn_names(crt, s->names, sizeof(s->names));
		if (c->iplen > 0 && !tls_conn_ip_match(crt, c->ip, c->iplen))
			*flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
	}
	if ((*flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED) != 0 &&
	    s->untrusted[0] == '\0' && mbedtls_x509_dn_gets(s->untrusted,
	    sizeof(s->untrusted), &crt->issuer) < 0)
		snprintf(s->untrusted, sizeof(s->untrusted), "?");
	if ((*flags & (MBEDTLS_X509_BADCERT_EXPIRED |
	    MBEDTLS_X509_BADCERT_FUTURE)) != 0 && s->dated[0] == '\0')
		tls_conn_dated(crt, *flags, s->dated, sizeof(s->dated));
	s->flags |= *flags;
	return 0;
}

/* The one reason for a failed certificate verification. */
static void
tls_conn_verify_reason(struct tls_conn *c, char *buf, size_t cap)
{
	struct tls_seen *s = &c->seen;
	uint32_t flags = s->called ? s->flags :
	    mbedtls_ssl_get_verify_result(&c->ssl);
	char info[TLS_ERR_MAX / 2], *nl;

	if ((flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED) != 0)
		snprintf(buf, cap, "untrusted issuer: '%s' is not in ca_file "
		    "or ca_path", s->untrusted[0] != '\0' ? s->untrusted : "?");
	else if ((flags & MBEDTLS_X509_BADCERT_EXPIRED) != 0)
		snprintf(buf, cap, "certificate expired: %s", s->dated);
	else if ((flags & MBEDTLS_X509_BADCERT_FUTURE) != 0)
		snprintf(buf, cap, "certificate not yet valid: %s", s->dated);
	else if ((flags & MBEDTLS_X509_BADCERT_CN_MISMATCH) != 0)
		snprintf(buf, cap, "name mismatch: expected '%.80s', presented %.150s",
		    c->expect, s->names);
	else {
		if (mbedtls_x509_crt_verify_info(info, sizeof(info), "",
		    flags) < 0)
			snprintf(info, sizeof(info), "flags 0x%x",
			    (unsigned)flags);
		if ((nl = strchr(info, '\n')) != NULL)
			*nl = '\0';
		snprintf(buf, cap, "certificate rejected: %s", info);
	}
}

static const char *
tls_conn_alert_name(int alert)
{
	switch (alert) {
	case MBEDTLS_SSL_ALERT_MSG_BAD_RECORD_MAC:
		return "bad_record_mac";
	case MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE:
		return "handshake_failure";
	case MBEDTLS_SSL_ALERT_MSG_BAD_CERT:
		return "bad_certificate";
	case MBEDTLS_SSL_ALERT_MSG_UNKNOWN_CA:
		return "unknown_ca";
	case MBEDTLS_SSL_ALERT_MSG_ACCESS_DENIED:
		return "access_denied";
	case MBEDTLS_SSL_ALERT_MSG_DECRYPT_ERROR:
		return "decrypt_error";
	case MBEDTLS_SSL_ALERT_MSG_PROTOCOL_VERSION:
		return "protocol_version";
	case MBEDTLS_SSL_ALERT_MSG_INSUFFICIENT_SECURITY:
		return "insufficient_security";
	case MBEDTLS_SSL_ALERT_MSG_UNRECOGNIZED_NAME:
		return "unrecognized_name";
	case MBEDTLS_SSL_ALERT_MSG_UNKNOWN_PSK_IDENTITY:
		return "unknown_psk_identity";
	case MBEDTLS_SSL_ALERT_MSG_NO_APPLICATION_PROTOCOL:
		return "no_application_protocol";
	case 116:
		return "certificate_required";
	default:
		return "alert";
	}
}

/*
 * The server refused with fatal alert number alert (-1: unknown). mbedTLS
 * 2.28 has no accessor for a received alert: it is left in ssl.in_msg[1]
 * (a field of the public struct; 3.x would need another way).
 */
static void
tls_conn_alert_reason(struct tls_conn *c, int alert, char *buf, size_t cap)
{
	const char *name = tls_conn_alert_name(alert);

	if (c->tls->psk_mode)
		snprintf(buf, cap, "PSK refused: the server sent alert %d (%s);"
		    " check psk_identity '%.64s' and psk", alert, name,
		    c->tls->psk_identity);
	else if (!c->tls->have_cert)
		snprintf(buf, cap, "refused by the server: alert %d (%s); it "
		    "may require a client certificate (cert_file)", alert,
		    name);
	else
		snprintf(buf, cap, "refused by the server: alert %d (%s)",
		    alert, name);
}

/*
 * Our flight failed to send: the server may have refused it with an alert
 * and closed (as OpenSSL does when a required client certificate is
 * missing). Before ChangeCipherSpec that alert is a plain record waiting
 * in the socket: peek at it. Returns the alert number or -1.
 */
static int
tls_conn_peek_alert(const struct tls_conn *c)
{
	uint8_t rec[7];

	if (recv(c->fd, rec, sizeof(rec), MSG_PEEK | MSG_DONTWAIT) !=
	    (ssize_t)sizeof(rec))
		return -1;
	if (rec[0] != MBEDTLS_SSL_MSG_ALERT || rec[3] != 0 || rec[4] != 2 ||
	    rec[5] != MBEDTLS_SSL_ALERT_LEVEL_FATAL)
		return -1;
	return rec[6];
}

/*
 * The one reason for a failed handshake; returns whether the saved
 * session should be forgotten (the server's identity is in question,
 * not the network).
 */
static int
tls_conn_reason(struct tls_conn *c, int ret, char *buf, size_t cap)
{
	char why[TLS_ERR_MAX / 2];
	int alert;

	switch (ret) {
	case MBEDTLS_ERR_X509_CERT_VERIFY_FAILED:
		tls_conn_verify_reason(c, buf, cap);
		return 1;
	case MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE:
		tls_conn_alert_reason(c, c->ssl.in_msg != NULL ?
		    c->ssl.in_msg[1] : -1, buf, cap);
		return 1;
	case MBEDTLS_ERR_SSL_CONN_EOF:
		snprintf(buf, cap, "connection closed by the server during "
		    "the handshake");
		return 0;
	case MBEDTLS_ERR_NET_CONN_RESET:
	case MBEDTLS_ERR_NET_SEND_FAILED:
		if ((alert = tls_conn_peek_alert(c)) >= 0) {
			tls_conn_alert_reason(c, alert, buf, cap);
			return 1;
		}
		/* FALLTHROUGH */
	case MBEDTLS_ERR_NET_RECV_FAILED:
		snprintf(buf, cap, "connection lost during the handshake: %s",
		    strerror(c->sys_errno));
		return 0;
	default:
		mbedtls_strerror(ret, why, sizeof(why));
		snprintf(buf, cap, "handshake failed: %s", why);
		return 1;
	}
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
 * certificate carries it (pk_raw), must equal one of them. A resumed
 * session still has the certificate (MBEDTLS_SSL_KEEP_PEER_CERTIFICATE),
 * so resumption is checked too.
 */
static int
tls_conn_pins(struct tls_conn *c, char *why, size_t cap)
{
	const struct tls *t = c->tls;
	const mbedtls_x509_crt *peer;
	unsigned char d[32], b64[48];
	size_t i, olen;

	if (t->npins == 0)
		return 0;
	if ((peer = mbedtls_ssl_get_peer_cert(&c->ssl)) == NULL) {
		snprintf(why, cap, "pin mismatch: no server key to check");
		return -1;
	}
	if (mbedtls_sha256_ret(peer->pk_raw.p, peer->pk_raw.len, d, 0) != 0) {
		snprintf(why, cap, "pin check: SHA-256 failed");
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

/*
 * The handshake succeeded: save the session for the next connection and
 * count it. mbedTLS 2.28 has no public way to ask whether the server
 * resumed (ssl->handshake->resume is internal). A resumed handshake keeps
 * the master secret of the session offered; a full one derives a new one
 * from fresh randoms. So comparing the two is exact, for session ids and
 * tickets alike, with or without certificates.
 */
static void
tls_conn_done(struct tls_conn *c)
{
	struct tls *t = c->tls;
	mbedtls_ssl_session s;
	int resumed = 0;

	mbedtls_ssl_session_init(&s);
	if (mbedtls_ssl_get_session(&c->ssl, &s) == 0) {
		resumed = c->offered && t->have_saved &&
		    memcmp(s.master, t->saved.master, sizeof(s.master)) == 0;
		mbedtls_ssl_session_free(&t->saved);
		t->saved = s;	/* takes over what s points to */
		t->have_saved = 1;
		memcpy(t->saved_host, c->host, sizeof(t->saved_host));
		mbedtls_platform_zeroize(&s, sizeof(s));
	} else
		mbedtls_ssl_session_free(&s);
	if (resumed)
		t->stats.handshakes_resumed++;
	else
		t->stats.handshakes_full++;
	t->last_error[0] = '\0';
	c->state = TLS_CONN_OPEN;
}

/*
 * Advance the handshake. Returns 0 when the session is open,
 * TRANSPORT_IO_AGAIN (c->want says for what), or TRANSPORT_IO_ERR.
 */
static int
tls_conn_step(struct tls_conn *c, int64_t now_ms)
{
	char why[TLS_ERR_MAX];
	int ret, forget;

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
		forget = tls_conn_reason(c, ret, why, sizeof(why));
		return tls_conn_fail(c, forget, "%s", why);
	}
	if (tls_conn_pins(c, why, sizeof(why)) < 0)
		return tls_conn_fail(c, 1, "%s", why);
	tls_conn_done(c);
	return 0;
}

/* A failure of an open session: last_error, errno; TRANSPORT_IO_ERR. */
static int
tls_conn_session_err(struct tls_conn *c, int ret)
{
	char why[TLS_ERR_MAX / 2];

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
	ret = mbedtls_ssl_read(&c->ssl, buf, cap > INT_MAX ? INT_MAX : cap);
	if (ret > 0)
		return ret;
	if (ret == 0 || ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY ||
	    ret == MBEDTLS_ERR_SSL_CONN_EOF)
		return 0;
	if (ret == MBEDTLS_ERR_SSL_WANT_READ ||
	    ret == MBEDTLS_ERR_SSL_WANT_WRITE)
		return TRANSPORT_IO_AGAIN;
	return tls_conn_session_err(c, ret);
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
	/* An address is neither SNI (RFC 6066) nor a name for mbedTLS. */
	if ((ret = mbedtls_ssl_setup(&c->ssl, &t->conf)) != 0 ||
	    (c->iplen == 0 && (ret = mbedtls_ssl_set_hostname(&c->ssl,
	    name)) != 0)) {
		mbedtls_strerror(ret, why, sizeof(why));
		snprintf(err, errlen, "tls: setup: %s", why);
		mbedtls_ssl_free(&c->ssl);
		free(c);
		return -1;
	}
	mbedtls_ssl_set_bio(&c->ssl, c, tls_conn_send, tls_conn_recv, NULL);
	mbedtls_ssl_set_verify(&c->ssl, tls_conn_verify, c);
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
