/* SPDX-License-Identifier: ISC */
/* topic: MQTT topic filter validation, matching and overlap; see topic.h. */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "topic.h"

/* The end of the level that starts at s: the next '/' or the final NUL. */
static const char *
level_end(const char *s)
{
	while (*s != '\0' && *s != '/')
		s++;
	return s;
}

/* The level after the one ending at end, or NULL when end is the last. */
static const char *
level_next(const char *end)
{
	return *end == '/' ? end + 1 : NULL;
}

/* True when the level [s, end) is exactly the single character c. */
static bool
level_is(const char *s, const char *end, char c)
{
	return end - s == 1 && *s == c;
}

/* True when the first level of filter is '+' or '#'. */
static bool
first_level_wild(const char *filter)
{
	const char *end = level_end(filter);

	return level_is(filter, end, '+') || level_is(filter, end, '#');
}

bool
topic_has_wildcard(const char *s)
{
	return strpbrk(s, "+#") != NULL;
}

bool
topic_filter_valid(const char *filter, const char **why)
{
	const char *s, *end;
	const char *msg = NULL;

	if (*filter == '\0')
		msg = "a topic filter must not be empty";
	else if (strlen(filter) > TOPIC_MAX_LEN)
		msg = "a topic filter must be at most 65535 bytes";
	for (s = filter; msg == NULL && s != NULL; s = level_next(end)) {
		end = level_end(s);
		if (level_is(s, end, '#')) {
			if (*end != '\0')
				msg = "'#' must be the last level";
		} else if (level_is(s, end, '+')) {
			continue;
		} else if (memchr(s, '#', (size_t)(end - s)) != NULL) {
			msg = "'#' must be a whole level";
		} else if (memchr(s, '+', (size_t)(end - s)) != NULL) {
			msg = "'+' must be a whole level";
		}
	}
	if (msg != NULL && why != NULL)
		*why = msg;
	return msg == NULL;
}

bool
topic_name_valid(const char *topic, const char **why)
{
	const char *msg = NULL;

	if (*topic == '\0')
		msg = "a topic must not be empty";
	else if (strlen(topic) > TOPIC_MAX_LEN)
		msg = "a topic must be at most 65535 bytes";
	else if (topic_has_wildcard(topic))
		msg = "a topic must not contain '+' or '#'";
	if (msg != NULL && why != NULL)
		*why = msg;
	return msg == NULL;
}

/*
 * The shared walk of topic_matches() and topic_filters_overlap(): a and b
 * are compared level by level. When b_literal is set, b is a topic name and
 * its '+' and '#' are ordinary characters. A '#' level meets everything
 * from there on, including nothing (the parent level); a '+' level meets
 * any single level; literal levels must be equal.
 */
static bool
levels_meet(const char *a, const char *b, bool b_literal)
{
	const char *ae, *be;

	if ((*b == '$' && first_level_wild(a)) ||
	    (!b_literal && *a == '$' && first_level_wild(b)))
		return false;
	for (;;) {
		ae = level_end(a);
		if (level_is(a, ae, '#'))
			return true;
		if (b == NULL)
			return false;
		be = level_end(b);
		if (!b_literal && level_is(b, be, '#'))
			return true;
		if (!level_is(a, ae, '+') &&
		    (b_literal || !level_is(b, be, '+')) &&
		    (ae - a != be - b || memcmp(a, b, (size_t)(ae - a)) != 0))
			return false;
		a = level_next(ae);
		b = level_next(be);
		if (a == NULL && b == NULL)
			return true;
		if (a == NULL)
			return !b_literal && strcmp(b, "#") == 0;
		/* b == NULL is handled at the top: only a '#' meets it. */
	}
}

bool
topic_matches(const char *filter, const char *topic)
{
	return levels_meet(filter, topic, true);
}

bool
topic_filters_overlap(const char *a, const char *b)
{
	return levels_meet(a, b, false);
}
