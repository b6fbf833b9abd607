/* Statistics over REST (GET /v1/stats, the counters of GET /metrics):
 * the switches' flow counters joined with the model per service and
 * backend (docs/api.md, "Statistics").
 *
 * Which flows count what (docs/pipeline.md):
 *   nat backend  its endpoint's flows (protocol, address, port; shared by
 *                services that share the endpoint): NAT_OUT 100, 101 and
 *                102 the requests, 101 (ct_state=+new) the new sessions,
 *                102 (TCP FINs and RSTs) the closed ones, CLASSIFY 200 the
 *                replies; the open sessions from the local switch's
 *                conntrack (ctdump.h), else estimated as a DSR backend's.
 *   DSR backend  DSR_FORWARD flows of the service's cookie with its key in
 *                reg1: 100, 101 and 102 (a tunnel's first pass only) the
 *                requests, 101 (TCP SYNs) the new sessions, 102 (FINs and
 *                RSTs) and a failed backend's reset flow (110, TCP) the
 *                closed ones; the open sessions are estimated from these
 *                (open_estimate.h); replies, behind a final stage, its
 *                flows at 160 with the backend's MAC (CLASSIFY, on slb
 *                hosts NAT_REPLY); elsewhere they pass no bridge of ours.
 *   service      CLASSIFY flows of its cookie on first-stage bridges only.
 * Each of these flows is a backend's own, so a change of the slot table
 * (groups, weights, backends added or removed) leaves them alone.  A flow
 * that is replaced (a new MAC, the switch restarted) starts from zero:
 * the keeper below adds what it had counted when last read, so the totals
 * only grow.  Rates are the totals' growth since the collection at least
 * a second older. */
#include <config.h>
#include "rest-private.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "bridges.h"
#include "ctdump.h"
#include "nbdb.h"
#include "open_estimate.h"
#include "mslb/compile.h"
#include "mslb/modeldb.h"
#include "mslb/pipeline.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/hmap.h"
#include "openvswitch/shash.h"
#include "hash.h"
#include "sset.h"
#include "timeval.h"
#include "util.h"

/* ---- The keeper: totals that survive replaced flows. ---- */

struct kept_flow {
    uint64_t packets, bytes;    /* As last read. */
    double duration;            /* The flow's age then. */
    long long int read_ms;      /* When. */
    uint64_t base_packets, base_bytes;  /* Counted by flows it replaced. */
    unsigned int seen;          /* The collection that last read it. */
};

enum { R_PACKETS, R_BYTES, R_SESSIONS, R_REPLY_PACKETS, R_REPLY_BYTES,
       N_RATES };
static const char *const rate_names[N_RATES] = {
    "packets", "bytes", "sessions", "reply_packets", "reply_bytes"
};

struct sample {
    uint64_t v[N_RATES];
    bool reply;                 /* v[R_REPLY_*] are known. */
};

struct rest_stats_keeper {
    struct shash flows;         /* "BRIDGE|flow" -> struct kept_flow. */
    unsigned int collection;
    struct shash ref;           /* "SERVICE" or "SERVICE\nBACKEND" ->
                                 * struct sample: the reference totals. */
    long long int ref_ms;
    struct shash open;          /* "SERVICE\nBACKEND" -> struct
                                 * open_estimate (DSR TCP backends). */
};

static struct rest_stats_keeper *
keeper(struct rest_server *srv)
{
    if (!srv->stats_keeper) {
        srv->stats_keeper = xzalloc(sizeof *srv->stats_keeper);
        shash_init(&srv->stats_keeper->flows);
        shash_init(&srv->stats_keeper->ref);
        shash_init(&srv->stats_keeper->open);
    }
    return srv->stats_keeper;
}

void
rest_stats_free(struct rest_server *srv)
{
    struct rest_stats_keeper *k = srv->stats_keeper;

    if (k) {
        shash_destroy_free_data(&k->flows);
        shash_destroy_free_data(&k->ref);
        shash_destroy_free_data(&k->open);
        free(k);
        srv->stats_keeper = NULL;
    }
}

