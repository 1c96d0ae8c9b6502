/* SPDX-License-Identifier: ISC */
/*
 * queue_scan: one pass over the stored messages of a direction, for
 * accounting kept beside the queue (storage/queue.h). Rare (a start, a
 * rollback), so the statement is prepared per call, as in queue_meta.c.
 */
#include <sqlite3.h>

#include "storage/queue.h"
#include "storage/queue_file.h"

_Static_assert(QUEUE_TOPIC_HEAD == 256, "the substr length below");

int
queue_scan(struct queue *q, enum queue_dir dir, queue_row_fn fn, void *arg,
    char *err, size_t errlen)
{
	sqlite3 *db;
	sqlite3_stmt *st = NULL;
	int rc;

	if (q == NULL || fn == NULL || (dir != QUEUE_UP && dir != QUEUE_DOWN))
		return QUEUE_ERR_INVAL;
	db = queue_file_db(q);
	rc = sqlite3_prepare_v2(db, "SELECT substr(CAST(topic AS BLOB), 1, "
	    "256), length(CAST(topic AS BLOB)) + length(payload) FROM msg "
	    "WHERE dir = ?1 ORDER BY id", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int(st, 1, dir);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			fn(arg, dir, sqlite3_column_blob(st, 0),
			    (size_t)sqlite3_column_bytes(st, 0),
			    (uint64_t)sqlite3_column_int64(st, 1));
	}
	if (rc == SQLITE_DONE) {
		sqlite3_finalize(st);
		return QUEUE_OK;
	}
	queue_file_err(sqlite3_db_filename(db, "main"), err, errlen,
	    "scan: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return queue_file_code(rc);
}
