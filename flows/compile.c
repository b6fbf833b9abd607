/* The compiler: model -> flows and groups of one bridge, built as matches
 * and ofpacts into a flow set.  This file: the builder, the
 * bridge's base, VIP and gateway responders, mode local, and the entry
 * points; compile_nat.c and compile_dsr.c hold the modes' pipelines.  See
 * docs/pipeline.md for what they emit. */
#include <config.h>
#include "mslb/compile.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofp-group.h"
#include "openvswitch/util.h"
#include "byte-order.h"
#include "packets.h"
#include "util.h"
#include "compile-private.h"
#include "mslb/flowset.h"
#include "mslb/pipeline.h"

const char *
mslb_table_name(int table)
{
    switch (table) {
#define MSLB_TABLE(NAME, NUMBER, PURPOSE) case NUMBER: return #NAME;
    MSLB_TABLES
#undef MSLB_TABLE
    }
    return NULL;
}

/* ---- The builder. ---- */

void
cb_init(struct cbuild *cb, struct flowset *out)
{
    cb->out = out;
    cb->error = NULL;
    ofpbuf_use_stub(&cb->ofpacts, cb->stub, sizeof cb->stub);
    match_init_catchall(&cb->match);
}

char *
cb_finish(struct cbuild *cb)
{
    ofpbuf_uninit(&cb->ofpacts);
    return cb->error;
}

void
cb_error(struct cbuild *cb, char *error)
{
    if (!cb->error) {
        cb->error = error;
    } else {
        free(error);
    }
}

void
cb_begin(struct cbuild *cb)
{
    match_init_catchall(&cb->match);
    ofpbuf_clear(&cb->ofpacts);
}

static void
check_table(int table)
{
    /* Every flow goes to a table the pipeline declares. */
    ovs_assert(mslb_table_name(table));
}

void
cb_add(struct cbuild *cb, uint64_t cookie, int table, int priority)
{
    check_table(table);
    cb_error(cb, flowset_add_flow(cb->out, table, priority, &cb->match,
                                  cookie, cb->ofpacts.data,
                                  cb->ofpacts.size));
}

void
m_proto(struct cbuild *cb, uint16_t dl_type, uint8_t nw_proto)
{
    match_set_dl_type(&cb->match, htons(dl_type));
    if (nw_proto) {
        match_set_nw_proto(&cb->match, nw_proto);
    }
    match_set_default_packet_type(&cb->match);
}

/* The protocol keyword for 'proto' (0: every IP protocol) of an address's
 * family: ip, tcp, udp, ipv6, tcp6, udp6. */
void
m_ip_proto(struct cbuild *cb, const struct mslb_addr *a, uint8_t proto)
{
    m_proto(cb, a->family == AF_INET6 ? ETH_TYPE_IPV6 : ETH_TYPE_IP,
            proto == IPPROTO_TCP || proto == IPPROTO_UDP ? proto : 0);
}

static void
m_value(struct cbuild *cb, enum mf_field_id id, const union mf_value *v)
{
    const struct mf_field *mf = mf_from_id(id);

    mf_set_value(mf, v, &cb->match, NULL);
    match_add_ethernet_prereq(&cb->match, mf);
}

void
m_u8(struct cbuild *cb, enum mf_field_id id, uint8_t x)
{
    union mf_value v = { .u8 = x };
    m_value(cb, id, &v);
}

void
m_u16(struct cbuild *cb, enum mf_field_id id, uint16_t x)
{
    union mf_value v = { .be16 = htons(x) };
    m_value(cb, id, &v);
}

void
m_u32(struct cbuild *cb, enum mf_field_id id, uint32_t x)
{
    union mf_value v = { .be32 = htonl(x) };
    m_value(cb, id, &v);
}

void
m_u64(struct cbuild *cb, enum mf_field_id id, uint64_t x)
{
    union mf_value v = { .be64 = htonll(x) };
    m_value(cb, id, &v);
}

