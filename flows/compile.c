/* The compiler: model -> flows and groups of one bridge, as ovs-ofctl
 * text.  See docs/pipeline.md for the pipeline this emits. */
#include "mslb/compile.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

void
compile_out_init(struct compile_out *out)
{
    memset(out, 0, sizeof *out);
}

void
compile_out_uninit(struct compile_out *out)
{
    for (size_t i = 0; i < out->n_flows; i++) {
        free(out->flows[i]);
    }
    for (size_t i = 0; i < out->n_groups; i++) {
        free(out->groups[i]);
    }
    free(out->flows);
    free(out->groups);
}

static int
compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

void compile_out_sort(struct compile_out *);

/* Sorts 'out' and keeps one of each flow: services share VIP and endpoint
 * flows. */
static void
compile_out_dedupe(struct compile_out *out)
{
    size_t n = 0;

    compile_out_sort(out);
    for (size_t i = 0; i < out->n_flows; i++) {
        if (n && !strcmp(out->flows[n - 1], out->flows[i])) {
            free(out->flows[i]);
        } else {
            out->flows[n++] = out->flows[i];
        }
    }
    out->n_flows = n;
}

void
compile_out_sort(struct compile_out *out)
{
    if (out->n_flows) {
        qsort(out->flows, out->n_flows, sizeof *out->flows, compare_strings);
    }
    if (out->n_groups) {
        qsort(out->groups, out->n_groups, sizeof *out->groups,
              compare_strings);
    }
}

static void
push(char ***v, size_t *n, size_t *allocated, char *s)
{
    if (*n >= *allocated) {
        *allocated = *allocated ? *allocated * 2 : 64;
        *v = realloc(*v, *allocated * sizeof **v);
        if (!*v) {
            abort();
        }
    }
    (*v)[(*n)++] = s;
}

static void __attribute__((format(printf, 5, 6)))
add_flow(struct compile_out *out, uint64_t cookie, int table, int priority,
         const char *fmt, ...)
{
    char *body, *flow;
    va_list args;

    va_start(args, fmt);
    if (vasprintf(&body, fmt, args) < 0) {
        abort();
    }
    va_end(args);
    if (asprintf(&flow, "cookie=%#"PRIx64",table=%d,priority=%d,%s",
                 cookie, table, priority, body) < 0) {
        abort();
    }
    free(body);
    push(&out->flows, &out->n_flows, &out->allocated_flows, flow);
}

/* Formatting helpers: each writes into a caller's buffer. */
struct addr_str { char s[64]; };
struct mac_str { char s[18]; };

static struct addr_str
addr_str(const struct mslb_addr *a)
{
    struct addr_str r;
    mslb_addr_format(a, r.s, sizeof r.s);
    return r;
}

static struct mac_str
mac_str(const struct mslb_mac *m)
{
    struct mac_str r;
    mslb_mac_format(m, r.s, sizeof r.s);
    return r;
}

/* What differs between IPv4 and IPv6 in the flows' text. */
struct family {
    const char *ip, *tcp, *udp;         /* Match keywords. */
    const char *src, *dst;              /* Address fields. */
    const char *nxm_src, *nxm_dst;      /* Address fields in learn(). */
    const char *eth_type;
};

static const struct family fam4 = {
    "ip", "tcp", "udp", "nw_src", "nw_dst",
    "NXM_OF_IP_SRC[]", "NXM_OF_IP_DST[]", "0x800",
};
static const struct family fam6 = {
    "ipv6", "tcp6", "udp6", "ipv6_src", "ipv6_dst",
    "NXM_NX_IPV6_SRC[]", "NXM_NX_IPV6_DST[]", "0x86dd",
};

static const struct family *
family_of(const struct mslb_addr *a)
{
    return a->family == AF_INET6 ? &fam6 : &fam4;
}

/* The match keyword for 'proto' (0: every IP protocol). */
static const char *
proto_match(const struct family *f, uint8_t proto)
{
    return proto == IPPROTO_TCP ? f->tcp : proto == IPPROTO_UDP ? f->udp
           : f->ip;
}

