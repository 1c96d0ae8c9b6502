/* SPDX-License-Identifier: ISC */
/*
 * route: the topic mapping between the local and the central broker, as
 * Mosquitto's bridge does it. An uplink route subscribes locally to
 * local_prefix + topic and a message at local_prefix + T goes to
 * remote_prefix + T; a downlink route subscribes centrally to
 * remote_prefix + topic and publishes at local_prefix + T.
 *
 * A route table is built from a struct conf and owns copies of the
 * subscription filters; it keeps a borrowed pointer to the conf's routes,
 * so the conf must outlive the table. Thread: main loop only.
 */
#ifndef PUSHRELAY_ROUTE_H
#define PUSHRELAY_ROUTE_H

#include <stddef.h>

#include "platform/conf.h"

enum route_dir {
	ROUTE_UP = 0,
	ROUTE_DOWN = 1,
};

struct route_table;

/* route_new: build the table for c (borrowed, must outlive it). */
struct route_table *route_new(const struct conf *c);

/* route_free: NULL is a no-op. */
void route_free(struct route_table *t);

/*
 * route_filters: the subscription filters of one direction (on the local
 * broker for ROUTE_UP, on the central one for ROUTE_DOWN) and their QoS.
 * The arrays belong to the table. Returns the count.
 */
size_t route_filters(const struct route_table *t, enum route_dir d,
    char *const **filters, const int **qos);

/*
 * route_map: find the first route of direction d whose filter matches
 * topic and write the destination topic into out (cap bytes).
 * Returns the route (borrowed from the conf), or NULL when no route
 * matches or the destination does not fit in cap.
 */
const struct conf_route *route_map(const struct route_table *t,
    enum route_dir d, const char *topic, char *out, size_t cap);

/*
 * route_of_dest: the route of direction d a queued message came by, from
 * its destination topic (topic, borrowed): the first route whose
 * destination filter (remote_prefix + topic for ROUTE_UP, local_prefix +
 * topic for ROUTE_DOWN) matches it. Returns the route (borrowed from the
 * conf), its index in *idx (idx may be NULL), or NULL. For what the queue
 * does not store per message (max_delay_ms, max_rate).
 */
const struct conf_route *route_of_dest(const struct route_table *t,
    enum route_dir d, const char *topic, size_t *idx);

#endif
