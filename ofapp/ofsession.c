/* One OpenFlow session: see ofsession.h. */
#include <config.h>
#include "ofsession.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "openvswitch/ofp-msgs.h"
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
#define RECONNECT_MIN_MS 500
#define RECONNECT_MAX_MS 8000
#define WRITE_CHUNK (256 * 1024)

/* Versions offered: 1.3 to 1.5; the highest the switch shares wins. */
#define OFFERED_VERSIONS ((1u << OFP13_VERSION) | (1u << OFP14_VERSION) \
                          | (1u << OFP15_VERSION))

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

struct ofsession {
    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } h;
    uv_timer_t echo_timer;
    uv_prepare_t flusher;       /* Writes 'tx' before the loop blocks. */
    int open_handles;           /* Freed when the last one closed. */

    const struct ofsession_cbs *cbs;
    void *aux;
    struct ofsession_target *target;    /* NULL if accepted. */
    char *peer;

    enum ofsession_state state;
    bool was_ready;
    bool busy;
    int version;
    uint64_t dpid;
    char *name;                 /* The LOCAL port's name. */
    struct ofsession_port *ports;
    size_t n_ports, allocated_ports;
    uint32_t next_xid;
    uint32_t ports_xid;

    uint8_t *rx;
    size_t rx_len, rx_size;
    struct ofpbuf *tx;          /* Not yet handed to libuv. */
    uint64_t last_rx_ms;
};

struct ofsession_listener {
    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } h;
    uv_loop_t *loop;
    const struct ofsession_cbs *cbs;
    void *aux;
    char *target;
    char *unix_path;
    size_t n_accepted;
};

/* A target we connect to; outlives its sessions. */
struct ofsession_target {
    uv_loop_t *loop;
    uv_timer_t timer;
    const struct ofsession_cbs *cbs;
    void *aux;
    char *target;
    int backoff_ms;
    struct ofsession *session;
};

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

int
ofsession_backoff_next(int backoff_ms)
{
    return (backoff_ms <= 0 ? RECONNECT_MIN_MS
            : MIN(backoff_ms * 2, RECONNECT_MAX_MS));
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

static void
on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    struct ofsession *s = handle->data;

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

static struct ofsession *
session_create(uv_loop_t *loop, const char *peer,
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
    free(s->ports);
    free(s->name);
    free(s->peer);
    free(s);
}

static void schedule_reconnect(struct ofsession_target *);

/* Closes every handle of 's', whose stream was initialized. */
static void
session_free(struct ofsession *s)
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
        s->target->session = NULL;
        schedule_reconnect(s->target);
    }
    session_free(s);
}

static void
session_start(struct ofsession *s)
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

/* ---- Listening. ---- */

static void
on_connection(uv_stream_t *server, int status)
{
    struct ofsession_listener *l = server->data;
    struct ofsession *s;
    char peer[128];

    if (status < 0) {
        VLOG_WARN_RL(&rl, "%s: accept failed: %s", l->target,
                     uv_strerror(status));
        return;
    }
    snprintf(peer, sizeof peer, "%s#%zu", l->target, ++l->n_accepted);
    s = session_create(l->loop, peer, l->cbs, l->aux);
    if (l->unix_path) {
        uv_pipe_init(l->loop, &s->h.pipe, 0);
    } else {
        uv_tcp_init(l->loop, &s->h.tcp);
        uv_tcp_nodelay(&s->h.tcp, 1);
    }
    s->h.handle.data = s;
    s->open_handles++;
    if (uv_accept(server, &s->h.stream)) {
        session_free(s);
        return;
    }
    if (!l->unix_path) {
        struct sockaddr_storage ss;
        int len = sizeof ss;
        char ip[64] = "?";

        if (!uv_tcp_getpeername(&s->h.tcp, (struct sockaddr *) &ss, &len)) {
            if (ss.ss_family == AF_INET) {
                struct sockaddr_in *sin = (void *) &ss;
                uv_ip4_name(sin, ip, sizeof ip);
                snprintf(peer, sizeof peer, "tcp:%s:%d", ip,
                         ntohs(sin->sin_port));
            } else {
                struct sockaddr_in6 *sin6 = (void *) &ss;
                uv_ip6_name(sin6, ip, sizeof ip);
                snprintf(peer, sizeof peer, "tcp:[%s]:%d", ip,
                         ntohs(sin6->sin6_port));
            }
            free(s->peer);
            s->peer = xstrdup(peer);
        }
    }
    session_start(s);
}

/* Parses HOST and PORT into 'ss'.  Returns NULL or a malloc'd error. */
static char *
parse_sockaddr(const char *host, const char *port, struct sockaddr_storage *ss)
{
    char *end;
    long p = strtol(port, &end, 10);

    if (!port[0] || *end || p < 0 || p > 65535) {
        return xasprintf("\"%s\" is not a port number", port);
    }
    if (!uv_ip4_addr(host, p, (struct sockaddr_in *) ss)) {
        return NULL;
    }
    if (host[0] == '[') {
        char h[64];
        ovs_strlcpy(h, host + 1, sizeof h);
        h[strcspn(h, "]")] = '\0';
        if (!uv_ip6_addr(h, p, (struct sockaddr_in6 *) ss)) {
            return NULL;
        }
    } else if (!uv_ip6_addr(host, p, (struct sockaddr_in6 *) ss)) {
        return NULL;
    }
    return xasprintf("\"%s\" is not an IP address", host);
}

