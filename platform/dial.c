/* SPDX-License-Identifier: ISC */
/* dial: non-blocking TCP connect to a broker, maybe via a proxy; dial.h. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "platform/dial.h"

#define DIAL_AUTH_MAX	(4 * ((2 * DIAL_CRED_MAX + 1 + 2) / 3) + 1)
#define DIAL_REQ_MAX	(2 * DIAL_ADDRESS_MAX + DIAL_AUTH_MAX + 64)
#define DIAL_TEXT_MAX	1024	/* one failure's text */
#define DIAL_QUOTE_MAX	128	/* an address or status line, as quoted */
#define DIAL_NEXT	2	/* a step's result: try the next address */

/* What a host may hold; keeps CR, LF and spaces out of the request. */
#define DIAL_NAME_CHARS	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" \
			"0123456789-._"
#define DIAL_V6_CHARS	DIAL_NAME_CHARS ":%"

_Static_assert(2 * DIAL_ADDRESS_MAX + INET6_ADDRSTRLEN + 32 < DIAL_TEXT_MAX,
    "DIAL_TEXT_MAX leaves no room after a failure's prefix");
_Static_assert(DIAL_ERR_LEN >= DIAL_TEXT_MAX + 40,
    "DIAL_ERR_LEN cannot hold a failure's text and the count");

/*
 * One state per step of an attempt, each with a function that returns
 * DIAL_AGAIN, DIAL_OK, or DIAL_NEXT or a failure (go on with the next).
 */
enum dial_state {
	DIAL_S_IDLE,		/* nothing started, or the result was given */
	DIAL_S_RESOLVING,	/* a resolver thread works on the host */
	DIAL_S_CONNECTING,	/* connect() in progress */
	DIAL_S_PROXY_SEND,	/* writing the CONNECT request */
	DIAL_S_PROXY_RECV,	/* reading the proxy's reply head */
	DIAL_S_FAILED		/* all failed; dial_step() reports it */
};

/* Per state: what the loop polls for, and what a timeout interrupted. */
static const struct {
	short events;
	const char *what;
} dial_states[] = {
	[DIAL_S_RESOLVING] = { POLLIN, "resolve" },	/* the eventfd */
	[DIAL_S_CONNECTING] = { POLLOUT, "connect" },
	[DIAL_S_PROXY_SEND] = { POLLOUT, "request" },
	[DIAL_S_PROXY_RECV] = { POLLIN, "reply" },
	[DIAL_S_FAILED] = { 0, NULL },	/* sizes the table */
};

struct dial_target {
	char address[DIAL_ADDRESS_MAX + 1];	/* as configured */
	char host[DIAL_HOST_MAX + 1];		/* without brackets */
	char port[6];
};

/*
 * One resolution, shared by the loop and its thread; the last of the two
 * to let go (refs) frees it. The thread publishes gai, sys_errno and res
 * with done (release); the loop reads them after done (acquire).
 */
struct dial_job {
	atomic_int refs;
	atomic_int done;
	int efd;			/* eventfd; readable once done */
	int gai;			/* getaddrinfo()'s return */
	int sys_errno;			/* errno, for EAI_SYSTEM */
	struct addrinfo *res;
	struct dial_target t;		/* a copy: the thread's own */
};

struct dial {
	enum dial_state state;
	struct dial_target *targets;	/* the configured addresses */
	size_t n_targets;
	size_t next;			/* the next target to resolve */
	size_t cur;			/* the target being tried */
	struct dial_target proxy;
	int use_proxy;
	char auth[DIAL_AUTH_MAX];	/* base64("user:pass"), or "" */
	int timeout_ms;
	int keepalive_s;
	int user_timeout_ms;
	struct dial_job *job;		/* RESOLVING: the loop's reference */
	struct addrinfo *ai_head;	/* what the current host resolved to */
	struct addrinfo *ai_next;	/* the next of those to try */
	int numeric;			/* the current host is an IP address */
	char ip[INET6_ADDRSTRLEN];	/* the IP address being tried, or "" */
	int fd;				/* the socket being connected, or -1 */
	int64_t deadline_ms;		/* of the current step; -1 when idle */
	char req[DIAL_REQ_MAX];		/* the CONNECT request */
	size_t req_len;
	size_t req_off;			/* bytes of req sent */
	char head[DIAL_HEAD_MAX + 1];	/* the proxy's reply head so far */
	size_t head_len;
	unsigned tried;			/* attempts that failed */
	int last_rc;			/* the last failure's code */
	char last[DIAL_TEXT_MAX];	/* and its text */
};

