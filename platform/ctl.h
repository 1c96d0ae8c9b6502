/* SPDX-License-Identifier: ISC */
/*
 * ctl: the control socket, a UNIX stream socket of mode 0600.
 *
 * Protocol: the client sends one request line ("status" or "status json"),
 * the server answers with one reply and closes. Replies are at most
 * CTL_REPLY_MAX bytes. The server side is polled by the main loop: it
 * hands out pollfds and dispatches ready ones to a handler that writes the
 * reply into a buffer the ctl module owns. Client side: ctl_request().
 *
 * Ownership: struct ctl owns the listening socket, its path (unlinked by
 * ctl_free) and every client connection. Thread: main loop only.
 *
 * Replies come from whatever listens at the path: `pushrelay status`
 * prints them escaped, never raw to a terminal.
 */
#ifndef PUSHRELAY_CTL_H
#define PUSHRELAY_CTL_H

#include <poll.h>
#include <stddef.h>

#define CTL_REPLY_MAX	16384
#define CTL_CLIENTS_MAX	8
#define CTL_POLLFDS	(1 + CTL_CLIENTS_MAX)

enum ctl_err {
	CTL_OK = 0,
	CTL_ERR_SYS = -1,	/* a system call failed; err says which */
	CTL_ERR_BUSY = -2,	/* another process listens on the path */
	CTL_ERR_PROTO = -3,	/* the peer's reply was malformed or empty */
};

/*
 * Handler for one request line (NUL-terminated, without the newline).
 * Writes the reply into out (cap bytes) and returns its length.
 */
typedef size_t (*ctl_handler)(void *arg, const char *req, char *out,
    size_t cap);

struct ctl;

/*
 * ctl_listen: bind path (borrowed) with mode 0600. A stale socket file
 * left by a dead process is replaced; a live one gives CTL_ERR_BUSY. A
 * path that is a symbolic link or any file but a socket is refused and
 * left alone (CTL_ERR_SYS), and so is a path in a directory that every
 * user may write without the sticky bit. Fills err with "control socket
 * PATH: why" on error.
 */
int ctl_listen(struct ctl **out, const char *path, char *err, size_t errlen);

/*
 * ctl_free: close all and unlink the socket, if the path still holds the
 * socket ctl_listen() made. NULL is a no-op.
 */
void ctl_free(struct ctl *c);

/*
 * ctl_pollfds: fill pfd (at least CTL_POLLFDS entries) with the fds to
 * poll; returns how many.
 */
size_t ctl_pollfds(const struct ctl *c, struct pollfd *pfd);

/*
 * ctl_dispatch: act on the pollfds that ctl_pollfds() filled (n of them):
 * accept new clients, read requests, call fn, send replies. Never blocks.
 */
void ctl_dispatch(struct ctl *c, const struct pollfd *pfd, size_t n,
    ctl_handler fn, void *arg);

/*
 * ctl_request: client side. Send req to the server at path and read the
 * whole reply into out (cap bytes, NUL-terminated). Blocks for at most
 * timeout_ms. Returns CTL_OK or an error with err filled.
 */
int ctl_request(const char *path, const char *req, char *out, size_t cap,
    int timeout_ms, char *err, size_t errlen);

#endif
