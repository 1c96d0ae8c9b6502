/* SPDX-License-Identifier: ISC */
/*
 * tls: loading and checking the TLS configuration of a link, and what its
 * connections share (see tls.h). The connections themselves are in
 * platform/tls_conn.c.
 */
#include <sys/stat.h>

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/base64.h>
#include <mbedtls/error.h>
#include <mbedtls/platform_util.h>

#define TLS_INTERNAL
#include "platform/tls.h"

#if TLS_MBEDTLS3
#include <mbedtls/psa_util.h>
#include <psa/crypto.h>
#endif

static const char *const tls_errstr[] = {
	[0] = "success",
	[-TLS_ERR_CONF] = "bad TLS configuration",
	[-TLS_ERR_NOMEM] = "out of memory",
	[-TLS_ERR_SYS] = "system error",
};
_Static_assert(sizeof(tls_errstr) / sizeof(tls_errstr[0]) ==
    TLS_ERR__COUNT, "tls_errstr does not match enum tls_err");

static const char *const tls_optname[] = {
	[TLS_OPT_NONE] = "tls",
	[TLS_OPT_CA_FILE] = "ca_file",
	[TLS_OPT_CA_PATH] = "ca_path",
	[TLS_OPT_CERT_FILE] = "cert_file",
	[TLS_OPT_KEY_FILE] = "key_file",
	[TLS_OPT_SERVER_NAME] = "server_name",
	[TLS_OPT_ALPN] = "alpn",
	[TLS_OPT_PSK_IDENTITY] = "psk_identity",
	[TLS_OPT_PSK] = "psk",
	[TLS_OPT_PIN_SHA256] = "pin_sha256",
	[TLS_OPT_HANDSHAKE_TIMEOUT] = "handshake_timeout",
	[TLS_OPT_CIPHERS] = "tls_ciphers",
};
_Static_assert(sizeof(tls_optname) / sizeof(tls_optname[0]) ==
    TLS_OPT__COUNT, "tls_optname does not match enum tls_option");

/* Where problems go while loading: a callback, and the count. */
struct tls_report {
	tls_check_fn fn;
	void *arg;
	int count;
};

