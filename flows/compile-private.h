/* Shared by the compiler's files (compile.c, compile_nat.c, compile_dsr.c):
 * a builder for one flow or group at a time, added to a flow set.  Not a
 * public header: include/mslb/compile.h is the compiler's interface. */
#ifndef MSLB_COMPILE_PRIVATE_H
#define MSLB_COMPILE_PRIVATE_H 1

#include "mslb/compile.h"

#include <config.h>
#include "openvswitch/match.h"
#include "openvswitch/meta-flow.h"
#include "openvswitch/ofpbuf.h"
#include "flow.h"
#include "mslb/pipeline.h"

/* One flow under construction: its match and actions.  cb_begin() starts
 * a flow, the m_*() calls add to its match (in the order ovs-ofctl would
 * parse them, so the result is the same), the a_*() calls append actions,
 * cb_add() puts it into the output set. */
struct cbuild {
    struct flowset *out;
    char *error;                /* First error, malloc'd; NULL if none. */
    struct match match;
    struct ofpbuf ofpacts;
    uint64_t stub[1024 / 8];
};

void cb_init(struct cbuild *, struct flowset *out);
char *cb_finish(struct cbuild *) MSLB_WARN_UNUSED;
void cb_begin(struct cbuild *);
void cb_add(struct cbuild *, uint64_t cookie, int table, int priority);
void cb_error(struct cbuild *, char *error);

/* Match.  m_proto(): a protocol keyword ("ip", "tcp6", "arp"...):
 * 'nw_proto' 0 for none. */
void m_proto(struct cbuild *, uint16_t dl_type, uint8_t nw_proto);
void m_ip_proto(struct cbuild *, const struct mslb_addr *, uint8_t proto);
void m_u8(struct cbuild *, enum mf_field_id, uint8_t);
void m_u16(struct cbuild *, enum mf_field_id, uint16_t);
void m_u32(struct cbuild *, enum mf_field_id, uint32_t);
void m_u64(struct cbuild *, enum mf_field_id, uint64_t);
void m_mac(struct cbuild *, enum mf_field_id, const struct mslb_mac *);
void m_addr(struct cbuild *, enum mf_field_id v4, enum mf_field_id v6,
            const struct mslb_addr *);
void m_ct_state(struct cbuild *, uint32_t state, uint32_t mask);
/* ip_frag: FLOW_NW_FRAG_ANY (a fragment) and FLOW_NW_FRAG_LATER (not the
 * first one), under 'mask'. */
void m_ip_frag(struct cbuild *, uint8_t value, uint8_t mask);
/* The TCP packets the statistics count with copies of a flow (DSR_FORWARD,
 * NAT_OUT): a session's SYN (without ACK), and the FINs (without SYN) and
 * RSTs (without FIN or SYN) that close it: disjoint matches.  Open
 * sessions are the SYNs less the FINs and RSTs (restapi/open_estimate.h). */
enum tcp_count { TCP_COUNT_SYN, TCP_COUNT_FIN, TCP_COUNT_RST };
void m_tcp_count(struct cbuild *, enum tcp_count);

/* Actions. */
void a_set_u8(struct cbuild *, enum mf_field_id, uint8_t);
void a_set_u16(struct cbuild *, enum mf_field_id, uint16_t);
void a_set_u32(struct cbuild *, enum mf_field_id, uint32_t);
void a_set_u64(struct cbuild *, enum mf_field_id, uint64_t);
void a_set_mac(struct cbuild *, enum mf_field_id, const struct mslb_mac *);
void a_set_addr(struct cbuild *, enum mf_field_id v4, enum mf_field_id v6,
                const struct mslb_addr *);
void a_move(struct cbuild *, enum mf_field_id src, int src_ofs, int n_bits,
            enum mf_field_id dst, int dst_ofs);
void a_output(struct cbuild *, uint32_t port);
void a_resubmit(struct cbuild *, int table);
/* output:CONTROLLER with the whole packet (what the switch reports back
 * for controller(max_len=65535)), the pipeline's registers in the
 * packet-in's metadata. */
void a_controller_all(struct cbuild *);
/* To the controller with the two bytes of userdata that tell mslbd's
 * handlers it is theirs (MSLB_*_USERDATA0/1). */
void a_controller_tagged(struct cbuild *, uint8_t tag0, uint8_t tag1);
void a_group(struct cbuild *, uint32_t group_id);
void a_goto(struct cbuild *, int table);

/* Where a packet for the given side leaves: one-armed bridges send it back
 * out of the port it came in by. */
void a_output_side(struct cbuild *, const struct compile_ports *,
                   uint32_t port);

/* Moves of a whole field into another. */
static inline void
a_move_field(struct cbuild *cb, enum mf_field_id src, enum mf_field_id dst)
{
    a_move(cb, src, 0, mf_from_id(src)->n_bits, dst, 0);
}

