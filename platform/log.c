/* SPDX-License-Identifier: ISC */
/* log: syslog and stderr output for the daemon; see log.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "log.h"

/*
 * The settings are written by the main loop only (at start and on reload)
 * and read by any thread; a torn read of an int is not possible here.
 */
static int log_dest = LOG_TO_STDERR;
static int log_level_cur = LOG_LEVEL_INFO;

static const int log_prio[] = {
	[LOG_LEVEL_ERR] = LOG_ERR,
	[LOG_LEVEL_WARN] = LOG_WARNING,
	[LOG_LEVEL_INFO] = LOG_INFO,
	[LOG_LEVEL_DEBUG] = LOG_DEBUG,
};

static const char *const log_tag[] = {
	[LOG_LEVEL_ERR] = "error",
	[LOG_LEVEL_WARN] = "warn",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
};

void
log_open(const char *ident, int dest, enum log_level level)
{
	log_dest = dest;
	log_level_cur = level;
	if (dest & LOG_TO_SYSLOG)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_set_level(enum log_level level)
{
	log_level_cur = level;
}

void
log_close(void)
{
	if (log_dest & LOG_TO_SYSLOG)
		closelog();
}

static void
log_vemit(enum log_level level, int errnum, const char *fmt, va_list ap)
{
	char msg[1024];
	int n;

	if ((int)level > log_level_cur)
		return;
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0)
		return;
	if (errnum != 0 && (size_t)n < sizeof(msg))
		snprintf(msg + n, sizeof(msg) - (size_t)n, ": %s",
		    strerror(errnum));
	if (log_dest & LOG_TO_SYSLOG)
		syslog(log_prio[level], "%s", msg);
	if (log_dest & LOG_TO_STDERR)
		fprintf(stderr, "pushrelay: %s: %s\n", log_tag[level], msg);
}

#define LOG_DEFINE(name, level, with_errno)				\
void									\
name(const char *fmt, ...)						\
{									\
	int saved = errno;						\
	va_list ap;							\
									\
	va_start(ap, fmt);						\
	log_vemit(level, with_errno ? saved : 0, fmt, ap);		\
	va_end(ap);							\
	errno = saved;							\
}

LOG_DEFINE(log_err, LOG_LEVEL_ERR, 0)
LOG_DEFINE(log_warn, LOG_LEVEL_WARN, 0)
LOG_DEFINE(log_info, LOG_LEVEL_INFO, 0)
LOG_DEFINE(log_debug, LOG_LEVEL_DEBUG, 0)
LOG_DEFINE(log_err_errno, LOG_LEVEL_ERR, 1)
LOG_DEFINE(log_warn_errno, LOG_LEVEL_WARN, 1)

int
log_ratelimit(struct log_rate *r, int64_t now_ms, int64_t interval_ms,
    uint64_t *suppressed)
{
	if (r->primed && now_ms - r->last_ms < interval_ms) {
		r->suppressed++;
		return 0;
	}
	r->primed = 1;
	r->last_ms = now_ms;
	if (suppressed != NULL)
		*suppressed = r->suppressed;
	r->suppressed = 0;
	return 1;
}
