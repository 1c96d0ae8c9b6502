/*
 * tunnel_req: the parts of the tunnel (platform/tunnel.h) around its
 * connection state machine: the secret and the CONNECT request (parsing,
 * credentials, targets, refusal replies), resolving the broker's address,
 * the listening socket and the plain TCP transport.
 */
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#define TUNNEL_INTERNAL
#include "platform/tunnel.h"

#define TUNNEL_SECRET_BYTES	16
#define TUNNEL_USER		"pushrelay"

static const char *const tunnel_errstr[] = {
	[0] = "success",
	[-TUNNEL_ERR_SYS] = "system error",
	[-TUNNEL_ERR_NOMEM] = "out of memory",
	[-TUNNEL_ERR_INVAL] = "invalid argument",
};
_Static_assert(sizeof(tunnel_errstr) / sizeof(tunnel_errstr[0]) ==
    TUNNEL_ERR__COUNT + 1, "tunnel_errstr does not match enum tunnel_err");

const char *
tunnel_strerror(int err)
{
	if (err > 0 || -err > TUNNEL_ERR__COUNT)
		return "unknown tunnel error";
	return tunnel_errstr[-err];
}

/* Per refusal: the text, and the reply sent before closing (or NULL). */
static const struct {
	const char *text;
	const char *reply;
} tunnel_refusals[] = {
	[TUNNEL_REF_REQUEST] = { "not a valid CONNECT request",
	    "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n" },
	[TUNNEL_REF_AUTH] = { "missing or wrong proxy credentials",
	    "HTTP/1.1 407 Proxy Authentication Required\r\n"
	    "Proxy-Authenticate: Basic realm=\"pushrelay\"\r\n"
	    "Connection: close\r\n\r\n" },
	[TUNNEL_REF_TARGET] = { "target not allowed",
	    "HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n" },
	[TUNNEL_REF_BUSY] = { "another connection is active", NULL },
	[TUNNEL_REF_TIMEOUT] = { "no complete request in time", NULL },
};
_Static_assert(sizeof(tunnel_refusals) / sizeof(tunnel_refusals[0]) ==
    TUNNEL_REF__COUNT, "tunnel_refusals does not match enum tunnel_refusal");

const char *
tunnel_refusal_str(enum tunnel_refusal r)
{
	if ((unsigned)r >= TUNNEL_REF__COUNT)
		return "unknown refusal";
	return tunnel_refusals[r].text;
}

const char *
tunnel_req_reply(enum tunnel_refusal r)
{
	return (unsigned)r < TUNNEL_REF__COUNT ? tunnel_refusals[r].reply :
	    NULL;
}

void
tunnel_req_base64(const uint8_t *in, size_t n, char *out)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i;
	uint32_t v;

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

int
tunnel_req_split(const char *s, size_t len, char *host, uint16_t *port)
{
	const char *colon, *end = s + len, *hs = s, *he;
	unsigned long v = 0;
	const char *p;

	for (colon = end; colon > s && colon[-1] != ':'; colon--)
		continue;
	if (colon == s || colon == end || end - colon > 5)
		return -1;
	he = colon - 1;
	if (*s == '[') {
		hs = s + 1;
		if (he > hs && he[-1] == ']')
			he--;
	}
	if (he <= hs || (size_t)(he - hs) > TUNNEL_HOST_MAX)
		return -1;
	for (p = colon; p < end; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v == 0 || v > 65535)
		return -1;
	memcpy(host, hs, (size_t)(he - hs));
	host[he - hs] = '\0';
	*port = (uint16_t)v;
	return 0;
}

/* Same host: IP addresses by value, names without case. */
static int
tunnel_same_host(const char *a, const char *b)
{
	uint8_t x[16], y[16];

	if (inet_pton(AF_INET6, a, x) == 1 && inet_pton(AF_INET6, b, y) == 1)
		return memcmp(x, y, 16) == 0;
	if (inet_pton(AF_INET, a, x) == 1 && inet_pton(AF_INET, b, y) == 1)
		return memcmp(x, y, 4) == 0;
	return strcasecmp(a, b) == 0;
}

