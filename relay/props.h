/*
 * props: the MQTT 5 properties that travel with a message, in and out of
 * the queue's opaque props blob.
 *
 * The blob is the MQTT 5 wire form of each carried property, one after the
 * other, without the leading length: a one-byte identifier, then the value
 * as MQTT encodes it (a byte; or a two-byte big-endian length and the
 * bytes; or two such strings for a user property). Carried: payload format
 * indicator (1), content type (3), response topic (8), correlation data
 * (9), user properties (38). Message expiry is not in the blob: it becomes
 * the queue's absolute deadline and is turned back into the time left
 * when the message is sent.
 *
 * Thread: any; no state.
 */
#ifndef PUSHRELAY_PROPS_H
#define PUSHRELAY_PROPS_H

#include <stddef.h>
#include <stdint.h>

#include <MQTTProperties.h>

/* props_encoded_size: bytes props_encode() needs for p (borrowed). */
size_t props_encoded_size(const MQTTProperties *p);

/*
 * props_encode: write the carried properties of p into buf (cap bytes,
 * at least props_encoded_size(p)). Stores the message expiry interval in
 * *expiry_s and sets *has_expiry when p has one. Returns bytes written.
 */
size_t props_encode(const MQTTProperties *p, uint8_t *buf, size_t cap,
    uint32_t *expiry_s, int *has_expiry);

/*
 * props_decode: add the properties in buf (len bytes, borrowed) to out
 * (caller frees with MQTTProperties_free), plus a message expiry interval
 * of the seconds left until expire_ms at now_ms when expire_ms != 0
 * (at least 1). Returns 0, or -1 when the blob is malformed (out then
 * holds what was decoded before the fault).
 */
int props_decode(const uint8_t *buf, size_t len, int64_t expire_ms,
    int64_t now_ms, MQTTProperties *out);

#endif
