/* SPDX-License-Identifier: ISC */
/* Unit tests for platform/uci: every syntax form and every error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "platform/uci.h"

/* Parse text; *errs receives everything written to the error stream. */
static int
parse(const char *text, size_t len, struct uci_file **uf, char **errs)
{
	size_t elen = 0;
	FILE *f;
	int rc;

	*errs = NULL;
	f = open_memstream(errs, &elen);
	assert_non_null(f);
	rc = uci_parse(text, len, "t.conf", f, uf);
	fclose(f);
	return rc;
}

static struct uci_file *
parse_ok(const char *text)
{
	struct uci_file *uf;
	char *errs;

	if (parse(text, strlen(text), &uf, &errs) != UCI_OK)
		fail_msg("unexpected errors: %s", errs);
	assert_string_equal(errs, "");
	free(errs);
	assert_non_null(uf);
	return uf;
}

/* The text must fail with exactly the expected error output. */
static void
expect_errors(const char *text, const char *expected)
{
	struct uci_file *uf = (struct uci_file *)1;
	char *errs;

	assert_int_equal(parse(text, strlen(text), &uf, &errs),
	    UCI_ERR_SYNTAX);
	assert_null(uf);
	assert_string_equal(errs, expected);
	free(errs);
}

static const char *
value(const struct uci_section *s, const char *name, size_t i)
{
	const struct uci_option *o = uci_find_option(s, name);

	assert_non_null(o);
	assert_true(i < o->n_values);
	return o->values[i].str;
}

static void
test_sections_and_options(void **state)
{
	struct uci_file *uf = parse_ok(
	    "package 'pushrelay'\n"
	    "\n"
	    "config relay 'main'\n"
	    "\toption id 'gw-1'\n"
	    "config uplink\n"
	    "\toption topic 'sensors/#'\n"
	    "\tlist extra one\n"
	    "\tlist extra \"two\"\n");

	(void)state;
	assert_int_equal(uf->n_sections, 2);
	assert_string_equal(uf->sections[0].type, "relay");
	assert_string_equal(uf->sections[0].name, "main");
	assert_int_equal(uf->sections[0].line, 3);
	assert_string_equal(value(&uf->sections[0], "id", 0), "gw-1");
	assert_int_equal(uf->sections[0].options[0].values[0].line, 4);
	assert_false(uf->sections[0].options[0].is_list);
	assert_string_equal(uf->sections[1].type, "uplink");
	assert_null(uf->sections[1].name);
	assert_int_equal(uf->sections[1].line, 5);
	assert_string_equal(value(&uf->sections[1], "topic", 0), "sensors/#");
	assert_true(uci_find_option(&uf->sections[1], "extra")->is_list);
	assert_int_equal(uci_find_option(&uf->sections[1], "extra")->n_values,
	    2);
	assert_string_equal(value(&uf->sections[1], "extra", 1), "two");
	assert_int_equal(uci_find_option(&uf->sections[1], "extra")->
	    values[1].line, 8);
	assert_int_equal(uci_find_option(&uf->sections[1], "extra")->line, 8);
	assert_null(uci_find_option(&uf->sections[1], "nope"));
	assert_null(uci_find_option(NULL, "id"));
	uci_free(uf);
}

static void
test_quoting(void **state)
{
	struct uci_file *uf = parse_ok(
	    "config t\n"
	    "\toption single 'a \"b\" \\n #c'\n"
	    "\toption double \"a 'b' \\\"q\\\" \\\\ \\n #c\"\n"
	    "\toption bare a\\ b\\'c\n"
	    "\toption concat 'a'\"b\"c'd'\n"
	    "\toption apos 'it'\\''s'\n"
	    "\toption empty ''\n"
	    "\toption emptyd \"\"\n"
	    "\toption hash 'a#b'\n");
	const struct uci_section *s;

	(void)state;
	s = &uf->sections[0];
	assert_string_equal(value(s, "single", 0), "a \"b\" \\n #c");
	assert_string_equal(value(s, "double", 0), "a 'b' \"q\" \\ n #c");
	assert_string_equal(value(s, "bare", 0), "a b'c");
	assert_string_equal(value(s, "concat", 0), "abcd");
	assert_string_equal(value(s, "apos", 0), "it's");
	assert_string_equal(value(s, "empty", 0), "");
	assert_string_equal(value(s, "emptyd", 0), "");
	assert_string_equal(value(s, "hash", 0), "a#b");
	uci_free(uf);
}

