/* One OpenFlow session (see ofsession.h): output, ports, input and the
 * handshake, keepalive, and the session's life.  Listeners and active
 * targets, which create sessions, are in ofsession_conn.c. */
#include <config.h>
#include "ofsession-private.h"
#include "oftls.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "openvswitch/match.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/ofp-packet.h"
#include "openvswitch/ofp-protocol.h"
#include "openvswitch/ofp-port.h"
#include "openvswitch/ofp-print.h"
#include "openvswitch/ofp-switch.h"
#include "openvswitch/ofp-util.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "openflow/openflow.h"
#include "flow.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(ofsession);

#define ECHO_INTERVAL_MS 5000
#define DEAD_AFTER_MS 15000          /* Silence that ends a session... */
#define DEAD_AFTER_BUSY_MS 300000    /* ...or while a big bundle commits. */
#define WRITE_CHUNK (256 * 1024)

/* Versions offered: 1.3 to 1.5; the highest the switch shares wins. */
#define OFFERED_VERSIONS ((1u << OFP13_VERSION) | (1u << OFP14_VERSION) \
                          | (1u << OFP15_VERSION))

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

const char *
ofsession_state_name(enum ofsession_state state)
{
    switch (state) {
#define OFSESSION_STATE(NAME, TEXT) case OFSESSION_##NAME: return TEXT;
        OFSESSION_STATES
#undef OFSESSION_STATE
    }
    return "?";
}

enum ofsession_keepalive
ofsession_keepalive_check(uint64_t last_rx_ms, uint64_t now_ms, bool busy)
{
    uint64_t silent = now_ms > last_rx_ms ? now_ms - last_rx_ms : 0;
    return (silent > (busy ? DEAD_AFTER_BUSY_MS : DEAD_AFTER_MS)
            ? OFSESSION_DEAD : OFSESSION_PROBE);
}

/* ---- Output. ---- */

static void
on_write(uv_write_t *req, int status)
{
    free(req->data);
    free(req);
    (void) status;              /* Errors surface as a read error. */
}

static void
flush_tx(struct ofsession *s)
{
    uv_write_t *req;
    uv_buf_t buf;

    if (s->tls && s->state != OFSESSION_CLOSING) {
        /* The messages go through TLS; what reaches the wire is what it
         * has ready (handshake records included). */
        if (s->tx && s->tx->size) {
            oftls_output(s->tls, s->tx->data, s->tx->size);
            ofpbuf_clear(s->tx);
        }
        if (!s->tx) {
            s->tx = ofpbuf_new(0);
        }
        oftls_take_cipher(s->tls, s->tx);
    }
    if (!s->tx || !s->tx->size || s->state == OFSESSION_CLOSING) {
        return;
    }
    req = xmalloc(sizeof *req);
    buf = uv_buf_init(s->tx->data, s->tx->size);
    req->data = ofpbuf_steal_data(s->tx);   /* Freed in on_write(). */
    buf.base = req->data;
    ofpbuf_delete(s->tx);
    s->tx = NULL;
    if (uv_write(req, &s->h.stream, &buf, 1, on_write)) {
        free(req->data);
        free(req);
    }
}

static void
on_prepare(uv_prepare_t *prepare)
{
    struct ofsession *s = prepare->data;

    uv_prepare_stop(prepare);
    flush_tx(s);
}

void
ofsession_send_xid(struct ofsession *s, struct ofpbuf *msg)
{
    if (s->state == OFSESSION_CLOSING) {
        ofpbuf_delete(msg);
        return;
    }
    ofpmsg_update_length(msg);  /* Encoders leave it to the sender. */
    if (!s->tx) {
        s->tx = ofpbuf_new(WRITE_CHUNK + 4096);
    }
    ofpbuf_put(s->tx, msg->data, msg->size);
    ofpbuf_delete(msg);
    if (s->tx->size >= WRITE_CHUNK) {
        flush_tx(s);
    } else {
        uv_prepare_start(&s->flusher, on_prepare);
        /* libuv's backend timeout ignores prepare handles: without this,
         * mainloop's poll_block() sleeps with 'tx' unsent until some other
         * event (up to a timer's period) when the send came from an OVS
         * hook or from the last libuv callback of a turn. */
        poll_immediate_wake();
    }
}

uint32_t
ofsession_alloc_xid(struct ofsession *s)
{
    return s->next_xid++;
}

