/* SPDX-License-Identifier: ISC */
/*
 * link: one MQTT connection in the main loop; see link.h. The connection
 * set-up (dial, transport, CONNECT) and the byte buffers are here; the
 * packets that arrive are handled in link_in.c.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mqtt/mqtt.h"
#include "platform/dial.h"
#include "platform/tls.h"
#include "platform/transport.h"
#include "relay/link_int.h"

static const char *const link_errtab[] = {
	"ok",
	"in-flight window full",
	"not connected",
	"packet cannot be encoded",
	"out of memory",
	"packet over the broker's maximum size",
};
_Static_assert(sizeof(link_errtab) / sizeof(link_errtab[0]) ==
    LINK_ERR__COUNT, "link_errtab must match enum link_err");

struct link *
link_new(enum link_side side, size_t window, const struct link_cbs *cbs,
    void *arg)
{
	struct link *l;
	size_t i;

	if (window == 0 || window > LINK_WINDOW_MAX ||
	    (l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	l->side = side;
	l->cbs = cbs;
	l->arg = arg;
	l->window = window;
	l->protocol = 5;
	l->slots = calloc(window, sizeof(*l->slots));
	l->free_idx = calloc(window, sizeof(*l->free_idx));
	l->topic = malloc(LINK_TOPIC_MAX + 1);
	l->in_cap = LINK_IN_INIT;
	l->in = malloc(l->in_cap);
	l->out_cap = LINK_OUT_INIT;
	l->out = malloc(l->out_cap);
	if (l->slots == NULL || l->free_idx == NULL || l->topic == NULL ||
	    l->in == NULL || l->out == NULL || dial_new(&l->dial) != DIAL_OK) {
		link_free(l);
		return NULL;
	}
	for (i = 0; i < window; i++)
		l->free_idx[i] = (uint16_t)(window - 1 - i);
	l->n_free = window;
	l->limit = window;
	return l;
}

void
link_free(struct link *l)
{
	if (l == NULL)
		return;
	link_drop(l);
	dial_free(l->dial);
	free(l->slots);
	free(l->free_idx);
	free(l->topic);
	free(l->in);
	free(l->out);
	free(l->q0.v);
	link_alias_reset(l);
	free(l->alias_topic);
	free(l->alias_hash);
	free(l);
}

/* Closes the transport and forgets the buffers; slots per the rule. */
static void
link_close(struct link *l)
{
	if (l->ops != NULL)
		l->ops->close(l->tctx);
	l->ops = NULL;
	l->tctx = NULL;
	l->in_len = 0;
	l->out_len = l->out_off = 0;
	l->q0.n = 0;
	l->ping_sent_ms = 0;
	l->deadline_ms = -1;
	l->read_dry = 0;
	link_alias_reset(l);
	link_slots_down(l);
	l->state = LINK_DOWN;
}

void
link_drop(struct link *l)
{
	struct dial *d;

	/* An attempt in progress is abandoned with its dial. */
	if (l->state == LINK_DIALING && dial_new(&d) == DIAL_OK) {
		dial_free(l->dial);
		l->dial = d;
	}
	link_close(l);
}

