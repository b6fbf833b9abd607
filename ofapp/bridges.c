/* The bridge table: see bridges.h.  It wires each bridge's session
 * (ofsession), desired state (desired) and reconciler together; calls go
 * down to them, their news comes back through callbacks. */
#include <config.h>
#include "bridges.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "byte-order.h"
#include "openflow/openflow-1.2.h"
#include "openvswitch/ofp-connection.h"
#include "openvswitch/ofp-errors.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/ofp-print.h"
#include "openvswitch/ofp-util.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/vlog.h"
#include "util.h"

#include "announce.h"
#include "lbengine.h"
#include "mslb/flowset.h"
#include "mslb/modeldb.h"
#include "sset.h"
#include "ofsession.h"
#include "fragments.h"
#include "mss.h"
#include "pmtu.h"
#include "reject.h"
#include "mslb/compile.h"
#include "reconciler.h"

VLOG_DEFINE_THIS_MODULE(bridges);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

#define OFPP_LOCAL_NO 0xfffe          /* OFPP_LOCAL as a 16-bit number. */

struct bridge {
    struct bridges *table;
    char *name;
    uint64_t dpid;
    struct ofsession *session;  /* NULL while disconnected. */
    bool master;                /* The switch confirmed us as its master:
                                 * only then may we write to it. */
    bool asked_master;          /* The last role request's. */
    bool asked_current;         /* A role query (NOCHANGE) is out. */
    char *key;                  /* Its table in the engine, or NULL. */
    char *why;                  /* Why its table is held, as last logged. */
    bool republish;             /* Hand the reconciler its table again. */
    struct reconciler *rec;
    struct ofstats *stats;
    struct pmtu *pmtu;          /* Path-MTU answers (tun, mslb). */
    struct frags *frags;        /* Fragments to VIPs. */
    struct reject *reject;      /* Refusals of empty services. */
    bool in_model;              /* As of the last update. */
    struct announcer *announcer;    /* NULL until needed. */
    bool announce_synced;       /* Its addresses as of announced_gen. */
    uint64_t announced_gen;
    uint64_t announced_seq;     /* mdb_addr_seq() of its addresses. */
    size_t n_announced;
};

struct bridges {
    uv_loop_t *loop;
    const struct bridges_cbs *cbs;
    void *aux;
    const struct mdb *mdb;      /* The model. */
    struct swfacts *sw;         /* What the switches told us: written. */
    const struct lbengine *engine;  /* Desired tables: read. */
    uint64_t generation;
    struct bridge **bridges;
    size_t n, allocated;
    bool want_master;           /* The database made us master... */
    uint64_t role_gen;          /* ...with this generation id. */
    bool role_known;            /* bridges_set_role() was called. */
    struct ofsession_listener **listeners;
    size_t n_listeners, allocated_listeners;
    uint64_t announce_ms;       /* Interval; 0: no announcements. */
    uv_timer_t *announce_timer;
};

static void announce_run(struct bridges *);
#define ANNOUNCE_RECHECK_MS 250

static void
notify_changed(struct bridges *t)
{
    if (t->cbs && t->cbs->changed) {
        t->cbs->changed(t->aux);
    }
}

/* ---- The switch, as the reconciler sees it. ---- */

static uint32_t
sw_alloc_xid(void *b_)
{
    struct bridge *b = b_;
    return b->session ? ofsession_alloc_xid(b->session) : 0;
}

static void
sw_send(void *b_, struct ofpbuf *msg)
{
    struct bridge *b = b_;

    if (b->session) {
        ofsession_send_xid(b->session, msg);
    } else {
        ofpbuf_delete(msg);
    }
}

static uint64_t
sw_now_ms(void *b_)
{
    return uv_hrtime() / 1000000;
}

static const struct reconciler_switch session_switch = {
    .alloc_xid = sw_alloc_xid,
    .send = sw_send,
    .now_ms = sw_now_ms,
};

/* ---- Keeping a bridge in step. ---- */

