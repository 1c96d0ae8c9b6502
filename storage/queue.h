/* SPDX-License-Identifier: ISC */
/*
 * queue: the durable, bounded store-and-forward queue, in one SQLite file.
 *
 * Every message the relay accepts, in either direction, is pushed here and
 * stays until the other side acknowledges it (queue_ack). The queue owns the
 * SQLite connection and the write transaction: writes open a transaction
 * lazily and queue_commit() ends it, so the main loop commits once per
 * iteration (one fsync per burst, not per message). It also keeps, in
 * memory only, which messages have been handed out for sending (in flight),
 * so queue_fetch() never hands the same message out twice until
 * queue_release_all() puts the in-flight ones back after a connection loss.
 *
 * Order: queue_fetch() returns messages of one direction by priority
 * (higher first), then by arrival (id ascending), so order within one
 * priority, and therefore within one topic, is kept.
 *
 * Bound: the sum of topic+payload bytes over both directions stays at or
 * below max_bytes. When a push does not fit, QUEUE_DROP_OLDEST evicts the
 * oldest messages of the pushed message's direction until it fits;
 * QUEUE_DROP_NEWEST refuses the new message. A message larger than the
 * whole bound is always refused.
 *
 * Expiry: a message whose expire_ms deadline (wall-clock ms) has passed is
 * never handed out: queue_fetch() and queue_expire() delete and count it.
 *
 * Corruption: a file that SQLite reports as corrupt or not a database at
 * queue_open() is renamed to PATH.corrupt-YYYYmmddTHHMMSS (with its -wal and
 * -shm files) and a fresh queue is created.
 *
 * Thread: main loop only. Blocking: every call may block on disk I/O;
 * queue_commit() may fsync.
 */
#ifndef PUSHRELAY_QUEUE_H
#define PUSHRELAY_QUEUE_H

#include <stddef.h>
#include <stdint.h>

enum queue_err {
	QUEUE_OK = 0,
	QUEUE_ERR_FULL = -1,	/* message refused by the bound or the policy */
	QUEUE_ERR_IO = -2,	/* SQLite failed; err text says why */
	QUEUE_ERR_CORRUPT = -3,	/* the file is corrupt (runtime detection) */
	QUEUE_ERR_NOMEM = -4,
	QUEUE_ERR_INVAL = -5,	/* bad argument */
	QUEUE_ERR__COUNT = 5	/* number of codes, for the strerror table */
};

enum queue_dir {
	QUEUE_UP = 0,		/* local -> central */
	QUEUE_DOWN = 1,		/* central -> local */
};

enum queue_policy {
	QUEUE_DROP_OLDEST = 0,
	QUEUE_DROP_NEWEST = 1,
};

/* Same numbering as enum conf_sync. */
enum queue_sync {
	QUEUE_SYNC_OFF = 0,
	QUEUE_SYNC_NORMAL = 1,
	QUEUE_SYNC_FULL = 2,
};

struct queue_conf {
	const char *path;	/* borrowed for queue_open() only */
	uint64_t max_bytes;	/* > 0 */
	enum queue_policy policy;
	enum queue_sync sync;
};

/*
 * One message. In queue_push() all pointers are borrowed for the call.
 * In a queue_fetch() callback all pointers point into the queue's own
 * buffers and are valid only until the callback returns.
 */
struct queue_msg {
	int64_t id;		/* set by queue_push(); > 0 */
	enum queue_dir dir;
	int priority;
	const char *topic;	/* NUL-terminated destination topic */
	const void *payload;	/* may be NULL when payload_len is 0 */
	size_t payload_len;
	const void *props;	/* opaque encoded properties, may be NULL */
	size_t props_len;
	int qos;		/* 0..2 */
	int retain;		/* 0 or 1 */
	int64_t ts_ms;		/* receive time, wall clock ms */
	int64_t expire_ms;	/* wall-clock ms deadline, 0 = never */
};

struct queue;

/*
 * Called by queue_fetch() for each message handed out.
 * Return 0 to accept it (it is now in flight), non-zero to refuse it and
 * stop the fetch (it stays queued and is not in flight).
 * The callback may call queue_stats() and queue_inflight() only; the
 * other queue functions return QUEUE_ERR_INVAL (or do nothing) meanwhile.
 */
typedef int (*queue_fetch_cb)(void *arg, const struct queue_msg *m);

/*
 * queue_open: open or create the queue at qc->path.
 * out: receives the queue on success. err/errlen: caller-owned buffer;
 * on failure it holds "queue PATH: why"; on success it is "" or, when a
 * corrupt file was moved aside, "queue PATH: corrupt (why), moved to NEWPATH"
 * and *recovered is set to 1 (recovered may be NULL).
 * The directory of PATH must exist (it is not created); a new file gets
 * mode 0600. A file with a schema version other than this build's, or
 * with tables that are not the queue's, is refused (QUEUE_ERR_IO) and left
 * untouched; so is a PATH, PATH-wal or PATH-shm that is a symbolic link or
 * not a regular file with one link (never followed). Reads the whole file once (PRAGMA quick_check).
 * Returns QUEUE_OK, QUEUE_ERR_IO, QUEUE_ERR_NOMEM, QUEUE_ERR_INVAL.
 */
