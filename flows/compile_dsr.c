/* The compiler, DSR modes (dr, tun, l3dsr, mslb): the slot table names the
 * backend in reg1 (no per-session state, except for sessions on slots in
 * a move and for source-IP persistence, which are learned), and the mode's
 * rewrite per backend; and the final-stage bridge that restores what the
 * first stage rewrote.  See docs/pipeline.md, docs/selection.md and
 * docs/modes.md. */
#include <config.h>
#include "mslb/compile.h"

#include <arpa/inet.h>
#include <string.h>

#include "openvswitch/ofp-actions.h"
#include "openvswitch/util.h"
#include "packets.h"
#include "compile-private.h"
#include "mslb/pipeline.h"

/* learn() specs.  A field the learned flow matches with the packet's own
 * value: */
static void
learn_match_field(struct ofpbuf *ofpacts, enum mf_field_id id)
{
    struct ofpact_learn_spec *spec = ofpbuf_put_zeros(ofpacts, sizeof *spec);
    const struct mf_field *mf = mf_from_id(id);

    spec->dst.field = mf;
    spec->dst.ofs = 0;
    spec->dst.n_bits = mf->n_bits;
    spec->src = spec->dst;
    spec->n_bits = mf->n_bits;
    spec->src_type = NX_LEARN_SRC_FIELD;
    spec->dst_type = NX_LEARN_DST_MATCH;
}

/* A field the learned flow matches with an immediate value (the learned
 * flow's prerequisites): */
static void
learn_match_imm(struct ofpbuf *ofpacts, enum mf_field_id id,
                const void *value)
{
    struct ofpact_learn_spec *spec = ofpbuf_put_zeros(ofpacts, sizeof *spec);
    const struct mf_field *mf = mf_from_id(id);
    unsigned int n_bytes = DIV_ROUND_UP(mf->n_bits, 8);
    uint8_t *imm;

    spec->dst.field = mf;
    spec->dst.ofs = 0;
    spec->dst.n_bits = mf->n_bits;
    spec->n_bits = mf->n_bits;
    spec->src_type = NX_LEARN_SRC_IMMEDIATE;
    spec->dst_type = NX_LEARN_DST_MATCH;
    /* Last: this may move 'spec'. */
    imm = ofpbuf_put_zeros(ofpacts, OFPACT_ALIGN(n_bytes));
    memcpy(imm, (const uint8_t *) value + mf->n_bytes - n_bytes, n_bytes);
}

/* And a register the learned flow loads with the packet's own value: */
static void
learn_load_field(struct ofpbuf *ofpacts, enum mf_field_id id)
{
    struct ofpact_learn_spec *spec = ofpbuf_put_zeros(ofpacts, sizeof *spec);
    const struct mf_field *mf = mf_from_id(id);

    spec->src.field = mf;
    spec->src.ofs = 0;
    spec->src.n_bits = mf->n_bits;
    spec->dst = spec->src;
    spec->n_bits = mf->n_bits;
    spec->src_type = NX_LEARN_SRC_FIELD;
    spec->dst_type = NX_LEARN_DST_LOAD;
}

/* learn(table=DSR_AFFINITY,idle_timeout=T,priority=100,cookie=LEARNED|id,
 * reg0, KEY, load:reg1->reg1), where KEY is what identifies a session: the
 * client address alone (source-IP persistence), or the 5-tuple (3-tuple
 * for other protocols), after the prerequisites of its fields. */
