/* Building and validating the service model from JSON. */
#include "mslb/model.h"

#include <jansson.h>
#include "mslb/xalloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A validation failure: a malloc'd "path: reason". */
static char * MSLB_WARN_UNUSED
verr(const char *path, const char *fmt, ...)
{
    char reason[512];
    va_list args;
    char *msg;

    va_start(args, fmt);
    vsnprintf(reason, sizeof reason, fmt, args);
    va_end(args);
    if (asprintf(&msg, "%s: %s", path[0] ? path : "(top level)",
                 reason) < 0) {
        abort();
    }
    return msg;
}

/* Each object's allowed keys; anything else is an error. */
static char *
check_keys(const json_t *obj, const char *path, const char *const *allowed)
{
    const char *key;
    json_t *value;

    json_object_foreach ((json_t *) obj, key, value) {
        const char *const *a;
        for (a = allowed; *a; a++) {
            if (!strcmp(*a, key)) {
                break;
            }
        }
        if (!*a) {
            char sub[512];
            snprintf(sub, sizeof sub, "%s%s%s", path, path[0] ? "." : "",
                     key);
            return verr(sub, "unknown key");
        }
    }
    return NULL;
}

static void
subpath(char *buf, size_t size, const char *path, const char *key)
{
    snprintf(buf, size, "%s%s%s", path, path[0] ? "." : "", key);
}

static void
indexpath(char *buf, size_t size, const char *path, const char *key,
          size_t i)
{
    snprintf(buf, size, "%s%s%s[%zu]", path, path[0] ? "." : "", key, i);
}

static bool
name_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (!n || n > max) {
        return false;
    }
    for (const char *p = s; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'
              || *p == '.')) {
            return false;
        }
    }
    return true;
}

/* Reads a required or optional string member.  '*out' stays NULL when an
 * optional member is absent. */
static char *
get_string(const json_t *obj, const char *path, const char *key,
           bool required, const char **out)
{
    char sub[512];
    json_t *v = json_object_get(obj, key);

    subpath(sub, sizeof sub, path, key);
    *out = NULL;
    if (!v) {
        return required ? verr(sub, "is required") : NULL;
    }
    if (!json_is_string(v)) {
        return verr(sub, "must be a string");
    }
    *out = json_string_value(v);
    return NULL;
}

static char *
get_int(const json_t *obj, const char *path, const char *key, bool required,
        long long min, long long max, long long dflt, long long *out)
{
    char sub[512];
    json_t *v = json_object_get(obj, key);

    subpath(sub, sizeof sub, path, key);
    *out = dflt;
    if (!v) {
        return required ? verr(sub, "is required") : NULL;
    }
    if (!json_is_integer(v) || json_integer_value(v) < min
        || json_integer_value(v) > max) {
        return verr(sub, "must be an integer from %lld to %lld", min, max);
    }
    *out = json_integer_value(v);
    return NULL;
}

static bool
parse_addr(const char *s, struct mslb_addr *a)
{
    memset(a, 0, sizeof *a);
    if (inet_pton(AF_INET, s, &a->v4) == 1) {
        a->family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, s, &a->v6) == 1) {
        a->family = AF_INET6;
        return true;
    }
    return false;
}

/* Why 'a' cannot be one host's address (a VIP, a backend, a gateway),
 * or NULL.  IPv4 in IPv6 (mapped, compatible) would be a second spelling
 * of an IPv4 address the pipeline matches as IPv6. */
static const char *
not_host_addr(const struct mslb_addr *a)
{
    if (a->family == AF_INET) {
        uint32_t h = ntohl(a->v4.s_addr);
        if (!h || (h >> 28) >= 0xe || (h >> 24) == 127 || (h >> 24) == 0) {
            return "is not a unicast host address";
        }
    } else if (IN6_IS_ADDR_UNSPECIFIED(&a->v6)
               || IN6_IS_ADDR_MULTICAST(&a->v6)
               || IN6_IS_ADDR_LOOPBACK(&a->v6)) {
        return "is not a unicast host address";
    } else if (IN6_IS_ADDR_V4MAPPED(&a->v6)) {
        return "is an IPv4-mapped IPv6 address: write the IPv4 address";
    } else if (IN6_IS_ADDR_V4COMPAT(&a->v6)) {
        return "is an IPv4-compatible IPv6 address (deprecated)";
    }
    return NULL;
}

static char *
get_addr(const json_t *obj, const char *path, const char *key,
         struct mslb_addr *a)
{
    char sub[512];
    const char *s;
    char *error = get_string(obj, path, key, true, &s);

    if (error) {
        return error;
    }
    subpath(sub, sizeof sub, path, key);
    if (!parse_addr(s, a)) {
        return verr(sub, "\"%s\" is not an IPv4 or IPv6 address", s);
    }
    const char *why = not_host_addr(a);
    return why ? verr(sub, "\"%s\" %s", s, why) : NULL;
}

static char *
get_mac(const json_t *obj, const char *path, const char *key,
        struct mslb_mac *mac)
{
    char sub[512];
    const char *s;
    unsigned int b[6];
    char extra;
    char *error = get_string(obj, path, key, true, &s);

    if (error) {
        return error;
    }
    subpath(sub, sizeof sub, path, key);
    if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
               &b[4], &b[5], &extra) != 6 || strlen(s) != 17) {
        return verr(sub, "\"%s\" is not a MAC address (xx:xx:xx:xx:xx:xx)",
                    s);
    }
    for (int i = 0; i < 6; i++) {
        mac->b[i] = b[i];
    }
    if (mac->b[0] & 1) {
        return verr(sub, "\"%s\" is a multicast MAC address", s);
    }
    if (!(b[0] | b[1] | b[2] | b[3] | b[4] | b[5])) {
        return verr(sub, "\"%s\" is the zero MAC address", s);
    }
    return NULL;
}

