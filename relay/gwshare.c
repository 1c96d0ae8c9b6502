/* SPDX-License-Identifier: ISC */
/* gwshare: queued bytes per gateway in the unpacker; see gwshare.h. */
#include <stdlib.h>
#include <string.h>

#include "platform/hash.h"
#include "relay/frame.h"
#include "relay/gwshare.h"

#define GWSHARE_BUCKETS_MIN	64

struct gwshare_entry {
	struct gwshare_entry *next;
	uint64_t bytes;
	size_t len;
	char id[FRAME_GWID_MAX + 1];
};

struct gwshare {
	char *tmpl;
	size_t head_len;	/* the part before %i */
	const char *tail;	/* the part after %i, in tmpl; starts '/' */
	size_t tail_len;
	struct gwshare_entry **bucket;
	size_t nbucket;		/* a power of two */
	size_t n;
	int stale;
};

struct gwshare *
gwshare_new(const char *tmpl)
{
	struct gwshare *g;
	const char *at = strstr(tmpl, "%i/");

	if (at == NULL || (g = calloc(1, sizeof(*g))) == NULL)
		return NULL;
	g->nbucket = GWSHARE_BUCKETS_MIN;
	g->tmpl = strdup(tmpl);
	g->bucket = calloc(g->nbucket, sizeof(*g->bucket));
	if (g->tmpl == NULL || g->bucket == NULL) {
		gwshare_free(g);
		return NULL;
	}
	g->head_len = (size_t)(at - tmpl);
	g->tail = g->tmpl + g->head_len + 2;
	g->tail_len = strlen(g->tail);
	return g;
}

void
gwshare_clear(struct gwshare *g)
{
	struct gwshare_entry *e, *next;
	size_t i;

	for (i = 0; i < g->nbucket; i++) {
		for (e = g->bucket[i]; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
		g->bucket[i] = NULL;
	}
	g->n = 0;
	g->stale = 0;
}

void
gwshare_free(struct gwshare *g)
{
	if (g == NULL)
		return;
	if (g->bucket != NULL)
		gwshare_clear(g);
	free(g->bucket);
	free(g->tmpl);
	free(g);
}

const char *
gwshare_tmpl(const struct gwshare *g)
{
	return g->tmpl;
}

static int
gwshare_id_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

size_t
gwshare_gateway(const struct gwshare *g, const void *topic, size_t len,
    const char **id)
{
	const char *t = topic;
	size_t i, n;

	if (len < g->head_len || memcmp(t, g->tmpl, g->head_len) != 0)
		return 0;
	for (i = g->head_len; i < len && gwshare_id_char(t[i]); i++)
		;
	n = i - g->head_len;
	if (n == 0 || n > FRAME_GWID_MAX || len - i < g->tail_len ||
	    memcmp(t + i, g->tail, g->tail_len) != 0)
		return 0;
	*id = t + g->head_len;
	return n;
}

static struct gwshare_entry **
gwshare_find(const struct gwshare *g, const char *id, size_t len)
{
	struct gwshare_entry **pe;

	pe = &g->bucket[hash_fnv1a(id, len) & (g->nbucket - 1)];
	for (; *pe != NULL; pe = &(*pe)->next)
		if ((*pe)->len == len && memcmp((*pe)->id, id, len) == 0)
			break;
	return pe;
}

/* Doubles the table when it holds two entries per bucket; best effort. */
static void
gwshare_grow(struct gwshare *g)
{
	struct gwshare_entry **nb, *e, *next;
	size_t i, n = g->nbucket * 2, k;

	if (g->n < 2 * g->nbucket || (nb = calloc(n, sizeof(*nb))) == NULL)
		return;
	for (i = 0; i < g->nbucket; i++)
		for (e = g->bucket[i]; e != NULL; e = next) {
			next = e->next;
			k = hash_fnv1a(e->id, e->len) & (n - 1);
			e->next = nb[k];
			nb[k] = e;
		}
	free(g->bucket);
	g->bucket = nb;
	g->nbucket = n;
}

int
gwshare_note(struct gwshare *g, const void *topic, size_t len, int64_t delta)
{
	struct gwshare_entry **pe, *e;
	const char *id;
	uint64_t down;
	size_t n;

	if ((n = gwshare_gateway(g, topic, len, &id)) == 0 || delta == 0)
		return 0;
	pe = gwshare_find(g, id, n);
	if ((e = *pe) == NULL) {
		if (delta < 0)
			return 0;
		if ((e = calloc(1, sizeof(*e))) == NULL) {
			g->stale = 1;
			return -1;
		}
		memcpy(e->id, id, n);
		e->len = n;
		*pe = e;
		g->n++;
		gwshare_grow(g);
	}
	if (delta > 0) {
		e->bytes += (uint64_t)delta;
		return 0;
	}
	down = 0 - (uint64_t)delta;
	e->bytes -= e->bytes > down ? down : e->bytes;
	if (e->bytes == 0) {
		pe = gwshare_find(g, id, n);
		*pe = e->next;
		free(e);
		g->n--;
	}
	return 0;
}

uint64_t
gwshare_bytes(const struct gwshare *g, const char *id)
{
	struct gwshare_entry *e = *gwshare_find(g, id, strlen(id));

	return e != NULL ? e->bytes : 0;
}

size_t
gwshare_count(const struct gwshare *g)
{
	return g->n;
}

int
gwshare_stale(const struct gwshare *g)
{
	return g->stale;
}
