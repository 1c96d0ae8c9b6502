/* SPDX-License-Identifier: ISC */
/*
 * mqtt: the MQTT 3.1.1 and 5.0 packet codec. Encodes packets into
 * caller-owned buffers and decodes packets from caller-owned bytes; the
 * OASIS specifications "MQTT Version 3.1.1" and "MQTT Version 5.0" are the
 * authority, and section numbers below refer to them.
 *
 * Pure functions: no allocation, no I/O, no logging, no global state.
 * Decoding is zero-copy: every string, topic, payload and property view a
 * decoder fills in (struct mqtt_str, const uint8_t *) points into the bytes
 * being decoded, so it is valid only as long as the caller keeps those
 * bytes unchanged. Strings are not NUL-terminated.
 *
 * Encoders check their arguments, compute the packet's size first and
 * write nothing at all when the buffer is too small, so a caller can size
 * its buffer once with the matching *_size() function (or by calling the
 * encoder with buf == NULL and cap == 0, which fails with MQTT_ERR_SPACE
 * and stores the size needed).
 *
 * Thread: any; no function keeps state between calls. No function blocks.
 */
#ifndef PUSHRELAY_MQTT_H
#define PUSHRELAY_MQTT_H

#include <stddef.h>
#include <stdint.h>

#define MQTT_V311	4		/* protocol level byte */
#define MQTT_V5		5
#define MQTT_MAX_PACKET	268435460u	/* 1 + 4 + 268435455 */
#define MQTT_MAX_REMAINING 268435455u	/* the largest variable byte integer */
#define MQTT_MAX_STR	65535u		/* a string or binary value, bytes */

/*
 * Error codes. MALFORMED and PROTOCOL follow the classification of the
 * brief this module was written against: reserved bits that are set, a QoS
 * of 3 and a property not allowed in the packet are PROTOCOL, although
 * MQTT 5 section 2.1.3 / 2.2.2.2 call some of them a Malformed Packet.
 */
enum mqtt_err {
	MQTT_OK = 0,
	MQTT_ERR_MALFORMED = -1,	/* MQTT 5 reason 0x81 */
	MQTT_ERR_PROTOCOL = -2,		/* 0x82: well-formed but not allowed
					 * (a property not allowed in this
					 * packet, QoS 3, reserved flags) */
	MQTT_ERR_TOO_LARGE = -3,	/* 0x95: over the caller's maximum */
	MQTT_ERR_SPACE = -4,		/* the output buffer is too small;
					 * nothing useful was written */
	MQTT_ERR_INVAL = -5,		/* a caller argument is invalid (topic
					 * > 65535, id 0 with qos > 0, ...) */
	MQTT_ERR__COUNT = 6		/* number of codes, for the table */
};

/* mqtt_strerror: text for an enum mqtt_err code; "unknown mqtt error"
 * for anything else. The string is static and constant. */
const char *mqtt_strerror(int err);

/*
 * mqtt_err_reason: the MQTT 5 reason code to send for an error:
 * MALFORMED 0x81, PROTOCOL 0x82, TOO_LARGE 0x95, MQTT_OK 0x00, any other
 * value 0x83 (implementation specific error).
 */
uint8_t mqtt_err_reason(int err);

/* mqtt_reason_name: an MQTT 5 reason code (section 2.4) as its name in the
 * specification ("Not authorized"); "unknown reason" otherwise. 0x00 reads
 * "Success". The string is static and constant. */
const char *mqtt_reason_name(uint8_t code);

/* mqtt_connack_name: a CONNACK return code of MQTT 3.1.1 (0..5) when
 * protocol is MQTT_V311, else an MQTT 5 reason code, as text;
 * "unknown reason" otherwise. The string is static and constant. */
const char *mqtt_connack_name(int protocol, uint8_t code);

/* Control packet types, the high nibble of the first byte. */
enum mqtt_type {
	MQTT_CONNECT = 1,
	MQTT_CONNACK,
	MQTT_PUBLISH,
	MQTT_PUBACK,
	MQTT_PUBREC,
	MQTT_PUBREL,
	MQTT_PUBCOMP,
	MQTT_SUBSCRIBE,
	MQTT_SUBACK,
	MQTT_UNSUBSCRIBE,
	MQTT_UNSUBACK,
	MQTT_PINGREQ,
	MQTT_PINGRESP,
	MQTT_DISCONNECT,
	MQTT_AUTH		/* MQTT 5 only */
};

