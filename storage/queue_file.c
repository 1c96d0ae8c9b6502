/* SPDX-License-Identifier: ISC */
/*
 * queue_file: turns a path into a ready SQLite connection for the queue,
 * moving a corrupt file aside when needed (see storage/queue_file.h and
 * docs/queue.md).
 */
#include <sys/stat.h>

#include <sys/random.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "platform/clock.h"
#include "storage/queue_file.h"

#define QUEUE_FILE_CACHE_KIB	512	/* page cache; the RSS budget is 8 MB */
#define QUEUE_FILE_BUSY_MS	100	/* we are the only writer */
#define QUEUE_FILE_WAL_LIMIT	(4 * 1024 * 1024) /* WAL kept after use */
/*
 * Checkpoint the WAL into the database every this many WAL pages. The
 * checkpoint runs inside the commit that crosses the mark, on the main
 * loop, and holds every message behind it: SQLite's default of 1,000 pages
 * made the relay's p99 latency at 1,000 msg/s 3.8-4.4 ms (max stalls of
 * 100+ ms); 100 pages brought it to 0.8-3.0 ms at the same throughput
 * (tests/bench/run, docs/benchmarks.md). The price: a checkpoint, and with
 * sync normal an fsync, per ~100 pages instead of ~1,000.
 */
#define QUEUE_FILE_CHECKPOINT_PAGES	100
#define QUEUE_FILE_NAME_TRIES	100	/* .corrupt- names tried */

/*
 * SQLite refuses a database path that is a symbolic link (3.31 and
 * later), which closes the window between queue_file_create()'s check and
 * SQLite's own open.
 */
#ifdef SQLITE_OPEN_NOFOLLOW
#define QUEUE_FILE_NOFOLLOW	SQLITE_OPEN_NOFOLLOW
#else
#define QUEUE_FILE_NOFOLLOW	0
#endif

static const char queue_file_schema_sql[] =
	"BEGIN IMMEDIATE;"
	"CREATE TABLE IF NOT EXISTS msg ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" dir INTEGER NOT NULL CHECK (dir IN (0, 1)),"
	" priority INTEGER NOT NULL,"
	" topic TEXT NOT NULL,"
	" payload BLOB NOT NULL,"
	" props BLOB,"
	" qos INTEGER NOT NULL CHECK (qos BETWEEN 0 AND 2),"
	" retain INTEGER NOT NULL CHECK (retain IN (0, 1)),"
	" ts_ms INTEGER NOT NULL,"
	" expire_ms INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX IF NOT EXISTS msg_order ON msg (dir, priority, id);"
	"CREATE INDEX IF NOT EXISTS msg_expire ON msg (expire_ms)"
	" WHERE expire_ms > 0;"
	"PRAGMA user_version = 1;";

/*
 * Small integers per name, for whoever uses the queue's file (the
 * unpacker keeps each gateway's last batch sequence number here). Added
 * after version 1 shipped without it, so it is created on every open.
 */
static const char queue_file_meta_sql[] =
	"CREATE TABLE IF NOT EXISTS meta ("
	" key TEXT PRIMARY KEY,"
	" value INTEGER NOT NULL) WITHOUT ROWID";

/*
 * Ids of a new file start at a random number in [2^40, 2^62), not at 1:
 * an id is also the sequence number of a batch frame (docs/frame-format.md),
 * and a receiver that remembers a gateway's last number must be able to
 * tell a new queue (after a reboot with the queue on /tmp, or a corrupt
 * file moved aside) from old frames sent again. Two starts land within
 * 2^32 of each other with a probability of 2^-30.
 */
#define QUEUE_FILE_SEED_MIN	(INT64_C(1) << 40)
#define QUEUE_FILE_SEED_SPAN	((INT64_C(1) << 62) - QUEUE_FILE_SEED_MIN)

static const char *const queue_file_sync_name[] = {
	[QUEUE_SYNC_OFF] = "OFF",
	[QUEUE_SYNC_NORMAL] = "NORMAL",
	[QUEUE_SYNC_FULL] = "FULL",
};