/* An address as ct(nat()) wants it: IPv6 in brackets. */
static struct addr_str
nat_addr(const struct mslb_addr *a)
{
    struct addr_str r;
    char buf[64];

    mslb_addr_format(a, buf, sizeof buf);
    snprintf(r.s, sizeof r.s, a->family == AF_INET6 ? "[%s]" : "%s", buf);
    return r;
}

/* Where a packet for the given side leaves: one-armed bridges send it back
 * out of the port it came in by. */
static void
output_action(const struct compile_ports *ports, uint32_t port, char *buf,
              size_t size)
{
    if (ports->frontend == ports->backend) {
        snprintf(buf, size, "IN_PORT");
    } else {
        snprintf(buf, size, "output:%"PRIu32, port);
    }
}

/* ARP replies and ICMP echo replies for an address the bridge owns. */
static void
add_responders(struct compile_out *out, uint64_t cookie,
               const struct mslb_addr *ip, const struct mslb_mac *mac)
{
    struct addr_str as = addr_str(ip);
    struct mac_str ms = mac_str(mac);

    if (ip->family == AF_INET6) {
        /* A solicitation from :: is duplicate address detection: staying
         * silent is the right answer. */
        add_flow(out, cookie, MSLB_T_CLASSIFY, 301,
                 "icmp6,icmp_type=135,icmp_code=0,nd_target=%s,ipv6_src=::,"
                 "actions=drop", as.s);
        /* Neighbour solicitation -> advertisement (solicited, override);
         * ND_ADVERT then writes our MAC as the target link-layer address,
         * which OVS lets a flow set only once the packet is an
         * advertisement.  (Its option-type change is committed before
         * the address, so the address lands in the new TLL option.) */
        add_flow(out, cookie, MSLB_T_CLASSIFY, 300,
                 "icmp6,icmp_type=135,icmp_code=0,nd_target=%s,"
                 "actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],"
                 "set_field:%s->eth_src,"
                 "move:NXM_NX_IPV6_SRC[]->NXM_NX_IPV6_DST[],"
                 "set_field:%s->ipv6_src,set_field:136->icmpv6_type,"
                 "set_field:0x60000000->nd_reserved,"
                 "set_field:2->nd_options_type,resubmit(,%d)",
                 as.s, ms.s, as.s, MSLB_T_ND_ADVERT);
        add_flow(out, cookie, MSLB_T_CLASSIFY, 300,
                 "icmp6,ipv6_dst=%s,icmp_type=128,icmp_code=0,"
                 "actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],"
                 "set_field:%s->eth_src,"
                 "move:NXM_NX_IPV6_SRC[]->NXM_NX_IPV6_DST[],"
                 "set_field:%s->ipv6_src,set_field:129->icmpv6_type,"
                 "IN_PORT", as.s, ms.s, as.s);
        return;
    }
    add_flow(out, cookie, MSLB_T_CLASSIFY, 300,
             "arp,arp_tpa=%s,arp_op=1,"
             "actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],"
             "set_field:%s->eth_src,set_field:2->arp_op,"
             "move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],"
             "move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],"
             "set_field:%s->arp_sha,set_field:%s->arp_spa,IN_PORT",
             as.s, ms.s, ms.s, as.s);
    add_flow(out, cookie, MSLB_T_CLASSIFY, 300,
             "icmp,nw_dst=%s,icmp_type=8,icmp_code=0,"
             "actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],"
             "set_field:%s->eth_src,"
             "move:NXM_OF_IP_SRC[]->NXM_OF_IP_DST[],"
             "set_field:%s->ip_src,set_field:0->icmp_type,IN_PORT",
             as.s, ms.s, as.s);
}

static uint32_t
backend_key_hash(const struct model_backend *be, uint32_t basis)
{
    uint8_t key[18];
    size_t n = be->ip.family == AF_INET ? 4 : 16;

    memcpy(key, be->ip.family == AF_INET ? (const void *) &be->ip.v4
           : (const void *) &be->ip.v6, n);
    key[n] = be->port >> 8;
    key[n + 1] = be->port & 0xff;
    return mslb_hash_bytes(key, n + 2, basis);
}

/* A (slot, backend) pair in one 64-bit key: ascending keys are descending
 * scores, ties broken by slot then backend index. */
static uint64_t
pair_key(uint32_t score, uint32_t slot, uint32_t backend)
{
    return ((uint64_t) ~score << 32) | ((uint64_t) slot << 16) | backend;
}

