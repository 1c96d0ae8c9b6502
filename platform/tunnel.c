/* tunnel: a one-connection HTTP CONNECT proxy that gates Paho's acks. */
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define TUNNEL_INTERNAL
#include "platform/tunnel.h"

#define TUNNEL_ACCEPT_MAX	16	/* accepts per dispatch */
#define TUNNEL_TEXT_MAX		512

enum tunnel_state {
	TUNNEL_IDLE,		/* no inner connection */
	TUNNEL_REQUEST,		/* reading the CONNECT request */
	TUNNEL_CONNECTING,	/* outer connect in progress */
	TUNNEL_HANDSHAKE,	/* the transport's handshake (TLS) runs */
	TUNNEL_OPEN,		/* carrying bytes both ways */
	TUNNEL_DRAIN_UP,	/* Paho left: write what the gate releases */
	TUNNEL_DRAIN_DOWN	/* the broker left: give Paho what it sent */
};

/* Bytes [head, tail) of data are queued; up also tracks what was fed. */
struct tunnel_buf {
	uint8_t *data;
	size_t head;
	size_t tail;
};

struct tunnel {
	char name[64];
	char url[TUNNEL_URL_MAX];
	char auth[TUNNEL_AUTH_MAX];	/* base64("pushrelay:SECRET") */
	uint16_t port;
	int listen_fd;
	int inner_fd;
	int outer_fd;			/* for poll; the transport owns it */
	enum tunnel_state state;
	int64_t deadline_ms;		/* REQUEST, HANDSHAKE, DRAIN_*; else -1 */
	short hs_events;		/* HANDSHAKE: what the transport polls */
	char peer[64];			/* the inner peer, for texts */
	char host[TUNNEL_HOST_MAX + 1];	/* the broker's host, for wrap */
	uint16_t tport;			/* the broker's port */
	char target[TUNNEL_HOST_MAX + 16]; /* the broker, for texts */
	struct tunnel_buf up;		/* inner -> outer */
	size_t up_fed;			/* up bytes given to the gate */
	struct tunnel_buf down;		/* outer -> inner */
	struct tunnel_target targets[TUNNEL_TARGETS_MAX];
	size_t ntargets;
	const struct tunnel_transport_ops *ops;
	void *tctx;
	tunnel_wrap_fn wrap;
	void *wrap_arg;
	tunnel_event_fn on_event;
	void *ev_arg;
	struct tunnel_stats stats;
	struct ackgate gate;		/* last: it is large */
};

static const char tunnel_reply_ok[] =
    "HTTP/1.1 200 Connection established\r\n\r\n";
static const char tunnel_reply_502[] =
    "HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\n\r\n";

/* Report an event: "tunnel NAME: " + the formatted text. */
static void __attribute__((format(printf, 3, 4)))
tunnel_event(struct tunnel *t, enum tunnel_event ev, const char *fmt, ...)
{
	char text[TUNNEL_TEXT_MAX];
	va_list ap;
	int k;

	if (t->on_event == NULL)
		return;
	k = snprintf(text, sizeof(text), "tunnel %s: ", t->name);
	va_start(ap, fmt);
	vsnprintf(text + k, sizeof(text) - (size_t)k, fmt, ap);
	va_end(ap);
	t->on_event(t->ev_arg, ev, text);
}

int
tunnel_new(struct tunnel **out, const char *name, char *err, size_t errlen)
{
	struct tunnel *t;
	int rc;

	*out = NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->up.data = malloc(TUNNEL_BUF_SIZE)) == NULL ||
	    (t->down.data = malloc(TUNNEL_BUF_SIZE)) == NULL) {
		snprintf(err, errlen, "tunnel %s: out of memory", name);
		if (t != NULL)
			free(t->up.data);
		free(t);
		return TUNNEL_ERR_NOMEM;
	}
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->inner_fd = t->outer_fd = -1;
	t->state = TUNNEL_IDLE;
	t->deadline_ms = -1;
	ackgate_init(&t->gate, TUNNEL_HOLD_MAX_MS);
	if ((rc = tunnel_req_listen(t->name, &t->listen_fd, &t->port, err,
	    errlen)) != TUNNEL_OK ||
	    (rc = tunnel_req_secret(t->name, t->port, t->url, t->auth,
	    err, errlen)) != TUNNEL_OK) {
		tunnel_free(t);
		return rc;
	}
	*out = t;
	return TUNNEL_OK;
}

