/* The desired state of one bridge: see desired.h. */
#include <config.h>
#include "desired.h"

#include <stdlib.h>
#include <string.h>

#include "openvswitch/hmap.h"
#include "openvswitch/vlog.h"
#include "hash.h"
#include "util.h"

#include "mslb/compile.h"
#include "mslb/flowset.h"

VLOG_DEFINE_THIS_MODULE(desired);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

#define OFPP_LOCAL_NO 0xfffe          /* OFPP_LOCAL as a 16-bit number. */
#define OF15_VERSION 6                /* OFP15_VERSION. */

/* One service's share of the bridge's desired flows, kept between updates
 * so that a change recompiles only the services it touched. */
struct unit {
    struct hmap_node node;      /* In 'units', by name. */
    char *name;
    uint32_t hash;              /* model_service_hash() it was built from. */
    uint64_t stamp;             /* Update that last saw it in the model. */
    struct flowset *fs;
};

struct desired {
    char *bridge;
    struct flowset *want;       /* Union of 'base' and 'units'. */
    struct flowset *base;       /* Bridge-wide unit, or NULL. */
    struct hmap units;
    uint32_t ctx_hash;          /* Bridge settings 'base' was built for. */
    int version;
    uint64_t stamp;
};

struct desired *
desired_create(const char *bridge)
{
    struct desired *d = xzalloc(sizeof *d);

    d->bridge = xstrdup(bridge);
    d->want = flowset_create();
    hmap_init(&d->units);
    return d;
}

/* Takes every unit out of 'want' (marking its keys dirty). */
static void
drop_units(struct desired *d)
{
    struct unit *u;

    HMAP_FOR_EACH_POP (u, node, &d->units) {
        flowset_unmerge(d->want, u->fs);
        flowset_destroy(u->fs);
        free(u->name);
        free(u);
    }
    if (d->base) {
        flowset_unmerge(d->want, d->base);
        flowset_destroy(d->base);
        d->base = NULL;
    }
}

void
desired_destroy(struct desired *d)
{
    if (d) {
        drop_units(d);
        hmap_destroy(&d->units);
        flowset_destroy(d->want);
        free(d->bridge);
        free(d);
    }
}

struct flowset *
desired_flows(struct desired *d)
{
    return d->want;
}

static const struct desired_port *
find_port(const struct desired_facts *f, const char *name)
{
    for (size_t i = 0; i < f->n_ports; i++) {
        if (!strcmp(f->ports[i].name, name)) {
            return &f->ports[i];
        }
    }
    return NULL;
}

static struct flowset *
parse_unit(struct desired *d, struct compile_out *out)
{
    struct flowset *fs = flowset_create();
    char *error = NULL;

    flowset_set_version(fs, d->version);
    for (size_t i = 0; i < out->n_flows && !error; i++) {
        error = flowset_add_flow_text(fs, out->flows[i]);
    }
    for (size_t i = 0; i < out->n_groups && !error; i++) {
        error = flowset_add_group_text(fs, out->groups[i]);
    }
    if (error) {
        VLOG_ERR("bridge %s: internal error compiling the model: %s",
                 d->bridge, error);
        free(error);
    }
    return fs;
}

static void
merge_unit(struct desired *d, const struct flowset *unit)
{
    char *error = flowset_merge(d->want, unit);
    if (error) {
        VLOG_ERR("bridge %s: internal error: conflicting flows: %s",
                 d->bridge, error);
        free(error);
    }
}

