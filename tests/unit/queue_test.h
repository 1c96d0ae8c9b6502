/* SPDX-License-Identifier: ISC */
/*
 * Shared fixture and helpers for the storage/queue unit tests
 * (test_queue.c, test_queue_bound.c, test_queue_file.c). Each test works in
 * its own temporary directory, removed by teardown(). The helpers are
 * static inline so that each test file may use only some of them.
 */
#ifndef PUSHRELAY_TEST_QUEUE_H
#define PUSHRELAY_TEST_QUEUE_H

#include <sys/stat.h>

#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "storage/queue.h"

#define MAXCOL	1024

struct fixture {
	char dir[200];
	char path[256];
};

/* What a fetch callback saw. */
struct collect {
	int64_t id[MAXCOL];
	char topic[MAXCOL][32];
	size_t n;
	size_t refuse_at;	/* refuse the message with this index, if > 0 */
	struct queue *q;	/* set to try a push from inside the callback */
	int push_rc;
};

static inline int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "%s/test_queue.XXXXXX",
	    tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/queue.db", f->dir);
	*state = f;
	return 0;
}

static inline int
rm_entry(const char *p, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	return remove(p);
}

static inline int
teardown(void **state)
{
	struct fixture *f = *state;

	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static inline struct queue *
open_q(const char *path, uint64_t max, enum queue_policy pol)
{
	struct queue_conf qc = { path, max, pol, QUEUE_SYNC_NORMAL };
	struct queue *q = NULL;
	char err[256];
	int rec = -1;

	assert_int_equal(queue_open(&q, &qc, &rec, err, sizeof(err)),
	    QUEUE_OK);
	assert_int_equal(rec, 0);
	assert_string_equal(err, "");
	return q;
}

static inline int
push_full(struct queue *q, enum queue_dir dir, int prio, const char *topic,
    const char *payload, int64_t expire, int64_t *id, uint64_t *evicted)
{
	struct queue_msg m = { 0 };
	char err[256];
	int rc;

	m.dir = dir;
	m.priority = prio;
	m.topic = topic;
	m.payload = payload;
	m.payload_len = payload != NULL ? strlen(payload) : 0;
	m.qos = 1;
	m.ts_ms = 1000;
	m.expire_ms = expire;
	rc = queue_push(q, &m, evicted, err, sizeof(err));
	if (id != NULL)
		*id = rc == QUEUE_OK ? m.id : 0;
	return rc;
}

static inline int64_t
push(struct queue *q, enum queue_dir dir, int prio, const char *topic,
    const char *payload)
{
	int64_t id;

	assert_int_equal(push_full(q, dir, prio, topic, payload, 0, &id,
	    NULL), QUEUE_OK);
	assert_true(id > 0);
	return id;
}

static inline int
collect_cb(void *arg, const struct queue_msg *m)
{
	struct collect *c = arg;

	if (c->q != NULL)
		c->push_rc = push_full(c->q, QUEUE_UP, 0, "x", "y", 0, NULL,
		    NULL);
	if (c->refuse_at > 0 && c->n + 1 == c->refuse_at)
		return 1;
	assert_true(c->n < MAXCOL);
	c->id[c->n] = m->id;
	snprintf(c->topic[c->n], sizeof(c->topic[0]), "%s", m->topic);
	c->n++;
	return 0;
}

static inline int
fetch(struct queue *q, enum queue_dir dir, int64_t now, size_t max,
    struct collect *c, uint64_t *expired)
{
	char err[256];

	return queue_fetch(q, dir, now, max, collect_cb, c, expired, err,
	    sizeof(err));
}

static inline void
check_stats(struct queue *q, enum queue_dir dir, uint64_t msgs,
    uint64_t bytes)
{
	uint64_t m, b;

	queue_stats(q, dir, &m, &b);
	assert_int_equal(m, msgs);
	assert_int_equal(b, bytes);
}

static inline void
commit(struct queue *q)
{
	char err[256];

	assert_int_equal(queue_commit(q, err, sizeof(err)), QUEUE_OK);
}

static inline void
ack(struct queue *q, int64_t id)
{
	char err[256];

	assert_int_equal(queue_ack(q, id, err, sizeof(err)), QUEUE_OK);
}

#endif
