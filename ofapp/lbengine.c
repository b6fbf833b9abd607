/* mslb's incremental engine: see lbengine.h. */
#include <config.h>
#include "lbengine.h"

#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "hash.h"
#include "openvswitch/hmap.h"
#include "openvswitch/shash.h"
#include "openvswitch/vlog.h"
#include "sset.h"
#include "util.h"

#include "mslb/compile.h"
#include "mslb/flowset.h"
#include "mslb/modeldb.h"

VLOG_DEFINE_THIS_MODULE(lbengine);

#define OFPP_LOCAL_NO 0xfffe

/* ---- Switch facts. ---- */

struct swfacts_bridge {
    int version;
    struct shash ports;         /* Name -> port number + 1 (as a pointer). */
    struct mslb_mac local_mac;
};

struct swfacts {
    struct shash bridges;       /* Bridge name -> struct swfacts_bridge. */
    struct sset changed;
};

struct swfacts *
swfacts_create(void)
{
    struct swfacts *sw = xzalloc(sizeof *sw);
    shash_init(&sw->bridges);
    sset_init(&sw->changed);
    return sw;
}

static void
swfacts_bridge_destroy(struct swfacts_bridge *b)
{
    if (b) {
        shash_destroy(&b->ports);
        free(b);
    }
}

void
swfacts_destroy(struct swfacts *sw)
{
    struct shash_node *node;

    if (!sw) {
        return;
    }
    SHASH_FOR_EACH (node, &sw->bridges) {
        swfacts_bridge_destroy(node->data);
    }
    shash_destroy(&sw->bridges);
    sset_destroy(&sw->changed);
    free(sw);
}

void
swfacts_set(struct swfacts *sw, const char *bridge, int version,
            const char *const *port_names, const uint32_t *port_nos,
            size_t n, const struct mslb_mac *local_mac)
{
    struct swfacts_bridge *old = shash_find_data(&sw->bridges, bridge);
    struct swfacts_bridge *b = xzalloc(sizeof *b);
    bool same;

    b->version = version;
    b->local_mac = *local_mac;
    shash_init(&b->ports);
    for (size_t i = 0; i < n; i++) {
        shash_replace(&b->ports, port_names[i],
                      (void *) (uintptr_t) (port_nos[i] + 1));
    }
    same = old && old->version == b->version
           && !memcmp(&old->local_mac, &b->local_mac, sizeof b->local_mac)
           && shash_count(&old->ports) == shash_count(&b->ports);
    if (same) {
        struct shash_node *node;
        SHASH_FOR_EACH (node, &b->ports) {
            if (shash_find_data(&old->ports, node->name) != node->data) {
                same = false;
                break;
            }
        }
    }
    if (same) {
        swfacts_bridge_destroy(b);
        return;
    }
    swfacts_bridge_destroy(shash_replace(&sw->bridges, bridge, b));
    sset_add(&sw->changed, bridge);
}

void
swfacts_remove(struct swfacts *sw, const char *bridge)
{
    struct swfacts_bridge *b = shash_find_and_delete(&sw->bridges, bridge);
    if (b) {
        swfacts_bridge_destroy(b);
        sset_add(&sw->changed, bridge);
    }
}

bool
swfacts_has_changes(const struct swfacts *sw)
{
    return !sset_is_empty(&sw->changed);
}

/* Port 'name''s number in 'b', or 0. */
static uint32_t
swfacts_port(const struct swfacts_bridge *b, const char *name)
{
    return (uintptr_t) shash_find_data(&b->ports, name);
}

/* ---- Runtime facts. ---- */

struct rtfacts_service {
    uint32_t *failed;           /* Sorted backend keys. */
    size_t n;
    struct model_slot_move *moves;      /* Sorted by slot. */
    size_t n_moves;
};

struct rtfacts_mac {
    struct hmap_node node;      /* In 'macs', by address. */
    struct mslb_addr ip;
    struct mslb_mac mac;
};

struct rtfacts {
    struct shash services;      /* Name -> struct rtfacts_service. */
    struct hmap macs;           /* struct rtfacts_mac. */
    struct sset changed;        /* Names of services whose facts changed. */
};

static uint32_t
addr_hash(const struct mslb_addr *a)
{
    return hash_bytes(&a->v6, a->family == AF_INET ? 4 : 16, a->family);
}

static struct rtfacts_mac *
find_mac(const struct rtfacts *rt, const struct mslb_addr *ip)
{
    struct rtfacts_mac *m;

    HMAP_FOR_EACH_WITH_HASH (m, node, addr_hash(ip), &rt->macs) {
        if (mslb_addr_equal(&m->ip, ip)) {
            return m;
        }
    }
    return NULL;
}

