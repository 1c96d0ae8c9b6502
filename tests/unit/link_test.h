/* SPDX-License-Identifier: ISC */
/*
 * Shared fixture for the relay/link unit tests (test_link.c and
 * test_link_qos2.c): a real struct link against a fake MQTT broker on a
 * loopback socket (127.0.0.1 only), both stepped by one poll loop in the
 * test's own thread. The broker frames with mqtt_frame(), decodes with
 * mqtt_decode(), keeps a copy of the first FB_PKTS packets it received
 * (and counts all of them by type) and answers with the codec's
 * server-side encoders: CONNACK and PINGRESP on its own, the rest when
 * the test says.
 *
 * The link runs on a synthetic monotonic clock (t->now) that only the test
 * moves; real time only bounds each wait (WAIT_MS), so nothing sleeps.
 * Every callback the link makes is recorded in t->r. The helpers are
 * static inline so that each test file may use only some of them.
 */
#ifndef PUSHRELAY_LINK_TEST_H
#define PUSHRELAY_LINK_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mqtt/mqtt.h"
#include "platform/clock.h"
#include "relay/link.h"

#define WAIT_MS		5000		/* no wait of a test runs longer */
#define T0		1000000		/* the synthetic clock's start, ms */
#define WALL0		1700000000000LL	/* the wall clock of publishes */
#define WINDOW		16		/* link_new()'s window */
#define MAX_PACKET	1024		/* our Maximum Packet Size */
#define FB_PKTS		1024		/* packets the broker keeps */
#define FB_IN		(64 * 1024)
#define FB_OUT		(512 * 1024)
#define SEQ_LEN		8		/* "%08u" heading a sequenced payload */
#define REC_MAX		256

/* One packet the broker received: its bytes, copied. */
struct fb_pkt {
	uint8_t *raw;
	size_t len;
	int type;
};

/* The fake broker: a listener and at most one connection. */
struct fb {
	int lfd;
	int cfd;			/* -1: none */
	uint16_t port;
	int proto;			/* MQTT_V5 or MQTT_V311 */
	int n_accepts;
	int eof;			/* the link closed the connection */
	int bad;			/* what the link sent did not decode */
	int paused;			/* reads nothing */
	uint8_t in[FB_IN];
	size_t in_len;
	struct fb_pkt pkt[FB_PKTS];	/* the first FB_PKTS packets */
	size_t n_pkt;
	size_t n_type[16];		/* all packets, by type */
	/* With seq_check, PUBLISH payloads must count up from 0. */
	int seq_check;
	unsigned seq;
	int seq_err;
	/* How CONNECT and PINGREQ are answered. */
	int connack;			/* 0: not at all */
	int sp;
	uint8_t reason;
	uint8_t cprops[64];
	size_t cprops_len;
	int pingresp;
	int trickle;			/* one byte per loop pass */
	uint8_t out[FB_OUT];
	size_t out_len;
	size_t out_off;
};

struct rec_msg {
	char topic[64];
	uint8_t payload[64];		/* its first bytes */
	size_t payload_len;
	uint32_t payload_sum;		/* sum() of all of it */
	uint8_t props[64];
	size_t props_len;
	int qos, retain, dup, has_expiry;
	uint32_t expiry_s;
	uint16_t id;
};

struct rec_ack {
	int64_t cookie;
	uint16_t rel_id;
	uint8_t reason;
};

/* Every callback the link made, in the order of each kind. */
struct rec {
	int n_up;
	int sp;
	int n_down;
	int was_up;
	int state_at_down;
	uint64_t tx_at_down;		/* link_stats()->tx_bytes then */
	char why[512];
	struct rec_msg msg[REC_MAX];
	size_t n_msg;
	uint16_t rel[REC_MAX];
	size_t n_rel;
	struct rec_ack ack[REC_MAX];	/* the first REC_MAX */
	size_t n_ack;			/* all of them */
	int64_t ack_sum;		/* of all their cookies */
	struct rec_ack sent[REC_MAX];	/* cookie, rel_id = the id */
	size_t n_sent;
	uint16_t comp[REC_MAX];
	size_t n_comp;
	int n_suback;
	uint8_t refused;
	int n_over;			/* on_oversized */
	int over_qos;
	uint16_t over_id;
	size_t over_size;
};

