/* SPDX-License-Identifier: ISC */
/*
 * frame: the batch frame codec. Encodes a batch of MQTT messages (records)
 * into one self-describing frame and decodes such frames back; the byte
 * format is specified in docs/frame-format.md, which is the authority.
 *
 * Pure functions over caller-provided buffers: no I/O, no MQTT connection
 * (only mqtt/'s string checks, for frame_record.refused), no logging, no
 * global state. The encoder (struct frame_enc) owns every buffer it
 * needs from frame_enc_new() on, so adding records and finishing a frame
 * never allocate. The decoder is a single call, frame_decode() or
 * frame_decode_opts(), that allocates at most the bound stated in the
 * format document and frees it before returning.
 *
 * Thread: any, one thread per struct frame_enc; frame_decode() and
 * frame_peek() keep no state. No function blocks.
 */
#ifndef PUSHRELAY_FRAME_H
#define PUSHRELAY_FRAME_H

#include <stddef.h>
#include <stdint.h>

/* The format versions this code writes and reads (docs/frame-format.md). */
#define FRAME_VERSION		1
#define FRAME_VERSION_2		2
/* Version 2 dictionaries: 1..FRAME_DICT_MAX bytes (LZ4's window). */
#define FRAME_DICT_MAX		65536u
/* Format limits; a frame beyond them is refused (docs/frame-format.md). */
#define FRAME_GWID_MAX		64		/* gateway id, bytes */
#define FRAME_MAX_RECORDS	1000000u	/* records per frame */
#define FRAME_MAX_BODY		(16u * 1024 * 1024) /* uncompressed body */
#define FRAME_MAX_TOPIC		65535u		/* topic bytes (MQTT) */
/* Room for frame_err.msg; longer messages are truncated. */
#define FRAME_ERR_LEN		160

enum frame_err_code {
	FRAME_OK = 0,
	FRAME_ERR_FULL = -1,	/* the record does not fit in this batch */
	FRAME_ERR_TOOBIG = -2,	/* the record does not fit in any batch */
	FRAME_ERR_INVAL = -3,	/* bad argument or call order */
	FRAME_ERR_NOSPACE = -4,	/* output buffer smaller than needed */
	FRAME_ERR_NOMEM = -5,
	FRAME_ERR_LZ4 = -6,	/* liblz4 failed to compress */
	FRAME_ERR_TRUNCATED = -7, /* the frame ends early */
	FRAME_ERR_MAGIC = -8,	/* not a pushrelay frame */
	FRAME_ERR_VERSION = -9,	/* a format version this code cannot read */
	FRAME_ERR_CODEC = -10,	/* a codec this code cannot read */
	FRAME_ERR_LIMIT = -11,	/* a count or size beyond the format limits */
	FRAME_ERR_CHECKSUM = -12, /* header or content checksum mismatch */
	FRAME_ERR_MALFORMED = -13, /* any other violation of the format */
	FRAME_ERR_ABORTED = -14, /* the record callback asked to stop */
	FRAME_ERR_EXPANDED = -15, /* records expand past max_expanded */
	FRAME_ERR_NODICT = -16,	/* v2: the frame names a dictionary the
				   caller does not have (id and check) */
	FRAME_ERR__COUNT = 17	/* number of codes, for the strerror table */
};

/*
 * Why a record of a well-formed frame cannot be published as MQTT
 * requires (struct frame_record refused). The format leaves strings to
 * MQTT; MQTT's rules (MQTT 5, 1.5.4 and 4.7.3, and what brokers such as
 * Mosquitto enforce) are checked here so that a receiver can refuse the
 * record alone rather than send a PUBLISH its broker drops the connection
 * for (docs/frame-format.md, section 3.4). "Control" covers U+0001..U+001F,
 * U+007F..U+009F and the Unicode noncharacters (U+FDD0..U+FDEF and every
 * code point ending in FFFE or FFFF).
 */