bool
rtfacts_set_mac(struct rtfacts *rt, const struct mslb_addr *ip,
                const struct mslb_mac *mac)
{
    struct rtfacts_mac *m = find_mac(rt, ip);

    if (m && !memcmp(&m->mac, mac, sizeof *mac)) {
        return false;
    }
    if (!m) {
        m = xzalloc(sizeof *m);
        m->ip = *ip;
        hmap_insert(&rt->macs, &m->node, addr_hash(ip));
    }
    m->mac = *mac;
    return true;
}

bool
rtfacts_mac(const struct rtfacts *rt, const struct mslb_addr *ip,
            struct mslb_mac *mac)
{
    const struct rtfacts_mac *m = find_mac(rt, ip);

    if (m) {
        *mac = m->mac;
    }
    return m != NULL;
}

void
rtfacts_mark(struct rtfacts *rt, const char *service)
{
    sset_add(&rt->changed, service);
}

struct rtfacts *
rtfacts_create(void)
{
    struct rtfacts *rt = xzalloc(sizeof *rt);

    shash_init(&rt->services);
    hmap_init(&rt->macs);
    sset_init(&rt->changed);
    return rt;
}

static void
rtfacts_service_destroy(struct rtfacts_service *rs)
{
    if (rs) {
        free(rs->failed);
        free(rs->moves);
        free(rs);
    }
}

void
rtfacts_destroy(struct rtfacts *rt)
{
    struct shash_node *node;

    if (!rt) {
        return;
    }
    SHASH_FOR_EACH (node, &rt->services) {
        rtfacts_service_destroy(node->data);
    }
    shash_destroy(&rt->services);
    struct rtfacts_mac *m;
    HMAP_FOR_EACH_POP (m, node, &rt->macs) {
        free(m);
    }
    hmap_destroy(&rt->macs);
    sset_destroy(&rt->changed);
    free(rt);
}

static struct rtfacts_service *
rtfacts_service(struct rtfacts *rt, const char *service)
{
    struct rtfacts_service *rs = shash_find_data(&rt->services, service);

    if (!rs) {
        rs = xzalloc(sizeof *rs);
        shash_add(&rt->services, service, rs);
    }
    return rs;
}

/* Forgets 'service''s facts if none is left. */
static void
rtfacts_service_trim(struct rtfacts *rt, const char *service)
{
    struct rtfacts_service *rs = shash_find_data(&rt->services, service);

    if (rs && !rs->n && !rs->n_moves) {
        rtfacts_service_destroy(shash_find_and_delete(&rt->services,
                                                      service));
    }
}

bool
rtfacts_set_failed(struct rtfacts *rt, const char *service,
                   const uint32_t *keys, size_t n)
{
    struct rtfacts_service *old = shash_find_data(&rt->services, service);
    uint32_t *sorted = n ? xmemdup(keys, n * sizeof *keys) : NULL;
    struct rtfacts_service *rs;

    if (n) {
        qsort(sorted, n, sizeof *sorted, model_key_compare);
    }
    if (old ? old->n == n && (!n || !memcmp(old->failed, sorted,
                                            n * sizeof *sorted))
            : !n) {
        free(sorted);
        return false;
    }
    rs = rtfacts_service(rt, service);
    free(rs->failed);
    rs->failed = sorted;
    rs->n = n;
    rtfacts_service_trim(rt, service);
    sset_add(&rt->changed, service);
    return true;
}

void
rtfacts_set_moves(struct rtfacts *rt, const char *service,
                  const struct model_slot_move *moves, size_t n)
{
    struct rtfacts_service *old = shash_find_data(&rt->services, service);
    struct rtfacts_service *rs;

    if (old ? old->n_moves == n
              && (!n || !memcmp(old->moves, moves, n * sizeof *moves))
            : !n) {
        return;
    }
    rs = rtfacts_service(rt, service);
    free(rs->moves);
    rs->moves = n ? xmemdup(moves, n * sizeof *moves) : NULL;
    rs->n_moves = n;
    rtfacts_service_trim(rt, service);
    sset_add(&rt->changed, service);
}

const uint32_t *
rtfacts_failed(const struct rtfacts *rt, const char *service, size_t *n)
{
    const struct rtfacts_service *rs = shash_find_data(&rt->services,
                                                       service);

    *n = rs ? rs->n : 0;
    return rs ? rs->failed : NULL;
}

/* ---- Desired tables. ---- */

/* One service's share of a first-stage bridge's table. */
struct unit {
    struct hmap_node node;      /* In 'units', by name. */
    char *name;
    struct flowset *fs;
};

