/* MSS clamping: see mss.h. */
#include <config.h>
#include "mss.h"

#include <string.h>

#include "csum.h"
#include "ipfrag.h"
#include "openvswitch/ofp-packet.h"
#include "openvswitch/ofp-protocol.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/vlog.h"
#include "packets.h"
#include "util.h"

#include "mslb/pipeline.h"
#include "ofsession.h"

VLOG_DEFINE_THIS_MODULE(mss);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

static struct mss_counters counters;

void
mss_get_counters(struct mss_counters *c)
{
    *c = counters;
}

bool
mss_clamp_frame(uint8_t *pkt, size_t len, uint16_t mss)
{
    uint16_t type;
    size_t l3 = ipfrag_l3_offset(pkt, len, &type), l4;
    const uint8_t *ip = pkt + l3;

    if (!l3) {
        return false;
    }
    if (type == ETH_TYPE_IP && len >= l3 + 20) {
        size_t ihl = (ip[0] & 0xf) * 4;
        if (ip[9] != IPPROTO_TCP || ihl < 20
            || (((ip[6] << 8) | ip[7]) & 0x1fff)) {
            return false;
        }
        l4 = l3 + ihl;
    } else if (type == ETH_TYPE_IPV6 && len >= l3 + 40
               && ip[6] == IPPROTO_TCP) {
        l4 = l3 + 40;
    } else {
        return false;
    }
    if (len < l4 + 20) {
        return false;
    }

    uint8_t *tcp = pkt + l4;
    size_t doff = (tcp[12] >> 4) * 4;
    if (doff < 20 || l4 + doff > len) {
        return false;
    }
    for (size_t o = 20; o < doff; ) {
        uint8_t kind = tcp[o];

        if (kind == 0) {
            break;                              /* End of options. */
        } else if (kind == 1) {
            o++;                                /* No-op. */
            continue;
        }
        if (o + 1 >= doff || tcp[o + 1] < 2 || o + tcp[o + 1] > doff) {
            return false;
        }
        if (kind == 2 && tcp[o + 1] == 4) {
            uint16_t old = (tcp[o + 2] << 8) | tcp[o + 3];
            ovs_be16 sum;

            if (old <= mss) {
                return false;
            }
            tcp[o + 2] = mss >> 8;
            tcp[o + 3] = mss & 0xff;
            memcpy(&sum, tcp + 16, 2);
            sum = recalc_csum16(sum, htons(old), htons(mss));
            memcpy(tcp + 16, &sum, 2);
            return true;
        }
        o += tcp[o + 1];
    }
    return false;
}

bool
mss_handle_msg(struct ofsession *s, const struct ofp_header *oh,
               enum ofptype type)
{
    struct ofputil_packet_in pin;
    struct ofpbuf continuation;
    enum ofputil_protocol proto;
    uint16_t mss;
    void *copy;

    if (type != OFPTYPE_PACKET_IN
        || ofputil_decode_packet_in(oh, true, NULL, NULL, &pin, NULL, NULL,
                                    &continuation)
        || pin.userdata_len != 4
        || pin.userdata[0] != MSLB_MSS_USERDATA0
        || pin.userdata[1] != MSLB_MSS_USERDATA1) {
        return false;
    }
    if (!continuation.size) {
        VLOG_WARN_RL(&rl, "MSS clamping: a SYN arrived without its "
                     "continuation (packet-in format?): dropped");
        return true;
    }
    mss = (pin.userdata[2] << 8) | pin.userdata[3];
    copy = xmemdup(pin.packet, pin.packet_len);
    if (mss_clamp_frame(copy, pin.packet_len, mss)) {
        counters.clamped++;
    } else {
        counters.unchanged++;
    }
    pin.packet = copy;
    proto = ofputil_protocol_from_ofp_version(ofsession_version(s));
    ofsession_send(s, ofputil_encode_resume(&pin, &continuation, proto));
    free(copy);
    return true;
}
