/* Services, backends and bridges over REST.
 *
 * Reads come from the model as mslbd holds it (modeldb.h).  A write is
 * checked (the model's rules for the one object it touches, then the rules
 * across objects against the model's indexes),
 * becomes one database change (nbdb.h) and is answered once the database
 * committed it and the connected bridges installed its generation, or
 * ?wait= seconds passed.  If another writer changed the same object first,
 * the write is computed again from the new model (a few times at most),
 * so no acknowledged change is ever overwritten. */
#include <config.h>
#include "rest-private.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "health.h"
#include "resolve.h"
#include "nbdb.h"
#include "mslb/modeldb.h"
#include "util.h"

#define MAX_ATTEMPTS 25

enum write_kind {
    W_PUT_SERVICE, W_DEL_SERVICE, W_POST_BACKEND, W_PATCH_BACKEND,
    W_DEL_BACKEND, W_PUT_BRIDGE, W_DEL_BRIDGE,
};

struct rest_write {
    enum write_kind kind;
    json_t *body;               /* Schema-checked request body, or NULL. */
    char *name;                 /* Service or bridge. */
    char *sub;                  /* Backend. */
    bool post;
    int attempts;
};

static struct mdb *
mdb_of(const struct request *r)
{
    return r->srv->d->mdb;
}

void
rest_not_found(struct request *r, const char *what, const char *name)
{
    char *msg = xasprintf("no %s named \"%s\"", what, name);
    respond_error(r, MHD_HTTP_NOT_FOUND, "not_found", msg, NULL);
    free(msg);
}

/* ---- Reads. ---- */

/* Backend 'be' of 'svc' as GET shows it: the model's fields and, while a
 * monitor probes it, its "health"; without a configured MAC, the one
 * resolved for it and its age (null until known).  Both read only: a
 * write ignores them. */
static json_t *
backend_view(const struct request *r, const struct model_service *svc,
             const struct model_backend *be, bool *usable)
{
    const struct health *h = r->srv->d->health;
    const struct resolver *res = r->srv->d->resolver;
    json_t *j = model_backend_to_json(be);
    json_t *health = h ? health_backend_json(h, svc->name, be->key) : NULL;
    struct mslb_mac mac;
    bool has_mac = be->has_mac || !res || resolver_mac(res, &be->ip, &mac);

    *usable = be->state == MODEL_BACKEND_UP && has_mac
              && (!h || health_backend_up(h, svc->name, be->key));
    if (health) {
        json_object_set_new(j, "health", health);
    }
    if (!be->has_mac && res && svc->mode != MODEL_MODE_TUN) {
        json_t *rm = resolver_json(res, &be->ip);
        json_object_set_new(j, "resolved_mac", rm ? rm : json_null());
    }
    return j;
}

/* Service 'svc' as GET shows it: the model's fields, each backend's
 * health, and "status": how many backends get new sessions ("empty" when
 * none does, so that a route announcer can withdraw the VIP). */
static json_t *
service_view(const struct request *r, const struct model_service *svc)
{
    json_t *j = model_service_to_json(svc);
    json_t *backends = json_object_get(j, "backends");
    size_t n_usable = 0;

    for (size_t i = 0; i < svc->n_backends; i++) {
        bool usable;
        json_t *b = backend_view(r, svc, &svc->backends[i], &usable);

        n_usable += usable;
        if (i < json_array_size(backends)) {
            json_array_set_new(backends, i, b);
        } else {
            json_decref(b);
        }
    }
    json_object_set_new(j, "status", json_pack(
        "{s:I, s:b}", "usable_backends", (json_int_t) n_usable,
        "empty", svc->mode != MODEL_MODE_LOCAL && !n_usable));
    return j;
}

