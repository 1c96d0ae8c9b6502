/* SPDX-License-Identifier: ISC */
/*
 * loop: start-up, the poll loop, timers, signals and the stop sequence of
 * the relay. One thread owns everything. Each iteration: read the clock
 * once, run due timers, poll the two links, the control socket and the
 * signal pipe, let the links read and dispatch what arrived, then the
 * before-sleep step: publish from the queue, commit, write the
 * acknowledgements of what the commit made durable, and flush each link
 * (see loop_iterate for why in this order).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "platform/clock.h"
#include "platform/log.h"
#include "platform/privdrop.h"
#include "relay/batcher.h"
#include "relay/relay.h"
#include "relay/unpack.h"

/*
 * The only process-wide mutable state of the relay: a signal handler has
 * no argument, so it reaches the flags and the wake-up pipe through these.
 */
static volatile sig_atomic_t loop_sig_stop;
static volatile sig_atomic_t loop_sig_hup;
static volatile sig_atomic_t loop_sig_usr1;
static volatile int loop_sig_fd = -1;

/* Upper bound of one poll, so a lost wake-up costs at most this. */
#define LOOP_POLL_MAX_MS	1000

static void
loop_on_signal(int sig)
{
	if (sig == SIGHUP)
		loop_sig_hup = 1;
	else if (sig == SIGUSR1)
		loop_sig_usr1 = 1;
	else
		loop_sig_stop = 1;
	if (loop_sig_fd != -1) {
		int saved = errno;
		char c = 1;

		(void)!write(loop_sig_fd, &c, 1);
		errno = saved;
	}
}

static void
loop_signals(struct relay *r)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = loop_on_signal;
	sigemptyset(&sa.sa_mask);
	loop_sig_fd = r->wake[1];
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

void
relay_timer_arm(struct relay *r, struct relay_timer *t, int64_t in_ms)
{
	t->due_ms = r->now_ms + in_ms;
	t->armed = 1;
}

/* Returns 1 and disarms t when it is due. */
static int
loop_timer_due(struct relay *r, struct relay_timer *t)
{
	if (!t->armed || t->due_ms > r->now_ms)
		return 0;
	t->armed = 0;
	return 1;
}

static int64_t
loop_timeout(const struct relay *r)
{
	const struct relay_timer *t[] = { &r->reconnect[0], &r->reconnect[1],
	    &r->expire, &r->stop, &r->batch_due, &r->store_probe,
	    &r->flow_wait };
	int64_t best = LOOP_POLL_MAX_MS, left;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (!t[i]->armed)
			continue;
		left = t[i]->due_ms - r->now_ms;
		if (left < best)
			best = left < 0 ? 0 : left;
	}
	return best;
}

static void
loop_expire(struct relay *r)
{
	uint64_t n = 0;

	if (queue_expire(r->queue, clock_wall_ms(), &n, r->err,
	    sizeof(r->err)) != QUEUE_OK)
		durable_failed(r);
	if (n > 0) {
		r->st.dropped_expired += n;
		r->dirty = 1;
		log_info("queue: %" PRIu64 " expired messages dropped", n);
	}
	if (r->conf->role == CONF_ROLE_UNPACK)
		unpack_tick(r);
	relay_timer_arm(r, &r->expire, RELAY_EXPIRE_EVERY_MS);
}

