/* nbdb: writing the model's database: changes into verified
 * transactions that bump Global.generation, config imports, status rows.
 * (Compiled like nbdb.c, with MSLB_OVS_JSON_WITH_JANSSON.) */
#include <config.h>
#include "nbdb-private.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "hash.h"
#include "openvswitch/dynamic-string.h"
#include "mslb-idl.h"
#include "openvswitch/hmap.h"
#include "openvswitch/list.h"
#include "openvswitch/shash.h"
#include "openvswitch/vlog.h"
#include "ovsdb-idl.h"
#include "openvswitch/poll-loop.h"
#include "smap.h"
#include "sset.h"
#include "timeval.h"
#include "util.h"
#include "uuid.h"


#include "mslb/modeldb.h"

VLOG_DEFINE_THIS_MODULE(nbdb_write);

/* ---- Writing. ---- */

#define SOURCE_KEY "mslb-source"

static const char *
source_name(enum nbdb_source source)
{
    return source == NBDB_SOURCE_CONFIG ? "config" : "api";
}

static bool
row_from_config(const struct smap *external_ids)
{
    const char *s = smap_get(external_ids, SOURCE_KEY);
    return s && !strcmp(s, "config");
}

enum nbdb_source
nbdb_service_source(const struct nbdb *nb, const char *name)
{
    const struct mslbrec_service *row = nbdb_service_row(nb, name);

    return row && row_from_config(&row->external_ids) ? NBDB_SOURCE_CONFIG
                                                      : NBDB_SOURCE_API;
}

static void
set_opt_str(const char *cur, const char *want,
            void (*set)(const void *, const char *), const void *row)
{
    if ((cur == NULL) != (want == NULL) || (cur && strcmp(cur, want))) {
        set(row, want);
    }
}

#define SET_STR(TYPE, ROW, COL, WANT) \
    set_opt_str((ROW)->COL, (WANT), \
                (void (*)(const void *, const char *)) TYPE##_set_##COL, ROW)
#define SET_INT(TYPE, ROW, COL, WANT)               \
    do {                                            \
        if ((ROW)->COL != (int64_t) (WANT)) {       \
            TYPE##_set_##COL(ROW, WANT);            \
        }                                           \
    } while (0)

static void
verify_all(const struct ovsdb_idl_row *row, struct ovsdb_idl_column *cols,
           size_t n)
{
    for (size_t i = 0; i < n; i++) {
        ovsdb_idl_txn_verify(row, &cols[i]);
    }
}

static char *
addr_text(const struct mslb_addr *a)
{
    char buf[INET6_ADDRSTRLEN];
    mslb_addr_format(a, buf, sizeof buf);
    return xstrdup(buf);
}

static char *
mac_text(const struct mslb_mac *m)
{
    char buf[18];
    mslb_mac_format(m, buf, sizeof buf);
    return xstrdup(buf);
}

static const char *const state_names[] = { "up", "drain", "down" };

/* Seconds as the model reads them back exactly: "5", "0.5", "0.125". */
static void
add_seconds(struct smap *smap, const char *key, uint32_t ms)
{
    if (ms % 1000) {
        char buf[32];
        int n = snprintf(buf, sizeof buf, "%"PRIu32".%03"PRIu32, ms / 1000,
                         ms % 1000);
        while (buf[n - 1] == '0') {
            buf[--n] = '\0';
        }
        smap_add(smap, key, buf);
    } else {
        smap_add_format(smap, key, "%"PRIu32, ms / 1000);
    }
}

/* The fields of 'mon' that its object gave ('set'), as the "monitor"
 * column keeps them. */
static void
monitor_smap(const struct model_monitor *mon,
             const struct model_monitor_request *req, struct smap *smap)
{
    if (req) {
        const char *const keys[] = { "method", "path", "host", "status",
                                     "body", "send", "expect" };
        const char *const values[] = { req->method, req->path, req->host,
                                       req->status, req->body, req->send,
                                       req->expect };
        for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
            if (values[i]) {
                smap_add(smap, keys[i], values[i]);
            }
        }
    }
    if (mon->set & MODEL_MONITOR_F_TYPE) {
        smap_add(smap, "type", model_monitor_type_name(mon->type));
    }
    if (mon->set & MODEL_MONITOR_F_PORT) {
        smap_add_format(smap, "port", "%"PRIu16, mon->port);
    }
    if (mon->set & MODEL_MONITOR_F_INTERVAL) {
        add_seconds(smap, "interval", mon->interval_ms);
    }
    if (mon->set & MODEL_MONITOR_F_TIMEOUT) {
        add_seconds(smap, "timeout", mon->timeout_ms);
    }
    if (mon->set & MODEL_MONITOR_F_RISE) {
        smap_add_format(smap, "rise", "%d", mon->rise);
    }
    if (mon->set & MODEL_MONITOR_F_FALL) {
        smap_add_format(smap, "fall", "%d", mon->fall);
    }
    if (mon->set & MODEL_MONITOR_F_SESSIONS) {
        smap_add(smap, "sessions", mon->reset_sessions ? "reset" : "keep");
    }
}

