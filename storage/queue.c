/* SPDX-License-Identifier: ISC */
/*
 * queue: the durable store-and-forward queue, in one SQLite file.
 *
 * storage/queue.h is the contract and docs/queue.md the design. Only the
 * messages live on disk. Which messages are in flight, and the per-direction
 * counters, live in memory and are rebuilt at open: handing a message out
 * never writes to flash, only push and delete do. Every SQLite code is
 * turned into a QUEUE_ERR_* here; callers never see one.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "platform/log.h"
#include "storage/queue.h"
#include "storage/queue_bound.h"
#include "storage/queue_file.h"

#define QUEUE_GONE_MAX		64	/* expired ids noted per fetch query */
#define QUEUE_EXPIRE_BATCH	256	/* equals the LIMIT in ST_EXPIRE */

/*
 * What DELETE ... RETURNING reports, in the order queue_forget() reads it:
 * the head of the topic is for queue_set_on_forget()'s callback.
 */
#define QUEUE_RETURNING " RETURNING id, dir, priority," \
	" length(CAST(topic AS BLOB)) + length(payload)," \
	" substr(CAST(topic AS BLOB), 1, 256)"
_Static_assert(QUEUE_TOPIC_HEAD == 256, "QUEUE_RETURNING's substr length");

/* Prepared once at open, so the hot path compiles no SQL. */
enum queue_st {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_INSERT,
	ST_FETCH,
	ST_DELETE,
	ST_HEAD,
	ST_PROBE,
	ST_EXPIRE,
	ST_ACK_RUN,
	ST__COUNT
};

static const char *const queue_sql[ST__COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_INSERT] = "INSERT INTO msg (id, dir, priority, topic, payload,"
	    " props, qos, retain, ts_ms, expire_ms)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
	[ST_FETCH] = "SELECT id, topic, payload, props, qos, retain, ts_ms,"
	    " expire_ms FROM msg WHERE dir = ?1 AND priority = ?2 AND id > ?3"
	    " ORDER BY id LIMIT ?4",
	[ST_DELETE] = "DELETE FROM msg WHERE id = ?1" QUEUE_RETURNING,
	[ST_HEAD] = "SELECT id FROM msg WHERE dir = ?1 AND priority = ?2"
	    " ORDER BY id LIMIT 1",
	[ST_PROBE] = "SELECT 1 FROM msg WHERE expire_ms > 0 AND expire_ms <= ?1"
	    " LIMIT 1",
	/* Batched because RETURNING buffers every row in memory. */
	[ST_EXPIRE] = "DELETE FROM msg WHERE id IN (SELECT id FROM msg"
	    " WHERE expire_ms > 0 AND expire_ms <= ?1 LIMIT 256)"
	    QUEUE_RETURNING,
	[ST_ACK_RUN] = "DELETE FROM msg WHERE id BETWEEN ?1 AND ?2"
	    QUEUE_RETURNING,
};

static const char *const queue_errstr[] = {
	[0] = "success",
	[-QUEUE_ERR_FULL] = "queue full",
	[-QUEUE_ERR_IO] = "queue storage error",
	[-QUEUE_ERR_CORRUPT] = "queue file corrupt",
	[-QUEUE_ERR_NOMEM] = "out of memory",
	[-QUEUE_ERR_INVAL] = "invalid argument",
};
_Static_assert(sizeof(queue_errstr) / sizeof(queue_errstr[0]) ==
    QUEUE_ERR__COUNT + 1, "queue_errstr does not match enum queue_err");

/*
 * One priority of one direction. Every stored message of this priority
 * with id <= cursor is in flight; fetching resumes after the cursor.
 */
struct queue_prio {
	int prio;
	int64_t cursor;
};

struct queue_side {
	uint64_t messages;
	uint64_t bytes;		/* topic + payload bytes */
	size_t inflight;
	struct queue_prio *prio; /* highest first */
	size_t nprio;
	size_t cap;
};

struct queue {
	sqlite3 *db;
	sqlite3_stmt *st[ST__COUNT];
	char *path;
	struct queue_bound bound;
	int in_tx;		/* a BEGIN IMMEDIATE is open */
	int in_fetch;		/* a fetch callback is running */
	int64_t last_id;	/* never reused, even after a rollback */
	struct queue_side side[2];
	int64_t gone[QUEUE_GONE_MAX];
	queue_row_fn on_forget;	/* may be NULL */
	void *forget_arg;
	uint64_t generation;	/* queue_load() runs */
};