/* The `type` of mqtt_props_parse() for the will properties of CONNECT. */
#define MQTT_WILL_PROPS	(MQTT_CONNECT + 100)

/* A string or binary value: len bytes at p, not NUL-terminated. p == NULL
 * means absent; an empty present value has p != NULL and len 0. */
struct mqtt_str {
	const char *p;
	size_t len;
};

/* Property identifiers (MQTT 5 section 2.2.2.2). */
enum mqtt_prop_id {
	MQTT_P_PAYLOAD_FORMAT = 0x01,
	MQTT_P_MESSAGE_EXPIRY = 0x02,
	MQTT_P_CONTENT_TYPE = 0x03,
	MQTT_P_RESPONSE_TOPIC = 0x08,
	MQTT_P_CORRELATION_DATA = 0x09,
	MQTT_P_SUBSCRIPTION_ID = 0x0B,
	MQTT_P_SESSION_EXPIRY = 0x11,
	MQTT_P_ASSIGNED_CLIENT_ID = 0x12,
	MQTT_P_SERVER_KEEPALIVE = 0x13,
	MQTT_P_AUTH_METHOD = 0x15,
	MQTT_P_AUTH_DATA = 0x16,
	MQTT_P_REQUEST_PROBLEM_INFO = 0x17,
	MQTT_P_WILL_DELAY = 0x18,
	MQTT_P_REQUEST_RESPONSE_INFO = 0x19,
	MQTT_P_RESPONSE_INFO = 0x1A,
	MQTT_P_SERVER_REFERENCE = 0x1C,
	MQTT_P_REASON_STRING = 0x1F,
	MQTT_P_RECEIVE_MAX = 0x21,
	MQTT_P_TOPIC_ALIAS_MAX = 0x22,
	MQTT_P_TOPIC_ALIAS = 0x23,
	MQTT_P_MAX_QOS = 0x24,
	MQTT_P_RETAIN_AVAILABLE = 0x25,
	MQTT_P_USER_PROPERTY = 0x26,
	MQTT_P_MAX_PACKET_SIZE = 0x27,
	MQTT_P_WILDCARD_SUB_AVAILABLE = 0x28,
	MQTT_P_SUB_ID_AVAILABLE = 0x29,
	MQTT_P_SHARED_SUB_AVAILABLE = 0x2A
};

/*
 * A decoded property section: a validated view. Only the fields whose bit
 * is set in `has` carry a value; the others are zero. Strings point into
 * the decoded bytes. User properties are only counted: iterate raw with
 * mqtt_prop_next() to read them (and every subscription identifier after
 * the first).
 */
struct mqtt_props {
	uint64_t has;			/* bit (1ull << id) set for each
					 * property present */
	uint8_t payload_format;
	uint32_t message_expiry;
	struct mqtt_str content_type, response_topic;
	struct mqtt_str correlation_data;	/* binary */
	uint32_t subscription_id;	/* the first one */
	uint32_t session_expiry;
	struct mqtt_str assigned_client_id;
	uint16_t server_keepalive;
	struct mqtt_str auth_method, auth_data;	/* auth_data: binary */
	uint8_t request_problem_info, request_response_info;
	uint32_t will_delay;
	struct mqtt_str response_info, server_reference, reason_string;
	uint16_t receive_max, topic_alias_max, topic_alias;
	uint8_t max_qos, retain_available;
	uint32_t max_packet_size;
	uint8_t wildcard_sub_available, sub_id_available;
	uint8_t shared_sub_available;
	size_t n_user;			/* user properties (iterate raw) */
	const uint8_t *raw;		/* the property bytes, after the
					 * length varint; NULL when none */
	size_t raw_len;
};
#define MQTT_HAS(pr, id) ((((pr)->has) >> (id)) & 1u)

