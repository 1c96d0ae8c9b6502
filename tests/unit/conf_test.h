/* SPDX-License-Identifier: ISC */
/*
 * Helpers shared by the unit tests of platform/conf: parse a text, expect
 * success or an exact error report, print a conf. Included by
 * tests/unit/test_conf*.c only (each is its own program).
 */
#ifndef PUSHRELAY_CONF_TEST_H
#define PUSHRELAY_CONF_TEST_H

static inline int
parse(const char *text, struct conf **c, char **errs)
{
	size_t len = 0;
	FILE *f;
	int rc;

	*c = NULL;
	f = open_memstream(errs, &len);
	assert_non_null(f);
	rc = conf_parse("t.conf", text, strlen(text), c, f);
	fclose(f);
	return rc;
}

static inline struct conf *
load_ok(const char *text)
{
	struct conf *c;
	char *errs;

	if (parse(text, &c, &errs) != CONF_OK)
		fail_msg("unexpected errors:\n%s", errs);
	free(errs);
	assert_non_null(c);
	return c;
}

static inline void
expect_invalid(const char *text, const char *expected)
{
	struct conf *c;
	char *errs;
	int rc;

	rc = parse(text, &c, &errs);
	if (strcmp(errs, expected) != 0)
		fail_msg("for:\n%s\ngot:\n%swant:\n%s", text, errs, expected);
	assert_int_equal(rc, CONF_ERR_INVALID);
	assert_null(c);
	free(errs);
}

/*
 * conf_print's text into *out (the caller frees it). *out belongs to the
 * caller's frame: with a local here, GCC 12 for 32-bit ARM inlines this and
 * then takes strstr() on the text for a dangling pointer to that local
 * (-Wdangling-pointer), since its address went to open_memstream.
 */
static inline void
print(const struct conf *c, char **out)
{
	size_t len;
	FILE *f;

	*out = NULL;
	f = open_memstream(out, &len);
	conf_print(c, f);
	fclose(f);
}

#endif
