/* The indexed, tracked model: see modeldb.h. */
#include <config.h>
#include "mslb/modeldb.h"

#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "openvswitch/hmap.h"
#include "openvswitch/shash.h"
#include "util.h"

#define SERVICE_ID_MAX 0xffffffu    /* Ids fit a cookie's and group's 24 bits. */

struct svc_entry {
    struct hmap_node key_node;      /* In 'keys'. */
    struct hmap_node id_node;       /* In 'ids'. */
    struct model_service *svc;      /* Owned; also the data in 'services'. */
};

/* One backend address in a mode where the address's MAC is used: all its
 * uses must give the same MAC. */
struct mac_entry {
    struct hmap_node node;
    struct mslb_addr ip;
    struct mslb_mac mac;
    size_t refs;
};

struct mdb {
    struct shash services;          /* name -> struct svc_entry. */
    struct hmap keys;               /* By model_service_key_hash(). */
    struct hmap ids;                /* By id. */
    struct shash bridges;           /* name -> struct model_bridge. */
    struct hmap macs;               /* struct mac_entry by address. */
    size_t n_backends;
    size_t n_macless;               /* Backends without a configured MAC. */
    size_t n_outbound;              /* Services with an outbound. */
    size_t n_by_mode[MODEL_N_MODES];    /* Services per mode. */
    struct shash changed_services;  /* name -> old model_service or NULL. */
    struct shash changed_bridges;   /* name -> old model_bridge or NULL. */
    uint64_t addr_seq;              /* See mdb_addr_seq(). */
};

struct mdb *
mdb_create(void)
{
    struct mdb *db = xzalloc(sizeof *db);

    shash_init(&db->services);
    hmap_init(&db->keys);
    hmap_init(&db->ids);
    shash_init(&db->bridges);
    hmap_init(&db->macs);
    shash_init(&db->changed_services);
    shash_init(&db->changed_bridges);
    return db;
}

void
mdb_destroy(struct mdb *db)
{
    struct shash_node *node;

    if (!db) {
        return;
    }
    mdb_clear_tracked(db);
    SHASH_FOR_EACH (node, &db->services) {
        struct svc_entry *e = node->data;
        model_service_destroy(e->svc);
        free(e);
    }
    SHASH_FOR_EACH (node, &db->bridges) {
        model_bridge_destroy(node->data);
    }
    struct mac_entry *m;
    HMAP_FOR_EACH_POP (m, node, &db->macs) {
        free(m);
    }
    shash_destroy(&db->services);
    hmap_destroy(&db->keys);
    hmap_destroy(&db->ids);
    shash_destroy(&db->bridges);
    hmap_destroy(&db->macs);
    shash_destroy(&db->changed_services);
    shash_destroy(&db->changed_bridges);
    free(db);
}

size_t
mdb_n_services(const struct mdb *db)
{
    return shash_count(&db->services);
}

size_t
mdb_n_bridges(const struct mdb *db)
{
    return shash_count(&db->bridges);
}

size_t
mdb_n_services_in_mode(const struct mdb *db, enum model_mode mode)
{
    return db->n_by_mode[mode];
}

size_t
mdb_n_backends(const struct mdb *db)
{
    return db->n_backends;
}

size_t
mdb_n_macless(const struct mdb *db)
{
    return db->n_macless;
}

static struct svc_entry *
find_entry(const struct mdb *db, const char *name)
{
    return shash_find_data(&db->services, name);
}

const struct model_service *
mdb_find_service(const struct mdb *db, const char *name)
{
    struct svc_entry *e = find_entry(db, name);
    return e ? e->svc : NULL;
}

const struct model_service *
mdb_find_service_by_key(const struct mdb *db,
                        const struct model_service *key)
{
    struct svc_entry *e;

    HMAP_FOR_EACH_WITH_HASH (e, key_node, model_service_key_hash(key),
                             &db->keys) {
        if (!model_service_key_compare(e->svc, key)) {
            return e->svc;
        }
    }
    return NULL;
}

const struct model_service *
mdb_find_service_by_id(const struct mdb *db, uint32_t id)
{
    struct svc_entry *e;

    HMAP_FOR_EACH_WITH_HASH (e, id_node, hash_int(id, 0), &db->ids) {
        if (e->svc->id == id) {
            return e->svc;
        }
    }
    return NULL;
}