void
m_mac(struct cbuild *cb, enum mf_field_id id, const struct mslb_mac *mac)
{
    union mf_value v;

    memcpy(v.mac.ea, mac->b, sizeof mac->b);
    m_value(cb, id, &v);
}

void
m_ip_frag(struct cbuild *cb, uint8_t value, uint8_t mask)
{
    union mf_value v = { .u8 = value };
    union mf_value m = { .u8 = mask };

    mf_set(mf_from_id(MFF_IP_FRAG), &v, &m, &cb->match, NULL);
}

static void
addr_value(const struct mslb_addr *a, union mf_value *v)
{
    memset(v, 0, sizeof *v);
    if (a->family == AF_INET6) {
        v->ipv6 = a->v6;
    } else {
        v->be32 = a->v4.s_addr;
    }
}

void
m_addr(struct cbuild *cb, enum mf_field_id v4, enum mf_field_id v6,
       const struct mslb_addr *a)
{
    union mf_value v;

    addr_value(a, &v);
    m_value(cb, a->family == AF_INET6 ? v6 : v4, &v);
}

void
m_ct_state(struct cbuild *cb, uint32_t state, uint32_t mask)
{
    const struct mf_field *mf = mf_from_id(MFF_CT_STATE);
    union mf_value v = { .be32 = htonl(state) };
    union mf_value m = { .be32 = htonl(mask) };

    mf_set(mf, &v, &m, &cb->match, NULL);
    match_add_ethernet_prereq(&cb->match, mf);
}

void
m_tcp_count(struct cbuild *cb, enum tcp_count which)
{
    static const struct { uint16_t flags, mask; } tcp[] = {
        [TCP_COUNT_SYN] = { TCP_SYN, TCP_SYN | TCP_ACK },
        [TCP_COUNT_FIN] = { TCP_FIN, TCP_FIN | TCP_SYN },
        [TCP_COUNT_RST] = { TCP_RST, TCP_RST | TCP_FIN | TCP_SYN },
    };

    match_set_tcp_flags_masked(&cb->match, htons(tcp[which].flags),
                               htons(tcp[which].mask));
}

static void
a_set(struct cbuild *cb, enum mf_field_id id, const union mf_value *v)
{
    ofpact_put_set_field(&cb->ofpacts, mf_from_id(id), v, NULL);
}

void
a_set_u8(struct cbuild *cb, enum mf_field_id id, uint8_t x)
{
    union mf_value v = { .u8 = x };
    a_set(cb, id, &v);
}

void
a_set_u16(struct cbuild *cb, enum mf_field_id id, uint16_t x)
{
    union mf_value v = { .be16 = htons(x) };
    a_set(cb, id, &v);
}

void
a_set_u32(struct cbuild *cb, enum mf_field_id id, uint32_t x)
{
    union mf_value v = { .be32 = htonl(x) };
    a_set(cb, id, &v);
}

void
a_set_u64(struct cbuild *cb, enum mf_field_id id, uint64_t x)
{
    union mf_value v = { .be64 = htonll(x) };
    a_set(cb, id, &v);
}

void
a_set_mac(struct cbuild *cb, enum mf_field_id id, const struct mslb_mac *m)
{
    union mf_value v;

    memset(&v, 0, sizeof v);
    memcpy(v.mac.ea, m->b, sizeof m->b);
    a_set(cb, id, &v);
}

void
a_set_addr(struct cbuild *cb, enum mf_field_id v4, enum mf_field_id v6,
           const struct mslb_addr *a)
{
    union mf_value v;

    addr_value(a, &v);
    a_set(cb, a->family == AF_INET6 ? v6 : v4, &v);
}

void
a_move(struct cbuild *cb, enum mf_field_id src, int src_ofs, int n_bits,
       enum mf_field_id dst, int dst_ofs)
{
    struct ofpact_reg_move *move = ofpact_put_REG_MOVE(&cb->ofpacts);

    move->src.field = mf_from_id(src);
    move->src.ofs = src_ofs;
    move->src.n_bits = n_bits;
    move->dst.field = mf_from_id(dst);
    move->dst.ofs = dst_ofs;
    move->dst.n_bits = n_bits;
}

