/* SPDX-License-Identifier: ISC */
/*
 * hash: FNV-1a, 32 bits (see hash.h); the offset basis and prime are
 * FNV's published 32-bit parameters.
 */
#include "platform/hash.h"

uint32_t
hash_fnv1a(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}
