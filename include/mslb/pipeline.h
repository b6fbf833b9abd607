/* The OpenFlow pipeline mslb programs on a first-stage bridge.
 *
 * One declaration gives every table its number, name and purpose; the
 * compiler, the golden tests and docs/pipeline.md all use this list. */
#ifndef MSLB_PIPELINE_H
#define MSLB_PIPELINE_H 1

#include <stdint.h>

#define MSLB_TABLES                                                        \
    MSLB_TABLE(CLASSIFY, 0,                                                \
               "ARP and ICMP echo for VIPs and gateways; requests to a "  \
               "VIP and replies from a backend go to conntrack; anything " \
               "else is switched unchanged (NORMAL)")                      \
    MSLB_TABLE(ND_ADVERT, 1,                                               \
               "IPv6: a neighbour solicitation for a VIP or gateway, "    \
               "already turned into an advertisement by CLASSIFY, gets "   \
               "the bridge's MAC as target link-layer address (settable "  \
               "only once the packet matches as an advertisement)")        \
    MSLB_TABLE(SLOTS, 5,                                                   \
               "a new session's slot (reg5, from the datapath's hash or "  \
               "multipath) names its backend: per service (reg0) and run " \
               "of slots; nat commits the session translated, DSR modes "  \
               "forward (a slot in a move asks DSR_AFFINITY first)")       \
    MSLB_TABLE(NAT_REQUEST, 10,                                            \
               "request after conntrack: a new session picks its slot "    \
               "(SLOTS), a known one (already translated) goes to "        \
               "NAT_OUT")                                                  \
    MSLB_TABLE(NAT_OUT, 11,                                                \
               "translated request: set the backend's MAC and send it "   \
               "out of the backend port")                                  \
    MSLB_TABLE(NAT_REPLY, 12,                                              \
               "reply after conntrack restored VIP:port as source: set "  \
               "the client's MAC kept in ct_label, out of the frontend "  \
               "port; a packet of no session is switched unchanged; on "  \
               "an slb host a backend's new outbound connection is "       \
               "committed with its outbound address and a port of its "   \
               "host's newest block")                                     \
    MSLB_TABLE(SNAT_OUT, 13,                                               \
               "slb host, after the outbound commit: translated, switched "\
               "on (NORMAL); still from the backend (its host's blocks "   \
               "are used up for that destination) to the controller, "     \
               "which gives the host another block")                       \
    MSLB_TABLE(SNAT_RETURN, 14,                                            \
               "slb host: an answer to an outbound connection, tunnelled " \
               "back by a mux and translated back by conntrack, gets its " \
               "backend's MAC and is switched to it; anything else is "    \
               "dropped")                                                  \
    MSLB_TABLE(DSR_AFFINITY, 20,                                           \
               "DSR modes: learned backends (reg1) of sessions on slots "  \
               "in a move and of clients with source-IP persistence; in "  \
               "a move a SYN is learned to the slot's new backend, any "   \
               "other packet to the old one (reg6)")                       \
    MSLB_TABLE(DSR_FORWARD, 22,                                            \
               "DSR modes: per backend (reg0, reg1), the mode's rewrite "  \
               "(MAC; destination and DSCP; or tunnel) and output; tunnels "   \
               "check the size first (reg2) and send what does not fit "    \
               "to the controller; a fragment probe (reg4) goes back to "  \
               "the controller with its backend")

enum mslb_table {
#define MSLB_TABLE(NAME, NUMBER, PURPOSE) MSLB_T_##NAME = NUMBER,
    MSLB_TABLES
#undef MSLB_TABLE
};

/* Cookie layout: bits 63-48 tag every flow mslb owns; bits 47-40 say what
 * the flow belongs to; bits 23-0 carry the service id for service flows.
 * A restarted controller adopts exactly the flows carrying the tag. */
#define MSLB_COOKIE_TAG       0x4d53000000000000ULL   /* "MS" */
#define MSLB_COOKIE_TAG_MASK  0xffff000000000000ULL
#define MSLB_COOKIE_KIND_SHIFT 40

enum mslb_cookie_kind {
    MSLB_COOKIE_BRIDGE = 1,     /* Defaults and gateway responders. */
    MSLB_COOKIE_VIP = 2,        /* ARP/ICMP responders of a VIP. */
    MSLB_COOKIE_BACKEND = 3,    /* Per backend address, shared. */
    MSLB_COOKIE_SERVICE = 4,    /* One virtual service. */
};

/* Entries learned into DSR_AFFINITY carry this cookie | service id: not
 * mslb's tag, so reconciling never touches them, but countable. */
#define MSLB_LEARNED_COOKIE 0x4c45000000000000ULL   /* "LE" */

/* Registers of the pipeline. */
#define MSLB_REG_SERVICE "reg0"
#define MSLB_REG_BACKEND "reg1"
/* The packet's slot (SLOTS), and in a move the slot's old backend. */
#define MSLB_REG_SLOT "reg5"
#define MSLB_REG_FROM "reg6"
/* The protocol of an any-protocol service's packet (IPv6 fragments: of
 * their datagram), part of its learned session key. */
#define MSLB_REG_PROTO "reg3"

/* reg4: a first fragment the controller sends through DSR_AFFINITY to ask
 * which backend its datagram goes to (ofapp/fragments.c) carries a token
 * with MSLB_PROBE_FLAG set; DSR_FORWARD then hands it back to the
 * controller with the backend in reg1 instead of forwarding it.  Packets
 * from ports always have reg4 = 0. */
#define MSLB_REG_PROBE "reg4"
#define MSLB_PROBE_FLAG 0x80000000u

