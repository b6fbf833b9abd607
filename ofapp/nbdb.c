/* nbdb: the model's OVSDB database: see nbdb.h.  This file reads: the
 * IDL's rows into the model; nbdb_write.c writes.
 *
 * Compiled with MSLB_OVS_JSON_WITH_JANSSON: json_xxx below is jansson's
 * (rows are turned into jansson documents for the model's validator);
 * OVS's JSON is not used directly. */
#include <config.h>
#include "nbdb-private.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

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

#include <jansson.h>

#include "mslb/modeldb.h"

VLOG_DEFINE_THIS_MODULE(nbdb);

/* ---- uuid -> name maps. ---- */

static struct uuid_name *
un_find(const struct hmap *map, const struct uuid *uuid)
{
    struct uuid_name *un;

    HMAP_FOR_EACH_WITH_HASH (un, node, uuid_hash(uuid), map) {
        if (uuid_equals(&un->uuid, uuid)) {
            return un;
        }
    }
    return NULL;
}

static const char *
un_get(const struct hmap *map, const struct uuid *uuid)
{
    struct uuid_name *un = un_find(map, uuid);
    return un ? un->name : NULL;
}

static void
un_set(struct hmap *map, const struct uuid *uuid, const char *name)
{
    struct uuid_name *un = un_find(map, uuid);

    if (!un) {
        un = xzalloc(sizeof *un);
        un->uuid = *uuid;
        hmap_insert(map, &un->node, uuid_hash(uuid));
    } else if (!strcmp(un->name, name)) {
        return;
    }
    free(un->name);
    un->name = xstrdup(name);
}

static void
un_del(struct hmap *map, const struct uuid *uuid)
{
    struct uuid_name *un = un_find(map, uuid);
    if (un) {
        hmap_remove(map, &un->node);
        free(un->name);
        free(un);
    }
}

static void
un_clear(struct hmap *map)
{
    struct uuid_name *un;

    HMAP_FOR_EACH_POP (un, node, map) {
        free(un->name);
        free(un);
    }
}

/* ---- Problems. ---- */

static void
set_problem(struct nbdb *nb, const char *kind, const char *name,
            char *reason)
{
    char *key = xasprintf("%s %s", kind, name);
    char *old = shash_find_data(&nb->problems, key);

    if (!old || strcmp(old, reason)) {
        VLOG_WARN("database: %s refused, the model keeps its last valid "
                  "state: %s", key, reason);
        nb->stats.rows_refused++;
        nb->problems_dirty = true;
    }
    free(shash_replace(&nb->problems, key, reason));
    free(key);
}

static void
clear_problem(struct nbdb *nb, const char *kind, const char *name)
{
    char *key = xasprintf("%s %s", kind, name);
    char *old = shash_find_and_delete(&nb->problems, key);

    if (old) {
        VLOG_INFO("database: %s accepted again", key);
        nb->problems_dirty = true;
        free(old);
    }
    free(key);
}

/* ---- Rows to the model. ---- */

static json_t *
bridge_row_json(const struct mslbrec_bridge *r)
{
    json_t *j = json_pack("{s:s, s:s, s:I}", "name", r->name, "role",
                          r->role, "ct_zone", (json_int_t) r->ct_zone);
    json_t *gws = json_array();
    struct smap_node *sn;

    if (r->n_tunnel_mtu) {
        json_object_set_new(j, "tunnel_mtu",
                            json_integer(r->tunnel_mtu[0]));
    }
    if (r->datapath_id) {
        json_object_set_new(j, "datapath_id", json_string(r->datapath_id));
    }
    if (r->mac) {
        json_object_set_new(j, "mac", json_string(r->mac));
    }
    if (r->frontend_port) {
        json_object_set_new(j, "frontend_port",
                            json_string(r->frontend_port));
    }
    if (r->backend_port) {
        json_object_set_new(j, "backend_port", json_string(r->backend_port));
    }
    if (!smap_is_empty(&r->tunnel_ports)) {
        json_t *tp = json_object();
        SMAP_FOR_EACH (sn, &r->tunnel_ports) {
            json_object_set_new(tp, sn->key, json_string(sn->value));
        }
        json_object_set_new(j, "tunnel_ports", tp);
    }
    for (size_t i = 0; i < r->n_gateways; i++) {
        json_array_append_new(gws, json_string(r->gateways[i]));
    }
    json_object_set_new(j, "gateways", gws);
    return j;
}

/* A Service's or a Backend's "monitor" column: the fields its JSON object
 * gave, as text.  Numbers become JSON numbers again (the text members of
 * http and udp monitors stay strings); a value that is not one stays a
 * string, for the model to refuse with the field's name. */
