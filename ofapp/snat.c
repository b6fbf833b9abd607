/* Outbound SNAT's port blocks at run time: see snat.h. */
#include <config.h>
#include "snat.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "openvswitch/ofp-packet.h"
#include "openvswitch/shash.h"
#include "openvswitch/vlog.h"
#include "timeval.h"
#include "util.h"

#include "mslb/model.h"
#include "mslb/modeldb.h"
#include "mslb/pipeline.h"
#include "nbdb.h"

VLOG_DEFINE_THIS_MODULE(snat);

struct snat_host {
    char *service, *bridge;
    uint64_t exhausted, grown, refused;
    long long int last_grow_ms;  /* LLONG_MIN: never. */
    bool writing;
};

struct snat {
    const struct mdb *mdb;
    struct nbdb *nbdb;
    struct shash hosts;          /* "service/bridge" -> struct snat_host. */
};

struct snat *
snat_create(const struct mdb *mdb, struct nbdb *nbdb)
{
    struct snat *s = xzalloc(sizeof *s);

    s->mdb = mdb;
    s->nbdb = nbdb;
    shash_init(&s->hosts);
    return s;
}

void
snat_destroy(struct snat *s)
{
    struct shash_node *node;

    if (!s) {
        return;
    }
    SHASH_FOR_EACH (node, &s->hosts) {
        struct snat_host *h = node->data;
        nbdb_forget(s->nbdb, h);
        free(h->service);
        free(h->bridge);
        free(h);
    }
    shash_destroy(&s->hosts);
    free(s);
}

/* Forgets the counters of services that are gone (none of their writes
 * is under way). */
static void
prune(struct snat *s)
{
    struct shash_node *node;

    SHASH_FOR_EACH_SAFE (node, &s->hosts) {
        struct snat_host *h = node->data;

        if (!h->writing && !mdb_find_service(s->mdb, h->service)) {
            free(h->service);
            free(h->bridge);
            free(h);
            shash_delete(&s->hosts, node);
        }
    }
}

static struct snat_host *
get_host(struct snat *s, const char *service, const char *bridge)
{
    char *key = xasprintf("%s/%s", service, bridge);
    struct snat_host *h = shash_find_data(&s->hosts, key);

    if (!h) {
        h = xzalloc(sizeof *h);
        h->service = xstrdup(service);
        h->bridge = xstrdup(bridge);
        h->last_grow_ms = LLONG_MIN;
        shash_add(&s->hosts, key, h);
    }
    free(key);
    return h;
}

/* The source address of Ethernet frame 'p' (IPv4 or IPv6), or false. */
static bool
frame_source(const uint8_t *p, size_t n, struct mslb_addr *a)
{
    uint16_t type;

    if (n < 14) {
        return false;
    }
    type = (p[12] << 8) | p[13];
    memset(a, 0, sizeof *a);
    if (type == 0x0800 && n >= 14 + 20) {
        a->family = AF_INET;
        memcpy(&a->v4, p + 14 + 12, 4);
        return true;
    } else if (type == 0x86dd && n >= 14 + 40) {
        a->family = AF_INET6;
        memcpy(&a->v6, p + 14 + 8, 16);
        return true;
    }
    return false;
}

/* The service whose outbound the backend at 'src' behind 'bridge' sends
 * through (at most one: model_check_outbound_pair()). */
static const struct model_service *
find_outbound(const struct mdb *mdb, const char *bridge,
              const struct mslb_addr *src)
{
    const struct model_service *found = NULL;
    const struct model_service **svcs;
    size_t n;

    svcs = mdb_services_of_bridge(mdb, bridge, &n);
    for (size_t i = 0; i < n && !found; i++) {
        for (size_t k = 0; svcs[i]->outbound && k < svcs[i]->n_backends;
             k++) {
            const struct model_backend *be = &svcs[i]->backends[k];
            if (be->host_bridge && !strcmp(be->host_bridge, bridge)
                && mslb_addr_equal(&be->ip, src)) {
                found = svcs[i];
                break;
            }
        }
    }
    free(svcs);
    return found;
}

