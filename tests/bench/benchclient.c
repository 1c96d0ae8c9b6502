/* SPDX-License-Identifier: ISC */
/* benchclient: the fast MQTT load generator and recorder of tests/bench/run.
 *
 * Built by tests/bench/run with cc against libmosquitto (libmosquitto-dev).
 * Python paho tops out near 5k msg/s, below what the contenders forward; this
 * publishes and records at well over 50k msg/s on one core.
 *
 *   benchclient pub -p PORT -f MSGFILE [-n N] [-r RATE] [-w WINDOW] [-q QOS]
 *                   [-i ID] [-T TIMESFILE] [-D SECONDS]
 *       Publishes the lines of MSGFILE ("topic<TAB>payload\n", one message a
 *       line, in order) at QoS QOS (default 1), at most WINDOW (default 100)
 *       unacknowledged, paced at RATE msg/s when given (else as fast as the
 *       window allows). TIMESFILE receives one little-endian int64
 *       CLOCK_MONOTONIC ns per message: when it was handed to the socket.
 *       Exits when every message is acknowledged (or after -D seconds,
 *       default 600) and prints one JSON line with the counts and times.
 *
 *   benchclient sub -p PORT -s FILTER [-s FILTER...] -o RECFILE [-i ID] [-q QOS]
 *       Subscribes and records every message to RECFILE: int64 arrival
 *       (CLOCK_MONOTONIC ns), uint16 topic length, uint32 payload length,
 *       topic, payload. Prints "ready" after the SUBACK and then, every
 *       50 ms while something changed, "n TOTAL u UNIQUE t LAST_UNIQUE_NS"
 *       (unique by a 64-bit hash of topic and payload). SIGTERM/SIGINT: flush,
 *       print the final counts, exit 0.
 *
 * Both use MQTT 3.1.1 and reconnect by themselves. Every loop is bounded.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <mosquitto.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop_flag;
static void on_signal(int sig) { (void)sig; stop_flag = 1; }

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "benchclient: %s\n", what);
	exit(2);
}

/* ---------------------------------------------------------------- publish */

struct pubstate {
	long acked;
	int connected;
	long connects;
	unsigned char *acked_mid; /* by mid: outstanding? (mids are 1..65535) */
};

static void pub_on_connect(struct mosquitto *m, void *obj, int rc)
{
	(void)m;
	struct pubstate *s = obj;
	if (rc == 0) {
		s->connected = 1;
		s->connects++;
	}
}

static void pub_on_disconnect(struct mosquitto *m, void *obj, int rc)
{
	(void)m; (void)rc;
	((struct pubstate *)obj)->connected = 0;
}

static void pub_on_publish(struct mosquitto *m, void *obj, int mid)
{
	(void)m;
	struct pubstate *s = obj;
	if (s->acked_mid[mid & 0xffff]) {
		s->acked_mid[mid & 0xffff] = 0;
		s->acked++;
	}
}

