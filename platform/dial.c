/* dial: non-blocking TCP connect to a broker, maybe via a proxy; dial.h. */
#include <arpa/inet.h>
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
#define DIAL_STATUS_MAX	128	/* the proxy's status line, as quoted */
#define DIAL_QUOTE_MAX	64	/* a malformed address, as quoted */

/*
 * What a state's step function returns besides DIAL_AGAIN (wait), DIAL_OK
 * (connected) and a failure code: go on with the next address.
 */
#define DIAL_NEXT	2

_Static_assert(DIAL_ERR_LEN >= DIAL_TEXT_MAX + 40,
    "DIAL_ERR_LEN cannot hold a failure's text and the count");

/* One state per step of an attempt; dial_step() has one function each. */
enum dial_state {
	DIAL_S_IDLE,		/* nothing started, or the result was given */
	DIAL_S_RESOLVING,	/* a resolver thread works on the host */
	DIAL_S_CONNECTING,	/* connect() in progress: wait for POLLOUT */
	DIAL_S_PROXY_SEND,	/* writing the CONNECT request */
	DIAL_S_PROXY_RECV,	/* reading the proxy's reply head */
	DIAL_S_FAILED		/* all failed; dial_step() reports it */
};

struct dial_target {
	char address[DIAL_ADDRESS_MAX + 1];	/* as configured */
	char host[DIAL_HOST_MAX + 1];		/* without brackets */
	char port[6];
};

/*
 * One resolution, shared by the loop and its thread. refs counts the
 * holders (2 while both hold it); whoever drops the last reference frees
 * res, closes efd and frees the job, so neither side ever touches freed
 * memory. The thread publishes gai, sys_errno and res through done
 * (release); the loop reads them only after seeing done (acquire), then
 * takes res over and leaves NULL in its place.
 */