/* One property on the wire, from mqtt_prop_next(). */
struct mqtt_prop {
	uint8_t id;
	uint32_t num;			/* byte, two-byte, four-byte or
					 * varint values */
	struct mqtt_str s, s2;		/* string/binary values; s2: a user
					 * property's value */
	const uint8_t *wire;		/* the whole property: identifier
					 * and value */
	size_t wire_len;
};

/*
 * mqtt_prop_next: read the property at *p (raw property bytes up to end,
 * borrowed; the views in *out point into them) and advance *p past it.
 * Checks only the structure (a known identifier, a value that fits before
 * end); mqtt_props_parse() does the full validation.
 * Returns 1 when *out was filled, 0 at end (*p == end), or
 * MQTT_ERR_MALFORMED (unknown identifier, truncated value; *p unchanged).
 */
int mqtt_prop_next(const uint8_t **p, const uint8_t *end,
    struct mqtt_prop *out);

/*
 * Property writer: appends properties in wire form (identifier and value,
 * no leading length) to a caller buffer of cap bytes, for the props
 * arguments of the encoders. When a property does not fit, or its value
 * cannot be encoded (a string over 65535 bytes, a varint over 268435455),
 * sets w->overflow, writes nothing more and ignores later calls; w->len is
 * then the length of the properties written before. buf is borrowed until
 * the caller is done with the writer; it may be NULL when cap is 0.
 */
struct mqtt_pw {
	uint8_t *p;
	size_t cap;
	size_t len;
	int overflow;
};
void mqtt_pw_init(struct mqtt_pw *w, uint8_t *buf, size_t cap);
void mqtt_pw_byte(struct mqtt_pw *w, uint8_t id, uint8_t v);
void mqtt_pw_u16(struct mqtt_pw *w, uint8_t id, uint16_t v);
void mqtt_pw_u32(struct mqtt_pw *w, uint8_t id, uint32_t v);
void mqtt_pw_varint(struct mqtt_pw *w, uint8_t id, uint32_t v);
/* A string or binary value; s may be NULL when len is 0. */
void mqtt_pw_str(struct mqtt_pw *w, uint8_t id, const void *s, size_t len);
/* A string pair (user property): key k, value v. */
void mqtt_pw_pair(struct mqtt_pw *w, uint8_t id, const void *k, size_t kl,
    const void *v, size_t vl);
/* Copies already-encoded properties (e.g. mqtt_prop.wire). */
void mqtt_pw_raw(struct mqtt_pw *w, const void *wire, size_t len);

/*
 * Variable byte integers (section 1.5.5 / 2.2.3).
 * mqtt_varint_put: writes v (<= MQTT_MAX_REMAINING; larger values are
 * truncated to 28 bits) to out, which needs room for 4 bytes. Returns the
 * bytes written, 1..4.
 * mqtt_varint_len: the bytes mqtt_varint_put() writes for v (4 for
 * anything larger than MQTT_MAX_REMAINING).
 * mqtt_varint_get: reads a varint from the len bytes at p. Returns 1 and
 * stores the value in *v and its size in *used; 0 when the len bytes end
 * inside the varint; MQTT_ERR_MALFORMED when a fourth byte still has the
 * continuation bit. A non-minimal encoding (0x80 0x00) is accepted.
 */
size_t mqtt_varint_put(uint8_t *out, uint32_t v);
size_t mqtt_varint_len(uint32_t v);
int mqtt_varint_get(const uint8_t *p, size_t len, uint32_t *v,
    size_t *used);

/*
 * mqtt_utf8_valid: the MQTT rules for UTF-8 strings (section 1.5.4):
 * well-formed UTF-8 (no overlong forms, no surrogates U+D800..U+DFFF,
 * nothing above U+10FFFF) without U+0000. strict also refuses the control
 * characters U+0001..U+001F and U+007F..U+009F. s may be NULL when len is
 * 0. Returns 1 when valid, 0 when not.
 */
int mqtt_utf8_valid(const void *s, size_t len, int strict);

/* mqtt_topic_name_valid: a topic name for PUBLISH: valid UTF-8
 * (strict = 0), 1..65535 bytes, no '+' or '#'. Returns 1 or 0. */
int mqtt_topic_name_valid(const void *s, size_t len);

