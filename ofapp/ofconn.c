/* OpenFlow connections: see ofconn.h. */
#include <config.h>
#include "ofconn.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "openvswitch/meta-flow.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofp-bundle.h"
#include "openvswitch/ofp-errors.h"
#include "openvswitch/ofp-flow.h"
#include "openvswitch/ofp-group.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/ofp-port.h"
#include "openvswitch/ofp-print.h"
#include "openvswitch/ofp-protocol.h"
#include "openvswitch/ofp-switch.h"
#include "openvswitch/ofp-util.h"
#include "openvswitch/hmap.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/ofp-parse.h"
#include "openflow/openflow.h"
#include "byte-order.h"
#include "flow.h"
#include "util.h"

#include "log.h"
#include "mslbd.h"
#include "mslb/compile.h"
#include "mslb/flowset.h"
#include "mslb/pipeline.h"

#define ECHO_INTERVAL_MS 5000
#define DEAD_AFTER_MS 15000          /* Silence that ends a connection... */
#define DEAD_AFTER_BUSY_MS 300000    /* ...or while a big bundle commits. */
#define RECONNECT_MIN_MS 500
#define RECONNECT_MAX_MS 8000
#define WRITE_CHUNK (256 * 1024)
#define OFPP_LOCAL_NO 0xfffe          /* OFPP_LOCAL as a 16-bit number. */

/* Versions offered: 1.3 to 1.5; the highest the switch shares wins.  The
 * pipeline works with 1.3; with 1.5 select groups also get an explicit
 * dp_hash selection over the 5-tuple (see docs/controller.md). */
#define OFFERED_VERSIONS ((1u << OFP13_VERSION) | (1u << OFP14_VERSION) \
                          | (1u << OFP15_VERSION))

enum ofconn_state {
    S_HELLO,            /* Sent HELLO, waiting for the peer's. */
    S_FEATURES,         /* Waiting for FEATURES_REPLY. */
    S_PORTS,            /* Waiting for the port descriptions. */
    S_DUMP,             /* Waiting for our flows and groups. */
    S_READY,            /* Adopted; in step or syncing. */
};

struct port {
    char name[16];
    uint32_t no;
    struct eth_addr mac;
};

/* A target we connect to actively; outlives its connections. */
struct active {
    struct mslbd *d;
    char *target;
    uv_timer_t timer;
    int backoff_ms;
    struct ofconn *conn;
};

struct ofconn {
    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } h;
    struct mslbd *d;
    struct active *active;      /* NULL for accepted connections. */
    char *peer;
    bool closing;

    enum ofconn_state state;
    int version;
    uint64_t dpid;
    char *name;                 /* Bridge name: its LOCAL port's name. */
    struct port *ports;
    size_t n_ports, allocated_ports;
    uint32_t next_xid;
    uint32_t ports_xid, flows_xid, groups_xid;

    uint8_t *rx;
    size_t rx_len, rx_size;
    struct ofpbuf *tx;          /* Not yet handed to libuv. */

    uv_timer_t echo_timer;
    uint64_t last_rx_ms;

    /* Reconciler. */
    struct flowset *have;       /* What the switch holds (ours only). */
    uint64_t installed_gen;
    bool synced_once;
    bool busy;                  /* A bundle is in flight. */
    bool dirty;                 /* The model changed while busy. */
    bool failed;                /* The bundle in flight got an error. */
    struct flowset *want;       /* What the bridge should hold. */
    struct flowset *base;       /* Bridge-wide unit of 'want'. */
    struct hmap units;          /* Per-service units of 'want'. */
    uint32_t ctx_hash;          /* Bridge settings 'want' was built for. */
    uint64_t stamp;
    bool full_diff;             /* Next diff compares everything. */
    struct flowset_diff diff;
    uint64_t want_gen;
    uint32_t bundle_id;
    uint32_t commit_xid, barrier_xid, first_xid;
    uint64_t started_ms;

    struct stats_req *stats;    /* Collections under way. */
};

/* A statistics collection: four requests, one callback. */
struct stats_req {
    struct stats_req *next;
    uint32_t xids[4];           /* Service flows, backend flows, groups,
                                 * learned affinity entries. */
    int pending;
    json_t *flows, *groups, *learned;
    ofconn_stats_cb *cb;
    void *aux;
};

static uint32_t next_bundle_id = 1;

static void ofconn_close(struct ofconn *, const char *why);
static void start_connection(struct ofconn *);

/* ---- Output. ---- */

static void
on_write(uv_write_t *req, int status)
{
    free(req->data);
    free(req);
    (void) status;              /* Errors surface as a read error. */
}

static void
flush_tx(struct ofconn *c)
{
    uv_write_t *req;
    uv_buf_t buf;

    if (!c->tx || !c->tx->size || c->closing) {
        return;
    }
    req = xmalloc(sizeof *req);
    buf = uv_buf_init(c->tx->data, c->tx->size);
    req->data = ofpbuf_steal_data(c->tx);   /* Freed in on_write(). */
    buf.base = req->data;
    ofpbuf_delete(c->tx);
    c->tx = NULL;
    if (uv_write(req, &c->h.stream, &buf, 1, on_write)) {
        free(req->data);
        free(req);
    }
}

/* Queues 'msg' as it is, taking ownership. */
static void
send_raw(struct ofconn *c, struct ofpbuf *msg)
{
    ofpmsg_update_length(msg);  /* Encoders leave it to the sender. */
    if (!c->tx) {
        c->tx = ofpbuf_new(WRITE_CHUNK + 4096);
    }
    ofpbuf_put(c->tx, msg->data, msg->size);
    ofpbuf_delete(msg);
    if (c->tx->size >= WRITE_CHUNK) {
        flush_tx(c);
    }
}