static int
tunnel_target_allowed(const struct tunnel_target *tg, size_t n,
    const char *host, uint16_t port)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (tg[i].port == port && tunnel_same_host(tg[i].host, host))
			return 1;
	return 0;
}

/* Compare the presented token with ours in time independent of it. */
static int
tunnel_auth_ok(const char *auth, size_t auth_len, const char *tok,
    size_t len)
{
	unsigned d = len != auth_len;
	size_t i;

	for (i = 0; i < auth_len; i++)
		d |= (uint8_t)auth[i] ^ (uint8_t)(i < len ? tok[i] : 0);
	return d == 0;
}

/* Find the header called name in head (lines end in CRLF); value or NULL. */
static const char *
tunnel_header(const char *head, const char *name, size_t *vlen)
{
	size_t nl = strlen(name);
	const char *line, *eol, *v;

	for (line = strstr(head, "\r\n"); line != NULL; line = eol) {
		line += 2;
		if ((eol = strstr(line, "\r\n")) == NULL || eol == line)
			return NULL;
		if ((size_t)(eol - line) <= nl || line[nl] != ':' ||
		    strncasecmp(line, name, nl) != 0)
			continue;
		for (v = line + nl + 1; v < eol && (*v == ' ' || *v == '\t');)
			v++;
		*vlen = (size_t)(eol - v);
		while (*vlen > 0 && (v[*vlen - 1] == ' ' || v[*vlen - 1] == '\t'))
			(*vlen)--;
		return v;
	}
	return NULL;
}

void
tunnel_req_addr_str(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;

		inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
		port = ntohs(sin->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof(a));
		port = ntohs(sin6->sin6_port);
	}
	snprintf(buf, len, strchr(a, ':') != NULL ? "[%s]:%u" : "%s:%u", a,
	    port);
}

int
tunnel_req_check(const char *head, const struct tunnel_target *tg,
    size_t ntg, const char *auth, size_t auth_len, char *host, uint16_t *port)
{
	const char *sp, *eol, *tok;
	size_t len;

	eol = strstr(head, "\r\n");
	if (strncmp(head, "CONNECT ", 8) != 0 ||
	    (sp = strchr(head + 8, ' ')) == NULL || sp > eol ||
	    strncmp(sp, " HTTP/1.", 8) != 0 ||
	    tunnel_req_split(head + 8, (size_t)(sp - head - 8), host, port) < 0)
		return TUNNEL_REF_REQUEST;
	tok = tunnel_header(head, "Proxy-Authorization", &len);
	if (tok == NULL || len < 6 || strncasecmp(tok, "Basic ", 6) != 0)
		return TUNNEL_REF_AUTH;
	for (tok += 6, len -= 6; len > 0 && *tok == ' '; tok++, len--)
		continue;
	if (!tunnel_auth_ok(auth, auth_len, tok, len))
		return TUNNEL_REF_AUTH;
	if (!tunnel_target_allowed(tg, ntg, host, *port))
		return TUNNEL_REF_TARGET;
	return -1;
}