/*
 * mqtt_frame: find the first packet in a byte stream. buf/len: the bytes
 * received so far (split anywhere; borrowed for the call). max_size: the
 * largest packet accepted, fixed header included; 0 means MQTT_MAX_PACKET.
 * Returns 1 when a whole packet is there: *pkt_len is its size (fixed
 * header included); pass those bytes to mqtt_decode() and drop them.
 * 0 when more bytes are needed (*pkt_len = the total size if the header
 * is complete, else 0).
 * MQTT_ERR_MALFORMED: a remaining length varint over 4 bytes, or packet
 * type 0 (*pkt_len = 0).
 * MQTT_ERR_TOO_LARGE: the header says the packet is larger than max_size;
 * checked as soon as the length is known, without waiting for the body;
 * *pkt_len holds the announced size.
 * The stream cannot be resynchronised after an error.
 */
int mqtt_frame(const uint8_t *buf, size_t len, uint32_t max_size,
    size_t *pkt_len);

/*
 * CONNECT (section 3.1). For mqtt_encode_connect() every pointer is
 * borrowed for the call; strings may be NULL when their length is 0,
 * except username and password, whose p == NULL means absent. In a decoded
 * CONNECT the pointers point into the packet.
 */
struct mqtt_connect {
	int protocol;			/* MQTT_V311 or MQTT_V5 */
	int clean_start;		/* 0 or 1 (3.1.1: clean session) */
	uint16_t keepalive;		/* seconds */
	struct mqtt_str client_id;	/* may be empty */
	struct mqtt_str username, password;	/* p == NULL: absent;
						 * password: binary */
	const uint8_t *props;		/* v5 CONNECT properties */
	size_t props_len;		/* (wire form, no length) */
	int will;			/* a will is present */
	int will_qos, will_retain;
	struct mqtt_str will_topic, will_payload;	/* payload: binary */
	const uint8_t *will_props;	/* v5 will properties */
	size_t will_props_len;
};

/*
 * PUBLISH (section 3.3). For encoding, pointers are borrowed for the call;
 * payload may be NULL when payload_len is 0.
 */
struct mqtt_publish {
	struct mqtt_str topic;		/* may be empty (len 0) with a topic
					 * alias in v5 */
	int qos, retain, dup;		/* qos 0..2; dup only with qos > 0 */
	uint16_t id;			/* qos > 0 only; not 0 */
	const uint8_t *props;		/* v5 */
	size_t props_len;
	const void *payload;
	size_t payload_len;
};

/* One entry of SUBSCRIBE. options: qos | no_local << 2 |
 * retain_as_published << 3 | retain_handling << 4; 3.1.1 sends qos only.
 * For UNSUBSCRIBE only filter is used. */
struct mqtt_sub {
	struct mqtt_str filter;
	uint8_t options;
};
#define MQTT_SUB_QOS(o)			((o) & 3u)
#define MQTT_SUB_NO_LOCAL		0x04u
#define MQTT_SUB_RETAIN_AS_PUBLISHED	0x08u
#define MQTT_SUB_RETAIN_HANDLING(o)	(((o) >> 4) & 3u)

/* Decoded packet: every pointer points into the decoded bytes. */
struct mqtt_packet {
	enum mqtt_type type;
	uint8_t flags;			/* low nibble of the first byte */
	union {
		/* 3.1.1 return code or MQTT 5 reason code */
		struct {
			int session_present;
			uint8_t reason;
		} connack;
		/* props/props_len = the raw property section */
		struct mqtt_publish publish;
		/* PUBACK, PUBREC, PUBREL, PUBCOMP; reason 0 when absent */
		struct {
			uint16_t id;
			uint8_t reason;
		} ack;
		/* SUBACK and UNSUBACK (3.1.1 UNSUBACK: n = 0) */
		struct {
			uint16_t id;
			const uint8_t *reasons;
			size_t n;
		} suback;
		/* DISCONNECT and AUTH; 0 when absent */
		struct {
			uint8_t reason;
		} disconnect;
		struct mqtt_connect connect;
		/* SUBSCRIBE and UNSUBSCRIBE: the raw topic list (each filter
		 * followed by its options byte for SUBSCRIBE), for
		 * mqtt_sub_next() */
		struct {
			uint16_t id;
			const uint8_t *list;
			size_t list_len;
		} subscribe;
	} u;
	/* v5 packet properties (zeroed for 3.1.1); for CONNECT the will
	 * properties are NOT here (decode them with mqtt_props_parse()). */
	struct mqtt_props props;
};