/* Health probes (ofapp/health.c) go through DSR_FORWARD with this bit of
 * reg4 set: the SYN-counting copies there do not count them.  Their
 * answers, sent to a gateway address, reach the controller with userdata
 * MSLB_HEALTH_USERDATA0/1. */
#define MSLB_HEALTH_FLAG 0x40000000u
#define MSLB_HEALTH_USERDATA0 'h'
#define MSLB_HEALTH_USERDATA1 'c'

/* Answers to mslbd's ARP probes and neighbour solicitations (backend MAC
 * discovery, ofapp/resolve.c) reach the controller with this userdata. */
#define MSLB_NEIGH_USERDATA0 'n'
#define MSLB_NEIGH_USERDATA1 'd'

/* A final stage asks for its servers' MACs (mode mslb) from this
 * locally administered MAC, which nothing else uses: the answers, sent to
 * it, are told from the host's own traffic. */
#define MSLB_RESOLVE_MAC { 0x0e, 0x00, 0x6d, 0x73, 0x6c, 0x62 }

/* A service that rejects while it is empty sends its SYNs and UDP
 * datagrams to the controller with this userdata (ofapp/reject.c). */
#define MSLB_REJECT_USERDATA0 'r'
#define MSLB_REJECT_USERDATA1 'j'

/* An slb host's outbound commit that conntrack could not translate (the
 * SNAT_OUT table): mslbd gives the host another port block. */
#define MSLB_SNAT_USERDATA0 's'
#define MSLB_SNAT_USERDATA1 'n'

/* MSS clamping: a SYN to a service with "mss" pauses at the controller
 * (controller(pause), userdata MSLB_MSS_USERDATA0/1 and the MSS, 2 bytes
 * big-endian), which lowers its MSS option and resumes it. */
#define MSLB_MSS_USERDATA0 'm'
#define MSLB_MSS_USERDATA1 's'

/* reg2 in DSR_FORWARD of the tunnelling modes (tun, mslb): the path-MTU
 * check.  Bit 1: checked; bit 0: the frame is bigger than the tunnel
 * allows; bits 16-31: the largest inner IP packet the tunnel carries.  A
 * too-big packet goes to the controller (ofapp/pmtu.c) with reg0-reg2 in
 * its metadata, see docs/mtu.md. */
#define MSLB_REG_PMTU "reg2"
#define MSLB_PMTU_TOO_BIG 0x1u
#define MSLB_PMTU_CHECKED 0x2u
#define MSLB_PMTU_MTU_SHIFT 16

static inline uint64_t
mslb_cookie(enum mslb_cookie_kind kind, uint32_t id)
{
    return MSLB_COOKIE_TAG | ((uint64_t) kind << MSLB_COOKIE_KIND_SHIFT)
           | (id & 0xffffff);
}

/* Group ids carry a tag in their top byte, since groups have no cookie:
 * mslb owns exactly the groups whose id has it. */
#define MSLB_GROUP_TAG 0x4d000000u
#define MSLB_GROUP_TAG_MASK 0xff000000u

/* SLOTS: a run of slots that k bits of the slot select is at priority
 * MSLB_SLOTS_PRIORITY + k (the most specific wins); a run in a move (they
 * are disjoint) above them all. */
#define MSLB_SLOTS_PRIORITY 100
#define MSLB_SLOTS_MOVE_PRIORITY 120

/* DSR_FORWARD: copies of each backend's first flow for the client's TCP
 * SYNs, whose packet count is the backend's connections (the statistics'
 * sessions), and for its FINs and RSTs, which close them (open sessions =
 * SYNs - FINs and RSTs, restapi/rest_stats.c). */
#define MSLB_SYN_COUNT_PRIORITY 101
#define MSLB_CLOSE_COUNT_PRIORITY 102

/* NAT_OUT: a backend endpoint's flow at MSLB_NAT_OUT_PRIORITY, its copy
 * for a session's first packet (ct_state=+new), whose packet count is the
 * endpoint's sessions, and for TCP its copies for the clients' FINs and
 * RSTs, which close them; CLASSIFY: the endpoint's replies to conntrack. */
#define MSLB_NAT_OUT_PRIORITY 100
#define MSLB_NAT_NEW_PRIORITY 101
#define MSLB_NAT_CLOSE_PRIORITY 102
#define MSLB_NAT_REPLY_PRIORITY 200

/* A final stage (modes mslb, l3dsr; slb hosts after conntrack, in
 * NAT_REPLY): a backend's answers, from the VIP with its MAC, switched on
 * (NORMAL) as before; their counters are its replies (statistics). */
#define MSLB_DSR_REPLY_PRIORITY 160

/* DSR_FORWARD: above a failed backend's flows, what its monitor's
 * "sessions" and source-IP persistence make of packets that are not
 * probes (compile_dsr.c, failed_backend()).  Its TCP flow at this
 * priority ("sessions": "reset") sends each packet to mslbd for an RST:
 * the statistics count them as closed sessions. */
#define MSLB_FAILED_PRIORITY 110

/* The shared one-bucket groups that copy the low K bits of the datapath's
 * hash into reg5 (compile_slots.c): the symmetric L3/L4 hash (no selection
 * method), and with OpenFlow 1.5 the 5-tuple hash (UDP services). */
#define MSLB_HASH_GROUP_SYM_L4(K) (MSLB_GROUP_TAG | 0x100u | (K))
#define MSLB_HASH_GROUP_L4(K) (MSLB_GROUP_TAG | 0x200u | (K))

const char *mslb_table_name(int table);

#endif /* pipeline.h */