uint32_t
ofsession_send(struct ofsession *s, struct ofpbuf *msg)
{
    uint32_t xid = ofsession_alloc_xid(s);

    ((struct ofp_header *) msg->data)->xid = htonl(xid);
    ofsession_send_xid(s, msg);
    return xid;
}

void
ofsession_packet_out(struct ofsession *s, ofp_port_t in_port,
                     const void *pkt, size_t len,
                     const struct ofpact *ofpacts, size_t ofpacts_len)
{
    enum ofputil_protocol proto
        = ofputil_protocol_from_ofp_version(ofsession_version(s));
    struct ofputil_packet_out po;

    memset(&po, 0, sizeof po);
    po.packet = pkt;
    po.packet_len = len;
    po.buffer_id = UINT32_MAX;
    match_init_catchall(&po.flow_metadata);
    match_set_in_port(&po.flow_metadata, in_port);
    po.ofpacts = CONST_CAST(struct ofpact *, ofpacts);
    po.ofpacts_len = ofpacts_len;
    ofsession_send(s, ofputil_encode_packet_out(&po, proto));
}

/* ---- Ports. ---- */

static void
put_port(struct ofsession *s, const struct ofputil_phy_port *pp)
{
    struct ofsession_port *p = NULL;

    if (pp->port_no == OFPP_LOCAL) {
        free(s->name);
        s->name = xstrdup(pp->name);
    }
    for (size_t i = 0; i < s->n_ports; i++) {
        if (!strcmp(s->ports[i].name, pp->name)) {
            p = &s->ports[i];
        }
    }
    if (!p) {
        if (s->n_ports >= s->allocated_ports) {
            s->ports = x2nrealloc(s->ports, &s->allocated_ports,
                                  sizeof *s->ports);
        }
        p = &s->ports[s->n_ports++];
        ovs_strlcpy(p->name, pp->name, sizeof p->name);
    }
    p->no = ofp_to_u16(pp->port_no);
    p->mac = pp->hw_addr;
}

static void
remove_port(struct ofsession *s, const char *name)
{
    for (size_t i = 0; i < s->n_ports; i++) {
        if (!strcmp(s->ports[i].name, name)) {
            s->ports[i] = s->ports[--s->n_ports];
            return;
        }
    }
}

const struct ofsession_port *
ofsession_ports(const struct ofsession *s, size_t *n)
{
    *n = s->n_ports;
    return s->ports;
}

/* ---- Input. ---- */

static void
handle_hello(struct ofsession *s, const struct ofp_header *oh)
{
    uint32_t allowed;

    if (oh->type != 0) {        /* OFPT_HELLO in every version. */
        ofsession_close(s, "no HELLO from peer");
        return;
    }
    if (!ofputil_decode_hello(oh, &allowed)) {
        VLOG_WARN("%s: bad HELLO; assuming version 0x%02x", s->peer,
                  oh->version);
    }
    allowed &= OFFERED_VERSIONS;
    if (!allowed) {
        ofsession_close(s, "no common OpenFlow version (need 1.3 or later)");
        return;
    }
    s->version = leftmost_1bit_idx(allowed);
    ofsession_send(s, ofpraw_alloc(OFPRAW_OFPT_FEATURES_REQUEST, s->version,
                                   0));
    s->state = OFSESSION_FEATURES;
}

static void
handle_port_status(struct ofsession *s, const struct ofp_header *oh)
{
    struct ofputil_port_status ps;

    if (ofputil_decode_port_status(oh, &ps)) {
        return;
    }
    if (ps.reason == OFPPR_DELETE) {
        remove_port(s, ps.desc.name);
    } else {
        put_port(s, &ps.desc);
    }
    VLOG_INFO("bridge %s: port %s %s (%u)", s->name ? s->name : s->peer,
              ps.desc.name, ps.reason == OFPPR_DELETE ? "deleted"
              : ps.reason == OFPPR_ADD ? "added" : "modified",
              ofp_to_u16(ps.desc.port_no));
    if (ps.reason != OFPPR_MODIFY && s->state == OFSESSION_READY
        && s->cbs->ports_changed) {
        s->cbs->ports_changed(s->aux, s);
    }
}