static void
a_learn_session(struct cbuild *cb, const struct model_service *svc)
{
    bool v6 = svc->vip.family == AF_INET6;
    enum mf_field_id src = v6 ? MFF_IPV6_SRC : MFF_IPV4_SRC;
    enum mf_field_id dst = v6 ? MFF_IPV6_DST : MFF_IPV4_DST;
    ovs_be16 eth_type = htons(v6 ? ETH_TYPE_IPV6 : ETH_TYPE_IP);
    uint8_t nw_proto = svc->proto;
    struct ofpbuf *ofpacts = &cb->ofpacts;
    struct ofpact_learn *learn = ofpact_put_LEARN(ofpacts);

    learn->idle_timeout = svc->persistence ? svc->persistence
                          : svc->idle_timeout;
    learn->hard_timeout = OFP_FLOW_PERMANENT;
    learn->priority = 100;
    learn->table_id = MSLB_T_DSR_AFFINITY;
    learn->cookie = htonll(MSLB_LEARNED_COOKIE | svc->id);

    learn_match_field(ofpacts, MFF_REG0);
    learn_match_imm(ofpacts, MFF_ETH_TYPE, &eth_type);
    if (svc->persistence) {
        learn_match_field(ofpacts, src);
    } else if (svc->proto == IPPROTO_TCP || svc->proto == IPPROTO_UDP) {
        bool tcp = svc->proto == IPPROTO_TCP;

        learn_match_imm(ofpacts, MFF_IP_PROTO, &nw_proto);
        learn_match_field(ofpacts, src);
        learn_match_field(ofpacts, dst);
        learn_match_field(ofpacts, tcp ? MFF_TCP_SRC : MFF_UDP_SRC);
        learn_match_field(ofpacts, tcp ? MFF_TCP_DST : MFF_UDP_DST);
    } else {
        /* The protocol from reg3, not ip_proto: an IPv6 fragment after the
         * first carries next header 44 there (see a_any_key()). */
        learn_match_field(ofpacts, src);
        learn_match_field(ofpacts, dst);
        learn_match_field(ofpacts, MFF_REG3);
    }
    if (!svc->persistence) {
        /* The slot too (the same for every packet of the session): mslbd
         * ends a slot's move only once no session on it keeps the old
         * backend, and reads that from these entries. */
        learn_match_field(ofpacts, MFF_REG5);
    }
    learn_load_field(ofpacts, MFF_REG1);
    learn = ofpacts->header;
    ofpact_finish_LEARN(ofpacts, &learn);
}

/* Where a tunnel to backend 'be' goes: its host, or the backend itself. */
static const struct mslb_addr *
tunnel_dst(const struct model_backend *be)
{
    return be->host.family ? &be->host : &be->ip;
}

/* The largest inner IP packet a tunnel of type 't' to 'dst' carries over
 * an underlay of 'mtu' bytes: the outer IP header, the tunnel header (UDP
 * and VXLAN or Geneve without options: 16; GRE with a key, as the ports
 * are set up with key=flow: 8) and the inner Ethernet header (14; none
 * in ipgre). */
static int
tunnel_inner_mtu(enum model_tunnel t, const struct mslb_addr *dst, int mtu)
{
    int outer_ip = dst->family == AF_INET6 ? 40 : 20;
    bool gre = t == MODEL_TUNNEL_GRE || t == MODEL_TUNNEL_IPGRE;

    return mtu - outer_ip - (gre ? 8 : 16)
           - (t == MODEL_TUNNEL_IPGRE ? 0 : ETH_HEADER_LEN);
}

static void
m_reg_masked(struct cbuild *cb, unsigned int reg, uint32_t value,
             uint32_t mask)
{
    match_set_reg_masked(&cb->match, reg, value, mask);
}

/* check_pkt_larger(LEN)->REG[BIT]. */
static void
a_check_pkt_larger(struct cbuild *cb, uint16_t len, enum mf_field_id reg,
                   int bit)
{
    struct ofpact_check_pkt_larger *c;

    c = ofpact_put_CHECK_PKT_LARGER(&cb->ofpacts);
    c->pkt_len = len;
    c->dst.field = mf_from_id(reg);
    c->dst.ofs = bit;
    c->dst.n_bits = 1;
}

