/*
 * Unit tests for platform/tunnel: real sockets on loopback, a fake broker,
 * and a client that speaks HTTP CONNECT the way Paho 1.3.11 does. The test
 * drives the tunnel itself: poll() on tunnel_pollfds(), then dispatch.
 */
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
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "platform/tunnel.h"

#define WAIT_MS	3000

struct fx {
	struct tunnel *t;
	int broker_listen;
	uint16_t broker_port;
	int broker;		/* the tunnel's connection, as the broker sees it */
	int client;		/* Paho's side */
	char token[64];		/* the right Basic token */
	char events[2048];	/* every event text, one per line */
	uint8_t got[1 << 21];	/* bytes received by whoever we wait on */
	size_t got_len;
};

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
on_event(void *arg, enum tunnel_event ev, const char *text)
{
	struct fx *f = arg;
	size_t k = strlen(f->events);

	(void)ev;
	snprintf(f->events + k, sizeof(f->events) - k, "%s\n", text);
}

/* An independent base64, so that the test checks the tunnel's. */
static void
b64(const char *in, char *out)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = strlen(in), i, j = 0;
	uint32_t v;

	for (i = 0; i < n; i += 3) {
		v = (uint32_t)(uint8_t)in[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)(uint8_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= (uint8_t)in[i + 2];
		out[j++] = tab[v >> 18];
		out[j++] = tab[(v >> 12) & 63];
		out[j++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		out[j++] = i + 2 < n ? tab[v & 63] : '=';
	}
	out[j] = '\0';
}

static int
listen_any(uint16_t *port)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	assert_true(fd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 8), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

static int
connect_to(uint16_t port)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(port);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	return fd;
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[256], target[64], cred[80];
	const char *targets[2], *url, *at;

	assert_non_null(f);
	assert_int_equal(tunnel_new(&f->t, "test", err, sizeof(err)),
	    TUNNEL_OK);
	tunnel_set_event_cb(f->t, on_event, f);
	f->broker_listen = listen_any(&f->broker_port);
	snprintf(target, sizeof(target), "127.0.0.1:%u", f->broker_port);
	targets[0] = "broker.example:8883";
	targets[1] = target;
	assert_int_equal(tunnel_set_targets(f->t, targets, 2), TUNNEL_OK);
	url = tunnel_proxy_url(f->t);
	assert_int_equal(strncmp(url, "http://pushrelay:", 17), 0);
	at = strchr(url, '@');
	assert_non_null(at);
	assert_int_equal(at - (url + 17), 32);	/* 16 bytes in hex */
	snprintf(cred, sizeof(cred), "%.*s", (int)(at - url - 7), url + 7);
	b64(cred, f->token);
	snprintf(target, sizeof(target), "@127.0.0.1:%u", tunnel_port(f->t));
	assert_string_equal(at, target);
	f->broker = f->client = -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	tunnel_free(f->t);
	close(f->broker_listen);
	if (f->broker >= 0)
		close(f->broker);
	if (f->client >= 0)
		close(f->client);
	free(f);
	return 0;
}

/* One round: poll the tunnel (at most 10 ms), dispatch, flush deadlines. */
static void
turn(struct tunnel *t)
{
	struct pollfd pfd[TUNNEL_POLLFDS];
	size_t n = tunnel_pollfds(t, pfd);
	int64_t dl;

	assert_true(poll(pfd, n, 10) >= 0);
	tunnel_dispatch(t, pfd, n, now_ms());
	dl = tunnel_next_deadline(t);
	if (dl >= 0 && now_ms() >= dl)
		tunnel_flush(t, now_ms());
}

/* Drive the tunnel until fd has sent want bytes (or EOF, if want is 0). */
static int
collect(struct fx *f, int fd, size_t want, int64_t ms)
{
	int64_t end = now_ms() + ms;
	ssize_t k;

	f->got_len = 0;
	while (now_ms() < end) {
		turn(f->t);
		k = recv(fd, f->got + f->got_len, sizeof(f->got) - f->got_len,
		    MSG_DONTWAIT);
		if (k > 0)
			f->got_len += (size_t)k;
		if (k == 0)
			return -1;			/* EOF */
		if (k < 0 && errno != EAGAIN)
			return -2;			/* reset */
		if (want > 0 && f->got_len >= want)
			return 0;
	}
	return 1;					/* timed out */
}

