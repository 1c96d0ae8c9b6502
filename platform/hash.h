/* SPDX-License-Identifier: ISC */
/*
 * hash: the one string hash of the relay's in-memory tables (the frame
 * encoder's topic table, the topic aliases, the unpacker's gateway
 * shares). Not for anything an outsider could turn into collisions that
 * matter more than a longer probe, and never stored or sent: the tables
 * are rebuilt at every start.
 *
 * Thread: any; no state. Nothing blocks.
 */
#ifndef PUSHRELAY_HASH_H
#define PUSHRELAY_HASH_H

#include <stddef.h>
#include <stdint.h>

/*
 * hash_fnv1a: FNV-1a, 32 bits, of the len bytes at p (borrowed for the
 * call; may be NULL when len is 0). Returns the hash; every value is
 * valid.
 */
uint32_t hash_fnv1a(const void *p, size_t len);

#endif