static int run_pub(int port, const char *file, long n, double rate, int window,
		   int qos, const char *id, const char *times_path, double deadline_s)
{
	int fd = open(file, O_RDONLY);
	if (fd < 0)
		die("cannot open message file");
	struct stat st;
	if (fstat(fd, &st) != 0 || st.st_size == 0)
		die("empty message file");
	char *data = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (data == MAP_FAILED)
		die("mmap");
	/* index the lines */
	long cap = 1024, cnt = 0;
	char **topic = malloc(sizeof(char *) * (size_t)cap);
	char **pay = malloc(sizeof(char *) * (size_t)cap);
	int *plen = malloc(sizeof(int) * (size_t)cap);
	char *p = data, *end = data + st.st_size;
	while (p < end && (n <= 0 || cnt < n)) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			nl = end;
		char *tab = memchr(p, '\t', (size_t)(nl - p));
		if (!tab)
			die("line without TAB");
		if (cnt == cap) {
			cap *= 2;
			topic = realloc(topic, sizeof(char *) * (size_t)cap);
			pay = realloc(pay, sizeof(char *) * (size_t)cap);
			plen = realloc(plen, sizeof(int) * (size_t)cap);
		}
		topic[cnt] = strndup(p, (size_t)(tab - p));
		pay[cnt] = tab + 1;
		plen[cnt] = (int)(nl - tab - 1);
		cnt++;
		p = nl + 1;
	}
	n = cnt;
	int64_t *times = calloc((size_t)n + 1, sizeof(int64_t));

	struct pubstate s = {0};
	s.acked_mid = calloc(65536, 1);
	struct mosquitto *m = mosquitto_new(id, true, &s);
	if (!m)
		die("mosquitto_new");
	mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
	mosquitto_int_option(m, MOSQ_OPT_SEND_MAXIMUM, window + 10);
	mosquitto_connect_callback_set(m, pub_on_connect);
	mosquitto_disconnect_callback_set(m, pub_on_disconnect);
	mosquitto_publish_callback_set(m, pub_on_publish);
	if (mosquitto_connect(m, "127.0.0.1", port, 60) != MOSQ_ERR_SUCCESS)
		die("connect failed");
	int64_t t_start = now_ns();
	int64_t hard = t_start + (int64_t)(deadline_s * 1e9);
	while (!s.connected && now_ns() < hard && !stop_flag)
		mosquitto_loop(m, 10, 1);
	if (!s.connected)
		die("no CONNACK");

	long sent = 0;
	int64_t t0 = now_ns();
	double gap = rate > 0 ? 1e9 / rate : 0;
	while (s.acked < n && !stop_flag) {
		int64_t t = now_ns();
		if (t > hard)
			break;
		if (s.connected) {
			while (sent < n && sent - s.acked < window) {
				int64_t due = t0 + (int64_t)(gap * (double)sent);
				if (rate > 0 && t < due)
					break;
				int mid = 0;
				times[sent] = now_ns();
				int rc = mosquitto_publish(m, &mid, topic[sent], plen[sent],
							   pay[sent], qos, false);
				if (rc != MOSQ_ERR_SUCCESS)
					break;
				if (qos > 0)
					s.acked_mid[mid & 0xffff] = 1;
				else
					s.acked++;
				sent++;
				t = now_ns();
			}
		}
		int timeout = 10;
		if (rate > 0 && sent < n && sent - s.acked < window) {
			int64_t due = t0 + (int64_t)(gap * (double)sent);
			int64_t w = (due - now_ns()) / 1000000;
			timeout = w < 0 ? 0 : (w > 10 ? 10 : (int)w);
		}
		int rc = mosquitto_loop(m, timeout, 1);
		if (rc != MOSQ_ERR_SUCCESS && !stop_flag) {
			usleep(100000);
			mosquitto_reconnect(m);
		}
	}
	int64_t t_end = now_ns();
	mosquitto_disconnect(m);
	mosquitto_loop(m, 10, 1);
	if (times_path) {
		FILE *f = fopen(times_path, "wb");
		if (!f || fwrite(times, sizeof(int64_t), (size_t)sent, f) != (size_t)sent)
			die("cannot write times file");
		fclose(f);
	}
	printf("{\"sent\":%ld,\"acked\":%ld,\"connects\":%ld,\"t_first_ns\":%lld,"
	       "\"t_end_ns\":%lld,\"seconds\":%.3f}\n",
	       sent, s.acked, s.connects, (long long)(sent ? times[0] : t0),
	       (long long)t_end, (double)(t_end - t0) / 1e9);
	mosquitto_destroy(m);
	return s.acked >= n ? 0 : 1;
}

/* ---------------------------------------------------------------- subscribe */

struct substate {
	FILE *out;
	char **filters;
	int nfilters;
	int qos;
	int ready;
	long total, unique;
	int64_t last_unique;
	uint64_t *set;
	size_t setcap; /* power of two */
};

