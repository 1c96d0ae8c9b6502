/* SPDX-License-Identifier: ISC */
/*
 * wanem: a userspace WAN emulator for the tests. It joins two network
 * namespaces through one TUN device in each and shuttles IPv4 packets
 * between the two in one poll loop, shaping each direction as a cellular
 * link does: serialization at a rate with a tail-drop byte queue (the
 * modem's buffer), propagation delay with jitter, random loss, reordering,
 * and link cuts ("reset": every segment of a TCP connection is answered
 * with a RST, as when the path is known to be gone, and new connections'
 * SYNs are dropped; "silent": everything is dropped, so only keepalives
 * and TCP_USER_TIMEOUT notice).
 *
 * Why userspace: the kernels this suite runs on may lack sch_netem and
 * sch_tbf (the test machine has neither, nor modprobe); TUN is there.
 * See docs/wan.md.
 *
 * Usage: wanem GW_NS CENTRAL_NS GW_ADDR CENTRAL_ADDR [PROFILE [SEED]]
 * Each namespace gets a TUN device "wan0" with its address, point to
 * point to the other one. Commands, one per line on stdin, each answered
 * with one line on stdout ("ok ..." or "err ..."):
 *   profile NAME        lte | 3g | 2g | off (no shaping)
 *   set KEY=VALUE ...   rate (bit/s, 0 = unlimited), delay (ms, one way),
 *                       jitter (ms), loss (%), reorder (%), limit (bytes)
 *   cut reset|silent    cut the link
 *   restore             end a cut
 *   stats               counters as one JSON object
 * "ready" is printed when both devices are up; EOF on stdin ends it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WANEM_MTU	1500
#define WANEM_MAXPKT	2048

enum wanem_cut { CUT_NONE, CUT_RESET, CUT_SILENT };

struct shape {
	double rate_bps;	/* 0: unlimited */
	double delay_ms;	/* one way */
	double jitter_ms;
	double loss_pct;
	double reorder_pct;
	long limit_bytes;	/* the modem's queue */
};

struct pkt {
	int64_t due_ns;
	uint64_t seq;		/* ties keep arrival order */
	size_t len;
	unsigned char data[];
};

/* One direction: packets read from `from` are written to `to`. */
struct dir {
	const char *name;
	int from, to;
	int64_t link_free_ns;	/* when the serializer is idle again */
	int64_t last_due_ns;	/* jitter must not reorder by itself */
	long queued_bytes;	/* waiting for serialization */
	struct pkt **heap;
	size_t n, cap;
	/* The serialization FIFO: (end time, size) of queued packets. */
	int64_t *fifo_end;
	long *fifo_len;
	size_t fhead, fcount, fcap;
	uint64_t in_pkts, in_bytes, out_pkts, out_bytes;
	uint64_t lost, qdrop, cutdrop, resets, reordered, other;
};

static struct shape shape;
static enum wanem_cut cut;
static uint64_t rng = 0x9E3779B97F4A7C15ull, seqno;

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double
uniform(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (double)((rng * 0x2545F4914F6CDD1Dull) >> 11) / 9007199254740992.0;
}

static int
set_profile(const char *name)
{
	static const struct {
		const char *name;
		struct shape s;
	} tab[] = {
		{ "off", { 0, 0, 0, 0, 0, 0 } },
		{ "lte", { 20e6, 20, 2, 0.1, 0, 512 * 1024 } },
		{ "3g", { 1e6, 75, 5, 1.0, 0, 64 * 1024 } },
		{ "2g", { 64e3, 300, 20, 3.0, 1.0, 16 * 1024 } },
	};
	size_t i;

	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		if (strcmp(tab[i].name, name) == 0) {
			shape = tab[i].s;
			return 0;
		}
	}
	return -1;
}