void
rest_get_services(struct request *r)
{
    size_t n;
    const struct model_service **svcs = mdb_services_sorted(mdb_of(r), &n);
    json_t *a = json_array();

    for (size_t i = 0; i < n; i++) {
        json_array_append_new(a, service_view(r, svcs[i]));
    }
    free(svcs);
    respond_json(r, MHD_HTTP_OK, json_pack(
        "{s:I, s:o}", "generation",
        (json_int_t) nbdb_generation(r->srv->d->nbdb), "services", a));
}

void
rest_get_service(struct request *r, const char *name)
{
    const struct model_service *svc = mdb_find_service(mdb_of(r), name);

    if (svc) {
        respond_json(r, MHD_HTTP_OK, service_view(r, svc));
    } else {
        rest_not_found(r, "service", name);
    }
}

static const struct model_backend *
find_backend(const struct model_service *svc, const char *name, size_t *idx)
{
    for (size_t i = 0; svc && i < svc->n_backends; i++) {
        if (!strcmp(svc->backends[i].name, name)) {
            if (idx) {
                *idx = i;
            }
            return &svc->backends[i];
        }
    }
    return NULL;
}

void
rest_get_backends(struct request *r, const char *service)
{
    const struct model_service *svc = mdb_find_service(mdb_of(r), service);
    json_t *a;

    if (!svc) {
        rest_not_found(r, "service", service);
        return;
    }
    a = json_array();
    for (size_t i = 0; i < svc->n_backends; i++) {
        bool usable;
        json_array_append_new(a, backend_view(r, svc, &svc->backends[i],
                                              &usable));
    }
    respond_json(r, MHD_HTTP_OK, json_pack("{s:o}", "backends", a));
}

void
rest_get_backend(struct request *r, const char *service, const char *backend)
{
    const struct model_service *svc = mdb_find_service(mdb_of(r), service);
    const struct model_backend *be = find_backend(svc, backend, NULL);

    if (!svc) {
        rest_not_found(r, "service", service);
    } else if (!be) {
        rest_not_found(r, "backend", backend);
    } else {
        bool usable;
        respond_json(r, MHD_HTTP_OK, backend_view(r, svc, be, &usable));
    }
}

/* ---- Waiting for the bridges. ---- */

static void
add_waiter(struct request *r)
{
    r->next = r->srv->waiting;
    r->srv->waiting = r;
    r->waiting = true;
}

static void
remove_waiter(struct request *r)
{
    for (struct request **p = &r->srv->waiting; *p; p = &(*p)->next) {
        if (*p == r) {
            *p = r->next;
            break;
        }
    }
    r->waiting = false;
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
        bool done = rest_installed(srv, r->gen, &any);

        next = r->next;
        if ((done && any) || now >= r->deadline_ms) {
            finish_write(r, done && any);
        }
    }
}

static void
write_destroy(struct rest_write *w)
{
    if (w) {
        json_decref(w->body);
        free(w->name);
        free(w->sub);
        free(w);
    }
}

void
rest_request_gone(struct request *r)
{
    if (r->waiting) {
        remove_waiter(r);
    }
    if (r->write) {
        nbdb_forget(r->srv->d->nbdb, r);
        write_destroy(r->write);
        r->write = NULL;
    }
}

/* ---- Writes. ---- */

/* The object the write answers with, as the model now has it. */
static json_t *
render_result(const struct request *r)
{
    const struct rest_write *w = r->write;
    const struct mdb *db = mdb_of(r);
    json_t *result = json_object();
    const struct model_service *svc;
    const struct model_bridge *br;
    const struct model_backend *be;

    switch (w->kind) {
    case W_PUT_SERVICE:
        if ((svc = mdb_find_service(db, w->name))) {
            json_object_set_new(result, "service",
                                model_service_to_json(svc));
        }
        break;
    case W_POST_BACKEND:
    case W_PATCH_BACKEND:
        be = find_backend(mdb_find_service(db, w->name), w->sub, NULL);
        if (be) {
            json_object_set_new(result, "backend",
                                model_backend_to_json(be));
        }
        break;
    case W_PUT_BRIDGE:
        if ((br = mdb_find_bridge(db, w->name))) {
            json_object_set_new(result, "bridge", model_bridge_to_json(br));
        }
        break;
    case W_DEL_SERVICE:
    case W_DEL_BACKEND:
    case W_DEL_BRIDGE:
        break;
    }
    return result;
}