static json_t *
monitor_row_json(const struct smap *monitor)
{
    json_t *j = json_object();
    struct smap_node *sn;

    SMAP_FOR_EACH (sn, monitor) {
        const char *v = sn->value;
        json_t *value = NULL;
        char *end;

        static const char *const texts[] = {
            "type", "sessions", "method", "path", "host", "status", "body",
            "send", "expect", NULL
        };
        bool text = false;

        for (int k = 0; texts[k] && !text; k++) {
            text = !strcmp(sn->key, texts[k]);
        }
        if (!text && v[0]) {
            errno = 0;
            long long n = strtoll(v, &end, 10);
            if (!*end && !errno) {
                value = json_integer(n);
            } else if (strspn(v, "0123456789.") == strlen(v)) {
                double d;

                errno = 0;
                d = strtod(v, &end);
                if (!*end && !errno) {
                    value = json_real(d);
                }
            }
        }
        json_object_set_new(j, sn->key, value ? value : json_string(v));
    }
    return j;
}

static json_t *
backend_row_json(const struct mslbrec_backend *r)
{
    json_t *j = json_pack("{s:s, s:s, s:I, s:s}", "name", r->name, "ip",
                          r->ip, "weight", (json_int_t) r->weight, "state",
                          r->state);

    if (r->port) {
        json_object_set_new(j, "port", json_integer(r->port));
    }
    if (r->mac) {
        json_object_set_new(j, "mac", json_string(r->mac));
    }
    if (r->host) {
        json_object_set_new(j, "host", json_string(r->host));
    }
    if (r->host_bridge) {
        json_object_set_new(j, "host_bridge",
                            json_string(r->host_bridge->name));
    }
    if (!smap_is_empty(&r->monitor)) {
        json_object_set_new(j, "monitor", monitor_row_json(&r->monitor));
    }
    return j;
}

/* The row's "outbound" map (nbdb_write.c's outbound_smap()) as the
 * model's JSON; an unreadable "blocks" starts anew (the model gives each
 * host a block again). */
static json_t *
outbound_row_json(const struct mslbrec_service *r)
{
    const struct smap *m = &r->outbound;
    json_t *j = json_object();
    const char *s;

    if ((s = smap_get(m, "ip"))) {
        json_object_set_new(j, "ip", json_string(s));
    }
    if ((s = smap_get(m, "ports"))) {
        json_object_set_new(j, "ports", json_string(s));
    }
    if ((s = smap_get(m, "block"))) {
        json_object_set_new(j, "block", json_integer(atoi(s)));
    }
    if ((s = smap_get(m, "exclude"))) {
        json_t *arr = json_array();
        char *copy = xstrdup(s), *save = NULL;
        for (char *tok = strtok_r(copy, " ", &save); tok;
             tok = strtok_r(NULL, " ", &save)) {
            json_array_append_new(arr, json_string(tok));
        }
        free(copy);
        json_object_set_new(j, "exclude", arr);
    }
    if ((s = smap_get(m, "blocks"))) {
        struct model_snat_block *b;
        size_t n;

        if (model_outbound_blocks_parse(s, &b, &n)) {
            json_t *arr = json_array();
            for (size_t i = 0; i < n; i++) {
                json_array_append_new(arr, json_pack(
                    "{s:i, s:s}", "start", (int) b[i].start,
                    "host_bridge", b[i].host_bridge));
            }
            json_object_set_new(j, "blocks", arr);
            model_snat_blocks_free(b, n);
        } else {
            VLOG_WARN("service %s: unreadable outbound blocks: starting "
                      "anew", r->name);
        }
    }
    return j;
}

