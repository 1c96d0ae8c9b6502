/* SPDX-License-Identifier: ISC */
/*
 * tls_suites: what the TLS client offers, and what option tls_ciphers may
 * choose (see tls.h and docs/tls.md).
 *
 * mbedTLS 2.28's defaults offer some 80 suites, static RSA and ECDH key
 * exchange, CBC with SHA-1 and CCM_8 among them, and groups down to
 * secp192r1; a broker (or whoever answers in its place) could pick any of
 * them. Here the client offers only suites with forward secrecy (ECDHE)
 * and an AEAD cipher with a full-length tag; in PSK mode ECDHE-PSK first,
 * then plain PSK, AEAD only. The lists are the policy: tls_ciphers can
 * pick and order from them but never add to them.
 *
 * Builds against mbedTLS 2.28 (Debian 12's and OpenWrt 23.05's) and 3.6
 * (OpenWrt 24.10's; `make MBEDTLS=3`). The TLS 1.3 suites are all AEAD
 * with ephemeral (EC)DH or a resumption PSK with it; they are offered in
 * certificate mode only, before the TLS 1.2 ones, and with 2.28 they are
 * known by name but "not available in this mbedTLS build".
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <mbedtls/ssl_ciphersuites.h>
#include <mbedtls/version.h>

#define TLS_INTERNAL
#include "platform/tls.h"

#if MBEDTLS_VERSION_NUMBER >= 0x03020000 && defined(MBEDTLS_SSL_PROTO_TLS1_3)
#define TLS_SUITES_TLS13	1
#else
#define TLS_SUITES_TLS13	0
#endif

/* The TLS 1.3 suites by IANA number, for builds whose headers lack them. */
#define TLS_SUITE13_AES_128_GCM_SHA256		0x1301
#define TLS_SUITE13_AES_256_GCM_SHA384		0x1302
#define TLS_SUITE13_CHACHA20_POLY1305_SHA256	0x1303
#define TLS_SUITE_IS13(id)	(((id) & 0xff00) == 0x1300)

struct tls_suite {
	int id;			/* IANA number, as mbedTLS names it */
	const char *name;	/* IANA name with '-' for '_' */
	int psk;		/* 1: PSK mode only; 0: certificate mode only */
};

/*
 * Everything ever offered, in order of preference within each mode.
 * ChaCha20-Poly1305 first: the gateways this runs on mostly lack AES
 * instructions, where it is faster than AES-GCM and has no table lookups
 * to time. ECDSA before RSA: smaller and faster handshakes.
 */
static const struct tls_suite tls_suites[] = {
	{ TLS_SUITE13_CHACHA20_POLY1305_SHA256,
	    "TLS-CHACHA20-POLY1305-SHA256", 0 },
	{ TLS_SUITE13_AES_128_GCM_SHA256, "TLS-AES-128-GCM-SHA256", 0 },
	{ TLS_SUITE13_AES_256_GCM_SHA384, "TLS-AES-256-GCM-SHA384", 0 },
	{ MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	    "TLS-ECDHE-ECDSA-WITH-CHACHA20-POLY1305-SHA256", 0 },
	{ MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	    "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256", 0 },
	{ MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	    "TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384", 0 },
	{ MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	    "TLS-ECDHE-RSA-WITH-CHACHA20-POLY1305-SHA256", 0 },
	{ MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	    "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256", 0 },
	{ MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	    "TLS-ECDHE-RSA-WITH-AES-256-GCM-SHA384", 0 },
	/*
	 * PSK: ephemeral ECDH first (forward secrecy). mbedTLS has no
	 * ECDHE-PSK suite with AES-GCM, so plain PSK follows.
	 */
	{ MBEDTLS_TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256,
	    "TLS-ECDHE-PSK-WITH-CHACHA20-POLY1305-SHA256", 1 },
	{ MBEDTLS_TLS_PSK_WITH_CHACHA20_POLY1305_SHA256,
	    "TLS-PSK-WITH-CHACHA20-POLY1305-SHA256", 1 },
	{ MBEDTLS_TLS_PSK_WITH_AES_128_GCM_SHA256,
	    "TLS-PSK-WITH-AES-128-GCM-SHA256", 1 },
	{ MBEDTLS_TLS_PSK_WITH_AES_256_GCM_SHA384,
	    "TLS-PSK-WITH-AES-256-GCM-SHA384", 1 },
};

