/* SPDX-License-Identifier: ISC */
/*
 * conf: turns a UCI configuration file into a plain struct conf.
 *
 * The job of this module is the schema: which sections and options exist,
 * their types, defaults and ranges, and the cross-option checks (routes that
 * loop back, missing required options). Reading the UCI syntax itself is
 * platform/uci's job. A struct conf holds values only: no fds, no pointers
 * into the runtime, so a reload can build a new one and diff it against the
 * old. Every value remembers the line it came from so later validation can
 * still say "file:line: option 'x': ...".
 *
 * Ownership: conf_load() returns a struct conf that the caller owns and
 * frees with conf_free(). All strings inside are owned by the struct.
 * Thread: any thread, no shared state.
 */
#ifndef PUSHRELAY_CONF_H
#define PUSHRELAY_CONF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "platform/tls.h"

#define CONF_DEFAULT_FILE	"/etc/config/pushrelay"
/* The longest option record_prefix of an unpacker, as written. */
#define CONF_RECORD_PREFIX_MAX	128

/* The unpacker's default file (`pushrelay unpack`). */
#define CONF_UNPACK_DEFAULT_FILE	"/etc/config/pushrelay-unpack"
#define CONF_ID_MAX		64
/* The most a broker's max_inflight may be: the relay's slots per link. */
#define CONF_INFLIGHT_MAX	1024
/* MQTT's own largest packet: 1 + 4 + 268435455 bytes. */
#define CONF_PACKET_MAX		268435460u

enum conf_err {
	CONF_OK = 0,
	CONF_ERR_IO = -1,	/* file could not be opened or read */
	CONF_ERR_SYNTAX = -2,	/* UCI syntax error(s) */
	CONF_ERR_INVALID = -3,	/* schema or validation error(s) */
	CONF_ERR_NOMEM = -4,
};

enum conf_store_full {
	CONF_DROP_OLDEST = 0,
	CONF_DROP_NEWEST,
};

enum conf_sync {
	CONF_SYNC_OFF = 0,
	CONF_SYNC_NORMAL,
	CONF_SYNC_FULL,
};

enum conf_mode {
	CONF_MODE_RAW = 0,
	CONF_MODE_BATCH,	/* uplink: framed by the batcher */
	CONF_MODE_UNPACK,	/* the unpacker's one route: frames to unpack;
				 * never written in a file */
};

/*
 * What a file configures: a relay (config relay, broker, batch, uplink,
 * downlink sections) or a central-site unpacker (one config unpack
 * section). The unpacker's conf uses store*, sync, control, log_level,
 * user, id (the section's name, else "unpack"), central (local stays
 * zeroed: no address), and one downlink route: its topic filter, qos 1,
 * no prefixes, mode CONF_MODE_UNPACK. status_topic is "".
 */
enum conf_role {
	CONF_ROLE_RELAY = 0,
	CONF_ROLE_UNPACK,
};

/* Log levels, in increasing verbosity; same numbering as platform/log.h. */
enum conf_log_level {
	CONF_LOG_ERR = 0,
	CONF_LOG_WARN,
	CONF_LOG_INFO,
	CONF_LOG_DEBUG,
};

/* One uplink or downlink route. Strings have %i expanded already. */
struct conf_route {
	int line;		/* line of the "config uplink|downlink" header */
	char *name;		/* section name, NULL when anonymous (added) */
	char *topic;		/* subscription pattern, relative to a prefix */
	char *local_prefix;	/* "" when none ('%none' or absent) */
	char *remote_prefix;	/* "" when none ('%none') */
	int qos;		/* 0..2: cap on the QoS carried across */
	enum conf_mode mode;	/* uplink only; downlink is always raw */
	uint32_t ttl_s;		/* 0 = no limit */
	int priority;		/* uplink only; higher drains first */
	int max_delay_ms;	/* uplink batch: longest a message waits in
				   an open frame; -1: batch linger_ms */
	uint32_t max_rate;	/* downlink: msg/s to the local broker;
				   0 = no limit */
};