static char *
get_array(const json_t *obj, const char *path, const char *key, bool required,
          json_t **out)
{
    char sub[512];
    json_t *v = json_object_get(obj, key);

    subpath(sub, sizeof sub, path, key);
    *out = v;
    if (!v) {
        return required ? verr(sub, "is required") : NULL;
    }
    if (!json_is_array(v)) {
        return verr(sub, "must be an array");
    }
    return NULL;
}

static char *
parse_bridge(const json_t *j, const char *path, struct model_bridge *br)
{
    static const char *const keys[] = {
        "name", "role", "datapath_id", "mac", "frontend_port",
        "backend_port", "gateways", "ct_zone", "tunnel_ports", NULL
    };
    json_t *tports;
    char sub[512];
    const char *s;
    json_t *gws;
    long long zone;
    char *error;

    if (!json_is_object(j)) {
        return verr(path, "must be an object");
    }
    if ((error = check_keys(j, path, keys))
        || (error = get_string(j, path, "name", true, &s))) {
        return error;
    }
    if (!name_ok(s, 15)) {
        subpath(sub, sizeof sub, path, "name");
        return verr(sub, "must be 1 to 15 characters of A-Z a-z 0-9 . _ -");
    }
    br->name = mslb_xstrdup(s);
    if ((error = get_string(j, path, "role", false, &s))) {
        return error;
    }
    if (!s || !strcmp(s, "first")) {
        br->role = MODEL_ROLE_FIRST;
    } else if (!strcmp(s, "final")) {
        br->role = MODEL_ROLE_FINAL;
    } else {
        subpath(sub, sizeof sub, path, "role");
        return verr(sub, "must be \"first\" or \"final\"");
    }

    if ((error = get_string(j, path, "datapath_id", false, &s))) {
        return error;
    }
    if (s) {
        char *end;
        subpath(sub, sizeof sub, path, "datapath_id");
        errno = 0;
        br->dpid = strtoull(s, &end, 16);
        if (!s[0] || *end || errno || strlen(s) > 16 || !br->dpid
            || strspn(s, "0123456789abcdefABCDEF") != strlen(s)) {
            return verr(sub, "must be a nonzero hexadecimal string of up "
                        "to 16 digits");
        }
        br->has_dpid = true;
    }
    if (br->role == MODEL_ROLE_FIRST || json_object_get(j, "mac")) {
        if ((error = get_mac(j, path, "mac", &br->mac))) {
            return error;
        }
    }
    if ((error = get_string(j, path, "frontend_port",
                            br->role == MODEL_ROLE_FIRST, &s))) {
        return error;
    }
    if (s && !name_ok(s, 15)) {
        subpath(sub, sizeof sub, path, "frontend_port");
        return verr(sub, "must be a port name of 1 to 15 characters");
    }
    br->frontend_port = mslb_xstrdup(s ? s : "");
    if ((error = get_string(j, path, "backend_port", false, &s))) {
        return error;
    }
    if (s && !name_ok(s, 15)) {
        subpath(sub, sizeof sub, path, "backend_port");
        return verr(sub, "must be a port name of 1 to 15 characters");
    }
    br->backend_port = mslb_xstrdup(s ? s : br->frontend_port);

    tports = json_object_get(j, "tunnel_ports");
    if (tports) {
        const char *key;
        json_t *v;

        subpath(sub, sizeof sub, path, "tunnel_ports");
        if (!json_is_object(tports)) {
            return verr(sub, "must be an object");
        }
        json_object_foreach (tports, key, v) {
            char sub2[600];
            int t;

            snprintf(sub2, sizeof sub2, "%s.%s", sub, key);
            for (t = 0; t < MODEL_N_TUNNELS; t++) {
                if (!strcmp(key, model_tunnel_name(t))) {
                    break;
                }
            }
            if (t == MODEL_N_TUNNELS) {
                return verr(sub2, "unknown key");
            }
            if (!json_is_string(v) || !name_ok(json_string_value(v), 15)) {
                return verr(sub2, "must be a port name of 1 to 15 "
                            "characters");
            }
            br->tunnel_ports[t] = mslb_xstrdup(json_string_value(v));
        }
    }

    if ((error = get_array(j, path, "gateways", false, &gws))) {
        return error;
    }
    if (gws) {
        size_t i;
        json_t *g;

        br->gateways = mslb_xzalloc(json_array_size(gws)
                                * sizeof *br->gateways);
        json_array_foreach (gws, i, g) {
            indexpath(sub, sizeof sub, path, "gateways", i);
            if (!json_is_string(g)
                || !parse_addr(json_string_value(g), &br->gateways[i])) {
                return verr(sub, "must be an IPv4 or IPv6 address string");
            }
            const char *why = not_host_addr(&br->gateways[i]);
            if (why) {
                return verr(sub, "\"%s\" %s", json_string_value(g), why);
            }
            for (size_t k = 0; k < i; k++) {
                if (mslb_addr_equal(&br->gateways[k], &br->gateways[i])) {
                    return verr(sub, "duplicate gateway address");
                }
            }
            br->n_gateways++;
        }
    }
    if ((error = get_int(j, path, "ct_zone", false, 1, 65535, 1, &zone))) {
        return error;
    }
    br->ct_zone = zone;
    return NULL;
}

static char *
parse_backend(const json_t *j, const char *path,
              const struct model_lookup *lk, const struct model_service *svc,
              struct model_backend *be)
{
    static const char *const keys[] = {
        "name", "ip", "port", "mac", "weight", "state", "host",
        "host_bridge", NULL
    };
    const char *mode = model_mode_name(svc->mode);
    char sub[512];
    const char *s;
    long long n;
    char *error;

