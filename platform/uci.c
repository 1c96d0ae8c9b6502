/* SPDX-License-Identifier: ISC */
/* uci: reader for OpenWrt UCI syntax into a plain section list; see uci.h. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uci.h"

/* A growable byte buffer for the word being read. */
struct uci_buf {
	char *s;
	size_t len;
	size_t cap;
};

/*
 * Where the parser stands relative to sections: before the first one, in
 * a good one, or after a "config" statement that failed (whose options are
 * then parsed for syntax but dropped without a second message).
 */
enum uci_sec_state {
	SEC_NONE = 0,
	SEC_OPEN,
	SEC_BROKEN,
};

enum uci_word {
	WORD_OK = 0,		/* a word is in ps->word */
	WORD_END,		/* end of statement: newline, '#' or EOF */
	WORD_ERR,		/* error already reported (or out of memory) */
};

struct uci_parser {
	const char *p;
	const char *end;
	const char *file;
	FILE *errs;
	int line;
	int n_errors;
	bool nomem;
	enum uci_sec_state sec;
	struct uci_file *uf;
	struct uci_buf word;
	bool word_cut;		/* the last word ran into an unquoted '#' */
	/*
	 * The current section's options by name: an open-addressing table
	 * of option index + 1 (0: empty), and the options array's capacity,
	 * so that a section of n options reads in O(n), not O(n^2).
	 */
	size_t *index;
	size_t index_cap;		/* a power of two, or 0 */
	size_t opt_cap;
};

static const char *const uci_errstr[] = {
	"success",
	"syntax error",
	"out of memory",
};
_Static_assert(sizeof(uci_errstr) / sizeof(uci_errstr[0]) ==
    -UCI_ERR_NOMEM + 1, "uci_errstr must match enum uci_err");

const char *
uci_strerror(int err)
{
	if (err > 0 || err < UCI_ERR_NOMEM)
		return "unknown error";
	return uci_errstr[-err];
}

static void __attribute__((format(printf, 2, 3)))
parse_error(struct uci_parser *ps, const char *fmt, ...)
{
	va_list ap;

	ps->n_errors++;
	if (ps->errs == NULL)
		return;
	fprintf(ps->errs, "%s:%d: syntax: ", ps->file, ps->line);
	va_start(ap, fmt);
	vfprintf(ps->errs, fmt, ap);
	va_end(ap);
	fputc('\n', ps->errs);
}

static int
peek(const struct uci_parser *ps, size_t ahead)
{
	if ((size_t)(ps->end - ps->p) <= ahead)
		return -1;
	return (unsigned char)ps->p[ahead];
}

static bool
buf_putc(struct uci_parser *ps, char c)
{
	struct uci_buf *b = &ps->word;
	char *n;

	if (b->len + 1 >= b->cap) {
		n = realloc(b->s, b->cap * 2);
		if (n == NULL) {
			ps->nomem = true;
			return false;
		}
		b->s = n;
		b->cap *= 2;
	}
	b->s[b->len++] = c;
	b->s[b->len] = '\0';
	return true;
}

/*
 * At a backslash: if it ends the line (optionally before a '\r'), step over
 * the line break and return true, so the caller carries on with the next
 * line as if it were this one.
 */
static bool
skip_continuation(struct uci_parser *ps)
{
	size_t n = peek(ps, 1) == '\r' ? 2 : 1;

	if (peek(ps, n) != '\n')
		return false;
	ps->p += n + 1;
	ps->line++;
	return true;
}

static void
skip_blanks(struct uci_parser *ps)
{
	int c;

	while ((c = peek(ps, 0)) != -1) {
		if (c == ' ' || c == '\t' || c == '\r')
			ps->p++;
		else if (c != '\\' || !skip_continuation(ps))
			break;
	}
}

/* Skip the rest of the line, including its newline (error recovery). */
static void
skip_line(struct uci_parser *ps)
{
	const char *nl = memchr(ps->p, '\n', (size_t)(ps->end - ps->p));

	if (nl == NULL) {
		ps->p = ps->end;
		return;
	}
	ps->p = nl + 1;
	ps->line++;
}

/* Consume what ended a statement: a comment and newline, or a newline. */
static void
end_statement(struct uci_parser *ps)
{
	switch (peek(ps, 0)) {
	case '#':
	case '\n':
		skip_line(ps);
		break;
	default:
		break;
	}
}

/*
 * An unquoted ';' is refused: libuci ends the word there and, when the word
 * was unquoted, overwrites the ';' with the word's terminator, so the rest
 * of the line is silently lost (after a quoted word it parses on). One
 * statement per line reads the same in both.
 */
static void
refuse_semicolon(struct uci_parser *ps)
{
	parse_error(ps, "';' joins statements on one line, and libuci drops "
	    "what follows it: write one statement per line (quote a ';' that "
	    "belongs to a value)");
}

