/* Backend MAC discovery: see resolve.h and docs/health.md. */
#include <config.h>
#include "resolve.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "csum.h"
#include "flow.h"
#include "hash.h"
#include "openvswitch/hmap.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofp-packet.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/shash.h"
#include "openvswitch/vlog.h"
#include "packets.h"
#include "random.h"
#include "sset.h"
#include "util.h"

#include "mslb/compile.h"
#include "mslb/modeldb.h"
#include "mslb/pipeline.h"
#include "bridges.h"
#include "lbengine.h"
#include "ofsession.h"

VLOG_DEFINE_THIS_MODULE(resolve);

#define TICK_MS 100             /* How often the timer looks. */
#define RETRY_MIN_MS 1000       /* Unanswered: 1, 2, 4 s... */
#define RETRY_MAX_MS 5000
#define REFRESH_MS 30000        /* Known: asked again (+- 20%). */
#define KICK_MIN_MS 500         /* At most one kick per address per. */
#define ANSWER_WINDOW_MS 5000   /* Answers accepted this long after a
                                 * request. */

/* One address to resolve. */
struct entry {
    struct hmap_node node;      /* In 'entries', by address. */
    struct mslb_addr ip;
    struct sset services;       /* Services with a backend there and no
                                 * configured MAC. */
    bool known;
    struct mslb_mac mac;
    long long int answered_ms;  /* Monotonic, of the last answer. */
    long long int asked_ms;     /* Of the last request, 0: never. */
    long long int next_ms;      /* Next request. */
    int retry_ms;
};

struct resolver {
    uv_timer_t *timer;
    const struct mdb *mdb;
    struct rtfacts *rt;
    struct bridges *bridges;
    const struct lbengine *engine;
    void (*changed)(void *aux);
    void *aux;
    struct hmap entries;
    struct shash service_addrs; /* Service name -> struct entry_list. */
    struct resolver_counters counters;
    uint64_t seq;               /* Moves when a MAC is learned. */
};

/* The addresses a service asks for. */
struct entry_list {
    struct mslb_addr *ips;
    size_t n;
};

static long long int
now_ms(void)
{
    return uv_hrtime() / 1000000;
}

static uint32_t
addr_hash(const struct mslb_addr *a)
{
    return hash_bytes(&a->v6, a->family == AF_INET ? 4 : 16, a->family);
}

static struct entry *
find_entry(const struct resolver *r, const struct mslb_addr *ip)
{
    struct entry *e;

    HMAP_FOR_EACH_WITH_HASH (e, node, addr_hash(ip), &r->entries) {
        if (mslb_addr_equal(&e->ip, ip)) {
            return e;
        }
    }
    return NULL;
}

/* ---- Requests. ---- */

static struct eth_addr
eth_of(const struct mslb_mac *m)
{
    struct eth_addr ea;
    memcpy(ea.ea, m->b, 6);
    return ea;
}

/* An ARP probe for 'ip' from 'mac': broadcast, sender address 0.0.0.0. */
static size_t
build_arp(uint8_t *f, const struct mslb_mac *mac, const struct mslb_addr *ip)
{
    memset(f, 0, 42);
    memset(f, 0xff, 6);
    memcpy(f + 6, mac->b, 6);
    f[12] = 0x08; f[13] = 0x06;
    f[14] = 0x00; f[15] = 0x01;         /* Ethernet. */
    f[16] = 0x08; f[17] = 0x00;         /* IPv4. */
    f[18] = 6; f[19] = 4;
    f[20] = 0x00; f[21] = 0x01;         /* Request. */
    memcpy(f + 22, mac->b, 6);          /* Sender MAC; sender IP 0. */
    memcpy(f + 38, &ip->v4, 4);         /* Target IP. */
    return 42;
}

/* A neighbour solicitation for 'ip' from the link-local address of
 * 'mac', to its solicited-node group, with the source link-layer
 * option. */