/* LSD radix sort of 'n' keys, 8 bits a pass ('tmp' holds n keys). */
static void
radix_sort(uint64_t *keys, uint64_t *tmp, size_t n)
{
    for (int shift = 0; shift < 64; shift += 8) {
        size_t count[257] = { 0 };

        for (size_t i = 0; i < n; i++) {
            count[((keys[i] >> shift) & 0xff) + 1]++;
        }
        if (count[1] == n) {
            continue;           /* This byte is 0 everywhere. */
        }
        for (int d = 0; d < 256; d++) {
            count[d + 1] += count[d];
        }
        for (size_t i = 0; i < n; i++) {
            tmp[count[(keys[i] >> shift) & 0xff]++] = keys[i];
        }
        memcpy(keys, tmp, n * sizeof *keys);
    }
}

struct quota {
    uint32_t backend;
    uint32_t count;
    double remainder;
    uint32_t tiebreak;
};

static int
compare_remainders(const void *a_, const void *b_)
{
    const struct quota *a = a_, *b = b_;

    if (a->remainder != b->remainder) {
        return a->remainder > b->remainder ? -1 : 1;
    }
    return a->tiebreak < b->tiebreak ? -1 : a->tiebreak > b->tiebreak;
}

size_t
compile_assign_slots(const struct model_backend *backends, size_t n_backends,
                     uint32_t *slots, size_t n_slots)
{
    struct quota *q = calloc(n_backends + 1, sizeof *q);
    uint64_t *pairs, *tmp;
    uint64_t total = 0;
    size_t n = 0, given = 0, n_pairs = 0, filled = 0;
    uint32_t *count;

    for (size_t i = 0; i < n_backends; i++) {
        if (backends[i].state == MODEL_BACKEND_UP) {
            q[n].backend = i;
            q[n].tiebreak = backend_key_hash(&backends[i], 0);
            total += backends[i].weight;
            n++;
        }
    }
    if (!n || n > n_slots) {
        free(q);
        return 0;
    }

    /* Quotas: largest remainder (Hamilton), at least one slot each. */
    for (size_t i = 0; i < n; i++) {
        double exact = (double) n_slots * backends[q[i].backend].weight
                       / total;
        q[i].count = exact;
        q[i].remainder = exact - q[i].count;
        if (!q[i].count) {
            q[i].count = 1;
            q[i].remainder = -1.0;
        }
        given += q[i].count;
    }
    qsort(q, n, sizeof *q, compare_remainders);
    for (size_t i = 0; given < n_slots; i = (i + 1) % n) {
        q[i].count++;
        given++;
    }
    for (size_t i = n; given > n_slots; ) {
        i = i ? i - 1 : n - 1;
        if (q[i].count > 1) {
            q[i].count--;
            given--;
        }
    }

    /* Rendezvous: every (slot, backend) pair gets a score; the best pairs
     * win while the backend has quota left.  A backend's scores do not
     * depend on the others, so the set changing moves few slots. */
    pairs = malloc(n_slots * n * sizeof *pairs);
    tmp = malloc(n_slots * n * sizeof *tmp);
    count = calloc(n_backends, sizeof *count);
    for (size_t s = 0; s < n_slots; s++) {
        for (size_t i = 0; i < n; i++) {
            const struct model_backend *be = &backends[q[i].backend];
            pairs[n_pairs++] = pair_key(
                backend_key_hash(be, (uint32_t) s * 2654435761u), s,
                q[i].backend);
        }
    }
    radix_sort(pairs, tmp, n_pairs);
    free(tmp);
    for (size_t s = 0; s < n_slots; s++) {
        slots[s] = UINT32_MAX;
    }
    for (size_t i = 0; i < n; i++) {
        count[q[i].backend] = q[i].count;
    }
    for (size_t i = 0; i < n_pairs && filled < n_slots; i++) {
        uint32_t slot = (pairs[i] >> 16) & 0xffff;
        uint32_t backend = pairs[i] & 0xffff;
        if (slots[slot] == UINT32_MAX && count[backend]) {
            slots[slot] = backend;
            count[backend]--;
            filled++;
        }
    }
    free(pairs);
    free(count);
    free(q);
    return n_slots;
}

