/* ackgate: frames Paho's outgoing MQTT bytes and holds PUBACK/PUBREC. */
#include <assert.h>
#include <string.h>

#include "platform/ackgate.h"

#define ACKGATE_PUBACK	4
#define ACKGATE_PUBREC	5
#define ACKGATE_VARINT_MAX 4	/* MQTT: at most 4 remaining-length bytes */
#define ACKGATE_CREDIT_MAX 255

static const char *const ackgate_errstr[] = {
	[0] = "success",
	[-ACKGATE_ERR_MALFORMED] = "malformed MQTT stream",
};
_Static_assert(sizeof(ackgate_errstr) / sizeof(ackgate_errstr[0]) ==
    ACKGATE_ERR__COUNT + 1, "ackgate_errstr does not match enum ackgate_err");

const char *
ackgate_strerror(int err)
{
	if (err > 0 || -err > ACKGATE_ERR__COUNT)
		return "unknown ackgate error";
	return ackgate_errstr[-err];
}

void
ackgate_init(struct ackgate *g, int64_t hold_max_ms)
{
	g->hold_max_ms = hold_max_ms > 0 ? hold_max_ms : 1;
	memset(&g->stats, 0, sizeof(g->stats));
	ackgate_reset(g);
}

void
ackgate_reset(struct ackgate *g)
{
	g->stage = ACKGATE_ST_HEADER;
	g->type = 0;
	g->len_bytes = 0;
	g->id_bytes = 0;
	g->id = 0;
	g->remaining = 0;
	g->releasable = 0;
	g->pending = 0;
	g->held_since_ms = 0;
	memset(g->credit, 0, sizeof(g->credit));
}

static int
ackgate_is_ack(const struct ackgate *g)
{
	return g->type == ACKGATE_PUBACK || g->type == ACKGATE_PUBREC;
}

/* Account for k parsed bytes of the current packet. */
static void
ackgate_take(struct ackgate *g, uint64_t k)
{
	if (ackgate_is_ack(g))
		g->pending += k;
	else
		g->releasable += k;
}

/* Let the held (or just framed) acknowledgement go. */
static void
ackgate_release(struct ackgate *g, int64_t now_ms)
{
	int64_t held;

	if (g->stage == ACKGATE_ST_HELD) {
		held = now_ms - g->held_since_ms;
		if (held > g->stats.hold_ms_max)
			g->stats.hold_ms_max = held;
	}
	g->releasable += g->pending;
	g->pending = 0;
	g->stage = ACKGATE_ST_HEADER;
}

/* The current packet is complete: pass it, or hold it. */
static void
ackgate_end_packet(struct ackgate *g, int64_t now_ms)
{
	g->stats.packets++;
	g->stage = ACKGATE_ST_HEADER;
	if (!ackgate_is_ack(g))
		return;
	g->stats.acks++;
	if (g->credit[g->id] > 0) {
		g->credit[g->id]--;
		g->stats.acks_credited++;
		ackgate_release(g, now_ms);
		return;
	}
	g->stats.acks_held++;
	g->stage = ACKGATE_ST_HELD;
	g->held_since_ms = now_ms;
}

static int
ackgate_on_header(struct ackgate *g, uint8_t b)
{
	g->type = b >> 4;
	if (g->type == 0)
		return ACKGATE_ERR_MALFORMED;
	ackgate_take(g, 1);
	g->remaining = 0;
	g->len_bytes = 0;
	g->stage = ACKGATE_ST_LENGTH;
	return ACKGATE_OK;
}