static void __attribute__((format(printf, 4, 5)))
tls_problem(struct tls_report *r, enum tls_option opt, size_t index,
    const char *fmt, ...)
{
	char text[TLS_ERR_MAX];
	va_list ap;

	r->count++;
	if (r->fn == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	r->fn(r->arg, opt, index, text);
}

static int
tls_set(const char *s)
{
	return s != NULL && s[0] != '\0';
}

/* Report a failed mbedTLS call on a file: "tls: OPT PATH: what: why". */
static void
tls_file_problem(struct tls_report *r, enum tls_option opt,
    const char *path, const char *what, int ret)
{
	char why[160];

	mbedtls_strerror(ret, why, sizeof(why));
	tls_problem(r, opt, 0, "tls: %s %s: %s: %s", tls_optname[opt], path,
	    what, why);
}

/*
 * mbedtls_x509_crt_parse_path, read with our own readdir: a 32-bit build
 * of mbedTLS without large-file offsets (Debian's armhf before 13) gets
 * EOVERFLOW from readdir on a 64-bit kernel's ext4 or overlay directory
 * and stops after no file at all (armhf userlands on 64-bit kernels, and
 * qemu-user). Regular files (after links) are parsed; the others and the
 * files mbedTLS cannot parse are skipped, as mbedTLS does. 0, or -1 with
 * errno when the directory cannot be read.
 */
static int
tls_parse_dir(mbedtls_x509_crt *ca, const char *dir)
{
	char path[PATH_MAX];
	struct dirent *e;
	struct stat st;
	DIR *d;
	int n;

	if ((d = opendir(dir)) == NULL)
		return -1;
	errno = 0;
	while ((e = readdir(d)) != NULL) {
		n = snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (n > 0 && (size_t)n < sizeof(path) && stat(path, &st) == 0 &&
		    S_ISREG(st.st_mode))
			(void)mbedtls_x509_crt_parse_file(ca, path);
		errno = 0;
	}
	n = errno;
	closedir(d);
	errno = n;
	return n != 0 ? -1 : 0;
}

/*
 * Load the trust anchors. A bundle may hold certificates that mbedTLS
 * cannot parse (a positive return counts them); those are skipped as
 * long as at least one certificate loaded.
 */
static void
tls_load_ca(struct tls *t, const struct tls_conf *c, struct tls_report *r)
{
	int ret;

	if (tls_set(c->ca_file)) {
		ret = mbedtls_x509_crt_parse_file(&t->ca, c->ca_file);
		if (ret < 0)
			tls_file_problem(r, TLS_OPT_CA_FILE, c->ca_file,
			    "cannot parse", ret);
		else
			t->have_ca = 1;
	}
	if (tls_set(c->ca_path)) {
		if (tls_parse_dir(&t->ca, c->ca_path) != 0)
			tls_problem(r, TLS_OPT_CA_PATH, 0, "tls: %s %s: cannot "
			    "read: %s", tls_optname[TLS_OPT_CA_PATH],
			    c->ca_path, strerror(errno));
		else
			t->have_ca = 1;
	}
	if (t->have_ca && t->ca.raw.len == 0) {
		t->have_ca = 0;
		tls_problem(r, tls_set(c->ca_file) ? TLS_OPT_CA_FILE :
		    TLS_OPT_CA_PATH, 0, "tls: %s: no usable certificate",
		    tls_set(c->ca_file) ? c->ca_file : c->ca_path);
	}
	if (!t->psk_mode && !tls_set(c->ca_file) && !tls_set(c->ca_path))
		tls_problem(r, TLS_OPT_CA_FILE, 0, "tls: ca_file: not set: "
		    "verifying the broker needs ca_file or ca_path");
}

/* Load the client certificate and its key; check that they match. */
static void
tls_load_cert(struct tls *t, const struct tls_conf *c, struct tls_report *r)
{
	int ret, have_key = 0;

	if (tls_set(c->cert_file) != tls_set(c->key_file)) {
		tls_problem(r, tls_set(c->cert_file) ? TLS_OPT_KEY_FILE :
		    TLS_OPT_CERT_FILE, 0, "tls: cert_file and key_file: "
		    "set both or neither");
		return;
	}
	if (!tls_set(c->cert_file))
		return;
	if ((ret = mbedtls_x509_crt_parse_file(&t->cert, c->cert_file)) != 0)
		tls_file_problem(r, TLS_OPT_CERT_FILE, c->cert_file,
		    "cannot parse", ret);
	else
		t->have_cert = 1;
	/*
	 * mbedTLS's texts for key errors never quote the key. 3.x wants an
	 * RNG for the blinding of EC operations: PSA's (tls_crypto_init()).
	 */
#if TLS_MBEDTLS3
	ret = mbedtls_pk_parse_keyfile(&t->key, c->key_file, NULL,
	    mbedtls_psa_get_random, MBEDTLS_PSA_RANDOM_STATE);
#else
	ret = mbedtls_pk_parse_keyfile(&t->key, c->key_file, NULL);
#endif
	if (ret != 0)
		tls_file_problem(r, TLS_OPT_KEY_FILE, c->key_file,
		    "cannot parse", ret);
	else
		have_key = 1;
#if TLS_MBEDTLS3
	if (t->have_cert && have_key)
		ret = mbedtls_pk_check_pair(&t->cert.pk, &t->key,
		    mbedtls_psa_get_random, MBEDTLS_PSA_RANDOM_STATE);
#else
	if (t->have_cert && have_key)
		ret = mbedtls_pk_check_pair(&t->cert.pk, &t->key);
#endif
	if (t->have_cert && have_key && ret != 0) {
		tls_problem(r, TLS_OPT_KEY_FILE, 0, "tls: key_file %s: does not "
		    "match cert_file %s", c->key_file, c->cert_file);
		t->have_cert = 0;
	}
	if (!have_key)
		t->have_cert = 0;
}

static int
tls_hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/*
 * Decode the hex PSK into key (TLS_PSK_MAX bytes); *len gets its length.
 * Returns 0, or -1 with a problem reported that never quotes the value.
 */
static int
tls_psk_decode(const char *hex, uint8_t *key, size_t *len,
    struct tls_report *r)
{
	size_t n = strlen(hex), i;
	int hi, lo;

	if (n % 2 != 0 || n / 2 > TLS_PSK_MAX || n == 0) {
		tls_problem(r, TLS_OPT_PSK, 0, "tls: psk: must be 2 to %d hex "
		    "digits, an even number", 2 * TLS_PSK_MAX);
		return -1;
	}
	for (i = 0; i < n / 2; i++) {
		hi = tls_hexval(hex[2 * i]);
		lo = tls_hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			tls_problem(r, TLS_OPT_PSK, 0, "tls: psk: not a hex "
			    "string");
			return -1;
		}
		key[i] = (uint8_t)(hi << 4 | lo);
	}
	*len = n / 2;
	return 0;
}

