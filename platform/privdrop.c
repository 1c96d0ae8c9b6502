/* SPDX-License-Identifier: ISC */
/* privdrop: become an unprivileged user; see privdrop.h. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "platform/privdrop.h"

/* Why sb is not what kind asks for, or NULL when it is. */
static const char *
privdrop_mismatch(const struct stat *sb, enum privdrop_kind kind)
{
	if (S_ISLNK(sb->st_mode))
		return "is a symbolic link";
	switch (kind) {
	case PRIVDROP_SOCKET:
		return S_ISSOCK(sb->st_mode) ? NULL : "is not a socket";
	case PRIVDROP_FILE:
		if (!S_ISREG(sb->st_mode))
			return "is not a regular file";
		return sb->st_nlink == 1 ? NULL : "has more than one hard link";
	}
	return "is of an unknown kind";	/* Not reached. */
}

/*
 * Hands one file to uid:gid through a descriptor. O_PATH opens neither a
 * socket nor a device or FIFO for I/O, and with O_NOFOLLOW it yields the
 * link itself, so fstat() sees what really stands at the path.
 */
static int
privdrop_give(const struct privdrop_own *o, const struct passwd *pw,
    char *err, size_t errlen)
{
	struct stat sb;
	const char *why;
	int fd, e;

	if ((fd = open(o->path, O_PATH | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		if ((e = errno) == ENOENT)
			return 0;
		snprintf(err, errlen, "user %s: option %s %s: %s",
		    pw->pw_name, o->option, o->path, strerror(e));
		return -1;
	}
	if (fstat(fd, &sb) == -1) {
		e = errno;
		close(fd);
		snprintf(err, errlen, "user %s: option %s %s: fstat: %s",
		    pw->pw_name, o->option, o->path, strerror(e));
		return -1;
	}
	if ((why = privdrop_mismatch(&sb, o->kind)) != NULL) {
		close(fd);
		snprintf(err, errlen, "user %s: option %s %s: %s; not handing "
		    "it over", pw->pw_name, o->option, o->path, why);
		return -1;
	}
	if (fchownat(fd, "", pw->pw_uid, pw->pw_gid, AT_EMPTY_PATH) == -1) {
		e = errno;
		close(fd);
		snprintf(err, errlen, "user %s: option %s %s: chown: %s",
		    pw->pw_name, o->option, o->path, strerror(e));
		return -1;
	}
	close(fd);
	return 0;
}

int
privdrop_to(const char *user, const struct privdrop_own *own, size_t n,
    char *err, size_t errlen)
{
	struct passwd *pw;
	size_t i;

	errno = 0;
	if ((pw = getpwnam(user)) == NULL) {
		snprintf(err, errlen, "user %s: %s", user, errno != 0 ?
		    strerror(errno) : "no such user");
		return -1;
	}
	for (i = 0; i < n; i++)
		if (privdrop_give(&own[i], pw, err, errlen) != 0)
			return -1;
	if (initgroups(pw->pw_name, pw->pw_gid) == -1 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1) {
		snprintf(err, errlen, "user %s: cannot switch: %s", user,
		    strerror(errno));
		return -1;
	}
	/* Paranoia, as OpenBSD daemons do: root must be gone for good. */
	if (pw->pw_uid != 0 && (setuid(0) == 0 || geteuid() == 0)) {
		snprintf(err, errlen, "user %s: root could be regained", user);
		return -1;
	}
	/* The relay never executes anything; make sure nothing it runs gains. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
		snprintf(err, errlen, "user %s: no_new_privs: %s", user,
		    strerror(errno));
		return -1;
	}
	return 0;
}