static size_t
n_usable(const struct model_service *svc)
{
    size_t n = 0;
    for (size_t i = 0; i < svc->n_backends; i++) {
        n += svc->backends[i].state == MODEL_BACKEND_UP;
    }
    return n;
}

size_t
compile_group_buckets(const struct model_service *svc, uint32_t *buckets,
                      bool *weighted)
{
    size_t n = 0;

    *weighted = n_usable(svc) > MSLB_GROUP_SLOTS;
    if (!*weighted) {
        return compile_assign_slots(svc->backends, svc->n_backends, buckets,
                                    MSLB_GROUP_SLOTS);
    }
    for (size_t i = 0; i < svc->n_backends; i++) {
        if (svc->backends[i].state == MODEL_BACKEND_UP) {
            buckets[n++] = i;
        }
    }
    return n;
}

/* Appends the service's select group: 'selection' (may be empty) after its
 * type, then one bucket for each of compile_group_buckets()'s entries,
 * whose actions 'bucket' writes. */
static void
add_select_group(const struct model_service *svc, const char *selection,
                 void (*bucket)(FILE *, const struct model_backend *,
                                const void *aux),
                 const void *aux, struct compile_out *out)
{
    uint32_t buckets[MODEL_MAX_BACKENDS + MSLB_GROUP_SLOTS];
    size_t n;
    bool weighted;
    char *group;
    size_t len;
    FILE *f = open_memstream(&group, &len);

    fprintf(f, "group_id=%"PRIu32",type=select%s", MSLB_GROUP_ID(svc->id),
            selection);
    n = compile_group_buckets(svc, buckets, &weighted);
    for (size_t i = 0; i < n; i++) {
        const struct model_backend *be = &svc->backends[buckets[i]];
        fprintf(f, ",bucket=weight:%"PRIu32",actions=",
                weighted ? be->weight : 1);
        bucket(f, be, aux);
    }
    fclose(f);
    push(&out->groups, &out->n_groups, &out->allocated_groups, group);
}

/* NAT: commit the session, translated to the backend. */
static void
nat_bucket(FILE *f, const struct model_backend *be, const void *br_)
{
    const struct model_bridge *br = br_;

    fprintf(f, "ct(commit,zone=%u,table=%d,nat(dst=%s:%u),exec(move:"
            "NXM_OF_ETH_SRC[]->NXM_NX_CT_LABEL[0..47]))", br->ct_zone,
            MSLB_T_NAT_OUT, nat_addr(&be->ip).s, be->port);
}

static void
add_nat_group(const struct model_service *svc, const struct model_bridge *br,
              const struct compile_ports *ports, struct compile_out *out)
{
    /* With OpenFlow 1.5: dp_hash over the 5-tuple (algorithm 0, basis 0).
     * Conntrack pins each session, so the hash only places new ones. */
    add_select_group(svc, ports->of15 ? ",selection_method=dp_hash" : "",
                     nat_bucket, br, out);
}

/* The flows of one backend endpoint (protocol, address, port) on a bridge:
 * replies from it go to conntrack, translated requests to it get its MAC.
 * Services sharing an endpoint emit identical flows, which the flow set
 * counts once. */
static void
add_endpoint(const struct model_backend *be, uint8_t proto,
             const struct model_bridge *br, const char *back,
             struct compile_out *out)
{
    uint64_t cookie = mslb_cookie(MSLB_COOKIE_BACKEND, 0);
    const struct family *f = family_of(&be->ip);
    const char *p = proto_match(f, proto);
    struct addr_str ip = addr_str(&be->ip);

    add_flow(out, cookie, MSLB_T_CLASSIFY, 200,
             "%s,%s=%s,tp_src=%u,actions=ct(zone=%u,table=%d,nat)",
             p, f->src, ip.s, be->port, br->ct_zone, MSLB_T_NAT_REPLY);
    add_flow(out, cookie, MSLB_T_NAT_OUT, 100,
             "%s,%s=%s,tp_dst=%u,actions=set_field:%s->eth_src,"
             "set_field:%s->eth_dst,%s",
             p, f->dst, ip.s, be->port, mac_str(&br->mac).s,
             mac_str(&be->mac).s, back);
}