/* The stop sequence, as a small state machine driven by each wake-up. */
static void
loop_stop_step(struct relay *r)
{
	int side, waiting = 0;

	if (r->state == RELAY_DRAINING) {
		for (side = 0; side < 2; side++)
			if (link_state(r->link[side]) == LINK_UP &&
			    link_inflight(r->link[side]) > 0)
				waiting = 1;
		if (waiting && r->stop.armed)
			return;
		if (waiting)
			log_warn("stop: in-flight messages not acknowledged "
			    "in time; they stay queued");
		if (link_state(r->link[LINK_CENTRAL]) == LINK_UP)
			forward_status(r, "offline");
		for (side = 0; side < 2; side++)
			if (link_disconnect(r->link[side]) != LINK_OK)
				link_drop(r->link[side]);
		/* A broker that does not answer a DISCONNECT is not waited for. */
		r->state = RELAY_CLOSING;
		relay_timer_arm(r, &r->stop, 300);
		return;
	}
	if (r->state == RELAY_CLOSING) {
		for (side = 0; side < 2; side++)
			if (link_state(r->link[side]) != LINK_DOWN)
				waiting = 1;
		if (!waiting || !r->stop.armed)
			r->state = RELAY_DONE;
	}
}

static void
loop_begin_stop(struct relay *r)
{
	log_info("stopping: waiting up to %d ms for in-flight messages",
	    RELAY_STOP_GRACE_MS);
	r->state = RELAY_DRAINING;
	r->reconnect[0].armed = r->reconnect[1].armed = 0;
	relay_timer_arm(r, &r->stop, RELAY_STOP_GRACE_MS);
}

static size_t
loop_ctl_handler(void *arg, const char *req, char *out, size_t cap)
{
	const struct relay *r = arg;

	if (strcmp(req, "status json") == 0)
		return status_render(r, STATUS_JSON, out, cap);
	if (strcmp(req, "status prometheus") == 0)
		return status_render(r, STATUS_PROM, out, cap);
	if (strcmp(req, "status") == 0)
		return status_render(r, STATUS_TEXT, out, cap);
	return (size_t)snprintf(out, cap, "error: unknown request\n");
}

static void
loop_drain_wake(struct relay *r)
{
	char buf[64];

	while (read(r->wake[0], buf, sizeof(buf)) > 0)
		;
}

/*
 * SIGUSR1 means "the WAN is up" (the OpenWrt init script's interface
 * trigger sends it): a central link that waits out its backoff, or is
 * still trying on the old route, connects again now, and the backoff
 * starts over from reconnect_min, since the failures it counted were on a
 * network that is gone. A link that is up is left alone: its keepalive
 * finds out whether the connection survived the change.
 */
static void
loop_wan_up(struct relay *r)
{
	struct link *l = r->link[LINK_CENTRAL];

	if (r->state != RELAY_RUNNING || link_state(l) == LINK_UP)
		return;
	log_info("central broker %s: SIGUSR1 (WAN up): reconnecting now",
	    r->conf->central.address[0]);
	if (link_state(l) != LINK_DOWN)
		forward_link_lost(r, LINK_CENTRAL);
	backoff_reset(&r->backoff[LINK_CENTRAL]);
	relay_timer_arm(r, &r->reconnect[LINK_CENTRAL], 0);
}

static void
loop_timers(struct relay *r)
{
	int side;

	for (side = 0; side < 2; side++)
		if (loop_timer_due(r, &r->reconnect[side]))
			forward_connect(r, (enum link_side)side);
	if (loop_timer_due(r, &r->expire))
		loop_expire(r);
	if (loop_timer_due(r, &r->store_probe))
		durable_probe(r);
	/*
	 * batch_due stays armed through the poll, so that a frame that is
	 * due (or was just closed, armed at 0) makes the poll return at
	 * once; the pump after the poll closes, commits and sends it.
	 */
	if (r->stop.armed && r->stop.due_ms <= r->now_ms)
		r->stop.armed = 0;
}

/* The links' timers: keepalives, handshake and CONNACK deadlines. */
static void
loop_link_ticks(struct relay *r)
{
	int64_t d;
	int side;

	for (side = 0; side < 2; side++) {
		d = link_deadline(r->link[side]);
		if (d >= 0 && d <= r->now_ms)
			link_tick(r->link[side], r->now_ms);
	}
}

