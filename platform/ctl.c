/* SPDX-License-Identifier: ISC */
/* ctl: the control socket, server and client; see ctl.h. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "platform/ctl.h"

#define CTL_REQ_MAX	256

struct ctl_client {
	int fd;			/* -1 when the slot is free */
	size_t len;
	char req[CTL_REQ_MAX];
};

struct ctl {
	int fd;
	char *path;
	dev_t dev;		/* the socket file bind() made, so that */
	ino_t ino;		/* ctl_free() removes that and nothing else */
	struct ctl_client cl[CTL_CLIENTS_MAX];
	char reply[CTL_REPLY_MAX];
};

static int
ctl_addr(const char *path, struct sockaddr_un *sa, char *err, size_t errlen)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path)) {
		/*
		 * The precision bounds the text: on 32-bit targets GCC's
		 * -Wformat-truncation otherwise sees a path of up to SIZE_MAX
		 * bytes, past INT_MAX. The first 1024 bytes name it well enough.
		 */
		snprintf(err, errlen, "control socket %.1024s: path too long",
		    path);
		return CTL_ERR_SYS;
	}
	strcpy(sa->sun_path, path);
	return CTL_OK;
}

/*
 * The directory must not let another user replace the socket: one that
 * everyone may write is refused unless it is sticky (as /tmp is), where
 * only a file's owner may remove or rename it.
 */
static int
ctl_check_dir(const char *path, char *err, size_t errlen)
{
	struct stat sb;
	char *copy, *dir;
	int rc = CTL_OK;

	if ((copy = strdup(path)) == NULL) {
		snprintf(err, errlen, "control socket %s: out of memory", path);
		return CTL_ERR_SYS;
	}
	dir = dirname(copy);
	if (stat(dir, &sb) == -1) {
		snprintf(err, errlen, "control socket %s: directory %s: %s",
		    path, dir, strerror(errno));
		rc = CTL_ERR_SYS;
	} else if ((sb.st_mode & S_IWOTH) != 0 &&
	    (sb.st_mode & S_ISVTX) == 0) {
		snprintf(err, errlen, "control socket %s: directory %s is "
		    "writable by every user and not sticky, so anyone could "
		    "replace the socket; choose another directory (option "
		    "control)", path, dir);
		rc = CTL_ERR_SYS;
	}
	free(copy);
	return rc;
}

/*
 * Makes room for the socket. Only a socket is ever removed, and only one
 * that nobody answers on (stale); a live one gives CTL_ERR_BUSY. A
 * symbolic link or any other file is left alone and refused: a path
 * mistyped as /etc/passwd must not cost that file.
 */
static int
ctl_clear_path(const struct sockaddr_un *sa, const char *path, char *err,
    size_t errlen)
{
	struct stat sb;
	int fd, rc;

	if (lstat(path, &sb) == -1) {
		if (errno == ENOENT)
			return CTL_OK;
		snprintf(err, errlen, "control socket %s: %s", path,
		    strerror(errno));
		return CTL_ERR_SYS;
	}
	if (S_ISLNK(sb.st_mode) || !S_ISSOCK(sb.st_mode)) {
		snprintf(err, errlen, "control socket %s: %s; option control "
		    "must name the socket itself (not removing it)", path,
		    S_ISLNK(sb.st_mode) ? "is a symbolic link" :
		    "exists and is not a socket");
		return CTL_ERR_SYS;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return CTL_OK;
	rc = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	close(fd);
	if (rc == 0) {
		snprintf(err, errlen, "control socket %s: another relay is "
		    "running (it answers there)", path);
		return CTL_ERR_BUSY;
	}
	unlink(path);
	return CTL_OK;
}

/*
 * Mode 0600 from the start: Linux gives the socket file the mode of the
 * socket's inode (fchmod) less the umask, so neither a window after
 * bind() nor a chmod() by path (which would follow a link planted there)
 * is needed. The umask covers systems where fchmod on a socket does not
 * carry over.
 */
static int
ctl_bind(struct ctl *c, const struct sockaddr_un *sa, char *err,
    size_t errlen)
{
	struct stat sb;
	mode_t old;
	int rc;

	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd == -1) {
		snprintf(err, errlen, "control socket %s: socket: %s",
		    c->path, strerror(errno));
		return CTL_ERR_SYS;
	}
	if (fchmod(c->fd, 0600) == -1) {
		snprintf(err, errlen, "control socket %s: fchmod: %s",
		    c->path, strerror(errno));
		return CTL_ERR_SYS;
	}
	old = umask(0177);
	rc = bind(c->fd, (const struct sockaddr *)sa, sizeof(*sa));
	umask(old);
	if (rc == -1 || listen(c->fd, 8) == -1) {
		snprintf(err, errlen, "control socket %s: %s", c->path,
		    strerror(errno));
		return CTL_ERR_SYS;
	}
	if (lstat(c->path, &sb) == 0 && S_ISSOCK(sb.st_mode)) {
		c->dev = sb.st_dev;
		c->ino = sb.st_ino;
	}
	return CTL_OK;
}

int
ctl_listen(struct ctl **out, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa;
	struct ctl *c;
	int rc, i;

	if ((rc = ctl_addr(path, &sa, err, errlen)) != CTL_OK ||
	    (rc = ctl_check_dir(path, err, errlen)) != CTL_OK ||
	    (rc = ctl_clear_path(&sa, path, err, errlen)) != CTL_OK)
		return rc;
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->path = strdup(path)) == NULL) {
		free(c);
		snprintf(err, errlen, "control socket %s: out of memory", path);
		return CTL_ERR_SYS;
	}
	for (i = 0; i < CTL_CLIENTS_MAX; i++)
		c->cl[i].fd = -1;
	if ((rc = ctl_bind(c, &sa, err, errlen)) != CTL_OK) {
		if (c->fd != -1)
			close(c->fd);
		free(c->path);
		free(c);
		return rc;
	}
	*out = c;
	return CTL_OK;
}

