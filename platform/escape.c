/* SPDX-License-Identifier: ISC */
/* escape: printable renderings of untrusted bytes; see escape.h. */
#include <stdint.h>
#include <string.h>

#include "platform/escape.h"

#define ESCAPE_CUT	"..."

size_t
escape_bytes_bound(size_t len)
{
	return 4 * len + 1;
}

/* Writes the rendering of byte b into w (4 bytes); returns its length. */
static size_t
escape_one(uint8_t b, char *w)
{
	static const char hex[] = "0123456789abcdef";

	if (b == '\\') {
		w[0] = w[1] = '\\';
		return 2;
	}
	if (b >= 0x20 && b < 0x7f) {
		w[0] = (char)b;
		return 1;
	}
	w[0] = '\\';
	w[1] = 'x';
	w[2] = hex[b >> 4];
	w[3] = hex[b & 15];
	return 4;
}

const char *
escape_bytes(char *out, size_t cap, const void *s, size_t len)
{
	const uint8_t *p = s;
	size_t i, o = 0, n, need = 0, room;
	char w[4];

	if (cap == 0)
		return out;
	for (i = 0; i < len && need < cap; i++)
		need += escape_one(p[i], w);
	/* Cut: keep room for the mark, which says the string goes on. */
	room = need < cap ? cap - 1 : cap > sizeof(ESCAPE_CUT) ?
	    cap - sizeof(ESCAPE_CUT) : 0;
	for (i = 0; i < len; i++) {
		n = escape_one(p[i], w);
		if (o + n > room)
			break;
		memcpy(out + o, w, n);
		o += n;
	}
	if (i < len) {
		n = sizeof(ESCAPE_CUT) - 1;
		if (n > cap - 1 - o)
			n = cap - 1 - o;
		memcpy(out + o, ESCAPE_CUT, n);
		o += n;
	}
	out[o] = '\0';
	return out;
}