static int64_t
loop_poll_timeout(const struct relay *r)
{
	int64_t t = loop_timeout(r), d;
	int side;

	if ((d = durable_due_ms(r)) >= 0 && d - r->now_ms < t)
		t = d > r->now_ms ? d - r->now_ms : 0;
	for (side = 0; side < 2; side++) {
		d = link_deadline(r->link[side]);
		if (d >= 0 && d - r->now_ms < t)
			t = d > r->now_ms ? d - r->now_ms : 0;
	}
	return t;
}

/* Fills pfd: the wake pipe, the links, the control socket. */
static size_t
loop_pollfds(struct relay *r, struct pollfd *pfd, int *linkpos)
{
	size_t n = 1;
	int side;

	pfd[0].fd = r->wake[0];
	pfd[0].events = POLLIN;
	for (side = 0; side < 2; side++) {
		linkpos[side] = -1;
		if (link_pollfd(r->link[side], &pfd[n].fd, &pfd[n].events)) {
			pfd[n].revents = 0;
			linkpos[side] = (int)n++;
		}
	}
	return n;
}

static void
loop_iterate(struct relay *r)
{
	struct pollfd pfd[3 + CTL_POLLFDS];
	int linkpos[2], side, rc;
	size_t n, nctl;

	r->now_ms = clock_mono_ms();
	loop_timers(r);
	loop_link_ticks(r);
	/* A stop deadline that just passed moves the stop on before polling. */
	if (r->state != RELAY_RUNNING)
		loop_stop_step(r);
	if (r->state == RELAY_DONE)
		return;
	n = loop_pollfds(r, pfd, linkpos);
	nctl = ctl_pollfds(r->ctl, pfd + n);
	rc = poll(pfd, n + nctl, (int)loop_poll_timeout(r));
	r->now_ms = clock_mono_ms();
	if (rc == -1 && errno != EINTR)
		log_err_errno("poll");
	if (rc > 0 && pfd[0].revents != 0)
		loop_drain_wake(r);
	for (side = 0; side < 2; side++)
		if (rc > 0 && linkpos[side] >= 0 &&
		    pfd[linkpos[side]].revents != 0)
			link_io(r->link[side], pfd[linkpos[side]].revents,
			    r->now_ms);
	loop_link_ticks(r);
	(void)loop_timer_due(r, &r->batch_due);
	(void)loop_timer_due(r, &r->flow_wait);
	if (rc > 0)
		ctl_dispatch(r->ctl, pfd + n, nctl, loop_ctl_handler, r);
	if (loop_sig_hup) {
		loop_sig_hup = 0;
		reload_apply(r);
	}
	if (loop_sig_usr1) {
		loop_sig_usr1 = 0;
		loop_wan_up(r);
	}
	if (loop_sig_stop && r->state == RELAY_RUNNING)
		loop_begin_stop(r);
	/*
	 * Before sleep, in this order (docs/design.md, "The loop"):
	 * publish from the queue, and write those publishes at once unless
	 * one carries a QoS 2 packet id not yet stored; commit what this
	 * pass received and stored; only then write the acknowledgements
	 * of what that commit made durable, and the held publishes. A
	 * message may leave before its commit (a crash then sends it
	 * twice, as at-least-once allows); its acknowledgement never does.
	 * The unpacker, and a relay whose store failed lately, write
	 * nothing before the commit: records of a frame whose commit fails
	 * would otherwise go out again with every resend of the frame.
	 */
	forward_pump(r);
	if (r->conf->role == CONF_ROLE_RELAY && r->probe_delay_ms == 0)
		for (side = 0; side < 2; side++)
			if (!r->hold_flush[side])
				link_flush(r->link[side], r->now_ms);
	durable_commit(r);
	for (side = 0; side < 2; side++)
		link_flush(r->link[side], r->now_ms);
	if (r->state != RELAY_RUNNING)
		loop_stop_step(r);
}

