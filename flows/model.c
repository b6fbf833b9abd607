/* The rules of one bridge, service or backend read from JSON: every rule
 * that does not look across services.  The JSON readers are in
 * model_read.c; the whole document and the rules across services in
 * model_doc.c. */
#include "model-private.h"

#include <jansson.h>
#include "mslb/xalloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static char *
parse_tunnel_ports(const json_t *j, const char *path, struct model_bridge *br)
{
    const json_t *tports = json_object_get(j, "tunnel_ports");
    const char *key;
    json_t *v;
    char sub[512];

    if (!tports) {
        return NULL;
    }
    model_path_key(sub, sizeof sub, path, "tunnel_ports");
    if (!json_is_object(tports)) {
        return model_error(sub, "must be an object");
    }
    json_object_foreach ((json_t *) tports, key, v) {
        int t = model_tunnel_from_name(key);

        if (t == MODEL_N_TUNNELS) {
            return model_key_error(sub, key, "unknown key");
        }
        if (t == MODEL_TUNNEL_IPGRE && br->role != MODEL_ROLE_FIRST) {
            return model_key_error(sub, key, "only on a first-stage bridge "
                                   "(mode tun)");
        }
        if (!json_is_string(v) || !model_name_ok(json_string_value(v), 15)) {
            return model_key_error(sub, key, "must be a port name of 1 to "
                                   "15 characters");
        }
        br->tunnel_ports[t] = mslb_xstrdup(json_string_value(v));
    }
    return NULL;
}

static char *
parse_gateways(const json_t *j, const char *path, struct model_bridge *br)
{
    json_t *gws, *g;
    char sub[512];
    size_t i;
    char *error = model_get_array(j, path, "gateways", false, &gws);

    if (error || !gws) {
        return error;
    }
    br->gateways = mslb_xzalloc(json_array_size(gws) * sizeof *br->gateways);
    json_array_foreach (gws, i, g) {
        model_path_index(sub, sizeof sub, path, "gateways", i);
        if (!json_is_string(g)
            || !mslb_addr_parse(json_string_value(g), &br->gateways[i])) {
            return model_error(sub, "must be an IPv4 or IPv6 address "
                               "string");
        }
        const char *why = model_not_host_addr(&br->gateways[i]);
        if (why) {
            return model_error(sub, "\"%s\" %s", json_string_value(g), why);
        }
        for (size_t k = 0; k < i; k++) {
            if (mslb_addr_equal(&br->gateways[k], &br->gateways[i])) {
                return model_error(sub, "duplicate gateway address");
            }
        }
        br->n_gateways++;
    }
    return NULL;
}

char *
model_parse_bridge(const json_t *j, const char *path,
                   struct model_bridge *br)
{
    static const char *const keys[] = {
        "name", "role", "datapath_id", "mac", "frontend_port",
        "backend_port", "gateways", "ct_zone", "tunnel_ports", "tunnel_mtu",
        NULL
    };
    const char *s;
    long long zone, tunnel_mtu;
    char *error;

    if (!json_is_object(j)) {
        return model_error(path, "must be an object");
    }
    if ((error = model_check_keys(j, path, keys))
        || (error = model_get_name(j, path, 15, &s))) {
        return error;
    }
    br->name = mslb_xstrdup(s);
    if ((error = model_get_string(j, path, "role", false, &s))) {
        return error;
    }
    if (!s || !strcmp(s, "first")) {
        br->role = MODEL_ROLE_FIRST;
    } else if (!strcmp(s, "final")) {
        br->role = MODEL_ROLE_FINAL;
    } else {
        return model_key_error(path, "role",
                               "must be \"first\" or \"final\"");
    }