static json_t *
service_row_json(const struct mslbrec_service *r)
{
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "name", r->name,
                          "vip", r->vip, "protocol", r->protocol, "mode",
                          r->mode, "idle_timeout",
                          (json_int_t) r->idle_timeout, "persistence",
                          (json_int_t) r->persistence);
    json_t *bridges = json_array(), *backends = json_array();

    if (r->port) {
        json_object_set_new(j, "port", json_integer(r->port));
    }
    if (r->tunnel) {
        json_object_set_new(j, "tunnel", json_string(r->tunnel));
    }
    if (r->n_dscp) {
        json_object_set_new(j, "dscp", json_integer(r->dscp[0]));
    }
    if (r->n_mss) {
        json_object_set_new(j, "mss", json_integer(r->mss[0]));
    }
    if (r->n_floating_ip && r->floating_ip[0]) {
        json_object_set_new(j, "floating_ip", json_true());
    }
    if (r->empty) {
        json_object_set_new(j, "empty", json_string(r->empty));
    }
    if (r->distribution) {
        json_object_set_new(j, "distribution", json_string(r->distribution));
    }
    if (!smap_is_empty(&r->monitor)) {
        json_object_set_new(j, "monitor", monitor_row_json(&r->monitor));
    }
    if (!smap_is_empty(&r->outbound)) {
        json_object_set_new(j, "outbound", outbound_row_json(r));
    }
    /* The slot table the row keeps (written by nbdb_write.c from the one
     * before it), with its moves as they stand: the model fits it to the
     * row's backends (a writer that bypassed mslbd), and one that cannot
     * be read starts anew. */
    struct model_slots kept;
    if (r->slots && model_slots_parse(r->slots, &kept)) {
        json_object_set_new(j, "slots", json_string(r->slots));
        model_slots_uninit(&kept);
    } else if (r->slots) {
        VLOG_WARN("service %s: unreadable slot table: starting anew",
                  r->name);
    }
    for (size_t i = 0; i < r->n_bridges; i++) {
        json_array_append_new(bridges, json_string(r->bridges[i]->name));
    }
    /* Sets of references come in uuid order: sort backends by name, so a
     * service reads the same whatever its rows' uuids. */
    const struct mslbrec_backend **bes = xmalloc((r->n_backends + 1)
                                                 * sizeof *bes);
    for (size_t i = 0; i < r->n_backends; i++) {
        bes[i] = r->backends[i];
    }
    for (size_t i = 1; i < r->n_backends; i++) {
        for (size_t k = i; k > 0 && strcmp(bes[k - 1]->name,
                                           bes[k]->name) > 0; k--) {
            const struct mslbrec_backend *t = bes[k];
            bes[k] = bes[k - 1];
            bes[k - 1] = t;
        }
    }
    for (size_t i = 0; i < r->n_backends; i++) {
        json_array_append_new(backends, backend_row_json(bes[i]));
    }
    free(bes);
    json_object_set_new(j, "bridges", bridges);
    json_object_set_new(j, "backends", backends);
    return j;
}

static void
take_bridge(struct nbdb *nb, const struct mslbrec_bridge *r)
{
    const char *old_name = un_get(&nb->bridge_names, &r->header_.uuid);
    json_t *j = bridge_row_json(r);
    struct model_bridge *br;
    bool conflict;
    char *error;

    if (old_name && strcmp(old_name, r->name)) {
        mdb_remove_bridge(nb->mdb, old_name);       /* Renamed. */
    }
    un_set(&nb->bridge_names, &r->header_.uuid, r->name);
    error = model_bridge_from_json(j, "", &br);
    json_decref(j);
    if (!error) {
        error = mdb_check_bridge(nb->mdb, br, "", &conflict);
        if (error) {
            model_bridge_destroy(br);
        }
    }
    if (error) {
        set_problem(nb, "Bridge", r->name, error);
        return;
    }
    clear_problem(nb, "Bridge", r->name);
    const struct model_bridge *cur = mdb_find_bridge(nb->mdb, br->name);
    if (cur && model_bridge_hash(cur) == model_bridge_hash(br)) {
        model_bridge_destroy(br);
        return;
    }
    mdb_put_bridge(nb->mdb, br);
}

static void
take_service(struct nbdb *nb, const struct mslbrec_service *r)
{
    const char *old_name = un_get(&nb->service_names, &r->header_.uuid);
    struct model_lookup lk = mdb_lookup(nb->mdb);
    json_t *j = service_row_json(r);
    struct model_service *svc;
    bool conflict;
    char *error;

    if (old_name && strcmp(old_name, r->name)) {
        mdb_remove_service(nb->mdb, old_name);      /* Renamed. */
        shash_find_and_delete(&nb->service_rows, old_name);
    }
    un_set(&nb->service_names, &r->header_.uuid, r->name);
    shash_replace(&nb->service_rows, r->name,
                  un_find(&nb->service_names, &r->header_.uuid));
    for (size_t i = 0; i < r->n_backends; i++) {
        un_set(&nb->backend_owner, &r->backends[i]->header_.uuid, r->name);
    }
    error = model_service_from_json(j, "", &lk, &svc);
    json_decref(j);
    if (!error) {
        svc->id = r->id;
        error = mdb_check_service(nb->mdb, svc, "", &conflict);
        if (error) {
            model_service_destroy(svc);
        }
    }
    if (error) {
        set_problem(nb, "Service", r->name, error);
        return;
    }
    clear_problem(nb, "Service", r->name);
    const struct model_service *cur = mdb_find_service(nb->mdb, svc->name);
    if (cur && model_service_hash(cur) == model_service_hash(svc)) {
        model_service_destroy(svc);
        return;
    }
    if (model_slots_next_expiry(&svc->slots) != INT64_MAX) {
        sset_add(&nb->moving, svc->name);
    }
    mdb_put_service(nb->mdb, svc);
}