#define TLS_SUITES_N	(sizeof(tls_suites) / sizeof(tls_suites[0]))
_Static_assert(TLS_SUITES_N < TLS_SUITES_MAX, "TLS_SUITES_MAX is too small");

#if MBEDTLS_VERSION_NUMBER >= 0x03020000
/* Key exchange groups, preferred first. */
static const uint16_t tls_groups[] = {
	MBEDTLS_SSL_IANA_TLS_GROUP_X25519,
	MBEDTLS_SSL_IANA_TLS_GROUP_SECP256R1,
	MBEDTLS_SSL_IANA_TLS_GROUP_SECP384R1,
	MBEDTLS_SSL_IANA_TLS_GROUP_NONE
};

/*
 * Handshake signatures: SHA-256 and up. RSA PKCS#1 v1.5 before RSA-PSS:
 * mbedTLS 3.6 offers RSA-PSS (TLS 1.3 needs it) in the one list both
 * versions share, but its TLS 1.2 client cannot verify a PSS-signed
 * ServerKeyExchange and aborts with illegal_parameter (seen with OpenSSL
 * 3.0 s_server -tls1_2 and an RSA key, which follows the client's order).
 * TLS 1.3 never uses PKCS#1 v1.5 for the handshake, so there PSS still
 * applies.
 */
static const uint16_t tls_sig_algs[] = {
	MBEDTLS_TLS1_3_SIG_ECDSA_SECP256R1_SHA256,
	MBEDTLS_TLS1_3_SIG_ECDSA_SECP384R1_SHA384,
	MBEDTLS_TLS1_3_SIG_ECDSA_SECP521R1_SHA512,
	MBEDTLS_TLS1_3_SIG_RSA_PKCS1_SHA256,
	MBEDTLS_TLS1_3_SIG_RSA_PKCS1_SHA384,
	MBEDTLS_TLS1_3_SIG_RSA_PKCS1_SHA512,
	MBEDTLS_TLS1_3_SIG_RSA_PSS_RSAE_SHA256,
	MBEDTLS_TLS1_3_SIG_RSA_PSS_RSAE_SHA384,
	MBEDTLS_TLS1_3_SIG_RSA_PSS_RSAE_SHA512,
	MBEDTLS_TLS1_3_SIG_NONE
};
#else
/* Key exchange groups, preferred first. */
static const mbedtls_ecp_group_id tls_groups[] = {
	MBEDTLS_ECP_DP_CURVE25519,
	MBEDTLS_ECP_DP_SECP256R1,
	MBEDTLS_ECP_DP_SECP384R1,
	MBEDTLS_ECP_DP_NONE
};

/* Handshake signatures: SHA-256 and up. */
static const int tls_sig_hashes[] = {
	MBEDTLS_MD_SHA512,
	MBEDTLS_MD_SHA384,
	MBEDTLS_MD_SHA256,
	MBEDTLS_MD_NONE
};
#endif

/*
 * name in the table's spelling: upper case, '-' for '_', and mbedTLS
 * 3.x's "TLS1-3-" prefix of TLS 1.3 suites as IANA's plain "TLS-".
 * Returns 0, or -1 when it does not fit.
 */
static int
tls_suite_canon(const char *name, char *out, size_t cap)
{
	size_t i, n = strlen(name);

	if (n >= cap)
		return -1;
	for (i = 0; i <= n; i++)
		out[i] = name[i] == '_' ? '-' :
		    (char)toupper((unsigned char)name[i]);
	if (strncmp(out, "TLS1-3-", 7) == 0)
		memmove(out + 3, out + 6, n - 6 + 1);
	return 0;
}

/* Whether this mbedTLS knows the suite (it may be compiled out). */
static int
tls_suite_available(int id)
{
	return mbedtls_ssl_ciphersuite_from_id(id) != NULL;
}

