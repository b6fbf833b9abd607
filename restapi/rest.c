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

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

#include "jschema.h"
#include "bridges.h"
#include "mslb/compile.h"
#include "mslb/pipeline.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/vlog.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(rest);

#define DEFAULT_WAIT_S 5
#define MAX_WAIT_S 300

struct request;

struct rest_server {
    const struct rest_env *d;
    struct MHD_Daemon *mhd;
    uv_poll_t poll;
    uv_timer_t timer;
    struct jschema *schemas;
    char *token;
    size_t max_body;
    char *cert, *key;
    struct request *waiting;    /* Writes waiting for bridges. */
};

struct request {
    struct rest_server *srv;
    struct MHD_Connection *conn;
    char *body;
    size_t len, size;
    bool too_big;
    bool suspended;
    bool waiting;               /* In srv->waiting. */
    struct request *next;

    /* The answer, once known. */
    int status;
    char *resp;
    const char *content_type;
    const char *allow;

    /* A write waiting for its generation. */
    uint64_t gen;
    uint64_t deadline_ms;
    json_t *result;

    /* A statistics read waiting for the switches. */
    int stats_pending;
    json_t *stats;              /* Array of per-bridge replies. */
    bool metrics;
};

static uint64_t
mono_ms(void)
{
    return uv_hrtime() / 1000000;
}

/* ---- Answers. ---- */

static void
set_response(struct request *r, int status, char *body, const char *type)
{
    free(r->resp);
    r->status = status;
    r->resp = body;
    r->content_type = type;
}

static void
respond_json(struct request *r, int status, json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(j);
    set_response(r, status, xasprintf("%s\n", s), "application/json");
    free(s);
}

static void
respond_error(struct request *r, int status, const char *code,
              const char *message, const char *path)
{
    respond_json(r, status, json_pack("{s:{s:s, s:s, s:s?}}", "error",
                                      "code", code, "message", message,
                                      "path", path));
}

/* A "path: reason" message from the validators, as an error body.  The
 * path is made relative to the request body by removing 'prefix'. */
static void
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
static void
kick(struct rest_server *srv)
{
    uv_timer_start(&srv->timer, on_timer, 0, 0);
}

static void
resume(struct request *r)
{
    if (r->suspended) {
        r->suspended = false;
        MHD_resume_connection(r->conn);
        kick(r->srv);
    }
}

/* ---- The model as a document. ---- */

static json_t *
current_doc(struct rest_server *srv)
{
    return model_to_json(srv->d->model);
}

/* Index of the service or bridge named 'name' in array 'a', or -1. */
static int
find_named(const json_t *a, const char *name)
{
    size_t i;
    json_t *v;

    json_array_foreach (a, i, v) {
        const char *n = json_string_value(json_object_get(v, "name"));
        if (n && !strcmp(n, name)) {
            return i;
        }
    }
    return -1;
}

static void
add_waiter(struct request *r)
{
    struct rest_server *srv = r->srv;

    r->next = srv->waiting;
    srv->waiting = r;
    r->waiting = true;
}

static void
remove_waiter(struct request *r)
{
    struct request **p;

    for (p = &r->srv->waiting; *p; p = &(*p)->next) {
        if (*p == r) {
            *p = r->next;
            break;
        }
    }
    r->waiting = false;
}

/* Whether every connected bridge of the model has installed 'gen'. */
static bool
installed(struct rest_server *srv, uint64_t gen, bool *any)
{
    const struct rest_env *d = srv->d;
    bool all = true;

    *any = false;
    for (size_t i = 0; i < bridges_count(d->bridges); i++) {
        const struct bridge *c = bridges_at(d->bridges, i);
        const char *name = bridge_name(c);

        if (!bridge_is_connected(c) || !model_find_bridge(d->model, name)) {
            continue;
        }
        *any = true;
        if (bridge_installed_generation(c) < gen) {
            all = false;
        }
    }
    return all;
}

static void
finish_write(struct request *r, bool done)
{
    json_object_set_new(r->result, "installed", json_boolean(done));
    respond_json(r, r->status, r->result);
    r->result = NULL;
    if (r->waiting) {
        remove_waiter(r);
    }
    resume(r);
}

