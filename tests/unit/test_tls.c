/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for platform/tls: real Mosquitto TLS listeners (and one
 * `openssl s_server` for ALPN), certificates made here with the openssl
 * command. Each case drives the transport itself (handshake, an MQTT
 * CONNECT, its CONNACK), as relay/link.c does.
 * Every wait polls with a deadline; nothing sleeps.
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
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * suite_is_strong() judges suites by mbedTLS's own description of them,
 * whose fields 3.x marks private (no accessor exists for the key
 * exchange): this test, not the relay, reads them.
 */
#define MBEDTLS_ALLOW_PRIVATE_ACCESS
#include <mbedtls/cipher.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_ciphersuites.h>
#include <mbedtls/version.h>

#include "platform/clock.h"
#include "platform/tls.h"

#define WAIT_MS		5000

/*
 * mbedTLS 3.x (3.6 tested) adds three TLS 1.3 suites to the certificate
 * mode offer, and speaks TLS 1.3 to the Mosquitto listeners here.
 */
#if MBEDTLS_VERSION_NUMBER >= 0x03000000 && defined(MBEDTLS_SSL_PROTO_TLS1_3)
#define TLS13_SUITES	3
#else
#define TLS13_SUITES	0
#endif
#define PSK_HEX		"00112233445566778899aabbccddeeff"
#define PSK_ID		"gw1"

enum { P_OK, P_EXP, P_MTLS, P_PSK, P__COUNT };

static char dir[64];
static uint16_t port[P__COUNT];
static char pin_srv[64];	/* base64 SHA-256 of the server's SPKI */
static char pin_ca[64];		/* another key's pin */

static char *
path(const char *name)
{
	static char buf[8][128];
	static int i;

	i = (i + 1) % 8;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
	return buf[i];
}

static void
write_file(const char *name, const char *text)
{
	FILE *f = fopen(path(name), "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void __attribute__((format(printf, 1, 2)))
sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int k;

	k = snprintf(cmd, sizeof(cmd), "cd %s && (", dir);
	va_start(ap, fmt);
	vsnprintf(cmd + k, sizeof(cmd) - (size_t)k, fmt, ap);
	va_end(ap);
	strncat(cmd, ") >/dev/null 2>&1", sizeof(cmd) - strlen(cmd) - 1);
	if (system(cmd) != 0)
		fail_msg("command failed: %s", cmd);
}

static void
read_line(const char *name, char *buf, size_t cap)
{
	FILE *f = fopen(path(name), "r");

	assert_non_null(f);
	assert_non_null(fgets(buf, (int)cap, f));
	buf[strcspn(buf, "\r\n")] = '\0';
	fclose(f);
}

#define EC "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"

/* CA, other CA, server (IP and DNS SAN), expired server, client. */
static void
make_certs(void)
{
	write_file("ext.cnf",
	    "[ca]\nbasicConstraints=critical,CA:TRUE\n"
	    "keyUsage=critical,keyCertSign,cRLSign\n"
	    "[srv]\nbasicConstraints=CA:FALSE\n"
	    "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
	    "[cli]\nbasicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n");
	sh("openssl req -x509 " EC " -keyout ca.key -out ca.crt "
	    "-subj '/CN=Test CA' -days 30 -config ext.cnf -extensions ca");
	sh("openssl req -x509 " EC " -keyout ca2.key -out ca2.crt "
	    "-subj '/CN=Other CA' -days 30 -config ext.cnf -extensions ca");
	sh("openssl req -new " EC " -keyout srv.key -out srv.csr "
	    "-subj /CN=localhost -config ext.cnf");
	sh("openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key "
	    "-set_serial 2 -days 30 -extfile ext.cnf -extensions srv "
	    "-out srv.crt");
	/* -days -1: valid from now until yesterday, i.e. expired. */
	sh("openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key "
	    "-set_serial 3 -days -1 -extfile ext.cnf -extensions srv "
	    "-out exp.crt");
	sh("openssl req -new " EC " -keyout cli.key -out cli.csr "
	    "-subj /CN=gateway1 -config ext.cnf");
	sh("openssl x509 -req -in cli.csr -CA ca.crt -CAkey ca.key "
	    "-set_serial 4 -days 30 -extfile ext.cnf -extensions cli "
	    "-out cli.crt");
	sh("openssl x509 -in srv.crt -pubkey -noout | openssl pkey -pubin "
	    "-outform der | openssl dgst -sha256 -binary | base64 > srv.pin");
	sh("openssl x509 -in ca.crt -pubkey -noout | openssl pkey -pubin "
	    "-outform der | openssl dgst -sha256 -binary | base64 > ca.pin");
	read_line("srv.pin", pin_srv, sizeof(pin_srv));
	read_line("ca.pin", pin_ca, sizeof(pin_ca));
	write_file("psk.txt", PSK_ID ":" PSK_HEX "\n");
}

static uint16_t
free_port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	return ntohs(sin.sin_port);
}