void
a_output(struct cbuild *cb, uint32_t port)
{
    ofpact_put_OUTPUT(&cb->ofpacts)->port = u16_to_ofp(port);
}

void
a_output_side(struct cbuild *cb, const struct compile_ports *ports,
              uint32_t port)
{
    a_output(cb, ports->frontend == ports->backend ? ofp_to_u16(OFPP_IN_PORT)
             : port);
}

void
a_controller_all(struct cbuild *cb)
{
    struct ofpact_output *o = ofpact_put_OUTPUT(&cb->ofpacts);

    o->port = OFPP_CONTROLLER;
    o->max_len = UINT16_MAX;
}

void
a_resubmit(struct cbuild *cb, int table)
{
    struct ofpact_resubmit *r = ofpact_put_RESUBMIT(&cb->ofpacts);

    check_table(table);
    r->in_port = OFPP_IN_PORT;
    r->table_id = table;
}

void
a_group(struct cbuild *cb, uint32_t group_id)
{
    ofpact_put_GROUP(&cb->ofpacts)->group_id = group_id;
}

void
a_goto(struct cbuild *cb, int table)
{
    check_table(table);
    ofpact_put_GOTO_TABLE(&cb->ofpacts)->table_id = table;
}

size_t
compile_n_usable(const struct model_service *svc)
{
    size_t n = 0;
    for (size_t i = 0; i < svc->n_backends; i++) {
        n += svc->backends[i].state == MODEL_BACKEND_UP;
    }
    return n;
}

/* ---- Responders, base, mode local. ---- */