static uint64_t
jint(const json_t *f, const char *key)
{
    return json_integer_value(json_object_get(f, key));
}

static const char *
jstr(const json_t *f, const char *key)
{
    const char *s = json_string_value(json_object_get(f, key));
    return s ? s : "";
}

static int
cookie_kind(const json_t *f)
{
    return (jint(f, "cookie") >> MSLB_COOKIE_KIND_SHIFT) & 0xff;
}

/* Replaces the counters of every flow of 'bridge' (ofstats.c gives only
 * those that count something) by its total (base + now). */
static void
keep_bridge(struct rest_stats_keeper *k, const char *bridge, json_t *flows)
{
    long long int now = time_msec();
    size_t i;
    json_t *f;

    size_t len = strlen(bridge);

    json_array_foreach (flows, i, f) {
        /* "BRIDGE|ID", ID the flow's identity (ofstats.c) in hex. */
        uint64_t id = jint(f, "id");
        char *key = xmalloc(len + 18);

        memcpy(key, bridge, len);
        key[len] = '|';
        for (int d = 0; d < 16; d++) {
            key[len + 1 + d] = "0123456789abcdef"[id >> (60 - 4 * d) & 15];
        }
        key[len + 17] = '\0';
        uint64_t packets = jint(f, "packets"), bytes = jint(f, "bytes");
        double duration = json_real_value(json_object_get(f, "duration"));
        struct kept_flow *kf = shash_find_data(&k->flows, key);

        if (!kf) {
            kf = xzalloc(sizeof *kf);
            shash_add_nocopy(&k->flows, key, kf);
        } else {
            double expected = kf->duration + (now - kf->read_ms) / 1000.0;

            free(key);
            if (duration + 1.0 < expected || packets < kf->packets
                || bytes < kf->bytes) {
                /* Replaced since: a new flow, counting from zero. */
                kf->base_packets += kf->packets;
                kf->base_bytes += kf->bytes;
            }
        }
        kf->packets = packets;
        kf->bytes = bytes;
        kf->duration = duration;
        kf->read_ms = now;
        kf->seen = k->collection;
        json_object_set_new(f, "packets",
                            json_integer(kf->base_packets + packets));
        json_object_set_new(f, "bytes", json_integer(kf->base_bytes + bytes));
    }
}

/* Whether kept flow 'key' ("BRIDGE|...") is of a bridge in 'read' (a few
 * names: compared in place, no copy per flow). */
static bool
bridge_read(const struct sset *read, const char *key)
{
    size_t n = strcspn(key, "|");
    const char *name;

    SSET_FOR_EACH (name, read) {
        if (!strncmp(name, key, n) && !name[n]) {
            return true;
        }
    }
    return false;
}

/* Forgets the flows of the bridges in 'read' that this collection did not
 * see (deleted: their backend or service is gone).  Bridges that did not
 * answer keep theirs. */
static void
keep_prune(struct rest_stats_keeper *k, const struct sset *read)
{
    struct shash_node *node, *next;

    SHASH_FOR_EACH_SAFE (node, next, &k->flows) {
        struct kept_flow *kf = node->data;

        if (kf->seen != k->collection && bridge_read(read, node->name)) {
            free(kf);
            shash_delete(&k->flows, node);
        }
    }
}

/* ---- One bridge's flows, indexed once, so that summing them per service
 * and backend costs what the flows and the backends number, not their
 * product (10,000 services on one bridge: seconds otherwise, with mslbd's
 * loop held). ---- */

struct group {
    struct hmap_node node;
    uint64_t key;               /* A cookie, or a service id. */
    const json_t **items;
    size_t n, allocated;
};

struct counters {
    uint64_t packets, bytes, sessions, affinity;
    uint64_t reply_packets, reply_bytes;
    uint64_t closes;            /* DSR: FINs and RSTs, and resets. */
};