/* The mode's rewrite and output towards backend 'be'. */
static void
dsr_forward(struct cbuild *cb, const struct model_service *svc,
            const struct model_backend *be, const struct model_bridge *br,
            const struct compile_ports *ports)
{
    switch (svc->mode) {
    case MODEL_MODE_DR:
        /* The source MAC too: a one-armed balancer on the clients' own
         * segment would otherwise teach the switch that the client lives
         * behind the balancer, and the servers' direct replies would come
         * back to it. */
        a_set_mac(cb, MFF_ETH_SRC, &br->mac);
        a_set_mac(cb, MFF_ETH_DST, &be->mac);
        a_output_side(cb, ports, ports->backend);
        break;
    case MODEL_MODE_L3DSR:
        a_set_mac(cb, MFF_ETH_SRC, &br->mac);
        a_set_mac(cb, MFF_ETH_DST, &be->mac);
        a_set_addr(cb, MFF_IPV4_DST, MFF_IPV6_DST, &be->ip);
        a_set_u8(cb, MFF_IP_DSCP_SHIFTED, svc->dscp);
        a_output_side(cb, ports, ports->backend);
        break;
    case MODEL_MODE_TUN:
    case MODEL_MODE_MSLB:
    case MODEL_MODE_SLB: {
        /* The inner source MAC becomes the balancer's, for the reason
         * given for dr: the final stage's switch must not learn the
         * client's MAC behind its tunnel port.  ipgre carries no frame
         * (its port strips the Ethernet header). */
        const struct mslb_addr *dst = tunnel_dst(be);
        if (svc->tunnel != MODEL_TUNNEL_IPGRE) {
            a_set_mac(cb, MFF_ETH_SRC, &br->mac);
            a_set_mac(cb, MFF_ETH_DST, &be->mac);
        }
        a_set_addr(cb, MFF_TUN_DST, MFF_TUN_IPV6_DST, dst);
        a_set_u64(cb, MFF_TUN_ID, svc->id);
        a_output(cb, ports->tunnel[svc->tunnel]);
        break;
    }
    case MODEL_MODE_NAT:
    case MODEL_MODE_LOCAL:
        break;
    }
}

/* The (service, backend) registers of DSR_AFFINITY's miss flow and of
 * DSR_FORWARD. */
static void
m_regs(struct cbuild *cb, uint32_t service, uint32_t backend)
{
    m_u32(cb, MFF_REG0, service);
    m_u32(cb, MFF_REG1, backend);
}

/* DSR_FORWARD's flows of one backend: the flow that forwards every
 * packet, and for TCP services copies that forward the same way and count
 * (the forwarding keeps no per-session state to count by): the client's
 * SYNs (MSLB_SYN_COUNT_PRIORITY), the backend's new sessions, and its FINs
 * and RSTs (MSLB_CLOSE_COUNT_PRIORITY), which end them: the statistics'
 * open sessions are the difference (restapi/rest_stats.c).  Health probes
 * (reg4's flag) match only the first. */
enum forward_copy { COPY_ALL, COPY_SYN, COPY_FIN, COPY_RST };

/* The copies service 'svc''s backends have: COPY_ALL up to the result. */
static enum forward_copy
last_copy(const struct model_service *svc)
{
    return svc->proto == IPPROTO_TCP || !svc->proto ? COPY_RST : COPY_ALL;
}

static int
copy_priority(enum forward_copy copy)
{
    return (copy == COPY_ALL ? 100
            : copy == COPY_SYN ? MSLB_SYN_COUNT_PRIORITY
            : MSLB_CLOSE_COUNT_PRIORITY);
}

/* DSR_FORWARD's match for backend 'be' ('copy': which of its flows; the
 * copies' TCP flags are disjoint, m_tcp_count()). */
static void
m_forward(struct cbuild *cb, const struct model_service *svc,
          const struct model_backend *be, enum forward_copy copy)
{
    if (copy != COPY_ALL) {
        m_ip_proto(cb, &svc->vip, IPPROTO_TCP);
        m_tcp_count(cb, copy == COPY_SYN ? TCP_COUNT_SYN
                        : copy == COPY_FIN ? TCP_COUNT_FIN : TCP_COUNT_RST);
        m_reg_masked(cb, 4, 0, MSLB_HEALTH_FLAG);   /* Not a probe. */
    } else {
        m_ip_proto(cb, &svc->vip, 0);
    }
    m_regs(cb, svc->id, be->key);
}

/* DSR_FORWARD in the tunnelling modes: what the tunnel cannot carry goes
 * to the controller (a path-MTU answer or fragments, ofapp/pmtu.c), the
 * rest is forwarded.  The first flow checks the size into reg2 and looks
 * DSR_FORWARD up again, to the second (forward) or third (controller). */