static void
heap_push(struct dir *d, struct pkt *p)
{
	size_t i;

	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 256;
		d->heap = realloc(d->heap, d->cap * sizeof(*d->heap));
		if (d->heap == NULL) {
			perror("wanem: realloc");
			exit(1);
		}
	}
	i = d->n++;
	while (i > 0) {
		size_t up = (i - 1) / 2;
		struct pkt *q = d->heap[up];

		if (q->due_ns < p->due_ns || (q->due_ns == p->due_ns &&
		    q->seq < p->seq))
			break;
		d->heap[i] = q;
		i = up;
	}
	d->heap[i] = p;
}

static struct pkt *
heap_pop(struct dir *d)
{
	struct pkt *top = d->heap[0], *last = d->heap[--d->n];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= d->n)
			break;
		if (c + 1 < d->n && (d->heap[c + 1]->due_ns < d->heap[c]->due_ns ||
		    (d->heap[c + 1]->due_ns == d->heap[c]->due_ns &&
		    d->heap[c + 1]->seq < d->heap[c]->seq)))
			c++;
		if (last->due_ns < d->heap[c]->due_ns || (last->due_ns ==
		    d->heap[c]->due_ns && last->seq < d->heap[c]->seq))
			break;
		d->heap[i] = d->heap[c];
		i = c;
	}
	if (d->n > 0)
		d->heap[i] = last;
	return top;
}

/* Forget packets whose serialization ended before now. */
static void
fifo_expire(struct dir *d, int64_t now)
{
	while (d->fcount > 0 && d->fifo_end[d->fhead] <= now) {
		d->queued_bytes -= d->fifo_len[d->fhead];
		d->fhead = (d->fhead + 1) % d->fcap;
		d->fcount--;
	}
}

static void
fifo_push(struct dir *d, int64_t end, long len)
{
	if (d->fcount == d->fcap) {
		size_t ncap = d->fcap ? d->fcap * 2 : 256, i;
		int64_t *e = malloc(ncap * sizeof(*e));
		long *l = malloc(ncap * sizeof(*l));

		if (e == NULL || l == NULL) {
			perror("wanem: malloc");
			exit(1);
		}
		for (i = 0; i < d->fcount; i++) {
			e[i] = d->fifo_end[(d->fhead + i) % d->fcap];
			l[i] = d->fifo_len[(d->fhead + i) % d->fcap];
		}
		free(d->fifo_end);
		free(d->fifo_len);
		d->fifo_end = e;
		d->fifo_len = l;
		d->fhead = 0;
		d->fcap = ncap;
	}
	d->fifo_end[(d->fhead + d->fcount) % d->fcap] = end;
	d->fifo_len[(d->fhead + d->fcount) % d->fcap] = len;
	d->fcount++;
	d->queued_bytes += len;
}

static uint16_t
csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint32_t
csum_add(uint32_t sum, const unsigned char *b, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (n & 1)
		sum += (uint32_t)(b[n - 1] << 8);
	return sum;
}

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static void
put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/*
 * Answer a TCP segment (an IPv4 packet in b) with a RST to its sender,
 * written back into the device it came from: the sender sees what it sees
 * when the far end has lost the connection. Nothing for a RST.
 */