static void
compile_nat_service(const struct model_service *svc,
                    const struct model_bridge *br,
                    const struct compile_ports *ports,
                    struct compile_out *out)
{
    uint64_t cookie = mslb_cookie(MSLB_COOKIE_SERVICE, svc->id);
    const struct family *fam = family_of(&svc->vip);
    const char *proto = proto_match(fam, svc->proto);
    struct addr_str vip = addr_str(&svc->vip);
    struct mac_str mac = mac_str(&br->mac);
    char front[32], back[32];

    output_action(ports, ports->frontend, front, sizeof front);
    output_action(ports, ports->backend, back, sizeof back);
    add_responders(out, mslb_cookie(MSLB_COOKIE_VIP, 0), &svc->vip,
                   &br->mac);
    add_flow(out, cookie, MSLB_T_CLASSIFY, 200,
             "%s,%s=%s,tp_dst=%u,actions=ct(zone=%u,table=%d,nat)",
             proto, fam->dst, vip.s, svc->port, br->ct_zone,
             MSLB_T_NAT_REQUEST);
    if (n_usable(svc)) {
        add_nat_group(svc, br, ports, out);
        add_flow(out, cookie, MSLB_T_NAT_REQUEST, 200,
                 "ct_state=+new+trk,%s,%s=%s,tp_dst=%u,"
                 "actions=group:%"PRIu32, proto, fam->dst, vip.s, svc->port,
                 MSLB_GROUP_ID(svc->id));
    } else {
        add_flow(out, cookie, MSLB_T_NAT_REQUEST, 200,
                 "ct_state=+new+trk,%s,%s=%s,tp_dst=%u,actions=drop",
                 proto, fam->dst, vip.s, svc->port);
    }
    add_flow(out, cookie, MSLB_T_NAT_REPLY, 100,
             "ct_state=+rpl+trk,%s,%s=%s,tp_src=%u,"
             "actions=move:NXM_NX_CT_LABEL[0..47]->NXM_OF_ETH_DST[],"
             "set_field:%s->eth_src,%s",
             proto, fam->src, vip.s, svc->port, mac.s, front);
    for (size_t i = 0; i < svc->n_backends; i++) {
        if (svc->backends[i].state != MODEL_BACKEND_DOWN) {
            add_endpoint(&svc->backends[i], svc->proto, br, back, out);
        }
    }
}


/* The match of a service's requests: protocol, VIP and port, as far as the
 * service names them.  More specific services win: port, then protocol. */
static void
service_match(const struct model_service *svc, char *buf, size_t size,
              int *priority)
{
    const struct family *f = family_of(&svc->vip);
    struct addr_str vip = addr_str(&svc->vip);
    const char *p = proto_match(f, svc->proto);

    if (svc->port) {
        snprintf(buf, size, "%s,%s=%s,tp_dst=%u", p, f->dst, vip.s,
                 svc->port);
        *priority = 200;
    } else {
        snprintf(buf, size, "%s,%s=%s", p, f->dst, vip.s);
        *priority = svc->proto ? 195 : 190;
    }
}

/* What identifies a session in DSR_AFFINITY: the client address alone
 * (source-IP persistence), or the 5-tuple (3-tuple for other protocols). */
static void
learn_key(const struct model_service *svc, char *buf, size_t size)
{
    const struct family *f = family_of(&svc->vip);

    if (svc->persistence) {
        snprintf(buf, size, "eth_type=%s,%s", f->eth_type, f->nxm_src);
    } else if (svc->proto == IPPROTO_TCP) {
        snprintf(buf, size, "eth_type=%s,nw_proto=6,%s,%s,NXM_OF_TCP_SRC[],"
                 "NXM_OF_TCP_DST[]", f->eth_type, f->nxm_src, f->nxm_dst);
    } else if (svc->proto == IPPROTO_UDP) {
        snprintf(buf, size, "eth_type=%s,nw_proto=17,%s,%s,NXM_OF_UDP_SRC[],"
                 "NXM_OF_UDP_DST[]", f->eth_type, f->nxm_src, f->nxm_dst);
    } else {
        snprintf(buf, size, "eth_type=%s,%s,%s,NXM_OF_IP_PROTO[]",
                 f->eth_type, f->nxm_src, f->nxm_dst);
    }
}

