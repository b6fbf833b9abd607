/* mslb's incremental engine: from the model's tracked changes, the switch
 * facts and the runtime facts to one desired flow table per bridge.
 *
 *     model (modeldb.h) ----\
 *     switch facts ----------+--> flows: per bridge, per-service units
 *     runtime facts ---------/    merged into one desired flowset
 *
 * Desired tables are keyed by bridge name, not by connection: a reconnect
 * that brings the same facts recompiles nothing.  A service change
 * recompiles that service's unit on the bridges it was or is on; a bridge
 * change or new facts of a bridge rebuild that bridge; runtime facts (the
 * backends that fail their health checks) recompile the services they
 * name, from the slot table model_slots_effective() makes of theirs.
 * Pure: no I/O, no clock. */
#ifndef MSLB_LBENGINE_H
#define MSLB_LBENGINE_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "mslb/model.h"

struct mdb;
struct flowset;
struct sset;

/* ---- Switch facts: what a bridge's switch told us. ---- */
struct swfacts;

struct swfacts *swfacts_create(void);
void swfacts_destroy(struct swfacts *);
/* Sets the facts of model bridge 'bridge': the OpenFlow version, its ports
 * by name ('n' names and numbers), the LOCAL port's MAC.  Tracks a change
 * only if something differs. */
void swfacts_set(struct swfacts *, const char *bridge, int version,
                 const char *const *port_names, const uint32_t *port_nos,
                 size_t n, const struct mslb_mac *local_mac);
void swfacts_remove(struct swfacts *, const char *bridge);
bool swfacts_has_changes(const struct swfacts *);

/* ---- Runtime facts: what health checks found (docs/health.md). ---- */
struct rtfacts;
struct rtfacts *rtfacts_create(void);
void rtfacts_destroy(struct rtfacts *);
/* Service 'service''s backends that fail their health checks, by key ('n'
 * of them, any order; none: the service is compiled as the model says).
 * Tracks a change only if the set differs, and returns whether it did. */
bool rtfacts_set_failed(struct rtfacts *, const char *service,
                        const uint32_t *keys, size_t n);
bool rtfacts_has_changes(const struct rtfacts *);
/* Service 'service''s moves of its own (sorted by slot; none: none), on
 * top of its table's: a recovered backend's slots keep the sessions its
 * substitutes took meanwhile (ofapp/health.c). */
void rtfacts_set_moves(struct rtfacts *, const char *service,
                       const struct model_slot_move *, size_t n);
/* Resolved MACs of backend addresses (a backend without a configured
 * "mac" uses the one resolved for its address; unresolved, it gets no
 * sessions).  Returns whether it changed; the caller marks the services
 * that use the address. */
bool rtfacts_set_mac(struct rtfacts *, const struct mslb_addr *ip,
                     const struct mslb_mac *);
bool rtfacts_mac(const struct rtfacts *, const struct mslb_addr *ip,
                 struct mslb_mac *);
/* Service 'service' must be compiled again (its MACs changed). */
void rtfacts_mark(struct rtfacts *, const char *service);
/* The failed keys of 'service', sorted ('*n' of them), or NULL. */
const uint32_t *rtfacts_failed(const struct rtfacts *, const char *service,
                               size_t *n);

/* ---- The engine. ---- */
struct lbengine;

/* How many of 'svc''s backends get new sessions as the engine compiles it:
 * up, with a MAC (configured or resolved), not failing their health
 * checks. */
size_t lbengine_usable_backends(const struct lbengine *,
                                const struct model_service *svc);

struct lbengine *lbengine_create(struct mdb *, struct swfacts *,
                                 struct rtfacts *);
void lbengine_destroy(struct lbengine *);

/* Brings every bridge's desired table in line with the inputs, then clears
 * their tracked changes.  Returns true if any table may have changed. */
bool lbengine_run(struct lbengine *);
void lbengine_force_recompute(struct lbengine *);

/* Bridge 'name''s desired table with its dirty marks, or NULL if there is
 * none yet.  If the table cannot be brought up to date (no switch facts, a
 * port it names missing), '*why' says why and the table is the last one
 * built: it stays valid, but should not be installed ('why' nonnull). */
struct flowset *lbengine_desired(const struct lbengine *, const char *name,
                                 const char **why);
/* The ports model bridge 'br' has on its switch, as the compiler sees them
 * (compile.h); false if the switch facts are missing or incomplete. */
struct compile_ports;
bool lbengine_ports(const struct lbengine *, const struct model_bridge *br,
                    struct compile_ports *);

/* Names of the bridges whose desired table changed in the last run. */
const struct sset *lbengine_changed_bridges(const struct lbengine *);

/* Counters: recomputes, incremental runs, units compiled. */
struct lbengine_stats {
    uint64_t recomputes, incremental, units_compiled, bridges_rebuilt;
};
void lbengine_get_stats(const struct lbengine *, struct lbengine_stats *);

/* Compiles bridge 'name' from scratch with the same facts (for tests: an
 * incremental run must equal this).  Returns a new flowset or NULL. */
struct flowset *lbengine_compile_fresh(const struct lbengine *,
                                       const char *name);

#endif /* lbengine.h */