/* TLS to the central broker; see docs/tls.md. Strings "" when unset. */
struct conf_tls {
	int enabled;		/* option tls: 1 (default) or 0 */
	char *ca_file;
	char *ca_path;
	char *cert_file;
	char *key_file;
	char *server_name;	/* "" = the address's host */
	char **alpn;
	size_t n_alpn;
	char *psk_identity;
	char *psk;		/* hex; never printed */
	char **pin_sha256;
	size_t n_pin_sha256;
	int handshake_timeout;	/* seconds */
	char **ciphers;		/* tls_ciphers: suites in order; none:
				   the defaults (docs/tls.md) */
	size_t n_ciphers;
};

struct conf_broker {
	int line;		/* line of the "config broker" header, 0 if absent */
	char **address;		/* "host:port" strings, tried in order */
	size_t n_address;	/* >= 1 */
	char *client_id;	/* %i expanded */
	char *username;		/* "" when none */
	char *password;		/* "" when none; never printed */
	int keepalive;		/* seconds, 5..65535 */
	int protocol;		/* 5 or 311 */
	int reconnect_min;	/* seconds, >= 1 */
	int reconnect_max;	/* seconds, >= reconnect_min */
	int max_inflight;	/* 1..CONF_INFLIGHT_MAX publishes unacked */
	uint64_t max_packet_size;	/* largest packet taken in, bytes */
	char *proxy;		/* HTTP CONNECT proxy "host:port"; "": none */
	char *proxy_username;	/* "" when none */
	char *proxy_password;	/* "" when none; never printed */
	struct conf_tls tls;	/* central only; local: enabled 0 */
	int topic_alias_max;	/* central only: most topic aliases used
				   (MQTT 5, within the broker's); 0 off */
};

enum conf_compress {
	CONF_COMPRESS_LZ4 = 0,
	CONF_COMPRESS_NONE,
};

/* config batch: how uplink routes in mode batch are framed. */
struct conf_batch {
	int line;		/* 0 when the section is absent (defaults) */
	char *topic;		/* central topic of the frames; %i expanded */
	int max_messages;	/* records per frame */
	int max_bytes;		/* uncompressed topic+payload bytes per frame */
	int linger_ms;		/* longest a message waits for company */
	int inflight_frames;	/* frames sent and not acknowledged */
	enum conf_compress compress;
	int qos;
	int frame_version;	/* 1 or 2 (docs/frame-format.md) */
	int dictionary_bytes;	/* v2 + lz4: shared dictionary size; 0 off */
	int dictionary_rotate;	/* body bytes after which a dictionary is
				   rebuilt from the recent uplink */
	int content_type;	/* 1: frames carry the content type */
};

struct conf {
	char *file;		/* path as given to conf_load() */
	char *warnings;		/* see conf_warnings(); NULL when none */
	enum conf_role role;
	char *unpack_topic;	/* unpacker: the frames' filter; else NULL */
	int unpack_qos;		/* unpacker: subscription QoS and the most
				   its record publishes use (0..2) */
	/* unpacker: what a gateway may do (docs/unpack.md, "Trust") */
	char *unpack_record_prefix;	/* as written: one %i, then '/' */
	int unpack_allow_retain;	/* 0: a record with retain is refused */
	uint64_t unpack_max_expanded;	/* topic+payload bytes per frame */
	int unpack_gateway_share;	/* % of store_max_bytes per gateway */
	int unpack_id_level;	/* the '+' level of unpack_topic (0-based,
				   after any $share/GROUP/) */