/* Check the PSK options and keep the key for tls_setup(). */
static void
tls_load_psk(struct tls *t, const struct tls_conf *c, struct tls_report *r)
{
	if (tls_set(c->psk) != tls_set(c->psk_identity)) {
		tls_problem(r, tls_set(c->psk) ? TLS_OPT_PSK_IDENTITY :
		    TLS_OPT_PSK, 0, "tls: psk and psk_identity: set both or "
		    "neither");
		return;
	}
	if (!t->psk_mode)
		return;
	if (tls_set(c->cert_file))
		tls_problem(r, TLS_OPT_CERT_FILE, 0, "tls: cert_file: not "
		    "used with psk; remove one of them");
	if (c->n_pin_sha256 > 0)
		tls_problem(r, TLS_OPT_PIN_SHA256, 0, "tls: pin_sha256: a psk "
		    "session has no server key to pin; remove one of them");
	if (strlen(c->psk_identity) > TLS_NAME_MAX)
		tls_problem(r, TLS_OPT_PSK_IDENTITY, 0, "tls: psk_identity: "
		    "longer than %d bytes", TLS_NAME_MAX);
	else
		memcpy(t->psk_identity, c->psk_identity,
		    strlen(c->psk_identity) + 1);
	(void)tls_psk_decode(c->psk, t->psk, &t->psk_len, r);
}

/* Decode the pins: each is base64 of exactly 32 bytes. */
static void
tls_load_pins(struct tls *t, const struct tls_conf *c, struct tls_report *r)
{
	size_t i, olen;
	uint8_t buf[48];
	const char *p;

	if (c->n_pin_sha256 > TLS_PINS_MAX) {
		tls_problem(r, TLS_OPT_PIN_SHA256, TLS_PINS_MAX, "tls: "
		    "pin_sha256: more than %d pins", TLS_PINS_MAX);
		return;
	}
	for (i = 0; i < c->n_pin_sha256; i++) {
		p = c->pin_sha256[i];
		if (strncmp(p, "sha256//", 8) == 0)
			p += 8;	/* the HPKP/curl spelling */
		if (mbedtls_base64_decode(buf, sizeof(buf), &olen,
		    (const unsigned char *)p, strlen(p)) != 0 || olen != 32) {
			tls_problem(r, TLS_OPT_PIN_SHA256, i, "tls: pin_sha256 "
			    "'%.64s': not the base64 of a SHA-256 digest",
			    c->pin_sha256[i]);
			continue;
		}
		memcpy(t->pins[t->npins++], buf, 32);
	}
}

/* Copy the ALPN list, the server name and the timeout. */
static void
tls_load_values(struct tls *t, const struct tls_conf *c,
    struct tls_report *r)
{
	size_t i, len;

	if (c->n_alpn > TLS_ALPN_MAX)
		tls_problem(r, TLS_OPT_ALPN, TLS_ALPN_MAX, "tls: alpn: more "
		    "than %d protocols", TLS_ALPN_MAX);
	for (i = 0; i < c->n_alpn && i < TLS_ALPN_MAX; i++) {
		len = strlen(c->alpn[i]);
		if (len == 0 || len > TLS_ALPN_LEN) {
			tls_problem(r, TLS_OPT_ALPN, i, "tls: alpn: a protocol "
			    "name has 1 to %d bytes", TLS_ALPN_LEN);
			continue;
		}
		memcpy(t->alpn_buf[i], c->alpn[i], len + 1);
		t->alpn[i] = t->alpn_buf[i];
	}
	if (tls_set(c->server_name)) {
		if (strlen(c->server_name) > TLS_NAME_MAX ||
		    strpbrk(c->server_name, " \t/:") != NULL)
			tls_problem(r, TLS_OPT_SERVER_NAME, 0, "tls: server_name "
			    "'%.64s': not a host name or address",
			    c->server_name);
		else
			snprintf(t->server_name, sizeof(t->server_name), "%s",
			    c->server_name);
	}
	if (c->handshake_timeout_s < 0 ||
	    c->handshake_timeout_s > TLS_TIMEOUT_MAX_S)
		tls_problem(r, TLS_OPT_HANDSHAKE_TIMEOUT, 0, "tls: "
		    "handshake_timeout: %d is out of range 1-%d",
		    c->handshake_timeout_s, TLS_TIMEOUT_MAX_S);
	t->timeout_ms = 1000 * (int64_t)(c->handshake_timeout_s > 0 ?
	    c->handshake_timeout_s : TLS_TIMEOUT_DEFAULT_S);
}