enum frame_refusal {
	FRAME_REC_OK = 0,
	FRAME_REC_TOPIC_UTF8,	/* topic: not well-formed UTF-8 */
	FRAME_REC_TOPIC_CONTROL, /* topic: a control character */
	FRAME_REC_TOPIC_DOLLAR,	/* topic starts with '$' (the broker's own) */
	FRAME_REC_PROP_STRING,	/* content type or user property: not
				   well-formed UTF-8, U+0000 or a control */
	FRAME_REC_RESPONSE_TOPIC, /* response topic: as a topic above, or
				   empty, or with a wildcard */
	FRAME_REC__COUNT
};

/* Codec of the frame's data part; the numbers are the wire values. */
enum frame_codec {
	FRAME_CODEC_NONE = 0,	/* the body, stored */
	FRAME_CODEC_LZ4 = 1,	/* v1: the body as one standard LZ4 frame;
				   v2: the body as one LZ4 block */
	FRAME_CODEC_LZ4_DICT = 2, /* v2 only: one LZ4 block compressed with
				   a dictionary the header names */
};

/* Version 2 frame kinds (byte 6); version 1 frames are all records. */
enum frame_kind {
	FRAME_KIND_RECORDS = 0,	/* a batch of records */
	FRAME_KIND_DICT = 1,	/* a dictionary for later frames */
};

/*
 * One message. For frame_enc_add() every pointer is borrowed for the call
 * (the encoder copies the bytes). In a frame_decode() callback every
 * pointer points into the input frame or the decoder's body buffer and is
 * valid only until the callback returns. topic and payload are not
 * NUL-terminated. props may be NULL when props_len is 0.
 */
struct frame_record {
	const char *topic;	/* 1..FRAME_MAX_TOPIC bytes, no NUL, + or # */
	size_t topic_len;
	const uint8_t *payload;	/* may be NULL when payload_len is 0 */
	size_t payload_len;
	const uint8_t *props;	/* props.h blob: MQTT 5 wire form, ids */
	size_t props_len;	/* 1, 3, 8, 9, 38 only */
	int64_t ts_ms;		/* receive time, ms since the epoch, >= 0 */
	uint32_t expiry_s;	/* message expiry left, when has_expiry */
	int has_expiry;		/* 0 or 1 */
	int qos;		/* 0, 1 or 2 */
	int retain;		/* 0 or 1 */
	int refused;		/* decoder only: 0, or the enum frame_refusal
				   saying why MQTT would refuse the record */
};

/* A frame's header, as frame_peek() and frame_decode() report it. */
struct frame_header {
	int version;
	enum frame_codec codec;
	char gateway_id[FRAME_GWID_MAX + 1];	/* NUL-terminated */
	uint64_t seq;
	uint32_t count;		/* records */
	uint32_t body_len;	/* uncompressed body bytes */
	size_t header_len;	/* bytes before the data part */
	enum frame_kind kind;	/* v2; FRAME_KIND_RECORDS for v1 */
	uint32_t dict_id;	/* v2 codec 2: the dictionary it names;
				   dictionary frame: its own id; else 0 */
	uint32_t dict_check;	/* v2 codec 2: XXH32 of that dictionary's
				   content; else 0 */
};

/*
 * Where a decode failed. offset counts bytes from the start of the frame,
 * or, when in_body is 1, from the start of the uncompressed body (with
 * codec none the body starts at header_len). msg reads
 * "frame: byte 5: unknown codec 7" or "frame: body byte 12: ...".
 */
struct frame_err {
	size_t offset;
	int in_body;
	char msg[FRAME_ERR_LEN];
};

/*
 * Called once per record, in order, only after the whole frame has been
 * validated: a frame is delivered completely or not at all (unless the
 * callback stops it). r and the bytes it points to are borrowed for the
 * call. Returns 0 to continue, anything else to stop the decode.
 */
typedef int (*frame_on_record_fn)(void *arg, const struct frame_record *r);