void
compile_responders(struct cbuild *cb, uint64_t cookie,
                   const struct mslb_addr *ip, const struct mslb_mac *mac)
{
    static const struct mslb_addr any6 = { .family = AF_INET6 };

    if (ip->family == AF_INET6) {
        /* A solicitation from :: is duplicate address detection: staying
         * silent is the right answer. */
        cb_begin(cb);
        m_proto(cb, ETH_TYPE_IPV6, IPPROTO_ICMPV6);
        m_u8(cb, MFF_ICMPV4_TYPE, 135);
        m_u8(cb, MFF_ICMPV4_CODE, 0);
        m_addr(cb, MFF_ND_TARGET, MFF_ND_TARGET, ip);
        m_addr(cb, MFF_IPV6_SRC, MFF_IPV6_SRC, &any6);
        cb_add(cb, cookie, MSLB_T_CLASSIFY, 301);

        /* Neighbour solicitation -> advertisement (solicited, override);
         * ND_ADVERT then writes our MAC as the target link-layer address,
         * which OVS lets a flow set only once the packet is an
         * advertisement.  (Its option-type change is committed before
         * the address, so the address lands in the new TLL option.) */
        cb_begin(cb);
        m_proto(cb, ETH_TYPE_IPV6, IPPROTO_ICMPV6);
        m_u8(cb, MFF_ICMPV4_TYPE, 135);
        m_u8(cb, MFF_ICMPV4_CODE, 0);
        m_addr(cb, MFF_ND_TARGET, MFF_ND_TARGET, ip);
        a_move_field(cb, MFF_ETH_SRC, MFF_ETH_DST);
        a_set_mac(cb, MFF_ETH_SRC, mac);
        a_move_field(cb, MFF_IPV6_SRC, MFF_IPV6_DST);
        a_set_addr(cb, MFF_IPV6_SRC, MFF_IPV6_SRC, ip);
        a_set_u8(cb, MFF_ICMPV6_TYPE, 136);
        a_set_u32(cb, MFF_ND_RESERVED, 0x60000000);
        a_set_u8(cb, MFF_ND_OPTIONS_TYPE, 2);
        a_resubmit(cb, MSLB_T_ND_ADVERT);
        cb_add(cb, cookie, MSLB_T_CLASSIFY, 300);

        cb_begin(cb);
        m_proto(cb, ETH_TYPE_IPV6, IPPROTO_ICMPV6);
        m_addr(cb, MFF_IPV6_DST, MFF_IPV6_DST, ip);
        m_u8(cb, MFF_ICMPV4_TYPE, 128);
        m_u8(cb, MFF_ICMPV4_CODE, 0);
        a_move_field(cb, MFF_ETH_SRC, MFF_ETH_DST);
        a_set_mac(cb, MFF_ETH_SRC, mac);
        a_move_field(cb, MFF_IPV6_SRC, MFF_IPV6_DST);
        a_set_addr(cb, MFF_IPV6_SRC, MFF_IPV6_SRC, ip);
        a_set_u8(cb, MFF_ICMPV6_TYPE, 129);
        a_output(cb, ofp_to_u16(OFPP_IN_PORT));
        cb_add(cb, cookie, MSLB_T_CLASSIFY, 300);
        return;
    }
    cb_begin(cb);
    m_proto(cb, ETH_TYPE_ARP, 0);
    m_addr(cb, MFF_ARP_TPA, MFF_ARP_TPA, ip);
    m_u16(cb, MFF_ARP_OP, 1);
    a_move_field(cb, MFF_ETH_SRC, MFF_ETH_DST);
    a_set_mac(cb, MFF_ETH_SRC, mac);
    a_set_u16(cb, MFF_ARP_OP, 2);
    a_move_field(cb, MFF_ARP_SHA, MFF_ARP_THA);
    a_move_field(cb, MFF_ARP_SPA, MFF_ARP_TPA);
    a_set_mac(cb, MFF_ARP_SHA, mac);
    a_set_addr(cb, MFF_ARP_SPA, MFF_ARP_SPA, ip);
    a_output(cb, ofp_to_u16(OFPP_IN_PORT));
    cb_add(cb, cookie, MSLB_T_CLASSIFY, 300);

    cb_begin(cb);
    m_proto(cb, ETH_TYPE_IP, IPPROTO_ICMP);
    m_addr(cb, MFF_IPV4_DST, MFF_IPV4_DST, ip);
    m_u8(cb, MFF_ICMPV4_TYPE, 8);
    m_u8(cb, MFF_ICMPV4_CODE, 0);
    a_move_field(cb, MFF_ETH_SRC, MFF_ETH_DST);
    a_set_mac(cb, MFF_ETH_SRC, mac);
    a_move_field(cb, MFF_IPV4_SRC, MFF_IPV4_DST);
    a_set_addr(cb, MFF_IPV4_SRC, MFF_IPV4_SRC, ip);
    a_set_u8(cb, MFF_ICMPV4_TYPE, 0);
    a_output(cb, ofp_to_u16(OFPP_IN_PORT));
    cb_add(cb, cookie, MSLB_T_CLASSIFY, 300);
}

/* A flow with an empty match: 'actions' NORMAL (true) or drop. */
static void
add_default(struct cbuild *cb, uint64_t cookie, int table, bool normal)
{
    cb_begin(cb);
    if (normal) {
        a_output(cb, ofp_to_u16(OFPP_NORMAL));
    }
    cb_add(cb, cookie, table, 0);
}

void
a_controller_tagged(struct cbuild *cb, uint8_t tag0, uint8_t tag1)
{
    struct ofpact_controller *oc;
    uint8_t userdata[2] = { tag0, tag1 };

    oc = ofpact_put_CONTROLLER(&cb->ofpacts);
    oc->max_len = UINT16_MAX;
    oc->reason = OFPR_ACTION;
    oc->meter_id = NX_CTLR_NO_METER;
    ofpbuf_put(&cb->ofpacts, userdata, sizeof userdata);
    oc = cb->ofpacts.header;
    oc->userdata_len = sizeof userdata;
    ofpact_finish_CONTROLLER(&cb->ofpacts, &oc);
}

/* Health probes are sent from the gateway addresses (ofapp/health.c):
 * the servers' answers to them go to the controller, before anything else
 * looks at them (conntrack in mode nat): TCP (tcp and http monitors), UDP
 * (udp), and ICMP echo replies (icmp) and destination unreachable (a udp
 * probe refused). */
