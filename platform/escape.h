/* SPDX-License-Identifier: ISC */
/*
 * escape: printable renderings of untrusted bytes, for log lines.
 *
 * A string an outsider chose (a topic or a property of a gateway's frame,
 * the topic a frame came on) never goes into a log line as it is: a
 * newline would forge a second line, an escape sequence would drive the
 * reader's terminal, and a long one would crowd out the message.
 * escape_bytes() writes printable ASCII as itself, a backslash as "\\"
 * and every other byte (controls, DEL, every byte of a non-ASCII UTF-8
 * sequence) as "\xHH", and cuts the result to the caller's buffer.
 *
 * Thread: any; no state. Nothing blocks.
 */
#ifndef PUSHRELAY_ESCAPE_H
#define PUSHRELAY_ESCAPE_H

#include <stddef.h>

/*
 * A buffer size for log lines: room for 60 escaped bytes or 250 plain
 * ones, so a hostile string cannot crowd out the rest of the message.
 */
#define ESCAPE_LOG_MAX		256

/*
 * escape_bytes_bound: the capacity that holds the whole rendering of len
 * bytes, NUL included (4 bytes per input byte at most).
 */
size_t escape_bytes_bound(size_t len);

/*
 * escape_bytes: write the rendering of s (len bytes, borrowed for the
 * call; may be NULL when len is 0) into out (cap bytes, caller-owned),
 * NUL-terminated. When the rendering does not fit, it stops before the
 * first escape that would not, and ends in "..." so that a cut string is
 * never taken for a whole one. cap must be at least 4; with a smaller cap
 * out gets what fits of "..." (nothing when cap is 0).
 * Returns out, so that the call can be an argument of log_warn() and the
 * like.
 */
const char *escape_bytes(char *out, size_t cap, const void *s, size_t len);

#endif