struct t {
	struct link *l;
	struct fb b;
	struct rec r;
	int64_t now;			/* the link's clock */
	struct conf_broker cb;
	char addr[32];
	char *addrs[1];
	char client_id[32];
	char empty[1];
	struct link_will will;
	uint32_t max_packet;
	char err[256];
	/* Called by the callbacks after recording, to act from inside. */
	void (*acked_hook)(struct t *t, int64_t cookie);
	void (*msg_hook)(struct t *t);
	void (*down_hook)(struct t *t);
};

/* ---- Callbacks: record what the link says. ---- */

/* FNV-1a, to compare payloads too long to keep. */
static inline uint32_t
sum(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;

	while (n-- > 0)
		h = (h ^ *p++) * 16777619u;
	return h;
}

static inline struct t *
t_of(void *arg, struct link *l)
{
	struct t *t = arg;

	assert_ptr_equal(t->l, l);
	return t;
}

static inline void
cb_up(void *arg, struct link *l, int session_present)
{
	struct t *t = t_of(arg, l);

	assert_int_equal(link_state(l), LINK_UP);
	t->r.n_up++;
	t->r.sp = session_present;
}

static inline void
cb_down(void *arg, struct link *l, const char *why, int was_up)
{
	struct t *t = t_of(arg, l);

	t->r.n_down++;
	t->r.was_up = was_up;
	t->r.state_at_down = link_state(l);
	t->r.tx_at_down = link_stats(l)->tx_bytes;
	snprintf(t->r.why, sizeof(t->r.why), "%s", why);
	if (t->down_hook != NULL)
		t->down_hook(t);
}

static inline void
cb_message(void *arg, struct link *l, const struct link_msg *m)
{
	struct t *t = t_of(arg, l);
	struct rec_msg *r;

	assert_true(t->r.n_msg < REC_MAX);
	r = &t->r.msg[t->r.n_msg++];
	/* The topic is NUL-terminated at topic_len. */
	assert_int_equal(strlen(m->topic), m->topic_len);
	assert_true(m->topic_len < sizeof(r->topic));
	assert_true(m->props_len <= sizeof(r->props));
	memcpy(r->topic, m->topic, m->topic_len + 1);
	if (m->payload_len > 0)
		memcpy(r->payload, m->payload, m->payload_len <
		    sizeof(r->payload) ? m->payload_len : sizeof(r->payload));
	r->payload_len = m->payload_len;
	r->payload_sum = sum(m->payload, m->payload_len);
	if (m->props_len > 0)
		memcpy(r->props, m->props, m->props_len);
	r->props_len = m->props_len;
	r->qos = m->qos;
	r->retain = m->retain;
	r->dup = m->dup;
	r->has_expiry = m->has_expiry;
	r->expiry_s = m->expiry_s;
	r->id = m->id;
	if (t->msg_hook != NULL)
		t->msg_hook(t);
}

static inline void
cb_release(void *arg, struct link *l, uint16_t id)
{
	struct t *t = t_of(arg, l);

	assert_true(t->r.n_rel < REC_MAX);
	t->r.rel[t->r.n_rel++] = id;
}

static inline void
cb_acked(void *arg, struct link *l, int64_t cookie, uint16_t rel_id,
    uint8_t reason)
{
	struct t *t = t_of(arg, l);

	if (t->r.n_ack < REC_MAX)
		t->r.ack[t->r.n_ack] = (struct rec_ack){ cookie, rel_id,
		    reason };
	t->r.n_ack++;
	t->r.ack_sum += cookie;
	if (t->acked_hook != NULL)
		t->acked_hook(t, cookie);
}

static inline void
cb_sent(void *arg, struct link *l, int64_t cookie, uint16_t id)
{
	struct t *t = t_of(arg, l);

	assert_true(t->r.n_sent < REC_MAX);
	t->r.sent[t->r.n_sent++] = (struct rec_ack){ cookie, id, 0 };
}

static inline void
cb_complete(void *arg, struct link *l, uint16_t id)
{
	struct t *t = t_of(arg, l);

	assert_true(t->r.n_comp < REC_MAX);
	t->r.comp[t->r.n_comp++] = id;
}

static inline void
cb_suback(void *arg, struct link *l, uint8_t refused)
{
	struct t *t = t_of(arg, l);

	t->r.n_suback++;
	t->r.refused = refused;
}