static void attempt(struct request *);

/* The write is in the database as of generation 'gen': answer once the
 * bridges have it (or ?wait= passed). */
static void
committed(struct request *r, uint64_t gen)
{
    int wait = wait_seconds(r);
    bool any, done;

    r->result = render_result(r);
    json_object_set_new(r->result, "generation", json_integer(gen));
    r->gen = gen;
    r->deadline_ms = mono_ms() + wait * 1000ULL;
    done = rest_installed(r->srv, gen, &any);
    write_destroy(r->write);
    r->write = NULL;
    if (!wait || !any || done) {
        finish_write(r, done && any);
    } else {
        add_waiter(r);
    }
}

static void
on_committed(void *aux, enum nbdb_status status, uint64_t gen,
             const char *error)
{
    struct request *r = aux;
    struct rest_write *w = r->write;

    switch (status) {
    case NBDB_RETRY:
        if (++w->attempts < MAX_ATTEMPTS) {
            attempt(r);
            if (r->resp) {
                resume(r);
            }
            return;
        }
        respond_error(r, MHD_HTTP_CONFLICT, "conflict",
                      "the object kept changing under concurrent writers; "
                      "nothing changed: try again", NULL);
        break;
    case NBDB_CONFLICT:
        respond_error(r, MHD_HTTP_CONFLICT, "conflict", error, NULL);
        break;
    case NBDB_ERROR:
        respond_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable", error,
                      NULL);
        break;
    case NBDB_OK:
        committed(r, gen);
        return;
    }
    write_destroy(r->write);
    r->write = NULL;
    resume(r);
}

static void
submit(struct request *r, struct nbdb_change *c)
{
    struct nbdb_change *changes = xmemdup(c, sizeof *c);
    nbdb_submit(r->srv->d->nbdb, changes, 1, on_committed, r);
}

/* A model error for the request body: 409 for clashes with other objects,
 * else 422; 'prefix' is the body's place in the document validated. */
static void
respond_model_error(struct request *r, char *error, bool conflict,
                    const char *prefix)
{
    conflict |= strstr(error, "duplicate") != NULL;
    respond_invalid(r, conflict ? MHD_HTTP_CONFLICT
                    : MHD_HTTP_UNPROCESSABLE_CONTENT,
                    conflict ? "conflict" : "invalid", error, NULL, prefix);
    free(error);
}

/* A lookup that sees bridge 'over' instead of the model's bridge of the
 * same name (to check services against a changed bridge). */
struct over_lookup {
    const struct mdb *db;
    const struct model_bridge *over;
};

static const struct model_bridge *
find_over(const void *aux, const char *name)
{
    const struct over_lookup *o = aux;
    return !strcmp(name, o->over->name) ? o->over
           : mdb_find_bridge(o->db, name);
}

/* Validates service document 'doc' (the request body at 'prefix') as the
 * new version of service 'name' and submits it.  Takes 'doc'. */
static void
put_service_doc(struct request *r, json_t *doc, const char *prefix,
                const struct model_service *cur)
{
    struct mdb *db = mdb_of(r);
    struct model_lookup lk = mdb_lookup(db);
    struct model_service *svc;
    bool conflict;
    char *error;

    /* The write moves the service's stored slot table on (nbdb_write.c):
     * no table of its own to compute here. */
    lk.defer_slots = true;
    error = model_service_from_json(doc, "", &lk, &svc);
    json_decref(doc);
    if (error) {
        respond_model_error(r, error, false, prefix);
        return;
    }
    svc->id = cur ? cur->id : mdb_new_service_id(db, svc);
    error = mdb_check_service(db, svc, "", &conflict);
    if (error) {
        model_service_destroy(svc);
        respond_model_error(r, error, conflict, prefix);
        return;
    }
    submit(r, &(struct nbdb_change) {
        .type = NBDB_PUT_SERVICE, .svc = svc,
        .base = cur ? model_service_hash(cur) : 0,
    });
}