    if ((error = model_get_string(j, path, "datapath_id", false, &s))) {
        return error;
    }
    if (s) {
        char *end;
        errno = 0;
        br->dpid = strtoull(s, &end, 16);
        if (!s[0] || *end || errno || strlen(s) > 16 || !br->dpid
            || strspn(s, "0123456789abcdefABCDEF") != strlen(s)) {
            return model_key_error(path, "datapath_id", "must be a nonzero "
                                   "hexadecimal string of up to 16 digits");
        }
        br->has_dpid = true;
    }
    if (br->role == MODEL_ROLE_FIRST || json_object_get(j, "mac")) {
        if ((error = model_get_mac(j, path, "mac", &br->mac))) {
            return error;
        }
    }
    if ((error = model_get_port_name(j, path, "frontend_port",
                                     br->role == MODEL_ROLE_FIRST, &s))) {
        return error;
    }
    br->frontend_port = mslb_xstrdup(s ? s : "");
    if ((error = model_get_port_name(j, path, "backend_port", false, &s))) {
        return error;
    }
    br->backend_port = mslb_xstrdup(s ? s : br->frontend_port);

    if ((error = parse_tunnel_ports(j, path, br))
        || (error = parse_gateways(j, path, br))
        || (error = model_get_int(j, path, "ct_zone", false, 1, 65535, 1,
                                  &zone))
        || (error = model_get_int(j, path, "tunnel_mtu", false, 576, 65535,
                                  1500, &tunnel_mtu))) {
        return error;
    }
    br->ct_zone = zone;
    br->tunnel_mtu = tunnel_mtu;
    return NULL;
}

/* A backend's id: from its address and port alone, so that it stays the
 * same across restarts and unrelated changes; never 0. */
static uint32_t
backend_key(const struct model_backend *be)
{
    uint8_t key[18];
    size_t kn = be->ip.family == AF_INET ? 4 : 16;
    uint32_t h;

    memcpy(key, &be->ip.v6, kn);
    key[kn] = be->port >> 8;
    key[kn + 1] = be->port & 0xff;
    h = mslb_hash_bytes(key, kn + 2, 0x6d736c62);
    /* 0 and the top two values are the slot tables' markers (slots.h). */
    return h && h < UINT32_MAX - 1 ? h : 1;
}

/* The final-stage bridge 'name' that a backend of 'svc' at 'path' names
 * in "host_bridge". */
static char *
check_host_bridge(const char *path, const struct model_lookup *lk,
                  const struct model_service *svc, const char *name)
{
    const struct model_bridge *hb = lk->find_bridge(lk->aux, name);
    char sub[512];

    model_path_key(sub, sizeof sub, path, "host_bridge");
    if (!model_mode_via_host(svc->mode) && svc->mode != MODEL_MODE_L3DSR) {
        return model_error(sub, "only for modes mslb, slb and l3dsr");
    }
    if (!hb) {
        return model_error(sub, "no bridge named \"%s\"", name);
    }
    if (hb->role != MODEL_ROLE_FINAL) {
        return model_error(sub, "bridge \"%s\" is not a final-stage bridge",
                           name);
    }
    if (model_mode_via_host(svc->mode) && !hb->tunnel_ports[svc->tunnel]) {
        return model_error(sub, "bridge \"%s\" has no %s tunnel port", name,
                           model_tunnel_name(svc->tunnel));
    }
    return NULL;
}

static char *
parse_backend(const json_t *j, const char *path,
              const struct model_lookup *lk, const struct model_service *svc,
              struct model_backend *be)
{
    static const char *const keys[] = {
        "name", "ip", "port", "mac", "weight", "state", "host",
        "host_bridge", "monitor",
        "health", "resolved_mac",       /* Read only: answers show them. */
        NULL
    };
    const char *s;
    long long n;
    char *error;