    if (!json_is_object(j)) {
        return verr(path, "must be an object");
    }
    if ((error = check_keys(j, path, keys))
        || (error = get_string(j, path, "name", true, &s))) {
        return error;
    }
    if (!name_ok(s, 63)) {
        subpath(sub, sizeof sub, path, "name");
        return verr(sub, "must be 1 to 63 characters of A-Z a-z 0-9 . _ -");
    }
    be->name = mslb_xstrdup(s);
    if ((error = get_addr(j, path, "ip", &be->ip))) {
        return error;
    }
    subpath(sub, sizeof sub, path, "ip");
    if (be->ip.family != svc->vip.family) {
        return verr(sub, "address family differs from the service's vip");
    }
    if (mslb_addr_equal(&be->ip, &svc->vip)) {
        return verr(sub, "must differ from the service's vip");
    }
    if ((error = get_int(j, path, "port", false, 1, 65535, svc->port, &n))) {
        return error;
    }
    be->port = n;
    if (svc->mode != MODEL_MODE_NAT && be->port != svc->port) {
        subpath(sub, sizeof sub, path, "port");
        return verr(sub, svc->port
                    ? "must equal the service's port in mode %s (only nat "
                      "translates ports)"
                    : "must be absent when the service covers every port",
                    mode);
    }
    if ((error = get_mac(j, path, "mac", &be->mac))) {
        return error;
    }
    be->has_mac = true;
    if (json_object_get(j, "host")) {
        if (svc->mode != MODEL_MODE_TUN && svc->mode != MODEL_MODE_MSLB) {
            subpath(sub, sizeof sub, path, "host");
            return verr(sub, "only for modes tun and mslb");
        }
        if ((error = get_addr(j, path, "host", &be->host))) {
            return error;
        }
    } else if (svc->mode == MODEL_MODE_MSLB) {
        subpath(sub, sizeof sub, path, "host");
        return verr(sub, "is required in mode mslb (the final-stage "
                    "bridge's tunnel address)");
    }
    if ((error = get_string(j, path, "host_bridge",
                            svc->mode == MODEL_MODE_MSLB, &s))) {
        return error;
    }
    if (s) {
        const struct model_bridge *hb = lk->find_bridge(lk->aux, s);

        subpath(sub, sizeof sub, path, "host_bridge");
        if (svc->mode != MODEL_MODE_MSLB && svc->mode != MODEL_MODE_L3DSR) {
            return verr(sub, "only for modes mslb and l3dsr");
        }
        if (!hb) {
            return verr(sub, "no bridge named \"%s\"", s);
        }
        if (hb->role != MODEL_ROLE_FINAL) {
            return verr(sub, "bridge \"%s\" is not a final-stage bridge",
                        s);
        }
        if (svc->mode == MODEL_MODE_MSLB && !hb->tunnel_ports[svc->tunnel]) {
            return verr(sub, "bridge \"%s\" has no %s tunnel port", s,
                        model_tunnel_name(svc->tunnel));
        }
        be->host_bridge = mslb_xstrdup(s);
    }
    if ((error = get_int(j, path, "weight", false, 1, MODEL_MAX_WEIGHT, 1,
                         &n))) {
        return error;
    }
    be->weight = n;
    if ((error = get_string(j, path, "state", false, &s))) {
        return error;
    }
    if (!s || !strcmp(s, "up")) {
        be->state = MODEL_BACKEND_UP;
    } else if (!strcmp(s, "drain")) {
        be->state = MODEL_BACKEND_DRAIN;
    } else if (!strcmp(s, "down")) {
        be->state = MODEL_BACKEND_DOWN;
    } else {
        subpath(sub, sizeof sub, path, "state");
        return verr(sub, "must be \"up\", \"drain\" or \"down\"");
    }
    {
        uint8_t key[18];
        size_t kn = be->ip.family == AF_INET ? 4 : 16;
        memcpy(key, &be->ip.v6, kn);
        key[kn] = be->port >> 8;
        key[kn + 1] = be->port & 0xff;
        be->key = mslb_hash_bytes(key, kn + 2, 0x6d736c62);
        if (!be->key) {
            be->key = 1;
        }
    }
    return NULL;
}

