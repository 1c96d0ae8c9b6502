/* SPDX-License-Identifier: ISC */
/*
 * privdrop: leave root for an unprivileged user once everything that needs
 * root is open (queue, control socket, TLS keys).
 *
 * The files the daemon keeps writing or will remove are handed to the user
 * first: the queue file with its -wal and -shm companions, and the control
 * socket. The directory of the queue must be writable by the user for
 * SQLite to create and remove its companions (systemd's StateDirectory or
 * the OpenWrt package's /tmp/pushrelay do that).
 *
 * That directory is the user's, so whatever stands at those paths may have
 * been put there by the user. Nothing is changed by path: each file is
 * opened without following a symbolic link, checked through its descriptor
 * (a regular file with one link, or a socket) and handed over through that
 * descriptor. After the switch the process sets PR_SET_NO_NEW_PRIVS, so no
 * setuid binary or file capability can give anything back.
 *
 * Thread: call before any thread is started.
 */
#ifndef PUSHRELAY_PRIVDROP_H
#define PUSHRELAY_PRIVDROP_H

#include <stddef.h>

/* What a file handed to the user must be. */
enum privdrop_kind {
	PRIVDROP_FILE,		/* a regular file with exactly one link */
	PRIVDROP_SOCKET,	/* a UNIX socket */
};

/* One file to hand over. */
struct privdrop_own {
	const char *path;	/* borrowed; a missing file is skipped */
	const char *option;	/* the option that names it, for errors */
	enum privdrop_kind kind;
};

/*
 * privdrop_to: become user (borrowed), handing the n files of own[]
 * (borrowed) to it first. A file that is a symbolic link or not of its
 * kind is not touched and fails the call. Returns 0, or -1 with
 * "user NAME: what: why" in err. After an error the caller must not go
 * on: the identity may be half switched. Blocks only on local files.
 */
int privdrop_to(const char *user, const struct privdrop_own *own, size_t n,
    char *err, size_t errlen);

#endif
