/* SPDX-License-Identifier: ISC */
/* transport: plain TCP as a transport_ops table; see transport.h. */
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "platform/transport.h"

struct transport_tcp {
	int fd;
};

static ssize_t
transport_tcp_read(void *ctx, uint8_t *buf, size_t cap)
{
	struct transport_tcp *t = ctx;
	ssize_t n;

	do
		n = recv(t->fd, buf, cap, 0);
	while (n == -1 && errno == EINTR);
	if (n >= 0)
		return n;
	return errno == EAGAIN || errno == EWOULDBLOCK ? TRANSPORT_IO_AGAIN :
	    TRANSPORT_IO_ERR;
}

static ssize_t
transport_tcp_write(void *ctx, const uint8_t *buf, size_t len)
{
	struct transport_tcp *t = ctx;
	ssize_t n;

	do
		n = send(t->fd, buf, len, MSG_NOSIGNAL);
	while (n == -1 && errno == EINTR);
	if (n > 0)
		return n;
	if (n == 0 || errno == EAGAIN || errno == EWOULDBLOCK)
		return TRANSPORT_IO_AGAIN;
	return TRANSPORT_IO_ERR;
}

static void
transport_tcp_close(void *ctx)
{
	struct transport_tcp *t = ctx;

	close(t->fd);
	free(t);
}

static const struct transport_ops transport_tcp_ops = {
	.read = transport_tcp_read,
	.write = transport_tcp_write,
	.close = transport_tcp_close,
};

int
transport_tcp_new(int fd, const struct transport_ops **ops, void **ctx)
{
	struct transport_tcp *t;

	if ((t = malloc(sizeof(*t))) == NULL)
		return -1;
	t->fd = fd;
	*ops = &transport_tcp_ops;
	*ctx = t;
	return 0;
}