static void
tunnel_forward(struct cbuild *cb, uint64_t cookie,
               const struct model_service *svc,
               const struct model_backend *be,
               const struct model_bridge *br,
               const struct compile_ports *ports)
{
    int mtu = tunnel_inner_mtu(svc->tunnel, tunnel_dst(be), br->tunnel_mtu);
    uint32_t checked = MSLB_PMTU_CHECKED | MSLB_PMTU_TOO_BIG;

    if (mtu < 68) {
        mtu = 68;               /* IPv4's minimum: keep the check sane. */
    }
    for (int copy = COPY_ALL; copy <= last_copy(svc); copy++) {
        cb_begin(cb);
        m_forward(cb, svc, be, copy);
        m_reg_masked(cb, 2, 0, MSLB_PMTU_CHECKED);
        a_set_u32(cb, MFF_REG2, ((uint32_t) mtu << MSLB_PMTU_MTU_SHIFT)
                                | MSLB_PMTU_CHECKED);
        a_check_pkt_larger(cb, mtu + ETH_HEADER_LEN, MFF_REG2, 0);
        a_resubmit(cb, MSLB_T_DSR_FORWARD);
        cb_add(cb, cookie, MSLB_T_DSR_FORWARD, copy_priority(copy));
    }

    cb_begin(cb);
    m_ip_proto(cb, &svc->vip, 0);
    m_regs(cb, svc->id, be->key);
    m_reg_masked(cb, 2, MSLB_PMTU_CHECKED, checked);
    dsr_forward(cb, svc, be, br, ports);
    cb_add(cb, cookie, MSLB_T_DSR_FORWARD, 100);

    cb_begin(cb);
    m_ip_proto(cb, &svc->vip, 0);
    m_regs(cb, svc->id, be->key);
    m_reg_masked(cb, 2, checked, checked);
    a_controller_all(cb);
    cb_add(cb, cookie, MSLB_T_DSR_FORWARD, 100);
}

/* An any-protocol service keys its learned sessions on the protocol too. */
static bool
keyed_on_proto(const struct model_service *svc)
{
    return !svc->proto && !svc->persistence;
}

/* Into the service's pipeline: reg0 = service, reg1 = 0 (no backend yet),
 * reg3 = the protocol (any-protocol services: part of a learned key), then
 * the slot (stateless: SLOTS forwards), or with source-IP persistence
 * first the client's learned backend (DSR_AFFINITY, whose miss picks the
 * slot), then DSR_FORWARD.  (After a group, reg1 is 0 again: the second
 * resubmit finds no flow.) */
static void
a_enter(struct cbuild *cb, const struct model_service *svc,
        const struct compile_ports *ports)
{
    a_set_u32(cb, MFF_REG0, svc->id);
    a_set_u32(cb, MFF_REG1, 0);
    if (keyed_on_proto(svc)) {
        a_move(cb, MFF_IP_PROTO, 0, 8, MFF_REG3, 0);
    }
    if (svc->persistence) {
        a_resubmit(cb, MSLB_T_DSR_AFFINITY);
        a_resubmit(cb, MSLB_T_DSR_FORWARD);
    } else {
        a_select_slot(cb, svc, ports);
    }
}

/* An any-protocol service: ICMP echo to the VIP goes to a server like any
 * other packet (above the balancer's own echo responder). */
static void
compile_any_extras(struct cbuild *cb, const struct model_service *svc,
                   const struct compile_ports *ports, uint64_t cookie)
{
    bool v6 = svc->vip.family == AF_INET6;

    cb_begin(cb);
    m_proto(cb, v6 ? ETH_TYPE_IPV6 : ETH_TYPE_IP,
            v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP);
    m_addr(cb, MFF_IPV4_DST, MFF_IPV6_DST, &svc->vip);
    m_u8(cb, MFF_ICMPV4_TYPE, v6 ? 128 : 8);
    m_u8(cb, MFF_ICMPV4_CODE, 0);
    a_enter(cb, svc, ports);
    cb_add(cb, cookie, MSLB_T_CLASSIFY, 310);
}

