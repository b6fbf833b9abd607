/* Health monitors (docs/health.md): a service's "monitor" object, a
 * backend's own one merged over it, and the rules they keep that do not
 * look beyond the service.  Rendering is in model_json.c. */
#include "model-private.h"

#include <jansson.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mslb/xalloc.h"

static const char *const monitor_keys[] = {
    "type", "port", "interval", "timeout", "rise", "fall", "sessions",
    "method", "path", "host", "status", "body",     /* http */
    "send", "expect",                               /* udp */
    NULL
};

/* The members of an http or udp monitor's request. */
static const char *const http_keys[] = {
    "method", "path", "host", "status", "body", NULL
};
static const char *const udp_keys[] = { "send", "expect", NULL };

struct model_monitor_request *
model_monitor_request_clone(const struct model_monitor_request *r)
{
    struct model_monitor_request *c;

    if (!r) {
        return NULL;
    }
    c = mslb_xmemdup(r, sizeof *r);
    c->method = r->method ? mslb_xstrdup(r->method) : NULL;
    c->path = r->path ? mslb_xstrdup(r->path) : NULL;
    c->host = r->host ? mslb_xstrdup(r->host) : NULL;
    c->status = r->status ? mslb_xstrdup(r->status) : NULL;
    c->body = r->body ? mslb_xstrdup(r->body) : NULL;
    c->send = r->send ? mslb_xstrdup(r->send) : NULL;
    c->expect = r->expect ? mslb_xstrdup(r->expect) : NULL;
    return c;
}

void
model_monitor_request_destroy(struct model_monitor_request *r)
{
    if (r) {
        free(r->method);
        free(r->path);
        free(r->host);
        free(r->status);
        free(r->body);
        free(r->send);
        free(r->expect);
        free(r);
    }
}

void
model_monitor_request_to_json(const struct model_monitor_request *r,
                              json_t *j)
{
    const char *const keys[] = { "method", "path", "host", "status", "body",
                                 "send", "expect" };
    const char *const values[] = { r->method, r->path, r->host, r->status,
                                   r->body, r->send, r->expect };

    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        if (values[i]) {
            json_object_set_new(j, keys[i], json_string(values[i]));
        }
    }
}

/* Printable ASCII without spaces (a path or a Host header). */
static bool
is_token(const char *s)
{
    for (; *s; s++) {
        if (*s <= ' ' || *s > '~') {
            return false;
        }
    }
    return true;
}

/* Status codes "200-399,401" into 'codes'; false if malformed. */
static bool
parse_status(const char *s, uint64_t codes[8])
{
    memset(codes, 0, 8 * sizeof *codes);
    while (*s) {
        char *end;
        long lo = strtol(s, &end, 10), hi = lo;

        if (end == s || lo < 100 || lo > 599) {
            return false;
        }
        s = end;
        if (*s == '-') {
            hi = strtol(s + 1, &end, 10);
            if (end == s + 1 || hi < lo || hi > 599) {
                return false;
            }
            s = end;
        }
        for (long c = lo; c <= hi; c++) {
            codes[c / 64] |= UINT64_C(1) << (c % 64);
        }
        if (*s == ',' && s[1]) {
            s++;
        } else if (*s) {
            return false;
        }
    }
    return true;
}

/* A string member 'key' of 'j' of at most 'max' bytes, or NULL. */
static char *
get_text(const json_t *j, const char *path, const char *key, size_t max,
         bool token, const char **s)
{
    char *error = model_get_string(j, path, key, false, s);

    if (error || !*s) {
        return error;
    }
    if (strlen(*s) > max || (token && (!**s || !is_token(*s)))) {
        return model_key_error(path, key, token
                               ? "must be 1 to %zu printable characters "
                                 "without spaces"
                               : "must be at most %zu characters", max);
    }
    return NULL;
}

/* The request of an http or udp monitor (service level): 'j''s members,
 * defaults filled in. */
static char *
parse_request(const json_t *j, const char *path, enum model_monitor_type t,
              struct model_monitor_request **reqp)
{
    struct model_monitor_request *r;
    const char *s;
    char *error;

