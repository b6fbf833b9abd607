/* Health monitors: see health.h and docs/health.md. */
#include <config.h>
#include "health.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flow.h"
#include "hash.h"
#include "heap.h"
#include "openvswitch/hmap.h"
#include "openvswitch/list.h"
#include "openvswitch/meta-flow.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofp-packet.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/shash.h"
#include "openvswitch/vlog.h"
#include "random.h"
#include "util.h"

#include "mslb/compile.h"
#include "mslb/modeldb.h"
#include "mslb/pipeline.h"
#include "bridges.h"
#include "lbengine.h"
#include "ofsession.h"
#include "resolve.h"

VLOG_DEFINE_THIS_MODULE(health);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

/* The prober's own TCP ports (the source of its SYNs): at most this many
 * probes are outstanding at once. */
#define PORT_MIN 40000
#define PORT_MAX 59999

/* Deadlines handled per timer run, so that a backlog (a stalled loop)
 * does not hold the loop for long. */
#define BATCH 2000

enum result {
    PROBE_NONE,                     /* Not probed yet. */
    PROBE_OK,                       /* SYN-ACK. */
    PROBE_TIMEOUT,                  /* No answer within the timeout. */
    PROBE_REFUSED,                  /* RST. */
};

static const char *const result_names[] = {
    [PROBE_NONE] = NULL,
    [PROBE_OK] = "success",
    [PROBE_TIMEOUT] = "timeout",
    [PROBE_REFUSED] = "refused",
};

/* One monitored backend of one service. */
struct hb {
    struct ovs_list list_node;  /* In its service's 'hbs'. */
    struct heap_node heap_node; /* In 'heap', by deadline. */
    struct hmap_node port_node; /* In 'in_flight' by 'sport', if probing. */
    struct hsvc *svc;
    char *name;                 /* The backend's. */
    uint32_t key;
    struct mslb_addr ip;
    struct model_monitor mon;

    bool up;
    unsigned int ok, failed;    /* Results in a row. */
    long long int deadline;     /* ms: next probe, or its timeout. */

    /* The probe under way ('probing'). */
    bool probing;
    uint16_t sport;
    uint32_t seq;
    long long int sent_ms;
    struct mslb_addr src, dst;  /* Its addresses (the answer's swapped). */
    uint16_t dport;
    char *bridge;               /* Where it was sent. */

    enum result last;
    const char *not_sent;       /* Why the last probe was not sent. */
    char *reason;               /* Of the last transition. */
    long long int since_wall;   /* Wall-clock ms of the last transition. */
    double latency_ms;          /* Of the last answer, -1 if none. */
    uint64_t transitions;
};

/* The monitored backends of one service. */
struct hsvc {
    struct hmap_node node;      /* In 'services', by name. */
    char *name;
    struct ovs_list hbs;
};

struct health {
    uv_loop_t *loop;
    uv_timer_t *timer;
    const struct mdb *mdb;
    struct rtfacts *rt;
    struct bridges *bridges;
    const struct lbengine *engine;
    struct resolver *resolver;
    void (*changed)(void *aux);
    void *aux;
    struct hmap services;
    struct heap heap;
    struct hmap in_flight;
    uint16_t next_port;
    struct health_counters counters;
};

static long long int
now_ms(void)
{
    return uv_hrtime() / 1000000;
}

static long long int
wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* ---- Scheduling. ---- */

static void on_timer(uv_timer_t *);

static void
arm(struct health *h)
{
    if (heap_is_empty(&h->heap)) {
        uv_timer_stop(h->timer);
        return;
    }
    struct hb *hb = CONTAINER_OF(heap_max(&h->heap), struct hb, heap_node);
    long long int wait = hb->deadline - now_ms();
    uv_timer_start(h->timer, on_timer, wait > 0 ? wait : 0, 0);
}

static void
set_deadline(struct health *h, struct hb *hb, long long int deadline)
{
    hb->deadline = deadline;
    heap_change(&h->heap, &hb->heap_node, UINT64_MAX - deadline);
}

/* ---- Results. ---- */

static void
report_failed(struct health *h, struct hsvc *s)
{
    uint32_t *keys = xmalloc((ovs_list_size(&s->hbs) + 1) * sizeof *keys);
    struct hb *hb;
    size_t n = 0;

    LIST_FOR_EACH (hb, list_node, &s->hbs) {
        if (!hb->up) {
            keys[n++] = hb->key;
        }
    }
    if (rtfacts_set_failed(h->rt, s->name, keys, n)) {
        h->changed(h->aux);
    }
    free(keys);
}