#define SET_MONITOR(TYPE, ROW, MON, REQ)                    \
    do {                                                    \
        struct smap mon_ = SMAP_INITIALIZER(&mon_);         \
        monitor_smap(MON, REQ, &mon_);                      \
        if (!smap_equal(&mon_, &(ROW)->monitor)) {          \
            TYPE##_set_monitor(ROW, &mon_);                 \
        }                                                   \
        smap_destroy(&mon_);                                \
    } while (0)

/* A service's outbound as its row's map: "ip", "ports", "block",
 * "exclude" (space-separated prefixes), "blocks" (model.h's text form). */
static void
outbound_smap(const struct model_outbound *o, struct smap *m)
{
    char *ip = addr_text(&o->ip);
    char *blocks = model_outbound_blocks_format(o);
    json_t *j = model_outbound_to_json(o);
    json_t *ex = json_object_get(j, "exclude");
    struct ds exclude = DS_EMPTY_INITIALIZER;

    smap_add(m, "ip", ip);
    smap_add_format(m, "ports", "%u-%u", o->port_lo, o->port_hi);
    smap_add_format(m, "block", "%u", o->block);
    for (size_t i = 0; i < json_array_size(ex); i++) {
        ds_put_format(&exclude, "%s%s", i ? " " : "",
                      json_string_value(json_array_get(ex, i)));
    }
    if (exclude.length) {
        smap_add(m, "exclude", ds_cstr(&exclude));
    }
    if (blocks[0]) {
        smap_add(m, "blocks", blocks);
    }
    ds_destroy(&exclude);
    json_decref(j);
    free(blocks);
    free(ip);
}

static void
write_backend(struct nbdb *nb, const struct mslbrec_backend *row,
              const struct model_backend *be)
{
    char *ip = addr_text(&be->ip);
    char *mac = be->has_mac && !be->mac_unused ? mac_text(&be->mac) : NULL;
    char *host = be->host.family ? addr_text(&be->host) : NULL;
    const struct mslbrec_bridge *hb = be->host_bridge
                                      ? nbdb_bridge_row(nb,
                                                           be->host_bridge)
                                      : NULL;

    SET_STR(mslbrec_backend, row, name, be->name);
    SET_STR(mslbrec_backend, row, ip, ip);
    SET_INT(mslbrec_backend, row, port, be->port);
    SET_STR(mslbrec_backend, row, mac, mac);
    SET_INT(mslbrec_backend, row, weight, be->weight);
    SET_STR(mslbrec_backend, row, state, state_names[be->state]);
    SET_STR(mslbrec_backend, row, host, host);
    if (row->host_bridge != hb) {
        mslbrec_backend_set_host_bridge(row, hb);
    }
    SET_MONITOR(mslbrec_backend, row, &be->monitor, NULL);
    free(ip);
    free(mac);
    free(host);
}

