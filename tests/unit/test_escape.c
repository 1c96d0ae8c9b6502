/* SPDX-License-Identifier: ISC */
/* Unit tests for platform/escape: untrusted bytes rendered for logs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "platform/escape.h"

static void
test_plain_and_escaped(void **state)
{
	char out[ESCAPE_LOG_MAX];

	(void)state;
	assert_string_equal(escape_bytes(out, sizeof(out), "gw/a b/c", 8),
	    "gw/a b/c");
	/* A newline must not start a forged log line. */
	assert_string_equal(escape_bytes(out, sizeof(out),
	    "a\nwarn: forged", 14), "a\\x0awarn: forged");
	assert_string_equal(escape_bytes(out, sizeof(out), "\\x41", 4),
	    "\\\\x41");
	/* NUL, DEL, a C1 control in UTF-8, an invalid byte, a terminal
	 * escape. */
	assert_string_equal(escape_bytes(out, sizeof(out),
	    "\0\x7f\xc2\x85\xff\x1b[", 7), "\\x00\\x7f\\xc2\\x85\\xff\\x1b[");
	assert_string_equal(escape_bytes(out, sizeof(out), NULL, 0), "");
}

static void
test_bounded(void **state)
{
	char big[1000], out[16], whole[13];
	size_t cap;

	(void)state;
	memset(big, 'a', sizeof(big));
	escape_bytes(out, sizeof(out), big, sizeof(big));
	assert_string_equal(out, "aaaaaaaaaaaa...");
	/* Exactly fitting: no cut mark. */
	escape_bytes(out, sizeof(out), big, 15);
	assert_string_equal(out, "aaaaaaaaaaaaaaa");
	/* An escape is never split. */
	escape_bytes(out, sizeof(out), "aaaaaaaa\x01\x02", 10);
	assert_string_equal(out, "aaaaaaaa\\x01...");
	memset(big, 0xff, sizeof(big));
	for (cap = 0; cap < sizeof(out); cap++) {
		memset(out, 'Z', sizeof(out));
		escape_bytes(out, cap, big, sizeof(big));
		if (cap > 0)
			assert_true(strlen(out) < cap);
		else
			assert_int_equal(out[0], 'Z');
	}
	assert_int_equal(escape_bytes_bound(3), 13);
	/* escape_bytes_bound() is enough for the whole rendering. */
	assert_string_equal(escape_bytes(whole, sizeof(whole), "\x01\x02\x03",
	    3), "\\x01\\x02\\x03");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_and_escaped),
		cmocka_unit_test(test_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
