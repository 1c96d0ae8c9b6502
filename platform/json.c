/* SPDX-License-Identifier: ISC */
/* json: JSON string output, UTF-8 validation and base64; see json.h. */
#include "platform/json.h"

/* Length of the UTF-8 sequence at p (n bytes left), or 0 if malformed. */
static size_t
json_utf8_seq(const uint8_t *p, size_t n)
{
	uint32_t c;
	size_t len, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, c = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, c = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, c = p[0] & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (p[i] & 0x3f);
	}
	/* Overlong forms, surrogates and values past U+10FFFF. */
	if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
	    (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
		return 0;
	return len;
}

int
json_utf8_valid(const uint8_t *buf, size_t len)
{
	size_t i = 0, k;

	while (i < len) {
		if ((k = json_utf8_seq(buf + i, len - i)) == 0)
			return 0;
		i += k;
	}
	return 1;
}

/* Writes the character at buf (its UTF-8 sequence is k bytes) escaped. */
static void
json_put_char(FILE *f, const uint8_t *buf, size_t k)
{
	switch (buf[0]) {
	case '"':
		fputs("\\\"", f);
		break;
	case '\\':
		fputs("\\\\", f);
		break;
	case '\n':
		fputs("\\n", f);
		break;
	case '\r':
		fputs("\\r", f);
		break;
	case '\t':
		fputs("\\t", f);
		break;
	default:
		if (buf[0] < 0x20 || buf[0] == 0x7f)
			fprintf(f, "\\u%04x", buf[0]);
		else
			fwrite(buf, 1, k, f);
	}
}

void
json_put_str(FILE *f, const uint8_t *buf, size_t len)
{
	size_t i = 0, k;

	fputc('"', f);
	while (i < len) {
		if ((k = json_utf8_seq(buf + i, len - i)) == 0) {
			/* Not UTF-8: one replacement character per byte. */
			fputs("\\ufffd", f);
			i++;
			continue;
		}
		json_put_char(f, buf + i, k);
		i += k;
	}
	fputc('"', f);
}

void
json_put_b64(FILE *f, const uint8_t *buf, size_t len)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint32_t v;
	size_t i;

	fputc('"', f);
	for (i = 0; i + 2 < len; i += 3) {
		v = (uint32_t)buf[i] << 16 | (uint32_t)buf[i + 1] << 8 | buf[i + 2];
		fprintf(f, "%c%c%c%c", tab[v >> 18], tab[(v >> 12) & 63],
		    tab[(v >> 6) & 63], tab[v & 63]);
	}
	if (len - i == 1) {
		v = (uint32_t)buf[i] << 16;
		fprintf(f, "%c%c==", tab[v >> 18], tab[(v >> 12) & 63]);
	} else if (len - i == 2) {
		v = (uint32_t)buf[i] << 16 | (uint32_t)buf[i + 1] << 8;
		fprintf(f, "%c%c%c=", tab[v >> 18], tab[(v >> 12) & 63],
		    tab[(v >> 6) & 63]);
	}
	fputc('"', f);
}

void
json_put_bytes(FILE *f, const char *name, const uint8_t *buf, size_t len)
{
	if (json_utf8_valid(buf, len)) {
		fprintf(f, "\"%s\":", name);
		json_put_str(f, buf, len);
	} else {
		fprintf(f, "\"%s_b64\":", name);
		json_put_b64(f, buf, len);
	}
}
