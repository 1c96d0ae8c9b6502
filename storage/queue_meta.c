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

int
queue_meta_clear(struct queue *q, const char *prefix, char *err,
    size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (q == NULL || prefix == NULL)
		return QUEUE_ERR_INVAL;
	if ((rc = queue_file_begin(q, err, errlen)) != QUEUE_OK)
		return rc;
	rc = sqlite3_prepare_v2(queue_file_db(q), "DELETE FROM meta WHERE "
	    "substr(key, 1, length(?1)) = ?1", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return queue_meta_fail(q, st, rc, "meta clear", err, errlen);
	sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) != SQLITE_DONE)
		return queue_meta_fail(q, st, rc, "meta clear", err, errlen);
	sqlite3_finalize(st);
	return QUEUE_OK;
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