/* On a second attempt of a create, the first may have committed after
 * all (the database went away before its answer came): true if service
 * document 'doc' is exactly what service 'cur' already is. */
static bool
already_applied(struct request *r, json_t *doc,
                const struct model_service *cur)
{
    struct model_lookup lk = mdb_lookup(mdb_of(r));
    struct model_service *svc;
    bool same = false;
    char *error;

    if (!r->write->attempts) {
        return false;
    }
    error = model_service_from_json(doc, "", &lk, &svc);
    if (!error) {
        svc->id = cur->id;
        same = model_service_hash(svc) == model_service_hash(cur);
        model_service_destroy(svc);
    }
    free(error);
    return same;
}

static void
attempt_put_service(struct request *r)
{
    struct rest_write *w = r->write;
    const struct model_service *cur = mdb_find_service(mdb_of(r), w->name);

    if (w->post && cur && already_applied(r, w->body, cur)) {
        r->status = MHD_HTTP_CREATED;
        committed(r, nbdb_generation(r->srv->d->nbdb));
        return;
    }
    if (w->post && cur) {
        char *msg = xasprintf("name: a service named \"%s\" already exists",
                              w->name);
        respond_error(r, MHD_HTTP_CONFLICT, "conflict", msg, "name");
        free(msg);
        return;
    }
    r->status = cur ? MHD_HTTP_OK : MHD_HTTP_CREATED;
    put_service_doc(r, json_deep_copy(w->body), NULL, cur);
}

/* The current service as a document, with backend 'sub' changed by 'w'. */
static void
attempt_backend(struct request *r)
{
    struct rest_write *w = r->write;
    const struct model_service *cur = mdb_find_service(mdb_of(r), w->name);
    json_t *doc, *backends;
    char prefix[64];
    size_t idx;

    if (!cur) {
        rest_not_found(r, "service", w->name);
        return;
    }
    doc = model_service_to_json(cur);
    backends = json_object_get(doc, "backends");
    if (w->kind == W_POST_BACKEND) {
        if (find_backend(cur, w->sub, &idx)) {
            json_array_set(backends, idx, w->body);
            if (already_applied(r, doc, cur)) {
                json_decref(doc);
                r->status = MHD_HTTP_CREATED;
                committed(r, nbdb_generation(r->srv->d->nbdb));
                return;
            }
            char *msg = xasprintf("name: service \"%s\" already has a "
                                  "backend named \"%s\"", w->name, w->sub);
            respond_error(r, MHD_HTTP_CONFLICT, "conflict", msg, "name");
            free(msg);
            json_decref(doc);
            return;
        }
        idx = json_array_size(backends);
        json_array_append(backends, w->body);
        r->status = MHD_HTTP_CREATED;
    } else {
        if (!find_backend(cur, w->sub, &idx)) {
            json_decref(doc);
            rest_not_found(r, "backend", w->sub);
            return;
        }
        if (w->kind == W_DEL_BACKEND) {
            json_array_remove(backends, idx);
        } else {
            json_object_update(json_array_get(backends, idx), w->body);
        }
        r->status = MHD_HTTP_OK;
    }
    snprintf(prefix, sizeof prefix, "backends[%zu]", idx);
    put_service_doc(r, doc, prefix, cur);
}