void
link_fail(struct link *l, const char *fmt, ...)
{
	int was_up = l->state == LINK_UP || l->state == LINK_CLOSING;
	char why[LINK_WHY_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	link_drop(l);
	l->cbs->on_down(l->arg, l, why, was_up);
}

/* ---- The output buffer. ---- */

/* Room for n more bytes at the end; 0 or -1 when out of memory. */
int
link_out_reserve(struct link *l, size_t n)
{
	size_t need, ncap;
	uint8_t *nb;

	if (l->out_off > 0 && l->out_off == l->out_len)
		l->out_off = l->out_len = 0;
	if (l->out_cap - l->out_len >= n)
		return 0;
	if (l->out_off > 0) {
		memmove(l->out, l->out + l->out_off, l->out_len - l->out_off);
		l->out_len -= l->out_off;
		l->out_off = 0;
		if (l->out_cap - l->out_len >= n)
			return 0;
	}
	need = l->out_len + n;
	for (ncap = l->out_cap; ncap < need; ncap *= 2)
		;
	if ((nb = realloc(l->out, ncap)) == NULL)
		return -1;
	l->out = nb;
	l->out_cap = ncap;
	return 0;
}

size_t
link_out_pending(const struct link *l)
{
	return l->out_len - l->out_off;
}

/* Gives back memory a burst took, once the buffers are empty again. */
static void
link_out_shrink(struct link *l)
{
	uint8_t *nb;

	if (l->out_cap <= LINK_OUT_INIT || link_out_pending(l) != 0)
		return;
	if ((nb = realloc(l->out, LINK_OUT_INIT)) == NULL)
		return;
	l->out = nb;
	l->out_cap = LINK_OUT_INIT;
	l->out_off = l->out_len = 0;
}

/* Notes a QoS 0 publish's cookie; 0 or -1 (no memory). */
int
link_q0_add(struct link *l, int64_t cookie)
{
	struct link_cookies *c = &l->q0;
	int64_t *nv;
	size_t ncap;

	if (c->n == c->cap) {
		ncap = c->cap != 0 ? c->cap * 2 : 256;
		if ((nv = realloc(c->v, ncap * sizeof(*nv))) == NULL)
			return -1;
		c->v = nv;
		c->cap = ncap;
	}
	c->v[c->n++] = cookie;
	return 0;
}

/*
 * QoS 0 publishes are done once every byte before them is written. The
 * list is taken out while it is reported: an on_acked may publish more
 * (their cookies start a new list) or flush (which reports only those).
 */
static void
link_q0_done(struct link *l)
{
	struct link_cookies c = l->q0;
	uint32_t gen = l->gen;
	size_t i;

	memset(&l->q0, 0, sizeof(l->q0));
	for (i = 0; i < c.n && l->gen == gen; i++)
		l->cbs->on_acked(l->arg, l, c.v[i], 0, 0);
	if (l->q0.v == NULL) {
		l->q0.v = c.v;		/* Nothing new: keep the array. */
		l->q0.cap = c.cap;
	} else {
		free(c.v);
	}
}

void
link_flush(struct link *l, int64_t now_ms)
{
	ssize_t n;

	if (l->state < LINK_CONNECTING || l->ops == NULL)
		return;
	while (link_out_pending(l) > 0) {
		n = l->ops->write(l->tctx, l->out + l->out_off,
		    link_out_pending(l));
		if (n == TRANSPORT_IO_AGAIN)
			break;
		if (n < 0 && l->state == LINK_CONNECTING) {
			/* A TLS 1.3 server refuses after our Finished. */
			link_fail(l, "connect: broker %s: %s",
			    dial_address(l->dial), link_io_reason(l, errno));
			return;
		}
		if (n < 0) {
			link_fail(l, "connection lost: write: %s",
			    link_io_reason(l, errno));
			return;
		}
		l->out_off += (size_t)n;
		l->st.tx_bytes += (uint64_t)n;
		l->st.writes++;
		l->last_tx_ms = now_ms;
	}
	if (link_out_pending(l) != 0)
		return;
	if (l->q0.n > 0)
		link_q0_done(l);
	if (l->state == LINK_CLOSING) {
		link_fail(l, "disconnected");
		return;
	}
	link_out_shrink(l);
}

/* ---- Connecting. ---- */

static size_t
link_connect_props(const struct link *l, uint8_t *buf, size_t cap)
{
	struct mqtt_pw w;

	mqtt_pw_init(&w, buf, cap);
	/* Persistent session: the broker keeps it for as long as it can. */
	mqtt_pw_u32(&w, MQTT_P_SESSION_EXPIRY, 0xFFFFFFFFu);
	/* The broker's window to us is as wide as ours to it. */
	mqtt_pw_u16(&w, MQTT_P_RECEIVE_MAX, (uint16_t)l->cap);
	mqtt_pw_u32(&w, MQTT_P_MAX_PACKET_SIZE, l->max_in);
	return w.overflow ? 0 : w.len;
}

static struct mqtt_str
link_str(const char *s)
{
	struct mqtt_str m = { NULL, 0 };

	if (s != NULL && s[0] != '\0') {
		m.p = s;
		m.len = strlen(s);
	}
	return m;
}

/* Encodes CONNECT into the (empty) output buffer. */
static int
link_put_connect(struct link *l, const struct conf_broker *b,
    const struct link_will *will, char *err, size_t errlen)
{
	struct mqtt_connect c;
	uint8_t props[32];
	size_t n = 0;
	int rc;

	memset(&c, 0, sizeof(c));
	c.protocol = l->protocol == 5 ? MQTT_V5 : MQTT_V311;
	c.clean_start = 0;
	c.keepalive = (uint16_t)b->keepalive;
	c.client_id = link_str(b->client_id);
	c.username = link_str(b->username);
	c.password = link_str(b->password);
	c.props = props;
	c.props_len = link_connect_props(l, props, sizeof(props));
	if (will != NULL && will->topic != NULL && will->topic[0] != '\0') {
		c.will = 1;
		c.will_qos = 1;
		c.will_retain = 1;
		c.will_topic = link_str(will->topic);
		c.will_payload.p = will->payload;
		c.will_payload.len = strlen(will->payload);
	}
	rc = mqtt_encode_connect(l->out, l->out_cap, &c, &n);
	if (rc == MQTT_ERR_SPACE && link_out_reserve(l, n) == 0)
		rc = mqtt_encode_connect(l->out, l->out_cap, &c, &n);
	if (rc != MQTT_OK) {
		snprintf(err, errlen, "broker %s: cannot encode CONNECT: %s",
		    b->address[0], mqtt_strerror(rc));
		return LINK_ERR_PACKET;
	}
	l->out_len = n;
	l->st.packets_out++;
	return LINK_OK;
}

int
link_connect(struct link *l, const struct conf_broker *b,
    const struct link_will *will, struct tls *tls, uint32_t max_packet,
    int64_t now_ms, char *err, size_t errlen)
{
	struct dial_conf dc;
	int rc;

	link_drop(l);
	l->gen++;
	l->protocol = b->protocol;
	l->tls = tls;
	l->keepalive_s = (uint16_t)b->keepalive;
	l->max_in = max_packet;
	l->max_out = 0;
	if (link_alias_setup(l, b->protocol == 5 ? b->topic_alias_max : 0) !=
	    0) {
		snprintf(err, errlen, "broker %s: out of memory", b->address[0]);
		return LINK_ERR_NOMEM;
	}
	l->cap = b->max_inflight > 0 && (size_t)b->max_inflight < l->window ?
	    (size_t)b->max_inflight : l->window;
	l->limit = l->cap;
	if ((rc = link_put_connect(l, b, will, err, errlen)) != LINK_OK)
		return rc;
	memset(&dc, 0, sizeof(dc));
	dc.address = b->address;
	dc.n_address = b->n_address;
	dc.connect_timeout_ms = l->connect_ms > 0 ? l->connect_ms :
	    LINK_CONNECT_MS;
	l->unanswered = 0;
	dc.proxy = b->proxy;
	dc.proxy_user = b->proxy_username;
	dc.proxy_pass = b->proxy_password;
	dc.user_timeout_ms = b->keepalive * 1500;
	if ((rc = dial_start(l->dial, &dc, now_ms, err, errlen)) < 0) {
		l->out_len = 0;
		return LINK_ERR_PACKET;
	}
	l->state = LINK_DIALING;
	return LINK_OK;
}

/* The transport is ready: the CONNECT waiting in the buffer may go. */
static void
link_ready(struct link *l, int64_t now_ms)
{
	l->state = LINK_CONNECTING;
	l->deadline_ms = now_ms + LINK_CONNACK_MS;
	l->last_rx_ms = now_ms;
	link_flush(l, now_ms);
}

static void
link_handshake(struct link *l, int64_t now_ms)
{
	char why[LINK_WHY_MAX];
	int64_t dl = -1;
	int rc;

	rc = l->ops->handshake(l->tctx, now_ms, &l->hs_events, &dl, why,
	    sizeof(why));
	if (rc == 0) {
		link_ready(l, now_ms);
		return;
	}
	if (rc == TRANSPORT_IO_AGAIN) {
		l->deadline_ms = dl;
		return;
	}
	link_fail(l, "connect: broker %s: %s", dial_address(l->dial), why);
}

/* The socket is connected: put the transport on it. */
static void
link_dialed(struct link *l, int fd, int64_t now_ms)
{
	char why[LINK_WHY_MAX];
	int lowat = LINK_NOTSENT_LOWAT;

	/*
	 * The central link keeps what is not sent yet in its own buffer
	 * rather than the kernel's (which would take megabytes): on a slow
	 * link a frame built later, with an alarm in it, would wait behind
	 * all of them (docs/wan.md). Only a hint: failure changes nothing.
	 */
	if (l->side == LINK_CENTRAL)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat,
		    sizeof(lowat));

	if (l->tls != NULL) {
		if (tls_wrap(l->tls, fd, dial_host(l->dial), &l->ops,
		    &l->tctx, why, sizeof(why)) != 0) {
			close(fd);
			link_fail(l, "connect: broker %s: %s",
			    dial_address(l->dial), why);
			return;
		}
		l->state = LINK_HANDSHAKE;
		link_handshake(l, now_ms);
		return;
	}
	if (transport_tcp_new(fd, &l->ops, &l->tctx) != 0) {
		close(fd);
		link_fail(l, "connect: out of memory");
		return;
	}
	link_ready(l, now_ms);
}