static const struct model_bridge *
model_bridge(const struct bridge *b)
{
    const struct mdb *m = b->table->mdb;
    const struct model_bridge *br;

    if (!m) {
        return NULL;
    }
    br = mdb_find_bridge_by_dpid(m, b->dpid);
    if (!br) {
        br = mdb_find_bridge(m, b->name);
        if (br && br->has_dpid && br->dpid != b->dpid) {
            br = NULL;          /* Same name, another datapath. */
        }
    }
    return br;
}

static void
log_not_in_model(const struct bridge *b)
{
    VLOG_INFO("bridge %s (dpid %016"PRIx64"): not in the model; removing "
              "mslb's flows (%zu) and leaving others alone", b->name,
              b->dpid, reconciler_n_flows(b->rec));
}

static void
sync_busy(struct bridge *b)
{
    if (b->session) {
        ofsession_set_busy(b->session,
                           reconciler_state(b->rec) == RECONCILER_BUSY);
    }
}

/* Tells the engine what the bridge's switch reported: its table is keyed
 * by the model bridge it is, or by a name no model bridge has (then the
 * table is empty: mslb's flows go, nothing else is touched). */
static void
update(struct bridge *b)
{
    const struct model_bridge *br = model_bridge(b);
    const struct ofsession_port *sp;
    struct mslb_mac local_mac;
    const char **names;
    uint32_t *nos;
    char *key;
    size_t n;

    if (!b->session) {
        return;
    }
    if (!br && b->in_model && bridge_is_connected(b)) {
        log_not_in_model(b);
    }
    b->in_model = br != NULL;
    key = br ? xstrdup(br->name) : xasprintf("%s#%016"PRIx64, b->name,
                                             b->dpid);
    if (b->key && strcmp(b->key, key)) {
        b->republish = true;
    }
    free(b->key);
    b->key = key;

    memset(&local_mac, 0, sizeof local_mac);
    sp = ofsession_ports(b->session, &n);
    names = xmalloc((n + 1) * sizeof *names);
    nos = xmalloc((n + 1) * sizeof *nos);
    for (size_t i = 0; i < n; i++) {
        names[i] = sp[i].name;
        nos[i] = sp[i].no;
        if (sp[i].no == OFPP_LOCAL_NO) {
            memcpy(local_mac.b, sp[i].mac.ea, 6);
        }
    }
    swfacts_set(b->table->sw, key, ofsession_version(b->session), names,
                nos, n, &local_mac);
    free(names);
    free(nos);
    sync_busy(b);
}

/* Hands bridge 'b''s reconciler its desired table, unless the table is held
 * (a port missing...), which is logged once. */
static void
publish(struct bridge *b, uint64_t generation)
{
    const char *why = NULL;
    struct flowset *want;

    if (!b->key) {
        return;
    }
    want = lbengine_desired(b->table->engine, b->key, &why);
    if (why || !want) {
        why = why ? why : "not built yet";
        if (!b->why || strcmp(b->why, why)) {
            VLOG_WARN("bridge %s: %s", b->name, why);
            free(b->why);
            b->why = xstrdup(why);
        }
        return;
    }
    free(b->why);
    b->why = NULL;
    b->republish = false;
    reconciler_set_desired(b->rec, want, generation);
    sync_busy(b);
}

void
bridges_publish(struct bridges *t, uint64_t generation)
{
    const struct sset *changed = lbengine_changed_bridges(t->engine);
    bool new_gen = generation != t->generation;

    t->generation = generation;
    for (size_t i = 0; i < t->n; i++) {
        struct bridge *b = t->bridges[i];

        if (b->session && b->key
            && (new_gen || b->republish || b->why
                || sset_contains(changed, b->key))) {
            publish(b, generation);
        }
    }
}

static void
on_adopted(void *b_)
{
    struct bridge *b = b_;

    if (!model_bridge(b)) {
        log_not_in_model(b);
    }
    notify_changed(b->table);
}

static void
on_installed(void *b_, uint64_t generation)
{
    struct bridge *b = b_;

    sync_busy(b);
    announce_run(b->table);     /* New addresses are announced now. */
    notify_changed(b->table);
}

