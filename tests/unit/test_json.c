/* SPDX-License-Identifier: ISC */
/* Unit tests for platform/json: strings that are not UTF-8 stay JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "platform/json.h"

/* json_put_str of s (len bytes), as a string the caller frees. */
static char *
put(const char *s, size_t len)
{
	char *out = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&out, &n);

	assert_non_null(f);
	json_put_str(f, (const uint8_t *)s, len);
	assert_int_equal(fclose(f), 0);
	return out;
}

static void
check(const char *s, size_t len, const char *want)
{
	char *got = put(s, len);

	assert_string_equal(got, want);
	/* Whatever went in, what comes out is UTF-8. */
	assert_true(json_utf8_valid((const uint8_t *)got, strlen(got)));
	free(got);
}

static void
test_put_str(void **state)
{
	(void)state;
	check("gw/a", 4, "\"gw/a\"");
	check("\"\\\n\r\t\x01\x7f", 7, "\"\\\"\\\\\\n\\r\\t\\u0001\\u007f\"");
	check("b\xc3\xa4r \xe2\x82\xac", 8, "\"b\xc3\xa4r \xe2\x82\xac\"");
	/* An invalid byte, an overlong '/', a surrogate, a cut sequence. */
	check("a\xff" "b", 3, "\"a\\ufffdb\"");
	check("\xc0\xaf", 2, "\"\\ufffd\\ufffd\"");
	check("\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\"");
	check("x\xe2\x82", 3, "\"x\\ufffd\\ufffd\"");
	check("\0", 1, "\"\\u0000\"");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_str),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
