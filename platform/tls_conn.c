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
#include <mbedtls/md.h>
#include <mbedtls/platform_util.h>

#define TLS_INTERNAL
#include "platform/clock.h"
#include "platform/tls.h"

#define TLS_DN_MAX	128

enum tls_conn_state {
	TLS_CONN_HANDSHAKE,	/* mbedtls_ssl_handshake() not done yet */
	TLS_CONN_OPEN,		/* application data flows; in TLS 1.3 the
				   server may still refuse (unconfirmed) */
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
	uint8_t tail[7];		/* the last bytes read (a plain alert) */
	int unconfirmed;		/* TLS 1.3: nothing from the server yet
					   since our Finished */
	int resumed;			/* how to count it once confirmed */
#if TLS_MBEDTLS3
	unsigned char master[TLS_MASTER_LEN];	/* TLS 1.2 master secret */
	int have_master;
#endif
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
 * The server refused with fatal alert number alert (-1: not known, as for
 * an encrypted alert: TLS 1.3 after ServerHello, 1.2 after
 * ChangeCipherSpec).
 */
static void
tls_conn_alert_reason(struct tls_conn *c, int alert, char *buf, size_t cap)
{
	char what[48];

	if (alert >= 0)
		snprintf(what, sizeof(what), "alert %d (%s)", alert,
		    tls_conn_alert_name(alert));
	else
		snprintf(what, sizeof(what), "an encrypted alert");
	if (c->tls->psk_mode)
		snprintf(buf, cap, "PSK refused: the server sent %s; check "
		    "psk_identity '%.64s' and psk", what, c->tls->psk_identity);
	else if (!c->tls->have_cert)
		snprintf(buf, cap, "refused by the server: %s; it may require "
		    "a client certificate (cert_file)", what);
	else
		snprintf(buf, cap, "refused by the server: %s", what);
}

/* The plaintext fatal alert that was read last, or -1. */
static int
tls_conn_tail_alert(const struct tls_conn *c)
{
	const uint8_t *r = c->tail;

	if (r[0] != MBEDTLS_SSL_MSG_ALERT || r[1] != 3 || r[3] != 0 ||
	    r[4] != 2 || r[5] != MBEDTLS_SSL_ALERT_LEVEL_FATAL)
		return -1;
	return r[6];
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
		tls_conn_alert_reason(c, tls_conn_tail_alert(c), buf, cap);
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
 * session normally still has the certificate
 * (MBEDTLS_SSL_KEEP_PEER_CERTIFICATE), so resumption is checked too.
 * Where it has none (a TLS 1.3 ticket), the session being resumed passed
 * the pins when it was made (a failed check forgets it), and the
 * resumption proves the server holds its secret.
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
	if ((peer = mbedtls_ssl_get_peer_cert(&c->ssl)) == NULL && resumed)
		return 0;
	if (peer == NULL) {
		snprintf(why, cap, "pin mismatch: no server key to check");
		return -1;
	}
	if (mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256),
	    peer->pk_raw.p, peer->pk_raw.len, d) != 0) {
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
		forget = tls_conn_reason(c, ret, why, sizeof(why));
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
		forget = tls_conn_reason(c, ret, why, sizeof(why));
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
	 * all); tls_conn_verify checks the IP SANs instead.
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
	mbedtls_ssl_set_verify(&c->ssl, tls_conn_verify, c);
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
