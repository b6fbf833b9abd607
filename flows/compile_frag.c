/* The compiler, fragments (docs/mtu.md): only the first fragment of a
 * datagram carries its ports, and OpenFlow has no field for the fragment
 * id that would tie the others to it.  So every fragment to a VIP that has
 * a service naming a protocol goes to the controller, which keeps each
 * datagram's fragments together (ofapp/fragments.c): it classifies the
 * datagram by its first fragment, then sends every fragment on with the
 * actions built here, so that the compiler stays the one place that knows
 * how each mode forwards. */
#include <config.h>
#include "mslb/compile.h"

#include <arpa/inet.h>
#include <string.h>

#include "openvswitch/ofp-actions.h"
#include "openvswitch/util.h"
#include "packets.h"
#include "compile-private.h"
#include "mslb/pipeline.h"

void
compile_fragment_flows(struct cbuild *cb, const struct model_service *svc)
{
    /* Shared by the VIP's services: the controller sorts them out. */
    cb_begin(cb);
    m_ip_proto(cb, &svc->vip, 0);
    m_addr(cb, MFF_IPV4_DST, MFF_IPV6_DST, &svc->vip);
    m_ip_frag(cb, FLOW_NW_FRAG_ANY, FLOW_NW_FRAG_ANY);
    a_controller_all(cb);
    cb_add(cb, mslb_cookie(MSLB_COOKIE_VIP, 0), MSLB_T_CLASSIFY, 320);
}

void
compile_fragment_base(struct cbuild *cb)
{
    uint64_t base = mslb_cookie(MSLB_COOKIE_BRIDGE, 0);

    /* A probe comes back with its backend; the second pass of DSR_FORWARD
     * after a group (reg1 restored to 0) is dropped. */
    cb_begin(cb);
    match_set_reg_masked(&cb->match, 4, MSLB_PROBE_FLAG, MSLB_PROBE_FLAG);
    match_set_reg(&cb->match, 1, 0);
    cb_add(cb, base, MSLB_T_DSR_FORWARD, 201);

    cb_begin(cb);
    match_set_reg_masked(&cb->match, 4, MSLB_PROBE_FLAG, MSLB_PROBE_FLAG);
    a_controller_all(cb);
    cb_add(cb, base, MSLB_T_DSR_FORWARD, 200);
}

static bool
is_dsr(const struct model_service *svc)
{
    return svc->mode == MODEL_MODE_DR || svc->mode == MODEL_MODE_TUN
           || svc->mode == MODEL_MODE_L3DSR || model_mode_via_host(svc->mode);
}

/* Copies the builder's actions to 'ofpacts' and frees the builder. */
static void
take_actions(struct cbuild *cb, struct ofpbuf *ofpacts)
{
    ofpbuf_put(ofpacts, cb->ofpacts.data, cb->ofpacts.size);
    free(cb_finish(cb));
}

bool
compile_fragment_probe(const struct model_service *svc, uint8_t proto,
                       uint32_t slot, uint32_t token, struct ofpbuf *ofpacts)
{
    struct cbuild cb;

    if (!is_dsr(svc)) {
        return false;
    }
    cb_init(&cb, NULL);
    a_set_u32(&cb, MFF_REG0, svc->id);
    a_set_u32(&cb, MFF_REG1, 0);
    /* An any-protocol service keys sessions on reg3 (compile_dsr.c). */
    a_set_u32(&cb, MFF_REG3, svc->proto || svc->persistence ? 0 : proto);
    a_set_u32(&cb, MFF_REG4, token | MSLB_PROBE_FLAG);
    if (svc->persistence) {
        a_resubmit(&cb, MSLB_T_DSR_AFFINITY);
        a_resubmit(&cb, MSLB_T_DSR_FORWARD);
    } else {
        /* The slot the datagram's 5-tuple has (computed by the
         * controller: the datapath hashes a fragment without its ports). */
        a_set_u32(&cb, MFF_REG5, slot);
        a_resubmit(&cb, MSLB_T_SLOTS);
    }
    take_actions(&cb, ofpacts);
    return true;
}

void
compile_fragment_actions(const struct model_service *svc,
                         const struct model_backend *be,
                         const struct model_bridge *br,
                         const struct compile_ports *ports,
                         struct ofpbuf *ofpacts)
{
    struct cbuild cb;

    cb_init(&cb, NULL);
    switch (svc->mode) {
    case MODEL_MODE_NAT:
        compile_nat_commit(&cb, br, be);
        break;
    case MODEL_MODE_LOCAL:
        a_set_mac(&cb, MFF_ETH_DST, &ports->local_mac);
        a_output(&cb, ofp_to_u16(OFPP_LOCAL));
        break;
    case MODEL_MODE_DR:
    case MODEL_MODE_TUN:
    case MODEL_MODE_L3DSR:
    case MODEL_MODE_MSLB:
    case MODEL_MODE_SLB:
        /* reg2 = 0: the tunnels check the fragment's size again. */
        a_set_u32(&cb, MFF_REG0, svc->id);
        a_set_u32(&cb, MFF_REG1, be->key);
        a_set_u32(&cb, MFF_REG2, 0);
        a_set_u32(&cb, MFF_REG4, 0);
        a_resubmit(&cb, MSLB_T_DSR_FORWARD);
        break;
    }
    take_actions(&cb, ofpacts);
}