/* Queues 'msg' (taking ownership) with a fresh xid, which it returns. */
static uint32_t
send_msg(struct ofconn *c, struct ofpbuf *msg)
{
    uint32_t xid = c->next_xid++;

    ((struct ofp_header *) msg->data)->xid = htonl(xid);
    send_raw(c, msg);
    return xid;
}

/* ---- Reconciler. ---- */

static const struct port *
find_port(const struct ofconn *c, const char *name)
{
    for (size_t i = 0; i < c->n_ports; i++) {
        if (!strcmp(c->ports[i].name, name)) {
            return &c->ports[i];
        }
    }
    return NULL;
}

static const struct model_bridge *
model_bridge(const struct ofconn *c)
{
    const struct model_bridge *br;

    br = model_find_bridge_by_dpid(c->d->model, c->dpid);
    if (!br && c->name) {
        br = model_find_bridge(c->d->model, c->name);
        if (br && br->has_dpid && br->dpid != c->dpid) {
            br = NULL;          /* Same name, another datapath. */
        }
    }
    return br;
}

static uint64_t
now_ms(const struct ofconn *c)
{
    return uv_now(c->d->loop);
}

/* Wall-clock milliseconds, for measuring work done within one callback. */
static uint64_t
mono_ms(void)
{
    return uv_hrtime() / 1000000;
}

/* One service's share of a bridge's desired flows, kept between syncs so
 * that a change recompiles only the services it touched. */
struct unit {
    struct hmap_node node;      /* In ofconn's 'units', by name. */
    char *name;
    uint32_t hash;              /* model_service_hash() it was built from. */
    uint64_t stamp;             /* Sync that last saw it in the model. */
    struct flowset *fs;
};

static struct flowset *
new_unit(const struct ofconn *c)
{
    struct flowset *fs = flowset_create();
    flowset_set_version(fs, c->version);
    return fs;
}

static void
log_compile_error(const struct ofconn *c, char *error)
{
    if (error) {
        LOG_ERR("bridge %s: internal error compiling the model: %s",
                c->name, error);
        free(error);
    }
}

static void
merge_unit(struct ofconn *c, const struct flowset *unit)
{
    char *error = flowset_merge(c->want, unit);
    if (error) {
        LOG_ERR("bridge %s: internal error: conflicting flows: %s", c->name,
                error);
        free(error);
    }
}

static void
drop_units(struct ofconn *c)
{
    struct unit *u;

    HMAP_FOR_EACH_POP (u, node, &c->units) {
        flowset_destroy(u->fs);
        free(u->name);
        free(u);
    }
    flowset_destroy(c->base);
    c->base = NULL;
    flowset_destroy(c->want);
    c->want = flowset_create();
    flowset_set_version(c->want, c->version);
    c->full_diff = true;
}

/* Brings 'c->want' in line with the model for bridge 'br' (NULL: not in
 * the model), recompiling only what changed.  Returns false if it cannot be
 * built yet (a port is missing), after logging why. */
static bool
update_want(struct ofconn *c, const struct model_bridge *br)
{
    const struct model *m = c->d->model;
    struct compile_ports ports;
    const struct port *front, *back;
    uint32_t ctx;
    size_t n_built = 0;
    struct unit *u;

    if (!br) {
        drop_units(c);
        c->ctx_hash = 0;
        return true;
    }
    memset(&ports, 0, sizeof ports);
    ports.of15 = c->version >= OFP15_VERSION;
    for (int t = 0; t < MODEL_N_TUNNELS; t++) {
        const struct port *tp = br->tunnel_ports[t]
                                ? find_port(c, br->tunnel_ports[t]) : NULL;
        if (tp) {
            ports.tunnel[t] = tp->no;
        } else if (br->tunnel_ports[t]) {
            LOG_WARN("bridge %s: tunnel port \"%s\" not found; waiting for "
                     "it", c->name, br->tunnel_ports[t]);
            return false;
        }
    }
    for (size_t i = 0; i < c->n_ports; i++) {
        if (c->ports[i].no == OFPP_LOCAL_NO) {
            memcpy(ports.local_mac.b, c->ports[i].mac.ea, 6);
        }
    }
    if (br->role == MODEL_ROLE_FINAL) {
        /* Few services reach a final stage: rebuild it whole. */
        drop_units(c);
        c->base = new_unit(c);
        log_compile_error(c, compile_final_bridge(m, br, &ports, c->base));
        merge_unit(c, c->base);
        c->ctx_hash = 0;
        return true;
    }
    front = find_port(c, br->frontend_port);
    back = find_port(c, br->backend_port);
    if (!front || !back) {
        LOG_WARN("bridge %s: port \"%s\" not found; waiting for it", c->name,
                 !front ? br->frontend_port : br->backend_port);
        return false;
    }
    ports.frontend = front->no;
    ports.backend = back->no;

    /* Anything bridge-wide changed: rebuild every unit. */
    ctx = model_bridge_hash(br);
    ctx = mslb_hash_bytes(&ports, sizeof ports, ctx);
    if (!c->base || ctx != c->ctx_hash) {
        drop_units(c);
        c->ctx_hash = ctx;
        c->base = new_unit(c);
        log_compile_error(c, compile_bridge_base(br, &ports, c->base));
        merge_unit(c, c->base);
    }

    c->stamp++;
    for (size_t i = 0; i < m->n_services; i++) {
        const struct model_service *svc = &m->services[i];
        uint32_t hash, name_hash;
        struct unit *old = NULL;

        if (!model_service_on_bridge(svc, br->name)) {
            continue;
        }
        hash = model_service_hash(svc);
        name_hash = mslb_hash_bytes(svc->name, strlen(svc->name), 0);
        HMAP_FOR_EACH_WITH_HASH (u, node, name_hash, &c->units) {
            if (!strcmp(u->name, svc->name)) {
                old = u;
                break;
            }
        }
        if (old && old->hash == hash) {
            old->stamp = c->stamp;
            continue;
        }
        if (!old) {
            old = xzalloc(sizeof *old);
            old->name = xstrdup(svc->name);
            hmap_insert(&c->units, &old->node, name_hash);
        } else {
            flowset_unmerge(c->want, old->fs);
            flowset_destroy(old->fs);
        }
        old->fs = new_unit(c);
        log_compile_error(c, compile_service(svc, br, &ports, old->fs));
        old->hash = hash;
        old->stamp = c->stamp;
        merge_unit(c, old->fs);
        n_built++;
    }
    HMAP_FOR_EACH_SAFE (u, node, &c->units) {
        if (u->stamp != c->stamp) {
            flowset_unmerge(c->want, u->fs);
            hmap_remove(&c->units, &u->node);
            flowset_destroy(u->fs);
            free(u->name);
            free(u);
        }
    }
    LOG_DBG("bridge %s: %zu services recompiled, %zu keys touched", c->name,
            n_built, flowset_n_dirty(c->want));
    return true;
}

