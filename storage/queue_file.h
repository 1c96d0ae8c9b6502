/* SPDX-License-Identifier: ISC */
/*
 * queue_file: the life cycle of the queue's SQLite file. Internal to
 * storage/queue.c; nothing else includes it.
 *
 * It owns everything that happens between a path and a ready connection:
 * creating the file with mode 0600, the connection settings (WAL,
 * synchronous, a small page cache), the startup integrity check, the schema
 * and its version, and moving a corrupt file aside for a fresh one. It also
 * holds the two helpers both files use to report SQLite failures.
 *
 * Thread: main loop only. Blocking: disk I/O; queue_file_open() reads the
 * whole file once (PRAGMA quick_check).
 */
#ifndef PUSHRELAY_QUEUE_FILE_H
#define PUSHRELAY_QUEUE_FILE_H

#include <stddef.h>

#include <sqlite3.h>

#include "storage/queue.h"

/* The schema version this build writes and accepts (PRAGMA user_version). */
#define QUEUE_FILE_SCHEMA	1

/*
 * queue_file_open: open or create the queue file at path and return a
 * connection in *db, ready for use (schema present, checked). path is
 * borrowed for the call. The directory must exist: it is never created.
 * A file that SQLite finds corrupt or not a database is renamed to
 * path.corrupt-YYYYmmddTHHMMSS[-N] (with its -wal and -shm), a fresh one is
 * created, *recovered is set to 1 and err holds one line saying so.
 * A file with another schema version, or with tables that are not ours,
 * is refused and left untouched. So is a path, -wal or -shm that is a
 * symbolic link or anything but a regular file with one link: none is
 * followed, even by root (see option user in docs/config.md).
 * Returns QUEUE_OK (err "" unless recovered), QUEUE_ERR_IO,
 * QUEUE_ERR_NOMEM; on failure *db is NULL and err says why.
 */
int queue_file_open(sqlite3 **db, const char *path, enum queue_sync sync,
    int *recovered, char *err, size_t errlen);

/* queue_file_code: the QUEUE_ERR_* for a failed SQLite result code. */
int queue_file_code(int sqlite_rc);

/*
 * queue_file_err: write "queue PATH: " and the formatted text into err,
 * truncating to errlen. err may be NULL.
 */
void queue_file_err(const char *path, char *err, size_t errlen,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * For storage/queue_meta.c and queue_scan.c: the queue's connection, and
 * the start of a write (opens the queue's transaction when none is open).
 */
sqlite3 *queue_file_db(struct queue *q);
int queue_file_begin(struct queue *q, char *err, size_t errlen);

#endif
