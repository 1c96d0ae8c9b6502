/* SPDX-License-Identifier: ISC */
/*
 * framesize: frame bytes per message of frame v1, v2 and v2 with a
 * shared dictionary, for batches of 1, 2, 20 and 1000 messages, on a
 * telemetry corpus (files of topic TAB payload lines, interleaved
 * round-robin as the tests do). Measures the codec alone: no MQTT, no
 * TLS. The dictionary is kept as the relay's batcher keeps it
 * (relay/batcher.c; docs/frame-format.md 8.2): the last 32 KiB of bodies,
 * made at 4 KiB and at each doubling; dictionary frames are counted.
 *
 * Usage: framesize FILE.tsv...  (docs/frame-format.md section 10)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/frame.h"

#define MAXMSG		200000
#define DICT_CAP	32768

struct msg {
	char *topic;
	char *payload;
	size_t tlen, plen;
};

static struct msg msgs[MAXMSG];
static size_t nmsgs;

static void
load(char **files, int n)
{
	FILE *f[8];
	char line[65536];
	int i, live = n;

	for (i = 0; i < n && i < 8; i++)
		if ((f[i] = fopen(files[i], "r")) == NULL) {
			perror(files[i]);
			exit(1);
		}
	while (live > 0 && nmsgs < MAXMSG) {
		live = 0;
		for (i = 0; i < n; i++) {
			char *tab;

			if (f[i] == NULL || fgets(line, sizeof(line), f[i]) ==
			    NULL) {
				f[i] = NULL;
				continue;
			}
			live++;
			line[strcspn(line, "\n")] = '\0';
			if ((tab = strchr(line, '\t')) == NULL)
				continue;
			*tab = '\0';
			msgs[nmsgs].topic = strdup(line);
			msgs[nmsgs].payload = strdup(tab + 1);
			msgs[nmsgs].tlen = strlen(line);
			msgs[nmsgs].plen = strlen(tab + 1);
			nmsgs++;
		}
	}
}

/* Frame bytes for the corpus in batches of size k; mode 1, 2, 3. */
static double
run(size_t k, int mode, size_t *nframes, size_t *ndicts)
{
	static uint8_t out[1 << 22], hist[2 * DICT_CAP], dict[DICT_CAP];
	static uint8_t dframe[1 << 17];
	struct frame_enc *e = frame_enc_new(1000, 1 << 20);
	struct frame_record r;
	size_t i, j, len, total = 0, hist_len = 0, dict_len = 0, since = 0;
	uint32_t id = 0;
	int64_t ts = 1700000000000;
	uint32_t x = 1;

	*nframes = *ndicts = 0;
	frame_enc_set_version(e, mode == 1 ? 1 : 2);
	for (i = 0; i < nmsgs; i += k) {
		if (mode == 3 && ((dict_len == 0 && hist_len >= 4096) ||
		    (dict_len > 0 && dict_len < DICT_CAP &&
		    hist_len > dict_len && since >= dict_len))) {
			dict_len = hist_len < DICT_CAP ? hist_len : DICT_CAP;
			memcpy(dict, hist + hist_len - dict_len, dict_len);
			frame_enc_set_dict(e, ++id, dict, dict_len);
			frame_dict_encode("gw-test", 1ull << 61, id, dict,
			    dict_len, FRAME_CODEC_LZ4, dframe, sizeof(dframe),
			    &len);
			total += len;
			since = 0;
			(*ndicts)++;
		}
		/* A sequence number as a new queue's: 9 bytes as a varint. */
		frame_enc_reset(e, "gw-test", (1ull << 61) + i);
		for (j = i; j < i + k && j < nmsgs; j++) {
			memset(&r, 0, sizeof(r));
			r.topic = msgs[j].topic;
			r.topic_len = msgs[j].tlen;
			r.payload = (const uint8_t *)msgs[j].payload;
			r.payload_len = msgs[j].plen;
			r.qos = 1;
			x = x * 1103515245u + 12345u;
			ts += (x >> 16) % 2000;
			r.ts_ms = ts;
			if (frame_enc_add(e, &r) != 0)
				abort();
		}
		if (frame_enc_finish(e, FRAME_CODEC_LZ4, out, sizeof(out),
		    &len) != 0)
			abort();
		total += len;
		(*nframes)++;
		if (mode == 3) {
			const uint8_t *b;
			size_t bl;

			b = frame_enc_last_body(e, &bl);
			if (bl > DICT_CAP) {
				b += bl - DICT_CAP;
				bl = DICT_CAP;
			}
			if (hist_len + bl > 2 * DICT_CAP) {
				memmove(hist, hist + hist_len - (DICT_CAP - bl),
				    DICT_CAP - bl);
				hist_len = DICT_CAP - bl;
			}
			memcpy(hist + hist_len, b, bl);
			hist_len += bl;
			since += bl;
		}
	}
	frame_enc_free(e);
	return (double)total / (double)nmsgs;
}

int
main(int argc, char **argv)
{
	static const size_t ks[] = { 1, 2, 20, 1000 };
	size_t i, raw = 0, nf, nd;
	double v1, v2, v2d;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE.tsv...\n", argv[0]);
		return 2;
	}
	load(argv + 1, argc - 1);
	for (i = 0; i < nmsgs; i++)
		raw += msgs[i].tlen + msgs[i].plen;
	printf("%zu messages, %.1f B topic+payload per message\n", nmsgs,
	    (double)raw / (double)nmsgs);
	printf("| messages per frame | v1 B/msg | v2 B/msg | v2 + dictionary "
	    "B/msg | dictionary frames |\n|---:|---:|---:|---:|---:|\n");
	for (i = 0; i < sizeof(ks) / sizeof(ks[0]); i++) {
		v1 = run(ks[i], 1, &nf, &nd);
		v2 = run(ks[i], 2, &nf, &nd);
		v2d = run(ks[i], 3, &nf, &nd);
		printf("| %zu | %.1f | %.1f | %.1f | %zu |\n", ks[i], v1, v2,
		    v2d, nd);
	}
	return 0;
}