static void
end_probe(struct health *h, struct hb *hb)
{
    if (hb->probing) {
        hmap_remove(&h->in_flight, &hb->port_node);
        hb->probing = false;
        free(hb->bridge);
        hb->bridge = NULL;
    }
}

static void
transition(struct health *h, struct hb *hb, bool up, const char *why)
{
    char addr[INET6_ADDRSTRLEN];

    hb->up = up;
    hb->transitions++;
    h->counters.transitions++;
    hb->since_wall = wall_ms();
    free(hb->reason);
    hb->reason = xstrdup(why);
    mslb_addr_format(&hb->ip, addr, sizeof addr);
    VLOG_INFO("service %s: backend %s (%s) is %s: %s", hb->svc->name,
              hb->name, addr, up ? "up" : "down", why);
    report_failed(h, hb->svc);
}

/* The probe under way ended with 'r'; the next one is due one interval
 * after it was sent. */
static void
result(struct health *h, struct hb *hb, enum result r)
{
    long long int now = now_ms();
    long long int next = hb->sent_ms + hb->mon.interval_ms;

    end_probe(h, hb);
    hb->last = r;
    if (r == PROBE_OK) {
        hb->latency_ms = now - hb->sent_ms;
        hb->failed = 0;
        hb->ok++;
        if (!hb->up && hb->ok >= hb->mon.rise) {
            char *why = xasprintf("%u successful probes in a row", hb->ok);
            transition(h, hb, true, why);
            free(why);
        }
    } else {
        hb->ok = 0;
        hb->failed++;
        resolver_kick(h->resolver, &hb->ip);    /* Moved elsewhere? */
        if (hb->up && hb->failed >= hb->mon.fall) {
            char *why = xasprintf("%u failed probes in a row, the last: %s",
                                  hb->failed,
                                  r == PROBE_TIMEOUT ? "no answer within the "
                                  "timeout" : "connection refused (RST)");
            transition(h, hb, false, why);
            free(why);
        }
    }
    set_deadline(h, hb, next > now ? next : now);
}

/* ---- Probes. ---- */

/* Internet checksum over 'n' bytes, continuing 'sum'. */
static uint32_t
sum16(uint32_t sum, const void *p_, size_t n)
{
    const uint8_t *p = p_;

    for (size_t i = 0; i + 1 < n; i += 2) {
        sum += (p[i] << 8) | p[i + 1];
    }
    if (n & 1) {
        sum += p[n - 1] << 8;
    }
    return sum;
}

static uint16_t
fold(uint32_t sum)
{
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return ~sum & 0xffff;
}

static void
put16(uint8_t *p, uint16_t x)
{
    p[0] = x >> 8;
    p[1] = x;
}

static void
put32(uint8_t *p, uint32_t x)
{
    put16(p, x >> 16);
    put16(p + 2, x);
}

/* An Ethernet frame with a TCP segment without options or data: 'flags',
 * 'seq', 'ack' from src:sport to dst:dport.  Returns its length. */
static size_t
build_tcp(uint8_t *f, const struct mslb_mac *eth_src,
          const struct mslb_mac *eth_dst, const struct mslb_addr *src,
          uint16_t sport, const struct mslb_addr *dst, uint16_t dport,
          uint8_t flags, uint32_t seq, uint32_t ack)
{
    bool v6 = src->family == AF_INET6;
    size_t l3 = 14, l4 = l3 + (v6 ? 40 : 20);
    uint8_t *ip = f + l3, *tcp = f + l4;
    uint32_t sum;

    memset(f, 0, l4 + 20);
    memcpy(f, eth_dst->b, 6);
    memcpy(f + 6, eth_src->b, 6);
    put16(f + 12, v6 ? 0x86dd : 0x0800);
    put16(tcp, sport);
    put16(tcp + 2, dport);
    put32(tcp + 4, seq);
    put32(tcp + 8, ack);
    tcp[12] = 5 << 4;
    tcp[13] = flags;
    put16(tcp + 14, 65535);
    if (v6) {
        ip[0] = 0x60;
        put16(ip + 4, 20);
        ip[6] = IPPROTO_TCP;
        ip[7] = 64;
        memcpy(ip + 8, &src->v6, 16);
        memcpy(ip + 24, &dst->v6, 16);
        sum = sum16(0, ip + 8, 32);
    } else {
        ip[0] = 0x45;
        put16(ip + 2, 40);
        put16(ip + 6, 0x4000);          /* DF. */
        ip[8] = 64;
        ip[9] = IPPROTO_TCP;
        memcpy(ip + 12, &src->v4, 4);
        memcpy(ip + 16, &dst->v4, 4);
        put16(ip + 10, fold(sum16(0, ip, 20)));
        sum = sum16(0, ip + 12, 8);
    }
    sum += IPPROTO_TCP + 20;
    put16(tcp + 16, fold(sum16(sum, tcp, 20)));
    return l4 + 20;
}