static void
write_service(struct nbdb *nb, struct ovsdb_idl_txn *txn,
              const struct model_service *svc, enum nbdb_source source,
              bool own_slots)
{
    const struct mslbrec_service *row = nbdb_service_row(nb, svc->name);
    struct mslbrec_backend **bes;
    struct mslbrec_bridge **brs;
    char *vip = addr_text(&svc->vip);
    const char *proto = svc->proto ? model_proto_name(svc->proto) : "any";
    bool has_tunnel = svc->mode == MODEL_MODE_TUN
                      || model_mode_via_host(svc->mode);
    int64_t dscp = svc->dscp;
    int64_t mss = svc->mss;

    if (row) {
        verify_all(&row->header_, mslbrec_service_columns,
                   MSLBREC_SERVICE_N_COLUMNS);
    } else {
        row = mslbrec_service_insert(txn);
    }
    if (!nullable_string_is_equal(smap_get(&row->external_ids, SOURCE_KEY),
                                  source_name(source))) {
        mslbrec_service_update_external_ids_setkey(row, SOURCE_KEY,
                                                   source_name(source));
    }
    SET_STR(mslbrec_service, row, name, svc->name);
    SET_INT(mslbrec_service, row, id, svc->id);
    SET_STR(mslbrec_service, row, vip, vip);
    SET_STR(mslbrec_service, row, protocol, proto);
    SET_INT(mslbrec_service, row, port, svc->port);
    SET_STR(mslbrec_service, row, mode, model_mode_name(svc->mode));
    SET_INT(mslbrec_service, row, idle_timeout, svc->idle_timeout);
    SET_STR(mslbrec_service, row, empty,
            svc->reject_empty ? "reject" : NULL);
    SET_STR(mslbrec_service, row, distribution,
            svc->distribution != MODEL_DIST_5TUPLE
            ? model_distribution_name(svc->distribution) : NULL);
    /* The slot table moves on from the one the service has (the model's
     * copy of this row), or for a new service from the one the change
     * carries (a state file's): see model_slots_compute(). */
    const struct model_service *cur = mdb_find_service(nb->mdb, svc->name);
    struct model_slots slots;
    model_slots_compute(svc, cur && !own_slots ? &cur->slots : &svc->slots,
                        time_wall(), &slots);
    char *slots_text = slots.n_slots ? model_slots_format(&slots) : NULL;
    SET_STR(mslbrec_service, row, slots, slots_text);
    free(slots_text);
    model_slots_uninit(&slots);
    SET_INT(mslbrec_service, row, persistence, svc->persistence);
    SET_STR(mslbrec_service, row, tunnel,
            has_tunnel ? model_tunnel_name(svc->tunnel) : NULL);
    if (row->n_dscp != (svc->dscp ? 1 : 0)
        || (svc->dscp && row->dscp[0] != svc->dscp)) {
        mslbrec_service_set_dscp(row, &dscp, svc->dscp ? 1 : 0);
    }
    if (row->n_floating_ip != svc->floating_ip) {
        bool yes = true;
        mslbrec_service_set_floating_ip(row, &yes, svc->floating_ip);
    }
    if (row->n_mss != (svc->mss ? 1 : 0)
        || (svc->mss && row->mss[0] != svc->mss)) {
        mslbrec_service_set_mss(row, &mss, svc->mss ? 1 : 0);
    }
    SET_MONITOR(mslbrec_service, row, &svc->monitor, svc->request);
    /* Outbound blocks move on as the slot table does: from the service's
     * (the model's copy of this row), or those the change carries. */
    struct smap ob = SMAP_INITIALIZER(&ob);
    if (svc->outbound) {
        struct model_service fitted = *svc;
        const struct model_outbound *from
            = cur && !own_slots && cur->outbound ? cur->outbound
                                                 : svc->outbound;

        fitted.outbound = model_outbound_clone(svc->outbound);
        model_outbound_fit(&fitted, from->blocks, from->n_blocks);
        outbound_smap(fitted.outbound, &ob);
        model_outbound_destroy(fitted.outbound);
    }
    if (!smap_equal(&ob, &row->outbound)) {
        mslbrec_service_set_outbound(row, &ob);
    }
    smap_destroy(&ob);

    brs = xmalloc((svc->n_bridges + 1) * sizeof *brs);
    for (size_t i = 0; i < svc->n_bridges; i++) {
        brs[i] = CONST_CAST(struct mslbrec_bridge *,
                            nbdb_bridge_row(nb, svc->bridges[i]));
    }
    bool same = row->n_bridges == svc->n_bridges;
    for (size_t i = 0; same && i < svc->n_bridges; i++) {
        bool found = false;
        for (size_t k = 0; k < row->n_bridges && !found; k++) {
            found = row->bridges[k] == brs[i];
        }
        same = found;
    }
    if (!same) {
        mslbrec_service_set_bridges(row, brs, svc->n_bridges);
    }
    free(brs);

    /* Backend rows are reused by name, so a change writes what changed. */
    bes = xmalloc((svc->n_backends + 1) * sizeof *bes);
    bool same_set = row->n_backends == svc->n_backends;
    for (size_t i = 0; i < svc->n_backends; i++) {
        const struct model_backend *be = &svc->backends[i];
        const struct mslbrec_backend *old = NULL;

        for (size_t k = 0; k < row->n_backends && !old; k++) {
            if (!strcmp(row->backends[k]->name, be->name)) {
                old = row->backends[k];
            }
        }
        if (old) {
            verify_all(&old->header_, mslbrec_backend_columns,
                       MSLBREC_BACKEND_N_COLUMNS);
        } else {
            old = mslbrec_backend_insert(txn);
            same_set = false;
        }
        write_backend(nb, old, be);
        bes[i] = CONST_CAST(struct mslbrec_backend *, old);
    }
    if (!same_set) {
        mslbrec_service_set_backends(row, bes, svc->n_backends);
    }
    free(bes);
    free(vip);
}

static void
write_bridge(struct nbdb *nb, struct ovsdb_idl_txn *txn,
             const struct model_bridge *br, enum nbdb_source source)
{
    const struct mslbrec_bridge *row = nbdb_bridge_row(nb, br->name);
    struct smap tp = SMAP_INITIALIZER(&tp);
    const char **gws;
    char *mac = NULL, dpid[17];
    bool first = br->role == MODEL_ROLE_FIRST;

    if (row) {
        verify_all(&row->header_, mslbrec_bridge_columns,
                   MSLBREC_BRIDGE_N_COLUMNS);
    } else {
        row = mslbrec_bridge_insert(txn);
    }
    if (first || memcmp(&br->mac, "\0\0\0\0\0\0", 6)) {
        mac = mac_text(&br->mac);
    }
    snprintf(dpid, sizeof dpid, "%016"PRIx64, br->dpid);
    if (!nullable_string_is_equal(smap_get(&row->external_ids, SOURCE_KEY),
                                  source_name(source))) {
        mslbrec_bridge_update_external_ids_setkey(row, SOURCE_KEY,
                                                  source_name(source));
    }
    SET_STR(mslbrec_bridge, row, name, br->name);
    SET_STR(mslbrec_bridge, row, role, first ? "first" : "final");
    SET_STR(mslbrec_bridge, row, datapath_id, br->has_dpid ? dpid : NULL);
    SET_STR(mslbrec_bridge, row, mac, mac);
    SET_STR(mslbrec_bridge, row, frontend_port,
            br->frontend_port[0] ? br->frontend_port : NULL);
    SET_STR(mslbrec_bridge, row, backend_port,
            br->frontend_port[0] ? br->backend_port : NULL);
    SET_INT(mslbrec_bridge, row, ct_zone, br->ct_zone);
    if (br->tunnel_mtu == 1500 ? row->n_tunnel_mtu != 0
        : !row->n_tunnel_mtu || *row->tunnel_mtu != br->tunnel_mtu) {
        int64_t mtu = br->tunnel_mtu;
        /* The default stays implicit: absent in the database. */
        mslbrec_bridge_set_tunnel_mtu(row, &mtu, br->tunnel_mtu != 1500);
    }
    for (int t = 0; t < MODEL_N_TUNNELS; t++) {
        if (br->tunnel_ports[t]) {
            smap_add(&tp, model_tunnel_name(t), br->tunnel_ports[t]);
        }
    }
    if (!smap_equal(&tp, &row->tunnel_ports)) {
        mslbrec_bridge_set_tunnel_ports(row, &tp);
    }
    smap_destroy(&tp);
    gws = xmalloc((br->n_gateways + 1) * sizeof *gws);
    for (size_t i = 0; i < br->n_gateways; i++) {
        gws[i] = addr_text(&br->gateways[i]);
    }
    bool same = row->n_gateways == br->n_gateways;
    for (size_t i = 0; same && i < br->n_gateways; i++) {
        bool found = false;
        for (size_t k = 0; k < row->n_gateways && !found; k++) {
            found = !strcmp(row->gateways[k], gws[i]);
        }
        same = found;
    }
    if (!same) {
        mslbrec_bridge_set_gateways(row, gws, br->n_gateways);
    }
    for (size_t i = 0; i < br->n_gateways; i++) {
        free(CONST_CAST(char *, gws[i]));
    }
    free(gws);
    free(mac);
}