static int
answer_rst(int fd, const unsigned char *b, size_t len)
{
	unsigned char r[40];
	size_t ihl, plen;
	uint32_t seq, ack, sum;
	unsigned flags;

	if (len < 20 || b[9] != IPPROTO_TCP)
		return 0;
	ihl = (size_t)(b[0] & 0x0f) * 4;
	if (ihl < 20 || len < ihl + 20)
		return 0;
	flags = b[ihl + 13];
	/* A RST gets no answer; nor does a SYN: a new connection into a
	 * cut link times out, as it does when the modem has no service. */
	if ((flags & 0x04) || (flags & 0x12) == 0x02)
		return 0;
	plen = len - ihl - (size_t)(b[ihl + 12] >> 4) * 4;
	seq = get32(b + ihl + 4);
	ack = get32(b + ihl + 8);
	memset(r, 0, sizeof(r));
	r[0] = 0x45;
	r[3] = 40;
	r[8] = 64;
	r[9] = IPPROTO_TCP;
	memcpy(r + 12, b + 16, 4);
	memcpy(r + 16, b + 12, 4);
	r[20] = b[ihl + 2];	/* ports swapped */
	r[21] = b[ihl + 3];
	r[22] = b[ihl];
	r[23] = b[ihl + 1];
	/* RFC 793: a RST for a segment with ACK takes its seq from that ACK;
	 * else seq 0 with an ACK of what the segment occupied. */
	if (flags & 0x10) {
		put32(r + 24, ack);
		r[33] = 0x04;
	} else {
		put32(r + 28, seq + (uint32_t)plen + ((flags & 0x02) ? 1 : 0) +
		    ((flags & 0x01) ? 1 : 0));
		r[33] = 0x14;
	}
	r[32] = 5 << 4;
	sum = csum_fold(csum_add(0, r, 20));
	r[10] = (unsigned char)(sum >> 8);
	r[11] = (unsigned char)sum;
	sum = csum_add(0, r + 12, 8) + IPPROTO_TCP + 20;
	sum = csum_fold(csum_add(sum, r + 20, 20));
	r[36] = (unsigned char)(sum >> 8);
	r[37] = (unsigned char)sum;
	if (write(fd, r, sizeof(r)) < 0)
		return -1;
	return 1;
}

static void
take_in(struct dir *d, const unsigned char *b, size_t len, int64_t now)
{
	struct pkt *p;
	int64_t start, end, due;
	double j;

	d->in_pkts++;
	d->in_bytes += len;
	if (len < 20 || (b[0] >> 4) != 4) {
		d->other++;	/* IPv6 router solicitations and the like */
		return;
	}
	if (cut != CUT_NONE) {
		d->cutdrop++;
		if (cut == CUT_RESET && answer_rst(d->from, b, len) > 0)
			d->resets++;
		return;
	}
	if (shape.loss_pct > 0 && uniform() * 100 < shape.loss_pct) {
		d->lost++;
		return;
	}
	fifo_expire(d, now);
	if (shape.limit_bytes > 0 && d->queued_bytes + (long)len >
	    shape.limit_bytes) {
		d->qdrop++;
		return;
	}
	start = d->link_free_ns > now ? d->link_free_ns : now;
	end = start;
	if (shape.rate_bps > 0) {
		end += (int64_t)((double)len * 8e9 / shape.rate_bps);
		d->link_free_ns = end;
		fifo_push(d, end, (long)len);
	}
	j = shape.jitter_ms > 0 ? (uniform() * 2 - 1) * shape.jitter_ms : 0;
	due = end + (int64_t)((shape.delay_ms + j) * 1e6);
	if (shape.reorder_pct > 0 && uniform() * 100 < shape.reorder_pct) {
		/* As netem's reorder: this one goes without the delay. */
		due = end;
		d->reordered++;
	} else {
		if (due < d->last_due_ns)
			due = d->last_due_ns;
		d->last_due_ns = due;
	}
	p = malloc(sizeof(*p) + len);
	if (p == NULL) {
		perror("wanem: malloc");
		exit(1);
	}
	p->due_ns = due;
	p->seq = seqno++;
	p->len = len;
	memcpy(p->data, b, len);
	heap_push(d, p);
}

static void
deliver(struct dir *d, int64_t now)
{
	while (d->n > 0 && d->heap[0]->due_ns <= now) {
		struct pkt *p = heap_pop(d);

		if (cut != CUT_NONE) {
			d->cutdrop++;	/* in flight when the link went */
		} else if (write(d->to, p->data, p->len) >= 0) {
			d->out_pkts++;
			d->out_bytes += p->len;
		}
		free(p);
	}
}