struct stats_index {
    bool final;                 /* A final stage's (a host's) flows. */
    struct hmap by_cookie;      /* Service flows by cookie. */
    struct hmap learned;        /* Learned entries by service id. */
    struct shash endpoints;     /* "ip/proto/port" -> struct counters. */
};

static void
group_add(struct hmap *h, uint64_t key, const json_t *item)
{
    struct group *g;
    uint32_t hash = hash_uint64(key);

    HMAP_FOR_EACH_WITH_HASH (g, node, hash, h) {
        if (g->key == key) {
            goto found;
        }
    }
    g = xzalloc(sizeof *g);
    g->key = key;
    hmap_insert(h, &g->node, hash);
found:
    if (g->n == g->allocated) {
        g->items = x2nrealloc(g->items, &g->allocated, sizeof *g->items);
    }
    g->items[g->n++] = item;
}

static const struct group *
group_find(const struct hmap *h, uint64_t key)
{
    const struct group *g;

    HMAP_FOR_EACH_WITH_HASH (g, node, hash_uint64(key), h) {
        if (g->key == key) {
            return g;
        }
    }
    return NULL;
}

static void
groups_destroy(struct hmap *h)
{
    struct group *g;

    HMAP_FOR_EACH_POP (g, node, h) {
        free(g->items);
        free(g);
    }
    hmap_destroy(h);
}

/* An endpoint's key "IP/PROTO/PORT" into 'key' (ENDPOINT_KEY_SIZE). */
#define ENDPOINT_KEY_SIZE (INET6_ADDRSTRLEN + 16)
static const char *
endpoint_key(char key[ENDPOINT_KEY_SIZE], const char *ip, int proto,
             int port)
{
    snprintf(key, ENDPOINT_KEY_SIZE, "%s/%d/%d", ip, proto, port);
    return key;
}

static struct counters *
endpoint_counters(struct shash *endpoints, const char *ip, int proto,
                  int port)
{
    char key[ENDPOINT_KEY_SIZE];
    struct counters *c = shash_find_data(endpoints, endpoint_key(
                                             key, ip, proto, port));

    if (!c) {
        c = xzalloc(sizeof *c);
        shash_add(endpoints, key, c);
    }
    return c;
}

static void
index_stats(const json_t *bridge_stats, struct stats_index *ix)
{
    size_t i;
    json_t *f;

    hmap_init(&ix->by_cookie);
    hmap_init(&ix->learned);
    shash_init(&ix->endpoints);
    json_array_foreach (json_object_get(bridge_stats, "flows"), i, f) {
        int table = jint(f, "table");
        int proto = jint(f, "nw_proto");
        struct counters *c;

        if (cookie_kind(f) == MSLB_COOKIE_SERVICE) {
            group_add(&ix->by_cookie, jint(f, "cookie"), f);
        } else if (table == MSLB_T_NAT_OUT) {
            c = endpoint_counters(&ix->endpoints, jstr(f, "nw_dst"), proto,
                                  jint(f, "tp_dst"));
            c->packets += jint(f, "packets");
            c->bytes += jint(f, "bytes");
            if (jint(f, "priority") == MSLB_NAT_NEW_PRIORITY) {
                c->sessions += jint(f, "packets");
            } else if (jint(f, "priority") == MSLB_NAT_CLOSE_PRIORITY) {
                c->closes += jint(f, "packets");
            }
        } else if (table == MSLB_T_CLASSIFY) {
            c = endpoint_counters(&ix->endpoints, jstr(f, "nw_src"), proto,
                                  jint(f, "tp_src"));
            c->reply_packets += jint(f, "packets");
            c->reply_bytes += jint(f, "bytes");
        }
    }
    json_array_foreach (json_object_get(bridge_stats, "learned"), i, f) {
        group_add(&ix->learned, (uint32_t) jint(f, "service"), f);
    }
}

