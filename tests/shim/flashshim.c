/* SPDX-License-Identifier: ISC */
/*
 * flashshim: an LD_PRELOAD library that makes a file system behave like
 * JFFS2 towards SQLite, and counts what SQLite writes, for the system tests
 * of the queue's journal fallback (tests/system/test_flash.py) and the
 * figures in docs/openwrt.md ("Flash").
 *
 * FLASHSHIM_NO_SHARED_MMAP=1: mmap() with MAP_SHARED and PROT_WRITE on a
 *   file fails with EINVAL, as JFFS2's generic_file_readonly_mmap does, so
 *   SQLite cannot map a -shm file.
 * FLASHSHIM_NO_SHM=1: opening a file whose name ends in "-shm" with
 *   O_CREAT fails with EACCES (a directory where only the database and its
 *   journal may be made).
 * FLASHSHIM_NO_WAL=1: the same for a file whose name ends in "-wal", so
 *   that SQLite cannot use WAL at all (the queue's fallback to a rollback
 *   journal; JFFS2 itself can create the file, but a file system or an
 *   SQLite build without WAL, SQLITE_OMIT_WAL, cannot have it either).
 * FLASHSHIM_COUNT=PATH: PATH (created, 4096 bytes) holds little-endian
 *   uint64 counters, kept in a shared mapping so that they survive kill -9:
 *   [0..3] bytes written to the database, its -wal, its -journal and its
 *   -shm; [4..7] the number of writes to each; [8] fsync and fdatasync
 *   calls; [9] -shm files created; [10] shared writable mmaps refused.
 *
 * Only files whose names contain FLASHSHIM_MATCH (default ".db") are
 * classified and counted. Test code: never built into pushrelay.
 */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SHIM_FDS	4096

enum shim_kind {
	SHIM_NONE = 0,
	SHIM_DB,
	SHIM_WAL,
	SHIM_JOURNAL,
	SHIM_SHM,
};

static unsigned char shim_fd_kind[SHIM_FDS];
static uint64_t *shim_count;
static int shim_ready;

typedef int (*open_fn)(const char *, int, ...);
typedef int (*openat_fn)(int, const char *, int, ...);
typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);
typedef int (*fd_fn)(int);
typedef void *(*mmap_fn)(void *, size_t, int, int, int, off_t);

static void
shim_init(void)
{
	const char *path;
	mmap_fn real_mmap;
	open_fn real_open;
	void *p;
	int fd;

	if (shim_ready)
		return;
	shim_ready = 1;
	if ((path = getenv("FLASHSHIM_COUNT")) == NULL || *path == '\0')
		return;
	real_open = (open_fn)dlsym(RTLD_NEXT, "open");
	real_mmap = (mmap_fn)dlsym(RTLD_NEXT, "mmap");
	if (real_open == NULL || real_mmap == NULL)
		return;
	if ((fd = real_open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1)
		return;
	if (ftruncate(fd, 4096) == 0) {
		p = real_mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED,
		    fd, 0);
		if (p != MAP_FAILED)
			shim_count = p;
	}
	close(fd);
}

static int
shim_flag(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && strcmp(v, "1") == 0;
}

static enum shim_kind
shim_classify(const char *path)
{
	const char *match = getenv("FLASHSHIM_MATCH");
	size_t n = strlen(path);

	if (match == NULL || *match == '\0')
		match = ".db";
	if (strstr(path, match) == NULL)
		return SHIM_NONE;
	if (n > 4 && strcmp(path + n - 4, "-wal") == 0)
		return SHIM_WAL;
	if (n > 4 && strcmp(path + n - 4, "-shm") == 0)
		return SHIM_SHM;
	if (n > 8 && strcmp(path + n - 8, "-journal") == 0)
		return SHIM_JOURNAL;
	return SHIM_DB;
}

static void
shim_add(int i, uint64_t n)
{
	if (shim_count != NULL)
		__atomic_add_fetch(&shim_count[i], n, __ATOMIC_RELAXED);
}

/* Before an open: refuse a -shm or -wal when asked. */
static int
shim_refuse(const char *path, int flags)
{
	enum shim_kind k = shim_classify(path);

	if ((flags & O_CREAT) != 0 && ((k == SHIM_SHM &&
	    shim_flag("FLASHSHIM_NO_SHM")) || (k == SHIM_WAL &&
	    shim_flag("FLASHSHIM_NO_WAL")))) {
		errno = EACCES;
		return 1;
	}
	return 0;
}