int
relay_tls_open(struct relay *r)
{
	const struct conf_broker *b = &r->conf->central;
	struct tls_conf tc;
	struct tls *nt = NULL;
	int rc = 0;

	if (!b->tls.enabled) {
		/* The unpacker's broker is normally on its own site. */
		if (r->conf->role == CONF_ROLE_RELAY)
			log_warn("central broker %s: TLS is off (option tls "
			    "'0'): messages cross the WAN in plain text",
			    b->address[0]);
	} else {
		conf_tls_view(&b->tls, &tc);
		if (tls_new(&nt, &tc, r->err, sizeof(r->err)) != TLS_OK) {
			log_err("central broker: %s", r->err);
			rc = -1;
		}
	}
	/* The central link holds no connection now: swap the context. */
	tls_free(r->tls);
	r->tls = nt;
	return rc;
}

/*
 * Leave root once the queue, the control socket and the TLS keys are open,
 * handing the queue's files and the socket to the user (privdrop.h says
 * how, without following what the user may have put at those paths).
 */
static int
loop_privdrop(struct relay *r)
{
	struct privdrop_own own[4] = {
		{ r->conf->store, "store", PRIVDROP_FILE },
		{ NULL, "store", PRIVDROP_FILE },
		{ NULL, "store", PRIVDROP_FILE },
		{ r->conf->control, "control", PRIVDROP_SOCKET },
	};
	char wal[4096], shm[4096];
	int nw, ns;

	if (r->conf->user[0] == '\0') {
		if (geteuid() == 0)
			log_warn("running as root: set option user in config "
			    "%s to drop privileges after start-up",
			    r->conf->role == CONF_ROLE_UNPACK ? "unpack" :
			    "relay");
		return 0;
	}
	nw = snprintf(wal, sizeof(wal), "%s-wal", r->conf->store);
	ns = snprintf(shm, sizeof(shm), "%s-shm", r->conf->store);
	if (nw < 0 || (size_t)nw >= sizeof(wal) || ns < 0 ||
	    (size_t)ns >= sizeof(shm)) {
		log_err("start: option store: path too long to drop privileges");
		return -1;
	}
	own[1].path = wal;
	own[2].path = shm;
	if (privdrop_to(r->conf->user, own, 4, r->err, sizeof(r->err)) != 0) {
		log_err("start: %s", r->err);
		return -1;
	}
	log_info("running as user %s", r->conf->user);
	return 0;
}

int
relay_batcher_open(struct relay *r)
{
	size_t i;

	batcher_free(r->batcher);
	r->batcher = NULL;
	r->batch_due.armed = 0;
	for (i = 0; i < r->conf->n_uplink; i++)
		if (r->conf->uplink[i].mode == CONF_MODE_BATCH)
			break;
	if (i == r->conf->n_uplink)
		return 0;
	if ((r->batcher = batcher_new(&r->conf->batch, r->conf->id)) == NULL) {
		log_err("batch: out of memory for frames of %d messages",
		    r->conf->batch.max_messages);
		return -1;
	}
	return 0;
}