/* Close both connections and forget their bytes; back to IDLE. */
static void
tunnel_close_all(struct tunnel *t)
{
	if (t->inner_fd >= 0)
		close(t->inner_fd);
	if (t->ops != NULL)
		t->ops->close(t->tctx);
	else if (t->outer_fd >= 0)
		close(t->outer_fd);
	t->inner_fd = t->outer_fd = -1;
	t->ops = NULL;
	t->tctx = NULL;
	t->up.head = t->up.tail = t->up_fed = 0;
	t->down.head = t->down.tail = 0;
	ackgate_reset(&t->gate);
	t->state = TUNNEL_IDLE;
	t->deadline_ms = -1;
}

void
tunnel_free(struct tunnel *t)
{
	if (t == NULL)
		return;
	tunnel_close_all(t);
	if (t->listen_fd >= 0)
		close(t->listen_fd);
	free(t->up.data);
	free(t->down.data);
	explicit_bzero(t->url, sizeof(t->url));
	explicit_bzero(t->auth, sizeof(t->auth));
	free(t);
}

const char *
tunnel_proxy_url(const struct tunnel *t)
{
	return t->url;
}

uint16_t
tunnel_port(const struct tunnel *t)
{
	return t->port;
}

void
tunnel_set_event_cb(struct tunnel *t, tunnel_event_fn fn, void *arg)
{
	t->on_event = fn;
	t->ev_arg = arg;
}

void
tunnel_set_wrap(struct tunnel *t, tunnel_wrap_fn fn, void *arg)
{
	t->wrap = fn;
	t->wrap_arg = arg;
}

int
tunnel_set_targets(struct tunnel *t, const char *const *addrs, size_t n)
{
	size_t i;

	t->ntargets = 0;
	if (n > TUNNEL_TARGETS_MAX)
		return TUNNEL_ERR_INVAL;
	for (i = 0; i < n; i++)
		if (tunnel_req_split(addrs[i], strlen(addrs[i]),
		    t->targets[i].host, &t->targets[i].port) < 0)
			return TUNNEL_ERR_INVAL;
	t->ntargets = n;
	return TUNNEL_OK;
}

/* Refuse an inner connection: reply if the refusal has one, close, count. */
static void
tunnel_refuse(struct tunnel *t, int fd, enum tunnel_refusal r,
    const char *peer)
{
	const char *reply = tunnel_req_reply(r);

	if (reply != NULL)
		(void)send(fd, reply, strlen(reply), MSG_NOSIGNAL |
		    MSG_DONTWAIT);
	close(fd);
	t->stats.refused_total++;
	t->stats.refused[r]++;
	tunnel_event(t, TUNNEL_EV_REFUSED, "refused %s: %s", peer,
	    tunnel_refusal_str(r));
}