static void
bundle_ctrl(struct ofconn *c, uint16_t type, uint32_t *xidp)
{
    struct ofputil_bundle_ctrl_msg bc = {
        .bundle_id = c->bundle_id,
        .type = type,
        .flags = OFPBF_ATOMIC | OFPBF_ORDERED,
    };
    uint32_t xid = send_msg(c, ofputil_encode_bundle_ctrl_request(c->version,
                                                                  &bc));
    if (xidp) {
        *xidp = xid;
    }
}

void
ofconn_sync(struct ofconn *c)
{
    const struct model_bridge *br;
    uint64_t t0;

    if (c->state != S_READY) {
        return;
    }
    if (c->busy) {
        c->dirty = true;
        return;
    }
    br = model_bridge(c);
    if (!br && (!c->synced_once || flowset_n_flows(c->have)
                || flowset_n_groups(c->have))) {
        /* Not (or no longer) ours to program: remove mslb's own flows and
         * groups, if any, and touch nothing else. */
        LOG_INFO("bridge %s (dpid %016"PRIx64"): not in the model; "
                 "removing mslb's flows (%zu) and leaving others alone",
                 c->name, c->dpid, flowset_n_flows(c->have));
    }
    t0 = uv_hrtime();
    if (!update_want(c, br)) {
        return;
    }
    c->synced_once = true;
    if (c->full_diff) {
        flowset_diff(c->have, c->want, &c->diff);
    } else {
        flowset_diff_dirty(c->have, c->want, &c->diff);
    }
    LOG_DBG("bridge %s: %zu operations to send (%s diff; compile and diff "
            "%.1f ms)", c->name, c->diff.n_ops,
            c->full_diff ? "full" : "incremental", (uv_hrtime() - t0) / 1e6);
    if (!c->diff.n_ops) {
        flowset_diff_uninit(&c->diff);
        flowset_clear_dirty(c->want);
        c->full_diff = false;
        if (c->installed_gen != c->d->generation) {
            c->installed_gen = c->d->generation;
            LOG_INFO("bridge %s: generation %"PRIu64" installed (no change, "
                     "%zu flows, %zu groups)", c->name, c->installed_gen,
                     flowset_n_flows(c->have), flowset_n_groups(c->have));
            mslbd_bridges_changed(c->d);
        }
        return;
    }

    c->want_gen = c->d->generation;
    c->busy = true;
    c->failed = false;
    c->started_ms = mono_ms();
    c->bundle_id = next_bundle_id++;
    c->first_xid = c->next_xid;
    bundle_ctrl(c, OFPBCT_OPEN_REQUEST, NULL);
    for (size_t i = 0; i < c->diff.n_ops; i++) {
        char *error;
        struct ofpbuf *msg = flowset_op_encode(&c->diff.ops[i], c->version,
                                               &error);
        struct ofputil_bundle_add_msg badd;

        if (!msg) {
            LOG_ERR("bridge %s: cannot encode: %s", c->name, error);
            free(error);
            c->failed = true;
            continue;
        }
        ((struct ofp_header *) msg->data)->xid = htonl(c->next_xid);
        badd.bundle_id = c->bundle_id;
        badd.flags = OFPBF_ATOMIC | OFPBF_ORDERED;
        badd.msg = msg->data;
        send_msg(c, ofputil_encode_bundle_add(c->version, &badd));
        ofpbuf_delete(msg);
    }
    if (c->failed) {
        bundle_ctrl(c, OFPBCT_DISCARD_REQUEST, &c->commit_xid);
    } else {
        bundle_ctrl(c, OFPBCT_COMMIT_REQUEST, &c->commit_xid);
    }
    c->barrier_xid = send_msg(c, ofputil_encode_barrier_request(c->version));
    flush_tx(c);
    LOG_DBG("bridge %s: bundle %"PRIu32" queued, %zu operations, in %"PRIu64
            " ms", c->name, c->bundle_id, c->diff.n_ops,
            mono_ms() - c->started_ms);
}

static void
sync_done(struct ofconn *c)
{
    const size_t *n = c->diff.counts;

    if (!c->failed) {
        flowset_apply(c->have, &c->diff);
        c->installed_gen = c->want_gen;
        LOG_INFO("bridge %s: generation %"PRIu64" installed (flows +%zu ~%zu "
                 "-%zu, groups +%zu ~%zu -%zu; %zu flows, %zu groups) in "
                 "%"PRIu64" ms", c->name, c->installed_gen,
                 n[FLOWSET_FLOW_ADD], n[FLOWSET_FLOW_MODIFY],
                 n[FLOWSET_FLOW_DELETE], n[FLOWSET_GROUP_ADD],
                 n[FLOWSET_GROUP_MODIFY], n[FLOWSET_GROUP_DELETE],
                 flowset_n_flows(c->have), flowset_n_groups(c->have),
                 mono_ms() - c->started_ms);
        mslbd_bridges_changed(c->d);
    } else {
        LOG_ERR("bridge %s: generation %"PRIu64" rejected by the switch; "
                "the bridge keeps generation %"PRIu64, c->name, c->want_gen,
                c->installed_gen);
    }
    flowset_diff_uninit(&c->diff);
    flowset_clear_dirty(c->want);
    /* After a refusal, compare everything next time. */
    c->full_diff = c->failed;
    c->busy = false;
    if (c->dirty) {
        c->dirty = false;
        ofconn_sync(c);
    }
}