static int
loop_open(struct relay *r)
{
	struct queue_conf qc;
	int recovered = 0, side;

	qc.path = r->conf->store;
	qc.max_bytes = r->conf->store_max_bytes;
	qc.policy = r->conf->store_full == CONF_DROP_NEWEST ?
	    QUEUE_DROP_NEWEST : QUEUE_DROP_OLDEST;
	qc.sync = (enum queue_sync)r->conf->sync;
	if (queue_open(&r->queue, &qc, &recovered, r->err,
	    sizeof(r->err)) != QUEUE_OK) {
		log_err("%s", r->err);
		return -1;
	}
	if (recovered)
		log_err("%s; started a fresh queue", r->err);
	if (strcmp(queue_journal(r->queue), "wal") == 0)
		log_info("queue %s: journal wal (index in memory, no -shm "
		    "file)", r->conf->store);
	else
		log_warn("queue %s: journal %s, not WAL (WAL could not be "
		    "used on this file system, now or by an earlier run on "
		    "this file): more flash writes per message, see "
		    "docs/openwrt.md", r->conf->store,
		    queue_journal(r->queue));
	queue_set_reserve(r->queue, QUEUE_DOWN, r->conf->store_max_bytes /
	    100 * (uint64_t)r->conf->downlink_reserve);
	if (ctl_listen(&r->ctl, r->conf->control, r->err,
	    sizeof(r->err)) != CTL_OK) {
		log_err("%s", r->err);
		return -1;
	}
	if (pipe2(r->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
		log_err_errno("start: pipe");
		r->wake[0] = r->wake[1] = -1;
		return -1;
	}
	if (relay_tls_open(r) != 0 || loop_privdrop(r) != 0)
		return -1;
	if (relay_batcher_open(r) != 0)
		return -1;
	r->routes = route_new(r->conf);
	for (side = 0; side < 2; side++)
		r->link[side] = link_new((enum link_side)side, RELAY_WINDOW,
		    &forward_link_cbs, r);
	if (r->routes == NULL || r->link[0] == NULL || r->link[1] == NULL) {
		log_err("start: out of memory");
		return -1;
	}
	return 0;
}

static void
loop_close(struct relay *r)
{
	int side;

	/*
	 * Close the connections first: what was taken in but not committed
	 * is committed below, and its acknowledgements are never sent, so
	 * the brokers send it again (counted as redelivered).
	 */
	for (side = 0; side < 2; side++)
		if (r->link[side] != NULL)
			link_drop(r->link[side]);
	if (r->queue != NULL && r->dirty)
		durable_commit(r);
	for (side = 0; side < 2; side++) {
		link_free(r->link[side]);
		free(r->pending[side].v);
	}
	free(r->sent.v);
	free(r->tx2.v);
	/* After the links: a TLS context must outlive its connections. */
	tls_free(r->tls);
	batcher_free(r->batcher);
	queue_free(r->queue);
	unpack_free(r->unpack);		/* after the queue that calls it */
	ctl_free(r->ctl);
	route_free(r->routes);
	flow_free(r);
	loop_sig_fd = -1;
	for (side = 0; side < 2; side++)
		if (r->wake[side] >= 0)
			close(r->wake[side]);
	conf_free(r->conf);
}

static void
loop_start_links(struct relay *r)
{
	int side;
	const struct conf_broker *b;

	for (side = 0; side < 2; side++) {
		if (!relay_has_link(r, (enum link_side)side))
			continue;
		b = side == LINK_LOCAL ? &r->conf->local : &r->conf->central;
		backoff_init(&r->backoff[side],
		    (int64_t)b->reconnect_min * 1000,
		    (int64_t)b->reconnect_max * 1000,
		    (uint64_t)clock_wall_ms() ^ ((uint64_t)getpid() << 16) ^
		    (uint64_t)side);
		forward_connect(r, (enum link_side)side);
	}
}

int
relay_run(struct conf *c)
{
	struct relay *r;
	int rc = 1;

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		log_err("start: out of memory");
		conf_free(c);
		return 1;
	}
	r->conf = c;
	r->wake[0] = r->wake[1] = -1;
	r->now_ms = r->started_ms = clock_mono_ms();
	r->down_since_ms[LINK_LOCAL] = r->down_since_ms[LINK_CENTRAL] =
	    r->started_ms;
	r->wan_lost_ms = -1;
	if (loop_open(r) == 0) {
		loop_signals(r);
		qos2_restore(r);
		log_info("%s %s started (pid %d)", relay_role_name(r), c->id,
		    (int)getpid());
		loop_start_links(r);
		relay_timer_arm(r, &r->expire, RELAY_EXPIRE_EVERY_MS);
		while (r->state != RELAY_DONE)
			loop_iterate(r);
		log_info("%s stopped", relay_role_name(r));
		rc = 0;
	}
	loop_close(r);
	free(r);
	return rc;
}