static void
ctl_client_close(struct ctl_client *cl)
{
	if (cl->fd != -1)
		close(cl->fd);
	cl->fd = -1;
	cl->len = 0;
}

void
ctl_free(struct ctl *c)
{
	struct stat sb;
	int i;

	if (c == NULL)
		return;
	for (i = 0; i < CTL_CLIENTS_MAX; i++)
		ctl_client_close(&c->cl[i]);
	close(c->fd);
	/* Only the socket bind() made: whatever replaced it stays. */
	if (c->ino != 0 && lstat(c->path, &sb) == 0 && S_ISSOCK(sb.st_mode) &&
	    sb.st_dev == c->dev && sb.st_ino == c->ino)
		unlink(c->path);
	free(c->path);
	free(c);
}

size_t
ctl_pollfds(const struct ctl *c, struct pollfd *pfd)
{
	size_t n = 0;
	int i;

	pfd[n].fd = c->fd;
	pfd[n++].events = POLLIN;
	for (i = 0; i < CTL_CLIENTS_MAX; i++) {
		if (c->cl[i].fd == -1)
			continue;
		pfd[n].fd = c->cl[i].fd;
		pfd[n++].events = POLLIN;
	}
	return n;
}

static void
ctl_accept(struct ctl *c)
{
	int fd, i;

	while ((fd = accept4(c->fd, NULL, NULL,
	    SOCK_NONBLOCK | SOCK_CLOEXEC)) != -1) {
		for (i = 0; i < CTL_CLIENTS_MAX && c->cl[i].fd != -1; i++)
			;
		if (i == CTL_CLIENTS_MAX) {
			close(fd);	/* Too many at once: the client retries. */
			continue;
		}
		c->cl[i].fd = fd;
		c->cl[i].len = 0;
	}
}

/*
 * Reads what the client sent; on a full line, answers it. The reply is
 * small and the socket buffer large, so one non-blocking write suffices;
 * a client that does not read its reply simply loses it.
 */
static void
ctl_serve(struct ctl *c, struct ctl_client *cl, ctl_handler fn, void *arg)
{
	ssize_t r;
	size_t n;
	char *nl;

	r = read(cl->fd, cl->req + cl->len, sizeof(cl->req) - 1 - cl->len);
	if (r == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0) {
		ctl_client_close(cl);
		return;
	}
	cl->len += (size_t)r;
	cl->req[cl->len] = '\0';
	if ((nl = strchr(cl->req, '\n')) == NULL) {
		if (cl->len == sizeof(cl->req) - 1)
			ctl_client_close(cl);	/* Overlong request. */
		return;
	}
	*nl = '\0';
	n = fn(arg, cl->req, c->reply, sizeof(c->reply));
	if (write(cl->fd, c->reply, n) == -1) {
		/* The client went away: nothing to tell anyone. */
	}
	ctl_client_close(cl);
}

void
ctl_dispatch(struct ctl *c, const struct pollfd *pfd, size_t n,
    ctl_handler fn, void *arg)
{
	size_t k;
	int i;

	for (k = 0; k < n; k++) {
		if (pfd[k].revents == 0)
			continue;
		if (pfd[k].fd == c->fd) {
			ctl_accept(c);
			continue;
		}
		for (i = 0; i < CTL_CLIENTS_MAX; i++)
			if (c->cl[i].fd == pfd[k].fd)
				ctl_serve(c, &c->cl[i], fn, arg);
	}
}

static int
ctl_read_all(int fd, char *out, size_t cap, const char *path, char *err,
    size_t errlen)
{
	size_t len = 0;
	ssize_t r;

	while (len < cap - 1 && (r = read(fd, out + len, cap - 1 - len)) != 0) {
		if (r == -1) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "control socket %s: read: %s",
			    path, errno == EAGAIN ? "timed out" :
			    strerror(errno));
			return CTL_ERR_SYS;
		}
		len += (size_t)r;
	}
	out[len] = '\0';
	if (len == 0) {
		snprintf(err, errlen, "control socket %s: empty reply", path);
		return CTL_ERR_PROTO;
	}
	return CTL_OK;
}

int
ctl_request(const char *path, const char *req, char *out, size_t cap,
    int timeout_ms, char *err, size_t errlen)
{
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	struct sockaddr_un sa;
	char line[CTL_REQ_MAX];
	int fd, rc, n;

	if ((rc = ctl_addr(path, &sa, err, errlen)) != CTL_OK)
		return rc;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, errlen, "control socket %s: %s", path,
		    strerror(errno));
		return CTL_ERR_SYS;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	/*
	 * One send of the whole line, without SIGPIPE: a peer that answers
	 * and closes early (it need not be the relay) gives an error, not
	 * a killed client.
	 */
	n = snprintf(line, sizeof(line), "%s\n", req);
	if (n < 0 || (size_t)n >= sizeof(line)) {
		snprintf(err, errlen, "control socket %s: request too long",
		    path);
		close(fd);
		return CTL_ERR_PROTO;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
	    send(fd, line, (size_t)n, MSG_NOSIGNAL) == -1) {
		snprintf(err, errlen, "control socket %s: %s%s", path,
		    strerror(errno), errno == ENOENT || errno == ECONNREFUSED ?
		    " (is the relay running?)" : "");
		close(fd);
		return CTL_ERR_SYS;
	}
	rc = ctl_read_all(fd, out, cap, path, err, errlen);
	close(fd);
	return rc;
}