struct table {
    char *name;
    struct flowset *want;       /* NULL: cannot be built ('why'). */
    char *why;
    struct flowset *base;       /* Bridge-wide unit (or the whole final
                                 * stage). */
    struct hmap units;
    int version;
};

struct lbengine {
    struct engine engine;
    struct engine_node n_model, n_switch, n_runtime, n_flows;
    struct mdb *mdb;
    struct swfacts *sw;
    struct rtfacts *rt;
    struct shash tables;        /* Bridge name -> struct table. */
    struct sset changed;
    struct lbengine_stats stats;
};

static struct flowset *
new_unit(int version)
{
    struct flowset *fs = flowset_create();
    flowset_set_version(fs, version);
    return fs;
}

static void
log_compile_error(const char *bridge, char *error)
{
    if (error) {
        VLOG_ERR("bridge %s: internal error compiling the model: %s",
                 bridge, error);
        free(error);
    }
}

static void
merge(struct table *t, const struct flowset *unit)
{
    char *error = flowset_merge(t->want, unit);
    if (error) {
        VLOG_ERR("bridge %s: internal error: conflicting flows: %s", t->name,
                 error);
        free(error);
    }
}

static uint32_t
name_hash(const char *s)
{
    return hash_string(s, 0);
}

static struct unit *
find_unit(const struct table *t, const char *name)
{
    struct unit *u;

    HMAP_FOR_EACH_WITH_HASH (u, node, name_hash(name), &t->units) {
        if (!strcmp(u->name, name)) {
            return u;
        }
    }
    return NULL;
}

static void
remove_unit(struct table *t, struct unit *u)
{
    if (t->want) {
        flowset_unmerge(t->want, u->fs);
    }
    hmap_remove(&t->units, &u->node);
    flowset_destroy(u->fs);
    free(u->name);
    free(u);
}

/* Drops every unit of 't' (leaving 'want' itself, emptied, with dirty
 * marks for all it held). */
static void
clear_units(struct table *t)
{
    struct unit *u;

    HMAP_FOR_EACH_SAFE (u, node, &t->units) {
        remove_unit(t, u);
    }
    if (t->base) {
        if (t->want) {
            flowset_unmerge(t->want, t->base);
        }
        flowset_destroy(t->base);
        t->base = NULL;
    }
}

static void
table_destroy(struct table *t)
{
    if (t) {
        clear_units(t);
        hmap_destroy(&t->units);
        flowset_destroy(t->want);
        free(t->why);
        free(t->name);
        free(t);
    }
}

/* The compile_ports of model bridge 'br' on switch 'b', or a malloc'd
 * reason why they are not all there. */
static char *
make_ports(const struct model_bridge *br, const struct swfacts_bridge *b,
           struct compile_ports *ports)
{
    memset(ports, 0, sizeof *ports);
    ports->of15 = b->version >= 6;      /* OFP15_VERSION. */
    ports->local_mac = b->local_mac;
    for (int t = 0; t < MODEL_N_TUNNELS; t++) {
        if (br->tunnel_ports[t]) {
            ports->tunnel[t] = swfacts_port(b, br->tunnel_ports[t]);
            if (!ports->tunnel[t]--) {
                return xasprintf("tunnel port \"%s\" not found; waiting for "
                                 "it", br->tunnel_ports[t]);
            }
        }
    }
    if (br->role == MODEL_ROLE_FINAL) {
        return NULL;
    }
    ports->frontend = swfacts_port(b, br->frontend_port);
    ports->backend = swfacts_port(b, br->backend_port);
    if (!ports->frontend-- || !ports->backend--) {
        return xasprintf("port \"%s\" not found; waiting for it",
                         !swfacts_port(b, br->frontend_port)
                         ? br->frontend_port : br->backend_port);
    }
    return NULL;
}

bool
lbengine_ports(const struct lbengine *e, const struct model_bridge *br,
               struct compile_ports *ports)
{
    const struct swfacts_bridge *b = shash_find_data(&e->sw->bridges,
                                                     br->name);
    char *why = b ? make_ports(br, b, ports) : xstrdup("no facts");

    free(why);
    return b && !why;
}

/* Service 'svc' as the runtime facts make it: as the model says (a
 * shallow copy; false), or, while some of its backends fail their health
 * checks or have no configured MAC, a copy that takes the facts in
 * (true; free with effective_uninit()): resolved MACs filled in, and a
 * slot table without the failing backends and those whose MAC is still
 * unknown. */
static bool
effective_service(const struct lbengine *e, const struct model_service *svc,
                  struct model_service *out)
{
    const struct rtfacts_service *rs = shash_find_data(&e->rt->services,
                                                       svc->name);
    const uint32_t *failed;
    size_t n_failed, n_unresolved = 0;