static void
index_destroy(struct stats_index *ix)
{
    groups_destroy(&ix->by_cookie);
    groups_destroy(&ix->learned);
    shash_destroy_free_data(&ix->endpoints);
}

/* The index of backend 'key' in 'svc', or SIZE_MAX. */
static size_t
backend_index(const struct model_service *svc, uint32_t key)
{
    const struct model_backend *be = model_find_backend_by_key(svc, key);

    return be ? (size_t) (be - svc->backends) : SIZE_MAX;
}

/* The index of the backend of 'svc' with MAC 'mac', or SIZE_MAX. */
static size_t
backend_by_mac(const struct model_service *svc, const struct mslb_mac *mac)
{
    for (size_t i = 0; i < svc->n_backends; i++) {
        const struct model_backend *be = &svc->backends[i];

        if (be->has_mac && !be->mac_unused
            && !memcmp(&be->mac, mac, sizeof *mac)) {
            return i;
        }
    }
    return SIZE_MAX;
}

/* Service 'svc''s counters on one bridge (the file's comment). */
static void
add_service_counters(const struct stats_index *ix,
                     const struct model_service *svc,
                     struct counters *total, struct counters *be)
{
    const struct group *g = group_find(&ix->by_cookie, mslb_cookie(
                                           MSLB_COOKIE_SERVICE, svc->id));

    for (size_t i = 0; g && i < g->n; i++) {
        const json_t *f = g->items[i];
        int table = jint(f, "table");
        size_t b;

        if (jint(f, "priority") == MSLB_DSR_REPLY_PRIORITY
            && (table == MSLB_T_CLASSIFY || table == MSLB_T_NAT_REPLY)) {
            /* A final stage's reply flow: the backend by its MAC. */
            struct mslb_mac mac;

            if (mslb_mac_parse(jstr(f, "dl_src"), &mac)
                && (b = backend_by_mac(svc, &mac)) != SIZE_MAX) {
                be[b].reply_packets += jint(f, "packets");
                be[b].reply_bytes += jint(f, "bytes");
            }
        } else if (table == MSLB_T_CLASSIFY) {
            /* The clients' packets, at their first stage (a final stage's
             * flows see them again). */
            if (!ix->final) {
                total->packets += jint(f, "packets");
                total->bytes += jint(f, "bytes");
            }
        } else if (table == MSLB_T_DSR_FORWARD
                   && (b = backend_index(svc, jint(f, "reg1"))) != SIZE_MAX) {
            int priority = jint(f, "priority");

            if (priority == MSLB_FAILED_PRIORITY) {
                /* Packets reset by mslbd, never delivered. */
                be[b].closes += jint(f, "packets");
                continue;
            }
            be[b].packets += jint(f, "packets");
            be[b].bytes += jint(f, "bytes");
            if (priority == MSLB_SYN_COUNT_PRIORITY) {
                be[b].sessions += jint(f, "packets");
            } else if (priority == MSLB_CLOSE_COUNT_PRIORITY) {
                be[b].closes += jint(f, "packets");
            }
        }
    }
    if (svc->mode == MODEL_MODE_NAT) {
        for (size_t b = 0; b < svc->n_backends; b++) {
            char ip[INET6_ADDRSTRLEN], key[ENDPOINT_KEY_SIZE];
            const struct counters *c;

            mslb_addr_format(&svc->backends[b].ip, ip, sizeof ip);
            c = shash_find_data(&ix->endpoints, endpoint_key(
                                    key, ip, svc->proto,
                                    svc->backends[b].port));
            if (c) {
                be[b].packets += c->packets;
                be[b].bytes += c->bytes;
                be[b].sessions += c->sessions;
                be[b].reply_packets += c->reply_packets;
                be[b].reply_bytes += c->reply_bytes;
                be[b].closes += c->closes;
            }
        }
    }
    if (model_mode_is_dsr(svc->mode)) {
        g = group_find(&ix->learned, svc->id);
        for (size_t i = 0; g && i < g->n; i++) {
            size_t b = backend_index(svc, jint(g->items[i], "backend"));
            total->affinity++;
            if (b != SIZE_MAX) {
                be[b].affinity++;
            }
        }
    }
}

