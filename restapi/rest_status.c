/* Bridge status, health, statistics and metrics over REST: what the
 * switches report, read through the OpenFlow side, joined with the model. */
#include <config.h>
#include "rest-private.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "bridges.h"
#include "nbdb.h"
#include "fragments.h"
#include "health.h"
#include "resolve.h"
#include "mss.h"
#include "pmtu.h"
#include "reject.h"
#include "snat.h"
#include "speaker.h"
#include "mslb/compile.h"
#include "mslb/modeldb.h"
#include "mslb/pipeline.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/shash.h"
#include "hash.h"
#include "openvswitch/hmap.h"
#include "util.h"

static bool
installed(const struct rest_env *d, const struct bridge *c, uint64_t *gen)
{
    return d->installed(d->aux, c, gen);
}

/* Whether every connected bridge of the model has installed 'gen'. */
bool
rest_installed(struct rest_server *srv, uint64_t gen, bool *any)
{
    const struct rest_env *d = srv->d;
    bool all = true;

    *any = false;
    for (size_t i = 0; i < bridges_count(d->bridges); i++) {
        const struct bridge *c = bridges_at(d->bridges, i);
        uint64_t have;

        if (!mdb_find_bridge(d->mdb, bridge_name(c))
            || !installed(d, c, &have)) {
            continue;
        }
        *any = true;
        if (have < gen) {
            all = false;
        }
    }
    return all;
}

static json_t *
bridge_status(struct rest_server *srv, const char *name,
              const struct bridge *c, bool configured)
{
    json_t *j;

    const struct model_bridge *br = mdb_find_bridge(srv->d->mdb, name);
    const char *master = nbdb_master_name(srv->d->nbdb);
    uint64_t gen;

    if (c) {
        j = bridge_status_json(c);
        if (!bridge_is_master(c)) {
            json_object_set_new(j, "installed_generation",
                                installed(srv->d, c, &gen)
                                ? json_integer(gen) : json_null());
        }
    } else {
        j = json_pack("{s:s, s:n, s:n, s:b, s:n, s:i, s:i, s:[]}",
                      "name", name, "datapath_id", "openflow_version",
                      "connected", false, "installed_generation",
                      "flows", 0, "groups", 0, "ports");
    }
    json_object_set_new(j, "configured", json_boolean(configured));
    json_object_set_new(j, "role", json_string(
                            br && br->role == MODEL_ROLE_FINAL ? "final"
                            : "first"));
    json_object_set_new(j, "master", master ? json_string(master)
                        : json_null());
    json_object_set_new(j, "desired_generation",
                        json_integer(nbdb_generation(srv->d->nbdb)));
    return j;
}

static const struct bridge *
find_conn(struct rest_server *srv, const char *name)
{
    return bridges_find(srv->d->bridges, name);
}

json_t *
rest_all_bridges(struct rest_server *srv)
{
    const struct mdb *db = srv->d->mdb;
    size_t n;
    const struct model_bridge **brs = mdb_bridges_sorted(db, &n);
    json_t *a = json_array();

    for (size_t i = 0; i < n; i++) {
        const char *name = brs[i]->name;
        json_array_append_new(a, bridge_status(srv, name,
                                               find_conn(srv, name), true));
    }
    for (size_t i = 0; i < bridges_count(srv->d->bridges); i++) {
        const struct bridge *c = bridges_at(srv->d->bridges, i);
        const char *name = bridge_name(c);
        if (bridge_is_connected(c) && !mdb_find_bridge(db, name)) {
            json_array_append_new(a, bridge_status(srv, name, c, false));
        }
    }
    free(brs);
    return a;
}

void
rest_get_bridge(struct request *r, const char *name)
{
    json_t *a = rest_all_bridges(r->srv);
    size_t i;
    json_t *b;

    json_array_foreach (a, i, b) {
        if (!strcmp(json_string_value(json_object_get(b, "name")), name)) {
            respond_json(r, MHD_HTTP_OK, json_incref(b));
            json_decref(a);
            return;
        }
    }
    json_decref(a);
    rest_not_found(r, "bridge", name);
}