int queue_open(struct queue **out, const struct queue_conf *qc,
    int *recovered, char *err, size_t errlen);

/*
 * queue_free: commit what is pending and close. NULL is a no-op. A failed
 * commit here is logged; call queue_commit() first to handle it yourself.
 */
void queue_free(struct queue *q);

/*
 * queue_set_limits: change the bound and policy (on reload). Takes effect
 * on the next push; nothing already queued is evicted by the call itself.
 */
void queue_set_limits(struct queue *q, uint64_t max_bytes,
    enum queue_policy policy);

/*
 * queue_set_reserve: keep bytes of the bound for direction dir: the other
 * direction may hold at most max_bytes - bytes, so that a full store of
 * one direction never refuses the other (the relay reserves a share for
 * the downlink: commands from the central service always fit). Under
 * QUEUE_DROP_OLDEST a push evicts its own direction's oldest messages to
 * keep to both bounds. 0 (the default): no reserve. Takes effect on the
 * next push.
 */
void queue_set_reserve(struct queue *q, enum queue_dir dir, uint64_t bytes);

/*
 * queue_push: store m (inside the open transaction). m is borrowed; m->id
 * is set on success. *evicted (may be NULL) receives how many older
 * messages were dropped to make room. Under QUEUE_DROP_OLDEST nothing
 * is evicted when evicting every message of m's direction would still not
 * make room; m is then refused.
 * Returns QUEUE_OK, QUEUE_ERR_FULL (m was not stored; err untouched),
 * QUEUE_ERR_IO, QUEUE_ERR_CORRUPT, QUEUE_ERR_NOMEM, QUEUE_ERR_INVAL (m is
 * malformed: NULL topic, dir/qos/retain out of range, NULL pointer with a
 * non-zero length, expire_ms < 0). err as in queue_open (may be NULL).
 */
int queue_push(struct queue *q, struct queue_msg *m, uint64_t *evicted,
    char *err, size_t errlen);

/*
 * queue_fetch: hand out up to max messages of direction dir that are not
 * in flight, in order, calling cb for each. Expired messages met on the
 * way (expire_ms != 0 && expire_ms <= now_ms) are deleted instead (inside
 * the open transaction, so commit afterwards) and *expired (may be NULL)
 * is SET to how many this call deleted, even on error; it is not added to.
 * Returns the number of messages accepted by cb (>= 0), or a negative
 * QUEUE_ERR_*.
 */
int queue_fetch(struct queue *q, enum queue_dir dir, int64_t now_ms,
    size_t max, queue_fetch_cb cb, void *arg, uint64_t *expired,
    char *err, size_t errlen);

/*
 * queue_ack: delete message id (the other side has it). Deleting an id
 * that is no longer there (evicted meanwhile) is not an error.
 * Returns QUEUE_OK, QUEUE_ERR_IO, QUEUE_ERR_CORRUPT.
 */
int queue_ack(struct queue *q, int64_t id, char *err, size_t errlen);

/*
 * queue_release_all: every in-flight message of direction dir becomes
 * fetchable again, from the start of the order (after a connection loss).
 */
void queue_release_all(struct queue *q, enum queue_dir dir);

/*
 * queue_expire: delete every message whose deadline has passed (inside
 * the open transaction) and SET *expired (may be NULL) to how many. When
 * nothing is due it writes nothing. Returns QUEUE_OK or an error.
 */
int queue_expire(struct queue *q, int64_t now_ms, uint64_t *expired,
    char *err, size_t errlen);

/*
 * queue_commit: commit the open transaction, if any. Returns QUEUE_OK or
 * an error (the transaction is rolled back on error). After a rollback,
 * whether from a failed commit or because SQLite abandoned the transaction
 * after an I/O or full-disk error in another call, the counters are re-read
 * from the file and every in-flight message of both directions is released
 * as by queue_release_all(): ids handed out earlier may come again, and
 * their ids are never given to new messages.
 */
int queue_commit(struct queue *q, char *err, size_t errlen);

/*
 * queue_rollback: give up the open transaction, if any: what it held is
 * undone, the counters are re-read from the file and every in-flight
 * message of both directions is released, as after a failed commit. For
 * a caller that saw one of its writes fail: SQLite may have rolled the
 * whole transaction back by itself already (then queue_commit() would
 * find nothing to commit and return QUEUE_OK), or only the failed
 * statement; either way none of the transaction may be trusted.
 */