static void
test_comments_and_separators(void **state)
{
	struct uci_file *uf = parse_ok(
	    "# a comment\n"
	    "   # an indented comment\n"
	    "config t 'n' # trailing comment\n"
	    "\toption a 1# comment glued to the value\n"
	    "\toption b '2;3'\"'\" # a ';' quoted or in a comment\n"
	    "\toption e \\\n"
	    "\t    five\n"
	    "\toption f \"long \\\n"
	    "line\"\n"
	    "c u\n"
	    "o g 7\n"
	    "l h 8\n"
	    "p x\n"
	    "\toption last 9");
	const struct uci_section *s;

	(void)state;
	assert_int_equal(uf->n_sections, 2);
	s = &uf->sections[0];
	assert_string_equal(s->name, "n");
	assert_int_equal(s->line, 3);
	assert_string_equal(value(s, "a", 0), "1");
	assert_true(uci_find_option(s, "a")->values[0].cut);
	assert_string_equal(value(s, "b", 0), "2;3'");
	assert_false(uci_find_option(s, "b")->values[0].cut);
	assert_int_equal(uci_find_option(s, "b")->line, 5);
	assert_string_equal(value(s, "e", 0), "five");
	assert_string_equal(value(s, "f", 0), "long line");
	s = &uf->sections[1];
	assert_string_equal(s->type, "u");
	assert_int_equal(s->line, 10);
	assert_string_equal(value(s, "g", 0), "7");
	assert_true(uci_find_option(s, "h")->is_list);
	assert_string_equal(value(s, "last", 0), "9");
	assert_int_equal(uci_find_option(s, "last")->line, 14);
	uci_free(uf);
}

/* As in libuci, an unquoted '#' ends the word and starts a comment. */
static void
test_unquoted_hash(void **state)
{
	struct uci_file *uf = parse_ok(
	    "config t\n"
	    "\toption a sensors/#\n"
	    "\toption b sensors/\\#\n"
	    "\toption c \"sensors/#\"\n");

	(void)state;
	assert_string_equal(value(&uf->sections[0], "a", 0), "sensors/");
	assert_string_equal(value(&uf->sections[0], "b", 0), "sensors/#");
	assert_string_equal(value(&uf->sections[0], "c", 0), "sensors/#");
	uci_free(uf);
}

static void
test_option_and_list_semantics(void **state)
{
	struct uci_file *uf = parse_ok(
	    "config t\n"
	    "\toption a 1\n"
	    "\toption a 2\n"		/* last wins */
	    "\tlist b x\n"
	    "\toption b y\n"		/* option replaces the list */
	    "\toption c p\n"
	    "\tlist c q\n"		/* list keeps the option's value */
	    "config t\n"
	    "\toption a 3\n");
	const struct uci_option *o;

	(void)state;
	o = uci_find_option(&uf->sections[0], "a");
	assert_int_equal(o->n_values, 1);
	assert_string_equal(o->values[0].str, "2");
	assert_int_equal(o->line, 3);
	o = uci_find_option(&uf->sections[0], "b");
	assert_false(o->is_list);
	assert_int_equal(o->n_values, 1);
	assert_string_equal(o->values[0].str, "y");
	o = uci_find_option(&uf->sections[0], "c");
	assert_true(o->is_list);
	assert_int_equal(o->n_values, 2);
	assert_string_equal(o->values[0].str, "p");
	assert_int_equal(o->values[0].line, 6);
	assert_string_equal(o->values[1].str, "q");
	assert_int_equal(uf->sections[0].n_options, 3);
	assert_string_equal(value(&uf->sections[1], "a", 0), "3");
	uci_free(uf);
}