/* ---- Input. ---- */

/* Asks for the flows of 'table' (0xff: all) whose cookie matches
 * 'cookie'/'mask'; returns the request's xid. */
static uint32_t
request_flows(struct ofconn *c, uint8_t table, uint64_t cookie,
              uint64_t mask)
{
    struct ofputil_flow_stats_request fsr;

    memset(&fsr, 0, sizeof fsr);
    match_init_catchall(&fsr.match);
    fsr.cookie = htonll(cookie);
    fsr.cookie_mask = htonll(mask);
    fsr.out_port = OFPP_ANY;
    fsr.out_group = OFPG_ANY;
    fsr.table_id = table;
    return send_msg(c, ofputil_encode_flow_stats_request(
                        &fsr, ofputil_protocol_from_ofp_version(c->version)));
}

static void
request_dumps(struct ofconn *c)
{
    flowset_destroy(c->have);
    c->have = flowset_create();
    c->flows_xid = request_flows(c, 0xff, MSLB_COOKIE_TAG,
                                 MSLB_COOKIE_TAG_MASK);
    c->groups_xid = send_msg(c, ofputil_encode_group_desc_request(c->version,
                                                                  OFPG_ALL));
    c->state = S_DUMP;
}

static void
put_port(struct ofconn *c, const struct ofputil_phy_port *pp)
{
    struct port *p = NULL;

    if (pp->port_no == OFPP_LOCAL) {
        free(c->name);
        c->name = xstrdup(pp->name);
    }
    for (size_t i = 0; i < c->n_ports; i++) {
        if (!strcmp(c->ports[i].name, pp->name)) {
            p = &c->ports[i];
        }
    }
    if (!p) {
        if (c->n_ports >= c->allocated_ports) {
            c->ports = x2nrealloc(c->ports, &c->allocated_ports,
                                  sizeof *c->ports);
        }
        p = &c->ports[c->n_ports++];
        ovs_strlcpy(p->name, pp->name, sizeof p->name);
    }
    p->no = ofp_to_u16(pp->port_no);
    p->mac = pp->hw_addr;
}

static void
remove_port(struct ofconn *c, const char *name)
{
    for (size_t i = 0; i < c->n_ports; i++) {
        if (!strcmp(c->ports[i].name, name)) {
            c->ports[i] = c->ports[--c->n_ports];
            return;
        }
    }
}

static void
handle_error(struct ofconn *c, const struct ofp_header *oh)
{
    uint32_t xid = ntohl(oh->xid);
    char *s = ofp_to_string(oh, ntohs(oh->length), NULL, NULL, 1);

    if (c->busy && xid >= c->first_xid && xid <= c->barrier_xid) {
        c->failed = true;
        LOG_ERR("bridge %s: switch refused part of bundle %"PRIu32": %s",
                c->name, c->bundle_id, s);
    } else {
        LOG_WARN("bridge %s: error from switch: %s",
                 c->name ? c->name : c->peer, s);
    }
    free(s);
}

/* ---- Statistics. ---- */

static uint32_t request_flows(struct ofconn *, uint8_t table,
                              uint64_t cookie, uint64_t mask);

void
ofconn_collect_stats(struct ofconn *c, ofconn_stats_cb *cb, void *aux)
{
    struct stats_req *r;
    static const struct { int table; int kind; } reqs[2] = {
        { MSLB_T_CLASSIFY, MSLB_COOKIE_SERVICE },
        { MSLB_T_NAT_OUT, MSLB_COOKIE_BACKEND },
    };

    if (c->state != S_READY) {
        cb(aux, NULL);
        return;
    }
    r = xzalloc(sizeof *r);
    r->flows = json_array();
    r->groups = json_array();
    r->learned = json_array();
    r->cb = cb;
    r->aux = aux;
    for (int i = 0; i < 2; i++) {
        r->xids[i] = request_flows(c, reqs[i].table,
                                   mslb_cookie(reqs[i].kind, 0),
                                   MSLB_COOKIE_TAG_MASK
                                   | (0xffULL << MSLB_COOKIE_KIND_SHIFT));
    }
    r->xids[2] = send_msg(c, ofputil_encode_group_stats_request(c->version,
                                                                OFPG_ALL));
    r->xids[3] = request_flows(c, MSLB_T_DSR_AFFINITY, MSLB_LEARNED_COOKIE,
                               MSLB_COOKIE_TAG_MASK);
    r->pending = 4;
    r->next = c->stats;
    c->stats = r;
    flush_tx(c);
}

static void
stats_finish(struct ofconn *c, struct stats_req *r, bool ok)
{
    struct stats_req **p;

    for (p = &c->stats; *p; p = &(*p)->next) {
        if (*p == r) {
            *p = r->next;
            break;
        }
    }
    if (ok) {
        r->cb(r->aux, json_pack("{s:o, s:o, s:o}", "flows", r->flows,
                                "groups", r->groups, "learned", r->learned));
    } else {
        json_decref(r->flows);
        json_decref(r->groups);
        json_decref(r->learned);
        r->cb(r->aux, NULL);
    }
    free(r);
}

/* Consumes a statistics reply that belongs to a collection. */
static bool
stats_reply(struct ofconn *c, const struct ofp_header *oh,
            enum ofptype type, struct ofpbuf *b)
{
    uint32_t xid = ntohl(oh->xid);
    struct stats_req *r;
    int which = -1;