/*
 * mqtt_decode: decode ONE whole packet (len bytes at pkt, as delimited by
 * mqtt_frame(); borrowed, and the views in *out point into it) for a
 * connection speaking `protocol` (MQTT_V311 or MQTT_V5). A CONNECT is
 * decoded by the protocol level it carries (u.connect.protocol);
 * `protocol` is then ignored.
 * Validates everything the specifications require of the packet alone:
 * reserved flags, QoS, packet ids non-zero, reason codes allowed for the
 * packet type, property ids allowed for the packet type and not repeated
 * (except user property and, in PUBLISH, subscription id), property value
 * ranges, the UTF-8 of every UTF-8 string (strict = 0), PUBLISH and will
 * topic names without wildcards, at least one entry in SUBSCRIBE,
 * UNSUBSCRIBE and their acks, and a remaining length consistent with the
 * contents. What needs connection state (topic alias ranges, in-flight
 * ids, a packet's direction) is the caller's job.
 * Returns MQTT_OK, MQTT_ERR_MALFORMED or MQTT_ERR_PROTOCOL (and
 * MQTT_ERR_INVAL for a NULL argument or an unknown protocol). *out is
 * undefined on error.
 */
int mqtt_decode(const uint8_t *pkt, size_t len, int protocol,
    struct mqtt_packet *out);

/*
 * mqtt_props_parse: validate and view a v5 property section: the len raw
 * bytes after its length varint (borrowed; the views in *out point into
 * them; raw may be NULL when len is 0), with the properties allowed in
 * packet `type` (enum mqtt_type, or MQTT_WILL_PROPS).
 * Returns MQTT_OK; MQTT_ERR_MALFORMED (structure, UTF-8);
 * MQTT_ERR_PROTOCOL (a property not allowed in `type`, repeated, or out of
 * range). *out is undefined on error.
 */
int mqtt_props_parse(const uint8_t *raw, size_t len, int type,
    struct mqtt_props *out);

/*
 * mqtt_sub_next: iterate a decoded SUBSCRIBE or UNSUBSCRIBE list (u.
 * subscribe.list up to list + list_len): reads the entry at *p and
 * advances *p. For UNSUBSCRIBE options is 0. Returns 1 when *out was
 * filled, 0 at end, MQTT_ERR_MALFORMED when the list is truncated. A list
 * that mqtt_decode() accepted never fails.
 */
int mqtt_sub_next(const uint8_t **p, const uint8_t *end, int is_subscribe,
    struct mqtt_sub *out);

/*
 * Encoders: each writes one whole packet into buf (cap bytes; buf may be
 * NULL when cap is 0) and stores its size in *n (n must not be NULL).
 * Returns MQTT_OK; MQTT_ERR_SPACE when cap is too small (nothing was
 * written; *n = the size needed); MQTT_ERR_INVAL when an argument is
 * invalid (*n = 0): a NULL pointer with a length, a string over 65535
 * bytes or not valid UTF-8, a packet id 0 where one is needed, a QoS over
 * 2, a reason code not allowed in the packet, v5 properties that
 * mqtt_props_parse() refuses for the packet type, a packet over
 * MQTT_MAX_PACKET. For MQTT_V311 the props arguments are ignored.
 * All pointer arguments are borrowed for the call.
 */

/* CONNECT; c->protocol picks the protocol. 3.1.1 refuses a password
 * without a user name. */
int mqtt_encode_connect(uint8_t *buf, size_t cap,
    const struct mqtt_connect *c, size_t *n);
size_t mqtt_connect_size(const struct mqtt_connect *c);

/* PUBLISH. The topic must pass mqtt_topic_name_valid(), or (v5) be empty
 * with a topic alias in props. */
int mqtt_encode_publish(uint8_t *buf, size_t cap, int protocol,
    const struct mqtt_publish *p, size_t *n);

/* The *_size() functions return the size the encoder needs for the same
 * arguments, or 0 when no packet that large can be encoded; they do not
 * validate anything else. */