static const char *
change_name(const struct nbdb_change *c)
{
    return c->type == NBDB_PUT_SERVICE ? c->svc->name
           : c->type == NBDB_PUT_BRIDGE ? c->br->name : c->name;
}

static bool
change_is_bridge(const struct nbdb_change *c)
{
    return c->type == NBDB_PUT_BRIDGE || c->type == NBDB_DEL_BRIDGE;
}

/* The hash of the object 'c' replaces as it is now, 0 if none. */
static uint32_t
current_base(const struct nbdb *nb, const struct nbdb_change *c)
{
    const char *name = change_name(c);

    if (change_is_bridge(c)) {
        const struct model_bridge *br = mdb_find_bridge(nb->mdb, name);
        return br ? model_bridge_hash(br) : 0;
    } else {
        const struct model_service *svc = mdb_find_service(nb->mdb, name);
        return svc ? model_service_hash(svc) : 0;
    }
}

static void
write_change(struct nbdb *nb, const struct nbdb_change *c)
{
    switch (c->type) {
    case NBDB_PUT_SERVICE:
        write_service(nb, nb->txn, c->svc, c->source, c->own_slots);
        break;
    case NBDB_PUT_BRIDGE:
        write_bridge(nb, nb->txn, c->br, c->source);
        break;
    case NBDB_DEL_SERVICE: {
        const struct mslbrec_service *r = nbdb_service_row(nb, c->name);
        if (r) {
            verify_all(&r->header_, mslbrec_service_columns,
                       MSLBREC_SERVICE_N_COLUMNS);
            mslbrec_service_delete(r);
        }
        break;
    }
    case NBDB_DEL_BRIDGE: {
        const struct mslbrec_bridge *r = nbdb_bridge_row(nb, c->name);
        if (r) {
            verify_all(&r->header_, mslbrec_bridge_columns,
                       MSLBREC_BRIDGE_N_COLUMNS);
            mslbrec_bridge_delete(r);
        }
        break;
    }
    }
}

void
nbdb_batch_destroy(struct batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        model_service_destroy(b->changes[i].svc);
        model_bridge_destroy(b->changes[i].br);
        free(b->changes[i].name);
    }
    free(b->changes);
    free(b);
}

void
nbdb_batch_finish(struct batch *b, enum nbdb_status status, uint64_t gen,
             const char *error)
{
    ovs_list_remove(&b->node);
    if (b->done) {
        b->done(b->aux, status, gen, error);
    }
    nbdb_batch_destroy(b);
}

