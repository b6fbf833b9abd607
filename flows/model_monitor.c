/* Health monitors (docs/health.md): a service's "monitor" object, a
 * backend's own one merged over it, and the rules they keep that do not
 * look beyond the service.  Rendering is in model_json.c. */
#include "model-private.h"

#include <jansson.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char *const monitor_keys[] = {
    "type", "port", "interval", "timeout", "rise", "fall", NULL
};

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
              struct model_monitor *mon)
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

    if (mon->timeout_ms > mon->interval_ms) {
        char buf[16];

        format_seconds(mon->interval_ms, buf, sizeof buf);
        return model_key_error(path, "timeout", "must not exceed interval "
                               "(%s s)", buf);
    }
    return NULL;
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
    if ((error = parse_monitor(v, sub, true, mon))) {
        return error;
    }
    if (mon->type == MODEL_MONITOR_TCP && svc->proto != IPPROTO_TCP
        && !mon->port) {
        return model_key_error(sub, "port", "is required for a tcp "
                               "monitor when protocol is \"%s\" (probes "
                               "need a TCP port)",
                               svc->proto ? model_proto_name(svc->proto)
                               : "any");
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

    be->monitor = svc->monitor;
    be->monitor.set = 0;
    if (!v) {
        return NULL;
    }
    model_path_key(sub, sizeof sub, path, "monitor");
    return parse_monitor(v, sub, false, &be->monitor);
}

char *
model_check_probe_port(const struct model_service *svc,
                       const struct model_backend *be, const char *svc_path,
                       const char *be_path)
{
    const struct model_monitor *mon = &be->monitor;
    char sub[512];

    if (mon->type == MODEL_MONITOR_NONE || mon->port) {
        return NULL;
    }
    /* A probe goes to monitor.port, else to the backend's port (the
     * service's, unless nat translates it).  The monitor that lacks the
     * port is the backend's if it turned probing on, else the
     * service's. */
    model_path_key(sub, sizeof sub, mon->set & MODEL_MONITOR_F_TYPE
                   ? be_path : svc_path, "monitor");
    if (svc->proto != IPPROTO_TCP) {
        return model_key_error(sub, "port", "is required for a tcp "
                               "monitor when protocol is \"%s\" (probes "
                               "need a TCP port)",
                               svc->proto ? model_proto_name(svc->proto)
                               : "any");
    }
    if (!be->port) {
        return model_key_error(sub, "port", "is required for a tcp "
                               "monitor: the service has no port (it "
                               "covers every port)");
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
