/* The model as JSON: every object rendered with its defaults filled in,
 * in the form model_from_json() reads back. */
#include "mslb/model.h"

#include <jansson.h>

#include <arpa/inet.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Seconds: an integer when whole, else a number of ms precision. */
static json_t *
seconds_json(uint32_t ms)
{
    return ms % 1000 ? json_real(ms / 1000.0) : json_integer(ms / 1000);
}

/* The fields of 'mon' that 'fields' (MODEL_MONITOR_F_*) names. */
static json_t *
monitor_json(const struct model_monitor *mon, unsigned int fields)
{
    json_t *j = json_object();

    if (fields & MODEL_MONITOR_F_TYPE) {
        json_object_set_new(j, "type", json_string(
                                model_monitor_type_name(mon->type)));
    }
    if (fields & MODEL_MONITOR_F_PORT && mon->port) {
        json_object_set_new(j, "port", json_integer(mon->port));
    }
    if (fields & MODEL_MONITOR_F_INTERVAL) {
        json_object_set_new(j, "interval", seconds_json(mon->interval_ms));
    }
    if (fields & MODEL_MONITOR_F_TIMEOUT) {
        json_object_set_new(j, "timeout", seconds_json(mon->timeout_ms));
    }
    if (fields & MODEL_MONITOR_F_RISE) {
        json_object_set_new(j, "rise", json_integer(mon->rise));
    }
    if (fields & MODEL_MONITOR_F_FALL) {
        json_object_set_new(j, "fall", json_integer(mon->fall));
    }
    if (fields & MODEL_MONITOR_F_SESSIONS) {
        json_object_set_new(j, "sessions", json_string(
                                mon->reset_sessions ? "reset" : "keep"));
    }
    return j;
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
    if (be->has_mac && !be->mac_unused) {
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
    /* Only what the backend gives: the rest follows its service's. */
    if (be->monitor.set) {
        json_object_set_new(j, "monitor",
                            monitor_json(&be->monitor, be->monitor.set));
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
    if (svc->slots.n_slots) {
        char *text = model_slots_format(&svc->slots);
        json_object_set_new(j, "slots", json_string(text));
        free(text);
    }
    if (svc->reject_empty) {
        json_object_set_new(j, "empty", json_string("reject"));
    }
    if (svc->distribution != MODEL_DIST_5TUPLE) {
        json_object_set_new(j, "distribution", json_string(
                                model_distribution_name(svc->distribution)));
    }
    if (svc->mss) {
        json_object_set_new(j, "mss", json_integer(svc->mss));
    }
    if (svc->floating_ip) {
        json_object_set_new(j, "floating_ip", json_true());
    }
    if (svc->persistence) {
        json_object_set_new(j, "persistence",
                            json_integer(svc->persistence));
    }
    if (svc->mode == MODEL_MODE_TUN || model_mode_via_host(svc->mode)) {
        json_object_set_new(j, "tunnel",
                            json_string(model_tunnel_name(svc->tunnel)));
    }
    if (svc->dscp) {
        json_object_set_new(j, "dscp", json_integer(svc->dscp));
    }
    if (svc->monitor.type != MODEL_MONITOR_NONE || svc->monitor.set) {
        json_t *mon = monitor_json(&svc->monitor, UINT_MAX);
        if (svc->request) {
            model_monitor_request_to_json(svc->request, mon);
        }
        json_object_set_new(j, "monitor", mon);
    }
    if (svc->outbound) {
        json_object_set_new(j, "outbound",
                            model_outbound_to_json(svc->outbound));
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
    if (br->tunnel_mtu != 1500) {
        json_object_set_new(j, "tunnel_mtu", json_integer(br->tunnel_mtu));
    }
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
