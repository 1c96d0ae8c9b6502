/* SPDX-License-Identifier: ISC */
/* confval: policy tables onto plain structs, strict values; see confval.h. */
#include <sys/un.h>

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "confval.h"
#include "topic.h"
#include "uci.h"

#define CONFVAL_SUN_MAX	(sizeof(((struct sockaddr_un *)NULL)->sun_path))
#define CONFVAL_ID_MAX	64
#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* One error message, kept until all are known so they print in order. */
struct confval_msg {
	int line;		/* 0 when no line applies */
	size_t seq;
	bool warning;
	char *text;
};

void
confval_init(struct confval_ctx *cx, const char *file)
{
	memset(cx, 0, sizeof(*cx));
	cx->file = file;
	cx->id = "";
}

static void
confval_record(struct confval_ctx *cx, int line, bool warning,
    const char *fmt, va_list ap0)
{
	struct confval_msg *m;
	va_list ap;
	int len;

	va_copy(ap, ap0);
	len = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	m = realloc(cx->msgs, (cx->n_msgs + 1) * sizeof(*m));
	if (m != NULL)
		cx->msgs = m;
	if (len < 0 || m == NULL) {
		cx->nomem = true;
		return;
	}
	m = &cx->msgs[cx->n_msgs];
	if ((m->text = malloc((size_t)len + 1)) == NULL) {
		cx->nomem = true;
		return;
	}
	va_copy(ap, ap0);
	vsnprintf(m->text, (size_t)len + 1, fmt, ap);
	va_end(ap);
	m->line = line;
	m->warning = warning;
	m->seq = cx->n_msgs++;
}

void
confval_error(struct confval_ctx *cx, int line, const char *fmt, ...)
{
	va_list ap;

	cx->n_errors++;
	va_start(ap, fmt);
	confval_record(cx, line, false, fmt, ap);
	va_end(ap);
}

void
confval_warn(struct confval_ctx *cx, int line, const char *fmt, ...)
{
	va_list ap;

	cx->n_warnings++;
	va_start(ap, fmt);
	confval_record(cx, line, true, fmt, ap);
	va_end(ap);
}