    if (!json_is_object(j)) {
        return model_error(path, "must be an object");
    }
    if ((error = model_check_keys(j, path, keys))
        || (error = model_get_name(j, path, 63, &s))) {
        return error;
    }
    be->name = mslb_xstrdup(s);
    if ((error = model_get_addr(j, path, "ip", &be->ip))) {
        return error;
    }
    if (be->ip.family != svc->vip.family) {
        return model_key_error(path, "ip", "address family differs from "
                               "the service's vip");
    }
    if (mslb_addr_equal(&be->ip, &svc->vip)) {
        return model_key_error(path, "ip",
                               "must differ from the service's vip");
    }
    if ((error = model_get_int(j, path, "port", false, 1, 65535, svc->port,
                               &n))) {
        return error;
    }
    be->port = n;
    if (svc->mode != MODEL_MODE_NAT && be->port != svc->port
        && !(svc->mode == MODEL_MODE_SLB && svc->port && !svc->floating_ip)) {
        return (svc->floating_ip
                ? model_key_error(path, "port", "must equal the service's "
                                  "with floating_ip (nothing translates "
                                  "it)")
                : svc->port
                ? model_key_error(path, "port", "must equal the service's "
                                  "port in mode %s (only nat and slb "
                                  "translate ports)",
                                  model_mode_name(svc->mode))
                : model_key_error(path, "port", "must be absent when the "
                                  "service covers every port"));
    }
    /* Required in tun (nobody can ask the server, behind its own tunnel
     * end), unless the tunnel carries no frame (ipgre): then unused. */
    bool no_frame = svc->mode == MODEL_MODE_TUN
                    && svc->tunnel == MODEL_TUNNEL_IPGRE;
    if (json_object_get(j, "mac")
        || (svc->mode == MODEL_MODE_TUN && !no_frame)) {
        if ((error = model_get_mac(j, path, "mac", &be->mac))) {
            return error;
        }
        be->has_mac = true;
    } else if (no_frame) {
        be->has_mac = be->mac_unused = true;
    }
    /* Otherwise mslbd resolves it (ARP, neighbour discovery:
     * docs/health.md), from the first stage or, in modes mslb and slb,
     * from the final stage on the server's host; in mode tun the server
     * is behind its own tunnel end, where nobody can ask. */
    if (json_object_get(j, "host")) {
        if (svc->mode != MODEL_MODE_TUN && !model_mode_via_host(svc->mode)) {
            return model_key_error(path, "host",
                                   "only for modes tun, mslb and slb");
        }
        if ((error = model_get_addr(j, path, "host", &be->host))) {
            return error;
        }
    } else if (model_mode_via_host(svc->mode)) {
        return model_key_error(path, "host", "is required in mode %s (the "
                               "final-stage bridge's tunnel address)",
                               model_mode_name(svc->mode));
    }
    if ((error = model_get_string(j, path, "host_bridge",
                                  model_mode_via_host(svc->mode), &s))) {
        return error;
    }
    if (s) {
        if ((error = check_host_bridge(path, lk, svc, s))) {
            return error;
        }
        be->host_bridge = mslb_xstrdup(s);
    }
    if ((error = model_get_int(j, path, "weight", false, 1,
                               MODEL_MAX_WEIGHT, 1, &n))) {
        return error;
    }
    be->weight = n;
    if ((error = model_get_string(j, path, "state", false, &s))) {
        return error;
    }
    if (!s || !strcmp(s, "up")) {
        be->state = MODEL_BACKEND_UP;
    } else if (!strcmp(s, "drain")) {
        be->state = MODEL_BACKEND_DRAIN;
    } else if (!strcmp(s, "down")) {
        be->state = MODEL_BACKEND_DOWN;
    } else {
        return model_key_error(path, "state",
                               "must be \"up\", \"drain\" or \"down\"");
    }
    if ((error = model_parse_backend_monitor(j, path, svc, be))) {
        return error;
    }
    be->key = backend_key(be);
    return NULL;
}

/* The service's first-stage bridges. */
static char *
parse_service_bridges(const json_t *j, const char *path,
                      const struct model_lookup *lk,
                      struct model_service *svc)
{
    json_t *arr, *v;
    char sub[512];
    size_t i;
    char *error = model_get_array(j, path, "bridges", true, &arr);

    if (error) {
        return error;
    }
    if (!json_array_size(arr)) {
        return model_key_error(path, "bridges",
                               "must name at least one bridge");
    }
    svc->bridges = mslb_xzalloc(json_array_size(arr) * sizeof *svc->bridges);
    json_array_foreach (arr, i, v) {
        model_path_index(sub, sizeof sub, path, "bridges", i);
        if (!json_is_string(v)) {
            return model_error(sub, "must be a string");
        }
        const struct model_bridge *br = lk->find_bridge(
            lk->aux, json_string_value(v));
        if (!br) {
            return model_error(sub, "no bridge named \"%s\"",
                               json_string_value(v));
        }
        if (br->role != MODEL_ROLE_FIRST) {
            return model_error(sub, "bridge \"%s\" is not a first-stage "
                               "bridge", br->name);
        }
        if ((svc->mode == MODEL_MODE_TUN || model_mode_via_host(svc->mode))
            && !br->tunnel_ports[svc->tunnel]) {
            return model_error(sub, "bridge \"%s\" has no %s tunnel port",
                               br->name, model_tunnel_name(svc->tunnel));
        }
        for (size_t k = 0; k < i; k++) {
            if (!strcmp(svc->bridges[k], json_string_value(v))) {
                return model_error(sub, "bridge named twice");
            }
        }
        svc->bridges[svc->n_bridges++] = mslb_xstrdup(json_string_value(v));
    }
    return NULL;
}

