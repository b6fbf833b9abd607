/* The compiler, mode nat: conntrack with NAT; a new session's slot
 * (SLOTS) commits it translated to its backend.  See docs/pipeline.md,
 * docs/selection.md and docs/nat.md. */
#include <config.h>
#include "mslb/compile.h"

#include <arpa/inet.h>
#include <string.h>

#include "openvswitch/ofp-actions.h"
#include "openvswitch/util.h"
#include "packets.h"
#include "compile-private.h"
#include "mslb/pipeline.h"

/* ct(zone=Z,table=T,nat) or, with 'be', ct(commit,zone=Z,table=T,
 * nat(dst=RIP:RPORT),exec(move:eth_src->ct_label[0..47])): the session
 * keeps the client's MAC in its label for the replies. */
static void
a_ct_nat(struct cbuild *cb, uint16_t zone, int table,
         const struct model_backend *be)
{
    size_t ofs = cb->ofpacts.size;
    struct ofpact_conntrack *ct = ofpact_put_CT(&cb->ofpacts);
    struct ofpact_nat *nat;

    ct->flags = be ? NX_CT_F_COMMIT : 0;
    ct->zone_imm = zone;
    ct->recirc_table = table;
    nat = ofpact_put_NAT(&cb->ofpacts);
    nat->flags = 0;
    nat->range_af = AF_UNSPEC;
    if (be) {
        nat->flags = NX_NAT_F_DST;
        if (be->ip.family == AF_INET6) {
            nat->range_af = AF_INET6;
            nat->range.addr.ipv6.min = be->ip.v6;
        } else {
            nat->range_af = AF_INET;
            nat->range.addr.ipv4.min = be->ip.v4.s_addr;
        }
        nat->range.proto.min = be->port;
        a_move(cb, MFF_ETH_SRC, 0, 48, MFF_CT_LABEL, 0);
    }
    ct = ofpbuf_at_assert(&cb->ofpacts, ofs, sizeof *ct);
    cb->ofpacts.header = ct;
    ofpact_finish_CT(&cb->ofpacts, &ct);
}

/* NAT: commit the session, translated to the backend. */
static void
nat_stable(struct cbuild *cb, const struct model_backend *be,
           const void *br_)
{
    const struct model_bridge *br = br_;

    /* reg1 names the backend for `trace` (a flow's actions are what
     * tells; its match may cover other backends' exceptions). */
    a_set_u32(cb, MFF_REG1, be->key);
    a_ct_nat(cb, br->ct_zone, MSLB_T_NAT_OUT, be);
}

void
compile_nat_commit(struct cbuild *cb, const struct model_bridge *br,
                   const struct model_backend *be)
{
    nat_stable(cb, be, br);
}

/* The flows of one backend endpoint (protocol, address, port) on a bridge:
 * replies from it go to conntrack, translated requests to it get its MAC.
 * Their counters are the endpoint's statistics (rest_stats.c): replies,
 * requests and sessions.
 * Services sharing an endpoint emit identical flows, which the flow set
 * counts once. */