/* Flatten a parsed file to text, ignoring line numbers. */
static char *
dump(const struct uci_file *uf)
{
	const struct uci_section *s;
	const struct uci_option *o;
	size_t i, j, k, len;
	char *out = NULL;
	FILE *f = open_memstream(&out, &len);

	for (i = 0; i < uf->n_sections; i++) {
		s = &uf->sections[i];
		fprintf(f, "[%s|%s]", s->type, s->name ? s->name : "-");
		for (j = 0; j < s->n_options; j++) {
			o = &s->options[j];
			fprintf(f, "%s%s=", o->is_list ? "@" : "", o->name);
			for (k = 0; k < o->n_values; k++)
				fprintf(f, "<%s>", o->values[k].str);
		}
	}
	fclose(f);
	return out;
}

/* One file in many layouts must give the same sections and values. */
static void
test_layouts(void **state)
{
	static const char *const layouts[] = {
	    "config relay 'main'\n\toption id 'gw'\n\tlist a 'x y'\n"
	    "config uplink\n\toption topic 's/#'\n",
	    "config relay main\noption id gw\nlist a \"x y\"\n"
	    "config uplink\noption topic s/\\#\n",
	    "  config   relay   'main'  \n    option  id  'gw'   \n"
	    "\t \tlist\ta\t'x y'\n\n\n config uplink\n option topic 's/#'",
	    "config relay 'main'\r\n\toption id 'gw'\r\n\tlist a 'x y'\r\n"
	    "config uplink\r\n\toption topic 's/#'\r\n",
	    "# head\nconfig relay 'm''ain' # x\n\toption id g'w'\n"
	    "\tlist a 'x'\" \"y # z\n\n# between\nconfig uplink\n"
	    "\toption topic \\\n 's/#'\n# tail",
	    "c relay 'main'\no id 'gw'\nl a 'x y'\nc uplink\no topic 's/#'\n",
	};
	const char *want = "[relay|main]id=<gw>@a=<x y>[uplink|-]topic=<s/#>";
	struct uci_file *uf;
	char *got;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++) {
		uf = parse_ok(layouts[i]);
		got = dump(uf);
		if (strcmp(got, want) != 0)
			fail_msg("layout %zu gave %s", i, got);
		free(got);
		uci_free(uf);
	}
}

static void
test_empty_inputs(void **state)
{
	struct uci_file *uf;

	(void)state;
	uf = parse_ok("");
	assert_int_equal(uf->n_sections, 0);
	uci_free(uf);
	uf = parse_ok("\n\n# only a comment\n   \t\n");
	assert_int_equal(uf->n_sections, 0);
	uci_free(uf);
}

#define SEMI "';' joins statements on one line, and libuci drops what " \
	"follows it: write one statement per line (quote a ';' that belongs " \
	"to a value)\n"