void
rest_get_health(struct request *r)
{
    const struct rest_env *d = r->srv->d;
    struct bridges_tally bt;

    bridges_tally(d->bridges, d->mdb, nbdb_generation(d->nbdb), d->installed,
                  d->aux, &bt);

    const struct shash *problems = nbdb_problems(d->nbdb);
    json_t *pj = json_object();
    struct shash_node *sn;
    SHASH_FOR_EACH (sn, problems) {
        json_object_set_new(pj, sn->name, json_string(sn->data));
    }
    bool db_up = nbdb_is_connected(d->nbdb);
    uint64_t role_gen;
    bool master = nbdb_is_master(d->nbdb, &role_gen);
    const char *master_name = nbdb_master_name(d->nbdb);
    respond_json(r, MHD_HTTP_OK, json_pack(
        "{s:s, s:I, s:f, s:{s:i, s:i, s:i}, s:{s:b, s:o},"
        " s:{s:s, s:s, s:s?, s:I}}",
        "status", bt.in_step == bt.configured && db_up
                  && !shash_count(problems) ? "ok" : "degraded",
        "generation", (json_int_t) nbdb_generation(d->nbdb),
        "uptime_seconds", (mono_ms() - d->started_ms) / 1000.0,
        "bridges", "configured", (int) bt.configured,
        "connected", (int) bt.connected, "in_step", (int) bt.in_step,
        "database", "connected", db_up, "problems", pj,
        "controller", "name", nbdb_id(d->nbdb),
        "role", master ? "master" : "standby", "master", master_name,
        "role_generation", (json_int_t) role_gen));
}

/* The BGP speaker's state (docs/bgp.md). */
void
rest_get_bgp(struct request *r)
{
    const struct rest_env *d = r->srv->d;

    if (!d->speaker) {
        respond_error(r, MHD_HTTP_NOT_FOUND, "not_found", "mslbd runs no "
                      "BGP speaker (start it with --bgp FILE)", NULL);
        return;
    }
    respond_json(r, MHD_HTTP_OK, speaker_status_json(d->speaker));
}

/* Outbound SNAT's blocks and exhaustions per service and host bridge
 * (docs/slb.md). */
void
rest_get_snat(struct request *r)
{
    const struct rest_env *d = r->srv->d;

    respond_json(r, MHD_HTTP_OK, json_pack("{s:o}", "hosts",
                                           snat_counters_json(d->snat)));
}

void
rest_put_metric(struct ds *out, const char *name, const char *help,
                const char *type)
{
    ds_put_format(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
                  type);
}

/* Outbound SNAT per (service, host bridge): snat_counters_json()'s
 * numbers under Prometheus names. */
static void
put_snat_metrics(struct ds *out, const struct snat *snat)
{
    static const struct {
        const char *member, *name, *help, *type;
    } metrics[] = {
        { "ports", "mslb_snat_ports", "Outbound source ports given to the "
          "host (its blocks times the block size).", "gauge" },
        { "exhausted", "mslb_snat_exhausted_total", "New outbound "
          "connections the host's conntrack found no port for (each "
          "asks for another block).", "counter" },
        { "grown", "mslb_snat_blocks_added_total", "Blocks given to the "
          "host because its ports ran out.", "counter" },
        { "refused", "mslb_snat_refused_total", "Exhaustions with no free "
          "block left in the range.", "counter" },
    };
    json_t *hosts = snat_counters_json(snat);

    for (size_t m = 0; m < ARRAY_SIZE(metrics); m++) {
        rest_put_metric(out, metrics[m].name, metrics[m].help, metrics[m].type);
        for (size_t i = 0; i < json_array_size(hosts); i++) {
            const json_t *h = json_array_get(hosts, i);
            ds_put_format(out, "%s{service=\"%s\",host_bridge=\"%s\"} "
                          "%"JSON_INTEGER_FORMAT"\n", metrics[m].name,
                          json_string_value(json_object_get(h, "service")),
                          json_string_value(json_object_get(h,
                                                            "host_bridge")),
                          json_integer_value(json_object_get(
                              h, metrics[m].member)));
        }
    }
    json_decref(hosts);
}

static void
put_backend_health(void *out_, const char *service, const char *backend,
                   bool up, uint64_t transitions, double latency_ms)
{
    struct ds *out = out_;

    ds_put_format(out, "mslb_backend_up{service=\"%s\",backend=\"%s\"} "
                  "%d\n", service, backend, up);
    ds_put_format(out, "mslb_backend_transitions_total{service=\"%s\","
                  "backend=\"%s\"} %"PRIu64"\n", service, backend,
                  transitions);
    if (latency_ms >= 0) {
        ds_put_format(out, "mslb_backend_probe_latency_seconds{service="
                      "\"%s\",backend=\"%s\"} %.6f\n", service, backend,
                      latency_ms / 1000);
    }
}

/* Health monitors: per monitored backend, and whether each service has a
 * backend that gets new sessions (docs/health.md). */