/* ---- Rates. ---- */

static struct sample
sample_of(const struct counters *c, bool reply)
{
    return (struct sample) {
        .v = { c->packets, c->bytes, c->sessions, c->reply_packets,
               c->reply_bytes },
        .reply = reply,
    };
}

/* {"packets": per second...} since the reference collection, or null. */
static json_t *
rates_json(const struct rest_stats_keeper *k, const char *key,
           const struct sample *now, long long int now_ms, size_t n)
{
    const struct sample *ref = shash_find_data(&k->ref, key);
    double s = (now_ms - k->ref_ms) / 1000.0;
    json_t *j;

    if (!ref || s <= 0) {
        return json_null();
    }
    j = json_object();
    for (size_t i = 0; i < n; i++) {
        if (i >= R_REPLY_PACKETS && !now->reply) {
            continue;
        }
        json_object_set_new(j, rate_names[i], json_real(
                                now->v[i] >= ref->v[i]
                                ? (now->v[i] - ref->v[i]) / s : 0.0));
    }
    json_object_set_new(j, "seconds", json_real(s));
    return j;
}

static void
ref_put(struct shash *ref, const char *key, const struct sample *s)
{
    shash_add(ref, key, xmemdup(s, sizeof *s));
}

/* Backend 'key''s open sessions in a DSR mode (open_estimate.h), from its
 * totals 'c'; its estimate moved from the keeper to 'next' (this
 * collection's estimates: those of backends gone are left behind). */
static uint64_t
estimate_open(struct rest_stats_keeper *k, struct shash *next,
              const char *key, const struct counters *c,
              int idle_timeout, long long int now)
{
    struct open_estimate *e = shash_find_and_delete(&k->open, key);
    struct open_totals t = {
        .opened = c->sessions, .closed = c->closes, .packets = c->packets,
    };
    uint64_t open;

    if (!e) {
        e = xzalloc(sizeof *e);
    }
    open = open_estimate_update(e, &t, idle_timeout, now);
    shash_add(next, key, e);
    return open;
}

/* ---- The collection. ---- */

struct stats_read {
    struct request *r;
    char *bridge;
};

/* The open sessions of nat backend 'be' of 'svc' in the local switch's
 * conntrack; false unless that switch has every bridge of the service. */
static bool
open_sessions(const struct rest_env *d, const struct model_service *svc,
              const struct model_backend *be, const struct ct_sessions *ct,
              const struct sset *local, uint64_t *n)
{
    *n = 0;
    for (size_t k = 0; k < svc->n_bridges; k++) {
        const struct model_bridge *br = mdb_find_bridge(d->mdb,
                                                        svc->bridges[k]);
        if (!br || !sset_contains(local, br->name)) {
            return false;
        }
        *n += ct_sessions_count(ct, br->ct_zone, svc->proto, &svc->vip,
                                svc->port, &be->ip, be->port);
    }
    return svc->n_bridges > 0;
}