/* The mode's rewrite and output towards backend 'be'. */
static void
dsr_forward(const struct model_service *svc, const struct model_backend *be,
            const struct model_bridge *br, const struct compile_ports *ports,
            char *buf, size_t size)
{
    struct mac_str rmac = mac_str(&be->mac);
    char back[32];

    output_action(ports, ports->backend, back, sizeof back);
    switch (svc->mode) {
    case MODEL_MODE_DR:
        /* The source MAC too: a one-armed balancer on the clients' own
         * segment would otherwise teach the switch that the client lives
         * behind the balancer, and the servers' direct replies would come
         * back to it. */
        snprintf(buf, size, "set_field:%s->eth_src,set_field:%s->eth_dst,%s",
                 mac_str(&br->mac).s, rmac.s, back);
        break;
    case MODEL_MODE_L3DSR:
        snprintf(buf, size, "set_field:%s->eth_src,set_field:%s->eth_dst,"
                 "set_field:%s->%s,set_field:%u->ip_dscp,%s",
                 mac_str(&br->mac).s, rmac.s, addr_str(&be->ip).s,
                 family_of(&be->ip)->dst, svc->dscp, back);
        break;
    case MODEL_MODE_TUN:
    case MODEL_MODE_MSLB: {
        /* The inner source MAC becomes the balancer's, for the reason
         * given for dr: the final stage's switch must not learn the
         * client's MAC behind its tunnel port. */
        const struct mslb_addr *dst = be->host.family ? &be->host : &be->ip;
        snprintf(buf, size, "set_field:%s->eth_src,set_field:%s->eth_dst,"
                 "set_field:%s->%s,set_field:%"PRIu32"->tun_id,"
                 "output:%"PRIu32, mac_str(&br->mac).s, rmac.s,
                 addr_str(dst).s,
                 dst->family == AF_INET6 ? "tun_ipv6_dst" : "tun_dst",
                 svc->id, ports->tunnel[svc->tunnel]);
        break;
    }
    case MODEL_MODE_NAT:
    case MODEL_MODE_LOCAL:
        buf[0] = '\0';
        break;
    }
}

/* DSR: name the backend in reg1 and learn the session. */
static void
dsr_bucket(FILE *f, const struct model_backend *be, const void *aux)
{
    (void) aux;
    fprintf(f, "set_field:%"PRIu32"->reg1,resubmit(,%d)", be->key,
            MSLB_T_DSR_LEARN);
}

static void
compile_dsr_service(const struct model_service *svc,
                    const struct model_bridge *br,
                    const struct compile_ports *ports,
                    struct compile_out *out)
{
    uint64_t cookie = mslb_cookie(MSLB_COOKIE_SERVICE, svc->id);
    uint32_t group_id = MSLB_GROUP_ID(svc->id);
    const struct family *fam = family_of(&svc->vip);
    bool v6 = svc->vip.family == AF_INET6;
    char match[160], key[200], fwd[320];
    int priority;

    service_match(svc, match, sizeof match, &priority);
    learn_key(svc, key, sizeof key);
    add_responders(out, mslb_cookie(MSLB_COOKIE_VIP, 0), &svc->vip,
                   &br->mac);
    add_flow(out, cookie, MSLB_T_CLASSIFY, priority,
             "%s,actions=set_field:%"PRIu32"->reg0,set_field:0->reg1,"
             "resubmit(,%d),resubmit(,%d)", match, svc->id,
             MSLB_T_DSR_AFFINITY, MSLB_T_DSR_FORWARD);