enum tls_suite_verdict
tls_suite_lookup(const char *name, int psk, int *id)
{
	char canon[128];
	size_t i;

	if (tls_suite_canon(name, canon, sizeof(canon)) != 0)
		return TLS_SUITE_UNKNOWN;
	for (i = 0; i < TLS_SUITES_N; i++) {
		if (strcmp(tls_suites[i].name, canon) != 0)
			continue;
		if (tls_suites[i].psk != psk)
			return TLS_SUITE_OTHER_MODE;
		if (!tls_suite_available(tls_suites[i].id))
			return TLS_SUITE_MISSING;
		*id = tls_suites[i].id;
		return TLS_SUITE_OK;
	}
	/* mbedTLS spells its own names with '-' too; 1.3 ones "TLS1-3-". */
	if (mbedtls_ssl_get_ciphersuite_id(canon) != 0)
		return TLS_SUITE_WEAK;
	if (strncmp(canon, "TLS-", 4) == 0 && strlen(canon) + 3 < sizeof(canon)) {
		memmove(canon + 6, canon + 3, strlen(canon + 3) + 1);
		memcpy(canon + 3, "1-3", 3);
		if (mbedtls_ssl_get_ciphersuite_id(canon) != 0)
			return TLS_SUITE_WEAK;
	}
	return TLS_SUITE_UNKNOWN;
}

size_t
tls_default_suites(int psk, int *ids, size_t cap)
{
	size_t i, n = 0;

	for (i = 0; i < TLS_SUITES_N && n < cap; i++)
		if (tls_suites[i].psk == psk &&
		    tls_suite_available(tls_suites[i].id))
			ids[n++] = tls_suites[i].id;
	return n;
}

#if MBEDTLS_VERSION_NUMBER >= 0x03020000
/*
 * The versions: 1.2, and 1.3 too when a 1.3 suite is offered (never with
 * a PSK, whose suites are TLS 1.2 ones); 1.3 alone when tls_ciphers names
 * only 1.3 suites. With 1.3, resumption always adds a fresh ECDHE
 * (psk_dhe_ke, forward secrecy), and NewSessionTickets are taken: mbedTLS
 * 3.6 ignores them unless asked.
 */
static void
tls_suites_versions(struct tls *t)
{
	size_t i, n13 = 0;

	for (i = 0; t->suites[i] != 0; i++)
		n13 += TLS_SUITE_IS13(t->suites[i]);
	mbedtls_ssl_conf_min_tls_version(&t->conf, n13 > 0 && n13 == i ?
	    MBEDTLS_SSL_VERSION_TLS1_3 : MBEDTLS_SSL_VERSION_TLS1_2);
	mbedtls_ssl_conf_max_tls_version(&t->conf, n13 > 0 && !t->psk_mode ?
	    MBEDTLS_SSL_VERSION_TLS1_3 : MBEDTLS_SSL_VERSION_TLS1_2);
#if TLS_SUITES_TLS13
	mbedtls_ssl_conf_tls13_key_exchange_modes(&t->conf,
	    MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_EPHEMERAL_ALL);
#if defined(MBEDTLS_SSL_SESSION_TICKETS)
	mbedtls_ssl_conf_tls13_enable_signal_new_session_tickets(&t->conf,
	    MBEDTLS_SSL_TLS1_3_SIGNAL_NEW_SESSION_TICKETS_ENABLED);
#endif
#endif
}
#endif

int
tls_suites_setup(struct tls *t)
{
	mbedtls_ssl_conf_ciphersuites(&t->conf, t->suites);
	mbedtls_ssl_conf_cert_profile(&t->conf, &mbedtls_x509_crt_profile_next);
#if MBEDTLS_VERSION_NUMBER >= 0x03020000
	mbedtls_ssl_conf_groups(&t->conf, tls_groups);
	mbedtls_ssl_conf_sig_algs(&t->conf, tls_sig_algs);
	tls_suites_versions(t);
#else
	mbedtls_ssl_conf_curves(&t->conf, tls_groups);
	mbedtls_ssl_conf_sig_hashes(&t->conf, tls_sig_hashes);
	mbedtls_ssl_conf_min_version(&t->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
	    MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_max_version(&t->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
	    MBEDTLS_SSL_MINOR_VERSION_3);
#endif
	return 0;
}
