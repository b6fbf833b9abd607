/* Open sessions of a DSR backend: see open_estimate.h. */
#include "open_estimate.h"

#include <stdbool.h>

uint64_t
open_estimate_update(struct open_estimate *e, const struct open_totals *t,
                     int idle_timeout_s, long long int now_ms)
{
    bool first = !e->active_ms;

    if (first || t->opened < e->opened || t->closed < e->closed) {
        /* New, or its totals restarted (the backend made again, a
         * bridge's flows gone): from the totals. */
        e->open = t->opened > t->closed ? t->opened - t->closed : 0;
        e->active_ms = now_ms;
    } else {
        uint64_t opened = t->opened - e->opened;
        uint64_t closed = t->closed - e->closed;

        e->open = e->open + opened > closed ? e->open + opened - closed : 0;
        if (t->packets != e->packets) {
            e->active_ms = now_ms;
        } else if (now_ms - e->active_ms >= idle_timeout_s * 1000LL) {
            e->open = 0;
        }
    }
    e->opened = t->opened;
    e->closed = t->closed;
    e->packets = t->packets;
    return e->open;
}