void
rest_server_poll_waiters(struct rest_server *srv)
{
    struct request *r, *next;
    uint64_t now = mono_ms();

    if (!srv) {
        return;
    }
    for (r = srv->waiting; r; r = next) {
        bool any;
        bool done = installed(srv, r->gen, &any);

        next = r->next;
        if ((done && any) || now >= r->deadline_ms) {
            finish_write(r, done && any);
        }
    }
}

/* Parses ?wait=SECONDS. */
static int
wait_seconds(struct request *r)
{
    const char *s = MHD_lookup_connection_value(r->conn,
                                                MHD_GET_ARGUMENT_KIND,
                                                "wait");
    char *end;
    long v;

    if (!s) {
        return DEFAULT_WAIT_S;
    }
    v = strtol(s, &end, 10);
    if (!*s || *end || v < 0 || v > MAX_WAIT_S) {
        return -1;
    }
    return v;
}

/* Validates 'doc' whole as the next model and, if good, makes it current
 * and answers 'status' with 'result' once the bridges have it.  'prefix' is
 * the path of the request body inside 'doc' (for error paths).  Takes
 * ownership of 'doc' and 'result'. */
enum result_kind { RESULT_NONE, RESULT_SERVICE, RESULT_BACKEND,
                   RESULT_BRIDGE };

/* The object a write answers with, as now stored (defaults filled in). */
static json_t *
render_result(const struct model *m, enum result_kind kind,
              const char *name, const char *sub)
{
    json_t *result = json_object();
    const struct model_service *svc;

    switch (kind) {
    case RESULT_SERVICE:
        if ((svc = model_find_service(m, name))) {
            json_object_set_new(result, "service",
                                model_service_to_json(svc));
        }
        break;
    case RESULT_BACKEND:
        if ((svc = model_find_service(m, name))) {
            for (size_t i = 0; i < svc->n_backends; i++) {
                if (!strcmp(svc->backends[i].name, sub)) {
                    json_object_set_new(result, "backend",
                                        model_backend_to_json(
                                            &svc->backends[i]));
                }
            }
        }
        break;
    case RESULT_BRIDGE: {
        const struct model_bridge *br = model_find_bridge(m, name);
        if (br) {
            json_object_set_new(result, "bridge", model_bridge_to_json(br));
        }
        break;
    }
    case RESULT_NONE:
        break;
    }
    return result;
}

static void
commit(struct request *r, json_t *doc, int status, const char *prefix,
       bool deleting_bridge, enum result_kind kind, const char *name,
       const char *sub)
{
    json_t *result;
    struct rest_server *srv = r->srv;
    struct model *m;
    char *error = model_from_json(doc, &m);
    int wait = wait_seconds(r);
    int err;

    json_decref(doc);
    if (wait < 0) {
        free(error);
        if (m) {
            model_destroy(m);
        }
        respond_error(r, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid",
                      "wait: must be an integer from 0 to 300", "wait");
        return;
    }
    if (error) {
        bool conflict = strstr(error, "duplicate") || deleting_bridge;
        respond_invalid(r, conflict ? MHD_HTTP_CONFLICT
                        : MHD_HTTP_UNPROCESSABLE_CONTENT,
                        conflict ? "conflict" : "invalid", error, NULL,
                        prefix);
        free(error);
        return;
    }
    err = srv->d->set_model(srv->d->aux, m);
    if (err) {
        char *msg = xasprintf("cannot save the state file: %s; nothing "
                              "changed", strerror(err));
        respond_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", msg,
                      NULL);
        free(msg);
        return;
    }
    result = render_result(srv->d->model, kind, name, sub);
    json_object_set_new(result, "generation",
                        json_integer(srv->d->generation));
    r->status = status;
    r->result = result;
    r->gen = srv->d->generation;
    r->deadline_ms = mono_ms() + wait * 1000ULL;
    bool any;
    bool done = installed(srv, r->gen, &any);
    if (!wait || !any || done) {
        finish_write(r, done && any);
        return;
    }
    add_waiter(r);
    r->suspended = true;
    MHD_suspend_connection(r->conn);
}

/* ---- Request bodies. ---- */

/* Parses and schema-checks the body.  Returns NULL after answering if it
 * is not acceptable. */