    *out = *svc;                        /* Borrows the rest. */
    failed = rtfacts_failed(e->rt, svc->name, &n_failed);
    for (size_t i = 0; i < svc->n_backends; i++) {
        n_unresolved += !svc->backends[i].has_mac;
    }
    if (!n_failed && !n_unresolved && !(rs && rs->n_moves)) {
        return false;
    }

    struct model_service eff = *svc;
    struct model_backend *backends = NULL;
    uint32_t *keys = xmalloc((n_failed + svc->n_backends + 1)
                             * sizeof *keys);
    size_t n_keys = n_failed;

    memcpy(keys, failed, n_failed * sizeof *keys);
    if (n_unresolved || n_failed) {
        backends = xmemdup(svc->backends,
                           svc->n_backends * sizeof *svc->backends);
        for (size_t i = 0; i < svc->n_backends; i++) {
            struct model_backend *be = &backends[i];

            /* The compiler treats a failed backend's sessions as its
             * monitor says ("sessions"). */
            be->failed = bsearch(&be->key, failed, n_failed, sizeof *failed,
                                 model_key_compare) != NULL;
            if (be->has_mac) {
                continue;
            }
            /* A MAC another service gives the address wins. */
            if (mdb_backend_mac(e->mdb, &be->ip, &be->mac)
                || rtfacts_mac(e->rt, &be->ip, &be->mac)) {
                be->has_mac = true;
            } else {
                keys[n_keys++] = be->key;
            }
        }
        eff.backends = backends;
        qsort(keys, n_keys, sizeof *keys, model_key_compare);
    }
    model_slots_effective(svc, keys, n_keys, &eff.slots);
    if (rs) {
        model_slots_add_moves(&eff.slots, rs->moves, rs->n_moves);
    }
    free(keys);
    *out = eff;
    return true;
}

/* Frees what effective_service() made for 'eff' (when it returned true). */
static void
effective_uninit(struct model_service *eff, const struct model_service *svc)
{
    model_slots_uninit(&eff->slots);
    if (eff->backends != svc->backends) {
        free(eff->backends);
    }
}

/* Service 'svc''s unit of bridge 'br', compiled from effective_service():
 * its pipeline on a first stage, its east-west pipeline on an slb host. */
static struct flowset *
compile_unit(const struct lbengine *e, const struct model_service *svc,
             const struct model_bridge *br,
             const struct compile_ports *ports, int version)
{
    struct flowset *fs = new_unit(version);
    struct model_service eff;
    bool own = effective_service(e, svc, &eff);

    log_compile_error(br->name, br->role == MODEL_ROLE_FINAL
                      ? compile_east_west(&eff, br, ports, fs)
                      : compile_service(&eff, br, ports, fs));
    if (own) {
        effective_uninit(&eff, svc);
    }
    return fs;
}

/* The final stage of 'br': the restore flows of every service with a
 * backend hosted there, from the services as the runtime facts make them
 * (effective_service(): resolved MACs).  An slb host's east-west
 * pipelines are units of their own (compile_unit()). */
static struct flowset *
compile_final(const struct lbengine *e, const struct model_bridge *br,
              const struct compile_ports *ports, int version)
{
    const struct model_service **svcs;
    struct model view;
    struct flowset *fs;
    size_t n;
    bool *own;

    svcs = mdb_services_of_bridge(e->mdb, br->name, &n);
    /* A view that borrows the services. */
    memset(&view, 0, sizeof view);
    view.services = xzalloc((n + 1) * sizeof *view.services);
    own = xzalloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        own[i] = effective_service(e, svcs[i], &view.services[i]);
    }
    view.n_services = n;
    fs = new_unit(version);
    log_compile_error(br->name, compile_final_bridge(&view, br, ports, fs));
    for (size_t i = 0; i < n; i++) {
        if (own[i]) {
            effective_uninit(&view.services[i], svcs[i]);
        }
    }
    free(own);
    free(view.services);
    free(svcs);
    return fs;
}

size_t
lbengine_usable_backends(const struct lbengine *e,
                         const struct model_service *svc)
{
    size_t n_failed, n = 0;
    const uint32_t *failed = rtfacts_failed(e->rt, svc->name, &n_failed);

    for (size_t i = 0; i < svc->n_backends; i++) {
        const struct model_backend *be = &svc->backends[i];
        struct mslb_mac mac;

        n += (be->state == MODEL_BACKEND_UP
              && (be->has_mac || mdb_backend_mac(e->mdb, &be->ip, &mac)
                  || rtfacts_mac(e->rt, &be->ip, &mac))
              && !bsearch(&be->key, failed, n_failed, sizeof *failed,
                          model_key_compare));
    }
    return n;
}

