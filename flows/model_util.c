/* The model's plain helpers: freeing and copying objects, finding them by
 * name, names of enums, addresses and MACs as text, and the hashes (a
 * service's key and the hashes of what shapes flows). */
#include "mslb/model.h"

#include "mslb/xalloc.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
model_bridge_uninit(struct model_bridge *br)
{
    free(br->name);
    free(br->frontend_port);
    free(br->backend_port);
    free(br->gateways);
    for (int t = 0; t < MODEL_N_TUNNELS; t++) {
        free(br->tunnel_ports[t]);
    }
}

void
model_bridge_destroy(struct model_bridge *br)
{
    if (br) {
        model_bridge_uninit(br);
        free(br);
    }
}

void
model_service_uninit(struct model_service *svc)
{
    model_monitor_request_destroy(svc->request);
    free(svc->name);
    for (size_t k = 0; k < svc->n_bridges; k++) {
        free(svc->bridges[k]);
    }
    free(svc->bridges);
    for (size_t k = 0; k < svc->n_backends; k++) {
        free(svc->backends[k].name);
        free(svc->backends[k].host_bridge);
    }
    free(svc->backends);
    model_slots_uninit(&svc->slots);
    model_outbound_destroy(svc->outbound);
}

void
model_service_destroy(struct model_service *svc)
{
    if (svc) {
        model_service_uninit(svc);
        free(svc);
    }
}

static char *
strdup_or_null(const char *s)
{
    return s ? mslb_xstrdup(s) : NULL;
}

void
model_service_clone(struct model_service *dst,
                    const struct model_service *src)
{
    *dst = *src;
    dst->name = mslb_xstrdup(src->name);
    dst->bridges = mslb_xzalloc((src->n_bridges + 1) * sizeof *dst->bridges);
    for (size_t i = 0; i < src->n_bridges; i++) {
        dst->bridges[i] = mslb_xstrdup(src->bridges[i]);
    }
    dst->backends = mslb_xzalloc((src->n_backends + 1)
                                 * sizeof *dst->backends);
    for (size_t i = 0; i < src->n_backends; i++) {
        dst->backends[i] = src->backends[i];
        dst->backends[i].name = mslb_xstrdup(src->backends[i].name);
        dst->backends[i].host_bridge
            = strdup_or_null(src->backends[i].host_bridge);
    }
    model_slots_clone(&dst->slots, &src->slots);
    dst->request = model_monitor_request_clone(src->request);
    dst->outbound = model_outbound_clone(src->outbound);
}

void
model_bridge_clone(struct model_bridge *dst, const struct model_bridge *src)
{
    *dst = *src;
    dst->name = mslb_xstrdup(src->name);
    dst->frontend_port = mslb_xstrdup(src->frontend_port);
    dst->backend_port = mslb_xstrdup(src->backend_port);
    for (int t = 0; t < MODEL_N_TUNNELS; t++) {
        dst->tunnel_ports[t] = strdup_or_null(src->tunnel_ports[t]);
    }
    dst->gateways = mslb_xzalloc((src->n_gateways + 1)
                                 * sizeof *dst->gateways);
    memcpy(dst->gateways, src->gateways,
           src->n_gateways * sizeof *dst->gateways);
}

void
model_destroy(struct model *m)
{
    if (!m) {
        return;
    }
    for (size_t i = 0; i < m->n_bridges; i++) {
        model_bridge_uninit(&m->bridges[i]);
    }
    free(m->bridges);
    for (size_t i = 0; i < m->n_services; i++) {
        model_service_uninit(&m->services[i]);
    }
    free(m->services);
    free(m);
}

const struct model_bridge *
model_find_bridge(const struct model *m, const char *name)
{
    for (size_t i = 0; i < m->n_bridges; i++) {
        if (!strcmp(m->bridges[i].name, name)) {
            return &m->bridges[i];
        }
    }
    return NULL;
}

const struct model_bridge *
model_find_bridge_by_dpid(const struct model *m, uint64_t dpid)
{
    for (size_t i = 0; i < m->n_bridges; i++) {
        if (m->bridges[i].has_dpid && m->bridges[i].dpid == dpid) {
            return &m->bridges[i];
        }
    }
    return NULL;
}

const struct model_service *
model_find_service(const struct model *m, const char *name)
{
    for (size_t i = 0; i < m->n_services; i++) {
        if (!strcmp(m->services[i].name, name)) {
            return &m->services[i];
        }
    }
    return NULL;
}

bool
model_service_on_bridge(const struct model_service *svc, const char *bridge)
{
    for (size_t i = 0; i < svc->n_bridges; i++) {
        if (!strcmp(svc->bridges[i], bridge)) {
            return true;
        }
    }
    return false;
}