static json_t *
aggregate_stats(struct request *r)
{
    struct rest_server *srv = r->srv;
    const struct rest_env *d = srv->d;
    struct rest_stats_keeper *k = keeper(srv);
    const json_t *per_bridge = r->stats;
    size_t n_services, n_bridges = json_array_size(per_bridge);
    const struct model_service **svcs = mdb_services_sorted(d->mdb,
                                                            &n_services);
    struct stats_index *ix = xcalloc(n_bridges + 1, sizeof *ix);
    json_t *services = json_array();
    struct sset read = SSET_INITIALIZER(&read);
    long long int now = time_msec();
    struct shash ref = SHASH_INITIALIZER(&ref);
    struct shash estimates = SHASH_INITIALIZER(&estimates);
    /* Rates for GET /v1/stats only: Prometheus computes its own. */
    bool rates = !r->metrics;
    bool new_ref = rates && now - k->ref_ms >= 1000;

    k->collection++;
    for (size_t i = 0; i < n_bridges; i++) {
        json_t *bs = json_array_get(per_bridge, i);
        const char *name = jstr(bs, "bridge");

        keep_bridge(k, name, json_object_get(bs, "flows"));
        sset_add(&read, name);
    }
    keep_prune(k, &read);
    sset_destroy(&read);
    for (size_t i = 0; i < n_bridges; i++) {
        const json_t *bs = json_array_get(per_bridge, i);
        const struct model_bridge *br = mdb_find_bridge(
            d->mdb, jstr(bs, "bridge"));

        index_stats(bs, &ix[i]);
        ix[i].final = br && br->role == MODEL_ROLE_FINAL;
    }

    for (size_t i = 0; i < n_services; i++) {
        const struct model_service *svc = svcs[i];
        struct counters total = { 0 };
        bool dsr = model_mode_is_dsr(svc->mode);
        bool nat = svc->mode == MODEL_MODE_NAT;
        struct counters *be = xcalloc(svc->n_backends + 1, sizeof *be);
        json_t *backends = json_array();
        uint64_t total_open = 0;
        /* Open sessions: nat's from the local switch's conntrack when it
         * has every bridge of the service; else TCP's estimated from the
         * counters (open_estimate.h), kept up in nat too for when the
         * conntrack cannot be read. */
        bool estimated = (dsr || nat)
                         && (svc->proto == IPPROTO_TCP || !svc->proto);
        bool open_known = true;

        for (size_t b = 0; b < n_bridges; b++) {
            add_service_counters(&ix[b], svc, &total, be);
        }
        for (size_t b = 0; b < svc->n_backends; b++) {
            const struct model_backend *mb = &svc->backends[b];
            char *key = xasprintf("%s\n%s", svc->name, mb->name);
            uint64_t open = 0, counted;
            bool known = estimated;
            /* Its answers: nat's pass the balancer; a DSR backend's its
             * host's bridge, a final stage, if it has one. */
            bool replies = nat || compile_counts_replies(svc, mb);
            json_t *jb = json_pack(
                "{s:s, s:I, s:I, s:I}", "name", mb->name,
                "packets", (json_int_t) be[b].packets,
                "bytes", (json_int_t) be[b].bytes,
                "sessions", (json_int_t) be[b].sessions);

            json_object_set_new(jb, "reply_packets", replies
                                ? json_integer(be[b].reply_packets)
                                : json_null());
            json_object_set_new(jb, "reply_bytes", replies
                                ? json_integer(be[b].reply_bytes)
                                : json_null());

            if (estimated) {
                open = estimate_open(k, &estimates, key, &be[b],
                                     svc->idle_timeout, now);
            }
            if (nat && r->ct && open_sessions(d, svc, mb, r->ct,
                                              &r->ct_bridges, &counted)) {
                open = counted;
                known = true;
            }
            if (known) {
                json_object_set_new(jb, "active_sessions",
                                    json_integer(open));
                total_open += open;
            } else {
                json_object_set_new(jb, "active_sessions", json_null());
                open_known = false;
            }
            if (dsr) {
                json_object_set_new(jb, "affinity_entries",
                                    json_integer(be[b].affinity));
            }
            if (rates) {
                struct sample s = sample_of(&be[b], replies);

                json_object_set_new(jb, "rates",
                                    rates_json(k, key, &s, now, N_RATES));
                ref_put(&ref, key, &s);
            }
            free(key);
            json_array_append_new(backends, jb);
        }
        free(be);

        json_t *js = json_pack(
            "{s:s, s:I, s:I}", "name", svc->name,
            "packets", (json_int_t) total.packets,
            "bytes", (json_int_t) total.bytes);
        json_object_set_new(js, "active_sessions",
                            open_known && svc->n_backends
                            ? json_integer(total_open) : json_null());
        if (rates) {
            struct sample s = sample_of(&total, false);

            json_object_set_new(js, "rates", rates_json(k, svc->name, &s,
                                                        now, R_BYTES + 1));
            ref_put(&ref, svc->name, &s);
        }
        if (dsr) {
            json_object_set_new(js, "affinity_entries",
                                json_integer(total.affinity));
        }
        json_object_set_new(js, "backends", backends);
        json_array_append_new(services, js);
    }
    free(svcs);
    for (size_t i = 0; i < n_bridges; i++) {
        index_destroy(&ix[i]);
    }
    free(ix);
    if (new_ref) {
        shash_clear_free_data(&k->ref);
        shash_swap(&k->ref, &ref);
        k->ref_ms = now;
    }
    shash_destroy_free_data(&ref);
    /* The estimates of backends that are gone stay behind: dropped. */
    shash_swap(&k->open, &estimates);
    shash_destroy_free_data(&estimates);

    json_t *conntrack = json_null();
    if (r->ct_asked) {
        conntrack = r->ct_error
            ? json_pack("{s:b, s:s}", "read", 0, "error", r->ct_error)
            : json_pack("{s:b, s:I}", "read", 1, "open_sessions",
                        (json_int_t) ct_sessions_total(r->ct));
    }
    return json_pack("{s:I, s:o, s:o}", "generation",
                     (json_int_t) nbdb_generation(d->nbdb),
                     "conntrack", conntrack, "services", services);
}