/* The service's backends, each unique within the service. */
static char *
parse_service_backends(const json_t *j, const char *path,
                       const struct model_lookup *lk,
                       struct model_service *svc)
{
    json_t *arr, *v;
    char sub[512];
    size_t i;
    char *error = model_get_array(j, path, "backends", true, &arr);

    if (error) {
        return error;
    }
    if (json_array_size(arr) > MODEL_MAX_BACKENDS) {
        return model_key_error(path, "backends", "at most %d backends",
                               MODEL_MAX_BACKENDS);
    }
    if (svc->mode == MODEL_MODE_LOCAL && json_array_size(arr)) {
        return model_key_error(path, "backends", "must be empty in mode "
                               "local (the bridge's own host serves the "
                               "VIP)");
    }
    svc->backends = mslb_xzalloc(json_array_size(arr)
                                 * sizeof *svc->backends);
    json_array_foreach (arr, i, v) {
        struct model_backend *be = &svc->backends[i];

        model_path_index(sub, sizeof sub, path, "backends", i);
        svc->n_backends++;
        if ((error = parse_backend(v, sub, lk, svc, be))
            || (error = model_check_probe_port(svc, be, path, sub))) {
            return error;
        }
        for (size_t k = 0; k < i; k++) {
            const struct model_backend *o = &svc->backends[k];
            if (!strcmp(o->name, be->name)) {
                return model_error(sub, "duplicate backend name \"%s\"",
                                   be->name);
            }
            if (mslb_addr_equal(&o->ip, &be->ip) && o->port == be->port) {
                return model_error(sub, "duplicate backend address and port "
                                   "(same as backends[%zu])", k);
            }
            if (o->key == be->key) {
                return model_error(sub, "backend id collides with "
                                   "backends[%zu]'s; change its port or "
                                   "address", k);
            }
        }
    }
    return NULL;
}