size_t mqtt_publish_size(int protocol, const struct mqtt_publish *p);

/*
 * PUBACK/PUBREC/PUBREL/PUBCOMP (type). v5 writes the 2-byte form when
 * reason == 0 and props_len == 0, the reason alone when props_len == 0,
 * else the reason and the properties. PUBREL gets flags 0x2.
 */
int mqtt_encode_ack(uint8_t *buf, size_t cap, int protocol,
    enum mqtt_type type, uint16_t id, uint8_t reason, const uint8_t *props,
    size_t props_len, size_t *n);
size_t mqtt_ack_size(int protocol, uint8_t reason, size_t props_len);

/* SUBSCRIBE with nsubs >= 1 entries; 3.1.1 refuses options other than a
 * QoS; v5 refuses QoS 3, retain handling 3, reserved bits 6-7 and No Local
 * on a shared subscription ("$share/..."). Filters: 1..65535 bytes of
 * valid UTF-8 (their wildcard syntax is not checked). */
int mqtt_encode_subscribe(uint8_t *buf, size_t cap, int protocol,
    uint16_t id, const struct mqtt_sub *subs, size_t nsubs,
    const uint8_t *props, size_t props_len, size_t *n);
size_t mqtt_subscribe_size(int protocol, const struct mqtt_sub *subs,
    size_t nsubs, size_t props_len);

/* UNSUBSCRIBE with nfilters >= 1 filters, checked as for SUBSCRIBE. */
int mqtt_encode_unsubscribe(uint8_t *buf, size_t cap, int protocol,
    uint16_t id, const struct mqtt_str *filters, size_t nfilters,
    const uint8_t *props, size_t props_len, size_t *n);
size_t mqtt_unsubscribe_size(int protocol, const struct mqtt_str *filters,
    size_t nfilters, size_t props_len);

/* PINGREQ and PINGRESP: always 2 bytes. */
int mqtt_encode_pingreq(uint8_t *buf, size_t cap, size_t *n);
int mqtt_encode_pingresp(uint8_t *buf, size_t cap, size_t *n);

/* DISCONNECT. 3.1.1: 2 bytes. v5: the 0-length form when reason is 0 and
 * props_len is 0, the reason alone when props_len is 0, else both. */
int mqtt_encode_disconnect(uint8_t *buf, size_t cap, int protocol,
    uint8_t reason, const uint8_t *props, size_t props_len, size_t *n);
size_t mqtt_disconnect_size(int protocol, uint8_t reason,
    size_t props_len);

/* AUTH (v5 only): the 0-length form when reason is 0 and props_len is 0,
 * else the reason and the properties. */
int mqtt_encode_auth(uint8_t *buf, size_t cap, uint8_t reason,
    const uint8_t *props, size_t props_len, size_t *n);
size_t mqtt_auth_size(uint8_t reason, size_t props_len);

/* Server-side packets, for tests and fakes. */

/* CONNACK. session_present must be 0 with a non-zero reason. 3.1.1:
 * reason is the return code 0..5. */
int mqtt_encode_connack(uint8_t *buf, size_t cap, int protocol,
    int session_present, uint8_t reason, const uint8_t *props,
    size_t props_len, size_t *n);
size_t mqtt_connack_size(int protocol, size_t props_len);

/* SUBACK or UNSUBACK (type) with nreasons >= 1 codes; a 3.1.1 UNSUBACK
 * carries none and ignores reasons. */
int mqtt_encode_suback(uint8_t *buf, size_t cap, int protocol,
    enum mqtt_type type, uint16_t id, const uint8_t *reasons,
    size_t nreasons, const uint8_t *props, size_t props_len, size_t *n);
size_t mqtt_suback_size(int protocol, enum mqtt_type type, size_t nreasons,
    size_t props_len);

/*
 * mqtt_encode_packet: encode a packet as mqtt_decode() fills it in (pk and
 * what it points to are borrowed for the call), through the encoder of
 * its type with the same checks and results; the v5 properties come from
 * pk->props.raw. A CONNECT uses its own u.connect.protocol. The encoding
 * is canonical: minimal varints, and the short v5 forms of the acks,
 * DISCONNECT and AUTH; re-encoding a decoded packet gives the same bytes
 * when the input was canonical, and fewer bytes otherwise.
 */
