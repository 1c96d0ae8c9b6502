/* SPDX-License-Identifier: ISC */
/* benchproxy: the counting TCP proxy on the central link of tests/bench/run.
 *
 *   benchproxy LISTEN_PORT UPSTREAM_PORT
 *
 * Listens on 127.0.0.1:LISTEN_PORT and joins every connection to
 * 127.0.0.1:UPSTREAM_PORT, counting the bytes each way: "up" is what the
 * contender sends towards the central broker, "down" what comes back. Every
 * contender's WAN traffic crosses this one program, so it is counted the
 * same way for all of them (TCP payload bytes; no TCP/IP headers).
 *
 * Commands, one per line on stdin; each prints one line on stdout:
 *   s   "up U down D accepts A open O last_accept_ns T"
 *   b   block: close every joined connection and from now on close each new
 *       one at once (a WAN outage); prints "ok"
 *   u   unblock; prints "ok"
 *   q   exit
 * EOF on stdin also exits, so the proxy never outlives the bench.
 * Single-threaded poll loop, non-blocking sockets, 64 KiB per direction.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXP 64
#define BUFSZ 65536

struct dir { char buf[BUFSZ]; size_t len, off; };
struct pair { int c, u; int live; struct dir up, down; };

static struct pair pairs[MAXP];
static unsigned long long bytes_up, bytes_down, accepts;
static long long last_accept;
static int blocked;

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static void close_pair(struct pair *p)
{
	if (!p->live)
		return;
	close(p->c);
	close(p->u);
	p->live = 0;
}

/* move bytes src -> d -> dst; returns -1 when the pair must close */
static int pump(int src, int dst, struct dir *d, unsigned long long *count,
		short rev_src, short rev_dst)
{
	if (d->len == 0 && (rev_src & (POLLIN | POLLHUP | POLLERR))) {
		ssize_t r = read(src, d->buf, BUFSZ);
		if (r == 0)
			return -1;
		if (r < 0)
			return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
		d->len = (size_t)r;
		d->off = 0;
		*count += (unsigned long long)r;
		rev_dst |= POLLOUT; /* try at once */
	}
	if (d->len > 0 && (rev_dst & (POLLOUT | POLLERR))) {
		ssize_t w = write(dst, d->buf + d->off, d->len);
		if (w < 0)
			return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
		d->off += (size_t)w;
		d->len -= (size_t)w;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: benchproxy LISTEN_PORT UPSTREAM_PORT\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	int lport = atoi(argv[1]), uport = atoi(argv[2]);
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in a = {0};
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)lport);
	if (bind(ls, (struct sockaddr *)&a, sizeof a) != 0 || listen(ls, 16) != 0) {
		perror("benchproxy: bind/listen");
		return 1;
	}
	fcntl(ls, F_SETFL, fcntl(ls, F_GETFL) | O_NONBLOCK);
	printf("listening\n");
	fflush(stdout);

	char cmd[256];
	size_t cmdlen = 0;
	for (;;) {
		struct pollfd fds[2 + 2 * MAXP];
		int idx[2 * MAXP];
		int nf = 0;
		fds[nf++] = (struct pollfd){0, POLLIN, 0};
		fds[nf++] = (struct pollfd){ls, POLLIN, 0};
		for (int i = 0; i < MAXP; i++) {
			struct pair *p = &pairs[i];
			if (!p->live)
				continue;
			short ce = 0, ue = 0;
			if (p->up.len == 0) ce |= POLLIN; else ue |= POLLOUT;
			if (p->down.len == 0) ue |= POLLIN; else ce |= POLLOUT;
			idx[nf - 2] = i;
			fds[nf++] = (struct pollfd){p->c, ce, 0};
			idx[nf - 2] = i;
			fds[nf++] = (struct pollfd){p->u, ue, 0};
		}
		if (poll(fds, (nfds_t)nf, 1000) < 0) {
			if (errno == EINTR)
				continue;
			perror("benchproxy: poll");
			return 1;
		}
		if (fds[0].revents) {
			ssize_t r = read(0, cmd + cmdlen, sizeof cmd - 1 - cmdlen);
			if (r <= 0)
				break;
			cmdlen += (size_t)r;
			char *nl;
			int quit = 0;
			while ((nl = memchr(cmd, '\n', cmdlen)) != NULL) {
				char c = cmd[0];
				size_t used = (size_t)(nl - cmd) + 1;
				memmove(cmd, nl + 1, cmdlen - used);
				cmdlen -= used;
				int open_n = 0;
				for (int i = 0; i < MAXP; i++)
					open_n += pairs[i].live;
				if (c == 's') {
					printf("up %llu down %llu accepts %llu open %d last_accept_ns %lld\n",
					       bytes_up, bytes_down, accepts, open_n, last_accept);
				} else if (c == 'b') {
					blocked = 1;
					for (int i = 0; i < MAXP; i++)
						close_pair(&pairs[i]);
					printf("ok\n");
				} else if (c == 'u') {
					blocked = 0;
					printf("ok\n");
				} else if (c == 'q') {
					quit = 1;
				} else {
					printf("?\n");
				}
				fflush(stdout);
			}
			if (quit)
				break;
			if (cmdlen == sizeof cmd - 1)
				cmdlen = 0;
			continue; /* pairs may have been closed: rebuild the poll set */
		}
		if (fds[1].revents & POLLIN) {
			for (int k = 0; k < 16; k++) {
				int c = accept(ls, NULL, NULL);
				if (c < 0)
					break;
				if (blocked) {
					close(c);
					continue;
				}
				int slot = -1;
				for (int i = 0; i < MAXP; i++)
					if (!pairs[i].live) { slot = i; break; }
				int u = socket(AF_INET, SOCK_STREAM, 0);
				struct sockaddr_in b = a;
				b.sin_port = htons((uint16_t)uport);
				if (slot < 0 || u < 0 ||
				    connect(u, (struct sockaddr *)&b, sizeof b) != 0) {
					close(c);
					if (u >= 0)
						close(u);
					continue;
				}
				nonblock(c);
				nonblock(u);
				struct pair *p = &pairs[slot];
				p->c = c;
				p->u = u;
				p->live = 1;
				p->up.len = p->down.len = 0;
				accepts++;
				last_accept = now_ns();
			}
		}
		for (int f = 2; f < nf; f += 2) {
			struct pair *p = &pairs[idx[f - 2]];
			if (!p->live)
				continue;
			short rc = fds[f].revents, ru = fds[f + 1].revents;
			if (pump(p->c, p->u, &p->up, &bytes_up, rc, ru) < 0 ||
			    pump(p->u, p->c, &p->down, &bytes_down, ru, rc) < 0)
				close_pair(p);
		}
	}
	for (int i = 0; i < MAXP; i++)
		close_pair(&pairs[i]);
	return 0;
}