const struct mslbrec_service *
nbdb_service_row(const struct nbdb *nb, const char *name)
{
    const struct uuid_name *un = shash_find_data(&nb->service_rows, name);
    return un ? mslbrec_service_get_for_uuid(nb->idl, &un->uuid) : NULL;
}

const struct mslbrec_bridge *
nbdb_bridge_row(const struct nbdb *nb, const char *name)
{
    const struct mslbrec_bridge *r;

    MSLBREC_BRIDGE_FOR_EACH (r, nb->idl) {
        if (!strcmp(r->name, name)) {
            return r;
        }
    }
    return NULL;
}

/* Takes every row again (at start and after a reconnection). */
void
nbdb_full_sync(struct nbdb *nb)
{
    const struct mslbrec_bridge *br;
    const struct mslbrec_service *svc;
    struct sset seen = SSET_INITIALIZER(&seen);
    const struct model_bridge **brs;
    const struct model_service **svcs;
    size_t n;

    un_clear(&nb->bridge_names);
    shash_clear(&nb->service_rows);
    un_clear(&nb->service_names);
    un_clear(&nb->backend_owner);
    MSLBREC_BRIDGE_FOR_EACH (br, nb->idl) {
        take_bridge(nb, br);
        sset_add(&seen, br->name);
    }
    MSLBREC_SERVICE_FOR_EACH (svc, nb->idl) {
        take_service(nb, svc);
        sset_add(&seen, svc->name);
    }
    svcs = mdb_services_sorted(nb->mdb, &n);
    for (size_t i = 0; i < n; i++) {
        if (!sset_contains(&seen, svcs[i]->name)) {
            mdb_remove_service(nb->mdb, svcs[i]->name);
        }
    }
    free(svcs);
    brs = mdb_bridges_sorted(nb->mdb, &n);
    for (size_t i = 0; i < n; i++) {
        if (!sset_contains(&seen, brs[i]->name)) {
            mdb_remove_bridge(nb->mdb, brs[i]->name);
        }
    }
    free(brs);
    sset_destroy(&seen);
}

/* Takes the tracked changes since the last run. */
void
nbdb_tracked_sync(struct nbdb *nb)
{
    const struct mslbrec_bridge *br;
    const struct mslbrec_service *svc;
    const struct mslbrec_backend *be;
    struct sset redo = SSET_INITIALIZER(&redo);
    struct sset deleted_bridges = SSET_INITIALIZER(&deleted_bridges);
    const char *name;

    MSLBREC_BRIDGE_FOR_EACH_TRACKED (br, nb->idl) {
        if (mslbrec_bridge_is_deleted(br)) {
            name = un_get(&nb->bridge_names, &br->header_.uuid);
            if (name) {
                sset_add(&deleted_bridges, name);
                clear_problem(nb, "Bridge", name);
                un_del(&nb->bridge_names, &br->header_.uuid);
            }
        } else {
            take_bridge(nb, br);
        }
    }
    MSLBREC_BACKEND_FOR_EACH_TRACKED (be, nb->idl) {
        name = un_get(&nb->backend_owner, &be->header_.uuid);
        if (name) {
            sset_add(&redo, name);
        }
        if (mslbrec_backend_is_deleted(be)) {
            un_del(&nb->backend_owner, &be->header_.uuid);
        }
    }
    MSLBREC_SERVICE_FOR_EACH_TRACKED (svc, nb->idl) {
        if (mslbrec_service_is_deleted(svc)) {
            name = un_get(&nb->service_names, &svc->header_.uuid);
            if (name) {
                mdb_remove_service(nb->mdb, name);
                clear_problem(nb, "Service", name);
                sset_find_and_delete(&redo, name);
                shash_find_and_delete(&nb->service_rows, name);
                un_del(&nb->service_names, &svc->header_.uuid);
            }
        } else {
            take_service(nb, svc);
            sset_find_and_delete(&redo, svc->name);
        }
    }
    /* Backends changed in place: their services. */
    SSET_FOR_EACH (name, &redo) {
        const struct mslbrec_service *r = nbdb_service_row(nb, name);
        if (r) {
            take_service(nb, r);
        }
    }
    /* Refused services may be fine now that something else changed. */
    if (!shash_is_empty(&nb->problems)) {
        struct shash_node *sn, *next;
        SHASH_FOR_EACH_SAFE (sn, next, &nb->problems) {
            if (!strncmp(sn->name, "Service ", 8)) {
                const struct mslbrec_service *r
                    = nbdb_service_row(nb, sn->name + 8);
                if (r) {
                    take_service(nb, r);
                }
            }
        }
    }
    SSET_FOR_EACH (name, &deleted_bridges) {
        if (!nbdb_bridge_row(nb, name)) {
            mdb_remove_bridge(nb->mdb, name);
        }
    }
    sset_destroy(&redo);
    sset_destroy(&deleted_bridges);
}