/* Starts a transaction with as many queued batches as can go together. */
void
nbdb_start_txn(struct nbdb *nb)
{
    const struct mslbrec_global *g = mslbrec_global_first(nb->idl);
    struct sset touched = SSET_INITIALIZER(&touched);
    struct ovs_list stale = OVS_LIST_INITIALIZER(&stale);
    struct batch *b;

    if (!g) {
        /* A new database: create the Global row first. */
        nb->txn = ovsdb_idl_txn_create(nb->idl);
        g = mslbrec_global_insert(nb->txn);
        mslbrec_global_set_generation(g, 0);
        nb->global_txn = true;
        ovsdb_idl_txn_commit(nb->txn);
        return;
    }
    if (nb->bump_gen) {
        nb->bump_gen = false;
        if (g->generation < nb->generation) {
            nb->txn = ovsdb_idl_txn_create(nb->idl);
            mslbrec_global_verify_generation(g);
            mslbrec_global_set_generation(g, nb->generation + 1);
            nb->global_txn = true;
            ovsdb_idl_txn_commit(nb->txn);
            return;
        }
    }
    LIST_FOR_EACH_SAFE (b, node, &nb->queue) {
        bool clash = false, moved = false;

        if (b->alone && nb->txn) {
            break;
        }
        for (size_t i = 0; i < b->n; i++) {
            char key[80];
            const struct nbdb_change *c = &b->changes[i];
            snprintf(key, sizeof key, "%c%s", change_is_bridge(c) ? 'B' : 'S',
                     change_name(c));
            clash |= sset_contains(&touched, key);
            moved |= current_base(nb, c) != c->base;
        }
        if (clash) {
            continue;           /* Next transaction, after the other. */
        }
        ovs_list_remove(&b->node);
        if (moved) {
            ovs_list_push_back(&stale, &b->node);
            continue;
        }
        if (!nb->txn) {
            nb->txn = ovsdb_idl_txn_create(nb->idl);
            ovsdb_idl_txn_add_comment(nb->txn, "mslbd: model change");
        }
        for (size_t i = 0; i < b->n; i++) {
            char key[80];
            const struct nbdb_change *c = &b->changes[i];
            snprintf(key, sizeof key, "%c%s", change_is_bridge(c) ? 'B' : 'S',
                     change_name(c));
            sset_add(&touched, key);
            write_change(nb, c);
        }
        ovs_list_push_back(&nb->inflight, &b->node);
        nb->stats.changes += b->n;
        if (b->alone) {
            break;
        }
    }
    sset_destroy(&touched);
    LIST_FOR_EACH_SAFE (b, node, &stale) {
        nb->stats.retries++;
        nbdb_batch_finish(b, NBDB_RETRY, nb->generation, NULL);
    }
    if (nb->txn) {
        nb->txn_seqno = ovsdb_idl_get_seqno(nb->idl);
        ovsdb_idl_txn_increment(nb->txn, &g->header_,
                                &mslbrec_global_col_generation, false);
        nb->stats.txns++;
        ovsdb_idl_txn_commit(nb->txn);
    }
}

static enum nbdb_status
classify(const char *error)
{
    return error && (strstr(error, "constraint violation")
                     || strstr(error, "referential integrity")
                     || strstr(error, "index"))
           ? NBDB_CONFLICT : NBDB_ERROR;
}

/* Looks at the transaction in flight; finishes it if it is done. */
void
nbdb_poll_txn(struct nbdb *nb)
{
    enum ovsdb_idl_txn_status status = ovsdb_idl_txn_commit(nb->txn);
    struct batch *b;

    if (status == TXN_INCOMPLETE) {
        return;
    }
    if (nb->global_txn) {
        if (status != TXN_SUCCESS && status != TXN_UNCHANGED) {
            static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(1, 5);
            VLOG_WARN_RL(&rl, "database: status or setup transaction: %s (%s)",
                         ovsdb_idl_txn_status_to_string(status),
                         ovsdb_idl_txn_get_error(nb->txn));
        }
    } else if (status == TXN_SUCCESS || status == TXN_UNCHANGED) {
        uint64_t gen = status == TXN_SUCCESS
                       ? ovsdb_idl_txn_get_increment_new_value(nb->txn)
                       : nb->generation;
        LIST_FOR_EACH_SAFE (b, node, &nb->inflight) {
            nbdb_batch_finish(b, NBDB_OK, gen, NULL);
        }
    } else if (status == TXN_TRY_AGAIN) {
        LIST_FOR_EACH_SAFE (b, node, &nb->inflight) {
            ovs_list_remove(&b->node);
            /* The news that made 'verify' fail may already be in. */
            b->retry_seqno = nb->txn_seqno;
            ovs_list_push_back(&nb->retrying, &b->node);
        }
    } else if (ovs_list_is_short(&nb->inflight)) {
        const char *error = ovsdb_idl_txn_get_error(nb->txn);
        enum nbdb_status st = classify(error);

        if (st == NBDB_CONFLICT) {
            nb->stats.conflicts++;
        }
        LIST_FOR_EACH_SAFE (b, node, &nb->inflight) {
            nbdb_batch_finish(b, st, nb->generation,
                         error ? error : ovsdb_idl_txn_status_to_string(
                             status));
        }
    } else {
        /* One of several failed: find it by committing each alone. */
        struct ovs_list again = OVS_LIST_INITIALIZER(&again);
        LIST_FOR_EACH_SAFE (b, node, &nb->inflight) {
            ovs_list_remove(&b->node);
            b->alone = true;
            ovs_list_push_back(&again, &b->node);
        }
        ovs_list_splice(nb->queue.next, again.next, &again);
    }
    ovsdb_idl_txn_destroy(nb->txn);
    nb->txn = NULL;
    nb->global_txn = false;
}

/* Service_Health and Neighbor rows: as the master's runtime facts are
 * (nbdb_set_runtime()), changing only the rows that differ. */