static json_t *
parse_body(struct request *r, const char *schema)
{
    json_error_t jerr;
    json_t *j;
    char *path = NULL;
    char *error;

    j = json_loadb(r->body ? r->body : "", r->len,
                   JSON_REJECT_DUPLICATES, &jerr);
    if (!j) {
        char *msg = xasprintf("malformed JSON at line %d, column %d: %s",
                              jerr.line, jerr.column, jerr.text);
        respond_error(r, MHD_HTTP_BAD_REQUEST, "malformed_json", msg, NULL);
        free(msg);
        return NULL;
    }
    error = jschema_validate_path(r->srv->schemas, schema, j, &path);
    if (error) {
        respond_invalid(r, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid", error,
                        path, NULL);
        free(error);
        free(path);
        json_decref(j);
        return NULL;
    }
    return j;
}

/* A shallow copy of the current document with its 'key' array copied
 * too, so that the copy can be edited without touching the original. */
static json_t *
doc_with_array(struct rest_server *srv, const char *key, json_t **arrayp)
{
    json_t *doc = current_doc(srv);
    *arrayp = json_object_get(doc, key);
    return doc;
}

/* ---- Resources. ---- */

static void
get_services(struct request *r)
{
    const struct model *m = r->srv->d->model;
    json_t *a = json_array();

    for (size_t i = 0; i < m->n_services; i++) {
        json_array_append_new(a, model_service_to_json(&m->services[i]));
    }
    respond_json(r, MHD_HTTP_OK, json_pack("{s:I, s:o}", "generation",
                                           (json_int_t) r->srv->d->generation,
                                           "services", a));
}

static void
not_found(struct request *r, const char *what, const char *name)
{
    char *msg = xasprintf("no %s named \"%s\"", what, name);
    respond_error(r, MHD_HTTP_NOT_FOUND, "not_found", msg, NULL);
    free(msg);
}

static void
put_service(struct request *r, const char *name, bool post)
{
    struct rest_server *srv = r->srv;
    json_t *body = parse_body(r, "service.schema.json");
    json_t *doc, *services;
    const char *bname;
    char prefix[64];
    int idx;

    if (!body) {
        return;
    }
    bname = json_string_value(json_object_get(body, "name"));
    if (!post && strcmp(bname, name)) {
        respond_error(r, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid",
                      "name: must match the name in the URL", "name");
        json_decref(body);
        return;
    }
    doc = doc_with_array(srv, "services", &services);
    idx = find_named(services, bname);
    if (post && idx >= 0) {
        char *msg = xasprintf("name: a service named \"%s\" already exists",
                              bname);
        respond_error(r, MHD_HTTP_CONFLICT, "conflict", msg, "name");
        free(msg);
        json_decref(body);
        json_decref(doc);
        return;
    }
    bool exists = idx >= 0;
    if (exists) {
        json_array_set(services, idx, body);
    } else {
        idx = json_array_size(services);
        json_array_append(services, body);
    }
    snprintf(prefix, sizeof prefix, "services[%d]", idx);
    char *svc_name = xstrdup(bname);
    json_decref(body);
    commit(r, doc, exists ? MHD_HTTP_OK : MHD_HTTP_CREATED, prefix, false,
           RESULT_SERVICE, svc_name, NULL);
    free(svc_name);
}

static void
delete_service(struct request *r, const char *name)
{
    json_t *services, *doc = doc_with_array(r->srv, "services", &services);
    int idx = find_named(services, name);

    if (idx < 0) {
        json_decref(doc);
        not_found(r, "service", name);
        return;
    }
    json_array_remove(services, idx);
    commit(r, doc, MHD_HTTP_OK, NULL, false, RESULT_NONE, NULL, NULL);
}

/* Finds service 'name' in a fresh document; answers 404 if missing. */
static json_t *
service_doc(struct request *r, const char *name, json_t **svcp, int *idxp)
{
    json_t *services, *doc = doc_with_array(r->srv, "services", &services);
    int idx = find_named(services, name);

    if (idx < 0) {
        json_decref(doc);
        not_found(r, "service", name);
        return NULL;
    }
    *svcp = json_array_get(services, idx);
    *idxp = idx;
    return doc;
}