/* Read 'text' at ps->p into the word; false after reporting an error. */
static bool
read_single(struct uci_parser *ps)
{
	int c;

	for (ps->p++; (c = peek(ps, 0)) != -1 && c != '\n'; ps->p++) {
		if (c == '\'') {
			ps->p++;
			return true;
		}
		if (c == '\0') {
			parse_error(ps, "NUL byte inside a quoted value");
			return false;
		}
		if (!buf_putc(ps, (char)c))
			return false;
	}
	parse_error(ps, "unterminated single quote");
	return false;
}

/* Read "text" at ps->p into the word; false after reporting an error. */
static bool
read_double(struct uci_parser *ps)
{
	int c;

	ps->p++;
	while ((c = peek(ps, 0)) != -1 && c != '\n') {
		if (c == '"') {
			ps->p++;
			return true;
		}
		if (c == '\\' && skip_continuation(ps))
			continue;
		if (c == '\\') {
			if ((c = peek(ps, 1)) == -1 || c == '\n')
				break;
			ps->p++;
		}
		if (c == '\0') {
			parse_error(ps, "NUL byte inside a quoted value");
			return false;
		}
		if (!buf_putc(ps, (char)c))
			return false;
		ps->p++;
	}
	parse_error(ps, "unterminated double quote");
	return false;
}

/* An unquoted backslash: join the next line or take the next character. */
static bool
read_escape(struct uci_parser *ps)
{
	int c;

	if (skip_continuation(ps))
		return true;
	c = peek(ps, 1);
	if (c == -1 || c == '\n' || c == '\0') {
		parse_error(ps, "backslash before the end of the line");
		return false;
	}
	ps->p += 2;
	return buf_putc(ps, (char)c);
}

/*
 * Read the next word of the statement into ps->word. Returns WORD_END,
 * without consuming it, when the statement ends first.
 */
static enum uci_word
read_word(struct uci_parser *ps)
{
	bool ok = true;
	int c;

	ps->word.len = 0;
	ps->word.s[0] = '\0';
	ps->word_cut = false;
	skip_blanks(ps);
	c = peek(ps, 0);
	if (c == -1 || c == '\n' || c == '#')
		return WORD_END;
	while (ok && (c = peek(ps, 0)) != -1 &&
	    (c == '\0' || strchr(" \t\r\n#", c) == NULL)) {
		if (c == ';') {
			refuse_semicolon(ps);
			return WORD_ERR;
		}
		if (c == '\'')
			ok = read_single(ps);
		else if (c == '"')
			ok = read_double(ps);
		else if (c == '\\')
			ok = read_escape(ps);
		else if (c == '\0') {
			parse_error(ps, "NUL byte");
			ok = false;
		} else {
			ok = buf_putc(ps, (char)c);
			ps->p++;
		}
	}
	ps->word_cut = ok && c == '#';
	return ok ? WORD_OK : WORD_ERR;
}

/* Section and option names: 1 or more of [A-Za-z0-9_], as libuci. */
static bool
valid_name(const char *s, const char *extra)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '_')
			continue;
		if (extra == NULL || strchr(extra, *s) == NULL)
			return false;
	}
	return true;
}

/* Section types: 1 or more printable ASCII characters but space. */
static bool
valid_type(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 33 || (unsigned char)*s > 126)
			return false;
	return true;
}

/* After the last argument: true when the statement ends here. */
static bool
expect_end(struct uci_parser *ps, const char *kw)
{
	switch (read_word(ps)) {
	case WORD_END:
		return true;
	case WORD_OK:
		parse_error(ps, "unexpected '%s' after the %s statement",
		    ps->word.s, kw);
		return false;
	case WORD_ERR:
	default:
		return false;
	}
}

/* Read one required word and copy it; NULL after reporting an error. */
static char *
take_word(struct uci_parser *ps, const char *missing)
{
	char *s;

	switch (read_word(ps)) {
	case WORD_END:
		parse_error(ps, "%s", missing);
		return NULL;
	case WORD_OK:
		if ((s = strdup(ps->word.s)) == NULL)
			ps->nomem = true;
		return s;
	case WORD_ERR:
	default:
		return NULL;
	}
}

static bool
add_section(struct uci_parser *ps, char *type, char *name, int line)
{
	struct uci_file *uf = ps->uf;
	struct uci_section *n;

	n = realloc(uf->sections, (uf->n_sections + 1) * sizeof(*n));
	if (n == NULL) {
		ps->nomem = true;
		return false;
	}
	uf->sections = n;
	n = &uf->sections[uf->n_sections++];
	memset(n, 0, sizeof(*n));
	ps->opt_cap = 0;
	if (ps->index != NULL)
		memset(ps->index, 0, ps->index_cap * sizeof(*ps->index));
	n->type = type;
	n->name = name;
	n->line = line;
	return true;
}