/* SLOTS, a slot that stays: its backend.  With persistence the client is
 * learned first. */
static void
dsr_stable(struct cbuild *cb, const struct model_backend *be,
           const void *svc_)
{
    const struct model_service *svc = svc_;

    a_set_u32(cb, MFF_REG1, be->key);
    if (svc->persistence) {
        a_learn_session(cb, svc);
    }
    a_resubmit(cb, MSLB_T_DSR_FORWARD);
}

/* SLOTS, a slot in a move: the new backend in reg1, the old one in reg6;
 * DSR_AFFINITY decides (a learned session, or learns one). */
static void
dsr_move(struct cbuild *cb, const struct model_backend *to,
         const struct model_backend *from, const void *svc_)
{
    (void) svc_;
    a_set_u32(cb, MFF_REG1, to ? to->key : 0);
    a_set_u32(cb, MFF_REG6, from->key);
    a_resubmit(cb, MSLB_T_DSR_AFFINITY);
    a_resubmit(cb, MSLB_T_DSR_FORWARD);
}

/* DSR_AFFINITY's flows for a service with slots in a move: a session with
 * no entry yet is learned, a SYN (a new connection) to the slot's new
 * backend, which reg1 holds, anything else (a connection that was open
 * before the move) to the old one. */
static void
compile_move_learning(struct cbuild *cb, const struct model_service *svc,
                      uint64_t cookie)
{
    if (svc->proto == IPPROTO_TCP || !svc->proto) {
        bool v6 = svc->vip.family == AF_INET6;

        cb_begin(cb);
        m_u32(cb, MFF_REG0, svc->id);
        m_proto(cb, v6 ? ETH_TYPE_IPV6 : ETH_TYPE_IP, IPPROTO_TCP);
        match_set_tcp_flags_masked(&cb->match, htons(TCP_SYN),
                                   htons(TCP_SYN | TCP_ACK));
        a_learn_session(cb, svc);
        cb_add(cb, cookie, MSLB_T_DSR_AFFINITY, 2);
    }
    cb_begin(cb);
    m_u32(cb, MFF_REG0, svc->id);
    m_ip_proto(cb, &svc->vip, svc->proto);
    a_move(cb, MFF_REG6, 0, 32, MFF_REG1, 0);
    a_learn_session(cb, svc);
    cb_add(cb, cookie, MSLB_T_DSR_AFFINITY, 1);
}

/* DSR_FORWARD, a backend whose monitor finds it down (be->failed): its
 * own flows stay, for the probes and for the sessions it keeps.  Above
 * them, for packets that are not probes: with source-IP persistence a
 * client learned to it opens new sessions elsewhere (a TCP SYN, and any
 * UDP datagram, picks a slot again and is learned there); with
 * "sessions": "reset" any other TCP packet of its sessions goes to
 * mslbd, which answers it with an RST from the VIP (ofapp/reject.c). */
static void
failed_backend(struct cbuild *cb, uint64_t cookie,
               const struct model_service *svc,
               const struct model_backend *be,
               const struct compile_ports *ports)
{
    bool tcp = !svc->proto || svc->proto == IPPROTO_TCP;
    bool udp = !svc->proto || svc->proto == IPPROTO_UDP;

    if (svc->persistence && tcp) {
        cb_begin(cb);
        m_forward(cb, svc, be, COPY_SYN);
        a_set_u32(cb, MFF_REG1, 0);
        a_select_slot(cb, svc, ports);
        cb_add(cb, cookie, MSLB_T_DSR_FORWARD, MSLB_FAILED_PRIORITY + 1);
    }
    if (svc->persistence && udp) {
        cb_begin(cb);
        m_ip_proto(cb, &svc->vip, IPPROTO_UDP);
        m_reg_masked(cb, 4, 0, MSLB_HEALTH_FLAG);
        m_regs(cb, svc->id, be->key);
        a_set_u32(cb, MFF_REG1, 0);
        a_select_slot(cb, svc, ports);
        cb_add(cb, cookie, MSLB_T_DSR_FORWARD, MSLB_FAILED_PRIORITY);
    }
    if (be->monitor.reset_sessions && tcp) {
        cb_begin(cb);
        m_ip_proto(cb, &svc->vip, IPPROTO_TCP);
        m_reg_masked(cb, 4, 0, MSLB_HEALTH_FLAG);
        m_regs(cb, svc->id, be->key);
        a_controller_tagged(cb, MSLB_REJECT_USERDATA0,
                            MSLB_REJECT_USERDATA1);
        cb_add(cb, cookie, MSLB_T_DSR_FORWARD, MSLB_FAILED_PRIORITY);
    }
}