const struct model_bridge *
mdb_find_bridge(const struct mdb *db, const char *name)
{
    return shash_find_data(&db->bridges, name);
}

const struct model_bridge *
mdb_find_bridge_by_dpid(const struct mdb *db, uint64_t dpid)
{
    struct shash_node *node;

    SHASH_FOR_EACH (node, &db->bridges) {
        const struct model_bridge *br = node->data;
        if (br->has_dpid && br->dpid == dpid) {
            return br;
        }
    }
    return NULL;
}

static const struct model_bridge *
lookup_bridge(const void *db, const char *name)
{
    return mdb_find_bridge(db, name);
}

struct model_lookup
mdb_lookup(const struct mdb *db)
{
    return (struct model_lookup) { lookup_bridge, db };
}

/* The data of 'sh''s nodes sorted by name, with 'get' applied. */
static const void **
sorted_data(const struct shash *sh, size_t *n, bool entries)
{
    const struct shash_node **nodes = shash_sort(sh);
    size_t count = shash_count(sh);
    const void **out = xmalloc((count + 1) * sizeof *out);

    for (size_t i = 0; i < count; i++) {
        out[i] = entries ? ((const struct svc_entry *) nodes[i]->data)->svc
                         : nodes[i]->data;
    }
    free(nodes);
    *n = count;
    return out;
}

const struct model_service **
mdb_services_sorted(const struct mdb *db, size_t *n)
{
    return (const struct model_service **) sorted_data(&db->services, n,
                                                        true);
}

const struct model_bridge **
mdb_bridges_sorted(const struct mdb *db, size_t *n)
{
    return (const struct model_bridge **) sorted_data(&db->bridges, n,
                                                       false);
}

static bool
service_touches_bridge(const struct model_service *svc, const char *bridge)
{
    if (model_service_on_bridge(svc, bridge)) {
        return true;
    }
    for (size_t i = 0; i < svc->n_backends; i++) {
        const char *hb = svc->backends[i].host_bridge;
        if (hb && !strcmp(hb, bridge)) {
            return true;
        }
    }
    return false;
}

const struct model_service **
mdb_services_of_bridge(const struct mdb *db, const char *bridge, size_t *n)
{
    const struct model_service **all = mdb_services_sorted(db, n);
    size_t k = 0;

    for (size_t i = 0; i < *n; i++) {
        if (service_touches_bridge(all[i], bridge)) {
            all[k++] = all[i];
        }
    }
    *n = k;
    return all;
}

uint32_t
mdb_new_service_id(const struct mdb *db, const struct model_service *svc)
{
    uint32_t id = model_service_key_hash(svc) % SERVICE_ID_MAX + 1;

    while (mdb_find_service_by_id(db, id)) {
        id = id % SERVICE_ID_MAX + 1;
    }
    return id;
}

/* ---- Backend MACs. ---- */

static bool
mode_uses_mac(enum model_mode mode)
{
    return mode != MODEL_MODE_TUN && !model_mode_via_host(mode);
}

static uint32_t
addr_hash(const struct mslb_addr *a)
{
    return hash_bytes(&a->v6, a->family == AF_INET ? 4 : 16, a->family);
}

static struct mac_entry *
find_mac(const struct mdb *db, const struct mslb_addr *ip)
{
    struct mac_entry *m;

    HMAP_FOR_EACH_WITH_HASH (m, node, addr_hash(ip), &db->macs) {
        if (mslb_addr_equal(&m->ip, ip)) {
            return m;
        }
    }
    return NULL;
}

static void
index_macs(struct mdb *db, const struct model_service *svc, int delta)
{
    db->n_backends += delta * (int) svc->n_backends;
    for (size_t i = 0; i < svc->n_backends; i++) {
        db->n_macless += delta * !svc->backends[i].has_mac;
    }
    if (!mode_uses_mac(svc->mode)) {
        return;
    }
    for (size_t i = 0; i < svc->n_backends; i++) {
        const struct model_backend *be = &svc->backends[i];
        struct mac_entry *m;

        if (!be->has_mac) {
            continue;
        }
        m = find_mac(db, &be->ip);
        if (delta > 0) {
            if (!m) {
                m = xzalloc(sizeof *m);
                m->ip = be->ip;
                m->mac = be->mac;
                hmap_insert(&db->macs, &m->node, addr_hash(&be->ip));
            }
            m->refs++;
        } else if (m && !--m->refs) {
            hmap_remove(&db->macs, &m->node);
            free(m);
        }
    }
}