/* One sample: NAME{service="SVC"[,backend="BE"][,direction="DIR"]} V,
 * if 'v' is an integer (null: unknown, no sample).  Written piece by piece:
 * /metrics has tens of thousands of them. */
static void
put_sample(struct ds *out, const char *name, const char *svc,
           const char *backend, const char *direction, const json_t *v)
{
    if (!json_is_integer(v)) {
        return;
    }
    ds_put_cstr(out, name);
    ds_put_cstr(out, "{service=\"");
    ds_put_cstr(out, svc);
    if (backend) {
        ds_put_cstr(out, "\",backend=\"");
        ds_put_cstr(out, backend);
    }
    if (direction) {
        ds_put_cstr(out, "\",direction=\"");
        ds_put_cstr(out, direction);
    }
    ds_put_format(out, "\"} %"JSON_INTEGER_FORMAT"\n", json_integer_value(v));
}

/* One metric family, its samples grouped as the text format wants: per
 * service ('field' of the service) or per backend ('field' of each
 * backend, with 'direction' as a label if not NULL). */
static void
put_family(struct ds *out, const json_t *stats, const char *name,
           const char *help, const char *type, bool per_backend,
           const char *const fields[2])
{
    static const char *const directions[2] = { "request", "reply" };
    size_t i, k;
    json_t *s, *b;

    rest_put_metric(out, name, help, type);
    json_array_foreach (json_object_get(stats, "services"), i, s) {
        const char *svc = jstr(s, "name");

        if (!per_backend) {
            put_sample(out, name, svc, NULL, NULL,
                       json_object_get(s, fields[0]));
            continue;
        }
        json_array_foreach (json_object_get(s, "backends"), k, b) {
            for (int d = 0; d < 2 && fields[d]; d++) {
                put_sample(out, name, svc, jstr(b, "name"),
                           fields[1] ? directions[d] : NULL,
                           json_object_get(b, fields[d]));
            }
        }
    }
}

