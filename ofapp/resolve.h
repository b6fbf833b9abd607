/* Backend MAC discovery (docs/health.md): a backend of mode nat, dr,
 * l3dsr or mslb given without "mac" has its address resolved by mslbd,
 * from a first-stage bridge of its service, out of the bridge's backend
 * port (mode mslb: from the final stage on the server's host, switched to
 * its ports, from MSLB_RESOLVE_MAC):
 *
 *   - IPv4: an ARP probe (RFC 5227: sender address 0.0.0.0, so that a dr
 *     server holding the VIP answers too), answered by unicast to the
 *     bridge's MAC;
 *   - IPv6: a neighbour solicitation from the bridge's link-local address
 *     to the target's solicited-node group, answered by a unicast
 *     advertisement.
 *
 * CLASSIFY hands the answers to mslbd (priority 310).  An address is asked
 * for at once, then after 1, 2, 4 s... (at most 5 s) until it answers;
 * once known, again every 30 s (jittered), and at once when a health probe
 * of a backend at that address fails, so that a server whose MAC changed
 * is followed within one probe interval.  The MAC goes to the engine's
 * runtime facts; until it is known the backend gets no sessions.  A
 * configured "mac" always wins. */
#ifndef RESOLVE_H
#define RESOLVE_H 1

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include <uv.h>
#include "mslb/model.h"
#include "openvswitch/ofp-msgs.h"

struct bridges;
struct lbengine;
struct mdb;
struct ofp_header;
struct ofsession;
struct resolver;
struct rtfacts;

struct resolver *resolver_create(uv_loop_t *, const struct mdb *,
                                 struct rtfacts *, struct bridges *,
                                 const struct lbengine *,
                                 void (*changed)(void *aux), void *aux);
void resolver_destroy(struct resolver *);

/* Brings the addresses to resolve in line with the model's tracked
 * service changes (before the engine clears them), or every service. */
void resolver_sync(struct resolver *, bool all);

/* A packet-in on bridge 'bridge': true if it was an answer. */
bool resolver_handle_msg(struct resolver *, const char *bridge,
                         struct ofsession *, const struct ofp_header *,
                         enum ofptype);

/* Ask for 'ip' again now (a probe of a backend there failed). */
void resolver_kick(struct resolver *, const struct mslb_addr *ip);

/* The MAC a backend at 'ip' without a configured one uses, if known. */
/* Several mslbd (docs/deployment.md): only the master's requests reach
 * the switches.  resolver_seq() moves whenever a MAC is learned;
 * resolver_export() calls 'cb' for every known address; a standby takes
 * the master's with resolver_import() (ignored for an address it does not
 * ask for). */
uint64_t resolver_seq(const struct resolver *);
void resolver_export(const struct resolver *,
                     void (*cb)(void *aux, const struct mslb_addr *,
                                const struct mslb_mac *),
                     void *aux);
void resolver_import(struct resolver *, const struct mslb_addr *ip,
                     const struct mslb_mac *);

bool resolver_mac(const struct resolver *, const struct mslb_addr *ip,
                  struct mslb_mac *);

/* {"mac", "age_s"} of 'ip' (new reference), or NULL if it is not
 * resolved. */
json_t *resolver_json(const struct resolver *, const struct mslb_addr *ip);

struct resolver_counters {
    uint64_t requests, answers, changes;
};
void resolver_get_counters(const struct resolver *,
                           struct resolver_counters *);

#endif /* resolve.h */