static void
post_backend(struct request *r, const char *sname)
{
    json_t *body = parse_body(r, "backend.schema.json");
    json_t *doc, *svc, *backends;
    const char *bname;
    char prefix[96];
    int si, bi;

    if (!body) {
        return;
    }
    doc = service_doc(r, sname, &svc, &si);
    if (!doc) {
        json_decref(body);
        return;
    }
    backends = json_object_get(svc, "backends");
    bname = json_string_value(json_object_get(body, "name"));
    if (find_named(backends, bname) >= 0) {
        char *msg = xasprintf("name: service \"%s\" already has a backend "
                              "named \"%s\"", sname, bname);
        respond_error(r, MHD_HTTP_CONFLICT, "conflict", msg, "name");
        free(msg);
        json_decref(body);
        json_decref(doc);
        return;
    }
    bi = json_array_size(backends);
    json_array_append(backends, body);
    snprintf(prefix, sizeof prefix, "services[%d].backends[%d]", si, bi);
    char *be_name = xstrdup(bname);
    json_decref(body);
    commit(r, doc, MHD_HTTP_CREATED, prefix, false, RESULT_BACKEND, sname,
           be_name);
    free(be_name);
}

static void
change_backend(struct request *r, const char *sname, const char *bname,
               bool delete)
{
    json_t *body = NULL, *doc, *svc, *backends, *be;
    char prefix[96];
    int si, bi;

    if (!delete && !(body = parse_body(r, "backend-patch.schema.json"))) {
        return;
    }
    doc = service_doc(r, sname, &svc, &si);
    if (!doc) {
        json_decref(body);
        return;
    }
    backends = json_object_get(svc, "backends");
    bi = find_named(backends, bname);
    if (bi < 0) {
        json_decref(body);
        json_decref(doc);
        not_found(r, "backend", bname);
        return;
    }
    be = json_array_get(backends, bi);
    if (delete) {
        json_array_remove(backends, bi);
        commit(r, doc, MHD_HTTP_OK, NULL, false, RESULT_NONE, NULL, NULL);
        return;
    }
    json_object_update(be, body);
    json_decref(body);
    snprintf(prefix, sizeof prefix, "services[%d].backends[%d]", si, bi);
    commit(r, doc, MHD_HTTP_OK, prefix, false, RESULT_BACKEND, sname, bname);
}

static json_t *
bridge_status(struct rest_server *srv, const char *name,
              const struct bridge *c, bool configured)
{
    json_t *j;

    if (c) {
        j = bridge_status_json(c);
    } else {
        j = json_pack("{s:s, s:n, s:n, s:b, s:n, s:i, s:i, s:[]}",
                      "name", name, "datapath_id", "openflow_version",
                      "connected", false, "installed_generation",
                      "flows", 0, "groups", 0, "ports");
    }
    json_object_set_new(j, "configured", json_boolean(configured));
    json_object_set_new(j, "role", json_string("first"));
    json_object_set_new(j, "desired_generation",
                        json_integer(srv->d->generation));
    return j;
}

static const struct bridge *
find_conn(struct rest_server *srv, const char *name)
{
    return bridges_find(srv->d->bridges, name);
}

static json_t *
all_bridges(struct rest_server *srv)
{
    const struct model *m = srv->d->model;
    json_t *a = json_array();

    for (size_t i = 0; i < m->n_bridges; i++) {
        const char *name = m->bridges[i].name;
        json_array_append_new(a, bridge_status(srv, name,
                                               find_conn(srv, name), true));
    }
    for (size_t i = 0; i < bridges_count(srv->d->bridges); i++) {
        const struct bridge *c = bridges_at(srv->d->bridges, i);
        const char *name = bridge_name(c);
        if (bridge_is_connected(c) && !model_find_bridge(m, name)) {
            json_array_append_new(a, bridge_status(srv, name, c, false));
        }
    }
    return a;
}

static void
get_bridge(struct request *r, const char *name)
{
    json_t *a = all_bridges(r->srv);
    int idx = find_named(a, name);

    if (idx < 0) {
        json_decref(a);
        not_found(r, "bridge", name);
        return;
    }
    respond_json(r, MHD_HTTP_OK, json_incref(json_array_get(a, idx)));
    json_decref(a);
}

static void
put_bridge(struct request *r, const char *name)
{
    json_t *body = parse_body(r, "bridge.schema.json");
    json_t *doc, *bridges;
    char prefix[64];
    int idx, status;

    if (!body) {
        return;
    }
    if (strcmp(json_string_value(json_object_get(body, "name")), name)) {
        respond_error(r, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid",
                      "name: must match the name in the URL", "name");
        json_decref(body);
        return;
    }
    doc = doc_with_array(r->srv, "bridges", &bridges);
    idx = find_named(bridges, name);
    status = idx >= 0 ? MHD_HTTP_OK : MHD_HTTP_CREATED;
    if (idx >= 0) {
        json_array_set(bridges, idx, body);
    } else {
        idx = json_array_size(bridges);
        json_array_append(bridges, body);
    }
    snprintf(prefix, sizeof prefix, "bridges[%d]", idx);
    json_decref(body);
    commit(r, doc, status, prefix, false, RESULT_BRIDGE, name, NULL);
}