    for (int k = 0; http_keys[k]; k++) {
        if (t != MODEL_MONITOR_HTTP && json_object_get(j, http_keys[k])) {
            return model_key_error(path, http_keys[k],
                                   "only for type \"http\"");
        }
    }
    for (int k = 0; udp_keys[k]; k++) {
        if (t != MODEL_MONITOR_UDP && json_object_get(j, udp_keys[k])) {
            return model_key_error(path, udp_keys[k],
                                   "only for type \"udp\"");
        }
    }
    if (t != MODEL_MONITOR_HTTP && t != MODEL_MONITOR_UDP) {
        return NULL;
    }
    r = *reqp = mslb_xzalloc(sizeof *r);
    if (t == MODEL_MONITOR_UDP) {
        if ((error = get_text(j, path, "send", 512, false, &s))) {
            return error;
        }
        r->send = mslb_xstrdup(s ? s : "");
        if ((error = get_text(j, path, "expect", 255, false, &s))) {
            return error;
        }
        r->expect = s && *s ? mslb_xstrdup(s) : NULL;
        return NULL;
    }
    if ((error = get_text(j, path, "method", 8, true, &s))) {
        return error;
    }
    if (s && strcmp(s, "GET") && strcmp(s, "HEAD")) {
        return model_key_error(path, "method", "must be \"GET\" or \"HEAD\"");
    }
    r->method = mslb_xstrdup(s ? s : "GET");
    if ((error = get_text(j, path, "path", 255, true, &s))) {
        return error;
    }
    if (s && s[0] != '/') {
        return model_key_error(path, "path", "must start with \"/\"");
    }
    r->path = mslb_xstrdup(s ? s : "/");
    if ((error = get_text(j, path, "host", 255, true, &s))) {
        return error;
    }
    r->host = s ? mslb_xstrdup(s) : NULL;
    if ((error = get_text(j, path, "status", 255, false, &s))) {
        return error;
    }
    r->status = mslb_xstrdup(s ? s : "200-399");
    if (!parse_status(r->status, r->codes)) {
        return model_key_error(path, "status", "must be status codes or "
                               "ranges from 100 to 599, e.g. \"200-399\" "
                               "or \"200,301-302\"");
    }
    if ((error = get_text(j, path, "body", 255, false, &s))) {
        return error;
    }
    if (s && *s && !strcmp(r->method, "HEAD")) {
        return model_key_error(path, "body", "a HEAD request's answer has "
                               "no body: use \"GET\"");
    }
    r->body = s && *s ? mslb_xstrdup(s) : NULL;
    return NULL;
}

/* "must be \"none\" or \"tcp\"", from the names themselves. */
static char *
type_error(const char *path)
{
    char list[128] = "";
    size_t n = 0;

    for (int t = 0; t < MODEL_N_MONITOR_TYPES; t++) {
        const char *sep = !t ? "" : t == MODEL_N_MONITOR_TYPES - 1 ? " or "
                              : ", ";
        n += snprintf(list + n, sizeof list - n, "%s\"%s\"", sep,
                      model_monitor_type_name(t));
    }
    return model_key_error(path, "type", "must be %s", list);
}

/* Seconds as text: "5", "0.5", "0.125". */
static void
format_seconds(uint32_t ms, char *buf, size_t size)
{
    if (ms % 1000) {
        int n = snprintf(buf, size, "%"PRIu32".%03"PRIu32, ms / 1000,
                         ms % 1000);
        while (n > 0 && buf[n - 1] == '0') {
            buf[--n] = '\0';
        }
    } else {
        snprintf(buf, size, "%"PRIu32, ms / 1000);
    }
}

/* Member 'key' of 'obj', if present: a JSON number of seconds from
 * 'min_ms' to 'max_ms' ms, stored in '*ms' rounded to the ms. */
static char *
get_seconds(const json_t *obj, const char *path, const char *key,
            uint32_t min_ms, uint32_t max_ms, uint32_t *ms, bool *given)
{
    const json_t *v = json_object_get(obj, key);
    double s = json_number_value(v);

    *given = v != NULL;
    if (!v) {
        return NULL;
    }
    /* Rounded only once known to be small enough to round. */
    if (!json_is_number(v) || !(s >= 0 && s <= max_ms / 1000.0 + 1)
        || (uint32_t) (s * 1000 + 0.5) < min_ms
        || (uint32_t) (s * 1000 + 0.5) > max_ms) {
        char lo[16], hi[16];

        format_seconds(min_ms, lo, sizeof lo);
        format_seconds(max_ms, hi, sizeof hi);
        return model_key_error(path, key, "must be a number of seconds "
                               "from %s to %s", lo, hi);
    }
    *ms = s * 1000 + 0.5;
    return NULL;
}

/* Reads monitor object 'j' at 'path' over '*mon', which holds what applies
 * when a field is absent; 'mon->set' becomes the fields 'j' gives.  A
 * timeout that 'j' does not give is no longer than the interval: whether
 * the one it inherits was given or a default cannot matter, since the
 * service's monitor is rendered in full. */
static char *
parse_monitor(const json_t *j, const char *path, bool type_required,
              struct model_monitor *mon,
              struct model_monitor_request **reqp)
{
    const char *s;
    long long n;
    bool given;
    char *error;