static const struct {
	const char *text;
	const char *errors;
} error_cases[] = {
	{ "config t\n\toption a 'abc\n",
	  "t.conf:2: syntax: unterminated single quote\n" },
	{ "config t\n\n\toption a \"abc\n",
	  "t.conf:3: syntax: unterminated double quote\n" },
	{ "config t\n\toption a \"abc\\\n",
	  "t.conf:3: syntax: unterminated double quote\n" },
	{ "option a b\n",
	  "t.conf:1: syntax: option outside of a config section\n" },
	{ "\nlist a b\n",
	  "t.conf:2: syntax: list outside of a config section\n" },
	{ "config\n", "t.conf:1: syntax: missing section type\n" },
	{ "config ''\n", "t.conf:1: syntax: bad section type ''\n" },
	{ "config t\xc3\xa9\n", "t.conf:1: syntax: bad section type 't\xc3\xa9'\n" },
	{ "config t 'a-b'\n", "t.conf:1: syntax: bad section name 'a-b': "
	  "use only letters, digits and '_'\n" },
	{ "config t ''\n", "t.conf:1: syntax: bad section name '': "
	  "use only letters, digits and '_'\n" },
	{ "config t\n\toption\n", "t.conf:2: syntax: missing option name\n" },
	{ "config t\n\tlist # x\n", "t.conf:2: syntax: missing list name\n" },
	{ "config t\n\toption a\n",
	  "t.conf:2: syntax: missing value for option 'a'\n" },
	{ "config t\n\tlist a #;\n",
	  "t.conf:2: syntax: missing value for list 'a'\n" },
	/* libuci drops the rest of a line after an unquoted word and ';'. */
	{ "config t\n\toption a b;option c d\n",
	  "t.conf:2: syntax: " SEMI },
	{ "config t\n\toption a 'b' ; option c d\n",
	  "t.conf:2: syntax: " SEMI },
	{ "config t; option a b\n", "t.conf:1: syntax: " SEMI },
	{ "config t\n\t;\n\toption a x;y\n",
	  "t.conf:2: syntax: " SEMI "t.conf:3: syntax: " SEMI },
	{ "config t\n\toption a.b c\n", "t.conf:2: syntax: bad option name "
	  "'a.b': use only letters, digits and '_'\n" },
	{ "config t a b\n",
	  "t.conf:1: syntax: unexpected 'b' after the config statement\n" },
	{ "config t\n\toption a 'b' c\n",
	  "t.conf:2: syntax: unexpected 'c' after the option statement\n" },
	{ "config t\n\tlist a b c\n",
	  "t.conf:2: syntax: unexpected 'c' after the list statement\n" },
	{ "config t\n\toptions a b\n", "t.conf:2: syntax: unknown statement "
	  "'options' (expected config, option, list or package)\n" },
	{ "package\n", "t.conf:1: syntax: missing package name\n" },
	{ "package a b\n",
	  "t.conf:1: syntax: unexpected 'b' after the package statement\n" },
	{ "package 'a.b'\n", "t.conf:1: syntax: bad package name 'a.b'\n" },
	{ "config t\n\toption a b\\",
	  "t.conf:2: syntax: backslash before the end of the line\n" },
};

static void
test_errors(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++)
		expect_errors(error_cases[i].text, error_cases[i].errors);
}

static void
test_nul_byte(void **state)
{
	static const char text[] = "config t\n\toption a b\0c\n\toption d '\0'\n";
	struct uci_file *uf;
	char *errs;

	(void)state;
	assert_int_equal(parse(text, sizeof(text) - 1, &uf, &errs),
	    UCI_ERR_SYNTAX);
	assert_string_equal(errs, "t.conf:2: syntax: NUL byte\n"
	    "t.conf:3: syntax: NUL byte inside a quoted value\n");
	free(errs);
}

/* Every error is reported, each once, and parsing goes on after it. */
static void
test_all_errors_reported(void **state)
{
	(void)state;
	expect_errors(
	    "option early 1\n"			/* 1: outside a section */
	    "config relay\n"
	    "\toption id 'unterminated\n"	/* 3 */
	    "\toption ok 1\n"
	    "\toption 'bad name' 2\n"		/* 5 */
	    "config broken 'x-y'\n"		/* 6 */
	    "\toption ignored 1\n"		/* dropped silently */
	    "\toption still 'checked\n"		/* 8: syntax still checked */
	    "config t\n"
	    "\toption a 1 2\n"			/* 10 */
	    "bogus\n"				/* 11 */
	    "\toption last \"x\n",		/* 12 */
	    "t.conf:1: syntax: option outside of a config section\n"
	    "t.conf:3: syntax: unterminated single quote\n"
	    "t.conf:5: syntax: bad option name 'bad name': use only "
	    "letters, digits and '_'\n"
	    "t.conf:6: syntax: bad section name 'x-y': use only letters, "
	    "digits and '_'\n"
	    "t.conf:8: syntax: unterminated single quote\n"
	    "t.conf:10: syntax: unexpected '2' after the option statement\n"
	    "t.conf:11: syntax: unknown statement 'bogus' (expected config, "
	    "option, list or package)\n"
	    "t.conf:12: syntax: unterminated double quote\n");
}

