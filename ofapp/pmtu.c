/* Path MTU answers for the tunnelling modes: see pmtu.h. */
#include <config.h>
#include "pmtu.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "answers.h"
#include "csum.h"
#include "ipfrag.h"
#include "openvswitch/match.h"
#include "openvswitch/meta-flow.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofp-packet.h"
#include "openvswitch/ofp-protocol.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/util.h"
#include "openvswitch/vlog.h"
#include "packets.h"
#include "timeval.h"
#include "util.h"

#include "mslb/pipeline.h"
#include "ofsession.h"

VLOG_DEFINE_THIS_MODULE(pmtu);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

/* Answers per second and burst, per bridge: enough for many clients'
 * path-MTU discovery (one answer each per path), little for a flood. */
#define PMTU_RATE 200
#define PMTU_BURST 200


static struct pmtu_counters counters;

struct pmtu {
    char *bridge;
    long long int last_ms;      /* Tokens as of then. */
    int tokens;
};

void
pmtu_get_counters(struct pmtu_counters *c)
{
    *c = counters;
}

struct pmtu *
pmtu_create(const char *bridge_name)
{
    struct pmtu *p = xzalloc(sizeof *p);

    p->bridge = xstrdup(bridge_name);
    p->tokens = PMTU_BURST;
    p->last_ms = time_msec();
    return p;
}

void
pmtu_destroy(struct pmtu *p)
{
    if (p) {
        free(p->bridge);
        free(p);
    }
}

static bool
take_token(struct pmtu *p)
{
    long long int now = time_msec();
    long long int add = (now - p->last_ms) * PMTU_RATE / 1000;

    if (add > 0) {
        p->tokens = MIN(PMTU_BURST, p->tokens + add);
        p->last_ms = now;
    }
    if (p->tokens <= 0) {
        return false;
    }
    p->tokens--;
    return true;
}

/* ---- Packets. ---- */

bool
pmtu_icmp_answer(const void *pkt, size_t len, int mtu, struct ofpbuf *out)
{
    int family = answer_icmp(pkt, len, ANSWER_TOO_BIG, mtu, out);

    counters.icmp4 += family == AF_INET;
    counters.icmp6 += family == AF_INET6;
    return family != 0;
}

bool
pmtu_fragment(const void *pkt_, size_t len, int mtu,
              void (*cb)(void *aux, const void *frag, size_t len),
              void *aux)
{
    const uint8_t *pkt = pkt_;
    uint16_t type;

    if (!ipfrag_l3_offset(pkt, len, &type) || type != ETH_TYPE_IP
        || !ipfrag_split(pkt, len, mtu, 0, cb, aux)) {
        return false;
    }
    counters.fragmented++;
    return true;
}

/* ---- The switch. ---- */

struct frag_ctx {
    struct ofsession *s;
    ofp_port_t in_port;
    uint32_t regs[3];
};

static void
put_reg(struct ofpbuf *ofpacts, enum mf_field_id id, uint32_t x)
{
    union mf_value v = { .be32 = htonl(x) };
    ofpact_put_set_field(ofpacts, mf_from_id(id), &v, NULL);
}

/* Sends one fragment through DSR_FORWARD's forwarding flow (reg2 says
 * "checked, fits") for the packet's service and backend. */
static void
send_fragment(void *ctx_, const void *frag, size_t len)
{
    struct frag_ctx *ctx = ctx_;
    uint64_t stub[64 / 8];
    struct ofpbuf ofpacts = OFPBUF_STUB_INITIALIZER(stub);
    struct ofpact_resubmit *r;

    put_reg(&ofpacts, MFF_REG0, ctx->regs[0]);
    put_reg(&ofpacts, MFF_REG1, ctx->regs[1]);
    put_reg(&ofpacts, MFF_REG2,
            (ctx->regs[2] & ~MSLB_PMTU_TOO_BIG) | MSLB_PMTU_CHECKED);
    r = ofpact_put_RESUBMIT(&ofpacts);
    r->in_port = OFPP_IN_PORT;
    r->table_id = MSLB_T_DSR_FORWARD;
    ofsession_packet_out(ctx->s, ctx->in_port, frag, len, ofpacts.data,
                         ofpacts.size);
    ofpbuf_uninit(&ofpacts);
}

bool
pmtu_handle_msg(struct pmtu *p, struct ofsession *s,
                const struct ofp_header *oh, enum ofptype type)
{
    struct ofputil_packet_in pin;
    struct frag_ctx ctx;
    size_t total_len;
    uint32_t buffer_id;
    const struct flow *md;
    int mtu;

    if (type != OFPTYPE_PACKET_IN
        || ofputil_decode_packet_in(oh, true, NULL, NULL, &pin, &total_len,
                                    &buffer_id, NULL)) {
        return false;
    }
    md = &pin.flow_metadata.flow;
    if (pin.table_id != MSLB_T_DSR_FORWARD
        || (md->regs[2] & (MSLB_PMTU_CHECKED | MSLB_PMTU_TOO_BIG))
           != (MSLB_PMTU_CHECKED | MSLB_PMTU_TOO_BIG)) {
        return false;           /* The packet (in 'oh') is not ours. */
    }
    mtu = md->regs[2] >> MSLB_PMTU_MTU_SHIFT;
    if (total_len != pin.packet_len || !take_token(p)) {
        if (total_len != pin.packet_len) {
            counters.ignored++;
        } else {
            counters.limited++;
        }
        return true;
    }

    ctx.s = s;
    ctx.in_port = md->in_port.ofp_port;
    memcpy(ctx.regs, md->regs, sizeof ctx.regs);
    if (!pmtu_fragment(pin.packet, pin.packet_len, mtu, send_fragment,
                       &ctx)) {
        uint64_t stub[2048 / 8];
        struct ofpbuf icmp = OFPBUF_STUB_INITIALIZER(stub);

        if (pmtu_icmp_answer(pin.packet, pin.packet_len, mtu, &icmp)) {
            uint64_t astub[64 / 8];
            struct ofpbuf ofpacts = OFPBUF_STUB_INITIALIZER(astub);

            ofpact_put_OUTPUT(&ofpacts)->port = ctx.in_port;
            ofsession_packet_out(s, OFPP_CONTROLLER, icmp.data, icmp.size,
                                 ofpacts.data, ofpacts.size);
            ofpbuf_uninit(&ofpacts);
            VLOG_DBG_RL(&rl, "bridge %s: %zu-byte packet over the tunnel's "
                        "MTU %d: ICMP sent", p->bridge, pin.packet_len, mtu);
        } else {
            counters.ignored++;
        }
        ofpbuf_uninit(&icmp);
    }
    return true;
}