static inline void
cb_oversized(void *arg, struct link *l, int qos, uint16_t id, size_t size)
{
	struct t *t = t_of(arg, l);

	t->r.n_over++;
	t->r.over_qos = qos;
	t->r.over_id = id;
	t->r.over_size = size;
}

static const struct link_cbs t_cbs = {
	.on_up = cb_up,
	.on_down = cb_down,
	.on_message = cb_message,
	.on_release = cb_release,
	.on_acked = cb_acked,
	.on_sent = cb_sent,
	.on_complete = cb_complete,
	.on_suback = cb_suback,
	.on_oversized = cb_oversized,
};

/* ---- The fake broker. ---- */

static inline void
fb_send(struct t *t, const void *p, size_t n)
{
	struct fb *b = &t->b;

	if (b->out_off == b->out_len)
		b->out_off = b->out_len = 0;
	assert_true(b->out_len + n <= sizeof(b->out));
	memcpy(b->out + b->out_len, p, n);
	b->out_len += n;
}

static inline void
fb_connack(struct t *t, int sp, uint8_t reason)
{
	uint8_t buf[128];
	size_t n = 0;

	assert_int_equal(mqtt_encode_connack(buf, sizeof(buf), t->b.proto,
	    sp, reason, t->b.cprops, t->b.cprops_len, &n), MQTT_OK);
	fb_send(t, buf, n);
}

/* PUBLISH with props (v5 only; raw, may be NULL) and payload text. */
static inline void
fb_publish(struct t *t, int qos, uint16_t id, int dup, const char *topic,
    const char *payload, const uint8_t *props, size_t props_len)
{
	struct mqtt_publish p = {
		.topic = { topic, strlen(topic) }, .qos = qos, .dup = dup,
		.id = id, .props = props, .props_len = props_len,
		.payload = payload, .payload_len = strlen(payload),
	};
	uint8_t buf[512];
	size_t n = 0;

	assert_int_equal(mqtt_encode_publish(buf, sizeof(buf), t->b.proto,
	    &p, &n), MQTT_OK);
	fb_send(t, buf, n);
}

/* PUBACK, PUBREC, PUBREL or PUBCOMP. */
static inline void
fb_ack(struct t *t, enum mqtt_type type, uint16_t id, uint8_t reason)
{
	uint8_t buf[16];
	size_t n = 0;

	assert_int_equal(mqtt_encode_ack(buf, sizeof(buf), t->b.proto, type,
	    id, reason, NULL, 0, &n), MQTT_OK);
	fb_send(t, buf, n);
}

static inline void
fb_close(struct t *t)
{
	if (t->b.cfd >= 0)
		close(t->b.cfd);
	t->b.cfd = -1;
	t->b.in_len = 0;
	t->b.out_len = t->b.out_off = 0;
}

/* A whole packet arrived: keep it and answer what the broker answers. */
static inline void
fb_packet(struct t *t, const uint8_t *raw, size_t len)
{
	struct fb *b = &t->b;
	struct mqtt_packet p;
	uint8_t resp[2];
	char seq[16];
	size_t n = 0;

	if (mqtt_decode(raw, len, b->proto, &p) != MQTT_OK) {
		b->bad++;
		return;
	}
	b->n_type[p.type]++;
	if (b->seq_check && p.type == MQTT_PUBLISH) {
		snprintf(seq, sizeof(seq), "%08u", b->seq++);
		if (p.u.publish.payload_len < SEQ_LEN ||
		    memcmp(p.u.publish.payload, seq, SEQ_LEN) != 0)
			b->seq_err++;
	}
	if (b->n_pkt < FB_PKTS) {
		b->pkt[b->n_pkt].raw = malloc(len);
		assert_non_null(b->pkt[b->n_pkt].raw);
		memcpy(b->pkt[b->n_pkt].raw, raw, len);
		b->pkt[b->n_pkt].len = len;
		b->pkt[b->n_pkt++].type = p.type;
	}
	if (p.type == MQTT_CONNECT && b->connack)
		fb_connack(t, b->sp, b->reason);
	if (p.type == MQTT_PINGREQ && b->pingresp) {
		assert_int_equal(mqtt_encode_pingresp(resp, sizeof(resp), &n),
		    MQTT_OK);
		fb_send(t, resp, n);
	}
}