/* On slb host 'br' (east-west): a backend behind 'br' itself gets the
 * packet as if a mux had tunnelled it here: tun_id, the backend's MAC and
 * the tunnel port as in_port, then CLASSIFY again, whose translation
 * flow (compile_slb_host()) takes it. */
static void
local_forward(struct cbuild *cb, uint64_t cookie,
              const struct model_service *svc,
              const struct model_backend *be,
              const struct compile_ports *ports)
{
    for (int copy = COPY_ALL; copy <= last_copy(svc); copy++) {
        cb_begin(cb);
        m_forward(cb, svc, be, copy);
        a_set_u64(cb, MFF_TUN_ID, svc->id);
        a_set_mac(cb, MFF_ETH_SRC, &ports->local_mac);
        a_set_mac(cb, MFF_ETH_DST, &be->mac);
        a_set_u16(cb, MFF_IN_PORT, ports->tunnel[svc->tunnel]);
        a_resubmit(cb, MSLB_T_CLASSIFY);
        cb_add(cb, cookie, MSLB_T_DSR_FORWARD, copy_priority(copy));
    }
}

/* A DSR service's pipeline on first-stage bridge 'br' or, with 'host',
 * its east-west copy on slb host 'br' (compile_slb_east_west()). */
static void
dsr_pipeline(struct cbuild *cb, const struct model_service *svc,
             const struct model_bridge *br,
             const struct compile_ports *ports, bool host)
{
    uint64_t cookie = mslb_cookie(MSLB_COOKIE_SERVICE, svc->id);
    int priority;

    if (host) {
        /* The host's own backends' packets to the VIP, after CLASSIFY's
         * conntrack lookup (their first packet is +new; a session already
         * translated here no longer goes to the VIP), above the outbound
         * commit: the slot, then DSR_FORWARD.  Fragments go on to the
         * muxes, which gather them. */
        cb_begin(cb);
        priority = compile_service_match(cb, svc);
        m_ip_frag(cb, 0, FLOW_NW_FRAG_ANY);
        a_enter(cb, svc, ports);
        cb_add(cb, cookie, MSLB_T_NAT_REPLY, priority - 50);
    } else {
        compile_responders(cb, mslb_cookie(MSLB_COOKIE_VIP, 0), &svc->vip,
                           &br->mac);
        cb_begin(cb);
        priority = compile_service_match(cb, svc);
        a_enter(cb, svc, ports);
        cb_add_service_entry(cb, svc, cookie, priority);
        if (!svc->proto) {
            compile_any_extras(cb, svc, ports, cookie);
        }
        if (svc->outbound) {
            compile_snat_return(cb, svc, br, ports);
        }
    }
    compile_slots(cb, svc, cookie, dsr_stable, dsr_move, svc);
    if (svc->persistence) {
        /* A client with no learned backend yet: pick a slot. */
        cb_begin(cb);
        m_regs(cb, svc->id, 0);
        a_select_slot(cb, svc, ports);
        cb_add(cb, cookie, MSLB_T_DSR_AFFINITY, 1);
    } else if (svc->slots.n_moves) {
        compile_move_learning(cb, svc, cookie);
    }

    /* Drained backends keep forwarding for the sessions they have. */
    for (size_t i = 0; i < svc->n_backends; i++) {
        const struct model_backend *be = &svc->backends[i];
        if (be->state == MODEL_BACKEND_DOWN || !be->has_mac) {
            continue;           /* No MAC yet: no sessions, no flows. */
        }
        if (be->failed) {
            failed_backend(cb, cookie, svc, be, ports);
        }
        if (host && be->host_bridge && !strcmp(be->host_bridge, br->name)) {
            local_forward(cb, cookie, svc, be, ports);
            continue;
        }
        if (svc->mode == MODEL_MODE_TUN || model_mode_via_host(svc->mode)) {
            tunnel_forward(cb, cookie, svc, be, br, ports);
            continue;
        }
        for (int copy = COPY_ALL; copy <= last_copy(svc); copy++) {
            cb_begin(cb);
            m_forward(cb, svc, be, copy);
            dsr_forward(cb, svc, be, br, ports);
            cb_add(cb, cookie, MSLB_T_DSR_FORWARD, copy_priority(copy));
        }
    }
}