static int queue_load(struct queue *, char *, size_t);

/*
 * After an I/O, full-disk or memory error SQLite may roll back the whole
 * transaction by itself. The counters and cursors then describe rows that
 * no longer exist, so re-read them from the file and put everything that
 * was in flight back (the caller may send some messages twice, never lose
 * one).
 */
static void
queue_check_tx(struct queue *q)
{
	char why[256];

	if (!q->in_tx || sqlite3_get_autocommit(q->db) == 0)
		return;
	q->in_tx = 0;
	if (queue_load(q, why, sizeof(why)) != QUEUE_OK)
		log_err("%s", why);
}

/* Reports a failed SQLite call on the connection as "what: errmsg". */
static int
queue_fail(struct queue *q, int rc, const char *what, char *err,
    size_t errlen)
{
	queue_file_err(q->path, err, errlen, "%s: %s", what, q->db != NULL ?
	    sqlite3_errmsg(q->db) : sqlite3_errstr(rc));
	if (q->db != NULL)
		queue_check_tx(q);
	return queue_file_code(rc);
}

/*
 * Steps st once. Returns SQLITE_ROW or SQLITE_DONE (the caller resets st
 * when done with it), or a negative QUEUE_ERR_* with st already reset.
 */
static int
queue_step(struct queue *q, sqlite3_stmt *st, const char *what, char *err,
    size_t errlen)
{
	int rc;

	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		return rc;
	queue_file_err(q->path, err, errlen, "%s: %s", what,
	    sqlite3_errmsg(q->db));
	sqlite3_reset(st);
	queue_check_tx(q);
	return queue_file_code(rc);
}

static int
queue_begin(struct queue *q, char *err, size_t errlen)
{
	int rc;

	if (q->in_tx)
		return QUEUE_OK;
	rc = queue_step(q, q->st[ST_BEGIN], "begin", err, errlen);
	if (rc < 0)
		return rc;
	sqlite3_reset(q->st[ST_BEGIN]);
	q->in_tx = 1;
	return QUEUE_OK;
}

sqlite3 *
queue_file_db(struct queue *q)
{
	return q->db;
}

int
queue_file_begin(struct queue *q, char *err, size_t errlen)
{
	if (q->in_fetch)
		return QUEUE_ERR_INVAL;
	return queue_begin(q, err, errlen);
}

/* Finds or inserts priority prio in s, keeping the highest first. */
static int
queue_prio_index(struct queue_side *s, int prio, size_t *idx)
{
	struct queue_prio *p;
	size_t i, cap;

	for (i = 0; i < s->nprio && s->prio[i].prio > prio; i++)
		;
	*idx = i;
	if (i < s->nprio && s->prio[i].prio == prio)
		return QUEUE_OK;
	if (s->nprio == s->cap) {
		cap = s->cap == 0 ? 4 : s->cap * 2;
		p = realloc(s->prio, cap * sizeof(*p));
		if (p == NULL)
			return QUEUE_ERR_NOMEM;
		s->prio = p;
		s->cap = cap;
	}
	memmove(&s->prio[i + 1], &s->prio[i],
	    (s->nprio - i) * sizeof(*s->prio));
	s->prio[i].prio = prio;
	s->prio[i].cursor = 0;
	s->nprio++;
	return QUEUE_OK;
}

/* Accounts for one row reported by a DELETE ... RETURNING. */
static void
queue_forget(struct queue *q, sqlite3_stmt *st)
{
	struct queue_side *s;
	int64_t id = sqlite3_column_int64(st, 0);
	int dir = sqlite3_column_int(st, 1);
	int prio = sqlite3_column_int(st, 2);
	uint64_t size = (uint64_t)sqlite3_column_int64(st, 3);
	size_t i;

	if (dir != QUEUE_UP && dir != QUEUE_DOWN)
		return;
	if (q->on_forget != NULL)
		q->on_forget(q->forget_arg, (enum queue_dir)dir,
		    sqlite3_column_blob(st, 4),
		    (size_t)sqlite3_column_bytes(st, 4), size);
	s = &q->side[dir];
	s->messages -= s->messages > 0 ? 1 : 0;
	s->bytes -= s->bytes >= size ? size : s->bytes;
	for (i = 0; i < s->nprio; i++) {
		if (s->prio[i].prio != prio)
			continue;
		if (id <= s->prio[i].cursor && s->inflight > 0)
			s->inflight--;
		break;
	}
}

