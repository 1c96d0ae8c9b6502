/* SPDX-License-Identifier: ISC */
/*
 * clock: the only source of time.
 *
 * clock_mono_ms() is for deadlines and intervals (CLOCK_MONOTONIC, never
 * jumps); clock_wall_ms() is for message timestamps and expiry deadlines
 * that must survive a restart (CLOCK_REALTIME). Thread: any.
 */
#ifndef PUSHRELAY_CLOCK_H
#define PUSHRELAY_CLOCK_H

#include <stdint.h>

/* clock_mono_ms: milliseconds on the monotonic clock. */
int64_t clock_mono_ms(void);

/* clock_mono_us: microseconds on the monotonic clock (for measurements). */
int64_t clock_mono_us(void);

/* clock_wall_ms: milliseconds since the Unix epoch. */
int64_t clock_wall_ms(void);

#endif