static void
link_dial_step(struct link *l, short revents, int64_t now_ms)
{
	char why[LINK_WHY_MAX];
	int fd = -1, rc;

	rc = dial_step(l->dial, revents, now_ms, &fd, why, sizeof(why));
	if (rc == DIAL_AGAIN)
		return;
	if (rc == DIAL_OK) {
		l->fd = fd;
		link_dialed(l, fd, now_ms);
		return;
	}
	l->unanswered = rc == DIAL_ERR_TIMEOUT;
	link_fail(l, "connect: %s", why);
}

int
link_disconnect(struct link *l)
{
	size_t n = 0;

	if (l->state != LINK_UP)
		return LINK_ERR_STATE;
	if (link_out_reserve(l, 8) != 0 ||
	    mqtt_encode_disconnect(l->out + l->out_len, l->out_cap -
	    l->out_len, link_mqtt_version(l), 0, NULL, 0, &n) != MQTT_OK)
		return LINK_ERR_NOMEM;
	l->out_len += n;
	l->st.packets_out++;
	l->state = LINK_CLOSING;
	return LINK_OK;
}

/* ---- The loop's side. ---- */

int
link_pollfd(const struct link *l, int *fd, short *events)
{
	switch (l->state) {
	case LINK_DOWN:
		return 0;
	case LINK_DIALING:
		return dial_pollfd(l->dial, fd, events);
	case LINK_HANDSHAKE:
		*fd = l->fd;
		*events = l->hs_events;
		return 1;
	default:
		*fd = l->fd;
		*events = POLLIN;
		if (link_out_pending(l) > 0 || (l->ops->want_write != NULL &&
		    l->ops->want_write(l->tctx)))
			*events |= POLLOUT;
		return 1;
	}
}

