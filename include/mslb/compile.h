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

/* Mode slb's east-west pipeline of service 'svc' (an slb service) on slb
 * host 'br' (a final stage with a backend of some slb service): its own
 * backends' packets to the VIP go to the chosen backend's host
 * (docs/slb.md).  A unit of its own, beside compile_final_bridge()'s. */
char *compile_east_west(const struct model_service *svc,
                        const struct model_bridge *br,
                        const struct compile_ports *, struct flowset *out)
    MSLB_WARN_UNUSED;
/* Whether 'svc' has a backend behind final-stage bridge 'bridge'. */
bool compile_hosted_on(const struct model_service *svc, const char *bridge);
/* Whether backend 'be' of DSR service 'svc' has its answers counted: it
 * sits behind a final stage (host_bridge) and has a MAC to tell its
 * answers there by (the statistics' reply_packets; else they pass no
 * bridge mslb programs). */
bool compile_counts_replies(const struct model_service *svc,
                            const struct model_backend *be);

/* The flows every first-stage bridge has whatever its services: defaults
 * and gateway responders. */
char *compile_bridge_base(const struct model_bridge *,
                          const struct compile_ports *, struct flowset *out)
    MSLB_WARN_UNUSED;

/* Slot selection (flows/compile_slots.c, docs/selection.md): which hash
 * places a service's new sessions, and the slot of a (not fragmented)
 * packet with the fields in 'flow', as the switch computes it; 'of15':
 * the bridge speaks OpenFlow 1.5. */
enum compile_hash {
    COMPILE_HASH_DP_SYM_L4,     /* Datapath: addresses, protocol, TCP/SCTP
                                 * ports. */
    COMPILE_HASH_DP_L4,         /* Datapath (OpenFlow 1.5): 5-tuple. */
    COMPILE_HASH_MP_L3,         /* multipath: the address pair. */
    COMPILE_HASH_MP_L3L4_UDP,   /* multipath: 5-tuple, UDP too. */
};
struct flow;
enum compile_hash compile_hash_of(const struct model_service *, bool of15);
uint32_t compile_hash_flow(enum compile_hash, const struct flow *);
uint32_t compile_slot_of(const struct model_service *, bool of15,
                         const struct flow *);

/* Fragments (docs/mtu.md).  Every fragment to a VIP that has a service
 * naming a protocol goes to the controller, which classifies its datagram
 * by the first fragment and sends every fragment on with these actions.
 *
 * compile_fragment_probe(): DSR modes only (else returns false): the
 * actions that send a first fragment through SLOTS at slot 'slot' (the
 * slot its datagram's 5-tuple has, compile_slot_of()), or with source-IP
 * persistence through DSR_AFFINITY, as any packet of the session would
 * go, with reg4 = 'token' | MSLB_PROBE_FLAG, so that DSR_FORWARD hands it
 * back to the controller with its backend's key in reg1.  'proto': the
 * datagram's protocol.
 *
 * compile_fragment_actions(): the actions that send one fragment of a
 * datagram of 'svc' on to backend 'be' (ignored in mode local): DSR modes
 * through DSR_FORWARD with reg0, reg1; nat committed and translated by
 * conntrack, which reassembles the datagram first and keeps an existing
 * session's translation; local to the LOCAL port.
 */
bool compile_fragment_probe(const struct model_service *, uint8_t proto,
                            uint32_t slot, uint32_t token,
                            struct ofpbuf *ofpacts);
void compile_fragment_actions(const struct model_service *,
                              const struct model_backend *be,
                              const struct model_bridge *,
                              const struct compile_ports *,
                              struct ofpbuf *ofpacts);

#endif /* compile.h */