static void
grow_done(void *h_, enum nbdb_status status, uint64_t gen,
          const char *error)
{
    struct snat_host *h = h_;

    h->writing = false;
    if (status == NBDB_OK) {
        h->grown++;
        VLOG_INFO("service %s: host bridge %s got another outbound port "
                  "block (generation %"PRIu64")", h->service, h->bridge, gen);
    } else {
        /* Someone else wrote the service: the next exhaustion asks
         * again. */
        h->last_grow_ms = LLONG_MIN;
        VLOG_DBG("service %s: outbound block for %s not written: %s",
                 h->service, h->bridge, error ? error : "retry");
    }
}

bool
snat_handle_msg(struct snat *s, const char *bridge, struct ofsession *ofs,
                const struct ofp_header *oh, enum ofptype type)
{
    struct ofputil_packet_in pin;
    const struct model_service *svc;
    struct snat_host *h;
    struct mslb_addr src;
    long long int now = time_msec();
    size_t total_len;
    uint32_t buffer_id;

    (void) ofs;
    if (type != OFPTYPE_PACKET_IN
        || ofputil_decode_packet_in(oh, true, NULL, NULL, &pin, &total_len,
                                    &buffer_id, NULL)) {
        return false;
    }
    if (pin.userdata_len != 2
        || ((const uint8_t *) pin.userdata)[0] != MSLB_SNAT_USERDATA0
        || ((const uint8_t *) pin.userdata)[1] != MSLB_SNAT_USERDATA1) {
        return false;
    }
    if (!frame_source(pin.packet, pin.packet_len, &src)
        || !(svc = find_outbound(s->mdb, bridge, &src))) {
        return true;            /* The model changed meanwhile. */
    }
    if (shash_count(&s->hosts) > 64) {
        prune(s);
    }
    h = get_host(s, svc->name, bridge);
    h->exhausted++;
    if (h->writing || (h->last_grow_ms != LLONG_MIN
                       && now - h->last_grow_ms < SNAT_GROW_INTERVAL_MS)) {
        return true;
    }
    h->last_grow_ms = now;

    struct nbdb_change *c = xzalloc(sizeof *c);
    c->type = NBDB_PUT_SERVICE;
    c->source = nbdb_service_source(s->nbdb, svc->name);
    c->svc = xzalloc(sizeof *c->svc);
    model_service_clone(c->svc, svc);
    c->base = model_service_hash(svc);
    c->own_slots = true;
    if (!model_outbound_grow(c->svc, bridge)) {
        h->refused++;
        static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(1, 5);
        VLOG_WARN_RL(&rl, "service %s: host bridge %s has used up its outbound "
                     "ports and none are free (%"PRIu64" connections "
                     "refused)", svc->name, bridge, h->exhausted);
        model_service_destroy(c->svc);
        free(c);
        return true;
    }
    h->writing = true;
    nbdb_submit(s->nbdb, c, 1, grow_done, h);
    return true;
}

/* One object of snat_counters_json(). */
static json_t *
host_json(const struct snat *s, const struct model_service *svc,
          const char *bridge)
{
    const struct model_outbound *o = svc->outbound;
    char *key = xasprintf("%s/%s", svc->name, bridge);
    const struct snat_host *h = shash_find_data(&s->hosts, key);
    size_t blocks = model_outbound_count(o, bridge);

    free(key);
    return json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I}",
                     "service", svc->name, "host_bridge", bridge,
                     "blocks", (json_int_t) blocks,
                     "ports", (json_int_t) (blocks * o->block),
                     "exhausted", (json_int_t) (h ? h->exhausted : 0),
                     "grown", (json_int_t) (h ? h->grown : 0),
                     "refused", (json_int_t) (h ? h->refused : 0));
}

json_t *
snat_counters_json(const struct snat *s)
{
    const struct model_service **svcs;
    json_t *arr = json_array();
    size_t n;

    svcs = mdb_services_sorted(s->mdb, &n);
    for (size_t i = 0; i < n; i++) {
        const struct model_service *svc = svcs[i];

        for (size_t k = 0; svc->outbound && k < svc->n_backends; k++) {
            const char *bridge = svc->backends[k].host_bridge;
            bool seen = !bridge;

            for (size_t j = 0; j < k && !seen; j++) {
                seen = svc->backends[j].host_bridge
                       && !strcmp(svc->backends[j].host_bridge, bridge);
            }
            if (!seen) {
                json_array_append_new(arr, host_json(s, svc, bridge));
            }
        }
    }
    free(svcs);
    return arr;
}