int
tunnel_req_resolve(const char *host, uint16_t port, struct sockaddr_storage *ss,
    socklen_t *sslen, char *why, size_t whylen)
{
	struct sockaddr_in *sin = (void *)ss;
	struct sockaddr_in6 *sin6 = (void *)ss;
	struct addrinfo hints, *res;
	char serv[8];
	int rc;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		*sslen = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		*sslen = sizeof(*sin6);
		return 0;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(serv, sizeof(serv), "%u", (unsigned)port);
	if ((rc = getaddrinfo(host, serv, &hints, &res)) != 0) {
		snprintf(why, whylen, "resolve: %s", gai_strerror(rc));
		return -1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sslen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

int
tunnel_req_secret(const char *name, uint16_t port, char *url, char *auth,
    char *err, size_t errlen)
{
	uint8_t raw[TUNNEL_SECRET_BYTES];
	char hex[2 * TUNNEL_SECRET_BYTES + 1], cred[64];
	ssize_t n;
	size_t i;

	do
		n = getrandom(raw, sizeof(raw), 0);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(raw)) {
		snprintf(err, errlen, "tunnel %s: getrandom: %s", name,
		    n < 0 ? strerror(errno) : "short read");
		return TUNNEL_ERR_SYS;
	}
	for (i = 0; i < sizeof(raw); i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	snprintf(cred, sizeof(cred), TUNNEL_USER ":%s", hex);
	tunnel_req_base64((const uint8_t *)cred, strlen(cred), auth);
	snprintf(url, TUNNEL_URL_MAX, "http://" TUNNEL_USER ":%s@"
	    "127.0.0.1:%u", hex, (unsigned)port);
	explicit_bzero(raw, sizeof(raw));
	explicit_bzero(hex, sizeof(hex));
	explicit_bzero(cred, sizeof(cred));
	return TUNNEL_OK;
}

int
tunnel_req_listen(const char *name, int *fdp, uint16_t *port, char *err,
    size_t errlen)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	const char *what = "socket";

	*fdp = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (*fdp < 0)
		goto fail;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = 0;
	what = "bind 127.0.0.1";
	if (bind(*fdp, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		goto fail;
	what = "listen";
	if (listen(*fdp, 4) < 0)
		goto fail;
	what = "getsockname";
	if (getsockname(*fdp, (struct sockaddr *)&sin, &len) < 0)
		goto fail;
	*port = ntohs(sin.sin_port);
	return TUNNEL_OK;
fail:
	snprintf(err, errlen, "tunnel %s: %s: %s", name, what,
	    strerror(errno));
	return TUNNEL_ERR_SYS;
}

void
tunnel_req_nodelay(int fd)
{
	int one = 1;

	/* Small MQTT packets must not wait for Nagle; failure is harmless. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

int
tunnel_req_connect(const char *host, uint16_t port, int *fdp, char *why,
    size_t whylen)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	int fd;

	*fdp = -1;
	if (tunnel_req_resolve(host, port, &ss, &sslen, why, whylen) < 0)
		return -1;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd < 0) {
		snprintf(why, whylen, "socket: %s", strerror(errno));
		return -1;
	}
	tunnel_req_nodelay(fd);
	if (connect(fd, (struct sockaddr *)&ss, sslen) == 0) {
		*fdp = fd;
		return 0;
	}
	if (errno == EINPROGRESS) {
		*fdp = fd;
		return 1;
	}
	snprintf(why, whylen, "connect: %s", strerror(errno));
	close(fd);
	return -1;
}

ssize_t
tunnel_tcp_read(void *ctx, uint8_t *buf, size_t cap)
{
	int fd = (int)(intptr_t)ctx;
	ssize_t n;

	do
		n = recv(fd, buf, cap, 0);
	while (n < 0 && errno == EINTR);
	if (n >= 0)
		return n;
	return errno == EAGAIN || errno == EWOULDBLOCK ? TUNNEL_IO_AGAIN :
	    TUNNEL_IO_ERR;
}

ssize_t
tunnel_tcp_write(void *ctx, const uint8_t *buf, size_t len)
{
	int fd = (int)(intptr_t)ctx;
	ssize_t n;

	do
		n = send(fd, buf, len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n > 0)
		return n;
	return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ?
	    TUNNEL_IO_AGAIN : TUNNEL_IO_ERR;
}

static void
tunnel_tcp_close(void *ctx)
{
	close((int)(intptr_t)ctx);
}

const struct tunnel_transport_ops tunnel_tcp_ops = {
	.read = tunnel_tcp_read,
	.write = tunnel_tcp_write,
	.want_write = NULL,
	.close = tunnel_tcp_close,
};