void
rest_stats_put_metrics(struct ds *out, const json_t *stats)
{
    put_family(out, stats, "mslb_service_packets_total",
               "Request packets to the service.", "counter", false,
               (const char *const[2]) { "packets", NULL });
    put_family(out, stats, "mslb_service_bytes_total",
               "Request bytes to the service.", "counter", false,
               (const char *const[2]) { "bytes", NULL });
    put_family(out, stats, "mslb_backend_packets_total",
               "Packets to the backend (direction=\"request\") and from "
               "it (\"reply\": mode nat, and backends behind a final "
               "stage).", "counter", true,
               (const char *const[2]) { "packets", "reply_packets" });
    put_family(out, stats, "mslb_backend_bytes_total",
               "Bytes to the backend (direction=\"request\") and from "
               "it (\"reply\": mode nat, and backends behind a final "
               "stage).", "counter", true,
               (const char *const[2]) { "bytes", "reply_bytes" });
    put_family(out, stats, "mslb_backend_sessions_total",
               "New sessions given to the backend.", "counter", true,
               (const char *const[2]) { "sessions", NULL });
    put_family(out, stats, "mslb_backend_active_sessions",
               "Sessions open with the backend (mode nat: the local "
               "switch's conntrack; DSR modes, TCP: estimated from the "
               "clients' SYNs, FINs and RSTs).", "gauge", true,
               (const char *const[2]) { "active_sessions", NULL });
}

/* What the conntrack read gave the request. */
static void
release_ct(struct request *r)
{
    ct_sessions_destroy(r->ct);
    r->ct = NULL;
    sset_destroy(&r->ct_bridges);
    free(r->ct_error);
    r->ct_error = NULL;
}

static void
stats_done(struct request *r)
{
    json_t *agg = aggregate_stats(r);

    json_decref(r->stats);
    r->stats = NULL;
    release_ct(r);
    if (r->metrics) {
        set_response(r, MHD_HTTP_OK, rest_format_metrics(r->srv, agg),
                     "text/plain; version=0.0.4");
        json_decref(agg);
    } else {
        respond_json(r, MHD_HTTP_OK, agg);
    }
    resume(r);
}

static void
stats_part_done(struct request *r)
{
    if (!--r->stats_pending) {
        if (r->orphaned) {
            release_ct(r);
            rest_request_free(r);
        } else {
            stats_done(r);
        }
    }
}

static void
on_bridge_stats(void *aux, json_t *stats)
{
    struct stats_read *sr = aux;
    struct request *r = sr->r;

    if (stats) {
        json_object_set_new(stats, "bridge", json_string(sr->bridge));
        json_array_append_new(r->stats, stats);
    }
    free(sr->bridge);
    free(sr);
    stats_part_done(r);
}

static void
on_conntrack(void *r_, const struct ct_sessions *ct,
             const struct sset *bridges, const char *error)
{
    struct request *r = r_;

    if (error) {
        r->ct_error = xstrdup(error);
    } else {
        /* Kept until every bridge answered: 'ct' is the reader's. */
        r->ct = ct_sessions_clone(ct);
        sset_clone(&r->ct_bridges, bridges);
    }
    stats_part_done(r);
}

void
rest_get_stats(struct request *r, bool metrics)
{
    const struct rest_env *d = r->srv->d;

    r->metrics = metrics;
    r->stats = json_array();
    sset_init(&r->ct_bridges);
    r->stats_pending = 1;       /* Held until every request is out. */
    r->suspended = true;
    MHD_suspend_connection(r->conn);
    for (size_t i = 0; i < bridges_count(d->bridges); i++) {
        struct bridge *b = bridges_at(d->bridges, i);
        if (bridge_is_connected(b)) {
            struct stats_read *sr = xmalloc(sizeof *sr);

            sr->r = r;
            sr->bridge = xstrdup(bridge_name(b));
            r->stats_pending++;
            bridge_collect_stats(b, on_bridge_stats, sr);
        }
    }
    /* nat's open sessions: the local switch's conntrack. */
    if (d->ctdump && mdb_n_services_in_mode(d->mdb, MODEL_MODE_NAT)) {
        r->ct_asked = true;
        r->stats_pending++;
        ctdump_read(d->ctdump, on_conntrack, r);
    }
    stats_part_done(r);
}
