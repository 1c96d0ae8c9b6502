/* SPDX-License-Identifier: ISC */
/*
 * link_alias: the topic aliases of our publishes (MQTT 5), part of the
 * link module (link.h says the policy; docs/design.md says why): the
 * first alias_max topics published twice on a connection keep an alias
 * for its life. Internal to relay/link*.c through link_int.h.
 */
#include <stdlib.h>
#include <string.h>

#include "mqtt/mqtt.h"
#include "platform/hash.h"
#include "relay/link_int.h"

/* Room for n aliases (kept across connections: n changes on a reload). */
int
link_alias_setup(struct link *l, int n)
{
	char **t;
	uint32_t *h;

	if (n <= l->alias_conf) {
		l->alias_conf = (uint16_t)n;
		return 0;
	}
	if ((t = realloc(l->alias_topic, (size_t)n * sizeof(*t))) == NULL)
		return -1;
	l->alias_topic = t;
	if ((h = realloc(l->alias_hash, (size_t)n * sizeof(*h))) == NULL)
		return -1;
	l->alias_hash = h;
	l->alias_conf = (uint16_t)n;
	return 0;
}

void
link_alias_reset(struct link *l)
{
	uint16_t i;

	for (i = 0; i < l->alias_used; i++)
		free(l->alias_topic[i]);
	l->alias_used = 0;
	l->alias_max = 0;
	l->alias_seen_n = l->alias_seen_next = 0;
	l->st.aliases = 0;
	l->st.alias_max = 0;
}

/*
 * Whether a topic with hash h was published on this connection before;
 * if not, it is remembered (the oldest of LINK_ALIAS_SEEN goes). A hash
 * that collides only gives a topic its alias one publish early.
 */
static int
link_alias_seen(struct link *l, uint32_t h)
{
	uint16_t i;

	for (i = 0; i < l->alias_seen_n; i++)
		if (l->alias_seen[i] == h)
			return 1;
	l->alias_seen[l->alias_seen_next] = h;
	l->alias_seen_next = (uint16_t)((l->alias_seen_next + 1) %
	    LINK_ALIAS_SEEN);
	if (l->alias_seen_n < LINK_ALIAS_SEEN)
		l->alias_seen_n++;
	return 0;
}

/*
 * The alias for topic t: > 0 and *known set when the broker has it
 * already; > 0 and *known 0 when a free one would be set now (taken by
 * link_alias_commit once the publish is queued): the topic's second
 * publish on the connection, so that a topic published once (the status
 * message) takes none; 0 when none.
 */
static uint16_t
link_alias_find(struct link *l, const char *t, size_t len, uint32_t h,
    int *known)
{
	uint16_t i;

	*known = 0;
	if (l->alias_max == 0)
		return 0;
	for (i = 0; i < l->alias_used; i++)
		if (l->alias_hash[i] == h && strcmp(l->alias_topic[i], t) == 0) {
			*known = 1;
			return (uint16_t)(i + 1);
		}
	/* A topic that alone nearly fills the alias saves nothing. */
	if (l->alias_used >= l->alias_max || len < 3 ||
	    !link_alias_seen(l, h))
		return 0;
	return (uint16_t)(l->alias_used + 1);
}

/* The publish that sets alias a for t is queued: the broker will know. */
void
link_alias_commit(struct link *l, uint16_t a, const char *t, uint32_t h)
{
	char *c;

	if (a != (uint16_t)(l->alias_used + 1) || (c = strdup(t)) == NULL)
		return;		/* Without memory it is set again later. */
	l->alias_topic[a - 1] = c;
	l->alias_hash[a - 1] = h;
	l->alias_used++;
	l->st.aliases = l->alias_used;
}

uint16_t
link_alias_put(struct link *l, struct mqtt_publish *p, uint8_t *props,
    size_t *pl, int *known, uint32_t *h)
{
	uint16_t alias;

	*h = hash_fnv1a(p->topic.p, p->topic.len);
	alias = link_alias_find(l, p->topic.p, p->topic.len, *h, known);
	if (alias == 0)
		return 0;
	props[(*pl)++] = MQTT_P_TOPIC_ALIAS;
	props[(*pl)++] = (uint8_t)(alias >> 8);
	props[(*pl)++] = (uint8_t)(alias & 0xff);
	if (*known)
		p->topic.len = 0;	/* The alias alone names it. */
	return alias;
}
