/* SPDX-License-Identifier: ISC */
/*
 * decode: `pushrelay decode [FILE|-]`, the central side's look into one
 * batch frame. Prints the header as one JSON object, then one JSON object
 * per record (topic, payload or payload_b64, qos, retain, ts, properties),
 * one per line.
 */
#ifndef PUSHRELAY_DECODE_H
#define PUSHRELAY_DECODE_H

#include <stddef.h>

/* Dictionary frames decode_run() takes at most. */
#define DECODE_MAX_DICTS	8

/*
 * decode_run: decode the frame in the file at path ("-" for stdin) to
 * stdout. dicts (ndicts paths, borrowed, at most DECODE_MAX_DICTS) are
 * version 2 dictionary frames: a frame that names one of them (id and
 * content check) is decompressed with it. A dictionary frame itself
 * prints its header (kind "dictionary", id, check, length). Returns the
 * exit code: 0, 1 when a file cannot be read, 2 when the frame is
 * malformed or names a dictionary not given (the error, naming the byte
 * or the dictionary, goes to stderr).
 */
int decode_run(const char *path, const char *const *dicts, size_t ndicts);

#endif
