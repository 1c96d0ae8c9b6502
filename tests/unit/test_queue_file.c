/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for the queue file's life cycle (storage/queue_file.c through
 * queue_open()): mode 0600, a missing directory, sync levels, recovery from
 * corrupt files, refusing another schema version or a foreign database,
 * and never following a symbolic link or using a hard-linked file.
 */
#include <dirent.h>
#include <fcntl.h>

#include <sqlite3.h>

#include "tests/unit/queue_test.h"

static void
test_open_mode_and_empty(void **state)
{
	struct fixture *f = *state;
	struct queue *q = open_q(f->path, 1000, QUEUE_DROP_OLDEST);
	struct stat sb;

	check_stats(q, QUEUE_UP, 0, 0);
	check_stats(q, QUEUE_DOWN, 0, 0);
	assert_int_equal(queue_inflight(q, QUEUE_UP), 0);
	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	queue_free(q);
	queue_free(NULL);
	q = open_q(f->path, 1000, QUEUE_DROP_OLDEST);
	queue_free(q);
}

static void
test_missing_directory(void **state)
{
	struct fixture *f = *state;
	char path[256], err[256];
	struct queue_conf qc = { path, 1000, QUEUE_DROP_OLDEST,
	    QUEUE_SYNC_NORMAL };
	struct queue *q = NULL;

	snprintf(path, sizeof(path), "%s/nope/queue.db", f->dir);
	assert_int_equal(queue_open(&q, &qc, NULL, err, sizeof(err)),
	    QUEUE_ERR_IO);
	assert_null(q);
	assert_non_null(strstr(err, "nope"));
	assert_non_null(strstr(err, "does not exist"));
	assert_int_equal(strncmp(err, "queue ", 6), 0);
}

static void
test_sync_levels(void **state)
{
	struct fixture *f = *state;
	struct queue_conf qc = { f->path, 1000, QUEUE_DROP_OLDEST,
	    QUEUE_SYNC_OFF };
	struct queue *q;
	char err[256];
	int s;

	for (s = QUEUE_SYNC_OFF; s <= QUEUE_SYNC_FULL; s++) {
		qc.sync = s;
		assert_int_equal(queue_open(&q, &qc, NULL, err, sizeof(err)),
		    QUEUE_OK);
		push(q, QUEUE_UP, 0, "t", "p");
		commit(q);
		check_stats(q, QUEUE_UP, (uint64_t)s + 1,
		    2 * ((uint64_t)s + 1));
		queue_free(q);
	}
	qc.sync = 3;
	assert_int_equal(queue_open(&q, &qc, NULL, err, sizeof(err)),
	    QUEUE_ERR_INVAL);
}

static off_t
count_bytes(const char *path)
{
	struct stat sb;

	assert_int_equal(stat(path, &sb), 0);
	return sb.st_size;
}

static void
write_file(const char *path, const void *buf, size_t len, off_t at)
{
	int fd = open(path, O_WRONLY | O_CREAT, 0600);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, buf, len, at), (ssize_t)len);
	close(fd);
}

/* Counts files in f->dir whose name starts with "queue.db.corrupt-". */
static int
count_corrupt(const struct fixture *f, const char *suffix)
{
	DIR *d = opendir(f->dir);
	struct dirent *e;
	size_t n, sl = strlen(suffix);
	int count = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		n = strlen(e->d_name);
		if (strncmp(e->d_name, "queue.db.corrupt-", 17) == 0 &&
		    (sl == 0 ? strchr(e->d_name + 17, 'w') == NULL &&
		    strchr(e->d_name + 17, 's') == NULL :
		    n > sl && strcmp(e->d_name + n - sl, suffix) == 0))
			count++;
	}
	closedir(d);
	return count;
}

static struct queue *
open_recovered(const struct fixture *f)
{
	struct queue_conf qc = { f->path, 1000, QUEUE_DROP_OLDEST,
	    QUEUE_SYNC_NORMAL };
	struct queue *q = NULL;
	char err[512];
	int rec = 0;

	assert_int_equal(queue_open(&q, &qc, &rec, err, sizeof(err)),
	    QUEUE_OK);
	assert_int_equal(rec, 1);
	assert_non_null(strstr(err, "corrupt ("));
	assert_non_null(strstr(err, "moved to "));
	assert_non_null(strstr(err, ".corrupt-"));
	assert_null(strchr(err, '\n'));
	return q;
}

static void
test_corrupt_garbage(void **state)
{
	struct fixture *f = *state;
	char garbage[8192], wal[300];
	struct queue *q;
	struct stat sb;

	memset(garbage, 'x', sizeof(garbage));
	write_file(f->path, garbage, sizeof(garbage), 0);
	snprintf(wal, sizeof(wal), "%s-wal", f->path);
	write_file(wal, garbage, 100, 0);
	q = open_recovered(f);
	assert_int_equal(count_corrupt(f, ""), 1);
	/* SQLite drops an invalid WAL on close; either way none is reused. */
	assert_true(count_corrupt(f, "-wal") <= 1);
	push(q, QUEUE_UP, 0, "t", "p");
	commit(q);
	check_stats(q, QUEUE_UP, 1, 2);
	queue_free(q);
	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	q = open_q(f->path, 1000, QUEUE_DROP_OLDEST);
	check_stats(q, QUEUE_UP, 1, 2);
	queue_free(q);
}