static const char *const dial_errstr[] = {
	[0] = "success",
	[-DIAL_ERR_RESOLVE] = "cannot resolve address",
	[-DIAL_ERR_CONNECT] = "cannot connect",
	[-DIAL_ERR_PROXY] = "proxy refused or failed",
	[-DIAL_ERR_TIMEOUT] = "timed out",
	[-DIAL_ERR_NOMEM] = "out of memory",
	[-DIAL_ERR_INVAL] = "invalid argument",
	[-DIAL_ERR_SYS] = "system error",
};
_Static_assert(sizeof(dial_errstr) / sizeof(dial_errstr[0]) ==
    DIAL_ERR__COUNT + 1, "dial_errstr does not match enum dial_err");

const char *
dial_strerror(int err)
{
	if (err == DIAL_AGAIN)
		return "in progress";
	if (err > 0 || -err > DIAL_ERR__COUNT)
		return "unknown dial error";
	return dial_errstr[-err];
}

/* Fill a caller's error buffer, which may be NULL. */
static void __attribute__((format(printf, 3, 4)))
dial_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Copy s for quoting in a text: at most max bytes, '?' for unprintables. */
static void
dial_quote(const char *s, size_t n, char *out, size_t max)
{
	size_t i;

	for (i = 0; i < n && i < max && s[i] != '\0'; i++)
		out[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	out[i] = '\0';
}

/* out holds 4 * ((n + 2) / 3) + 1 bytes. */
static void
dial_base64(const uint8_t *in, size_t n, char *out)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint32_t v;
	size_t i, k;

	for (i = 0; i < n; i += 3) {
		v = (uint32_t)in[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		/* Sextet k carries data while k <= n - i; '=' pads the rest. */
		for (k = 0; k < 4; k++, v <<= 6)
			*out++ = k > n - i ? '=' : tab[(v >> 18) & 63];
	}
	*out = '\0';
}

/* getaddrinfo() for TCP. With AI_NUMERICHOST it never blocks. */
static int
dial_gai(const char *host, const char *port, int family, int flags,
    struct addrinfo **res)
{
	struct addrinfo hints;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = family;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = flags;
	return getaddrinfo(host, port, &hints, res);
}

/*
 * Split s into t: "host:port", "[v6]:port" or "v4:port". Returns NULL, or
 * what is wrong (static text).
 */
static const char *
dial_parse(const char *s, struct dial_target *t)
{
	const char *colon, *hs = s, *he;
	int br = s[0] == '[';
	struct addrinfo *res;
	unsigned long port;
	size_t n;

	if (strlen(s) > DIAL_ADDRESS_MAX)
		return "too long";
	if ((colon = strrchr(s, ':')) == NULL)
		return "no \":port\"";
	he = colon;
	if (br) {
		/* colon > s: s[0] is '['. */
		if (colon[-1] != ']')
			return "no \"]\" before the port";
		hs = s + 1;
		he = colon - 1;
	}
	if (he == hs)
		return "no host";
	if (!br && memchr(hs, ':', (size_t)(he - hs)) != NULL)
		return "an IPv6 address needs brackets";
	/* The span ends at he at the latest: ':' or ']' is there. */
	if (strspn(hs, br ? DIAL_V6_CHARS : DIAL_NAME_CHARS) <
	    (size_t)(he - hs))
		return "invalid character in host";
	n = strlen(colon + 1);
	if (n == 0 || n > 5 || strspn(colon + 1, "0123456789") != n ||
	    (port = strtoul(colon + 1, NULL, 10)) == 0 || port > 65535)
		return "port must be 1-65535";
	memcpy(t->host, hs, (size_t)(he - hs));
	t->host[he - hs] = '\0';
	if (br && dial_gai(t->host, NULL, AF_INET6, AI_NUMERICHOST, &res) != 0)
		return "not an IPv6 address in brackets";
	if (br)
		freeaddrinfo(res);
	snprintf(t->port, sizeof(t->port), "%lu", port);
	snprintf(t->address, sizeof(t->address), "%s", s);
	return NULL;
}

/* The Basic token for the proxy into d->auth, "" without a user. */
static int
dial_load_auth(struct dial *d, const char *user, const char *pass)
{
	char cred[2 * DIAL_CRED_MAX + 2];
	int n;

	if (pass == NULL)
		pass = "";
	if (user == NULL || user[0] == '\0')
		return DIAL_OK;
	if (strlen(user) > DIAL_CRED_MAX || strlen(pass) > DIAL_CRED_MAX ||
	    strchr(user, ':') != NULL)
		return DIAL_ERR_INVAL;
	n = snprintf(cred, sizeof(cred), "%s:%s", user, pass);
	dial_base64((const uint8_t *)cred, (size_t)n, d->auth);
	explicit_bzero(cred, sizeof(cred));
	return DIAL_OK;
}

/* Copy and check the configuration into d. */
static int
dial_load(struct dial *d, const struct dial_conf *c, char *err,
    size_t errlen)
{
	char q[DIAL_QUOTE_MAX + 1];
	const char *why, *a;
	size_t i;

	if (c->address == NULL || c->n_address == 0) {
		dial_errf(err, errlen, "broker: no address");
		return DIAL_ERR_INVAL;
	}
	if (c->connect_timeout_ms < 0 || c->keepalive_s > DIAL_KEEPIDLE_MAX) {
		dial_errf(err, errlen, "broker: connect timeout %d ms or "
		    "keepalive %d s out of range", c->connect_timeout_ms,
		    c->keepalive_s);
		return DIAL_ERR_INVAL;
	}
	if ((d->targets = calloc(c->n_address, sizeof(*d->targets))) == NULL) {
		dial_errf(err, errlen, "broker: out of memory");
		return DIAL_ERR_NOMEM;
	}
	d->n_targets = c->n_address;
	for (i = 0; i < c->n_address; i++) {
		a = c->address[i] != NULL ? c->address[i] : "";
		if ((why = dial_parse(a, &d->targets[i])) == NULL)
			continue;
		dial_quote(a, SIZE_MAX, q, DIAL_QUOTE_MAX);
		dial_errf(err, errlen, "broker address \"%s\": %s", q, why);
		return DIAL_ERR_INVAL;
	}
	d->use_proxy = c->proxy != NULL && c->proxy[0] != '\0';
	if (d->use_proxy && (why = dial_parse(c->proxy, &d->proxy)) != NULL) {
		/* Not quoted: a proxy URL may carry a password. */
		dial_errf(err, errlen, "proxy: %s (want host:port)", why);
		return DIAL_ERR_INVAL;
	}
	if (d->use_proxy && dial_load_auth(d, c->proxy_user,
	    c->proxy_pass) != DIAL_OK) {
		dial_errf(err, errlen, "proxy credentials: user with ':', or "
		    "longer than %d bytes", DIAL_CRED_MAX);
		return DIAL_ERR_INVAL;
	}
	d->timeout_ms = c->connect_timeout_ms > 0 ? c->connect_timeout_ms :
	    DIAL_TIMEOUT_MS;
	d->keepalive_s = c->keepalive_s;
	d->user_timeout_ms = c->user_timeout_ms;
	return DIAL_OK;
}

/* Drop one reference to a job; the last holder frees it. Any thread. */
static void
dial_job_put(struct dial_job *j)
{
	if (atomic_fetch_sub_explicit(&j->refs, 1, memory_order_acq_rel) != 1)
		return;
	if (j->res != NULL)
		freeaddrinfo(j->res);
	close(j->efd);
	free(j);
}

/* The resolver thread: touches its job only, never the struct dial. */
static void *
dial_resolver(void *arg)
{
	struct dial_job *j = arg;

	j->gai = dial_gai(j->t.host, j->t.port, AF_UNSPEC, AI_NUMERICSERV,
	    &j->res);
	if (j->gai == EAI_SYSTEM)
		j->sys_errno = errno;
	atomic_store_explicit(&j->done, 1, memory_order_release);
	/* Cannot fail short of a counter overflow; the loop also polls done. */
	(void)eventfd_write(j->efd, 1);
	dial_job_put(j);
	return NULL;
}

/*
 * Record a failed attempt: its code and "broker ADDR[: proxy P][ at IP]: "
 * followed by the text; close its socket. Returns rc.
 */
static int __attribute__((format(printf, 3, 4)))
dial_fail(struct dial *d, int rc, const char *fmt, ...)
{
	int at = d->ip[0] != '\0' && !d->numeric;
	va_list ap;
	int k;

	k = snprintf(d->last, sizeof(d->last), "broker %s%s%s%s%s: ",
	    d->targets[d->cur].address, d->use_proxy ? ": proxy " : "",
	    d->use_proxy ? d->proxy.address : "", at ? " at " : "",
	    at ? d->ip : "");
	va_start(ap, fmt);
	vsnprintf(d->last + k, sizeof(d->last) - (size_t)k, fmt, ap);
	va_end(ap);
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
	d->tried++;
	d->last_rc = rc;
	return rc;
}

/* Hand host t to a resolver thread. Returns 1 (RESOLVING) or a failure. */
static int
dial_spawn(struct dial *d, const struct dial_target *t, int64_t now_ms)
{
	struct dial_job *j;
	sigset_t all, old;
	pthread_t tid;
	int rc;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		return dial_fail(d, DIAL_ERR_NOMEM, "resolve: out of memory");
	if ((j->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		rc = errno;
		free(j);
		return dial_fail(d, DIAL_ERR_SYS, "resolve: eventfd: %s",
		    strerror(rc));
	}
	j->t = *t;
	atomic_init(&j->refs, 2);
	atomic_init(&j->done, 0);
	/* The thread inherits the mask: signals stay with the loop. */
	sigfillset(&all);
	(void)pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&tid, NULL, dial_resolver, j);
	(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		close(j->efd);
		free(j);
		return dial_fail(d, DIAL_ERR_SYS, "resolve: pthread_create: %s",
		    strerror(rc));
	}
	(void)pthread_detach(tid);
	d->job = j;
	d->state = DIAL_S_RESOLVING;
	d->deadline_ms = now_ms + d->timeout_ms;
	return 1;
}

/*
 * Resolve the peer (the proxy, else the broker): an IP address at once, a
 * name in a thread. Returns 0 (ai_next set), 1 (RESOLVING) or a failure.
 */
static int
dial_resolve(struct dial *d, int64_t now_ms)
{
	const struct dial_target *t = d->use_proxy ? &d->proxy :
	    &d->targets[d->cur];
	int rc;

	d->ip[0] = '\0';
	rc = dial_gai(t->host, t->port, AF_UNSPEC, AI_NUMERICHOST |
	    AI_NUMERICSERV, &d->ai_head);
	d->numeric = rc == 0;
	if (rc == 0) {
		d->ai_next = d->ai_head;
		return 0;
	}
	if (rc != EAI_NONAME)
		return dial_fail(d, DIAL_ERR_RESOLVE, "resolve: %s",
		    gai_strerror(rc));
	return dial_spawn(d, t, now_ms);
}

/* Forget the current host's addresses. */
static void
dial_drop_addrs(struct dial *d)
{
	if (d->ai_head != NULL)
		freeaddrinfo(d->ai_head);
	d->ai_head = d->ai_next = NULL;
}

/* Start a connect to the next resolved address: 0 (CONNECTING) or < 0. */
static int
dial_connect_next(struct dial *d, int64_t now_ms)
{
	struct addrinfo *ai = d->ai_next;

	d->ai_next = ai->ai_next;
	if (getnameinfo(ai->ai_addr, ai->ai_addrlen, d->ip, sizeof(d->ip),
	    NULL, 0, NI_NUMERICHOST) != 0)
		snprintf(d->ip, sizeof(d->ip), "?");
	d->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, ai->ai_protocol);
	if (d->fd == -1)
		return dial_fail(d, DIAL_ERR_SYS, "socket: %s",
		    strerror(errno));
	/* EINTR: the connect goes on in the background, as EINPROGRESS. */
	if (connect(d->fd, ai->ai_addr, ai->ai_addrlen) == -1 &&
	    errno != EINPROGRESS && errno != EINTR)
		return dial_fail(d, DIAL_ERR_CONNECT, "connect: %s",
		    strerror(errno));
	/* Even a connect done at once is reported through POLLOUT. */
	d->state = DIAL_S_CONNECTING;
	d->deadline_ms = now_ms + d->timeout_ms;
	return 0;
}