static void
put_reg(struct ofpbuf *ofpacts, enum mf_field_id id, uint32_t x)
{
    union mf_value v = { .be32 = htonl(x) };
    ofpact_put_set_field(ofpacts, mf_from_id(id), &v, NULL);
}

/* What a probe of 'be' in 'svc' needs on bridge 'br': where it goes and
 * the packet-out's input port and actions.  In mode nat the translated
 * packet straight out of the backend port; in the DSR modes the packet
 * to the VIP through DSR_FORWARD's flows for the backend, as if it came
 * in on the frontend port. */
struct path {
    struct mslb_addr dst;
    uint16_t dport;
    struct mslb_mac eth_dst;
    ofp_port_t in_port;
    struct ofpbuf ofpacts;
    uint64_t stub[128 / 8];
};

static const char *
make_path(const struct resolver *resolver,
          const struct model_service *svc, const struct model_backend *be,
          const struct model_monitor *mon, const struct model_bridge *br,
          const struct compile_ports *ports, struct path *p)
{
    ofpbuf_use_stub(&p->ofpacts, p->stub, sizeof p->stub);
    p->eth_dst = be->mac;
    if (!be->has_mac && !resolver_mac(resolver, &be->ip, &p->eth_dst)) {
        return "the backend's MAC address is not resolved yet";
    }
    if (svc->mode == MODEL_MODE_NAT) {
        p->dst = be->ip;
        p->dport = mon->port ? mon->port : be->port ? be->port : svc->port;
        p->in_port = OFPP_CONTROLLER;
        ofpact_put_OUTPUT(&p->ofpacts)->port = u16_to_ofp(ports->backend);
        return NULL;
    }
    if (!model_mode_is_dsr(svc->mode)) {
        return "mode local is not probed";
    }
    struct ofpact_resubmit *r;
    p->dst = svc->vip;
    p->dport = mon->port ? mon->port : svc->port;
    p->eth_dst = br->mac;
    p->in_port = u16_to_ofp(ports->frontend);
    put_reg(&p->ofpacts, MFF_REG0, svc->id);
    put_reg(&p->ofpacts, MFF_REG1, be->key);
    put_reg(&p->ofpacts, MFF_REG4, MSLB_HEALTH_FLAG);
    r = ofpact_put_RESUBMIT(&p->ofpacts);
    r->in_port = OFPP_IN_PORT;
    r->table_id = MSLB_T_DSR_FORWARD;
    return NULL;
}

/* A gateway of 'br' of 'family', or NULL. */
static const struct mslb_addr *
gateway_of(const struct model_bridge *br, int family)
{
    for (size_t i = 0; i < br->n_gateways; i++) {
        if (br->gateways[i].family == family) {
            return &br->gateways[i];
        }
    }
    return NULL;
}

static uint32_t
port_hash(uint16_t port)
{
    return hash_int(port, 0);
}

static struct hb *
find_in_flight(const struct health *h, uint16_t port)
{
    struct hb *hb;

    HMAP_FOR_EACH_WITH_HASH (hb, port_node, port_hash(port), &h->in_flight) {
        if (hb->sport == port) {
            return hb;
        }
    }
    return NULL;
}

static bool
alloc_port(struct health *h, uint16_t *port)
{
    for (int i = 0; i <= PORT_MAX - PORT_MIN; i++) {
        uint16_t p = h->next_port++;
        if (h->next_port > PORT_MAX || h->next_port < PORT_MIN) {
            h->next_port = PORT_MIN;
        }
        if (!find_in_flight(h, p)) {
            *port = p;
            return true;
        }
    }
    return false;
}