    /* A miss in DSR_AFFINITY: choose (the bucket forwards; the resubmit
     * to DSR_FORWARD that follows in CLASSIFY then finds reg1 = 0). */
    if (n_usable(svc)) {
        char selection[96] = "";

        if (ports->of15) {
            /* Hash the session key in the slow path, where every DSR
             * session goes anyway to be learned: unlike dp_hash, which
             * uses the NIC's (or the software's) receive hash once a
             * datapath flow exists, every packet of a session hashes the
             * same before its learned entry becomes visible. */
            snprintf(selection, sizeof selection,
                     ",selection_method=hash,fields(%s%s%s)",
                     v6 ? "ipv6_src" : "ip_src",
                     svc->persistence ? "" : v6 ? ",ipv6_dst," : ",ip_dst,",
                     svc->persistence ? ""
                     : svc->proto == IPPROTO_TCP ? "tcp_src,tcp_dst"
                     : svc->proto == IPPROTO_UDP ? "udp_src,udp_dst"
                     : "nw_proto");
        }
        add_select_group(svc, selection, dsr_bucket, NULL, out);
        add_flow(out, cookie, MSLB_T_DSR_AFFINITY, 1,
                 "reg0=%"PRIu32",reg1=0,actions=group:%"PRIu32, svc->id,
                 group_id);
    } else {
        add_flow(out, cookie, MSLB_T_DSR_AFFINITY, 1,
                 "reg0=%"PRIu32",reg1=0,actions=drop", svc->id);
    }

    /* Look the session up again before learning: a packet can still take
     * the group's cached datapath flow after its entry was learned, and
     * after a group change the revalidator would then re-learn the session
     * to the new bucket's backend.  The lookup puts the entry's backend
     * back in reg1 (and cannot recurse: the miss flow wants reg1 = 0). */
    add_flow(out, cookie, MSLB_T_DSR_LEARN, 100,
             "reg0=%"PRIu32",%s,actions=resubmit(,%d),learn(table=%d,"
             "idle_timeout=%"PRIu32",priority=100,cookie=%#"PRIx64","
             "NXM_NX_REG0[],%s,load:NXM_NX_REG1[]->NXM_NX_REG1[]),"
             "resubmit(,%d)",
             svc->id, proto_match(fam, svc->proto), MSLB_T_DSR_AFFINITY,
             MSLB_T_DSR_AFFINITY,
             svc->persistence ? svc->persistence : svc->idle_timeout,
             (uint64_t) (MSLB_LEARNED_COOKIE | svc->id), key,
             MSLB_T_DSR_FORWARD);

    /* Drained backends keep forwarding for the sessions they have. */
    for (size_t i = 0; i < svc->n_backends; i++) {
        const struct model_backend *be = &svc->backends[i];
        if (be->state == MODEL_BACKEND_DOWN) {
            continue;
        }
        dsr_forward(svc, be, br, ports, fwd, sizeof fwd);
        add_flow(out, cookie, MSLB_T_DSR_FORWARD, 100,
                 "%s,reg0=%"PRIu32",reg1=%"PRIu32",actions=%s", fam->ip,
                 svc->id, be->key, fwd);
    }
}

static void
compile_local_service(const struct model_service *svc,
                      const struct model_bridge *br,
                      const struct compile_ports *ports,
                      struct compile_out *out)
{
    char match[128];
    int priority;

    service_match(svc, match, sizeof match, &priority);
    add_responders(out, mslb_cookie(MSLB_COOKIE_VIP, 0), &svc->vip,
                   &br->mac);
    add_flow(out, mslb_cookie(MSLB_COOKIE_SERVICE, svc->id), MSLB_T_CLASSIFY,
             priority, "%s,actions=set_field:%s->eth_dst,LOCAL", match,
             mac_str(&ports->local_mac).s);
}

void
compile_service(const struct model_service *svc,
                const struct model_bridge *br,
                const struct compile_ports *ports, struct compile_out *out)
{
    switch (svc->mode) {
    case MODEL_MODE_NAT:
        compile_nat_service(svc, br, ports, out);
        break;
    case MODEL_MODE_LOCAL:
        compile_local_service(svc, br, ports, out);
        break;
    case MODEL_MODE_DR:
    case MODEL_MODE_TUN:
    case MODEL_MODE_L3DSR:
    case MODEL_MODE_MSLB:
        compile_dsr_service(svc, br, ports, out);
        break;
    }
}

void
compile_final_bridge(const struct model *m, const struct model_bridge *br,
                     const struct compile_ports *ports,
                     struct compile_out *out)
{
    uint64_t base = mslb_cookie(MSLB_COOKIE_BRIDGE, 0);