static uint64_t fnv(const void *a, size_t alen, const void *b, size_t blen)
{
	uint64_t h = 1469598103934665603ULL;
	const unsigned char *p = a;
	for (size_t i = 0; i < alen; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	h = (h ^ 0xff) * 1099511628211ULL;
	p = b;
	for (size_t i = 0; i < blen; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return h ? h : 1;
}

static int set_add(struct substate *s, uint64_t h)
{
	if ((size_t)s->unique * 2 >= s->setcap) {
		size_t ncap = s->setcap * 2;
		uint64_t *n = calloc(ncap, sizeof(uint64_t));
		if (!n)
			die("out of memory");
		for (size_t i = 0; i < s->setcap; i++) {
			if (!s->set[i])
				continue;
			size_t j = s->set[i] & (ncap - 1);
			while (n[j])
				j = (j + 1) & (ncap - 1);
			n[j] = s->set[i];
		}
		free(s->set);
		s->set = n;
		s->setcap = ncap;
	}
	size_t j = h & (s->setcap - 1);
	while (s->set[j]) {
		if (s->set[j] == h)
			return 0;
		j = (j + 1) & (s->setcap - 1);
	}
	s->set[j] = h;
	return 1;
}

static void sub_on_connect(struct mosquitto *m, void *obj, int rc)
{
	struct substate *s = obj;
	if (rc != 0)
		return;
	for (int i = 0; i < s->nfilters; i++)
		mosquitto_subscribe(m, NULL, s->filters[i], s->qos);
}

static void sub_on_subscribe(struct mosquitto *m, void *obj, int mid, int n,
			     const int *granted)
{
	(void)m; (void)mid; (void)n; (void)granted;
	struct substate *s = obj;
	if (!s->ready) {
		s->ready = 1;
		printf("ready\n");
		fflush(stdout);
	}
}

static void sub_on_message(struct mosquitto *m, void *obj,
			   const struct mosquitto_message *msg)
{
	(void)m;
	struct substate *s = obj;
	int64_t t = now_ns();
	uint16_t tl = (uint16_t)strlen(msg->topic);
	uint32_t pl = (uint32_t)msg->payloadlen;
	fwrite(&t, sizeof t, 1, s->out);
	fwrite(&tl, sizeof tl, 1, s->out);
	fwrite(&pl, sizeof pl, 1, s->out);
	fwrite(msg->topic, 1, tl, s->out);
	fwrite(msg->payload, 1, pl, s->out);
	s->total++;
	if (set_add(s, fnv(msg->topic, tl, msg->payload, pl))) {
		s->unique++;
		s->last_unique = t;
	}
}

static int run_sub(int port, char **filters, int nfilters, const char *out,
		   const char *id, int qos)
{
	struct substate s = {0};
	s.filters = filters;
	s.nfilters = nfilters;
	s.qos = qos;
	s.setcap = 1 << 16;
	s.set = calloc(s.setcap, sizeof(uint64_t));
	s.out = fopen(out, "wb");
	if (!s.out)
		die("cannot open record file");
	setvbuf(s.out, NULL, _IOFBF, 1 << 20);
	struct mosquitto *m = mosquitto_new(id, true, &s);
	if (!m)
		die("mosquitto_new");
	mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
	mosquitto_connect_callback_set(m, sub_on_connect);
	mosquitto_subscribe_callback_set(m, sub_on_subscribe);
	mosquitto_message_callback_set(m, sub_on_message);
	if (mosquitto_connect(m, "127.0.0.1", port, 60) != MOSQ_ERR_SUCCESS)
		die("connect failed");
	long shown_total = -1;
	int64_t last_print = 0;
	while (!stop_flag) {
		int rc = mosquitto_loop(m, 20, 100);
		if (rc != MOSQ_ERR_SUCCESS && !stop_flag) {
			usleep(100000);
			mosquitto_reconnect(m);
		}
		int64_t t = now_ns();
		if (s.total != shown_total && t - last_print > 50000000LL) {
			printf("n %ld u %ld t %lld\n", s.total, s.unique,
			       (long long)s.last_unique);
			fflush(stdout);
			shown_total = s.total;
			last_print = t;
		}
	}
	fflush(s.out);
	fclose(s.out);
	printf("n %ld u %ld t %lld\nend\n", s.total, s.unique, (long long)s.last_unique);
	fflush(stdout);
	mosquitto_disconnect(m);
	mosquitto_destroy(m);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		die("usage: benchclient pub|sub OPTIONS (see the source)");
	const char *mode = argv[1];
	int port = 0, window = 100, qos = 1;
	long n = 0;
	double rate = 0, deadline = 600;
	const char *file = NULL, *out = NULL, *times = NULL, *id = NULL;
	char *filters[16];
	int nfilters = 0;
	int opt;
	optind = 2;
	while ((opt = getopt(argc, argv, "p:f:n:r:w:q:i:T:D:s:o:")) != -1) {
		switch (opt) {
		case 'p': port = atoi(optarg); break;
		case 'f': file = optarg; break;
		case 'n': n = atol(optarg); break;
		case 'r': rate = atof(optarg); break;
		case 'w': window = atoi(optarg); break;
		case 'q': qos = atoi(optarg); break;
		case 'i': id = optarg; break;
		case 'T': times = optarg; break;
		case 'D': deadline = atof(optarg); break;
		case 's': if (nfilters < 16) filters[nfilters++] = optarg; break;
		case 'o': out = optarg; break;
		default: die("bad option");
		}
	}
	if (port <= 0 || window < 1)
		die("need -p PORT");
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	mosquitto_lib_init();
	int rc;
	if (strcmp(mode, "pub") == 0) {
		if (!file)
			die("pub needs -f MSGFILE");
		rc = run_pub(port, file, n, rate, window, qos, id, times, deadline);
	} else if (strcmp(mode, "sub") == 0) {
		if (!out || nfilters == 0)
			die("sub needs -s FILTER and -o RECFILE");
		rc = run_sub(port, filters, nfilters, out, id, qos);
	} else {
		die("mode is pub or sub");
	}
	mosquitto_lib_cleanup();
	return rc;
}
