/* The whole model document: model_from_json() reads the bridges, then the
 * services against them (the rules of each object are in model.c), then
 * checks what spans services and numbers the services. */
#include "model-private.h"

#include <jansson.h>
#include "mslb/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
            error = model_error(sub, "duplicate service name \"%s\"",
                                m->services[idx[i]].name);
        }
    }
    qsort(idx, m->n_services, sizeof *idx, compare_service_keys);
    for (size_t i = 1; i < m->n_services && !error; i++) {
        if (!model_service_key_compare(&m->services[idx[i - 1]],
                                       &m->services[idx[i]])) {
            snprintf(sub, sizeof sub, "services[%zu]", idx[i]);
            error = model_error(sub, "duplicate virtual service (same "
                                "vip, protocol and port as services[%zu])",
                                idx[i - 1]);
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

/* Mode l3dsr: one VIP per (DSCP, backend address, host bridge), or the
 * final stage could not tell them apart.  Sorted, so that a big model
 * costs n log n. */
static const struct model *l3dsr_model;

static int
compare_l3dsr_refs(const void *a_, const void *b_)
{
    const struct backend_ref *a = a_, *b = b_;
    uint8_t da = l3dsr_model->services[a->svc].dscp;
    uint8_t db = l3dsr_model->services[b->svc].dscp;
    const char *ha = a->be->host_bridge, *hb = b->be->host_bridge;
    int c = (da > db) - (da < db);

    if (!c) {
        c = a->be->ip.family - b->be->ip.family;
        if (!c) {
            c = memcmp(&a->be->ip.v6, &b->be->ip.v6,
                       a->be->ip.family == AF_INET ? 4 : 16);
        }
    }
    if (!c) {
        c = !ha || !hb ? (ha != NULL) - (hb != NULL) : strcmp(ha, hb);
    }
    return c ? c : (a->svc > b->svc) - (a->svc < b->svc);
}

static char *
check_l3dsr_dscps(const struct model *m)
{
    struct backend_ref *refs;
    char *error = NULL;
    size_t n = 0;

    for (size_t i = 0; i < m->n_services; i++) {
        if (m->services[i].mode == MODEL_MODE_L3DSR) {
            n += m->services[i].n_backends;
        }
    }
    refs = mslb_xzalloc((n + 1) * sizeof *refs);
    n = 0;
    for (size_t i = 0; i < m->n_services; i++) {
        if (m->services[i].mode != MODEL_MODE_L3DSR) {
            continue;
        }
        for (size_t k = 0; k < m->services[i].n_backends; k++) {
            refs[n++] = (struct backend_ref) {
                &m->services[i].backends[k], i, k
            };
        }
    }
    l3dsr_model = m;
    qsort(refs, n, sizeof *refs, compare_l3dsr_refs);
    for (size_t i = 1; i < n && !error; i++) {
        const struct model_service *a = &m->services[refs[i].svc];
        const struct model_service *b = &m->services[refs[i - 1].svc];
        char sub[64];

        snprintf(sub, sizeof sub, "services[%zu]", refs[i].svc);
        error = model_check_l3dsr_pair(a, b, sub);
    }
    free(refs);
    return error;
}

/* Outbound SNAT: each service against each service with an outbound. */
static char *
check_outbounds(const struct model *m)
{
    for (size_t k = 0; k < m->n_services; k++) {
        if (!m->services[k].outbound) {
            continue;
        }
        for (size_t i = 0; i < m->n_services; i++) {
            char sub[64], *error;

            snprintf(sub, sizeof sub, "services[%zu]", i);
            if (i != k && (error = model_check_outbound_pair(
                               &m->services[i], &m->services[k], sub))) {
                return error;
            }
        }
    }
    return NULL;
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
        if (mode == MODEL_MODE_TUN || model_mode_via_host(mode)) {
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
            error = model_error(sub, "differs from the MAC given for the "
                                "same address in services[%zu]."
                                "backends[%zu]", a->svc, a->idx);
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
        uint32_t id = (model_service_key_hash(&m->services[i])
                       % SERVICE_ID_MASK + 1);

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
        error = model_error("", "must be a JSON object");
        goto fail;
    }
    if ((error = model_check_keys(j, "", keys))
        || (error = model_get_array(j, "", "bridges", true, &arr))) {
        goto fail;
    }
    m->bridges = mslb_xzalloc(json_array_size(arr) * sizeof *m->bridges);
    json_array_foreach (arr, i, v) {
        struct model_bridge *br = &m->bridges[i];

        model_path_index(sub, sizeof sub, "", "bridges", i);
        m->n_bridges++;
        if ((error = model_parse_bridge(v, sub, br))) {
            goto fail;
        }
        for (size_t k = 0; k < i; k++) {
            if (!strcmp(m->bridges[k].name, br->name)) {
                error = model_error(sub, "duplicate bridge name \"%s\"",
                                    br->name);
                goto fail;
            }
            if (br->has_dpid && m->bridges[k].has_dpid
                && br->dpid == m->bridges[k].dpid) {
                error = model_error(sub, "duplicate datapath_id");
                goto fail;
            }
        }
    }

    lk = (struct model_lookup) { find_in_model, m };
    if ((error = model_get_array(j, "", "services", false, &arr))) {
        goto fail;
    }
    if (arr) {
        m->services = mslb_xzalloc(json_array_size(arr)
                                   * sizeof *m->services);
        json_array_foreach (arr, i, v) {
            struct model_service *svc = &m->services[i];

            model_path_index(sub, sizeof sub, "", "services", i);
            m->n_services++;
            if ((error = model_parse_service(v, sub, &lk, svc))) {
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
        || (error = check_backend_macs(m))
        || (error = check_l3dsr_dscps(m))
        || (error = check_outbounds(m))) {
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