static inline void
fb_read(struct t *t)
{
	struct fb *b = &t->b;
	size_t pos = 0, plen = 0;
	ssize_t k;
	int rc;

	k = read(b->cfd, b->in + b->in_len, sizeof(b->in) - b->in_len);
	if (k < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (k <= 0) {
		b->eof++;
		fb_close(t);
		return;
	}
	b->in_len += (size_t)k;
	while ((rc = mqtt_frame(b->in + pos, b->in_len - pos, 0,
	    &plen)) == 1) {
		fb_packet(t, b->in + pos, plen);
		pos += plen;
	}
	if (rc < 0)
		b->bad++;
	memmove(b->in, b->in + pos, b->in_len - pos);
	b->in_len -= pos;
}

/* One pass of the broker's side, on what poll() said. */
static inline void
fb_step(struct t *t, short lrev, short crev)
{
	struct fb *b = &t->b;
	size_t want;
	ssize_t k;
	int fd;

	if ((lrev & POLLIN) != 0) {
		fd = accept4(b->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd >= 0) {
			/* A new connection replaces the old one. */
			fb_close(t);
			b->cfd = fd;
			b->n_accepts++;
			return;
		}
	}
	if (b->cfd >= 0 && !b->paused &&
	    (crev & (POLLIN | POLLERR | POLLHUP)) != 0)
		fb_read(t);
	if (b->cfd >= 0 && (crev & POLLOUT) != 0 && b->out_off < b->out_len) {
		want = b->trickle ? 1 : b->out_len - b->out_off;
		k = write(b->cfd, b->out + b->out_off, want);
		if (k > 0)
			b->out_off += (size_t)k;
	}
}

/* The packets of type received from index from on. */
static inline size_t
fb_count(const struct t *t, int type, size_t from)
{
	size_t i, n = 0;

	for (i = from; i < t->b.n_pkt; i++)
		n += t->b.pkt[i].type == type;
	return n;
}

/* The nth packet of type from index from on, decoded into *p. */
static inline void
fb_get(const struct t *t, int type, size_t from, size_t nth,
    struct mqtt_packet *p)
{
	size_t i, left = nth;

	for (i = from; i < t->b.n_pkt; i++) {
		if (t->b.pkt[i].type != type || left-- > 0)
			continue;
		assert_int_equal(mqtt_decode(t->b.pkt[i].raw, t->b.pkt[i].len,
		    t->b.proto, p), MQTT_OK);
		return;
	}
	fail_msg("no packet of type %d number %zu", type, nth);
}

/* ---- The loop. ---- */

/*
 * One pass: poll the link's fd, the listener and the broker's
 * connection (ms at most), then step the link (io, tick, flush) and the
 * broker, in the order relay/loop.c steps a link.
 */
static inline void
pump_once(struct t *t, int ms)
{
	struct pollfd pfd[3];
	int lpos = -1, cpos = -1, n = 1;
	short crev = 0;
	int64_t d;

	pfd[0] = (struct pollfd){ .fd = t->b.lfd, .events = POLLIN };
	if (t->b.cfd >= 0) {
		pfd[n] = (struct pollfd){ .fd = t->b.cfd,
		    .events = t->b.paused ? 0 : POLLIN };
		if (t->b.out_off < t->b.out_len)
			pfd[n].events |= POLLOUT;
		cpos = n++;
	}
	if (link_pollfd(t->l, &pfd[n].fd, &pfd[n].events)) {
		pfd[n].revents = 0;
		lpos = n++;
	}
	d = link_deadline(t->l);
	if (d >= 0 && d <= t->now)
		ms = 0;
	if (poll(pfd, (nfds_t)n, ms) < 0)
		assert_int_equal(errno, EINTR);
	if (lpos >= 0 && pfd[lpos].revents != 0)
		link_io(t->l, pfd[lpos].revents, t->now);
	d = link_deadline(t->l);
	if (d >= 0 && d <= t->now)
		link_tick(t->l, t->now);
	if (cpos >= 0)
		crev = pfd[cpos].revents;
	fb_step(t, pfd[0].revents, crev);
	link_flush(t->l, t->now);
}

/* Pump until cond holds; fail after WAIT_MS of real time. */
#define PUMP_UNTIL(t, cond) do {					\
	int64_t stop_ = clock_mono_ms() + WAIT_MS;			\
	while (!(cond)) {						\
		if (clock_mono_ms() >= stop_)				\
			fail_msg("timed out waiting for %s", #cond);	\
		pump_once((t), 20);					\
	}								\
} while (0)

/*
 * A few passes that wait for nothing: bytes the link wrote are in the
 * broker's socket when link_flush() returns (loopback), so these see them.
 */
static inline void
pump_idle(struct t *t)
{
	int i;

	for (i = 0; i < 8; i++)
		pump_once(t, 1);
}

/* ---- Set-up. ---- */

static inline void
t_listen(struct fb *b)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	b->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0);
	assert_true(b->lfd >= 0);
	assert_int_equal(bind(b->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(b->lfd, 4), 0);
	assert_int_equal(getsockname(b->lfd, (struct sockaddr *)&sa, &len),
	    0);
	b->port = ntohs(sa.sin_port);
}