/* Runs a bound DELETE ... RETURNING and accounts for what it removed. */
static int
queue_run_delete(struct queue *q, sqlite3_stmt *st, const char *what,
    uint64_t *n, char *err, size_t errlen)
{
	int rc;

	while ((rc = queue_step(q, st, what, err, errlen)) == SQLITE_ROW) {
		queue_forget(q, st);
		if (n != NULL)
			(*n)++;
	}
	if (rc < 0)
		return rc;
	sqlite3_reset(st);
	return QUEUE_OK;
}

static int
queue_delete_id(struct queue *q, int64_t id, const char *what, char *err,
    size_t errlen)
{
	sqlite3_bind_int64(q->st[ST_DELETE], 1, id);
	return queue_run_delete(q, q->st[ST_DELETE], what, NULL, err, errlen);
}

/*
 * Rebuilds counters and the priority list from the file, with every cursor
 * at 0 (nothing in flight). One pass over the table: at open only, or after
 * a lost transaction.
 */
static int
queue_load(struct queue *q, char *err, size_t errlen)
{
	static const char sql[] = "SELECT dir, priority, count(*),"
	    " sum(length(CAST(topic AS BLOB)) + length(payload))"
	    " FROM msg GROUP BY dir, priority";
	static const char last[] = "SELECT max(ifnull((SELECT seq FROM"
	    " sqlite_sequence WHERE name = 'msg'), 0),"
	    " ifnull((SELECT max(id) FROM msg), 0))";
	sqlite3_stmt *st = NULL;
	struct queue_side *s;
	size_t i;
	int rc, dir;

	q->generation++;
	for (dir = QUEUE_UP; dir <= QUEUE_DOWN; dir++) {
		s = &q->side[dir];
		s->messages = s->bytes = 0;
		s->inflight = s->nprio = 0;
	}
	rc = sqlite3_prepare_v2(q->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return queue_fail(q, rc, "load", err, errlen);
	while ((rc = queue_step(q, st, "load", err, errlen)) == SQLITE_ROW) {
		dir = sqlite3_column_int(st, 0);
		if (dir != QUEUE_UP && dir != QUEUE_DOWN)
			continue;
		s = &q->side[dir];
		if (queue_prio_index(s, sqlite3_column_int(st, 1), &i) != 0) {
			sqlite3_finalize(st);
			return QUEUE_ERR_NOMEM;
		}
		s->messages += (uint64_t)sqlite3_column_int64(st, 2);
		s->bytes += (uint64_t)sqlite3_column_int64(st, 3);
	}
	sqlite3_finalize(st);
	if (rc < 0)
		return rc;
	rc = sqlite3_prepare_v2(q->db, last, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return queue_fail(q, rc, "load", err, errlen);
	rc = queue_step(q, st, "load", err, errlen);
	if (rc == SQLITE_ROW && sqlite3_column_int64(st, 0) > q->last_id)
		q->last_id = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc < 0 ? rc : QUEUE_OK;
}

static int
queue_prepare(struct queue *q, char *err, size_t errlen)
{
	int i, rc;

	for (i = 0; i < ST__COUNT; i++) {
		rc = sqlite3_prepare_v3(q->db, queue_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &q->st[i], NULL);
		if (rc != SQLITE_OK)
			return queue_fail(q, rc, "prepare", err, errlen);
	}
	return QUEUE_OK;
}

static void
queue_close_db(struct queue *q)
{
	int i;

	for (i = 0; i < ST__COUNT; i++) {
		sqlite3_finalize(q->st[i]);
		q->st[i] = NULL;
	}
	sqlite3_close_v2(q->db);
	q->db = NULL;
	q->in_tx = 0;
}

static int
queue_conf_valid(const struct queue_conf *qc)
{
	return qc != NULL && qc->path != NULL && qc->path[0] != '\0' &&
	    qc->max_bytes > 0 &&
	    (qc->policy == QUEUE_DROP_OLDEST ||
	    qc->policy == QUEUE_DROP_NEWEST) &&
	    (qc->sync == QUEUE_SYNC_OFF || qc->sync == QUEUE_SYNC_NORMAL ||
	    qc->sync == QUEUE_SYNC_FULL);
}

int
queue_open(struct queue **out, const struct queue_conf *qc, int *recovered,
    char *err, size_t errlen)
{
	struct queue *q;
	int rc;

	if (recovered != NULL)
		*recovered = 0;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (out == NULL || !queue_conf_valid(qc)) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "queue: invalid configuration");
		return QUEUE_ERR_INVAL;
	}
	*out = NULL;
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return QUEUE_ERR_NOMEM;
	q->bound.max_bytes = qc->max_bytes;
	q->bound.policy = qc->policy;
	if ((q->path = strdup(qc->path)) == NULL)
		rc = QUEUE_ERR_NOMEM;
	else
		rc = queue_file_open(&q->db, q->path, qc->sync, recovered,
		    err, errlen);
	if (rc == QUEUE_OK && (rc = queue_prepare(q, err, errlen)) == 0)
		rc = queue_load(q, err, errlen);
	if (rc != QUEUE_OK) {
		if (recovered != NULL)
			*recovered = 0;
		queue_free(q);
		return rc;
	}
	*out = q;
	return QUEUE_OK;
}

