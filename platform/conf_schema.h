/* SPDX-License-Identifier: ISC */
/*
 * conf_schema: what platform/conf.c (the relay's file) and
 * platform/conf_unpack.c (the unpacker's file) share to write their policy
 * tables: row macros, the broker and TLS rows, the enum names, and two
 * checks. Internal to platform/conf*.c; nothing else includes it.
 *
 * The broker rows take the struct they fill and the member path of the
 * struct conf_broker inside it ("" for a struct conf_broker itself,
 * "central." for the unpacker's struct conf), so one section can hold a
 * broker's options beside others.
 */
#ifndef PUSHRELAY_CONF_SCHEMA_H
#define PUSHRELAY_CONF_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "confval.h"
#include "uci.h"

_Static_assert(sizeof(enum conf_store_full) == sizeof(int) &&
    sizeof(enum conf_sync) == sizeof(int) &&
    sizeof(enum conf_mode) == sizeof(int) &&
    sizeof(enum conf_log_level) == sizeof(int),
    "enum fields are stored through int");

#define KIB	UINT64_C(1024)
#define GIB	(KIB * KIB * KIB)
#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

#define STR(n, t, st, f, d, fl) { .name = (n), .type = (t), \
	.kind = CONFVAL_K_STR, .off = offsetof(st, f), .def = (d), \
	.flags = (fl) }
#define NUM(n, t, k, st, f, d, lo, hi) { .name = (n), .type = (t), \
	.kind = (k), .off = offsetof(st, f), .def = (d), .min = (lo), \
	.max = (hi) }
#define ENUM(n, st, f, d, w, r) { .name = (n), .type = CONFVAL_ENUM, \
	.kind = CONFVAL_K_INT, .off = offsetof(st, f), .def = (d), \
	.names = (w), .refuse = (r) }
#define STRV(n, t, st, f, nf, d, fl) { .name = (n), .type = (t), \
	.kind = CONFVAL_K_STRV, .off = offsetof(st, f), \
	.count_off = offsetof(st, nf), .def = (d), .flags = (fl) }

/* A broker's address list (m: the member path, see above). */
#define BROKER_ADDR(st, m, d, fl) STRV("address", CONFVAL_ADDRESS, st, \
	m address, m n_address, d, fl)

/* The rows every broker has; they differ in defaults only. */
#define BROKER_ROWS(st, m, client_def, keepalive_def, inflight_def, \
    packet_def) \
	STR("client_id", CONFVAL_CLIENT_ID, st, m client_id, client_def, 0), \
	STR("username", CONFVAL_STRING, st, m username, "", 0), \
	STR("password", CONFVAL_STRING, st, m password, "", \
	    CONFVAL_F_SECRET), \
	NUM("keepalive", CONFVAL_UINT, CONFVAL_K_INT, st, m keepalive, \
	    keepalive_def, 5, 65535), \
	NUM("protocol", CONFVAL_PROTOCOL, CONFVAL_K_INT, st, m protocol, \
	    "5", 0, 0), \
	NUM("reconnect_min", CONFVAL_UINT, CONFVAL_K_INT, st, \
	    m reconnect_min, "1", 1, 86400), \
	NUM("reconnect_max", CONFVAL_UINT, CONFVAL_K_INT, st, \
	    m reconnect_max, "120", 1, 86400), \
	NUM("max_inflight", CONFVAL_UINT, CONFVAL_K_INT, st, \
	    m max_inflight, inflight_def, 1, CONF_INFLIGHT_MAX), \
	NUM("max_packet_size", CONFVAL_SIZE, CONFVAL_K_U64, st, \
	    m max_packet_size, packet_def, KIB, CONF_PACKET_MAX), \
	STR("proxy", CONFVAL_STRING, st, m proxy, "", 0), \
	STR("proxy_username", CONFVAL_STRING, st, m proxy_username, "", 0), \
	STR("proxy_password", CONFVAL_STRING, st, m proxy_password, "", \
	    CONFVAL_F_SECRET)