bool
mdb_backend_mac(const struct mdb *db, const struct mslb_addr *ip,
                struct mslb_mac *mac)
{
    const struct mac_entry *m = find_mac(db, ip);

    if (m) {
        *mac = m->mac;
    }
    return m != NULL;
}

/* ---- Checks across objects. ---- */

char *
mdb_check_service(const struct mdb *db, const struct model_service *svc,
                  const char *path, bool *conflict)
{
    const struct model_service *old = mdb_find_service(db, svc->name);
    const struct model_service *same;
    struct shash_node *node;
    char *error;

    *conflict = true;
    same = mdb_find_service_by_key(db, svc);
    if (same && same != old) {
        return xasprintf("%s%sduplicate virtual service (same vip, protocol "
                         "and port as service \"%s\")", path,
                         path[0] ? ": " : "", same->name);
    }
    same = svc->id ? mdb_find_service_by_id(db, svc->id) : NULL;
    if (same && same != old) {
        return xasprintf("%s%sid %u is used by service \"%s\"", path,
                         path[0] ? ": " : "", svc->id, same->name);
    }
    if (mode_uses_mac(svc->mode)) {
        for (size_t i = 0; i < svc->n_backends; i++) {
            const struct model_backend *be = &svc->backends[i];
            const struct mac_entry *m = be->has_mac ? find_mac(db, &be->ip)
                                        : NULL;
            size_t own = 0;

            if (!m || !memcmp(&m->mac, &be->mac, sizeof be->mac)) {
                continue;
            }
            /* Only the service being replaced may hold the old MAC. */
            for (size_t k = 0; old && mode_uses_mac(old->mode)
                               && k < old->n_backends; k++) {
                own += mslb_addr_equal(&old->backends[k].ip, &be->ip);
            }
            if (m->refs > own) {
                char mac[18];
                *conflict = false;      /* A bad value, as before. */
                mslb_mac_format(&m->mac, mac, sizeof mac);
                return xasprintf("%s%sbackends[%zu].mac: differs from the "
                                 "MAC %s another service gives the same "
                                 "address", path, path[0] ? "." : "", i,
                                 mac);
            }
        }
    }
    if (svc->mode == MODEL_MODE_L3DSR) {
        SHASH_FOR_EACH (node, &db->services) {
            const struct model_service *o
                = ((const struct svc_entry *) node->data)->svc;

            if (o != old
                && (error = model_check_l3dsr_pair(svc, o, path))) {
                return error;   /* A clash with another service: 409. */
            }
        }
    }
    /* Outbound SNAT: an O(services) walk, only while some service has
     * an outbound. */
    if (svc->outbound || db->n_outbound) {
        SHASH_FOR_EACH (node, &db->services) {
            const struct model_service *o
                = ((const struct svc_entry *) node->data)->svc;

            if (o != old && (o->outbound || svc->outbound)
                && (error = model_check_outbound_pair(svc, o, path))) {
                return error;
            }
        }
    }
    *conflict = false;
    SHASH_FOR_EACH (node, &db->bridges) {
        error = model_check_vip_gateways(svc, node->data,
                                         path[0] ? path : "vip");
        if (error) {
            return error;
        }
    }
    return NULL;
}