static bool
parse_config(struct uci_parser *ps, int line)
{
	char *type, *name = NULL;

	ps->sec = SEC_BROKEN;
	if ((type = take_word(ps, "missing section type")) == NULL)
		return false;
	if (!valid_type(type)) {
		parse_error(ps, "bad section type '%s'", type);
		goto fail;
	}
	switch (read_word(ps)) {
	case WORD_ERR:
		goto fail;
	case WORD_OK:
		if ((name = strdup(ps->word.s)) == NULL) {
			ps->nomem = true;
			goto fail;
		}
		if (!valid_name(name, NULL)) {
			parse_error(ps, "bad section name '%s': use only "
			    "letters, digits and '_'", name);
			goto fail;
		}
		break;
	case WORD_END:
	default:
		break;
	}
	if (!expect_end(ps, "config") || !add_section(ps, type, name, line))
		goto fail;
	ps->sec = SEC_OPEN;
	return true;
fail:
	free(type);
	free(name);
	return false;
}

/* FNV-1a: the index's hash of an option name. */
static size_t
index_hash(const char *name)
{
	uint64_t h = 1469598103934665603ull;

	for (; *name != '\0'; name++)
		h = (h ^ (unsigned char)*name) * 1099511628211ull;
	return (size_t)h;
}

/* The slot of name in the index: its entry, or the empty one to fill. */
static size_t *
index_slot(struct uci_parser *ps, const struct uci_section *s,
    const char *name)
{
	size_t mask = ps->index_cap - 1, i = index_hash(name) & mask;

	while (ps->index[i] != 0 &&
	    strcmp(s->options[ps->index[i] - 1].name, name) != 0)
		i = (i + 1) & mask;
	return &ps->index[i];
}

/* Keeps the index at most half full; false when out of memory. */
static bool
index_grow(struct uci_parser *ps, const struct uci_section *s)
{
	size_t ncap = ps->index_cap != 0 ? ps->index_cap * 2 : 64, i;
	size_t *old = ps->index, old_cap = ps->index_cap;

	if ((s->n_options + 1) * 2 <= ps->index_cap)
		return true;
	if ((ps->index = calloc(ncap, sizeof(*ps->index))) == NULL) {
		ps->index = old;
		return false;
	}
	ps->index_cap = ncap;
	for (i = 0; i < s->n_options; i++)
		*index_slot(ps, s, s->options[i].name) = i + 1;
	(void)old_cap;
	free(old);
	return true;
}

/* Room for one more option in s; false when out of memory. */
static bool
options_grow(struct uci_parser *ps, struct uci_section *s)
{
	size_t ncap = ps->opt_cap != 0 ? ps->opt_cap * 2 : 8;
	struct uci_option *o;

	if (s->n_options < ps->opt_cap)
		return true;
	if ((o = realloc(s->options, ncap * sizeof(*o))) == NULL)
		return false;
	s->options = o;
	ps->opt_cap = ncap;
	return true;
}

/*
 * Append (list) or set (option) a value of the current section. On success
 * name and value are taken over; on failure (out of memory) neither is.
 */
static bool
add_value(struct uci_parser *ps, char *name, char *value, int line,
    bool list, bool cut)
{
	struct uci_section *s = &ps->uf->sections[ps->uf->n_sections - 1];
	struct uci_option *o = NULL;
	struct uci_value *v;
	size_t i, *slot;

	if (!index_grow(ps, s))
		return false;
	slot = index_slot(ps, s, name);
	if (*slot != 0)
		o = &s->options[*slot - 1];
	if (o == NULL) {
		if (!options_grow(ps, s))
			return false;
		if ((v = malloc(sizeof(*v))) == NULL)
			return false;
		*slot = s->n_options + 1;
		o = &s->options[s->n_options++];
		memset(o, 0, sizeof(*o));
		o->name = name;
		o->values = v;
	} else if (list) {
		v = realloc(o->values, (o->n_values + 1) * sizeof(*v));
		if (v == NULL)
			return false;
		o->values = v;
		free(name);
	} else {
		for (i = 0; i < o->n_values; i++)
			free(o->values[i].str);
		o->n_values = 0;
		free(name);
	}
	o->is_list = list;
	o->line = line;
	o->values[o->n_values].str = value;
	o->values[o->n_values].cut = cut;
	o->values[o->n_values++].line = line;
	return true;
}

/*
 * option NAME VALUE or list NAME VALUE. In a broken section the statement
 * is still checked for syntax, then dropped.
 */
