/* SPDX-License-Identifier: ISC */
/*
 * gwshare: the bytes each gateway has queued in the unpacker's store, so
 * that one gateway cannot take more than its share of it (docs/unpack.md,
 * "Trust").
 *
 * A record's gateway is read from its topic: the unpacker stores every
 * record under its gateway's prefix (option record_prefix, a template
 * "A%iB" whose B starts with '/'), so the id is what stands between A and
 * the next '/'. gwshare_note() adds or takes away a record's bytes by its
 * topic: the unpacker calls it for each record it stores, the queue's
 * on_forget hook for each one that leaves, and a queue_scan() rebuilds
 * the whole after a start or a rollback. A topic that does not have the
 * template's shape counts for no gateway.
 *
 * Owns a hash table of gateway ids, one entry per gateway with bytes
 * queued; an entry is freed when its bytes reach 0. Thread: main loop
 * only. Nothing blocks.
 */
#ifndef PUSHRELAY_GWSHARE_H
#define PUSHRELAY_GWSHARE_H

#include <stddef.h>
#include <stdint.h>

struct gwshare;

/*
 * gwshare_new: empty accounting for topics under template tmpl (borrowed
 * for the call, copied; it holds "%i" once, followed by '/', as
 * platform/conf_unpack.c checks). The caller owns the result
 * (gwshare_free). Returns NULL when out of memory or when tmpl has no
 * "%i/".
 */
struct gwshare *gwshare_new(const char *tmpl);

/* gwshare_free: frees g and its entries; NULL is a no-op. */
void gwshare_free(struct gwshare *g);

/* gwshare_tmpl: the template g reads topics with (owned by g). */
const char *gwshare_tmpl(const struct gwshare *g);

/* gwshare_clear: forget every gateway's bytes (before a rebuild). */
void gwshare_clear(struct gwshare *g);

/*
 * gwshare_note: add delta (negative: take away) to the bytes of the
 * gateway whose prefix topic (len bytes, borrowed; its head suffices)
 * starts with. A topic of no gateway is ignored; a gateway's bytes never
 * go below 0. Returns 0, or -1 when a new entry could not be allocated:
 * g then lacks those bytes and is marked stale (gwshare_stale) until
 * gwshare_clear().
 */
int gwshare_note(struct gwshare *g, const void *topic, size_t len,
    int64_t delta);

/*
 * gwshare_gateway: the id of the gateway whose prefix topic (len bytes)
 * starts with: its length, with *id pointing into topic; 0 when none.
 */
size_t gwshare_gateway(const struct gwshare *g, const void *topic,
    size_t len, const char **id);

/* gwshare_bytes: the bytes gateway id (NUL-terminated) has queued. */
uint64_t gwshare_bytes(const struct gwshare *g, const char *id);

/* gwshare_count: gateways with bytes queued. */
size_t gwshare_count(const struct gwshare *g);

/* gwshare_stale: 1 after an allocation failure, until gwshare_clear(). */
int gwshare_stale(const struct gwshare *g);

#endif