char *
mdb_check_bridge(const struct mdb *db, const struct model_bridge *br,
                 const char *path, bool *conflict)
{
    struct shash_node *node;

    *conflict = true;
    if (br->has_dpid) {
        const struct model_bridge *o = mdb_find_bridge_by_dpid(db, br->dpid);
        if (o && strcmp(o->name, br->name)) {
            return xasprintf("%s%sdatapath_id: bridge \"%s\" has it",
                             path, path[0] ? "." : "", o->name);
        }
    }
    SHASH_FOR_EACH (node, &db->services) {
        const struct model_service *svc
            = ((const struct svc_entry *) node->data)->svc;
        char *error;

        error = model_check_vip_gateways(svc, br, "gateways");
        if (error) {
            free(error);
            return xasprintf("%s%sgateways: the vip of service \"%s\"",
                             path, path[0] ? "." : "", svc->name);
        }
        if (service_touches_bridge(svc, br->name)) {
            const struct model_bridge *old = mdb_find_bridge(db, br->name);
            if (old && old->role != br->role) {
                return xasprintf("%s%srole: bridge is used by service "
                                 "\"%s\"", path, path[0] ? "." : "",
                                 svc->name);
            }
        }
        /* The gateway address its health probes are sent from. */
        error = model_check_monitor_gateways(svc, br, "");
        if (error) {
            free(error);
            return xasprintf("%s%sgateways: service \"%s\" sends health "
                             "probes from this bridge's IPv%d gateway "
                             "address (keep one)", path, path[0] ? "." : "",
                             svc->name, svc->vip.family == AF_INET ? 4 : 6);
        }
    }
    *conflict = false;
    return NULL;
}

const char *
mdb_bridge_user(const struct mdb *db, const char *name)
{
    const struct model_service **all;
    const char *user = NULL;
    size_t n;

    all = mdb_services_sorted(db, &n);
    for (size_t i = 0; i < n && !user; i++) {
        if (service_touches_bridge(all[i], name)) {
            user = all[i]->name;
        }
    }
    free(all);
    return user;
}

/* ---- Changes. ---- */

/* Remembers the state of 'name' before its first change. */
static void
track(struct shash *changed, const char *name, void *old, bool *kept)
{
    *kept = false;
    if (!shash_find(changed, name)) {
        shash_add(changed, name, old);
        *kept = true;
    }
}

static void
unlink_entry(struct mdb *db, struct svc_entry *e)
{
    hmap_remove(&db->keys, &e->key_node);
    hmap_remove(&db->ids, &e->id_node);
    index_macs(db, e->svc, -1);
    db->n_outbound -= e->svc->outbound != NULL;
    db->n_by_mode[e->svc->mode]--;
}

/* The next backend of 'svc' from index '*i' on that sits behind a final
 * stage, or NULL. */
static const struct model_backend *
next_hosted(const struct model_service *svc, size_t *i)
{
    while (*i < svc->n_backends) {
        const struct model_backend *be = &svc->backends[(*i)++];
        if (be->host_bridge) {
            return be;
        }
    }
    return NULL;
}

/* Whether 'a' and 'b' announce the same addresses: the VIP, the bridges
 * it is on, and the backends behind final stages (address, host bridge,
 * whether down). */
static bool
same_addresses(const struct model_service *a, const struct model_service *b)
{
    if (!mslb_addr_equal(&a->vip, &b->vip) || a->n_bridges != b->n_bridges
        || !a->outbound != !b->outbound
        || (a->outbound && !mslb_addr_equal(&a->outbound->ip,
                                            &b->outbound->ip))) {
        return false;
    }
    for (size_t i = 0; i < a->n_bridges; i++) {
        if (strcmp(a->bridges[i], b->bridges[i])) {
            return false;
        }
    }
    size_t i = 0, k = 0;
    for (;;) {
        const struct model_backend *x = next_hosted(a, &i);
        const struct model_backend *y = next_hosted(b, &k);
        if (!x || !y) {
            return x == y;
        }
        if (strcmp(x->host_bridge, y->host_bridge)
            || !mslb_addr_equal(&x->ip, &y->ip)
            || (x->state == MODEL_BACKEND_DOWN)
               != (y->state == MODEL_BACKEND_DOWN)) {
            return false;
        }
    }
}

uint64_t
mdb_addr_seq(const struct mdb *db)
{
    return db->addr_seq;
}

