/* SPDX-License-Identifier: ISC */
/*
 * transport: the byte stream under an MQTT connection, as a small
 * operations table over a connected, non-blocking socket. Plain TCP is
 * here (transport_tcp_new); TLS through mbedTLS is platform/tls.h's
 * tls_wrap(), with the same table. The connection (relay/link.c) never
 * sees which one it has.
 *
 * Thread: the owner's only. Nothing blocks.
 */
#ifndef PUSHRELAY_TRANSPORT_H
#define PUSHRELAY_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Results of reads, writes and handshakes, besides byte counts. */
#define TRANSPORT_IO_AGAIN	(-1)	/* would block; poll again */
#define TRANSPORT_IO_ERR	(-2)	/* failed; errno says why */

/*
 * read returns > 0 bytes, 0 at the end of the stream, or TRANSPORT_IO_*;
 * write returns the bytes taken (> 0) or TRANSPORT_IO_*. After
 * TRANSPORT_IO_AGAIN from write, the next write MUST start at the same
 * bytes and offer at least as many (as a TLS record that is half sent
 * needs). want_write (may be NULL) says that the transport needs POLLOUT
 * even with nothing queued. close ends the session and closes the socket;
 * ctx is dead afterwards.
 *
 * handshake (may be NULL: ready at once) runs the transport's own opening
 * (a TLS handshake). The owner calls it until it returns 0 (ready), on
 * every event of the socket and when *deadline_ms (monotonic, -1: none)
 * has passed. TRANSPORT_IO_AGAIN: poll the socket for *events (POLLIN
 * and/or POLLOUT). TRANSPORT_IO_ERR: failed; err (errlen bytes) says why.
 *
 * pending (may be NULL: never) says that read can return bytes without
 * the socket becoming readable (records already received and decrypted).
 */
struct transport_ops {
	ssize_t	(*read)(void *ctx, uint8_t *buf, size_t cap);
	ssize_t	(*write)(void *ctx, const uint8_t *buf, size_t len);
	int	(*want_write)(void *ctx);
	void	(*close)(void *ctx);
	int	(*handshake)(void *ctx, int64_t now_ms, short *events,
		    int64_t *deadline_ms, char *err, size_t errlen);
	int	(*pending)(void *ctx);
};

/*
 * transport_tcp_new: plain TCP on fd (connected, non-blocking; taken over
 * on success: close() closes it). Sets *ops and *ctx and returns 0, or
 * returns -1 when out of memory (fd stays the caller's).
 */
int transport_tcp_new(int fd, const struct transport_ops **ops, void **ctx);

#endif