/* ---- Public. ---- */

/* ---- Reconnecting to a cluster. ----
 *
 * The IDL tries a cluster's members in turn, but backs off (1 s doubling
 * to 8 s) after every member that is down or does not lead, so after the
 * leader's death it may take many seconds to find the new one.  After a
 * second without a connection, nbdb gives the IDL the same members in
 * another order: a new session, tried at once. */
#define REDIAL_MS 1000

static void
redial_init(struct redial *r, const char *remote)
{
    char *copy = xstrdup(remote), *save = NULL;

    memset(r, 0, sizeof *r);
    for (char *tok = strtok_r(copy, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        r->remotes = xrealloc(r->remotes, (r->n + 1) * sizeof *r->remotes);
        r->remotes[r->n++] = xstrdup(tok);
    }
    free(copy);
}

static void
redial_destroy(struct redial *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->remotes[i]);
    }
    free(r->remotes);
}

static void
redial_run(struct redial *r, struct ovsdb_idl *idl, bool up)
{
    long long int now = time_msec();

    if (up || r->n < 2) {
        r->down_since = 0;
        return;
    }
    if (!r->down_since) {
        r->down_since = now;
    } else if (now - r->down_since >= REDIAL_MS) {
        struct ds s = DS_EMPTY_INITIALIZER;

        r->turn = (r->turn + 1) % r->n;
        for (size_t i = 0; i < r->n; i++) {
            ds_put_format(&s, "%s%s", i ? "," : "",
                          r->remotes[(r->turn + i) % r->n]);
        }
        VLOG_DBG("database: no connection for %lld ms: trying %s",
                 now - r->down_since, ds_cstr(&s));
        ovsdb_idl_set_remote(idl, ds_cstr(&s), true);
        ds_destroy(&s);
        r->down_since = now;
    }
}

static void
redial_wait(const struct redial *r)
{
    if (r->down_since) {
        poll_timer_wait_until(r->down_since + REDIAL_MS);
    }
}

/* The lock's connection replicates only what the master writes. */
static struct ovsdb_idl *
create_lock_idl(const char *remote)
{
    static const struct ovsdb_idl_column *const columns[] = {
        &mslbrec_global_col_role_generation,
        &mslbrec_global_col_master,
        &mslbrec_global_col_problems,
        &mslbrec_bridge_status_col_name,
        &mslbrec_bridge_status_col_connected,
        &mslbrec_bridge_status_col_datapath_id,
        &mslbrec_bridge_status_col_openflow_version,
        &mslbrec_bridge_status_col_installed_generation,
        &mslbrec_bridge_status_col_desired_generation,
        &mslbrec_bridge_status_col_flows,
        &mslbrec_bridge_status_col_groups,
        &mslbrec_bridge_status_col_error,
        &mslbrec_bridge_status_col_master,
        &mslbrec_service_health_col_service,
        &mslbrec_service_health_col_failed,
        &mslbrec_service_health_col_moves,
        &mslbrec_neighbor_col_ip,
        &mslbrec_neighbor_col_mac,
    };
    struct ovsdb_idl *idl = ovsdb_idl_create(remote, &mslbrec_idl_class,
                                             false, true);

    for (size_t i = 0; i < ARRAY_SIZE(columns); i++) {
        ovsdb_idl_add_column(idl, columns[i]);
    }
    ovsdb_idl_set_lock(idl, NBDB_MASTER_LOCK);
    return idl;
}

struct nbdb *
nbdb_create(const char *remote, struct mdb *mdb, const char *id)
{
    struct nbdb *nb = xzalloc(sizeof *nb);

    nb->idl = ovsdb_idl_create(remote, &mslbrec_idl_class, true, true);
    ovsdb_idl_track_add_all(nb->idl);
    nb->lock_idl = create_lock_idl(remote);
    redial_init(&nb->redial, remote);
    redial_init(&nb->lock_redial, remote);
    nb->id = xstrdup(id);
    shash_init(&nb->rt_health);
    shash_init(&nb->status_rows);
    nb->status_rows_seq = UINT64_MAX;
    smap_init(&nb->rt_neighbors);
    nb->mdb = mdb;
    hmap_init(&nb->bridge_names);
    hmap_init(&nb->service_names);
    shash_init(&nb->service_rows);
    hmap_init(&nb->backend_owner);
    shash_init(&nb->problems);
    ovs_list_init(&nb->queue);
    ovs_list_init(&nb->inflight);
    ovs_list_init(&nb->retrying);
    shash_init(&nb->status);
    sset_init(&nb->moving);
    return nb;
}

