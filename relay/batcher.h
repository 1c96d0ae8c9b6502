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

/* Uncompressed topic+payload bytes of the members of the frames closed. */
uint64_t batcher_raw_bytes(const struct batcher *b);

#endif
