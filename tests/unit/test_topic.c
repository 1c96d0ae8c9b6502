/* SPDX-License-Identifier: ISC */
/* Unit tests for platform/topic: filter validity, matching, overlap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "platform/topic.h"

static void
test_filter_valid(void **state)
{
	static const char *const good[] = {
		"#", "+", "a", "a/b", "a/#", "a/+", "+/+", "+/#", "/", "//",
		"/#", "a//b", "$SYS/#", "sport/tennis/+/score", "a b/c",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(topic_filter_valid(good[i], NULL));
}

static void
test_filter_invalid(void **state)
{
	static const struct {
		const char *filter;
		const char *why;
	} bad[] = {
		{ "", "a topic filter must not be empty" },
		{ "a/#/b", "'#' must be the last level" },
		{ "#/", "'#' must be the last level" },
		{ "a#", "'#' must be a whole level" },
		{ "a/b#", "'#' must be a whole level" },
		{ "a+", "'+' must be a whole level" },
		{ "a/+b/c", "'+' must be a whole level" },
		{ "++", "'+' must be a whole level" },
		{ "##", "'#' must be a whole level" },
	};
	const char *why;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		assert_false(topic_filter_valid(bad[i].filter, &why));
		assert_string_equal(why, bad[i].why);
	}
}

static void
test_filter_length(void **state)
{
	char *s = malloc(TOPIC_MAX_LEN + 2);

	(void)state;
	assert_non_null(s);
	memset(s, 'a', TOPIC_MAX_LEN);
	s[TOPIC_MAX_LEN] = '\0';
	assert_true(topic_filter_valid(s, NULL));
	assert_true(topic_name_valid(s, NULL));
	s[TOPIC_MAX_LEN] = 'a';
	s[TOPIC_MAX_LEN + 1] = '\0';
	assert_false(topic_filter_valid(s, NULL));
	assert_false(topic_name_valid(s, NULL));
	free(s);
}

static void
test_name_valid(void **state)
{
	const char *why = NULL;

	(void)state;
	assert_true(topic_name_valid("a/b", NULL));
	assert_true(topic_name_valid("/", NULL));
	assert_true(topic_name_valid("$SYS/x", NULL));
	assert_false(topic_name_valid("", &why));
	assert_string_equal(why, "a topic must not be empty");
	assert_false(topic_name_valid("a/+", &why));
	assert_string_equal(why, "a topic must not contain '+' or '#'");
	assert_false(topic_name_valid("a#", NULL));
	assert_true(topic_has_wildcard("a+b"));
	assert_true(topic_has_wildcard("#"));
	assert_false(topic_has_wildcard("gw/x/"));
}

static const struct {
	const char *filter;
	const char *topic;
	bool match;
} match_cases[] = {
	{ "a/b", "a/b", true },
	{ "a/b", "a/b/c", false },
	{ "a/b/c", "a/b", false },
	{ "a/b", "A/b", false },
	{ "#", "a", true },
	{ "#", "a/b/c", true },
	{ "#", "/", true },
	{ "a/#", "a", true },		/* '#' matches the parent level */
	{ "a/#", "a/", true },
	{ "a/#", "a/b/c", true },
	{ "a/#", "ab", false },
	{ "a/#", "b/a", false },
	{ "+", "a", true },
	{ "+", "a/b", false },
	{ "+", "/", false },
	{ "+/+", "/", true },		/* '+' matches an empty level */
	{ "a/+", "a/", true },
	{ "a/+", "a", false },		/* '+' does not match a missing level */
	{ "a/+", "a/b/c", false },
	{ "+/b", "/b", true },
	{ "a/+/c", "a//c", true },
	{ "a/+/#", "a/b", true },
	{ "a/+/#", "a", false },
	{ "/#", "/a", true },
	{ "/#", "a", false },
	{ "#", "$SYS/x", false },	/* '$' topics: no wildcard first level */
	{ "+/x", "$SYS/x", false },
	{ "+", "$x", false },
	{ "$SYS/#", "$SYS/x", true },
	{ "$SYS/+", "$SYS/x", true },
	{ "a/#", "a/$x", true },	/* '$' only matters at the first level */
	{ "a/b", "a/+", false },	/* a name's '+' is a plain character */
	{ "a/+", "a/+", true },
};

static void
test_matches(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(match_cases) / sizeof(match_cases[0]); i++) {
		if (topic_matches(match_cases[i].filter, match_cases[i].topic)
		    != match_cases[i].match)
			fail_msg("topic_matches('%s', '%s') should be %d",
			    match_cases[i].filter, match_cases[i].topic,
			    match_cases[i].match);
	}
}

static const struct {
	const char *a;
	const char *b;
	bool overlap;
} overlap_cases[] = {
	{ "a/b", "a/b", true },
	{ "a/b", "a/c", false },
	{ "#", "a/b", true },
	{ "#", "#", true },
	{ "+", "#", true },
	{ "a/#", "a", true },		/* "a" itself */
	{ "a/#", "a/b/c", true },
	{ "a/#", "b/#", false },
	{ "a/+", "a/b", true },
	{ "a/+", "a/b/c", false },
	{ "a/+", "a", false },
	{ "a/+", "+/b", true },		/* "a/b" */
	{ "+/a", "b/+", true },		/* "b/a" */
	{ "+/a", "+/b", false },
	{ "a/+/c", "a/#", true },
	{ "a/+/c", "+/+/d", false },
	{ "sensors/#", "cmd/#", false },
	{ "gw/x/sensors/#", "gw/x/cmd/#", false },
	{ "gw/x/#", "gw/x/cmd/#", true },
	{ "gw/+/cmd/#", "gw/x/cmd/y", true },
	{ "a", "a/+", false },
	{ "a", "a/#", true },
	{ "/", "+/+", true },
	{ "/", "+", false },
	{ "#", "$SYS/x", false },
	{ "+/#", "$SYS/#", false },
	{ "$SYS/#", "$SYS/x", true },
	{ "#", "+", true },
	{ "a/#", "+/+/+", true },
	{ "+/+", "a/b/c", false },
};

static void
test_overlap(void **state)
{
	size_t i;
	const char *a, *b;

	(void)state;
	for (i = 0; i < sizeof(overlap_cases) / sizeof(overlap_cases[0]);
	    i++) {
		a = overlap_cases[i].a;
		b = overlap_cases[i].b;
		if (topic_filters_overlap(a, b) != overlap_cases[i].overlap ||
		    topic_filters_overlap(b, a) != overlap_cases[i].overlap)
			fail_msg("overlap('%s', '%s') should be %d", a, b,
			    overlap_cases[i].overlap);
	}
}

/* A name with no wildcard overlaps a filter exactly when it matches. */
static void
test_overlap_agrees_with_matches(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(match_cases) / sizeof(match_cases[0]); i++) {
		if (topic_has_wildcard(match_cases[i].topic))
			continue;
		assert_int_equal(topic_filters_overlap(match_cases[i].filter,
		    match_cases[i].topic), match_cases[i].match);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_filter_valid),
		cmocka_unit_test(test_filter_invalid),
		cmocka_unit_test(test_filter_length),
		cmocka_unit_test(test_name_valid),
		cmocka_unit_test(test_matches),
		cmocka_unit_test(test_overlap),
		cmocka_unit_test(test_overlap_agrees_with_matches),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