void
queue_free(struct queue *q)
{
	char why[256];

	if (q == NULL)
		return;
	if (q->db != NULL && q->in_tx &&
	    queue_commit(q, why, sizeof(why)) != QUEUE_OK)
		log_err("%s", why);
	queue_close_db(q);
	free(q->side[QUEUE_UP].prio);
	free(q->side[QUEUE_DOWN].prio);
	free(q->path);
	free(q);
}

void
queue_set_limits(struct queue *q, uint64_t max_bytes,
    enum queue_policy policy)
{
	if (q == NULL || max_bytes == 0 ||
	    (policy != QUEUE_DROP_OLDEST && policy != QUEUE_DROP_NEWEST))
		return;
	q->bound.max_bytes = max_bytes;
	q->bound.policy = policy;
}

static int
queue_msg_valid(const struct queue_msg *m)
{
	return m != NULL && m->topic != NULL &&
	    (m->dir == QUEUE_UP || m->dir == QUEUE_DOWN) &&
	    (m->payload != NULL || m->payload_len == 0) &&
	    (m->props != NULL || m->props_len == 0) &&
	    m->qos >= 0 && m->qos <= 2 && (m->retain == 0 || m->retain == 1) &&
	    m->expire_ms >= 0;
}

/* The bytes each direction holds, as queue_bound wants them. */
static const uint64_t *
queue_used(const struct queue *q, uint64_t used[2])
{
	used[QUEUE_UP] = q->side[QUEUE_UP].bytes;
	used[QUEUE_DOWN] = q->side[QUEUE_DOWN].bytes;
	return used;
}

void
queue_set_reserve(struct queue *q, enum queue_dir dir, uint64_t bytes)
{
	if (q != NULL && (dir == QUEUE_UP || dir == QUEUE_DOWN))
		q->bound.reserve[dir] = bytes;
}

/* Deletes the lowest id of direction dir: the head of each priority. */
static int
queue_evict_one(struct queue *q, enum queue_dir dir, char *err,
    size_t errlen)
{
	struct queue_side *s = &q->side[dir];
	sqlite3_stmt *st = q->st[ST_HEAD];
	int64_t oldest = 0;
	size_t i;
	int rc;

	for (i = 0; i < s->nprio; i++) {
		sqlite3_bind_int(st, 1, dir);
		sqlite3_bind_int(st, 2, s->prio[i].prio);
		rc = queue_step(q, st, "evict", err, errlen);
		if (rc < 0)
			return rc;
		if (rc == SQLITE_ROW && (oldest == 0 ||
		    sqlite3_column_int64(st, 0) < oldest))
			oldest = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
	}
	if (oldest == 0) {
		queue_file_err(q->path, err, errlen, "evict: counters say"
		    " %llu bytes but no message is stored",
		    (unsigned long long)s->bytes);
		return QUEUE_ERR_IO;
	}
	return queue_delete_id(q, oldest, "evict", err, errlen);
}