static void
write_runtime(struct nbdb *nb)
{
    const struct mslbrec_service_health *h, *hn;
    const struct mslbrec_neighbor *n, *nn;
    struct shash rows = SHASH_INITIALIZER(&rows);   /* Service -> row. */
    struct sset seen = SSET_INITIALIZER(&seen);
    struct shash_node *sn;
    struct smap_node *mn;

    MSLBREC_SERVICE_HEALTH_FOR_EACH_SAFE (h, hn, nb->lock_idl) {
        if (!shash_find(&nb->rt_health, h->service)
            || !shash_add_once(&rows, h->service, h)) {
            mslbrec_service_health_delete(h);
        }
    }
    SHASH_FOR_EACH (sn, &nb->rt_health) {
        const struct nbdb_health *want = sn->data;
        const struct mslbrec_service_health *row
            = shash_find_data(&rows, sn->name);
        int64_t *failed = xmalloc((want->n_failed + 1) * sizeof *failed);
        char **moves = xmalloc((want->n_moves + 1) * sizeof *moves);

        if (!row) {
            row = mslbrec_service_health_insert(nb->ltxn);
            mslbrec_service_health_set_service(row, sn->name);
        }
        for (size_t i = 0; i < want->n_failed; i++) {
            failed[i] = want->failed[i];
        }
        for (size_t i = 0; i < want->n_moves; i++) {
            moves[i] = xasprintf("%"PRIu32":%"PRIu32":%lld",
                                 want->moves[i].slot, want->moves[i].from,
                                 (long long int) want->moves[i].until);
        }
        /* The IDL writes a column only if it differs. */
        mslbrec_service_health_set_failed(row, failed, want->n_failed);
        mslbrec_service_health_set_moves(row, (const char **) moves,
                                         want->n_moves);
        for (size_t i = 0; i < want->n_moves; i++) {
            free(moves[i]);
        }
        free(moves);
        free(failed);
    }
    shash_destroy(&rows);
    MSLBREC_NEIGHBOR_FOR_EACH_SAFE (n, nn, nb->lock_idl) {
        const char *mac = smap_get(&nb->rt_neighbors, n->ip);

        if (!mac || !sset_add(&seen, n->ip)) {
            mslbrec_neighbor_delete(n);
        } else {
            mslbrec_neighbor_set_mac(n, mac);
        }
    }
    SMAP_FOR_EACH (mn, &nb->rt_neighbors) {
        if (!sset_contains(&seen, mn->key)) {
            const struct mslbrec_neighbor *row
                = mslbrec_neighbor_insert(nb->ltxn);
            mslbrec_neighbor_set_ip(row, mn->key);
            mslbrec_neighbor_set_mac(row, mn->value);
        }
    }
    sset_destroy(&seen);
}

/* Bridge_Status rows and Global.problems, through the lock's connection:
 * only the master writes them. */
void
nbdb_write_status(struct nbdb *nb)
{
    struct shash rows = SHASH_INITIALIZER(&rows);   /* Name -> row. */
    const struct mslbrec_bridge_status *r;
    struct shash_node *sn;

    if (!nbdb_status_pending(nb)) {
        return;
    }
    MSLBREC_BRIDGE_STATUS_FOR_EACH (r, nb->lock_idl) {
        shash_add_once(&rows, r->name, r);
    }
    nb->ltxn = ovsdb_idl_txn_create(nb->lock_idl);
    nb->ltxn_claim = false;
    nb->ltxn_rt = nb->rt_dirty;
    nb->ltxn_problems = nb->problems_dirty;
    ovsdb_idl_txn_add_comment(nb->ltxn, "mslbd %s: status", nb->id);
    SHASH_FOR_EACH (sn, &nb->status) {
        struct status_entry *e = sn->data;
        const struct mslbrec_bridge_status *row
            = shash_find_data(&rows, sn->name);
        char dpid[17];

        if (!e->dirty) {
            continue;
        }
        e->dirty = false;
        if (!row) {
            row = mslbrec_bridge_status_insert(nb->ltxn);
            mslbrec_bridge_status_set_name(row, sn->name);
        }
        snprintf(dpid, sizeof dpid, "%016"PRIx64, e->st.dpid);
        mslbrec_bridge_status_set_connected(row, e->st.connected);
        mslbrec_bridge_status_set_datapath_id(row, e->st.dpid ? dpid : NULL);
        mslbrec_bridge_status_set_openflow_version(row, e->version);
        mslbrec_bridge_status_set_installed_generation(
            row, e->st.installed_generation);
        mslbrec_bridge_status_set_desired_generation(
            row, e->st.desired_generation);
        mslbrec_bridge_status_set_flows(row, e->st.flows);
        mslbrec_bridge_status_set_groups(row, e->st.groups);
        mslbrec_bridge_status_set_error(row, e->error);
        mslbrec_bridge_status_set_master(row, nb->id);
    }
    if (nb->rt_dirty) {
        nb->rt_dirty = false;
        write_runtime(nb);
    }
    if (nb->problems_dirty) {
        const struct mslbrec_global *g = mslbrec_global_first(nb->lock_idl);
        if (g) {
            struct smap p = SMAP_INITIALIZER(&p);
            SHASH_FOR_EACH (sn, &nb->problems) {
                smap_add(&p, sn->name, sn->data);
            }
            mslbrec_global_set_problems(g, &p);
            smap_destroy(&p);
        }
        nb->problems_dirty = false;
    }
    shash_destroy(&rows);
    ovsdb_idl_txn_commit(nb->ltxn);
}

/* The lock was granted: take the next role generation, and say who is
 * master.  The server checks the lock in the same transaction.
 *
 * The generation goes above the database's, the wall clock's milliseconds
 * and any floor a switch taught us (nbdb_claim_above()): a switch keeps
 * the highest generation id it has seen for as long as it runs, and a new
 * or restored database starts lower. */