static void
handle_msg(struct ofsession *s, const struct ofp_header *oh)
{
    enum ofptype type;
    struct ofpbuf b;

    if (s->state == OFSESSION_HELLO) {
        handle_hello(s, oh);
        return;
    }
    if (ofptype_decode(&type, oh)) {
        VLOG_DBG_RL(&rl, "%s: ignoring undecodable message type %d",
                    s->peer, oh->type);
        return;
    }
    b = ofpbuf_const_initializer(oh, ntohs(oh->length));

    switch (type) {
    case OFPTYPE_ECHO_REQUEST:
        ofsession_send_xid(s, ofputil_encode_echo_reply(oh));
        return;

    case OFPTYPE_ECHO_REPLY:
        return;

    case OFPTYPE_FEATURES_REPLY: {
        struct ofputil_switch_features sf;

        if (s->state == OFSESSION_FEATURES
            && !ofputil_pull_switch_features(&b, &sf)) {
            s->dpid = sf.datapath_id;
            s->n_ports = 0;
            /* Paused packet-ins (MSS clamping) carry their continuation
             * only in this format; every packet-in decodes the same. */
            ofsession_send(s, ofputil_encode_set_packet_in_format(
                               s->version, OFPUTIL_PACKET_IN_NXT2));
            s->ports_xid = ofsession_send(
                s, ofputil_encode_port_desc_stats_request(s->version,
                                                          OFPP_ANY));
            s->state = OFSESSION_PORTS;
        }
        return;
    }

    case OFPTYPE_PORT_DESC_STATS_REPLY: {
        struct ofputil_phy_port pp;

        if (s->state != OFSESSION_PORTS || ntohl(oh->xid) != s->ports_xid) {
            return;
        }
        ofpraw_pull_assert(&b);
        while (!ofputil_pull_phy_port(s->version, &b, &pp)) {
            put_port(s, &pp);
        }
        if (!ofpmp_more(oh)) {
            VLOG_INFO("bridge %s (dpid %016"PRIx64", %s): connected with "
                      "%s, %zu ports", s->name ? s->name : "?", s->dpid,
                      s->peer, ofputil_version_to_string(s->version),
                      s->n_ports);
            s->state = OFSESSION_READY;
            s->was_ready = true;
            if (s->cbs->ready) {
                s->cbs->ready(s->aux, s);
            }
        }
        return;
    }

    case OFPTYPE_PORT_STATUS:
        handle_port_status(s, oh);
        return;

    default:
        if (s->state == OFSESSION_READY && s->cbs->msg) {
            s->cbs->msg(s->aux, s, oh, type);
        } else if (type == OFPTYPE_ERROR) {
            char *text = ofp_to_string(oh, ntohs(oh->length), NULL, NULL, 1);
            VLOG_WARN_RL(&rl, "%s: error from switch: %s", s->peer, text);
            free(text);
        }
        return;
    }
}

#define TLS_RX_SIZE 65536

static void
on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    struct ofsession *s = handle->data;

    if (s->tls) {
        if (!s->crx) {
            s->crx = xmalloc(TLS_RX_SIZE);
        }
        *buf = uv_buf_init((char *) s->crx, TLS_RX_SIZE);
        return;
    }

    if (s->rx_size - s->rx_len < 65536) {
        s->rx_size = MAX(s->rx_size * 2, s->rx_len + 65536);
        s->rx = xrealloc(s->rx, s->rx_size);
    }
    *buf = uv_buf_init((char *) s->rx + s->rx_len, s->rx_size - s->rx_len);
    (void) suggested;
}

static void
on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct ofsession *s = stream->data;
    size_t ofs = 0;

    (void) buf;
    if (nread < 0) {
        ofsession_close(s, nread == UV_EOF ? "connection closed by peer"
                        : uv_strerror(nread));
        return;
    }
    if (s->tls) {
        /* The plaintext it completes goes where a plain read would. */
        struct ofpbuf plain;
        bool was_ready = oftls_is_ready(s->tls);
        char *error;

        ofpbuf_init(&plain, 0);
        error = oftls_input(s->tls, s->crx, nread, &plain);
        if (!was_ready && oftls_is_ready(s->tls)) {
            char *subject = oftls_peer_subject(s->tls);
            VLOG_INFO("%s: TLS with %s", s->peer, subject);
            free(subject);
        }
        flush_tx(s);                    /* Handshake records, answers. */
        if (error) {
            ofpbuf_uninit(&plain);
            ofsession_close(s, error);
            free(error);
            return;
        }
        if (s->rx_size - s->rx_len < plain.size) {
            s->rx_size = s->rx_len + plain.size + 65536;
            s->rx = xrealloc(s->rx, s->rx_size);
        }
        memcpy(s->rx + s->rx_len, plain.data, plain.size);
        nread = plain.size;
        ofpbuf_uninit(&plain);
    }
    s->rx_len += nread;
    s->last_rx_ms = uv_now(stream->loop);
    while (s->rx_len - ofs >= sizeof(struct ofp_header)
           && s->state != OFSESSION_CLOSING) {
        const struct ofp_header *oh = (void *) (s->rx + ofs);
        size_t len = ntohs(oh->length);

        if (len < sizeof *oh) {
            ofsession_close(s, "bad OpenFlow message length");
            return;
        }
        if (s->rx_len - ofs < len) {
            break;
        }
        handle_msg(s, oh);
        ofs += len;
    }
    if (s->state == OFSESSION_CLOSING) {
        return;
    }
    memmove(s->rx, s->rx + ofs, s->rx_len - ofs);
    s->rx_len -= ofs;
}

