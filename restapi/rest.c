/* The REST API; see rest.h and docs/api.md.
 *
 * libmicrohttpd runs without threads of its own: its epoll descriptor is
 * watched by mslbd's libuv loop, so request handlers, the model and the
 * OpenFlow connections are only ever touched by the loop thread.  A write
 * is validated against the JSON Schemas, then whole against the model;
 * only then does the model change.  The answer waits (suspended) until
 * the connected bridges have confirmed the new generation, or ?wait=
 * seconds have passed. */
#include <config.h>
#include "rest.h"

#include <jansson.h>

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

#include "rest-private.h"
#include "rest_gate.h"
#include "bridges.h"
#include "openvswitch/vlog.h"
#include "mslb/compile.h"
#include "mslb/pipeline.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/vlog.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(rest);

/* Connection limits: one client address cannot take all the room. */
#define PER_IP_LIMIT 32
#define CONN_LIMIT 512
#define HEAD_TIMEOUT_MS 10000   /* Whole request head, from connecting. */
#define IDLE_TIMEOUT_S 30       /* Silence while a body is uploaded. */

uint64_t
mono_ms(void)
{
    return uv_hrtime() / 1000000;
}

/* ---- Answers. ---- */

void
set_response(struct request *r, int status, char *body, const char *type)
{
    free(r->resp);
    r->status = status;
    r->resp = body;
    r->content_type = type;
}

void
respond_json(struct request *r, int status, json_t *j)
{
    /* 15 digits: a number like a monitor's 0.1 s reads "0.1", not
     * "0.10000000000000001" (jansson's default is 17). */
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER
                            | JSON_REAL_PRECISION(15));
    json_decref(j);
    set_response(r, status, xasprintf("%s\n", s), "application/json");
    free(s);
}

void
respond_error(struct request *r, int status, const char *code,
              const char *message, const char *path)
{
    respond_json(r, status, json_pack("{s:{s:s, s:s, s:s?}}", "error",
                                      "code", code, "message", message,
                                      "path", path));
}

/* A "path: reason" message from the validators, as an error body.  The
 * path is made relative to the request body by removing 'prefix'. */
void
respond_invalid(struct request *r, int status, const char *code,
                const char *msg, const char *path, const char *prefix)
{
    const char *p = path;
    char *owned = NULL;

    if (!p) {
        const char *colon = strstr(msg, ": ");
        if (colon) {
            owned = xmemdup0(msg, colon - msg);
            p = owned;
        }
    }
    if (p && prefix && !strncmp(p, prefix, strlen(prefix))) {
        p += strlen(prefix);
        if (*p == '.') {
            p++;
        }
    }
    if (p && (!*p || !strcmp(p, "(top level)"))) {
        p = NULL;
    }
    respond_error(r, status, code, msg, p);
    free(owned);
}

static enum MHD_Result
send_response(struct request *r)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        strlen(r->resp), r->resp, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret;

    MHD_add_response_header(resp, "Content-Type", r->content_type);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    /* One request per connection: every head passes rest_gate. */
    MHD_add_response_header(resp, "Connection", "close");
    if (r->allow) {
        MHD_add_response_header(resp, "Allow", r->allow);
    }
    if (r->status == MHD_HTTP_UNAUTHORIZED) {
        MHD_add_response_header(resp, "WWW-Authenticate",
                                "Bearer realm=\"mslb\"");
    }
    ret = MHD_queue_response(r->conn, r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void on_timer(uv_timer_t *);

/* Lets libmicrohttpd run again soon (after a resume). */
void
kick(struct rest_server *srv)
{
    uv_timer_start(&srv->timer, on_timer, 0, 0);
}

void
resume(struct request *r)
{
    if (r->suspended) {
        r->suspended = false;
        MHD_resume_connection(r->conn);
        kick(r->srv);
    }
}

/* Parses ?wait=SECONDS: 1 to 3 digits (the query is not decoded), at
 * most MAX_WAIT_S; -1 if bad.  check_query() saw it is given once. */
int
wait_seconds(struct request *r)
{
    const char *s = MHD_lookup_connection_value(r->conn,
                                                MHD_GET_ARGUMENT_KIND,
                                                "wait");
    int v = 0;

    if (!MHD_lookup_connection_value_n(r->conn, MHD_GET_ARGUMENT_KIND,
                                       "wait", 4, NULL, NULL)) {
        return DEFAULT_WAIT_S;
    }
    if (!s || !*s || strlen(s) > 3) {
        return -1;
    }
    for (; *s; s++) {
        if (*s < '0' || *s > '9') {
            return -1;
        }
        v = v * 10 + (*s - '0');
    }
    return v <= MAX_WAIT_S ? v : -1;
}

/* ---- Routing. ---- */

static bool
method_is(const char *method, const char *m)
{
    return !strcmp(method, m);
}

static void
method_not_allowed(struct request *r, const char *allow)
{
    r->allow = allow;
    respond_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
                  "method not allowed on this resource", NULL);
}

