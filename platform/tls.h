/* SPDX-License-Identifier: ISC */
/*
 * tls: the mbedTLS client transport of a broker connection.
 *
 * The connection (relay/link.c) dials the broker over TCP and hands the
 * connected socket to tls_wrap(), which turns it into a TLS session
 * behind struct transport_ops (platform/transport.h). One struct tls
 * holds what every connection of one link shares: the loaded CA certificates, the client certificate
 * and key, the PSK, the pins, the RNG, one mbedtls_ssl_config, the session
 * saved for resumption, the counters and the last failure. Each connection
 * (the ctx that tls_wrap() returns) owns its mbedtls_ssl_context and its
 * socket.
 *
 * Verification is always on (MBEDTLS_SSL_VERIFY_REQUIRED): the chain must
 * lead to ca_file/ca_path and the certificate must name the server (DNS
 * SAN, or CN without SANs; an IP address target needs an IP SAN, checked
 * here because mbedTLS 2.28 does not). There is no way to turn this off.
 * With a PSK, only PSK cipher suites are offered and no certificate is
 * involved. TLS 1.2 only (mbedTLS 2.28).
 *
 * What is offered (docs/tls.md): only suites with ephemeral ECDH and an
 * AEAD cipher (ChaCha20-Poly1305, AES-GCM); with a PSK, ECDHE-PSK and PSK
 * suites with an AEAD cipher. No static RSA or ECDH, no CBC, no CCM_8.
 * Groups x25519, secp256r1, secp384r1; handshake signatures with SHA-256
 * and up; certificates checked against mbedTLS's "next" profile (SHA-256
 * and up, RSA 2048 bits and up, curves of 256 bits and up). option
 * tls_ciphers picks and orders suites from the same set, never beyond it.
 *
 * Secrets (the private key, the PSK) never appear in error texts.
 *
 * Ownership: struct tls owns its mbedTLS objects and copies of everything
 * it needs from struct tls_conf. A connection borrows its struct tls, so
 * the tls MUST outlive every connection made from it: close the link's
 * connection (link_drop() or link_free()) before tls_free().
 * Thread: main loop only. Nothing blocks: loading files happens in
 * tls_new() and tls_check_conf(), at startup or reload.
 */
#ifndef PUSHRELAY_TLS_H
#define PUSHRELAY_TLS_H

#include <stddef.h>
#include <stdint.h>

#include "platform/transport.h"

#define TLS_ALPN_MAX		8	/* protocols in the alpn list */
#define TLS_ALPN_LEN		255	/* longest protocol name */
#define TLS_PINS_MAX		8	/* entries in the pin_sha256 list */
#define TLS_CIPHERS_MAX		12	/* entries in the tls_ciphers list */
#define TLS_PSK_MAX		64	/* PSK bytes (128 hex digits) */
#define TLS_NAME_MAX		255	/* longest server_name or host */
#define TLS_ERR_MAX		320	/* enough for any error text here */
#define TLS_TIMEOUT_DEFAULT_S	15	/* handshake_timeout when 0 */
#define TLS_TIMEOUT_MAX_S	300

enum tls_err {
	TLS_OK = 0,
	TLS_ERR_CONF = -1,	/* a file, key, pin or value is bad; err says */
	TLS_ERR_NOMEM = -2,
	TLS_ERR_SYS = -3,	/* RNG seeding or a system call failed */
	TLS_ERR__COUNT = 4	/* number of codes, for the table */
};

/* The options of `config broker`, for tls_check_conf() reports. */
enum tls_option {
	TLS_OPT_NONE,		/* a problem of no single option */
	TLS_OPT_CA_FILE,
	TLS_OPT_CA_PATH,
	TLS_OPT_CERT_FILE,
	TLS_OPT_KEY_FILE,
	TLS_OPT_SERVER_NAME,
	TLS_OPT_ALPN,
	TLS_OPT_PSK_IDENTITY,
	TLS_OPT_PSK,
	TLS_OPT_PIN_SHA256,
	TLS_OPT_HANDSHAKE_TIMEOUT,
	TLS_OPT_CIPHERS,
	TLS_OPT__COUNT
};