/* A link speaking proto (5 or 311) and its broker; *state: the proto. */
static inline int
t_setup(void **state)
{
	int proto = *state != NULL ? *(const int *)*state : 5;
	struct t *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	t_listen(&t->b);
	t->b.cfd = -1;
	t->b.proto = proto == 5 ? MQTT_V5 : MQTT_V311;
	t->b.connack = 1;
	t->b.pingresp = 1;
	t->now = T0;
	snprintf(t->addr, sizeof(t->addr), "127.0.0.1:%u", t->b.port);
	snprintf(t->client_id, sizeof(t->client_id), "relay-test");
	t->addrs[0] = t->addr;
	t->cb.address = t->addrs;
	t->cb.n_address = 1;
	t->cb.client_id = t->client_id;
	t->cb.username = t->cb.password = t->empty;
	t->cb.proxy = t->cb.proxy_username = t->cb.proxy_password = t->empty;
	t->cb.keepalive = 60;
	t->cb.protocol = proto;
	t->cb.reconnect_min = 1;
	t->cb.reconnect_max = 1;
	t->cb.max_inflight = 10;
	t->cb.max_packet_size = MAX_PACKET;
	t->max_packet = MAX_PACKET;
	t->l = link_new(LINK_CENTRAL, WINDOW, &t_cbs, t);
	assert_non_null(t->l);
	*state = t;
	return 0;
}

static inline int
t_teardown(void **state)
{
	struct t *t = *state;
	size_t i;

	link_free(t->l);
	fb_close(t);
	close(t->b.lfd);
	for (i = 0; i < t->b.n_pkt; i++)
		free(t->b.pkt[i].raw);
	free(t);
	return 0;
}

/* Start a connection attempt; the broker answers per t->b. */
static inline void
t_dial(struct t *t)
{
	assert_int_equal(link_connect(t->l, &t->cb, &t->will, NULL,
	    t->max_packet, t->now, t->err, sizeof(t->err)), LINK_OK);
	assert_int_equal(link_state(t->l), LINK_DIALING);
}

/* Connect and wait for on_up, the broker answering with session sp. */
static inline void
t_up(struct t *t, int sp)
{
	int ups = t->r.n_up;

	t->b.sp = sp;
	t->b.reason = 0;
	t_dial(t);
	PUMP_UNTIL(t, t->r.n_up > ups);
	assert_int_equal(t->r.sp, sp);
	assert_int_equal(link_state(t->l), LINK_UP);
}

/* The broker ends the connection; wait for on_down. */
static inline void
t_broker_close(struct t *t)
{
	int downs = t->r.n_down;

	fb_close(t);
	PUMP_UNTIL(t, t->r.n_down > downs);
	assert_int_equal(link_state(t->l), LINK_DOWN);
}

/* A queue message to publish (topic and payload borrowed). */
static inline struct queue_msg
t_msg(const char *topic, const char *payload, int qos)
{
	struct queue_msg m = {
		.id = 1, .topic = topic, .payload = payload,
		.payload_len = strlen(payload), .qos = qos, .ts_ms = WALL0,
	};

	return m;
}

/* link_publish() of m with cookie; returns its result. */
static inline int
t_publish(struct t *t, const struct queue_msg *m, int64_t cookie)
{
	return link_publish(t->l, m, WALL0, cookie, t->err, sizeof(t->err));
}

static const int P5 = 5;
static const int P311 = 311;

/* A test with MQTT 5, with 3.1.1, or both; named after both. */
#define T_V5(f)		{ #f "/v5", f, t_setup, t_teardown, (void *)&P5 }
#define T_V311(f)	{ #f "/v311", f, t_setup, t_teardown, (void *)&P311 }
#define T_BOTH(f)	T_V5(f), T_V311(f)

#endif