/* A raw (undecoded) path segment that can be a name: anything else, a
 * percent-encoding included, names no resource. */
static bool
segment_ok(const char *s)
{
    if (!*s || strlen(s) > 63 || !strcmp(s, ".") || !strcmp(s, "..")) {
        return false;
    }
    for (; *s; s++) {
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')
              || (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'
              || *s == '.')) {
            return false;
        }
    }
    return true;
}

struct query_check {
    int n_wait;
    char *error;                /* First unknown parameter, as an error. */
    char *path;
};

static enum MHD_Result
query_arg(void *aux, enum MHD_ValueKind kind, const char *key,
          const char *value)
{
    struct query_check *q = aux;

    (void) kind;
    (void) value;
    if (!strcmp(key, "wait")) {
        q->n_wait++;
    } else if (!q->error) {
        q->error = xasprintf("%s: unknown query parameter (only wait)", key);
        q->path = xstrdup(key);
    }
    return MHD_YES;
}

/* The query may only hold one valid 'wait'; answers 422 if not. */
static bool
query_ok(struct request *r)
{
    struct query_check q = { 0, NULL, NULL };

    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, query_arg, &q);
    if (q.error) {
        respond_error(r, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid", q.error,
                      q.path);
    } else if (q.n_wait > 1) {
        respond_error(r, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid",
                      "wait: given more than once", "wait");
    } else if (wait_seconds(r) < 0) {
        respond_error(r, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid",
                      "wait: must be an integer from 0 to 300", "wait");
    }
    free(q.error);
    free(q.path);
    return !r->resp;
}

/* Splits the raw path at each '/' into at most 5 names. */
static bool
split_path(char *path, char *seg[5], size_t *n)
{
    *n = 0;
    if (*path != '/') {
        return false;
    }
    for (char *p = path + 1; ; ) {
        char *slash = strchr(p, '/');
        if (*n == 5) {
            return false;
        }
        seg[(*n)++] = p;
        if (!slash) {
            break;
        }
        *slash = '\0';
        p = slash + 1;
    }
    for (size_t i = 0; i < *n; i++) {
        if (!segment_ok(seg[i])) {
            return false;
        }
    }
    return true;
}