static const struct reconciler_cbs reconciler_cbs = {
    .adopted = on_adopted,
    .installed = on_installed,
};

/* ---- Roles: one master per bridge (docs/deployment.md). ----
 *
 * Every mslbd connected to a bridge asks the switch for a role: the one the
 * database made master (nbdb.h) for OFPCR_ROLE_MASTER with the generation
 * id of its claim, the others for OFPCR_ROLE_SLAVE.  The switch demotes an
 * older master when a new one comes and refuses a request whose generation
 * id is older than one it has seen, so a stale master can never write.
 * Flows, groups and packet-outs go only to a bridge whose switch answered
 * "master"; a slave keeps its session for the switch's facts (so that its
 * desired tables are ready) and gets no packet-ins. */

static void
send_role_request(struct bridge *b, enum ofp12_controller_role role)
{
    struct ofpbuf *msg = ofpraw_alloc(OFPRAW_OFPT12_ROLE_REQUEST,
                                      ofsession_version(b->session), 0);
    struct ofp12_role_request *rr = ofpbuf_put_zeros(msg, sizeof *rr);

    rr->role = htonl(role);
    rr->generation_id = htonll(b->table->role_gen);
    ofsession_send(b->session, msg);
}

static void
send_role(struct bridge *b)
{
    if (!b->table->role_known) {
        return;                 /* Until the database says: see below. */
    }
    b->asked_master = b->table->want_master;
    send_role_request(b, b->asked_master ? OFPCR12_ROLE_PRIMARY
                                         : OFPCR12_ROLE_SECONDARY);
}

static void
become_slave(struct bridge *b, const char *why)
{
    if (!b->master) {
        return;
    }
    VLOG_INFO("bridge %s: slave: %s", b->name, why);
    b->master = false;
    b->announce_synced = false;
    if (b->announcer) {
        announcer_reset(b->announcer);
    }
    reconciler_demoted(b->rec);
    notify_changed(b->table);
}

static void
become_master(struct bridge *b)
{
    if (b->master) {
        return;
    }
    VLOG_INFO("bridge %s: master (role generation %"PRIu64"): adopting its "
              "flows", b->name, b->table->role_gen);
    b->master = true;
    b->republish = true;
    reconciler_connected(b->rec, ofsession_version(b->session));
    notify_changed(b->table);
}

/* Role replies and status, and the errors that say we are not master. */
static bool
handle_role_msg(struct bridge *b, const struct ofp_header *oh,
                enum ofptype type)
{
    struct ofputil_role_request rr;
    struct ofputil_role_status rs;
    char *why;

    switch (type) {
    case OFPTYPE_ROLE_REPLY:
        if (ofputil_decode_role_message(oh, &rr)) {
            return true;
        }
        if (b->asked_current) {
            /* The switch's answer to our query after a stale refusal:
             * the generation id it has seen, for the next claim. */
            b->asked_current = false;
            if (rr.have_generation_id && b->table->cbs
                && b->table->cbs->stale_role) {
                b->table->cbs->stale_role(b->table->aux, rr.generation_id);
            }
        } else {
            if (rr.role == OFPCR12_ROLE_PRIMARY && b->table->want_master) {
                become_master(b);
            } else if (rr.role != OFPCR12_ROLE_PRIMARY) {
                become_slave(b, "this mslbd is not the master");
            }
        }
        return true;
    case OFPTYPE_ROLE_STATUS:
        if (!ofputil_decode_role_status(oh, &rs)
            && rs.role != OFPCR12_ROLE_PRIMARY) {
            why = xasprintf("another controller became master (generation "
                            "%"PRIu64")", rs.generation_id);
            become_slave(b, why);
            free(why);
        }
        return true;
    case OFPTYPE_ERROR: {
        enum ofperr error = ofperr_decode_msg(oh, NULL);

        if (error == OFPERR_OFPRRFC_STALE) {
            become_slave(b, "stale role generation");
            if (b->asked_master && !b->asked_current) {
                /* It has seen a higher generation (an earlier database's,
                 * or a newer master's): ask which. */
                VLOG_WARN("bridge %s: the switch refused role generation "
                          "%"PRIu64" as stale", b->name, b->table->role_gen);
                b->asked_current = true;
                send_role_request(b, OFPCR12_ROLE_NOCHANGE);
            }
            return true;
        }
        if (error == OFPERR_OFPBRC_IS_SECONDARY) {
            become_slave(b, "the switch says this connection is a slave");
            /* The reconciler's bundle failed with it: it starts again
             * from a dump if this mslbd is made master again. */
        }
        return false;
    }
    default:
        return false;
    }
}