static void
format_health(struct ds *out, const struct rest_env *d)
{
    struct health_counters hc;
    const struct model_service **svcs;
    size_t n;

    health_get_counters(d->health, &hc);
    rest_put_metric(out, "mslb_health_probes_total", "Health probes sent.",
               "counter");
    ds_put_format(out, "mslb_health_probes_total %"PRIu64"\n",
                  hc.probes_sent);
    rest_put_metric(out, "mslb_health_results_total", "Health probe results: "
               "answered as expected (success), an answer not the one "
               "expected (bad: an HTTP status, a missing text), reset or "
               "port unreachable (refused), unanswered (timeout), answers "
               "matching no probe (stray), probes that could not be sent "
               "(not_sent).", "counter");
    ds_put_format(out,
                  "mslb_health_results_total{result=\"success\"} %"PRIu64"\n"
                  "mslb_health_results_total{result=\"bad\"} %"PRIu64"\n"
                  "mslb_health_results_total{result=\"refused\"} %"PRIu64"\n"
                  "mslb_health_results_total{result=\"timeout\"} %"PRIu64"\n"
                  "mslb_health_results_total{result=\"stray\"} %"PRIu64"\n"
                  "mslb_health_results_total{result=\"not_sent\"} %"PRIu64"\n",
                  hc.answers - hc.refused - hc.bad, hc.bad, hc.refused,
                  hc.timeouts, hc.stray,
                  hc.not_sent);
    rest_put_metric(out, "mslb_health_probe_delay_seconds", "How late probes "
               "were sent after their due time, in all (sum) and the "
               "worst (max).", "counter");
    ds_put_format(out, "mslb_health_probe_delay_seconds_sum %.6f\n"
                  "mslb_health_probe_delay_seconds_max %.6f\n",
                  hc.delay_sum_us / 1e6, hc.delay_max_us / 1e6);
    rest_put_metric(out, "mslb_health_probes_late_total", "Probes sent later "
               "than one interval after their due time.", "counter");
    ds_put_format(out, "mslb_health_probes_late_total %"PRIu64"\n",
                  hc.late);
    rest_put_metric(out, "mslb_backend_up", "1 while the backend passes its "
               "health checks.", "gauge");
    rest_put_metric(out, "mslb_backend_transitions_total", "Times the backend's "
               "health changed.", "counter");
    rest_put_metric(out, "mslb_backend_probe_latency_seconds", "Time the last "
               "answered probe took.", "gauge");
    health_for_each(d->health, put_backend_health, out);
    struct reject_counters rc;
    reject_get_counters(&rc);
    rest_put_metric(out, "mslb_rejects_total", "New sessions of empty services "
               "with \"empty\": \"reject\", and packets of failed backends' "
               "sessions with monitor \"sessions\": \"reset\", answered by "
               "a TCP reset (rst) or an ICMP port unreachable (icmp), or "
               "over the rate limit (limited).", "counter");
    ds_put_format(out, "mslb_rejects_total{kind=\"rst\"} %"PRIu64"\n"
                  "mslb_rejects_total{kind=\"icmp\"} %"PRIu64"\n"
                  "mslb_rejects_total{kind=\"limited\"} %"PRIu64"\n",
                  rc.rst, rc.icmp, rc.limited);
    put_snat_metrics(out, d->snat);
    rest_put_metric(out, "mslb_service_empty", "1 while no backend of the "
               "service gets new sessions (all down, drained, failing "
               "their health checks or with their MAC unresolved).",
               "gauge");
    svcs = mdb_services_sorted(d->mdb, &n);
    for (size_t i = 0; i < n; i++) {
        const struct model_service *svc = svcs[i];
        bool empty = svc->mode != MODEL_MODE_LOCAL;

        for (size_t k = 0; empty && k < svc->n_backends; k++) {
            const struct model_backend *be = &svc->backends[k];
            struct mslb_mac mac;

            empty = !(be->state == MODEL_BACKEND_UP
                      && (be->has_mac
                          || resolver_mac(d->resolver, &be->ip, &mac))
                      && health_backend_up(d->health, svc->name, be->key));
        }
        ds_put_format(out, "mslb_service_empty{service=\"%s\"} %d\n",
                      svc->name, empty);
    }
    free(svcs);
}

