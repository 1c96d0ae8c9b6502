/* tunnels: the tunnels' own poll thread; see tunnels.h for why. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "platform/clock.h"
#include "relay/tunnels.h"

/* Upper bound of one poll, so a stop is seen within this. */
#define TUNNELS_POLL_MAX_MS	1000

struct tunnels {
	pthread_t thread;
	pthread_mutex_t mu;
	struct tunnel *t[2];
	int wake_fd;
	int stop;		/* under mu */
};

static int
tunnels_timeout(struct tunnels *ts, int64_t now)
{
	int64_t best = TUNNELS_POLL_MAX_MS, due;
	int i;

	for (i = 0; i < 2; i++) {
		if ((due = tunnel_next_deadline(ts->t[i])) < 0)
			continue;
		if (due - now < best)
			best = due - now < 0 ? 0 : due - now;
	}
	return (int)best;
}

/* One round: prepare under the lock, poll without it, dispatch under it. */
static int
tunnels_round(struct tunnels *ts)
{
	struct pollfd pfd[1 + 2 * TUNNEL_POLLFDS];
	size_t n = 1, nt[2];
	int64_t now;
	int timeout, i;
	uint64_t v;

	pthread_mutex_lock(&ts->mu);
	if (ts->stop) {
		pthread_mutex_unlock(&ts->mu);
		return -1;
	}
	now = clock_mono_ms();
	for (i = 0; i < 2; i++) {
		tunnel_flush(ts->t[i], now);
		nt[i] = tunnel_pollfds(ts->t[i], pfd + n);
		n += nt[i];
	}
	timeout = tunnels_timeout(ts, now);
	pthread_mutex_unlock(&ts->mu);
	pfd[0].fd = ts->wake_fd;
	pfd[0].events = POLLIN;
	if (poll(pfd, n, timeout) <= 0)
		return 0;	/* Timeout or EINTR: the next round flushes. */
	if (pfd[0].revents != 0 && read(ts->wake_fd, &v, sizeof(v)) == -1) {
		/* EAGAIN: another round already took the wake-up. */
	}
	/*
	 * The main loop may have dropped a connection since the fds were
	 * taken; tunnel_dispatch() ignores entries that are not its fds now.
	 */
	pthread_mutex_lock(&ts->mu);
	now = clock_mono_ms();
	tunnel_dispatch(ts->t[0], pfd + 1, nt[0], now);
	tunnel_dispatch(ts->t[1], pfd + 1 + nt[0], nt[1], now);
	pthread_mutex_unlock(&ts->mu);
	return 0;
}

static void *
tunnels_main(void *arg)
{
	struct tunnels *ts = arg;

	while (tunnels_round(ts) == 0)
		;
	return NULL;
}

int
tunnels_start(struct tunnels **out, struct tunnel *const t[2], char *err,
    size_t errlen)
{
	struct tunnels *ts;
	int rc;

	if ((ts = calloc(1, sizeof(*ts))) == NULL) {
		snprintf(err, errlen, "tunnels: out of memory");
		return -1;
	}
	ts->t[0] = t[0];
	ts->t[1] = t[1];
	if ((ts->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		snprintf(err, errlen, "tunnels: eventfd: %s", strerror(errno));
		free(ts);
		return -1;
	}
	pthread_mutex_init(&ts->mu, NULL);
	if ((rc = pthread_create(&ts->thread, NULL, tunnels_main, ts)) != 0) {
		snprintf(err, errlen, "tunnels: thread: %s", strerror(rc));
		close(ts->wake_fd);
		pthread_mutex_destroy(&ts->mu);
		free(ts);
		return -1;
	}
	*out = ts;
	return 0;
}

static void
tunnels_wake(struct tunnels *ts)
{
	uint64_t one = 1;

	if (write(ts->wake_fd, &one, sizeof(one)) == -1) {
		/* A full counter already means "wake up". */
	}
}

void
tunnels_stop(struct tunnels *ts)
{
	if (ts == NULL)
		return;
	pthread_mutex_lock(&ts->mu);
	ts->stop = 1;
	pthread_mutex_unlock(&ts->mu);
	tunnels_wake(ts);
	pthread_join(ts->thread, NULL);
	close(ts->wake_fd);
	pthread_mutex_destroy(&ts->mu);
	free(ts);
}

void
tunnels_lock(struct tunnels *ts)
{
	pthread_mutex_lock(&ts->mu);
}

void
tunnels_unlock(struct tunnels *ts)
{
	pthread_mutex_unlock(&ts->mu);
	/* What the main loop did (an ack released, a drop) needs a new poll. */
	tunnels_wake(ts);
}