void
bridges_set_role(struct bridges *t, bool master, uint64_t generation)
{
    if (t->role_known && master == t->want_master
        && generation == t->role_gen) {
        return;
    }
    t->role_known = true;
    t->want_master = master;
    t->role_gen = generation;
    for (size_t i = 0; i < t->n; i++) {
        struct bridge *b = t->bridges[i];

        if (b->session) {
            if (!master) {
                become_slave(b, "this mslbd is no longer the master");
            }
            send_role(b);
        }
    }
}

/* ---- Sessions. ---- */

static struct bridge *
find_by_session(const struct bridges *t, const struct ofsession *s)
{
    for (size_t i = 0; i < t->n; i++) {
        if (t->bridges[i]->session == s) {
            return t->bridges[i];
        }
    }
    return NULL;
}

static struct bridge *
find_or_create(struct bridges *t, const char *name, uint64_t dpid)
{
    struct bridge *b;

    for (size_t i = 0; i < t->n; i++) {
        b = t->bridges[i];
        if (!strcmp(b->name, name) && b->dpid == dpid) {
            return b;
        }
    }
    b = xzalloc(sizeof *b);
    b->table = t;
    b->name = xstrdup(name);
    b->dpid = dpid;
    b->rec = reconciler_create(name, &session_switch, b, &reconciler_cbs,
                               b);
    b->stats = ofstats_create();
    b->pmtu = pmtu_create(name);
    b->reject = reject_create();
    b->frags = frags_create(name);
    b->in_model = true;
    if (t->n >= t->allocated) {
        t->bridges = x2nrealloc(t->bridges, &t->allocated,
                                sizeof *t->bridges);
    }
    t->bridges[t->n++] = b;
    return b;
}

static void
on_ready(void *t_, struct ofsession *s)
{
    struct bridges *t = t_;
    const char *name = ofsession_name(s);
    struct bridge *b;

    if (!name) {
        ofsession_close(s, "the switch reported no LOCAL port");
        return;
    }
    b = find_or_create(t, name, ofsession_dpid(s));
    if (b->session) {
        /* Two sessions to one bridge would fight: the first keeps it. */
        VLOG_WARN("bridge %s: already connected through %s; %s stays idle",
                  name, ofsession_peer(b->session), ofsession_peer(s));
        return;
    }
    b->session = s;
    b->republish = true;
    send_role(b);               /* Writing waits for the switch's answer. */
    update(b);
    notify_changed(t);          /* The engine may have work. */
}

static void
on_ports_changed(void *t_, struct ofsession *s)
{
    struct bridge *b = find_by_session(t_, s);

    if (b) {
        update(b);
        notify_changed(t_);
    }
}

static void
on_msg(void *t_, struct ofsession *s, const struct ofp_header *oh,
       enum ofptype type)
{
    struct bridge *b = find_by_session(t_, s);