static size_t
build_ns(uint8_t *f, const struct mslb_mac *mac, const struct mslb_addr *ip)
{
    struct in6_addr src, dst;
    struct eth_addr edst;
    uint8_t *ip6 = f + 14, *icmp = ip6 + 40;
    uint32_t sum;
    size_t len = 32;

    in6_generate_lla(eth_of(mac), &src);
    in6_addr_solicited_node(&dst, &ip->v6);
    ipv6_multicast_to_ethernet(&edst, &dst);
    memset(f, 0, 14 + 40 + len);
    memcpy(f, edst.ea, 6);
    memcpy(f + 6, mac->b, 6);
    f[12] = 0x86; f[13] = 0xdd;
    ip6[0] = 0x60;
    ip6[4] = len >> 8; ip6[5] = len;
    ip6[6] = IPPROTO_ICMPV6;
    ip6[7] = 255;
    memcpy(ip6 + 8, &src, 16);
    memcpy(ip6 + 24, &dst, 16);
    icmp[0] = 135;                      /* Neighbour solicitation. */
    memcpy(icmp + 8, &ip->v6, 16);
    icmp[24] = 1;                       /* Source link-layer address. */
    icmp[25] = 1;
    memcpy(icmp + 26, mac->b, 6);
    /* The pseudo-header: addresses, length, next header. */
    sum = csum_continue(0, ip6 + 8, 32);
    sum = csum_add32(sum, htonl(len));
    sum = csum_add32(sum, htonl(IPPROTO_ICMPV6));
    sum = csum_continue(sum, icmp, len);
    memcpy(icmp + 2, &(ovs_be16) { csum_finish(sum) }, 2);
    return 14 + 40 + len;
}

/* Mode mslb: asks for 'e' from the final stage on the host of a backend of
 * 'svc' there, from MSLB_RESOLVE_MAC, switched (NORMAL) to the host's
 * ports.  Returns false if that bridge is not connected. */
static bool
ask_final(struct resolver *r, const struct model_service *svc,
          const struct entry *e)
{
    static const struct mslb_mac resolve_mac = { MSLB_RESOLVE_MAC };

    for (size_t k = 0; k < svc->n_backends; k++) {
        const struct model_backend *be = &svc->backends[k];
        struct bridge *b;
        struct ofsession *s;

        if (!be->host_bridge || !mslb_addr_equal(&be->ip, &e->ip)
            || !(b = bridges_find(r->bridges, be->host_bridge))
            || !(s = bridge_session(b))) {
            continue;
        }
        uint64_t stub[64 / 8];
        struct ofpbuf ofpacts = OFPBUF_STUB_INITIALIZER(stub);
        uint8_t frame[128];
        size_t len = e->ip.family == AF_INET
                     ? build_arp(frame, &resolve_mac, &e->ip)
                     : build_ns(frame, &resolve_mac, &e->ip);

        ofpact_put_OUTPUT(&ofpacts)->port = OFPP_NORMAL;
        ofsession_packet_out(s, OFPP_CONTROLLER, frame, len, ofpacts.data,
                             ofpacts.size);
        ofpbuf_uninit(&ofpacts);
        r->counters.requests++;
        return true;
    }
    return false;
}

/* Asks for 'e' from the first connected first-stage bridge of a service
 * that uses it (mode mslb: from the final stage on its host).  Returns
 * false if none could. */