void
compile_dsr_service(struct cbuild *cb, const struct model_service *svc,
                    const struct model_bridge *br,
                    const struct compile_ports *ports)
{
    dsr_pipeline(cb, svc, br, ports, false);
}

/* East-west (mode slb): a service's pipeline on slb host 'br', for its
 * own backends' connections to the VIP, which go straight to the chosen
 * backend's host (or stay here) without a mux: the same slot table and
 * the same datapath hash as the muxes, so the same backend for the same
 * flow.  The host's MAC stands in for a mux's. */
char *
compile_east_west(const struct model_service *svc,
                  const struct model_bridge *br,
                  const struct compile_ports *ports, struct flowset *out)
{
    struct model_bridge host = *br;
    struct cbuild cb;

    cb_init(&cb, out);
    if (svc->mode == MODEL_MODE_SLB && ports->tunnel[svc->tunnel]) {
        host.mac = ports->local_mac;
        dsr_pipeline(&cb, svc, &host, ports, true);
    }
    return cb_finish(&cb);
}

bool
compile_hosted_on(const struct model_service *svc, const char *bridge)
{
    for (size_t i = 0; i < svc->n_backends; i++) {
        if (svc->backends[i].host_bridge
            && !strcmp(svc->backends[i].host_bridge, bridge)) {
            return true;
        }
    }
    return false;
}


/* Whether a backend of 'svc' before index 'k' is behind bridge 'br'. */
static bool
hosts_before(const struct model_service *svc, size_t k,
             const struct model_bridge *br)
{
    for (size_t i = 0; i < k; i++) {
        if (svc->backends[i].host_bridge
            && !strcmp(svc->backends[i].host_bridge, br->name)) {
            return true;
        }
    }
    return false;
}

bool
compile_counts_replies(const struct model_service *svc,
                       const struct model_backend *be)
{
    return model_mode_is_dsr(svc->mode) && be->host_bridge && be->has_mac
           && !be->mac_unused;
}

/* Backend 'be''s answers on its host's bridge (the final stage): from
 * the VIP (and port) with its MAC, switched on as any other packet there
 * (NORMAL); their counters are the backend's replies in the statistics.
 * On an slb host conntrack first restores the VIP ('translated'). */
static void
count_replies(struct cbuild *cb, const struct model_service *svc,
              const struct model_backend *be, bool translated)
{
    if (!compile_counts_replies(svc, be)) {
        return;
    }
    cb_begin(cb);
    if (translated) {
        m_ct_state(cb, CS_REPLY_DIR | CS_TRACKED,
                   CS_REPLY_DIR | CS_TRACKED);
    }
    m_ip_proto(cb, &svc->vip, svc->proto);
    m_addr(cb, MFF_IPV4_SRC, MFF_IPV6_SRC, &svc->vip);
    if (svc->port) {
        m_u16(cb, MFF_TCP_SRC, svc->port);
    }
    m_mac(cb, MFF_ETH_SRC, &be->mac);
    a_output(cb, ofp_to_u16(OFPP_NORMAL));
    cb_add(cb, mslb_cookie(MSLB_COOKIE_SERVICE, svc->id),
           translated ? MSLB_T_NAT_REPLY : MSLB_T_CLASSIFY,
           MSLB_DSR_REPLY_PRIORITY);
}

