/* SPDX-License-Identifier: ISC */
/*
 * uci: a stand-alone reader for OpenWrt UCI configuration syntax.
 *
 * The one job of this module is syntax: it turns a buffer into a plain list
 * of sections, each with its options and lists, and knows nothing of what
 * the sections mean (that is platform/conf's job). libuci is not used; the
 * grammar follows libuci's file parser:
 *
 *   package NAME                     accepted and ignored
 *   config TYPE [NAME]               opens a section
 *   option NAME VALUE                sets a single value (a later one wins)
 *   list NAME VALUE                  appends a value
 *
 * Keywords may be abbreviated to their first letter (c, o, l, p), as libuci
 * allows. A word is any run of: 'single-quoted text' (no escapes inside),
 * "double-quoted text" (a backslash takes the next character literally),
 * and unquoted characters (a backslash takes the next character literally),
 * so 'a'"b"c is the one word abc, and 'it'\''s' is it's. A backslash at
 * the end of a line joins the next line. An unquoted '#' starts a comment
 * that runs to the end of the line, even inside a word, as in libuci
 * (file.c, parse_str): "option topic sensors/#" sets 'sensors/', and the
 * value records that it was cut there (struct uci_value, cut). An unquoted
 * ';' is a syntax error: libuci takes it as a statement separator but,
 * after an unquoted word, drops the rest of the line without a word, so
 * one statement per line is the only form both read alike. Spaces, tabs
 * and a '\r' before the newline separate words. Quoted text may not run
 * past the end of its line.
 *
 * Names: section and option names are 1 or more of [A-Za-z0-9_]; section
 * types are 1 or more printable ASCII characters other than a space, as in
 * libuci. Unlike libuci, an option or list without a value is an error (an
 * explicit '' gives an empty value, which platform/confval then takes as
 * absent, as libuci does), and two sections with the same name
 * stay two sections: deciding whether that is allowed is the schema's job.
 *
 * Errors are written to a caller-given FILE as "FILE:LINE: syntax: what",
 * and parsing resumes on the next line, so one pass reports every error.
 * Options after a broken "config" line are still checked for syntax but
 * then dropped without a second message, until the next section.
 *
 * Ownership: uci_parse() returns a struct uci_file owned by the caller and
 * freed with uci_free(); every string inside belongs to it.
 * Thread: any; no shared state. Nothing blocks.
 */
#ifndef PUSHRELAY_UCI_H
#define PUSHRELAY_UCI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum uci_err {
	UCI_OK = 0,
	UCI_ERR_SYNTAX = -1,	/* one or more syntax errors, all reported */
	UCI_ERR_NOMEM = -2,
};

/* One value of an option or list, with the line its statement began on. */
struct uci_value {
	char *str;		/* NUL-terminated; may be empty */
	int line;
	bool cut;		/* an unquoted '#' right after the value began
				 * a comment: the text meant may be longer */
};

/*
 * An option or a list of a section. An "option" statement replaces all
 * earlier values of that name and clears is_list; a "list" statement
 * appends a value and sets is_list (as libuci, a list statement after an
 * option keeps the option's value as the first item).
 */
struct uci_option {
	char *name;
	bool is_list;		/* last statement for this name was "list" */
	int line;		/* line of the last statement for this name */
	struct uci_value *values;
	size_t n_values;	/* >= 1 */
};

struct uci_section {
	char *type;
	char *name;		/* NULL for an anonymous section */
	int line;		/* line of the "config" statement */
	struct uci_option *options;	/* in order of first appearance */
	size_t n_options;
};

struct uci_file {
	struct uci_section *sections;	/* in file order */
	size_t n_sections;
};

/*
 * uci_parse: parse len bytes of buf (no NUL terminator needed; a NUL byte
 * inside is a syntax error).
 * file: borrowed; only used as the FILE part of error messages.
 * errs: may be NULL; otherwise every syntax error is written to it, one per
 * line, as "FILE:LINE: syntax: what".
 * out: on UCI_OK receives the parsed file (caller frees with uci_free());
 * on any error it is set to NULL.
 * Returns UCI_OK, UCI_ERR_SYNTAX when at least one error was found (after
 * reporting all of them), or UCI_ERR_NOMEM.
 */
int uci_parse(const char *buf, size_t len, const char *file, FILE *errs,
    struct uci_file **out);

/* uci_free: release a parsed file. NULL is a no-op. */
void uci_free(struct uci_file *uf);

/*
 * uci_find_option: the option called name in section s, or NULL when
 * absent. s may be NULL (then NULL is returned). The result is borrowed
 * from s.
 */
const struct uci_option *uci_find_option(const struct uci_section *s,
    const char *name);

/* uci_strerror: static text for a uci_err code. */
const char *uci_strerror(int err);

#endif