void
nbdb_destroy(struct nbdb *nb)
{
    struct batch *b;
    struct shash_node *sn;

    if (!nb) {
        return;
    }
    LIST_FOR_EACH_POP (b, node, &nb->queue) {
        nbdb_batch_destroy(b);
    }
    LIST_FOR_EACH_POP (b, node, &nb->inflight) {
        nbdb_batch_destroy(b);
    }
    LIST_FOR_EACH_POP (b, node, &nb->retrying) {
        nbdb_batch_destroy(b);
    }
    if (nb->txn) {
        ovsdb_idl_txn_destroy(nb->txn);
    }
    if (nb->ltxn) {
        ovsdb_idl_txn_destroy(nb->ltxn);
    }
    ovsdb_idl_destroy(nb->lock_idl);
    redial_destroy(&nb->redial);
    redial_destroy(&nb->lock_redial);
    free(nb->id);
    SHASH_FOR_EACH (sn, &nb->rt_health) {
        nbdb_health_free(sn->data);
    }
    shash_destroy(&nb->rt_health);
    shash_destroy(&nb->status_rows);
    smap_destroy(&nb->rt_neighbors);
    SHASH_FOR_EACH (sn, &nb->status) {
        struct status_entry *e = sn->data;
        free(e->version);
        free(e->error);
        free(e);
    }
    shash_destroy(&nb->status);
    sset_destroy(&nb->moving);
    shash_destroy_free_data(&nb->problems);
    shash_destroy(&nb->service_rows);
    un_clear(&nb->bridge_names);
    un_clear(&nb->service_names);
    un_clear(&nb->backend_owner);
    hmap_destroy(&nb->bridge_names);
    hmap_destroy(&nb->service_names);
    hmap_destroy(&nb->backend_owner);
    ovsdb_idl_destroy(nb->idl);
    free(nb);
}

bool
nbdb_status_pending(const struct nbdb *nb)
{
    struct shash_node *sn;

    SHASH_FOR_EACH (sn, &nb->status) {
        if (((struct status_entry *) sn->data)->dirty) {
            return true;
        }
    }
    return nb->problems_dirty || nb->rt_dirty;
}

/* The lock's connection: mastership, the claim, the master's writes. */
static void
run_lock(struct nbdb *nb)
{
    bool has_lock;

    ovsdb_idl_run(nb->lock_idl);
    has_lock = ovsdb_idl_has_lock(nb->lock_idl);
    redial_run(&nb->lock_redial, nb->lock_idl,
               ovsdb_idl_is_connected(nb->lock_idl));
    if (has_lock != nb->has_lock) {
        nb->has_lock = has_lock;
        if (has_lock) {
            /* A follower of a cluster may grant it too, until the IDL
             * finds that it does not lead: only a claim the leader
             * commits makes this mslbd master. */
            VLOG_DBG("database: lock %s granted to this mslbd (%s)",
                     NBDB_MASTER_LOCK, nb->id);
        } else {
            if (nb->master) {
                VLOG_WARN("database: lock %s lost: this mslbd (%s) is no "
                          "longer master", NBDB_MASTER_LOCK, nb->id);
            }
            nb->master = false;
        }
    }
    if (nb->ltxn) {
        nbdb_poll_ltxn(nb);
    }
    if (nb->master) {
        /* Another claim got in (a lock that flapped between two runs, or
         * one granted by another member of a cluster): ours is over. */
        const struct mslbrec_global *g = mslbrec_global_first(nb->lock_idl);
        if (g && (uint64_t) g->role_generation > nb->role_gen) {
            VLOG_WARN("database: %s claimed role generation %"PRId64" over "
                      "ours (%"PRIu64"): this mslbd (%s) is no longer "
                      "master", g->master ? g->master : "another mslbd",
                      g->role_generation, nb->role_gen, nb->id);
            nb->master = false;
        }
    }
    if (nb->ltxn || !has_lock || !nb->ready) {
        return;
    }
    if (!nb->master) {
        if (time_msec() >= nb->next_claim_ms) {
            nbdb_claim(nb);
        }
    } else if (time_msec() >= nb->next_status_ms) {
        nbdb_write_status(nb);
        nb->next_status_ms = time_msec() + STATUS_INTERVAL_MS;
    }
}

