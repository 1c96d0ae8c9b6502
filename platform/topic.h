/* SPDX-License-Identifier: ISC */
/*
 * topic: MQTT topic names and topic filters (MQTT 3.1.1 section 4.7,
 * MQTT 5 section 4.7).
 *
 * The one job of this module is the wildcard algebra: whether a string is a
 * valid filter or name, whether a filter matches a name, and whether two
 * filters can match a common name. The configuration uses it to refuse
 * routes that would loop; the relay's routing uses topic_matches().
 *
 * Rules applied, as in the MQTT specification:
 * - '#' must be a whole level and the last one; it also matches the parent
 *   level ("a/#" matches "a").
 * - '+' must be a whole level; it matches exactly one level, which may be
 *   empty ("a/+" matches "a/", "+/+" matches "/").
 * - A name whose first character is '$' is not matched by a filter whose
 *   first level is a wildcard ("#" and "+/x" do not match "$SYS/x").
 * - Names and filters are at least one character and at most 65535 bytes
 *   long. UTF-8 well-formedness is not checked here.
 *
 * The module owns nothing and allocates nothing. All strings are borrowed
 * for the call and must be NUL-terminated. Thread: any; no state. No
 * function blocks.
 */
#ifndef PUSHRELAY_TOPIC_H
#define PUSHRELAY_TOPIC_H

#include <stdbool.h>

/* The longest name or filter MQTT can carry (a two-byte length prefix). */
#define TOPIC_MAX_LEN	65535

/*
 * topic_filter_valid: true when filter is a valid subscription filter.
 * why: may be NULL; on false, *why receives a static sentence saying what
 * is wrong (for example "'#' must be the last level"). On true it is not
 * written.
 */
bool topic_filter_valid(const char *filter, const char **why);

/*
 * topic_name_valid: true when topic is a valid topic name to publish to:
 * non-empty, not too long, without '+' or '#'. why: as for
 * topic_filter_valid().
 */
bool topic_name_valid(const char *topic, const char **why);

/*
 * topic_has_wildcard: true when s contains '+' or '#' anywhere. Used for
 * prefixes, which are glued in front of filters and must stay literal.
 */
bool topic_has_wildcard(const char *s);

/*
 * topic_matches: true when the name topic is matched by filter.
 * filter MUST be valid (topic_filter_valid()); topic is compared literally,
 * so a '+' or '#' in it is an ordinary character. The '$' rule applies.
 */
bool topic_matches(const char *filter, const char *topic);

/*
 * topic_filters_overlap: true when at least one topic name exists that both
 * filters match, taking the '$' rule into account. Both filters MUST be
 * valid. Symmetric: overlap(a, b) == overlap(b, a).
 */
bool topic_filters_overlap(const char *a, const char *b);

#endif