static void
add_probe_answers(struct cbuild *cb, uint64_t cookie,
                  const struct mslb_addr *gw)
{
    bool v6 = gw->family == AF_INET6;
    const int icmp_types[] = { v6 ? 129 : 0, v6 ? 1 : 3 };

    for (int i = 0; i < 4; i++) {
        cb_begin(cb);
        m_proto(cb, v6 ? ETH_TYPE_IPV6 : ETH_TYPE_IP,
                i == 0 ? IPPROTO_TCP : i == 1 ? IPPROTO_UDP
                : v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP);
        m_addr(cb, MFF_IPV4_DST, MFF_IPV6_DST, gw);
        if (i >= 2) {
            m_u8(cb, MFF_ICMPV4_TYPE, icmp_types[i - 2]);
        }
        a_controller_tagged(cb, MSLB_HEALTH_USERDATA0, MSLB_HEALTH_USERDATA1);
        cb_add(cb, cookie, MSLB_T_CLASSIFY, 310);
    }
}

/* Backend MAC discovery (ofapp/resolve.c): the answers to the bridge's
 * ARP probes (target address 0.0.0.0) and neighbour solicitations, sent
 * to its MAC, go to the controller. */
void
compile_neighbour_answers(struct cbuild *cb, uint64_t cookie,
                          const struct mslb_mac *to)
{
    struct eth_addr mac;

    memcpy(mac.ea, to->b, 6);
    cb_begin(cb);
    match_set_dl_type(&cb->match, htons(ETH_TYPE_ARP));
    match_set_dl_dst(&cb->match, mac);
    match_set_nw_proto(&cb->match, ARP_OP_REPLY);
    match_set_nw_dst(&cb->match, htonl(0));
    a_controller_tagged(cb, MSLB_NEIGH_USERDATA0, MSLB_NEIGH_USERDATA1);
    cb_add(cb, cookie, MSLB_T_CLASSIFY, 310);

    cb_begin(cb);
    m_proto(cb, ETH_TYPE_IPV6, IPPROTO_ICMPV6);
    match_set_dl_dst(&cb->match, mac);
    m_u8(cb, MFF_ICMPV4_TYPE, 136);
    a_controller_tagged(cb, MSLB_NEIGH_USERDATA0, MSLB_NEIGH_USERDATA1);
    cb_add(cb, cookie, MSLB_T_CLASSIFY, 310);
}

char *
compile_bridge_base(const struct model_bridge *br,
                    const struct compile_ports *ports, struct flowset *out)
{
    uint64_t base = mslb_cookie(MSLB_COOKIE_BRIDGE, 0);
    struct cbuild cb;

    (void) ports;
    cb_init(&cb, out);
    /* Defaults: switch what is not ours; drop what fell out of a session. */
    add_default(&cb, base, MSLB_T_CLASSIFY, true);
    cb_begin(&cb);
    m_proto(&cb, ETH_TYPE_IPV6, IPPROTO_ICMPV6);
    m_u8(&cb, MFF_ICMPV4_TYPE, 136);
    m_u8(&cb, MFF_ICMPV4_CODE, 0);
    a_set_mac(&cb, MFF_ND_TLL, &br->mac);
    a_output(&cb, ofp_to_u16(OFPP_IN_PORT));
    cb_add(&cb, base, MSLB_T_ND_ADVERT, 100);
    add_default(&cb, base, MSLB_T_ND_ADVERT, false);
    add_default(&cb, base, MSLB_T_SLOTS, false);
    add_default(&cb, base, MSLB_T_NAT_REQUEST, false);
    cb_begin(&cb);
    m_ct_state(&cb, CS_TRACKED, CS_INVALID | CS_TRACKED);
    a_goto(&cb, MSLB_T_NAT_OUT);
    cb_add(&cb, base, MSLB_T_NAT_REQUEST, 100);
    add_default(&cb, base, MSLB_T_NAT_OUT, false);
    add_default(&cb, base, MSLB_T_NAT_REPLY, true);
    add_default(&cb, base, MSLB_T_DSR_AFFINITY, false);
    add_default(&cb, base, MSLB_T_DSR_FORWARD, false);
    compile_fragment_base(&cb);
    for (size_t i = 0; i < br->n_gateways; i++) {
        compile_responders(&cb, base, &br->gateways[i], &br->mac);
        add_probe_answers(&cb, base, &br->gateways[i]);
    }
    compile_neighbour_answers(&cb, base, &br->mac);
    return cb_finish(&cb);
}