    if (b && handle_role_msg(b, oh, type)) {
        return;
    }
    if (b && (reconciler_handle_msg(b->rec, oh)
              || ofstats_handle_msg(b->stats, oh, type))) {
        sync_busy(b);
        return;
    }
    if (b && b->master && type == OFPTYPE_PACKET_IN) {
        struct compile_ports ports;
        struct frags_env env = { .mdb = b->table->mdb };

        env.br = model_bridge(b);
        if (env.br && lbengine_ports(b->table->engine, env.br, &ports)) {
            env.ports = &ports;
        }
        if ((b->table->cbs->packet_in
             && b->table->cbs->packet_in(b->table->aux, b->name, s, oh,
                                         type))
            || mss_handle_msg(s, oh, type)
            || reject_handle_msg(b->reject, s, oh, type)
            || frags_handle_msg(b->frags, s, oh, type, &env)
            || pmtu_handle_msg(b->pmtu, s, oh, type)) {
            return;
        }
    }
    if (type == OFPTYPE_ERROR) {
        char *text = ofp_to_string(oh, ntohs(oh->length), NULL, NULL, 1);
        VLOG_WARN_RL(&rl, "bridge %s: error from switch: %s",
                     b ? b->name : ofsession_peer(s), text);
        free(text);
    }
}

static void
on_disconnected(void *t_, struct ofsession *s)
{
    struct bridges *t = t_;
    struct bridge *b = find_by_session(t, s);

    if (b) {
        b->session = NULL;
        b->master = false;
        b->asked_current = false;
        b->announce_synced = false;
        if (b->announcer) {
            announcer_reset(b->announcer);
        }
        reconciler_disconnected(b->rec);
        ofstats_fail_all(b->stats);
        notify_changed(t);
    }
}

static const struct ofsession_cbs session_cbs = {
    .ready = on_ready,
    .ports_changed = on_ports_changed,
    .msg = on_msg,
    .disconnected = on_disconnected,
};

/* ---- The table. ---- */

static void
free_handle(uv_handle_t *h)
{
    free(h);
}

struct bridges *
bridges_create(uv_loop_t *loop, const struct mdb *mdb, struct swfacts *sw,
               const struct lbengine *engine, const struct bridges_cbs *cbs,
               void *aux)
{
    struct bridges *t = xzalloc(sizeof *t);

    t->loop = loop;
    t->mdb = mdb;
    t->sw = sw;
    t->engine = engine;
    t->cbs = cbs;
    t->aux = aux;
    t->announce_ms = BRIDGES_ANNOUNCE_DEFAULT * 1000;
    t->announce_timer = xmalloc(sizeof *t->announce_timer);
    uv_timer_init(loop, t->announce_timer);
    t->announce_timer->data = t;
    return t;
}

void
bridges_destroy(struct bridges *t)
{
    if (!t) {
        return;
    }
    bridges_close_listeners(t);
    for (size_t i = 0; i < t->n; i++) {
        struct bridge *b = t->bridges[i];
        if (b->session) {
            continue;           /* Its session still points here. */
        }
        reconciler_destroy(b->rec);
        announcer_destroy(b->announcer);
        free(b->key);
        free(b->why);
        ofstats_destroy(b->stats);
        pmtu_destroy(b->pmtu);
        reject_destroy(b->reject);
        frags_destroy(b->frags);
        free(b->name);
        free(b);
    }
    free(t->bridges);
    free(t->listeners);
    uv_close((uv_handle_t *) t->announce_timer, free_handle);
    free(t);
}

char *
bridges_listen(struct bridges *t, const char *target)
{
    struct ofsession_listener *l;
    char *error = ofsession_listen(t->loop, target, &session_cbs, t, &l);

    if (!error) {
        if (t->n_listeners >= t->allocated_listeners) {
            t->listeners = x2nrealloc(t->listeners, &t->allocated_listeners,
                                      sizeof *t->listeners);
        }
        t->listeners[t->n_listeners++] = l;
    }
    return error;
}

char *
bridges_connect(struct bridges *t, const char *target)
{
    struct ofsession_target *unused;
    return ofsession_connect(t->loop, target, &session_cbs, t, &unused);
}

void
bridges_close_listeners(struct bridges *t)
{
    for (size_t i = 0; i < t->n_listeners; i++) {
        ofsession_listener_close(t->listeners[i]);
    }
    t->n_listeners = 0;
}

void
bridges_model_changed(struct bridges *t)
{
    for (size_t i = 0; i < t->n; i++) {
        update(t->bridges[i]);
    }
}

size_t
bridges_count(const struct bridges *t)
{
    return t->n;
}

