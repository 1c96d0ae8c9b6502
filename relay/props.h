/* SPDX-License-Identifier: ISC */
/*
 * props: the MQTT 5 properties that travel with a message, in and out of
 * the queue's opaque props blob.
 *
 * The blob is the MQTT 5 wire form of each carried property, one after the
 * other, without the leading length: a one-byte identifier, then the value
 * as MQTT encodes it. Carried: payload format indicator (1), content type
 * (3), response topic (8), correlation data (9), user properties (38).
 * Message expiry is not in the blob: it becomes the queue's absolute
 * deadline, and the link turns it back into the time left when the
 * message is sent. Topic alias and subscription identifiers belong to one
 * connection and are never carried.
 *
 * Thread: any; no state.
 */
#ifndef PUSHRELAY_PROPS_H
#define PUSHRELAY_PROPS_H

#include <stddef.h>
#include <stdint.h>

/*
 * props_carry: copy the carried properties of a decoded PUBLISH's
 * property section (raw, len bytes, borrowed; already validated by the
 * decoder) into out (cap bytes). Returns the bytes written; a property
 * that does not fit is left out, with those after it.
 */
size_t props_carry(const uint8_t *raw, size_t len, uint8_t *out,
    size_t cap);

#endif
