/* The compiler: a pure function from the model to the flows and groups a
 * bridge should have, built as libopenvswitch matches, ofpacts and bucket
 * lists straight into a flow set (flowset.h).  No I/O, no clock, no
 * globals, no text. */
#ifndef MSLB_COMPILE_H
#define MSLB_COMPILE_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "mslb/model.h"

struct flowset;
struct ofpbuf;

/* What the compiler needs to know of the switch: the OpenFlow port numbers
 * of the bridge's named ports, and whether the connection speaks OpenFlow
 * 1.5, which lets select groups hash the full 5-tuple (with 1.3 OVS picks a
 * symmetric hash that leaves out UDP ports). */
struct compile_ports {
    uint32_t frontend;
    uint32_t backend;
    bool of15;
    uint32_t tunnel[MODEL_N_TUNNELS];   /* Port numbers; 0: no such port. */
    struct mslb_mac local_mac;          /* The bridge's LOCAL port. */
};

/* Each compile_*() below adds flows and groups to 'out' (flowset_add_flow(),
 * flowset_add_group()); entries 'out' already has are counted once more, as
 * flow sets do.  Returns NULL, or a malloc'd error naming the first entry
 * that conflicts with one already in 'out' (the rest is still added). */

/* The flows and groups of bridge 'br' of model 'm': the base and every
 * service (or, for a final-stage bridge, compile_final_bridge()). */
char *compile_bridge(const struct model *m, const struct model_bridge *br,
                     const struct compile_ports *, struct flowset *out)
    MSLB_WARN_UNUSED;

/* The flows and groups of one service, including the flows it shares with
 * other services of the same VIP or backends (identical entries: a flow
 * set counts them, so units can be merged and unmerged). */
char *compile_service(const struct model_service *,
                      const struct model_bridge *,
                      const struct compile_ports *, struct flowset *out)
    MSLB_WARN_UNUSED;

/* The flows of a final-stage bridge: the restore flows for every backend
 * that names it as its host bridge, and NORMAL for the rest. */
char *compile_final_bridge(const struct model *, const struct model_bridge *,
                           const struct compile_ports *, struct flowset *out)
    MSLB_WARN_UNUSED;

/* The flows every first-stage bridge has whatever its services: defaults
 * and gateway responders. */
char *compile_bridge_base(const struct model_bridge *,
                          const struct compile_ports *, struct flowset *out)
    MSLB_WARN_UNUSED;

/* Bucket assignment: fills 'slots' (n_slots entries) with indexes into
 * 'backends' of the usable backends, in proportion to their weights; each
 * usable backend gets at least one slot.  Returns the number of slots
 * filled: 'n_slots', or 0 when no backend is usable.  Deterministic, and
 * a slot changes hands only when the backend set or weights require it. */
size_t compile_assign_slots(const struct model_backend *backends,
                            size_t n_backends, uint32_t *slots,
                            size_t n_slots);

/* The backend (an index into svc->backends) each bucket of the service's
 * select group leads to, in bucket order; returns how many buckets there
 * are (0: no usable backend).  'buckets' must hold MODEL_MAX_BACKENDS +
 * MSLB_GROUP_SLOTS entries.  '*weighted': the buckets carry the backends'
 * weights (more usable backends than slots) rather than 1 each. */
size_t compile_group_buckets(const struct model_service *, uint32_t *buckets,
                             bool *weighted);

/* Fragments (docs/mtu.md).  Every fragment to a VIP that has a service
 * naming a protocol goes to the controller, which classifies its datagram
 * by the first fragment and sends every fragment on with these actions.
 *
 * compile_fragment_probe(): DSR modes only (else returns false): the
 * actions that send a first fragment through DSR_AFFINITY (learning a new
 * session, as any packet would) with reg4 = 'token' | MSLB_PROBE_FLAG, so
 * that DSR_FORWARD hands it back to the controller with its backend's key
 * in reg1.  'proto': the datagram's protocol.
 *
 * compile_fragment_actions(): the actions that send one fragment of a
 * datagram of 'svc' on to backend 'be' (ignored in mode local): DSR modes
 * through DSR_FORWARD with reg0, reg1; nat committed and translated by
 * conntrack, which reassembles the datagram first and keeps an existing
 * session's translation; local to the LOCAL port.
 *
 * compile_fragment_backend(): nat: the backend (index into svc->backends)
 * a new session with hash 'hash' gets, spread as the select group spreads
 * them, or -1 if none is usable. */
bool compile_fragment_probe(const struct model_service *, uint8_t proto,
                            uint32_t token, struct ofpbuf *ofpacts);
void compile_fragment_actions(const struct model_service *,
                              const struct model_backend *be,
                              const struct model_bridge *,
                              const struct compile_ports *,
                              struct ofpbuf *ofpacts);
int compile_fragment_backend(const struct model_service *, uint32_t hash);

#endif /* compile.h */