void
cb_add_syn_entry(struct cbuild *cb, const struct model_service *svc,
                 uint64_t cookie, int priority)
{
    struct ofpact_controller *oc;
    struct ofpbuf actions;
    uint8_t userdata[4];

    if (!svc->proto) {
        match_set_nw_proto(&cb->match, IPPROTO_TCP);
    }
    match_set_tcp_flags_masked(&cb->match, htons(TCP_SYN),
                               htons(TCP_SYN | TCP_ACK));
    if (!svc->mss) {
        cb_add(cb, cookie, MSLB_T_CLASSIFY, priority);
        return;
    }
    /* MSS clamping (docs/mtu.md): the service's SYNs stop at mslbd, which
     * lowers their MSS option and resumes them where they paused, into the
     * service's own actions. */
    ofpbuf_init(&actions, cb->ofpacts.size);
    ofpbuf_put(&actions, cb->ofpacts.data, cb->ofpacts.size);
    ofpbuf_clear(&cb->ofpacts);
    oc = ofpact_put_CONTROLLER(&cb->ofpacts);
    oc->max_len = UINT16_MAX;
    oc->reason = OFPR_ACTION;
    oc->pause = true;
    oc->meter_id = NX_CTLR_NO_METER;
    userdata[0] = MSLB_MSS_USERDATA0;
    userdata[1] = MSLB_MSS_USERDATA1;
    userdata[2] = svc->mss >> 8;
    userdata[3] = svc->mss & 0xff;
    ofpbuf_put(&cb->ofpacts, userdata, sizeof userdata);
    oc = cb->ofpacts.header;
    oc->userdata_len = sizeof userdata;
    ofpact_finish_CONTROLLER(&cb->ofpacts, &oc);
    ofpbuf_put(&cb->ofpacts, actions.data, actions.size);
    ofpbuf_uninit(&actions);
    cb_add(cb, cookie, MSLB_T_CLASSIFY, priority);
}

void
cb_add_service_entry(struct cbuild *cb, const struct model_service *svc,
                     uint64_t cookie, int priority)
{
    cb_add(cb, cookie, MSLB_T_CLASSIFY, priority);
    if (svc->mss) {
        cb_add_syn_entry(cb, svc, cookie, priority + 1);
    }
}

/* The match of a service's requests: protocol, VIP and port, as far as the
 * service names them.  Returns the priority: more specific services win
 * (port, then protocol). */
int
compile_service_match(struct cbuild *cb, const struct model_service *svc)
{
    m_ip_proto(cb, &svc->vip, svc->proto);
    m_addr(cb, MFF_IPV4_DST, MFF_IPV6_DST, &svc->vip);
    if (svc->port) {
        m_u16(cb, MFF_TCP_DST, svc->port);
        return 200;
    }
    return svc->proto ? 195 : 190;
}

static void
compile_local_service(struct cbuild *cb, const struct model_service *svc,
                      const struct model_bridge *br,
                      const struct compile_ports *ports)
{
    int priority;

    compile_responders(cb, mslb_cookie(MSLB_COOKIE_VIP, 0), &svc->vip,
                       &br->mac);
    cb_begin(cb);
    priority = compile_service_match(cb, svc);
    a_set_mac(cb, MFF_ETH_DST, &ports->local_mac);
    a_output(cb, ofp_to_u16(OFPP_LOCAL));
    cb_add_service_entry(cb, svc, mslb_cookie(MSLB_COOKIE_SERVICE, svc->id),
                         priority);
}