/* Rebuilds table 'name' from the model and the switch facts.  If it
 * cannot be built (no facts yet, a port missing), the table keeps what it
 * had, 'why' says why, and its set stays valid for whoever holds it. */
static void add_unit(struct lbengine *, struct table *,
                     const struct model_service *,
                     const struct model_bridge *,
                     const struct compile_ports *);

static void
rebuild(struct lbengine *e, const char *name)
{
    const struct model_bridge *br = mdb_find_bridge(e->mdb, name);
    const struct swfacts_bridge *b = shash_find_data(&e->sw->bridges, name);
    struct table *t = shash_find_data(&e->tables, name);
    struct compile_ports ports;
    char *why = NULL;

    e->stats.bridges_rebuilt++;
    sset_add(&e->changed, name);
    if (!br && !b) {
        table_destroy(shash_find_and_delete(&e->tables, name));
        return;
    }
    if (!t) {
        t = xzalloc(sizeof *t);
        t->name = xstrdup(name);
        hmap_init(&t->units);
        shash_add(&e->tables, name, t);
    }
    if (!b) {
        why = xstrdup("not connected");
    } else if (br) {
        why = make_ports(br, b, &ports);
    }
    free(t->why);
    t->why = why;
    if (why) {
        return;
    }
    clear_units(t);
    if (!t->want || t->version != b->version) {
        /* ADD messages are encoded for one version: a new set. */
        flowset_destroy(t->want);
        t->want = new_unit(b->version);
        t->version = b->version;
    }
    if (!br) {
        return;                 /* Not in the model: mslb's flows go. */
    }
    if (br->role == MODEL_ROLE_FINAL) {
        t->base = compile_final(e, br, &ports, b->version);
        merge(t, t->base);
        if (mdb_is_slb_host(e->mdb, name)) {
            const struct model_service **all;
            size_t n;

            all = mdb_services_sorted(e->mdb, &n);
            for (size_t i = 0; i < n; i++) {
                if (all[i]->mode == MODEL_MODE_SLB) {
                    add_unit(e, t, all[i], br, &ports);
                }
            }
            free(all);
        }
        return;
    }

    t->base = new_unit(b->version);
    log_compile_error(name, compile_bridge_base(br, &ports, t->base));
    merge(t, t->base);

    const struct model_service **svcs;
    size_t n;
    svcs = mdb_services_of_bridge(e->mdb, name, &n);
    for (size_t i = 0; i < n; i++) {
        if (model_service_on_bridge(svcs[i], name)) {
            add_unit(e, t, svcs[i], br, &ports);
        }
    }
    free(svcs);
}

/* Recompiles service 'name''s unit on first-stage table 't'. */
static void
update_unit(struct lbengine *e, struct table *t, const char *name)
{
    const struct model_service *svc = mdb_find_service(e->mdb, name);
    const struct model_bridge *br = mdb_find_bridge(e->mdb, t->name);
    const struct swfacts_bridge *b = shash_find_data(&e->sw->bridges,
                                                     t->name);
    struct unit *u = find_unit(t, name);
    struct compile_ports ports;
    char *why;

    if (u) {
        remove_unit(t, u);
    }
    if (!svc || !br || !b
        || (br->role == MODEL_ROLE_FINAL
            ? svc->mode != MODEL_MODE_SLB
            : !model_service_on_bridge(svc, t->name))) {
        return;
    }
    why = make_ports(br, b, &ports);
    if (why) {
        free(why);              /* Cannot happen: the table was built. */
        return;
    }
    add_unit(e, t, svc, br, &ports);
}

/* The slb hosts with a table to update, into 'hosts'. */
static void
slb_hosts(const struct lbengine *e, struct sset *hosts)
{
    const struct model_bridge **brs;
    size_t n;

    brs = mdb_bridges_sorted(e->mdb, &n);
    for (size_t i = 0; i < n; i++) {
        struct table *t = shash_find_data(&e->tables, brs[i]->name);

        if (brs[i]->role == MODEL_ROLE_FINAL && t && t->want && !t->why
            && mdb_is_slb_host(e->mdb, brs[i]->name)) {
            sset_add(hosts, brs[i]->name);
        }
    }
    free(brs);
}

/* Slb services 'names' changed (model or runtime facts): their east-west
 * units on every slb host that is not rebuilt anyway ('skip'). */
static void
update_east_west(struct lbengine *e, const struct sset *names,
                 const struct sset *skip)
{
    struct sset hosts = SSET_INITIALIZER(&hosts);
    const char *host, *name;

    if (!sset_is_empty(names)) {
        slb_hosts(e, &hosts);
    }
    SSET_FOR_EACH (host, &hosts) {
        struct table *t = shash_find_data(&e->tables, host);

        if (sset_contains(skip, host)) {
            continue;
        }
        SSET_FOR_EACH (name, names) {
            update_unit(e, t, name);
        }
        sset_add(&e->changed, host);
    }
    sset_destroy(&hosts);
}