static void
delete_bridge(struct request *r, const char *name)
{
    json_t *bridges, *doc = doc_with_array(r->srv, "bridges", &bridges);
    int idx = find_named(bridges, name);

    if (idx < 0) {
        json_decref(doc);
        not_found(r, "bridge", name);
        return;
    }
    /* A bridge services still name cannot go. */
    const struct model *m = r->srv->d->model;
    for (size_t i = 0; i < m->n_services; i++) {
        if (model_service_on_bridge(&m->services[i], name)) {
            char *msg = xasprintf("bridge \"%s\" is used by service "
                                  "\"%s\"", name, m->services[i].name);
            respond_error(r, MHD_HTTP_CONFLICT, "conflict", msg, NULL);
            free(msg);
            json_decref(doc);
            return;
        }
    }
    json_array_remove(bridges, idx);
    commit(r, doc, MHD_HTTP_OK, NULL, false, RESULT_NONE, NULL, NULL);
}

static void
get_health(struct request *r)
{
    const struct rest_env *d = r->srv->d;
    size_t connected = 0, in_step = 0;

    for (size_t i = 0; i < d->model->n_bridges; i++) {
        const struct bridge *c = find_conn(r->srv, d->model->bridges[i].name);
        if (c) {
            connected++;
            in_step += bridge_in_step(c);
        }
    }
    respond_json(r, MHD_HTTP_OK, json_pack(
        "{s:s, s:I, s:f, s:{s:i, s:i, s:i}}",
        "status", in_step == d->model->n_bridges ? "ok" : "degraded",
        "generation", (json_int_t) d->generation,
        "uptime_seconds", (mono_ms() - d->started_ms) / 1000.0,
        "bridges", "configured", (int) d->model->n_bridges,
        "connected", (int) connected, "in_step", (int) in_step));
}

/* ---- Statistics. ---- */

struct counters {
    uint64_t packets, bytes, sessions, affinity;
};

/* Learned affinity entries (DSR modes) of service 'svc', per backend. */
static void
add_affinity(const json_t *bridge_stats, const struct model_service *svc,
             struct counters *total, struct counters *per_backend)
{
    size_t i;
    json_t *e;

    json_array_foreach (json_object_get(bridge_stats, "learned"), i, e) {
        uint32_t key;

        if ((uint32_t) json_integer_value(json_object_get(e, "service"))
            != svc->id) {
            continue;
        }
        total->affinity++;
        key = json_integer_value(json_object_get(e, "backend"));
        for (size_t b = 0; b < svc->n_backends; b++) {
            if (svc->backends[b].key == key) {
                per_backend[b].affinity++;
            }
        }
    }
}

static void
add_flow_counters(const json_t *bridge_stats, uint64_t cookie, int table,
                  const char *ip, int proto, int port, struct counters *c)
{
    size_t i;
    json_t *f;

    json_array_foreach (json_object_get(bridge_stats, "flows"), i, f) {
        if (json_integer_value(json_object_get(f, "table")) != table) {
            continue;
        }
        if (cookie ? (uint64_t) json_integer_value(json_object_get(
                          f, "cookie")) != cookie
            : (strcmp(json_string_value(json_object_get(f, "nw_dst")), ip)
               || json_integer_value(json_object_get(f, "nw_proto")) != proto
               || json_integer_value(json_object_get(f, "tp_dst")) != port)) {
            continue;
        }
        c->packets += json_integer_value(json_object_get(f, "packets"));
        c->bytes += json_integer_value(json_object_get(f, "bytes"));
    }
}

/* New sessions per backend: the packet counts of the group's buckets (a
 * bucket sees only the first packet of each session). */
static void
add_sessions(const json_t *bridge_stats, const struct model_service *svc,
             struct counters *per_backend)
{
    uint32_t backend[MODEL_MAX_BACKENDS + MSLB_GROUP_SLOTS];
    bool weighted;
    size_t n = compile_group_buckets(svc, backend, &weighted), i;
    json_t *g;