static int
tun_open(const char *ns, const char *addr, const char *peer, char *err,
    size_t errlen)
{
	struct ifreq ifr;
	struct sockaddr_in *sin = (struct sockaddr_in *)(void *)&ifr.ifr_addr;
	char path[256];
	int nsfd, fd, s;

	snprintf(path, sizeof(path), "/run/netns/%s", ns);
	nsfd = open(path, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0 || setns(nsfd, CLONE_NEWNET) < 0) {
		snprintf(err, errlen, "namespace %s: %s", ns, strerror(errno));
		return -1;
	}
	close(nsfd);
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		snprintf(err, errlen, "/dev/net/tun in %s: %s", ns,
		    strerror(errno));
		return -1;
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	snprintf(ifr.ifr_name, IFNAMSIZ, "wan0");
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		snprintf(err, errlen, "TUNSETIFF in %s: %s", ns,
		    strerror(errno));
		return -1;
	}
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0) {
		snprintf(err, errlen, "socket in %s: %s", ns, strerror(errno));
		return -1;
	}
	sin->sin_family = AF_INET;
	if (inet_pton(AF_INET, addr, &sin->sin_addr) != 1 ||
	    ioctl(s, SIOCSIFADDR, &ifr) < 0)
		goto fail;
	if (inet_pton(AF_INET, peer, &sin->sin_addr) != 1 ||
	    ioctl(s, SIOCSIFDSTADDR, &ifr) < 0)
		goto fail;
	ifr.ifr_mtu = WANEM_MTU;
	if (ioctl(s, SIOCSIFMTU, &ifr) < 0)
		goto fail;
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		goto fail;
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING | IFF_POINTOPOINT;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		goto fail;
	close(s);
	return fd;
fail:
	snprintf(err, errlen, "wan0 %s in %s: %s", addr, ns, strerror(errno));
	close(s);
	return -1;
}

static void
stats_dir(FILE *f, const struct dir *d)
{
	fprintf(f, "\"%s\": {\"in_pkts\": %llu, \"in_bytes\": %llu, "
	    "\"out_pkts\": %llu, \"out_bytes\": %llu, \"lost\": %llu, "
	    "\"queue_drops\": %llu, \"cut_drops\": %llu, \"resets\": %llu, "
	    "\"reordered\": %llu, \"other\": %llu, \"queued_bytes\": %ld, "
	    "\"in_flight\": %zu}", d->name,
	    (unsigned long long)d->in_pkts, (unsigned long long)d->in_bytes,
	    (unsigned long long)d->out_pkts, (unsigned long long)d->out_bytes,
	    (unsigned long long)d->lost, (unsigned long long)d->qdrop,
	    (unsigned long long)d->cutdrop, (unsigned long long)d->resets,
	    (unsigned long long)d->reordered, (unsigned long long)d->other,
	    d->queued_bytes, d->n);
}

static int
set_keys(char *args)
{
	char *tok, *save = NULL;

	for (tok = strtok_r(args, " \t", &save); tok != NULL;
	    tok = strtok_r(NULL, " \t", &save)) {
		char *eq = strchr(tok, '='), *end;
		double v;

		if (eq == NULL)
			return -1;
		*eq = '\0';
		v = strtod(eq + 1, &end);
		if (end == eq + 1 || *end != '\0' || v < 0)
			return -1;
		if (strcmp(tok, "rate") == 0)
			shape.rate_bps = v;
		else if (strcmp(tok, "delay") == 0)
			shape.delay_ms = v;
		else if (strcmp(tok, "jitter") == 0)
			shape.jitter_ms = v;
		else if (strcmp(tok, "loss") == 0)
			shape.loss_pct = v;
		else if (strcmp(tok, "reorder") == 0)
			shape.reorder_pct = v;
		else if (strcmp(tok, "limit") == 0)
			shape.limit_bytes = (long)v;
		else
			return -1;
	}
	return 0;
}