/* A valid header with damaged pages is found by the startup check. */
static void
test_corrupt_pages(void **state)
{
	struct fixture *f = *state;
	struct queue *q = open_q(f->path, 1000000, QUEUE_DROP_OLDEST);
	char payload[400], junk[4096];
	int i;

	memset(payload, 'p', sizeof(payload) - 1);
	payload[sizeof(payload) - 1] = '\0';
	for (i = 0; i < 300; i++)
		push(q, QUEUE_UP, 0, "t", payload);
	commit(q);
	queue_free(q);
	memset(junk, 0xa5, sizeof(junk));
	for (i = 2; i < 30; i += 3)
		write_file(f->path, junk, sizeof(junk), (off_t)i * 4096);
	q = open_recovered(f);
	check_stats(q, QUEUE_UP, 0, 0);
	queue_free(q);
}

/* Two recoveries in a row keep both corrupt files under distinct names. */
static void
test_corrupt_twice(void **state)
{
	struct fixture *f = *state;
	char garbage[4096];
	struct queue *q;

	memset(garbage, 'y', sizeof(garbage));
	write_file(f->path, garbage, sizeof(garbage), 0);
	q = open_recovered(f);
	queue_free(q);
	write_file(f->path, garbage, sizeof(garbage), 0);
	q = open_recovered(f);
	queue_free(q);
	assert_int_equal(count_corrupt(f, ""), 2);
}

static void
set_user_version(const char *path, const char *sql)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static void
test_future_schema_refused(void **state)
{
	struct fixture *f = *state;
	struct queue_conf qc = { f->path, 1000, QUEUE_DROP_OLDEST,
	    QUEUE_SYNC_NORMAL };
	struct queue *q = open_q(f->path, 1000, QUEUE_DROP_OLDEST);
	char err[512];
	int rec = 7;

	push(q, QUEUE_UP, 0, "t", "p");
	queue_free(q);
	set_user_version(f->path, "PRAGMA user_version = 99");
	q = NULL;
	assert_int_equal(queue_open(&q, &qc, &rec, err, sizeof(err)),
	    QUEUE_ERR_IO);
	assert_null(q);
	assert_int_equal(rec, 0);
	assert_non_null(strstr(err, "schema version 99 is newer"));
	assert_int_equal(count_corrupt(f, ""), 0);
	set_user_version(f->path, "PRAGMA user_version = 1");
	q = open_q(f->path, 1000, QUEUE_DROP_OLDEST);
	check_stats(q, QUEUE_UP, 1, 2);
	queue_free(q);
}

static void
test_foreign_db_refused(void **state)
{
	struct fixture *f = *state;
	struct queue_conf qc = { f->path, 1000, QUEUE_DROP_OLDEST,
	    QUEUE_SYNC_NORMAL };
	struct queue *q = NULL;
	char err[512];

	set_user_version(f->path, "CREATE TABLE users (name TEXT)");
	assert_int_equal(queue_open(&q, &qc, NULL, err, sizeof(err)),
	    QUEUE_ERR_IO);
	assert_non_null(strstr(err, "not a pushrelay queue"));
	assert_int_equal(count_corrupt(f, ""), 0);
}

/* path -> target, where target must never be created or written. */
static void
check_link_refused(struct fixture *f, const char *link_ext,
    const char *want)
{
	struct queue_conf qc = { f->path, 1000, QUEUE_DROP_OLDEST,
	    QUEUE_SYNC_NORMAL };
	struct queue *q = NULL;
	char link[300], target[300], err[512];

	snprintf(link, sizeof(link), "%s%s", f->path, link_ext);
	snprintf(target, sizeof(target), "%s/target%s", f->dir, link_ext);
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(queue_open(&q, &qc, NULL, err, sizeof(err)),
	    QUEUE_ERR_IO);
	assert_null(q);
	assert_non_null(strstr(err, want));
	assert_int_equal(access(target, F_OK), -1);
	/* An existing target is neither followed: it stays as it was. */
	write_file(target, "mine", 4, 0);
	assert_int_equal(queue_open(&q, &qc, NULL, err, sizeof(err)),
	    QUEUE_ERR_IO);
	assert_non_null(strstr(err, want));
	assert_int_equal(count_bytes(target), 4);
	unlink(target);
	unlink(link);
}

static void
test_symlinks_refused(void **state)
{
	struct fixture *f = *state;

	check_link_refused(f, "", "is a symbolic link; option store must "
	    "name the file itself");
	check_link_refused(f, "-wal", "-wal is a symbolic link");
	unlink(f->path);
	check_link_refused(f, "-shm", "-shm is a symbolic link");
}

static void
test_hard_link_refused(void **state)
{
	struct fixture *f = *state;
	struct queue_conf qc = { f->path, 1000, QUEUE_DROP_OLDEST,
	    QUEUE_SYNC_NORMAL };
	struct queue *q = NULL;
	char other[300], err[512];

	snprintf(other, sizeof(other), "%s/other", f->dir);
	write_file(other, "", 0, 0);
	assert_int_equal(link(other, f->path), 0);
	assert_int_equal(queue_open(&q, &qc, NULL, err, sizeof(err)),
	    QUEUE_ERR_IO);
	assert_non_null(strstr(err, "more than one hard link"));
	assert_int_equal(count_bytes(other), 0);
	unlink(other);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_open_mode_and_empty),
		T(test_missing_directory),
		T(test_sync_levels),
		T(test_corrupt_garbage),
		T(test_corrupt_pages),
		T(test_corrupt_twice),
		T(test_future_schema_refused),
		T(test_foreign_db_refused),
		T(test_symlinks_refused),
		T(test_hard_link_refused),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
