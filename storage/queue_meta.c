/* SPDX-License-Identifier: ISC */
/*
 * queue_meta: named integers kept in the queue's file, written in the
 * queue's own transaction (see storage/queue.h): the unpacker's sequence
 * numbers (one per frame) and QoS 2 packet ids (a few writes per QoS 2
 * message; QoS 0 and 1 write none). The statements are prepared per
 * call: simple, and cheap beside the commit they join.
 */
#include <string.h>

#include <sqlite3.h>

#include "storage/queue.h"
#include "storage/queue_file.h"

static int
queue_meta_fail(struct queue *q, sqlite3_stmt *st, int rc, const char *what,
    char *err, size_t errlen)
{
	queue_file_err(sqlite3_db_filename(queue_file_db(q), "main"), err,
	    errlen, "%s: %s", what, sqlite3_errmsg(queue_file_db(q)));
	sqlite3_finalize(st);
	return queue_file_code(rc);
}

int
queue_meta_get(struct queue *q, const char *key, int64_t *val, char *err,
    size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (q == NULL || key == NULL || val == NULL)
		return QUEUE_ERR_INVAL;
	rc = sqlite3_prepare_v2(queue_file_db(q),
	    "SELECT value FROM meta WHERE key = ?1", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return queue_meta_fail(q, st, rc, "meta get", err, errlen);
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*val = sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_DONE)
		return queue_meta_fail(q, st, rc, "meta get", err, errlen);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW;
}

int
queue_meta_set(struct queue *q, const char *key, int64_t val, char *err,
    size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (q == NULL || key == NULL)
		return QUEUE_ERR_INVAL;
	if ((rc = queue_file_begin(q, err, errlen)) != QUEUE_OK)
		return rc;
	rc = sqlite3_prepare_v2(queue_file_db(q), "INSERT INTO meta (key, "
	    "value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = "
	    "excluded.value", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return queue_meta_fail(q, st, rc, "meta set", err, errlen);
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, val);
	if ((rc = sqlite3_step(st)) != SQLITE_DONE)
		return queue_meta_fail(q, st, rc, "meta set", err, errlen);
	sqlite3_finalize(st);
	return QUEUE_OK;
}

/*
 * Runs sql, a statement with one text parameter (key) that returns no
 * rows, in the queue's open transaction (begun if none is).
 */
static int
queue_meta_exec(struct queue *q, const char *sql, const char *key,
    const char *what, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = queue_file_begin(q, err, errlen)) != QUEUE_OK)
		return rc;
	rc = sqlite3_prepare_v2(queue_file_db(q), sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return queue_meta_fail(q, st, rc, what, err, errlen);
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) != SQLITE_DONE)
		return queue_meta_fail(q, st, rc, what, err, errlen);
	sqlite3_finalize(st);
	return QUEUE_OK;
}

int
queue_meta_clear(struct queue *q, const char *prefix, char *err,
    size_t errlen)
{
	if (q == NULL || prefix == NULL)
		return QUEUE_ERR_INVAL;
	return queue_meta_exec(q, "DELETE FROM meta WHERE substr(key, 1, "
	    "length(?1)) = ?1", prefix, "meta clear", err, errlen);
}

int
queue_meta_each(struct queue *q, const char *prefix, queue_meta_fn fn,
    void *arg, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (q == NULL || prefix == NULL || fn == NULL)
		return QUEUE_ERR_INVAL;
	rc = sqlite3_prepare_v2(queue_file_db(q), "SELECT key, value FROM "
	    "meta WHERE substr(key, 1, length(?1)) = ?1 ORDER BY key", -1, &st,
	    NULL);
	if (rc != SQLITE_OK)
		return queue_meta_fail(q, st, rc, "meta each", err, errlen);
	sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		fn(arg, (const char *)sqlite3_column_text(st, 0),
		    sqlite3_column_int64(st, 1));
	if (rc != SQLITE_DONE)
		return queue_meta_fail(q, st, rc, "meta each", err, errlen);
	sqlite3_finalize(st);
	return QUEUE_OK;
}

/* ---- Blobs: named byte strings (frame v2 dictionaries, held frames). */

int
queue_blob_get(struct queue *q, const char *key, uint8_t *buf, size_t cap,
    size_t *len, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc, n;

	if (q == NULL || key == NULL || len == NULL)
		return QUEUE_ERR_INVAL;
	rc = sqlite3_prepare_v2(queue_file_db(q),
	    "SELECT value FROM blob WHERE key = ?1", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return queue_meta_fail(q, st, rc, "blob get", err, errlen);
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		n = sqlite3_column_bytes(st, 0);
		if (n < 0 || (size_t)n > cap) {
			sqlite3_finalize(st);
			return QUEUE_ERR_INVAL;
		}
		if (n > 0)
			memcpy(buf, sqlite3_column_blob(st, 0), (size_t)n);
		*len = (size_t)n;
	} else if (rc != SQLITE_DONE)
		return queue_meta_fail(q, st, rc, "blob get", err, errlen);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW;
}

int
queue_blob_set(struct queue *q, const char *key, const uint8_t *data,
    size_t len, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (q == NULL || key == NULL || (data == NULL && len > 0) ||
	    len > INT32_MAX)
		return QUEUE_ERR_INVAL;
	if ((rc = queue_file_begin(q, err, errlen)) != QUEUE_OK)
		return rc;
	rc = sqlite3_prepare_v2(queue_file_db(q), "INSERT INTO blob (key, "
	    "value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = "
	    "excluded.value", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return queue_meta_fail(q, st, rc, "blob set", err, errlen);
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, len > 0 ? (const void *)data : "", (int)len,
	    SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) != SQLITE_DONE)
		return queue_meta_fail(q, st, rc, "blob set", err, errlen);
	sqlite3_finalize(st);
	return QUEUE_OK;
}

int
queue_blob_del(struct queue *q, const char *key, int prefix, char *err,
    size_t errlen)
{
	if (q == NULL || key == NULL)
		return QUEUE_ERR_INVAL;
	return queue_meta_exec(q, prefix ? "DELETE FROM blob WHERE substr(key, "
	    "1, length(?1)) = ?1" : "DELETE FROM blob WHERE key = ?1", key,
	    "blob del", err, errlen);
}

int
queue_blob_each(struct queue *q, const char *prefix, queue_blob_fn fn,
    void *arg, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (q == NULL || prefix == NULL || fn == NULL)
		return QUEUE_ERR_INVAL;
	rc = sqlite3_prepare_v2(queue_file_db(q), "SELECT key, value FROM "
	    "blob WHERE substr(key, 1, length(?1)) = ?1 ORDER BY key", -1, &st,
	    NULL);
	if (rc != SQLITE_OK)
		return queue_meta_fail(q, st, rc, "blob each", err, errlen);
	sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (fn(arg, (const char *)sqlite3_column_text(st, 0),
		    sqlite3_column_blob(st, 1),
		    (size_t)sqlite3_column_bytes(st, 1)) != 0) {
			rc = SQLITE_DONE;
			break;
		}
	if (rc != SQLITE_DONE)
		return queue_meta_fail(q, st, rc, "blob each", err, errlen);
	sqlite3_finalize(st);
	return QUEUE_OK;
}
