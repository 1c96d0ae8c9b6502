/* SPDX-License-Identifier: ISC */
/* route: mapping topics between the local and the central broker. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform/topic.h"
#include "relay/route.h"

struct route_dirtab {
	const struct conf_route *routes;	/* borrowed from the conf */
	size_t n;
	char **filters;		/* prefix + topic, owned */
	char **dest;		/* the other side's prefix + topic, owned */
	int *qos;
};

struct route_table {
	struct route_dirtab dir[2];
};

static int
route_build(struct route_dirtab *d, const struct conf_route *r, size_t n,
    enum route_dir which)
{
	size_t i;

	d->routes = r;
	d->n = n;
	d->filters = calloc(n + 1, sizeof(*d->filters));
	d->qos = calloc(n + 1, sizeof(*d->qos));
	d->dest = calloc(n + 1, sizeof(*d->dest));
	if (d->filters == NULL || d->qos == NULL || d->dest == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		const char *pfx = which == ROUTE_UP ? r[i].local_prefix :
		    r[i].remote_prefix;

		if (asprintf(&d->filters[i], "%s%s", pfx, r[i].topic) == -1) {
			d->filters[i] = NULL;
			return -1;
		}
		if (asprintf(&d->dest[i], "%s%s", which == ROUTE_UP ?
		    r[i].remote_prefix : r[i].local_prefix, r[i].topic) == -1) {
			d->dest[i] = NULL;
			return -1;
		}
		d->qos[i] = r[i].qos;
	}
	return 0;
}

struct route_table *
route_new(const struct conf *c)
{
	struct route_table *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	if (route_build(&t->dir[ROUTE_UP], c->uplink, c->n_uplink,
	    ROUTE_UP) != 0 || route_build(&t->dir[ROUTE_DOWN], c->downlink,
	    c->n_downlink, ROUTE_DOWN) != 0) {
		route_free(t);
		return NULL;
	}
	return t;
}

void
route_free(struct route_table *t)
{
	size_t i, d;

	if (t == NULL)
		return;
	for (d = 0; d < 2; d++) {
		for (i = 0; t->dir[d].filters != NULL && i < t->dir[d].n; i++)
			free(t->dir[d].filters[i]);
		for (i = 0; t->dir[d].dest != NULL && i < t->dir[d].n; i++)
			free(t->dir[d].dest[i]);
		free(t->dir[d].filters);
		free(t->dir[d].dest);
		free(t->dir[d].qos);
	}
	free(t);
}

size_t
route_filters(const struct route_table *t, enum route_dir d,
    char *const **filters, const int **qos)
{
	*filters = t->dir[d].filters;
	*qos = t->dir[d].qos;
	return t->dir[d].n;
}

const struct conf_route *
route_map(const struct route_table *t, enum route_dir d, const char *topic,
    char *out, size_t cap)
{
	const struct route_dirtab *dt = &t->dir[d];
	const struct conf_route *r;
	const char *from, *to;
	size_t i;
	int n;

	for (i = 0; i < dt->n; i++) {
		if (!topic_matches(dt->filters[i], topic))
			continue;
		r = &dt->routes[i];
		from = d == ROUTE_UP ? r->local_prefix : r->remote_prefix;
		to = d == ROUTE_UP ? r->remote_prefix : r->local_prefix;
		/*
		 * "p/#" also matches "p" itself, which lacks the prefix "p/":
		 * such a topic has no remainder to map, so it is not routed.
		 */
		if (strncmp(topic, from, strlen(from)) != 0)
			continue;
		n = snprintf(out, cap, "%s%s", to, topic + strlen(from));
		if (n < 0 || (size_t)n >= cap)
			return NULL;
		return r;
	}
	return NULL;
}

const struct conf_route *
route_of_dest(const struct route_table *t, enum route_dir d,
    const char *topic, size_t *idx)
{
	const struct route_dirtab *dt = &t->dir[d];
	size_t i;

	for (i = 0; i < dt->n; i++)
		if (topic_matches(dt->dest[i], topic)) {
			if (idx != NULL)
				*idx = i;
			return &dt->routes[i];
		}
	return NULL;
}
