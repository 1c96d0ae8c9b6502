/*
 * unpack: the central-site step of the pipeline (`pushrelay unpack`).
 *
 * The unpacker is the relay's pipeline with one link: its one route
 * (mode CONF_MODE_UNPACK, platform/conf.h) subscribes to the batch
 * frames on the central broker, and each frame taken in becomes its
 * records, queued in the open transaction to be published on the same
 * link at their own topics, QoS, retain flag and properties. The frame's
 * PUBACK leaves after the commit that stores the records, like any
 * message's; each record leaves the queue when its own PUBACK comes.
 *
 * Duplicates: the last sequence number taken from each gateway is kept in
 * the queue's file (queue_meta_set), written in the transaction that
 * stores the frame's records. A frame whose number is at most that, and
 * less than UNPACK_DUP_SPAN below it, was taken already and is dropped
 * (counted). One further below is a gateway with a new queue (its ids
 * start at a random point, storage/queue_file.c): taken, and logged.
 *
 * A frame that does not decode, or whose gateway id is not one level of
 * the topic it came on (a gateway must not speak for another one and
 * spoil its sequence numbers), is dropped, counted and logged with what
 * is wrong and at which byte. Thread: main loop only.
 */
#ifndef PUSHRELAY_UNPACK_H
#define PUSHRELAY_UNPACK_H

#include <stdint.h>

#include "relay/link.h"

struct relay;

/* How far below a gateway's last number a frame counts as sent again. */
#define UNPACK_DUP_SPAN		(UINT64_C(1) << 32)

/*
 * unpack_frame: take in the frame that message ev (borrowed for the call) carries
 * as its payload, as described above. Errors are counted in r's stats and
 * logged (rate-limited) here; nothing is returned.
 */
void unpack_frame(struct relay *r, const struct link_msg *ev);

#endif