/*
 * What frame_decode_opts() found in its checking pass over the whole body,
 * before any record is delivered. expanded counts what the records would
 * take once republished one by one, each with its own copy of its topic:
 * a frame names each topic once in its table, so a small frame can stand
 * for far more (a 64 KiB topic used by a million records).
 */
struct frame_summary {
	uint64_t expanded;	/* topic_len + payload_len, all records */
	uint32_t records;	/* the header's count */
	uint32_t refused;	/* records with refused != 0 */
};

/*
 * Called once by frame_decode_opts() after the checking pass and before
 * the first record, with the same arg as the record callback; h and s are
 * borrowed for the call. Returns 0 to go on and deliver the records,
 * anything else to stop the decode (FRAME_ERR_ABORTED) with nothing
 * delivered: the receiver's place to refuse a frame by its size before it
 * stores anything.
 */
typedef int (*frame_on_summary_fn)(void *arg, const struct frame_header *h,
    const struct frame_summary *s);

/*
 * Called by frame_decode_opts() for a version 2 frame with codec 2, after
 * the header checks and before decompression, with the same arg as the
 * record callback: sets *dict and *len to the content of the dictionary
 * h->dict_id of gateway h->gateway_id and returns 0, or returns nonzero
 * when the caller does not have it. The bytes stay borrowed until
 * frame_decode_opts() returns. The decoder itself checks that the content
 * hashes to h->dict_check, so a wrong dictionary is never used.
 */
typedef int (*frame_get_dict_fn)(void *arg, const struct frame_header *h,
    const uint8_t **dict, size_t *len);

/* Options of frame_decode_opts(); start from FRAME_DEC_OPTS_INIT. */
struct frame_dec_opts {
	uint64_t max_expanded;	/* refuse a frame whose records expand to
				   more (FRAME_ERR_EXPANDED); 0: no bound */
	frame_on_summary_fn on_summary;	/* may be NULL */
	frame_get_dict_fn get_dict;	/* may be NULL: codec 2 frames then
					   fail with FRAME_ERR_NODICT */
};
#define FRAME_DEC_OPTS_INIT	{ 0, NULL, NULL }

struct frame_enc;

/*
 * frame_enc_new: an encoder for batches of at most max_records records
 * (1..FRAME_MAX_RECORDS) and max_body_bytes uncompressed body bytes
 * (16..FRAME_MAX_BODY), which counts the topic table and the per-record
 * overhead as well as topics and payloads. Allocates everything the
 * encoder will ever use (at most 2 * max_body_bytes + 24 * max_records
 * bytes, plus liblz4's compression state). The caller owns the result
 * (frame_enc_free). Returns NULL when out of memory or when a cap is out
 * of range. The encoder must be reset before the first add.
 */
struct frame_enc *frame_enc_new(size_t max_records, size_t max_body_bytes);

/* frame_enc_free: frees e; NULL is a no-op. */
void frame_enc_free(struct frame_enc *e);

/*
 * frame_enc_reset: starts a new, empty batch for gateway_id (borrowed;
 * 1..64 chars of [A-Za-z0-9._-]) with sequence number seq. Returns 0, or
 * FRAME_ERR_INVAL for a bad gateway id (e is then not ready for adds).
 */
int frame_enc_reset(struct frame_enc *e, const char *gateway_id,
    uint64_t seq);

/*
 * frame_enc_add: appends r (borrowed for the call, fields as described at
 * struct frame_record) to the open batch. Returns 0, or:
 * FRAME_ERR_FULL when the batch already holds max_records records or the
 * record would take the body past max_body_bytes: close the batch
 * (frame_enc_finish) and add it to the next one;
 * FRAME_ERR_TOOBIG when the record does not fit even in an empty batch;
 * FRAME_ERR_INVAL when a field is out of range, the props blob is
 * malformed, or no batch is open.
 * After any error the batch is unchanged and still open.
 */
int frame_enc_add(struct frame_enc *e, const struct frame_record *r);

/*
 * frame_enc_set_seq: changes the open batch's sequence number (the header
 * is written only by frame_enc_finish). For a sender that learns the
 * number when it closes the batch, not when it opens it.
 */