bool
nbdb_run(struct nbdb *nb)
{
    bool connected;
    unsigned int seqno;
    struct batch *b;

    ovsdb_idl_run(nb->idl);
    connected = ovsdb_idl_is_connected(nb->idl);
    seqno = ovsdb_idl_get_seqno(nb->idl);
    if (seqno != nb->seqno) {
        const struct mslbrec_global *g = mslbrec_global_first(nb->idl);

        if (!nb->ready || !nb->was_connected) {
            nbdb_full_sync(nb);
            nb->runtime_seq++;
            nb->status_seq++;
        } else {
            nbdb_tracked_sync(nb);
            if (mslbrec_service_health_track_get_first(nb->idl)
                || mslbrec_neighbor_track_get_first(nb->idl)) {
                nb->runtime_seq++;
            }
            if (mslbrec_bridge_status_track_get_first(nb->idl)) {
                nb->status_seq++;
            }
        }
        ovsdb_idl_track_clear(nb->idl);
        nb->seqno = seqno;
        if (g && g->generation > nb->generation) {
            nb->generation = g->generation;
        } else if (g && g->generation < nb->generation && !nb->bump_gen) {
            /* A restore put it back: move it past what bridges have, or
             * writes would be answered "installed" too early. */
            VLOG_WARN("database: Global.generation went back from %"PRIu64
                      " to %"PRId64" (restored?): moving it to %"PRIu64,
                      nb->generation, g->generation, nb->generation + 1);
            nb->bump_gen = true;
        }
        if (!nb->ready && connected) {
            nb->ready = true;
            VLOG_INFO("database: %zu bridges, %zu services, %zu backends, "
                      "generation %"PRIu64, mdb_n_bridges(nb->mdb),
                      mdb_n_services(nb->mdb), mdb_n_backends(nb->mdb),
                      nb->generation);
        }
    }
    if (connected != nb->was_connected) {
        VLOG_INFO("database %s", connected ? "connected" : "disconnected");
        nb->was_connected = connected;
    }
    redial_run(&nb->redial, nb->idl, connected);
    if (nb->txn) {
        nbdb_poll_txn(nb);
    }
    /* Changes whose 'verify' failed: once the model has the news that
     * made it fail, their writers recompute them. */
    LIST_FOR_EACH_SAFE (b, node, &nb->retrying) {
        if (b->retry_seqno != nb->seqno) {
            nb->stats.retries++;
            nbdb_batch_finish(b, NBDB_RETRY, nb->generation, NULL);
        }
    }
    if (!nb->txn && nb->ready && connected
        && (!ovs_list_is_empty(&nb->queue) || !mslbrec_global_first(nb->idl)
            || nb->bump_gen)) {
        nbdb_start_txn(nb);
    }
    run_lock(nb);

    return mdb_has_changes(nb->mdb);
}

void
nbdb_wait(struct nbdb *nb)
{
    ovsdb_idl_wait(nb->idl);
    ovsdb_idl_wait(nb->lock_idl);
    redial_wait(&nb->redial);
    redial_wait(&nb->lock_redial);
    if (nb->txn) {
        ovsdb_idl_txn_wait(nb->txn);
    }
    if (nb->ltxn) {
        ovsdb_idl_txn_wait(nb->ltxn);
    } else if (nb->has_lock && nb->ready && !nb->master) {
        poll_timer_wait_until(nb->next_claim_ms);
    } else if (nb->master && nbdb_status_pending(nb)) {
        poll_timer_wait_until(nb->next_status_ms);
    }
    if (!nb->txn && !ovs_list_is_empty(&nb->queue)) {
        poll_immediate_wake();
    }
    if (nb->ready && !nb->expiring && !sset_is_empty(&nb->moving)) {
        poll_timer_wait_until(nb->next_expiry_ms);
    }
}

bool
nbdb_is_ready(const struct nbdb *nb)
{
    return nb->ready;
}

bool
nbdb_is_connected(const struct nbdb *nb)
{
    return nb->was_connected;
}

uint64_t
nbdb_generation(const struct nbdb *nb)
{
    return nb->generation;
}

bool
nbdb_is_empty(const struct nbdb *nb)
{
    return !mslbrec_bridge_first(nb->idl) && !mslbrec_service_first(nb->idl);
}

void
nbdb_set_bridge_status(struct nbdb *nb, const char *bridge,
                       const struct nbdb_bridge_status *st)
{
    struct status_entry *e = shash_find_data(&nb->status, bridge);
    const char *v = st->openflow_version;

    if (!e) {
        e = xzalloc(sizeof *e);
        shash_add(&nb->status, bridge, e);
        e->dirty = true;
    }
    if (e->st.connected != st->connected || e->st.dpid != st->dpid
        || e->st.installed_generation != st->installed_generation
        || e->st.desired_generation != st->desired_generation
        || e->st.flows != st->flows || e->st.groups != st->groups
        || !nullable_string_is_equal(e->version, v)
        || !nullable_string_is_equal(e->error, st->error)) {
        e->dirty = true;
    }
    e->st = *st;
    free(e->version);
    free(e->error);
    e->version = nullable_xstrdup(v);
    e->error = nullable_xstrdup(st->error);
    e->st.openflow_version = e->version;
    e->st.error = e->error;
}

