/* How sessions come to be: listeners (ptcp:, punix:) accept switches,
 * active targets (tcp:, unix:) connect and reconnect with backoff.  The
 * session itself is ofsession.c's. */
#include <config.h>
#include "ofsession-private.h"
#include "oftls.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "openvswitch/vlog.h"
#include "util.h"

/* Logs as module "ofsession", which ofsession.c defines (one module per
 * name: a second VLOG_DEFINE_THIS_MODULE(ofsession) would not link). */
extern struct vlog_module *VLM_ofsession;
#define this_module (*VLM_ofsession)

#define RECONNECT_MIN_MS 500
#define RECONNECT_MAX_MS 8000

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

struct ofsession_listener {
    union ofsession_stream h;
    uv_loop_t *loop;
    const struct ofsession_cbs *cbs;
    void *aux;
    char *target;
    char *unix_path;
    bool tls;                   /* pssl: */
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

int
ofsession_backoff_next(int backoff_ms)
{
    return (backoff_ms <= 0 ? RECONNECT_MIN_MS
            : MIN(backoff_ms * 2, RECONNECT_MAX_MS));
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
    s = ofsession_create(l->loop, peer, l->cbs, l->aux);
    if (l->unix_path) {
        uv_pipe_init(l->loop, &s->h.pipe, 0);
    } else {
        uv_tcp_init(l->loop, &s->h.tcp);
        uv_tcp_nodelay(&s->h.tcp, 1);
    }
    s->h.handle.data = s;
    s->open_handles++;
    if (l->tls) {
        s->tls = oftls_create(true);
    }
    if (uv_accept(server, &s->h.stream)) {
        ofsession_free(s);
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
    ofsession_start(s);
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
    bool tls = !strncmp(target, "pssl:", 5);
    if (tls && !oftls_is_configured()) {
        return xasprintf("%s: needs --private-key, --certificate and "
                         "--ca-cert", target);
    }
    if (!strncmp(target, "ptcp:", 5) || tls) {
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
        return xasprintf("%s: listen target must be ptcp:PORT[:IP], "
                         "pssl:PORT[:IP] or punix:PATH", target);
    }

    l = xzalloc(sizeof *l);
    l->loop = loop;
    l->cbs = cbs;
    l->aux = aux;
    l->target = xstrdup(target);
    l->tls = tls;
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
        ofsession_free(s);
        ofsession_target_lost(t);
        return;
    }
    t->backoff_ms = 0;
    if (!strncmp(t->target, "ssl:", 4)) {
        s->tls = oftls_create(false);
    }
    ofsession_start(s);
}

static void
try_connect(uv_timer_t *timer)
{
    struct ofsession_target *t = timer->data;
    struct ofsession *s = ofsession_create(t->loop, t->target, t->cbs,
                                           t->aux);
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
        ofsession_free(s);
        ofsession_target_lost(t);
    }
}

void
ofsession_target_lost(struct ofsession_target *t)
{
    t->session = NULL;
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
    if (!strncmp(target, "ssl:", 4) && !oftls_is_configured()) {
        return xasprintf("%s: needs --private-key, --certificate and "
                         "--ca-cert", target);
    }
    if (!strncmp(target, "tcp:", 4) || !strncmp(target, "ssl:", 4)) {
        struct sockaddr_storage ss;
        char *msg = parse_tcp_target(target, &ss);
        if (msg) {
            char *full = xasprintf("%s: %s", target, msg);
            free(msg);
            return full;
        }
    } else if (strncmp(target, "unix:", 5)) {
        return xasprintf("%s: connect target must be tcp:IP:PORT, "
                         "ssl:IP:PORT or unix:PATH", target);
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