char *
model_parse_service(const json_t *j, const char *path,
                    const struct model_lookup *lk, struct model_service *svc)
{
    static const char *const keys[] = {
        "name", "vip", "protocol", "port", "mode", "bridges", "backends",
        "floating_ip",
        "idle_timeout", "persistence", "tunnel", "dscp", "mss",
        "distribution", "slots", "monitor", "empty", "outbound",
        "status",               /* Read only: answers show it. */
        NULL
    };
    const char *s;
    long long n;
    char *error;

    if (!json_is_object(j)) {
        return model_error(path, "must be an object");
    }
    if ((error = model_check_keys(j, path, keys))
        || (error = model_get_name(j, path, 63, &s))) {
        return error;
    }
    svc->name = mslb_xstrdup(s);
    if ((error = model_get_addr(j, path, "vip", &svc->vip))) {
        return error;
    }
    if ((error = model_get_string(j, path, "mode", false, &s))) {
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
            return model_key_error(path, "mode", "must be \"nat\", \"dr\", "
                                   "\"tun\", \"l3dsr\", \"mslb\", "
                                   "\"local\" or \"slb\"");
        }
        svc->mode = k;
    }
    if ((error = model_get_string(j, path, "protocol", true, &s))) {
        return error;
    }
    if (!strcmp(s, "tcp")) {
        svc->proto = IPPROTO_TCP;
    } else if (!strcmp(s, "udp")) {
        svc->proto = IPPROTO_UDP;
    } else if (!strcmp(s, "any")) {
        svc->proto = 0;
        if (svc->mode == MODEL_MODE_NAT) {
            return model_key_error(path, "protocol",
                                   "\"any\" is not available in mode nat");
        }
    } else {
        return model_key_error(path, "protocol",
                               "must be \"tcp\", \"udp\" or \"any\"");
    }
    if ((error = model_get_int(j, path, "port", svc->mode == MODEL_MODE_NAT,
                               1, 65535, 0, &n))) {
        return error;
    }
    svc->port = n;
    if (!svc->proto && svc->port) {
        return model_key_error(path, "port",
                               "must be absent when protocol is \"any\"");
    }
    if ((error = model_get_int(j, path, "idle_timeout", false, 1, 86400,
                               300, &n))) {
        return error;
    }
    svc->idle_timeout = n;
    if ((error = model_get_int(j, path, "persistence", false, 0, 86400, 0,
                               &n))) {
        return error;
    }
    svc->persistence = n;
    if (svc->mode == MODEL_MODE_NAT && svc->persistence) {
        return model_key_error(path, "persistence",
                               "not available in mode nat");
    }
    if ((error = model_get_string(j, path, "tunnel", false, &s))) {
        return error;
    }
    svc->tunnel = MODEL_TUNNEL_VXLAN;
    if (s) {
        if (svc->mode != MODEL_MODE_TUN && !model_mode_via_host(svc->mode)) {
            return model_key_error(path, "tunnel",
                                   "only for modes tun, mslb and slb");
        }
        int t = model_tunnel_from_name(s);
        if (t == MODEL_N_TUNNELS) {
            return model_key_error(path, "tunnel",
                                   "must be \"vxlan\", \"gre\", "
                                   "\"geneve\" or \"ipgre\"");
        }
        if (t == MODEL_TUNNEL_IPGRE && svc->mode != MODEL_MODE_TUN) {
            return model_key_error(path, "tunnel", "\"ipgre\" only in mode "
                                   "tun (a final stage needs the frame)");
        }
        svc->tunnel = t;
    }
    if ((error = model_get_int(j, path, "dscp",
                               svc->mode == MODEL_MODE_L3DSR, 1, 63, 0,
                               &n))) {
        return error;
    }
    svc->dscp = n;
    if (svc->dscp && svc->mode != MODEL_MODE_L3DSR) {
        return model_key_error(path, "dscp", "only for mode l3dsr");
    }
    if ((error = model_get_int(j, path, "mss", false,
                               svc->vip.family == AF_INET6 ? 1220 : 536,
                               65495, 0, &n))) {
        return error;
    }
    svc->mss = n;
    if (svc->mss && svc->proto == IPPROTO_UDP) {
        return model_key_error(path, "mss",
                               "only for protocol \"tcp\" or \"any\"");
    }
    if ((error = model_get_string(j, path, "distribution", false, &s))) {
        return error;
    }
    svc->distribution = MODEL_DIST_5TUPLE;
    if (s) {
        int d;
        for (d = 0; d < MODEL_N_DISTRIBUTIONS; d++) {
            if (!strcmp(s, model_distribution_name(d))) {
                break;
            }
        }
        if (d == MODEL_N_DISTRIBUTIONS) {
            return model_key_error(path, "distribution",
                                   "must be \"5-tuple\", \"3-tuple\" or "
                                   "\"2-tuple\"");
        }
        svc->distribution = d;
    }
    if (svc->distribution == MODEL_DIST_3TUPLE && !svc->proto) {
        /* The datapath's hashes of an address pair and its protocol all
         * take TCP's ports too (docs/selection.md). */
        return model_key_error(path, "distribution",
                               "\"3-tuple\" needs protocol \"tcp\" or "
                               "\"udp\"; use \"2-tuple\" for \"any\"");
    }
    if (svc->distribution != MODEL_DIST_5TUPLE && svc->persistence) {
        return model_key_error(path, "distribution",
                               "a service with persistence is spread by "
                               "client address already");
    }
    if ((error = model_get_string(j, path, "empty", false, &s))) {
        return error;
    }
    if (s && strcmp(s, "drop") && strcmp(s, "reject")) {
        return model_key_error(path, "empty",
                               "must be \"drop\" or \"reject\"");
    }
    svc->reject_empty = s && !strcmp(s, "reject");
    if (svc->reject_empty && svc->mode == MODEL_MODE_LOCAL) {
        return model_key_error(path, "empty", "not available in mode local "
                               "(it has no backends)");
    }
    const json_t *v = json_object_get(j, "floating_ip");
    if (v && !json_is_boolean(v)) {
        return model_key_error(path, "floating_ip", "must be true or false");
    }
    svc->floating_ip = json_is_true(v);
    if (svc->floating_ip && svc->mode != MODEL_MODE_SLB) {
        return model_key_error(path, "floating_ip", "only for mode slb");
    }
    if ((error = model_parse_service_monitor(j, path, svc))
        || (error = parse_service_bridges(j, path, lk, svc))
        || (error = parse_service_backends(j, path, lk, svc))
        || (error = model_parse_outbound(j, path, svc))) {
        return error;
    }
    for (size_t i = 0; i < svc->n_bridges; i++) {
        error = model_check_monitor_gateways(
            svc, lk->find_bridge(lk->aux, svc->bridges[i]), path);
        if (error) {
            return error;
        }
    }
    /* The table the document carries ("slots", as model_to_json() writes
     * it: a state file, an export), fitted to the backends, or a new one.
     * mslbd's database keeps the table each service has and moves it on
     * from there (model_slots_compute()). */
    struct model_slots kept;
    if ((error = model_get_string(j, path, "slots", false, &s))) {
        return error;
    }
    if (s && !model_slots_parse(s, &kept)) {
        return model_key_error(path, "slots",
                               "is not a slot table (see docs/database.md)");
    }
    if (lk->defer_slots) {
        if (s) {
            svc->slots = kept;  /* Fitted by the write that moves it on. */
        }
    } else {
        model_slots_compute(svc, s ? &kept : NULL, 0, &svc->slots);
        if (s) {
            model_slots_uninit(&kept);
        }
    }
    return NULL;
}