static char *
parse_service(const json_t *j, const char *path,
              const struct model_lookup *lk, struct model_service *svc)
{
    static const char *const keys[] = {
        "name", "vip", "protocol", "port", "mode", "bridges", "backends",
        "idle_timeout", "persistence", "tunnel", "dscp", NULL
    };
    char sub[512];
    const char *s;
    json_t *arr, *v;
    long long n;
    size_t i;
    char *error;

    if (!json_is_object(j)) {
        return verr(path, "must be an object");
    }
    if ((error = check_keys(j, path, keys))
        || (error = get_string(j, path, "name", true, &s))) {
        return error;
    }
    if (!name_ok(s, 63)) {
        subpath(sub, sizeof sub, path, "name");
        return verr(sub, "must be 1 to 63 characters of A-Z a-z 0-9 . _ -");
    }
    svc->name = mslb_xstrdup(s);
    if ((error = get_addr(j, path, "vip", &svc->vip))) {
        return error;
    }
    if ((error = get_string(j, path, "mode", false, &s))) {
        return error;
    }
    svc->mode = MODEL_MODE_NAT;
    if (s) {
        int k;
        for (k = 0; k < MODEL_N_MODES; k++) {
            if (!strcmp(s, model_mode_name(k))) {
                break;
            }
        }
        if (k == MODEL_N_MODES) {
            subpath(sub, sizeof sub, path, "mode");
            return verr(sub, "must be \"nat\", \"dr\", \"tun\", "
                        "\"l3dsr\", \"mslb\" or \"local\"");
        }
        svc->mode = k;
    }
    if ((error = get_string(j, path, "protocol", true, &s))) {
        return error;
    }
    if (!strcmp(s, "tcp")) {
        svc->proto = IPPROTO_TCP;
    } else if (!strcmp(s, "udp")) {
        svc->proto = IPPROTO_UDP;
    } else if (!strcmp(s, "any")) {
        svc->proto = 0;
        if (svc->mode == MODEL_MODE_NAT) {
            subpath(sub, sizeof sub, path, "protocol");
            return verr(sub, "\"any\" is not available in mode nat");
        }
    } else {
        subpath(sub, sizeof sub, path, "protocol");
        return verr(sub, "must be \"tcp\", \"udp\" or \"any\"");
    }
    if ((error = get_int(j, path, "port",
                         svc->mode == MODEL_MODE_NAT, 1, 65535, 0, &n))) {
        return error;
    }
    svc->port = n;
    if (!svc->proto && svc->port) {
        subpath(sub, sizeof sub, path, "port");
        return verr(sub, "must be absent when protocol is \"any\"");
    }
    if ((error = get_int(j, path, "idle_timeout", false, 1, 86400, 300, &n))) {
        return error;
    }
    svc->idle_timeout = n;
    if ((error = get_int(j, path, "persistence", false, 0, 86400, 0, &n))) {
        return error;
    }
    svc->persistence = n;
    if (svc->mode == MODEL_MODE_NAT && svc->persistence) {
        subpath(sub, sizeof sub, path, "persistence");
        return verr(sub, "not available in mode nat");
    }
    if ((error = get_string(j, path, "tunnel", false, &s))) {
        return error;
    }
    svc->tunnel = MODEL_TUNNEL_VXLAN;
    if (s) {
        int k;
        subpath(sub, sizeof sub, path, "tunnel");
        if (svc->mode != MODEL_MODE_TUN && svc->mode != MODEL_MODE_MSLB) {
            return verr(sub, "only for modes tun and mslb");
        }
        for (k = 0; k < MODEL_N_TUNNELS; k++) {
            if (!strcmp(s, model_tunnel_name(k))) {
                break;
            }
        }
        if (k == MODEL_N_TUNNELS) {
            return verr(sub, "must be \"vxlan\", \"gre\" or \"geneve\"");
        }
        svc->tunnel = k;
    }
    if ((error = get_int(j, path, "dscp", svc->mode == MODEL_MODE_L3DSR, 1,
                         63, 0, &n))) {
        return error;
    }
    svc->dscp = n;
    if (svc->dscp && svc->mode != MODEL_MODE_L3DSR) {
        subpath(sub, sizeof sub, path, "dscp");
        return verr(sub, "only for mode l3dsr");
    }

    if ((error = get_array(j, path, "bridges", true, &arr))) {
        return error;
    }
    subpath(sub, sizeof sub, path, "bridges");
    if (!json_array_size(arr)) {
        return verr(sub, "must name at least one bridge");
    }
    svc->bridges = mslb_xzalloc(json_array_size(arr) * sizeof *svc->bridges);
    json_array_foreach (arr, i, v) {
        indexpath(sub, sizeof sub, path, "bridges", i);
        if (!json_is_string(v)) {
            return verr(sub, "must be a string");
        }
        const struct model_bridge *br = lk->find_bridge(
            lk->aux, json_string_value(v));
        if (!br) {
            return verr(sub, "no bridge named \"%s\"", json_string_value(v));
        }
        if (br->role != MODEL_ROLE_FIRST) {
            return verr(sub, "bridge \"%s\" is not a first-stage bridge",
                        br->name);
        }
        if ((svc->mode == MODEL_MODE_TUN || svc->mode == MODEL_MODE_MSLB)
            && !br->tunnel_ports[svc->tunnel]) {
            return verr(sub, "bridge \"%s\" has no %s tunnel port",
                        br->name, model_tunnel_name(svc->tunnel));
        }
        for (size_t k = 0; k < i; k++) {
            if (!strcmp(svc->bridges[k], json_string_value(v))) {
                return verr(sub, "bridge named twice");
            }
        }
        svc->bridges[svc->n_bridges++] = mslb_xstrdup(json_string_value(v));
    }

    if ((error = get_array(j, path, "backends", true, &arr))) {
        return error;
    }
    if (json_array_size(arr) > MODEL_MAX_BACKENDS) {
        subpath(sub, sizeof sub, path, "backends");
        return verr(sub, "at most %d backends", MODEL_MAX_BACKENDS);
    }
    if (svc->mode == MODEL_MODE_LOCAL && json_array_size(arr)) {
        subpath(sub, sizeof sub, path, "backends");
        return verr(sub, "must be empty in mode local (the bridge's own "
                    "host serves the VIP)");
    }
    svc->backends = mslb_xzalloc(json_array_size(arr) * sizeof *svc->backends);
    json_array_foreach (arr, i, v) {
        struct model_backend *be = &svc->backends[i];

        indexpath(sub, sizeof sub, path, "backends", i);
        svc->n_backends++;
        if ((error = parse_backend(v, sub, lk, svc, be))) {
            return error;
        }
        for (size_t k = 0; k < i; k++) {
            const struct model_backend *o = &svc->backends[k];
            if (!strcmp(o->name, be->name)) {
                return verr(sub, "duplicate backend name \"%s\"", be->name);
            }
            if (mslb_addr_equal(&o->ip, &be->ip) && o->port == be->port) {
                return verr(sub, "duplicate backend address and port "
                            "(same as backends[%zu])", k);
            }
            if (o->key == be->key) {
                return verr(sub, "backend id collides with backends[%zu]'s; "
                            "change its port or address", k);
            }
        }
    }
    return NULL;
}

uint32_t
mslb_hash_bytes(const void *p_, size_t n, uint32_t basis)
{
    const uint8_t *p = p_;
    uint32_t h = 2166136261u ^ basis;

    for (size_t i = 0; i < n; i++) {
        h = (h ^ p[i]) * 16777619u;
    }
    return h;
}

/* A service's id names its group and marks its flows' cookies.  It is
 * derived from the service's key (vip, protocol, port) alone, so it stays
 * the same across restarts and unrelated model changes; collisions are
 * resolved by probing in key order. */