void
nbdb_claim(struct nbdb *nb)
{
    const struct mslbrec_global *g = mslbrec_global_first(nb->lock_idl);
    uint64_t gen;

    if (!g) {
        /* A new database: the Global row comes. */
        nb->next_claim_ms = time_msec() + 200;
        return;
    }
    gen = MAX((uint64_t) g->role_generation + 1, (uint64_t) time_wall_msec());
    gen = MAX(gen, nb->claim_floor);
    nb->ltxn = ovsdb_idl_txn_create(nb->lock_idl);
    nb->ltxn_claim = true;
    nb->ltxn_gen = gen;
    ovsdb_idl_txn_add_comment(nb->ltxn, "mslbd %s: master", nb->id);
    mslbrec_global_verify_role_generation(g);
    mslbrec_global_set_master(g, nb->id);
    mslbrec_global_set_role_generation(g, gen);
    ovsdb_idl_txn_commit(nb->ltxn);
}

void
nbdb_claim_above(struct nbdb *nb, uint64_t generation)
{
    if (generation < nb->claim_floor) {
        return;
    }
    VLOG_WARN("database: a switch has seen role generation %"PRIu64": "
              "claiming above it", generation);
    nb->claim_floor = generation + 1;
    nb->master = false;
    nb->next_claim_ms = 0;
}

/* Looks at the lock's transaction in flight; finishes it if it is done. */
void
nbdb_poll_ltxn(struct nbdb *nb)
{
    enum ovsdb_idl_txn_status status = ovsdb_idl_txn_commit(nb->ltxn);

    if (status == TXN_INCOMPLETE) {
        return;
    }
    if (nb->ltxn_claim && status == TXN_SUCCESS && nb->has_lock) {
        nb->role_gen = nb->ltxn_gen;
        nb->master = true;
        VLOG_INFO("database: this mslbd (%s) is master, role generation "
                  "%"PRIu64, nb->id, nb->role_gen);
        /* Everything we know goes in under our name. */
        struct shash_node *sn;
        SHASH_FOR_EACH (sn, &nb->status) {
            ((struct status_entry *) sn->data)->dirty = true;
        }
        nb->problems_dirty = true;
    } else if (status != TXN_SUCCESS
               && (status != TXN_UNCHANGED || nb->ltxn_claim)) {
        static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(1, 5);
        VLOG_INFO_RL(&rl, "database: %s transaction: %s (%s)",
                     nb->ltxn_claim ? "master's claim" : "status",
                     ovsdb_idl_txn_status_to_string(status),
                     ovsdb_idl_txn_get_error(nb->ltxn));
        if (!nb->ltxn_claim) {
            /* Write everything again next time. */
            struct shash_node *sn;
            SHASH_FOR_EACH (sn, &nb->status) {
                ((struct status_entry *) sn->data)->dirty = true;
            }
            nb->rt_dirty |= nb->ltxn_rt;
            nb->problems_dirty |= nb->ltxn_problems;
        }
        if (status == TXN_NOT_LOCKED && nb->master) {
            VLOG_WARN("database: the lock is not ours any more: this mslbd "
                      "(%s) is no longer master", nb->id);
            nb->master = false;
        }
        nb->next_claim_ms = time_msec() + 200;
    }
    ovsdb_idl_txn_destroy(nb->ltxn);
    nb->ltxn = NULL;
}

static void
expired_done(void *nb_, enum nbdb_status status, uint64_t gen,
             const char *error)
{
    struct nbdb *nb = nb_;

    (void) gen;
    nb->expiring = false;
    if (status != NBDB_OK) {
        /* RETRY: someone else wrote; the next check looks again. */
        VLOG_DBG("expiring slot moves: %s", error ? error : "retry");
    }
}

bool
nbdb_moves_due(struct nbdb *nb, struct sset *names)
{
    int64_t now = time_wall();
    const char *name;

    if (!nb->ready || !nb->master || nb->expiring
        || time_msec() < nb->next_expiry_ms) {
        return false;
    }
    nb->next_expiry_ms = time_msec() + 1000;
    /* Only the services that had timed moves when they were read. */
    SSET_FOR_EACH_SAFE (name, &nb->moving) {
        const struct model_service *svc = mdb_find_service(nb->mdb, name);
        int64_t next = svc ? model_slots_next_expiry(&svc->slots)
                           : INT64_MAX;

        if (next == INT64_MAX) {
            sset_delete(&nb->moving, SSET_NODE_FROM_NAME(name));
        } else if (next <= now && sset_count(names) < 256) {
            sset_add(names, name);
        }
    }
    return !sset_is_empty(names);
}

void
nbdb_settle_moves(struct nbdb *nb, const struct sset *names,
                  nbdb_move_alive_func *alive, void *aux)
{
    int64_t now = time_wall();
    struct nbdb_change *changes;
    size_t n = 0, kept = 0, ended = 0;
    const char *name;

    if (!nb->master) {
        return;                 /* Demoted while asking the switches. */
    }
    changes = xzalloc((sset_count(names) + 1) * sizeof *changes);

    SSET_FOR_EACH (name, names) {
        const struct model_service *svc = mdb_find_service(nb->mdb, name);
        const struct mslbrec_service *row;

        if (!svc || !(row = nbdb_service_row(nb, name))) {
            continue;
        }
        struct nbdb_change *c = &changes[n++];
        c->type = NBDB_PUT_SERVICE;
        c->source = row_from_config(&row->external_ids)
                    ? NBDB_SOURCE_CONFIG : NBDB_SOURCE_API;
        c->svc = xzalloc(sizeof *c->svc);
        model_service_clone(c->svc, svc);
        c->base = model_service_hash(svc);
        c->own_slots = true;
        /* A due move that still keeps sessions on some switch lasts
         * another idle_timeout; write_service() drops the others. */
        for (size_t i = 0; i < c->svc->slots.n_moves; i++) {
            struct model_slot_move *m = &c->svc->slots.moves[i];
            if (m->until == MODEL_MOVE_WHILE_DRAINING || m->until > now) {
                continue;
            }
            if (alive(aux, svc, m->slot, m->from)) {
                m->until = now + svc->idle_timeout;
                kept++;
            } else {
                ended++;
            }
        }
    }
    if (!n) {
        free(changes);
        return;
    }
    VLOG_INFO("slot moves due in %zu service%s: %zu ended, %zu kept for "
              "sessions still on their old backend", n, n == 1 ? "" : "s",
              ended, kept);
    nb->expiring = true;
    nbdb_submit(nb, changes, n, expired_done, nb);
}