    json_array_foreach (json_object_get(bridge_stats, "groups"), i, g) {
        size_t b;
        json_t *v;

        if ((uint32_t) json_integer_value(json_object_get(g, "group_id"))
            != MSLB_GROUP_ID(svc->id)) {
            continue;
        }
        json_array_foreach (json_object_get(g, "buckets"), b, v) {
            if (b < n) {
                per_backend[backend[b]].sessions += json_integer_value(v);
            }
        }
    }
}

static json_t *
aggregate_stats(struct rest_server *srv, const json_t *per_bridge)
{
    const struct model *m = srv->d->model;
    json_t *services = json_array();

    for (size_t i = 0; i < m->n_services; i++) {
        const struct model_service *svc = &m->services[i];
        struct counters total = { 0, 0, 0, 0 };
        bool dsr = model_mode_is_dsr(svc->mode);
        struct counters *be = xcalloc(svc->n_backends + 1, sizeof *be);
        json_t *backends = json_array();
        size_t k;
        json_t *bs;

        json_array_foreach (per_bridge, k, bs) {
            add_flow_counters(bs, mslb_cookie(MSLB_COOKIE_SERVICE, svc->id),
                              MSLB_T_CLASSIFY, NULL, 0, 0, &total);
            for (size_t b = 0; b < svc->n_backends; b++) {
                char ip[INET6_ADDRSTRLEN];
                mslb_addr_format(&svc->backends[b].ip, ip, sizeof ip);
                add_flow_counters(bs, 0, MSLB_T_NAT_OUT, ip, svc->proto,
                                  svc->backends[b].port, &be[b]);
            }
            add_sessions(bs, svc, be);
            if (dsr) {
                add_affinity(bs, svc, &total, be);
            }
        }
        for (size_t b = 0; b < svc->n_backends; b++) {
            json_t *jb = json_pack(
                "{s:s, s:I, s:I, s:I}", "name", svc->backends[b].name,
                "packets", (json_int_t) be[b].packets,
                "bytes", (json_int_t) be[b].bytes,
                "sessions", (json_int_t) be[b].sessions);
            if (dsr) {
                json_object_set_new(jb, "affinity_entries",
                                    json_integer(be[b].affinity));
            }
            json_array_append_new(backends, jb);
        }
        free(be);
        json_t *js = json_pack(
            "{s:s, s:I, s:I}", "name", svc->name,
            "packets", (json_int_t) total.packets,
            "bytes", (json_int_t) total.bytes);
        if (dsr) {
            json_object_set_new(js, "affinity_entries",
                                json_integer(total.affinity));
        }
        json_object_set_new(js, "backends", backends);
        json_array_append_new(services, js);
    }
    return json_pack("{s:I, s:o}", "generation",
                     (json_int_t) srv->d->generation, "services", services);
}

static void
put_metric(struct ds *out, const char *name, const char *help,
           const char *type)
{
    ds_put_format(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
                  type);
}

static char *
format_metrics(struct rest_server *srv, const json_t *stats)
{
    const struct rest_env *d = srv->d;
    struct ds out = DS_EMPTY_INITIALIZER;
    size_t i, k;
    json_t *s, *b;

    put_metric(&out, "mslb_generation", "Current model generation.",
               "gauge");
    ds_put_format(&out, "mslb_generation %"PRIu64"\n", d->generation);
    put_metric(&out, "mslb_services", "Virtual services in the model.",
               "gauge");
    ds_put_format(&out, "mslb_services %zu\n", d->model->n_services);
    put_metric(&out, "mslb_bridge_connected",
               "1 if the bridge is connected.", "gauge");
    put_metric(&out, "mslb_bridge_installed_generation",
               "Generation the bridge has confirmed.", "gauge");
    for (i = 0; i < d->model->n_bridges; i++) {
        const char *name = d->model->bridges[i].name;
        const struct bridge *c = find_conn(srv, name);
        ds_put_format(&out, "mslb_bridge_connected{bridge=\"%s\"} %d\n",
                      name, c != NULL);
        ds_put_format(&out, "mslb_bridge_installed_generation{bridge=\"%s\"}"
                      " %"PRIu64"\n", name,
                      c ? bridge_installed_generation(c) : 0);
    }
    put_metric(&out, "mslb_service_packets_total",
               "Request packets to the service.", "counter");
    put_metric(&out, "mslb_service_bytes_total",
               "Request bytes to the service.", "counter");
    put_metric(&out, "mslb_backend_packets_total",
               "Packets sent to the backend.", "counter");
    put_metric(&out, "mslb_backend_sessions_total",
               "New sessions given to the backend.", "counter");
    json_array_foreach (json_object_get(stats, "services"), i, s) {
        const char *svc = json_string_value(json_object_get(s, "name"));
        ds_put_format(&out, "mslb_service_packets_total{service=\"%s\"} %"
                      JSON_INTEGER_FORMAT"\n", svc,
                      json_integer_value(json_object_get(s, "packets")));
        ds_put_format(&out, "mslb_service_bytes_total{service=\"%s\"} %"
                      JSON_INTEGER_FORMAT"\n", svc,
                      json_integer_value(json_object_get(s, "bytes")));
        json_array_foreach (json_object_get(s, "backends"), k, b) {
            const char *be = json_string_value(json_object_get(b, "name"));
            ds_put_format(&out, "mslb_backend_packets_total{service=\"%s\","
                          "backend=\"%s\"} %"JSON_INTEGER_FORMAT"\n", svc, be,
                          json_integer_value(json_object_get(b, "packets")));
            ds_put_format(&out, "mslb_backend_sessions_total{service=\"%s\","
                          "backend=\"%s\"} %"JSON_INTEGER_FORMAT"\n", svc, be,
                          json_integer_value(json_object_get(b, "sessions")));
        }
    }
    return ds_steal_cstr(&out);
}

