/* The reconciler of one bridge: keeps what the switch holds (mslb's own
 * flows and groups, adopted from the switch's dumps) in step with a desired
 * set the caller gives, sending only the difference, in order, in one
 * atomic bundle closed by a barrier.  It lives as long as the bridge, across
 * connections: a reconnect adopts again and compares, recompiling nothing.
 *
 * It talks to the switch only through 'struct reconciler_switch' (a real one
 * over ofsession, a fake one in the unit tests), and tells its owner about
 * progress through 'struct reconciler_cbs'. */
#ifndef RECONCILER_H
#define RECONCILER_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct flowset;
struct ofpbuf;
struct ofp_header;

#define RECONCILER_STATES                                                  \
    RECONCILER_STATE(DISCONNECTED, "disconnected")                         \
    RECONCILER_STATE(ADOPTING, "adopting")  /* Flow and group dumps. */   \
    RECONCILER_STATE(IDLE, "idle")                                         \
    RECONCILER_STATE(BUSY, "busy")          /* A bundle in flight. */

enum reconciler_state {
#define RECONCILER_STATE(NAME, TEXT) RECONCILER_##NAME,
    RECONCILER_STATES
#undef RECONCILER_STATE
};

const char *reconciler_state_name(enum reconciler_state);

/* The seam to the switch. */
struct reconciler_switch {
    /* A fresh transaction id. */
    uint32_t (*alloc_xid)(void *aux);
    /* Sends 'msg' (taken) with the xid it carries. */
    void (*send)(void *aux, struct ofpbuf *msg);
    /* Milliseconds of a monotonic clock, for logs only (may be NULL). */
    uint64_t (*now_ms)(void *aux);
};

/* Upward notifications (each may be NULL). */
struct reconciler_cbs {
    /* The dumps are in: the switch's mslb entries are known. */
    void (*adopted)(void *aux);
    /* The installed generation moved (or the state in step changed). */
    void (*installed)(void *aux, uint64_t generation);
};

struct reconciler;

/* 'bridge' names the bridge in logs.  'sw' is called with 'sw_aux', 'cbs'
 * with 'cbs_aux'; all must outlive the reconciler. */
struct reconciler *reconciler_create(const char *bridge,
                                     const struct reconciler_switch *sw,
                                     void *sw_aux,
                                     const struct reconciler_cbs *cbs,
                                     void *cbs_aux);
void reconciler_destroy(struct reconciler *);

/* A session to the switch is ready and speaks 'ofp_version': forget what
 * the switch held before and adopt what it holds now (dumps).  Installing
 * starts once the dumps are in. */
void reconciler_connected(struct reconciler *, int ofp_version);
/* The session is gone: whatever was in flight is forgotten. */
void reconciler_disconnected(struct reconciler *);
/* The session stays but this controller may not write any more (another
 * became the switch's master): like disconnected, except that the
 * replies of the bundles in flight still come and are taken quietly. */
void reconciler_demoted(struct reconciler *);

/* Consumes the replies and errors that answer the reconciler's own
 * requests; returns false for any other message. */
bool reconciler_handle_msg(struct reconciler *, const struct ofp_header *);

/* What the bridge should hold, as of the model's 'generation'.  'want'
 * stays owned by the caller, who may change it (merging and unmerging,
 * which mark keys dirty) at any time between calls, but must call this
 * again after every change and keep 'want' alive until it passes another
 * set or destroys the reconciler.  The reconciler clears the dirty marks
 * it has taken into account. */
void reconciler_set_desired(struct reconciler *, struct flowset *want,
                            uint64_t generation);

enum reconciler_state reconciler_state(const struct reconciler *);
/* The generation the switch confirmed in this session (0: none yet). */
uint64_t reconciler_installed_generation(const struct reconciler *);
/* Idle, nothing pending, and the last desired generation installed. */
bool reconciler_in_step(const struct reconciler *);
/* What the switch holds of mslb's (as far as known). */
size_t reconciler_n_flows(const struct reconciler *);
size_t reconciler_n_groups(const struct reconciler *);

#endif /* reconciler.h */
