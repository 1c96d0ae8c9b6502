/* SPDX-License-Identifier: ISC */
/*
 * log: the daemon's one logging vocabulary.
 *
 * Messages go to syslog (facility daemon, ident "pushrelay") and, when
 * log_open() was told so, also to stderr. Each message is one line naming
 * the object and the action; the _errno variants append ": strerror(errno)"
 * using errno as it was when the call was made. Messages above the current
 * level are discarded. log_ratelimit() helps repeating warnings.
 *
 * State: the level and destinations are process-wide, set once at start
 * and on reload by the main loop; the functions may be called from any
 * thread (syslog(3) and stdio are thread-safe), but only the main loop
 * changes the settings.
 */
#ifndef PUSHRELAY_LOG_H
#define PUSHRELAY_LOG_H

#include <stdint.h>

enum log_level {
	LOG_LEVEL_ERR = 0,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

/* Destinations for log_open(). */
#define LOG_TO_SYSLOG	0x1
#define LOG_TO_STDERR	0x2

/* log_open: choose destinations (LOG_TO_* flags) and the level. */
void log_open(const char *ident, int dest, enum log_level level);

/* log_set_level: change the level (reload). */
void log_set_level(enum log_level level);

/* log_close: close syslog. */
void log_close(void);

void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_err_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * A rate limiter owned by the caller (embed it in the owning struct,
 * zero-initialised). log_ratelimit() returns 1 when a message may be
 * logged now (at most once per interval_ms, on the monotonic clock now_ms)
 * and then stores in *suppressed how many calls were swallowed since the
 * last message; otherwise it counts the call and returns 0.
 */
struct log_rate {
	int64_t last_ms;
	uint64_t suppressed;
	int primed;
};

int log_ratelimit(struct log_rate *r, int64_t now_ms, int64_t interval_ms,
    uint64_t *suppressed);

#endif
