/* Open sessions of a DSR backend, estimated from counters.
 *
 * The DSR modes keep no state per session and see only the clients'
 * packets, so a TCP backend's open sessions are estimated from the
 * counters of its own flows: the sessions opened (the clients' SYNs) less
 * those closed (their FINs and RSTs, and the sessions mslbd reset).  The
 * estimate is carried from one read of the counters to the next and never
 * falls below zero, so a close counted twice (a FIN and an RST, a FIN sent
 * again) takes nothing from later sessions; it is zero once the backend's
 * packet count stood still for the service's idle timeout, since a
 * session the client abandons or the server resets is never seen to
 * close. */
#ifndef MSLB_OPEN_ESTIMATE_H
#define MSLB_OPEN_ESTIMATE_H 1

#include <stdint.h>

struct open_estimate {
    uint64_t opened, closed, packets;   /* The totals when last read. */
    uint64_t open;                      /* The estimate. */
    long long int active_ms;            /* When 'packets' last grew. */
};

/* A backend's totals as read at 'now_ms'. */
struct open_totals {
    uint64_t opened, closed, packets;
};

/* Sets 'e' from the totals 't' read at 'now_ms' ('e' zeroed for a backend
 * seen for the first time) and returns the estimate. */
uint64_t open_estimate_update(struct open_estimate *,
                              const struct open_totals *t,
                              int idle_timeout_s, long long int now_ms);

#endif