/* Close everything after a failure on one side and say why. */
static void __attribute__((format(printf, 3, 4)))
tunnel_fail_as(struct tunnel *t, enum tunnel_event ev, const char *fmt, ...)
{
	char why[TUNNEL_TEXT_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	tunnel_close_all(t);
	tunnel_event(t, ev, "%s", why);
}

#define tunnel_fail(t, ...)	tunnel_fail_as((t), TUNNEL_EV_CLOSED, __VA_ARGS__)

/* The broker cannot be reached: 502 to Paho, close, count. */
static void
tunnel_fail_connect(struct tunnel *t, const char *why)
{
	(void)send(t->inner_fd, tunnel_reply_502, sizeof(tunnel_reply_502) - 1,
	    MSG_NOSIGNAL | MSG_DONTWAIT);
	t->stats.connect_failed++;
	tunnel_fail_as(t, TUNNEL_EV_FAILED, "broker %s: %s", t->target, why);
}

static int tunnel_up_pump(struct tunnel *t, int64_t now_ms);

/* The transport is ready: say 200 and carry bytes. */
static void
tunnel_open(struct tunnel *t, int64_t now_ms)
{
	/* One write, whole: Paho reads 12 bytes, then drains the rest. */
	memcpy(t->down.data, tunnel_reply_ok, sizeof(tunnel_reply_ok) - 1);
	t->down.head = 0;
	t->down.tail = sizeof(tunnel_reply_ok) - 1;
	t->state = TUNNEL_OPEN;
	t->stats.connections++;
	tunnel_event(t, TUNNEL_EV_OPENED, "%s connected to broker %s",
	    t->peer, t->target);
	(void)tunnel_up_pump(t, now_ms);
}

/*
 * Run the transport's handshake one step: open once it is done, 502 if
 * it failed (so that Paho sees a failed connect), else wait for what it
 * asked for. The transport enforces its own deadline.
 */
static void
tunnel_handshake(struct tunnel *t, int64_t now_ms)
{
	char err[TUNNEL_TEXT_MAX];
	int64_t deadline = -1;
	short events = 0;
	int rc;

	err[0] = '\0';
	rc = t->ops->handshake(t->tctx, now_ms, &events, &deadline, err,
	    sizeof(err));
	if (rc == TUNNEL_IO_AGAIN) {
		t->state = TUNNEL_HANDSHAKE;
		t->hs_events = events;
		t->deadline_ms = deadline;
		return;
	}
	t->deadline_ms = -1;
	if (rc < 0) {
		tunnel_fail_connect(t, err[0] != '\0' ? err :
		    "handshake failed");
		return;
	}
	tunnel_open(t, now_ms);
}

/* The TCP connection to the broker is up: set the transport, open it. */
static void
tunnel_connected(struct tunnel *t, int64_t now_ms)
{
	char err[TUNNEL_TEXT_MAX];

	if (t->wrap != NULL) {
		if (t->wrap(t->wrap_arg, t->outer_fd, t->host, &t->ops,
		    &t->tctx, err, sizeof(err)) < 0) {
			t->ops = NULL;
			tunnel_fail_connect(t, err);
			return;
		}
	} else {
		t->ops = &tunnel_tcp_ops;
		t->tctx = (void *)(intptr_t)t->outer_fd;
	}
	if (t->ops->handshake != NULL)
		tunnel_handshake(t, now_ms);
	else
		tunnel_open(t, now_ms);
}

static void
tunnel_start(struct tunnel *t, int64_t now_ms)
{
	char why[TUNNEL_TEXT_MAX / 2];
	int rc;

	rc = tunnel_req_connect(t->host, t->tport, &t->outer_fd, why,
	    sizeof(why));
	t->deadline_ms = -1;	/* Paho gives up after 10 s and closes */
	if (rc < 0)
		tunnel_fail_connect(t, why);
	else if (rc > 0)
		t->state = TUNNEL_CONNECTING;
	else
		tunnel_connected(t, now_ms);
}

/* Read Paho's CONNECT request; once complete, check it and connect. */
static void
tunnel_on_request(struct tunnel *t, int64_t now_ms)
{
	struct tunnel_buf *b = &t->up;
	char *head = (char *)b->data, *end;
	ssize_t n;
	size_t rest;
	int r;

	n = tunnel_tcp_read((void *)(intptr_t)t->inner_fd, b->data + b->tail,
	    TUNNEL_REQUEST_MAX - 1 - b->tail);
	if (n == TUNNEL_IO_AGAIN)
		return;
	if (n <= 0) {
		tunnel_fail(t, "client %s: left before its request", t->peer);
		return;
	}
	b->tail += (size_t)n;
	b->data[b->tail] = '\0';
	end = memmem(head, b->tail, "\r\n\r\n", 4);
	if (end == NULL && b->tail < TUNNEL_REQUEST_MAX - 1)
		return;
	if (end == NULL || memchr(head, '\0', (size_t)(end - head)) != NULL)
		r = TUNNEL_REF_REQUEST;
	else {
		end[2] = '\0';
		r = tunnel_req_check(head, t->targets, t->ntargets, t->auth,
		    strlen(t->auth), t->host, &t->tport);
	}
	if (r >= 0) {
		tunnel_refuse(t, t->inner_fd, (enum tunnel_refusal)r, t->peer);
		t->inner_fd = -1;
		tunnel_close_all(t);
		return;
	}
	snprintf(t->target, sizeof(t->target), strchr(t->host, ':') != NULL ?
	    "[%s]:%u" : "%s:%u", t->host, (unsigned)t->tport);
	/* Bytes after the request belong to the MQTT stream. */
	rest = b->tail - (size_t)(end + 4 - head);
	memmove(b->data, end + 4, rest);
	b->head = 0;
	b->tail = rest;
	t->up_fed = 0;
	tunnel_start(t, now_ms);
}

static void
tunnel_on_connect_done(struct tunnel *t, int64_t now_ms)
{
	int soerr = 0;
	socklen_t len = sizeof(soerr);

	if (getsockopt(t->outer_fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
		soerr = errno;
	if (soerr == EINPROGRESS)
		return;
	if (soerr != 0) {
		char why[TUNNEL_TEXT_MAX / 2];

		snprintf(why, sizeof(why), "connect: %s", strerror(soerr));
		tunnel_fail_connect(t, why);
		return;
	}
	tunnel_connected(t, now_ms);
}

/* Make room at the end of a buffer; returns the room. */
static size_t
tunnel_room(struct tunnel_buf *b, size_t *fed)
{
	if (b->head == b->tail) {
		b->head = b->tail = 0;
		if (fed != NULL)
			*fed = 0;
	} else if (b->tail == TUNNEL_BUF_SIZE && b->head > 0) {
		memmove(b->data, b->data + b->head, b->tail - b->head);
		if (fed != NULL)
			*fed -= b->head;
		b->tail -= b->head;
		b->head = 0;
	}
	return TUNNEL_BUF_SIZE - b->tail;
}

/* Finish a drain once its buffer is empty. */
static void
tunnel_check_drain(struct tunnel *t)
{
	if (t->state == TUNNEL_DRAIN_UP && t->up.head == t->up.tail)
		tunnel_fail(t, "client %s closed; its bytes reached broker %s",
		    t->peer, t->target);
	else if (t->state == TUNNEL_DRAIN_DOWN && t->down.head == t->down.tail)
		tunnel_fail(t, "broker %s closed; its bytes reached client %s",
		    t->target, t->peer);
}

/*
 * Feed the gate, then write what it releases to the broker. Returns 0,
 * or -1 when the tunnel closed.
 */
static int
tunnel_up_pump(struct tunnel *t, int64_t now_ms)
{
	struct tunnel_buf *b = &t->up;
	size_t used;
	uint64_t r;
	ssize_t n;

	(void)ackgate_valve(&t->gate, now_ms);
	while (t->up_fed < b->tail) {
		if (ackgate_feed(&t->gate, b->data + t->up_fed,
		    b->tail - t->up_fed, now_ms, &used) != ACKGATE_OK) {
			tunnel_fail(t, "client %s: %s", t->peer,
			    ackgate_strerror(ACKGATE_ERR_MALFORMED));
			return -1;
		}
		t->up_fed += used;
		if (used == 0)
			break;
	}
	if ((r = ackgate_releasable(&t->gate)) == 0 || t->ops == NULL)
		return 0;
	n = t->ops->write(t->tctx, b->data + b->head, (size_t)r);
	if (n == TUNNEL_IO_AGAIN)
		return 0;
	if (n < 0) {
		tunnel_fail(t, "broker %s: write: %s", t->target,
		    strerror(errno));
		return -1;
	}
	b->head += (size_t)n;
	ackgate_consume(&t->gate, (uint64_t)n);
	t->stats.bytes_up += (uint64_t)n;
	(void)tunnel_room(b, &t->up_fed);
	return 0;
}

/* Write what the broker sent to Paho. Returns 0, or -1 when closed. */
static int
tunnel_down_pump(struct tunnel *t)
{
	struct tunnel_buf *b = &t->down;
	ssize_t n;

	if (b->head == b->tail)
		return 0;
	n = tunnel_tcp_write((void *)(intptr_t)t->inner_fd, b->data + b->head,
	    b->tail - b->head);
	if (n == TUNNEL_IO_AGAIN)
		return 0;
	if (n < 0) {
		tunnel_fail(t, "client %s: write: %s", t->peer,
		    strerror(errno));
		return -1;
	}
	b->head += (size_t)n;
	t->stats.bytes_down += (uint64_t)n;
	(void)tunnel_room(b, NULL);
	return 0;
}

/* Paho closed its side: the broker still gets what the gate releases. */
static void
tunnel_inner_gone(struct tunnel *t, int64_t now_ms)
{
	if (t->state != TUNNEL_OPEN) {
		tunnel_fail(t, "client %s: left before the tunnel opened",
		    t->peer);
		return;
	}
	close(t->inner_fd);
	t->inner_fd = -1;
	t->down.head = t->down.tail = 0;
	t->state = TUNNEL_DRAIN_UP;
	t->deadline_ms = now_ms + TUNNEL_DRAIN_MS;
	tunnel_check_drain(t);
}

/* The broker closed its side: Paho still gets what it sent. */
static void
tunnel_outer_gone(struct tunnel *t, int64_t now_ms)
{
	t->ops->close(t->tctx);
	t->ops = NULL;
	t->tctx = NULL;
	t->outer_fd = -1;
	t->up.head = t->up.tail = t->up_fed = 0;
	ackgate_reset(&t->gate);
	t->state = TUNNEL_DRAIN_DOWN;
	t->deadline_ms = now_ms + TUNNEL_DRAIN_MS;
	tunnel_check_drain(t);
}

static void
tunnel_inner_read(struct tunnel *t, short rev, int64_t now_ms)
{
	ssize_t n;

	if (tunnel_room(&t->up, &t->up_fed) == 0) {
		if ((rev & (POLLERR | POLLHUP)) != 0)
			tunnel_fail(t, "client %s: connection lost", t->peer);
		return;
	}
	n = tunnel_tcp_read((void *)(intptr_t)t->inner_fd,
	    t->up.data + t->up.tail, TUNNEL_BUF_SIZE - t->up.tail);
	if (n == TUNNEL_IO_AGAIN)
		return;
	if (n == 0) {
		tunnel_inner_gone(t, now_ms);
		return;
	}
	if (n < 0) {
		tunnel_fail(t, "client %s: read: %s", t->peer, strerror(errno));
		return;
	}
	t->up.tail += (size_t)n;
	(void)tunnel_up_pump(t, now_ms);
}

/* Whether the transport holds bytes that poll() will not report. */
static int
tunnel_outer_pending(const struct tunnel *t)
{
	return t->ops != NULL && t->ops->pending != NULL &&
	    t->ops->pending(t->tctx);
}

/* Read from the broker while there is room and the transport has bytes. */
static void
tunnel_outer_read(struct tunnel *t, short rev, int64_t now_ms)
{
	ssize_t n;

	do {
		if (tunnel_room(&t->down, NULL) == 0) {
			if ((rev & (POLLERR | POLLHUP)) != 0)
				tunnel_fail(t, "broker %s: connection lost",
				    t->target);
			return;
		}
		n = t->ops->read(t->tctx, t->down.data + t->down.tail,
		    TUNNEL_BUF_SIZE - t->down.tail);
		if (n == TUNNEL_IO_AGAIN)
			return;
		if (n == 0) {
			tunnel_outer_gone(t, now_ms);
			return;
		}
		if (n < 0) {
			tunnel_fail(t, "broker %s: read: %s", t->target,
			    strerror(errno));
			return;
		}
		t->down.tail += (size_t)n;
		if (tunnel_down_pump(t) < 0)
			return;
	} while (t->state == TUNNEL_OPEN && tunnel_outer_pending(t));
}

static void
tunnel_on_outer(struct tunnel *t, short rev, int64_t now_ms)
{
	switch (t->state) {
	case TUNNEL_CONNECTING:
		tunnel_on_connect_done(t, now_ms);
		break;
	case TUNNEL_HANDSHAKE:
		tunnel_handshake(t, now_ms);
		break;
	case TUNNEL_OPEN:
		if ((rev & POLLOUT) != 0 && tunnel_up_pump(t, now_ms) < 0)
			break;
		if ((rev & (POLLIN | POLLERR | POLLHUP)) != 0)
			tunnel_outer_read(t, rev, now_ms);
		break;
	case TUNNEL_DRAIN_UP:
		if ((rev & (POLLERR | POLLHUP)) != 0)
			tunnel_fail(t, "broker %s: connection lost", t->target);
		else if (tunnel_up_pump(t, now_ms) == 0)
			tunnel_check_drain(t);
		break;
	case TUNNEL_IDLE:
	case TUNNEL_REQUEST:
	case TUNNEL_DRAIN_DOWN:
		break;	/* no outer connection in these states */
	}
}

static void
tunnel_on_inner(struct tunnel *t, short rev, int64_t now_ms)
{
	switch (t->state) {
	case TUNNEL_REQUEST:
		tunnel_on_request(t, now_ms);
		break;
	case TUNNEL_OPEN:
		if ((rev & POLLOUT) != 0 && tunnel_down_pump(t) < 0)
			break;
		/* Room was made: take what the transport holds back. */
		if ((rev & POLLOUT) != 0 && tunnel_outer_pending(t)) {
			tunnel_outer_read(t, 0, now_ms);
			if (t->state != TUNNEL_OPEN)
				break;
		}
		/* FALLTHROUGH */
	case TUNNEL_CONNECTING:
	case TUNNEL_HANDSHAKE:
		if ((rev & (POLLIN | POLLERR | POLLHUP)) != 0)
			tunnel_inner_read(t, rev, now_ms);
		break;
	case TUNNEL_DRAIN_DOWN:
		if ((rev & (POLLERR | POLLHUP)) != 0)
			tunnel_fail(t, "client %s: connection lost", t->peer);
		else if (tunnel_down_pump(t) == 0)
			tunnel_check_drain(t);
		break;
	case TUNNEL_IDLE:
	case TUNNEL_DRAIN_UP:
		break;	/* no inner connection in these states */
	}
}

/* Accept what waits: the first becomes the inner connection if none is. */
static void
tunnel_accept(struct tunnel *t, int64_t now_ms)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char peer[sizeof(t->peer)];
	int fd, i;

	for (i = 0; i < TUNNEL_ACCEPT_MAX; i++) {
		len = sizeof(ss);
		fd = accept4(t->listen_fd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0 && errno == EINTR)
			continue;
		if (fd < 0)
			return;	/* EAGAIN, or out of fds: retried next poll */
		tunnel_req_addr_str(&ss, peer, sizeof(peer));
		if (t->state != TUNNEL_IDLE) {
			tunnel_refuse(t, fd, TUNNEL_REF_BUSY, peer);
			continue;
		}
		tunnel_req_nodelay(fd);
		memcpy(t->peer, peer, sizeof(peer));
		t->inner_fd = fd;
		t->up.head = t->up.tail = t->up_fed = 0;
		t->state = TUNNEL_REQUEST;
		t->deadline_ms = now_ms + TUNNEL_REQUEST_MS;
	}
}

size_t
tunnel_pollfds(const struct tunnel *t, struct pollfd *pfd)
{
	int up_room = t->up.tail < TUNNEL_BUF_SIZE || t->up.head > 0;
	int down_room = t->down.tail < TUNNEL_BUF_SIZE || t->down.head > 0;
	int down_data = t->down.head < t->down.tail;
	int up_data = ackgate_releasable(&t->gate) > 0 || (t->ops != NULL &&
	    t->ops->want_write != NULL && t->ops->want_write(t->tctx));
	size_t n = 0;

	pfd[n].fd = t->listen_fd;
	pfd[n].events = POLLIN;
	pfd[n++].revents = 0;
	if (t->inner_fd >= 0) {
		pfd[n].fd = t->inner_fd;
		pfd[n].events = 0;
		if (t->state == TUNNEL_REQUEST || ((t->state == TUNNEL_OPEN ||
		    t->state == TUNNEL_CONNECTING ||
		    t->state == TUNNEL_HANDSHAKE) && up_room))
			pfd[n].events |= POLLIN;
		if (down_data)
			pfd[n].events |= POLLOUT;
		pfd[n++].revents = 0;
	}
	if (t->outer_fd >= 0) {
		pfd[n].fd = t->outer_fd;
		pfd[n].events = 0;
		if (t->state == TUNNEL_CONNECTING)
			pfd[n].events = POLLOUT;
		else if (t->state == TUNNEL_HANDSHAKE)
			pfd[n].events = t->hs_events;
		else if (up_data)
			pfd[n].events = POLLOUT;
		if (t->state == TUNNEL_OPEN && down_room)
			pfd[n].events |= POLLIN;
		pfd[n++].revents = 0;
	}
	return n;
}

void
tunnel_dispatch(struct tunnel *t, const struct pollfd *pfd, size_t n,
    int64_t now_ms)
{
	short lrev = 0, irev = 0, orev = 0;
	int ifd = t->inner_fd, ofd = t->outer_fd;
	size_t i;

	for (i = 0; i < n; i++) {
		if (pfd[i].fd < 0 || pfd[i].revents == 0)
			continue;
		if (pfd[i].fd == t->listen_fd)
			lrev = pfd[i].revents;
		else if (pfd[i].fd == ifd)
			irev = pfd[i].revents;
		else if (pfd[i].fd == ofd)
			orev = pfd[i].revents;
	}
	/* Outer first: it may close the inner fd, never open one. */
	if (orev != 0 && ofd >= 0)
		tunnel_on_outer(t, orev, now_ms);
	if (irev != 0 && ifd >= 0 && t->inner_fd == ifd)
		tunnel_on_inner(t, irev, now_ms);
	if (lrev != 0)
		tunnel_accept(t, now_ms);
}

void
tunnel_flush(struct tunnel *t, int64_t now_ms)
{
	if (t->deadline_ms >= 0 && now_ms >= t->deadline_ms) {
		if (t->state == TUNNEL_REQUEST) {
			tunnel_refuse(t, t->inner_fd, TUNNEL_REF_TIMEOUT,
			    t->peer);
			t->inner_fd = -1;
			tunnel_close_all(t);
		} else if (t->state == TUNNEL_HANDSHAKE)
			tunnel_handshake(t, now_ms);	/* it times out */
		else
			tunnel_fail(t, "%s %s: drain timed out; bytes dropped",
			    t->state == TUNNEL_DRAIN_UP ? "broker" : "client",
			    t->state == TUNNEL_DRAIN_UP ? t->target : t->peer);
		return;
	}
	if (t->state != TUNNEL_OPEN && t->state != TUNNEL_DRAIN_UP)
		return;
	if (tunnel_up_pump(t, now_ms) == 0 && t->state == TUNNEL_DRAIN_UP)
		tunnel_check_drain(t);
}

void
tunnel_durable(struct tunnel *t, uint16_t packet_id, int64_t now_ms)
{
	ackgate_durable(&t->gate, packet_id, now_ms);
	tunnel_flush(t, now_ms);
}

int64_t
tunnel_next_deadline(const struct tunnel *t)
{
	int64_t g = ackgate_deadline(&t->gate);

	if (t->deadline_ms < 0)
		return g;
	if (g < 0 || t->deadline_ms < g)
		return t->deadline_ms;
	return g;
}

void
tunnel_drop(struct tunnel *t)
{
	tunnel_close_all(t);
}

void
tunnel_stats(const struct tunnel *t, struct tunnel_stats *out)
{
	*out = t->stats;
	ackgate_stats(&t->gate, &out->gate);
}