/* Some slot of 'sl' names a backend: the service has a usable one. */
static bool
has_owner(const struct model_slots *sl)
{
    for (uint32_t s = 0; s < sl->n_slots; s++) {
        if (sl->owner[s]) {
            return true;
        }
    }
    return false;
}

/* A service with "empty": "reject" and no usable backend: its new TCP
 * sessions' SYNs and its UDP datagrams go to mslbd (ofapp/reject.c),
 * which answers them with an RST or an ICMP port unreachable, above the
 * service's own entries (which would drop them). */
static void
add_rejects(struct cbuild *cb, const struct model_service *svc)
{
    uint64_t cookie = mslb_cookie(MSLB_COOKIE_SERVICE, svc->id);
    static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP };

    for (size_t i = 0; i < ARRAY_SIZE(protos); i++) {
        struct model_service one = *svc;
        int priority;

        if (svc->proto && svc->proto != protos[i]) {
            continue;
        }
        one.proto = protos[i];
        cb_begin(cb);
        priority = compile_service_match(cb, &one);
        if (protos[i] == IPPROTO_TCP) {
            match_set_tcp_flags_masked(&cb->match, htons(TCP_SYN),
                                       htons(TCP_SYN | TCP_ACK));
        }
        a_controller_tagged(cb, MSLB_REJECT_USERDATA0,
                            MSLB_REJECT_USERDATA1);
        cb_add(cb, cookie, MSLB_T_CLASSIFY, priority + 2);
    }
}

char *
compile_service(const struct model_service *svc,
                const struct model_bridge *br,
                const struct compile_ports *ports, struct flowset *out)
{
    struct cbuild cb;

    cb_init(&cb, out);
    switch (svc->mode) {
    case MODEL_MODE_NAT:
        compile_nat_service(&cb, svc, br, ports);
        break;
    case MODEL_MODE_LOCAL:
        compile_local_service(&cb, svc, br, ports);
        break;
    case MODEL_MODE_DR:
    case MODEL_MODE_TUN:
    case MODEL_MODE_L3DSR:
    case MODEL_MODE_MSLB:
    case MODEL_MODE_SLB:
        compile_dsr_service(&cb, svc, br, ports);
        break;
    }
    compile_fragment_flows(&cb, svc);
    if (svc->reject_empty && svc->mode != MODEL_MODE_LOCAL
        && !has_owner(&svc->slots)) {
        add_rejects(&cb, svc);
    }
    return cb_finish(&cb);
}

char *
compile_final_bridge(const struct model *m, const struct model_bridge *br,
                     const struct compile_ports *ports, struct flowset *out)
{
    struct cbuild cb;

    cb_init(&cb, out);
    compile_final_flows(&cb, m, br, ports);
    return cb_finish(&cb);
}

char *
compile_bridge(const struct model *m, const struct model_bridge *br,
               const struct compile_ports *ports, struct flowset *out)
{
    char *error;

    if (br->role == MODEL_ROLE_FINAL) {
        bool slb_host = false;

        error = compile_final_bridge(m, br, ports, out);
        for (size_t i = 0; i < m->n_services && !slb_host; i++) {
            slb_host = m->services[i].mode == MODEL_MODE_SLB
                       && compile_hosted_on(&m->services[i], br->name);
        }
        for (size_t i = 0; slb_host && i < m->n_services; i++) {
            if (m->services[i].mode == MODEL_MODE_SLB) {
                char *e = compile_east_west(&m->services[i], br, ports, out);
                if (!error) {
                    error = e;
                } else {
                    free(e);
                }
            }
        }
        return error;
    }
    error = compile_bridge_base(br, ports, out);
    for (size_t i = 0; i < m->n_services; i++) {
        if (model_service_on_bridge(&m->services[i], br->name)) {
            char *e = compile_service(&m->services[i], br, ports, out);
            if (!error) {
                error = e;
            } else {
                free(e);
            }
        }
    }
    return error;
}