static void
send_all(int fd, const void *p, size_t n)
{
	assert_int_equal(send(fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

static void
send_request(struct fx *f, const char *host, unsigned port,
    const char *token)
{
	char req[512];

	/* Byte for byte what Paho's Proxy_connect() sends. */
	if (token != NULL)
		snprintf(req, sizeof(req), "CONNECT %s:%u HTTP/1.1\r\n"
		    "Host: %s\r\nProxy-authorization: Basic %s\r\n\r\n", host,
		    port, host, token);
	else
		snprintf(req, sizeof(req), "CONNECT %s:%u HTTP/1.1\r\n"
		    "Host: %s\r\n\r\n", host, port, host);
	send_all(f->client, req, strlen(req));
}

/* Client connects and asks for the broker; the tunnel opens. */
static void
open_tunnel(struct fx *f)
{
	static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
	int64_t end = now_ms() + WAIT_MS;

	f->client = connect_to(tunnel_port(f->t));
	send_request(f, "127.0.0.1", f->broker_port, f->token);
	assert_int_equal(collect(f, f->client, strlen(ok), WAIT_MS), 0);
	assert_int_equal(f->got_len, strlen(ok));
	assert_memory_equal(f->got, ok, strlen(ok));
	while (f->broker < 0 && now_ms() < end) {
		turn(f->t);
		f->broker = accept4(f->broker_listen, NULL, NULL,
		    SOCK_NONBLOCK);
	}
	assert_true(f->broker >= 0);
}

static void
test_bytes_flow(void **state)
{
	static const uint8_t connect[] = { 0x10, 12, 0, 4, 'M', 'Q', 'T', 'T',
	    4, 2, 0, 60, 0, 0 };
	static const uint8_t connack[] = { 0x20, 2, 0, 0 };
	struct fx *f = *state;
	struct tunnel_stats st;

	open_tunnel(f);
	send_all(f->client, connect, sizeof(connect));
	assert_int_equal(collect(f, f->broker, sizeof(connect), WAIT_MS), 0);
	assert_memory_equal(f->got, connect, sizeof(connect));
	send_all(f->broker, connack, sizeof(connack));
	assert_int_equal(collect(f, f->client, sizeof(connack), WAIT_MS), 0);
	assert_memory_equal(f->got, connack, sizeof(connack));
	tunnel_stats(f->t, &st);
	assert_int_equal(st.connections, 1);
	assert_int_equal(st.bytes_up, sizeof(connect));
	assert_int_equal(st.bytes_down, 39 + sizeof(connack));	/* 200 too */
	assert_int_equal(st.refused_total, 0);
	assert_non_null(strstr(f->events, "connected to broker 127.0.0.1:"));
}

static void
expect_refused(struct fx *f, const char *reply, enum tunnel_refusal r)
{
	struct tunnel_stats st;

	assert_int_equal(collect(f, f->client, 0, WAIT_MS), -1);
	assert_true(f->got_len >= strlen(reply));
	assert_memory_equal(f->got, reply, strlen(reply));
	tunnel_stats(f->t, &st);
	assert_int_equal(st.refused[r], 1);
	assert_int_equal(st.refused_total, 1);
	assert_non_null(strstr(f->events, tunnel_refusal_str(r)));
	/* Nothing reached the broker. */
	assert_true(accept4(f->broker_listen, NULL, NULL, 0) < 0);
	assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
}

static void
test_wrong_secret(void **state)
{
	struct fx *f = *state;
	char bad[64], secret[33];

	snprintf(secret, sizeof(secret), "%s",
	    strstr(tunnel_proxy_url(f->t), "pushrelay:") + 10);
	b64("pushrelay:00000000000000000000000000000000", bad);
	f->client = connect_to(tunnel_port(f->t));
	send_request(f, "127.0.0.1", f->broker_port, bad);
	expect_refused(f, "HTTP/1.1 407 ", TUNNEL_REF_AUTH);
	/* The texts never carry the secret. */
	assert_int_equal(strlen(secret), 32);
	assert_null(strstr(f->events, secret));
}

static void
test_no_credentials(void **state)
{
	struct fx *f = *state;

	f->client = connect_to(tunnel_port(f->t));
	send_request(f, "127.0.0.1", f->broker_port, NULL);
	expect_refused(f, "HTTP/1.1 407 ", TUNNEL_REF_AUTH);
}

static void
test_target_not_listed(void **state)
{
	struct fx *f = *state;

	f->client = connect_to(tunnel_port(f->t));
	send_request(f, "127.0.0.1", (unsigned)f->broker_port + 1, f->token);
	expect_refused(f, "HTTP/1.1 403 ", TUNNEL_REF_TARGET);
}

static void
test_not_connect(void **state)
{
	static const char get[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	struct fx *f = *state;

	f->client = connect_to(tunnel_port(f->t));
	send_all(f->client, get, strlen(get));
	expect_refused(f, "HTTP/1.1 400 ", TUNNEL_REF_REQUEST);
}

static void
test_puback_held(void **state)
{
	static const uint8_t puback5[] = { 0x40, 2, 0, 5, 0xC0, 0 };
	static const uint8_t puback6[] = { 0x40, 2, 0, 6 };
	struct fx *f = *state;
	struct tunnel_stats st;
	int64_t dl;

	open_tunnel(f);
	send_all(f->client, puback5, sizeof(puback5));
	assert_int_equal(collect(f, f->broker, 1, 200), 1);
	assert_int_equal(f->got_len, 0);	/* held, PINGREQ behind it */
	dl = tunnel_next_deadline(f->t);
	assert_true(dl > now_ms() + 500);
	tunnel_durable(f->t, 5, now_ms());
	assert_int_equal(collect(f, f->broker, sizeof(puback5), WAIT_MS), 0);
	assert_memory_equal(f->got, puback5, sizeof(puback5));
	assert_int_equal(tunnel_next_deadline(f->t), -1);
	/* No credit: only the valve lets PUBACK 6 go. */
	send_all(f->client, puback6, sizeof(puback6));
	assert_int_equal(collect(f, f->broker, 1, 100), 1);
	dl = tunnel_next_deadline(f->t);
	assert_true(dl > 0);
	tunnel_flush(f->t, dl - 1);
	assert_int_equal(collect(f, f->broker, 1, 50), 1);
	tunnel_flush(f->t, dl);
	assert_int_equal(collect(f, f->broker, sizeof(puback6), WAIT_MS), 0);
	tunnel_stats(f->t, &st);
	assert_int_equal(st.gate.valve_releases, 1);
	assert_int_equal(st.gate.acks_held, 2);
}

static void
test_second_client_refused(void **state)
{
	static const uint8_t ping[] = { 0xC0, 0 };
	struct fx *f = *state;
	struct tunnel_stats st;
	int second;

	open_tunnel(f);
	second = connect_to(tunnel_port(f->t));
	assert_int_equal(collect(f, second, 0, WAIT_MS), -1);	/* closed */
	close(second);
	tunnel_stats(f->t, &st);
	assert_int_equal(st.refused[TUNNEL_REF_BUSY], 1);
	send_all(f->client, ping, sizeof(ping));	/* first one still works */
	assert_int_equal(collect(f, f->broker, sizeof(ping), WAIT_MS), 0);
}

static void
test_request_timeout(void **state)
{
	struct fx *f = *state;
	struct tunnel_stats st;
	int64_t dl;

	f->client = connect_to(tunnel_port(f->t));
	send_all(f->client, "CONNECT ", 8);
	assert_int_equal(collect(f, f->client, 1, 100), 1);
	dl = tunnel_next_deadline(f->t);
	assert_true(dl > 0);
	tunnel_flush(f->t, dl);
	assert_int_equal(collect(f, f->client, 0, WAIT_MS), -1);
	tunnel_stats(f->t, &st);
	assert_int_equal(st.refused[TUNNEL_REF_TIMEOUT], 1);
}

static void
test_broker_unreachable(void **state)
{
	static const char bad[] = "HTTP/1.1 502 ";
	struct fx *f = *state;
	struct tunnel_stats st;
	char target[32];
	const char *targets[1] = { target };
	uint16_t port;

	close(listen_any(&port));	/* a port where nobody listens */
	snprintf(target, sizeof(target), "127.0.0.1:%u", port);
	assert_int_equal(tunnel_set_targets(f->t, targets, 1), TUNNEL_OK);
	f->client = connect_to(tunnel_port(f->t));
	send_request(f, "127.0.0.1", port, f->token);
	assert_int_equal(collect(f, f->client, 0, WAIT_MS), -1);
	assert_memory_equal(f->got, bad, strlen(bad));
	tunnel_stats(f->t, &st);
	assert_int_equal(st.connect_failed, 1);
}

/* The broker says something and closes: Paho still gets all of it. */
static void
test_broker_closes(void **state)
{
	static const uint8_t disc[] = { 0xE0, 0 };
	struct fx *f = *state;

	open_tunnel(f);
	send_all(f->broker, disc, sizeof(disc));
	close(f->broker);
	f->broker = -1;
	assert_int_equal(collect(f, f->client, 0, WAIT_MS), -1);
	assert_int_equal(f->got_len, sizeof(disc));
	assert_memory_equal(f->got, disc, sizeof(disc));
}

/* Paho writes a PUBACK and leaves: it still reaches the broker. */
static void
test_client_closes(void **state)
{
	static const uint8_t bytes[] = { 0x40, 2, 0, 9, 0xE0, 0 };
	struct fx *f = *state;

	open_tunnel(f);
	send_all(f->client, bytes, sizeof(bytes));
	close(f->client);
	f->client = -1;
	assert_int_equal(collect(f, f->broker, 1, 100), 1);
	tunnel_durable(f->t, 9, now_ms());
	assert_int_equal(collect(f, f->broker, 0, WAIT_MS), -1);
	assert_int_equal(f->got_len, sizeof(bytes));
}

/* A 1 MiB PUBLISH each way through the 64 KiB buffers, intact. */
static void
test_big_transfer(void **state)
{
	const size_t body = 1u << 20;
	struct fx *f = *state;
	uint8_t *pkt = malloc(body + 4);
	size_t sent = 0, i;
	ssize_t k;
	int dir;

	assert_non_null(pkt);
	pkt[0] = 0x30;		/* PUBLISH, remaining length 2^20 */
	pkt[1] = 0x80;
	pkt[2] = 0x80;
	pkt[3] = 0x40;
	for (i = 4; i < body + 4; i++)
		pkt[i] = (uint8_t)(i * 7);
	open_tunnel(f);
	for (dir = 0; dir < 2; dir++) {
		int src = dir == 0 ? f->client : f->broker;
		int dst = dir == 0 ? f->broker : f->client;
		int64_t end = now_ms() + WAIT_MS;

		f->got_len = sent = 0;
		while (f->got_len < body + 4 && now_ms() < end) {
			k = send(src, pkt + sent, body + 4 - sent,
			    MSG_DONTWAIT | MSG_NOSIGNAL);
			if (k > 0)
				sent += (size_t)k;
			turn(f->t);
			k = recv(dst, f->got + f->got_len,
			    sizeof(f->got) - f->got_len, MSG_DONTWAIT);
			if (k > 0)
				f->got_len += (size_t)k;
		}
		assert_int_equal(f->got_len, body + 4);
		assert_memory_equal(f->got, pkt, body + 4);
	}
	free(pkt);
}

static void
test_targets_and_strings(void **state)
{
	struct fx *f = *state;
	const char *bad1[] = { "no-port" };
	const char *bad2[] = { "host:0" };
	const char *bad3[] = { ":1883" };
	const char *good[] = { "[::1]:1883", "Broker.Example:8883" };

	assert_int_equal(tunnel_set_targets(f->t, bad1, 1), TUNNEL_ERR_INVAL);
	assert_int_equal(tunnel_set_targets(f->t, bad2, 1), TUNNEL_ERR_INVAL);
	assert_int_equal(tunnel_set_targets(f->t, bad3, 1), TUNNEL_ERR_INVAL);
	assert_int_equal(tunnel_set_targets(f->t, good, 2), TUNNEL_OK);
	assert_string_equal(tunnel_strerror(TUNNEL_ERR_INVAL),
	    "invalid argument");
	assert_string_equal(tunnel_strerror(-42), "unknown tunnel error");
	assert_string_equal(tunnel_refusal_str(TUNNEL_REF_BUSY),
	    "another connection is active");
	tunnel_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bytes_flow, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_wrong_secret, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_no_credentials, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_target_not_listed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_not_connect, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_puback_held, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_second_client_refused,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_timeout, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_broker_unreachable, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_broker_closes, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_client_closes, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_big_transfer, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_targets_and_strings, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