static bool
ask(struct resolver *r, struct entry *e)
{
    const char *name;

    SSET_FOR_EACH (name, &e->services) {
        const struct model_service *svc = mdb_find_service(r->mdb, name);

        if (svc && model_mode_via_host(svc->mode)) {
            if (ask_final(r, svc, e)) {
                return true;
            }
            continue;
        }
        for (size_t i = 0; svc && i < svc->n_bridges; i++) {
            const struct model_bridge *br
                = mdb_find_bridge(r->mdb, svc->bridges[i]);
            struct bridge *b = bridges_find(r->bridges, svc->bridges[i]);
            struct ofsession *s = b ? bridge_session(b) : NULL;
            struct compile_ports ports;
            uint64_t stub[64 / 8];
            struct ofpbuf ofpacts = OFPBUF_STUB_INITIALIZER(stub);
            uint8_t frame[128];
            size_t len;

            if (!br || !s || !lbengine_ports(r->engine, br, &ports)) {
                continue;
            }
            len = e->ip.family == AF_INET ? build_arp(frame, &br->mac, &e->ip)
                                          : build_ns(frame, &br->mac, &e->ip);
            ofpact_put_OUTPUT(&ofpacts)->port = u16_to_ofp(ports.backend);
            ofsession_packet_out(s, OFPP_CONTROLLER, frame, len, ofpacts.data,
                                 ofpacts.size);
            ofpbuf_uninit(&ofpacts);
            r->counters.requests++;
            return true;
        }
    }
    return false;
}

static void
on_timer(uv_timer_t *timer)
{
    struct resolver *r = timer->data;
    long long int now = now_ms();
    struct entry *e;

    HMAP_FOR_EACH (e, node, &r->entries) {
        if (e->next_ms > now) {
            continue;
        }
        if (ask(r, e)) {
            e->asked_ms = now;
        }
        if (e->known && now - e->answered_ms < REFRESH_MS) {
            /* Refreshed while it was known: the next in a period. */
            e->next_ms = now + REFRESH_MS * 4 / 5
                         + random_range(REFRESH_MS * 2 / 5);
        } else {
            e->next_ms = now + e->retry_ms;
            e->retry_ms = MIN(2 * e->retry_ms, RETRY_MAX_MS);
        }
    }
}

void
resolver_kick(struct resolver *r, const struct mslb_addr *ip)
{
    struct entry *e = find_entry(r, ip);
    long long int now = now_ms();

    if (e && now - e->asked_ms >= KICK_MIN_MS && e->next_ms > now) {
        e->next_ms = now;
        e->retry_ms = RETRY_MIN_MS;
        if (ask(r, e)) {
            e->asked_ms = now;
        }
        e->next_ms = now + e->retry_ms;
    }
}

/* ---- Answers. ---- */

/* 'e' is at 'mac': an answer, or the master's finding ('imported'). */
static void
learn(struct resolver *r, struct entry *e, const struct mslb_mac *mac,
      bool imported)
{
    char addr[INET6_ADDRSTRLEN], was[32], is[32];
    const char *name;

    e->answered_ms = now_ms();
    e->retry_ms = RETRY_MIN_MS;
    if (!imported) {
        r->counters.answers++;
    }
    if (e->known && !memcmp(&e->mac, mac, sizeof *mac)) {
        return;
    }
    mslb_addr_format(&e->ip, addr, sizeof addr);
    mslb_mac_format(mac, is, sizeof is);
    if (e->known) {
        mslb_mac_format(&e->mac, was, sizeof was);
        VLOG_INFO("backend address %s moved from MAC %s to %s%s", addr,
                  was, is, imported ? " (as the master found)" : "");
        r->counters.changes++;
    } else {
        VLOG_INFO("backend address %s is at MAC %s%s", addr, is,
                  imported ? " (as the master found)" : "");
    }
    r->seq++;
    e->known = true;
    e->mac = *mac;
    e->next_ms = e->answered_ms + REFRESH_MS * 4 / 5
                 + random_range(REFRESH_MS * 2 / 5);
    if (rtfacts_set_mac(r->rt, &e->ip, mac)) {
        SSET_FOR_EACH (name, &e->services) {
            rtfacts_mark(r->rt, name);
        }
        r->changed(r->aux);
    }
}

bool
resolver_handle_msg(struct resolver *r, const char *bridge,
                    struct ofsession *s, const struct ofp_header *oh,
                    enum ofptype type)
{
    struct ofputil_packet_in pin;
    const uint8_t *p;
    struct mslb_addr ip;
    struct mslb_mac mac;
    struct entry *e;
    size_t total_len, len;
    uint32_t buffer_id;