uint32_t
model_service_key_hash(const struct model_service *svc)
{
    uint8_t key[16 + 1 + 2];
    size_t n = svc->vip.family == AF_INET ? 4 : 16;

    memcpy(key, svc->vip.family == AF_INET ? (const void *) &svc->vip.v4
           : (const void *) &svc->vip.v6, n);
    key[n] = svc->proto;
    key[n + 1] = svc->port >> 8;
    key[n + 2] = svc->port & 0xff;
    return mslb_hash_bytes(key, n + 3, 0);
}

int
model_service_key_compare(const void *a_, const void *b_)
{
    const struct model_service *a = a_, *b = b_;
    uint32_t ha = model_service_key_hash(a), hb = model_service_key_hash(b);
    int c;

    if (ha != hb) {
        return ha < hb ? -1 : 1;
    }
    if (a->vip.family != b->vip.family) {
        return a->vip.family < b->vip.family ? -1 : 1;
    }
    c = memcmp(&a->vip.v6, &b->vip.v6,
               a->vip.family == AF_INET ? 4 : 16);
    if (c) {
        return c;
    }
    if (a->proto != b->proto) {
        return a->proto < b->proto ? -1 : 1;
    }
    return a->port < b->port ? -1 : a->port > b->port;
}


/* Cross-service checks sort indexes instead of comparing all pairs, so a
 * model of 10,000 services x 32 backends validates quickly. */
static const struct model *sort_model;

static int
compare_service_names(const void *a_, const void *b_)
{
    const size_t *a = a_, *b = b_;
    int c = strcmp(sort_model->services[*a].name,
                   sort_model->services[*b].name);
    return c ? c : (*a > *b) - (*a < *b);
}

static int
compare_service_keys(const void *a_, const void *b_)
{
    const size_t *a = a_, *b = b_;
    int c = model_service_key_compare(&sort_model->services[*a],
                                    &sort_model->services[*b]);
    return c ? c : (*a > *b) - (*a < *b);
}

static char *
check_services_unique(const struct model *m)
{
    size_t *idx = mslb_xzalloc(m->n_services * sizeof *idx);
    char sub[64];
    char *error = NULL;

    for (size_t i = 0; i < m->n_services; i++) {
        idx[i] = i;
    }
    sort_model = m;
    qsort(idx, m->n_services, sizeof *idx, compare_service_names);
    for (size_t i = 1; i < m->n_services && !error; i++) {
        if (!strcmp(m->services[idx[i - 1]].name,
                    m->services[idx[i]].name)) {
            snprintf(sub, sizeof sub, "services[%zu]", idx[i]);
            error = verr(sub, "duplicate service name \"%s\"",
                         m->services[idx[i]].name);
        }
    }
    qsort(idx, m->n_services, sizeof *idx, compare_service_keys);
    for (size_t i = 1; i < m->n_services && !error; i++) {
        if (!model_service_key_compare(&m->services[idx[i - 1]],
                                     &m->services[idx[i]])) {
            snprintf(sub, sizeof sub, "services[%zu]", idx[i]);
            error = verr(sub, "duplicate virtual service (same vip, protocol "
                         "and port as services[%zu])", idx[i - 1]);
        }
    }
    free(idx);
    return error;
}

struct backend_ref {
    const struct model_backend *be;
    size_t svc, idx;
};

static int
compare_backend_refs(const void *a_, const void *b_)
{
    const struct backend_ref *a = a_, *b = b_;
    int c = a->be->ip.family - b->be->ip.family;

    if (!c) {
        c = memcmp(&a->be->ip.v6, &b->be->ip.v6,
                   a->be->ip.family == AF_INET ? 4 : 16);
    }
    if (!c) {
        c = (a->svc > b->svc) - (a->svc < b->svc);
    }
    return c ? c : (a->idx > b->idx) - (a->idx < b->idx);
}

/* A backend address is one host: one MAC across all services. */
static char *
check_backend_macs(const struct model *m)
{
    size_t n = 0;
    struct backend_ref *refs;
    char *error = NULL;

    for (size_t i = 0; i < m->n_services; i++) {
        n += m->services[i].n_backends;
    }
    refs = mslb_xzalloc(n * sizeof *refs);
    n = 0;
    for (size_t i = 0; i < m->n_services; i++) {
        enum model_mode mode = m->services[i].mode;
        if (mode == MODEL_MODE_TUN || mode == MODEL_MODE_MSLB) {
            continue;           /* Inner MACs, not the address's. */
        }
        for (size_t k = 0; k < m->services[i].n_backends; k++) {
            refs[n++] = (struct backend_ref) {
                &m->services[i].backends[k], i, k
            };
        }
    }
    qsort(refs, n, sizeof *refs, compare_backend_refs);
    for (size_t i = 1; i < n && !error; i++) {
        const struct backend_ref *a = &refs[i - 1], *b = &refs[i];
        if (mslb_addr_equal(&a->be->ip, &b->be->ip)
            && memcmp(&a->be->mac, &b->be->mac, sizeof a->be->mac)) {
            char sub[64];
            snprintf(sub, sizeof sub, "services[%zu].backends[%zu].mac",
                     b->svc, b->idx);
            error = verr(sub, "differs from the MAC given for the same "
                         "address in services[%zu].backends[%zu]",
                         a->svc, a->idx);
        }
    }
    free(refs);
    return error;
}

#define SERVICE_ID_MASK 0xffffffu   /* 24 bits: fits cookie and group id. */

static void
assign_service_ids(struct model *m)
{
    uint8_t *used = mslb_xzalloc((SERVICE_ID_MASK + 1) / 8 + 1);

    /* Key order makes the probing deterministic. */
    if (m->n_services) {
        qsort(m->services, m->n_services, sizeof *m->services,
              model_service_key_compare);
    }
    for (size_t i = 0; i < m->n_services; i++) {
        uint32_t id = model_service_key_hash(&m->services[i]) % SERVICE_ID_MASK + 1;

        while (used[id / 8] & (1u << (id % 8))) {
            id = id % SERVICE_ID_MASK + 1;
        }
        used[id / 8] |= 1u << (id % 8);
        m->services[i].id = id;
    }
    free(used);
}