struct dial_job {
	atomic_int refs;
	atomic_int done;
	int efd;			/* eventfd; readable once done */
	int gai;			/* getaddrinfo()'s return */
	int sys_errno;			/* errno, for EAI_SYSTEM */
	struct addrinfo *res;
	char host[DIAL_HOST_MAX + 1];
	char port[6];
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

/* Append to buf (cap bytes, *len used so far), truncating quietly. */
static void __attribute__((format(printf, 4, 5)))
dial_append(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (*len + 1 >= cap)
		return;
	va_start(ap, fmt);
	k = vsnprintf(buf + *len, cap - *len, fmt, ap);
	va_end(ap);
	if (k > 0)
		*len += (size_t)k < cap - *len ? (size_t)k : cap - *len - 1;
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

static void
dial_base64(const uint8_t *in, size_t n, char *out)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint32_t v;
	size_t i;

	for (i = 0; i + 2 < n; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		*out++ = tab[v >> 18];
		*out++ = tab[(v >> 12) & 63];
		*out++ = tab[(v >> 6) & 63];
		*out++ = tab[v & 63];
	}
	if (i < n) {
		v = (uint32_t)in[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		*out++ = tab[v >> 18];
		*out++ = tab[(v >> 12) & 63];
		*out++ = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		*out++ = '=';
	}
	*out = '\0';
}

/*
 * Whether c may appear in a host: a name is letters, digits, '-', '.'
 * and '_'; an IPv6 literal in brackets also ':' and '%' (a zone). This
 * keeps CR, LF and spaces out of the CONNECT request.
 */
static int
dial_host_char(char c, int bracketed)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_')
		return 1;
	return bracketed && (c == ':' || c == '%');
}

/* Whether host is an IPv6 literal (getaddrinfo() converts, never asks). */
static int
dial_is_v6(const char *host)
{
	struct addrinfo hints, *res;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET6;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST;
	if (getaddrinfo(host, NULL, &hints, &res) != 0)
		return 0;
	freeaddrinfo(res);
	return 1;
}

/* The port after the last ':', 1-65535 in decimal; 0 when it is not. */
static unsigned long
dial_parse_port(const char *p)
{
	unsigned long v = 0;

	if (*p == '\0' || strlen(p) > 5)
		return 0;
	for (; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return 0;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	return v <= 65535 ? v : 0;
}

/*
 * Split s into t: "host:port", "[v6]:port" or "v4:port". Returns NULL, or
 * what is wrong (static text).
 */
static const char *
dial_parse(const char *s, struct dial_target *t)
{
	const char *colon, *hs = s, *he, *p;
	int br = s[0] == '[';
	unsigned long port;

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
	for (p = hs; p < he; p++)
		if (!dial_host_char(*p, br))
			return "invalid character in host";
	if ((port = dial_parse_port(colon + 1)) == 0)
		return "port must be 1-65535";
	memcpy(t->host, hs, (size_t)(he - hs));
	t->host[he - hs] = '\0';
	if (br && !dial_is_v6(t->host))
		return "not an IPv6 address in brackets";
	snprintf(t->port, sizeof(t->port), "%lu", port);
	snprintf(t->address, sizeof(t->address), "%s", s);
	return NULL;
}

/* The Basic token for the proxy, "" without a user. */
static int
dial_load_auth(struct dial *d, const struct dial_conf *c, char *err,
    size_t errlen)
{
	const char *user = c->proxy_user, *pass = c->proxy_pass;
	uint8_t cred[2 * DIAL_CRED_MAX + 2];
	size_t ul, pl;

	d->auth[0] = '\0';
	if (user == NULL || user[0] == '\0')
		return DIAL_OK;
	if (pass == NULL)
		pass = "";
	ul = strlen(user);
	pl = strlen(pass);
	if (ul > DIAL_CRED_MAX || pl > DIAL_CRED_MAX) {
		dial_errf(err, errlen, "proxy credentials: longer than %d bytes",
		    DIAL_CRED_MAX);
		return DIAL_ERR_INVAL;
	}
	if (strchr(user, ':') != NULL) {
		dial_errf(err, errlen, "proxy user: contains ':'");
		return DIAL_ERR_INVAL;
	}
	memcpy(cred, user, ul);
	cred[ul] = ':';
	memcpy(cred + ul + 1, pass, pl);
	dial_base64(cred, ul + 1 + pl, d->auth);
	explicit_bzero(cred, sizeof(cred));
	return DIAL_OK;
}

/* Copy and check the configuration into d. */
static int
dial_load(struct dial *d, const struct dial_conf *c, char *err,
    size_t errlen)
{
	char q[DIAL_QUOTE_MAX + 1];
	const char *why;
	size_t i;

	if (c->address == NULL || c->n_address == 0) {
		dial_errf(err, errlen, "broker: no address");
		return DIAL_ERR_INVAL;
	}
	if (c->connect_timeout_ms < 0 || c->keepalive_s > DIAL_KEEPIDLE_MAX) {
		dial_errf(err, errlen, "broker: %s out of range",
		    c->connect_timeout_ms < 0 ? "connect timeout" : "keepalive");
		return DIAL_ERR_INVAL;
	}
	if ((d->targets = calloc(c->n_address, sizeof(*d->targets))) == NULL) {
		dial_errf(err, errlen, "broker: out of memory");
		return DIAL_ERR_NOMEM;
	}
	d->n_targets = c->n_address;
	for (i = 0; i < c->n_address; i++) {
		if (c->address[i] == NULL) {
			dial_errf(err, errlen, "broker: address %zu is NULL", i);
			return DIAL_ERR_INVAL;
		}
		if ((why = dial_parse(c->address[i], &d->targets[i])) == NULL)
			continue;
		dial_quote(c->address[i], SIZE_MAX, q, DIAL_QUOTE_MAX);
		dial_errf(err, errlen, "broker address \"%s\": %s", q, why);
		return DIAL_ERR_INVAL;
	}
	d->use_proxy = c->proxy != NULL && c->proxy[0] != '\0';
	if (d->use_proxy && (why = dial_parse(c->proxy, &d->proxy)) != NULL) {
		dial_errf(err, errlen, "proxy: %s (want host:port)", why);
		return DIAL_ERR_INVAL;
	}
	d->timeout_ms = c->connect_timeout_ms > 0 ? c->connect_timeout_ms :
	    DIAL_TIMEOUT_MS;
	d->keepalive_s = c->keepalive_s;
	d->user_timeout_ms = c->user_timeout_ms;
	return d->use_proxy ? dial_load_auth(d, c, err, errlen) : DIAL_OK;
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
	struct addrinfo hints;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	j->gai = getaddrinfo(j->host, j->port, &hints, &j->res);
	if (j->gai == EAI_SYSTEM)
		j->sys_errno = errno;
	if (j->gai != 0)
		j->res = NULL;
	atomic_store_explicit(&j->done, 1, memory_order_release);
	/* Cannot fail short of a counter overflow; the loop also polls done. */
	(void)eventfd_write(j->efd, 1);
	dial_job_put(j);
	return NULL;
}

/* The target whose host is resolved and connected to: proxy or broker. */
static const struct dial_target *
dial_peer(const struct dial *d)
{
	return d->use_proxy ? &d->proxy : &d->targets[d->cur];
}

/*
 * Record a failed attempt: its code and "broker ADDR[: proxy P][ at IP]: "
 * followed by the text; close its socket. Returns rc.
 */
static int __attribute__((format(printf, 3, 4)))
dial_fail(struct dial *d, int rc, const char *fmt, ...)
{
	size_t len = 0;
	va_list ap;

	dial_append(d->last, sizeof(d->last), &len, "broker %s",
	    d->targets[d->cur].address);
	if (d->use_proxy)
		dial_append(d->last, sizeof(d->last), &len, ": proxy %s",
		    d->proxy.address);
	if (d->ip[0] != '\0' && !d->numeric)
		dial_append(d->last, sizeof(d->last), &len, " at %s", d->ip);
	dial_append(d->last, sizeof(d->last), &len, ": ");
	va_start(ap, fmt);
	vsnprintf(d->last + len, sizeof(d->last) - len, fmt, ap);
	va_end(ap);
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
	d->tried++;
	d->last_rc = rc;
	return rc;
}

/* Hand the host to a resolver thread. Returns 1 (RESOLVING) or -1. */
static int
dial_spawn(struct dial *d, const struct dial_target *t, int64_t now_ms)
{
	struct dial_job *j;
	pthread_attr_t attr;
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
	memcpy(j->host, t->host, sizeof(j->host));
	memcpy(j->port, t->port, sizeof(j->port));
	atomic_init(&j->refs, 2);
	atomic_init(&j->done, 0);
	/* The thread inherits the mask: signals stay with the loop. */
	sigfillset(&all);
	if ((rc = pthread_attr_init(&attr)) == 0) {
		(void)pthread_attr_setdetachstate(&attr,
		    PTHREAD_CREATE_DETACHED);
		(void)pthread_sigmask(SIG_SETMASK, &all, &old);
		rc = pthread_create(&tid, &attr, dial_resolver, j);
		(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
		(void)pthread_attr_destroy(&attr);
	}
	if (rc != 0) {
		close(j->efd);
		free(j);
		return dial_fail(d, DIAL_ERR_SYS, "resolve: pthread_create: %s",
		    strerror(rc));
	}
	d->job = j;
	d->state = DIAL_S_RESOLVING;
	d->deadline_ms = now_ms + d->timeout_ms;
	return 1;
}

/*
 * Resolve the current peer: an IP address at once, a name in a thread.
 * Returns 0 (ai_next is set), 1 (RESOLVING) or -1 (failed, recorded).
 */
static int
dial_resolve(struct dial *d, int64_t now_ms)
{
	const struct dial_target *t = dial_peer(d);
	struct addrinfo hints;
	int rc;

	d->ip[0] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	rc = getaddrinfo(t->host, t->port, &hints, &d->ai_head);
	if (rc == 0) {
		d->numeric = 1;
		d->ai_next = d->ai_head;
		return 0;
	}
	d->ai_head = NULL;
	d->numeric = 0;
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

/* Start a connect to the next resolved address: 0 (CONNECTING) or -1. */
static int
dial_connect_next(struct dial *d, int64_t now_ms)
{
	struct addrinfo *ai = d->ai_next;
	int e;

	d->ai_next = ai->ai_next;
	if (getnameinfo(ai->ai_addr, ai->ai_addrlen, d->ip, sizeof(d->ip),
	    NULL, 0, NI_NUMERICHOST) != 0)
		snprintf(d->ip, sizeof(d->ip), "?");
	d->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, ai->ai_protocol);
	if (d->fd == -1)
		return dial_fail(d, DIAL_ERR_SYS, "socket: %s", strerror(errno));
	/* EINTR: the connect goes on in the background, as EINPROGRESS. */
	if (connect(d->fd, ai->ai_addr, ai->ai_addrlen) == -1 &&
	    errno != EINPROGRESS && errno != EINTR) {
		e = errno;
		return dial_fail(d, DIAL_ERR_CONNECT, "connect: %s",
		    strerror(e));
	}
	/* Even a connect done at once is reported through POLLOUT. */
	d->state = DIAL_S_CONNECTING;
	d->deadline_ms = now_ms + d->timeout_ms;
	return 0;
}

/*
 * After a failure, or at the start: the next address the current host
 * resolved to, else the next configured address; FAILED when none is
 * left. Leaves the state RESOLVING, CONNECTING or FAILED.
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
		if (dial_resolve(d, now_ms) > 0)
			return;
	}
}

/* RESOLVING: take the thread's result once it is done. */
static int
dial_on_resolved(struct dial *d)
{
	struct dial_job *j = d->job;
	int gai, se;

	if (atomic_load_explicit(&j->done, memory_order_acquire) == 0)
		return DIAL_AGAIN;
	d->ai_head = d->ai_next = j->res;
	j->res = NULL;
	gai = j->gai;
	se = j->sys_errno;
	dial_job_put(j);
	d->job = NULL;
	if (gai != 0)
		return dial_fail(d, DIAL_ERR_RESOLVE, "resolve: %s",
		    gai == EAI_SYSTEM ? strerror(se) : gai_strerror(gai));
	if (d->ai_head == NULL)
		return dial_fail(d, DIAL_ERR_RESOLVE, "resolve: no address");
	return DIAL_NEXT;	/* connect to what it found */
}

/* A socket option to set when on is true. */
struct dial_opt {
	int on;
	int level;
	int name;
	int value;
	const char *text;
};

/* TCP_NODELAY, keepalive and user timeout on the connected socket. */
static int
dial_set_options(struct dial *d)
{
	int ks = d->keepalive_s, ut = d->user_timeout_ms;
	const struct dial_opt opt[] = {
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

/* The CONNECT request for the current broker address, into d->req. */
static void
dial_build_request(struct dial *d)
{
	const char *a = d->targets[d->cur].address;
	int n;

	/* Addresses hold no CR, LF or space: dial_parse() saw to that. */
	if (d->auth[0] != '\0')
		n = snprintf(d->req, sizeof(d->req), "CONNECT %s HTTP/1.1\r\n"
		    "Host: %s\r\nProxy-Authorization: Basic %s\r\n\r\n", a, a,
		    d->auth);
	else
		n = snprintf(d->req, sizeof(d->req), "CONNECT %s HTTP/1.1\r\n"
		    "Host: %s\r\n\r\n", a, a);
	/* DIAL_REQ_MAX holds the longest request; n never exceeds it. */
	d->req_len = n > 0 ? (size_t)n : 0;
	d->req_off = 0;
}

/* The reply head is complete and NUL-terminated: a 2xx opens the tunnel. */
static int
dial_proxy_status(struct dial *d)
{
	char line[DIAL_STATUS_MAX + 1];
	const char *h = d->head;

	dial_quote(h, strcspn(h, "\r\n"), line, DIAL_STATUS_MAX);
	if (strncmp(h, "HTTP/1.", 7) == 0 && strspn(h + 7, "0123456789") == 1 &&
	    h[8] == ' ' && strspn(h + 9, "0123456789") == 3 && h[9] == '2')
		return DIAL_OK;
	/* The proxy answered: its other addresses would answer the same. */
	d->ai_next = NULL;
	if (strncmp(h, "HTTP/1.", 7) != 0 || h[8] != ' ' ||
	    strspn(h + 9, "0123456789") != 3)
		return dial_fail(d, DIAL_ERR_PROXY, "not an HTTP reply: \"%s\"",
		    line);
	return dial_fail(d, DIAL_ERR_PROXY, "%s", line);
}

/*
 * PROXY_RECV: read the reply head and not one byte more, since the
 * broker's first bytes may follow it in the same segment: peek, look for
 * the blank line in what is there, consume up to its end.
 */
static int
dial_on_recv(struct dial *d)
{
	size_t from, take;
	ssize_t n;
	char *end;

	for (;;) {
		if (d->head_len == DIAL_HEAD_MAX)
			return dial_fail(d, DIAL_ERR_PROXY,
			    "reply head longer than %d bytes", DIAL_HEAD_MAX);
		n = recv(d->fd, d->head + d->head_len,
		    DIAL_HEAD_MAX - d->head_len, MSG_PEEK);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return DIAL_AGAIN;
		if (n == -1)
			return dial_fail(d, DIAL_ERR_PROXY, "read: %s",
			    strerror(errno));
		if (n == 0)
			return dial_fail(d, DIAL_ERR_PROXY, "closed the "
			    "connection before the end of its reply");
		/* The blank line may straddle what came before. */
		from = d->head_len > 3 ? d->head_len - 3 : 0;
		end = memmem(d->head + from, d->head_len + (size_t)n - from,
		    "\r\n\r\n", 4);
		take = end == NULL ? (size_t)n :
		    (size_t)(end + 4 - d->head) - d->head_len;
		if (recv(d->fd, d->head + d->head_len, take, 0) != (ssize_t)take)
			return dial_fail(d, DIAL_ERR_PROXY, "read: fewer bytes "
			    "than peeked");
		d->head_len += take;
		if (end != NULL) {
			d->head[d->head_len] = '\0';
			return dial_proxy_status(d);
		}
	}
}

/* PROXY_SEND: write the request, then read the reply. */
static int
dial_on_send(struct dial *d)
{
	ssize_t n;

	while (d->req_off < d->req_len) {
		n = send(d->fd, d->req + d->req_off, d->req_len - d->req_off,
		    MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
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
 * one. Both are asked whatever revents says, so a stray or lost event
 * does no harm. Once connected: options, then the proxy if there is one.
 */
static int
dial_on_connect(struct dial *d, short revents)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(int);
	int soerr = 0, rc;

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
	if ((rc = dial_set_options(d)) != DIAL_OK)
		return rc;
	if (!d->use_proxy)
		return DIAL_OK;
	dial_build_request(d);
	d->state = DIAL_S_PROXY_SEND;
	return dial_on_send(d);
}

/* The current step ran out of time: record it for the address. */
static int
dial_timeout(struct dial *d)
{
	const char *what = "connect";

	switch (d->state) {
	case DIAL_S_RESOLVING:
		dial_job_put(d->job);	/* the thread finishes on its own */
		d->job = NULL;
		what = "resolve";
		break;
	case DIAL_S_PROXY_SEND:
		what = "request";
		break;
	case DIAL_S_PROXY_RECV:
		what = "reply";
		break;
	case DIAL_S_CONNECTING:
	case DIAL_S_IDLE:
	case DIAL_S_FAILED:
		break;
	}
	return dial_fail(d, DIAL_ERR_TIMEOUT, "%s: timed out after %d ms",
	    what, d->timeout_ms);
}

/* Give the final failure to the caller; the dial becomes idle. */
static int
dial_report(struct dial *d, char *err, size_t errlen)
{
	if (d->tried > 1)
		dial_errf(err, errlen, "%s (tried %u addresses)", d->last,
		    d->tried);
	else
		dial_errf(err, errlen, "%s", d->last);
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
	if (rc == DIAL_AGAIN && now_ms >= d->deadline_ms)
		rc = dial_timeout(d);
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

/* Stop the attempt: close its socket, let go of a resolution. */
static void
dial_cancel(struct dial *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
	if (d->job != NULL)
		dial_job_put(d->job);
	d->job = NULL;
	dial_drop_addrs(d);
	explicit_bzero(d->req, sizeof(d->req));
	d->req_len = d->req_off = d->head_len = 0;
	d->state = DIAL_S_IDLE;
	d->deadline_ms = -1;
}

/* Forget the configuration; wipe the credentials. */
static void
dial_forget(struct dial *d)
{
	free(d->targets);
	d->targets = NULL;
	d->n_targets = 0;
	d->cur = d->next = 0;
	d->use_proxy = 0;
	explicit_bzero(d->auth, sizeof(d->auth));
}

int
dial_new(struct dial **out)
{
	struct dial *d;

	if ((*out = d = calloc(1, sizeof(*d))) == NULL)
		return DIAL_ERR_NOMEM;
	d->fd = -1;
	d->state = DIAL_S_IDLE;
	d->deadline_ms = -1;
	return DIAL_OK;
}

void
dial_free(struct dial *d)
{
	if (d == NULL)
		return;
	dial_cancel(d);
	dial_forget(d);
	free(d);
}

int
dial_start(struct dial *d, const struct dial_conf *c, int64_t now_ms,
    char *err, size_t errlen)
{
	int rc;

	dial_cancel(d);
	dial_forget(d);
	if ((rc = dial_load(d, c, err, errlen)) != DIAL_OK) {
		dial_forget(d);
		return rc;
	}
	d->tried = 0;
	d->last_rc = 0;
	d->last[0] = '\0';
	dial_advance(d, now_ms);
	return DIAL_AGAIN;
}

int
dial_pollfd(const struct dial *d, int *fd, short *events)
{
	switch (d->state) {
	case DIAL_S_RESOLVING:
		*fd = d->job->efd;
		*events = POLLIN;
		return 1;
	case DIAL_S_CONNECTING:
	case DIAL_S_PROXY_SEND:
		*fd = d->fd;
		*events = POLLOUT;
		return 1;
	case DIAL_S_PROXY_RECV:
		*fd = d->fd;
		*events = POLLIN;
		return 1;
	case DIAL_S_IDLE:
	case DIAL_S_FAILED:
		break;
	}
	*fd = -1;
	*events = 0;
	return 0;
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