void
mdb_put_service(struct mdb *db, struct model_service *svc)
{
    struct svc_entry *e = find_entry(db, svc->name);
    bool kept;

    if (!e || !same_addresses(e->svc, svc)) {
        db->addr_seq++;
    }
    if (e) {
        unlink_entry(db, e);
        track(&db->changed_services, svc->name, e->svc, &kept);
        if (!kept) {
            model_service_destroy(e->svc);
        }
    } else {
        e = xzalloc(sizeof *e);
        track(&db->changed_services, svc->name, NULL, &kept);
        shash_add(&db->services, svc->name, e);
    }
    e->svc = svc;
    hmap_insert(&db->keys, &e->key_node, model_service_key_hash(svc));
    hmap_insert(&db->ids, &e->id_node, hash_int(svc->id, 0));
    index_macs(db, svc, 1);
    db->n_outbound += svc->outbound != NULL;
    db->n_by_mode[svc->mode]++;
}

bool
mdb_remove_service(struct mdb *db, const char *name)
{
    struct shash_node *node = shash_find(&db->services, name);
    struct svc_entry *e;
    bool kept;

    if (!node) {
        return false;
    }
    e = node->data;
    db->addr_seq++;
    unlink_entry(db, e);
    track(&db->changed_services, name, e->svc, &kept);
    if (!kept) {
        model_service_destroy(e->svc);
    }
    shash_delete(&db->services, node);
    free(e);
    return true;
}

void
mdb_put_bridge(struct mdb *db, struct model_bridge *br)
{
    struct shash_node *node = shash_find(&db->bridges, br->name);
    bool kept;

    db->addr_seq++;
    if (node) {
        track(&db->changed_bridges, br->name, node->data, &kept);
        if (!kept) {
            model_bridge_destroy(node->data);
        }
        node->data = br;
    } else {
        track(&db->changed_bridges, br->name, NULL, &kept);
        shash_add(&db->bridges, br->name, br);
    }
}

bool
mdb_remove_bridge(struct mdb *db, const char *name)
{
    struct shash_node *node = shash_find(&db->bridges, name);
    bool kept;

    if (!node) {
        return false;
    }
    db->addr_seq++;
    track(&db->changed_bridges, name, node->data, &kept);
    if (!kept) {
        model_bridge_destroy(node->data);
    }
    shash_delete(&db->bridges, node);
    return true;
}

const struct shash *
mdb_changed_services(const struct mdb *db)
{
    return &db->changed_services;
}

const struct shash *
mdb_changed_bridges(const struct mdb *db)
{
    return &db->changed_bridges;
}

bool
mdb_has_changes(const struct mdb *db)
{
    return !shash_is_empty(&db->changed_services)
           || !shash_is_empty(&db->changed_bridges);
}

void
mdb_clear_tracked(struct mdb *db)
{
    struct shash_node *node;

    SHASH_FOR_EACH (node, &db->changed_services) {
        model_service_destroy(node->data);
    }
    SHASH_FOR_EACH (node, &db->changed_bridges) {
        model_bridge_destroy(node->data);
    }
    shash_clear(&db->changed_services);
    shash_clear(&db->changed_bridges);
}

struct model *
mdb_to_model(const struct mdb *db)
{
    struct model *m = xzalloc(sizeof *m);
    const struct model_service **svcs;
    const struct model_bridge **brs;

    brs = mdb_bridges_sorted(db, &m->n_bridges);
    m->bridges = xzalloc((m->n_bridges + 1) * sizeof *m->bridges);
    for (size_t i = 0; i < m->n_bridges; i++) {
        model_bridge_clone(&m->bridges[i], brs[i]);
    }
    free(brs);
    svcs = mdb_services_sorted(db, &m->n_services);
    m->services = xzalloc((m->n_services + 1) * sizeof *m->services);
    for (size_t i = 0; i < m->n_services; i++) {
        model_service_clone(&m->services[i], svcs[i]);
    }
    free(svcs);
    return m;
}

bool
mdb_is_slb_host(const struct mdb *db, const char *bridge)
{
    const struct model_service **svcs;
    bool yes = false;
    size_t n;

    svcs = mdb_services_of_bridge(db, bridge, &n);
    for (size_t i = 0; i < n && !yes; i++) {
        if (svcs[i]->mode != MODEL_MODE_SLB) {
            continue;
        }
        for (size_t k = 0; k < svcs[i]->n_backends && !yes; k++) {
            yes = svcs[i]->backends[k].host_bridge
                  && !strcmp(svcs[i]->backends[k].host_bridge, bridge);
        }
    }
    free(svcs);
    return yes;
}