struct bridge *
bridges_at(const struct bridges *t, size_t i)
{
    return i < t->n ? t->bridges[i] : NULL;
}

struct bridge *
bridges_find(const struct bridges *t, const char *name)
{
    for (size_t i = 0; i < t->n; i++) {
        struct bridge *b = t->bridges[i];
        if (bridge_is_connected(b) && !strcmp(b->name, name)) {
            return b;
        }
    }
    return NULL;
}

void
bridges_tally(const struct bridges *t, const struct mdb *mdb, uint64_t gen,
              bool (*installed)(void *, const struct bridge *, uint64_t *),
              void *aux, struct bridges_tally *out)
{
    const struct model_bridge **brs = mdb_bridges_sorted(mdb,
                                                         &out->configured);

    out->connected = out->in_step = 0;
    for (size_t i = 0; i < out->configured; i++) {
        const struct bridge *b = bridges_find(t, brs[i]->name);
        uint64_t have;

        if (b) {
            out->connected++;
            out->in_step += bridge_is_master(b)
                            ? bridge_in_step(b)
                            : installed(aux, b, &have) && have == gen;
        }
    }
    free(brs);
}

/* ---- One bridge. ---- */

const char *
bridge_name(const struct bridge *b)
{
    return b->name;
}

struct ofsession *
bridge_session(const struct bridge *b)
{
    return b->master ? b->session : NULL;
}

bool
bridge_is_master(const struct bridge *b)
{
    return b->session && b->master;
}

bool
bridge_is_connected(const struct bridge *b)
{
    enum reconciler_state st = reconciler_state(b->rec);
    return b->session
           && (!b->master || st == RECONCILER_IDLE || st == RECONCILER_BUSY);
}

uint64_t
bridge_installed_generation(const struct bridge *b)
{
    return reconciler_installed_generation(b->rec);
}

bool
bridge_in_step(const struct bridge *b)
{
    return (bridge_is_connected(b) && reconciler_in_step(b->rec)
            && reconciler_installed_generation(b->rec)
               == b->table->generation);
}

json_t *
bridge_status_json(const struct bridge *b)
{
    json_t *ports = json_array();
    const char *version = NULL;
    char dpid[17];

    if (b->session) {
        const struct ofsession_port *p;
        size_t n;

        p = ofsession_ports(b->session, &n);
        for (size_t i = 0; i < n; i++) {
            json_array_append_new(ports, json_pack(
                "{s:s, s:i}", "name", p[i].name, "number", (int) p[i].no));
        }
        version = ofputil_version_to_string(ofsession_version(b->session));
    }
    snprintf(dpid, sizeof dpid, "%016"PRIx64, b->dpid);
    return json_pack("{s:s, s:s, s:s?, s:b, s:s?, s:I, s:I, s:I, s:o}",
                     "name", b->name, "datapath_id", dpid,
                     "openflow_version", version,
                     "connected", bridge_is_connected(b),
                     "openflow_role", !b->session ? NULL
                     : b->master ? "master" : "slave",
                     "installed_generation",
                     (json_int_t) reconciler_installed_generation(b->rec),
                     "flows", (json_int_t) reconciler_n_flows(b->rec),
                     "groups", (json_int_t) reconciler_n_groups(b->rec),
                     "ports", ports);
}

void
bridge_collect_stats(struct bridge *b, ofstats_cb *cb, void *aux)
{
    if (!bridge_is_connected(b)) {
        cb(aux, NULL);
        return;
    }
    ofstats_collect(b->stats, b->session, cb, aux);
}

void
bridge_collect_learned(struct bridge *b, ofstats_cb *cb, void *aux)
{
    if (!bridge_is_connected(b)) {
        cb(aux, NULL);
        return;
    }
    ofstats_collect_learned(b->stats, b->session, cb, aux);
}

/* ---- Announcements (announce.h). ---- */

void
bridges_set_announce_interval(struct bridges *t, unsigned int seconds)
{
    t->announce_ms = (uint64_t) seconds * 1000;
    if (!seconds) {
        uv_timer_stop(t->announce_timer);
    }
}