static void
command(char *line, struct dir *up, struct dir *down)
{
	size_t n = strlen(line);

	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	if (strncmp(line, "profile ", 8) == 0) {
		if (set_profile(line + 8) == 0)
			printf("ok profile %s\n", line + 8);
		else
			printf("err profile %s: unknown\n", line + 8);
	} else if (strncmp(line, "set ", 4) == 0) {
		if (set_keys(line + 4) == 0)
			printf("ok set\n");
		else
			printf("err set: KEY=NUMBER, keys rate delay jitter "
			    "loss reorder limit\n");
	} else if (strcmp(line, "cut reset") == 0) {
		cut = CUT_RESET;
		printf("ok cut reset\n");
	} else if (strcmp(line, "cut silent") == 0) {
		cut = CUT_SILENT;
		printf("ok cut silent\n");
	} else if (strcmp(line, "restore") == 0) {
		cut = CUT_NONE;
		printf("ok restore\n");
	} else if (strcmp(line, "stats") == 0) {
		printf("{\"cut\": \"%s\", ", cut == CUT_NONE ? "none" :
		    cut == CUT_RESET ? "reset" : "silent");
		stats_dir(stdout, up);
		printf(", ");
		stats_dir(stdout, down);
		printf("}\n");
	} else {
		printf("err unknown command: %s\n", line);
	}
	fflush(stdout);
}

static int
next_timeout(const struct dir *a, const struct dir *b, int64_t now)
{
	int64_t t = -1;

	if (a->n > 0)
		t = a->heap[0]->due_ns;
	if (b->n > 0 && (t < 0 || b->heap[0]->due_ns < t))
		t = b->heap[0]->due_ns;
	if (t < 0)
		return 1000;
	if (t <= now)
		return 0;
	return (int)((t - now + 999999) / 1000000);
}

int
main(int argc, char **argv)
{
	struct dir up = { .name = "up" }, down = { .name = "down" };
	char err[256], line[512];
	size_t linelen = 0;
	unsigned char buf[WANEM_MAXPKT];
	int gw, central;

	if (argc < 5 || argc > 7) {
		fprintf(stderr, "usage: wanem GW_NS CENTRAL_NS GW_ADDR "
		    "CENTRAL_ADDR [PROFILE [SEED]]\n");
		return 2;
	}
	if (set_profile(argc > 5 ? argv[5] : "off") < 0) {
		fprintf(stderr, "wanem: profile %s: unknown\n", argv[5]);
		return 2;
	}
	if (argc > 6)
		rng = strtoull(argv[6], NULL, 10) * 2654435761u + 1;
	if ((gw = tun_open(argv[1], argv[3], argv[4], err, sizeof(err))) < 0 ||
	    (central = tun_open(argv[2], argv[4], argv[3], err,
	    sizeof(err))) < 0) {
		fprintf(stderr, "wanem: %s\n", err);
		return 1;
	}
	up.from = down.to = gw;
	up.to = down.from = central;
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		struct pollfd pfd[3] = {
			{ .fd = 0, .events = POLLIN },
			{ .fd = gw, .events = POLLIN },
			{ .fd = central, .events = POLLIN },
		};
		int64_t now = now_ns();
		int i;

		if (poll(pfd, 3, next_timeout(&up, &down, now)) < 0 &&
		    errno != EINTR) {
			perror("wanem: poll");
			return 1;
		}
		now = now_ns();
		for (i = 1; i <= 2; i++) {
			struct dir *d = i == 1 ? &up : &down;
			int k;

			/* A bounded batch per wake-up keeps stdin served. */
			for (k = 0; k < 64 && (pfd[i].revents & POLLIN); k++) {
				ssize_t r = read(pfd[i].fd, buf, sizeof(buf));

				if (r <= 0)
					break;
				take_in(d, buf, (size_t)r, now);
			}
		}
		if (pfd[0].revents & (POLLIN | POLLHUP)) {
			ssize_t r = read(0, line + linelen,
			    sizeof(line) - 1 - linelen);
			char *nl;

			if (r <= 0)
				return 0;
			linelen += (size_t)r;
			line[linelen] = '\0';
			while ((nl = strchr(line, '\n')) != NULL) {
				*nl = '\0';
				command(line, &up, &down);
				linelen -= (size_t)(nl + 1 - line);
				memmove(line, nl + 1, linelen + 1);
			}
			if (linelen == sizeof(line) - 1)
				linelen = 0;	/* an overlong line */
		}
		deliver(&up, now);
		deliver(&down, now);
	}
}
