/* SPDX-License-Identifier: ISC */
/*
 * json: the few pieces of JSON output the command line needs: a string
 * escaper, a UTF-8 check and base64. Output goes to a stdio stream.
 * Thread: any; no state.
 */
#ifndef PUSHRELAY_JSON_H
#define PUSHRELAY_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* json_utf8_valid: 1 when buf (len bytes) is well-formed UTF-8. */
int json_utf8_valid(const uint8_t *buf, size_t len);

/*
 * json_put_str: write buf (len bytes, any bytes) as a quoted JSON string
 * with the required escapes. The output is always valid UTF-8 and valid
 * JSON: each byte that is not part of a well-formed UTF-8 sequence
 * (json_utf8_valid's rules) becomes \ufffd, the replacement character,
 * so a reader sees that the text was not UTF-8 and where; controls and
 * DEL become \u00XX.
 */
void json_put_str(FILE *f, const uint8_t *buf, size_t len);

/* json_put_b64: write buf (len bytes) as a quoted base64 string. */
void json_put_b64(FILE *f, const uint8_t *buf, size_t len);

/* json_put_bytes: a string when buf is UTF-8, else base64; says which. */
void json_put_bytes(FILE *f, const char *name, const uint8_t *buf,
    size_t len);

#endif