/*
 * At the start or after a failure: the host's next address, else the next
 * configured one; leaves the state RESOLVING, CONNECTING or FAILED.
 */
static void
dial_advance(struct dial *d, int64_t now_ms)
{
	for (;;) {
		if (d->ai_next != NULL) {
			if (dial_connect_next(d, now_ms) == 0)
				return;
			continue;
		}
		dial_drop_addrs(d);
		if (d->next >= d->n_targets) {
			d->state = DIAL_S_FAILED;
			d->deadline_ms = now_ms;	/* report at once */
			return;
		}
		d->cur = d->next++;
		if (dial_resolve(d, now_ms) == 1)
			return;
	}
}

/* RESOLVING: take the thread's result once it is done. */
static int
dial_on_resolved(struct dial *d)
{
	struct dial_job *j = d->job;

	if (atomic_load_explicit(&j->done, memory_order_acquire) == 0)
		return DIAL_AGAIN;
	d->ai_head = d->ai_next = j->res;	/* NULL after a failure */
	j->res = NULL;
	if (j->gai != 0)
		(void)dial_fail(d, DIAL_ERR_RESOLVE, "resolve: %s",
		    j->gai == EAI_SYSTEM ? strerror(j->sys_errno) :
		    gai_strerror(j->gai));
	else if (d->ai_head == NULL)
		(void)dial_fail(d, DIAL_ERR_RESOLVE, "resolve: no address");
	dial_job_put(j);
	d->job = NULL;
	return d->ai_head != NULL ? DIAL_NEXT : d->last_rc;
}

