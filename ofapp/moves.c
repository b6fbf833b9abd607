/* Ending slot moves: see moves.h. */
#include <config.h>
#include "moves.h"

#include <jansson.h>

#include "openvswitch/hmap.h"
#include "openvswitch/vlog.h"
#include "hash.h"
#include "sset.h"
#include "util.h"
#include "bridges.h"
#include "nbdb.h"
#include "mslb/model.h"
#include "mslb/modeldb.h"

VLOG_DEFINE_THIS_MODULE(moves);

/* A learned entry: service, slot and the backend it keeps. */
struct kept {
    struct hmap_node node;
    uint32_t service, slot, backend;
};

struct moves {
    struct nbdb *nb;
    const struct mdb *mdb;
    struct bridges *bridges;
    struct sset due;            /* Services being settled. */
    int pending;                /* Bridges yet to answer. */
    bool unknown;               /* One could not: keep every due move. */
    struct hmap kept;           /* struct kept. */
};

static uint32_t
kept_hash(uint32_t service, uint32_t slot, uint32_t backend)
{
    return hash_3words(service, slot, backend);
}

static void
kept_clear(struct moves *m)
{
    struct kept *k;

    HMAP_FOR_EACH_POP (k, node, &m->kept) {
        free(k);
    }
}

struct moves *
moves_create(struct nbdb *nb, const struct mdb *mdb, struct bridges *bridges)
{
    struct moves *m = xzalloc(sizeof *m);

    m->nb = nb;
    m->mdb = mdb;
    m->bridges = bridges;
    sset_init(&m->due);
    hmap_init(&m->kept);
    return m;
}

void
moves_destroy(struct moves *m)
{
    if (m) {
        kept_clear(m);
        hmap_destroy(&m->kept);
        sset_destroy(&m->due);
        free(m);
    }
}

static bool
alive(void *m_, const struct model_service *svc, uint32_t slot,
      uint32_t from)
{
    struct moves *m = m_;
    const struct kept *k;

    if (m->unknown) {
        return true;
    }
    HMAP_FOR_EACH_WITH_HASH (k, node, kept_hash(svc->id, slot, from),
                             &m->kept) {
        if (k->service == svc->id && k->slot == slot && k->backend == from) {
            return true;
        }
    }
    return false;
}

static void
settle_if_done(struct moves *m)
{
    if (--m->pending) {
        return;
    }
    nbdb_settle_moves(m->nb, &m->due, alive, m);
    sset_clear(&m->due);
    kept_clear(m);
}

static void
on_stats(void *m_, json_t *stats)
{
    struct moves *m = m_;
    size_t i;
    json_t *e;

    if (!stats) {
        m->unknown = true;
    } else {
        json_array_foreach (json_object_get(stats, "learned"), i, e) {
            struct kept *k = xmalloc(sizeof *k);
            k->service = json_integer_value(json_object_get(e, "service"));
            k->slot = json_integer_value(json_object_get(e, "slot"));
            k->backend = json_integer_value(json_object_get(e, "backend"));
            hmap_insert(&m->kept, &k->node,
                        kept_hash(k->service, k->slot, k->backend));
        }
        json_decref(stats);
    }
    settle_if_done(m);
}

void
moves_run(struct moves *m)
{
    if (m->pending || !nbdb_moves_due(m->nb, &m->due)) {
        return;
    }
    m->unknown = false;
    m->pending = 1;             /* Until every request is out. */
    for (size_t i = 0; i < bridges_count(m->bridges); i++) {
        struct bridge *b = bridges_at(m->bridges, i);
        const struct model_bridge *br = mdb_find_bridge(m->mdb,
                                                        bridge_name(b));

        /* First stages, and slb hosts (their east-west pipelines learn
         * sessions too). */
        if (!br || (br->role != MODEL_ROLE_FIRST
                    && !mdb_is_slb_host(m->mdb, br->name))) {
            continue;
        }
        if (!bridge_is_connected(b)) {
            /* Its sessions cannot be asked for: keep the moves. */
            m->unknown = true;
            continue;
        }
        m->pending++;
        bridge_collect_learned(b, on_stats, m);
    }
    settle_if_done(m);
}
