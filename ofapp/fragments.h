/* Fragments to VIPs (docs/mtu.md).  Only the first fragment of a datagram
 * carries its ports, and OpenFlow has no field for the fragment id, so a
 * first-stage bridge sends every fragment to a VIP that has a service
 * naming a protocol here (CLASSIFY, compile_frag.c).  Per bridge, a table
 * of datagrams keyed by (source, destination, protocol, fragment id) holds
 * the fragments until the first one arrives, classifies the datagram by
 * it as the flows classify whole packets (port service, then protocol,
 * then any-protocol service), and sends every fragment, held or later, on
 * the same way:
 *
 *   - DSR modes: the first fragment is sent through DSR_AFFINITY as a
 *     probe (reg4), which picks or finds the session's backend as any
 *     packet would and comes back with it in reg1; then every fragment
 *     goes through DSR_FORWARD to that backend;
 *   - nat: every fragment goes to conntrack with the translation to the
 *     backend the select group's spread gives its 5-tuple; conntrack
 *     reassembles the datagram and keeps an existing session's
 *     translation;
 *   - local: to the LOCAL port;
 *   - an ICMP echo request to a VIP no any-protocol service takes is
 *     reassembled and answered by the balancer, in fragments no bigger
 *     than the request's;
 *   - anything else is switched unchanged (NORMAL), as before.
 *
 * Datagrams are forgotten when whole, or after FRAGS_TIMEOUT_MS; the table
 * is bounded in datagrams and bytes held. */
#ifndef MSLB_FRAGMENTS_H
#define MSLB_FRAGMENTS_H 1

#include <stdbool.h>
#include <stdint.h>

#include "openvswitch/ofp-msgs.h"

struct compile_ports;
struct mdb;
struct model_bridge;
struct ofsession;

#define FRAGS_TIMEOUT_MS 5000
#define FRAGS_MAX_DATAGRAMS 4096        /* Per bridge. */
#define FRAGS_MAX_HELD_BYTES (16 << 20) /* Per bridge, waiting for a
                                         * first fragment or a decision. */
#define FRAGS_MAX_FRAGMENTS 64          /* Per datagram. */

/* Process-wide counters, for /metrics. */
struct frags_counters {
    uint64_t fragments;         /* Fragments received. */
    uint64_t forwarded;         /* Datagrams sent on to a service. */
    uint64_t switched;          /* Datagrams of no service, switched. */
    uint64_t answered;          /* Echo requests answered. */
    uint64_t dropped;           /* Malformed, no backend, over a limit. */
    uint64_t expired;           /* Not whole (or not decided) in time. */
};
void frags_get_counters(struct frags_counters *);

struct frags *frags_create(const char *bridge_name);
void frags_destroy(struct frags *);

/* What a decision needs: the model, the bridge as the model has it, and
 * its ports as the compiler sees them. */
struct frags_env {
    const struct mdb *mdb;
    const struct model_bridge *br;
    const struct compile_ports *ports;
};

/* Handles 'oh' if it is a packet-in of a fragment (CLASSIFY) or of a probe
 * (DSR_FORWARD), then returns true; sends through 's'. */
bool frags_handle_msg(struct frags *, struct ofsession *s,
                      const struct ofp_header *oh, enum ofptype type,
                      const struct frags_env *);

#endif /* fragments.h */