const char *
model_proto_name(uint8_t proto)
{
    return proto == IPPROTO_TCP ? "tcp" : proto == IPPROTO_UDP ? "udp" : "ip";
}

const char *
model_mode_name(enum model_mode mode)
{
    static const char *const names[MODEL_N_MODES] = {
        "nat", "dr", "tun", "l3dsr", "mslb", "local", "slb",
    };
    return names[mode];
}

const char *
model_tunnel_name(enum model_tunnel t)
{
    static const char *const names[MODEL_N_TUNNELS] = {
        "vxlan", "gre", "geneve", "ipgre",
    };
    return names[t];
}

const char *
model_distribution_name(enum model_distribution d)
{
    static const char *const names[] = { "5-tuple", "3-tuple", "2-tuple" };
    return names[d];
}

const char *
model_monitor_type_name(enum model_monitor_type t)
{
    static const char *const names[MODEL_N_MONITOR_TYPES] = {
        "none", "tcp", "http", "udp", "icmp",
    };
    return names[t];
}

bool
model_mode_is_dsr(enum model_mode mode)
{
    return mode != MODEL_MODE_NAT && mode != MODEL_MODE_LOCAL;
}

bool
model_mode_via_host(enum model_mode mode)
{
    return mode == MODEL_MODE_MSLB || mode == MODEL_MODE_SLB;
}

void
mslb_addr_format(const struct mslb_addr *a, char *buf, size_t size)
{
    if (!inet_ntop(a->family, a->family == AF_INET ? (const void *) &a->v4
                   : (const void *) &a->v6, buf, size)) {
        snprintf(buf, size, "?");
    }
}

void
mslb_mac_format(const struct mslb_mac *m, char *buf, size_t size)
{
    snprintf(buf, size, "%02x:%02x:%02x:%02x:%02x:%02x",
             m->b[0], m->b[1], m->b[2], m->b[3], m->b[4], m->b[5]);
}

bool
mslb_addr_equal(const struct mslb_addr *a, const struct mslb_addr *b)
{
    return a->family == b->family
           && !memcmp(&a->v6, &b->v6, a->family == AF_INET ? 4 : 16);
}

uint32_t
mslb_hash_bytes(const void *p_, size_t n, uint32_t basis)
{
    const uint8_t *p = p_;
    uint32_t h = 2166136261u ^ basis;

    for (size_t i = 0; i < n; i++) {
        h = (h ^ p[i]) * 16777619u;
    }
    return h;
}

/* A service's id names its group and marks its flows' cookies.  It is
 * derived from the service's key (vip, protocol, port) alone, so it stays
 * the same across restarts and unrelated model changes; collisions are
 * resolved by probing in key order (model_doc.c). */
uint32_t
model_service_key_hash(const struct model_service *svc)
{
    uint8_t key[16 + 1 + 2];
    size_t n = svc->vip.family == AF_INET ? 4 : 16;

    memcpy(key, svc->vip.family == AF_INET ? (const void *) &svc->vip.v4
           : (const void *) &svc->vip.v6, n);
    key[n] = svc->proto;
    key[n + 1] = svc->port >> 8;
    key[n + 2] = svc->port & 0xff;
    return mslb_hash_bytes(key, n + 3, 0);
}

int
model_service_key_compare(const void *a_, const void *b_)
{
    const struct model_service *a = a_, *b = b_;
    uint32_t ha = model_service_key_hash(a), hb = model_service_key_hash(b);
    int c;

    if (ha != hb) {
        return ha < hb ? -1 : 1;
    }
    if (a->vip.family != b->vip.family) {
        return a->vip.family < b->vip.family ? -1 : 1;
    }
    c = memcmp(&a->vip.v6, &b->vip.v6,
               a->vip.family == AF_INET ? 4 : 16);
    if (c) {
        return c;
    }
    if (a->proto != b->proto) {
        return a->proto < b->proto ? -1 : 1;
    }
    return a->port < b->port ? -1 : a->port > b->port;
}

static uint32_t
hash_str(const char *s, uint32_t basis)
{
    return mslb_hash_bytes(s, strlen(s) + 1, basis);
}

static uint32_t
hash_addr(const struct mslb_addr *a, uint32_t basis)
{
    basis = mslb_hash_bytes(&a->family, sizeof a->family, basis);
    return mslb_hash_bytes(&a->v6, a->family == AF_INET ? 4 : 16, basis);
}