/*
 * The suites to offer into t->suites: tls_ciphers when set (each entry
 * must be one this module offers in the mode configured), else the
 * defaults (tls_suites.c).
 */
static void
tls_load_suites(struct tls *t, const struct tls_conf *c,
    struct tls_report *r)
{
	static const char *const why[] = {
		[TLS_SUITE_UNKNOWN] = "unknown cipher suite (use its IANA or "
		    "mbedTLS name)",
		[TLS_SUITE_WEAK] = "refused: not one of the suites offered "
		    "(ECDHE or PSK with ChaCha20-Poly1305 or AES-GCM; "
		    "docs/tls.md)",
		[TLS_SUITE_MISSING] = "not available in this mbedTLS build",
	};
	size_t i, n = 0;
	int id;
	enum tls_suite_verdict v;

	if (c->n_ciphers > TLS_CIPHERS_MAX)
		tls_problem(r, TLS_OPT_CIPHERS, TLS_CIPHERS_MAX, "tls: "
		    "tls_ciphers: more than %d suites", TLS_CIPHERS_MAX);
	for (i = 0; i < c->n_ciphers && i < TLS_CIPHERS_MAX; i++) {
		v = tls_suite_lookup(c->ciphers[i], t->psk_mode, &id);
		if (v == TLS_SUITE_OK)
			t->suites[n++] = id;
		else if (v == TLS_SUITE_OTHER_MODE)
			tls_problem(r, TLS_OPT_CIPHERS, i, "tls: tls_ciphers "
			    "'%.64s': %s", c->ciphers[i], t->psk_mode ?
			    "not a PSK suite, and psk is set" :
			    "a PSK suite, and no psk is set");
		else
			tls_problem(r, TLS_OPT_CIPHERS, i, "tls: tls_ciphers "
			    "'%.64s': %s", c->ciphers[i], why[v]);
	}
	if (c->n_ciphers == 0)
		n = tls_default_suites(t->psk_mode, t->suites,
		    TLS_SUITES_MAX - 1);
	t->suites[n] = 0;
}

/* Make an empty struct tls: every mbedTLS object initialised. */
static struct tls *
tls_alloc(void)
{
	struct tls *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	mbedtls_entropy_init(&t->entropy);
	mbedtls_ctr_drbg_init(&t->drbg);
	mbedtls_ssl_config_init(&t->conf);
	mbedtls_x509_crt_init(&t->ca);
	mbedtls_x509_crt_init(&t->cert);
	mbedtls_pk_init(&t->key);
	mbedtls_ssl_session_init(&t->saved);
	return t;
}

/*
 * mbedTLS 3.x: PSA Crypto must be initialised before any TLS 1.3
 * handshake and before the PSA RNG serves key parsing. Repeated calls are
 * cheap no-ops; the state is process-wide and lives until exit.
 */
static void
tls_crypto_init(struct tls_report *r)
{
#if TLS_MBEDTLS3
	psa_status_t st;

	if ((st = psa_crypto_init()) != PSA_SUCCESS)
		tls_problem(r, TLS_OPT_NONE, 0, "tls: psa_crypto_init: "
		    "failed with PSA status %d", (int)st);
#else
	(void)r;
#endif
}

/* Load everything from c into t, reporting each problem through r. */
static void
tls_load(struct tls *t, const struct tls_conf *c, struct tls_report *r)
{
	tls_crypto_init(r);
	t->psk_mode = tls_set(c->psk) && tls_set(c->psk_identity);
	tls_load_values(t, c, r);
	tls_load_psk(t, c, r);
	tls_load_suites(t, c, r);
	if (!t->psk_mode) {
		tls_load_ca(t, c, r);
		tls_load_cert(t, c, r);
		tls_load_pins(t, c, r);
	}
}

int
tls_check_conf(const struct tls_conf *c, tls_check_fn fn, void *arg)
{
	struct tls_report r = { fn, arg, 0 };
	struct tls *t;

	if ((t = tls_alloc()) == NULL)
		return TLS_ERR_NOMEM;
	tls_load(t, c, &r);
	tls_free(t);
	return r.count;
}

/* tls_new's report: keep the first problem's text. */
static void
tls_first_problem(void *arg, enum tls_option opt, size_t index,
    const char *text)
{
	char *first = arg;

	(void)opt;
	(void)index;
	if (first[0] == '\0')
		snprintf(first, TLS_ERR_MAX, "%s", text);
}