/*
 * What tls_new() needs: values only, all borrowed for the call. A NULL or
 * empty string means "not set". Lists are arrays of n strings.
 */
struct tls_conf {
	const char *ca_file;		/* PEM/DER bundle of trusted CAs */
	const char *ca_path;		/* a directory of CA certificates */
	const char *cert_file;		/* client certificate (mutual TLS) */
	const char *key_file;		/* its key; needs cert_file */
	const char *server_name;	/* SNI and name to verify; default:
					   the target host */
	char *const *alpn;		/* ALPN protocols offered, in order */
	size_t n_alpn;
	const char *psk_identity;	/* PSK mode: both set, no cert/pins */
	const char *psk;		/* hex; a secret */
	char *const *pin_sha256;	/* base64 SHA-256 of the server's
					   SubjectPublicKeyInfo; any may match */
	size_t n_pin_sha256;
	int handshake_timeout_s;	/* 0: TLS_TIMEOUT_DEFAULT_S */
	char *const *ciphers;		/* suites to offer, in order, by IANA
					   or mbedTLS name; none: the
					   defaults of docs/tls.md */
	size_t n_ciphers;
};

/* Counters; tls_stats() copies them. Bytes are TLS records on the wire. */
struct tls_stats {
	uint64_t tx_bytes;		/* written to broker sockets */
	uint64_t rx_bytes;		/* read from broker sockets */
	uint64_t handshakes_full;
	uint64_t handshakes_resumed;
	uint64_t handshakes_failed;
};

struct tls;

/*
 * Problem report of tls_check_conf(): opt names the option, index the
 * list entry (alpn, pin_sha256; else 0), text is "tls: OPTION ...: why",
 * borrowed for the call, without secrets.
 */
typedef void (*tls_check_fn)(void *arg, enum tls_option opt, size_t index,
    const char *text);

/*
 * tls_check_conf: validate c without network and without seeding the RNG:
 * read and parse ca_file, ca_path, cert_file and key_file, check that the
 * key matches the certificate, decode the PSK and the pins, check the
 * combinations (PSK excludes cert_file and pins; certificate mode needs
 * ca_file or ca_path), the ranges, and that every tls_ciphers entry names
 * a suite this module offers in the mode configured (tls_suite_lookup()). Every problem goes to fn (may be
 * NULL), not only the first. c is borrowed. Returns the number of
 * problems (0: fine), or TLS_ERR_NOMEM. Reads files; never blocks
 * otherwise. This is what `pushrelay check` runs.
 */
int tls_check_conf(const struct tls_conf *c, tls_check_fn fn, void *arg);

/*
 * tls_new: load and check everything as tls_check_conf() does, seed a
 * CTR-DRBG from the entropy source and set up the client configuration.
 * c is borrowed (copied where needed). On success *out is the new tls
 * (free with tls_free()) and the return is TLS_OK. On error *out is NULL,
 * err (errlen bytes, TLS_ERR_MAX is enough; may be NULL) gets the first
 * problem, e.g. "tls: ca_file /x: cannot parse: X509 - ...", and the
 * return is TLS_ERR_CONF, TLS_ERR_NOMEM or TLS_ERR_SYS.
 */
int tls_new(struct tls **out, const struct tls_conf *c, char *err,
    size_t errlen);

/*
 * tls_free: free t and wipe its secrets and saved session. NULL is a
 * no-op. No connection made by tls_wrap() may still be open.
 */
void tls_free(struct tls *t);

/*
 * tls_wrap: makes a connection context on fd (connected, non-blocking;
 * taken over on success) for host (borrowed; the target host, used for SNI and
 * verification unless server_name is set). Offers the session saved from
 * the last successful handshake with the same host. The handshake itself
 * runs in ops->handshake (and in read/write, which return TRANSPORT_IO_AGAIN
 * until it is done); it fails after handshake_timeout. On success *ops and
 * *ctx are set and 0 is returned; on failure err gets "tls: why", fd is
 * left open for the caller and -1 is returned.
 */
int tls_wrap(void *arg, int fd, const char *host,
    const struct transport_ops **ops, void **ctx, char *err,
    size_t errlen);