static bool
parse_option(struct uci_parser *ps, int line, bool list)
{
	const char *kw = list ? "list" : "option";
	char *name, *value = NULL;
	bool cut;

	if (ps->sec == SEC_NONE) {
		parse_error(ps, "%s outside of a config section", kw);
		return false;
	}
	if ((name = take_word(ps, list ? "missing list name" :
	    "missing option name")) == NULL)
		return false;
	if (!valid_name(name, NULL)) {
		parse_error(ps, "bad %s name '%s': use only letters, digits "
		    "and '_'", kw, name);
		goto fail;
	}
	switch (read_word(ps)) {
	case WORD_END:
		parse_error(ps, "missing value for %s '%s'", kw, name);
		goto fail;
	case WORD_ERR:
		goto fail;
	case WORD_OK:
	default:
		break;
	}
	cut = ps->word_cut;
	if ((value = strdup(ps->word.s)) == NULL) {
		ps->nomem = true;
		goto fail;
	}
	if (!expect_end(ps, kw))
		goto fail;
	if (ps->sec == SEC_BROKEN) {
		free(name);
		free(value);
		return true;
	}
	if (add_value(ps, name, value, line, list, cut))
		return true;
	ps->nomem = true;
fail:
	free(name);
	free(value);
	return false;
}

static bool
parse_package(struct uci_parser *ps)
{
	char *name;
	bool ok;

	if ((name = take_word(ps, "missing package name")) == NULL)
		return false;
	ok = valid_name(name, "-");
	if (!ok)
		parse_error(ps, "bad package name '%s'", name);
	free(name);
	return ok && expect_end(ps, "package");
}

/* The keyword in ps->word, full or abbreviated to its first letter. */
static bool
is_keyword(const struct uci_parser *ps, const char *kw)
{
	const char *w = ps->word.s;

	return strcmp(w, kw) == 0 || (w[0] == kw[0] && w[1] == '\0');
}

/* Parse one statement, or skip to the next line after an error. */
static void
parse_statement(struct uci_parser *ps)
{
	int line = ps->line;
	bool ok;

	switch (read_word(ps)) {
	case WORD_END:
		end_statement(ps);
		return;
	case WORD_ERR:
		skip_line(ps);
		return;
	case WORD_OK:
	default:
		break;
	}
	if (is_keyword(ps, "config"))
		ok = parse_config(ps, line);
	else if (is_keyword(ps, "option"))
		ok = parse_option(ps, line, false);
	else if (is_keyword(ps, "list"))
		ok = parse_option(ps, line, true);
	else if (is_keyword(ps, "package"))
		ok = parse_package(ps);
	else {
		parse_error(ps, "unknown statement '%s' (expected config, "
		    "option, list or package)", ps->word.s);
		ok = false;
	}
	if (ok)
		end_statement(ps);
	else if (!ps->nomem)
		skip_line(ps);
}

int
uci_parse(const char *buf, size_t len, const char *file, FILE *errs,
    struct uci_file **out)
{
	struct uci_parser ps;

	*out = NULL;
	memset(&ps, 0, sizeof(ps));
	ps.p = buf;
	ps.end = buf + len;
	ps.file = file;
	ps.errs = errs;
	ps.line = 1;
	ps.word.cap = 64;
	ps.word.s = malloc(ps.word.cap);
	if (ps.word.s == NULL || (ps.uf = calloc(1, sizeof(*ps.uf))) == NULL) {
		free(ps.word.s);
		return UCI_ERR_NOMEM;
	}
	while (ps.p < ps.end && !ps.nomem)
		parse_statement(&ps);
	free(ps.word.s);
	free(ps.index);
	if (ps.nomem || ps.n_errors > 0) {
		uci_free(ps.uf);
		return ps.nomem ? UCI_ERR_NOMEM : UCI_ERR_SYNTAX;
	}
	*out = ps.uf;
	return UCI_OK;
}

static void
free_section(struct uci_section *s)
{
	struct uci_option *o;
	size_t i, j;

	for (i = 0; i < s->n_options; i++) {
		o = &s->options[i];
		for (j = 0; j < o->n_values; j++)
			free(o->values[j].str);
		free(o->values);
		free(o->name);
	}
	free(s->options);
	free(s->type);
	free(s->name);
}

void
uci_free(struct uci_file *uf)
{
	size_t i;

	if (uf == NULL)
		return;
	for (i = 0; i < uf->n_sections; i++)
		free_section(&uf->sections[i]);
	free(uf->sections);
	free(uf);
}

const struct uci_option *
uci_find_option(const struct uci_section *s, const char *name)
{
	size_t i;

	if (s == NULL)
		return NULL;
	for (i = 0; i < s->n_options; i++)
		if (strcmp(s->options[i].name, name) == 0)
			return &s->options[i];
	return NULL;
}