/* Field by field: the struct has padding. */
static uint32_t
hash_monitor(const struct model_monitor *m, uint32_t h)
{
    h = mslb_hash_bytes(&m->type, sizeof m->type, h);
    h = mslb_hash_bytes(&m->port, sizeof m->port, h);
    h = mslb_hash_bytes(&m->interval_ms, sizeof m->interval_ms, h);
    h = mslb_hash_bytes(&m->timeout_ms, sizeof m->timeout_ms, h);
    h = mslb_hash_bytes(&m->rise, sizeof m->rise, h);
    h = mslb_hash_bytes(&m->fall, sizeof m->fall, h);
    h = mslb_hash_bytes(&m->reset_sessions, sizeof m->reset_sessions, h);
    return mslb_hash_bytes(&m->set, sizeof m->set, h);
}

uint32_t
model_service_hash(const struct model_service *svc)
{
    uint32_t h = hash_str(svc->name, 0);

    h = hash_addr(&svc->vip, h);
    h = mslb_hash_bytes(&svc->proto, sizeof svc->proto, h);
    h = mslb_hash_bytes(&svc->port, sizeof svc->port, h);
    h = mslb_hash_bytes(&svc->mode, sizeof svc->mode, h);
    h = mslb_hash_bytes(&svc->id, sizeof svc->id, h);
    h = mslb_hash_bytes(&svc->idle_timeout, sizeof svc->idle_timeout, h);
    h = mslb_hash_bytes(&svc->persistence, sizeof svc->persistence, h);
    h = mslb_hash_bytes(&svc->floating_ip, sizeof svc->floating_ip, h);
    h = mslb_hash_bytes(&svc->mss, sizeof svc->mss, h);
    h = mslb_hash_bytes(&svc->distribution, sizeof svc->distribution, h);
    h = mslb_hash_bytes(&svc->reject_empty, sizeof svc->reject_empty, h);
    h = mslb_hash_bytes(&svc->slots.n_slots, sizeof svc->slots.n_slots, h);
    if (svc->slots.n_slots) {
        h = mslb_hash_bytes(svc->slots.owner,
                            svc->slots.n_slots * sizeof *svc->slots.owner, h);
    }
    if (svc->slots.n_moves) {
        h = mslb_hash_bytes(svc->slots.moves,
                            svc->slots.n_moves * sizeof *svc->slots.moves, h);
    }
    h = mslb_hash_bytes(&svc->tunnel, sizeof svc->tunnel, h);
    h = mslb_hash_bytes(&svc->dscp, sizeof svc->dscp, h);
    h = model_outbound_hash(svc->outbound, h);
    h = hash_monitor(&svc->monitor, h);
    if (svc->request) {
        const struct model_monitor_request *r = svc->request;
        const char *const fields[] = { r->method, r->path, r->host,
                                       r->status, r->body, r->send,
                                       r->expect };
        for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
            h = mslb_hash_bytes(fields[i] ? fields[i] : "",
                                fields[i] ? strlen(fields[i]) + 1 : 0, h);
        }
    }
    for (size_t i = 0; i < svc->n_bridges; i++) {
        h = hash_str(svc->bridges[i], h);
    }
    for (size_t i = 0; i < svc->n_backends; i++) {
        const struct model_backend *be = &svc->backends[i];
        h = hash_str(be->name, h);
        h = hash_addr(&be->ip, h);
        h = mslb_hash_bytes(&be->port, sizeof be->port, h);
        h = mslb_hash_bytes(&be->mac, sizeof be->mac, h);
        h = mslb_hash_bytes(&be->weight, sizeof be->weight, h);
        h = mslb_hash_bytes(&be->state, sizeof be->state, h);
        h = hash_addr(&be->host, h);
        h = hash_str(be->host_bridge ? be->host_bridge : "", h);
        h = hash_monitor(&be->monitor, h);
    }
    return h;
}

uint32_t
model_bridge_hash(const struct model_bridge *br)
{
    uint32_t h = hash_str(br->name, 0);

    h = mslb_hash_bytes(&br->mac, sizeof br->mac, h);
    h = hash_str(br->frontend_port, h);
    h = hash_str(br->backend_port, h);
    h = mslb_hash_bytes(&br->ct_zone, sizeof br->ct_zone, h);
    h = mslb_hash_bytes(&br->tunnel_mtu, sizeof br->tunnel_mtu, h);
    h = mslb_hash_bytes(&br->role, sizeof br->role, h);
    for (int t = 0; t < MODEL_N_TUNNELS; t++) {
        h = hash_str(br->tunnel_ports[t] ? br->tunnel_ports[t] : "", h);
    }
    for (size_t i = 0; i < br->n_gateways; i++) {
        h = hash_addr(&br->gateways[i], h);
    }
    return h;
}
