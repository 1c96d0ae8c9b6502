/* SPDX-License-Identifier: ISC */
/*
 * tls_reason: why a TLS handshake failed, in one line (see tls.h and
 * docs/tls.md "Why a handshake failed"): the verify callback that notes
 * what the server's chain showed, and the texts for certificate, alert
 * and network failures. Shared with platform/tls_conn.c only.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <mbedtls/asn1.h>
#include <mbedtls/error.h>
#include <mbedtls/md.h>
#include <mbedtls/net_sockets.h>

#define TLS_INTERNAL
#include "platform/tls.h"

/* Append "sep" + n bytes of s to buf, with unprintable bytes as '?'. */
static void
tls_reason_append(char *buf, size_t cap, const char *sep, const char *s,
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
tls_reason_san_is(const mbedtls_x509_buf *b, int type)
{
	return b->tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | type);
}

/*
 * The names a certificate presents, as mbedTLS matches them: its DNS and
 * IP SANs, or its subject when it has no SAN extension.
 */
static void
tls_reason_names(const mbedtls_x509_crt *crt, char *buf, size_t cap)
{
	const mbedtls_x509_sequence *s;
	char one[TLS_DN_MAX];
	int af;

	buf[0] = '\0';
	for (s = &crt->subject_alt_names; s != NULL; s = s->next) {
		if (tls_reason_san_is(&s->buf, MBEDTLS_X509_SAN_DNS_NAME)) {
			snprintf(one, sizeof(one), "DNS:");
			tls_reason_append(one, sizeof(one), "",
			    (const char *)s->buf.p, s->buf.len);
		} else if (tls_reason_san_is(&s->buf,
		    MBEDTLS_X509_SAN_IP_ADDRESS) &&
		    (s->buf.len == 4 || s->buf.len == 16)) {
			af = s->buf.len == 4 ? AF_INET : AF_INET6;
			memcpy(one, "IP:", 4);
			inet_ntop(af, s->buf.p, one + 3, sizeof(one) - 3);
		} else
			continue;
		tls_reason_append(buf, cap, ", ", one, strlen(one));
	}
	if (buf[0] == '\0' &&
	    mbedtls_x509_dn_gets(one, sizeof(one), &crt->subject) > 0)
		tls_reason_append(buf, cap, "", one, strlen(one));
	if (buf[0] == '\0')
		snprintf(buf, cap, "no name");
}

/* Whether the certificate has an IP SAN equal to ip (len 4 or 16). */
static int
tls_reason_ip_match(const mbedtls_x509_crt *crt, const uint8_t *ip,
    size_t len)
{
	const mbedtls_x509_sequence *s;

	for (s = &crt->subject_alt_names; s != NULL; s = s->next)
		if (tls_reason_san_is(&s->buf, MBEDTLS_X509_SAN_IP_ADDRESS) &&
		    s->buf.len == len && memcmp(s->buf.p, ip, len) == 0)
			return 1;
	return 0;
}

/* "'DN' was valid until DATE" or "'DN' is valid from DATE". */
static void
tls_reason_dated(const mbedtls_x509_crt *crt, uint32_t flags, char *buf,
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
int
tls_reason_verify(void *arg, mbedtls_x509_crt *crt, int depth,
    uint32_t *flags)
{
	struct tls_conn *c = arg;
	struct tls_seen *s = &c->seen;

	s->called = 1;
	if (depth == 0) {
		/* For the pins: the peer certificate need not be kept. */
		s->have_spki = mbedtls_md(mbedtls_md_info_from_type(
		    MBEDTLS_MD_SHA256), crt->pk_raw.p, crt->pk_raw.len,
		    s->spki) == 0;
		tls_reason_names(crt, s->names, sizeof(s->names));
		if (c->iplen > 0 && !tls_reason_ip_match(crt, c->ip, c->iplen))
			*flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
	}
	if ((*flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED) != 0 &&
	    s->untrusted[0] == '\0' && mbedtls_x509_dn_gets(s->untrusted,
	    sizeof(s->untrusted), &crt->issuer) < 0)
		snprintf(s->untrusted, sizeof(s->untrusted), "?");
	if ((*flags & (MBEDTLS_X509_BADCERT_EXPIRED |
	    MBEDTLS_X509_BADCERT_FUTURE)) != 0 && s->dated[0] == '\0')
		tls_reason_dated(crt, *flags, s->dated, sizeof(s->dated));
	s->flags |= *flags;
	return 0;
}

/* The one reason for a failed certificate verification. */
static void
tls_reason_verify_failed(struct tls_conn *c, char *buf, size_t cap)
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
tls_reason_alert_name(int alert)
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
tls_reason_alert(struct tls_conn *c, int alert, char *buf, size_t cap)
{
	char what[48];

	if (alert >= 0)
		snprintf(what, sizeof(what), "alert %d (%s)", alert,
		    tls_reason_alert_name(alert));
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
tls_reason_tail_alert(const struct tls_conn *c)
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
tls_reason_peek_alert(const struct tls_conn *c)
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
int
tls_reason_handshake(struct tls_conn *c, int ret, char *buf, size_t cap)
{
	char why[TLS_ERR_MAX / 2];
	int alert;

	switch (ret) {
	case MBEDTLS_ERR_X509_CERT_VERIFY_FAILED:
		tls_reason_verify_failed(c, buf, cap);
		return 1;
	case MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE:
		tls_reason_alert(c, tls_reason_tail_alert(c), buf, cap);
		return 1;
	case MBEDTLS_ERR_SSL_CONN_EOF:
		snprintf(buf, cap, "connection closed by the server during "
		    "the handshake");
		return 0;
	case MBEDTLS_ERR_NET_CONN_RESET:
	case MBEDTLS_ERR_NET_SEND_FAILED:
		if ((alert = tls_reason_peek_alert(c)) >= 0) {
			tls_reason_alert(c, alert, buf, cap);
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