static void
route(struct request *r, const char *url, const char *method)
{
    char *copy = xstrdup(url), *seg[5];
    size_t n = 0;
    bool write = method_is(method, "POST") || method_is(method, "PUT")
                 || method_is(method, "PATCH");

    /* 'url' is raw: mslbd decodes nothing (see rest_server_start()). */
    if (!split_path(copy, seg, &n)) {
        goto not_found;
    }
    if (!query_ok(r)) {
        goto out;
    }
    if (write && !rest_gate_is_json_type(MHD_lookup_connection_value(
                                             r->conn, MHD_HEADER_KIND,
                                             "Content-Type"))) {
        respond_error(r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
                      "unsupported_media_type",
                      "request bodies must be application/json", NULL);
        goto out;
    }

    if (n == 1 && !strcmp(seg[0], "metrics")) {
        if (!method_is(method, "GET")) {
            method_not_allowed(r, "GET");
        } else {
            rest_get_stats(r, true);
        }
    } else if (n < 2 || strcmp(seg[0], "v1")) {
        goto not_found;
    } else if (n == 2 && !strcmp(seg[1], "health")) {
        if (!method_is(method, "GET")) {
            method_not_allowed(r, "GET");
        } else {
            rest_get_health(r);
        }
    } else if (n == 2 && !strcmp(seg[1], "bgp")) {
        if (!method_is(method, "GET")) {
            method_not_allowed(r, "GET");
        } else {
            rest_get_bgp(r);
        }
    } else if (n == 2 && !strcmp(seg[1], "snat")) {
        if (!method_is(method, "GET")) {
            method_not_allowed(r, "GET");
        } else {
            rest_get_snat(r);
        }
    } else if (n == 2 && !strcmp(seg[1], "stats")) {
        if (!method_is(method, "GET")) {
            method_not_allowed(r, "GET");
        } else {
            rest_get_stats(r, false);
        }
    } else if (n == 2 && !strcmp(seg[1], "services")) {
        if (method_is(method, "GET")) {
            rest_get_services(r);
        } else if (method_is(method, "POST")) {
            rest_put_service(r, NULL, true);
        } else {
            method_not_allowed(r, "GET, POST");
        }
    } else if (n == 3 && !strcmp(seg[1], "services")) {
        if (method_is(method, "GET")) {
            rest_get_service(r, seg[2]);
        } else if (method_is(method, "PUT")) {
            rest_put_service(r, seg[2], false);
        } else if (method_is(method, "DELETE")) {
            rest_delete_service(r, seg[2]);
        } else {
            method_not_allowed(r, "GET, PUT, DELETE");
        }
    } else if (n == 4 && !strcmp(seg[1], "services")
               && !strcmp(seg[3], "backends")) {
        if (method_is(method, "POST")) {
            rest_post_backend(r, seg[2]);
        } else if (method_is(method, "GET")) {
            rest_get_backends(r, seg[2]);
        } else {
            method_not_allowed(r, "GET, POST");
        }
    } else if (n == 5 && !strcmp(seg[1], "services")
               && !strcmp(seg[3], "backends")) {
        if (method_is(method, "GET")) {
            rest_get_backend(r, seg[2], seg[4]);
        } else if (method_is(method, "PATCH")) {
            rest_change_backend(r, seg[2], seg[4], false);
        } else if (method_is(method, "DELETE")) {
            rest_change_backend(r, seg[2], seg[4], true);
        } else {
            method_not_allowed(r, "GET, PATCH, DELETE");
        }
    } else if (n == 2 && !strcmp(seg[1], "bridges")) {
        if (method_is(method, "GET")) {
            respond_json(r, MHD_HTTP_OK, json_pack("{s:o}", "bridges",
                                                   rest_all_bridges(r->srv)));
        } else {
            method_not_allowed(r, "GET");
        }
    } else if (n == 3 && !strcmp(seg[1], "bridges")) {
        if (method_is(method, "GET")) {
            rest_get_bridge(r, seg[2]);
        } else if (method_is(method, "PUT")) {
            rest_put_bridge(r, seg[2]);
        } else if (method_is(method, "DELETE")) {
            rest_delete_bridge(r, seg[2]);
        } else {
            method_not_allowed(r, "GET, PUT, DELETE");
        }
    } else {
        goto not_found;
    }
    goto out;

not_found:
    respond_error(r, MHD_HTTP_NOT_FOUND, "not_found", "no such resource",
                  NULL);
out:
    free(copy);
}

static bool
authorized(struct request *r)
{
    const char *h;

    if (!r->srv->token) {
        return true;
    }
    h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                    "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7)) {
        return false;
    }
    h += 7;
    /* Constant-time comparison. */
    size_t n = strlen(r->srv->token), m = strlen(h);
    unsigned char diff = n != m;
    for (size_t i = 0; i < n; i++) {
        diff |= (unsigned char) r->srv->token[i] ^ (unsigned char) h[i % (m ? m : 1)];
    }
    return !diff;
}

