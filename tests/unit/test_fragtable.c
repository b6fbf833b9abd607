/* The fragment table (ofapp/fragments.c) against a recording stub of the
 * OpenFlow session: held fragments wait for the first one and the probe's
 * answer, then all leave through DSR_FORWARD to the backend the probe
 * named; fragments of no service are switched; a fragmented echo request
 * is answered whole; malformed frames and a flood of datagrams that never
 * complete are bounded and counted. */
#include <config.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <jansson.h>

#include "byte-order.h"
#include "flow.h"
#include "csum.h"
#include "fragments.h"
#include "ipfrag.h"
#include "mslb/compile.h"
#include "mslb/modeldb.h"
#include "mslb/pipeline.h"
#include "ofsession.h"
#include "openvswitch/match.h"
#include "openvswitch/meta-flow.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofp-packet.h"
#include "openvswitch/ofp-protocol.h"
#include "openvswitch/ofpbuf.h"
#include "util.h"

/* ---- The session stub: every packet-out, recorded. ---- */

struct sent {
    ofp_port_t in_port;
    struct ofpbuf *frame;
    struct ofpbuf *ofpacts;
};
static struct sent sent[256];
static size_t n_sent;

void
ofsession_packet_out(struct ofsession *s OVS_UNUSED, ofp_port_t in_port,
                     const void *pkt, size_t len,
                     const struct ofpact *ofpacts, size_t ofpacts_len)
{
    assert_true(n_sent < ARRAY_SIZE(sent));
    sent[n_sent].in_port = in_port;
    sent[n_sent].frame = ofpbuf_clone_data(pkt, len);
    sent[n_sent].ofpacts = ofpbuf_clone_data(ofpacts, ofpacts_len);
    n_sent++;
}

static void
sent_clear(void)
{
    for (size_t i = 0; i < n_sent; i++) {
        ofpbuf_delete(sent[i].frame);
        ofpbuf_delete(sent[i].ofpacts);
    }
    n_sent = 0;
}

/* The value a packet-out's actions load into register 'reg', or 0; the
 * table its last resubmit goes to (-1: none); whether it outputs to
 * 'port'. */
static uint32_t
sent_reg(const struct sent *p, int reg)
{
    const struct ofpact *a;
    uint32_t v = 0;

    OFPACT_FOR_EACH (a, p->ofpacts->data, p->ofpacts->size) {
        if (a->type == OFPACT_SET_FIELD) {
            const struct ofpact_set_field *sf = ofpact_get_SET_FIELD(a);
            if (sf->field->id == MFF_REG0 + reg) {
                v = ntohl(sf->value->be32);
            }
        }
    }
    return v;
}

static int
sent_table(const struct sent *p)
{
    const struct ofpact *a;
    int t = -1;

    OFPACT_FOR_EACH (a, p->ofpacts->data, p->ofpacts->size) {
        if (a->type == OFPACT_RESUBMIT) {
            t = ofpact_get_RESUBMIT(a)->table_id;
        }
    }
    return t;
}

static bool
sent_output(const struct sent *p, ofp_port_t port)
{
    const struct ofpact *a;

    OFPACT_FOR_EACH (a, p->ofpacts->data, p->ofpacts->size) {
        if (a->type == OFPACT_OUTPUT && ofpact_get_OUTPUT(a)->port == port) {
            return true;
        }
    }
    return false;
}

/* ---- The model. ---- */

static struct mdb *db;
static struct compile_ports ports;
static struct frags_env env;

static json_t *
load(const char *text)
{
    json_error_t jerr;
    json_t *j = json_loads(text, 0, &jerr);

    assert_non_null(j);
    return j;
}

