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
#include "answers.h"
#include "ofsession.h"
#include "probe_wire.h"
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

/* A probe whose timeout is handled this late (the loop was busy: a big
 * install, a statistics request) gets this long more, once, so that an
 * answer waiting in the switch connection's buffer is read first. */
#define STALL_MS 10
#define GRACE_MS 20

/* At most PACE_BURST probes every PACE_MS (10,000 a second): after a
 * stall, the probes that fell due meanwhile go out paced, not in one
 * burst whose answers would overflow the switch's packet-in queue (100
 * by default in OVS). */
#define PACE_BURST 40
#define PACE_MS 4

enum result {
    PROBE_NONE,                     /* Not probed yet. */
    PROBE_OK,                       /* The answer expected. */
    PROBE_TIMEOUT,                  /* No answer within the timeout. */
    PROBE_REFUSED,                  /* RST, or port unreachable. */
    PROBE_BAD,                      /* An answer, not the one expected. */
};

static const char *const result_names[] = {
    [PROBE_NONE] = NULL,
    [PROBE_OK] = "success",
    [PROBE_TIMEOUT] = "timeout",
    [PROBE_REFUSED] = "refused",
    [PROBE_BAD] = "bad answer",
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
    bool graced;                /* Given GRACE_MS more, once. */
    uint16_t sport;
    uint32_t seq;
    long long int sent_ms;
    struct mslb_addr src, dst;  /* Its addresses (the answer's swapped). */
    uint16_t dport;
    char *bridge;               /* Where it was sent. */
    char *sent_from;            /* Where the last probe was sent. */
    /* http: after the SYN-ACK, the request is out and the answer comes
     * in, in order, into 'answer'. */
    bool requested;
    uint32_t their_next;        /* The next sequence number we expect. */
    uint32_t our_next;          /* Ours after the request. */
    char *answer;
    size_t answer_len;
    char *bad;                  /* PROBE_BAD: what was wrong. */

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
    /* Slots a recovered backend got back while another one had taken
     * sessions on them (DSR TCP services): those sessions keep it until
     * they end (docs/health.md), as the table's own moves do. */
    struct model_slot_move *moves;      /* Sorted by slot; 'until' in
                                         * wall-clock seconds. */
    size_t n_moves;
};

/* A learned session: (service id, slot, backend). */
struct learned {
    struct hmap_node node;
    uint32_t service, slot, backend;
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
    struct health_counters counters;
    long long int paced_until;  /* No probe sent before then. */

    /* Settling the recovery moves that fall due. */
    uv_timer_t *settle_timer;
    int pending;                /* Bridges yet to answer. */
    bool unknown;               /* One could not: keep every due move. */
    struct hmap learned;        /* struct learned. */

    /* Several mslbd (docs/deployment.md): only the master probes and
     * settles; the others take its results (health_import()). */
    bool active;
    uint64_t seq;               /* Moves when a result changes. */
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
    long long int wait = MAX(hb->deadline, h->paced_until) - now_ms();
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
        h->seq++;
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
        hb->requested = false;
        free(hb->bridge);
        hb->bridge = NULL;
        free(hb->answer);
        hb->answer = NULL;
        hb->answer_len = 0;
    }
}

static int
compare_moves(const void *a_, const void *b_)
{
    const struct model_slot_move *a = a_, *b = b_;
    return a->slot < b->slot ? -1 : a->slot > b->slot;
}

/* Backend 'hb' just recovered: the slots it gets back from the backends
 * that took them meanwhile become moves from those, so that the sessions
 * they took keep them (a move's SYN goes to 'hb', any other packet to the
 * old owner unless learned).  Only the DSR modes' TCP services, as the
 * table's own moves. */