char *
model_service_from_json(const json_t *j, const char *path,
                        const struct model_lookup *lk,
                        struct model_service **svcp)
{
    struct model_service *svc = mslb_xzalloc(sizeof *svc);
    char *error = model_parse_service(j, path, lk, svc);

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
    char *error = model_parse_bridge(j, path, br);

    if (error) {
        model_bridge_destroy(br);
        br = NULL;
    }
    *brp = br;
    return error;
}

static bool
same_host_bridge(const struct model_backend *a, const struct model_backend *b)
{
    return a->host_bridge && b->host_bridge
           ? !strcmp(a->host_bridge, b->host_bridge)
           : a->host_bridge == b->host_bridge;
}

char *
model_check_l3dsr_pair(const struct model_service *a,
                       const struct model_service *b, const char *path)
{
    if (a->mode != MODEL_MODE_L3DSR || b->mode != MODEL_MODE_L3DSR
        || a->dscp != b->dscp || mslb_addr_equal(&a->vip, &b->vip)) {
        return NULL;
    }
    for (size_t i = 0; i < a->n_backends; i++) {
        for (size_t k = 0; k < b->n_backends; k++) {
            if (mslb_addr_equal(&a->backends[i].ip, &b->backends[k].ip)
                && same_host_bridge(&a->backends[i], &b->backends[k])) {
                char vip[INET6_ADDRSTRLEN], ip[INET6_ADDRSTRLEN];

                mslb_addr_format(&b->vip, vip, sizeof vip);
                mslb_addr_format(&b->backends[k].ip, ip, sizeof ip);
                return model_key_error(path, "dscp", "%u already names vip "
                                       "%s for backend %s (service \"%s\"): "
                                       "the final stage could not tell "
                                       "them apart", a->dscp, vip, ip,
                                       b->name);
            }
        }
    }
    return NULL;
}

char *
model_check_vip_gateways(const struct model_service *svc,
                         const struct model_bridge *br, const char *path)
{
    for (size_t g = 0; g < br->n_gateways; g++) {
        if (mslb_addr_equal(&br->gateways[g], &svc->vip)) {
            return model_error(path, "vip is also a gateway address of "
                               "bridge \"%s\"", br->name);
        }
        if (svc->outbound
            && mslb_addr_equal(&br->gateways[g], &svc->outbound->ip)) {
            return model_error(path, "outbound.ip is also a gateway address "
                               "of bridge \"%s\"", br->name);
        }
    }
    return NULL;
}