static void
on_announce_timer(uv_timer_t *timer)
{
    announce_run(timer->data);
}

static bool
port_no(const struct bridge *b, const char *name, uint32_t *no)
{
    const struct ofsession_port *p;
    size_t n;

    p = ofsession_ports(b->session, &n);
    for (size_t i = 0; name && i < n; i++) {
        if (!strcmp(p[i].name, name)) {
            *no = p[i].no;
            return true;
        }
    }
    return false;
}

static void
announce_send(struct bridge *b, const struct model_bridge *br,
              const struct announce_target *at)
{
    uint8_t frame[ANNOUNCE_FRAME_MAX];
    int version = ofsession_version(b->session);
    uint32_t front, back;
    size_t len;

    if (at->probe) {
        /* From the LOCAL port's MAC: the server's answer goes to the
         * host's stack, which ignores it, and teaches the bridge on the
         * way where the server is. */
        struct compile_ports ports;

        if (lbengine_ports(b->table->engine, br, &ports)) {
            len = announce_probe_frame(&at->addr, &ports.local_mac, frame);
            ofsession_send(b->session,
                           announce_packet_out(version, frame, len,
                                               (uint16_t) OFPP_FLOOD));
        }
        return;
    }
    len = announce_frame(&at->addr, &br->mac, frame);

    if (port_no(b, br->frontend_port, &front)) {
        ofsession_send(b->session,
                       announce_packet_out(version, frame, len, front));
    } else {
        front = UINT32_MAX;
    }
    if (at->gateway && port_no(b, br->backend_port, &back) && back != front) {
        ofsession_send(b->session,
                       announce_packet_out(version, frame, len, back));
    }
}

/* Sends every bridge's due announcements and sets the timer for the next
 * ones.  A bridge's addresses are taken from the model once it is in step
 * (its flows answer for them before anyone is told to use them). */
static void
announce_run(struct bridges *t)
{
    const struct announce_target *due[ANNOUNCE_BURST];
    uint64_t now = uv_hrtime() / 1000000;
    uint64_t next = now + t->announce_ms;

    if (!t->announce_ms || !t->mdb) {
        return;
    }
    for (size_t i = 0; i < t->n; i++) {
        struct bridge *b = t->bridges[i];
        const struct model_bridge *br;
        uint64_t gen, b_next;
        size_t n;

        if (!bridge_is_master(b) || !bridge_is_connected(b)
            || !(br = model_bridge(b))) {
            continue;
        }
        if (!b->announcer) {
            b->announcer = announcer_create(t->announce_ms);
        }
        gen = reconciler_installed_generation(b->rec);
        if (bridge_in_step(b) && b->announce_synced
            && gen != b->announced_gen
            && b->announced_seq == mdb_addr_seq(t->mdb)) {
            /* A change that moves no address (weights, states...): the
             * targets stay; listing them costs a pass over every service. */
            b->announced_gen = gen;
        } else if (bridge_in_step(b)
            && (!b->announce_synced || gen != b->announced_gen)) {
            struct announce_target *at = announce_targets(t->mdb, br, &n);
            if (!b->announce_synced || n != b->n_announced) {
                VLOG_INFO("bridge %s: announcing %zu addresses every "
                          "%"PRIu64" s", b->name, n, t->announce_ms / 1000);
            }
            b->n_announced = n;
            announcer_set_targets(b->announcer, at, n, now);
            b->announce_synced = true;
            b->announced_gen = gen;
            b->announced_seq = mdb_addr_seq(t->mdb);
        } else if (!bridge_in_step(b)) {
            /* Look again soon: its new addresses wait for it. */
            next = MIN(next, now + ANNOUNCE_RECHECK_MS);
        }
        n = announcer_due(b->announcer, now, due, &b_next);
        for (size_t j = 0; j < n; j++) {
            announce_send(b, br, due[j]);
        }
        next = MIN(next, b_next);
    }
    uv_timer_start(t->announce_timer, on_announce_timer,
                   next > now ? next - now : 1, 0);
}