/* The mbedTLS client configuration; 0 or an mbedTLS error. */
static int
tls_setup(struct tls *t)
{
	static const char pers[] = "pushrelay tls";
	int ret;

	if ((ret = mbedtls_ctr_drbg_seed(&t->drbg, mbedtls_entropy_func,
	    &t->entropy, (const unsigned char *)pers, sizeof(pers) - 1)) != 0)
		return ret;
	if ((ret = mbedtls_ssl_config_defaults(&t->conf, MBEDTLS_SSL_IS_CLIENT,
	    MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT)) != 0)
		return ret;
	mbedtls_ssl_conf_rng(&t->conf, mbedtls_ctr_drbg_random, &t->drbg);
	/* Always: there is deliberately no way to lower this. */
	mbedtls_ssl_conf_authmode(&t->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	/* The TLS versions are set with the suites (tls_suites_setup). */
	mbedtls_ssl_conf_session_tickets(&t->conf,
	    MBEDTLS_SSL_SESSION_TICKETS_ENABLED);
	if (t->have_ca)
		mbedtls_ssl_conf_ca_chain(&t->conf, &t->ca, NULL);
	if (t->have_cert &&
	    (ret = mbedtls_ssl_conf_own_cert(&t->conf, &t->cert, &t->key)) != 0)
		return ret;
	if (t->psk_mode) {
		/* mbedTLS copies the key and wipes its copy when freed. */
		if ((ret = mbedtls_ssl_conf_psk(&t->conf, t->psk, t->psk_len,
		    (const unsigned char *)t->psk_identity,
		    strlen(t->psk_identity))) != 0)
			return ret;
		mbedtls_platform_zeroize(t->psk, sizeof(t->psk));
	}
	if ((ret = tls_suites_setup(t)) != 0)
		return ret;
	if (t->alpn[0] != NULL &&
	    (ret = mbedtls_ssl_conf_alpn_protocols(&t->conf, t->alpn)) != 0)
		return ret;
	return 0;
}

int
tls_new(struct tls **out, const struct tls_conf *c, char *err,
    size_t errlen)
{
	char first[TLS_ERR_MAX] = "";
	struct tls_report r = { tls_first_problem, first, 0 };
	char why[160];
	struct tls *t;
	int ret;

	*out = NULL;
	if ((t = tls_alloc()) == NULL) {
		if (err != NULL)
			snprintf(err, errlen, "tls: out of memory");
		return TLS_ERR_NOMEM;
	}
	tls_load(t, c, &r);
	if (r.count > 0) {
		if (err != NULL)
			snprintf(err, errlen, "%s", first);
		tls_free(t);
		return TLS_ERR_CONF;
	}
	if ((ret = tls_setup(t)) != 0) {
		mbedtls_strerror(ret, why, sizeof(why));
		if (err != NULL)
			snprintf(err, errlen, "tls: setup: %s", why);
		tls_free(t);
		return ret == MBEDTLS_ERR_SSL_ALLOC_FAILED ? TLS_ERR_NOMEM :
		    TLS_ERR_SYS;
	}
	*out = t;
	return TLS_OK;
}

void
tls_free(struct tls *t)
{
	if (t == NULL)
		return;
	assert(t->nconn == 0);	/* connections borrow t */
	mbedtls_ssl_session_free(&t->saved);	/* t is wiped below */
	mbedtls_ssl_config_free(&t->conf);	/* wipes the PSK */
	mbedtls_pk_free(&t->key);
	mbedtls_x509_crt_free(&t->cert);
	mbedtls_x509_crt_free(&t->ca);
	mbedtls_ctr_drbg_free(&t->drbg);
	mbedtls_entropy_free(&t->entropy);
	mbedtls_platform_zeroize(t, sizeof(*t));
	free(t);
}

int
tls_wrap(void *arg, int fd, const char *host,
    const struct transport_ops **ops, void **ctx, char *err,
    size_t errlen)
{
	struct tls *t = arg;

	if (tls_conn_new(t, fd, host, ctx, err, errlen) != 0)
		return -1;
	*ops = &tls_conn_ops;
	return 0;
}

const char *
tls_last_error(const struct tls *t)
{
	return t->last_error;
}

void
tls_stats(const struct tls *t, struct tls_stats *out)
{
	*out = t->stats;
}

const char *
tls_strerror(int err)
{
	if (err > 0 || -err >= TLS_ERR__COUNT)
		return "unknown tls error";
	return tls_errstr[-err];
}

const char *
tls_option_name(enum tls_option opt)
{
	if ((unsigned)opt >= TLS_OPT__COUNT)
		return "?";
	return tls_optname[opt];
}

const char *
tls_library_version(void)
{
	return MBEDTLS_VERSION_STRING_FULL;
}