static const struct model_bridge *
find_in_model(const void *m, const char *name)
{
    return model_find_bridge(m, name);
}

char *
model_service_from_json(const json_t *j, const char *path,
                        const struct model_lookup *lk,
                        struct model_service **svcp)
{
    struct model_service *svc = mslb_xzalloc(sizeof *svc);
    char *error = parse_service(j, path, lk, svc);

    if (error) {
        model_service_destroy(svc);
        svc = NULL;
    }
    *svcp = svc;
    return error;
}

char *
model_bridge_from_json(const json_t *j, const char *path,
                       struct model_bridge **brp)
{
    struct model_bridge *br = mslb_xzalloc(sizeof *br);
    char *error = parse_bridge(j, path, br);

    if (error) {
        model_bridge_destroy(br);
        br = NULL;
    }
    *brp = br;
    return error;
}

char *
model_check_vip_gateways(const struct model_service *svc,
                         const struct model_bridge *br, const char *path)
{
    for (size_t g = 0; g < br->n_gateways; g++) {
        if (mslb_addr_equal(&br->gateways[g], &svc->vip)) {
            return verr(path, "vip is also a gateway address of bridge "
                        "\"%s\"", br->name);
        }
    }
    return NULL;
}

char *
model_from_json(const json_t *j, struct model **modelp)
{
    struct model_lookup lk;
    static const char *const keys[] = { "bridges", "services", NULL };
    struct model *m = mslb_xzalloc(sizeof *m);
    char sub[512];
    json_t *arr, *v;
    size_t i;
    char *error;

    *modelp = NULL;
    if (!json_is_object(j)) {
        error = verr("", "must be a JSON object");
        goto fail;
    }
    if ((error = check_keys(j, "", keys))
        || (error = get_array(j, "", "bridges", true, &arr))) {
        goto fail;
    }
    m->bridges = mslb_xzalloc(json_array_size(arr) * sizeof *m->bridges);
    json_array_foreach (arr, i, v) {
        struct model_bridge *br = &m->bridges[i];

        indexpath(sub, sizeof sub, "", "bridges", i);
        m->n_bridges++;
        if ((error = parse_bridge(v, sub, br))) {
            goto fail;
        }
        for (size_t k = 0; k < i; k++) {
            if (!strcmp(m->bridges[k].name, br->name)) {
                error = verr(sub, "duplicate bridge name \"%s\"", br->name);
                goto fail;
            }
            if (br->has_dpid && m->bridges[k].has_dpid
                && br->dpid == m->bridges[k].dpid) {
                error = verr(sub, "duplicate datapath_id");
                goto fail;
            }
        }
    }

    lk = (struct model_lookup) { find_in_model, m };
    if ((error = get_array(j, "", "services", false, &arr))) {
        goto fail;
    }
    if (arr) {
        m->services = mslb_xzalloc(json_array_size(arr) * sizeof *m->services);
        json_array_foreach (arr, i, v) {
            struct model_service *svc = &m->services[i];

            indexpath(sub, sizeof sub, "", "services", i);
            m->n_services++;
            if ((error = parse_service(v, sub, &lk, svc))) {
                goto fail;
            }
            for (size_t b = 0; b < m->n_bridges; b++) {
                error = model_check_vip_gateways(svc, &m->bridges[b], sub);
                if (error) {
                    goto fail;
                }
            }
        }
    }

    if ((error = check_services_unique(m))
        || (error = check_backend_macs(m))) {
        goto fail;
    }
    assign_service_ids(m);
    *modelp = m;
    return NULL;

fail:
    model_destroy(m);
    return error;
}

char *
model_from_file(const char *file_name, struct model **modelp)
{
    json_error_t jerr;
    json_t *j = json_load_file(file_name, JSON_REJECT_DUPLICATES, &jerr);
    char *error;

    *modelp = NULL;
    if (!j) {
        if (asprintf(&error, "%s:%d:%d: %s", file_name, jerr.line,
                     jerr.column, jerr.text) < 0) {
            abort();
        }
        return error;
    }
    error = model_from_json(j, modelp);
    json_decref(j);
    return error;
}

void
model_bridge_uninit(struct model_bridge *br)
{
    free(br->name);
    free(br->frontend_port);
    free(br->backend_port);
    free(br->gateways);
    for (int t = 0; t < MODEL_N_TUNNELS; t++) {
        free(br->tunnel_ports[t]);
    }
}

void
model_bridge_destroy(struct model_bridge *br)
{
    if (br) {
        model_bridge_uninit(br);
        free(br);
    }
}

void
model_service_uninit(struct model_service *svc)
{
    free(svc->name);
    for (size_t k = 0; k < svc->n_bridges; k++) {
        free(svc->bridges[k]);
    }
    free(svc->bridges);
    for (size_t k = 0; k < svc->n_backends; k++) {
        free(svc->backends[k].name);
        free(svc->backends[k].host_bridge);
    }
    free(svc->backends);
}

void
model_service_destroy(struct model_service *svc)
{
    if (svc) {
        model_service_uninit(svc);
        free(svc);
    }
}

static char *
strdup_or_null(const char *s)
{
    return s ? mslb_xstrdup(s) : NULL;
}

void
model_service_clone(struct model_service *dst,
                    const struct model_service *src)
{
    *dst = *src;
    dst->name = mslb_xstrdup(src->name);
    dst->bridges = mslb_xzalloc((src->n_bridges + 1) * sizeof *dst->bridges);
    for (size_t i = 0; i < src->n_bridges; i++) {
        dst->bridges[i] = mslb_xstrdup(src->bridges[i]);
    }
    dst->backends = mslb_xzalloc((src->n_backends + 1)
                                 * sizeof *dst->backends);
    for (size_t i = 0; i < src->n_backends; i++) {
        dst->backends[i] = src->backends[i];
        dst->backends[i].name = mslb_xstrdup(src->backends[i].name);
        dst->backends[i].host_bridge
            = strdup_or_null(src->backends[i].host_bridge);
    }
}