    if (type != OFPTYPE_PACKET_IN
        || ofputil_decode_packet_in(oh, true, NULL, NULL, &pin, &total_len,
                                    &buffer_id, NULL)) {
        return false;
    }
    if (pin.userdata_len != 2
        || ((const uint8_t *) pin.userdata)[0] != MSLB_NEIGH_USERDATA0
        || ((const uint8_t *) pin.userdata)[1] != MSLB_NEIGH_USERDATA1) {
        return false;
    }
    (void) bridge;
    (void) s;
    p = pin.packet;
    len = pin.packet_len;
    memset(&ip, 0, sizeof ip);
    if (len >= 42 && p[12] == 0x08 && p[13] == 0x06 && p[21] == 2) {
        ip.family = AF_INET;
        memcpy(&ip.v4, p + 28, 4);
        memcpy(mac.b, p + 22, 6);
    } else if (len >= 14 + 40 + 24 && p[12] == 0x86 && p[13] == 0xdd
               && p[14 + 6] == IPPROTO_ICMPV6 && p[14 + 40] == 136) {
        const uint8_t *icmp = p + 14 + 40;
        size_t icmp_len = len - 14 - 40;

        ip.family = AF_INET6;
        memcpy(&ip.v6, icmp + 8, 16);
        memcpy(mac.b, p + 6, 6);        /* Unless the option says. */
        for (size_t o = 24; o + 8 <= icmp_len && icmp[o + 1]; ) {
            if (icmp[o] == 2 && icmp[o + 1] == 1) {
                memcpy(mac.b, icmp + o + 2, 6);
                break;
            }
            o += icmp[o + 1] * 8;
        }
    } else {
        return true;                    /* Ours, but not understood. */
    }
    e = find_entry(r, &ip);
    if (e && e->asked_ms && now_ms() - e->asked_ms <= ANSWER_WINDOW_MS
        && !(mac.b[0] & 1)) {
        learn(r, e, &mac, false);
    }
    return true;
}

/* ---- What to resolve. ---- */

static void
entry_release(struct resolver *r, const struct mslb_addr *ip,
              const char *service)
{
    struct entry *e = find_entry(r, ip);

    if (e) {
        sset_find_and_delete(&e->services, service);
        if (sset_is_empty(&e->services)) {
            hmap_remove(&r->entries, &e->node);
            sset_destroy(&e->services);
            free(e);
        }
    }
}

static bool
resolves(const struct model_service *svc)
{
    return svc->mode == MODEL_MODE_NAT || svc->mode == MODEL_MODE_DR
           || svc->mode == MODEL_MODE_L3DSR || model_mode_via_host(svc->mode);
}

static void
sync_service(struct resolver *r, const char *name)
{
    const struct model_service *svc = mdb_find_service(r->mdb, name);
    struct entry_list *old = shash_find_and_delete(&r->service_addrs, name);
    struct entry_list *now = xzalloc(sizeof *now);

    for (size_t i = 0; svc && resolves(svc) && i < svc->n_backends; i++) {
        const struct model_backend *be = &svc->backends[i];
        struct entry *e;

        if (be->has_mac) {
            continue;
        }
        now->ips = xrealloc(now->ips, (now->n + 1) * sizeof *now->ips);
        now->ips[now->n++] = be->ip;
        e = find_entry(r, &be->ip);
        if (!e) {
            e = xzalloc(sizeof *e);
            e->ip = be->ip;
            sset_init(&e->services);
            e->retry_ms = RETRY_MIN_MS;
            e->next_ms = now_ms();      /* At once. */
            hmap_insert(&r->entries, &e->node, addr_hash(&be->ip));
        }
        if (sset_add(&e->services, name) && e->known) {
            /* Known already: this service's flows need it too. */
            rtfacts_mark(r->rt, name);
            r->changed(r->aux);
        }
    }
    for (size_t i = 0; old && i < old->n; i++) {
        bool kept = false;
        for (size_t k = 0; k < now->n && !kept; k++) {
            kept = mslb_addr_equal(&old->ips[i], &now->ips[k]);
        }
        if (!kept) {
            entry_release(r, &old->ips[i], name);
        }
    }
    if (old) {
        free(old->ips);
        free(old);
    }
    if (now->n) {
        shash_add(&r->service_addrs, name, now);
    } else {
        free(now);
    }
}