/* Options after a broken config line raise no second message. */
static void
test_broken_section_is_quiet(void **state)
{
	(void)state;
	expect_errors("config t 'a' 'b'\n\toption x 1\n\tlist y 2\n",
	    "t.conf:1: syntax: unexpected 'b' after the config statement\n");
}

/* Every prefix of a valid file parses or fails cleanly (run with ASan). */
static void
test_every_truncation(void **state)
{
	static const char text[] =
	    "package p\nconfig relay 'main' # c\n\toption id \"g\\\"w\"\n"
	    "\tlist a 'x'\"y\"\\\n z\n\toption b c\nconfig u\n\toption t '1'\n";
	struct uci_file *uf;
	char *errs;
	size_t len;
	int rc;

	(void)state;
	for (len = 0; len <= sizeof(text) - 1; len++) {
		rc = parse(text, len, &uf, &errs);
		assert_true(rc == UCI_OK || rc == UCI_ERR_SYNTAX);
		assert_true((rc == UCI_OK) == (uf != NULL));
		assert_true((rc == UCI_OK) == (errs[0] == '\0'));
		uci_free(uf);
		free(errs);
	}
}

static void
test_no_error_stream(void **state)
{
	struct uci_file *uf;

	(void)state;
	assert_int_equal(uci_parse("config", 6, "x", NULL, &uf),
	    UCI_ERR_SYNTAX);
	assert_null(uf);
	uci_free(NULL);
}

static void
test_strerror(void **state)
{
	(void)state;
	assert_string_equal(uci_strerror(UCI_OK), "success");
	assert_string_equal(uci_strerror(UCI_ERR_SYNTAX), "syntax error");
	assert_string_equal(uci_strerror(UCI_ERR_NOMEM), "out of memory");
	assert_string_equal(uci_strerror(-99), "unknown error");
	assert_string_equal(uci_strerror(1), "unknown error");
}

/*
 * Many distinct options in one section, and each set twice: every one is
 * found, the second value wins. The parser reads this in linear time (an
 * index per section); the old linear search took 10 s for 80,000.
 */
static void
test_many_options(void **state)
{
	enum { N = 100000 };
	struct uci_file *uf;
	const struct uci_option *o;
	char *buf, *p, name[32];
	size_t cap = 64 + (size_t)N * 2 * 40;
	int i, round;

	(void)state;
	assert_non_null(buf = malloc(cap));
	p = buf + sprintf(buf, "config relay 'main'\n");
	for (round = 0; round < 2; round++)
		for (i = 0; i < N; i++)
			p += sprintf(p, "\toption o%d '%d'\n", i, i + round);
	assert_int_equal(uci_parse(buf, (size_t)(p - buf), "many", NULL, &uf),
	    UCI_OK);
	assert_int_equal(uf->sections[0].n_options, N);
	for (i = 0; i < N; i += 997) {
		snprintf(name, sizeof(name), "o%d", i);
		assert_non_null(o = uci_find_option(&uf->sections[0], name));
		assert_int_equal(atoi(o->values[0].str), i + 1);
	}
	uci_free(uf);
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sections_and_options),
		cmocka_unit_test(test_many_options),
		cmocka_unit_test(test_quoting),
		cmocka_unit_test(test_comments_and_separators),
		cmocka_unit_test(test_unquoted_hash),
		cmocka_unit_test(test_option_and_list_semantics),
		cmocka_unit_test(test_layouts),
		cmocka_unit_test(test_empty_inputs),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_all_errors_reported),
		cmocka_unit_test(test_broken_section_is_quiet),
		cmocka_unit_test(test_every_truncation),
		cmocka_unit_test(test_no_error_stream),
		cmocka_unit_test(test_strerror),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