static int
msg_cmp(const void *a, const void *b)
{
	const struct confval_msg *x = a, *y = b;
	unsigned lx = x->line == 0 ? UINT32_MAX : (unsigned)x->line;
	unsigned ly = y->line == 0 ? UINT32_MAX : (unsigned)y->line;

	if (lx != ly)
		return lx < ly ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void
confval_flush(struct confval_ctx *cx, FILE *errs)
{
	struct confval_msg *m;
	size_t i;

	if (cx->n_msgs > 0)
		qsort(cx->msgs, cx->n_msgs, sizeof(*cx->msgs), msg_cmp);
	for (i = 0; i < cx->n_msgs; i++) {
		m = &cx->msgs[i];
		if (errs != NULL && m->line > 0)
			fprintf(errs, "%s:%d: %s%s\n", cx->file, m->line,
			    m->warning ? "warning: " : "", m->text);
		else if (errs != NULL)
			fprintf(errs, "%s: %s%s\n", cx->file,
			    m->warning ? "warning: " : "", m->text);
		free(m->text);
	}
	free(cx->msgs);
	cx->msgs = NULL;
	cx->n_msgs = 0;
}

bool
confval_uint(const char *s, bool size, uint64_t *out)
{
	static const char units[] = "KkMmGg";
	uint64_t n = 0, mul = 1;
	const char *u;

	if (*s < '0' || *s > '9')
		return false;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (n > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			n = UINT64_MAX;
		else
			n = n * 10 + (uint64_t)(*s - '0');
	}
	if (size && *s != '\0' && s[1] == '\0') {
		if ((u = strchr(units, *s)) == NULL)
			return false;
		mul = UINT64_C(1) << (10 * (1 + (u - units) / 2));
		s++;
	}
	if (*s != '\0')
		return false;
	*out = n > UINT64_MAX / mul ? UINT64_MAX : n * mul;
	return true;
}

/* Write n with the largest exact suffix (64M rather than 67108864). */
static void
format_size(char *buf, size_t len, uint64_t n)
{
	static const char suffix[] = "GMK";
	uint64_t unit;
	int i;

	for (i = 0; i < 3; i++) {
		unit = UINT64_C(1) << (10 * (3 - i));
		if (n != 0 && n % unit == 0) {
			snprintf(buf, len, "%llu%c",
			    (unsigned long long)(n / unit), suffix[i]);
			return;
		}
	}
	snprintf(buf, len, "%llu", (unsigned long long)n);
}

char *
confval_expand(const char *s, const char *id)
{
	size_t n = 0, idlen = strlen(id);
	const char *p;
	char *out, *o;

	for (p = strstr(s, "%i"); p != NULL; p = strstr(p + 2, "%i"))
		n++;
	if ((out = malloc(strlen(s) + n * idlen + 1)) == NULL)
		return NULL;
	for (o = out; *s != '\0'; ) {
		if (s[0] == '%' && s[1] == 'i') {
			memcpy(o, id, idlen);
			o += idlen;
			s += 2;
		} else
			*o++ = *s++;
	}
	*o = '\0';
	return out;
}

/* NULL when a is host:port with port 1..65535, else what is wrong. */
static const char *
address_why(const char *a)
{
	const char *colon, *p;
	uint64_t port;

	if (*a == '[') {
		if ((colon = strchr(a, ']')) == NULL)
			return "missing ']' after the IPv6 address";
		if (colon == a + 1)
			return "empty host";
		if (*++colon != ':')
			return "missing ':PORT'";
	} else {
		if ((colon = strrchr(a, ':')) == NULL)
			return "missing ':PORT'";
		if (colon == a)
			return "empty host";
		if (memchr(a, ':', (size_t)(colon - a)) != NULL)
			return "write an IPv6 address as [ADDRESS]:PORT";
	}
	for (p = a; p < colon; p++)
		if ((unsigned char)*p <= ' ' || *p == '/' || *p == 0x7f)
			return "bad character in the host";
	if (!confval_uint(colon + 1, false, &port) || port < 1 ||
	    port > 65535)
		return "the port must be a number in 1..65535";
	return NULL;
}

const char *
confval_check(enum confval_type t, const char *v)
{
	const char *why = NULL;
	size_t n;

	switch (t) {
	case CONFVAL_ID:
		n = strspn(v, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-");
		if (n < 1 || n > CONFVAL_ID_MAX || v[n] != '\0')
			why = "must be 1-64 characters of A-Z, a-z, 0-9, "
			    "'.', '_' and '-'";
		break;
	case CONFVAL_PATH:
	case CONFVAL_CLIENT_ID:
		if (*v == '\0')
			why = "must not be empty";
		else if (strlen(v) > TOPIC_MAX_LEN)
			why = "is longer than 65535 bytes";
		break;
	case CONFVAL_SOCKET:
		if (*v == '\0')
			why = "must not be empty";
		else if (strlen(v) >= CONFVAL_SUN_MAX)
			why = "is too long for a socket path";
		break;
	case CONFVAL_FILTER:
		(void)topic_filter_valid(v, &why);
		break;
	case CONFVAL_PREFIX:
		if (topic_has_wildcard(v))
			why = "must not contain '+' or '#'";
		break;
	case CONFVAL_TOPIC:
		if (*v != '\0')
			(void)topic_name_valid(v, &why);
		break;
	case CONFVAL_ADDRESS:
		why = address_why(v);
		break;
	default:
		break;
	}
	return why;
}

/* Parse, check and store one text value (K_STR or K_STRV). */
static void
set_text(struct confval_ctx *cx, const struct confval_policy *p,
    const char *raw, int line, void *base)
{
	char **slot = (char **)(void *)((char *)base + p->off);
	size_t *count = (size_t *)(void *)((char *)base + p->count_off);
	const char *why = NULL;
	bool none = false;
	char *v, **vec;

	if ((p->flags & CONFVAL_F_NONE) != 0 && strcmp(raw, CONFVAL_NONE) == 0)
		v = strdup(""), none = true;
	else if (p->type == CONFVAL_CLIENT_ID || p->type == CONFVAL_FILTER ||
	    p->type == CONFVAL_PREFIX || p->type == CONFVAL_TOPIC)
		v = confval_expand(raw, cx->id);
	else
		v = strdup(raw);
	if (v == NULL) {
		cx->nomem = true;
		return;
	}
	if (!none && (why = confval_check(p->type, v)) != NULL) {
		confval_error(cx, line, "option %s: '%s' %s%s", p->name, raw,
		    p->type == CONFVAL_FILTER || p->type == CONFVAL_TOPIC ||
		    p->type == CONFVAL_ADDRESS ? "is not valid: " : "", why);
		free(v);
		return;
	}
	if (p->kind == CONFVAL_K_STR) {
		free(*slot);
		*slot = v;
		return;
	}
	vec = realloc(*(char ***)(void *)slot, (*count + 1) * sizeof(*vec));
	if (vec == NULL) {
		cx->nomem = true;
		free(v);
		return;
	}
	vec[(*count)++] = v;
	*(char ***)(void *)slot = vec;
}

/* A word of an enum or the protocol as its number; false after an error. */
static bool
parse_word(struct confval_ctx *cx, const struct confval_policy *p,
    const char *v, int line, uint64_t *n)
{
	static const char *const yes[] = { "1", "true", "yes", "on",
		"enabled" };
	static const char *const no[] = { "0", "false", "no", "off",
		"disabled" };
	char list[128] = "";
	size_t i;

	if (p->type == CONFVAL_BOOL) {
		for (i = 0; i < NELEM(yes); i++) {
			if (strcmp(v, yes[i]) == 0 || strcmp(v, no[i]) == 0) {
				*n = strcmp(v, yes[i]) == 0;
				return true;
			}
		}
		confval_error(cx, line, "option %s: '%s' is not a boolean "
		    "(1/0, true/false, yes/no, on/off, enabled/disabled)",
		    p->name, v);
		return false;
	}
	if (p->type == CONFVAL_PROTOCOL) {
		if (strcmp(v, "5") == 0 || strcmp(v, "311") == 0)
			return confval_uint(v, false, n);
		confval_error(cx, line, "option %s: '%s' is not one of 5, 311",
		    p->name, v);
		return false;
	}
	for (i = 0; p->names[i] != NULL; i++) {
		if (strcmp(v, p->names[i]) != 0)
			continue;
		if ((p->refuse & (1u << i)) == 0) {
			*n = i;
			return true;
		}
		confval_error(cx, line, "option %s: '%s' is not supported yet",
		    p->name, v);
		return false;
	}
	for (i = 0; p->names[i] != NULL; i++) {
		if (i > 0)
			strncat(list, ", ", sizeof(list) - strlen(list) - 1);
		strncat(list, p->names[i], sizeof(list) - strlen(list) - 1);
	}
	confval_error(cx, line, "option %s: '%s' is not one of %s", p->name,
	    v, list);
	return false;
}

/* Parse, check and store one numeric or enum value. */
static void
set_number(struct confval_ctx *cx, const struct confval_policy *p,
    const char *v, int line, void *base)
{
	bool size = p->type == CONFVAL_SIZE;
	void *slot = (char *)base + p->off;
	char lo[32], hi[32];
	uint64_t n;

	if (p->type == CONFVAL_UINT || size) {
		if (!confval_uint(v, size, &n)) {
			confval_error(cx, line, "option %s: '%s' is not %s",
			    p->name, v, size ? "a size (digits with an "
			    "optional K, M or G)" : "a number");
			return;
		}
		if (n < p->min || n > p->max) {
			if (size) {
				format_size(lo, sizeof(lo), p->min);
				format_size(hi, sizeof(hi), p->max);
			} else {
				snprintf(lo, sizeof(lo), "%llu",
				    (unsigned long long)p->min);
				snprintf(hi, sizeof(hi), "%llu",
				    (unsigned long long)p->max);
			}
			confval_error(cx, line, "option %s: '%s' is not in "
			    "%s..%s", p->name, v, lo, hi);
			return;
		}
	} else if (!parse_word(cx, p, v, line, &n))
		return;
	if (p->kind == CONFVAL_K_U64)
		*(uint64_t *)slot = n;
	else if (p->kind == CONFVAL_K_U32)
		*(uint32_t *)slot = (uint32_t)n;
	else
		*(int *)slot = (int)n;
}

static void
set_value(struct confval_ctx *cx, const struct confval_policy *p,
    const char *v, int line, void *base)
{
	if (p->kind == CONFVAL_K_STR || p->kind == CONFVAL_K_STRV)
		set_text(cx, p, v, line, base);
	else
		set_number(cx, p, v, line, base);
}

static const struct confval_policy *
find_policy(const struct confval_policy *pol, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(pol[i].name, name) == 0)
			return &pol[i];
	return NULL;
}

/*
 * An option written as '': absent, as uci makes it. When the default is
 * not empty, the file may mean what '' meant in earlier versions ("none").
 */
static void
warn_empty(struct confval_ctx *cx, const struct confval_policy *p,
    const struct uci_option *o)
{
	if (p->def == NULL || p->def[0] == '\0')
		return;
	confval_warn(cx, o->line, "option %s: '' is the same as leaving the "
	    "option out (uci deletes such a line at the next commit), so the "
	    "default '%s' applies%s", p->name, p->def,
	    (p->flags & CONFVAL_F_NONE) != 0 ? "; write '" CONFVAL_NONE "' "
	    "for none" : "");
}

void
confval_apply(struct confval_ctx *cx, const struct confval_policy *pol,
    size_t n, const struct uci_section *s, const char *type, void *base)
{
	const struct confval_policy *p;
	const struct uci_option *o;
	size_t i, j;

	for (i = 0; s != NULL && i < s->n_options; i++) {
		o = &s->options[i];
		if ((p = find_policy(pol, n, o->name)) == NULL)
			confval_error(cx, o->line, "option %s: unknown in "
			    "config %s", o->name, type);
		else if (o->is_list && (p->flags & CONFVAL_F_LIST) == 0)
			confval_error(cx, o->line, "option %s: takes one "
			    "value: use 'option', not 'list'", o->name);
	}
	for (i = 0; i < n; i++) {
		p = &pol[i];
		o = uci_find_option(s, p->name);
		if (o != NULL && !o->is_list && o->values[0].str[0] == '\0') {
			warn_empty(cx, p, o);
			o = NULL;
		}
		if (o == NULL) {
			if (p->def != NULL)
				set_value(cx, p, p->def, 0, base);
			else if (p->flags & CONFVAL_F_REQUIRED)
				confval_error(cx, s != NULL ? s->line : 0,
				    "option %s: required in config %s",
				    p->name, type);
			continue;
		}
		if (o->is_list && (p->flags & CONFVAL_F_LIST) == 0)
			continue;
		for (j = 0; j < o->n_values; j++) {
			if (o->values[j].cut)
				confval_warn(cx, o->values[j].line, "option "
				    "%s: an unquoted '#' starts a comment in "
				    "uci, so the value is '%s'; quote the "
				    "whole value if the '#' belongs to it",
				    p->name, o->values[j].str);
			set_value(cx, p, o->values[j].str, o->values[j].line,
			    base);
		}
	}
}

void
confval_free(const struct confval_policy *pol, size_t n, void *base)
{
	char **slot, **vec;
	size_t i, j, count;

	for (i = 0; i < n; i++) {
		slot = (char **)(void *)((char *)base + pol[i].off);
		if (pol[i].kind == CONFVAL_K_STR)
			free(*slot);
		if (pol[i].kind != CONFVAL_K_STRV)
			continue;
		vec = *(char ***)(void *)slot;
		count = *(size_t *)(void *)((char *)base + pol[i].count_off);
		for (j = 0; j < count; j++)
			free(vec[j]);
		free(vec);
	}
}

/* One statement with a single-quoted value; ' is written as '\'' (UCI). */
static void
print_quoted(FILE *f, const char *kw, const char *name, const char *v)
{
	fprintf(f, "\t%s %s '", kw, name);
	for (; *v != '\0'; v++) {
		if (*v == '\'')
			fputs("'\\''", f);
		else
			fputc(*v, f);
	}
	fputs("'\n", f);
}

/* The text of a scalar field: into num, or a string of base. */
static const char *
field_text(const struct confval_policy *p, const void *base, char *num,
    size_t len)
{
	const void *slot = (const char *)base + p->off;
	const char *s;

	switch (p->kind) {
	case CONFVAL_K_STR:
		s = *(char *const *)slot;
		if (s == NULL)
			return "";
		if ((p->flags & CONFVAL_F_NONE) != 0 && *s == '\0' &&
		    p->def != NULL && p->def[0] != '\0')
			return CONFVAL_NONE;
		if ((p->flags & CONFVAL_F_SECRET) != 0 && *s != '\0')
			return "********";
		return s;
	case CONFVAL_K_U64:
		format_size(num, len, *(const uint64_t *)slot);
		return num;
	case CONFVAL_K_U32:
		snprintf(num, len, "%lu", (unsigned long)
		    *(const uint32_t *)slot);
		return num;
	case CONFVAL_K_INT:
		if (p->type == CONFVAL_ENUM)
			return p->names[*(const int *)slot];
		snprintf(num, len, "%d", *(const int *)slot);
		return num;
	case CONFVAL_K_STRV:
	default:
		return "";
	}
}

void
confval_print(FILE *f, const struct confval_policy *pol, size_t n,
    const void *base)
{
	const struct confval_policy *p;
	char *const *vec;
	char num[32];
	size_t i, j, count;

	for (i = 0; i < n; i++) {
		p = &pol[i];
		if (p->kind != CONFVAL_K_STRV) {
			print_quoted(f, "option", p->name,
			    field_text(p, base, num, sizeof(num)));
			continue;
		}
		vec = *(char *const *const *)(const void *)
		    ((const char *)base + p->off);
		count = *(const size_t *)(const void *)
		    ((const char *)base + p->count_off);
		for (j = 0; j < count; j++)
			print_quoted(f, (p->flags & CONFVAL_F_LIST) != 0 ?
			    "list" : "option", p->name, vec[j]);
	}
}