char *
rest_format_metrics(struct rest_server *srv, const json_t *stats)
{
    const struct rest_env *d = srv->d;
    struct ds out = DS_EMPTY_INITIALIZER;
    size_t i;

    uint64_t role_gen;
    bool master = nbdb_is_master(d->nbdb, &role_gen);

    rest_put_metric(&out, "mslb_build_info", "mslb's version (always 1).",
               "gauge");
    ds_put_format(&out, "mslb_build_info{version=\"%s\"} 1\n",
                  MSLB_VERSION);
    rest_put_metric(&out, "mslb_controller_master", "1 while this mslbd is "
               "master of the bridges (docs/deployment.md), else 0.",
               "gauge");
    ds_put_format(&out, "mslb_controller_master{name=\"%s\"} %d\n",
                  nbdb_id(d->nbdb), master);
    rest_put_metric(&out, "mslb_generation", "Current model generation.",
               "gauge");
    ds_put_format(&out, "mslb_generation %"PRIu64"\n",
                  nbdb_generation(d->nbdb));
    rest_put_metric(&out, "mslb_services", "Virtual services in the model.",
               "gauge");
    ds_put_format(&out, "mslb_services %zu\n", mdb_n_services(d->mdb));
    rest_put_metric(&out, "mslb_bridge_connected",
               "1 if the bridge is connected.", "gauge");
    rest_put_metric(&out, "mslb_bridge_installed_generation",
               "Generation the bridge has confirmed.", "gauge");
    size_t n_bridges;
    const struct model_bridge **brs = mdb_bridges_sorted(d->mdb, &n_bridges);
    for (i = 0; i < n_bridges; i++) {
        const char *name = brs[i]->name;
        const struct bridge *c = find_conn(srv, name);
        uint64_t gen = 0;

        if (c && !installed(d, c, &gen)) {
            gen = 0;
        }
        ds_put_format(&out, "mslb_bridge_connected{bridge=\"%s\"} %d\n",
                      name, c != NULL);
        ds_put_format(&out, "mslb_bridge_installed_generation{bridge=\"%s\"}"
                      " %"PRIu64"\n", name, gen);
    }
    free(brs);
    struct pmtu_counters pc;
    pmtu_get_counters(&pc);
    rest_put_metric(&out, "mslb_pmtu_answers_total", "Oversized packets of the "
               "tunnelling modes answered (icmp4, icmp6) or fragmented "
               "(fragmented), dropped by the rate limit (limited) or not "
               "answered (ignored).", "counter");
    ds_put_format(&out, "mslb_pmtu_answers_total{kind=\"icmp4\"} %"PRIu64"\n"
                  "mslb_pmtu_answers_total{kind=\"icmp6\"} %"PRIu64"\n"
                  "mslb_pmtu_answers_total{kind=\"fragmented\"} %"PRIu64"\n"
                  "mslb_pmtu_answers_total{kind=\"limited\"} %"PRIu64"\n"
                  "mslb_pmtu_answers_total{kind=\"ignored\"} %"PRIu64"\n",
                  pc.icmp4, pc.icmp6, pc.fragmented, pc.limited, pc.ignored);
    struct mss_counters mc;
    mss_get_counters(&mc);
    rest_put_metric(&out, "mslb_mss_syns_total", "SYNs of services with MSS "
               "clamping: their MSS option lowered (clamped) or left "
               "(unchanged).", "counter");
    ds_put_format(&out,
                  "mslb_mss_syns_total{result=\"clamped\"} %"PRIu64"\n"
                  "mslb_mss_syns_total{result=\"unchanged\"} %"PRIu64"\n",
                  mc.clamped, mc.unchanged);
    struct frags_counters fc;
    frags_get_counters(&fc);
    rest_put_metric(&out, "mslb_fragments_total", "Fragments to VIPs that the "
               "controller kept together (docs/mtu.md).", "counter");
    ds_put_format(&out, "mslb_fragments_total %"PRIu64"\n", fc.fragments);
    rest_put_metric(&out, "mslb_fragmented_datagrams_total", "Datagrams in "
               "fragments to VIPs: sent to a service (forwarded), switched "
               "unchanged (switched), echo requests answered (answered), "
               "dropped (malformed, no backend, over a limit), not whole in "
               "time (expired).", "counter");
    ds_put_format(&out,
                  "mslb_fragmented_datagrams_total{result=\"forwarded\"} %"PRIu64"\n"
                  "mslb_fragmented_datagrams_total{result=\"switched\"} %"PRIu64"\n"
                  "mslb_fragmented_datagrams_total{result=\"answered\"} %"PRIu64"\n"
                  "mslb_fragmented_datagrams_total{result=\"dropped\"} %"PRIu64"\n"
                  "mslb_fragmented_datagrams_total{result=\"expired\"} %"PRIu64"\n",
                  fc.forwarded, fc.switched, fc.answered, fc.dropped,
                  fc.expired);
    if (d->health) {
        format_health(&out, d);
    }
    rest_stats_put_metrics(&out, stats);
    return ds_steal_cstr(&out);
}