static void
stats_done(struct request *r)
{
    json_t *agg = aggregate_stats(r->srv, r->stats);

    json_decref(r->stats);
    r->stats = NULL;
    if (r->metrics) {
        set_response(r, MHD_HTTP_OK, format_metrics(r->srv, agg),
                     "text/plain; version=0.0.4");
        json_decref(agg);
    } else {
        respond_json(r, MHD_HTTP_OK, agg);
    }
    resume(r);
}

static void
on_bridge_stats(void *aux, json_t *stats)
{
    struct request *r = aux;

    if (stats) {
        json_array_append_new(r->stats, stats);
    }
    if (!--r->stats_pending) {
        stats_done(r);
    }
}

static void
get_stats(struct request *r, bool metrics)
{
    const struct rest_env *d = r->srv->d;

    r->metrics = metrics;
    r->stats = json_array();
    r->stats_pending = 1;       /* Held until every request is out. */
    r->suspended = true;
    MHD_suspend_connection(r->conn);
    for (size_t i = 0; i < bridges_count(d->bridges); i++) {
        struct bridge *b = bridges_at(d->bridges, i);
        if (bridge_is_connected(b)) {
            r->stats_pending++;
            bridge_collect_stats(b, on_bridge_stats, r);
        }
    }
    on_bridge_stats(r, NULL);
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

static bool
segment_ok(const char *s)
{
    if (!*s || strlen(s) > 63) {
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

static void
route(struct request *r, const char *url, const char *method)
{
    char *copy = xstrdup(url), *save = NULL, *seg[6];
    size_t n = 0;
    bool write = method_is(method, "POST") || method_is(method, "PUT")
                 || method_is(method, "PATCH");

    for (char *t = strtok_r(copy, "/", &save); t && n < 6;
         t = strtok_r(NULL, "/", &save)) {
        seg[n++] = t;
    }
    if (write) {
        const char *ct = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                                     "Content-Type");
        if (!ct || strncasecmp(ct, "application/json", 16)) {
            respond_error(r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
                          "unsupported_media_type",
                          "request bodies must be application/json", NULL);
            goto out;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (!segment_ok(seg[i])) {
            goto not_found;
        }
    }

    if (n == 1 && !strcmp(seg[0], "metrics")) {
        if (!method_is(method, "GET")) {
            method_not_allowed(r, "GET");
        } else {
            get_stats(r, true);
        }
    } else if (n < 2 || strcmp(seg[0], "v1")) {
        goto not_found;
    } else if (n == 2 && !strcmp(seg[1], "health")) {
        if (!method_is(method, "GET")) {
            method_not_allowed(r, "GET");
        } else {
            get_health(r);
        }
    } else if (n == 2 && !strcmp(seg[1], "stats")) {
        if (!method_is(method, "GET")) {
            method_not_allowed(r, "GET");
        } else {
            get_stats(r, false);
        }
    } else if (n == 2 && !strcmp(seg[1], "services")) {
        if (method_is(method, "GET")) {
            get_services(r);
        } else if (method_is(method, "POST")) {
            put_service(r, NULL, true);
        } else {
            method_not_allowed(r, "GET, POST");
        }
    } else if (n == 3 && !strcmp(seg[1], "services")) {
        if (method_is(method, "GET")) {
            const struct model_service *svc = model_find_service(
                r->srv->d->model, seg[2]);
            if (svc) {
                respond_json(r, MHD_HTTP_OK, model_service_to_json(svc));
            } else {
                not_found(r, "service", seg[2]);
            }
        } else if (method_is(method, "PUT")) {
            put_service(r, seg[2], false);
        } else if (method_is(method, "DELETE")) {
            delete_service(r, seg[2]);
        } else {
            method_not_allowed(r, "GET, PUT, DELETE");
        }
    } else if (n == 4 && !strcmp(seg[1], "services")
               && !strcmp(seg[3], "backends")) {
        if (method_is(method, "POST")) {
            post_backend(r, seg[2]);
        } else if (method_is(method, "GET")) {
            const struct model_service *svc = model_find_service(
                r->srv->d->model, seg[2]);
            if (!svc) {
                not_found(r, "service", seg[2]);
            } else {
                json_t *a = json_array();
                for (size_t i = 0; i < svc->n_backends; i++) {
                    json_array_append_new(
                        a, model_backend_to_json(&svc->backends[i]));
                }
                respond_json(r, MHD_HTTP_OK, json_pack("{s:o}", "backends",
                                                       a));
            }
        } else {
            method_not_allowed(r, "GET, POST");
        }
    } else if (n == 5 && !strcmp(seg[1], "services")
               && !strcmp(seg[3], "backends")) {
        if (method_is(method, "GET")) {
            const struct model_service *svc = model_find_service(
                r->srv->d->model, seg[2]);
            const struct model_backend *be = NULL;
            for (size_t i = 0; svc && i < svc->n_backends; i++) {
                if (!strcmp(svc->backends[i].name, seg[4])) {
                    be = &svc->backends[i];
                }
            }
            if (!svc) {
                not_found(r, "service", seg[2]);
            } else if (!be) {
                not_found(r, "backend", seg[4]);
            } else {
                respond_json(r, MHD_HTTP_OK, model_backend_to_json(be));
            }
        } else if (method_is(method, "PATCH")) {
            change_backend(r, seg[2], seg[4], false);
        } else if (method_is(method, "DELETE")) {
            change_backend(r, seg[2], seg[4], true);
        } else {
            method_not_allowed(r, "GET, PATCH, DELETE");
        }
    } else if (n == 2 && !strcmp(seg[1], "bridges")) {
        if (method_is(method, "GET")) {
            respond_json(r, MHD_HTTP_OK, json_pack("{s:o}", "bridges",
                                                   all_bridges(r->srv)));
        } else {
            method_not_allowed(r, "GET");
        }
    } else if (n == 3 && !strcmp(seg[1], "bridges")) {
        if (method_is(method, "GET")) {
            get_bridge(r, seg[2]);
        } else if (method_is(method, "PUT")) {
            put_bridge(r, seg[2]);
        } else if (method_is(method, "DELETE")) {
            delete_bridge(r, seg[2]);
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
    if (r->waiting) {
        remove_waiter(r);
    }
    json_decref(r->result);
    json_decref(r->stats);
    free(r->body);
    free(r->resp);
    free(r);
    *con_cls = NULL;
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
                         | MHD_USE_ERROR_LOG;
    struct sockaddr_storage ss;
    const union MHD_DaemonInfo *info;
    bool v6;
    char *error;

    *srvp = NULL;
    srv->d = d;
    srv->max_body = o->max_body;
    srv->token = o->token ? xstrdup(o->token) : NULL;
    if ((error = parse_listen(o->listen, &ss, &v6))
        || (error = jschema_load_dir(o->schema_dir, &srv->schemas))) {
        goto fail;
    }
    if (v6) {
        flags |= MHD_USE_IPv6;
    }
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
    srv->mhd = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, srv,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &ss,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) 60,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int) 256,
        srv->cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, srv->cert,
        MHD_OPTION_HTTPS_MEM_KEY, srv->key,
        MHD_OPTION_END);
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
    jschema_destroy(srv->schemas);
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
    uv_poll_stop(&srv->poll);
    uv_timer_stop(&srv->timer);
    MHD_stop_daemon(srv->mhd);
}
