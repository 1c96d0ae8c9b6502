/* SPDX-License-Identifier: ISC */
/*
 * decode: `pushrelay decode [FILE|-]`, the central side's look into one
 * batch frame. Prints the header as one JSON object, then one JSON object
 * per record (topic, payload or payload_b64, qos, retain, ts, properties),
 * one per line.
 */
#ifndef PUSHRELAY_DECODE_H
#define PUSHRELAY_DECODE_H

/*
 * decode_run: decode the frame in the file at path ("-" for stdin) to
 * stdout. Returns the exit code: 0, 1 when the file cannot be read, 2 when
 * the frame is malformed (the error, naming the byte, goes to stderr).
 */
int decode_run(const char *path);

#endif