/* rest_gate checks this for plain HTTP; under TLS it cannot. */
static bool
refuse_body(struct request *r)
{
    const char *cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                                 "Content-Length");

    if (MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                    "Transfer-Encoding")) {
        respond_error(r, MHD_HTTP_LENGTH_REQUIRED, "length_required",
                      "request bodies must have a Content-Length (no "
                      "Transfer-Encoding)", NULL);
    } else if (cl && (strlen(cl) > 18 || strtoull(cl, NULL, 10)
                      > r->srv->max_body)) {
        char *msg = xasprintf("request body larger than %zu bytes",
                              r->srv->max_body);
        respond_error(r, MHD_HTTP_CONTENT_TOO_LARGE, "payload_too_large",
                      msg, NULL);
        free(msg);
    }
    return r->resp != NULL;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url,
           const char *method, const char *version, const char *upload,
           size_t *upload_size, void **con_cls)
{
    struct rest_server *srv = cls;
    struct request *r = *con_cls;

    (void) version;
    if (!r) {
        r = xzalloc(sizeof *r);
        r->srv = srv;
        r->conn = conn;
        *con_cls = r;
        /* Refused before any of the body is read. */
        if (refuse_body(r)) {
            return send_response(r);
        }
        return MHD_YES;
    }
    if (*upload_size) {
        if (r->len + *upload_size > srv->max_body) {
            r->too_big = true;
        } else {
            if (r->len + *upload_size + 1 > r->size) {
                r->size = MAX(2 * r->size, r->len + *upload_size + 1);
                r->body = xrealloc(r->body, r->size);
            }
            memcpy(r->body + r->len, upload, *upload_size);
            r->len += *upload_size;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->resp) {
        return send_response(r);
    }
    if (r->suspended) {
        return MHD_YES;
    }
    if (!authorized(r)) {
        respond_error(r, MHD_HTTP_UNAUTHORIZED, "unauthorized",
                      "missing or wrong bearer token", NULL);
    } else if (r->too_big) {
        char *msg = xasprintf("request body larger than %zu bytes",
                              srv->max_body);
        respond_error(r, MHD_HTTP_CONTENT_TOO_LARGE, "payload_too_large",
                      msg, NULL);
        free(msg);
    } else {
        route(r, url, method);
    }
    if (r->resp && !r->suspended) {
        return send_response(r);
    }
    return MHD_YES;
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
    struct request *r = *con_cls;

    (void) cls;
    (void) conn;
    (void) toe;
    if (!r) {
        return;
    }
    rest_request_gone(r);
    *con_cls = NULL;
    if (r->stats_pending) {
        /* The switches still answer to it (the server is stopping with a
         * statistics read under way): the last answer frees it. */
        r->orphaned = true;
        r->conn = NULL;
        return;
    }
    rest_request_free(r);
}

void
rest_request_free(struct request *r)
{
    json_decref(r->result);
    json_decref(r->stats);
    free(r->body);
    free(r->resp);
    free(r);
}

/* ---- Connections. ---- */

/* The path and query as sent: a name is never decoded into another. */
static size_t
keep_escaped(void *cls, struct MHD_Connection *conn, char *s)
{
    (void) cls;
    (void) conn;
    return strlen(s);
}

/* rest_gate counts a connection against its limits until it closes. */
static void
on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
              enum MHD_ConnectionNotificationCode toe)
{
    struct rest_server *srv = cls;

    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *info = MHD_get_connection_info(
            conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        struct sockaddr_storage *ss = xzalloc(sizeof *ss);

        memcpy(ss, info->client_addr, info->client_addr->sa_family == AF_INET6
               ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
        rest_gate_hold(srv->gate, (struct sockaddr *) ss);
        *socket_context = ss;
    } else if (*socket_context) {
        rest_gate_release(srv->gate, *socket_context);
        free(*socket_context);
        *socket_context = NULL;
    }
}

static void
handoff(void *aux, int fd, const struct sockaddr *addr, socklen_t addrlen)
{
    struct rest_server *srv = aux;

    /* On failure libmicrohttpd closes 'fd' itself. */
    MHD_add_connection(srv->mhd, fd, addr, addrlen);
    kick(srv);
}

/* ---- The loop. ---- */

static void
run_mhd(struct rest_server *srv)
{
    MHD_UNSIGNED_LONG_LONG timeout;

    MHD_run(srv->mhd);
    rest_server_poll_waiters(srv);
    if (MHD_get_timeout(srv->mhd, &timeout) == MHD_YES) {
        uv_timer_start(&srv->timer, on_timer, MIN(timeout, 1000), 0);
    } else {
        /* Also the clock for writes waiting past their deadline. */
        uv_timer_start(&srv->timer, on_timer, 250, 0);
    }
}

static void
on_poll(uv_poll_t *handle, int status, int events)
{
    (void) status;
    (void) events;
    run_mhd(handle->data);
}

static void
on_timer(uv_timer_t *timer)
{
    run_mhd(timer->data);
}

static char *
read_file(const char *name, char **datap)
{
    FILE *f = fopen(name, "r");
    struct ds s = DS_EMPTY_INITIALIZER;
    char buf[4096];
    size_t n;

    *datap = NULL;
    if (!f) {
        return xasprintf("%s: %s", name, strerror(errno));
    }
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        ds_put_buffer(&s, buf, n);
    }
    fclose(f);
    *datap = ds_steal_cstr(&s);
    return NULL;
}