static int
setup(void **state OVS_UNUSED)
{
    struct model_bridge *br;
    struct model_service *svc;
    struct model_lookup lk;
    json_t *j;

    db = mdb_create();
    j = load("{\"name\": \"br\", \"mac\": \"0a:00:00:00:00:01\", "
             "\"frontend_port\": \"arm\"}");
    assert_null(model_bridge_from_json(j, "", &br));
    json_decref(j);
    mdb_put_bridge(db, br);
    lk = mdb_lookup(db);
    j = load("{\"name\": \"dns\", \"vip\": \"198.18.0.101\", "
             "\"protocol\": \"udp\", \"port\": 53, \"mode\": \"dr\", "
             "\"bridges\": [\"br\"], \"backends\": ["
             "{\"name\": \"s1\", \"ip\": \"198.18.0.21\", "
             "\"mac\": \"02:00:00:00:00:21\"},"
             "{\"name\": \"s2\", \"ip\": \"198.18.0.22\", "
             "\"mac\": \"02:00:00:00:00:22\"}]}");
    assert_null(model_service_from_json(j, "", &lk, &svc));
    json_decref(j);
    svc->id = mdb_new_service_id(db, svc);
    mdb_put_service(db, svc);

    memset(&ports, 0, sizeof ports);
    ports.frontend = ports.backend = 1;
    env.mdb = db;
    env.br = mdb_find_bridge(db, "br");
    env.ports = &ports;
    return 0;
}

static int
teardown(void **state OVS_UNUSED)
{
    sent_clear();
    mdb_destroy(db);
    return 0;
}

/* ---- Frames and packet-ins. ---- */

/* An IPv4 datagram from 198.18.0.10 to 'dst' of protocol 'proto' with
 * 'plen' bytes (UDP/ICMP header included), IP id 'id'. */
static size_t
datagram(uint8_t *f, const char *dst, uint8_t proto, size_t plen,
         uint16_t id)
{
    static const uint8_t lb[6] = { 0x0a, 0, 0, 0, 0, 1 };
    static const uint8_t c[6] = { 0x0a, 0, 0, 0, 0, 0x10 };
    uint8_t *ip = f + 14, *l4 = ip + 20;

    memcpy(f, lb, 6);
    memcpy(f + 6, c, 6);
    f[12] = 0x08;
    f[13] = 0;
    memset(ip, 0, 20);
    ip[0] = 0x45;
    ip[2] = (20 + plen) >> 8;
    ip[3] = (20 + plen) & 0xff;
    ip[4] = id >> 8;
    ip[5] = id & 0xff;
    ip[8] = 64;
    ip[9] = proto;
    inet_pton(AF_INET, "198.18.0.10", ip + 12);
    inet_pton(AF_INET, dst, ip + 16);
    ovs_be16 sum = csum(ip, 20);
    memcpy(ip + 10, &sum, 2);
    for (size_t i = 0; i < plen; i++) {
        l4[i] = i * 3 + 1;
    }
    if (proto == IPPROTO_UDP) {
        l4[0] = 0x30, l4[1] = 0x39;         /* 12345 -> 53 */
        l4[2] = 0, l4[3] = 53;
        l4[4] = plen >> 8, l4[5] = plen & 0xff;
        l4[6] = l4[7] = 0;
    } else if (proto == IPPROTO_ICMP) {
        l4[0] = 8, l4[1] = 0, l4[2] = l4[3] = 0;
        sum = csum(l4, plen);
        memcpy(l4 + 2, &sum, 2);
    }
    return 14 + 20 + plen;
}

struct pieces {
    uint8_t *f[8];
    size_t len[8];
    size_t n;
};

static void
collect(void *aux, const void *frag, size_t len)
{
    struct pieces *p = aux;

    assert_true(p->n < 8);
    p->f[p->n] = xmemdup(frag, len);
    p->len[p->n++] = len;
}

static void
pieces_free(struct pieces *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->f[i]);
    }
    p->n = 0;
}

/* Hands the table a packet-in of 'frame' from table 'table' with cookie
 * 'cookie' and registers reg1, reg4; returns what frags_handle_msg()
 * did. */