void
nbdb_submit(struct nbdb *nb, struct nbdb_change *changes, size_t n,
            nbdb_done_func *done, void *aux)
{
    struct batch *b = xzalloc(sizeof *b);

    b->changes = changes;
    b->n = n;
    b->done = done;
    b->aux = aux;
    ovs_list_push_back(&nb->queue, &b->node);
    poll_immediate_wake();
}

void
nbdb_forget(struct nbdb *nb, void *aux)
{
    struct ovs_list *lists[] = { &nb->queue, &nb->inflight, &nb->retrying };
    struct batch *b;

    for (size_t i = 0; i < ARRAY_SIZE(lists); i++) {
        LIST_FOR_EACH (b, node, lists[i]) {
            if (b->aux == aux) {
                b->done = NULL;
            }
        }
    }
}

void
nbdb_import(struct nbdb *nb, const struct model *m, enum nbdb_source source,
            nbdb_done_func *done, void *aux)
{
    bool config = source == NBDB_SOURCE_CONFIG;
    struct sset named = SSET_INITIALIZER(&named);
    const struct mslbrec_service *sr;
    const struct mslbrec_bridge *br;
    struct nbdb_change *changes;
    size_t k = 0, n;

    n = m->n_bridges + m->n_services + hmap_count(&nb->service_names)
        + hmap_count(&nb->bridge_names);
    changes = xzalloc((n + 1) * sizeof *changes);
    for (size_t i = 0; i < m->n_bridges; i++) {
        const struct model_bridge *b = &m->bridges[i];
        const struct model_bridge *cur = mdb_find_bridge(nb->mdb, b->name);
        const struct mslbrec_bridge *row = nbdb_bridge_row(nb, b->name);

        sset_add(&named, b->name);
        if (config && row && !row_from_config(&row->external_ids)) {
            VLOG_WARN("config: bridge %s was changed over the REST API: "
                      "kept as it is", b->name);
            continue;
        }
        changes[k].type = NBDB_PUT_BRIDGE;
        changes[k].source = source;
        changes[k].br = xzalloc(sizeof *changes[k].br);
        model_bridge_clone(changes[k].br, b);
        changes[k++].base = cur ? model_bridge_hash(cur) : 0;
    }
    for (size_t i = 0; i < m->n_services; i++) {
        const struct model_service *svc = &m->services[i];
        const struct model_service *cur = mdb_find_service(nb->mdb,
                                                           svc->name);
        const struct mslbrec_service *row = nbdb_service_row(nb,
                                                                svc->name);

        sset_add(&named, svc->name);
        if (config && row && !row_from_config(&row->external_ids)) {
            VLOG_WARN("config: service %s was changed over the REST API: "
                      "kept as it is", svc->name);
            continue;
        }
        changes[k].type = NBDB_PUT_SERVICE;
        changes[k].source = source;
        changes[k].svc = xzalloc(sizeof *changes[k].svc);
        model_service_clone(changes[k].svc, svc);
        if (cur) {
            changes[k].svc->id = cur->id;       /* Ids never move. */
        } else if (mdb_find_service_by_id(nb->mdb, svc->id)) {
            changes[k].svc->id = mdb_new_service_id(nb->mdb, svc);
        }
        changes[k++].base = cur ? model_service_hash(cur) : 0;
    }
    if (config) {
        /* What an earlier config put there and this one no longer names;
         * services before the bridges they use. */
        MSLBREC_SERVICE_FOR_EACH (sr, nb->idl) {
            const struct model_service *cur;
            if (row_from_config(&sr->external_ids)
                && !sset_contains(&named, sr->name)
                && (cur = mdb_find_service(nb->mdb, sr->name))) {
                changes[k].type = NBDB_DEL_SERVICE;
                changes[k].name = xstrdup(sr->name);
                changes[k++].base = model_service_hash(cur);
            }
        }
        MSLBREC_BRIDGE_FOR_EACH (br, nb->idl) {
            const struct model_bridge *cur;
            if (row_from_config(&br->external_ids)
                && !sset_contains(&named, br->name)
                && (cur = mdb_find_bridge(nb->mdb, br->name))) {
                changes[k].type = NBDB_DEL_BRIDGE;
                changes[k].name = xstrdup(br->name);
                changes[k++].base = model_bridge_hash(cur);
            }
        }
    }
    sset_destroy(&named);
    nbdb_submit(nb, changes, k, done, aux);
}