static char *
parse_listen(const char *s, struct sockaddr_storage *ss, bool *v6)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    char *end;
    long port;

    if (!colon || colon - s >= (long) sizeof host) {
        return xasprintf("%s: expected IP:PORT", s);
    }
    memcpy(host, s, colon - s);
    host[colon - s] = '\0';
    port = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || port < 1 || port > 65535) {
        return xasprintf("%s: bad port", s);
    }
    memset(ss, 0, sizeof *ss);
    *v6 = false;
    if (host[0] == '[') {
        size_t len = strlen(host);
        if (len < 3 || host[len - 1] != ']') {
            return xasprintf("%s: bad IPv6 address", s);
        }
        host[len - 1] = '\0';
        memmove(host, host + 1, len - 1);
        if (uv_ip6_addr(host, port, (struct sockaddr_in6 *) ss)) {
            return xasprintf("%s: bad IPv6 address", s);
        }
        *v6 = true;
    } else if (uv_ip4_addr(host, port, (struct sockaddr_in *) ss)) {
        return xasprintf("%s: bad IPv4 address", s);
    }
    return NULL;
}

char *
rest_server_start(const struct rest_env *d, const struct rest_options *o,
                  struct rest_server **srvp)
{
    struct rest_server *srv = xzalloc(sizeof *srv);
    unsigned int flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME
                         | MHD_USE_ERROR_LOG | MHD_USE_NO_LISTEN_SOCKET;
    struct sockaddr_storage ss;
    const union MHD_DaemonInfo *info;
    bool v6;
    char *error;

    *srvp = NULL;
    srv->d = d;
    srv->max_body = o->max_body;
    srv->token = o->token ? xstrdup(o->token) : NULL;
    if ((error = parse_listen(o->listen, &ss, &v6))) {
        goto fail;
    }
    if (v6) {
        flags |= MHD_USE_IPv6;
    }
    struct rest_gate_options go = {
        .max_body = o->max_body,
        .per_ip_limit = PER_IP_LIMIT,
        .limit = CONN_LIMIT,
        .head_timeout_ms = HEAD_TIMEOUT_MS,
        .inspect = !o->cert_file,
    };
    if (o->cert_file || o->key_file) {
        if (!o->cert_file || !o->key_file) {
            error = xstrdup("HTTPS needs both a certificate and a key");
            goto fail;
        }
        if ((error = read_file(o->cert_file, &srv->cert))
            || (error = read_file(o->key_file, &srv->key))) {
            goto fail;
        }
        flags |= MHD_USE_TLS;
    }
    /* rest_gate listens and enforces the limits first; these are
     * backstops a little above its own. */
    srv->mhd = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, srv,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
        MHD_OPTION_UNESCAPE_CALLBACK, keep_escaped, NULL,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) IDLE_TIMEOUT_S,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int) CONN_LIMIT + 16,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int) PER_IP_LIMIT + 8,
        srv->cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, srv->cert,
        MHD_OPTION_HTTPS_MEM_KEY, srv->key,
        MHD_OPTION_END);
    if (srv->mhd
        && (error = rest_gate_create(d->loop, (struct sockaddr *) &ss,
                                     v6 ? sizeof(struct sockaddr_in6)
                                     : sizeof(struct sockaddr_in),
                                     &go, handoff, srv, &srv->gate))) {
        char *e = xasprintf("REST API on %s: %s", o->listen, error);
        free(error);
        error = e;
        MHD_stop_daemon(srv->mhd);
        goto fail;
    }
    if (!srv->mhd) {
        error = xasprintf("cannot serve HTTP%s on %s (address in use, or a "
                          "bad certificate or key?)", srv->cert ? "S" : "",
                          o->listen);
        goto fail;
    }
    info = MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    uv_poll_init(d->loop, &srv->poll, info->epoll_fd);
    srv->poll.data = srv;
    uv_poll_start(&srv->poll, UV_READABLE, on_poll);
    uv_timer_init(d->loop, &srv->timer);
    srv->timer.data = srv;
    run_mhd(srv);
    VLOG_INFO("REST API on %s://%s%s", srv->cert ? "https" : "http",
             o->listen, srv->token ? " (bearer token required)" : "");
    *srvp = srv;
    return NULL;

fail:
    free(srv->token);
    free(srv->cert);
    free(srv->key);
    free(srv);
    return error;
}

void
rest_server_stop(struct rest_server *srv)
{
    if (!srv) {
        return;
    }
    rest_gate_destroy(srv->gate);
    rest_stats_free(srv);
    uv_poll_stop(&srv->poll);
    uv_timer_stop(&srv->timer);
    MHD_stop_daemon(srv->mhd);
}