static bool
packet_in(struct frags *fr, const void *frame, size_t len, int table,
          uint64_t cookie, uint32_t reg1, uint32_t reg4)
{
    struct ofputil_packet_in_private pin;
    struct ofpbuf *msg;
    bool handled;

    memset(&pin, 0, sizeof pin);
    pin.base.packet = CONST_CAST(void *, frame);
    pin.base.packet_len = len;
    pin.base.reason = OFPR_ACTION;
    pin.base.table_id = table;
    pin.base.cookie = htonll(cookie);
    match_init_catchall(&pin.base.flow_metadata);
    match_set_in_port(&pin.base.flow_metadata, u16_to_ofp(1));
    if (reg1) {
        match_set_reg(&pin.base.flow_metadata, 1, reg1);
    }
    if (reg4) {
        match_set_reg(&pin.base.flow_metadata, 4, reg4);
    }
    msg = ofputil_encode_packet_in_private(&pin, OFPUTIL_P_OF13_OXM,
                                           OFPUTIL_PACKET_IN_STD);
    handled = frags_handle_msg(fr, NULL, msg->data, OFPTYPE_PACKET_IN, &env);
    ofpbuf_delete(msg);
    return handled;
}

static bool
punt(struct frags *fr, const void *frame, size_t len)
{
    return packet_in(fr, frame, len, MSLB_T_CLASSIFY,
                     mslb_cookie(MSLB_COOKIE_VIP, 0), 0, 0);
}

/* ---- Tests. ---- */

/* Reversed fragments to a dr port service: held until the first one, a
 * probe through DSR_AFFINITY, then all three through DSR_FORWARD with the
 * backend the probe came back with. */
static void
dsr_probe(void **state OVS_UNUSED)
{
    static uint8_t f[14 + 20 + 3000];
    const struct model_service *svc = mdb_find_service(db, "dns");
    struct frags *fr = frags_create("br");
    struct pieces p = { .n = 0 };
    size_t len = datagram(f, "198.18.0.101", IPPROTO_UDP, 3000, 0x4242);
    uint32_t token, be_key = svc->backends[1].key;

    sent_clear();
    assert_true(ipfrag_split(f, len, 1400, 0, collect, &p));
    assert_int_equal(p.n, 3);
    assert_true(punt(fr, p.f[2], p.len[2]));
    assert_true(punt(fr, p.f[1], p.len[1]));
    assert_int_equal(n_sent, 0);                /* Held. */
    assert_true(punt(fr, p.f[0], p.len[0]));
    assert_int_equal(n_sent, 1);                /* The probe. */
    assert_int_equal(sent_reg(&sent[0], 0), svc->id);
    token = sent_reg(&sent[0], 4);
    assert_true(token & MSLB_PROBE_FLAG);
    /* Through SLOTS, at the slot the datagram's 5-tuple has. */
    assert_int_equal(sent_table(&sent[0]), MSLB_T_SLOTS);
    assert_true(sent_reg(&sent[0], 5) < svc->slots.n_slots);

    /* A probe answer with an unknown token changes nothing. */
    assert_true(packet_in(fr, p.f[0], p.len[0], MSLB_T_DSR_FORWARD, 0,
                          be_key, (token + 7) | MSLB_PROBE_FLAG));
    assert_int_equal(n_sent, 1);
    /* The answer: every fragment to that backend. */
    assert_true(packet_in(fr, p.f[0], p.len[0], MSLB_T_DSR_FORWARD, 0,
                          be_key, token));
    assert_int_equal(n_sent, 4);
    for (size_t i = 1; i < 4; i++) {
        assert_int_equal(sent_table(&sent[i]), MSLB_T_DSR_FORWARD);
        assert_int_equal(sent_reg(&sent[i], 0), svc->id);
        assert_int_equal(sent_reg(&sent[i], 1), be_key);
        assert_int_equal(sent_reg(&sent[i], 4), 0);
    }
    /* The fragments leave as they came (held in arrival order). */
    assert_memory_equal(sent[1].frame->data, p.f[2], p.len[2]);
    assert_memory_equal(sent[3].frame->data, p.f[0], p.len[0]);

    struct frags_counters c;
    frags_get_counters(&c);
    assert_true(c.forwarded >= 1);
    pieces_free(&p);
    frags_destroy(fr);
    sent_clear();
}