	/* config relay */
	char *name;		/* the section's name, NULL when anonymous */
	char *id;		/* 1-64 of [A-Za-z0-9._-] */
	char *store;		/* SQLite queue path */
	uint64_t store_max_bytes; /* topic+payload bytes of queued messages */
	enum conf_store_full store_full;
	enum conf_sync sync;
	int commit_max;		/* group commit: acks owed that force it */
	int downlink_reserve;	/* % of store_max_bytes uplink may not use */
	int commit_delay_ms;	/* group commit: the oldest waits at most */
	char *control;		/* control socket path */
	enum conf_log_level log_level;
	char *status_topic;	/* %i expanded; "" disables ('%none') */
	int unhealthy_after;	/* s the central link may be down before
				   `status` exits 3; 0: never */
	char *user;		/* drop root to this user at start; "" = don't */
	uint64_t max_wan_rate;	/* central link bytes/s; 0 = no limit */
	uint64_t daily_wan_quota; /* central link bytes per UTC day; 0 none */
	/*
	 * For the OpenWrt init script only; the relay ignores them: enabled
	 * 0 keeps procd from starting it, wan_interface names the netifd
	 * interfaces whose "up" sends SIGUSR1.
	 */
	int enabled;
	char *wan_interface;

	struct conf_broker local;
	struct conf_broker central;
	struct conf_batch batch;

	struct conf_route *uplink;
	size_t n_uplink;
	struct conf_route *downlink;
	size_t n_downlink;
};

/*
 * conf_load: read and validate the UCI file at path.
 * path: borrowed. out: receives a new struct conf on success (caller frees
 * with conf_free()); left untouched on error.
 * errs: if not NULL, every error found is written to it, one per line, as
 * "FILE:LINE: option NAME: what is wrong" or "FILE:LINE: syntax: ...",
 * or "FILE: ..." when no line applies. All errors are reported, not only
 * the first.
 * A file with a config unpack section configures an unpacker (see enum
 * conf_role); any other, a relay.
 * Returns CONF_OK, or CONF_ERR_IO, CONF_ERR_SYNTAX, CONF_ERR_INVALID,
 * CONF_ERR_NOMEM. Does not block beyond reading the file.
 */
int conf_load(const char *path, struct conf **out, FILE *errs);

/*
 * conf_parse: as conf_load(), but from len bytes of buf (added so that
 * tests and callers that already hold the text need no file).
 * file: borrowed; used in error messages and copied into conf->file.
 * Never returns CONF_ERR_IO.
 */
int conf_parse(const char *file, const char *buf, size_t len,
    struct conf **out, FILE *errs);

/* conf_free: release everything conf_load() allocated. NULL is a no-op. */
void conf_free(struct conf *c);

/*
 * conf_print: write the effective configuration (defaults filled in) in UCI
 * syntax to f, as `pushrelay check` shows it. Passwords are masked as
 * '********' when set. c and f are borrowed.
 */
void conf_print(const struct conf *c, FILE *f);

/*
 * conf_tls_view: the TLS options of a broker as platform/tls.h takes them.
 * out borrows every string of t: t must outlive its use.
 */
void conf_tls_view(const struct conf_tls *t, struct tls_conf *out);

/*
 * Receives one warning of conf_warn_exposed(): one line without a
 * newline, borrowed for the call.
 */
typedef void (*conf_warn_fn)(void *arg, const char *text);

/*
 * conf_warn_exposed (conf_secrets.c): warn about secrets every user of
 * the system can read: a key_file readable by others, and c->file when it
 * is readable by others and holds a password, proxy_password or psk. Each
 * warning names the file, its mode and the options, e.g. "FILE: readable
 * by every user (mode 0644) and it holds option psk (broker 'central');
 * chmod o-r it". Looks at the files now; a file it cannot stat is not
 * reported (loading reports those). c is borrowed; fn may be NULL.
 * Returns the number of warnings. `pushrelay check` and the start run it.
 */
int conf_warn_exposed(const struct conf *c, conf_warn_fn fn, void *arg);

/*
 * conf_warnings: pass each warning found while loading c to fn, one line
 * "FILE:LINE: warning: option NAME: text": what loads but may not mean
 * what the writer meant (an option written as '', which uci deletes, where
 * the default is not empty; a value an unquoted '#' cut short). A file
 * that fails to load has its warnings written to errs with its errors
 * instead. c is borrowed; fn may be NULL. Returns the number of warnings.
 * `pushrelay check`, the start and a reload run it.
 */
int conf_warnings(const struct conf *c, conf_warn_fn fn, void *arg);

/* conf_strerror: static text for a conf_err code. */
const char *conf_strerror(int err);

#endif
