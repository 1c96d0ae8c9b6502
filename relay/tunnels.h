/*
 * tunnels: the thread that serves the two tunnels (platform/tunnel.h).
 *
 * Why a thread of our own: Paho's HTTP CONNECT handshake (Proxy_connect)
 * runs with Paho's global mutex held and waits up to 10 s for the proxy's
 * reply. If the main loop served the tunnels, any Paho call the main loop
 * made meanwhile (a publish on the other link, a connect, a destroy) would
 * block on that mutex, and the reply Paho waits for would never come: both
 * links froze for 10 s. This thread never calls Paho and never waits for
 * the main loop, so a proxy request is always answered.
 *
 * Hand-off: the tunnels stay owned by struct relay; this module owns one
 * mutex that guards them. The main loop takes it (tunnels_lock) around
 * every tunnel_* call it makes (durable acks, drops, stats, wraps) and
 * releases it with tunnels_unlock, which also wakes the thread. The thread
 * takes it while it dispatches; it never blocks while holding it except on
 * non-blocking socket calls and TLS steps.
 */
#ifndef PUSHRELAY_TUNNELS_H
#define PUSHRELAY_TUNNELS_H

#include <stddef.h>

#include "platform/tunnel.h"

struct tunnels;

/*
 * tunnels_start: start serving t[0] and t[1] (borrowed: they must outlive
 * the thread). Returns 0, or -1 with err filled.
 */
int tunnels_start(struct tunnels **out, struct tunnel *const t[2],
    char *err, size_t errlen);

/* tunnels_stop: stop and join the thread, free. NULL is a no-op. */
void tunnels_stop(struct tunnels *ts);

/* tunnels_lock/unlock: guard main-loop calls into the tunnels. */
void tunnels_lock(struct tunnels *ts);
void tunnels_unlock(struct tunnels *ts);

#endif