static void
recovery_moves(struct health *h, struct hb *hb)
{
    const struct model_service *svc = mdb_find_service(h->mdb,
                                                       hb->svc->name);
    struct hsvc *s = hb->svc;
    struct model_slots before, after;
    uint32_t *keys;
    size_t n = 0, added = 0;
    int64_t until = wall_ms() / 1000;
    struct hb *o;

    if (!svc || !model_mode_is_dsr(svc->mode) || svc->persistence
        || svc->proto != IPPROTO_TCP) {
        return;
    }
    until += svc->idle_timeout;
    keys = xmalloc((ovs_list_size(&s->hbs) + 1) * sizeof *keys);
    LIST_FOR_EACH (o, list_node, &s->hbs) {
        if (!o->up) {
            keys[n++] = o->key;
        }
    }
    qsort(keys, n, sizeof *keys, model_key_compare);
    model_slots_effective(svc, keys, n, &after);
    keys[n++] = hb->key;
    qsort(keys, n, sizeof *keys, model_key_compare);
    model_slots_effective(svc, keys, n, &before);
    free(keys);
    if (before.n_slots == after.n_slots) {
        bool *in_move = xzalloc(after.n_slots * sizeof *in_move);

        for (size_t i = 0; i < s->n_moves; i++) {
            if (s->moves[i].slot < after.n_slots) {
                in_move[s->moves[i].slot] = true;
            }
        }
        s->moves = xrealloc(s->moves, (s->n_moves + after.n_slots + 1)
                                      * sizeof *s->moves);
        for (uint32_t slot = 0; slot < after.n_slots; slot++) {
            uint32_t was = before.owner[slot];

            if (after.owner[slot] != hb->key || !was || was == hb->key) {
                continue;
            }
            if (!in_move[slot]) {
                s->moves[s->n_moves++] = (struct model_slot_move) {
                    .slot = slot, .from = was, .until = until,
                };
                added++;
            }
        }
        free(in_move);
        qsort(s->moves, s->n_moves, sizeof *s->moves, compare_moves);
        rtfacts_set_moves(h->rt, s->name, s->moves, s->n_moves);
        h->seq++;
    }
    if (added) {
        VLOG_INFO("service %s: backend %s takes back %zu slots; the "
                  "sessions others took on them keep their backends",
                  s->name, hb->name, added);
    }
    model_slots_uninit(&before);
    model_slots_uninit(&after);
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
    if (up) {
        recovery_moves(h, hb);
    }
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
    if (r != PROBE_BAD) {
        free(hb->bad);
        hb->bad = NULL;
    }
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
                                  "timeout"
                                  : r == PROBE_BAD ? hb->bad
                                  : hb->mon.type == MODEL_MONITOR_UDP
                                  ? "port unreachable (ICMP)"
                                  : "connection refused (RST)");
            transition(h, hb, false, why);
            free(why);
        }
    }
    set_deadline(h, hb, next > now ? next : now);
}

/* ---- Probes. ---- */

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
 * in on the frontend port; on an slb host (a final stage: the host agent
 * probes its own backends) the packet to the VIP as if a mux had
 * tunnelled it there, through the host's own translation. */
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
    if (br->role == MODEL_ROLE_FINAL) {
        if (!ports->tunnel[svc->tunnel]) {
            return "the host's bridge has no tunnel port of the service's";
        }
        p->dst = svc->vip;
        p->dport = mon->port ? mon->port : svc->port;
        p->in_port = u16_to_ofp(ports->tunnel[svc->tunnel]);
        union mf_value v = { .be64 = htonll(svc->id) };
        ofpact_put_set_field(&p->ofpacts, mf_from_id(MFF_TUN_ID), &v, NULL);
        r = ofpact_put_RESUBMIT(&p->ofpacts);
        r->in_port = OFPP_IN_PORT;
        r->table_id = MSLB_T_CLASSIFY;
        return NULL;
    }
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

/* The source MAC of probes from 'br': a final stage's own (its LOCAL
 * port's), a first stage's configured one. */