/* Sends 'hb''s next probe from the first bridge of its service that can,
 * or records why none could. */
static void
send_probe(struct health *h, struct hb *hb)
{
    const struct model_service *svc = mdb_find_service(h->mdb,
                                                       hb->svc->name);
    const struct model_backend *be = svc
        ? model_find_backend_by_key(svc, hb->key) : NULL;
    const char *why = "no first-stage bridge of the service is connected";
    long long int now = now_ms();

    for (size_t i = 0; be && i < svc->n_bridges; i++) {
        const struct model_bridge *br = mdb_find_bridge(h->mdb,
                                                        svc->bridges[i]);
        struct bridge *b = bridges_find(h->bridges, svc->bridges[i]);
        struct ofsession *s = b ? bridge_session(b) : NULL;
        const struct mslb_addr *gw;
        struct compile_ports ports;
        struct path path;
        uint8_t frame[128];
        size_t len;

        if (!br || !s || !lbengine_ports(h->engine, br, &ports)) {
            continue;
        }
        gw = gateway_of(br, be->ip.family);
        if (!gw) {
            why = "the bridge has no gateway address of the backend's "
                  "family";
            continue;
        }
        why = make_path(h->resolver, svc, be, &hb->mon, br, &ports, &path);
        if (why) {
            ofpbuf_uninit(&path.ofpacts);
            continue;
        }
        if (!alloc_port(h, &hb->sport)) {
            ofpbuf_uninit(&path.ofpacts);
            why = "too many probes under way";
            break;
        }
        hb->seq = random_uint32();
        hb->src = *gw;
        hb->dst = path.dst;
        hb->dport = path.dport;
        len = build_tcp(frame, &br->mac, &path.eth_dst, gw, hb->sport,
                        &path.dst, path.dport, 0x02 /* SYN */, hb->seq, 0);
        ofsession_packet_out(s, path.in_port, frame, len, path.ofpacts.data,
                             path.ofpacts.size);
        ofpbuf_uninit(&path.ofpacts);
        hb->probing = true;
        hb->sent_ms = now;
        hb->bridge = xstrdup(br->name);
        hb->not_sent = NULL;
        hmap_insert(&h->in_flight, &hb->port_node, port_hash(hb->sport));
        h->counters.probes_sent++;
        set_deadline(h, hb, now + hb->mon.timeout_ms);
        return;
    }
    /* Not sent: the backend's health stays as it is; try again in an
     * interval. */
    hb->not_sent = be ? why : "the backend is gone";
    h->counters.not_sent++;
    set_deadline(h, hb, now + hb->mon.interval_ms);
}

static void
on_timer(uv_timer_t *timer)
{
    struct health *h = timer->data;
    long long int now = now_ms();

    for (int i = 0; i < BATCH && !heap_is_empty(&h->heap); i++) {
        struct hb *hb = CONTAINER_OF(heap_max(&h->heap), struct hb,
                                     heap_node);
        if (hb->deadline > now) {
            break;
        }
        if (hb->probing) {
            h->counters.timeouts++;
            result(h, hb, PROBE_TIMEOUT);
        } else {
            uint64_t delay_us = (uv_hrtime() / 1000) - hb->deadline * 1000;

            h->counters.delay_sum_us += delay_us;
            h->counters.delay_max_us = MAX(h->counters.delay_max_us,
                                           delay_us);
            h->counters.late += delay_us > hb->mon.interval_ms * 1000ULL;
            send_probe(h, hb);
        }
    }
    arm(h);
}

/* ---- Answers. ---- */

struct answer {
    struct mslb_addr src, dst;
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags;
};

