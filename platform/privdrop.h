/*
 * privdrop: leave root for an unprivileged user once everything that needs
 * root is open (queue, control socket, TLS keys).
 *
 * The files the daemon keeps writing or will remove are handed to the user
 * first: the queue file with its -wal and -shm companions, and the control
 * socket. The directory of the queue must be writable by the user for
 * SQLite to create and remove its companions (systemd's StateDirectory or
 * the OpenWrt package's /tmp/pushrelay do that). Thread: call before any
 * thread is started.
 */
#ifndef PUSHRELAY_PRIVDROP_H
#define PUSHRELAY_PRIVDROP_H

#include <stddef.h>

/*
 * privdrop_to: become user (borrowed), handing the paths in own[] (n of
 * them, borrowed; missing files are skipped) to it first. Returns 0, or -1
 * with "user NAME: what: why" in err. After an error the caller must not
 * go on: the identity may be half switched.
 */
int privdrop_to(const char *user, const char *const *own, size_t n,
    char *err, size_t errlen);

#endif