/* The older of the last write and the last read. */
int64_t
link_idle_since(const struct link *l)
{
	return l->last_rx_ms < l->last_tx_ms ? l->last_rx_ms : l->last_tx_ms;
}

int64_t
link_deadline(const struct link *l)
{
	int64_t ka, d = l->deadline_ms;

	switch (l->state) {
	case LINK_DOWN:
		return -1;
	case LINK_DIALING:
		return dial_deadline(l->dial);
	case LINK_HANDSHAKE:
	case LINK_CONNECTING:
		return d;
	default:
		break;
	}
	/*
	 * Bytes the transport holds (TLS records read ahead) are read at
	 * once; but a partial record also counts as pending, and a read that
	 * found nothing to return waits for the socket instead.
	 */
	if (!l->read_dry && l->ops->pending != NULL &&
	    l->ops->pending(l->tctx))
		return 0;
	if (l->keepalive_s == 0)
		return -1;
	ka = (int64_t)l->keepalive_s * 1000;
	if (l->ping_sent_ms != 0)
		return l->ping_sent_ms + link_ping_wait_ms(l);
	return link_idle_since(l) + ka;
}

void
link_io(struct link *l, short revents, int64_t now_ms)
{
	switch (l->state) {
	case LINK_DOWN:
		return;
	case LINK_DIALING:
		link_dial_step(l, revents, now_ms);
		return;
	case LINK_HANDSHAKE:
		link_handshake(l, now_ms);
		return;
	default:
		break;
	}
	if ((revents & (POLLIN | POLLERR | POLLHUP)) != 0)
		link_read(l, now_ms);
	if (l->state >= LINK_CONNECTING && (revents & POLLOUT) != 0)
		link_flush(l, now_ms);
}