    for (r = c->stats; r; r = r->next) {
        for (int i = 0; i < 4; i++) {
            if (r->xids[i] == xid) {
                which = i;
                break;
            }
        }
        if (which >= 0) {
            break;
        }
    }
    if (!r) {
        return false;
    }
    if (type == OFPTYPE_FLOW_STATS_REPLY && which == 3) {
        struct ofputil_flow_stats fs;
        uint64_t stub[1024 / 8];
        struct ofpbuf ofpacts;

        /* A learned entry: its cookie names the service, the reg1 it
         * loads names the backend. */
        ofpbuf_use_stub(&ofpacts, stub, sizeof stub);
        while (!ofputil_decode_flow_stats_reply(&fs, b, false, &ofpacts)) {
            const struct ofpact *a;
            uint32_t backend = 0;

            OFPACT_FOR_EACH (a, fs.ofpacts, fs.ofpacts_len) {
                if (a->type == OFPACT_SET_FIELD) {
                    const struct ofpact_set_field *sf
                        = ofpact_get_SET_FIELD(a);
                    if (sf->field->id == MFF_REG1) {
                        backend = ntohl(sf->value->be32);
                    }
                }
            }
            json_array_append_new(r->learned, json_pack(
                "{s:I, s:I}", "service",
                (json_int_t) (ntohll(fs.cookie) & 0xffffff),
                "backend", (json_int_t) backend));
        }
        ofpbuf_uninit(&ofpacts);
    } else if (type == OFPTYPE_FLOW_STATS_REPLY) {
        struct ofputil_flow_stats fs;
        uint64_t stub[1024 / 8];
        struct ofpbuf ofpacts;

        ofpbuf_use_stub(&ofpacts, stub, sizeof stub);
        while (!ofputil_decode_flow_stats_reply(&fs, b, false, &ofpacts)) {
            char ip[INET6_ADDRSTRLEN] = "";
            if (fs.match.flow.dl_type == htons(0x0800)) {
                inet_ntop(AF_INET, &fs.match.flow.nw_dst, ip, sizeof ip);
            }
            json_array_append_new(r->flows, json_pack(
                "{s:I, s:i, s:i, s:s, s:i, s:I, s:I}",
                "cookie", (json_int_t) ntohll(fs.cookie),
                "table", (int) fs.table_id,
                "nw_proto", (int) fs.match.flow.nw_proto,
                "nw_dst", ip,
                "tp_dst", (int) ntohs(fs.match.flow.tp_dst),
                "packets", (json_int_t) fs.packet_count,
                "bytes", (json_int_t) fs.byte_count));
        }
        ofpbuf_uninit(&ofpacts);
    } else if (type == OFPTYPE_GROUP_STATS_REPLY) {
        struct ofputil_group_stats gs;

        while (!ofputil_decode_group_stats_reply(b, &gs)) {
            if ((gs.group_id & MSLB_GROUP_TAG_MASK) == MSLB_GROUP_TAG) {
                json_t *buckets = json_array();
                for (uint32_t i = 0; i < gs.n_buckets; i++) {
                    json_array_append_new(buckets, json_integer(
                        gs.bucket_stats[i].packet_count));
                }
                json_array_append_new(r->groups, json_pack(
                    "{s:I, s:o}", "group_id", (json_int_t) gs.group_id,
                    "buckets", buckets));
            }
            free(gs.bucket_stats);
        }
    }
    if (!ofpmp_more(oh) && !--r->pending) {
        stats_finish(c, r, true);
    }
    return true;
}

static void
stats_fail_all(struct ofconn *c)
{
    while (c->stats) {
        stats_finish(c, c->stats, false);
    }
}

/* ---- Status. ---- */

const char *
ofconn_bridge_name(const struct ofconn *c)
{
    return c->name;
}

bool
ofconn_is_ready(const struct ofconn *c)
{
    return c->state == S_READY && !c->closing;
}

uint64_t
ofconn_installed_generation(const struct ofconn *c)
{
    return c->installed_gen;
}

bool
ofconn_in_step(const struct ofconn *c)
{
    return ofconn_is_ready(c) && !c->busy && !c->dirty
           && c->installed_gen == c->d->generation;
}

json_t *
ofconn_status_json(const struct ofconn *c)
{
    json_t *ports = json_array();
    char dpid[17];

    for (size_t i = 0; i < c->n_ports; i++) {
        json_array_append_new(ports, json_pack(
            "{s:s, s:i}", "name", c->ports[i].name,
            "number", (int) c->ports[i].no));
    }
    snprintf(dpid, sizeof dpid, "%016"PRIx64, c->dpid);
    return json_pack("{s:s?, s:s, s:s, s:b, s:I, s:I, s:I, s:o}",
                     "name", c->name, "datapath_id", dpid,
                     "openflow_version",
                     ofputil_version_to_string(c->version),
                     "connected", ofconn_is_ready(c),
                     "installed_generation", (json_int_t) c->installed_gen,
                     "flows", (json_int_t) flowset_n_flows(c->have),
                     "groups", (json_int_t) flowset_n_groups(c->have),
                     "ports", ports);
}