    if (!json_is_object(j)) {
        return model_error(path, "must be an object");
    }
    mon->set = 0;
    if ((error = model_check_keys(j, path, monitor_keys))
        || (error = model_get_string(j, path, "type", type_required,
                                     &s))) {
        return error;
    }
    if (s) {
        int t;
        for (t = 0; t < MODEL_N_MONITOR_TYPES; t++) {
            if (!strcmp(s, model_monitor_type_name(t))) {
                break;
            }
        }
        if (t == MODEL_N_MONITOR_TYPES) {
            return type_error(path);
        }
        mon->type = t;
        mon->set |= MODEL_MONITOR_F_TYPE;
    }
    if ((error = model_get_int(j, path, "port", false, 1, 65535, 0, &n))) {
        return error;
    }
    if (n) {
        mon->port = n;
        mon->set |= MODEL_MONITOR_F_PORT;
    }
    if ((error = get_seconds(j, path, "interval", 100, 3600 * 1000,
                             &mon->interval_ms, &given))) {
        return error;
    }
    mon->set |= given ? MODEL_MONITOR_F_INTERVAL : 0;
    if ((error = get_seconds(j, path, "timeout", 50, 3600 * 1000,
                             &mon->timeout_ms, &given))) {
        return error;
    }
    mon->set |= given ? MODEL_MONITOR_F_TIMEOUT : 0;
    if (!given && mon->timeout_ms > mon->interval_ms) {
        mon->timeout_ms = mon->interval_ms;
    }
    if ((error = model_get_int(j, path, "rise", false, 1, 100, mon->rise,
                               &n))) {
        return error;
    }
    mon->rise = n;
    mon->set |= json_object_get(j, "rise") ? MODEL_MONITOR_F_RISE : 0;
    if ((error = model_get_int(j, path, "fall", false, 1, 100, mon->fall,
                               &n))) {
        return error;
    }
    mon->fall = n;
    mon->set |= json_object_get(j, "fall") ? MODEL_MONITOR_F_FALL : 0;
    if ((error = model_get_string(j, path, "sessions", false, &s))) {
        return error;
    }
    if (s) {
        if (strcmp(s, "keep") && strcmp(s, "reset")) {
            return model_key_error(path, "sessions",
                                   "must be \"keep\" or \"reset\"");
        }
        mon->reset_sessions = !strcmp(s, "reset");
        mon->set |= MODEL_MONITOR_F_SESSIONS;
    }

    if (mon->timeout_ms > mon->interval_ms) {
        char buf[16];

        format_seconds(mon->interval_ms, buf, sizeof buf);
        return model_key_error(path, "timeout", "must not exceed interval "
                               "(%s s)", buf);
    }
    if (mon->type == MODEL_MONITOR_ICMP && (mon->set & MODEL_MONITOR_F_PORT)) {
        return model_key_error(path, "port", "not for type \"icmp\"");
    }
    if (reqp) {
        return parse_request(j, path, mon->type, reqp);
    }
    for (int k = 0; monitor_keys[k]; k++) {
        if (k >= 7 && json_object_get(j, monitor_keys[k])) {
            return model_key_error(path, monitor_keys[k], "only in the "
                                   "service's monitor (its backends share "
                                   "it)");
        }
    }
    return NULL;
}

static const char *
article(enum model_monitor_type t)
{
    return t == MODEL_MONITOR_HTTP || t == MODEL_MONITOR_ICMP ? "an" : "a";
}

/* A monitor of type 't' probes a port of its own protocol (TCP: tcp,
 * http; UDP: udp): a service of another protocol must name one. */
static char *
port_error(const char *path, const struct model_service *svc,
           enum model_monitor_type t)
{
    uint8_t proto = t == MODEL_MONITOR_UDP ? IPPROTO_UDP : IPPROTO_TCP;

    return model_key_error(path, "port", "is required for %s %s monitor "
                           "when protocol is \"%s\" (probes need a%s %s "
                           "port)", article(t), model_monitor_type_name(t),
                           svc->proto ? model_proto_name(svc->proto) : "any",
                           "", proto == IPPROTO_UDP ? "UDP" : "TCP");
}

char *
model_parse_service_monitor(const json_t *j, const char *path,
                            struct model_service *svc)
{
    const json_t *v = json_object_get(j, "monitor");
    struct model_monitor *mon = &svc->monitor;
    char sub[512];
    char *error;