/* Fills 'ports' from the facts; returns false if a port is missing. */
static bool
get_ports(struct desired *d, const struct model_bridge *br,
          const struct desired_facts *f, struct compile_ports *ports)
{
    memset(ports, 0, sizeof *ports);
    ports->of15 = f->ofp_version >= OF15_VERSION;
    ports->local_mac = f->local_mac;
    for (int t = 0; t < MODEL_N_TUNNELS; t++) {
        const struct desired_port *tp = br->tunnel_ports[t]
                                        ? find_port(f, br->tunnel_ports[t])
                                        : NULL;
        if (tp) {
            ports->tunnel[t] = tp->no;
        } else if (br->tunnel_ports[t]) {
            VLOG_WARN_RL(&rl, "bridge %s: tunnel port \"%s\" not found; "
                         "waiting for it", d->bridge, br->tunnel_ports[t]);
            return false;
        }
    }
    if (br->role == MODEL_ROLE_FINAL) {
        return true;
    }

    const struct desired_port *front = find_port(f, br->frontend_port);
    const struct desired_port *back = find_port(f, br->backend_port);
    if (!front || !back) {
        VLOG_WARN_RL(&rl, "bridge %s: port \"%s\" not found; waiting for it",
                     d->bridge, !front ? br->frontend_port
                     : br->backend_port);
        return false;
    }
    ports->frontend = front->no;
    ports->backend = back->no;
    return true;
}

bool
desired_update(struct desired *d, const struct model *m,
               const struct model_bridge *br, const struct desired_facts *f)
{
    struct compile_ports ports;
    struct compile_out out;
    size_t n_built = 0;
    struct unit *u;
    uint32_t ctx;

    if (!br) {
        drop_units(d);
        d->ctx_hash = 0;
        return true;
    }
    if (!get_ports(d, br, f, &ports)) {
        return false;
    }
    if (f->ofp_version != d->version) {
        d->version = f->ofp_version;
        flowset_set_version(d->want, d->version);
        d->ctx_hash = 0;
    }
    if (br->role == MODEL_ROLE_FINAL) {
        /* Few services reach a final stage: rebuild it whole. */
        drop_units(d);
        compile_out_init(&out);
        compile_final_bridge(m, br, &ports, &out);
        d->base = parse_unit(d, &out);
        compile_out_uninit(&out);
        merge_unit(d, d->base);
        d->ctx_hash = 0;
        return true;
    }

    /* Anything bridge-wide changed: rebuild every unit. */
    ctx = hash_bytes(&ports, sizeof ports, model_bridge_hash(br));
    if (!d->base || ctx != d->ctx_hash) {
        drop_units(d);
        d->ctx_hash = ctx;
        compile_out_init(&out);
        compile_bridge_base(br, &ports, &out);
        d->base = parse_unit(d, &out);
        compile_out_uninit(&out);
        merge_unit(d, d->base);
    }

    d->stamp++;
    for (size_t i = 0; i < m->n_services; i++) {
        const struct model_service *svc = &m->services[i];
        uint32_t hash, name_hash;
        struct unit *old = NULL;

        if (!model_service_on_bridge(svc, br->name)) {
            continue;
        }
        hash = model_service_hash(svc);
        name_hash = hash_string(svc->name, 0);
        HMAP_FOR_EACH_WITH_HASH (u, node, name_hash, &d->units) {
            if (!strcmp(u->name, svc->name)) {
                old = u;
                break;
            }
        }
        if (old && old->hash == hash) {
            old->stamp = d->stamp;
            continue;
        }
        if (!old) {
            old = xzalloc(sizeof *old);
            old->name = xstrdup(svc->name);
            hmap_insert(&d->units, &old->node, name_hash);
        } else {
            flowset_unmerge(d->want, old->fs);
            flowset_destroy(old->fs);
        }
        compile_out_init(&out);
        compile_service(svc, br, &ports, &out);
        old->fs = parse_unit(d, &out);
        compile_out_uninit(&out);
        old->hash = hash;
        old->stamp = d->stamp;
        merge_unit(d, old->fs);
        n_built++;
    }
    HMAP_FOR_EACH_SAFE (u, node, &d->units) {
        if (u->stamp != d->stamp) {
            flowset_unmerge(d->want, u->fs);
            hmap_remove(&d->units, &u->node);
            flowset_destroy(u->fs);
            free(u->name);
            free(u);
        }
    }
    VLOG_DBG("bridge %s: %zu services recompiled, %zu keys touched",
             d->bridge, n_built, flowset_n_dirty(d->want));
    return true;
}