/* TCP_NODELAY, keepalive and user timeout on the connected socket. */
static int
dial_set_options(struct dial *d)
{
	int ks = d->keepalive_s, ut = d->user_timeout_ms;
	const struct {
		int on, level, name, value;
		const char *text;
	} opt[] = {
		{ 1, IPPROTO_TCP, TCP_NODELAY, 1, "TCP_NODELAY" },
		{ ks > 0, SOL_SOCKET, SO_KEEPALIVE, 1, "SO_KEEPALIVE" },
		{ ks > 0, IPPROTO_TCP, TCP_KEEPIDLE, ks, "TCP_KEEPIDLE" },
		{ ks > 0, IPPROTO_TCP, TCP_KEEPINTVL, ks / 3 > 1 ? ks / 3 : 1,
		    "TCP_KEEPINTVL" },
		{ ks > 0, IPPROTO_TCP, TCP_KEEPCNT, 3, "TCP_KEEPCNT" },
		{ ut > 0, IPPROTO_TCP, TCP_USER_TIMEOUT, ut,
		    "TCP_USER_TIMEOUT" },
	};
	size_t i;

	for (i = 0; i < sizeof(opt) / sizeof(opt[0]); i++)
		if (opt[i].on && setsockopt(d->fd, opt[i].level, opt[i].name,
		    &opt[i].value, sizeof(opt[i].value)) == -1)
			return dial_fail(d, DIAL_ERR_SYS, "setsockopt %s: %s",
			    opt[i].text, strerror(errno));
	return DIAL_OK;
}