static int
ackgate_on_length(struct ackgate *g, uint8_t b, int64_t now_ms)
{
	g->remaining |= (uint32_t)(b & 0x7f) << (7 * g->len_bytes);
	g->len_bytes++;
	ackgate_take(g, 1);
	if ((b & 0x80) != 0)
		return g->len_bytes < ACKGATE_VARINT_MAX ? ACKGATE_OK :
		    ACKGATE_ERR_MALFORMED;
	if (ackgate_is_ack(g)) {
		if (g->remaining < 2)
			return ACKGATE_ERR_MALFORMED;
		g->id = 0;
		g->id_bytes = 0;
		g->stage = ACKGATE_ST_ID;
	} else if (g->remaining == 0)
		ackgate_end_packet(g, now_ms);
	else
		g->stage = ACKGATE_ST_BODY;
	return ACKGATE_OK;
}

static void
ackgate_on_id(struct ackgate *g, uint8_t b, int64_t now_ms)
{
	g->id = (uint16_t)(g->id << 8 | b);
	g->id_bytes++;
	g->remaining--;
	ackgate_take(g, 1);
	if (g->id_bytes < 2)
		return;
	if (g->remaining == 0)
		ackgate_end_packet(g, now_ms);
	else
		g->stage = ACKGATE_ST_BODY;
}

/* Skip up to n body bytes; returns how many. */
static size_t
ackgate_on_body(struct ackgate *g, size_t n, int64_t now_ms)
{
	size_t k = n < g->remaining ? n : g->remaining;

	g->remaining -= (uint32_t)k;
	ackgate_take(g, k);
	if (g->remaining == 0)
		ackgate_end_packet(g, now_ms);
	return k;
}

int
ackgate_feed(struct ackgate *g, const uint8_t *p, size_t n,
    int64_t now_ms, size_t *consumed)
{
	size_t i = 0;
	int rc = ACKGATE_OK;

	while (i < n && rc == ACKGATE_OK) {
		switch (g->stage) {
		case ACKGATE_ST_HEADER:
			rc = ackgate_on_header(g, p[i++]);
			break;
		case ACKGATE_ST_LENGTH:
			rc = ackgate_on_length(g, p[i++], now_ms);
			break;
		case ACKGATE_ST_ID:
			ackgate_on_id(g, p[i++], now_ms);
			break;
		case ACKGATE_ST_BODY:
			i += ackgate_on_body(g, n - i, now_ms);
			break;
		case ACKGATE_ST_HELD:
			*consumed = i;
			return ACKGATE_OK;
		case ACKGATE_ST_ERROR:
			rc = ACKGATE_ERR_MALFORMED;
			break;
		}
	}
	if (rc != ACKGATE_OK) {
		g->stage = ACKGATE_ST_ERROR;
		g->pending = 0;
	}
	*consumed = i;
	return rc;
}

uint64_t
ackgate_releasable(const struct ackgate *g)
{
	return g->releasable;
}

void
ackgate_consume(struct ackgate *g, uint64_t n)
{
	assert(n <= g->releasable);
	g->releasable -= n <= g->releasable ? n : g->releasable;
}

void
ackgate_durable(struct ackgate *g, uint16_t packet_id, int64_t now_ms)
{
	if (packet_id == 0)
		return;
	if (g->stage == ACKGATE_ST_HELD && g->id == packet_id) {
		ackgate_release(g, now_ms);
		return;
	}
	if (g->credit[packet_id] < ACKGATE_CREDIT_MAX)
		g->credit[packet_id]++;
}

int64_t
ackgate_deadline(const struct ackgate *g)
{
	if (g->stage != ACKGATE_ST_HELD)
		return -1;
	return g->held_since_ms + g->hold_max_ms;
}

int
ackgate_valve(struct ackgate *g, int64_t now_ms)
{
	if (g->stage != ACKGATE_ST_HELD ||
	    now_ms < g->held_since_ms + g->hold_max_ms)
		return 0;
	g->stats.valve_releases++;
	ackgate_release(g, now_ms);
	return 1;
}

int32_t
ackgate_held_id(const struct ackgate *g)
{
	return g->stage == ACKGATE_ST_HELD ? (int32_t)g->id : -1;
}

void
ackgate_stats(const struct ackgate *g, struct ackgate_stats *out)
{
	*out = g->stats;
}