void frame_enc_set_seq(struct frame_enc *e, uint64_t seq);

/*
 * frame_enc_set_version: the format version frame_enc_finish() writes from
 * now on, FRAME_VERSION (1, the default) or FRAME_VERSION_2. Returns 0 or
 * FRAME_ERR_INVAL.
 */
int frame_enc_set_version(struct frame_enc *e, int version);

/*
 * frame_enc_set_dict: the dictionary (id 1..UINT32_MAX, 1..FRAME_DICT_MAX
 * bytes) that version 2 frames with codec lz4 are compressed with from now
 * on (they are then written with codec 2 and name it); dict NULL or len 0
 * clears it. dict is borrowed until the next frame_enc_set_dict() or
 * frame_enc_free(). Returns 0 or FRAME_ERR_INVAL.
 */
int frame_enc_set_dict(struct frame_enc *e, uint32_t id, const uint8_t *dict,
    size_t len);

/*
 * frame_enc_last_body: the uncompressed body of the frame the last
 * successful frame_enc_finish() wrote, *len its length; valid until the
 * next frame_enc_reset(). NULL (and *len 0) when there is none.
 */
const uint8_t *frame_enc_last_body(const struct frame_enc *e, size_t *len);

/* frame_enc_count: records in the open batch. */
uint32_t frame_enc_count(const struct frame_enc *e);

/* frame_enc_body_len: uncompressed body bytes the open batch would take. */
size_t frame_enc_body_len(const struct frame_enc *e);

/*
 * frame_bound: the largest frame an encoder made with max_body_bytes can
 * produce, with either codec. Allocate the output buffer once with it.
 */
size_t frame_bound(size_t max_body_bytes);

/*
 * frame_enc_finish: writes the open batch as one frame with codec into
 * out (cap bytes; frame_bound() of the encoder's max_body_bytes always
 * suffices) and stores the frame's length in *out_len. The batch is then
 * closed: call frame_enc_reset() before adding again. Returns 0, or
 * FRAME_ERR_INVAL (unknown codec, no open batch), FRAME_ERR_NOSPACE (cap
 * too small), FRAME_ERR_LZ4 (liblz4 failed); after an error the batch is
 * still open and may be finished again.
 */
int frame_enc_finish(struct frame_enc *e, enum frame_codec codec,
    uint8_t *out, size_t cap, size_t *out_len);

/*
 * frame_peek: reads and checks the header of the frame in buf (len bytes,
 * borrowed) without touching the data part, and fills *h. For the
 * receiver's duplicate check before it decodes. Returns 0 or a negative
 * FRAME_ERR_* code, with *err (may be NULL) filled on error.
 */
int frame_peek(const uint8_t *buf, size_t len, struct frame_header *h,
    struct frame_err *err);

/*
 * frame_decode: validates the whole frame in buf (len bytes, borrowed),
 * then calls on_record (may be NULL, to validate only) for each record
 * with arg. Fills *h (may be NULL) with the header. Never reads outside
 * buf; allocates, with codec lz4 only, the body (at most FRAME_MAX_BODY
 * bytes) and liblz4's decompression state, and frees both before
 * returning. Returns 0, FRAME_ERR_ABORTED when on_record returned
 * nonzero, FRAME_ERR_NOMEM, or the code of the first fault in the frame,
 * with *err (may be NULL) saying where and what.
 */
int frame_decode(const uint8_t *buf, size_t len, struct frame_header *h,
    frame_on_record_fn on_record, void *arg, struct frame_err *err);

/*
 * frame_decode_opts: frame_decode() with options (o may be NULL: none).
 * The checking pass also sums the records' expanded size and stops with
 * FRAME_ERR_EXPANDED, err naming the record that crosses the bound, as
 * soon as it passes o->max_expanded: the work is bounded by the frame's
 * own size, not by what it expands to. Then o->on_summary, if set, sees
 * the sums and may stop the decode (FRAME_ERR_ABORTED) before the first
 * record. Returns and allocates as frame_decode().
 */