static void
attempt_put_bridge(struct request *r)
{
    struct rest_write *w = r->write;
    struct mdb *db = mdb_of(r);
    const struct model_bridge *cur = mdb_find_bridge(db, w->name);
    const struct model_service **svcs;
    struct model_bridge *br;
    bool conflict;
    char *error;
    size_t n;

    error = model_bridge_from_json(w->body, "", &br);
    if (error) {
        respond_model_error(r, error, false, NULL);
        return;
    }
    error = mdb_check_bridge(db, br, "", &conflict);
    /* The services on it must stay valid with the new bridge. */
    svcs = mdb_services_of_bridge(db, w->name, &n);
    for (size_t i = 0; i < n && !error; i++) {
        struct over_lookup o = { db, br };
        struct model_lookup lk = { find_over, &o };
        json_t *doc = model_service_to_json(svcs[i]);
        struct model_service *svc;
        char *e = model_service_from_json(doc, "", &lk, &svc);

        json_decref(doc);
        model_service_destroy(svc);
        if (e) {
            error = xasprintf("bridge is used by service \"%s\", which "
                              "would become invalid: %s", svcs[i]->name, e);
            conflict = true;
            free(e);
        }
    }
    free(svcs);
    if (error) {
        model_bridge_destroy(br);
        respond_model_error(r, error, conflict, NULL);
        return;
    }
    r->status = cur ? MHD_HTTP_OK : MHD_HTTP_CREATED;
    submit(r, &(struct nbdb_change) {
        .type = NBDB_PUT_BRIDGE, .br = br,
        .base = cur ? model_bridge_hash(cur) : 0,
    });
}

static void
attempt_delete(struct request *r)
{
    struct rest_write *w = r->write;
    struct mdb *db = mdb_of(r);
    bool bridge = w->kind == W_DEL_BRIDGE;
    const struct model_service *svc = bridge ? NULL
                                      : mdb_find_service(db, w->name);
    const struct model_bridge *br = bridge ? mdb_find_bridge(db, w->name)
                                    : NULL;
    const char *user;

    if (bridge ? !br : !svc) {
        rest_not_found(r, bridge ? "bridge" : "service", w->name);
        return;
    }
    if (bridge && (user = mdb_bridge_user(db, w->name))) {
        char *msg = xasprintf("bridge \"%s\" is used by service \"%s\"",
                              w->name, user);
        respond_error(r, MHD_HTTP_CONFLICT, "conflict", msg, NULL);
        free(msg);
        return;
    }
    r->status = MHD_HTTP_OK;
    submit(r, &(struct nbdb_change) {
        .type = bridge ? NBDB_DEL_BRIDGE : NBDB_DEL_SERVICE,
        .name = xstrdup(w->name),
        .base = bridge ? model_bridge_hash(br) : model_service_hash(svc),
    });
}

/* Computes the write from the model as it is now and submits it, or
 * answers at once (bad input, not found, conflict). */
static void
attempt(struct request *r)
{
    switch (r->write->kind) {
    case W_PUT_SERVICE:
        attempt_put_service(r);
        break;
    case W_POST_BACKEND:
    case W_PATCH_BACKEND:
    case W_DEL_BACKEND:
        attempt_backend(r);
        break;
    case W_PUT_BRIDGE:
        attempt_put_bridge(r);
        break;
    case W_DEL_SERVICE:
    case W_DEL_BRIDGE:
        attempt_delete(r);
        break;
    }
    if (r->resp) {
        write_destroy(r->write);    /* Answered: nothing was submitted. */
        r->write = NULL;
    }
}

/* Parses the body.  Returns NULL after answering if it is not JSON.  The
 * model's rules check it (one validator: schemas/ document the contract
 * and tests check the daemon against them, see docs/api.md). */
static json_t *
parse_body(struct request *r)
{
    json_error_t jerr;
    json_t *j;

    j = json_loadb(r->body ? r->body : "", r->len,
                   JSON_REJECT_DUPLICATES, &jerr);
    if (!j) {
        char *msg = xasprintf("malformed JSON at line %d, column %d: %s",
                              jerr.line, jerr.column, jerr.text);
        respond_error(r, MHD_HTTP_BAD_REQUEST, "malformed_json", msg, NULL);
        free(msg);
    }
    return j;
}