/* TLS to a broker (docs/tls.md); tls_def: "1" on, "0" off by default. */
#define TLS_ROWS(st, m, tls_def) \
	NUM("tls", CONFVAL_BOOL, CONFVAL_K_INT, st, m tls.enabled, tls_def, \
	    0, 1), \
	STR("ca_file", CONFVAL_STRING, st, m tls.ca_file, \
	    "/etc/ssl/certs/ca-certificates.crt", CONFVAL_F_NONE), \
	STR("ca_path", CONFVAL_STRING, st, m tls.ca_path, "", 0), \
	STR("cert_file", CONFVAL_STRING, st, m tls.cert_file, "", 0), \
	STR("key_file", CONFVAL_STRING, st, m tls.key_file, "", 0), \
	STR("server_name", CONFVAL_STRING, st, m tls.server_name, "", 0), \
	STRV("alpn", CONFVAL_STRING, st, m tls.alpn, m tls.n_alpn, NULL, \
	    CONFVAL_F_LIST), \
	STR("psk_identity", CONFVAL_STRING, st, m tls.psk_identity, "", 0), \
	STR("psk", CONFVAL_STRING, st, m tls.psk, "", CONFVAL_F_SECRET), \
	STRV("pin_sha256", CONFVAL_STRING, st, m tls.pin_sha256, \
	    m tls.n_pin_sha256, NULL, CONFVAL_F_LIST), \
	NUM("handshake_timeout", CONFVAL_UINT, CONFVAL_K_INT, st, \
	    m tls.handshake_timeout, "15", 1, 300), \
	STRV("tls_ciphers", CONFVAL_STRING, st, m tls.ciphers, \
	    m tls.n_ciphers, NULL, CONFVAL_F_LIST)

/*
 * The daemon's own rows, in struct conf, that the relay's config relay and
 * the unpacker's config unpack both have; they differ in defaults only.
 */
#define DAEMON_ROWS(store_def, max_def, control_def) \
	STR("store", CONFVAL_PATH, struct conf, store, store_def, 0), \
	NUM("store_max_bytes", CONFVAL_SIZE, CONFVAL_K_U64, struct conf, \
	    store_max_bytes, max_def, KIB, 1024 * GIB), \
	ENUM("store_full", struct conf, store_full, "drop_oldest", \
	    conf_store_full_names, 0), \
	ENUM("sync", struct conf, sync, "normal", conf_sync_names, 0), \
	NUM("commit_max", CONFVAL_UINT, CONFVAL_K_INT, struct conf, \
	    commit_max, "64", 1, 65535), \
	NUM("commit_delay_ms", CONFVAL_UINT, CONFVAL_K_INT, struct conf, \
	    commit_delay_ms, "1", 0, 1000), \
	STR("control", CONFVAL_SOCKET, struct conf, control, control_def, 0), \
	ENUM("log_level", struct conf, log_level, "info", \
	    conf_log_level_names, 0), \
	STR("user", CONFVAL_STRING, struct conf, user, "", 0), \
	NUM("unhealthy_after", CONFVAL_UINT, CONFVAL_K_INT, struct conf, \
	    unhealthy_after, "300", 0, 31536000)

/* Names of the enum options, indexed by value, NULL-terminated. */
extern const char *const conf_store_full_names[];
extern const char *const conf_sync_names[];
extern const char *const conf_log_level_names[];

/* conf_option_line: the line option name was set on in s, else s's. */
int conf_option_line(const struct uci_section *s, const char *name);

/*
 * conf_check_tls: read b's TLS files, keys and pins now, so that `check`
 * reports them, as errors in cx at the lines of s (the section b came
 * from). Nothing when TLS is off.
 */
void conf_check_tls(struct confval_ctx *cx, const struct conf_broker *b,
    const struct uci_section *s);

/*
 * conf_check_broker: the checks that span a broker's options (reconnect
 * bounds; with tls set, conf_check_tls), as errors at the lines of s.
 * conf_check_user: option user names a user of this system.
 */
void conf_check_broker(struct confval_ctx *cx, const struct conf_broker *b,
    const struct uci_section *s, bool tls);
void conf_check_user(struct confval_ctx *cx, const struct conf *c,
    const struct uci_section *s);

/*
 * conf_unpack_load (conf_unpack.c): fill c, which starts zeroed, from a
 * file whose sections must all be of type unpack (exactly one), reporting
 * every problem in cx. Sets c->role to CONF_ROLE_UNPACK.
 */
void conf_unpack_load(struct confval_ctx *cx, struct conf *c,
    const struct uci_file *uf);

/* conf_unpack_free, conf_unpack_print: as conf_free(), conf_print(). */
void conf_unpack_free(struct conf *c);
void conf_unpack_print(const struct conf *c, FILE *f);

#endif