/* The configured MAC 'svc' gives 'ip', or NULL. */
static const struct mslb_mac *
mac_of(const struct model_service *svc, const struct mslb_addr *ip)
{
    for (size_t i = 0; svc && i < svc->n_backends; i++) {
        if (svc->backends[i].has_mac
            && mslb_addr_equal(&svc->backends[i].ip, ip)) {
            return &svc->backends[i].mac;
        }
    }
    return NULL;
}

/* Adds to 'ips' ('*n' of them) each address whose configured MAC differs
 * between 'old' and 'now' (one of them may be NULL). */
static void
mac_changes(const struct model_service *old, const struct model_service *now,
            struct mslb_addr **ips, size_t *n)
{
    const struct model_service *sides[2] = { old, now };

    for (int s = 0; s < 2; s++) {
        for (size_t i = 0; sides[s] && i < sides[s]->n_backends; i++) {
            const struct model_backend *be = &sides[s]->backends[i];
            const struct mslb_mac *a = mac_of(old, &be->ip);
            const struct mslb_mac *b = mac_of(now, &be->ip);

            if (be->has_mac && (!a || !b || memcmp(a, b, sizeof *a))) {
                *ips = xrealloc(*ips, (*n + 1) * sizeof **ips);
                (*ips)[(*n)++] = be->ip;
            }
        }
    }
}

/* Whether 'svc' has a backend without a configured MAC at one of 'ips':
 * it takes the MAC other services give that address. */
static bool
borrows_mac(const struct model_service *svc, const struct mslb_addr *ips,
            size_t n)
{
    for (size_t i = 0; i < svc->n_backends; i++) {
        for (size_t k = 0; !svc->backends[i].has_mac && k < n; k++) {
            if (mslb_addr_equal(&svc->backends[i].ip, &ips[k])) {
                return true;
            }
        }
    }
    return false;
}

/* Compiles service 'svc''s unit of table 't' (model bridge 'br'): its
 * pipeline on a first stage, its east-west pipeline on an slb host. */
static void
add_unit(struct lbengine *e, struct table *t,
         const struct model_service *svc, const struct model_bridge *br,
         const struct compile_ports *ports)
{
    struct unit *u = xzalloc(sizeof *u);

    u->name = xstrdup(svc->name);
    u->fs = compile_unit(e, svc, br, ports, t->version);
    hmap_insert(&t->units, &u->node, name_hash(u->name));
    merge(t, u->fs);
    e->stats.units_compiled++;
}

static void
add_service_bridges(const struct model_service *svc, struct sset *first,
                    struct sset *final)
{
    if (!svc) {
        return;
    }
    for (size_t i = 0; i < svc->n_bridges; i++) {
        sset_add(first, svc->bridges[i]);
    }
    for (size_t i = 0; i < svc->n_backends; i++) {
        if (svc->backends[i].host_bridge) {
            sset_add(final, svc->backends[i].host_bridge);
        }
    }
}

/* ---- Nodes. ---- */

static bool
model_changed(struct engine_node *node OVS_UNUSED, void *e_)
{
    struct lbengine *e = e_;
    return mdb_has_changes(e->mdb);
}

static bool
switch_changed(struct engine_node *node OVS_UNUSED, void *e_)
{
    struct lbengine *e = e_;
    return swfacts_has_changes(e->sw);
}

static bool
runtime_changed(struct engine_node *node OVS_UNUSED, void *e_)
{
    struct lbengine *e = e_;
    return !sset_is_empty(&e->rt->changed);
}

static bool
flows_recompute(struct engine_node *node OVS_UNUSED, void *e_)
{
    struct lbengine *e = e_;
    struct sset names = SSET_INITIALIZER(&names);
    struct shash_node *sn;
    const struct model_bridge **brs;
    const char *name;
    size_t n;

    e->stats.recomputes++;
    SHASH_FOR_EACH (sn, &e->tables) {
        sset_add(&names, sn->name);
    }
    SHASH_FOR_EACH (sn, &e->sw->bridges) {
        sset_add(&names, sn->name);
    }
    brs = mdb_bridges_sorted(e->mdb, &n);
    for (size_t i = 0; i < n; i++) {
        sset_add(&names, brs[i]->name);
    }
    free(brs);
    SSET_FOR_EACH (name, &names) {
        rebuild(e, name);
    }
    sset_destroy(&names);
    return true;
}