static void
add_endpoint(struct cbuild *cb, const struct model_backend *be,
             uint8_t proto, const struct model_bridge *br,
             const struct compile_ports *ports)
{
    uint64_t cookie = mslb_cookie(MSLB_COOKIE_BACKEND, 0);

    cb_begin(cb);
    m_ip_proto(cb, &be->ip, proto);
    m_addr(cb, MFF_IPV4_SRC, MFF_IPV6_SRC, &be->ip);
    m_u16(cb, MFF_TCP_SRC, be->port);
    a_ct_nat(cb, br->ct_zone, MSLB_T_NAT_REPLY, NULL);
    cb_add(cb, cookie, MSLB_T_CLASSIFY, MSLB_NAT_REPLY_PRIORITY);

    /* The same for a session's first packet (just committed): its
     * counter is the endpoint's sessions, whatever slot chose it; and, for
     * TCP, for the clients' FINs and RSTs, which close sessions: the open
     * sessions where the switch's conntrack cannot be read (rest_stats.c). */
    enum { OUT, NEW, FIN, RST };
    for (int copy = OUT; copy <= (proto == IPPROTO_TCP ? RST : NEW); copy++) {
        cb_begin(cb);
        if (copy == NEW) {
            m_ct_state(cb, CS_NEW | CS_TRACKED, CS_NEW | CS_TRACKED);
        }
        m_ip_proto(cb, &be->ip, proto);
        if (copy == FIN || copy == RST) {
            m_tcp_count(cb, copy == FIN ? TCP_COUNT_FIN : TCP_COUNT_RST);
        }
        m_addr(cb, MFF_IPV4_DST, MFF_IPV6_DST, &be->ip);
        m_u16(cb, MFF_TCP_DST, be->port);
        a_set_mac(cb, MFF_ETH_SRC, &br->mac);
        a_set_mac(cb, MFF_ETH_DST, &be->mac);
        a_output_side(cb, ports, ports->backend);
        cb_add(cb, cookie, MSLB_T_NAT_OUT,
               copy == OUT ? MSLB_NAT_OUT_PRIORITY
               : copy == NEW ? MSLB_NAT_NEW_PRIORITY
               : MSLB_NAT_CLOSE_PRIORITY);
    }

    /* Fragments (docs/mtu.md).  Conntrack reassembles a datagram and
     * translates all its fragments, but the switch's fragment handling
     * ("normal") hides the ports of every fragment, the first one
     * included: all go by address (IPv6 later ones show the fragment
     * header as their protocol).  Replies in fragments go to conntrack
     * whole too. */
    cb_begin(cb);
    m_ip_proto(cb, &be->ip, be->ip.family == AF_INET6 ? 0 : proto);
    m_addr(cb, MFF_IPV4_DST, MFF_IPV6_DST, &be->ip);
    m_ip_frag(cb, FLOW_NW_FRAG_ANY, FLOW_NW_FRAG_ANY);
    a_set_mac(cb, MFF_ETH_SRC, &br->mac);
    a_set_mac(cb, MFF_ETH_DST, &be->mac);
    /* Only mslbd sends fragments here, from the controller's port
     * (fragments.c): the backend port by number even when one-armed. */
    a_output(cb, ports->backend);
    cb_add(cb, cookie, MSLB_T_NAT_OUT, 90);

    cb_begin(cb);
    m_ip_proto(cb, &be->ip, be->ip.family == AF_INET6 ? 0 : proto);
    m_addr(cb, MFF_IPV4_SRC, MFF_IPV6_SRC, &be->ip);
    m_ip_frag(cb, FLOW_NW_FRAG_ANY, FLOW_NW_FRAG_ANY);
    a_ct_nat(cb, br->ct_zone, MSLB_T_NAT_REPLY, NULL);
    cb_add(cb, cookie, MSLB_T_CLASSIFY, 210);
}

/* NAT_OUT, a backend whose monitor finds it down and whose "sessions" is
 * "reset": a packet of one of the service's established sessions with
 * it, its destination put back to the VIP and port, goes to mslbd, which
 * answers the client with an RST (UDP: port unreachable) from the VIP
 * (ofapp/reject.c).  Above the backend's own flow, which probes and
 * other services' sessions still take. */
static void
reset_sessions(struct cbuild *cb, uint64_t cookie,
               const struct model_service *svc,
               const struct model_backend *be)
{
    cb_begin(cb);
    m_ct_state(cb, CS_ESTABLISHED | CS_TRACKED,
               CS_ESTABLISHED | CS_TRACKED | CS_REPLY_DIR);
    m_ip_proto(cb, &be->ip, svc->proto);
    m_u8(cb, MFF_CT_NW_PROTO, svc->proto);
    m_addr(cb, MFF_CT_NW_DST, MFF_CT_IPV6_DST, &svc->vip);
    m_u16(cb, MFF_CT_TP_DST, svc->port);
    m_addr(cb, MFF_IPV4_DST, MFF_IPV6_DST, &be->ip);
    m_u16(cb, MFF_TCP_DST, be->port);
    a_set_addr(cb, MFF_IPV4_DST, MFF_IPV6_DST, &svc->vip);
    a_set_u16(cb, svc->proto == IPPROTO_UDP ? MFF_UDP_DST : MFF_TCP_DST,
              svc->port);
    a_controller_tagged(cb, MSLB_REJECT_USERDATA0, MSLB_REJECT_USERDATA1);
    cb_add(cb, cookie, MSLB_T_NAT_OUT, 110);
}