static void
shim_opened(int fd, const char *path, int flags)
{
	enum shim_kind k;

	if (fd < 0 || fd >= SHIM_FDS)
		return;
	k = shim_classify(path);
	shim_fd_kind[fd] = (unsigned char)k;
	if (k == SHIM_SHM && (flags & O_CREAT) != 0)
		shim_add(9, 1);
}

static int
shim_open_common(const char *sym, int dirfd, const char *path, int flags,
    mode_t mode)
{
	int fd;

	shim_init();
	if (shim_refuse(path, flags))
		return -1;
	if (dirfd == -1) {
		open_fn f = (open_fn)dlsym(RTLD_NEXT, sym);

		fd = f(path, flags, mode);
	} else {
		openat_fn f = (openat_fn)dlsym(RTLD_NEXT, sym);

		fd = f(dirfd, path, flags, mode);
	}
	shim_opened(fd, path, flags);
	return fd;
}

static mode_t
shim_mode(int flags, va_list ap)
{
	return (flags & (O_CREAT | O_TMPFILE)) != 0 ? (mode_t)va_arg(ap, int) :
	    0;
}

int
open(const char *path, int flags, ...)
{
	va_list ap;
	mode_t m;

	va_start(ap, flags);
	m = shim_mode(flags, ap);
	va_end(ap);
	return shim_open_common("open", -1, path, flags, m);
}

int
open64(const char *path, int flags, ...)
{
	va_list ap;
	mode_t m;

	va_start(ap, flags);
	m = shim_mode(flags, ap);
	va_end(ap);
	return shim_open_common("open64", -1, path, flags, m);
}

int
openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t m;

	va_start(ap, flags);
	m = shim_mode(flags, ap);
	va_end(ap);
	return shim_open_common("openat", dirfd, path, flags, m);
}

int
openat64(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t m;

	va_start(ap, flags);
	m = shim_mode(flags, ap);
	va_end(ap);
	return shim_open_common("openat64", dirfd, path, flags, m);
}

static void
shim_wrote(int fd, ssize_t n)
{
	int k;

	if (n <= 0 || fd < 0 || fd >= SHIM_FDS ||
	    (k = shim_fd_kind[fd]) == SHIM_NONE)
		return;
	shim_add(k - 1, (uint64_t)n);
	shim_add(k + 3, 1);
}

ssize_t
write(int fd, const void *buf, size_t len)
{
	static write_fn f;
	ssize_t n;

	if (f == NULL)
		f = (write_fn)dlsym(RTLD_NEXT, "write");
	n = f(fd, buf, len);
	shim_wrote(fd, n);
	return n;
}

ssize_t
pwrite(int fd, const void *buf, size_t len, off_t off)
{
	static pwrite_fn f;
	ssize_t n;

	if (f == NULL)
		f = (pwrite_fn)dlsym(RTLD_NEXT, "pwrite");
	n = f(fd, buf, len, off);
	shim_wrote(fd, n);
	return n;
}

ssize_t
pwrite64(int fd, const void *buf, size_t len, off_t off)
{
	static pwrite_fn f;
	ssize_t n;

	if (f == NULL)
		f = (pwrite_fn)dlsym(RTLD_NEXT, "pwrite64");
	n = f(fd, buf, len, off);
	shim_wrote(fd, n);
	return n;
}

static int
shim_sync(const char *sym, int fd)
{
	fd_fn f = (fd_fn)dlsym(RTLD_NEXT, sym);

	if (fd >= 0 && fd < SHIM_FDS && shim_fd_kind[fd] != SHIM_NONE)
		shim_add(8, 1);
	return f(fd);
}

int
fsync(int fd)
{
	return shim_sync("fsync", fd);
}

int
fdatasync(int fd)
{
	return shim_sync("fdatasync", fd);
}

int
close(int fd)
{
	static fd_fn f;

	if (f == NULL)
		f = (fd_fn)dlsym(RTLD_NEXT, "close");
	if (fd >= 0 && fd < SHIM_FDS)
		shim_fd_kind[fd] = SHIM_NONE;
	return f(fd);
}

static void *
shim_mmap(const char *sym, void *addr, size_t len, int prot, int flags,
    int fd, off_t off)
{
	mmap_fn f = (mmap_fn)dlsym(RTLD_NEXT, sym);

	if (fd >= 0 && (flags & MAP_SHARED) != 0 && (prot & PROT_WRITE) != 0 &&
	    shim_flag("FLASHSHIM_NO_SHARED_MMAP")) {
		shim_add(10, 1);
		errno = EINVAL;
		return MAP_FAILED;
	}
	return f(addr, len, prot, flags, fd, off);
}

void *
mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return shim_mmap("mmap", addr, len, prot, flags, fd, off);
}

void *
mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return shim_mmap("mmap64", addr, len, prot, flags, fd, off);
}
