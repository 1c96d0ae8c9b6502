/* SPDX-License-Identifier: ISC */
/*
 * batcher: gathers uplink messages of routes in mode batch into one frame
 * (relay/frame.h) until config batch's limits or its linger time say the
 * frame is due.
 *
 * Messages of batch routes wait in the queue like any other, with a
 * priority below every raw route's (BATCHER_PRIO_BASE + the route's
 * priority), so the queue hands them out after raw messages and in
 * arrival order. The relay adds what the queue hands out; when the frame
 * is due it closes it under the sequence number the relay gives (the
 * queue id the frame itself will be stored under), stores the frame as
 * one queue message and deletes the members in the same transaction. A
 * frame, once stored, is re-sent after a reconnect or a restart with the
 * same number and the same bytes; an open frame that is lost (crash,
 * connection loss) was never sent, and its members are still queued.
 *
 * Ownership: the batcher owns the encoder, its output buffer and the list
 * of member ids, all sized once from the config. Thread: main loop only.
 */
#ifndef PUSHRELAY_BATCHER_H
#define PUSHRELAY_BATCHER_H

#include <stddef.h>
#include <stdint.h>

#include "platform/conf.h"
#include "storage/queue.h"

/* Queue priorities of batch-route messages: BASE + the route's priority. */
#define BATCHER_PRIO_BASE	(-1000)

/* Content type set on frame publishes. */
#define BATCHER_CONTENT_TYPE	"application/vnd.pushrelay.batch"

enum batcher_err {
	BATCHER_OK = 0,
	BATCHER_FULL = -1,	/* close the open frame, then add again */
	BATCHER_REFUSED = -2,	/* the message can never be framed: drop */
	BATCHER_FAILED = -3,	/* encoding failed (LZ4) */
};

struct batcher;

/*
 * batcher_new: a batcher for c (borrowed for the call) and gateway id gwid
 * (borrowed for the call). Returns NULL when out of memory.
 */
struct batcher *batcher_new(const struct conf_batch *c, const char *gwid);

/* batcher_free: NULL is a no-op. */
void batcher_free(struct batcher *b);

/* batcher_is_member: whether a queued message belongs to a batch route. */
int batcher_is_member(const struct queue_msg *m);

/*
 * batcher_add: adds m (borrowed for the call; a member) to the open frame
 * at monotonic time now_ms (starts the linger) and wall time wall_ms (for
 * the expiry left). Returns BATCHER_OK, BATCHER_FULL or BATCHER_REFUSED.
 */
int batcher_add(struct batcher *b, const struct queue_msg *m, int64_t now_ms,
    int64_t wall_ms);

/* batcher_count: members in the open frame. */
size_t batcher_count(const struct batcher *b);

/*
 * batcher_member_due: the member batcher_add() just took must leave by
 * monotonic time due_ms (its arrival plus its route's max_delay_ms); it
 * then does not count for linger_ms. Call it at most once per member,
 * right after its BATCHER_OK.
 */
void batcher_member_due(struct batcher *b, int64_t due_ms);

/*
 * batcher_due_ms: monotonic time at which the open frame must close: the
 * earliest of the first linger member's arrival in it plus linger_ms and
 * every batcher_member_due(); at once when full or when a member came
 * from a route with a priority above 0. -1 when empty.
 */
int64_t batcher_due_ms(const struct batcher *b);

/* batcher_urgent: a member of the open frame has a route priority > 0. */
int batcher_urgent(const struct batcher *b);

/*
 * batcher_close: writes the open frame with sequence number seq. *frame
 * and *len point into the batcher's buffer, *ids and *n at the members'
 * queue ids; both stay valid until the next add or reset. The batcher is
 * empty afterwards. Returns BATCHER_OK or BATCHER_FAILED (the frame is
 * then discarded; its members are still queued).
 */
int batcher_close(struct batcher *b, uint64_t seq, const uint8_t **frame,
    size_t *len, const int64_t **ids, size_t *n);

/* batcher_reset: forgets the open frame (its members are still queued). */
void batcher_reset(struct batcher *b);

/*
 * Shared dictionary (frame version 2 with lz4 and option
 * dictionary_bytes > 0; docs/frame-format.md section 8). The batcher
 * keeps the last dictionary_bytes of the frame bodies it wrote. It wants
 * a new dictionary (batcher_dict_due) when it has 4 KiB of them and none
 * yet, when they have grown to twice the current dictionary (until it is
 * dictionary_bytes), after dictionary_rotate bytes of bodies, and when a
 * 64 KiB window of frames compressed 25% worse than the first 64 KiB
 * after the dictionary, or whose frames average more than 2x off the
 * baseline's size. The relay then numbers it, stores its frame in
 * the queue before the frame that first uses it, in the same transaction
 * (batcher_dict_make), and keeps it in the store to use again after a
 * restart (batcher_dict_set).
 */

/* batcher_dict_due: whether a new dictionary should precede the next frame. */
int batcher_dict_due(const struct batcher *b);

/*
 * batcher_dict_make: makes the dictionary id from the recent bodies,
 * writes its frame under sequence number seq (*frame, *len valid until the
 * next batcher_dict_make or batcher_dict_resend) and compresses the
 * frames closed from now on with it. *dict, *dict_len: its content, valid
 * until the dictionary changes. Returns BATCHER_OK or BATCHER_FAILED.
 */
int batcher_dict_make(struct batcher *b, uint32_t id, uint64_t seq,
    const uint8_t **frame, size_t *len, const uint8_t **dict,
    size_t *dict_len);

/*
 * batcher_dict_resend: the current dictionary's frame again, under seq.
 * Returns BATCHER_OK, or BATCHER_FAILED when there is no dictionary.
 */
int batcher_dict_resend(struct batcher *b, uint64_t seq,
    const uint8_t **frame, size_t *len);

/*
 * batcher_dict_set: use dictionary id with content d (len bytes, copied;
 * at most dictionary_bytes), as stored; id 0 or len 0 drops it, so that
 * frames go without one. Returns BATCHER_OK or BATCHER_FAILED.
 */
int batcher_dict_set(struct batcher *b, uint32_t id, const uint8_t *d,
    size_t len);

/* batcher_dict_id: the current dictionary's id, 0 for none or if off. */
uint32_t batcher_dict_id(const struct batcher *b);

/* batcher_dict_on: whether this batcher uses dictionaries at all. */
int batcher_dict_on(const struct batcher *b);

/* Uncompressed topic+payload bytes of the members of the frames closed. */
uint64_t batcher_raw_bytes(const struct batcher *b);

#endif