void
compile_slb_host(struct cbuild *cb, const struct model_service *svc,
                 const struct model_backend *be,
                 const struct model_bridge *br,
                 const struct compile_ports *ports)
{
    uint64_t cookie = mslb_cookie(MSLB_COOKIE_SERVICE, svc->id);

    if (!ports->tunnel[svc->tunnel] || !be->has_mac) {
        return;
    }
    /* In: the client's packet, tunnelled by the first stage with this
     * backend's MAC inside, translated to the backend. */
    cb_begin(cb);
    m_u16(cb, MFF_IN_PORT, ports->tunnel[svc->tunnel]);
    m_u64(cb, MFF_TUN_ID, svc->id);
    m_mac(cb, MFF_ETH_DST, &be->mac);
    m_ip_proto(cb, &svc->vip, svc->proto);
    m_addr(cb, MFF_IPV4_DST, MFF_IPV6_DST, &svc->vip);
    if (svc->port) {
        m_u16(cb, MFF_TCP_DST, svc->port);
    }
    a_ct_nat(cb, br->ct_zone, MSLB_T_NAT_OUT, be);
    cb_add(cb, cookie, MSLB_T_CLASSIFY, 200);

    /* Out: all the backend sends goes through conntrack, which translates
     * its sessions' replies back to VIP:port and lets anything else pass
     * unchanged.  The same flow for every service of the address. */
    cb_begin(cb);
    m_ip_proto(cb, &be->ip, 0);
    m_addr(cb, MFF_IPV4_SRC, MFF_IPV6_SRC, &be->ip);
    a_ct_nat(cb, br->ct_zone, MSLB_T_NAT_REPLY, NULL);
    cb_add(cb, mslb_cookie(MSLB_COOKIE_BACKEND, 0), MSLB_T_CLASSIFY, 190);

    /* East-west from a neighbour on this host: once its session is
     * translated here, conntrack (in the neighbour's own CLASSIFY flow
     * above) sends its packets to this backend; they get its MAC (the
     * neighbour addressed the VIP's). */
    cb_begin(cb);
    m_ct_state(cb, CS_DST_NAT | CS_TRACKED,
               CS_DST_NAT | CS_REPLY_DIR | CS_TRACKED);
    m_ip_proto(cb, &be->ip, 0);
    m_addr(cb, MFF_IPV4_DST, MFF_IPV6_DST, &be->ip);
    a_set_mac(cb, MFF_ETH_DST, &be->mac);
    a_output(cb, ofp_to_u16(OFPP_NORMAL));
    cb_add(cb, mslb_cookie(MSLB_COOKIE_BACKEND, 0), MSLB_T_NAT_REPLY, 105);
}

/* ct(commit, zone, nat(src=IP:LO-LO+block-1), table=TABLE). */
static void
a_ct_snat(struct cbuild *cb, uint16_t zone, int table,
          const struct model_outbound *o, uint16_t lo)
{
    size_t ofs = cb->ofpacts.size;
    struct ofpact_conntrack *ct = ofpact_put_CT(&cb->ofpacts);
    struct ofpact_nat *nat;

    ct->flags = NX_CT_F_COMMIT;
    ct->zone_imm = zone;
    ct->recirc_table = table;
    nat = ofpact_put_NAT(&cb->ofpacts);
    nat->flags = NX_NAT_F_SRC;
    if (o->ip.family == AF_INET6) {
        nat->range_af = AF_INET6;
        nat->range.addr.ipv6.min = o->ip.v6;
    } else {
        nat->range_af = AF_INET;
        nat->range.addr.ipv4.min = o->ip.v4.s_addr;
    }
    nat->range.proto.min = lo;
    nat->range.proto.max = lo + o->block - 1;
    ct = ofpbuf_at_assert(&cb->ofpacts, ofs, sizeof *ct);
    cb->ofpacts.header = ct;
    ofpact_finish_CT(&cb->ofpacts, &ct);
}