/* The reply head is complete and NUL-terminated: a 2xx opens the tunnel. */
static int
dial_proxy_status(struct dial *d)
{
	char line[DIAL_QUOTE_MAX + 1];
	const char *h = d->head;
	int http = strncmp(h, "HTTP/1.", 7) == 0 &&
	    strspn(h + 7, "0123456789") == 1 && h[8] == ' ' &&
	    strspn(h + 9, "0123456789") == 3;

	if (http && h[9] == '2')
		return DIAL_OK;
	/* The proxy answered: its other addresses would answer the same. */
	d->ai_next = NULL;
	dial_quote(h, strcspn(h, "\r\n"), line, DIAL_QUOTE_MAX);
	return dial_fail(d, DIAL_ERR_PROXY, "%s%s%s", http ? "" :
	    "not an HTTP reply: \"", line, http ? "" : "\"");
}

/*
 * PROXY_RECV: read the reply head a byte at a time, so as not to take the
 * broker's first bytes, which may share its segment. A head is a few dozen
 * bytes, read once per connection.
 */
static int
dial_on_recv(struct dial *d)
{
	ssize_t n;

	while (d->head_len < DIAL_HEAD_MAX) {
		n = recv(d->fd, d->head + d->head_len, 1, 0);
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == EINTR))
			return DIAL_AGAIN;
		if (n <= 0)
			return dial_fail(d, DIAL_ERR_PROXY, "read: %s", n == 0 ?
			    "closed before the end of its reply" :
			    strerror(errno));
		if (++d->head_len >= 4 &&
		    memcmp(d->head + d->head_len - 4, "\r\n\r\n", 4) == 0) {
			d->head[d->head_len] = '\0';
			return dial_proxy_status(d);
		}
	}
	return dial_fail(d, DIAL_ERR_PROXY, "reply head longer than %d bytes",
	    DIAL_HEAD_MAX);
}