void
resolver_sync(struct resolver *r, bool all)
{
    if (all) {
        const struct model_service **svcs;
        struct shash_node *sn, *next;
        size_t n;

        svcs = mdb_services_sorted(r->mdb, &n);
        for (size_t i = 0; i < n; i++) {
            sync_service(r, svcs[i]->name);
        }
        free(svcs);
        SHASH_FOR_EACH_SAFE (sn, next, &r->service_addrs) {
            if (!mdb_find_service(r->mdb, sn->name)) {
                sync_service(r, sn->name);
            }
        }
    } else {
        struct shash_node *sn;

        SHASH_FOR_EACH (sn, mdb_changed_services(r->mdb)) {
            sync_service(r, sn->name);
        }
    }
}

/* ---- Life cycle and views. ---- */

static void
free_timer(uv_handle_t *handle)
{
    free(handle);
}

struct resolver *
resolver_create(uv_loop_t *loop, const struct mdb *mdb, struct rtfacts *rt,
                struct bridges *bridges, const struct lbengine *engine,
                void (*changed)(void *aux), void *aux)
{
    struct resolver *r = xzalloc(sizeof *r);

    r->mdb = mdb;
    r->rt = rt;
    r->bridges = bridges;
    r->engine = engine;
    r->changed = changed;
    r->aux = aux;
    hmap_init(&r->entries);
    shash_init(&r->service_addrs);
    r->timer = xzalloc(sizeof *r->timer);
    uv_timer_init(loop, r->timer);
    r->timer->data = r;
    uv_timer_start(r->timer, on_timer, TICK_MS, TICK_MS);
    return r;
}

void
resolver_destroy(struct resolver *r)
{
    struct shash_node *sn;
    struct entry *e;

    if (!r) {
        return;
    }
    HMAP_FOR_EACH_POP (e, node, &r->entries) {
        sset_destroy(&e->services);
        free(e);
    }
    hmap_destroy(&r->entries);
    SHASH_FOR_EACH (sn, &r->service_addrs) {
        struct entry_list *l = sn->data;
        free(l->ips);
        free(l);
    }
    shash_destroy(&r->service_addrs);
    uv_timer_stop(r->timer);
    uv_close((uv_handle_t *) r->timer, free_timer);
    free(r);
}

uint64_t
resolver_seq(const struct resolver *r)
{
    return r->seq;
}

void
resolver_export(const struct resolver *r,
                void (*cb)(void *aux, const struct mslb_addr *,
                           const struct mslb_mac *),
                void *aux)
{
    const struct entry *e;

    HMAP_FOR_EACH (e, node, &r->entries) {
        if (e->known) {
            cb(aux, &e->ip, &e->mac);
        }
    }
}

void
resolver_import(struct resolver *r, const struct mslb_addr *ip,
                const struct mslb_mac *mac)
{
    struct entry *e = find_entry(r, ip);

    if (e) {
        learn(r, e, mac, true);
    }
}

bool
resolver_mac(const struct resolver *r, const struct mslb_addr *ip,
             struct mslb_mac *mac)
{
    return mdb_backend_mac(r->mdb, ip, mac) || rtfacts_mac(r->rt, ip, mac);
}

json_t *
resolver_json(const struct resolver *r, const struct mslb_addr *ip)
{
    const struct entry *e = find_entry(r, ip);
    char mac[32];

    if (!e || !e->known) {
        return NULL;
    }
    mslb_mac_format(&e->mac, mac, sizeof mac);
    return json_pack("{s:s, s:f}", "mac", mac, "age_s",
                     (now_ms() - e->answered_ms) / 1000.0);
}

void
resolver_get_counters(const struct resolver *r, struct resolver_counters *c)
{
    *c = r->counters;
}