/* A child process: its pid, its output pipe, its (open) stdin pipe. */
struct proc {
	pid_t pid;
	int out;
	int in;
};

/*
 * Start argv with stdout and stderr on a pipe and stdin on a pipe that
 * stays open (s_server quits at the end of its input); wait until the
 * output holds ready (or fail at the deadline).
 */
static void
spawn_until(char *const argv[], const char *ready, struct proc *pr)
{
	char buf[8192];
	size_t len = 0;
	int p[2], in[2];
	pid_t pid;
	int64_t end = clock_mono_ms() + WAIT_MS;
	struct pollfd pfd;
	ssize_t n;

	assert_int_equal(pipe(p), 0);
	assert_int_equal(pipe(in), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(p[1], 1);
		dup2(p[1], 2);
		close(p[0]);
		close(in[1]);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	close(in[0]);
	pr->pid = pid;
	pr->out = p[0];
	pr->in = in[1];
	pfd.fd = p[0];
	pfd.events = POLLIN;
	while (clock_mono_ms() < end && len < sizeof(buf) - 1) {
		if (poll(&pfd, 1, (int)(end - clock_mono_ms())) <= 0)
			continue;
		if ((n = read(p[0], buf + len, sizeof(buf) - 1 - len)) <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		if (strstr(buf, ready) != NULL)
			return;
	}
	buf[len] = '\0';
	fail_msg("%s did not get ready: %s", argv[0], buf);
}

static struct proc broker = { -1, -1, -1 };

static int
group_setup(void **state)
{
	char conf[4096];
	char *argv[] = { "mosquitto", "-c", NULL, NULL };
	const char *tmp = getenv("TMPDIR");
	int i;

	(void)state;
	/* $TMPDIR as in queue_test.h: cross-test points it at a tmpfs. */
	if ((size_t)snprintf(dir, sizeof(dir), "%s/test_tls.XXXXXX",
	    tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp") >= sizeof(dir) ||
	    mkdtemp(dir) == NULL)
		return -1;
	make_certs();
	for (i = 0; i < P__COUNT; i++)
		port[i] = free_port();
	snprintf(conf, sizeof(conf),
	    "user root\nlog_dest stderr\nallow_anonymous true\n"
	    "listener %u 127.0.0.1\ncertfile %s\nkeyfile %s\n"
	    "listener %u 127.0.0.1\ncertfile %s\nkeyfile %s\n"
	    "listener %u 127.0.0.1\ncertfile %s\nkeyfile %s\ncafile %s\n"
	    "require_certificate true\n"
	    "listener %u 127.0.0.1\npsk_hint hint\npsk_file %s\n",
	    port[P_OK], path("srv.crt"), path("srv.key"),
	    port[P_EXP], path("exp.crt"), path("srv.key"),
	    port[P_MTLS], path("srv.crt"), path("srv.key"), path("ca.crt"),
	    port[P_PSK], path("psk.txt"));
	write_file("mosquitto.conf", conf);
	argv[2] = path("mosquitto.conf");
	spawn_until(argv, " running", &broker);
	return 0;
}

static void
stop(struct proc *pr)
{
	if (pr->pid > 0) {
		kill(pr->pid, SIGTERM);
		waitpid(pr->pid, NULL, 0);
	}
	if (pr->out >= 0)
		close(pr->out);
	if (pr->in >= 0)
		close(pr->in);
	pr->pid = pr->out = pr->in = -1;
}

static int
group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	stop(&broker);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* A non-blocking TCP connection to 127.0.0.1:p, connected. */
static int
tcp_connect(uint16_t p)
{
	struct sockaddr_in sin;
	struct pollfd pfd;
	int fd, soerr = 0;
	socklen_t len = sizeof(soerr);

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	assert_true(fd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(p);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		assert_int_equal(errno, EINPROGRESS);
		pfd.fd = fd;
		pfd.events = POLLOUT;
		assert_int_equal(poll(&pfd, 1, WAIT_MS), 1);
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
		assert_int_equal(soerr, 0);
	}
	return fd;
}

/* One connection through the transport. */
struct conn {
	struct tls *tls;
	const struct transport_ops *ops;
	void *ctx;
	int fd;
	char err[TLS_ERR_MAX];
};

/* Wrap fd and run the handshake to its end; returns its result. */
static int
handshake(struct tls *t, uint16_t p, const char *host, struct conn *c)
{
	int64_t end = clock_mono_ms() + WAIT_MS, deadline;
	struct pollfd pfd;
	short ev;
	int rc;

	c->fd = tcp_connect(p);
	c->err[0] = '\0';
	assert_int_equal(tls_wrap(t, c->fd, host, &c->ops, &c->ctx, c->err,
	    sizeof(c->err)), 0);
	for (;;) {
		rc = c->ops->handshake(c->ctx, clock_mono_ms(), &ev, &deadline,
		    c->err, sizeof(c->err));
		if (rc != TRANSPORT_IO_AGAIN || clock_mono_ms() >= end)
			return rc;
		assert_true(ev != 0);
		assert_true(deadline > clock_mono_ms() - 1);
		pfd.fd = c->fd;
		pfd.events = ev;
		(void)poll(&pfd, 1, (int)(end - clock_mono_ms()));
	}
}

/* MQTT 3.1.1 CONNECT, client id "t", clean session. */
static const uint8_t mqtt_connect[] = {
	0x10, 13, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 60, 0, 1, 't'
};

/* Send CONNECT through the session and expect CONNACK 0. */
static void
mqtt_roundtrip(struct conn *c)
{
	uint8_t got[4];
	size_t off = 0, len = 0;
	int64_t end = clock_mono_ms() + WAIT_MS;
	struct pollfd pfd = { .fd = c->fd };
	ssize_t n;

	while (off < sizeof(mqtt_connect) && clock_mono_ms() < end) {
		n = c->ops->write(c->ctx, mqtt_connect + off,
		    sizeof(mqtt_connect) - off);
		if (n > 0)
			off += (size_t)n;
		else {
			assert_int_equal(n, TRANSPORT_IO_AGAIN);
			pfd.events = POLLOUT;
			(void)poll(&pfd, 1, 100);
		}
	}
	while (len < sizeof(got) && clock_mono_ms() < end) {
		n = c->ops->read(c->ctx, got + len, sizeof(got) - len);
		if (n > 0)
			len += (size_t)n;
		else {
			assert_int_equal(n, TRANSPORT_IO_AGAIN);
			pfd.events = POLLIN;
			(void)poll(&pfd, 1, (int)(end - clock_mono_ms()));
		}
	}
	assert_int_equal(len, 4);
	assert_int_equal(got[0], 0x20);
	assert_int_equal(got[1], 0x02);
	assert_int_equal(got[3], 0x00);
}

static struct tls *
new_tls(const struct tls_conf *cf)
{
	char err[TLS_ERR_MAX];
	struct tls *t = NULL;

	if (tls_new(&t, cf, err, sizeof(err)) != TLS_OK)
		fail_msg("tls_new: %s", err);
	return t;
}

/*
 * TLS 1.3: the client's handshake is over after its Finished; the server
 * judges the client's certificate after that, and a refusal arrives on
 * the first read. Send CONNECT and read until the session fails.
 */
static int
refused_after(struct conn *c)
{
	int64_t end = clock_mono_ms() + WAIT_MS;
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	uint8_t got[4];
	ssize_t n;

	(void)c->ops->write(c->ctx, mqtt_connect, sizeof(mqtt_connect));
	while (clock_mono_ms() < end) {
		n = c->ops->read(c->ctx, got, sizeof(got));
		if (n == TRANSPORT_IO_ERR) {
			snprintf(c->err, sizeof(c->err), "%s",
			    tls_last_error(c->tls));
			return n;
		}
		assert_int_equal(n, TRANSPORT_IO_AGAIN);
		(void)poll(&pfd, 1, (int)(end - clock_mono_ms()));
	}
	return 0;
}

/* Connect; expect failure whose reason holds each of the texts. */
static void
expect_refused(const struct tls_conf *cf, uint16_t p, const char *host,
    const char *const *texts)
{
	struct tls *t = new_tls(cf);
	struct tls_stats st;
	struct conn c;
	int rc;

	c.tls = t;
	rc = handshake(t, p, host, &c);
	if (rc == 0 && TLS13_SUITES > 0)
		rc = refused_after(&c);
	assert_int_equal(rc, TRANSPORT_IO_ERR);
	print_message("reason: %s\n", c.err);
	for (; *texts != NULL; texts++)
		if (strstr(c.err, *texts) == NULL)
			fail_msg("reason '%s' lacks '%s'", c.err, *texts);
	assert_string_equal(c.err, tls_last_error(t));
	assert_null(strstr(c.err, PSK_HEX));
	tls_stats(t, &st);
	assert_int_equal(st.handshakes_failed, 1);
	assert_int_equal(st.handshakes_full, 0);
	c.ops->close(c.ctx);
	tls_free(t);
}

static void
test_trusted(void **state)
{
	struct tls_conf cf = { .ca_file = path("ca.crt") };
	struct tls *t = new_tls(&cf);
	struct tls_stats st;
	struct conn c;

	(void)state;
	assert_int_equal(handshake(t, port[P_OK], "127.0.0.1", &c), 0);
	assert_string_equal(tls_last_error(t), "");
	mqtt_roundtrip(&c);
	tls_stats(t, &st);
	assert_int_equal(st.handshakes_full, 1);
	assert_int_equal(st.handshakes_resumed, 0);
	assert_true(st.tx_bytes > sizeof(mqtt_connect));
	assert_true(st.rx_bytes > 4);
	assert_null(tls_conn_alpn(c.ctx));
	assert_string_equal(tls_conn_version(c.ctx), TLS13_SUITES > 0 ?
	    "TLSv1.3" : "TLSv1.2");
	c.ops->close(c.ctx);
	tls_free(t);
}

static void
test_trusted_dns_name(void **state)
{
	struct tls_conf cf = { .ca_path = dir, .server_name = "localhost",
	    .handshake_timeout_s = 5 };
	struct tls *t = new_tls(&cf);
	struct conn c;

	(void)state;
	assert_int_equal(handshake(t, port[P_OK], "127.0.0.1", &c), 0);
	mqtt_roundtrip(&c);
	c.ops->close(c.ctx);
	tls_free(t);
}

static void
test_untrusted(void **state)
{
	struct tls_conf cf = { .ca_file = path("ca2.crt") };
	const char *want[] = { "tls handshake: untrusted issuer",
	    "CN=Test CA", NULL };

	(void)state;
	expect_refused(&cf, port[P_OK], "127.0.0.1", want);
}

static void
test_name_mismatch(void **state)
{
	struct tls_conf cf = { .ca_file = path("ca.crt"),
	    .server_name = "broker.example" };
	const char *want[] = { "name mismatch", "expected 'broker.example'",
	    "DNS:localhost", "IP:127.0.0.1", NULL };
	struct tls_conf cf_ip = { .ca_file = path("ca.crt"),
	    .server_name = "127.0.0.9" };
	const char *want_ip[] = { "name mismatch", "expected '127.0.0.9'",
	    "IP:127.0.0.1", NULL };

	(void)state;
	expect_refused(&cf, port[P_OK], "127.0.0.1", want);
	/* An IP target is checked against the IP SANs. */
	expect_refused(&cf_ip, port[P_OK], "127.0.0.1", want_ip);
}

static void
test_expired(void **state)
{
	struct tls_conf cf = { .ca_file = path("ca.crt") };
	const char *want[] = { "certificate expired", "CN=localhost",
	    "was valid until", NULL };

	(void)state;
	expect_refused(&cf, port[P_EXP], "127.0.0.1", want);
}

static void
test_pins(void **state)
{
	char *good[] = { pin_ca, pin_srv };
	char *bad[] = { pin_ca };
	struct tls_conf cf = { .ca_file = path("ca.crt"), .pin_sha256 = good,
	    .n_pin_sha256 = 2 };
	const char *want[] = { "pin mismatch", pin_srv, NULL };
	struct tls *t;
	struct conn c;

	struct tls_stats st;
	int i;

	(void)state;
	/* The second connection resumes; the pins hold for it too. */
	t = new_tls(&cf);
	for (i = 0; i < 2; i++) {
		assert_int_equal(handshake(t, port[P_OK], "127.0.0.1", &c), 0);
		mqtt_roundtrip(&c);
		c.ops->close(c.ctx);
	}
	tls_stats(t, &st);
	assert_int_equal(st.handshakes_resumed, 1);
	tls_free(t);
	cf.pin_sha256 = bad;
	cf.n_pin_sha256 = 1;
	expect_refused(&cf, port[P_OK], "127.0.0.1", want);
}

static void
test_mutual(void **state)
{
	struct tls_conf cf = { .ca_file = path("ca.crt"),
	    .cert_file = path("cli.crt"), .key_file = path("cli.key") };
	struct tls_conf none = { .ca_file = path("ca.crt") };
	const char *want[] = { "refused by the server", "alert",
	    "client certificate", NULL };
	struct tls *t;
	struct conn c;

	(void)state;
	t = new_tls(&cf);
	assert_int_equal(handshake(t, port[P_MTLS], "127.0.0.1", &c), 0);
	mqtt_roundtrip(&c);
	c.ops->close(c.ctx);
	tls_free(t);
	expect_refused(&none, port[P_MTLS], "127.0.0.1", want);
}

static void
test_psk(void **state)
{
	struct tls_conf cf = { .psk_identity = PSK_ID, .psk = PSK_HEX };
	struct tls_conf wrong = { .psk_identity = PSK_ID,
	    .psk = "ffeeddccbbaa99887766554433221100" };
	struct tls_conf who = { .psk_identity = "nobody", .psk = PSK_HEX };
	const char *want[] = { "PSK refused", "psk_identity '" PSK_ID "'",
	    NULL };
	const char *want_who[] = { "PSK refused", NULL };
	struct tls *t;
	struct conn c;

	(void)state;
	t = new_tls(&cf);
	assert_int_equal(handshake(t, port[P_PSK], "127.0.0.1", &c), 0);
	mqtt_roundtrip(&c);
	c.ops->close(c.ctx);
	tls_free(t);
	expect_refused(&wrong, port[P_PSK], "127.0.0.1", want);
	expect_refused(&who, port[P_PSK], "127.0.0.1", want_who);
}

static void
test_resumption(void **state)
{
	struct tls_conf cf = { .ca_file = path("ca.crt") };
	struct tls *t = new_tls(&cf);
	struct tls_stats st;
	struct conn c;
	int i;

	(void)state;
	for (i = 0; i < 3; i++) {
		assert_int_equal(handshake(t, port[P_OK], "127.0.0.1", &c), 0);
		mqtt_roundtrip(&c);
		c.ops->close(c.ctx);
	}
	tls_stats(t, &st);
	assert_int_equal(st.handshakes_full, 1);
	assert_int_equal(st.handshakes_resumed, 2);
	/*
	 * Another host does not get this host's session. (In TLS 1.3 the
	 * handshake counts once the server has answered.)
	 */
	assert_int_equal(handshake(t, port[P_OK], "localhost", &c), 0);
	mqtt_roundtrip(&c);
	c.ops->close(c.ctx);
	tls_stats(t, &st);
	assert_int_equal(st.handshakes_full, 2);
	tls_free(t);
}

static void
test_alpn(void **state)
{
	char cert[128], key[128], acc[32];
	char *argv[] = { "openssl", "s_server", "-accept", acc, "-cert", cert,
	    "-key", key, "-alpn", "mqtt", "-tls1_2", NULL };
	char *protos[] = { "x-other", "mqtt" };
	struct tls_conf cf = { .ca_file = path("ca.crt"), .alpn = protos,
	    .n_alpn = 2 };
	struct tls *t;
	struct conn c;
	struct proc pr;

	(void)state;
	snprintf(cert, sizeof(cert), "%s", path("srv.crt"));
	snprintf(key, sizeof(key), "%s", path("srv.key"));
	snprintf(acc, sizeof(acc), "127.0.0.1:%u", free_port());
	spawn_until(argv, "ACCEPT", &pr);
	t = new_tls(&cf);
	if (handshake(t, (uint16_t)atoi(strchr(acc, ':') + 1), "127.0.0.1",
	    &c) != 0)
		fail_msg("handshake: %s", c.err);
	assert_non_null(tls_conn_alpn(c.ctx));
	assert_string_equal(tls_conn_alpn(c.ctx), "mqtt");
	c.ops->close(c.ctx);
	tls_free(t);
	stop(&pr);
}

/*
 * A TLS 1.2 session saved from a 1.2-only server must not hold the relay
 * at TLS 1.2 once the server (here: another one on the same host) speaks
 * TLS 1.3: mbedTLS 3.6 offers only 1.2 when it offers a 1.2 session.
 */
static void
test_session_no_downgrade(void **state)
{
	char cert[128], key[128], acc12[32], acc13[32];
	char *argv12[] = { "openssl", "s_server", "-accept", acc12, "-cert",
	    cert, "-key", key, "-tls1_2", NULL };
	char *argv13[] = { "openssl", "s_server", "-accept", acc13, "-cert",
	    cert, "-key", key, NULL };
	struct tls_conf cf = { .ca_file = path("ca.crt") };
	struct proc p12, p13;
	struct tls *t;
	struct conn c;
	int i;

	(void)state;
	snprintf(cert, sizeof(cert), "%s", path("srv.crt"));
	snprintf(key, sizeof(key), "%s", path("srv.key"));
	snprintf(acc12, sizeof(acc12), "127.0.0.1:%u", free_port());
	snprintf(acc13, sizeof(acc13), "127.0.0.1:%u", free_port());
	spawn_until(argv12, "ACCEPT", &p12);
	spawn_until(argv13, "ACCEPT", &p13);
	t = new_tls(&cf);
	assert_int_equal(handshake(t, (uint16_t)atoi(strchr(acc12, ':') + 1),
	    "127.0.0.1", &c), 0);
	assert_string_equal(tls_conn_version(c.ctx), "TLSv1.2");
	c.ops->close(c.ctx);
	for (i = 0; i < 2; i++) {
		assert_int_equal(handshake(t, (uint16_t)atoi(strchr(acc13, ':') +
		    1), "127.0.0.1", &c), 0);
		print_message("then: %s\n", tls_conn_version(c.ctx));
		c.ops->close(c.ctx);
	}
	assert_int_equal(handshake(t, (uint16_t)atoi(strchr(acc13, ':') + 1),
	    "127.0.0.1", &c), 0);
	assert_string_equal(tls_conn_version(c.ctx), TLS13_SUITES > 0 ?
	    "TLSv1.3" : "TLSv1.2");
	c.ops->close(c.ctx);
	tls_free(t);
	stop(&p12);
	stop(&p13);
}

/* A listener that accepts nothing: the handshake must time out. */
static void
test_timeout(void **state)
{
	struct tls_conf cf = { .ca_file = path("ca.crt"),
	    .handshake_timeout_s = 3 };
	struct tls *t = new_tls(&cf);
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int lfd = socket(AF_INET, SOCK_STREAM, 0), rc;
	struct conn c;
	int64_t dl;
	short ev;

	(void)state;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	getsockname(lfd, (struct sockaddr *)&sin, &len);
	c.fd = tcp_connect(ntohs(sin.sin_port));
	assert_int_equal(tls_wrap(t, c.fd, "127.0.0.1", &c.ops, &c.ctx, c.err,
	    sizeof(c.err)), 0);
	rc = c.ops->handshake(c.ctx, clock_mono_ms(), &ev, &dl, c.err,
	    sizeof(c.err));
	assert_int_equal(rc, TRANSPORT_IO_AGAIN);
	assert_true(dl >= clock_mono_ms() + 2000);
	/* The loop's clock reaches the deadline. */
	rc = c.ops->handshake(c.ctx, dl, &ev, &dl, c.err, sizeof(c.err));
	assert_int_equal(rc, TRANSPORT_IO_ERR);
	assert_string_equal(c.err, "tls handshake: timed out after 3 s");
	c.ops->close(c.ctx);
	close(lfd);
	tls_free(t);
}

/* The server accepts and closes at once. */
static void
test_closed(void **state)
{
	struct tls_conf cf = { .ca_file = path("ca.crt") };
	struct tls *t = new_tls(&cf);
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int lfd = socket(AF_INET, SOCK_STREAM, 0), afd, rc;
	int64_t end = clock_mono_ms() + WAIT_MS, dl;
	struct pollfd pfd;
	struct conn c;
	short ev;

	(void)state;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	getsockname(lfd, (struct sockaddr *)&sin, &len);
	c.fd = tcp_connect(ntohs(sin.sin_port));
	afd = accept(lfd, NULL, NULL);
	close(afd);
	assert_int_equal(tls_wrap(t, c.fd, "127.0.0.1", &c.ops, &c.ctx, c.err,
	    sizeof(c.err)), 0);
	do {
		rc = c.ops->handshake(c.ctx, clock_mono_ms(), &ev, &dl, c.err,
		    sizeof(c.err));
		pfd.fd = c.fd;
		pfd.events = ev;
		if (rc == TRANSPORT_IO_AGAIN)
			(void)poll(&pfd, 1, 100);
	} while (rc == TRANSPORT_IO_AGAIN && clock_mono_ms() < end);
	assert_int_equal(rc, TRANSPORT_IO_ERR);
	if (strstr(c.err, "connection closed") == NULL &&
	    strstr(c.err, "connection lost") == NULL)
		fail_msg("reason: %s", c.err);
	c.ops->close(c.ctx);
	close(lfd);
	tls_free(t);
}

/* Collects tls_check_conf() reports. */
struct reports {
	char text[4096];
	int opts[TLS_OPT__COUNT];
};

static void
on_report(void *arg, enum tls_option opt, size_t index, const char *text)
{
	struct reports *r = arg;
	size_t k = strlen(r->text);

	(void)index;
	r->opts[opt]++;
	snprintf(r->text + k, sizeof(r->text) - k, "%s\n", text);
}

static void
test_check_conf(void **state)
{
	char *pins[] = { "bm90IGEgcGlu", pin_srv };
	char *alpn[] = { "" };
	struct tls_conf bad = { .ca_file = path("nope.crt"),
	    .cert_file = path("cli.crt"), .key_file = path("srv.key"),
	    .pin_sha256 = pins, .n_pin_sha256 = 2, .alpn = alpn, .n_alpn = 1,
	    .handshake_timeout_s = 999 };
	struct tls_conf garbage = { .ca_file = path("psk.txt") };
	struct tls_conf psk = { .psk_identity = PSK_ID, .psk = "secretzz",
	    .cert_file = path("cli.crt"), .key_file = path("cli.key") };
	struct tls_conf nothing = { .server_name = "" };
	struct tls_conf good = { .ca_file = path("ca.crt"),
	    .cert_file = path("cli.crt"), .key_file = path("cli.key"),
	    .pin_sha256 = pins + 1, .n_pin_sha256 = 1 };
	struct reports r;
	char err[TLS_ERR_MAX];
	struct tls *t;

	(void)state;
	memset(&r, 0, sizeof(r));
	assert_int_equal(tls_check_conf(&bad, on_report, &r), 5);
	assert_int_equal(r.opts[TLS_OPT_CA_FILE], 1);
	assert_int_equal(r.opts[TLS_OPT_KEY_FILE], 1);
	assert_int_equal(r.opts[TLS_OPT_PIN_SHA256], 1);
	assert_int_equal(r.opts[TLS_OPT_ALPN], 1);
	assert_int_equal(r.opts[TLS_OPT_HANDSHAKE_TIMEOUT], 1);
	assert_non_null(strstr(r.text, "does not match cert_file"));
	assert_non_null(strstr(r.text, "'bm90IGEgcGlu'"));

	memset(&r, 0, sizeof(r));
	assert_int_equal(tls_check_conf(&psk, on_report, &r), 2);
	assert_int_equal(r.opts[TLS_OPT_PSK], 1);
	assert_int_equal(r.opts[TLS_OPT_CERT_FILE], 1);
	assert_null(strstr(r.text, "secretzz"));	/* never the secret */

	memset(&r, 0, sizeof(r));
	assert_int_equal(tls_check_conf(&nothing, on_report, &r), 1);
	assert_non_null(strstr(r.text, "ca_file: not set"));
	assert_int_equal(tls_check_conf(&good, NULL, NULL), 0);

	/* tls_new fails with the first problem, naming the file. */
	assert_int_equal(tls_new(&t, &garbage, err, sizeof(err)),
	    TLS_ERR_CONF);
	assert_null(t);
	assert_true(strncmp(err, "tls: ca_file ", 13) == 0);
	assert_non_null(strstr(err, "psk.txt: cannot parse: "));
	assert_int_equal(tls_new(&t, &psk, err, sizeof(err)), TLS_ERR_CONF);
	assert_null(strstr(err, "secretzz"));
	assert_string_equal(tls_option_name(TLS_OPT_PIN_SHA256), "pin_sha256");
	assert_string_equal(tls_strerror(TLS_ERR_CONF),
	    "bad TLS configuration");
	tls_free(NULL);
}

/*
 * Whether a suite is one the relay may offer, judged from mbedTLS's own
 * description of it: forward secrecy (ECDHE) or a PSK, an AEAD cipher
 * with a full-length tag, TLS 1.2; or a TLS 1.3 suite (all of them are
 * AEAD with ephemeral key exchange) with a full-length tag, certificate
 * mode only.
 */
static int
suite_is_strong(int id, int psk)
{
	const mbedtls_ssl_ciphersuite_t *cs = mbedtls_ssl_ciphersuite_from_id(id);
	const mbedtls_cipher_info_t *ci;
	mbedtls_cipher_mode_t mode;

	if (cs == NULL || (cs->flags & (MBEDTLS_CIPHERSUITE_WEAK |
	    MBEDTLS_CIPHERSUITE_SHORT_TAG)) != 0)
		return 0;
	if ((ci = mbedtls_cipher_info_from_type(
	    (mbedtls_cipher_type_t)cs->cipher)) == NULL)
		return 0;
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
	mode = mbedtls_cipher_info_get_mode(ci);
#else
	mode = ci->mode;
#endif
	if (mode != MBEDTLS_MODE_GCM && mode != MBEDTLS_MODE_CHACHAPOLY)
		return 0;
	if ((id & 0xff00) == 0x1300)
		return !psk;
	if (psk)
		return cs->key_exchange == MBEDTLS_KEY_EXCHANGE_ECDHE_PSK ||
		    cs->key_exchange == MBEDTLS_KEY_EXCHANGE_PSK;
	return cs->key_exchange == MBEDTLS_KEY_EXCHANGE_ECDHE_ECDSA ||
	    cs->key_exchange == MBEDTLS_KEY_EXCHANGE_ECDHE_RSA;
}

static void
test_default_suites(void **state)
{
	int ids[32];
	size_t n, i;
	int psk;

	(void)state;
	for (psk = 0; psk < 2; psk++) {
		n = tls_default_suites(psk, ids, 32);
		assert_int_equal(n, psk ? 4 : 6 + TLS13_SUITES);
		for (i = 0; i < n; i++)
			if (!suite_is_strong(ids[i], psk))
				fail_msg("offered: %s",
				    mbedtls_ssl_get_ciphersuite_name(ids[i]));
	}
	/* ECDHE-PSK first: forward secrecy where a PSK allows it. */
	tls_default_suites(1, ids, 32);
	assert_int_equal(ids[0],
	    MBEDTLS_TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256);
	assert_int_equal(tls_default_suites(0, ids, 2), 2);
}

static void
test_suite_lookup(void **state)
{
	const int *all = mbedtls_ssl_list_ciphersuites();
	int id = 0, psk, strong = 0;
	size_t i;

	(void)state;
	assert_int_equal(tls_suite_lookup(
	    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", 0, &id), TLS_SUITE_OK);
	assert_int_equal(id, MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256);
	assert_int_equal(tls_suite_lookup(
	    "tls-ecdhe-ecdsa-with-chacha20-poly1305-sha256", 0, &id),
	    TLS_SUITE_OK);
	assert_int_equal(tls_suite_lookup("TLS-PSK-WITH-AES-128-GCM-SHA256", 0,
	    &id), TLS_SUITE_OTHER_MODE);
	assert_int_equal(tls_suite_lookup(
	    "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256", 1, &id),
	    TLS_SUITE_OTHER_MODE);
	assert_int_equal(tls_suite_lookup("TLS-RSA-WITH-AES-128-CBC-SHA", 0,
	    &id), TLS_SUITE_WEAK);
	assert_int_equal(tls_suite_lookup("ECDHE-RSA-AES128-GCM-SHA256", 0,
	    &id), TLS_SUITE_UNKNOWN);
	assert_int_equal(tls_suite_lookup("", 0, &id), TLS_SUITE_UNKNOWN);
	/*
	 * Of all the suites this mbedTLS has (some 80 of them), exactly the
	 * strong ones that the table lists are accepted, and none else.
	 */
	for (i = 0; all[i] != 0; i++) {
		for (psk = 0; psk < 2; psk++) {
			if (tls_suite_lookup(mbedtls_ssl_get_ciphersuite_name(
			    all[i]), psk, &id) != TLS_SUITE_OK)
				continue;
			assert_int_equal(id, all[i]);
			if (!suite_is_strong(all[i], psk))
				fail_msg("accepted: %s",
				    mbedtls_ssl_get_ciphersuite_name(all[i]));
			strong++;
		}
	}
	assert_int_equal(strong, 10 + TLS13_SUITES);
	/* The TLS 1.3 suites by IANA name, in certificate mode only. */
	assert_int_equal(tls_suite_lookup("TLS_AES_128_GCM_SHA256", 1, &id),
	    TLS_SUITE_OTHER_MODE);
	assert_int_equal(tls_suite_lookup("TLS_AES_128_GCM_SHA256", 0, &id),
	    TLS13_SUITES > 0 ? TLS_SUITE_OK : TLS_SUITE_MISSING);
	assert_int_equal(tls_suite_lookup("TLS_AES_128_CCM_8_SHA256", 0, &id),
	    TLS13_SUITES > 0 ? TLS_SUITE_WEAK : TLS_SUITE_UNKNOWN);
}

static void
test_check_ciphers(void **state)
{
	char *ciphers[] = { "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
	    "TLS-ECDHE-ECDSA-WITH-AES-128-CBC-SHA256", "nope",
	    "TLS_PSK_WITH_AES_128_GCM_SHA256" };
	char *psk_ciphers[] = { "TLS-PSK-WITH-AES-256-GCM-SHA384",
	    "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256" };
	char *many[TLS_CIPHERS_MAX + 1];
	struct tls_conf cert = { .ca_file = path("ca.crt"), .ciphers = ciphers,
	    .n_ciphers = 4 };
	struct tls_conf psk = { .psk_identity = PSK_ID, .psk = PSK_HEX,
	    .ciphers = psk_ciphers, .n_ciphers = 2 };
	struct reports r;
	size_t i;

	(void)state;
	memset(&r, 0, sizeof(r));
	assert_int_equal(tls_check_conf(&cert, on_report, &r), 3);
	assert_int_equal(r.opts[TLS_OPT_CIPHERS], 3);
	assert_non_null(strstr(r.text, "'TLS-ECDHE-ECDSA-WITH-AES-128-CBC-"
	    "SHA256': refused"));
	assert_non_null(strstr(r.text, "'nope': unknown cipher suite"));
	assert_non_null(strstr(r.text, "a PSK suite, and no psk is set"));
	memset(&r, 0, sizeof(r));
	assert_int_equal(tls_check_conf(&psk, on_report, &r), 1);
	assert_non_null(strstr(r.text, "not a PSK suite, and psk is set"));
	for (i = 0; i < TLS_CIPHERS_MAX + 1; i++)
		many[i] = "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256";
	cert.ciphers = many;
	cert.n_ciphers = TLS_CIPHERS_MAX + 1;
	memset(&r, 0, sizeof(r));
	assert_int_equal(tls_check_conf(&cert, on_report, &r), 1);
	assert_non_null(strstr(r.text, "more than"));
	assert_string_equal(tls_option_name(TLS_OPT_CIPHERS), "tls_ciphers");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_trusted),
		cmocka_unit_test(test_trusted_dns_name),
		cmocka_unit_test(test_untrusted),
		cmocka_unit_test(test_name_mismatch),
		cmocka_unit_test(test_expired),
		cmocka_unit_test(test_pins),
		cmocka_unit_test(test_mutual),
		cmocka_unit_test(test_psk),
		cmocka_unit_test(test_resumption),
		cmocka_unit_test(test_alpn),
		cmocka_unit_test(test_session_no_downgrade),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_closed),
		cmocka_unit_test(test_check_conf),
		cmocka_unit_test(test_default_suites),
		cmocka_unit_test(test_suite_lookup),
		cmocka_unit_test(test_check_ciphers),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