static int
queue_insert(struct queue *q, struct queue_msg *m, uint64_t size, char *err,
    size_t errlen)
{
	sqlite3_stmt *st = q->st[ST_INSERT];
	int64_t id = q->last_id + 1;
	int rc;

	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int(st, 2, m->dir);
	sqlite3_bind_int(st, 3, m->priority);
	sqlite3_bind_int(st, 7, m->qos);
	sqlite3_bind_int(st, 8, m->retain);
	sqlite3_bind_int64(st, 9, m->ts_ms);
	sqlite3_bind_int64(st, 10, m->expire_ms);
	/* A failed bind keeps the previous message's value: never step. */
	if (sqlite3_bind_text64(st, 4, m->topic, strlen(m->topic),
	    SQLITE_STATIC, SQLITE_UTF8) != SQLITE_OK ||
	    sqlite3_bind_blob64(st, 5, m->payload_len > 0 ? m->payload : "",
	    m->payload_len, SQLITE_STATIC) != SQLITE_OK ||
	    (m->props_len > 0 ? sqlite3_bind_blob64(st, 6, m->props,
	    m->props_len, SQLITE_STATIC) : sqlite3_bind_null(st, 6)) !=
	    SQLITE_OK) {
		queue_file_err(q->path, err, errlen, "push: %s",
		    sqlite3_errmsg(q->db));
		sqlite3_clear_bindings(st);
		return QUEUE_ERR_INVAL;
	}
	rc = queue_step(q, st, "push", err, errlen);
	if (rc < 0)
		return rc;
	sqlite3_reset(st);
	q->last_id = id;
	m->id = id;
	q->side[m->dir].messages++;
	q->side[m->dir].bytes += size;
	return QUEUE_OK;
}

int
queue_push(struct queue *q, struct queue_msg *m, uint64_t *evicted,
    char *err, size_t errlen)
{
	uint64_t size, n = 0, used[2];
	size_t pi;
	int rc;

	if (evicted != NULL)
		*evicted = 0;
	if (q == NULL || q->in_fetch || !queue_msg_valid(m))
		return QUEUE_ERR_INVAL;
	size = strlen(m->topic) + (uint64_t)m->payload_len;
	if ((rc = queue_bound_room(&q->bound, queue_used(q, used), m->dir,
	    size)) != QUEUE_OK)
		return rc;
	if ((rc = queue_prio_index(&q->side[m->dir], m->priority, &pi)) != 0 ||
	    (rc = queue_begin(q, err, errlen)) != QUEUE_OK)
		return rc;
	while (queue_bound_over(&q->bound, queue_used(q, used), m->dir,
	    size)) {
		if ((rc = queue_evict_one(q, m->dir, err, errlen)) != QUEUE_OK)
			break;
		n++;
	}
	if (rc == QUEUE_OK)
		rc = queue_insert(q, m, size, err, errlen);
	if (evicted != NULL)
		*evicted = n;
	return rc;
}

static int
queue_fetch_row(sqlite3_stmt *st, enum queue_dir dir, int prio,
    struct queue_msg *m)
{
	m->id = sqlite3_column_int64(st, 0);
	m->dir = dir;
	m->priority = prio;
	m->topic = (const char *)sqlite3_column_text(st, 1);
	m->payload = sqlite3_column_blob(st, 2);
	m->payload_len = (size_t)sqlite3_column_bytes(st, 2);
	m->props = sqlite3_column_blob(st, 3);
	m->props_len = (size_t)sqlite3_column_bytes(st, 3);
	m->qos = sqlite3_column_int(st, 4);
	m->retain = sqlite3_column_int(st, 5);
	m->ts_ms = sqlite3_column_int64(st, 6);
	m->expire_ms = sqlite3_column_int64(st, 7);
	return m->topic != NULL ? QUEUE_OK : QUEUE_ERR_NOMEM;
}

/* Deletes the expired ids that one fetch query collected. */
static int
queue_delete_gone(struct queue *q, size_t ngone, uint64_t *expired,
    char *err, size_t errlen)
{
	size_t i;
	int rc;

	if (ngone == 0)
		return QUEUE_OK;
	if ((rc = queue_begin(q, err, errlen)) != QUEUE_OK)
		return rc;
	for (i = 0; i < ngone; i++) {
		rc = queue_delete_id(q, q->gone[i], "expire", err, errlen);
		if (rc != QUEUE_OK)
			return rc;
		(*expired)++;
	}
	return QUEUE_OK;
}