/* Parses "tcp:IP:PORT" into 'ss'.  Returns NULL or a malloc'd error. */
static char *
parse_tcp_target(const char *target, struct sockaddr_storage *ss)
{
    char *copy = xstrdup(target + 4);
    char *colon = strrchr(copy, ':');
    char *msg;

    if (!colon) {
        free(copy);
        return xstrdup("expected tcp:IP:PORT");
    }
    *colon = '\0';
    msg = parse_sockaddr(copy, colon + 1, ss);
    free(copy);
    return msg;
}

char *
ofsession_listen(uv_loop_t *loop, const char *target,
                 const struct ofsession_cbs *cbs, void *aux,
                 struct ofsession_listener **lp)
{
    struct ofsession_listener *l;
    struct sockaddr_storage ss;
    int error;

    *lp = NULL;
    if (!strncmp(target, "ptcp:", 5)) {
        char *copy = xstrdup(target + 5);
        char *colon = strchr(copy, ':');
        char *msg;

        if (colon) {
            *colon = '\0';
        }
        msg = parse_sockaddr(colon ? colon + 1 : "0.0.0.0", copy, &ss);
        free(copy);
        if (msg) {
            return msg;
        }
    } else if (strncmp(target, "punix:", 6)) {
        return xasprintf("%s: listen target must be ptcp:PORT[:IP] or "
                         "punix:PATH", target);
    }

    l = xzalloc(sizeof *l);
    l->loop = loop;
    l->cbs = cbs;
    l->aux = aux;
    l->target = xstrdup(target);
    if (!strncmp(target, "punix:", 6)) {
        l->unix_path = xstrdup(target + 6);
        unlink(l->unix_path);
        uv_pipe_init(loop, &l->h.pipe, 0);
        error = uv_pipe_bind(&l->h.pipe, l->unix_path);
    } else {
        uv_tcp_init(loop, &l->h.tcp);
        error = uv_tcp_bind(&l->h.tcp, (struct sockaddr *) &ss, 0);
    }
    l->h.handle.data = l;
    if (!error) {
        error = uv_listen(&l->h.stream, 64, on_connection);
    }
    if (error) {
        char *msg = xasprintf("%s: %s", target, uv_strerror(error));
        free(l->unix_path);
        l->unix_path = NULL;
        ofsession_listener_close(l);
        return msg;
    }
    VLOG_INFO("listening for OpenFlow connections on %s", target);
    *lp = l;
    return NULL;
}

static void
on_listener_closed(uv_handle_t *handle)
{
    struct ofsession_listener *l = handle->data;

    free(l->target);
    free(l->unix_path);
    free(l);
}

void
ofsession_listener_close(struct ofsession_listener *l)
{
    if (l) {
        if (l->unix_path) {
            unlink(l->unix_path);
        }
        uv_close(&l->h.handle, on_listener_closed);
    }
}

/* ---- Connecting. ---- */

static void
on_connect(uv_connect_t *req, int status)
{
    struct ofsession *s = req->data;
    struct ofsession_target *t = s->target;

    free(req);
    if (status < 0) {
        VLOG_DBG("%s: connect failed: %s", t->target, uv_strerror(status));
        t->session = NULL;
        session_free(s);
        schedule_reconnect(t);
        return;
    }
    t->backoff_ms = 0;
    session_start(s);
}

static void
try_connect(uv_timer_t *timer)
{
    struct ofsession_target *t = timer->data;
    struct ofsession *s = session_create(t->loop, t->target, t->cbs, t->aux);
    uv_connect_t *req = xmalloc(sizeof *req);
    struct sockaddr_storage ss;
    char *msg = NULL;
    int error;

    s->target = t;
    t->session = s;
    req->data = s;
    s->open_handles++;
    if (!strncmp(t->target, "unix:", 5)) {
        uv_pipe_init(t->loop, &s->h.pipe, 0);
        s->h.handle.data = s;
        uv_pipe_connect(req, &s->h.pipe, t->target + 5, on_connect);
        return;
    }
    msg = parse_tcp_target(t->target, &ss);
    uv_tcp_init(t->loop, &s->h.tcp);
    s->h.handle.data = s;
    error = msg ? UV_EINVAL
            : uv_tcp_connect(req, &s->h.tcp, (struct sockaddr *) &ss,
                             on_connect);
    if (error) {
        VLOG_ERR_RL(&rl, "%s: %s", t->target, msg ? msg : uv_strerror(error));
        free(msg);
        free(req);
        t->session = NULL;
        session_free(s);
        schedule_reconnect(t);
    }
}

static void
schedule_reconnect(struct ofsession_target *t)
{
    t->backoff_ms = ofsession_backoff_next(t->backoff_ms);
    uv_timer_start(&t->timer, try_connect, t->backoff_ms, 0);
}

char *
ofsession_connect(uv_loop_t *loop, const char *target,
                  const struct ofsession_cbs *cbs, void *aux,
                  struct ofsession_target **tp)
{
    struct ofsession_target *t;

    *tp = NULL;
    if (!strncmp(target, "tcp:", 4)) {
        struct sockaddr_storage ss;
        char *msg = parse_tcp_target(target, &ss);
        if (msg) {
            char *full = xasprintf("%s: %s", target, msg);
            free(msg);
            return full;
        }
    } else if (strncmp(target, "unix:", 5)) {
        return xasprintf("%s: connect target must be tcp:IP:PORT or "
                         "unix:PATH", target);
    }
    t = xzalloc(sizeof *t);
    t->loop = loop;
    t->cbs = cbs;
    t->aux = aux;
    t->target = xstrdup(target);
    uv_timer_init(loop, &t->timer);
    t->timer.data = t;
    uv_timer_start(&t->timer, try_connect, 0, 0);
    *tp = t;
    return NULL;
}