    *mon = (struct model_monitor) {
        .type = MODEL_MONITOR_NONE,
        .interval_ms = MODEL_MONITOR_INTERVAL_MS,
        .timeout_ms = MODEL_MONITOR_TIMEOUT_MS,
        .rise = MODEL_MONITOR_RISE,
        .fall = MODEL_MONITOR_FALL,
    };
    if (!v) {
        return NULL;
    }
    model_path_key(sub, sizeof sub, path, "monitor");
    if (svc->mode == MODEL_MODE_LOCAL) {
        return model_error(sub, "not available in mode local (the "
                           "bridge's own host serves the VIP)");
    }
    if ((error = parse_monitor(v, sub, true, mon, &svc->request))) {
        return error;
    }
    if (mon->type != MODEL_MONITOR_NONE && mon->type != MODEL_MONITOR_ICMP
        && !mon->port
        && svc->proto != (mon->type == MODEL_MONITOR_UDP ? IPPROTO_UDP
                                                         : IPPROTO_TCP)) {
        return port_error(sub, svc, mon->type);
    }
    return NULL;
}

char *
model_parse_backend_monitor(const json_t *j, const char *path,
                            const struct model_service *svc,
                            struct model_backend *be)
{
    const json_t *v = json_object_get(j, "monitor");
    char sub[512];

    char *error;

    be->monitor = svc->monitor;
    be->monitor.set = 0;
    if (!v) {
        return NULL;
    }
    model_path_key(sub, sizeof sub, path, "monitor");
    error = parse_monitor(v, sub, false, &be->monitor, NULL);
    if (!error && (be->monitor.type == MODEL_MONITOR_HTTP
                   || be->monitor.type == MODEL_MONITOR_UDP)
        && be->monitor.type != svc->monitor.type) {
        error = model_key_error(sub, "type", "\"%s\" needs the service's "
                                "monitor to be of that type (it holds the "
                                "request)",
                                model_monitor_type_name(be->monitor.type));
    }
    return error;
}

char *
model_check_probe_port(const struct model_service *svc,
                       const struct model_backend *be, const char *svc_path,
                       const char *be_path)
{
    const struct model_monitor *mon = &be->monitor;
    char sub[512];

    uint8_t proto = mon->type == MODEL_MONITOR_UDP ? IPPROTO_UDP
                    : IPPROTO_TCP;

    if (mon->type != MODEL_MONITOR_NONE && svc->mode == MODEL_MODE_SLB
        && svc->proto && !svc->floating_ip) {
        /* The probe goes through the host's translation, which takes
         * VIP:port of the service's protocol only. */
        model_path_key(sub, sizeof sub, mon->set & MODEL_MONITOR_F_TYPE
                       ? be_path : svc_path, "monitor");
        if (mon->type == MODEL_MONITOR_ICMP || proto != svc->proto) {
            return model_key_error(sub, "type", "%s %s monitor cannot "
                                   "reach an slb backend: its host "
                                   "translates %s to port %u only",
                                   article(mon->type),
                                   model_monitor_type_name(mon->type),
                                   model_proto_name(svc->proto), svc->port);
        }
        if (mon->port && mon->port != svc->port) {
            return model_key_error(sub, "port", "must be the service's "
                                   "port (%u) in mode slb: the host "
                                   "translates only that one", svc->port);
        }
    }
    if (mon->type == MODEL_MONITOR_NONE || mon->type == MODEL_MONITOR_ICMP
        || mon->port) {
        return NULL;
    }
    /* A probe goes to monitor.port, else to the backend's port (the
     * service's, unless nat translates it).  The monitor that lacks the
     * port is the backend's if it turned probing on, else the
     * service's. */
    model_path_key(sub, sizeof sub, mon->set & MODEL_MONITOR_F_TYPE
                   ? be_path : svc_path, "monitor");
    if (svc->proto != proto) {
        return port_error(sub, svc, mon->type);
    }
    if (!be->port) {
        return model_key_error(sub, "port", "is required for %s %s "
                               "monitor: the service has no port (it "
                               "covers every port)", article(mon->type),
                               model_monitor_type_name(mon->type));
    }
    return NULL;
}

char *
model_check_monitor_gateways(const struct model_service *svc,
                             const struct model_bridge *br,
                             const char *path)
{
    const char *what = "monitor";
    char sub[512];
    int family = 0;

    for (size_t i = 0; i < svc->n_backends && !family; i++) {
        if (svc->backends[i].monitor.type != MODEL_MONITOR_NONE) {
            family = svc->backends[i].ip.family;
            if (svc->monitor.type == MODEL_MONITOR_NONE) {
                snprintf(sub, sizeof sub, "backends[%zu].monitor", i);
                what = sub;
            }
        }
    }
    if (!family || !model_service_on_bridge(svc, br->name)) {
        return NULL;
    }
    for (size_t g = 0; g < br->n_gateways; g++) {
        if (br->gateways[g].family == family) {
            return NULL;
        }
    }
    return model_key_error(path, what, "bridge \"%s\" has no %s gateway "
                           "address to send probes from (add one to its "
                           "gateways)", br->name,
                           family == AF_INET ? "IPv4" : "IPv6");
}