/*
 * Hands out up to *room messages of one priority. Expired rows are only
 * collected while the SELECT runs and deleted after it, then the query
 * runs again for the rows they took the place of.
 * Returns 0 when done, 1 when cb refused, or a negative QUEUE_ERR_*.
 */
static int
queue_fetch_prio(struct queue *q, enum queue_dir dir, struct queue_prio *p,
    int64_t now_ms, size_t *room, queue_fetch_cb cb, void *arg,
    uint64_t *expired, char *err, size_t errlen)
{
	sqlite3_stmt *st = q->st[ST_FETCH];
	struct queue_msg m;
	size_t ngone;
	int rc = SQLITE_DONE, refused;

	do {
		ngone = 0;
		refused = 0;
		sqlite3_bind_int(st, 1, dir);
		sqlite3_bind_int(st, 2, p->prio);
		sqlite3_bind_int64(st, 3, p->cursor);
		sqlite3_bind_int64(st, 4, (sqlite3_int64)*room);
		while (ngone < QUEUE_GONE_MAX && refused == 0 && (rc =
		    queue_step(q, st, "fetch", err, errlen)) == SQLITE_ROW) {
			if (queue_fetch_row(st, dir, p->prio, &m) != QUEUE_OK) {
				sqlite3_reset(st);
				return QUEUE_ERR_NOMEM;
			}
			if (m.expire_ms != 0 && m.expire_ms <= now_ms)
				q->gone[ngone++] = m.id;
			else if (cb(arg, &m) != 0)
				refused = 1;
			else {
				p->cursor = m.id;
				q->side[dir].inflight++;
				(*room)--;
			}
		}
		if (rc < 0)
			return rc;
		sqlite3_reset(st);
		rc = queue_delete_gone(q, ngone, expired, err, errlen);
		if (rc < 0)
			return rc;
	} while (refused == 0 && ngone > 0 && *room > 0);
	return refused;
}

int
queue_fetch(struct queue *q, enum queue_dir dir, int64_t now_ms,
    size_t max, queue_fetch_cb cb, void *arg, uint64_t *expired,
    char *err, size_t errlen)
{
	struct queue_side *s;
	uint64_t gone = 0;
	size_t i, room;
	int rc = 0;

	if (expired != NULL)
		*expired = 0;
	if (q == NULL || cb == NULL || q->in_fetch ||
	    (dir != QUEUE_UP && dir != QUEUE_DOWN))
		return QUEUE_ERR_INVAL;
	room = max > INT_MAX ? INT_MAX : max;
	s = &q->side[dir];
	q->in_fetch = 1;
	for (i = 0; i < s->nprio && room > 0 && rc == 0; i++)
		rc = queue_fetch_prio(q, dir, &s->prio[i], now_ms, &room, cb,
		    arg, &gone, err, errlen);
	q->in_fetch = 0;
	if (expired != NULL)
		*expired = gone;
	if (rc < 0)
		return rc;
	return (int)((max > INT_MAX ? INT_MAX : max) - room);
}

int
queue_ack(struct queue *q, int64_t id, char *err, size_t errlen)
{
	int rc;

	if (q == NULL || q->in_fetch)
		return QUEUE_ERR_INVAL;
	if ((rc = queue_begin(q, err, errlen)) != QUEUE_OK)
		return rc;
	return queue_delete_id(q, id, "ack", err, errlen);
}

int
queue_ack_ids(struct queue *q, const int64_t *ids, size_t n, uint64_t *done,
    char *err, size_t errlen)
{
	sqlite3_stmt *st = q != NULL ? q->st[ST_ACK_RUN] : NULL;
	size_t i, j;
	int rc;

	if (done != NULL)
		*done = 0;
	if (q == NULL || q->in_fetch || (ids == NULL && n > 0))
		return QUEUE_ERR_INVAL;
	if ((rc = queue_begin(q, err, errlen)) != QUEUE_OK)
		return rc;
	/* Ids a..b all listed: no other message can hold one of them. */
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && ids[j] == ids[j - 1] + 1; j++)
			;
		sqlite3_bind_int64(st, 1, ids[i]);
		sqlite3_bind_int64(st, 2, ids[j - 1]);
		if ((rc = queue_run_delete(q, st, "ack", done, err, errlen)) !=
		    QUEUE_OK)
			return rc;
	}
	return QUEUE_OK;
}