void
link_tick(struct link *l, int64_t now_ms)
{
	switch (l->state) {
	case LINK_DOWN:
		return;
	case LINK_DIALING:
		if (dial_deadline(l->dial) >= 0 &&
		    now_ms >= dial_deadline(l->dial))
			link_dial_step(l, 0, now_ms);
		return;
	case LINK_HANDSHAKE:
		if (l->deadline_ms >= 0 && now_ms >= l->deadline_ms)
			link_handshake(l, now_ms);
		return;
	case LINK_CONNECTING:
		if (now_ms >= l->deadline_ms)
			link_fail(l, "connect: broker %s: no CONNACK within "
			    "%d s", dial_address(l->dial),
			    LINK_CONNACK_MS / 1000);
		return;
	default:
		break;
	}
	if (!l->read_dry && l->ops->pending != NULL &&
	    l->ops->pending(l->tctx))
		link_read(l, now_ms);
	if (l->state >= LINK_UP)
		link_keepalive(l, now_ms);
}

/* ---- Accessors. ---- */

enum link_state
link_state(const struct link *l)
{
	return l->state;
}

size_t
link_window_free(const struct link *l)
{
	/* Held QoS 2 slots are taken again by their own messages. */
	size_t used = l->window - l->n_free - l->n_hold_pub;

	if (link_out_pending(l) > LINK_OUT_MARK)
		return 0;
	return used < l->limit ? l->limit - used : 0;
}

size_t
link_inflight(const struct link *l)
{
	return l->window - l->n_free;
}

int
link_protocol(const struct link *l)
{
	return l->protocol;
}

uint32_t
link_gen(const struct link *l)
{
	return l->gen;
}

const char *
link_name(const struct link *l)
{
	return l->side == LINK_LOCAL ? "local" : "central";
}

const char *
link_address(const struct link *l)
{
	return dial_address(l->dial);
}

const struct link_stats *
link_stats(const struct link *l)
{
	return &l->st;
}

void
link_set_connect_timeout(struct link *l, int ms)
{
	l->connect_ms = ms > 0 ? ms : 0;
}

int
link_unanswered(const struct link *l)
{
	return l->unanswered;
}

void *
link_tls_ctx(const struct link *l)
{
	return l->tls != NULL && l->state >= LINK_HANDSHAKE ? l->tctx : NULL;
}

const char *
link_strerror(int err)
{
	if (err > 0 || -err >= LINK_ERR__COUNT)
		return "unknown link error";
	return link_errtab[-err];
}