static bool
flows_handle_model(struct engine_node *node OVS_UNUSED, void *e_,
                   struct engine_node *input OVS_UNUSED)
{
    struct lbengine *e = e_;
    struct sset rebuilt = SSET_INITIALIZER(&rebuilt);
    struct sset first = SSET_INITIALIZER(&first);
    struct sset final = SSET_INITIALIZER(&final);
    struct shash_node *sn;
    const char *name;

    SHASH_FOR_EACH (sn, mdb_changed_bridges(e->mdb)) {
        rebuild(e, sn->name);
        sset_add(&rebuilt, sn->name);
    }
    struct sset slb = SSET_INITIALIZER(&slb);
    struct sset names = SSET_INITIALIZER(&names);
    struct mslb_addr *ips = NULL;
    size_t n_ips = 0;

    SHASH_FOR_EACH (sn, mdb_changed_services(e->mdb)) {
        mac_changes(sn->data, mdb_find_service(e->mdb, sn->name), &ips,
                    &n_ips);
        sset_add(&names, sn->name);
    }
    if (n_ips && mdb_n_macless(e->mdb)) {
        /* The services that borrow a MAC that changed are changed too. */
        const struct model_service **all;
        size_t n;

        all = mdb_services_sorted(e->mdb, &n);
        for (size_t i = 0; i < n; i++) {
            if (borrows_mac(all[i], ips, n_ips)) {
                sset_add(&names, all[i]->name);
            }
        }
        free(all);
    }
    free(ips);
    const char *svc_name;
    SSET_FOR_EACH (svc_name, &names) {
        const struct shash_node *cn = shash_find(mdb_changed_services(e->mdb),
                                                 svc_name);
        const struct model_service *old = cn ? cn->data : NULL;
        const struct model_service *now = mdb_find_service(e->mdb, svc_name);

        sset_clear(&first);
        add_service_bridges(old, &first, &final);
        add_service_bridges(now, &first, &final);
        if ((old && old->mode == MODEL_MODE_SLB)
            || (now && now->mode == MODEL_MODE_SLB)) {
            sset_add(&slb, svc_name);
        }
        SSET_FOR_EACH (name, &first) {
            struct table *t = shash_find_data(&e->tables, name);
            const struct model_bridge *br = mdb_find_bridge(e->mdb, name);

            if (t && t->want && !t->why && br
                && br->role == MODEL_ROLE_FIRST
                && !sset_contains(&rebuilt, name)) {
                update_unit(e, t, svc_name);
                sset_add(&e->changed, name);
            }
        }
    }
    /* The bridges hosting a changed service's backends are rebuilt (with
     * every east-west unit, if they are slb hosts); the other slb hosts
     * get the changed slb services' east-west units again. */
    SSET_FOR_EACH (name, &final) {
        if (!sset_contains(&rebuilt, name)) {
            rebuild(e, name);
            sset_add(&rebuilt, name);
        }
    }
    update_east_west(e, &slb, &rebuilt);
    sset_destroy(&names);
    sset_destroy(&slb);
    sset_destroy(&rebuilt);
    sset_destroy(&first);
    sset_destroy(&final);
    e->stats.incremental++;
    return true;
}

/* Health or resolved MACs changed: recompile the services they name on
 * their first-stage bridges; for an slb service its east-west unit on the
 * slb hosts, and, if some backend of it has no configured MAC (the
 * runtime facts may have resolved it), the bridges hosting its backends,
 * whose translation flows take that MAC (other final stages do not depend
 * on them). */
static bool
flows_handle_runtime(struct engine_node *node OVS_UNUSED, void *e_,
                     struct engine_node *input OVS_UNUSED)
{
    struct lbengine *e = e_;
    struct sset hosts = SSET_INITIALIZER(&hosts);
    struct sset slb = SSET_INITIALIZER(&slb);
    const char *svc_name, *name;

    SSET_FOR_EACH (svc_name, &e->rt->changed) {
        const struct model_service *svc = mdb_find_service(e->mdb,
                                                           svc_name);
        if (svc && svc->mode == MODEL_MODE_SLB) {
            bool unresolved = false;

            for (size_t i = 0; i < svc->n_backends; i++) {
                unresolved |= !svc->backends[i].has_mac;
            }
            if (unresolved) {
                struct sset first = SSET_INITIALIZER(&first);

                add_service_bridges(svc, &first, &hosts);
                sset_destroy(&first);
            }
            sset_add(&slb, svc_name);
        }
        for (size_t i = 0; svc && i < svc->n_bridges; i++) {
            struct table *t = shash_find_data(&e->tables, svc->bridges[i]);
            const struct model_bridge *br
                = mdb_find_bridge(e->mdb, svc->bridges[i]);

            if (t && t->want && !t->why && br
                && br->role == MODEL_ROLE_FIRST) {
                update_unit(e, t, svc_name);
                sset_add(&e->changed, t->name);
            }
        }
    }
    SSET_FOR_EACH (name, &hosts) {
        rebuild(e, name);
    }
    update_east_west(e, &slb, &hosts);
    sset_destroy(&slb);
    sset_destroy(&hosts);
    e->stats.incremental++;
    return true;
}