void
queue_release_all(struct queue *q, enum queue_dir dir)
{
	struct queue_side *s;
	size_t i;

	if (q == NULL || (dir != QUEUE_UP && dir != QUEUE_DOWN))
		return;
	s = &q->side[dir];
	for (i = 0; i < s->nprio; i++)
		s->prio[i].cursor = 0;
	s->inflight = 0;
}

int
queue_expire(struct queue *q, int64_t now_ms, uint64_t *expired,
    char *err, size_t errlen)
{
	sqlite3_stmt *st;
	uint64_t n = 0, batch;
	int rc;

	if (expired != NULL)
		*expired = 0;
	if (q == NULL || q->in_fetch)
		return QUEUE_ERR_INVAL;
	/* Probe first: a periodic call with nothing due must not write. */
	st = q->st[ST_PROBE];
	sqlite3_bind_int64(st, 1, now_ms);
	rc = queue_step(q, st, "expire", err, errlen);
	if (rc < 0)
		return rc;
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return QUEUE_OK;
	if ((rc = queue_begin(q, err, errlen)) != QUEUE_OK)
		return rc;
	st = q->st[ST_EXPIRE];
	do {
		batch = 0;
		sqlite3_bind_int64(st, 1, now_ms);
		rc = queue_run_delete(q, st, "expire", &batch, err, errlen);
		n += batch;
	} while (rc == QUEUE_OK && batch == QUEUE_EXPIRE_BATCH);
	if (expired != NULL)
		*expired = n;
	return rc;
}

int
queue_commit(struct queue *q, char *err, size_t errlen)
{
	int rc;

	if (q == NULL || q->in_fetch)
		return QUEUE_ERR_INVAL;
	if (!q->in_tx)
		return QUEUE_OK;
	rc = sqlite3_step(q->st[ST_COMMIT]);
	sqlite3_reset(q->st[ST_COMMIT]);
	if (rc == SQLITE_DONE) {
		q->in_tx = 0;
		return QUEUE_OK;
	}
	queue_file_err(q->path, err, errlen, "commit: %s",
	    sqlite3_errmsg(q->db));
	if (sqlite3_get_autocommit(q->db) == 0) {
		sqlite3_step(q->st[ST_ROLLBACK]);
		sqlite3_reset(q->st[ST_ROLLBACK]);
	}
	queue_check_tx(q);
	return queue_file_code(rc);
}

void
queue_stats(const struct queue *q, enum queue_dir dir, uint64_t *messages,
    uint64_t *bytes)
{
	int ok = q != NULL && (dir == QUEUE_UP || dir == QUEUE_DOWN);

	if (messages != NULL)
		*messages = ok ? q->side[dir].messages : 0;
	if (bytes != NULL)
		*bytes = ok ? q->side[dir].bytes : 0;
}

int64_t
queue_next_id(const struct queue *q)
{
	return q->last_id + 1;
}

size_t
queue_inflight(const struct queue *q, enum queue_dir dir)
{
	if (q == NULL || (dir != QUEUE_UP && dir != QUEUE_DOWN))
		return 0;
	return q->side[dir].inflight;
}

const char *
queue_strerror(int err)
{
	if (err > 0 || err < -QUEUE_ERR__COUNT)
		return "unknown queue error";
	return queue_errstr[-err];
}

void
queue_rollback(struct queue *q)
{
	char why[256];

	if (q == NULL || q->in_fetch || !q->in_tx)
		return;
	if (sqlite3_get_autocommit(q->db) == 0) {
		sqlite3_step(q->st[ST_ROLLBACK]);
		sqlite3_reset(q->st[ST_ROLLBACK]);
	}
	q->in_tx = 0;
	if (queue_load(q, why, sizeof(why)) != QUEUE_OK)
		log_err("%s", why);
}

void
queue_set_on_forget(struct queue *q, queue_row_fn fn, void *arg)
{
	q->on_forget = fn;
	q->forget_arg = arg;
}

uint64_t
queue_generation(const struct queue *q)
{
	return q->generation;
}