/* A protocol the VIP has no service for: switched unchanged. */
static void
no_service(void **state OVS_UNUSED)
{
    static uint8_t f[14 + 20 + 3000];
    struct frags *fr = frags_create("br");
    struct pieces p = { .n = 0 };
    size_t len = datagram(f, "198.18.0.101", 200, 3000, 7);

    sent_clear();
    ipfrag_split(f, len, 1400, 0, collect, &p);
    for (size_t i = 0; i < p.n; i++) {
        assert_true(punt(fr, p.f[i], p.len[i]));
    }
    assert_int_equal(n_sent, 3);
    for (size_t i = 0; i < n_sent; i++) {
        assert_true(sent_output(&sent[i], OFPP_NORMAL));
    }
    pieces_free(&p);
    frags_destroy(fr);
    sent_clear();
}

/* A 3,000-byte echo request to a VIP with port services only: answered
 * by the balancer, in fragments no bigger than the request's, which
 * reassemble to a valid echo reply. */
static void
echo(void **state OVS_UNUSED)
{
    static uint8_t f[14 + 20 + 3000];
    struct frags *fr = frags_create("br");
    struct pieces p = { .n = 0 };
    size_t len = datagram(f, "198.18.0.101", IPPROTO_ICMP, 3000, 99);
    const uint8_t *frames[8];
    size_t lens[8];
    struct ofpbuf whole;

    sent_clear();
    ipfrag_split(f, len, 1400, 0, collect, &p);
    for (size_t i = 0; i < p.n; i++) {
        assert_true(punt(fr, p.f[i], p.len[i]));
    }
    assert_int_equal(n_sent, 3);
    for (size_t i = 0; i < n_sent; i++) {
        assert_true(sent_output(&sent[i], OFPP_IN_PORT));
        assert_true(sent[i].frame->size - 14 <= 1400);
        frames[i] = sent[i].frame->data;
        lens[i] = sent[i].frame->size;
    }
    ofpbuf_init(&whole, 0);
    assert_true(ipfrag_reassemble(frames, lens, n_sent, &whole));
    const uint8_t *ip = (const uint8_t *) whole.data + 14;
    assert_int_equal(ip[20], 0);                    /* Echo reply. */
    assert_int_equal(csum(ip + 20, whole.size - 34), 0);
    assert_memory_equal(ip + 12, f + 14 + 16, 4);   /* From the VIP. */
    ofpbuf_uninit(&whole);
    pieces_free(&p);
    frags_destroy(fr);
    sent_clear();
}

/* Bad input: malformed frames are dropped and counted; a flood of
 * datagrams whose first fragment never comes stays within the table's
 * bounds (the oldest go) and sends nothing. */
static void
bounds(void **state OVS_UNUSED)
{
    static uint8_t f[14 + 20 + 3000];
    struct frags *fr = frags_create("br");
    struct frags_counters before, after;
    struct pieces p = { .n = 0 };

    sent_clear();
    frags_get_counters(&before);
    /* Not a fragment; truncated. */
    size_t len = datagram(f, "198.18.0.101", IPPROTO_UDP, 100, 1);
    assert_true(punt(fr, f, len));
    assert_true(punt(fr, f, 20));
    frags_get_counters(&after);
    assert_int_equal(after.dropped - before.dropped, 2);

    /* 5,000 datagrams, only their second fragment each. */
    for (uint16_t id = 0; id < 5000; id++) {
        len = datagram(f, "198.18.0.101", IPPROTO_UDP, 3000, id);
        ipfrag_split(f, len, 1400, 0, collect, &p);
        assert_true(punt(fr, p.f[1], p.len[1]));
        pieces_free(&p);
    }
    assert_int_equal(n_sent, 0);
    frags_get_counters(&after);
    assert_true(after.expired - before.expired >= 5000 - FRAGS_MAX_DATAGRAMS);

    /* Packet-ins that are not fragments' (another table, another cookie)
     * are not the table's. */
    assert_false(packet_in(fr, f, len, MSLB_T_CLASSIFY,
                           mslb_cookie(MSLB_COOKIE_SERVICE, 5), 0, 0));
    assert_false(packet_in(fr, f, len, MSLB_T_DSR_FORWARD, 0, 1, 0));
    frags_destroy(fr);
    sent_clear();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dsr_probe),
        cmocka_unit_test(no_service),
        cmocka_unit_test(echo),
        cmocka_unit_test(bounds),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