static bool
flows_handle_switch(struct engine_node *node OVS_UNUSED, void *e_,
                    struct engine_node *input OVS_UNUSED)
{
    struct lbengine *e = e_;
    const char *name;

    SSET_FOR_EACH (name, &e->sw->changed) {
        rebuild(e, name);
    }
    e->stats.incremental++;
    return true;
}

struct lbengine *
lbengine_create(struct mdb *mdb, struct swfacts *sw, struct rtfacts *rt)
{
    struct lbengine *e = xzalloc(sizeof *e);

    e->mdb = mdb;
    e->sw = sw;
    e->rt = rt;
    shash_init(&e->tables);
    sset_init(&e->changed);
    engine_init(&e->engine);
    engine_node_init(&e->n_model, "model", e, model_changed);
    engine_node_init(&e->n_switch, "switch", e, switch_changed);
    engine_node_init(&e->n_runtime, "runtime", e, runtime_changed);
    engine_node_init(&e->n_flows, "flows", e, flows_recompute);
    /* The model handler must see bridge changes before switch facts of a
     * new bridge: both rebuild, so order does not matter for results. */
    engine_add_input(&e->n_flows, &e->n_model, flows_handle_model);
    engine_add_input(&e->n_flows, &e->n_switch, flows_handle_switch);
    engine_add_input(&e->n_flows, &e->n_runtime, flows_handle_runtime);
    engine_add_node(&e->engine, &e->n_model);
    engine_add_node(&e->engine, &e->n_switch);
    engine_add_node(&e->engine, &e->n_runtime);
    engine_add_node(&e->engine, &e->n_flows);
    return e;
}

void
lbengine_destroy(struct lbengine *e)
{
    struct shash_node *sn;

    if (!e) {
        return;
    }
    SHASH_FOR_EACH (sn, &e->tables) {
        table_destroy(sn->data);
    }
    shash_destroy(&e->tables);
    sset_destroy(&e->changed);
    free(e);
}

bool
rtfacts_has_changes(const struct rtfacts *rt)
{
    return !sset_is_empty(&rt->changed);
}

bool
lbengine_run(struct lbengine *e)
{
    bool changed;

    sset_clear(&e->changed);
    changed = engine_run(&e->engine);
    mdb_clear_tracked(e->mdb);
    sset_clear(&e->sw->changed);
    sset_clear(&e->rt->changed);
    return changed;
}

void
lbengine_force_recompute(struct lbengine *e)
{
    engine_force_recompute(&e->engine);
}

struct flowset *
lbengine_desired(const struct lbengine *e, const char *name,
                 const char **why)
{
    const struct table *t = shash_find_data(&e->tables, name);

    if (why) {
        *why = !t ? "not in the model" : t->why;
    }
    return t ? t->want : NULL;
}

const struct sset *
lbengine_changed_bridges(const struct lbengine *e)
{
    return &e->changed;
}

void
lbengine_get_stats(const struct lbengine *e, struct lbengine_stats *s)
{
    *s = e->stats;
}

struct flowset *
lbengine_compile_fresh(const struct lbengine *e_, const char *name)
{
    struct lbengine *e = CONST_CAST(struct lbengine *, e_);
    struct shash saved = e->tables;
    struct lbengine_stats stats = e->stats;
    struct sset changed = e->changed;
    struct flowset *fs = NULL;
    struct table *t;

    /* Build into an empty table set, then restore the engine. */
    shash_init(&e->tables);
    sset_init(&e->changed);
    rebuild(e, name);
    t = shash_find_data(&e->tables, name);
    if (t && t->want && !t->why) {
        struct unit *u;

        /* Keep the merged set; drop the units without unmerging them. */
        fs = t->want;
        t->want = NULL;
        HMAP_FOR_EACH_POP (u, node, &t->units) {
            flowset_destroy(u->fs);
            free(u->name);
            free(u);
        }
        flowset_destroy(t->base);
        t->base = NULL;
    }
    table_destroy(shash_find_and_delete(&e->tables, name));
    shash_destroy(&e->tables);
    sset_destroy(&e->changed);
    e->tables = saved;
    e->changed = changed;
    e->stats = stats;
    return fs;
}