static void
on_echo_timer(uv_timer_t *timer)
{
    struct ofsession *s = timer->data;

    if (ofsession_keepalive_check(s->last_rx_ms, uv_now(timer->loop), s->busy)
        == OFSESSION_DEAD) {
        ofsession_close(s, "no answer to echo requests");
    } else if (s->state != OFSESSION_HELLO) {
        ofsession_send(s, ofputil_encode_echo_request(s->version));
    }
}

/* ---- Lifecycle. ---- */

struct ofsession *
ofsession_create(uv_loop_t *loop, const char *peer,
                   const struct ofsession_cbs *cbs, void *aux)
{
    struct ofsession *s = xzalloc(sizeof *s);

    s->cbs = cbs;
    s->aux = aux;
    s->peer = xstrdup(peer);
    s->next_xid = 1;
    s->state = OFSESSION_CONNECTING;
    s->h.handle.data = s;
    uv_timer_init(loop, &s->echo_timer);
    s->echo_timer.data = s;
    uv_prepare_init(loop, &s->flusher);
    s->flusher.data = s;
    s->open_handles = 2;        /* The stream is counted once inited. */
    return s;
}

static void
on_handle_closed(uv_handle_t *handle)
{
    struct ofsession *s = handle->data;

    if (--s->open_handles) {
        return;
    }
    if (s->tx) {
        ofpbuf_delete(s->tx);
    }
    free(s->rx);
    free(s->crx);
    oftls_destroy(s->tls);
    free(s->ports);
    free(s->name);
    free(s->peer);
    free(s);
}

void
ofsession_free(struct ofsession *s)
{
    s->state = OFSESSION_CLOSING;
    uv_close(&s->h.handle, on_handle_closed);
    uv_close((uv_handle_t *) &s->echo_timer, on_handle_closed);
    uv_close((uv_handle_t *) &s->flusher, on_handle_closed);
}

void
ofsession_close(struct ofsession *s, const char *why)
{
    if (s->state == OFSESSION_CLOSING) {
        return;
    }
    flush_tx(s);
    s->state = OFSESSION_CLOSING;
    VLOG_INFO("%s%s: disconnected: %s", s->name ? "bridge " : "",
              s->name ? s->name : s->peer, why);
    if (s->was_ready && s->cbs->disconnected) {
        s->cbs->disconnected(s->aux, s);
    }
    if (s->target) {
        ofsession_target_lost(s->target);
    }
    ofsession_free(s);
}

void
ofsession_start(struct ofsession *s)
{
    s->last_rx_ms = uv_now(s->echo_timer.loop);
    uv_timer_start(&s->echo_timer, on_echo_timer, ECHO_INTERVAL_MS,
                   ECHO_INTERVAL_MS);
    s->state = OFSESSION_HELLO;
    ofsession_send(s, ofputil_encode_hello(OFFERED_VERSIONS));
    uv_read_start(&s->h.stream, on_alloc, on_read);
}

void
ofsession_set_busy(struct ofsession *s, bool busy)
{
    s->busy = busy;
}

enum ofsession_state
ofsession_state(const struct ofsession *s)
{
    return s->state;
}

int
ofsession_version(const struct ofsession *s)
{
    return s->version;
}

uint64_t
ofsession_dpid(const struct ofsession *s)
{
    return s->dpid;
}

const char *
ofsession_name(const struct ofsession *s)
{
    return s->name;
}

const char *
ofsession_peer(const struct ofsession *s)
{
    return s->peer;
}