static void
handle_msg(struct ofconn *c, const struct ofp_header *oh)
{
    uint32_t xid = ntohl(oh->xid);
    enum ofptype type;
    struct ofpbuf b;

    if (c->state == S_HELLO) {
        uint32_t allowed;
        if (oh->type != 0) {        /* OFPT_HELLO in every version. */
            ofconn_close(c, "no HELLO from peer");
            return;
        }
        if (!ofputil_decode_hello(oh, &allowed)) {
            LOG_WARN("%s: bad HELLO; assuming version 0x%02x", c->peer,
                     oh->version);
        }
        allowed &= OFFERED_VERSIONS;
        if (!allowed) {
            ofconn_close(c, "no common OpenFlow version (need 1.3 or later)");
            return;
        }
        c->version = leftmost_1bit_idx(allowed);
        send_msg(c, ofpraw_alloc(OFPRAW_OFPT_FEATURES_REQUEST, c->version,
                                 0));
        flush_tx(c);
        c->state = S_FEATURES;
        return;
    }

    if (ofptype_decode(&type, oh)) {
        LOG_DBG("%s: ignoring undecodable message type %d", c->peer,
                oh->type);
        return;
    }
    b = ofpbuf_const_initializer(oh, ntohs(oh->length));

    switch (type) {
    case OFPTYPE_ECHO_REQUEST:
        send_raw(c, ofputil_encode_echo_reply(oh));   /* Keeps the xid. */
        flush_tx(c);
        break;

    case OFPTYPE_ECHO_REPLY:
        break;

    case OFPTYPE_FEATURES_REPLY: {
        struct ofputil_switch_features sf;
        if (c->state != S_FEATURES
            || ofputil_pull_switch_features(&b, &sf)) {
            break;
        }
        c->dpid = sf.datapath_id;
        c->n_ports = 0;
        c->ports_xid = send_msg(c, ofputil_encode_port_desc_stats_request(
                                    c->version, OFPP_ANY));
        flush_tx(c);
        c->state = S_PORTS;
        break;
    }

    case OFPTYPE_PORT_DESC_STATS_REPLY: {
        struct ofputil_phy_port pp;
        if (c->state != S_PORTS || xid != c->ports_xid) {
            break;
        }
        ofpraw_pull_assert(&b);
        while (!ofputil_pull_phy_port(c->version, &b, &pp)) {
            put_port(c, &pp);
        }
        if (!ofpmp_more(oh)) {
            LOG_INFO("bridge %s (dpid %016"PRIx64", %s): connected with "
                     "%s, %zu ports", c->name ? c->name : "?",
                     c->dpid, c->peer, ofputil_version_to_string(c->version),
                     c->n_ports);
            request_dumps(c);
            flush_tx(c);
        }
        break;
    }

    case OFPTYPE_PORT_STATUS: {
        struct ofputil_port_status ps;
        if (ofputil_decode_port_status(oh, &ps)) {
            break;
        }
        if (ps.reason == OFPPR_DELETE) {
            remove_port(c, ps.desc.name);
        } else {
            put_port(c, &ps.desc);
        }
        LOG_INFO("bridge %s: port %s %s (%u)", c->name, ps.desc.name,
                 ps.reason == OFPPR_DELETE ? "deleted"
                 : ps.reason == OFPPR_ADD ? "added" : "modified",
                 ofp_to_u16(ps.desc.port_no));
        if (ps.reason != OFPPR_MODIFY) {
            ofconn_sync(c);
        }
        break;
    }

    case OFPTYPE_FLOW_STATS_REPLY: {
        struct ofputil_flow_stats fs;
        uint64_t ofpacts_stub[1024 / 8];
        struct ofpbuf ofpacts;

        if (stats_reply(c, oh, type, &b)) {
            break;
        }
        if (c->state != S_DUMP || xid != c->flows_xid) {
            break;
        }
        ofpbuf_use_stub(&ofpacts, ofpacts_stub, sizeof ofpacts_stub);
        while (!ofputil_decode_flow_stats_reply(&fs, &b, false, &ofpacts)) {
            flowset_add_flow_stats(c->have, &fs);
        }
        ofpbuf_uninit(&ofpacts);
        if (!ofpmp_more(oh)) {
            c->flows_xid = 0;
        }
        break;
    }

    case OFPTYPE_GROUP_DESC_STATS_REPLY: {
        struct ofputil_group_desc gd;

        if (c->state != S_DUMP || xid != c->groups_xid) {
            break;
        }
        while (!ofputil_decode_group_desc_reply(&gd, &b, c->version)) {
            if ((gd.group_id & MSLB_GROUP_TAG_MASK) == MSLB_GROUP_TAG) {
                flowset_add_group_desc(c->have, &gd);
            }
            ofputil_uninit_group_desc(&gd);
        }
        if (!ofpmp_more(oh)) {
            c->groups_xid = 0;
        }
        break;
    }

    case OFPTYPE_GROUP_STATS_REPLY:
        stats_reply(c, oh, type, &b);
        break;

    case OFPTYPE_BARRIER_REPLY:
        if (c->busy && xid == c->barrier_xid) {
            sync_done(c);
        }
        break;

    case OFPTYPE_BUNDLE_CONTROL:
        break;

    case OFPTYPE_ERROR:
        handle_error(c, oh);
        break;

    default:
        break;
    }

    if (c->state == S_DUMP && !c->flows_xid && !c->groups_xid) {
        LOG_INFO("bridge %s: adopted %zu flows and %zu groups already "
                 "installed", c->name, flowset_n_flows(c->have),
                 flowset_n_groups(c->have));
        c->state = S_READY;
        c->installed_gen = 0;
        ofconn_sync(c);
    }
}

static void
on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    struct ofconn *c = handle->data;

    if (c->rx_size - c->rx_len < 65536) {
        c->rx_size = MAX(c->rx_size * 2, c->rx_len + 65536);
        c->rx = xrealloc(c->rx, c->rx_size);
    }
    *buf = uv_buf_init((char *) c->rx + c->rx_len, c->rx_size - c->rx_len);
    (void) suggested;
}

static void
on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct ofconn *c = stream->data;
    size_t ofs = 0;

    (void) buf;
    if (nread < 0) {
        ofconn_close(c, nread == UV_EOF ? "connection closed by peer"
                     : uv_strerror(nread));
        return;
    }
    c->rx_len += nread;
    c->last_rx_ms = now_ms(c);
    while (c->rx_len - ofs >= sizeof(struct ofp_header) && !c->closing) {
        const struct ofp_header *oh = (void *) (c->rx + ofs);
        size_t len = ntohs(oh->length);

        if (len < sizeof *oh) {
            ofconn_close(c, "bad OpenFlow message length");
            return;
        }
        if (c->rx_len - ofs < len) {
            break;
        }
        handle_msg(c, oh);
        ofs += len;
    }
    if (c->closing) {
        return;
    }
    memmove(c->rx, c->rx + ofs, c->rx_len - ofs);
    c->rx_len -= ofs;
}