/* ct(commit, zone): committed untranslated; the packet goes on. */
static void
a_ct_commit(struct cbuild *cb, uint16_t zone)
{
    size_t ofs = cb->ofpacts.size;
    struct ofpact_conntrack *ct = ofpact_put_CT(&cb->ofpacts);

    ct->flags = NX_CT_F_COMMIT;
    ct->zone_imm = zone;
    ct->recirc_table = NX_CT_RECIRC_NONE;
    ct = ofpbuf_at_assert(&cb->ofpacts, ofs, sizeof *ct);
    cb->ofpacts.header = ct;
    ofpact_finish_CT(&cb->ofpacts, &ct);
}

static void
m_dst_prefix(struct cbuild *cb, const struct model_prefix *p)
{
    if (p->addr.family == AF_INET6) {
        struct in6_addr mask = ipv6_create_mask(p->len);
        match_set_ipv6_dst_masked(&cb->match, &p->addr.v6, &mask);
    } else {
        match_set_nw_dst_masked(&cb->match, p->addr.v4.s_addr,
                                be32_prefix_mask(p->len));
    }
}

static const uint8_t snat_protos[] = { IPPROTO_TCP, IPPROTO_UDP };

void
compile_slb_outbound(struct cbuild *cb, const struct model_service *svc,
                     const struct model_bridge *br,
                     const struct compile_ports *ports)
{
    const struct model_outbound *o = svc->outbound;
    const struct model_snat_block *newest;
    uint64_t cookie = mslb_cookie(MSLB_COOKIE_SERVICE, svc->id);
    bool hosted = false;

    newest = model_outbound_newest(o, br->name);
    for (size_t i = 0; i < svc->n_backends; i++) {
        const struct model_backend *be = &svc->backends[i];
        bool seen = false;

        if (!be->host_bridge || strcmp(be->host_bridge, br->name)) {
            continue;
        }
        for (size_t k = 0; k < i && !seen; k++) {
            seen = svc->backends[k].host_bridge
                   && !strcmp(svc->backends[k].host_bridge, br->name)
                   && mslb_addr_equal(&svc->backends[k].ip, &be->ip);
        }
        if (seen) {
            continue;           /* The same address on another port. */
        }
        hosted = true;

        /* All it sends goes through conntrack (compile_slb_host()'s flow;
         * needed here too when the host translates nothing, floating_ip). */
        cb_begin(cb);
        m_ip_proto(cb, &be->ip, 0);
        m_addr(cb, MFF_IPV4_SRC, MFF_IPV6_SRC, &be->ip);
        a_ct_nat(cb, br->ct_zone, MSLB_T_NAT_REPLY, NULL);
        cb_add(cb, mslb_cookie(MSLB_COOKIE_BACKEND, 0), MSLB_T_CLASSIFY, 190);

        /* Out: a new connection of the backend's own (not a reply: those
         * are +est) is committed from the outbound address and a port of
         * the host's newest block; with no block, it is exhausted. */
        for (size_t p = 0; p < ARRAY_SIZE(snat_protos); p++) {
            cb_begin(cb);
            m_ct_state(cb, CS_NEW | CS_TRACKED, CS_NEW | CS_TRACKED);
            m_ip_proto(cb, &be->ip, snat_protos[p]);
            m_addr(cb, MFF_IPV4_SRC, MFF_IPV6_SRC, &be->ip);
            if (snat_protos[p] == IPPROTO_TCP) {
                /* Conntrack takes up TCP mid-stream as +new too: only a
                 * SYN opens an outbound connection. */
                match_set_tcp_flags_masked(&cb->match, htons(TCP_SYN),
                                           htons(TCP_SYN | TCP_ACK));
            }
            if (newest) {
                a_ct_snat(cb, br->ct_zone, MSLB_T_SNAT_OUT, o, newest->start);
            } else {
                a_controller_tagged(cb, MSLB_SNAT_USERDATA0,
                                    MSLB_SNAT_USERDATA1);
            }
            cb_add(cb, cookie, MSLB_T_NAT_REPLY, 100);
        }
        for (size_t x = 0; x < o->n_exclude; x++) {
            cb_begin(cb);
            m_ct_state(cb, CS_NEW | CS_TRACKED, CS_NEW | CS_TRACKED);
            m_ip_proto(cb, &be->ip, 0);
            m_addr(cb, MFF_IPV4_SRC, MFF_IPV6_SRC, &be->ip);
            m_dst_prefix(cb, &o->exclude[x]);
            a_ct_commit(cb, br->ct_zone);   /* So that its replies are +rpl. */
            a_output(cb, ofp_to_u16(OFPP_NORMAL));
            cb_add(cb, cookie, MSLB_T_NAT_REPLY, 110);
        }
        /* UDP that reaches the backend other than through a tunnel (a
         * client on its own network) is committed, so that the answers
         * are replies (+rpl), not new outbound datagrams. */
        cb_begin(cb);
        m_ip_proto(cb, &be->ip, IPPROTO_UDP);
        m_addr(cb, MFF_IPV4_DST, MFF_IPV6_DST, &be->ip);
        a_ct_commit(cb, br->ct_zone);
        a_output(cb, ofp_to_u16(OFPP_NORMAL));
        cb_add(cb, cookie, MSLB_T_CLASSIFY, 50);

        /* Still from the backend after the commit: conntrack found no
         * free port in the block for this destination. */
        cb_begin(cb);
        m_ip_proto(cb, &be->ip, 0);
        m_addr(cb, MFF_IPV4_SRC, MFF_IPV6_SRC, &be->ip);
        a_controller_tagged(cb, MSLB_SNAT_USERDATA0, MSLB_SNAT_USERDATA1);
        cb_add(cb, cookie, MSLB_T_SNAT_OUT, 100);

        /* Back: translated by conntrack, to the backend's MAC. */
        if (be->has_mac) {
            cb_begin(cb);
            m_ct_state(cb, CS_REPLY_DIR | CS_TRACKED,
                       CS_REPLY_DIR | CS_TRACKED);
            m_ip_proto(cb, &be->ip, 0);
            m_addr(cb, MFF_IPV4_DST, MFF_IPV6_DST, &be->ip);
            a_set_mac(cb, MFF_ETH_SRC, &ports->local_mac);
            a_set_mac(cb, MFF_ETH_DST, &be->mac);
            a_output(cb, ofp_to_u16(OFPP_NORMAL));
            cb_add(cb, cookie, MSLB_T_SNAT_RETURN, 100);
        }
    }
    if (!hosted || !ports->tunnel[svc->tunnel]) {
        return;
    }
    /* The answers the muxes tunnel back (to the outbound address, a port
     * of a block of this host's) go to conntrack. */
    for (size_t p = 0; p < ARRAY_SIZE(snat_protos); p++) {
        cb_begin(cb);
        m_u16(cb, MFF_IN_PORT, ports->tunnel[svc->tunnel]);
        m_u64(cb, MFF_TUN_ID, svc->id);
        m_ip_proto(cb, &o->ip, snat_protos[p]);
        m_addr(cb, MFF_IPV4_DST, MFF_IPV6_DST, &o->ip);
        a_ct_nat(cb, br->ct_zone, MSLB_T_SNAT_RETURN, NULL);
        cb_add(cb, cookie, MSLB_T_CLASSIFY, 150);
    }
}

