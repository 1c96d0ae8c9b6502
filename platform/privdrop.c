/* privdrop: become an unprivileged user; see privdrop.h. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "platform/privdrop.h"

int
privdrop_to(const char *user, const char *const *own, size_t n, char *err,
    size_t errlen)
{
	struct passwd *pw;
	size_t i;

	errno = 0;
	if ((pw = getpwnam(user)) == NULL) {
		snprintf(err, errlen, "user %s: %s", user, errno != 0 ?
		    strerror(errno) : "no such user");
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (chown(own[i], pw->pw_uid, pw->pw_gid) == -1 &&
		    errno != ENOENT) {
			snprintf(err, errlen, "user %s: chown %s: %s", user,
			    own[i], strerror(errno));
			return -1;
		}
	}
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
	return 0;
}
