/* Refusing new sessions of an empty service: see reject.h. */
#include <config.h>
#include "reject.h"

#include <netinet/in.h>
#include <stdlib.h>

#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofp-packet.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/util.h"
#include "timeval.h"
#include "util.h"

#include "mslb/pipeline.h"
#include "answers.h"
#include "ofsession.h"

static struct reject_counters counters;

struct reject {
    long long int last_ms;      /* Tokens as of then. */
    int tokens;
};

struct reject *
reject_create(void)
{
    struct reject *r = xzalloc(sizeof *r);

    r->tokens = REJECT_RATE;
    r->last_ms = time_msec();
    return r;
}

void
reject_destroy(struct reject *r)
{
    free(r);
}

void
reject_get_counters(struct reject_counters *c)
{
    *c = counters;
}

static bool
take_token(struct reject *r)
{
    long long int now = time_msec();
    long long int add = (now - r->last_ms) * REJECT_RATE / 1000;

    if (add > 0) {
        r->tokens = MIN(REJECT_RATE, r->tokens + add);
        r->last_ms = now;
    }
    if (r->tokens <= 0) {
        return false;
    }
    r->tokens--;
    return true;
}

bool
reject_handle_msg(struct reject *r, struct ofsession *s,
                  const struct ofp_header *oh, enum ofptype type)
{
    struct ofputil_packet_in pin;
    size_t total_len;
    uint32_t buffer_id;
    uint64_t stub[2048 / 8], astub[64 / 8];
    struct ofpbuf answer = OFPBUF_STUB_INITIALIZER(stub);
    struct ofpbuf ofpacts = OFPBUF_STUB_INITIALIZER(astub);
    bool sent;

    if (type != OFPTYPE_PACKET_IN
        || ofputil_decode_packet_in(oh, true, NULL, NULL, &pin, &total_len,
                                    &buffer_id, NULL)) {
        return false;
    }
    if (pin.userdata_len != 2
        || ((const uint8_t *) pin.userdata)[0] != MSLB_REJECT_USERDATA0
        || ((const uint8_t *) pin.userdata)[1] != MSLB_REJECT_USERDATA1) {
        return false;
    }
    if (!take_token(r)) {
        counters.limited++;
        return true;
    }
    sent = answer_tcp_rst(pin.packet, pin.packet_len, &answer);
    if (sent) {
        counters.rst++;
    } else if (answer_icmp(pin.packet, pin.packet_len,
                           ANSWER_PORT_UNREACHABLE, 0, &answer)) {
        counters.icmp++;
        sent = true;
    }
    if (sent) {
        ofpact_put_OUTPUT(&ofpacts)->port = OFPP_IN_PORT;
        ofsession_packet_out(s, pin.flow_metadata.flow.in_port.ofp_port,
                             answer.data, answer.size, ofpacts.data,
                             ofpacts.size);
    }
    ofpbuf_uninit(&ofpacts);
    ofpbuf_uninit(&answer);
    return true;
}