/* PROXY_SEND: write the request, then read the reply. */
static int
dial_on_send(struct dial *d)
{
	ssize_t n;

	while (d->req_off < d->req_len) {
		n = send(d->fd, d->req + d->req_off, d->req_len - d->req_off,
		    MSG_NOSIGNAL);
		/* EINTR too: the socket stays writable, poll() says so. */
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == EINTR))
			return DIAL_AGAIN;
		if (n == -1)
			return dial_fail(d, DIAL_ERR_PROXY, "write: %s",
			    strerror(errno));
		d->req_off += (size_t)n;
	}
	explicit_bzero(d->req, sizeof(d->req));	/* it holds the token */
	d->state = DIAL_S_PROXY_RECV;
	d->head_len = 0;
	return dial_on_recv(d);
}

/*
 * CONNECTING: SO_ERROR tells a failed connect, getpeername() a finished
 * one, whatever revents says (a stray or lost event does no harm). Once
 * connected: the options, then the CONNECT request if there is a proxy.
 */
static int
dial_on_connect(struct dial *d, short revents)
{
	const char *a = d->targets[d->cur].address;
	int soerr = 0, rc, auth = d->auth[0] != '\0';
	struct sockaddr_storage ss;
	socklen_t len = sizeof(int);

	if (getsockopt(d->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == -1)
		soerr = errno;
	if (soerr != 0)
		return dial_fail(d, DIAL_ERR_CONNECT, "connect: %s",
		    strerror(soerr));
	len = sizeof(ss);
	if (getpeername(d->fd, (struct sockaddr *)&ss, &len) == -1) {
		if ((revents & (POLLERR | POLLHUP)) != 0)
			return dial_fail(d, DIAL_ERR_CONNECT,
			    "connect: connection failed");
		return DIAL_AGAIN;	/* still in progress */
	}
	if ((rc = dial_set_options(d)) != DIAL_OK || !d->use_proxy)
		return rc;
	/* No CR, LF or space in a: dial_parse() saw to that. */
	rc = snprintf(d->req, sizeof(d->req), "CONNECT %s HTTP/1.1\r\n"
	    "Host: %s\r\n%s%s%s\r\n", a, a, auth ?
	    "Proxy-Authorization: Basic " : "", d->auth, auth ? "\r\n" : "");
	d->req_len = (size_t)rc;	/* DIAL_REQ_MAX holds the longest */
	d->req_off = 0;
	d->state = DIAL_S_PROXY_SEND;
	return dial_on_send(d);
}

/* Give the final failure to the caller; the dial becomes idle. */
static int
dial_report(struct dial *d, char *err, size_t errlen)
{
	char count[40] = "";

	if (d->tried > 1)
		snprintf(count, sizeof(count), " (tried %u addresses)",
		    d->tried);
	dial_errf(err, errlen, "%s%s", d->last, count);
	d->state = DIAL_S_IDLE;
	d->deadline_ms = -1;
	return d->last_rc < 0 ? d->last_rc : DIAL_ERR_CONNECT;
}

int
dial_step(struct dial *d, short revents, int64_t now_ms, int *fd_out,
    char *err, size_t errlen)
{
	int rc = DIAL_AGAIN;

	*fd_out = -1;
	switch (d->state) {
	case DIAL_S_IDLE:
		dial_errf(err, errlen, "broker: no connection attempt running");
		return DIAL_ERR_INVAL;
	case DIAL_S_RESOLVING:
		rc = dial_on_resolved(d);
		break;
	case DIAL_S_CONNECTING:
		rc = dial_on_connect(d, revents);
		break;
	case DIAL_S_PROXY_SEND:
		rc = dial_on_send(d);
		break;
	case DIAL_S_PROXY_RECV:
		rc = dial_on_recv(d);
		break;
	case DIAL_S_FAILED:
		return dial_report(d, err, errlen);
	}
	/* A result that came in time wins over the deadline. */
	if (rc == DIAL_AGAIN && now_ms >= d->deadline_ms) {
		if (d->job != NULL)
			dial_job_put(d->job);	/* the thread ends alone */
		d->job = NULL;
		rc = dial_fail(d, DIAL_ERR_TIMEOUT, "%s: timed out after %d ms",
		    dial_states[d->state].what, d->timeout_ms);
	}
	if (rc == DIAL_OK) {
		*fd_out = d->fd;
		d->fd = -1;
		dial_drop_addrs(d);
		d->state = DIAL_S_IDLE;
		d->deadline_ms = -1;
		return DIAL_OK;
	}
	if (rc != DIAL_AGAIN)
		dial_advance(d, now_ms);
	if (d->state == DIAL_S_FAILED)
		return dial_report(d, err, errlen);
	return DIAL_AGAIN;
}

/*
 * Stop the attempt (close its socket, let go of a resolution) and forget
 * the configuration, wiping the credentials. d is idle afterwards.
 */
static void
dial_reset(struct dial *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
	if (d->job != NULL)
		dial_job_put(d->job);
	d->job = NULL;
	dial_drop_addrs(d);
	explicit_bzero(d->req, sizeof(d->req));
	explicit_bzero(d->auth, sizeof(d->auth));
	free(d->targets);
	d->targets = NULL;
	d->n_targets = d->cur = d->next = 0;
	d->tried = 0;
	d->state = DIAL_S_IDLE;
	d->deadline_ms = -1;
}

int
dial_new(struct dial **out)
{
	struct dial *d;

	if ((*out = d = calloc(1, sizeof(*d))) == NULL)
		return DIAL_ERR_NOMEM;
	d->fd = -1;
	d->deadline_ms = -1;
	return DIAL_OK;
}

void
dial_free(struct dial *d)
{
	if (d != NULL)
		dial_reset(d);
	free(d);
}

int
dial_start(struct dial *d, const struct dial_conf *c, int64_t now_ms,
    char *err, size_t errlen)
{
	int rc;

	dial_reset(d);
	if ((rc = dial_load(d, c, err, errlen)) != DIAL_OK) {
		dial_reset(d);
		return rc;
	}
	dial_advance(d, now_ms);
	return DIAL_AGAIN;
}

int
dial_pollfd(const struct dial *d, int *fd, short *events)
{
	*events = dial_states[d->state].events;
	*fd = *events == 0 ? -1 : d->state == DIAL_S_RESOLVING ?
	    d->job->efd : d->fd;
	return *events != 0;
}

int64_t
dial_deadline(const struct dial *d)
{
	return d->state == DIAL_S_IDLE ? -1 : d->deadline_ms;
}

const char *
dial_host(const struct dial *d)
{
	return d->n_targets > 0 ? d->targets[d->cur].host : "";
}

const char *
dial_address(const struct dial *d)
{
	return d->n_targets > 0 ? d->targets[d->cur].address : "";
}