static void
on_echo_timer(uv_timer_t *timer)
{
    struct ofconn *c = timer->data;
    uint64_t silent = now_ms(c) - c->last_rx_ms;

    if (silent > (c->busy ? DEAD_AFTER_BUSY_MS : DEAD_AFTER_MS)) {
        ofconn_close(c, "no answer to echo requests");
        return;
    }
    if (c->state != S_HELLO) {
        send_msg(c, ofputil_encode_echo_request(c->version));
        flush_tx(c);
    }
}

/* ---- Lifecycle. ---- */

static struct ofconn *
ofconn_create(struct mslbd *d, const char *peer)
{
    struct ofconn *c = xzalloc(sizeof *c);

    c->d = d;
    c->peer = xstrdup(peer);
    c->next_xid = 1;
    c->h.handle.data = c;
    c->have = flowset_create();
    hmap_init(&c->units);
    return c;
}

static void
on_conn_closed(uv_handle_t *handle)
{
    struct ofconn *c = handle->data;

    flowset_destroy(c->have);
    drop_units(c);
    flowset_destroy(c->want);
    hmap_destroy(&c->units);
    flowset_diff_uninit(&c->diff);
    if (c->tx) {
        ofpbuf_delete(c->tx);
    }
    free(c->rx);
    free(c->ports);
    free(c->name);
    free(c->peer);
    free(c);
}

static void
on_echo_closed(uv_handle_t *handle)
{
    struct ofconn *c = handle->data;
    uv_close(&c->h.handle, on_conn_closed);
}

static void schedule_reconnect(struct active *);

static void
ofconn_close(struct ofconn *c, const char *why)
{
    if (c->closing) {
        return;
    }
    c->closing = true;
    LOG_INFO("%s%s%s: disconnected: %s", c->name ? "bridge " : "",
             c->name ? c->name : c->peer, "", why);
    mslbd_remove_conn(c->d, c);
    stats_fail_all(c);
    mslbd_bridges_changed(c->d);
    if (c->active) {
        c->active->conn = NULL;
        schedule_reconnect(c->active);
    }
    uv_timer_stop(&c->echo_timer);
    uv_close((uv_handle_t *) &c->echo_timer, on_echo_closed);
}

static void
start_connection(struct ofconn *c)
{
    uv_timer_init(c->d->loop, &c->echo_timer);
    c->echo_timer.data = c;
    c->last_rx_ms = now_ms(c);
    uv_timer_start(&c->echo_timer, on_echo_timer, ECHO_INTERVAL_MS,
                   ECHO_INTERVAL_MS);
    mslbd_add_conn(c->d, c);
    c->state = S_HELLO;
    send_msg(c, ofputil_encode_hello(OFFERED_VERSIONS));
    flush_tx(c);
    uv_read_start(&c->h.stream, on_alloc, on_read);
}

/* ---- Listening. ---- */

struct listener {
    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } h;
    struct mslbd *d;
    char *target;
    char *unix_path;
    bool is_unix;
};

static struct listener **listeners;
static size_t n_listeners;

static void
on_connection(uv_stream_t *server, int status)
{
    struct listener *l = server->data;
    struct ofconn *c;
    char peer[128];

    if (status < 0) {
        LOG_WARN("%s: accept failed: %s", l->target, uv_strerror(status));
        return;
    }
    snprintf(peer, sizeof peer, "%s#%zu", l->target, l->d->n_conns + 1);
    c = ofconn_create(l->d, peer);
    if (l->is_unix) {
        uv_pipe_init(l->d->loop, &c->h.pipe, 0);
    } else {
        uv_tcp_init(l->d->loop, &c->h.tcp);
        uv_tcp_nodelay(&c->h.tcp, 1);
    }
    c->h.handle.data = c;
    if (uv_accept(server, &c->h.stream)) {
        uv_close(&c->h.handle, on_conn_closed);
        return;
    }
    if (!l->is_unix) {
        struct sockaddr_storage ss;
        int len = sizeof ss;
        char ip[64] = "?";
        if (!uv_tcp_getpeername(&c->h.tcp, (struct sockaddr *) &ss, &len)) {
            if (ss.ss_family == AF_INET) {
                struct sockaddr_in *sin = (void *) &ss;
                uv_ip4_name(sin, ip, sizeof ip);
                snprintf(peer, sizeof peer, "tcp:%s:%d", ip,
                         ntohs(sin->sin_port));
            } else {
                struct sockaddr_in6 *sin6 = (void *) &ss;
                uv_ip6_name(sin6, ip, sizeof ip);
                snprintf(peer, sizeof peer, "tcp:[%s]:%d", ip,
                         ntohs(sin6->sin6_port));
            }
            free(c->peer);
            c->peer = xstrdup(peer);
        }
    }
    start_connection(c);
}

/* Splits "HOST:PORT" or "PORT:HOST" style arguments. */
static char *
parse_sockaddr(const char *host, const char *port, struct sockaddr_storage *ss)
{
    char *end;
    long p = strtol(port, &end, 10);

    if (!port[0] || *end || p < 0 || p > 65535) {
        return xasprintf("\"%s\" is not a port number", port);
    }
    if (!uv_ip4_addr(host, p, (struct sockaddr_in *) ss)) {
        return NULL;
    }
    if (host[0] == '[') {
        char h[64];
        ovs_strlcpy(h, host + 1, sizeof h);
        h[strcspn(h, "]")] = '\0';
        if (!uv_ip6_addr(h, p, (struct sockaddr_in6 *) ss)) {
            return NULL;
        }
    } else if (!uv_ip6_addr(host, p, (struct sockaddr_in6 *) ss)) {
        return NULL;
    }
    return xasprintf("\"%s\" is not an IP address", host);
}