int frame_decode_opts(const uint8_t *buf, size_t len, struct frame_header *h,
    const struct frame_dec_opts *o, frame_on_record_fn on_record, void *arg,
    struct frame_err *err);

/*
 * frame_dict_check: XXH32 (seed 0) of a dictionary's content, the value a
 * version 2 frame names it with besides its id.
 */
uint32_t frame_dict_check(const uint8_t *dict, size_t len);

/* frame_dict_bound: the largest dictionary frame for len content bytes. */
size_t frame_dict_bound(size_t len);

/*
 * frame_dict_encode: writes a version 2 dictionary frame for gateway_id
 * (as frame_enc_reset), sequence number seq, dictionary id (1..UINT32_MAX)
 * and content dict (1..FRAME_DICT_MAX bytes, borrowed), with codec
 * FRAME_CODEC_NONE or FRAME_CODEC_LZ4 (LZ4 HC, level 9: sent rarely),
 * into out (cap bytes, frame_dict_bound(len) suffices); *out_len gets its
 * length. Returns 0, FRAME_ERR_INVAL, FRAME_ERR_NOSPACE or FRAME_ERR_LZ4.
 * With LZ4 liblz4 allocates its HC state (about 256 KiB) for the call.
 */
int frame_dict_encode(const char *gateway_id, uint64_t seq, uint32_t id,
    const uint8_t *dict, size_t len, enum frame_codec codec, uint8_t *out,
    size_t cap, size_t *out_len);

/*
 * frame_dict_decode: validates the version 2 dictionary frame in buf (len
 * bytes, borrowed) and copies its content into out (cap bytes; at least
 * FRAME_DICT_MAX for any valid frame), *out_len its length; fills *h (may
 * be NULL; h->dict_id is the frame's id, h->dict_check the content's
 * XXH32). Returns 0 or a FRAME_ERR_* code with *err (may be NULL) filled;
 * a records frame is FRAME_ERR_INVAL. Allocates nothing.
 */
int frame_dict_decode(const uint8_t *buf, size_t len, struct frame_header *h,
    uint8_t *out, size_t cap, size_t *out_len, struct frame_err *err);

/* frame_refusal_str: a static description of why (an enum frame_refusal). */
const char *frame_refusal_str(int why);

/* frame_strerror: a static description of code (a FRAME_ERR_* value). */
const char *frame_strerror(int code);

/*
 * Internal to relay/frame.c, frame_enc.c, frame_dec.c and frame_dec2.c,
 * in the manner of LZ4F_STATIC_LINKING_ONLY: the layout constants of
 * docs/frame-format.md and the checks the encoder and the decoder share,
 * so that the encoder never writes a frame the decoder refuses; and the
 * decoder's reader, shared by its two halves. Not an API.
 */
#ifdef FRAME_INTERNAL
/* Header layout: fixed part, gateway id, tail. */
#define FRAME_FIXED_LEN		8	/* magic, version, codec, flags, gwlen */
#define FRAME_TAIL_LEN		24	/* seq, count, body_len, 2 checks */
#define FRAME_HEADER_MAX	(FRAME_FIXED_LEN + FRAME_GWID_MAX + \
				    FRAME_V2_TAIL_MAX)
/* Version 2 after the gateway id: seq, count, body_len, dict id, dict
   check, check (varints at their longest). */
#define FRAME_V2_TAIL_MAX	(10 + 5 + 4 + 5 + 4 + 4)
/* Smallest record: flags, topic index, time delta, payload length. */
#define FRAME_MIN_RECORD	4
/* LZ4 HC level of dictionary frames (frame_dict_encode). */
#define FRAME_DICT_HC_LEVEL	9
/* LZ4 never produces more than 255 bytes per byte of input. */
#define FRAME_LZ4_MAX_RATIO	255u