void
compile_snat_return(struct cbuild *cb, const struct model_service *svc,
                    const struct model_bridge *br,
                    const struct compile_ports *ports)
{
    const struct model_outbound *o = svc->outbound;
    uint64_t cookie = mslb_cookie(MSLB_COOKIE_SERVICE, svc->id);

    if (!o || !ports->tunnel[svc->tunnel]) {
        return;
    }
    if (!mslb_addr_equal(&o->ip, &svc->vip)) {
        compile_responders(cb, mslb_cookie(MSLB_COOKIE_VIP, 0), &o->ip,
                           &br->mac);
    }
    for (size_t i = 0; i < o->n_blocks; i++) {
        const struct model_snat_block *b = &o->blocks[i];
        const struct model_backend *host = NULL;

        for (size_t k = 0; k < svc->n_backends && !host; k++) {
            const struct model_backend *be = &svc->backends[k];
            if (be->host_bridge && !strcmp(be->host_bridge, b->host_bridge)
                && be->host.family) {
                host = be;
            }
        }
        if (!host) {
            continue;
        }
        for (size_t p = 0; p < ARRAY_SIZE(snat_protos); p++) {
            cb_begin(cb);
            m_ip_proto(cb, &o->ip, snat_protos[p]);
            m_addr(cb, MFF_IPV4_DST, MFF_IPV6_DST, &o->ip);
            match_set_tp_dst_masked(&cb->match, htons(b->start),
                                    htons(~(o->block - 1)));
            a_set_mac(cb, MFF_ETH_SRC, &br->mac);
            a_set_addr(cb, MFF_TUN_DST, MFF_TUN_IPV6_DST, &host->host);
            a_set_u64(cb, MFF_TUN_ID, svc->id);
            a_output(cb, ports->tunnel[svc->tunnel]);
            cb_add(cb, cookie, MSLB_T_CLASSIFY, 200);
        }
    }
}