bool
nbdb_is_master(const struct nbdb *nb, uint64_t *role_generation)
{
    *role_generation = nb->master ? nb->role_gen : nbdb_role_generation(nb);
    return nb->master;
}

uint64_t
nbdb_role_generation(const struct nbdb *nb)
{
    const struct mslbrec_global *g = mslbrec_global_first(nb->idl);
    return g ? g->role_generation : 0;
}

const char *
nbdb_master_name(const struct nbdb *nb)
{
    const struct mslbrec_global *g = mslbrec_global_first(nb->idl);
    return g ? g->master : NULL;
}

const char *
nbdb_id(const struct nbdb *nb)
{
    return nb->id;
}

bool
nbdb_reported_installed(const struct nbdb *nb, const char *bridge,
                        uint64_t *generation)
{
    struct nbdb *mnb = CONST_CAST(struct nbdb *, nb);
    const struct mslbrec_bridge_status *r;

    /* An index by name, built again after the rows changed: REST on a
     * standby asks for every bridge. */
    if (nb->status_rows_seq != nb->status_seq) {
        shash_clear(&mnb->status_rows);
        MSLBREC_BRIDGE_STATUS_FOR_EACH (r, nb->idl) {
            shash_replace(&mnb->status_rows, r->name, r);
        }
        mnb->status_rows_seq = nb->status_seq;
    }
    r = shash_find_data(&nb->status_rows, bridge);
    *generation = r ? r->installed_generation : 0;
    return r && r->connected;
}

void
nbdb_health_free(struct nbdb_health *h)
{
    if (h) {
        free(h->failed);
        free(h->moves);
        free(h);
    }
}

void
nbdb_set_runtime(struct nbdb *nb, struct shash *health,
                 struct smap *neighbors)
{
    struct shash_node *sn;

    SHASH_FOR_EACH (sn, &nb->rt_health) {
        nbdb_health_free(sn->data);
    }
    shash_clear(&nb->rt_health);
    shash_swap(&nb->rt_health, health);
    smap_clear(&nb->rt_neighbors);
    hmap_swap(&nb->rt_neighbors.map, &neighbors->map);
    nb->rt_dirty = true;
}

uint64_t
nbdb_status_seq(const struct nbdb *nb)
{
    return nb->status_seq;
}

uint64_t
nbdb_runtime_seq(const struct nbdb *nb)
{
    return nb->runtime_seq;
}

/* A Service_Health row's contents (nbdb_write.c writes them). */
static void
health_from_row(const struct mslbrec_service_health *r,
                struct nbdb_health *h)
{
    h->failed = xmalloc((r->n_failed + 1) * sizeof *h->failed);
    h->n_failed = 0;
    for (size_t i = 0; i < r->n_failed; i++) {
        h->failed[h->n_failed++] = r->failed[i];
    }
    h->moves = xmalloc((r->n_moves + 1) * sizeof *h->moves);
    h->n_moves = 0;
    for (size_t i = 0; i < r->n_moves; i++) {
        struct model_slot_move m;
        long long int until;

        if (sscanf(r->moves[i], "%"SCNu32":%"SCNu32":%lld", &m.slot,
                   &m.from, &until) == 3) {
            m.until = until;
            h->moves[h->n_moves++] = m;
        }
    }
    /* Sets come in value order: moves as health.c keeps them, by slot. */
    for (size_t i = 1; i < h->n_moves; i++) {
        for (size_t k = i; k > 0 && h->moves[k - 1].slot > h->moves[k].slot;
             k--) {
            struct model_slot_move t = h->moves[k];
            h->moves[k] = h->moves[k - 1];
            h->moves[k - 1] = t;
        }
    }
}

void
nbdb_get_health(const struct nbdb *nb,
                void (*cb)(void *aux, const char *service,
                           const struct nbdb_health *),
                void *aux)
{
    const struct mslbrec_service_health *r;

    MSLBREC_SERVICE_HEALTH_FOR_EACH (r, nb->idl) {
        struct nbdb_health h;

        health_from_row(r, &h);
        cb(aux, r->service, &h);
        free(h.failed);
        free(h.moves);
    }
}

void
nbdb_get_neighbors(const struct nbdb *nb,
                   void (*cb)(void *aux, const char *ip, const char *mac),
                   void *aux)
{
    const struct mslbrec_neighbor *r;

    MSLBREC_NEIGHBOR_FOR_EACH (r, nb->idl) {
        cb(aux, r->ip, r->mac);
    }
}

const struct shash *
nbdb_problems(const struct nbdb *nb)
{
    return &nb->problems;
}

void
nbdb_get_stats(const struct nbdb *nb, struct nbdb_stats *s)
{
    *s = nb->stats;
}

