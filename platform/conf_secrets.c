/* SPDX-License-Identifier: ISC */
/*
 * conf_secrets: warnings about secrets that every user of the system can
 * read (see conf_warn_exposed() in conf.h). A warning, not an error: the
 * relay works as configured, and fixing a mode needs no restart. The
 * files are looked at when this runs, by `pushrelay check` and at start.
 */
#include <sys/stat.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "conf.h"

#define CONF_SECRETS_LIST	512	/* the "option ... (...)" list */

struct conf_secrets {
	conf_warn_fn fn;
	void *arg;
	int count;
};

static void __attribute__((format(printf, 2, 3)))
conf_secrets_warn(struct conf_secrets *w, const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	w->count++;
	if (w->fn != NULL)
		w->fn(w->arg, text);
}

/* Whether stat says every user may read path; 0 when it cannot say. */
static int
conf_secrets_readable(const char *path, mode_t *mode)
{
	struct stat sb;

	if (path == NULL || path[0] == '\0' || stat(path, &sb) == -1)
		return 0;
	*mode = sb.st_mode & 07777;
	return (sb.st_mode & S_IROTH) != 0;
}

static int
conf_secrets_set(const char *s)
{
	return s != NULL && s[0] != '\0';
}

/* Appends "option NAME (where)" to list when value is set. */
static void
conf_secrets_add(char *list, const char *value, const char *name,
    const char *where)
{
	size_t n = strlen(list);

	if (!conf_secrets_set(value) || n >= CONF_SECRETS_LIST - 1)
		return;
	snprintf(list + n, CONF_SECRETS_LIST - n, "%soption %s (%s)",
	    n > 0 ? ", " : "", name, where);
}

/* The broker's secrets into list; its key_file checked on its own. */
static void
conf_secrets_broker(struct conf_secrets *w, const struct conf *c,
    const struct conf_broker *b, const char *where, char *list)
{
	mode_t mode;

	conf_secrets_add(list, b->password, "password", where);
	conf_secrets_add(list, b->proxy_password, "proxy_password", where);
	conf_secrets_add(list, b->tls.psk, "psk", where);
	if (conf_secrets_readable(b->tls.key_file, &mode))
		conf_secrets_warn(w, "%s: option key_file '%s' (%s): the "
		    "private key is readable by every user (mode %04o); "
		    "chmod o-r it", c->file, b->tls.key_file, where,
		    (unsigned)mode);
}

int
conf_warn_exposed(const struct conf *c, conf_warn_fn fn, void *arg)
{
	struct conf_secrets w = { fn, arg, 0 };
	char list[CONF_SECRETS_LIST] = "";
	mode_t mode;

	if (c->role == CONF_ROLE_UNPACK) {
		conf_secrets_broker(&w, c, &c->central, "config unpack", list);
	} else {
		conf_secrets_broker(&w, c, &c->local, "broker 'local'", list);
		conf_secrets_broker(&w, c, &c->central, "broker 'central'",
		    list);
	}
	if (list[0] != '\0' && conf_secrets_readable(c->file, &mode))
		conf_secrets_warn(&w, "%s: readable by every user (mode %04o) "
		    "and it holds %s; chmod o-r it", c->file, (unsigned)mode,
		    list);
	return w.count;
}