/* Slot tables (compile_slots.c, docs/selection.md).
 *
 * a_select_slot(): the actions that put the packet's slot in reg5 and look
 * it up in SLOTS: a shared one-bucket select group whose bucket copies the
 * datapath's hash (dp_hash) into reg5, or a multipath hash of the fields
 * the service is spread by.  Registers set before it survive; changes made
 * after the lookup do not (a group bucket's never do): SLOTS' flows finish
 * the packet's way themselves.
 *
 * compile_slots(): SLOTS' flows of 'svc': layered runs of slots with the
 * same backend (MSLB_SLOTS_PRIORITY + the bits matched: the most specific
 * wins), whose actions 'stable' appends, and in the DSR modes, a flow per
 * run of slots in a move (MSLB_SLOTS_MOVE_PRIORITY), whose actions 'move'
 * appends ('to' NULL: the slot has no backend now). */
typedef void compile_stable_fn(struct cbuild *, const struct model_backend *,
                               const void *aux);
typedef void compile_move_fn(struct cbuild *, const struct model_backend *to,
                             const struct model_backend *from,
                             const void *aux);
void a_select_slot(struct cbuild *, const struct model_service *,
                   const struct compile_ports *);
void compile_slots(struct cbuild *, const struct model_service *,
                   uint64_t cookie, compile_stable_fn *stable,
                   compile_move_fn *move, const void *aux);

/* ARP replies and ICMP echo replies (neighbour advertisements and ICMPv6
 * echo replies for IPv6) for an address the bridge owns. */
void compile_responders(struct cbuild *, uint64_t cookie,
                        const struct mslb_addr *ip,
                        const struct mslb_mac *mac);

/* Adds the match of a service's requests (protocol, VIP and port, as far
 * as the service names them) and returns its priority: more specific
 * services win (port, then protocol). */
/* ARP replies for target 0.0.0.0 and neighbour advertisements sent to
 * 'to' go to the controller (ofapp/resolve.c), at CLASSIFY 310. */
void compile_neighbour_answers(struct cbuild *, uint64_t cookie,
                               const struct mslb_mac *to);
int compile_service_match(struct cbuild *, const struct model_service *);

/* The number of usable (up) backends of 'svc'. */
size_t compile_n_usable(const struct model_service *);

/* Adds the flow being built as a service's entry in CLASSIFY at
 * 'priority', and, for a service with MSS clamping, its copy for SYNs at
 * 'priority' + 1 that pauses at the controller first. */
void cb_add_service_entry(struct cbuild *, const struct model_service *,
                          uint64_t cookie, int priority);

/* Adds the flow being built, restricted to TCP SYNs (not SYN-ACKs), in
 * CLASSIFY at 'priority'; for a service with MSS clamping its actions
 * pause at the controller first. */
void cb_add_syn_entry(struct cbuild *, const struct model_service *,
                      uint64_t cookie, int priority);

/* The modes' service compilers. */
void compile_nat_service(struct cbuild *, const struct model_service *,
                         const struct model_bridge *,
                         const struct compile_ports *);
void compile_dsr_service(struct cbuild *, const struct model_service *,
                         const struct model_bridge *,
                         const struct compile_ports *);
/* NAT: ct(commit,nat(dst=be)...,table=NAT_OUT), as a slot's actions. */
/* Mode slb on final-stage bridge 'br', the host of backend 'be': the
 * service's tunnelled packets for it translated to its address and port
 * (conntrack), its replies translated back and switched on from here. */
void compile_slb_host(struct cbuild *, const struct model_service *,
                      const struct model_backend *,
                      const struct model_bridge *br,
                      const struct compile_ports *);
/* Outbound SNAT of an slb service with "outbound": on final-stage bridge
 * 'br' (a host), its backends' new connections translated from the
 * outbound address and the host's newest block, the answers tunnelled
 * back translated to them; on a first-stage bridge (a mux), the answers
 * to each block tunnelled to its host. */
void compile_slb_outbound(struct cbuild *, const struct model_service *,
                          const struct model_bridge *br,
                          const struct compile_ports *);
void compile_snat_return(struct cbuild *, const struct model_service *,
                         const struct model_bridge *br,
                         const struct compile_ports *);
/* An slb host's prober (its host agent, ofapp/health.c): its gateway
 * addresses answer ARP, neighbour solicitations and pings with its LOCAL
 * MAC, and what its backends send to them (the probes' answers) goes to
 * mslbd. */
void compile_slb_prober(struct cbuild *, const struct model_bridge *br,
                        const struct compile_ports *);
/* The final stage's tables after conntrack, for compile_slb_host(). */
void compile_slb_base(struct cbuild *, const struct compile_ports *);
void compile_nat_commit(struct cbuild *, const struct model_bridge *,
                        const struct model_backend *);
/* Fragments (compile_frag.c): the flows that send a service's fragments to
 * the controller, and the bridge's probe flows in DSR_FORWARD. */
void compile_fragment_flows(struct cbuild *, const struct model_service *);
void compile_fragment_base(struct cbuild *);
void compile_final_flows(struct cbuild *, const struct model *,
                         const struct model_bridge *,
                         const struct compile_ports *);

#endif /* compile-private.h */