void
model_bridge_clone(struct model_bridge *dst, const struct model_bridge *src)
{
    *dst = *src;
    dst->name = mslb_xstrdup(src->name);
    dst->frontend_port = mslb_xstrdup(src->frontend_port);
    dst->backend_port = mslb_xstrdup(src->backend_port);
    for (int t = 0; t < MODEL_N_TUNNELS; t++) {
        dst->tunnel_ports[t] = strdup_or_null(src->tunnel_ports[t]);
    }
    dst->gateways = mslb_xzalloc((src->n_gateways + 1)
                                 * sizeof *dst->gateways);
    memcpy(dst->gateways, src->gateways,
           src->n_gateways * sizeof *dst->gateways);
}

void
model_destroy(struct model *m)
{
    if (!m) {
        return;
    }
    for (size_t i = 0; i < m->n_bridges; i++) {
        model_bridge_uninit(&m->bridges[i]);
    }
    free(m->bridges);
    for (size_t i = 0; i < m->n_services; i++) {
        model_service_uninit(&m->services[i]);
    }
    free(m->services);
    free(m);
}

const struct model_bridge *
model_find_bridge(const struct model *m, const char *name)
{
    for (size_t i = 0; i < m->n_bridges; i++) {
        if (!strcmp(m->bridges[i].name, name)) {
            return &m->bridges[i];
        }
    }
    return NULL;
}

const struct model_bridge *
model_find_bridge_by_dpid(const struct model *m, uint64_t dpid)
{
    for (size_t i = 0; i < m->n_bridges; i++) {
        if (m->bridges[i].has_dpid && m->bridges[i].dpid == dpid) {
            return &m->bridges[i];
        }
    }
    return NULL;
}

bool
model_service_on_bridge(const struct model_service *svc, const char *bridge)
{
    for (size_t i = 0; i < svc->n_bridges; i++) {
        if (!strcmp(svc->bridges[i], bridge)) {
            return true;
        }
    }
    return false;
}

const char *
model_proto_name(uint8_t proto)
{
    return proto == IPPROTO_TCP ? "tcp" : proto == IPPROTO_UDP ? "udp" : "ip";
}

const char *
model_mode_name(enum model_mode mode)
{
    static const char *const names[MODEL_N_MODES] = {
        "nat", "dr", "tun", "l3dsr", "mslb", "local",
    };
    return names[mode];
}

const char *
model_tunnel_name(enum model_tunnel t)
{
    static const char *const names[MODEL_N_TUNNELS] = {
        "vxlan", "gre", "geneve",
    };
    return names[t];
}

bool
model_mode_is_dsr(enum model_mode mode)
{
    return mode != MODEL_MODE_NAT && mode != MODEL_MODE_LOCAL;
}

void
mslb_addr_format(const struct mslb_addr *a, char *buf, size_t size)
{
    if (!inet_ntop(a->family, a->family == AF_INET ? (const void *) &a->v4
                   : (const void *) &a->v6, buf, size)) {
        snprintf(buf, size, "?");
    }
}

void
mslb_mac_format(const struct mslb_mac *m, char *buf, size_t size)
{
    snprintf(buf, size, "%02x:%02x:%02x:%02x:%02x:%02x",
             m->b[0], m->b[1], m->b[2], m->b[3], m->b[4], m->b[5]);
}

bool
mslb_addr_equal(const struct mslb_addr *a, const struct mslb_addr *b)
{
    return a->family == b->family
           && !memcmp(&a->v6, &b->v6, a->family == AF_INET ? 4 : 16);
}

static uint32_t
hash_str(const char *s, uint32_t basis)
{
    return mslb_hash_bytes(s, strlen(s) + 1, basis);
}

static uint32_t
hash_addr(const struct mslb_addr *a, uint32_t basis)
{
    basis = mslb_hash_bytes(&a->family, sizeof a->family, basis);
    return mslb_hash_bytes(&a->v6, a->family == AF_INET ? 4 : 16, basis);
}

uint32_t
model_service_hash(const struct model_service *svc)
{
    uint32_t h = hash_str(svc->name, 0);

    h = hash_addr(&svc->vip, h);
    h = mslb_hash_bytes(&svc->proto, sizeof svc->proto, h);
    h = mslb_hash_bytes(&svc->port, sizeof svc->port, h);
    h = mslb_hash_bytes(&svc->mode, sizeof svc->mode, h);
    h = mslb_hash_bytes(&svc->id, sizeof svc->id, h);
    h = mslb_hash_bytes(&svc->idle_timeout, sizeof svc->idle_timeout, h);
    h = mslb_hash_bytes(&svc->persistence, sizeof svc->persistence, h);
    h = mslb_hash_bytes(&svc->tunnel, sizeof svc->tunnel, h);
    h = mslb_hash_bytes(&svc->dscp, sizeof svc->dscp, h);
    for (size_t i = 0; i < svc->n_bridges; i++) {
        h = hash_str(svc->bridges[i], h);
    }
    for (size_t i = 0; i < svc->n_backends; i++) {
        const struct model_backend *be = &svc->backends[i];
        h = hash_str(be->name, h);
        h = hash_addr(&be->ip, h);
        h = mslb_hash_bytes(&be->port, sizeof be->port, h);
        h = mslb_hash_bytes(&be->mac, sizeof be->mac, h);
        h = mslb_hash_bytes(&be->weight, sizeof be->weight, h);
        h = mslb_hash_bytes(&be->state, sizeof be->state, h);
        h = hash_addr(&be->host, h);
        h = hash_str(be->host_bridge ? be->host_bridge : "", h);
    }
    return h;
}