    add_flow(out, base, MSLB_T_CLASSIFY, 0, "actions=NORMAL");
    for (int t = 0; t < MODEL_N_TUNNELS; t++) {
        if (ports->tunnel[t]) {
            /* Tunnelled packets of no known service go nowhere. */
            add_flow(out, base, MSLB_T_CLASSIFY, 100,
                     "in_port=%"PRIu32",actions=drop", ports->tunnel[t]);
        }
    }
    for (size_t i = 0; i < m->n_services; i++) {
        const struct model_service *svc = &m->services[i];
        uint64_t cookie = mslb_cookie(MSLB_COOKIE_SERVICE, svc->id);

        for (size_t k = 0; k < svc->n_backends; k++) {
            const struct model_backend *be = &svc->backends[k];

            if (!be->host_bridge || strcmp(be->host_bridge, br->name)) {
                continue;
            }
            if (svc->mode == MODEL_MODE_MSLB && ports->tunnel[svc->tunnel]) {
                /* The inner packet is the client's, untouched, with the
                 * server's MAC: switch it to the server.  Its source MAC
                 * becomes this bridge's own first: NORMAL learns it on the
                 * tunnel port and may flood the frame to the network, and
                 * neither may teach anyone that the first stage's MAC lives
                 * behind this host. */
                add_flow(out, cookie, MSLB_T_CLASSIFY, 200,
                         "in_port=%"PRIu32",tun_id=%"PRIu32",actions="
                         "set_field:%s->eth_src,NORMAL",
                         ports->tunnel[svc->tunnel], svc->id,
                         mac_str(&ports->local_mac).s);
            } else if (svc->mode == MODEL_MODE_L3DSR) {
                const struct family *f = family_of(&be->ip);
                add_flow(out, mslb_cookie(MSLB_COOKIE_VIP, 0),
                         MSLB_T_CLASSIFY, 200,
                         "%s,%s=%s,ip_dscp=%u,actions=set_field:%s->%s,"
                         "set_field:0->ip_dscp,NORMAL", f->ip, f->dst,
                         addr_str(&be->ip).s, svc->dscp,
                         addr_str(&svc->vip).s, f->dst);
            }
        }
    }
    compile_out_dedupe(out);
}

void
compile_bridge_base(const struct model_bridge *br,
                    const struct compile_ports *ports,
                    struct compile_out *out)
{
    uint64_t base = mslb_cookie(MSLB_COOKIE_BRIDGE, 0);

    (void) ports;
    /* Defaults: switch what is not ours; drop what fell out of a session. */
    add_flow(out, base, MSLB_T_CLASSIFY, 0, "actions=NORMAL");
    add_flow(out, base, MSLB_T_ND_ADVERT, 100,
             "icmp6,icmp_type=136,icmp_code=0,actions=set_field:%s->nd_tll,"
             "IN_PORT", mac_str(&br->mac).s);
    add_flow(out, base, MSLB_T_ND_ADVERT, 0, "actions=drop");
    add_flow(out, base, MSLB_T_NAT_REQUEST, 0, "actions=drop");
    add_flow(out, base, MSLB_T_NAT_REQUEST, 100,
             "ct_state=-inv+trk,actions=goto_table:%d", MSLB_T_NAT_OUT);
    add_flow(out, base, MSLB_T_NAT_OUT, 0, "actions=drop");
    add_flow(out, base, MSLB_T_NAT_REPLY, 0, "actions=NORMAL");
    add_flow(out, base, MSLB_T_DSR_AFFINITY, 0, "actions=drop");
    add_flow(out, base, MSLB_T_DSR_LEARN, 0, "actions=drop");
    add_flow(out, base, MSLB_T_DSR_FORWARD, 0, "actions=drop");
    for (size_t i = 0; i < br->n_gateways; i++) {
        add_responders(out, base, &br->gateways[i], &br->mac);
    }
}

void
compile_bridge(const struct model *m, const struct model_bridge *br,
               const struct compile_ports *ports, struct compile_out *out)
{
    if (br->role == MODEL_ROLE_FINAL) {
        compile_final_bridge(m, br, ports, out);
        return;
    }
    compile_bridge_base(br, ports, out);
    for (size_t i = 0; i < m->n_services; i++) {
        if (model_service_on_bridge(&m->services[i], br->name)) {
            compile_service(&m->services[i], br, ports, out);
        }
    }

    compile_out_dedupe(out);
}