char *
ofconn_listen(struct mslbd *d, const char *target)
{
    struct listener *l = xzalloc(sizeof *l);
    int error;

    l->d = d;
    l->target = xstrdup(target);
    l->h.handle.data = l;
    if (!strncmp(target, "punix:", 6)) {
        l->is_unix = true;
        l->unix_path = xstrdup(target + 6);
        unlink(l->unix_path);
        uv_pipe_init(d->loop, &l->h.pipe, 0);
        error = uv_pipe_bind(&l->h.pipe, l->unix_path);
    } else if (!strncmp(target, "ptcp:", 5)) {
        char *copy = xstrdup(target + 5);
        char *colon = strchr(copy, ':');
        const char *host = "0.0.0.0";
        struct sockaddr_storage ss;
        char *msg;

        if (colon) {
            *colon = '\0';
            host = colon + 1;
        }
        msg = parse_sockaddr(host, copy, &ss);
        free(copy);
        if (msg) {
            free(l->target);
            free(l);
            return msg;
        }
        uv_tcp_init(d->loop, &l->h.tcp);
        error = uv_tcp_bind(&l->h.tcp, (struct sockaddr *) &ss, 0);
    } else {
        free(l->target);
        free(l);
        return xasprintf("%s: listen target must be ptcp:PORT[:IP] or "
                         "punix:PATH", target);
    }
    l->h.handle.data = l;
    if (!error) {
        error = uv_listen(&l->h.stream, 64, on_connection);
    }
    if (error) {
        char *msg = xasprintf("%s: %s", target, uv_strerror(error));
        uv_close(&l->h.handle, NULL);
        return msg;              /* 'l' leaks: the daemon exits. */
    }
    listeners = xrealloc(listeners, (n_listeners + 1) * sizeof *listeners);
    listeners[n_listeners++] = l;
    LOG_INFO("listening for OpenFlow connections on %s", target);
    return NULL;
}

void
ofconn_close_listeners(void)
{
    for (size_t i = 0; i < n_listeners; i++) {
        if (listeners[i]->unix_path) {
            unlink(listeners[i]->unix_path);
        }
        uv_close(&listeners[i]->h.handle, NULL);
    }
    n_listeners = 0;
}

/* ---- Connecting. ---- */

static void
on_connect(uv_connect_t *req, int status)
{
    struct ofconn *c = req->data;
    struct active *a = c->active;

    free(req);
    if (status < 0) {
        LOG_DBG("%s: connect failed: %s", a->target, uv_strerror(status));
        a->conn = NULL;
        c->closing = true;
        uv_close(&c->h.handle, on_conn_closed);
        schedule_reconnect(a);
        return;
    }
    a->backoff_ms = RECONNECT_MIN_MS;
    start_connection(c);
}

static void
try_connect(uv_timer_t *timer)
{
    struct active *a = timer->data;
    struct ofconn *c = ofconn_create(a->d, a->target);
    uv_connect_t *req = xmalloc(sizeof *req);
    int error;

    c->active = a;
    a->conn = c;
    req->data = c;
    if (!strncmp(a->target, "unix:", 5)) {
        uv_pipe_init(a->d->loop, &c->h.pipe, 0);
        c->h.handle.data = c;
        uv_pipe_connect(req, &c->h.pipe, a->target + 5, on_connect);
        return;
    }

    struct sockaddr_storage ss;
    char *copy = xstrdup(a->target + 4);
    char *colon = strrchr(copy, ':');
    char *msg;

    if (colon) {
        *colon = '\0';
    }
    msg = colon ? parse_sockaddr(copy, colon + 1, &ss)
          : xstrdup("expected tcp:IP:PORT");
    free(copy);
    uv_tcp_init(a->d->loop, &c->h.tcp);
    c->h.handle.data = c;
    error = msg ? UV_EINVAL
            : uv_tcp_connect(req, &c->h.tcp, (struct sockaddr *) &ss,
                             on_connect);
    if (error) {
        LOG_ERR("%s: %s", a->target, msg ? msg : uv_strerror(error));
        free(msg);
        free(req);
        a->conn = NULL;
        c->closing = true;
        uv_close(&c->h.handle, on_conn_closed);
        schedule_reconnect(a);
    }
}

static void
schedule_reconnect(struct active *a)
{
    uv_timer_start(&a->timer, try_connect, a->backoff_ms, 0);
    a->backoff_ms = MIN(a->backoff_ms * 2, RECONNECT_MAX_MS);
}

char *
ofconn_connect(struct mslbd *d, const char *target)
{
    struct active *a;

    if (strncmp(target, "tcp:", 4) && strncmp(target, "unix:", 5)) {
        return xasprintf("%s: connect target must be tcp:IP:PORT or "
                         "unix:PATH", target);
    }
    if (!strncmp(target, "tcp:", 4)) {
        struct sockaddr_storage ss;
        char *copy = xstrdup(target + 4);
        char *colon = strrchr(copy, ':');
        char *msg;
        if (!colon) {
            free(copy);
            return xasprintf("%s: expected tcp:IP:PORT", target);
        }
        *colon = '\0';
        msg = parse_sockaddr(copy, colon + 1, &ss);
        free(copy);
        if (msg) {
            char *full = xasprintf("%s: %s", target, msg);
            free(msg);
            return full;
        }
    }
    a = xzalloc(sizeof *a);
    a->d = d;
    a->target = xstrdup(target);
    a->backoff_ms = RECONNECT_MIN_MS;
    uv_timer_init(d->loop, &a->timer);
    a->timer.data = a;
    uv_timer_start(&a->timer, try_connect, 0, 0);
    return NULL;
}