uint32_t
model_bridge_hash(const struct model_bridge *br)
{
    uint32_t h = hash_str(br->name, 0);

    h = mslb_hash_bytes(&br->mac, sizeof br->mac, h);
    h = hash_str(br->frontend_port, h);
    h = hash_str(br->backend_port, h);
    h = mslb_hash_bytes(&br->ct_zone, sizeof br->ct_zone, h);
    h = mslb_hash_bytes(&br->role, sizeof br->role, h);
    for (int t = 0; t < MODEL_N_TUNNELS; t++) {
        h = hash_str(br->tunnel_ports[t] ? br->tunnel_ports[t] : "", h);
    }
    for (size_t i = 0; i < br->n_gateways; i++) {
        h = hash_addr(&br->gateways[i], h);
    }
    return h;
}

static json_t *
addr_json(const struct mslb_addr *a)
{
    char buf[INET6_ADDRSTRLEN];
    mslb_addr_format(a, buf, sizeof buf);
    return json_string(buf);
}

static json_t *
mac_json(const struct mslb_mac *m)
{
    char buf[18];
    mslb_mac_format(m, buf, sizeof buf);
    return json_string(buf);
}

json_t *
model_backend_to_json(const struct model_backend *be)
{
    static const char *const states[] = { "up", "drain", "down" };

    json_t *j = json_pack("{s:s, s:o, s:i}", "name", be->name,
                          "ip", addr_json(&be->ip), "port", (int) be->port);

    if (!be->port) {
        json_object_del(j, "port");
    }
    if (be->has_mac) {
        json_object_set_new(j, "mac", mac_json(&be->mac));
    }
    json_object_set_new(j, "weight", json_integer(be->weight));
    json_object_set_new(j, "state", json_string(states[be->state]));
    if (be->host.family) {
        json_object_set_new(j, "host", addr_json(&be->host));
    }
    if (be->host_bridge) {
        json_object_set_new(j, "host_bridge", json_string(be->host_bridge));
    }
    return j;
}

json_t *
model_service_to_json(const struct model_service *svc)
{
    json_t *bridges = json_array(), *backends = json_array();

    for (size_t i = 0; i < svc->n_bridges; i++) {
        json_array_append_new(bridges, json_string(svc->bridges[i]));
    }
    for (size_t i = 0; i < svc->n_backends; i++) {
        json_array_append_new(backends,
                              model_backend_to_json(&svc->backends[i]));
    }
    json_t *j = json_pack("{s:s, s:o, s:s}", "name", svc->name,
                          "vip", addr_json(&svc->vip), "protocol",
                          svc->proto ? model_proto_name(svc->proto) : "any");

    if (svc->port) {
        json_object_set_new(j, "port", json_integer(svc->port));
    }
    json_object_set_new(j, "mode", json_string(model_mode_name(svc->mode)));
    if (svc->mode != MODEL_MODE_NAT) {
        json_object_set_new(j, "idle_timeout",
                            json_integer(svc->idle_timeout));
    }
    if (svc->persistence) {
        json_object_set_new(j, "persistence",
                            json_integer(svc->persistence));
    }
    if (svc->mode == MODEL_MODE_TUN || svc->mode == MODEL_MODE_MSLB) {
        json_object_set_new(j, "tunnel",
                            json_string(model_tunnel_name(svc->tunnel)));
    }
    if (svc->dscp) {
        json_object_set_new(j, "dscp", json_integer(svc->dscp));
    }
    json_object_set_new(j, "bridges", bridges);
    json_object_set_new(j, "backends", backends);
    return j;
}

json_t *
model_bridge_to_json(const struct model_bridge *br)
{
    json_t *j = json_pack("{s:s, s:s}", "name", br->name, "role",
                          br->role == MODEL_ROLE_FIRST ? "first" : "final");
    json_t *gws = json_array();

    if (br->role == MODEL_ROLE_FIRST || memcmp(&br->mac, "\0\0\0\0\0\0", 6)) {
        json_object_set_new(j, "mac", mac_json(&br->mac));
    }
    if (br->frontend_port[0]) {
        json_object_set_new(j, "frontend_port",
                            json_string(br->frontend_port));
        json_object_set_new(j, "backend_port", json_string(br->backend_port));
    }
    json_object_set_new(j, "ct_zone", json_integer(br->ct_zone));
    json_t *tp = json_object();
    for (int t = 0; t < MODEL_N_TUNNELS; t++) {
        if (br->tunnel_ports[t]) {
            json_object_set_new(tp, model_tunnel_name(t),
                                json_string(br->tunnel_ports[t]));
        }
    }
    if (json_object_size(tp)) {
        json_object_set_new(j, "tunnel_ports", tp);
    } else {
        json_decref(tp);
    }

    for (size_t i = 0; i < br->n_gateways; i++) {
        json_array_append_new(gws, addr_json(&br->gateways[i]));
    }
    json_object_set_new(j, "gateways", gws);
    if (br->has_dpid) {
        char buf[32];
        snprintf(buf, sizeof buf, "%016"PRIx64, br->dpid);
        json_object_set_new(j, "datapath_id", json_string(buf));
    }
    return j;
}

json_t *
model_to_json(const struct model *m)
{
    json_t *bridges = json_array(), *services = json_array();

    for (size_t i = 0; i < m->n_bridges; i++) {
        json_array_append_new(bridges, model_bridge_to_json(&m->bridges[i]));
    }
    for (size_t i = 0; i < m->n_services; i++) {
        json_array_append_new(services,
                              model_service_to_json(&m->services[i]));
    }
    return json_pack("{s:o, s:o}", "bridges", bridges, "services", services);
}

const struct model_service *
model_find_service(const struct model *m, const char *name)
{
    for (size_t i = 0; i < m->n_services; i++) {
        if (!strcmp(m->services[i].name, name)) {
            return &m->services[i];
        }
    }
    return NULL;
}