/* The connection being set up, and the path for messages. */
struct queue_file {
	sqlite3 *db;
	const char *path;
	int last_rc;		/* SQLite's code of the last failure */
	int no_wal;		/* WAL failed here: use a rollback journal */
	int was_empty;		/* the file had no byte before this open */
	dev_t dev;		/* the file queue_file_create() checked */
	ino_t ino;
};

void
queue_file_err(const char *path, char *err, size_t errlen, const char *fmt,
    ...)
{
	va_list ap;
	int n;

	if (err == NULL || errlen == 0)
		return;
	n = snprintf(err, errlen, "queue %s: ", path);
	if (n < 0 || (size_t)n >= errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

int
queue_file_code(int sqlite_rc)
{
	switch (sqlite_rc & 0xff) {
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
	case SQLITE_FORMAT:
		return QUEUE_ERR_CORRUPT;
	case SQLITE_NOMEM:
		return QUEUE_ERR_NOMEM;
	default:
		return QUEUE_ERR_IO;
	}
}

static int
queue_file_fail(struct queue_file *f, int rc, const char *what, char *err,
    size_t errlen)
{
	const char *msg = sqlite3_errmsg(f->db);

	f->last_rc = sqlite3_extended_errcode(f->db);
	queue_file_err(f->path, err, errlen, "%s: %s", what, msg);
	/*
	 * A damaged header (schema format number out of range) is reported
	 * as a generic SQLITE_ERROR with this text, not as SQLITE_CORRUPT.
	 */
	if ((rc & 0xff) == SQLITE_ERROR &&
	    strstr(msg, "unsupported file format") != NULL)
		return QUEUE_ERR_CORRUPT;
	return queue_file_code(rc);
}

static int
queue_file_exec(struct queue_file *f, const char *sql, const char *what,
    char *err, size_t errlen)
{
	int rc;

	rc = sqlite3_exec(f->db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return queue_file_fail(f, rc, what, err, errlen);
	return QUEUE_OK;
}

/* Runs a statement and copies the first column of its first row. */
static int
queue_file_text(struct queue_file *f, const char *sql, char *out,
    size_t outlen, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	const unsigned char *t;
	int rc;

	out[0] = '\0';
	rc = sqlite3_prepare_v2(f->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return queue_file_fail(f, rc, sql, err, errlen);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && (t = sqlite3_column_text(st, 0)) != NULL)
		snprintf(out, outlen, "%s", (const char *)t);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		rc = queue_file_fail(f, rc, sql, err, errlen);
	else
		rc = QUEUE_OK;
	sqlite3_finalize(st);
	return rc;
}

/*
 * WAL without a -shm file: with locking_mode EXCLUSIVE set before the
 * first access to the WAL, SQLite keeps the WAL index in the heap and
 * never creates or maps PATH-shm (tests/system/test_flash.py checks that
 * no -shm appears). Where WAL still cannot be used (a file system or a
 * WAL left by an earlier run that needs a -shm mapping SQLite cannot
 * make, as on JFFS2), the queue falls back to a rollback journal that is
 * truncated after each commit: one more fsync per commit, no mmap.
 */
static int
queue_file_journal(struct queue_file *f, char *err, size_t errlen)
{
	char mode[16], why[256] = "";
	int rc;

	if (!f->no_wal) {
		rc = queue_file_text(f, "PRAGMA journal_mode = WAL", mode,
		    sizeof(mode), why, sizeof(why));
		if (rc == QUEUE_OK && strcmp(mode, "wal") == 0)
			return QUEUE_OK;
	}
	rc = queue_file_text(f, "PRAGMA journal_mode = TRUNCATE", mode,
	    sizeof(mode), err, errlen);
	if (rc != QUEUE_OK)
		return rc;
	if (strcmp(mode, "truncate") != 0) {
		queue_file_err(f->path, err, errlen, "cannot use WAL (%s) nor "
		    "a rollback journal (got '%s')", why[0] != '\0' ? why :
		    "refused", mode);
		return QUEUE_ERR_IO;
	}
	return QUEUE_OK;
}

static int
queue_file_pragmas(struct queue_file *f, enum queue_sync sync, char *err,
    size_t errlen)
{
	char sql[160];
	int rc;

	/*
	 * One process owns the queue: an exclusive lock, taken at the first
	 * read and kept, spares a lock and unlock call pair per transaction
	 * and keeps the WAL index in the heap instead of a shared -shm file
	 * (which JFFS2 cannot map). It must come before anything reads the
	 * file. The first statement reads the header: a foreign file fails
	 * here.
	 */
	rc = queue_file_exec(f, "PRAGMA locking_mode = EXCLUSIVE", "pragma",
	    err, errlen);
	if (rc == QUEUE_OK)
		rc = queue_file_journal(f, err, errlen);
	if (rc != QUEUE_OK)
		return rc;
	snprintf(sql, sizeof(sql), "PRAGMA synchronous = %s;"
	    "PRAGMA cache_size = -%d; PRAGMA journal_size_limit = %d;"
	    "PRAGMA wal_autocheckpoint = %d;",
	    queue_file_sync_name[sync], QUEUE_FILE_CACHE_KIB,
	    QUEUE_FILE_WAL_LIMIT, QUEUE_FILE_CHECKPOINT_PAGES);
	return queue_file_exec(f, sql, "pragma", err, errlen);
}

const char *
queue_journal(struct queue *q)
{
	static const char *const known[] = { "wal", "truncate", "delete",
		"persist", "memory", "off" };
	struct queue_file f = { queue_file_db(q), "", SQLITE_OK, 0, 0, 0, 0 };
	char mode[16];
	size_t i;

	if (queue_file_text(&f, "PRAGMA journal_mode", mode, sizeof(mode),
	    NULL, 0) != QUEUE_OK)
		return "?";
	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(mode, known[i]) == 0)
			return known[i];
	return "?";
}

static int
queue_file_check(struct queue_file *f, char *err, size_t errlen)
{
	char res[200], *nl;
	int rc;

	rc = queue_file_text(f, "PRAGMA quick_check(1)", res, sizeof(res),
	    err, errlen);
	if (rc != QUEUE_OK)
		return rc;
	if (strcmp(res, "ok") != 0) {
		/* The report spans lines; the message must stay one line. */
		while ((nl = strchr(res, '\n')) != NULL)
			*nl = ' ';
		queue_file_err(f->path, err, errlen, "quick_check: %s", res);
		return QUEUE_ERR_CORRUPT;
	}
	return QUEUE_OK;
}

/* The first id of a new file (see QUEUE_FILE_SEED_MIN), and the meta table. */
static int
queue_file_seed(struct queue_file *f, char *err, size_t errlen)
{
	uint64_t r = 0;
	char sql[128];
	int rc;

	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
		r = (uint64_t)clock_wall_ms() * 2654435761u ^
		    (uint64_t)getpid() << 32;
	snprintf(sql, sizeof(sql), "INSERT INTO sqlite_sequence (name, seq)"
	    " VALUES ('msg', %lld)", (long long)(QUEUE_FILE_SEED_MIN +
	    (int64_t)(r % (uint64_t)QUEUE_FILE_SEED_SPAN)));
	rc = queue_file_exec(f, sql, "seed ids", err, errlen);
	if (rc != QUEUE_OK)
		return rc;
	return queue_file_exec(f, queue_file_meta_sql, "create meta", err,
	    errlen);
}

/*
 * Creates the schema in an empty file and accepts our own version. Another
 * version, or a database holding someone else's tables, is refused rather
 * than altered: it may belong to a newer pushrelay or to another program.
 */
static int
queue_file_schema(struct queue_file *f, char *err, size_t errlen)
{
	char buf[32];
	long long v;
	int rc;

	rc = queue_file_text(f, "PRAGMA user_version", buf, sizeof(buf),
	    err, errlen);
	if (rc != QUEUE_OK)
		return rc;
	v = strtoll(buf, NULL, 10);
	if (v == QUEUE_FILE_SCHEMA)
		return queue_file_exec(f, queue_file_meta_sql, "create meta",
		    err, errlen);
	if (v != 0) {
		queue_file_err(f->path, err, errlen, "schema version %lld is"
		    " %s than version %d, the one this pushrelay knows;"
		    " refusing to use it", v, v > QUEUE_FILE_SCHEMA ?
		    "newer" : "other", QUEUE_FILE_SCHEMA);
		return QUEUE_ERR_IO;
	}
	rc = queue_file_text(f, "SELECT count(*) FROM sqlite_master WHERE"
	    " name NOT IN ('msg', 'msg_order', 'msg_expire', 'meta',"
	    " 'sqlite_sequence')", buf, sizeof(buf), err, errlen);
	if (rc != QUEUE_OK)
		return rc;
	if (strcmp(buf, "0") != 0) {
		queue_file_err(f->path, err, errlen, "not a pushrelay queue"
		    " (it holds other tables); refusing to use it");
		return QUEUE_ERR_IO;
	}
	rc = queue_file_exec(f, queue_file_schema_sql, "create schema", err,
	    errlen);
	if (rc == QUEUE_OK)
		rc = queue_file_seed(f, err, errlen);
	if (rc == QUEUE_OK)
		rc = queue_file_exec(f, "COMMIT", "create schema", err, errlen);
	if (rc != QUEUE_OK && sqlite3_get_autocommit(f->db) == 0)
		sqlite3_exec(f->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

static int
queue_file_symlink(const char *path, char *err, size_t errlen)
{
	queue_file_err(path, err, errlen, "is a symbolic link; option store "
	    "must name the file itself (refusing to follow it)");
	return QUEUE_ERR_IO;
}

/*
 * A file of the queue must be a regular file with one link, or absent.
 * The relay may start as root with the queue in a directory its
 * unprivileged user can write (option user): a symbolic link or a hard
 * link there would make root write, create or hand over a file of the
 * link's choosing, so neither is followed nor used (docs/config.md).
 * what: the path to name when it is not path itself (a companion).
 */
static int
queue_file_plain(const char *path, const char *what, const struct stat *sb,
    char *err, size_t errlen)
{
	if (S_ISLNK(sb->st_mode) && what == NULL)
		return queue_file_symlink(path, err, errlen);
	if (S_ISLNK(sb->st_mode)) {
		queue_file_err(path, err, errlen, "%s is a symbolic link "
		    "(refusing to follow it); remove it", what);
		return QUEUE_ERR_IO;
	}
	if (!S_ISREG(sb->st_mode) || sb->st_nlink != 1) {
		/* No link left: replaced between the open and the fstat. */
		queue_file_err(path, err, errlen, "%s %s", what != NULL ? what :
		    "it", !S_ISREG(sb->st_mode) ? "is not a regular file" :
		    sb->st_nlink == 0 ? "was replaced while being opened" :
		    "has more than one hard link (refusing to use it)");
		return QUEUE_ERR_IO;
	}
	return QUEUE_OK;
}

/*
 * The -wal and -shm that SQLite will open beside the file must be plain
 * files too. SQLite opens them with O_NOFOLLOW itself (3.40 does, and
 * tests/system/test_privdrop.py checks it), so a link planted after this
 * check makes that open fail instead of being followed.
 */
static int
queue_file_check_companions(const char *path, char *err, size_t errlen)
{
	static const char *const ext[] = { "-wal", "-shm" };
	struct stat sb;
	char *name;
	size_t i, n = strlen(path) + 5;
	int rc = QUEUE_OK, e;

	if ((name = malloc(n)) == NULL)
		return QUEUE_ERR_NOMEM;
	for (i = 0; rc == QUEUE_OK && i < 2; i++) {
		snprintf(name, n, "%s%s", path, ext[i]);
		if (lstat(name, &sb) == 0)
			rc = queue_file_plain(path, name, &sb, err, errlen);
		else if ((e = errno) != ENOENT) {
			queue_file_err(path, err, errlen, "%s: %s", name,
			    strerror(e));
			rc = QUEUE_ERR_IO;
		}
	}
	free(name);
	return rc;
}

/*
 * Whether the file at fd is an SQLite database whose header marks a
 * rollback journal (file format bytes 18 and 19 at 1; WAL writes 2). A
 * queue file in that mode comes from a run that found WAL unusable here:
 * it keeps the rollback journal, since asking for WAL would rewrite the
 * header first and only then find the WAL impossible, leaving a file no
 * connection could open.
 */
static int
queue_file_is_rollback(int fd)
{
	unsigned char h[20];

	return pread(fd, h, sizeof(h), 0) == (ssize_t)sizeof(h) &&
	    memcmp(h, "SQLite format 3", 16) == 0 && h[18] == 1 && h[19] == 1;
}

/*
 * Creates the file ourselves so that it gets mode 0600 without touching
 * the process-wide umask; SQLite gives -wal and -shm the same mode.
 * O_NOFOLLOW: a symbolic link fails with ELOOP instead of being followed;
 * O_NONBLOCK: a FIFO planted there cannot stall the start.
 */
static int
queue_file_create(struct queue_file *f, char *err, size_t errlen)
{
	struct stat sb;
	int fd, e, rc;

	fd = open(f->path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK |
	    O_NOCTTY | O_CLOEXEC, 0600);
	if (fd == -1) {
		e = errno;
		if (e == ELOOP)
			return queue_file_symlink(f->path, err, errlen);
		queue_file_err(f->path, err, errlen, "open: %s", strerror(e));
		return QUEUE_ERR_IO;
	}
	if (fstat(fd, &sb) == -1) {
		e = errno;
		close(fd);
		queue_file_err(f->path, err, errlen, "fstat: %s", strerror(e));
		return QUEUE_ERR_IO;
	}
	f->was_empty = sb.st_size == 0;
	f->dev = sb.st_dev;
	f->ino = sb.st_ino;
	f->no_wal = S_ISREG(sb.st_mode) && queue_file_is_rollback(fd);
	close(fd);
	if ((rc = queue_file_plain(f->path, NULL, &sb, err, errlen)) !=
	    QUEUE_OK)
		return rc;
	return queue_file_check_companions(f->path, err, errlen);
}

/* Opens the file in SQLite and checks it; f->db may need closing after. */
static int
queue_file_connect(struct queue_file *f, enum queue_sync sync, char *err,
    size_t errlen)
{
	int rc;

	rc = sqlite3_open_v2(f->path, &f->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX | QUEUE_FILE_NOFOLLOW, NULL);
	if (rc != SQLITE_OK) {
		if (f->db == NULL)
			return QUEUE_ERR_NOMEM;
		return queue_file_fail(f, rc, "open", err, errlen);
	}
	sqlite3_busy_timeout(f->db, QUEUE_FILE_BUSY_MS);
	if ((rc = queue_file_pragmas(f, sync, err, errlen)) != QUEUE_OK ||
	    (rc = queue_file_check(f, err, errlen)) != QUEUE_OK)
		return rc;
	return queue_file_schema(f, err, errlen);
}

/*
 * Whether a failure in WAL mode came from the WAL itself: its file could
 * not be made or opened (SQLite then finds the database read-only), or its
 * index could not be mapped. SQLite may accept "journal_mode = WAL" and
 * meet these only at the first read or write.
 */
static int
queue_file_wal_trouble(int rc)
{
#ifdef SQLITE_CANTOPEN_SYMLINK
	if (rc == SQLITE_CANTOPEN_SYMLINK)
		return 0;	/* the file itself became a link: refused */
#endif
	switch (rc & 0xff) {
	case SQLITE_READONLY:
	case SQLITE_CANTOPEN:
		return 1;
	default:
		return rc == SQLITE_IOERR_SHMOPEN || rc == SQLITE_IOERR_SHMSIZE ||
		    rc == SQLITE_IOERR_SHMMAP || rc == SQLITE_IOERR_SHMLOCK;
	}
}

/*
 * Empties the file queue_file_create() checked, and only that one: never
 * through a path that may have become a link since (the relay may start
 * as root in a directory its user can write; see queue_file_plain()).
 */
static int
queue_file_empty(struct queue_file *f, char *err, size_t errlen)
{
	struct stat sb;
	int fd, e;

	fd = open(f->path, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC);
	if (fd == -1) {
		e = errno;
		queue_file_err(f->path, err, errlen, "open: %s", strerror(e));
		return QUEUE_ERR_IO;
	}
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode) ||
	    sb.st_nlink != 1 || sb.st_dev != f->dev || sb.st_ino != f->ino) {
		close(fd);
		queue_file_err(f->path, err, errlen, "was replaced while being "
		    "opened");
		return QUEUE_ERR_IO;
	}
	if (ftruncate(fd, 0) == -1) {
		e = errno;
		close(fd);
		queue_file_err(f->path, err, errlen, "truncate: %s",
		    strerror(e));
		return QUEUE_ERR_IO;
	}
	close(fd);
	return QUEUE_OK;
}

/* Opens and checks the file. On failure f->db may still need closing. */
static int
queue_file_setup(struct queue_file *f, enum queue_sync sync, char *err,
    size_t errlen)
{
	int rc;

	if ((rc = queue_file_create(f, err, errlen)) != QUEUE_OK)
		return rc;
	f->last_rc = SQLITE_OK;
	rc = queue_file_connect(f, sync, err, errlen);
	if (rc == QUEUE_OK || f->no_wal || !f->was_empty ||
	    !queue_file_wal_trouble(f->last_rc))
		return rc;
	/*
	 * Once more with a rollback journal (queue_file_journal()). SQLite
	 * wrote a first page marked WAL into the new file, which no
	 * connection can turn back without the WAL: the file held nothing
	 * before, so it is emptied again. An existing file marked WAL
	 * stays refused (docs/openwrt.md, "Flash").
	 */
	sqlite3_close_v2(f->db);
	f->db = NULL;
	f->no_wal = 1;
	if ((rc = queue_file_empty(f, err, errlen)) != QUEUE_OK ||
	    (rc = queue_file_create(f, err, errlen)) != QUEUE_OK)
		return rc;
	f->no_wal = 1;
	return queue_file_connect(f, sync, err, errlen);
}

static int
queue_file_check_dir(const char *path, char *err, size_t errlen)
{
	struct stat sb;
	char *copy, *dir;
	int rc = QUEUE_OK, e;

	if ((copy = strdup(path)) == NULL)
		return QUEUE_ERR_NOMEM;
	dir = dirname(copy);
	if (stat(dir, &sb) == -1) {
		e = errno;
		queue_file_err(path, err, errlen, "directory %s: %s", dir,
		    e == ENOENT ? "does not exist" : strerror(e));
		rc = QUEUE_ERR_IO;
	} else if (!S_ISDIR(sb.st_mode)) {
		queue_file_err(path, err, errlen, "%s is not a directory",
		    dir);
		rc = QUEUE_ERR_IO;
	}
	free(copy);
	return rc;
}

/*
 * Moves the -wal and -shm companions along with the corrupt file, when
 * SQLite left them (closing the last connection may already have folded
 * the WAL into the file and removed it). A WAL left behind would be
 * replayed into the fresh file, so one that cannot be moved is removed.
 */
static int
queue_file_move_companions(const char *path, const char *to, char *err,
    size_t errlen)
{
	static const char *const ext[] = { "-wal", "-shm" };
	char *src, *dst;
	size_t i, n = strlen(to) + 8;
	int rc = QUEUE_OK, e;

	src = malloc(n);
	dst = malloc(n);
	for (i = 0; src != NULL && dst != NULL && i < 2; i++) {
		snprintf(src, n, "%s%s", path, ext[i]);
		snprintf(dst, n, "%s%s", to, ext[i]);
		if (rename(src, dst) == 0 || errno == ENOENT)
			continue;
		if (unlink(src) == -1 && errno != ENOENT) {
			e = errno;
			queue_file_err(path, err, errlen, "remove %s: %s", src,
			    strerror(e));
			rc = QUEUE_ERR_IO;
		}
	}
	if (src == NULL || dst == NULL)
		rc = QUEUE_ERR_NOMEM;
	free(src);
	free(dst);
	return rc;
}

/* Renames path to path.corrupt-YYYYmmddTHHMMSS (UTC), or -N after it. */
static int
queue_file_move_aside(const char *path, char *to, size_t tolen, char *err,
    size_t errlen)
{
	struct stat sb;
	struct tm tm;
	time_t now = (time_t)(clock_wall_ms() / 1000);
	char stamp[32];
	int i, e;

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", &tm);
	for (i = 0; i < QUEUE_FILE_NAME_TRIES; i++) {
		if (i == 0)
			snprintf(to, tolen, "%s.corrupt-%s", path, stamp);
		else
			snprintf(to, tolen, "%s.corrupt-%s-%d", path, stamp,
			    i);
		if (lstat(to, &sb) == -1 && errno == ENOENT)
			break;
	}
	if (i == QUEUE_FILE_NAME_TRIES) {
		queue_file_err(path, err, errlen, "no free name like %s", to);
		return QUEUE_ERR_IO;
	}
	if (rename(path, to) == -1) {
		e = errno;
		queue_file_err(path, err, errlen, "move aside to %s: %s", to,
		    strerror(e));
		return QUEUE_ERR_IO;
	}
	return queue_file_move_companions(path, to, err, errlen);
}

/*
 * The file is corrupt: move it aside and start a fresh one. err holds the
 * reason on entry and the one-line outcome on return.
 */
static int
queue_file_recover(struct queue_file *f, enum queue_sync sync, char *err,
    size_t errlen)
{
	char why[200], *to;
	size_t pfx = strlen("queue ") + strlen(f->path) + 2, tolen;
	int rc;

	snprintf(why, sizeof(why), "%.199s", strlen(err) > pfx ?
	    err + pfx : err);
	sqlite3_close_v2(f->db);
	f->db = NULL;
	tolen = strlen(f->path) + 64;
	if ((to = malloc(tolen)) == NULL)
		return QUEUE_ERR_NOMEM;
	rc = queue_file_move_aside(f->path, to, tolen, err, errlen);
	if (rc == QUEUE_OK)
		rc = queue_file_setup(f, sync, err, errlen);
	if (rc == QUEUE_OK)
		queue_file_err(f->path, err, errlen, "corrupt (%s), moved"
		    " to %s", why, to);
	free(to);
	return rc;
}

int
queue_file_open(sqlite3 **db, const char *path, enum queue_sync sync,
    int *recovered, char *err, size_t errlen)
{
	struct queue_file f = { NULL, path, SQLITE_OK, 0, 0, 0, 0 };
	char msg[512] = "";
	int rc;

	*db = NULL;
	if (recovered != NULL)
		*recovered = 0;
	rc = queue_file_check_dir(path, msg, sizeof(msg));
	if (rc == QUEUE_OK)
		rc = queue_file_setup(&f, sync, msg, sizeof(msg));
	if (rc == QUEUE_ERR_CORRUPT) {
		rc = queue_file_recover(&f, sync, msg, sizeof(msg));
		/* Corrupt twice in a row is not a file problem: give up. */
		if (rc == QUEUE_ERR_CORRUPT)
			rc = QUEUE_ERR_IO;
		if (rc == QUEUE_OK && recovered != NULL)
			*recovered = 1;
	}
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", msg);
	if (rc != QUEUE_OK) {
		sqlite3_close_v2(f.db);
		return rc;
	}
	*db = f.db;
	return QUEUE_OK;
}