static bool
parse_answer(const uint8_t *p, size_t len, struct answer *a)
{
    size_t l4;
    uint16_t type;

    if (len < 14) {
        return false;
    }
    type = (p[12] << 8) | p[13];
    memset(a, 0, sizeof *a);
    if (type == 0x0800 && len >= 14 + 20) {
        const uint8_t *ip = p + 14;
        size_t ihl = (ip[0] & 0xf) * 4;
        if (ihl < 20 || ip[9] != IPPROTO_TCP
            || ((ip[6] << 8 | ip[7]) & 0x3fff)) {   /* A fragment. */
            return false;
        }
        a->src.family = a->dst.family = AF_INET;
        memcpy(&a->src.v4, ip + 12, 4);
        memcpy(&a->dst.v4, ip + 16, 4);
        l4 = 14 + ihl;
    } else if (type == 0x86dd && len >= 14 + 40) {
        const uint8_t *ip = p + 14;
        if (ip[6] != IPPROTO_TCP) {
            return false;
        }
        a->src.family = a->dst.family = AF_INET6;
        memcpy(&a->src.v6, ip + 8, 16);
        memcpy(&a->dst.v6, ip + 24, 16);
        l4 = 14 + 40;
    } else {
        return false;
    }
    if (len < l4 + 20) {
        return false;
    }
    p += l4;
    a->sport = (p[0] << 8) | p[1];
    a->dport = (p[2] << 8) | p[3];
    a->seq = ((uint32_t) p[4] << 24) | (p[5] << 16) | (p[6] << 8) | p[7];
    a->ack = ((uint32_t) p[8] << 24) | (p[9] << 16) | (p[10] << 8) | p[11];
    a->flags = p[13];
    return true;
}

/* Closes the half-open connection of 'hb''s probe that 'a' answered, the
 * way the SYN went. */
static void
send_rst(struct health *h, struct hb *hb, const struct answer *a)
{
    const struct model_service *svc = mdb_find_service(h->mdb,
                                                       hb->svc->name);
    const struct model_backend *be = svc
        ? model_find_backend_by_key(svc, hb->key) : NULL;
    const struct model_bridge *br = mdb_find_bridge(h->mdb, hb->bridge);
    struct bridge *b = bridges_find(h->bridges, hb->bridge);
    struct ofsession *s = b ? bridge_session(b) : NULL;
    struct compile_ports ports;
    struct path path;
    uint8_t frame[128];
    size_t len;

    if (!be || !br || !s || !lbengine_ports(h->engine, br, &ports)) {
        return;
    }
    if (make_path(h->resolver, svc, be, &hb->mon, br, &ports, &path)) {
        ofpbuf_uninit(&path.ofpacts);
        return;
    }
    len = build_tcp(frame, &br->mac, &path.eth_dst, &hb->src, hb->sport,
                    &hb->dst, hb->dport, 0x04 /* RST */, a->ack, 0);
    ofsession_packet_out(s, path.in_port, frame, len, path.ofpacts.data,
                         path.ofpacts.size);
    ofpbuf_uninit(&path.ofpacts);
}

bool
health_handle_msg(struct health *h, const char *bridge, struct ofsession *s,
                  const struct ofp_header *oh, enum ofptype type)
{
    struct ofputil_packet_in pin;
    struct answer a;
    struct hb *hb;
    size_t total_len;
    uint32_t buffer_id;

    if (type != OFPTYPE_PACKET_IN
        || ofputil_decode_packet_in(oh, true, NULL, NULL, &pin, &total_len,
                                    &buffer_id, NULL)) {
        return false;
    }
    if (pin.userdata_len != 2
        || ((const uint8_t *) pin.userdata)[0] != MSLB_HEALTH_USERDATA0
        || ((const uint8_t *) pin.userdata)[1] != MSLB_HEALTH_USERDATA1) {
        return false;           /* Not for us. */
    }
    if (!parse_answer(pin.packet, pin.packet_len, &a)
        || !(hb = find_in_flight(h, a.dport))
        || strcmp(hb->bridge, bridge)
        || a.sport != hb->dport
        || !mslb_addr_equal(&a.src, &hb->dst)
        || !mslb_addr_equal(&a.dst, &hb->src)
        || a.ack != hb->seq + 1
        || !(a.flags & 0x10)                          /* ACK. */
        || !(a.flags & (0x02 | 0x04))) {              /* SYN or RST. */
        h->counters.stray++;
        VLOG_DBG_RL(&rl, "bridge %s: a packet to a probe address matches "
                    "no probe", bridge);
        return true;
    }
    (void) s;
    h->counters.answers++;
    if (a.flags & 0x04) {
        h->counters.refused++;
        result(h, hb, PROBE_REFUSED);
    } else {
        send_rst(h, hb, &a);
        result(h, hb, PROBE_OK);
    }
    arm(h);
    return true;
}

/* ---- The monitored set. ---- */

static uint32_t
name_hash(const char *s)
{
    return hash_string(s, 0);
}