void
compile_slb_prober(struct cbuild *cb, const struct model_bridge *br,
                   const struct compile_ports *ports)
{
    uint64_t base = mslb_cookie(MSLB_COOKIE_BRIDGE, 0);

    for (size_t i = 0; i < br->n_gateways; i++) {
        const struct mslb_addr *gw = &br->gateways[i];

        compile_responders(cb, base, gw, &ports->local_mac);
        /* The answers, translated back by conntrack (NAT_REPLY), or from
         * a floating-IP backend, which answers from the VIP itself
         * (CLASSIFY, below its translated backends' flow). */
        for (int t = 0; t < 2; t++) {
            cb_begin(cb);
            m_ip_proto(cb, gw, 0);
            m_addr(cb, MFF_IPV4_DST, MFF_IPV6_DST, gw);
            a_controller_tagged(cb, MSLB_HEALTH_USERDATA0,
                                MSLB_HEALTH_USERDATA1);
            cb_add(cb, base, t ? MSLB_T_CLASSIFY : MSLB_T_NAT_REPLY,
                   t ? 180 : 300);
        }
    }
}

void
compile_slb_base(struct cbuild *cb, const struct compile_ports *ports)
{
    uint64_t base = mslb_cookie(MSLB_COOKIE_BRIDGE, 0);

    /* Translated in: switched to the backend, from this bridge's MAC (see
     * mode mslb's final stage).  Out, translated back or not: switched on
     * (to the gateway or client the backend addressed). */
    cb_begin(cb);
    a_set_mac(cb, MFF_ETH_SRC, &ports->local_mac);
    a_output(cb, ofp_to_u16(OFPP_NORMAL));
    cb_add(cb, base, MSLB_T_NAT_OUT, 0);
    cb_begin(cb);
    a_output(cb, ofp_to_u16(OFPP_NORMAL));
    cb_add(cb, base, MSLB_T_NAT_REPLY, 0);
    /* Outbound SNAT (compile_slb_outbound()): translated out, switched
     * on; an answer of no outbound connection, dropped. */
    cb_begin(cb);
    a_output(cb, ofp_to_u16(OFPP_NORMAL));
    cb_add(cb, base, MSLB_T_SNAT_OUT, 0);
    cb_begin(cb);
    cb_add(cb, base, MSLB_T_SNAT_RETURN, 0);
}

/* The request match of a NAT service: protocol, VIP, port. */
static void
nat_request_match(struct cbuild *cb, const struct model_service *svc)
{
    m_ip_proto(cb, &svc->vip, svc->proto);
    m_addr(cb, MFF_IPV4_DST, MFF_IPV6_DST, &svc->vip);
    m_u16(cb, MFF_TCP_DST, svc->port);
}