int mqtt_encode_packet(uint8_t *buf, size_t cap, int protocol,
    const struct mqtt_packet *pk, size_t *n);

#ifdef MQTT_INTERNAL
/* Shared by the codec's files; not part of the API. */

/* A bounded reader over bytes being decoded. Each mqtt__get_* returns
 * MQTT_OK or MQTT_ERR_MALFORMED (the bytes end first; r unchanged). */
struct mqtt__rd {
	const uint8_t *p;
	const uint8_t *end;
};
int mqtt__get_u8(struct mqtt__rd *r, uint8_t *v);
int mqtt__get_u16(struct mqtt__rd *r, uint16_t *v);
int mqtt__get_u32(struct mqtt__rd *r, uint32_t *v);
int mqtt__get_varint(struct mqtt__rd *r, uint32_t *v);
/* Binary data: a two-byte length and the bytes. */
int mqtt__get_bin(struct mqtt__rd *r, struct mqtt_str *s);
/* A UTF-8 string: as binary, plus mqtt_utf8_valid(strict = 0). */
int mqtt__get_utf8(struct mqtt__rd *r, struct mqtt_str *s);

/* Unchecked writers for encoders that sized the packet first: they write
 * through the property writer, which stops at its capacity. */
void mqtt__put_u8(struct mqtt_pw *w, uint8_t v);
void mqtt__put_u16(struct mqtt_pw *w, uint16_t v);
void mqtt__put_varint(struct mqtt_pw *w, uint32_t v);
void mqtt__put_bin(struct mqtt_pw *w, const void *s, size_t len);

/* A v5 property section: its length varint, then the properties allowed
 * in type, parsed into pr; raw/raw_len (may be NULL) get their bytes. */
int mqtt__get_props(struct mqtt__rd *r, int type, struct mqtt_props *pr,
    const uint8_t **raw, size_t *raw_len);
/* The body of a CONNECT, after the fixed header (connect.c). */
int mqtt__dec_connect(struct mqtt__rd *r, struct mqtt_packet *out);
/* One SUBSCRIBE entry (options ignored for UNSUBSCRIBE), and a whole list
 * of at least one: MQTT_OK, MQTT_ERR_MALFORMED or MQTT_ERR_PROTOCOL. */
int mqtt__sub_check(int protocol, int is_subscribe, const struct mqtt_sub *s);
int mqtt__sub_list_check(const uint8_t *p, const uint8_t *end, int protocol,
    int is_subscribe);

/* Encoder helpers (encode.c). mqtt__pkt_size: the packet size for a
 * remaining length, 0 when too large. mqtt__props_size: a property
 * section's size with its length. mqtt__props_ok: 1 when the properties
 * are valid for type. mqtt__begin: checks the size (sets *n) and writes
 * the fixed header; mqtt__end: checks that exactly *n bytes were written. */
size_t mqtt__pkt_size(size_t rl);
size_t mqtt__props_size(size_t props_len);
int mqtt__props_ok(int type, const uint8_t *props, size_t props_len);
int mqtt__begin(struct mqtt_pw *w, uint8_t *buf, size_t cap, uint8_t b0,
    size_t rl, size_t *n);
int mqtt__end(const struct mqtt_pw *w, size_t *n);
void mqtt__put_props(struct mqtt_pw *w, const uint8_t *props,
    size_t props_len);

/* SUBSCRIBE or UNSUBSCRIBE (type) from a raw, checked list, as
 * mqtt_decode() gives it (subscribe.c). */
int mqtt__encode_list_raw(uint8_t *buf, size_t cap, int protocol,
    enum mqtt_type type, uint16_t id, const uint8_t *list, size_t list_len,
    const uint8_t *props, size_t props_len, size_t *n);

/* 1 when the MQTT 5 reason code is allowed in packet type, else 0. */
int mqtt__reason_ok(int type, uint8_t code);
/* 1 when the MQTT 3.1.1 SUBACK return code is valid, else 0. */
int mqtt__suback311_ok(uint8_t code);
#endif

#endif