static struct hsvc *
find_hsvc(const struct health *h, const char *name)
{
    struct hsvc *s;

    HMAP_FOR_EACH_WITH_HASH (s, node, name_hash(name), &h->services) {
        if (!strcmp(s->name, name)) {
            return s;
        }
    }
    return NULL;
}

static void
hb_destroy(struct health *h, struct hb *hb)
{
    end_probe(h, hb);
    heap_remove(&h->heap, &hb->heap_node);
    ovs_list_remove(&hb->list_node);
    free(hb->name);
    free(hb->reason);
    free(hb);
}

static bool
same_monitor(const struct model_monitor *a, const struct model_monitor *b)
{
    return a->type == b->type && a->port == b->port
           && a->interval_ms == b->interval_ms
           && a->timeout_ms == b->timeout_ms && a->rise == b->rise
           && a->fall == b->fall;
}

/* A backend an operator took down gets no probes (DSR modes have no path
 * to it): it starts afresh, usable, when it is up or draining again. */
static bool
probed(const struct model_backend *be)
{
    return be->monitor.type != MODEL_MONITOR_NONE
           && be->state != MODEL_BACKEND_DOWN;
}

/* Brings service 'name''s probes in line with the model. */
static void
sync_service(struct health *h, const char *name)
{
    const struct model_service *svc = mdb_find_service(h->mdb, name);
    struct hsvc *s = find_hsvc(h, name);
    bool had_failed = false;
    struct hb *hb;

    if (s) {
        LIST_FOR_EACH (hb, list_node, &s->hbs) {
            had_failed |= !hb->up;
        }
    }
    if (!s && svc) {
        s = xzalloc(sizeof *s);
        s->name = xstrdup(name);
        ovs_list_init(&s->hbs);
        hmap_insert(&h->services, &s->node, name_hash(name));
    }
    if (!s) {
        return;
    }

    /* A backend keeps its health while it is probed: a new monitor
     * changes how, from the next probe on. */
    LIST_FOR_EACH_SAFE (hb, list_node, &s->hbs) {
        const struct model_backend *be = svc
            ? model_find_backend_by_key(svc, hb->key) : NULL;
        if (!be || !probed(be) || !mslb_addr_equal(&be->ip, &hb->ip)) {
            hb_destroy(h, hb);
        } else if (!same_monitor(&be->monitor, &hb->mon)) {
            hb->mon = be->monitor;
            if (!hb->probing) {
                set_deadline(h, hb, now_ms() + hash_2words(hb->key,
                                                           name_hash(name))
                                                % hb->mon.interval_ms);
            }
        }
    }
    for (size_t i = 0; svc && i < svc->n_backends; i++) {
        const struct model_backend *be = &svc->backends[i];
        bool found = false;

        if (!probed(be)) {
            continue;
        }
        LIST_FOR_EACH (hb, list_node, &s->hbs) {
            if (hb->key == be->key) {
                found = true;
                free(hb->name);
                hb->name = xstrdup(be->name);
                break;
            }
        }
        if (found) {
            continue;
        }
        hb = xzalloc(sizeof *hb);
        hb->svc = s;
        hb->name = xstrdup(be->name);
        hb->key = be->key;
        hb->ip = be->ip;
        hb->mon = be->monitor;
        hb->up = true;
        hb->latency_ms = -1;
        hb->since_wall = wall_ms();
        ovs_list_push_back(&s->hbs, &hb->list_node);
        /* The first probe at a point of the interval of its own. */
        hb->deadline = now_ms()
                       + hash_2words(hb->key, name_hash(name))
                         % hb->mon.interval_ms;
        heap_insert(&h->heap, &hb->heap_node, UINT64_MAX - hb->deadline);
    }
    if (ovs_list_is_empty(&s->hbs)) {
        hmap_remove(&h->services, &s->node);
        free(s->name);
        free(s);
        if (had_failed && rtfacts_set_failed(h->rt, name, NULL, 0)) {
            h->changed(h->aux);
        }
        return;
    }
    report_failed(h, s);
}

void
health_sync(struct health *h, bool all)
{
    if (all) {
        const struct model_service **svcs;
        struct hsvc *s;
        size_t n;

        svcs = mdb_services_sorted(h->mdb, &n);
        for (size_t i = 0; i < n; i++) {
            sync_service(h, svcs[i]->name);
        }
        free(svcs);
        HMAP_FOR_EACH_SAFE (s, node, &h->services) {
            if (!mdb_find_service(h->mdb, s->name)) {
                sync_service(h, s->name);
            }
        }
    } else {
        struct shash_node *sn;

        SHASH_FOR_EACH (sn, mdb_changed_services(h->mdb)) {
            sync_service(h, sn->name);
        }
    }
    arm(h);
}

