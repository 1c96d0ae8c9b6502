/* handoff: mutex-protected FIFO from Paho's threads to the main loop. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "handoff.h"

struct handoff {
	pthread_mutex_t mu;
	struct handoff_ev *head;
	struct handoff_ev *tail;
	size_t bytes;		/* message event bytes queued */
	size_t max_bytes;
	uint64_t refused;
	int efd;
};

struct handoff *
handoff_new(size_t max_bytes)
{
	struct handoff *h;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return NULL;
	h->max_bytes = max_bytes;
	if ((h->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		free(h);
		return NULL;
	}
	pthread_mutex_init(&h->mu, NULL);
	return h;
}

void
handoff_free(struct handoff *h)
{
	struct handoff_ev *ev;

	if (h == NULL)
		return;
	while ((ev = handoff_pop(h)) != NULL)
		handoff_ev_free(ev);
	close(h->efd);
	pthread_mutex_destroy(&h->mu);
	free(h);
}

int
handoff_fd(const struct handoff *h)
{
	return h->efd;
}

void
handoff_drain_fd(struct handoff *h)
{
	uint64_t v;

	/* EAGAIN means nothing was pending: fine either way. */
	if (read(h->efd, &v, sizeof(v)) == -1 && errno != EAGAIN)
		return;
}

struct handoff_ev *
handoff_ev_new(enum handoff_type type, size_t extra)
{
	struct handoff_ev *ev;

	if ((ev = calloc(1, sizeof(*ev) + extra)) == NULL)
		return NULL;
	ev->type = type;
	ev->size = sizeof(*ev) + extra;
	return ev;
}

void
handoff_ev_free(struct handoff_ev *ev)
{
	free(ev);
}

int
handoff_push(struct handoff *h, struct handoff_ev *ev)
{
	int was_empty;

	pthread_mutex_lock(&h->mu);
	if (ev->type == HANDOFF_MSG) {
		if (h->bytes + ev->size > h->max_bytes && h->head != NULL) {
			h->refused++;
			pthread_mutex_unlock(&h->mu);
			return HANDOFF_ERR_FULL;
		}
		h->bytes += ev->size;
	}
	ev->next = NULL;
	was_empty = h->head == NULL;
	if (h->tail != NULL)
		h->tail->next = ev;
	else
		h->head = ev;
	h->tail = ev;
	pthread_mutex_unlock(&h->mu);
	/* Only the transition to non-empty needs a wake-up: the loop drains. */
	if (was_empty)
		handoff_wake(h);
	return HANDOFF_OK;
}

struct handoff_ev *
handoff_pop(struct handoff *h)
{
	struct handoff_ev *ev;

	pthread_mutex_lock(&h->mu);
	if ((ev = h->head) != NULL) {
		h->head = ev->next;
		if (h->head == NULL)
			h->tail = NULL;
		if (ev->type == HANDOFF_MSG)
			h->bytes -= ev->size;
		ev->next = NULL;
	}
	pthread_mutex_unlock(&h->mu);
	return ev;
}

void
handoff_wake(struct handoff *h)
{
	uint64_t one = 1;
	int saved = errno;

	/* A full counter (EAGAIN) already means "wake up". */
	if (write(h->efd, &one, sizeof(one)) == -1) {
		/* Nothing to do: the loop is awake or will be. */
	}
	errno = saved;
}

uint64_t
handoff_refused(struct handoff *h)
{
	uint64_t n;

	pthread_mutex_lock(&h->mu);
	n = h->refused;
	pthread_mutex_unlock(&h->mu);
	return n;
}