/* Record flags (docs/frame-format.md, "Record"). */
#define FRAME_F_QOS		0x03	/* QoS 0, 1 or 2; 3 is invalid */
#define FRAME_F_RETAIN		0x04
#define FRAME_F_EXPIRY		0x08	/* an expiry varint follows */
#define FRAME_F_PROPS		0x10	/* a props length and blob follow */
#define FRAME_F_RESERVED	0xe0	/* must be zero */

extern const uint8_t frame__magic[4];

/* frame__xxh32: XXH32 of p (len bytes) with seed 0, as LZ4 frames use. */
uint32_t frame__xxh32(const uint8_t *p, size_t len);
/* frame__xxh32_seed: XXH32 of p with a seed (v2's check, section 2.3). */
uint32_t frame__xxh32_seed(const uint8_t *p, size_t len, uint32_t seed);

/*
 * The checks below each return 0, or -1 with *at set to the offset of the
 * fault in their input and why (FRAME_ERR_LEN bytes) filled.
 * frame__check_gwid: every byte in [A-Za-z0-9._-] (the length is the
 * caller's). frame__check_topic: no NUL, '+' or '#'.
 * frame__check_props: the props blob of relay/props.h: ids 1, 3, 8, 9, 38
 * only, every length inside the blob, ids other than 38 at most once,
 * payload format indicator 0 or 1.
 */
int frame__check_gwid(const char *id, size_t len, size_t *at, char *why);
int frame__check_topic(const char *t, size_t len, size_t *at, char *why);
int frame__check_props(const uint8_t *p, size_t len, size_t *at,
    char *why);

/*
 * MQTT's string rules, for the decoder's refused field: the enum
 * frame_refusal of a record topic (t, len bytes, already through
 * frame__check_topic), or of the strings in a props blob that
 * frame__check_props accepted; FRAME_REC_OK when MQTT takes them.
 */
int frame__mqtt_topic(const uint8_t *t, size_t len);
int frame__mqtt_props(const uint8_t *p, size_t len);
/*
 * The decoder's half shared by frame_dec.c (v1, the reader, the records)
 * and frame_dec2.c (v2). A struct frame_rd walks one region (the frame,
 * or the body) and turns every fault into an error code plus a message
 * naming the offset, in the coordinates of struct frame_err.
 */
struct frame_rd {
	const uint8_t *start;	/* offset base */
	const uint8_t *p;
	const uint8_t *end;
	size_t base;		/* offset of start in the reported coordinates */
	int in_body;
	int short_code;		/* code for running off the end */
	struct frame_err *err;
};
/* frame__get_le: the n-byte little-endian number at p. */
uint64_t frame__get_le(const uint8_t *p, int n);
/* frame__rd_fail: fills rd->err (if any) with the offset of at and the
 * printf-style reason; returns code. */
int frame__rd_fail(const struct frame_rd *rd, const uint8_t *at, int code,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* frame__rd_need: FRAME_OK when n bytes are left, else rd->short_code. */
int frame__rd_need(const struct frame_rd *rd, size_t n, const char *what);
/* frame__rd_varint: a minimal LEB128 varint of at most 10 bytes, <= max. */
int frame__rd_varint(struct frame_rd *rd, uint64_t max, const char *what,
    uint64_t *v);
/* frame__dec_records: the body's records (checking pass, o's summary,
 * delivery to on_record); o and on_record may be NULL. */
int frame__dec_records(const struct frame_rd *body,
    const struct frame_header *h, const struct frame_dec_opts *o,
    frame_on_record_fn on_record, void *arg);
/* frame__dec_header2: the v2 header after its fixed 8 bytes are there. */
int frame__dec_header2(struct frame_rd *rd, struct frame_header *h);
/* frame__dec_v2: frame_decode_opts() for a v2 frame whose header h is
 * peeked. */
int frame__dec_v2(const uint8_t *buf, size_t len, struct frame_header *h,
    const struct frame_dec_opts *o, frame_on_record_fn on_record, void *arg,
    struct frame_err *err);

#endif /* FRAME_INTERNAL */

#endif