/* ---- Life cycle and views. ---- */

static void
free_timer(uv_handle_t *handle)
{
    free(handle);
}

struct health *
health_create(uv_loop_t *loop, const struct mdb *mdb, struct rtfacts *rt,
              struct bridges *bridges, const struct lbengine *engine,
              struct resolver *resolver, void (*changed)(void *aux),
              void *aux)
{
    struct health *h = xzalloc(sizeof *h);

    h->resolver = resolver;
    h->loop = loop;
    h->mdb = mdb;
    h->rt = rt;
    h->bridges = bridges;
    h->engine = engine;
    h->changed = changed;
    h->aux = aux;
    hmap_init(&h->services);
    heap_init(&h->heap);
    hmap_init(&h->in_flight);
    h->next_port = PORT_MIN + random_range(PORT_MAX - PORT_MIN + 1);
    h->timer = xzalloc(sizeof *h->timer);
    uv_timer_init(loop, h->timer);
    h->timer->data = h;
    return h;
}

void
health_destroy(struct health *h)
{
    struct hsvc *s;

    if (!h) {
        return;
    }
    HMAP_FOR_EACH_POP (s, node, &h->services) {
        struct hb *hb;
        LIST_FOR_EACH_SAFE (hb, list_node, &s->hbs) {
            hb_destroy(h, hb);
        }
        free(s->name);
        free(s);
    }
    hmap_destroy(&h->services);
    heap_destroy(&h->heap);
    hmap_destroy(&h->in_flight);
    uv_timer_stop(h->timer);
    uv_close((uv_handle_t *) h->timer, free_timer);
    free(h);
}

static const struct hb *
find_hb(const struct health *h, const char *service, uint32_t key)
{
    const struct hsvc *s = find_hsvc(h, service);
    const struct hb *hb;

    if (s) {
        LIST_FOR_EACH (hb, list_node, &s->hbs) {
            if (hb->key == key) {
                return hb;
            }
        }
    }
    return NULL;
}

json_t *
health_backend_json(const struct health *h, const char *service,
                    uint32_t key)
{
    const struct hb *hb = find_hb(h, service, key);
    char since[32];
    struct tm tm;
    time_t t;
    json_t *j;

    if (!hb) {
        return NULL;
    }
    t = hb->since_wall / 1000;
    gmtime_r(&t, &tm);
    strftime(since, sizeof since, "%Y-%m-%dT%H:%M:%SZ", &tm);
    j = json_pack("{s:s, s:s, s:i, s:i, s:I}",
                  "state", hb->up ? "up" : "down",
                  "since", since,
                  "successes_in_a_row", (int) hb->ok,
                  "failures_in_a_row", (int) hb->failed,
                  "transitions", (json_int_t) hb->transitions);
    json_object_set_new(j, "last", result_names[hb->last]
                        ? json_string(result_names[hb->last]) : json_null());
    json_object_set_new(j, "reason", hb->reason ? json_string(hb->reason)
                        : json_null());
    json_object_set_new(j, "latency_ms", hb->latency_ms >= 0
                        ? json_real(hb->latency_ms) : json_null());
    if (hb->not_sent) {
        json_object_set_new(j, "not_probed", json_string(hb->not_sent));
    }
    return j;
}

bool
health_backend_up(const struct health *h, const char *service, uint32_t key)
{
    const struct hb *hb = find_hb(h, service, key);
    return !hb || hb->up;
}

void
health_get_counters(const struct health *h, struct health_counters *c)
{
    *c = h->counters;
}

void
health_for_each(const struct health *h,
                void (*cb)(void *aux, const char *service,
                           const char *backend, bool up,
                           uint64_t transitions, double latency_ms),
                void *aux)
{
    const struct hsvc *s;
    const struct hb *hb;

    HMAP_FOR_EACH (s, node, &h->services) {
        LIST_FOR_EACH (hb, list_node, &s->hbs) {
            cb(aux, s->name, hb->name, hb->up, hb->transitions,
               hb->latency_ms);
        }
    }
}