/*
 * tls_last_error: the reason of the last failed handshake or session
 * ("tls handshake: untrusted issuer ...", "tls handshake: name mismatch:
 * expected 'x', presented DNS:y", ...); "" after a success. The string
 * belongs to t and changes with the next connection.
 */
const char *tls_last_error(const struct tls *t);

/* tls_stats: copy the counters into *out (caller-owned). */
void tls_stats(const struct tls *t, struct tls_stats *out);

/*
 * tls_conn_alpn: the ALPN protocol the server chose on connection ctx (a
 * ctx from tls_wrap(), still open), or NULL when none was negotiated or the
 * handshake is not done. The string belongs to the connection.
 */
const char *tls_conn_alpn(void *ctx);

/* tls_strerror: static text for a tls_err code. */
const char *tls_strerror(int err);

/* tls_option_name: the option's name as in the config ("ca_file"). */
const char *tls_option_name(enum tls_option opt);

/* What tls_suite_lookup() found for a name. */
enum tls_suite_verdict {
	TLS_SUITE_OK = 0,	/* offered in that mode; *id is set */
	TLS_SUITE_UNKNOWN,	/* no suite of that name in this mbedTLS */
	TLS_SUITE_WEAK,		/* a suite this module never offers */
	TLS_SUITE_OTHER_MODE,	/* offered, but only with(out) a PSK */
	TLS_SUITE_MISSING,	/* offered, but this mbedTLS lacks it */
};

/*
 * tls_suite_lookup: the suite name (borrowed; IANA "TLS_ECDHE_..." or
 * mbedTLS "TLS-ECDHE-..." spelling, any case) for PSK mode (psk 1) or
 * certificate mode (psk 0). On TLS_SUITE_OK *id is its IANA number.
 */
enum tls_suite_verdict tls_suite_lookup(const char *name, int psk, int *id);

/*
 * tls_default_suites: the suites offered by default in that mode and
 * available in this mbedTLS, in order of preference, into ids (cap
 * entries). Returns how many were written.
 */
size_t tls_default_suites(int psk, int *ids, size_t cap);


#ifdef TLS_INTERNAL
/* Shared by platform/tls.c and platform/tls_conn.c only. */
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#define TLS_SUITES_MAX	16

struct tls {
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_ssl_config conf;
	mbedtls_x509_crt ca;
	mbedtls_x509_crt cert;
	mbedtls_pk_context key;
	int have_ca;
	int have_cert;
	int psk_mode;
	int suites[TLS_SUITES_MAX];	/* offered, 0-ended */
	uint8_t psk[TLS_PSK_MAX];	/* until tls_setup() hands it over */
	size_t psk_len;
	char psk_identity[TLS_NAME_MAX + 1];
	uint8_t pins[TLS_PINS_MAX][32];
	size_t npins;
	char alpn_buf[TLS_ALPN_MAX][TLS_ALPN_LEN + 1];
	const char *alpn[TLS_ALPN_MAX + 1];	/* NULL-ended, for mbedTLS */
	char server_name[TLS_NAME_MAX + 1];	/* "" when not set */
	int64_t timeout_ms;
	mbedtls_ssl_session saved;	/* for resumption */
	int have_saved;
	char saved_host[TLS_NAME_MAX + 1];
	size_t nconn;			/* open connections */
	struct tls_stats stats;
	char last_error[TLS_ERR_MAX];
};

_Static_assert(TLS_SUITES_MAX > TLS_CIPHERS_MAX, "TLS_SUITES_MAX is too "
    "small for tls_ciphers");

/*
 * tls_suites_setup (tls_suites.c): on t->conf, offer t->suites (set by
 * tls_load) and restrict groups, handshake signature hashes and the
 * certificate profile as the header comment says. 0 or an mbedTLS error.
 */
int tls_suites_setup(struct tls *t);

/* tls_conn_ops: the transport operations of a connection. */
extern const struct transport_ops tls_conn_ops;

/*
 * tls_conn_new: the connection context for tls_wrap(); same contract.
 * On success *ctx is the connection.
 */
int tls_conn_new(struct tls *t, int fd, const char *host, void **ctx,
    char *err, size_t errlen);
#endif

#endif