void queue_rollback(struct queue *q);

/* queue_stats: messages and topic+payload bytes queued in direction dir. */
void queue_stats(const struct queue *q, enum queue_dir dir,
    uint64_t *messages, uint64_t *bytes);

/*
 * queue_next_id: the id the next queue_push() will give its message (ids
 * only grow and are never reused, across restarts too).
 */
int64_t queue_next_id(const struct queue *q);

/* queue_inflight: number of messages of dir currently handed out. */
size_t queue_inflight(const struct queue *q, enum queue_dir dir);

/*
 * queue_ack_ids: as queue_ack() for each of the n ids (borrowed), with one
 * statement per run of consecutive ids: for a batch frame's members, whose
 * ids mostly follow each other. Ids no longer queued are skipped. Stores
 * the number deleted in *done (may be NULL). Returns QUEUE_OK or a
 * QUEUE_ERR_* with err set.
 */
int queue_ack_ids(struct queue *q, const int64_t *ids, size_t n,
    uint64_t *done, char *err, size_t errlen);

/*
 * queue_meta_get: the integer that queue_meta_set() stored under key
 * (NUL-terminated, borrowed), into *val. Sees the open transaction's
 * writes. Returns 1 when found, 0 when not, or a QUEUE_ERR_* with err set.
 */
int queue_meta_get(struct queue *q, const char *key, int64_t *val,
    char *err, size_t errlen);

/*
 * queue_meta_set: store val under key in the open transaction (opening
 * one when none is): it becomes durable at the next queue_commit(),
 * together with the messages pushed in the same transaction, or not at
 * all. Returns QUEUE_OK or a QUEUE_ERR_* with err set.
 */
int queue_meta_set(struct queue *q, const char *key, int64_t val,
    char *err, size_t errlen);

/*
 * queue_meta_clear: delete, in the open transaction, every key that
 * starts with prefix (borrowed). Returns QUEUE_OK or a QUEUE_ERR_* with
 * err set.
 */
int queue_meta_clear(struct queue *q, const char *prefix, char *err,
    size_t errlen);

/*
 * queue_meta_each: call fn for every key that starts with prefix
 * (borrowed), in key order, with the key (valid during the call) and its
 * value. fn must not call the queue. Returns QUEUE_OK or a QUEUE_ERR_*
 * with err set.
 */
typedef void (*queue_meta_fn)(void *arg, const char *key, int64_t val);
int queue_meta_each(struct queue *q, const char *prefix, queue_meta_fn fn,
    void *arg, char *err, size_t errlen);

/*
 * Per-message accounting beside the queue (the unpacker's bytes per
 * gateway, relay/gwshare.h). A queue_row_fn sees one stored message:
 * its direction, the first QUEUE_TOPIC_HEAD bytes of its topic (head,
 * head_len bytes, not NUL-terminated, valid for the call) and its
 * topic+payload bytes as the bound counts them. It must not call the
 * queue.
 */
#define QUEUE_TOPIC_HEAD	256
typedef void (*queue_row_fn)(void *arg, enum queue_dir dir, const void *head,
    size_t head_len, uint64_t bytes);

/*
 * queue_set_on_forget: call fn (NULL: nothing) with arg for every message
 * deleted from now on, however it goes: acknowledged, evicted, expired
 * or dropped. A transaction that is rolled back brings its deleted
 * messages back (and drops what it pushed) without a call: the
 * accounting must then be rebuilt, which queue_generation() tells.
 */
void queue_set_on_forget(struct queue *q, queue_row_fn fn, void *arg);

/*
 * queue_generation: a number that changes whenever the queue re-reads
 * its counters from the file (at open, and after a rolled-back
 * transaction). Accounting built with queue_scan() under one number is
 * stale under another.
 */
uint64_t queue_generation(const struct queue *q);

/*
 * queue_scan: call fn with arg for every message of direction dir
 * stored now (the open transaction's writes included), in id order. One
 * pass over the table: as costly as queue_open()'s count, so for a start
 * and after a rollback, not per message. Not from a fetch callback.
 * Returns QUEUE_OK or a QUEUE_ERR_* with err set (fn may have been
 * called for some messages).
 */
int queue_scan(struct queue *q, enum queue_dir dir, queue_row_fn fn,
    void *arg, char *err, size_t errlen);

/*
 * queue_journal (queue_file.c): the journal mode SQLite uses for the
 * queue's file: "wal", or "truncate" where WAL could not be used (a file
 * system that cannot map shared memory, as JFFS2; docs/openwrt.md), or
 * "?" when SQLite cannot say. Static text. Main loop only; reads no disk.
 */
const char *queue_journal(struct queue *q);

/* queue_strerror: static text for a queue_err code. */
const char *queue_strerror(int err);

#endif