/* A backend change may set 'weight' and 'state' only, at least one of them;
 * the model checks their values once merged. */
static bool
check_backend_patch(struct request *r, const json_t *body)
{
    const char *key;
    json_t *v;

    if (!json_is_object(body) || !json_object_size(body)) {
        respond_error(r, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid",
                      "must set weight or state", NULL);
        return false;
    }
    json_object_foreach ((json_t *) body, key, v) {
        if (strcmp(key, "weight") && strcmp(key, "state")) {
            char *msg = xasprintf("%s: unknown key", key);
            respond_error(r, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid", msg,
                          key);
            free(msg);
            return false;
        }
    }
    return true;
}

/* Starts write 'kind' on request 'r': checks what does not depend on the
 * model, suspends the request, and makes the first attempt. */
static void
start_write(struct request *r, enum write_kind kind, bool has_body,
            const char *name, const char *sub, bool post)
{
    struct rest_write *w;
    json_t *body = NULL;
    int wait = wait_seconds(r);

    if (wait < 0) {
        respond_error(r, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid",
                      "wait: must be an integer from 0 to 300", "wait");
        return;
    }
    if (has_body && !(body = parse_body(r))) {
        return;
    }
    if (kind == W_PATCH_BACKEND && !check_backend_patch(r, body)) {
        json_decref(body);
        return;
    }
    if (!nbdb_is_ready(r->srv->d->nbdb)
        || !nbdb_is_connected(r->srv->d->nbdb)) {
        json_decref(body);
        respond_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
                      "the model's database is not reachable; nothing "
                      "changed", NULL);
        return;
    }
    if (body && (kind == W_PUT_SERVICE || kind == W_PUT_BRIDGE
                 || kind == W_POST_BACKEND)) {
        const char *bname = json_string_value(json_object_get(body, "name"));
        if (!bname) {
            /* Not a string, or absent: the model's rules say which. */
            char *error = NULL;
            if (!json_is_object(body)) {
                error = xstrdup("(top level): must be an object");
            } else {
                error = xstrdup(json_object_get(body, "name")
                                ? "name: must be a string"
                                : "name: is required");
            }
            respond_invalid(r, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid",
                            error, NULL, NULL);
            free(error);
            json_decref(body);
            return;
        }
        if (kind == W_POST_BACKEND) {
            sub = bname;
        } else if (!name) {
            name = bname;
        } else if (strcmp(bname, name)) {
            respond_error(r, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid",
                          "name: must match the name in the URL", "name");
            json_decref(body);
            return;
        }
    }
    w = xzalloc(sizeof *w);
    w->kind = kind;
    w->body = body;
    w->name = xstrdup(name);
    w->sub = nullable_xstrdup(sub);
    w->post = post;
    r->write = w;
    attempt(r);
    if (!r->resp) {
        r->suspended = true;
        MHD_suspend_connection(r->conn);
    }
}

void
rest_put_service(struct request *r, const char *name, bool post)
{
    start_write(r, W_PUT_SERVICE, true, name, NULL, post);
}

void
rest_delete_service(struct request *r, const char *name)
{
    start_write(r, W_DEL_SERVICE, false, name, NULL, false);
}

void
rest_post_backend(struct request *r, const char *service)
{
    start_write(r, W_POST_BACKEND, true, service, NULL, true);
}

void
rest_change_backend(struct request *r, const char *service,
                    const char *backend, bool delete)
{
    start_write(r, delete ? W_DEL_BACKEND : W_PATCH_BACKEND, !delete,
                service, backend, false);
}

void
rest_put_bridge(struct request *r, const char *name)
{
    start_write(r, W_PUT_BRIDGE, true, name, NULL, false);
}

void
rest_delete_bridge(struct request *r, const char *name)
{
    start_write(r, W_DEL_BRIDGE, false, name, NULL, false);
}