void
compile_final_flows(struct cbuild *cb, const struct model *m,
                    const struct model_bridge *br,
                    const struct compile_ports *ports)
{
    uint64_t base = mslb_cookie(MSLB_COOKIE_BRIDGE, 0);
    bool slb_host = false;

    static const struct mslb_mac resolve_mac = { MSLB_RESOLVE_MAC };

    cb_begin(cb);
    a_output(cb, ofp_to_u16(OFPP_NORMAL));
    cb_add(cb, base, MSLB_T_CLASSIFY, 0);
    /* Its servers' answers to mslbd's ARP probes and neighbour
     * solicitations (backends without "mac" in mode mslb). */
    compile_neighbour_answers(cb, base, &resolve_mac);
    for (int t = 0; t < MODEL_N_TUNNELS; t++) {
        if (ports->tunnel[t]) {
            /* Tunnelled packets of no known service go nowhere. */
            cb_begin(cb);
            m_u16(cb, MFF_IN_PORT, ports->tunnel[t]);
            cb_add(cb, base, MSLB_T_CLASSIFY, 100);
        }
    }
    for (size_t i = 0; i < m->n_services; i++) {
        const struct model_service *svc = &m->services[i];
        bool hosted = false;

        for (size_t k = 0; k < svc->n_backends && !hosted; k++) {
            hosted = svc->backends[k].host_bridge
                     && !strcmp(svc->backends[k].host_bridge, br->name);
        }
        if (hosted && svc->mode == MODEL_MODE_SLB) {
            slb_host = true;
            break;
        }
    }
    if (slb_host) {
        compile_slb_base(cb, ports);
        compile_slb_prober(cb, br, ports);
    }
    for (size_t i = 0; i < m->n_services; i++) {
        const struct model_service *svc = &m->services[i];
        uint64_t cookie = mslb_cookie(MSLB_COOKIE_SERVICE, svc->id);

        for (size_t k = 0; k < svc->n_backends; k++) {
            const struct model_backend *be = &svc->backends[k];

            if (!be->host_bridge || strcmp(be->host_bridge, br->name)) {
                continue;
            }
            if (svc->outbound && (k == 0 || !hosts_before(svc, k, br))) {
                compile_slb_outbound(cb, svc, br, ports);
            }
            count_replies(cb, svc, be,
                          svc->mode == MODEL_MODE_SLB && !svc->floating_ip);
            if (svc->mode == MODEL_MODE_SLB && !svc->floating_ip) {
                compile_slb_host(cb, svc, be, br, ports);
            } else if (model_mode_via_host(svc->mode)
                       && ports->tunnel[svc->tunnel]) {
                /* The inner packet is the client's, untouched, with the
                 * server's MAC: switch it to the server.  Its source MAC
                 * becomes this bridge's own first: NORMAL learns it on the
                 * tunnel port and may flood the frame to the network, and
                 * neither may teach anyone that the first stage's MAC lives
                 * behind this host. */
                cb_begin(cb);
                m_u16(cb, MFF_IN_PORT, ports->tunnel[svc->tunnel]);
                m_u64(cb, MFF_TUN_ID, svc->id);
                a_set_mac(cb, MFF_ETH_SRC, &ports->local_mac);
                a_output(cb, ofp_to_u16(OFPP_NORMAL));
                cb_add(cb, cookie, MSLB_T_CLASSIFY, 200);
            } else if (svc->mode == MODEL_MODE_L3DSR) {
                cb_begin(cb);
                m_ip_proto(cb, &be->ip, 0);
                m_addr(cb, MFF_IPV4_DST, MFF_IPV6_DST, &be->ip);
                m_u8(cb, MFF_IP_DSCP_SHIFTED, svc->dscp);
                a_set_addr(cb, MFF_IPV4_DST, MFF_IPV6_DST, &svc->vip);
                a_set_u8(cb, MFF_IP_DSCP_SHIFTED, 0);
                a_output(cb, ofp_to_u16(OFPP_NORMAL));
                cb_add(cb, mslb_cookie(MSLB_COOKIE_VIP, 0), MSLB_T_CLASSIFY,
                       200);
            }
        }
    }
}