static const struct mslb_mac *
src_mac(const struct model_bridge *br, const struct compile_ports *ports)
{
    return br->role == MODEL_ROLE_FINAL ? &ports->local_mac : &br->mac;
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

/* A free port of the prober's, at random: taken in turn, a backend probed
 * at a steady pace would meet the same port every few probes, while its
 * server may still hold the last connection from it. */
static bool
alloc_port(struct health *h, uint16_t *port)
{
    int n = PORT_MAX - PORT_MIN + 1;
    int start = random_range(n);

    for (int i = 0; i < n; i++) {
        uint16_t p = PORT_MIN + (start + i) % n;
        if (!find_in_flight(h, p)) {
            *port = p;
            return true;
        }
    }
    return false;
}

/* The probe's first packet: a SYN (tcp, http), the datagram (udp), or an
 * echo request whose identifier is the probe's port (icmp). */
static void
build_probe(struct probe_frame *f, const struct hb *hb,
            const struct model_service *svc, const struct mslb_mac *eth_src,
            const struct mslb_mac *eth_dst)
{
    const struct model_monitor_request *req = svc->request;

    switch (hb->mon.type) {
    case MODEL_MONITOR_UDP: {
        const char *send = req && req->send ? req->send : "";

        probe_frame_udp(f, eth_src, eth_dst, &hb->src, hb->sport, &hb->dst,
                        hb->dport, send, strlen(send));
        break;
    }
    case MODEL_MONITOR_ICMP:
        probe_frame_echo(f, eth_src, eth_dst, &hb->src, &hb->dst, hb->sport,
                         hb->seq);
        break;
    case MODEL_MONITOR_TCP:
    case MODEL_MONITOR_HTTP:
    case MODEL_MONITOR_NONE:
    default:
        probe_frame_tcp(f, eth_src, eth_dst, &hb->src, hb->sport, &hb->dst,
                        hb->dport, TCP_SYN, hb->seq, 0, NULL, 0);
        break;
    }
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
    const char *why = h->active
        ? "no first-stage bridge of the service is connected"
        : "this mslbd is standby: the master probes";
    long long int now = now_ms();
    /* An slb backend's host agent probes it (from its host's bridge, if
     * this mslbd has it and it has a gateway address of the backend's
     * family), else a mux through the host. */
    bool host = be && svc->mode == MODEL_MODE_SLB && be->host_bridge;

    for (size_t i = host ? 0 : 1;
         be && h->active && i < svc->n_bridges + 1; i++) {
        const char *name = i ? svc->bridges[i - 1] : be->host_bridge;
        const struct model_bridge *br = mdb_find_bridge(h->mdb, name);
        struct bridge *b = bridges_find(h->bridges, name);
        struct ofsession *s = b ? bridge_session(b) : NULL;
        const struct mslb_addr *gw;
        struct compile_ports ports;
        struct path path;
        struct probe_frame f;

        if (!br || !s || !lbengine_ports(h->engine, br, &ports)
            || (!i && !gateway_of(br, be->ip.family))) {
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
        hb->seq = hb->mon.type == MODEL_MONITOR_ICMP
                  ? random_uint32() & 0xffff : random_uint32();
        hb->src = *gw;
        hb->dst = path.dst;
        hb->dport = path.dport;
        build_probe(&f, hb, svc, src_mac(br, &ports), &path.eth_dst);
        ofsession_packet_out(s, path.in_port, f.b, f.len, path.ofpacts.data,
                             path.ofpacts.size);
        ofpbuf_uninit(&path.ofpacts);
        hb->probing = true;
        hb->graced = false;
        hb->sent_ms = now;
        hb->bridge = xstrdup(br->name);
        if (!hb->sent_from || strcmp(hb->sent_from, br->name)) {
            free(hb->sent_from);
            hb->sent_from = xstrdup(br->name);
        }
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
    int sent = 0;

    for (int i = 0; i < BATCH && !heap_is_empty(&h->heap); i++) {
        struct hb *hb = CONTAINER_OF(heap_max(&h->heap), struct hb,
                                     heap_node);
        if (hb->deadline > now) {
            break;
        }
        if (hb->probing && !hb->graced && now - hb->deadline > STALL_MS) {
            hb->graced = true;
            set_deadline(h, hb, now + GRACE_MS);
        } else if (hb->probing && !h->active) {
            end_probe(h, hb);   /* Demoted meanwhile: not a result. */
            set_deadline(h, hb, now + hb->mon.interval_ms);
        } else if (hb->probing) {
            h->counters.timeouts++;
            result(h, hb, PROBE_TIMEOUT);
        } else {
            uint64_t delay_us;

            if (sent == PACE_BURST) {
                h->paced_until = now + PACE_MS;
                break;
            }
            sent++;
            delay_us = (uv_hrtime() / 1000) - hb->deadline * 1000;
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

/* Sends a TCP segment of 'hb''s probe connection the way its SYN went. */
static void
send_segment(struct health *h, struct hb *hb, uint8_t flags, uint32_t seq,
             uint32_t ack, const void *data, size_t len)
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
    struct probe_frame f;

    if (!be || !br || !s || !lbengine_ports(h->engine, br, &ports)) {
        return;
    }
    if (!make_path(h->resolver, svc, be, &hb->mon, br, &ports, &path)) {
        probe_frame_tcp(&f, src_mac(br, &ports), &path.eth_dst, &hb->src,
                        hb->sport,
                        &hb->dst, hb->dport, flags, seq, ack, data, len);
        ofsession_packet_out(s, path.in_port, f.b, f.len, path.ofpacts.data,
                             path.ofpacts.size);
    }
    ofpbuf_uninit(&path.ofpacts);
}

/* The most of an HTTP answer read: its status line and enough of the
 * body to look for a substring in. */
#define HTTP_ANSWER_MAX 16384

/* http: after the SYN-ACK, the request; the answer read in order until
 * it decides.  Returns the result, or PROBE_NONE while undecided. */
static enum result
http_step(struct health *h, struct hb *hb, const struct probe_answer *a)
{
    const struct model_service *svc = mdb_find_service(h->mdb,
                                                       hb->svc->name);
    const struct model_monitor_request *req = svc ? svc->request : NULL;

    if (!req || !req->method) {
        return PROBE_NONE;              /* Changed meanwhile: time out. */
    }
    if (!hb->requested) {
        char host[INET6_ADDRSTRLEN + 2], addr[INET6_ADDRSTRLEN];
        char *request;

        mslb_addr_format(&hb->dst, addr, sizeof addr);
        snprintf(host, sizeof host, hb->dst.family == AF_INET6 ? "[%s]"
                 : "%s", addr);
        request = xasprintf("%s %s HTTP/1.1\r\nHost: %s\r\n"
                            "User-Agent: mslb-health\r\nAccept: */*\r\n"
                            "Connection: close\r\n\r\n", req->method,
                            req->path, req->host ? req->host : host);
        hb->requested = true;
        hb->their_next = a->seq + 1;
        hb->our_next = hb->seq + 1 + strlen(request);
        send_segment(h, hb, TCP_ACK | TCP_PSH, hb->seq + 1, hb->their_next,
                     request, strlen(request));
        free(request);
        return PROBE_NONE;
    }
    if (a->seq == hb->their_next && a->len) {
        size_t n = MIN(a->len, HTTP_ANSWER_MAX - hb->answer_len);

        hb->answer = xrealloc(hb->answer, hb->answer_len + n + 1);
        memcpy(hb->answer + hb->answer_len, a->data, n);
        hb->answer_len += n;
        hb->answer[hb->answer_len] = '\0';
        hb->their_next += a->len;
    }
    bool done = (a->flags & TCP_FIN) || hb->answer_len >= HTTP_ANSWER_MAX;
    const char *eol = hb->answer ? strstr(hb->answer, "\r\n") : NULL;
    int code;

    if (!eol) {
        if (done) {
            free(hb->bad);
            hb->bad = xstrdup("no HTTP status line");
            return PROBE_BAD;
        }
        return PROBE_NONE;
    }
    if (sscanf(hb->answer, "HTTP/%*d.%*d %3d", &code) != 1
        || code < 100 || code > 599) {
        free(hb->bad);
        hb->bad = xstrdup("no HTTP status line");
        return PROBE_BAD;
    }
    if (!(req->codes[code / 64] & (UINT64_C(1) << (code % 64)))) {
        free(hb->bad);
        hb->bad = xasprintf("HTTP status %d", code);
        return PROBE_BAD;
    }
    if (req->body && !memmem(hb->answer, hb->answer_len, req->body,
                             strlen(req->body))) {
        if (!done) {
            return PROBE_NONE;
        }
        free(hb->bad);
        hb->bad = xasprintf("HTTP status %d without \"%s\" in the body",
                            code, req->body);
        return PROBE_BAD;
    }
    return PROBE_OK;
}

/* The probe under way of 'hb' that 'a' answers (it matched the probe's
 * addresses and ports): its result, or PROBE_NONE if undecided or not an
 * answer after all. */
static enum result
judge(struct health *h, struct hb *hb, const struct probe_answer *a)
{
    const struct model_service *svc;
    const struct model_monitor_request *req;

    switch (hb->mon.type) {
    case MODEL_MONITOR_ICMP:
        return a->proto != IPPROTO_TCP && a->proto != IPPROTO_UDP
               && a->sport == hb->seq ? PROBE_OK : PROBE_NONE;
    case MODEL_MONITOR_UDP:
        if (a->proto != IPPROTO_UDP) {
            return PROBE_NONE;
        }
        if (a->unreachable) {
            return PROBE_REFUSED;
        }
        svc = mdb_find_service(h->mdb, hb->svc->name);
        req = svc ? svc->request : NULL;
        if (req && req->expect
            && !memmem(a->data, a->len, req->expect, strlen(req->expect))) {
            free(hb->bad);
            hb->bad = xasprintf("the answer does not hold \"%s\"",
                                req->expect);
            return PROBE_BAD;
        }
        return PROBE_OK;
    case MODEL_MONITOR_TCP:
    case MODEL_MONITOR_HTTP:
    case MODEL_MONITOR_NONE:
    default:
        if (a->proto != IPPROTO_TCP || !(a->flags & TCP_ACK)) {
            return PROBE_NONE;
        }
        if (!hb->requested) {
            if (a->ack != hb->seq + 1) {
                return PROBE_NONE;
            }
            if (a->flags & TCP_RST) {
                return PROBE_REFUSED;
            }
            if (!(a->flags & TCP_SYN)) {
                return PROBE_NONE;
            }
            if (hb->mon.type != MODEL_MONITOR_HTTP) {
                send_segment(h, hb, TCP_RST, a->ack, 0, NULL, 0);
                return PROBE_OK;
            }
        } else if (a->flags & TCP_RST) {
            return PROBE_REFUSED;
        }
        enum result r = http_step(h, hb, a);
        if (r != PROBE_NONE) {
            send_segment(h, hb, TCP_RST, hb->our_next, 0, NULL, 0);
        }
        return r;
    }
}

/* A SYN-ACK to a probe address that matches no probe (one that timed out,
 * or a server answering from the wrong address): reset it, straight back
 * to where it came from, so that the server does not keep the half-open
 * connection and resend its SYN-ACK (and answer a later probe from the
 * same port with an ACK instead). */
static void
reset_stray(struct ofsession *s, const struct ofputil_packet_in *pin,
            const struct probe_answer *a)
{
    uint64_t stub[256 / 8], astub[64 / 8];
    struct ofpbuf rst = OFPBUF_STUB_INITIALIZER(stub);
    struct ofpbuf ofpacts = OFPBUF_STUB_INITIALIZER(astub);

    if (a->proto == IPPROTO_TCP && (a->flags & TCP_SYN)
        && (a->flags & TCP_ACK)
        && answer_tcp_rst(pin->packet, pin->packet_len, &rst)) {
        ofpact_put_OUTPUT(&ofpacts)->port = OFPP_IN_PORT;
        ofsession_packet_out(s, pin->flow_metadata.flow.in_port.ofp_port,
                             rst.data, rst.size, ofpacts.data, ofpacts.size);
    }
    ofpbuf_uninit(&ofpacts);
    ofpbuf_uninit(&rst);
}

bool
health_handle_msg(struct health *h, const char *bridge, struct ofsession *s,
                  const struct ofp_header *oh, enum ofptype type)
{
    struct ofputil_packet_in pin;
    struct probe_answer a;
    struct hb *hb = NULL;
    size_t total_len;
    uint32_t buffer_id;
    enum result r;

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
    if (!probe_parse_answer(pin.packet, pin.packet_len, &a)
        || !(hb = find_in_flight(h, a.dport))
        || strcmp(hb->bridge, bridge)
        || !mslb_addr_equal(&a.src, &hb->dst)
        || !mslb_addr_equal(&a.dst, &hb->src)
        || (hb->mon.type != MODEL_MONITOR_ICMP && a.sport != hb->dport)
        || (r = judge(h, hb, &a)) == PROBE_NONE) {
        if (!hb || !hb->requested) {
            h->counters.stray++;
            reset_stray(s, &pin, &a);
        }
        VLOG_DBG_RL(&rl, "bridge %s: a packet to a probe address matches "
                    "no probe (or does not decide it)", bridge);
        return true;
    }
    h->counters.answers++;
    h->counters.refused += r == PROBE_REFUSED;
    h->counters.bad += r == PROBE_BAD;
    result(h, hb, r);
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
    free(hb->bad);
    free(hb->sent_from);
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
        if (s->n_moves) {
            rtfacts_set_moves(h->rt, name, NULL, 0);
            had_failed = true;          /* Recompile. */
            h->seq++;
        }
        free(s->moves);
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

/* ---- Settling recovery moves. ---- */

static uint32_t
learned_hash(uint32_t service, uint32_t slot, uint32_t backend)
{
    return hash_3words(service, slot, backend);
}

static bool
session_on(const struct health *h, uint32_t service, uint32_t slot,
           uint32_t backend)
{
    const struct learned *l;

    HMAP_FOR_EACH_WITH_HASH (l, node, learned_hash(service, slot, backend),
                             &h->learned) {
        if (l->service == service && l->slot == slot
            && l->backend == backend) {
            return true;
        }
    }
    return false;
}

/* Every bridge answered: a due move whose old backend still holds a
 * session on its slot lasts another idle_timeout; the others end. */
static void
settle(struct health *h)
{
    int64_t now = wall_ms() / 1000;
    size_t ended = 0, kept = 0, services = 0;
    struct learned *l;
    struct hsvc *s;

    if (!h->active) {
        /* Demoted while asking: the master ends moves, not a standby. */
        HMAP_FOR_EACH_POP (l, node, &h->learned) {
            free(l);
        }
        return;
    }

    HMAP_FOR_EACH (s, node, &h->services) {
        const struct model_service *svc = mdb_find_service(h->mdb, s->name);
        size_t n = 0, due = 0;

        for (size_t i = 0; i < s->n_moves; i++) {
            struct model_slot_move m = s->moves[i];

            if (m.until <= now) {
                due++;
                if (svc && (h->unknown
                            || session_on(h, svc->id, m.slot, m.from))) {
                    m.until = now + svc->idle_timeout;
                    kept++;
                } else {
                    ended++;
                    continue;
                }
            }
            s->moves[n++] = m;
        }
        if (due) {
            services++;
            s->n_moves = n;
            rtfacts_set_moves(h->rt, s->name, s->moves, n);
            h->seq++;
            h->changed(h->aux);
        }
    }
    if (services) {
        VLOG_INFO("recovery moves due in %zu service%s: %zu ended, %zu "
                  "kept", services, services == 1 ? "" : "s", ended, kept);
    }
    HMAP_FOR_EACH_POP (l, node, &h->learned) {
        free(l);
    }
}

static void
settle_if_done(struct health *h)
{
    if (!--h->pending) {
        settle(h);
    }
}

static void
on_learned(void *h_, json_t *stats)
{
    struct health *h = h_;
    size_t i;
    json_t *e;

    if (!stats) {
        h->unknown = true;
    } else {
        json_array_foreach (json_object_get(stats, "learned"), i, e) {
            struct learned *l = xmalloc(sizeof *l);
            l->service = json_integer_value(json_object_get(e, "service"));
            l->slot = json_integer_value(json_object_get(e, "slot"));
            l->backend = json_integer_value(json_object_get(e, "backend"));
            hmap_insert(&h->learned, &l->node,
                        learned_hash(l->service, l->slot, l->backend));
        }
        json_decref(stats);
    }
    settle_if_done(h);
}

/* Once a second: if some recovery move is due, asks every connected
 * first-stage bridge for its learned sessions, then settles. */
static void
on_settle_timer(uv_timer_t *timer)
{
    struct health *h = timer->data;
    int64_t now = wall_ms() / 1000;
    bool due = false;
    struct hsvc *s;

    if (h->pending || !h->active) {
        return;
    }
    HMAP_FOR_EACH (s, node, &h->services) {
        for (size_t i = 0; i < s->n_moves && !due; i++) {
            due = s->moves[i].until <= now;
        }
    }
    if (!due) {
        return;
    }
    h->unknown = false;
    h->pending = 1;             /* Until every request is out. */
    for (size_t i = 0; i < bridges_count(h->bridges); i++) {
        struct bridge *b = bridges_at(h->bridges, i);
        const struct model_bridge *br = mdb_find_bridge(h->mdb,
                                                        bridge_name(b));

        if (!br || (br->role != MODEL_ROLE_FIRST
                    && !mdb_is_slb_host(h->mdb, br->name))) {
            continue;           /* As moves.c: first stages, slb hosts. */
        }
        if (!bridge_is_connected(b)) {
            h->unknown = true;  /* Its sessions cannot be asked for. */
            continue;
        }
        h->pending++;
        bridge_collect_learned(b, on_learned, h);
    }
    settle_if_done(h);
}

/* ---- Several mslbd. ---- */

void
health_set_active(struct health *h, bool active)
{
    long long int now = now_ms();
    struct hsvc *s;
    struct hb *hb;

    if (active == h->active) {
        return;
    }
    h->active = active;
    if (!active) {
        /* Demoted: the probes under way get no answers any more (a
         * slave has no packet-ins); they must not count as failures. */
        HMAP_FOR_EACH (s, node, &h->services) {
            LIST_FOR_EACH (hb, list_node, &s->hbs) {
                if (hb->probing) {
                    end_probe(h, hb);
                    set_deadline(h, hb, now + hb->mon.interval_ms);
                }
                hb->ok = hb->failed = 0;
            }
        }
        arm(h);
        return;
    }
    /* Made master: every backend's next probe at its own point of the
     * interval from now (a standby's were not sent). */
    HMAP_FOR_EACH (s, node, &h->services) {
        LIST_FOR_EACH (hb, list_node, &s->hbs) {
            if (!hb->probing) {
                set_deadline(h, hb, now + hash_2words(hb->key,
                                                      name_hash(s->name))
                                          % hb->mon.interval_ms);
            }
        }
    }
    arm(h);
}

uint64_t
health_seq(const struct health *h)
{
    return h->seq;
}

void
health_export(const struct health *h,
              void (*cb)(void *aux, const char *service,
                         const uint32_t *failed, size_t n_failed,
                         const struct model_slot_move *, size_t n_moves),
              void *aux)
{
    const struct hsvc *s;

    HMAP_FOR_EACH (s, node, &h->services) {
        size_t n;
        const uint32_t *failed = rtfacts_failed(h->rt, s->name, &n);

        if (n || s->n_moves) {
            cb(aux, s->name, failed, n, s->moves, s->n_moves);
        }
    }
}

void
health_import(struct health *h, const char *service,
              const uint32_t *failed, size_t n_failed,
              const struct model_slot_move *moves, size_t n_moves)
{
    struct hsvc *s = find_hsvc(h, service);
    bool moved;
    struct hb *hb;

    if (!s) {
        return;                 /* Not monitored here (yet). */
    }
    LIST_FOR_EACH (hb, list_node, &s->hbs) {
        bool up = true;

        for (size_t i = 0; i < n_failed && up; i++) {
            up = failed[i] != hb->key;
        }
        if (up != hb->up) {
            hb->up = up;
            hb->failed = hb->ok = 0;
            hb->since_wall = wall_ms();
            free(hb->reason);
            hb->reason = xstrdup("as the master found");
        }
    }
    moved = n_moves != s->n_moves
            || (n_moves && memcmp(moves, s->moves, n_moves * sizeof *moves));
    if (moved) {
        s->moves = xrealloc(s->moves, (n_moves + 1) * sizeof *s->moves);
        memcpy(s->moves, moves, n_moves * sizeof *moves);
        s->n_moves = n_moves;
        rtfacts_set_moves(h->rt, s->name, s->moves, n_moves);
        h->changed(h->aux);
    }
    report_failed(h, s);
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
    h->timer = xzalloc(sizeof *h->timer);
    uv_timer_init(loop, h->timer);
    h->timer->data = h;
    hmap_init(&h->learned);
    h->settle_timer = xzalloc(sizeof *h->settle_timer);
    uv_timer_init(loop, h->settle_timer);
    h->settle_timer->data = h;
    uv_timer_start(h->settle_timer, on_settle_timer, 1000, 1000);
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
        free(s->moves);
        free(s->name);
        free(s);
    }
    hmap_destroy(&h->services);
    heap_destroy(&h->heap);
    hmap_destroy(&h->in_flight);
    uv_timer_stop(h->timer);
    uv_close((uv_handle_t *) h->timer, free_timer);
    uv_timer_stop(h->settle_timer);
    uv_close((uv_handle_t *) h->settle_timer, free_timer);
    struct learned *l;
    HMAP_FOR_EACH_POP (l, node, &h->learned) {
        free(l);
    }
    hmap_destroy(&h->learned);
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
    if (hb->sent_from) {
        json_object_set_new(j, "probed_from", json_string(hb->sent_from));
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
