/* The compiler: a pure function from the model to the flows and groups a
 * bridge should have.  No I/O, no clock, no globals. */
#ifndef MSLB_COMPILE_H
#define MSLB_COMPILE_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "mslb/model.h"

/* Flows and groups as ovs-ofctl text, one per string:
 *   "cookie=0x..,table=T,priority=P,MATCH,actions=ACTIONS"
 *   "group_id=N,type=select,bucket=..."  */
struct compile_out {
    char **flows;
    size_t n_flows, allocated_flows;
    char **groups;
    size_t n_groups, allocated_groups;
};

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

void compile_out_init(struct compile_out *);
void compile_out_uninit(struct compile_out *);
void compile_out_sort(struct compile_out *);

/* Appends the flows and groups of bridge 'br' of model 'm' to 'out':
 * the base and every service, with shared flows once, sorted. */
void compile_bridge(const struct model *m, const struct model_bridge *br,
                    const struct compile_ports *, struct compile_out *out);

/* Appends to 'out' the flows and groups of one service, including the
 * flows it shares with other services of the same VIP or backends
 * (identical text: a flow set counts them once). */
void compile_service(const struct model_service *, const struct model_bridge *,
                     const struct compile_ports *, struct compile_out *out);

/* Appends the flows of a final-stage bridge: the restore flows for every
 * backend that names it as its host bridge, and NORMAL for the rest. */
void compile_final_bridge(const struct model *, const struct model_bridge *,
                          const struct compile_ports *,
                          struct compile_out *out);

/* Appends the flows every first-stage bridge has whatever its services:
 * defaults and gateway responders. */
void compile_bridge_base(const struct model_bridge *,
                         const struct compile_ports *,
                         struct compile_out *out);

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

#endif /* compile.h */