void
compile_nat_service(struct cbuild *cb, const struct model_service *svc,
                    const struct model_bridge *br,
                    const struct compile_ports *ports)
{
    uint64_t cookie = mslb_cookie(MSLB_COOKIE_SERVICE, svc->id);

    compile_responders(cb, mslb_cookie(MSLB_COOKIE_VIP, 0), &svc->vip,
                       &br->mac);
    cb_begin(cb);
    nat_request_match(cb, svc);
    a_ct_nat(cb, br->ct_zone, MSLB_T_NAT_REQUEST, NULL);
    if (svc->proto != IPPROTO_TCP) {
        cb_add_service_entry(cb, svc, cookie, 200);
    } else {
        /* A SYN goes to its slot straight away: SLOTS's ct(commit) is its
         * conntrack lookup too (a retransmitted SYN keeps the translation
         * its session has), one datapath pass fewer than looking it up
         * first.  NAT_OUT forwards it by the address it was translated to;
         * a SYN that conntrack refuses stays untranslated and matches
         * nothing there. */
        cb_add(cb, cookie, MSLB_T_CLASSIFY, 200);
        cb_begin(cb);
        nat_request_match(cb, svc);
        a_set_u32(cb, MFF_REG0, svc->id);
        a_select_slot(cb, svc, ports);
        cb_add_syn_entry(cb, svc, cookie, 201);
    }

    /* A new session picks its slot; SLOTS commits it, translated.
     * Conntrack then keeps each session's backend: the slot table places
     * only new ones. */
    compile_slots(cb, svc, cookie, nat_stable, NULL, br);
    cb_begin(cb);
    m_ct_state(cb, CS_NEW | CS_TRACKED, CS_NEW | CS_TRACKED);
    nat_request_match(cb, svc);
    a_set_u32(cb, MFF_REG0, svc->id);
    a_select_slot(cb, svc, ports);
    cb_add(cb, cookie, MSLB_T_NAT_REQUEST, 200);

    cb_begin(cb);
    m_ct_state(cb, CS_REPLY_DIR | CS_TRACKED, CS_REPLY_DIR | CS_TRACKED);
    m_ip_proto(cb, &svc->vip, svc->proto);
    m_addr(cb, MFF_IPV4_SRC, MFF_IPV6_SRC, &svc->vip);
    m_u16(cb, MFF_TCP_SRC, svc->port);
    a_move(cb, MFF_CT_LABEL, 0, 48, MFF_ETH_DST, 0);
    a_set_mac(cb, MFF_ETH_SRC, &br->mac);
    a_output_side(cb, ports, ports->frontend);
    cb_add(cb, cookie, MSLB_T_NAT_REPLY, 100);

    /* The fragments of a reply: no ports to match (not even the first
     * one's, see add_endpoint), but conntrack restored the VIP as their
     * source.  Shared by the VIP's services. */
    cb_begin(cb);
    m_ct_state(cb, CS_REPLY_DIR | CS_TRACKED, CS_REPLY_DIR | CS_TRACKED);
    m_ip_proto(cb, &svc->vip, svc->vip.family == AF_INET6 ? 0 : svc->proto);
    m_addr(cb, MFF_IPV4_SRC, MFF_IPV6_SRC, &svc->vip);
    m_ip_frag(cb, FLOW_NW_FRAG_ANY, FLOW_NW_FRAG_ANY);
    a_move(cb, MFF_CT_LABEL, 0, 48, MFF_ETH_DST, 0);
    a_set_mac(cb, MFF_ETH_SRC, &br->mac);
    a_output_side(cb, ports, ports->frontend);
    cb_add(cb, mslb_cookie(MSLB_COOKIE_VIP, 0), MSLB_T_NAT_REPLY, 90);

    for (size_t i = 0; i < svc->n_backends; i++) {
        /* A backend whose MAC is not known yet gets no session (its
         * slots are another's, ofapp/lbengine.c): no flows either. */
        if (svc->backends[i].state != MODEL_BACKEND_DOWN
            && svc->backends[i].has_mac) {
            add_endpoint(cb, &svc->backends[i], svc->proto, br, ports);
            if (svc->backends[i].failed
                && svc->backends[i].monitor.reset_sessions) {
                reset_sessions(cb, cookie, svc, &svc->backends[i]);
            }
        }
    }
}
