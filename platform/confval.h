/* SPDX-License-Identifier: ISC */
/*
 * confval: typed configuration values and the policy-table engine.
 *
 * This module's one job is to move values from a parsed UCI section
 * (platform/uci) into the fields of a plain struct, following a table of
 * struct confval_policy rows (name, type, default, range, where it goes),
 * in the manner of libubox's blobmsg_parse() and blobmsg_policy. It parses
 * numbers strictly, checks strings by type (ids, paths, MQTT topics and
 * filters, host:port), expands "%i" to the relay id, fills defaults and
 * reports unknown or missing options. platform/conf holds the tables and
 * the checks that span several options; this module knows no section.
 *
 * Errors are collected in a struct confval_ctx with their line and printed
 * sorted by line by confval_flush(), as "FILE:LINE: text" or "FILE: text".
 *
 * Ownership: strings stored into a target struct are owned by it and freed
 * with confval_free(). Thread: any; no shared state. Nothing blocks.
 */
#ifndef PUSHRELAY_CONFVAL_H
#define PUSHRELAY_CONFVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "uci.h"

/* What a value must look like. Text types marked %i have it expanded. */
enum confval_type {
	CONFVAL_STRING = 0,	/* any text, may be empty */
	CONFVAL_PATH,		/* non-empty text */
	CONFVAL_SOCKET,		/* non-empty path that fits in sun_path */
	CONFVAL_ID,		/* 1-64 of [A-Za-z0-9._-] */
	CONFVAL_CLIENT_ID,	/* non-empty; %i */
	CONFVAL_FILTER,		/* MQTT topic filter; %i */
	CONFVAL_PREFIX,		/* topic prefix, no wildcards, may be ''; %i */
	CONFVAL_TOPIC,		/* topic name, or '' (disabled); %i */
	CONFVAL_ADDRESS,	/* host:port or [IPv6]:port, port 1..65535 */
	CONFVAL_UINT,		/* decimal in [min, max] */
	CONFVAL_SIZE,		/* decimal, optional K, M or G; in [min, max] */
	CONFVAL_ENUM,		/* one of names[]; the index is stored */
	CONFVAL_PROTOCOL,	/* MQTT version: 5 or 311, stored as written */
	CONFVAL_BOOL,		/* what OpenWrt's config_get_bool takes: 1/0,
				 * true/false, yes/no, on/off, enabled/
				 * disabled; stored as int 1 or 0 */
};

/* How a value is stored at off in the target struct. */
enum confval_kind {
	CONFVAL_K_STR = 0,	/* char *, owned by the struct */
	CONFVAL_K_INT,		/* int, or an enum of int size */
	CONFVAL_K_U32,		/* uint32_t */
	CONFVAL_K_U64,		/* uint64_t */
	CONFVAL_K_STRV,		/* char ** at off, size_t count at count_off */
};

/* No default: an absent option is an error naming the section's line. */
#define CONFVAL_F_REQUIRED	0x1
/* "list" may give several values (needs CONFVAL_K_STRV); otherwise a list
 * statement for this option is an error. */
#define CONFVAL_F_LIST		0x2
/* confval_print() shows a non-empty value as '********'. */
#define CONFVAL_F_SECRET	0x4
/* The value CONFVAL_NONE stores "": the explicit "none" of an option whose
 * default is not empty (a written '' is the same as absent, see
 * confval_apply()); confval_print() shows "" as CONFVAL_NONE when the
 * default is not empty. */
#define CONFVAL_F_NONE		0x8

/* The word that says "none" to an option with CONFVAL_F_NONE. */
#define CONFVAL_NONE		"%none"

struct confval_policy {
	const char *name;
	enum confval_type type;
	enum confval_kind kind;
	size_t off;
	size_t count_off;	/* CONFVAL_K_STRV only */
	const char *def;	/* default, as written in a file; NULL: none */
	uint64_t min;		/* CONFVAL_UINT, CONFVAL_SIZE */
	uint64_t max;
	const char *const *names;	/* CONFVAL_ENUM, NULL-terminated */
	unsigned refuse;	/* CONFVAL_ENUM: bit i set: names[i] is known
				 * but "is not supported yet" */
	int flags;		/* CONFVAL_F_* */
};

struct confval_msg;

/*
 * The state of one load: where errors go and what %i means. Initialise
 * with confval_init(); release with confval_flush().
 */
struct confval_ctx {
	const char *file;	/* borrowed; prefix of every message */
	const char *id;		/* borrowed; replaces %i ("" until known) */
	int n_errors;
	int n_warnings;
	bool nomem;		/* an allocation failed; the result is void */
	struct confval_msg *msgs;
	size_t n_msgs;
};

/* confval_init: start a load for file (borrowed until confval_flush()). */
void confval_init(struct confval_ctx *cx, const char *file);

/*
 * confval_error: record one error for line (0 when no line applies).
 * Counts it in n_errors; sets nomem when it cannot be stored.
 */
void confval_error(struct confval_ctx *cx, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * confval_warn: record one warning for line: something that loads but may
 * not mean what the writer meant. Counts it in n_warnings; never in
 * n_errors.
 */
void confval_warn(struct confval_ctx *cx, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * confval_flush: write the recorded errors and warnings to errs (may be
 * NULL) sorted by line, those without a line last, then free them; a
 * warning reads "FILE:LINE: warning: text". n_errors and n_warnings are
 * kept.
 */
void confval_flush(struct confval_ctx *cx, FILE *errs);

/*
 * confval_apply: fill base from section s following the n rows of pol.
 * s may be NULL (the section is absent: defaults only). type names the
 * section in messages ("option x: unknown in config TYPE"). Every problem
 * is recorded in cx; a field whose value is invalid is left untouched
 * (NULL or 0). base MUST start zeroed.
 * As in libuci, where `option X ''` deletes the option (any `uci commit`
 * drops the line), an option whose one value is '' is taken as absent: the
 * default applies, or "required" is reported. When the default is not
 * empty that is a warning, since earlier versions of pushrelay read '' as
 * "none"
 * (with CONFVAL_F_NONE the warning says to write CONFVAL_NONE). A value
 * that an unquoted '#' cut short (struct uci_value, cut) is a warning too.
 */
void confval_apply(struct confval_ctx *cx, const struct confval_policy *pol,
    size_t n, const struct uci_section *s, const char *type, void *base);

/* confval_free: free the strings that confval_apply() stored in base. */
void confval_free(const struct confval_policy *pol, size_t n, void *base);

/*
 * confval_print: write the fields of base as UCI "option"/"list" lines, one
 * tab in, values single-quoted (a ' is written as '\''), sizes with the
 * largest exact K/M/G suffix, secrets masked.
 */
void confval_print(FILE *f, const struct confval_policy *pol, size_t n,
    const void *base);

/*
 * confval_uint: strict unsigned decimal: digits only, no sign, no blanks;
 * with size set, one K, M or G (either case, 1024-based) may follow.
 * A value beyond 64 bits gives UINT64_MAX. Returns false when s is not
 * such a number (*out untouched).
 */
bool confval_uint(const char *s, bool size, uint64_t *out);

/* confval_expand: s with each "%i" replaced by id; caller frees; NULL on
 * allocation failure. */
char *confval_expand(const char *s, const char *id);

/* confval_check: NULL when v is acceptable as a value of text type t,
 * else a static sentence saying what is wrong. */
const char *confval_check(enum confval_type t, const char *v);

#endif
