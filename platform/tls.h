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
 * here because mbedTLS does not). There is no way to turn this off.
 * With a PSK, only PSK cipher suites are offered and no certificate is
 * involved.
 *
 * Builds against mbedTLS 2.28 (Debian 12, OpenWrt 23.05) and 3.6 (OpenWrt
 * 24.10 and later), chosen by MBEDTLS_VERSION_NUMBER; only public API on
 * both. With 2.28: TLS 1.2. With 3.6: TLS 1.3 and 1.2 in certificate mode
 * (1.3 preferred), TLS 1.2 with a PSK; PSA Crypto is initialised by
 * tls_new() and tls_check_conf(). TLS 1.3 session tickets arrive after the
 * handshake and are taken by tls_conn read. In TLS 1.3 the server judges
 * the client's certificate after the client has finished its handshake, so
 * a refusal (a missing client certificate) shows on the first read as a
 * failed handshake ("tls handshake: refused by the server ..."), and the
 * handshake counts as full or resumed only once the server has sent
 * something (docs/tls.md).
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
 * tls_check_conf: validate c without network and without seeding the
 * CTR-DRBG (with mbedTLS 3.x it initialises PSA Crypto, whose RNG the key
 * parsing needs):
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

/*
 * tls_conn_version: the protocol version of connection ctx (a ctx from
 * tls_wrap(), still open) as mbedTLS names it ("TLSv1.2", "TLSv1.3"), or
 * NULL when the handshake is not done. The string is static.
 */
const char *tls_conn_version(void *ctx);

/*
 * tls_library_version: the mbedTLS this was built against, e.g. "Mbed TLS
 * 3.6.6" (static).
 */
const char *tls_library_version(void);

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
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>

/* 1 when built against mbedTLS 3.x (3.6 is what is tested). */
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#define TLS_MBEDTLS3	1
#else
#define TLS_MBEDTLS3	0
#endif
#if TLS_MBEDTLS3 && MBEDTLS_VERSION_NUMBER < 0x03020000
#error "mbedTLS 3.0 and 3.1 lack the API used here: use 2.28 or 3.2 and up"
#endif

#define TLS_SUITES_MAX	16
#define TLS_MASTER_LEN	48	/* a TLS 1.2 master secret */

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
#if TLS_MBEDTLS3
	/* saved's TLS 1.2 master secret, to tell a resumption (a secret) */
	unsigned char saved_master[TLS_MASTER_LEN];
	int have_saved_master;
#endif
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
 * certificate profile as the header comment says; set the TLS versions
 * (1.2; with 3.x also 1.3 when t->suites holds a TLS 1.3 suite, and 1.3
 * only when it holds nothing else). 0 or an mbedTLS error.
 */
int tls_suites_setup(struct tls *t);

#define TLS_DN_MAX	128	/* a DN in a reason */

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
	uint8_t spki[32];		/* SHA-256 of the leaf's key, for pins */
	int have_spki;
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

/*
 * tls_reason_verify (tls_reason.c): the mbedtls_ssl_set_verify()
 * callback; arg is the struct tls_conn. Notes what the reason needs in
 * c->seen and, for an address target, checks the IP SANs. Returns 0.
 */
int tls_reason_verify(void *arg, mbedtls_x509_crt *crt, int depth,
    uint32_t *flags);

/*
 * tls_reason_handshake (tls_reason.c): the one reason for the mbedTLS
 * error ret of connection c, into buf (cap bytes). Returns whether the
 * saved session should be forgotten (the server's identity is in
 * question, not the network).
 */
int tls_reason_handshake(struct tls_conn *c, int ret, char *buf, size_t cap);

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
